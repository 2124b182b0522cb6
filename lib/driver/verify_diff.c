/* verify_diff.c: mno-verify --diff: the keys that differ, found by narrowing key-hash buckets with counts and sums, in bounded memory. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buf.h"
#include "verify.h"

/*
 * The rows of a section are partitioned by their key hash (engine.h): the md5 of the key's
 * canonical form. Both sides compute it from the same text or bytes, so a bucket holds the
 * same keys on both sides, whatever order either server sorts keys in (a collation, NULLs,
 * a json column in the key of a table without a primary key, MongoDB's mixed _id types).
 *
 * The archive's records of the section are spooled to two unlinked temporary files while the
 * archive is read (the rec lines, and per record its key hash, digest and line position),
 * so memory does not grow with the number of rows. After the section's sums differ:
 *   level 1: count and sum per bucket of the first 16 bits of the key hash, on the target
 *            (pushed down to the server for PostgreSQL) and over the spooled index;
 *   level k: the buckets that differ and hold more than LEAF_ROWS rows are split by 8 (or
 *            4) more bits, and only their rows counted again;
 *   leaves:  the target's rows of the differing small buckets are listed and matched by key
 *            hash (and digest: a key that repeats) to the archive's records of those buckets,
 *            read back from the spool only for the keys reported.
 * At most POOL (or --max, if larger) buckets are followed and differences collected; they
 * are sorted (changed, extra, missing, each by key) and the first --max reported.
 */

#define LEAF_ROWS 64
#define POOL 1024
#define L1_BITS 16
#define MAX_BITS 64

typedef unsigned __int128 u128;

typedef struct spool_rec {
    unsigned char kh[16];
    unsigned char digest[16];
    uint64_t off;
    uint32_t len;
    uint32_t pad;
} spool_rec;

static FILE *spool_file(const char *ns, mno_error *e)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(path, sizeof path, "%s/mno-verify-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        mno_err(e, MNO_E_IO, NULL, 0, ns, "--diff: cannot create a temporary file in %s: %s", dir, strerror(errno));
        return NULL;
    }
    unlink(path);
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        close(fd);
        mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 18);
    return f;
}

int mno_arows_init(mno_arows *a, const mno_section *s, mno_error *e)
{
    memset(a, 0, sizeof *a);
    a->engine = s->engine;
    if (s->engine == MNO_ENGINE_MONGO) {
        a->nk = 1;
        a->keynames = calloc(1, sizeof *a->keynames);
        a->keyidx = calloc(1, sizeof *a->keyidx);
        if (!a->keynames || !a->keyidx)
            goto nomem;
        a->keynames[0] = "_id";
        goto files;
    }
    json_t *key = json_object_get(s->begin, "key");
    a->nk = json_array_size(key);
    if (a->nk == 0)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "the section has no key");
    a->keynames = calloc(a->nk, sizeof *a->keynames);
    a->keyidx = calloc(a->nk, sizeof *a->keyidx);
    a->kvals = calloc(a->nk, sizeof *a->kvals);
    a->klens = calloc(a->nk, sizeof *a->klens);
    if (!a->keynames || !a->keyidx || !a->kvals || !a->klens)
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
files:
    a->idx = spool_file(s->ns, e);
    a->lines = a->idx ? spool_file(s->ns, e) : NULL;
    if (!a->lines) {
        mno_arows_release(a);
        return -1;
    }
    return 0;
nomem:
    mno_arows_release(a);
    return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
}

int mno_keyhash_bson(const bson_t *doc, unsigned char out[16])
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id"))
        return -1;
    bson_t k;
    bson_init(&k);
    int ok = bson_append_iter(&k, "_id", 3, &it);
    if (ok)
        mno_md5(bson_get_data(&k), k.len, out);
    bson_destroy(&k);
    return ok ? 0 : -1;
}

int mno_keyhash_pg(const char *const *vals, const size_t *lens, size_t n, unsigned char out[16])
{
    mno_buf b = MNO_BUF_INIT;
    if (mno_pg_record_text(&b, vals, lens, n) < 0) {
        mno_buf_release(&b);
        return -1;
    }
    mno_md5(b.data, b.len, out);
    mno_buf_release(&b);
    return 0;
}

static int spool_err(const mno_arows *a, const char *ns, mno_error *e)
{
    (void)a;
    return mno_err(e, MNO_E_IO, NULL, 0, ns, "--diff: cannot write a temporary file: %s", strerror(errno));
}

