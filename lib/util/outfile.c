/* outfile.c: output files created privately beside their final name and renamed into place only when complete (outfile.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "outfile.h"

struct mno_outfile {
    int fd;
    int own_fd;       /* opened (or dup'ed) here: closed by commit/abort */
    int dirfd;        /* a new file: its directory (every step is relative to it) */
    int slot;         /* its entry in temps[], or -1 */
    char *path;       /* as given, for messages */
    char *base;       /* the final name inside dirfd */
    char tmp[NAME_MAX + 1]; /* the temporary name inside dirfd ("" when none) */
};

/*
 * The temporary files open in this process, for a signal handler: fixed slots written
 * under the lock, read by the handler without it (a slot is filled before it is marked
 * used and marked unused before it is emptied).
 */
#define TEMPS 32
static struct {
    volatile sig_atomic_t used;
    int dirfd;
    char name[NAME_MAX + 1];
} temps[TEMPS];
static pthread_mutex_t temps_mu = PTHREAD_MUTEX_INITIALIZER;

static int temp_register(int dirfd, const char *name)
{
    int slot = -1;
    pthread_mutex_lock(&temps_mu);
    for (int i = 0; i < TEMPS && slot < 0; i++)
        if (!temps[i].used) {
            temps[i].dirfd = dirfd;
            memcpy(temps[i].name, name, strlen(name) + 1);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            temps[i].used = 1;
            slot = i;
        }
    pthread_mutex_unlock(&temps_mu);
    return slot;   /* -1: more than TEMPS at once; only the signal handler misses it */
}

static void temp_unregister(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&temps_mu);
    temps[slot].used = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&temps_mu);
}

void mno_outfile_remove_temps(void)
{
    for (int i = 0; i < TEMPS; i++)
        if (temps[i].used)
            unlinkat(temps[i].dirfd, temps[i].name, 0);
}

static void on_signal(int sig)
{
    int saved = errno;
    mno_outfile_remove_temps();
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

void mno_outfile_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* The descriptor a path names when it is one of the process's own (/dev/stdout, /dev/fd/N,
   /proc/self/fd/N), else -1. */
static int own_descriptor(const char *path)
{
    if (!strcmp(path, "/dev/stdout"))
        return 1;
    if (!strcmp(path, "/dev/stderr"))
        return 2;
    const char *num = !strncmp(path, "/dev/fd/", 8) ? path + 8
                      : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
    if (!num || *num < '0' || *num > '9' || strlen(num) > 9 || strspn(num, "0123456789") != strlen(num))
        return -1;
    return atoi(num);
}

/* Fills out with n random characters from [A-Za-z0-9]. */
static void random_suffix(char *out, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned long counter;
    unsigned char r[16];
    if (n > sizeof r)
        n = sizeof r;
    if (getrandom(r, n, GRND_NONBLOCK) != (ssize_t)n) {
        /* no entropy yet: the name need not be secret, only unlikely (O_EXCL decides) */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 20) ^
                               __atomic_add_fetch(&counter, 0x9e3779b97f4a7c15UL, __ATOMIC_RELAXED);
        for (size_t i = 0; i < n; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            r[i] = (unsigned char)(x >> 33);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = set[r[i] % (sizeof set - 1)];
    out[n] = '\0';
}

static mno_outfile *new_handle(const char *path, mno_error *e)
{
    mno_outfile *f = calloc(1, sizeof *f);
    if (f && !(f->path = strdup(path))) {
        free(f);
        f = NULL;
    }
    if (!f) {
        mno_err(e, MNO_E_NOMEM, path, 0, NULL, "out of memory");
        return NULL;
    }
    f->fd = f->dirfd = f->slot = -1;
    return f;
}

/* Creates the temporary file for f->path in its directory. */
static int create_temp(mno_outfile *f, mno_error *e)
{
    const char *slash = strrchr(f->path, '/');
    const char *base = slash ? slash + 1 : f->path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot write: %s", strerror(EISDIR));
    if (!(f->base = strdup(base)))
        return mno_err(e, MNO_E_NOMEM, f->path, 0, NULL, "out of memory");
    char *dir = slash == f->path ? strdup("/") : slash ? strndup(f->path, (size_t)(slash - f->path)) : strdup(".");
    if (!dir)
        return mno_err(e, MNO_E_NOMEM, f->path, 0, NULL, "out of memory");
    f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0) {
        mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot open its directory '%s': %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    struct stat st;
    if (fstatat(f->dirfd, f->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        free(dir);
        return mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot write: %s", strerror(EISDIR));
    }
    /* NAME.XXXXXX.partial, NAME cut to fit NAME_MAX */
    size_t keep = strlen(base);
    if (keep > NAME_MAX - 16)
        keep = NAME_MAX - 16;
    int err = 0;
    for (int tries = 0; tries < 100; tries++) {
        char rnd[8];
        random_suffix(rnd, 6);
        snprintf(f->tmp, sizeof f->tmp, "%.*s.%s.partial", (int)keep, base, rnd);
        /* signals held while the file is created and registered: a signal cannot leave it
           behind, nor remove a file of the same name that is not ours */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        f->fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        err = errno;
        if (f->fd >= 0)
            f->slot = temp_register(f->dirfd, f->tmp);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (f->fd >= 0 || err != EEXIST)
            break;
    }
    if (f->fd < 0) {
        mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot create a temporary file in '%s': %s", dir,
                strerror(err));
        f->tmp[0] = '\0';
        free(dir);
        return -1;
    }
    free(dir);
    f->own_fd = 1;
    /* exactly 0600 whatever the umask (a umask of 0277 would leave 0400) */
    if (fchmod(f->fd, 0600) < 0)
        return mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot set the mode of '%s': %s", f->tmp,
                       strerror(errno));
    return 0;
}

