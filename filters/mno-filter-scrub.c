/* mno-filter-scrub: nulls, drops, sets or hashes secret and personal columns of an archive (docs/filters.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"
#include "outfile.h"
#include "scrub.h"

static const char usage[] =
    "usage: mno-filter-scrub --rules FILE | --preset NAME [--lenient] [options] [FILE|-]\n"
    "Reads an mnoa archive (FILE, or stdin; plain or zstd), checking every count and sum, and\n"
    "writes a new sealed archive with the columns (PostgreSQL) or fields (MongoDB, dotted\n"
    "paths) the rule file names scrubbed. Records left unchanged are copied byte for byte.\n"
    "\n"
    "Rule file lines (the scope files' syntax; '#' comments):\n"
    "  NS: null COL...            the value becomes null (NS may be a glob: *.people)\n"
    "  NS: drop FIELD...          MongoDB: the field is removed\n"
    "  NS: set 'VALUE' COL...     the value becomes VALUE\n"
    "  NS: hash COL...            HMAC-SHA-256 of the value (64 hex digits), key $MNO_SCRUB_KEY\n"
    "  NS: email COL...           the local part hashed, the domain kept\n"
    "  ... when source = 'KIND'   the rule only for archives whose header's source is KIND\n"
    "\n"
    "  --rules FILE     the rule file (filters/rehearsal.scrub: secrets nulled, emails hashed)\n"
    "  --preset NAME    the rule file NAME.scrub of the scope directory ($MNO_SCOPE_DIR, else\n"
    "                   filters/ beside the tools): secrets (every secret column of the\n"
    "                   Maestrano model nulled, no key needed), rehearsal\n"
    "  --lenient        a rule naming a table, column or field the archive lacks is ignored\n"
    "                   (default: an error)\n"
    MNO_FILTER_USAGE_OPTS
    "\n"
    "A rule on a key column (PostgreSQL key, MongoDB _id) is refused. hash and email need\n"
    "$MNO_SCRUB_KEY (the same key gives the same hashes: equal values stay equal, references\n"
    "stay joinable). Exit status: 0 done, 2 an error (bad input, bad rule: the message names\n"
    "the input or the rule file and line; a FILE output is not left behind).\n";

#define MAXR 64

struct scrub_state {
    mno_scrub *rules;
    mno_hmac *hmac;
    const char *source;         /* the input header's source */
    int lenient;
    int *seen;                  /* rule i: its section was in the archive */
    /* the open section */
    mno_scrub_rule *act[MAXR];  /* the rules that apply to it */
    size_t nact;
    long colrule[MAXR];         /* pg: act[i]'s column index */
    int hits[MAXR];             /* mongo: act[i] found its field in some record */
    size_t ncols;
    const char **vals;          /* pg: the new values */
    size_t *lens;
    mno_buf *bufs;              /* pg: per column, a changed value */
    bson_t out;                 /* mongo: the new document */
    int out_init;
};

static int applies(const struct scrub_state *s, const mno_scrub_rule *r)
{
    return !r->source || (s->source && strcmp(r->source, s->source) == 0);
}

static int on_header(void *arg, const json_t *in, json_t *out, mno_error *e)
{
    struct scrub_state *s = arg;
    (void)out;
    (void)e;
    s->source = json_string_value(json_object_get(in, "source"));
    return 0;
}

