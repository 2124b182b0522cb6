/* cmd_crud.c: find, getMore, killCursors, insert, update, delete, count, distinct. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

#define DEFAULT_FIRST_BATCH 101

/* ---- shared helpers ---- */

int opt_doc(const bson_t *body, const char *key, bson_t *out, bool *present, bson_t *reply)
{
    bson_iter_t it;
    *present = false;
    if (!bson_iter_init_find(&it, body, key) || BSON_ITER_HOLDS_NULL(&it))
        return 0;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
        cmd_error(reply, 14, "TypeMismatch", "BSON field '%s' is the wrong type '%s', expected type 'object'",
                  key, BSON_ITER_HOLDS_ARRAY(&it) ? "array" : "other");
        return -1;
    }
    uint32_t l;
    const uint8_t *d;
    bson_iter_document(&it, &l, &d);
    bson_init_static(out, d, l);
    *present = true;
    return 0;
}

static int opt_int(const bson_t *body, const char *key, int64_t *out, bool *present, bson_t *reply)
{
    bson_iter_t it;
    *present = false;
    if (!bson_iter_init_find(&it, body, key) || BSON_ITER_HOLDS_NULL(&it))
        return 0;
    if (!BSON_ITER_HOLDS_NUMBER(&it)) {
        cmd_error(reply, 14, "TypeMismatch", "BSON field '%s' is the wrong type, expected a number", key);
        return -1;
    }
    *out = bson_iter_as_int64(&it);
    *present = true;
    return 0;
}

static int fail_msg(bson_t *reply, int code, bson_string_t *msg)
{
    cmd_error(reply, code, code == 2 ? "BadValue" : NULL, "%s", msg->str);
    bson_string_free(msg, true);
    return -1;
}

typedef struct qctx {
    const bson_t *filter;
    mdoc **out;
    size_t n, cap, stop;
    const mdoc *end;   /* stop after this _id (inclusive bound), NULL: none */
    bool reverse;
} qctx;

static bool q_one(void *key, void *arg)
{
    qctx *q = arg;
    mdoc *d = key;
    if (q->end) {
        int c = mdoc_id_cmp(d, q->end);
        if (q->reverse ? c < 0 : c > 0)
            return false;
    }
    if (q->filter) {
        bson_t b;
        mdoc_bson(d, &b);
        if (!match_doc(q->filter, &b))
            return true;
    }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->out = realloc(q->out, q->cap * sizeof *q->out);
        if (!q->out)
            abort();
    }
    mdoc_ref(d);
    q->out[q->n++] = d;
    return q->n < q->stop;
}

/* Bounds on _id a filter implies (a superset of its matches, in BSON order). */
typedef struct idbounds {
    bool lo_set, hi_set, none;
    bson_iter_t lo, hi;
    bool in_set;       /* _id: {$in: [points]}: look each one up */
    bson_iter_t in;    /* on the $in array */
} idbounds;

static void bound(idbounds *b, const bson_iter_t *v, bool lo, bool hi)
{
    if (lo && (!b->lo_set || md_cmp_iter(v, &b->lo) > 0)) {
        b->lo = *v;
        b->lo_set = true;
    }
    if (hi && (!b->hi_set || md_cmp_iter(v, &b->hi) < 0)) {
        b->hi = *v;
        b->hi_set = true;
    }
}

/* A value that equality can use as a point in the _id order: not null (it also matches
   undefined), not an array or regex (they match in other ways). */
static bool point_value(const bson_iter_t *v)
{
    bson_type_t t = bson_iter_type(v);
    return t != BSON_TYPE_NULL && t != BSON_TYPE_UNDEFINED && t != BSON_TYPE_ARRAY && t != BSON_TYPE_REGEX;
}

