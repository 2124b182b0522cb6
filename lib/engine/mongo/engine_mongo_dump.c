/* engine_mongo_dump.c: the MongoDB engine's dump side: plan (collections x scope), and one section per collection read by a resumable _id-ordered cursor. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine_mongo.h"
#include "buf.h"
#include "checksum.h"
#include "ejson.h"
#include "scope.h"

#define BATCH_SIZE 4096           /* documents per getMore: large batches, few round trips */
#define BACKOFF_FIRST_MS 100      /* first pause before a reconnect; doubles each retry */
#define BACKOFF_MAX_MS 2000

/* The engine's dump state (m->dump). */
typedef struct dump_state {
    int retries;                  /* reconnects allowed per collection */
} dump_state;

/* A plan item's engine part (it->priv). */
typedef struct dump_item {
    char *coll;                   /* collection name */
    bson_t *filter;               /* the tenant filter, {} for all/global */
    bson_t *options;              /* listCollections' options */
    /* (pointers: a bson_t asks for 128-byte alignment, which calloc does not give) */
} dump_item;

/* One collection as listCollections shows it. */
typedef struct coll_info {
    char *name;
    bson_t *options;
} coll_info;

/* ---- small helpers ---- */

json_t *mno_mongo_bson_to_json(const bson_t *b)
{
    size_t len = 0;
    char *s = bson_as_canonical_extended_json(b, &len);
    if (!s)
        return NULL;
    json_t *j = json_loadb(s, len, JSON_ALLOW_NUL, NULL);
    bson_free(s);
    return j;
}

/* The rank of a BSON type in MongoDB's comparison order across types (sort order). */
static int type_rank(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_MINKEY: return 0;
    case BSON_TYPE_UNDEFINED: return 1;
    case BSON_TYPE_NULL: return 2;
    case BSON_TYPE_DOUBLE: case BSON_TYPE_INT32: case BSON_TYPE_INT64: case BSON_TYPE_DECIMAL128:
        return 3;
    case BSON_TYPE_UTF8: case BSON_TYPE_SYMBOL: return 4;
    case BSON_TYPE_DOCUMENT: return 5;
    case BSON_TYPE_ARRAY: return 6;
    case BSON_TYPE_BINARY: return 7;
    case BSON_TYPE_OID: return 8;
    case BSON_TYPE_BOOL: return 9;
    case BSON_TYPE_DATE_TIME: return 10;
    case BSON_TYPE_TIMESTAMP: return 11;
    case BSON_TYPE_REGEX: return 12;
    case BSON_TYPE_DBPOINTER: return 13;
    case BSON_TYPE_CODE: return 14;
    case BSON_TYPE_CODEWSCOPE: return 15;
    case BSON_TYPE_MAXKEY: return 16;
    default: return 17;
    }
}

/* Every type a document _id may hold, in sort order, with its $type alias. */
static const struct { bson_type_t t; const char *alias; } id_types[] = {
    {BSON_TYPE_MINKEY, "minKey"}, {BSON_TYPE_NULL, "null"},
    {BSON_TYPE_DOUBLE, "double"}, {BSON_TYPE_INT32, "int"}, {BSON_TYPE_INT64, "long"},
    {BSON_TYPE_DECIMAL128, "decimal"}, {BSON_TYPE_UTF8, "string"}, {BSON_TYPE_SYMBOL, "symbol"},
    {BSON_TYPE_DOCUMENT, "object"}, {BSON_TYPE_BINARY, "binData"}, {BSON_TYPE_OID, "objectId"},
    {BSON_TYPE_BOOL, "bool"}, {BSON_TYPE_DATE_TIME, "date"}, {BSON_TYPE_TIMESTAMP, "timestamp"},
    {BSON_TYPE_DBPOINTER, "dbPointer"}, {BSON_TYPE_CODE, "javascript"},
    {BSON_TYPE_CODEWSCOPE, "javascriptWithScope"}, {BSON_TYPE_MAXKEY, "maxKey"},
};

