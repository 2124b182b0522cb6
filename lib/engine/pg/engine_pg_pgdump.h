/* engine_pg_pgdump.h: pg_dump's schema of the dumped tables, carried in the archive's header ("pg_schema") and run by mno-restore --create (engine_pg_pgdump.c). */
#ifndef MNO_ENGINE_PG_PGDUMP_H
#define MNO_ENGINE_PG_PGDUMP_H

#include <stddef.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "engine.h"
#include "error.h"

/*
 * Runs pg_dump --schema-only (pre-data, then post-data; $MNO_PG_DUMP or pg_dump from PATH)
 * in the snapshot of c's transaction on the schemas that hold the n tables (oids, ns) and
 * what their columns use, and makes *out the header's "pg_schema" object: {"tool", "schemas",
 * "tables", "pre_data", "post_data"} (docs/format.md; the caller json_decrefs it). A pg_dump
 * older than the server is refused before it runs (MNO_E_USAGE). The connection reaches
 * pg_dump through its environment and a temporary passfile, never its command line.
 * Returns 0, or -1 with e filled.
 */
int mno_pg_pgdump_schema(PGconn *c, const unsigned *oids, char *const *ns, size_t n, json_t **out, mno_error *e);

/*
 * mno-restore --create with an archive that carries "pg_schema" (engine op restore_schema):
 * phase 0, before the first section: when none of the schema's tables is in the target and
 * the archive's SQL may run (o->run_ddl), runs its pre_data in one transaction with a journal
 * row; phase 1, after the last section: runs its post_data likewise when the pre_data was
 * run (by this run or, journaled, an earlier one) and the post_data is not journaled yet.
 * *note (malloc'd, the caller frees; NULL when there is nothing to say) says why the schema
 * was not run. Returns 0, or -1 with e filled.
 */
int mno_pg_restore_schema(mno_engine *en, const mno_restore_opts *o, const json_t *schema, int phase,
                          char **note, mno_error *e);

#endif
