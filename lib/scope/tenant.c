/* tenant.c: a tenant's records out of a whole archive, in one pass: the scope rules of lib/engine/pg/engine_pg_dump.c (root, parent with its guard, uids text and json, global, skip) and lib/engine/mongo/engine_mongo_dump.c (match FIELD in org_uids) applied to each record, the kept parents' values remembered for their children. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "buf.h"
#include "filter.h"
#include "tenant.h"

/* The values of one parent column (NS.COL) in the kept records: a set of strings. */
typedef struct keyset {
    char *ns, *col;
    json_t *set;          /* value -> true (jansson's hash table) */
    int done;             /* its section was read (a later begin of NS is out of order) */
    int used;             /* a child read it */
} keyset;

struct mno_tenant {
    const mno_scope *scope;
    char *tenant;
    json_t *uids;         /* org_uids as a set */
    keyset *ks;
    size_t nks;
    size_t nkeys, bytes;
    /* the open section */
    const mno_section *sec;
    size_t rules[64];
    size_t nrules;
    long cols[64];        /* per rule: its column (pg) */
    long guard[64];       /* per rule: its guard column, or -1 */
    keyset *ref[64];      /* per rule: the parent's set */
    keyset *rem[64];      /* the sets this section fills */
    long remcol[64];
    size_t nrem;
    int global;
    mno_buf tmp;
};

static keyset *find_ks(mno_tenant *t, const char *ns, const char *col)
{
    for (size_t i = 0; i < t->nks; i++)
        if (strcmp(t->ks[i].ns, ns) == 0 && strcmp(t->ks[i].col, col) == 0)
            return &t->ks[i];
    return NULL;
}

mno_tenant *mno_tenant_new(const mno_scope *scope, const char *tenant, char *const *uids, size_t nuids)
{
    mno_tenant *t = calloc(1, sizeof *t);
    if (!t || !(t->tenant = strdup(tenant)) || !(t->uids = json_object()))
        goto fail;
    t->scope = scope;
    for (size_t i = 0; i < nuids; i++)
        if (json_object_set_new(t->uids, uids[i], json_true()) < 0)
            goto fail;
    /* a set per parent column a rule refers to */
    for (size_t i = 0; i < scope->n; i++) {
        const mno_scope_rule *r = &scope->rules[i];
        if ((r->kind != MNO_SCOPE_PARENT && r->kind != MNO_SCOPE_UIDS) || find_ks(t, r->ref_ns, r->ref_col))
            continue;
        keyset *k = realloc(t->ks, (t->nks + 1) * sizeof *k);
        if (!k)
            goto fail;
        t->ks = k;
        k = &t->ks[t->nks++];
        memset(k, 0, sizeof *k);
        k->ns = strdup(r->ref_ns);
        k->col = strdup(r->ref_col);
        k->set = json_object();
        if (!k->ns || !k->col || !k->set)
            goto fail;
    }
    return t;
fail:
    mno_tenant_free(t);
    return NULL;
}

void mno_tenant_free(mno_tenant *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nks; i++) {
        free(t->ks[i].ns);
        free(t->ks[i].col);
        json_decref(t->ks[i].set);
    }
    free(t->ks);
    json_decref(t->uids);
    free(t->tenant);
    mno_buf_release(&t->tmp);
    free(t);
}

size_t mno_tenant_keys(const mno_tenant *t, size_t *bytes)
{
    if (bytes)
        *bytes = t->bytes;
    return t->nkeys;
}

static long col_index(const mno_section *s, const char *name)
{
    for (size_t c = 0; c < s->ncols; c++)
        if (strcmp(s->colnames[c], name) == 0)
            return (long)c;
    return -1;
}

/* The name a scope rule gives the section: PostgreSQL the ns, MongoDB the collection. */
static const char *scope_name(const mno_section *s)
{
    if (s->engine == MNO_ENGINE_MONGO) {
        const char *dot = strchr(s->ns, '.');
        return dot ? dot + 1 : s->ns;
    }
    return s->ns;
}

