/* bsoncmp.c: BSON values compared in MongoDB's order (type brackets, numbers across types). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

int md_canon_type(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_MINKEY: return -1;
    case BSON_TYPE_EOD:
    case BSON_TYPE_UNDEFINED: return 0;
    case BSON_TYPE_NULL: return 5;
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DECIMAL128: return 10;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: return 15;
    case BSON_TYPE_DOCUMENT: return 20;
    case BSON_TYPE_ARRAY: return 25;
    case BSON_TYPE_BINARY: return 30;
    case BSON_TYPE_OID: return 35;
    case BSON_TYPE_BOOL: return 40;
    case BSON_TYPE_DATE_TIME: return 45;
    case BSON_TYPE_TIMESTAMP: return 47;
    case BSON_TYPE_REGEX: return 50;
    case BSON_TYPE_DBPOINTER: return 55;
    case BSON_TYPE_CODE: return 60;
    case BSON_TYPE_CODEWSCOPE: return 65;
    case BSON_TYPE_MAXKEY: return 127;
    default: return 200;
    }
}

/* A Decimal128 value taken apart: sign * coef * 10^exp, or an infinity or NaN. */
typedef struct dec {
    int kind; /* 0 finite, 1 infinity, 2 NaN */
    bool neg;
    unsigned __int128 coef;
    int exp;
} dec;

static dec dec_from_bits(uint64_t high, uint64_t low)
{
    dec d = { 0, (high >> 63) != 0, 0, 0 };
    if (((high >> 61) & 3) == 3) {
        uint64_t comb = (high >> 58) & 0x1f;
        if (comb == 0x1e) {
            d.kind = 1;
            return d;
        }
        if (comb == 0x1f) {
            d.kind = 2;
            return d;
        }
        /* the large-coefficient form is always above 10^34 - 1: non-canonical, read as 0 */
        d.exp = (int)((high >> 47) & 0x3fff) - 6176;
        return d;
    }
    d.exp = (int)((high >> 49) & 0x3fff) - 6176;
    d.coef = ((unsigned __int128)(high & 0x1ffffffffffffULL) << 64) | low;
    static const unsigned __int128 max = (((unsigned __int128)0x1ed09bead87c0ULL) << 64) | 0x378d8e63ffffffffULL;
    if (d.coef > max) /* above 10^34 - 1: non-canonical, read as 0 */
        d.coef = 0;
    return d;
}

static dec dec_from_iter(const bson_iter_t *it)
{
    bson_type_t t = bson_iter_type(it);
    if (t == BSON_TYPE_DECIMAL128) {
        bson_decimal128_t v;
        bson_iter_decimal128(it, &v);
        return dec_from_bits(v.high, v.low);
    }
    if (t == BSON_TYPE_DOUBLE) {
        double x = bson_iter_double(it);
        dec d = { 0, signbit(x) != 0, 0, 0 };
        if (isnan(x)) {
            d.kind = 2;
            return d;
        }
        if (isinf(x)) {
            d.kind = 1;
            return d;
        }
        /* 34 significant digits: exact for every double that a decimal can equal */
        char s[64];
        bson_decimal128_t v;
        snprintf(s, sizeof s, "%.33e", x);
        if (!bson_decimal128_from_string(s, &v))
            return d;
        return dec_from_bits(v.high, v.low);
    }
    int64_t i = bson_iter_as_int64(it);
    dec d = { 0, i < 0, 0, 0 };
    d.coef = i < 0 ? (unsigned __int128)(-(i + 1)) + 1 : (unsigned __int128)i;
    return d;
}

static int ndigits(unsigned __int128 v)
{
    int n = 0;
    while (v) {
        v /= 10;
        n++;
    }
    return n;
}

