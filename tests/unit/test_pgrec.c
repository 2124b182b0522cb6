/* test_pgrec.c: the reader's fast PostgreSQL record decoder (lib/pgrec.c, opts.fast_pg) against the general jansson path: same values, digests, sums and errors on random and hostile lines. */
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
#include "stream.h"

static char tmpdir[256];

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_pgrec.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(const char *name)
{
    static char p[2][512];
    static int k;
    k = (k + 1) % 2;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* What one read of an archive gave: every record's values and digest, the error if any. */
typedef struct outcome {
    mno_buf recs;       /* per record: digest, then per column "N" or "S<len>:<bytes>" */
    int rc;             /* last mno_reader_next result */
    char msg[2048];
    long long nrec, nfast;
    char sum[33];
} outcome;

static void read_all(const char *path, int fast, outcome *o)
{
    mno_error e;
    mno_error_clear(&e);
    memset(o, 0, sizeof *o);
    mno_in *in = mno_in_open(path, &e);
    assert_non_null(in);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.fast_pg = fast;
    ro.verify = 0;   /* hostile lines come with zero sums: compare the computed ones */
    mno_reader *r = mno_reader_new(in, &ro, &e);
    assert_non_null(r);
    mno_item it;
    int rc;
    while ((rc = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_END)
            mno_sum_hex(&it.section->sum, o->sum);
        if (it.kind != MNO_ITEM_REC)
            continue;
        o->nrec++;
        if (!it.obj)
            o->nfast++;
        assert_int_equal(mno_buf_add(&o->recs, it.digest, 16), 0);
        for (size_t i = 0; i < it.section->ncols; i++) {
            if (!it.vals[i]) {
                assert_int_equal(mno_buf_addc(&o->recs, 'N'), 0);
                continue;
            }
            assert_int_equal(mno_buf_addf(&o->recs, "S%zu:", it.lens[i]), 0);
            assert_int_equal(mno_buf_add(&o->recs, it.vals[i], it.lens[i]), 0);
        }
    }
    o->rc = rc;
    snprintf(o->msg, sizeof o->msg, "%s", rc < 0 ? e.msg : "");
    mno_reader_free(r);
    mno_in_close(in);
}

static void compare(const char *path, long long want_fast_min, long long want_fast_max)
{
    outcome a, b;
    read_all(path, 0, &a);
    read_all(path, 1, &b);
    if (a.rc != b.rc || strcmp(a.msg, b.msg) != 0)
        fail_msg("%s: general rc %d \"%s\", fast rc %d \"%s\"", path, a.rc, a.msg, b.rc, b.msg);
    assert_int_equal(a.nrec, b.nrec);
    assert_int_equal(a.recs.len, b.recs.len);
    assert_memory_equal(a.recs.data, b.recs.data, a.recs.len);
    assert_string_equal(a.sum, b.sum);
    assert_int_equal(a.nfast, 0);
    if (b.nfast < want_fast_min || b.nfast > want_fast_max)
        fail_msg("%s: %lld records decoded by the fast path, expected %lld..%lld", path, b.nfast,
                 want_fast_min, want_fast_max);
    mno_buf_release(&a.recs);
    mno_buf_release(&b.recs);
}

/* Random values from awkward pieces: JSON escapes, every control character, quotes,
   backslashes, 2-, 3- and 4-byte UTF-8, the COPY specials. */
static void random_value(mno_buf *b, unsigned *seed)
{
    static const char *const pieces[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b", "\f", "\x01", "\x1f", "\x7f",
        "\\N", "\\.", "é", "ß", "€", "☃", "😀", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbf", "(", ")", ",",
        "{", "}", "null", "\"null\"", "\\u0000", "'", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80"};
    int n = rand_r(seed) % 12;
    for (int i = 0; i < n; i++)
        mno_buf_adds(b, pieces[rand_r(seed) % (int)(sizeof pieces / sizeof pieces[0])]);
}

static void test_random_archives_decode_the_same(void **state)
{
    (void)state;
    unsigned seed = 20261129;
    for (int round = 0; round < 20; round++) {
        const char *path = tpath("rand.mnoa");
        mno_error e;
        mno_error_clear(&e);
        mno_out *out = mno_out_open(path, NULL, &e);
        assert_non_null(out);
        json_t *h = json_pack("{s:s, s:s, s:n}", "engine", "postgresql", "source", "test", "tenant");
        mno_writer *w = mno_writer_new(out, h, "test_pgrec", &e);
        assert_non_null(w);
        json_decref(h);
        /* column names that need escaping too */
        json_t *cols = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", "id", "type", "bigint",
                                 "name", "na\"me\\", "type", "text", "name", "ünï", "type", "text",
                                 "name", "x y", "type", "text");
        json_t *begin = json_pack("{s:o, s:[s]}", "columns", cols, "key", "id");
        assert_int_equal(mno_writer_begin(w, "public.t\"x", begin, &e), 0);
        json_decref(begin);
        long long n = 200;
        for (long long k = 0; k < n; k++) {
            mno_buf v[4] = {MNO_BUF_INIT, MNO_BUF_INIT, MNO_BUF_INIT, MNO_BUF_INIT};
            const char *vals[4];
            size_t lens[4];
            mno_buf_addf(&v[0], "%lld", k);
            for (int i = 1; i < 4; i++) {
                random_value(&v[i], &seed);
                if (!v[i].data)
                    mno_buf_adds(&v[i], "");
            }
            for (int i = 0; i < 4; i++) {
                vals[i] = (rand_r(&seed) % 7 == 0 && i) ? NULL : v[i].data;
                lens[i] = vals[i] ? v[i].len : 0;
            }
            assert_int_equal(mno_writer_rec_pg(w, vals, lens, &e), 0);
            for (int i = 0; i < 4; i++)
                mno_buf_release(&v[i]);
        }
        assert_int_equal(mno_writer_end(w, &e), 0);
        assert_int_equal(mno_writer_close(w, &e), 0);
        mno_writer_free(w);
        assert_int_equal(mno_out_finish(out, &e), 0);
        /* every record the writer wrote is of its own compact form */
        compare(path, n, n);
    }
}

/* One record line inside a one-section archive of columns id, v (text). */
static void hostile(const char *recline, int fast_ok)
{
    const char *path = tpath("hostile.mnoa");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"postgresql\"}\n"
               "{\"t\":\"begin\",\"ns\":\"public.t\",\"columns\":[{\"name\":\"id\",\"type\":\"int\"},"
               "{\"name\":\"v\",\"type\":\"text\"}],\"key\":[\"id\"]}\n"
               "{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"1\",\"v\":\"plain\"}}\n"
               "%s\n"
               "{\"t\":\"end\",\"ns\":\"public.t\",\"count\":0,\"sum\":\"00000000000000000000000000000000\"}\n"
               "{\"t\":\"trailer\",\"sections\":1,\"count\":0,\"sum\":\"00000000000000000000000000000000\"}\n",
            recline);
    assert_int_equal(fclose(f), 0);
    compare(path, 1 + fast_ok, 1 + fast_ok);
}