int mno_tenant_begin(mno_tenant *t, const mno_section *sec, mno_error *e)
{
    const mno_scope *sc = t->scope;
    const char *name = scope_name(sec);
    size_t n = mno_scope_find(sc, name, t->rules, 64);
    t->sec = sec;
    t->nrules = 0;
    t->nrem = 0;
    t->global = 0;
    if (n == 0)
        return mno_err(e, MNO_E_SCOPE, sc->file, 0, NULL,
                       "%s is not in the scope file (mno-dump places such a table by its declared foreign "
                       "keys, which an archive does not carry: add a rule for it)", sec->ns);
    if (n > 64)
        return mno_err(e, MNO_E_SCOPE, sc->file, sc->rules[t->rules[0]].line, NULL, "%s: more than 64 rules", name);
    /* the sets this section's kept records fill; a child read one already: out of order */
    for (size_t i = 0; i < t->nks; i++) {
        keyset *k = &t->ks[i];
        if (strcmp(k->ns, sec->ns) != 0)
            continue;
        if (k->used)
            return mno_err(e, MNO_E_SCOPE, sc->file, 0, NULL,
                           "section %s comes after a section whose rule refers to it: the archive is not parents first",
                           sec->ns);
        long c = sec->engine == MNO_ENGINE_PG ? col_index(sec, k->col) : -1;
        if (c < 0)
            return mno_err(e, MNO_E_SCOPE, sc->file, 0, NULL, "a rule refers to %s.%s: section %s has no column %s",
                           k->ns, k->col, sec->ns, k->col);
        t->remcol[t->nrem] = c;
        t->rem[t->nrem++] = k;
        k->done = 1;
    }
    const mno_scope_rule *r0 = &sc->rules[t->rules[0]];
    if (r0->kind == MNO_SCOPE_SKIP)
        return MNO_FILTER_DROP;
    if (r0->kind == MNO_SCOPE_GLOBAL) {
        t->global = 1;
        return t->nrem ? MNO_FILTER_SCAN_KEEP : MNO_FILTER_COPY;
    }
    for (size_t i = 0; i < n; i++) {
        const mno_scope_rule *r = &sc->rules[t->rules[i]];
        int mongo = sec->engine == MNO_ENGINE_MONGO;
        if (mongo != (r->kind == MNO_SCOPE_MATCH) || r->kind == MNO_SCOPE_GLOBAL || r->kind == MNO_SCOPE_SKIP)
            return mno_err(e, MNO_E_SCOPE, sc->file, r->line, NULL, "%s: rule '%s' does not apply to a %s %s", name,
                           mno_scope_kind_name(r->kind), mongo ? "mongodb" : "postgresql", mongo ? "collection" : "table");
        t->cols[i] = -1;
        t->guard[i] = -1;
        t->ref[i] = NULL;
        if (!mongo && r->kind != MNO_SCOPE_ROOT) {
            if ((t->cols[i] = col_index(sec, r->cols[0])) < 0)
                return mno_err(e, MNO_E_SCOPE, sc->file, r->line, NULL, "%s: no column %s", name, r->cols[0]);
            if (r->guard_col && (t->guard[i] = col_index(sec, r->guard_col)) < 0)
                return mno_err(e, MNO_E_SCOPE, sc->file, r->line, NULL, "%s: no column %s", name, r->guard_col);
            t->ref[i] = find_ks(t, r->ref_ns, r->ref_col);
            t->ref[i]->used = 1;
        }
        if (!mongo && r->kind == MNO_SCOPE_ROOT)
            for (size_t c = 0; c < r->ncols; c++)
                if (col_index(sec, r->cols[c]) < 0)
                    return mno_err(e, MNO_E_SCOPE, sc->file, r->line, NULL, "%s: no column %s", name, r->cols[c]);
    }
    t->nrules = n;
    return MNO_FILTER_SCAN_PICK;
}

static int in_set(const json_t *set, const char *s, size_t n, mno_buf *tmp)
{
    mno_buf_reset(tmp);
    if (mno_buf_add(tmp, s, n) < 0 || mno_buf_addc(tmp, 0) < 0)
        return 0;
    return json_object_get(set, tmp->data) != NULL;
}

/* uids text: a token of the value (split on [^A-Za-z0-9_-]+) in the set. */
static int uids_text(const char *v, size_t n, const json_t *set, mno_buf *tmp)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && ((v[j] >= 'a' && v[j] <= 'z') || (v[j] >= 'A' && v[j] <= 'Z') || (v[j] >= '0' && v[j] <= '9') ||
                         v[j] == '_' || v[j] == '-'))
            j++;
        if (j > i && in_set(set, v + i, j - i, tmp))
            return 1;
        i = j + 1;
    }
    return 0;
}

/* uids json: (COL as jsonb) #> path, an array (its string elements) or a string, in the set.
   Returns 1, 0, or -1 when the value is not JSON (the dump's query fails there too). */
static int uids_json(const mno_scope_rule *r, const char *type, const char *v, size_t n, const json_t *set, mno_buf *tmp)
{
    json_error_t je;
    if (strcmp(type, "json") != 0 && strcmp(type, "jsonb") != 0) {
        /* text holding JSON: NULLIF(btrim(COL), '') */
        while (n && *v == ' ')
            v++, n--;
        while (n && v[n - 1] == ' ')
            n--;
        if (!n)
            return 0;
    }
    json_t *doc = json_loadb(v, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!doc)
        return -1;
    json_t *cur = doc;
    for (size_t i = 0; cur && i < r->npath; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, r->path[i]);
        } else if (json_is_array(cur)) {
            char *end;
            long k = strtol(r->path[i], &end, 10);
            if (!*r->path[i] || *end)
                cur = NULL;
            else {
                if (k < 0)
                    k += (long)json_array_size(cur);
                cur = k < 0 ? NULL : json_array_get(cur, (size_t)k);
            }
        } else {
            cur = NULL;
        }
    }
    int hit = 0;
    if (json_is_string(cur)) {
        hit = in_set(set, json_string_value(cur), json_string_length(cur), tmp);
    } else if (json_is_array(cur)) {
        size_t i;
        json_t *el;
        json_array_foreach(cur, i, el)
            if (json_is_string(el) && in_set(set, json_string_value(el), json_string_length(el), tmp)) {
                hit = 1;
                break;
            }
    }
    json_decref(doc);
    return hit;
}

