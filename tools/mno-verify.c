/* mno-verify: the checksum report: a target database against an archive, or a live source (docs/mno-verify.md). */
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "args.h"
#include "codec.h"
#include "outfile.h"
#include "verify.h"

static const char usage[] =
    "usage: mno-verify --archive FILE --target URI [options]\n"
    "       mno-verify --source URI --tenant NAME [--scope FILE] --target URI [options]\n"
    "Compares the target with the archive (or the live source), per table or collection:\n"
    "the number of rows and the sum of their md5 digests over the same rows. PostgreSQL\n"
    "hashes in the server (no row leaves it); MongoDB documents are hashed as they stream.\n"
    "The archive is checked as it is read: a truncated or malformed archive, or one whose\n"
    "record counts or sums do not add up, is an error (zstd archives: any damaged byte).\n"
    "\n"
    "  --archive FILE   the archive (plain or zstd; - for stdin)\n"
    "  --source URI     a live source instead: its rows of the tenant, exactly as\n"
    "                   mno-dump --tenant selects them (with --tenant; default:\n"
    "                   $MNO_SOURCE when --tenant is given without --archive)\n"
    "  --tenant NAME    the tenant (live)\n"
    "  --scope FILE     the scope file (live; default: SCOPEDIR/KIND.scope as for\n"
    "                   mno-dump, SCOPEDIR $MNO_SCOPE_DIR or the filters/ directory)\n"
    "  --orgs-from FILE live, MongoDB: the tenant's organization uids from a MnoHub archive\n"
    "  --hub URI        live, MongoDB: ... or from a live MnoHub (default: $MNO_HUB)\n"
    "  --target URI     the target database (postgresql://... or mongodb://...;\n"
    "                   default: $MNO_TARGET)\n"
    "  --diff           list the keys that differ, found by narrowing buckets of key\n"
    "                   hashes (memory stays bounded; the archive's records are spooled\n"
    "                   to a temporary file in $TMPDIR)\n"
    "  --max N          at most N keys per table or collection (default 20)\n"
    "  --no-extra       do not report tables/collections the archive does not have\n"
    "  --no-check-archive  do not recompute the digest of every record of the archive\n"
    "                   (by default each is checked against its end line, as mno-cat\n"
    "                   --check does): the records are counted and the sums their end\n"
    "                   lines declare are the expected ones (--check-archive: the default)\n"
    "  --trust-archive  send a section's \"where\" (SQL) or \"filter\" (a MongoDB\n"
    "                   query), written by hand into the archive, to the target (without\n"
    "                   it such a section is an error: mno-dump never writes them)\n"
    "  --json           write the report as JSON (full sums, the archive's identity)\n"
    "  -o FILE          write the report to FILE (default stdout): a new file (mode\n"
    "                   0600) that replaces FILE only when complete (a symbolic link\n"
    "                   FILE is replaced, never written through)\n"
    "  --help           this text\n"
    "  --version        the version\n"
    "\n"
    "Status per table: ok, DIFFERS, MISSING in target, EXTRA in target.\n"
    "Exit status: 0 every table matches, 1 a difference, 2 an error.\n";

