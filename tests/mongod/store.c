/* store.c: databases, collections, documents (BSON bytes as received) and their indexes. */
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

pthread_mutex_t md_lock = PTHREAD_MUTEX_INITIALIZER;

static mdb **dbs;
static size_t ndbs;

void *md_iter_array_grow(void *p, size_t old_n, size_t new_n, size_t size)
{
    size_t align = _Alignof(bson_iter_t), bytes = new_n * size;
    bytes = (bytes + align - 1) / align * align;
    void *q = aligned_alloc(align, bytes ? bytes : align);
    if (!q)
        abort();
    if (p && old_n)
        memcpy(q, p, (old_n < new_n ? old_n : new_n) * size);
    free(p);
    return q;
}

/* ---- documents ---- */

mdoc *mdoc_new(const uint8_t *data, uint32_t len)
{
    bson_iter_t it;
    if (!bson_iter_init_from_data(&it, data, len) || !bson_iter_find(&it, "_id"))
        return NULL;
    mdoc *d = malloc(sizeof *d + len);
    if (!d)
        abort();
    d->refs = 1;
    d->len = len;
    d->id_off = it.off;
    memcpy(d->data, data, len);
    return d;
}

mdoc *mdoc_any(const uint8_t *data, uint32_t len)
{
    mdoc *d = mdoc_new(data, len);
    if (d)
        return d;
    d = malloc(sizeof *d + len);
    if (!d)
        abort();
    d->refs = 1;
    d->len = len;
    d->id_off = 0; /* no _id: never put in a collection */
    memcpy(d->data, data, len);
    return d;
}

void mdoc_ref(mdoc *d) { d->refs++; }

void mdoc_unref(mdoc *d)
{
    if (d && --d->refs == 0)
        free(d);
}

void mdoc_bson(const mdoc *d, bson_t *out)
{
    if (!bson_init_static(out, d->data, d->len))
        abort();
}

void mdoc_id(const mdoc *d, bson_iter_t *it)
{
    if (!bson_iter_init_from_data_at_offset(it, d->data, d->len, d->id_off, 3))
        abort();
}

static uint32_t rd_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return BSON_UINT32_FROM_LE(v);
}

