/* ejson_exact.c: which documents' canonical Extended JSON text must be proven to parse back to their bytes (a walk over the BSON), and the proof (the reader's own converter). */
#include <string.h>
#include <bson/bson.h>
#include <jansson.h>
#include "ejson.h"
#include "engine_mongo_json.h"

/*
 * The printer (ejson.c) writes what libbson's bson_as_canonical_extended_json writes, and the
 * reader's converter (engine_mongo_json.c, libbson) parses that text back to the same bytes for
 * every value of these forms (tests/unit/test_bson_corpus.c: all valid cases of the MongoDB
 * BSON corpus; test_ejson_parse.c: random documents). The walk below flags every value outside
 * them, whose text may not come back as the same bytes:
 * - a double NaN other than the one "NaN" parses to (a payload, the sign bit);
 * - a Decimal128 whose text does not parse back to its bits (NaN/sNaN payloads and signs,
 *   non-canonical significands, zeros that print as another exponent);
 * - array keys other than "0", "1", ... in order (the text has no keys for arrays);
 * - regular expression options that are not distinct and in "ilmsux" order (libbson sorts
 *   and drops them);
 * - a key starting with '$' (the text of {"$numberInt": "1"} as a document reads as an int32);
 * - code, code-with-scope or DBPointer strings holding NUL, binary subtype 2 (its inner length
 *   is rewritten by libbson), booleans other than 0 and 1, unknown types;
 * - nesting deeper than the parsers' limits.
 * A flagged document is printed, parsed back and compared (mno_ejson_exact); only those that
 * differ are written in the lossless form.
 */

#define DEEP 90 /* below MNO_EJSON_MAX_DEPTH and libbson's parser's limit (97 in engine_mongo_json.c) */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int opts_canonical(const char *o, size_t n)
{
    static const char order[] = "ilmsux";
    const char *at = order;
    for (size_t i = 0; i < n; i++) {
        const char *f = strchr(at, o[i]);
        if (!o[i] || !f)
            return 0;
        at = f + 1;
    }
    return 1;
}

/*
 * 1 when the Decimal128 at p prints as text that parses back to the same bits, judged from
 * the bits (the full print-and-parse cost 10% of a dump whose every document holds one):
 * NaN and Infinity only in the one encoding "NaN"/"Infinity"/"-Infinity" parse to, no
 * significand of the second form (bits 62-61 = 11: always over 10^34 - 1) nor of the first
 * form over 10^34 - 1 (both read as zero). Every other value (any exponent, zeros included)
 * prints with its exponent and significand and parses back to them (tests/unit/
 * test_bson_corpus.c checks both against print-and-parse on random bits).
 */
int mno_ejson_dec_exact(const uint8_t *p)
{
    uint64_t low, high;
    memcpy(&low, p, 8);
    memcpy(&high, p + 8, 8);
    uint64_t comb = (high >> 58) & 0x1f;
    if (comb == 0x1f) /* NaN, sNaN */
        return high == 0x7c00000000000000ULL && low == 0;
    if (comb == 0x1e) /* Infinity */
        return (high == 0x7800000000000000ULL || high == 0xf800000000000000ULL) && low == 0;
    if (((high >> 61) & 3) == 3)
        return 0;
    uint64_t sh = high & 0x1ffffffffffffULL;
    /* 10^34 = 0x1ed09bead87c0 378d8e6400000000 */
    return sh < 0x1ed09bead87c0ULL || (sh == 0x1ed09bead87c0ULL && low < 0x378d8e6400000000ULL);
}

