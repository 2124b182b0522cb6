/* restore.c: mno-restore's driver: the checking reader feeds an engine's restore ops section by section; a section is committed only after its end line was verified (protocol in restore.h); -j N restores sections in worker threads. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "restore.h"

#define PROGRESS_EVERY 4096

void mno_restore_result_init(mno_restore_result *res)
{
    memset(res, 0, sizeof *res);
}

void mno_restore_result_release(mno_restore_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n; i++)
        free(res->secs[i].ns);
    free(res->secs);
    res->secs = NULL;
    res->n = res->cap = 0;
}

static mno_rsection *add_section(mno_restore_result *res, const char *ns)
{
    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 16;
        mno_rsection *a = realloc(res->secs, cap * sizeof *a);
        if (!a)
            return NULL;
        res->secs = a;
        res->cap = cap;
    }
    mno_rsection *s = &res->secs[res->n];
    memset(s, 0, sizeof *s);
    s->ns = strdup(ns);
    if (!s->ns)
        return NULL;
    res->n++;
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The test-only crash point (restore.h): "NS:N", "NS:end", "NS:commit". */
struct killpoint {
    char ns[512];
    long long after;   /* records; -1: end, -2: commit; -3: none */
};

static int parse_killpoint(const char *spec, struct killpoint *k, mno_error *e)
{
    k->after = -3;
    if (!spec || !*spec)
        return 0;
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof k->ns)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "MNO_TEST_RESTORE_KILL: expected NS:N, NS:end or NS:commit");
    memcpy(k->ns, spec, (size_t)(colon - spec));
    k->ns[colon - spec] = '\0';
    if (strcmp(colon + 1, "end") == 0)
        k->after = -1;
    else if (strcmp(colon + 1, "commit") == 0)
        k->after = -2;
    else {
        char *end;
        long long v = strtoll(colon + 1, &end, 10);
        if (!colon[1] || *end || v < 0)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "MNO_TEST_RESTORE_KILL: expected NS:N, NS:end or NS:commit");
        k->after = v;
    }
    return 0;
}

static void maybe_kill(const struct killpoint *k, const char *ns, long long at)
{
    if (k->after == at && strcmp(k->ns, ns) == 0)
        kill(getpid(), SIGKILL);
}

/* Puts the input position and the section in front of an engine's message (once). */
static int wrap(mno_error *e, const char *input, long long line, const char *ns)
{
    char body[sizeof e->msg], pre[MNO_NAME_MSG_MAX + 16];
    mno_err_prefix(NULL, 0, ns, pre, sizeof pre);
    const char *m = e->msg;
    if (strncmp(m, pre, strlen(pre)) == 0)
        m += strlen(pre);
    snprintf(body, sizeof body, "%s", m);
    /* an engine may know the record's own line (a row the server rejected) */
    return mno_err(e, e->code ? e->code : MNO_E_INTERNAL, input, e->line > 0 ? e->line : line, ns, "%s", body);
}

/*
 * Whether the section of begin item it can go into the target by its names alone (engine
 * op restore_ns_check; ops NULL: not known yet). Returns 0, or -1 with e naming input,
 * line and section.
 */
static int ns_check(const mno_engine_ops *ops, const char *target, const mno_item *it, const char *input,
                    mno_error *e)
{
    if (!ops || !ops->restore_ns_check || ops->restore_ns_check(target, it->section->ns, e) == 0)
        return 0;
    return wrap(e, input, it->lineno, it->section->ns);
}

/* The archive's identity: the header's "id", else "md5:" + md5 of the header line. */
static void archive_identity(const mno_item *it, char *out, size_t n)
{
    const char *id = json_string_value(json_object_get(it->obj, "id"));
    if (id && *id) {
        snprintf(out, n, "%s", id);
        return;
    }
    unsigned char d[16];
    mno_md5(it->line, it->len, d);
    size_t k = (size_t)snprintf(out, n, "md5:");
    for (int i = 0; i < 16 && k + 2 < n; i++, k += 2)
        snprintf(out + k, n - k, "%02x", d[i]);
}

/* -j N: a section of the archive as the check (or index) pass found it. */
struct secpos {
    char *ns;
    unsigned long long off;  /* decoded byte offset of its begin line */
    long long lines;         /* lines before it */
    size_t *deps;            /* sections (indexes) that must have committed before it starts */
    size_t ndeps;
    int state;               /* 0 waiting, 1 running, 2 committed or skipped, 3 failed or stopped */
};

