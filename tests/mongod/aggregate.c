/* aggregate.c: aggregation pipelines: $match, $sort, $skip, $limit, $count, $group (field paths,
   constants, $sum/$avg/$min/$max/$first/$last/$count), $project (inclusion/exclusion). */
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

static const char *unsupported_stages[] = {
    "$addFields", "$set", "$unset", "$unwind", "$lookup", "$graphLookup", "$replaceRoot", "$replaceWith",
    "$facet", "$bucket", "$bucketAuto", "$sortByCount", "$sample", "$out", "$merge", "$geoNear",
    "$collStats", "$indexStats", "$redact", "$unionWith", "$densify", "$fill", "$setWindowFields",
    "$changeStream", "$currentOp", "$listSessions", "$planCacheStats", "$search", NULL
};

static const char *accumulators[] = { "$sum", "$avg", "$min", "$max", "$first", "$last", "$count", NULL };

typedef struct docs {
    mdoc **d;
    size_t n;
} docs;

/* ---- expressions: "$path", literals, documents of expressions ---- */

static int check_expr(const bson_iter_t *e, bson_string_t *msg)
{
    if (BSON_ITER_HOLDS_UTF8(e)) {
        const char *s = bson_iter_utf8(e, NULL);
        if (s[0] == '$' && (s[1] == '$' || s[1] == 0)) {
            bson_string_append_printf(msg, "mno-test-mongod does not support the expression '%s'", s);
            return 2;
        }
        return 0;
    }
    if (BSON_ITER_HOLDS_DOCUMENT(e)) {
        bson_iter_t c;
        bson_iter_recurse(e, &c);
        while (bson_iter_next(&c)) {
            if (bson_iter_key(&c)[0] == '$') {
                bson_string_append_printf(msg, "mno-test-mongod does not support the expression operator %s", bson_iter_key(&c));
                return 2;
            }
            int rc = check_expr(&c, msg);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (BSON_ITER_HOLDS_ARRAY(e)) {
        bson_string_append(msg, "mno-test-mongod does not support array expressions");
        return 2;
    }
    return 0;
}

/* Appends the value of e for doc as key; returns false (nothing appended) when missing. */
static bool eval_append(bson_t *out, const char *key, const bson_iter_t *e, const bson_t *doc)
{
    if (BSON_ITER_HOLDS_UTF8(e)) {
        const char *s = bson_iter_utf8(e, NULL);
        if (s[0] == '$') {
            bson_iter_t v;
            if (!md_get_path(doc, s + 1, &v))
                return false;
            bson_append_iter(out, key, -1, &v);
            return true;
        }
    }
    if (BSON_ITER_HOLDS_DOCUMENT(e)) {
        bson_t child;
        bson_iter_t c;
        bson_append_document_begin(out, key, -1, &child);
        bson_iter_recurse(e, &c);
        while (bson_iter_next(&c))
            eval_append(&child, bson_iter_key(&c), &c, doc);
        bson_append_document_end(out, &child);
        return true;
    }
    bson_append_iter(out, key, -1, e);
    return true;
}

/* ---- $group ---- */

typedef struct astate {
    int type;          /* $sum: 0 int32, 1 int64, 2 double */
    int64_t isum;
    double dsum;
    int64_t count;
    bool has;
    bson_value_t val;  /* $min/$max/$first/$last */
} astate;

typedef struct grp {
    uint8_t *key;      /* {"_id": value} */
    uint32_t klen;
    size_t order;
    astate *acc;
} grp;

static int grp_cmp(const void *a, const void *b)
{
    const grp *x = a, *y = b;
    return md_cmp_doc(x->key, x->klen, y->key, y->klen, true);
}

static void acc_add(astate *s, const char *op, const bson_iter_t *expr, const bson_t *doc)
{
    bson_t tmp = BSON_INITIALIZER;
    bson_iter_t v;
    bool present = false;
    if (strcmp(op, "$count")) {
        present = eval_append(&tmp, "v", expr, doc);
        if (present)
            bson_iter_init_find(&v, &tmp, "v");
    }
    if (!strcmp(op, "$count")) {
        s->type = s->type ? s->type : 0;
        s->isum++;
        if (s->isum > INT32_MAX)
            s->type = 1;
    } else if (!strcmp(op, "$sum") || !strcmp(op, "$avg")) {
        if (present && (BSON_ITER_HOLDS_NUMBER(&v) || BSON_ITER_HOLDS_DECIMAL128(&v))) {
            s->count++;
            if (BSON_ITER_HOLDS_DOUBLE(&v) || BSON_ITER_HOLDS_DECIMAL128(&v)) {
                if (s->type < 2)
                    s->dsum = (double)s->isum;
                s->type = 2;
                if (BSON_ITER_HOLDS_DOUBLE(&v))
                    s->dsum += bson_iter_double(&v);
                else {
                    bson_decimal128_t d;
                    char str[BSON_DECIMAL128_STRING];
                    bson_iter_decimal128(&v, &d);
                    bson_decimal128_to_string(&d, str);
                    s->dsum += strtod(str, NULL);
                }
            } else if (s->type == 2) {
                s->dsum += (double)bson_iter_as_int64(&v);
            } else {
                int64_t r;
                if (__builtin_add_overflow(s->isum, bson_iter_as_int64(&v), &r)) {
                    s->type = 2;
                    s->dsum = (double)s->isum + (double)bson_iter_as_int64(&v);
                } else {
                    s->isum = r;
                    if (BSON_ITER_HOLDS_INT64(&v) || r > INT32_MAX || r < INT32_MIN)
                        s->type = s->type < 1 ? 1 : s->type;
                }
            }
        }
    } else if (!strcmp(op, "$first")) {
        if (!s->has) {
            s->has = true;
            if (present)
                bson_value_copy(bson_iter_value(&v), &s->val);
            else
                s->val.value_type = BSON_TYPE_NULL;
        }
    } else if (!strcmp(op, "$last")) {
        if (s->has)
            bson_value_destroy(&s->val);
        s->has = true;
        if (present)
            bson_value_copy(bson_iter_value(&v), &s->val);
        else
            s->val.value_type = BSON_TYPE_NULL;
    } else { /* $min, $max: ignore null and missing */
        if (present && !BSON_ITER_HOLDS_NULL(&v) && !BSON_ITER_HOLDS_UNDEFINED(&v)) {
            bool better = !s->has;
            if (s->has) {
                bson_t cur = BSON_INITIALIZER;
                bson_iter_t ci;
                bson_append_value(&cur, "v", 1, &s->val);
                bson_iter_init_find(&ci, &cur, "v");
                int c = md_cmp_iter(&v, &ci);
                better = !strcmp(op, "$min") ? c < 0 : c > 0;
                bson_destroy(&cur);
            }
            if (better) {
                if (s->has)
                    bson_value_destroy(&s->val);
                bson_value_copy(bson_iter_value(&v), &s->val);
                s->has = true;
            }
        }
    }
    bson_destroy(&tmp);
}

static void acc_out(bson_t *out, const char *key, const char *op, astate *s)
{
    if (!strcmp(op, "$sum") || !strcmp(op, "$count")) {
        if (s->type == 2)
            bson_append_double(out, key, -1, s->dsum);
        else if (s->type == 1)
            bson_append_int64(out, key, -1, s->isum);
        else
            bson_append_int32(out, key, -1, (int32_t)s->isum);
    } else if (!strcmp(op, "$avg")) {
        if (!s->count)
            bson_append_null(out, key, -1);
        else
            bson_append_double(out, key, -1, (s->type == 2 ? s->dsum : (double)s->isum) / (double)s->count);
    } else if (s->has) {
        bson_append_value(out, key, -1, &s->val);
    } else {
        bson_append_null(out, key, -1);
    }
}

static int check_group(const bson_iter_t *st, bson_string_t *msg)
{
    bson_iter_t g;
    bool have_id = false;
    if (!BSON_ITER_HOLDS_DOCUMENT(st)) {
        bson_string_append(msg, "a group's fields must be specified in an object");
        return 15947;
    }
    bson_iter_recurse(st, &g);
    while (bson_iter_next(&g)) {
        const char *k = bson_iter_key(&g);
        int rc;
        if (!strcmp(k, "_id")) {
            have_id = true;
            if ((rc = check_expr(&g, msg)))
                return rc;
            continue;
        }
        bson_iter_t a;
        if (!BSON_ITER_HOLDS_DOCUMENT(&g) || !bson_iter_recurse(&g, &a) || !bson_iter_next(&a)) {
            bson_string_append_printf(msg, "The field '%s' must be an accumulator object", k);
            return 40234;
        }
        int i;
        for (i = 0; accumulators[i]; i++)
            if (!strcmp(bson_iter_key(&a), accumulators[i]))
                break;
        if (!accumulators[i]) {
            bson_string_append_printf(msg, "mno-test-mongod does not support the accumulator %s", bson_iter_key(&a));
            return 2;
        }
        if (strcmp(bson_iter_key(&a), "$count") && (rc = check_expr(&a, msg)))
            return rc;
    }
    if (!have_id) {
        bson_string_append(msg, "a group specification must include an _id");
        return 15955;
    }
    return 0;
}

static bool grp_collect(void *key, void *arg)
{
    grp **v = arg;
    grp *g = key;
    v[g->order] = g;
    return true;
}

static void run_group(const bson_iter_t *st, docs *in)
{
    bson_iter_t g, idexpr;
    size_t nacc = 0;
    bson_iter_recurse(st, &g);
    while (bson_iter_next(&g)) {
        if (!strcmp(bson_iter_key(&g), "_id"))
            idexpr = g;
        else
            nacc++;
    }
    mtree t = { NULL, 0, grp_cmp };
    for (size_t i = 0; i < in->n; i++) {
        bson_t doc, kb = BSON_INITIALIZER;
        mdoc_bson(in->d[i], &doc);
        if (!eval_append(&kb, "_id", &idexpr, &doc))
            bson_append_null(&kb, "_id", 3);
        grp probe = { (uint8_t *)bson_get_data(&kb), kb.len, 0, NULL };
        grp *gr = tree_find(&t, &probe);
        if (!gr) {
            gr = calloc(1, sizeof *gr);
            gr->key = malloc(kb.len);
            memcpy(gr->key, bson_get_data(&kb), kb.len);
            gr->klen = kb.len;
            gr->order = t.count;
            gr->acc = calloc(nacc ? nacc : 1, sizeof *gr->acc);
            tree_insert(&t, gr);
        }
        bson_destroy(&kb);
        size_t j = 0;
        bson_iter_recurse(st, &g);
        while (bson_iter_next(&g)) {
            if (!strcmp(bson_iter_key(&g), "_id"))
                continue;
            bson_iter_t a;
            bson_iter_recurse(&g, &a);
            bson_iter_next(&a);
            acc_add(&gr->acc[j++], bson_iter_key(&a), &a, &doc);
        }
        mdoc_unref(in->d[i]);
    }
    free(in->d);
    /* output in order of first appearance */
    size_t ng = t.count;
    grp **v = calloc(ng ? ng : 1, sizeof *v);
    tree_walk(&t, grp_collect, v, false);
    in->d = calloc(ng ? ng : 1, sizeof *in->d);
    in->n = ng;
    for (size_t i = 0; i < ng; i++) {
        bson_t out = BSON_INITIALIZER;
        bson_t key;
        bson_init_static(&key, v[i]->key, v[i]->klen);
        bson_concat(&out, &key);
        size_t j = 0;
        bson_iter_recurse(st, &g);
        while (bson_iter_next(&g)) {
            if (!strcmp(bson_iter_key(&g), "_id"))
                continue;
            bson_iter_t a;
            bson_iter_recurse(&g, &a);
            bson_iter_next(&a);
            acc_out(&out, bson_iter_key(&g), bson_iter_key(&a), &v[i]->acc[j]);
            if (v[i]->acc[j].has)
                bson_value_destroy(&v[i]->acc[j].val);
            j++;
        }
        in->d[i] = mdoc_any(bson_get_data(&out), out.len);
        bson_destroy(&out);
        free(v[i]->acc);
        free(v[i]->key);
        free(v[i]);
    }
    free(v);
    tree_clear(&t, NULL);
}

/* ---- the pipeline ---- */

static void keep(docs *in, size_t from, size_t to)
{
    for (size_t i = 0; i < from && i < in->n; i++)
        mdoc_unref(in->d[i]);
    for (size_t i = to; i < in->n; i++)
        mdoc_unref(in->d[i]);
    if (from > in->n)
        from = in->n;
    if (to > in->n)
        to = in->n;
    if (to < from)
        to = from;
    if (to > from && from > 0)
        memmove(in->d, in->d + from, (to - from) * sizeof *in->d);
    in->n = to - from;
}

static int check_stage(const bson_iter_t *stage, bson_string_t *msg)
{
    bson_iter_t s;
    if (!BSON_ITER_HOLDS_DOCUMENT(stage) || !bson_iter_recurse(stage, &s) || !bson_iter_next(&s)) {
        bson_string_append(msg, "A pipeline stage specification object must contain exactly one field.");
        return 40323;
    }
    const char *name = bson_iter_key(&s);
    bson_t sub;
    uint32_t l;
    const uint8_t *d;
    int rc = 0;
    if (!strcmp(name, "$match") || !strcmp(name, "$sort") || !strcmp(name, "$project")) {
        bool id_order, reverse;
        if (!BSON_ITER_HOLDS_DOCUMENT(&s)) {
            bson_string_append_printf(msg, "the %s stage specification must be an object", name);
            return 15959;
        }
        bson_iter_document(&s, &l, &d);
        bson_init_static(&sub, d, l);
        rc = !strcmp(name, "$match") ? match_check(&sub, msg)
           : !strcmp(name, "$sort") ? md_sort_check(&sub, &id_order, &reverse, msg)
           : md_project_check(&sub, msg);
        if (!rc && !strcmp(name, "$sort") && bson_empty(&sub)) {
            bson_string_append(msg, "$sort stage must have at least one sort key");
            rc = 15976;
        }
    } else if (!strcmp(name, "$limit") || !strcmp(name, "$skip")) {
        if (!BSON_ITER_HOLDS_NUMBER(&s) || bson_iter_as_int64(&s) < (name[2] == 'l' ? 1 : 0)) {
            bson_string_append_printf(msg, "invalid argument to %s stage", name);
            rc = 15958;
        }
    } else if (!strcmp(name, "$count")) {
        const char *f = BSON_ITER_HOLDS_UTF8(&s) ? bson_iter_utf8(&s, NULL) : NULL;
        if (!f || !*f || f[0] == '$' || strchr(f, '.')) {
            bson_string_append(msg, "the count field must be a non-empty string, not start with '$' and not contain '.'");
            rc = 40156;
        }
    } else if (!strcmp(name, "$group")) {
        rc = check_group(&s, msg);
    } else {
        for (int i = 0; unsupported_stages[i]; i++) {
            if (!strcmp(name, unsupported_stages[i])) {
                bson_string_append_printf(msg, "mno-test-mongod does not support the pipeline stage %s", name);
                return 2;
            }
        }
        bson_string_append_printf(msg, "Unrecognized pipeline stage name: '%s'", name);
        return 40324;
    }
    if (!rc && bson_iter_next(&s)) {
        bson_string_append(msg, "A pipeline stage specification object must contain exactly one field.");
        rc = 40323;
    }
    return rc;
}

static void run_stage(const bson_iter_t *stage, docs *in)
{
    bson_iter_t s;
    bson_t sub;
    uint32_t l;
    const uint8_t *d;
    bson_iter_recurse(stage, &s);
    bson_iter_next(&s);
    const char *name = bson_iter_key(&s);
    if (BSON_ITER_HOLDS_DOCUMENT(&s)) {
        bson_iter_document(&s, &l, &d);
        bson_init_static(&sub, d, l);
    }
    if (!strcmp(name, "$match")) {
        size_t k = 0;
        for (size_t i = 0; i < in->n; i++) {
            bson_t b;
            mdoc_bson(in->d[i], &b);
            if (match_doc(&sub, &b))
                in->d[k++] = in->d[i];
            else
                mdoc_unref(in->d[i]);
        }
        in->n = k;
    } else if (!strcmp(name, "$sort")) {
        md_sort_docs(&sub, in->d, in->n);
    } else if (!strcmp(name, "$limit")) {
        keep(in, 0, (size_t)bson_iter_as_int64(&s));
    } else if (!strcmp(name, "$skip")) {
        keep(in, (size_t)bson_iter_as_int64(&s), in->n);
    } else if (!strcmp(name, "$count")) {
        size_t n = in->n;
        keep(in, 0, 0);
        if (n) {
            bson_t out = BSON_INITIALIZER;
            if (n > INT32_MAX)
                bson_append_int64(&out, bson_iter_utf8(&s, NULL), -1, (int64_t)n);
            else
                bson_append_int32(&out, bson_iter_utf8(&s, NULL), -1, (int32_t)n);
            in->d = realloc(in->d, sizeof *in->d);
            in->d[0] = mdoc_any(bson_get_data(&out), out.len);
            in->n = 1;
            bson_destroy(&out);
        }
    } else if (!strcmp(name, "$project")) {
        for (size_t i = 0; i < in->n; i++) {
            bson_t b, out = BSON_INITIALIZER;
            mdoc_bson(in->d[i], &b);
            md_project(&sub, &b, &out);
            mdoc_unref(in->d[i]);
            in->d[i] = mdoc_any(bson_get_data(&out), out.len);
            bson_destroy(&out);
        }
    } else if (!strcmp(name, "$group")) {
        run_group(&s, in);
    }
}

int cmd_aggregate(mreq *r, const char *name, bson_t *reply)
{
    bson_iter_t it, p, cur;
    bson_string_t *msg;
    int64_t batch = 101;
    (void)name;
    bson_iter_init(&it, r->body);
    bson_iter_next(&it);
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
        cmd_error(reply, 2, "BadValue", "mno-test-mongod does not support database-level aggregation");
        return -1;
    }
    const char *cn = bson_iter_utf8(&it, NULL);
    if (!bson_iter_init_find(&p, r->body, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&p)) {
        cmd_error(reply, 14, "TypeMismatch", "'pipeline' option must be specified as an array");
        return -1;
    }
    if (bson_iter_init_find(&it, r->body, "explain") && bson_iter_as_bool(&it)) {
        cmd_error(reply, 2, "BadValue", "mno-test-mongod does not support explain");
        return -1;
    }
    if (!bson_iter_init_find(&cur, r->body, "cursor") || !BSON_ITER_HOLDS_DOCUMENT(&cur)) {
        cmd_error(reply, 9, "FailedToParse", "The 'cursor' option is required, except for aggregate with the explain argument");
        return -1;
    }
    bson_iter_t c2;
    bson_iter_recurse(&cur, &c2);
    if (bson_iter_find(&c2, "batchSize") && BSON_ITER_HOLDS_NUMBER(&c2))
        batch = bson_iter_as_int64(&c2);
    if (batch < 0) {
        cmd_error(reply, 51024, NULL, "BSON field 'batchSize' value must be >= 0");
        return -1;
    }
    msg = bson_string_new(NULL);
    bson_iter_t st;
    bson_iter_recurse(&p, &st);
    while (bson_iter_next(&st)) {
        int code = check_stage(&st, msg);
        if (code) {
            cmd_error(reply, code, code == 2 ? "BadValue" : NULL, "%s", msg->str);
            bson_string_free(msg, true);
            return -1;
        }
    }
    bson_string_free(msg, true);

    mdb *db = store_db(r->db, false);
    mcoll *c = db ? store_coll(db, cn, false, NULL) : NULL;
    docs in = { NULL, 0 };
    /* a leading $match filters while scanning */
    bson_iter_recurse(&p, &st);
    bool first_match = false;
    bson_t filter;
    if (bson_iter_next(&st)) {
        bson_iter_t s;
        bson_iter_recurse(&st, &s);
        bson_iter_next(&s);
        if (!strcmp(bson_iter_key(&s), "$match")) {
            uint32_t l;
            const uint8_t *d;
            bson_iter_document(&s, &l, &d);
            bson_init_static(&filter, d, l);
            first_match = true;
        }
    }
    in.d = md_query(c, first_match ? &filter : NULL, false, SIZE_MAX, &in.n);
    bson_iter_recurse(&p, &st);
    if (first_match)
        bson_iter_next(&st);
    while (bson_iter_next(&st))
        run_stage(&st, &in);
    char *ns = bson_strdup_printf("%s.%s", r->db, cn);
    mcursor *mc = cursor_new(ns, in.d, in.n);
    bson_free(ns);
    cursor_reply(mc, reply, batch, true, false, SIZE_MAX);
    return 0;
}
