/* test_verify_pg.c: the PostgreSQL verify ops against a real server: the in-server sum equals the C sum of the same rows. */
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

static char dburi[1024];
static char dbname[64];

/* Values whose record text needs quoting, escaping, or pinned settings. */
static const char *const setup_sql[] = {
    "CREATE TABLE public.t (id bigint PRIMARY KEY, s text, n numeric, f double precision,"
    " ts timestamptz, d date, iv interval, b bytea, j jsonb, a int[], ok boolean, \"odd col\" text)",
    "INSERT INTO public.t VALUES"
    " (1, 'plain', 1.50, 0.1, '2026-11-25 12:00:00+02', '2026-01-02', '1 day 02:00', '\\x00ff', '{\"b\":1,\"a\":[1,2]}', '{1,2,3}', true, 'x'),"
    " (2, '', -0.0, 'NaN', 'infinity', '-infinity', '-3 mons', '\\x', '\"s\"', '{}', false, NULL),"
    " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
    " (4, 'a \"quoted\" (paren), comma', 1e-20, 1e300, '1999-12-31 23:59:59.999999+00', '2000-02-29', '00:00:00.000001', '\\x5c22', 'null', '{NULL,1}', true, ' lead'),"
    " (5, E'back\\\\slash\\ttab\\nnewline', 123456789012345678901234567890, -1.0e-310, '2026-06-01 00:00:00-11:30', '0001-01-01', '100 years', '\\xdeadbeef', '[\"ü\", \"\\u00e9\"]', '{{1,2},{3,4}}', false, 'ü日本'),"
    " (6, ' ', 0, 2.5, now(), now()::date, '0', '\\x20', '{}', '{-1}', true, ')')",
    "INSERT INTO public.t SELECT g, md5(g::text), g / 7.0, g * 1.1, '2026-01-01'::timestamptz + g * interval '1 hour',"
    " '2026-01-01'::date + g, g * interval '1 minute', decode(md5(g::text), 'hex'), jsonb_build_object('g', g), ARRAY[g, g + 1], g % 2 = 0, NULL"
    " FROM generate_series(7, 500) g",
    "CREATE TABLE public.pair (org bigint, usr text, role text, PRIMARY KEY (org, usr))",
    "INSERT INTO public.pair SELECT g % 7, 'u' || g, CASE WHEN g % 3 = 0 THEN 'Admin' END FROM generate_series(1, 200) g",
};

static const char *const tcols[] = {"id", "s", "n", "f", "ts", "d", "iv", "b", "j", "a", "ok", "odd col"};
static const char *const ttypes[] = {"bigint", "text", "numeric", "double precision", "timestamp with time zone",
                                     "date", "interval", "bytea", "jsonb", "integer[]", "boolean", "text"};

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("MNO_TEST_PG_URI");
    mno_error e;
    if (!base) {
        fprintf(stderr, "MNO_TEST_PG_URI is not set (run through tests/run)\n");
        return -1;
    }
    snprintf(dbname, sizeof dbname, "verify_unit_%d", (int)getpid());
    PGconn *c = mno_pg_connect(base, "test", &e);
    if (!c)
        return -1;
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    PQsetNoticeProcessor(c, quiet, NULL);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    int rc = mno_pg_exec(c, sql, NULL, &e);
    PQfinish(c);
    if (rc < 0)
        return -1;
    /* postgresql://u@h:p/postgres -> .../dbname */
    const char *slash = strrchr(base, '/');
    snprintf(dburi, sizeof dburi, "%.*s/%s", (int)(slash - base), base, dbname);
    c = mno_pg_connect(dburi, "test", &e);
    if (!c)
        return -1;
    for (size_t i = 0; i < sizeof setup_sql / sizeof setup_sql[0]; i++)
        if (mno_pg_exec(c, setup_sql[i], NULL, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            PQfinish(c);
            return -1;
        }
    PQfinish(c);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mno_error e;
    PGconn *c = mno_pg_connect(getenv("MNO_TEST_PG_URI"), "test", &e);
    if (!c)
        return -1;
    char sql[200];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    int rc = mno_pg_exec(c, sql, NULL, &e);
    PQfinish(c);
    return rc;
}

