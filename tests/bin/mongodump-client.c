/* mongodump-client.c: a small, independent MongoDB client for the mno-dump tests: insert, count, list documents as BSON hex, and turn an archive's records back into BSON hex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mongoc/mongoc.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: mongodump-client insert URI COLL          < extended JSON lines\n"
            "       mongodump-client insert-hex URI COLL      < BSON hex lines: each document with\n"
            "                                                  _id N (its line number) put first, inserted\n"
            "                                                  as is (no validation); prints 'inserted K\n"
            "                                                  refused M' (refusals on stderr)\n"
            "       mongodump-client count URI COLL [FILTER]   number of matching documents\n"
            "       mongodump-client hex URI COLL [FILTER]     'db.coll<TAB>hex' per document, _id order\n"
            "       mongodump-client ids URI COLL [FILTER]     canonical Extended JSON of each _id\n"
            "       mongodump-client ejson URI COLL [FILTER]   per document, _id order, the archive's rec line\n"
            "                                                  as libbson prints it (canonical Extended JSON)\n"
            "       mongodump-client colls URI                 collection names, sorted\n"
            "       mongodump-client command URI JSON          runs a command on the database, prints the reply\n"
            "       mongodump-client archive-hex FILE|-        'ns<TAB>hex' per rec line of a plain archive\n"
            "URI names the database. FILTER is Extended JSON (default {}).\n");
    exit(2);
}

static void die(const char *what, const bson_error_t *be)
{
    fprintf(stderr, "mongodump-client: %s: %s (domain %u, code %u)\n", what,
            be ? be->message : "", be ? be->domain : 0, be ? be->code : 0);
    exit(2);
}

static void print_hex(const char *ns, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    fputs(ns, stdout);
    putchar('\t');
    for (size_t i = 0; i < n; i++) {
        putchar(hx[p[i] >> 4]);
        putchar(hx[p[i] & 15]);
    }
    putchar('\n');
}

static bson_t *parse_json(const char *s)
{
    bson_error_t be;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &be);
    if (!b)
        die("bad extended json", &be);
    return b;
}

/* Each line of stdin as an Extended JSON document; inserted in order. */
static int do_insert(mongoc_collection_t *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long count = 0;
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(c, NULL);
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n <= 1)
            continue;
        bson_t *doc = parse_json(line);
        bson_error_t be;
        if (!mongoc_bulk_operation_insert_with_opts(bulk, doc, NULL, &be))
            die("insert", &be);
        bson_destroy(doc);
        count++;
    }
    free(line);
    if (count) {
        bson_error_t be;
        bson_t reply;
        if (!mongoc_bulk_operation_execute(bulk, &reply, &be))
            die("insert", &be);
        bson_destroy(&reply);
    }
    mongoc_bulk_operation_destroy(bulk);
    printf("%lld\n", count);
    return 0;
}

/* mode 0: hex, 1: _id as canonical Extended JSON, 2: rec lines (ns printed as is: plain names) */
static int do_find(mongoc_collection_t *c, const char *ns, const bson_t *filter, int mode)
{
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t be;
    while (mongoc_cursor_next(cur, &doc)) {
        if (mode == 2) {
            char *s = bson_as_canonical_extended_json(doc, NULL);
            if (!s) {
                fprintf(stderr, "mongodump-client: a document libbson cannot print\n");
                return 2;
            }
            printf("{\"t\":\"rec\",\"ns\":\"%s\",\"v\":%s}\n", ns, s);
            bson_free(s);
        } else if (mode == 1) {
            bson_iter_t it;
            bson_t one = BSON_INITIALIZER;
            if (bson_iter_init_find(&it, doc, "_id"))
                bson_append_iter(&one, "_id", 3, &it);
            char *s = bson_as_canonical_extended_json(&one, NULL);
            puts(s);
            bson_free(s);
            bson_destroy(&one);
        } else {
            print_hex(ns, bson_get_data(doc), doc->len);
        }
    }
    if (mongoc_cursor_error(cur, &be))
        die("find", &be);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_colls(mongoc_client_t *cl, const char *db)
{
    bson_error_t be;
    mongoc_database_t *d = mongoc_client_get_database(cl, db);
    char **names = mongoc_database_get_collection_names_with_opts(d, NULL, &be);
    if (!names)
        die("listCollections", &be);
    size_t n = 0;
    while (names[n])
        n++;
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(names[i], "system.", 7) != 0)
            puts(names[i]);
    bson_strfreev(names);
    mongoc_database_destroy(d);
    return 0;
}

/* The archive's rec lines (plain text; decompress first): each whole line parsed by libbson's
   Extended JSON parser, so v becomes a BSON subdocument without the archive reader's help. */