int mno_arows_add(mno_arows *a, const mno_item *it, mno_error *e)
{
    const char *ns = it->section ? it->section->ns : NULL;
    spool_rec r;
    memset(&r, 0, sizeof r);
    if (a->engine == MNO_ENGINE_MONGO) {
        if (!it->doc || mno_keyhash_bson(it->doc, r.kh) < 0)
            return mno_err(e, MNO_E_FORMAT, NULL, 0, ns, "line %lld: the document has no _id", it->lineno);
    } else {
        for (size_t k = 0; k < a->nk; k++) {
            a->kvals[k] = it->vals[a->keyidx[k]];
            a->klens[k] = a->kvals[k] ? (it->lens ? it->lens[a->keyidx[k]] : strlen(a->kvals[k])) : 0;
        }
        mno_buf_reset(&a->keytext);
        if (mno_pg_record_text(&a->keytext, a->kvals, a->klens, a->nk) < 0)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
        mno_md5(a->keytext.data, a->keytext.len, r.kh);
    }
    memcpy(r.digest, it->digest, 16);
    r.off = a->lines_len;
    r.len = (uint32_t)it->len;
    if (fwrite(it->line, 1, it->len, a->lines) != it->len || fwrite(&r, sizeof r, 1, a->idx) != 1)
        return spool_err(a, ns, e);
    a->lines_len += it->len;
    a->n++;
    return 0;
}

void mno_arows_release(mno_arows *a)
{
    if (!a)
        return;
    if (a->idx)
        fclose(a->idx);
    if (a->lines)
        fclose(a->lines);
    free(a->keynames);
    free(a->keyidx);
    free(a->kvals);
    free(a->klens);
    mno_buf_release(&a->keytext);
    memset(a, 0, sizeof *a);
}

/* ---- reading the spool back ---- */

typedef struct spool_reader {
    FILE *f;
    spool_rec buf[4096];
    size_t n, i;
} spool_reader;

static int spool_rewind(mno_arows *a, spool_reader *sr, const char *ns, mno_error *e)
{
    if (fflush(a->idx) != 0 || fflush(a->lines) != 0 || fseek(a->idx, 0, SEEK_SET) != 0)
        return spool_err(a, ns, e);
    sr->f = a->idx;
    sr->n = sr->i = 0;
    return 0;
}

/* The next spooled record: 1, 0 at the end, -1 on a read error. */
static int spool_next(spool_reader *sr, const spool_rec **r)
{
    if (sr->i == sr->n) {
        sr->n = fread(sr->buf, sizeof sr->buf[0], sizeof sr->buf / sizeof sr->buf[0], sr->f);
        sr->i = 0;
        if (sr->n == 0)
            return ferror(sr->f) ? -1 : 0;
    }
    *r = &sr->buf[sr->i++];
    return 1;
}

/* The parsed rec line of spooled record r (the caller decrefs), NULL with e filled. */
static json_t *spool_line(const mno_arows *a, const spool_rec *r, const char *ns, mno_error *e)
{
    char *line = malloc((size_t)r->len + 1);
    if (!line) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
        return NULL;
    }
    ssize_t got = pread(fileno(a->lines), line, r->len, (off_t)r->off);
    if (got != (ssize_t)r->len) {
        free(line);
        mno_err(e, MNO_E_IO, NULL, 0, ns, "--diff: cannot read a temporary file: %s",
                got < 0 ? strerror(errno) : "short read");
        return NULL;
    }
    json_error_t je;
    json_t *rec = json_loadb(line, r->len, 0, &je);
    free(line);
    if (!rec)
        mno_err(e, MNO_E_FORMAT, NULL, 0, ns, "--diff: cannot parse a spooled record: %s", je.text);
    return rec;
}

/* ---- buckets ---- */

typedef struct bucket {
    uint64_t n;
    u128 sum;
} bucket;

static u128 digest_u128(const unsigned char d[16])
{
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = v << 8 | d[i];
    return v;
}

static uint64_t top64(const unsigned char kh[16])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | kh[i];
    return v;
}

/* The bucket of bits bits that key hash top t falls in. */
static uint64_t prefix_of(uint64_t t, int bits)
{
    return bits == 0 ? 0 : t >> (64 - bits);
}

static void prefix_hex(uint64_t p, int bits, char out[17])
{
    static const char hx[] = "0123456789abcdef";
    int nd = bits / 4;
    for (int i = 0; i < nd; i++)
        out[i] = hx[(p >> (4 * (nd - 1 - i))) & 15];
    out[nd] = '\0';
}

