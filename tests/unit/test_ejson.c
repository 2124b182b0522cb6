/* test_ejson.c: the fast canonical Extended JSON writer against libbson's own, on every BSON type, awkward values, random documents and corrupt bytes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <bson/bson.h>
#include "ejson.h"

/* The key cache the checks below print with (test_key_cache), NULL for none. */
static mno_ejson_keys *use_keys;

/* mno_ejson_canonical(doc) equals bson_as_canonical_extended_json(doc), both failing together;
   with corrupt (1), mno_ejson may also refuse what libbson prints, when libbson's text does
   not read back as the same bytes (libbson prints some corrupt values as garbage). */
static void same_as_libbson_c(const uint8_t *data, size_t len, int corrupt)
{
    mno_buf b = MNO_BUF_INIT;
    bson_t d;
    char *want = NULL;
    if (bson_init_static(&d, data, len))
        want = bson_as_canonical_extended_json(&d, NULL);
    mno_buf_adds(&b, "prefix:");
    int rc = use_keys ? mno_ejson_canonical_keys(use_keys, &b, data, len) : mno_ejson_canonical(&b, data, len);
    if (!want) {
        if (rc != MNO_EJSON_INVALID)
            fail_msg("libbson refuses a document that mno_ejson writes as %s", b.data + 7);
        assert_string_equal(b.data, "prefix:");
    } else {
        if (rc != 0 && corrupt) {
            bson_error_t be;
            bson_t *back = bson_new_from_json((const uint8_t *)want, -1, &be);
            int same = back && back->len == len && memcmp(bson_get_data(back), data, len) == 0;
            bson_destroy(back);
            if (!same) {
                bson_free(want);
                mno_buf_release(&b);
                return;
            }
        }
        if (rc != 0)
            fail_msg("mno_ejson refuses (%d) a document that libbson writes as %s", rc, want);
        assert_string_equal(b.data + 7, want);
        assert_int_equal(b.len, 7 + strlen(want));
    }
    bson_free(want);
    mno_buf_release(&b);
}

static void same_as_libbson(const uint8_t *data, size_t len) { same_as_libbson_c(data, len, 0); }

static void same_json(const char *json)
{
    bson_error_t be;
    bson_t *d = bson_new_from_json((const uint8_t *)json, -1, &be);
    if (!d)
        fail_msg("bad test json %s: %s", json, be.message);
    same_as_libbson(bson_get_data(d), d->len);
    bson_destroy(d);
}