struct opts {
    mno_verify_opts v;
    int json;
    const char *output;
    char scope_dir[PATH_MAX];
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-verify: error: %s\ntry 'mno-verify --help'\n", msg);
    return 2;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"archive", required_argument, 0, 'a'}, {"source", required_argument, 0, 's'},
        {"tenant", required_argument, 0, 't'},  {"scope", required_argument, 0, 'S'},
        {"target", required_argument, 0, 'T'},  {"diff", no_argument, 0, 'd'},
        {"max", required_argument, 0, 'm'},     {"no-extra", no_argument, 0, 'x'},
        {"json", no_argument, 0, 'j'},          {"output", required_argument, 0, 'o'},
        {"orgs-from", required_argument, 0, 'O'}, {"hub", required_argument, 0, 'H'},
        {"check-archive", no_argument, 0, 'C'}, {"no-check-archive", no_argument, 0, 'N'},
        {"trust-archive", no_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int c;
    char msg[300];
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", lopts, NULL)) != -1) {
        switch (c) {
        case 'a': o->v.archive = optarg; break;
        case 's': o->v.source = optarg; break;
        case 't': o->v.tenant = optarg; break;
        case 'S': o->v.scope_path = optarg; break;
        case 'T': o->v.target = optarg; break;
        case 'd': o->v.diff = 1; break;
        case 'm': {
            long v;
            if (mno_parse_long(optarg, 1, 1000000, &v) < 0)
                return usage_error("--max: expected a number from 1 to 1000000");
            o->v.max_diff = (size_t)v;
            break;
        }
        case 'x': o->v.no_extra = 1; break;
        case 'C': o->v.no_check_archive = 0; break;   /* the default; kept for scripts */
        case 'N': o->v.no_check_archive = 1; break;
        case 'r': o->v.trust_archive = 1; break;
        case 'O': o->v.orgs_from = optarg; break;
        case 'H': o->v.hub_uri = optarg; break;
        case 'j': o->json = 1; break;
        case 'o': o->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("mno-verify %s\n", MNO_VERSION_STR); exit(0);
        case ':':
            snprintf(msg, sizeof msg, "option '%s' needs a value", argv[optind - 1]);
            return usage_error(msg);
        default:
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return usage_error(msg);
        }
    }
    if (optind != argc) {
        snprintf(msg, sizeof msg, "unexpected argument '%s' (options only; the archive goes with --archive)",
                 argv[optind]);
        return usage_error(msg);
    }
    /* URIs may come from the environment, so that no password need stand on the command line */
    if (!o->v.target && getenv("MNO_TARGET") && *getenv("MNO_TARGET"))
        o->v.target = getenv("MNO_TARGET");
    if (!o->v.target)
        return usage_error("no target: give --target URI (or set MNO_TARGET)");
    if (!o->v.archive && !o->v.source && o->v.tenant && getenv("MNO_SOURCE") && *getenv("MNO_SOURCE"))
        o->v.source = getenv("MNO_SOURCE");
    if (!o->v.archive == !o->v.source)
        return usage_error("give either --archive FILE or --source URI");
    if (o->v.source && !o->v.tenant)
        return usage_error("--source needs --tenant NAME");
    if (o->v.archive && (o->v.tenant || o->v.scope_path || o->v.orgs_from || o->v.hub_uri))
        return usage_error("--tenant, --scope, --orgs-from and --hub go with --source");
    if (o->v.orgs_from && o->v.hub_uri)
        return usage_error("give either --orgs-from FILE or --hub URI, not both");
    int mongo = o->v.source && mno_engine_for_uri(o->v.source) == &mno_engine_mongo;
    if (o->v.source && !mongo && (o->v.orgs_from || o->v.hub_uri))
        return usage_error("--orgs-from and --hub go with a mongodb source");
    if (mongo && !o->v.orgs_from && !o->v.hub_uri) {
        const char *hub = getenv("MNO_HUB");
        if (hub && *hub)
            o->v.hub_uri = hub;
        else
            return usage_error("a mongodb source needs the tenant's organizations: give "
                               "--orgs-from HUB_ARCHIVE or --hub URI (or set MNO_HUB)");
    }
    if (o->v.source) {
        mno_default_scope_dir(o->scope_dir, sizeof o->scope_dir);
        o->v.scope_dir = o->scope_dir;
    }
    if (o->v.max_diff && !o->v.diff)
        return usage_error("--max goes with --diff");
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    mno_vreport rep;
    mno_error e;
    mno_buf out = MNO_BUF_INIT;
    char *json = NULL;
    int status = 2;
    memset(&o, 0, sizeof o);
    /* as for mno-dump: libmongoc's reply buffers (about a megabyte per getMore) taken from
       the heap and kept, not mapped and unmapped (page faults) each time */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mno_error_clear(&e);
    mno_vreport_init(&rep);
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (mno_verify(&o.v, &rep, &e) < 0) {
        mno_redact_error(&e, o.v.target);   /* no credential in a message, whoever wrote it */
        mno_redact_error(&e, o.v.source);
        mno_redact_error(&e, o.v.hub_uri);
        fprintf(stderr, "mno-verify: error: %s\n", e.msg);
        goto done;
    }
    if (o.json) {
        json_t *j = mno_report_json(&rep);
        json = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!json || mno_buf_adds(&out, json) < 0 || mno_buf_addc(&out, '\n') < 0) {
            fprintf(stderr, "mno-verify: error: out of memory\n");
            goto done;
        }
    } else if (mno_report_text(&rep, &out) < 0) {
        fprintf(stderr, "mno-verify: error: out of memory\n");
        goto done;
    }
    /* the report as archives are written (outfile.h): a new 0600 file renamed over FILE
       only when complete; an error names the file and the system's reason */
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    mno_outfile_catch_signals();
    mno_out *w = mno_out_open(o.output ? o.output : "-", &oo, &e);
    int wrote = w && mno_out_write(w, out.data ? out.data : "", out.len, &e) == 0;
    if (w && !wrote)
        mno_out_abort(w);
    if (!wrote || mno_out_finish(w, &e) < 0) {
        fprintf(stderr, "mno-verify: error: cannot write the report: %s\n", e.msg);
        goto done;
    }
    status = mno_vreport_status(&rep);
done:
    free(json);
    mno_buf_release(&out);
    mno_vreport_release(&rep);
    return status;
}
