/* live_args.c: the command line of the live-environment tools (mno-disconnect, mno-rename-tenant, mno-freeze; docs/live.md), parsed once, and the run it asks for, so that each tool is a thin main(). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "live.h"

/* Which tool takes an option. */
#define T_DISCONNECT 1
#define T_RENAME 2
#define T_FREEZE 4
#define T_ALL (T_DISCONNECT | T_RENAME | T_FREEZE)

static const struct {
    struct option o;
    int tools;
} opts[] = {
    {{"target", required_argument, 0, 'T'}, T_ALL},
    {{"tenant", required_argument, 0, 't'}, T_DISCONNECT | T_FREEZE},
    {{"from", required_argument, 0, 'f'}, T_RENAME},
    {{"to", required_argument, 0, 'o'}, T_RENAME},
    {{"merge", no_argument, 0, 'm'}, T_RENAME},
    {{"plan", no_argument, 0, 'P'}, T_ALL},
    {{"undo-file", required_argument, 0, 'u'}, T_ALL},
    {{"undo", required_argument, 0, 'U'}, T_DISCONNECT | T_RENAME},
    {{"unfreeze", required_argument, 0, 'U'}, T_FREEZE},
    {{"rules", required_argument, 0, 'r'}, T_ALL},
    {{"scope", required_argument, 0, 'S'}, T_ALL},
    {{"json", no_argument, 0, 'j'}, T_ALL},
    {{"verified", required_argument, 0, 'v'}, T_FREEZE},
    {{"connec", required_argument, 0, 'C'}, T_FREEZE},
    {{"destroy", no_argument, 0, 'D'}, T_FREEZE},
    {{"yes", no_argument, 0, 'y'}, T_FREEZE},
    {{"frozen-by", required_argument, 0, 'F'}, T_FREEZE},
    {{"final-archive", required_argument, 0, 'A'}, T_FREEZE},
    {{"hub", required_argument, 0, 'H'}, T_FREEZE},
    {{"orgs-from", required_argument, 0, 'O'}, T_FREEZE},
    {{"batch", required_argument, 0, 'B'}, T_FREEZE},
    {{"help", no_argument, 0, 'h'}, T_ALL},
    {{"version", no_argument, 0, 'V'}, T_ALL},
};

#define NOPTS (sizeof opts / sizeof opts[0])

static int usage(char *msg, size_t n, const char *fmt, const char *arg)
{
    snprintf(msg, n, fmt, arg);
    return -1;
}

static int is_mongo_uri(const char *s)
{
    return strncmp(s, "mongodb://", 10) == 0 || strncmp(s, "mongodb+srv://", 14) == 0;
}

