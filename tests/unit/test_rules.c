/* test_rules.c: the rules files of the live-environment tools: every verb, values, continued lines, and errors with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "rules.h"

static mno_rules *parse(const char *text, mno_error *e)
{
    mno_error_clear(e);
    return mno_rules_parse(text, strlen(text), "t.rules", e);
}

static void test_rules_ok(void **state)
{
    (void)state;
    mno_error e;
    mno_rules *rs = parse("# comment\n"
                          "connector public.organizations: set oauth_uid = null,  # tokens\n"
                          "   sync_enabled = false, name = 'it''s', n = -1.5\n"
                          "\n"
                          "connector public.users: unique uid\n"
                          "mnohub *: verified\n"
                          "connec  *: verified\n",
                          &e);
    assert_non_null(rs);
    assert_int_equal(rs->n, 4);
    const mno_rule *r = &rs->r[0];
    assert_string_equal(r->kind, "connector");
    assert_string_equal(r->name, "public.organizations");
    assert_int_equal(r->verb, MNO_RULE_SET);
    assert_int_equal(r->line, 2);
    assert_int_equal(r->ncols, 4);
    assert_null(r->vals[0]);
    assert_string_equal(r->vals[1], "false");
    assert_string_equal(r->vals[2], "it's");
    assert_string_equal(r->vals[3], "-1.5");
    assert_string_equal(r->text, "set oauth_uid = null, sync_enabled = 'false', name = 'it''s', n = '-1.5'");
    assert_int_equal(rs->r[1].verb, MNO_RULE_UNIQUE);
    assert_string_equal(rs->r[1].cols[0], "uid");
    assert_int_equal(rs->r[1].line, 5);
    assert_int_equal(rs->r[2].verb, MNO_RULE_VERIFIED);
    assert_string_equal(rs->r[3].kind, "connec");
    assert_string_equal(rs->r[3].text, "verified");
    mno_rules_free(rs);
    mno_rules_free(NULL);
}

/* Quoted identifiers as in scope files (lib/scope/lex.c): a table keeps its ns form, a column
   is unquoted ("" is a quote). */
static void test_rules_quoted(void **state)
{
    (void)state;
    mno_error e;
    mno_rules *rs = parse("mnohub public.\"Org Table\": set \"Frozen At\" = 'x', \"a\"\"b\" = null, plain = 1\n"
                          "connector \"My Schema\".users: unique \"User Uid\"\n",
                          &e);
    assert_non_null(rs);
    assert_string_equal(rs->r[0].name, "public.\"Org Table\"");
    assert_int_equal(rs->r[0].ncols, 3);
    assert_string_equal(rs->r[0].cols[0], "Frozen At");
    assert_string_equal(rs->r[0].cols[1], "a\"b");
    assert_string_equal(rs->r[0].cols[2], "plain");
    assert_string_equal(rs->r[1].name, "\"My Schema\".users");
    assert_string_equal(rs->r[1].cols[0], "User Uid");
    mno_rules_free(rs);
}

static void check_err(const char *text, const char *want)
{
    mno_error e;
    mno_rules *rs = parse(text, &e);
    assert_null(rs);
    assert_int_equal(e.code, MNO_E_SCOPE);
    assert_string_equal(e.msg, want);
}

static void test_rules_errors(void **state)
{
    (void)state;
    check_err("\nconnecter t: set a = 1\n", "t.rules:2: unknown source kind 'connecter' (mnohub, connector or connec)");
    check_err("mnohub t set a = 1\n", "t.rules:1: expected ':' after 't'");
    check_err("mnohub t: drop a\n", "t.rules:1: unknown rule 'drop' (set, unique or verified)");
    check_err("mnohub t: set a = b\n",
              "t.rules:1: expected a value (null, true, false, a number or 'text') after '=', found 'b'");
    check_err("mnohub t: set a = 1 b = 2\n", "t.rules:1: expected ',' or the end of the rule, found 'b'");
    check_err("mnohub t: set a = 1, a = 2\n", "t.rules:1: column 'a' is set twice");
    check_err("mnohub t: set a = 'x\n", "t.rules:1: unterminated string");
    check_err("mnohub t: set a = 1\n# c\nmnohub t: set b = 2\n",
              "t.rules:3: mnohub t: a second 'set' rule (the first is at line 1)");
    check_err("mnohub *: set a = 1\n", "t.rules:1: '*' (the whole source) goes only with 'verified'");
    check_err("mnohub t: verified\n", "t.rules:1: 'verified' goes with '*' (the whole source), not a table");
    check_err("mnohub t: unique a b\n", "t.rules:1: unexpected 'b' at the end of the rule");
    check_err("mnohub t: set a = 1,\n\n", "t.rules:1: expected a column after ','");
    check_err("mnohub t: set a = 1 ; x\n", "t.rules:1: unexpected character ';'");
    /* quoting: the scope files' errors, and one column per quoted word */
    check_err("mnohub t: set \"a = 1\n", "t.rules:1: unterminated quoted identifier \"a = 1");
    check_err("mnohub t: set \"\" = 1\n", "t.rules:1: empty quoted identifier in '\"\"'");
    check_err("mnohub t: set a\"b\" = 1\n", "t.rules:1: malformed quoting in 'a\"': a quote in the middle of a name part");
    check_err("mnohub t: set \"a\"b = 1\n", "t.rules:1: malformed quoting in '\"a\"b': text after a closing quote");
    check_err("mnohub t: set x.\"b\" = 1\n", "t.rules:1: bad column name 'x.\"b\"'");
    check_err("mnohub t: set \"a\" = 1, a = 2\n", "t.rules:1: column 'a' is set twice");
    check_err("mnohub t: unique \"a\".\"b\"\n", "t.rules:1: bad column name '\"a\".\"b\"'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_ok),
        cmocka_unit_test(test_rules_errors),
        cmocka_unit_test(test_rules_quoted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
