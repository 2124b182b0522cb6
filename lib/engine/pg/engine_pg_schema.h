/* engine_pg_schema.h: what the PostgreSQL dump reads from the catalog: tables, columns, keys, foreign keys and each table's DDL. */
#ifndef MNO_ENGINE_PG_SCHEMA_H
#define MNO_ENGINE_PG_SCHEMA_H

#include <stddef.h>
#include <libpq-fe.h>
#include "error.h"

typedef struct pg_col {
    char *name;
    char *type;         /* format_type(): "bigint", "character varying(255)", "public.mood" */
    int notnull;
    int orderable;      /* the type has a default btree ordering (else ORDER BY its text) */
    int generated;      /* GENERATED ALWAYS AS (...) STORED: the server computes it */
} pg_col;

/* A declared foreign key of a table (columns -> table(columns)). */
typedef struct pg_fk {
    char *name;         /* constraint name */
    char **cols;        /* referencing columns */
    char **refcols;     /* referenced columns */
    size_t n;
    size_t ref;         /* index of the referenced table in the schema */
} pg_fk;

typedef struct pg_table {
    char *ns;           /* schema.table as the archive names it (pgname.h: parts quoted where needed) */
    char *schema;       /* the schema's name */
    char *qname;        /* "schema"."table", quoted for SQL */
    char *from;         /* what queries read the table's own rows from: ONLY "schema"."table"
                           (not its inheritance children's); a partitioned table as qname */
    unsigned int oid;
    pg_col *cols;       /* in attnum order */
    size_t ncols;
    char **key;         /* key columns: the primary key, else a unique index on NOT NULL
                           columns (first by name), else every column */
    size_t nkey;
    int key_is_all;     /* no primary key or unique not-null index: the key is every column */
    pg_fk *fks;
    size_t nfks;
    char *ddl;          /* CREATE TABLE (columns, defaults, not null, constraints but foreign
                           keys) and its indexes, owned sequences, schema */
} pg_table;

/* The user tables of a database (every schema but pg_*, information_schema and mno_migrate), sorted by ns. */
typedef struct pg_schema {
    pg_table *t;
    size_t n;
} pg_schema;

/* Reads the catalog over c (in the caller's transaction). Returns 0, or -1 with e filled. */
int mno_pg_schema_load(PGconn *c, pg_schema *s, mno_error *e);
/* Frees the schema's contents; accepts an empty or NULL one. */
void mno_pg_schema_release(pg_schema *s);
/* The index of the table named ns ("schema.table"), or -1. */
long mno_pg_schema_find(const pg_schema *s, const char *ns);
/* The index of column name in t, or -1. */
long mno_pg_table_col(const pg_table *t, const char *name);
/* Quotes an identifier as PostgreSQL does ("a""b"): always quoted. Caller frees; NULL when out of memory. */
char *mno_pg_ident(const char *name);

#endif
