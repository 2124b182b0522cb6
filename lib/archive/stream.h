/* stream.h: the "mnoa" archive stream, version 2 (reads version 1; docs/format.md): a writer and a checking reader. */
#ifndef MNO_STREAM_H
#define MNO_STREAM_H

#include <stdint.h>
#include <bson/bson.h>
#include <jansson.h>
#include "checksum.h"
#include "codec.h"
#include "error.h"

#define MNO_FORMAT "mnoa"
#define MNO_VERSION 2          /* written; readers read MNO_VERSION_MIN..MNO_VERSION */
#define MNO_VERSION_MIN 1

typedef enum mno_engine_kind {
    MNO_ENGINE_UNKNOWN = 0,
    MNO_ENGINE_PG,        /* "postgresql": v is {column: text|null}; canonical = ROW()::text */
    MNO_ENGINE_MONGO      /* "mongodb": v is canonical Extended JSON v2; canonical = BSON bytes */
} mno_engine_kind;

/* "postgresql" -> MNO_ENGINE_PG, "mongodb" -> MNO_ENGINE_MONGO, else MNO_ENGINE_UNKNOWN. */
mno_engine_kind mno_engine_kind_parse(const char *s);
const char *mno_engine_kind_name(mno_engine_kind k);

/* ---- sections, as the reader and writer know them ---- */

typedef struct mno_section {
    char *ns;                  /* namespace: "public.users" (pg), "connec.people" (mongo) */
    mno_engine_kind engine;    /* begin's "engine", else the header's */
    json_t *begin;             /* the whole begin object (owned by the reader/writer) */
    size_t ncols;              /* pg: number of columns in begin's "columns" */
    const char **colnames;     /* pg: column names, in begin order (point into begin) */
    const char **coltypes;     /* pg: column types, in begin order (point into begin) */
    long long begin_line;      /* line of the begin (reader) */
    uint64_t count;            /* records seen/written so far */
    mno_sum sum;               /* sum computed so far */
} mno_section;

/* ---- writer ---- */

typedef struct mno_writer mno_writer;

/*
 * Starts an archive on out (borrowed; the caller finishes or aborts it after
 * mno_writer_close/free). header: an object with at least "engine", "source", "tenant"
 * (may be null); the writer adds "t", "format", "version" and, when absent, "created"
 * (UTC now), "producer" ("mno-<tool> VERSION" from producer arg) and "id" (32 random hex
 * digits, the archive's identity for resume journals). header is borrowed. Writes the
 * header line. Returns a writer (free with mno_writer_free), or NULL with e filled.
 */
mno_writer *mno_writer_new(mno_out *out, const json_t *header, const char *producer, mno_error *e);
/* The header object as written (owned by the writer). */
const json_t *mno_writer_header(const mno_writer *w);

/*
 * Opens section ns. begin: an object with the section's fields ("columns" [{name,type}],
 * "key", "ddl" for pg; "options", "indexes" for mongo; optional "engine"), borrowed; the
 * writer adds "t" and "ns". Returns 0 or -1.
 */
int mno_writer_begin(mno_writer *w, const char *ns, const json_t *begin, mno_error *e);
/* pg record: ncols values in begin's column order (NULL = SQL null); lens may be NULL. */
int mno_writer_rec_pg(mno_writer *w, const char *const *vals, const size_t *lens, mno_error *e);
/* pg record whose digest the caller computed: the md5 of mno_pg_record_text of the same values
   (a dump hashes in another thread); writes what mno_writer_rec_pg writes. */
int mno_writer_rec_pg_digest(mno_writer *w, const char *const *vals, const size_t *lens,
                             const unsigned char digest[16], mno_error *e);
/* n pg records at once: row r's values at vals[r * ncols ...] (lens likewise; lens may be
   NULL), digests[r] its record text's md5 (digests may be NULL: computed here). Writes what
   n calls of mno_writer_rec_pg(_digest) write, in fewer, larger writes. Returns 0 or -1. */
int mno_writer_recs_pg(mno_writer *w, size_t n, const char *const *vals, const size_t *lens,
                       const unsigned char (*digests)[16], mno_error *e);
/*
 * The same n pg record lines as mno_writer_recs_pg, appended to out instead of written, for
 * a caller that encodes in another thread: it reads only the open section's fixed parts, so
 * it may run while the writer writes, as long as that section stays open. Returns 0, or -1
 * on out of memory or when no pg section is open.
 */
