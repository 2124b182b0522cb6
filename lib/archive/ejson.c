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

/*
 * The writer keeps its place in the output in a local pointer o, passed in and returned by
 * every function (NULL on failure, the reason in c->err), rather than in the buffer's len:
 * stores through char pointers may alias anything, and a length kept in memory would be
 * stored and loaded again at every piece of text. Room is reserved before each write (NEED).
 */

/* One document's printing: the output, where its room ends, the bytes that may be read (the
   whole document's), the key cache (NULL: none), and why a function returned NULL. */
typedef struct pr {
    mno_buf *b;
    char *end;              /* b->data + b->cap - 1: the last byte is kept for the NUL */
    const uint8_t *lim;
    mno_ejson_keys *kc;
    int err;                /* NOMEM or BAD */
} pr;

/* Grows the output for n more bytes after o; returns where o is now, or NULL (NOMEM). */
static __attribute__((noinline)) char *grow(pr *c, char *o, size_t n)
{
    mno_buf *b = c->b;
    b->len = (size_t)(o - b->data);
    if (mno_buf_grow(b, n) < 0) {
        c->err = NOMEM;
        return NULL;
    }
    c->end = b->data + b->cap - 1;
    return b->data + b->len;
}

/* Room for n more bytes at o: o, or where it moved, or NULL. */
static inline char *reserve(pr *c, char *o, size_t n)
{
    return (size_t)(c->end - o) >= n ? o : grow(c, o, n);
}

#define NEED(n) do { if (!(o = reserve(c, o, (n)))) return NULL; } while (0)
#define FAIL(code) do { c->err = (code); return NULL; } while (0)
#define TRY(x) do { if (!(o = (x))) return NULL; } while (0)
/* A string literal at o (room reserved). */
#define LIT_AT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)
#define PUT_LIT(lit) do { NEED(sizeof(lit) - 1); o = LIT_AT(o, lit); } while (0)

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
 * s[0..n) as the inside of a JSON string, at o, escaped as libbson's bson_utf8_escape_for_json:
 * '"' '\\' and \b \f \n \r \t by backslash, other bytes below 0x20 as \u00XX, NUL (only in
 * strings with a length) as \u0000, everything else (0x7f and valid UTF-8) as is. Invalid
 * UTF-8 (bad or missing continuation bytes, overlong forms, surrogates, above U+10FFFF) is BAD.
 */
static char *put_esc(pr *c, char *o, const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t stop = n - i > ESC_CHUNK ? i + ESC_CHUNK : n;
        NEED(6 * (stop - i) + 3 + SLACK);
        if (!(o = esc_run(o, s, &i, stop, n, c->lim)))
            FAIL(BAD);
    }
    return o;
}

/* As put_esc, with one or two looks at the bytes when s is short and plain (the common case:
   names, codes, ids). */