static void id_bounds(const bson_t *filter, idbounds *b)
{
    bson_iter_t it, c;
    if (!bson_iter_init(&it, filter))
        return;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "$and") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &c)) {
            while (bson_iter_next(&c)) {
                if (BSON_ITER_HOLDS_DOCUMENT(&c)) {
                    uint32_t l;
                    const uint8_t *d;
                    bson_t sub;
                    bson_iter_document(&c, &l, &d);
                    if (bson_init_static(&sub, d, l))
                        id_bounds(&sub, b);
                }
            }
            continue;
        }
        if (strcmp(k, "_id"))
            continue;
        bool ops = BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &c) && bson_iter_next(&c) &&
                   bson_iter_key(&c)[0] == '$';
        if (!ops) {
            if (point_value(&it))
                bound(b, &it, true, true);
            continue;
        }
        bson_iter_recurse(&it, &c);
        while (bson_iter_next(&c)) {
            const char *op = bson_iter_key(&c);
            if (!strcmp(op, "$eq")) {
                if (point_value(&c))
                    bound(b, &c, true, true);
            } else if (!strcmp(op, "$gt") || !strcmp(op, "$gte")) {
                bound(b, &c, true, false);
            } else if (!strcmp(op, "$lt") || !strcmp(op, "$lte")) {
                bound(b, &c, false, true);
            } else if (!strcmp(op, "$in") && BSON_ITER_HOLDS_ARRAY(&c)) {
                bson_iter_t a, lo, hi;
                bool any = false, all_points = true;
                bson_iter_recurse(&c, &a);
                while (bson_iter_next(&a)) {
                    if (!point_value(&a)) {
                        all_points = false;
                        break;
                    }
                    if (!any || md_cmp_iter(&a, &lo) < 0)
                        lo = a;
                    if (!any || md_cmp_iter(&a, &hi) > 0)
                        hi = a;
                    any = true;
                }
                if (!all_points)
                    continue;
                if (!b->in_set) {
                    b->in = c;
                    b->in_set = true;
                }
                if (!any)
                    b->none = true;
                else {
                    bound(b, &lo, true, false);
                    bound(b, &hi, false, true);
                }
            }
        }
    }
}

/* A probe document {_id: v} for the tree. */
static mdoc *probe_doc(const bson_iter_t *v)
{
    bson_t b = BSON_INITIALIZER;
    bson_append_iter(&b, "_id", 3, v);
    mdoc *d = mdoc_new(bson_get_data(&b), b.len);
    bson_destroy(&b);
    return d;
}

static int iter_cmp(const void *a, const void *b)
{
    return md_cmp_iter(&((const md_iter_slot *)a)->it, &((const md_iter_slot *)b)->it);
}

/* The documents whose _id is one of the values of the $in array it (in _id order). */
static void query_points(mcoll *c, const bson_iter_t *in, qctx *q)
{
    bson_iter_t a;
    size_t n = 0, cap = 16;
    md_iter_slot *v = md_iter_array_grow(NULL, 0, cap, sizeof *v);
    bson_iter_recurse(in, &a);
    while (bson_iter_next(&a)) {
        if (n == cap) {
            v = md_iter_array_grow(v, n, cap * 2, sizeof *v);
            cap *= 2;
        }
        v[n++].it = a;
    }
    qsort(v, n, sizeof *v, iter_cmp);
    for (size_t k = 0; k < n; k++) {
        size_t i = q->reverse ? n - 1 - k : k;
        if (k > 0 && md_cmp_iter(&v[i].it, &v[q->reverse ? i + 1 : i - 1].it) == 0)
            continue; /* the same _id again */
        mdoc *probe = probe_doc(&v[i].it);
        mdoc *d = probe ? tree_find(&c->ids, probe) : NULL;
        mdoc_unref(probe);
        if (d && !q_one(d, q))
            break;
    }
    free(v);
}

mdoc **md_query(mcoll *c, const bson_t *filter, bool reverse, size_t stop_after, size_t *n)
{
    qctx q = { filter && !bson_empty(filter) ? filter : NULL, NULL, 0, 0, stop_after, NULL, reverse };
    idbounds b = { false, false, false, { 0 }, { 0 }, false, { 0 } };
    mdoc *lo = NULL, *hi = NULL;
    if (q.filter)
        id_bounds(q.filter, &b);
    if (b.lo_set && b.hi_set && md_cmp_iter(&b.lo, &b.hi) > 0)
        b.none = true;
    if (c && stop_after > 0 && !b.none && b.in_set) {
        query_points(c, &b.in, &q);
    } else if (c && stop_after > 0 && !b.none) {
        if (b.lo_set)
            lo = probe_doc(&b.lo);
        if (b.hi_set)
            hi = probe_doc(&b.hi);
        q.end = reverse ? lo : hi;
        const mdoc *start = reverse ? hi : lo;
        if (start)
            tree_walk_from(&c->ids, start, q_one, &q, reverse);
        else
            tree_walk(&c->ids, q_one, &q, reverse);
    }
    mdoc_unref(lo);
    mdoc_unref(hi);
    *n = q.n;
    return q.out;
}

/* ---- sorting ---- */

int md_sort_check(const bson_t *spec, bool *id_order, bool *reverse, bson_string_t *msg)
{
    bson_iter_t it;
    int n = 0;
    *id_order = true;
    *reverse = false;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_NUMBER(&it) || (bson_iter_as_int64(&it) != 1 && bson_iter_as_int64(&it) != -1)) {
            bson_string_append(msg, BSON_ITER_HOLDS_DOCUMENT(&it)
                               ? "mno-test-mongod does not support $meta sorts"
                               : "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
            return BSON_ITER_HOLDS_DOCUMENT(&it) ? 2 : 15975;
        }
        if (n == 0 && !strcmp(bson_iter_key(&it), "_id"))
            *reverse = bson_iter_as_int64(&it) == -1;
        else
            *id_order = false;
        n++;
    }
    return 0;
}

