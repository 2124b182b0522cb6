/* engine_mongo_json.c: canonical Extended JSON v2 (a jansson tree) to BSON in one walk, byte-identical to libbson's parser; anything else is left to libbson. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine_mongo_json.h"

/*
 * The reader (lib/stream.c) has every record line parsed by jansson already; printing the
 * record again and handing the text to bson_new_from_json took two thirds of a MongoDB
 * restore's time. This walks the tree instead. It knows exactly the canonical forms
 * (https://github.com/mongodb/specifications, extended-json.md, "Canonical") and returns
 * FALLBACK for anything else, so libbson stays the judge of every other input.
 */

#define FALLBACK 1

static int doc_body(const json_t *obj, bson_t *out);
static int value(const json_t *v, const char *key, int keylen, bson_t *out);

/* s is -?[0-9]+ and fits: *out set. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p || strspn(p, "0123456789") != strlen(p))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The only member of a one-member object, its key in *key; NULL when the object has another size. */
static const json_t *only(const json_t *o, const char **key)
{
    if (json_object_size(o) != 1)
        return NULL;
    void *it = json_object_iter((json_t *)o);
    *key = json_object_iter_key(it);
    return json_object_iter_value(it);
}

/* A JSON string without NUL inside (for BSON cstrings). */
static const char *cstr(const json_t *s)
{
    const char *v = json_string_value(s);
    return v && strlen(v) == json_string_length(s) ? v : NULL;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict base64 (padded, as libbson writes it) into out (size >= 3 * len / 4); *n bytes. */
static int b64_decode(const char *s, size_t len, uint8_t *out, size_t *n)
{
    size_t k = 0;
    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int a = b64val(s[i]), b = b64val(s[i + 1]);
        int pad = (s[i + 3] == '=') + (s[i + 2] == '=' && s[i + 3] == '=');
        if (a < 0 || b < 0 || (pad && i + 4 != len))
            return -1;
        int c = pad >= 2 ? 0 : b64val(s[i + 2]), d = pad >= 1 ? 0 : b64val(s[i + 3]);
        if (c < 0 || d < 0)
            return -1;
        uint32_t w = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[k++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[k++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[k++] = (uint8_t)w;
    }
    *n = k;
    return 0;
}

static int is_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* An object whose keys start with '$': one of the canonical wrappers, appended as key. */
static int wrapper(const json_t *o, const char *key, int keylen, bson_t *out)
{
    const char *k;
    const json_t *w = only(o, &k);
    if (w) {
        const char *s = json_string_value(w);
        if (!strcmp(k, "$oid") && s && is_hex(s, 24)) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, s);
            return bson_append_oid(out, key, keylen, &oid) ? 0 : -1;
        }
        if (!strcmp(k, "$numberInt") && s) {
            long long v;
            if (parse_int(s, INT32_MIN, INT32_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_int32(out, key, keylen, (int32_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$numberLong") && s) {
            long long v;
            if (parse_int(s, INT64_MIN, INT64_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_int64(out, key, keylen, (int64_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$numberDouble") && s) {
            double d;
            if (!strcmp(s, "Infinity"))
                d = INFINITY;
            else if (!strcmp(s, "-Infinity"))
                d = -INFINITY;
            else if (!strcmp(s, "NaN"))
                d = NAN;
            else {
                char *end;
                if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
                    return FALLBACK;
                errno = 0;
                d = strtod(s, &end);
                /* ERANGE on underflow still gives the subnormal (5e-324), as libbson takes it */
                if (*end || (errno == ERANGE && fabs(d) >= 1.0))
                    return FALLBACK;
            }
            return bson_append_double(out, key, keylen, d) ? 0 : -1;
        }
        if (!strcmp(k, "$numberDecimal") && s) {
            bson_decimal128_t dec;
            if (!bson_decimal128_from_string(s, &dec))
                return FALLBACK;
            return bson_append_decimal128(out, key, keylen, &dec) ? 0 : -1;
        }
        if (!strcmp(k, "$symbol") && s)
            return bson_append_symbol(out, key, keylen, s, (int)json_string_length(w)) ? 0 : -1;
        if (!strcmp(k, "$code") && (s = cstr(w)))
            return bson_append_code(out, key, keylen, s) ? 0 : -1;
        if (!strcmp(k, "$minKey") && json_integer_value(w) == 1 && json_is_integer(w))
            return bson_append_minkey(out, key, keylen) ? 0 : -1;
        if (!strcmp(k, "$maxKey") && json_integer_value(w) == 1 && json_is_integer(w))
            return bson_append_maxkey(out, key, keylen) ? 0 : -1;
        if (!strcmp(k, "$undefined") && json_is_true(w))
            return bson_append_undefined(out, key, keylen) ? 0 : -1;
        if (!strcmp(k, "$date") && json_is_object(w)) {
            const char *k2;
            const json_t *n = only(w, &k2);
            long long v;
            if (!n || strcmp(k2, "$numberLong") || !json_is_string(n) ||
                parse_int(json_string_value(n), INT64_MIN, INT64_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_date_time(out, key, keylen, (int64_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$timestamp") && json_is_object(w) && json_object_size(w) == 2) {
            const json_t *t = json_object_get(w, "t"), *i = json_object_get(w, "i");
            if (!json_is_integer(t) || !json_is_integer(i) || json_integer_value(t) < 0 ||
                json_integer_value(t) > UINT32_MAX || json_integer_value(i) < 0 ||
                json_integer_value(i) > UINT32_MAX)
                return FALLBACK;
            return bson_append_timestamp(out, key, keylen, (uint32_t)json_integer_value(t),
                                         (uint32_t)json_integer_value(i)) ? 0 : -1;
        }
        if (!strcmp(k, "$regularExpression") && json_is_object(w) && json_object_size(w) == 2) {
            const char *p = cstr(json_object_get(w, "pattern")), *opt = cstr(json_object_get(w, "options"));
            if (!p || !opt)
                return FALLBACK;
            return bson_append_regex(out, key, keylen, p, opt) ? 0 : -1;
        }
        if (!strcmp(k, "$binary") && json_is_object(w) && json_object_size(w) == 2) {
            const json_t *b = json_object_get(w, "base64");
            const char *st = json_string_value(json_object_get(w, "subType"));
            const char *bs = json_string_value(b);
            if (!bs || !st || !(is_hex(st, 1) || is_hex(st, 2)))
                return FALLBACK;
            size_t len = json_string_length(b), n;
            uint8_t *buf = malloc(len / 4 * 3 + 1);
            if (!buf)
                return -1;
            int rc = FALLBACK;
            if (b64_decode(bs, len, buf, &n) == 0) {
                bson_subtype_t sub = (bson_subtype_t)strtol(st, NULL, 16);
                rc = bson_append_binary(out, key, keylen, sub, buf, (uint32_t)n) ? 0 : -1;
            }
            free(buf);
            return rc;
        }
        if (!strcmp(k, "$dbPointer") && json_is_object(w) && json_object_size(w) == 2) {
            const char *ref = cstr(json_object_get(w, "$ref")), *k3;
            const json_t *id = json_object_get(w, "$id");
            const json_t *hex = id ? only(id, &k3) : NULL;
            if (!ref || !hex || strcmp(k3, "$oid") || !json_is_string(hex) || !is_hex(json_string_value(hex), 24))
                return FALLBACK;
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, json_string_value(hex));
            return bson_append_dbpointer(out, key, keylen, ref, &oid) ? 0 : -1;
        }
        return FALLBACK;
    }
    if (json_object_size(o) == 2) {
        const char *code = cstr(json_object_get(o, "$code"));
        const json_t *scope = json_object_get(o, "$scope");
        if (code && json_is_object(scope)) {
            bson_t sc = BSON_INITIALIZER;
            int rc = doc_body(scope, &sc);
            if (rc == 0)
                rc = bson_append_code_with_scope(out, key, keylen, code, &sc) ? 0 : -1;
            bson_destroy(&sc);
            return rc;
        }
    }
    return FALLBACK;
}

static int has_dollar_key(const json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (k[0] == '$')
            return 1;
    }
    return 0;
}

static int value(const json_t *v, const char *key, int keylen, bson_t *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return bson_append_utf8(out, key, keylen, json_string_value(v), (int)json_string_length(v)) ? 0 : -1;
    case JSON_TRUE:
        return bson_append_bool(out, key, keylen, true) ? 0 : -1;
    case JSON_FALSE:
        return bson_append_bool(out, key, keylen, false) ? 0 : -1;
    case JSON_NULL:
        return bson_append_null(out, key, keylen) ? 0 : -1;
    case JSON_OBJECT: {
        if (has_dollar_key(v))
            return wrapper(v, key, keylen, out);
        bson_t child;
        if (!bson_append_document_begin(out, key, keylen, &child))
            return -1;
        int rc = doc_body(v, &child);
        if (!bson_append_document_end(out, &child))
            return -1;
        return rc;
    }
    case JSON_ARRAY: {
        bson_t child;
        char buf[16];
        const char *k;
        if (!bson_append_array_begin(out, key, keylen, &child))
            return -1;
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < json_array_size(v); i++) {
            uint32_t kn = bson_uint32_to_string((uint32_t)i, &k, buf, sizeof buf);
            rc = value(json_array_get(v, i), k, (int)kn, &child);
        }
        if (!bson_append_array_end(out, &child))
            return -1;
        return rc;
    }
    default:
        /* bare numbers are relaxed Extended JSON: libbson's rules decide their type */
        return FALLBACK;
    }
}

static int doc_body(const json_t *obj, bson_t *out)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)obj, k, klen, v) {
        if (strlen(k) != klen || k[0] == '$')
            return FALLBACK;
        int rc = value(v, k, (int)klen, out);
        if (rc)
            return rc;
    }
    return 0;
}

int mno_json_to_bson(const json_t *v, bson_t *out)
{
    if (!json_is_object(v) || has_dollar_key(v))
        return FALLBACK;
    int rc = doc_body(v, out);
    return rc == 0 ? 0 : FALLBACK;
}
