/* stream.c: the "mnoa" archive stream, version 2 (reads version 1; docs/format.md): writer and checking reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "buf.h"
#include "stream.h"
#include "engine_mongo_json.h"
#include "engine_pg_seq.h"
#include "ejson.h"
#include "pgrec.h"
#include "recpipe.h"
#include "archauth.h"

#ifndef MNO_VERSION_STR
#define MNO_VERSION_STR "0.0.0"
#endif

/* jansson flags for every archive line: "\u0000" is allowed in strings (BSON strings may
   hold NUL), a key given twice is an error. */
#define LINE_JSON_FLAGS (JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)

mno_engine_kind mno_engine_kind_parse(const char *s)
{
    if (s && strcmp(s, "postgresql") == 0)
        return MNO_ENGINE_PG;
    if (s && strcmp(s, "mongodb") == 0)
        return MNO_ENGINE_MONGO;
    return MNO_ENGINE_UNKNOWN;
}

const char *mno_engine_kind_name(mno_engine_kind k)
{
    switch (k) {
    case MNO_ENGINE_PG: return "postgresql";
    case MNO_ENGINE_MONGO: return "mongodb";
    default: return "unknown";
    }
}

/* ---- sections (shared by writer and reader) ---- */

static void section_release(mno_section *s)
{
    free(s->ns);
    json_decref(s->begin);
    free(s->colnames);
    free(s->coltypes);
    memset(s, 0, sizeof *s);
}

/* One Extended JSON object of a MongoDB begin line, checked as records are (mno_ejson_to_bson);
   what names it in messages ("options", "indexes[2]"). Returns 0, or -1 with why[] filled. */
static int begin_ejson_why(const json_t *v, const char *what, char *why, size_t whylen)
{
    char key[256], r[300];
    if (!json_is_object(v)) {
        snprintf(why, whylen, "begin's \"%s\" is not an object", what);
        return -1;
    }
    bson_t *b = mno_ejson_to_bson(v, key, sizeof key, r, sizeof r);
    if (b) {
        bson_destroy(b);
        return 0;
    }
    if (key[0])
        snprintf(why, whylen, "begin's \"%s\": invalid Extended JSON at key \"%s\": %s", what, key, r);
    else
        snprintf(why, whylen, "begin's \"%s\": %s", what, r);
    return -1;
}

/*
 * A MongoDB begin line's "options", "filter" and "indexes": what mno-restore sends to the
 * server (create, createIndexes) and mno-verify queries with, so checked like the records:
 * objects of valid Extended JSON, each index an object with a string "name" and a "key" object.
 * Returns 0, or -1 with why[] filled.
 */
static int mongo_begin_why(const json_t *begin, char *why, size_t whylen)
{
    static const char *const objs[] = {"options", "filter"};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) {
        json_t *v = json_object_get(begin, objs[i]);
        if (v && begin_ejson_why(v, objs[i], why, whylen) < 0)
            return -1;
    }
    json_t *idx = json_object_get(begin, "indexes"), *spec;
    size_t i;
    if (!idx)
        return 0;
    if (!json_is_array(idx)) {
        snprintf(why, whylen, "begin's \"indexes\" is not an array");
        return -1;
    }
    json_array_foreach(idx, i, spec) {
        char what[32];
        snprintf(what, sizeof what, "indexes[%zu]", i);
        if (begin_ejson_why(spec, what, why, whylen) < 0)
            return -1;
        if (!json_is_string(json_object_get(spec, "name")) || !json_is_object(json_object_get(spec, "key"))) {
            snprintf(why, whylen, "begin's \"%s\" has no string \"name\" and object \"key\"", what);
            return -1;
        }
    }
    return 0;
}

/*
 * Sets s up from a begin object (ownership of begin passes to s, also on failure).
 * Returns 0, or -1 with why[] holding the reason.
 */
static int section_setup(mno_section *s, const char *ns, json_t *begin, mno_engine_kind dflt,
                         char *why, size_t whylen)
{
    memset(s, 0, sizeof *s);
    s->begin = begin;
    s->ns = strdup(ns);
    if (!s->ns)
        goto nomem;
    s->engine = dflt;
    json_t *eng = json_object_get(begin, "engine");
    if (eng) {
        s->engine = mno_engine_kind_parse(json_string_value(eng));
        if (s->engine == MNO_ENGINE_UNKNOWN) {
            char *d = json_dumps(eng, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(why, whylen, "unknown engine %s", d ? d : "?");
            free(d);
            return -1;
        }
    }
    if (s->engine == MNO_ENGINE_MONGO)
        return mongo_begin_why(begin, why, whylen);
    if (s->engine != MNO_ENGINE_PG)
        return 0;
    json_t *cols = json_object_get(begin, "columns");
    if (!json_is_array(cols)) {   /* [] is a table without columns: its rows are counted */
        snprintf(why, whylen, "begin line has no \"columns\" array");
        return -1;
    }
    s->ncols = json_array_size(cols);
    s->colnames = calloc(s->ncols ? s->ncols : 1, sizeof *s->colnames);
    s->coltypes = calloc(s->ncols ? s->ncols : 1, sizeof *s->coltypes);
    if (!s->colnames || !s->coltypes)
        goto nomem;
    for (size_t i = 0; i < s->ncols; i++) {
        json_t *c = json_array_get(cols, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        if (!name || !*name) {
            snprintf(why, whylen, "column %zu has no \"name\"", i + 1);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->colnames[k], name) == 0) {
                snprintf(why, whylen, "column \"%s\" appears twice", name);
                return -1;
            }
        s->colnames[i] = name;
        s->coltypes[i] = type ? type : "";
    }
    if (mno_pg_seq_why(begin, why, whylen) < 0)   /* version 2: the table's sequences */
        return -1;
    return 0;
nomem:
    snprintf(why, whylen, "out of memory");
    return -1;
}

/*
 * Takes a pg record's values from v into vals/lens (pointing into v) in column order.
 * Returns 0, or -1 with why[] holding the reason.
 */
static int pg_values(const mno_section *s, const json_t *v, const char **vals, size_t *lens,
                     char *why, size_t whylen)
{
    if (!json_is_object(v)) {
        snprintf(why, whylen, "record value \"v\" is not an object");
        return -1;
    }
    for (size_t i = 0; i < s->ncols; i++) {
        json_t *x = json_object_get(v, s->colnames[i]);
        if (!x) {
            snprintf(why, whylen, "record has no column \"%s\"", s->colnames[i]);
            return -1;
        }
        if (json_is_null(x)) {
            vals[i] = NULL;
            lens[i] = 0;
        } else if (json_is_string(x)) {
            vals[i] = json_string_value(x);
            lens[i] = json_string_length(x);
        } else {
            snprintf(why, whylen, "column \"%s\" is neither a string nor null", s->colnames[i]);
            return -1;
        }
    }
    if (json_object_size(v) != s->ncols) {
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x) {
            size_t i = 0;
            while (i < s->ncols && strcmp(s->colnames[i], key) != 0)
                i++;
            if (i == s->ncols) {
                snprintf(why, whylen, "record has unknown column \"%s\"", key);
                return -1;
            }
        }
    }
    return 0;
}

/* A mongo record's value as BSON (caller destroys), or NULL with why[] holding the reason
   (naming the offending key). */
static bson_t *mongo_doc(const json_t *v, char *why, size_t whylen)
{
    if (!json_is_object(v)) {
        snprintf(why, whylen, "record value \"v\" is not an object");
        return NULL;
    }
    /* checked first: libbson's parser takes some invalid values and makes other values of
       them (engine_mongo_json.h, mno_ejson_check) */
    char key[256], r[300];
    bson_t *doc = mno_ejson_to_bson(v, key, sizeof key, r, sizeof r);
    if (!doc) {
        if (key[0])
            snprintf(why, whylen, "invalid Extended JSON at key \"%s\": %s", key, r);
        else
            snprintf(why, whylen, "%s", r);
    }
    return doc;
}

/* The lossless record form: the document's BSON bytes in base64, "bson" instead of "v"
   (docs/format.md, version 2). The document (caller destroys) or NULL with why[]. */
static bson_t *mongo_doc_bson(const json_t *b, char *why, size_t whylen)
{
    const char *s = json_string_value(b);
    size_t n = json_string_length(b);
    if (!s || n % 4 || n / 4 * 3 > MNO_BSON_MAX + 2) {
        snprintf(why, whylen, "record \"bson\" is not base64 of at most 16 MiB");
        return NULL;
    }
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    int len = buf ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n) : -1;
    if (len >= 0 && n >= 4) /* EVP_DecodeBlock counts the padding's bytes */
        len -= (s[n - 1] == '=') + (s[n - 2] == '=');
    bson_t *doc = NULL;
    bson_t st;
    size_t off;
    if (len < 0 || strlen(s) != n)
        snprintf(why, whylen, "record \"bson\" is not valid base64");
    else if (len < 5 || (size_t)len > MNO_BSON_MAX || !bson_init_static(&st, buf, (size_t)len) ||
             !bson_validate(&st, BSON_VALIDATE_NONE, &off))
        snprintf(why, whylen, "record \"bson\" is not one well-formed BSON document of at most 16 MiB");
    else if (!(doc = bson_new_from_data(buf, (size_t)len)))
        snprintf(why, whylen, "out of memory");
    free(buf);
    return doc;
}

/* ---- writer ---- */