/* The value a document sorts by for one key: the min (asc) or max (desc) element of an array. */
static bool sort_value(const bson_t *doc, const char *path, bool desc, bson_iter_t *out)
{
    if (!md_get_path(doc, path, out))
        return false;
    if (BSON_ITER_HOLDS_ARRAY(out)) {
        bson_iter_t a, best;
        bool have = false;
        bson_iter_recurse(out, &a);
        while (bson_iter_next(&a)) {
            if (!have || (desc ? md_cmp_iter(&a, &best) > 0 : md_cmp_iter(&a, &best) < 0)) {
                best = a;
                have = true;
            }
        }
        if (!have)
            return true; /* empty array: the array itself */
        *out = best;
    }
    return true;
}

int md_sort_cmp(const bson_t *spec, const bson_t *a, const bson_t *b)
{
    bson_iter_t it;
    static const uint8_t nulldoc[] = { 8, 0, 0, 0, 10, 'n', 0, 0 };
    bson_iter_t nul;
    bson_iter_init_from_data(&nul, nulldoc, sizeof nulldoc);
    bson_iter_next(&nul);
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        bool desc = bson_iter_as_int64(&it) < 0;
        bson_iter_t x, y;
        if (!sort_value(a, bson_iter_key(&it), desc, &x))
            x = nul;
        if (!sort_value(b, bson_iter_key(&it), desc, &y))
            y = nul;
        int c = md_cmp_iter(&x, &y);
        if (c)
            return desc ? -c : c;
    }
    return 0;
}

typedef struct sitem {
    mdoc *d;
    size_t pos;
} sitem;

static int sitem_cmp(const void *a, const void *b, void *spec)
{
    const sitem *x = a, *y = b;
    bson_t da, db;
    mdoc_bson(x->d, &da);
    mdoc_bson(y->d, &db);
    int c = md_sort_cmp(spec, &da, &db);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0;
}

void md_sort_docs(const bson_t *spec, mdoc **docs, size_t n)
{
    sitem *s = malloc((n ? n : 1) * sizeof *s);
    for (size_t i = 0; i < n; i++)
        s[i] = (sitem){ docs[i], i };
    qsort_r(s, n, sizeof *s, sitem_cmp, (void *)spec);
    for (size_t i = 0; i < n; i++)
        docs[i] = s[i].d;
    free(s);
}

/* ---- projection (top-level fields) ---- */

int md_project_check(const bson_t *proj, bson_string_t *msg)
{
    bson_iter_t it;
    int incl = -1;
    bson_iter_init(&it, proj);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!BSON_ITER_HOLDS_NUMBER(&it) && !BSON_ITER_HOLDS_BOOL(&it)) {
            bson_string_append_printf(msg, "mno-test-mongod supports only inclusion or exclusion projections (field '%s')", k);
            return 2;
        }
        if (strchr(k, '.') || k[0] == '$') {
            bson_string_append_printf(msg, "mno-test-mongod does not support projections of dotted paths ('%s')", k);
            return 2;
        }
        if (!strcmp(k, "_id"))
            continue;
        int v = bson_iter_as_bool(&it) ? 1 : 0;
        if (incl >= 0 && incl != v) {
            bson_string_append_printf(msg, v ? "Cannot do inclusion on field %s in exclusion projection"
                                             : "Cannot do exclusion on field %s in inclusion projection", k);
            return 31254;
        }
        incl = v;
    }
    return 0;
}

void md_project(const bson_t *proj, const bson_t *doc, bson_t *out)
{
    bson_iter_t it, p;
    int incl = -1;
    bool id = true;
    bson_iter_init(&p, proj);
    while (bson_iter_next(&p)) {
        if (!strcmp(bson_iter_key(&p), "_id"))
            id = bson_iter_as_bool(&p);
        else
            incl = bson_iter_as_bool(&p);
    }
    if (incl < 0)
        incl = id ? 1 : 0; /* only _id given: {_id: 1} keeps just _id, {_id: 0} all but _id */
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bool keep;
        if (!strcmp(k, "_id"))
            keep = id;
        else {
            bool named = bson_iter_init_find(&p, proj, k);
            keep = incl ? named : !named;
        }
        if (keep)
            bson_append_iter(out, k, -1, &it);
    }
}

/* ---- find / getMore / killCursors ---- */