static void test_every_type(void **state)
{
    (void)state;
    same_json("{}");
    same_json("{\"a\": {}, \"b\": [], \"c\": [[], {}, [{}]], \"d\": {\"e\": {\"f\": []}}}");
    same_json("{\"i\": {\"$numberInt\": \"-2147483648\"}, \"j\": {\"$numberInt\": \"2147483647\"}, \"z\": 0}");
    same_json("{\"l\": {\"$numberLong\": \"-9223372036854775808\"}, \"m\": {\"$numberLong\": \"9223372036854775807\"}}");
    same_json("{\"d\": 1.0, \"e\": -0.0, \"f\": 0.1, \"g\": 1e300, \"h\": 5e-324, \"k\": 123456789012345678,"
              " \"n\": {\"$numberDouble\": \"NaN\"}, \"p\": {\"$numberDouble\": \"Infinity\"},"
              " \"q\": {\"$numberDouble\": \"-Infinity\"}, \"r\": -3.0, \"s\": 1.7976931348623157e308}");
    same_json("{\"x\": {\"$numberDecimal\": \"1.000\"}, \"y\": {\"$numberDecimal\": \"-1.23E-6170\"},"
              " \"z\": {\"$numberDecimal\": \"NaN\"}, \"w\": {\"$numberDecimal\": \"-Infinity\"},"
              " \"v\": {\"$numberDecimal\": \"9.999999999999999999999999999999999E+6144\"}, \"u\": {\"$numberDecimal\": \"-0.00\"}}");
    same_json("{\"s\": \"\", \"t\": \"h\\u00e9llo \\u2603 \\ud83d\\ude00\", \"u\": \"a\\u0000b\","
              " \"c\": \"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f \\\"q\\\" \\\\ /\"}");
    same_json("{\"k\\\"ey\\u0001\\u00e9\": 1, \"\": 2}");
    same_json("{\"b0\": {\"$binary\": {\"base64\": \"\", \"subType\": \"00\"}},"
              " \"b1\": {\"$binary\": {\"base64\": \"AQ==\", \"subType\": \"01\"}},"
              " \"b2\": {\"$binary\": {\"base64\": \"AQID\", \"subType\": \"02\"}},"
              " \"b3\": {\"$binary\": {\"base64\": \"c//SZESzTGmQ6OfR38A11A==\", \"subType\": \"03\"}},"
              " \"b4\": {\"$binary\": {\"base64\": \"AAECAwQFBgcICQoLDA0ODw==\", \"subType\": \"04\"}},"
              " \"b5\": {\"$binary\": {\"base64\": \"1B2M2Y8AsgTpgAmY7PhCfg==\", \"subType\": \"05\"}},"
              " \"b6\": {\"$binary\": {\"base64\": \"AQIDBA==\", \"subType\": \"80\"}},"
              " \"b7\": {\"$binary\": {\"base64\": \"AQIDBAU=\", \"subType\": \"ff\"}}}");
    same_json("{\"o\": {\"$oid\": \"5f0000000000000000000001\"}, \"p\": {\"$oid\": \"ffffffffffffffffffffffff\"}}");
    same_json("{\"t\": true, \"f\": false, \"n\": null, \"u\": {\"$undefined\": true}}");
    same_json("{\"d\": {\"$date\": {\"$numberLong\": \"-62135596800000\"}}, \"e\": {\"$date\": {\"$numberLong\": \"0\"}},"
              " \"f\": {\"$date\": {\"$numberLong\": \"253402300799999\"}}}");
    same_json("{\"r\": {\"$regularExpression\": {\"pattern\": \"^a.*\\\\d\\\"$\", \"options\": \"xsmi\"}},"
              " \"s\": {\"$regularExpression\": {\"pattern\": \"\", \"options\": \"\"}}}");
    same_json("{\"p\": {\"$dbPointer\": {\"$ref\": \"people\", \"$id\": {\"$oid\": \"5f0000000000000000000002\"}}}}");
    same_json("{\"c\": {\"$code\": \"function(){return \\\"x\\\";}\"}, \"s\": {\"$symbol\": \"sym\\u00e9\"}}");
    same_json("{\"w\": {\"$code\": \"x\", \"$scope\": {\"x\": 1, \"y\": {\"z\": []}}}, \"v\": {\"$code\": \"\", \"$scope\": {}}}");
    same_json("{\"ts\": {\"$timestamp\": {\"t\": 4294967295, \"i\": 4294967295}}, \"t0\": {\"$timestamp\": {\"t\": 0, \"i\": 1}}}");
    same_json("{\"a\": {\"$minKey\": 1}, \"b\": {\"$maxKey\": 1}, \"c\": [{\"$minKey\": 1}, {\"$maxKey\": 1}]}");
}

/* Strings of every byte, alone and in pairs and triples: libbson and mno_ejson agree on what
   is valid UTF-8 and how it is escaped. */
static void test_utf8_bytes(void **state)
{
    (void)state;
    uint8_t s[4];
    for (int a = 0; a < 256; a++) {
        for (int b = -1; b < 256; b++) {
            size_t n = 0;
            s[n++] = (uint8_t)a;
            if (b >= 0)
                s[n++] = (uint8_t)b;
            bson_t d = BSON_INITIALIZER;
            /* bson_append_utf8 takes any bytes: the test wants the invalid ones too */
            bson_append_utf8(&d, "s", 1, (const char *)s, (int)n);
            same_as_libbson(bson_get_data(&d), d.len);
            bson_destroy(&d);
        }
    }
    static const char *const seqs[] = {
        "\xe0\x80\xaf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xed\xa0\x80", "\xef\xbf\xbf", "\xf0\x8f\xbf\xbf",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xc0\x80",
        "\xe2\x98", "\xe2\x98\x83\x83", "a\xe2\x98\x83", "\xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        bson_t d = BSON_INITIALIZER;
        bson_append_utf8(&d, "s", 1, seqs[i], (int)strlen(seqs[i]));
        same_as_libbson(bson_get_data(&d), d.len);
        bson_destroy(&d);
        bson_t k = BSON_INITIALIZER;
        bson_append_int32(&k, seqs[i], -1, 1);
        same_as_libbson(bson_get_data(&k), k.len);
        bson_destroy(&k);
    }
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void rnd_str(char *s, size_t *n, int allow_bad)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f",
                                         "\xc3\xa9", "\xe2\x98\x83", "\xf0\x9f\x98\x80", "/", "$", "."};
    size_t len = 0, k = rnd() % 12;
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
        memcpy(s + len, p, strlen(p));
        len += strlen(p);
    }
    if (allow_bad && rnd() % 10 == 0)
        s[len++] = (char)(0x80 | rnd() % 128);
    s[len] = 0;
    *n = len;
}

