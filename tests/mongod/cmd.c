/* cmd.c: command dispatch, the handshake and the database/collection/index commands. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mongod.h"

volatile int md_verbose;

void cmd_error(bson_t *reply, int32_t code, const char *codename, const char *fmt, ...)
{
    va_list ap;
    char *m;
    va_start(ap, fmt);
    m = bson_strdupv_printf(fmt, ap);
    va_end(ap);
    bson_reinit(reply);
    BSON_APPEND_DOUBLE(reply, "ok", 0.0);
    BSON_APPEND_UTF8(reply, "errmsg", m);
    BSON_APPEND_INT32(reply, "code", code);
    if (codename)
        BSON_APPEND_UTF8(reply, "codeName", codename);
    bson_free(m);
}

static const char *code_name(int32_t code)
{
    switch (code) {
    case 2: return "BadValue";
    case 9: return "FailedToParse";
    case 14: return "TypeMismatch";
    case 22: return "InvalidBSON";
    case 26: return "NamespaceNotFound";
    case 27: return "IndexNotFound";
    case 28: return "PathNotViable";
    case 43: return "CursorNotFound";
    case 48: return "NamespaceExists";
    case 59: return "CommandNotFound";
    case 66: return "ImmutableField";
    case 72: return "InvalidOptions";
    case 73: return "InvalidNamespace";
    case 85: return "IndexOptionsConflict";
    case 86: return "IndexKeySpecsConflict";
    case 10334: return "BSONObjectTooLarge";
    case 11000: return "DuplicateKey";
    case 40324: return "Location40324";
    default: return NULL;
    }
}

static int fail(bson_t *reply, int32_t code, bson_string_t *msg)
{
    cmd_error(reply, code, code_name(code), "%s", msg->str);
    return -1;
}

/* ---- document sequences ---- */

bool docs_iter_init(docs_iter *di, mreq *r, const char *field)
{
    memset(di, 0, sizeof *di);
    for (int i = 0; i < r->nseqs; i++) {
        if (!strcmp(r->seqs[i].name, field)) {
            di->seq = &r->seqs[i];
            return true;
        }
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, r->body, field) && BSON_ITER_HOLDS_ARRAY(&it)) {
        bson_iter_recurse(&it, &di->arr);
        di->use_arr = true;
        return true;
    }
    return false;
}

bool docs_iter_next(docs_iter *di, const uint8_t **data, uint32_t *len)
{
    if (di->use_arr) {
        while (bson_iter_next(&di->arr)) {
            if (BSON_ITER_HOLDS_DOCUMENT(&di->arr)) {
                bson_iter_document(&di->arr, len, data);
                return true;
            }
        }
        return false;
    }
    if (!di->seq || di->off + 5 > di->seq->len)
        return false;
    uint32_t l;
    memcpy(&l, di->seq->data + di->off, 4);
    l = BSON_UINT32_FROM_LE(l);
    if (l < 5 || l > di->seq->len - di->off)
        return false;
    *data = di->seq->data + di->off;
    *len = l;
    di->off += l;
    return true;
}

