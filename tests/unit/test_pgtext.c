/* test_pgtext.c: the dump's fast text paths against plain byte-at-a-time references: JSON string escaping (mno_json_str_put vs mno_buf_add_json_str), PostgreSQL record text (mno_pg_record_text vs record_out's rules), and the batch writer (mno_writer_recs_pg, mno_writer_pg_encode + mno_writer_put_pg_lines vs one mno_writer_rec_pg per row), on NULLs, empty values, backslashes, quotes, tabs, newlines, control bytes, UTF-8, "\\N" text and every 16-byte boundary. */
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
#include "checksum.h"
#include "codec.h"
#include "stream.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Bytes that matter to one path or the other, and plain ones; UTF-8 sequences whole. */
static const char *const pieces[] = {
    "a", "b", "Z", "0", "9", " ", "\t", "\n", "\r", "\v", "\f", "\b", "\x01", "\x1f", "\x7f",
    "\"", "\\", "(", ")", ",", "/", "'", "{", "}", ":", "\\N", "N", "\xc3\xa9", "\xe2\x82\xac",
    "\xf0\x9f\x98\x80", "\xc2\xa0", "\xc2\x85", "abcdefghijklmnop", "                ",
};

/* A random value of up to max bytes made of pieces; plain runs are frequent so that the
   16-byte paths see both clean and dirty blocks. */
