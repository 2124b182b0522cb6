/* live.h: the driver of the live-environment tools (mno-disconnect, mno-rename-tenant,
   mno-freeze; docs/live.md): which rows of a live PostgreSQL database they change (the scope
   and a rules file), the plan, the undo archive written before any change, one transaction,
   and the undo that puts the prior values back. */
#ifndef MNO_LIVE_H
#define MNO_LIVE_H

#include <stddef.h>
#include "buf.h"
#include "error.h"

/*
 * A tool is a thin main() over these calls:
 *
 *     mno_live_cfg c = MNO_LIVE_CFG_INIT;     fill c.tool, c.target, c.tenant, ...
 *     mno_live *l;
 *     if (mno_live_open(&l, &c, &e) < 0) ...  connect, begin, rules, scope, counts
 *     --plan:  mno_live_plan_text(l, &buf)    print it, mno_live_free (rolls back)
 *     else:    mno_live_run(l, &e)            undo archive, changes, commit
 *     --undo:  mno_live_undo(&c, FILE, &res, &e)
 *
 * Nothing here prints; no URI or credential reaches a message, the plan or an archive.
 */

/* What to change and where. Strings are borrowed for the life of the mno_live. */
typedef struct mno_live_cfg {
    const char *tool;        /* "mno-disconnect": messages, the undo archive's header */
    const char *action;      /* "disconnect" | "rename" | "freeze" */
    const char *target;      /* the database URI (PostgreSQL) */
    const char *tenant;      /* the tenant (rename: the old name) */
    const char *to;          /* rename: the new name; NULL for the other tools. With it the
                                changed columns are the scope's root columns (set to `to`),
                                the rules file gives only `unique` rules */
    int merge;               /* rename: `to` may already hold rows (no uid may collide) */
    const char *rules_path;  /* the rules file; NULL: SCOPE_DIR/rules_name */
    const char *rules_name;  /* "disconnect.rules" */
    const char *scope_path;  /* the scope file; NULL: SCOPE_DIR/KIND.scope */
    const char *scope_dir;   /* NULL: "filters" */
    const char *undo_file;   /* the undo archive; NULL: the default name (mno_live_undo_name) */
    int verified;            /* freeze: the change needs proofs: the reports below (every source
                                kind the rules' `verified` lines name, and the target's), then
                                the re-check of the source against the target kind's report */
    const char *const *reports;  /* mno-verify --json report files */
    size_t nreports;
    int destroy;             /* freeze --destroy: the tenant must be frozen (no row to change);
                                the tables to delete are planned (mno_live_destroy_tables) */
    const char *frozen_by;   /* destroy: the freeze's undo archive: the re-check compares the
                                archive with the source as it was before the freeze (the
                                freeze undone inside a savepoint, then rolled back) */
    const char *final_file;  /* destroy: the final archive; NULL: the default name */
    const char *connec;      /* freeze of a MnoHub target: the Connec! (MongoDB) database, re-checked
                                against the connec report too (the tenant's organizations from
                                the target) */
    const char *hub;         /* destroy on a Connec! target: the live MnoHub: the tenant must be
                                frozen there; its organizations come from it */
    const char *orgs_from;   /* destroy on a Connec! target, instead of hub: the final archive of the
                                MnoHub's destroy (the tenant was frozen, then destroyed) */
    long batch;              /* destroy on a Connec! target: documents per delete (0: 1000) */
    long kill_after;         /* test hook (MNO_TEST_DESTROY_KILL): SIGKILL itself after this many
                                delete batches of a Connec! destroy; 0: never */
} mno_live_cfg;

#define MNO_LIVE_CFG_INIT {NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0, NULL, NULL, \
                           NULL, NULL, NULL, 0, 0}

/* One table the tool changes. */
typedef struct mno_live_table {
    char *ns;                /* "public.organizations" */
    char *rule;              /* the rule, as text ("set sync_enabled = 'false'") */
    char *stmt;              /* the UPDATE as --plan shows it (values inlined, for reading) */
    long long rows;          /* rows it changes now */
} mno_live_table;

typedef struct mno_live mno_live;

/*
 * Connects to c->target, opens the transaction (REPEATABLE READ), finds the source kind, reads
 * the rules (those of this kind) and the scope, checks them against the catalog (columns,
 * keys; errors cite the rules file and line) and counts, per table, the rows the change
 * would touch: the tenant's rows whose columns are not all at the rule's values yet.
 * Rename (c->to): refused when the tenant is unknown, when `to` already holds rows (unless
 * c->merge) and always when a `unique` column's value is in both tenants (the message lists
 * the colliding values). Returns 0 with *out set (free with mno_live_free: rolls back), or -1
 * with e filled (nothing changed).
 */
int mno_live_open(mno_live **out, const mno_live_cfg *c, mno_error *e);

