/* test_dump_pg.c: the PostgreSQL dump ops against a real server: the tenant's rows per rule kind, parents first, sums equal to the server's, -j equal to -j 1, scope errors against the catalog. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "buf.h"
#include "engine_pg.h"
#include "scope.h"

static char dburi[1024];
static char tmpdir[512];

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    mno_buf b = MNO_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mno_buf_add(&b, chunk, n);
    fclose(f);
    return b.data;
}

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("MNO_TEST_PG_URI");
    const char *top = getenv("MNO_TOP");
    mno_error e;
    char dbname[64], sql[200], path[1024];
    if (!base || !top) {
        fprintf(stderr, "MNO_TEST_PG_URI / MNO_TOP are not set (run through tests/run)\n");
        return -1;
    }
    snprintf(dbname, sizeof dbname, "dump_unit_%d", (int)getpid());
    PGconn *c = mno_pg_connect(base, "test", &e);
    if (!c)
        return -1;
    PQsetNoticeProcessor(c, quiet, NULL);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    int rc = mno_pg_exec(c, sql, NULL, &e);
    PQfinish(c);
    if (rc < 0)
        return -1;
    const char *slash = strrchr(base, '/');
    snprintf(dburi, sizeof dburi, "%.*s/%s", (int)(slash - base), base, dbname);
    snprintf(path, sizeof path, "%s/tests/cli/20-dump-pg/mini.sql", top);
    char *text = slurp(path);
    if (!text)
        return -1;
    c = mno_pg_connect(dburi, "test", &e);
    rc = c ? mno_pg_exec(c, "SET search_path = public", NULL, &e) : -1;
    if (rc == 0)
        rc = mno_pg_exec(c, text, NULL, &e);
    if (rc < 0)
        fprintf(stderr, "%s\n", e.msg);
    free(text);
    PQfinish(c);
    snprintf(tmpdir, sizeof tmpdir, "%s/mno-dump-unit.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    return rc;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes a scope file and returns its path (static). */
static const char *scope_file(const char *text)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/t.scope", tmpdir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *mini_scope(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/tests/cli/20-dump-pg/mini.scope", getenv("MNO_TOP"));
    return path;
}

/* Dumps with the engine's ops into path; returns 0 or -1 with e filled. */
static int dump(const char *scope, const char *tenant, int jobs, const char *path, mno_error *e)
{
    mno_engine *en = NULL;
    mno_plan plan;
    memset(&plan, 0, sizeof plan);
    mno_dump_opts o = {.tenant = tenant, .all = tenant == NULL, .scope_path = scope, .jobs = jobs};
    mno_out *out = NULL;
    mno_writer *w = NULL;
    json_t *h = json_pack("{s:s,s:s,s:s?}", "engine", "postgresql", "source", "mini", "tenant", tenant);
    int rc = -1;
    if (mno_engine_pg.open(&en, dburi, MNO_ROLE_SOURCE, e) < 0 || mno_engine_pg.plan(en, &o, &plan, e) < 0)
        goto done;
    if (!(out = mno_out_open(path, NULL, e)) || !(w = mno_writer_new(out, h, "mno-dump", e)))
        goto done;
    for (size_t i = 0; i < plan.n; i++)
        if (mno_engine_pg.dump_section(en, &plan.items[i], w, e) < 0)
            goto done;
    if (mno_writer_close(w, e) < 0)
        goto done;
    rc = mno_out_finish(out, e);
    out = NULL;
done:
    mno_out_abort(out);
    mno_writer_free(w);
    json_decref(h);
    mno_engine_pg.plan_free(en, &plan);
    mno_engine_pg.close(en);
    return rc;
}