mno_outfile *mno_outfile_open(const char *path, mno_error *e)
{
    int to_stdout = !path || !strcmp(path, "-");
    mno_outfile *f = new_handle(to_stdout ? "<stdout>" : path, e);
    if (!f)
        return NULL;
    if (to_stdout) {
        f->fd = 1;
        return f;
    }
    int own = own_descriptor(path);
    if (own >= 0) {
        f->fd = fcntl(own, F_DUPFD_CLOEXEC, 3);
        if (f->fd < 0) {
            mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
            goto fail;
        }
        f->own_fd = 1;
        return f;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* a device, a FIFO or a socket: written in place, never truncated, nothing created;
           only one of the caller's own or root's (a FIFO planted in a shared directory by
           another user would hand that user the data) */
        if (st.st_uid != geteuid() && st.st_uid != 0) {
            mno_err(e, MNO_E_IO, path, 0, NULL, "cannot write: not a regular file and owned by another user");
            goto fail;
        }
        int fd = open(path, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
            goto fail;
        }
        if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
            if (st.st_uid != geteuid() && st.st_uid != 0) {
                close(fd);
                mno_err(e, MNO_E_IO, path, 0, NULL, "cannot write: not a regular file and owned by another user");
                goto fail;
            }
            f->fd = fd;
            f->own_fd = 1;
            return f;
        }
        close(fd); /* replaced by a regular file meanwhile: written as one, below */
    }
    if (create_temp(f, e) < 0)
        goto fail;
    return f;
fail:
    mno_outfile_abort(f);
    return NULL;
}

int mno_outfile_fd(const mno_outfile *f) { return f->fd; }
int mno_outfile_is_temp(const mno_outfile *f) { return f->tmp[0] != '\0'; }
const char *mno_outfile_name(const mno_outfile *f) { return f->path; }

int mno_outfile_commit(mno_outfile *f, mno_error *e)
{
    int rc = -1;
    struct stat st;
    if (!f->tmp[0]) {
        /* in place: a regular file behind a descriptor (stdout redirected to a file) is synced */
        if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(f->fd) < 0) {
            mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot sync: %s", strerror(errno));
            goto done;
        }
        if (f->own_fd) {
            int fd = f->fd;
            f->fd = -1;
            if (close(fd) < 0 && errno != EINTR) {
                mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot close: %s", strerror(errno));
                goto done;
            }
        }
        rc = 0;
        goto done;
    }
    if (fsync(f->fd) < 0) {
        mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot sync: %s", strerror(errno));
        goto done;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) < 0 && errno != EINTR) {
        mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot close: %s", strerror(errno));
        goto done;
    }
    if (renameat(f->dirfd, f->tmp, f->dirfd, f->base) < 0) {
        mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot rename the temporary file '%s' to it: %s",
                f->tmp, strerror(errno));
        goto done;
    }
    temp_unregister(f->slot);
    f->slot = -1;
    f->tmp[0] = '\0'; /* renamed: nothing to remove */
    if (fsync(f->dirfd) < 0 && errno != EINVAL) {
        mno_err(e, MNO_E_IO, f->path, 0, NULL, "cannot sync its directory: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    mno_outfile_abort(f);
    return rc;
}

void mno_outfile_abort(mno_outfile *f)
{
    if (!f)
        return;
    if (f->own_fd && f->fd >= 0)
        close(f->fd);
    if (f->tmp[0])
        unlinkat(f->dirfd, f->tmp, 0);
    temp_unregister(f->slot);
    if (f->dirfd >= 0)
        close(f->dirfd);
    free(f->path);
    free(f->base);
    free(f);
}