int mno_mongo_after_filter(const bson_t *filter, const bson_value_t *last, bson_t *out)
{
    /* {_id: {$gt: last}} alone is not enough: comparison operators only match values of the
       same type class, while the sort runs across classes. The documents after `last` are
       those of its class above it, and every document of a later class. */
    bson_t after = BSON_INITIALIZER, or, clause, cond, arr;
    int rank = type_rank(last->value_type);
    size_t nlater = 0;
    for (size_t i = 0; i < sizeof id_types / sizeof id_types[0]; i++)
        if (type_rank(id_types[i].t) > rank)
            nlater++;
    bool ok = true;
    if (nlater == 0) {
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(&after, "_id", &cond);
        ok = ok && BSON_APPEND_VALUE(&cond, "$gt", last);
        ok = ok && bson_append_document_end(&after, &cond);
    } else {
        /* {$or: [{_id: {$gt: last}}, {_id: {$type: T1}}, ...]}: one $type per clause, the
           form every server (and the test server) accepts */
        char key[16];
        const char *kp;
        uint32_t kn;
        size_t k = 0;
        ok = ok && BSON_APPEND_ARRAY_BEGIN(&after, "$or", &or);
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &clause);
        ok = ok && BSON_APPEND_DOCUMENT_BEGIN(&clause, "_id", &cond);
        ok = ok && BSON_APPEND_VALUE(&cond, "$gt", last);
        ok = ok && bson_append_document_end(&clause, &cond);
        ok = ok && bson_append_document_end(&or, &clause);
        for (size_t i = 0; ok && i < sizeof id_types / sizeof id_types[0]; i++) {
            if (type_rank(id_types[i].t) <= rank)
                continue;
            kn = bson_uint32_to_string((uint32_t)++k, &kp, key, sizeof key);
            ok = ok && bson_append_document_begin(&or, kp, (int)kn, &clause);
            ok = ok && BSON_APPEND_DOCUMENT_BEGIN(&clause, "_id", &cond);
            ok = ok && BSON_APPEND_UTF8(&cond, "$type", id_types[i].alias);
            ok = ok && bson_append_document_end(&clause, &cond);
            ok = ok && bson_append_document_end(&or, &clause);
        }
        ok = ok && bson_append_array_end(&after, &or);
    }
    bson_init(out);
    if (bson_empty(filter)) {
        ok = ok && bson_concat(out, &after);
    } else {
        ok = ok && BSON_APPEND_ARRAY_BEGIN(out, "$and", &arr);
        ok = ok && BSON_APPEND_DOCUMENT(&arr, "0", filter);
        ok = ok && BSON_APPEND_DOCUMENT(&arr, "1", &after);
        ok = ok && bson_append_array_end(out, &arr);
    }
    bson_destroy(&after);
    if (!ok) {
        bson_destroy(out);
        bson_init(out);
        return -1;
    }
    return 0;
}

/* Network trouble that a new connection may cure (as opposed to a server's answer). */
static int is_retryable(const bson_error_t *be)
{
    return be->domain == MONGOC_ERROR_STREAM || be->domain == MONGOC_ERROR_SERVER_SELECTION;
}

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

/* A short, readable form of a value for messages: its relaxed Extended JSON, cut at 200 bytes. */
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

/* ---- plan ---- */

static void coll_infos_free(coll_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        bson_destroy(v[i].options);
    }
    free(v);
}

static int coll_info_cmp(const void *a, const void *b)
{
    return strcmp(((const coll_info *)a)->name, ((const coll_info *)b)->name);
}

