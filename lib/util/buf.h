/* buf.h: a growable byte buffer, always NUL-terminated. */
#ifndef MNO_BUF_H
#define MNO_BUF_H

#include <stddef.h>
#include <stdio.h>

typedef struct mno_buf {
    char *data;   /* owned; NUL-terminated; NULL until first append */
    size_t len;   /* bytes used, not counting the NUL */
    size_t cap;
} mno_buf;

#define MNO_BUF_INIT {NULL, 0, 0}

void mno_buf_init(mno_buf *b);
/* Frees the storage; b may be reused after. Accepts NULL. */
void mno_buf_release(mno_buf *b);
/* Ensures room for n more bytes (+NUL). Returns 0, or -1 on out of memory. */
int mno_buf_grow(mno_buf *b, size_t n);
int mno_buf_add(mno_buf *b, const void *p, size_t n);
/* Appends the rest of the open file f to b. Returns 0; -1 out of memory; -2 a read error
   (errno as fread left it). */
int mno_buf_add_file(mno_buf *b, FILE *f);
int mno_buf_adds(mno_buf *b, const char *s);
int mno_buf_addc(mno_buf *b, char c);
int mno_buf_addf(mno_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes, any content) as a JSON string literal with quotes. */
int mno_buf_add_json_str(mno_buf *b, const char *s, size_t n);
void mno_buf_reset(mno_buf *b); /* len = 0, keeps storage */
/* Writes s (n bytes) as a JSON string literal with quotes at out, the same bytes as
   mno_buf_add_json_str, without bounds checks: out must hold MNO_JSON_STR_MAX(n) bytes.
   Returns the number of bytes written. */
#define MNO_JSON_STR_MAX(n) (6 * (n) + 2)
size_t mno_json_str_put(char *out, const char *s, size_t n);
/* 1 when every backslash escape in s[0..n) (JSON text, e.g. a record line) is the one
   mno_buf_add_json_str writes for its character (\" \\ \b \t \n \f \r, else \u00xx for
   a control character, lowercase hex), 0 when one is not (\/, \u0041, \u00E9, \u000a...). */
int mno_json_escapes_canonical(const char *s, size_t n);

#endif
