/* recpipe.c: record lines decoded and hashed in a second thread for a sums-only reader (the protocol is in recpipe.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "engine_mongo_json.h"
#include "pgrec.h"
#include "recpipe.h"

#define SLOTS 4
#define SLOT_LINES 1024
#define SLOT_BYTES ((size_t)512 << 10)
#define HASH_BATCH 128

enum { S_FREE, S_FILLING, S_QUEUED, S_WORKING, S_DONE, S_TAKEN };

/* What decoding and hashing a batch needs; one for the worker, one for the reading thread
   (which does a batch itself when the worker has one waiting already). */
typedef struct wctx {
    mno_pgrec *pg;
    mno_buf text;                   /* canonical forms waiting to be hashed */
    size_t toff[HASH_BATCH + 1];
    size_t tn;
} wctx;

typedef struct slot {
    int state;
    mno_buf lines;                  /* the lines back to back */
    size_t off[SLOT_LINES + 1];
    long long lineno[SLOT_LINES];
    size_t n;
    /* the worker's results */
    mno_sum sum;
    size_t slow[SLOT_LINES];        /* indexes of the lines the fast path left */
    size_t nslow;
} slot;

struct mno_recpipe {
    pthread_t th;
    int started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot s[SLOTS];
    int filling;                    /* the reading thread fills slot fill (its own flag) */
    size_t fill;                    /* that slot */
    size_t next;                    /* the slot to fill next (ring order) */
    size_t take;                    /* the oldest slot handed over and not taken back */
    size_t inflight;                /* slots handed over and not released */
    /* the section (set up while nothing is in flight) */
    mno_engine_kind engine;
    size_t envlen;
    wctx w[2];                      /* 0: the worker's, 1: the reading thread's */
};

mno_recpipe *mno_recpipe_new(void)
{
    mno_recpipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->w[0].pg = mno_pgrec_new();
    p->w[1].pg = mno_pgrec_new();
    if (!p->w[0].pg || !p->w[1].pg || pthread_mutex_init(&p->mu, NULL) != 0) {
        mno_pgrec_free(p->w[0].pg);
        mno_pgrec_free(p->w[1].pg);
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        mno_pgrec_free(p->w[0].pg);
        mno_pgrec_free(p->w[1].pg);
        free(p);
        return NULL;
    }
    return p;
}