/* ---- handshake and server information ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hello_fields(bson_t *reply, bool legacy)
{
    BSON_APPEND_BOOL(reply, "helloOk", true);
    BSON_APPEND_BOOL(reply, legacy ? "ismaster" : "isWritablePrimary", true);
    BSON_APPEND_INT32(reply, "maxBsonObjectSize", MD_MAX_BSON);
    BSON_APPEND_INT32(reply, "maxMessageSizeBytes", MD_MAX_MESSAGE);
    BSON_APPEND_INT32(reply, "maxWriteBatchSize", MD_MAX_BATCH);
    BSON_APPEND_DATE_TIME(reply, "localTime", now_ms());
    BSON_APPEND_INT32(reply, "logicalSessionTimeoutMinutes", 30);
    BSON_APPEND_INT32(reply, "connectionId", 1);
    BSON_APPEND_INT32(reply, "minWireVersion", 0);
    BSON_APPEND_INT32(reply, "maxWireVersion", 17);
    BSON_APPEND_BOOL(reply, "readOnly", false);
}

static int c_hello(mreq *r, const char *name, bson_t *reply)
{
    (void)r;
    hello_fields(reply, strcmp(name, "hello") != 0);
    return 0;
}

static int c_ok(mreq *r, const char *name, bson_t *reply)
{
    (void)r, (void)name, (void)reply;
    return 0;
}

static int c_buildinfo(mreq *r, const char *name, bson_t *reply)
{
    (void)r, (void)name;
    BSON_APPEND_UTF8(reply, "version", "6.0.0");
    BSON_APPEND_UTF8(reply, "gitVersion", "mno-test-mongod");
    bson_t a;
    BSON_APPEND_ARRAY_BEGIN(reply, "versionArray", &a);
    BSON_APPEND_INT32(&a, "0", 6);
    BSON_APPEND_INT32(&a, "1", 0);
    BSON_APPEND_INT32(&a, "2", 0);
    BSON_APPEND_INT32(&a, "3", 0);
    bson_append_array_end(reply, &a);
    BSON_APPEND_UTF8(reply, "sysInfo", "deprecated");
    BSON_APPEND_INT32(reply, "bits", 64);
    BSON_APPEND_BOOL(reply, "debug", false);
    BSON_APPEND_INT32(reply, "maxBsonObjectSize", MD_MAX_BSON);
    bson_t m;
    BSON_APPEND_ARRAY_BEGIN(reply, "modules", &m);
    bson_append_array_end(reply, &m);
    BSON_APPEND_UTF8(reply, "javascriptEngine", "none");
    return 0;
}

static int c_serverstatus(mreq *r, const char *name, bson_t *reply)
{
    (void)r, (void)name;
    BSON_APPEND_UTF8(reply, "host", "127.0.0.1");
    BSON_APPEND_UTF8(reply, "version", "6.0.0");
    BSON_APPEND_UTF8(reply, "process", "mno-test-mongod");
    BSON_APPEND_INT64(reply, "pid", (int64_t)getpid());
    BSON_APPEND_DATE_TIME(reply, "localTime", now_ms());
    bson_t m, c, o;
    BSON_APPEND_DOCUMENT_BEGIN(reply, "metrics", &m);
    BSON_APPEND_DOCUMENT_BEGIN(&m, "cursor", &c);
    BSON_APPEND_DOCUMENT_BEGIN(&c, "open", &o);
    BSON_APPEND_INT64(&o, "total", (int64_t)cursor_count());
    bson_append_document_end(&c, &o);
    bson_append_document_end(&m, &c);
    bson_append_document_end(reply, &m);
    return 0;
}

static int c_fault(mreq *r, const char *name, bson_t *reply)
{
    bson_string_t *msg = bson_string_new(NULL);
    (void)name;
    int rc = 0;
    if (strcmp(r->db, "admin")) {
        bson_string_append(msg, "mnoFault may only be run against the admin database.");
        rc = fail(reply, 13, msg);
    } else {
        int code = fault_command(r->body, reply, msg);
        if (code)
            rc = fail(reply, code, msg);
    }
    bson_string_free(msg, true);
    return rc;
}

/* ---- names ---- */

static bool valid_db(const char *s)
{
    if (!*s || strlen(s) >= 64)
        return false;
    for (; *s; s++)
        if (strchr("/\\. \"$", *s))
            return false;
    return true;
}

/* Reads the collection name from the command's first field; replies with an error when bad. */
static const char *coll_arg(mreq *r, bson_t *reply)
{
    bson_iter_t it;
    bson_iter_init(&it, r->body);
    bson_iter_next(&it);
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
        cmd_error(reply, 73, "InvalidNamespace", "collection name has invalid type %s",
                  BSON_ITER_HOLDS_BINARY(&it) ? "binData (UUIDs are not supported)" : "(not a string)");
        return NULL;
    }
    const char *c = bson_iter_utf8(&it, NULL);
    if (!*c || strchr(c, '$') || strlen(c) > 200) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid namespace specified '%s.%s'", r->db, c);
        return NULL;
    }
    return c;
}