/* -j N: where the sections start, and the archive's size. */
struct index {
    struct secpos *s;
    size_t n, cap;
    unsigned long long bytes;     /* decoded bytes of the whole archive */
    unsigned long long bytes_in;  /* bytes of the input (compressed when zstd) */
};

struct run {
    const mno_restore_cfg *cfg;
    mno_restore_result *res;
    const mno_engine_ops *ops;
    mno_restore_opts o;
    struct killpoint kp;
    double t0;
    uint64_t begun;         /* sections begun (the serial run numbers them so) */
    int dry_fail;           /* dry run: a section would fail */
    mno_error dry_err;      /* the first such failure */
    /* -j N */
    pthread_mutex_t mu;     /* res (sections, stats) and the progress callback; the fields below */
    pthread_cond_t cv;      /* a section ended, or the run stops */
    int parallel;
    struct index ix;
    size_t *order;          /* order[k]: the archive index of res->secs[k] */
    int stop;               /* an error: no section starts, those in flight stop (atomic) */
    int failed;             /* r->err holds the first error */
    mno_error err;
    size_t failed_at;       /* its section's place in res->secs, or SIZE_MAX */
    json_t *schema;         /* the header's schema for --create (pg: "pg_schema"), or NULL */
};

/*
 * One engine connection and the section in flight on it: the serial run has one, -j N one
 * per worker thread (each connection, input and reader is used by its own thread only).
 */
struct conn {
    struct run *r;
    mno_engine *en;
    mno_in *in;
    mno_reader *rd;
    unsigned long long pos;  /* -j N: decoded offset of the next line of in */
    mno_rsection *cur;       /* the section in flight */
    uint64_t sec_index;      /* its 1-based number */
    unsigned long long sec_bytes;  /* its archive bytes so far */
    unsigned long long told;       /* of which already added to the stats */
    int active;              /* the engine holds an open section (abort on error) */
    int skipping;            /* --resume: journaled, only read and checked */
    int stopped;             /* -j N: stopped by another section's error */
    uint64_t j_count;        /* its journaled count and sum */
    mno_sum j_sum;
};

static void lock(struct run *r) { pthread_mutex_lock(&r->mu); }
static void unlock(struct run *r) { pthread_mutex_unlock(&r->mu); }

static void progress_locked(struct run *r, struct conn *c, int event, const char *ns, uint64_t sec_records)
{
    mno_restore_stats *st = &r->res->st;
    if (c) {
        st->bytes += c->sec_bytes - c->told;
        c->told = c->sec_bytes;
        if (c->sec_index > st->sec_index)
            st->sec_index = c->sec_index;
    }
    if (!r->cfg->progress)
        return;
    mno_restore_stats snap = *st;
    snap.event = event;
    snap.ns = ns;
    snap.sec_records = sec_records;
    snap.sec_index = c ? c->sec_index : st->sec_index;
    snap.sec_bytes = c ? c->sec_bytes : 0;
    if (!r->parallel)
        snap.bytes_in = c && c->in ? mno_in_bytes(c->in) : st->bytes_in;
    else if (r->ix.bytes)   /* the workers read parts of the input: its share read so far */
        snap.bytes_in = (unsigned long long)((double)r->ix.bytes_in * (double)st->bytes / (double)r->ix.bytes);
    snap.seconds = now_s() - r->t0;
    snap.done = event == MNO_REV_DONE;
    r->cfg->progress(r->cfg->progress_arg, &snap);
}

/* Adds c's section bytes to the stats and calls the progress callback (one call at a time). */
static void progress(struct run *r, struct conn *c, int event, const char *ns, uint64_t sec_records)
{
    lock(r);
    progress_locked(r, c, event, ns, sec_records);
    unlock(r);
}

/* Dry run (serial): keeps the first error a section would meet, and clears e to read on. */
static void dry_failure(struct run *r, struct conn *c, mno_error *e, const char *input, long long line,
                        const char *ns)
{
    if (!r->dry_fail) {
        r->dry_err = *e;
        wrap(&r->dry_err, input, line, ns);
    }
    r->dry_fail = 1;
    if (c->cur) {
        c->cur->probed = 1;
        char pre[MNO_NAME_MSG_MAX + 16];
        mno_err_prefix(NULL, 0, ns, pre, sizeof pre);
        const char *m = strncmp(e->msg, pre, strlen(pre)) == 0 ? e->msg + strlen(pre) : e->msg;
        snprintf(c->cur->note, sizeof c->cur->note, "%.500s", m);
    }
    mno_error_clear(e);
}

