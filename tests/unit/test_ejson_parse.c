/* test_ejson_parse.c: the reader's Extended JSON text -> BSON fast path (mno_ejson_text_to_buf) against libbson's parser: every BSON type, numbers at their edges, strings of every escape and byte, random documents, mutated text. */
#define _GNU_SOURCE
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
#include <jansson.h>
#include "buf.h"
#include "engine_mongo_json.h"

static uint32_t rnd_state = 4242;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/*
 * What the reader's other paths make of text[0..n): the tree path (jansson, then
 * mno_json_to_bson) when it takes the text, else libbson's parser. They differ only where
 * libbson mis-reads canonical text (code with scope as an array element, "$code" inside a
 * scope); the tree path then gives the document that was printed. NULL when both refuse.
 */
static bson_t *reference(const char *text, size_t n, int *by_libbson)
{
    *by_libbson = 0;
    json_error_t je;
    json_t *j = json_loadb(text, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (j) {
        bson_t *d = bson_new();
        int rc = mno_json_to_bson(j, d);
        json_decref(j);
        if (rc == 0)
            return d;
        bson_destroy(d);
    }
    bson_error_t be;
    *by_libbson = 1;
    return bson_new_from_json((const uint8_t *)text, (ssize_t)n, &be);
}

/*
 * The fast path on text[0..n): when it takes the text (0), the reference must give the same
 * bytes; when both paths refuse the text, the fast path must leave it (1). Output goes after
 * a prefix that must survive, and a refusal leaves the buffer as it was. Returns the fast
 * path's verdict.
 */
static int check_n(const char *text, size_t n)
{
    static const char prefix[] = "\x01prefix";
    mno_buf b = MNO_BUF_INIT;
    mno_buf_add(&b, prefix, sizeof prefix - 1);
    int rc = mno_ejson_text_to_buf(text, n, &b);
    int by_libbson;
    bson_t *want = reference(text, n, &by_libbson);
    assert_true(rc == 0 || rc == 1);
    assert_memory_equal(b.data, prefix, sizeof prefix - 1);
    /* text the tree path refuses (duplicate keys) with a $scope: libbson may mis-read it */
    int comparable = !(by_libbson && memmem(text, n, "$scope", 6));
    if (rc == 0) {
        if (!want)
            fail_msg("fast path took what libbson and the tree path refuse: %.*s", (int)n, text);
        if (comparable && (want->len != b.len - (sizeof prefix - 1) ||
            memcmp(bson_get_data(want), b.data + sizeof prefix - 1, want->len) != 0)) {
            size_t k = 0;
            while (k < want->len && k < b.len - (sizeof prefix - 1) &&
                   bson_get_data(want)[k] == (uint8_t)b.data[sizeof prefix - 1 + k])
                k++;
            fail_msg("fast path differs from the reference at byte %zu on %.*s", k, (int)n, text);
        }
    } else {
        assert_int_equal(b.len, sizeof prefix - 1);
    }
    assert_int_equal(b.data[b.len], '\0');
    /* the bson_t form gives the same */
    bson_t t = BSON_INITIALIZER;
    int trc = mno_ejson_text_to_bson(text, n, &t);
    assert_int_equal(trc, rc);
    if (rc == 0)
        assert_memory_equal(bson_get_data(&t), b.data + sizeof prefix - 1, t.len);
    bson_destroy(&t);
    bson_destroy(want);
    mno_buf_release(&b);
    return rc;
}

static int check(const char *text) { return check_n(text, strlen(text)); }

/*
 * The reader's checked converter (mno_ejson_to_bson: mno_ejson_check, then the tree walk or
 * libbson) against libbson's own bson_new_from_json on the same text: what the checks let
 * through gives libbson's bytes (except the code strings with NUL libbson cuts, and what the
 * tree path reads right where libbson mis-reads $code/$scope), and what libbson refuses, the
 * converter refuses too. Returns 1 when the converter took the text.
 */
static int checked_vs_libbson(const char *text, size_t n)
{
    json_t *j = json_loadb(text, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    bson_error_t be;
    bson_t *lb = bson_new_from_json((const uint8_t *)text, (ssize_t)n, &be);
    char key[512], why[300];
    bson_t *ours = j ? mno_ejson_to_bson(j, key, sizeof key, why, sizeof why) : NULL;
    int special = memmem(text, n, "$code", 5) != NULL;
    if (ours && !lb && !special)
        fail_msg("the checked converter took what libbson refuses: %.*s", (int)n, text);
    if (ours && lb && !special && (ours->len != lb->len || memcmp(bson_get_data(ours), bson_get_data(lb), lb->len)))
        fail_msg("the checked converter differs from libbson on %.*s", (int)n, text);
    int took = ours != NULL;
    bson_destroy(ours);
    bson_destroy(lb);
    json_decref(j);
    return took;
}

/* Canonical text (as the archive holds it) takes the fast path and gives back d's bytes. */
static void canonical_fast(const bson_t *d)
{
    char *c = bson_as_canonical_extended_json(d, NULL);
    if (!c)
        return; /* libbson cannot print it (invalid UTF-8): no archive holds it */
    if (check(c) != 0)
        fail_msg("canonical text left to libbson: %s", c);
    mno_buf b = MNO_BUF_INIT;
    assert_int_equal(mno_ejson_text_to_buf(c, strlen(c), &b), 0);
    if (b.len != d->len || memcmp(b.data, bson_get_data(d), d->len) != 0) {
        size_t k = 0;
        while (k < d->len && k < b.len && bson_get_data(d)[k] == (uint8_t)b.data[k])
            k++;
        fail_msg("canonical text does not give back its document (byte %zu of %u/%zu): %s", k, d->len, b.len, c);
    }
    mno_buf_release(&b);
    bson_free(c);
}

static void test_every_type(void **state)
{
    (void)state;
    static const char *const fast[] = {
        "{}",
        "{ \"a\" : \"x\", \"b\" : true, \"c\" : false, \"d\" : null, \"e\" : [], \"f\" : {} }",
        "{\"o\":{\"$oid\":\"5f0000000000000000000001\"},\"O\":{\"$oid\":\"ABCDEFabcdef012345678901\"}}",
        "{\"i\":{\"$numberInt\":\"-2147483648\"},\"j\":{\"$numberInt\":\"2147483647\"},\"k\":{\"$numberInt\":\"-0\"},"
        "\"m\":{\"$numberInt\":\"007\"}}",
        "{\"l\":{\"$numberLong\":\"-9223372036854775808\"},\"m\":{\"$numberLong\":\"9223372036854775807\"},"
        "\"n\":{\"$numberLong\":\"0000000000000000000000000000001\"}}",
        "{\"d\":{\"$numberDouble\":\"1.5\"},\"e\":{\"$numberDouble\":\"-0.0\"},\"f\":{\"$numberDouble\":\"0.1\"},"
        "\"g\":{\"$numberDouble\":\"123456789012345\"},\"h\":{\"$numberDouble\":\"1234567890123456\"},"
        "\"i\":{\"$numberDouble\":\"1E+300\"},\"j\":{\"$numberDouble\":\"-1.5e-10\"},\"k\":{\"$numberDouble\":\"Infinity\"},"
        "\"l\":{\"$numberDouble\":\"-Infinity\"},\"m\":{\"$numberDouble\":\"NaN\"},\"n\":{\"$numberDouble\":\"5e-324\"},"
        "\"o\":{\"$numberDouble\":\"0.30000000000000004\"},\"p\":{\"$numberDouble\":\"99999999999999.9\"}}",
        "{\"x\":{\"$numberDecimal\":\"1.23456789012345678901234567890123E+6000\"},\"y\":{\"$numberDecimal\":\"-Inf\"},"
        "\"z\":{\"$numberDecimal\":\"0.00\"}}",
        "{\"t\":{\"$timestamp\":{\"t\":4294967295,\"i\":0}},\"u\":{\"$timestamp\":{\"t\":1,\"i\":2}}}",
        "{\"d\":{\"$date\":{\"$numberLong\":\"-62135596800000\"}},\"e\":{\"$date\":{\"$numberLong\":\"1475541383000\"}}}",
        "{\"r\":{\"$regularExpression\":{\"pattern\":\"a\\\\d+\",\"options\":\"xsmi\"}}}",
        "{\"b\":{\"$binary\":{\"base64\":\"AQIDBA==\",\"subType\":\"02\"}},\"c\":{\"$binary\":{\"base64\":\"\",\"subType\":\"80\"}}}",
        "{\"c\":{\"$code\":\"function(){}\"},\"s\":{\"$code\":\"y\",\"$scope\":{\"y\":{\"$numberLong\":\"1\"},\"z\":[true]}}}",
        "{\"c\":{\"$code\":\"x\",\"$scope\":{}}}",
        /* libbson reads these two wrong (a bad array key; "$code" as a plain key) */
        "{\"a\":[true,{\"$code\":\"x\",\"$scope\":{\"q\":true}},false]}",
        "{\"c\":{\"$code\":\"y\",\"$scope\":{\"a\":{\"$code\":\"z\"}}}}",
        "{\"y\":{\"$symbol\":\"sym\\u0000bol\"},\"m\":{\"$minKey\":1},\"M\":{\"$maxKey\":1},\"u\":{\"$undefined\":true}}",
        "{\"p\":{\"$dbPointer\":{\"$ref\":\"db.c\",\"$id\":{\"$oid\":\"5f0000000000000000000001\"}}}}",
        "{\"\":\"empty key\",\"a\":[[],{},[null,true,false]],\"s\":\"\\u0000\\u00ff\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
        "{\"caf\xc3\xa9\":\"\xe2\x98\x83\xf0\x9f\x98\x80\",\"k\":\"\\u00e9t\\u00E9\"}",
        " \t\r\n{ \"a\" \n: [ \"x\" , { \"b\" : { \"$numberInt\" : \"1\" } } ] } \n",
    };
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        if (check(fast[i]) != 0)
            fail_msg("left to libbson: %s", fast[i]);
    /* relaxed, legacy and invalid forms: left to libbson (which words any error) */
    static const char *const slow[] = {
        "", "[]", "{", "{\"a\":1}", "{\"n\":1.5}", "{\"d\":{\"$date\":\"2020-01-01T00:00:00Z\"}}",
        "{\"u\":{\"$uuid\":\"73ffd264-44b3-4c69-90e8-e7d1dfc035d4\"}}", "{\"$oid\":\"5f0000000000000000000001\"}",
        "{\"a\":{\"$oid\":\"xyz\"}}", "{\"a\":{\"$oid\":\"5f000000000000000000000\"}}",
        "{\"a\":{\"$numberInt\":\"2147483648\"}}", "{\"a\":{\"$numberInt\":\"-2147483649\"}}",
        "{\"a\":{\"$numberInt\":\" 5\"}}", "{\"a\":{\"$numberInt\":\"+5\"}}", "{\"a\":{\"$numberInt\":\"\"}}",
        "{\"a\":{\"$numberInt\":\"-\"}}", "{\"a\":{\"$numberInt\":\"1\\u00002\"}}",
        "{\"a\":{\"$numberLong\":\"9223372036854775808\"}}", "{\"a\":{\"$numberLong\":\"-9223372036854775809\"}}",
        "{\"a\":{\"$numberDouble\":\"1e999\"}}", "{\"a\":{\"$numberDouble\":\"0x10\"}}", "{\"a\":{\"$numberDouble\":\"\"}}",
        "{\"a\":{\"$numberDouble\":\"NaN\\u0000\"}}", "{\"a\":{\"$binary\":{\"base64\":\"A\",\"subType\":\"00\"}}}",
        "{\"a\":{\"$regex\":\"x\",\"$options\":\"\"}}", "{\"a\":{\"b\":1,\"$c\":2}}", "{\"a\":{\"$minKey\":2}}",
        "{\"a\":{\"$numberInt\":\"1\",\"x\":1}}", "{\"a\":\"x\"} x", "{\"a\":\"x\",}", "{\"a\":[1,]}",
        "{\"a\\u0000b\":1}", "{\"\\u0024oid\":\"x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00x\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"unterminated}",
    };
    for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
        if (check(slow[i]) != 1)
            fail_msg("fast path took %s", slow[i]);
    /* every document above as libbson prints it, canonical: fast */
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
        int by_libbson;
        bson_t *d = reference(fast[i], strlen(fast[i]), &by_libbson);
        assert_non_null(d);
        canonical_fast(d);
        bson_destroy(d);
    }
}

