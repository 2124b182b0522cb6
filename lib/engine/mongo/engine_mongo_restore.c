/* engine_mongo_restore.c: MongoDB restore ops: each section staged in a collection of its own, then renamed or merged into the target, with conflict checks and a resume journal. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine_mongo.h"
#include "buf.h"
#include "restore.h"

/*
 * How a section is applied (docs/restore.md, "MongoDB"):
 *
 * 1. restore_begin looks the section up in the journal (MNO_MONGO_JOURNAL in the target
 *    database, one document per archive id and ns). Found: with --resume its records are
 *    only read (the reader still checks them), without it the restore is refused.
 *    It drops a stale staging collection (MNO_MONGO_STAGING_PREFIX + collection, left by a
 *    crash) and creates it afresh, with the archive's collection options when the target
 *    collection does not exist yet (it will become the target).
 * 2. restore_rec buffers documents and sends them in unordered insert batches sized to the
 *    server's maxWriteBatchSize and maxMessageSizeBytes (buffered bytes capped at
 *    STAGE_BUFFER), into the staging collection only: the target is not touched while the
 *    section is read, so a section that fails its check or ends early is never applied.
 *    A full batch goes to a sender thread while the next one is read (two buffers; the
 *    client is used by one thread at a time: the sender while a batch is in flight, the
 *    caller only after waiting for it); a batch's error comes back at the next hand-over.
 * 3. restore_commit (the reader has checked count and sum) counts the staged documents,
 *    creates the archive's indexes on them (after the data), then either renames the staging
 *    collection to the target (target missing: atomic) or merges it into the existing target:
 *    a first pass compares every staged document with the target's document of the same
 *    _id (byte for byte: equal counts as already restored, different is a conflict and
 *    nothing is written), a second pass inserts the missing ones. Then the indexes on the
 *    target, the staging collection is dropped and the section is journaled.
 * A crash at any point leaves either a stale staging collection (dropped on the next run)
 * or a target holding a subset of the section's exact documents, which the merge completes.
 */

#define MAX_BUFFER (16u * 1024 * 1024) /* documents held per insert batch, in bytes */
#define STAGE_BUFFER (1u * 1024 * 1024) /* per staging batch: small enough to overlap reading and inserting */
#define STAGE_FIRST (64u * 1024)        /* a section's first batch: the server starts early; doubled per batch */
#define CHECK_CHUNK 1000               /* _ids per {$in} lookup */
#define RETRIES 5                      /* re-sends of a batch after a dropped connection */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000
#define CODE_DUPKEY 11000
#define CODE_NS_NOT_FOUND 26
#define CODE_NS_EXISTS 48

static const bson_t empty = BSON_INITIALIZER;

/* Documents waiting to be sent or checked: their BSON bytes back to back. */
typedef struct batch {
    mno_buf data;
    size_t *off;        /* offset of document i in data */
    long long *line;    /* its archive line (0 when read back from the server) */
    size_t n, cap;
} batch;

/* What a comparison with the target found. */
#define MAX_KEYS 5
typedef struct found {
    uint64_t same;           /* documents there, byte-identical */
    uint64_t diff;           /* documents there under the same _id, different */
    char keys[512];          /* the first MAX_KEYS different ones: `_id="p3", _id=1.0` */
    int nkeys;
    char first[256];         /* the first different _id, as text */
    long long first_line;    /* its archive line, 0 if unknown */
} found;

/* The engine's restore state (m->restore). */
typedef struct restore_state {
    int create, resume, dry_run;
    char *archive_id;
    size_t max_docs, max_bytes;   /* insert batch limits, from the server */
    /* the open section */
    int open, exists;
    char *ns, *dbname, *cname, *stage;
    mongoc_collection_t *stage_c, *target_c;
    batch b;                      /* the batch being filled */
    batch sb;                     /* the batch in flight (the sender thread's) */
    pthread_t sender;
    int sending;                  /* the sender thread is running on sb */
    int send_rc;                  /* its result, and its error */
    mno_error send_err;
    size_t stage_cap;             /* bytes of the next staging batch (STAGE_FIRST doubling to STAGE_BUFFER) */
    int retried;                  /* a batch was re-sent (duplicates may be our own) */
    uint64_t inserted, already;   /* merge: documents written, documents found identical */
    found probe;                  /* dry run: what the target holds of the section */
    /* what each database holds, read once per run (db_info): {db: {"colls": {name: true},
       "journal": {"<archive id>:<ns>": {"count": n, "sum": "hex"}}}} */
    json_t *dbs;
    json_t *db;                   /* the open section's entry in dbs (borrowed) */
} restore_state;

/* ---- small helpers ---- */

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int backoff_ms(int attempt)
{
    int ms = BACKOFF_FIRST_MS;
    for (int i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static int is_retryable(const bson_error_t *be)
{
    return be->domain == MONGOC_ERROR_STREAM || be->domain == MONGOC_ERROR_SERVER_SELECTION;
}

/* A value as short relaxed Extended JSON for messages, cut at 200 bytes. */
static void value_text(const bson_value_t *v, char *out, size_t n)
{
    bson_t b = BSON_INITIALIZER;
    out[0] = '\0';
    if (BSON_APPEND_VALUE(&b, "v", v)) {
        size_t len;
        char *s = bson_as_relaxed_extended_json(&b, &len);
        if (s && len > 10) /* { "v" : X } */
            snprintf(out, n, "%.*s", (int)(len - 10 > 200 ? 200 : len - 10), s + 8);
        bson_free(s);
    }
    bson_destroy(&b);
}

static void id_text(const bson_t *doc, char *out, size_t n)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id"))
        value_text(bson_iter_value(&it), out, n);
    else
        snprintf(out, n, "(none)");
}

static int nomem(mno_error *e, const char *ns)
{
    return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
}

/* ---- batches ---- */

static void batch_reset(batch *b)
{
    mno_buf_reset(&b->data);
    b->n = 0;
}

static void batch_release(batch *b)
{
    mno_buf_release(&b->data);
    free(b->off);
    free(b->line);
    memset(b, 0, sizeof *b);
}

static int batch_add(batch *b, const bson_t *doc, long long line)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        size_t *off = realloc(b->off, cap * sizeof *off);
        if (!off)
            return -1;
        b->off = off;
        long long *ln = realloc(b->line, cap * sizeof *ln);
        if (!ln)
            return -1;
        b->line = ln;
        b->cap = cap;
    }
    b->off[b->n] = b->data.len;
    b->line[b->n] = line;
    if (mno_buf_add(&b->data, bson_get_data(doc), doc->len) < 0)
        return -1;
    b->n++;
    return 0;
}