/* The database's collections (not views, not system.*), sorted by name. */
static int list_collections(mno_mongo *m, coll_info **out, size_t *nout, mno_error *e)
{
    int rc = -1;
    bson_error_t be;
    const bson_t *doc;
    coll_info *v = NULL;
    size_t n = 0, cap = 0;
    mongoc_database_t *db = mongoc_client_get_database(m->client, m->dbname);
    mongoc_cursor_t *c = mongoc_database_find_collections_with_opts(db, NULL);
    while (mongoc_cursor_next(c, &doc)) {
        bson_iter_t it;
        const char *name = NULL, *type = "collection";
        if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
            name = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, doc, "type") && BSON_ITER_HOLDS_UTF8(&it))
            type = bson_iter_utf8(&it, NULL);
        /* not the server's system.* nor the toolkit's own (restore journal and staging) */
        if (!name || strncmp(name, "system.", 7) == 0 || mno_mongo_is_own_collection(name) ||
            strcmp(type, "collection") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            coll_info *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            v = nv;
        }
        v[n].name = strdup(name);
        v[n].options = NULL;
        if (bson_iter_init_find(&it, doc, "options") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            const uint8_t *data;
            uint32_t len;
            bson_iter_document(&it, &len, &data);
            v[n].options = bson_new_from_data(data, len);
        } else {
            v[n].options = bson_new();
        }
        n++;
        if (!v[n - 1].name || !v[n - 1].options) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            goto done;
        }
    }
    if (mongoc_cursor_error(c, &be)) {
        char what[600];
        snprintf(what, sizeof what, "cannot list the collections of database '%s'", m->dbname);
        mno_mongo_err(e, &be, NULL, what);
        goto done;
    }
    if (n)
        qsort(v, n, sizeof *v, coll_info_cmp);
    *out = v;
    *nout = n;
    v = NULL;
    n = 0;
    rc = 0;
done:
    coll_infos_free(v, n);
    mongoc_cursor_destroy(c);
    mongoc_database_destroy(db);
    return rc;
}

/* Appends {field: {$in: [uids]}} to f. */
static bool append_in(bson_t *f, const char *field, char **uids, size_t nuids)
{
    bson_t in, arr;
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(f, field, &in);
    ok = ok && BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    char key[16];
    for (size_t i = 0; ok && i < nuids; i++) {
        const char *kp;
        uint32_t kn = bson_uint32_to_string((uint32_t)i, &kp, key, sizeof key);
        ok = bson_append_utf8(&arr, kp, (int)kn, uids[i], -1);
    }
    ok = ok && bson_append_array_end(&in, &arr);
    ok = ok && bson_append_document_end(f, &in);
    return ok;
}

/*
 * A collection's filter from its scope rules (idx[0..nr)): `global` (and every rule under
 * --all) gives {}; `match FIELD in org_uids` gives {FIELD: {$in: uids}}, several match rules
 * {$or: [...]} (a document belongs when any of them holds). *rule gets the rules as text
 * (caller frees). Other rule kinds are PostgreSQL's and an error here.
 */
static int rules_filter(const mno_scope *scope, const size_t *idx, size_t nr, int all, char **uids,
                        size_t nuids, bson_t *f, char **rule, mno_error *e)
{
    mno_buf text = MNO_BUF_INIT;
    for (size_t k = 0; k < nr; k++) {
        const mno_scope_rule *r = &scope->rules[idx[k]];
        if (r->kind != MNO_SCOPE_MATCH && r->kind != MNO_SCOPE_GLOBAL) {
            mno_buf_release(&text);
            return mno_err(e, MNO_E_SCOPE, scope->file, r->line, NULL,
                           "%s: rule '%s' does not apply to a mongodb collection (use match, global or skip)",
                           r->name, mno_scope_kind_name(r->kind));
        }
        if (r->and_next) {
            mno_buf_release(&text);
            return mno_err(e, MNO_E_SCOPE, scope->file, r->line, NULL,
                           "%s: an 'and' group does not apply to a mongodb collection (use one match per line)",
                           r->name);
        }
        if (r->kind == MNO_SCOPE_MATCH && strcmp(r->set, MNO_MONGO_SET_ORGS) != 0) {
            mno_buf_release(&text);
            return mno_err(e, MNO_E_SCOPE, scope->file, r->line, NULL,
                           "%s: unknown set '%s' (the mongodb engine knows '%s')", r->name, r->set,
                           MNO_MONGO_SET_ORGS);
        }
        if ((k && mno_buf_adds(&text, " or ") < 0) || mno_buf_adds(&text, r->text) < 0) {
            mno_buf_release(&text);
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        }
    }
    *rule = text.data ? text.data : strdup("");
    if (!*rule)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (all || scope->rules[idx[0]].kind == MNO_SCOPE_GLOBAL)
        return 0;
    bool ok = true;
    if (nr == 1) {
        ok = append_in(f, scope->rules[idx[0]].cols[0], uids, nuids);
    } else {
        bson_t or, clause;
        char key[16];
        ok = BSON_APPEND_ARRAY_BEGIN(f, "$or", &or);
        for (size_t k = 0; ok && k < nr; k++) {
            const char *kp;
            uint32_t kn = bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
            ok = bson_append_document_begin(&or, kp, (int)kn, &clause);
            ok = ok && append_in(&clause, scope->rules[idx[k]].cols[0], uids, nuids);
            ok = ok && bson_append_document_end(&or, &clause);
        }
        ok = ok && bson_append_array_end(f, &or);
    }
    return ok ? 0 : mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
}

