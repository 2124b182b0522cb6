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

/* Exit status for a tool: 0 for MNO_OK, 2 for any error (1 is mno-verify's "differs"). */
int mno_exit_status(const mno_error *e);

/* mno_redact_uri and mno_redact_msg (credentials out of messages) are in redact.h. */
#include "redact.h"

#endif