/* The archive summarised: "ns:v1,v2;" per section, v = the value of column col (first: 0). */
static char *summary(const char *path, int col)
{
    mno_error e;
    mno_in *in = mno_in_open(path, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *r = in ? mno_reader_new(in, &ro, &e) : NULL;
    mno_buf b = MNO_BUF_INIT;
    mno_item it;
    int n;
    assert_non_null(r);
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_BEGIN)
            mno_buf_addf(&b, "%s:", it.section->ns);
        else if (it.kind == MNO_ITEM_REC)
            mno_buf_addf(&b, "%s%s", it.section->count > 1 ? "," : "", it.vals[col] ? it.vals[col] : "NULL");
        else if (it.kind == MNO_ITEM_END)
            mno_buf_adds(&b, ";");
    }
    if (n < 0)
        fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(n, 0);
    mno_reader_free(r);
    mno_in_close(in);
    return b.data ? b.data : strdup("");
}

static void test_tenant_rows_by_rule(void **state)
{
    (void)state;
    mno_error e;
    char path[700];
    snprintf(path, sizeof path, "%s/acme.mnoa", tmpdir);
    if (dump(mini_scope(), "acme", 1, path, &e) < 0)
        fail_msg("%s", e.msg);
    char *s = summary(path, 0);
    /* parents first, by name among the free; bills placed by its declared foreign key;
       sessions skipped; polymorphic pairs, uids in text (whole tokens) and json */
    assert_string_equal(s,
        "public.apps:1,2;public.tenants:1;public.organizations:1,3;public.dashboards:1;"
        "public.events:2026-01-01 00:00:00+00,2026-01-01 00:00:00+00;public.users:1,3,4;"
        "public.app_instances:1,3,4;public.bills:1,3;public.orga_relations:1,1,3;public.widgets:1,3;");
    free(s);
    /* the same tenant by id */
    if (dump(mini_scope(), "2", 1, path, &e) < 0)
        fail_msg("%s", e.msg);
    s = summary(path, 0);
    assert_string_equal(s,
        "public.apps:1,2;public.tenants:2;public.organizations:2;public.dashboards:2;public.events:NULL;"
        "public.users:2;public.app_instances:2;public.bills:2;public.orga_relations:2;public.widgets:2;");
    free(s);
}

/* Every section's count and sum equal the server's own (verify's in-server md5 of ROW()::text). */
static void test_sums_equal_server(void **state)
{
    (void)state;
    mno_error e;
    char path[700];
    snprintf(path, sizeof path, "%s/all.mnoa", tmpdir);
    if (dump(mini_scope(), NULL, 1, path, &e) < 0)
        fail_msg("%s", e.msg);
    mno_engine *en = NULL;
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    mno_in *in = mno_in_open(path, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    int n, sections = 0;
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind != MNO_ITEM_END)
            continue;
        uint64_t count;
        mno_sum sum;
        int exists;
        if (mno_engine_pg.hash_section(en, it.section, &count, &sum, &exists, &e) < 0)
            fail_msg("%s", e.msg);
        assert_int_equal(exists, 1);
        assert_int_equal(count, it.declared_count);
        if (!mno_sum_eq(&sum, &it.declared_sum))
            fail_msg("section %s: sum differs from the server's", it.section->ns);
        sections++;
    }
    assert_int_equal(n, 0);
    assert_int_equal(sections, 10);
    mno_reader_free(r);
    mno_in_close(in);
    mno_engine_pg.close(en);
}

/* -j 3 writes the same records and sums as -j 1. */
static void test_jobs_same_output(void **state)
{
    (void)state;
    mno_error e;
    char p1[700], p3[700];
    snprintf(p1, sizeof p1, "%s/j1.mnoa", tmpdir);
    snprintf(p3, sizeof p3, "%s/j3.mnoa", tmpdir);
    for (int k = 0; k < 2; k++) {
        const char *tenant = k ? "acme" : NULL;
        if (dump(mini_scope(), tenant, 1, p1, &e) < 0 || dump(mini_scope(), tenant, 3, p3, &e) < 0)
            fail_msg("%s", e.msg);
        char *a = slurp(p1), *b = slurp(p3);
        /* skip the header line (its id and time differ) and the trailer's digest of it */
        *strstr(a, ",\"header_sha256\":") = '\0';
        *strstr(b, ",\"header_sha256\":") = '\0';
        assert_string_equal(strchr(a, '\n'), strchr(b, '\n'));
        free(a);
        free(b);
    }
}