/* --create: the archive's schema before the first section (phase 0) or after the last (1),
   through the engine (restore_schema); its note, if any, into the result. Returns 0 or -1. */
static int schema_phase(struct run *r, struct conn *c, int phase, mno_error *e)
{
    char *note = NULL;
    if (!r->schema || !r->cfg->create || r->cfg->dry_run || !r->ops->restore_schema)
        return 0;
    if (r->ops->restore_schema(c->en, &r->o, r->schema, phase, &note, e) < 0)
        return wrap(e, mno_in_name(c->in), phase == 0 ? 1 : 0, NULL);
    if (note)
        snprintf(r->res->schema_note, sizeof r->res->schema_note, "%s", note);
    else if (phase == 0)
        r->res->schema_ran = 1;
    free(note);
    return 0;
}

/* The header: checks the engine, takes the archive's identity, opens c's connection, and
   runs the archive's schema (--create) before the first section. */
static int on_header(struct run *r, struct conn *c, const mno_item *it, mno_error *e)
{
    r->ops = mno_engine_for_archive(it, mno_in_name(c->in), r->cfg->target, r->res->target, e);
    if (!r->ops)
        return -1;
    archive_identity(it, r->res->archive_id, sizeof r->res->archive_id);
    r->res->st.engine = r->ops->name;
    r->res->st.archive_id = r->res->archive_id;
    r->o.archive_id = r->res->archive_id;
    /* the archive's own SQL only from an archive authenticated by the check pass, before
       anything was applied (a stream is authenticated only at its end: too late) */
    r->o.run_ddl = r->cfg->trust_archive || r->res->auth == MNO_AUTH_OK;
    r->o.ddl_skipped = &r->res->ddl_skipped;
    if (!r->ops->restore_begin || !r->ops->restore_rec || !r->ops->restore_commit || !r->ops->restore_abort)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "the %s engine cannot restore", r->ops->name);
    if (r->cfg->resume && !r->ops->journal_get)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--resume: the %s engine keeps no restore journal",
                       r->ops->name);
    if (r->ops->open(&c->en, r->cfg->target, MNO_ROLE_TARGET, e) < 0)
        return -1;
    r->schema = json_incref(json_object_get(it->obj, "pg_schema"));
    return schema_phase(r, c, 0, e);
}

static int on_begin(struct run *r, struct conn *c, const mno_item *it, mno_error *e)
{
    const mno_section *s = it->section;
    const char *input = mno_in_name(c->in);
    int found = 0;
    lock(r);
    c->cur = add_section(r->res, s->ns);
    if (c->cur && r->order)
        r->order[r->res->n - 1] = (size_t)c->sec_index - 1;
    unlock(r);
    if (!c->cur)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    c->skipping = 0;
    c->sec_bytes = it->len + 1;
    c->told = 0;
    if (r->ops->restore_ns_check && r->ops->restore_ns_check(r->cfg->target, s->ns, e) < 0) {
        if (!r->cfg->dry_run)
            return wrap(e, input, it->lineno, s->ns);
        /* a dry run reports it for the section and reads on */
        dry_failure(r, c, e, input, it->lineno, s->ns);
        progress(r, c, MNO_REV_BEGIN, s->ns, 0);
        return 0;
    }
    if (r->ops->journal_get) {
        if (r->ops->journal_get(c->en, r->o.archive_id, s->ns, &found, &c->j_count, &c->j_sum, e) < 0)
            return wrap(e, input, it->lineno, s->ns);
        if (found && !r->cfg->resume && !r->cfg->dry_run)
            return mno_err(e, MNO_E_USAGE, input, it->lineno, s->ns,
                           "already restored from this archive (id %s) into the target: "
                           "rerun with --resume to finish an interrupted restore", r->o.archive_id);
        c->skipping = found;
    }
    progress(r, c, MNO_REV_BEGIN, s->ns, 0);
    if (c->skipping || (r->cfg->dry_run && !r->ops->restore_probe))
        return 0;
    c->active = 1;
    if (r->ops->restore_begin(c->en, &r->o, s, e) < 0) {
        if (!r->cfg->dry_run || (e->code != MNO_E_USAGE && e->code != MNO_E_CONFLICT))
            return wrap(e, input, it->lineno, s->ns);
        /* a dry run reports what would fail (a missing table) and reads on */
        r->ops->restore_abort(c->en);
        c->active = 0;
        dry_failure(r, c, e, input, it->lineno, s->ns);
        return 0;
    }
    maybe_kill(&r->kp, s->ns, 0);
    return 0;
}

