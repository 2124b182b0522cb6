/* mno-filter-rename: maps values of named columns or fields in an archive (tenant renames; docs/filters.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "buf.h"
#include "filter.h"
#include "outfile.h"
#include "scope.h"
#include "scrub.h"

static const char usage[] =
    "usage: mno-filter-rename (--map NS.FIELD=OLD:NEW | --map-file FILE | --tenant OLD=NEW)...\n"
    "                         [--scope FILE] [--merge] [--json] [options] [FILE|-]\n"
    "Reads an mnoa archive (FILE, or stdin; plain or zstd), checking every count and sum, and\n"
    "writes a new sealed archive where each value OLD of the named column (PostgreSQL) or\n"
    "dotted field path (MongoDB) becomes NEW. Records left unchanged are copied byte for byte.\n"
    "\n"
    "  --map NS.FIELD=OLD:NEW  one mapping (repeatable): NS is the section (two parts:\n"
    "                   public.organizations, connec.people), FIELD the column or field path,\n"
    "                   OLD the value up to the first ':'\n"
    "  --map-file FILE  mappings, one a line: NS.FIELD <tab> OLD <tab> NEW ('#' comments)\n"
    "  --tenant OLD=NEW the tenant's value in every column the scope file's root rules name\n"
    "                   (connector: organizations.tenant, users.tenant; key columns left out)\n"
    "                   and the header's tenant\n"
    "  --scope FILE     the scope file for --tenant (default: SCOPEDIR/SOURCE.scope, as mno-dump)\n"
    "  --merge          allow a NEW value that the column already holds (two values become one)\n"
    "  --json           the report on stderr as JSON (default: one line per section changed)\n"
    MNO_FILTER_USAGE_OPTS
    "\n"
    "A mapping on a key column (PostgreSQL key, MongoDB _id) is refused, and so is one whose\n"
    "NEW value is already in that column, unless --merge. Exit status: 0 done, 2 an error.\n";

#define MAXM 256

typedef struct map {
    mno_scrub_rule r;       /* ns, col, from (OLD), value (NEW); changed/clash counters */
    char *origin;           /* for messages: "--map ARG", "FILE:LINE", "--tenant OLD=NEW (scope F:L)" */
    int from_tenant;        /* made by --tenant: a section or column the archive lacks is no error */
    int seen;               /* its section was in the archive */
} map;

struct rn {
    map m[MAXM];
    size_t n;
    int merge, json;
    const char *tenant_old, *tenant_new, *scope;
    /* the open section */
    map *act[MAXM];
    mno_scrub_rule *actr[MAXM];
    long col[MAXM];
    size_t nact;
    const char **vals;
    size_t *lens;
    bson_t out;
    int out_init;
    const char *input;
    json_t *report;         /* [{ns, changed}] */
};

static int add_map(struct rn *s, const char *ns, const char *col, const char *from, const char *to,
                   const char *origin, int from_tenant, mno_error *e)
{
    if (s->n == MAXM)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "%s: more than %d mappings", origin, MAXM);
    map *m = &s->m[s->n];
    memset(m, 0, sizeof *m);
    m->r.ns = strdup(ns);
    m->r.col = strdup(col);
    m->r.from = strdup(from);
    m->r.value = strdup(to);
    m->origin = strdup(origin);
    m->r.action = MNO_SCRUB_MAP;
    m->from_tenant = from_tenant;
    s->n++;
    if (!m->r.ns || !m->r.col || !m->r.from || !m->r.value || !m->origin)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (strcmp(from, to) == 0)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "%s: OLD and NEW are the same value", origin);
    return 0;
}

/* Splits "NS.FIELD" after its second part (a part may be "double-quoted"). */
static int split_target(const char *t, char **ns, char **col)
{
    const char *p = t;
    int parts = 0;
    while (*p && parts < 2) {
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++)
                if (*p == '"')
                    p++;
            if (!*p)
                return -1;
            p++;
        } else {
            while (*p && *p != '.')
                p++;
        }
        parts++;
        if (parts < 2) {
            if (*p != '.')
                return -1;
            p++;
        }
    }
    if (*p != '.' || !p[1] || p == t)
        return -1;
    *ns = strndup(t, (size_t)(p - t));
    *col = strdup(p + 1);
    return *ns && *col ? 0 : -1;
}

