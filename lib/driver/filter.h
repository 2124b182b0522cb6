/* filter.h: the stream filters' shared driver (docs/filters.md): archive in, archive out, one pass. */
#ifndef MNO_FILTER_H
#define MNO_FILTER_H

#include <stddef.h>
#include <bson/bson.h>
#include <jansson.h>
#include "error.h"
#include "stream.h"

/*
 * A filter reads an archive (a file or stdin, plain or zstd) with the checking reader and
 * writes a new, sealed archive through lib's writer:
 *  - the header is the input's with a new "id", "created" and "producer", the input's id as
 *    "derived_from" and the filter appended to the "filters" array (tool, version, arguments);
 *  - for each section the filter says (begin callback) whether it is dropped, copied as it is
 *    (its record lines copied byte for byte, its sum the one the reader checked) or decoded
 *    (each record given to the rec callback, which keeps it as the same bytes, drops it, or
 *    gives new values that the writer writes and sums);
 *  - the trailer gets "derived_from" {id, sum}: the input's id and its trailer's sum.
 * An error in the input stops the filter at once: a file output (-o) is removed, stdout ends
 * without a trailer (the next reader refuses it).
 */

/* What the begin callback decides for a section. */
enum mno_filter_section {
    MNO_FILTER_COPY = 0,    /* records copied as they are, not decoded (fastest) */
    MNO_FILTER_DECODE = 1,  /* each record given to the rec callback */
    MNO_FILTER_DROP = 2,    /* the section is left out (still read and checked) */
    /* Each record given to the rec callback, the reader only checking the section in its
       second thread (as for COPY) and the driver decoding the line itself; what it writes
       is summed from the digests of the records it kept (SCAN_PICK: for sections where few
       records are kept) or from the section's checked sum less those of the records it left
       out or changed (SCAN_KEEP: most records kept; the quick callback may spare decoding).
       PostgreSQL sections only: a MongoDB section asked for either is a DECODE section. */
    MNO_FILTER_SCAN_KEEP = 3,
    MNO_FILTER_SCAN_PICK = 4
};

/* What the rec callback decides for a record. */
enum mno_filter_record {
    MNO_FILTER_KEEP = 0,    /* the record's line copied as it is */
    MNO_FILTER_CHANGED = 1, /* the values in *out written instead (new line, new digest) */
    MNO_FILTER_SKIP = 2     /* the record is left out */
};

/* A changed record (rec callback, MNO_FILTER_CHANGED), borrowed until the callback's next call:
   PostgreSQL ncols values in the section's column order (NULL = SQL null; lens may be NULL),
   MongoDB the new document. */
typedef struct mno_filter_rec {
    const char *const *vals;
    const size_t *lens;
    const bson_t *doc;
} mno_filter_rec;

/* The callbacks of one filter; any may be NULL (header: unchanged; begin: copy every section;
   rec: keep; end, finish: nothing). Each returns -1 with e filled to stop the filter. */
typedef struct mno_filter_ops {
    void *arg;
    /* out: the output header being made (the input's plus derived_from and filters), to change
       in place (e.g. "tenant"). in: the input's header. */
    int (*header)(void *arg, const json_t *in, json_t *out, mno_error *e);
    /* it: the begin item. *begin: the begin object to write (the input's, borrowed); the
       callback may set a new one it owns (the driver frees it). Returns a mno_filter_section. */
    int (*begin)(void *arg, const mno_item *it, json_t **begin, mno_error *e);
    /* A record of a decoded section (it->vals/lens or it->doc, it->digest). Returns a
       mno_filter_record; out filled for MNO_FILTER_CHANGED. */
    int (*rec)(void *arg, const mno_item *it, mno_filter_rec *out, mno_error *e);
    /* SCAN_KEEP sections: line[0..len) is a record's line; 0 when the rec callback would
       surely keep it as it is (it is then not decoded), 1 when it must see it. */
    int (*quick)(void *arg, const char *line, size_t len);
    /* The end of a section (kept, copied or dropped), after its sum was checked. */
    int (*end)(void *arg, const mno_item *it, mno_error *e);
    /* After the input's trailer was checked, before the output's trailer is written: a last
       check (a rule that named a table the archive lacks). */
    int (*finish)(void *arg, mno_error *e);
} mno_filter_ops;

