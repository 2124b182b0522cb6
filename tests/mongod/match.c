/* match.c: query filters ({a: v}, $eq..$nin, $exists, $type, $size, $all, $and/$or/$nor, $not),
   with MongoDB's dotted paths and array element matching. */
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

enum op { OP_NEVER, OP_EQ, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_TYPE, OP_SIZE };

typedef struct pred {
    enum op op;
    const bson_iter_t *v; /* the operand */
} pred;

static const char *unsupported_ops[] = {
    "$regex", "$options", "$elemMatch", "$mod", "$where", "$expr", "$text", "$jsonSchema",
    "$geoWithin", "$geoIntersects", "$near", "$nearSphere", "$bitsAllSet", "$bitsAllClear",
    "$bitsAnySet", "$bitsAnyClear", "$comment", NULL
};

bool md_get_path(const bson_t *doc, const char *path, bson_iter_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return false;
    if (!strchr(path, '.'))
        return bson_iter_find(&it, path) ? (*out = it, true) : false;
    return bson_iter_find_descendant(&it, path, out);
}

/* ---- checking ---- */

static int check_value_ops(const bson_iter_t *opdoc, bson_string_t *msg);

static int unsupported(const char *op, bson_string_t *msg)
{
    for (int i = 0; unsupported_ops[i]; i++) {
        if (!strcmp(op, unsupported_ops[i])) {
            bson_string_append_printf(msg, "mno-test-mongod does not support the query operator %s", op);
            return 2;
        }
    }
    bson_string_append_printf(msg, "unknown operator: %s", op);
    return 2;
}

static bool is_operator_doc(const bson_iter_t *v)
{
    bson_iter_t c;
    if (!BSON_ITER_HOLDS_DOCUMENT(v) || !bson_iter_recurse(v, &c) || !bson_iter_next(&c))
        return false;
    return bson_iter_key(&c)[0] == '$';
}

static int check_value_ops(const bson_iter_t *opdoc, bson_string_t *msg)
{
    bson_iter_t c;
    bson_iter_recurse(opdoc, &c);
    while (bson_iter_next(&c)) {
        const char *k = bson_iter_key(&c);
        if (k[0] != '$') {
            bson_string_append_printf(msg, "unknown operator: %s", k);
            return 2;
        }
        if (BSON_ITER_HOLDS_REGEX(&c) && strcmp(k, "$not")) {
            bson_string_append(msg, "mno-test-mongod does not support regular expressions in queries");
            return 2;
        }
        if (!strcmp(k, "$eq") || !strcmp(k, "$ne") || !strcmp(k, "$gt") || !strcmp(k, "$gte") ||
            !strcmp(k, "$lt") || !strcmp(k, "$lte"))
            continue;
        if (!strcmp(k, "$exists"))
            continue;
        if (!strcmp(k, "$in") || !strcmp(k, "$nin") || !strcmp(k, "$all")) {
            bson_iter_t a;
            if (!BSON_ITER_HOLDS_ARRAY(&c)) {
                bson_string_append_printf(msg, "%s needs an array", k);
                return 2;
            }
            bson_iter_recurse(&c, &a);
            while (bson_iter_next(&a)) {
                if (BSON_ITER_HOLDS_REGEX(&a)) {
                    bson_string_append(msg, "mno-test-mongod does not support regular expressions in queries");
                    return 2;
                }
                if (is_operator_doc(&a)) {
                    bson_string_append_printf(msg, "cannot nest $ under %s", k);
                    return 2;
                }
            }
            continue;
        }
        if (!strcmp(k, "$size")) {
            if (!BSON_ITER_HOLDS_NUMBER(&c)) {
                bson_string_append(msg, "$size needs a number");
                return 2;
            }
            continue;
        }
        if (!strcmp(k, "$type")) {
            if (!BSON_ITER_HOLDS_NUMBER(&c) && !BSON_ITER_HOLDS_UTF8(&c)) {
                bson_string_append(msg, "mno-test-mongod supports $type with one type (a number or alias)");
                return 2;
            }
            continue;
        }
        if (!strcmp(k, "$not")) {
            if (!BSON_ITER_HOLDS_DOCUMENT(&c)) {
                bson_string_append(msg, "$not needs a regex or a document");
                return 2;
            }
            int rc = check_value_ops(&c, msg);
            if (rc)
                return rc;
            continue;
        }
        return unsupported(k, msg);
    }
    return 0;
}