struct mno_writer {
    mno_out *out;
    json_t *header;
    mno_engine_kind engine;
    json_t *seen;             /* ns -> true: sections written */
    mno_section sec;
    int open;                 /* sec is open */
    int closed;               /* trailer written */
    mno_buf line;             /* the line being built */
    mno_buf text;             /* pg record text */
    mno_buf recpre;           /* {"t":"rec","ns":NS,"v":   for the open section */
    mno_buf keys;             /* pg: "name": per column, back to back */
    size_t *keyoff;           /* pg: ncols+1 offsets into keys */
    const char **vals;        /* pg: rec_json's values */
    size_t *lens;
    mno_hasher *h;
    mno_ejson_keys *ekeys;    /* mongo: the keys' printed forms, for this writer's thread */
    uint64_t nsections, count;
    mno_sum sum;
    void (*tick)(void *arg);  /* called after every line (progress) */
    void *tick_arg;
    /* metadata digests (docs/format.md 4.1): the header's and the open section's begin's */
    unsigned char hdig[32], bdig[32];
    mno_buf mac;              /* the MAC's input so far */
    mno_archkey *key;         /* MNO_ARCHIVE_KEY, or NULL: no "mac" */
    json_t *trailer_extra;    /* fields added to the trailer (mno_writer_set_trailer_extra) */
};

static int w_put(mno_writer *w, const mno_buf *b, mno_error *e)
{
    if (mno_out_write(w->out, b->data, b->len, e) < 0)
        return -1;
    if (w->tick)
        w->tick(w->tick_arg);
    return 0;
}

void mno_writer_set_tick(mno_writer *w, void (*tick)(void *arg), void *arg)
{
    w->tick = tick;
    w->tick_arg = arg;
}

/* Writes obj as one compact line; its metadata digest (mno_meta_digest) into dig. */
static int w_put_json(mno_writer *w, const json_t *obj, unsigned char dig[32], mno_error *e)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    mno_meta_digest(s, strlen(s), dig);
    mno_buf_reset(&w->line);
    int rc = mno_buf_adds(&w->line, s) < 0 || mno_buf_addc(&w->line, '\n') < 0
                 ? mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory")
                 : w_put(w, &w->line, e);
    free(s);
    return rc;
}

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

mno_writer *mno_writer_new(mno_out *out, const json_t *header, const char *producer, mno_error *e)
{
    mno_writer *w = calloc(1, sizeof *w);
    if (!w) {
        nomem(e);
        return NULL;
    }
    w->out = out;
    w->header = json_object();
    w->seen = json_object();
    w->h = mno_hasher_new();
    if (!w->header || !w->seen || !w->h) {
        nomem(e);
        goto fail;
    }
    if (!json_is_object(header)) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "archive header is not an object");
        goto fail;
    }
    w->engine = mno_engine_kind_parse(json_string_value(json_object_get(header, "engine")));
    if (w->engine == MNO_ENGINE_UNKNOWN) {
        const char *s = json_string_value(json_object_get(header, "engine"));
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "archive header: unknown engine \"%s\"", s ? s : "");
        goto fail;
    }
    json_object_set_new(w->header, "t", json_string("header"));
    json_object_set_new(w->header, "format", json_string(MNO_FORMAT));
    json_object_set_new(w->header, "version", json_integer(MNO_VERSION));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)header, key, val) {
        if (strcmp(key, "t") && strcmp(key, "format") && strcmp(key, "version"))
            json_object_set_new(w->header, key, json_deep_copy(val));
    }
    if (!json_object_get(w->header, "created")) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(w->header, "created", json_string(ts));
    }
    if (!json_object_get(w->header, "producer")) {
        char p[256];
        if (!producer)
            producer = "mno";
        if (strchr(producer, ' '))
            snprintf(p, sizeof p, "%s", producer);
        else
            snprintf(p, sizeof p, "%s %s", producer, MNO_VERSION_STR);
        json_object_set_new(w->header, "producer", json_string(p));
    }
    if (!json_object_get(w->header, "id")) {
        unsigned char rnd[16];
        mno_sum id;
        char hex[33];
        if (RAND_bytes(rnd, sizeof rnd) != 1) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "no random bytes for the archive id");
            goto fail;
        }
        memcpy(&id.hi, rnd, 8);
        memcpy(&id.lo, rnd + 8, 8);
        json_object_set_new(w->header, "id", json_string(mno_sum_hex(&id, hex)));
    }
    if (mno_archkey_load(&w->key, e) < 0 || w_put_json(w, w->header, w->hdig, e) < 0 ||
        (mno_mac_start(&w->mac, w->hdig) < 0 && nomem(e)))
        goto fail;
    return w;
fail:
    mno_writer_free(w);
    return NULL;
}

const json_t *mno_writer_header(const mno_writer *w) { return w->header; }
const mno_section *mno_writer_section(const mno_writer *w) { return w->open ? &w->sec : NULL; }

int mno_writer_begin(mno_writer *w, const char *ns, const json_t *begin, mno_error *e)
{
    char why[600];
    if (w->closed)
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "begin after the trailer");
    if (w->open)
        return mno_err(e, MNO_E_USAGE, NULL, 0, w->sec.ns, "no end before the begin of section %s", ns);
    if (!ns || !*ns)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "begin without a namespace");
    if (json_object_get(w->seen, ns))
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "section opened twice");
    json_t *b = json_object();
    if (!b)
        return nomem(e);
    json_object_set_new(b, "t", json_string("begin"));
    json_object_set_new(b, "ns", json_string(ns));
    if (begin) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)begin, key, val) {
            if (strcmp(key, "t") && strcmp(key, "ns"))
                json_object_set_new(b, key, json_deep_copy(val));
        }
    }
    if (section_setup(&w->sec, ns, b, w->engine, why, sizeof why) < 0) {
        section_release(&w->sec);
        return mno_err(e, MNO_E_USAGE, NULL, 0, ns, "%s", why);
    }
    /* the fixed parts of every record line of this section */
    mno_buf_reset(&w->recpre);
    mno_buf_reset(&w->keys);
    free(w->keyoff);
    free(w->vals);
    free(w->lens);
    w->keyoff = calloc(w->sec.ncols + 1, sizeof *w->keyoff);
    w->vals = calloc(w->sec.ncols + 1, sizeof *w->vals);
    w->lens = calloc(w->sec.ncols + 1, sizeof *w->lens);
    if (!w->keyoff || !w->vals || !w->lens || mno_buf_adds(&w->recpre, "{\"t\":\"rec\",\"ns\":") < 0 ||
        mno_buf_add_json_str(&w->recpre, ns, strlen(ns)) < 0 ||
        mno_buf_adds(&w->recpre, w->sec.engine == MNO_ENGINE_PG ? ",\"v\":{" : ",\"v\":") < 0)
        goto nomem;
    for (size_t i = 0; i < w->sec.ncols; i++) {
        w->keyoff[i] = w->keys.len;
        if ((i > 0 && mno_buf_addc(&w->keys, ',') < 0) ||
            mno_buf_add_json_str(&w->keys, w->sec.colnames[i], strlen(w->sec.colnames[i])) < 0 ||
            mno_buf_addc(&w->keys, ':') < 0)
            goto nomem;
    }
    w->keyoff[w->sec.ncols] = w->keys.len;
    if (!w->keys.data && mno_buf_grow(&w->keys, 1) < 0)
        goto nomem;
    json_object_set_new(w->seen, ns, json_true());
    w->open = 1;
    if (w_put_json(w, b, w->bdig, e) < 0)
        return -1;
    return 0;
nomem:
    section_release(&w->sec);
    return nomem(e);
}

static int w_need_open(mno_writer *w, mno_engine_kind k, mno_error *e)
{
    if (!w->open)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "record outside any section");
    if (w->sec.engine != k)
        return mno_err(e, MNO_E_USAGE, NULL, 0, w->sec.ns, "%s record in a %s section",
                       mno_engine_kind_name(k), mno_engine_kind_name(w->sec.engine));
    return 0;
}

static int rec_pg(mno_writer *w, const char *const *vals, const size_t *lens,
                  const unsigned char *digest, mno_error *e);

int mno_writer_rec_pg(mno_writer *w, const char *const *vals, const size_t *lens, mno_error *e)
{
    return rec_pg(w, vals, lens, NULL, e);
}

int mno_writer_rec_pg_digest(mno_writer *w, const char *const *vals, const size_t *lens,
                             const unsigned char digest[16], mno_error *e)
{
    return rec_pg(w, vals, lens, digest, e);
}

/* Values up to this long are escaped straight into a line grown for their worst case
   (MNO_JSON_STR_MAX); a longer one through mno_buf_add_json_str, which grows as it goes. */
#define FAST_JSON_MAX ((size_t)64 << 10)

/* Appends the record line of one pg row to l (reads only the open section's fixed parts).
   Returns 0, or -1 on out of memory. */
