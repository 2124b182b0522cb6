/* test_md5mb.c: the multi-buffer md5 (lib/archive/md5mb.c) against OpenSSL's md5 for every variant this CPU runs: every length around the block and padding edges, batches of mixed lengths, and known RFC 1321 digests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "checksum.h"

static const int variants[] = {1, 4, 8, 16};

/* A deterministic pseudo-random byte stream (xorshift). */
static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Hashes msgs with every variant the CPU has and checks each digest against OpenSSL's;
   returns how many variants ran. */
static int check_all(const unsigned char *const *msg, const size_t *len, size_t n)
{
    unsigned char (*want)[16] = calloc(n ? n : 1, 16), (*got)[16] = calloc(n ? n : 1, 16);
    assert_non_null(want);
    assert_non_null(got);
    for (size_t i = 0; i < n; i++) {
        unsigned char d[16];
        mno_md5(msg[i], len[i], d);
        memcpy(want[i], d, 16);
    }
    int ran = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        memset(got, 0xAA, n * 16);
        if (mno_md5_many_lanes(variants[v], msg, len, n, got) < 0)
            continue;
        ran++;
        for (size_t i = 0; i < n; i++) {
            if (memcmp(got[i], want[i], 16) != 0)
                fail_msg("lanes %d: message %zu of %zu (%zu bytes): wrong digest", variants[v], i, n, len[i]);
        }
    }
    memset(got, 0xAA, n * 16);
    mno_md5_many(msg, len, n, got);
    for (size_t i = 0; i < n; i++)
        if (memcmp(got[i], want[i], 16) != 0)
            fail_msg("mno_md5_many: message %zu of %zu (%zu bytes): wrong digest", i, n, len[i]);
    free(want);
    free(got);
    return ran;
}

static void hex(const unsigned char d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* RFC 1321's test suite, through every variant (the short messages share one batch). */
static void test_rfc1321(void **state)
{
    (void)state;
    static const char *const in[] = {
        "", "a", "abc", "message digest", "abcdefghijklmnopqrstuvwxyz",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    };
    static const char *const want[] = {
        "d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
        "900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
        "c3fcd3d76192e4007dfb496cca67e13b", "d174ab98d277d9f5a5611c2c9f419d9f",
        "57edf4a22be3c955ac49da2e2107b67a",
    };
    enum { N = sizeof in / sizeof in[0] };
    const unsigned char *msg[N];
    size_t len[N];
    for (int i = 0; i < N; i++) {
        msg[i] = (const unsigned char *)in[i];
        len[i] = strlen(in[i]);
    }
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        unsigned char got[N][16];
        if (mno_md5_many_lanes(variants[v], msg, len, N, got) < 0)
            continue;
        for (int i = 0; i < N; i++) {
            char h[33];
            hex(got[i], h);
            if (strcmp(h, want[i]) != 0)
                fail_msg("lanes %d: md5(\"%s\") = %s, want %s", variants[v], in[i], h, want[i]);
        }
    }
}

/* Every length 0..300 (the 55/56/63/64 padding edges and several blocks), one message per
   length in one batch, and again each length alone. */
static void test_every_length(void **state)
{
    (void)state;
    enum { N = 301 };
    unsigned char *buf = malloc(N);
    const unsigned char *msg[N];
    size_t len[N];
    assert_non_null(buf);
    for (int i = 0; i < N; i++)
        buf[i] = (unsigned char)next_rand();
    for (int i = 0; i < N; i++) {
        msg[i] = buf + (N - 1 - i);   /* messages end at the buffer's end: no over-read */
        len[i] = (size_t)i;
    }
    assert_true(check_all(msg, len, N) >= 2);
    for (int i = 0; i < N; i++)
        check_all(&msg[i], &len[i], 1);
    free(buf);
}

/* Batches of 0..40 messages of random lengths (most short, some long), each its own malloc
   so that a read past a message's end shows under the sanitizers. */
static void test_mixed_batches(void **state)
{
    (void)state;
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(next_rand() % 41);
        const unsigned char **msg = calloc(n ? n : 1, sizeof *msg);
        size_t *len = calloc(n ? n : 1, sizeof *len);
        assert_non_null(msg);
        assert_non_null(len);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_rand();
            len[i] = r % 8 == 0 ? (size_t)(r >> 8) % 3000 : (size_t)(r >> 8) % 300;
            unsigned char *m = malloc(len[i] ? len[i] : 1);
            assert_non_null(m);
            for (size_t k = 0; k < len[i]; k++)
                m[k] = (unsigned char)next_rand();
            msg[i] = m;
        }
        check_all(msg, len, n);
        for (size_t i = 0; i < n; i++)
            free((void *)msg[i]);
        free(msg);
        free(len);
    }
}

/* A batch where the messages are one buffer's overlapping windows (as a dump's record texts
   are slices of one buffer), the same bytes at different offsets. */
static void test_slices_of_one_buffer(void **state)
{
    (void)state;
    enum { SZ = 4096, N = 200 };
    unsigned char *buf = malloc(SZ);
    const unsigned char *msg[N];
    size_t len[N];
    assert_non_null(buf);
    for (int i = 0; i < SZ; i++)
        buf[i] = (unsigned char)(next_rand() & 0x7f);
    for (int i = 0; i < N; i++) {
        size_t off = (size_t)(next_rand() % 2048);
        msg[i] = buf + off;
        len[i] = (size_t)(next_rand() % (SZ - off));
    }
    check_all(msg, len, N);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321),
        cmocka_unit_test(test_every_length),
        cmocka_unit_test(test_mixed_batches),
        cmocka_unit_test(test_slices_of_one_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
