/* test_mongod.c: the MongoDB wire-protocol test server driven through libmongoc only: every command,
   byte-exact round trips, _id order, filters, cursors, duplicates, client-split batches, size limits
   and (only against our server, MNO_TEST_MONGOD=1) the fault knobs on separate instances.
   Runs against $MNO_TEST_MONGO_URI, which may be a real MongoDB 6/7 server. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <mongoc/mongoc.h>

extern char **environ;

static char base_uri[1024];
static bool ours; /* the server is mno-test-mongod: the fault knobs may be used */

/* ---- helpers ---- */

/* base_uri with database db and extra "k=v&..." options; static storage, 2 slots. */
static const char *uri_for(const char *base, const char *db, const char *opts)
{
    static char out[2][1400];
    static int k;
    k ^= 1;
    const char *q = strchr(base, '?');
    size_t blen = q ? (size_t)(q - base) : strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    /* drop a database part already in the URI */
    const char *hosts = strstr(base, "://");
    hosts = hosts ? hosts + 3 : base;
    const char *slash = memchr(hosts, '/', blen - (size_t)(hosts - base));
    if (slash)
        blen = (size_t)(slash - base);
    snprintf(out[k], sizeof out[k], "%.*s/%s%s%s%s%s", (int)blen, base, db ? db : "",
             q || (opts && *opts) ? "?" : "", q ? q + 1 : "", q && opts && *opts ? "&" : "", opts ? opts : "");
    return out[k];
}

static mongoc_client_t *client_for(const char *uri)
{
    bson_error_t e;
    mongoc_uri_t *u = mongoc_uri_new_with_error(uri, &e);
    if (!u)
        fail_msg("bad uri %s: %s", uri, e.message);
    mongoc_client_t *c = mongoc_client_new_from_uri(u);
    mongoc_uri_destroy(u);
    assert_non_null(c);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

/* Documents made by J() live until the end of the test (jfree, each test's teardown). */
static bson_t *jdocs[256];
static int njdocs;

static int jfree(void **state)
{
    (void)state;
    while (njdocs > 0)
        bson_destroy(jdocs[--njdocs]);
    return 0;
}

/* A document from Extended JSON, freed at the end of the test. */
static bson_t *J(const char *json)
{
    bson_error_t e;
    bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &e);
    if (!b)
        fail_msg("bad json %s: %s", json, e.message);
    if (njdocs == (int)(sizeof jdocs / sizeof jdocs[0]))
        fail_msg("too many J() documents in one test");
    jdocs[njdocs++] = b;
    return b;
}

/* Runs a command; returns true when ok; reply (may be NULL) receives the reply. */
static bool run(mongoc_client_t *c, const char *db, const char *json, bson_t *reply, bson_error_t *err)
{
    bson_t *cmd = J(json), tmp;
    bool ok = mongoc_client_command_simple(c, db, cmd, NULL, reply ? reply : &tmp, err);
    if (!reply)
        bson_destroy(&tmp);
    return ok;
}

static void run_ok(mongoc_client_t *c, const char *db, const char *json, bson_t *reply)
{
    bson_error_t e;
    if (!run(c, db, json, reply, &e))
        fail_msg("%s on %s failed: %s (domain %u code %u)", json, db, e.message, e.domain, e.code);
}

/* A fresh database named mno_t_mongod_NAME (dropped first). */
static mongoc_database_t *newdb(mongoc_client_t *c, const char *name)
{
    char db[100];
    snprintf(db, sizeof db, "mno_t_mongod_%s", name);
    mongoc_database_t *d = mongoc_client_get_database(c, db);
    bson_error_t e;
    if (!mongoc_database_drop_with_opts(d, NULL, &e))
        fail_msg("dropDatabase %s: %s", db, e.message);
    return d;
}

static void dropdb(mongoc_database_t *d)
{
    mongoc_database_drop_with_opts(d, NULL, NULL);
    mongoc_database_destroy(d);
}

static int64_t get_int(const bson_t *b, const char *path)
{
    bson_iter_t it, v;
    if (!bson_iter_init(&it, b) || !bson_iter_find_descendant(&it, path, &v) || !BSON_ITER_HOLDS_NUMBER(&v)) {
        char *j = bson_as_relaxed_extended_json(b, NULL);
        fail_msg("no number at '%s' in %s", path, j);
    }
    return bson_iter_as_int64(&v);
}

static bool has(const bson_t *b, const char *path)
{
    bson_iter_t it, v;
    return bson_iter_init(&it, b) && bson_iter_find_descendant(&it, path, &v);
}

static const char *get_str(const bson_t *b, const char *path)
{
    bson_iter_t it, v;
    if (!bson_iter_init(&it, b) || !bson_iter_find_descendant(&it, path, &v) || !BSON_ITER_HOLDS_UTF8(&v)) {
        char *j = bson_as_relaxed_extended_json(b, NULL);
        fail_msg("no string at '%s' in %s", path, j);
    }
    return bson_iter_utf8(&v, NULL);
}

static void insert_json(mongoc_collection_t *c, const char *json)
{
    bson_t *d = J(json);
    bson_error_t e;
    if (!mongoc_collection_insert_one(c, d, NULL, NULL, &e))
        fail_msg("insert %s: %s", json, e.message);
}

static int64_t count(mongoc_collection_t *c, const char *filter)
{
    bson_t *f = J(filter ? filter : "{}");
    bson_error_t e;
    int64_t n = mongoc_collection_count_documents(c, f, NULL, NULL, NULL, &e);
    if (n < 0)
        fail_msg("count_documents: %s", e.message);
    return n;
}

/* The _id values (integers) of the documents matching filter, sorted by _id, as "1,2,3". */
static char *ids(mongoc_collection_t *c, const char *filter)
{
    static char out[1024];
    bson_t *f = J(filter);
    bson_t *opts = J("{\"sort\": {\"_id\": 1}}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, f, opts, NULL);
    const bson_t *d;
    bson_error_t e;
    out[0] = 0;
    while (mongoc_cursor_next(cur, &d)) {
        size_t l = strlen(out);
        snprintf(out + l, sizeof out - l, "%s%lld", l ? "," : "", (long long)get_int(d, "_id"));
    }
    if (mongoc_cursor_error(cur, &e))
        fail_msg("find %s: %s (code %u)", filter, e.message, e.code);
    mongoc_cursor_destroy(cur);
    return out;
}

/* Command monitoring: counts of started commands by name, the last reply of one name. */
typedef struct apm {
    char names[64][32];
    int counts[64];
    int n;
    char want_reply[32];
    bson_t last_reply;
    bson_t last_cmd;
    bool saw_lsid;
} apm;

static int apm_count(apm *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->names[i], name))
            return a->counts[i];
    return 0;
}

static void on_started(const mongoc_apm_command_started_t *ev)
{
    apm *a = mongoc_apm_command_started_get_context(ev);
    const char *name = mongoc_apm_command_started_get_command_name(ev);
    const bson_t *cmd = mongoc_apm_command_started_get_command(ev);
    int i;
    if (has(cmd, "lsid"))
        a->saw_lsid = true;
    for (i = 0; i < a->n; i++)
        if (!strcmp(a->names[i], name))
            break;
    if (i == a->n && a->n < 64)
        snprintf(a->names[a->n++], sizeof a->names[0], "%s", name);
    if (i < 64)
        a->counts[i]++;
    if (!strcmp(name, a->want_reply)) {
        bson_destroy(&a->last_cmd);
        bson_copy_to(cmd, &a->last_cmd);
    }
}

static void on_succeeded(const mongoc_apm_command_succeeded_t *ev)
{
    apm *a = mongoc_apm_command_succeeded_get_context(ev);
    if (!strcmp(mongoc_apm_command_succeeded_get_command_name(ev), a->want_reply)) {
        bson_destroy(&a->last_reply);
        bson_copy_to(mongoc_apm_command_succeeded_get_reply(ev), &a->last_reply);
    }
}

static void apm_attach(mongoc_client_t *c, apm *a, const char *want_reply)
{
    memset(a, 0, sizeof *a);
    bson_init(&a->last_reply);
    bson_init(&a->last_cmd);
    snprintf(a->want_reply, sizeof a->want_reply, "%s", want_reply ? want_reply : "");
    mongoc_apm_callbacks_t *cb = mongoc_apm_callbacks_new();
    mongoc_apm_set_command_started_cb(cb, on_started);
    mongoc_apm_set_command_succeeded_cb(cb, on_succeeded);
    mongoc_client_set_apm_callbacks(c, cb, a);
    mongoc_apm_callbacks_destroy(cb);
}

static void apm_release(apm *a)
{
    bson_destroy(&a->last_reply);
    bson_destroy(&a->last_cmd);
}

/* ---- handshake, ping, buildInfo, sessions, unknown commands ---- */

static void test_handshake_and_info(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    apm a;
    apm_attach(c, &a, "");
    bson_t r;
    run_ok(c, "admin", "{\"ping\": 1}", &r);
    assert_int_equal(get_int(&r, "ok"), 1);
    bson_destroy(&r);

    run_ok(c, "admin", "{\"hello\": 1}", &r);
    assert_true(get_int(&r, "maxWireVersion") >= 6);
    assert_int_equal(get_int(&r, "maxBsonObjectSize"), 16 * 1024 * 1024);
    assert_int_equal(get_int(&r, "maxMessageSizeBytes"), 48000000);
    assert_int_equal(get_int(&r, "maxWriteBatchSize"), 100000);
    assert_true(get_int(&r, "logicalSessionTimeoutMinutes") > 0); /* sessions advertised */
    bson_destroy(&r);
    run_ok(c, "admin", "{\"isMaster\": 1}", &r);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &r, "ismaster") && bson_iter_as_bool(&it));
    bson_destroy(&r);

    run_ok(c, "admin", "{\"buildInfo\": 1}", &r);
    assert_true(strlen(get_str(&r, "version")) > 0);
    assert_true(get_int(&r, "versionArray.0") >= 3);
    bson_destroy(&r);

    /* sessions: every command carried an lsid; an explicit session ends with endSessions */
    assert_true(a.saw_lsid);
    bson_error_t e;
    mongoc_client_session_t *s = mongoc_client_start_session(c, NULL, &e);
    assert_non_null(s);
    bson_t *opts = bson_new();
    assert_true(mongoc_client_session_append(s, opts, &e));
    bson_t *ping = J("{\"ping\": 1}");
    assert_true(mongoc_client_command_with_opts(c, "admin", ping, NULL, opts, NULL, &e));
    bson_t *ends = bson_new();
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(ends, "endSessions", &arr);
    BSON_APPEND_DOCUMENT(&arr, "0", mongoc_client_session_get_lsid(s));
    bson_append_array_end(ends, &arr);
    mongoc_client_session_destroy(s);
    if (!mongoc_client_command_simple(c, "admin", ends, NULL, NULL, &e))
        fail_msg("endSessions: %s", e.message);
    run_ok(c, "admin", "{\"endSessions\": []}", NULL);
    bson_destroy(ends);
    bson_destroy(opts);
    apm_release(&a);
    mongoc_client_destroy(c);
}

static void test_unknown_command(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    bson_t r;
    bson_error_t e;
    assert_false(run(c, "admin", "{\"noSuchCommandMno\": 1}", &r, &e));
    assert_int_equal(e.domain, MONGOC_ERROR_SERVER);
    assert_int_equal(e.code, 59);
    assert_non_null(strstr(e.message, "no such command: 'noSuchCommandMno'"));
    assert_int_equal(get_int(&r, "ok"), 0);
    assert_int_equal(get_int(&r, "code"), 59);
    assert_string_equal(get_str(&r, "codeName"), "CommandNotFound");
    bson_destroy(&r);
    /* on a user database too, and the connection stays usable */
    assert_false(run(c, "mno_t_mongod_unknown", "{\"frobnicate\": \"c\"}", NULL, &e));
    assert_int_equal(e.code, 59);
    run_ok(c, "admin", "{\"ping\": 1}", NULL);
    mongoc_client_destroy(c);
}

