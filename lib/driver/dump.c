/* dump.c: the dump driver: open the source, choose the scope, plan, write header, sections and trailer to an atomic output. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "dump.h"
#include "codec.h"
#include "stream.h"

struct mno_dump {
    const mno_dump_cfg *cfg;
    const mno_engine_ops *ops;
    mno_engine *en;
    mno_dump_opts o;         /* cfg->o with the scope path and count resolved */
    char *scope_path;
    const char *kind;
    mno_plan plan;
    int planned;
    unsigned long long records;
    char *warning;           /* --allow-dangling: the dangling references found, or NULL */
};

/* Progress glue: the writer's tick -> the reporter. */
struct tick {
    mno_progress *p;
    mno_writer *w;
    mno_out *out;
    unsigned long long sec_bytes0;
    unsigned long long rows;   /* the open section's records so far */
};

static void on_tick(void *arg)
{
    struct tick *t = arg;
    const mno_section *s = mno_writer_section(t->w);
    if (s) {
        t->rows = s->count;
        mno_progress_update(t->p, s->count, mno_out_bytes(t->out) - t->sec_bytes0);
    }
}

/*
 * Defence in depth: the engines cut credentials out of their messages, but should a server
 * or library echo the URI or a piece of a password anywhere, it is cut out of e->msg here
 * as well (the source's and the hub's).
 */
static void scrub(mno_error *e, const mno_dump_cfg *c)
{
    mno_redact_error(e, c->source);
    mno_redact_error(e, c->o.hub_uri);
}

const char *mno_dump_object_word(const mno_dump *d)
{
    return d && d->ops == &mno_engine_mongo ? "collection" : "table";
}

/* Chooses the scope file: the given one, else SCOPE_DIR/KIND.scope, which must exist. */
static int resolve_scope(mno_dump *d, mno_error *e)
{
    const mno_dump_cfg *c = d->cfg;
    if (c->o.scope_path) {
        d->scope_path = strdup(c->o.scope_path);
    } else {
        const char *dir = c->scope_dir && *c->scope_dir ? c->scope_dir : "filters";
        struct stat st;
        if (asprintf(&d->scope_path, "%s/%s.scope", dir, d->kind) < 0)
            d->scope_path = NULL;
        else if (stat(d->scope_path, &st) < 0)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                           "no scope file for a %s source: '%s' does not exist (give --scope FILE, "
                           "or set MNO_SCOPE_DIR to the directory of the scope files)",
                           d->kind, d->scope_path);
    }
    if (!d->scope_path)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    return 0;
}

/* The unscoped error: every name the scope does not mention, quoted. */
static int unscoped_error(mno_dump *d, mno_error *e)
{
    mno_buf b = MNO_BUF_INIT;
    const char *w = mno_dump_object_word(d);
    size_t n = d->plan.n_unscoped;
    int ok = mno_buf_addf(&b, "%zu %s%s not in scope '%s': ", n, w, n == 1 ? "" : "s",
                          d->scope_path) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = mno_buf_addf(&b, "%s'%s'", i ? ", " : "", d->plan.unscoped[i]) == 0;
    ok = ok && mno_buf_addf(&b, " (add %s to the scope file, or pass --skip-unscoped to leave %s out)",
                            n == 1 ? "it" : "them", n == 1 ? "it" : "them") == 0;
    if (!ok) {
        mno_buf_release(&b);
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "%s", b.data);
    mno_buf_release(&b);
    return -1;
}

int mno_dump_open(mno_dump **out, const mno_dump_cfg *c, mno_error *e)
{
    mno_dump *d = NULL;
    *out = NULL;
    if (!c || !c->source || !*c->source)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no source: give --source URI");
    if (!c->o.all && (!c->o.tenant || !*c->o.tenant))
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no tenant: give --tenant NAME or --all");
    if (!(d = calloc(1, sizeof *d)))
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    d->cfg = c;
    d->ops = mno_engine_for_uri(c->source);
    if (!d->ops->open || !d->ops->plan || !d->ops->dump_section) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "the %s engine cannot dump", d->ops->name);
        goto fail;
    }
    if (d->ops->open(&d->en, c->source, MNO_ROLE_SOURCE, e) < 0)
        goto fail;
    d->kind = d->ops->source_kind ? d->ops->source_kind(d->en, e) : d->ops->default_source;
    if (!d->kind)
        goto fail;
    if (resolve_scope(d, e) < 0)
        goto fail;
    d->o = c->o;
    d->o.scope_path = d->scope_path;
    d->o.count = c->counts;
    if (d->ops->plan(d->en, &d->o, &d->plan, e) < 0)
        goto fail;
    d->planned = 1;
    if (d->plan.n_unscoped && !d->o.skip_unscoped) {
        unscoped_error(d, e);
        goto fail;
    }
    *out = d;
    return 0;
fail:
    scrub(e, c);
    mno_dump_free(d);
    return -1;
}

const mno_plan *mno_dump_plan(const mno_dump *d) { return &d->plan; }
const char *mno_dump_engine(const mno_dump *d) { return d->ops->name; }
const char *mno_dump_source_kind(const mno_dump *d) { return d->kind; }
const char *mno_dump_scope_path(const mno_dump *d) { return d->scope_path; }
unsigned long long mno_dump_records(const mno_dump *d) { return d->records; }

/* s as one plan field: tabs, line breaks and other control characters escaped
   (mno_text_msg). */
static int add_field(mno_buf *b, const char *s)
{
    if (!s || !*s)
        return mno_buf_addc(b, '-');
    size_t n = strlen(s) * 6 + 1;
    char *esc = malloc(n);
    if (!esc)
        return -1;
    int rc = mno_buf_adds(b, mno_text_msg(s, esc, n));
    free(esc);
    return rc;
}

