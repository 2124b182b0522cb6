/* engine_pg.h: the PostgreSQL engine's connection state, shared by its per-concern files
   (engine_pg.c: connect and session; engine_pg_dump.c; engine_pg_restore.c; engine_pg_verify.c). */
#ifndef MNO_ENGINE_PG_H
#define MNO_ENGINE_PG_H

#include <libpq-fe.h>
#include "engine.h"

/* The engine handle: mno_engine * points to one of these (cast with MNO_PG()). */
typedef struct mno_pg {
    PGconn *conn;
    int role;               /* MNO_ROLE_SOURCE / MNO_ROLE_TARGET */
    char *uri_redacted;     /* for messages: no password */
    char *conninfo;         /* the full URI, for extra worker connections (-j); never printed */
    void *dump;             /* engine_pg_dump.c's state */
    void *restore;          /* engine_pg_restore.c's state */
    void *verify;           /* engine_pg_verify.c's state */
} mno_pg;

#define MNO_PG(en) ((mno_pg *)(void *)(en))

/* Opens a session on conninfo and applies mno_pg_session_setup. Returns a connection or NULL with e filled. */
PGconn *mno_pg_connect(const char *conninfo, const char *redacted, mno_error *e);
/* The session settings every dump, restore and verify session uses (see engine_pg.c). Returns 0 or -1. */
int mno_pg_session_setup(PGconn *c, mno_error *e);
/* Runs sql (no result rows expected). Returns 0, or -1 with e filled with the server's text. */
int mno_pg_exec(PGconn *c, const char *sql, const char *object, mno_error *e);
struct mno_buf;
/* Appends v (n bytes; NULL: null, as \N) in COPY's text format (backslash, newline, carriage
   return and tab escaped). Returns 0 or -1 (out of memory). */
int mno_pg_copy_value(struct mno_buf *b, const char *v, size_t n);
/* Fills e from a failed result/connection: "what: server text" (trimmed). Returns -1. */
int mno_pg_err(mno_error *e, PGconn *c, const PGresult *r, const char *object, const char *what);
/* A section's ns quoted for SQL ("schema"."table"; the ns form: pgname.h), malloc'd (caller
   frees). NULL when ns is malformed or out of memory. */
char *mno_pg_quote_ns(PGconn *c, const char *ns);

/* A target relation, named by schema and table and resolved in the catalog (never through
   search_path): mno_pg_rel_parse, then mno_pg_rel_lookup. */
typedef struct mno_pg_rel {
    char *schema, *table;   /* the ns's parts */
    char *qname;            /* "schema"."table" */
    char *from;             /* what a query reads the table's own rows from: ONLY "schema"."table"
                               (not its inheritance children's rows); a partitioned table itself */
    char oid[32];           /* "" when the table is not there */
    char relkind;
} mno_pg_rel;
/* Parses a section's ns into rel (release with mno_pg_rel_release): refuses a malformed or
   unqualified ns and a reserved schema (pg_*, information_schema, mno_migrate), naming ns and
   the archive line. Returns 0 or -1 with e filled. */
int mno_pg_rel_parse(const char *ns, long long line, mno_pg_rel *rel, mno_error *e);
/* Looks rel up by (schema, table) in pg_class/pg_namespace (parameters): returns 1 found (oid,
   relkind, from set), 0 not there, -1 with e filled (also: the relation is not a table). */
int mno_pg_rel_lookup(PGconn *c, const char *ns, long long line, mno_pg_rel *rel, mno_error *e);
/* Frees rel's strings. Accepts NULL. */
void mno_pg_rel_release(mno_pg_rel *rel);

/* Creates the restore journal (mno_migrate.journal) when it is not there, inside the caller's
   transaction (engine_pg_restore.c). known: it is known to exist. Returns 0 or -1. */
int mno_pg_journal_ensure(PGconn *c, int known, const char *ns, mno_error *e);

/* ops, by file */
int  mno_pg_open(mno_engine **out, const char *uri, int role, mno_error *e);
void mno_pg_close(mno_engine *en);
/* "connector" for a connector database (organizations.tenant, no tenants table), else "mnohub". */
const char *mno_pg_source_kind(mno_engine *en, mno_error *e);
int  mno_pg_plan(mno_engine *en, const mno_dump_opts *o, mno_plan *plan, mno_error *e);
int  mno_pg_dump_section(mno_engine *en, const mno_plan_item *it, mno_writer *w, mno_error *e);
void mno_pg_plan_free(mno_engine *en, mno_plan *plan);
int  mno_pg_dump_check(mno_engine *en, long long *n, char **text, mno_error *e);
int  mno_pg_dump_schema(mno_engine *en, json_t **out, mno_error *e);
int  mno_pg_restore_begin(mno_engine *en, const mno_restore_opts *o, const mno_section *s, mno_error *e);
int  mno_pg_restore_rec(mno_engine *en, const mno_item *it, mno_error *e);
int  mno_pg_restore_commit(mno_engine *en, const mno_section *s, mno_error *e);
void mno_pg_restore_abort(mno_engine *en);
int  mno_pg_hash_section(mno_engine *en, const mno_section *s, uint64_t *count, mno_sum *sum,
                         int *exists, mno_error *e);
int  mno_pg_hash_start(mno_engine *en, const mno_section *s, mno_error *e);
int  mno_pg_hash_buckets(mno_engine *en, const mno_section *s, const char *const *parents,
                         size_t nparents, size_t plen, size_t clen, mno_bucket_cb cb, void *arg,
                         mno_error *e);
int  mno_pg_list_buckets(mno_engine *en, const mno_section *s, const char *const *prefixes,
                         size_t n, mno_row_cb cb, void *arg, mno_error *e);
int  mno_pg_section_problems(mno_engine *en, const mno_section *s, json_t **problems, mno_error *e);
int  mno_pg_list_ns(mno_engine *en, const char *const *ns, size_t n, mno_ns_count **out,
                    size_t *nout, mno_error *e);
int  mno_pg_restore_probe(mno_engine *en, const mno_section *s, struct mno_restore_probe *p, mno_error *e);
int  mno_pg_journal_get(mno_engine *en, const char *archive_id, const char *ns, int *found,
                        uint64_t *count, mno_sum *sum, mno_error *e);
int  mno_pg_restore_related(mno_engine *en, const char *const *ns, size_t n, size_t **pairs,
                            size_t *npairs, mno_error *e);
/* Frees engine_pg_restore.c's state (pg->restore); called by mno_pg_close. Accepts NULL. */
void mno_pg_restore_free(mno_pg *pg);
/* Frees engine_pg_dump.c's state (pg->dump), stopping its -j workers; called by mno_pg_close. Accepts NULL. */
void mno_pg_dump_free(mno_pg *pg);
/* Frees engine_pg_verify.c's state (pg->verify); called by mno_pg_close. Accepts NULL. */
void mno_pg_verify_free(mno_pg *pg);

#endif
