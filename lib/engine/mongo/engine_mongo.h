/* engine_mongo.h: the MongoDB engine's connection state, shared by its per-concern files
   (engine_mongo.c: connect; engine_mongo_dump.c; engine_mongo_restore.c; engine_mongo_verify.c). */
#ifndef MNO_ENGINE_MONGO_H
#define MNO_ENGINE_MONGO_H

#include <pthread.h>

#include <mongoc/mongoc.h>
#include "engine.h"

/* The engine handle: mno_engine * points to one of these (cast with MNO_MONGO()). */
typedef struct mno_mongo {
    mongoc_client_t *client;
    mongoc_uri_t *uri;
    char *dbname;           /* the URI's database, or NULL */
    int role;
    char *uri_redacted;     /* for messages: no password */
    void *dump;             /* engine_mongo_dump.c's state */
    void *restore;          /* engine_mongo_restore.c's state */
    void *verify;           /* engine_mongo_verify.c's state */
} mno_mongo;

#define MNO_MONGO(en) ((mno_mongo *)(void *)(en))

/* Fills e from a bson_error_t: "what: server text (code N)". Returns -1. */
int mno_mongo_err(mno_error *e, const bson_error_t *be, const char *object, const char *what);

/* The toolkit's own collections in a target database (docs/restore.md): every name starts
   with MNO_MONGO_OWN_PREFIX; dump, verify and restore leave them out of listings. */
#define MNO_MONGO_OWN_PREFIX "mno_restore_"
#define MNO_MONGO_JOURNAL "mno_restore_journal"           /* one document per restored section */
#define MNO_MONGO_STAGING_PREFIX "mno_restore_staging."   /* + collection: a section being read */

/* The live tools' own collection (docs/live.md): the journal of mno-freeze --destroy on a
   Connec! database, one document per tenant. Left out of listings like the restore's. */
#define MNO_MONGO_LIVE_PREFIX "mno_live_"
#define MNO_MONGO_LIVE_JOURNAL "mno_live_journal"

/* 1 if collection name is one of the toolkit's own (MNO_MONGO_OWN_PREFIX, MNO_MONGO_LIVE_PREFIX), else 0. */
int mno_mongo_is_own_collection(const char *name);

/* Frees the restore state (m->restore). Accepts NULL. */
void mno_mongo_restore_free(mno_engine *en);
/* Stops and joins a pending verify hash (m->verify). Accepts NULL. */
void mno_mongo_verify_free(mno_engine *en);

/* ---- dump helpers (engine_mongo_dump.c, engine_mongo_orgs.c) ---- */

/* The scope set a `match FIELD in SET` rule names for Connec!: the tenant's organization uids. */
#define MNO_MONGO_SET_ORGS "org_uids"

/* doc as canonical Extended JSON v2, parsed into a new json_t (caller decrefs); NULL on failure. */
json_t *mno_mongo_bson_to_json(const bson_t *doc);

/*
 * The filter that resumes an _id-ordered read after the document whose _id is last: filter
 * AND _id sorts after last, in MongoDB's order across types (a bare $gt only matches values
 * of last's own type class). Initializes out (caller destroys). Returns 0, or -1 on out of memory.
 */
int mno_mongo_after_filter(const bson_t *filter, const bson_value_t *last, bson_t *out);

/*
 * The tenant's MnoHub organization uids, sorted: from o->orgs_from (a MnoHub archive of the
 * same tenant: the uid of every public.organizations record) or o->hub_uri (a live MnoHub:
 * organizations whose mnoe_tenant_id is the tenant named o->tenant). Returns 0 with *uids
 * (free with mno_mongo_orgs_free) and *n, or -1 with e filled.
 */
int mno_mongo_tenant_orgs(const mno_dump_opts *o, char ***uids, size_t *n, mno_error *e);
void mno_mongo_orgs_free(char **uids, size_t n);

/* Frees the dump state (m->dump). Accepts NULL. */
void mno_mongo_dump_free(mno_engine *en);

/* ops, by file */
int  mno_mongo_open(mno_engine **out, const char *uri, int role, mno_error *e);
void mno_mongo_close(mno_engine *en);
int  mno_mongo_plan(mno_engine *en, const mno_dump_opts *o, mno_plan *plan, mno_error *e);
int  mno_mongo_dump_section(mno_engine *en, const mno_plan_item *it, mno_writer *w, mno_error *e);
void mno_mongo_plan_free(mno_engine *en, mno_plan *plan);
/* Whether section ns can go into the mongodb target uri (engine.h restore_ns_check). */
int  mno_mongo_restore_ns_check(const char *uri, const char *ns, mno_error *e);
int  mno_mongo_restore_begin(mno_engine *en, const mno_restore_opts *o, const mno_section *s, mno_error *e);
int  mno_mongo_restore_rec(mno_engine *en, const mno_item *it, mno_error *e);
/* The restore journal entry of section ns of archive archive_id (engine.h journal_get). */
int  mno_mongo_journal_get(mno_engine *en, const char *archive_id, const char *ns, int *found,
                           uint64_t *count, mno_sum *sum, mno_error *e);
struct mno_restore_probe;
/* Dry run: what committing the section would find (engine.h restore_probe). */
int  mno_mongo_restore_probe(mno_engine *en, const mno_section *s, struct mno_restore_probe *p,
                             mno_error *e);
int  mno_mongo_restore_commit(mno_engine *en, const mno_section *s, mno_error *e);
void mno_mongo_restore_abort(mno_engine *en);
int  mno_mongo_restore_related(mno_engine *en, const char *const *ns, size_t n, size_t **pairs,
                               size_t *npairs, mno_error *e);
int  mno_mongo_hash_section(mno_engine *en, const mno_section *s, uint64_t *count, mno_sum *sum,
                            int *exists, mno_error *e);
int  mno_mongo_hash_start(mno_engine *en, const mno_section *s, mno_error *e);
int  mno_mongo_hash_buckets(mno_engine *en, const mno_section *s, const char *const *parents,
                            size_t nparents, size_t plen, size_t clen, mno_bucket_cb cb, void *arg,
                            mno_error *e);
int  mno_mongo_list_buckets(mno_engine *en, const mno_section *s, const char *const *prefixes,
                            size_t n, mno_row_cb cb, void *arg, mno_error *e);
int  mno_mongo_list_ns(mno_engine *en, const char *const *ns, size_t n, mno_ns_count **out,
                       size_t *nout, mno_error *e);

/* Starts fn(arg) in a thread that reads from the server (pthread_create): the thread blocks
   the tool's asynchronous signals (INT, TERM, HUP, QUIT, PIPE), so they reach the caller's
   thread, which owns the output and its cleanup. Returns 0 or pthread_create's error. */
int  mno_mongo_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