/* Index of p in sorted[0..n), or -1. */
static long find_u64(const uint64_t *sorted, size_t n, uint64_t p)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] == p)
            return (long)mid;
        if (sorted[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

typedef struct diff_entry {
    int what;                 /* 0 changed, 1 extra, 2 missing (the report's order) */
    json_t *key;              /* array of the key's values */
    json_t *columns;          /* changed: the names */
} diff_entry;

static const char *const what_name[] = {"changed", "extra", "missing"};

/* An archive record of a leaf bucket, with how many times it occurs and was matched. */
typedef struct leaf_rec {
    spool_rec r;
    uint64_t mult, used;
} leaf_rec;

typedef struct diffctx {
    const mno_engine_ops *ops;
    mno_engine *en;
    const mno_section *s;
    mno_arows *a;
    size_t cap;               /* buckets followed and differences collected, at most */
    int more;                 /* more differences than collected */
    diff_entry *pool;
    size_t npool;
    /* one level: */
    const uint64_t *parents;
    size_t np;
    int pbits, cbits;
    bucket *tgt;
    /* leaves: */
    leaf_rec *lrecs;
    size_t nl;
} diffctx;

/* Appends one difference; 1 when the pool is full (stop), 0 to go on, -1 on error. key is
   borrowed, columns stolen. */
static int emit(diffctx *c, int what, const json_t *key, json_t *columns, mno_error *e)
{
    if (c->npool >= c->cap) {
        c->more = 1;
        json_decref(columns);
        return 1;
    }
    json_t *k = json_deep_copy(key);
    if (!k) {
        json_decref(columns);
        return mno_err(e, MNO_E_NOMEM, NULL, 0, c->s->ns, "out of memory");
    }
    c->pool[c->npool++] = (diff_entry){what, k, columns};
    return 0;
}

/* The key of an archive record's parsed line. */
static json_t *line_key(const diffctx *c, const json_t *rec)
{
    const json_t *v = json_object_get(rec, "v");
    json_t *key = json_array();
    for (size_t k = 0; key && k < c->a->nk; k++) {
        json_t *x = json_object_get(v, c->a->keynames[k]);
        if (json_array_append(key, x ? x : json_null()) < 0) {
            json_decref(key);
            return NULL;
        }
    }
    return key;
}

/* The names of the columns (pg) or top-level fields (mongo) whose values differ. */
static json_t *changed_columns(const diffctx *c, const json_t *rec, const json_t *tv)
{
    json_t *av = json_object_get(rec, "v");
    json_t *cols = json_array();
    if (!cols)
        return NULL;
    const char *k;
    json_t *x;
    if (c->s->engine == MNO_ENGINE_PG) {
        for (size_t i = 0; i < c->s->ncols; i++) {
            const char *n = c->s->colnames[i];
            if (!json_equal(json_object_get(av, n), json_object_get(tv, n)))
                json_array_append_new(cols, json_string(n));
        }
        return cols;
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
    return cols;
}

static int add_target(void *arg, const char *prefix, uint64_t count, const mno_sum *sum, mno_error *e)
{
    diffctx *c = arg;
    uint64_t p = 0;
    int nd = c->cbits / 4;
    for (int i = 0; i < nd; i++) {
        char h = prefix[i];
        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f')))
            return mno_err(e, MNO_E_INTERNAL, NULL, 0, c->s->ns, "bad key bucket \"%s\" from the target", prefix);
        p = p << 4 | (uint64_t)(h <= '9' ? h - '0' : h - 'a' + 10);
    }
    int fan = c->cbits - c->pbits;
    long pi = find_u64(c->parents, c->np, c->pbits ? p >> fan : 0);
    if (pi < 0 || prefix[nd] != '\0')
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, c->s->ns, "key bucket \"%s\" not asked for", prefix);
    bucket *b = &c->tgt[((size_t)pi << fan) + (p & ((UINT64_C(1) << fan) - 1))];
    b->n += count;
    b->sum += (u128)sum->hi << 64 | sum->lo;
    return 0;
}

typedef struct leafkey {
    uint64_t p;
    int bits;
} leafkey;

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int cmp_leafrec(const void *x, const void *y)
{
    const leaf_rec *a = x, *b = y;
    int c = memcmp(a->r.kh, b->r.kh, 16);
    return c ? c : memcmp(a->r.digest, b->r.digest, 16);
}

/* The leaf buckets of each size, sorted: byb[bits] (bits a multiple of 4). */
typedef struct leafset {
    uint64_t *byb[MAX_BITS + 1];
    size_t n[MAX_BITS + 1];
} leafset;

static int leafset_has(const leafset *ls, const unsigned char kh[16])
{
    uint64_t t = top64(kh);
    for (int bits = 4; bits <= MAX_BITS; bits += 4)
        if (ls->n[bits] && find_u64(ls->byb[bits], ls->n[bits], prefix_of(t, bits)) >= 0)
            return 1;
    return 0;
}

static int leaf_row(void *arg, const unsigned char kh[16], const json_t *key, const json_t *v,
                    const unsigned char digest[16], mno_error *e)
{
    diffctx *c = arg;
    /* the archive records of this key not matched yet (a key of every column may repeat:
       duplicate rows): an identical one first, else the first */
    size_t lo = 0, hi = c->nl;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(c->lrecs[mid].r.kh, kh, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    leaf_rec *pick = NULL;
    for (size_t i = lo; i < c->nl && memcmp(c->lrecs[i].r.kh, kh, 16) == 0; i++) {
        leaf_rec *l = &c->lrecs[i];
        if (l->used >= l->mult)
            continue;
        if (!pick)
            pick = l;
        if (memcmp(l->r.digest, digest, 16) == 0) {
            pick = l;
            break;
        }
    }
    if (!pick)
        return emit(c, 1, key, NULL, e);
    pick->used++;
    if (memcmp(pick->r.digest, digest, 16) == 0)
        return 0;
    json_t *rec = spool_line(c->a, &pick->r, c->s->ns, e);
    if (!rec)
        return -1;
    json_t *cols = changed_columns(c, rec, v);
    json_decref(rec);
    if (!cols)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, c->s->ns, "out of memory");
    return emit(c, 0, key, cols, e);
}

/* Lists the leaf buckets on both sides and collects their differences. */
static int list_leaves(diffctx *c, const leafkey *leaves, size_t nleaves, mno_error *e)
{
    const char *ns = c->s->ns;
    leafset ls;
    char **hex = calloc(nleaves + 1, sizeof *hex);
    size_t cap = 0;
    int rc = -1;
    memset(&ls, 0, sizeof ls);
    if (!hex)
        goto nomem;
    for (size_t i = 0; i < nleaves; i++) {
        int b = leaves[i].bits;
        if (!ls.byb[b] && !(ls.byb[b] = malloc(nleaves * sizeof *ls.byb[b])))
            goto nomem;
        ls.byb[b][ls.n[b]++] = leaves[i].p;
        if (!(hex[i] = malloc(17)))
            goto nomem;
        prefix_hex(leaves[i].p, b, hex[i]);
    }
    for (int b = 4; b <= MAX_BITS; b += 4)
        if (ls.n[b])
            qsort(ls.byb[b], ls.n[b], sizeof *ls.byb[b], cmp_u64);
    /* the archive's records of the leaves, duplicates (same key and digest) counted once */
    spool_reader *sr = malloc(sizeof *sr);
    const spool_rec *r;
    int got;
    if (!sr)
        goto nomem;
    if (spool_rewind(c->a, sr, ns, e) < 0) {
        free(sr);
        goto done;
    }
    while ((got = spool_next(sr, &r)) > 0) {
        if (!leafset_has(&ls, r->kh))
            continue;
        if (c->nl == cap) {
            size_t ncap = cap ? 2 * cap : 1024;
            leaf_rec *t = realloc(c->lrecs, ncap * sizeof *t);
            if (!t) {
                free(sr);
                goto nomem;
            }
            c->lrecs = t;
            cap = ncap;
        }
        c->lrecs[c->nl++] = (leaf_rec){*r, 1, 0};
        /* a run of one repeated row stays one entry */
        if (c->nl >= 2 && cmp_leafrec(&c->lrecs[c->nl - 2], &c->lrecs[c->nl - 1]) == 0) {
            c->nl--;
            c->lrecs[c->nl - 1].mult++;
        }
    }
    free(sr);
    if (got < 0) {
        mno_err(e, MNO_E_IO, NULL, 0, ns, "--diff: cannot read a temporary file");
        goto done;
    }
    if (c->nl)
        qsort(c->lrecs, c->nl, sizeof *c->lrecs, cmp_leafrec);
    size_t w = 0;
    for (size_t i = 0; i < c->nl; i++) {
        if (w && cmp_leafrec(&c->lrecs[w - 1], &c->lrecs[i]) == 0)
            c->lrecs[w - 1].mult += c->lrecs[i].mult;
        else
            c->lrecs[w++] = c->lrecs[i];
    }
    c->nl = w;
    if (c->ops->list_buckets(c->en, c->s, (const char *const *)hex, nleaves, leaf_row, c, e) < 0)
        goto done;
    /* level() may have set c->more already (buckets left unfollowed): the pool decides */
    for (size_t i = 0; i < c->nl; i++) {
        leaf_rec *l = &c->lrecs[i];
        if (l->used >= l->mult)
            continue;
        if (c->npool >= c->cap) {
            c->more = 1;
            break;
        }
        json_t *rec = spool_line(c->a, &l->r, ns, e);
        json_t *key = rec ? line_key(c, rec) : NULL;
        json_decref(rec);
        if (!key) {
            if (rec)
                mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
            goto done;
        }
        int x = 0;
        while (l->used < l->mult && x == 0) {
            l->used++;
            x = emit(c, 2, key, NULL, e);
        }
        json_decref(key);
        if (x < 0)
            goto done;
    }
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
done:
    for (size_t i = 0; hex && i < nleaves; i++)
        free(hex[i]);
    free(hex);
    for (int b = 0; b <= MAX_BITS; b++)
        free(ls.byb[b]);
    return rc;
}

/*
 * One level: the children (cbits bits) of the parents (pbits bits) counted and summed on both
 * sides; those that differ become leaves (small, or as fine as key hashes are split) or the
 * next level's parents, at most c->cap of them all.
 */
static int level(diffctx *c, uint64_t **parents, size_t *np, leafkey *leaves, size_t *nleaves, mno_error *e)
{
    const char *ns = c->s->ns;
    int fan = c->cbits - c->pbits;
    size_t nslots = *np << fan;
    bucket *arc = calloc(nslots, sizeof *arc);
    char **hex = calloc(*np + 1, sizeof *hex);
    uint64_t *next = NULL;
    size_t nn = 0;
    int rc = -1;
    spool_reader *sr = malloc(sizeof *sr);
    c->tgt = calloc(nslots, sizeof *c->tgt);
    c->parents = *parents;
    c->np = *np;
    if (!arc || !hex || !sr || !c->tgt)
        goto nomem;
    for (size_t i = 0; i < *np; i++) {
        if (!(hex[i] = malloc(17)))
            goto nomem;
        prefix_hex((*parents)[i], c->pbits, hex[i]);
    }
    if (c->ops->hash_buckets(c->en, c->s, (const char *const *)hex, *np, (size_t)c->pbits / 4,
                             (size_t)c->cbits / 4, add_target, c, e) < 0)
        goto done;
    const spool_rec *r;
    int got;
    if (spool_rewind(c->a, sr, ns, e) < 0)
        goto done;
    while ((got = spool_next(sr, &r)) > 0) {
        uint64_t t = top64(r->kh);
        long pi = c->pbits ? find_u64(*parents, *np, prefix_of(t, c->pbits)) : 0;
        if (pi < 0)
            continue;
        bucket *b = &arc[((size_t)pi << fan) + (prefix_of(t, c->cbits) & ((UINT64_C(1) << fan) - 1))];
        b->n++;
        b->sum += digest_u128(r->digest);
    }
    if (got < 0) {
        mno_err(e, MNO_E_IO, NULL, 0, ns, "--diff: cannot read a temporary file");
        goto done;
    }
    next = malloc((c->cap + 1) * sizeof *next);
    if (!next)
        goto nomem;
    for (size_t i = 0; i < nslots; i++) {
        if (arc[i].n == c->tgt[i].n && arc[i].sum == c->tgt[i].sum)
            continue;
        if (*nleaves + nn >= c->cap) {
            c->more = 1;   /* each differing bucket holds a difference: more than collected */
            break;
        }
        uint64_t p = ((*parents)[i >> fan] << fan) | (i & ((UINT64_C(1) << fan) - 1));
        uint64_t most = arc[i].n > c->tgt[i].n ? arc[i].n : c->tgt[i].n;
        if (most <= LEAF_ROWS || c->cbits >= MAX_BITS)
            leaves[(*nleaves)++] = (leafkey){p, c->cbits};
        else
            next[nn++] = p;
    }
    free(*parents);
    *parents = next;
    *np = nn;
    next = NULL;
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
done:
    for (size_t i = 0; hex && i < c->np; i++)
        free(hex[i]);
    free(hex);
    free(arc);
    free(c->tgt);
    c->tgt = NULL;
    free(next);
    free(sr);
    return rc;
}

/* A key value's place in the report's order: numbers (integer text) by value, other text
   byte by byte, an object by its member names and values, null last. */
static int cmp_text(const char *a, const char *b)
{
    int ia = *a != '\0', ib = *b != '\0';
    for (const char *p = a + (*a == '-'); ia && *p; p++)
        ia = *p >= '0' && *p <= '9';
    for (const char *p = b + (*b == '-'); ib && *p; p++)
        ib = *p >= '0' && *p <= '9';
    if (ia && ib && strcmp(a, "-") != 0 && strcmp(b, "-") != 0) {
        int na = *a == '-', nb = *b == '-';
        if (na != nb)
            return na ? -1 : 1;
        size_t la = strlen(a), lb = strlen(b);
        int c = la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
        return na ? -c : c;
    }
    return strcmp(a, b);
}

static int rank(const json_t *v)
{
    return json_is_string(v) ? 0 : json_is_object(v) ? 1 : json_is_null(v) ? 3 : 2;
}

static int cmp_value(const json_t *a, const json_t *b)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 0)
        return cmp_text(json_string_value(a), json_string_value(b));
    if (ra == 3)
        return 0;
    if (ra == 1) {
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
            int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
            if (!c)
                c = cmp_value(json_object_iter_value(ia), json_object_iter_value(ib));
            if (c)
                return c;
        }
        return ia ? 1 : ib ? -1 : 0;
    }
    char *ta = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY), *tb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    int c = ta && tb ? cmp_text(ta, tb) : 0;
    free(ta);
    free(tb);
    return c;
}

