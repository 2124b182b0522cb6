/* verify_live.c: mno-verify --source: a live source against a live target, the source's side being exactly what mno-dump selects. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dump.h"
#include "verify.h"

/*
 * The source side is the dump driver (lib/driver/dump.c) itself: the same scope file, plan and
 * records as `mno-dump --tenant`, written by a second thread into a pipe that the archive
 * comparison (mno_verify_stream) reads as it would read an archive file. Nothing touches
 * the disk and memory stays flat: the pipe holds the dump back while the target is hashed.
 */

typedef struct live_dump {
    mno_dump *d;
    int wfd;                  /* the pipe's write end; closed by the thread */
    mno_error e;
    int rc;
} live_dump;

static void *dump_thread(void *arg)
{
    live_dump *l = arg;
    sigset_t pipe_set;
    /* a reader that stops early makes write() fail with EPIPE instead of killing the process */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    mno_out *out = mno_out_fdopen(l->wfd, "the source's dump", &oo, &l->e);
    l->rc = -1;
    if (out && mno_dump_run_to(l->d, out, NULL, &l->e) == 0) {
        l->rc = mno_out_finish(out, &l->e);
        out = NULL;
    }
    mno_out_abort(out);
    close(l->wfd);
    return NULL;
}

int mno_verify_live(const mno_verify_opts *o, mno_vreport *rep, mno_error *e)
{
    char red[1024];
    mno_dump_cfg cfg = MNO_DUMP_CFG_INIT;
    live_dump l;
    mno_in *in = NULL;
    pthread_t th;
    int fds[2] = {-1, -1}, started = 0, rc = -1;
    memset(&l, 0, sizeof l);
    mno_error_clear(&l.e);
    if (!o->tenant || !*o->tenant)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--source needs --tenant NAME");
    rep->source = strdup(mno_redact_uri(o->source, red, sizeof red));
    rep->tenant = strdup(o->tenant);
    if (!rep->source || !rep->tenant)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    const mno_engine_ops *sops = mno_engine_for_uri(o->source), *tops = mno_engine_for_uri(o->target);
    if (sops != tops)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "the source is %s but the target is %s",
                       sops->name, tops->name);
    cfg.source = o->source;
    cfg.o.tenant = o->tenant;
    cfg.o.scope_path = o->scope_path;
    cfg.o.orgs_from = o->orgs_from;
    cfg.o.hub_uri = o->hub_uri;
    cfg.o.retries = 5;
    cfg.scope_dir = o->scope_dir;
    /* connect, choose the scope and plan here: a bad tenant or scope is reported as such */
    if (mno_dump_open(&l.d, &cfg, e) < 0)
        goto done;
    if (mno_dump_plan(l.d)->n == 0) {
        /* an empty comparison would pass: a wrong database name must not */
        mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "nothing to verify: the source '%s' has no %s that "
                "scope '%s' covers", rep->source, mno_dump_object_word(l.d), mno_dump_scope_path(l.d));
        goto done;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot create a pipe: %s", strerror(errno));
        goto done;
    }
    l.wfd = fds[1];
    if ((errno = pthread_create(&th, NULL, dump_thread, &l)) != 0) {
        mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "cannot start the dump thread: %s", strerror(errno));
        close(fds[1]);
        goto done;
    }
    started = 1;
    fds[1] = -1;  /* the thread's now */
    in = mno_in_fdopen(fds[0], "the source's dump", 0, e);
    if (in)
        rc = mno_verify_stream(o, in, rep, e);
done:
    mno_in_close(in);
    if (fds[0] >= 0)
        close(fds[0]);  /* a dump still writing gets EPIPE and stops */
    if (started) {
        pthread_join(th, NULL);
        /* the source's own failure explains a truncated stream; a write error on the pipe
           only says that the comparison stopped first */
        if (l.rc < 0 && (rc == 0 || l.e.code != MNO_E_IO)) {
            *e = l.e;
            rc = -1;
        }
    }
    mno_dump_free(l.d);
    return rc;
}