/* A section for ns with the given columns and key, as a reader would give it. */
static mno_section *make_section(const char *ns, const char *const *cols, const char *const *types,
                                 size_t n, const char *const *key, size_t nk)
{
    mno_section *s = calloc(1, sizeof *s);
    s->ns = strdup(ns);
    s->engine = MNO_ENGINE_PG;
    s->begin = json_object();
    json_t *jc = json_array(), *jk = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(jc, json_pack("{s:s,s:s}", "name", cols[i], "type", types[i]));
    for (size_t i = 0; i < nk; i++)
        json_array_append_new(jk, json_string(key[i]));
    json_object_set_new(s->begin, "columns", jc);
    json_object_set_new(s->begin, "key", jk);
    s->ncols = n;
    s->colnames = calloc(n, sizeof *s->colnames);
    for (size_t i = 0; i < n; i++)
        s->colnames[i] = json_string_value(json_object_get(json_array_get(jc, i), "name"));
    return s;
}

static void free_section(mno_section *s)
{
    json_decref(s->begin);
    free(s->colnames);
    free(s->ns);
    free(s);
}

/* The independent sum: the rows' text as the client receives it, record text built in C. */
static void c_sum(const char *sql, uint64_t *count, mno_sum *sum)
{
    mno_error e;
    PGconn *c = mno_pg_connect(dburi, "test", &e);
    assert_non_null(c);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    *count = 0;
    sum->hi = sum->lo = 0;
    mno_buf b = MNO_BUF_INIT;
    int nf = PQnfields(r);
    const char *vals[32];
    size_t lens[32];
    for (int t = 0; t < PQntuples(r); t++) {
        for (int i = 0; i < nf; i++) {
            vals[i] = PQgetisnull(r, t, i) ? NULL : PQgetvalue(r, t, i);
            lens[i] = (size_t)PQgetlength(r, t, i);
        }
        mno_buf_reset(&b);
        assert_int_equal(mno_pg_record_text(&b, vals, lens, (size_t)nf), 0);
        mno_sum_add_md5(sum, b.data, b.len);
        (*count)++;
    }
    mno_buf_release(&b);
    PQclear(r);
    PQfinish(c);
}

static void test_hash_section_matches_c(void **state)
{
    (void)state;
    mno_error e;
    mno_engine *en;
    const char *key[] = {"id"};
    mno_section *s = make_section("public.t", tcols, ttypes, 12, key, 1);
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    uint64_t n, cn;
    mno_sum sum, csum;
    int exists = 0;
    assert_int_equal(mno_engine_pg.hash_section(en, s, &n, &sum, &exists, &e), 0);
    c_sum("SELECT id, s, n, f, ts, d, iv, b, j, a, ok, \"odd col\" FROM public.t", &cn, &csum);
    assert_int_equal(exists, 1);
    assert_int_equal(n, 500);
    assert_int_equal(cn, 500);
    char h1[33], h2[33];
    assert_string_equal(mno_sum_hex(&sum, h1), mno_sum_hex(&csum, h2));
    mno_engine_pg.close(en);
    free_section(s);
}

static void test_hash_start_then_collect(void **state)
{
    (void)state;
    mno_error e;
    mno_engine *en;
    const char *cols[] = {"org", "usr", "role"}, *types[] = {"bigint", "text", "text"};
    const char *key[] = {"org", "usr"};
    mno_section *s = make_section("public.pair", cols, types, 3, key, 2);
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    assert_int_equal(mno_engine_pg.hash_start(en, s, &e), 0);
    uint64_t n, cn;
    mno_sum sum, csum;
    int exists = 0;
    assert_int_equal(mno_engine_pg.hash_section(en, s, &n, &sum, &exists, &e), 0);
    c_sum("SELECT org, usr, role FROM public.pair", &cn, &csum);
    assert_int_equal(exists, 1);
    assert_int_equal(n, 200);
    assert_true(mno_sum_eq(&sum, &csum));
    mno_engine_pg.close(en);
    free_section(s);
}

/* C side: per bucket of the key hash's first clen hex digits (the key: columns key[0..nk) of
   the query's row, the record: every column), count and sum; only keys whose hash starts
   with prefix. Buckets indexed by the clen digits' value (clen <= 4). */
typedef struct cbucket {
    uint64_t n;
    mno_sum sum;
} cbucket;