/* ---- databases and collections ---- */

static int c_listdatabases(mreq *r, const char *name, bson_t *reply)
{
    size_t n;
    mdb **dbs = store_dbs(&n);
    bson_iter_t it;
    bool name_only = bson_iter_init_find(&it, r->body, "nameOnly") && bson_iter_as_bool(&it);
    bson_t filter;
    bool have_filter = false;
    (void)name;
    if (bson_iter_init_find(&it, r->body, "filter") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t l;
        const uint8_t *d;
        bson_iter_document(&it, &l, &d);
        bson_init_static(&filter, d, l);
        bson_string_t *msg = bson_string_new(NULL);
        int code = match_check(&filter, msg);
        if (code) {
            fail(reply, code, msg);
            bson_string_free(msg, true);
            return -1;
        }
        bson_string_free(msg, true);
        have_filter = true;
    }
    bson_t arr;
    int64_t total = 0;
    uint32_t i = 0;
    BSON_APPEND_ARRAY_BEGIN(reply, "databases", &arr);
    for (size_t k = 0; k < n; k++) {
        if (!dbs[k]->ncolls)
            continue;
        int64_t size = 0;
        for (size_t j = 0; j < dbs[k]->ncolls; j++)
            size += (int64_t)dbs[k]->colls[j]->bytes + 4096;
        bson_t e = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&e, "name", dbs[k]->name);
        if (!name_only) {
            BSON_APPEND_INT64(&e, "sizeOnDisk", size);
            BSON_APPEND_BOOL(&e, "empty", false);
        }
        if (!have_filter || match_doc(&filter, &e)) {
            char kb[16];
            const char *key;
            bson_uint32_to_string(i++, &key, kb, sizeof kb);
            BSON_APPEND_DOCUMENT(&arr, key, &e);
            total += size;
        }
        bson_destroy(&e);
    }
    bson_append_array_end(reply, &arr);
    if (!name_only) {
        BSON_APPEND_INT64(reply, "totalSize", total);
        BSON_APPEND_INT64(reply, "totalSizeMb", total / (1024 * 1024));
    }
    return 0;
}

static int64_t batch_size_opt(const bson_t *body, int64_t dflt)
{
    bson_iter_t it, c;
    if (bson_iter_init_find(&it, body, "cursor") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
        bson_iter_recurse(&it, &c) && bson_iter_find(&c, "batchSize") && BSON_ITER_HOLDS_NUMBER(&c))
        return bson_iter_as_int64(&c);
    return dflt;
}

static mdoc *doc_from(bson_t *b) { return mdoc_any(bson_get_data(b), b->len); }

static void coll_info(const mdb *db, const mcoll *c, bool name_only, bson_t *e)
{
    (void)db;
    BSON_APPEND_UTF8(e, "name", c->name);
    BSON_APPEND_UTF8(e, "type", "collection");
    if (name_only)
        return;
    BSON_APPEND_DOCUMENT(e, "options", c->options);
    bson_t info;
    BSON_APPEND_DOCUMENT_BEGIN(e, "info", &info);
    BSON_APPEND_BOOL(&info, "readOnly", false);
    bson_append_document_end(e, &info);
    BSON_APPEND_DOCUMENT(e, "idIndex", c->idx[0]->spec);
}

