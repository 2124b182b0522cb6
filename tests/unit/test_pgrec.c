/* test_pgrec.c: the reader's fast PostgreSQL record decoder (lib/archive/pgrec.c, opts.fast_pg) and its batched hashing (opts.no_digest) against the general jansson path: same values, digests, sums and errors on random, hostile and corrupted lines. */
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
#include "pgrec.h"
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
    mno_buf recs;       /* per record: per column "N" or "S<len>:<bytes>" */
    mno_buf digs;       /* per record: its digest (not with no_digest) */
    int rc;             /* last mno_reader_next result */
    char msg[2048];
    long long nrec, nfast;
    char sum[33];
} outcome;

/* How a read is made: the general path, the fast decoder, the fast decoder with batched
   hashing (as mno-restore restores), straight from the line to the record text, and that in
   a second thread (as mno-restore's check pass reads). */
enum { GENERAL, FAST, BATCHED, SUMS, THREADED };

static void read_all_v(const char *path, int mode, int verify, outcome *o)
{
    mno_error e;
    mno_error_clear(&e);
    memset(o, 0, sizeof *o);
    mno_in *in = mno_in_open(path, &e);
    assert_non_null(in);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.fast_pg = mode != GENERAL;
    ro.no_digest = mode == BATCHED || mode == SUMS || mode == THREADED;
    ro.sums_only = mode == SUMS || mode == THREADED;
    ro.hash_thread = mode == THREADED;
    ro.verify = verify;
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
        if (mode == GENERAL || mode == FAST)
            assert_int_equal(mno_buf_add(&o->digs, it.digest, 16), 0);
        if ((mode == SUMS || mode == THREADED) && !it.obj) {
            assert_null(it.vals);
            continue;
        }
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

/* hostile lines come with zero sums: compare the computed ones */
static void read_all(const char *path, int mode, outcome *o)
{
    read_all_v(path, mode, 0, o);
}

static void release(outcome *o)
{
    mno_buf_release(&o->recs);
    mno_buf_release(&o->digs);
}

/* b (read in mode) read the same as a: outcome, error text, records, sums; values unless
   b is SUMS, digests unless b is BATCHED or SUMS. */
static void same(const char *path, const outcome *a, const outcome *b, int mode)
{
    static const char *const names[] = {"general", "fast", "batched", "sums-only", "threaded"};
    if (a->rc != b->rc || strcmp(a->msg, b->msg) != 0)
        fail_msg("%s: general rc %d \"%s\", %s rc %d \"%s\"", path, a->rc, a->msg, names[mode], b->rc, b->msg);
    /* the threaded reader returns a record's item before the line is decoded: up to an error
       it may have returned more of them */
    if (mode == THREADED && a->rc < 0)
        assert_true(b->nrec >= a->nrec);
    else
        assert_int_equal(a->nrec, b->nrec);
    assert_string_equal(a->sum, b->sum);
    if (mode != SUMS && mode != THREADED) {
        assert_int_equal(a->recs.len, b->recs.len);
        assert_memory_equal(a->recs.data, b->recs.data, a->recs.len);
    }
    if (mode == FAST) {
        assert_int_equal(a->digs.len, b->digs.len);
        assert_memory_equal(a->digs.data, b->digs.data, a->digs.len);
    } else {
        assert_int_equal(b->digs.len, 0);
    }
}

static char **file_lines(const char *path, size_t *n);

/* Every line after the begin of a one-section archive (line 2) through mno_pgrec_parse and
   mno_pg_record_text, and through mno_pgrec_parse_text: the same verdict, the same text. */
static void direct_compare(const char *path)
{
    size_t n;
    char **l = file_lines(path, &n);
    assert_true(n >= 2);
    json_error_t je;
    json_t *begin = json_loads(l[1], 0, &je);
    assert_non_null(begin);
    json_t *cols = json_object_get(begin, "columns"), *c;
    size_t k;
    mno_section s;
    memset(&s, 0, sizeof s);
    s.ns = (char *)json_string_value(json_object_get(begin, "ns"));
    s.ncols = json_array_size(cols);
    s.colnames = calloc(s.ncols + 1, sizeof *s.colnames);
    assert_non_null(s.colnames);
    json_array_foreach(cols, k, c)
        s.colnames[k] = json_string_value(json_object_get(c, "name"));
    mno_pgrec *p = mno_pgrec_new();
    assert_non_null(p);
    assert_int_equal(mno_pgrec_setup(p, &s), 0);
    const char **vals = calloc(s.ncols + 1, sizeof *vals);
    size_t *lens = calloc(s.ncols + 1, sizeof *lens);
    mno_buf want = MNO_BUF_INIT, got = MNO_BUF_INIT;
    for (size_t i = 2; i < n; i++) {
        size_t len = strlen(l[i]);
        mno_buf_reset(&want);
        mno_buf_reset(&got);
        assert_int_equal(mno_buf_adds(&got, "keep"), 0);   /* appended to, never overwritten */
        int a = mno_pgrec_parse(p, l[i], len, vals, lens);
        int b = mno_pgrec_parse_text(p, l[i], len, &got);
        if (a != b)
            fail_msg("%s:%zu: mno_pgrec_parse %d, mno_pgrec_parse_text %d", path, i + 1, a, b);
        assert_int_equal(mno_buf_adds(&want, "keep"), 0);
        if (a == 1)
            assert_int_equal(mno_pg_record_text(&want, vals, lens, s.ncols), 0);
        if (want.len != got.len || memcmp(want.data, got.data, want.len) != 0)
            fail_msg("%s:%zu: record text %s, straight from the line %s", path, i + 1, want.data, got.data);
    }
    mno_buf_release(&want);
    mno_buf_release(&got);
    free(vals);
    free(lens);
    free(s.colnames);
    mno_pgrec_free(p);
    json_decref(begin);
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

static void compare(const char *path, long long want_fast_min, long long want_fast_max)
{
    outcome a, b, c, d, f;
    read_all(path, GENERAL, &a);
    read_all(path, FAST, &b);
    read_all(path, BATCHED, &c);
    read_all(path, SUMS, &d);
    read_all(path, THREADED, &f);
    same(path, &a, &b, FAST);
    same(path, &a, &c, BATCHED);
    same(path, &a, &d, SUMS);
    same(path, &a, &f, THREADED);
    assert_int_equal(a.nfast, 0);
    if (b.nfast < want_fast_min || b.nfast > want_fast_max)
        fail_msg("%s: %lld records decoded by the fast path, expected %lld..%lld", path, b.nfast,
                 want_fast_min, want_fast_max);
    assert_int_equal(c.nfast, b.nfast);
    assert_int_equal(d.nfast, b.nfast);
    release(&a);
    release(&b);
    release(&c);
    release(&d);
    release(&f);
    direct_compare(path);
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

/* The lines of the file at path (each without its '\n'); *n of them. */
static char **file_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char **lines = NULL, *l = NULL;
    size_t cap = 0, k = 0;
    ssize_t got;
    *n = 0;
    while ((got = getline(&l, &cap, f)) > 0) {
        if (l[got - 1] == '\n')
            l[got - 1] = '\0';
        lines = realloc(lines, (k + 1) * sizeof *lines);
        assert_non_null(lines);
        lines[k++] = strdup(l);
    }
    free(l);
    fclose(f);
    *n = k;
    return lines;
}

/* Writes lines[0..n) to path, line skip left out (-1: none), line rep replaced by with (-1:
   none), the last line without its newline when cut. */
static void put_lines(const char *path, char **lines, size_t n, long skip, long rep, const char *with, int cut)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        if ((long)i == skip)
            continue;
        fputs((long)i == rep ? with : lines[i], f);
        if (!cut || i + 1 < n)
            fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
}

/* The archive read with its sums checked (as mno-restore does) by the four paths: the same
   outcome; the error, if any, must hold want. */
static void check_all(const char *path, const char *want)
{
    outcome a, b, c, d, f;
    read_all_v(path, GENERAL, 1, &a);
    read_all_v(path, FAST, 1, &b);
    read_all_v(path, BATCHED, 1, &c);
    read_all_v(path, SUMS, 1, &d);
    read_all_v(path, THREADED, 1, &f);
    same(path, &a, &b, FAST);
    same(path, &a, &c, BATCHED);
    same(path, &a, &d, SUMS);
    same(path, &a, &f, THREADED);
    if (want && !strstr(a.msg, want))
        fail_msg("%s: expected an error with \"%s\", got rc %d \"%s\"", path, want, a.rc, a.msg);
    if (!want && a.rc != 0)
        fail_msg("%s: expected success, got \"%s\"", path, a.msg);
    release(&a);
    release(&b);
    release(&c);
    release(&d);
    release(&f);
}

/* A sealed archive of two sections: t1 small, t2 with more records than one batch and long
   values (batches flushed by size too), random awkward values everywhere. */
static void write_two_sections(const char *path, unsigned *seed)
{
    mno_error e;
    mno_error_clear(&e);
    mno_out *out = mno_out_open(path, NULL, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s, s:s, s:n}", "engine", "postgresql", "source", "test", "tenant");
    mno_writer *w = mno_writer_new(out, h, "test_pgrec", &e);
    assert_non_null(w);
    json_decref(h);
    for (int sec = 0; sec < 2; sec++) {
        json_t *cols = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", "id", "type", "bigint",
                                 "name", "a", "type", "text", "name", "b", "type", "text");
        json_t *begin = json_pack("{s:o, s:[s]}", "columns", cols, "key", "id");
        assert_int_equal(mno_writer_begin(w, sec ? "public.t2" : "public.t1", begin, &e), 0);
        json_decref(begin);
        long long n = sec ? 700 : 3;
        for (long long k = 0; k < n; k++) {
            mno_buf v[3] = {MNO_BUF_INIT, MNO_BUF_INIT, MNO_BUF_INIT};
            const char *vals[3];
            size_t lens[3];
            mno_buf_addf(&v[0], "%lld", k);
            random_value(&v[1], seed);
            if (k % 50 == 7)   /* long values: about 12 of 20000 bytes */
                for (int i = 0; i < 2000; i++)
                    mno_buf_adds(&v[2], i % 3 ? "plain text" : "\"q\" (x)");
            else
                random_value(&v[2], seed);
            for (int i = 0; i < 3; i++) {
                if (!v[i].data)
                    mno_buf_adds(&v[i], "");
                vals[i] = (i == 1 && rand_r(seed) % 9 == 0) ? NULL : v[i].data;
                lens[i] = vals[i] ? v[i].len : 0;
            }
            assert_int_equal(mno_writer_rec_pg(w, vals, lens, &e), 0);
            for (int i = 0; i < 3; i++)
                mno_buf_release(&v[i]);
        }
        assert_int_equal(mno_writer_end(w, &e), 0);
    }
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    assert_int_equal(mno_out_finish(out, &e), 0);
}

