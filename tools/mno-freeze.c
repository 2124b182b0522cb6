/* mno-freeze: freezes (or unfreezes) a tenant's customers on the old environment, only after verify reports prove its copy and the source still equals it (docs/live.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "live.h"

#define TOOL "mno-freeze"

static const char usage[] =
    "usage: mno-freeze --target HUB_URI --tenant NAME --verified REPORT.json [--verified ...] --connec CONNEC_URI\n"
    "                  [--plan] [options]\n"
    "       mno-freeze --target HUB_URI --unfreeze FILE\n"
    "       mno-freeze --target HUB_URI --tenant NAME --verified ... --destroy --frozen-by FILE [--yes]\n"
    "       mno-freeze --target CONNEC_URI --tenant NAME --verified ... --destroy --hub HUB_URI [--yes]\n"
    "Freezes the tenant's customers on the old environment once their copy is proven: sets\n"
    "account_frozen on the tenant's organizations and users (freeze.rules). Refused unless\n"
    "every report is an mno-verify --json report of this tenant with verdict ok, the reports\n"
    "cover every source freeze.rules names (MnoHub and Connec!), and the tenant's rows in the\n"
    "target still have the counts and sums of the MnoHub archive and its Connec! documents\n"
    "those of the Connec! archive (nothing changed since the dump). The prior values go first\n"
    "into an undo archive; then one transaction.\n"
    "\n"
    "  --target URI       the old MnoHub database (postgresql://...; default: $MNO_TARGET)\n"
    "  --tenant NAME      the tenant (tenants.name or id)\n"
    "  --verified FILE    an mno-verify --json report (repeat: one per source)\n"
    "  --connec URI       the old Connec! database (mongodb://.../DB; default: $MNO_CONNEC):\n"
    "                     the tenant's documents are re-checked against the connec report\n"
    "  --plan             check, then print per table the statement and the rows it would\n"
    "                     change (NS TAB STATEMENT TAB ROWS); change nothing\n"
    "  --undo-file FILE   where the undo archive goes (default:\n"
    "                     mno-freeze-TENANT-YYYYMMDDTHHMMSSZ.undo.mnoa here); never overwritten\n"
    "  --unfreeze FILE    put the prior values of the freeze's undo archive FILE back; refused\n"
    "                     (exit 2, keys named) when a row was changed by someone else since\n"
    "  --destroy          delete the tenant's rows (children before parents; global tables\n"
    "                     stay) once it is frozen, with the same reports and re-check: first\n"
    "                     a final archive of everything it deletes (read back and checked),\n"
    "                     then exactly the rows it holds, in one transaction. Without --yes\n"
    "                     it prints the plan and exits 2\n"
    "                     On a Connec! target (mongodb://) it deletes the tenant's documents:\n"
    "                     the final archive first, then by _id from it in batches under a\n"
    "                     journal (collection mno_live_journal): a rerun after an interruption\n"
    "                     finishes it\n"
    "  --yes              do the --destroy\n"
    "  --hub URI          --destroy on Connec!: the old MnoHub, where the tenant must be frozen\n"
    "                     (its organizations come from it; default: $MNO_HUB)\n"
    "  --orgs-from FILE   --destroy on Connec!, instead of --hub: the final archive of the\n"
    "                     MnoHub's --destroy (the tenant was frozen, then destroyed)\n"
    "  --batch N          --destroy on Connec!: documents per delete (default 1000)\n"
    "  --frozen-by FILE   --destroy: the freeze's undo archive (the source is re-checked as it\n"
    "                     was before the freeze)\n"
    "  --final-archive FILE  --destroy: where the final archive goes (default:\n"
    "                     mno-freeze-TENANT-YYYYMMDDTHHMMSSZ.final.mnoa here); never overwritten\n"
    "  --rules FILE       the rules (default: SCOPEDIR/freeze.rules)\n"
    "  --scope FILE       the scope (default: SCOPEDIR/mnohub.scope); SCOPEDIR is\n"
    "                     $MNO_SCOPE_DIR, else the filters/ directory beside the tools\n"
    "  --json             the report as one JSON object (counts per table)\n"
    "  --help, --version\n"
    "\n"
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
        {"target", required_argument, 0, 'T'}, {"tenant", required_argument, 0, 't'},
        {"plan", no_argument, 0, 'P'},         {"undo-file", required_argument, 0, 'u'},
        {"unfreeze", required_argument, 0, 'U'}, {"rules", required_argument, 0, 'r'},
        {"verified", required_argument, 0, 'v'}, {"destroy", no_argument, 0, 'D'},
        {"yes", no_argument, 0, 'y'},          {"frozen-by", required_argument, 0, 'F'},
        {"final-archive", required_argument, 0, 'A'}, {"connec", required_argument, 0, 'C'},
        {"hub", required_argument, 0, 'H'},    {"orgs-from", required_argument, 0, 'O'},
        {"batch", required_argument, 0, 'B'},
        {"scope", required_argument, 0, 'S'},  {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    mno_live_cfg c = MNO_LIVE_CFG_INIT;
    char scope_dir[PATH_MAX], msg[300];
    const char *undo = NULL;
    int plan = 0, json = 0, yes = 0, ch, status = 2;
    mno_error e;
    mno_live *l = NULL;
    mno_buf b = MNO_BUF_INIT;
    mno_error_clear(&e);
    c.tool = TOOL;
    const char *reports[64];
    c.action = "freeze";
    c.rules_name = "freeze.rules";
    c.verified = 1;
    c.reports = reports;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", lopts, NULL)) != -1) {
        switch (ch) {
        case 'T': c.target = optarg; break;
        case 't': c.tenant = optarg; break;
        case 'P': plan = 1; break;
        case 'u': c.undo_file = optarg; break;
        case 'U': undo = optarg; break;
        case 'r': c.rules_path = optarg; break;
        case 'S': c.scope_path = optarg; break;
        case 'j': json = 1; break;
        case 'D': c.destroy = 1; break;
        case 'y': yes = 1; break;
        case 'F': c.frozen_by = optarg; break;
        case 'A': c.final_file = optarg; break;
        case 'C': c.connec = optarg; break;
        case 'H': c.hub = optarg; break;
        case 'O': c.orgs_from = optarg; break;
        case 'B': {
            char *end;
            errno = 0;
            c.batch = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || c.batch < 1 || c.batch > 100000)
                return usage_error("--batch: expected a number from 1 to 100000");
            break;
        }
        case 'v':
            if (c.nreports == sizeof reports / sizeof reports[0])
                return usage_error("too many --verified reports");
            reports[c.nreports++] = optarg;
            break;
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
    if (undo && (c.tenant || plan || c.undo_file || c.nreports || c.destroy))
        return usage_error("--unfreeze FILE goes with --target only");
    if (!c.destroy && (yes || c.frozen_by || c.final_file))
        return usage_error("--yes, --frozen-by and --final-archive go with --destroy");
    if (c.destroy && c.undo_file)
        return usage_error("--undo-file does not go with --destroy (--final-archive FILE)");
    if (!c.destroy && (c.hub || c.orgs_from || c.batch))
        return usage_error("--hub, --orgs-from and --batch go with --destroy (on a Connec! target)");
    if (c.destroy && c.connec)
        return usage_error("--connec does not go with --destroy (the Connec! documents are destroyed by "
                           "mno-freeze --destroy --target CONNEC_URI)");
    if (undo && c.connec)
        return usage_error("--unfreeze FILE goes with --target only");
    if (c.hub && c.orgs_from)
        return usage_error("give either --hub URI or --orgs-from FILE, not both");
    int mongo_target = strncmp(c.target, "mongodb://", 10) == 0 || strncmp(c.target, "mongodb+srv://", 14) == 0;
    if (mongo_target && c.destroy && !c.hub && !c.orgs_from && getenv("MNO_HUB") && *getenv("MNO_HUB"))
        c.hub = getenv("MNO_HUB");
    if (!mongo_target && !c.destroy && !undo && !c.connec && getenv("MNO_CONNEC") && *getenv("MNO_CONNEC"))
        c.connec = getenv("MNO_CONNEC");
    /* test hook: the crash tests (docs/live.md) */
    const char *kill_after = getenv("MNO_TEST_DESTROY_KILL");
    if (kill_after && *kill_after)
        c.kill_after = strtol(kill_after, NULL, 10);
    if (!undo && (!c.tenant || !*c.tenant))
        return usage_error("no tenant: give --tenant NAME");
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
    if (mno_live_open(&l, &c, &e) < 0)
        goto fail;
    if (c.destroy) {
        if (!mno_live_destroy_pending(l)) {
            status = mno_live_destroy_report(l, json, 0, &b) < 0 || put(&b) < 0 ? 2 : 0;
            goto done;
        }
        if (plan || !yes) {
            if (mno_live_destroy_report(l, json, 1, &b) < 0 || put(&b) < 0)
                goto done;
            if (!plan) {
                fprintf(stderr, TOOL ": error: --destroy deletes the %lld %s above: give --yes to do it; nothing was changed\n",
                        mno_live_destroy_total(l), mno_live_destroy_unit(l));
                goto done;
            }
            status = 0;
            goto done;
        }
        if (mno_live_destroy(l, &e) < 0)
            goto fail;
        status = mno_live_destroy_report(l, json, 0, &b) < 0 || put(&b) < 0 ? 2 : 0;
        goto done;
    }
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
    status = 0;
    goto done;
fail:
    fprintf(stderr, TOOL ": error: %s\n", e.msg);
done:
    mno_buf_release(&b);
    mno_live_free(l);
    return status;
}