static int parse_map_arg(struct rn *s, const char *arg, mno_error *e)
{
    char origin[1200], *target, *ns = NULL, *col = NULL;
    const char *eq = strchr(arg, '='), *colon = eq ? strchr(eq + 1, ':') : NULL;
    int rc;
    snprintf(origin, sizeof origin, "--map %s", arg);
    if (!eq || !colon)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "%s: expected NS.FIELD=OLD:NEW", origin);
    target = strndup(arg, (size_t)(eq - arg));
    if (!target || split_target(target, &ns, &col) < 0) {
        rc = mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "%s: expected NS.FIELD=OLD:NEW (NS: two parts, schema.table or database.collection)", origin);
    } else {
        char *from = strndup(eq + 1, (size_t)(colon - eq - 1));
        rc = from ? add_map(s, ns, col, from, colon + 1, origin, 0, e) : mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        free(from);
    }
    free(target);
    free(ns);
    free(col);
    return rc;
}

/* --map-file: NS.FIELD <tab> OLD <tab> NEW per line; '#' at the start of a line: a comment. */
static int load_map_file(struct rn *s, const char *path, mno_error *e)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    if (!f)
        return mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        char origin[1100], *ns = NULL, *col = NULL;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2 || strchr(t2 + 1, '\t')) {
            rc = mno_err(e, MNO_E_USAGE, path, lineno, NULL, "expected NS.FIELD, OLD and NEW separated by tabs");
            break;
        }
        *t1 = *t2 = 0;
        if (split_target(line, &ns, &col) < 0) {
            rc = mno_err(e, MNO_E_USAGE, path, lineno, NULL, "expected NS.FIELD (NS: two parts, schema.table or database.collection), found '%s'", line);
        } else {
            snprintf(origin, sizeof origin, "%s:%d", path, lineno);
            rc = add_map(s, ns, col, t1 + 1, t2 + 1, origin, 0, e);
        }
        free(ns);
        free(col);
    }
    free(line);
    fclose(f);
    return rc;
}

/* --tenant: a mapping per root column of the scope (the input's source names the default one). */
static int on_header(void *arg, const json_t *in, json_t *out, mno_error *e)
{
    struct rn *s = arg;
    char path[4200], dir[4096];
    if (!s->tenant_old)
        return 0;
    const char *source = json_string_value(json_object_get(in, "source"));
    const char *engine = json_string_value(json_object_get(in, "engine"));
    if (s->scope) {
        snprintf(path, sizeof path, "%s", s->scope);
    } else {
        if (!source)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--tenant: the archive's header names no source: give --scope FILE");
        mno_default_scope_dir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/%s.scope", dir, source);
    }
    mno_scope *sc = mno_scope_load(path, e);
    if (!sc)
        return -1;
    if (engine && strcmp(engine, "postgresql") == 0 && mno_scope_qualify(sc, "public", e) < 0) {
        mno_scope_free(sc);
        return -1;
    }
    for (size_t i = 0; i < sc->n; i++) {
        const mno_scope_rule *r = &sc->rules[i];
        if (r->kind != MNO_SCOPE_ROOT)
            continue;
        for (size_t c = 0; c < r->ncols; c++) {
            char origin[5000];
            snprintf(origin, sizeof origin, "--tenant %s=%s (%s:%d)", s->tenant_old, s->tenant_new, r->file, r->line);
            if (add_map(s, r->name, r->cols[c], s->tenant_old, s->tenant_new, origin, 1, e) < 0) {
                mno_scope_free(sc);
                return -1;
            }
        }
    }
    mno_scope_free(sc);
    const char *t = json_string_value(json_object_get(out, "tenant"));
    if (t && strcmp(t, s->tenant_old) == 0)
        json_object_set_new(out, "tenant", json_string(s->tenant_new));
    return 0;
}

static int on_begin(void *arg, const mno_item *it, json_t **begin, mno_error *e)
{
    struct rn *s = arg;
    const mno_section *sec = it->section;
    (void)begin;
    s->nact = 0;
    for (size_t i = 0; i < s->n; i++) {
        map *m = &s->m[i];
        if (strcmp(m->r.ns, sec->ns) != 0)
            continue;
        m->seen = 1;
        long ci = -1;
        if (sec->engine == MNO_ENGINE_PG) {
            for (size_t c = 0; c < sec->ncols; c++)
                if (strcmp(sec->colnames[c], m->r.col) == 0)
                    ci = (long)c;
            if (ci >= 0 && mno_filter_is_key(sec->begin, m->r.col)) {
                if (m->from_tenant)
                    continue;  /* a root rule's id: the tenant's name is no key value */
                return mno_err(e, MNO_E_USAGE, m->origin, 0, NULL,
                               "%s.%s is in the section's key (order and identity hang on it): refused",
                               sec->ns, m->r.col);
            }
            if (ci < 0) {
                if (m->from_tenant)
                    continue;
                return mno_err(e, MNO_E_USAGE, m->origin, 0, NULL, "section %s has no column %s", sec->ns, m->r.col);
            }
        } else if (strcmp(m->r.col, "_id") == 0 || strncmp(m->r.col, "_id.", 4) == 0) {
            return mno_err(e, MNO_E_USAGE, m->origin, 0, NULL,
                           "%s.%s is the document's _id (order and identity hang on it): refused",
                           sec->ns, m->r.col);
        }
        s->col[s->nact] = ci;
        s->actr[s->nact] = &m->r;
        s->act[s->nact++] = m;
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
    }
    return MNO_FILTER_SCAN_KEEP;
}