/* The begin line: columns with types, the key (primary, unique not null, else all), DDL. */
static void test_begin_columns_key_ddl(void **state)
{
    (void)state;
    mno_error e;
    char path[700];
    snprintf(path, sizeof path, "%s/begin.mnoa", tmpdir);
    if (dump(mini_scope(), NULL, 1, path, &e) < 0)
        fail_msg("%s", e.msg);
    mno_in *in = mno_in_open(path, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    int seen = 0;
    while (mno_reader_next(r, &it, &e) > 0) {
        if (it.kind != MNO_ITEM_BEGIN)
            continue;
        json_t *key = json_object_get(it.obj, "key");
        const char *ddl = json_string_value(json_object_get(it.obj, "ddl"));
        char *ks = json_dumps(key, JSON_COMPACT);
        if (strcmp(it.section->ns, "public.users") == 0) {
            assert_string_equal(ks, "[\"id\"]");
            assert_string_equal(it.section->coltypes[5], "numeric(12,2)");
            assert_string_equal(it.section->coltypes[8], "text[]");
            assert_non_null(strstr(ddl, "CREATE SEQUENCE IF NOT EXISTS \"public\".\"users_id_seq\";\n"));
            assert_non_null(strstr(ddl, "\"id\" bigint DEFAULT nextval('public.users_id_seq'::regclass) NOT NULL,"));
            assert_non_null(strstr(ddl, "CONSTRAINT \"users_pkey\" PRIMARY KEY (id)"));
            assert_non_null(strstr(ddl, "CREATE UNIQUE INDEX users_uid_idx ON public.users USING btree (uid);"));
            assert_non_null(strstr(ddl, "CREATE INDEX users_email_idx ON public.users USING btree (lower(email));"));
            seen++;
        } else if (strcmp(it.section->ns, "public.orga_relations") == 0) {
            assert_string_equal(ks, "[\"organization_id\",\"user_id\"]");
            seen++;
        } else if (strcmp(it.section->ns, "public.events") == 0) {
            assert_string_equal(ks, "[\"happened_at\",\"organization_id\",\"payload\"]");
            seen++;
        } else if (strcmp(it.section->ns, "public.app_instances") == 0) {
            assert_non_null(strstr(ddl, "CONSTRAINT \"ai_owner_ck\" CHECK ((owner_type = ANY (ARRAY['Organization'::text, 'User'::text])))"));
            assert_null(strstr(ddl, "FOREIGN KEY"));
            seen++;
        }
        free(ks);
    }
    assert_int_equal(seen, 4);
    mno_reader_free(r);
    mno_in_close(in);
}

/* Scope errors found against the source, each citing the rule's file and line. */
static void test_scope_errors(void **state)
{
    (void)state;
    static const struct {
        const char *scope, *tenant, *msg;
        int code;
    } cases[] = {
        {"tenants: root name\nnope: global\n", "acme", "t.scope:2: public.nope: table not found in the source", MNO_E_SCOPE},
        {"tenants: root nme\n", "acme", "t.scope:1: public.tenants: column 'nme' not found in the source", MNO_E_SCOPE},
        {"tenants: root name\nsessions: skip\nusers: parent id -> sessions.id\n", "acme",
         "t.scope:3: public.users: parent 'public.sessions' is skipped", MNO_E_SCOPE},
        {"tenants: root name\nusers: parent id -> apps.id\n", "acme",
         "t.scope:2: public.users: parent 'public.apps' is not in the scope", MNO_E_SCOPE},
        {"tenants: match name in org_uids\n", "acme",
         "t.scope:1: public.tenants: rule 'match' does not apply to a postgresql table (use root, parent, uids, global or skip)", MNO_E_SCOPE},
        {"tenants: root name\nusers: parent id -> organizations.id\norganizations: parent id -> users.id\n", "acme",
         "parent links form a cycle", MNO_E_SCOPE},
        {"tenants: root name id\n", "initech", "tenant 'initech' not found in public.tenants", MNO_E_SCOPE},
        {"tenants: global\n", "acme", "no root rule", MNO_E_SCOPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mno_engine *en = NULL;
        mno_plan plan;
        mno_error e;
        mno_error_clear(&e);
        mno_dump_opts o = {.tenant = cases[i].tenant, .scope_path = scope_file(cases[i].scope), .jobs = 1};
        assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_SOURCE, &e), 0);
        assert_int_equal(mno_engine_pg.plan(en, &o, &plan, &e), -1);
        assert_int_equal(e.code, cases[i].code);
        if (!strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: got '%s'", i, e.msg);
        mno_engine_pg.plan_free(en, &plan);
        mno_engine_pg.close(en);
    }
}

/* Unmentioned tables come back as unscoped (the driver decides); --plan counts rows. */
static void test_unscoped_and_counts(void **state)
{
    (void)state;
    mno_engine *en = NULL;
    mno_plan plan;
    mno_error e;
    mno_dump_opts o = {.tenant = "acme", .scope_path = scope_file("tenants: root name\norganizations: parent mnoe_tenant_id -> tenants.id\napps: global\n"),
                       .count = 1, .jobs = 1};
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_SOURCE, &e), 0);
    if (mno_engine_pg.plan(en, &o, &plan, &e) < 0)
        fail_msg("%s", e.msg);
    mno_buf b = MNO_BUF_INIT;
    for (size_t i = 0; i < plan.n; i++)
        mno_buf_addf(&b, "%s=%lld[%s] ", plan.items[i].ns, plan.items[i].count, plan.items[i].rule);
    for (size_t i = 0; i < plan.n_unscoped; i++)
        mno_buf_addf(&b, "-%s ", plan.unscoped[i]);
    /* events are placed by no declared foreign key: unscoped; bills' key is to app_instances, unscoped */
    assert_string_equal(b.data,
        "public.apps=2[global] public.tenants=1[root name] "
        "public.organizations=2[parent mnoe_tenant_id -> public.tenants.id] "
        "-public.app_instances -public.bills -public.dashboards -public.events -public.orga_relations "
        "-public.sessions -public.users -public.widgets ");
    mno_buf_release(&b);
    mno_engine_pg.plan_free(en, &plan);
    mno_engine_pg.close(en);
}

