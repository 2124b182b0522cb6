/* update.c: update documents: $set, $unset, $inc, $setOnInsert (dotted paths), replacements, upserts. */
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

typedef enum { U_SET, U_UNSET, U_INC } ukind;

typedef struct umod {
    ukind kind;
    const char *path;
    bson_iter_t val;
} umod;

static bool known_op(const char *k, bool *supported)
{
    static const char *sup[] = { "$set", "$unset", "$inc", "$setOnInsert", NULL };
    static const char *unsup[] = { "$push", "$pull", "$pullAll", "$addToSet", "$pop", "$rename", "$min",
                                   "$max", "$mul", "$currentDate", "$bit", NULL };
    for (int i = 0; sup[i]; i++)
        if (!strcmp(k, sup[i]))
            return *supported = true;
    for (int i = 0; unsup[i]; i++)
        if (!strcmp(k, unsup[i])) {
            *supported = false;
            return true;
        }
    return false;
}

static bool is_replacement(const bson_t *u)
{
    bson_iter_t it;
    return !bson_iter_init(&it, u) || !bson_iter_next(&it) || bson_iter_key(&it)[0] != '$';
}

int update_check(const bson_t *u, bson_string_t *msg)
{
    bson_iter_t it;
    bool repl = is_replacement(u);
    bson_iter_init(&it, u);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bool sup;
        if (repl) {
            if (k[0] == '$') {
                bson_string_append_printf(msg, "The dollar ($) prefixed field '%s' in '%s' is not allowed in the context of an update's replacement document.", k, k);
                return 52; /* DollarPrefixedFieldName */
            }
            continue;
        }
        if (!known_op(k, &sup)) {
            bson_string_append_printf(msg, "Unknown modifier: %s. Expected a valid update modifier or pipeline-style update specified as an array", k);
            return 9;
        }
        if (!sup) {
            bson_string_append_printf(msg, "mno-test-mongod does not support the update operator %s", k);
            return 2;
        }
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_string_append_printf(msg, "Modifiers operate on fields but we found type %s instead. For example: {$mod: {<field>: ...}} not {%s: ...}",
                                      BSON_ITER_HOLDS_UTF8(&it) ? "string" : "a non-object", k);
            return 9;
        }
        bson_iter_t f;
        bson_iter_recurse(&it, &f);
        while (bson_iter_next(&f)) {
            if (!strcmp(k, "$inc") && !BSON_ITER_HOLDS_INT32(&f) && !BSON_ITER_HOLDS_INT64(&f) && !BSON_ITER_HOLDS_DOUBLE(&f)) {
                bson_string_append_printf(msg, "Cannot increment with non-numeric argument: {%s: ...}", bson_iter_key(&f));
                return 14;
            }
            if (!*bson_iter_key(&f) || bson_iter_key(&f)[strlen(bson_iter_key(&f)) - 1] == '.') {
                bson_string_append(msg, "An empty update path is not valid.");
                return 56;
            }
        }
    }
    return 0;
}

static int mod_cmp(const void *a, const void *b)
{
    return strcmp(((const umod *)a)->path, ((const umod *)b)->path);
}

/* The sum of two numbers with MongoDB's type promotion, appended as key. */
static void inc_value(bson_t *out, const char *key, const bson_iter_t *cur, const bson_iter_t *by)
{
    bson_type_t a = cur ? bson_iter_type(cur) : BSON_TYPE_INT32, b = bson_iter_type(by);
    if (!cur) {
        bson_append_iter(out, key, -1, by);
        return;
    }
    if (a == BSON_TYPE_DOUBLE || b == BSON_TYPE_DOUBLE) {
        bson_append_double(out, key, -1, bson_iter_as_double(cur) + bson_iter_as_double(by));
        return;
    }
    int64_t x = bson_iter_as_int64(cur), y = bson_iter_as_int64(by), s;
    if (__builtin_add_overflow(x, y, &s)) {
        bson_append_double(out, key, -1, (double)x + (double)y);
        return;
    }
    if (a == BSON_TYPE_INT32 && b == BSON_TYPE_INT32 && s >= INT32_MIN && s <= INT32_MAX)
        bson_append_int32(out, key, -1, (int32_t)s);
    else
        bson_append_int64(out, key, -1, s);
}

