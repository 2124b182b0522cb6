/* codec.h: byte streams in and out, plain or zstd (detected by magic on input). */
#ifndef MNO_CODEC_H
#define MNO_CODEC_H

#include <stddef.h>
#include <sys/types.h>
#include "error.h"

/* ---- input ---- */

typedef struct mno_in mno_in;

/*
 * Opens path for reading ("-" or NULL = stdin). Detects zstd by its magic number and
 * decompresses as it reads; otherwise passes bytes through. name is used in messages
 * ("-" shows as "<stdin>"). Returns a reader the caller frees with mno_in_close, or NULL
 * with e filled.
 */
mno_in *mno_in_open(const char *path, mno_error *e);
/* Same over an open fd (not closed by mno_in_close unless own_fd). */
mno_in *mno_in_fdopen(int fd, const char *name, int own_fd, mno_error *e);

/*
 * Reads the next line into *line (without the '\n'; NUL-terminated; owned by the reader,
 * valid until the next call) and its length into *len. A final line without '\n' is
 * returned as a line. Lines longer than max_line bytes are an error.
 * Returns 1 for a line, 0 at clean end of input, -1 on error (e filled: I/O error,
 * "premature end of zstd frame", corrupted frame, line too long), naming the input and line.
 */
int mno_in_getline(mno_in *in, char **line, size_t *len, mno_error *e);
/* Sets the maximum line length (default MNO_MAX_LINE_DEFAULT). */
void mno_in_set_max_line(mno_in *in, size_t max_line);
/* 1-based number of the last line returned. */
long long mno_in_lineno(const mno_in *in);
/* The input's display name. */
const char *mno_in_name(const mno_in *in);
/* 1 when the last line mno_in_getline returned ended at the end of the input without a
   newline (a file or stream cut short mid-line), else 0. */
int mno_in_unterminated(const mno_in *in);
/* 1 if the input was zstd-compressed. */
int mno_in_is_zstd(const mno_in *in);
/* Compressed bytes read so far (for progress). */
unsigned long long mno_in_bytes(const mno_in *in);
/*
 * Moves the input forward by n decoded bytes from where the last line returned ended (or
 * from the start when none was), for a reader that knows where a later line starts (the
 * check pass of mno-restore -j): a plain regular file seeks past what is not buffered; a
 * zstd input decodes and discards. lines: how many lines those bytes hold (the line
 * numbers of what follows go on from there). Returns 0, or -1 with e filled (I/O or zstd
 * error, or the input ends first).
 */
int mno_in_skip_decoded(mno_in *in, unsigned long long n, long long lines, mno_error *e);
/* Closes and frees. Accepts NULL. */
void mno_in_close(mno_in *in);

#define MNO_MAX_LINE_DEFAULT ((size_t)256 << 20)

/* ---- output ---- */

typedef struct mno_out mno_out;

typedef struct mno_out_opts {
    int zstd;          /* 1: compress with zstd */
    int level;         /* zstd level (default 3) */
    int threads;       /* zstd worker threads (0: single-threaded) */
    int mode;          /* unused: a created file is always 0600 (outfile.h) */
} mno_out_opts;

#define MNO_OUT_OPTS_INIT {0, 3, 0, 0600}

/*
 * Opens path for writing ("-" or NULL = stdout) through outfile.h: a file is written as a
 * private temporary file beside path (NAME.XXXXXX.partial, mode 0600, never through a
 * link) and renamed over path only by mno_out_finish; mno_out_abort removes it and leaves
 * path as it was. A device or a FIFO (/dev/null, a named pipe) and /dev/stdout, /dev/fd/N
 * are written in place. If opts is NULL, defaults are used and zstd is chosen when path
 * ends in ".zst". Returns a writer, or NULL with e filled.
 */
mno_out *mno_out_open(const char *path, const mno_out_opts *opts, mno_error *e);
/* Same over an open fd (a pipe, a socket), written as stdout is: no temporary file, never
   closed by finish or abort (the caller closes it). name is for messages (borrowed). */
mno_out *mno_out_fdopen(int fd, const char *name, const mno_out_opts *opts, mno_error *e);
/* Writes n bytes. Returns 0, or -1 with e filled. */
int mno_out_write(mno_out *o, const void *p, size_t n, mno_error *e);
/* Ends the zstd frame, flushes and commits the file (mno_outfile_commit: fsync, rename over
   path, fsync of the directory); frees o. Returns 0, or -1 with e filled (naming the file,
   with the system's reason; the temporary file is removed, path is as it was). */
int mno_out_finish(mno_out *o, mno_error *e);
/* Discards: removes the temporary file (path and stdout are left as they were); frees o.
   Accepts NULL. */
void mno_out_abort(mno_out *o);
/* Uncompressed bytes written so far. */
unsigned long long mno_out_bytes(const mno_out *o);

#endif
