/* mno-rename-tenant: renames a tenant in place in a connector database (the scope's root columns), in one transaction, refusing uid collisions and keeping an undo archive (docs/live.md). */
#include "live_main.h"

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

int main(int argc, char **argv)
{
    return live_main(TOOL, usage, argc, argv);
}