static void dump_item_free(dump_item *d)
{
    if (!d)
        return;
    free(d->coll);
    bson_destroy(d->filter);
    bson_destroy(d->options);
    free(d);
}

void mno_mongo_plan_free(mno_engine *en, mno_plan *plan)
{
    (void)en;
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n; i++) {
        free(plan->items[i].ns);
        free(plan->items[i].rule);
        free(plan->items[i].query);
        dump_item_free(plan->items[i].priv);
    }
    free(plan->items);
    for (size_t i = 0; i < plan->n_unscoped; i++)
        free(plan->unscoped[i]);
    free(plan->unscoped);
    memset(plan, 0, sizeof *plan);
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

int mno_mongo_plan(mno_engine *en, const mno_dump_opts *o, mno_plan *plan, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    int rc = -1;
    coll_info *colls = NULL;
    size_t ncolls = 0, nuids = 0;
    char **uids = NULL;
    mno_scope *scope = NULL;
    memset(plan, 0, sizeof *plan);

    if (!m->dbname || !*m->dbname)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "mongodb uri names no database: '%s' (add /DATABASE)", m->uri_redacted);
    if (!o->all && !o->tenant)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no tenant: give --tenant NAME or --all");
    if (!o->scope_path)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no scope file: give --scope FILE");
    dump_state *st = m->dump;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        m->dump = st;
    }
    st->retries = o->retries < 0 ? 0 : o->retries;

    scope = mno_scope_load(o->scope_path, e);
    if (!scope)
        goto done;
    if (!o->all && mno_mongo_tenant_orgs(o, &uids, &nuids, e) < 0)
        goto done;
    if (list_collections(m, &colls, &ncolls, e) < 0)
        goto done;
    if (ncolls == 0) {
        /* MongoDB answers a misspelt database name with an empty listing: never an empty archive */
        mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "database '%s' at '%s' has no collections (a wrong database name?)",
                m->dbname, m->uri_redacted);
        goto done;
    }

    plan->items = calloc(ncolls ? ncolls : 1, sizeof *plan->items);
    plan->unscoped = calloc(ncolls ? ncolls : 1, sizeof *plan->unscoped);
    if (!plan->items || !plan->unscoped) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < ncolls; i++) {
        const char *name = colls[i].name;
        size_t idx[16];
        size_t nr = mno_scope_find(scope, name, idx, 16);
        if (nr == 0) {
            if (!(plan->unscoped[plan->n_unscoped++] = strdup(name)))
                goto nomem;
            continue;
        }
        if (nr > 16) {
            mno_err(e, MNO_E_SCOPE, scope->file, scope->rules[idx[0]].line, NULL,
                    "%s: more than 16 rules", name);
            goto done;
        }
        if (scope->rules[idx[0]].kind == MNO_SCOPE_SKIP)
            continue;
        dump_item *d = calloc(1, sizeof *d);
        if (!d)
            goto nomem;
        d->filter = bson_new();
        d->options = bson_copy(colls[i].options);
        mno_plan_item *it = &plan->items[plan->n++];
        it->priv = d;
        it->count = -1;
        d->coll = strdup(name);
        it->ns = str_printf("%s.%s", m->dbname, name);
        if (!d->coll || !it->ns || !d->filter || !d->options)
            goto nomem;
        if (rules_filter(scope, idx, nr, o->all, uids, nuids, d->filter, &it->rule, e) < 0)
            goto done;
        size_t qlen;
        char *q = bson_as_relaxed_extended_json(d->filter, &qlen);
        it->query = q ? strdup(q) : NULL;
        bson_free(q);
        if (!it->query)
            goto nomem;
        if (o->count) {
            bson_error_t be;
            mongoc_collection_t *c = mongoc_client_get_collection(m->client, m->dbname, name);
            int64_t cnt = mongoc_collection_count_documents(c, d->filter, NULL, NULL, NULL, &be);
            mongoc_collection_destroy(c);
            if (cnt < 0) {
                mno_mongo_err(e, &be, it->ns, "cannot count documents");
                goto done;
            }
            it->count = cnt;
        }
    }
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
done:
    if (rc < 0)
        mno_mongo_plan_free(en, plan);
    coll_infos_free(colls, ncolls);
    mno_mongo_orgs_free(uids, nuids);
    mno_scope_free(scope);
    return rc;
}