static void rnd_doc(bson_t *d, int depth, int is_array)
{
    int n = (int)(rnd() % 7);
    for (int i = 0; i < n; i++) {
        char key[64], s[128];
        size_t sl;
        if (is_array) {
            snprintf(key, sizeof key, "%d", i);
        } else {
            rnd_str(key, &sl, 0);
            if (strchr(key, '\0') != key + sl || sl == 0)
                snprintf(key, sizeof key, "k%d", i);
        }
        bson_t c;
        bson_oid_t oid;
        uint8_t bin[20];
        for (size_t j = 0; j < sizeof bin; j++)
            bin[j] = (uint8_t)rnd();
        switch (rnd() % 19) {
        case 0: bson_append_int32(d, key, -1, (int32_t)rnd()); break;
        case 1: bson_append_int64(d, key, -1, (int64_t)((uint64_t)rnd() << 32 | rnd())); break;
        case 2: {
            uint64_t u = (uint64_t)rnd() << 32 | rnd();
            double x;
            memcpy(&x, &u, 8);
            bson_append_double(d, key, -1, rnd() % 2 ? x : (double)(int32_t)rnd() / 64.0);
            break;
        }
        case 3: rnd_str(s, &sl, 1); bson_append_utf8(d, key, -1, s, (int)sl); break;
        case 4:
            if (depth < 6) {
                bson_append_document_begin(d, key, -1, &c);
                rnd_doc(&c, depth + 1, 0);
                bson_append_document_end(d, &c);
            }
            break;
        case 5:
            if (depth < 6) {
                bson_append_array_begin(d, key, -1, &c);
                rnd_doc(&c, depth + 1, 1);
                bson_append_array_end(d, &c);
            }
            break;
        case 6: bson_append_binary(d, key, -1, (bson_subtype_t)(rnd() % 2 ? rnd() % 9 : 0x80), bin, rnd() % 20); break;
        case 7: memcpy(&oid, bin, 12); bson_append_oid(d, key, -1, &oid); break;
        case 8: bson_append_bool(d, key, -1, rnd() % 2); break;
        case 9: bson_append_date_time(d, key, -1, (int64_t)((uint64_t)rnd() << 32 | rnd())); break;
        case 10: bson_append_null(d, key, -1); break;
        case 11: rnd_str(s, &sl, 0); bson_append_regex(d, key, -1, s, rnd() % 2 ? "smix" : "u"); break;
        case 12: rnd_str(s, &sl, 0); bson_append_code(d, key, -1, s); break;
        case 13: rnd_str(s, &sl, 0); bson_append_symbol(d, key, -1, s, (int)sl); break;
        case 14: {
            bson_t sc = BSON_INITIALIZER;
            if (depth < 4)
                rnd_doc(&sc, depth + 1, 0);
            rnd_str(s, &sl, 0);
            bson_append_code_with_scope(d, key, -1, s, &sc);
            bson_destroy(&sc);
            break;
        }
        case 15: bson_append_timestamp(d, key, -1, rnd(), rnd()); break;
        case 16: {
            bson_decimal128_t x = {(uint64_t)rnd() << 32 | rnd(), (uint64_t)rnd() << 32 | rnd()};
            bson_append_decimal128(d, key, -1, &x);
            break;
        }
        case 17: rnd() % 2 ? bson_append_minkey(d, key, -1) : bson_append_maxkey(d, key, -1); break;
        case 18: bson_append_undefined(d, key, -1); break;
        }
    }
}