int match_check(const bson_t *filter, bson_string_t *msg)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, filter)) {
        bson_string_append(msg, "invalid filter");
        return 2;
    }
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (k[0] == '$') {
            if (!strcmp(k, "$and") || !strcmp(k, "$or") || !strcmp(k, "$nor")) {
                bson_iter_t a;
                if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &a)) {
                    bson_string_append_printf(msg, "%s must be an array", k);
                    return 2;
                }
                int n = 0;
                while (bson_iter_next(&a)) {
                    uint32_t l;
                    const uint8_t *d;
                    bson_t sub;
                    if (!BSON_ITER_HOLDS_DOCUMENT(&a)) {
                        bson_string_append_printf(msg, "$or/$and/$nor entries need to be full objects");
                        return 2;
                    }
                    bson_iter_document(&a, &l, &d);
                    bson_init_static(&sub, d, l);
                    int rc = match_check(&sub, msg);
                    if (rc)
                        return rc;
                    n++;
                }
                if (!n) {
                    bson_string_append(msg, "$and/$or/$nor must be a nonempty array");
                    return 2;
                }
                continue;
            }
            if (!strcmp(k, "$comment"))
                continue;
            for (int i = 0; unsupported_ops[i]; i++) {
                if (!strcmp(k, unsupported_ops[i])) {
                    bson_string_append_printf(msg, "mno-test-mongod does not support the query operator %s", k);
                    return 2;
                }
            }
            bson_string_append_printf(msg, "unknown top level operator: %s", k);
            return 2;
        }
        if (BSON_ITER_HOLDS_REGEX(&it)) {
            bson_string_append(msg, "mno-test-mongod does not support regular expressions in queries");
            return 2;
        }
        if (is_operator_doc(&it)) {
            int rc = check_value_ops(&it, msg);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* ---- matching ---- */

static int type_code(const bson_iter_t *v, bool *number)
{
    *number = false;
    if (BSON_ITER_HOLDS_NUMBER(v) || BSON_ITER_HOLDS_DECIMAL128(v))
        return (int)bson_iter_as_int64(v);
    static const struct { const char *n; int c; } names[] = {
        {"double", 1}, {"string", 2}, {"object", 3}, {"array", 4}, {"binData", 5},
        {"undefined", 6}, {"objectId", 7}, {"bool", 8}, {"date", 9}, {"null", 10},
        {"regex", 11}, {"dbPointer", 12}, {"javascript", 13}, {"symbol", 14},
        {"javascriptWithScope", 15}, {"int", 16}, {"timestamp", 17}, {"long", 18},
        {"decimal", 19}, {"minKey", -1}, {"maxKey", 127}, {NULL, 0}
    };
    const char *s = bson_iter_utf8(v, NULL);
    if (!strcmp(s, "number")) {
        *number = true;
        return 0;
    }
    for (int i = 0; names[i].n; i++)
        if (!strcmp(s, names[i].n))
            return names[i].c;
    return -1000;
}

static bool eq_value(const bson_iter_t *x, const bson_iter_t *v)
{
    if (!x) /* missing matches null */
        return bson_iter_type(v) == BSON_TYPE_NULL;
    if (bson_iter_type(v) == BSON_TYPE_NULL)
        return bson_iter_type(x) == BSON_TYPE_NULL || bson_iter_type(x) == BSON_TYPE_UNDEFINED;
    return md_canon_type(bson_iter_type(x)) == md_canon_type(bson_iter_type(v)) && md_cmp_iter(x, v) == 0;
}

/* ---- $in over many values: sorted once, then binary search ---- */

/* One $in list, sorted in BSON order; kept while the same list comes back (each document of a
   query tests the same filter bytes). Only used under md_lock. */
static struct {
    uint8_t *bytes;      /* a copy of the array's bytes: the key */
    uint32_t len;
    md_iter_slot *vals;  /* iterators into bytes, sorted */
    size_t n;
    bool has_null;
} in_cache;

static int iter_cmp(const void *a, const void *b)
{
    return md_cmp_iter(&((const md_iter_slot *)a)->it, &((const md_iter_slot *)b)->it);
}

static bool in_cache_load(const bson_iter_t *v)
{
    uint32_t len;
    const uint8_t *data;
    bson_iter_array(v, &len, &data);
    if (in_cache.bytes && in_cache.len == len && !memcmp(in_cache.bytes, data, len))
        return true;
    free(in_cache.bytes);
    free(in_cache.vals);
    memset(&in_cache, 0, sizeof in_cache);
    in_cache.bytes = malloc(len);
    if (!in_cache.bytes)
        return false;
    memcpy(in_cache.bytes, data, len);
    in_cache.len = len;
    bson_iter_t a;
    size_t cap = 0;
    if (!bson_iter_init_from_data(&a, in_cache.bytes, len))
        return false;
    while (bson_iter_next(&a)) {
        if (bson_iter_type(&a) == BSON_TYPE_NULL) {
            in_cache.has_null = true;
            continue;
        }
        if (in_cache.n == cap) {
            cap = cap ? cap * 2 : 64;
            in_cache.vals = md_iter_array_grow(in_cache.vals, in_cache.n, cap, sizeof *in_cache.vals);
        }
        in_cache.vals[in_cache.n++].it = a;
    }
    if (in_cache.n)
        qsort(in_cache.vals, in_cache.n, sizeof *in_cache.vals, iter_cmp);
    return true;
}

/* x (NULL: missing) equals one of the values of the array v (many values). -1: not usable. */
static int in_many(const bson_iter_t *x, const bson_iter_t *v)
{
    if (!in_cache_load(v))
        return -1;
    if (!x || bson_iter_type(x) == BSON_TYPE_NULL || bson_iter_type(x) == BSON_TYPE_UNDEFINED)
        return in_cache.has_null;
    size_t lo = 0, hi = in_cache.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = md_cmp_iter(x, &in_cache.vals[mid].it);
        if (!c)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* Tests one candidate value (NULL: missing). */
static bool pred_test(const pred *p, const bson_iter_t *x)
{
    const bson_iter_t *v = p->v;
    switch (p->op) {
    case OP_NEVER:
        return false;
    case OP_EQ:
        return eq_value(x, v);
    case OP_GT: case OP_GTE: case OP_LT: case OP_LTE: {
        if (!x || bson_iter_type(x) == BSON_TYPE_NULL) {
            bool vnull = bson_iter_type(v) == BSON_TYPE_NULL;
            return vnull && (p->op == OP_GTE || p->op == OP_LTE);
        }
        bson_type_t vt = bson_iter_type(v);
        if (vt != BSON_TYPE_MINKEY && vt != BSON_TYPE_MAXKEY &&
            md_canon_type(bson_iter_type(x)) != md_canon_type(vt))
            return false;
        int c = md_cmp_iter(x, v);
        return p->op == OP_GT ? c > 0 : p->op == OP_GTE ? c >= 0 : p->op == OP_LT ? c < 0 : c <= 0;
    }
    case OP_IN: {
        bson_iter_t a;
        uint32_t alen;
        const uint8_t *adata;
        bson_iter_array(v, &alen, &adata);
        if (alen > 128) { /* more than a few values */
            int r = in_many(x, v);
            if (r >= 0)
                return r;
        }
        bson_iter_recurse(v, &a);
        while (bson_iter_next(&a))
            if (eq_value(x, &a))
                return true;
        return false;
    }
    case OP_TYPE: {
        bool number;
        int code = type_code(v, &number);
        if (!x)
            return false;
        if (number)
            return md_canon_type(bson_iter_type(x)) == 10;
        return (int)bson_iter_type(x) == (code == -1 ? 0xff : code);
    }
    case OP_SIZE: {
        bson_iter_t a;
        int64_t n = 0;
        if (!x || !BSON_ITER_HOLDS_ARRAY(x))
            return false;
        bson_iter_recurse(x, &a);
        while (bson_iter_next(&a))
            n++;
        return n == bson_iter_as_int64(v);
    }
    }
    return false;
}

static bool is_index(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Calls pred on each value at path under the container it (document or array contents);
   *seen is set when some value exists. Returns true on the first match. leaf_arrays: also test
   each element of an array found at the end of the path. */
static bool walk(bson_iter_t *container, const char *path, const pred *p, bool *seen, bool expand)
{
    const char *dot = strchr(path, '.');
    size_t hl = dot ? (size_t)(dot - path) : strlen(path);
    char head[256];
    char *hp = hl < sizeof head ? head : malloc(hl + 1);
    memcpy(hp, path, hl);
    hp[hl] = 0;
    bool r = false, found = false;
    bson_iter_t it = *container;
    while (bson_iter_next(&it)) {
        if (strcmp(bson_iter_key(&it), hp))
            continue;
        found = true;
        if (!dot) {
            *seen = true;
            if (pred_test(p, &it)) {
                r = true;
                break;
            }
            if (expand && BSON_ITER_HOLDS_ARRAY(&it)) {
                bson_iter_t a;
                bson_iter_recurse(&it, &a);
                while (bson_iter_next(&a)) {
                    if (pred_test(p, &a)) {
                        r = true;
                        break;
                    }
                }
            }
        } else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_iter_t sub;
            bson_iter_recurse(&it, &sub);
            r = walk(&sub, dot + 1, p, seen, expand);
        } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t sub, el;
            const char *rest = dot + 1;
            const char *rdot = strchr(rest, '.');
            size_t rl = rdot ? (size_t)(rdot - rest) : strlen(rest);
            char rhead[32];
            bool numeric = rl < sizeof rhead && (memcpy(rhead, rest, rl), rhead[rl] = 0, is_index(rhead));
            bson_iter_recurse(&it, &sub);
            if (numeric)
                r = walk(&sub, rest, p, seen, expand);
            el = sub;
            while (!r && bson_iter_next(&el)) {
                if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
                    bson_iter_t d;
                    bool s2 = false;
                    bson_iter_recurse(&el, &d);
                    r = walk(&d, rest, p, &s2, expand);
                    if (s2)
                        *seen = true;
                    else if (!numeric && pred_test(p, NULL))
                        r = true; /* an element without the field counts as missing */
                }
            }
        } else if (pred_test(p, NULL)) {
            r = true; /* a scalar on the way: the path is missing */
        }
        break;
    }
    if (!found && !r && pred_test(p, NULL))
        r = true;
    if (hp != head)
        free(hp);
    return r;
}