/* A value that JSON writes as it is (no byte to escape): a line that does not hold it holds
   no such value. */
static int plain_json(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || *v == '"' || *v == '\\' || *v == '/' || (unsigned char)*v == 0x7f)
            return 0;
    return 1;
}

/* The record must be decoded when its line holds an OLD or a NEW value of a mapping here. */
static int on_quick(void *arg, const char *line, size_t len)
{
    struct rn *s = arg;
    for (size_t i = 0; i < s->nact; i++) {
        const map *m = s->act[i];
        if (!plain_json(m->r.from) || !plain_json(m->r.value) || !*m->r.from || !*m->r.value)
            return 1;
        if (memmem(line, len, m->r.from, strlen(m->r.from)) || memmem(line, len, m->r.value, strlen(m->r.value)))
            return 1;
    }
    return 0;
}

/* A NEW value already in the column, without --merge: refused at the record that holds it. */
static int clash(struct rn *s, const map *m, const mno_item *it, mno_error *e)
{
    return mno_err(e, MNO_E_CONFLICT, m->origin, 0, NULL,
                   "%s.%s already holds '%s' (record at %s:%lld): two values would become one; --merge allows it",
                   it->section->ns, m->r.col, m->r.value, s->input, it->lineno);
}

static int on_rec(void *arg, const mno_item *it, mno_filter_rec *out, mno_error *e)
{
    struct rn *s = arg;
    int changed = 0;
    if (it->section->engine == MNO_ENGINE_PG) {
        size_t nc = it->section->ncols;
        memcpy(s->vals, it->vals, nc * sizeof *s->vals);
        memcpy(s->lens, it->lens, nc * sizeof *s->lens);
        for (size_t i = 0; i < s->nact; i++) {
            map *m = s->act[i];
            long c = s->col[i];
            const char *v = it->vals[c];
            size_t n = it->lens[c];
            if (!v)
                continue;
            if (s->vals[c] == v && n == strlen(m->r.from) && memcmp(v, m->r.from, n) == 0) {
                s->vals[c] = m->r.value;
                s->lens[c] = strlen(m->r.value);
                m->r.changed++;
                changed = 1;
            } else if (n == strlen(m->r.value) && memcmp(v, m->r.value, n) == 0) {
                if (!s->merge)
                    return clash(s, m, it, e);
                m->r.clash++;
            }
        }
        if (!changed)
            return MNO_FILTER_KEEP;
        out->vals = s->vals;
        out->lens = s->lens;
        return MNO_FILTER_CHANGED;
    }
    if (s->out_init)
        bson_reinit(&s->out);
    else
        bson_init(&s->out);
    s->out_init = 1;
    for (size_t i = 0; i < s->nact; i++)
        s->act[i]->r.clash = 0;
    if (mno_scrub_bson(it->doc, s->actr, s->nact, NULL, &s->out, &changed, NULL) < 0)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, NULL, "cannot rewrite the document");
    for (size_t i = 0; i < s->nact && !s->merge; i++)
        if (s->act[i]->r.clash)
            return clash(s, s->act[i], it, e);
    if (!changed)
        return MNO_FILTER_KEEP;
    out->doc = &s->out;
    return MNO_FILTER_CHANGED;
}

static int on_end(void *arg, const mno_item *it, mno_error *e)
{
    struct rn *s = arg;
    unsigned long long n = 0;
    (void)e;
    for (size_t i = 0; i < s->nact; i++) {
        n += s->act[i]->r.changed;
        s->act[i]->r.changed = 0;
    }
    if (s->nact) {
        json_t *o = json_pack("{s:s,s:I}", "ns", it->section->ns, "changed", (json_int_t)n);
        if (o)
            json_array_append_new(s->report, o);
    }
    s->nact = 0;
    return 0;
}

static int on_finish(void *arg, mno_error *e)
{
    struct rn *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if (!s->m[i].seen && !s->m[i].from_tenant)
            return mno_err(e, MNO_E_USAGE, s->m[i].origin, 0, NULL, "no section %s in the archive", s->m[i].r.ns);
    return 0;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-filter-rename: error: %s\ntry 'mno-filter-rename --help'\n", msg);
    return 2;
}

