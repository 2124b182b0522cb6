/* engine_pg_refs.c: the dump's dangling-reference check: the referenced values of each parent table kept as 64-bit hashes while it is written, each child row's links looked up in them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "engine_pg_refs.h"

#define SHOWN 5          /* dangling references named in the result */
#define VALUE_CUT 100    /* a value longer than this is cut in messages */

typedef struct kset {    /* one parent table's referenced values (one column set) */
    size_t table;
    long *cols;
    size_t n;
    uint64_t *slot;      /* open addressing, 0 = empty; at most half full */
    size_t cap, used;
} kset;

typedef struct rlink {
    size_t child;
    long *cols;
    size_t n;
    long parent, set;    /* -1: not archived */
    long guard;
    char *gval;
    int gnull;
    char *desc;
} rlink;

typedef struct rtab {
    const char *ns;
    char *const *keynames;
    const long *keyidx;
    size_t nkey;
    int done, wants;
} rtab;

typedef struct waiting { /* a row whose parent's section is not written yet */
    size_t link;
    uint64_t h;
    char *msg;
} waiting;

struct mno_pg_refs {
    rtab *t;
    size_t nt;
    kset *sets;
    size_t nsets;
    rlink *links;
    size_t nlinks;
    waiting *w;
    size_t nw, capw;
    long long dangling;
    mno_buf text;
};

mno_pg_refs *mno_pg_refs_new(void)
{
    return calloc(1, sizeof(mno_pg_refs));
}

void mno_pg_refs_free(mno_pg_refs *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsets; i++) {
        free(r->sets[i].cols);
        free(r->sets[i].slot);
    }
    for (size_t i = 0; i < r->nlinks; i++) {
        free(r->links[i].cols);
        free(r->links[i].gval);
        free(r->links[i].desc);
    }
    for (size_t i = 0; i < r->nw; i++)
        free(r->w[i].msg);
    free(r->w);
    free(r->sets);
    free(r->links);
    free(r->t);
    mno_buf_release(&r->text);
    free(r);
}

static rtab *tab(mno_pg_refs *r, size_t t)
{
    if (t >= r->nt) {
        size_t n = t + 16;
        rtab *nt = realloc(r->t, n * sizeof *nt);
        if (!nt)
            return NULL;
        memset(nt + r->nt, 0, (n - r->nt) * sizeof *nt);
        r->t = nt;
        r->nt = n;
    }
    return &r->t[t];
}

int mno_pg_refs_table(mno_pg_refs *r, size_t t, const char *ns, char *const *keynames, const long *keyidx,
                      size_t nkey)
{
    rtab *x = tab(r, t);
    if (!x)
        return -1;
    x->ns = ns;
    x->keynames = keynames;
    x->keyidx = keyidx;
    x->nkey = nkey;
    return 0;
}

static long *copy_idx(const long *a, size_t n)
{
    long *c = malloc((n ? n : 1) * sizeof *c);
    if (c && n)
        memcpy(c, a, n * sizeof *c);
    return c;
}

/* The key set of parent's columns refcols, made when new. Returns its index or -1. */
static long set_of(mno_pg_refs *r, size_t parent, const long *refcols, size_t n)
{
    for (size_t i = 0; i < r->nsets; i++)
        if (r->sets[i].table == parent && r->sets[i].n == n && memcmp(r->sets[i].cols, refcols, n * sizeof *refcols) == 0)
            return (long)i;
    kset *ns = realloc(r->sets, (r->nsets + 1) * sizeof *ns);
    if (!ns)
        return -1;
    r->sets = ns;
    kset *k = &r->sets[r->nsets];
    memset(k, 0, sizeof *k);
    k->table = parent;
    k->n = n;
    if (!(k->cols = copy_idx(refcols, n)))
        return -1;
    return (long)r->nsets++;
}

