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
 * of memory. It never takes a text that the reader's general path (jansson with
 * JSON_REJECT_DUPLICATES, then libbson) refuses: invalid UTF-8, a member name given twice in
 * one object, a number wrapper holding NUL all go to that path.
 */
int mno_ejson_text_to_bson(const char *p, size_t n, bson_t *out);

/* The same with buffers kept from one document to the next (for a reader's hot loop). */
typedef struct mno_ejson_parser mno_ejson_parser;
/* Returns a parser (mno_ejson_parser_free), or NULL when out of memory. */
mno_ejson_parser *mno_ejson_parser_new(void);
/* As mno_ejson_text_to_bson. */
int mno_ejson_parse(mno_ejson_parser *x, const char *p, size_t n, bson_t *out);
void mno_ejson_parser_free(mno_ejson_parser *x);

#endif
