/* test_bson_corpus.c: the MongoDB BSON corpus (tests/fixtures/bson-corpus): every valid document survives the archive writer and reader byte for byte (canonical text or the lossless form), every parse error is refused naming its line and key. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>
#include <bson/bson.h>
#include <jansson.h>
#include "buf.h"
#include "checksum.h"
#include "ejson.h"
#include "engine_mongo_json.h"
#include "stream.h"

static char dir[1024], tmp[1024];

typedef struct {
    uint8_t *b;
    size_t n;
    char name[256];
    int lossy; /* the corpus marks its canonical text lossy */
} doc;

static doc docs[2000];
static size_t ndocs;
static char *perr[400];       /* parse errors: whole documents in Extended JSON */
static char perr_name[400][200];
static size_t nperr;
static json_t *valid_cases[1000];
static size_t nvalid;

static uint8_t *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h);
    uint8_t *b = malloc(l / 2 + 1);
    for (size_t i = 0; i < l / 2; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b[i] = (uint8_t)v;
    }
    *n = l / 2;
    return b;
}

static void add_doc(const char *hex, const char *file, const char *desc, const char *what, int lossy)
{
    doc *d = &docs[ndocs++];
    d->b = unhex(hex, &d->n);
    d->lossy = lossy;
    snprintf(d->name, sizeof d->name, "%s: %s (%s)", file, desc, what);
}

static int load(void **state)
{
    (void)state;
    const char *top = getenv("MNO_TOP");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/bson-corpus", top ? top : ".");
    DIR *dd = opendir(dir);
    if (!dd) {
        fprintf(stderr, "cannot open %s\n", dir);
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(dd))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_error_t je;
        json_t *f = json_load_file(path, 0, &je);
        if (!f) {
            fprintf(stderr, "%s: %s\n", path, je.text);
            return -1;
        }
        int is_dec = !strncmp(de->d_name, "decimal128", 10);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(f, "valid"), i, c) {
            const char *desc = json_string_value(json_object_get(c, "description"));
            int lossy = json_is_true(json_object_get(c, "lossy"));
            add_doc(json_string_value(json_object_get(c, "canonical_bson")), de->d_name, desc, "canonical_bson", lossy);
            if (json_object_get(c, "degenerate_bson"))
                add_doc(json_string_value(json_object_get(c, "degenerate_bson")), de->d_name, desc, "degenerate_bson", 1);
            json_object_set_new(c, "file", json_string(de->d_name));
            valid_cases[nvalid++] = json_incref(c);
        }
        json_array_foreach(json_object_get(f, "parseErrors"), i, c) {
            const char *s = json_string_value(json_object_get(c, "string"));
            mno_buf b = MNO_BUF_INIT;
            if (is_dec) {
                mno_buf_adds(&b, "{\"d\" : {\"$numberDecimal\" : ");
                mno_buf_add_json_str(&b, s, strlen(s));
                mno_buf_adds(&b, "}}");
            } else {
                mno_buf_adds(&b, s);
            }
            snprintf(perr_name[nperr], sizeof perr_name[0], "%s: %s", de->d_name,
                     json_string_value(json_object_get(c, "description")));
            perr[nperr++] = b.data;
        }
        json_decref(f);
    }
    closedir(dd);
    snprintf(tmp, sizeof tmp, "%s/mno-corpus.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        return -1;
    return 0;
}