static const char *first_string(mreq *r, bson_t *reply)
{
    bson_iter_t it;
    bson_iter_init(&it, r->body);
    bson_iter_next(&it);
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
        cmd_error(reply, 73, "InvalidNamespace", "collection name has invalid type (UUIDs are not supported)");
        return NULL;
    }
    const char *c = bson_iter_utf8(&it, NULL);
    if (!*c || strchr(c, '$')) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid namespace specified '%s.%s'", r->db, c);
        return NULL;
    }
    return c;
}

static mcoll *lookup(mreq *r, const char *cn)
{
    mdb *db = store_db(r->db, false);
    return db ? store_coll(db, cn, false, NULL) : NULL;
}

/* Serves a batch of a find/getMore cursor, honouring the drop-after-documents fault. */
static int serve(mreq *r, mcursor *c, bson_t *reply, int64_t batch, bool first, bool single)
{
    size_t allowed = fault_docs_allowed();
    if (allowed == 0 && fault_docs_drop_now()) {
        r->drop = true;
        if (first)
            cursor_free(c);
        return -1;
    }
    size_t served = cursor_reply(c, reply, batch, first, single, allowed);
    fault_docs_served(served);
    return 0;
}

int cmd_find(mreq *r, const char *name, bson_t *reply)
{
    bson_t filter, sort, proj;
    bool hf, hs, hp, hskip, hlimit, hbatch;
    int64_t skip = 0, limit = 0, batch = DEFAULT_FIRST_BATCH;
    bson_iter_t it;
    (void)name;
    const char *cn = first_string(r, reply);
    if (!cn || opt_doc(r->body, "filter", &filter, &hf, reply) || opt_doc(r->body, "sort", &sort, &hs, reply) ||
        opt_doc(r->body, "projection", &proj, &hp, reply) || opt_int(r->body, "skip", &skip, &hskip, reply) ||
        opt_int(r->body, "limit", &limit, &hlimit, reply) || opt_int(r->body, "batchSize", &batch, &hbatch, reply))
        return -1;
    if (!hbatch)
        batch = DEFAULT_FIRST_BATCH;
    bool single = bson_iter_init_find(&it, r->body, "singleBatch") && bson_iter_as_bool(&it);
    if (skip < 0 || limit < 0 || batch < 0) {
        cmd_error(reply, 51024, NULL, "BSON field '%s' value must be >= 0",
                  skip < 0 ? "skip" : limit < 0 ? "limit" : "batchSize");
        return -1;
    }
    if (bson_iter_init_find(&it, r->body, "collation") || bson_iter_init_find(&it, r->body, "returnKey")) {
        cmd_error(reply, 2, "BadValue", "mno-test-mongod does not support find option '%s'", bson_iter_key(&it));
        return -1;
    }
    bson_string_t *msg = bson_string_new(NULL);
    int code;
    bool id_order = true, reverse = false;
    if (hf && (code = match_check(&filter, msg)))
        return fail_msg(reply, code, msg);
    if (hs && (code = md_sort_check(&sort, &id_order, &reverse, msg)))
        return fail_msg(reply, code, msg);
    if (hp && (code = md_project_check(&proj, msg)))
        return fail_msg(reply, code, msg);
    bson_string_free(msg, true);

    mcoll *c = lookup(r, cn);
    size_t n = 0;
    size_t stop = id_order && limit > 0 ? (size_t)(skip + limit) : SIZE_MAX;
    mdoc **docs = md_query(c, hf ? &filter : NULL, reverse, stop, &n);
    if (!id_order)
        md_sort_docs(&sort, docs, n);
    size_t from = (size_t)skip < n ? (size_t)skip : n;
    size_t to = limit > 0 && from + (size_t)limit < n ? from + (size_t)limit : n;
    for (size_t i = 0; i < from; i++)
        mdoc_unref(docs[i]);
    for (size_t i = to; i < n; i++)
        mdoc_unref(docs[i]);
    if (from)
        memmove(docs, docs + from, (to - from) * sizeof *docs);
    n = to - from;
    if (hp) {
        for (size_t i = 0; i < n; i++) {
            bson_t in, out = BSON_INITIALIZER;
            mdoc_bson(docs[i], &in);
            md_project(&proj, &in, &out);
            mdoc_unref(docs[i]);
            docs[i] = mdoc_any(bson_get_data(&out), out.len);
            bson_destroy(&out);
        }
    }
    char *ns = bson_strdup_printf("%s.%s", r->db, cn);
    mcursor *cur = cursor_new(ns, docs, n);
    bson_free(ns);
    return serve(r, cur, reply, batch, true, single);
}