/* Strings of every byte and escape, as values and as keys. */
static void test_string_bytes(void **state)
{
    (void)state;
    char text[128];
    for (int a = 1; a < 256; a++) {
        for (int b = -1; b < 256; b += 7) {
            char s[3] = {(char)a, (char)(b < 0 ? 0 : b), 0};
            if (b <= 0)
                s[1] = 0;
            snprintf(text, sizeof text, "{\"s\":\"%s\"}", s);
            check(text);
            snprintf(text, sizeof text, "{\"%s\":\"v\"}", s);
            check(text);
        }
    }
    for (unsigned u = 0; u < 0x10000; u += (u < 0x900 ? 1 : 97)) {
        snprintf(text, sizeof text, "{\"s\":\"a\\u%04x\\u%04Xb\"}", u, u);
        check(text);
    }
    /* long strings cross the 8-byte fast loop at every offset */
    for (int len = 0; len < 40; len++) {
        for (int at = 0; at <= len; at++) {
            char s[64];
            memset(s, 'x', (size_t)len);
            s[len] = 0;
            static const char *const ins[] = {"\\\"", "\\n", "\xc3\xa9", "\\u00e9"};
            snprintf(text, sizeof text, "{\"s\":\"%.*s%s%s\"}", at, s, ins[(len + at) % 4], s + at);
            if (check(text) != 0)
                fail_msg("left to libbson: %s", text);
        }
    }
}