/* ---- one section ---- */

/* The begin object: the collection's options and indexes, for restore to recreate. */
static json_t *section_begin(mno_mongo *m, mongoc_collection_t *c, const mno_plan_item *it,
                             int retries, mno_error *e)
{
    dump_item *d = it->priv;
    json_t *begin = NULL, *idx = NULL, *opts = NULL;
    for (int attempt = 0;; attempt++) {
        bson_error_t be;
        const bson_t *doc;
        json_decref(idx);
        idx = json_array();
        if (!idx)
            goto nomem;
        mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(c, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
            json_t *j = mno_mongo_bson_to_json(doc);
            if (!j || json_array_append_new(idx, j) < 0) {
                mongoc_cursor_destroy(cur);
                goto nomem;
            }
        }
        bool failed = mongoc_cursor_error(cur, &be);
        mongoc_cursor_destroy(cur);
        if (!failed)
            break;
        if (!is_retryable(&be) || attempt >= retries) {
            mno_mongo_err(e, &be, it->ns, "cannot list the indexes");
            goto fail;
        }
        pause_ms(backoff_ms(attempt + 1));
    }
    opts = mno_mongo_bson_to_json(d->options);
    begin = json_pack("{s:[s],s:o,s:o}", "key", "_id", "options", opts, "indexes", idx);
    opts = idx = NULL;
    if (!begin)
        goto nomem;
    (void)m;
    return begin;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, it->ns, "out of memory");
fail:
    json_decref(idx);
    json_decref(opts);
    return NULL;
}

/*
 * A section's documents go to the archive through a two-stage pipeline: a reading thread runs
 * the cursor (and its resumes after a dropped connection) and copies the documents into
 * batches; this thread takes their md5s, prints them as Extended JSON and writes, in order.
 * That costs more than reading, so a reader that finds every batch full, rather than wait,
 * hashes and prints the newest one that this thread has not started (and so once it has read
 * everything). A client is used by one thread at a time: by this one before the reader starts
 * and after it is joined. At most NBATCH batches are in flight, so memory stays flat whatever
 * the collection's size.
 */
#define NBATCH 4
#define REC_BATCH 1024                     /* documents per batch, or fewer ... */
#define REC_BATCH_BYTES ((size_t)256 << 10) /* ... once this many bytes are in */