static int c_listcollections(mreq *r, const char *name, bson_t *reply)
{
    bson_iter_t it;
    bool name_only = bson_iter_init_find(&it, r->body, "nameOnly") && bson_iter_as_bool(&it);
    bson_t filter;
    bool have_filter = false;
    (void)name;
    if (bson_iter_init_find(&it, r->body, "filter") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t l;
        const uint8_t *d;
        bson_iter_document(&it, &l, &d);
        bson_init_static(&filter, d, l);
        bson_string_t *msg = bson_string_new(NULL);
        int code = match_check(&filter, msg);
        if (code) {
            fail(reply, code, msg);
            bson_string_free(msg, true);
            return -1;
        }
        bson_string_free(msg, true);
        have_filter = true;
    }
    mdb *db = store_db(r->db, false);
    size_t n = 0;
    mdoc **docs = NULL;
    if (db && db->ncolls) {
        docs = calloc(db->ncolls, sizeof *docs);
        for (size_t i = 0; i < db->ncolls; i++) {
            bson_t full = BSON_INITIALIZER;
            coll_info(db, db->colls[i], false, &full);
            if (!have_filter || match_doc(&filter, &full)) {
                if (name_only) {
                    bson_t e = BSON_INITIALIZER;
                    coll_info(db, db->colls[i], true, &e);
                    docs[n++] = doc_from(&e);
                    bson_destroy(&e);
                } else {
                    docs[n++] = doc_from(&full);
                }
            }
            bson_destroy(&full);
        }
    }
    char *ns = bson_strdup_printf("%s.$cmd.listCollections", r->db);
    mcursor *c = cursor_new(ns, docs, n);
    cursor_reply(c, reply, batch_size_opt(r->body, -1), true, false, SIZE_MAX);
    bson_free(ns);
    return 0;
}

static int c_listindexes(mreq *r, const char *name, bson_t *reply)
{
    const char *cn = coll_arg(r, reply);
    (void)name;
    if (!cn)
        return -1;
    mdb *db = store_db(r->db, false);
    mcoll *c = db ? store_coll(db, cn, false, NULL) : NULL;
    if (!c) {
        cmd_error(reply, 26, "NamespaceNotFound", "ns does not exist: %s.%s", r->db, cn);
        return -1;
    }
    mdoc **docs = calloc(c->nidx, sizeof *docs);
    for (size_t i = 0; i < c->nidx; i++)
        docs[i] = doc_from(c->idx[i]->spec);
    char *ns = bson_strdup_printf("%s.%s", r->db, cn);
    mcursor *cur = cursor_new(ns, docs, c->nidx);
    cursor_reply(cur, reply, batch_size_opt(r->body, -1), true, false, SIZE_MAX);
    bson_free(ns);
    return 0;
}

static int c_create(mreq *r, const char *name, bson_t *reply)
{
    const char *cn = coll_arg(r, reply);
    (void)name;
    if (!cn)
        return -1;
    if (!valid_db(r->db)) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid database name: '%s'", r->db);
        return -1;
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, r->body, "viewOn")) {
        cmd_error(reply, 2, "BadValue", "mno-test-mongod does not support views");
        return -1;
    }
    mdb *db = store_db(r->db, true);
    if (store_coll(db, cn, false, NULL)) {
        cmd_error(reply, 48, "NamespaceExists", "Collection %s.%s already exists.", r->db, cn);
        return -1;
    }
    mcoll *c = store_coll(db, cn, true, NULL);
    bson_iter_init(&it, r->body);
    bson_iter_next(&it);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (k[0] == '$' || !strcmp(k, "lsid") || !strcmp(k, "writeConcern") || !strcmp(k, "comment") ||
            !strcmp(k, "txnNumber") || !strcmp(k, "autocommit") || !strcmp(k, "startTransaction"))
            continue;
        bson_append_iter(c->options, k, -1, &it);
    }
    return 0;
}