static bool is_number(const bson_iter_t *it)
{
    return BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it) || BSON_ITER_HOLDS_DOUBLE(it);
}

/* Rebuilds the container src (NULL: none) into out with one modification at path. */
static int rebuild(const bson_iter_t *src, const char *path, const umod *m, bson_t *out, bson_string_t *msg)
{
    const char *dot = strchr(path, '.');
    size_t hl = dot ? (size_t)(dot - path) : strlen(path);
    bool found = false;
    int rc = 0;
    if (src) {
        bson_iter_t it = *src;
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            if (strlen(k) != hl || memcmp(k, path, hl)) {
                bson_append_iter(out, k, -1, &it);
                continue;
            }
            found = true;
            if (!dot) {
                if (m->kind == U_SET)
                    bson_append_iter(out, k, -1, &m->val);
                else if (m->kind == U_INC) {
                    if (!is_number(&it)) {
                        bson_string_append_printf(msg, "Cannot apply $inc to a value of non-numeric type. The field '%s' has a non-numeric type", k);
                        return 14;
                    }
                    inc_value(out, k, &it, &m->val);
                }
                continue;
            }
            if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
                bson_t child;
                bson_iter_t sub;
                bool arr = BSON_ITER_HOLDS_ARRAY(&it);
                bson_iter_recurse(&it, &sub);
                if (arr)
                    bson_append_array_begin(out, k, -1, &child);
                else
                    bson_append_document_begin(out, k, -1, &child);
                rc = rebuild(&sub, dot + 1, m, &child, msg);
                if (arr)
                    bson_append_array_end(out, &child);
                else
                    bson_append_document_end(out, &child);
                if (rc)
                    return rc;
                continue;
            }
            if (m->kind == U_UNSET) {
                bson_append_iter(out, k, -1, &it);
                continue;
            }
            bson_string_append_printf(msg, "Cannot create field '%s' in element {%s: ", dot + 1, k);
            md_value_text(msg, &it);
            bson_string_append(msg, "}");
            return 28;
        }
    }
    if (!found && m->kind != U_UNSET) {
        char *head = bson_strndup(path, hl);
        if (!dot) {
            if (m->kind == U_SET)
                bson_append_iter(out, head, -1, &m->val);
            else
                inc_value(out, head, NULL, &m->val);
        } else {
            bson_t child;
            bson_append_document_begin(out, head, -1, &child);
            rc = rebuild(NULL, dot + 1, m, &child, msg);
            bson_append_document_end(out, &child);
        }
        bson_free(head);
    }
    return rc;
}