static int put_row_pg(const mno_writer *w, mno_buf *l, const char *const *vals, const size_t *lens)
{
    size_t nc = w->sec.ncols, need = w->recpre.len + w->keys.len + 3;
    for (size_t i = 0; i < nc; i++) {
        size_t n = vals[i] ? (lens ? lens[i] : strlen(vals[i])) : 0;
        need += !vals[i] ? 4 : n <= FAST_JSON_MAX ? MNO_JSON_STR_MAX(n) : 0;
    }
    if (mno_buf_grow(l, need) < 0)
        return -1;
    char *p = l->data + l->len;
    memcpy(p, w->recpre.data, w->recpre.len);
    p += w->recpre.len;
    for (size_t i = 0; i < nc; i++) {
        size_t klen = w->keyoff[i + 1] - w->keyoff[i];
        memcpy(p, w->keys.data + w->keyoff[i], klen);
        p += klen;
        need -= klen;
        if (!vals[i]) {
            memcpy(p, "null", 4);
            p += 4;
            need -= 4;
            continue;
        }
        size_t n = lens ? lens[i] : strlen(vals[i]);
        if (n <= FAST_JSON_MAX) {
            p += mno_json_str_put(p, vals[i], n);
            need -= MNO_JSON_STR_MAX(n);
            continue;
        }
        /* a long value: grown as it is written, then room again for what is left */
        l->len = (size_t)(p - l->data);
        if (mno_buf_add_json_str(l, vals[i], n) < 0 || mno_buf_grow(l, need) < 0)
            return -1;
        p = l->data + l->len;
    }
    memcpy(p, "}}\n", 3);
    p += 3;
    l->len = (size_t)(p - l->data);
    l->data[l->len] = '\0';
    return 0;
}

/* Counts a written pg row into the section: digest, or its record text's md5 when NULL. */
static int count_row_pg(mno_writer *w, const char *const *vals, const size_t *lens,
                        const unsigned char *digest)
{
    unsigned char d[16];
    if (!digest) {
        mno_buf_reset(&w->text);
        if (mno_pg_record_text(&w->text, vals, lens, w->sec.ncols) < 0)
            return -1;
        mno_hasher_md5(w->h, w->text.data, w->text.len, d);
        digest = d;
    }
    mno_sum_add_digest(&w->sec.sum, digest);
    w->sec.count++;
    return 0;
}

/* Writes a pg record line; digest: its record text's md5, computed here when NULL. */
static int rec_pg(mno_writer *w, const char *const *vals, const size_t *lens,
                  const unsigned char *digest, mno_error *e)
{
    if (w_need_open(w, MNO_ENGINE_PG, e) < 0)
        return -1;
    mno_buf_reset(&w->line);
    if (put_row_pg(w, &w->line, vals, lens) < 0 || count_row_pg(w, vals, lens, digest) < 0)
        return nomem(e);
    return w_put(w, &w->line, e);
}

/* Lines are gathered up to this many bytes before one write (plain output: no copy). */
#define BATCH_FLUSH ((size_t)1 << 20)

int mno_writer_recs_pg(mno_writer *w, size_t n, const char *const *vals, const size_t *lens,
                       const unsigned char (*digests)[16], mno_error *e)
{
    if (w_need_open(w, MNO_ENGINE_PG, e) < 0)
        return -1;
    size_t nc = w->sec.ncols;
    mno_buf_reset(&w->line);
    for (size_t r = 0; r < n; r++) {
        const char *const *v = vals + r * nc;
        const size_t *l = lens ? lens + r * nc : NULL;
        if (put_row_pg(w, &w->line, v, l) < 0 || count_row_pg(w, v, l, digests ? digests[r] : NULL) < 0)
            return nomem(e);
        if (w->line.len >= BATCH_FLUSH) {
            if (w_put(w, &w->line, e) < 0)
                return -1;
            mno_buf_reset(&w->line);
        }
    }
    return w->line.len ? w_put(w, &w->line, e) : 0;
}

int mno_writer_pg_encode(const mno_writer *w, mno_buf *out, size_t n, const char *const *vals,
                         const size_t *lens)
{
    if (!w->open || w->sec.engine != MNO_ENGINE_PG)
        return -1;
    size_t nc = w->sec.ncols;
    for (size_t r = 0; r < n; r++)
        if (put_row_pg(w, out, vals + r * nc, lens ? lens + r * nc : NULL) < 0)
            return -1;
    return 0;
}

/* N encoded record lines (LEN bytes) of an ENGINE section, their md5s in DIGESTS: summed,
   counted and written. */
static int put_lines(mno_writer *w, mno_engine_kind engine, const char *lines, size_t len, size_t n,
                     const unsigned char (*digests)[16], mno_error *e)
{
    if (w_need_open(w, engine, e) < 0)
        return -1;
    for (size_t r = 0; r < n; r++)
        mno_sum_add_digest(&w->sec.sum, digests[r]);
    w->sec.count += n;
    if (!len)
        return 0;
    if (mno_out_write(w->out, lines, len, e) < 0)
        return -1;
    if (w->tick)
        w->tick(w->tick_arg);
    return 0;
}

int mno_writer_put_pg_lines(mno_writer *w, const char *lines, size_t len, size_t n,
                            const unsigned char (*digests)[16], mno_error *e)
{
    return put_lines(w, MNO_ENGINE_PG, lines, len, n, digests, e);
}

int mno_writer_copy_lines(mno_writer *w, const char *lines, size_t len, size_t n,
                          const unsigned char (*digests)[16], mno_error *e)
{
    if (!w->open)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "record outside any section");
    if (digests)
        for (size_t r = 0; r < n; r++)
            mno_sum_add_digest(&w->sec.sum, digests[r]);
    w->sec.count += n;
    if (!len)
        return 0;
    if (mno_out_write(w->out, lines, len, e) < 0)
        return -1;
    if (w->tick)
        w->tick(w->tick_arg);
    return 0;
}

void mno_writer_add_sum(mno_writer *w, const mno_sum *sum)
{
    if (w->open)
        mno_sum_add(&w->sec.sum, sum);
}

int mno_writer_set_trailer_extra(mno_writer *w, const json_t *extra, mno_error *e)
{
    json_decref(w->trailer_extra);
    w->trailer_extra = extra ? json_deep_copy(extra) : NULL;
    if (extra && !json_is_object(w->trailer_extra))
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "trailer fields are not an object");
    return 0;
}

/* The writer's key cache for printing documents, made on first use. 0 or -1. */
static int w_ekeys(mno_writer *w)
{
    if (!w->ekeys)
        w->ekeys = calloc(1, sizeof *w->ekeys);
    return w->ekeys ? 0 : -1;
}

/*
 * Appends doc's record line to l: the envelope pre[0..prelen) ({"t":"rec","ns":NS,"v":), the
 * canonical text and "}\n" when that text provably parses back to doc's bytes, else the
 * lossless form {"t":"rec","ns":NS,"bson":"BASE64"} (docs/format.md, version 2). Documents
 * whose walk finds no suspect value (mno_ejson_suspect) round-trip by construction; the
 * others are parsed back and compared. 0; -1 out of memory; -2 doc is not well-formed BSON
 * (no form can carry it). On failure l is as it was.
 */
static int mongo_rec_line(mno_ejson_keys *kc, mno_buf *l, const char *pre, size_t prelen, const uint8_t *doc,
                          size_t len)
{
    size_t at = l->len;
    if (mno_buf_add(l, pre, prelen) < 0)
        return -1;
    int jr = mno_ejson_canonical_keys(kc, l, doc, len);
    if (jr == MNO_EJSON_NOMEM) {
        l->len = at;
        return -1;
    }
    if (jr == 0 && (!mno_ejson_suspect(doc, len) ||
                    mno_ejson_exact(l->data + at + prelen, l->len - at - prelen, doc, len)))
        return mno_buf_add(l, "}\n", 2) < 0 ? (l->len = at, -1) : 0;
    l->len = at;
    bson_t st;
    size_t off;
    if (len > INT32_MAX / 2 || !bson_init_static(&st, doc, len) || !bson_validate(&st, BSON_VALIDATE_NONE, &off))
        return -2;
    /* the envelope without its "v": */
    size_t b64 = (len + 2) / 3 * 4;
    if (mno_buf_add(l, pre, prelen - 4) < 0 || mno_buf_add(l, "\"bson\":\"", 8) < 0 ||
        mno_buf_grow(l, b64 + 4) < 0) {
        l->len = at;
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)l->data + l->len, doc, (int)len);
    l->len += b64;
    if (mno_buf_add(l, "\"}\n", 3) < 0) {
        l->len = at;
        return -1;
    }
    return 0;
}

/* "record N (_id X)" for an error about the document doc, into out. */
static void rec_name(char *out, size_t n, unsigned long long num, const uint8_t *doc, size_t len)
{
    bson_t st, one = BSON_INITIALIZER;
    bson_iter_t it;
    mno_buf b = MNO_BUF_INIT;
    snprintf(out, n, "record %llu", num);
    if (bson_init_static(&st, doc, len) && bson_iter_init_find(&it, &st, "_id") &&
        bson_append_iter(&one, "_id", 3, &it) && mno_ejson_canonical(&b, bson_get_data(&one), one.len) == 0) {
        /* { "_id" : X } -> X */
        const char *v = strchr(b.data, ':');
        size_t vl = v ? strlen(v) : 0;
        if (v && vl > 4)
            snprintf(out, n, "record %llu (_id %.*s)", num, (int)(vl - 4), v + 2);
    } else {
        snprintf(out, n, "record %llu (_id unreadable)", num);
    }
    mno_buf_release(&b);
    bson_destroy(&one);
}

