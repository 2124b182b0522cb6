/* outfile.h: every file a tool writes (archives, reports, undo archives) is created here: a
   private temporary file beside it, renamed over the final name only when complete. */
#ifndef MNO_OUTFILE_H
#define MNO_OUTFILE_H

#include "error.h"

/*
 * How a path given to -o FILE is written (docs/output-files.md says the same for users):
 *
 *   "-" or NULL             stdout (the caller writes to fd 1; nothing is created).
 *   /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N
 *                           that descriptor of the process, written as it is (dup'ed: its
 *                           offset and O_APPEND stay the shell's).
 *   an existing device, FIFO or socket (/dev/null, a named pipe; not through a link), the
 *   caller's own or root's
 *                           opened for writing in place: no temporary file, nothing renamed
 *                           (never truncated: such a file has nothing to truncate). One
 *                           owned by another user is an error (planted in a shared
 *                           directory, it would hand that user the data).
 *   anything else           a regular file: a temporary file NAME.XXXXXX.partial (a random
 *                           suffix) is created in the directory of the path with
 *                           O_CREAT|O_EXCL|O_NOFOLLOW, mode exactly 0600 whatever the
 *                           umask; the caller writes it; mno_outfile_commit fsyncs it, renames
 *                           it over the final name and fsyncs the directory. Nothing on the
 *                           final name changes before that rename: a failed run leaves an
 *                           existing file (or symbolic link) as it was and no temporary file.
 *                           A final name that is a symbolic link is replaced by the new file
 *                           (the link itself, atomically), whatever it points to: its target
 *                           is never opened, written or chmod'ed. A directory is an error.
 *
 * A temporary file is never opened through a link, never reused and never truncated: a link
 * or file planted at any name beside the target is left alone.
 */

typedef struct mno_outfile mno_outfile;

/*
 * Opens path for writing as described above. Returns a handle the caller ends with
 * mno_outfile_commit or mno_outfile_abort, or NULL with e filled (naming path and the
 * system's reason). "-" and NULL give a handle on stdout.
 */
mno_outfile *mno_outfile_open(const char *path, mno_error *e);
/* The descriptor to write to (owned by the handle: do not close it). */
int mno_outfile_fd(const mno_outfile *f);
/* 1 when the output is a new regular file (temporary, renamed by commit), else 0. */
int mno_outfile_is_temp(const mno_outfile *f);
/* The name for messages: the final path as given, or "<stdout>". Owned by the handle. */
const char *mno_outfile_name(const mno_outfile *f);
/*
 * Completes the output: a new file is fsynced, closed, renamed over the final name and its
 * directory fsynced; a descriptor written in place is fsynced when it is a regular file
 * (errors other than "cannot sync this kind of file" count) and closed when it was opened
 * here. Frees f. Returns 0, or -1 with e filled (naming the file, with strerror); on
 * failure the temporary file is removed and the final name is as it was.
 */
int mno_outfile_commit(mno_outfile *f, mno_error *e);
/* Discards the output: the temporary file is removed (the final name is as it was); a
   descriptor opened here is closed. Frees f. Accepts NULL. */
void mno_outfile_abort(mno_outfile *f);

/*
 * Removes every temporary file open in this process. Async-signal-safe: for a tool's own
 * signal handler. mno_outfile_catch_signals installs such a handler.
 */
void mno_outfile_remove_temps(void);
/*
 * Installs a handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT that removes the temporary
 * files (mno_outfile_remove_temps) and then dies of the same signal, as the default action
 * would. For tools that have no signal handling of their own; call it once, before opening.
 */
void mno_outfile_catch_signals(void);

#endif