int cmd_getmore(mreq *r, const char *name, bson_t *reply)
{
    bson_iter_t it;
    int64_t batch = -1;
    bool hb;
    (void)name;
    bson_iter_init(&it, r->body);
    bson_iter_next(&it);
    if (!BSON_ITER_HOLDS_INT64(&it)) {
        cmd_error(reply, 14, "TypeMismatch", "BSON field 'getMore.getMore' is the wrong type, expected type 'long'");
        return -1;
    }
    int64_t id = bson_iter_int64(&it);
    if (opt_int(r->body, "batchSize", &batch, &hb, reply))
        return -1;
    if (!hb || batch <= 0)
        batch = -1;
    mcursor *c = cursor_get(id);
    if (!c) {
        cmd_error(reply, 43, "CursorNotFound", "cursor id %lld not found", (long long)id);
        return -1;
    }
    const char *coll = bson_iter_init_find(&it, r->body, "collection") && BSON_ITER_HOLDS_UTF8(&it)
                       ? bson_iter_utf8(&it, NULL) : "";
    char *ns = bson_strdup_printf("%s.%s", r->db, coll);
    bool same = !strcmp(ns, c->ns);
    bson_free(ns);
    if (!same) {
        cmd_error(reply, 13, "Unauthorized", "Requested getMore on namespace '%s.%s', but cursor belongs to a different namespace %s",
                  r->db, coll, c->ns);
        return -1;
    }
    /* only find cursors count towards the drop-after-documents fault; others are served whole */
    return serve(r, c, reply, batch, false, false);
}

int cmd_killcursors(mreq *r, const char *name, bson_t *reply)
{
    bson_iter_t it, a;
    bson_t killed;
    uint32_t nk = 0, nn = 0;
    char kb[16];
    const char *key;
    (void)name;
    BSON_APPEND_ARRAY_BEGIN(reply, "cursorsKilled", &killed);
    bson_t nf = BSON_INITIALIZER;
    if (bson_iter_init_find(&it, r->body, "cursors") && BSON_ITER_HOLDS_ARRAY(&it)) {
        bson_iter_recurse(&it, &a);
        while (bson_iter_next(&a)) {
            int64_t id = bson_iter_as_int64(&a);
            mcursor *c = cursor_get(id);
            if (c) {
                cursor_free(c);
                bson_uint32_to_string(nk++, &key, kb, sizeof kb);
                bson_append_int64(&killed, key, -1, id);
            } else {
                bson_uint32_to_string(nn++, &key, kb, sizeof kb);
                bson_append_int64(&nf, key, -1, id);
            }
        }
    }
    bson_append_array_end(reply, &killed);
    BSON_APPEND_ARRAY(reply, "cursorsNotFound", &nf);
    bson_destroy(&nf);
    bson_t empty = BSON_INITIALIZER;
    BSON_APPEND_ARRAY(reply, "cursorsAlive", &empty);
    BSON_APPEND_ARRAY(reply, "cursorsUnknown", &empty);
    bson_destroy(&empty);
    return 0;
}

/* ---- writes ---- */

static bool valid_db(const char *s)
{
    if (!*s || strlen(s) >= 64)
        return false;
    for (; *s; s++)
        if (strchr("/\\. \"$", *s))
            return false;
    return true;
}

static void write_error(bson_t *errs, uint32_t *nerr, uint32_t index, int code, const char *msg)
{
    char kb[16];
    const char *key;
    bson_t e;
    bson_uint32_to_string((*nerr)++, &key, kb, sizeof kb);
    bson_append_document_begin(errs, key, -1, &e);
    BSON_APPEND_INT32(&e, "index", (int32_t)index);
    BSON_APPEND_INT32(&e, "code", code);
    BSON_APPEND_UTF8(&e, "errmsg", msg);
    bson_append_document_end(errs, &e);
}

static int count_items(mreq *r, const char *field, const char *cmd, bson_t *reply, docs_iter *di)
{
    const uint8_t *d;
    uint32_t l;
    int64_t n = 0;
    if (!docs_iter_init(di, r, field)) {
        cmd_error(reply, 40414, NULL, "BSON field '%s.%s' is missing but a required field", cmd, field);
        return -1;
    }
    docs_iter tmp = *di;
    while (docs_iter_next(&tmp, &d, &l)) {
        if (l > MD_MAX_BSON_INTERNAL) {
            bson_iter_t it;
            bson_string_t *first = bson_string_new(NULL);
            if (bson_iter_init_from_data(&it, d, l) && bson_iter_next(&it)) {
                bson_string_append_printf(first, "%s: ", bson_iter_key(&it));
                md_value_text(first, &it);
            }
            cmd_error(reply, 10334, "BSONObjectTooLarge",
                      "BSONObj size: %u (0x%X) is invalid. Size must be between 0 and %d(16MB) First element: %s",
                      l, l, MD_MAX_BSON_INTERNAL, first->str);
            bson_string_free(first, true);
            return -1;
        }
        n++;
    }
    if (n < 1 || n > MD_MAX_BATCH) {
        cmd_error(reply, 16, "InvalidLength", "Write batch sizes must be between 1 and %d. Got %lld operations.",
                  MD_MAX_BATCH, (long long)n);
        return -1;
    }
    return 0;
}

