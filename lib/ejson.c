/* ejson.c: canonical Extended JSON v2 from BSON bytes, in one pass over the bytes, identical to libbson's output. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <bson/bson.h>
#include "ejson.h"

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

static int put_u64(mno_buf *b, uint64_t v, int neg)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *p = e;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        *--p = '-';
    return put(b, p, (size_t)(e - p));
}

static int put_i64(mno_buf *b, int64_t v)
{
    return v < 0 ? put_u64(b, (uint64_t)0 - (uint64_t)v, 1) : put_u64(b, (uint64_t)v, 0);
}

static const char hexd[] = "0123456789abcdef";

/*
 * s[0..n) as the inside of a JSON string, escaped as libbson's bson_utf8_escape_for_json:
 * '"' '\\' and \b \f \n \r \t by backslash, other bytes below 0x20 as \u00XX, NUL (only in
 * strings with a length) as \u0000, everything else (0x7f and valid UTF-8) as is. Invalid
 * UTF-8 (bad or missing continuation bytes, overlong forms, surrogates, above U+10FFFF) is BAD.
 */
static int put_esc(mno_buf *b, const uint8_t *s, size_t n)
{
    TRY(room(b, n));
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            TRY(put(b, s + i, run - i));
            i = run;
            if (i == n)
                break;
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            char e[6] = {'\\', 0, 0, 0, 0, 0};
            size_t el = 2;
            switch (c) {
            case '"': e[1] = '"'; break;
            case '\\': e[1] = '\\'; break;
            case '\b': e[1] = 'b'; break;
            case '\f': e[1] = 'f'; break;
            case '\n': e[1] = 'n'; break;
            case '\r': e[1] = 'r'; break;
            case '\t': e[1] = 't'; break;
            default:
                e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hexd[c >> 4]; e[5] = hexd[c & 15];
                el = 6;
            }
            TRY(put(b, e, el));
            i++;
            continue;
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
            return BAD;
        }
        if (n - i < sl)
            return BAD;
        for (size_t k = 1; k < sl; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return BAD;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((sl == 2 && cp < 0x80) || (sl == 3 && cp < 0x800) || (sl == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return BAD;
        TRY(put(b, s + i, sl));
        i += sl;
    }
    return 0;
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

static int put_qstr(mno_buf *b, const uint8_t *s, size_t n)
{
    TRY(PUTS(b, "\""));
    TRY(put_esc(b, s, n));
    return PUTS(b, "\"");
}

static int put_oid(mno_buf *b, const uint8_t *p)
{
    char h[24];
    for (int i = 0; i < 12; i++) {
        h[2 * i] = hexd[p[i] >> 4];
        h[2 * i + 1] = hexd[p[i] & 15];
    }
    TRY(PUTS(b, "{ \"$oid\" : \""));
    TRY(put(b, h, 24));
    return PUTS(b, "\" }");
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

static int put_double(mno_buf *b, double d)
{
    char tmp[64];
    TRY(PUTS(b, "{ \"$numberDouble\" : \""));
    if (isnan(d)) {
        TRY(PUTS(b, "NaN"));
    } else if (isinf(d)) {
        TRY(d > 0 ? PUTS(b, "Infinity") : PUTS(b, "-Infinity"));
    } else if (fabs(d) < 1e15 && !(d == 0 && signbit(d)) && (double)(int64_t)(d * 16) == d * 16) {
        /* a multiple of 1/16 below 10^15 (amounts, counts): exact in at most 19 digits, so
           "%.20g" prints it in full, without exponent; the same digits, without printf */
        uint64_t u = (uint64_t)fabs(d * 16);
        unsigned f = (unsigned)(u & 15) * 625; /* the fraction in 4 decimal digits */
        TRY(put_u64(b, u >> 4, d < 0));
        if (!f) {
            TRY(PUTS(b, ".0"));
        } else {
            char fr[5] = {'.', (char)('0' + f / 1000), (char)('0' + f / 100 % 10), (char)('0' + f / 10 % 10),
                          (char)('0' + f % 10)};
            size_t k = 5;
            while (fr[k - 1] == '0')
                k--;
            TRY(put(b, fr, k));
        }
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

static int doc(mno_buf *b, const uint8_t *p, size_t avail, int depth, int is_array, int top);

/* One value of type t at *pp (advanced past it), end = the enclosing document's last byte. */
static int value(mno_buf *b, uint8_t t, const uint8_t **pp, const uint8_t *end, int depth)
{
    const uint8_t *p = *pp, *s;
    size_t n, avail = (size_t)(end - p);
    switch (t) {
    case BSON_TYPE_DOUBLE: {
        if (avail < 8)
            return BAD;
        uint64_t u = le64(p);
        double d;
        memcpy(&d, &u, 8);
        TRY(put_double(b, d));
        p += 8;
        break;
    }
    case BSON_TYPE_UTF8:
        TRY(bstr(p, end, &s, &n));
        TRY(put_qstr(b, s, n));
        p += 4 + n + 1;
        break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        if (avail < 5)
            return BAD;
        if (depth >= MAX_DEPTH)
            return BAD;
        TRY(doc(b, p, avail, depth + 1, t == BSON_TYPE_ARRAY, 0));
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
        TRY(put_oid(b, p));
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
        TRY(PUTS(b, "{ \"$date\" : { \"$numberLong\" : \""));
        TRY(put_i64(b, (int64_t)le64(p)));
        TRY(PUTS(b, "\" } }"));
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
        TRY(put_esc(b, p, n));
        TRY(PUTS(b, "\", \"options\" : \""));
        for (const char *c = "ilmsux"; *c; c++)
            if (memchr(opts, *c, ol))
                TRY(put(b, c, 1));
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
            TRY(put_esc(b, s, cl));
        }
        TRY(PUTS(b, "\", \"$id\" : "));
        TRY(put_oid(b, s + n + 1));
        TRY(PUTS(b, " } }"));
        p = s + n + 1 + 12;
        break;
    case BSON_TYPE_CODE:
        TRY(bstr(p, end, &s, &n));
        TRY(PUTS(b, "{ \"$code\" : "));
        TRY(put_qstr(b, s, n));
        TRY(PUTS(b, " }"));
        p += 4 + n + 1;
        break;
    case BSON_TYPE_SYMBOL:
        TRY(bstr(p, end, &s, &n));
        TRY(PUTS(b, "{ \"$symbol\" : "));
        TRY(put_qstr(b, s, n));
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
        TRY(put_qstr(b, s, n));
        TRY(PUTS(b, ", \"$scope\" : "));
        TRY(doc(b, sc, (size_t)(cend - sc), 0, 0, 1));
        TRY(PUTS(b, " }"));
        p += total;
        break;
    }
    case BSON_TYPE_INT32:
        if (avail < 4)
            return BAD;
        TRY(PUTS(b, "{ \"$numberInt\" : \""));
        TRY(put_i64(b, (int32_t)le32(p)));
        TRY(PUTS(b, "\" }"));
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
        TRY(PUTS(b, "{ \"$numberLong\" : \""));
        TRY(put_i64(b, (int64_t)le64(p)));
        TRY(PUTS(b, "\" }"));
        p += 8;
        break;
    case BSON_TYPE_DECIMAL128: {
        if (avail < 16)
            return BAD;
        bson_decimal128_t d;
        char str[BSON_DECIMAL128_STRING];
        d.low = le64(p);
        d.high = le64(p + 8);
        bson_decimal128_to_string(&d, str);
        TRY(PUTS(b, "{ \"$numberDecimal\" : \""));
        TRY(put(b, str, strlen(str)));
        TRY(PUTS(b, "\" }"));
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

/* The document (or array) at p: "{ "k" : v, ... }"; an empty one is "{ }" at the top and
   "{  }" / "[  ]" inside, as libbson prints them. */
static int doc(mno_buf *b, const uint8_t *p, size_t avail, int depth, int is_array, int top)
{
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
        size_t kl;
        TRY(cstr(q, end, &kl));
        const uint8_t *key = q;
        q += kl + 1;
        if (!first)
            TRY(PUTS(b, ", "));
        first = 0;
        if (!is_array) {
            TRY(put_qstr(b, key, kl));
            TRY(PUTS(b, " : "));
        } else {
            /* keys of arrays are not shown, but libbson still insists they are UTF-8 */
            size_t mark = b->len;
            TRY(put_esc(b, key, kl));
            b->len = mark;
        }
        TRY(value(b, t, &q, end, depth));
    }
    if (q != end)
        return BAD;
    return is_array ? PUTS(b, " ]") : PUTS(b, " }");
}

int mno_ejson_canonical(mno_buf *out, const uint8_t *d, size_t len)
{
    size_t mark = out->len;
    int rc = doc(out, d, len, 0, 0, 1);
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
