/* mno-filter-select: keeps or leaves out whole sections of an archive by glob (docs/filters.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"
#include "outfile.h"

static const char usage[] =
    "usage: mno-filter-select [--only GLOB...] [--exclude GLOB...] [options] [FILE|-]\n"
    "Reads an mnoa archive (FILE, or stdin; plain or zstd), checking every count and sum, and\n"
    "writes a new sealed archive with the sections whose ns matches: every --only GLOB (any\n"
    "of them; none given: every section) and no --exclude GLOB. Kept sections are copied byte\n"
    "for byte; an archive left with no section is still valid.\n"
    "\n"
    "  --only GLOB      keep the sections matching GLOB (shell glob: * ? [..]); repeatable,\n"
    "                   and each may list several globs separated by commas\n"
    "  --exclude GLOB   leave out the sections matching GLOB; repeatable, commas as --only\n"
    MNO_FILTER_USAGE_OPTS
    "\n"
    "Exit status: 0 done, 2 an error (bad input: the message names the input, line and\n"
    "section; a FILE output is not left behind, stdout ends without a trailer).\n";

struct sel {
    char **only, **excl;
    size_t nonly, nexcl;
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-filter-select: error: %s\ntry 'mno-filter-select --help'\n", msg);
    return 2;
}

/* Appends the comma-separated globs of arg to *list (each its own copy). */
static int add_globs(char ***list, size_t *n, const char *arg)
{
    for (const char *p = arg;;) {
        size_t len = strcspn(p, ",");
        char **l = realloc(*list, (*n + 1) * sizeof *l);
        if (!l)
            return -1;
        *list = l;
        if (!(l[*n] = strndup(p, len)))
            return -1;
        (*n)++;
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

static void free_globs(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static int matches(char *const *globs, size_t n, const char *ns)
{
    for (size_t i = 0; i < n; i++)
        if (mno_filter_glob(globs[i], ns))
            return 1;
    return 0;
}

static int on_begin(void *arg, const mno_item *it, json_t **begin, mno_error *e)
{
    struct sel *s = arg;
    (void)begin;
    (void)e;
    const char *ns = it->section->ns;
    if ((s->nonly && !matches(s->only, s->nonly, ns)) || matches(s->excl, s->nexcl, ns))
        return MNO_FILTER_DROP;
    return MNO_FILTER_COPY;
}

#define FAIL_USAGE(msg) do { status = usage_error(msg); goto done; } while (0)

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"only", required_argument, 0, 'O'}, {"exclude", required_argument, 0, 'X'},
        MNO_FILTER_LONGOPTS};
    mno_filter_opts o = MNO_FILTER_OPTS_INIT;
    struct sel s = {0};
    mno_filter_ops ops = {0};
    mno_error e = {0};
    int c, status = 2;
    mno_filter_opts_init(&o, "mno-filter-select", argc, argv);
    opterr = 0;
    while ((c = getopt_long(argc, argv, MNO_FILTER_SHORTOPTS, lopts, NULL)) != -1) {
        int k = mno_filter_common_opt(&o, c, optarg, argv[optind - 1], &e);
        if (k < 0)
            FAIL_USAGE(e.msg);
        if (k > 0)
            continue;
        switch (c) {
        case 'O':
        case 'X': {
            if (add_globs(c == 'O' ? &s.only : &s.excl, c == 'O' ? &s.nonly : &s.nexcl, optarg) < 0) {
                fprintf(stderr, "mno-filter-select: error: out of memory\n");
                goto done;
            }
            break;
        }
        case 'h': fputs(usage, stdout); status = 0; goto done;
        case 'V': printf("mno-filter-select %s\n", MNO_VERSION_STR); status = 0; goto done;
        }
    }
    if (mno_filter_input(&o, argc, argv, optind, &e) < 0)
        FAIL_USAGE(e.msg);
    ops.arg = &s;
    ops.begin = on_begin;
    mno_outfile_catch_signals(); /* a signal removes the -o temporary file */
    if (mno_filter_run(&o, &ops, &e) < 0)
        fprintf(stderr, "mno-filter-select: error: %s\n", e.msg);
    else
        status = 0;
done:
    free_globs(s.only, s.nonly);
    free_globs(s.excl, s.nexcl);
    return status;
}
