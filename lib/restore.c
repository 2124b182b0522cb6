/* restore.c: mno-restore's driver: the checking reader feeds an engine's restore ops section by section; a section is committed only after its end line was verified (protocol in restore.h). */
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
    char body[sizeof e->msg], pre[600];
    snprintf(pre, sizeof pre, "section %s: ", ns);
    const char *m = e->msg;
    if (strncmp(m, pre, strlen(pre)) == 0)
        m += strlen(pre);
    snprintf(body, sizeof body, "%s", m);
    /* an engine may know the record's own line (a row the server rejected) */
    return mno_err(e, e->code ? e->code : MNO_E_INTERNAL, input, e->line > 0 ? e->line : line, ns, "%s", body);
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

struct run {
    const mno_restore_cfg *cfg;
    mno_restore_result *res;
    const mno_engine_ops *ops;
    mno_engine *en;
    mno_in *in;
    mno_restore_opts o;
    struct killpoint kp;
    double t0;
    mno_rsection *cur;      /* the section in flight */
    int active;             /* the engine holds an open section (abort on error) */
    int skipping;           /* --resume: journaled, only read and checked */
    uint64_t j_count;       /* its journaled count and sum */
    mno_sum j_sum;
    int dry_fail;           /* dry run: a section would fail */
    mno_error dry_err;      /* the first such failure */
};

static void progress(struct run *r, int event, const char *ns, uint64_t sec_records)
{
    mno_restore_stats *st = &r->res->st;
    if (!r->cfg->progress)
        return;
    st->event = event;
    st->ns = ns;
    st->sec_records = sec_records;
    st->bytes_in = mno_in_bytes(r->in);
    st->seconds = now_s() - r->t0;
    st->done = event == MNO_REV_DONE;
    if (r->cfg->progress)
        r->cfg->progress(r->cfg->progress_arg, st);
}

/* Dry run: keeps the first error a section would meet, and clears e to read on. */
static void dry_failure(struct run *r, mno_error *e, const char *input, long long line, const char *ns)
{
    if (!r->dry_fail) {
        r->dry_err = *e;
        wrap(&r->dry_err, input, line, ns);
    }
    r->dry_fail = 1;
    if (r->cur) {
        r->cur->probed = 1;
        char pre[600];
        snprintf(pre, sizeof pre, "section %s: ", ns);
        const char *m = strncmp(e->msg, pre, strlen(pre)) == 0 ? e->msg + strlen(pre) : e->msg;
        snprintf(r->cur->note, sizeof r->cur->note, "%.500s", m);
    }
    mno_error_clear(e);
}

static int on_header(struct run *r, const mno_item *it, mno_error *e)
{
    const char *kind = json_string_value(json_object_get(it->obj, "engine"));
    const mno_engine_ops *want = mno_engine_for_kind(mno_engine_kind_parse(kind));
    r->ops = mno_engine_for_uri(r->cfg->target);
    if (!want)
        return mno_err(e, MNO_E_FORMAT, mno_in_name(r->in), it->lineno, NULL,
                       "header: unknown engine \"%s\"", kind ? kind : "");
    if (want != r->ops)
        return mno_err(e, MNO_E_USAGE, mno_in_name(r->in), it->lineno, NULL,
                       "the archive is a %s archive but the target %s is %s",
                       want->name, r->res->target, r->ops->name);
    archive_identity(it, r->res->archive_id, sizeof r->res->archive_id);
    r->res->st.engine = r->ops->name;
    r->res->st.archive_id = r->res->archive_id;
    r->o.archive_id = r->res->archive_id;
    if (!r->ops->restore_begin || !r->ops->restore_rec || !r->ops->restore_commit || !r->ops->restore_abort)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "the %s engine cannot restore", r->ops->name);
    if (r->cfg->resume && !r->ops->journal_get)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--resume: the %s engine keeps no restore journal",
                       r->ops->name);
    return r->ops->open(&r->en, r->cfg->target, MNO_ROLE_TARGET, e);
}