static int on_rec(struct run *r, struct conn *c, const mno_item *it, mno_error *e)
{
    const mno_section *s = it->section;
    if (c->active) {
        if (r->ops->restore_rec(c->en, it, e) < 0)
            return wrap(e, mno_in_name(c->in), it->lineno, s->ns);
        if (r->kp.after >= 0)
            maybe_kill(&r->kp, s->ns, (long long)s->count);
    }
    c->sec_bytes += it->len + 1;
    if (s->count % PROGRESS_EVERY == 0)
        progress(r, c, MNO_REV_RECORDS, s->ns, s->count);
    return 0;
}

static int on_end(struct run *r, struct conn *c, const mno_item *it, mno_error *e)
{
    const mno_section *s = it->section;   /* count and sum verified by the reader */
    const char *input = mno_in_name(c->in);
    char a[33], b[33];
    c->cur->count = s->count;
    c->cur->sum = s->sum;
    if (c->skipping) {
        if (c->j_count != s->count || !mno_sum_eq(&c->j_sum, &s->sum))
            return mno_err(e, MNO_E_CORRUPT, input, it->lineno, s->ns,
                           "the target's restore journal says %llu records, sum %s for this archive, "
                           "but the archive has %llu, sum %s",
                           (unsigned long long)c->j_count, mno_sum_hex(&c->j_sum, a),
                           (unsigned long long)s->count, mno_sum_hex(&s->sum, b));
        c->cur->status = MNO_RSEC_SKIPPED;
    } else if (r->cfg->dry_run) {
        c->cur->status = MNO_RSEC_DRY;
        if (c->active) {
            mno_error pe;
            mno_error_clear(&pe);
            c->active = 0;
            if (r->ops->restore_probe(c->en, s, &c->cur->probe, &pe) < 0) {
                if (pe.code != MNO_E_CONFLICT && pe.code != MNO_E_USAGE) {
                    *e = pe;
                    return wrap(e, input, it->lineno, s->ns);
                }
                dry_failure(r, c, &pe, input, it->lineno, s->ns);
            }
            c->cur->probed = 1;
        }
    } else {
        maybe_kill(&r->kp, s->ns, -1);
        if (r->ops->restore_commit(c->en, s, e) < 0)
            return wrap(e, input, it->lineno, s->ns);
        c->active = 0;
        c->cur->status = MNO_RSEC_RESTORED;
        maybe_kill(&r->kp, s->ns, -2);
    }
    c->active = 0;
    c->skipping = 0;
    c->sec_bytes += it->len + 1;
    lock(r);
    mno_restore_stats *st = &r->res->st;
    if (c->cur->status == MNO_RSEC_SKIPPED) {
        st->sections_skipped++;
        st->records_skipped += s->count;
    }
    st->sections++;
    st->records += s->count;
    c->cur = NULL;
    progress_locked(r, c, MNO_REV_END, s->ns, s->count);
    unlock(r);
    return 0;
}

/*
 * One section, restored through c's engine from c's reader, which has just returned its
 * begin line (it): its records and its end line are read here. The serial run and every
 * -j worker go through this one function. Returns 0 (committed, skipped or checked), or -1
 * with e filled: the section is then rolled back (restore_abort) and marked failed (or,
 * -j N, stopped by another section's error: c->stopped).
 */
static int restore_section(struct run *r, struct conn *c, const mno_item *begin, mno_error *e)
{
    mno_item it;
    int got = -1;
    if (on_begin(r, c, begin, e) < 0)
        goto fail;
    while ((got = mno_reader_next(c->rd, &it, e)) > 0) {
        if (it.kind == MNO_ITEM_END) {
            if (on_end(r, c, &it, e) < 0)
                goto fail;
            return 0;
        }
        if (it.kind != MNO_ITEM_REC || on_rec(r, c, &it, e) < 0)
            goto fail;
        if (r->parallel && __atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
            c->stopped = 1;
            mno_err(e, MNO_E_INTERNAL, mno_in_name(c->in), it.lineno, begin->section->ns,
                    "stopped: another section failed");
            goto fail;
        }
    }
fail:
    if (got == 0 && !e->msg[0])   /* not reached: the reader ends only after a trailer */
        mno_err(e, MNO_E_INTERNAL, mno_in_name(c->in), 0, begin->section->ns, "the section has no end line");
    if (c->active) {
        r->ops->restore_abort(c->en);
        c->active = 0;
        if (c->cur)
            c->cur->rolled_back = 1;
    }
    if (c->cur)
        c->cur->status = c->stopped ? MNO_RSEC_STOPPED : MNO_RSEC_FAILED;
    c->cur = NULL;
    return -1;
}