static int unload(void **state)
{
    (void)state;
    char cmd[2100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

/* The corpus: 728+ valid cases, 180 parse errors (as issue 14 and 19 counted them). */
static void test_corpus_loaded(void **state)
{
    (void)state;
    assert_true(nvalid >= 700);
    assert_int_equal(nperr, 180);
}

/* Writes every valid document (canonical and degenerate BSON) into one archive, one record
   at a time (batched: the dump's path), then reads it back with each reader's options. */
static void roundtrip(int batched)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/valid%d.mnoa", tmp, batched);
    mno_error e = {0};
    mno_out_opts oo = {0};
    mno_out *out = mno_out_open(path, &oo, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    json_t *b = json_pack("{s:{}, s:[]}", "options", "indexes");
    assert_int_equal(mno_writer_begin(w, "corpus.docs", b, &e), 0);
    if (batched) {
        const uint8_t *p[2000];
        size_t l[2000];
        for (size_t i = 0; i < ndocs; i++)
            p[i] = docs[i].b, l[i] = docs[i].n;
        if (mno_writer_recs_bson(w, ndocs, p, l, &e) < 0)
            fail_msg("%s", e.msg);
    } else {
        for (size_t i = 0; i < ndocs; i++) {
            bson_t st;
            assert_true(bson_init_static(&st, docs[i].b, docs[i].n));
            if (mno_writer_rec_bson(w, &st, &e) < 0)
                fail_msg("%s: %s", docs[i].name, e.msg);
        }
    }
    assert_int_equal(mno_writer_end(w, &e), 0);
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    json_decref(h);
    json_decref(b);
    assert_int_equal(mno_out_finish(out, &e), 0);

    /* lossless lines: only for what the text cannot carry */
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lossless = 0, text = 0;
    while (getline(&line, &cap, f) > 0) {
        if (strstr(line, "{\"t\":\"rec\",\"ns\":\"corpus.docs\",\"bson\":\""))
            lossless++;
        else if (!strncmp(line, "{\"t\":\"rec\"", 10))
            text++;
    }
    free(line);
    fclose(f);
    assert_int_equal(lossless + text, ndocs);
    if (!batched)
        fprintf(stderr, "# %zu documents: %zu as text, %zu in the lossless form\n", ndocs, text, lossless);
    assert_true(lossless > 0 && lossless < ndocs / 4);

    for (int mode = 0; mode < 3; mode++) {
        mno_reader_opts ro = MNO_READER_OPTS_INIT;
        if (mode == 1)
            ro.fast_mongo = 1;
        if (mode == 2)
            mno_reader_opts_check(&ro);
        mno_in *in = mno_in_open(path, &e);
        assert_non_null(in);
        mno_reader *r = mno_reader_new(in, &ro, &e);
        assert_non_null(r);
        mno_item it;
        size_t i = 0;
        int n;
        while ((n = mno_reader_next(r, &it, &e)) > 0) {
            if (it.kind != MNO_ITEM_REC || mode == 2)
                continue;
            assert_true(i < ndocs);
            if (it.doc->len != docs[i].n || memcmp(bson_get_data(it.doc), docs[i].b, docs[i].n))
                fail_msg("mode %d: %s read back differently", mode, docs[i].name);
            unsigned char d[16];
            mno_md5(docs[i].b, docs[i].n, d);
            assert_memory_equal(it.digest, d, 16);
            i++;
        }
        if (n < 0)
            fail_msg("mode %d: %s", mode, e.msg);
        if (mode != 2)
            assert_int_equal(i, ndocs);
        mno_reader_free(r);
        mno_in_close(in);
    }
}

static void test_valid_roundtrip(void **state)
{
    (void)state;
    roundtrip(0);
}

static void test_valid_roundtrip_batched(void **state)
{
    (void)state;
    roundtrip(1);
}

/* The walk flags every document whose text does not come back exactly (the proof the dump
   skips for the others is sound on the corpus): unflagged => printed text parses back. */
static void test_suspect_walk_sound(void **state)
{
    (void)state;
    size_t flagged = 0;
    for (size_t i = 0; i < ndocs; i++) {
        mno_buf t = MNO_BUF_INIT;
        int pr = mno_ejson_canonical(&t, docs[i].b, docs[i].n);
        int sus = mno_ejson_suspect(docs[i].b, docs[i].n);
        flagged += sus;
        if (!sus && (pr != 0 || !mno_ejson_exact(t.data, t.len, docs[i].b, docs[i].n)))
            fail_msg("%s: not flagged, but its text does not parse back", docs[i].name);
        mno_buf_release(&t);
    }
    fprintf(stderr, "# %zu of %zu documents flagged for the parse-back proof\n", flagged, ndocs);
}

/* The Decimal128 judgement from bits agrees with printing and parsing, on random bit patterns
   of every class (combination fields, significands around 10^34, NaN payloads). */
static void test_decimal_bits_judged_right(void **state)
{
    (void)state;
    uint64_t st = 88172645463325252ULL;
    for (int i = 0; i < 400000; i++) {
        uint64_t w[2];
        for (int k = 0; k < 2; k++) {
            st ^= st << 13, st ^= st >> 7, st ^= st << 17;
            w[k] = st;
        }
        switch (i % 6) {
        case 0: break;                                                    /* any bits */
        case 1: w[1] &= 0x9fffffffffffffffULL; break;                     /* first form */
        case 2: w[1] = (w[1] & 0xfffe000000000000ULL) | 0x1ed09bead87c0ULL; break; /* around 10^34 */
        case 3: w[1] = (w[1] & 0x81ffffffffffffffULL) | 0x7c00000000000000ULL; break; /* NaN */
        case 4: w[1] &= 0x9ffe000000000000ULL; w[0] = 0; break;           /* zeros */
        default: w[1] = (w[1] & 0x8000000000000000ULL) | 0x7800000000000000ULL; w[0] = i % 12 ? 0 : w[0]; break;
        }
        uint8_t b[16];
        memcpy(b, &w[0], 8);
        memcpy(b + 8, &w[1], 8);
        bson_decimal128_t d = {.low = w[0], .high = w[1]}, back;
        char s[BSON_DECIMAL128_STRING];
        bson_decimal128_to_string(&d, s);
        int exact = bson_decimal128_from_string(s, &back) && back.low == d.low && back.high == d.high;
        if (exact != mno_ejson_dec_exact(b))
            fail_msg("%016llx%016llx (%s): judged %d, print-and-parse %d", (unsigned long long)w[1],
                     (unsigned long long)w[0], s, mno_ejson_dec_exact(b), exact);
    }
}

/* Every valid case's canonical Extended JSON parses (checked) to its canonical BSON; its
   relaxed and degenerate forms pass the checks. */
static void test_valid_extjson_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < nvalid; i++) {
        json_t *c = valid_cases[i];
        const char *forms[] = {"canonical_extjson", "relaxed_extjson", "degenerate_extjson"};
        for (int k = 0; k < 3; k++) {
            const char *s = json_string_value(json_object_get(c, forms[k]));
            if (!s)
                continue;
            json_error_t je;
            json_t *v = json_loads(s, JSON_ALLOW_NUL, &je);
            assert_non_null(v);
            char key[256], why[300];
            if (mno_ejson_check(v, key, sizeof key, why, sizeof why) < 0)
                fail_msg("%s: %s %s refused: %s: %s", json_string_value(json_object_get(c, "file")),
                         json_string_value(json_object_get(c, "description")), forms[k], key, why);
            if (k == 0 && !json_is_true(json_object_get(c, "lossy"))) {
                bson_t *d = mno_ejson_to_bson(v, key, sizeof key, why, sizeof why);
                size_t n;
                uint8_t *want = unhex(json_string_value(json_object_get(c, "canonical_bson")), &n);
                if (!d || d->len != n || memcmp(bson_get_data(d), want, n))
                    fail_msg("%s: %s: canonical text does not give canonical BSON",
                             json_string_value(json_object_get(c, "file")),
                             json_string_value(json_object_get(c, "description")));
                free(want);
                bson_destroy(d);
            }
            json_decref(v);
        }
    }
}

