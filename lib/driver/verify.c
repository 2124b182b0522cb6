/* verify.c: mno-verify's comparison: reads the archive with the checking reader and compares each section with the target's count and sum. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "verify.h"

static char *now_utc(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

static char *redact(const char *uri)
{
    char red[1024];
    return strdup(mno_redact_uri(uri, red, sizeof red));
}

/* Section s of the archive against the target: fills vs. */
static int compare_section(const mno_engine_ops *ops, mno_engine *en, const mno_item *it,
                           const mno_verify_opts *o, mno_arows *rows, mno_vsection *vs, mno_error *e)
{
    const mno_section *s = it->section;
    int exists = 0;
    vs->has_expected = 1;
    vs->exp_count = it->declared_count;
    vs->exp_sum = it->declared_sum;
    if (ops->hash_section(en, s, &vs->act_count, &vs->act_sum, &exists, e) < 0)
        return -1;
    if (!exists) {
        vs->status = MNO_VS_MISSING;
        return 0;
    }
    if (exists == 2) {   /* the table lacks columns of the archive: its rows cannot match */
        vs->status = MNO_VS_DIFFERS;
        vs->has_actual = 1;
        mno_redact_error(e, o->target);
        vs->note = strdup(e->msg);
        mno_error_clear(e);
        if (!vs->note)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        return 0;
    }
    vs->has_actual = vs->has_actual_sum = 1;
    if (ops->section_problems && ops->section_problems(en, s, &vs->problems, e) < 0)
        return -1;
    if (vs->act_count == vs->exp_count && mno_sum_eq(&vs->act_sum, &vs->exp_sum)) {
        vs->status = MNO_VS_OK;
        return 0;
    }
    vs->status = MNO_VS_DIFFERS;
    if (!o->diff)
        return 0;
    if (!rows->keynames) {
        vs->note = strdup("keys not listed: the section has no key");
        return 0;
    }
    return mno_verify_diff(ops, en, s, rows, o->max_diff, vs, e);
}

/* Tables/collections of the target that the archive does not have and that hold rows. */
static int find_extra(const mno_engine_ops *ops, mno_engine *en, mno_vreport *rep, mno_error *e)
{
    mno_ns_count *a = NULL;
    size_t na = 0;
    int rc = -1;
    const char **ns = calloc(rep->n + 1, sizeof *ns);
    if (!ns)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < rep->n; i++)
        ns[i] = rep->secs[i].ns;
    size_t nsec = rep->n;
    if (nsec == 0) {
        rc = 0;
        goto done;
    }
    if (ops->list_ns(en, ns, nsec, &a, &na, e) < 0)
        goto done;
    for (size_t k = 0; k < na; k++) {
        size_t i = 0;
        while (i < nsec && strcmp(ns[i], a[k].ns) != 0)
            i++;
        if (i < nsec || a[k].count <= 0)
            continue;
        mno_vsection *vs = mno_vreport_add(rep, a[k].ns);
        if (!vs) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            goto done;
        }
        vs->status = MNO_VS_EXTRA;
        vs->has_actual = 1;
        vs->act_count = (uint64_t)a[k].count;
    }
    rc = 0;
done:
    mno_ns_counts_free(a, na);
    free(ns);
    return rc;
}

/* Puts the archive's position before an engine's error ("input:line: section ns: ..."), as
   the reader's own errors have it. Returns -1. */
static int at_line(mno_error *e, mno_in *in, long long line)
{
    if (!e || e->input[0])
        return -1;
    char msg[sizeof e->msg], object[sizeof e->object];
    snprintf(msg, sizeof msg, "%s", e->msg);
    snprintf(object, sizeof object, "%s", e->object);
    mno_err(e, e->code, mno_in_name(in), line, NULL, "%s", msg);
    snprintf(e->object, sizeof e->object, "%s", object);
    return -1;
}