/* ---- databases, collections, indexes ---- */

static bool in_list(char **names, const char *name)
{
    for (char **n = names; n && *n; n++)
        if (!strcmp(*n, name))
            return true;
    return false;
}

static int user_colls(char **names)
{
    int n = 0;
    for (char **p = names; p && *p; p++)
        if (strncmp(*p, "system.", 7))
            n++;
    return n;
}

static void test_databases_and_collections(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "dbcoll");
    const char *dbn = mongoc_database_get_name(db);
    bson_error_t e;
    char **names = mongoc_client_get_database_names_with_opts(c, NULL, &e);
    assert_non_null(names);
    assert_false(in_list(names, dbn));
    bson_strfreev(names);

    mongoc_collection_t *c1 = mongoc_database_get_collection(db, "c1");
    insert_json(c1, "{\"_id\": 1}");
    mongoc_collection_t *c2 = mongoc_database_create_collection(db, "c2", NULL, &e);
    if (!c2)
        fail_msg("create: %s", e.message);
    /* listDatabases, with and without nameOnly */
    names = mongoc_client_get_database_names_with_opts(c, NULL, &e);
    assert_true(in_list(names, dbn));
    bson_strfreev(names);
    bson_t r;
    run_ok(c, "admin", "{\"listDatabases\": 1}", &r);
    bson_iter_t it, a;
    bool found = false;
    assert_true(bson_iter_init_find(&it, &r, "databases") && bson_iter_recurse(&it, &a));
    while (bson_iter_next(&a)) {
        bson_t d;
        uint32_t l;
        const uint8_t *p;
        bson_iter_document(&a, &l, &p);
        bson_init_static(&d, p, l);
        if (!strcmp(get_str(&d, "name"), dbn)) {
            found = true;
            assert_true(get_int(&d, "sizeOnDisk") >= 0);
            assert_true(has(&d, "empty"));
        }
    }
    assert_true(found);
    assert_true(has(&r, "totalSize"));
    bson_destroy(&r);

    /* listCollections: names, the full entry, a filter */
    names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);
    assert_non_null(names);
    assert_int_equal(user_colls(names), 2);
    assert_true(in_list(names, "c1") && in_list(names, "c2"));
    bson_strfreev(names);
    bson_t *opts = J("{\"filter\": {\"name\": \"c2\"}}");
    mongoc_cursor_t *cur = mongoc_database_find_collections_with_opts(db, opts);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        n++;
        assert_string_equal(get_str(d, "name"), "c2");
        assert_string_equal(get_str(d, "type"), "collection");
        assert_true(has(d, "options"));
        assert_true(has(d, "idIndex"));
    }
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, 1);
    mongoc_cursor_destroy(cur);

    /* create of an existing collection: NamespaceExists */
    assert_null(mongoc_database_create_collection(db, "c2", NULL, &e));
    assert_int_equal(e.code, 48);

    /* drop: gone from the list, its documents too; a missing one is ok (7.0) or code 26 (6.0) */
    assert_true(mongoc_collection_drop_with_opts(c1, NULL, &e));
    names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);
    assert_false(in_list(names, "c1"));
    assert_true(in_list(names, "c2"));
    bson_strfreev(names);
    assert_int_equal(count(c1, NULL), 0);
    if (!mongoc_collection_drop_with_opts(c1, NULL, &e))
        assert_int_equal(e.code, 26);

    /* dropDatabase: gone from listDatabases, no collections */
    insert_json(c2, "{\"_id\": \"x\"}");
    assert_true(mongoc_database_drop_with_opts(db, NULL, &e));
    names = mongoc_client_get_database_names_with_opts(c, NULL, &e);
    assert_false(in_list(names, dbn));
    bson_strfreev(names);
    names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);
    assert_non_null(names);
    assert_int_equal(user_colls(names), 0);
    bson_strfreev(names);
    assert_int_equal(count(c2, NULL), 0);

    mongoc_collection_destroy(c1);
    mongoc_collection_destroy(c2);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_list_collections_getmore(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "lcgetmore");
    apm a;
    apm_attach(c, &a, "");
    bson_error_t e;
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof name, "coll%02d", i);
        mongoc_collection_t *x = mongoc_database_create_collection(db, name, NULL, &e);
        if (!x)
            fail_msg("create %s: %s", name, e.message);
        mongoc_collection_destroy(x);
    }
    /* the client does not pass a batchSize to listCollections: run it, then continue the cursor */
    /* (one explicit session for both: a real server ties a cursor to its session) */
    mongoc_client_session_t *s = mongoc_client_start_session(c, NULL, &e);
    assert_non_null(s);
    bson_t sopts = BSON_INITIALIZER, r;
    assert_true(mongoc_client_session_append(s, &sopts, &e));
    if (!mongoc_client_command_with_opts(c, mongoc_database_get_name(db), J("{\"listCollections\": 1, \"cursor\": {\"batchSize\": 5}}"),
                                         NULL, &sopts, &r, &e))
        fail_msg("listCollections: %s", e.message);
    mongoc_cursor_t *cur = mongoc_cursor_new_from_command_reply_with_opts(c, &r, &sopts); /* takes r */
    const bson_t *d;
    int n = 0, seen[12] = { 0 };
    while (mongoc_cursor_next(cur, &d)) {
        const char *name = get_str(d, "name");
        if (!strncmp(name, "coll", 4)) {
            seen[atoi(name + 4)]++;
            n++;
        }
    }
    if (mongoc_cursor_error(cur, &e))
        fail_msg("listCollections: %s", e.message);
    mongoc_cursor_destroy(cur);
    assert_int_equal(n, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(apm_count(&a, "getMore"), 1); /* no batchSize on getMore: the rest at once */
    bson_destroy(&sopts);
    mongoc_client_session_destroy(s);
    apm_release(&a);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_indexes(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "indexes");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_error_t e;
    bson_t r;
    insert_json(coll, "{\"_id\": 1, \"code\": \"A\"}");
    insert_json(coll, "{\"_id\": 2, \"code\": \"B\"}");
    bson_t *ci = J("{\"createIndexes\": \"c\", \"indexes\": [{\"key\": {\"code\": 1}, \"name\": \"code_1\", "
                   "\"unique\": true}, {\"key\": {\"k.x\": -1, \"y\": 1}, \"name\": \"kx_y\"}]}");
    if (!mongoc_collection_write_command_with_opts(coll, ci, NULL, &r, &e))
        fail_msg("createIndexes: %s", e.message);
    assert_int_equal(get_int(&r, "numIndexesBefore"), 1);
    assert_int_equal(get_int(&r, "numIndexesAfter"), 3);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &r, "createdCollectionAutomatically") && !bson_iter_as_bool(&it));
    bson_destroy(&r);
    /* the same again: nothing new */
    assert_true(mongoc_collection_write_command_with_opts(coll, ci, NULL, &r, &e));
    assert_int_equal(get_int(&r, "numIndexesAfter"), 3);
    bson_destroy(&r);

    /* listIndexes: _id_, code_1 (unique), kx_y with its key in order */
    mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        const char *name = get_str(d, "name");
        n++;
        if (!strcmp(name, "_id_"))
            assert_int_equal(get_int(d, "key._id"), 1);
        else if (!strcmp(name, "code_1")) {
            assert_int_equal(get_int(d, "key.code"), 1);
            assert_true(bson_iter_init_find(&it, d, "unique") && bson_iter_as_bool(&it));
        } else if (!strcmp(name, "kx_y")) {
            bson_iter_t k;
            assert_true(bson_iter_init_find(&it, d, "key") && bson_iter_recurse(&it, &k));
            assert_true(bson_iter_next(&k));
            assert_string_equal(bson_iter_key(&k), "k.x");
            assert_int_equal(bson_iter_as_int64(&k), -1);
            assert_true(bson_iter_next(&k));
            assert_string_equal(bson_iter_key(&k), "y");
        } else
            fail_msg("unexpected index %s", name);
    }
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    assert_int_equal(n, 3);

    /* the unique index refuses a duplicate code */
    bson_t *dup = J("{\"_id\": 3, \"code\": \"A\"}");
    assert_false(mongoc_collection_insert_one(coll, dup, NULL, NULL, &e));
    assert_int_equal(e.code, 11000);
    assert_non_null(strstr(e.message, "E11000 duplicate key error"));
    assert_int_equal(count(coll, NULL), 2);

    /* createIndexes on a new collection creates it */
    mongoc_collection_t *c2 = mongoc_database_get_collection(db, "fresh");
    ci = J("{\"createIndexes\": \"fresh\", \"indexes\": [{\"key\": {\"a\": 1}, \"name\": \"a_1\"}]}");
    assert_true(mongoc_collection_write_command_with_opts(c2, ci, NULL, &r, &e));
    assert_true(bson_iter_init_find(&it, &r, "createdCollectionAutomatically") && bson_iter_as_bool(&it));
    assert_int_equal(get_int(&r, "numIndexesAfter"), 2);
    bson_destroy(&r);

    /* listIndexes of a missing collection: the client turns NamespaceNotFound into nothing */
    mongoc_collection_t *c3 = mongoc_database_get_collection(db, "missing");
    cur = mongoc_collection_find_indexes_with_opts(c3, NULL);
    assert_false(mongoc_cursor_next(cur, &d));
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);

    mongoc_collection_destroy(c3);
    mongoc_collection_destroy(c2);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_rename_collection(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "rename");
    mongoc_database_t *db2 = newdb(c, "rename2");
    const char *dbn = mongoc_database_get_name(db);
    mongoc_collection_t *a = mongoc_database_get_collection(db, "a");
    bson_error_t e;
    bson_t r;
    insert_json(a, "{\"_id\": 1, \"k\": \"x\"}");
    insert_json(a, "{\"_id\": 2, \"k\": \"y\"}");
    assert_true(mongoc_collection_write_command_with_opts(
        a, J("{\"createIndexes\": \"a\", \"indexes\": [{\"key\": {\"k\": 1}, \"name\": \"k_1\", \"unique\": true}]}"), NULL, &r, &e));
    bson_destroy(&r);
    /* a -> b: the documents and the indexes move, a is gone */
    if (!mongoc_collection_rename(a, dbn, "b", false, &e))
        fail_msg("rename: %s", e.message);
    mongoc_collection_t *b = mongoc_database_get_collection(db, "b");
    assert_string_equal(ids(b, "{}"), "1,2");
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);
    assert_false(in_list(names, "a"));
    bson_strfreev(names);
    bson_t *dup = J("{\"_id\": 3, \"k\": \"x\"}");
    assert_false(mongoc_collection_insert_one(b, dup, NULL, NULL, &e));
    assert_int_equal(e.code, 11000); /* the unique index came along */
    /* onto an existing collection: NamespaceExists, unless dropTarget */
    mongoc_collection_t *t = mongoc_database_get_collection(db, "t");
    insert_json(t, "{\"_id\": 9}");
    assert_false(mongoc_collection_rename(b, dbn, "t", false, &e));
    assert_int_equal(e.code, 48);
    assert_string_equal(ids(t, "{}"), "9");
    assert_true(mongoc_collection_rename(b, dbn, "t", true, &e));
    assert_string_equal(ids(t, "{}"), "1,2");
    /* a missing source: NamespaceNotFound */
    mongoc_collection_t *m = mongoc_database_get_collection(db, "missing");
    assert_false(mongoc_collection_rename(m, dbn, "other", false, &e));
    assert_int_equal(e.code, 26);
    /* to another database */
    assert_true(mongoc_collection_rename(t, mongoc_database_get_name(db2), "moved", false, &e));
    mongoc_collection_t *mv = mongoc_database_get_collection(db2, "moved");
    assert_string_equal(ids(mv, "{}"), "1,2");
    mongoc_collection_t *old = mongoc_database_get_collection(db, "t"); /* rename retargets t */
    assert_int_equal(count(old, NULL), 0);
    mongoc_collection_destroy(old);
    mongoc_collection_destroy(mv);
    mongoc_collection_destroy(m);
    mongoc_collection_destroy(t);
    mongoc_collection_destroy(b);
    mongoc_collection_destroy(a);
    dropdb(db2);
    dropdb(db);
    mongoc_client_destroy(c);
}

