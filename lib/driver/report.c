/* report.c: mno-verify's report: building it, and printing it as text or JSON. */
#include <stdlib.h>
#include <string.h>
#include "filter.h"
#include "report.h"

void mno_vreport_init(mno_vreport *r)
{
    memset(r, 0, sizeof *r);
}

void mno_vreport_release(mno_vreport *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->secs[i].ns);
        json_decref(r->secs[i].diff);
        json_decref(r->secs[i].problems);
        free(r->secs[i].note);
    }
    free(r->secs);
    free(r->mode);
    free(r->engine);
    free(r->archive);
    json_decref(r->header);
    json_decref(r->trailer);
    free(r->source);
    free(r->tenant);
    free(r->target);
    free(r->time);
    memset(r, 0, sizeof *r);
}

mno_vsection *mno_vreport_add(mno_vreport *r, const char *ns)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        mno_vsection *t = realloc(r->secs, cap * sizeof *t);
        if (!t)
            return NULL;
        r->secs = t;
        r->cap = cap;
    }
    mno_vsection *s = &r->secs[r->n];
    memset(s, 0, sizeof *s);
    s->ns = strdup(ns);
    if (!s->ns)
        return NULL;
    r->n++;
    return s;
}

int mno_vreport_status(const mno_vreport *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->secs[i].status != MNO_VS_OK || json_array_size(r->secs[i].problems))
            return 1;
    return 0;
}

const char *mno_vstatus_text(mno_vstatus s)
{
    switch (s) {
    case MNO_VS_OK: return "ok";
    case MNO_VS_DIFFERS: return "DIFFERS";
    case MNO_VS_MISSING: return "MISSING in target";
    case MNO_VS_EXTRA: return "EXTRA in target";
    }
    return "?";
}

const char *mno_vstatus_json(mno_vstatus s)
{
    switch (s) {
    case MNO_VS_OK: return "ok";
    case MNO_VS_DIFFERS: return "differs";
    case MNO_VS_MISSING: return "missing";
    case MNO_VS_EXTRA: return "extra";
    }
    return "?";
}

static const char *things(const mno_vreport *r)
{
    return r->engine && strcmp(r->engine, "mongodb") == 0 ? "collections" : "tables";
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* Names in the text report (ns, tenant, source...): escaped and cut as in messages
   (mno_name_msg), so that a name can neither forge a report line nor flood it. The
   buffers: one per name of a line; enough for MNO_NAME_MSG_MAX each. */
typedef char name_buf[MNO_NAME_MSG_MAX];
static const char *nm(name_buf b, const char *s)
{
    return mno_name_msg(s, b, sizeof(name_buf));
}

/* Totals over the report. */
typedef struct totals {
    size_t by[4];
    uint64_t exp_count, act_count;
    mno_sum exp_sum, act_sum;
    int act_sum_partial;   /* a section of the target was counted but not summed */
    size_t problems;       /* problems of all sections */
} totals;

static void total(const mno_vreport *r, totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < r->n; i++) {
        const mno_vsection *s = &r->secs[i];
        t->by[s->status]++;
        t->problems += json_array_size(s->problems);
        if (s->has_expected) {
            t->exp_count += s->exp_count;
            mno_sum_add(&t->exp_sum, &s->exp_sum);
        }
        if (s->has_actual) {
            t->act_count += s->act_count;
            if (s->has_actual_sum)
                mno_sum_add(&t->act_sum, &s->act_sum);
            else
                t->act_sum_partial = 1;
        }
    }
}

/* Appends a name or value of the text report with its control characters (C1 too) and
   backslashes escaped (mno_escape_char: \n, \t, \r, \\, \xHH, \u009b), so that a key holding
   a newline or a terminal escape cannot forge or hide a report line. */
static int add_text(mno_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char tmp[8];
        size_t used, k = mno_escape_char(p, 1, tmp, &used);
        if (mno_buf_add(b, tmp, k) < 0)
            return -1;
        p += used;
    }
    return 0;
}

