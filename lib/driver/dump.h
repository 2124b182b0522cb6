/* dump.h: the dump driver, written once against the engine ops (lib/engine/engine.h): source -> plan -> archive. */
#ifndef MNO_DUMP_H
#define MNO_DUMP_H

#include "buf.h"
#include "engine.h"
#include "error.h"
#include "progress.h"

/*
 * mno-dump is a thin main() over these calls:
 *
 *     mno_dump_cfg c = MNO_DUMP_CFG_INIT;      fill c.source, c.o.tenant, ...
 *     mno_dump *d;
 *     if (mno_dump_open(&d, &c, &e) < 0) ...   connect, choose the scope, plan
 *     plan = mno_dump_plan(d);                 plan->unscoped: what --skip-unscoped leaves out
 *     --plan:  mno_dump_plan_text(d, &buf, &e), print it
 *     else:    mno_dump_run(d, progress, &e)   write the archive
 *     mno_dump_free(d);
 *
 * The engine does the engine's part (plan, dump_section: one section's begin, records in key
 * order, end); this file does the rest, the same for every engine: the scope file by source
 * kind, the unscoped check, the archive header and trailer, the output (FILE.partial, mode
 * 0600, fsync, rename on success, removed on any error; stdout when no file; zstd) and
 * progress. No URI or credential ever reaches a message or the archive header.
 */

/* What to dump and where. Strings are borrowed for the life of the mno_dump. */
typedef struct mno_dump_cfg {
    const char *source;      /* the source URI (required): mongodb://... -> MongoDB, else PostgreSQL */
    mno_dump_opts o;         /* engine options: tenant | all, scope_path (NULL: the default
                                scope, below), skip_unscoped, jobs, orgs_from | hub_uri,
                                retries. o.count is set from `counts`. */
    const char *scope_dir;   /* the default scope is SCOPE_DIR/KIND.scope, KIND the source kind
                                (mnohub, connec, connector); NULL: "filters" */
    int counts;              /* count each plan item's rows while planning (for --plan) */
    const char *output;      /* archive file; NULL or "-": stdout */
    int zstd;                /* compress with zstd; implied by an output name ending in ".zst" */
    int level;               /* zstd level (default 3) */
    int threads;             /* zstd worker threads (0: single-threaded) */
} mno_dump_cfg;

#define MNO_DUMP_CFG_INIT {NULL, {0}, NULL, 0, NULL, 0, 3, 0}

/* The tool's producer string in the archive header. */
#define MNO_DUMP_PRODUCER "mno-dump " MNO_VERSION_STR

typedef struct mno_dump mno_dump;

/*
 * Connects to c->source as a dump source, finds the source kind (engine op source_kind) and
 * the scope file (c->o.scope_path, else c->scope_dir/KIND.scope), and plans. A table or
 * collection the scope does not mention is an error (MNO_E_SCOPE, naming all of them and the
 * scope file) unless c->o.skip_unscoped; with it they are listed in the plan's unscoped
 * array for the caller to report. c is borrowed until mno_dump_free. Returns 0 with *out
 * set (free with mno_dump_free), or -1 with e filled (nothing written anywhere).
 */
int mno_dump_open(mno_dump **out, const mno_dump_cfg *c, mno_error *e);

/* The plan (items in dump order, parents first; unscoped names). Owned by d. */
const mno_plan *mno_dump_plan(const mno_dump *d);
/* The engine ("postgresql" | "mongodb"), the source kind ("mnohub" | "connec" | "connector")
   and the scope file used. Owned by d. */
const char *mno_dump_engine(const mno_dump *d);
const char *mno_dump_source_kind(const mno_dump *d);
const char *mno_dump_scope_path(const mno_dump *d);
/* "table" (postgresql) or "collection" (mongodb), for messages. */
const char *mno_dump_object_word(const mno_dump *d);

/*
 * Appends the --plan text to out: one line per plan item, in dump order, four fields
 * separated by tabs:  NS <TAB> RULE <TAB> QUERY <TAB> COUNT   (COUNT "-" when not counted;
 * tabs and line breaks inside a field become spaces). Returns 0, or -1 (out of memory).
 */
int mno_dump_plan_text(const mno_dump *d, mno_buf *out, mno_error *e);

/*
 * Writes the archive: header {engine, source, tenant (null with --all), scope (the file's
 * base name), created, producer MNO_DUMP_PRODUCER, id}, one section per plan item through the
 * engine's dump_section, the trailer. To c->output via FILE.partial (mode 0600), fsynced and
 * renamed only when everything succeeded; on any error the partial file is removed and no
 * FILE appears. progress: per-section rows and bytes (NULL: none). Call at most once.
 * Returns 0, or -1 with e filled.
 */
int mno_dump_run(mno_dump *d, mno_progress *progress, mno_error *e);

/*
 * The same onto out (borrowed; opened by the caller, who finishes or aborts it): header,
 * sections, trailer. mno-verify --source runs it into a pipe. Returns 0, or -1 with e filled.
 */
int mno_dump_run_to(mno_dump *d, mno_out *out, mno_progress *progress, mno_error *e);

/* After mno_dump_run with o.allow_dangling: the dangling references it found ("N dangling
   references: ...:\n" and one line per reference, the first few), or NULL. Owned by d. */
const char *mno_dump_warning(const mno_dump *d);

/* The records and sections written by mno_dump_run. */
unsigned long long mno_dump_records(const mno_dump *d);

/* Closes the connection and frees. Accepts NULL. */
void mno_dump_free(mno_dump *d);

#endif
