/* filter.c: the stream filters' shared driver: checking reader in, lib's writer out, one pass. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "buf.h"
#include "codec.h"
#include "filter.h"
#include "pgrec.h"

/* Record lines waiting to be copied: flushed at this size or count. */
#define COPY_BYTES ((size_t)256 << 10)
#define COPY_RECS 1024

typedef struct copybuf {
    mno_buf lines;                  /* record lines with their '\n', back to back */
    unsigned char (*dig)[16];       /* decoded sections: their digests */
    size_t n;
} copybuf;

static int copy_flush(mno_writer *w, copybuf *c, int with_digests, mno_error *e)
{
    if (!c->n)
        return 0;
    int rc = mno_writer_copy_lines(w, c->lines.data, c->lines.len, c->n, with_digests ? c->dig : NULL, e);
    mno_buf_reset(&c->lines);
    c->n = 0;
    return rc;
}

static int copy_add(mno_writer *w, copybuf *c, const mno_item *it, int with_digests, mno_error *e)
{
    if (mno_buf_add(&c->lines, it->line, it->len) < 0 || mno_buf_addc(&c->lines, '\n') < 0)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (with_digests)
        memcpy(c->dig[c->n], it->digest, 16);
    c->n++;
    if (c->n == COPY_RECS || c->lines.len >= COPY_BYTES)
        return copy_flush(w, c, with_digests, e);
    return 0;
}

/* SCAN sections (PostgreSQL): the driver decodes each record line itself (the reader only
   checks it); MongoDB sections asked for SCAN are DECODE sections (the reader decodes every
   record form there is, the lossless ones included). */
typedef struct scanner {
    mno_pgrec *pg;
    mno_buf pre;            /* {"t":"rec","ns":NS,"v":  the writers' envelope */
    mno_buf text;           /* pg: a record text */
    const char **vals;
    size_t *lens;
    size_t ncols;
    mno_sum removed;        /* SCAN_KEEP: digests of the records left out or changed */
    long long deferred;     /* a line the driver could not decode: the reader must reject it */
} scanner;

static int scan_setup(scanner *sc, const mno_section *sec)
{
    mno_buf_reset(&sc->pre);
    sc->removed.hi = sc->removed.lo = 0;
    sc->deferred = 0;
    free(sc->vals);
    free(sc->lens);
    sc->ncols = sec->ncols;
    sc->vals = calloc(sec->ncols + 1, sizeof *sc->vals);
    sc->lens = calloc(sec->ncols + 1, sizeof *sc->lens);
    if (!sc->vals || !sc->lens || mno_buf_adds(&sc->pre, "{\"t\":\"rec\",\"ns\":") < 0 ||
        mno_buf_add_json_str(&sc->pre, sec->ns, strlen(sec->ns)) < 0 || mno_buf_adds(&sc->pre, ",\"v\":") < 0)
        return -1;
    if (sec->engine == MNO_ENGINE_PG && ((!sc->pg && !(sc->pg = mno_pgrec_new())) || mno_pgrec_setup(sc->pg, sec) < 0))
        return -1;
    return 0;
}

/* The digest of the decoded record. */
static int scan_digest(scanner *sc, const mno_item *it, unsigned char dig[16])
{
    mno_buf_reset(&sc->text);
    if (mno_pg_record_text(&sc->text, it->vals, it->lens, sc->ncols) < 0)
        return -1;
    mno_md5(sc->text.data ? sc->text.data : "", sc->text.len, dig);
    return 0;
}

static void sum_sub(mno_sum *s, const mno_sum *t)
{
    mno_sum neg = {~t->hi, ~t->lo};
    if (++neg.lo == 0)
        neg.hi++;
    mno_sum_add(s, &neg);
}

