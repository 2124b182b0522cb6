/* engine_mongo_verify.c: MongoDB verify ops: counts and md5 sums of a collection's documents, hashed as they stream. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "engine_mongo.h"

/*
 * A section "db.coll" is read from the target URI's database when it names one, else from
 * the ns's own database part (as mno-restore writes it). Each document's BSON bytes are
 * hashed as they come: the server cannot compute md5 of BSON, and a document comes back
 * byte for byte as it was stored. The begin's "filter" (canonical Extended JSON), when
 * present, restricts the collection to the tenant's documents (a shared target).
 */

/* Opens the collection of ns. Caller destroys it. NULL with e filled. */
static mongoc_collection_t *open_coll(mno_mongo *m, const char *ns, char **dbname, char **cname,
                                      mno_error *e)
{
    const char *dot = strchr(ns, '.');
    *dbname = m->dbname ? strdup(m->dbname) : dot ? strndup(ns, (size_t)(dot - ns)) : NULL;
    *cname = strdup(dot ? dot + 1 : ns);
    if (!*dbname || !*cname) {
        free(*dbname);
        free(*cname);
        *dbname = *cname = NULL;
        mno_err(e, MNO_E_USAGE, NULL, 0, ns, "no database: give one in the target uri");
        return NULL;
    }
    return mongoc_client_get_collection(m->client, *dbname, *cname);
}

/* 1 if collection cname exists in dbname, 0 if not, -1 on error. */
static int coll_exists(mno_mongo *m, const char *dbname, const char *cname, const char *ns,
                       mno_error *e)
{
    bson_error_t be;
    mongoc_database_t *db = mongoc_client_get_database(m->client, dbname);
    bson_t opts = BSON_INITIALIZER, filter;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "filter", &filter);
    BSON_APPEND_UTF8(&filter, "name", cname);
    bson_append_document_end(&opts, &filter);
    char **names = mongoc_database_get_collection_names_with_opts(db, &opts, &be);
    int rc;
    if (!names) {
        rc = mno_mongo_err(e, &be, ns, "cannot list collections");
    } else {
        rc = 0;
        for (char **p = names; *p; p++)
            if (strcmp(*p, cname) == 0)
                rc = 1;
        bson_strfreev(names);
    }
    bson_destroy(&opts);
    mongoc_database_destroy(db);
    return rc;
}

/* The section's filter: begin's "filter" as BSON, or {}. */
static bson_t *section_filter(const mno_section *s, mno_error *e)
{
    json_t *f = json_object_get(s->begin, "filter");
    bson_error_t be;
    char *txt = json_is_object(f) ? json_dumps(f, JSON_COMPACT) : strdup("{}");
    if (!txt) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        return NULL;
    }
    bson_t *b = bson_new_from_json((const uint8_t *)txt, -1, &be);
    free(txt);
    if (!b)
        mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "begin: bad filter: %s", be.message);
    return b;
}

/*
 * A section's count and sum are computed while the caller reads the archive's section
 * (hash_start): a thread of its own reads the cursor and copies the documents into batches
 * of 256 KiB (libmongoc reuses its reply buffer); a batch is hashed in the lanes of the SIMD
 * md5 (mno_md5_many) by whichever side is free: by the caller once it has read the section
 * and waits in hash_section, else by the reading thread itself when every batch is full.
 * Sums add up in any order, so batches need no order. The client is used by the reading
 * thread alone until hash_section joins it. Asking for more documents per reply
 * (batchSize) saves round trips.
 */
#define HASH_NBATCH 4
#define HASH_BATCH 1024                      /* documents per batch, or fewer ... */
#define HASH_BATCH_BYTES ((size_t)256 << 10)   /* ... once this many bytes are in */
#define HASH_GETMORE 4096                    /* documents per reply */

enum { SLOT_FREE, SLOT_FILLING, SLOT_FULL, SLOT_HASHING };

typedef struct hbatch {
    int state;                               /* SLOT_*, under the mutex */
    mno_buf docs;                            /* the documents' BSON, back to back */
    size_t n;
    size_t len[HASH_BATCH];
    const unsigned char *doc[HASH_BATCH];
    unsigned char dig[HASH_BATCH][16];
} hbatch;