static int on_begin(struct run *r, const mno_item *it, mno_error *e)
{
    const mno_section *s = it->section;
    const char *input = mno_in_name(r->in);
    int found = 0;
    r->cur = add_section(r->res, s->ns);
    if (!r->cur)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    r->skipping = 0;
    if (r->ops->journal_get) {
        if (r->ops->journal_get(r->en, r->o.archive_id, s->ns, &found, &r->j_count, &r->j_sum, e) < 0)
            return wrap(e, input, it->lineno, s->ns);
        if (found && !r->cfg->resume && !r->cfg->dry_run)
            return mno_err(e, MNO_E_USAGE, input, it->lineno, s->ns,
                           "already restored from this archive (id %s) into the target: "
                           "rerun with --resume to finish an interrupted restore", r->o.archive_id);
        r->skipping = found;
    }
    r->res->st.sec_index++;
    r->res->st.sec_bytes = it->len + 1;
    progress(r, MNO_REV_BEGIN, s->ns, 0);
    if (r->skipping || (r->cfg->dry_run && !r->ops->restore_probe))
        return 0;
    r->active = 1;
    if (r->ops->restore_begin(r->en, &r->o, s, e) < 0) {
        if (!r->cfg->dry_run || (e->code != MNO_E_USAGE && e->code != MNO_E_CONFLICT))
            return wrap(e, input, it->lineno, s->ns);
        /* a dry run reports what would fail (a missing table) and reads on */
        r->ops->restore_abort(r->en);
        r->active = 0;
        dry_failure(r, e, input, it->lineno, s->ns);
        return 0;
    }
    maybe_kill(&r->kp, s->ns, 0);
    return 0;
}

static int on_rec(struct run *r, const mno_item *it, mno_error *e)
{
    const mno_section *s = it->section;
    if (r->active) {
        if (r->ops->restore_rec(r->en, it, e) < 0)
            return wrap(e, mno_in_name(r->in), it->lineno, s->ns);
        if (r->kp.after >= 0)
            maybe_kill(&r->kp, s->ns, (long long)s->count);
    }
    r->res->st.sec_bytes += it->len + 1;
    if (s->count % PROGRESS_EVERY == 0)
        progress(r, MNO_REV_RECORDS, s->ns, s->count);
    return 0;
}

static int on_end(struct run *r, const mno_item *it, mno_error *e)
{
    const mno_section *s = it->section;   /* count and sum verified by the reader */
    const char *input = mno_in_name(r->in);
    mno_restore_stats *st = &r->res->st;
    char a[33], b[33];
    r->cur->count = s->count;
    r->cur->sum = s->sum;
    if (r->skipping) {
        if (r->j_count != s->count || !mno_sum_eq(&r->j_sum, &s->sum))
            return mno_err(e, MNO_E_CORRUPT, input, it->lineno, s->ns,
                           "the target's restore journal says %llu records, sum %s for this archive, "
                           "but the archive has %llu, sum %s",
                           (unsigned long long)r->j_count, mno_sum_hex(&r->j_sum, a),
                           (unsigned long long)s->count, mno_sum_hex(&s->sum, b));
        r->cur->status = MNO_RSEC_SKIPPED;
        st->sections_skipped++;
        st->records_skipped += s->count;
    } else if (r->cfg->dry_run) {
        r->cur->status = MNO_RSEC_DRY;
        if (r->active) {
            mno_error pe;
            mno_error_clear(&pe);
            r->active = 0;
            if (r->ops->restore_probe(r->en, s, &r->cur->probe, &pe) < 0) {
                if (pe.code != MNO_E_CONFLICT && pe.code != MNO_E_USAGE) {
                    *e = pe;
                    return wrap(e, input, it->lineno, s->ns);
                }
                dry_failure(r, &pe, input, it->lineno, s->ns);
            }
            r->cur->probed = 1;
        }
    } else {
        maybe_kill(&r->kp, s->ns, -1);
        if (r->ops->restore_commit(r->en, s, e) < 0)
            return wrap(e, input, it->lineno, s->ns);
        r->active = 0;
        r->cur->status = MNO_RSEC_RESTORED;
        maybe_kill(&r->kp, s->ns, -2);
    }
    r->active = 0;
    r->skipping = 0;
    st->sections++;
    st->records += s->count;
    r->cur = NULL;
    st->sec_bytes += it->len + 1;
    progress(r, MNO_REV_END, s->ns, s->count);
    return 0;
}

