/* ejson.c: canonical Extended JSON v2 from BSON bytes, in one pass over the bytes, identical to libbson's output. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <bson/bson.h>
#include "ejson.h"
#include "v16.h"

#define MAX_DEPTH 200   /* libbson's BSON_MAX_RECURSION: deeper, it prints a lossy "{ ... }" */

#define NOMEM MNO_EJSON_NOMEM
#define BAD MNO_EJSON_INVALID

/* Room for n more bytes (the trailing NUL is written once, at the end). */
static inline int room(mno_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return 0;
    return mno_buf_grow(b, n) < 0 ? NOMEM : 0;
}

static inline int put(mno_buf *b, const void *p, size_t n)
{
    if (room(b, n))
        return NOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)
#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* v in decimal, preceded by '-' when neg, at the end of tmp[24]; returns where it starts. */
static inline char *u64_text(char *end, uint64_t v, int neg)
{
    char *p = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digits2 + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    if (neg)
        *--p = '-';
    return p;
}

static int put_u64(mno_buf *b, uint64_t v, int neg)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *p = u64_text(e, v, neg);
    return put(b, p, (size_t)(e - p));
}


/* v in decimal, preceded by '-' when neg, written at o (room for 21 bytes); returns its end. */
static inline char *u64_at(char *o, uint64_t v, int neg)
{
    static const uint64_t p10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                     10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                     100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                     100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                     100000000000000000ULL, 1000000000000000000ULL,
                                     10000000000000000000ULL};
    int n = 1;
    while (n < 20 && v >= p10[n])
        n++;
    if (neg)
        *o++ = '-';
    char *e = o + n;
    u64_text(e, v, 0);
    return e;
}

/* pre, the integer (magnitude mag, negative when neg), post: the number wrappers, with one
   reservation of room (pre and post literals of up to 40 bytes together). */
static inline int put_wrapped(mno_buf *b, const char *pre, size_t prel, uint64_t mag, int neg,
                              const char *post, size_t postl)
{
    TRY(room(b, prel + 21 + postl));
    char *o = b->data + b->len;
    memcpy(o, pre, prel);
    o = u64_at(o + prel, mag, neg);
    memcpy(o, post, postl);
    b->len = (size_t)(o + postl - b->data);
    return 0;
}

#define WRAPPED(b, pre, mag, neg, post) put_wrapped((b), (pre), sizeof(pre) - 1, (mag), (neg), (post), sizeof(post) - 1)