/* pg: the values of a line not in the writer's compact form, from jansson (json owns them). */
static int pg_general(scanner *sc, const mno_section *sec, const char *line, size_t len, json_t **json)
{
    json_t *o = json_loadb(line, len, JSON_ALLOW_NUL, NULL), *v = o ? json_object_get(o, "v") : NULL;
    *json = o;
    if (!json_is_object(v) || json_object_size(v) != sec->ncols)
        return 0;
    for (size_t c = 0; c < sec->ncols; c++) {
        json_t *x = json_object_get(v, sec->colnames[c]);
        if (json_is_string(x)) {
            sc->vals[c] = json_string_value(x);
            sc->lens[c] = json_string_length(x);
        } else if (json_is_null(x)) {
            sc->vals[c] = NULL;
            sc->lens[c] = 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Writes a changed record after the lines waiting before it. */
static int write_changed(mno_writer *w, copybuf *cb, int with_digests, const mno_section *sec, const mno_filter_rec *fr,
                         mno_error *e)
{
    if (copy_flush(w, cb, with_digests, e) < 0)
        return -1;
    return sec->engine == MNO_ENGINE_PG ? mno_writer_rec_pg(w, fr->vals, fr->lens, e) : mno_writer_rec_bson(w, fr->doc, e);
}

/* A record of a SCAN section: decoded here, given to the rec callback, written or not. */
static int scan_rec(scanner *sc, const mno_filter_ops *ops, mno_writer *w, copybuf *cb, mno_item *it, int action,
                    mno_error *e)
{
    const mno_section *sec = it->section;
    int pick = action == MNO_FILTER_SCAN_PICK;
    unsigned char dig[16];
    json_t *json = NULL;
    int rc = -1, ok;
    if (!pick && ops->quick && !ops->quick(ops->arg, it->line, it->len))
        return copy_add(w, cb, it, 0, e);
    ok = mno_pgrec_parse(sc->pg, it->line, it->len, sc->vals, sc->lens);
    if (ok == 0)
        ok = pg_general(sc, sec, it->line, it->len, &json);
    it->vals = sc->vals;
    it->lens = sc->lens;
    if (ok < 0) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    if (ok == 0) {
        /* a line the reader rejects (it checks every line): it says why, at the section's end */
        if (!sc->deferred)
            sc->deferred = it->lineno;
        memset(it->digest, 0, sizeof it->digest);
        rc = copy_add(w, cb, it, pick, e);
        goto done;
    }
    mno_filter_rec fr = {NULL, NULL, NULL};
    int k = ops->rec(ops->arg, it, &fr, e);
    if (k < 0)
        goto done;
    if ((pick && k == MNO_FILTER_KEEP) || (!pick && k != MNO_FILTER_KEEP)) {
        if (scan_digest(sc, it, dig) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            goto done;
        }
        if (pick)
            memcpy(it->digest, dig, 16);
        else
            mno_sum_add_digest(&sc->removed, dig);
    }
    if (k == MNO_FILTER_KEEP)
        rc = copy_add(w, cb, it, pick, e);
    else if (k == MNO_FILTER_CHANGED)
        rc = write_changed(w, cb, pick, sec, &fr, e);
    else
        rc = 0;
done:
    json_decref(json);
    it->vals = NULL;
    it->lens = NULL;
    return rc;
}

void mno_filter_opts_init(mno_filter_opts *o, const char *tool, int argc, char *const *argv)
{
    mno_filter_opts def = MNO_FILTER_OPTS_INIT;
    *o = def;
    o->tool = tool;
    o->argc = argc - 1;
    o->argv = argv + 1;
}

int mno_filter_input(mno_filter_opts *o, int argc, char *const *argv, int optind, mno_error *e)
{
    if (optind + 1 < argc)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "one input only");
    o->input = optind < argc ? argv[optind] : "-";
    return 0;
}

int mno_filter_common_opt(mno_filter_opts *o, int c, const char *arg, const char *opt, mno_error *e)
{
    long v;
    switch (c) {
    case ':':
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "option '%s' needs a value", opt);
    case '?':
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "unknown option '%s'", opt);
    case 'o':
        o->output = arg;
        return 1;
    case 'z':
        o->zstd = 1;
        return 1;
    case 'L':
        if (mno_parse_long(arg, -131072, 22, &v) < 0)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--level: expected a zstd level up to 22");
        o->level = (int)v;
        return 1;
    case 'T':
        if (mno_parse_long(arg, 0, 200, &v) < 0)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--threads: expected a number from 0 to 200");
        o->threads = (int)v;
        return 1;
    case 'M':
        if (mno_parse_long(arg, 1, 1L << 40, &v) < 0)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--max-line: expected a positive number of bytes");
        o->max_line = (size_t)v;
        return 1;
    default:
        return 0;
    }
}

