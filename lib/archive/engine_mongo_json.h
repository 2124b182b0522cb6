/* engine_mongo_json.h: canonical Extended JSON v2, already parsed by jansson, straight to BSON. */
#ifndef MNO_ENGINE_MONGO_JSON_H
#define MNO_ENGINE_MONGO_JSON_H

#include <bson/bson.h>
#include <jansson.h>

/*
 * Appends the document v (a JSON object in canonical Extended JSON v2, as mno-dump writes it)
 * to the empty document out, byte for byte what bson_new_from_json makes of the same text,
 * without printing v and parsing it again. Returns 0 when done; 1 when v holds a form this
 * fast path leaves to libbson's parser (relaxed or legacy Extended JSON: bare numbers, $date
 * as a string, $uuid, unknown $ keys, ...): out is then to be discarded and the caller parses
 * json_dumps(v) with bson_new_from_json, which also gives the error for invalid input.
 */
int mno_json_to_bson(const json_t *v, bson_t *out);

/*
 * The same from the text of one document (p[0..n), canonical Extended JSON in the member
 * orders libbson prints), without jansson: the reader's fast path for record lines.
 * Returns 0, 1 for anything it leaves to the general path (out to be discarded), -1 when out
 * of memory.
 */
int mno_ejson_text_to_bson(const char *p, size_t n, bson_t *out);

/*
 * The same, appending the document's BSON bytes to out (from out->len) instead of to a
 * bson_t: the reader's fast path, with no copy and no allocation once out has grown.
 * Returns 0; 1 (left to the general path) or -1 (out of memory) with out as it was.
 */
struct mno_buf;
int mno_ejson_text_to_buf(const char *p, size_t n, struct mno_buf *out);

/* When line starts with the record envelope {"t":"rec","ns":"NS","v": of section ns (as the
   writer prints it), the offset of the document's text; else 0. */
size_t mno_ejson_rec_prefix(const char *line, size_t len, const char *ns);


/* The largest document the server stores (BSONObjMaxUserSize). */
#define MNO_BSON_MAX (16u * 1024 * 1024)

/* The nesting limit of documents and arrays (the top-level document is level 1), the server's. */
#define MNO_EJSON_MAX_DEPTH 100

/*
 * Checks the document doc (a jansson tree of Extended JSON, canonical or relaxed) before it
 * is converted: every type wrapper ($oid, $numberDecimal, $date, ...) exactly as the Extended
 * JSON specification defines it (libbson's parser takes some invalid values and makes other
 * values of them), no key with NUL, nesting at most MNO_EJSON_MAX_DEPTH. Returns 0, or -1 with
 * key[] holding the dotted path of the offending key (a.b.0) and why[] the reason.
 */
int mno_ejson_check(const json_t *doc, char *key, size_t keylen, char *why, size_t whylen);

/*
 * The reader's converter for a record's document v: mno_ejson_check, then mno_json_to_bson,
 * else libbson's parser on json_dumps(v). Returns the document (caller destroys) or NULL with
 * key[] (the offending key's path, may be empty) and why[] filled.
 */
bson_t *mno_ejson_to_bson(const json_t *v, char *key, size_t keylen, char *why, size_t whylen);

#endif