/* Document i of b, as a static bson_t over the buffer. */
static void batch_doc(const batch *b, size_t i, bson_t *out)
{
    const uint8_t *p = (const uint8_t *)b->data.data + b->off[i];
    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    bson_init_static(out, p, len);
}

/* The raw bytes of the _id element's value (type byte first), for exact comparison. */
typedef struct id_raw {
    const uint8_t *p;
    size_t n;
} id_raw;

static int id_raw_of(const bson_t *doc, id_raw *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id"))
        return -1;
    /* the whole element: type byte, key (always "_id"), value */
    out->p = it.raw + it.off;
    out->n = it.next_off - it.off;
    return 0;
}

static int id_raw_cmp(const id_raw *a, const id_raw *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return memcmp(a->p, b->p, a->n);
}

/* ---- state ---- */

static int wait_sender(restore_state *rs, mno_error *e);

static void section_close(restore_state *rs)
{
    mno_error ignored;
    wait_sender(rs, &ignored);
    batch_reset(&rs->sb);
    mongoc_collection_destroy(rs->stage_c);
    mongoc_collection_destroy(rs->target_c);
    rs->stage_c = rs->target_c = NULL;
    free(rs->ns);
    free(rs->dbname);
    free(rs->cname);
    free(rs->stage);
    rs->ns = rs->dbname = rs->cname = rs->stage = NULL;
    rs->db = NULL;
    batch_reset(&rs->b);
    rs->open = rs->exists = rs->retried = 0;
    rs->inserted = rs->already = 0;
    memset(&rs->probe, 0, sizeof rs->probe);
}

void mno_mongo_restore_free(mno_engine *en)
{
    mno_mongo *m = MNO_MONGO(en);
    if (!m || !m->restore)
        return;
    restore_state *rs = m->restore;
    section_close(rs);
    batch_release(&rs->b);
    batch_release(&rs->sb);
    free(rs->archive_id);
    json_decref(rs->dbs);
    free(rs);
    m->restore = NULL;
}

/* The server's write limits (hello): documents and bytes per insert batch. */
static int read_limits(mno_mongo *m, restore_state *rs, mno_error *e)
{
    bson_error_t be;
    bson_iter_t it;
    int64_t docs = 1000, msg = 48000000;
    mongoc_server_description_t *sd = mongoc_client_select_server(m->client, true, NULL, &be);
    if (!sd)
        return mno_mongo_err(e, &be, m->uri_redacted, "cannot select a server to write to");
    const bson_t *hello = mongoc_server_description_hello_response(sd);
    if (bson_iter_init_find(&it, hello, "maxWriteBatchSize") && BSON_ITER_HOLDS_NUMBER(&it))
        docs = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, hello, "maxMessageSizeBytes") && BSON_ITER_HOLDS_NUMBER(&it))
        msg = bson_iter_as_int64(&it);
    mongoc_server_description_destroy(sd);
    /* room for the command itself and the message headers */
    msg -= 64 * 1024;
    rs->max_docs = docs > 0 ? (size_t)docs : 1000;
    rs->max_bytes = msg > 0 && (uint64_t)msg < MAX_BUFFER ? (size_t)msg : MAX_BUFFER;
    return 0;
}

static restore_state *state_of(mno_mongo *m, mno_error *e)
{
    if (m->restore)
        return m->restore;
    restore_state *rs = calloc(1, sizeof *rs);
    if (!rs) {
        nomem(e, NULL);
        return NULL;
    }
    mno_buf_init(&rs->b.data);
    mno_buf_init(&rs->sb.data);
    if (!(rs->dbs = json_object())) {
        free(rs);
        nomem(e, NULL);
        return NULL;
    }
    if (read_limits(m, rs, e) < 0) {
        json_decref(rs->dbs);
        free(rs);
        return NULL;
    }
    m->restore = rs;
    return rs;
}

/* ---- server operations ---- */

/* 1 if collection cname exists in dbname, 0 if not, -1 on error. */
static int coll_exists(mno_mongo *m, const char *dbname, const char *cname, const char *ns, mno_error *e)
{
    bson_error_t be;
    mongoc_database_t *db = mongoc_client_get_database(m->client, dbname);
    bson_t opts = BSON_INITIALIZER, filter;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "filter", &filter);
    BSON_APPEND_UTF8(&filter, "name", cname);
    bson_append_document_end(&opts, &filter);
    char **names = mongoc_database_get_collection_names_with_opts(db, &opts, &be);
    int rc = 0;
    if (!names) {
        rc = mno_mongo_err(e, &be, ns, "cannot list collections");
    } else {
        for (char **p = names; *p; p++)
            if (strcmp(*p, cname) == 0)
                rc = 1;
        bson_strfreev(names);
    }
    bson_destroy(&opts);
    mongoc_database_destroy(db);
    return rc;
}

/* Runs cmd on dbname. Returns 0, 1 when the server answered with code `ok_code` (taken as
   success: e.g. "ns not found" on a drop), or -1 with e filled. */
static int run_cmd(mno_mongo *m, const char *dbname, const bson_t *cmd, int ok_code, const char *ns,
                   const char *what, mno_error *e)
{
    bson_error_t be;
    mongoc_database_t *db = mongoc_client_get_database(m->client, dbname);
    bool ok = mongoc_database_write_command_with_opts(db, cmd, NULL, NULL, &be);
    mongoc_database_destroy(db);
    if (ok)
        return 0;
    if (ok_code && be.domain == MONGOC_ERROR_SERVER && (int)be.code == ok_code)
        return 1;
    return mno_mongo_err(e, &be, ns, what);
}

static int drop_coll(mno_mongo *m, const char *dbname, const char *cname, const char *ns, mno_error *e)
{
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "drop", cname);
    char what[600];
    snprintf(what, sizeof what, "cannot drop the staging collection '%s'", cname);
    int rc = run_cmd(m, dbname, &cmd, CODE_NS_NOT_FOUND, ns, what, e);
    bson_destroy(&cmd);
    return rc < 0 ? -1 : 0;
}

/*
 * What database dbname holds, for this run: the names of its collections and its journal
 * entries of this archive, read once per database (a listCollections and a journal lookup
 * per section cost time growing with the number of collections: quadratic over an archive
 * of many small sections, on a real server as on the test server), then kept up to date
 * with this run's own creates, renames and drops (db_note). Another client creating the
 * same collection meanwhile is met as before (a rename onto a collection created meanwhile
 * merges into it), and a collection the list lacks is looked up on the server before a
 * restore without --create is refused. Returns the entry in rs->dbs (borrowed), or NULL with
 * e filled.
 */