/* Compares magnitudes of two finite non-zero decimals. */
static int dec_cmp_mag(const dec *a, const dec *b)
{
    int da = ndigits(a->coef), db = ndigits(b->coef);
    int ta = da + a->exp, tb = db + b->exp; /* the position of the leading digit */
    if (ta != tb)
        return ta < tb ? -1 : 1;
    unsigned __int128 x = a->coef, y = b->coef;
    /* scale the one with the larger exponent: it has fewer digits, so the result still fits */
    for (int k = a->exp; k > b->exp; k--)
        x *= 10;
    for (int k = b->exp; k > a->exp; k--)
        y *= 10;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* MongoDB's order: NaN below everything, then -inf, finite values, +inf; -0 == 0. */
static int dec_cmp(const dec *a, const dec *b)
{
    if (a->kind == 2 || b->kind == 2)
        return a->kind == 2 && b->kind == 2 ? 0 : a->kind == 2 ? -1 : 1;
    int sa = a->kind == 1 ? (a->neg ? -2 : 2) : a->coef == 0 ? 0 : a->neg ? -1 : 1;
    int sb = b->kind == 1 ? (b->neg ? -2 : 2) : b->coef == 0 ? 0 : b->neg ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0 || sa == 2 || sa == -2)
        return 0;
    int c = dec_cmp_mag(a, b);
    return sa < 0 ? -c : c;
}