int mno_writer_rec_bson(mno_writer *w, const bson_t *doc, mno_error *e)
{
    if (w_need_open(w, MNO_ENGINE_MONGO, e) < 0)
        return -1;
    mno_buf *l = &w->line;
    mno_buf_reset(l);
    if (w_ekeys(w) < 0)
        return nomem(e);
    /* what bson_as_canonical_extended_json prints, without its cost (lib/archive/ejson.c), or the
       lossless form */
    int jr = mongo_rec_line(w->ekeys, l, w->recpre.data, w->recpre.len, bson_get_data(doc), doc->len);
    if (jr == -1)
        return nomem(e);
    if (jr) {
        char name[300];
        rec_name(name, sizeof name, (unsigned long long)w->sec.count + 1, bson_get_data(doc), doc->len);
        return mno_err(e, MNO_E_FORMAT, NULL, 0, w->sec.ns, "%s cannot be written (not well-formed BSON)", name);
    }
    unsigned char d[16];
    mno_hasher_md5(w->h, bson_get_data(doc), doc->len, d);
    mno_sum_add_digest(&w->sec.sum, d);
    w->sec.count++;
    return w_put(w, l, e);
}

int mno_writer_recs_bson(mno_writer *w, size_t n, const uint8_t *const *docs, const size_t *lens,
                         mno_error *e)
{
    return mno_writer_recs_bson_digest(w, n, docs, lens, NULL, e);
}

int mno_writer_recs_bson_digest(mno_writer *w, size_t n, const uint8_t *const *docs, const size_t *lens,
                                const unsigned char (*digests)[16], mno_error *e)
{
    if (w_need_open(w, MNO_ENGINE_MONGO, e) < 0)
        return -1;
    enum { CHUNK = 256 };
    unsigned char d[CHUNK][16];
    mno_buf *l = &w->line;
    mno_buf_reset(l);
    if (w_ekeys(w) < 0)
        return nomem(e);
    for (size_t r0 = 0; r0 < n; r0 += CHUNK) {
        size_t k = n - r0 < CHUNK ? n - r0 : CHUNK;
        for (size_t r = r0; r < r0 + k; r++) {
            int jr = mongo_rec_line(w->ekeys, l, w->recpre.data, w->recpre.len, docs[r], lens[r]);
            if (jr == -1)
                return nomem(e);
            if (jr) {
                char name[300];
                rec_name(name, sizeof name, (unsigned long long)(w->sec.count + (r - r0) + 1), docs[r], lens[r]);
                return mno_err(e, MNO_E_FORMAT, NULL, 0, w->sec.ns, "%s cannot be written (not well-formed BSON)",
                               name);
            }
        }
        if (digests) {
            for (size_t r = 0; r < k; r++)
                mno_sum_add_digest(&w->sec.sum, digests[r0 + r]);
        } else {
            mno_md5_many((const unsigned char *const *)docs + r0, lens + r0, k, d);
            for (size_t r = 0; r < k; r++)
                mno_sum_add_digest(&w->sec.sum, d[r]);
        }
        w->sec.count += k;
        if (l->len >= BATCH_FLUSH) {
            if (w_put(w, l, e) < 0)
                return -1;
            mno_buf_reset(l);
        }
    }
    return l->len ? w_put(w, l, e) : 0;
}

int mno_writer_bson_encode(const mno_writer *w, mno_ejson_keys *kc, mno_buf *out, size_t n,
                           const uint8_t *const *docs, const size_t *lens)
{
    if (!w->open || w->sec.engine != MNO_ENGINE_MONGO)
        return -1;
    for (size_t r = 0; r < n; r++) {
        if (mongo_rec_line(kc, out, w->recpre.data, w->recpre.len, docs[r], lens[r]) != 0)
            return -1;
    }
    return 0;
}

int mno_writer_put_bson_lines(mno_writer *w, const char *lines, size_t len, size_t n,
                              const unsigned char (*digests)[16], mno_error *e)
{
    return put_lines(w, MNO_ENGINE_MONGO, lines, len, n, digests, e);
}

int mno_writer_rec_json(mno_writer *w, const json_t *v, mno_error *e)
{
    char why[600];
    if (!w->open)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "record outside any section");
    if (w->sec.engine == MNO_ENGINE_PG) {
        if (pg_values(&w->sec, v, w->vals, w->lens, why, sizeof why) < 0)
            return mno_err(e, MNO_E_FORMAT, NULL, 0, w->sec.ns, "%s", why);
        return mno_writer_rec_pg(w, w->vals, w->lens, e);
    }
    bson_t *doc = mongo_doc(v, why, sizeof why);
    if (!doc)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, w->sec.ns, "%s", why);
    int rc = mno_writer_rec_bson(w, doc, e);
    bson_destroy(doc);
    return rc;
}

int mno_writer_end(mno_writer *w, mno_error *e)
{
    char hex[33], dhex[65];
    if (!w->open)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "end without an open section");
    mno_buf *l = &w->line;
    mno_buf_reset(l);
    if (mno_buf_adds(l, "{\"t\":\"end\",\"ns\":") < 0 ||
        mno_buf_add_json_str(l, w->sec.ns, strlen(w->sec.ns)) < 0 ||
        mno_buf_addf(l, ",\"count\":%llu,\"sum\":\"%s\",\"begin_sha256\":\"%s\"}\n",
                     (unsigned long long)w->sec.count, mno_sum_hex(&w->sec.sum, hex), mno_meta_hex(w->bdig, dhex)) < 0 ||
        mno_mac_section(&w->mac, w->bdig, w->sec.count, &w->sec.sum) < 0)
        return nomem(e);
    w->nsections++;
    w->count += w->sec.count;
    mno_sum_add(&w->sum, &w->sec.sum);
    w->open = 0;
    section_release(&w->sec);
    return w_put(w, l, e);
}

int mno_writer_close(mno_writer *w, mno_error *e)
{
    char hex[33], dhex[65];
    if (w->open)
        return mno_err(e, MNO_E_USAGE, NULL, 0, w->sec.ns, "trailer before the end of the section");
    if (w->closed)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "trailer written twice");
    mno_buf *l = &w->line;
    mno_buf_reset(l);
    if (mno_buf_addf(l, "{\"t\":\"trailer\",\"sections\":%llu,\"count\":%llu,\"sum\":\"%s\",\"header_sha256\":\"%s\"",
                     (unsigned long long)w->nsections, (unsigned long long)w->count,
                     mno_sum_hex(&w->sum, hex), mno_meta_hex(w->hdig, dhex)) < 0)
        return nomem(e);
    if (w->key) {
        unsigned char mac[32];
        if (mno_mac_trailer(&w->mac, w->nsections, w->count, &w->sum) < 0)
            return nomem(e);
        if (mno_mac_final(w->key, &w->mac, mac) < 0)
            return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "cannot compute the archive's mac");
        if (mno_buf_addf(l, ",\"mac\":\"%s\"", mno_meta_hex(mac, dhex)) < 0)
            return nomem(e);
    }
    if (w->trailer_extra) {
        const char *key;
        json_t *val;
        json_object_foreach(w->trailer_extra, key, val) {
            char *vs = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            int bad = !vs || mno_buf_addc(l, ',') < 0 || mno_buf_add_json_str(l, key, strlen(key)) < 0 ||
                      mno_buf_addc(l, ':') < 0 || mno_buf_adds(l, vs) < 0;
            free(vs);
            if (bad)
                return nomem(e);
        }
    }
    if (mno_buf_adds(l, "}\n") < 0)
        return nomem(e);
    w->closed = 1;
    return w_put(w, l, e);
}

void mno_writer_free(mno_writer *w)
{
    if (!w)
        return;
    section_release(&w->sec);
    json_decref(w->header);
    json_decref(w->seen);
    json_decref(w->trailer_extra);
    mno_buf_release(&w->line);
    mno_buf_release(&w->text);
    mno_buf_release(&w->recpre);
    mno_buf_release(&w->keys);
    free(w->keyoff);
    free(w->vals);
    free(w->lens);
    mno_hasher_free(w->h);
    free(w->ekeys);
    mno_buf_release(&w->mac);
    mno_archkey_free(w->key);
    free(w);
}

/* ---- reader ---- */

enum { R_HEADER, R_BODY, R_AFTER, R_FAILED };

/* opts.no_digest: records per mno_md5_many call, and the bytes a batch may grow to first */
#define MNO_BATCH_RECS 128
#define MNO_BATCH_BYTES ((size_t)512 << 10)

struct mno_reader {
    mno_in *in;
    mno_reader_opts opts;
    int state;
    json_t *header;
    mno_engine_kind engine;
    json_t *obj;              /* the current line */
    json_t *seen;             /* ns -> line of its begin */
    mno_section sec;
    int open;                 /* sec is open; sec may still hold a just-ended section */
    const char **vals;        /* pg values of the current record */
    size_t *lens;
    bson_t *doc;              /* mongo document of the current record */
    bson_t *docst;            /* fast_mongo: a read-only bson_t over docbuf (aligned as bson_t wants) */
    mno_buf docbuf;           /* fast_mongo: the current document's BSON bytes */
    mno_buf recpre;           /* {"t":"rec","ns":NS,"v":  the open section's rec lines as writers write them */
    mno_buf text;
    mno_hasher *h;
    mno_ejson_keys *ekeys;    /* mongo: the keys' printed forms, for this writer's thread */
    uint64_t nsections, count;
    mno_sum sum;
    mno_pgrec *fast;          /* opts.fast_pg: the compact pg record decoder */
    /* opts.no_digest: canonical forms (pg record texts, mongo BSON bytes) of the open
       section's records, back to back, waiting to be hashed together (batch_flush) */
    mno_buf batch;
    size_t batoff[MNO_BATCH_RECS + 1];
    size_t batn;
    mno_recpipe *pipe;        /* opts.hash_thread: record lines handed to a second thread */
    long long at_line;        /* a line handed over and back, read now: its number (else 0) */
    /* metadata digests (docs/format.md 4.1) */
    int version;              /* the header's */
    unsigned char hdig[32], bdig[32];  /* the header's and the open section's begin's */
    mno_buf mac;              /* the MAC's input so far */
    mno_archkey *key;         /* MNO_ARCHIVE_KEY, or NULL */
    int auth;                 /* enum mno_auth, once the trailer is read */
};