/* Appends one key as "col=value, col=value". */
static int add_key(mno_buf *b, const json_t *key)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)key, k, v) {
        if ((!first && mno_buf_adds(b, ", ") < 0) || add_text(b, k) < 0 || mno_buf_addc(b, '=') < 0)
            return -1;
        first = 0;
        if (json_is_string(v)) {
            if (add_text(b, json_string_value(v)) < 0)
                return -1;
        } else if (json_is_null(v)) {
            if (mno_buf_adds(b, "NULL") < 0)
                return -1;
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            int rc = t ? mno_buf_adds(b, t) : -1;
            free(t);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/* The section's problems, one line each. */
static int add_problems(mno_buf *b, const mno_vsection *s)
{
    for (size_t i = 0; i < json_array_size(s->problems); i++) {
        json_t *p = json_array_get(s->problems, i);
        if (mno_buf_addf(b, "%s%s: problem: sequence ", i ? "" : "\n", s->ns) < 0 ||
            add_text(b, jstr(p, "sequence")) < 0 || mno_buf_adds(b, " is behind column ") < 0 ||
            add_text(b, jstr(p, "column")) < 0 ||
            mno_buf_addf(b, ": its next value is %s, the column holds %s\n", jstr(p, "next"), jstr(p, "max")) < 0)
            return -1;
    }
    return 0;
}

static int add_diff(mno_buf *b, const mno_vsection *s)
{
    name_buf nb;
    if (s->note && (mno_buf_addf(b, "\n%s: ", nm(nb, s->ns)) < 0 || add_text(b, s->note) < 0 ||
                    mno_buf_addc(b, '\n') < 0))
        return -1;
    if (!s->diff)
        return 0;
    size_t n = json_array_size(s->diff);
    if (mno_buf_addf(b, "\n%s: %zu%s key%s differ%s\n", nm(nb, s->ns), n, s->diff_more ? "+" : "",
                     n == 1 && !s->diff_more ? "" : "s", n == 1 && !s->diff_more ? "s" : "") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(s->diff, i);
        if (mno_buf_addf(b, "  %-8s ", jstr(d, "what")) < 0 ||
            add_key(b, json_object_get(d, "key")) < 0)
            return -1;
        json_t *cols = json_object_get(d, "columns");
        for (size_t c = 0; c < json_array_size(cols); c++)
            if (mno_buf_adds(b, c ? ", " : ": ") < 0 || add_text(b, json_string_value(json_array_get(cols, c))) < 0)
                return -1;
        if (mno_buf_addc(b, '\n') < 0)
            return -1;
    }
    if (s->diff_more && mno_buf_adds(b, "  ... more keys differ (see --max)\n") < 0)
        return -1;
    return 0;
}

static void short_sum(const mno_sum *s, int known, char out[33])
{
    if (!known) {
        strcpy(out, "-");
        return;
    }
    mno_sum_hex(s, out);
    out[12] = '\0';
}

static void fmt_count(uint64_t n, int known, char out[24])
{
    if (known)
        snprintf(out, 24, "%llu", (unsigned long long)n);
    else
        strcpy(out, "-");
}

int mno_report_text(const mno_vreport *r, mno_buf *b)
{
    totals t;
    total(r, &t);
    int w = 5;  /* "total" */
    name_buf n1, n2, n3, n4, n5;
    for (size_t i = 0; i < r->n; i++)
        if ((int)strlen(nm(n1, r->secs[i].ns)) > w)
            w = (int)strlen(n1);
    json_t *h = r->header, *tr = r->trailer;
    if (r->archive && mno_buf_addf(b, "archive  %s: %s, source %s, tenant %s, id %s", nm(n1, r->archive),
                                   nm(n2, jstr(h, "engine")), nm(n3, jstr(h, "source")),
                                   nm(n4, jstr(h, "tenant")), nm(n5, jstr(h, "id"))) < 0)
        return -1;
    /* live: what the source's dump selected */
    if (!r->archive && r->source &&
        mno_buf_addf(b, "source   %s: %s, source %s, tenant %s, scope %s", r->source,
                     nm(n2, jstr(h, "engine")), nm(n3, jstr(h, "source")), nm(n4, r->tenant ? r->tenant : "-"),
                     nm(n5, jstr(h, "scope"))) < 0)
        return -1;
    if ((r->archive || r->source) && tr &&
        mno_buf_addf(b, ", %lld sections, %lld records, sum %s",
                     (long long)json_integer_value(json_object_get(tr, "sections")),
                     (long long)json_integer_value(json_object_get(tr, "count")), jstr(tr, "sum")) < 0)
        return -1;
    if (r->archive && mno_buf_adds(b, r->archive_checked ? ", records checked against the end lines"
                                                         : ", records not checked (--no-check-archive)") < 0)
        return -1;
    if ((r->archive || r->source) && mno_buf_addc(b, '\n') < 0)
        return -1;
    /* an archive a filter wrote: the chain that made it */
    if (r->archive && h && json_is_array(json_object_get(h, "filters"))) {
        if (mno_buf_adds(b, "filters  ") < 0 || mno_filter_chain_text(h, b) < 0 || mno_buf_addc(b, '\n') < 0)
            return -1;
    }
    if (mno_buf_addf(b, "target   %s%s\n", r->target ? r->target : "-",
                     r->scoped ? " (only the tenant's rows of a shared target)" : "") < 0)
        return -1;
    if (mno_buf_addf(b, "%-*s  %10s  %10s  %-12s  %-12s  %s\n", w, "ns", "expected", "actual",
                     "expected sum", "actual sum", "status") < 0)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        const mno_vsection *s = &r->secs[i];
        char ec[24], ac[24], es[33], as[33];
        fmt_count(s->exp_count, s->has_expected, ec);
        fmt_count(s->act_count, s->has_actual, ac);
        short_sum(&s->exp_sum, s->has_expected, es);
        short_sum(&s->act_sum, s->has_actual && s->has_actual_sum, as);
        if (mno_buf_addf(b, "%-*s  %10s  %10s  %-12s  %-12s  %s\n", w, nm(n1, s->ns), ec, ac, es, as,
                         mno_vstatus_text(s->status)) < 0)
            return -1;
    }
    char ec[24], ac[24], es[33], as[33];
    fmt_count(t.exp_count, 1, ec);
    fmt_count(t.act_count, 1, ac);
    short_sum(&t.exp_sum, 1, es);
    short_sum(&t.act_sum, !t.act_sum_partial, as);
    if (mno_buf_addf(b, "%-*s  %10s  %10s  %-12s  %-12s\n", w, "total", ec, ac, es, as) < 0)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (add_diff(b, &r->secs[i]) < 0 || add_problems(b, &r->secs[i]) < 0)
            return -1;
    if (t.by[MNO_VS_OK] == r->n && t.problems)
        return mno_buf_addf(b, "verdict: PROBLEMS: %zu of %zu %s match, %llu records, but %zu problem%s (above)\n",
                            r->n, r->n, things(r), (unsigned long long)t.exp_count, t.problems,
                            t.problems == 1 ? "" : "s");
    if (t.by[MNO_VS_OK] == r->n)
        return mno_buf_addf(b, "verdict: ok: %zu of %zu %s match, %llu records\n", r->n, r->n,
                            things(r), (unsigned long long)t.exp_count);
    if (mno_buf_addf(b, "verdict: DIFFERS: %zu of %zu %s do not match (", r->n - t.by[MNO_VS_OK],
                     r->n, things(r)) < 0)
        return -1;
    const char *sep = "";
    for (int k = MNO_VS_DIFFERS; k <= MNO_VS_EXTRA; k++) {
        if (!t.by[k])
            continue;
        if (mno_buf_addf(b, "%s%zu %s", sep, t.by[k], mno_vstatus_text(k)) < 0)
            return -1;
        sep = ", ";
    }
    return mno_buf_adds(b, ")\n");
}

static json_t *side(uint64_t count, const mno_sum *sum, int has_sum)
{
    char hex[33];
    return json_pack("{s:I,s:s?}", "count", (json_int_t)count, "sum",
                     has_sum ? mno_sum_hex(sum, hex) : NULL);
}

json_t *mno_report_json(const mno_vreport *r)
{
    totals t;
    total(r, &t);
    char eh[33], ah[33];
    json_t *secs = json_array();
    if (!secs)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const mno_vsection *s = &r->secs[i];
        json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "ns", s->ns, "status", mno_vstatus_json(s->status),
                              "expected", s->has_expected ? side(s->exp_count, &s->exp_sum, 1) : json_null(),
                              "actual", s->has_actual ? side(s->act_count, &s->act_sum, s->has_actual_sum) : json_null());
        if (!o || json_array_append_new(secs, o) < 0)
            goto fail;
        if (s->diff && (json_object_set(o, "diff", s->diff) < 0 ||
                        json_object_set_new(o, "diff_more", json_boolean(s->diff_more)) < 0))
            goto fail;
        if (s->note && json_object_set_new(o, "note", json_string(s->note)) < 0)
            goto fail;
        if (s->problems && json_object_set(o, "problems", s->problems) < 0)
            goto fail;
    }
    json_t *archive = r->archive ? json_pack("{s:s,s:O?,s:O?,s:b}", "path", r->archive, "header", r->header,
                                             "trailer", r->trailer, "checked", r->archive_checked)
                                 : json_null();
    json_t *source = r->source ? json_pack("{s:s,s:s?,s:O?,s:O?}", "uri", r->source, "tenant", r->tenant,
                                           "header", r->header, "trailer", r->trailer)
                               : json_null();
    json_t *totals = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s?}", "sections", (json_int_t)r->n,
                               "ok", (json_int_t)t.by[MNO_VS_OK], "differs", (json_int_t)t.by[MNO_VS_DIFFERS],
                               "missing", (json_int_t)t.by[MNO_VS_MISSING], "extra", (json_int_t)t.by[MNO_VS_EXTRA],
                               "expected_count", (json_int_t)t.exp_count, "actual_count", (json_int_t)t.act_count,
                               "expected_sum", mno_sum_hex(&t.exp_sum, eh), "actual_sum", t.act_sum_partial ? NULL : mno_sum_hex(&t.act_sum, ah));
    json_t *out = json_pack("{s:s,s:s,s:s?,s:s?,s:o?,s:o?,s:{s:s?,s:s?},s:b,s:o,s:o?,s:s}",
                            "tool", "mno-verify", "version", MNO_VERSION_STR, "time", r->time,
                            "mode", r->mode, "archive", archive, "source", source,
                            "target", "engine", r->engine, "uri", r->target,
                            "scoped", r->scoped, "sections", secs, "totals", totals,
                            "verdict", t.by[MNO_VS_OK] != r->n ? "differs" : t.problems ? "problems" : "ok");
    if (out && json_object_set_new(json_object_get(out, "totals"), "problems", json_integer((json_int_t)t.problems)) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
fail:
    json_decref(secs);
    return NULL;
}
