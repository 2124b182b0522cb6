/* mno-filter-tenant: a tenant's records out of an --all archive, as mno-dump --tenant selects them (docs/filters.md). */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "engine.h"
#include "engine_mongo.h"
#include "filter.h"
#include "outfile.h"
#include "scope.h"
#include "tenant.h"

static const char usage[] =
    "usage: mno-filter-tenant --tenant NAME [--scope FILE] [--orgs-from HUB_ARCHIVE] [options] [FILE|-]\n"
    "Reads an archive of a whole database (mno-dump --all; FILE or stdin, plain or zstd),\n"
    "checking every count and sum, and writes a new sealed archive with exactly the records\n"
    "mno-dump --tenant NAME writes with the same scope file, in one pass: parents come before\n"
    "their children in an archive, so the kept parents' keys are known in time.\n"
    "\n"
    "  --tenant NAME    the tenant (as mno-dump: a name or an id the scope's root rules match)\n"
    "  --scope FILE     the scope file (default: SCOPEDIR/SOURCE.scope for the header's source,\n"
    "                   SCOPEDIR as mno-dump: $MNO_SCOPE_DIR, else filters/ beside the tools)\n"
    "  --orgs-from FILE MongoDB (Connec!): the tenant's organization uids from a MnoHub archive\n"
    "                   of the tenant (as mno-dump --orgs-from)\n"
    MNO_FILTER_USAGE_OPTS
    "\n"
    "Memory: the values of the parent columns the scope's rules refer to, for the kept rows\n"
    "(about 50 bytes plus the value's length per key). Exit status: 0 done, 2 an error.\n";

struct tn {
    const char *tenant, *scope_path, *orgs_from;
    mno_scope *scope;
    mno_tenant *sel;
    char **uids;
    size_t nuids;
};

static int on_header(void *arg, const json_t *in, json_t *out, mno_error *e)
{
    struct tn *s = arg;
    char path[4200], dir[4096];
    const char *source = json_string_value(json_object_get(in, "source"));
    const char *engine = json_string_value(json_object_get(in, "engine"));
    const char *t = json_string_value(json_object_get(in, "tenant"));
    int mongo = engine && strcmp(engine, "mongodb") == 0;
    if (t && strcmp(t, s->tenant) != 0)
        return mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "archive of tenant '%s', not of a whole database (mno-dump --all)", t);
    if (s->scope_path) {
        snprintf(path, sizeof path, "%s", s->scope_path);
    } else {
        if (!source)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "the archive's header names no source: give --scope FILE");
        mno_default_scope_dir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/%s.scope", dir, source);
    }
    if (!(s->scope = mno_scope_load(path, e)))
        return -1;
    if (!mongo && mno_scope_qualify(s->scope, "public", e) < 0)
        return -1;
    if (mongo) {
        int need = 0;
        for (size_t i = 0; i < s->scope->n; i++)
            need |= s->scope->rules[i].kind == MNO_SCOPE_MATCH;
        if (need && !s->orgs_from)
            return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                           "a mongodb archive needs the tenant's organizations: give --orgs-from HUB_ARCHIVE");
        if (s->orgs_from) {
            mno_dump_opts o = {0};
            o.tenant = s->tenant;
            o.orgs_from = s->orgs_from;
            if (mno_mongo_tenant_orgs(&o, &s->uids, &s->nuids, e) < 0)
                return -1;
        }
    } else if (s->orgs_from) {
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--orgs-from goes with a mongodb archive");
    }
    if (!(s->sel = mno_tenant_new(s->scope, s->tenant, s->uids, s->nuids)))
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    char *copy = strdup(path);
    json_object_set_new(out, "tenant", json_string(s->tenant));
    json_object_set_new(out, "scope", json_string(copy ? basename(copy) : path));
    json_object_del(out, "all");
    free(copy);
    return 0;
}

static int on_begin(void *arg, const mno_item *it, json_t **begin, mno_error *e)
{
    struct tn *s = arg;
    (void)begin;
    return mno_tenant_begin(s->sel, it->section, e);
}

static int on_rec(void *arg, const mno_item *it, mno_filter_rec *out, mno_error *e)
{
    struct tn *s = arg;
    (void)out;
    int k = mno_tenant_rec(s->sel, it, e);
    return k < 0 ? -1 : k ? MNO_FILTER_KEEP : MNO_FILTER_SKIP;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-filter-tenant: error: %s\ntry 'mno-filter-tenant --help'\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"tenant", required_argument, 0, 't'}, {"scope", required_argument, 0, 's'},
        {"orgs-from", required_argument, 0, 'f'},
        MNO_FILTER_LONGOPTS};
    mno_filter_opts o = MNO_FILTER_OPTS_INIT;
    struct tn s = {0};
    mno_filter_ops ops = {0};
    mno_error e = {0};
    int c, status = 2;
    mno_filter_opts_init(&o, "mno-filter-tenant", argc, argv);
    opterr = 0;
    while ((c = getopt_long(argc, argv, MNO_FILTER_SHORTOPTS, lopts, NULL)) != -1) {
        int k = mno_filter_common_opt(&o, c, optarg, argv[optind - 1], &e);
        if (k < 0)
            return usage_error(e.msg);
        if (k > 0)
            continue;
        switch (c) {
        case 't': s.tenant = optarg; break;
        case 's': s.scope_path = optarg; break;
        case 'f': s.orgs_from = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("mno-filter-tenant %s\n", MNO_VERSION_STR); return 0;
        }
    }
    if (!s.tenant || !*s.tenant)
        return usage_error("--tenant NAME is required");
    if (mno_filter_input(&o, argc, argv, optind, &e) < 0)
        return usage_error(e.msg);
    ops.arg = &s;
    ops.header = on_header;
    ops.begin = on_begin;
    ops.rec = on_rec;
    mno_outfile_catch_signals(); /* a signal removes the -o temporary file */
    if (mno_filter_run(&o, &ops, &e) == 0)
        status = 0;
    else
        fprintf(stderr, "mno-filter-tenant: error: %s\n", e.msg);
    mno_tenant_free(s.sel);
    mno_scope_free(s.scope);
    if (s.uids)
        mno_mongo_orgs_free(s.uids, s.nuids);
    return status;
}
