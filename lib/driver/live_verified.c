/* live_verified.c: mno-freeze's proofs (docs/live.md): the mno-verify --json reports of the tenant's copy, and the re-check that the source still holds what was copied. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "buf.h"
#include "codec.h"
#include "engine.h"
#include "live.h"
#include "stream.h"

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

/* The report's archive (or live source) header. */
static const json_t *report_header(const json_t *r)
{
    const json_t *h = json_object_get(json_object_get(r, "archive"), "header");
    return h ? h : json_object_get(json_object_get(r, "source"), "header");
}

int mno_live_reports_check(const char *const *files, size_t n, const char *tenant, const char *const *need,
                           size_t nneed, const char *target_kind, json_t **target_sections, mno_error *e)
{
    json_t **rep = calloc(n ? n : 1, sizeof *rep);
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    *target_sections = NULL;
    if (!rep)
        return nomem(e);
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        if (!(rep[i] = json_load_file(files[i], 0, &je))) {
            mno_err(e, MNO_E_USAGE, files[i], je.line > 0 ? je.line : 0, NULL, "not a JSON report: %s", je.text);
            goto done;
        }
        const json_t *h = report_header(rep[i]);
        const char *tool = json_string_value(json_object_get(rep[i], "tool"));
        const char *verdict = json_string_value(json_object_get(rep[i], "verdict"));
        const char *t = json_string_value(json_object_get(h, "tenant"));
        const char *kind = json_string_value(json_object_get(h, "source"));
        const json_t *secs = json_object_get(rep[i], "sections");
        if (!tool || strcmp(tool, "mno-verify") != 0 || !h || !verdict || !json_is_array(secs) || !kind) {
            mno_err(e, MNO_E_USAGE, files[i], 0, NULL, "not an mno-verify --json report");
            goto done;
        }
        if (!t || strcmp(t, tenant) != 0) {
            mno_err(e, MNO_E_USAGE, files[i], 0, NULL, "a report of tenant '%s', not of '%s'", t ? t : "(all)", tenant);
            goto done;
        }
        mno_buf_reset(&b);
        size_t k;
        const json_t *s;
        json_array_foreach(secs, k, s) {
            const char *st = json_string_value(json_object_get(s, "status"));
            if (!st || strcmp(st, "ok") != 0) {
                const char *ns = json_string_value(json_object_get(s, "ns"));
                if (mno_buf_addf(&b, "%s%s %s", b.len ? ", " : "", ns ? ns : "?", st ? st : "?") < 0)
                    goto nomem;
            }
        }
        if (strcmp(verdict, "ok") != 0 || b.len) {
            mno_err(e, MNO_E_CONFLICT, files[i], 0, NULL,
                    "the %s copy of tenant '%s' is not proven: verdict %s%s%s; migrate and verify again",
                    kind, tenant, verdict, b.len ? ": " : "", b.len ? b.data : "");
            goto done;
        }
    }
    /* every source the rules name, and the target's own */
    for (size_t k = 0; k <= nneed; k++) {
        const char *kind = k < nneed ? need[k] : target_kind;
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(json_string_value(json_object_get(report_header(rep[i]), "source")), kind) == 0)
                break;
        if (i == n) {
            mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                    "no verify report of the tenant's %s copy: give --verified REPORT (mno-verify --json of "
                    "the %s archive against its restored copy)",
                    kind, kind);
            goto done;
        }
        if (k == nneed)
            *target_sections = json_incref(json_object_get(rep[i], "sections"));
    }
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    for (size_t i = 0; i < n; i++)
        json_decref(rep[i]);
    free(rep);
    mno_buf_release(&b);
    return rc;
}

/* A temporary file in $TMPDIR (else /tmp), already unlinked, mode 0600. */
static int temp_fd(mno_error *e)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/mno-recheck-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return mno_err(e, MNO_E_IO, path, 0, NULL, "cannot create a temporary file: %s", strerror(errno));
    unlink(path);
    return fd;
}

/* Compares the archive on in (declared sums; read skimming) with the report's sections: any
   difference, or a section on one side only, is MNO_E_CONFLICT naming them (unit: "rows" or
   "documents"). Returns 0 or -1. */