static json_t *db_info(mno_mongo *m, restore_state *rs, const char *dbname, const char *archive_id,
                       const char *ns, mno_error *e)
{
    json_t *d = json_object_get(rs->dbs, dbname);
    if (d)
        return d;
    bson_error_t be;
    json_t *colls = json_object(), *jr = json_object();
    d = json_object();
    if (!colls || !jr || !d || json_object_set_new(d, "colls", colls) < 0 ||
        json_object_set_new(d, "journal", jr) < 0) {
        json_decref(d);
        nomem(e, ns);
        return NULL;
    }
    mongoc_database_t *db = mongoc_client_get_database(m->client, dbname);
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &be);
    mongoc_database_destroy(db);
    if (!names) {
        json_decref(d);
        mno_mongo_err(e, &be, ns, "cannot list collections");
        return NULL;
    }
    for (char **p = names; *p; p++)
        json_object_set_new(colls, *p, json_true());
    bson_strfreev(names);
    /* the journal's entries of this archive (a missing journal is an empty one) */
    if (archive_id && json_object_get(colls, MNO_MONGO_JOURNAL)) {
        mongoc_collection_t *j = mongoc_client_get_collection(m->client, dbname, MNO_MONGO_JOURNAL);
        bson_t filter = BSON_INITIALIZER;
        const bson_t *doc;
        BSON_APPEND_UTF8(&filter, "archive", archive_id);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(j, &filter, NULL, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
            bson_iter_t it;
            if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
                continue;
            const char *key = bson_iter_utf8(&it, NULL);
            json_t *ent = json_object();
            if (bson_iter_init_find(&it, doc, "count") && BSON_ITER_HOLDS_NUMBER(&it))
                json_object_set_new(ent, "count", json_integer(bson_iter_as_int64(&it)));
            if (bson_iter_init_find(&it, doc, "sum") && BSON_ITER_HOLDS_UTF8(&it))
                json_object_set_new(ent, "sum", json_string(bson_iter_utf8(&it, NULL)));
            json_object_set_new(jr, key, ent);
        }
        int bad = mongoc_cursor_error(cur, &be) &&
                  !(be.domain == MONGOC_ERROR_SERVER && be.code == CODE_NS_NOT_FOUND);
        mongoc_cursor_destroy(cur);
        bson_destroy(&filter);
        mongoc_collection_destroy(j);
        if (bad) {
            json_decref(d);
            mno_mongo_err(e, &be, ns, "cannot read the restore journal");
            return NULL;
        }
    }
    if (json_object_set_new(rs->dbs, dbname, d) < 0) {
        nomem(e, ns);
        return NULL;
    }
    return d;
}

/* Notes in d (db_info) that collection name is there (1) or not (0). */
static void db_note(json_t *d, const char *name, int there)
{
    json_t *colls = json_object_get(d, "colls");
    if (there)
        json_object_set_new(colls, name, json_true());
    else
        json_object_del(colls, name);
}

static int db_has(const json_t *d, const char *name)
{
    return json_object_get(json_object_get(d, "colls"), name) != NULL;
}

/* Creates the staging collection, with the archive's options when opts is not NULL; one
   left by a crash that the listing did not show (created meanwhile) is dropped first. */
static int create_stage(mno_mongo *m, restore_state *rs, const bson_t *opts, mno_error *e)
{
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&cmd, "create", rs->stage);
    if (opts && !bson_concat(&cmd, opts)) {
        bson_destroy(&cmd);
        return nomem(e, rs->ns);
    }
    const char *what = opts && !bson_empty(opts) ? "cannot create the collection with the archive's options"
                                                 : "cannot create the staging collection";
    int rc = run_cmd(m, rs->dbname, &cmd, CODE_NS_EXISTS, rs->ns, what, e);
    if (rc == 1)
        rc = drop_coll(m, rs->dbname, rs->stage, rs->ns, e) < 0 ? -1 : run_cmd(m, rs->dbname, &cmd, 0, rs->ns, what, e);
    bson_destroy(&cmd);
    if (rc == 0)
        db_note(rs->db, rs->stage, 1);
    return rc;
}

/* A JSON value of the begin line as BSON (NULL with e filled). */
static bson_t *json_to_bson(const json_t *j, const char *ns, const char *what, mno_error *e)
{
    bson_error_t be;
    char *txt = json_dumps(j, JSON_COMPACT);
    if (!txt) {
        nomem(e, ns);
        return NULL;
    }
    bson_t *b = bson_new_from_json((const uint8_t *)txt, -1, &be);
    free(txt);
    if (!b)
        mno_err(e, MNO_E_FORMAT, NULL, 0, ns, "begin: bad %s: %s", what, be.message);
    return b;
}