/* Numbers: int32/int64 edges and random doubles in plain decimal form, against strtod via libbson. */
static void test_numbers(void **state)
{
    (void)state;
    char text[256];
    static const char *const ints[] = {"0", "-0", "1", "-1", "2147483647", "-2147483648", "2147483648",
                                       "-2147483649", "4294967296", "00000000002147483647", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        snprintf(text, sizeof text, "{\"i\":{\"$numberInt\":\"%s\"},\"l\":{\"$numberLong\":\"%s\"}}", ints[i], ints[i]);
        check(text);
        snprintf(text, sizeof text, "{\"l\":{\"$numberLong\":\"%s\"}}", ints[i]);
        check(text);
    }
    static const char *const longs[] = {"9223372036854775807", "-9223372036854775808", "9223372036854775808",
                                        "-9223372036854775809", "18446744073709551616", "18446744073709551615"};
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        snprintf(text, sizeof text, "{\"l\":{\"$numberLong\":\"%s\"},\"d\":{\"$date\":{\"$numberLong\":\"%s\"}}}",
                 longs[i], longs[i]);
        check(text);
    }
    for (int i = 0; i < 200000; i++) {
        char num[64];
        int k = 0, ip = (int)(rnd() % 18) + (i % 50 == 0 ? 0 : 1), fp = (int)(rnd() % 19) - 2;
        if (rnd() % 2)
            num[k++] = '-';
        for (int j = 0; j < ip; j++)
            num[k++] = (char)('0' + (j == 0 && ip > 1 && rnd() % 4 ? 1 + rnd() % 9 : rnd() % 10));
        if (fp >= 0) {
            num[k++] = '.';
            for (int j = 0; j < fp; j++)
                num[k++] = (char)('0' + rnd() % 10);
        }
        num[k] = 0;
        snprintf(text, sizeof text, "{\"d\":{\"$numberDouble\":\"%s\"}}", num);
        check(text);
    }
    /* decimals: plain digits (the fast encoder) and every other form (libbson's) */
    for (int i = 0; i < 100000; i++) {
        char num[128];
        int k = 0, ip = (int)(rnd() % 38), fp = (int)(rnd() % 38) - 2;
        if (rnd() % 2)
            num[k++] = '-';
        for (int j = 0; j < ip; j++)
            num[k++] = (char)('0' + (j == 0 && ip > 1 && rnd() % 4 ? 1 + rnd() % 9 : rnd() % 10));
        if (fp >= 0) {
            num[k++] = '.';
            for (int j = 0; j < fp; j++)
                num[k++] = (char)('0' + rnd() % 10);
        }
        if (rnd() % 8 == 0)
            k += snprintf(num + k, sizeof num - (size_t)k, "E%d", (int)(rnd() % 14000) - 7000);
        num[k] = 0;
        snprintf(text, sizeof text, "{\"d\":{\"$numberDecimal\":\"%s\"}}", num);
        check(text);
    }
    static const char *const decs[] = {"0", "-0", "0.00", "-0.000", "1E+3", "NaN", "-NaN", "Inf", "-Inf", "Infinity",
                                       "9999999999999999999999999999999999", "99999999999999999999999999999999999",
                                       "0000000000000000000000000000000001", "1.000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof decs / sizeof decs[0]; i++) {
        snprintf(text, sizeof text, "{\"d\":{\"$numberDecimal\":\"%s\"}}", decs[i]);
        check(text);
    }
    for (int i = 0; i < 100000; i++) {
        uint64_t u = (uint64_t)rnd() << 32 | rnd();
        double x;
        memcpy(&x, &u, 8);
        if (isnan(x))
            x = NAN;
        if (i % 2)
            x = (double)(int32_t)rnd() / (double)(1 << (rnd() % 20));
        bson_t d = BSON_INITIALIZER;
        BSON_APPEND_DOUBLE(&d, "v", x);
        canonical_fast(&d);
        bson_destroy(&d);
    }
}

