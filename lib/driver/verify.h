/* verify.h: checksum verification of a target database against an archive or a live source (mno-verify). */
#ifndef MNO_VERIFY_H
#define MNO_VERIFY_H

#include <stddef.h>
#include <stdio.h>
#include "buf.h"
#include "engine.h"
#include "error.h"
#include "report.h"

typedef struct mno_verify_opts {
    const char *archive;      /* archive path ("-": stdin); or NULL with source */
    const char *source;       /* live source URI (with tenant); or NULL with archive */
    const char *tenant;       /* live: the tenant */
    const char *scope_path;   /* live: scope file (NULL: SCOPE_DIR/KIND.scope, as mno-dump) */
    const char *scope_dir;    /* live: the default scope files' directory (NULL: "filters") */
    const char *orgs_from;    /* live, mongo: the tenant's org uids from a MnoHub archive */
    const char *hub_uri;      /* live, mongo: ... or from a live MnoHub */
    const char *target;       /* target URI (required) */
    int diff;                 /* --diff: list the keys that differ */
    size_t max_diff;          /* --max: at most this many keys per table (0: 20) */
    int no_extra;             /* do not look for tables/collections the archive lacks */
    int no_check_archive;     /* --no-check-archive: without diff, the archive's records are only
                                 counted and its declared sums used (by default every record's
                                 digest is recomputed and checked against its end line) */
    int trust_archive;        /* --trust-archive: a begin's "where" (SQL) and "filter" (a MongoDB
                                 query) are sent to the target; without it such a section is an
                                 error before any query of it */
} mno_verify_opts;

#define MNO_VERIFY_MAX_DIFF_DEFAULT 20

/*
 * Compares the target with the archive (or the live source) per table/collection: count
 * and sum over the same rows, and with o->diff the differing keys. Fills rep (initialised
 * by the caller with mno_vreport_init; freed with mno_vreport_release, also after an error).
 * Returns 0 when the comparison ran (whatever it found: see mno_vreport_status), -1 on an
 * error (a corrupt or truncated archive, a server error) with e filled.
 */
int mno_verify(const mno_verify_opts *o, mno_vreport *rep, mno_error *e);

/*
 * The comparison itself, over an archive stream in (borrowed): the archive mode reads a
 * file, the live mode the source's dump through a pipe. Fills rep as mno_verify does,
 * except rep->archive. Same returns.
 */
int mno_verify_stream(const mno_verify_opts *o, mno_in *in, mno_vreport *rep, mno_error *e);

/*
 * Live against live (verify_live.c): the source's rows of the tenant (the source engine's
 * plan, as mno-dump would select them) against the target's tables. Same returns as mno_verify.
 */
int mno_verify_live(const mno_verify_opts *o, mno_vreport *rep, mno_error *e);

/* ---- --diff, engine-neutral (verify_diff.c) ---- */

/* The archive's records of one section, spooled for --diff to two unlinked temporary files
   (in $TMPDIR, else /tmp): memory does not grow with the number of records. */
typedef struct mno_arows {
    FILE *idx;                /* per record: key hash, digest, position of its line */
    FILE *lines;              /* the rec lines, one after another */
    uint64_t n;               /* records spooled */
    uint64_t lines_len;
    mno_engine_kind engine;
    const char **keynames;    /* the key's names: pg key columns, mongo "_id" */
    size_t *keyidx;           /* pg: their positions among the columns */
    size_t nk;
    const char **kvals;       /* pg: scratch for one record's key values */
    size_t *klens;
    mno_buf keytext;          /* pg: scratch for one record's key text */
} mno_arows;

/* Sets up rows for section s (key names from its begin). Returns 0, or -1 (a section without key: MNO_E_FORMAT). */
int mno_arows_init(mno_arows *a, const mno_section *s, mno_error *e);
/* Spools the record it (a rec item of s). Returns 0 or -1. */
int mno_arows_add(mno_arows *a, const mno_item *it, mno_error *e);
/* Frees what a holds. Accepts NULL. */
void mno_arows_release(mno_arows *a);

/*
 * Finds the keys of section s that differ between the archive records a and the target, by
 * narrowing buckets of key hashes (engine.h) whose counts and sums differ
 * (ops->hash_buckets) down to small buckets whose rows are listed (ops->list_buckets).
 * Fills vs->diff with at most max entries (vs->diff_more when there are more). Memory is
 * bounded by max (at least 1024 buckets), not by the number of rows. Returns 0 or -1.
 */
int mno_verify_diff(const mno_engine_ops *ops, mno_engine *en, const mno_section *s,
                    mno_arows *a, size_t max, mno_vsection *vs, mno_error *e);

#endif