/* The tables in rules order (*n of them). Owned by l. */
const mno_live_table *mno_live_tables(const mno_live *l, size_t *n);
/* The rows all tables would change (0: nothing to change). */
long long mno_live_total(const mno_live *l);
/* "mnohub" | "connector"; the database's name (no host, no credential). Owned by l. */
const char *mno_live_source_kind(const mno_live *l);
const char *mno_live_database(const mno_live *l);
/* Rename: 1 when the old tenant has no rows and the new one has (already renamed). */
int mno_live_renamed(const mno_live *l);

/* Appends the --plan text: one line per table, NS <TAB> STATEMENT <TAB> ROWS. Returns 0 or -1. */
int mno_live_plan_text(const mno_live *l, mno_buf *out, mno_error *e);

/*
 * Does it: when nothing is to change, returns 0 and writes nothing. Else writes the undo
 * archive (c->undo_file, else the default name; an existing file is an error): an mnoa
 * archive, one section per table with the key and the changed columns' prior values of each
 * row it changes (locked FOR UPDATE), its begin's "live" object holding the values the tool
 * sets; mode 0600, fsynced and renamed into place before anything changes. Then the UPDATEs
 * and the commit. Returns 0 (mno_live_undo_file says where the archive is), or -1 with e
 * filled (rolled back: nothing changed; an archive already written is left, and its undo
 * finds nothing to do).
 */
int mno_live_run(mno_live *l, mno_error *e);
/* The undo archive mno_live_run wrote (NULL: none). Owned by l. */
const char *mno_live_undo_file(const mno_live *l);
/* Closes the connection (rolling back what was not committed) and frees. Accepts NULL. */
void mno_live_free(mno_live *l);

/* The default undo archive name: "TOOL-TENANT-YYYYMMDDTHHMMSSZ.undo.mnoa" (UTC now; a
   character of the tenant that is not [A-Za-z0-9._-] becomes '_') into out (n bytes). */
void mno_live_undo_name(const char *tool, const char *tenant, char *out, size_t n);

/* What an undo did, per section of the archive. */
typedef struct mno_live_undone {
    char *ns;
    long long restored;      /* rows set back to their prior values */
    long long already;       /* rows that already held them */
} mno_live_undone;

typedef struct mno_live_undo_res {
    mno_live_undone *t;
    size_t n;
    long long restored;      /* total */
    char *tenant;            /* the archive header's tenant */
} mno_live_undo_res;

/*
 * Puts back the prior values that the undo archive file holds (written by c->tool's
 * mno_live_run), in one transaction on c->target: each row, found by its key and locked, is
 * set back when its columns still hold what the tool set; left alone when they already hold
 * the prior values; and when they hold anything else (someone else wrote since) or the row is
 * gone, nothing at all is changed and the error (MNO_E_CONFLICT) names those keys. The
 * archive is checked as it is read (sums, trailer): a damaged one changes nothing. Returns 0
 * with *res filled (release with mno_live_undo_res_release), or -1 with e filled (*res empty).
 */
int mno_live_undo(const mno_live_cfg *c, const char *file, mno_live_undo_res *res, mno_error *e);
void mno_live_undo_res_release(mno_live_undo_res *res);


/* ---- reports (text the tools print; nothing here prints) ---- */

/*
 * Appends the report of l to out. json 0: text lines,
 *     TOOL: tenant 'T' in KIND database 'DB': N rows to change     (or ": nothing to change")
 *       NS  N rows  RULE                                            (one per table)
 * and after a run "undo archive: FILE" and "done: N rows changed in one transaction";
 * json 1: one object {"tool","action","tenant","to","source","database","plan","tables":
 * [{"ns","rows","statement"}],"rows","changed","undo_file"} and a newline. done: after
 * mno_live_run. Returns 0 or -1 (out of memory).
 */
int mno_live_report(const mno_live *l, int json, int plan, int done, mno_buf *out);
/* The same for an undo: {"tool","action":"undo","tenant","archive","tables":[{"ns","restored",
   "already"}],"restored"} or text lines. Returns 0 or -1. */
int mno_live_undo_report(const mno_live_cfg *c, const char *file, const mno_live_undo_res *res, int json,
                         mno_buf *out);

/* ---- mno-freeze's proofs (lib/driver/live_verified.c) ---- */

struct json_t;
struct mno_engine;
struct mno_plan;
/*
 * Checks the mno-verify --json reports files[0..n): each is a report of tenant, verdict ok and
 * every section ok (else MNO_E_CONFLICT naming the report and the sections); among them one
 * of each source kind need[0..nneed) and of target_kind (else MNO_E_USAGE naming the kind
 * missing). *target_sections: the target kind's report's "sections" (a new reference; the
 * caller decrefs). Returns 0 or -1 with e filled.
 */
int mno_live_reports_check(const char *const *files, size_t n, const char *tenant, const char *const *need,
                           size_t nneed, const char *target_kind, struct json_t **target_sections,
                           mno_error *e);