int mno_pg_refs_link(mno_pg_refs *r, size_t child, const long *cols, size_t n, long parent, const long *refcols,
                     long guard, const char *guard_val, int guard_null, const char *desc)
{
    rlink *nl = realloc(r->links, (r->nlinks + 1) * sizeof *nl);
    if (!nl)
        return -1;
    r->links = nl;
    rlink *l = &r->links[r->nlinks];
    memset(l, 0, sizeof *l);
    l->child = child;
    l->n = n;
    l->parent = parent;
    l->set = -1;
    l->guard = guard;
    l->gnull = guard_null;
    if (!(l->cols = copy_idx(cols, n)) || !(l->desc = strdup(desc)) ||
        (guard_val && !(l->gval = strdup(guard_val)))) {
        free(l->cols);
        free(l->desc);
        return -1;
    }
    r->nlinks++;
    if (parent >= 0 && (l->set = set_of(r, (size_t)parent, refcols, n)) < 0)
        return -1;
    rtab *c = tab(r, child), *p = parent >= 0 ? tab(r, (size_t)parent) : c;
    if (!c || !p)
        return -1;
    r->t[child].wants = 1;
    if (parent >= 0)
        r->t[parent].wants = 1;
    return 0;
}

int mno_pg_refs_wants(const mno_pg_refs *r, size_t t)
{
    return r && t < r->nt && r->t[t].wants;
}

/* FNV-1a over the values (each with its length), never 0. */
static uint64_t hash_vals(const char *const *vals, const size_t *lens, const long *idx, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = lens[idx[i]];
        for (int b = 0; b < 8; b++) {
            h ^= (len >> (8 * b)) & 0xff;
            h *= 1099511628211ULL;
        }
        const unsigned char *p = (const unsigned char *)vals[idx[i]];
        for (uint64_t k = 0; k < len; k++) {
            h ^= p[k];
            h *= 1099511628211ULL;
        }
    }
    return h ? h : 1;
}

static int set_add(kset *k, uint64_t h)
{
    if (2 * (k->used + 1) > k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 1024;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            return -1;
        for (size_t i = 0; i < k->cap; i++) {
            if (!k->slot[i])
                continue;
            size_t j = (size_t)(k->slot[i] & (cap - 1));
            while (s[j])
                j = (j + 1) & (cap - 1);
            s[j] = k->slot[i];
        }
        free(k->slot);
        k->slot = s;
        k->cap = cap;
    }
    size_t j = (size_t)(h & (k->cap - 1));
    while (k->slot[j]) {
        if (k->slot[j] == h)
            return 0;
        j = (j + 1) & (k->cap - 1);
    }
    k->slot[j] = h;
    k->used++;
    return 0;
}

static int set_has(const kset *k, uint64_t h)
{
    if (!k->cap)
        return 0;
    size_t j = (size_t)(h & (k->cap - 1));
    while (k->slot[j]) {
        if (k->slot[j] == h)
            return 1;
        j = (j + 1) & (k->cap - 1);
    }
    return 0;
}

/* Appends "(v1, v2)" for the values at idx. */
static int add_vals(mno_buf *b, const char *const *vals, const size_t *lens, const long *idx, size_t n)
{
    if (mno_buf_addc(b, '(') < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *v = vals[idx[i]];
        size_t len = v ? lens[idx[i]] : 0;
        if ((i && mno_buf_adds(b, ", ") < 0) ||
            (v ? mno_buf_add(b, v, len > VALUE_CUT ? VALUE_CUT : len) < 0 ||
                     (len > VALUE_CUT && mno_buf_adds(b, "...") < 0)
               : mno_buf_adds(b, "null") < 0))
            return -1;
    }
    return mno_buf_addc(b, ')');
}