int mno_filter_is_key(const json_t *begin, const char *col)
{
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(begin, "key"), i, k)
        if (json_is_string(k) && strcmp(json_string_value(k), col) == 0)
            return 1;
    return 0;
}

int mno_filter_glob(const char *pat, const char *name)
{
    return fnmatch(pat, name, 0) == 0;
}

/* Appends arg, single-quoted when the shell would need it. */
static int shell_word(mno_buf *b, const char *a)
{
    if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") == strlen(a))
        return mno_buf_adds(b, a);
    if (mno_buf_addc(b, '\'') < 0)
        return -1;
    for (; *a; a++)
        if ((*a == '\'' ? mno_buf_adds(b, "'\\''") : mno_buf_addc(b, *a)) < 0)
            return -1;
    return mno_buf_addc(b, '\'');
}

int mno_filter_chain_text(const json_t *header, mno_buf *out)
{
    json_t *filters = json_object_get(header, "filters"), *f, *a;
    size_t i, j;
    int n = 0;
    if (!json_is_array(filters))
        return 0;
    json_array_foreach(filters, i, f) {
        const char *tool = json_string_value(json_object_get(f, "tool"));
        if ((n > 0 && mno_buf_adds(out, " | ") < 0) || mno_buf_adds(out, tool ? tool : "?") < 0)
            return -1;
        json_array_foreach(json_object_get(f, "args"), j, a)
            if (json_is_string(a) && (mno_buf_addc(out, ' ') < 0 || shell_word(out, json_string_value(a)) < 0))
                return -1;
        n++;
    }
    return n;
}

/* The output header: the input's, less what the writer sets anew, with derived_from and this
   filter appended to "filters". NULL when out of memory. */
static json_t *out_header(const mno_filter_opts *o, const json_t *in)
{
    static const char *const renew[] = {"t", "format", "version", "id", "created", "producer", "sealed_by"};
    json_t *h = json_deep_copy(in), *filters, *args, *me, *from;
    char red[1024];
    if (!h)
        return NULL;
    for (size_t i = 0; i < sizeof renew / sizeof renew[0]; i++)
        json_object_del(h, renew[i]);
    from = json_object();
    json_object_set_new(from, "id", json_deep_copy(json_object_get(in, "id") ? json_object_get(in, "id") : json_null()));
    json_object_set_new(h, "derived_from", from);
    filters = json_is_array(json_object_get(in, "filters")) ? json_deep_copy(json_object_get(in, "filters")) : json_array();
    args = json_array();
    me = json_object();
    if (!filters || !args || !me) {
        json_decref(filters);
        json_decref(args);
        json_decref(me);
        json_decref(h);
        return NULL;
    }
    for (int i = 0; i < o->argc; i++) {
        const char *a = o->argv[i];
        /* never a credential: a URI given as an argument loses its password */
        if (strstr(a, "://") || strstr(a, "password="))
            a = mno_redact_uri(a, red, sizeof red);
        json_array_append_new(args, json_string(a));
    }
    json_object_set_new(me, "tool", json_string(o->tool ? o->tool : "mno-filter"));
    json_object_set_new(me, "version", json_string(MNO_VERSION_STR));
    json_object_set_new(me, "args", args);
    json_array_append_new(filters, me);
    json_object_set_new(h, "filters", filters);
    return h;
}