struct mno_buf;
struct mno_ejson_keys;
int mno_writer_pg_encode(const mno_writer *w, struct mno_buf *out, size_t n, const char *const *vals,
                         const size_t *lens);
/* Writes lines[0..len), n record lines mno_writer_pg_encode made for the open section, and
   counts them with their digests (as mno_writer_recs_pg would). Returns 0 or -1. */
int mno_writer_put_pg_lines(mno_writer *w, const char *lines, size_t len, size_t n,
                            const unsigned char (*digests)[16], mno_error *e);
/* mongo record: the document; written as canonical Extended JSON v2, summed over its bytes. */
int mno_writer_rec_bson(mno_writer *w, const bson_t *doc, mno_error *e);
/* n mongo records at once: document r's BSON bytes docs[r][0..lens[r]). Writes what n calls of
   mno_writer_rec_bson write, the md5s taken several at a time (mno_md5_many), in fewer, larger
   writes. Returns 0 or -1. */
int mno_writer_recs_bson(mno_writer *w, size_t n, const uint8_t *const *docs, const size_t *lens,
                         mno_error *e);
/* As mno_writer_recs_bson with each document's md5 already in digests[r] (a dump hashes them
   in its reading thread): the same lines, the same sums. Returns 0 or -1. */
int mno_writer_recs_bson_digest(mno_writer *w, size_t n, const uint8_t *const *docs, const size_t *lens,
                                const unsigned char (*digests)[16], mno_error *e);
/*
 * The same n mongo record lines as mno_writer_recs_bson, appended to out instead of written,
 * for another thread (a dump prints some batches in its reading thread): reads only the open
 * section's fixed parts; kc is that thread's key cache (lib/archive/ejson.h; NULL: none). Returns 0,
 * or -1 when out of memory or when a document cannot be printed (mno_writer_recs_bson then
 * says which).
 */
int mno_writer_bson_encode(const mno_writer *w, struct mno_ejson_keys *kc, struct mno_buf *out, size_t n,
                           const uint8_t *const *docs, const size_t *lens);
/* Writes n mongo record lines made by mno_writer_bson_encode (lines[0..len)) and counts them
   with their documents' md5s (as mno_writer_recs_bson would). Returns 0 or -1. */
int mno_writer_put_bson_lines(mno_writer *w, const char *lines, size_t len, size_t n,
                              const unsigned char (*digests)[16], mno_error *e);
/*
 * Copies n record lines of the open section as they are (lines[0..len), each ending in '\n'),
 * for a filter passing records through unchanged: counted, and summed with digests[r] (the
 * md5 of record r's canonical form, as the reader gave it). digests NULL: only counted, the
 * caller adds their sum with mno_writer_add_sum before mno_writer_end (a section whose sum a
 * checking reader computed). Returns 0 or -1.
 */
int mno_writer_copy_lines(mno_writer *w, const char *lines, size_t len, size_t n,
                          const unsigned char (*digests)[16], mno_error *e);
/* Adds sum to the open section's sum (see mno_writer_copy_lines). */
void mno_writer_add_sum(mno_writer *w, const mno_sum *sum);
/* Fields written in the trailer after sections, count and sum (borrowed, copied; NULL: none),
   e.g. a filter's "derived_from". Returns 0 or -1. */
int mno_writer_set_trailer_extra(mno_writer *w, const json_t *extra, mno_error *e);
/* any engine: v as a JSON value of the archive's form (borrowed); summed per the engine. */
int mno_writer_rec_json(mno_writer *w, const json_t *v, mno_error *e);
/* Closes the open section: writes its end line with count and sum. */
int mno_writer_end(mno_writer *w, mno_error *e);
/* Writes the trailer (sections, count, sum). No section may be open. */
int mno_writer_close(mno_writer *w, mno_error *e);
/* Calls tick(arg) after every line written (after each write of mno_writer_recs_pg's lines) (NULL: none), e.g. for progress: it may look at
   mno_writer_section(w) and the output's mno_out_bytes. It must be cheap. */
void mno_writer_set_tick(mno_writer *w, void (*tick)(void *arg), void *arg);
/* The section being written (NULL if none). */
const mno_section *mno_writer_section(const mno_writer *w);
/* Frees. Accepts NULL. Does not touch out. */
void mno_writer_free(mno_writer *w);