int cmd_insert(mreq *r, const char *name, bson_t *reply)
{
    docs_iter di;
    const uint8_t *d;
    uint32_t l, i = 0, nerr = 0;
    int64_t n = 0;
    bson_iter_t it;
    const char *cn = first_string(r, reply);
    if (!cn)
        return -1;
    if (!valid_db(r->db)) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid database name: '%s'", r->db);
        return -1;
    }
    if (count_items(r, "documents", name, reply, &di))
        return -1;
    bool ordered = !bson_iter_init_find(&it, r->body, "ordered") || bson_iter_as_bool(&it);
    mdb *db = store_db(r->db, true);
    mcoll *c = store_coll(db, cn, true, NULL);
    bson_t errs = BSON_INITIALIZER;
    bson_string_t *msg = bson_string_new(NULL);
    while (docs_iter_next(&di, &d, &l)) {
        bson_string_truncate(msg, 0);
        int code = store_insert(db, c, d, l, msg);
        if (code) {
            write_error(&errs, &nerr, i, code, msg->str);
            if (ordered)
                break;
        } else
            n++;
        i++;
    }
    bson_string_free(msg, true);
    BSON_APPEND_INT32(reply, "n", (int32_t)n);
    if (nerr)
        BSON_APPEND_ARRAY(reply, "writeErrors", &errs);
    bson_destroy(&errs);
    return 0;
}

static bool id_equal(const bson_t *a, const bson_t *b)
{
    bson_iter_t x, y;
    if (!bson_iter_init_find(&x, a, "_id") || !bson_iter_init_find(&y, b, "_id"))
        return false;
    return bson_iter_type(&x) == bson_iter_type(&y) && md_cmp_iter(&x, &y) == 0;
}

