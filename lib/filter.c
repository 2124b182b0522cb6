/* filter.c: the stream filters' shared driver: checking reader in, lib's writer out, one pass. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "buf.h"
#include "codec.h"
#include "filter.h"

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

int mno_filter_common_opt(mno_filter_opts *o, int c, const char *arg, mno_error *e)
{
    long v;
    switch (c) {
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
    mno_item it;
    int rc = -1, n, action = MNO_FILTER_COPY;
    const char *name;
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
            if (action == MNO_FILTER_DECODE && !ops->rec)
                action = MNO_FILTER_COPY;
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
            mno_filter_rec fr = {NULL, NULL, NULL};
            int k = ops->rec(ops->arg, &it, &fr, e);
            if (k < 0)
                goto fail_at;
            if (k == MNO_FILTER_KEEP) {
                if (copy_add(w, &cb, &it, 1, e) < 0)
                    goto fail_at;
            } else if (k == MNO_FILTER_CHANGED) {
                int wrc;
                if (copy_flush(w, &cb, 1, e) < 0)
                    goto fail_at;
                if (it.section->engine == MNO_ENGINE_PG)
                    wrc = mno_writer_rec_pg(w, fr.vals, fr.lens, e);
                else
                    wrc = mno_writer_rec_bson(w, fr.doc, e);
                if (wrc < 0)
                    goto fail_at;
            }
            break;
        }
        case MNO_ITEM_END:
            if (action != MNO_FILTER_DROP) {
                if (copy_flush(w, &cb, action == MNO_FILTER_DECODE, e) < 0)
                    goto fail_at;
                if (action == MNO_FILTER_COPY)
                    mno_writer_add_sum(w, &it.section->sum);
            }
            if (ops->end && ops->end(ops->arg, &it, e) < 0)
                goto fail_at;
            if (action != MNO_FILTER_DROP && mno_writer_end(w, e) < 0)
                goto fail_at;
            action = MNO_FILTER_COPY;
            break;
        case MNO_ITEM_TRAILER: {
            char hex[33];
            json_t *from = json_object();
            if (ops->finish && ops->finish(ops->arg, e) < 0)
                goto done;
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
    return rc;
}