typedef struct rbatch {
    mno_buf docs;                          /* the documents' BSON, back to back */
    size_t n;
    size_t len[REC_BATCH];
    const uint8_t *doc[REC_BATCH];         /* into docs, set once the batch is full */
    unsigned char dig[REC_BATCH][16];
    /* once published, under the reader's mu: */
    int claim;                             /* who prints it: 0 not yet decided, CLAIM_* */
    int printed;                           /* the reader is done with it: dig, and lines if encoded */
    int encoded;                           /* lines holds its record lines */
    mno_buf lines;
} rbatch;

#define CLAIM_READER 1
#define CLAIM_WRITER 2

typedef struct reader {
    /* set before the thread starts, read-only after */
    mongoc_collection_t *c;
    const bson_t *filter;                  /* the item's tenant filter */
    const bson_t *opts;                    /* sort by _id, batch size */
    const char *ns;
    int retries;
    const mno_writer *w;                   /* for mno_writer_bson_encode (the open section's parts) */
    mno_ejson_keys *keys;                  /* the reader's key cache for printing */
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rbatch *b[NBATCH];
    size_t head, full;                     /* the full batches: b[head], b[head + 1], ... (mod NBATCH) */
    int done;                              /* the reader has finished: rc and err are final */
    int stop;                              /* the writing side asks the reader to stop */
    int rc;
    mno_error err;                         /* the reader's error, when rc < 0 */
} reader;

/* With r->mu held: hashes and prints the newest full batch that nobody prints yet (not the
   writing side's next one), unlocking meanwhile. Returns 1, or 0 when there is none. */
static int reader_print_one(reader *r)
{
    rbatch *p = NULL;
    for (size_t k = r->full; k-- > 1 && !p;)
        if (!r->b[(r->head + k) % NBATCH]->claim)
            p = r->b[(r->head + k) % NBATCH];
    if (!p)
        return 0;
    p->claim = CLAIM_READER;
    pthread_mutex_unlock(&r->mu);
    mno_md5_many((const unsigned char *const *)p->doc, p->len, p->n, p->dig);
    mno_buf_reset(&p->lines);
    /* a failure (out of memory, a document that cannot be printed) leaves the batch to the
       writing side, which words the error */
    int enc = mno_writer_bson_encode(r->w, r->keys, &p->lines, p->n, p->doc, p->len) == 0;
    pthread_mutex_lock(&r->mu);
    p->encoded = enc;
    p->printed = 1;
    pthread_cond_broadcast(&r->cv);
    return 1;
}

/* The reader's next batch to fill, emptied; NULL when told to stop. While all are full, it
   prints one that nobody prints yet, else waits. */
static rbatch *reader_slot(reader *r)
{
    rbatch *b = NULL;
    pthread_mutex_lock(&r->mu);
    while (r->full == NBATCH && !r->stop)
        if (!reader_print_one(r))
            pthread_cond_wait(&r->cv, &r->mu);
    if (!r->stop)
        b = r->b[(r->head + r->full) % NBATCH];
    pthread_mutex_unlock(&r->mu);
    if (b) {
        mno_buf_reset(&b->docs);
        b->n = 0;
        b->claim = b->printed = b->encoded = 0;
    }
    return b;
}

