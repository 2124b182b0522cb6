/* mongod.h: the MongoDB wire-protocol test server's shared types (storage, cursors, commands). */
#ifndef MNO_TEST_MONGOD_H
#define MNO_TEST_MONGOD_H

#include <bson/bson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MD_MAX_BSON (16 * 1024 * 1024)          /* maxBsonObjectSize advertised */
#define MD_MAX_BSON_INTERNAL (MD_MAX_BSON + 16 * 1024) /* what a BSON object may be on the wire */
#define MD_MAX_MESSAGE 48000000                  /* maxMessageSizeBytes advertised */
#define MD_MAX_BATCH 100000                      /* maxWriteBatchSize advertised */

/* ---- documents: immutable BSON bytes, reference counted (all under the global lock) ---- */
typedef struct mdoc {
    uint32_t refs;
    uint32_t len;
    uint32_t id_off;   /* offset of the _id element (its type byte) in data */
    uint8_t data[];
} mdoc;

/* Copies len bytes into a new document with one reference; NULL when there is no _id. */
mdoc *mdoc_new(const uint8_t *data, uint32_t len);
void mdoc_ref(mdoc *d);
void mdoc_unref(mdoc *d);               /* accepts NULL */
void mdoc_bson(const mdoc *d, bson_t *out); /* a static (read-only) bson_t over d's bytes */
void mdoc_id(const mdoc *d, bson_iter_t *it); /* it on d's _id element */
/* Compares two documents by _id in BSON order (the collection's order). */
int mdoc_id_cmp(const void *a, const void *b);

/* ---- arrays of structs holding a bson_iter_t (128-byte aligned; malloc is not) (store.c) ---- */
/* One iterator as an array element: the struct is padded to its alignment, a bare bson_iter_t
   (80 bytes, aligned 128) is not. */
typedef struct md_iter_slot {
    bson_iter_t it;
} md_iter_slot;
/* Resizes the array p of old_n items of size bytes to new_n items, aligned for bson_iter_t;
   p may be NULL; aborts when out of memory. Free with free(). */
void *md_iter_array_grow(void *p, size_t old_n, size_t new_n, size_t size);

/* ---- validation (validate.c) ---- */
/* True when data is a structurally valid BSON document of exactly len bytes. */
bool md_bson_valid(const uint8_t *data, uint32_t len);

/* ---- comparison in MongoDB's BSON order (bsoncmp.c) ---- */
int md_canon_type(bson_type_t t);
/* Compares two values (iters on elements): <0, 0, >0. Numbers compare numerically across types. */
int md_cmp_iter(const bson_iter_t *a, const bson_iter_t *b);
/* Compares two documents element by element (type, then name unless ignore_names, then value). */
int md_cmp_doc(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, bool ignore_names);
/* Appends the shell-like text of a value ("1", "\"abc\"", "ObjectId('...')") to s. */
void md_value_text(bson_string_t *s, const bson_iter_t *it);

/* ---- AVL tree of documents (tree.c) ---- */
typedef struct tnode tnode;
typedef int (*tree_cmp_fn)(const void *a, const void *b);
typedef struct mtree {
    tnode *root;
    size_t count;
    tree_cmp_fn cmp;
} mtree;
struct tnode {
    tnode *left, *right;
    int height;
    void *key;
};
/* Inserts key; returns NULL on success, or the key already present (nothing inserted). */
void *tree_insert(mtree *t, void *key);
/* Removes the key that compares equal to probe; returns it, or NULL. */
void *tree_remove(mtree *t, const void *probe);
void *tree_find(const mtree *t, const void *probe);
/* Calls fn on every key in order; stops when fn returns false. */
void tree_walk(const mtree *t, bool (*fn)(void *key, void *arg), void *arg, bool reverse);
/* The same from the first key >= from (reverse: the last key <= from). */
void tree_walk_from(const mtree *t, const void *from, bool (*fn)(void *key, void *arg), void *arg, bool reverse);
void tree_clear(mtree *t, void (*free_key)(void *key));

