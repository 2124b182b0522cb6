/* fuzz_ejson.c: fuzz target for the Extended JSON parser (lib/archive/engine_mongo_json.c): the text fast path and the jansson path, each checked against libbson's own parser (bson_new_from_json) whenever it takes the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bson/bson.h>
#include <jansson.h>
#include "buf.h"
#include "engine_mongo_json.h"
#include "fuzz.h"

/* What libbson makes of the text (NULL: it refuses it). */
static bson_t *libbson(const char *p, size_t n)
{
    return bson_new_from_json((const uint8_t *)p, (ssize_t)n, NULL);
}

/* out, taken by one of our parsers, is a valid document equal byte for byte to libbson's. */
static void same_as_libbson(const uint8_t *doc, size_t len, const char *p, size_t n)
{
    bson_t b;
    size_t off;
    FUZZ_CHECK(bson_init_static(&b, doc, len));
    FUZZ_CHECK(bson_validate(&b, BSON_VALIDATE_NONE, &off));
    bson_t *ref = libbson(p, n);
    FUZZ_CHECK(ref != NULL);
    FUZZ_CHECK(ref->len == len && memcmp(bson_get_data(ref), doc, len) == 0);
    bson_destroy(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    /* 1. the reader's fast path over the text: 0 taken, 1 left to the general path */
    bson_t out = BSON_INITIALIZER;
    int rc = mno_ejson_text_to_bson(p, size, &out);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (rc == 0)
        same_as_libbson(bson_get_data(&out), out.len, p, size);
    bson_destroy(&out);
    /* the same appended to a buffer that already holds bytes: they stay, the rest is the same */
    mno_buf b = MNO_BUF_INIT;
    FUZZ_CHECK(mno_buf_adds(&b, "xyz") == 0);
    int rc2 = mno_ejson_text_to_buf(p, size, &b);
    FUZZ_CHECK(rc2 == rc);
    FUZZ_CHECK(b.len >= 3 && memcmp(b.data, "xyz", 3) == 0);
    if (rc2 == 0)
        same_as_libbson((const uint8_t *)b.data + 3, b.len - 3, p, size);
    else
        FUZZ_CHECK(b.len == 3);
    mno_buf_release(&b);
    /* 2. the jansson path (the general reader): the value jansson reads, as a document */
    json_t *v = json_loadb(p, size, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(v)) {
        bson_t doc = BSON_INITIALIZER;
        int jr = mno_json_to_bson(v, &doc);
        if (jr == 0) {
            /* libbson parses what jansson prints of it */
            char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            FUZZ_CHECK(txt != NULL);
            same_as_libbson(bson_get_data(&doc), doc.len, txt, strlen(txt));
            free(txt);
        }
        bson_destroy(&doc);
    }
    json_decref(v);
    return 0;
}