static int apply_mods(const bson_t *doc, const bson_t *u, bool inserting, bson_t *out, bson_string_t *msg)
{
    bson_iter_t it, f;
    umod *mods = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    bson_iter_init(&it, u);
    while (bson_iter_next(&it)) {
        const char *op = bson_iter_key(&it);
        ukind kind = !strcmp(op, "$unset") ? U_UNSET : !strcmp(op, "$inc") ? U_INC : U_SET;
        if (!strcmp(op, "$setOnInsert") && !inserting)
            continue;
        bson_iter_recurse(&it, &f);
        while (bson_iter_next(&f)) {
            if (n == cap) {
                mods = md_iter_array_grow(mods, n, cap ? cap * 2 : 8, sizeof *mods);
                cap = cap ? cap * 2 : 8;
            }
            mods[n++] = (umod){ kind, bson_iter_key(&f), f };
        }
    }
    if (n)
        qsort(mods, n, sizeof *mods, mod_cmp);
    for (size_t i = 0; i + 1 < n; i++) {
        size_t l = strlen(mods[i].path);
        if (!strncmp(mods[i].path, mods[i + 1].path, l) && (mods[i + 1].path[l] == 0 || mods[i + 1].path[l] == '.')) {
            bson_string_append_printf(msg, "Updating the path '%s' would create a conflict at '%s'",
                                      mods[i + 1].path, mods[i].path);
            rc = 40;
            goto out;
        }
    }
    bson_t cur;
    bson_copy_to(doc, &cur);
    for (size_t i = 0; i < n; i++) {
        bson_t next = BSON_INITIALIZER;
        bson_iter_t src;
        bson_iter_init(&src, &cur);
        if (!strcmp(mods[i].path, "_id") || !strncmp(mods[i].path, "_id.", 4)) {
            bson_iter_t old;
            if (!inserting && (mods[i].kind != U_SET || !bson_iter_init_find(&old, &cur, "_id") ||
                               bson_iter_type(&old) != bson_iter_type(&mods[i].val) ||
                               md_cmp_iter(&old, &mods[i].val) != 0)) {
                bson_string_append(msg, "Performing an update on the path '_id' would modify the immutable field '_id'");
                bson_destroy(&next);
                rc = 66;
                break;
            }
        }
        rc = rebuild(&src, mods[i].path, &mods[i], &next, msg);
        bson_destroy(&cur);
        bson_copy_to(&next, &cur);
        bson_destroy(&next);
        if (rc)
            break;
    }
    if (!rc)
        bson_concat(out, &cur);
    bson_destroy(&cur);
out:
    free(mods);
    return rc;
}

int update_apply(const bson_t *doc, const bson_t *u, bson_t *out, bson_string_t *msg)
{
    if (is_replacement(u)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, u, "_id"))
            bson_append_iter(out, "_id", 3, &it);
        else if (bson_iter_init_find(&it, doc, "_id"))
            bson_append_iter(out, "_id", 3, &it);
        bson_iter_init(&it, u);
        while (bson_iter_next(&it))
            if (strcmp(bson_iter_key(&it), "_id"))
                bson_append_iter(out, bson_iter_key(&it), -1, &it);
        return 0;
    }
    return apply_mods(doc, u, false, out, msg);
}

int update_upsert_doc(const bson_t *q, const bson_t *u, bson_t *out, bson_string_t *msg)
{
    bson_t base = BSON_INITIALIZER, body = BSON_INITIALIZER;
    bson_iter_t it, c;
    int rc = 0;
    /* equality fields of the query become fields of the new document */
    bson_iter_init(&it, q);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        umod m = { U_SET, k, it };
        if (k[0] == '$')
            continue;
        if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &c) && bson_iter_next(&c) &&
            bson_iter_key(&c)[0] == '$') {
            if (strcmp(bson_iter_key(&c), "$eq"))
                continue;
            m.val = c;
        }
        bson_t next = BSON_INITIALIZER;
        bson_iter_t src;
        bson_iter_init(&src, &base);
        rc = rebuild(&src, k, &m, &next, msg);
        bson_destroy(&base);
        bson_copy_to(&next, &base);
        bson_destroy(&next);
        if (rc)
            goto out;
    }
    if (is_replacement(u)) {
        if (bson_iter_init_find(&it, &base, "_id") && !bson_iter_init_find(&c, u, "_id"))
            bson_append_iter(&body, "_id", 3, &it);
        bson_concat(&body, u);
    } else if ((rc = apply_mods(&base, u, true, &body, msg))) {
        goto out;
    }
    /* _id first, generated when absent */
    if (bson_iter_init_find(&it, &body, "_id")) {
        bson_append_iter(out, "_id", 3, &it);
    } else {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        bson_append_oid(out, "_id", 3, &oid);
    }
    bson_iter_init(&it, &body);
    while (bson_iter_next(&it))
        if (strcmp(bson_iter_key(&it), "_id"))
            bson_append_iter(out, bson_iter_key(&it), -1, &it);
out:
    bson_destroy(&base);
    bson_destroy(&body);
    return rc;
}