/* Creates the archive's indexes (begin "indexes", all but _id_) on collection cname. */
static int create_indexes(mno_mongo *m, restore_state *rs, const mno_section *s, const char *cname,
                          mno_error *e)
{
    json_t *idx = json_object_get(s->begin, "indexes");
    size_t i;
    json_t *spec;
    if (!idx)
        return 0;
    if (!json_is_array(idx))
        return mno_err(e, MNO_E_FORMAT, NULL, s->begin_line, s->ns, "begin: \"indexes\" is not an array");
    json_array_foreach(idx, i, spec) {
        const char *name = json_string_value(json_object_get(spec, "name"));
        if (!json_is_object(spec) || !name || !json_is_object(json_object_get(spec, "key")))
            return mno_err(e, MNO_E_FORMAT, NULL, s->begin_line, s->ns,
                           "begin: index %zu has no name or key", i + 1);
        if (strcmp(name, "_id_") == 0)
            continue;
        bson_t *b = json_to_bson(spec, s->ns, "index", e);
        if (!b)
            return -1;
        bson_t cmd = BSON_INITIALIZER, arr, one;
        bson_iter_t it;
        bool ok = BSON_APPEND_UTF8(&cmd, "createIndexes", cname);
        ok = ok && BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &one);
        /* "ns" is a legacy field of old servers' listIndexes; the server names it itself */
        for (ok = ok && bson_iter_init(&it, b); ok && bson_iter_next(&it);)
            if (strcmp(bson_iter_key(&it), "ns") != 0)
                ok = bson_append_iter(&one, NULL, 0, &it);
        ok = ok && bson_append_document_end(&arr, &one);
        ok = ok && bson_append_array_end(&cmd, &arr);
        bson_destroy(b);
        if (!ok) {
            bson_destroy(&cmd);
            return nomem(e, s->ns);
        }
        char what[600];
        snprintf(what, sizeof what, "cannot create index '%s'", name);
        int rc = run_cmd(m, rs->dbname, &cmd, 0, s->ns, what, e);
        bson_destroy(&cmd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void found_add_diff(found *f, const bson_t *doc, long long line)
{
    char id[256];
    id_text(doc, id, sizeof id);
    if (f->diff++ == 0) {
        snprintf(f->first, sizeof f->first, "%s", id);
        f->first_line = line;
    }
    if (f->nkeys < MAX_KEYS) {
        size_t k = strlen(f->keys);
        snprintf(f->keys + k, sizeof f->keys - k, "%s_id=%s", f->nkeys ? ", " : "", id);
        f->nkeys++;
    }
}

/*
 * Compares documents sel[0..nsel) of b (at most CHECK_CHUNK) with the documents of coll
 * that have their _id, and counts them in f (same, or diff with the key). Returns 0 or -1.
 */
typedef struct keyed {
    id_raw id;
    size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    return id_raw_cmp(&((const keyed *)a)->id, &((const keyed *)b)->id);
}

static int check_docs(restore_state *rs, mongoc_collection_t *coll, const batch *b, const size_t *sel,
                      size_t nsel, found *f, mno_error *e)
{
    int rc = -1;
    keyed *k = calloc(nsel ? nsel : 1, sizeof *k);
    bson_t filter = BSON_INITIALIZER, cond, arr, opts = BSON_INITIALIZER;
    mongoc_cursor_t *cur = NULL;
    bson_error_t be;
    const bson_t *doc;
    if (!k)
        return nomem(e, rs->ns);
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &cond);
    ok = ok && BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &arr);
    for (size_t j = 0; ok && j < nsel; j++) {
        bson_t d;
        bson_iter_t it;
        char key[16];
        const char *kp;
        batch_doc(b, sel[j], &d);
        if (id_raw_of(&d, &k[j].id) < 0 || !bson_iter_init_find(&it, &d, "_id"))
            continue;
        k[j].i = sel[j];
        uint32_t kn = bson_uint32_to_string((uint32_t)j, &kp, key, sizeof key);
        ok = bson_append_iter(&arr, kp, (int)kn, &it);
    }
    ok = ok && bson_append_array_end(&cond, &arr);
    ok = ok && bson_append_document_end(&filter, &cond);
    ok = ok && BSON_APPEND_INT32(&opts, "batchSize", CHECK_CHUNK);
    if (!ok) {
        nomem(e, rs->ns);
        goto done;
    }
    qsort(k, nsel, sizeof *k, keyed_cmp);
    cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
    while (mongoc_cursor_next(cur, &doc)) {
        keyed key;
        keyed *hit = NULL;
        if (id_raw_of(doc, &key.id) == 0)
            hit = bsearch(&key, k, nsel, sizeof *k, keyed_cmp);
        bson_t mine;
        if (hit)
            batch_doc(b, hit->i, &mine);
        if (hit && mine.len == doc->len && memcmp(bson_get_data(&mine), bson_get_data(doc), doc->len) == 0) {
            f->same++;
            continue;
        }
        /* different content, or an _id equal to one of ours only as MongoDB compares
           (1 and 1.0): either way the target holds another document under that key */
        found_add_diff(f, doc, hit ? b->line[hit->i] : 0);
    }
    if (mongoc_cursor_error(cur, &be)) {
        mno_mongo_err(e, &be, rs->ns, "cannot look up _ids in the target");
        goto done;
    }
    rc = 0;
done:
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    bson_destroy(&opts);
    free(k);
    return rc;
}

/* check_docs over all of b, CHECK_CHUNK at a time. */
static int check_batch(restore_state *rs, mongoc_collection_t *coll, const batch *b, found *f, mno_error *e)
{
    size_t sel[CHECK_CHUNK];
    for (size_t i = 0; i < b->n; i += CHECK_CHUNK) {
        size_t n = b->n - i < CHECK_CHUNK ? b->n - i : CHECK_CHUNK;
        for (size_t j = 0; j < n; j++)
            sel[j] = i + j;
        if (check_docs(rs, coll, b, sel, n, f, e) < 0)
            return -1;
    }
    return 0;
}

static int conflict_error(restore_state *rs, const found *f, mno_error *e)
{
    return mno_err(e, MNO_E_CONFLICT, NULL, 0, rs->ns,
                   "conflict: %llu document%s already in the target collection '%s' differ%s from the "
                   "archive: %s%s; refusing to overwrite (nothing of this section was written)",
                   (unsigned long long)f->diff, f->diff == 1 ? "" : "s", rs->cname, f->diff == 1 ? "s" : "",
                   f->keys, f->diff > (uint64_t)f->nkeys ? ", ..." : "");
}

/*
 * Sends b to coll as unordered inserts, re-sending after a dropped connection. to_target:
 * duplicates of _id are expected (documents already restored) and must be byte-identical
 * (counted in rs->already); in the staging collection a duplicate is one the section holds
 * twice, unless the batch was re-sent. Counts rs->inserted. Returns 0 or -1.
 */
