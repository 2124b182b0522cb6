/* test_scrub.c: scrub rule files (every form, the syntax errors with file:line), HMAC-SHA-256 against RFC 4231, the text actions, and MongoDB documents scrubbed along dotted paths into sub-documents and arrays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "scrub.h"

static mno_scrub *parse(const char *text, mno_error *e)
{
    mno_error_clear(e);
    return mno_scrub_parse(text, strlen(text), "t.scrub", e);
}

static void test_every_form(void **state)
{
    (void)state;
    mno_error e;
    mno_scrub *s = parse("# comment\n"
                         "public.users: null a b   # two columns\n"
                         "\n"
                         "public.users: set 'it''s # no comment' c\n"
                         "*.people: email email.address when source = 'connec'\n"
                         "\"my.schema\".t: hash \"Odd Col\"\n"
                         "db.c: drop x.y\r\n",
                         &e);
    assert_non_null(s);
    assert_int_equal(s->n, 6);
    assert_int_equal(s->need_key, 1);
    assert_string_equal(s->rules[0].ns, "public.users");
    assert_string_equal(s->rules[1].col, "b");
    assert_int_equal(s->rules[1].line, 2);
    assert_int_equal(s->rules[2].action, MNO_SCRUB_SET);
    assert_string_equal(s->rules[2].value, "it's # no comment");
    assert_int_equal(s->rules[2].line, 4);
    assert_string_equal(s->rules[3].ns, "*.people");
    assert_string_equal(s->rules[3].source, "connec");
    assert_null(s->rules[0].source);
    assert_string_equal(s->rules[4].ns, "\"my.schema\".t");
    assert_string_equal(s->rules[4].col, "Odd Col");   /* a quoted column, unquoted */
    assert_int_equal(s->rules[5].action, MNO_SCRUB_DROP);
    mno_scrub_free(s);
    s = parse("public.t: null x\n", &e);
    assert_int_equal(s->need_key, 0);
    mno_scrub_free(s);
}

static void test_errors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"public.t null x", "t.scrub:1: expected 'TABLE: ACTION COLUMN...' (a rule starts with a table or collection and ':')"},
        {"\n\nt: null x", "t.scrub:3: bad table name 't' (expected SCHEMA.TABLE or DATABASE.COLLECTION)"},
        {"public.t:", "t.scrub:1: expected an action after ':' (null, drop, set, hash or email)"},
        {"public.t: wipe x", "t.scrub:1: unknown action 'wipe' (expected null, drop, set, hash or email)"},
        {"public.t: set x", "t.scrub:1: set needs a value in single quotes: set 'VALUE' COLUMN..."},
        {"public.t: null", "t.scrub:1: expected a column after 'null'"},
        {"public.t: null x when source = 'a' y", "t.scrub:1: expected when source = 'KIND' at the end of the rule"},
        {"public.t: null x = y", "t.scrub:1: unexpected '=' where a column was expected"},
        {"public.t: null x..y", "t.scrub:1: bad column name 'x..y'"},
        {"public.t: null x\npublic.t: hash x", "t.scrub:2: public.t.x already has a rule (line 1)"},
        {"public.t: set 'x", "t.scrub:1: unterminated string"},
        {"public.t: null \"x", "t.scrub:1: unterminated quoted identifier \"x"},
        {"public.t: null a\"b\"", "t.scrub:1: malformed quoting in 'a\"': a quote in the middle of a name part"},
        {"public.t: null \"a\"b", "t.scrub:1: malformed quoting in '\"a\"b': text after a closing quote"},
        {"public.\"\": null a", "t.scrub:1: empty quoted identifier in 'public.\"\"'"},
        {"public.t: null x;", "t.scrub:1: unexpected character ';'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mno_error e;
        mno_scrub *s = parse(cases[i][0], &e);
        assert_null(s);
        assert_int_equal(e.code, MNO_E_SCOPE);
        assert_string_equal(e.msg, cases[i][1]);
    }
    /* quoted columns and field path parts unquoted ("" is a quote), the ns in its ns form */
    {
        mno_error e2;
        mno_scrub *q = parse("public.\"T x\": null \"Mixed Case\" \"a\"\"b\" \"x.y\"\n"
                             "db.people: drop email.\"home address\".\"zip\"\n", &e2);
        assert_non_null(q);
        assert_string_equal(q->rules[0].ns, "public.\"T x\"");
        assert_string_equal(q->rules[0].col, "Mixed Case");
        assert_string_equal(q->rules[1].col, "a\"b");
        assert_string_equal(q->rules[2].col, "x.y");
        assert_string_equal(q->rules[3].col, "email.home address.zip");
        mno_scrub_free(q);
    }
    /* the same column twice is fine for two sources */
    mno_error e;
    mno_scrub *s = parse("public.t: null x when source = 'a'\npublic.t: hash x when source = 'b'\n", &e);
    assert_non_null(s);
    mno_scrub_free(s);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    mno_hmac *h = mno_hmac_new("Jefe", 4);
    mno_buf b = MNO_BUF_INIT;
    assert_non_null(h);
    const char *m = "what do ya want for nothing?";
    assert_int_equal(mno_hmac_hex(h, m, strlen(m), &b), 0);
    assert_int_equal(b.len, 64);
    assert_memory_equal(b.data, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 64);
    /* again: the context is reused with the same key */
    mno_buf_reset(&b);
    assert_int_equal(mno_hmac_hex(h, m, strlen(m), &b), 0);
    assert_memory_equal(b.data, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 64);
    mno_buf_release(&b);
    mno_hmac_free(h);
    mno_hmac_free(NULL);
}