/* Doubles: multiples of 1/16 (printed without printf) and their neighbours, both signs, the
   10^15 boundary, zeros, tiny and huge values, each as libbson prints it. */
static void test_doubles(void **state)
{
    (void)state;
    static const double fixed[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.0625, -0.0625, 0.1, 1e15, -1e15,
                                   1e15 - 0.0625, 1e15 - 1, 999999999999999.9375, 1e15 + 1, 1e16, 1e21, 1e-4,
                                   1.0 / 32, 1.0 / 3, 5e-324, 1.7976931348623157e308, 12345.75, -7.25, 100.0};
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] + 200000; i++) {
        double x;
        if (i < sizeof fixed / sizeof fixed[0]) {
            x = fixed[i];
        } else {
            seed = seed * 1103515245 + 12345;
            int64_t k = (int64_t)(seed >> 1) * ((i % 7) == 0 ? 4657 : 1);
            switch (i % 5) {
            case 0: x = (double)k / 16; break;
            case 1: x = -(double)k / 16; break;
            case 2: x = (double)k * 16777216.0 + (double)(k % 16) / 16; break;
            case 3: { /* the double just below k/16 */
                uint64_t bits;
                x = (double)k / 16 + 1;
                memcpy(&bits, &x, sizeof bits);
                bits--;
                memcpy(&x, &bits, sizeof x);
                break;
            }
            default: x = (double)k / 100; break;
            }
        }
        bson_t *d = bson_new();
        BSON_APPEND_DOUBLE(d, "v", x);
        same_as_libbson(bson_get_data(d), d->len);
        bson_destroy(d);
    }
}

static void test_random_documents(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        bson_t d = BSON_INITIALIZER;
        rnd_doc(&d, 0, 0);
        same_as_libbson(bson_get_data(&d), d.len);
        bson_destroy(&d);
    }
}

/* Decimal128 (printed without libbson's bson_decimal128_to_string): every combination field,
   random bit patterns (non-canonical ones included), and canonical values of every digit
   count and exponent, each as libbson prints it. */
static void test_decimal128(void **state)
{
    (void)state;
    static const char *const fixed[] = {
        "0", "-0", "0.00", "-0.00", "1", "-1", "0.1", "1.000", "12.34", "100", "1E+2", "1E+3",
        "0.000001", "0.0000001", "1E-7", "123456789012345678901234567890.1234", "NaN", "Infinity",
        "-Infinity", "9.999999999999999999999999999999999E+6144", "1E-6176", "-1.23E-6170",
        "0E-6176", "0E+6111", "1234567890123456789", "18446744073709551615", "18446744073709551616",
        "99999999999999999999", "0.00000000000000000001", "-5.5E-12", "7E+0",
    };
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] + 400000; i++) {
        bson_decimal128_t d;
        if (i < sizeof fixed / sizeof fixed[0]) {
            assert_true(bson_decimal128_from_string(fixed[i], &d));
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint64_t y = x * 0x2545F4914F6CDD1DULL;
            switch (i % 6) {
            case 0: /* any bits */
                d.high = x;
                d.low = y;
                break;
            case 1: /* the 11 form and its specials: combination 24..31 */
                d.high = (x & ~(0x1fULL << 58)) | ((uint64_t)(24 + y % 8) << 58);
                d.low = y;
                break;
            case 2: /* coefficients near 2^113 and 10^34, non-canonical ones included */
                d.high = (x & 0xfffe000000000000ULL & ~(0x3ULL << 61)) | (0x1ed09bead87c0ULL + (y % 0x40000) - 0x20000);
                d.low = y;
                break;
            default: { /* canonical: digits and an exponent */
                char txt[64];
                int nd = 1 + (int)(y % 34), n = 0;
                if (x & 1)
                    txt[n++] = '-';
                for (int k = 0; k < nd; k++)
                    txt[n++] = (char)('0' + (k == 0 && nd > 1 ? 1 + (x >> (k % 60)) % 9 : (y >> (k % 60)) % 10));
                int e = i % 3 ? (int)(x % 30) - 20 : (int)(x % 12287) - 6176;
                snprintf(txt + n, sizeof txt - (size_t)n, "E%d", e - (e > 6111 - nd + 1 ? nd : 0));
                assert_true(bson_decimal128_from_string(txt, &d));
                break;
            }
            }
        }
        bson_t *doc = bson_new();
        BSON_APPEND_DECIMAL128(doc, "d", &d);
        same_as_libbson(bson_get_data(doc), doc->len);
        bson_destroy(doc);
    }
}

