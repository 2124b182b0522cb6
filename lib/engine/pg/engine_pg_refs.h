/* engine_pg_refs.h: the dump's check that every parent link and declared foreign key of an archived row resolves inside the archive (docs/scope.md, "Dangling references"). */
#ifndef MNO_ENGINE_PG_REFS_H
#define MNO_ENGINE_PG_REFS_H

#include <stddef.h>
#include "error.h"

/*
 * Tables are numbered by the caller (the schema's indexes). A link says: a row of table
 * child whose columns cols (indexes into its columns) are all non-null, and whose guard
 * holds, must find a row of table parent whose columns refcols hold the same values (as
 * text). The parent's values are remembered as 64-bit hashes while its section is written:
 * about 16 to 32 bytes per distinct value, per referenced column set. A link whose parent is
 * not archived (parent -1) never resolves.
 */
typedef struct mno_pg_refs mno_pg_refs;

/* A new, empty check. NULL when out of memory. */
mno_pg_refs *mno_pg_refs_new(void);

/* Frees. Accepts NULL. */
void mno_pg_refs_free(mno_pg_refs *r);

/* Names table t for messages: ns and its key columns (names and indexes, borrowed for the
   life of r). Returns 0 or -1 (out of memory). */
int mno_pg_refs_table(mno_pg_refs *r, size_t t, const char *ns, char *const *keynames,
                      const long *keyidx, size_t nkey);

/*
 * Adds a link (arrays copied). guard >= 0: the link applies only when the child's column
 * guard equals guard_val, or with guard_null when it is null. desc names it in messages
 * ("user_id -> public.users.id"). Returns 0 or -1 (out of memory).
 */
int mno_pg_refs_link(mno_pg_refs *r, size_t child, const long *cols, size_t n, long parent,
                     const long *refcols, long guard, const char *guard_val, int guard_null,
                     const char *desc);

/* 1 when some link starts or ends at table t (its rows need mno_pg_refs_row). */
int mno_pg_refs_wants(const mno_pg_refs *r, size_t t);

/* One archived row of table t (values as text, NULL: null). Returns 0 or -1 (out of memory). */
int mno_pg_refs_row(mno_pg_refs *r, size_t t, const char *const *vals, const size_t *lens);

/* Table t's section is complete: links to it are checked from now on, and the rows that
   waited for it. Returns 0 or -1. */
int mno_pg_refs_done(mno_pg_refs *r, size_t t);

/*
 * After the last section: the number of dangling references found, and in *text (malloc'd,
 * caller frees; NULL when none) the first few, one per line:
 * "  NS (KEY)=(VALUES): COL -> PARENT.COL: (VALUES) is not in the archive", then
 * "  ... and N more" when there are more. Returns the number, or -1 (out of memory).
 */
long long mno_pg_refs_result(mno_pg_refs *r, char **text);

#endif
