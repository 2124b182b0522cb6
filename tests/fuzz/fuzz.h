/* fuzz.h: the fuzz targets' one entry point (libFuzzer's), for replay.c and for clang -fsanitize=fuzzer. */
#ifndef MNO_FUZZ_H
#define MNO_FUZZ_H
#include <stddef.h>
#include <stdint.h>

/* Runs one input through the target. Returns 0; a bug aborts (assert, ASan, UBSan). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed check of a target: prints it and aborts, so that libFuzzer and replay.c keep the input. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
