/* test_pgname.c: the archive's PostgreSQL ns form (lib/engine/pg/pgname.c: split, join, canonical form,
   reserved schemas) and quoted identifiers in scope files (lib/scope/scope.c), with their file:line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "pgname.h"
#include "scope.h"

/* Splits ns and checks its parts (want_schema NULL: no schema part). */
static void split_ok(const char *ns, const char *want_schema, const char *want_table)
{
    char *schema, *table;
    const char *why = NULL;
    assert_int_equal(mno_pgns_split(ns, &schema, &table, &why), 0);
    if (want_schema)
        assert_string_equal(schema, want_schema);
    else
        assert_null(schema);
    assert_string_equal(table, want_table);
    free(schema);
    free(table);
}

static void split_bad(const char *ns, const char *want_why)
{
    char *schema = (char *)1, *table = (char *)1;
    const char *why = NULL;
    assert_int_equal(mno_pgns_split(ns, &schema, &table, &why), -1);
    assert_null(schema);
    assert_null(table);
    assert_string_equal(why, want_why);
}

static void join_is(const char *schema, const char *table, const char *want)
{
    char *s = mno_pgns_join(schema, table);
    assert_string_equal(s, want);
    /* and it reads back as the same parts */
    split_ok(s, schema, table);
    free(s);
}

static void test_join(void **state)
{
    (void)state;
    join_is("public", "users", "public.users");
    join_is("my.schema", "t", "\"my.schema\".t");
    join_is("public", "With Space", "public.\"With Space\"");
    join_is("Other Schema", "T", "\"Other Schema\".\"T\"");
    join_is("public", "q\"uote", "public.\"q\"\"uote\"");
    join_is("public", "a.b", "public.\"a.b\"");
    join_is("Schéma", "tâble", "\"Schéma\".\"tâble\"");
    join_is("public", "select", "public.select");     /* plain: a keyword needs no quotes here */
    join_is("public", "_x9", "public._x9");
    join_is("public", "9x", "public.\"9x\"");
    join_is("public", "x$", "public.\"x$\"");
    join_is(NULL, "Users", "\"Users\"");
}

static void test_split(void **state)
{
    (void)state;
    /* version 1: bare parts verbatim, split at the first dot */
    split_ok("public.users", "public", "users");
    split_ok("public.Users", "public", "Users");
    split_ok("my.schema.t", "my", "schema.t");
    split_ok("public.With Space", "public", "With Space");
    split_ok("users", NULL, "users");
    split_ok("pg_authid", NULL, "pg_authid");
    /* quoted parts */
    split_ok("\"my.schema\".t", "my.schema", "t");
    split_ok("\"my.schema\".\"a.b\"", "my.schema", "a.b");
    split_ok("public.\"q\"\"uote\"", "public", "q\"uote");
    split_ok("\"\"\"\".\"\"\"\"", "\"", "\"");
    split_ok("\"pg_catalog\".pg_authid", "pg_catalog", "pg_authid");
    split_ok("\"only.one\"", NULL, "only.one");
    split_bad("", "empty name part");
    split_bad(".t", "empty name part");
    split_bad("public.", "empty name part");
    split_bad("\"public.t", "unterminated quoted identifier");
    split_bad("public.\"t", "unterminated quoted identifier");
    split_bad("\"\".t", "empty quoted identifier");
    split_bad("\"a\"b.t", "a quoted identifier must be followed by '.' or end the name");
    split_bad("public.\"t\"x", "text after the quoted table name");
    split_bad("public.\"t\".x", "text after the quoted table name");
}

static void test_canon_reserved(void **state)
{
    (void)state;
    const char *why;
    char *c = mno_pgns_canon("\"public\".\"users\"", &why);
    assert_string_equal(c, "public.users");
    free(c);
    c = mno_pgns_canon("Public.Users", &why);
    assert_string_equal(c, "\"Public\".\"Users\"");
    free(c);
    assert_null(mno_pgns_canon("\"x", &why));
    assert_string_equal(why, "unterminated quoted identifier");
    assert_true(mno_pgname_reserved_schema("pg_catalog"));
    assert_true(mno_pgname_reserved_schema("pg_toast"));
    assert_true(mno_pgname_reserved_schema("pg_temp_3"));
    assert_true(mno_pgname_reserved_schema("pg_toast_temp_3"));
    assert_true(mno_pgname_reserved_schema("information_schema"));
    assert_true(mno_pgname_reserved_schema("mno_migrate"));
    assert_false(mno_pgname_reserved_schema("public"));
    assert_false(mno_pgname_reserved_schema("PG_CATALOG"));
    assert_false(mno_pgname_reserved_schema("pgx"));
}