static int c_drop(mreq *r, const char *name, bson_t *reply)
{
    const char *cn = coll_arg(r, reply);
    (void)name;
    if (!cn)
        return -1;
    mdb *db = store_db(r->db, false);
    mcoll *c = db ? store_coll(db, cn, false, NULL) : NULL;
    if (!c) {
        cmd_error(reply, 26, "NamespaceNotFound", "ns not found");
        return -1;
    }
    BSON_APPEND_INT32(reply, "nIndexesWas", (int32_t)c->nidx);
    char *ns = bson_strdup_printf("%s.%s", r->db, cn);
    BSON_APPEND_UTF8(reply, "ns", ns);
    bson_free(ns);
    store_drop_coll(db, cn);
    return 0;
}

static int c_dropdatabase(mreq *r, const char *name, bson_t *reply)
{
    (void)name, (void)reply;
    store_drop_db(r->db);
    return 0;
}

static int c_renamecollection(mreq *r, const char *name, bson_t *reply)
{
    bson_iter_t it;
    const char *from, *to;
    (void)name;
    if (strcmp(r->db, "admin")) {
        cmd_error(reply, 13, "Unauthorized", "renameCollection may only be run against the admin database.");
        return -1;
    }
    bson_iter_init(&it, r->body);
    bson_iter_next(&it);
    from = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
    to = bson_iter_init_find(&it, r->body, "to") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
    bool drop_target = bson_iter_init_find(&it, r->body, "dropTarget") && bson_iter_as_bool(&it);
    const char *fd = from ? strchr(from, '.') : NULL, *td = to ? strchr(to, '.') : NULL;
    if (!fd || !td || !fd[1] || !td[1] || strchr(td + 1, '$')) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid namespace specified");
        return -1;
    }
    char *fdb = bson_strndup(from, (size_t)(fd - from)), *tdb = bson_strndup(to, (size_t)(td - to));
    int rc = -1;
    mdb *sdb = store_db(fdb, false);
    mcoll *src = sdb ? store_coll(sdb, fd + 1, false, NULL) : NULL;
    if (!src) {
        cmd_error(reply, 26, "NamespaceNotFound", "Source collection %s does not exist", from);
        goto out;
    }
    if (!strcmp(from, to)) {
        cmd_error(reply, 20, "IllegalOperation", "Can't rename a collection to itself");
        goto out;
    }
    if (!valid_db(tdb)) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid target namespace: %s", to);
        goto out;
    }
    mdb *ddb = store_db(tdb, true);
    sdb = store_db(fdb, false); /* the array may have moved */
    if (store_coll(ddb, td + 1, false, NULL)) {
        if (!drop_target) {
            cmd_error(reply, 48, "NamespaceExists", "target namespace exists");
            goto out;
        }
        store_drop_coll(ddb, td + 1);
    }
    /* move the collection: create the target slot, swap contents */
    mcoll *dst = store_coll(ddb, td + 1, true, NULL);
    src = store_coll(sdb, fd + 1, false, NULL);
    char *dname = dst->name;
    mcoll tmp = *dst;
    *dst = *src;
    dst->name = dname;
    tmp.name = src->name;
    *src = tmp;
    store_drop_coll(sdb, fd + 1);
    rc = 0;
out:
    bson_free(fdb);
    bson_free(tdb);
    return rc;
}