static void c_buckets(const char *sql, const int *key, size_t nk, const char *prefix, size_t clen,
                      cbucket *out)
{
    mno_error e;
    PGconn *c = mno_pg_connect(dburi, "test", &e);
    assert_non_null(c);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    mno_buf b = MNO_BUF_INIT;
    int nf = PQnfields(r);
    const char *vals[32], *kv[32];
    size_t lens[32], kl[32];
    for (int t = 0; t < PQntuples(r); t++) {
        for (int i = 0; i < nf; i++) {
            vals[i] = PQgetisnull(r, t, i) ? NULL : PQgetvalue(r, t, i);
            lens[i] = (size_t)PQgetlength(r, t, i);
        }
        for (size_t k = 0; k < nk; k++) {
            kv[k] = vals[key[k]];
            kl[k] = lens[key[k]];
        }
        unsigned char kh[16];
        char hex[33];
        assert_int_equal(mno_keyhash_pg(kv, kl, nk, kh), 0);
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", kh[i]);
        if (strncmp(hex, prefix, strlen(prefix)) != 0)
            continue;
        hex[clen] = '\0';
        size_t slot = strtoul(hex, NULL, 16);
        mno_buf_reset(&b);
        assert_int_equal(mno_pg_record_text(&b, vals, lens, (size_t)nf), 0);
        mno_sum_add_md5(&out[slot].sum, b.data, b.len);
        out[slot].n++;
    }
    mno_buf_release(&b);
    PQclear(r);
    PQfinish(c);
}

struct got_buckets {
    cbucket b[4096];
    size_t clen;
    int calls;
};

static int on_bucket(void *arg, const char *prefix, uint64_t count, const mno_sum *sum, mno_error *e)
{
    (void)e;
    struct got_buckets *g = arg;
    assert_int_equal(strlen(prefix), g->clen);
    size_t slot = strtoul(prefix, NULL, 16);
    g->b[slot].n += count;
    mno_sum_add(&g->b[slot].sum, sum);
    g->calls++;
    return 0;
}

/* The server's key hash (ROW(org, usr)::text) is the one mno_keyhash_pg computes from the
   values, so the buckets agree row for row; a parent filter keeps only its rows. */
static void test_hash_buckets_composite_key(void **state)
{
    (void)state;
    mno_error e;
    mno_engine *en;
    const char *cols[] = {"org", "usr", "role"}, *types[] = {"bigint", "text", "text"};
    const char *key[] = {"org", "usr"};
    const int kidx[] = {0, 1};
    mno_section *s = make_section("public.pair", cols, types, 3, key, 2);
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    static struct got_buckets g;
    static cbucket want[4096];
    memset(&g, 0, sizeof g);
    memset(want, 0, sizeof want);
    g.clen = 2;
    assert_int_equal(mno_engine_pg.hash_buckets(en, s, NULL, 0, 0, 2, on_bucket, &g, &e), 0);
    c_buckets("SELECT org, usr, role FROM public.pair", kidx, 2, "", 2, want);
    uint64_t total = 0;
    int nonempty = 0;
    for (size_t i = 0; i < 256; i++) {
        assert_int_equal(g.b[i].n, want[i].n);
        assert_true(mno_sum_eq(&g.b[i].sum, &want[i].sum));
        total += want[i].n;
        nonempty += want[i].n > 0;
    }
    assert_int_equal(total, 200);
    assert_true(nonempty > 100);
    /* only the rows under parents "3" and "c", by 3 digits */
    const char *parents[] = {"3", "c"};
    memset(&g, 0, sizeof g);
    memset(want, 0, sizeof want);
    g.clen = 3;
    assert_int_equal(mno_engine_pg.hash_buckets(en, s, parents, 2, 1, 3, on_bucket, &g, &e), 0);
    c_buckets("SELECT org, usr, role FROM public.pair", kidx, 2, "3", 3, want);
    c_buckets("SELECT org, usr, role FROM public.pair", kidx, 2, "c", 3, want);
    total = 0;
    for (size_t i = 0; i < 4096; i++) {
        assert_int_equal(g.b[i].n, want[i].n);
        assert_true(mno_sum_eq(&g.b[i].sum, &want[i].sum));
        total += want[i].n;
        if (g.b[i].n)
            assert_true(i >> 8 == 3 || i >> 8 == 12);
    }
    assert_true(total > 10 && total < 60);
    mno_engine_pg.close(en);
    free_section(s);
}

struct listed {
    int n;
    mno_sum sum;
    int bad_keyhash;
    int null_keys;
};