/* ---- storage (store.c) ---- */
typedef struct mindex {
    char *name;
    bson_t *spec;      /* {v:2, key:{...}, name, unique?...} as listed */
    bson_t *key;       /* the key pattern */
    bool unique;
    bool sparse;
    mtree tree;        /* unique indexes only: ikey entries */
} mindex;

typedef struct mcoll {
    char *name;
    bson_t *options;   /* create options, {} by default */
    bson_t *uuid_info; /* unused placeholder for info */
    mtree ids;         /* mdoc*, ordered by _id */
    mindex **idx;      /* idx[0] is _id_ */
    size_t nidx;
    uint64_t bytes;
} mcoll;

typedef struct mdb {
    char *name;
    mcoll **colls;
    size_t ncolls;
} mdb;

extern pthread_mutex_t md_lock;  /* the one storage lock */

mdb *store_db(const char *name, bool create);
void store_drop_db(const char *name);
mdb **store_dbs(size_t *n);
mcoll *store_coll(mdb *db, const char *name, bool create, bool *created);
void store_drop_coll(mdb *db, const char *name);
/* Inserts a copy of data; returns 0, or an error code with msg filled (11000 duplicate). */
int store_insert(mdb *db, mcoll *c, const uint8_t *data, uint32_t len, bson_string_t *msg);
/* Replaces old with a new document (same _id); returns 0 or an error code with msg. */
int store_replace(mdb *db, mcoll *c, mdoc *old, const uint8_t *data, uint32_t len, bson_string_t *msg);
void store_remove(mcoll *c, mdoc *d);
/* Adds an index from its spec; returns 0, 1 when an identical one exists, or an error code. */
int store_add_index(mdb *db, mcoll *c, const bson_t *spec, bson_string_t *msg);
int store_drop_index(mcoll *c, const char *name, bson_string_t *msg);
void store_free_all(void);

/* ---- filters (match.c) ---- */
/* Checks that filter is supported; returns 0 or an error code (2) with msg. */
int match_check(const bson_t *filter, bson_string_t *msg);
bool match_doc(const bson_t *filter, const bson_t *doc);
/* Looks up a dotted path without array traversal; false when missing. */
bool md_get_path(const bson_t *doc, const char *path, bson_iter_t *out);

/* ---- updates (update.c) ---- */
/* Applies u (operators or replacement) to doc; out receives the new document.
   Returns 0 or an error code with msg. */
int update_apply(const bson_t *doc, const bson_t *u, bson_t *out, bson_string_t *msg);
int update_check(const bson_t *u, bson_string_t *msg);
/* Builds the document an upsert inserts from the query's equalities and u. */
int update_upsert_doc(const bson_t *q, const bson_t *u, bson_t *out, bson_string_t *msg);

/* ---- cursors (cursor.c) ---- */
typedef struct mcursor {
    int64_t id;
    uint64_t conn;     /* the connection that opened it (md_conn) */
    char *ns;          /* "db.coll" */
    mdoc **docs;
    size_t n, pos;
} mcursor;
/* Takes ownership of docs (their references). */
mcursor *cursor_new(const char *ns, mdoc **docs, size_t n);
mcursor *cursor_get(int64_t id);
void cursor_free(mcursor *c); /* unregisters; accepts NULL */
void cursor_free_all(void);
/* Frees the cursors a closed connection left open (no client can continue them: libmongoc
   never resumes a cursor on another connection), so they hold no documents. */
void cursor_free_conn(uint64_t conn);
size_t cursor_count(void); /* open cursors (serverStatus metrics.cursor.open.total) */
/* The connection the calling thread serves (set by wire_serve), 0 outside one. */
extern __thread uint64_t md_conn;
/* Appends cursor:{firstBatch|nextBatch, id, ns} to reply, serving up to batch docs
   (batch < 0: no count limit) within 16 MiB; frees the cursor when exhausted or single.
   Returns the number of documents served. */
size_t cursor_reply(mcursor *c, bson_t *reply, int64_t batch, bool first, bool single, size_t max_docs);