static void rnd_str(char *s, size_t *n)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f",
                                         "\xc3\xa9", "\xe2\x98\x83", "\xf0\x9f\x98\x80", "/", "$", ".",
                                         "a long run of plain ascii text"};
    size_t len = 0, k = rnd() % 12;
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
        memcpy(s + len, p, strlen(p));
        len += strlen(p);
    }
    s[len] = 0;
    *n = len;
}

/* A random document of every BSON type (as lib's tests of the writer make them). */
static void rnd_doc(bson_t *d, int depth, int is_array)
{
    int n = (int)(rnd() % 8);
    for (int i = 0; i < n; i++) {
        char key[512], s[512];
        size_t sl;
        if (is_array) {
            /* the index of the element appended next (a skipped case appends none) */
            snprintf(key, sizeof key, "%u", bson_count_keys(d));
        } else {
            rnd_str(key, &sl);
            if (sl == 0 || key[0] == '$')
                snprintf(key, sizeof key, "k%d", i);
            else
                snprintf(key + sl, sizeof key - sl, "%d", i); /* no duplicate keys */
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
            if (isnan(x))
                x = NAN; /* printed "NaN", whatever its payload */
            bson_append_double(d, key, -1, rnd() % 2 ? x : (double)(int32_t)rnd() / 64.0);
            break;
        }
        case 3: rnd_str(s, &sl); bson_append_utf8(d, key, -1, s, (int)sl); break;
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
        case 11: rnd_str(s, &sl); bson_append_regex(d, key, -1, s, rnd() % 2 ? "smix" : "u"); break;
        case 12: rnd_str(s, &sl); bson_append_code(d, key, -1, s); break;
        case 13: rnd_str(s, &sl); bson_append_symbol(d, key, -1, s, (int)sl); break;
        case 14: {
            bson_t sc = BSON_INITIALIZER;
            if (depth < 4)
                rnd_doc(&sc, depth + 1, 0);
            rnd_str(s, &sl);
            bson_append_code_with_scope(d, key, -1, s, &sc);
            bson_destroy(&sc);
            break;
        }
        case 15: bson_append_timestamp(d, key, -1, rnd(), rnd()); break;
        case 16: {
            /* in canonical encoding, as the server keeps them (a random bit pattern may not be) */
            bson_decimal128_t x;
            snprintf(s, sizeof s, "%s%u.%02uE%d", rnd() % 2 ? "-" : "", rnd(), rnd() % 100, (int)(rnd() % 200) - 100);
            bson_decimal128_from_string(rnd() % 9 ? s : rnd() % 2 ? "NaN" : "-Infinity", &x);
            bson_append_decimal128(d, key, -1, &x);
            break;
        }
        case 17: rnd() % 2 ? bson_append_minkey(d, key, -1) : bson_append_maxkey(d, key, -1); break;
        case 18: bson_append_undefined(d, key, -1); break;
        }
    }
}

