/* mno-disconnect: clears a tenant's app and connector OAuth credentials and disables its syncs, per filters/disconnect.rules, keeping an undo archive (docs/live.md). */
#include <stdio.h>
#include "live.h"
#include "outfile.h"

#define TOOL "mno-disconnect"

static const char usage[] =
    "usage: mno-disconnect --target URI --tenant NAME [--plan] [options]\n"
    "       mno-disconnect --target URI --undo FILE\n"
    "Clears every OAuth connection of the tenant's organizations so that no app syncs while\n"
    "the tenant is copied: in MnoHub its app instances' OAuth keys (marked invalid), in a\n"
    "connector database its organizations' OAuth columns and sync_enabled, as\n"
    "disconnect.rules says. The prior values go first into an undo archive (mode 0600: it\n"
    "holds the tokens); then one transaction. --undo FILE reconnects.\n"
    "\n"
    "  --target URI       the MnoHub or connector database (postgresql://...; default: $MNO_TARGET)\n"
    "  --tenant NAME      the tenant (MnoHub tenants.name or id; a connector's tenant column)\n"
    "  --plan             print per table the statement and the rows it would change\n"
    "                     (NS TAB STATEMENT TAB ROWS); change nothing\n"
    "  --undo-file FILE   where the undo archive goes (default:\n"
    "                     mno-disconnect-TENANT-YYYYMMDDTHHMMSSZ.undo.mnoa here); never overwritten\n"
    "  --undo FILE        put the prior values of FILE back; refused (exit 2, keys named) when\n"
    "                     a row was changed by someone else since\n"
    "  --rules FILE       the rules (default: SCOPEDIR/disconnect.rules)\n"
    "  --scope FILE       the scope (default: SCOPEDIR/KIND.scope); SCOPEDIR is\n"
    "                     $MNO_SCOPE_DIR, else the filters/ directory beside the tools\n"
    "  --json             the report as one JSON object (counts per table)\n"
    "  --help, --version\n"
    "\n"
    "A second run changes nothing and says so. Credentials are never printed.\n"
    "Exit status: 0 done (or nothing to change), 2 an error (nothing changed).\n";

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
