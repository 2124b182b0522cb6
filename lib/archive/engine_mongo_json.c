/* engine_mongo_json.c: canonical Extended JSON v2 (a jansson tree) to BSON in one walk, byte-identical to libbson's parser; anything else is left to libbson. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "utf8.h"
#include "engine_mongo_json.h"
#include "buf.h"

/*
 * The reader (lib/archive/stream.c) has every record line parsed by jansson already; printing the
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
        /* the bits padding leaves over must be zero (libbson refuses "NZ7RrkvDrqFNHAf=") */
        if (c < 0 || d < 0 || (pad == 1 && (c & 3)) || (pad == 2 && (b & 15)))
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

/* A code (scope NULL) or code-with-scope value s[0..n) appended to el as key (keylen bytes):
   libbson's appenders (bson_append_code*, bson_append_iter) take the code as a C string and
   would cut it at a NUL. 0 or -1. */
static int code_element(bson_t *el, const char *key, int keylen, const char *s, size_t n, const bson_t *scope)
{
    size_t sl = scope ? scope->len : 0, kl = keylen < 0 ? strlen(key) : (size_t)keylen;
    size_t vlen = (scope ? 8 : 4) + n + 1 + sl, len = 4 + 1 + kl + 1 + vlen + 1;
    if (n > INT32_MAX / 2 || len > INT32_MAX)
        return -1;
    uint8_t *b = malloc(len), *o = b;
    if (!b)
        return -1;
    uint32_t w = (uint32_t)len;
    memcpy(o, &w, 4); /* BSON is little-endian; so is every machine this builds on (x86-64, arm64) */
    o += 4;
    *o++ = scope ? 0x0F : 0x0D;
    memcpy(o, key, kl);
    o += kl;
    *o++ = '\0';
    if (scope) {
        w = (uint32_t)vlen;
        memcpy(o, &w, 4);
        o += 4;
    }
    w = (uint32_t)(n + 1);
    memcpy(o, &w, 4);
    o += 4;
    memcpy(o, s, n);
    o += n;
    *o++ = '\0';
    if (scope) {
        memcpy(o, bson_get_data(scope), sl);
        o += sl;
    }
    *o++ = '\0';
    bson_t tmp;
    int rc = bson_init_static(&tmp, b, len) && bson_concat(el, &tmp) ? 0 : -1;
    free(b);
    return rc;
}