int mno_verify_stream(const mno_verify_opts *o, mno_in *in, mno_vreport *rep, mno_error *e)
{
    const mno_engine_ops *ops = NULL;
    mno_engine *en = NULL;
    mno_reader *r = NULL;
    mno_reader_opts ropts = MNO_READER_OPTS_INIT;
    mno_arows rows;
    mno_item it;
    int rc = -1, got;
    memset(&rows, 0, sizeof rows);
    /* --diff keeps the records to list differing keys (vals/lens and the line, never it->v of
       a pg record), their digests checked on the way. Without it the records are re-hashed as
       mno-cat --check does (an archive whose records were changed is refused), or with
       --no-check-archive only counted, the target compared with the declared sums. */
    ropts.fast_pg = 1;
    if (!o->no_check_archive && !o->diff)
        mno_reader_opts_check(&ropts);
    else if (!o->diff)
        ropts.skim = 1;
    rep->archive_checked = o->diff || !o->no_check_archive;
    r = mno_reader_new(in, &ropts, e);
    if (!r)
        goto done;
    while ((got = mno_reader_next(r, &it, e)) > 0) {
        switch (it.kind) {
        case MNO_ITEM_HEADER: {
            rep->header = json_deep_copy(it.obj);
            ops = mno_engine_for_archive(&it, mno_in_name(in), o->target, rep->target, e);
            if (!ops)
                goto done;
            rep->engine = strdup(ops->name);
            if (!rep->header || !rep->engine) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            if (ops->open(&en, o->target, MNO_ROLE_TARGET, e) < 0)
                goto done;
            break;
        }
        case MNO_ITEM_BEGIN:
            if (json_object_get(it.obj, "where") || json_object_get(it.obj, "filter")) {
                /* the archive's own SQL or query, run on the target: an archive is not
                   authenticated before its trailer, so only when the operator says so */
                if (!o->trust_archive) {
                    const char *w = json_object_get(it.obj, "where") ? "where" : "filter";
                    mno_err(e, MNO_E_USAGE, mno_in_name(in), it.lineno, it.section->ns,
                            "begin's \"%s\" is %s from the archive, run on the target only with "
                            "--trust-archive (no query of this section was sent)",
                            w, *w == 'w' ? "SQL" : "a query");
                    goto done;
                }
                rep->scoped = 1;
            }
            if (o->diff && mno_arows_init(&rows, it.section, e) < 0) {
                if (e->code != MNO_E_FORMAT)
                    goto done;
                mno_error_clear(e);  /* no key: the section is compared, its keys not listed */
            }
            if (ops->hash_start && ops->hash_start(en, it.section, e) < 0) {
                at_line(e, in, it.lineno);
                goto done;
            }
            break;
        case MNO_ITEM_REC:
            if (rows.keynames && mno_arows_add(&rows, &it, e) < 0)
                goto done;
            break;
        case MNO_ITEM_END: {
            mno_vsection *vs = mno_vreport_add(rep, it.section->ns);
            if (!vs) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            if (compare_section(ops, en, &it, o, &rows, vs, e) < 0) {
                at_line(e, in, it.lineno);
                goto done;
            }
            mno_arows_release(&rows);
            break;
        }
        case MNO_ITEM_TRAILER:
            rep->trailer = json_deep_copy(it.obj);
            break;
        default:
            break;
        }
    }
    if (got < 0)
        goto done;
    if (!en) {
        mno_err(e, MNO_E_FORMAT, mno_in_name(in), 0, NULL, "the archive has no header");
        goto done;
    }
    if (!o->no_extra && !rep->scoped && ops->list_ns && find_extra(ops, en, rep, e) < 0)
        goto done;
    rc = 0;
done:
    mno_arows_release(&rows);
    if (ops && en)
        ops->close(en);
    mno_reader_free(r);
    return rc;
}

static int verify_archive(const mno_verify_opts *o, mno_vreport *rep, mno_error *e)
{
    rep->archive = strdup(o->archive);
    if (!rep->archive)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    mno_in *in = mno_in_open(o->archive, e);
    if (!in)
        return -1;
    int rc = mno_verify_stream(o, in, rep, e);
    mno_in_close(in);
    return rc;
}

int mno_verify(const mno_verify_opts *o, mno_vreport *rep, mno_error *e)
{
    if (!o->target)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no target: give --target URI");
    if (!o->archive == !o->source)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "give either --archive FILE or --source URI");
    rep->mode = strdup(o->archive ? "archive" : "live");
    rep->target = redact(o->target);
    rep->time = now_utc();
    if (!rep->mode || !rep->target || !rep->time)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (o->archive)
        return verify_archive(o, rep, e);
    return mno_verify_live(o, rep, e);
}