static bool path_match(const bson_t *doc, const char *path, const pred *p, bool *seen)
{
    bson_iter_t it;
    bool s = false;
    if (!seen)
        seen = &s;
    if (!bson_iter_init(&it, doc))
        return false;
    return walk(&it, path, p, seen, true);
}

static bool exists(const bson_t *doc, const char *path)
{
    /* a predicate that never matches, to learn whether any value is there */
    bool seen = false;
    pred p = { OP_NEVER, NULL };
    path_match(doc, path, &p, &seen);
    return seen;
}

static bool match_ops(const bson_t *doc, const char *path, bson_iter_t *opdoc)
{
    bson_iter_t c;
    bson_iter_recurse(opdoc, &c);
    while (bson_iter_next(&c)) {
        const char *k = bson_iter_key(&c);
        pred p = { OP_EQ, &c };
        bool neg = false, r;
        if (!strcmp(k, "$eq"))
            p.op = OP_EQ;
        else if (!strcmp(k, "$ne"))
            p.op = OP_EQ, neg = true;
        else if (!strcmp(k, "$gt"))
            p.op = OP_GT;
        else if (!strcmp(k, "$gte"))
            p.op = OP_GTE;
        else if (!strcmp(k, "$lt"))
            p.op = OP_LT;
        else if (!strcmp(k, "$lte"))
            p.op = OP_LTE;
        else if (!strcmp(k, "$in"))
            p.op = OP_IN;
        else if (!strcmp(k, "$nin"))
            p.op = OP_IN, neg = true;
        else if (!strcmp(k, "$type"))
            p.op = OP_TYPE;
        else if (!strcmp(k, "$size"))
            p.op = OP_SIZE;
        else if (!strcmp(k, "$exists")) {
            if (exists(doc, path) != bson_iter_as_bool(&c))
                return false;
            continue;
        } else if (!strcmp(k, "$not")) {
            if (match_ops(doc, path, &c))
                return false;
            continue;
        } else if (!strcmp(k, "$all")) {
            bson_iter_t a;
            bson_iter_recurse(&c, &a);
            bool any = false;
            while (bson_iter_next(&a)) {
                pred q = { OP_EQ, &a };
                any = true;
                if (!path_match(doc, path, &q, NULL))
                    return false;
            }
            if (!any)
                return false;
            continue;
        } else
            return false; /* refused by match_check */
        if (p.op == OP_SIZE) {
            /* $size tests the array itself, not its elements */
            bson_iter_t it;
            bson_t d2 = *doc;
            if (!md_get_path(&d2, path, &it) || !pred_test(&p, &it))
                return false;
            continue;
        }
        r = path_match(doc, path, &p, NULL);
        if (r == neg)
            return false;
    }
    return true;
}

bool match_doc(const bson_t *filter, const bson_t *doc)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, filter))
        return false;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (k[0] == '$') {
            if (!strcmp(k, "$comment"))
                continue;
            bool is_and = !strcmp(k, "$and"), is_or = !strcmp(k, "$or");
            bson_iter_t a;
            bson_iter_recurse(&it, &a);
            bool any = false;
            while (bson_iter_next(&a)) {
                uint32_t l;
                const uint8_t *d;
                bson_t sub;
                bson_iter_document(&a, &l, &d);
                bson_init_static(&sub, d, l);
                bool m = match_doc(&sub, doc);
                if (is_and && !m)
                    return false;
                if (!is_and && m) {
                    any = true;
                    break;
                }
            }
            if (is_or && !any)
                return false;
            if (!is_and && !is_or && any) /* $nor */
                return false;
            continue;
        }
        if (is_operator_doc(&it)) {
            if (!match_ops(doc, k, &it))
                return false;
        } else {
            pred p = { OP_EQ, &it };
            if (!path_match(doc, k, &p, NULL))
                return false;
        }
    }
    return true;
}
