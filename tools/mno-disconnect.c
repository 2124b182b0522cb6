/* mno-disconnect: clears a tenant's app and connector OAuth credentials and disables its syncs, per filters/disconnect.rules, keeping an undo archive (docs/live.md). */
#include "live_main.h"

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

int main(int argc, char **argv)
{
    return live_main(TOOL, usage, argc, argv);
}
