/* scope.h: tenant scope files (docs/scope.md): which rows of each table or collection belong
   to a tenant. Engine-neutral: the parser returns a list of rules; each engine turns them into
   its own queries (engine_pg_dump.c: SQL; the MongoDB engine: filters). */
#ifndef MNO_SCOPE_H
#define MNO_SCOPE_H

#include <stddef.h>
#include "error.h"

typedef enum mno_scope_kind {
    MNO_SCOPE_ROOT = 1,  /* root COL [COL...]: the row's COL (as text) equals the tenant, any of them */
    MNO_SCOPE_PARENT,    /* parent COL -> NS.COL [when TYPECOL = 'VALUE' | when COL2 is null]: COL holds a kept parent's NS.COL */
    MNO_SCOPE_UIDS,      /* uids text|json COL [at KEY[.KEY...]] -> NS.COL: COL lists kept parents' NS.COL */
    MNO_SCOPE_MATCH,     /* match FIELD in SET: FIELD's value is in a named set the engine is given */
    MNO_SCOPE_GLOBAL,    /* global: reference data, copied whole */
    MNO_SCOPE_SKIP       /* skip: not dumped */
} mno_scope_kind;

/* One rule line. All strings are owned by the scope. */
typedef struct mno_scope_rule {
    char *name;            /* table/collection as written ("public.users", "users", "people") */
    mno_scope_kind kind;
    char **cols;           /* root: the columns; parent/uids: the one column; match: the field */
    size_t ncols;
    char *ref_ns;          /* parent/uids: the referenced table (as written) */
    char *ref_col;         /* parent/uids: its column */
    char *guard_col;       /* parent: the type column of `when`, or NULL */
    char *guard_val;       /* parent: the value it must equal, or NULL */
    int guard_null;        /* parent: `when TYPECOL is null`: the column must be null (guard_val NULL) */
    int uids_json;         /* uids: 1 json, 0 text */
    char **path;           /* uids json: the keys after `at` (npath 0: the column itself) */
    size_t npath;
    char *set;             /* match: the set's name ("org_uids") */
    char *text;            /* the rule in canonical form, without the name ("parent organization_id -> public.organizations.id") */
    const char *file;      /* the scope's file name (points into the scope) */
    int line;              /* 1-based line */
    int and_next;          /* 1: this rule and the next (same line, same name) must hold together
                              (NAME: RULE and RULE ...); rules not joined so are alternatives */
} mno_scope_rule;

typedef struct mno_scope {
    char *file;            /* name used in messages */
    mno_scope_rule *rules; /* in file order */
    size_t n;
} mno_scope;

/*
 * Reads and parses the scope file at path. Returns a scope (free with mno_scope_free), or
 * NULL with e filled (MNO_E_IO, or MNO_E_SCOPE with "path:line: what is wrong").
 */
mno_scope *mno_scope_load(const char *path, mno_error *e);

/* Parses len bytes of text; file names the input in messages. Same returns as mno_scope_load. */
mno_scope *mno_scope_parse(const char *text, size_t len, const char *file, mno_error *e);

/* Frees. Accepts NULL. */
void mno_scope_free(mno_scope *s);

/*
 * PostgreSQL: qualifies every name without a dot outside quotes (rule names and referenced
 * names) as "prefix.name" ("public"), and writes each in the archive's ns form (pgname.h:
 * quoted parts read SQL-style, bare parts verbatim, then quoted where they are not plain
 * lowercase identifiers). Returns 0, or -1 on out of memory.
 */
int mno_scope_qualify(mno_scope *s, const char *prefix, mno_error *e);

/*
 * The rules for name (compared exactly), in file order: fills idx[0..max) with their indexes
 * into s->rules and returns how many there are (may exceed max).
 */
size_t mno_scope_find(const mno_scope *s, const char *name, size_t *idx, size_t max);

/*
 * How the rules of one table combine: they come in groups of consecutive rules joined by
 * and_next (a rule alone is a group of one); a row belongs when every rule of some group
 * holds.
 */

/* The rule kind's keyword ("root", "parent", ...). */
const char *mno_scope_kind_name(mno_scope_kind k);

#endif