int cmd_update(mreq *r, const char *name, bson_t *reply)
{
    docs_iter di;
    const uint8_t *d;
    uint32_t l, i = 0, nerr = 0, nups = 0;
    int64_t matched = 0, modified = 0;
    bson_iter_t it;
    const char *cn = first_string(r, reply);
    if (!cn)
        return -1;
    if (!valid_db(r->db)) {
        cmd_error(reply, 73, "InvalidNamespace", "Invalid database name: '%s'", r->db);
        return -1;
    }
    if (count_items(r, "updates", name, reply, &di))
        return -1;
    bool ordered = !bson_iter_init_find(&it, r->body, "ordered") || bson_iter_as_bool(&it);
    bson_t errs = BSON_INITIALIZER, ups = BSON_INITIALIZER;
    bson_string_t *msg = bson_string_new(NULL);
    for (; docs_iter_next(&di, &d, &l); i++) {
        bson_t stmt, q, u;
        bool hq, hu;
        int code = 0;
        bson_string_truncate(msg, 0);
        bson_init_static(&stmt, d, l);
        bson_t tmp = BSON_INITIALIZER;
        if (opt_doc(&stmt, "q", &q, &hq, &tmp) || opt_doc(&stmt, "u", &u, &hu, &tmp) || !hq || !hu) {
            bson_destroy(&tmp);
            code = 2;
            bson_string_append(msg, bson_iter_init_find(&it, &stmt, "u") && BSON_ITER_HOLDS_ARRAY(&it)
                               ? "mno-test-mongod does not support pipeline-style updates"
                               : "an update statement needs q and u documents");
            goto stmt_err;
        }
        bson_destroy(&tmp);
        bool multi = bson_iter_init_find(&it, &stmt, "multi") && bson_iter_as_bool(&it);
        bool upsert = bson_iter_init_find(&it, &stmt, "upsert") && bson_iter_as_bool(&it);
        if (bson_iter_init_find(&it, &stmt, "arrayFilters") || bson_iter_init_find(&it, &stmt, "collation")) {
            code = 2;
            bson_string_append_printf(msg, "mno-test-mongod does not support update option '%s'", bson_iter_key(&it));
            goto stmt_err;
        }
        if ((code = match_check(&q, msg)) || (code = update_check(&u, msg)))
            goto stmt_err;
        mdb *db = store_db(r->db, upsert);
        mcoll *c = db ? store_coll(db, cn, upsert, NULL) : NULL;
        size_t n = 0;
        mdoc **docs = md_query(c, &q, false, multi ? SIZE_MAX : 1, &n);
        for (size_t k = 0; k < n && !code; k++) {
            bson_t old, nu = BSON_INITIALIZER;
            mdoc_bson(docs[k], &old);
            code = update_apply(&old, &u, &nu, msg);
            if (!code && !id_equal(&old, &nu)) {
                bson_iter_t ni;
                code = 66;
                bson_string_append(msg, "After applying the update, the (immutable) field '_id' was found to have been altered to _id: ");
                if (bson_iter_init_find(&ni, &nu, "_id"))
                    md_value_text(msg, &ni);
            }
            if (!code) {
                matched++;
                if (nu.len > MD_MAX_BSON) {
                    code = 17419;
                    bson_string_append_printf(msg, "Resulting document after update is larger than %d", MD_MAX_BSON);
                } else if (nu.len != old.len || memcmp(bson_get_data(&nu), bson_get_data(&old), old.len)) {
                    code = store_replace(db, c, docs[k], bson_get_data(&nu), nu.len, msg);
                    if (!code)
                        modified++;
                }
            }
            bson_destroy(&nu);
        }
        for (size_t k = 0; k < n; k++)
            mdoc_unref(docs[k]);
        free(docs);
        if (!code && n == 0 && upsert) {
            bson_t nu = BSON_INITIALIZER;
            code = update_upsert_doc(&q, &u, &nu, msg);
            if (!code)
                code = store_insert(db, c, bson_get_data(&nu), nu.len, msg);
            if (!code) {
                bson_iter_t idit;
                bson_t e;
                char kb[16];
                const char *key;
                bson_iter_init_find(&idit, &nu, "_id");
                bson_uint32_to_string(nups++, &key, kb, sizeof kb);
                bson_append_document_begin(&ups, key, -1, &e);
                BSON_APPEND_INT32(&e, "index", (int32_t)i);
                bson_append_iter(&e, "_id", 3, &idit);
                bson_append_document_end(&ups, &e);
                matched++;
            }
            bson_destroy(&nu);
        }
    stmt_err:
        if (code) {
            write_error(&errs, &nerr, i, code, msg->str);
            if (ordered)
                break;
        }
    }
    bson_string_free(msg, true);
    BSON_APPEND_INT32(reply, "n", (int32_t)matched);
    BSON_APPEND_INT32(reply, "nModified", (int32_t)modified);
    if (nups)
        BSON_APPEND_ARRAY(reply, "upserted", &ups);
    if (nerr)
        BSON_APPEND_ARRAY(reply, "writeErrors", &errs);
    bson_destroy(&errs);
    bson_destroy(&ups);
    return 0;
}

int cmd_delete(mreq *r, const char *name, bson_t *reply)
{
    docs_iter di;
    const uint8_t *d;
    uint32_t l, i = 0, nerr = 0;
    int64_t removed = 0;
    bson_iter_t it;
    const char *cn = first_string(r, reply);
    if (!cn)
        return -1;
    if (count_items(r, "deletes", name, reply, &di))
        return -1;
    bool ordered = !bson_iter_init_find(&it, r->body, "ordered") || bson_iter_as_bool(&it);
    bson_t errs = BSON_INITIALIZER;
    bson_string_t *msg = bson_string_new(NULL);
    for (; docs_iter_next(&di, &d, &l); i++) {
        bson_t stmt, q, tmp = BSON_INITIALIZER;
        bool hq;
        int code = 0;
        bson_string_truncate(msg, 0);
        bson_init_static(&stmt, d, l);
        int64_t limit = bson_iter_init_find(&it, &stmt, "limit") ? bson_iter_as_int64(&it) : -1;
        if (opt_doc(&stmt, "q", &q, &hq, &tmp) || !hq || (limit != 0 && limit != 1)) {
            code = 9;
            bson_string_append(msg, "a delete statement needs q and limit 0 or 1");
        } else if (bson_iter_init_find(&it, &stmt, "collation")) {
            code = 2;
            bson_string_append(msg, "mno-test-mongod does not support delete option 'collation'");
        } else
            code = match_check(&q, msg);
        bson_destroy(&tmp);
        if (!code) {
            mcoll *c = lookup(r, cn);
            size_t n = 0;
            mdoc **docs = md_query(c, &q, false, limit == 1 ? 1 : SIZE_MAX, &n);
            for (size_t k = 0; k < n; k++) {
                store_remove(c, docs[k]);
                mdoc_unref(docs[k]);
            }
            free(docs);
            removed += (int64_t)n;
        }
        if (code) {
            write_error(&errs, &nerr, i, code, msg->str);
            if (ordered)
                break;
        }
    }
    bson_string_free(msg, true);
    BSON_APPEND_INT32(reply, "n", (int32_t)removed);
    if (nerr)
        BSON_APPEND_ARRAY(reply, "writeErrors", &errs);
    bson_destroy(&errs);
    return 0;
}

