/* restore.h: mno-restore's engine-neutral driver: reads an archive with the checking reader and applies it section by section through an engine's restore ops. */
#ifndef MNO_RESTORE_H
#define MNO_RESTORE_H

/*
 * The protocol between the driver (lib/driver/restore.c) and an engine's restore ops (engine.h),
 * for each section of the archive, in archive order (docs/restore.md says the same for users):
 *
 *   1. journal_get(archive_id, ns)      was this section committed by an earlier run of this
 *                                       archive? (NULL op: the engine keeps no journal; then
 *                                       --resume is refused.)
 *        found, --resume:   the section is read and checked but not applied; at its end the
 *                           journal's count and sum must equal the archive's, else an error.
 *        found, no --resume: error "already restored from this archive ... use --resume"
 *                           (a dry run reports it as skipped instead).
 *   2. restore_begin(o, s)              s: the section as the begin line declares it (ns,
 *                                       columns, key, ddl / options, indexes). The engine opens
 *                                       its transaction, checks the table/collection (missing
 *                                       and not o->create: MNO_E_USAGE naming it), prepares.
 *   3. restore_rec(it) per record       pg: it->vals/lens (it->v and it->obj may be NULL: the driver
 *                                       reads with opts.fast_pg); mongo: it->doc, it->v (may be NULL:
 *                                       opts.fast_mongo). it->digest is not filled (opts.no_digest). The engine
 *                                       may buffer; nothing may become visible yet.
 *   4. the reader reaches the section's end line and verifies its count and sum; only then
 *   5. restore_commit(s)                check conflicts (keys already in the target ->
 *                                       MNO_E_CONFLICT, message naming up to 5 keys, nothing
 *                                       written), set sequences, write the journal row
 *                                       (archive_id, ns, count, sum) in the SAME transaction,
 *                                       make it durable. s->count and s->sum are the verified ones.
 *   On any error in 2..5 (the engine's, or the reader's: corrupt section, truncated stream)
 *   the driver calls restore_abort, which undoes everything since restore_begin, and stops.
 *
 * Dry run (o->dry_run): restore_begin and restore_rec are called as above but must write
 * nothing durable; at the verified end the driver calls restore_probe instead of
 * restore_commit: it fills an mno_restore_probe (table exists, rows there, conflicts) and
 * undoes whatever the engine set up. An engine with restore_probe == NULL gets no call at
 * all in a dry run (the section is only read and checked). In a dry run, restore_begin and
 * restore_probe failing with MNO_E_USAGE (missing table, no --create) or MNO_E_CONFLICT are
 * reported for the section and the driver reads on; the dry run then fails with the first.
 *
 * -j N (N > 1, cfg->jobs): the archive must be a regular FILE. The check pass (or, with
 * no_check_first, a pass that only reads the lines and counts) notes where each section's
 * begin line is; then N threads, each with its own connection (ops->open) and its own reader
 * put on a section's begin line (mno_in_skip_decoded), restore whole sections with the
 * steps above, one section at a time each. A section starts only when every section related
 * to it (ops->restore_related: pg foreign keys, mongo the same collection) that comes before
 * it in the archive has committed; otherwise sections start in archive order. The first
 * error stops the run: no section starts after it, the sections in flight are rolled back
 * (MNO_RSEC_STOPPED), the committed ones stay journaled; mno_restore returns that error,
 * with the same text the serial run gives for that section. Progress calls come one at a
 * time (a mutex), and their sec_index is the section's place in the archive.
 *
 * Archive identity (the journal key): the header's "id" (32 hex digits, written by every
 * writer and by mno-cat --seal); an archive without one is identified by "md5:" and the md5
 * of its header line. A journal row matches a section only when archive id, ns, count and
 * sum all agree, so a journal can never make a different section look restored.
 */

#include <stdint.h>
#include "engine.h"

#define MNO_RESTORE_MAX_JOBS 64

/* Why the progress callback is called. */
enum mno_restore_event {
    MNO_REV_BEGIN = 1,   /* a section starts (ns, sec_index) */
    MNO_REV_RECORDS,     /* every 4096 records of the section in flight */
    MNO_REV_END,         /* the section ended: restored, skipped or checked (sec_records final) */
    MNO_REV_DONE         /* the trailer was read: the archive is applied */
};

/* Totals, for progress and the summary. */
typedef struct mno_restore_stats {
    int event;                   /* enum mno_restore_event of this progress call */
    uint64_t sec_index;          /* 1-based number of the section in flight (or just ended) */
    unsigned long long sec_bytes;/* archive bytes of that section so far (uncompressed) */
    const char *engine;          /* "postgresql" | "mongodb", or NULL before the header */
    const char *archive_id;      /* the archive's identity (see above), or NULL */
    const char *ns;              /* the section in flight (or just ended), or NULL */
    uint64_t sec_records;        /* records of the section in flight so far */
    uint64_t sections;           /* sections ended (restored, skipped or dry) */
    uint64_t sections_skipped;   /* of which skipped (--resume) */
    uint64_t records;            /* records of ended sections */
    uint64_t records_skipped;
    unsigned long long bytes;    /* archive bytes read, uncompressed */
    unsigned long long bytes_in; /* bytes read from the input (compressed when zstd) */
    double seconds;              /* since the start */
    int done;                    /* 1 in the last progress call (MNO_REV_DONE) */
} mno_restore_stats;

