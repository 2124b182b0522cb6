/* test_ejson_text.c: the reader's text-to-BSON fast path (mno_ejson_text_to_buf, engine_mongo_json.c) never takes a text the general path (jansson, then libbson) refuses, and gives libbson's bytes for what it takes: long strings at every offset, strict UTF-8, escapes, NUL, member names given twice, a reused buffer. */
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

static mno_buf reused = MNO_BUF_INIT;

/*
 * text through the fast path (into a bson_t, and appended to a reused buffer that holds
 * earlier bytes: the same verdict and bytes, the earlier bytes kept).
 * When it takes the text, the general path must take it too (jansson as the reader calls it,
 * then libbson) with the same bytes. Returns 0 (taken) or 1 (left to the general path).
 */
static int judge(const char *text, size_t n)
{
    bson_t a = BSON_INITIALIZER;
    int rc = mno_ejson_text_to_bson(text, n, &a);
    mno_buf_reset(&reused);
    assert_int_equal(mno_buf_adds(&reused, "earlier"), 0);
    int rc2 = mno_ejson_text_to_buf(text, n, &reused);
    assert_int_equal(rc, rc2);
    assert_true(rc == 0 || rc == 1);
    assert_memory_equal(reused.data, "earlier", 7);
    if (rc == 0) {
        assert_int_equal(a.len, reused.len - 7);
        assert_memory_equal(bson_get_data(&a), reused.data + 7, a.len);
        json_error_t je;
        json_t *j = json_loadb(text, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
        if (!j)
            fail_msg("the fast path took what jansson refuses (%s): %.*s", je.text, (int)n, text);
        json_decref(j);
        bson_error_t be;
        bson_t *slow = bson_new_from_json((const uint8_t *)text, (ssize_t)n, &be);
        if (!slow)
            fail_msg("the fast path took what libbson refuses (%s): %.*s", be.message, (int)n, text);
        if (slow->len != a.len || memcmp(bson_get_data(slow), bson_get_data(&a), a.len) != 0)
            fail_msg("the fast path differs from libbson on %.*s", (int)n, text);
        bson_destroy(slow);
    }
    if (rc != 0)
        assert_int_equal(reused.len, 7);
    bson_destroy(&a);
    return rc;
}

static int judge_s(const char *text) { return judge(text, strlen(text)); }

/* {"k":"<pre><piece><post>"} with the piece at every offset 0..40 of a string of 0..60 plain
   bytes: the 16-byte scan must stop, note or skip it exactly as the byte loop would. */
static void around(const char *piece, int want)
{
    char text[256], body[128];
    for (int len = 0; len <= 60; len += 3)
        for (int at = 0; at <= 40 && at <= len; at++) {
            memset(body, 'x', sizeof body);
            snprintf(text, sizeof text, "{\"k\":\"%.*s%s%.*s\"}", at, body, piece, len - at, body);
            int rc = judge_s(text);
            if (want >= 0 && rc != want)
                fail_msg("%s: expected %d, got %d", text, want, rc);
        }
}

static void test_strings_at_every_offset(void **state)
{
    (void)state;
    /* taken: plain bytes, escapes, valid UTF-8 */
    around("", 0);
    around("\\\"", 0);
    around("\\\\", 0);
    around("\\n\\t\\u0001\\u00e9", 0);
    around("\xc3\xa9", 0);
    around("\xe2\x82\xac", 0);
    around("\xf0\x9f\x98\x80", 0);
    around("\\ud83d\\ude00", 0);
    around("\x7f", 0);
    around("\\u0000", 0);     /* NUL inside a string value: BSON utf8 may hold it */
    /* left to the general path: raw control characters, invalid UTF-8, lone surrogates */
    around("\x01", 1);
    around("\x1f", 1);
    around("\t", 1);
    around("\xc3", 1);
    around("\xc0\x80", 1);
    around("\xed\xa0\x80", 1);
    around("\xf4\x90\x80\x80", 1);
    around("\xff", 1);
    around("\x80", 1);
    around("\\ud800", 1);
    around("\\udc00", 1);
    around("\\x", 1);
}

static void test_names_and_numbers(void **state)
{
    (void)state;
    /* a name given twice in one object: jansson refuses the line, so the fast path leaves it */
    assert_int_equal(judge_s("{\"a\":\"1\",\"a\":\"2\"}"), 1);
    assert_int_equal(judge_s("{\"a\":\"1\",\"b\":{\"x\":null,\"y\":null,\"x\":true}}"), 1);
    assert_int_equal(judge_s("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"b\":\"4\"}"), 1);
    assert_int_equal(judge_s("{\"a\\u00e9\":\"1\",\"a\xc3\xa9\":\"2\"}"), 1);
    assert_int_equal(judge_s("{\"c\":{\"$code\":\"x\",\"$scope\":{\"v\":null,\"v\":null}}}"), 1);
    /* the same name in different objects is fine, and so are names that only share a prefix */
    assert_int_equal(judge_s("{\"a\":{\"a\":{\"a\":null}},\"b\":[{\"a\":null},{\"a\":null}],\"ab\":null,\"\":null}"), 0);
    assert_int_equal(judge_s("{\"x\":{\"k\":null},\"k\":{\"x\":null}}"), 0);
    /* many members, none twice: taken up to 128 in one object, more left to jansson */
    for (int many = 100; many <= 300; many += 200) {
        mno_buf b = MNO_BUF_INIT;
        mno_buf_adds(&b, "{");
        for (int i = 0; i < many; i++)
            mno_buf_addf(&b, "%s\"k%d\":{\"$numberInt\":\"%d\"}", i ? "," : "", i, i);
        mno_buf_adds(&b, "}");
        assert_int_equal(judge(b.data, b.len), many > 128);
        /* ... and one given twice at the end */
        b.len--;
        mno_buf_adds(&b, ",\"k7\":null}");
        assert_int_equal(judge(b.data, b.len), 1);
        mno_buf_release(&b);
    }
    /* a name holding NUL: left to libbson */
    assert_int_equal(judge_s("{\"a\\u0000b\":\"1\"}"), 1);
    /* number wrappers: exact forms only; NUL inside goes to libbson */
    static const char *const taken[] = {
        "{\"i\":{\"$numberInt\":\"-2147483648\"},\"j\":{\"$numberInt\":\"2147483647\"},\"z\":{\"$numberInt\":\"-0\"}}",
        "{\"l\":{\"$numberLong\":\"-9223372036854775808\"},\"m\":{\"$numberLong\":\"9223372036854775807\"}}",
        "{\"l\":{\"$numberLong\":\"007\"},\"d\":{\"$date\":{\"$numberLong\":\"-1\"}}}",
        "{\"d\":{\"$numberDouble\":\"1.5\"},\"x\":{\"$numberDecimal\":\"1.10\"},\"o\":{\"$oid\":\"5f1b2c3d4e5f60718293a4b5\"}}",
    };
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        if (judge_s(taken[i]) != 0)
            fail_msg("left to libbson: %s", taken[i]);
    static const char *const left[] = {
        "{\"i\":{\"$numberInt\":\"2147483648\"}}", "{\"i\":{\"$numberInt\":\"-2147483649\"}}",
        "{\"l\":{\"$numberLong\":\"9223372036854775808\"}}", "{\"l\":{\"$numberLong\":\"-9223372036854775809\"}}",
        "{\"l\":{\"$numberLong\":\"99999999999999999999999\"}}", "{\"i\":{\"$numberInt\":\"\"}}",
        "{\"i\":{\"$numberInt\":\"-\"}}", "{\"i\":{\"$numberInt\":\"+1\"}}", "{\"i\":{\"$numberInt\":\"1 \"}}",
        "{\"i\":{\"$numberInt\":\"--1\"}}", "{\"i\":{\"$numberInt\":\"1\\u0000\"}}",
        "{\"i\":{\"$numberInt\":\"12\\u0000x\"}}", "{\"l\":{\"$numberLong\":\"5\\u00002\"}}",
        "{\"d\":{\"$numberDouble\":\"1\\u0000\"}}", "{\"x\":{\"$numberDecimal\":\"1\\u00002\"}}",
        "{\"o\":{\"$oid\":\"5f1b2c3d4e5f60718293a4b\\u0000\"}}", "{\"d\":{\"$date\":{\"$numberLong\":\"1\\u0000\"}}}",
    };
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++)
        if (judge_s(left[i]) != 1)
            fail_msg("the fast path took %s", left[i]);
}

