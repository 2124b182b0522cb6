/* mongo-load.c: bulk-loads fixture documents (Extended JSON lines from tests/fixtures/gen.py connec) into MongoDB. */
/*
 * Usage: mongo-load URI < LINES
 *   URI    mongodb:// URI naming the database
 *   LINES  one JSON object a line: {"c": COLLECTION, "d": DOCUMENT} inserts DOCUMENT;
 *          {"c": COLLECTION, "i": KEYS, "n": NAME} creates the index NAME on KEYS.
 * Documents go in ordered bulk inserts of up to 1000 documents or 8 MB per collection. With -v,
 * prints "mongo-load: N documents, M indexes, K collections" on stderr at the end.
 * Exit status 0, or 2 with "mongo-load: error: input object N: ..." (N counts from 1).
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COLLS 256
#define BATCH_DOCS 1000
#define BATCH_BYTES (8u << 20)

typedef struct {
    char *name;
    mongoc_collection_t *coll;
    mongoc_bulk_operation_t *bulk;
    size_t docs, bytes;
} coll_t;

typedef struct {
    mongoc_client_t *client;
    mongoc_database_t *db;
    coll_t colls[MAX_COLLS];
    int ncolls;
    long long ndocs, nindexes;
    char err[1024];
} loader_t;

static coll_t *coll_get(loader_t *l, const char *name)
{
    for (int i = 0; i < l->ncolls; i++)
        if (strcmp(l->colls[i].name, name) == 0)
            return &l->colls[i];
    if (l->ncolls == MAX_COLLS) {
        snprintf(l->err, sizeof l->err, "more than %d collections", MAX_COLLS);
        return NULL;
    }
    coll_t *c = &l->colls[l->ncolls++];
    memset(c, 0, sizeof *c);
    c->name = bson_strdup(name);
    c->coll = mongoc_database_get_collection(l->db, name);
    return c;
}

/* flush: executes the pending bulk insert of C; returns 0 or -1 with l->err set. */
static int flush(loader_t *l, coll_t *c)
{
    int rc = -1;
    bson_t reply;
    bson_error_t e;
    if (!c->bulk)
        return 0;
    if (!mongoc_bulk_operation_execute(c->bulk, &reply, &e)) {
        char *js = bson_as_relaxed_extended_json(&reply, NULL);
        snprintf(l->err, sizeof l->err, "insert into '%s' failed: %s (%.300s)", c->name, e.message,
                 js ? js : "");
        bson_free(js);
        goto done;
    }
    rc = 0;
done:
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(c->bulk);
    c->bulk = NULL;
    c->docs = c->bytes = 0;
    return rc;
}

static int insert(loader_t *l, const char *name, const bson_t *doc)
{
    bson_error_t e;
    coll_t *c = coll_get(l, name);
    if (!c)
        return -1;
    if (!c->bulk)
        c->bulk = mongoc_collection_create_bulk_operation_with_opts(c->coll, NULL);
    if (!mongoc_bulk_operation_insert_with_opts(c->bulk, doc, NULL, &e)) {
        snprintf(l->err, sizeof l->err, "document for '%s' rejected: %s", name, e.message);
        return -1;
    }
    l->ndocs++;
    c->docs++;
    c->bytes += doc->len;
    if (c->docs >= BATCH_DOCS || c->bytes >= BATCH_BYTES)
        return flush(l, c);
    return 0;
}

static int create_index(loader_t *l, const char *name, const bson_t *keys, const char *iname)
{
    bson_t cmd, indexes, index, reply;
    bson_error_t e;
    int rc = 0;
    bson_init(&cmd);
    BSON_APPEND_UTF8(&cmd, "createIndexes", name);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT(&index, "key", keys);
    BSON_APPEND_UTF8(&index, "name", iname);
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(&cmd, &indexes);
    if (!mongoc_database_write_command_with_opts(l->db, &cmd, NULL, &reply, &e)) {
        snprintf(l->err, sizeof l->err, "index '%s' on '%s' failed: %s", iname, name, e.message);
        rc = -1;
    } else {
        l->nindexes++;
    }
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return rc;
}

