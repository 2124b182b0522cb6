/* md5mb.c: the md5 digests of many short messages at once, several messages side by side in the lanes of one SIMD register (AVX-512, AVX2, or 128-bit vectors), the same digests as OpenSSL's. */
#include <stdint.h>
#include <string.h>
#include "checksum.h"

static inline uint32_t mb_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void mb_digest(unsigned char d[16], uint32_t a, uint32_t b, uint32_t c, uint32_t e)
{
    uint32_t v[4] = {a, b, c, e};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            d[4 * i + k] = (unsigned char)(v[i] >> (8 * k));
}

/* Gives lane l the next message (state reset, tail padded); returns 1, or 0 when none is left. */
static inline int mb_assign(size_t l, const unsigned char *const *msg, const size_t *len, size_t n,
                            size_t *next, uint32_t *sa, uint32_t *sb, uint32_t *sc, uint32_t *sd,
                            size_t lanes, const unsigned char **src, size_t *idx, size_t *blk,
                            size_t *nfull, size_t *nblk, unsigned char *tail)
{
    (void)lanes;
    if (*next >= n)
        return 0;
    size_t i = (*next)++, m = len[i];
    src[l] = msg[i];
    idx[l] = i;
    blk[l] = 0;
    nfull[l] = m / 64;
    nblk[l] = (m + 8) / 64 + 1;
    size_t rest = m - 64 * nfull[l], tlen = 64 * (nblk[l] - nfull[l]);
    if (rest)
        memcpy(tail, msg[i] + 64 * nfull[l], rest);
    tail[rest] = 0x80;
    memset(tail + rest + 1, 0, tlen - rest - 1 - 8);
    uint64_t bits = (uint64_t)m * 8;
    for (int k = 0; k < 8; k++)
        tail[tlen - 8 + k] = (unsigned char)(bits >> (8 * k));
    sa[l] = 0x67452301;
    sb[l] = 0xefcdab89;
    sc[l] = 0x98badcfe;
    sd[l] = 0x10325476;
    return 1;
}

/* RFC 1321's four rounds on vectors a, b, c, d and the block's words x[16]. */
#define MB_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MB_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MB_H(x, y, z) ((x) ^ (y) ^ (z))
#define MB_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define MB_STEP(f, a, b, c, d, x, k, s)                                                          \
    do {                                                                                         \
        a += f(b, c, d) + (x) + (uint32_t)(k);                                                   \
        a = (a << (s)) | (a >> (32 - (s)));                                                      \
        a += b;                                                                                  \
    } while (0)
