/* report.h: mno-verify's checksum report: what was compared, per table/collection, and how it is printed (text, JSON). */
#ifndef MNO_REPORT_H
#define MNO_REPORT_H

#include <stdint.h>
#include <jansson.h>
#include "buf.h"
#include "checksum.h"
#include "error.h"

typedef enum mno_vstatus {
    MNO_VS_OK = 0,     /* same count and sum */
    MNO_VS_DIFFERS,    /* count or sum differ */
    MNO_VS_MISSING,    /* in the archive (source), not in the target */
    MNO_VS_EXTRA       /* in the target (with rows), not in the archive (source) */
} mno_vstatus;

/* One table/collection of the report. Strings and JSON are owned by the report. */
typedef struct mno_vsection {
    char *ns;
    mno_vstatus status;
    int has_expected;         /* the archive/source side is known */
    int has_actual;           /* the target side exists */
    int has_actual_sum;       /* the target's sum was computed (not for EXTRA) */
    uint64_t exp_count, act_count;
    mno_sum exp_sum, act_sum;
    json_t *diff;             /* --diff: array of {"what","key":{col: value},"columns":[...]}, or NULL */
    int diff_more;            /* the listing stopped at --max: more keys differ */
    char *note;               /* why keys could not be listed, or NULL */
    json_t *problems;         /* what else is wrong in the target (a sequence behind the table's
                                 values: {"what","sequence","column","next","max"}), or NULL */
} mno_vsection;

/* The whole report. */
typedef struct mno_vreport {
    char *mode;               /* "archive" or "live" */
    char *engine;             /* "postgresql" | "mongodb" */
    char *archive;            /* archive path ("-" for stdin), or NULL (live) */
    json_t *header;           /* the archive's (live: the source dump's) header object, or NULL */
    json_t *trailer;          /* the archive's (live: the source dump's) trailer object, or NULL */
    char *source;             /* live: the source URI without credentials */
    char *tenant;             /* live: the tenant */
    char *target;             /* the target URI without credentials */
    char *time;               /* when the verification started, "YYYY-MM-DDTHH:MM:SSZ" (UTC) */
    int scoped;               /* 1: some section was restricted to the tenant's rows (shared target) */
    int archive_checked;      /* archive mode: 1 every record was re-hashed and checked against its
                                 end line (the default), 0 the end lines' sums were taken as
                                 declared (--no-check-archive) */
    mno_vsection *secs;       /* in archive order, then the target's extra ones */
    size_t n, cap;
} mno_vreport;

/* Clears r to an empty report. */
void mno_vreport_init(mno_vreport *r);
/* Frees what r holds; r may be reused after mno_vreport_init. Accepts NULL. */
void mno_vreport_release(mno_vreport *r);
/* Appends an empty section named ns. Returns it (owned by r), or NULL when out of memory. */
mno_vsection *mno_vreport_add(mno_vreport *r, const char *ns);
/* 0 when every section is ok and has no problems, 1 otherwise (mno-verify's exit status). */
int mno_vreport_status(const mno_vreport *r);
/* The status as the text report prints it ("ok", "DIFFERS", "MISSING in target", "EXTRA in target"). */
const char *mno_vstatus_text(mno_vstatus s);
/* The status as the JSON report writes it ("ok", "differs", "missing", "extra"). */
const char *mno_vstatus_json(mno_vstatus s);

/*
 * Appends the text report to out (docs/mno-verify.md, "Report"): what was compared, one
 * row per table/collection (ns, expected and actual count, the first 12 hex digits of each
 * sum, status), the totals, the --diff listings, and a verdict line. Returns 0 or -1.
 */
int mno_report_text(const mno_vreport *r, mno_buf *out);
/*
 * The JSON report (docs/mno-verify.md, "JSON report"): the same with full sums, the
 * archive's header and trailer, the target (without credentials) and the time. Returns a
 * new object (json_decref), or NULL when out of memory.
 */
json_t *mno_report_json(const mno_vreport *r);

#endif