/* An object whose keys start with '$': one of the canonical wrappers, appended as key. */
static int wrapper(const json_t *o, const char *key, int keylen, bson_t *out)
{
    const char *k;
    const json_t *w = only(o, &k);
    if (w) {
        const char *s = json_string_value(w);
        /* a number, ObjectId or date with NUL inside: libbson decides (it refuses them) */
        const char *c = cstr(w);
        if (!strcmp(k, "$oid") && c && is_hex(c, 24)) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, s);
            return bson_append_oid(out, key, keylen, &oid) ? 0 : -1;
        }
        if (!strcmp(k, "$numberInt") && c) {
            long long v;
            if (parse_int(c, INT32_MIN, INT32_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_int32(out, key, keylen, (int32_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$numberLong") && c) {
            long long v;
            if (parse_int(c, INT64_MIN, INT64_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_int64(out, key, keylen, (int64_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$numberDouble") && c) {
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
        if (!strcmp(k, "$numberDecimal") && c) {
            bson_decimal128_t dec;
            if (!bson_decimal128_from_string(s, &dec))
                return FALLBACK;
            return bson_append_decimal128(out, key, keylen, &dec) ? 0 : -1;
        }
        if (!strcmp(k, "$symbol") && s)
            return bson_append_symbol(out, key, keylen, s, (int)json_string_length(w)) ? 0 : -1;
        if (!strcmp(k, "$code") && s) {
            return code_element(out, key, keylen, s, json_string_length(w), NULL);
        }
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
            if (!n || strcmp(k2, "$numberLong") || !cstr(n) ||
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
        const json_t *cj = json_object_get(o, "$code");
        const char *code = json_string_value(cj);
        const json_t *scope = json_object_get(o, "$scope");
        if (code && json_is_object(scope)) {
            bson_t sc = BSON_INITIALIZER;
            int rc = doc_body(scope, &sc);
            if (rc == 0)
                rc = code_element(out, key, keylen, code, json_string_length(cj), &sc);
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

/* ---- from the text: the reader's fast path for record lines ---- */

/*
 * A recursive-descent parser of JSON text that writes BSON bytes as it goes, straight into
 * a byte buffer (no bson_t, no copies of strings through a scratch buffer), knowing the
 * canonical wrappers in the order libbson and lib/archive/ejson.c print their members. Anything
 * else (relaxed numbers, other member orders, invalid text) is FALLBACK: the reader then
 * takes its general path (jansson, libbson), which also words any error. The record's sum
 * is checked against the archive's end line either way. What it makes is what the tree path
 * above makes of the same text: libbson's bytes, except where libbson's parser mis-reads
 * canonical text (a code-with-scope value as an array element gets a bad key; "$code" inside
 * a scope stays a plain key), where both give the document that was printed (tests/unit/
 * test_ejson_parse.c). The rare wrappers (binary, regular
 * expression, code, symbol, DBPointer) are appended by libbson itself, so its rules (sorted
 * regex options, binary subtype 2's inner length) hold by construction.
 */
typedef struct txt {
    const char *p, *end;
    mno_buf *o;         /* output: BSON bytes appended at o->len */
    int depth;          /* '{' and '[' open around the value being read, the document's own not counted */
} txt;

/* libbson's parser refuses text nested deeper than this (its JSON tokenizer's limit), the
   inner braces of wrappers ($date, $binary, ...) and a $scope's included */
#define MAX_DEPTH 97
/* 1 when k more levels below the current one would be deeper than libbson goes. */
#define TOO_DEEP(t, k) ((t)->depth + (k) > MAX_DEPTH)
#define T_DOUBLE 0x01
#define T_UTF8 0x02
#define T_DOC 0x03
#define T_ARRAY 0x04
#define T_UNDEFINED 0x06
#define T_OID 0x07
#define T_BOOL 0x08
#define T_DATE 0x09
#define T_NULL 0x0A
#define T_INT32 0x10
#define T_TIMESTAMP 0x11
#define T_INT64 0x12
#define T_DECIMAL 0x13
#define T_MAXKEY 0x7F
#define T_MINKEY 0xFF

/* Room for n more bytes at o->len (and mno_buf's NUL). 0 or -1. */
static inline int room(txt *t, size_t n)
{
    mno_buf *b = t->o;
    return b->len + n + 1 <= b->cap ? 0 : mno_buf_grow(b, n);
}

static inline void put32(char *p, uint32_t v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)(v >> 8 & 0xff);
    p[2] = (char)(v >> 16 & 0xff);
    p[3] = (char)(v >> 24 & 0xff);
}

static inline void put64(char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Appends n bytes (room made by the caller). */
static inline void emit(txt *t, const void *p, size_t n)
{
    memcpy(t->o->data + t->o->len, p, n);
    t->o->len += n;
}

static int emit64(txt *t, uint64_t v)
{
    if (room(t, 8) < 0)
        return -1;
    put64(t->o->data + t->o->len, v);
    t->o->len += 8;
    return 0;
}

static inline void ws(txt *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

static inline int lit(txt *t, char c)
{
    ws(t);
    if (t->p < t->end && *t->p == c) {
        t->p++;
        return 1;
    }
    return 0;
}

static int hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

/* 1 when none of the 8 bytes of x is '"', '\\' or < 0x20 (word-at-a-time tests, exact for "any"). */
static inline int plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t lt = (x - ones * 0x20) & ~x & high;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    q = (q - ones) & ~q & high;
    bs = (bs - ones) & ~bs & high;
    return !(lt | q | bs);
}

/* s[0..n) is UTF-8 as strict as jansson's check, which the general path applies first: no
   overlong form (not even C0 80, which bson_utf8_validate takes for NUL), no surrogate,
   nothing past U+10FFFF, nothing cut short. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = mno_utf8_len(s + i, n - i)))
            return 0;
    return 1;
}

/*
 * A JSON string, decoded and appended at o->len (not NUL-terminated; o->len advanced by
 * *n). *nul: it holds a NUL. Invalid UTF-8 is FALLBACK (the general path refuses it), as
 * utf8_ok judges it. 0, FALLBACK or -1.
 */
static int str(txt *t, size_t *n, int *nul)
{
    ws(t);
    if (t->p >= t->end || *t->p != '"')
        return FALLBACK;
    const char *p = t->p + 1, *end = t->end;
    /* the decoded string is never longer than the text left */
    if (room(t, (size_t)(end - p) + 8) < 0)
        return -1;
    char *o0 = t->o->data + t->o->len, *o = o0;
    unsigned high = 0; /* bit 7 set: a byte >= 0x80 was copied */
    int z = 0;
    for (;;) {
        /* plain bytes (not '"', '\\', < 0x20) are copied a block at a time; a block is
           stored whole (the room above covers it while 16 bytes of text are left) */
#ifdef __SSE2__
        while (end - p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i sp = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
            sp = _mm_or_si128(sp, _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x));
            unsigned m = (unsigned)_mm_movemask_epi8(sp), h = (unsigned)_mm_movemask_epi8(x);
            _mm_storeu_si128((__m128i *)(void *)o, x);
            if (!m) {
                high |= h ? 0x80 : 0;
                o += 16;
                p += 16;
                continue;
            }
            unsigned k = (unsigned)__builtin_ctz(m);
            high |= h & ((1u << k) - 1) ? 0x80 : 0;
            o += k;
            p += k;
            break;
        }
#endif
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            if (!plain8(x))
                break;
            high |= x & 0x8080808080808080ULL ? 0x80 : 0;
            memcpy(o, &x, 8);
            o += 8;
            p += 8;
        }
        if (p >= end)
            return FALLBACK;
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20)
            return FALLBACK;
        if (c != '\\') {
            high |= c;
            *o++ = (char)c;
            p++;
            continue;
        }
        if (p + 1 >= end)
            return FALLBACK;
        char esc = p[1];
        p += 2;
        switch (esc) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if (end - p < 4 || hex4(p, &u) < 0)
                return FALLBACK;
            p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return FALLBACK;
                p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                return FALLBACK;
            }
            if (u == 0)
                z = 1;
            if (u < 0x80) {
                *o++ = (char)u;
            } else if (u < 0x800) {
                *o++ = (char)(0xC0 | u >> 6);
                *o++ = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *o++ = (char)(0xE0 | u >> 12);
                *o++ = (char)(0x80 | (u >> 6 & 0x3F));
                *o++ = (char)(0x80 | (u & 0x3F));
            } else {
                *o++ = (char)(0xF0 | u >> 18);
                *o++ = (char)(0x80 | (u >> 12 & 0x3F));
                *o++ = (char)(0x80 | (u >> 6 & 0x3F));
                *o++ = (char)(0x80 | (u & 0x3F));
            }
            if (u >= 0x80)
                high |= 0x80;
            break;
        }
        default:
            return FALLBACK;
        }
    }
    size_t k = (size_t)(o - o0);
    /* only a string with bytes >= 0x80 can be invalid UTF-8 */
    if ((high & 0x80) && !utf8_ok((const unsigned char *)o0, k))
        return FALLBACK;
    t->p = p;
    t->o->len += k;
    *n = k;
    *nul = z;
    return 0;
}

/* A string decoded past o->len and NUL-terminated there, o->len unchanged: *s points to it
   until the next append. 0, FALLBACK or -1. */
static int scratch_str(txt *t, const char **s, size_t *n, int *nul)
{
    size_t at = t->o->len;
    int rc = str(t, n, nul);
    if (rc)
        return rc;
    t->o->len = at;
    t->o->data[at + *n] = '\0'; /* str made room for the text left, the closing quote included */
    *s = t->o->data + at;
    return 0;
}

/* A string as scratch_str gives it, but pointing into the text itself when it has no escape
   and only printable ASCII (numbers, ObjectIds): then not NUL-terminated, *s[*n] is '"'. */
static int raw_str(txt *t, const char **s, size_t *n, int *nul)
{
    ws(t);
    if (t->p < t->end && *t->p == '"') {
        const char *q = t->p + 1;
        while (q < t->end && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f && *q != '"' && *q != '\\')
            q++;
        if (q < t->end && *q == '"') {
            *s = t->p + 1;
            *n = (size_t)(q - *s);
            *nul = 0;
            t->p = q + 1;
            return 0;
        }
    }
    return scratch_str(t, s, n, nul);
}

/* The next string must be exactly want (a member name), then ':'. */
static int key_is(txt *t, const char *want)
{
    const char *s;
    size_t n;
    int nul, rc = scratch_str(t, &s, &n, &nul);
    if (rc)
        return rc;
    return !nul && n == strlen(want) && memcmp(s, want, n) == 0 && lit(t, ':') ? 0 : FALLBACK;
}

/* A string without NUL, copied (caller frees). */
static int str_dup(txt *t, char **out, size_t *n)
{
    const char *s;
    int nul, rc = scratch_str(t, &s, n, &nul);
    if (rc)
        return rc;
    if (nul)
        return FALLBACK;
    if (!(*out = malloc(*n + 1)))
        return -1;
    memcpy(*out, s, *n + 1);
    return 0;
}

/* A non-negative JSON integer (for $timestamp). */
static int uint_lit(txt *t, uint32_t *v)
{
    ws(t);
    const char *q = t->p;
    uint64_t x = 0;
    while (q < t->end && *q >= '0' && *q <= '9' && q - t->p < 11)
        x = x * 10 + (uint64_t)(*q++ - '0');
    if (q == t->p || x > UINT32_MAX || (q < t->end && (*q == '.' || *q == 'e' || *q == 'E')) ||
        (q - t->p > 1 && *t->p == '0'))
        return FALLBACK;
    t->p = q;
    *v = (uint32_t)x;
    return 0;
}

/* s[0..n) is -?[0-9]+ and its value fits in [lo, hi]: *out set. 0 or -1 (as parse_int). */
static int int_text(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    uint64_t x = 0, lim;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    if (i == n)
        return -1;
    lim = neg ? (uint64_t)0 - (uint64_t)lo : (uint64_t)hi;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || x > (lim - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 0;
}

/*
 * strtod's value of s[0..n) when it is -?[0-9]+(.[0-9]+)? with at most 15 digits: the
 * digits and the power of ten are exact doubles, so one division rounds exactly as strtod
 * does (round to nearest). 0, or -1 for anything else (then strtod decides).
 */
static int simple_double(const char *s, size_t n, double *out)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = 0, digits = 0, frac = 0;
    int neg = 0, dot = 0;
    uint64_t m = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 15)
                return -1;
            m = m * 10 + (uint64_t)(c - '0');
            frac += (size_t)dot;
        } else if (c == '.' && !dot && digits) {
            dot = 1;
        } else {
            return -1;
        }
    }
    if (!digits || (dot && !frac))
        return -1;
    double d = (double)m / p10[frac];
    *out = neg ? -d : d;
    return 0;
}

/*
 * bson_decimal128_from_string's value of s[0..n) when it is -?[0-9]+(.[0-9]+)? with at most
 * 34 digits: the digits are the coefficient exactly (no rounding), the exponent minus the
 * number of fraction digits, in the BID encoding (coefficient below 2^113). 0, or -1 for
 * anything else (then libbson decides).
 */
static int simple_decimal(const char *s, size_t n, bson_decimal128_t *out)
{
    size_t i = 0;
    unsigned digits = 0, frac = 0;
    int neg = 0, dot = 0;
    unsigned __int128 c = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < n; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            if (++digits > 34)
                return -1;
            c = c * 10 + (unsigned)(ch - '0');
            frac += (unsigned)dot;
        } else if (ch == '.' && !dot && digits) {
            dot = 1;
        } else {
            return -1;
        }
    }
    if (!digits || (dot && !frac))
        return -1;
    out->high = (neg ? (uint64_t)1 << 63 : 0) | (uint64_t)(6176 - frac) << 49 | (uint64_t)(c >> 64);
    out->low = (uint64_t)c;
    return 0;
}

