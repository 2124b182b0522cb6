/* codec.c: byte streams in and out, plain or zstd (detected by magic on input), line by line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include "codec.h"
#include "outfile.h"

/* ---- input ---- */

#define IN_CHUNK ((size_t)128 << 10)

struct mno_in {
    int fd, own_fd;
    char name[512];
    int zstd;                 /* input is zstd-compressed */
    ZSTD_DStream *dz;
    unsigned char *ib;        /* compressed bytes: [ipos, iend) not yet decompressed */
    size_t ipos, iend;
    int ieof;                 /* read() returned 0 */
    size_t zret;              /* last ZSTD_decompressStream result: 0 = at a frame boundary */
    char *d;                  /* decoded bytes: [dpos, dend) not yet returned as lines */
    size_t dcap, dpos, dend;
    size_t scanned;           /* bytes after dpos already searched for '\n' */
    int deof;                 /* no more decoded bytes */
    size_t max_line;
    long long lineno;
    int unterminated;         /* the last line returned ended at end of input, not at '\n' */
    unsigned long long bytes_in;
};

static ssize_t read_some(int fd, void *p, size_t n)
{
    ssize_t r;
    do
        r = read(fd, p, n);
    while (r < 0 && errno == EINTR);
    return r;
}

static int in_read_compressed(mno_in *in, mno_error *e)
{
    if (in->ipos == in->iend)
        in->ipos = in->iend = 0;
    ssize_t r = read_some(in->fd, in->ib + in->iend, IN_CHUNK - in->iend);
    if (r < 0)
        return mno_err(e, MNO_E_IO, in->name, in->lineno + 1, NULL, "read error: %s", strerror(errno));
    if (r == 0)
        in->ieof = 1;
    in->iend += (size_t)r;
    in->bytes_in += (unsigned long long)r;
    return 0;
}

mno_in *mno_in_fdopen(int fd, const char *name, int own_fd, mno_error *e)
{
    mno_in *in = calloc(1, sizeof *in);
    if (!in) {
        mno_err(e, MNO_E_NOMEM, name, 0, NULL, "out of memory");
        goto fail;
    }
    in->fd = fd;
    in->own_fd = own_fd;
    snprintf(in->name, sizeof in->name, "%s", !name || strcmp(name, "-") == 0 ? "<stdin>" : name);
    in->max_line = MNO_MAX_LINE_DEFAULT;
    in->ib = malloc(IN_CHUNK);
    in->dcap = (size_t)256 << 10;
    in->d = malloc(in->dcap);
    if (!in->ib || !in->d) {
        mno_err(e, MNO_E_NOMEM, in->name, 0, NULL, "out of memory");
        goto fail;
    }
    /* read until the magic number can be seen (4 bytes) or the input ends */
    while (in->iend < 4 && !in->ieof)
        if (in_read_compressed(in, e) < 0)
            goto fail;
    static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (in->iend >= 4 && memcmp(in->ib, magic, 4) == 0) {
        in->zstd = 1;
        in->dz = ZSTD_createDStream();
        if (!in->dz) {
            mno_err(e, MNO_E_NOMEM, in->name, 0, NULL, "out of memory");
            goto fail;
        }
    } else {
        /* plain: what was read is the first decoded data */
        memcpy(in->d, in->ib, in->iend);
        in->dend = in->iend;
        in->ipos = in->iend = 0;
        in->deof = in->ieof;
    }
    return in;
fail:
    if (in)
        in->own_fd = 0; /* the caller keeps its fd on failure */
    mno_in_close(in);
    return NULL;
}

