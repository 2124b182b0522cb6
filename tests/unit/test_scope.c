/* test_scope.c: the scope file parser: every rule form, and every syntax error with its file:line message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "scope.h"

static mno_scope *parse(const char *text, mno_error *e)
{
    mno_error_clear(e);
    return mno_scope_parse(text, strlen(text), "t.scope", e);
}

static void test_every_rule(void **state)
{
    (void)state;
    mno_error e;
    const char *text =
        "# a comment line\n"
        "\n"
        "public.tenants: root name id   # trailing comment\n"
        "public.users: parent mnoe_tenant_id -> public.tenants.id\n"
        "public.app_instances: parent owner_id -> public.organizations.id when owner_type = 'Organization'\n"
        "public.app_instances: parent owner_id -> public.users.id when owner_type='It''s # not a comment'\n"
        "public.dashboards: uids text organization_ids -> public.organizations.uid\n"
        "public.widgets: uids json settings at organization_ids -> public.organizations.uid\n"
        "public.reports: uids json payload at a.b-c.d -> organizations.uid\n"
        "public.tags: uids json uid_list -> public.organizations.uid\n"
        "people: match channel_id in org_uids\n"
        "\tpublic.apps:global\r\n"
        "public.sessions: skip";
    mno_scope *s = parse(text, &e);
    assert_non_null(s);
    assert_string_equal(s->file, "t.scope");
    assert_int_equal(s->n, 11);

    mno_scope_rule *r = &s->rules[0];
    assert_string_equal(r->name, "public.tenants");
    assert_int_equal(r->kind, MNO_SCOPE_ROOT);
    assert_int_equal(r->ncols, 2);
    assert_string_equal(r->cols[0], "name");
    assert_string_equal(r->cols[1], "id");
    assert_string_equal(r->text, "root name id");
    assert_int_equal(r->line, 3);
    assert_string_equal(r->file, "t.scope");

    r = &s->rules[1];
    assert_int_equal(r->kind, MNO_SCOPE_PARENT);
    assert_string_equal(r->cols[0], "mnoe_tenant_id");
    assert_string_equal(r->ref_ns, "public.tenants");
    assert_string_equal(r->ref_col, "id");
    assert_null(r->guard_col);
    assert_string_equal(r->text, "parent mnoe_tenant_id -> public.tenants.id");

    r = &s->rules[2];
    assert_string_equal(r->guard_col, "owner_type");
    assert_string_equal(r->guard_val, "Organization");
    assert_string_equal(r->text, "parent owner_id -> public.organizations.id when owner_type = 'Organization'");
    r = &s->rules[3];
    assert_string_equal(r->guard_val, "It's # not a comment");
    assert_string_equal(r->text, "parent owner_id -> public.users.id when owner_type = 'It''s # not a comment'");

    r = &s->rules[4];
    assert_int_equal(r->kind, MNO_SCOPE_UIDS);
    assert_int_equal(r->uids_json, 0);
    assert_string_equal(r->cols[0], "organization_ids");
    assert_int_equal(r->npath, 0);
    assert_string_equal(r->ref_ns, "public.organizations");
    assert_string_equal(r->ref_col, "uid");
    assert_string_equal(r->text, "uids text organization_ids -> public.organizations.uid");

    r = &s->rules[5];
    assert_int_equal(r->uids_json, 1);
    assert_string_equal(r->cols[0], "settings");
    assert_int_equal(r->npath, 1);
    assert_string_equal(r->path[0], "organization_ids");
    assert_string_equal(r->text, "uids json settings at organization_ids -> public.organizations.uid");

    r = &s->rules[6];
    assert_int_equal(r->npath, 3);
    assert_string_equal(r->path[0], "a");
    assert_string_equal(r->path[1], "b-c");
    assert_string_equal(r->path[2], "d");
    assert_string_equal(r->ref_ns, "organizations");

    r = &s->rules[7];
    assert_int_equal(r->npath, 0);
    assert_string_equal(r->text, "uids json uid_list -> public.organizations.uid");

    r = &s->rules[8];
    assert_int_equal(r->kind, MNO_SCOPE_MATCH);
    assert_string_equal(r->name, "people");
    assert_string_equal(r->cols[0], "channel_id");
    assert_string_equal(r->set, "org_uids");
    assert_string_equal(r->text, "match channel_id in org_uids");

    r = &s->rules[9];
    assert_int_equal(r->kind, MNO_SCOPE_GLOBAL);
    assert_string_equal(r->name, "public.apps");
    assert_string_equal(r->text, "global");
    assert_int_equal(r->line, 12);
    r = &s->rules[10];
    assert_int_equal(r->kind, MNO_SCOPE_SKIP);
    assert_int_equal(r->line, 13);

    size_t idx[4];
    assert_int_equal(mno_scope_find(s, "public.app_instances", idx, 4), 2);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 3);
    assert_int_equal(mno_scope_find(s, "public.nothing", idx, 4), 0);
    assert_int_equal(mno_scope_find(s, "public.app_instances", idx, 1), 2);

    assert_int_equal(mno_scope_qualify(s, "public", &e), 0);
    assert_string_equal(s->rules[8].name, "public.people");
    assert_string_equal(s->rules[6].ref_ns, "public.organizations");
    assert_string_equal(s->rules[6].text, "uids json payload at a.b-c.d -> public.organizations.uid");
    assert_string_equal(s->rules[0].name, "public.tenants");
    mno_scope_free(s);
}

static void test_empty(void **state)
{
    (void)state;
    mno_error e;
    mno_scope *s = parse("", &e);
    assert_non_null(s);
    assert_int_equal(s->n, 0);
    mno_scope_free(s);
    s = parse("# only comments\n\n   \n", &e);
    assert_non_null(s);
    assert_int_equal(s->n, 0);
    mno_scope_free(s);
    mno_scope_free(NULL);
}

static void check_error(const char *text, const char *want)
{
    mno_error e;
    mno_scope *s = parse(text, &e);
    if (s)
        fail_msg("parsed without error: %s", text);
    assert_int_equal(e.code, MNO_E_SCOPE);
    assert_string_equal(e.msg, want);
    assert_string_equal(e.input, "t.scope");
}

static void test_errors(void **state)
{
    (void)state;
    check_error("public.users parent a -> b.c\n", "t.scope:1: expected 'NAME: RULE'");
    check_error("\n: root id\n", "t.scope:2: expected 'NAME: RULE'");
    check_error("x:\n", "t.scope:1: x: missing rule after ':'");
    check_error("x: -> a.b\n", "t.scope:1: x: expected a rule after ':', found '->'");
    check_error("x: rooot id\n",
                "t.scope:1: x: unknown rule 'rooot' (expected root, parent, uids, match, global or skip)");
    check_error("a.b: global\n\n.x: skip\n", "t.scope:3: bad name '.x'");
    check_error("a..b: skip\n", "t.scope:1: bad name 'a..b'");
    check_error("x: root\n", "t.scope:1: root: expected at least one column");
    check_error("x: root a = b\n", "t.scope:1: unexpected '=' at the end of the rule");
    check_error("x: root a.\n", "t.scope:1: bad column name 'a.'");
    check_error("x: parent\n", "t.scope:1: expected COLUMN after 'parent'");
    check_error("x: parent -> t.id\n", "t.scope:1: expected COLUMN after 'parent', found '->'");
    check_error("x: parent a t.id\n", "t.scope:1: parent: expected '->' after 'a'");
    check_error("x: parent a ->\n", "t.scope:1: expected TABLE.COLUMN after '->'");
    check_error("x: parent a -> t\n", "t.scope:1: expected TABLE.COLUMN after '->', found 't'");
    check_error("x: parent a -> 't.id'\n", "t.scope:1: expected TABLE.COLUMN after '->', found 't.id'");
    check_error("x: parent a -> t.id when\n", "t.scope:1: expected COLUMN after 'when'");
    check_error("x: parent a -> t.id when k\n", "t.scope:1: when: expected COLUMN = 'VALUE' or COLUMN is null");
    check_error("x: parent a -> t.id when k = v\n", "t.scope:1: when: expected COLUMN = 'VALUE' or COLUMN is null");
    check_error("x: parent a -> t.id when k = 'v\n", "t.scope:1: unterminated string");
    check_error("x: parent a -> t.id when k = 'v' extra\n",
                "t.scope:1: unexpected 'extra' at the end of the rule");
    check_error("x: parent a -> t.id unless k = 'v'\n",
                "t.scope:1: unexpected 'unless' at the end of the rule");
    check_error("x: parent a -> x.id\n", "t.scope:1: x: a table cannot link to itself");
    check_error("x: uids a -> t.uid\n", "t.scope:1: uids: expected 'text' or 'json' after 'uids'");
    check_error("x: uids yaml a -> t.uid\n", "t.scope:1: uids: expected 'text' or 'json' after 'uids'");
    check_error("x: uids text -> t.uid\n", "t.scope:1: expected COLUMN after 'text', found '->'");
    check_error("x: uids text a at k -> t.uid\n", "t.scope:1: uids: 'at' needs a json column");
    check_error("x: uids json a at -> t.uid\n", "t.scope:1: expected KEY after 'at', found '->'");
    check_error("x: uids json a at k. -> t.uid\n", "t.scope:1: bad key path 'k.'");
    check_error("x: uids json a t.uid\n", "t.scope:1: uids: expected '->' after 'a'");
    check_error("x: uids json a at k t.uid\n", "t.scope:1: uids: expected '->' after 'k'");
    check_error("x: uids json a -> t\n", "t.scope:1: expected TABLE.COLUMN after '->', found 't'");
    check_error("x: uids json a -> t.uid more\n", "t.scope:1: unexpected 'more' at the end of the rule");
    check_error("x: match\n", "t.scope:1: expected FIELD after 'match'");
    check_error("x: match channel_id org_uids\n", "t.scope:1: match: expected 'in' after 'channel_id'");
    check_error("x: match channel_id in\n", "t.scope:1: expected SET after 'in'");
    check_error("x: match channel_id in s t\n", "t.scope:1: unexpected 't' at the end of the rule");
    check_error("x: global y\n", "t.scope:1: unexpected 'y' at the end of the rule");
    check_error("x: skip :\n", "t.scope:1: unexpected ':' at the end of the rule");
    check_error("x: root a, b\n", "t.scope:1: unexpected character ','");
    check_error("x: root a;\n", "t.scope:1: unexpected character ';'");
    check_error("x: root \xc3\xa9\n", "t.scope:1: unexpected character 0xc3");
    /* across lines */
    check_error("x: root a\ny: skip\nx: root a\n", "t.scope:3: x: duplicate rule (line 1)");
    check_error("x: global\nx: parent a -> t.id\n",
                "t.scope:2: x: 'global' cannot be combined with other rules (line 1: global)");
    check_error("x: parent a -> t.id\nx: skip\n",
                "t.scope:2: x: 'skip' cannot be combined with other rules (line 1: parent a -> t.id)");
    check_error("x: skip\nx: global\n",
                "t.scope:2: x: 'global' cannot be combined with other rules (line 1: skip)");
}

