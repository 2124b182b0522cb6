/* archauth.h: the archive's metadata digests (header and begin lines, SHA-256) and its keyed MAC (HMAC-SHA-256 with MNO_ARCHIVE_KEY), docs/format.md section 4.1. */
#ifndef MNO_ARCHAUTH_H
#define MNO_ARCHAUTH_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "checksum.h"
#include "error.h"

/* The archive key: the bytes of $MNO_ARCHIVE_KEY, or of the file $MNO_ARCHIVE_KEY_FILE names
   (its trailing newlines dropped). Never printed. */
typedef struct mno_archkey {
    unsigned char *key;
    size_t len;
} mno_archkey;

/*
 * Loads the key from the environment into *out: NULL when neither variable is set (or
 * MNO_ARCHIVE_KEY is empty). Returns 0, or -1 with e filled (both set, the file unreadable or
 * empty); the message names the variable and the file, never the key. Free with mno_archkey_free.
 */
int mno_archkey_load(mno_archkey **out, mno_error *e);
/* Wipes and frees. Accepts NULL. */
void mno_archkey_free(mno_archkey *k);

/* SHA-256 of a header or begin line: line[0..len) without its LF and without any space, tab
   or CR at its end (a CRLF archive keeps its digests). */
void mno_meta_digest(const char *line, size_t len, unsigned char out[32]);
/* 64 lowercase hex digits and a NUL into out[65]. Returns out. */
char *mno_meta_hex(const unsigned char d[32], char out[65]);
/* Parses exactly 64 hex digits (either case). Returns 0, or -1. */
int mno_meta_parse(const char *hex, unsigned char out[32]);

/*
 * The MAC's input (docs/format.md 4.1), built as the archive is written or read:
 *   "mnoa-mac-1\n" HEADER_SHA256 "\n"
 *   per section, in archive order: BEGIN_SHA256 " " COUNT " " SUM "\n"
 *   "trailer " SECTIONS " " COUNT " " SUM "\n"
 * (digests and sums in lowercase hex, numbers in decimal). Each returns 0, or -1 on out of memory.
 */
int mno_mac_start(mno_buf *m, const unsigned char header[32]);
int mno_mac_section(mno_buf *m, const unsigned char begin[32], uint64_t count, const mno_sum *sum);
int mno_mac_trailer(mno_buf *m, uint64_t sections, uint64_t count, const mno_sum *sum);
/* HMAC-SHA-256 of m with k into out. Returns 0, or -1. */
int mno_mac_final(const mno_archkey *k, const mno_buf *m, unsigned char out[32]);
/* 1 when a and b (32 bytes) are equal, in constant time. */
int mno_mac_eq(const unsigned char a[32], const unsigned char b[32]);

#endif