mno_in *mno_in_open(const char *path, mno_error *e)
{
    if (!path || strcmp(path, "-") == 0)
        return mno_in_fdopen(0, "-", 0, e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    mno_in *in = mno_in_fdopen(fd, path, 1, e);
    if (!in)
        close(fd);
    return in;
}

/* Appends decoded bytes at d[dend..dcap-1). Returns bytes added, 0 at end of input, -1 on error. */
static ssize_t in_fill(mno_in *in, mno_error *e)
{
    size_t room = in->dcap - in->dend - 1; /* keep one byte for the NUL */
    if (in->deof)
        return 0;
    if (!in->zstd) {
        ssize_t r = read_some(in->fd, in->d + in->dend, room);
        if (r < 0)
            return mno_err(e, MNO_E_IO, in->name, in->lineno + 1, NULL, "read error: %s",
                           strerror(errno));
        if (r == 0)
            in->deof = 1;
        in->bytes_in += (unsigned long long)r;
        in->dend += (size_t)r;
        return r;
    }
    for (;;) {
        if (in->ipos == in->iend && !in->ieof && in_read_compressed(in, e) < 0)
            return -1;
        if (in->ipos == in->iend && in->ieof && in->zret == 0) {
            in->deof = 1;
            return 0;
        }
        ZSTD_inBuffer zi = {in->ib, in->iend, in->ipos};
        ZSTD_outBuffer zo = {in->d + in->dend, room, 0};
        size_t ret = ZSTD_decompressStream(in->dz, &zo, &zi);
        if (ZSTD_isError(ret))
            return mno_err(e, MNO_E_FORMAT, in->name, in->lineno + 1, NULL,
                           "corrupted zstd data: %s", ZSTD_getErrorName(ret));
        in->ipos = zi.pos;
        in->zret = ret;
        in->dend += zo.pos;
        if (zo.pos > 0)
            return (ssize_t)zo.pos;
        if (in->ipos == in->iend && in->ieof && ret != 0)
            return mno_err(e, MNO_E_TRUNCATED, in->name, in->lineno + 1, NULL,
                           "premature end of zstd frame");
    }
}

int mno_in_getline(mno_in *in, char **line, size_t *len, mno_error *e)
{
    for (;;) {
        char *start = in->d + in->dpos;
        size_t have = in->dend - in->dpos;
        char *nl = memchr(start + in->scanned, '\n', have - in->scanned);
        if (nl) {
            size_t n = (size_t)(nl - start);
            if (n > in->max_line)
                return mno_err(e, MNO_E_FORMAT, in->name, in->lineno + 1, NULL,
                               "line too long (more than %zu bytes)", in->max_line);
            *nl = '\0';
            in->dpos += n + 1;
            in->scanned = 0;
            in->lineno++;
            in->unterminated = 0;
            *line = start;
            *len = n;
            return 1;
        }
        in->scanned = have;
        if (have > in->max_line)
            return mno_err(e, MNO_E_FORMAT, in->name, in->lineno + 1, NULL,
                           "line too long (more than %zu bytes)", in->max_line);
        if (in->deof) {
            if (have == 0)
                return 0;
            start[have] = '\0';
            in->dpos = in->dend;
            in->scanned = 0;
            in->lineno++;
            in->unterminated = 1;
            *line = start;
            *len = have;
            return 1;
        }
        /* make room: move the partial line to the front, grow if little room is left */
        if (in->dpos > 0) {
            memmove(in->d, start, have);
            in->dpos = 0;
            in->dend = have;
        }
        if (in->dcap - in->dend < IN_CHUNK) {
            size_t cap = in->dcap * 2;
            char *d = realloc(in->d, cap);
            if (!d)
                return mno_err(e, MNO_E_NOMEM, in->name, in->lineno + 1, NULL, "out of memory");
            in->d = d;
            in->dcap = cap;
        }
        if (in_fill(in, e) < 0)
            return -1;
    }
}

void mno_in_set_max_line(mno_in *in, size_t max_line)
{
    in->max_line = max_line ? max_line : MNO_MAX_LINE_DEFAULT;
}

long long mno_in_lineno(const mno_in *in) { return in->lineno; }
int mno_in_unterminated(const mno_in *in) { return in->unterminated; }
const char *mno_in_name(const mno_in *in) { return in->name; }
int mno_in_is_zstd(const mno_in *in) { return in->zstd; }
unsigned long long mno_in_bytes(const mno_in *in) { return in->bytes_in; }

int mno_in_skip_decoded(mno_in *in, unsigned long long n, long long lines, mno_error *e)
{
    for (;;) {
        size_t have = in->dend - in->dpos;
        size_t take = n < have ? (size_t)n : have;
        in->dpos += take;
        in->scanned = 0;
        n -= take;
        if (n == 0)
            break;
        /* the buffer is used up: a plain file seeks, zstd decodes on (from the front) */
        in->dpos = in->dend = 0;
        if (!in->zstd && !in->deof) {
            struct stat st;
            if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
                if (lseek(in->fd, (off_t)n, SEEK_CUR) < 0)
                    return mno_err(e, MNO_E_IO, in->name, in->lineno + 1, NULL, "cannot seek: %s", strerror(errno));
                n = 0;
                break;
            }
        }
        ssize_t got = in_fill(in, e);
        if (got < 0)
            return -1;
        if (got == 0)
            return mno_err(e, MNO_E_TRUNCATED, in->name, in->lineno + 1, NULL,
                           "the input ends before the position to skip to");
    }
    in->lineno += lines;
    in->unterminated = 0;
    return 0;
}