static int on_begin(void *arg, const mno_item *it, json_t **begin, mno_error *e)
{
    struct scrub_state *s = arg;
    const mno_section *sec = it->section;
    const char *file = s->rules->file;
    (void)begin;
    s->nact = 0;
    for (size_t i = 0; i < s->rules->n; i++) {
        mno_scrub_rule *r = &s->rules->rules[i];
        if (!mno_filter_glob(r->ns, sec->ns) || !applies(s, r))
            continue;
        s->seen[i] = 1;
        if (s->nact == MAXR)
            return mno_err(e, MNO_E_SCOPE, file, r->line, NULL, "%s: more than %d rules for one section", sec->ns, MAXR);
        if (sec->engine == MNO_ENGINE_PG) {
            long ci = -1;
            for (size_t c = 0; c < sec->ncols; c++)
                if (strcmp(sec->colnames[c], r->col) == 0)
                    ci = (long)c;
            if (ci >= 0 && mno_filter_is_key(sec->begin, r->col))
                return mno_err(e, MNO_E_SCOPE, file, r->line, NULL,
                               "%s: column %s is in the section's key (order and identity hang on it): refused",
                               sec->ns, r->col);
            if (r->action == MNO_SCRUB_DROP)
                return mno_err(e, MNO_E_SCOPE, file, r->line, NULL,
                               "%s: drop is for MongoDB fields; a PostgreSQL column can be set to null", sec->ns);
            if (ci < 0) {
                if (s->lenient)
                    continue;
                return mno_err(e, MNO_E_SCOPE, file, r->line, NULL, "%s has no column %s (--lenient ignores it)",
                               sec->ns, r->col);
            }
            s->colrule[s->nact] = ci;
        } else if (strcmp(r->col, "_id") == 0 || strncmp(r->col, "_id.", 4) == 0) {
            return mno_err(e, MNO_E_SCOPE, file, r->line, NULL,
                           "%s: field %s is the document's _id (order and identity hang on it): refused", sec->ns,
                           r->col);
        }
        s->hits[s->nact] = 0;
        s->act[s->nact++] = r;
    }
    if (!s->nact)
        return MNO_FILTER_COPY;
    if (sec->engine == MNO_ENGINE_PG) {
        free(s->vals);
        free(s->lens);
        s->vals = calloc(sec->ncols + 1, sizeof *s->vals);
        s->lens = calloc(sec->ncols + 1, sizeof *s->lens);
        if (!s->vals || !s->lens)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        s->ncols = sec->ncols;
    }
    return MNO_FILTER_SCAN_KEEP;
}

static int rec_pg(struct scrub_state *s, const mno_item *it, mno_filter_rec *out, mno_error *e)
{
    int changed = 0;
    memcpy(s->vals, it->vals, s->ncols * sizeof *s->vals);
    memcpy(s->lens, it->lens, s->ncols * sizeof *s->lens);
    for (size_t i = 0; i < s->nact; i++) {
        long c = s->colrule[i];
        int isnull;
        mno_buf_reset(&s->bufs[i]);
        if (mno_scrub_text(s->act[i]->action, s->act[i]->value, s->hmac, it->vals[c], it->lens[c], &s->bufs[i],
                           &isnull) < 0 ||
            (!s->bufs[i].data && mno_buf_grow(&s->bufs[i], 1) < 0))
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "column %s: cannot scrub the value (out of memory?)",
                           s->act[i]->col);
        if (isnull) {
            changed |= it->vals[c] != NULL;
            s->vals[c] = NULL;
            s->lens[c] = 0;
        } else {
            changed |= !it->vals[c] || it->lens[c] != s->bufs[i].len ||
                       memcmp(it->vals[c], s->bufs[i].data, s->bufs[i].len) != 0;
            s->vals[c] = s->bufs[i].data;
            s->lens[c] = s->bufs[i].len;
        }
    }
    if (!changed)
        return MNO_FILTER_KEEP;
    out->vals = s->vals;
    out->lens = s->lens;
    return MNO_FILTER_CHANGED;
}

static int on_rec(void *arg, const mno_item *it, mno_filter_rec *out, mno_error *e)
{
    struct scrub_state *s = arg;
    int changed = 0;
    if (it->section->engine == MNO_ENGINE_PG)
        return rec_pg(s, it, out, e);
    if (s->out_init)
        bson_reinit(&s->out);
    else
        bson_init(&s->out);
    s->out_init = 1;
    if (mno_scrub_bson(it->doc, s->act, s->nact, s->hmac, &s->out, &changed, s->hits) < 0)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, NULL, "cannot scrub the document");
    if (!changed)
        return MNO_FILTER_KEEP;
    out->doc = &s->out;
    return MNO_FILTER_CHANGED;
}

static int on_end(void *arg, const mno_item *it, mno_error *e)
{
    struct scrub_state *s = arg;
    if (it->section->engine == MNO_ENGINE_MONGO && !s->lenient && it->section->count > 0)
        for (size_t i = 0; i < s->nact; i++)
            if (!s->hits[i])
                return mno_err(e, MNO_E_SCOPE, s->rules->file, s->act[i]->line, NULL,
                               "%s: no document has a field %s (--lenient ignores it)", it->section->ns,
                               s->act[i]->col);
    s->nact = 0;
    return 0;
}