/* 1 when the document p[0..avail) has a flagged value (or is not well formed), 0 when not. */
static int walk(const uint8_t *p, size_t avail, int depth, int is_array)
{
    if (avail < 5 || depth > DEEP)
        return 1;
    uint32_t len = rd32(p);
    if (len < 5 || len > avail || p[len - 1] != 0)
        return 1;
    const uint8_t *q = p + 4, *end = p + len - 1;
    uint32_t idx = 0;
    while (q < end) {
        uint8_t t = *q++;
        const uint8_t *k = q;
        const uint8_t *z = memchr(q, 0, (size_t)(end - q));
        if (!z)
            return 1;
        size_t kl = (size_t)(z - k);
        q = z + 1;
        if (is_array) {
            /* the key must be idx in decimal */
            char want[12], *w = want + sizeof want;
            uint32_t x = idx++;
            do
                *--w = (char)('0' + x % 10);
            while ((x /= 10));
            if ((size_t)(want + sizeof want - w) != kl || memcmp(w, k, kl) != 0)
                return 1;
        } else if (kl && k[0] == '$') {
            return 1;
        }
        size_t left = (size_t)(end - q);
        size_t need;
        uint32_t n;
        switch (t) {
        case 0x01: {
            if (left < 8)
                return 1;
            uint64_t bits;
            double d;
            memcpy(&bits, q, 8);
            memcpy(&d, q, 8);
            if (d != d && bits != 0x7ff8000000000000ULL)
                return 1;
            need = 8;
            break;
        }
        case 0x02: case 0x0D: case 0x0E:
            if (left < 5 || (n = rd32(q)) < 1 || n > left - 4 || q[4 + n - 1] != 0)
                return 1;
            if (t == 0x0D && memchr(q + 4, 0, n - 1))
                return 1;
            need = 4 + (size_t)n;
            break;
        case 0x03: case 0x04:
            if (walk(q, left, depth + 1, t == 0x04))
                return 1;
            need = rd32(q);
            break;
        case 0x05:
            if (left < 5 || (n = rd32(q)) > left - 5 || q[4] == 0x02)
                return 1;
            need = 5 + (size_t)n;
            break;
        case 0x06: case 0x0A: case 0x7F: case 0xFF:
            need = 0;
            break;
        case 0x07:
            need = 12;
            break;
        case 0x08:
            if (left < 1 || q[0] > 1)
                return 1;
            need = 1;
            break;
        case 0x09: case 0x11: case 0x12:
            need = 8;
            break;
        case 0x10:
            need = 4;
            break;
        case 0x13:
            if (left < 16 || !mno_ejson_dec_exact(q))
                return 1;
            need = 16;
            break;
        case 0x0B: {
            const uint8_t *z1 = memchr(q, 0, left), *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
            if (!z2 || !opts_canonical((const char *)z1 + 1, (size_t)(z2 - z1 - 1)))
                return 1;
            need = (size_t)(z2 + 1 - q);
            break;
        }
        case 0x0C:
            if (left < 5 || (n = rd32(q)) < 1 || n > left - 4 || q[4 + n - 1] != 0 || memchr(q + 4, 0, n - 1))
                return 1;
            need = 4 + (size_t)n + 12;
            break;
        case 0x0F: {
            if (left < 14 || (n = rd32(q)) > left || n < 14)
                return 1;
            uint32_t sl = rd32(q + 4);
            if (sl < 1 || sl > n - 8 || q[8 + sl - 1] != 0 || memchr(q + 8, 0, sl - 1) ||
                walk(q + 8 + sl, n - 8 - sl, depth + 1, 0) || rd32(q + 8 + sl) != n - 8 - sl)
                return 1;
            need = n;
            break;
        }
        default:
            return 1;
        }
        if (need > left)
            return 1;
        q += need;
    }
    return 0;
}

int mno_ejson_suspect(const uint8_t *doc, size_t len)
{
    return walk(doc, len, 1, 0);
}

int mno_ejson_exact(const char *text, size_t n, const uint8_t *doc, size_t len)
{
    mno_buf b = MNO_BUF_INIT;
    int same = 0;
    int rc = mno_ejson_text_to_buf(text, n, &b);
    if (rc == 0) {
        same = b.len == len && memcmp(b.data, doc, len) == 0;
    } else if (rc > 0) {
        /* the reader's general path: jansson, the checks, the tree walk or libbson */
        json_t *v = json_loadb(text, n, JSON_ALLOW_NUL, NULL);
        char key[256], why[256];
        bson_t *d = v ? mno_ejson_to_bson(v, key, sizeof key, why, sizeof why) : NULL;
        same = d && d->len == len && memcmp(bson_get_data(d), doc, len) == 0;
        bson_destroy(d);
        json_decref(v);
    }
    mno_buf_release(&b);
    return same;
}
