/* progress.c: per-section progress rows (rows, bytes, rate) on a terminal or a forced stream. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "error.h"
#include "progress.h"

#define REDRAW_S 0.2      /* terminal: redraw at most this often */
#define LOG_S 10.0        /* not a terminal: a row this often during a long section */
#define CLOCK_EVERY 256   /* updates between clock reads */

struct mno_progress {
    int fd;
    int tty;              /* redraw in place */
    int drawn;            /* a half row is on the terminal */
    char ns[MNO_NAME_MSG_MAX];
    size_t index, total;
    long long expected;
    double t0, sec_t0, last;
    unsigned calls;
    uint64_t rows, bytes; /* current section, last seen */
    uint64_t all_rows, all_bytes;
    size_t sections;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(mno_progress *p, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(p->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* best effort */
        s += w;
        n -= (size_t)w;
    }
}

static void putf(mno_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(mno_progress *p, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(p, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

mno_progress *mno_progress_new(int fd, int mode)
{
    if (mode == MNO_PROGRESS_OFF)
        return NULL;
    int tty = isatty(fd);
    if (mode == MNO_PROGRESS_AUTO && !tty)
        return NULL;
    mno_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fd = fd;
    p->tty = tty;
    p->t0 = now_s();
    return p;
}

int mno_progress_enabled(const mno_progress *p) { return p != NULL; }

/* The row for the current section, without line end. */
static void row(mno_progress *p, char *out, size_t n, int final)
{
    double el = now_s() - p->sec_t0;
    double mb = (double)p->bytes / 1e6;
    char pos[64] = "", pct[32] = "";
    if (p->total)
        snprintf(pos, sizeof pos, "[%zu/%zu] ", p->index, p->total);
    else if (p->index)
        snprintf(pos, sizeof pos, "[%zu] ", p->index);
    if (!final && p->expected > 0)
        snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * (double)p->rows / (double)p->expected);
    if (el > 0.0005)
        snprintf(out, n, "%s%s: %llu rows%s, %.1f MB, %.1f s, %.0f rows/s, %.1f MB/s", pos, p->ns,
                 (unsigned long long)p->rows, pct, mb, el, (double)p->rows / el, mb / el);
    else
        snprintf(out, n, "%s%s: %llu rows%s, %.1f MB, %.1f s", pos, p->ns,
                 (unsigned long long)p->rows, pct, mb, el);
}

void mno_progress_clear(mno_progress *p)
{
    if (p && p->tty && p->drawn) {
        put(p, "\r\033[K", 4);
        p->drawn = 0;
    }
}

void mno_progress_begin(mno_progress *p, const char *ns, size_t index, size_t total,
                        long long expected)
{
    if (!p)
        return;
    mno_name_msg(ns, p->ns, sizeof p->ns);   /* a name never forges a line */
    p->index = index;
    p->total = total;
    p->expected = expected;
    p->rows = p->bytes = 0;
    p->calls = 0;
    p->sec_t0 = p->last = now_s();
    if (p->tty) {
        char r[MNO_NAME_MSG_MAX + 200];
        row(p, r, sizeof r, 0);
        putf(p, "\r\033[K%s", r);
        p->drawn = 1;
    }
}

void mno_progress_update(mno_progress *p, uint64_t rows, uint64_t bytes)
{
    if (!p)
        return;
    p->rows = rows;
    p->bytes = bytes;
    if (++p->calls % CLOCK_EVERY)
        return;
    double t = now_s();
    if (t - p->last < (p->tty ? REDRAW_S : LOG_S))
        return;
    p->last = t;
    char r[MNO_NAME_MSG_MAX + 200];
    row(p, r, sizeof r, 0);
    if (p->tty) {
        putf(p, "\r\033[K%s", r);
        p->drawn = 1;
    } else {
        putf(p, "%s\n", r);
    }
}

void mno_progress_end(mno_progress *p, uint64_t rows, uint64_t bytes)
{
    if (!p)
        return;
    p->rows = rows;
    p->bytes = bytes;
    char r[MNO_NAME_MSG_MAX + 200];
    row(p, r, sizeof r, 1);
    mno_progress_clear(p);
    putf(p, "%s\n", r);
    p->all_rows += rows;
    p->all_bytes += bytes;
    p->sections++;
}

void mno_progress_finish(mno_progress *p)
{
    if (!p)
        return;
    mno_progress_clear(p);
    double el = now_s() - p->t0;
    putf(p, "done: %zu section%s, %llu rows, %.1f MB in %.1f s\n", p->sections,
         p->sections == 1 ? "" : "s", (unsigned long long)p->all_rows,
         (double)p->all_bytes / 1e6, el);
}

void mno_progress_free(mno_progress *p)
{
    free(p);
}