static mno_scope *parse(const char *text, mno_error *e)
{
    mno_error_clear(e);
    return mno_scope_parse(text, strlen(text), "q.scope", e);
}

static void test_scope_quoted(void **state)
{
    (void)state;
    mno_error e;
    const char *text =
        "\"Other Schema\".\"T\": root \"Tenant Col\" plain\n"
        "public.\"with space\": parent \"Org Id\" -> \"Other Schema\".\"T\".\"Id\"\n"
        "\"my.schema\".t: parent org_id -> \"my.schema\".\"a.b\".id when \"Kind\" = 'x'\n"
        "\"With Space\": global\n"
        "Mixed.Case: skip\n"
        "\"public\".\"q\"\"uote\": global\n";
    mno_scope *s = parse(text, &e);
    assert_non_null(s);
    assert_int_equal(s->n, 6);
    assert_string_equal(s->rules[0].name, "\"Other Schema\".\"T\"");
    assert_int_equal(s->rules[0].ncols, 2);
    assert_string_equal(s->rules[0].cols[0], "Tenant Col");
    assert_string_equal(s->rules[0].cols[1], "plain");
    assert_string_equal(s->rules[1].cols[0], "Org Id");
    assert_string_equal(s->rules[1].ref_ns, "\"Other Schema\".\"T\"");
    assert_string_equal(s->rules[1].ref_col, "Id");
    assert_string_equal(s->rules[2].ref_ns, "\"my.schema\".\"a.b\"");
    assert_string_equal(s->rules[2].ref_col, "id");
    assert_string_equal(s->rules[2].guard_col, "Kind");
    /* PostgreSQL: qualified and written in the archive's ns form */
    assert_int_equal(mno_scope_qualify(s, "public", &e), 0);
    assert_string_equal(s->rules[0].name, "\"Other Schema\".\"T\"");
    assert_string_equal(s->rules[1].name, "public.\"with space\"");
    assert_string_equal(s->rules[1].ref_ns, "\"Other Schema\".\"T\"");
    assert_string_equal(s->rules[2].ref_ns, "\"my.schema\".\"a.b\"");
    assert_string_equal(s->rules[3].name, "public.\"With Space\"");
    assert_string_equal(s->rules[4].name, "\"Mixed\".\"Case\"");
    assert_string_equal(s->rules[5].name, "public.\"q\"\"uote\"");
    mno_scope_free(s);
}

static void scope_err(const char *text, const char *want)
{
    mno_error e;
    mno_scope *s = parse(text, &e);
    if (s)
        fail_msg("parsed without error: %s", text);
    assert_int_equal(e.code, MNO_E_SCOPE);
    assert_string_equal(e.msg, want);   /* "file:line: what" */
}

static void test_scope_quote_errors(void **state)
{
    (void)state;
    scope_err("a: global\n\"Other Schema.T: global\n", "q.scope:2: unterminated quoted identifier \"Other Schema.T: global");
    scope_err("public.\"\": global\n", "q.scope:1: empty quoted identifier in 'public.\"\"'");
    scope_err("public.a\"b\": global\n", "q.scope:1: malformed quoting in 'public.a\"': a quote in the middle of a name part");
    scope_err("\"a\"b.t: global\n", "q.scope:1: malformed quoting in '\"a\"b': text after a closing quote");
    scope_err("\"a\"\"b\"\"\".t: skip\n\"x\"\"y\"z: global\n", "q.scope:2: malformed quoting in '\"x\"\"y\"z': text after a closing quote");
    scope_err("t: parent c -> \"S\".\"T\".\"Col\"x\n", "q.scope:1: malformed quoting in '\"S\".\"T\".\"Col\"x': text after a closing quote");
    scope_err("t: parent c -> \"S.T.Col\"\n", "q.scope:1: expected TABLE.COLUMN after '->', found '\"S.T.Col\"'");
    scope_err("t: root \"a\".b\n", "q.scope:1: bad column name '\"a\".b'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_canon_reserved),
        cmocka_unit_test(test_scope_quoted),
        cmocka_unit_test(test_scope_quote_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
