/* progress.h: progress on a terminal (or a forced stream) for the tools that move data: one row per section with rows, bytes and rate. */
#ifndef MNO_PROGRESS_H
#define MNO_PROGRESS_H

#include <stdint.h>

/*
 * Usage (mno-dump; mno-restore the same way):
 *
 *     mno_progress *p = mno_progress_new(2, quiet ? MNO_PROGRESS_OFF
 *                                          : force ? MNO_PROGRESS_ON : MNO_PROGRESS_AUTO);
 *     for each section:
 *         mno_progress_begin(p, ns, i + 1, nsections, expected_rows_or_-1);
 *         ... mno_progress_update(p, rows_so_far, bytes_so_far);   (as often as you like)
 *         mno_progress_end(p, rows, bytes);
 *     mno_progress_finish(p);     (a summary line: sections, rows, bytes, time)
 *     mno_progress_free(p);
 *
 * On a terminal the current section's row is redrawn in place (at most 5 times a second) and
 * replaced by its final row when it ends; on a file or pipe (MNO_PROGRESS_ON) only the final
 * rows are written, plus a row every 10 s for a long section. A row reads
 *
 *     [3/12] connec.people: 120000 rows, 48.2 MB, 2.1 s, 57142 rows/s, 23.0 MB/s
 *
 * Every function accepts a NULL or disabled reporter and then does nothing, so callers need
 * no checks. Write errors on the progress stream are ignored (progress is best effort).
 * Bytes are whatever the caller counts (mno-dump: uncompressed archive bytes).
 */

enum mno_progress_mode {
    MNO_PROGRESS_OFF = 0,   /* --quiet: nothing */
    MNO_PROGRESS_AUTO,      /* on when fd is a terminal */
    MNO_PROGRESS_ON         /* --progress: always */
};

typedef struct mno_progress mno_progress;

/* A reporter writing to fd (borrowed; normally 2). Returns NULL when mode is OFF, when AUTO
   and fd is not a terminal, or when out of memory: all calls then do nothing. */
mno_progress *mno_progress_new(int fd, int mode);
/* 1 when p reports anything. */
int mno_progress_enabled(const mno_progress *p);
/* Starts section ns (copied), the index-th of total (1-based; total 0: unknown); expected:
   the rows it should hold, or -1 when unknown (shown as a percentage when known). */
void mno_progress_begin(mno_progress *p, const char *ns, size_t index, size_t total,
                        long long expected);
/* The section's rows and bytes so far. Cheap: reads the clock only every 256 calls. */
void mno_progress_update(mno_progress *p, uint64_t rows, uint64_t bytes);
/* Ends the section with its final rows and bytes: writes its final row. */
void mno_progress_end(mno_progress *p, uint64_t rows, uint64_t bytes);
/* Writes the summary row ("done: N sections, R rows, B MB in T s"). */
void mno_progress_finish(mno_progress *p);
/* Clears a half-drawn terminal row (call before printing an error). */
void mno_progress_clear(mno_progress *p);
/* Frees. Accepts NULL. */
void mno_progress_free(mno_progress *p);

#endif