/* -j N: notes where a section starts. Returns 0 or -1 (out of memory). */
static int index_add(struct index *ix, const char *ns, unsigned long long off, long long lines)
{
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 16;
        struct secpos *a = realloc(ix->s, cap * sizeof *a);
        if (!a)
            return -1;
        ix->s = a;
        ix->cap = cap;
    }
    struct secpos *p = &ix->s[ix->n];
    memset(p, 0, sizeof *p);
    if (!(p->ns = strdup(ns)))
        return -1;
    p->off = off;
    p->lines = lines;
    ix->n++;
    return 0;
}

static void index_release(struct index *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->s[i].ns);
        free(ix->s[i].deps);
    }
    free(ix->s);
    memset(ix, 0, sizeof *ix);
}

/*
 * Reads a regular file whole and checks every line, count and sum, writing nothing: a
 * corrupt or truncated archive is refused before the target is touched, and so is a
 * section the target can never take by its names (ns_check). With ix (-j N) it also notes
 * where each section starts; skim (-j N --no-check-first) only reads the lines and their
 * structure (counts; sums are checked as each section is restored).
 * Returns 0, or -1 with e naming the input, line and section.
 */
static int check_first(const char *path, const char *target, int skim, struct index *ix, int *auth, mno_error *e)
{
    /* the same reader options as mno_stream_check (or skim), and the offsets of the begin lines */
    mno_reader_opts ropts = MNO_READER_OPTS_INIT;
    if (skim)
        ropts.skim = 1;
    else
        mno_reader_opts_check(&ropts);
    mno_item it;
    int got = -1;
    unsigned long long off = 0;
    const mno_engine_ops *ops = NULL;
    mno_in *in = mno_in_open(path, e);
    mno_reader *rd = in ? mno_reader_new(in, &ropts, e) : NULL;
    if (rd)
        while ((got = mno_reader_next(rd, &it, e)) > 0) {
            if (it.kind == MNO_ITEM_HEADER) {
                /* a target of the other engine: the restore itself says so at the header */
                mno_error ignored;
                ops = mno_engine_for_archive(&it, mno_in_name(in), target, "", &ignored);
            }
            if (it.kind == MNO_ITEM_BEGIN && ns_check(ops, target, &it, mno_in_name(in), e) < 0) {
                got = -1;
                break;
            }
            if (ix && it.kind == MNO_ITEM_BEGIN && index_add(ix, it.section->ns, off, it.lineno - 1) < 0) {
                got = mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                break;
            }
            off += it.len + 1;
        }
    if (in && ix) {
        ix->bytes = off;
        ix->bytes_in = mno_in_bytes(in);
    }
    if (got == 0)
        *auth = mno_reader_auth(rd);
    mno_reader_free(rd);
    mno_in_close(in);
    return got < 0 ? -1 : 0;
}

