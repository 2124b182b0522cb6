/* test_stream.c: the mnoa writer and checking reader: round trips, sums, every corruption. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <zstd.h>
#include "buf.h"
#include "stream.h"

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed memory in a quarantine (256 MB by default), which would show as RSS
   growth in the flat-memory tests; a small one keeps use-after-free detection meaningful. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=8"; }
#endif

static char tmpdir[256];

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_stream.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A path in the test's directory (static storage, 4 slots). */
static const char *tpath(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    mno_buf b = MNO_BUF_INIT;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(mno_buf_add(&b, chunk, k), 0);
    fclose(f);
    if (n)
        *n = b.len;
    if (!b.data)
        return calloc(1, 1);
    return b.data;
}

/*
 * Reads the archive at path to its end with opts. Returns "" when it holds, else the error
 * message (static storage). *nrec gets the number of records read.
 */
static const char *read_all(const char *path, const mno_reader_opts *opts, size_t *nrec)
{
    static mno_error e;
    mno_error_clear(&e);
    mno_in *in = mno_in_open(path, &e);
    if (!in)
        return e.msg;
    mno_reader *r = mno_reader_new(in, opts, &e);
    assert_non_null(r);
    mno_item it;
    int n;
    size_t recs = 0;
    while ((n = mno_reader_next(r, &it, &e)) > 0)
        if (it.kind == MNO_ITEM_REC)
            recs++;
    mno_reader_free(r);
    mno_in_close(in);
    if (nrec)
        *nrec = recs;
    /* the general reader's verdict is also the check pass's (mno_stream_check: mno-cat --check,
       mno-restore's whole-file check), word for word */
    if (!opts || (opts->verify && !opts->fast_pg && !opts->skim && !opts->fast_mongo && !opts->no_digest &&
                  !opts->sums_only && !opts->hash_thread)) {
        static mno_error ce;
        mno_error_clear(&ce);
        in = mno_in_open(path, &ce);
        assert_non_null(in);
        int crc = mno_stream_check(in, opts ? opts->max_line : 0, NULL, &ce);
        mno_in_close(in);
        if (strcmp(n < 0 ? e.msg : "", crc < 0 ? ce.msg : "") != 0)
            fail_msg("%s: the check pass said \"%s\", the general reader \"%s\"", path, crc < 0 ? ce.msg : "",
                     n < 0 ? e.msg : "");
    }
    return n < 0 ? e.msg : "";
}

static json_t *pg_header(void)
{
    return json_pack("{s:s, s:s, s:s}", "engine", "postgresql", "source", "mnohub", "tenant", "acme");
}

static json_t *pg_begin(void)
{
    return json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:[s]}", "columns", "name", "id", "type",
                     "bigint", "name", "name", "type", "text", "name", "note", "type", "text", "key",
                     "id");
}

/* Rows with the values that need care in JSON and in ROW()::text. */
static const char *pg_rows[][3] = {
    {"1", "Ann", NULL},
    {"2", "", "empty string, not null"},
    {"3", "quote \" backslash \\ (paren) , comma", "tab\there\nnewline"},
    {"4", "unicode \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "control \x01\x1f end"},
    {"5", NULL, NULL},
};
#define NPG (sizeof pg_rows / sizeof pg_rows[0])

/* Writes a two-section pg archive to path with out options oo; returns the trailer sum. */
static mno_sum write_pg(const char *path, const mno_out_opts *oo)
{
    mno_error e = {0};
    mno_out *out = mno_out_open(path, oo, &e);
    assert_non_null(out);
    json_t *h = pg_header(), *b = pg_begin();
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    mno_sum total = MNO_SUM_ZERO;
    const char *sections[] = {"public.users", "public.orgs"};
    for (int s = 0; s < 2; s++) {
        assert_int_equal(mno_writer_begin(w, sections[s], b, &e), 0);
        mno_buf text = MNO_BUF_INIT;
        for (size_t i = 0; i < NPG; i++) {
            assert_int_equal(mno_writer_rec_pg(w, pg_rows[i], NULL, &e), 0);
            mno_buf_reset(&text);
            assert_int_equal(mno_pg_record_text(&text, pg_rows[i], NULL, 3), 0);
            mno_sum_add_md5(&total, text.data, text.len);
        }
        mno_buf_release(&text);
        assert_int_equal(mno_writer_section(w)->count, NPG);
        assert_int_equal(mno_writer_end(w, &e), 0);
    }
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    json_decref(h);
    json_decref(b);
    assert_int_equal(mno_out_finish(out, &e), 0);
    return total;
}

/* Reads back a pg archive written by write_pg and checks every value and sum. */
static void check_pg(const char *path, mno_sum want)
{
    mno_error e = {0};
    mno_in *in = mno_in_open(path, &e);
    assert_non_null(in);
    mno_reader *r = mno_reader_new(in, NULL, &e);
    assert_non_null(r);
    mno_item it;
    size_t i = 0, ends = 0;
    int n, trailer = 0;
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_HEADER) {
            assert_string_equal(json_string_value(json_object_get(it.obj, "tenant")), "acme");
            assert_string_equal(json_string_value(json_object_get(it.obj, "producer")),
                                "mno-test " MNO_VERSION_STR);
            const char *id = json_string_value(json_object_get(it.obj, "id"));
            assert_non_null(id);
            assert_int_equal(strspn(id, "0123456789abcdef"), 32);
            assert_int_equal(strlen(id), 32);
            const char *created = json_string_value(json_object_get(it.obj, "created"));
            assert_non_null(created);
            assert_int_equal(strlen(created), 20);
            assert_int_equal(created[19], 'Z');
        } else if (it.kind == MNO_ITEM_REC) {
            assert_int_equal(it.section->ncols, 3);
            for (int c = 0; c < 3; c++) {
                const char *want_v = pg_rows[i % NPG][c];
                if (!want_v) {
                    assert_null(it.vals[c]);
                } else {
                    assert_non_null(it.vals[c]);
                    assert_int_equal(it.lens[c], strlen(want_v));
                    assert_memory_equal(it.vals[c], want_v, strlen(want_v));
                }
            }
            i++;
        } else if (it.kind == MNO_ITEM_END) {
            assert_true(it.sum_ok);
            assert_int_equal(it.declared_count, NPG);
            ends++;
        } else if (it.kind == MNO_ITEM_TRAILER) {
            assert_true(it.sum_ok);
            assert_true(mno_sum_eq(&it.declared_sum, &want));
            trailer = 1;
        }
    }
    if (n < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(i, 2 * NPG);
    assert_int_equal(ends, 2);
    assert_true(trailer);
    mno_reader_free(r);
    mno_in_close(in);
}

static void test_pg_round_trip_plain(void **state)
{
    (void)state;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    const char *p = tpath("pg.mnoa");
    mno_sum s = write_pg(p, &oo);
    check_pg(p, s);
    char *text = read_file(p, NULL);
    assert_true(strncmp(text, "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":2,\"engine\":\"postgresql\"", 63) == 0);
    assert_non_null(strstr(text, "{\"t\":\"rec\",\"ns\":\"public.users\",\"v\":{\"id\":\"2\",\"name\":\"\",\"note\":\"empty string, not null\"}}\n"));
    assert_non_null(strstr(text, "\"v\":{\"id\":\"4\",\"name\":\"unicode \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"note\":\"control \\u0001\\u001f end\"}}\n"));
    free(text);
    assert_int_equal(access(tpath("pg.mnoa.partial"), F_OK), -1);
}

static void test_pg_round_trip_zstd(void **state)
{
    (void)state;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    oo.zstd = 1;
    const char *p = tpath("pg.mnoa.zst");
    mno_sum s = write_pg(p, &oo);
    check_pg(p, s);
    oo.threads = 2;
    oo.level = 5;
    p = tpath("pg-mt.mnoa.zst");
    s = write_pg(p, &oo);
    check_pg(p, s);
    size_t n;
    unsigned char *b = (unsigned char *)read_file(p, &n);
    assert_true(n > 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd);
    free(b);
}

/* ---- MongoDB ---- */

