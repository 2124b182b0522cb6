/* engine.h: the database engines (PostgreSQL, MongoDB) behind one interface, so that dump,
   restore and verify are written once (lib/driver/dump.c, lib/driver/restore.c, lib/driver/verify.c).
   A NULL operation means "this engine cannot"; callers check before they call.
   Ownership of parts: dump ops (issue 4/5), restore ops (issue 6), verify ops (issue 7). */
#ifndef MNO_ENGINE_H
#define MNO_ENGINE_H

#include <stdint.h>
#include "error.h"
#include "stream.h"

typedef struct mno_engine mno_engine;   /* an open connection; engine-specific */

enum mno_role {
    MNO_ROLE_SOURCE = 1,  /* dump: read-only, one consistent snapshot */
    MNO_ROLE_TARGET = 2   /* restore / verify */
};

/* One section a dump will write. */
typedef struct mno_plan_item {
    char *ns;          /* "public.users" / "connec.people" */
    char *rule;        /* the scope rule, as text */
    char *query;       /* the SQL / filter it becomes */
    long long count;   /* rows it selects (filled for --plan), -1 if not counted */
    void *priv;        /* the engine's own; freed by the engine's plan_free */
} mno_plan_item;

typedef struct mno_plan {
    mno_plan_item *items;   /* in dump order: parents first */
    size_t n;
    char **unscoped;        /* tables/collections the scope does not mention */
    size_t n_unscoped;
    char **dangling;        /* --plan (counts): per link, the rows selected whose parent link or
                               declared foreign key resolves to no selected row (one line each) */
    size_t n_dangling;
    long long dangling_rows;
} mno_plan;

typedef struct mno_dump_opts {
    const char *tenant;       /* NULL with all */
    int all;                  /* --all: everything in scope, no tenant restriction */
    const char *scope_path;   /* scope file */
    int skip_unscoped;
    int count;                /* --plan: fill counts */
    int jobs;                 /* -j N */
    const char *orgs_from;    /* mongo: MnoHub archive giving the tenant's org uids */
    const char *hub_uri;      /* mongo: live MnoHub giving them */
    int retries;              /* mongo: reconnects per collection when the connection drops
                                 mid-cursor (the tool's default is 5); 0: none */
    int allow_dangling;       /* --allow-dangling: dangling references are a warning, not an error */
    int with_schema;          /* --with-schema: the header carries the source's schema (dump_schema) */
} mno_dump_opts;

struct mno_restore_probe;   /* restore.h */

typedef struct mno_restore_opts {
    int create;       /* --create missing tables/collections */
    int resume;       /* --resume */
    int dry_run;
    const char *archive_id;  /* the archive's identity (restore.h): the journal key */
    int run_ddl;      /* --create may run SQL the archive carries (pg "ddl"): the archive was
                         authenticated before anything was applied, or --trust-archive
                         (docs/restore.md); else tables are created from their columns only */
    unsigned *ddl_skipped;   /* when not NULL: incremented (atomically) for each table created
                                from its columns although the archive carried a ddl */
    int disable_triggers; /* --disable-triggers: the target's triggers (foreign keys' too) do not
                             fire in the section's transaction (pg: session_replication_role) */
} mno_restore_opts;

/*
 * verify --diff (lib/driver/verify_diff.c) partitions a section's rows by their key hash: the md5 of
 * the key's canonical form (pg: ROW(key columns)::text, the key columns in the begin's "key"
 * order; mongo: the BSON bytes of the document {"_id": value}), written as 32 lowercase hex
 * digits. A bucket is the set of rows whose key hash starts with a given hex prefix: both
 * sides agree on it whatever order their server sorts keys in (collations, mixed types).
 */
/* The key hash of a MongoDB document (its _id): 0, or -1 when it has no _id. */
int mno_keyhash_bson(const bson_t *doc, unsigned char out[16]);
/* The key hash of a PostgreSQL row: n key values (NULL: null; lens may be NULL). Returns 0 or
   -1 (out of memory). */
int mno_keyhash_pg(const char *const *vals, const size_t *lens, size_t n, unsigned char out[16]);
/* A bucket's share of the target's rows: count rows summing to sum (the md5s of their
   canonical forms); called once or more per prefix (the caller adds up). Returns 0 or -1. */