int mno_dump_plan_text(const mno_dump *d, mno_buf *out, mno_error *e)
{
    for (size_t i = 0; i < d->plan.n; i++) {
        const mno_plan_item *it = &d->plan.items[i];
        int bad = add_field(out, it->ns) < 0 || mno_buf_addc(out, '\t') < 0 ||
                  add_field(out, it->rule) < 0 || mno_buf_addc(out, '\t') < 0 ||
                  add_field(out, it->query) < 0 || mno_buf_addc(out, '\t') < 0 ||
                  (it->count >= 0 ? mno_buf_addf(out, "%lld\n", it->count)
                                  : mno_buf_adds(out, "-\n")) < 0;
        if (bad)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    return 0;
}

/* The header object: engine, source kind, tenant, scope base name. No URI, no credential. */
static json_t *header(const mno_dump *d)
{
    const char *base = strrchr(d->scope_path, '/');
    base = base ? base + 1 : d->scope_path;
    json_t *h = json_object();
    if (!h)
        return NULL;
    int bad = json_object_set_new(h, "engine", json_string(d->ops->name)) < 0 ||
              json_object_set_new(h, "source", json_string(d->kind)) < 0 ||
              json_object_set_new(h, "tenant", d->o.all ? json_null() : json_string(d->o.tenant)) < 0 ||
              json_object_set_new(h, "scope", json_string(base)) < 0 ||
              json_object_set_new(h, "producer", json_string(MNO_DUMP_PRODUCER)) < 0;
    if (d->o.all)
        bad = bad || json_object_set_new(h, "all", json_true()) < 0;
    if (bad) {
        json_decref(h);
        return NULL;
    }
    return h;
}

int mno_dump_run_to(mno_dump *d, mno_out *out, mno_progress *progress, mno_error *e)
{
    const mno_dump_cfg *c = d->cfg;
    int rc = -1;
    mno_writer *w = NULL;
    json_t *h = NULL;
    struct tick t = {progress, NULL, NULL, 0, 0};

    if (!d->planned)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "dump run before plan");
    if (!(h = header(d))) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    if (d->o.with_schema) {   /* the source's schema, for mno-restore --create */
        json_t *schema = NULL;
        if (!d->ops->dump_schema) {
            mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--with-schema: the %s engine carries no schema", d->ops->name);
            goto done;
        }
        if (d->ops->dump_schema(d->en, &schema, e) < 0)
            goto done;
        if (json_object_set_new(h, "pg_schema", schema) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            goto done;
        }
    }
    if (!(w = mno_writer_new(out, h, MNO_DUMP_PRODUCER, e)))
        goto done;
    t.w = w;
    t.out = out;
    mno_writer_set_tick(w, on_tick, &t);
    for (size_t i = 0; i < d->plan.n; i++) {
        const mno_plan_item *it = &d->plan.items[i];
        t.sec_bytes0 = mno_out_bytes(out);
        t.rows = 0;
        mno_progress_begin(progress, it->ns, i + 1, d->plan.n, it->count);
        if (d->ops->dump_section(d->en, it, w, e) < 0)
            goto done;
        if (mno_writer_section(w)) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, it->ns, "the %s engine left the section open",
                    d->ops->name);
            goto done;
        }
        d->records += t.rows;
        mno_progress_end(progress, t.rows, mno_out_bytes(out) - t.sec_bytes0);
    }
    if (d->ops->dump_check) {   /* what was written links only inside it (or to global tables) */
        long long n = 0;
        char *text = NULL;
        if (d->ops->dump_check(d->en, &n, &text, e) < 0)
            goto done;
        if (n > 0 && !d->o.allow_dangling) {
            mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "%lld dangling reference%s: archived rows link to rows that "
                    "are not in the archive (--allow-dangling writes it anyway):\n%s", n, n == 1 ? "" : "s",
                    text ? text : "");
            free(text);
            goto done;
        }
        if (n > 0) {
            free(d->warning);
            d->warning = NULL;
            if (asprintf(&d->warning, "%lld dangling reference%s: archived rows link to rows that are not "
                         "in the archive:\n%s", n, n == 1 ? "" : "s", text ? text : "") < 0)
                d->warning = NULL;
        }
        free(text);
    }
    if (mno_writer_close(w, e) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0) {
        mno_progress_clear(progress);
        scrub(e, c);
    }
    mno_writer_free(w);
    json_decref(h);
    return rc;
}

int mno_dump_run(mno_dump *d, mno_progress *progress, mno_error *e)
{
    const mno_dump_cfg *c = d->cfg;
    mno_out *out = NULL;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    const char *path = c->output && strcmp(c->output, "-") != 0 ? c->output : NULL;
    size_t plen = path ? strlen(path) : 0;
    oo.zstd = c->zstd || (plen > 4 && strcmp(path + plen - 4, ".zst") == 0);
    oo.level = c->level;
    oo.threads = c->threads;

    if (!d->planned)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "dump run before plan");
    if (!(out = mno_out_open(path ? path : "-", &oo, e)))
        goto fail;
    if (mno_dump_run_to(d, out, progress, e) < 0) {
        mno_out_abort(out);
        return -1;
    }
    if (mno_out_finish(out, e) < 0) /* finish removed the temporary file and freed out */
        goto fail;
    mno_progress_finish(progress);
    return 0;
fail:
    mno_progress_clear(progress);
    scrub(e, c);
    return -1;
}

void mno_dump_free(mno_dump *d)
{
    if (!d)
        return;
    if (d->planned && d->ops->plan_free)
        d->ops->plan_free(d->en, &d->plan);
    if (d->en)
        d->ops->close(d->en);
    free(d->scope_path);
    free(d->warning);
    free(d);
}

const char *mno_dump_warning(const mno_dump *d)
{
    return d->warning;
}