/*
 * Reads a regular file whole and checks every line, count and sum, writing nothing: a
 * corrupt or truncated archive is refused before the target is touched. Returns 0, or -1
 * with e naming the input, line and section.
 */
static int check_first(const char *path, mno_error *e)
{
    mno_in *in = mno_in_open(path, e);
    int rc = in ? mno_stream_check(in, 0, NULL, e) : -1;
    mno_in_close(in);
    return rc;
}

/* 1 when the archive is a regular file that can be read twice (not stdin, a FIFO, a device). */
static int rereadable(const char *path)
{
    struct stat st;
    return path && strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mno_restore(const mno_restore_cfg *cfg, mno_restore_result *res, mno_error *e)
{
    struct run r;
    mno_reader *rd = NULL;
    mno_reader_opts ropts = MNO_READER_OPTS_INIT;
    mno_item it;
    int rc = -1, got = 0;
    ropts.fast_pg = 1;   /* the ops use vals/lens, never it->v */
    ropts.fast_mongo = 1; /* the mongo ops use it->doc, never it->v */
    ropts.no_digest = 1;  /* nor it->digest: the reader hashes records several at a time */

    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.res = res;
    r.t0 = now_s();
    mno_redact_uri(cfg->target ? cfg->target : "", res->target, sizeof res->target);
    if (!cfg->target || !*cfg->target)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no target: give --target URI or set MNO_TARGET");
    if (cfg->jobs > 1)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "-j %d: parallel sections are not supported; sections are restored one at a time (-j 1)",
                       cfg->jobs);
    if (parse_killpoint(cfg->kill_at, &r.kp, e) < 0)
        return -1;
    r.o.create = cfg->create;
    r.o.resume = cfg->resume;
    r.o.dry_run = cfg->dry_run;

    if (!cfg->dry_run && !cfg->no_check_first && rereadable(cfg->input) &&
        check_first(cfg->input, e) < 0)
        goto done;
    r.in = mno_in_open(cfg->input ? cfg->input : "-", e);
    if (!r.in)
        goto done;
    rd = mno_reader_new(r.in, &ropts, e);
    if (!rd)
        goto done;
    while ((got = mno_reader_next(rd, &it, e)) > 0) {
        int step = 0;
        res->st.bytes += it.len + 1;
        switch (it.kind) {
        case MNO_ITEM_HEADER: step = on_header(&r, &it, e); break;
        case MNO_ITEM_BEGIN: step = on_begin(&r, &it, e); break;
        case MNO_ITEM_REC: step = on_rec(&r, &it, e); break;
        case MNO_ITEM_END: step = on_end(&r, &it, e); break;
        default: break;
        }
        if (step < 0)
            goto done;
    }
    if (got < 0)
        goto done;
    if (r.dry_fail) {
        *e = r.dry_err;
        goto done;
    }
    progress(&r, MNO_REV_DONE, NULL, 0);
    rc = 0;
done:
    if (r.active) {
        r.ops->restore_abort(r.en);
        r.active = 0;
        if (r.cur)
            r.cur->rolled_back = 1;
    }
    if (rc < 0 && r.cur)
        r.cur->status = MNO_RSEC_FAILED;
    res->st.seconds = now_s() - r.t0;
    if (r.in)
        res->st.bytes_in = mno_in_bytes(r.in);
    if (r.ops && r.en)
        r.ops->close(r.en);
    mno_reader_free(rd);
    mno_in_close(r.in);
    return rc;
}