/* Strings and keys of every length up to 40 and around the writer's 4096-byte steps, with an
   escape, a multi-byte sequence (valid or not) or NUL at every offset: 8-byte runs, chunk
   edges and sequences split by them, as libbson prints (or refuses) them. */
static void test_string_runs(void **state)
{
    (void)state;
    static const char *const ins[] = {"\"", "\\", "\n", "\x01", "\x7f", "\xc3\xa9", "\xe2\x98\x83",
                                      "\xf0\x9f\x98\x80", "\xe2\x98", "\xc3", "\x80", "\xed\xa0\x80", ""};
    static const size_t lens[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 31, 33, 40, 4088, 4093, 4094,
                                  4095, 4096, 4097, 4100, 8191, 8192, 8195, 12290};
    char *buf = malloc(13000);
    assert_non_null(buf);
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        for (size_t ii = 0; ii < sizeof ins / sizeof ins[0]; ii++) {
            size_t il = strlen(ins[ii]) ? strlen(ins[ii]) : 1; /* "" stands for a NUL */
            if (il > n)
                continue;
            size_t step = n < 64 ? 1 : 1 + rnd() % 7;
            for (size_t at = 0; at + il <= n; at += (n < 64 || at + 12 >= n || (at > 4080 && at < 4100) ||
                                                        (at > 8180 && at < 8200)) ? 1 : step * 97) {
                for (size_t k = 0; k < n; k++)
                    buf[k] = (char)('a' + (k * 7 + li) % 26);
                memcpy(buf + at, strlen(ins[ii]) ? ins[ii] : "\0", il);
                bson_t d = BSON_INITIALIZER;
                bson_append_utf8(&d, "s", 1, buf, (int)n);
                same_as_libbson(bson_get_data(&d), d.len);
                /* and with bytes after it (the writer looks 16 or 32 bytes ahead when it may) */
                bson_append_utf8(&d, "pad", 3, "0123456789abcdef0123456789abcdef0123456789", -1);
                same_as_libbson(bson_get_data(&d), d.len);
                bson_destroy(&d);
                if (n <= 40 && strlen(ins[ii]) && n) {
                    /* as a key too (no NUL inside), in a document and in an array */
                    buf[n] = '\0';
                    bson_t k = BSON_INITIALIZER, a;
                    bson_append_int32(&k, buf, -1, 1);
                    bson_append_array_begin(&k, "a", 1, &a);
                    bson_append_int32(&a, buf, -1, 2);
                    bson_append_array_end(&k, &a);
                    same_as_libbson(bson_get_data(&k), k.len);
                    bson_destroy(&k);
                }
            }
        }
    }
    free(buf);
}

/* Truncated and bit-flipped documents: never a crash, and the same verdict as libbson. */
static void test_corrupt_bytes(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        bson_t d = BSON_INITIALIZER;
        rnd_doc(&d, 0, 0);
        uint8_t *buf = malloc(d.len);
        memcpy(buf, bson_get_data(&d), d.len);
        size_t len = d.len;
        if (len > 5) {
            size_t at = 4 + rnd() % (len - 5);
            buf[at] = (uint8_t)rnd();
        }
        same_as_libbson_c(buf, len, 1);
        mno_buf b = MNO_BUF_INIT;
        assert_int_not_equal(mno_ejson_canonical(&b, buf, len > 4 ? len - 1 : len), MNO_EJSON_NOMEM);
        mno_buf_release(&b);
        free(buf);
        bson_destroy(&d);
    }
}

/* Nesting: 100 levels (MongoDB's limit) is written whole; beyond 200, where libbson would
   print a lossy "{ ... }", mno_ejson refuses. */