/* An archive holding the document text as its only record's "v" (line 3). */
static void write_archive(const char *path, const char *doctext)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"mongodb\",\"source\":\"connec\",\"tenant\":null}\n"
               "{\"t\":\"begin\",\"ns\":\"corpus.docs\",\"key\":[\"_id\"],\"options\":{},\"indexes\":[]}\n"
               "{\"t\":\"rec\",\"ns\":\"corpus.docs\",\"v\":%s}\n"
               "{\"t\":\"end\",\"ns\":\"corpus.docs\",\"count\":1,\"sum\":\"00000000000000000000000000000000\"}\n"
               "{\"t\":\"trailer\",\"sections\":1,\"count\":1,\"sum\":\"00000000000000000000000000000000\"}\n",
            doctext);
    fclose(f);
}

/* The reader (every option set) refuses the document at line 3, naming the key. */
static void refused(const char *doctext, const char *name, const char *key)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/perr.mnoa", tmp);
    write_archive(path, doctext);
    for (int mode = 0; mode < 3; mode++) {
        mno_reader_opts ro = MNO_READER_OPTS_INIT;
        if (mode == 1)
            ro.fast_mongo = 1;
        if (mode == 2)
            mno_reader_opts_check(&ro);
        mno_error e = {0};
        mno_in *in = mno_in_open(path, &e);
        assert_non_null(in);
        mno_reader *r = mno_reader_new(in, &ro, &e);
        assert_non_null(r);
        mno_item it;
        int n;
        while ((n = mno_reader_next(r, &it, &e)) > 0)
            ;
        if (n == 0 || e.line != 3 || strstr(e.msg, "sum mismatch") || strstr(e.msg, "count"))
            fail_msg("mode %d: %s: not refused at line 3: %s", mode, name, n ? e.msg : "accepted");
        if (key && !strstr(e.msg, key))
            fail_msg("mode %d: %s: the message does not name %s: %s", mode, name, key, e.msg);
        mno_reader_free(r);
        mno_in_close(in);
    }
}