/* Random documents printed by libbson (the archive's form), and the same text cut short or with
   one byte changed: the reused parser agrees with a fresh one and with the general path. */
static void test_random_and_damaged(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a", "\"", "\\", "\n", "\x01", "\xc3\xa9", "\xf0\x9f\x98\x80",
                                         "0123456789abcdef0123", "\x7f", "</", " ", ""};
    unsigned seed = 99;
    for (int n = 0; n < 1500; n++) {
        bson_t d = BSON_INITIALIZER;
        char key[16], str[512];
        int nf = 1 + rand_r(&seed) % 10;
        for (int f = 0; f < nf; f++) {
            snprintf(key, sizeof key, "k%d", rand_r(&seed) % 4 == 0 ? 0 : f);   /* sometimes twice */
            size_t len = 0;
            int np = rand_r(&seed) % 12;
            for (int q = 0; q < np; q++) {
                const char *p = pieces[rand_r(&seed) % (int)(sizeof pieces / sizeof pieces[0])];
                memcpy(str + len, p, strlen(p));
                len += strlen(p);
            }
            switch (rand_r(&seed) % 5) {
            case 0: bson_append_utf8(&d, key, -1, str, (int)len); break;
            case 1: BSON_APPEND_INT32(&d, key, rand_r(&seed) - RAND_MAX / 2); break;
            case 2: BSON_APPEND_INT64(&d, key, ((int64_t)rand_r(&seed) << 31) - ((int64_t)1 << 40)); break;
            case 3: BSON_APPEND_DOUBLE(&d, key, (double)rand_r(&seed) / 7); break;
            default: BSON_APPEND_DATE_TIME(&d, key, (int64_t)rand_r(&seed) * 1000); break;
            }
        }
        char *text = bson_as_canonical_extended_json(&d, NULL);
        assert_non_null(text);
        size_t tl = strlen(text);
        int rc = judge(text, tl);
        /* libbson's canonical text is taken unless a name is given twice */
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
        if (j && rc != 0)
            fail_msg("canonical text left to libbson: %s", text);
        if (!j)
            assert_int_equal(rc, 1);
        json_decref(j);
        judge(text, (size_t)rand_r(&seed) % (tl + 1));
        size_t at = (size_t)rand_r(&seed) % tl;
        char was = text[at];
        text[at] = (char)(rand_r(&seed) % 256);
        judge(text, tl);
        text[at] = was;
        bson_free(text);
        bson_destroy(&d);
    }
}

static int teardown(void **state)
{
    (void)state;
    mno_buf_release(&reused);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_at_every_offset),
        cmocka_unit_test(test_names_and_numbers),
        cmocka_unit_test(test_random_and_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
