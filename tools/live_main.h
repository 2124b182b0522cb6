/* live_main.h: the main of the live-environment tools (mno-disconnect, mno-rename-tenant,
   mno-freeze): their options are parsed and run by lib/driver/live_args.c; the tool prints. */
#ifndef MNO_TOOLS_LIVE_MAIN_H
#define MNO_TOOLS_LIVE_MAIN_H

#include <stdio.h>
#include "live.h"
#include "outfile.h"

/* Writes to stdout (fd 1) or stderr (fd 2). */
static int live_out(void *arg, int fd, const char *p, size_t n)
{
    FILE *f = fd == 2 ? stderr : stdout;
    (void)arg;
    return fwrite(p, 1, n, f) != n || fflush(f) != 0 ? -1 : 0;
}

/* Parses argv for the tool, prints its usage/version or runs it. Returns the exit status. */
static int live_main(const char *tool, const char *usage, int argc, char **argv)
{
    mno_live_args a;
    mno_error e;
    char msg[300];
    switch (mno_live_args_parse(&a, tool, argc, argv, msg, sizeof msg)) {
    case 0: break;
    case MNO_LIVE_ARGS_HELP: fputs(usage, stdout); return 0;
    case MNO_LIVE_ARGS_VERSION: printf("%s %s\n", tool, MNO_VERSION_STR); return 0;
    default: fprintf(stderr, "%s: error: %s\ntry '%s --help'\n", tool, msg, tool); return 2;
    }
    mno_error_clear(&e);
    mno_outfile_catch_signals(); /* a signal removes the undo or final archive's temporary file */
    if (mno_live_cli_run(&a, live_out, NULL, &e) < 0) {
        fprintf(stderr, "%s: error: %s\n", tool, e.msg);
        return 2;
    }
    return 0;
}

#endif