struct mno_engine_ops;
/*
 * Dumps the plan's sections with ops (the tenant's rows or documents now; PostgreSQL: in the
 * engine's open transaction) into an unlinked temporary file and compares each section's count
 * and sum with the report's expected ones (the archive's): any difference, or a section on one
 * side only, is an error (MNO_E_CONFLICT) naming those tables or collections. Returns 0 or -1
 * with e filled.
 */
int mno_live_recheck(const struct mno_engine_ops *ops, struct mno_engine *en, const struct mno_plan *plan,
                     const struct json_t *sections, const char *kind, mno_error *e);
/* The same comparison for the archive file path (its declared sums: check it first); unit is
   "rows" or "documents" for the message. Returns 0 or -1 with e filled. */
int mno_live_archive_matches(const char *path, const struct json_t *sections, const char *unit, mno_error *e);
/* The "sections" of the report (among files[0..n), already checked) whose archive is of source
   kind (a new reference), or NULL with e filled. */
struct json_t *mno_live_report_sections(const char *const *files, size_t n, const char *kind, mno_error *e);

/* ---- mno-freeze --destroy ---- */

/* The tables --destroy deletes from, children first (*n of them): ns, the rule, the DELETE as
   --plan shows it, the tenant's rows now. Owned by l. Only after mno_live_open with destroy. */
const mno_live_table *mno_live_destroy_tables(const mno_live *l, size_t *n);
/* The rows (documents) --destroy deletes. */
long long mno_live_destroy_total(const mno_live *l);
/* 1 when --destroy has something to do (rows or documents to delete, or an interrupted
   Connec! destroy to finish); 0: nothing to change. */
int mno_live_destroy_pending(const mno_live *l);
/* "rows" (PostgreSQL) or "documents" (Connec!), for messages. */
const char *mno_live_destroy_unit(const mno_live *l);
/*
 * Writes the final archive (c->final_file, else "mno-freeze-TENANT-TIME.final.mnoa"; an existing
 * file is an error): every section of the tenant's dump plan (global tables included, they are
 * not deleted), mode 0600, fsynced, renamed into place; reads it back and checks it (counts,
 * sums, trailer); then deletes, in the same transaction as the dump, exactly the rows it holds
 * (by key, children before parents; each key must delete one row) from every table that is not
 * global, and commits. Returns 0, or -1 with e filled (rolled back; a final archive already
 * written is left). mno_live_undo_file names the final archive afterwards.
 */
int mno_live_destroy(mno_live *l, mno_error *e);
/* --destroy's report: plan 1: one line per table, NS <TAB> DELETE ... <TAB> ROWS (json: the
   same as an object); plan 0, done 1: what was deleted and the final archive. Returns 0 or -1. */
int mno_live_destroy_report(const mno_live *l, int json, int plan, mno_buf *out);

/* ---- the tools' command line (lib/driver/live_args.c) ---- */

/* A live tool's command line, parsed. */
typedef struct mno_live_args {
    mno_live_cfg c;          /* what to do (its strings point into argv and a) */
    const char *undo;        /* --undo FILE (mno-freeze: --unfreeze FILE) */
    int plan, json, yes;
    const char *reports[64]; /* --verified (c.reports points here) */
    char scope_dir[4096];    /* c.scope_dir: $MNO_SCOPE_DIR, else filters/ beside the tools */
} mno_live_args;

#define MNO_LIVE_ARGS_HELP 1
#define MNO_LIVE_ARGS_VERSION 2

/*
 * Parses the command line of tool ("mno-disconnect", "mno-rename-tenant" or "mno-freeze";
 * each takes its own options, docs/live.md): the options, the defaults from the environment
 * (MNO_TARGET; mno-freeze: MNO_CONNEC, MNO_HUB and the test hook MNO_TEST_DESTROY_KILL) and the
 * combinations refused. Returns 0 (a is ready to run), MNO_LIVE_ARGS_HELP or
 * MNO_LIVE_ARGS_VERSION (the tool prints its usage or version), or -1 with the usage error in
 * msg (n bytes).
 */
int mno_live_args_parse(mno_live_args *a, const char *tool, int argc, char **argv, char *msg, size_t n);

/* Where the run's output goes (the tool's own writer: lib never prints): n bytes of p to fd 1
   (the report) or 2 (notes, e.g. rename's checklist). Returns 0, or -1 when it cannot write. */
typedef int (*mno_live_out)(void *arg, int fd, const char *p, size_t n);

/*
 * Does what a asks: the undo, the plan, the change (its summary first, then the report), or
 * mno-freeze --destroy (the plan without --yes: then an error). Returns 0 (exit 0), or -1 with
 * e filled (exit 2; "cannot write to stdout" when out fails).
 */
int mno_live_cli_run(const mno_live_args *a, mno_live_out out, void *arg, mno_error *e);

#endif