typedef struct mg_hash {
    mno_mongo *m;
    char *ns;
    bson_t *filter;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu: */
    hbatch *b[HASH_NBATCH];
    int done;                                /* the reading thread has read everything (or failed) */
    int stop;                                /* the caller gives up (an error elsewhere) */
    uint64_t count;
    mno_sum sum;
    /* final once done: */
    int rc, exists;
    mno_error err;
} mg_hash;

/* With h->mu held: hashes one full batch, unlocking meanwhile. Returns 1, or 0 when none is full. */
static int hash_one(mg_hash *h)
{
    hbatch *b = NULL;
    for (int i = 0; i < HASH_NBATCH && !b; i++)
        if (h->b[i]->state == SLOT_FULL)
            b = h->b[i];
    if (!b)
        return 0;
    b->state = SLOT_HASHING;
    pthread_mutex_unlock(&h->mu);
    size_t off = 0;
    for (size_t i = 0; i < b->n; i++) {
        b->doc[i] = (const unsigned char *)b->docs.data + off;
        off += b->len[i];
    }
    mno_md5_many(b->doc, b->len, b->n, b->dig);
    mno_sum part = MNO_SUM_ZERO;
    for (size_t i = 0; i < b->n; i++)
        mno_sum_add_digest(&part, b->dig[i]);
    pthread_mutex_lock(&h->mu);
    mno_sum_add(&h->sum, &part);
    h->count += b->n;
    b->state = SLOT_FREE;
    pthread_cond_broadcast(&h->cv);
    return 1;
}

/* The reading thread's next batch to fill, emptied; NULL when told to stop. While none is
   free it hashes a full one, else waits. */
static hbatch *hash_slot(mg_hash *h)
{
    hbatch *b = NULL;
    pthread_mutex_lock(&h->mu);
    while (!h->stop && !b) {
        for (int i = 0; i < HASH_NBATCH && !b; i++)
            if (h->b[i]->state == SLOT_FREE)
                b = h->b[i];
        if (!b && !hash_one(h))
            pthread_cond_wait(&h->cv, &h->mu);
    }
    if (b)
        b->state = SLOT_FILLING;
    pthread_mutex_unlock(&h->mu);
    if (b) {
        mno_buf_reset(&b->docs);
        b->n = 0;
    }
    return b;
}

static void hash_publish(mg_hash *h, hbatch *b)
{
    pthread_mutex_lock(&h->mu);
    b->state = b->n ? SLOT_FULL : SLOT_FREE;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* The reading thread's work: reads the collection's documents into batches. Returns 0
   (*exists 0 when the collection is missing), or -1 with h->err filled. */
static int hash_read(mg_hash *h, int *exists)
{
    mno_error *e = &h->err;
    char *dbname = NULL, *cname = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cur = NULL;
    bson_t opts = BSON_INITIALIZER;
    bson_error_t be;
    const bson_t *doc;
    hbatch *b = NULL;
    uint64_t n = 0;
    int rc = -1;
    *exists = 0;
    coll = open_coll(h->m, h->ns, &dbname, &cname, e);
    if (!coll)
        goto done;
    BSON_APPEND_INT32(&opts, "batchSize", HASH_GETMORE);
    cur = mongoc_collection_find_with_opts(coll, h->filter, &opts, NULL);
    while (mongoc_cursor_next(cur, &doc)) {
        if (!b && !(b = hash_slot(h))) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, h->ns, "stopped");
            goto done;
        }
        if (mno_buf_add(&b->docs, bson_get_data(doc), doc->len) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, h->ns, "out of memory");
            goto done;
        }
        b->len[b->n++] = doc->len;
        n++;
        if (b->n == HASH_BATCH || b->docs.len >= HASH_BATCH_BYTES) {
            hash_publish(h, b);
            b = NULL;
        }
    }
    if (mongoc_cursor_error(cur, &be)) {
        mno_mongo_err(e, &be, h->ns, "cannot read the collection");
        goto done;
    }
    /* no document: an empty collection, or none (a find on a missing one finds nothing) */
    rc = n ? 1 : coll_exists(h->m, dbname, cname, h->ns, e);
    if (rc >= 0) {
        *exists = rc;
        rc = 0;
    }