/* Hands the filled batch b to the writing side. */
static void reader_publish(reader *r, rbatch *b)
{
    size_t off = 0;
    for (size_t i = 0; i < b->n; i++) {
        b->doc[i] = (const uint8_t *)b->docs.data + off;
        off += b->len[i];
    }
    pthread_mutex_lock(&r->mu);
    r->full++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The _id of the last document of b into last (reinitialized). Returns 0, or -1 when out of memory. */
static int note_last(const rbatch *b, bson_t *last)
{
    bson_t doc;
    bson_iter_t id;
    if (!bson_init_static(&doc, b->doc[b->n - 1], b->len[b->n - 1]) || !bson_iter_init_find(&id, &doc, "_id"))
        return -1;  /* not reached: every document was checked for its _id as it came */
    bson_reinit(last);
    return bson_append_iter(last, "_id", 3, &id) ? 0 : -1;
}

/* 1 when doc has an _id: the first element in every stored document, so found at once. */
static int has_id(const bson_t *doc)
{
    const uint8_t *p = bson_get_data(doc);
    bson_iter_t it;
    if (doc->len > 9 && p[4] && memcmp(p + 5, "_id", 4) == 0)
        return 1;
    return bson_iter_init_find(&it, doc, "_id");
}

/* The reading thread's work: every document of the section, in _id order, resumed after the
   last one read when the connection drops (up to r->retries times). Returns 0 or -1. */
static int read_all(reader *r, mno_error *e)
{
    int rc = -1, attempt = 0;
    bson_t filter = BSON_INITIALIZER, last = BSON_INITIALIZER;
    bool have_last = false;
    mongoc_cursor_t *cur = NULL;
    rbatch *b = NULL;

    for (;;) {
        const bson_t *doc;
        bson_error_t be;
        bson_destroy(&filter);
        if (have_last) {
            bson_iter_t li;
            if (!bson_iter_init_find(&li, &last, "_id") ||
                mno_mongo_after_filter(r->filter, bson_iter_value(&li), &filter) < 0) {
                bson_init(&filter);
                mno_err(e, MNO_E_NOMEM, NULL, 0, r->ns, "out of memory");
                goto done;
            }
        } else {
            bson_copy_to(r->filter, &filter);
        }
        cur = mongoc_collection_find_with_opts(r->c, &filter, r->opts, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
            if (!b && !(b = reader_slot(r))) {
                rc = 0;  /* told to stop: the writing side has its own error */
                goto done;
            }
            if (!has_id(doc)) {
                mno_err(e, MNO_E_FORMAT, NULL, 0, r->ns, "document without _id from the server");
                goto done;
            }
            /* copied: the cursor reuses doc */
            if (mno_buf_add(&b->docs, bson_get_data(doc), doc->len) < 0) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, r->ns, "out of memory");
                goto done;
            }
            b->len[b->n++] = doc->len;
            if (b->n == REC_BATCH || b->docs.len >= REC_BATCH_BYTES) {
                reader_publish(r, b);
                if (note_last(b, &last) < 0) {
                    mno_err(e, MNO_E_NOMEM, NULL, 0, r->ns, "out of memory");
                    goto done;
                }
                have_last = true;
                b = NULL;
            }
        }
        if (b && b->n) {
            /* what was read, before any retry */
            reader_publish(r, b);
            if (note_last(b, &last) < 0) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, r->ns, "out of memory");
                goto done;
            }
            have_last = true;
            b = NULL;
        }
        if (!mongoc_cursor_error(cur, &be))
            break;
        mongoc_cursor_destroy(cur);
        cur = NULL;
        if (!is_retryable(&be)) {
            mno_mongo_err(e, &be, r->ns, "cannot read documents");
            goto done;
        }
        if (attempt >= r->retries) {
            char after[256] = "the start";
            if (have_last) {
                bson_iter_t li;
                char v[220];
                bson_iter_init_find(&li, &last, "_id");
                value_text(bson_iter_value(&li), v, sizeof v);
                snprintf(after, sizeof after, "_id %s", v);
            }
            mno_err(e, MNO_E_SERVER, NULL, 0, r->ns,
                    "connection lost %d time%s, retries used up (--retries %d), after %s: %s (code %u)",
                    attempt + 1, attempt ? "s" : "", r->retries, after, be.message, be.code);
            goto done;
        }
        attempt++;
        pause_ms(backoff_ms(attempt));
    }
    rc = 0;
done:
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    bson_destroy(&last);
    return rc;
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    mno_error_clear(&r->err);
    int rc = read_all(r, &r->err);
    pthread_mutex_lock(&r->mu);
    /* all read: help with the batches still to print */
    while (rc == 0 && !r->stop && reader_print_one(r))
        ;
    r->rc = rc;
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Writes the reader's batches as they come, until it is done. Returns 0, or -1 with e filled
   (the reader's error, or the writer's: then the reader is still to be stopped). */