/* ---- insert, update, delete, find options, aggregate, count ---- */

static void test_crud(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "crud");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_error_t e;
    bson_t r;
    for (int i = 1; i <= 10; i++) {
        char j[128];
        snprintf(j, sizeof j, "{\"_id\": %d, \"g\": \"%s\", \"n\": %d, \"sub\": {\"v\": %d}}", i,
                 i % 2 ? "odd" : "even", i * 10, i);
        insert_json(coll, j);
    }
    /* a document without _id gets an ObjectId placed first */
    bson_t *noid = J("{\"x\": \"no id\"}");
    assert_true(mongoc_collection_insert_one(coll, noid, NULL, NULL, &e));
    bson_t *f = J("{\"x\": \"no id\"}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, NULL, NULL);
    const bson_t *d;
    assert_true(mongoc_cursor_next(cur, &d));
    bson_iter_t it;
    assert_true(bson_iter_init(&it, d) && bson_iter_next(&it));
    assert_string_equal(bson_iter_key(&it), "_id");
    assert_int_equal(bson_iter_type(&it), BSON_TYPE_OID);
    mongoc_cursor_destroy(cur);
    assert_true(mongoc_collection_delete_one(coll, J("{\"x\": \"no id\"}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "deletedCount"), 1);
    bson_destroy(&r);

    /* update_many with $set: matched and modified counts, then the documents themselves */
    bson_t *sel = J("{\"g\": \"odd\"}"), *upd = J("{\"$set\": {\"flag\": true, \"sub.w\": \"x\"}}");
    assert_true(mongoc_collection_update_many(coll, sel, upd, NULL, &r, &e));
    assert_int_equal(get_int(&r, "matchedCount"), 5);
    assert_int_equal(get_int(&r, "modifiedCount"), 5);
    bson_destroy(&r);
    assert_true(mongoc_collection_update_many(coll, sel, upd, NULL, &r, &e));
    assert_int_equal(get_int(&r, "matchedCount"), 5);
    assert_int_equal(get_int(&r, "modifiedCount"), 0);
    bson_destroy(&r);
    assert_string_equal(ids(coll, "{\"flag\": true, \"sub.w\": \"x\"}"), "1,3,5,7,9");
    cur = mongoc_collection_find_with_opts(coll, J("{\"_id\": 3}"), NULL, NULL);
    assert_true(mongoc_cursor_next(cur, &d));
    char *j = bson_as_canonical_extended_json(d, NULL);
    assert_string_equal(j, "{ \"_id\" : { \"$numberInt\" : \"3\" }, \"g\" : \"odd\", \"n\" : { \"$numberInt\" : \"30\" }, "
                           "\"sub\" : { \"v\" : { \"$numberInt\" : \"3\" }, \"w\" : \"x\" }, \"flag\" : true }");
    bson_free(j);
    mongoc_cursor_destroy(cur);

    /* $inc and $unset on one document */
    assert_true(mongoc_collection_update_one(coll, J("{\"_id\": 2}"), J("{\"$inc\": {\"n\": 5}, \"$unset\": {\"sub\": \"\"}}"),
                                             NULL, &r, &e));
    assert_int_equal(get_int(&r, "modifiedCount"), 1);
    bson_destroy(&r);
    assert_string_equal(ids(coll, "{\"n\": 25, \"sub\": {\"$exists\": false}}"), "2");

    /* upsert: a new document with the query's equality and the $set */
    bson_t *uo = J("{\"upsert\": true}");
    assert_true(mongoc_collection_update_one(coll, J("{\"_id\": 42}"), J("{\"$set\": {\"g\": \"new\"}}"), uo, &r, &e));
    assert_int_equal(get_int(&r, "matchedCount"), 0);
    assert_int_equal(get_int(&r, "upsertedCount"), 1);
    assert_int_equal(get_int(&r, "upsertedId"), 42);
    bson_destroy(&r);
    assert_string_equal(ids(coll, "{\"g\": \"new\"}"), "42");

    /* replace_one keeps the _id, replaces the rest */
    assert_true(mongoc_collection_replace_one(coll, J("{\"_id\": 42}"), J("{\"only\": 1}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "modifiedCount"), 1);
    bson_destroy(&r);
    cur = mongoc_collection_find_with_opts(coll, J("{\"_id\": 42}"), NULL, NULL);
    assert_true(mongoc_cursor_next(cur, &d));
    j = bson_as_canonical_extended_json(d, NULL);
    assert_string_equal(j, "{ \"_id\" : { \"$numberInt\" : \"42\" }, \"only\" : { \"$numberInt\" : \"1\" } }");
    bson_free(j);
    mongoc_cursor_destroy(cur);

    /* changing _id is refused */
    assert_false(mongoc_collection_update_one(coll, J("{\"_id\": 42}"), J("{\"$set\": {\"_id\": 43}}"), NULL, NULL, &e));
    assert_int_equal(e.code, 66);

    /* delete_many / delete_one */
    assert_true(mongoc_collection_delete_many(coll, J("{\"g\": \"even\", \"n\": {\"$gte\": 60}}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "deletedCount"), 3); /* 6, 8, 10 */
    bson_destroy(&r);
    assert_true(mongoc_collection_delete_one(coll, J("{\"g\": \"odd\"}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "deletedCount"), 1);
    bson_destroy(&r);
    assert_int_equal(count(coll, NULL), 7);
    assert_true(mongoc_collection_delete_many(coll, J("{\"nothing\": 1}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "deletedCount"), 0);
    bson_destroy(&r);

    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_find_options(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "findopts");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    for (int i = 1; i <= 20; i++) {
        char j[128];
        snprintf(j, sizeof j, "{\"_id\": %d, \"k\": %d, \"s\": \"v%02d\", \"x\": 1}", i, (i * 7) % 20, i);
        insert_json(coll, j);
    }
    /* sort on a field (descending), skip, limit, projection */
    bson_t *opts = J("{\"sort\": {\"k\": -1}, \"skip\": 2, \"limit\": 3, \"projection\": {\"k\": 1, \"_id\": 1}}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int64_t expect_k[] = { 17, 16, 15 };
    int n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        assert_true(n < 3);
        assert_int_equal(get_int(d, "k"), expect_k[n]);
        assert_false(has(d, "s"));
        assert_false(has(d, "x"));
        assert_int_equal(bson_count_keys(d), 2);
        n++;
    }
    bson_error_t e;
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, 3);
    mongoc_cursor_destroy(cur);
    /* exclusion projection */
    opts = J("{\"sort\": {\"_id\": -1}, \"limit\": 1, \"projection\": {\"s\": 0, \"x\": 0}}");
    cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    assert_true(mongoc_cursor_next(cur, &d));
    char *j = bson_as_canonical_extended_json(d, NULL);
    assert_string_equal(j, "{ \"_id\" : { \"$numberInt\" : \"20\" }, \"k\" : { \"$numberInt\" : \"0\" } }");
    bson_free(j);
    assert_false(mongoc_cursor_next(cur, &d));
    mongoc_cursor_destroy(cur);
    /* only _id named: {_id: 1} keeps just _id, {_id: 0} everything else */
    static const struct { const char *proj, *want; } only_id[] = {
        { "{\"_id\": 1}", "{ \"_id\" : { \"$numberInt\" : \"7\" } }" },
        { "{\"_id\": true}", "{ \"_id\" : { \"$numberInt\" : \"7\" } }" },
        { "{\"_id\": 0}", "{ \"k\" : { \"$numberInt\" : \"9\" }, \"s\" : \"v07\", \"x\" : { \"$numberInt\" : \"1\" } }" },
        { "{\"_id\": 0, \"s\": 1}", "{ \"s\" : \"v07\" }" },
        { "{\"x\": 1, \"k\": 1}", "{ \"_id\" : { \"$numberInt\" : \"7\" }, \"k\" : { \"$numberInt\" : \"9\" }, \"x\" : { \"$numberInt\" : \"1\" } }" },
    };
    for (size_t i = 0; i < sizeof only_id / sizeof only_id[0]; i++) {
        char o[200];
        snprintf(o, sizeof o, "{\"projection\": %s}", only_id[i].proj);
        cur = mongoc_collection_find_with_opts(coll, J("{\"_id\": 7}"), J(o), NULL);
        assert_true(mongoc_cursor_next(cur, &d));
        j = bson_as_canonical_extended_json(d, NULL);
        if (strcmp(j, only_id[i].want))
            fail_msg("projection %s: got %s, want %s", only_id[i].proj, j, only_id[i].want);
        bson_free(j);
        mongoc_cursor_destroy(cur);
    }
    /* find on a missing collection: no documents, no error */
    mongoc_collection_t *m = mongoc_database_get_collection(db, "missing");
    cur = mongoc_collection_find_with_opts(m, J("{}"), NULL, NULL);
    assert_false(mongoc_cursor_next(cur, &d));
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(m);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_aggregate_and_count(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "aggregate");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    for (int i = 0; i < 30; i++) {
        char j[128];
        snprintf(j, sizeof j, "{\"_id\": %d, \"org\": \"o%d\", \"v\": %d}", i, i % 3, i);
        insert_json(coll, j);
    }
    bson_error_t e;
    /* $match + $count */
    bson_t *p = J("{\"pipeline\": [{\"$match\": {\"org\": \"o1\", \"v\": {\"$gt\": 10}}}, {\"$count\": \"n\"}]}");
    mongoc_cursor_t *cur = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, p, NULL, NULL);
    const bson_t *d;
    assert_true(mongoc_cursor_next(cur, &d));
    assert_int_equal(get_int(d, "n"), 6); /* 13 16 19 22 25 28 */
    assert_int_equal(bson_count_keys(d), 1);
    assert_false(mongoc_cursor_next(cur, &d));
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    /* nothing matches: an empty batch */
    p = J("{\"pipeline\": [{\"$match\": {\"org\": \"none\"}}, {\"$count\": \"n\"}]}");
    cur = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, p, NULL, NULL);
    assert_false(mongoc_cursor_next(cur, &d));
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    /* $group count, as countDocuments sends it */
    assert_int_equal(count(coll, "{\"org\": \"o2\"}"), 10);
    assert_int_equal(count(coll, "{\"org\": \"none\"}"), 0);
    assert_int_equal(count(coll, NULL), 30);
    p = J("{\"pipeline\": [{\"$match\": {\"v\": {\"$lt\": 4}}}, {\"$group\": {\"_id\": 1, \"n\": {\"$sum\": 1}}}]}");
    cur = mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, p, NULL, NULL);
    assert_true(mongoc_cursor_next(cur, &d));
    assert_int_equal(get_int(d, "_id"), 1);
    assert_int_equal(get_int(d, "n"), 4);
    assert_false(mongoc_cursor_next(cur, &d));
    mongoc_cursor_destroy(cur);
    /* count command (estimatedDocumentCount), with a query by command */
    int64_t n = mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, &e);
    assert_int_equal(n, 30);
    bson_t r;
    char *cmd = bson_strdup_printf("{\"count\": \"c\", \"query\": {\"org\": \"o0\"}}");
    run_ok(c, mongoc_database_get_name(db), cmd, &r);
    assert_int_equal(get_int(&r, "n"), 10);
    bson_destroy(&r);
    bson_free(cmd);
    /* a missing collection counts 0 */
    mongoc_collection_t *m = mongoc_database_get_collection(db, "missing");
    assert_int_equal(mongoc_collection_estimated_document_count(m, NULL, NULL, NULL, &e), 0);
    assert_int_equal(count(m, NULL), 0);
    mongoc_collection_destroy(m);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

/* ---- cursors ---- */

static void test_batches_and_getmore(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "batches");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_t **docs = calloc(250, sizeof *docs);
    for (int i = 0; i < 250; i++)
        docs[i] = BCON_NEW("_id", BCON_INT32(i), "pad", BCON_UTF8("some padding text"));
    bson_error_t e;
    assert_true(mongoc_collection_insert_many(coll, (const bson_t **)docs, 250, NULL, NULL, &e));
    for (int i = 0; i < 250; i++)
        bson_destroy(docs[i]);
    free(docs);

    apm a;
    apm_attach(c, &a, "getMore");
    bson_t *opts = J("{\"sort\": {\"_id\": 1}, \"batchSize\": 10}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        assert_int_equal(get_int(d, "_id"), n);
        n++;
    }
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    assert_int_equal(n, 250);
    assert_int_equal(apm_count(&a, "find"), 1);
    /* 24 full batches after the first; a real server may not see the end until one more,
       empty, batch */
    assert_in_range(apm_count(&a, "getMore"), 24, 25);
    assert_int_equal(get_int(&a.last_cmd, "batchSize"), 10);
    assert_int_equal(get_int(&a.last_reply, "cursor.id"), 0); /* exhausted */
    assert_int_equal(apm_count(&a, "killCursors"), 0);

    /* limit across batches */
    opts = J("{\"sort\": {\"_id\": -1}, \"batchSize\": 10, \"limit\": 35}");
    cur = mongoc_collection_find_with_opts(coll, J("{\"_id\": {\"$gte\": 100}}"), opts, NULL);
    n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        assert_int_equal(get_int(d, "_id"), 249 - n);
        n++;
    }
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    assert_int_equal(n, 35);

    /* default batches: everything, in order */
    opts = J("{\"sort\": {\"_id\": 1}}");
    cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    n = 0;
    while (mongoc_cursor_next(cur, &d))
        assert_int_equal(get_int(d, "_id"), n++);
    assert_false(mongoc_cursor_error(cur, &e));
    mongoc_cursor_destroy(cur);
    assert_int_equal(n, 250);

    apm_release(&a);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_killcursors(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "killcursors");
    const char *dbn = mongoc_database_get_name(db);
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    for (int i = 0; i < 20; i++) {
        char j[64];
        snprintf(j, sizeof j, "{\"_id\": %d}", i);
        insert_json(coll, j);
    }
    apm a;
    apm_attach(c, &a, "killCursors");
    bson_t *opts = J("{\"sort\": {\"_id\": 1}, \"batchSize\": 5}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    for (int i = 0; i < 3; i++)
        assert_true(mongoc_cursor_next(cur, &d));
    int64_t id = mongoc_cursor_get_id(cur);
    assert_true(id != 0);
    mongoc_cursor_destroy(cur); /* live: the client sends killCursors */
    assert_int_equal(apm_count(&a, "killCursors"), 1);
    assert_int_equal(get_int(&a.last_cmd, "cursors.0"), id);
    assert_int_equal(get_int(&a.last_reply, "cursorsKilled.0"), id);

    /* the killed cursor is gone: getMore answers CursorNotFound */
    char cmd[200];
    bson_error_t e;
    snprintf(cmd, sizeof cmd, "{\"getMore\": {\"$numberLong\": \"%lld\"}, \"collection\": \"c\"}", (long long)id);
    assert_false(run(c, dbn, cmd, NULL, &e));
    assert_int_equal(e.code, 43);
    /* an unknown id is reported as not found */
    bson_t r;
    run_ok(c, dbn, "{\"killCursors\": \"c\", \"cursors\": [{\"$numberLong\": \"123456789\"}]}", &r);
    assert_int_equal(get_int(&r, "cursorsNotFound.0"), 123456789);
    assert_false(has(&r, "cursorsKilled.0"));
    bson_destroy(&r);
    apm_release(&a);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

/* ---- faithful storage ---- */

/* A document with every BSON type and edge values, _id first. */
static bson_t *every_type_doc(const bson_value_t *id)
{
    bson_t *b = bson_new(), sub, arr, d2;
    bson_decimal128_t dec;
    bson_oid_t oid;
    static const uint8_t bin[] = { 0, 1, 2, 0xfe, 0xff };
    static const uint8_t uuid[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x80, 1, 2, 3, 4, 5, 6, 7 };
    bson_append_value(b, "_id", 3, id);
    BSON_APPEND_INT32(b, "i32", INT32_MIN);
    BSON_APPEND_INT32(b, "i32max", INT32_MAX);
    BSON_APPEND_INT64(b, "i64", INT64_MIN);
    BSON_APPEND_INT64(b, "i64small", 1); /* an int64 that fits in an int32 stays an int64 */
    BSON_APPEND_DOUBLE(b, "dbl", 0.1);
    BSON_APPEND_DOUBLE(b, "dbl_int", 3.0);
    BSON_APPEND_DOUBLE(b, "nan", NAN);
    BSON_APPEND_DOUBLE(b, "negzero", -0.0);
    BSON_APPEND_DOUBLE(b, "inf", -INFINITY);
    BSON_APPEND_DOUBLE(b, "denorm", 4.9e-324);
    const char *decs[] = { "1.10", "-0", "NaN", "-Infinity", "9.999999999999999999999999999999999E+6144", "1E-6176", NULL };
    BSON_APPEND_ARRAY_BEGIN(b, "decimals", &arr);
    for (int i = 0; decs[i]; i++) {
        char k[4];
        snprintf(k, sizeof k, "%d", i);
        assert_true(bson_decimal128_from_string(decs[i], &dec));
        bson_append_decimal128(&arr, k, -1, &dec);
    }
    bson_append_array_end(b, &arr);
    BSON_APPEND_DATE_TIME(b, "before1970", -2208988800000LL); /* 1900-01-01 */
    BSON_APPEND_DATE_TIME(b, "after2100", 7258118400000LL + 123);  /* 2200-01-01 */
    BSON_APPEND_DATE_TIME(b, "epoch", 0);
    bson_oid_init_from_string(&oid, "5f1a2b3c4d5e6f7081920a1b");
    BSON_APPEND_OID(b, "oid", &oid);
    BSON_APPEND_BINARY(b, "bin0", BSON_SUBTYPE_BINARY, bin, sizeof bin);
    BSON_APPEND_BINARY(b, "bin_empty", BSON_SUBTYPE_BINARY, bin, 0);
    BSON_APPEND_BINARY(b, "uuid", BSON_SUBTYPE_UUID, uuid, 16);
    BSON_APPEND_BINARY(b, "md5", BSON_SUBTYPE_MD5, uuid, 16);
    BSON_APPEND_BINARY(b, "user", BSON_SUBTYPE_USER, bin, sizeof bin);
    BSON_APPEND_BINARY(b, "func", BSON_SUBTYPE_FUNCTION, bin, 3);
    BSON_APPEND_REGEX(b, "re", "^a.*b$", "imsx");
    BSON_APPEND_TIMESTAMP(b, "ts", 1700000000, 42);
    BSON_APPEND_MINKEY(b, "min");
    BSON_APPEND_MAXKEY(b, "max");
    BSON_APPEND_NULL(b, "null");
    BSON_APPEND_BOOL(b, "t", true);
    BSON_APPEND_BOOL(b, "f", false);
    BSON_APPEND_UTF8(b, "empty_str", "");
    bson_append_utf8(b, "nul_inside", -1, "a\0b", 3);
    BSON_APPEND_UTF8(b, "ключ", "значение");
    BSON_APPEND_UTF8(b, "日本語", "テキスト 😀");
    BSON_APPEND_UTF8(b, "é", "e\xcc\x81"); /* not normalised */
    BSON_APPEND_CODE(b, "code", "function () { return 1; }");
    BSON_APPEND_SYMBOL(b, "sym", "symbol");
    BSON_APPEND_UNDEFINED(b, "undef");
    bson_t scope = BSON_INITIALIZER;
    BSON_APPEND_INT32(&scope, "x", 1);
    BSON_APPEND_CODE_WITH_SCOPE(b, "cws", "x + 1", &scope);
    bson_destroy(&scope);
    bson_append_dbpointer(b, "dbp", -1, "db.coll", &oid);
    BSON_APPEND_DOCUMENT_BEGIN(b, "empty_doc", &sub);
    bson_append_document_end(b, &sub);
    BSON_APPEND_ARRAY_BEGIN(b, "empty_arr", &arr);
    bson_append_array_end(b, &arr);
    /* nested arrays of documents, with field order that is not sorted */
    BSON_APPEND_ARRAY_BEGIN(b, "nested", &arr);
    for (int i = 0; i < 3; i++) {
        char k[4];
        snprintf(k, sizeof k, "%d", i);
        bson_append_document_begin(&arr, k, -1, &sub);
        BSON_APPEND_INT64(&sub, "z", i);
        BSON_APPEND_INT32(&sub, "a", i);
        BSON_APPEND_ARRAY_BEGIN(&sub, "inner", &d2);
        BSON_APPEND_DOCUMENT_BEGIN(&d2, "0", &scope);
        BSON_APPEND_DOUBLE(&scope, "m", -0.0);
        bson_append_document_end(&d2, &scope);
        BSON_APPEND_ARRAY_BEGIN(&d2, "1", &scope);
        bson_append_array_end(&d2, &scope);
        bson_append_array_end(&sub, &d2);
        bson_append_document_end(&arr, &sub);
    }
    bson_append_array_end(b, &arr);
    BSON_APPEND_UTF8(b, "zz_last", "end");
    return b;
}

static const bson_t *find_one(mongoc_collection_t *coll, const bson_value_t *id, mongoc_cursor_t **cur)
{
    bson_t f = BSON_INITIALIZER;
    bson_append_value(&f, "_id", 3, id);
    *cur = mongoc_collection_find_with_opts(coll, &f, NULL, NULL);
    bson_destroy(&f);
    const bson_t *d;
    bson_error_t e;
    if (!mongoc_cursor_next(*cur, &d)) {
        if (mongoc_cursor_error(*cur, &e))
            fail_msg("find by _id: %s", e.message);
        return NULL;
    }
    return d;
}

static void assert_same_bytes(const bson_t *want, const bson_t *got)
{
    if (got && want->len == got->len && !memcmp(bson_get_data(want), bson_get_data(got), want->len))
        return;
    char *w = bson_as_canonical_extended_json(want, NULL);
    char *g = got ? bson_as_canonical_extended_json(got, NULL) : NULL;
    fail_msg("document differs:\nwant %s\n got %s", w, g ? g : "(none)");
}

static void test_roundtrip_every_type(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "roundtrip");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_error_t e;
    /* _ids: string, UUID (binary 4), int32, int64, double, document, ObjectId, date */
    bson_t ids_doc = BSON_INITIALIZER, sub;
    static const uint8_t uuid[16] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 0x42, 2, 0x83, 4, 5, 6, 7, 8, 9, 10 };
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "65a1b2c3d4e5f60718293a4b");
    BSON_APPEND_UTF8(&ids_doc, "0", "0f8fad5b-d9cb-469f-a165-70867728950e");
    BSON_APPEND_BINARY(&ids_doc, "1", BSON_SUBTYPE_UUID, uuid, 16);
    BSON_APPEND_INT32(&ids_doc, "2", -7);
    BSON_APPEND_INT64(&ids_doc, "3", INT64_MAX);
    BSON_APPEND_DOUBLE(&ids_doc, "4", 2.5);
    BSON_APPEND_DOCUMENT_BEGIN(&ids_doc, "5", &sub);
    BSON_APPEND_UTF8(&sub, "org", "o1");
    BSON_APPEND_INT32(&sub, "n", 1);
    bson_append_document_end(&ids_doc, &sub);
    BSON_APPEND_OID(&ids_doc, "6", &oid);
    BSON_APPEND_DATE_TIME(&ids_doc, "7", -1);
    bson_iter_t it;
    bson_iter_init(&it, &ids_doc);
    int n = 0;
    while (bson_iter_next(&it)) {
        bson_t *doc = every_type_doc(bson_iter_value(&it));
        if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &e))
            fail_msg("insert _id #%d: %s", n, e.message);
        bson_destroy(doc);
        n++;
    }
    bson_iter_init(&it, &ids_doc);
    while (bson_iter_next(&it)) {
        bson_t *want = every_type_doc(bson_iter_value(&it));
        mongoc_cursor_t *cur;
        const bson_t *got = find_one(coll, bson_iter_value(&it), &cur);
        assert_same_bytes(want, got);
        mongoc_cursor_destroy(cur);
        bson_destroy(want);
    }
    assert_int_equal(count(coll, NULL), n);
    /* the whole collection too (a getMore path), every document byte-identical */
    bson_t *opts = J("{\"batchSize\": 3}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int seen = 0;
    while (mongoc_cursor_next(cur, &d)) {
        bson_iter_t idit;
        assert_true(bson_iter_init_find(&idit, d, "_id"));
        bson_t *want = every_type_doc(bson_iter_value(&idit));
        assert_same_bytes(want, d);
        bson_destroy(want);
        seen++;
    }
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(seen, n);
    mongoc_cursor_destroy(cur);
    bson_destroy(&ids_doc);

    /* an empty document gets only an _id; a document with _id later gets it moved first */
    bson_t empty = BSON_INITIALIZER;
    assert_true(mongoc_collection_insert_one(coll, &empty, NULL, NULL, &e));
    assert_int_equal(count(coll, "{\"_id\": {\"$type\": \"objectId\"}, \"i32\": {\"$exists\": false}}"), 1);
    insert_json(coll, "{\"a\": 1, \"_id\": \"late\", \"b\": {\"_id\": 2}}");
    bson_value_t late = { .value_type = BSON_TYPE_UTF8 };
    late.value.v_utf8.str = "late";
    late.value.v_utf8.len = 4;
    const bson_t *got = find_one(coll, &late, &cur);
    assert_non_null(got);
    char *j = bson_as_canonical_extended_json(got, NULL);
    assert_string_equal(j, "{ \"_id\" : \"late\", \"a\" : { \"$numberInt\" : \"1\" }, \"b\" : { \"_id\" : { \"$numberInt\" : \"2\" } } }");
    bson_free(j);
    mongoc_cursor_destroy(cur);

    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_id_order_and_uniqueness(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "idorder");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    /* one _id of each orderable type, in BSON order; inserted shuffled */
    static const char *const order[] = {
        "{\"$minKey\": 1}",
        "null",
        "{\"$numberDecimal\": \"-Infinity\"}",
        "{\"$numberLong\": \"-5\"}",
        "{\"$numberInt\": \"1\"}",
        "{\"$numberDouble\": \"1.5\"}",
        "{\"$numberLong\": \"2\"}",
        "{\"$numberDecimal\": \"2.25\"}",
        "{\"$numberInt\": \"3\"}",
        "\"\"",
        "\"A\"",
        "\"a\"",
        "\"ab\"",
        "\"b\"",
        "{\"a\": 1}",
        "{\"a\": 1, \"b\": 1}",
        "{\"b\": 0}",
        "{\"$binary\": {\"base64\": \"AA==\", \"subType\": \"00\"}}",
        "{\"$binary\": {\"base64\": \"AQ==\", \"subType\": \"00\"}}",
        "{\"$binary\": {\"base64\": \"AAA=\", \"subType\": \"00\"}}",
        "{\"$binary\": {\"base64\": \"EjRWeJq8TeGAAQIDBAUGBw==\", \"subType\": \"04\"}}",
        "{\"$oid\": \"000000000000000000000001\"}",
        "{\"$oid\": \"ffffffffffffffffffffffff\"}",
        "false",
        "true",
        "{\"$date\": {\"$numberLong\": \"-1000\"}}",
        "{\"$date\": {\"$numberLong\": \"1000\"}}",
        "{\"$timestamp\": {\"t\": 1, \"i\": 2}}",
        "{\"$timestamp\": {\"t\": 2, \"i\": 1}}",
        "{\"$maxKey\": 1}",
    };
    const int n = (int)(sizeof order / sizeof order[0]);
    for (int k = 0; k < n; k++) {
        int i = (k * 17) % n; /* 17 is coprime with 30: a permutation */
        char j[256];
        snprintf(j, sizeof j, "{\"_id\": %s, \"pos\": %d}", order[i], i);
        insert_json(coll, j);
    }
    for (int dir = 1; dir >= -1; dir -= 2) {
        bson_t *opts = dir > 0 ? J("{\"sort\": {\"_id\": 1}, \"batchSize\": 7}") : J("{\"sort\": {\"_id\": -1}}");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
        const bson_t *d;
        int k = 0;
        while (mongoc_cursor_next(cur, &d)) {
            int want = dir > 0 ? k : n - 1 - k;
            if (get_int(d, "pos") != want) {
                char *s = bson_as_canonical_extended_json(d, NULL);
                fail_msg("sort %d: position %d has %s, want _id %s", dir, k, s, order[want]);
            }
            k++;
        }
        bson_error_t e;
        assert_false(mongoc_cursor_error(cur, &e));
        assert_int_equal(k, n);
        mongoc_cursor_destroy(cur);
    }
    /* numerically equal _ids of other types are duplicates; different strings are not */
    static const char *const dups[] = { "{\"_id\": 1.0}", "{\"_id\": {\"$numberLong\": \"1\"}}",
                                        "{\"_id\": {\"$numberDecimal\": \"1.0\"}}", "{\"_id\": {\"$numberInt\": \"2\"}}",
                                        "{\"_id\": \"a\"}", "{\"_id\": {\"a\": 1}}", "{\"_id\": null}" };
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        bson_t *d = J(dups[i]);
        bson_error_t e;
        if (mongoc_collection_insert_one(coll, d, NULL, NULL, &e))
            fail_msg("duplicate %s was inserted", dups[i]);
        assert_int_equal(e.code, 11000);
        assert_non_null(strstr(e.message, "E11000 duplicate key error"));
    }
    insert_json(coll, "{\"_id\": \"a \"}");
    insert_json(coll, "{\"_id\": {\"b\": 0, \"a\": 1}}");
    assert_int_equal(count(coll, NULL), n + 2);
    /* equality finds across numeric types */
    assert_int_equal(count(coll, "{\"_id\": 2.0}"), 1);
    assert_int_equal(count(coll, "{\"_id\": {\"$in\": [1.5, {\"$numberDecimal\": \"3\"}]}}"), 2);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_filters(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "filters");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    insert_json(coll, "{\"_id\": 1, \"a\": 5, \"s\": \"x\", \"tags\": [\"red\", \"blue\"], \"sub\": {\"n\": 1, \"m\": {\"k\": \"deep\"}},"
                      " \"items\": [{\"sku\": \"a\", \"q\": 1}, {\"sku\": \"b\", \"q\": 5}]}");
    insert_json(coll, "{\"_id\": 2, \"a\": 10, \"s\": \"y\", \"tags\": [\"green\"], \"sub\": {\"n\": 2}, \"items\": [{\"sku\": \"c\", \"q\": 2}]}");
    insert_json(coll, "{\"_id\": 3, \"a\": \"5\", \"tags\": [], \"sub\": {\"n\": 3}}");
    insert_json(coll, "{\"_id\": 4, \"a\": null}");
    insert_json(coll, "{\"_id\": 5}");
    insert_json(coll, "{\"_id\": 6, \"a\": [1, 20]}");
    insert_json(coll, "{\"_id\": 7, \"a\": 7.5}");
    insert_json(coll, "{\"_id\": 8, \"a\": {\"$numberLong\": \"10\"}}");
    static const struct { const char *filter, *want; } cases[] = {
        { "{}", "1,2,3,4,5,6,7,8" },
        { "{\"a\": 5}", "1" },
        { "{\"a\": 10}", "2,8" },
        { "{\"a\": {\"$eq\": 10}}", "2,8" },
        { "{\"a\": {\"$eq\": 20}}", "6" },
        { "{\"a\": {\"$ne\": 10}}", "1,3,4,5,6,7" },
        { "{\"a\": {\"$ne\": null}}", "1,2,3,6,7,8" },
        { "{\"a\": {\"$gt\": 5}}", "2,6,7,8" },
        { "{\"a\": {\"$gte\": 5}}", "1,2,6,7,8" },
        { "{\"a\": {\"$lt\": 5}}", "6" },
        { "{\"a\": {\"$lte\": 5}}", "1,6" },
        { "{\"a\": {\"$gt\": 1, \"$lt\": 8}}", "1,6,7" },
        { "{\"a\": {\"$gt\": \"4\"}}", "3" },
        { "{\"a\": {\"$in\": [5, \"5\"]}}", "1,3" },
        { "{\"a\": {\"$in\": [null]}}", "4,5" },
        { "{\"a\": {\"$in\": []}}", "" },
        { "{\"a\": {\"$nin\": [5, 10]}}", "3,4,5,6,7" },
        { "{\"a\": null}", "4,5" },
        { "{\"a\": {\"$exists\": true}}", "1,2,3,4,6,7,8" },
        { "{\"a\": {\"$exists\": false}}", "5" },
        { "{\"tags\": \"red\"}", "1" },
        { "{\"tags\": [\"green\"]}", "2" },
        { "{\"tags\": []}", "3" },
        { "{\"tags\": {\"$in\": [\"blue\", \"green\"]}}", "1,2" },
        { "{\"tags\": {\"$nin\": [\"blue\"]}}", "2,3,4,5,6,7,8" },
        { "{\"sub.n\": 2}", "2" },
        { "{\"sub.n\": {\"$gte\": 2}}", "2,3" },
        { "{\"sub.m.k\": \"deep\"}", "1" },
        { "{\"sub.m.k\": {\"$exists\": false}}", "2,3,4,5,6,7,8" },
        { "{\"sub\": {\"n\": 2}}", "2" },
        { "{\"items.sku\": \"b\"}", "1" },
        { "{\"items.q\": {\"$gt\": 4}}", "1" },
        { "{\"items.q\": {\"$lt\": 2}}", "1" },
        { "{\"items.0.sku\": \"c\"}", "2" },
        { "{\"items.1.q\": 5}", "1" },
        { "{\"items.sku\": {\"$exists\": true}}", "1,2" },
        { "{\"$and\": [{\"a\": {\"$gt\": 1}}, {\"a\": {\"$lt\": 8}}]}", "1,6,7" },
        { "{\"$or\": [{\"s\": \"y\"}, {\"a\": 5}]}", "1,2" },
        { "{\"$or\": [{\"a\": {\"$exists\": false}}, {\"tags\": []}]}", "3,5" },
        { "{\"$and\": [{\"$or\": [{\"a\": 5}, {\"a\": 10}]}, {\"s\": {\"$exists\": true}}]}", "1,2" },
        { "{\"s\": {\"$exists\": true}, \"a\": {\"$ne\": 5}}", "2" },
        { "{\"_id\": {\"$gte\": 3, \"$lte\": 5}}", "3,4,5" },
        { "{\"_id\": {\"$in\": [2, 4, 9]}}", "2,4" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = ids(coll, cases[i].filter);
        if (strcmp(got, cases[i].want))
            fail_msg("filter %s: got [%s], want [%s]", cases[i].filter, got, cases[i].want);
        /* the same filter counted by aggregation */
        int64_t want_n = 0;
        for (const char *p = cases[i].want; *p; p++)
            want_n += *p == ',';
        want_n += *cases[i].want ? 1 : 0;
        assert_int_equal(count(coll, cases[i].filter), want_n);
    }
    /* $in and $nin with many values (other types, null, an array element) */
    static const struct { const char *op, *extra, *want; } many[] = {
        { "$in", "5, null", "1,4,5" },
        { "$in", "\"5\", {\"$numberLong\": \"10\"}", "2,3,8" },
        { "$in", "20, 7.5", "6,7" },
        { "$in", "{\"$numberDecimal\": \"7.50\"}", "7" },
        { "$in", "[1, 20]", "6" },
        { "$nin", "5, 10, null", "3,6,7" },
    };
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++) {
        char f[8192];
        size_t l = (size_t)snprintf(f, sizeof f, "{\"a\": {\"%s\": [", many[i].op);
        for (int k = 0; k < 150; k++)
            l += (size_t)snprintf(f + l, sizeof f - l, "\"filler%03d\", %d, ", k, 1000 + k);
        snprintf(f + l, sizeof f - l, "%s]}}", many[i].extra);
        const char *got = ids(coll, f);
        if (strcmp(got, many[i].want))
            fail_msg("%s with many values and %s: got [%s], want [%s]", many[i].op, many[i].extra, got, many[i].want);
    }
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

/* ---- writes: duplicates, client-split batches, size limits ---- */

static void test_duplicates_in_bulk(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "dups");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    insert_json(coll, "{\"_id\": \"k3\"}");
    const bson_t *docs[6];
    bson_t *own[6];
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof id, "k%d", i + 1);
        own[i] = BCON_NEW("_id", BCON_UTF8(id), "v", BCON_INT32(i));
        docs[i] = own[i];
    }
    /* unordered: the duplicate (index 2) fails, every other document is inserted */
    bson_t *opts = J("{\"ordered\": false}");
    bson_t r;
    bson_error_t e;
    assert_false(mongoc_collection_insert_many(coll, docs, 6, opts, &r, &e));
    assert_int_equal(e.code, 11000);
    assert_int_equal(get_int(&r, "insertedCount"), 5);
    assert_int_equal(get_int(&r, "writeErrors.0.index"), 2);
    assert_int_equal(get_int(&r, "writeErrors.0.code"), 11000);
    assert_non_null(strstr(get_str(&r, "writeErrors.0.errmsg"), "E11000 duplicate key error"));
    assert_non_null(strstr(get_str(&r, "writeErrors.0.errmsg"), "k3"));
    assert_false(has(&r, "writeErrors.1"));
    bson_destroy(&r);
    assert_int_equal(count(coll, NULL), 6);
    assert_int_equal(count(coll, "{\"_id\": \"k3\", \"v\": {\"$exists\": true}}"), 0); /* the old one stays */
    for (int i = 0; i < 6; i++)
        bson_destroy(own[i]);
    /* ordered: stops at the first duplicate */
    for (int i = 0; i < 4; i++) {
        static const char *const ids_[] = { "o1", "o2", "k1", "o3" };
        own[i] = BCON_NEW("_id", BCON_UTF8(ids_[i]));
        docs[i] = own[i];
    }
    assert_false(mongoc_collection_insert_many(coll, docs, 4, NULL, &r, &e));
    assert_int_equal(e.code, 11000);
    assert_int_equal(get_int(&r, "insertedCount"), 2);
    assert_int_equal(get_int(&r, "writeErrors.0.index"), 2);
    bson_destroy(&r);
    assert_int_equal(count(coll, "{\"_id\": {\"$in\": [\"o1\", \"o2\", \"o3\"]}}"), 2);
    for (int i = 0; i < 4; i++)
        bson_destroy(own[i]);
    /* duplicates inside one unordered batch */
    for (int i = 0; i < 4; i++) {
        own[i] = BCON_NEW("_id", BCON_INT32(i % 2 ? 100 : 200 + i));
        docs[i] = own[i];
    }
    opts = J("{\"ordered\": false}");
    assert_false(mongoc_collection_insert_many(coll, docs, 4, opts, &r, &e));
    assert_int_equal(get_int(&r, "insertedCount"), 3);
    assert_int_equal(get_int(&r, "writeErrors.0.index"), 3);
    bson_destroy(&r);
    for (int i = 0; i < 4; i++)
        bson_destroy(own[i]);
    assert_int_equal(count(coll, NULL), 11);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_bulk_over_48mb(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "bulk48");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    enum { N = 52, SZ = 1024 * 1024 };
    char *pad = malloc(SZ + 1);
    bson_t *own[N];
    const bson_t *docs[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < SZ; k++)
            pad[k] = (char)('a' + (k * 31 + i) % 26);
        pad[SZ] = 0;
        own[i] = BCON_NEW("_id", BCON_INT32(i), "pad", BCON_UTF8(pad));
        docs[i] = own[i];
        total += own[i]->len;
    }
    assert_true(total > 48000000);
    apm a;
    apm_attach(c, &a, "");
    bson_t r;
    bson_error_t e;
    if (!mongoc_collection_insert_many(coll, docs, N, NULL, &r, &e))
        fail_msg("insert_many: %s", e.message);
    assert_int_equal(get_int(&r, "insertedCount"), N);
    bson_destroy(&r);
    assert_true(apm_count(&a, "insert") >= 2); /* split by maxMessageSizeBytes */
    apm_release(&a);
    bson_t *opts = J("{\"sort\": {\"_id\": 1}}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        assert_true(n < N);
        assert_same_bytes(own[n], d);
        n++;
    }
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, N);
    mongoc_cursor_destroy(cur);
    for (int i = 0; i < N; i++)
        bson_destroy(own[i]);
    free(pad);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_bulk_over_100k_docs(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "bulk100k");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    enum { N = 150001 };
    bson_t *own = calloc(N, sizeof *own);
    const bson_t **docs = calloc(N, sizeof *docs);
    for (int i = 0; i < N; i++) {
        bson_init(&own[i]);
        BSON_APPEND_INT32(&own[i], "_id", N - i); /* descending: the server sorts */
        BSON_APPEND_INT32(&own[i], "v", i);
        docs[i] = &own[i];
    }
    /* one _id already there, in the second batch: its index is relative to that batch on the
       wire, and the client reports it relative to the whole bulk */
    bson_t *pre = BCON_NEW("_id", BCON_INT32(N - 120000), "v", BCON_INT32(120000));
    bson_error_t e;
    assert_true(mongoc_collection_insert_one(coll, pre, NULL, NULL, &e));
    bson_destroy(pre);
    apm a;
    apm_attach(c, &a, "");
    bson_t r;
    if (mongoc_collection_insert_many(coll, docs, N, J("{\"ordered\": false}"), &r, &e))
        fail_msg("insert_many did not report the duplicate");
    assert_int_equal(e.code, 11000);
    assert_int_equal(get_int(&r, "insertedCount"), N - 1);
    assert_int_equal(get_int(&r, "writeErrors.0.index"), 120000);
    assert_false(has(&r, "writeErrors.1"));
    bson_destroy(&r);
    assert_int_equal(apm_count(&a, "insert"), 2); /* 100,000 + 50,001 */
    apm_release(&a);
    assert_int_equal(count(coll, NULL), N);
    bson_t *opts = J("{\"sort\": {\"_id\": 1}, \"batchSize\": 20000}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d)) {
        n++;
        if (get_int(d, "_id") != n || get_int(d, "v") != N - n)
            fail_msg("document %d out of order or changed", n);
    }
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, N);
    mongoc_cursor_destroy(cur);
    for (int i = 0; i < N; i++)
        bson_destroy(&own[i]);
    free(own);
    free(docs);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

/* A document {_id: id, pad: "xxx..."} of exactly len bytes. */
static bson_t *sized_doc(int32_t id, uint32_t len)
{
    /* 4 (len) + 1+4+4 (_id int32) + 1+4+4+(n+1) (pad string) + 1 (end) = n + 24 */
    uint32_t n = len - 24;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = 0;
    bson_t *b = BCON_NEW("_id", BCON_INT32(id), "pad", BCON_UTF8(s));
    free(s);
    assert_int_equal(b->len, len);
    return b;
}

static void test_size_limits(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "sizes");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_error_t e;
    /* exactly 16 MiB: stored and read back whole */
    bson_t *max = sized_doc(1, 16 * 1024 * 1024);
    if (!mongoc_collection_insert_one(coll, max, NULL, NULL, &e))
        fail_msg("insert of a 16 MiB document: %s", e.message);
    bson_value_t id = { .value_type = BSON_TYPE_INT32 };
    id.value.v_int32 = 1;
    mongoc_cursor_t *cur;
    assert_same_bytes(max, find_one(coll, &id, &cur));
    mongoc_cursor_destroy(cur);
    bson_destroy(max);
    /* 16 MiB + 1 KiB: the client sends it (within its allowance), the server refuses it */
    bson_t *big = sized_doc(2, 16 * 1024 * 1024 + 1024);
    assert_false(mongoc_collection_insert_one(coll, big, NULL, NULL, &e));
    if (e.code != 2 && e.code != 10334)
        fail_msg("too large: code %u (%s)", e.code, e.message);
    assert_non_null(strstr(e.message, "too large"));
    bson_destroy(big);
    /* far over: refused by the client */
    big = sized_doc(3, 17 * 1024 * 1024);
    assert_false(mongoc_collection_insert_one(coll, big, NULL, NULL, &e));
    bson_destroy(big);
    assert_int_equal(count(coll, NULL), 1);
    assert_string_equal(ids(coll, "{}"), "1");
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void fill(mongoc_collection_t *coll, int n)
{
    bson_t *own = calloc((size_t)n, sizeof *own);
    const bson_t **docs = calloc((size_t)n, sizeof *docs);
    for (int i = 0; i < n; i++) {
        bson_init(&own[i]);
        BSON_APPEND_INT32(&own[i], "_id", i);
        docs[i] = &own[i];
    }
    bson_error_t e;
    if (!mongoc_collection_insert_many(coll, docs, (size_t)n, NULL, NULL, &e))
        fail_msg("fill: %s", e.message);
    for (int i = 0; i < n; i++)
        bson_destroy(&own[i]);
    free(own);
    free(docs);
}

static void test_id_ranges(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "idranges");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    fill(coll, 1000);
    insert_json(coll, "{\"_id\": \"s1\"}");
    insert_json(coll, "{\"_id\": \"s2\"}");
    insert_json(coll, "{\"_id\": 10.5}");
    insert_json(coll, "{\"_id\": {\"$numberLong\": \"2000\"}}");
    insert_json(coll, "{\"_id\": null}");
    static const struct { const char *filter; int64_t n; } cases[] = {
        { "{\"_id\": 500}", 1 },
        { "{\"_id\": 500.0}", 1 },
        { "{\"_id\": {\"$numberLong\": \"500\"}}", 1 },
        { "{\"_id\": {\"$numberDecimal\": \"500\"}}", 1 },
        { "{\"_id\": 5000}", 0 },
        { "{\"_id\": \"s1\"}", 1 },
        { "{\"_id\": null}", 1 },
        { "{\"_id\": {\"$gte\": 990}}", 11 },            /* 990..999, 2000 */
        { "{\"_id\": {\"$gt\": 990}}", 10 },
        { "{\"_id\": {\"$lt\": 3}}", 3 },
        { "{\"_id\": {\"$lte\": 3}}", 4 },
        { "{\"_id\": {\"$gte\": 10, \"$lt\": 20}}", 11 },  /* 10..19 and 10.5 */
        { "{\"_id\": {\"$gt\": 10, \"$lte\": 11}}", 2 },   /* 10.5, 11 */
        { "{\"_id\": {\"$gte\": \"s\"}}", 2 },
        { "{\"_id\": {\"$lt\": \"s2\"}}", 1 },
        { "{\"_id\": {\"$gt\": 5, \"$lt\": 3}}", 0 },
        { "{\"_id\": {\"$in\": [1, 999, \"s2\", 5000]}}", 3 },
        { "{\"_id\": {\"$ne\": 5}}", 1004 },
        { "{\"$and\": [{\"_id\": {\"$gte\": 100}}, {\"_id\": {\"$lt\": 200}}]}", 100 },
        { "{\"$or\": [{\"_id\": {\"$gt\": 998}}, {\"_id\": {\"$type\": \"string\"}}]}", 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = count(coll, cases[i].filter);
        if (n != cases[i].n)
            fail_msg("filter %s: %lld documents, want %lld", cases[i].filter, (long long)n, (long long)cases[i].n);
    }
    /* a range in both directions, sorted */
    for (int dir = 1; dir >= -1; dir -= 2) {
        bson_t *opts = dir > 0 ? J("{\"sort\": {\"_id\": 1}, \"batchSize\": 7}") : J("{\"sort\": {\"_id\": -1}, \"batchSize\": 7}");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{\"_id\": {\"$gte\": 100, \"$lt\": 150}}"), opts, NULL);
        const bson_t *d;
        int k = 0;
        while (mongoc_cursor_next(cur, &d)) {
            assert_int_equal(get_int(d, "_id"), dir > 0 ? 100 + k : 149 - k);
            k++;
        }
        bson_error_t e;
        assert_false(mongoc_cursor_error(cur, &e));
        assert_int_equal(k, 50);
        mongoc_cursor_destroy(cur);
    }
    /* $in on _id: each value once, in _id order either way, with the rest of the filter */
    static const char *const in_want[2] = { "3,5,7", "7,5,3" };
    for (int dir = 0; dir < 2; dir++) {
        bson_t *opts = J(dir ? "{\"sort\": {\"_id\": -1}}" : "{\"sort\": {\"_id\": 1}}");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(
            coll, J("{\"$and\": [{\"_id\": {\"$in\": [5, 3, 3.0, 7, \"s1\", 5000, {\"$numberLong\": \"7\"}]}}, {\"_id\": {\"$type\": \"number\"}}]}"), opts, NULL);
        const bson_t *d;
        char got[64] = "";
        while (mongoc_cursor_next(cur, &d)) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof got - l, "%s%lld", l ? "," : "", (long long)get_int(d, "_id"));
        }
        bson_error_t e;
        assert_false(mongoc_cursor_error(cur, &e));
        mongoc_cursor_destroy(cur);
        assert_string_equal(got, in_want[dir]);
    }
    /* update and delete by _id */
    bson_t r;
    bson_error_t e;
    assert_true(mongoc_collection_update_one(coll, J("{\"_id\": 700}"), J("{\"$set\": {\"x\": 1}}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "modifiedCount"), 1);
    bson_destroy(&r);
    assert_string_equal(ids(coll, "{\"x\": 1}"), "700");
    assert_true(mongoc_collection_delete_many(coll, J("{\"_id\": {\"$gte\": 900, \"$lt\": 1000}}"), NULL, &r, &e));
    assert_int_equal(get_int(&r, "deletedCount"), 100);
    bson_destroy(&r);
    assert_int_equal(count(coll, NULL), 905);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_numbers_and_dates_compare(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "numcmp");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    /* decimals beyond a long double's precision stay distinct */
    insert_json(coll, "{\"_id\": {\"$numberDecimal\": \"1\"}, \"k\": 1}");
    insert_json(coll, "{\"_id\": {\"$numberDecimal\": \"1.000000000000000000000000000000001\"}, \"k\": 2}");
    insert_json(coll, "{\"_id\": {\"$numberDecimal\": \"0.9999999999999999999999999999999999\"}, \"k\": 0}");
    insert_json(coll, "{\"_id\": {\"$numberLong\": \"9007199254740993\"}, \"k\": 4}");
    insert_json(coll, "{\"_id\": {\"$numberDecimal\": \"9007199254740992.5\"}, \"k\": 3}");
    insert_json(coll, "{\"_id\": {\"$numberLong\": \"9223372036854775807\"}, \"k\": 6}");
    insert_json(coll, "{\"_id\": {\"$numberDecimal\": \"9223372036854775806.5\"}, \"k\": 5}");
    bson_t *dup = J("{\"_id\": {\"$numberDecimal\": \"1.000\"}}");
    bson_error_t e;
    assert_false(mongoc_collection_insert_one(coll, dup, NULL, NULL, &e));
    assert_int_equal(e.code, 11000);
    bson_t *opts = J("{\"sort\": {\"_id\": 1}}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int k = 0;
    while (mongoc_cursor_next(cur, &d))
        assert_int_equal(get_int(d, "k"), k++);
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(k, 7);
    mongoc_cursor_destroy(cur);
    assert_int_equal(count(coll, "{\"_id\": {\"$gt\": {\"$numberDecimal\": \"1\"}, \"$lt\": 2}}"), 1);
    assert_int_equal(count(coll, "{\"_id\": {\"$gt\": {\"$numberLong\": \"9007199254740992\"}, \"$lt\": 9007199254740994.0}}"), 2);
    /* dates before 1970 and after 2100 compare as signed milliseconds */
    mongoc_collection_t *dc = mongoc_database_get_collection(db, "d");
    insert_json(dc, "{\"_id\": 1, \"t\": {\"$date\": {\"$numberLong\": \"-2208988800000\"}}}");
    insert_json(dc, "{\"_id\": 2, \"t\": {\"$date\": {\"$numberLong\": \"-1\"}}}");
    insert_json(dc, "{\"_id\": 3, \"t\": {\"$date\": {\"$numberLong\": \"0\"}}}");
    insert_json(dc, "{\"_id\": 4, \"t\": {\"$date\": {\"$numberLong\": \"7258118400000\"}}}");
    assert_string_equal(ids(dc, "{\"t\": {\"$lt\": {\"$date\": {\"$numberLong\": \"0\"}}}}"), "1,2");
    assert_string_equal(ids(dc, "{\"t\": {\"$gt\": {\"$date\": \"2100-01-01T00:00:00Z\"}}}"), "4");
    assert_string_equal(ids(dc, "{\"t\": {\"$gte\": {\"$date\": {\"$numberLong\": \"-1\"}}, \"$lt\": {\"$date\": \"2000-01-01T00:00:00Z\"}}}"), "2,3");
    opts = J("{\"sort\": {\"t\": -1}}");
    cur = mongoc_collection_find_with_opts(dc, J("{}"), opts, NULL);
    k = 4;
    while (mongoc_cursor_next(cur, &d))
        assert_int_equal(get_int(d, "_id"), k--);
    assert_int_equal(k, 0);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(dc);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_unacknowledged_writes(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "w0");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_t *w0 = J("{\"writeConcern\": {\"w\": 0}}");
    bson_error_t e;
    /* w:0 writes go with moreToCome and get no reply; the next command on the connection sees them */
    for (int i = 0; i < 5; i++) {
        bson_t *d = BCON_NEW("_id", BCON_INT32(i));
        assert_true(mongoc_collection_insert_one(coll, d, w0, NULL, &e));
        bson_destroy(d);
    }
    assert_true(mongoc_collection_update_many(coll, J("{\"_id\": {\"$gte\": 3}}"), J("{\"$set\": {\"u\": true}}"), w0, NULL, &e));
    assert_true(mongoc_collection_delete_one(coll, J("{\"_id\": 0}"), w0, NULL, &e));
    assert_string_equal(ids(coll, "{}"), "1,2,3,4");
    assert_string_equal(ids(coll, "{\"u\": true}"), "3,4");
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

static void test_update_too_large(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "updlarge");
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    bson_t *big = sized_doc(1, 9 * 1024 * 1024);
    bson_error_t e;
    assert_true(mongoc_collection_insert_one(coll, big, NULL, NULL, &e));
    char *s = malloc(9 * 1024 * 1024);
    memset(s, 'y', 9 * 1024 * 1024 - 1);
    s[9 * 1024 * 1024 - 1] = 0;
    bson_t *upd = BCON_NEW("$set", "{", "more", BCON_UTF8(s), "}");
    free(s);
    assert_false(mongoc_collection_update_one(coll, J("{\"_id\": 1}"), upd, NULL, NULL, &e));
    if (e.code != 17419 && e.code != 10334)
        fail_msg("update over 16 MiB: code %u (%s)", e.code, e.message);
    bson_destroy(upd);
    bson_value_t id = { .value_type = BSON_TYPE_INT32 };
    id.value.v_int32 = 1;
    mongoc_cursor_t *cur;
    assert_same_bytes(big, find_one(coll, &id, &cur)); /* unchanged */
    mongoc_cursor_destroy(cur);
    bson_destroy(big);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

typedef struct worker {
    mongoc_client_pool_t *pool;
    const char *db;
    int id, ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    mongoc_client_t *c = mongoc_client_pool_pop(w->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, w->db, "c");
    bson_error_t e;
    w->ok = 1;
    for (int round = 0; round < 20 && w->ok; round++) {
        bson_t own[50];
        const bson_t *docs[50];
        for (int i = 0; i < 50; i++) {
            bson_init(&own[i]);
            BSON_APPEND_INT32(&own[i], "_id", w->id * 100000 + round * 50 + i);
            BSON_APPEND_INT32(&own[i], "w", w->id);
            docs[i] = &own[i];
        }
        if (!mongoc_collection_insert_many(coll, docs, 50, NULL, NULL, &e))
            w->ok = 0;
        for (int i = 0; i < 50; i++)
            bson_destroy(&own[i]);
        bson_t *f = BCON_NEW("w", BCON_INT32(w->id));
        bson_t *o = BCON_NEW("batchSize", BCON_INT32(16));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, o, NULL);
        const bson_t *d;
        int n = 0;
        while (mongoc_cursor_next(cur, &d))
            n++;
        if (mongoc_cursor_error(cur, &e) || n != (round + 1) * 50)
            w->ok = 0;
        mongoc_cursor_destroy(cur);
        bson_destroy(f);
        bson_destroy(o);
    }
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(w->pool, c);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    mongoc_client_t *c = client_for(uri_for(base_uri, NULL, NULL));
    mongoc_database_t *db = newdb(c, "concurrent");
    mongoc_uri_t *u = mongoc_uri_new(uri_for(base_uri, NULL, NULL));
    mongoc_client_pool_t *pool = mongoc_client_pool_new(u);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    enum { T = 4 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){ pool, mongoc_database_get_name(db), i + 1, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 1);
    }
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(u);
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "c");
    assert_int_equal(count(coll, NULL), T * 1000);
    mongoc_collection_destroy(coll);
    dropdb(db);
    mongoc_client_destroy(c);
}

/* ---- fault knobs: separate instances of our server (MNO_TEST_MONGOD=1 only) ---- */

typedef struct srv {
    pid_t pid;
    int port;
    char uri[128];
} srv;

/* Starts mno-test-mongod (next to this program) with args and extra environment ("K=V", NULL-ended). */
static void srv_start(srv *s, const char *const *args, const char *const *env)
{
    char self[4096], bin[4200];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(l > 0);
    self[l] = 0;
    *strrchr(self, '/') = 0;
    snprintf(bin, sizeof bin, "%s/mno-test-mongod", self);
    char *argv[16];
    int k = 0;
    argv[k++] = bin;
    for (int i = 0; args && args[i] && k < 15; i++)
        argv[k++] = (char *)args[i];
    argv[k] = NULL;
    char **envp = NULL;
    size_t ne = 0, nx = 0;
    while (environ[ne])
        ne++;
    while (env && env[nx])
        nx++;
    envp = calloc(ne + nx + 1, sizeof *envp);
    for (size_t i = 0; i < ne; i++)
        envp[i] = environ[i];
    for (size_t i = 0; i < nx; i++)
        envp[ne + i] = (char *)env[i];
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    int rc = posix_spawn(&s->pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(pfd[1]);
    if (rc)
        fail_msg("cannot start %s: %s", bin, strerror(rc));
    FILE *f = fdopen(pfd[0], "r");
    char line[64] = "";
    if (!fgets(line, sizeof line, f) || sscanf(line, "port %d", &s->port) != 1 || s->port <= 0)
        fail_msg("%s did not report its port (got '%s')", bin, line);
    fclose(f);
    snprintf(s->uri, sizeof s->uri, "mongodb://127.0.0.1:%d", s->port);
}

/* SIGTERM; returns the exit status (-1: killed after 10 s, or died of a signal). */
static int srv_stop(srv *s)
{
    int st;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        pid_t p = waitpid(s->pid, &st, WNOHANG);
        if (p == s->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    return -1;
}

/* The fault knobs exist only on our server. */
#define SKIP_UNLESS_OURS() \
    do { \
        if (!ours) \
            skip(); \
    } while (0)


static void test_fault_drop_after_docs(void **state)
{
    (void)state;
    SKIP_UNLESS_OURS();
    srv s;
    const char *args[] = { "--fault-drop-after-docs", "25", NULL };
    srv_start(&s, args, NULL);
    mongoc_client_t *c = client_for(uri_for(s.uri, NULL, NULL));
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "f", "c");
    fill(coll, 100);
    bson_t *opts = J("{\"sort\": {\"_id\": 1}, \"batchSize\": 10}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    int n = 0;
    bson_error_t e;
    while (mongoc_cursor_next(cur, &d))
        assert_int_equal(get_int(d, "_id"), n++);
    assert_true(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, 25);
    assert_int_equal(e.domain, MONGOC_ERROR_STREAM);
    assert_int_equal(e.code, MONGOC_ERROR_STREAM_SOCKET);
    assert_non_null(strstr(e.message, "getMore"));
    mongoc_cursor_destroy(cur);
    /* once: the next operation reconnects and reads everything */
    run_ok(c, "admin", "{\"ping\": 1}", NULL);
    cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    n = 0;
    while (mongoc_cursor_next(cur, &d))
        n++;
    assert_false(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, 100);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_fault_drop_on_command(void **state)
{
    (void)state;
    SKIP_UNLESS_OURS();
    srv s;
    const char *args[] = { "--fault-drop-on", "insert:2", NULL };
    srv_start(&s, args, NULL);
    mongoc_client_t *c = client_for(uri_for(s.uri, NULL, NULL));
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "f", "c");
    bson_error_t e;
    insert_json(coll, "{\"_id\": 1}");
    bson_t *d2 = J("{\"_id\": 2}");
    assert_false(mongoc_collection_insert_one(coll, d2, NULL, NULL, &e));
    assert_int_equal(e.domain, MONGOC_ERROR_STREAM);
    assert_int_equal(e.code, MONGOC_ERROR_STREAM_SOCKET);
    insert_json(coll, "{\"_id\": 3}");
    assert_string_equal(ids(coll, "{}"), "1,3"); /* dropped before running: not stored */
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);

    /* a find dropped on its first command is retried once by the client (retryReads), unless
       the URI turns that off */
    for (int retry = 1; retry >= 0; retry--) {
        const char *fargs[] = { "--fault-drop-on", "find:2", NULL };
        srv_start(&s, fargs, NULL);
        c = client_for(uri_for(s.uri, NULL, retry ? NULL : "retryReads=false"));
        coll = mongoc_client_get_collection(c, "f", "c");
        fill(coll, 3);
        assert_string_equal(ids(coll, "{}"), "0,1,2");
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), NULL, NULL);
        const bson_t *d;
        int n = 0;
        while (mongoc_cursor_next(cur, &d))
            n++;
        if (retry) {
            assert_false(mongoc_cursor_error(cur, &e));
            assert_int_equal(n, 3);
        } else {
            assert_true(mongoc_cursor_error(cur, &e));
            assert_int_equal(e.domain, MONGOC_ERROR_STREAM);
            assert_int_equal(n, 0);
        }
        mongoc_cursor_destroy(cur);
        mongoc_collection_destroy(coll);
        mongoc_client_destroy(c);
        assert_int_equal(srv_stop(&s), 0);
    }

    /* by environment, after running: stored, but the client sees the connection drop */
    const char *env[] = { "MNO_MONGOD_FAULT_DROP_ON=insert:1:after", NULL };
    srv_start(&s, NULL, env);
    c = client_for(uri_for(s.uri, NULL, NULL));
    coll = mongoc_client_get_collection(c, "f", "c");
    bson_t *d1 = J("{\"_id\": \"stored\"}");
    assert_false(mongoc_collection_insert_one(coll, d1, NULL, NULL, &e));
    assert_int_equal(e.domain, MONGOC_ERROR_STREAM);
    assert_int_equal(count(coll, "{\"_id\": \"stored\"}"), 1);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);
}

