/* error.h: errors as values. lib/ never prints or exits; it fills an mno_error. */
#ifndef MNO_ERROR_H
#define MNO_ERROR_H

#include <stdarg.h>

/* Error codes. Tools map them to exit status (see mno_exit_status). */
enum mno_code {
    MNO_OK = 0,
    MNO_E_USAGE,      /* bad option or combination */
    MNO_E_IO,         /* read/write/open failure */
    MNO_E_FORMAT,     /* malformed archive: bad JSON, unknown version, rec outside section */
    MNO_E_TRUNCATED,  /* stream ended early: no trailer, premature end of zstd frame */
    MNO_E_CORRUPT,    /* count or sum mismatch */
    MNO_E_SCOPE,      /* scope file error, unscoped table, unknown tenant */
    MNO_E_SERVER,     /* database server error (text included) */
    MNO_E_CONFLICT,   /* restore refused: keys already present */
    MNO_E_NOMEM,
    MNO_E_INTERNAL
};

/*
 * An error: a code, a full message and, where known, the object (section ns, table,
 * collection) and the position (input name and line). The message is complete as it
 * stands ("input:line: section ns: what went wrong"), lowercase, the error first, and
 * never holds a credential. Fixed-size so it can live on the stack; nothing to free.
 */
typedef struct mno_error {
    int code;                 /* enum mno_code; MNO_OK when no error */
    char msg[2048];           /* full message */
    char object[512];         /* ns / table / collection, or "" */
    char input[512];          /* input name ("-" for stdin), or "" */
    long long line;           /* 1-based line in input, 0 if not applicable */
} mno_error;

/* Clears e. Accepts NULL. */
void mno_error_clear(mno_error *e);

/*
 * Fills e (if not NULL) with code and a printf-style message, prefixed with
 * "input:line: " when input is given (line > 0) and "section OBJ: " when object is given.
 * Returns -1 so callers can write `return mno_err(...)`.
 */
int mno_err(mno_error *e, int code, const char *input, long long line, const char *object,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int mno_verr(mno_error *e, int code, const char *input, long long line, const char *object,
             const char *fmt, va_list ap);

/*
 * Names (ns, tables, collections, columns, keys, tenants, file names) in messages: every
 * control character (bytes 0x00-0x1f and 0x7f, and the C1 controls U+0080-U+009F) is written
 * escaped ("\n", "\t", "\r", "\x1b", "\u009b"), so that a name can never forge a line or
 * move a terminal's cursor; a name longer than MNO_NAME_MSG_CUT bytes is cut there (on a
 * UTF-8 boundary) and ends with "...". out (size n, MNO_NAME_MSG_MAX is always enough) gets
 * the result; s NULL gives "". Returns out. Every message an mno_error holds went through
 * the same escaping (mno_verr), as do the names the tools print in their own lines.
 */
#define MNO_NAME_MSG_CUT 256
#define MNO_NAME_MSG_MAX (MNO_NAME_MSG_CUT * 6 + 4)
char *mno_name_msg(const char *s, char *out, size_t n);

/* Like mno_name_msg with no cut: escapes the control characters of s into out (size n,
   truncated to fit). Returns out. */
char *mno_text_msg(const char *s, char *out, size_t n);

/* The escape of the character at p[0] (NUL-terminated text): a control character or a C1
   control as mno_name_msg writes it, with backslash also a backslash as "\\\\" (for a
   report's values, where an escape must not be forged); else the character's first byte.
   Writes it into tmp (at least 8 bytes, not terminated) and returns its length; *used gets
   the number of bytes of p it stands for (1, or 2 for a C1 control). */
size_t mno_escape_char(const unsigned char *p, int backslash, char *tmp, size_t *used);

/* Like mno_text_msg, but a line break followed by two spaces is kept: a message's own
   indented continuation lines (a list of dangling references). Returns out. */
char *mno_lines_msg(const char *s, char *out, size_t n);

/*
 * The prefix mno_err puts in front of a message for input, line and object (each may be
 * NULL/0): "input:line: section OBJ: ", with the names escaped and cut as above. For callers
 * that re-wrap an error and must recognise the prefix already there. Returns out.
 */
char *mno_err_prefix(const char *input, long long line, const char *object, char *out, size_t n);

/* Exit status for a tool: 0 for MNO_OK, 2 for any error (1 is mno-verify's "differs"). */
int mno_exit_status(const mno_error *e);

/* mno_redact_uri and mno_redact_msg (credentials out of messages) are in redact.h. */
#include "redact.h"

#endif