static int compare_sums(mno_in *in, const json_t *sections, const char *unit, mno_error *e)
{
    mno_reader *rd = NULL;
    json_t *now = json_object();
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.skim = 1;
    if (!now)
        goto nomem;
    if (!(rd = mno_reader_new(in, &ro, e)))
        goto done;
    mno_item it;
    int st;
    while ((st = mno_reader_next(rd, &it, e)) > 0) {
        if (it.kind != MNO_ITEM_END)
            continue;
        char hex[33];
        if (json_object_set_new(now, it.section->ns,
                                json_pack("{s:I, s:s}", "count", (json_int_t)it.declared_count, "sum",
                                          mno_sum_hex(&it.declared_sum, hex))) < 0)
            goto nomem;
    }
    if (st < 0)
        goto done;
    /* the report's expected count and sum (the archive's) against the source's now */
    size_t k;
    const json_t *s;
    json_array_foreach(sections, k, s) {
        const char *ns = json_string_value(json_object_get(s, "ns"));
        const json_t *exp = json_object_get(s, "expected");
        const json_t *cur = ns ? json_object_get(now, ns) : NULL;
        long long ec = json_integer_value(json_object_get(exp, "count"));
        const char *es = json_string_value(json_object_get(exp, "sum"));
        if (!ns)
            continue;
        if (!cur) {
            if (mno_buf_addf(&b, "%s%s (not in the source now)", b.len ? ", " : "", ns) < 0)
                goto nomem;
            continue;
        }
        long long cc = json_integer_value(json_object_get(cur, "count"));
        const char *cs = json_string_value(json_object_get(cur, "sum"));
        if (cc != ec || !es || strcmp(es, cs) != 0) {
            if (mno_buf_addf(&b, "%s%s (%lld %s in the archive, %lld now%s)", b.len ? ", " : "", ns, ec, unit, cc,
                             cc == ec ? ", other values" : "") < 0)
                goto nomem;
        }
        json_object_del(now, ns);
    }
    const char *ns;
    json_t *v;
    json_object_foreach(now, ns, v) {
        if (mno_buf_addf(&b, "%s%s (not in the archive, %lld %s now)", b.len ? ", " : "", ns,
                         (long long)json_integer_value(json_object_get(v, "count")), unit) < 0)
            goto nomem;
    }
    if (b.len) {
        mno_err(e, MNO_E_CONFLICT, NULL, 0, NULL,
                "the tenant's %s in the source changed since the dump: %s; migrate them again (dump, restore, "
                "verify) first; nothing was changed",
                unit, b.data);
        goto done;
    }
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    mno_reader_free(rd);
    json_decref(now);
    mno_buf_release(&b);
    return rc;
}

int mno_live_recheck(const mno_engine_ops *ops, mno_engine *en, const mno_plan *plan, const json_t *sections,
                     const char *kind, mno_error *e)
{
    int fd = temp_fd(e), rc = -1;
    mno_out *out = NULL;
    mno_writer *w = NULL;
    mno_in *in = NULL;
    json_t *hdr = NULL;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    if (fd < 0)
        goto done;
    if (!(out = mno_out_fdopen(fd, "the re-check", &oo, e)))
        goto done;
    if (!(hdr = json_pack("{s:s, s:s, s:n}", "engine", ops->name, "source", kind, "tenant"))) {
        nomem(e);
        goto done;
    }
    if (!(w = mno_writer_new(out, hdr, "mno-freeze " MNO_VERSION_STR, e)))
        goto done;
    for (size_t i = 0; i < plan->n; i++)
        if (ops->dump_section(en, &plan->items[i], w, e) < 0)
            goto done;
    if (mno_writer_close(w, e) < 0 || mno_out_finish(out, e) < 0) {
        out = NULL;
        goto done;
    }
    out = NULL;
    if (lseek(fd, 0, SEEK_SET) < 0) {
        mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot read the re-check back: %s", strerror(errno));
        goto done;
    }
    if (!(in = mno_in_fdopen(fd, "the re-check", 0, e)))
        goto done;
    rc = compare_sums(in, sections, strcmp(ops->name, "mongodb") == 0 ? "documents" : "rows", e);
done:
    mno_in_close(in);
    mno_writer_free(w);
    mno_out_abort(out);
    if (fd >= 0)
        close(fd);
    json_decref(hdr);
    return rc;
}

int mno_live_archive_matches(const char *path, const json_t *sections, const char *unit, mno_error *e)
{
    mno_in *in = mno_in_open(path, e);
    if (!in)
        return -1;
    int rc = compare_sums(in, sections, unit, e);
    mno_in_close(in);
    return rc;
}

json_t *mno_live_report_sections(const char *const *files, size_t n, const char *kind, mno_error *e)
{
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *r = json_load_file(files[i], 0, &je);
        const char *k = json_string_value(json_object_get(report_header(r), "source"));
        if (k && strcmp(k, kind) == 0) {
            json_t *s = json_incref(json_object_get(r, "sections"));
            json_decref(r);
            return s;
        }
        json_decref(r);
    }
    mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no verify report of the tenant's %s copy", kind);
    return NULL;
}
