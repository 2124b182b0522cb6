/* buf.c: a growable byte buffer, always NUL-terminated. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "v16.h"
#include "buf.h"

void mno_buf_init(mno_buf *b) { b->data = NULL; b->len = b->cap = 0; }

void mno_buf_release(mno_buf *b)
{
    if (!b)
        return;
    free(b->data);
    mno_buf_init(b);
}

void mno_buf_reset(mno_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int mno_buf_grow(mno_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int mno_buf_add(mno_buf *b, const void *p, size_t n)
{
    if (mno_buf_grow(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mno_buf_adds(mno_buf *b, const char *s) { return mno_buf_add(b, s, strlen(s)); }
int mno_buf_addc(mno_buf *b, char c) { return mno_buf_add(b, &c, 1); }

int mno_buf_addf(mno_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || mno_buf_grow(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* 1 when none of the 8 bytes of x needs a JSON escape (< 0x20, '"', '\\'): the word-at-a-time
   "has a byte less than" / "has a zero byte" tests, exact for "any". */
static inline int json_plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t lt = (x - ones * 0x20) & ~x & high;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    q = (q - ones) & ~q & high;
    bs = (bs - ones) & ~bs & high;
    return !(lt | q | bs);
}

/* The JSON escape of a byte: 0 when it needs none, else the letter after the backslash
   ('u' for \u00XX): the escapes mno_buf_add_json_str writes. */
static const unsigned char json_esc[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
};

/* Writes the escape of c (a byte json_esc marks) at o; returns its end. */
static inline char *put_esc(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char esc = json_esc[c];
    *o++ = '\\';
    *o++ = (char)esc;
    if (esc == 'u') {
        *o++ = '0';
        *o++ = '0';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
    }
    return o;
}

size_t mno_json_str_put(char *out, const char *s, size_t n)
{
    char *o = out;
    *o++ = '"';
    size_t i = 0;
    /* 16 bytes at a time: copied whole (out has room), kept up to the first byte to escape */
    while (i + 16 <= n) {
        mno_v16 x;
        memcpy(&x, s + i, 16);
        size_t j = mno_v16_first((mno_v16)((x < 0x20) | (x == '"') | (x == '\\')));
        memcpy(o, &x, 16);
        o += j;
        i += j;
        if (j < 16)
            o = put_esc(o, (unsigned char)s[i++]);
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (json_esc[c])
            o = put_esc(o, c);
        else
            *o++ = (char)c;
    }
    *o++ = '"';
    return (size_t)(o - out);
}

int mno_json_escapes_canonical(const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const char *p = s, *end = s + n;
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p < 2)
            return 0;
        unsigned char c = (unsigned char)p[1];
        if (c == 'u') {
            /* \u00xx: a control character without a short escape, lowercase hex */
            if (end - p < 6 || p[2] != '0' || p[3] != '0' || (p[4] != '0' && p[4] != '1'))
                return 0;
            unsigned v = (unsigned)(p[4] - '0') * 16;
            const char *d = memchr(hex, p[5], 16);
            if (!d || !p[5])
                return 0;
            v += (unsigned)(d - hex);
            if (json_esc[v] != 'u')
                return 0;
            p += 6;
        } else {
            if (c != '"' && c != '\\' && c != 'b' && c != 't' && c != 'n' && c != 'f' && c != 'r')
                return 0;
            p += 2;
        }
    }
    return 1;
}

int mno_buf_add_json_str(mno_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (mno_buf_grow(b, n + 2) < 0)
        return -1;
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the current run of bytes that need no escape */
    for (size_t i = 0; i < n;) {
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (json_plain8(x)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (mno_buf_add(b, s + run, i - run) < 0)
            return -1;
        char esc[7];
        size_t k = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\t': esc[1] = 't'; break;
        case '\r': esc[1] = 'r'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; k = 6;
        }
        if (mno_buf_add(b, esc, k) < 0)
            return -1;
        run = ++i;
    }
    if (mno_buf_add(b, s + run, n - run) < 0 || mno_buf_addc(b, '"') < 0)
        return -1;
    return 0;
}

int mno_buf_add_file(mno_buf *b, FILE *f)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (mno_buf_add(b, chunk, n) < 0)
            return -1;
    return ferror(f) ? -2 : 0;
}
