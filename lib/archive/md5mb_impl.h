/* md5mb_impl.h: the body of one multi-buffer md5 variant, included by md5mb.c once per vector width (MB_NAME, MB_LANES, MB_V, MB_TARGET). */

/*
 * MB_LANES messages are hashed side by side, one per 32-bit lane of a vector (GCC/Clang
 * vector extensions, so that the compiler picks the instructions of MB_TARGET). A lane whose
 * message is done takes the next message, so messages of different lengths keep the lanes busy.
 */
typedef uint32_t MB_V __attribute__((vector_size(4 * MB_LANES)));

MB_TARGET static void MB_NAME(const unsigned char *const *msg, const size_t *len, size_t n,
                              unsigned char (*out)[16])
{
    enum { L = MB_LANES };
    uint32_t st[4][L] __attribute__((aligned(64)));
    uint32_t w[16][L] __attribute__((aligned(64)));
    unsigned char tail[L][128];        /* each lane's last one or two blocks, padded */
    const unsigned char *src[L];
    size_t idx[L], blk[L], nfull[L], nblk[L];
    size_t next = 0, live = 0;
    memset(w, 0, sizeof w);
    for (size_t l = 0; l < L; l++) {
        nblk[l] = 0;
        blk[l] = 1;
        live += (size_t)mb_assign(l, msg, len, n, &next, st[0], st[1], st[2], st[3], L, src, idx, blk,
                                   nfull, nblk, tail[l]);
    }
    while (live) {
        for (size_t l = 0; l < L; l++) {
            if (blk[l] >= nblk[l])
                continue;   /* idle lane: computes garbage nobody reads */
            const unsigned char *p = blk[l] < nfull[l] ? src[l] + 64 * blk[l] : tail[l] + 64 * (blk[l] - nfull[l]);
            for (int j = 0; j < 16; j++)
                w[j][l] = mb_le32(p + 4 * j);
        }
        MB_V a, b, c, d, a0, b0, c0, d0;
        memcpy(&a, st[0], sizeof a);
        memcpy(&b, st[1], sizeof b);
        memcpy(&c, st[2], sizeof c);
        memcpy(&d, st[3], sizeof d);
        a0 = a, b0 = b, c0 = c, d0 = d;
        MB_V x[16];
        for (int j = 0; j < 16; j++)
            memcpy(&x[j], w[j], sizeof x[j]);
        MB_ROUNDS(a, b, c, d, x);
        a += a0, b += b0, c += c0, d += d0;
        memcpy(st[0], &a, sizeof a);
        memcpy(st[1], &b, sizeof b);
        memcpy(st[2], &c, sizeof c);
        memcpy(st[3], &d, sizeof d);
        for (size_t l = 0; l < L; l++) {
            if (blk[l] >= nblk[l] || ++blk[l] < nblk[l])
                continue;
            mb_digest(out[idx[l]], st[0][l], st[1][l], st[2][l], st[3][l]);
            live--;
            live += (size_t)mb_assign(l, msg, len, n, &next, st[0], st[1], st[2], st[3], L, src, idx, blk,
                                   nfull, nblk, tail[l]);
        }
    }
}

#undef MB_V