done:
    if (b)
        hash_publish(h, b);
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    free(dbname);
    free(cname);
    return rc;
}

static void *hash_main(void *arg)
{
    mg_hash *h = arg;
    int exists;
    int rc = hash_read(h, &exists);
    pthread_mutex_lock(&h->mu);
    h->rc = rc;
    h->exists = exists;
    h->done = 1;
    pthread_cond_broadcast(&h->cv);
    /* all read: help with the batches still full */
    while (rc == 0 && !h->stop && hash_one(h))
        ;
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* The caller's side: hashes full batches until everything is read and hashed. */
static void hash_wait(mg_hash *h)
{
    pthread_mutex_lock(&h->mu);
    for (;;) {
        if (hash_one(h))
            continue;
        int busy = 0;
        for (int i = 0; i < HASH_NBATCH; i++)
            busy |= h->b[i]->state == SLOT_HASHING;
        if (h->done && !busy)
            break;
        pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
}

static void hash_free(mg_hash *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->th, NULL);
    }
    for (int i = 0; i < HASH_NBATCH; i++) {
        if (h->b[i])
            mno_buf_release(&h->b[i]->docs);
        free(h->b[i]);
    }
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->ns);
    bson_destroy(h->filter);
    free(h);
}

void mno_mongo_verify_free(mno_engine *en)
{
    mno_mongo *m = MNO_MONGO(en);
    if (m) {
        hash_free(m->verify);
        m->verify = NULL;
    }
}

/* Starts hashing section s in a reading thread. NULL with e filled. */
static mg_hash *hash_begin(mno_mongo *m, const mno_section *s, mno_error *e)
{
    mg_hash *h = calloc(1, sizeof *h);
    if (!h) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->m = m;
    mno_error_clear(&h->err);
    h->ns = strdup(s->ns);
    int ok = h->ns != NULL;
    for (int i = 0; i < HASH_NBATCH; i++)
        ok &= (h->b[i] = calloc(1, sizeof *h->b[i])) != NULL;
    if (!ok) {
        hash_free(h);
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        return NULL;
    }
    if (!(h->filter = section_filter(s, e))) {
        hash_free(h);
        return NULL;
    }
    /* the reading thread leaves the tool's signals to the caller's thread */
    int err = mno_mongo_thread_start(&h->th, hash_main, h);
    if (err) {
        hash_free(h);
        mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "cannot start a reading thread: %s", strerror(err));
        return NULL;
    }
    h->started = 1;
    return h;
}

int mno_mongo_hash_start(mno_engine *en, const mno_section *s, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    if (m->verify)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "a hash is already pending for %s",
                       ((mg_hash *)m->verify)->ns);
    m->verify = hash_begin(m, s, e);
    return m->verify ? 0 : -1;
}

int mno_mongo_hash_section(mno_engine *en, const mno_section *s, uint64_t *count, mno_sum *sum,
                           int *exists, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    mg_hash *h = m->verify;
    *count = 0;
    sum->hi = sum->lo = 0;
    *exists = 0;
    if (h && strcmp(h->ns, s->ns) != 0)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "the pending hash is for %s", h->ns);
    m->verify = NULL;
    if (!h && !(h = hash_begin(m, s, e)))
        return -1;
    hash_wait(h);
    pthread_join(h->th, NULL);
    h->started = 0;
    int rc = h->rc;
    if (rc < 0) {
        *e = h->err;
    } else {
        *exists = h->exists;
        *count = h->count;
        *sum = h->sum;
    }
    hash_free(h);
    return rc;
}