mno_reader *mno_reader_new(mno_in *in, const mno_reader_opts *opts, mno_error *e)
{
    mno_reader_opts def = MNO_READER_OPTS_INIT;
    mno_reader *r = calloc(1, sizeof *r);
    if (!r) {
        nomem(e);
        return NULL;
    }
    r->in = in;
    r->opts = opts ? *opts : def;
    r->seen = json_object();
    r->h = mno_hasher_new();
    if ((r->opts.fast_pg && !(r->fast = mno_pgrec_new())) ||
        (r->opts.hash_thread && r->opts.sums_only && r->opts.no_digest && !(r->pipe = mno_recpipe_new()))) {
        nomem(e);
        mno_reader_free(r);
        return NULL;
    }
    if (!r->seen || !r->h) {
        nomem(e);
        mno_reader_free(r);
        return NULL;
    }
    if (mno_archkey_load(&r->key, e) < 0) {
        mno_reader_free(r);
        return NULL;
    }
    if (r->opts.max_line)
        mno_in_set_max_line(in, r->opts.max_line);
    return r;
}

const json_t *mno_reader_header(const mno_reader *r) { return r->header; }
int mno_reader_version(const mno_reader *r) { return r->version; }
int mno_reader_auth(const mno_reader *r) { return r->auth; }

int mno_reader_set_decode(mno_reader *r, int decode)
{
    if (!r->pipe || r->batn || mno_recpipe_pending(r->pipe))
        return -1;
    r->opts.no_digest = r->opts.sums_only = r->opts.hash_thread = !decode;
    return 0;
}