/* Extended JSON documents of every awkward type; each must survive byte-exact. */
static const char *mongo_docs[] = {
    "{\"_id\":{\"$oid\":\"5f1b2c3d4e5f60718293a4b5\"},\"i32\":{\"$numberInt\":\"-2147483648\"},"
    "\"i64\":{\"$numberLong\":\"9223372036854775807\"},\"d\":{\"$numberDouble\":\"1.5\"}}",
    "{\"negzero\":{\"$numberDouble\":\"-0.0\"},\"nan\":{\"$numberDouble\":\"NaN\"},"
    "\"inf\":{\"$numberDouble\":\"Infinity\"},\"ninf\":{\"$numberDouble\":\"-Infinity\"},"
    "\"tiny\":{\"$numberDouble\":\"4.9406564584124654e-324\"},\"pi\":{\"$numberDouble\":\"3.141592653589793\"}}",
    "{\"dec\":{\"$numberDecimal\":\"1234567890.123456789012345678901234\"},"
    "\"dec2\":{\"$numberDecimal\":\"-0E-6176\"},\"decnan\":{\"$numberDecimal\":\"NaN\"}}",
    "{\"old\":{\"$date\":{\"$numberLong\":\"-2208988800000\"}},\"new\":{\"$date\":{\"$numberLong\":\"4133980800001\"}},"
    "\"epoch\":{\"$date\":{\"$numberLong\":\"0\"}}}",
    "{\"b0\":{\"$binary\":{\"base64\":\"AAECAw==\",\"subType\":\"00\"}},"
    "\"b4\":{\"$binary\":{\"base64\":\"EjRWeJCrze8SNFZ4kKvN7w==\",\"subType\":\"04\"}},"
    "\"b5\":{\"$binary\":{\"base64\":\"1B2M2Y8AsgTpgAmY7PhCfg==\",\"subType\":\"05\"}},"
    "\"b80\":{\"$binary\":{\"base64\":\"\",\"subType\":\"80\"}}}",
    "{\"arr\":[{\"a\":{\"$numberInt\":\"1\"},\"b\":[{\"c\":[]},{}]},[[{\"deep\":null}]]],\"empty\":{},\"nul\":null}",
    "{\"\xc3\xa9t\xc3\xa9\":\"caf\xc3\xa9\",\"\xe6\x97\xa5\xe6\x9c\xac\":\"\xf0\x9f\x98\x80\",\"q\\\"k\":\"a\\u0000b\\n\\t\\\\\"}",
    "{}",
    "{\"z\":true,\"a\":false,\"m\":{\"$minKey\":1},\"x\":{\"$maxKey\":1},"
    "\"ts\":{\"$timestamp\":{\"t\":1700000000,\"i\":7}},"
    "\"re\":{\"$regularExpression\":{\"pattern\":\"^a.*b$\",\"options\":\"im\"}},\"code\":{\"$code\":\"x=1\"}}",
};
#define NMONGO (sizeof mongo_docs / sizeof mongo_docs[0])

static void write_mongo(const char *path, const mno_out_opts *oo, mno_sum *total)
{
    mno_error e = {0};
    mno_out *out = mno_out_open(path, oo, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    json_t *b = json_pack("{s:{}, s:[]}", "options", "indexes");
    assert_int_equal(mno_writer_begin(w, "connec.people", b, &e), 0);
    *total = (mno_sum)MNO_SUM_ZERO;
    for (size_t i = 0; i < NMONGO; i++) {
        bson_error_t be;
        bson_t *doc = bson_new_from_json((const uint8_t *)mongo_docs[i], -1, &be);
        if (!doc)
            fail_msg("doc %zu: %s", i, be.message);
        if (mno_writer_rec_bson(w, doc, &e) < 0)
            fail_msg("%s", e.msg);
        mno_sum_add_md5(total, bson_get_data(doc), doc->len);
        bson_destroy(doc);
    }
    assert_int_equal(mno_writer_end(w, &e), 0);
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    json_decref(h);
    json_decref(b);
    assert_int_equal(mno_out_finish(out, &e), 0);
}

static void check_mongo(const char *path, const mno_sum *want)
{
    mno_error e = {0};
    mno_in *in = mno_in_open(path, &e);
    assert_non_null(in);
    mno_reader *r = mno_reader_new(in, NULL, &e);
    assert_non_null(r);
    mno_item it;
    size_t i = 0;
    int n;
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_REC) {
            bson_error_t be;
            bson_t *doc = bson_new_from_json((const uint8_t *)mongo_docs[i], -1, &be);
            assert_non_null(doc);
            assert_int_equal(it.doc->len, doc->len);
            assert_memory_equal(bson_get_data(it.doc), bson_get_data(doc), doc->len);
            unsigned char d[16];
            mno_md5(bson_get_data(doc), doc->len, d);
            assert_memory_equal(it.digest, d, 16);
            bson_destroy(doc);
            i++;
        } else if (it.kind == MNO_ITEM_TRAILER) {
            assert_true(mno_sum_eq(&it.declared_sum, want));
        }
    }
    if (n < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(i, NMONGO);
    mno_reader_free(r);
    mno_in_close(in);
}

/* A random document: every scalar type the fast writer knows, nested documents and arrays,
   strings with escapes and multi-byte UTF-8, sizes up to a few kB. */
static bson_t *random_doc(unsigned *seed, int depth)
{
    static const char *pieces[] = {"a", "\"", "\\", "\n", "\x01", "\xc3\xa9", "\xf0\x9f\x98\x80", "xyz", "\x7f", "</"};
    bson_t *d = bson_new();
    char key[16], str[2048];
    int n = depth ? rand_r(seed) % 4 : 1 + rand_r(seed) % 12;
    if (!depth)
        BSON_APPEND_INT32(d, "_id", rand_r(seed));
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        switch (rand_r(seed) % 10) {
        case 0: BSON_APPEND_INT32(d, key, rand_r(seed) - RAND_MAX / 2); break;
        case 1: BSON_APPEND_INT64(d, key, (int64_t)(((uint64_t)rand_r(seed) << 33) ^ (uint64_t)rand_r(seed))); break;
        case 2: {
            uint64_t bits = ((uint64_t)rand_r(seed) << 42) ^ ((uint64_t)rand_r(seed) << 21) ^ (uint64_t)rand_r(seed);
            double v;
            memcpy(&v, &bits, sizeof v);
            BSON_APPEND_DOUBLE(d, key, rand_r(seed) % 2 ? v : (double)(rand_r(seed) % 100000) / 100);
            break;
        }
        case 3: {
            size_t len = 0, want = (size_t)(rand_r(seed) % 1500);
            while (len < want) {
                const char *p = pieces[rand_r(seed) % 10];
                memcpy(str + len, p, strlen(p));
                len += strlen(p);
            }
            bson_append_utf8(d, key, -1, str, (int)len);
            break;
        }
        case 4: BSON_APPEND_DATE_TIME(d, key, ((int64_t)rand_r(seed) << 12) - ((int64_t)1 << 41)); break;
        case 5: {
            bson_decimal128_t dec;
            snprintf(str, sizeof str, "%d.%02dE%d", rand_r(seed) % 100000, rand_r(seed) % 100, rand_r(seed) % 40 - 20);
            assert_true(bson_decimal128_from_string(str, &dec));
            BSON_APPEND_DECIMAL128(d, key, &dec);
            break;
        }
        case 6: {
            bson_oid_t oid;
            for (int k = 0; k < 12; k++)
                oid.bytes[k] = (uint8_t)rand_r(seed);
            BSON_APPEND_OID(d, key, &oid);
            break;
        }
        case 7: BSON_APPEND_BOOL(d, key, rand_r(seed) % 2); break;
        case 8: BSON_APPEND_NULL(d, key); break;
        default:
            if (depth < 3) {
                bson_t *sub = random_doc(seed, depth + 1);
                if (rand_r(seed) % 2) {
                    BSON_APPEND_DOCUMENT(d, key, sub);
                } else {
                    /* the same values under the keys "0", "1", ...: an array */
                    bson_t arr;
                    bson_iter_t it;
                    uint32_t k = 0;
                    BSON_APPEND_ARRAY_BEGIN(d, key, &arr);
                    assert_true(bson_iter_init(&it, sub));
                    while (bson_iter_next(&it)) {
                        char ak[16];
                        snprintf(ak, sizeof ak, "%u", k++);
                        assert_true(bson_append_iter(&arr, ak, -1, &it));
                    }
                    bson_append_array_end(d, &arr);
                }
                bson_destroy(sub);
            }
        }
    }
    return d;
}

/* The archive after its header line (header lines carry a time and an id). */
/* The text after the header line, cut before the trailer's header digest (which differs with
   the header's id and time). Modifies text. */
static const char *after_header(char *text)
{
    char *p = strchr(text, '\n');
    assert_non_null(p);
    char *h = strstr(p, ",\"header_sha256\":");
    if (h)   /* NULL: cut already */
        *h = '\0';
    return p + 1;
}

