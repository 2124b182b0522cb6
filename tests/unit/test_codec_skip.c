/* test_codec_skip.c: mno_in_skip_decoded (mno-restore -j puts each worker's reader on a section's line): plain files (seek), zstd (decode and discard), pipes, line numbers, the end of input. */
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
#include "codec.h"

#define NLINES 40000

static char tmpdir[256];
static char plain[300], zst[300];
static unsigned long long offs[NLINES + 1];   /* offs[k]: decoded offset of line k+1 */

/* Line k (1-based) of the test input: lengths vary, some lines long. */
static int make_line(long k, char *out, size_t n)
{
    int pad = (int)(k % 97 == 0 ? 3000 : k % 13);
    return snprintf(out, n, "line %ld %.*s|", k, pad, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static void write_input(const char *path, int zstd)
{
    mno_error e;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    oo.zstd = zstd;
    mno_out *o = mno_out_open(path, &oo, &e);
    assert_non_null(o);
    char line[4096];
    unsigned long long off = 0;
    for (long k = 1; k <= NLINES; k++) {
        int n = make_line(k, line, sizeof line - 1);
        line[n] = '\n';
        offs[k - 1] = off;
        off += (unsigned long long)n + 1;
        assert_int_equal(mno_out_write(o, line, (size_t)n + 1, &e), 0);
    }
    offs[NLINES] = off;
    assert_int_equal(mno_out_finish(o, &e), 0);
}

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_codec_skip.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(plain, sizeof plain, "%s/in.txt", tmpdir);
    snprintf(zst, sizeof zst, "%s/in.txt.zst", tmpdir);
    write_input(plain, 0);
    write_input(zst, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(plain);
    unlink(zst);
    rmdir(tmpdir);
    return 0;
}

/* Reads the next line of in and checks it is line k, numbered k. */
static void expect_line(mno_in *in, long k)
{
    char *line, want[4096];
    size_t len;
    mno_error e;
    mno_error_clear(&e);
    int n = make_line(k, want, sizeof want);
    assert_int_equal(mno_in_getline(in, &line, &len, &e), 1);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(line, want, len);
    assert_int_equal(mno_in_lineno(in), k);
}

/* From line `from` read (0: none), skips to line `to`, reads it and the next. */
static void skip_case(mno_in *in, long from, long to)
{
    mno_error e;
    mno_error_clear(&e);
    unsigned long long pos = from ? offs[from] : 0;
    assert_int_equal(mno_in_skip_decoded(in, offs[to - 1] - pos, (to - 1) - from, &e), 0);
    expect_line(in, to);
    if (to < NLINES)
        expect_line(in, to + 1);
}

static void forward_skips(const char *path)
{
    mno_error e;
    /* from the start, within the first buffer, far ahead, several times forward */
    const long cases[][2] = {{0, 1}, {0, 2}, {0, 17}, {0, 39000}, {1, 2}, {1, 5000}, {3, 3000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mno_in *in = mno_in_open(path, &e);
        assert_non_null(in);
        for (long k = 1; k <= cases[i][0]; k++)
            expect_line(in, k);
        skip_case(in, cases[i][0], cases[i][1]);
        mno_in_close(in);
    }
    /* one reader going forward section after section, as a -j worker does */
    mno_in *in = mno_in_open(path, &e);
    assert_non_null(in);
    long at = 0;
    for (long to = 10; to < NLINES; to += 3731) {
        skip_case(in, at, to);
        at = to + 1;
    }
    /* nothing to skip: the next line */
    assert_int_equal(mno_in_skip_decoded(in, 0, 0, &e), 0);
    expect_line(in, at + 1);
    mno_in_close(in);
}

static void test_plain_file(void **state)
{
    (void)state;
    forward_skips(plain);
}

static void test_zstd_file(void **state)
{
    (void)state;
    forward_skips(zst);
}

/* A pipe cannot seek: the bytes are read and dropped. */
static void test_pipe(void **state)
{
    (void)state;
    mno_error e;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat '%s'", plain);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    mno_in *in = mno_in_fdopen(fileno(p), "pipe", 0, &e);
    assert_non_null(in);
    skip_case(in, 0, 30001);
    mno_in_close(in);
    pclose(p);
}

/* Past the end: an error naming the input; a skip to the very end leaves nothing to read. */
static void test_past_the_end(void **state)
{
    (void)state;
    const char *paths[2] = {plain, zst};
    for (int i = 0; i < 2; i++) {
        mno_error e;
        mno_error_clear(&e);
        mno_in *in = mno_in_open(paths[i], &e);
        assert_non_null(in);
        assert_int_equal(mno_in_skip_decoded(in, offs[NLINES], NLINES, &e), 0);
        char *line;
        size_t len;
        assert_int_equal(mno_in_getline(in, &line, &len, &e), 0);
        mno_in_close(in);
        in = mno_in_open(paths[i], &e);
        assert_non_null(in);
        int rc = mno_in_skip_decoded(in, offs[NLINES] + 10, NLINES, &e);
        if (rc == 0)   /* a plain file seeks past its end: the next read finds nothing */
            assert_int_equal(mno_in_getline(in, &line, &len, &e), 0);
        else
            assert_non_null(strstr(e.msg, "the input ends before the position to skip to"));
        mno_in_close(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_file),
        cmocka_unit_test(test_zstd_file),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_past_the_end),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