static void test_text_actions(void **state)
{
    (void)state;
    mno_hmac *h = mno_hmac_new("Jefe", 4);
    mno_buf b = MNO_BUF_INIT, want = MNO_BUF_INIT;
    int isnull;
    const char *m = "what do ya want for nothing?";
    char email[64];
    snprintf(email, sizeof email, "%s@x@example.com", m);
    /* email: the local part is everything before the last '@' */
    assert_int_equal(mno_scrub_text(MNO_SCRUB_EMAIL, NULL, h, email, strlen(email) - 0, &b, &isnull), 0);
    assert_int_equal(isnull, 0);
    mno_buf_reset(&want);
    char local[64];
    snprintf(local, sizeof local, "%s@x", m);
    mno_hmac_hex(h, local, strlen(local), &want);
    mno_buf_adds(&want, "@example.com");
    assert_int_equal(b.len, want.len);
    assert_memory_equal(b.data, want.data, b.len);
    /* no '@': the whole value hashed */
    mno_buf_reset(&b);
    assert_int_equal(mno_scrub_text(MNO_SCRUB_EMAIL, NULL, h, m, strlen(m), &b, &isnull), 0);
    assert_memory_equal(b.data, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 64);
    /* null stays null for hash and email; set and null */
    mno_buf_reset(&b);
    assert_int_equal(mno_scrub_text(MNO_SCRUB_HASH, NULL, h, NULL, 0, &b, &isnull), 0);
    assert_int_equal(isnull, 1);
    assert_int_equal(mno_scrub_text(MNO_SCRUB_SET, "v", h, NULL, 0, &b, &isnull), 0);
    assert_int_equal(isnull, 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(mno_scrub_text(MNO_SCRUB_NULL, NULL, h, "x", 1, &b, &isnull), 0);
    assert_int_equal(isnull, 1);
    mno_buf_release(&b);
    mno_buf_release(&want);
    mno_hmac_free(h);
}

static bson_t *doc(const char *json)
{
    bson_error_t err;
    bson_t *d = bson_new_from_json((const uint8_t *)json, -1, &err);
    assert_non_null(d);
    return d;
}

static void test_bson_paths(void **state)
{
    (void)state;
    mno_error e;
    mno_scrub *s = parse("d.c: drop secret\n"
                         "d.c: null a.b\n"
                         "d.c: set 'S' lines.name\n"
                         "d.c: hash n\n"
                         "d.c: null missing.x\n",
                         &e);
    assert_non_null(s);
    mno_scrub_rule *rules[5];
    for (size_t i = 0; i < 5; i++)
        rules[i] = &s->rules[i];
    mno_hmac *h = mno_hmac_new("Jefe", 4);
    bson_t *in = doc("{\"_id\": 1, \"secret\": \"x\", \"a\": {\"b\": \"y\", \"c\": 2}, "
                     "\"lines\": [{\"name\": \"l1\", \"q\": 1}, 5, {\"q\": 2}, {\"name\": \"S\"}], "
                     "\"n\": {\"$numberInt\": \"7\"}, \"z\": null}");
    bson_t out = BSON_INITIALIZER;
    int changed = 0, hits[5] = {0};
    assert_int_equal(mno_scrub_bson(in, rules, 5, h, &out, &changed, hits), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(hits[0], 1);
    assert_int_equal(hits[1], 1);
    assert_int_equal(hits[2], 1);
    assert_int_equal(hits[3], 1);
    assert_int_equal(hits[4], 0);
    /* the int32 7 hashed from its canonical Extended JSON text */
    mno_buf hn = MNO_BUF_INIT;
    const char *ntext = "{ \"$numberInt\" : \"7\" }";
    mno_hmac_hex(h, ntext, strlen(ntext), &hn);
    char want[600];
    snprintf(want, sizeof want,
             "{ \"_id\" : 1, \"a\" : { \"b\" : null, \"c\" : 2 }, \"lines\" : [ { \"name\" : \"S\", \"q\" : 1 }, 5, "
             "{ \"q\" : 2 }, { \"name\" : \"S\" } ], \"n\" : \"%.64s\", \"z\" : null }",
             hn.data);
    char *got = bson_as_relaxed_extended_json(&out, NULL);
    assert_string_equal(got, want);
    bson_free(got);
    /* a document the rules do not touch: unchanged, the same bytes */
    bson_t *same = doc("{\"_id\": 2, \"a\": {\"b\": null}, \"lines\": [{\"name\": \"S\"}]}");
    bson_t out2 = BSON_INITIALIZER;
    assert_int_equal(mno_scrub_bson(same, rules + 1, 2, h, &out2, &changed, NULL), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(out2.len, same->len);
    assert_memory_equal(bson_get_data(&out2), bson_get_data(same), same->len);
    bson_destroy(&out2);
    bson_destroy(same);
    mno_buf_release(&hn);
    bson_destroy(&out);
    bson_destroy(in);
    mno_hmac_free(h);
    mno_scrub_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_form), cmocka_unit_test(test_errors), cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_text_actions), cmocka_unit_test(test_bson_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
