/* rules.h: the rules files of the live-environment tools (filters/disconnect.rules,
   rename.rules, freeze.rules; docs/live.md): per source kind and table, what a tool changes.
   Column names and values live in these files, never in C. */
#ifndef MNO_RULES_H
#define MNO_RULES_H

#include <stddef.h>
#include "error.h"

typedef enum mno_rule_verb {
    MNO_RULE_SET = 1,   /* set COL = VALUE [, COL = VALUE ...]: the values the tool writes */
    MNO_RULE_UNIQUE,    /* unique COL: COL must not collide within one tenant (rename) */
    MNO_RULE_VERIFIED   /* KIND *: verified: a passing verify report of the tenant's KIND copy is
                           needed (freeze, destroy); the name is "*" */
} mno_rule_verb;

/* One rule line. All strings are owned by the rules. */
typedef struct mno_rule {
    char *kind;            /* the source kind: "mnohub", "connector" or "connec" */
    char *name;            /* table as written ("public.organizations") */
    mno_rule_verb verb;
    char **cols;           /* set: the columns; unique: the one column */
    char **vals;           /* set: each column's value as text, NULL for null */
    size_t ncols;
    char *text;            /* the rule in canonical form, without kind and name */
    const char *file;      /* the file's name (points into the rules) */
    int line;              /* 1-based line */
} mno_rule;

typedef struct mno_rules {
    char *file;            /* name used in messages */
    mno_rule *r;           /* in file order */
    size_t n;
} mno_rules;

/*
 * Reads and parses the rules file at path. Returns the rules (free with mno_rules_free), or
 * NULL with e filled (MNO_E_IO, or MNO_E_SCOPE with "path:line: what is wrong").
 */
mno_rules *mno_rules_load(const char *path, mno_error *e);
/* Parses len bytes of text; file names the input in messages. Same returns as mno_rules_load. */
mno_rules *mno_rules_parse(const char *text, size_t len, const char *file, mno_error *e);
/* Frees. Accepts NULL. */
void mno_rules_free(mno_rules *r);
/* The verb's keyword ("set", "unique"). */
const char *mno_rule_verb_name(mno_rule_verb v);

#endif