/* Fills e for the current line (and the open section when there is one). */
static int r_err(mno_reader *r, mno_error *e, int code, const char *ns, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int r_err(mno_reader *r, mno_error *e, int code, const char *ns, const char *fmt, ...)
{
    va_list ap;
    char body[sizeof e->msg];
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    /* a malformed last line without its newline is what a cut file or stream looks like (a
       line handed back by the pipe had its newline: such a line is never handed over) */
    int cut = code == MNO_E_FORMAT && r->state != R_AFTER && !r->at_line && mno_in_unterminated(r->in);
    mno_err(e, cut ? MNO_E_TRUNCATED : code, mno_in_name(r->in), r->at_line ? r->at_line : mno_in_lineno(r->in),
            ns, "%s%s",
            cut ? "truncated archive: the last line is cut short (no newline at its end): " : "", body);
    r->state = R_FAILED;
    return -1;
}

/* Adds the open section to an error from the codec ("input:line: what"). */
static int r_rewrap(mno_reader *r, mno_error *e)
{
    r->state = R_FAILED;
    if (!r->open || !e)
        return -1;
    char pre[MNO_NAME_MSG_MAX + 32], body[sizeof e->msg];
    mno_err_prefix(e->input, e->line, NULL, pre, sizeof pre);
    size_t n = strlen(pre);
    snprintf(body, sizeof body, "%s", strncmp(e->msg, pre, n) == 0 ? e->msg + n : e->msg);
    char input[sizeof e->input];
    snprintf(input, sizeof input, "%s", e->input);
    return mno_err(e, e->code, input, e->line, r->sec.ns, "%s", body);
}

static int get_u64(json_t *obj, const char *key, uint64_t *out)
{
    json_t *x = json_object_get(obj, key);
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(x);
    return 0;
}

static int r_header(mno_reader *r, mno_item *it, mno_error *e)
{
    json_t *o = r->obj;
    const char *t = json_string_value(json_object_get(o, "t"));
    if (strcmp(t, "header") != 0)
        return r_err(r, e, MNO_E_FORMAT, NULL, "not an mnoa archive: the first line is not a header");
    const char *fmt = json_string_value(json_object_get(o, "format"));
    if (!fmt || strcmp(fmt, MNO_FORMAT) != 0)
        return r_err(r, e, MNO_E_FORMAT, NULL, "not an mnoa archive: format is not \"mnoa\"");
    json_t *ver = json_object_get(o, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) < MNO_VERSION_MIN || json_integer_value(ver) > MNO_VERSION) {
        char *d = ver ? json_dumps(ver, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        r_err(r, e, MNO_E_FORMAT, NULL, "unsupported archive version %s (this reader reads versions %d and %d)",
              d ? d : "(none)", MNO_VERSION_MIN, MNO_VERSION);
        free(d);
        return -1;
    }
    r->version = (int)json_integer_value(ver);
    mno_meta_digest(it->line, it->len, r->hdig);
    if (mno_mac_start(&r->mac, r->hdig) < 0)
        return r_err(r, e, MNO_E_NOMEM, NULL, "out of memory");
    const char *eng = json_string_value(json_object_get(o, "engine"));
    r->engine = mno_engine_kind_parse(eng);
    if (r->engine == MNO_ENGINE_UNKNOWN)
        return r_err(r, e, MNO_E_FORMAT, NULL, "unknown engine \"%s\" in the header", eng ? eng : "");
    r->header = json_incref(o);
    r->state = R_BODY;
    it->kind = MNO_ITEM_HEADER;
    return 1;
}

static int r_begin(mno_reader *r, const char *ns, mno_item *it, mno_error *e)
{
    char why[600];
    if (r->open)
        return r_err(r, e, MNO_E_FORMAT, r->sec.ns, "no end line before the begin of section %s", ns);
    json_t *first = json_object_get(r->seen, ns);
    if (first)
        return r_err(r, e, MNO_E_FORMAT, ns, "section opened twice (first at line %lld)",
                     (long long)json_integer_value(first));
    section_release(&r->sec);
    free(r->vals);
    free(r->lens);
    r->vals = NULL;
    r->lens = NULL;
    if (section_setup(&r->sec, ns, json_incref(r->obj), r->engine, why, sizeof why) < 0)
        return r_err(r, e, MNO_E_FORMAT, ns, "%s", why);
    r->sec.begin_line = mno_in_lineno(r->in);
    mno_meta_digest(it->line, it->len, r->bdig);
    r->vals = calloc(r->sec.ncols + 1, sizeof *r->vals);
    r->lens = calloc(r->sec.ncols + 1, sizeof *r->lens);
    if (!r->vals || !r->lens)
        return r_err(r, e, MNO_E_NOMEM, ns, "out of memory");
    mno_buf_reset(&r->recpre);
    if (mno_buf_adds(&r->recpre, "{\"t\":\"rec\",\"ns\":") < 0 ||
        mno_buf_add_json_str(&r->recpre, ns, strlen(ns)) < 0 || mno_buf_adds(&r->recpre, ",\"v\":") < 0)
        return r_err(r, e, MNO_E_NOMEM, ns, "out of memory");
    json_object_set_new(r->seen, ns, json_integer(r->sec.begin_line));
    if (r->fast && r->sec.engine == MNO_ENGINE_PG && mno_pgrec_setup(r->fast, &r->sec) < 0)
        return r_err(r, e, MNO_E_NOMEM, ns, "out of memory");
    if (r->pipe && mno_recpipe_setup(r->pipe, &r->sec, r->recpre.len) < 0)   /* nothing in flight */
        return r_err(r, e, MNO_E_NOMEM, ns, "out of memory");
    r->open = 1;
    it->kind = MNO_ITEM_BEGIN;
    it->section = &r->sec;
    return 1;
}

/*
 * Describes a record's key for messages, into out[n]: "key (id)=(1): " (pg: begin's "key"
 * columns, values as in v; composite "(a, b)=(1, x)"), "key (_id)=({\"$oid\":...}): "
 * (mongo), or "" when the key is not known from v.
 */
static void rec_key(const mno_section *s, const json_t *v, char *out, size_t n)
{
    mno_buf names = MNO_BUF_INIT, vals = MNO_BUF_INIT;
    out[0] = '\0';
    if (!json_is_object(v))
        return;
    if (s->engine == MNO_ENGINE_PG) {
        json_t *key = json_object_get(s->begin, "key");
        size_t i;
        json_t *k;
        if (!json_is_array(key) || json_array_size(key) == 0)
            return;
        json_array_foreach(key, i, k) {
            const char *name = json_string_value(k);
            json_t *x = name ? json_object_get(v, name) : NULL;
            if (!x || !(json_is_string(x) || json_is_null(x)))
                goto done;
            if (mno_buf_addf(&names, "%s%s", i ? ", " : "", name) < 0 ||
                mno_buf_addf(&vals, "%s%s", i ? ", " : "", json_is_null(x) ? "null" : json_string_value(x)) < 0)
                goto done;
        }
    } else {
        json_t *id = json_object_get(v, "_id");
        char *d = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        int rc = !d || mno_buf_adds(&names, "_id") < 0 || mno_buf_adds(&vals, d) < 0;
        free(d);
        if (rc)
            goto done;
    }
    /* long keys are cut: the message stays readable */
    snprintf(out, n, "key (%.200s)=(%.300s%s): ", names.data, vals.data, vals.len > 300 ? "..." : "");
done:
    mno_buf_release(&names);
    mno_buf_release(&vals);
}

/* opts.no_digest: hashes the waiting canonical forms and adds them to the section's sum. */
static void batch_flush(mno_reader *r)
{
    const unsigned char *msg[MNO_BATCH_RECS];
    size_t len[MNO_BATCH_RECS];
    unsigned char dig[MNO_BATCH_RECS][16];
    if (!r->batn)
        return;
    r->batoff[r->batn] = r->batch.len;
    for (size_t i = 0; i < r->batn; i++) {
        msg[i] = (const unsigned char *)r->batch.data + r->batoff[i];
        len[i] = r->batoff[i + 1] - r->batoff[i];
    }
    mno_md5_many(msg, len, r->batn, dig);
    for (size_t i = 0; i < r->batn; i++)
        mno_sum_add_digest(&r->sec.sum, dig[i]);
    r->batn = 0;
    mno_buf_reset(&r->batch);
}

/* opts.no_digest: one more canonical form was appended to r->batch at start. */
static void batch_added(mno_reader *r, size_t start)
{
    r->batoff[r->batn++] = start;
    if (r->batn == MNO_BATCH_RECS || r->batch.len >= MNO_BATCH_BYTES)
        batch_flush(r);
}

/* A pg record's digest from r->vals/lens (record text, md5); fills it->vals/lens/digest. */
static int pg_digest(mno_reader *r, mno_item *it)
{
    mno_buf_reset(&r->text);
    if (mno_pg_record_text(&r->text, r->vals, r->lens, r->sec.ncols) < 0)
        return -1;
    mno_hasher_md5(r->h, r->text.data, r->text.len, it->digest);
    it->vals = r->vals;
    it->lens = r->lens;
    return 0;
}

/* opts.fast_pg: a pg record of the open section in the writer's compact form, decoded without
   jansson. Returns 1 (it filled), 0 (not of that form: take the general path) or -1. */
static int r_rec_fast(mno_reader *r, const char *line, size_t len, mno_item *it, mno_error *e)
{
    int rc;
    if (r->opts.sums_only && r->opts.no_digest) {
        size_t start = r->batch.len;
        rc = mno_pgrec_parse_text(r->fast, line, len, &r->batch);
        if (rc > 0)
            batch_added(r, start);
    } else if ((rc = mno_pgrec_parse(r->fast, line, len, r->vals, r->lens)) > 0 && r->opts.no_digest) {
        size_t start = r->batch.len;
        if (mno_pg_record_text(&r->batch, r->vals, r->lens, r->sec.ncols) < 0)
            rc = -1;
        else
            batch_added(r, start);
        it->vals = r->vals;
        it->lens = r->lens;
    } else if (rc > 0 && pg_digest(r, it) < 0) {
        rc = -1;
    }
    if (rc < 0)
        return r_err(r, e, MNO_E_NOMEM, r->sec.ns, "out of memory");
    if (rc == 0)
        return 0;
    if (!r->opts.no_digest)
        mno_sum_add_digest(&r->sec.sum, it->digest);
    r->sec.count++;
    it->kind = MNO_ITEM_REC;
    it->section = &r->sec;
    return 1;
}

/* opts.fast_mongo: a mongo record of the open section in the writer's envelope, its document
   parsed from the text. 1 done, 0 not that form (the general path decides), -1 error. */
static int r_rec_fast_mongo(mno_reader *r, const char *line, size_t len, mno_item *it, mno_error *e)
{
    /* the envelope as the writers print it for this section (r->recpre) */
    size_t off = r->recpre.len;
    if (len <= off + 1 || line[len - 1] != '}' || memcmp(line, r->recpre.data, off) != 0)
        return 0;
    /* parsed into one reused buffer; the bson_t is static over it (bson_destroy frees nothing) */
    if (!r->docst && posix_memalign((void **)&r->docst, 128, sizeof *r->docst) != 0)
        r->docst = NULL;
    mno_buf_reset(&r->docbuf);
    int rc = r->docst ? mno_ejson_text_to_buf(line + off, len - off - 1, &r->docbuf) : -1;
    if (rc != 0)
        return rc < 0 ? r_err(r, e, MNO_E_NOMEM, r->sec.ns, "out of memory") : 0;
    bson_t *doc = r->docst;
    if (r->docbuf.len > MNO_BSON_MAX)
        return 0; /* the general path refuses it, naming the record */
    if (!bson_init_static(doc, (const uint8_t *)r->docbuf.data, r->docbuf.len))
        return r_err(r, e, MNO_E_INTERNAL, r->sec.ns, "bad document length");
    r->doc = doc;
    if (r->opts.no_digest) {
        size_t start = r->batch.len;
        if (mno_buf_add(&r->batch, bson_get_data(doc), doc->len) < 0)
            return r_err(r, e, MNO_E_NOMEM, r->sec.ns, "out of memory");
        batch_added(r, start);
    } else {
        mno_hasher_md5(r->h, bson_get_data(doc), doc->len, it->digest);
        mno_sum_add_digest(&r->sec.sum, it->digest);
    }
    r->sec.count++;
    it->kind = MNO_ITEM_REC;
    it->doc = doc;
    it->section = &r->sec;
    return 1;
}

static int r_rec(mno_reader *r, const char *ns, mno_item *it, mno_error *e)
{
    char key[600];
    char why[600];
    if (!r->open)
        return r_err(r, e, MNO_E_FORMAT, ns, "record outside its section (no begin line before it)");
    if (strcmp(ns, r->sec.ns) != 0)
        return r_err(r, e, MNO_E_FORMAT, r->sec.ns, "record of section %s inside this section", ns);
    json_t *v = json_object_get(r->obj, "v");
    json_t *lossless = r->sec.engine == MNO_ENGINE_MONGO ? json_object_get(r->obj, "bson") : NULL;
    if (!v && !lossless)
        return r_err(r, e, MNO_E_FORMAT, ns, "record has no \"v\"");
    if (v && lossless)
        return r_err(r, e, MNO_E_FORMAT, ns, "record has both \"v\" and \"bson\"");
    if (r->sec.engine == MNO_ENGINE_PG) {
        if (pg_values(&r->sec, v, r->vals, r->lens, why, sizeof why) < 0) {
            rec_key(&r->sec, v, key, sizeof key);
            return r_err(r, e, MNO_E_FORMAT, ns, "%s%s", key, why);
        }
        if (pg_digest(r, it) < 0)
            return r_err(r, e, MNO_E_NOMEM, ns, "out of memory");
    } else {
        /* the values libbson's parser would change are refused first (mongo_doc) */
        r->doc = lossless ? mongo_doc_bson(lossless, why, sizeof why) : mongo_doc(v, why, sizeof why);
        if (!r->doc) {
            if (v)
                rec_key(&r->sec, v, key, sizeof key);
            else
                key[0] = '\0';
            return r_err(r, e, MNO_E_FORMAT, ns, "%s%s", key, why);
        }
        if (r->doc->len > MNO_BSON_MAX) {
            rec_key(&r->sec, v, key, sizeof key);
            return r_err(r, e, MNO_E_FORMAT, ns, "%sdocument of %u bytes is over the server's 16 MiB limit",
                         key, r->doc->len);
        }
        mno_hasher_md5(r->h, bson_get_data(r->doc), r->doc->len, it->digest);
        it->doc = r->doc;
    }
    mno_sum_add_digest(&r->sec.sum, it->digest);
    r->sec.count++;
    it->kind = MNO_ITEM_REC;
    it->v = v;
    it->section = &r->sec;
    return 1;
}

/*
 * The metadata digest in field key of the current end line or trailer (docs/format.md 4.1):
 * when present it must be 64 hex digits equal to want (the digest of the section's begin line
 * / of the header); a version 2 archive must have it. A mismatch clears *ok and *meta_ok and,
 * when checking (opts.verify), is an error. Returns 0 or -1.
 */
static int meta_check(mno_reader *r, mno_error *e, const char *ns, const char *key, const unsigned char want[32],
                      const char *where, const char *what, int *ok, int *meta_ok)
{
    char a[65], b[65];
    unsigned char got[32];
    json_t *x = json_object_get(r->obj, key);
    *meta_ok = 1;
    if (!x && r->version < 2)
        return 0;    /* version 1: no digest (mno-cat --list says so) */
    if (mno_meta_parse(json_string_value(x), got) < 0) {
        *meta_ok = *ok = 0;
        if (!r->opts.verify)
            return 0;
        return r_err(r, e, MNO_E_FORMAT, ns, "%s has no valid \"%s\" (64 hex digits)", where, key);
    }
    if (mno_mac_eq(got, want))
        return 0;
    *meta_ok = *ok = 0;
    if (!r->opts.verify)
        return 0;
    return r_err(r, e, MNO_E_CORRUPT, ns, "%s%s digest mismatch: %s says %s, computed %s (the %s was changed; "
                 "mno-cat --seal accepts a deliberate edit)", ns ? "" : "trailer: ", what, where,
                 mno_meta_hex(got, a), mno_meta_hex(want, b), what);
}

static int r_end(mno_reader *r, const char *ns, mno_item *it, mno_error *e)
{
    char want[33], got[33];
    if (!r->open)
        return r_err(r, e, MNO_E_FORMAT, ns, "end of a section that is not open");
    if (strcmp(ns, r->sec.ns) != 0)
        return r_err(r, e, MNO_E_FORMAT, r->sec.ns, "end of section %s inside this section", ns);
    if (get_u64(r->obj, "count", &it->declared_count) < 0)
        return r_err(r, e, MNO_E_FORMAT, ns, "end line has no valid \"count\"");
    if (mno_sum_parse(json_string_value(json_object_get(r->obj, "sum")), &it->declared_sum) < 0)
        return r_err(r, e, MNO_E_FORMAT, ns, "end line has no valid \"sum\" (32 hex digits)");
    batch_flush(r);
    if (r->opts.skim)
        r->sec.sum = it->declared_sum;  /* not computed: taken as declared */
    it->sum_ok = it->declared_count == r->sec.count && mno_sum_eq(&it->declared_sum, &r->sec.sum);
    if (!it->sum_ok && r->opts.verify) {
        if (it->declared_count != r->sec.count)
            return r_err(r, e, MNO_E_CORRUPT, ns, "count mismatch: end line says %llu, found %llu records",
                         (unsigned long long)it->declared_count, (unsigned long long)r->sec.count);
        return r_err(r, e, MNO_E_CORRUPT, ns, "sum mismatch: end line says %s, computed %s",
                     mno_sum_hex(&it->declared_sum, want), mno_sum_hex(&r->sec.sum, got));
    }
    if (meta_check(r, e, ns, "begin_sha256", r->bdig, "end line", "begin line", &it->sum_ok, &it->meta_ok) < 0)
        return -1;
    if (mno_mac_section(&r->mac, r->bdig, it->declared_count, &it->declared_sum) < 0)
        return r_err(r, e, MNO_E_NOMEM, ns, "out of memory");
    r->nsections++;
    r->count += r->sec.count;
    mno_sum_add(&r->sum, &r->sec.sum);
    r->open = 0; /* sec stays readable until the next call */
    it->kind = MNO_ITEM_END;
    it->section = &r->sec;
    return 1;
}

/* The trailer's "mac" (docs/format.md 4.1): checked with the reader's key when it has one. */
static int r_mac(mno_reader *r, mno_item *it, uint64_t nsec, mno_error *e)
{
    unsigned char got[32], want[32];
    json_t *x = json_object_get(r->obj, "mac");
    r->auth = MNO_AUTH_NONE;
    if (!x)
        return 0;
    if (mno_meta_parse(json_string_value(x), got) < 0) {
        it->meta_ok = it->sum_ok = 0;
        r->auth = MNO_AUTH_BAD;
        return r->opts.verify ? r_err(r, e, MNO_E_FORMAT, NULL, "trailer has no valid \"mac\" (64 hex digits)") : 0;
    }
    if (!r->key) {
        r->auth = MNO_AUTH_NOKEY;
        return 0;
    }
    if (mno_mac_trailer(&r->mac, nsec, it->declared_count, &it->declared_sum) < 0)
        return r_err(r, e, MNO_E_NOMEM, NULL, "out of memory");
    if (mno_mac_final(r->key, &r->mac, want) < 0)
        return r_err(r, e, MNO_E_INTERNAL, NULL, "cannot compute the archive's mac");
    if (mno_mac_eq(got, want)) {
        r->auth = MNO_AUTH_OK;
        return 0;
    }
    it->meta_ok = it->sum_ok = 0;
    r->auth = MNO_AUTH_BAD;
    if (!r->opts.verify)
        return 0;
    return r_err(r, e, MNO_E_CORRUPT, NULL, "trailer: \"mac\" does not match MNO_ARCHIVE_KEY: the archive was "
                 "changed after it was written, or written with another key");
}

static int r_trailer(mno_reader *r, mno_item *it, mno_error *e)
{
    char want[33], got[33];
    uint64_t nsec;
    if (r->open)
        return r_err(r, e, MNO_E_FORMAT, r->sec.ns, "no end line before the trailer");
    if (get_u64(r->obj, "sections", &nsec) < 0)
        return r_err(r, e, MNO_E_FORMAT, NULL, "trailer has no valid \"sections\"");
    if (get_u64(r->obj, "count", &it->declared_count) < 0)
        return r_err(r, e, MNO_E_FORMAT, NULL, "trailer has no valid \"count\"");
    if (mno_sum_parse(json_string_value(json_object_get(r->obj, "sum")), &it->declared_sum) < 0)
        return r_err(r, e, MNO_E_FORMAT, NULL, "trailer has no valid \"sum\" (32 hex digits)");
    it->sum_ok = nsec == r->nsections && it->declared_count == r->count &&
                 mno_sum_eq(&it->declared_sum, &r->sum);
    if (!it->sum_ok && r->opts.verify) {
        if (nsec != r->nsections)
            return r_err(r, e, MNO_E_CORRUPT, NULL, "trailer: section count mismatch: trailer says %llu, found %llu sections",
                         (unsigned long long)nsec, (unsigned long long)r->nsections);
        if (it->declared_count != r->count)
            return r_err(r, e, MNO_E_CORRUPT, NULL, "trailer: count mismatch: trailer says %llu, found %llu records",
                         (unsigned long long)it->declared_count, (unsigned long long)r->count);
        return r_err(r, e, MNO_E_CORRUPT, NULL, "trailer: sum mismatch: trailer says %s, computed %s",
                     mno_sum_hex(&it->declared_sum, want), mno_sum_hex(&r->sum, got));
    }
    if (meta_check(r, e, NULL, "header_sha256", r->hdig, "trailer", "header", &it->sum_ok, &it->meta_ok) < 0 ||
        r_mac(r, it, nsec, e) < 0)
        return -1;
    r->state = R_AFTER;
    it->kind = MNO_ITEM_TRAILER;
    return 1;
}

static int r_line(mno_reader *r, const char *line, size_t len, mno_item *it, mno_error *e);

/* opts.hash_thread: the lines of one batch handed back; their sum added, the lines the fast
   path left read now by the general path, at their own line numbers. 1, 0 (none in flight)
   or -1 (the error of the first such line that fails). */
static int pipe_take(mno_reader *r, mno_error *e)
{
    mno_sum sum;
    size_t nslow;
    int got = mno_recpipe_take(r->pipe, &sum, &nslow);
    if (got <= 0)
        return got;
    mno_sum_add(&r->sec.sum, &sum);
    for (size_t i = 0; i < nslow; i++) {
        const char *line;
        size_t len;
        mno_item it;
        memset(&it, 0, sizeof it);
        mno_recpipe_slow(r->pipe, i, &line, &len, &r->at_line);
        r->sec.count--;   /* counted when handed over; the general path counts it */
        it.lineno = r->at_line;
        it.line = line;
        it.len = len;
        int rc = r_line(r, line, len, &it, e);
        r->at_line = 0;
        json_decref(r->obj);
        r->obj = NULL;
        if (r->doc) {
            bson_destroy(r->doc);
            r->doc = NULL;
        }
        if (rc < 0) {
            mno_recpipe_release(r->pipe);
            return -1;
        }
    }
    mno_recpipe_release(r->pipe);
    return 1;
}

/* opts.hash_thread: waits for every line handed over (see pipe_take). 0 or -1. */
static int pipe_drain(mno_reader *r, mno_error *e)
{
    int k;
    while ((k = pipe_take(r, e)) > 0)
        ;
    return k;
}

int mno_reader_next(mno_reader *r, mno_item *it, mno_error *e)
{
    char *line;
    size_t len;

    memset(it, 0, sizeof *it);
    json_decref(r->obj);
    r->obj = NULL;
    if (r->doc) {
        bson_destroy(r->doc);
        r->doc = NULL;
    }
    if (r->state == R_FAILED)
        return mno_err(e, MNO_E_USAGE, mno_in_name(r->in), mno_in_lineno(r->in), NULL,
                       "reading on after an error");
    int rc = mno_in_getline(r->in, &line, &len, e);
    if (rc <= 0 && r->pipe && mno_recpipe_pending(r->pipe)) {
        /* the lines before the end or the input's error come first */
        mno_error pe;
        mno_error_clear(&pe);
        if (pipe_drain(r, &pe) < 0) {
            *e = pe;
            return -1;
        }
    }
    if (rc < 0)
        return r_rewrap(r, e);
    if (rc == 0) {
        if (r->state == R_AFTER)
            return 0;
        if (r->state == R_HEADER)
            return r_err(r, e, MNO_E_TRUNCATED, NULL, "empty input: no archive header");
        return r_err(r, e, MNO_E_TRUNCATED, r->open ? r->sec.ns : NULL,
                     "truncated archive: no trailer");
    }
    it->lineno = mno_in_lineno(r->in);
    it->line = line;
    it->len = len;
    if (r->state == R_AFTER)
        return r_err(r, e, MNO_E_FORMAT, NULL, "data after the trailer");
    if (r->pipe && r->opts.hash_thread) {
        /* a record line in the writers' envelope goes to the second thread; any other line
           waits for those before it */
        if (r->open && len > r->recpre.len + 1 && len <= MNO_RECPIPE_MAX_LINE &&
            ((r->sec.engine == MNO_ENGINE_PG && r->fast) || (r->sec.engine == MNO_ENGINE_MONGO && r->opts.fast_mongo)) &&
            !mno_in_unterminated(r->in) && memcmp(line, r->recpre.data, r->recpre.len) == 0) {
            while (mno_recpipe_blocked(r->pipe))
                if (pipe_take(r, e) < 0)
                    return -1;
            if (mno_recpipe_add(r->pipe, line, len, it->lineno) < 0)
                return r_err(r, e, MNO_E_NOMEM, r->sec.ns, "out of memory");
            r->sec.count++;
            it->kind = MNO_ITEM_REC;
            it->section = &r->sec;
            return 1;
        }
        if (mno_recpipe_pending(r->pipe) && pipe_drain(r, e) < 0)
            return -1;
    }
    return r_line(r, line, len, it, e);
}

/*
 * Finds a NUL (\u0000) in the strings and keys of j: jansson reads it (JSON_ALLOW_NUL, which
 * MongoDB record values need) but every C string of a name or field ends at it, so that
 * "public.users\u0000; DROP TABLE x" would be taken for public.users. skip_vals: the string
 * values of j's members of that name ("options", "indexes", "filter": a MongoDB collection's own
 * values) are not looked at. Returns 1 with the place ("columns[2].name") in where[n], else 0.
 */
static int find_nul(const json_t *j, const char *path, int skip_vals, char *where, size_t n)
{
    char sub[512];
    if (json_is_string(j)) {
        if (skip_vals || strlen(json_string_value(j)) == json_string_length(j))
            return 0;
        snprintf(where, n, "%s", path);
        return 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *x;
        json_array_foreach((json_t *)j, i, x) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (find_nul(x, sub, skip_vals, where, n))
                return 1;
        }
    }
    if (json_is_object(j)) {
        const char *k;
        json_t *x;
        /* (a key never holds one: jansson refuses "NUL byte in object key") */
        json_object_foreach((json_t *)j, k, x) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
            int skip = skip_vals || (!*path && (strcmp(k, "options") == 0 || strcmp(k, "indexes") == 0 ||
                                                   strcmp(k, "filter") == 0));
            if (find_nul(x, sub, skip, where, n))
                return 1;
        }
    }
    return 0;
}

