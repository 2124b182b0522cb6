/* mno-dump: one tenant's rows of a MnoHub (PostgreSQL) or Connec! (MongoDB) database -> an mnoa archive (docs/mno-dump.md). */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "args.h"
#include "dump.h"
#include "outfile.h"

static const char usage[] =
    "usage: mno-dump --source URI --tenant NAME [options]\n"
    "       mno-dump --source URI --all [options]\n"
    "Writes the tenant's rows (PostgreSQL: MnoHub, a connector) or documents (MongoDB:\n"
    "Connec!) as an mnoa archive: only what the scope file assigns to the tenant, read in\n"
    "key order from one consistent snapshot.\n"
    "\n"
    "  --source URI       postgresql://... or mongodb://.../DB (default: $MNO_SOURCE)\n"
    "  --tenant NAME      the tenant (MnoHub tenants.name, or its id)\n"
    "  --all              everything the scope covers, every tenant\n"
    "  --scope FILE       the scope file (default: SCOPEDIR/KIND.scope, KIND mnohub,\n"
    "                     connector or connec by source; SCOPEDIR is $MNO_SCOPE_DIR, else\n"
    "                     the filters/ directory beside the installed tools)\n"
    "  --skip-unscoped    leave out tables/collections the scope does not mention (named\n"
    "                     on stderr); without it they are an error\n"
    "  --orgs-from FILE   MongoDB: the tenant's organization uids from a MnoHub archive\n"
    "  --hub URI          MongoDB: ... or from a live MnoHub (default: $MNO_HUB)\n"
    "  --retries N        MongoDB: reconnects per collection after a dropped connection,\n"
    "                     resuming after the last _id read (default 5)\n"
    "  -j, --jobs N       parallel readers where the engine can use them (default 1)\n"
    "  --plan             print per table/collection the rule, query and row count\n"
    "                     (tab-separated), dump nothing; and the dangling references\n"
    "  --allow-dangling   rows linking to rows that are not in the archive are a warning\n"
    "                     (without it an error: no archive is written)\n"
    "  -o FILE            write to FILE (default stdout): written as a new file (mode\n"
    "                     0600) that replaces FILE only when complete; a symbolic link\n"
    "                     FILE is replaced, never written through\n"
    "  -z                 compress with zstd (implied by a FILE ending in .zst)\n"
    "  --level N          zstd level (default 3)\n"
    "  --threads N        zstd worker threads (default 0: one compressing thread)\n"
    "  --progress         progress on stderr even when it is not a terminal\n"
    "  --quiet            no progress\n"
    "  --help             this text\n"
    "  --version          the version\n"
    "\n"
    "Credentials come from the URIs, PGPASSFILE or the environment and are never printed.\n"
    "Exit status: 0 the archive is complete, 2 an error (no output file is left).\n";

