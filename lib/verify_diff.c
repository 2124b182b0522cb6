/* verify_diff.c: mno-verify --diff: the keys that differ, found by bisecting key ranges with counts and sums computed in the server. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "verify.h"

/* A range with at most this many archive rows is listed row by row. */
#define LEAF_ROWS 64

int mno_arows_init(mno_arows *a, const mno_section *s, mno_error *e)
{
    memset(a, 0, sizeof *a);
    if (s->engine == MNO_ENGINE_MONGO) {
        a->nk = 1;
        a->keynames = calloc(1, sizeof *a->keynames);
        a->keyidx = calloc(1, sizeof *a->keyidx);
        if (!a->keynames || !a->keyidx)
            goto nomem;
        a->keynames[0] = "_id";
        return 0;
    }
    json_t *key = json_object_get(s->begin, "key");
    a->nk = json_array_size(key);
    if (a->nk == 0)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "the section has no key");
    a->keynames = calloc(a->nk, sizeof *a->keynames);
    a->keyidx = calloc(a->nk, sizeof *a->keyidx);
    if (!a->keynames || !a->keyidx)
        goto nomem;
    for (size_t k = 0; k < a->nk; k++) {
        const char *name = json_string_value(json_array_get(key, k));
        size_t i = 0;
        while (name && i < s->ncols && strcmp(s->colnames[i], name) != 0)
            i++;
        if (!name || i == s->ncols) {
            mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "key column %s is not among the columns",
                    name ? name : "(not a string)");
            mno_arows_release(a);
            return -1;
        }
        a->keynames[k] = name;
        a->keyidx[k] = i;
    }
    return 0;
nomem:
    mno_arows_release(a);
    return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
}

int mno_arows_add(mno_arows *a, const mno_item *it, mno_error *e)
{
    const char *ns = it->section ? it->section->ns : NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        mno_arow *t = realloc(a->rows, cap * sizeof *t);
        if (!t)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
        a->rows = t;
        a->cap = cap;
    }
    mno_arow *r = &a->rows[a->n];
    r->key = json_array();
    r->line = strndup(it->line, it->len);
    if (!r->key || !r->line)
        goto nomem;
    memcpy(r->digest, it->digest, 16);
    for (size_t k = 0; k < a->nk; k++) {
        json_t *v;
        if (it->section->engine == MNO_ENGINE_MONGO) {
            v = json_object_get(it->v, "_id");
            if (!v) {
                json_decref(r->key);
                free(r->line);
                return mno_err(e, MNO_E_FORMAT, NULL, 0, ns, "line %lld: the document has no _id", it->lineno);
            }
            json_incref(v);
        } else {
            const char *s = it->vals[a->keyidx[k]];
            v = s ? json_stringn(s, it->lens ? it->lens[a->keyidx[k]] : strlen(s)) : json_null();
        }
        if (!v || json_array_append_new(r->key, v) < 0)
            goto nomem;
    }
    a->n++;
    return 0;
nomem:
    json_decref(r->key);
    free(r->line);
    return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
}

void mno_arows_release(mno_arows *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        json_decref(a->rows[i].key);
        free(a->rows[i].line);
    }
    free(a->rows);
    free(a->keynames);
    free(a->keyidx);
    memset(a, 0, sizeof *a);
}

typedef unsigned __int128 u128;

static u128 digest_u128(const unsigned char d[16])
{
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = v << 8 | d[i];
    return v;
}

typedef struct diffctx {
    const mno_engine_ops *ops;
    mno_engine *en;
    const mno_section *s;
    const mno_arows *a;
    u128 *prefix;             /* prefix[i]: sum of the first i digests */
    size_t max;
    int whole;                /* no key ranges: list the whole table (see range) */
    mno_vsection *vs;
    /* one leaf: */
    json_t *index;            /* key text -> position */
    unsigned char *seen;      /* per archive row of the leaf */
    size_t lo;
} diffctx;