static inline char *put_str(pr *c, char *o, const uint8_t *s, size_t n)
{
    if (n < 32 && (size_t)(c->lim - s) >= 32) {
        mno_v16 x, y;
        memcpy(&x, s, 16);
        memcpy(&y, s + 16, 16);
        size_t f = mno_v16_first(special16(x));
        if (f == 16)
            f += mno_v16_first(special16(y));
        if (f >= n) {
            NEED(32);
            memcpy(o, &x, 16);
            memcpy(o + 16, &y, 16);
            return o + n;
        }
    } else if (n < 16 && (size_t)(c->lim - s) >= 16) {
        mno_v16 x;
        memcpy(&x, s, 16);
        if (mno_v16_first(special16(x)) >= n) {
            NEED(16);
            memcpy(o, &x, 16);
            return o + n;
        }
    }
    return put_esc(c, o, s, n);
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

/* An ObjectId's 24 hex digits and what closes it, its opening already written. */
static inline char *put_oid_rest(pr *c, char *o, const uint8_t *p)
{
    NEED(24 + 3);
    for (int i = 0; i < 12; i++) {
        o[2 * i] = hexd[p[i] >> 4];
        o[2 * i + 1] = hexd[p[i] & 15];
    }
    return LIT_AT(o + 24, "\" }");
}

static char *put_b64(pr *c, char *o, const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    NEED((n + 2) / 3 * 4);
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
    return o;
}

/* A double's digits and what closes it, its opening already written. */
static char *put_double_rest(pr *c, char *o, double d)
{
    NEED(64 + 3 + 2);
    if (isnan(d)) {
        o = LIT_AT(o, "NaN");
    } else if (isinf(d)) {
        o = d > 0 ? LIT_AT(o, "Infinity") : LIT_AT(o, "-Infinity");
    } else if (fabs(d) < 1e15 && !(d == 0 && signbit(d)) && (double)(int64_t)(d * 16) == d * 16) {
        /* a multiple of 1/16 below 10^15 (amounts, counts): exact in at most 19 digits, so
           "%.20g" prints it in full, without exponent; the same digits, without printf */
        uint64_t u = (uint64_t)fabs(d * 16);
        unsigned f = (unsigned)(u & 15) * 625; /* the fraction in 4 decimal digits */
        o = u64_at(o, u >> 4, d < 0);
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
    } else {
        int n = snprintf(o, 64, "%.20g", d);
        if (n < 0 || n >= 64)
            FAIL(BAD);
        if (strspn(o, "0123456789-") == (size_t)n)
            o = LIT_AT(o + n, ".0");
        else
            o += n;
    }
    return LIT_AT(o, "\" }");
}

/* pre (unless opened), the integer (magnitude mag, negative when neg), post: the number
   wrappers. */
#define WRAPPED(pre, mag, neg, post) do {                                      \
        NEED(sizeof(pre) - 1 + 21 + sizeof(post) - 1);                         \
        if (!opened)                                                           \
            o = LIT_AT(o, pre);                                                \
        o = u64_at(o, (mag), (neg));                                           \
        o = LIT_AT(o, post);                                                   \
    } while (0)

static char *doc(pr *c, char *o, const uint8_t *p, size_t avail, int depth, int is_array, int top, uint8_t *pred);

/* One value of type t at *pp (advanced past it), end = the enclosing document's last byte;
   opened: its opening (open_of[t]) is written already; child: the key cache's guess for the
   first key inside it (a document's, or an array's documents'). */
