/* checksum.h: order-independent section sums: md5 of each record's canonical form, added mod 2^128. */
#ifndef MNO_CHECKSUM_H
#define MNO_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* A 128-bit unsigned sum (hi:lo), the md5 digests read as big-endian integers. */
typedef struct mno_sum {
    uint64_t hi, lo;
} mno_sum;

#define MNO_SUM_ZERO {0, 0}

/* s += the 16 digest bytes read as one big-endian 128-bit integer (mod 2^128). */
void mno_sum_add_digest(mno_sum *s, const unsigned char digest[16]);
/* s += md5(p[0..n)). */
void mno_sum_add_md5(mno_sum *s, const void *p, size_t n);
/* s += t (mod 2^128). */
void mno_sum_add(mno_sum *s, const mno_sum *t);
/* Writes 32 lowercase hex digits and a NUL into out[33]. Returns out. */
char *mno_sum_hex(const mno_sum *s, char out[33]);
/* Parses exactly 32 hex digits. Returns 0, or -1 if hex is not of that form. */
int mno_sum_parse(const char *hex, mno_sum *out);
int mno_sum_eq(const mno_sum *a, const mno_sum *b);
/* md5(p[0..n)) into digest (OpenSSL libcrypto). */
void mno_md5(const void *p, size_t n, unsigned char digest[16]);

/*
 * The md5 of each of n messages (msg[i], len[i] bytes) into out[i], several messages at a
 * time in the lanes of one SIMD register (lib/archive/md5mb.c): the same digests as mno_md5, several
 * times faster for a batch of short records. Thread-safe (no state).
 */
void mno_md5_many(const unsigned char *const *msg, const size_t *len, size_t n, unsigned char (*out)[16]);
/* As mno_md5_many with one variant: lanes 1 (OpenSSL), 4 (128-bit vectors), 8 (AVX2) or
   16 (AVX-512). Returns 0, or -1 when this build or CPU has no such variant (tests). */
int mno_md5_many_lanes(int lanes, const unsigned char *const *msg, const size_t *len, size_t n,
                       unsigned char (*out)[16]);

/* A reusable md5 context for hot loops (one per thread; not shared). */
typedef struct mno_hasher mno_hasher;
/* Returns a hasher (free with mno_hasher_free), or NULL when out of memory. */
mno_hasher *mno_hasher_new(void);
/* md5(p[0..n)) into digest; h may be NULL (then as mno_md5). */
void mno_hasher_md5(mno_hasher *h, const void *p, size_t n, unsigned char digest[16]);
void mno_hasher_free(mno_hasher *h);

/*
 * Appends to out the PostgreSQL record text of a row, exactly as ROW(c1,...,cn)::text
 * prints it: "(" fields joined by "," ")", NULL (vals[i] == NULL) as nothing, a value
 * double-quoted when empty or holding '"' '\\' '(' ')' ',' or white space (isspace in
 * the C locale), with '"' and '\\' doubled inside quotes. lens[i] is the value's length
 * (lens may be NULL: strlen is used). Returns 0, or -1 on out of memory.
 */
struct mno_buf;
int mno_pg_record_text(struct mno_buf *out, const char *const *vals, const size_t *lens, size_t n);

#endif