void mno_in_close(mno_in *in)
{
    if (!in)
        return;
    if (in->own_fd)
        close(in->fd);
    ZSTD_freeDStream(in->dz);
    free(in->ib);
    free(in->d);
    free(in);
}

/* ---- output ---- */

#define OUT_CHUNK ((size_t)256 << 10)
#define OUT_ZQ 3                  /* chunks of a compressing thread: queued, compressed, filled */

/*
 * A zstd output compresses in a thread of its own (when libzstd has no workers of its own,
 * --threads 0), so that the caller goes on making the next chunk meanwhile. The chunks are
 * compressed in order by the same calls as without it (one ZSTD_e_continue per full chunk,
 * the end by the caller after the thread is done): the same bytes. Started at the first
 * full chunk (a small output never starts it).
 */
typedef struct out_zq {
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf[OUT_ZQ];
    size_t len[OUT_ZQ];
    size_t head, count;       /* queued chunks buf[head], ... (mod OUT_ZQ); the caller fills buf[head + count] */
    int drain;                /* compress what is queued, then end */
    int cancel;               /* end now */
    int failed;               /* the thread's error is in err */
    mno_error err;
} out_zq;

struct mno_out {
    int fd;
    mno_outfile *file;        /* where fd comes from (outfile.h: a temporary file renamed by
                                 finish, or written in place); NULL for mno_out_fdopen */
    const char *name;         /* for messages */
    ZSTD_CCtx *cz;            /* NULL: plain */
    char *ib;                 /* uncompressed bytes waiting: [0, ilen) */
    size_t ilen;
    char *ob;                 /* compressed bytes waiting: [0, olen) */
    size_t ocap, olen;
    unsigned long long bytes;
    int is_reg;               /* a regular file (fsynced by mno_out_finish) */
    size_t unsynced;          /* bytes written since the last writeback start */
    out_zq *zq;               /* zstd without workers: the compressing thread (fd, cz, ob and
                                 olen are its own while it runs) */
};

#define OUT_SYNC_AFTER ((size_t)8 << 20)

static int write_all(mno_out *o, const void *p, size_t n, mno_error *e)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(o->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return mno_err(e, MNO_E_IO, o->name, 0, NULL, "write error: %s", strerror(errno));
        s += w;
        n -= (size_t)w;
        o->unsynced += (size_t)w;
    }
#ifdef SYNC_FILE_RANGE_WRITE
    /* a regular file is fsynced at the end: start its writeback as it grows, so that the
       final fsync waits for the last few MB only (as PostgreSQL's *_flush_after do) */
    if (o->unsynced >= OUT_SYNC_AFTER && o->is_reg) {
        if (sync_file_range(o->fd, 0, 0, SYNC_FILE_RANGE_WRITE) < 0)
            o->is_reg = 0;   /* not supported here: leave it all to the fsync */
        o->unsynced = 0;
    }
#endif
    return 0;
}

/* A pipe's buffer grown to 1 MB where the system allows (Linux F_SETPIPE_SZ, up to
   fs.pipe-max-size): the reader (zstd, a filter) then drains it in fewer, larger reads, with
   fewer wake-ups on both sides. Nothing changes where it cannot. */
static void out_pipe_size(mno_out *o)
{
#ifdef F_SETPIPE_SZ
    struct stat st;
    if (fstat(o->fd, &st) == 0 && S_ISFIFO(st.st_mode) && fcntl(o->fd, F_GETPIPE_SZ) < (1 << 20))
        (void)fcntl(o->fd, F_SETPIPE_SZ, 1 << 20);
#else
    (void)o;
#endif
}

/* Compresses in[0..n) into the frame, writing what fills o->ob; mode ZSTD_e_end also ends
   the frame. */
static int out_compress(mno_out *o, const char *in, size_t n, ZSTD_EndDirective mode, mno_error *e)
{
    ZSTD_inBuffer zi = {in, n, 0};
    for (;;) {
        ZSTD_outBuffer zo = {o->ob, o->ocap, o->olen};
        size_t ret = ZSTD_compressStream2(o->cz, &zo, &zi, mode);
        if (ZSTD_isError(ret))
            return mno_err(e, MNO_E_INTERNAL, o->name, 0, NULL, "zstd compression failed: %s",
                           ZSTD_getErrorName(ret));
        o->olen = zo.pos;
        int done = mode == ZSTD_e_end ? ret == 0 : zi.pos == zi.size;
        if (o->olen == o->ocap || (done && o->olen > 0 && mode == ZSTD_e_end)) {
            if (write_all(o, o->ob, o->olen, e) < 0)
                return -1;
            o->olen = 0;
        }
        if (done)
            break;
    }
    return 0;
}