#define MB_ROUNDS(a, b, c, d, x)                                                                 \
    do {                                                                                         \
        MB_STEP(MB_F, a, b, c, d, x[0], 0xd76aa478, 7);                                          \
        MB_STEP(MB_F, d, a, b, c, x[1], 0xe8c7b756, 12);                                         \
        MB_STEP(MB_F, c, d, a, b, x[2], 0x242070db, 17);                                         \
        MB_STEP(MB_F, b, c, d, a, x[3], 0xc1bdceee, 22);                                         \
        MB_STEP(MB_F, a, b, c, d, x[4], 0xf57c0faf, 7);                                          \
        MB_STEP(MB_F, d, a, b, c, x[5], 0x4787c62a, 12);                                         \
        MB_STEP(MB_F, c, d, a, b, x[6], 0xa8304613, 17);                                         \
        MB_STEP(MB_F, b, c, d, a, x[7], 0xfd469501, 22);                                         \
        MB_STEP(MB_F, a, b, c, d, x[8], 0x698098d8, 7);                                          \
        MB_STEP(MB_F, d, a, b, c, x[9], 0x8b44f7af, 12);                                         \
        MB_STEP(MB_F, c, d, a, b, x[10], 0xffff5bb1, 17);                                        \
        MB_STEP(MB_F, b, c, d, a, x[11], 0x895cd7be, 22);                                        \
        MB_STEP(MB_F, a, b, c, d, x[12], 0x6b901122, 7);                                         \
        MB_STEP(MB_F, d, a, b, c, x[13], 0xfd987193, 12);                                        \
        MB_STEP(MB_F, c, d, a, b, x[14], 0xa679438e, 17);                                        \
        MB_STEP(MB_F, b, c, d, a, x[15], 0x49b40821, 22);                                        \
        MB_STEP(MB_G, a, b, c, d, x[1], 0xf61e2562, 5);                                          \
        MB_STEP(MB_G, d, a, b, c, x[6], 0xc040b340, 9);                                          \
        MB_STEP(MB_G, c, d, a, b, x[11], 0x265e5a51, 14);                                        \
        MB_STEP(MB_G, b, c, d, a, x[0], 0xe9b6c7aa, 20);                                         \
        MB_STEP(MB_G, a, b, c, d, x[5], 0xd62f105d, 5);                                          \
        MB_STEP(MB_G, d, a, b, c, x[10], 0x02441453, 9);                                         \
        MB_STEP(MB_G, c, d, a, b, x[15], 0xd8a1e681, 14);                                        \
        MB_STEP(MB_G, b, c, d, a, x[4], 0xe7d3fbc8, 20);                                         \
        MB_STEP(MB_G, a, b, c, d, x[9], 0x21e1cde6, 5);                                          \
        MB_STEP(MB_G, d, a, b, c, x[14], 0xc33707d6, 9);                                         \
        MB_STEP(MB_G, c, d, a, b, x[3], 0xf4d50d87, 14);                                         \
        MB_STEP(MB_G, b, c, d, a, x[8], 0x455a14ed, 20);                                         \
        MB_STEP(MB_G, a, b, c, d, x[13], 0xa9e3e905, 5);                                         \
        MB_STEP(MB_G, d, a, b, c, x[2], 0xfcefa3f8, 9);                                          \
        MB_STEP(MB_G, c, d, a, b, x[7], 0x676f02d9, 14);                                         \
        MB_STEP(MB_G, b, c, d, a, x[12], 0x8d2a4c8a, 20);                                        \
        MB_STEP(MB_H, a, b, c, d, x[5], 0xfffa3942, 4);                                          \
        MB_STEP(MB_H, d, a, b, c, x[8], 0x8771f681, 11);                                         \
        MB_STEP(MB_H, c, d, a, b, x[11], 0x6d9d6122, 16);                                        \
        MB_STEP(MB_H, b, c, d, a, x[14], 0xfde5380c, 23);                                        \
        MB_STEP(MB_H, a, b, c, d, x[1], 0xa4beea44, 4);                                          \
        MB_STEP(MB_H, d, a, b, c, x[4], 0x4bdecfa9, 11);                                         \
        MB_STEP(MB_H, c, d, a, b, x[7], 0xf6bb4b60, 16);                                         \
        MB_STEP(MB_H, b, c, d, a, x[10], 0xbebfbc70, 23);                                        \
        MB_STEP(MB_H, a, b, c, d, x[13], 0x289b7ec6, 4);                                         \
        MB_STEP(MB_H, d, a, b, c, x[0], 0xeaa127fa, 11);                                         \
        MB_STEP(MB_H, c, d, a, b, x[3], 0xd4ef3085, 16);                                         \
        MB_STEP(MB_H, b, c, d, a, x[6], 0x04881d05, 23);                                         \
        MB_STEP(MB_H, a, b, c, d, x[9], 0xd9d4d039, 4);                                          \
        MB_STEP(MB_H, d, a, b, c, x[12], 0xe6db99e5, 11);                                        \
        MB_STEP(MB_H, c, d, a, b, x[15], 0x1fa27cf8, 16);                                        \
        MB_STEP(MB_H, b, c, d, a, x[2], 0xc4ac5665, 23);                                         \
        MB_STEP(MB_I, a, b, c, d, x[0], 0xf4292244, 6);                                          \
        MB_STEP(MB_I, d, a, b, c, x[7], 0x432aff97, 10);                                         \
        MB_STEP(MB_I, c, d, a, b, x[14], 0xab9423a7, 15);                                        \
        MB_STEP(MB_I, b, c, d, a, x[5], 0xfc93a039, 21);                                         \
        MB_STEP(MB_I, a, b, c, d, x[12], 0x655b59c3, 6);                                         \
        MB_STEP(MB_I, d, a, b, c, x[3], 0x8f0ccc92, 10);                                         \
        MB_STEP(MB_I, c, d, a, b, x[10], 0xffeff47d, 15);                                        \
        MB_STEP(MB_I, b, c, d, a, x[1], 0x85845dd1, 21);                                         \
        MB_STEP(MB_I, a, b, c, d, x[8], 0x6fa87e4f, 6);                                          \
        MB_STEP(MB_I, d, a, b, c, x[15], 0xfe2ce6e0, 10);                                        \
        MB_STEP(MB_I, c, d, a, b, x[6], 0xa3014314, 15);                                         \
        MB_STEP(MB_I, b, c, d, a, x[13], 0x4e0811a1, 21);                                        \
        MB_STEP(MB_I, a, b, c, d, x[4], 0xf7537e82, 6);                                          \
        MB_STEP(MB_I, d, a, b, c, x[11], 0xbd3af235, 10);                                        \
        MB_STEP(MB_I, c, d, a, b, x[2], 0x2ad7d2bb, 15);                                         \
        MB_STEP(MB_I, b, c, d, a, x[9], 0xeb86d391, 21);                                         \
    } while (0)