/* ---- count, distinct ---- */

int cmd_count(mreq *r, const char *name, bson_t *reply)
{
    bson_t q;
    bool hq, hs, hl;
    int64_t skip = 0, limit = 0;
    (void)name;
    const char *cn = first_string(r, reply);
    if (!cn || opt_doc(r->body, "query", &q, &hq, reply) || opt_int(r->body, "skip", &skip, &hs, reply) ||
        opt_int(r->body, "limit", &limit, &hl, reply))
        return -1;
    bson_string_t *msg = bson_string_new(NULL);
    int code;
    if (hq && (code = match_check(&q, msg)))
        return fail_msg(reply, code, msg);
    bson_string_free(msg, true);
    mcoll *c = lookup(r, cn);
    int64_t n = 0;
    if (c && (!hq || bson_empty(&q))) {
        n = (int64_t)c->ids.count;
    } else if (c) {
        size_t k = 0;
        mdoc **docs = md_query(c, &q, false, SIZE_MAX, &k);
        for (size_t i = 0; i < k; i++)
            mdoc_unref(docs[i]);
        free(docs);
        n = (int64_t)k;
    }
    if (skip < 0)
        skip = 0;
    n = n > skip ? n - skip : 0;
    if (limit < 0)
        limit = -limit;
    if (limit > 0 && n > limit)
        n = limit;
    BSON_APPEND_INT32(reply, "n", (int32_t)n);
    return 0;
}

typedef struct vkey {
    uint32_t len;
    uint8_t data[];
} vkey;

static int vkey_cmp(const void *a, const void *b)
{
    const vkey *x = a, *y = b;
    return md_cmp_doc(x->data, x->len, y->data, y->len, true);
}

static void vkey_add(mtree *t, const bson_iter_t *v)
{
    bson_t b = BSON_INITIALIZER;
    bson_append_iter(&b, "v", 1, v);
    vkey *k = malloc(sizeof *k + b.len);
    k->len = b.len;
    memcpy(k->data, bson_get_data(&b), b.len);
    bson_destroy(&b);
    if (tree_insert(t, k))
        free(k);
}

typedef struct dctx {
    bson_t *arr;
    uint32_t i;
} dctx;

static bool vkey_out(void *key, void *arg)
{
    dctx *c = arg;
    vkey *k = key;
    bson_iter_t it;
    char kb[16];
    const char *s;
    bson_iter_init_from_data(&it, k->data, k->len);
    bson_iter_next(&it);
    size_t kl = bson_uint32_to_string(c->i++, &s, kb, sizeof kb);
    bson_append_iter(c->arr, s, (int)kl, &it);
    return true;
}

int cmd_distinct(mreq *r, const char *name, bson_t *reply)
{
    bson_t q;
    bool hq;
    bson_iter_t it;
    (void)name;
    const char *cn = first_string(r, reply);
    if (!cn || opt_doc(r->body, "query", &q, &hq, reply))
        return -1;
    if (!bson_iter_init_find(&it, r->body, "key") || !BSON_ITER_HOLDS_UTF8(&it)) {
        cmd_error(reply, 40414, NULL, "BSON field 'distinct.key' is missing but a required field");
        return -1;
    }
    const char *key = bson_iter_utf8(&it, NULL);
    bson_string_t *msg = bson_string_new(NULL);
    int code;
    if (hq && (code = match_check(&q, msg)))
        return fail_msg(reply, code, msg);
    bson_string_free(msg, true);
    mcoll *c = lookup(r, cn);
    size_t n = 0;
    mdoc **docs = md_query(c, hq ? &q : NULL, false, SIZE_MAX, &n);
    mtree t = { NULL, 0, vkey_cmp };
    for (size_t i = 0; i < n; i++) {
        bson_t b;
        bson_iter_t v;
        mdoc_bson(docs[i], &b);
        if (md_get_path(&b, key, &v)) {
            if (BSON_ITER_HOLDS_ARRAY(&v)) {
                bson_iter_t a;
                bson_iter_recurse(&v, &a);
                while (bson_iter_next(&a))
                    vkey_add(&t, &a);
            } else
                vkey_add(&t, &v);
        }
        mdoc_unref(docs[i]);
    }
    free(docs);
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(reply, "values", &arr);
    dctx dc = { &arr, 0 };
    tree_walk(&t, vkey_out, &dc, false);
    bson_append_array_end(reply, &arr);
    tree_clear(&t, free);
    return 0;
}