static char *value(pr *c, char *o, uint8_t t, const uint8_t **pp, const uint8_t *end, int depth, int opened,
                   uint8_t *child)
{
    const uint8_t *p = *pp, *s;
    size_t n, avail = (size_t)(end - p);
    switch (t) {
    case BSON_TYPE_DOUBLE: {
        if (avail < 8)
            FAIL(BAD);
        uint64_t u = le64(p);
        double d;
        memcpy(&d, &u, 8);
        if (!opened)
            PUT_LIT("{ \"$numberDouble\" : \"");
        TRY(put_double_rest(c, o, d));
        p += 8;
        break;
    }
    case BSON_TYPE_UTF8:
        if (bstr(p, end, &s, &n))
            FAIL(BAD);
        if (!opened)
            PUT_LIT("\"");
        TRY(put_str(c, o, s, n));
        PUT_LIT("\"");
        p += 4 + n + 1;
        break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        if (avail < 5 || depth >= MAX_DEPTH)
            FAIL(BAD);
        TRY(doc(c, o, p, avail, depth + 1, t == BSON_TYPE_ARRAY, 0, child));
        p += le32(p);
        break;
    case BSON_TYPE_BINARY: {
        if (avail < 5)
            FAIL(BAD);
        uint32_t l = le32(p);
        if (l > avail - 5)
            FAIL(BAD);
        uint8_t sub = p[4];
        const uint8_t *data = p + 5;
        size_t dl = l;
        if (sub == BSON_SUBTYPE_BINARY_DEPRECATED) {
            /* the old binary subtype holds its own length; libbson shows what follows it */
            if (l < 4 || le32(data) != l - 4)
                FAIL(BAD);
            data += 4;
            dl -= 4;
        }
        PUT_LIT("{ \"$binary\" : { \"base64\" : \"");
        TRY(put_b64(c, o, data, dl));
        NEED(64);
        o = LIT_AT(o, "\", \"subType\" : \"");
        *o++ = hexd[sub >> 4];
        *o++ = hexd[sub & 15];
        o = LIT_AT(o, "\" } }");
        p += 5 + l;
        break;
    }
    case BSON_TYPE_UNDEFINED:
        PUT_LIT("{ \"$undefined\" : true }");
        break;
    case BSON_TYPE_OID:
        if (avail < 12)
            FAIL(BAD);
        if (!opened)
            PUT_LIT("{ \"$oid\" : \"");
        TRY(put_oid_rest(c, o, p));
        p += 12;
        break;
    case BSON_TYPE_BOOL:
        if (avail < 1 || p[0] > 1)
            FAIL(BAD);
        if (p[0])
            PUT_LIT("true");
        else
            PUT_LIT("false");
        p += 1;
        break;
    case BSON_TYPE_DATE_TIME:
        if (avail < 8)
            FAIL(BAD);
        {
            int64_t v = (int64_t)le64(p);
            WRAPPED("{ \"$date\" : { \"$numberLong\" : \"", mag64(v), v < 0, "\" } }");
        }
        p += 8;
        break;
    case BSON_TYPE_NULL:
        PUT_LIT("null");
        break;
    case BSON_TYPE_REGEX: {
        size_t ol;
        if (cstr(p, end, &n) || cstr(p + n + 1, end, &ol))
            FAIL(BAD);
        const uint8_t *opts = p + n + 1;
        PUT_LIT("{ \"$regularExpression\" : { \"pattern\" : \"");
        TRY(put_esc(c, o, p, n));
        NEED(64);
        o = LIT_AT(o, "\", \"options\" : \"");
        for (const char *f = "ilmsux"; *f; f++)
            if (memchr(opts, *f, ol))
                *o++ = *f;
        o = LIT_AT(o, "\" } }");
        p += n + 1 + ol + 1;
        break;
    }
    case BSON_TYPE_DBPOINTER:
        if (bstr(p, end, &s, &n) || (size_t)(end - (s + n + 1)) < 12)
            FAIL(BAD);
        PUT_LIT("{ \"$dbPointer\" : { \"$ref\" : \"");
        TRY(put_esc(c, o, s, strnlen((const char *)s, n)));   /* libbson shows it up to a NUL */
        PUT_LIT("\", \"$id\" : { \"$oid\" : \"");
        TRY(put_oid_rest(c, o, s + n + 1));
        PUT_LIT(" } }");
        p = s + n + 1 + 12;
        break;
    case BSON_TYPE_CODE:
    case BSON_TYPE_SYMBOL:
        if (bstr(p, end, &s, &n))
            FAIL(BAD);
        if (t == BSON_TYPE_CODE)
            PUT_LIT("{ \"$code\" : \"");
        else
            PUT_LIT("{ \"$symbol\" : \"");
        TRY(put_str(c, o, s, n));
        PUT_LIT("\" }");
        p += 4 + n + 1;
        break;
    case BSON_TYPE_CODEWSCOPE: {
        if (avail < 4)
            FAIL(BAD);
        uint32_t total = le32(p);
        if (total < 14 || total > avail)
            FAIL(BAD);
        const uint8_t *cend = p + total;
        if (bstr(p + 4, cend, &s, &n))
            FAIL(BAD);
        const uint8_t *sc = s + n + 1;
        if ((size_t)(cend - sc) < 5 || le32(sc) != (size_t)(cend - sc))
            FAIL(BAD);
        PUT_LIT("{ \"$code\" : \"");
        TRY(put_str(c, o, s, n));
        PUT_LIT("\", \"$scope\" : ");
        TRY(doc(c, o, sc, (size_t)(cend - sc), 0, 0, 1, child));
        PUT_LIT(" }");
        p += total;
        break;
    }
    case BSON_TYPE_INT32:
        if (avail < 4)
            FAIL(BAD);
        {
            int32_t v = (int32_t)le32(p);
            WRAPPED("{ \"$numberInt\" : \"", mag64(v), v < 0, "\" }");
        }
        p += 4;
        break;
    case BSON_TYPE_TIMESTAMP:
        if (avail < 8)
            FAIL(BAD);
        NEED(64);
        o = LIT_AT(o, "{ \"$timestamp\" : { \"t\" : ");
        o = u64_at(o, le32(p + 4), 0);
        o = LIT_AT(o, ", \"i\" : ");
        o = u64_at(o, le32(p), 0);
        o = LIT_AT(o, " } }");
        p += 8;
        break;
    case BSON_TYPE_INT64:
        if (avail < 8)
            FAIL(BAD);
        {
            int64_t v = (int64_t)le64(p);
            WRAPPED("{ \"$numberLong\" : \"", mag64(v), v < 0, "\" }");
        }
        p += 8;
        break;
    case BSON_TYPE_DECIMAL128:
        if (avail < 16)
            FAIL(BAD);
        NEED(24 + 48 + 3);
        if (!opened)
            o = LIT_AT(o, "{ \"$numberDecimal\" : \"");
        o += dec128_text(p, o);
        o = LIT_AT(o, "\" }");
        p += 16;
        break;
    case BSON_TYPE_MAXKEY:
        PUT_LIT("{ \"$maxKey\" : 1 }");
        break;
    case BSON_TYPE_MINKEY:
        PUT_LIT("{ \"$minKey\" : 1 }");
        break;
    default:
        FAIL(BAD);
    }
    *pp = p;
    return o;
}

