/* test_restore_mongo.c: the MongoDB restore ops against a server (the test server or MNO_TEST_MONGO_URI): round trips of every BSON type, bad sections, conflicts, resume, faults. */
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
#include "engine_mongo.h"
#include "engine_mongo_json.h"

static char tmpdir[256];
static const char *base_uri;
static mongoc_client_t *client;   /* an independent client for setting up and reading back */

/* Documents of every BSON type, with _ids of every type (from tests/cli/30-dump-mongo/data.py). */
static const char *const edge[] = {
    "{\"_id\":{\"$minKey\":1},\"channel_id\":\"org-acme-1\",\"k\":\"minkey id\"}",
    "{\"_id\":null,\"channel_id\":\"org-acme-1\",\"k\":\"null id\"}",
    "{\"_id\":{\"$numberInt\":\"-5\"},\"channel_id\":\"org-acme-1\",\"i32\":{\"$numberInt\":\"-2147483648\"},\"i32max\":{\"$numberInt\":\"2147483647\"}}",
    "{\"_id\":{\"$numberLong\":\"-4\"},\"channel_id\":\"org-acme-1\",\"i64\":{\"$numberLong\":\"-9223372036854775808\"},\"i64max\":{\"$numberLong\":\"9223372036854775807\"}}",
    "{\"_id\":{\"$numberDouble\":\"-3.5\"},\"channel_id\":\"org-acme-1\",\"negzero\":{\"$numberDouble\":\"-0.0\"},\"nan\":{\"$numberDouble\":\"NaN\"},\"inf\":{\"$numberDouble\":\"Infinity\"},\"ninf\":{\"$numberDouble\":\"-Infinity\"},\"tiny\":{\"$numberDouble\":\"5e-324\"},\"big\":{\"$numberDouble\":\"1.7976931348623157e+308\"},\"third\":{\"$numberDouble\":\"0.1\"}}",
    "{\"_id\":{\"$numberDecimal\":\"-2.50\"},\"channel_id\":\"org-acme-1\",\"dec\":{\"$numberDecimal\":\"1.000\"},\"decexp\":{\"$numberDecimal\":\"-1.23E-6170\"},\"decnan\":{\"$numberDecimal\":\"NaN\"},\"decinf\":{\"$numberDecimal\":\"-Infinity\"},\"deczero\":{\"$numberDecimal\":\"-0.00\"}}",
    "{\"_id\":{\"$numberInt\":\"7\"},\"channel_id\":\"org-other-1\",\"k\":\"other tenant int id\"}",
    "{\"_id\":{\"$numberLong\":\"8\"},\"channel_id\":\"org-acme-1\",\"k\":\"long id after int\"}",
    "{\"_id\":\"\",\"channel_id\":\"org-acme-1\",\"k\":\"empty string id\"}",
    "{\"_id\":\"7fef0000-aaaa-4bbb-8ccc-000000000001\",\"channel_id\":\"org-acme-1\",\"str\":\"h\\u00e9llo \\u2603 \\ud83d\\ude00\",\"nul\":\"a\\u0000b\",\"ctl\":\"\\t\\n\\r\\u0001\\\\\\\"\",\"sym\":{\"$symbol\":\"a symbol\"}}",
    "{\"_id\":\"7fef0000-aaaa-4bbb-8ccc-000000000002\",\"channel_id\":\"org-other-1\",\"k\":\"other tenant string id\"}",
    "{\"_id\":{\"$symbol\":\"zz-symbol-id\"},\"channel_id\":\"org-acme-1\",\"k\":\"symbol id\"}",
    "{\"_id\":{\"a\":{\"$numberInt\":\"1\"},\"b\":\"x\"},\"channel_id\":\"org-acme-1\",\"k\":\"document id\"}",
    "{\"_id\":{\"$binary\":{\"base64\":\"AAECAwQFBgcICQoLDA0ODw==\",\"subType\":\"04\"}},\"channel_id\":\"org-acme-1\",\"b0\":{\"$binary\":{\"base64\":\"\",\"subType\":\"00\"}},\"b2\":{\"$binary\":{\"base64\":\"AQID\",\"subType\":\"02\"}},\"b3\":{\"$binary\":{\"base64\":\"c//SZESzTGmQ6OfR38A11A==\",\"subType\":\"03\"}},\"b5\":{\"$binary\":{\"base64\":\"1B2M2Y8AsgTpgAmY7PhCfg==\",\"subType\":\"05\"}},\"b80\":{\"$binary\":{\"base64\":\"/w==\",\"subType\":\"80\"}}}",
    "{\"_id\":{\"$oid\":\"5f0000000000000000000001\"},\"channel_id\":\"org-acme-1\",\"oid\":{\"$oid\":\"ffffffffffffffffffffffff\"},\"regex\":{\"$regularExpression\":{\"pattern\":\"^a.*\\\\d$\",\"options\":\"imsx\"}},\"code\":{\"$code\":\"function(){return 1;}\"},\"cws\":{\"$code\":\"x\",\"$scope\":{\"x\":{\"$numberInt\":\"1\"}}},\"dbp\":{\"$dbPointer\":{\"$ref\":\"people\",\"$id\":{\"$oid\":\"5f0000000000000000000002\"}}},\"undef\":{\"$undefined\":true}}",
    "{\"_id\":false,\"channel_id\":\"org-acme-1\",\"t\":true,\"f\":false,\"n\":null}",
    "{\"_id\":true,\"channel_id\":\"org-acme-1\",\"k\":\"bool id\"}",
    "{\"_id\":{\"$date\":{\"$numberLong\":\"-62135596800000\"}},\"channel_id\":\"org-acme-1\",\"d0\":{\"$date\":{\"$numberLong\":\"0\"}},\"dmax\":{\"$date\":{\"$numberLong\":\"253402300799999\"}},\"dneg\":{\"$date\":{\"$numberLong\":\"-1\"}}}",
    "{\"_id\":{\"$timestamp\":{\"t\":1700000000,\"i\":7}},\"channel_id\":\"org-acme-1\",\"ts0\":{\"$timestamp\":{\"t\":0,\"i\":0}},\"tsmax\":{\"$timestamp\":{\"t\":4294967295,\"i\":4294967295}}}",
    "{\"_id\":{\"$maxKey\":1},\"channel_id\":\"org-acme-1\",\"minkey\":{\"$minKey\":1},\"maxkey\":{\"$maxKey\":1}}",
    "{\"_id\":{\"$numberInt\":\"100\"},\"channel_id\":\"org-acme-1\",\"z\":1,\"a\":2,\"m\":{\"z\":[],\"a\":{}},\"nested\":[[{\"$numberInt\":\"1\"},[{\"$numberLong\":\"2\"},{\"a\":[[],{}]}]],{},[]],\"k\":\"field order and nesting\"}",
    "{\"_id\":{\"$numberInt\":\"101\"},\"k\":\"no channel_id\"}",
};
#define NEDGE (sizeof edge / sizeof edge[0])

