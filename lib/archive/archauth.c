/* archauth.c: the archive's metadata digests and keyed MAC (docs/format.md section 4.1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "archauth.h"

int mno_archkey_load(mno_archkey **out, mno_error *e)
{
    const char *env = getenv("MNO_ARCHIVE_KEY");
    const char *path = getenv("MNO_ARCHIVE_KEY_FILE");
    mno_buf b = MNO_BUF_INIT;
    *out = NULL;
    if (env && !*env)
        env = NULL;
    if (path && !*path)
        path = NULL;
    if (!env && !path)
        return 0;
    if (env && path)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "set MNO_ARCHIVE_KEY or MNO_ARCHIVE_KEY_FILE, not both");
    if (env) {
        if (mno_buf_add(&b, env, strlen(env)) < 0)
            goto nomem;
    } else {
        FILE *f = fopen(path, "rb");
        char chunk[4096];
        size_t n;
        if (!f)
            return mno_err(e, MNO_E_IO, path, 0, NULL, "MNO_ARCHIVE_KEY_FILE: cannot open: %s", strerror(errno));
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            if (mno_buf_add(&b, chunk, n) < 0) {
                fclose(f);
                goto nomem;
            }
        int bad = ferror(f);
        fclose(f);
        if (bad) {
            mno_buf_release(&b);
            return mno_err(e, MNO_E_IO, path, 0, NULL, "MNO_ARCHIVE_KEY_FILE: read error");
        }
        while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
            b.len--;
        if (!b.len) {
            mno_buf_release(&b);
            return mno_err(e, MNO_E_USAGE, path, 0, NULL, "MNO_ARCHIVE_KEY_FILE: the file is empty");
        }
    }
    mno_archkey *k = calloc(1, sizeof *k);
    if (!k)
        goto nomem;
    k->key = (unsigned char *)b.data;
    k->len = b.len;
    *out = k;
    return 0;
nomem:
    if (b.data)
        OPENSSL_cleanse(b.data, b.cap);
    mno_buf_release(&b);
    return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
}

void mno_archkey_free(mno_archkey *k)
{
    if (!k)
        return;
    if (k->key)
        OPENSSL_cleanse(k->key, k->len);
    free(k->key);
    free(k);
}

void mno_meta_digest(const char *line, size_t len, unsigned char out[32])
{
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;
    unsigned int n = 32;
    EVP_Digest(line, len, out, &n, EVP_sha256(), NULL);
}

char *mno_meta_hex(const unsigned char d[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[64] = '\0';
    return out;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mno_meta_parse(const char *hex, unsigned char out[32])
{
    if (!hex || strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        int a = hexval((unsigned char)hex[2 * i]), b = hexval((unsigned char)hex[2 * i + 1]);
        if (a < 0 || b < 0)
            return -1;
        out[i] = (unsigned char)(a << 4 | b);
    }
    return 0;
}

int mno_mac_start(mno_buf *m, const unsigned char header[32])
{
    char hx[65];
    mno_buf_reset(m);
    return mno_buf_addf(m, "mnoa-mac-1\n%s\n", mno_meta_hex(header, hx));
}

int mno_mac_section(mno_buf *m, const unsigned char begin[32], uint64_t count, const mno_sum *sum)
{
    char hx[65], sx[33];
    return mno_buf_addf(m, "%s %llu %s\n", mno_meta_hex(begin, hx), (unsigned long long)count,
                        mno_sum_hex(sum, sx));
}

int mno_mac_trailer(mno_buf *m, uint64_t sections, uint64_t count, const mno_sum *sum)
{
    char sx[33];
    return mno_buf_addf(m, "trailer %llu %llu %s\n", (unsigned long long)sections, (unsigned long long)count,
                        mno_sum_hex(sum, sx));
}

int mno_mac_final(const mno_archkey *k, const mno_buf *m, unsigned char out[32])
{
    unsigned int n = 32;
    return HMAC(EVP_sha256(), k->key, (int)k->len, (const unsigned char *)(m->data ? m->data : ""), m->len,
                out, &n) ? 0 : -1;
}

int mno_mac_eq(const unsigned char a[32], const unsigned char b[32])
{
    return CRYPTO_memcmp(a, b, 32) == 0;
}