static void test_parse_errors_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < nperr; i++) {
        json_t *v = json_loads(perr[i], JSON_ALLOW_NUL, NULL);
        /* the key named: the first member of the document (corpus parse errors sit there) */
        const char *k = v && json_object_size(v) ? json_object_iter_key(json_object_iter(v)) : NULL;
        char want[300];
        snprintf(want, sizeof want, "\"%s", k ? k : "");
        refused(perr[i], perr_name[i], k && strlen(k) == strlen(k) && !strchr(perr[i], '\\') ? want : NULL);
        json_decref(v);
    }
}

/* What libbson 1.23 takes silently and changes (issue 19). */
static void test_libbson_lenient_values_refused(void **state)
{
    (void)state;
    refused("{\"a\":{\"$oid\":\"zzzzzzzzzzzzzzzzzzzzzzzz\"}}", "bad $oid", "\"a\"");
    refused("{\"x\":{\"y\":{\"$numberDouble\":\"abc\"}}}", "$numberDouble abc", "\"x.y\"");
    refused("{\"x\":{\"$numberDouble\":\"1.5x\"}}", "$numberDouble 1.5x", "\"x\"");
    refused("{\"d\":{\"$date\":42}}", "$date 42", "\"d\"");
    refused("{\"n\":[1,{\"$numberDecimal\":\"ten\"}]}", "$numberDecimal ten", "\"n.1\"");
    refused("{\"n\":{\"$numberDecimal\":\"1,5\"}}", "$numberDecimal 1,5", "\"n\"");
    refused("{\"n\":{\"$numberDecimal\":\"7e10000\"}}", "$numberDecimal 7e10000", "\"n\"");
    refused("{\"n\":{\"$numberDecimal\":\"12345678901234567890123456789012345\"}}", "35 digits", "\"n\"");
    refused("{\"i\":{\"$numberInt\":\"2147483648\"}}", "int32 overflow", "\"i\"");
}

/* The converter's depth limit: 100 levels (the server's) pass, 101 and 300 are refused
   before anything is written (the check pass reads them too). */
static void test_depth_limit(void **state)
{
    (void)state;
    int levels[] = {100, 101, 300};
    for (int k = 0; k < 3; k++) {
        mno_buf t = MNO_BUF_INIT;
        /* the document is level 1, each {"a": one more; an array counts as a level too */
        for (int i = 2; i < levels[k]; i++)
            mno_buf_adds(&t, "{\"a\":");
        mno_buf_adds(&t, "[null]");
        for (int i = 2; i < levels[k]; i++)
            mno_buf_adds(&t, "}");
        mno_buf d = MNO_BUF_INIT;
        mno_buf_adds(&d, "{\"x\":");
        mno_buf_add(&d, t.data, t.len);
        mno_buf_adds(&d, "}");
        json_t *v = json_loads(d.data, 0, NULL);
        assert_non_null(v);
        char key[4096], why[300];
        int rc = mno_ejson_check(v, key, sizeof key, why, sizeof why);
        assert_int_equal(rc, levels[k] <= 100 ? 0 : -1);
        if (rc)
            refused(d.data, "deep", "nested deeper than 100 levels");
        json_decref(v);
        mno_buf_release(&t);
        mno_buf_release(&d);
    }
}