/* Odd tables: quoted names, no key (json and point ordered by their text), a composite foreign
   key placing a table, generated columns named in begin, a table without columns refused. */
static void test_odd_tables(void **state)
{
    (void)state;
    mno_error e;
    char uri[1024], sql[200];
    const char *base = getenv("MNO_TEST_PG_URI");
    const char *slash = strrchr(base, '/');
    PGconn *c = mno_pg_connect(base, "test", &e);
    assert_non_null(c);
    PQsetNoticeProcessor(c, quiet, NULL);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS dump_unit_odd_%d", (int)getpid());
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE dump_unit_odd_%d", (int)getpid());
    assert_int_equal(mno_pg_exec(c, sql, NULL, &e), 0);
    PQfinish(c);
    snprintf(uri, sizeof uri, "%.*s/dump_unit_odd_%d", (int)(slash - base), base, (int)getpid());
    c = mno_pg_connect(uri, "test", &e);
    assert_non_null(c);
    if (mno_pg_exec(c,
        "CREATE SCHEMA \"Sales\";"
        "CREATE TABLE \"Sales\".\"Tenants\" (\"Id\" int PRIMARY KEY, \"Name\" text);"
        "CREATE TABLE \"Sales\".child (a int REFERENCES \"Sales\".\"Tenants\" (\"Id\"), j json, p point, \"we ird\" text);"
        "CREATE TABLE \"Sales\".pairs (x int NOT NULL, y int NOT NULL, UNIQUE (x, y));"
        "CREATE TABLE \"Sales\".grand (x int, y int, FOREIGN KEY (x, y) REFERENCES \"Sales\".pairs (x, y));"
        "CREATE TABLE public.gen (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int, twice int GENERATED ALWAYS AS (n * 2) STORED);"
        "CREATE TABLE public.empty ();"
        "INSERT INTO \"Sales\".\"Tenants\" VALUES (1, 'acme'), (2, 'other');"
        "INSERT INTO \"Sales\".child VALUES (1, '{\"b\":1}', '(1,2)', 'x'), (1, '{\"a\":1}', '(0,0)', 'y'), (2, NULL, NULL, NULL);"
        "INSERT INTO \"Sales\".pairs VALUES (1, 1), (2, 2);"
        "INSERT INTO \"Sales\".grand VALUES (1, 1), (2, 2), (1, NULL);"
        "INSERT INTO public.gen (n) VALUES (1), (2);", NULL, &e) < 0)
        fail_msg("%s", e.msg);
    PQfinish(c);
    char saved[sizeof dburi];
    snprintf(saved, sizeof saved, "%s", dburi);
    snprintf(dburi, sizeof dburi, "%s", uri);
    char path[700];
    snprintf(path, sizeof path, "%s/odd.mnoa", tmpdir);
    const char *scope = "Sales.Tenants: root Name\nSales.pairs: parent x -> Sales.Tenants.Id\n"
                        "public.gen: global\npublic.empty: global\n";
    /* a table without columns is a section with no columns (its rows counted) */
    if (dump(scope_file(scope), "acme", 1, path, &e) < 0)
        fail_msg("%s", e.msg);
    char *t0 = slurp(path);
    assert_non_null(strstr(t0, "{\"t\":\"begin\",\"ns\":\"public.empty\",\"columns\":[],\"key\":[]"));
    free(t0);
    scope = "Sales.Tenants: root Name\nSales.pairs: parent x -> Sales.Tenants.Id\n"
            "public.gen: global\npublic.empty: skip\n";
    if (dump(scope_file(scope), "acme", 2, path, &e) < 0)
        fail_msg("%s", e.msg);
    char *sum = summary(path, 0);
    assert_string_equal(sum, "\"Sales\".\"Tenants\":1;\"Sales\".child:1,1;\"Sales\".pairs:1;\"Sales\".grand:1;public.gen:1,2;");
    free(sum);
    sum = summary(path, 1);
    assert_string_equal(sum, "\"Sales\".\"Tenants\":acme;\"Sales\".child:{\"a\":1},{\"b\":1};\"Sales\".pairs:1;\"Sales\".grand:1;public.gen:1,2;");
    free(sum);
    char *text = slurp(path);
    assert_non_null(strstr(text, "\"key\":[\"a\",\"j\",\"p\",\"we ird\"]"));
    assert_non_null(strstr(text, "\"generated\":[\"twice\"]"));
    assert_non_null(strstr(text, "\\\"twice\\\" integer GENERATED ALWAYS AS ((n * 2)) STORED"));
    assert_non_null(strstr(text, "CREATE SCHEMA IF NOT EXISTS \\\"Sales\\\";"));
    free(text);
    snprintf(dburi, sizeof dburi, "%s", saved);
}