static void test_deep_nesting(void **state)
{
    (void)state;
    mno_buf out = MNO_BUF_INIT;
    for (int levels = 100; levels <= 201; levels += 101) {
        bson_t *d = bson_new();
        BSON_APPEND_INT32(d, "a", 1);
        for (int i = 0; i < levels; i++) {
            bson_t *o = bson_new();
            BSON_APPEND_DOCUMENT(o, "a", d);
            bson_destroy(d);
            d = o;
        }
        mno_buf_reset(&out);
        int rc = mno_ejson_canonical(&out, bson_get_data(d), d->len);
        if (levels == 100) {
            assert_int_equal(rc, 0);
            same_as_libbson(bson_get_data(d), d->len);
        } else {
            assert_int_equal(rc, MNO_EJSON_INVALID);
        }
        bson_destroy(d);
    }
    mno_buf_release(&out);
}

/* Keys a collection might hold: plain, escaped, unicode, up to and past the 16 bytes of an
   element's header that the cache keys on (type, 14 bytes of key, NUL). */
static const char *const cache_keys[] = {
    "_id", "a", "channel_id", "k\"q", "back\\slash", "tab\there", "\x01" "ctl", "caf\xc3\xa9", "\xe2\x98\x83",
    "\xf0\x9f\x98\x80" "emoji", "abcdefghijklm", "abcdefghijklmn", "abcdefghijklmno", "abcdefghijklmnop",
    "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11", "\"\"\"\"\"\"\"\"\"\"\"\"\"\"",
};
#define NKEYS (sizeof cache_keys / sizeof cache_keys[0])

/* Appends key k with a value whose type depends on v: the same key with values of several types. */
static void append_kv(bson_t *d, const char *k, unsigned v)
{
    bson_t c;
    switch (v % 9) {
    case 0: bson_append_int32(d, k, -1, (int32_t)v - 4); break;
    case 1: bson_append_utf8(d, k, -1, v % 2 ? "short" : "a string of more than sixteen bytes", -1); break;
    case 2: bson_append_date_time(d, k, -1, (int64_t)v * 1000 - 7); break;
    case 3: bson_append_double(d, k, -1, (double)v / 16); break;
    case 4: bson_append_int64(d, k, -1, -(int64_t)v); break;
    case 5: {
        bson_decimal128_t x;
        bson_decimal128_from_string(v % 2 ? "12.34" : "-1E+3", &x);
        bson_append_decimal128(d, k, -1, &x);
        break;
    }
    case 6: {
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, "5f0000000000000000000001");
        bson_append_oid(d, k, -1, &oid);
        break;
    }
    case 7:
        bson_append_document_begin(d, k, -1, &c);
        append_kv(&c, k, v + 1);
        bson_append_int32(&c, "n", 1, (int32_t)v);
        bson_append_document_end(d, &c);
        break;
    default: {
        bson_t e;
        bson_append_array_begin(d, k, -1, &c);
        bson_append_document_begin(&c, "0", 1, &e);
        bson_append_bool(&e, k, -1, v % 2);
        bson_append_document_end(&c, &e);
        bson_append_bool(&c, "1", 1, true);
        bson_append_array_end(d, &c);
        break;
    }
    }
}

/*
 * The key cache (mno_ejson_canonical_keys): documents printed one after the other through one
 * cache, as a dump does, each as libbson prints it: keys repeated from the document before,
 * keys that differ from it, a key given twice in one document, the same key with a value of
 * another type, escaped and unicode keys, keys around the 16-byte header the cache keys on,
 * nested documents and arrays, keys near the end of the document (no room to look 16 bytes
 * ahead) and far from it; then every other check of this file again through a cache.
 */