/* Input, output and what the filter records of itself. */
typedef struct mno_filter_opts {
    const char *input;      /* FILE, or "-"/NULL: stdin */
    const char *output;     /* FILE (written as FILE.partial, renamed when complete), or "-"/NULL: stdout */
    int zstd;               /* 1: compress (also when output ends in ".zst") */
    int level;              /* zstd level (default 3) */
    int threads;            /* zstd worker threads */
    size_t max_line;        /* 0: MNO_MAX_LINE_DEFAULT */
    const char *tool;       /* "mno-filter-select" */
    int argc;               /* the tool's arguments as given (argv[1..argc)), recorded in */
    char *const *argv;      /*   the header's "filters" entry, URIs redacted */
} mno_filter_opts;

#define MNO_FILTER_OPTS_INIT {NULL, NULL, 0, 3, 0, 0, NULL, 0, NULL}

/*
 * The options every filter takes, for a tool's getopt_long (<getopt.h>): the short options
 * string, the long options (the table's end included: list the tool's own first), and their
 * lines in --help. Their letters: 'o' -o FILE, 'z' -z, 'L' --level, 'T' --threads,
 * 'M' --max-line, 'h' --help, 'V' --version.
 */
#define MNO_FILTER_SHORTOPTS ":o:z"
#define MNO_FILTER_LONGOPTS                                                                      \
    {"output", required_argument, 0, 'o'}, {"level", required_argument, 0, 'L'},                \
        {"threads", required_argument, 0, 'T'}, {"max-line", required_argument, 0, 'M'},        \
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}
#define MNO_FILTER_USAGE_OPTS                                                                    \
    "  -o FILE          write to FILE (default stdout); written as FILE.partial (mode 0600),\n" \
    "                   renamed when complete\n"                                               \
    "  -z               compress with zstd (implied by a FILE ending in .zst)\n"               \
    "  --level N        zstd level (default 3)\n"                                              \
    "  --threads N      zstd worker threads (default 0: one compressing thread)\n"             \
    "  --max-line N     longest input line accepted, in bytes (default 268435456)\n"           \
    "  --help           this text\n"                                                           \
    "  --version        the version\n"

/* Sets o's defaults, and what the filter records of itself: tool ("mno-filter-select") and
   its arguments argv[1..argc). */
void mno_filter_opts_init(mno_filter_opts *o, const char *tool, int argc, char *const *argv);

/*
 * Handles what a tool's getopt_long loop got that is not the tool's own: c 'o', 'z', 'L', 'T'
 * or 'M' with arg (MNO_FILTER_LONGOPTS), ':' (a missing value) and '?' (an unknown option);
 * opt is the option as given (argv[optind - 1]). Returns 1 when c was one of the filters'
 * options, 0 when not (the tool's own, --help, --version), -1 with e filled (MNO_E_USAGE:
 * "--level: expected a zstd level up to 22", "option '-o' needs a value", "unknown option
 * '--x'") when it is bad.
 */
int mno_filter_common_opt(mno_filter_opts *o, int c, const char *arg, const char *opt, mno_error *e);

/* After the options: argv[optind] (at most one left) is the input, none is stdin ("-").
   Returns 0, or -1 with e filled (MNO_E_USAGE "one input only"). */
int mno_filter_input(mno_filter_opts *o, int argc, char *const *argv, int optind, mno_error *e);

/*
 * Runs the filter: reads o->input to its end, writes the output. Returns 0 when the output
 * is complete (file renamed in place), or -1 with e filled (the input's errors name the input,
 * line and section; the callbacks' their own).
 */
int mno_filter_run(const mno_filter_opts *o, const mno_filter_ops *ops, mno_error *e);

/*
 * Appends the filter chain the header's "filters" array records, as a shell pipeline would
 * say it: "mno-filter-tenant --tenant acme | mno-filter-scrub --rules r.scrub" (arguments
 * single-quoted where the shell would need it; the input file arguments included). Appends
 * nothing when there is no chain. Returns the number of filters, or -1 on out of memory.
 */
struct mno_buf;
int mno_filter_chain_text(const json_t *header, struct mno_buf *out);

/* 1 when name matches the shell glob pat (fnmatch, '*' also matches '.'), else 0. */
int mno_filter_glob(const char *pat, const char *name);

/* 1 when col is one of the section's key columns (its begin's "key"), else 0: a filter never
   changes a key (order and identity hang on it). */
int mno_filter_is_key(const json_t *begin, const char *col);

#endif