static int c_createindexes(mreq *r, const char *name, bson_t *reply)
{
    const char *cn = coll_arg(r, reply);
    bson_iter_t it, a;
    (void)name;
    if (!cn)
        return -1;
    if (!valid_db(r->db)) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid database name: '%s'", r->db);
        return -1;
    }
    if (!bson_iter_init_find(&it, r->body, "indexes") || !BSON_ITER_HOLDS_ARRAY(&it)) {
        cmd_error(reply, 9, "FailedToParse", "BSON field 'createIndexes.indexes' is missing but a required field");
        return -1;
    }
    mdb *db = store_db(r->db, true);
    bool created;
    mcoll *c = store_coll(db, cn, true, &created);
    int32_t before = (int32_t)c->nidx;
    bool all_exist = true;
    bson_iter_recurse(&it, &a);
    while (bson_iter_next(&a)) {
        bson_t spec;
        uint32_t l;
        const uint8_t *d;
        if (!BSON_ITER_HOLDS_DOCUMENT(&a)) {
            cmd_error(reply, 14, "TypeMismatch", "The field 'indexes' must be an array of objects");
            return -1;
        }
        bson_iter_document(&a, &l, &d);
        bson_init_static(&spec, d, l);
        bson_string_t *msg = bson_string_new(NULL);
        int code = store_add_index(db, c, &spec, msg);
        if (code > 1) {
            fail(reply, code, msg);
            bson_string_free(msg, true);
            return -1;
        }
        if (code == 0)
            all_exist = false;
        bson_string_free(msg, true);
    }
    BSON_APPEND_INT32(reply, "numIndexesBefore", before);
    BSON_APPEND_INT32(reply, "numIndexesAfter", (int32_t)c->nidx);
    if (all_exist)
        BSON_APPEND_UTF8(reply, "note", "all indexes already exist");
    BSON_APPEND_BOOL(reply, "createdCollectionAutomatically", created);
    return 0;
}

static int c_dropindexes(mreq *r, const char *name, bson_t *reply)
{
    const char *cn = coll_arg(r, reply);
    bson_iter_t it;
    (void)name;
    if (!cn)
        return -1;
    mdb *db = store_db(r->db, false);
    mcoll *c = db ? store_coll(db, cn, false, NULL) : NULL;
    if (!c) {
        cmd_error(reply, 26, "NamespaceNotFound", "ns not found %s.%s", r->db, cn);
        return -1;
    }
    int32_t was = (int32_t)c->nidx;
    if (!bson_iter_init_find(&it, r->body, "index")) {
        cmd_error(reply, 9, "FailedToParse", "BSON field 'dropIndexes.index' is missing but a required field");
        return -1;
    }
    bson_string_t *msg = bson_string_new(NULL);
    int code = 0;
    if (BSON_ITER_HOLDS_UTF8(&it) && !strcmp(bson_iter_utf8(&it, NULL), "*")) {
        while (c->nidx > 1)
            store_drop_index(c, c->idx[1]->name, msg);
    } else if (BSON_ITER_HOLDS_UTF8(&it)) {
        code = store_drop_index(c, bson_iter_utf8(&it, NULL), msg);
    } else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t l;
        const uint8_t *d;
        bson_t key;
        bson_iter_document(&it, &l, &d);
        bson_init_static(&key, d, l);
        size_t i;
        for (i = 0; i < c->nidx; i++)
            if (bson_equal(c->idx[i]->key, &key))
                break;
        if (i == c->nidx) {
            bson_string_append(msg, "can't find index with key");
            code = 27;
        } else
            code = store_drop_index(c, c->idx[i]->name, msg);
    }
    if (code) {
        fail(reply, code, msg);
        bson_string_free(msg, true);
        return -1;
    }
    bson_string_free(msg, true);
    BSON_APPEND_INT32(reply, "nIndexesWas", was);
    return 0;
}

static int c_collstats(mreq *r, const char *name, bson_t *reply)
{
    const char *cn = coll_arg(r, reply);
    (void)name;
    if (!cn)
        return -1;
    mdb *db = store_db(r->db, false);
    mcoll *c = db ? store_coll(db, cn, false, NULL) : NULL;
    if (!c) {
        cmd_error(reply, 26, "NamespaceNotFound", "Collection [%s.%s] not found.", r->db, cn);
        return -1;
    }
    char *ns = bson_strdup_printf("%s.%s", r->db, cn);
    BSON_APPEND_UTF8(reply, "ns", ns);
    bson_free(ns);
    BSON_APPEND_INT64(reply, "count", (int64_t)c->ids.count);
    BSON_APPEND_INT64(reply, "size", (int64_t)c->bytes);
    BSON_APPEND_INT64(reply, "avgObjSize", c->ids.count ? (int64_t)(c->bytes / c->ids.count) : 0);
    BSON_APPEND_INT64(reply, "storageSize", (int64_t)c->bytes);
    BSON_APPEND_INT32(reply, "nindexes", (int32_t)c->nidx);
    return 0;
}

