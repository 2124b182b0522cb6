/* tree.c: an AVL tree of opaque keys (documents by _id, unique index entries): O(log n) each. */
#include <stdlib.h>
#include "mongod.h"

static int h(const tnode *n) { return n ? n->height : 0; }
static void fix(tnode *n)
{
    int l = h(n->left), r = h(n->right);
    n->height = (l > r ? l : r) + 1;
}
static tnode *rot_right(tnode *n)
{
    tnode *l = n->left;
    n->left = l->right;
    l->right = n;
    fix(n);
    fix(l);
    return l;
}
static tnode *rot_left(tnode *n)
{
    tnode *r = n->right;
    n->right = r->left;
    r->left = n;
    fix(n);
    fix(r);
    return r;
}
static tnode *balance(tnode *n)
{
    fix(n);
    int b = h(n->left) - h(n->right);
    if (b > 1) {
        if (h(n->left->left) < h(n->left->right))
            n->left = rot_left(n->left);
        return rot_right(n);
    }
    if (b < -1) {
        if (h(n->right->right) < h(n->right->left))
            n->right = rot_right(n->right);
        return rot_left(n);
    }
    return n;
}

static tnode *ins(mtree *t, tnode *n, void *key, void **dup)
{
    if (!n) {
        tnode *m = calloc(1, sizeof *m);
        if (!m)
            abort();
        m->key = key;
        m->height = 1;
        t->count++;
        return m;
    }
    int c = t->cmp(key, n->key);
    if (c == 0) {
        *dup = n->key;
        return n;
    }
    if (c < 0)
        n->left = ins(t, n->left, key, dup);
    else
        n->right = ins(t, n->right, key, dup);
    return *dup ? n : balance(n);
}

void *tree_insert(mtree *t, void *key)
{
    void *dup = NULL;
    t->root = ins(t, t->root, key, &dup);
    return dup;
}

static tnode *remove_min(tnode *n, tnode **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return balance(n);
}

static tnode *rem(mtree *t, tnode *n, const void *probe, void **found)
{
    if (!n)
        return NULL;
    int c = t->cmp(probe, n->key);
    if (c < 0)
        n->left = rem(t, n->left, probe, found);
    else if (c > 0)
        n->right = rem(t, n->right, probe, found);
    else {
        *found = n->key;
        tnode *l = n->left, *r = n->right;
        free(n);
        t->count--;
        if (!r)
            return l;
        tnode *min;
        r = remove_min(r, &min);
        min->left = l;
        min->right = r;
        return balance(min);
    }
    return balance(n);
}

void *tree_remove(mtree *t, const void *probe)
{
    void *found = NULL;
    t->root = rem(t, t->root, probe, &found);
    return found;
}

void *tree_find(const mtree *t, const void *probe)
{
    tnode *n = t->root;
    while (n) {
        int c = t->cmp(probe, n->key);
        if (!c)
            return n->key;
        n = c < 0 ? n->left : n->right;
    }
    return NULL;
}

void tree_walk(const mtree *t, bool (*fn)(void *key, void *arg), void *arg, bool reverse)
{
    /* iterative in-order walk with an explicit stack (height <= 1.44 log2 n) */
    tnode *stack[128];
    int sp = 0;
    tnode *n = t->root;
    while (n || sp) {
        while (n) {
            stack[sp++] = n;
            n = reverse ? n->right : n->left;
        }
        n = stack[--sp];
        if (!fn(n->key, arg))
            return;
        n = reverse ? n->left : n->right;
    }
}

void tree_walk_from(const mtree *t, const void *from, bool (*fn)(void *key, void *arg), void *arg, bool reverse)
{
    /* the stack holds the path of nodes still to visit, as an in-order walk would have it */
    tnode *stack[128];
    int sp = 0;
    tnode *n = t->root;
    while (n) {
        int c = t->cmp(from, n->key);
        if (reverse ? c >= 0 : c <= 0) {
            stack[sp++] = n;
            n = reverse ? n->right : n->left;
        } else {
            n = reverse ? n->left : n->right;
        }
    }
    while (sp) {
        n = stack[--sp];
        if (!fn(n->key, arg))
            return;
        n = reverse ? n->left : n->right;
        while (n) {
            stack[sp++] = n;
            n = reverse ? n->right : n->left;
        }
    }
}

static void clear(tnode *n, void (*free_key)(void *))
{
    while (n) {
        clear(n->left, free_key);
        tnode *r = n->right;
        if (free_key)
            free_key(n->key);
        free(n);
        n = r;
    }
}

void tree_clear(mtree *t, void (*free_key)(void *key))
{
    clear(t->root, free_key);
    t->root = NULL;
    t->count = 0;
}