/* One line, read: the skim and fast paths, else jansson and the checks of its kind. */
static int r_line(mno_reader *r, const char *line, size_t len, mno_item *it, mno_error *e)
{
    json_error_t jerr;
    if (r->opts.skim && r->open && len > r->recpre.len && line[len - 1] == '}' &&
        memcmp(line, r->recpre.data, r->recpre.len) == 0) {
        r->sec.count++;
        it->kind = MNO_ITEM_REC;
        it->section = &r->sec;
        return 1;
    }
    if (r->fast && r->open && r->sec.engine == MNO_ENGINE_PG) {
        int f = r_rec_fast(r, line, len, it, e);
        if (f != 0)
            return f;
    }
    if (r->opts.fast_mongo && r->open && r->sec.engine == MNO_ENGINE_MONGO) {
        int f = r_rec_fast_mongo(r, line, len, it, e);
        if (f != 0)
            return f;
    }
    r->obj = json_loadb(line, len, LINE_JSON_FLAGS, &jerr);
    if (!r->obj)
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL, "invalid JSON at column %d: %s",
                     jerr.column, jerr.text);
    it->obj = r->obj;
    if (!json_is_object(r->obj))
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL, "line is not a JSON object");
    const char *t = json_string_value(json_object_get(r->obj, "t"));
    if (!t)
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL, "line has no \"t\"");
    /* NUL in a name or field: refused, wherever it is but in a record's value */
    char where[600];
    int nul = 0;
    if (strcmp(t, "rec") == 0) {
        json_t *jt = json_object_get(r->obj, "t"), *jns = json_object_get(r->obj, "ns");
        if (strlen(t) != json_string_length(jt))
            nul = snprintf(where, sizeof where, "t") > 0;
        else if (json_is_string(jns) && strlen(json_string_value(jns)) != json_string_length(jns))
            nul = snprintf(where, sizeof where, "ns") > 0;
    } else {
        nul = find_nul(r->obj, "", 0, where, sizeof where);
    }
    if (nul)
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL,
                     "NUL character (\\u0000) in \"%s\": names and header fields cannot hold one", where);
    if (r->state == R_HEADER)
        return r_header(r, it, e);
    if (strcmp(t, "trailer") == 0)
        return r_trailer(r, it, e);
    if (strcmp(t, "header") == 0)
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL, "second header line");
    if (strcmp(t, "begin") && strcmp(t, "rec") && strcmp(t, "end"))
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL, "unknown line type \"%s\"", t);
    const char *ns = json_string_value(json_object_get(r->obj, "ns"));
    if (!ns || !*ns)
        return r_err(r, e, MNO_E_FORMAT, r->open ? r->sec.ns : NULL, "%s line has no \"ns\"", t);
    if (t[0] == 'b')
        return r_begin(r, ns, it, e);
    if (t[0] == 'r')
        return r_rec(r, ns, it, e);
    return r_end(r, ns, it, e);
}