int mno_live_args_parse(mno_live_args *a, const char *tool, int argc, char **argv, char *msg, size_t n)
{
    struct option lopts[NOPTS + 1];
    size_t k = 0;
    int which = strcmp(tool, "mno-disconnect") == 0      ? T_DISCONNECT
                : strcmp(tool, "mno-rename-tenant") == 0 ? T_RENAME
                : strcmp(tool, "mno-freeze") == 0        ? T_FREEZE
                                                          : 0;
    mno_live_cfg init = MNO_LIVE_CFG_INIT;
    memset(a, 0, sizeof *a);
    a->c = init;
    if (!which)
        return usage(msg, n, "%s: not a live tool", tool);
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].tools & which)
            lopts[k++] = opts[i].o;
    memset(&lopts[k], 0, sizeof lopts[k]);
    a->c.tool = tool;
    a->c.action = which == T_DISCONNECT ? "disconnect" : which == T_RENAME ? "rename" : "freeze";
    a->c.rules_name = which == T_DISCONNECT ? "disconnect.rules" : which == T_RENAME ? "rename.rules" : "freeze.rules";
    a->c.verified = which == T_FREEZE;
    a->c.reports = a->reports;
    const char *undo_opt = which == T_FREEZE ? "--unfreeze" : "--undo";
    int ch;
    opterr = 0;
    optind = 0;
    while ((ch = getopt_long(argc, argv, ":", lopts, NULL)) != -1) {
        switch (ch) {
        case 'T': a->c.target = optarg; break;
        case 't': case 'f': a->c.tenant = optarg; break;
        case 'o': a->c.to = optarg; break;
        case 'm': a->c.merge = 1; break;
        case 'P': a->plan = 1; break;
        case 'u': a->c.undo_file = optarg; break;
        case 'U': a->undo = optarg; break;
        case 'r': a->c.rules_path = optarg; break;
        case 'S': a->c.scope_path = optarg; break;
        case 'j': a->json = 1; break;
        case 'D': a->c.destroy = 1; break;
        case 'y': a->yes = 1; break;
        case 'F': a->c.frozen_by = optarg; break;
        case 'A': a->c.final_file = optarg; break;
        case 'C': a->c.connec = optarg; break;
        case 'H': a->c.hub = optarg; break;
        case 'O': a->c.orgs_from = optarg; break;
        case 'B': {
            char *end;
            errno = 0;
            a->c.batch = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || a->c.batch < 1 || a->c.batch > 100000)
                return usage(msg, n, "%s", "--batch: expected a number from 1 to 100000");
            break;
        }
        case 'v':
            if (a->c.nreports == sizeof a->reports / sizeof a->reports[0])
                return usage(msg, n, "%s", "too many --verified reports");
            a->reports[a->c.nreports++] = optarg;
            break;
        case 'h': return MNO_LIVE_ARGS_HELP;
        case 'V': return MNO_LIVE_ARGS_VERSION;
        case ':': return usage(msg, n, "option '%s' needs a value", argv[optind - 1]);
        default: return usage(msg, n, "unknown option '%s'", argv[optind - 1]);
        }
    }
    mno_live_cfg *c = &a->c;
    if (optind != argc)
        return usage(msg, n, "%s", "unexpected argument (options only; see --help)");
    if (!c->target)
        c->target = getenv("MNO_TARGET");
    if (!c->target || !*c->target)
        return usage(msg, n, "%s", "no target: give --target URI (or set MNO_TARGET)");
    if (a->undo && (c->tenant || c->to || c->merge || a->plan || c->undo_file || c->nreports || c->destroy ||
                    c->connec)) {
        snprintf(msg, n, "%s FILE goes with --target only", undo_opt);
        return -1;
    }
    if (which == T_RENAME) {
        if (!a->undo && (!c->tenant || !*c->tenant || !c->to || !*c->to))
            return usage(msg, n, "%s", "give --from OLD and --to NEW");
        if (!a->undo && strcmp(c->tenant, c->to) == 0)
            return usage(msg, n, "%s", "--from and --to are the same name");
    }
    if (which == T_FREEZE) {
        if (!c->destroy && (a->yes || c->frozen_by || c->final_file))
            return usage(msg, n, "%s", "--yes, --frozen-by and --final-archive go with --destroy");
        if (c->destroy && c->undo_file)
            return usage(msg, n, "%s", "--undo-file does not go with --destroy (--final-archive FILE)");
        if (!c->destroy && (c->hub || c->orgs_from || c->batch))
            return usage(msg, n, "%s", "--hub, --orgs-from and --batch go with --destroy (on a Connec! target)");
        if (c->destroy && c->connec)
            return usage(msg, n, "%s",
                         "--connec does not go with --destroy (the Connec! documents are destroyed by "
                         "mno-freeze --destroy --target CONNEC_URI)");
        if (c->hub && c->orgs_from)
            return usage(msg, n, "%s", "give either --hub URI or --orgs-from FILE, not both");
        const char *hub = getenv("MNO_HUB"), *connec = getenv("MNO_CONNEC");
        if (is_mongo_uri(c->target) && c->destroy && !c->hub && !c->orgs_from && hub && *hub)
            c->hub = hub;
        if (!is_mongo_uri(c->target) && !c->destroy && !a->undo && !c->connec && connec && *connec)
            c->connec = connec;
        /* test hook: the crash tests (docs/live.md) */
        const char *kill_after = getenv("MNO_TEST_DESTROY_KILL");
        if (kill_after && *kill_after)
            c->kill_after = strtol(kill_after, NULL, 10);
    }
    if (!a->undo && which != T_RENAME && (!c->tenant || !*c->tenant))
        return usage(msg, n, "%s", "no tenant: give --tenant NAME");
    mno_default_scope_dir(a->scope_dir, sizeof a->scope_dir);
    c->scope_dir = a->scope_dir;
    return 0;
}