/* 4 lanes: 128-bit vectors, on every target (SSE2 on x86-64, NEON on arm64) */
#define MB_NAME md5_many4
#define MB_LANES 4
#define MB_V mb_v4
#define MB_TARGET
#include "md5mb_impl.h"
#undef MB_NAME
#undef MB_LANES
#undef MB_TARGET

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MB_X86 1
#define MB_NAME md5_many8
#define MB_LANES 8
#define MB_V mb_v8
#define MB_TARGET __attribute__((target("avx2")))
#include "md5mb_impl.h"
#undef MB_NAME
#undef MB_LANES
#undef MB_TARGET

#define MB_NAME md5_many16
#define MB_LANES 16
#define MB_V mb_v16
#define MB_TARGET __attribute__((target("avx512f")))
#include "md5mb_impl.h"
#undef MB_NAME
#undef MB_LANES
#undef MB_TARGET
#endif

int mno_md5_many_lanes(int lanes, const unsigned char *const *msg, const size_t *len, size_t n,
                       unsigned char (*out)[16])
{
    switch (lanes) {
    case 1:
        for (size_t i = 0; i < n; i++)
            mno_md5(msg[i], len[i], out[i]);
        return 0;
    case 4:
        md5_many4(msg, len, n, out);
        return 0;
#ifdef MB_X86
    case 8:
        if (!__builtin_cpu_supports("avx2"))
            return -1;
        md5_many8(msg, len, n, out);
        return 0;
    case 16:
        if (!__builtin_cpu_supports("avx512f"))
            return -1;
        md5_many16(msg, len, n, out);
        return 0;
#endif
    default:
        return -1;
    }
}

void mno_md5_many(const unsigned char *const *msg, const size_t *len, size_t n, unsigned char (*out)[16])
{
#ifdef MB_X86
    if (n >= 8 && __builtin_cpu_supports("avx512f")) {
        md5_many16(msg, len, n, out);
        return;
    }
    if (n >= 4 && __builtin_cpu_supports("avx2")) {
        md5_many8(msg, len, n, out);
        return;
    }
#endif
    mno_md5_many_lanes(n >= 2 ? 4 : 1, msg, len, n, out);
}