/* Appends the value of the one-element document el (key "") as the element at tpos. */
static int emit_element_of(txt *t, size_t tpos, const bson_t *el)
{
    const uint8_t *d = bson_get_data(el);
    if (el->len < 7 || d[5] != '\0')
        return -1;
    size_t n = el->len - 7; /* header 4, type 1, key "" 1, ..., trailing NUL 1 */
    if (room(t, n) < 0)
        return -1;
    t->o->data[tpos] = (char)d[4];
    emit(t, d + 6, n);
    return 0;
}

static int tvalue(txt *t, size_t tpos);
static int tmembers(txt *t);

/* The canonical wrappers, by their first member's name. */
enum wkind {
    W_NONE, W_OID, W_INT, W_LONG, W_DOUBLE, W_DECIMAL, W_DATE, W_SYMBOL, W_MINKEY, W_MAXKEY,
    W_UNDEFINED, W_TIMESTAMP, W_CODE, W_REGEX, W_BINARY, W_DBPOINTER
};

static enum wkind wkind_of(const char *s, size_t n)
{
#define W(s, k) {s, sizeof s - 1, k}
    static const struct {
        const char *name;
        size_t len;
        enum wkind kind;
    } w[] = {W("$numberInt", W_INT), W("$numberLong", W_LONG), W("$numberDouble", W_DOUBLE),
             W("$numberDecimal", W_DECIMAL), W("$date", W_DATE), W("$oid", W_OID), W("$symbol", W_SYMBOL),
             W("$minKey", W_MINKEY), W("$maxKey", W_MAXKEY), W("$undefined", W_UNDEFINED),
             W("$timestamp", W_TIMESTAMP), W("$code", W_CODE), W("$regularExpression", W_REGEX),
             W("$binary", W_BINARY), W("$dbPointer", W_DBPOINTER)};
#undef W
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (w[i].len == n && memcmp(w[i].name, s, n) == 0)
            return w[i].kind;
    return W_NONE;
}