/* ---- faults (fault.c) ---- */
void fault_init_env(void);
int fault_option(const char *name, const char *value); /* command-line --fault-X; 0 ok */
/* Before running cmd: returns 1 to drop the connection, 2 to fail (code, msg filled), 0 go. */
int fault_before(const char *cmd, int32_t *code, bson_string_t *msg);
/* After running cmd: returns 1 to drop the connection instead of replying. */
int fault_after(const char *cmd);
/* How many more find/getMore documents may be served before a drop; SIZE_MAX unlimited. */
size_t fault_docs_allowed(void);
/* Counts docs served; returns true when the drop is now due on the next find/getMore. */
void fault_docs_served(size_t n);
bool fault_docs_drop_now(void);
int fault_delay_ms(void);
int fault_command(const bson_t *cmd, bson_t *reply, bson_string_t *msg);

/* ---- commands (cmd*.c) ---- */
typedef struct mseq {
    const char *name;
    const uint8_t *data; /* concatenated documents */
    uint32_t len;
} mseq;

typedef struct mreq {
    const bson_t *body;
    const char *db;
    mseq *seqs;
    int nseqs;
    bool drop;      /* out: close the connection without a reply */
} mreq;

/* Runs a command; fills reply (initialized by the caller). */
void cmd_run(mreq *r, bson_t *reply);
void cmd_error(bson_t *reply, int32_t code, const char *codename, const char *fmt, ...)
    BSON_GNUC_PRINTF(4, 5);

typedef int (*cmd_fn)(mreq *r, const char *name, bson_t *reply);
int cmd_find(mreq *r, const char *name, bson_t *reply);
int cmd_getmore(mreq *r, const char *name, bson_t *reply);
int cmd_killcursors(mreq *r, const char *name, bson_t *reply);
int cmd_insert(mreq *r, const char *name, bson_t *reply);
int cmd_update(mreq *r, const char *name, bson_t *reply);
int cmd_delete(mreq *r, const char *name, bson_t *reply);
int cmd_count(mreq *r, const char *name, bson_t *reply);
int cmd_distinct(mreq *r, const char *name, bson_t *reply);
int cmd_aggregate(mreq *r, const char *name, bson_t *reply);

/* Helpers for commands. */
/* Iterates the documents of a kind-1 sequence or of an array in the body named field. */
typedef struct docs_iter {
    const mseq *seq;
    uint32_t off;
    bson_iter_t arr;
    bool use_arr;
} docs_iter;
bool docs_iter_init(docs_iter *di, mreq *r, const char *field);
bool docs_iter_next(docs_iter *di, const uint8_t **data, uint32_t *len);

/* Documents of c matching filter (NULL: all) in _id order (reverse: descending), at most
   stop_after; each with a reference the caller owns; *n their count. */
mdoc **md_query(mcoll *c, const bson_t *filter, bool reverse, size_t stop_after, size_t *n);
/* Checks a sort spec; returns 0 or an error code with msg. *id_order: sorting is by _id only
   (or none), *reverse: descending. */
int md_sort_check(const bson_t *spec, bool *id_order, bool *reverse, bson_string_t *msg);
/* Sorts docs by spec, stable. */
void md_sort_docs(const bson_t *spec, mdoc **docs, size_t n);
/* A document without the _id requirement (projected, computed), one reference. */
mdoc *mdoc_any(const uint8_t *data, uint32_t len);
/* The collection option/filter documents of a command: false when absent; error when not a doc. */
int opt_doc(const bson_t *body, const char *key, bson_t *out, bool *present, bson_t *reply);
/* Sorting: spec like {a:1, b:-1}; compares documents. */
int md_sort_cmp(const bson_t *spec, const bson_t *a, const bson_t *b);
/* Projection: writes the projected document into out. */
int md_project_check(const bson_t *proj, bson_string_t *msg);
void md_project(const bson_t *proj, const bson_t *doc, bson_t *out);

extern volatile int md_verbose;

#endif
