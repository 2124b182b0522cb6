/* engine_mongo_json.c: canonical Extended JSON v2 (a jansson tree) to BSON in one walk, byte-identical to libbson's parser; anything else is left to libbson. */
#include <errno.h>
#include <limits.h>
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
    int neg = *p == '-';
    unsigned long long v = 0;
    p += neg;
    if (!*p)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    long long r;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        r = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        r = (long long)v;
    }
    if (r < lo || r > hi)
        return -1;
    *out = r;
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

#define NOT_A_STRING_WRAPPER 2

/*
 * The wrappers whose value is a string: {k: s} with s NUL-terminated, slen bytes (it may
 * hold NUL), appended as key. Returns 0, FALLBACK, -1, or NOT_A_STRING_WRAPPER when k is
 * not one of them. Shared by the tree and the text paths, so both take the same forms.
 */
static int wrap_str(const char *k, const char *s, size_t slen, const char *key, int keylen, bson_t *out)
{
    if (k[0] != '$' || (k[1] != 'o' && k[1] != 'n' && k[1] != 's'))
        return NOT_A_STRING_WRAPPER;
    /* a number or an ObjectId with a NUL inside: libbson decides */
    int plain = strlen(s) == slen;
    {
        if (!strcmp(k, "$oid") && plain && is_hex(s, 24)) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, s);
            return bson_append_oid(out, key, keylen, &oid) ? 0 : -1;
        }
        if (!strcmp(k, "$numberInt")) {
            if (!plain)
                return FALLBACK;
            long long v;
            if (parse_int(s, INT32_MIN, INT32_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_int32(out, key, keylen, (int32_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$numberLong")) {
            if (!plain)
                return FALLBACK;
            long long v;
            if (parse_int(s, INT64_MIN, INT64_MAX, &v) < 0)
                return FALLBACK;
            return bson_append_int64(out, key, keylen, (int64_t)v) ? 0 : -1;
        }
        if (!strcmp(k, "$numberDouble")) {
            if (!plain)
                return FALLBACK;
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
        if (!strcmp(k, "$numberDecimal")) {
            if (!plain)
                return FALLBACK;
            bson_decimal128_t dec;
            if (!bson_decimal128_from_string(s, &dec))
                return FALLBACK;
            return bson_append_decimal128(out, key, keylen, &dec) ? 0 : -1;
        }
        if (!strcmp(k, "$symbol"))
            return bson_append_symbol(out, key, keylen, s, (int)slen) ? 0 : -1;
        /* $oid that is not 24 hex digits: no other wrapper takes it */
        if (!strcmp(k, "$oid"))
            return FALLBACK;
    }
    return NOT_A_STRING_WRAPPER;
}

/* An object whose keys start with '$': one of the canonical wrappers, appended as key. */
static int wrapper(const json_t *o, const char *key, int keylen, bson_t *out)
{
    const char *k;
    const json_t *w = only(o, &k);
    if (w) {
        const char *s = json_string_value(w);
        if (s) {
            int rc = wrap_str(k, s, json_string_length(w), key, keylen, out);
            if (rc != NOT_A_STRING_WRAPPER)
                return rc;
        }
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

/* ---- from the text: the reader's fast path for record lines ---- */

/*
 * A recursive-descent parser of JSON text that appends to BSON as it goes, knowing the
 * canonical wrappers in the order libbson and lib/ejson.c print their members. Anything
 * else (relaxed numbers, other member orders, invalid text) is FALLBACK: the reader then
 * takes its general path (jansson, libbson), which also words any error. The record's sum
 * is checked against the archive's end line either way.
 */
typedef struct txt {
    const char *p, *end;
    char *buf;          /* decoded strings */
    size_t cap;
    int depth;
    int nul;            /* the last string read holds a NUL (from \\u0000) */
    char *keys;         /* the member names of the objects open, each as a size_t length and
                           its bytes: a name given twice in one object is left to jansson,
                           which refuses it (JSON_REJECT_DUPLICATES) */
    size_t klen, kcap;
} txt;

#define MAX_DEPTH 100   /* libbson's parser nests at most this deep */

static void ws(txt *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

static int lit(txt *t, char c)
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

/* 16 bytes as one vector (SSE2 on x86-64, NEON on arm64, by the compiler's vector extensions). */
typedef unsigned char tx_v16 __attribute__((vector_size(16)));
static const tx_v16 tx_lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* The index of the first nonzero byte of m (0xff or 0 bytes), 16 when none. */
static inline size_t tx_first(tx_v16 m)
{
    uint64_t w[2];
    memcpy(w, &m, sizeof w);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return w[0] ? (size_t)__builtin_ctzll(w[0]) / 8 : w[1] ? 8 + (size_t)__builtin_ctzll(w[1]) / 8 : 16;
#else
    return w[0] ? (size_t)__builtin_clzll(w[0]) / 8 : w[1] ? 8 + (size_t)__builtin_clzll(w[1]) / 8 : 16;
#endif
}

/* s[0..n) is UTF-8 as strict as jansson's check (no overlong form, not even C0 80, which
   bson_utf8_validate takes for NUL; no surrogate, nothing past U+10FFFF, nothing cut short). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        unsigned long v;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2)
            return 0;
        if (c < 0xE0) { k = 2; v = c & 0x1F; }
        else if (c < 0xF0) { k = 3; v = c & 0x0F; }
        else if (c < 0xF5) { k = 4; v = c & 0x07; }
        else
            return 0;
        if (n - i < k)
            return 0;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 3 && v < 0x800) || (k == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

/* A JSON string into t->buf (NUL-terminated, *n bytes, may hold NUL). 0, FALLBACK or -1. */
static int str(txt *t, size_t *n)
{
    ws(t);
    if (t->p >= t->end || *t->p != '"')
        return FALLBACK;
    t->p++;
    t->nul = 0;
    size_t k = 0;
    tx_v16 high = {0};          /* nonzero: a raw byte >= 0x80 was copied */
    unsigned hi8 = 0;
    for (;;) {
        if (t->p >= t->end)
            return FALLBACK;
        if (k + 8 > t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 256;
            char *b = realloc(t->buf, cap);
            if (!b)
                return -1;
            t->buf = b;
            t->cap = cap;
        }
        unsigned char c = (unsigned char)*t->p;
        if (c == '"') {
            t->p++;
            break;
        }
        if (c < 0x20)
            return FALLBACK;
        if (c != '\\') {
            /* a run of plain bytes, 16 at a time while they are plain; bytes >= 0x80 noted */
            const char *q = t->p;
            while (t->end - q >= 16) {
                tx_v16 x;
                memcpy(&x, q, 16);
                size_t j = tx_first((tx_v16)((x < 0x20) | (x == '"') | (x == '\\')));
                high |= (tx_v16)(x >= 0x80) & (tx_v16)(tx_lane < (unsigned char)j);
                q += j;
                if (j < 16)
                    break;
            }
            while (q < t->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
                hi8 |= (unsigned char)*q++;
            size_t run = (size_t)(q - t->p);
            if (k + run + 8 > t->cap) {
                size_t cap = t->cap;
                while (k + run + 8 > cap)
                    cap *= 2;
                char *b = realloc(t->buf, cap);
                if (!b)
                    return -1;
                t->buf = b;
                t->cap = cap;
            }
            memcpy(t->buf + k, t->p, run);
            k += run;
            t->p = q;
            continue;
        }
        if (t->p + 1 >= t->end)
            return FALLBACK;
        char esc = t->p[1];
        t->p += 2;
        switch (esc) {
        case '"': t->buf[k++] = '"'; break;
        case '\\': t->buf[k++] = '\\'; break;
        case '/': t->buf[k++] = '/'; break;
        case 'b': t->buf[k++] = '\b'; break;
        case 'f': t->buf[k++] = '\f'; break;
        case 'n': t->buf[k++] = '\n'; break;
        case 'r': t->buf[k++] = '\r'; break;
        case 't': t->buf[k++] = '\t'; break;
        case 'u': {
            unsigned u, lo;
            if (t->end - t->p < 4 || hex4(t->p, &u) < 0)
                return FALLBACK;
            t->p += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (t->end - t->p < 6 || t->p[0] != '\\' || t->p[1] != 'u' || hex4(t->p + 2, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return FALLBACK;
                t->p += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                return FALLBACK;
            }
            if (u < 0x80) {
                t->nul |= u == 0;
                t->buf[k++] = (char)u;
            } else if (u < 0x800) {
                t->buf[k++] = (char)(0xC0 | u >> 6);
                t->buf[k++] = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                t->buf[k++] = (char)(0xE0 | u >> 12);
                t->buf[k++] = (char)(0x80 | (u >> 6 & 0x3F));
                t->buf[k++] = (char)(0x80 | (u & 0x3F));
            } else {
                t->buf[k++] = (char)(0xF0 | u >> 18);
                t->buf[k++] = (char)(0x80 | (u >> 12 & 0x3F));
                t->buf[k++] = (char)(0x80 | (u >> 6 & 0x3F));
                t->buf[k++] = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default:
            return FALLBACK;
        }
    }
    t->buf[k] = '\0';
    /* invalid UTF-8 is for the general path to refuse; escapes (\\u) always make valid
       UTF-8, so only raw bytes >= 0x80 need the check */
    uint64_t w[2];
    memcpy(w, &high, sizeof w);
    if (((hi8 & 0x80) || w[0] || w[1]) && !utf8_ok((const unsigned char *)t->buf, k))
        return FALLBACK;
    *n = k;
    return 0;
}

/* The next string must be exactly want (a member name). */
static int key_is(txt *t, const char *want)
{
    size_t n;
    int rc = str(t, &n);
    if (rc)
        return rc;
    return strcmp(t->buf, want) == 0 && n == strlen(want) && lit(t, ':') ? 0 : FALLBACK;
}

/* A string value, copied (caller frees). */
static int str_dup(txt *t, char **out, size_t *n)
{
    int rc = str(t, n);
    if (rc)
        return rc;
    *out = malloc(*n + 1);
    if (!*out)
        return -1;
    memcpy(*out, t->buf, *n + 1);
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

static int tvalue(txt *t, const char *key, int keylen, bson_t *out);
static int tmembers(txt *t, bson_t *out);

/* After '{' and a first member name starting with '$' (in t->buf): the wrapper's rest. */
static int twrapper(txt *t, const char *name, const char *key, int keylen, bson_t *out)
{
    int rc = 0;
    size_t n, m;
    char *a = NULL, *b = NULL;
    if (!lit(t, ':'))
        return FALLBACK;
    if (!strcmp(name, "$oid") || !strcmp(name, "$numberInt") || !strcmp(name, "$numberLong") ||
        !strcmp(name, "$numberDouble") || !strcmp(name, "$numberDecimal") || !strcmp(name, "$symbol")) {
        if ((rc = str(t, &n)))
            return rc;
        if (!lit(t, '}'))
            return FALLBACK;
        return wrap_str(name, t->buf, n, key, keylen, out);
    }
    if (!strcmp(name, "$code")) {
        if ((rc = str_dup(t, &a, &n)))
            return rc;
        if (strlen(a) != n) {
            free(a);
            return FALLBACK;
        }
        if (lit(t, '}')) {
            rc = bson_append_code(out, key, keylen, a) ? 0 : -1;
        } else if (lit(t, ',') && key_is(t, "$scope") == 0 && lit(t, '{')) {
            bson_t sc = BSON_INITIALIZER;
            rc = tmembers(t, &sc);
            if (rc == 0)
                rc = lit(t, '}') && lit(t, '}') ? (bson_append_code_with_scope(out, key, keylen, a, &sc) ? 0 : -1)
                                                 : FALLBACK;
            bson_destroy(&sc);
        } else {
            rc = FALLBACK;
        }
        free(a);
        return rc;
    }
    if (!strcmp(name, "$minKey") || !strcmp(name, "$maxKey")) {
        ws(t);
        if (t->p < t->end && *t->p == '1') {
            t->p++;
            if (lit(t, '}'))
                return (name[2] == 'i' ? bson_append_minkey(out, key, keylen) : bson_append_maxkey(out, key, keylen))
                           ? 0 : -1;
        }
        return FALLBACK;
    }
    if (!strcmp(name, "$undefined")) {
        ws(t);
        if (t->end - t->p >= 4 && !memcmp(t->p, "true", 4)) {
            t->p += 4;
            if (lit(t, '}'))
                return bson_append_undefined(out, key, keylen) ? 0 : -1;
        }
        return FALLBACK;
    }
    if (!strcmp(name, "$date")) {
        long long v;
        if (!lit(t, '{') || (rc = key_is(t, "$numberLong")) || (rc = str(t, &n)))
            return rc ? rc : FALLBACK;
        if (t->nul || parse_int(t->buf, INT64_MIN, INT64_MAX, &v) < 0 || !lit(t, '}') || !lit(t, '}'))
            return FALLBACK;
        return bson_append_date_time(out, key, keylen, (int64_t)v) ? 0 : -1;
    }
    if (!strcmp(name, "$timestamp")) {
        uint32_t ts, inc;
        if (!lit(t, '{') || key_is(t, "t") || uint_lit(t, &ts) || !lit(t, ',') || key_is(t, "i") ||
            uint_lit(t, &inc) || !lit(t, '}') || !lit(t, '}'))
            return FALLBACK;
        return bson_append_timestamp(out, key, keylen, ts, inc) ? 0 : -1;
    }
    if (!strcmp(name, "$regularExpression")) {
        rc = FALLBACK;
        if (lit(t, '{') && key_is(t, "pattern") == 0 && str_dup(t, &a, &n) == 0 && lit(t, ',') &&
            key_is(t, "options") == 0 && str_dup(t, &b, &m) == 0 && lit(t, '}') && lit(t, '}') &&
            strlen(a) == n && strlen(b) == m)
            rc = bson_append_regex(out, key, keylen, a, b) ? 0 : -1;
        free(a);
        free(b);
        return rc;
    }
    if (!strcmp(name, "$binary")) {
        rc = FALLBACK;
        if (lit(t, '{') && key_is(t, "base64") == 0 && str_dup(t, &a, &n) == 0 && lit(t, ',') &&
            key_is(t, "subType") == 0 && str_dup(t, &b, &m) == 0 && lit(t, '}') && lit(t, '}') &&
            (is_hex(b, 1) || is_hex(b, 2))) {
            uint8_t *buf = malloc(n / 4 * 3 + 1);
            size_t len;
            if (!buf)
                rc = -1;
            else if (b64_decode(a, n, buf, &len) == 0)
                rc = bson_append_binary(out, key, keylen, (bson_subtype_t)strtol(b, NULL, 16), buf, (uint32_t)len)
                         ? 0 : -1;
            free(buf);
        }
        free(a);
        free(b);
        return rc;
    }
    if (!strcmp(name, "$dbPointer")) {
        rc = FALLBACK;
        if (lit(t, '{') && key_is(t, "$ref") == 0 && str_dup(t, &a, &m) == 0 && lit(t, ',') &&
            key_is(t, "$id") == 0 && lit(t, '{') && key_is(t, "$oid") == 0 && str(t, &n) == 0 &&
            is_hex(t->buf, 24) && lit(t, '}') && lit(t, '}') && lit(t, '}') && strlen(a) == m) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, t->buf);
            rc = bson_append_dbpointer(out, key, keylen, a, &oid) ? 0 : -1;
        }
        free(a);
        return rc;
    }
    return FALLBACK;
}

/* Notes the member name t->buf[0..n) of the object whose names start at t->keys + base:
   0, FALLBACK when the object has it already, -1 when out of memory. */
static int new_key(txt *t, size_t base, size_t n)
{
    for (size_t i = base; i < t->klen;) {
        size_t m;
        memcpy(&m, t->keys + i, sizeof m);
        if (m == n && memcmp(t->keys + i + sizeof m, t->buf, n) == 0)
            return FALLBACK;
        i += sizeof m + m;
    }
    if (t->klen + sizeof n + n > t->kcap) {
        size_t cap = t->kcap ? t->kcap : 256;
        while (t->klen + sizeof n + n > cap)
            cap *= 2;
        char *k = realloc(t->keys, cap);
        if (!k)
            return -1;
        t->keys = k;
        t->kcap = cap;
    }
    memcpy(t->keys + t->klen, &n, sizeof n);
    memcpy(t->keys + t->klen + sizeof n, t->buf, n);
    t->klen += sizeof n + n;
    return 0;
}

static int tmembers_in(txt *t, bson_t *out, size_t base);

/* Members of an object after its '{', up to but not including '}'; none starts with '$'. */
static int tmembers(txt *t, bson_t *out)
{
    size_t base = t->klen;
    int rc = tmembers_in(t, out, base);
    t->klen = base;
    return rc;
}

static int tmembers_in(txt *t, bson_t *out, size_t base)
{
    size_t n;
    ws(t);
    if (t->p < t->end && *t->p == '}')
        return 0;
    for (;;) {
        int rc = str(t, &n);
        if (rc)
            return rc;
        if (t->nul || t->buf[0] == '$' || !lit(t, ':'))
            return FALLBACK;
        if ((rc = new_key(t, base, n)))
            return rc;
        char kbuf[256];
        char *key = n < sizeof kbuf ? kbuf : malloc(n + 1);
        if (!key)
            return -1;
        memcpy(key, t->buf, n + 1);
        rc = tvalue(t, key, (int)n, out);
        if (key != kbuf)
            free(key);
        if (rc)
            return rc;
        ws(t);
        if (t->p < t->end && *t->p == '}')
            return 0;
        if (!lit(t, ','))
            return FALLBACK;
    }
}

static int tvalue(txt *t, const char *key, int keylen, bson_t *out)
{
    ws(t);
    if (t->p >= t->end)
        return FALLBACK;
    char c = *t->p;
    size_t n;
    int rc;
    if (c == '"') {
        if ((rc = str(t, &n)))
            return rc;
        return bson_append_utf8(out, key, keylen, t->buf, (int)n) ? 0 : -1;
    }
    if (c == '{') {
        if (++t->depth > MAX_DEPTH)
            return FALLBACK;
        t->p++;
        ws(t);
        const char *save = t->p;
        if (t->p < t->end && *t->p == '"' && t->p + 1 < t->end && t->p[1] == '$') {
            if ((rc = str(t, &n)))
                return rc;
            char name[32];
            if (n >= sizeof name)
                return FALLBACK;
            memcpy(name, t->buf, n + 1);
            rc = twrapper(t, name, key, keylen, out);
            t->depth--;
            return rc;
        }
        t->p = save;
        bson_t child;
        if (!bson_append_document_begin(out, key, keylen, &child))
            return -1;
        rc = tmembers(t, &child);
        if (!bson_append_document_end(out, &child))
            return -1;
        if (rc == 0 && !lit(t, '}'))
            rc = FALLBACK;
        t->depth--;
        return rc;
    }
    if (c == '[') {
        if (++t->depth > MAX_DEPTH)
            return FALLBACK;
        t->p++;
        bson_t child;
        char buf[16];
        const char *k;
        if (!bson_append_array_begin(out, key, keylen, &child))
            return -1;
        rc = 0;
        ws(t);
        if (t->p < t->end && *t->p == ']') {
            t->p++;
        } else {
            for (uint32_t i = 0;; i++) {
                uint32_t kn = bson_uint32_to_string(i, &k, buf, sizeof buf);
                if ((rc = tvalue(t, k, (int)kn, &child)))
                    break;
                if (lit(t, ']'))
                    break;
                if (!lit(t, ',')) {
                    rc = FALLBACK;
                    break;
                }
            }
        }
        if (!bson_append_array_end(out, &child))
            return -1;
        t->depth--;
        return rc;
    }
    if (t->end - t->p >= 4 && !memcmp(t->p, "true", 4)) {
        t->p += 4;
        return bson_append_bool(out, key, keylen, true) ? 0 : -1;
    }
    if (t->end - t->p >= 5 && !memcmp(t->p, "false", 5)) {
        t->p += 5;
        return bson_append_bool(out, key, keylen, false) ? 0 : -1;
    }
    if (t->end - t->p >= 4 && !memcmp(t->p, "null", 4)) {
        t->p += 4;
        return bson_append_null(out, key, keylen) ? 0 : -1;
    }
    /* bare numbers (relaxed) and anything else */
    return FALLBACK;
}

struct mno_ejson_parser {
    char *buf, *keys;   /* txt's buffers, kept from one document to the next */
    size_t cap, kcap;
};

mno_ejson_parser *mno_ejson_parser_new(void)
{
    return calloc(1, sizeof(mno_ejson_parser));
}

void mno_ejson_parser_free(mno_ejson_parser *x)
{
    if (!x)
        return;
    free(x->buf);
    free(x->keys);
    free(x);
}

int mno_ejson_parse(mno_ejson_parser *x, const char *p, size_t n, bson_t *out)
{
    txt t = {p, p + n, x->buf, x->cap, 0, 0, x->keys, 0, x->kcap};
    int rc = FALLBACK;
    if (lit(&t, '{')) {
        rc = tmembers(&t, out);
        if (rc == 0 && !lit(&t, '}'))
            rc = FALLBACK;
        ws(&t);
        if (rc == 0 && t.p != t.end)
            rc = FALLBACK;
    }
    x->buf = t.buf;
    x->cap = t.cap;
    x->keys = t.keys;
    x->kcap = t.kcap;
    return rc;
}

int mno_ejson_text_to_bson(const char *p, size_t n, bson_t *out)
{
    mno_ejson_parser x = {NULL, NULL, 0, 0};
    int rc = mno_ejson_parse(&x, p, n, out);
    free(x.buf);
    free(x.keys);
    return rc;
}