/* 1 when the archive is a regular file that can be read twice (not stdin, a FIFO, a device). */
static int rereadable(const char *path)
{
    struct stat st;
    return path && strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The reader options of the restore itself: what the ops read (restore.h). */
static void restore_ropts(mno_reader_opts *ropts)
{
    mno_reader_opts def = MNO_READER_OPTS_INIT;
    *ropts = def;
    ropts->fast_pg = 1;   /* the ops use vals/lens, never it->v */
    ropts->fast_mongo = 1; /* the mongo ops use it->doc, never it->v */
    ropts->no_digest = 1;  /* nor it->digest: the reader hashes records several at a time */
}

/* The serial run (-j 1, a dry run, stdin): one reader, one connection, sections in order. */
static int run_serial(struct run *r, mno_error *e)
{
    const mno_restore_cfg *cfg = r->cfg;
    struct conn c;
    mno_reader_opts ropts;
    mno_item it;
    int rc = -1, got = 0;
    memset(&c, 0, sizeof c);
    c.r = r;
    restore_ropts(&ropts);
    if (!cfg->dry_run && !cfg->no_check_first && rereadable(cfg->input) &&
        check_first(cfg->input, cfg->target, 0, NULL, &r->res->auth, e) < 0)
        goto done;
    c.in = mno_in_open(cfg->input ? cfg->input : "-", e);
    if (!c.in)
        goto done;
    c.rd = mno_reader_new(c.in, &ropts, e);
    if (!c.rd)
        goto done;
    while ((got = mno_reader_next(c.rd, &it, e)) > 0) {
        if (it.kind == MNO_ITEM_BEGIN) {
            c.sec_index = ++r->begun;
            if (restore_section(r, &c, &it, e) < 0)
                goto done;
            continue;
        }
        r->res->st.bytes += it.len + 1;
        if (it.kind == MNO_ITEM_HEADER && on_header(r, &c, &it, e) < 0)
            goto done;
    }
    if (got < 0)
        goto done;
    if (r->dry_fail) {
        *e = r->dry_err;
        goto done;
    }
    if (schema_phase(r, &c, 1, e) < 0)
        goto done;
    r->res->st.bytes_in = mno_in_bytes(c.in);
    progress(r, NULL, MNO_REV_DONE, NULL, 0);
    rc = 0;
done:
    if (c.in)
        r->res->st.bytes_in = mno_in_bytes(c.in);
    if (r->ops && c.en)
        r->ops->close(c.en);
    mno_reader_free(c.rd);
    mno_in_close(c.in);
    return rc;
}

/* ---- -j N ---- */

/* Opens c's own input and reader and reads the header. Returns 0 or -1. */
static int conn_open_input(struct run *r, struct conn *c, mno_item *it, mno_error *e)
{
    mno_reader_opts ropts;
    restore_ropts(&ropts);
    mno_reader_free(c->rd);
    mno_in_close(c->in);
    c->rd = NULL;
    c->in = mno_in_open(r->cfg->input, e);
    if (!c->in || !(c->rd = mno_reader_new(c->in, &ropts, e)))
        return -1;
    int got = mno_reader_next(c->rd, it, e);
    if (got < 0)
        return -1;
    if (got == 0 || it->kind != MNO_ITEM_HEADER)
        return mno_err(e, MNO_E_FORMAT, r->cfg->input, 1, NULL, "the archive changed since it was checked");
    c->pos = it->len + 1;
    return 0;
}

/* Puts c's reader on section p's begin line and reads it into it. Returns 0 or -1. */
static int conn_seek(struct run *r, struct conn *c, const struct secpos *p, mno_item *it, mno_error *e)
{
    if ((!c->in || p->off < c->pos) && conn_open_input(r, c, it, e) < 0)
        return -1;
    if (mno_in_skip_decoded(c->in, p->off - c->pos, p->lines - mno_in_lineno(c->in), e) < 0)
        return -1;
    c->pos = p->off;
    int got = mno_reader_next(c->rd, it, e);
    if (got < 0)
        return -1;
    if (got == 0 || it->kind != MNO_ITEM_BEGIN || strcmp(it->section->ns, p->ns) != 0)
        return mno_err(e, MNO_E_FORMAT, r->cfg->input, p->lines + 1, p->ns,
                       "the archive changed since it was checked");
    return 0;
}

/* The first section in archive order that may start now (every section it waits for is
   committed), or NULL; *waiting 1 when some section has not started. Under r->mu. */
static struct secpos *next_section(struct run *r, int *waiting)
{
    *waiting = 0;
    for (size_t i = 0; i < r->ix.n; i++) {
        struct secpos *p = &r->ix.s[i];
        if (p->state != 0)
            continue;
        *waiting = 1;
        size_t k = 0;
        while (k < p->ndeps && r->ix.s[p->deps[k]].state == 2)
            k++;
        if (k == p->ndeps)
            return p;
    }
    return NULL;
}

/* Keeps the first error and stops the run. Under r->mu. */
static void fail_locked(struct run *r, const mno_error *e)
{
    if (!r->failed) {
        r->failed = 1;
        r->err = *e;
        r->failed_at = SIZE_MAX;
    }
    __atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&r->cv);
}

