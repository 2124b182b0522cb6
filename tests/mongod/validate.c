/* validate.c: structural BSON validation of incoming documents (lengths, types, terminators),
   as mongod does by default: no UTF-8 check, so strings are stored exactly as sent. */
#include <string.h>
#include "mongod.h"

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return BSON_UINT32_FROM_LE(v);
}

/* A string value at p (int32 length incl. the NUL, bytes, NUL) within n bytes; its size or 0. */
static uint64_t str_size(const uint8_t *p, uint64_t n)
{
    if (n < 5)
        return 0;
    uint64_t l = le32(p);
    if (l < 1 || 4 + l > n || p[4 + l - 1] != 0)
        return 0;
    return 4 + l;
}

/* A NUL-terminated name at p within n bytes; its size with the NUL, or 0. */
static uint64_t cstr_size(const uint8_t *p, uint64_t n)
{
    const uint8_t *z = memchr(p, 0, n);
    return z ? (uint64_t)(z - p) + 1 : 0;
}

static bool valid(const uint8_t *p, uint64_t n, int depth)
{
    if (n < 5 || le32(p) != n || p[n - 1] != 0 || depth > 200)
        return false;
    uint64_t i = 4, end = n - 1;
    while (i < end) {
        uint8_t t = p[i++];
        uint64_t k = cstr_size(p + i, end - i), v = 0, rest;
        if (!k)
            return false;
        i += k;
        rest = end - i;
        switch (t) {
        case BSON_TYPE_DOUBLE: case BSON_TYPE_DATE_TIME: case BSON_TYPE_TIMESTAMP: case BSON_TYPE_INT64:
            v = 8;
            break;
        case BSON_TYPE_INT32:
            v = 4;
            break;
        case BSON_TYPE_DECIMAL128:
            v = 16;
            break;
        case BSON_TYPE_OID:
            v = 12;
            break;
        case BSON_TYPE_BOOL:
            if (rest < 1 || p[i] > 1)
                return false;
            v = 1;
            break;
        case BSON_TYPE_NULL: case BSON_TYPE_UNDEFINED: case BSON_TYPE_MINKEY: case BSON_TYPE_MAXKEY:
            v = 0;
            break;
        case BSON_TYPE_UTF8: case BSON_TYPE_CODE: case BSON_TYPE_SYMBOL:
            if (!(v = str_size(p + i, rest)))
                return false;
            break;
        case BSON_TYPE_DOCUMENT: case BSON_TYPE_ARRAY:
            if (rest < 5)
                return false;
            v = le32(p + i);
            if (v > rest || !valid(p + i, v, depth + 1))
                return false;
            break;
        case BSON_TYPE_BINARY:
            if (rest < 5)
                return false;
            v = 5 + (uint64_t)le32(p + i);
            if (le32(p + i) > INT32_MAX)
                return false;
            break;
        case BSON_TYPE_REGEX: {
            uint64_t a = cstr_size(p + i, rest), b;
            if (!a || !(b = cstr_size(p + i + a, rest - a)))
                return false;
            v = a + b;
            break;
        }
        case BSON_TYPE_DBPOINTER:
            if (!(v = str_size(p + i, rest)))
                return false;
            v += 12;
            break;
        case BSON_TYPE_CODEWSCOPE: {
            if (rest < 4 + 5 + 5)
                return false;
            v = le32(p + i);
            uint64_t s = str_size(p + i + 4, rest - 4);
            if (v > rest || !s || 4 + s + 5 > v || !valid(p + i + 4 + s, v - 4 - s, depth + 1))
                return false;
            break;
        }
        default:
            return false;
        }
        if (v > rest)
            return false;
        i += v;
    }
    return i == end;
}

bool md_bson_valid(const uint8_t *data, uint32_t len)
{
    return valid(data, len, 0);
}