/* Exactly n hex digits. */
static int hex_n(const char *s, size_t len, size_t n)
{
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* After '{' and a first member name starting with '$' (kind): the wrapper's rest, its
   value appended as the element whose type byte is at tpos. */
static int twrapper(txt *t, enum wkind kind, size_t tpos)
{
    int rc = 0, nul;
    size_t n, m;
    const char *s;
    char *a = NULL, *b = NULL;
    bson_t el = BSON_INITIALIZER;
    if (!lit(t, ':'))
        return FALLBACK;
    if (kind == W_INT || kind == W_LONG || kind == W_DATE) {
        int is_date = kind == W_DATE;
        int64_t v;
        if (is_date && (TOO_DEEP(t, 1) || !lit(t, '{') || (rc = key_is(t, "$numberLong"))))
            return rc ? rc : FALLBACK;
        if ((rc = raw_str(t, &s, &n, &nul)))
            return rc;
        int lim32 = kind == W_INT;
        if (nul || int_text(s, n, lim32 ? INT32_MIN : INT64_MIN, lim32 ? INT32_MAX : INT64_MAX, &v) < 0 ||
            !lit(t, '}') || (is_date && !lit(t, '}')))
            return FALLBACK;
        t->o->data[tpos] = (char)(is_date ? T_DATE : lim32 ? T_INT32 : T_INT64);
        if (!lim32)
            return emit64(t, (uint64_t)v);
        if (room(t, 4) < 0)
            return -1;
        put32(t->o->data + t->o->len, (uint32_t)(int32_t)v);
        t->o->len += 4;
        return 0;
    }
    if (kind == W_DOUBLE) {
        double d;
        if ((rc = raw_str(t, &s, &n, &nul)))
            return rc;
        if (nul)
            return FALLBACK;
        if (simple_double(s, n, &d) == 0) {
            /* the common case */
        } else if (n == 8 && !memcmp(s, "Infinity", 8)) {
            d = INFINITY;
        } else if (n == 9 && !memcmp(s, "-Infinity", 9)) {
            d = -INFINITY;
        } else if (n == 3 && !memcmp(s, "NaN", 3)) {
            d = NAN;
        } else {
            char num[512], *endp;
            if (!n || n >= sizeof num)
                return FALLBACK;
            for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789.eE+-", s[i]))
                    return FALLBACK;
            memcpy(num, s, n);
            num[n] = '\0';
            errno = 0;
            d = strtod(num, &endp);
            /* ERANGE on underflow still gives the subnormal (5e-324), as libbson takes it */
            if (*endp || (errno == ERANGE && fabs(d) >= 1.0))
                return FALLBACK;
        }
        if (!lit(t, '}'))
            return FALLBACK;
        uint64_t bits;
        memcpy(&bits, &d, 8);
        t->o->data[tpos] = T_DOUBLE;
        return emit64(t, bits);
    }
    if (kind == W_DECIMAL) {
        bson_decimal128_t dec;
        if ((rc = raw_str(t, &s, &n, &nul)))
            return rc;
        char num[128]; /* bson_decimal128_from_string_w_len refuses "NaN" and "Inf" followed by more text */
        if (nul)
            return FALLBACK;
        if (simple_decimal(s, n, &dec) < 0) {
            if (n >= sizeof num)
                return FALLBACK;
            memcpy(num, s, n);
            num[n] = '\0';
            if (!bson_decimal128_from_string(num, &dec))
                return FALLBACK;
        }
        if (!lit(t, '}'))
            return FALLBACK;
        t->o->data[tpos] = T_DECIMAL;
        return emit64(t, dec.low) < 0 || emit64(t, dec.high) < 0 ? -1 : 0;
    }
    if (kind == W_OID) {
        bson_oid_t oid;
        if ((rc = raw_str(t, &s, &n, &nul)))
            return rc;
        if (nul || !hex_n(s, n, 24) || !lit(t, '}'))
            return FALLBACK;
        bson_oid_init_from_string(&oid, s);
        if (room(t, 12) < 0)
            return -1;
        t->o->data[tpos] = T_OID;
        emit(t, oid.bytes, 12);
        return 0;
    }
    if (kind == W_SYMBOL) {
        if ((rc = scratch_str(t, &s, &n, &nul)))
            return rc;
        if (n > INT32_MAX - 1 || !(a = malloc(n + 1)))
            return -1;
        memcpy(a, s, n + 1);
        rc = !lit(t, '}') ? FALLBACK : bson_append_symbol(&el, "", 0, a, (int)n) ? 0 : -1;
        goto libbson;
    }
    if (kind == W_MINKEY || kind == W_MAXKEY) {
        ws(t);
        if (t->p < t->end && *t->p == '1') {
            t->p++;
            if (lit(t, '}')) {
                t->o->data[tpos] = (char)(kind == W_MINKEY ? T_MINKEY : T_MAXKEY);
                return 0;
            }
        }
        return FALLBACK;
    }
    if (kind == W_UNDEFINED) {
        ws(t);
        if (t->end - t->p >= 4 && !memcmp(t->p, "true", 4)) {
            t->p += 4;
            if (lit(t, '}')) {
                t->o->data[tpos] = T_UNDEFINED;
                return 0;
            }
        }
        return FALLBACK;
    }
    if (kind == W_TIMESTAMP) {
        uint32_t ts, inc;
        if (TOO_DEEP(t, 1) || !lit(t, '{') || key_is(t, "t") || uint_lit(t, &ts) || !lit(t, ',') || key_is(t, "i") ||
            uint_lit(t, &inc) || !lit(t, '}') || !lit(t, '}'))
            return FALLBACK;
        t->o->data[tpos] = T_TIMESTAMP;
        return emit64(t, (uint64_t)ts << 32 | inc);
    }
    if (kind == W_CODE) {
        /* the code may hold NUL: kept with its length (code_element) */
        if ((rc = scratch_str(t, &s, &n, &nul)))
            return rc;
        if (!(a = malloc(n + 1)))
            return -1;
        memcpy(a, s, n + 1);
        if (lit(t, '}')) {
            rc = code_element(&el, "", 0, a, n, NULL);
        } else if (lit(t, ',') && key_is(t, "$scope") == 0 && lit(t, '{')) {
            /* the scope's bytes go past the end of the output, then to libbson */
            size_t at = t->o->len;
            rc = TOO_DEEP(t, 1) ? FALLBACK : room(t, 4) < 0 ? -1 : 0;
            if (rc == 0) {
                t->o->len += 4;
                t->depth++;
                rc = tmembers(t);
                t->depth--;
            }
            if (rc == 0 && (room(t, 1) < 0))
                rc = -1;
            if (rc == 0) {
                t->o->data[t->o->len++] = '\0';
                size_t sl = t->o->len - at;
                bson_t sc;
                put32(t->o->data + at, (uint32_t)sl);
                if (sl > INT32_MAX || !bson_init_static(&sc, (const uint8_t *)t->o->data + at, sl))
                    rc = FALLBACK;
                else
                    rc = lit(t, '}') && lit(t, '}') ? code_element(&el, "", 0, a, n, &sc)
                                                     : FALLBACK;
            }
            t->o->len = at;
        } else {
            rc = FALLBACK;
        }
        goto libbson;
    }
    if (kind == W_REGEX) {
        rc = FALLBACK;
        if (!TOO_DEEP(t, 1) && lit(t, '{') && key_is(t, "pattern") == 0 && str_dup(t, &a, &n) == 0 && lit(t, ',') &&
            key_is(t, "options") == 0 && str_dup(t, &b, &m) == 0 && lit(t, '}') && lit(t, '}'))
            rc = bson_append_regex(&el, "", 0, a, b) ? 0 : -1;
        goto libbson;
    }
    if (kind == W_BINARY) {
        rc = FALLBACK;
        if (!TOO_DEEP(t, 1) && lit(t, '{') && key_is(t, "base64") == 0 && str_dup(t, &a, &n) == 0 && lit(t, ',') &&
            key_is(t, "subType") == 0 && str_dup(t, &b, &m) == 0 && lit(t, '}') && lit(t, '}') &&
            (is_hex(b, 1) || is_hex(b, 2))) {
            uint8_t *buf = malloc(n / 4 * 3 + 1);
            size_t len;
            if (!buf)
                rc = -1;
            else if (b64_decode(a, n, buf, &len) == 0)
                rc = bson_append_binary(&el, "", 0, (bson_subtype_t)strtol(b, NULL, 16), buf, (uint32_t)len) ? 0 : -1;
            free(buf);
        }
        goto libbson;
    }
    if (kind == W_DBPOINTER) {
        rc = FALLBACK;
        if (!TOO_DEEP(t, 2) && lit(t, '{') && key_is(t, "$ref") == 0 && str_dup(t, &a, &m) == 0 && lit(t, ',') &&
            key_is(t, "$id") == 0 && lit(t, '{') && key_is(t, "$oid") == 0 && scratch_str(t, &s, &n, &nul) == 0 &&
            !nul && is_hex(s, 24)) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, s);
            if (lit(t, '}') && lit(t, '}') && lit(t, '}'))
                rc = bson_append_dbpointer(&el, "", 0, a, &oid) ? 0 : -1;
        }
        goto libbson;
    }
    return FALLBACK;