/* int64 vs double, exactly; NaN sorts below every number. */
static int cmp_i64_dbl(int64_t i, double d)
{
    if (isnan(d))
        return 1;
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d; /* truncates toward zero */
    if (i < t)
        return -1;
    if (i > t)
        return 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_numbers(const bson_iter_t *a, const bson_iter_t *b)
{
    bson_type_t ta = bson_iter_type(a), tb = bson_iter_type(b);
    if (ta == BSON_TYPE_DECIMAL128 || tb == BSON_TYPE_DECIMAL128) {
        dec x = dec_from_iter(a), y = dec_from_iter(b);
        return dec_cmp(&x, &y);
    }
    if (ta == BSON_TYPE_DOUBLE && tb == BSON_TYPE_DOUBLE) {
        double x = bson_iter_double(a), y = bson_iter_double(b);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y) ? 0 : isnan(x) ? -1 : 1;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (ta == BSON_TYPE_DOUBLE)
        return -cmp_i64_dbl(bson_iter_as_int64(b), bson_iter_double(a));
    if (tb == BSON_TYPE_DOUBLE)
        return cmp_i64_dbl(bson_iter_as_int64(a), bson_iter_double(b));
    int64_t x = bson_iter_as_int64(a), y = bson_iter_as_int64(b);
    return x < y ? -1 : x > y ? 1 : 0;
}

static int cmp_bytes(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static int cmp_str(const bson_iter_t *a, const bson_iter_t *b)
{
    uint32_t al = 0, bl = 0;
    const char *x, *y;
    x = bson_iter_type(a) == BSON_TYPE_SYMBOL ? bson_iter_symbol(a, &al) : bson_iter_utf8(a, &al);
    y = bson_iter_type(b) == BSON_TYPE_SYMBOL ? bson_iter_symbol(b, &bl) : bson_iter_utf8(b, &bl);
    return cmp_bytes(x, al, y, bl);
}

int md_cmp_doc(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, bool ignore_names)
{
    bson_iter_t x, y;
    if (!bson_iter_init_from_data(&x, a, alen) || !bson_iter_init_from_data(&y, b, blen))
        return cmp_bytes(a, alen, b, blen);
    for (;;) {
        bool nx = bson_iter_next(&x), ny = bson_iter_next(&y);
        if (!nx || !ny)
            return nx ? 1 : ny ? -1 : 0;
        int c = md_canon_type(bson_iter_type(&x)) - md_canon_type(bson_iter_type(&y));
        if (c)
            return c < 0 ? -1 : 1;
        if (!ignore_names) {
            c = strcmp(bson_iter_key(&x), bson_iter_key(&y));
            if (c)
                return c < 0 ? -1 : 1;
        }
        c = md_cmp_iter(&x, &y);
        if (c)
            return c;
    }
}

int md_cmp_iter(const bson_iter_t *a, const bson_iter_t *b)
{
    bson_type_t ta = bson_iter_type(a), tb = bson_iter_type(b);
    int ca = md_canon_type(ta), cb = md_canon_type(tb);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    switch (ca) {
    case -1: case 0: case 5: case 127:
        return 0;
    case 10:
        return cmp_numbers(a, b);
    case 15:
        return cmp_str(a, b);
    case 20:
    case 25: {
        uint32_t al, bl;
        const uint8_t *x, *y;
        if (ta == BSON_TYPE_DOCUMENT)
            bson_iter_document(a, &al, &x);
        else
            bson_iter_array(a, &al, &x);
        if (tb == BSON_TYPE_DOCUMENT)
            bson_iter_document(b, &bl, &y);
        else
            bson_iter_array(b, &bl, &y);
        return md_cmp_doc(x, al, y, bl, false);
    }
    case 30: {
        bson_subtype_t sa, sb;
        uint32_t al, bl;
        const uint8_t *x, *y;
        bson_iter_binary(a, &sa, &al, &x);
        bson_iter_binary(b, &sb, &bl, &y);
        if (al != bl)
            return al < bl ? -1 : 1;
        if (sa != sb)
            return sa < sb ? -1 : 1;
        return cmp_bytes(x, al, y, bl);
    }
    case 35:
        return bson_oid_compare(bson_iter_oid(a), bson_iter_oid(b)) < 0 ? -1
             : bson_oid_compare(bson_iter_oid(a), bson_iter_oid(b)) > 0 ? 1 : 0;
    case 40:
        return (int)bson_iter_bool(a) - (int)bson_iter_bool(b);
    case 45: {
        int64_t x = bson_iter_date_time(a), y = bson_iter_date_time(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    case 47: {
        uint32_t t1, i1, t2, i2;
        bson_iter_timestamp(a, &t1, &i1);
        bson_iter_timestamp(b, &t2, &i2);
        if (t1 != t2)
            return t1 < t2 ? -1 : 1;
        return i1 < i2 ? -1 : i1 > i2 ? 1 : 0;
    }
    case 50: {
        const char *o1, *o2;
        const char *r1 = bson_iter_regex(a, &o1), *r2 = bson_iter_regex(b, &o2);
        int c = strcmp(r1, r2);
        if (!c)
            c = strcmp(o1, o2);
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case 55: {
        uint32_t l1, l2;
        const char *c1, *c2;
        const bson_oid_t *x, *y;
        bson_iter_dbpointer(a, &l1, &c1, &x);
        bson_iter_dbpointer(b, &l2, &c2, &y);
        int c = cmp_bytes(c1, l1, c2, l2);
        return c ? c : bson_oid_compare(x, y) < 0 ? -1 : bson_oid_compare(x, y) > 0 ? 1 : 0;
    }
    case 60: {
        uint32_t l1, l2;
        const char *x = bson_iter_code(a, &l1), *y = bson_iter_code(b, &l2);
        return cmp_bytes(x, l1, y, l2);
    }
    case 65: {
        uint32_t l1, l2, s1, s2;
        const uint8_t *d1, *d2;
        const char *x = bson_iter_codewscope(a, &l1, &s1, &d1);
        const char *y = bson_iter_codewscope(b, &l2, &s2, &d2);
        int c = cmp_bytes(x, l1, y, l2);
        return c ? c : md_cmp_doc(d1, s1, d2, s2, false);
    }
    default:
        return 0;
    }
}

void md_value_text(bson_string_t *s, const bson_iter_t *it)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
        bson_string_append_printf(s, "%d", bson_iter_int32(it));
        return;
    case BSON_TYPE_INT64:
        bson_string_append_printf(s, "%lld", (long long)bson_iter_int64(it));
        return;
    case BSON_TYPE_DOUBLE:
        bson_string_append_printf(s, "%.17g", bson_iter_double(it));
        return;
    case BSON_TYPE_UTF8:
        bson_string_append_printf(s, "\"%s\"", bson_iter_utf8(it, NULL));
        return;
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(it), hex);
        bson_string_append_printf(s, "ObjectId('%s')", hex);
        return;
    }
    case BSON_TYPE_NULL:
        bson_string_append(s, "null");
        return;
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t d;
        char str[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &d);
        bson_decimal128_to_string(&d, str);
        bson_string_append_printf(s, "NumberDecimal(\"%s\")", str);
        return;
    }
    default: {
        bson_t tmp = BSON_INITIALIZER;
        bson_append_iter(&tmp, "v", 1, it);
        char *j = bson_as_relaxed_extended_json(&tmp, NULL);
        /* j is { "v" : X }: keep X */
        size_t n = strlen(j);
        if (n > 10)
            bson_string_append_printf(s, "%.*s", (int)(n - 10), j + 8);
        bson_free(j);
        bson_destroy(&tmp);
    }
    }
}