static int insert_batch(restore_state *rs, mongoc_collection_t *coll, batch *b, int to_target, mno_error *e)
{
    int rc = -1;
    bson_t **docs = NULL, *dv = NULL;
    size_t *dups = NULL;
    bson_t opts = BSON_INITIALIZER;
    if (b->n == 0)
        return 0;
    docs = malloc(b->n * sizeof *docs);
    dv = malloc(b->n * sizeof *dv);
    dups = malloc(b->n * sizeof *dups);
    if (!docs || !dv || !dups) {
        nomem(e, rs->ns);
        goto done;
    }
    for (size_t i = 0; i < b->n; i++) {
        batch_doc(b, i, &dv[i]);
        docs[i] = &dv[i];
    }
    /* unordered: the server applies what it can and reports each failure; no client-side
       validation: documents are sent exactly as the archive has them (dots and $ in
       field names included); the source's validator accepted them already */
    BSON_APPEND_BOOL(&opts, "ordered", false);
    BSON_APPEND_BOOL(&opts, "validate", false);
    BSON_APPEND_BOOL(&opts, "bypassDocumentValidation", true);
    for (int attempt = 0;; attempt++) {
        bson_t reply;
        bson_error_t be;
        bson_iter_t it, we;
        bool ok = mongoc_collection_insert_many(coll, (const bson_t **)docs, b->n, &opts, &reply, &be);
        if (bson_iter_init_find(&it, &reply, "insertedCount") && BSON_ITER_HOLDS_NUMBER(&it))
            rs->inserted += (uint64_t)bson_iter_as_int64(&it);
        if (ok) {
            bson_destroy(&reply);
            break;
        }
        size_t ndup = 0;
        if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &we)) {
            while (bson_iter_next(&we)) {
                bson_iter_t f;
                int64_t idx = -1, code = 0;
                const char *msg = "";
                bson_t w;
                const uint8_t *data;
                uint32_t len;
                if (!BSON_ITER_HOLDS_DOCUMENT(&we))
                    continue;
                bson_iter_document(&we, &len, &data);
                if (!bson_init_static(&w, data, len))
                    continue;
                if (bson_iter_init_find(&f, &w, "index") && BSON_ITER_HOLDS_NUMBER(&f))
                    idx = bson_iter_as_int64(&f);
                if (bson_iter_init_find(&f, &w, "code") && BSON_ITER_HOLDS_NUMBER(&f))
                    code = bson_iter_as_int64(&f);
                if (bson_iter_init_find(&f, &w, "errmsg") && BSON_ITER_HOLDS_UTF8(&f))
                    msg = bson_iter_utf8(&f, NULL);
                char id[256] = "?";
                long long line = 0;
                if (idx >= 0 && (size_t)idx < b->n) {
                    id_text(&dv[idx], id, sizeof id);
                    line = b->line[idx];
                }
                if (code == CODE_DUPKEY && idx >= 0 && (size_t)idx < b->n &&
                    (to_target || rs->retried)) {
                    dups[ndup++] = (size_t)idx;
                    continue;
                }
                /* e->line: the record's own line, which the driver puts in front */
                if (code == CODE_DUPKEY)
                    mno_err(e, MNO_E_FORMAT, NULL, line, rs->ns, "duplicate _id %s: the section holds it twice", id);
                else if (line > 0)
                    mno_err(e, MNO_E_SERVER, NULL, line, rs->ns, "cannot insert _id %s: %s (code %lld)", id, msg,
                            (long long)code);
                else
                    mno_err(e, MNO_E_SERVER, NULL, 0, rs->ns, "cannot insert _id %s into '%s': %s (code %lld)",
                            id, rs->cname, msg, (long long)code);
                bson_destroy(&reply);
                goto done;
            }
        }
        bson_destroy(&reply);
        if (ndup) {
            /* every failure was a duplicate _id: the documents must be ours, byte for byte */
            found f = {0};
            for (size_t i = 0; i < ndup; i += CHECK_CHUNK) {
                size_t n = ndup - i < CHECK_CHUNK ? ndup - i : CHECK_CHUNK;
                if (check_docs(rs, coll, b, dups + i, n, &f, e) < 0)
                    goto done;
            }
            if (f.diff || f.same != ndup) {
                if (to_target)
                    mno_err(e, MNO_E_CONFLICT, NULL, 0, rs->ns,
                            "conflict: the target collection '%s' changed during the restore: _id %s "
                            "is there with different content", rs->cname, f.first[0] ? f.first : "?");
                else
                    mno_err(e, MNO_E_FORMAT, NULL, f.first_line, rs->ns,
                            "duplicate _id %s: the section holds it twice", f.first);
                goto done;
            }
            if (to_target)
                rs->already += f.same;
            break;
        }
        if (!is_retryable(&be) || attempt >= RETRIES) {
            char what[700];
            if (b->line[0] > 0)
                snprintf(what, sizeof what, "cannot insert the %zu documents of lines %lld-%lld%s", b->n,
                         b->line[0], b->line[b->n - 1],
                         attempt ? " (connection lost, retries used up)" : "");
            else
                snprintf(what, sizeof what, "cannot insert %zu documents into '%s'%s", b->n, rs->cname,
                         attempt ? " (connection lost, retries used up)" : "");
            mno_mongo_err(e, &be, rs->ns, what);
            goto done;
        }
        /* the batch may have been applied in part: duplicates on the re-send are checked */
        rs->retried = 1;
        pause_ms(backoff_ms(attempt + 1));
    }
    rc = 0;
done:
    batch_reset(b);
    bson_destroy(&opts);
    free(docs);
    free(dv);
    free(dups);
    return rc;
}

/* The sender thread: one staging batch. */
static void *send_main(void *arg)
{
    restore_state *rs = arg;
    rs->send_rc = insert_batch(rs, rs->stage_c, &rs->sb, 0, &rs->send_err);
    return NULL;
}

/* Waits for the batch in flight, if any. Returns 0, or -1 with its error in e. */
static int wait_sender(restore_state *rs, mno_error *e)
{
    if (!rs->sending)
        return 0;
    pthread_join(rs->sender, NULL);
    rs->sending = 0;
    if (rs->send_rc < 0) {
        *e = rs->send_err;
        return -1;
    }
    return 0;
}

/* Hands the filled batch to the sender thread (after the one in flight is done). Returns 0,
   or -1 with e filled (this batch's or the previous one's error). */
static int send_async(restore_state *rs, mno_error *e)
{
    if (wait_sender(rs, e) < 0)
        return -1;
    if (rs->b.n == 0)
        return 0;
    batch t = rs->sb;
    rs->sb = rs->b;
    rs->b = t;
    batch_reset(&rs->b);
    mno_error_clear(&rs->send_err);
    rs->send_rc = 0;
    if (pthread_create(&rs->sender, NULL, send_main, rs) != 0) {
        /* no thread: send it here */
        send_main(rs);
        if (rs->send_rc < 0) {
            *e = rs->send_err;
            return -1;
        }
        return 0;
    }
    rs->sending = 1;
    return 0;
}

/* Sends (or, in a dry run, checks) the buffered records of the section; with wait, until
   every batch is in. */
static int flush_section(restore_state *rs, int wait, mno_error *e)
{
    if (!rs->dry_run)
        return send_async(rs, e) < 0 || (wait && wait_sender(rs, e) < 0) ? -1 : 0;
    /* dry run: compare with the target; restore_probe reports what was found */
    int rc = 0;
    if (rs->exists)
        rc = check_batch(rs, rs->target_c, &rs->b, &rs->probe, e);
    batch_reset(&rs->b);
    return rc;
}

