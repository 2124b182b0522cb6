/* mongo_insert_baseline.c: the baseline for the mongo restore bench: a plain libmongoc insert loop (unordered insert_many batches) of the documents of a BSON file; and the tool that makes that file from an archive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mongoc/mongoc.h>
#include "stream.h"

#define BATCH 10000   /* documents per insert_many: the driver splits by the server's limits */

static int usage(void)
{
    fprintf(stderr, "usage: mongo_insert_baseline insert mongodb://HOST/DB COLL FILE.bson\n"
                    "       mongo_insert_baseline tobson ARCHIVE > FILE.bson   (the records of every section)\n");
    return 2;
}

/* The records of every section of an archive (checked as it is read), as BSON back to back. */
static int tobson(const char *path)
{
    mno_error e;
    mno_item it;
    int rc = 2, k;
    mno_in *in = mno_in_open(path, &e);
    mno_reader *r = in ? mno_reader_new(in, NULL, &e) : NULL;
    if (!r)
        goto done;
    while ((k = mno_reader_next(r, &it, &e)) > 0)
        if (it.kind == MNO_ITEM_REC && it.doc)
            fwrite(bson_get_data(it.doc), 1, it.doc->len, stdout);
    if (k == 0)
        rc = 0;
done:
    if (rc)
        fprintf(stderr, "mongo_insert_baseline: %s\n", e.msg);
    mno_reader_free(r);
    mno_in_close(in);
    return rc;
}

static int insert(const char *uristr, const char *coll, const char *file)
{
    bson_error_t be;
    int rc = 2;
    unsigned long long n = 0;
    const bson_t *doc;
    bool eof = false;
    bson_t *batch[BATCH];
    size_t nb = 0;
    mongoc_init();
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uristr, &be);
    if (!uri || !mongoc_uri_get_database(uri)) {
        fprintf(stderr, "mongo_insert_baseline: bad uri (it must name a database)\n");
        return 2;
    }
    mongoc_client_t *cl = mongoc_client_new_from_uri(uri);
    mongoc_collection_t *c = mongoc_client_get_collection(cl, mongoc_uri_get_database(uri), coll);
    bson_reader_t *rd = bson_reader_new_from_file(file, &be);
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false), "validate", BCON_BOOL(false));
    if (!rd) {
        fprintf(stderr, "mongo_insert_baseline: %s: %s\n", file, be.message);
        goto done;
    }
    for (;;) {
        doc = bson_reader_read(rd, &eof);
        if (doc)
            batch[nb++] = bson_copy(doc);
        if (nb == BATCH || (!doc && nb)) {
            bool ok = mongoc_collection_insert_many(c, (const bson_t **)batch, nb, opts, NULL, &be);
            for (size_t i = 0; i < nb; i++)
                bson_destroy(batch[i]);
            n += nb;
            nb = 0;
            if (!ok) {
                fprintf(stderr, "mongo_insert_baseline: insert: %s\n", be.message);
                goto done;
            }
        }
        if (!doc)
            break;
    }
    if (!eof) {
        fprintf(stderr, "mongo_insert_baseline: %s: corrupt BSON\n", file);
        goto done;
    }
    printf("%llu documents\n", n);
    rc = 0;
done:
    bson_reader_destroy(rd);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    mongoc_client_destroy(cl);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "insert") == 0)
        return insert(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "tobson") == 0)
        return tobson(argv[2]);
    return usage();
}