static inline uint64_t mag64(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

static const char hexd[] = "0123456789abcdef";

/* 1 for the bytes a JSON string holds as they are: printable ASCII but '"' and '\\'. */
static const uint8_t plain[256] = {
    ['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x20-0x2f, no '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                /* 0x30-0x3f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                /* 0x40-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,                /* 0x50-0x5f, no '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                /* 0x60-0x6f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                /* 0x70-0x7f */
};

/* Escapes and copies what follows s[i] (a byte that is not plain) to *op: one escape, or one
   validated UTF-8 sequence. Returns the bytes of s consumed, or 0 when the UTF-8 is invalid. */
static inline size_t esc_one(char **op, const uint8_t *s, size_t i, size_t n)
{
    char *o = *op;
    uint8_t c = s[i];
    if (c < 0x80) {
        o[0] = '\\';
        switch (c) {
        case '"': o[1] = '"'; break;
        case '\\': o[1] = '\\'; break;
        case '\b': o[1] = 'b'; break;
        case '\f': o[1] = 'f'; break;
        case '\n': o[1] = 'n'; break;
        case '\r': o[1] = 'r'; break;
        case '\t': o[1] = 't'; break;
        default:
            o[1] = 'u'; o[2] = '0'; o[3] = '0'; o[4] = hexd[c >> 4]; o[5] = hexd[c & 15];
            *op = o + 6;
            return 1;
        }
        *op = o + 2;
        return 1;
    }
    /* a multi-byte sequence: validate, copy */
    size_t sl;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        sl = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        sl = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        sl = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n - i < sl)
        return 0;
    for (size_t k = 1; k < sl; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if ((sl == 2 && cp < 0x80) || (sl == 3 && cp < 0x800) || (sl == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    memcpy(o, s + i, sl);
    *op = o + sl;
    return sl;
}

#define ESC_CHUNK 4096   /* input bytes escaped per reservation of room (6 output bytes each) */
#define SLACK 16         /* output room past the worst case: esc_run stores 16 bytes at a time */

/* 0xff for each of the 16 bytes of x that is not plain (below 0x20, '"', '\\', or 0x80 and up). */
static inline mno_v16 special16(mno_v16 x)
{
    typedef signed char s16 __attribute__((vector_size(16)));
    return (mno_v16)(((s16)x < 0x20) | (x == '"') | (x == '\\'));
}

/* Escapes s[*ip..stop) into o, which has room for 6 bytes per input byte and 3 + SLACK more
   (a UTF-8 sequence that starts before stop is taken whole, up to n): plain runs 16 bytes at
   a time, the bytes before lim readable (a run may look past stop, not past lim). Sets *ip
   past what it took; returns the new end of o, or NULL for invalid UTF-8. */
static inline char *esc_run(char *o, const uint8_t *s, size_t *ip, size_t stop, size_t n, const uint8_t *lim)
{
    size_t i = *ip;
    while (i < stop) {
        size_t f = 16;
        while (f == 16 && i + 16 <= stop) {
            mno_v16 x;
            memcpy(&x, s + i, 16);
            memcpy(o, &x, 16);
            f = mno_v16_first(special16(x));
            o += f;
            i += f;
        }
        if (f == 16 && i < stop) {
            if ((size_t)(lim - (s + i)) >= 16) {
                /* the last bytes, with what follows them (looked at, not taken) */
                mno_v16 x;
                memcpy(&x, s + i, 16);
                memcpy(o, &x, 16);
                f = mno_v16_first(special16(x));
                if (f > stop - i)
                    f = stop - i;
                o += f;
                i += f;
            } else {
                while (i < stop && plain[s[i]])
                    *o++ = (char)s[i++];
            }
        }
        if (i == stop)
            break;
        size_t k = esc_one(&o, s, i, n);
        if (!k)
            return NULL;
        i += k;
    }
    *ip = i;
    return o;
}

/*
 * s[0..n) as the inside of a JSON string, escaped as libbson's bson_utf8_escape_for_json:
 * '"' '\\' and \b \f \n \r \t by backslash, other bytes below 0x20 as \u00XX, NUL (only in
 * strings with a length) as \u0000, everything else (0x7f and valid UTF-8) as is. Invalid
 * UTF-8 (bad or missing continuation bytes, overlong forms, surrogates, above U+10FFFF) is BAD.
 */
static int put_esc(mno_buf *b, const uint8_t *s, size_t n, const uint8_t *lim)
{
    size_t i = 0;
    while (i < n) {
        size_t stop = n - i > ESC_CHUNK ? i + ESC_CHUNK : n;
        TRY(room(b, 6 * (stop - i) + 3 + SLACK));
        char *o = esc_run(b->data + b->len, s, &i, stop, n, lim);
        if (!o)
            return BAD;
        b->len = (size_t)(o - b->data);
    }
    return 0;
}

/* pre (a literal of up to 8 bytes), s[0..n) escaped, post (likewise): the quoted forms of keys
   and strings, with one reservation of room when s is short. */
static inline int put_quoted(mno_buf *b, const char *pre, size_t prel, const uint8_t *s, size_t n,
                             const char *post, size_t postl, const uint8_t *lim)
{
    if (n < 16 && (size_t)(lim - s) >= 16) {
        /* short and plain (the common case): one look at its bytes, one copy */
        mno_v16 x;
        memcpy(&x, s, 16);
        if (mno_v16_first(special16(x)) >= n) {
            TRY(room(b, prel + 16 + postl));
            char *o = b->data + b->len;
            memcpy(o, pre, prel);
            memcpy(o + prel, &x, 16);
            memcpy(o + prel + n, post, postl);
            b->len += prel + n + postl;
            return 0;
        }
    }
    if (n > ESC_CHUNK) {
        TRY(put(b, pre, prel));
        TRY(put_esc(b, s, n, lim));
        return put(b, post, postl);
    }
    TRY(room(b, 6 * n + 3 + 16 + SLACK));
    char *o = b->data + b->len;
    memcpy(o, pre, prel);
    o += prel;
    size_t i = 0;
    if (!(o = esc_run(o, s, &i, n, n, lim)))
        return BAD;
    memcpy(o, post, postl);
    b->len = (size_t)(o + postl - b->data);
    return 0;
}

/*
 * The 16 bytes of a Decimal128 at p as bson_decimal128_to_string prints them, into s (room for
 * 48 bytes); returns the length. The same rules, including for non-canonical encodings: a
 * coefficient of 2^113 and above or in the 11 form is zero, and digits are cut at 36 bytes of
 * output in the scientific and integer forms (43 in the fractional one).
 */
static size_t dec128_text(const uint8_t *p, char *s)
{
    uint64_t lo = le64(p), hi = le64(p + 8);
    unsigned comb = (unsigned)(hi >> 58) & 0x1f, bexp;
    uint32_t msb;
    char *o = s;
    if ((comb >> 3) == 3) {
        if (comb == 30) {
            if (hi >> 63)
                *o++ = '-';
            memcpy(o, "Infinity", 8);
            return (size_t)(o + 8 - s);
        }
        if (comb == 31) {
            memcpy(s, "NaN", 3);
            return 3;
        }
        bexp = (unsigned)(hi >> 47) & 0x3fff;
        msb = 8 + (uint32_t)((hi >> 46) & 1);
    } else {
        bexp = (unsigned)(hi >> 49) & 0x3fff;
        msb = (uint32_t)(hi >> 46) & 7;
    }
    if (hi >> 63)
        *o++ = '-';
    int exponent = (int)bexp - 6176;
    uint32_t top = (uint32_t)((hi >> 32) & 0x3fff) + (msb << 14);
    /* the coefficient's digits, most significant first (values 0-9) */
    char dig[40] = {0};   /* (one digit at least is always set) */
    int nd;
    uint64_t chi = top < (1u << 17) ? (uint64_t)top << 32 | (hi & 0xffffffffu) : 0;
    uint64_t clo = top < (1u << 17) ? lo : 0;
    {
        char tmp[48];
        char *e = tmp + sizeof tmp, *q;
        if (!chi) {
            q = u64_text(e, clo, 0);
        } else {
            unsigned __int128 c = (unsigned __int128)chi << 64 | clo;
            const uint64_t e19 = 10000000000000000000ULL;
            uint64_t low19 = (uint64_t)(c % e19), high = (uint64_t)(c / e19);
            q = u64_text(e, low19, 0);
            while (e - q < 19)
                *--q = '0';
            q = u64_text(q, high, 0);
        }
        nd = (int)(e - q);
        for (int i = 0; i < nd; i++)
            dig[i] = (char)(q[i] - '0');
    }
    int sci = nd - 1 + exponent;
    if (sci < -6 || exponent > 0) {
        *o++ = (char)('0' + dig[0]);
        if (nd > 1)
            *o++ = '.';
        for (int i = 1; i < nd && o - s < 36; i++)
            *o++ = (char)('0' + dig[i]);
        *o++ = 'E';
        char et[16];
        char *ee = et + sizeof et, *eq = u64_text(ee, (uint64_t)(sci < 0 ? -(int64_t)sci : sci), 0);
        *--eq = sci < 0 ? '-' : '+';
        memcpy(o, eq, (size_t)(ee - eq));
        o += ee - eq;
    } else if (exponent == 0) {
        for (int i = 0; i < nd && o - s < 36; i++)
            *o++ = (char)('0' + dig[i]);
    } else {
        int r = nd + exponent, i = 0;
        if (r > 0) {
            for (; i < r && o - s < 43; i++)
                *o++ = (char)('0' + dig[i]);
        } else {
            *o++ = '0';
        }
        *o++ = '.';
        for (int z = r; z < 0; z++)
            *o++ = '0';
        for (int k = r > 0 ? i : 0; k < nd && o - s < 43; k++)
            *o++ = (char)('0' + dig[k]);
    }
    return (size_t)(o - s);
}

/* A NUL-terminated string inside [p, end): its length, or BAD when the NUL is missing. */
static inline int cstr(const uint8_t *p, const uint8_t *end, size_t *n)
{
    const uint8_t *z = memchr(p, 0, (size_t)(end - p));
    if (!z)
        return BAD;
    *n = (size_t)(z - p);
    return 0;
}

/* A BSON string value (int32 length incl. NUL, bytes, NUL) at p; sets *s, *n (without NUL). */
static inline int bstr(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *n)
{
    if (end - p < 5)
        return BAD;
    uint32_t l = le32(p);
    if (l < 1 || l > (size_t)(end - p) - 4 || p[4 + l - 1] != 0)
        return BAD;
    *s = p + 4;
    *n = l - 1;
    return 0;
}

static int put_qstr(mno_buf *b, const uint8_t *s, size_t n, const uint8_t *lim)
{
    return put_quoted(b, "\"", 1, s, n, "\"", 1, lim);
}

/* The text that opens a value of each type whose printed form starts the same way every time
   (up to its payload): what a cached key carries after it (mno_ejson_keys). */
#define LIT(s) {s, sizeof(s) - 1}
static const struct { const char *s; size_t n; } open_of[256] = {
    [BSON_TYPE_DOUBLE] = LIT("{ \"$numberDouble\" : \""),
    [BSON_TYPE_UTF8] = LIT("\""),
    [BSON_TYPE_OID] = LIT("{ \"$oid\" : \""),
    [BSON_TYPE_DATE_TIME] = LIT("{ \"$date\" : { \"$numberLong\" : \""),
    [BSON_TYPE_INT32] = LIT("{ \"$numberInt\" : \""),
    [BSON_TYPE_INT64] = LIT("{ \"$numberLong\" : \""),
    [BSON_TYPE_DECIMAL128] = LIT("{ \"$numberDecimal\" : \""),
};

/* The opening of a value of type t, unless the key's cached text already held it (opened). */
#define OPEN(b, t, opened) ((opened) ? 0 : put((b), open_of[t].s, open_of[t].n))

/* An ObjectId's 24 hex digits and what closes it, its opening already written. */
static int put_oid_rest(mno_buf *b, const uint8_t *p)
{
    TRY(room(b, 24 + 3));
    char *h = b->data + b->len;
    for (int i = 0; i < 12; i++) {
        h[2 * i] = hexd[p[i] >> 4];
        h[2 * i + 1] = hexd[p[i] & 15];
    }
    memcpy(h + 24, "\" }", 3);
    b->len += 27;
    return 0;
}

static int put_b64(mno_buf *b, const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    TRY(room(b, (n + 2) / 3 * 4));
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    return 0;
}

/* A double's digits and what closes it, its opening already written. */
static int put_double_rest(mno_buf *b, double d)
{
    char tmp[64];
    if (isnan(d)) {
        TRY(PUTS(b, "NaN"));
    } else if (isinf(d)) {
        TRY(d > 0 ? PUTS(b, "Infinity") : PUTS(b, "-Infinity"));
    } else if (fabs(d) < 1e15 && !(d == 0 && signbit(d)) && (double)(int64_t)(d * 16) == d * 16) {
        /* a multiple of 1/16 below 10^15 (amounts, counts): exact in at most 19 digits, so
           "%.20g" prints it in full, without exponent; the same digits, without printf */
        uint64_t u = (uint64_t)fabs(d * 16);
        unsigned f = (unsigned)(u & 15) * 625; /* the fraction in 4 decimal digits */
        TRY(room(b, 21 + 5 + 3));
        char *o = u64_at(b->data + b->len, u >> 4, d < 0);
        o[0] = '.';
        if (!f) {
            o[1] = '0';
            o += 2;
        } else {
            o[1] = (char)('0' + f / 1000);
            o[2] = (char)('0' + f / 100 % 10);
            o[3] = (char)('0' + f / 10 % 10);
            o[4] = (char)('0' + f % 10);
            o += 5;
            while (o[-1] == '0')
                o--;
        }
        memcpy(o, "\" }", 3);
        b->len = (size_t)(o + 3 - b->data);
        return 0;
    } else {
        int n = snprintf(tmp, sizeof tmp, "%.20g", d);
        if (n < 0 || (size_t)n >= sizeof tmp)
            return BAD;
        TRY(put(b, tmp, (size_t)n));
        if (strspn(tmp, "0123456789-") == (size_t)n)
            TRY(PUTS(b, ".0"));
    }
    return PUTS(b, "\" }");
}

/* One document's printing: the output, the bytes that may be read (the whole document's), and
   the key cache (NULL: none). */
typedef struct pr {
    mno_buf *b;
    const uint8_t *lim;
    mno_ejson_keys *kc;
} pr;

static int doc(pr *c, const uint8_t *p, size_t avail, int depth, int is_array, int top);

/* One value of type t at *pp (advanced past it), end = the enclosing document's last byte;
   opened: its opening (open_of[t]) is written already. */
static int value(pr *c, uint8_t t, const uint8_t **pp, const uint8_t *end, int depth, int opened)
{
    mno_buf *b = c->b;
    const uint8_t *p = *pp, *s;
    size_t n, avail = (size_t)(end - p);
    switch (t) {
    case BSON_TYPE_DOUBLE: {
        if (avail < 8)
            return BAD;
        uint64_t u = le64(p);
        double d;
        memcpy(&d, &u, 8);
        TRY(OPEN(b, t, opened));
        TRY(put_double_rest(b, d));
        p += 8;
        break;
    }
    case BSON_TYPE_UTF8:
        TRY(bstr(p, end, &s, &n));
        TRY(opened ? put_quoted(b, "", 0, s, n, "\"", 1, c->lim) : put_quoted(b, "\"", 1, s, n, "\"", 1, c->lim));
        p += 4 + n + 1;
        break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        if (avail < 5)
            return BAD;
        if (depth >= MAX_DEPTH)
            return BAD;
        TRY(doc(c, p, avail, depth + 1, t == BSON_TYPE_ARRAY, 0));
        p += le32(p);
        break;
    case BSON_TYPE_BINARY: {
        if (avail < 5)
            return BAD;
        uint32_t l = le32(p);
        if (l > avail - 5)
            return BAD;
        uint8_t sub = p[4];
        const uint8_t *data = p + 5;
        size_t dl = l;
        if (sub == BSON_SUBTYPE_BINARY_DEPRECATED) {
            /* the old binary subtype holds its own length; libbson shows what follows it */
            if (l < 4 || le32(data) != l - 4)
                return BAD;
            data += 4;
            dl -= 4;
        }
        TRY(PUTS(b, "{ \"$binary\" : { \"base64\" : \""));
        TRY(put_b64(b, data, dl));
        char st[2] = {hexd[sub >> 4], hexd[sub & 15]};
        TRY(PUTS(b, "\", \"subType\" : \""));
        TRY(put(b, st, 2));
        TRY(PUTS(b, "\" } }"));
        p += 5 + l;
        break;
    }
    case BSON_TYPE_UNDEFINED:
        TRY(PUTS(b, "{ \"$undefined\" : true }"));
        break;
    case BSON_TYPE_OID:
        if (avail < 12)
            return BAD;
        TRY(OPEN(b, t, opened));
        TRY(put_oid_rest(b, p));
        p += 12;
        break;
    case BSON_TYPE_BOOL:
        if (avail < 1 || p[0] > 1)
            return BAD;
        TRY(p[0] ? PUTS(b, "true") : PUTS(b, "false"));
        p += 1;
        break;
    case BSON_TYPE_DATE_TIME:
        if (avail < 8)
            return BAD;
        {
            int64_t v = (int64_t)le64(p);
            TRY(put_wrapped(b, open_of[t].s, opened ? 0 : open_of[t].n, mag64(v), v < 0, "\" } }", 5));
        }
        p += 8;
        break;
    case BSON_TYPE_NULL:
        TRY(PUTS(b, "null"));
        break;
    case BSON_TYPE_REGEX: {
        size_t ol;
        TRY(cstr(p, end, &n));
        TRY(cstr(p + n + 1, end, &ol));
        const uint8_t *opts = p + n + 1;
        TRY(PUTS(b, "{ \"$regularExpression\" : { \"pattern\" : \""));
        TRY(put_esc(b, p, n, c->lim));
        TRY(PUTS(b, "\", \"options\" : \""));
        for (const char *o = "ilmsux"; *o; o++)
            if (memchr(opts, *o, ol))
                TRY(put(b, o, 1));
        TRY(PUTS(b, "\" } }"));
        p += n + 1 + ol + 1;
        break;
    }
    case BSON_TYPE_DBPOINTER:
        TRY(bstr(p, end, &s, &n));
        if ((size_t)(end - (s + n + 1)) < 12)
            return BAD;
        TRY(PUTS(b, "{ \"$dbPointer\" : { \"$ref\" : \""));
        {
            size_t cl = strnlen((const char *)s, n);   /* libbson shows it up to a NUL */
            TRY(put_esc(b, s, cl, c->lim));
        }
        TRY(PUTS(b, "\", \"$id\" : "));
        TRY(put(b, open_of[BSON_TYPE_OID].s, open_of[BSON_TYPE_OID].n));
        TRY(put_oid_rest(b, s + n + 1));
        TRY(PUTS(b, " } }"));
        p = s + n + 1 + 12;
        break;
    case BSON_TYPE_CODE:
        TRY(bstr(p, end, &s, &n));
        TRY(PUTS(b, "{ \"$code\" : "));
        TRY(put_qstr(b, s, n, c->lim));
        TRY(PUTS(b, " }"));
        p += 4 + n + 1;
        break;
    case BSON_TYPE_SYMBOL:
        TRY(bstr(p, end, &s, &n));
        TRY(PUTS(b, "{ \"$symbol\" : "));
        TRY(put_qstr(b, s, n, c->lim));
        TRY(PUTS(b, " }"));
        p += 4 + n + 1;
        break;
    case BSON_TYPE_CODEWSCOPE: {
        if (avail < 4)
            return BAD;
        uint32_t total = le32(p);
        if (total < 14 || total > avail)
            return BAD;
        const uint8_t *cend = p + total;
        TRY(bstr(p + 4, cend, &s, &n));
        const uint8_t *sc = s + n + 1;
        if ((size_t)(cend - sc) < 5 || le32(sc) != (size_t)(cend - sc))
            return BAD;
        TRY(PUTS(b, "{ \"$code\" : "));
        TRY(put_qstr(b, s, n, c->lim));
        TRY(PUTS(b, ", \"$scope\" : "));
        TRY(doc(c, sc, (size_t)(cend - sc), 0, 0, 1));
        TRY(PUTS(b, " }"));
        p += total;
        break;
    }
    case BSON_TYPE_INT32:
        if (avail < 4)
            return BAD;
        {
            int32_t v = (int32_t)le32(p);
            TRY(put_wrapped(b, open_of[t].s, opened ? 0 : open_of[t].n, mag64(v), v < 0, "\" }", 3));
        }
        p += 4;
        break;
    case BSON_TYPE_TIMESTAMP:
        if (avail < 8)
            return BAD;
        TRY(PUTS(b, "{ \"$timestamp\" : { \"t\" : "));
        TRY(put_u64(b, le32(p + 4), 0));
        TRY(PUTS(b, ", \"i\" : "));
        TRY(put_u64(b, le32(p), 0));
        TRY(PUTS(b, " } }"));
        p += 8;
        break;
    case BSON_TYPE_INT64:
        if (avail < 8)
            return BAD;
        {
            int64_t v = (int64_t)le64(p);
            TRY(put_wrapped(b, open_of[t].s, opened ? 0 : open_of[t].n, mag64(v), v < 0, "\" }", 3));
        }
        p += 8;
        break;
    case BSON_TYPE_DECIMAL128: {
        if (avail < 16)
            return BAD;
        TRY(OPEN(b, t, opened));
        TRY(room(b, 48 + 3));
        b->len += dec128_text(p, b->data + b->len);
        memcpy(b->data + b->len, "\" }", 3);
        b->len += 3;
        p += 16;
        break;
    }
    case BSON_TYPE_MAXKEY:
        TRY(PUTS(b, "{ \"$maxKey\" : 1 }"));
        break;
    case BSON_TYPE_MINKEY:
        TRY(PUTS(b, "{ \"$minKey\" : 1 }"));
        break;
    default:
        return BAD;
    }
    *pp = p;
    return 0;
}

/* The cache slot of the element header (type byte, key, NUL) at h, its bytes in w[] (zero past
   the NUL); NULL when the header is longer than 16 bytes or runs to within 16 bytes of lim. */
static inline mno_ejson_key *key_slot(mno_ejson_keys *kc, const uint8_t *h, const uint8_t *lim, uint64_t w[2],
                                      size_t *j)
{
    static const mno_v16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    if ((size_t)(lim - h) < 16)
        return NULL;
    mno_v16 x;
    memcpy(&x, h, 16);
    size_t z = mno_v16_first((mno_v16)(x == 0));   /* the key's NUL (h[0], the type, is not 0) */
    if (z == 0 || z == 16)
        return NULL;
    x &= (mno_v16)(iota < (mno_v16){0} + (unsigned char)z);
    memcpy(w, &x, 16);
    *j = z;
    uint64_t k = (w[0] ^ (w[1] * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL;
    return &kc->e[k >> (64 - MNO_EJSON_KEYS_LOG2)];
}

/* The document (or array) at p: "{ "k" : v, ... }"; an empty one is "{ }" at the top and
   "{  }" / "[  ]" inside, as libbson prints them. */
static int doc(pr *c, const uint8_t *p, size_t avail, int depth, int is_array, int top)
{
    mno_buf *b = c->b;
    if (avail < 5)
        return BAD;
    uint32_t len = le32(p);
    if (len < 5 || len > avail || p[len - 1] != 0)
        return BAD;
    const uint8_t *q = p + 4, *end = p + len - 1;
    if (q == end) {
        if (top)
            return PUTS(b, "{ }");
        return is_array ? PUTS(b, "[  ]") : PUTS(b, "{  }");
    }
    TRY(is_array ? PUTS(b, "[ ") : PUTS(b, "{ "));
    int first = 1;
    while (q < end) {
        uint8_t t = *q++;
        const uint8_t *key = q;
        int opened = 0;
        if (!is_array) {
            /* a key seen before (with a value of the same type): its text from the cache */
            uint64_t w[2];
            size_t z = 0;
            mno_ejson_key *e = c->kc ? key_slot(c->kc, key - 1, c->lim, w, &z) : NULL;
            if (e && e->head[0] == w[0] && e->head[1] == w[1] && key - 1 + z < end) {
                size_t skip = first ? 2 : 0, n = (uint8_t)e->text[MNO_EJSON_KEY_TEXT + 15] - skip;
                TRY(room(b, MNO_EJSON_KEY_TEXT + 16));
                char *o = b->data + b->len;
                for (size_t k = 0; k < n; k += 16)
                    memcpy(o + k, e->text + skip + k, 16);
                b->len += n;
                q = key + z;
                opened = 1;
            } else {
                size_t kl;
                TRY(cstr(key, end, &kl));
                q += kl + 1;
                size_t mark = b->len;
                TRY(first ? put_quoted(b, "\"", 1, key, kl, "\" : ", 4, c->lim)
                          : put_quoted(b, ", \"", 3, key, kl, "\" : ", 4, c->lim));
                size_t kn = b->len - mark + (first ? 2 : 0);
                if (e && kn + open_of[t].n <= MNO_EJSON_KEY_TEXT) {
                    /* the key (checked, escaped) and the value's opening: next time a copy */
                    memcpy(e->head, w, sizeof e->head);
                    memcpy(e->text, ", ", 2);
                    memcpy(e->text + kn - (b->len - mark), b->data + mark, b->len - mark);
                    if (open_of[t].n)
                        memcpy(e->text + kn, open_of[t].s, open_of[t].n);
                    e->text[MNO_EJSON_KEY_TEXT + 15] = (char)(kn + open_of[t].n);
                }
            }
        } else {
            size_t kl = 0;
            int plainkey = 1;
            /* the key's end: a NUL at end (the document's own) at the latest */
            while (key[kl]) {
                plainkey &= plain[key[kl]];
                kl++;
            }
            if (key + kl >= end)
                return BAD;
            q += kl + 1;
            if (!first)
                TRY(PUTS(b, ", "));
            if (!plainkey) {
                /* keys of arrays are not shown, but libbson still insists they are UTF-8 */
                size_t mark = b->len;
                TRY(put_esc(b, key, kl, c->lim));
                b->len = mark;
            }
        }
        first = 0;
        TRY(value(c, t, &q, end, depth, opened && open_of[t].n));
    }
    if (q != end)
        return BAD;
    return is_array ? PUTS(b, " ]") : PUTS(b, " }");
}

int mno_ejson_canonical_keys(mno_ejson_keys *kc, mno_buf *out, const uint8_t *d, size_t len)
{
    size_t mark = out->len;
    pr c = {out, d + len, kc};
    int rc = doc(&c, d, len, 0, 0, 1);
    if (rc == 0 && len != le32(d))
        rc = BAD;
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return rc;
    }
    out->data[out->len] = '\0';
    return 0;
}

int mno_ejson_canonical(mno_buf *out, const uint8_t *d, size_t len)
{
    return mno_ejson_canonical_keys(NULL, out, d, len);
}
