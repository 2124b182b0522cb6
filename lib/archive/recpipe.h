/* recpipe.h: record lines decoded and hashed in a second thread, for a reader that needs only the sums (mno-restore's whole-file check). */
#ifndef MNO_RECPIPE_H
#define MNO_RECPIPE_H

#include <stddef.h>
#include "checksum.h"
#include "stream.h"

/*
 * The reading thread hands record lines of the open section (copied, with their line numbers)
 * to a worker thread in batches; the worker decodes each line by the reader's fast path
 * (pg: mno_pgrec_parse_text; mongo: mno_ejson_text_to_buf), hashes the canonical forms
 * several at a time (mno_md5_many) and sums them. A line the fast path does not take is
 * handed back, in order, for the reader's general path, which decides (and words any error).
 * Batches are taken back in the order they were handed over. One reading thread only.
 */
typedef struct mno_recpipe mno_recpipe;

/* Lines longer than this are not handed over (memory stays bounded): the reader reads them. */
#define MNO_RECPIPE_MAX_LINE ((size_t)256 << 10)

/* Returns a pipe (mno_recpipe_free), or NULL when out of memory. The thread starts with the
   first batch. */
mno_recpipe *mno_recpipe_new(void);
/* Stops the worker (after the batch it is on) and frees. Accepts NULL. */
void mno_recpipe_free(mno_recpipe *p);
/* For the records of section s: pg columns, or for mongo the envelope's length envlen (the
   document's text runs from there to the line's last byte, a '}', excluded). Only when nothing
   is in flight (mno_recpipe_pending is 0). Returns 0, or -1 when out of memory. */
int mno_recpipe_setup(mno_recpipe *p, const mno_section *s, size_t envlen);
/* 1 when no batch is free to take a line: take one back (mno_recpipe_take) first. */
int mno_recpipe_blocked(const mno_recpipe *p);
/* Adds a line (copied). A full batch goes to the worker. Returns 0, or -1 when out of memory. */
int mno_recpipe_add(mno_recpipe *p, const char *line, size_t len, long long lineno);
/* 1 when lines were added that were not taken back yet. */
int mno_recpipe_pending(const mno_recpipe *p);
/*
 * Hands the batch being filled to the worker and waits for the oldest batch not taken back:
 * returns 1 with *sum the sum of its records' digests (those the fast path took) and *nslow
 * the number of its lines left to the general path (mno_recpipe_slow), 0 when none is left.
 * The batch stays readable until mno_recpipe_release.
 */
int mno_recpipe_take(mno_recpipe *p, mno_sum *sum, size_t *nslow);
/* Line i (0..nslow) of the batch taken, that the fast path left, in line order. */
void mno_recpipe_slow(const mno_recpipe *p, size_t i, const char **line, size_t *len, long long *lineno);
/* The line number of the last line of the batch taken (before mno_recpipe_release). */
long long mno_recpipe_taken_last(const mno_recpipe *p);
/* Frees the batch taken last for new lines. */
void mno_recpipe_release(mno_recpipe *p);

#endif
