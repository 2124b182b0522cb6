/* engine_pg_seq.h: the sequences a table's columns use, carried in its section's begin line ("sequences", docs/format.md): read by the dump, set forward by the restore, checked by verify. */
#ifndef MNO_ENGINE_PG_SEQ_H
#define MNO_ENGINE_PG_SEQ_H

#include <jansson.h>
#include <libpq-fe.h>
#include "error.h"
#include "stream.h"

/*
 * The sequences of table oid (ns names it in messages): those its columns' defaults call
 * (owned or not), its identity columns' and those owned by its columns, each with its
 * definition and its state (last_value, is_called) read now; those the role may not SELECT
 * from are left out. Returns a new array (empty when the table has none; json_decref it),
 * or NULL with e filled.
 */
json_t *mno_pg_seq_read(PGconn *c, unsigned int oid, const char *ns, mno_error *e);

/*
 * Checks the begin line's "sequences" of s (absent is fine). Returns 0, or -1 with e filled
 * (MNO_E_FORMAT naming the item and what is wrong).
 */
int mno_pg_seq_check_format(const mno_section *s, mno_error *e);

/* The same check of a begin object for the archive reader (lib/archive/stream.c): 0, or -1 with
   why[] holding 'begin line: "sequences" item N ...'. */
int mno_pg_seq_why(const json_t *begin, char *why, size_t whylen);

/*
 * --create, before the table is created: every sequence of s that is not an identity's and
 * is missing in the target is created with the archive's definition (its schema too). In
 * the caller's transaction. Returns 0 or -1.
 */
int mno_pg_seq_create(PGconn *c, const mno_section *s, mno_error *e);

/*
 * After the section's rows are in qtable: with created (the table was made by this restore),
 * identity sequences get the archive's definition; then every sequence of s that the target
 * has is moved forward to the archive's state, and past the largest value of the columns it
 * feeds, never backwards. In the caller's transaction. Returns 0 or -1.
 */
int mno_pg_seq_restore(PGconn *c, const char *qtable, const mno_section *s, int created, mno_error *e);

/*
 * mno-verify: the sequences of s whose next value (in the target) is not past the largest
 * value of a column of qtable they feed. *problems gets a new array of
 * {"what":"sequence behind","sequence":NS,"column":C,"next":N,"max":M} objects, or NULL when
 * there is none. Returns 0 or -1.
 */
int mno_pg_seq_verify(PGconn *c, const char *qtable, const mno_section *s, json_t **problems, mno_error *e);

#endif