int mdoc_id_cmp(const void *a, const void *b)
{
    const mdoc *x = a, *y = b;
    /* the common _id types compared in place; the value starts after type byte and "_id\0" */
    uint8_t tx = x->data[x->id_off], ty = y->data[y->id_off];
    const uint8_t *vx = x->data + x->id_off + 5, *vy = y->data + y->id_off + 5;
    if (tx == ty && tx == BSON_TYPE_UTF8) {
        uint32_t lx = rd_le32(vx) - 1, ly = rd_le32(vy) - 1; /* without the NUL */
        int c = memcmp(vx + 4, vy + 4, lx < ly ? lx : ly);
        if (c)
            return c < 0 ? -1 : 1;
        return lx < ly ? -1 : lx > ly ? 1 : 0;
    }
    if (tx == ty && tx == BSON_TYPE_OID) {
        int c = memcmp(vx, vy, 12);
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (tx == ty && tx == BSON_TYPE_INT32) {
        int32_t ix = (int32_t)rd_le32(vx), iy = (int32_t)rd_le32(vy);
        return ix < iy ? -1 : ix > iy ? 1 : 0;
    }
    bson_iter_t ix, iy;
    mdoc_id(x, &ix);
    mdoc_id(y, &iy);
    return md_cmp_iter(&ix, &iy);
}

/* ---- unique index entries ---- */

typedef struct ikey {
    mdoc *doc;
    uint32_t len;
    uint8_t key[]; /* a BSON document of the key's values */
} ikey;

static int ikey_cmp(const void *a, const void *b)
{
    const ikey *x = a, *y = b;
    return md_cmp_doc(x->key, x->len, y->key, y->len, true);
}

static void ikey_free(void *k) { free(k); }

/* Builds d's key for index ix; NULL when a sparse index has no field. */
static ikey *ikey_make(const mindex *ix, mdoc *d)
{
    bson_t doc, kb = BSON_INITIALIZER;
    bson_iter_t kit, v;
    bool any = false;
    mdoc_bson(d, &doc);
    if (bson_iter_init(&kit, ix->key)) {
        while (bson_iter_next(&kit)) {
            if (md_get_path(&doc, bson_iter_key(&kit), &v)) {
                bson_append_iter(&kb, bson_iter_key(&kit), -1, &v);
                any = true;
            } else {
                bson_append_null(&kb, bson_iter_key(&kit), -1);
            }
        }
    }
    if (ix->sparse && !any) {
        bson_destroy(&kb);
        return NULL;
    }
    ikey *k = malloc(sizeof *k + kb.len);
    if (!k)
        abort();
    k->doc = d;
    k->len = kb.len;
    memcpy(k->key, bson_get_data(&kb), kb.len);
    bson_destroy(&kb);
    return k;
}

static void dup_msg(bson_string_t *msg, const mdb *db, const mcoll *c, const char *index,
                    const uint8_t *kdoc, uint32_t klen)
{
    bson_iter_t it;
    bson_string_append_printf(msg, "E11000 duplicate key error collection: %s.%s index: %s dup key: { ",
                              db->name, c->name, index);
    if (bson_iter_init_from_data(&it, kdoc, klen)) {
        bool first = true;
        while (bson_iter_next(&it)) {
            bson_string_append_printf(msg, "%s%s: ", first ? "" : ", ", bson_iter_key(&it));
            md_value_text(msg, &it);
            first = false;
        }
    }
    bson_string_append(msg, " }");
}

/* Checks and adds d's keys to every unique secondary index; nothing added on a conflict. */
static int index_add_doc(mdb *db, mcoll *c, mdoc *d, bson_string_t *msg)
{
    size_t i;
    int rc = 0;
    ikey **keys = calloc(c->nidx, sizeof *keys);
    for (i = 1; i < c->nidx; i++) {
        mindex *ix = c->idx[i];
        if (!ix->unique)
            continue;
        keys[i] = ikey_make(ix, d);
        if (keys[i] && tree_find(&ix->tree, keys[i])) {
            dup_msg(msg, db, c, ix->name, keys[i]->key, keys[i]->len);
            rc = 11000;
            goto out;
        }
    }
    for (i = 1; i < c->nidx; i++) {
        if (keys[i]) {
            tree_insert(&c->idx[i]->tree, keys[i]);
            keys[i] = NULL;
        }
    }
out:
    for (i = 0; i < c->nidx; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

static void index_remove_doc(mcoll *c, mdoc *d)
{
    for (size_t i = 1; i < c->nidx; i++) {
        mindex *ix = c->idx[i];
        if (!ix->unique)
            continue;
        ikey *k = ikey_make(ix, d);
        if (!k)
            continue;
        ikey *found = tree_find(&ix->tree, k);
        if (found && found->doc == d)
            free(tree_remove(&ix->tree, k));
        free(k);
    }
}

/* ---- databases and collections ---- */

mdb *store_db(const char *name, bool create)
{
    size_t i;
    for (i = 0; i < ndbs; i++) {
        int c = strcmp(dbs[i]->name, name);
        if (!c)
            return dbs[i];
        if (c > 0)
            break;
    }
    if (!create)
        return NULL;
    mdb *db = calloc(1, sizeof *db);
    db->name = strdup(name);
    dbs = realloc(dbs, (ndbs + 1) * sizeof *dbs);
    memmove(dbs + i + 1, dbs + i, (ndbs - i) * sizeof *dbs);
    dbs[i] = db;
    ndbs++;
    return db;
}

mdb **store_dbs(size_t *n)
{
    *n = ndbs;
    return dbs;
}

static void index_free(mindex *ix)
{
    if (!ix)
        return;
    tree_clear(&ix->tree, ikey_free);
    free(ix->name);
    bson_destroy(ix->spec);
    bson_destroy(ix->key);
    free(ix);
}

static void doc_unref_key(void *k) { mdoc_unref(k); }

static void coll_free(mcoll *c)
{
    if (!c)
        return;
    tree_clear(&c->ids, doc_unref_key);
    for (size_t i = 0; i < c->nidx; i++)
        index_free(c->idx[i]);
    free(c->idx);
    bson_destroy(c->options);
    free(c->name);
    free(c);
}

/* The place of collection name in db's sorted array: its index when *found, else where it
   would go. A binary search: a database of 10,000 collections is looked up at every command. */
static size_t coll_pos(const mdb *db, const char *name, bool *found)
{
    size_t lo = 0, hi = db->ncolls;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(db->colls[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

mcoll *store_coll(mdb *db, const char *name, bool create, bool *created)
{
    bool found;
    if (created)
        *created = false;
    size_t i = coll_pos(db, name, &found);
    if (found)
        return db->colls[i];
    if (!create)
        return NULL;
    mcoll *c = calloc(1, sizeof *c);
    c->name = strdup(name);
    c->options = bson_new();
    c->ids.cmp = mdoc_id_cmp;
    mindex *ix = calloc(1, sizeof *ix);
    ix->name = strdup("_id_");
    ix->key = BCON_NEW("_id", BCON_INT32(1));
    ix->spec = BCON_NEW("v", BCON_INT32(2), "key", "{", "_id", BCON_INT32(1), "}", "name", BCON_UTF8("_id_"));
    ix->tree.cmp = ikey_cmp;
    c->idx = malloc(sizeof *c->idx);
    c->idx[0] = ix;
    c->nidx = 1;
    db->colls = realloc(db->colls, (db->ncolls + 1) * sizeof *db->colls);
    memmove(db->colls + i + 1, db->colls + i, (db->ncolls - i) * sizeof *db->colls);
    db->colls[i] = c;
    db->ncolls++;
    if (created)
        *created = true;
    return c;
}

void store_drop_coll(mdb *db, const char *name)
{
    bool found;
    size_t i = coll_pos(db, name, &found);
    if (!found)
        return;
    coll_free(db->colls[i]);
    memmove(db->colls + i, db->colls + i + 1, (db->ncolls - i - 1) * sizeof *db->colls);
    db->ncolls--;
}

static void db_free(mdb *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->ncolls; i++)
        coll_free(db->colls[i]);
    free(db->colls);
    free(db->name);
    free(db);
}

void store_drop_db(const char *name)
{
    for (size_t i = 0; i < ndbs; i++) {
        if (!strcmp(dbs[i]->name, name)) {
            db_free(dbs[i]);
            memmove(dbs + i, dbs + i + 1, (ndbs - i - 1) * sizeof *dbs);
            ndbs--;
            return;
        }
    }
}

void store_free_all(void)
{
    for (size_t i = 0; i < ndbs; i++)
        db_free(dbs[i]);
    free(dbs);
    dbs = NULL;
    ndbs = 0;
}

/* ---- documents in collections ---- */

static int check_doc(const uint8_t *data, uint32_t len, bson_string_t *msg)
{
    if (len > MD_MAX_BSON) {
        bson_string_append_printf(msg, "object to insert too large. size in bytes: %u, max size: %d",
                                  len, MD_MAX_BSON);
        return 2;
    }
    if (!md_bson_valid(data, len)) {
        bson_string_append(msg, "invalid BSON document");
        return 22; /* InvalidBSON */
    }
    return 0;
}

static int insert_doc(mdb *db, mcoll *c, mdoc *d, bson_string_t *msg)
{
    bson_iter_t it;
    mdoc_id(d, &it);
    if (bson_iter_type(&it) == BSON_TYPE_ARRAY) {
        bson_string_append(msg, "can't use an array for _id");
        return 2;
    }
    if (bson_iter_type(&it) == BSON_TYPE_REGEX) {
        bson_string_append(msg, "can't use a regex for _id");
        return 2;
    }
    mdoc *old = tree_insert(&c->ids, d);
    if (old) {
        bson_t kb = BSON_INITIALIZER;
        bson_append_iter(&kb, "_id", 3, &it);
        dup_msg(msg, db, c, "_id_", bson_get_data(&kb), kb.len);
        bson_destroy(&kb);
        return 11000;
    }
    if (c->nidx > 1) {
        int rc = index_add_doc(db, c, d, msg);
        if (rc) {
            tree_remove(&c->ids, d);
            return rc;
        }
    }
    c->bytes += d->len;
    return 0;
}

int store_insert(mdb *db, mcoll *c, const uint8_t *data, uint32_t len, bson_string_t *msg)
{
    int rc = check_doc(data, len, msg);
    if (rc)
        return rc;
    mdoc *d = mdoc_new(data, len);
    if (!d) {
        /* no _id: add an ObjectId first, as the server does */
        bson_t in, out = BSON_INITIALIZER;
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        bson_init_static(&in, data, len);
        bson_append_oid(&out, "_id", 3, &oid);
        bson_concat(&out, &in);
        d = mdoc_new(bson_get_data(&out), out.len);
        bson_destroy(&out);
    } else if (d->id_off != 4) {
        /* _id not first: mongod moves it to the front, the rest keeps its order */
        bson_t in, out = BSON_INITIALIZER;
        bson_iter_t it;
        bson_init_static(&in, data, len);
        mdoc_id(d, &it);
        bson_append_iter(&out, "_id", 3, &it);
        bson_iter_init(&it, &in);
        while (bson_iter_next(&it))
            if (strcmp(bson_iter_key(&it), "_id"))
                bson_append_iter(&out, bson_iter_key(&it), (int)bson_iter_key_len(&it), &it);
        mdoc_unref(d);
        d = mdoc_new(bson_get_data(&out), out.len);
        bson_destroy(&out);
    }
    rc = insert_doc(db, c, d, msg);
    if (rc)
        mdoc_unref(d);
    return rc;
}

void store_remove(mcoll *c, mdoc *d)
{
    if (c->nidx > 1)
        index_remove_doc(c, d);
    mdoc *k = tree_remove(&c->ids, d);
    if (k) {
        c->bytes -= k->len;
        mdoc_unref(k);
    }
}

int store_replace(mdb *db, mcoll *c, mdoc *old, const uint8_t *data, uint32_t len, bson_string_t *msg)
{
    int rc = check_doc(data, len, msg);
    if (rc)
        return rc;
    mdoc *d = mdoc_new(data, len);
    if (!d) {
        bson_string_append(msg, "replacement document has no _id");
        return 2;
    }
    mdoc_ref(old);
    store_remove(c, old);
    rc = insert_doc(db, c, d, msg);
    if (rc) {
        mdoc_unref(d);
        bson_string_t *m2 = bson_string_new(NULL);
        insert_doc(db, c, old, m2); /* put the old one back */
        bson_string_free(m2, true);
        mdoc_ref(old);
    }
    mdoc_unref(old);
    return rc;
}

/* ---- index management ---- */

typedef struct build_ctx {
    mdb *db;
    mcoll *c;
    mindex *ix;
    bson_string_t *msg;
    int rc;
} build_ctx;

static bool build_one(void *key, void *arg)
{
    build_ctx *b = arg;
    ikey *k = ikey_make(b->ix, key);
    if (!k)
        return true;
    if (tree_insert(&b->ix->tree, k)) {
        dup_msg(b->msg, b->db, b->c, b->ix->name, k->key, k->len);
        free(k);
        b->rc = 11000;
        return false;
    }
    return true;
}

int store_add_index(mdb *db, mcoll *c, const bson_t *spec, bson_string_t *msg)
{
    bson_iter_t it;
    const char *name = NULL;
    bson_t key;
    bool have_key = false, unique = false, sparse = false;
    if (bson_iter_init(&it, spec)) {
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            if (!strcmp(k, "name") && BSON_ITER_HOLDS_UTF8(&it))
                name = bson_iter_utf8(&it, NULL);
            else if (!strcmp(k, "key") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                uint32_t l;
                const uint8_t *d;
                bson_iter_document(&it, &l, &d);
                bson_init_static(&key, d, l);
                have_key = true;
            } else if (!strcmp(k, "unique"))
                unique = bson_iter_as_bool(&it);
            else if (!strcmp(k, "sparse"))
                sparse = bson_iter_as_bool(&it);
        }
    }
    if (!have_key || bson_count_keys(&key) == 0) {
        bson_string_append(msg, "Error in specification: the 'key' field is required and must be a non-empty object");
        return 9; /* FailedToParse */
    }
    if (!name) {
        bson_string_append(msg, "Error in specification: the 'name' field is a required property of an index specification");
        return 9;
    }
    for (size_t i = 0; i < c->nidx; i++) {
        mindex *ix = c->idx[i];
        bool same_key = bson_equal(ix->key, &key);
        bool same_name = !strcmp(ix->name, name);
        if (same_key && same_name)
            return 1;
        if (same_name) {
            bson_string_append_printf(msg, "An existing index has the same name as the requested index. "
                                      "When index names are not specified, they are auto generated and can "
                                      "cause conflicts. Please refer to our documentation. Requested index: "
                                      "%s, existing index: %s", name, ix->name);
            return 86; /* IndexKeySpecsConflict */
        }
        if (same_key && i > 0 && ix->unique == unique) {
            bson_string_append_printf(msg, "Index already exists with a different name: %s", ix->name);
            return 85; /* IndexOptionsConflict */
        }
    }
    mindex *ix = calloc(1, sizeof *ix);
    ix->name = strdup(name);
    ix->key = bson_copy(&key);
    ix->unique = unique;
    ix->sparse = sparse;
    ix->tree.cmp = ikey_cmp;
    ix->spec = bson_new();
    BSON_APPEND_INT32(ix->spec, "v", 2);
    BSON_APPEND_DOCUMENT(ix->spec, "key", &key);
    BSON_APPEND_UTF8(ix->spec, "name", name);
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "v") && strcmp(k, "key") && strcmp(k, "name") && strcmp(k, "ns"))
            bson_append_iter(ix->spec, k, -1, &it);
    }
    if (unique) {
        build_ctx b = { db, c, ix, msg, 0 };
        tree_walk(&c->ids, build_one, &b, false);
        if (b.rc) {
            index_free(ix);
            return b.rc;
        }
    }
    c->idx = realloc(c->idx, (c->nidx + 1) * sizeof *c->idx);
    c->idx[c->nidx++] = ix;
    return 0;
}

int store_drop_index(mcoll *c, const char *name, bson_string_t *msg)
{
    for (size_t i = 1; i < c->nidx; i++) {
        if (!strcmp(c->idx[i]->name, name)) {
            index_free(c->idx[i]);
            memmove(c->idx + i, c->idx + i + 1, (c->nidx - i - 1) * sizeof *c->idx);
            c->nidx--;
            return 0;
        }
    }
    if (!strcmp(name, "_id_")) {
        bson_string_append(msg, "cannot drop _id index");
        return 72; /* InvalidOptions */
    }
    bson_string_append_printf(msg, "index not found with name [%s]", name);
    return 27; /* IndexNotFound */
}