static void hex_of(const unsigned char *d, size_t ndigits, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < ndigits; i++)
        out[i] = hx[(d[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[ndigits] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when the first len hex digits of hex are among sorted[0..n) (each of len digits). */
static int among_prefixes(const char *hex, size_t len, const char **sorted, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(hex, sorted[mid], len);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* Opens a cursor over the section's documents (the begin's filter). NULL with e filled. */
static mongoc_cursor_t *section_cursor(mno_mongo *m, const mno_section *s, mongoc_collection_t **coll,
                                       mno_error *e)
{
    char *dbname = NULL, *cname = NULL;
    mongoc_cursor_t *cur = NULL;
    *coll = open_coll(m, s->ns, &dbname, &cname, e);
    bson_t *filter = *coll ? section_filter(s, e) : NULL;
    if (filter)
        cur = mongoc_collection_find_with_opts(*coll, filter, NULL, NULL);
    bson_destroy(filter);
    free(dbname);
    free(cname);
    return cur;
}

/* No server-side md5 of BSON: the collection is read and its documents bucketed here. */
int mno_mongo_hash_buckets(mno_engine *en, const mno_section *s, const char *const *parents,
                           size_t nparents, size_t plen, size_t clen, mno_bucket_cb cb, void *arg,
                           mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cur = NULL;
    const char **sorted = NULL;
    const bson_t *doc;
    bson_error_t be;
    int rc = -1;
    if (clen <= plen || clen > 32)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "bad bucket prefix lengths %zu, %zu", plen, clen);
    sorted = malloc((nparents + 1) * sizeof *sorted);
    if (!sorted)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
    memcpy(sorted, parents, nparents * sizeof *sorted);
    qsort(sorted, nparents, sizeof *sorted, cmp_str);
    cur = section_cursor(m, s, &coll, e);
    if (!cur)
        goto done;
    while (mongoc_cursor_next(cur, &doc)) {
        unsigned char kh[16], digest[16];
        char hex[33];
        if (mno_keyhash_bson(doc, kh) < 0) {
            mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "a document of the target has no _id");
            goto done;
        }
        hex_of(kh, clen, hex);
        if (plen && !among_prefixes(hex, plen, sorted, nparents))
            continue;
        mno_md5(bson_get_data(doc), doc->len, digest);
        mno_sum sum = MNO_SUM_ZERO;
        mno_sum_add_digest(&sum, digest);
        if (cb(arg, hex, 1, &sum, e) < 0)
            goto done;
    }
    if (mongoc_cursor_error(cur, &be)) {
        mno_mongo_err(e, &be, s->ns, "cannot read the collection");
        goto done;
    }
    rc = 0;
done:
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    free(sorted);
    return rc;
}

int mno_mongo_list_buckets(mno_engine *en, const mno_section *s, const char *const *prefixes,
                           size_t n, mno_row_cb cb, void *arg, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cur = NULL;
    const char **bylen[33] = {0};
    size_t nlen[33] = {0};
    const bson_t *doc;
    bson_error_t be;
    json_t *v = NULL, *key = NULL;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(prefixes[i]);
        if (len < 1 || len > 32) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "bad bucket prefix \"%s\"", prefixes[i]);
            goto done;
        }
        if (!bylen[len] && !(bylen[len] = malloc(n * sizeof *bylen[len]))) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
            goto done;
        }
        bylen[len][nlen[len]++] = prefixes[i];
    }
    for (size_t len = 1; len <= 32; len++)
        if (nlen[len])
            qsort(bylen[len], nlen[len], sizeof *bylen[len], cmp_str);
    cur = section_cursor(m, s, &coll, e);
    if (!cur)
        goto done;
    while (mongoc_cursor_next(cur, &doc)) {
        unsigned char kh[16], digest[16];
        char hex[33];
        if (mno_keyhash_bson(doc, kh) < 0) {
            mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "a document of the target has no _id");
            goto done;
        }
        hex_of(kh, 32, hex);
        size_t len = 1;
        while (len <= 32 && !(nlen[len] && among_prefixes(hex, len, bylen[len], nlen[len])))
            len++;
        if (len > 32)
            continue;
        size_t tn;
        mno_md5(bson_get_data(doc), doc->len, digest);
        char *txt = bson_as_canonical_extended_json(doc, &tn);
        json_error_t je;
        v = txt ? json_loadb(txt, tn, JSON_DECODE_ANY, &je) : NULL;
        bson_free(txt);
        key = json_array();
        if (!v || !key || json_array_append(key, json_object_get(v, "_id")) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "cannot convert a document to json");
            goto done;
        }
        int x = cb(arg, kh, key, v, digest, e);
        json_decref(v);
        json_decref(key);
        v = key = NULL;
        if (x < 0)
            goto done;
        if (x > 0)
            break;
    }
    if (mongoc_cursor_error(cur, &be)) {
        mno_mongo_err(e, &be, s->ns, "cannot read the collection");
        goto done;
    }
    rc = 0;