static int group_setup(void **state)
{
    (void)state;
    base_uri = getenv("MNO_TEST_MONGO_URI");
    if (!base_uri) {
        fprintf(stderr, "MNO_TEST_MONGO_URI is not set (run through tests/run)\n");
        return -1;
    }
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_restore_mongo.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    mongoc_init();
    client = mongoc_client_new(base_uri);
    if (!client)
        return -1;
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[400];
    mongoc_client_destroy(client);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

/* A fresh database NAME_<pid>: dropped, its URI in uri. Returns the database name (static). */
static const char *newdb(const char *name, char *uri, size_t n)
{
    static char db[4][64];
    static int k;
    k = (k + 1) % 4;
    snprintf(db[k], sizeof db[k], "rmu_%s_%d", name, (int)getpid());
    bson_error_t be;
    mongoc_database_t *d = mongoc_client_get_database(client, db[k]);
    if (!mongoc_database_drop_with_opts(d, NULL, &be) && be.code != 26)
        fail_msg("drop %s: %s", db[k], be.message);
    mongoc_database_destroy(d);
    /* mongodb://h:p[/...][?opts] -> mongodb://h:p/db[?opts] */
    const char *hosts = strstr(base_uri, "://") + 3;
    const char *slash = strchr(hosts, '/'), *q = strchr(hosts, '?');
    size_t hl = slash ? (size_t)(slash - base_uri) : q ? (size_t)(q - base_uri) : strlen(base_uri);
    snprintf(uri, n, "%.*s/%s%s", (int)hl, base_uri, db[k], q ? q : "");
    return db[k];
}

static const char *tpath(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static bson_t *ejson(const char *s)
{
    bson_error_t be;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &be);
    if (!b)
        fail_msg("bad extended json %s: %s", s, be.message);
    return b;
}

/* One section of a test archive. */
typedef struct tsec {
    const char *ns;
    const char *begin;          /* JSON of begin's fields (options, indexes), or NULL */
    const char *const *docs;    /* Extended JSON */
    size_t n;
} tsec;

/* Writes an archive with sections s[0..n) to path; returns its id (static). */
static const char *write_archive(const char *path, const tsec *s, size_t n)
{
    static char id[64];
    mno_error e;
    mno_out *out = mno_out_open(path, NULL, &e);
    assert_non_null(out);
    json_t *h = json_pack("{s:s,s:s,s:n}", "engine", "mongodb", "source", "connec", "tenant");
    mno_writer *w = mno_writer_new(out, h, "mno-test", &e);
    assert_non_null(w);
    json_decref(h);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(mno_writer_header(w), "id")));
    for (size_t i = 0; i < n; i++) {
        json_t *b = s[i].begin ? json_loads(s[i].begin, 0, NULL) : json_pack("{s:{},s:[]}", "options", "indexes");
        assert_non_null(b);
        assert_int_equal(mno_writer_begin(w, s[i].ns, b, &e), 0);
        json_decref(b);
        for (size_t k = 0; k < s[i].n; k++) {
            bson_t *d = ejson(s[i].docs[k]);
            assert_int_equal(mno_writer_rec_bson(w, d, &e), 0);
            bson_destroy(d);
        }
        assert_int_equal(mno_writer_end(w, &e), 0);
    }
    assert_int_equal(mno_writer_close(w, &e), 0);
    mno_writer_free(w);
    assert_int_equal(mno_out_finish(out, &e), 0);
    return id;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    mno_buf b = MNO_BUF_INIT;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(mno_buf_add(&b, chunk, k), 0);
    fclose(f);
    return b.data;
}

static void spit(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* What the driver does (lib/driver/restore.c), reduced: every section through the engine's ops.
   stop_after > 0: stops dead after that many records (a crash: no abort, no commit). */
static int restore(const char *path, const char *uri, int create, int resume, int dry_run,
                   long stop_after, mno_error *e)
{
    const mno_engine_ops *ops = &mno_engine_mongo;
    mno_engine *en = NULL;
    mno_in *in = NULL;
    mno_reader *r = NULL;
    mno_item it;
    int rc = -1, open = 0, skipping = 0;
    long recs = 0;
    char id[64] = "";
    mno_restore_opts o = {create, resume, dry_run, NULL, 0, NULL, 0};
    if (ops->open(&en, uri, MNO_ROLE_TARGET, e) < 0)
        goto done;
    if (!(in = mno_in_open(path, e)))
        goto done;
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.fast_mongo = 1; /* as lib/driver/restore.c */
    if (!(r = mno_reader_new(in, &ro, e)))
        goto done;
    for (;;) {
        int k = mno_reader_next(r, &it, e);
        if (k < 0) {
            if (open)
                ops->restore_abort(en);
            goto done;
        }
        if (k == 0)
            break;
        switch (it.kind) {
        case MNO_ITEM_HEADER:
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(it.obj, "id")) ?: "");
            o.archive_id = id[0] ? id : NULL;
            break;
        case MNO_ITEM_BEGIN:
            /* the journal first (restore.h's protocol) */
            if (o.archive_id) {
                int found;
                uint64_t jc;
                mno_sum js;
                if (mno_mongo_journal_get(en, o.archive_id, it.section->ns, &found, &jc, &js, e) < 0)
                    goto done;
                if (found && !resume) {
                    mno_err(e, MNO_E_USAGE, NULL, 0, it.section->ns, "already restored");
                    goto done;
                }
                skipping = found;
                if (found)
                    break;
            }
            if (ops->restore_begin(en, &o, it.section, e) < 0) {
                ops->restore_abort(en);
                goto done;
            }
            open = 1;
            break;
        case MNO_ITEM_REC:
            if (skipping)
                break;
            if (stop_after > 0 && recs++ == stop_after) {
                rc = 9; /* "killed": nothing more happens */
                goto done;
            }
            if (ops->restore_rec(en, &it, e) < 0) {
                ops->restore_abort(en);
                goto done;
            }
            break;
        case MNO_ITEM_END:
            if (skipping) {
                skipping = 0;
                break;
            }
            if (ops->restore_commit(en, it.section, e) < 0) {
                ops->restore_abort(en);
                goto done;
            }
            open = 0;
            break;
        default:
            break;
        }
    }
    rc = 0;