typedef int (*mno_bucket_cb)(void *arg, const char *prefix, uint64_t count, const mno_sum *sum,
                             mno_error *e);
/* A target row as list_buckets reports it. keyhash: its key hash (16 bytes); key: JSON array
   of the key's values in the archive's form (pg: the key columns' text or null; mongo: [_id
   as canonical Extended JSON]); v: the row in the archive's form (pg: {column: text|null};
   mongo: the document); digest: md5 of its canonical form. All borrowed for the call.
   Returns 0 to go on, 1 to stop, -1 on error (e filled). */
typedef int (*mno_row_cb)(void *arg, const unsigned char keyhash[16], const json_t *key,
                          const json_t *v, const unsigned char digest[16], mno_error *e);

/* verify: a table/collection of the target and its row count (list_ns). */
typedef struct mno_ns_count {
    char *ns;
    long long count;
} mno_ns_count;

typedef struct mno_engine_ops {
    const char *name;   /* the archive's engine value: "postgresql" | "mongodb" */
    const char *default_source;  /* the usual source kind: "mnohub" (pg) | "connec" (mongo) */
    /* Connects to uri in role. Returns 0 with *out set, or -1 with e filled (no credential in it). */
    int (*open)(mno_engine **out, const char *uri, int role, mno_error *e);
    /* Closes; accepts NULL. */
    void (*close)(mno_engine *en);

    /* ---- dump ---- */
    /* The kind of source the open database is: "mnohub", "connec" or "connector" (the
       archive header's "source"; the default scope is filters/KIND.scope). Returns a static
       string, or NULL with e filled. NULL op: default_source. */
    const char *(*source_kind)(mno_engine *en, mno_error *e);
    int (*plan)(mno_engine *en, const mno_dump_opts *o, mno_plan *plan, mno_error *e);
    /* Writes one section (begin, recs in key order, end) to w. */
    int (*dump_section)(mno_engine *en, const mno_plan_item *it, mno_writer *w, mno_error *e);
    void (*plan_free)(mno_engine *en, mno_plan *plan);
    /* After the last section: the references of the dumped rows that resolve to no row of
       the archive (*n, and in *text the first few, one per line, malloc'd; NULL when none).
       NULL: the engine does not check. Returns 0 or -1. */
    int (*dump_check)(mno_engine *en, long long *n, char **text, mno_error *e);
    /* mno-dump --with-schema, after plan: the header's schema object of the planned tables
       (pg: "pg_schema", pg_dump's pre-data and post-data, docs/format.md) in *out (the caller
       json_decrefs it). NULL: the engine carries no schema. Returns 0 or -1. */
    int (*dump_schema)(mno_engine *en, json_t **out, mno_error *e);

    /* ---- restore ---- */
    /* Whether section ns can be restored into target at all, from the names alone (no
       connection): mongo refuses the databases admin, local and config (whichever way the
       section's database is chosen), invalid database and collection names and reserved
       collections. The driver calls it for every section before anything is written (in
       the check pass when there is one, and before each section). Returns 0, or -1 with e
       filled (MNO_E_USAGE, naming the section). NULL: no such rule. */
    int (*restore_ns_check)(const char *target, const char *ns, mno_error *e);
    /* --create with an archive whose header carries a schema (pg: "pg_schema"): phase 0
       before the first section, phase 1 after the last (engine_pg_pgdump.h). *note
       (malloc'd or NULL) says why it was not run. NULL: the engine has no such schema. */
    int (*restore_schema)(mno_engine *en, const mno_restore_opts *o, const json_t *schema, int phase,
                          char **note, mno_error *e);
    int (*restore_begin)(mno_engine *en, const mno_restore_opts *o, const mno_section *s, mno_error *e);
    int (*restore_rec)(mno_engine *en, const mno_item *it, mno_error *e);
    /* Called after the reader has checked the section's end: make it durable (and journal it). */
    int (*restore_commit)(mno_engine *en, const mno_section *s, mno_error *e);
    /* Undoes everything since restore_begin. */
    void (*restore_abort)(mno_engine *en);
    /* Dry run: instead of restore_commit, reports what committing would find (struct in
       restore.h) and undoes everything since restore_begin. NULL: no probe. */
    int (*restore_probe)(mno_engine *en, const mno_section *s, struct mno_restore_probe *p,
                         mno_error *e);
    /* The restore journal (docs/restore.md): *found 1 with the journaled count and sum when
       section ns of archive archive_id was committed by an earlier restore; 0 when not (also
       when there is no journal yet). NULL: the engine keeps no journal (--resume refused).
       The protocol between lib/driver/restore.c and these ops is written in restore.h. */
    int (*journal_get)(mno_engine *en, const char *archive_id, const char *ns, int *found,
                       uint64_t *count, mno_sum *sum, mno_error *e);
    /* mno-restore -j N: the pairs of sections ns[0..n) (archive order) that must not be
       restored at the same time, as a malloc'd array *pairs of 2 * *npairs indexes into ns
       (pair k: (*pairs)[2k], (*pairs)[2k+1]; the caller frees it): pg, the tables of the
       target linked by a foreign key; mongo, sections going into the same collection (each
       paired with the one before it of that collection: a chain orders them all). The
       driver starts the later one of a pair only after the earlier one committed. NULL:
       no section depends on another. Returns 0 or -1 with e filled. */
    int (*restore_related)(mno_engine *en, const char *const *ns, size_t n, size_t **pairs,
                           size_t *npairs, mno_error *e);

    /* ---- verify ---- */
    /* Count and sum of the target's rows for section s; *exists 0 when the table/collection is
       missing, 2 when it lacks columns of the archive (PostgreSQL): *count its rows, no sum,
       and e's message names the columns (still returns 0). */
    int (*hash_section)(mno_engine *en, const mno_section *s, uint64_t *count, mno_sum *sum,
                        int *exists, mno_error *e);
    /* Starts hash_section(s) in the background so the caller can read on meanwhile; the
       next hash_section for the same s collects the result. NULL: not supported. */
    int (*hash_start)(mno_engine *en, const mno_section *s, mno_error *e);
    /* The target's rows of s whose key hash starts with one of the nparents prefixes of plen
       hex digits (sorted; plen 0: every row), counted and summed per prefix of clen digits
       (clen > plen): cb for each such prefix, once or more. Returns 0, or -1 with e filled. */
    int (*hash_buckets)(mno_engine *en, const mno_section *s, const char *const *parents,
                        size_t nparents, size_t plen, size_t clen, mno_bucket_cb cb, void *arg,
                        mno_error *e);
    /* Calls cb for each target row of s whose key hash starts with one of the n prefixes
       (hex, of any lengths), in no particular order. Returns 0, or -1 with e filled (also
       when cb fails). */
    int (*list_buckets)(mno_engine *en, const mno_section *s, const char *const *prefixes,
                        size_t n, mno_row_cb cb, void *arg, mno_error *e);
    /* The tables/collections of the target in the schemas (pg) or database (mongo) that the
       namespaces ns[0..n) live in, with their row counts (-1 for those among ns: not
       counted), as a malloc'd array (*out, *nout) that the caller frees with
       mno_ns_counts_free. Returns 0 or -1. */
    int (*list_ns)(mno_engine *en, const char *const *ns, size_t n, mno_ns_count **out,
                   size_t *nout, mno_error *e);
    /* What is wrong in the target's s besides its rows (pg: a sequence behind the values of
       a column it feeds), after hash_section found it: *problems a new array of objects with
       at least "what" (json_decref it), or NULL when nothing is. NULL: not supported. */
    int (*section_problems)(mno_engine *en, const mno_section *s, json_t **problems, mno_error *e);
} mno_engine_ops;

/* Frees list_ns's array. Accepts NULL. */
void mno_ns_counts_free(mno_ns_count *a, size_t n);

extern const mno_engine_ops mno_engine_pg;
extern const mno_engine_ops mno_engine_mongo;

/* The engine for a URI: "mongodb://" or "mongodb+srv://" -> mongo, anything else -> pg. */
const mno_engine_ops *mno_engine_for_uri(const char *uri);
/* The engine for an archive's engine kind. */
const mno_engine_ops *mno_engine_for_kind(mno_engine_kind k);
/* The engine an archive's header line (it, read from input) names, when the target URI is of
   that engine; shown is the target as messages may print it (redacted). NULL with e filled:
   an unknown engine (MNO_E_FORMAT) or a target of the other engine (MNO_E_USAGE), both at
   the header's line. */
const mno_engine_ops *mno_engine_for_archive(const mno_item *it, const char *input, const char *target,
                                             const char *shown, mno_error *e);

#endif