#define FAIL_USAGE(msg) do { status = usage_error(msg); goto done; } while (0)

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"map", required_argument, 0, 'm'}, {"map-file", required_argument, 0, 'f'},
        {"tenant", required_argument, 0, 't'}, {"scope", required_argument, 0, 's'},
        {"merge", no_argument, 0, 'g'}, {"json", no_argument, 0, 'j'},
        MNO_FILTER_LONGOPTS};
    mno_filter_opts o = MNO_FILTER_OPTS_INIT;
    static struct rn s;
    mno_filter_ops ops = {0};
    mno_error e = {0};
    char *tenant = NULL;
    int c, status = 2, given = 0;
    mno_filter_opts_init(&o, "mno-filter-rename", argc, argv);
    s.report = json_array();
    opterr = 0;
    while ((c = getopt_long(argc, argv, MNO_FILTER_SHORTOPTS, lopts, NULL)) != -1) {
        int k = mno_filter_common_opt(&o, c, optarg, argv[optind - 1], &e);
        if (k < 0)
            FAIL_USAGE(e.msg);
        if (k > 0)
            continue;
        switch (c) {
        case 'm':
            if (parse_map_arg(&s, optarg, &e) < 0)
                FAIL_USAGE(e.msg);
            given = 1;
            break;
        case 'f':
            if (load_map_file(&s, optarg, &e) < 0) {
                fprintf(stderr, "mno-filter-rename: error: %s\n", e.msg);
                goto done;
            }
            given = 1;
            break;
        case 't': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1])
                FAIL_USAGE("--tenant: expected OLD=NEW");
            free(tenant);
            tenant = strdup(optarg);
            if (!tenant)
                goto done;
            tenant[eq - optarg] = 0;
            s.tenant_old = tenant;
            s.tenant_new = tenant + (eq - optarg) + 1;
            if (strcmp(s.tenant_old, s.tenant_new) == 0)
                FAIL_USAGE("--tenant: OLD and NEW are the same value");
            given = 1;
            break;
        }
        case 's': s.scope = optarg; break;
        case 'g': s.merge = 1; break;
        case 'j': s.json = 1; break;
        case 'h': fputs(usage, stdout); status = 0; goto done;
        case 'V': printf("mno-filter-rename %s\n", MNO_VERSION_STR); status = 0; goto done;
        }
    }
    if (!given)
        FAIL_USAGE("give at least one --map, --map-file or --tenant");
    if (s.scope && !s.tenant_old)
        FAIL_USAGE("--scope goes with --tenant");
    if (mno_filter_input(&o, argc, argv, optind, &e) < 0)
        FAIL_USAGE(e.msg);
    s.input = strcmp(o.input, "-") ? o.input : "<stdin>";
    ops.arg = &s;
    ops.header = on_header;
    ops.begin = on_begin;
    ops.rec = on_rec;
    ops.quick = on_quick;
    ops.end = on_end;
    ops.finish = on_finish;
    mno_outfile_catch_signals(); /* a signal removes the -o temporary file */
    if (mno_filter_run(&o, &ops, &e) == 0) {
        status = 0;
        size_t i;
        json_t *r;
        json_int_t total = 0;
        json_array_foreach(s.report, i, r)
            total += json_integer_value(json_object_get(r, "changed"));
        if (s.json) {
            json_t *rep = json_pack("{s:s,s:s,s:O,s:I}", "tool", "mno-filter-rename", "version", MNO_VERSION_STR,
                                    "sections", s.report, "changed", total);
            char *txt = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
            if (txt)
                fprintf(stderr, "%s\n", txt);
            free(txt);
            json_decref(rep);
        } else {
            json_array_foreach(s.report, i, r)
                fprintf(stderr, "mno-filter-rename: %s: %lld values changed\n",
                        json_string_value(json_object_get(r, "ns")),
                        (long long)json_integer_value(json_object_get(r, "changed")));
        }
    } else {
        fprintf(stderr, "mno-filter-rename: error: %s\n", e.msg);
    }
done:
    for (size_t i = 0; i < s.n; i++) {
        free(s.m[i].r.ns);
        free(s.m[i].r.col);
        free(s.m[i].r.from);
        free(s.m[i].r.value);
        free(s.m[i].origin);
    }
    free(s.vals);
    free(s.lens);
    if (s.out_init)
        bson_destroy(&s.out);
    json_decref(s.report);
    free(tenant);
    return status;
}
