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

static int cmp3(long double a, long double b) { return a < b ? -1 : a > b ? 1 : 0; }

static long double dec_to_ld(const bson_iter_t *it)
{
    bson_decimal128_t d;
    char s[BSON_DECIMAL128_STRING];
    bson_iter_decimal128(it, &d);
    bson_decimal128_to_string(&d, s);
    return strtold(s, NULL);
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
        long double x = ta == BSON_TYPE_DECIMAL128 ? dec_to_ld(a) : ta == BSON_TYPE_DOUBLE ? bson_iter_double(a) : (long double)bson_iter_as_int64(a);
        long double y = tb == BSON_TYPE_DECIMAL128 ? dec_to_ld(b) : tb == BSON_TYPE_DOUBLE ? bson_iter_double(b) : (long double)bson_iter_as_int64(b);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y) ? 0 : isnan(x) ? -1 : 1;
        return cmp3(x, y);
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