static int c_dbstats(mreq *r, const char *name, bson_t *reply)
{
    mdb *db = store_db(r->db, false);
    int64_t objects = 0, size = 0;
    (void)name;
    for (size_t i = 0; db && i < db->ncolls; i++) {
        objects += (int64_t)db->colls[i]->ids.count;
        size += (int64_t)db->colls[i]->bytes;
    }
    BSON_APPEND_UTF8(reply, "db", r->db);
    BSON_APPEND_INT64(reply, "collections", db ? (int64_t)db->ncolls : 0);
    BSON_APPEND_INT64(reply, "objects", objects);
    BSON_APPEND_INT64(reply, "dataSize", size);
    return 0;
}

/* ---- dispatch ---- */

static const struct { const char *name; cmd_fn fn; } cmds[] = {
    { "hello", c_hello }, { "isMaster", c_hello }, { "ismaster", c_hello },
    { "ping", c_ok }, { "endSessions", c_ok }, { "killSessions", c_ok },
    { "buildInfo", c_buildinfo }, { "buildinfo", c_buildinfo }, { "serverStatus", c_serverstatus },
    { "listDatabases", c_listdatabases }, { "listCollections", c_listcollections },
    { "listIndexes", c_listindexes }, { "create", c_create }, { "drop", c_drop },
    { "dropDatabase", c_dropdatabase }, { "renameCollection", c_renamecollection },
    { "createIndexes", c_createindexes }, { "dropIndexes", c_dropindexes },
    { "collStats", c_collstats }, { "dbStats", c_dbstats },
    { "find", cmd_find }, { "getMore", cmd_getmore }, { "killCursors", cmd_killcursors },
    { "insert", cmd_insert }, { "update", cmd_update }, { "delete", cmd_delete },
    { "count", cmd_count }, { "distinct", cmd_distinct }, { "aggregate", cmd_aggregate },
    { "mnoFault", c_fault },
    { NULL, NULL }
};

void cmd_run(mreq *r, bson_t *reply)
{
    bson_iter_t it;
    const char *name = "";
    if (bson_iter_init(&it, r->body) && bson_iter_next(&it))
        name = bson_iter_key(&it);
    int32_t code = 0;
    bson_string_t *msg = bson_string_new(NULL);
    pthread_mutex_lock(&md_lock);
    int f = fault_before(name, &code, msg);
    if (f == 1) {
        r->drop = true;
        goto out;
    }
    if (f == 2) {
        cmd_error(reply, code, NULL, "%s", msg->str);
        goto out;
    }
    if (bson_iter_init_find(&it, r->body, "txnNumber") || bson_iter_init_find(&it, r->body, "startTransaction")) {
        cmd_error(reply, 20, "IllegalOperation",
                  "Transaction numbers are only allowed on a replica set member or mongos");
        goto out;
    }
    int i;
    for (i = 0; cmds[i].name; i++)
        if (!strcmp(cmds[i].name, name))
            break;
    if (!cmds[i].name) {
        cmd_error(reply, 59, "CommandNotFound", "no such command: '%s'", name);
        goto out;
    }
    if (cmds[i].fn(r, name, reply) == 0 && !r->drop)
        BSON_APPEND_DOUBLE(reply, "ok", 1.0);
    if (fault_after(name))
        r->drop = true;
out:
    pthread_mutex_unlock(&md_lock);
    if (md_verbose) {
        char *j = bson_as_relaxed_extended_json(r->body, NULL);
        fprintf(stderr, "mno-test-mongod: %s.%s %.300s%s\n", r->db, name, j, r->drop ? " -> dropped" : "");
        bson_free(j);
    }
    bson_string_free(msg, true);
}
