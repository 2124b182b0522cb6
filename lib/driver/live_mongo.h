/* live_mongo.h: mno-freeze --destroy on a Connec! (MongoDB) database, the part of the live
   driver that lib/driver/live.c hands a mongodb:// target to (docs/live.md). Private to
   lib/driver. */
#ifndef MNO_LIVE_MONGO_H
#define MNO_LIVE_MONGO_H

#include <jansson.h>
#include "engine.h"
#include "live.h"

typedef struct mno_live_mongo mno_live_mongo;

/*
 * Opens a destroy of c->tenant's documents in the Connec! database c->target: checks the
 * reports (every source the rules' `verified` lines name and connec), that the MnoHub tenant
 * is frozen (c->hub) or destroyed (c->orgs_from: the final archive of the MnoHub's destroy),
 * plans the collections of the scope (the tenant's organizations from the MnoHub) and, unless
 * an interrupted destroy is to be finished (the journal, below), re-checks the tenant's
 * documents now against the connec report. Returns 0 with *out set, or -1 with e filled
 * (nothing changed).
 */
int mno_live_mongo_open(mno_live_mongo **out, const mno_live_cfg *c, mno_error *e);
/* The collections, their delete statements and the tenant's documents now (*n; *total).
   Owned by m. */
const mno_live_table *mno_live_mongo_tables(const mno_live_mongo *m, size_t *n, long long *total);
/* The database's name (no host, no credential). */
const char *mno_live_mongo_database(const mno_live_mongo *m);
/* 1: there is something to do (documents to delete, or an interrupted destroy to finish). */
int mno_live_mongo_pending(const mno_live_mongo *m);
/* An interrupted destroy is being finished (its final archive is reused): 1, else 0. */
int mno_live_mongo_resuming(const mno_live_mongo *m);
/*
 * Writes the final archive (unless resuming), checks it by reading it back and against the
 * connec report, journals the destroy, then deletes exactly the documents it holds, by _id in
 * batches, each batch journaled; the journal is marked done at the end. Returns 0, or -1 with
 * e filled (what was deleted stays deleted: the next run finishes it from the journal).
 */
int mno_live_mongo_destroy(mno_live_mongo *m, mno_error *e);
/* The final archive (NULL before destroy), the documents deleted by this destroy (this run and
   an interrupted one before it) and by this run alone. */
const char *mno_live_mongo_final(const mno_live_mongo *m);
long long mno_live_mongo_deleted(const mno_live_mongo *m, long long *this_run);
/* Closes the connection and frees. Accepts NULL. */
void mno_live_mongo_free(mno_live_mongo *m);

/*
 * Writes a destroy's final archive to path (zstd when it ends in .zst; 0600, fsynced, renamed
 * into place when complete): header hdr (taken, also on failure) and every section of plan,
 * dumped by ops from en. With id, *id gets a copy of the archive's id. Shared by both engines'
 * destroys. Returns 0, or -1 with e filled (no file at path).
 */
int mno_live_write_final(const char *path, json_t *hdr, const char *tool, const mno_engine_ops *ops,
                         mno_engine *en, const mno_plan *plan, char **id, mno_error *e);

#endif
