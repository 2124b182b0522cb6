/* mongod_load.c: loads N Connec!-like documents of about 1 KB (UUID-string _ids in random order) into a MongoDB server with insert_many, then reads them all back sorted by _id in batches of 4096, a tenant's share by channel_id $in, and 1000 documents by _id; prints the time of each phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mongoc/mongoc.h>

#define CHUNK 10000      /* documents per insert_many call (the client splits by message size) */
#define BATCH_SIZE 4096  /* as lib/engine/mongo/engine_mongo_dump.c */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pseudo-random UUID-looking string from i (a bijection on the low 32 bits: ids are unique). */
static void make_id(uint64_t i, char out[48])
{
    uint32_t x = (uint32_t)i * 2654435761u ^ 0x5bd1e995u;
    snprintf(out, 48, "%08x-%04x-4%03x-8%03x-%012llx", x, (unsigned)(i & 0xffff), (unsigned)((i >> 4) & 0xfff),
             (unsigned)(x & 0xfff), (unsigned long long)(i & 0xffffffffffffULL));
}

static void make_doc(uint64_t i, bson_t *b)
{
    char id[48], buf[64];
    bson_t sub, arr;
    bson_decimal128_t dec;
    make_id(i, id);
    BSON_APPEND_UTF8(b, "_id", id);
    snprintf(buf, sizeof buf, "org-%llu", (unsigned long long)(i % 997));
    BSON_APPEND_UTF8(b, "channel_id", buf);
    snprintf(buf, sizeof buf, "cld-%llu", (unsigned long long)(i % 31));
    BSON_APPEND_UTF8(b, "group_id", buf);
    snprintf(buf, sizeof buf, "C%llu", (unsigned long long)(i & 0xffffffffffffULL));
    BSON_APPEND_UTF8(b, "code", buf);
    BSON_APPEND_UTF8(b, "status", "ACTIVE");
    snprintf(buf, sizeof buf, "%llu.%02llu", (unsigned long long)i, (unsigned long long)(i % 100));
    bson_decimal128_from_string(buf, &dec);
    BSON_APPEND_DECIMAL128(b, "amount", &dec);
    BSON_APPEND_DATE_TIME(b, "created_at", 1475541383000LL + (int64_t)i);
    BSON_APPEND_DOCUMENT_BEGIN(b, "address", &sub);
    BSON_APPEND_UTF8(&sub, "line1", "1 Infinite Loop, Building 42, Floor 3, Suite 1234");
    BSON_APPEND_UTF8(&sub, "city", "Cupertino");
    BSON_APPEND_UTF8(&sub, "postal_code", "95014");
    bson_append_document_end(b, &sub);
    BSON_APPEND_ARRAY_BEGIN(b, "lines", &arr);
    for (int k = 0; k < 6; k++) {
        char key[4];
        snprintf(key, sizeof key, "%d", k);
        bson_append_document_begin(&arr, key, -1, &sub);
        snprintf(buf, sizeof buf, "item-%llu-%d", (unsigned long long)(i % 50), k);
        BSON_APPEND_UTF8(&sub, "item", buf);
        BSON_APPEND_DOUBLE(&sub, "price", (double)i * 0.25 + k);
        BSON_APPEND_INT32(&sub, "qty", (int32_t)(i % 1000) + k);
        BSON_APPEND_UTF8(&sub, "description", "A line of an invoice, long enough to look real.");
        bson_append_document_end(&arr, &sub);
    }
    bson_append_array_end(b, &arr);
    BSON_APPEND_UTF8(b, "notes", "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
                                 "tempor incididunt ut labore et dolore magna aliqua.");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mongod_load mongodb://HOST/DB N\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10);
    mongoc_init();
    bson_error_t be;
    int rc = 1;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[1], &be);
    if (!uri || !mongoc_uri_get_database(uri)) {
        fprintf(stderr, "mongod_load: bad uri (it must name a database)\n");
        return 2;
    }
    mongoc_client_t *cl = mongoc_client_new_from_uri(uri);
    mongoc_collection_t *c = mongoc_client_get_collection(cl, mongoc_uri_get_database(uri), "load");
    mongoc_collection_drop(c, NULL);
    bson_t *docs = calloc(CHUNK, sizeof *docs);
    const bson_t **ptrs = calloc(CHUNK, sizeof *ptrs);
    uint64_t bytes = 0;
    double t0 = now(), build = 0;
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        double b0 = now();
        for (; k < CHUNK && i < n; k++, i++) {
            bson_init(&docs[k]);
            make_doc(i, &docs[k]);
            bytes += docs[k].len;
            ptrs[k] = &docs[k];
        }
        build += now() - b0;
        bson_t reply;
        bool ok = mongoc_collection_insert_many(c, ptrs, k, NULL, &reply, &be);
        bson_destroy(&reply);
        for (size_t j = 0; j < k; j++)
            bson_destroy(&docs[j]);
        if (!ok) {
            fprintf(stderr, "mongod_load: insert: %s\n", be.message);
            goto done;
        }
    }
    double t1 = now();
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "batchSize", BCON_INT32(BATCH_SIZE));
    bson_t filter = BSON_INITIALIZER;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    uint64_t got = 0, rbytes = 0;
    double first = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        if (!got)
            first = now() - t1;
        got++;
        rbytes += doc->len;
    }
    bool failed = mongoc_cursor_error(cur, &be);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    double t2 = now();
    if (failed) {
        fprintf(stderr, "mongod_load: find: %s\n", be.message);
        goto done;
    }
    /* a tenant's scope: channel_id in 100 of the 997 organizations, sorted by _id */
    bson_t sf = BSON_INITIALIZER, in, arr;
    BSON_APPEND_DOCUMENT_BEGIN(&sf, "channel_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    for (int k = 0; k < 100; k++) {
        char key[8], v[32];
        snprintf(key, sizeof key, "%d", k);
        snprintf(v, sizeof v, "org-%d", k * 9);
        bson_append_utf8(&arr, key, -1, v, -1);
    }
    bson_append_array_end(&in, &arr);
    bson_append_document_end(&sf, &in);
    opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "batchSize", BCON_INT32(BATCH_SIZE));
    cur = mongoc_collection_find_with_opts(c, &sf, opts, NULL);
    uint64_t scoped = 0;
    while (mongoc_cursor_next(cur, &doc))
        scoped++;
    failed = mongoc_cursor_error(cur, &be);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&sf);
    double t3 = now();
    if (failed) {
        fprintf(stderr, "mongod_load: scoped find: %s\n", be.message);
        goto done;
    }
    /* one document by _id, 1000 times */
    for (uint64_t k = 0; k < 1000; k++) {
        char id[48];
        make_id((k * 7919) % n, id);
        bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
        cur = mongoc_collection_find_with_opts(c, f, NULL, NULL);
        if (!mongoc_cursor_next(cur, &doc)) {
            fprintf(stderr, "mongod_load: _id %s not found\n", id);
            mongoc_cursor_destroy(cur);
            bson_destroy(f);
            goto done;
        }
        mongoc_cursor_destroy(cur);
        bson_destroy(f);
    }
    double t4 = now();
    printf("%llu documents, %.1f MB: insert %.2f s (%.2f s building documents), "
           "find by _id %.2f s (first batch after %.2f s), %llu read back; "
           "scoped find ($in of 100) %.2f s, %llu documents; 1000 finds by _id %.3f s\n",
           (unsigned long long)n, (double)bytes / 1e6, t1 - t0, build, t2 - t1, first, (unsigned long long)got,
           t3 - t2, (unsigned long long)scoped, t4 - t3);
    rc = got == n && rbytes == bytes ? 0 : 1;
done:
    free(docs);
    free(ptrs);
    mongoc_collection_destroy(c);
    mongoc_client_destroy(cl);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
}
