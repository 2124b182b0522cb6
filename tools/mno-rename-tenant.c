/* mno-rename-tenant: renames a tenant in place in a connector database (the scope's root columns), in one transaction, refusing uid collisions and keeping an undo archive (docs/live.md). */
#include <stdio.h>
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