done:
    mno_reader_free(r);
    mno_in_close(in);
    if (en)
        ops->close(en);
    return rc;
}

/* The documents of db.coll, sorted by _id, as canonical Extended JSON lines in one string
   (caller frees); "" when the collection is empty or missing. */
static char *dump_coll(const char *db, const char *coll)
{
    mongoc_collection_t *c = mongoc_client_get_collection(client, db, coll);
    bson_t *opts = ejson("{\"sort\":{\"_id\":1}}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &(bson_t)BSON_INITIALIZER, opts, NULL);
    const bson_t *d;
    mno_buf b = MNO_BUF_INIT;
    assert_int_equal(mno_buf_adds(&b, ""), 0);
    while (mongoc_cursor_next(cur, &d)) {
        char *s = bson_as_canonical_extended_json(d, NULL);
        mno_buf_adds(&b, s);
        mno_buf_addc(&b, '\n');
        bson_free(s);
    }
    bson_error_t be;
    if (mongoc_cursor_error(cur, &be))
        fail_msg("read %s.%s: %s", db, coll, be.message);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return b.data;
}

/* The expected dump of docs: each parsed and reprinted, sorted as the server sorts them. */
static char *expect_coll(const char *db, const char *const *docs, size_t n)
{
    /* let a server sort them: a scratch collection filled by an independent client */
    char scratch[128];
    snprintf(scratch, sizeof scratch, "scratch");
    mongoc_collection_t *c = mongoc_client_get_collection(client, db, scratch);
    for (size_t i = 0; i < n; i++) {
        bson_t *d = ejson(docs[i]);
        bson_error_t be;
        if (!mongoc_collection_insert_one(c, d, NULL, NULL, &be))
            fail_msg("insert %s: %s", docs[i], be.message);
        bson_destroy(d);
    }
    char *s = dump_coll(db, scratch);
    mongoc_collection_drop(c, NULL);
    mongoc_collection_destroy(c);
    return s;
}

static void insert_docs(const char *db, const char *coll, const char *const *docs, size_t n)
{
    mongoc_collection_t *c = mongoc_client_get_collection(client, db, coll);
    for (size_t i = 0; i < n; i++) {
        bson_t *d = ejson(docs[i]);
        bson_error_t be;
        if (!mongoc_collection_insert_one(c, d, NULL, NULL, &be))
            fail_msg("insert %s: %s", docs[i], be.message);
        bson_destroy(d);
    }
    mongoc_collection_destroy(c);
}

/* Sorted collection names of db, one per line (caller frees). */
static char *colls(const char *db)
{
    bson_error_t be;
    mongoc_database_t *d = mongoc_client_get_database(client, db);
    char **names = mongoc_database_get_collection_names_with_opts(d, NULL, &be);
    mongoc_database_destroy(d);
    assert_non_null(names);
    size_t n = 0;
    while (names[n])
        n++;
    mno_buf b = MNO_BUF_INIT;
    mno_buf_adds(&b, "");
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        mno_buf_adds(&b, names[i]);
        mno_buf_addc(&b, '\n');
    }
    bson_strfreev(names);
    return b.data;
}

/* The journal entry of (archive id, ns): its count (and *already), or -1 when there is none. */
static long long journal_count(const char *db, const char *id, const char *ns, long long *already)
{
    char key[256];
    snprintf(key, sizeof key, "%s:%s", id, ns);
    mongoc_collection_t *c = mongoc_client_get_collection(client, db, MNO_MONGO_JOURNAL);
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "_id", key);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &f, NULL, NULL);
    const bson_t *d;
    long long n = -1;
    if (mongoc_cursor_next(cur, &d)) {
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, d, "count"));
        n = bson_iter_as_int64(&it);
        assert_true(bson_iter_init_find(&it, d, "already"));
        if (already)
            *already = bson_iter_as_int64(&it);
        assert_true(bson_iter_init_find(&it, d, "ns"));
        assert_string_equal(bson_iter_utf8(&it, NULL), ns);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&f);
    mongoc_collection_destroy(c);
    return n;
}

/* Count and sum of the target's collection as the verify op computes them. */
static void target_hash(const char *uri, const char *ns, uint64_t *count, mno_sum *sum)
{
    mno_engine *en;
    mno_error e;
    int exists;
    assert_int_equal(mno_engine_mongo.open(&en, uri, MNO_ROLE_TARGET, &e), 0);
    mno_section s = {0};
    s.ns = (char *)ns;
    s.begin = json_object();
    s.engine = MNO_ENGINE_MONGO;
    if (mno_engine_mongo.hash_section(en, &s, count, sum, &exists, &e) < 0)
        fail_msg("%s", e.msg);
    json_decref(s.begin);
    mno_engine_mongo.close(en);
}

/* Count and sum of docs as the archive writer computes them (md5 of the BSON bytes). */
static void docs_hash(const char *const *docs, size_t n, uint64_t *count, mno_sum *sum)
{
    *count = 0;
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < n; i++) {
        bson_t *d = ejson(docs[i]);
        mno_sum_add_md5(sum, bson_get_data(d), d->len);
        bson_destroy(d);
        (*count)++;
    }
}

static void assert_coll_is(const char *uri, const char *db, const char *coll, const char *const *docs, size_t n)
{
    char *got = dump_coll(db, coll), *want = expect_coll(db, docs, n);
    assert_string_equal(got, want);
    free(got);
    free(want);
    char ns[200];
    uint64_t c1, c2;
    mno_sum s1, s2;
    snprintf(ns, sizeof ns, "connec.%s", coll);
    target_hash(uri, ns, &c1, &s1);
    docs_hash(docs, n, &c2, &s2);
    assert_int_equal(c1, c2);
    assert_true(mno_sum_eq(&s1, &s2));
}