/* What the caller asks for. All strings borrowed. */
typedef struct mno_restore_cfg {
    const char *target;   /* the target URI (postgresql://..., mongodb://...); never printed as is */
    const char *input;    /* archive path, "-" or NULL for stdin; plain or zstd */
    int create;           /* --create: create missing tables/collections from the archive */
    int resume;           /* --resume: skip sections journaled as committed for this archive */
    int dry_run;          /* --dry-run: read and check everything, write nothing */
    int trust_archive;    /* --trust-archive: --create runs the archive's ddl even when the
                             archive is not authenticated (docs/restore.md) */
    int disable_triggers; /* --disable-triggers (pg): the target's triggers, foreign keys' checks
                             included, do not fire while a section is restored */
    int no_check_first;   /* --no-check-first: a regular FILE is not read and checked whole
                             before anything is written (stdin never can be) */
    int jobs;             /* -j N, 1..MNO_RESTORE_MAX_JOBS: sections restored by N threads, each
                             with its own connection (see "-j N" above); N > 1 needs a regular
                             FILE; a dry run reads serially whatever N */
    /*
     * Test-only crash point (docs/restore.md), normally NULL. The tool takes it from the
     * environment variable MNO_TEST_RESTORE_KILL, "NS:N" (after N records of section NS were
     * given to the engine; 0: right after restore_begin), "NS:end" (the section's end line
     * verified, before restore_commit) or "NS:commit" (after restore_commit returned). At
     * that point the process sends itself SIGKILL.
     */
    const char *kill_at;
    /* Progress: called at every begin and end, every 4096 records and at the end (events in
       mno_restore_stats.event); may be NULL. */
    void (*progress)(void *arg, const mno_restore_stats *st);
    void *progress_arg;
} mno_restore_cfg;

/* What restore_probe reports for a section in a dry run. */
typedef struct mno_restore_probe {
    int exists;              /* the table/collection is in the target */
    long long rows;          /* rows/documents already there, -1 unknown */
    long long conflicts;     /* records of the section whose key is already there, -1 not probed */
    char keys[512];          /* up to 5 of those keys, as "id=1, id=2" (pg) / "_id=..." , or "" */
} mno_restore_probe;

/* One section as the driver handled it. */
enum mno_rsec_status {
    MNO_RSEC_RESTORED = 1,   /* committed in this run */
    MNO_RSEC_SKIPPED,        /* --resume: already journaled for this archive, checked */
    MNO_RSEC_DRY,            /* --dry-run: read and checked (probe filled if the engine can) */
    MNO_RSEC_FAILED,         /* the section an error stopped at: rolled back */
    MNO_RSEC_STOPPED         /* -j N: in flight when another section failed: rolled back */
};

typedef struct mno_rsection {
    char *ns;
    int status;              /* enum mno_rsec_status */
    uint64_t count;          /* records */
    mno_sum sum;
    int probed;              /* dry run: probe filled */
    mno_restore_probe probe;
    char note[512];          /* dry run: why restoring it would fail, or "" */
    int rolled_back;         /* MNO_RSEC_FAILED: the engine had begun it and rolled it back */
} mno_rsection;


/* The whole result: every section seen (begun), in archive order (the failed one last), and the totals. */
typedef struct mno_restore_result {
    mno_rsection *secs;
    size_t n, cap;
    mno_restore_stats st;
    char target[1024];           /* the target URI, redacted */
    char archive_id[80];
    int auth;                    /* enum mno_auth of the check pass (MNO_AUTH_NONE without one) */
    unsigned ddl_skipped;        /* --create: tables created from their columns only, their
                                    archive's ddl not run (not authenticated) */
    int schema_ran;              /* --create: the archive's schema (pg: "pg_schema") was run */
    char schema_note[640];       /* --create: why the archive's schema was not run, or "" */
} mno_restore_result;

void mno_restore_result_init(mno_restore_result *res);
/* Frees what res holds (not res). Accepts NULL. */
void mno_restore_result_release(mno_restore_result *res);

/*
 * Restores the archive cfg->input into cfg->target (see the protocol above). Fills res as
 * it goes, also on failure (the failed section last, status MNO_RSEC_FAILED).
 * Returns 0 when the whole archive was applied (or, in a dry run, would apply: a dry run
 * that finds a missing table without --create, or conflicts, returns -1 with MNO_E_USAGE /
 * MNO_E_CONFLICT after reading everything); -1 with e filled otherwise: e names the input,
 * the line and the section ("hub.mnoa:12: section public.users: sum mismatch: ..."), never
 * a credential. Sections committed before an error stay committed (and journaled).
 */
int mno_restore(const mno_restore_cfg *cfg, mno_restore_result *res, mno_error *e);

#endif