/* ---- reader ---- */

typedef enum mno_item_kind {
    MNO_ITEM_EOF = 0,
    MNO_ITEM_HEADER,
    MNO_ITEM_BEGIN,
    MNO_ITEM_REC,
    MNO_ITEM_END,
    MNO_ITEM_TRAILER
} mno_item_kind;

/* One line of the archive, as the reader returns it. Everything is owned by the reader and
   valid until the next mno_reader_next call. */
typedef struct mno_item {
    mno_item_kind kind;
    long long lineno;
    const char *line;          /* the raw line (no '\n') */
    size_t len;
    json_t *obj;               /* the parsed line */
    const mno_section *section;/* begin/rec/end: the open section (count/sum so far, incl. this rec) */
    /* rec: */
    const json_t *v;           /* the record's value */
    const char *const *vals;   /* pg: values in column order (NULL = null) */
    const size_t *lens;        /* pg: their lengths */
    const bson_t *doc;         /* mongo: the document as BSON */
    unsigned char digest[16];  /* md5 of the record's canonical form */
    /* end / trailer: what the line declares */
    uint64_t declared_count;
    mno_sum declared_sum;
    int sum_ok;                /* end/trailer: 1 when declared count and sum match the computed
                                  (and meta_ok) */
    int meta_ok;               /* end/trailer: 1 when the metadata digest ("begin_sha256" /
                                  "header_sha256") and the "mac" match, or are absent where
                                  allowed (docs/format.md 4.1) */
} mno_item;

typedef struct mno_reader_opts {
    int verify;        /* 1 (default): a count/sum mismatch is an error (MNO_E_CORRUPT); 0: reported in sum_ok only */
    size_t max_line;   /* 0: MNO_MAX_LINE_DEFAULT */
    int fast_pg;       /* 1: PostgreSQL record lines in the writer's own compact form are decoded
                          by lib/archive/pgrec.c instead of jansson (several times faster); for those
                          records it->obj and it->v are NULL (vals, lens, digest as always).
                          Any other line takes the general path, errors included. */
    int skim;          /* 1: a rec line as the writer writes it ({"t":"rec","ns":NS,"v":...}) is
                          only counted for its section, not parsed nor hashed: the item has no
                          v, vals, doc or digest; an end line's count is checked and its sum
                          taken as declared (the trailer is checked against those). For readers
                          that need only the declared sums (mno-verify without --diff). */
    int fast_mongo;    /* 1: MongoDB record lines in the writer's envelope have their document
                          parsed from the text (lib/archive/engine_mongo_json.c) instead of by jansson
                          and libbson; for those records it->obj and it->v are NULL (doc,
                          digest as always). Any other line takes the general path. */
    int no_digest;     /* 1: the caller never reads it->digest: the records of the fast paths
                          (fast_pg, fast_mongo) are hashed several at a time (mno_md5_many) and
                          added to their section's sum by the time its end line is checked, so
                          it->digest is left zero for them and it->section->sum lags until the
                          end line. Counts, sums, the trailer and every error are the same. */
    int sums_only;     /* 1 (with no_digest): the caller reads only kinds, lines, sections,
                          counts and sums (a check pass): fast-path pg records go from the line
                          straight to their record text (mno_pgrec_parse_text), so it->vals and
                          it->lens are NULL for them; the same counts, sums and errors. */
    int hash_thread;   /* 1 (with sums_only): record lines in the writers' envelope are decoded
                          and hashed in a second thread (lib/archive/recpipe.c); the reader returns
                          their items (kind, section, count) before they are decoded. Any
                          line of another kind, the input's end and any error first wait for
                          the lines handed over, so every error is still the first one, at
                          its own line, with the same text. */
} mno_reader_opts;

#define MNO_READER_OPTS_INIT {1, 0, 0, 0, 0, 0, 0, 0}

/* The options of a check pass (mno_stream_check, mno-restore's, mno-verify --check-archive):
   every count and sum checked, records hashed several at a time in a second thread, pg
   records straight from the line to their record text; the caller reads only kinds, lines,
   sections, counts and sums. Sets every field of *o. */
void mno_reader_opts_check(mno_reader_opts *o);

typedef struct mno_reader mno_reader;

