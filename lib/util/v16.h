/* v16.h: 16 bytes as one vector for the byte scanners (buf.c, checksum.c, pgrec.c, engine_pg_dump.c). */
#ifndef MNO_V16_H
#define MNO_V16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 16 bytes as one vector (SSE2 on x86-64, NEON on arm64, by the compiler's vector extensions). */
typedef unsigned char mno_v16 __attribute__((vector_size(16)));

/* The index of the first nonzero byte of m (0xff or 0 bytes), 16 when none. */
static inline size_t mno_v16_first(mno_v16 m)
{
    uint64_t w[2];
    memcpy(w, &m, sizeof w);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return w[0] ? (size_t)__builtin_ctzll(w[0]) / 8 : w[1] ? 8 + (size_t)__builtin_ctzll(w[1]) / 8 : 16;
#else
    return w[0] ? (size_t)__builtin_clzll(w[0]) / 8 : w[1] ? 8 + (size_t)__builtin_clzll(w[1]) / 8 : 16;
#endif
}

#endif