static int cmp_entry(const void *x, const void *y)
{
    const diff_entry *a = x, *b = y;
    if (a->what != b->what)
        return a->what < b->what ? -1 : 1;
    size_t n = json_array_size(a->key);
    for (size_t k = 0; k < n; k++) {
        int c = cmp_value(json_array_get(a->key, k), json_array_get(b->key, k));
        if (c)
            return c;
    }
    return 0;
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

int mno_verify_diff(const mno_engine_ops *ops, mno_engine *en, const mno_section *s,
                    mno_arows *a, size_t max, mno_vsection *vs, mno_error *e)
{
    if (!ops->hash_buckets || !ops->list_buckets)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "the %s engine cannot list rows", ops->name);
    if (!max)
        max = MNO_VERIFY_MAX_DIFF_DEFAULT;
    diffctx c = {.ops = ops, .en = en, .s = s, .a = a, .cap = max > POOL ? max : POOL};
    uint64_t *parents = malloc(sizeof *parents);
    leafkey *leaves = malloc((c.cap + 1) * sizeof *leaves);
    size_t np = 1, nleaves = 0;
    int rc = -1;
    c.pool = calloc(c.cap + 1, sizeof *c.pool);
    if (!vs->diff)
        vs->diff = json_array();
    if (!parents || !leaves || !c.pool || !vs->diff) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        goto done;
    }
    parents[0] = 0;
    c.pbits = 0;
    while (np > 0) {
        c.cbits = c.pbits == 0 ? L1_BITS : c.pbits + (np <= 256 ? 8 : 4);
        if (c.cbits > MAX_BITS)
            c.cbits = MAX_BITS;
        if (level(&c, &parents, &np, leaves, &nleaves, e) < 0)
            goto done;
        c.pbits = c.cbits;
    }
    if (nleaves && list_leaves(&c, leaves, nleaves, e) < 0)
        goto done;
    qsort(c.pool, c.npool, sizeof *c.pool, cmp_entry);
    for (size_t i = 0; i < c.npool && i < max; i++) {
        json_t *d = json_pack("{s:s,s:o,s:O*}", "what", what_name[c.pool[i].what], "key",
                              key_object(a, c.pool[i].key), "columns", c.pool[i].columns);
        if (!d || json_array_append_new(vs->diff, d) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
            goto done;
        }
    }
    if (c.more || c.npool > max)
        vs->diff_more = 1;
    rc = 0;
done:
    for (size_t i = 0; c.pool && i < c.npool; i++) {
        json_decref(c.pool[i].key);
        json_decref(c.pool[i].columns);
    }
    free(c.pool);
    free(c.lrecs);
    free(parents);
    free(leaves);
    return rc;
}