/* mno_writer_recs_bson writes, byte for byte, what one mno_writer_rec_bson per document writes
   (lines, count, sum), for batches of every awkward size (1, around its 256-md5 chunk, past its
   1 MB write) of random documents; and each line holds libbson's canonical Extended JSON.
   mno_writer_recs_bson_digest, given the documents' md5s (mno_md5), writes the same again. */
static void test_mongo_recs_bson_batch(void **state)
{
    (void)state;
    enum { N = 3000 };
    static const size_t cuts[] = {1, 7, 255, 256, 257, 512, 1200};
    unsigned seed = 20261129;
    bson_t **docs = calloc(N, sizeof *docs);
    const uint8_t **ptr = calloc(N, sizeof *ptr);
    size_t *lens = calloc(N, sizeof *lens);
    assert_true(docs && ptr && lens);
    for (size_t i = 0; i < N; i++) {
        docs[i] = random_doc(&seed, 0);
        ptr[i] = bson_get_data(docs[i]);
        lens[i] = docs[i]->len;
    }
    unsigned char (*dig)[16] = calloc(N, sizeof *dig);
    assert_non_null(dig);
    for (size_t i = 0; i < N; i++)
        mno_md5(ptr[i], lens[i], dig[i]);
    char *text[3];
    for (int batch = 0; batch < 3; batch++) {
        mno_error e = {0};
        const char *path = tpath(batch == 2 ? "recs-digest.mnoa" : batch ? "recs-batch.mnoa" : "recs-one.mnoa");
        mno_out *out = mno_out_open(path, NULL, &e);
        assert_non_null(out);
        json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
        mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
        assert_non_null(w);
        json_t *b = json_pack("{s:{}, s:[]}", "options", "indexes");
        assert_int_equal(mno_writer_begin(w, "connec.people", b, &e), 0);
        size_t i = 0, c = 0;
        while (i < N) {
            if (batch) {
                size_t k = cuts[c++ % (sizeof cuts / sizeof cuts[0])];
                if (k > N - i)
                    k = N - i;
                if ((batch == 1 ? mno_writer_recs_bson(w, k, ptr + i, lens + i, &e)
                                : mno_writer_recs_bson_digest(w, k, ptr + i, lens + i,
                                                              (const unsigned char (*)[16])dig + i, &e)) < 0)
                    fail_msg("%s", e.msg);
                i += k;
            } else {
                if (mno_writer_rec_bson(w, docs[i], &e) < 0)
                    fail_msg("%s", e.msg);
                i++;
            }
        }
        assert_int_equal(mno_writer_end(w, &e), 0);
        assert_int_equal(mno_writer_close(w, &e), 0);
        mno_writer_free(w);
        json_decref(h);
        json_decref(b);
        assert_int_equal(mno_out_finish(out, &e), 0);
        size_t n;
        text[batch] = read_file(path, &n);
        assert_int_equal(strlen(text[batch]), n);
    }
    assert_string_equal(after_header(text[0]), after_header(text[1]));
    assert_string_equal(after_header(text[0]), after_header(text[2]));
    free(dig);
    /* every record line: {"t":"rec","ns":...,"v":CANONICAL} with libbson's canonical text */
    const char *p = strstr(text[1], "{\"t\":\"rec\"");
    for (size_t i = 0; i < N; i++) {
        assert_non_null(p);
        const char *v = strstr(p, "\"v\":");
        assert_non_null(v);
        v += 4;
        size_t jl;
        char *j = bson_as_canonical_extended_json(docs[i], &jl);
        assert_non_null(j);
        if (strncmp(v, j, jl) != 0 || strncmp(v + jl, "}\n", 2) != 0)
            fail_msg("record %zu differs from libbson's canonical Extended JSON", i + 1);
        bson_free(j);
        p = v + jl + 2;
    }
    assert_true(strncmp(p, "{\"t\":\"end\"", 10) == 0);
    /* a record that is not valid BSON is refused with its number in the section */
    mno_error e = {0};
    mno_out *out = mno_out_open(tpath("recs-bad.mnoa"), NULL, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    json_t *b = json_pack("{s:{}, s:[]}", "options", "indexes");
    assert_int_equal(mno_writer_begin(w, "connec.people", b, &e), 0);
    uint8_t bad[64];
    memcpy(bad, ptr[2], lens[2] < sizeof bad ? lens[2] : sizeof bad);
    const uint8_t *two[3] = {ptr[0], ptr[1], bad};
    size_t twol[3] = {lens[0], lens[1], 5}; /* a length shorter than the document claims */
    assert_int_equal(mno_writer_recs_bson(w, 3, two, twol, &e), -1);
    assert_non_null(strstr(e.msg, "record 3 (_id unreadable) cannot be written (not well-formed BSON)"));
    mno_writer_free(w);
    json_decref(h);
    json_decref(b);
    mno_out_abort(out);
    for (size_t i = 0; i < N; i++)
        bson_destroy(docs[i]);
    free(docs);
    free(ptr);
    free(lens);
    free(text[0]);
    free(text[1]);
    free(text[2]);
}

static void test_mongo_round_trip(void **state)
{
    (void)state;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    mno_sum s;
    write_mongo(tpath("m.mnoa"), &oo, &s);
    check_mongo(tpath("m.mnoa"), &s);
    oo.zstd = 1;
    oo.threads = 2;
    write_mongo(tpath("m.mnoa.zst"), &oo, &s);
    check_mongo(tpath("m.mnoa.zst"), &s);
    /* -0.0 stays negative zero, and the canonical text is what libbson writes */
    char *text = read_file(tpath("m.mnoa"), NULL);
    assert_non_null(strstr(text, "\"negzero\" : { \"$numberDouble\" : \"-0.0\" }"));
    assert_non_null(strstr(text, "{ \"$date\" : { \"$numberLong\" : \"-2208988800000\" } }"));
    free(text);
}

/* ---- corruption: each with its exact message ---- */

#define H "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"postgresql\"}\n"
#define B(ns) "{\"t\":\"begin\",\"ns\":\"" ns "\",\"columns\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"text\"}]}\n"
#define R(ns, id, s) "{\"t\":\"rec\",\"ns\":\"" ns "\",\"v\":{\"id\":\"" id "\",\"s\":" s "}}\n"

/* The sum of md5 of the given texts, as hex. */
static const char *sumhex(const char *const *texts, size_t n)
{
    static char hex[33];
    mno_sum s = MNO_SUM_ZERO;
    for (size_t i = 0; i < n; i++)
        mno_sum_add_md5(&s, texts[i], strlen(texts[i]));
    return mno_sum_hex(&s, hex);
}

static char *good_text(void)
{
    static const char *rows[] = {"(1,a)", "(2,\"b c\")"};
    mno_buf b = MNO_BUF_INIT;
    const char *sum = sumhex(rows, 2);
    mno_buf_adds(&b, H B("public.t") R("public.t", "1", "\"a\"") R("public.t", "2", "\"b c\""));
    mno_buf_addf(&b, "{\"t\":\"end\",\"ns\":\"public.t\",\"count\":2,\"sum\":\"%s\"}\n", sum);
    mno_buf_addf(&b, "{\"t\":\"trailer\",\"sections\":1,\"count\":2,\"sum\":\"%s\"}\n", sum);
    return b.data;
}

/* Writes text with one substring replaced and returns the reader's verdict. */
static const char *verdict_edit(const char *from, const char *to)
{
    char *t = good_text();
    mno_buf b = MNO_BUF_INIT;
    if (from) {
        char *p = strstr(t, from);
        assert_non_null(p);
        mno_buf_add(&b, t, (size_t)(p - t));
        mno_buf_adds(&b, to);
        mno_buf_adds(&b, p + strlen(from));
    } else {
        mno_buf_adds(&b, t);
    }
    const char *path = tpath("edit.mnoa");
    write_file(path, b.data);
    mno_buf_release(&b);
    free(t);
    return read_all(path, NULL, NULL);
}

static char expect[2048];
static const char *msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char body[900];
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(expect, sizeof expect, "%s/edit.mnoa:%s", tmpdir, body);
    return expect;
}

static void test_hand_archive_holds(void **state)
{
    (void)state;
    assert_string_equal(verdict_edit(NULL, NULL), "");
}

static void test_changed_value(void **state)
{
    (void)state;
    static const char *rows[] = {"(1,a)", "(2,\"b c\")"}, *edited[] = {"(1,x)", "(2,\"b c\")"};
    char want[33], got[33];
    snprintf(want, sizeof want, "%s", sumhex(rows, 2));
    snprintf(got, sizeof got, "%s", sumhex(edited, 2));
    assert_string_equal(verdict_edit("\"s\":\"a\"", "\"s\":\"x\""),
                        msg("5: section public.t: sum mismatch: end line says %s, computed %s", want, got));
}