done:
    json_decref(v);
    json_decref(key);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    for (size_t len = 0; len <= 32; len++)
        free(bylen[len]);
    return rc;
}

/* Adds db to the set unless there. */
static int add_db(mno_mongo *m, json_t *set, const char *ns)
{
    const char *dot = strchr(ns, '.');
    char *db = m->dbname ? strdup(m->dbname) : dot ? strndup(ns, (size_t)(dot - ns)) : NULL;
    if (!db)
        return 0;
    int rc = json_object_set_new(set, db, json_true());
    free(db);
    return rc;
}

/* 1 when name is one of ns[0..n). */
static int among(const char *name, const char *const *ns, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, ns[i]) == 0)
            return 1;
    return 0;
}

int mno_mongo_list_ns(mno_engine *en, const char *const *ns, size_t n, mno_ns_count **out,
                      size_t *nout, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    json_t *set = json_object();
    mno_ns_count *a = NULL;
    size_t na = 0, cap = 0;
    int rc = -1;
    bson_error_t be;
    *out = NULL;
    *nout = 0;
    if (!set)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if (add_db(m, set, ns[i]) < 0)
            goto nomem;
    const char *dbname;
    json_t *val;
    json_object_foreach(set, dbname, val) {
        mongoc_database_t *db = mongoc_client_get_database(m->client, dbname);
        char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &be);
        mongoc_database_destroy(db);
        if (!names) {
            mno_mongo_err(e, &be, dbname, "cannot list collections");
            goto done;
        }
        for (char **p = names; *p; p++) {
            /* not system.* nor the toolkit's own (restore journal and staging) */
            if (strncmp(*p, "system.", 7) == 0 || mno_mongo_is_own_collection(*p))
                continue;
            if (na == cap) {
                cap = cap ? 2 * cap : 16;
                mno_ns_count *t = realloc(a, cap * sizeof *a);
                if (!t) {
                    bson_strfreev(names);
                    goto nomem;
                }
                a = t;
            }
            /* named as the archive names it: when the URI chose the database, with the
               archive's database part (that of ns[0]) */
            const char *dot = m->dbname && n ? strchr(ns[0], '.') : NULL;
            size_t plen = dot ? (size_t)(dot - ns[0]) : strlen(dbname);
            const char *prefix = dot ? ns[0] : dbname;
            size_t len = plen + 1 + strlen(*p) + 1;
            a[na].ns = malloc(len);
            if (!a[na].ns) {
                bson_strfreev(names);
                goto nomem;
            }
            snprintf(a[na].ns, len, "%.*s.%s", (int)plen, prefix, *p);
            a[na].count = 0;
            na++;
            if (among(a[na - 1].ns, ns, n)) {
                a[na - 1].count = -1;  /* the caller's own: not counted */
                continue;
            }
            mongoc_collection_t *coll = mongoc_client_get_collection(m->client, dbname, *p);
            bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
            BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
            BSON_APPEND_INT32(&proj, "_id", 1);
            bson_append_document_end(&opts, &proj);
            mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
            const bson_t *doc;
            while (mongoc_cursor_next(cur, &doc))
                a[na - 1].count++;
            int bad = mongoc_cursor_error(cur, &be);
            mongoc_cursor_destroy(cur);
            bson_destroy(&filter);
            bson_destroy(&opts);
            mongoc_collection_destroy(coll);
            if (bad) {
                bson_strfreev(names);
                mno_mongo_err(e, &be, a[na - 1].ns, "cannot count documents");
                goto done;
            }
        }
        bson_strfreev(names);
    }
    *out = a;
    *nout = na;
    a = NULL;
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
done:
    mno_ns_counts_free(a, na);
    json_decref(set);
    return rc;
}