/* A connection that closes frees the cursors it left open (they hold documents). */
static void test_fault_cursor_freed_with_connection(void **state)
{
    (void)state;
    SKIP_UNLESS_OURS();
    srv s;
    const char *args[] = { "--fault-drop-on", "getMore:1", NULL };
    srv_start(&s, args, NULL);
    mongoc_client_t *c = client_for(uri_for(s.uri, NULL, NULL));
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "f", "c");
    fill(coll, 50);
    bson_t r;
    run_ok(c, "admin", "{\"serverStatus\": 1}", &r);
    assert_int_equal(get_int(&r, "metrics.cursor.open.total"), 0);
    bson_destroy(&r);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), J("{\"batchSize\": 5}"), NULL);
    const bson_t *d;
    int n = 0;
    while (mongoc_cursor_next(cur, &d))
        n++;
    bson_error_t e;
    assert_true(mongoc_cursor_error(cur, &e));
    assert_int_equal(n, 5);
    mongoc_cursor_destroy(cur);
    mongoc_cursor_t *live = mongoc_collection_find_with_opts(coll, J("{}"), J("{\"batchSize\": 5}"), NULL);
    assert_true(mongoc_cursor_next(live, &d));
    run_ok(c, "admin", "{\"serverStatus\": 1}", &r);
    assert_int_equal(get_int(&r, "metrics.cursor.open.total"), 1); /* the live one only */
    bson_destroy(&r);
    mongoc_cursor_destroy(live);
    run_ok(c, "admin", "{\"serverStatus\": 1}", &r);
    assert_int_equal(get_int(&r, "metrics.cursor.open.total"), 0); /* killed */
    bson_destroy(&r);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_fault_fail_on_command(void **state)
{
    (void)state;
    SKIP_UNLESS_OURS();
    srv s;
    const char *args[] = { "--fault-fail-on", "find:2:2:injected failure", NULL };
    srv_start(&s, args, NULL);
    mongoc_client_t *c = client_for(uri_for(s.uri, NULL, NULL));
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "f", "c");
    fill(coll, 3);
    bson_error_t e;
    assert_string_equal(ids(coll, "{}"), "0,1,2");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), NULL, NULL);
    const bson_t *d;
    assert_false(mongoc_cursor_next(cur, &d));
    assert_true(mongoc_cursor_error(cur, &e));
    assert_int_equal(e.domain, MONGOC_ERROR_SERVER);
    assert_int_equal(e.code, 2);
    assert_string_equal(e.message, "injected failure");
    mongoc_cursor_destroy(cur);
    assert_string_equal(ids(coll, "{}"), "0,1,2"); /* once */
    /* armed at run time by the mnoFault command, by environment at start: another code */
    bson_t r;
    run_ok(c, "admin", "{\"mnoFault\": 1, \"failOn\": \"count:1:11601:interrupted here\"}", &r);
    assert_string_equal(get_str(&r, "faults.failOn"), "count:1:11601");
    bson_destroy(&r);
    assert_int_equal(mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, &e), -1);
    assert_int_equal(e.code, 11601);
    assert_string_equal(e.message, "interrupted here");
    assert_int_equal(mongoc_collection_estimated_document_count(coll, NULL, NULL, NULL, &e), 3);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);

    const char *env[] = { "MNO_MONGOD_FAULT_FAIL_ON=ping:1:2:env fault", NULL };
    srv_start(&s, NULL, env);
    c = client_for(uri_for(s.uri, NULL, NULL));
    assert_false(run(c, "admin", "{\"ping\": 1}", NULL, &e));
    assert_int_equal(e.code, 2);
    assert_string_equal(e.message, "env fault");
    run_ok(c, "admin", "{\"ping\": 1}", NULL);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_fault_delay(void **state)
{
    (void)state;
    SKIP_UNLESS_OURS();
    srv s;
    const char *args[] = { "--fault-delay-ms", "800", NULL };
    srv_start(&s, args, NULL);
    /* a reply delayed 800 ms cannot arrive within a 150 ms socket timeout */
    mongoc_client_t *c = client_for(uri_for(s.uri, NULL, "socketTimeoutMS=150"));
    bson_error_t e;
    assert_false(run(c, "admin", "{\"ping\": 1}", NULL, &e));
    mongoc_client_destroy(c);
    /* with the default timeout the same server answers */
    c = client_for(uri_for(s.uri, NULL, NULL));
    run_ok(c, "admin", "{\"ping\": 1}", NULL);
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);
    /* by environment */
    const char *env[] = { "MNO_MONGOD_FAULT_DELAY_MS=800", NULL };
    srv_start(&s, NULL, env);
    c = client_for(uri_for(s.uri, NULL, "socketTimeoutMS=150"));
    assert_false(run(c, "admin", "{\"ping\": 1}", NULL, &e));
    mongoc_client_destroy(c);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_sigterm_with_clients(void **state)
{
    (void)state;
    SKIP_UNLESS_OURS();
    srv s, t;
    srv_start(&s, NULL, NULL);
    srv_start(&t, NULL, NULL);
    assert_true(s.port != t.port); /* each on its own free port */
    mongoc_client_t *c = client_for(uri_for(s.uri, NULL, NULL));
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "f", "c");
    fill(coll, 50);
    bson_t *opts = J("{\"batchSize\": 5}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, J("{}"), opts, NULL);
    const bson_t *d;
    assert_true(mongoc_cursor_next(cur, &d)); /* an open connection and a live cursor */
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(srv_stop(&t), 0);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static int group_setup(void **state)
{
    (void)state;
    const char *u = getenv("MNO_TEST_MONGO_URI");
    if (!u || !*u) {
        fprintf(stderr, "MNO_TEST_MONGO_URI is not set (run through tests/run)\n");
        return -1;
    }
    snprintf(base_uri, sizeof base_uri, "%s", u);
    const char *o = getenv("MNO_TEST_MONGOD");
    ours = o && !strcmp(o, "1");
    mongoc_init();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mongoc_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_handshake_and_info, jfree),
        cmocka_unit_test_teardown(test_unknown_command, jfree),
        cmocka_unit_test_teardown(test_databases_and_collections, jfree),
        cmocka_unit_test_teardown(test_list_collections_getmore, jfree),
        cmocka_unit_test_teardown(test_indexes, jfree),
        cmocka_unit_test_teardown(test_rename_collection, jfree),
        cmocka_unit_test_teardown(test_crud, jfree),
        cmocka_unit_test_teardown(test_find_options, jfree),
        cmocka_unit_test_teardown(test_aggregate_and_count, jfree),
        cmocka_unit_test_teardown(test_batches_and_getmore, jfree),
        cmocka_unit_test_teardown(test_killcursors, jfree),
        cmocka_unit_test_teardown(test_roundtrip_every_type, jfree),
        cmocka_unit_test_teardown(test_id_order_and_uniqueness, jfree),
        cmocka_unit_test_teardown(test_filters, jfree),
        cmocka_unit_test_teardown(test_duplicates_in_bulk, jfree),
        cmocka_unit_test_teardown(test_bulk_over_48mb, jfree),
        cmocka_unit_test_teardown(test_bulk_over_100k_docs, jfree),
        cmocka_unit_test_teardown(test_size_limits, jfree),
        cmocka_unit_test_teardown(test_id_ranges, jfree),
        cmocka_unit_test_teardown(test_numbers_and_dates_compare, jfree),
        cmocka_unit_test_teardown(test_unacknowledged_writes, jfree),
        cmocka_unit_test_teardown(test_update_too_large, jfree),
        cmocka_unit_test_teardown(test_concurrent_clients, jfree),
        cmocka_unit_test_teardown(test_fault_drop_after_docs, jfree),
        cmocka_unit_test_teardown(test_fault_drop_on_command, jfree),
        cmocka_unit_test_teardown(test_fault_cursor_freed_with_connection, jfree),
        cmocka_unit_test_teardown(test_fault_fail_on_command, jfree),
        cmocka_unit_test_teardown(test_fault_delay, jfree),
        cmocka_unit_test_teardown(test_sigterm_with_clients, jfree),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