static void test_missing_and_extra_record(void **state)
{
    (void)state;
    assert_string_equal(verdict_edit(R("public.t", "1", "\"a\""), ""),
                        msg("4: section public.t: count mismatch: end line says 2, found 1 records"));
    assert_string_equal(verdict_edit(R("public.t", "1", "\"a\""), R("public.t", "1", "\"a\"") R("public.t", "1", "\"a\"")),
                        msg("6: section public.t: count mismatch: end line says 2, found 3 records"));
}

static void test_missing_trailer(void **state)
{
    (void)state;
    char *t = good_text();
    *strstr(t, "{\"t\":\"trailer\"") = '\0';
    write_file(tpath("edit.mnoa"), t);
    free(t);
    assert_string_equal(read_all(tpath("edit.mnoa"), NULL, NULL), msg("5: truncated archive: no trailer"));
    write_file(tpath("edit.mnoa"), H B("public.t") R("public.t", "1", "\"a\""));
    assert_string_equal(read_all(tpath("edit.mnoa"), NULL, NULL),
                        msg("3: section public.t: truncated archive: no trailer"));
    write_file(tpath("edit.mnoa"), "");
    snprintf(expect, sizeof expect, "%s/edit.mnoa: empty input: no archive header", tmpdir);
    assert_string_equal(read_all(tpath("edit.mnoa"), NULL, NULL), expect);
}

static void test_structure_errors(void **state)
{
    (void)state;
    assert_string_equal(verdict_edit("\"version\":1", "\"version\":3"),
                        msg("1: unsupported archive version 3 (this reader reads versions 1 and 2)"));
    assert_string_equal(verdict_edit("\"format\":\"mnoa\"", "\"format\":\"tar\""),
                        msg("1: not an mnoa archive: format is not \"mnoa\""));
    assert_string_equal(verdict_edit(H, B("public.t")),
                        msg("1: not an mnoa archive: the first line is not a header"));
    assert_string_equal(verdict_edit(R("public.t", "2", "\"b c\""), R("public.u", "2", "\"b c\"")),
                        msg("4: section public.t: record of section public.u inside this section"));
    assert_string_equal(verdict_edit(B("public.t"), ""),
                        msg("2: section public.t: record outside its section (no begin line before it)"));
    assert_string_equal(verdict_edit(R("public.t", "2", "\"b c\""), R("public.t", "2", "\"b c\"") B("public.u")),
                        msg("5: section public.t: no end line before the begin of section public.u"));
    assert_string_equal(verdict_edit("{\"t\":\"trailer\"", B("public.t") "{\"t\":\"trailer\""),
                        msg("6: section public.t: section opened twice (first at line 2)"));
    assert_string_equal(verdict_edit("\"ns\":\"public.t\",\"count\"", "\"ns\":\"public.u\",\"count\""),
                        msg("5: section public.t: end of section public.u inside this section"));
    assert_string_equal(verdict_edit("\"t\":\"end\"", "\"t\":\"fin\""),
                        msg("5: section public.t: unknown line type \"fin\""));
    assert_string_equal(verdict_edit("\"sections\":1", "\"sections\":2"),
                        msg("6: trailer: section count mismatch: trailer says 2, found 1 sections"));
    char *t = good_text();
    mno_buf b = MNO_BUF_INIT;
    mno_buf_adds(&b, t);
    mno_buf_adds(&b, "{}\n");
    write_file(tpath("edit.mnoa"), b.data);
    assert_string_equal(read_all(tpath("edit.mnoa"), NULL, NULL), msg("7: data after the trailer"));
    mno_buf_release(&b);
    free(t);
}

static void test_invalid_json(void **state)
{
    (void)state;
    assert_string_equal(verdict_edit("\"s\":\"a\"}}", "\"s\":\"a\"}"),
                        msg("3: section public.t: invalid JSON at column 49: '}' expected near end of file"));
    assert_string_equal(verdict_edit("\"s\":\"a\"", "\"s\":1"),
                        msg("3: section public.t: column \"s\" is neither a string nor null"));
    assert_string_equal(verdict_edit("\"s\":\"a\"", "\"t\":\"a\""),
                        msg("3: section public.t: record has no column \"s\""));
    assert_string_equal(verdict_edit("\"s\":\"a\"", "\"s\":\"a\",\"x\":null"),
                        msg("3: section public.t: record has unknown column \"x\""));
    /* with a key in begin, a bad record names it */
    write_file(tpath("edit.mnoa"), H "{\"t\":\"begin\",\"ns\":\"public.t\",\"columns\":[{\"name\":\"id\"},"
                                   "{\"name\":\"s\"}],\"key\":[\"id\"]}\n" R("public.t", "7", "null")
                                   R("public.t", "8", "1"));
    assert_string_equal(read_all(tpath("edit.mnoa"), NULL, NULL),
                        msg("4: section public.t: key (id)=(8): column \"s\" is neither a string nor null"));
    write_file(tpath("edit.mnoa"), H "{\"t\":\"begin\",\"ns\":\"public.t\",\"columns\":[{\"name\":\"id\"},"
                                   "{\"name\":\"s\"}],\"key\":[\"s\",\"id\"]}\n" R("public.t", "8", "\"b\",\"x\":null"));
    assert_string_equal(read_all(tpath("edit.mnoa"), NULL, NULL),
                        msg("3: section public.t: key (s, id)=(b, 8): record has unknown column \"x\""));
}

static void test_mongo_invalid_extended_json(void **state)
{
    (void)state;
    const char *path = tpath("edit.mnoa");
    write_file(path, "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"mongodb\"}\n"
                     "{\"t\":\"begin\",\"ns\":\"c.p\"}\n"
                     "{\"t\":\"rec\",\"ns\":\"c.p\",\"v\":{\"a\":{\"$numberInt\":\"x\"}}}\n");
    const char *got = read_all(path, NULL, NULL);
    assert_string_equal(got, msg("3: section c.p: invalid Extended JSON at key \"a\": $numberInt is not a 32-bit integer in a string"));
}

static void test_line_too_long(void **state)
{
    (void)state;
    char *t = good_text();
    write_file(tpath("edit.mnoa"), t);
    free(t);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.max_line = 94;
    assert_string_equal(read_all(tpath("edit.mnoa"), &ro, NULL),
                        msg("2: line too long (more than 94 bytes)"));
    ro.max_line = 130;
    assert_string_equal(read_all(tpath("edit.mnoa"), &ro, NULL), "");
}

static void test_verify_off_reports(void **state)
{
    (void)state;
    char *t = good_text();
    char *p = strstr(t, "\"s\":\"a\"");
    p[5] = 'x';
    write_file(tpath("edit.mnoa"), t);
    free(t);
    mno_error e = {0};
    mno_in *in = mno_in_open(tpath("edit.mnoa"), &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.verify = 0;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    int n, ends = 0, trailers = 0;
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_END) {
            assert_false(it.sum_ok);
            ends++;
        }
        if (it.kind == MNO_ITEM_TRAILER) {
            assert_false(it.sum_ok);
            trailers++;
        }
    }
    assert_int_equal(n, 0);
    assert_int_equal(ends, 1);
    assert_int_equal(trailers, 1);
    mno_reader_free(r);
    mno_in_close(in);
}

static void test_seal(void **state)
{
    (void)state;
    char *t = good_text();
    strstr(t, "\"s\":\"a\"")[5] = 'x';
    write_file(tpath("edit.mnoa"), t);
    free(t);
    mno_error e = {0};
    mno_in *in = mno_in_open(tpath("edit.mnoa"), &e);
    mno_out *out = mno_out_open(tpath("sealed.mnoa"), NULL, &e);
    assert_int_equal(mno_stream_seal(in, out, "mno-test", &e), 0);
    assert_int_equal(mno_out_finish(out, &e), 0);
    mno_in_close(in);
    assert_string_equal(read_all(tpath("sealed.mnoa"), NULL, NULL), "");
    static const char *rows[] = {"(1,x)", "(2,\"b c\")"};
    char *s = read_file(tpath("sealed.mnoa"), NULL);
    char want[200];
    snprintf(want, sizeof want, "{\"t\":\"trailer\",\"sections\":1,\"count\":2,\"sum\":\"%s\",\"header_sha256\":", sumhex(rows, 2));
    assert_non_null(strstr(s, want));
    assert_non_null(strstr(s, "\"sealed_by\":\"mno-test " MNO_VERSION_STR "\""));
    free(s);
}

/* A path that is no regular file (a fifo here; /dev/null alike) is written in place: renaming
   a partial file over it would replace it with a regular file. */