static const char *const people[] = {
    "{\"_id\":\"p1\",\"code\":\"PE1\",\"n\":{\"$numberInt\":\"1\"}}",
    "{\"_id\":\"p2\",\"code\":\"PE2\",\"n\":{\"$numberLong\":\"2\"}}",
    "{\"_id\":\"p3\",\"code\":\"PE3\",\"n\":{\"$numberDouble\":\"3.0\"}}",
    "{\"_id\":\"p4\",\"code\":\"PE4\",\"n\":{\"$numberDecimal\":\"4.00\"}}",
    "{\"_id\":\"p5\",\"code\":\"PE5\",\"n\":null}",
};
#define NPEOPLE (sizeof people / sizeof people[0])

static const char *const invoices[] = {
    "{\"_id\":{\"$oid\":\"5f0000000000000000000001\"},\"title\":\"INV-1\"}",
    "{\"_id\":{\"$oid\":\"5f0000000000000000000002\"},\"title\":\"INV-2\"}",
    "{\"_id\":{\"$oid\":\"5f0000000000000000000003\"},\"title\":\"INV-3\"}",
};
#define NINVOICES (sizeof invoices / sizeof invoices[0])

#define PEOPLE_BEGIN                                                                                 \
    "{\"options\":{},\"indexes\":[{\"v\":{\"$numberInt\":\"2\"},\"key\":{\"_id\":{\"$numberInt\":\"1\"}},\"name\":\"_id_\"}," \
    "{\"v\":{\"$numberInt\":\"2\"},\"key\":{\"code\":{\"$numberInt\":\"1\"}},\"name\":\"code_1\",\"unique\":true}]}"

/* The index names of db.coll with their unique flag, "name[!]" joined by spaces (static). */
static const char *index_names(const char *db, const char *coll)
{
    static char out[512];
    mongoc_collection_t *c = mongoc_client_get_collection(client, db, coll);
    mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(c, NULL);
    const bson_t *d;
    out[0] = '\0';
    while (mongoc_cursor_next(cur, &d)) {
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, d, "name"));
        strcat(out, out[0] ? " " : "");
        strcat(out, bson_iter_utf8(&it, NULL));
        if (bson_iter_init_find(&it, d, "unique") && bson_iter_as_bool(&it))
            strcat(out, "!");
    }
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    return out;
}

/* ---- tests ---- */