/* ---- journal ---- */

static char *journal_key(const restore_state *rs)
{
    char *k = NULL;
    if (asprintf(&k, "%s:%s", rs->archive_id, rs->ns) < 0)
        return NULL;
    return k;
}

/* The database a section "db.coll" goes to: the target URI's when it names one, else db
   (caller frees). NULL when there is none or out of memory. */
static char *section_db(const mno_mongo *m, const char *ns)
{
    const char *dot = strchr(ns, '.');
    if (m->dbname && *m->dbname)
        return strdup(m->dbname);
    return dot && dot > ns ? strndup(ns, (size_t)(dot - ns)) : NULL;
}

/*
 * The name rules of a section going into database dbname (uri_db: the target URI named it),
 * collection cname. Returns 0, or -1 with e filled (MNO_E_USAGE).
 */
static int names_ok(const char *ns, const char *dbname, int uri_db, const char *cname, mno_error *e)
{
    static const char *const reserved[] = {"admin", "local", "config"};
    if (!dbname || !*dbname)
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "no database for the section: give one in the target uri");
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcasecmp(dbname, reserved[i]) == 0)
            return mno_err(e, MNO_E_USAGE, NULL, 0, ns,
                           "database '%s' (%s) is the server's own: a restore never writes into admin, "
                           "local or config%s", dbname,
                           uri_db ? "named by the target uri" : "from the section's ns",
                           uri_db ? " (give the database to restore into in the uri, and the one to "
                                    "authenticate against with ?authSource=admin)"
                                  : "; give a database in the target uri to restore into");
    if (strlen(dbname) >= 64 || strpbrk(dbname, "/\\. \"$*<>:|?"))
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "invalid database name '%s'", dbname);
    if (!*cname)
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "no collection name in the section's ns");
    if (strchr(cname, '$'))
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns,
                       "invalid collection name '%s': a collection name cannot hold '$'", cname);
    if (strncmp(cname, "system.", 7) == 0 || mno_mongo_is_own_collection(cname))
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "collection '%s' is reserved and cannot be restored", cname);
    return 0;
}

int mno_mongo_restore_ns_check(const char *uri, const char *ns, mno_error *e)
{
    mongoc_uri_t *u = mongoc_uri_new_with_error(uri ? uri : "", NULL);
    const char *udb = u ? mongoc_uri_get_database(u) : NULL;
    const char *dot = strchr(ns, '.');
    char *db = udb && *udb ? strdup(udb) : dot && dot > ns ? strndup(ns, (size_t)(dot - ns)) : strdup("");
    int rc = db ? names_ok(ns, db, udb && *udb, dot ? dot + 1 : ns, e) : nomem(e, ns);
    free(db);
    mongoc_uri_destroy(u);
    return rc;
}

int mno_mongo_journal_get(mno_engine *en, const char *archive_id, const char *ns, int *found,
                          uint64_t *count, mno_sum *sum, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    restore_state *rs = state_of(m, e);
    char *key = NULL, *dbname = section_db(m, ns);
    int rc = -1;
    *found = 0;
    *count = 0;
    memset(sum, 0, sizeof *sum);
    const char *dot = strchr(ns, '.');
    if (!rs || names_ok(ns, dbname, m->dbname && *m->dbname, dot ? dot + 1 : ns, e) < 0)
        goto done;
    if (asprintf(&key, "%s:%s", archive_id, ns) < 0) {
        key = NULL;
        nomem(e, ns);
        goto done;
    }
    /* from the journal's entries of this archive, read once per database */
    json_t *d = db_info(m, rs, dbname, archive_id, ns, e);
    if (!d)
        goto done;
    json_t *ent = json_object_get(json_object_get(d, "journal"), key);
    rc = 0;
    if (ent) {
        *found = 1;
        *count = (uint64_t)json_integer_value(json_object_get(ent, "count"));
        if (mno_sum_parse(json_string_value(json_object_get(ent, "sum")), sum) < 0)
            rc = mno_err(e, MNO_E_FORMAT, NULL, 0, ns, "the restore journal '%s.%s' has a bad entry '%s'",
                         dbname, MNO_MONGO_JOURNAL, key);
    }
done:
    free(key);
    free(dbname);
    return rc;
}

static int journal_write(mno_mongo *m, restore_state *rs, const mno_section *s, mno_error *e)
{
    char *key = journal_key(rs);
    char hex[33];
    if (!key)
        return nomem(e, rs->ns);
    mongoc_collection_t *j = mongoc_client_get_collection(m->client, rs->dbname, MNO_MONGO_JOURNAL);
    bson_t doc = BSON_INITIALIZER;
    bson_error_t be;
    BSON_APPEND_UTF8(&doc, "_id", key);
    BSON_APPEND_UTF8(&doc, "archive", rs->archive_id);
    BSON_APPEND_UTF8(&doc, "ns", rs->ns);
    BSON_APPEND_UTF8(&doc, "collection", rs->cname);
    BSON_APPEND_INT64(&doc, "count", (int64_t)s->count);
    BSON_APPEND_UTF8(&doc, "sum", mno_sum_hex(&s->sum, hex));
    BSON_APPEND_INT64(&doc, "inserted", (int64_t)(s->count - rs->already));
    BSON_APPEND_INT64(&doc, "already", (int64_t)rs->already);
    BSON_APPEND_DATE_TIME(&doc, "finished", (int64_t)time(NULL) * 1000);
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        /* a duplicate is this entry, written by the attempt whose answer was lost */
        if (mongoc_collection_insert_one(j, &doc, NULL, NULL, &be) ||
            (be.domain == MONGOC_ERROR_SERVER && be.code == CODE_DUPKEY))
            break;
        if (!is_retryable(&be) || attempt >= RETRIES) {
            rc = mno_mongo_err(e, &be, rs->ns, "cannot write the restore journal");
            break;
        }
        pause_ms(backoff_ms(attempt + 1));
    }
    bson_destroy(&doc);
    mongoc_collection_destroy(j);
    free(key);
    return rc;
}

/* ---- the ops ---- */