libbson:
    /* the value as libbson appends it, copied into place */
    if (rc == 0)
        rc = emit_element_of(t, tpos, &el);
    bson_destroy(&el);
    free(a);
    free(b);
    return rc;
}

/* Members an object may have here; more are left to the general path (jansson's hash table
   finds a name given twice faster than comparing with every earlier one). */
#define MAX_MEMBERS 128

/* Members of an object after its '{', up to but not including '}'; none starts with '$',
   none given twice (jansson, which reads the line first on the general path, refuses that). */
static int tmembers(txt *t)
{
    /* the names so far: offsets from base in o, lengths (a document is < 2 GiB), and their
       first 8 bytes (zero-padded) to compare before the bytes */
    uint32_t name[MAX_MEMBERS], nlen[MAX_MEMBERS];
    uint64_t head[MAX_MEMBERS];
    size_t count = 0, base = t->o->len;
    ws(t);
    if (t->p < t->end && *t->p == '}')
        return 0;
    for (;;) {
        size_t n;
        int nul;
        if (room(t, 1) < 0)
            return -1;
        size_t tpos = t->o->len++; /* the type byte, set by tvalue */
        int rc = str(t, &n, &nul);
        if (rc)
            return rc;
        if (nul || (n && t->o->data[tpos + 1] == '$') || count == MAX_MEMBERS)
            return FALLBACK;
        uint64_t h = 0;
        memcpy(&h, t->o->data + tpos + 1, n < 8 ? n : 8);
        for (size_t i = 0; i < count; i++)
            if (head[i] == h && nlen[i] == n &&
                (n <= 8 || memcmp(t->o->data + base + name[i] + 8, t->o->data + tpos + 1 + 8, n - 8) == 0))
                return FALLBACK;
        if (tpos + 1 - base > UINT32_MAX || n > UINT32_MAX)
            return FALLBACK;
        name[count] = (uint32_t)(tpos + 1 - base);
        head[count] = h;
        nlen[count++] = (uint32_t)n;
        if (room(t, 1) < 0)
            return -1;
        t->o->data[t->o->len++] = '\0';
        if (!lit(t, ':'))
            return FALLBACK;
        if ((rc = tvalue(t, tpos)))
            return rc;
        ws(t);
        if (t->p < t->end && *t->p == '}')
            return 0;
        if (!lit(t, ','))
            return FALLBACK;
    }
}