static void test_out_to_fifo_in_place(void **state)
{
    (void)state;
    const char *fifo = tpath("out.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    mno_error e = {0};
    mno_out *out = mno_out_open(fifo, NULL, &e);
    assert_non_null(out);
    assert_int_equal(mno_out_write(out, "hello\n", 6, &e), 0);
    assert_int_equal(mno_out_finish(out, &e), 0);
    char buf[16] = {0};
    assert_int_equal(read(rd, buf, sizeof buf), 6);
    assert_string_equal(buf, "hello\n");
    close(rd);
    struct stat st;
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    char partial[600];
    snprintf(partial, sizeof partial, "%s.*partial", fifo);
    glob_t g;
    assert_int_equal(glob(partial, 0, NULL, &g), GLOB_NOMATCH);
    unlink(fifo);
}

/* Output into a pipe asks for a 1 MB pipe buffer (fewer wake-ups of the reader), as far as
   fs.pipe-max-size allows; the bytes arrive unchanged. */
static void test_out_pipe_buffer(void **state)
{
    (void)state;
#ifdef F_GETPIPE_SZ
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    long max = 1 << 20;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    if (f) {
        long m;
        if (fscanf(f, "%ld", &m) == 1 && m < max)
            max = m;
        fclose(f);
    }
    int before = fcntl(fds[1], F_GETPIPE_SZ);
    mno_error e = {0};
    mno_out *out = mno_out_fdopen(fds[1], "<pipe>", NULL, &e);
    assert_non_null(out);
    int after = fcntl(fds[1], F_GETPIPE_SZ);
    assert_true(after >= before);
    assert_true(after >= max);
    assert_int_equal(mno_out_write(out, "abc", 3, &e), 0);
    assert_int_equal(mno_out_finish(out, &e), 0);
    close(fds[1]);
    char buf[8] = {0};
    assert_int_equal(read(fds[0], buf, sizeof buf), 3);
    assert_string_equal(buf, "abc");
    close(fds[0]);
#endif
}

/* The bytes of a zstd output as lib/archive/codec.c made them before it compressed in a thread: level
   3 with a checksum, one ZSTD_e_continue per full 256 KiB chunk, the rest with ZSTD_e_end. */
static unsigned char *zstd_unthreaded(const unsigned char *in, size_t n, size_t *outn)
{
    ZSTD_CCtx *cz = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cz, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cz, ZSTD_c_checksumFlag, 1);
    size_t cap = ZSTD_compressBound(n) + 4096, chunk = (size_t)256 << 10;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    ZSTD_outBuffer zo = {out, cap, 0};
    size_t at = 0;
    for (; n - at >= chunk; at += chunk) {
        ZSTD_inBuffer zi = {in + at, chunk, 0};
        while (zi.pos < zi.size)
            assert_false(ZSTD_isError(ZSTD_compressStream2(cz, &zo, &zi, ZSTD_e_continue)));
    }
    ZSTD_inBuffer zi = {in + at, n - at, 0};
    size_t r;
    do {
        r = ZSTD_compressStream2(cz, &zo, &zi, ZSTD_e_end);
        assert_false(ZSTD_isError(r));
    } while (r);
    ZSTD_freeCCtx(cz);
    *outn = zo.pos;
    return out;
}

/* A zstd output (no libzstd workers) compresses in a thread of its own: written in pieces of
   every size, several chunks' worth and not a whole number of them, the file holds exactly the
   bytes of the compression without the thread; a small output (no thread started) too. */
static void test_out_zstd_thread_same_bytes(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 100, ((size_t)256 << 10) - 1, (size_t)256 << 10, (size_t)3 << 20,
                                   ((size_t)3 << 20) + 12345};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        unsigned char *in = malloc(n + 1);
        assert_non_null(in);
        uint32_t x = 2463534242u + (uint32_t)si;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            in[i] = (unsigned char)("abcdefgh {}\"\n0123"[x % 16] + (i % 4096 < 64 ? x % 7 : 0));
        }
        const char *path = tpath("thread.mnoa.zst");
        mno_out_opts oo = MNO_OUT_OPTS_INIT;
        oo.zstd = 1;
        mno_error e = {0};
        mno_out *out = mno_out_open(path, &oo, &e);
        assert_non_null(out);
        for (size_t at = 0, k = 0; at < n; k++) {
            size_t piece = k % 3 == 0 ? 1 : k % 3 == 1 ? 7777 : 300001;
            if (piece > n - at)
                piece = n - at;
            assert_int_equal(mno_out_write(out, in + at, piece, &e), 0);
            at += piece;
        }
        assert_int_equal(mno_out_bytes(out), n);
        assert_int_equal(mno_out_finish(out, &e), 0);
        size_t gn, wn;
        char *got = read_file(path, &gn);
        unsigned char *want = zstd_unthreaded(in, n, &wn);
        assert_int_equal(gn, wn);
        assert_memory_equal(got, want, wn);
        free(got);
        free(want);
        free(in);
        unlink(path);
    }
}

/* The compressing thread's failures: a write error (a full disk) is the caller's error, at a
   later write or at the end; an abort while the thread works removes the partial file. */
static void test_out_zstd_thread_errors(void **state)
{
    (void)state;
    size_t n = (size_t)8 << 20;
    unsigned char *in = malloc(n);
    assert_non_null(in);
    uint32_t x = 88172645u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        in[i] = (unsigned char)x;   /* incompressible: the output is as large */
    }
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    oo.zstd = 1;
    mno_error e = {0};
    mno_out *out = mno_out_open("/dev/full", &oo, &e);
    assert_non_null(out);
    int rc = 0;
    for (size_t at = 0; at < n && rc == 0; at += 65536)
        rc = mno_out_write(out, in + at, 65536, &e);
    if (rc == 0)
        rc = mno_out_finish(out, &e);
    else
        mno_out_abort(out);
    assert_int_equal(rc, -1);
    assert_string_equal(e.msg, "/dev/full: write error: No space left on device");

    const char *path = tpath("aborted.mnoa.zst");
    char partial[600];
    snprintf(partial, sizeof partial, "%s.*.partial", path);
    out = mno_out_open(path, &oo, &e);
    assert_non_null(out);
    assert_int_equal(mno_out_write(out, in, n / 2, &e), 0);
    glob_t g;
    assert_int_equal(glob(partial, 0, NULL, &g), 0);   /* the temporary file, beside path */
    assert_int_equal(g.gl_pathc, 1);
    globfree(&g);
    mno_out_abort(out);
    assert_int_equal(glob(partial, 0, NULL, &g), GLOB_NOMATCH);
    assert_int_equal(access(path, F_OK), -1);
    free(in);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    mno_error e = {0};
    mno_out *out = mno_out_open(tpath("misuse.mnoa"), NULL, &e);
    json_t *h = pg_header(), *b = pg_begin();
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    const char *row[] = {"1", "a", "b"};
    assert_int_equal(mno_writer_rec_pg(w, row, NULL, &e), -1);
    assert_string_equal(e.msg, "record outside any section");
    assert_int_equal(mno_writer_begin(w, "public.a", b, &e), 0);
    assert_int_equal(mno_writer_begin(w, "public.b", b, &e), -1);
    assert_string_equal(e.msg, "section public.a: no end before the begin of section public.b");
    assert_int_equal(mno_writer_close(w, &e), -1);
    assert_string_equal(e.msg, "section public.a: trailer before the end of the section");
    assert_int_equal(mno_writer_end(w, &e), 0);
    assert_int_equal(mno_writer_begin(w, "public.a", b, &e), -1);
    assert_string_equal(e.msg, "section public.a: section opened twice");
    json_t *v = json_pack("{s:s,s:s,s:i}", "id", "1", "name", "x", "note", 3);
    assert_int_equal(mno_writer_begin(w, "public.c", b, &e), 0);
    assert_int_equal(mno_writer_rec_json(w, v, &e), -1);
    assert_string_equal(e.msg, "section public.c: column \"note\" is neither a string nor null");
    json_decref(v);
    mno_writer_free(w);
    mno_out_abort(out);
    assert_int_equal(access(tpath("misuse.mnoa.partial"), F_OK), -1);
    assert_int_equal(access(tpath("misuse.mnoa"), F_OK), -1);
    json_decref(h);
    json_decref(b);
}

/* ---- sums against PostgreSQL's own md5(ROW(...)::text) ---- */

static void pg_ok(PGconn *c, PGresult *r, ExecStatusType want)
{
    if (PQresultStatus(r) != want)
        fail_msg("postgresql: %s", PQerrorMessage(c));
}