static int write_batches(reader *r, mno_writer *w, mno_error *e)
{
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->full && !r->done)
            pthread_cond_wait(&r->cv, &r->mu);
        if (!r->full) {
            int rc = r->rc;
            pthread_mutex_unlock(&r->mu);
            if (rc < 0)
                *e = r->err;
            return rc;
        }
        rbatch *b = r->b[r->head];
        if (!b->claim)
            b->claim = CLAIM_WRITER;
        while (b->claim == CLAIM_READER && !b->printed)
            pthread_cond_wait(&r->cv, &r->mu);
        pthread_mutex_unlock(&r->mu);
        if (b->claim == CLAIM_WRITER)
            mno_md5_many((const unsigned char *const *)b->doc, b->len, b->n, b->dig);
        const unsigned char (*dig)[16] = (const unsigned char (*)[16])b->dig;
        int rc = b->claim == CLAIM_READER && b->encoded
                     ? mno_writer_put_bson_lines(w, b->lines.data, b->lines.len, b->n, dig, e)
                     : mno_writer_recs_bson_digest(w, b->n, b->doc, b->len, dig, e);
        pthread_mutex_lock(&r->mu);
        r->head = (r->head + 1) % NBATCH;
        r->full--;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (rc < 0)
            return -1;
    }
}

int mno_mongo_dump_section(mno_engine *en, const mno_plan_item *it, mno_writer *w, mno_error *e)
{
    mno_mongo *m = MNO_MONGO(en);
    dump_item *d = it->priv;
    dump_state *st = m->dump;
    int rc = -1, started = 0;
    bson_t opts = BSON_INITIALIZER, sort;
    mongoc_collection_t *c = mongoc_client_get_collection(m->client, m->dbname, d->coll);
    json_t *begin = NULL;
    reader *r = calloc(1, sizeof *r);
    pthread_t th;

    if (!r) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, it->ns, "out of memory");
        goto done;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (!(r->keys = calloc(1, sizeof *r->keys))) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, it->ns, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < NBATCH; i++) {
        if (!(r->b[i] = calloc(1, sizeof *r->b[i]))) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, it->ns, "out of memory");
            goto done;
        }
    }
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT32(&opts, "batchSize", BATCH_SIZE);
    r->c = c;
    r->filter = d->filter;
    r->opts = &opts;
    r->ns = it->ns;
    r->retries = st ? st->retries : 0;
    r->w = w;

    if (!(begin = section_begin(m, c, it, r->retries, e)))
        goto done;
    if (mno_writer_begin(w, it->ns, begin, e) < 0)
        goto done;

    /* the reader leaves the tool's signals (it removes its partial file) to this thread */
    int err = mno_mongo_thread_start(&th, reader_main, r);
    if (err) {
        mno_err(e, MNO_E_INTERNAL, NULL, 0, it->ns, "cannot start a reading thread: %s", strerror(err));
        goto done;
    }
    started = 1;
    if (write_batches(r, w, e) < 0)
        goto done;
    if (mno_writer_end(w, e) < 0)
        goto done;
    rc = 0;
done:
    if (started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(th, NULL);
    }
    if (r) {
        for (size_t i = 0; i < NBATCH; i++) {
            if (r->b[i]) {
                mno_buf_release(&r->b[i]->docs);
                mno_buf_release(&r->b[i]->lines);
            }
            free(r->b[i]);
        }
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r->keys);
        free(r);
    }
    mongoc_collection_destroy(c);
    json_decref(begin);
    bson_destroy(&opts);
    return rc;
}

void mno_mongo_dump_free(mno_engine *en)
{
    mno_mongo *m = MNO_MONGO(en);
    if (m) {
        free(m->dump);
        m->dump = NULL;
    }
}