/* Ends the document or array whose length field is at at: its NUL, its length. */
static int close_doc(txt *t, size_t at)
{
    if (room(t, 1) < 0)
        return -1;
    t->o->data[t->o->len++] = '\0';
    size_t len = t->o->len - at;
    if (len > INT32_MAX)
        return FALLBACK;
    put32(t->o->data + at, (uint32_t)len);
    return 0;
}

/* A value: its bytes appended, its type set at o->data[tpos]. */
static int tvalue(txt *t, size_t tpos)
{
    ws(t);
    if (t->p >= t->end)
        return FALLBACK;
    char c = *t->p;
    size_t n;
    int rc, nul;
    if (c == '"') {
        if (room(t, 4) < 0)
            return -1;
        size_t at = t->o->len;
        t->o->len += 4;
        if ((rc = str(t, &n, &nul)))
            return rc;
        if (n > INT32_MAX - 1 || room(t, 1) < 0)
            return -1;
        t->o->data[t->o->len++] = '\0';
        put32(t->o->data + at, (uint32_t)(n + 1));
        t->o->data[tpos] = T_UTF8;
        return 0;
    }
    if (c == '{') {
        if (++t->depth > MAX_DEPTH)
            return FALLBACK;
        t->p++;
        ws(t);
        if (t->p + 1 < t->end && t->p[0] == '"' && t->p[1] == '$') {
            const char *s;
            if ((rc = raw_str(t, &s, &n, &nul)))
                return rc;
            enum wkind kind = nul ? W_NONE : wkind_of(s, n);
            if (kind == W_NONE)
                return FALLBACK;
            rc = twrapper(t, kind, tpos);
            t->depth--;
            return rc;
        }
        if (room(t, 4) < 0)
            return -1;
        size_t at = t->o->len;
        t->o->len += 4;
        t->o->data[tpos] = T_DOC;
        if ((rc = tmembers(t)) || (rc = close_doc(t, at)))
            return rc;
        if (!lit(t, '}'))
            return FALLBACK;
        t->depth--;
        return 0;
    }
    if (c == '[') {
        if (++t->depth > MAX_DEPTH)
            return FALLBACK;
        t->p++;
        if (room(t, 4) < 0)
            return -1;
        size_t at = t->o->len;
        t->o->len += 4;
        t->o->data[tpos] = T_ARRAY;
        ws(t);
        if (t->p < t->end && *t->p == ']') {
            t->p++;
        } else {
            for (uint32_t i = 0;; i++) {
                char buf[16];
                const char *k;
                uint32_t kn = bson_uint32_to_string(i, &k, buf, sizeof buf);
                if (room(t, kn + 2) < 0)
                    return -1;
                size_t et = t->o->len++;
                emit(t, k, kn + 1);
                if ((rc = tvalue(t, et)))
                    return rc;
                if (lit(t, ']'))
                    break;
                if (!lit(t, ','))
                    return FALLBACK;
            }
        }
        if ((rc = close_doc(t, at)))
            return rc;
        t->depth--;
        return 0;
    }
    if (room(t, 1) < 0)
        return -1;
    if (t->end - t->p >= 4 && !memcmp(t->p, "true", 4)) {
        t->p += 4;
        t->o->data[tpos] = T_BOOL;
        t->o->data[t->o->len++] = 1;
        return 0;
    }
    if (t->end - t->p >= 5 && !memcmp(t->p, "false", 5)) {
        t->p += 5;
        t->o->data[tpos] = T_BOOL;
        t->o->data[t->o->len++] = 0;
        return 0;
    }
    if (t->end - t->p >= 4 && !memcmp(t->p, "null", 4)) {
        t->p += 4;
        t->o->data[tpos] = T_NULL;
        return 0;
    }
    /* bare numbers (relaxed) and anything else */
    return FALLBACK;
}

int mno_ejson_text_to_buf(const char *p, size_t n, mno_buf *out)
{
    size_t at = out->len;
    txt t = {p, p + n, out, 0};
    int rc = FALLBACK;
    if (lit(&t, '{')) {
        rc = room(&t, 4);
        if (rc == 0) {
            out->len += 4;
            rc = tmembers(&t);
        }
        if (rc == 0 && !lit(&t, '}'))
            rc = FALLBACK;
        ws(&t);
        if (rc == 0 && t.p != t.end)
            rc = FALLBACK;
        if (rc == 0)
            rc = close_doc(&t, at);
    }
    if (rc != 0)
        out->len = at;
    if (out->data)
        out->data[out->len] = '\0';
    return rc;
}

int mno_ejson_text_to_bson(const char *p, size_t n, bson_t *out)
{
    mno_buf b = MNO_BUF_INIT;
    bson_t doc;
    int rc = mno_ejson_text_to_buf(p, n, &b);
    if (rc == 0)
        rc = bson_init_static(&doc, (const uint8_t *)b.data, b.len) && bson_concat(out, &doc) ? 0 : -1;
    mno_buf_release(&b);
    return rc;
}