void mno_reader_free(mno_reader *r)
{
    if (!r)
        return;
    json_decref(r->header);
    json_decref(r->obj);
    json_decref(r->seen);
    section_release(&r->sec);
    free(r->vals);
    free(r->lens);
    if (r->doc)
        bson_destroy(r->doc);
    mno_recpipe_free(r->pipe);
    free(r->docst);
    mno_buf_release(&r->docbuf);
    mno_buf_release(&r->text);
    mno_buf_release(&r->recpre);
    mno_buf_release(&r->batch);
    mno_hasher_free(r->h);
    mno_pgrec_free(r->fast);
    mno_buf_release(&r->mac);
    mno_archkey_free(r->key);
    free(r);
}

/* ---- whole streams ---- */

void mno_reader_opts_check(mno_reader_opts *o)
{
    mno_reader_opts def = MNO_READER_OPTS_INIT;
    *o = def;
    o->fast_pg = 1;
    o->fast_mongo = 1;
    o->no_digest = 1;    /* only the sums matter: records hashed several at a time, */
    o->sums_only = 1;    /* pg records straight from the line to their record text, */
    o->hash_thread = 1;  /* decoded and hashed in a second thread */
}

int mno_stream_check(mno_in *in, size_t max_line, mno_check_result *res, mno_error *e)
{
    mno_reader_opts ro;
    mno_reader_opts_check(&ro);
    ro.max_line = max_line;
    mno_item it;
    int n;
    mno_reader *r = mno_reader_new(in, &ro, e);
    if (!r)
        return -1;
    while ((n = mno_reader_next(r, &it, e)) > 0)
        if (it.kind == MNO_ITEM_TRAILER && res) {
            /* the trailer takes the general path: its object is there, its numbers checked */
            res->sections = (uint64_t)json_integer_value(json_object_get(it.obj, "sections"));
            res->count = it.declared_count;
            res->sum = it.declared_sum;
            res->version = mno_reader_version(r);
            res->auth = mno_reader_auth(r);
        }
    mno_reader_free(r);
    return n < 0 ? -1 : 0;
}

int mno_stream_seal(mno_in *in, mno_out *out, const char *producer, mno_error *e)
{
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.verify = 0;
    mno_reader *r = mno_reader_new(in, &ro, e);
    mno_writer *w = NULL;
    json_t *h = NULL;
    mno_item it;
    int rc = -1, n;
    if (!r)
        goto done;
    while ((n = mno_reader_next(r, &it, e)) > 0) {
        int wrc = 0;
        switch (it.kind) {
        case MNO_ITEM_HEADER: {
            char p[256];
            h = json_deep_copy(it.obj);
            if (!h) {
                nomem(e);
                goto done;
            }
            json_object_del(h, "id");
            snprintf(p, sizeof p, strchr(producer ? producer : "mno", ' ') ? "%s" : "%s " MNO_VERSION_STR,
                     producer ? producer : "mno");
            json_object_set_new(h, "sealed_by", json_string(p));
            w = mno_writer_new(out, h, producer, e);
            wrc = w ? 0 : -1;
            break;
        }
        case MNO_ITEM_BEGIN:
            wrc = mno_writer_begin(w, it.section->ns, it.obj, e);
            break;
        case MNO_ITEM_REC:
            /* a mongo record as its bytes: the lossless form ("bson", no v) is sealed too */
            if (it.section && it.section->engine == MNO_ENGINE_MONGO && it.doc)
                wrc = mno_writer_rec_bson(w, it.doc, e);
            else
                wrc = mno_writer_rec_json(w, it.v, e);
            break;
        case MNO_ITEM_END:
            wrc = mno_writer_end(w, e);
            break;
        case MNO_ITEM_TRAILER:
            wrc = mno_writer_close(w, e);
            break;
        default:
            break;
        }
        if (wrc < 0) {
            /* name the input line the write failed on */
            char body[sizeof e->msg];
            snprintf(body, sizeof body, "%s", e->msg);
            mno_err(e, e->code, mno_in_name(in), it.lineno, NULL, "%s", body);
            goto done;
        }
    }
    rc = n;
done:
    json_decref(h);
    mno_writer_free(w);
    mno_reader_free(r);
    return rc;
}