static int on_row(void *arg, const unsigned char keyhash[16], const json_t *key, const json_t *v,
                  const unsigned char digest[16], mno_error *e)
{
    (void)e;
    struct listed *l = arg;
    /* the key of a table without a primary key is every column: its hash is the row's */
    const char *vals[12];
    size_t lens[12];
    for (size_t i = 0; i < 12; i++) {
        const json_t *x = json_array_get(key, i);
        vals[i] = json_string_value(x);
        lens[i] = json_string_length(x);
        l->null_keys += json_is_null(x);
        assert_true(json_equal(json_object_get(v, tcols[i]), x));
    }
    unsigned char kh[16];
    assert_int_equal(mno_keyhash_pg(vals, lens, 12, kh), 0);
    l->bad_keyhash += memcmp(kh, keyhash, 16) != 0 || memcmp(kh, digest, 16) != 0;
    l->n++;
    mno_sum_add_digest(&l->sum, digest);
    return 0;
}

/* A key of every column (quoting, escapes, nulls, json): the rows listed by prefix are all
   the table's, each with the key hash the client computes from its values. */
static void test_list_buckets(void **state)
{
    (void)state;
    mno_error e;
    mno_engine *en;
    mno_section *s = make_section("public.t", tcols, ttypes, 12, tcols, 12);
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    const char *all[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"};
    struct listed l;
    memset(&l, 0, sizeof l);
    assert_int_equal(mno_engine_pg.list_buckets(en, s, all, 16, on_row, &l, &e), 0);
    assert_int_equal(l.n, 500);
    assert_int_equal(l.bad_keyhash, 0);
    assert_true(l.null_keys > 12);
    uint64_t n;
    mno_sum sum;
    int exists;
    assert_int_equal(mno_engine_pg.hash_section(en, s, &n, &sum, &exists, &e), 0);
    assert_true(mno_sum_eq(&sum, &l.sum));
    /* prefixes of mixed lengths: "0" and every "1x" but "1f" */
    const char *some[] = {"0", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "1a", "1b", "1c", "1d", "1e"};
    static struct got_buckets g;
    memset(&g, 0, sizeof g);
    g.clen = 1;
    assert_int_equal(mno_engine_pg.hash_buckets(en, s, NULL, 0, 0, 1, on_bucket, &g, &e), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(mno_engine_pg.list_buckets(en, s, some, 16, on_row, &l, &e), 0);
    assert_true((uint64_t)l.n > g.b[0].n && (uint64_t)l.n <= g.b[0].n + g.b[1].n);
    mno_engine_pg.close(en);
    free_section(s);
}

static void test_missing_table_and_column(void **state)
{
    (void)state;
    mno_error e;
    mno_engine *en;
    const char *cols[] = {"id", "nope"}, *types[] = {"bigint", "text"};
    const char *key[] = {"id"};
    mno_section *s = make_section("public.absent", cols, types, 1, key, 1);
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    uint64_t n;
    mno_sum sum;
    int exists = 1;
    assert_int_equal(mno_engine_pg.hash_section(en, s, &n, &sum, &exists, &e), 0);
    assert_int_equal(exists, 0);
    free_section(s);
    s = make_section("public.t", cols, types, 2, key, 1);
    /* a table without a column of the archive: there, its rows counted, no sum (it differs) */
    assert_int_equal(mno_engine_pg.hash_section(en, s, &n, &sum, &exists, &e), 0);
    assert_int_equal(exists, 2);
    assert_string_equal(e.msg, "the target table lacks column \"nope\" (1 of the archive's 2 columns)");
    mno_engine_pg.close(en);
    free_section(s);
}

static void test_list_ns(void **state)
{
    (void)state;
    mno_error e;
    mno_engine *en;
    assert_int_equal(mno_engine_pg.open(&en, dburi, MNO_ROLE_TARGET, &e), 0);
    const char *ns[] = {"public.t"};
    mno_ns_count *a;
    size_t na;
    assert_int_equal(mno_engine_pg.list_ns(en, ns, 1, &a, &na, &e), 0);
    assert_int_equal(na, 2);
    assert_string_equal(a[0].ns, "public.pair");
    assert_int_equal(a[0].count, 200);
    assert_string_equal(a[1].ns, "public.t");
    assert_int_equal(a[1].count, -1); /* the caller's own table: not counted */
    mno_ns_counts_free(a, na);
    mno_engine_pg.close(en);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_section_matches_c),
        cmocka_unit_test(test_hash_start_then_collect),
        cmocka_unit_test(test_hash_buckets_composite_key),
        cmocka_unit_test(test_list_buckets),
        cmocka_unit_test(test_missing_table_and_column),
        cmocka_unit_test(test_list_ns),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