/* The lossless form read back: its sum is the BSON bytes'; broken forms are refused. */
static void test_lossless_form_refusals(void **state)
{
    (void)state;
    const char *bad[] = {"\"bson\":\"!!!!\"", "\"bson\":\"BQAAAA\"", "\"bson\":\"BgAAAAAA\"",
                         "\"bson\":42", "\"bson\":\"BQAAAAA=\",\"v\":{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/lossless.mnoa", tmp);
        FILE *f = fopen(path, "w");
        fprintf(f, "{\"t\":\"header\",\"format\":\"mnoa\",\"version\":1,\"engine\":\"mongodb\",\"source\":\"connec\",\"tenant\":null}\n"
                   "{\"t\":\"begin\",\"ns\":\"c.d\",\"key\":[\"_id\"]}\n{\"t\":\"rec\",\"ns\":\"c.d\",%s}\n"
                   "{\"t\":\"end\",\"ns\":\"c.d\",\"count\":1,\"sum\":\"00000000000000000000000000000000\"}\n"
                   "{\"t\":\"trailer\",\"sections\":1,\"count\":1,\"sum\":\"00000000000000000000000000000000\"}\n", bad[i]);
        fclose(f);
        mno_error e = {0};
        mno_in *in = mno_in_open(path, &e);
        mno_reader *r = mno_reader_new(in, NULL, &e);
        mno_item it;
        int n;
        while ((n = mno_reader_next(r, &it, &e)) > 0)
            ;
        if (n == 0 || e.line != 3)
            fail_msg("%s: not refused at line 3: %s", bad[i], e.msg);
        mno_reader_free(r);
        mno_in_close(in);
    }
}

/* A document no form can carry (corrupt BSON) is refused by the writer naming its _id. */
static void test_unwritable_names_id(void **state)
{
    (void)state;
    bson_t *d = BCON_NEW("_id", BCON_INT32(7), "x", BCON_UTF8("abc"));
    uint8_t *b = malloc(d->len);
    memcpy(b, bson_get_data(d), d->len);
    b[d->len - 9] = 0x7f; /* x's string length, now past the end */
    char path[1100];
    snprintf(path, sizeof path, "%s/bad.mnoa", tmp);
    mno_error e = {0};
    mno_out *out = mno_out_open(path, NULL, &e);
    json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_int_equal(mno_writer_begin(w, "corpus.docs", NULL, &e), 0);
    bson_t st;
    assert_true(bson_init_static(&st, b, d->len));
    assert_int_equal(mno_writer_rec_bson(w, &st, &e), -1);
    assert_non_null(strstr(e.msg, "record 1 (_id { \"$numberInt\" : \"7\" }) cannot be written (not well-formed BSON)"));
    const uint8_t *p[1] = {b};
    size_t l[1] = {d->len};
    assert_int_equal(mno_writer_recs_bson(w, 1, p, l, &e), -1);
    assert_non_null(strstr(e.msg, "record 1 (_id { \"$numberInt\" : \"7\" }) cannot be written"));
    mno_writer_free(w);
    mno_out_abort(out);
    json_decref(h);
    free(b);
    bson_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_loaded),
        cmocka_unit_test(test_valid_roundtrip),
        cmocka_unit_test(test_valid_roundtrip_batched),
        cmocka_unit_test(test_suspect_walk_sound),
        cmocka_unit_test(test_decimal_bits_judged_right),
        cmocka_unit_test(test_valid_extjson_accepted),
        cmocka_unit_test(test_parse_errors_refused),
        cmocka_unit_test(test_libbson_lenient_values_refused),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_lossless_form_refusals),
        cmocka_unit_test(test_unwritable_names_id),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