/* ---- the run ---- */

static int put(mno_live_out out, void *arg, mno_buf *b, mno_error *e)
{
    int rc = out(arg, 1, b->data ? b->data : "", b->len);
    mno_buf_reset(b);
    return rc < 0 ? mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot write to stdout") : 0;
}

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

int mno_live_cli_run(const mno_live_args *a, mno_live_out out, void *arg, mno_error *e)
{
    const mno_live_cfg *c = &a->c;
    mno_live *l = NULL;
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    if (a->undo) {
        mno_live_undo_res res;
        if (mno_live_undo(c, a->undo, &res, e) < 0)
            goto done;
        rc = mno_live_undo_report(c, a->undo, &res, a->json, &b) < 0 ? nomem(e) : put(out, arg, &b, e);
        mno_live_undo_res_release(&res);
        goto done;
    }
    if (mno_live_open(&l, c, e) < 0)
        goto done;
    if (c->destroy) {
        if (!mno_live_destroy_pending(l)) {
            rc = mno_live_destroy_report(l, a->json, 0, &b) < 0 ? nomem(e) : put(out, arg, &b, e);
            goto done;
        }
        if (a->plan || !a->yes) {
            if (mno_live_destroy_report(l, a->json, 1, &b) < 0) {
                nomem(e);
                goto done;
            }
            if (put(out, arg, &b, e) < 0)
                goto done;
            if (!a->plan) {
                mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                        "--destroy deletes the %lld %s above: give --yes to do it; nothing was changed",
                        mno_live_destroy_total(l), mno_live_destroy_unit(l));
                goto done;
            }
            rc = 0;
            goto done;
        }
        if (mno_live_destroy(l, e) < 0)
            goto done;
        rc = mno_live_destroy_report(l, a->json, 0, &b) < 0 ? nomem(e) : put(out, arg, &b, e);
        goto done;
    }
    if (a->plan) {
        if ((a->json ? mno_live_report(l, 1, 1, 0, &b) : mno_live_plan_text(l, &b, e)) < 0) {
            if (a->json)
                nomem(e);
            goto done;
        }
        rc = put(out, arg, &b, e);
        goto done;
    }
    if (!a->json) {
        if (mno_live_report(l, 0, 0, 0, &b) < 0) {
            nomem(e);
            goto done;
        }
        if (put(out, arg, &b, e) < 0)
            goto done;
    }
    if (mno_live_run(l, e) < 0)
        goto done;
    if (a->json ? mno_live_report(l, 1, 0, 1, &b) < 0
                : mno_live_total(l) > 0 &&
                      mno_buf_addf(&b, "undo archive: %s\ndone: %lld rows changed in one transaction\n",
                                   mno_live_undo_file(l), mno_live_total(l)) < 0) {
        nomem(e);
        goto done;
    }
    if (put(out, arg, &b, e) < 0)
        goto done;
    /* rename: the checklist goes to stderr so that --json stays one object on stdout */
    if (c->to && (mno_live_total(l) > 0 || mno_live_renamed(l))) {
        if (mno_buf_addf(&b,
                         "%s: checklist: outside the database, move the webhook path "
                         "/maestrano/connec/notifications/%s to /maestrano/connec/notifications/%s and the "
                         "connector's tenant configuration (Maestrano[%s], cache key connec_version_%s) to the "
                         "new name; this tool cannot change them\n",
                         c->tool, c->tenant, c->to, c->to, c->to) < 0) {
            nomem(e);
            goto done;
        }
        out(arg, 2, b.data, b.len);
    }
    rc = 0;
done:
    mno_buf_release(&b);
    mno_live_free(l);
    return rc;
}
