/* mno-freeze: freezes (or unfreezes) a tenant's customers on the old environment, only after verify reports prove its copy and the source still equals it (docs/live.md). */
#include <stdio.h>
#include "live.h"
#include "outfile.h"

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

/* Writes to stdout (fd 1) or stderr (fd 2). */
static int out(void *arg, int fd, const char *p, size_t n)
{
    FILE *f = fd == 2 ? stderr : stdout;
    (void)arg;
    return fwrite(p, 1, n, f) != n || fflush(f) != 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    mno_live_args a;
    mno_error e;
    char msg[300];
    switch (mno_live_args_parse(&a, TOOL, argc, argv, msg, sizeof msg)) {
    case 0: break;
    case MNO_LIVE_ARGS_HELP: fputs(usage, stdout); return 0;
    case MNO_LIVE_ARGS_VERSION: printf(TOOL " %s\n", MNO_VERSION_STR); return 0;
    default: fprintf(stderr, TOOL ": error: %s\ntry '" TOOL " --help'\n", msg); return 2;
    }
    mno_error_clear(&e);
    mno_outfile_catch_signals(); /* a signal removes the undo or final archive's temporary file */
    if (mno_live_cli_run(&a, out, NULL, &e) < 0) {
        fprintf(stderr, TOOL ": error: %s\n", e.msg);
        return 2;
    }
    return 0;
}