/* NAME: RULE and RULE ...: consecutive rules, and_next on all but the last */
static void test_and_groups(void **state)
{
    (void)state;
    mno_error e;
    mno_scope *s = parse("m: parent org_id -> o.id and parent user_id -> u.id\n"
                         "m: parent org_id -> o.id when user_id = 'x'\n"
                         "n: root t and uids json s at a.b -> o.uid and parent and -> u.id\n", &e);
    if (!s)
        fail_msg("%s", e.msg);
    assert_int_equal(s->n, 6);
    assert_int_equal(s->rules[0].and_next, 1);
    assert_int_equal(s->rules[1].and_next, 0);
    assert_int_equal(s->rules[2].and_next, 0);
    assert_int_equal(s->rules[3].and_next, 1);
    assert_int_equal(s->rules[4].and_next, 1);
    assert_int_equal(s->rules[5].and_next, 0);
    assert_string_equal(s->rules[0].text, "parent org_id -> o.id");
    assert_string_equal(s->rules[1].text, "parent user_id -> u.id");
    assert_int_equal(s->rules[1].line, 1);
    assert_string_equal(s->rules[1].name, "m");
    assert_string_equal(s->rules[5].text, "parent and -> u.id");   /* a column named 'and' */
    assert_int_equal(s->rules[5].line, 3);
    size_t idx[8];
    assert_int_equal(mno_scope_find(s, "m", idx, 8), 3);
    mno_scope_free(s);
    /* a rule in a group and the same rule alone are not duplicates */
    s = parse("m: parent a -> o.id\nm: parent a -> o.id and root t\n", &e);
    assert_non_null(s);
    mno_scope_free(s);
    s = parse("m: parent a -> o.id when b is null and parent b -> u.id when a is null\n", &e);
    assert_non_null(s);
    assert_int_equal(s->rules[0].guard_null, 1);
    assert_null(s->rules[0].guard_val);
    assert_string_equal(s->rules[0].guard_col, "b");
    assert_string_equal(s->rules[1].text, "parent b -> u.id when a is null");
    mno_scope_free(s);
    check_error("m: parent a -> o.id when b is\n", "t.scope:1: when: expected COLUMN = 'VALUE' or COLUMN is null");
    check_error("m: parent a -> o.id when b is not null\n", "t.scope:1: when: expected COLUMN = 'VALUE' or COLUMN is null");
    check_error("m: parent a -> o.id and\n", "t.scope:1: m: missing rule after 'and'");
    check_error("m: parent a -> o.id and -> x\n", "t.scope:1: unexpected 'and' at the end of the rule");
    check_error("m: global and root a\n", "t.scope:1: m: 'global' cannot be part of an 'and' group");
    check_error("m: parent a -> o.id and rooot t\n", "t.scope:1: unexpected 'and' at the end of the rule");
    check_error("m: parent a -> o.id and parent a -> o.id\n", "t.scope:1: m: the same rule twice in one 'and' group");
    check_error("m: root a and parent b\n", "t.scope:1: parent: expected '->' after 'b'");
}

static void test_nul_in_middle(void **state)
{
    (void)state;
    /* strlen-based parse() cannot pass a NUL: give the length explicitly */
    mno_error e;
    const char text[] = "ok: skip\nx: root a\0b\n";
    mno_scope *s = mno_scope_parse(text, sizeof text - 1, "t.scope", &e);
    assert_null(s);
    assert_string_equal(e.msg, "t.scope:2: unexpected NUL byte");
}

static void test_load(void **state)
{
    (void)state;
    mno_error e;
    char path[] = "/tmp/test_scope.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "public.apps: global\npublic.users: parent org_id -> public.orgs.id when\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    mno_scope *s = mno_scope_load(path, &e);
    assert_null(s);
    char want[256];
    snprintf(want, sizeof want, "%s:2: expected COLUMN after 'when'", path);
    assert_string_equal(e.msg, want);
    unlink(path);
    s = mno_scope_load(path, &e);
    assert_null(s);
    assert_int_equal(e.code, MNO_E_IO);
    snprintf(want, sizeof want, "%s: cannot open scope file: No such file or directory", path);
    assert_string_equal(e.msg, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rule),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_and_groups),
        cmocka_unit_test(test_nul_in_middle),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