static inline int v16_zero(mno_v16 x)
{
    uint64_t w[2];
    memcpy(w, &x, sizeof w);
    return (w[0] | w[1]) == 0;
}

/* Where key_find found no entry: the slot to keep the header in, its bytes and length. */
typedef struct key_miss {
    mno_ejson_key *slot;    /* NULL: the header cannot be kept (over 16 bytes, or too near lim) */
    size_t home;            /* the entry its bytes hash to */
    mno_v16 head;
    size_t hlen;
} key_miss;

#define KEYS_N (1u << MNO_EJSON_KEYS_LOG2)
#define KEYS_FULL (KEYS_N / 4 * 3)

/* The entry of the element header (type byte, key, NUL) at h: kc->e[pred] when it is that one
   (the entry that came at this place last time), else the one its bytes hash to; NULL when
   there is none (*m then says where one may go). */
static inline mno_ejson_key *key_find(mno_ejson_keys *kc, const uint8_t *h, const uint8_t *lim, uint8_t pred,
                                      key_miss *m)
{
    static const mno_v16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    m->slot = NULL;
    if ((size_t)(lim - h) < 16)
        return NULL;
    mno_v16 x;
    memcpy(&x, h, 16);
    mno_ejson_key *e = &kc->e[pred];
    mno_v16 eh, em;
    memcpy(&eh, e->head, 16);
    memcpy(&em, e->mask, 16);
    if (e->hlen && v16_zero((x ^ eh) & em))
        return e;
    size_t z = mno_v16_first((mno_v16)(x == 0));   /* the key's NUL (h[0], the type, is not 0) */
    if (z == 0 || z == 16)
        return NULL;
    x &= (mno_v16)(iota <= (mno_v16){0} + (unsigned char)z);
    uint64_t w[2];
    memcpy(w, &x, 16);
    size_t i = ((w[0] ^ (w[1] * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL) >> (64 - MNO_EJSON_KEYS_LOG2);
    m->home = i;
    /* the table is never full (KEYS_FULL): an empty entry ends the probe */
    for (;; i = (i + 1) % KEYS_N) {
        e = &kc->e[i];
        if (!e->hlen)
            break;
        memcpy(&eh, e->head, 16);
        if (e->hlen == z + 1 && v16_zero(x ^ eh))
            return e;
    }
    m->slot = e;
    m->head = x;
    m->hlen = z + 1;
    return NULL;
}

/* The document (or array) at p: "{ "k" : v, ... }"; an empty one is "{ }" at the top and
   "{  }" / "[  ]" inside, as libbson prints them. pred: the key cache's guess for its first
   key (for an array: for the first key of the documents in it), updated. */
static char *doc(pr *c, char *o, const uint8_t *p, size_t avail, int depth, int is_array, int top, uint8_t *pred)
{
    if (avail < 5)
        FAIL(BAD);
    uint32_t len = le32(p);
    if (len < 5 || len > avail || p[len - 1] != 0)
        FAIL(BAD);
    const uint8_t *q = p + 4, *end = p + len - 1;
    if (q == end) {
        if (top)
            PUT_LIT("{ }");
        else if (is_array)
            PUT_LIT("[  ]");
        else
            PUT_LIT("{  }");
        return o;
    }
    if (is_array)
        PUT_LIT("[ ");
    else
        PUT_LIT("{ ");
    int first = 1;
    uint8_t spare = 0;      /* the guesses of what the cache does not keep */
    while (q < end) {
        uint8_t t = *q++;
        const uint8_t *key = q;
        int opened = 0;
        uint8_t *child = &spare;
        if (!is_array) {
            /* a key seen before (with a value of the same type): its text from the cache */
            key_miss m = {NULL, 0, {0}, 0};
            mno_ejson_key *e = c->kc ? key_find(c->kc, key - 1, c->lim, *pred, &m) : NULL;
            if (e && key - 1 + e->hlen - 1 < end) {
                size_t skip = first ? 2 : 0;
                NEED(64);
                memcpy(o, e->text + skip, 64);
                o += e->n - skip;
                q = key + e->hlen - 1;
                opened = open_of[t].n != 0;
                *pred = (uint8_t)(e - c->kc->e);
                pred = &e->next;
                child = &e->child;
            } else {
                size_t kl;
                if (cstr(key, end, &kl))
                    FAIL(BAD);
                q += kl + 1;
                size_t mark = (size_t)(o - c->b->data);
                if (first)
                    PUT_LIT("\"");
                else
                    PUT_LIT(", \"");
                TRY(put_str(c, o, key, kl));
                PUT_LIT("\" : ");
                const char *printed = c->b->data + mark;
                size_t pn = (size_t)(o - printed), kn = pn + (first ? 2 : 0);
                if (m.slot && kn + open_of[t].n <= MNO_EJSON_KEY_TEXT) {
                    /* the key (checked, escaped) and the value's opening: next time a copy */
                    static const mno_v16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
                    mno_v16 mask = (mno_v16)(iota < (mno_v16){0} + (unsigned char)m.hlen);
                    if (c->kc->count == KEYS_FULL) {
                        /* keys that do not repeat (or too many that do): start again */
                        memset(c->kc, 0, sizeof *c->kc);
                        m.slot = &c->kc->e[m.home];
                    }
                    c->kc->count++;
                    e = m.slot;
                    memcpy(e->head, &m.head, 16);
                    memcpy(e->mask, &mask, 16);
                    e->hlen = (uint8_t)m.hlen;
                    memcpy(e->text, ", ", 2);
                    memcpy(e->text + kn - pn, printed, pn);
                    if (open_of[t].n)
                        memcpy(e->text + kn, open_of[t].s, open_of[t].n);
                    e->n = (uint8_t)(kn + open_of[t].n);
                    *pred = (uint8_t)(e - c->kc->e);
                    pred = &e->next;
                    child = &e->child;
                } else {
                    pred = &spare;
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
                FAIL(BAD);
            q += kl + 1;
            if (!first)
                PUT_LIT(", ");
            if (!plainkey) {
                /* keys of arrays are not shown, but libbson still insists they are UTF-8 */
                size_t mark = (size_t)(o - c->b->data);
                TRY(put_esc(c, o, key, kl));
                o = c->b->data + mark;
            }
            child = pred;
        }
        first = 0;
        TRY(value(c, o, t, &q, end, depth, opened, child));
    }
    if (q != end)
        FAIL(BAD);
    if (is_array)
        PUT_LIT(" ]");
    else
        PUT_LIT(" }");
    return o;
}

int mno_ejson_canonical_keys(mno_ejson_keys *kc, mno_buf *out, const uint8_t *d, size_t len)
{
    size_t mark = out->len;
    if (mno_buf_grow(out, 64) < 0)
        return NOMEM;
    pr c = {out, out->data + out->cap - 1, d + len, kc, 0};
    uint8_t spare = 0;
    char *o = doc(&c, out->data + out->len, d, len, 0, 0, 1, kc ? &kc->first : &spare);
    if (o && len != le32(d)) {
        o = NULL;
        c.err = BAD;
    }
    if (!o) {
        out->len = mark;
        out->data[mark] = '\0';
        return c.err;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int mno_ejson_canonical(mno_buf *out, const uint8_t *d, size_t len)
{
    return mno_ejson_canonical_keys(NULL, out, d, len);
}