static size_t random_value(char *out, size_t max)
{
    size_t n = 0, want = (size_t)(next_rand() % (max + 1));
    int plain = next_rand() % 3 == 0;
    while (n < want) {
        const char *p = plain && next_rand() % 8 ? "x" : pieces[next_rand() % (sizeof pieces / sizeof pieces[0])];
        size_t k = strlen(p);
        if (n + k > max)
            break;
        memcpy(out + n, p, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

/* ---- JSON strings ---- */

static void check_json(const char *s, size_t n)
{
    mno_buf want = MNO_BUF_INIT;
    assert_int_equal(mno_buf_add_json_str(&want, s, n), 0);
    char *got = malloc(MNO_JSON_STR_MAX(n) + 1);
    assert_non_null(got);
    size_t k = mno_json_str_put(got, s, n);
    assert_true(k <= MNO_JSON_STR_MAX(n));
    if (k != want.len || memcmp(got, want.data, k) != 0)
        fail_msg("json of %zu bytes: got %.*s, want %s", n, (int)k, got, want.data);
    free(got);
    mno_buf_release(&want);
}

static void test_json_every_byte_at_every_offset(void **state)
{
    (void)state;
    char s[40];
    for (int c = 0; c < 256; c++)
        for (size_t len = 1; len <= 35; len++)
            for (size_t at = 0; at < len; at++) {
                memset(s, 'q', len);
                s[at] = (char)c;
                check_json(s, len);
            }
    check_json("", 0);
}

static void test_json_random(void **state)
{
    (void)state;
    char s[300];
    for (int i = 0; i < 20000; i++) {
        size_t n = random_value(s, sizeof s - 1);
        check_json(s, n);
    }
}

/* ---- record text ---- */

/* ROW(...)::text by record_out's rules, a byte at a time: NULL as nothing, a value quoted
   when empty or holding '"' '\\' '(' ')' ',' or C-locale white space, '"' and '\\' doubled. */
static char *ref_record_text(const char *const *vals, const size_t *lens, size_t n)
{
    mno_buf b = MNO_BUF_INIT;
    assert_int_equal(mno_buf_addc(&b, '('), 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_int_equal(mno_buf_addc(&b, ','), 0);
        if (!vals[i])
            continue;
        int q = lens[i] == 0;
        for (size_t k = 0; k < lens[i]; k++)
            q |= strchr("\"\\(),", vals[i][k]) != NULL || strchr(" \t\n\v\f\r", vals[i][k]) != NULL;
        if (q)
            assert_int_equal(mno_buf_addc(&b, '"'), 0);
        for (size_t k = 0; k < lens[i]; k++) {
            if (vals[i][k] == '"' || vals[i][k] == '\\')
                assert_int_equal(mno_buf_addc(&b, vals[i][k]), 0);
            assert_int_equal(mno_buf_addc(&b, vals[i][k]), 0);
        }
        if (q)
            assert_int_equal(mno_buf_addc(&b, '"'), 0);
    }
    assert_int_equal(mno_buf_addc(&b, ')'), 0);
    return b.data;
}

static void check_record(const char *const *vals, const size_t *lens, size_t n)
{
    char *want = ref_record_text(vals, lens, n);
    mno_buf got = MNO_BUF_INIT;
    assert_int_equal(mno_buf_adds(&got, "prefix:"), 0);   /* appends after what is there */
    assert_int_equal(mno_pg_record_text(&got, vals, lens, n), 0);
    if (strcmp(got.data + 7, want) != 0 || got.len != 7 + strlen(want))
        fail_msg("record text: got %s, want %s", got.data + 7, want);
    /* lens NULL: the same, by strlen */
    mno_buf_reset(&got);
    assert_int_equal(mno_pg_record_text(&got, vals, NULL, n), 0);
    assert_string_equal(got.data, want);
    mno_buf_release(&got);
    free(want);
}

static void test_record_every_byte_at_every_offset(void **state)
{
    (void)state;
    char s[40];
    for (int c = 1; c < 256; c++)
        for (size_t len = 1; len <= 35; len++)
            for (size_t at = 0; at < len; at += (len > 20 ? 3 : 1)) {
                memset(s, 'q', len);
                s[len] = '\0';
                s[at] = (char)c;
                const char *vals[3] = {s, NULL, "\\N"};
                size_t lens[3] = {len, 0, 2};
                check_record(vals, lens, 3);
            }
    const char *empty[2] = {"", NULL};
    size_t zl[2] = {0, 0};
    check_record(empty, zl, 2);
    check_record(empty, zl, 0);
}

static void test_record_random_rows(void **state)
{
    (void)state;
    enum { NC = 7 };
    static char buf[NC][200];
    for (int i = 0; i < 20000; i++) {
        const char *vals[NC];
        size_t lens[NC];
        for (int k = 0; k < NC; k++) {
            lens[k] = random_value(buf[k], sizeof buf[k] - 1);
            vals[k] = next_rand() % 6 == 0 ? NULL : buf[k];
            if (!vals[k])
                lens[k] = 0;
        }
        check_record(vals, lens, NC);
    }
}

/* ---- the batch writer ---- */

static char tmpdir[256];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    mno_buf b = MNO_BUF_INIT;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(mno_buf_add(&b, chunk, k), 0);
    fclose(f);
    *len = b.len;
    return b.data;
}

/* Writes rows (row-major vals/lens, nc columns) to path: batched 0, one call per row; 1, in
   batches of random sizes (digests from mno_md5_many, or none); 2, batches encoded with
   mno_writer_pg_encode and put with mno_writer_put_pg_lines. */
static void write_archive(const char *path, int batched, int digests, const char *const *vals,
                          const size_t *lens, size_t nrows, size_t nc, const char *const *names)
{
    mno_error e = {0};
    mno_out *out = mno_out_open(path, NULL, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s,s:s,s:s}", "engine", "postgresql", "id", "00000000000000000000000000000001",
                          "created", "2026-01-01T00:00:00Z");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    json_t *cols = json_array();
    for (size_t k = 0; k < nc; k++)
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", names[k], "type", "text"));
    json_t *b = json_pack("{s:o}", "columns", cols);
    assert_int_equal(mno_writer_begin(w, "public.t", b, &e), 0);
    if (!batched) {
        for (size_t r = 0; r < nrows; r++)
            assert_int_equal(mno_writer_rec_pg(w, vals + r * nc, lens + r * nc, &e), 0);
    } else {
        unsigned char (*d)[16] = calloc(nrows ? nrows : 1, 16);
        const unsigned char **msg = calloc(nrows ? nrows : 1, sizeof *msg);
        size_t *mlen = calloc(nrows ? nrows : 1, sizeof *mlen);
        mno_buf *texts = calloc(nrows ? nrows : 1, sizeof *texts);
        for (size_t r = 0; r < nrows; r++) {
            assert_int_equal(mno_pg_record_text(&texts[r], vals + r * nc, lens + r * nc, nc), 0);
            msg[r] = (const unsigned char *)texts[r].data;
            mlen[r] = texts[r].len;
        }
        mno_md5_many(msg, mlen, nrows, d);
        mno_buf lines = MNO_BUF_INIT;
        for (size_t r = 0; r < nrows;) {
            size_t n = 1 + (size_t)(next_rand() % 700);
            if (n > nrows - r)
                n = nrows - r;
            if (batched == 2) {   /* encoded apart (as the dump's hashing thread does), then put */
                mno_buf_reset(&lines);
                assert_int_equal(mno_writer_pg_encode(w, &lines, n, vals + r * nc, lens + r * nc), 0);
                assert_int_equal(mno_writer_put_pg_lines(w, lines.data, lines.len, n,
                                                         (const unsigned char (*)[16])(d + r), &e), 0);
            } else {
                assert_int_equal(mno_writer_recs_pg(w, n, vals + r * nc, lens + r * nc,
                                                    digests ? (const unsigned char (*)[16])(d + r) : NULL, &e), 0);
            }
            r += n;
        }
        mno_buf_release(&lines);
        for (size_t r = 0; r < nrows; r++)
            mno_buf_release(&texts[r]);
        free(texts);
        free(mlen);
        free(msg);
        free(d);
    }
    assert_int_equal(mno_writer_end(w, &e), 0);
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    assert_int_equal(mno_out_finish(out, &e), 0);
    json_decref(h);
    json_decref(b);
}

static void test_batch_writer_same_archive(void **state)
{
    (void)state;
    enum { NC = 5, NROWS = 3000 };
    static const char *const names[NC] = {"id", "na\"me", "back\\slash", "tab\there", "\xc3\xa9t\xc3\xa9"};
    static char buf[NROWS][NC][120];
    /* one value far past the fast path's limit (FAST_JSON_MAX), with escapes all along */
    size_t biglen = (size_t)200 << 10;
    char *big = malloc(biglen + 1);
    assert_non_null(big);
    for (size_t i = 0; i < biglen; i++)
        big[i] = "ab\"\\\t\n c"[i % 9];
    big[biglen] = '\0';
    const char **vals = calloc(NROWS * NC, sizeof *vals);
    size_t *lens = calloc(NROWS * NC, sizeof *lens);
    for (size_t r = 0; r < NROWS; r++)
        for (size_t k = 0; k < NC; k++) {
            size_t n = random_value(buf[r][k], sizeof buf[r][k] - 1);
            int null = next_rand() % 7 == 0;
            vals[r * NC + k] = null ? NULL : buf[r][k];
            lens[r * NC + k] = null ? 0 : n;
        }
    vals[1234 * NC + 2] = big;
    lens[1234 * NC + 2] = biglen;
    char one[600], bat[600], nod[600], enc[600];
    snprintf(one, sizeof one, "%s/one.mnoa", tmpdir);
    snprintf(bat, sizeof bat, "%s/batch.mnoa", tmpdir);
    snprintf(nod, sizeof nod, "%s/nodigest.mnoa", tmpdir);
    snprintf(enc, sizeof enc, "%s/encoded.mnoa", tmpdir);
    write_archive(one, 0, 0, vals, lens, NROWS, NC, names);
    write_archive(bat, 1, 1, vals, lens, NROWS, NC, names);
    write_archive(nod, 1, 0, vals, lens, NROWS, NC, names);
    write_archive(enc, 2, 1, vals, lens, NROWS, NC, names);
    size_t l1, l2, l3, l4;
    char *a = slurp(one, &l1), *b = slurp(bat, &l2), *c = slurp(nod, &l3), *d = slurp(enc, &l4);
    assert_true(l1 > biglen);
    assert_int_equal(l1, l2);
    assert_int_equal(l1, l3);
    assert_int_equal(l1, l4);
    assert_memory_equal(a, b, l1);
    assert_memory_equal(a, c, l1);
    assert_memory_equal(a, d, l1);
    /* and the archive reads back to the same values, sums checked by the reader */
    mno_error e = {0};
    mno_in *in = mno_in_open(bat, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *rd = mno_reader_new(in, &ro, &e);
    mno_item it;
    size_t row = 0;
    int n;
    while ((n = mno_reader_next(rd, &it, &e)) > 0) {
        if (it.kind != MNO_ITEM_REC)
            continue;
        for (size_t k = 0; k < NC; k++) {
            const char *want = vals[row * NC + k];
            if (!want) {
                assert_null(it.vals[k]);
                continue;
            }
            assert_non_null(it.vals[k]);
            assert_int_equal(it.lens[k], lens[row * NC + k]);
            assert_memory_equal(it.vals[k], want, lens[row * NC + k]);
        }
        row++;
    }
    if (n < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(row, NROWS);
    mno_reader_free(rd);
    mno_in_close(in);
    free(a);
    free(b);
    free(c);
    free(d);
    free(vals);
    free(lens);
    free(big);
}

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_pgtext.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_every_byte_at_every_offset),
        cmocka_unit_test(test_json_random),
        cmocka_unit_test(test_record_every_byte_at_every_offset),
        cmocka_unit_test(test_record_random_rows),
        cmocka_unit_test(test_batch_writer_same_archive),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