/* A -j worker: takes the next section that may start, restores it, until none is left. */
static void *worker(void *arg)
{
    struct conn *c = arg;
    struct run *r = c->r;
    mno_error e;
    mno_item it;
    mno_error_clear(&e);
    if (!c->en && r->ops->open(&c->en, r->cfg->target, MNO_ROLE_TARGET, &e) < 0) {
        c->en = NULL;
        lock(r);
        fail_locked(r, &e);
        unlock(r);
        return NULL;
    }
    lock(r);
    while (!r->stop) {
        int waiting;
        struct secpos *p = next_section(r, &waiting);
        if (!p) {
            if (!waiting)
                break;
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        p->state = 1;
        unlock(r);
        c->sec_index = (uint64_t)(p - r->ix.s) + 1;
        c->stopped = 0;
        int rc = conn_seek(r, c, p, &it, &e);
        size_t at = SIZE_MAX;
        if (rc == 0) {
            rc = restore_section(r, c, &it, &e);
            c->pos = p->off + c->sec_bytes;
        }
        lock(r);
        if (rc == 0) {
            p->state = 2;
        } else {
            p->state = 3;
            /* the section's place in res: the one this connection added last */
            for (size_t k = r->res->n; k-- > 0;)
                if (r->order[k] == (size_t)(p - r->ix.s)) {
                    at = k;
                    break;
                }
            c->pos = ULLONG_MAX;   /* the reader stopped inside a section: open afresh */
            if (!c->stopped && !r->failed) {
                fail_locked(r, &e);
                r->failed_at = at;
            } else if (at != SIZE_MAX && r->failed_at != at) {
                /* its own error came after the first one: in flight when the run stopped */
                r->res->secs[at].status = MNO_RSEC_STOPPED;
            }
            __atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
        }
        pthread_cond_broadcast(&r->cv);
    }
    unlock(r);
    return NULL;
}

/* res->secs in archive order, the failed section last (restore.h), after a -j run. */
static void order_sections(struct run *r)
{
    mno_restore_result *res = r->res;
    mno_rsection failed;
    int have = r->failed_at != SIZE_MAX && r->failed_at < res->n;
    if (have)
        failed = res->secs[r->failed_at];
    size_t m = 0;
    for (size_t k = 0; k < res->n; k++)
        if (!have || k != r->failed_at) {
            res->secs[m] = res->secs[k];
            r->order[m] = r->order[k];
            m++;
        }
    /* insertion sort by archive index: few sections */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && r->order[j - 1] > r->order[j]; j--) {
            mno_rsection t = res->secs[j];
            res->secs[j] = res->secs[j - 1];
            res->secs[j - 1] = t;
            size_t o = r->order[j];
            r->order[j] = r->order[j - 1];
            r->order[j - 1] = o;
        }
    if (have)
        res->secs[m] = failed;
}

/*
 * -j N (N > 1) from a FILE: the check pass notes where each section starts; N workers, each
 * with its own connection and reader, restore whole sections through restore_section; a
 * section starts only when the sections it is related to (restore_related) that come
 * before it in the archive have committed. The first error stops the run: no section
 * starts, the sections in flight are rolled back.
 */