static int on_finish(void *arg, mno_error *e)
{
    struct scrub_state *s = arg;
    if (s->lenient)
        return 0;
    for (size_t i = 0; i < s->rules->n; i++)
        if (!s->seen[i] && applies(s, &s->rules->rules[i]))
            return mno_err(e, MNO_E_SCOPE, s->rules->file, s->rules->rules[i].line, NULL,
                           "no section %s in the archive (--lenient ignores it)", s->rules->rules[i].ns);
    return 0;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-filter-scrub: error: %s\ntry 'mno-filter-scrub --help'\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"rules", required_argument, 0, 'r'}, {"preset", required_argument, 0, 'p'},
        {"lenient", no_argument, 0, 'l'},
        MNO_FILTER_LONGOPTS};
    mno_filter_opts o = MNO_FILTER_OPTS_INIT;
    struct scrub_state s;
    mno_filter_ops ops = {0};
    mno_error e = {0};
    const char *rules = NULL, *preset = NULL;
    int c, status = 2;
    memset(&s, 0, sizeof s);
    mno_filter_opts_init(&o, "mno-filter-scrub", argc, argv);
    opterr = 0;
    while ((c = getopt_long(argc, argv, MNO_FILTER_SHORTOPTS, lopts, NULL)) != -1) {
        int k = mno_filter_common_opt(&o, c, optarg, argv[optind - 1], &e);
        if (k < 0)
            return usage_error(e.msg);
        if (k > 0)
            continue;
        switch (c) {
        case 'r': rules = optarg; break;
        case 'p': preset = optarg; break;
        case 'l': s.lenient = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("mno-filter-scrub %s\n", MNO_VERSION_STR); return 0;
        }
    }
    if (rules && preset)
        return usage_error("give --rules FILE or --preset NAME, not both");
    if (!rules && !preset)
        return usage_error("--rules FILE or --preset NAME is required");
    if (mno_filter_input(&o, argc, argv, optind, &e) < 0)
        return usage_error(e.msg);
    if (!(s.rules = rules ? mno_scrub_load(rules, &e) : mno_scrub_preset(preset, &e)))
        goto done;
    if (s.rules->need_key) {
        const char *key = getenv("MNO_SCRUB_KEY");
        size_t line = 0;
        for (size_t i = 0; i < s.rules->n && !line; i++)
            if (s.rules->rules[i].action == MNO_SCRUB_HASH || s.rules->rules[i].action == MNO_SCRUB_EMAIL)
                line = (size_t)s.rules->rules[i].line;
        if (!key || !*key) {
            mno_err(&e, MNO_E_USAGE, s.rules->file, (long long)line, NULL,
                    "hash and email need a key: set MNO_SCRUB_KEY (the same key gives the same hashes)");
            goto done;
        }
        if (!(s.hmac = mno_hmac_new(key, strlen(key)))) {
            mno_err(&e, MNO_E_INTERNAL, NULL, 0, NULL, "HMAC-SHA-256 is not available from libcrypto");
            goto done;
        }
    }
    s.seen = calloc(s.rules->n + 1, sizeof *s.seen);
    s.bufs = calloc(MAXR, sizeof *s.bufs);
    if (!s.seen || !s.bufs) {
        mno_err(&e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    ops.arg = &s;
    ops.header = on_header;
    ops.begin = on_begin;
    ops.rec = on_rec;
    ops.end = on_end;
    ops.finish = on_finish;
    mno_outfile_catch_signals(); /* a signal removes the -o temporary file */
    if (mno_filter_run(&o, &ops, &e) == 0)
        status = 0;
done:
    if (status)
        fprintf(stderr, "mno-filter-scrub: error: %s\n", e.msg);
    for (size_t i = 0; s.bufs && i < MAXR; i++)
        mno_buf_release(&s.bufs[i]);
    free(s.bufs);
    free(s.seen);
    free(s.vals);
    free(s.lens);
    if (s.out_init)
        bson_destroy(&s.out);
    mno_hmac_free(s.hmac);
    mno_scrub_free(s.rules);
    return status;
}