int mno_mongo_restore_begin(mno_engine *en, const mno_restore_opts *o, const mno_section *s, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    restore_state *rs = state_of(m, e);
    bson_t *opts = NULL;
    if (!rs)
        return -1;
    if (rs->open)
        section_close(rs);
    rs->create = o->create;
    rs->resume = o->resume;
    rs->dry_run = o->dry_run;
    rs->stage_cap = STAGE_FIRST;
    if (o->archive_id && (!rs->archive_id || strcmp(rs->archive_id, o->archive_id) != 0)) {
        free(rs->archive_id);
        if (!(rs->archive_id = strdup(o->archive_id)))
            return nomem(e, s->ns);
    }
    if (s->engine != MNO_ENGINE_MONGO)
        return mno_err(e, MNO_E_USAGE, NULL, s->begin_line, s->ns,
                       "a %s section cannot be restored into mongodb", mno_engine_kind_name(s->engine));
    /* "db.coll": into the target URI's database when it names one, else into db */
    const char *dot = strchr(s->ns, '.');
    rs->ns = strdup(s->ns);
    rs->dbname = section_db(m, s->ns);
    rs->cname = strdup(dot ? dot + 1 : s->ns);
    if (!rs->ns || !rs->cname)
        return nomem(e, s->ns);
    rs->open = 1;
    if (names_ok(s->ns, rs->dbname, m->dbname && *m->dbname, rs->cname, e) < 0)
        return -1;
    if (asprintf(&rs->stage, "%s%s", MNO_MONGO_STAGING_PREFIX, rs->cname) < 0) {
        rs->stage = NULL;
        return nomem(e, s->ns);
    }

    if (!(rs->db = db_info(m, rs, rs->dbname, rs->archive_id, s->ns, e)))
        return -1;
    int ex = db_has(rs->db, rs->cname);
    if (!ex && !rs->create) {
        /* not in the listing: created since? asked before refusing */
        if ((ex = coll_exists(m, rs->dbname, rs->cname, s->ns, e)) < 0)
            return -1;
        if (ex)
            db_note(rs->db, rs->cname, 1);
    }
    rs->exists = ex;
    if (!ex && !rs->create)
        return mno_err(e, MNO_E_USAGE, NULL, s->begin_line, s->ns,
                       "collection '%s' does not exist in database '%s': give --create to create it "
                       "with the archive's options and indexes", rs->cname, rs->dbname);
    rs->target_c = mongoc_client_get_collection(m->client, rs->dbname, rs->cname);
    if (rs->dry_run)
        return 0;

    json_t *jo = json_object_get(s->begin, "options");
    if (jo && !json_is_object(jo))
        return mno_err(e, MNO_E_FORMAT, NULL, s->begin_line, s->ns, "begin: \"options\" is not an object");
    if (!ex && jo && !(opts = json_to_bson(jo, s->ns, "options", e)))
        return -1;
    int rc = -1;
    /* a staging collection left by a crash holds nothing that counts: start afresh */
    if (db_has(rs->db, rs->stage)) {
        if (drop_coll(m, rs->dbname, rs->stage, s->ns, e) < 0)
            goto done;
        db_note(rs->db, rs->stage, 0);
    }
    /* created with the options when it will become the target: some (capped, collation)
       can only be given at creation */
    if (create_stage(m, rs, opts, e) < 0)
        goto done;
    rs->stage_c = mongoc_client_get_collection(m->client, rs->dbname, rs->stage);
    rc = 0;
done:
    bson_destroy(opts);
    return rc;
}

int mno_mongo_restore_rec(mno_engine *en, const mno_item *it, mno_error *e)
{
    restore_state *rs = MNO_MONGO(en)->restore;
    if (!rs || !rs->open)
        return mno_err(e, MNO_E_INTERNAL, NULL, it->lineno, NULL, "record outside a section");
    bson_iter_t id;
    if (!it->doc || !bson_iter_init_find(&id, it->doc, "_id"))
        return mno_err(e, MNO_E_FORMAT, NULL, it->lineno, rs->ns, "document without _id");
    size_t cap = rs->dry_run || rs->max_bytes < rs->stage_cap ? rs->max_bytes : rs->stage_cap;
    if (rs->b.n && (rs->b.n >= rs->max_docs || rs->b.data.len + it->doc->len > cap)) {
        if (flush_section(rs, 0, e) < 0)
            return -1;
        if (rs->stage_cap < STAGE_BUFFER)
            rs->stage_cap *= 2;
    }
    if (batch_add(&rs->b, it->doc, it->lineno) < 0)
        return nomem(e, rs->ns);
    return 0;
}

/* Merges the staged documents into the existing target (see the top of the file). */
static int merge_into_target(restore_state *rs, mno_error *e)
{
    int rc = -1;
    bson_error_t be;
    const bson_t *doc;
    bson_t opts = BSON_INITIALIZER;
    found f = {0};
    BSON_APPEND_INT32(&opts, "batchSize", CHECK_CHUNK);
    /* pass 1: nothing is written unless every staged document is absent or identical */
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(rs->stage_c, &empty, &opts, NULL);
    batch_reset(&rs->b);
    while (mongoc_cursor_next(cur, &doc)) {
        if (batch_add(&rs->b, doc, 0) < 0) {
            nomem(e, rs->ns);
            goto done;
        }
        if (rs->b.n == CHECK_CHUNK) {
            if (check_batch(rs, rs->target_c, &rs->b, &f, e) < 0)
                goto done;
            batch_reset(&rs->b);
        }
    }
    if (mongoc_cursor_error(cur, &be)) {
        mno_mongo_err(e, &be, rs->ns, "cannot read the staging collection");
        goto done;
    }
    if (check_batch(rs, rs->target_c, &rs->b, &f, e) < 0)
        goto done;
    batch_reset(&rs->b);
    if (f.diff) {
        conflict_error(rs, &f, e);
        goto done;
    }
    mongoc_cursor_destroy(cur);
    cur = NULL;
    /* pass 2: insert; the identical ones come back as duplicates and are checked again */
    if (f.same < rs->inserted) {
        uint64_t staged = rs->inserted;
        rs->inserted = 0;
        rs->retried = 0;
        cur = mongoc_collection_find_with_opts(rs->stage_c, &empty, &opts, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
            if (rs->b.n && (rs->b.n >= rs->max_docs || rs->b.data.len + doc->len > rs->max_bytes) &&
                insert_batch(rs, rs->target_c, &rs->b, 1, e) < 0)
                goto done;
            if (batch_add(&rs->b, doc, 0) < 0) {
                nomem(e, rs->ns);
                goto done;
            }
        }
        if (mongoc_cursor_error(cur, &be)) {
            mno_mongo_err(e, &be, rs->ns, "cannot read the staging collection");
            goto done;
        }
        if (insert_batch(rs, rs->target_c, &rs->b, 1, e) < 0)
            goto done;
        (void)staged;
    } else {
        rs->already = f.same;
    }
    rc = 0;
done:
    batch_reset(&rs->b);
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    return rc;
}