static char *key_text(const json_t *key)
{
    return json_dumps(key, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* {name: value} for a key array. */
static json_t *key_object(const mno_arows *a, const json_t *key)
{
    json_t *o = json_object();
    for (size_t k = 0; o && k < a->nk; k++)
        if (json_object_set(o, a->keynames[k], json_array_get(key, k)) < 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* Appends one difference; 1 when the listing is full (stop), 0 to go on, -1 on error. */
static int emit(diffctx *c, const char *what, const json_t *key, json_t *columns, mno_error *e)
{
    if (json_array_size(c->vs->diff) >= c->max) {
        c->vs->diff_more = 1;
        json_decref(columns);
        return 1;
    }
    json_t *d = json_pack("{s:s,s:o,s:o*}", "what", what, "key", key_object(c->a, key), "columns", columns);
    if (!d || json_array_append_new(c->vs->diff, d) < 0)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, c->s->ns, "out of memory");
    return 0;
}

/* The names of the columns (pg) or top-level fields (mongo) whose values differ. */
static json_t *changed_columns(const diffctx *c, const char *line, const json_t *tv)
{
    json_error_t je;
    json_t *rec = json_loads(line, 0, &je);
    json_t *av = json_object_get(rec, "v");
    json_t *cols = json_array();
    if (!cols)
        goto done;
    const char *k;
    json_t *x;
    if (c->s->engine == MNO_ENGINE_PG) {
        for (size_t i = 0; i < c->s->ncols; i++) {
            const char *n = c->s->colnames[i];
            if (!json_equal(json_object_get(av, n), json_object_get(tv, n)))
                json_array_append_new(cols, json_string(n));
        }
        goto done;
    }
    json_object_foreach(av, k, x) {
        if (!json_equal(x, json_object_get(tv, k)))
            json_array_append_new(cols, json_string(k));
    }
    json_object_foreach((json_t *)tv, k, x) {
        if (!json_object_get(av, k))
            json_array_append_new(cols, json_string(k));
    }
    if (json_array_size(cols) == 0)  /* same fields and values: their order differs */
        json_array_append_new(cols, json_string("(field order)"));
done:
    json_decref(rec);
    return cols;
}

static int leaf_row(void *arg, const json_t *key, const json_t *v, const unsigned char digest[16],
                    mno_error *e)
{
    diffctx *c = arg;
    char *kt = key_text(key);
    if (!kt)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, c->s->ns, "out of memory");
    json_t *pos = json_object_get(c->index, kt);
    free(kt);
    /* the archive rows of this key not matched yet (a key of every column may repeat:
       duplicate rows): an identical one first, else the first */
    size_t i = SIZE_MAX, k;
    json_t *p;
    json_array_foreach(pos, k, p) {
        size_t at = (size_t)json_integer_value(p);
        if (c->seen[at - c->lo])
            continue;
        if (i == SIZE_MAX)
            i = at;
        if (memcmp(c->a->rows[at].digest, digest, 16) == 0) {
            i = at;
            break;
        }
    }
    if (i == SIZE_MAX)
        return emit(c, "extra", key, NULL, e);
    c->seen[i - c->lo] = 1;
    const mno_arow *r = &c->a->rows[i];
    if (memcmp(r->digest, digest, 16) == 0)
        return 0;
    return emit(c, "changed", key, changed_columns(c, r->line, v), e);
}

/* Lists the target's rows of [lo, hi) against archive rows [i, j). */
static int leaf(diffctx *c, size_t i, size_t j, const json_t *lo, const json_t *hi, size_t limit,
                mno_error *e)
{
    int rc = -1;
    c->index = json_object();
    c->seen = calloc(j - i + 1, 1);
    c->lo = i;
    if (!c->index || !c->seen) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, c->s->ns, "out of memory");
        goto done;
    }
    for (size_t k = i; k < j; k++) {
        char *kt = key_text(c->a->rows[k].key);
        json_t *pos = kt ? json_object_get(c->index, kt) : NULL;
        if (kt && !pos && json_object_set_new(c->index, kt, pos = json_array()) < 0)
            pos = NULL;
        if (!pos || json_array_append_new(pos, json_integer((json_int_t)k)) < 0) {
            free(kt);
            mno_err(e, MNO_E_NOMEM, NULL, 0, c->s->ns, "out of memory");
            goto done;
        }
        free(kt);
    }
    if (c->ops->list_range(c->en, c->s, lo, hi, limit, leaf_row, c, e) < 0)
        goto done;
    for (size_t k = i; k < j; k++)
        if (!c->seen[k - i] && emit(c, "missing", c->a->rows[k].key, NULL, e) < 0)
            goto done;
    rc = 0;
done:
    json_decref(c->index);
    free(c->seen);
    c->index = NULL;
    c->seen = NULL;
    return rc;
}

static int range(diffctx *c, size_t i, size_t j, mno_error *e)
{
    if (c->vs->diff_more)
        return 0;
    const json_t *lo = i > 0 ? c->a->rows[i].key : NULL;
    const json_t *hi = j < c->a->n ? c->a->rows[j].key : NULL;
    if (!c->ops->hash_range)
        return leaf(c, i, j, lo, hi, 0, e);
    uint64_t count;
    mno_sum sum;
    if (c->ops->hash_range(c->en, c->s, lo, hi, &count, &sum, e) < 0)
        return -1;
    u128 asum = c->prefix[j] - c->prefix[i];
    u128 tsum = (u128)sum.hi << 64 | sum.lo;
    if (count == j - i && asum == tsum)
        return 0;
    if (c->whole) {
        /* a key of every column (a table without a primary key): it may repeat, hold nulls
           (a row comparison with null excludes the row) or a type without '<' (json): no
           key ranges, the table is listed once */
        size_t left = c->max - json_array_size(c->vs->diff);
        return leaf(c, i, j, NULL, NULL, count + left + 1, e);
    }
    if (j - i <= LEAF_ROWS) {
        /* every target row of the range matches an archive row or is extra: past this many
           rows the listing is full anyway */
        size_t left = c->max - json_array_size(c->vs->diff);
        return leaf(c, i, j, lo, hi, (j - i) + left + 1, e);
    }
    size_t m = i + (j - i) / 2;
    if (range(c, i, m, e) < 0)
        return -1;
    return range(c, m, j, e);
}

int mno_verify_diff(const mno_engine_ops *ops, mno_engine *en, const mno_section *s,
                    const mno_arows *a, size_t max, mno_vsection *vs, mno_error *e)
{
    if (!ops->list_range)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "the %s engine cannot list rows", ops->name);
    diffctx c = {.ops = ops, .en = en, .s = s, .a = a, .max = max ? max : MNO_VERIFY_MAX_DIFF_DEFAULT, .vs = vs};
    int rc = -1;
    c.prefix = malloc((a->n + 1) * sizeof *c.prefix);
    if (!vs->diff)
        vs->diff = json_array();
    if (!c.prefix || !vs->diff) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        goto done;
    }
    c.whole = s->engine == MNO_ENGINE_PG && a->nk == s->ncols;
    c.prefix[0] = 0;
    for (size_t i = 0; i < a->n; i++)
        c.prefix[i + 1] = c.prefix[i] + digest_u128(a->rows[i].digest);
    rc = range(&c, 0, a->n, e);
done:
    free(c.prefix);
    return rc;
}