static void test_hostile_lines(void **state)
{
    (void)state;
    /* the writer's form: decoded fast, the same values */
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}}", 1);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\u00e9\\u00E9\\u20ac\\ud83d\\ude00\\u0001\"}}", 1);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":null}}", 1);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":null,\"v\":\"\"}}", 1);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9 \x7f\"}}", 1);
    /* other forms: the general path decides, with the same outcome */
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"v\":\"x\",\"id\":\"2\"}}", 0);
    hostile("{\"t\": \"rec\", \"ns\": \"public.t\", \"v\": {\"id\": \"2\", \"v\": \"x\"}}", 0);
    hostile("{\"ns\":\"public.t\",\"t\":\"rec\",\"v\":{\"id\":\"2\",\"v\":\"x\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"x\"}} ", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"a\\u0000b\"}}", 0);
    /* errors: both paths report the same */
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\ud800\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\udc00x\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\ud800\\u0041\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xc0\x80\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xed\xa0\x80\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xf4\x90\x80\x80\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xe2\x82\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xff\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\x01\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\x\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\u12\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"x}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":3}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":nul}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"x\",\"w\":\"y\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"x\",\"v\":\"y\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"x\"}}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.u\",\"v\":{\"id\":\"2\",\"v\":\"x\"}}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"x\"}", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\\ud83d\\", 0);
    hostile("{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"2\",\"v\":\"\xf0\x9f", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_archives_decode_the_same),
        cmocka_unit_test(test_hostile_lines),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
