/* mongo_cursor_baseline.c: the baseline for the mongo dump bench: a plain libmongoc find loop (sorted by _id, same batch size as mno-dump) over every collection of a database, touching each document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mongoc/mongoc.h>

#define BATCH_SIZE 4096   /* as lib/engine/mongo/engine_mongo_dump.c */

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mongo_cursor_baseline mongodb://HOST/DB\n");
        return 2;
    }
    mongoc_init();
    bson_error_t be;
    int rc = 2;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[1], &be);
    if (!uri || !mongoc_uri_get_database(uri)) {
        fprintf(stderr, "mongo_cursor_baseline: bad uri (it must name a database)\n");
        return 2;
    }
    mongoc_client_t *cl = mongoc_client_new_from_uri(uri);
    mongoc_database_t *db = mongoc_client_get_database(cl, mongoc_uri_get_database(uri));
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &be);
    if (!names) {
        fprintf(stderr, "mongo_cursor_baseline: %s\n", be.message);
        goto done;
    }
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "batchSize", BCON_INT32(BATCH_SIZE));
    unsigned long long docs = 0, bytes = 0, touch = 0;
    for (char **n = names; *n; n++) {
        if (strncmp(*n, "system.", 7) == 0)
            continue;
        mongoc_collection_t *c = mongoc_database_get_collection(db, *n);
        bson_t filter = BSON_INITIALIZER;
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(cur, &doc)) {
            const uint8_t *p = bson_get_data(doc);
            docs++;
            bytes += doc->len;
            touch += p[doc->len / 2];   /* read the document's memory */
        }
        bool failed = mongoc_cursor_error(cur, &be);
        mongoc_cursor_destroy(cur);
        mongoc_collection_destroy(c);
        if (failed) {
            fprintf(stderr, "mongo_cursor_baseline: %s: %s\n", *n, be.message);
            bson_destroy(opts);
            goto done;
        }
    }
    bson_destroy(opts);
    printf("%llu documents, %llu bytes (%llu)\n", docs, bytes, touch % 10);
    rc = 0;
done:
    bson_strfreev(names);
    mongoc_database_destroy(db);
    mongoc_client_destroy(cl);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
}