/* "NS (KEY)=(VALUES): DESC: (VALUES) is not in the archive" for the row; caller frees. */
static char *row_msg(const mno_pg_refs *r, const rlink *l, const char *const *vals, const size_t *lens)
{
    const rtab *t = &r->t[l->child];
    mno_buf b = MNO_BUF_INIT;
    int bad = mno_buf_adds(&b, t->ns ? t->ns : "?") < 0;
    if (!bad && t->nkey) {
        bad = mno_buf_adds(&b, " (") < 0;
        for (size_t i = 0; !bad && i < t->nkey; i++)
            bad = mno_buf_addf(&b, "%s%s", i ? ", " : "", t->keynames[i]) < 0;
        bad = bad || mno_buf_adds(&b, ")=") < 0 || add_vals(&b, vals, lens, t->keyidx, t->nkey) < 0;
    }
    bad = bad || mno_buf_addf(&b, ": %s: ", l->desc) < 0 || add_vals(&b, vals, lens, l->cols, l->n) < 0 ||
          mno_buf_adds(&b, " is not in the archive") < 0;
    if (bad) {
        mno_buf_release(&b);
        return NULL;
    }
    return b.data;
}

static int found_dangling(mno_pg_refs *r, const char *msg)
{
    if (r->dangling++ < SHOWN && mno_buf_addf(&r->text, "  %s\n", msg) < 0)
        return -1;
    return 0;
}

int mno_pg_refs_row(mno_pg_refs *r, size_t t, const char *const *vals, const size_t *lens)
{
    for (size_t i = 0; i < r->nsets; i++) {
        kset *k = &r->sets[i];
        if (k->table != t)
            continue;
        size_t j = 0;
        while (j < k->n && vals[k->cols[j]])
            j++;
        if (j == k->n && set_add(k, hash_vals(vals, lens, k->cols, k->n)) < 0)
            return -1;
    }
    for (size_t i = 0; i < r->nlinks; i++) {
        const rlink *l = &r->links[i];
        if (l->child != t)
            continue;
        if (l->guard >= 0) {
            const char *g = vals[l->guard];
            if (l->gnull ? g != NULL : (!g || strcmp(g, l->gval) != 0))
                continue;
        }
        size_t j = 0;
        while (j < l->n && vals[l->cols[j]])
            j++;
        if (j < l->n)
            continue;   /* a null link column links to nothing */
        uint64_t h = hash_vals(vals, lens, l->cols, l->n);
        if (l->parent >= 0 && r->t[l->parent].done && set_has(&r->sets[l->set], h))
            continue;
        char *msg = row_msg(r, l, vals, lens);
        if (!msg)
            return -1;
        if (l->parent >= 0 && !r->t[l->parent].done) {   /* its parent comes later (or is itself) */
            if (r->nw == r->capw) {
                size_t cap = r->capw ? 2 * r->capw : 64;
                waiting *nw = realloc(r->w, cap * sizeof *nw);
                if (!nw) {
                    free(msg);
                    return -1;
                }
                r->w = nw;
                r->capw = cap;
            }
            r->w[r->nw++] = (waiting){i, h, msg};
            continue;
        }
        int rc = found_dangling(r, msg);
        free(msg);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int mno_pg_refs_done(mno_pg_refs *r, size_t t)
{
    rtab *x = tab(r, t);
    if (!x)
        return -1;
    x->done = 1;
    size_t keep = 0;
    for (size_t i = 0; i < r->nw; i++) {
        waiting *w = &r->w[i];
        const rlink *l = &r->links[w->link];
        if (l->parent != (long)t) {
            r->w[keep++] = *w;
            continue;
        }
        int rc = set_has(&r->sets[l->set], w->h) ? 0 : found_dangling(r, w->msg);
        free(w->msg);
        if (rc < 0)
            return -1;
    }
    r->nw = keep;
    return 0;
}

long long mno_pg_refs_result(mno_pg_refs *r, char **text)
{
    *text = NULL;
    for (size_t i = 0; i < r->nw; i++) {
        int rc = found_dangling(r, r->w[i].msg);
        free(r->w[i].msg);
        if (rc < 0)
            return -1;
    }
    r->nw = 0;
    if (!r->dangling)
        return 0;
    if (r->dangling > SHOWN && mno_buf_addf(&r->text, "  ... and %lld more\n", r->dangling - SHOWN) < 0)
        return -1;
    if (!(*text = strdup(r->text.data)))
        return -1;
    return r->dangling;
}