/* An error without an input (the writer's, a callback's about a value) gets the input's name
   and line, and the open section unless it names one already. */
static int at_line(mno_error *e, const char *input, const mno_item *it)
{
    if (!e->input[0]) {
        char body[sizeof e->msg];
        snprintf(body, sizeof body, "%s", e->msg);
        mno_err(e, e->code ? e->code : MNO_E_USAGE, input, it->lineno,
                !e->object[0] && it->section && it->kind != MNO_ITEM_TRAILER ? it->section->ns : NULL, "%s", body);
    }
    return -1;
}

int mno_filter_run(const mno_filter_opts *o, const mno_filter_ops *ops, mno_error *e)
{
    mno_filter_ops none = {0};
    mno_reader_opts ro;
    mno_in *in = NULL;
    mno_out *out = NULL;
    mno_reader *r = NULL;
    mno_writer *w = NULL;
    json_t *h = NULL, *extra = NULL;
    copybuf cb = {MNO_BUF_INIT, NULL, 0};
    scanner sc;
    mno_item it;
    int rc = -1, n, action = MNO_FILTER_COPY;
    const char *name;
    memset(&sc, 0, sizeof sc);
    if (!ops)
        ops = &none;
    if (!(cb.dig = malloc(COPY_RECS * sizeof *cb.dig))) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    if (!(in = mno_in_open(o->input && strcmp(o->input, "-") ? o->input : NULL, e)))
        goto done;
    name = mno_in_name(in);
    mno_reader_opts_check(&ro);
    ro.max_line = o->max_line;
    if (!(r = mno_reader_new(in, &ro, e)))
        goto done;
    while ((n = mno_reader_next(r, &it, e)) > 0) {
        switch (it.kind) {
        case MNO_ITEM_HEADER: {
            mno_out_opts oo = MNO_OUT_OPTS_INIT;
            const char *op = o->output && strcmp(o->output, "-") ? o->output : NULL;
            size_t ol = op ? strlen(op) : 0;
            if (!(h = out_header(o, it.obj))) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            if (ops->header && ops->header(ops->arg, it.obj, h, e) < 0)
                goto fail_at;
            oo.zstd = o->zstd || (ol > 4 && strcmp(op + ol - 4, ".zst") == 0);
            oo.level = o->level;
            oo.threads = o->threads;
            if (!(out = mno_out_open(op, &oo, e)))
                goto done;
            if (!(w = mno_writer_new(out, h, o->tool, e)))
                goto fail_at;
            break;
        }
        case MNO_ITEM_BEGIN: {
            json_t *b = it.obj;
            action = ops->begin ? ops->begin(ops->arg, &it, &b, e) : MNO_FILTER_COPY;
            if (action < 0)
                goto fail_at;
            if (action != MNO_FILTER_COPY && action != MNO_FILTER_DROP && !ops->rec)
                action = MNO_FILTER_COPY;
            /* MongoDB records are decoded by the reader, which knows every record form */
            if ((action == MNO_FILTER_SCAN_KEEP || action == MNO_FILTER_SCAN_PICK) && it.section->engine != MNO_ENGINE_PG)
                action = MNO_FILTER_DECODE;
            if ((action == MNO_FILTER_SCAN_KEEP || action == MNO_FILTER_SCAN_PICK) && scan_setup(&sc, it.section) < 0) {
                if (b != it.obj)
                    json_decref(b);
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            if (mno_reader_set_decode(r, action == MNO_FILTER_DECODE) < 0) {
                if (b != it.obj)
                    json_decref(b);
                mno_err(e, MNO_E_INTERNAL, name, it.lineno, it.section->ns, "the reader cannot switch modes here");
                goto done;
            }
            int brc = action == MNO_FILTER_DROP ? 0 : mno_writer_begin(w, it.section->ns, b, e);
            if (b != it.obj)
                json_decref(b);
            if (brc < 0)
                goto fail_at;
            break;
        }
        case MNO_ITEM_REC: {
            if (action == MNO_FILTER_DROP)
                break;
            if (action == MNO_FILTER_COPY) {
                if (copy_add(w, &cb, &it, 0, e) < 0)
                    goto fail_at;
                break;
            }
            if (action == MNO_FILTER_SCAN_KEEP || action == MNO_FILTER_SCAN_PICK) {
                if (scan_rec(&sc, ops, w, &cb, &it, action, e) < 0)
                    goto fail_at;
                break;
            }
            mno_filter_rec fr = {NULL, NULL, NULL};
            int k = ops->rec(ops->arg, &it, &fr, e);
            if (k < 0)
                goto fail_at;
            if (k == MNO_FILTER_KEEP) {
                if (copy_add(w, &cb, &it, 1, e) < 0)
                    goto fail_at;
            } else if (k == MNO_FILTER_CHANGED) {
                int wrc;
                wrc = write_changed(w, &cb, 1, it.section, &fr, e);
                if (wrc < 0)
                    goto fail_at;
            }
            break;
        }
        case MNO_ITEM_END:
            if (action != MNO_FILTER_DROP) {
                if (copy_flush(w, &cb, action == MNO_FILTER_DECODE || action == MNO_FILTER_SCAN_PICK, e) < 0)
                    goto fail_at;
                if (action == MNO_FILTER_COPY || action == MNO_FILTER_SCAN_KEEP) {
                    mno_sum s = it.section->sum;
                    if (action == MNO_FILTER_SCAN_KEEP)
                        sum_sub(&s, &sc.removed);
                    mno_writer_add_sum(w, &s);
                }
                if ((action == MNO_FILTER_SCAN_KEEP || action == MNO_FILTER_SCAN_PICK) && sc.deferred) {
                    mno_err(e, MNO_E_INTERNAL, name, sc.deferred, it.section->ns, "a record the filter could not decode");
                    goto done;
                }
            }
            if (ops->end && ops->end(ops->arg, &it, e) < 0)
                goto fail_at;
            if (action != MNO_FILTER_DROP && mno_writer_end(w, e) < 0)
                goto fail_at;
            action = MNO_FILTER_COPY;
            break;
        case MNO_ITEM_TRAILER: {
            char hex[33];
            if (ops->finish && ops->finish(ops->arg, e) < 0)
                goto done;
            json_t *from = json_object();
            extra = json_object();
            if (!extra || !from) {
                json_decref(from);
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto done;
            }
            json_object_set(from, "id", json_object_get(json_object_get(h, "derived_from"), "id"));
            json_object_set_new(from, "sum", json_string(mno_sum_hex(&it.declared_sum, hex)));
            json_object_set_new(extra, "derived_from", from);
            if (mno_writer_set_trailer_extra(w, extra, e) < 0 || mno_writer_close(w, e) < 0)
                goto fail_at;
            break;
        }
        default:
            break;
        }
    }
    if (n < 0)
        goto done;
    if (mno_out_finish(out, e) < 0) {
        out = NULL;
        goto done;
    }
    out = NULL;
    rc = 0;
    goto done;
fail_at:
    at_line(e, name, &it);
done:
    mno_out_abort(out);
    mno_writer_free(w);
    mno_reader_free(r);
    mno_in_close(in);
    json_decref(h);
    json_decref(extra);
    mno_buf_release(&cb.lines);
    free(cb.dig);
    mno_pgrec_free(sc.pg);
    mno_buf_release(&sc.pre);
    mno_buf_release(&sc.text);
    free(sc.vals);
    free(sc.lens);
    return rc;
}