static int do_archive_hex(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mongodump-client: cannot open %s\n", path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (!strstr(line, "\"t\":\"rec\"") && !strstr(line, "\"t\": \"rec\""))
            continue;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        bson_error_t be;
        bson_t *b = bson_new_from_json((const uint8_t *)line, (ssize_t)len, &be);
        if (!b)
            die("archive line is not extended json", &be);
        bson_iter_t it;
        const char *ns = "?";
        if (bson_iter_init_find(&it, b, "ns") && BSON_ITER_HOLDS_UTF8(&it))
            ns = bson_iter_utf8(&it, NULL);
        bson_iter_t v;
        if (!bson_iter_init_find(&v, b, "v") || !BSON_ITER_HOLDS_DOCUMENT(&v)) {
            fprintf(stderr, "mongodump-client: %s:%lld: rec without a document v\n", path, lineno);
            return 2;
        }
        const uint8_t *data;
        uint32_t dlen;
        bson_iter_document(&v, &dlen, &data);
        print_hex(ns, data, dlen);
        bson_destroy(b);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return 0;
}

/* insert-hex: BSON hex lines, each with _id N in front, inserted byte for byte. */
static int do_insert_hex(mongoc_collection_t *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long ok = 0, bad = 0, num = 0;
    bson_t *opts = BCON_NEW("validate", BCON_BOOL(false));
    while ((n = getline(&line, &cap, stdin)) > 0) {
        num++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        size_t len = (size_t)n / 2;
        uint8_t *b = malloc(len + 1);
        for (size_t i = 0; i < len; i++) {
            unsigned v;
            sscanf(line + 2 * i, "%2x", &v);
            b[i] = (uint8_t)v;
        }
        bson_t src, d = BSON_INITIALIZER;
        bson_error_t be;
        if (!bson_init_static(&src, b, len) || bson_has_field(&src, "_id")) {
            fprintf(stderr, "mongodump-client: line %ld: skipped (not a document, or has an _id)\n", num);
            bad++;
        } else {
            bson_append_int32(&d, "_id", 3, (int32_t)num);
            bson_concat(&d, &src);
            if (mongoc_collection_insert_one(c, &d, opts, NULL, &be)) {
                ok++;
            } else {
                fprintf(stderr, "mongodump-client: line %ld: refused: %s\n", num, be.message);
                bad++;
            }
        }
        bson_destroy(&d);
        free(b);
    }
    free(line);
    bson_destroy(opts);
    printf("inserted %ld refused %ld\n", ok, bad);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "archive-hex") == 0)
        return do_archive_hex(argv[2]);
    mongoc_init();
    bson_error_t be;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[2], &be);
    if (!uri)
        die("bad uri", &be);
    const char *db = mongoc_uri_get_database(uri);
    if (!db)
        die("the uri names no database", NULL);
    mongoc_client_t *cl = mongoc_client_new_from_uri(uri);
    mongoc_client_set_error_api(cl, MONGOC_ERROR_API_VERSION_2);
    int rc = 0;
    if (strcmp(cmd, "colls") == 0) {
        rc = do_colls(cl, db);
    } else if (strcmp(cmd, "command") == 0) {
        if (argc < 4)
            usage();
        bson_t *c = parse_json(argv[3]), reply;
        if (!mongoc_client_command_simple(cl, db, c, NULL, &reply, &be))
            die("command", &be);
        char *s = bson_as_relaxed_extended_json(&reply, NULL);
        puts(s);
        bson_free(s);
        bson_destroy(&reply);
        bson_destroy(c);
    } else {
        if (argc < 4)
            usage();
        mongoc_collection_t *c = mongoc_client_get_collection(cl, db, argv[3]);
        bson_t *filter = parse_json(argc > 4 ? argv[4] : "{}");
        char ns[1024];
        snprintf(ns, sizeof ns, "%s.%s", db, argv[3]);
        if (strcmp(cmd, "insert") == 0) {
            rc = do_insert(c);
        } else if (strcmp(cmd, "insert-hex") == 0) {
            rc = do_insert_hex(c);
        } else if (strcmp(cmd, "count") == 0) {
            int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &be);
            if (n < 0)
                die("count", &be);
            printf("%lld\n", (long long)n);
        } else if (strcmp(cmd, "hex") == 0) {
            rc = do_find(c, ns, filter, 0);
        } else if (strcmp(cmd, "ids") == 0) {
            rc = do_find(c, ns, filter, 1);
        } else if (strcmp(cmd, "ejson") == 0) {
            rc = do_find(c, ns, filter, 2);
        } else {
            usage();
        }
        bson_destroy(filter);
        mongoc_collection_destroy(c);
    }
    mongoc_client_destroy(cl);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
}
