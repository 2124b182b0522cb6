/* pgname.h: the archive's PostgreSQL section names ("ns", docs/format.md): one parser and one
   formatter, used by dump, restore, verify and scope files. */
#ifndef MNO_PGNAME_H
#define MNO_PGNAME_H

#include <stddef.h>

/* 1 when the n bytes at s are a plain lowercase identifier ([a-z_][a-z0-9_]*): written bare. */
int mno_pgname_plain(const char *s, size_t n);

/*
 * Splits ns into its schema and table: a part in double quotes is read SQL-style ("" is one
 * quote), a bare part verbatim; the first part ends at the first dot outside quotes and the
 * table part runs to the end (a bare table part may hold dots: version-1 archives).
 * On success returns 0 with *schema (NULL when ns has no schema part) and *table malloc'd
 * (caller frees). Returns -1 with *why (a static text) for a malformed name, -2 when out of
 * memory; *schema and *table are then NULL.
 */
int mno_pgns_split(const char *ns, char **schema, char **table, const char **why);

/* The ns form of schema.table (schema NULL: the table alone), each part double-quoted unless
   plain. Returns a malloc'd string (caller frees), or NULL when out of memory. */
char *mno_pgns_join(const char *schema, const char *table);

/* ns in canonical form (split, then joined: `public.Users` -> `public."Users"`); malloc'd, or
   NULL (malformed: *why set; out of memory: *why NULL). */
char *mno_pgns_canon(const char *ns, const char **why);

/* 1 when schema is one mno-restore never writes: the server's (pg_*, pg_temp_N, pg_toast...,
   information_schema) and the toolkit's own (mno_migrate). */
int mno_pgname_reserved_schema(const char *schema);

#endif