int mno_mongo_restore_commit(mno_engine *en, const mno_section *s, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    restore_state *rs = m->restore;
    bson_error_t be;
    if (!rs || !rs->open)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "commit outside a section");
    if (flush_section(rs, 1, e) < 0)
        return -1;
    if (rs->dry_run) {
        section_close(rs);
        return 0;
    }
    /* every document staged once: the servers' insert counts say so, unless a batch was
       re-sent (its first answer was lost): then the staging collection is counted */
    int64_t staged = (int64_t)rs->inserted;
    if (rs->retried || rs->inserted != s->count) {
        staged = mongoc_collection_count_documents(rs->stage_c, &empty, NULL, NULL, NULL, &be);
        if (staged < 0)
            return mno_mongo_err(e, &be, s->ns, "cannot count the staged documents");
    }
    if ((uint64_t)staged != s->count)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns,
                       "%llu documents, %lld distinct _ids: the section holds an _id twice",
                       (unsigned long long)s->count, (long long)staged);
    rs->inserted = (uint64_t)staged;
    rs->already = 0;
    /* indexes after the data: one build instead of one update per document */
    if (!rs->exists) {
        if (create_indexes(m, rs, s, rs->stage, e) < 0)
            return -1;
        if (mongoc_collection_rename(rs->stage_c, rs->dbname, rs->cname, false, &be)) {
            mongoc_collection_destroy(rs->stage_c); /* renamed: it is the target now */
            rs->stage_c = NULL;
            db_note(rs->db, rs->stage, 0);
            db_note(rs->db, rs->cname, 1);
        } else if (be.domain == MONGOC_ERROR_SERVER && be.code == CODE_NS_EXISTS) {
            rs->exists = 1; /* created meanwhile: merge into it */
            db_note(rs->db, rs->cname, 1);
        } else {
            char what[600];
            snprintf(what, sizeof what, "cannot rename the staging collection to '%s'", rs->cname);
            return mno_mongo_err(e, &be, s->ns, what);
        }
    }
    if (rs->exists) {
        if (merge_into_target(rs, e) < 0)
            return -1;
        if (create_indexes(m, rs, s, rs->cname, e) < 0)
            return -1;
        if (drop_coll(m, rs->dbname, rs->stage, s->ns, e) < 0)
            return -1;
        db_note(rs->db, rs->stage, 0);
    }
    if (rs->archive_id && journal_write(m, rs, s, e) < 0)
        return -1;
    db_note(rs->db, MNO_MONGO_JOURNAL, 1);
    if (rs->stage_c) {
        mongoc_collection_destroy(rs->stage_c);
        rs->stage_c = NULL;
    }
    section_close(rs);
    return 0;
}

int mno_mongo_restore_probe(mno_engine *en, const mno_section *s, struct mno_restore_probe *p, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    restore_state *rs = m->restore;
    int rc = -1;
    bson_error_t be;
    memset(p, 0, sizeof *p);
    p->rows = -1;
    p->conflicts = -1;
    if (!rs || !rs->open)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "probe outside a section");
    if (flush_section(rs, 1, e) < 0)
        goto done;
    p->exists = rs->exists;
    p->rows = 0;
    if (rs->exists) {
        int64_t n = mongoc_collection_count_documents(rs->target_c, &empty, NULL, NULL, NULL, &be);
        if (n < 0) {
            mno_mongo_err(e, &be, s->ns, "cannot count the target's documents");
            goto done;
        }
        p->rows = n;
    }
    /* identical documents are not conflicts: they count as already restored */
    p->conflicts = (long long)rs->probe.diff;
    snprintf(p->keys, sizeof p->keys, "%s", rs->probe.keys);
    rc = rs->probe.diff ? conflict_error(rs, &rs->probe, e) : 0;
done:
    section_close(rs);
    return rc;
}

void mno_mongo_restore_abort(mno_engine *en)
{
    mno_mongo *m = MNO_MONGO(en);
    restore_state *rs = m ? m->restore : NULL;
    if (!rs || !rs->open)
        return;
    /* the target was not touched while the section was read; the staging collection goes
       (if the server is gone, the next run drops it), after the batch in flight */
    if (rs->stage_c && !rs->dry_run) {
        mno_error ignored;
        wait_sender(rs, &ignored);
        if (drop_coll(m, rs->dbname, rs->stage, rs->ns, &ignored) == 0 && rs->db)
            db_note(rs->db, rs->stage, 0);
    }
    section_close(rs);
}

/* ---- -j N ---- */

/* A section's target as "db\ncoll" (section_db's database), for restore_related's sort. */
typedef struct target_of {
    char *key;
    size_t i;
} target_of;

static int target_cmp(const void *a, const void *b)
{
    const target_of *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

int mno_mongo_restore_related(mno_engine *en, const char *const *ns, size_t n, size_t **pairs, size_t *npairs,
                              mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    int rc = -1;
    *pairs = NULL;
    *npairs = 0;
    /* two sections going into the same collection (the URI names one database, the archive
       two) would share it and its staging collection: one after the other. Sorted by target
       (not every pair compared: 10,000 sections made 50 million pairs); each section is
       paired with the one before it of the same target, which the driver makes it wait for,
       and that one waits for its own predecessor in turn. */
    target_of *t = calloc(n ? n : 1, sizeof *t);
    size_t *a = calloc(n ? 2 * n : 1, sizeof *a);
    if (!t || !a)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        char *db = section_db(m, ns[i]);
        const char *dot = strchr(ns[i], '.');
        t[i].i = i;
        if (asprintf(&t[i].key, "%s\n%s", db ? db : "", dot ? dot + 1 : ns[i]) < 0)
            t[i].key = NULL;
        free(db);
        if (!t[i].key)
            goto nomem;
    }
    qsort(t, n, sizeof *t, target_cmp);
    for (size_t k = 1; k < n; k++)
        if (strcmp(t[k - 1].key, t[k].key) == 0) {
            a[2 * *npairs] = t[k - 1].i;
            a[2 * *npairs + 1] = t[k].i;
            (*npairs)++;
        }
    *pairs = a;
    a = NULL;
    rc = 0;
    goto done;
nomem:
    rc = nomem(e, n ? ns[0] : NULL);
done:
    for (size_t i = 0; t && i < n; i++)
        free(t[i].key);
    free(t);
    free(a);
    return rc;
}