size_t mno_ejson_rec_prefix(const char *line, size_t len, const char *ns)
{
    static const char a[] = "{\"t\":\"rec\",\"ns\":\"", b[] = "\",\"v\":";
    size_t nl = strlen(ns), k = sizeof a - 1;
    if (len < k + nl + sizeof b - 1 || memcmp(line, a, k) != 0 || memcmp(line + k, ns, nl) != 0 ||
        memcmp(line + k + nl, b, sizeof b - 1) != 0)
        return 0;
    /* an ns the writer would escape cannot be compared raw */
    for (const char *q = ns; *q; q++)
        if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
            return 0;
    return k + nl + sizeof b - 1;
}

/* ---- validation of Extended JSON input (issue 19) ---- */

/*
 * libbson's parser (1.23) takes some invalid values silently and makes other values of them:
 * an invalid $numberDecimal string becomes NaN, an $oid that is not 24 hex digits zeros,
 * "$numberDouble":"1.5x" 1.5, {"$date":42} a date. mno_ejson_check walks the tree first and
 * refuses every form the Extended JSON specification calls a parse error (the BSON corpus's
 * parseErrors), so libbson only ever sees valid input.
 */

typedef struct chk {
    char *path;        /* the key being checked, dotted from the document (a.b.0) */
    size_t pathlen;
    char *why;
    size_t whylen;
} chk;

static int bad(chk *c, const char *fmt, const char *arg)
{
    snprintf(c->why, c->whylen, fmt, arg);
    return -1;
}

/* The string value of a JSON string without NUL, else NULL. */
static const char *plain(const json_t *s)
{
    return json_is_string(s) ? cstr(s) : NULL;
}

/* -?[0-9]+ within [lo, hi]. */
static int int_ok(const json_t *s, long long lo, long long hi)
{
    long long v;
    const char *c = plain(s);
    return c && parse_int(c, lo, hi, &v) == 0;
}

/* A double as the specification writes one: Infinity, -Infinity, NaN or a JSON-like number. */
static int double_ok(const char *s)
{
    if (!strcmp(s, "Infinity") || !strcmp(s, "-Infinity") || !strcmp(s, "NaN"))
        return 1;
    const char *p = s;
    if (*p == '-')
        p++;
    size_t d = strspn(p, "0123456789");
    p += d;
    if (*p == '.') {
        size_t f = strspn(p + 1, "0123456789");
        if (!f && !d)
            return 0;
        d += f;
        p += 1 + f;
    }
    if (!d)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t x = strspn(p, "0123456789");
        if (!x)
            return 0;
        p += x;
    }
    if (*p)
        return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    return !*end && !(errno == ERANGE && fabs(v) >= 1.0);
}

static int hexstr_ok(const json_t *s, size_t n)
{
    const char *c = plain(s);
    return c && is_hex(c, n);
}

static int b64_ok(const json_t *s)
{
    const char *c = plain(s);
    if (!c)
        return 0;
    size_t len = strlen(c), n;
    uint8_t *buf = malloc(len / 4 * 3 + 1);
    int ok = buf && b64_decode(c, len, buf, &n) == 0;
    free(buf);
    return ok;
}