struct opts {
    mno_dump_cfg c;
    int plan, progress, quiet, packing;
    char scope_dir[PATH_MAX];
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-dump: error: %s\ntry 'mno-dump --help'\n", msg);
    return 2;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"source", required_argument, 0, 's'},   {"tenant", required_argument, 0, 't'},
        {"all", no_argument, 0, 'A'},            {"scope", required_argument, 0, 'S'},
        {"skip-unscoped", no_argument, 0, 'U'},  {"orgs-from", required_argument, 0, 'O'},
        {"hub", required_argument, 0, 'H'},      {"retries", required_argument, 0, 'R'},
        {"jobs", required_argument, 0, 'j'},     {"plan", no_argument, 0, 'P'},
        {"output", required_argument, 0, 'o'},   {"level", required_argument, 0, 'L'},
        {"threads", required_argument, 0, 'T'},  {"progress", no_argument, 0, 'p'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},        {"allow-dangling", no_argument, 0, 'D'},
        {"with-schema", no_argument, 0, 'W'},     {0, 0, 0, 0}};
    int c;
    long v;
    char msg[300];
    opterr = 0;
    o->c.o.retries = 5;
    o->c.o.jobs = 1;
    while ((c = getopt_long(argc, argv, ":o:zj:", lopts, NULL)) != -1) {
        switch (c) {
        case 's': o->c.source = optarg; break;
        case 't': o->c.o.tenant = optarg; break;
        case 'A': o->c.o.all = 1; break;
        case 'S': o->c.o.scope_path = optarg; break;
        case 'U': o->c.o.skip_unscoped = 1; break;
        case 'O': o->c.o.orgs_from = optarg; break;
        case 'H': o->c.o.hub_uri = optarg; break;
        case 'R':
            if (mno_parse_long(optarg, 0, 100, &v) < 0)
                return usage_error("--retries: expected a number from 0 to 100");
            o->c.o.retries = (int)v;
            break;
        case 'j':
            if (mno_parse_long(optarg, 1, 64, &v) < 0)
                return usage_error("-j: expected a number of jobs from 1 to 64");
            o->c.o.jobs = (int)v;
            break;
        case 'P': o->plan = 1; break;
        case 'D': o->c.o.allow_dangling = 1; break;
        case 'W': o->c.o.with_schema = 1; break;
        case 'o': o->c.output = optarg; o->packing = 1; break;
        case 'z': o->c.zstd = 1; o->packing = 1; break;
        case 'L':
            if (mno_parse_long(optarg, -131072, 22, &v) < 0)
                return usage_error("--level: expected a zstd level up to 22");
            o->c.level = (int)v;
            o->packing = 1;
            break;
        case 'T':
            if (mno_parse_long(optarg, 0, 200, &v) < 0)
                return usage_error("--threads: expected a number from 0 to 200");
            o->c.threads = (int)v;
            o->packing = 1;
            break;
        case 'p': o->progress = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("mno-dump %s\n", MNO_VERSION_STR); exit(0);
        case ':':
            snprintf(msg, sizeof msg, "option '%s' needs a value", argv[optind - 1]);
            return usage_error(msg);
        default:
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return usage_error(msg);
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument (options only; see --help)");
    if (!o->c.source)
        o->c.source = getenv("MNO_SOURCE");
    if (!o->c.source || !*o->c.source)
        return usage_error("no source: give --source URI (or set MNO_SOURCE)");
    if (o->c.o.all && o->c.o.tenant)
        return usage_error("give either --tenant NAME or --all, not both");
    if (!o->c.o.all && (!o->c.o.tenant || !*o->c.o.tenant))
        return usage_error("no tenant: give --tenant NAME (or --all)");
    if (o->progress && o->quiet)
        return usage_error("give at most one of --progress and --quiet");
    if (o->plan && o->packing)
        return usage_error("-o, -z, --level and --threads do not go with --plan");
    int mongo = mno_engine_for_uri(o->c.source) == &mno_engine_mongo;
    if (mongo && o->c.o.with_schema)
        return usage_error("--with-schema goes with a postgresql source (MongoDB archives carry their "
                           "collections' options and indexes)");
    if (!mongo && (o->c.o.orgs_from || o->c.o.hub_uri))
        return usage_error("--orgs-from and --hub go with a mongodb source");
    if (o->c.o.orgs_from && o->c.o.hub_uri)
        return usage_error("give either --orgs-from FILE or --hub URI, not both");
    if (mongo && !o->c.o.orgs_from && !o->c.o.hub_uri) {
        const char *hub = getenv("MNO_HUB");
        if (hub && *hub)
            o->c.o.hub_uri = hub;
    }
    if (mongo && !o->c.o.all && !o->c.o.orgs_from && !o->c.o.hub_uri)
        return usage_error("a mongodb source needs the tenant's organizations: give --orgs-from "
                           "HUB_ARCHIVE or --hub URI (or set MNO_HUB)");
    mno_default_scope_dir(o->scope_dir, sizeof o->scope_dir);
    o->c.scope_dir = o->scope_dir;
    o->c.counts = o->plan;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    mno_error e;
    mno_dump *d = NULL;
    mno_progress *p = NULL;
    mno_buf b = MNO_BUF_INIT;
    int status = 2;
    memset(&o, 0, sizeof o);
    /* libmongoc allocates every reply's buffers anew (about a megabyte per getMore): taken from
       the heap and kept rather than mapped and unmapped each time, they do not page-fault on
       every batch (a tenth of a MongoDB dump's time) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mno_dump_cfg init = MNO_DUMP_CFG_INIT;
    o.c = init;
    mno_error_clear(&e);
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (mno_dump_open(&d, &o.c, &e) < 0)
        goto fail;
    const mno_plan *plan = mno_dump_plan(d);
    for (size_t i = 0; i < plan->n_unscoped; i++) {
        char name[MNO_NAME_MSG_MAX], scope[MNO_NAME_MSG_MAX];
        fprintf(stderr, "mno-dump: warning: skipping %s '%s': not in scope '%s'\n",
                mno_dump_object_word(d), mno_name_msg(plan->unscoped[i], name, sizeof name),
                mno_name_msg(mno_dump_scope_path(d), scope, sizeof scope));
    }
    if (o.plan) {
        if (mno_dump_plan_text(d, &b, &e) < 0)
            goto fail;
        if (fwrite(b.data ? b.data : "", 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
            fprintf(stderr, "mno-dump: error: cannot write the plan to stdout\n");
            goto done;
        }
        status = 0;
        if (plan->n_dangling) {
            fprintf(stderr, "mno-dump: %s: %lld row%s of the plan link%s to rows that are not in it%s:\n",
                    o.c.o.allow_dangling ? "warning" : "error", plan->dangling_rows, plan->dangling_rows == 1 ? "" : "s",
                    plan->dangling_rows == 1 ? "s" : "", o.c.o.allow_dangling ? "" : " (--allow-dangling accepts them)");
            for (size_t i = 0; i < plan->n_dangling; i++)
                fprintf(stderr, "  %s\n", plan->dangling[i]);
            status = o.c.o.allow_dangling ? 0 : 2;
        }
        goto done;
    }
    p = mno_progress_new(2, o.quiet ? MNO_PROGRESS_OFF
                                    : o.progress ? MNO_PROGRESS_ON : MNO_PROGRESS_AUTO);
    mno_outfile_catch_signals(); /* a signal removes the temporary file */
    if (mno_dump_run(d, p, &e) < 0)
        goto fail;
    if (mno_dump_warning(d))
        fprintf(stderr, "mno-dump: warning: %s", mno_dump_warning(d));
    status = 0;
    goto done;
fail:
    mno_redact_error(&e, o.c.source);   /* no credential in a message, whoever wrote it */
    mno_redact_error(&e, o.c.o.hub_uri);
    fprintf(stderr, "mno-dump: error: %s\n", e.msg);
done:
    mno_buf_release(&b);
    mno_progress_free(p);
    mno_dump_free(d);
    return status;
}