/* Starts reading in (borrowed). Returns a reader (mno_reader_free), or NULL with e filled. */
mno_reader *mno_reader_new(mno_in *in, const mno_reader_opts *opts, mno_error *e);
/*
 * Reads and checks the next line. Returns 1 with *it filled, 0 at the end (after a valid
 * trailer), -1 on error with e naming the input, line and section: invalid JSON, unknown
 * format/version, rec outside its section, section opened twice, count/sum mismatch,
 * missing trailer (truncated), data after the trailer, zstd errors.
 */
int mno_reader_next(mno_reader *r, mno_item *it, mno_error *e);
/* The header object (NULL before it was read). */
const json_t *mno_reader_header(const mno_reader *r);
/* The header's "version" (1 or 2; 0 before it was read). Version 1 archives carry no metadata
   digests (docs/format.md 4.1). */
int mno_reader_version(const mno_reader *r);

/* Whether the archive is authenticated (docs/format.md 4.1), known once the trailer is read. */
enum mno_auth {
    MNO_AUTH_NONE = 0,   /* no "mac" in the trailer (or the trailer not read yet) */
    MNO_AUTH_NOKEY,      /* a "mac", but the reader has no MNO_ARCHIVE_KEY to check it */
    MNO_AUTH_OK,         /* the "mac" matches MNO_ARCHIVE_KEY */
    MNO_AUTH_BAD         /* it does not (an error when checking) */
};
int mno_reader_auth(const mno_reader *r);

/*
 * For a reader made with mno_reader_opts_check's options, right after a begin item (before
 * the section's first record): decode 1: the section's records are decoded (vals/lens or
 * doc) and hashed one by one, it->digest filled, as with fast_pg and fast_mongo alone;
 * decode 0: back to the check pass's way (records only counted and summed, in a second
 * thread; it->line as always). The checks and errors are the same either way. Returns 0, or
 * -1 when the reader has no second thread or records are still in flight.
 */
int mno_reader_set_decode(mno_reader *r, int decode);
/*
 * For a reader with a second thread (mno_reader_opts_check): fn(arg, it, e) is called for
 * each record line the second thread left to the general path (not in the writer's compact
 * form), once that path has read it: it is that record's item (lineno, line, v, vals/lens or
 * doc, digest), returned by mno_reader_next earlier with only its line. fn returns 0, or -1
 * with e filled to stop the reader with that error. NULL: none.
 */
void mno_reader_set_slow_hook(mno_reader *r, int (*fn)(void *arg, const mno_item *it, mno_error *e), void *arg);
/* The line up to which every record line handed to the second thread is read back (its sum
   added, the slow hook called for it): the current line when nothing is in flight. */
long long mno_reader_settled(const mno_reader *r);
void mno_reader_free(mno_reader *r);

/* ---- whole streams ---- */

/* What mno_stream_check read in a sound archive's trailer (and checked). */
typedef struct mno_check_result {
    uint64_t sections;         /* sections */
    uint64_t count;            /* records */
    mno_sum sum;               /* the trailer's sum */
    int version;               /* the header's version */
    int auth;                  /* enum mno_auth */
} mno_check_result;

/*
 * Reads the archive on in (borrowed) to its end and checks every line, each section's count
 * and sum and the trailer, writing nothing: the check pass of mno-restore and mno-cat --check.
 * Only the sums are computed, the fastest way (opts fast_pg, fast_mongo, no_digest, sums_only,
 * hash_thread), so every error is the one a reader with MNO_READER_OPTS_INIT gives, at the same
 * line, with the same text. max_line 0: the default. Returns 0 with *res filled (res may be
 * NULL), or -1 with e naming the input, line and section.
 */
int mno_stream_check(mno_in *in, size_t max_line, mno_check_result *res, mno_error *e);

/*
 * Copies the archive on in to out (both borrowed; the caller finishes or aborts out),
 * recomputing every section's count and sum and the trailer: accepts a deliberate edit
 * (mno-cat --seal). The structure must hold (header, begin/rec/end nesting, trailer);
 * only counts and sums may disagree. The header keeps its fields except "id", which is
 * new, and gains "sealed_by" (producer, as for mno_writer_new). Returns 0, or -1 with e
 * filled (out is then incomplete).
 */
int mno_stream_seal(mno_in *in, mno_out *out, const char *producer, mno_error *e);

#endif
