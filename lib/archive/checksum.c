/* checksum.c: md5 digests, 128-bit order-independent sums, PostgreSQL ROW()::text. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "v16.h"
#include "buf.h"
#include "hex.h"
#include "checksum.h"

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void mno_sum_add_digest(mno_sum *s, const unsigned char digest[16])
{
    mno_sum t = {be64(digest), be64(digest + 8)};
    mno_sum_add(s, &t);
}

void mno_sum_add(mno_sum *s, const mno_sum *t)
{
    uint64_t lo = s->lo + t->lo;
    s->hi += t->hi + (lo < s->lo);
    s->lo = lo;
}

void mno_sum_add_md5(mno_sum *s, const void *p, size_t n)
{
    unsigned char d[16];
    mno_md5(p, n, d);
    mno_sum_add_digest(s, d);
}

char *mno_sum_hex(const mno_sum *s, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        uint64_t w = i < 8 ? s->hi : s->lo;
        unsigned byte = (unsigned)(w >> (8 * (7 - (i & 7)))) & 0xff;
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
    out[32] = '\0';
    return out;
}

int mno_sum_parse(const char *hex, mno_sum *out)
{
    mno_sum s = MNO_SUM_ZERO;
    if (!hex)
        return -1;
    for (int i = 0; i < 32; i++) {
        int v = mno_hexval(hex[i]);
        if (v < 0)
            return -1;
        if (i < 16)
            s.hi = (s.hi << 4) | (uint64_t)v;
        else
            s.lo = (s.lo << 4) | (uint64_t)v;
    }
    if (hex[32] != '\0')
        return -1;
    *out = s;
    return 0;
}

int mno_sum_eq(const mno_sum *a, const mno_sum *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}

/* The MD5 implementation, fetched once per process (an EVP_MD may be shared by threads). */
static EVP_MD *md5_md;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static void md5_fetch(void) { md5_md = EVP_MD_fetch(NULL, "MD5", NULL); }

static const EVP_MD *md5_get(void)
{
    pthread_once(&md5_once, md5_fetch);
    return md5_md ? md5_md : EVP_md5();
}

struct mno_hasher {
    EVP_MD_CTX *ctx;
};

mno_hasher *mno_hasher_new(void)
{
    mno_hasher *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx) {
        free(h);
        return NULL;
    }
    return h;
}

void mno_hasher_md5(mno_hasher *h, const void *p, size_t n, unsigned char digest[16])
{
    unsigned int dl = 16;
    if (!h) {
        mno_md5(p, n, digest);
        return;
    }
    /* md5 cannot fail for in-memory data short of a broken libcrypto */
    if (EVP_DigestInit_ex(h->ctx, md5_get(), NULL) != 1 || EVP_DigestUpdate(h->ctx, p, n) != 1 ||
        EVP_DigestFinal_ex(h->ctx, digest, &dl) != 1)
        memset(digest, 0, 16);
}

void mno_hasher_free(mno_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void mno_md5(const void *p, size_t n, unsigned char digest[16])
{
    unsigned int dl = 16;
    if (EVP_Digest(p, n, digest, &dl, md5_get(), NULL) != 1)
        memset(digest, 0, 16);
}

/* Record-text classes of a byte: 1 forces double quotes, 3 also doubles it ('"', '\\'). */
static const unsigned char rt_class[256] = {
    ['"'] = 3, ['\\'] = 3, ['('] = 1, [')'] = 1, [','] = 1,
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static inline int rt_any(mno_v16 v)
{
    uint64_t w[2];
    memcpy(w, &v, sizeof w);
    return (w[0] | w[1]) != 0;
}

/* The record-text classes of v[0..len) or-ed (rt_class), 16 bytes at a time. */
static unsigned rt_scan(const unsigned char *v, size_t len)
{
    mno_v16 q = {0}, d = {0};
    size_t k = 0;
    for (; k + 16 <= len; k += 16) {
        mno_v16 x;
        memcpy(&x, v + k, 16);
        d |= (mno_v16)((x == '"') | (x == '\\'));
        q |= (mno_v16)(((mno_v16)(x - 9) < 5) | (x == ' ') | (x == '(') | (x == ')') | (x == ','));
    }
    unsigned cls = (rt_any(d) ? 3u : 0u) | (rt_any(q) ? 1u : 0u);
    for (; k < len; k++)
        cls |= rt_class[v[k]];
    return cls;
}

int mno_pg_record_text(struct mno_buf *out, const char *const *vals, const size_t *lens, size_t n)
{
    /* room for the worst case (every byte doubled, every value quoted), then direct writes */
    size_t need = n + 2;
    for (size_t i = 0; i < n; i++)
        if (vals[i])
            need += 2 * (lens ? lens[i] : strlen(vals[i])) + 2;
    if (mno_buf_grow(out, need) < 0)
        return -1;
    char *d = out->data + out->len;
    *d++ = '(';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *d++ = ',';
        const unsigned char *v = (const unsigned char *)vals[i];
        if (!v)
            continue;
        size_t len = lens ? lens[i] : strlen((const char *)v);
        unsigned cls = len == 0 ? 1 : rt_scan(v, len);
        if (cls)
            *d++ = '"';
        if (cls < 3) {
            memcpy(d, v, len);
            d += len;
        } else {
            size_t k = 0;
            /* 16 bytes at a time: copied whole (out has room), kept up to the first to double */
            while (k + 16 <= len) {
                mno_v16 x;
                memcpy(&x, v + k, 16);
                size_t j = mno_v16_first((mno_v16)((x == '"') | (x == '\\')));
                memcpy(d, &x, 16);
                d += j;
                k += j;
                if (j < 16) {
                    *d++ = (char)v[k];
                    *d++ = (char)v[k++];
                }
            }
            for (; k < len; k++) {
                if (v[k] == '"' || v[k] == '\\')
                    *d++ = (char)v[k];
                *d++ = (char)v[k];
            }
        }
        if (cls)
            *d++ = '"';
    }
    *d++ = ')';
    out->len = (size_t)(d - out->data);
    out->data[out->len] = '\0';
    return 0;
}
