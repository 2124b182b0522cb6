/* cursor.c: server-side cursors over a materialized list of documents, served in batches. */
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

static mcursor **cursors;
static size_t ncursors, cap;
static int64_t next_id = 0x10000001;
__thread uint64_t md_conn;

mcursor *cursor_new(const char *ns, mdoc **docs, size_t n)
{
    mcursor *c = calloc(1, sizeof *c);
    c->id = next_id;
    next_id += 0x9e3779b1LL; /* distinct, not guessable in tests, positive */
    if (next_id < 0)
        next_id = 0x10000001;
    c->conn = md_conn;
    c->ns = strdup(ns);
    c->docs = docs;
    c->n = n;
    if (ncursors == cap) {
        cap = cap ? cap * 2 : 16;
        cursors = realloc(cursors, cap * sizeof *cursors);
    }
    cursors[ncursors++] = c;
    return c;
}

mcursor *cursor_get(int64_t id)
{
    for (size_t i = 0; i < ncursors; i++)
        if (cursors[i]->id == id)
            return cursors[i];
    return NULL;
}

void cursor_free(mcursor *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ncursors; i++) {
        if (cursors[i] == c) {
            cursors[i] = cursors[--ncursors];
            break;
        }
    }
    for (size_t i = c->pos; i < c->n; i++)
        mdoc_unref(c->docs[i]);
    free(c->docs);
    free(c->ns);
    free(c);
}

void cursor_free_all(void)
{
    while (ncursors)
        cursor_free(cursors[0]);
    free(cursors);
    cursors = NULL;
    cap = 0;
}

size_t cursor_count(void) { return ncursors; }

void cursor_free_conn(uint64_t conn)
{
    for (size_t i = 0; i < ncursors;) {
        if (cursors[i]->conn == conn)
            cursor_free(cursors[i]); /* moves the last one into slot i */
        else
            i++;
    }
}

size_t cursor_reply(mcursor *c, bson_t *reply, int64_t batch, bool first, bool single, size_t max_docs)
{
    bson_t cur, arr;
    size_t served = 0, bytes = 0;
    char kbuf[16];
    const char *key;
    bson_append_document_begin(reply, "cursor", 6, &cur);
    bson_append_array_begin(&cur, first ? "firstBatch" : "nextBatch", -1, &arr);
    while (c->pos < c->n && served < max_docs && (batch < 0 || (int64_t)served < batch)) {
        mdoc *d = c->docs[c->pos];
        if (served > 0 && bytes + d->len > (size_t)MD_MAX_BSON)
            break;
        bson_t b;
        mdoc_bson(d, &b);
        size_t kl = bson_uint32_to_string((uint32_t)served, &key, kbuf, sizeof kbuf);
        bson_append_document(&arr, key, (int)kl, &b);
        bytes += d->len;
        mdoc_unref(d);
        c->docs[c->pos++] = NULL;
        served++;
    }
    bson_append_array_end(&cur, &arr);
    bool done = single || c->pos >= c->n;
    bson_append_int64(&cur, "id", 2, done ? 0 : c->id);
    bson_append_utf8(&cur, "ns", 2, c->ns, -1);
    bson_append_document_end(reply, &cur);
    if (done)
        cursor_free(c);
    return served;
}
