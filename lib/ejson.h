/* ejson.h: a fast writer of canonical Extended JSON v2 from BSON bytes, byte for byte what
   libbson's bson_as_canonical_extended_json prints (the archive's mongo record form). */
#ifndef MNO_EJSON_H
#define MNO_EJSON_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define MNO_EJSON_NOMEM (-1)     /* out of memory */
#define MNO_EJSON_INVALID (-2)   /* corrupt BSON, invalid UTF-8, unknown type, nesting > 200 */

/*
 * Appends the canonical Extended JSON v2 text of the BSON document doc[0..len) to out, exactly
 * as bson_as_canonical_extended_json would print it ("{ "k" : { "$numberInt" : "1" } }"),
 * about twenty times faster. Returns 0; MNO_EJSON_NOMEM; or MNO_EJSON_INVALID where libbson
 * would return NULL (and also where it would print a lossy "{ ... }" for nesting deeper than
 * 200). On failure out is left as it was.
 */
int mno_ejson_canonical(mno_buf *out, const uint8_t *doc, size_t len);

/*
 * A cache of the printed form of keys: a collection's documents repeat the same keys with
 * values of the same types, and printing one then costs a copy of its key's text, which was
 * escaped and checked once (as UTF-8), with its value's opening ("{ \"$numberInt\" : \"").
 * Entries are found by the element's bytes (type, key, NUL; up to 16 of them), so the text is
 * always the one those bytes print. All zeros is an empty cache (no set-up, nothing to free);
 * one per thread (it is written as documents are printed).
 */
#define MNO_EJSON_KEYS_LOG2 8
#define MNO_EJSON_KEY_TEXT 96
typedef struct mno_ejson_key {
    char text[MNO_EJSON_KEY_TEXT + 16]; /* ", \"KEY\" : " and the opening of a value of the type,
                                           copied 16 bytes at a time; its length in the last byte */
    uint64_t head[2];   /* the element's type byte, key and NUL, zero-padded to 16 bytes */
} mno_ejson_key;
typedef struct mno_ejson_keys {
    mno_ejson_key e[1 << MNO_EJSON_KEYS_LOG2];
} mno_ejson_keys;

/* As mno_ejson_canonical, the same text, with the keys' printed forms taken from and kept in
   kc (NULL: none kept). */
int mno_ejson_canonical_keys(mno_ejson_keys *kc, mno_buf *out, const uint8_t *doc, size_t len);

#endif
