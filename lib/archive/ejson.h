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
 * always the one those bytes print: first the entry that came at the same place last time
 * (after the same key, or first inside the same key's value), else by a hash of the bytes
 * (open addressing; a cache three quarters full starts again empty). All zeros is an empty cache (no set-up, nothing to free); one per thread (it is written as
 * documents are printed).
 */
#define MNO_EJSON_KEYS_LOG2 8
#define MNO_EJSON_KEY_TEXT 62
typedef struct mno_ejson_key {
    unsigned char head[16]; /* the element's type byte, key and NUL; zero after them */
    unsigned char mask[16]; /* 0xff over those bytes, zero after them */
    char text[MNO_EJSON_KEY_TEXT + 2]; /* ", \"KEY\" : " and the opening of a value of the type
                                          (copied 64 bytes at a time from text or text + 2) */
    uint8_t n;              /* bytes of text */
    uint8_t hlen;           /* bytes of head used; 0: an empty entry */
    uint8_t next;           /* the entry of the key that followed this one, last time */
    uint8_t child;          /* the entry of the first key inside this one's value, last time */
} __attribute__((aligned(16))) mno_ejson_key;
typedef struct mno_ejson_keys {
    mno_ejson_key e[1 << MNO_EJSON_KEYS_LOG2];
    uint8_t first;          /* the entry of a document's first key, last time */
    unsigned count;         /* entries used */
} mno_ejson_keys;

/* As mno_ejson_canonical, the same text, with the keys' printed forms taken from and kept in
   kc (NULL: none kept). */
int mno_ejson_canonical_keys(mno_ejson_keys *kc, mno_buf *out, const uint8_t *doc, size_t len);

/*
 * 1 when the BSON document doc[0..len) holds a value whose canonical text may not parse back
 * to the same bytes (a NaN payload, a non-canonical Decimal128, odd array keys or regex
 * options, a key starting with '$', code with NUL, ...; lib/archive/ejson_exact.c lists them) or is
 * not well formed; 0 when every value is of a form that round-trips. A cheap walk, no allocation.
 */
int mno_ejson_suspect(const uint8_t *doc, size_t len);

/* 1 when the Decimal128 at p (16 bytes, little-endian) prints as text that parses back to
   the same bits (judged from the bits alone); 0 when not (NaN payloads, non-canonical
   significands). */
int mno_ejson_dec_exact(const uint8_t *p);

/* 1 when the Extended JSON text[0..n) parses, with the reader's converter (the fast path,
   else mno_ejson_to_bson), to exactly doc[0..len); else 0. */
int mno_ejson_exact(const char *text, size_t n, const uint8_t *doc, size_t len);

#endif
