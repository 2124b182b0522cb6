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

#endif