/* line: handles one input object; returns 0 or -1 with l->err set. */
static int line(loader_t *l, const bson_t *obj)
{
    bson_iter_t it;
    const char *name, *iname = NULL;
    const uint8_t *data;
    uint32_t len;
    bson_t sub;
    if (!bson_iter_init_find(&it, obj, "c") || !BSON_ITER_HOLDS_UTF8(&it)) {
        snprintf(l->err, sizeof l->err, "no string \"c\" (the collection)");
        return -1;
    }
    name = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, obj, "n") && BSON_ITER_HOLDS_UTF8(&it))
        iname = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, obj, "d") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_iter_document(&it, &len, &data);
        if (!bson_init_static(&sub, data, len)) {
            snprintf(l->err, sizeof l->err, "bad document for '%s'", name);
            return -1;
        }
        return insert(l, name, &sub);
    }
    if (bson_iter_init_find(&it, obj, "i") && BSON_ITER_HOLDS_DOCUMENT(&it) && iname) {
        bson_iter_document(&it, &len, &data);
        if (!bson_init_static(&sub, data, len)) {
            snprintf(l->err, sizeof l->err, "bad index keys for '%s'", name);
            return -1;
        }
        return create_index(l, name, &sub, iname);
    }
    snprintf(l->err, sizeof l->err, "neither a document \"d\" nor an index \"i\" with its name \"n\"");
    return -1;
}

int main(int argc, char **argv)
{
    int status = 2, verbose = 0;
    long long n = 0;
    const char *uristr = NULL;
    mongoc_uri_t *uri = NULL;
    bson_json_reader_t *reader = NULL;
    bson_error_t e;
    loader_t *l = calloc(1, sizeof *l);
    if (argc == 3 && strcmp(argv[1], "-v") == 0)
        verbose = 1, uristr = argv[2];
    else if (argc == 2 && argv[1][0] != '-')
        uristr = argv[1];
    if (!l)
        return 2;
    if (!uristr) {
        fprintf(stderr, "usage: mongo-load [-v] URI < LINES\n");
        free(l);
        return 2;
    }
    mongoc_init();
    uri = mongoc_uri_new_with_error(uristr, &e);
    if (!uri) {
        fprintf(stderr, "mongo-load: error: bad URI: %s\n", e.message);
        goto done;
    }
    if (!mongoc_uri_get_database(uri)) {
        fprintf(stderr, "mongo-load: error: the URI names no database\n");
        goto done;
    }
    l->client = mongoc_client_new_from_uri_with_error(uri, &e);
    if (!l->client) {
        fprintf(stderr, "mongo-load: error: %s\n", e.message);
        goto done;
    }
    mongoc_client_set_error_api(l->client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(l->client, "mno-mongo-load");
    l->db = mongoc_client_get_database(l->client, mongoc_uri_get_database(uri));
    reader = bson_json_reader_new_from_fd(STDIN_FILENO, false);
    for (;;) {
        bson_t obj = BSON_INITIALIZER;
        int r = bson_json_reader_read(reader, &obj, &e);
        if (r < 0) {
            fprintf(stderr, "mongo-load: error: input object %lld: %s\n", n + 1, e.message);
            bson_destroy(&obj);
            goto done;
        }
        if (r == 0) {
            bson_destroy(&obj);
            break;
        }
        n++;
        r = line(l, &obj);
        bson_destroy(&obj);
        if (r < 0) {
            fprintf(stderr, "mongo-load: error: input object %lld: %s\n", n, l->err);
            goto done;
        }
    }
    for (int i = 0; i < l->ncolls; i++)
        if (flush(l, &l->colls[i]) < 0) {
            fprintf(stderr, "mongo-load: error: at the end of the input: %s\n", l->err);
            goto done;
        }
    if (verbose)
        fprintf(stderr, "mongo-load: %lld documents, %lld indexes, %d collections\n", l->ndocs,
                l->nindexes, l->ncolls);
    status = 0;
done:
    for (int i = 0; i < l->ncolls; i++) {
        if (l->colls[i].bulk)
            mongoc_bulk_operation_destroy(l->colls[i].bulk);
        mongoc_collection_destroy(l->colls[i].coll);
        bson_free(l->colls[i].name);
    }
    if (reader)
        bson_json_reader_destroy(reader);
    if (l->db)
        mongoc_database_destroy(l->db);
    if (l->client)
        mongoc_client_destroy(l->client);
    mongoc_uri_destroy(uri);
    free(l);
    mongoc_cleanup();
    return status;
}
