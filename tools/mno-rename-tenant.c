/* mno-rename-tenant: renames a tenant in place in a connector database (the scope's root columns), in one transaction, refusing uid collisions and keeping an undo archive (docs/live.md). */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "live.h"
#include "outfile.h"

#define TOOL "mno-rename-tenant"

static const char usage[] =
    "usage: mno-rename-tenant --target CONNECTOR_URI --from OLD --to NEW [--merge] [--plan] [options]\n"
    "       mno-rename-tenant --target CONNECTOR_URI --undo FILE\n"
    "Renames tenant OLD to NEW in a (cloud) connector database, so that the shared connector\n"
    "keeps serving the customer under the enterprise environment's tenant name: every column\n"
    "that connector.scope's root rules name (organizations.tenant, users.tenant), in one\n"
    "transaction, after writing the old names into an undo archive. Refused when a uid\n"
    "(rename.rules' unique columns) is held by both tenants, listing the uids.\n"
    "\n"
    "  --target URI       the connector database (postgresql://...; default: $MNO_TARGET)\n"
    "  --from OLD         the tenant's name now\n"
    "  --to NEW           its new name\n"
    "  --merge            NEW may already hold rows (still refused when a uid collides)\n"
    "  --plan             print per table the statement and the rows it would change\n"
    "                     (NS TAB STATEMENT TAB ROWS); change nothing\n"
    "  --undo-file FILE   where the undo archive goes (default:\n"
    "                     mno-rename-tenant-OLD-YYYYMMDDTHHMMSSZ.undo.mnoa here); never overwritten\n"
    "  --undo FILE        put the old names of FILE back; refused (exit 2, keys named) when a\n"
    "                     row's tenant was changed by someone else since\n"
    "  --rules FILE       the rules (default: SCOPEDIR/rename.rules)\n"
    "  --scope FILE       the scope (default: SCOPEDIR/connector.scope); SCOPEDIR is\n"
    "                     $MNO_SCOPE_DIR, else the filters/ directory beside the tools\n"
    "  --json             the report as one JSON object (counts per table)\n"
    "  --help, --version\n"
    "\n"
    "What lives outside the database must follow by hand (printed as a checklist line): the\n"
    "webhook path /maestrano/connec/notifications/NEW and the connector's tenant configuration.\n"
    "A second run changes nothing and says so. Credentials are never printed.\n"
    "Exit status: 0 done (or nothing to change), 2 an error or a refusal (nothing changed).\n";

static int usage_error(const char *msg)
{
    fprintf(stderr, TOOL ": error: %s\ntry '" TOOL " --help'\n", msg);
    return 2;
}

static int put(mno_buf *b)
{
    if (fwrite(b->data ? b->data : "", 1, b->len, stdout) != b->len || fflush(stdout) != 0) {
        fprintf(stderr, TOOL ": error: cannot write to stdout\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"target", required_argument, 0, 'T'}, {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},     {"merge", no_argument, 0, 'm'},
        {"plan", no_argument, 0, 'P'},         {"undo-file", required_argument, 0, 'u'},
        {"undo", required_argument, 0, 'U'},   {"rules", required_argument, 0, 'r'},
        {"scope", required_argument, 0, 'S'},  {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    mno_live_cfg c = MNO_LIVE_CFG_INIT;
    char scope_dir[PATH_MAX], msg[300];
    const char *undo = NULL;
    int plan = 0, json = 0, ch, status = 2;
    mno_error e;
    mno_live *l = NULL;
    mno_buf b = MNO_BUF_INIT;
    mno_error_clear(&e);
    c.tool = TOOL;
    c.action = "rename";
    c.rules_name = "rename.rules";
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", lopts, NULL)) != -1) {
        switch (ch) {
        case 'T': c.target = optarg; break;
        case 'f': c.tenant = optarg; break;
        case 't': c.to = optarg; break;
        case 'm': c.merge = 1; break;
        case 'P': plan = 1; break;
        case 'u': c.undo_file = optarg; break;
        case 'U': undo = optarg; break;
        case 'r': c.rules_path = optarg; break;
        case 'S': c.scope_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf(TOOL " %s\n", MNO_VERSION_STR); return 0;
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
    if (!c.target)
        c.target = getenv("MNO_TARGET");
    if (!c.target || !*c.target)
        return usage_error("no target: give --target URI (or set MNO_TARGET)");
    if (undo && (c.tenant || c.to || c.merge || plan || c.undo_file))
        return usage_error("--undo FILE goes with --target only");
    if (!undo && (!c.tenant || !*c.tenant || !c.to || !*c.to))
        return usage_error("give --from OLD and --to NEW");
    if (!undo && strcmp(c.tenant, c.to) == 0)
        return usage_error("--from and --to are the same name");
    mno_default_scope_dir(scope_dir, sizeof scope_dir);
    c.scope_dir = scope_dir;

    if (undo) {
        mno_live_undo_res res;
        if (mno_live_undo(&c, undo, &res, &e) < 0)
            goto fail;
        status = mno_live_undo_report(&c, undo, &res, json, &b) < 0 || put(&b) < 0 ? 2 : 0;
        mno_live_undo_res_release(&res);
        goto done;
    }
    mno_outfile_catch_signals(); /* a signal removes the undo archive's temporary file */
    if (mno_live_open(&l, &c, &e) < 0)
        goto fail;
    if (plan) {
        status = (json ? mno_live_report(l, 1, 1, 0, &b) : mno_live_plan_text(l, &b, &e)) < 0 || put(&b) < 0 ? 2 : 0;
        goto done;
    }
    if (!json) {
        if (mno_live_report(l, 0, 0, 0, &b) < 0 || put(&b) < 0)
            goto done;
        mno_buf_reset(&b);
    }
    if (mno_live_run(l, &e) < 0)
        goto fail;
    if (json ? mno_live_report(l, 1, 0, 1, &b) < 0
             : mno_live_total(l) > 0 && mno_buf_addf(&b, "undo archive: %s\ndone: %lld rows changed in one transaction\n",
                                                     mno_live_undo_file(l), mno_live_total(l)) < 0)
        goto done;
    if (put(&b) < 0)
        goto done;
    /* the checklist goes to stderr so that --json stays one object on stdout */
    if (mno_live_total(l) > 0 || mno_live_renamed(l))
        fprintf(stderr,
                TOOL ": checklist: outside the database, move the webhook path "
                "/maestrano/connec/notifications/%s to /maestrano/connec/notifications/%s and the "
                "connector's tenant configuration (Maestrano[%s], cache key connec_version_%s) to the new name; "
                "this tool cannot change them\n",
                c.tenant, c.to, c.to, c.to);
    status = 0;
    goto done;
fail:
    fprintf(stderr, TOOL ": error: %s\n", e.msg);
done:
    mno_buf_release(&b);
    mno_live_free(l);
    return status;
}