static int uuid_ok(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return 0;
    for (int i = 0, k = 0; i < 36; i++) {
        if (k < 4 && i == dash[k]) {
            if (s[i] != '-')
                return 0;
            k++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int cvalue(chk *c, const json_t *v, int depth);

/* An object's members, each key checked (no NUL) and its value walked. */
static int cmembers(chk *c, const json_t *o, int depth)
{
    const char *k;
    size_t klen;
    json_t *v;
    size_t at = strlen(c->path);
    json_object_keylen_foreach((json_t *)o, k, klen, v) {
        if (strlen(k) != klen)
            return bad(c, "a key holds a NUL character", "");
        snprintf(c->path + at, c->pathlen - at, "%s%s", at ? "." : "", k);
        if (cvalue(c, v, depth) < 0)
            return -1;
        c->path[at] = '\0';
    }
    return 0;
}

/* The names of the type wrappers: an object holding one of them must be exactly that wrapper. */
static int wrapper_key(const char *k)
{
    static const char *const w[] = {"$oid", "$symbol", "$numberInt", "$numberLong", "$numberDouble",
                                    "$numberDecimal", "$binary", "$uuid", "$code", "$scope", "$timestamp",
                                    "$regularExpression", "$dbPointer", "$date", "$minKey", "$maxKey",
                                    "$undefined"};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (!strcmp(k, w[i]))
            return 1;
    return 0;
}

/* o holds a wrapper key: o must be a valid wrapper. */
static int cwrapper(chk *c, const json_t *o, int depth)
{
    size_t n = json_object_size(o);
    const json_t *w;
    const char *s;
#define GET(name) (w = json_object_get(o, name))
    if (n == 1 && GET("$oid"))
        return hexstr_ok(w, 24) ? 0 : bad(c, "$oid is not a string of 24 hex digits", "");
    if (n == 1 && GET("$symbol"))
        return json_is_string(w) ? 0 : bad(c, "$symbol is not a string", "");
    if (n == 1 && GET("$numberInt"))
        return int_ok(w, INT32_MIN, INT32_MAX) ? 0 : bad(c, "$numberInt is not a 32-bit integer in a string", "");
    if (n == 1 && GET("$numberLong"))
        return int_ok(w, INT64_MIN, INT64_MAX) ? 0 : bad(c, "$numberLong is not a 64-bit integer in a string", "");
    if (n == 1 && GET("$numberDouble"))
        return (s = plain(w)) && double_ok(s) ? 0 : bad(c, "$numberDouble is not a number in a string", "");
    if (n == 1 && GET("$numberDecimal")) {
        bson_decimal128_t dec;
        s = plain(w);
        return s && bson_decimal128_from_string(s, &dec) ? 0 : bad(c, "$numberDecimal is not a Decimal128 in a string", "");
    }
    if (n == 1 && GET("$binary")) {
        const json_t *st = json_object_get(w, "subType");
        return json_is_object(w) && json_object_size(w) == 2 && b64_ok(json_object_get(w, "base64")) &&
               (hexstr_ok(st, 1) || hexstr_ok(st, 2)) ? 0 : bad(c, "$binary is not {\"base64\": string, \"subType\": hex string}", "");
    }
    if (n == 2 && GET("$binary") && json_object_get(o, "$type")) {
        const json_t *st = json_object_get(o, "$type");
        return b64_ok(w) && (hexstr_ok(st, 1) || hexstr_ok(st, 2)) ? 0 : bad(c, "legacy $binary/$type is not base64 and a hex subtype", "");
    }
    if (n == 1 && GET("$uuid"))
        return (s = plain(w)) && uuid_ok(s) ? 0 : bad(c, "$uuid is not a UUID string (8-4-4-4-12 hex digits)", "");
    if (n == 1 && GET("$code"))
        return json_is_string(w) ? 0 : bad(c, "$code is not a string", "");
    if (n == 2 && GET("$code") && json_object_get(o, "$scope")) {
        if (!json_is_string(w) || !json_is_object(json_object_get(o, "$scope")))
            return bad(c, "$code/$scope is not a string and a document", "");
        return cmembers(c, json_object_get(o, "$scope"), depth + 1);
    }
    if (n == 1 && GET("$timestamp")) {
        const json_t *t = json_object_get(w, "t"), *i = json_object_get(w, "i");
        return json_is_object(w) && json_object_size(w) == 2 && json_is_integer(t) && json_is_integer(i) &&
               json_integer_value(t) >= 0 && json_integer_value(t) <= UINT32_MAX && json_integer_value(i) >= 0 &&
               json_integer_value(i) <= UINT32_MAX ? 0 : bad(c, "$timestamp is not {\"t\": uint32, \"i\": uint32}", "");
    }
    if (n == 1 && GET("$regularExpression"))
        return json_is_object(w) && json_object_size(w) == 2 && plain(json_object_get(w, "pattern")) &&
               plain(json_object_get(w, "options")) ? 0 : bad(c, "$regularExpression is not {\"pattern\": string, \"options\": string} without NUL", "");
    if (n == 2 && GET("$regex") && json_is_string(w) && json_object_get(o, "$options"))
        return plain(w) && plain(json_object_get(o, "$options")) ? 0 : bad(c, "legacy $regex/$options are not strings without NUL", "");
    if (n == 1 && GET("$dbPointer")) {
        const char *k3 = "";
        const json_t *id = json_object_get(w, "$id"), *hex = json_is_object(id) ? only(id, &k3) : NULL;
        return json_is_object(w) && json_object_size(w) == 2 && plain(json_object_get(w, "$ref")) && hex &&
               !strcmp(k3, "$oid") && hexstr_ok(hex, 24) ? 0 : bad(c, "$dbPointer is not {\"$ref\": string, \"$id\": {\"$oid\": ...}}", "");
    }
    if (n == 1 && GET("$date")) {
        if (json_is_string(w))
            return cstr(w) ? 0 : bad(c, "$date string holds a NUL character", ""); /* ISO-8601: libbson parses and refuses */
        const char *k2;
        const json_t *l = json_is_object(w) ? only(w, &k2) : NULL;
        return l && !strcmp(k2, "$numberLong") && int_ok(l, INT64_MIN, INT64_MAX) ? 0 : bad(c, "$date is not {\"$numberLong\": string} or an ISO-8601 string", "");
    }
    if (n == 1 && (GET("$minKey") || GET("$maxKey")))
        return json_is_integer(w) && json_integer_value(w) == 1 ? 0 : bad(c, "$minKey/$maxKey is not 1", "");
    if (n == 1 && GET("$undefined"))
        return json_is_true(w) ? 0 : bad(c, "$undefined is not true", "");
#undef GET
    return bad(c, "an Extended JSON type wrapper with missing or extra members", "");
}

static int cvalue(chk *c, const json_t *v, int depth)
{
    if (json_is_array(v)) {
        if (depth + 1 > MNO_EJSON_MAX_DEPTH)
            return bad(c, "nested deeper than %s levels", "100");
        size_t at = strlen(c->path);
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(c->path + at, c->pathlen - at, "%s%zu", at ? "." : "", i);
            if (cvalue(c, json_array_get(v, i), depth + 1) < 0)
                return -1;
            c->path[at] = '\0';
        }
        return 0;
    }
    if (!json_is_object(v))
        return 0;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
        if (wrapper_key(k) || (!strcmp(k, "$regex") && json_is_string(m)))
            return cwrapper(c, v, depth);
    }
    if (depth + 1 > MNO_EJSON_MAX_DEPTH)
        return bad(c, "nested deeper than %s levels", "100");
    return cmembers(c, v, depth + 1);
}

int mno_ejson_check(const json_t *doc, char *key, size_t keylen, char *why, size_t whylen)
{
    chk c = {key, keylen, why, whylen};
    key[0] = '\0';
    why[0] = '\0';
    if (!json_is_object(doc))
        return bad(&c, "the document is not a JSON object", "");
    return cmembers(&c, doc, 1);
}

bson_t *mno_ejson_to_bson(const json_t *v, char *key, size_t keylen, char *why, size_t whylen)
{
    if (mno_ejson_check(v, key, keylen, why, whylen) < 0)
        return NULL;
    bson_t *doc = bson_new();
    if (doc && mno_json_to_bson(v, doc) == 0)
        return doc;
    bson_destroy(doc);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    bson_error_t be;
    doc = bson_new_from_json((const uint8_t *)s, -1, &be);
    free(s);
    if (!doc)
        snprintf(why, whylen, "invalid Extended JSON: %s", be.message);
    return doc;
}