/* match FIELD in org_uids: the field (a dotted path) is a string in the set, or an array holding one. */
static int match_doc(const bson_t *doc, const char *field, const json_t *set, mno_buf *tmp)
{
    bson_iter_t it, d;
    uint32_t len;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, field, &d))
        return 0;
    if (BSON_ITER_HOLDS_UTF8(&d)) {
        const char *s = bson_iter_utf8(&d, &len);
        return in_set(set, s, len, tmp);
    }
    if (BSON_ITER_HOLDS_ARRAY(&d)) {
        bson_iter_t a;
        if (!bson_iter_recurse(&d, &a))
            return 0;
        while (bson_iter_next(&a))
            if (BSON_ITER_HOLDS_UTF8(&a)) {
                const char *s = bson_iter_utf8(&a, &len);
                if (in_set(set, s, len, tmp))
                    return 1;
            }
    }
    return 0;
}

/* Whether rule i of the section holds for record it: 1, 0, or -1 with e filled. */
static int rule_holds(mno_tenant *t, size_t i, const mno_item *it, mno_error *e)
{
    const mno_section *sec = t->sec;
    const mno_scope_rule *r = &t->scope->rules[t->rules[i]];
    if (sec->engine == MNO_ENGINE_MONGO)
        return match_doc(it->doc, r->cols[0], t->uids, &t->tmp);
    if (r->kind == MNO_SCOPE_ROOT) {
        for (size_t c = 0; c < r->ncols; c++) {
            long ci = col_index(sec, r->cols[c]);
            const char *v = it->vals[ci];
            if (v && it->lens[ci] == strlen(t->tenant) && memcmp(v, t->tenant, it->lens[ci]) == 0)
                return 1;
        }
        return 0;
    }
    const char *v = it->vals[t->cols[i]];
    size_t n = it->lens[t->cols[i]];
    if (!v)
        return 0;
    if (r->kind == MNO_SCOPE_PARENT) {
        if (t->guard[i] >= 0) {
            const char *g = it->vals[t->guard[i]];
            if (r->guard_null) {   /* when COL is null */
                if (g)
                    return 0;
            } else if (!g || !r->guard_val || it->lens[t->guard[i]] != strlen(r->guard_val) ||
                       memcmp(g, r->guard_val, it->lens[t->guard[i]]) != 0)
                return 0;
        }
        return in_set(t->ref[i]->set, v, n, &t->tmp);
    }
    if (!r->uids_json)
        return uids_text(v, n, t->ref[i]->set, &t->tmp);
    int k = uids_json(r, sec->coltypes[t->cols[i]], v, n, t->ref[i]->set, &t->tmp);
    if (k < 0)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, NULL, "column %s (rule at %s:%d) is not JSON", r->cols[0], r->file,
                       r->line);
    return k;
}

int mno_tenant_rec(mno_tenant *t, const mno_item *it, mno_error *e)
{
    int keep = t->global;
    /* rules joined by "and" (and_next) form a group that holds when all of them do; the record
       is kept when some group holds (docs/scope.md) */
    int group = 1;
    for (size_t i = 0; !keep && i < t->nrules; i++) {
        const mno_scope_rule *r = &t->scope->rules[t->rules[i]];
        if (group) {
            int h = rule_holds(t, i, it, e);
            if (h < 0)
                return -1;
            group = h;
        }
        if (!r->and_next) {
            keep = group;
            group = 1;
        }
    }
    if (!keep)
        return 0;
    for (size_t i = 0; i < t->nrem; i++) {
        long c = t->remcol[i];
        const char *v = it->vals[c];
        if (!v)
            continue;
        mno_buf_reset(&t->tmp);
        if (mno_buf_add(&t->tmp, v, it->lens[c]) < 0 || mno_buf_addc(&t->tmp, 0) < 0)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        if (!json_object_get(t->rem[i]->set, t->tmp.data)) {
            if (json_object_set_new(t->rem[i]->set, t->tmp.data, json_true()) < 0)
                return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            t->nkeys++;
            t->bytes += it->lens[c] + 1 + 48;
        }
    }
    return 1;
}