/* Corruptions are found at the same line with the same text whether records are hashed one
   at a time or in batches; harmless changes (order, another JSON layout) pass on all paths. */
static void test_batched_sums_and_errors(void **state)
{
    (void)state;
    unsigned seed = 424242;
    const char *good = tpath("two.mnoa");
    write_two_sections(good, &seed);
    check_all(good, NULL);
    size_t n;
    char **l = file_lines(good, &n);
    /* lines: 0 header, 1 begin t1, 2..4 recs, 5 end t1, 6 begin t2, 7..706 recs, 707 end, 708 trailer */
    assert_int_equal(n, 709);
    const char *bad = tpath("bad.mnoa");
    char *x = NULL;
    /* one character of one value changed, in each section and in a long value */
    for (long i = 3; i < 706; i += 53) {
        x = strdup(l[i]);
        char *id = strstr(x, "\"id\":\"");
        assert_non_null(id);
        id[6] = id[6] == '9' ? '8' : (char)(id[6] + 1);
        put_lines(bad, l, n, -1, i, x, 0);
        check_all(bad, "sum mismatch: end line says");
        free(x);
    }
    put_lines(bad, l, n, 300, -1, NULL, 0);
    check_all(bad, "count mismatch: end line says 700, found 699 records");
    put_lines(bad, l, n, -1, 300, l[301], 0);
    check_all(bad, "sum mismatch");
    put_lines(bad, l, n, -1, 300, l[14], 0);   /* line 14 = record 57: long value */
    check_all(bad, "sum mismatch");
    put_lines(bad, l, n, -1, 707, "{\"t\":\"end\",\"ns\":\"public.t2\",\"count\":700,\"sum\":\"0123456789abcdef0123456789abcdef\"}", 0);
    check_all(bad, "sum mismatch: end line says 0123456789abcdef0123456789abcdef, computed ");
    put_lines(bad, l, n, -1, 708, "{\"t\":\"trailer\",\"sections\":2,\"count\":703,\"sum\":\"0123456789abcdef0123456789abcdef\"}", 0);
    check_all(bad, "trailer: sum mismatch: trailer says 0123456789abcdef0123456789abcdef, computed ");
    put_lines(bad, l, n, 708, -1, NULL, 0);
    check_all(bad, "truncated archive: no trailer");
    put_lines(bad, l, n, -1, 400, "{\"t\":\"rec\",\"ns\":\"public.t2\",\"v\":{\"id\":\"1\"", 0);
    check_all(bad, "invalid JSON");
    x = strdup(l[500]);
    x[strlen(x) - 20] = '\0';   /* a record cut short, the last line */
    put_lines(bad, l, 501, -1, 500, x, 1);
    check_all(bad, "truncated archive: the last line is cut short");
    free(x);
    /* swapped records: the sum does not depend on order */
    x = strdup(l[100]);
    char *y = strdup(l[200]);
    free(l[100]);
    free(l[200]);
    l[100] = y;
    l[200] = x;
    put_lines(bad, l, n, -1, -1, NULL, 0);
    check_all(bad, NULL);
    /* a record in another layout (the general path) amid fast ones: the same sum */
    x = strdup(l[250]);
    char *v = strstr(x, ",\"v\":");
    assert_non_null(v);
    char *spaced = malloc(strlen(x) + 2);
    memcpy(spaced, x, (size_t)(v - x) + 1);
    strcpy(spaced + (v - x) + 1, " ");
    strcat(spaced, v + 1);
    put_lines(bad, l, n, -1, 250, spaced, 0);
    check_all(bad, NULL);
    free(spaced);
    free(x);
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* Spaced out copy of a record line (the general path's layout): ", \"v\": " for ",\"v\":". */
static char *spaced_line(const char *l)
{
    const char *v = strstr(l, ",\"v\":");
    assert_non_null(v);
    char *x = malloc(strlen(l) + 3);
    assert_non_null(x);
    memcpy(x, l, (size_t)(v - l));
    strcpy(x + (v - l), ", \"v\": ");
    strcat(x, v + 5);
    return x;
}

/* The threaded check reads many batches (its slots are reused): the first error wins even
   when a later line of another kind fails too, or the input is cut after it. */
static void test_threaded_many_batches(void **state)
{
    (void)state;
    unsigned seed = 5150;
    const char *good = tpath("many.mnoa");
    mno_error e;
    mno_error_clear(&e);
    mno_out *out = mno_out_open(good, NULL, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s, s:s, s:n}", "engine", "postgresql", "source", "test", "tenant");
    mno_writer *w = mno_writer_new(out, h, "test_pgrec", &e);
    json_decref(h);
    json_t *cols = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "id", "type", "bigint", "name", "v", "type", "text");
    json_t *begin = json_pack("{s:o, s:[s]}", "columns", cols, "key", "id");
    assert_int_equal(mno_writer_begin(w, "public.many", begin, &e), 0);
    json_decref(begin);
    for (long long k = 0; k < 12000; k++) {
        mno_buf v[2] = {MNO_BUF_INIT, MNO_BUF_INIT};
        mno_buf_addf(&v[0], "%lld", k);
        random_value(&v[1], &seed);
        if (k % 1000 == 3)   /* now and then a record too long to hand over */
            for (int i = 0; i < 30000; i++)
                mno_buf_adds(&v[1], "0123456789");
        const char *vals[2] = {v[0].data, v[1].data ? v[1].data : ""};
        size_t lens[2] = {v[0].len, v[1].len};
        assert_int_equal(mno_writer_rec_pg(w, vals, lens, &e), 0);
        mno_buf_release(&v[0]);
        mno_buf_release(&v[1]);
    }
    assert_int_equal(mno_writer_end(w, &e), 0);
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    assert_int_equal(mno_out_finish(out, &e), 0);
    check_all(good, NULL);
    size_t n;
    char **l = file_lines(good, &n);
    assert_int_equal(n, 12004);
    const char *bad = tpath("many-bad.mnoa");
    /* records in another layout here and there: the same sum */
    char *sp = spaced_line(l[2000]), *sp2 = spaced_line(l[9999]);
    free(l[2000]);
    free(l[9999]);
    l[2000] = sp;
    l[9999] = sp2;
    put_lines(bad, l, n, -1, -1, NULL, 0);
    check_all(bad, NULL);
    /* a bad record (handed over, handed back) before a line of another kind that fails too */
    static const char cut_rec[] = "{\"t\":\"rec\",\"ns\":\"public.many\",\"v\":{\"id\":\"1\",";
    static const char other_end[] = "{\"t\":\"end\",\"ns\":\"public.other\",\"count\":1,\"sum\":\"00000000000000000000000000000000\"}";
    char *keep = l[9000];
    l[9000] = (char *)cut_rec;
    put_lines(bad, l, n, -1, 9500, other_end, 0);
    check_all(bad, ":9001: section public.many: invalid JSON");
    /* ... before a line too long, and before the input's cut end */
    put_lines(bad, l, 9600, -1, 9500, "{\"t\":\"rec\",\"ns\":\"public.many\",\"v\":{\"id\":\"9499\",\"v\":\"x\"}", 1);
    check_all(bad, ":9001: section public.many: invalid JSON");
    put_lines(bad, l, 9100, -1, -1, NULL, 0);
    check_all(bad, ":9001: section public.many: invalid JSON");
    l[9000] = keep;
    /* the later line's own error when the records before it are good */
    put_lines(bad, l, n, -1, 9500, other_end, 0);
    check_all(bad, ":9501: section public.many: end of section public.other inside this section");
    put_lines(bad, l, 9600, -1, -1, NULL, 0);
    check_all(bad, "truncated archive: no trailer");
    /* one value changed far into the section */
    char *x = strdup(l[11000]);
    char *id = strstr(x, "\"id\":\"");
    id[6] = id[6] == '9' ? '8' : (char)(id[6] + 1);
    put_lines(bad, l, n, -1, 11000, x, 0);
    check_all(bad, "sum mismatch: end line says");
    free(x);
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_archives_decode_the_same),
        cmocka_unit_test(test_hostile_lines),
        cmocka_unit_test(test_batched_sums_and_errors),
        cmocka_unit_test(test_threaded_many_batches),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