/* Compresses (or writes) the staged bytes; mode ZSTD_e_end also ends the frame. */
static int out_drain(mno_out *o, ZSTD_EndDirective mode, mno_error *e)
{
    int rc = o->cz ? out_compress(o, o->ib, o->ilen, mode, e) : write_all(o, o->ib, o->ilen, e);
    o->ilen = 0;
    return rc;
}

static void *zq_main(void *arg)
{
    mno_out *o = arg;
    out_zq *q = o->zq;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->count && !q->drain && !q->cancel)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->cancel || !q->count)
            break;
        const char *in = q->buf[q->head];
        size_t n = q->len[q->head];
        pthread_mutex_unlock(&q->mu);
        mno_error err;
        mno_error_clear(&err);
        int rc = out_compress(o, in, n, ZSTD_e_continue, &err);
        pthread_mutex_lock(&q->mu);
        q->head = (q->head + 1) % OUT_ZQ;
        q->count--;
        pthread_cond_broadcast(&q->cv);
        if (rc < 0) {
            q->err = err;
            q->failed = 1;
            break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Ends the compressing thread: after what is queued (0, or -1 with its error in e), or at
   once when cancel (for an abort). */
static int zq_stop(mno_out *o, int cancel, mno_error *e)
{
    out_zq *q = o->zq;
    if (!q || !q->started)
        return 0;
    pthread_mutex_lock(&q->mu);
    if (cancel)
        q->cancel = 1;
    q->drain = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    q->started = 0;
    if (q->failed && !cancel) {
        *e = q->err;
        return -1;
    }
    return 0;
}

/* Hands the full chunk o->ib to the compressing thread (started now if not yet) and takes
   the next one to fill. Returns 0, or -1 with e filled (the thread's error). */
static int zq_push(mno_out *o, mno_error *e)
{
    out_zq *q = o->zq;
    if (!q->started) {
        /* the tool's signals stay with the caller (its handler removes the partial file), but
           SIGPIPE, raised by this thread's writes, does as it did without it */
        sigset_t all, old;
        sigfillset(&all);
        sigdelset(&all, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int err = pthread_create(&q->th, NULL, zq_main, o);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err)
            return out_drain(o, ZSTD_e_continue, e);   /* no thread: compressed here */
        q->started = 1;
    }
    pthread_mutex_lock(&q->mu);
    q->len[(q->head + q->count) % OUT_ZQ] = o->ilen;
    q->count++;
    pthread_cond_broadcast(&q->cv);
    while (q->count == OUT_ZQ && !q->failed)
        pthread_cond_wait(&q->cv, &q->mu);
    int failed = q->failed;
    if (failed)
        *e = q->err;
    else
        o->ib = q->buf[(q->head + q->count) % OUT_ZQ];
    pthread_mutex_unlock(&q->mu);
    o->ilen = 0;
    return failed ? -1 : 0;
}

mno_out *mno_out_open(const char *path, const mno_out_opts *opts, mno_error *e)
{
    mno_out_opts def = MNO_OUT_OPTS_INIT;
    int to_stdout = !path || strcmp(path, "-") == 0;
    if (!opts) {
        size_t n = to_stdout ? 0 : strlen(path);
        def.zstd = n > 4 && strcmp(path + n - 4, ".zst") == 0;
        opts = &def;
    }
    mno_out *o = calloc(1, sizeof *o);
    if (!o) {
        mno_err(e, MNO_E_NOMEM, path, 0, NULL, "out of memory");
        return NULL;
    }
    o->fd = -1;
    if (!(o->file = mno_outfile_open(to_stdout ? "-" : path, e)))
        goto fail;
    o->fd = mno_outfile_fd(o->file);
    o->name = mno_outfile_name(o->file);
    struct stat fst;
    o->is_reg = fstat(o->fd, &fst) == 0 && S_ISREG(fst.st_mode);
    out_pipe_size(o);
    o->ib = malloc(OUT_CHUNK);
    if (!o->ib) {
        mno_err(e, MNO_E_NOMEM, o->name, 0, NULL, "out of memory");
        goto fail;
    }
    if (opts->zstd) {
        o->cz = ZSTD_createCCtx();
        o->ocap = ZSTD_CStreamOutSize();
        o->ob = malloc(o->ocap);
        if (!o->cz || !o->ob) {
            mno_err(e, MNO_E_NOMEM, o->name, 0, NULL, "out of memory");
            goto fail;
        }
        size_t r = ZSTD_CCtx_setParameter(o->cz, ZSTD_c_compressionLevel, opts->level);
        if (!ZSTD_isError(r))
            r = ZSTD_CCtx_setParameter(o->cz, ZSTD_c_checksumFlag, 1);
        if (ZSTD_isError(r)) {
            mno_err(e, MNO_E_USAGE, o->name, 0, NULL, "zstd level %d: %s", opts->level,
                    ZSTD_getErrorName(r));
            goto fail;
        }
        if (opts->threads > 0) {
            r = ZSTD_CCtx_setParameter(o->cz, ZSTD_c_nbWorkers, opts->threads);
            if (ZSTD_isError(r)) {
                mno_err(e, MNO_E_USAGE, o->name, 0, NULL, "zstd with %d threads: %s",
                        opts->threads, ZSTD_getErrorName(r));
                goto fail;
            }
        } else {
            out_zq *q = o->zq = calloc(1, sizeof *o->zq);
            if (!q) {
                mno_err(e, MNO_E_NOMEM, o->name, 0, NULL, "out of memory");
                goto fail;
            }
            pthread_mutex_init(&q->mu, NULL);
            pthread_cond_init(&q->cv, NULL);
            q->buf[0] = o->ib;
            for (size_t i = 1; i < OUT_ZQ; i++)
                if (!(q->buf[i] = malloc(OUT_CHUNK))) {
                    mno_err(e, MNO_E_NOMEM, o->name, 0, NULL, "out of memory");
                    goto fail;
                }
        }
    }
    return o;
fail:
    mno_out_abort(o);
    return NULL;
}

mno_out *mno_out_fdopen(int fd, const char *name, const mno_out_opts *opts, mno_error *e)
{
    mno_out *o = mno_out_open("-", opts, e);
    if (o) {
        struct stat st;
        mno_outfile_abort(o->file); /* stdout: nothing to close */
        o->file = NULL;
        o->fd = fd;
        o->name = name ? name : "<fd>";
        o->is_reg = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        out_pipe_size(o);
    }
    return o;
}

int mno_out_write(mno_out *o, const void *p, size_t n, mno_error *e)
{
    const char *s = p;
    o->bytes += n;
    while (n > 0) {
        if (o->ilen == 0 && n >= OUT_CHUNK && !o->cz)
            return write_all(o, s, n, e); /* large plain write: no copy */
        size_t k = OUT_CHUNK - o->ilen;
        if (k > n)
            k = n;
        memcpy(o->ib + o->ilen, s, k);
        o->ilen += k;
        s += k;
        n -= k;
        if (o->ilen == OUT_CHUNK && (o->zq ? zq_push(o, e) : out_drain(o, ZSTD_e_continue, e)) < 0)
            return -1;
    }
    return 0;
}

int mno_out_finish(mno_out *o, mno_error *e)
{
    int rc = -1;
    if (zq_stop(o, 0, e) < 0 || out_drain(o, o->cz ? ZSTD_e_end : ZSTD_e_continue, e) < 0)
        goto done;
    if (o->file) {
        rc = mno_outfile_commit(o->file, e);
        o->file = NULL;
        goto done;
    }
    struct stat st;   /* an fd of the caller's: synced when it is a regular file */
    if (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(o->fd) < 0) {
        mno_err(e, MNO_E_IO, o->name, 0, NULL, "cannot sync: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    mno_out_abort(o);
    return rc;
}

void mno_out_abort(mno_out *o)
{
    if (!o)
        return;
    zq_stop(o, 1, NULL);
    mno_outfile_abort(o->file);
    ZSTD_freeCCtx(o->cz);
    if (o->zq) {
        for (size_t i = 0; i < OUT_ZQ; i++)
            free(o->zq->buf[i]);
        pthread_mutex_destroy(&o->zq->mu);
        pthread_cond_destroy(&o->zq->cv);
        free(o->zq);
    } else {
        free(o->ib);
    }
    free(o->ob);
    free(o);
}

unsigned long long mno_out_bytes(const mno_out *o) { return o->bytes; }