/* Random documents of every type, printed canonical (the archive's form): all take the fast
   path and give libbson's bytes; printed relaxed: whatever the fast path takes is exact. */
static void test_random_documents(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        bson_t d = BSON_INITIALIZER;
        rnd_doc(&d, 0, 0);
        canonical_fast(&d);
        char *c = bson_as_canonical_extended_json(&d, NULL);
        if (c && !checked_vs_libbson(c, strlen(c)))
            fail_msg("the checked converter refused canonical text: %s", c);
        bson_free(c);
        char *r = bson_as_relaxed_extended_json(&d, NULL);
        if (r) {
            check(r);
            checked_vs_libbson(r, strlen(r));
        }
        bson_free(r);
        bson_destroy(&d);
    }
}

/* Canonical text with a byte changed, dropped or doubled: the fast path never crashes and
   never takes what libbson would parse differently or refuse. */
static void test_mutated_text(void **state)
{
    (void)state;
    static const char subst[] = "{}[]\":,\\ $0189.-+eEnulltrufase\x01\x80\xc3\xff";
    int taken = 0;
    for (int i = 0; i < 30000; i++) {
        bson_t d = BSON_INITIALIZER;
        rnd_doc(&d, 0, 0);
        char *c = bson_as_canonical_extended_json(&d, NULL);
        bson_destroy(&d);
        if (!c)
            continue;
        size_t n = strlen(c);
        char *m = malloc(n + 2);
        memcpy(m, c, n + 1);
        size_t at = rnd() % n;
        switch (rnd() % 3) {
        case 0: m[at] = subst[rnd() % (sizeof subst - 1)]; break;
        case 1: memmove(m + at, m + at + 1, n - at); n--; break;
        default: memmove(m + at + 1, m + at, n - at + 1); n++; break;
        }
        taken += check_n(m, n) == 0;
        checked_vs_libbson(m, n);
        free(m);
        bson_free(c);
    }
    /* some mutations keep valid canonical text (a changed digit or letter) */
    assert_true(taken > 1000);
}

/* Nesting: MongoDB's 100 levels are taken; deeper is left to libbson. */
static void test_deep_nesting(void **state)
{
    (void)state;
    for (int levels = 96; levels <= 98; levels++) {
        mno_buf t = MNO_BUF_INIT;
        for (int i = 0; i < levels; i++)
            mno_buf_adds(&t, i % 2 ? "{\"a\":" : "[");
        mno_buf_adds(&t, "null");
        for (int i = levels - 1; i >= 0; i--)
            mno_buf_adds(&t, i % 2 ? "}" : "]");
        mno_buf d = MNO_BUF_INIT;
        mno_buf_adds(&d, "{\"x\":");
        mno_buf_add(&d, t.data, t.len);
        mno_buf_adds(&d, "}");
        int rc = check(d.data);
        assert_int_equal(rc, levels <= 97 ? 0 : 1);
        mno_buf_release(&t);
        mno_buf_release(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_string_bytes),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_mutated_text),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