static void test_round_trip_every_type(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("types", uri, sizeof uri);
    tsec s[] = {{"connec.edge", NULL, edge, NEDGE}, {"connec.people", PEOPLE_BEGIN, people, NPEOPLE}};
    const char *path = tpath("types.mnoa");
    const char *id = write_archive(path, s, 2);
    if (restore(path, uri, 1, 0, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    assert_coll_is(uri, db, "edge", edge, NEDGE);
    assert_coll_is(uri, db, "people", people, NPEOPLE);
    assert_string_equal(index_names(db, "people"), "_id_ code_1!");
    long long already = -1;
    assert_int_equal(journal_count(db, id, "connec.edge", &already), NEDGE);
    assert_int_equal(already, 0);
    assert_int_equal(journal_count(db, id, "connec.people", NULL), NPEOPLE);
    char *c = colls(db);
    assert_string_equal(c, "edge\nmno_restore_journal\npeople\n");
    free(c);
    /* verify's listing leaves the toolkit's own collections out */
    mno_engine *en;
    mno_ns_count *a;
    size_t na;
    const char *nss[] = {"connec.edge"};
    assert_int_equal(mno_engine_mongo.open(&en, uri, MNO_ROLE_TARGET, &e), 0);
    assert_int_equal(mno_engine_mongo.list_ns(en, nss, 1, &a, &na, &e), 0);
    assert_int_equal(na, 2);
    for (size_t i = 0; i < na; i++)
        assert_null(strstr(a[i].ns, "mno_restore"));
    mno_ns_counts_free(a, na);
    mno_engine_mongo.close(en);

    /* again without --resume: refused, by name; with it: nothing to do */
    assert_int_equal(restore(path, uri, 1, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_USAGE);
    if (restore(path, uri, 1, 1, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    assert_coll_is(uri, db, "edge", edge, NEDGE);
}

static void test_missing_collection_needs_create(void **state)
{
    (void)state;
    char uri[1024], want[512];
    mno_error e;
    const char *db = newdb("nocreate", uri, sizeof uri);
    tsec s[] = {{"connec.people", NULL, people, NPEOPLE}};
    const char *path = tpath("nocreate.mnoa");
    write_archive(path, s, 1);
    assert_int_equal(restore(path, uri, 0, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_USAGE);
    snprintf(want, sizeof want,
             "section connec.people: collection 'people' does not exist in database '%s': give --create "
             "to create it with the archive's options and indexes", db);
    assert_string_equal(e.msg, want);
    char *c = colls(db);
    assert_string_equal(c, "");
    free(c);
}

/* A section whose sum does not match (a record edited by hand), and one cut short: neither is
   applied, the sections before are. */
static void test_bad_sections_not_applied(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("bad", uri, sizeof uri);
    tsec s[] = {{"connec.people", NULL, people, NPEOPLE}, {"connec.invoices", NULL, invoices, NINVOICES}};
    const char *path = tpath("bad.mnoa");
    write_archive(path, s, 2);
    char *text = slurp(path);
    /* corrupt: INV-2 -> INV-9 (same length) */
    char *p = strstr(text, "INV-2");
    assert_non_null(p);
    p[4] = '9';
    const char *bad = tpath("corrupt.mnoa");
    spit(bad, text, strlen(text));
    assert_int_equal(restore(bad, uri, 1, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_CORRUPT);
    assert_non_null(strstr(e.msg, "connec.invoices"));
    assert_coll_is(uri, db, "people", people, NPEOPLE);
    char *c = colls(db);
    assert_string_equal(c, "mno_restore_journal\npeople\n");
    free(c);

    /* truncated inside the invoices section */
    p[4] = '2';
    char *cut = strstr(text, "INV-3");
    assert_non_null(cut);
    while (cut[-1] != '\n')
        cut--;
    const char *trunc = tpath("trunc.mnoa");
    spit(trunc, text, (size_t)(cut - text));
    db = newdb("bad", uri, sizeof uri);
    assert_int_equal(restore(trunc, uri, 1, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_TRUNCATED);
    assert_coll_is(uri, db, "people", people, NPEOPLE);
    c = colls(db);
    assert_string_equal(c, "mno_restore_journal\npeople\n");
    free(c);
    free(text);
}

static void test_conflict_refused_target_unchanged(void **state)
{
    (void)state;
    char uri[1024], want[1024];
    mno_error e;
    const char *db = newdb("conflict", uri, sizeof uri);
    /* p1 identical, p3 with another content, p9 not in the archive */
    const char *const pre[] = {people[0], "{\"_id\":\"p3\",\"code\":\"PE3\",\"n\":{\"$numberInt\":\"3\"}}",
                               "{\"_id\":\"p9\",\"code\":\"PE9\"}"};
    insert_docs(db, "people", pre, 3);
    char *before = dump_coll(db, "people");
    tsec s[] = {{"connec.people", PEOPLE_BEGIN, people, NPEOPLE}};
    const char *path = tpath("conflict.mnoa");
    write_archive(path, s, 1);
    assert_int_equal(restore(path, uri, 1, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_CONFLICT);
    snprintf(want, sizeof want,
             "section connec.people: conflict: 1 document already in the target collection 'people' differs "
             "from the archive: _id=\"p3\"; refusing to overwrite (nothing of this section was written)");
    assert_string_equal(e.msg, want);
    char *after = dump_coll(db, "people");
    assert_string_equal(after, before);
    free(after);
    assert_string_equal(index_names(db, "people"), "_id_");
    char *c = colls(db);
    assert_string_equal(c, "people\n");
    free(c);

    /* a dry run writes nothing */
    if (restore(path, uri, 1, 0, 1, 0, &e) != 0)
        fail_msg("%s", e.msg);
    after = dump_coll(db, "people");
    assert_string_equal(after, before);
    free(after);
    free(before);
}

/* _id 1 (int32) in the archive, 1.0 (double) in the target: the same key to MongoDB. */
static void test_conflict_numeric_equal_id(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("numid", uri, sizeof uri);
    const char *const pre[] = {"{\"_id\":{\"$numberDouble\":\"1.0\"},\"a\":\"x\"}"};
    const char *const docs[] = {"{\"_id\":{\"$numberInt\":\"1\"},\"a\":\"x\"}"};
    insert_docs(db, "nums", pre, 1);
    tsec s[] = {{"connec.nums", NULL, docs, 1}};
    const char *path = tpath("numid.mnoa");
    write_archive(path, s, 1);
    assert_int_equal(restore(path, uri, 0, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_CONFLICT);
    assert_non_null(strstr(e.msg, "differs from the archive: _id=1.0;"));
    assert_coll_is(uri, db, "nums", pre, 1);
}

/* Documents already there, byte-identical: counted as restored; the rest is added. */
static void test_identical_existing_merged(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("merge", uri, sizeof uri);
    const char *const pre[] = {people[1], people[3]};
    insert_docs(db, "people", pre, 2);
    tsec s[] = {{"connec.people", PEOPLE_BEGIN, people, NPEOPLE}};
    const char *path = tpath("merge.mnoa");
    const char *id = write_archive(path, s, 1);
    if (restore(path, uri, 0, 0, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    assert_coll_is(uri, db, "people", people, NPEOPLE);
    assert_string_equal(index_names(db, "people"), "_id_ code_1!");
    long long already = -1;
    assert_int_equal(journal_count(db, id, "connec.people", &already), NPEOPLE);
    assert_int_equal(already, 2);
    char *c = colls(db);
    assert_string_equal(c, "mno_restore_journal\npeople\n");
    free(c);
}

static void test_duplicate_id_in_section(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("dup", uri, sizeof uri);
    const char *const docs[] = {people[0], people[1], "{\"_id\":\"p1\",\"code\":\"again\"}"};
    tsec s[] = {{"connec.people", NULL, docs, 3}};
    const char *path = tpath("dup.mnoa");
    write_archive(path, s, 1);
    assert_int_equal(restore(path, uri, 1, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_FORMAT);
    assert_string_equal(e.msg, "section connec.people: duplicate _id \"p1\": the section holds it twice");
    assert_int_equal(e.line, 5);
    char *c = colls(db);
    assert_string_equal(c, "");
    free(c);
}

/* A crash (no abort, no commit) after k records, for several k; then --resume. */
static void test_crash_then_resume(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    tsec s[] = {{"connec.people", PEOPLE_BEGIN, people, NPEOPLE}, {"connec.edge", NULL, edge, NEDGE},
                {"connec.invoices", NULL, invoices, NINVOICES}};
    const char *path = tpath("crash.mnoa");
    const char *id = write_archive(path, s, 3);
    long points[] = {1, NPEOPLE, NPEOPLE + 3, NPEOPLE + NEDGE + 1};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        const char *db = newdb("crash", uri, sizeof uri);
        assert_int_equal(restore(path, uri, 1, 0, 0, points[i], &e), 9);
        /* the section being read when it died is not in the target */
        if (points[i] < (long)NPEOPLE) {
            char *c = colls(db);
            assert_string_equal(c, "mno_restore_staging.people\n");
            free(c);
        }
        if (restore(path, uri, 1, 1, 0, 0, &e) != 0)
            fail_msg("crash after %ld: %s", points[i], e.msg);
        assert_coll_is(uri, db, "people", people, NPEOPLE);
        assert_coll_is(uri, db, "edge", edge, NEDGE);
        assert_coll_is(uri, db, "invoices", invoices, NINVOICES);
        assert_int_equal(journal_count(db, id, "connec.invoices", NULL), NINVOICES);
        char *c = colls(db);
        assert_string_equal(c, "edge\ninvoices\nmno_restore_journal\npeople\n");
        free(c);
    }
}

/* A crash after the data reached the target but before the journal: the documents are all
   there, byte-identical, and the resume journals them without writing twice. A crash in
   the middle of a merge leaves a part of them: the resume adds the rest. */
static void test_crash_after_data_before_journal(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("late", uri, sizeof uri);
    insert_docs(db, "people", people, NPEOPLE);
    insert_docs(db, "invoices", invoices, 1);
    tsec s[] = {{"connec.people", PEOPLE_BEGIN, people, NPEOPLE}, {"connec.invoices", NULL, invoices, NINVOICES}};
    const char *path = tpath("late.mnoa");
    const char *id = write_archive(path, s, 2);
    if (restore(path, uri, 0, 1, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    long long already = -1;
    assert_int_equal(journal_count(db, id, "connec.people", &already), NPEOPLE);
    assert_int_equal(already, NPEOPLE);
    assert_int_equal(journal_count(db, id, "connec.invoices", &already), NINVOICES);
    assert_int_equal(already, 1);
    assert_coll_is(uri, db, "people", people, NPEOPLE);
    assert_coll_is(uri, db, "invoices", invoices, NINVOICES);

    /* _ids of every type, every other one already there */
    db = newdb("late", uri, sizeof uri);
    const char *half[NEDGE];
    size_t nh = 0;
    for (size_t i = 0; i < NEDGE; i += 2)
        half[nh++] = edge[i];
    insert_docs(db, "edge", half, nh);
    tsec s2[] = {{"connec.edge", NULL, edge, NEDGE}};
    path = tpath("late2.mnoa");
    id = write_archive(path, s2, 1);
    if (restore(path, uri, 0, 0, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(journal_count(db, id, "connec.edge", &already), NEDGE);
    assert_int_equal(already, nh);
    assert_coll_is(uri, db, "edge", edge, NEDGE);
}

/* Documents of ~1 MiB: the 16 MiB buffer splits the section into several insert batches. */
static void test_large_documents_batched(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    const char *db = newdb("large", uri, sizeof uri);
    enum { N = 40, SZ = 1000000 };
    char **docs = calloc(N, sizeof *docs);
    assert_non_null(docs);
    for (int i = 0; i < N; i++) {
        docs[i] = malloc(SZ + 100);
        int k = snprintf(docs[i], 100, "{\"_id\":{\"$numberInt\":\"%d\"},\"pad\":\"", i);
        memset(docs[i] + k, 'a' + i % 26, SZ);
        strcpy(docs[i] + k + SZ, "\"}");
    }
    tsec s[] = {{"connec.large", NULL, (const char *const *)docs, N}};
    const char *path = tpath("large.mnoa.zst");
    write_archive(path, s, 1);
    if (restore(path, uri, 1, 0, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    uint64_t c1, c2;
    mno_sum s1, s2;
    target_hash(uri, "connec.large", &c1, &s1);
    docs_hash((const char *const *)docs, N, &c2, &s2);
    assert_int_equal(c1, N);
    assert_int_equal(c2, N);
    assert_true(mno_sum_eq(&s1, &s2));
    for (int i = 0; i < N; i++)
        free(docs[i]);
    free(docs);
    (void)db;
}

/* The test server's fault knobs: the connection dropped before, or after, an insert batch
   was applied. The batch is sent again; the result is exact. */
static void fault(const char *json)
{
    bson_t *cmd = ejson(json);
    bson_error_t be;
    if (!mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &be))
        fail_msg("mnoFault: %s", be.message);
    bson_destroy(cmd);
}

static void test_dropped_connection_mid_batch(void **state)
{
    (void)state;
    if (!getenv("MNO_TEST_MONGOD")) {
        skip();
    }
    char uri[1024];
    mno_error e;
    tsec s[] = {{"connec.people", PEOPLE_BEGIN, people, NPEOPLE}, {"connec.edge", NULL, edge, NEDGE}};
    const char *path = tpath("fault.mnoa");
    write_archive(path, s, 2);
    /* inserts: 1 the people batch, 2 its journal entry, 3 the edge batch */
    const char *knobs[] = {"{\"mnoFault\":1,\"dropOn\":\"insert:1\"}", "{\"mnoFault\":1,\"dropOn\":\"insert:2:after\"}",
                           "{\"mnoFault\":1,\"dropOn\":\"insert:3:after\"}", "{\"mnoFault\":1,\"dropOn\":\"insert:3\"}"};
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        const char *db = newdb("fault", uri, sizeof uri);
        fault(knobs[i]);
        int rc = restore(path, uri, 1, 0, 0, 0, &e);
        fault("{\"mnoFault\":1,\"clear\":true}");
        if (rc != 0)
            fail_msg("%s: %s", knobs[i], e.msg);
        assert_coll_is(uri, db, "people", people, NPEOPLE);
        assert_coll_is(uri, db, "edge", edge, NEDGE);
    }
    /* the connection lost around the commands of a commit (or the section's first, the
       staging collection's create: no drop comes first when no stale one is listed): the
       run fails, --resume finishes */
    const char *late[] = {"{\"mnoFault\":1,\"dropOn\":\"renameCollection:1:after\"}",
                          "{\"mnoFault\":1,\"dropOn\":\"renameCollection:2\"}",
                          "{\"mnoFault\":1,\"dropOn\":\"createIndexes:1:after\"}",
                          "{\"mnoFault\":1,\"dropOn\":\"create:1\"}"};   /* the staging collection's */
    for (size_t i = 0; i < sizeof late / sizeof late[0]; i++) {
        const char *db = newdb("fault", uri, sizeof uri);
        fault(late[i]);
        int rc = restore(path, uri, 1, 0, 0, 0, &e);
        fault("{\"mnoFault\":1,\"clear\":true}");
        if (rc != -1)
            fail_msg("%s: the fault did not fail the run", late[i]);
        if (restore(path, uri, 1, 1, 0, 0, &e) != 0)
            fail_msg("%s: %s", late[i], e.msg);
        assert_coll_is(uri, db, "people", people, NPEOPLE);
        assert_coll_is(uri, db, "edge", edge, NEDGE);
        assert_string_equal(index_names(db, "people"), "_id_ code_1!");
        char *c = colls(db);
        assert_string_equal(c, "edge\nmno_restore_journal\npeople\n");
        free(c);
    }
    /* a server error that is no network trouble: the run fails (exit 2 in the tool), --resume finishes */
    const char *db = newdb("fault", uri, sizeof uri);
    fault("{\"mnoFault\":1,\"failOn\":\"insert:3:2:injected\"}");
    int rc = restore(path, uri, 1, 0, 0, 0, &e);
    fault("{\"mnoFault\":1,\"clear\":true}");
    assert_int_equal(rc, -1);
    assert_int_equal(e.code, MNO_E_SERVER);
    assert_string_equal(e.msg, "section connec.edge: cannot insert the 22 documents of lines 10-31: injected (code 2)");
    if (restore(path, uri, 1, 1, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    assert_coll_is(uri, db, "people", people, NPEOPLE);
    assert_coll_is(uri, db, "edge", edge, NEDGE);
}

/*
 * A section of many insert batches (the first of 64 KiB, doubling): each full batch is sent
 * by the engine's sender thread while the next is read. The result is exact; a duplicate
 * _id two batches apart is named with its line; a batch the server refuses while the next
 * is being read fails the run with nothing applied, and a rerun restores it; a connection
 * dropped around a batch in flight is resent.
 */
enum { NBIG = 6000 };
static char **big_docs(void)
{
    char **d = calloc(NBIG, sizeof *d);
    assert_non_null(d);
    for (int i = 0; i < NBIG; i++) {
        d[i] = malloc(200);
        snprintf(d[i], 200, "{\"_id\":{\"$numberInt\":\"%d\"},\"channel_id\":\"org-%d\",\"pad\":\"%090d\","
                 "\"amount\":{\"$numberDecimal\":\"%d.%02d\"}}", i, i % 97, i, i, i % 100);
    }
    return d;
}

static void test_pipelined_batches(void **state)
{
    (void)state;
    char uri[1024];
    mno_error e;
    char **docs = big_docs();
    const char *const *cd = (const char *const *)docs;
    tsec s[] = {{"connec.big", NULL, cd, NBIG}};
    const char *path = tpath("big.mnoa");
    write_archive(path, s, 1);
    const char *db = newdb("big", uri, sizeof uri);
    if (restore(path, uri, 1, 0, 0, 0, &e) != 0)
        fail_msg("%s", e.msg);
    assert_coll_is(uri, db, "big", cd, NBIG);

    /* the last document repeats the _id of one ~5000 documents (several batches) before */
    char *last = docs[NBIG - 1];
    docs[NBIG - 1] = strdup("{\"_id\":{\"$numberInt\":\"7\"},\"again\":true}");
    write_archive(path, s, 1);
    db = newdb("big", uri, sizeof uri);
    assert_int_equal(restore(path, uri, 1, 0, 0, 0, &e), -1);
    assert_int_equal(e.code, MNO_E_FORMAT);
    assert_string_equal(e.msg, "section connec.big: duplicate _id 7: the section holds it twice");
    assert_int_equal(e.line, NBIG + 2);
    char *c = colls(db);
    assert_string_equal(c, "");
    free(c);
    free(docs[NBIG - 1]);
    docs[NBIG - 1] = last;
    write_archive(path, s, 1);

    if (getenv("MNO_TEST_MONGOD")) {
        /* the server refuses the second batch while the third is read: nothing applied */
        db = newdb("big", uri, sizeof uri);
        fault("{\"mnoFault\":1,\"failOn\":\"insert:2:2:injected\"}");
        int rc = restore(path, uri, 1, 0, 0, 0, &e);
        fault("{\"mnoFault\":1,\"clear\":true}");
        assert_int_equal(rc, -1);
        assert_int_equal(e.code, MNO_E_SERVER);
        if (strncmp(e.msg, "section connec.big: cannot insert the ", 38) != 0 ||
            !strstr(e.msg, " documents of lines ") || !strstr(e.msg, ": injected (code 2)"))
            fail_msg("%s", e.msg);
        c = colls(db);
        assert_string_equal(c, "");
        free(c);
        if (restore(path, uri, 1, 0, 0, 0, &e) != 0)
            fail_msg("%s", e.msg);
        assert_coll_is(uri, db, "big", cd, NBIG);
        /* connections dropped before, and after, batches in flight: resent, exact */
        const char *knobs[] = {"{\"mnoFault\":1,\"dropOn\":\"insert:2\"}", "{\"mnoFault\":1,\"dropOn\":\"insert:3:after\"}"};
        for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
            db = newdb("big", uri, sizeof uri);
            fault(knobs[i]);
            rc = restore(path, uri, 1, 0, 0, 0, &e);
            fault("{\"mnoFault\":1,\"clear\":true}");
            if (rc != 0)
                fail_msg("%s: %s", knobs[i], e.msg);
            assert_coll_is(uri, db, "big", cd, NBIG);
        }
    }
    for (int i = 0; i < NBIG; i++)
        free(docs[i]);
    free(docs);
}

/* The reader's fast paths (engine_mongo_json.c: from jansson's tree, from the text) against
   libbson's parser, on the same text. canonical_text: libbson printed it. */
static int canonical_text;
static int fast_vs_libbson(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("jansson: %s: %s", text, je.text);
    bson_t fast = BSON_INITIALIZER;
    int rc = mno_json_to_bson(j, &fast);
    if (rc == 0) {
        /* libbson on the text jansson would print (what the reader did before) */
        char *s = json_dumps(j, JSON_COMPACT);
        bson_error_t be;
        bson_t *slow = bson_new_from_json((const uint8_t *)s, -1, &be);
        if (!slow)
            fail_msg("fast path accepted what libbson refuses: %s (%s)", text, be.message);
        if (slow->len != fast.len || memcmp(bson_get_data(slow), bson_get_data(&fast), fast.len) != 0)
            fail_msg("fast path differs from libbson on %s", text);
        bson_destroy(slow);
        free(s);
    }
    bson_destroy(&fast);
    json_decref(j);
    /* and from the text, without jansson (the reader's fast_mongo path) */
    bson_t txt = BSON_INITIALIZER;
    int trc = mno_ejson_text_to_bson(text, strlen(text), &txt);
    if (trc == 0) {
        bson_error_t be;
        bson_t *slow = bson_new_from_json((const uint8_t *)text, -1, &be);
        if (!slow)
            fail_msg("text path accepted what libbson refuses: %s (%s)", text, be.message);
        if (slow->len != txt.len || memcmp(bson_get_data(slow), bson_get_data(&txt), txt.len) != 0)
            fail_msg("text path differs from libbson on %s", text);
        bson_destroy(slow);
    }
    bson_destroy(&txt);
    if (trc == 0 && rc != 0)
        fail_msg("text path took what the tree path leaves to libbson: %s", text);
    /* canonical text: the text path must take it whenever the tree path does */
    if (canonical_text && rc == 0 && trc != 0)
        fail_msg("text path left a canonical form to libbson: %s", text);
    return rc;
}

static void test_fast_ejson_matches_libbson(void **state)
{
    (void)state;
    /* the hand-written lines hold relaxed forms too (bare numbers): those go to libbson */
    size_t nfast = 0;
    for (size_t i = 0; i < NEDGE; i++)
        nfast += fast_vs_libbson(edge[i]) == 0;
    assert_int_equal(nfast, NEDGE - 1);
    for (size_t i = 0; i < NPEOPLE; i++)
        assert_int_equal(fast_vs_libbson(people[i]), 0);
    /* the archive's form is libbson's canonical output: every edge document reprinted */
    canonical_text = 1;
    for (size_t i = 0; i < NEDGE; i++) {
        bson_t *d = ejson(edge[i]);
        char *c = bson_as_canonical_extended_json(d, NULL);
        if (fast_vs_libbson(c) != 0)
            fail_msg("canonical form left to libbson: %s", c);
        bson_free(c);
        bson_destroy(d);
    }
    canonical_text = 0;
    static const char *const more[] = {
        "{\"r\":{\"$regularExpression\":{\"pattern\":\"a\",\"options\":\"xsmi\"}}}",
        "{\"r\":{\"$regularExpression\":{\"options\":\"\",\"pattern\":\"\"}}}",
        "{\"c\":{\"$scope\":{\"y\":{\"$numberLong\":\"1\"}},\"$code\":\"y\"}}",
        "{\"b\":{\"$binary\":{\"subType\":\"2\",\"base64\":\"AQIDBA==\"}}}",
        "{\"b\":{\"$binary\":{\"base64\":\"AA==\",\"subType\":\"ff\"}}}",
        "{\"b\":{\"$binary\":{\"base64\":\"AAE=\",\"subType\":\"06\"}}}",
        "{\"d\":{\"$numberDouble\":\"-1.5e-10\"},\"e\":{\"$numberDouble\":\"1E+300\"},\"f\":{\"$numberDouble\":\"-0.0\"}}",
        "{\"l\":{\"$numberLong\":\"-9223372036854775808\"},\"i\":{\"$numberInt\":\"-0\"}}",
        "{\"x\":{\"$numberDecimal\":\"1.23456789012345678901234567890123E+6000\"},\"y\":{\"$numberDecimal\":\"-Inf\"}}",
        "{\"\":\"empty key\",\"a\":[[],{},[null,true,false]],\"s\":\"\\u0000\\u00ff\\ud83d\\ude00\"}",
        "{\"t\":{\"$timestamp\":{\"i\":1,\"t\":2}}}",
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        assert_int_equal(fast_vs_libbson(more[i]), 0);
    /* relaxed and legacy forms, and invalid ones: left to libbson */
    static const char *const slow[] = {
        "{\"n\":5}", "{\"n\":1.5}", "{\"d\":{\"$date\":\"2020-01-01T00:00:00Z\"}}",
        "{\"u\":{\"$uuid\":\"73ffd264-44b3-4c69-90e8-e7d1dfc035d4\"}}", "{\"$oid\":\"5f0000000000000000000001\"}",
        "{\"a\":{\"$oid\":\"xyz\"}}", "{\"a\":{\"$numberInt\":\"99999999999\"}}",
        "{\"a\":{\"$numberInt\":\" 5\"}}", "{\"a\":{\"$binary\":{\"base64\":\"A\",\"subType\":\"00\"}}}",
        "{\"a\":{\"$regex\":\"x\",\"$options\":\"\"}}", "{\"a\":{\"b\":1,\"$c\":2}}",
        "{\"a\":{\"$numberDouble\":\"1e999\"}}", "{\"a\":{\"$minKey\":2}}",
    };
    for (size_t i = 0; i < sizeof slow / sizeof slow[0]; i++)
        if (fast_vs_libbson(slow[i]) != 1)
            fail_msg("fast path took %s", slow[i]);
    /* random documents of every type, through libbson's canonical printer */
    canonical_text = 1;
    srand(7);
    for (int n = 0; n < 2000; n++) {
        bson_t d = BSON_INITIALIZER, sub;
        char key[16];
        for (int f = 0; f < 8; f++) {
            snprintf(key, sizeof key, "k%d", f);
            uint8_t bin[9];
            for (int q = 0; q < 9; q++)
                bin[q] = (uint8_t)rand();
            bson_oid_t oid;
            bson_decimal128_t dec = {(uint64_t)rand() << 20 | (uint64_t)rand(), 0x3040000000000000ull};
            switch (rand() % 12) {
            case 0: BSON_APPEND_INT32(&d, key, rand() - RAND_MAX / 2); break;
            case 1: BSON_APPEND_INT64(&d, key, (int64_t)((uint64_t)rand() << 33) ^ rand()); break;
            case 2: BSON_APPEND_DOUBLE(&d, key, (rand() - RAND_MAX / 2) / 7.0 * (rand() % 2 ? 1e-9 : 1e12)); break;
            case 3: bson_append_binary(&d, key, -1, (bson_subtype_t)(rand() % 8), bin, (uint32_t)(rand() % 10)); break;
            case 4: bson_oid_init_from_data(&oid, bin); BSON_APPEND_OID(&d, key, &oid); break;
            case 5: BSON_APPEND_DATE_TIME(&d, key, ((int64_t)rand() << 12) - ((int64_t)1 << 40)); break;
            case 6: BSON_APPEND_DECIMAL128(&d, key, &dec); break;
            case 7: BSON_APPEND_UTF8(&d, key, (const char *)"caf\xc3\xa9 \"q\" \\ \t"); break;
            case 8: BSON_APPEND_TIMESTAMP(&d, key, (uint32_t)rand(), (uint32_t)rand()); break;
            case 9: BSON_APPEND_DOCUMENT_BEGIN(&d, key, &sub); BSON_APPEND_INT32(&sub, "x", rand()); bson_append_document_end(&d, &sub); break;
            case 10: BSON_APPEND_ARRAY_BEGIN(&d, key, &sub); BSON_APPEND_BOOL(&sub, "0", rand() % 2); BSON_APPEND_NULL(&sub, "1"); bson_append_array_end(&d, &sub); break;
            default: BSON_APPEND_REGEX(&d, key, "^a+$", rand() % 2 ? "i" : "ms"); break;
            }
        }
        char *c = bson_as_canonical_extended_json(&d, NULL);
        int rc = fast_vs_libbson(c);
        if (rc != 0)
            fail_msg("canonical form left to libbson: %s", c);
        bson_free(c);
        bson_destroy(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_ejson_matches_libbson),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_missing_collection_needs_create),
        cmocka_unit_test(test_bad_sections_not_applied),
        cmocka_unit_test(test_conflict_refused_target_unchanged),
        cmocka_unit_test(test_conflict_numeric_equal_id),
        cmocka_unit_test(test_identical_existing_merged),
        cmocka_unit_test(test_duplicate_id_in_section),
        cmocka_unit_test(test_crash_then_resume),
        cmocka_unit_test(test_crash_after_data_before_journal),
        cmocka_unit_test(test_large_documents_batched),
        cmocka_unit_test(test_dropped_connection_mid_batch),
        cmocka_unit_test(test_pipelined_batches),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