/* The COPY rows are decoded 16 bytes at a time (engine_pg_dump.c decode_row): every ASCII
   byte, tabs, newlines, backslashes (runs, last byte), "\N" as text, '', NULL, UTF-8, at
   offsets all around the 16-byte blocks; the values read back from the archive are the
   server's text of each, and the section's sum is the server's. */
static void test_copy_decode_edge_values(void **state)
{
    (void)state;
    mno_error e;
    char uri[1024], sql[200];
    const char *base = getenv("MNO_TEST_PG_URI");
    const char *slash = strrchr(base, '/');
    PGconn *c = mno_pg_connect(base, "test", &e);
    assert_non_null(c);
    PQsetNoticeProcessor(c, quiet, NULL);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS dump_unit_edge_%d", (int)getpid());
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE dump_unit_edge_%d", (int)getpid());
    assert_int_equal(mno_pg_exec(c, sql, NULL, &e), 0);
    PQfinish(c);
    snprintf(uri, sizeof uri, "%.*s/dump_unit_edge_%d", (int)(slash - base), base, (int)getpid());
    c = mno_pg_connect(uri, "test", &e);
    assert_non_null(c);
    if (mno_pg_exec(c,
        "CREATE TABLE public.edge (id int PRIMARY KEY, a text, b text, c text, d text);"
        "INSERT INTO public.edge SELECT g,"
        " repeat('x', g % 37) || chr(1 + g % 126) || repeat('\\', g % 3)"
        "  || chr(CASE g % 6 WHEN 0 THEN 9 WHEN 1 THEN 10 WHEN 2 THEN 13 WHEN 3 THEN 92 WHEN 4 THEN 233 ELSE 128512 END)"
        "  || repeat('y', g % 23),"
        " CASE g % 9 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN '\\N' WHEN 3 THEN '\\\\N' WHEN 4 THEN E'a\\tb\\\\'"
        "  WHEN 5 THEN chr(128512) || E'\\t\\n\\r\\b\\f\\v' WHEN 6 THEN 'N' WHEN 7 THEN '\\' ELSE repeat('\\', g % 40) END,"
        " md5(g::text) || repeat(E'\\t', g % 4) || '\"(),\" ' || repeat(E'\\\\', g % 5),"
        " CASE WHEN g % 4 = 0 THEN NULL ELSE repeat(chr(1 + (g * 7) % 126), g % 50) END"
        " FROM generate_series(1, 800) g;"
        "INSERT INTO public.edge VALUES (0, NULL, NULL, NULL, NULL), (-1, '', '', '', '')", NULL, &e) < 0)
        fail_msg("%s", e.msg);
    PGresult *want = PQexec(c, "SELECT a, b, c, d FROM public.edge ORDER BY id");
    assert_int_equal(PQresultStatus(want), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(want), 802);
    PQfinish(c);
    char saved[sizeof dburi];
    snprintf(saved, sizeof saved, "%s", dburi);
    snprintf(dburi, sizeof dburi, "%s", uri);
    char path[700];
    snprintf(path, sizeof path, "%s/edge.mnoa", tmpdir);
    if (dump(scope_file("public.edge: global\n"), NULL, 1, path, &e) < 0)
        fail_msg("%s", e.msg);
    mno_in *in = mno_in_open(path, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_engine *en = NULL;
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    mno_item it;
    int n, row = 0, ends = 0;
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_END) {
            uint64_t count;
            mno_sum sum;
            int exists;
            if (mno_engine_pg.hash_section(en, it.section, &count, &sum, &exists, &e) < 0)
                fail_msg("%s", e.msg);
            assert_int_equal(count, 802);
            if (!mno_sum_eq(&sum, &it.declared_sum))
                fail_msg("section %s: sum differs from the server's", it.section->ns);
            ends++;
            continue;
        }
        if (it.kind != MNO_ITEM_REC)
            continue;
        for (int k = 0; k < 4; k++) {
            if (PQgetisnull(want, row, k)) {
                if (it.vals[k + 1])
                    fail_msg("row %d column %d: got '%s', want NULL", row, k, it.vals[k + 1]);
                continue;
            }
            const char *v = PQgetvalue(want, row, k);
            size_t len = (size_t)PQgetlength(want, row, k);
            if (!it.vals[k + 1] || it.lens[k + 1] != len || memcmp(it.vals[k + 1], v, len) != 0)
                fail_msg("row %d column %d: got '%s', want '%s'", row, k, it.vals[k + 1] ? it.vals[k + 1] : "NULL", v);
        }
        row++;
    }
    if (n < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(row, 802);
    assert_int_equal(ends, 1);
    mno_reader_free(r);
    mno_in_close(in);
    mno_engine_pg.close(en);
    PQclear(want);
    snprintf(dburi, sizeof dburi, "%s", saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tenant_rows_by_rule),
        cmocka_unit_test(test_sums_equal_server),
        cmocka_unit_test(test_jobs_same_output),
        cmocka_unit_test(test_begin_columns_key_ddl),
        cmocka_unit_test(test_scope_errors),
        cmocka_unit_test(test_unscoped_and_counts),
        cmocka_unit_test(test_odd_tables),
        cmocka_unit_test(test_copy_decode_edge_values),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
