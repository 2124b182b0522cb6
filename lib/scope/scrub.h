/* scrub.h: scrub rule files (docs/filters.md) and their actions on records: null, drop, set, hash, email. */
#ifndef MNO_SCRUB_H
#define MNO_SCRUB_H

#include <stddef.h>
#include <bson/bson.h>
#include "buf.h"
#include "error.h"

typedef enum mno_scrub_action {
    MNO_SCRUB_NULL = 1,  /* the value becomes null */
    MNO_SCRUB_DROP,      /* MongoDB: the field is removed */
    MNO_SCRUB_SET,       /* the value becomes the rule's string */
    MNO_SCRUB_HASH,      /* HMAC-SHA-256 of the value, 64 lowercase hex digits */
    MNO_SCRUB_EMAIL,     /* the local part hashed (64 hex digits), "@domain" kept */
    MNO_SCRUB_MAP        /* mno-filter-rename: a string equal to from becomes value (not in rule files) */
} mno_scrub_action;

/* One column (or field path) of one rule line. */
typedef struct mno_scrub_rule {
    char *ns;               /* the section, as written */
    char *col;              /* PostgreSQL column, or MongoDB dotted field path */
    mno_scrub_action action;
    char *value;            /* set: the value */
    char *source;           /* `when source = 'X'`: the header's source it is for, or NULL */
    int line;               /* 1-based line in the rule file */
    char *from;             /* map: the old value */
    unsigned long long changed; /* map: values changed so far (mno_scrub_bson counts them) */
    unsigned long long clash;   /* map: values already equal to the new one, seen so far */
} mno_scrub_rule;

typedef struct mno_scrub {
    char *file;             /* the rule file's name, for messages */
    mno_scrub_rule *rules;  /* one per column, in file order */
    size_t n;
    int need_key;           /* a hash or email rule is there */
} mno_scrub;

/*
 * Parses the rule file at path: lines `NS: ACTION COL...` in the scope files' syntax (docs/filters.md).
 * Returns a scrub (mno_scrub_free), or NULL with e filled (MNO_E_IO, or MNO_E_SCOPE "file:line: ...").
 */
mno_scrub *mno_scrub_load(const char *path, mno_error *e);
/*
 * The rules of preset name (mno-filter-scrub --preset): the file NAME.scrub in the scope
 * directory (mno_default_scope_dir: $MNO_SCOPE_DIR, else filters/ beside the tools), found as
 * scope files are. Returns a scrub (mno_scrub_free; its file is that path), or NULL with e
 * filled: MNO_E_USAGE for a name that is not one (letters, digits, '-', '_') or an unknown
 * preset (the message names the directory and the presets in it), else as mno_scrub_load.
 */
mno_scrub *mno_scrub_preset(const char *name, mno_error *e);
/* The same over text (len bytes), file naming it in messages. */
mno_scrub *mno_scrub_parse(const char *text, size_t len, const char *file, mno_error *e);
void mno_scrub_free(mno_scrub *s);
/* The action's keyword. */
const char *mno_scrub_action_name(mno_scrub_action a);

/* An HMAC-SHA-256 keyed hasher (OpenSSL libcrypto). */
typedef struct mno_hmac mno_hmac;
/* key: len bytes. Returns a hasher (mno_hmac_free), or NULL when libcrypto fails. */
mno_hmac *mno_hmac_new(const void *key, size_t len);
/* Appends the 64 lowercase hex digits of HMAC(key, p[0..n)) to out. Returns 0 or -1. */
int mno_hmac_hex(mno_hmac *h, const void *p, size_t n, mno_buf *out);
void mno_hmac_free(mno_hmac *h);

/*
 * Applies action to a text value v (n bytes; v NULL: null), appending the new value to out
 * and setting *isnull. null stays null for set-free actions (hash, email). Returns 0 or -1.
 */
int mno_scrub_text(mno_scrub_action a, const char *value, mno_hmac *h, const char *v, size_t n, mno_buf *out,
                   int *isnull);

/*
 * Copies doc into out (initialised by the caller) with each of the n rules (their col a
 * dotted path; a path goes into sub-documents and into the documents of arrays, as MongoDB's
 * dotted paths do) applied. *changed: 1 when a value was changed or a field dropped; hits[i]
 * (may be NULL) set to 1 when rule i found its field. Returns 0 or -1.
 */
int mno_scrub_bson(const bson_t *doc, mno_scrub_rule *const *rules, size_t n, mno_hmac *h, bson_t *out,
                   int *changed, int *hits);

#endif