/* A connection to MNO_TEST_PG_URI with the archive's session settings. */
static PGconn *pg_connect_test(void)
{
    const char *uri = getenv("MNO_TEST_PG_URI");
    if (!uri || !*uri)
        fail_msg("MNO_TEST_PG_URI is not set: run the unit tests through tests/run");
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to the test cluster: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO';"
                            " SET IntervalStyle = 'postgres'; SET extra_float_digits = 3;"
                            " SET bytea_output = 'hex'; SET standard_conforming_strings = on");
    pg_ok(c, r, PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

/* Rows of every awkward kind: all ASCII bytes 1..126 in text, empty strings, nulls,
   unicode (NBSP, NEL, emoji), numbers, times, intervals, bytea, arrays, jsonb, composites. */
static const char awkward_sql[] =
    "CREATE TYPE pg_temp.pair AS (a text, b int);"
    "CREATE TEMP TABLE awkward (id int, s text, n numeric, f float8, r real, b bool, ts timestamptz,"
    " d date, iv interval, by bytea, arr text[], ia int[], j jsonb, u uuid, ip inet, pt point,"
    " rng int4range, c char(3), bits varbit, p pg_temp.pair);"
    "INSERT INTO awkward SELECT g,"
    " CASE g % 50 WHEN 0 THEN '' WHEN 1 THEN NULL"
    "  WHEN 2 THEN 'caf' || chr(233) || chr(8364) || chr(128512) || chr(160) || 'x' || chr(133)"
    "  ELSE (SELECT string_agg(chr(1 + (g * 31 + k) % 126), '') FROM generate_series(0, g % 40) k) END,"
    " (g * 1.5 - 100)::numeric / 7, g * 0.1 - 3, (g / 3.0)::real,"
    " CASE g % 3 WHEN 0 THEN true WHEN 1 THEN false END,"
    " CASE WHEN g % 97 = 0 THEN '-infinity'::timestamptz"
    "  ELSE '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 day 1 hour 1.5 seconds' END,"
    " date '1999-12-31' + g * 37, g * interval '1 month 2 days 03:04:05.6',"
    " decode(md5(g::text), 'hex'), ARRAY['a b', NULL, 'q\"x', 'back\\slash', '', g::text],"
    " ARRAY[g, -g], jsonb_build_object('k', g, 's', 'v \"q\" ,()', 'a', jsonb_build_array(1, 'x y')),"
    " md5(g::text)::uuid, ('10.0.' || (g % 256) || '.' || (g * 7 % 256))::inet, point(g, -g / 2.0),"
    " int4range(g, g + 10), left(g::text, 3)::char(3), g::bit(8)::varbit, ROW('x ' || g, g)::pg_temp.pair"
    " FROM generate_series(1, 400) g;"
    "INSERT INTO awkward (id) VALUES (0)";

static const char awkward_cols[] = "id, s, n, f, r, b, ts, d, iv, by, arr, ia, j, u, ip, pt, rng, c, bits, p";

static void test_pg_sums_match_postgresql(void **state)
{
    (void)state;
    PGconn *c = pg_connect_test();
    PGresult *r = PQexec(c, awkward_sql);
    pg_ok(c, r, PGRES_COMMAND_OK);
    PQclear(r);
    char q[1024];
    snprintf(q, sizeof q, "SELECT %s, ROW(%s)::text, md5(ROW(%s)::text) FROM awkward ORDER BY id",
             awkward_cols, awkward_cols, awkward_cols);
    r = PQexec(c, q);
    pg_ok(c, r, PGRES_TUPLES_OK);
    int nrows = PQntuples(r), ncols = PQnfields(r) - 2;
    assert_int_equal(nrows, 401);
    assert_int_equal(ncols, 20);

    /* the archive: one section with PostgreSQL's text of every value */
    mno_error e = {0};
    mno_out *out = mno_out_open(tpath("pgsum.mnoa.zst"), NULL, &e);
    assert_non_null(out);
    json_t *h = pg_header(), *cols = json_array();
    for (int k = 0; k < ncols; k++)
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", PQfname(r, k), "type", "?"));
    json_t *b = json_pack("{s:o,s:[s]}", "columns", cols, "key", "id");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    assert_int_equal(mno_writer_begin(w, "pg_temp.awkward", b, &e), 0);

    const char **vals = calloc((size_t)ncols, sizeof *vals);
    size_t *lens = calloc((size_t)ncols, sizeof *lens);
    unsigned char (*digests)[16] = calloc((size_t)nrows, 16);
    mno_buf text = MNO_BUF_INIT;
    mno_sum server = MNO_SUM_ZERO;
    int quoted = 0;
    for (int i = 0; i < nrows; i++) {
        for (int k = 0; k < ncols; k++) {
            vals[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
            lens[k] = (size_t)PQgetlength(r, i, k);
        }
        /* our record text is PostgreSQL's, byte for byte */
        mno_buf_reset(&text);
        assert_int_equal(mno_pg_record_text(&text, vals, lens, (size_t)ncols), 0);
        const char *pgtext = PQgetvalue(r, i, ncols);
        if (text.len != (size_t)PQgetlength(r, i, ncols) || memcmp(text.data, pgtext, text.len) != 0)
            fail_msg("row %d: record text differs:\n ours: %s\n   pg: %s", i, text.data, pgtext);
        quoted += strchr(pgtext, '"') != NULL;
        /* and so is the digest */
        mno_sum one = MNO_SUM_ZERO, pgd;
        mno_sum_add_md5(&one, text.data, text.len);
        assert_int_equal(mno_sum_parse(PQgetvalue(r, i, ncols + 1), &pgd), 0);
        assert_true(mno_sum_eq(&one, &pgd));
        mno_sum_add(&server, &pgd);
        for (int k = 0; k < 8; k++) {
            digests[i][k] = (unsigned char)(pgd.hi >> (56 - 8 * k));
            digests[i][8 + k] = (unsigned char)(pgd.lo >> (56 - 8 * k));
        }
        if (mno_writer_rec_pg(w, vals, lens, &e) < 0)
            fail_msg("%s", e.msg);
    }
    assert_true(quoted > 300);
    assert_int_equal(mno_writer_end(w, &e), 0);
    assert_int_equal(mno_writer_close(w, &e), 0);
    assert_int_equal(mno_out_finish(out, &e), 0);
    mno_writer_free(w);

    /* read back: each record's digest is PostgreSQL's md5, the section sum their sum */
    mno_in *in = mno_in_open(tpath("pgsum.mnoa.zst"), &e);
    assert_non_null(in);
    mno_reader *rd = mno_reader_new(in, NULL, &e);
    mno_item it;
    int n, i = 0, ended = 0;
    while ((n = mno_reader_next(rd, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_REC) {
            assert_true(i < nrows);
            assert_memory_equal(it.digest, digests[i], 16);
            i++;
        } else if (it.kind == MNO_ITEM_END) {
            assert_true(it.sum_ok);
            assert_true(mno_sum_eq(&it.declared_sum, &server));
            assert_true(mno_sum_eq(&it.section->sum, &server));
            ended = 1;
        }
    }
    if (n < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(i, nrows);
    assert_true(ended);
    mno_reader_free(rd);
    mno_in_close(in);
    mno_buf_release(&text);
    free(vals);
    free(lens);
    free(digests);
    json_decref(h);
    json_decref(b);
    PQclear(r);
    PQfinish(c);
}

/* ---- MongoDB: relaxed Extended JSON written by hand is typed as docs/format.md says ---- */

static void test_mongo_relaxed_types(void **state)
{
    (void)state;
    const char *path = tpath("relaxed.mnoa");
    write_file(path, "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"mongodb\"}\n"
                     "{\"t\":\"begin\",\"ns\":\"c.p\"}\n"
                     "{\"t\":\"rec\",\"ns\":\"c.p\",\"v\":{\"i\":1,\"big\":2147483648,\"neg\":-2147483649,"
                     "\"min\":-2147483648,\"x\":1.5,\"e\":1e2,\"s\":\"\\u00e9\",\"n\":null,\"o\":{\"$oid\":"
                     "\"5f1b2c3d4e5f60718293a4b5\"},\"d\":{\"$date\":\"2026-11-25T12:00:00Z\"}}}\n");
    mno_error e = {0};
    mno_in *in = mno_in_open(path, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.verify = 0;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    int n;
    while ((n = mno_reader_next(r, &it, &e)) > 0 && it.kind != MNO_ITEM_REC)
        ;
    if (n < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(it.kind, MNO_ITEM_REC);
    static const struct {
        const char *key;
        bson_type_t type;
    } want[] = {{"i", BSON_TYPE_INT32},   {"big", BSON_TYPE_INT64},  {"neg", BSON_TYPE_INT64},
                {"min", BSON_TYPE_INT32}, {"x", BSON_TYPE_DOUBLE},   {"e", BSON_TYPE_DOUBLE},
                {"s", BSON_TYPE_UTF8},    {"n", BSON_TYPE_NULL},     {"o", BSON_TYPE_OID},
                {"d", BSON_TYPE_DATE_TIME}};
    bson_iter_t bi;
    assert_true(bson_iter_init(&bi, it.doc));
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        assert_true(bson_iter_next(&bi));
        assert_string_equal(bson_iter_key(&bi), want[k].key);
        if (bson_iter_type(&bi) != want[k].type)
            fail_msg("field %s: BSON type 0x%02x, want 0x%02x", want[k].key, bson_iter_type(&bi), want[k].type);
    }
    assert_false(bson_iter_next(&bi));
    /* the digest is md5 of exactly these bytes */
    unsigned char d[16];
    mno_md5(bson_get_data(it.doc), it.doc->len, d);
    assert_memory_equal(it.digest, d, 16);
    mno_reader_free(r);
    mno_in_close(in);
}

/* A record in the writers' layout (v's text parsed as is) and in any other layout (v
   re-serialised by jansson) gives the same BSON and digest. */
static void test_mongo_layouts_agree(void **state)
{
    (void)state;
    static const char v[] = "{\"_id\":{\"$oid\":\"5f1b2c3d4e5f60718293a4b5\"},\"a\":1,\"b\":2147483648,\"c\":1e2,"
                            "\"d\":-0.0,\"s\":\"\\u00e9\\/\\u0000x\",\"k\\u00e9\":[{\"$numberDecimal\":\"1.10\"},null]}";
    char text[1024];
    snprintf(text, sizeof text,
             "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"mongodb\"}\n"
             "{\"t\":\"begin\",\"ns\":\"c.p\"}\n"
             "{\"t\":\"rec\",\"ns\":\"c.p\",\"v\":%s}\n"
             "{\"ns\":\"c.p\",\"t\":\"rec\",\"v\":%s}\n"
             "{\"t\":\"rec\",\"ns\":\"c.p\",\"v\": %s }\n", v, v, v);
    write_file(tpath("layouts.mnoa"), text);
    mno_error e = {0};
    mno_in *in = mno_in_open(tpath("layouts.mnoa"), &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.verify = 0;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    int n, k = 0;
    uint8_t first[256];
    uint32_t flen = 0;
    unsigned char d0[16];
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind != MNO_ITEM_REC)
            continue;
        if (k++ == 0) {
            flen = it.doc->len;
            assert_true(flen <= sizeof first);
            memcpy(first, bson_get_data(it.doc), flen);
            memcpy(d0, it.digest, 16);
        } else {
            assert_int_equal(it.doc->len, flen);
            assert_memory_equal(bson_get_data(it.doc), first, flen);
            assert_memory_equal(it.digest, d0, 16);
        }
    }
    if (n < 0 && e.code != MNO_E_TRUNCATED)
        fail_msg("%s", e.msg);
    assert_int_equal(k, 3);
    mno_reader_free(r);
    mno_in_close(in);
}

/* ---- batched hashing (opts.no_digest) ---- */

/* The archive at path read with fast_mongo/no_digest as given, sums checked: the error text
   ("" when it holds), the records, and every end line's sum, into out[outlen]. */
static void mongo_outcome(const char *path, int fast, int batched, int threaded, char *out, size_t outlen)
{
    mno_error e = {0};
    mno_in *in = mno_in_open(path, &e);
    assert_non_null(in);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.fast_mongo = fast;
    ro.no_digest = batched;
    ro.sums_only = threaded;
    ro.hash_thread = threaded;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    assert_non_null(r);
    mno_item it;
    int n;
    size_t recs = 0, k = 0;
    char hex[33];
    out[0] = '\0';
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind == MNO_ITEM_REC)
            recs++;
        if (it.kind == MNO_ITEM_END && k < outlen)
            k += (size_t)snprintf(out + k, outlen - k, "%s %s; ", it.section->ns, mno_sum_hex(&it.section->sum, hex));
    }
    /* (the threaded reader returns a record's item before the line is decoded: up to an error
       it may have returned more of them, so the number is compared on success only) */
    if (k < outlen && n < 0)
        snprintf(out + k, outlen - k, "records: %s", e.msg);
    else if (k < outlen)
        snprintf(out + k, outlen - k, "%zu records: ", recs);
    mno_reader_free(r);
    mno_in_close(in);
}

/* Every way of reading a MongoDB archive gives the same outcome; an error must hold want. */
static void mongo_four(const char *path, const char *want)
{
    static char a[4096], b[4096];
    mongo_outcome(path, 0, 0, 0, a, sizeof a);
    /* fast_mongo, no_digest, sums_only + hash_thread (mno-restore's check pass) */
    static const int modes[][3] = {{1, 0, 0}, {1, 1, 0}, {0, 1, 0}, {1, 1, 1}};
    for (size_t m = 0; m < 4; m++) {
        mongo_outcome(path, modes[m][0], modes[m][1], modes[m][2], b, sizeof b);
        if (strcmp(a, b) != 0)
            fail_msg("%s: fast_mongo %d no_digest %d hash_thread %d read \"%s\", the general path \"%s\"", path,
                     modes[m][0], modes[m][1], modes[m][2], b, a);
    }
    const char *msg = strstr(a, "records: ");
    assert_non_null(msg);
    msg += 9;
    if (want ? !strstr(msg, want) : *msg != '\0')
        fail_msg("%s: expected %s%s%s, got \"%s\"", path, want ? "an error with \"" : "success", want ? want : "",
                 want ? "\"" : "", msg);
}

/* A changed, missing, repeated or broken record is found at the same line with the same text
   whether documents are hashed one at a time or in batches (mno-restore reads with batches). */
static void test_mongo_batched_sums_and_errors(void **state)
{
    (void)state;
    unsigned seed = 77;
    mno_error e = {0};
    const char *good = tpath("mb.mnoa");
    mno_out *out = mno_out_open(good, NULL, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    json_t *b = json_pack("{s:{}, s:[]}", "options", "indexes");
    for (int sec = 0; sec < 2; sec++) {
        assert_int_equal(mno_writer_begin(w, sec ? "connec.b" : "connec.a", b, &e), 0);
        for (int i = 0; i < (sec ? 5 : 1000); i++) {
            bson_t *d = random_doc(&seed, 0);
            assert_int_equal(mno_writer_rec_bson(w, d, &e), 0);
            bson_destroy(d);
        }
        assert_int_equal(mno_writer_end(w, &e), 0);
    }
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    json_decref(h);
    json_decref(b);
    assert_int_equal(mno_out_finish(out, &e), 0);
    mongo_four(good, NULL);

    size_t n;
    char *text = read_file(good, &n);
    /* lines: 0 header, 1 begin a, 2..1001 recs, 1002 end a, 1003 begin b, 1004..1008, 1009 end, 1010 trailer */
    char *line[1011];
    size_t nl = 0;
    for (char *p = text; *p && nl < 1011; nl++) {
        line[nl] = p;
        char *q = strchr(p, '\n');
        assert_non_null(q);
        *q = '\0';
        p = q + 1;
    }
    assert_int_equal(nl, 1011);
    const char *bad = tpath("mb-bad.mnoa");
    mno_buf t = MNO_BUF_INIT;
    /* writes the lines, line skip left out, line rep replaced by with */
#define PUT(skip, rep, with)                                                                         \
    do {                                                                                             \
        mno_buf_reset(&t);                                                                           \
        for (size_t li = 0; li < nl; li++)                                                           \
            if ((long)li != (skip))                                                                  \
                mno_buf_addf(&t, "%s\n", (long)li == (rep) ? (with) : line[li]);                    \
        write_file(bad, t.data);                                                                     \
    } while (0)
    /* the _id's digits changed in records here and there */
    for (long i = 2; i < 1009; i += 97) {
        if (i == 1002 || i == 1003)
            continue;
        char *x = strdup(line[i]);
        char *d = strstr(x, "\"$numberInt\" : \"");
        assert_non_null(d);
        d = strchr(d + 16, '"') - 1;   /* the last digit, made smaller (or 0 -> 1): still an int32 */
        *d = *d == '0' ? '1' : (char)(*d - 1);
        PUT(-1, i, x);
        mongo_four(bad, "sum mismatch: end line says");
        free(x);
    }
    PUT(500, -1, "");
    mongo_four(bad, "count mismatch: end line says 1000, found 999 records");
    PUT(-1, 500, line[501]);
    mongo_four(bad, "sum mismatch");
    PUT(-1, 600, "{\"t\":\"rec\",\"ns\":\"connec.a\",\"v\":{ \"_id\" : { \"$numberInt\" : \"x\" } }}");
    mongo_four(bad, ":601: section connec.a: ");
    PUT(-1, 601, "{\"t\":\"rec\",\"ns\":\"connec.a\",\"v\":{ \"_id\" : 1 ");
    mongo_four(bad, "invalid JSON");
    PUT(1010, -1, "");
    mongo_four(bad, "truncated archive: no trailer");
    /* lines jansson refuses although libbson would read them: refused on every path */
    PUT(-1, 650, "{\"t\":\"rec\",\"ns\":\"connec.a\",\"v\":{ \"_id\" : { \"$numberInt\" : \"5\" }, \"_id\" : { \"$numberInt\" : \"6\" } }}");
    mongo_four(bad, ":651: section connec.a: invalid JSON at column ");
    mongo_four(bad, "duplicate object key");
    PUT(-1, 650, "{\"t\":\"rec\",\"ns\":\"connec.a\",\"v\":{ \"_id\" : \"\xc0\x80\" }}");
    mongo_four(bad, ":651: section connec.a: invalid JSON at column ");
    PUT(-1, 650, "{\"t\":\"rec\",\"ns\":\"connec.a\",\"v\":{ \"_id\" : { \"$date\" : { \"$numberLong\" : \"1\\u0000\" } } }}");
    mongo_four(bad, ":651: section connec.a: key (_id)=(");
    PUT(-1, 1002, "{\"t\":\"end\",\"ns\":\"connec.a\",\"count\":1000,\"sum\":\"0123456789abcdef0123456789abcdef\"}");
    mongo_four(bad, "sum mismatch: end line says 0123456789abcdef0123456789abcdef, computed ");
    /* the same document in relaxed form (the general path) amid canonical ones: the same sum */
    PUT(-1, 700, "{\"t\":\"rec\",\"ns\":\"connec.a\",\"v\":{\"_id\":1}}");
    mongo_four(bad, "sum mismatch");
#undef PUT
    mno_buf_release(&t);
    free(text);
}

/* ---- flat memory ---- */

static long maxrss_kb(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* MiB of records for the large-stream test (MNO_TEST_FLAT_MB, default 256). */
static unsigned long flat_mb(void)
{
    const char *s = getenv("MNO_TEST_FLAT_MB");
    unsigned long v = s && *s ? strtoul(s, NULL, 10) : 0;
    return v ? v : 256;
}

/*
 * Starts a child process that writes a pg archive of about mb MiB of records, zstd
 * compressed, to a pipe; every 10000th record holds a 1 MiB value. Returns the read end;
 * *pid the child. *nrec gets the number of records the child writes.
 */
static int spawn_writer(unsigned long mb, pid_t *pid, unsigned long long *nrec)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    /* records: ~ 170 bytes on average; each 10000th adds 1 MiB */
    unsigned long long target = (unsigned long long)mb << 20, n = 0, bytes = 0;
    while (bytes < target) {
        n++;
        bytes += 120 + (n * 37) % 100 + (n % 10000 == 0 ? (1u << 20) : 0);
    }
    *nrec = n;
    fflush(NULL);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid > 0) {
        close(fds[1]);
        return fds[0];
    }
    /* child: the writer */
    close(fds[0]);
    if (dup2(fds[1], 1) < 0)
        _exit(3);
    close(fds[1]);
    mno_error e = {0};
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    oo.zstd = 1;
    oo.level = 1;
    mno_out *out = mno_out_open("-", &oo, &e);
    json_t *h = pg_header(), *b = pg_begin();
    mno_writer *w = out ? mno_writer_new(out, h, "mno-test", &e) : NULL;
    if (!w || mno_writer_begin(w, "public.big", b, &e) < 0)
        _exit(4);
    char id[32], name[64];
    char *note = malloc((1u << 20) + 200);
    if (!note)
        _exit(5);
    for (unsigned long long i = 1; i <= n; i++) {
        size_t len = 60 + (i * 37) % 100 + (i % 10000 == 0 ? (1u << 20) : 0);
        memset(note, 'a' + (int)(i % 26), len);
        note[len] = '\0';
        note[len / 2] = ' ';
        snprintf(id, sizeof id, "%llu", i);
        snprintf(name, sizeof name, "user \"%llu\", (x)", i);
        const char *row[3] = {id, name, note};
        if (mno_writer_rec_pg(w, row, NULL, &e) < 0)
            _exit(6);
    }
    if (mno_writer_end(w, &e) < 0 || mno_writer_close(w, &e) < 0 || mno_out_finish(out, &e) < 0)
        _exit(7);
    _exit(0);
}

static void test_flat_memory_large_stream(void **state)
{
    (void)state;
    unsigned long mb = flat_mb();
    pid_t pid;
    unsigned long long want;
    int fd = spawn_writer(mb, &pid, &want);
    mno_error e = {0};
    mno_in *in = mno_in_fdopen(fd, "pipe", 1, &e);
    assert_non_null(in);
    mno_reader *r = mno_reader_new(in, NULL, &e);
    mno_item it;
    int n;
    unsigned long long recs = 0, bytes = 0;
    long before = 0;
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        if (it.kind != MNO_ITEM_REC)
            continue;
        bytes += it.len + 1;
        /* the baseline once the buffers have met a 1 MiB record */
        if (++recs == 10001)
            before = maxrss_kb();
    }
    if (n < 0)
        fail_msg("%s", e.msg);
    long after = maxrss_kb();
    mno_reader_free(r);
    mno_in_close(in);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(recs == want);
    assert_true(bytes >= (unsigned long long)mb << 20);
    /* the peak does not grow with the stream: one record and fixed buffers */
    if (after - before > 16 * 1024)
        fail_msg("peak RSS grew by %ld KiB while reading %llu MiB (%llu records)", after - before,
                 bytes >> 20, recs);
}

static void test_flat_memory_line_over_max(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a header, then one 96 MiB line that never ends */
        close(fds[0]);
        static char chunk[1 << 16];
        memset(chunk, 'x', sizeof chunk);
        const char *h = H "{\"t\":\"begin\",\"ns\":\"public.t\",\"v\":\"";
        if (write(fds[1], h, strlen(h)) < 0)
            _exit(0);
        for (int i = 0; i < 96 * 16; i++)
            if (write(fds[1], chunk, sizeof chunk) < 0)
                _exit(0); /* the reader stopped: expected */
        _exit(0);
    }
    close(fds[1]);
    signal(SIGPIPE, SIG_IGN);
    long before = maxrss_kb();
    mno_error e = {0};
    mno_in *in = mno_in_fdopen(fds[0], "pipe", 1, &e);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.max_line = (size_t)4 << 20;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    assert_int_equal(mno_reader_next(r, &it, &e), 1);
    assert_int_equal(mno_reader_next(r, &it, &e), -1);
    assert_string_equal(e.msg, "pipe:2: line too long (more than 4194304 bytes)");
    long after = maxrss_kb();
    mno_reader_free(r);
    mno_in_close(in);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* the reader stopped at the limit: it never held the 96 MiB line */
    if (after - before > 16 * 1024)
        fail_msg("peak RSS grew by %ld KiB on a line over a 4 MiB limit", after - before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_round_trip_plain),
        cmocka_unit_test(test_pg_round_trip_zstd),
        cmocka_unit_test(test_mongo_round_trip),
        cmocka_unit_test(test_mongo_recs_bson_batch),
        cmocka_unit_test(test_hand_archive_holds),
        cmocka_unit_test(test_changed_value),
        cmocka_unit_test(test_missing_and_extra_record),
        cmocka_unit_test(test_missing_trailer),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_mongo_invalid_extended_json),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_verify_off_reports),
        cmocka_unit_test(test_seal),
        cmocka_unit_test(test_out_to_fifo_in_place),
        cmocka_unit_test(test_out_pipe_buffer),
        cmocka_unit_test(test_out_zstd_thread_same_bytes),
        cmocka_unit_test(test_out_zstd_thread_errors),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_pg_sums_match_postgresql),
        cmocka_unit_test(test_mongo_relaxed_types),
        cmocka_unit_test(test_mongo_layouts_agree),
        cmocka_unit_test(test_mongo_batched_sums_and_errors),
        cmocka_unit_test(test_flat_memory_large_stream),
        cmocka_unit_test(test_flat_memory_line_over_max),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