static void test_key_cache(void **state)
{
    (void)state;
    use_keys = calloc(1, sizeof *use_keys);
    assert_non_null(use_keys);
    for (unsigned i = 0; i < 4000; i++) {
        bson_t d = BSON_INITIALIZER;
        unsigned shape = i % 7, nk = 1 + i % NKEYS;
        for (unsigned k = 0; k < nk; k++) {
            /* shape 0..3: the keys in order (repeating the document before); 4: another
               order; 5: a key given twice; 6: the first key only, then padding */
            unsigned at = shape == 4 ? (k * 5 + i) % NKEYS : k;
            if (shape == 6 && k)
                break;
            append_kv(&d, cache_keys[at], shape < 2 ? k : i + k);
            if (shape == 5 && k == 1)
                append_kv(&d, cache_keys[at], i);
        }
        if (i % 2)
            bson_append_utf8(&d, "pad", 3, "after the keys, more than 16 bytes to read ahead", -1);
        same_as_libbson(bson_get_data(&d), d.len);
        bson_destroy(&d);
    }
    /* a cached key, then documents where its bytes are cut short or its UTF-8 is bad */
    for (unsigned i = 0; i < 2; i++) {
        bson_t d = BSON_INITIALIZER;
        bson_append_int32(&d, "channel_id", -1, 1);
        bson_append_utf8(&d, "pad", 3, "after the keys, more than 16 bytes to read ahead", -1);
        same_as_libbson(bson_get_data(&d), d.len);
        uint8_t *buf = malloc(d.len);
        assert_non_null(buf);
        memcpy(buf, bson_get_data(&d), d.len);
        buf[5 + 3] = i ? 0xff : 'X';          /* "chaXnel_id" / a bad byte in it */
        same_as_libbson_c(buf, d.len, 1);
        memcpy(buf, bson_get_data(&d), d.len);
        buf[0] = 12;                          /* the document ends inside the key */
        buf[11] = 0;
        same_as_libbson_c(buf, 12, 1);
        free(buf);
        bson_destroy(&d);
    }
    /* a cached key whose bytes are all there, in a document that ends at its NUL */
    bson_t o = BSON_INITIALIZER, sub;
    bson_append_document_begin(&o, "s", 1, &sub);
    bson_append_int32(&sub, "channel_id", -1, 1);
    bson_append_document_end(&o, &sub);
    bson_append_utf8(&o, "pad", 3, "after the keys, more than 16 bytes to read ahead", -1);
    same_as_libbson(bson_get_data(&o), o.len);
    uint8_t *cut = malloc(o.len);
    assert_non_null(cut);
    memcpy(cut, bson_get_data(&o), o.len);
    assert_int_equal(cut[11], BSON_TYPE_INT32);
    assert_memory_equal(cut + 12, "channel_id", 11);
    cut[7] = 16;                              /* s: 7..22, its last byte the key's NUL */
    same_as_libbson_c(cut, o.len, 1);
    mno_buf ob = MNO_BUF_INIT;
    assert_int_equal(mno_ejson_canonical_keys(use_keys, &ob, cut, o.len), MNO_EJSON_INVALID);
    free(cut);
    bson_destroy(&o);
    /* the same with a Decimal128 and the bytes that may be read ending 16 bytes after the
       element's type (ASan: nothing read past them) */
    bson_t o2 = BSON_INITIALIZER, sub2;
    bson_decimal128_t x;
    bson_decimal128_from_string("1.5", &x);
    bson_append_document_begin(&o2, "s", 1, &sub2);
    bson_append_decimal128(&sub2, "channel_id", -1, &x);
    bson_append_document_end(&o2, &sub2);
    same_as_libbson(bson_get_data(&o2), o2.len);
    cut = malloc(27);
    assert_non_null(cut);
    memcpy(cut, bson_get_data(&o2), 27);
    cut[0] = 27;
    cut[7] = 16;
    cut[26] = 0;
    mno_buf_reset(&ob);
    assert_int_equal(mno_ejson_canonical_keys(use_keys, &ob, cut, 27), MNO_EJSON_INVALID);
    mno_buf_release(&ob);
    free(cut);
    bson_destroy(&o2);
    test_every_type(state);
    test_every_type(state);
    test_utf8_bytes(state);
    test_string_runs(state);
    test_random_documents(state);
    test_corrupt_bytes(state);
    test_deep_nesting(state);
    free(use_keys);
    use_keys = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_utf8_bytes),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_decimal128),
        cmocka_unit_test(test_string_runs),
        cmocka_unit_test(test_corrupt_bytes),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_key_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