void mno_recpipe_free(mno_recpipe *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    for (size_t i = 0; i < SLOTS; i++)
        mno_buf_release(&p->s[i].lines);
    for (size_t i = 0; i < 2; i++) {
        mno_buf_release(&p->w[i].text);
        mno_pgrec_free(p->w[i].pg);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int mno_recpipe_setup(mno_recpipe *p, const mno_section *s, size_t envlen)
{
    p->engine = s->engine;
    p->envlen = envlen;
    if (s->engine != MNO_ENGINE_PG)
        return 0;
    return mno_pgrec_setup(p->w[0].pg, s) < 0 || mno_pgrec_setup(p->w[1].pg, s) < 0 ? -1 : 0;
}

/* Hashes the canonical forms waiting in w->text into sum. */
static void hash_text(wctx *p, mno_sum *sum)
{
    const unsigned char *msg[HASH_BATCH];
    size_t len[HASH_BATCH];
    unsigned char dig[HASH_BATCH][16];
    if (!p->tn)
        return;
    p->toff[p->tn] = p->text.len;
    for (size_t i = 0; i < p->tn; i++) {
        msg[i] = (const unsigned char *)p->text.data + p->toff[i];
        len[i] = p->toff[i + 1] - p->toff[i];
    }
    mno_md5_many(msg, len, p->tn, dig);
    for (size_t i = 0; i < p->tn; i++)
        mno_sum_add_digest(sum, dig[i]);
    p->tn = 0;
    mno_buf_reset(&p->text);
}

/* One batch, with w. A line the fast path does not take (or that finds no memory) is left
   to the reader's general path, which decides. */
static void work(const mno_recpipe *p, wctx *w, slot *b)
{
    mno_sum sum = MNO_SUM_ZERO;
    b->nslow = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *line = b->lines.data + b->off[i];
        size_t len = b->off[i + 1] - b->off[i], start = w->text.len;
        int rc;
        if (p->engine == MNO_ENGINE_PG)
            rc = mno_pgrec_parse_text(w->pg, line, len, &w->text) == 1;
        else
            rc = len > p->envlen + 1 && line[len - 1] == '}' &&
                 mno_ejson_text_to_buf(line + p->envlen, len - p->envlen - 1, &w->text) == 0;
        /* a document over the server's limit: the general path refuses it, naming the record */
        if (!rc || (p->engine != MNO_ENGINE_PG && w->text.len - start > MNO_BSON_MAX)) {
            w->text.len = start;
            b->slow[b->nslow++] = i;
            continue;
        }
        w->toff[w->tn++] = start;
        if (w->tn == HASH_BATCH)
            hash_text(w, &sum);
    }
    hash_text(w, &sum);
    b->sum = sum;
}

/* A queued slot (the oldest when the reading thread takes it back first), or NULL. Under the lock. */
static slot *queued(mno_recpipe *p)
{
    for (size_t k = 0; k < SLOTS; k++) {
        slot *b = &p->s[(p->take + k) % SLOTS];
        if (b->state == S_QUEUED)
            return b;
    }
    return NULL;
}

/* The worker does queued batches in any order: the reading thread takes them back in order. */
static void *worker(void *arg)
{
    mno_recpipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        slot *b;
        while (!p->stop && !(b = queued(p)))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        b->state = S_WORKING;
        pthread_mutex_unlock(&p->mu);
        work(p, &p->w[0], b);
        pthread_mutex_lock(&p->mu);
        b->state = S_DONE;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Sets a slot's state (the worker reads states under the lock). */
static void set_state(mno_recpipe *p, slot *b, int state)
{
    pthread_mutex_lock(&p->mu);
    b->state = state;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Hands the slot being filled to the worker (starting it the first time); when the worker
   has a batch waiting already, or no thread can start, the reading thread does it itself. */
static void submit(mno_recpipe *p)
{
    slot *b = &p->s[p->fill];
    if (!p->filling)
        return;
    p->filling = 0;
    if (!p->started && pthread_create(&p->th, NULL, worker, p) == 0)
        p->started = 1;
    pthread_mutex_lock(&p->mu);
    int self = !p->started || queued(p) != NULL;
    b->state = self ? S_WORKING : S_QUEUED;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (self) {
        work(p, &p->w[1], b);
        set_state(p, b, S_DONE);
    }
}

int mno_recpipe_blocked(const mno_recpipe *p)
{
    if (p->filling)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&p->mu);
    int busy = p->s[p->next].state != S_FREE;
    pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
    return busy;
}

int mno_recpipe_add(mno_recpipe *p, const char *line, size_t len, long long lineno)
{
    slot *b = &p->s[p->fill];
    if (!p->filling) {
        p->fill = p->next;
        p->next = (p->next + 1) % SLOTS;
        b = &p->s[p->fill];
        set_state(p, b, S_FILLING);
        p->filling = 1;
        b->n = 0;
        b->off[0] = 0;
        mno_buf_reset(&b->lines);
        p->inflight++;
    }
    if (mno_buf_add(&b->lines, line, len) < 0)
        return -1;
    b->lineno[b->n] = lineno;
    b->off[++b->n] = b->lines.len;
    if (b->n == SLOT_LINES || b->lines.len >= SLOT_BYTES)
        submit(p);
    return 0;
}

int mno_recpipe_pending(const mno_recpipe *p)
{
    return p->inflight > 0;
}

int mno_recpipe_take(mno_recpipe *p, mno_sum *sum, size_t *nslow)
{
    if (!p->inflight)
        return 0;
    submit(p);
    slot *b = &p->s[p->take];
    pthread_mutex_lock(&p->mu);
    if (b->state == S_QUEUED) {
        /* not started yet: done here rather than waited for */
        b->state = S_WORKING;
        pthread_mutex_unlock(&p->mu);
        work(p, &p->w[1], b);
        pthread_mutex_lock(&p->mu);
        b->state = S_DONE;
    }
    while (b->state != S_DONE)
        pthread_cond_wait(&p->cv, &p->mu);
    b->state = S_TAKEN;
    pthread_mutex_unlock(&p->mu);
    /* the worker wrote the results before S_DONE, under the lock */
    *sum = b->sum;
    *nslow = b->nslow;
    return 1;
}

void mno_recpipe_slow(const mno_recpipe *p, size_t i, const char **line, size_t *len, long long *lineno)
{
    const slot *b = &p->s[p->take];
    size_t k = b->slow[i];
    *line = b->lines.data + b->off[k];
    *len = b->off[k + 1] - b->off[k];
    *lineno = b->lineno[k];
}

long long mno_recpipe_taken_last(const mno_recpipe *p)
{
    const slot *b = &p->s[p->take];
    return b->n ? b->lineno[b->n - 1] : 0;
}

void mno_recpipe_release(mno_recpipe *p)
{
    slot *b = &p->s[p->take];
    if (b->state != S_TAKEN)
        return;
    pthread_mutex_lock(&p->mu);
    b->state = S_FREE;
    p->take = (p->take + 1) % SLOTS;   /* the worker reads it (queued) */
    pthread_mutex_unlock(&p->mu);
    p->inflight--;
}