static int run_parallel(struct run *r, mno_error *e)
{
    const mno_restore_cfg *cfg = r->cfg;
    mno_restore_result *res = r->res;
    struct conn *cs = NULL;
    pthread_t *th = NULL;
    size_t nth = 0, nstarted = 0, *pairs = NULL, npairs = 0;
    const char **names = NULL;
    mno_item it;
    int rc = -1;

    r->parallel = 1;
    r->failed_at = SIZE_MAX;
    if (check_first(cfg->input, cfg->target, cfg->no_check_first, &r->ix, &r->res->auth, e) < 0)
        goto done;
    nth = (size_t)cfg->jobs < r->ix.n ? (size_t)cfg->jobs : r->ix.n;
    if (nth == 0)
        nth = 1;
    cs = calloc(nth, sizeof *cs);
    th = calloc(nth, sizeof *th);
    names = calloc(r->ix.n ? r->ix.n : 1, sizeof *names);
    r->order = calloc(r->ix.n ? r->ix.n : 1, sizeof *r->order);
    /* every section's entry is made before the workers start: res->secs never moves */
    if (!cs || !th || !names || !r->order || (r->ix.n > res->cap && !(res->secs = realloc(res->secs, r->ix.n * sizeof *res->secs)))) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    if (r->ix.n > res->cap)
        res->cap = r->ix.n;
    for (size_t i = 0; i < nth; i++)
        cs[i].r = r;
    /* the header, on the first worker's connection */
    if (conn_open_input(r, &cs[0], &it, e) < 0)
        goto done;
    res->st.bytes += it.len + 1;
    if (on_header(r, &cs[0], &it, e) < 0)
        goto done;
    if (r->ops->restore_related && r->ix.n > 1) {
        for (size_t i = 0; i < r->ix.n; i++)
            names[i] = r->ix.s[i].ns;
        if (r->ops->restore_related(cs[0].en, names, r->ix.n, &pairs, &npairs, e) < 0)
            goto done;
        for (size_t k = 0; k < npairs; k++) {
            size_t a = pairs[2 * k], b = pairs[2 * k + 1];
            if (a >= r->ix.n || b >= r->ix.n || a == b)
                continue;
            struct secpos *later = &r->ix.s[a > b ? a : b];
            size_t *d = realloc(later->deps, (later->ndeps + 1) * sizeof *d);
            if (!d) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            later->deps = d;
            later->deps[later->ndeps++] = a < b ? a : b;
        }
    }
    for (; nstarted < nth; nstarted++)
        if (pthread_create(&th[nstarted], NULL, worker, &cs[nstarted]) != 0) {
            lock(r);
            mno_error te;
            mno_err(&te, MNO_E_INTERNAL, NULL, 0, NULL, "cannot start a worker thread");
            fail_locked(r, &te);
            unlock(r);
            break;
        }
    for (size_t i = 0; i < nstarted; i++)
        pthread_join(th[i], NULL);
    nstarted = 0;
    if (r->failed) {
        *e = r->err;
        goto done;
    }
    if (schema_phase(r, &cs[0], 1, e) < 0)
        goto done;
    res->st.bytes = r->ix.bytes;
    res->st.bytes_in = r->ix.bytes_in;
    progress(r, NULL, MNO_REV_DONE, NULL, 0);
    rc = 0;
done:
    for (size_t i = 0; i < nstarted; i++)
        pthread_join(th[i], NULL);
    if (r->order)
        order_sections(r);
    for (size_t i = 0; cs && i < nth; i++) {
        if (r->ops && cs[i].en)
            r->ops->close(cs[i].en);
        mno_reader_free(cs[i].rd);
        mno_in_close(cs[i].in);
    }
    if (rc < 0 && r->ix.bytes)
        res->st.bytes_in = (unsigned long long)((double)r->ix.bytes_in * (double)res->st.bytes / (double)r->ix.bytes);
    free(cs);
    free(th);
    free(names);
    free(pairs);
    return rc;
}

int mno_restore(const mno_restore_cfg *cfg, mno_restore_result *res, mno_error *e)
{
    struct run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.res = res;
    r.t0 = now_s();
    mno_redact_uri(cfg->target ? cfg->target : "", res->target, sizeof res->target);
    if (!cfg->target || !*cfg->target)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no target: give --target URI or set MNO_TARGET");
    if (cfg->jobs < 1 || cfg->jobs > MNO_RESTORE_MAX_JOBS)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "-j %d: expected a number from 1 to %d", cfg->jobs,
                       MNO_RESTORE_MAX_JOBS);
    if (cfg->jobs > 1 && (!cfg->input || strcmp(cfg->input, "-") == 0))
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "-j %d: parallel restore from standard input is not "
                       "supported: give the archive as a FILE", cfg->jobs);
    struct stat st;
    if (cfg->jobs > 1 && !cfg->dry_run && stat(cfg->input, &st) < 0)
        return mno_err(e, MNO_E_IO, cfg->input, 0, NULL, "cannot open: %s", strerror(errno));
    if (cfg->jobs > 1 && !cfg->dry_run && !rereadable(cfg->input))
        return mno_err(e, MNO_E_USAGE, cfg->input, 0, NULL, "-j %d: parallel restore needs a regular FILE "
                       "(this one can be read only once): use -j 1", cfg->jobs);
    if (parse_killpoint(cfg->kill_at, &r.kp, e) < 0)
        return -1;
    r.o.create = cfg->create;
    r.o.resume = cfg->resume;
    r.o.dry_run = cfg->dry_run;
    r.o.disable_triggers = cfg->disable_triggers;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    /* a dry run reads serially whatever -j says (it writes nothing to wait for) */
    rc = cfg->jobs > 1 && !cfg->dry_run ? run_parallel(&r, e) : run_serial(&r, e);
    res->st.seconds = now_s() - r.t0;
    index_release(&r.ix);
    free(r.order);
    json_decref(r.schema);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
