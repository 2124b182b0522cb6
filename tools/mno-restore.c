/* mno-restore: applies an archive to a target database, each section atomic, resumable after a crash (docs/restore.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "args.h"
#include "restore.h"

static const char usage[] =
    "usage: mno-restore --target URI [options] [FILE|-]\n"
    "Applies an mnoa archive (plain or zstd, from FILE or stdin) to the target database,\n"
    "section by section. Every section's count and sum are checked as it is read; a section\n"
    "is committed only after its end line checked out, in one transaction with its entry in\n"
    "the target's restore journal. Rows whose keys are already in the target are never\n"
    "overwritten: the section is refused and nothing of it is written.\n"
    "\n"
    "  --target URI     the target (postgresql://... or mongodb://...); default $MNO_TARGET\n"
    "  --create         create missing tables/collections from the archive's definitions:\n"
    "                   PostgreSQL tables from their columns and key, or with the archive's\n"
    "                   own ddl when the archive is authenticated (MNO_ARCHIVE_KEY or\n"
    "                   MNO_ARCHIVE_KEY_FILE, a FILE checked first)\n"
    "  --trust-archive  --create runs the archive's ddl even when it is not authenticated\n"
    "  --disable-triggers  PostgreSQL: the target's triggers, foreign keys' checks\n"
    "                   included, do not fire on the restored rows (each section's\n"
    "                   transaction in replica mode; needs a superuser, or SET granted on\n"
    "                   session_replication_role)\n"
    "  --resume         skip the sections an earlier, interrupted restore of this archive\n"
    "                   committed (checked against the journal's count and sum)\n"
    "  --dry-run        read and check the whole archive; report per section what would be\n"
    "                   written (table there, rows, conflicting keys); write nothing\n"
    "  --no-check-first a FILE is not read and checked whole before anything is written\n"
    "                   (by default it is, so that a corrupt or truncated archive changes\n"
    "                   nothing; stdin is checked section by section as it streams)\n"
    "  -j N             restore N sections at a time (1-64, default 1), each on its own\n"
    "                   connection; a section waits for the sections before it that it is\n"
    "                   linked to (pg: foreign keys); needs a FILE (not stdin)\n"
    "  --progress       progress on stderr even when it is not a terminal\n"
    "  --quiet          no progress and no summary (errors are still printed)\n"
    "  --help           this text\n"
    "  --version        the version\n"
    "\n"
    "Exit status: 0 restored (or, with --dry-run, would restore), 2 an error: the message\n"
    "names the input, line and section; the section in flight is rolled back.\n";

struct opts {
    mno_restore_cfg c;
    int progress;   /* 1 forced, 0 when stderr is a terminal, -1 quiet */
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-restore: error: %s\ntry 'mno-restore --help'\n", msg);
    return 2;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"target", required_argument, 0, 'T'}, {"create", no_argument, 0, 'c'},
        {"resume", no_argument, 0, 'r'},       {"dry-run", no_argument, 0, 'n'},
        {"no-check-first", no_argument, 0, 'F'}, {"trust-archive", no_argument, 0, 't'},
        {"jobs", required_argument, 0, 'j'},   {"progress", no_argument, 0, 'P'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {"disable-triggers", no_argument, 0, 'D'},
        {0, 0, 0, 0}};
    int c;
    char msg[300];
    opterr = 0;
    o->c.jobs = 1;
    while ((c = getopt_long(argc, argv, ":j:q", lopts, NULL)) != -1) {
        switch (c) {
        case 'T': o->c.target = optarg; break;
        case 'c': o->c.create = 1; break;
        case 'r': o->c.resume = 1; break;
        case 'n': o->c.dry_run = 1; break;
        case 'F': o->c.no_check_first = 1; break;
        case 't': o->c.trust_archive = 1; break;
        case 'D': o->c.disable_triggers = 1; break;
        case 'j': {
            long v;
            if (mno_parse_long(optarg, 1, MNO_RESTORE_MAX_JOBS, &v) < 0)
                return usage_error("-j: expected a number from 1 to 64");
            o->c.jobs = (int)v;
            break;
        }
        case 'P':
        case 'q':
            if (o->progress && o->progress != (c == 'P' ? 1 : -1))
                return usage_error("give at most one of --progress and --quiet");
            o->progress = c == 'P' ? 1 : -1;
            break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("mno-restore %s\n", MNO_VERSION_STR); exit(0);
        case ':':
            snprintf(msg, sizeof msg, "option '%s' needs a value", argv[optind - 1]);
            return usage_error(msg);
        default:
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return usage_error(msg);
        }
    }
    if (optind < argc)
        o->c.input = argv[optind++];
    if (optind < argc)
        return usage_error("more than one archive: give one FILE or - for stdin");
    if (!o->c.target)
        o->c.target = getenv("MNO_TARGET");
    if (!o->c.target || !*o->c.target)
        return usage_error("no target: give --target URI or set MNO_TARGET");
    if (o->c.trust_archive && !o->c.create)
        return usage_error("--trust-archive goes with --create");
    if (o->c.disable_triggers && mno_engine_for_uri(o->c.target) != &mno_engine_pg)
        return usage_error("--disable-triggers goes with a postgresql target");
    if (o->c.dry_run && o->c.resume)
        return usage_error("--dry-run and --resume do not go together (a dry run reports journaled sections anyway)");
    if (!o->c.input && isatty(0))
        return usage_error("no archive: give FILE, or - to read stdin");
    if (o->c.jobs > 1 && (!o->c.input || strcmp(o->c.input, "-") == 0)) {
        snprintf(msg, sizeof msg, "-j %d: parallel restore from standard input is not supported: "
                 "give the archive as a FILE", o->c.jobs);
        return usage_error(msg);
    }
    if (o->progress == 0)
        o->progress = isatty(2) ? 1 : 0;
    /* the test-only crash point (docs/restore.md) */
    o->c.kill_at = getenv("MNO_TEST_RESTORE_KILL");
    return 0;
}

static const char *human(unsigned long long n, char *out, size_t sz)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, sz, "%llu B", n);
    else
        snprintf(out, sz, "%.1f %s", v, unit[u]);
    return out;
}

/* Progress rows as mno-dump prints them: on a terminal the section's row is redrawn in
   place (at most 5 times a second); elsewhere (--progress) one row per section. */
struct prog {
    int tty;
    double last;
};

static void on_progress(void *arg, const mno_restore_stats *st)
{
    struct prog *p = arg;
    char b[32];
    if (st->event == MNO_REV_DONE) {
        if (p->tty)
            fputs("\r\033[K", stderr);
        return;
    }
    if (st->event != MNO_REV_END && (!p->tty || st->seconds - p->last < 0.2))
        return;
    p->last = st->seconds;
    double rate = st->seconds > 0 ? (double)st->records / st->seconds : 0;
    char ns[MNO_NAME_MSG_MAX];
    fprintf(stderr, "%s[%llu] %s: %llu rows, %s, %.1f s, %.0f rows/s%s",
            p->tty ? "\r\033[K" : "", (unsigned long long)st->sec_index, mno_name_msg(st->ns, ns, sizeof ns),
            (unsigned long long)st->sec_records, human(st->sec_bytes, b, sizeof b), st->seconds, rate,
            st->event == MNO_REV_END || !p->tty ? "\n" : "");
    fflush(stderr);
}

/* Dry run: one line per section on stdout. */
static void dry_report(const mno_restore_result *res)
{
    printf("dry run: nothing written to %s\n", res->target);
    for (size_t i = 0; i < res->n; i++) {
        const mno_rsection *s = &res->secs[i];
        const mno_restore_probe *p = &s->probe;
        char ns[MNO_NAME_MSG_MAX], keys[sizeof p->keys * 4];
        printf("%s\t%llu\t", mno_name_msg(s->ns, ns, sizeof ns), (unsigned long long)s->count);
        if (s->status == MNO_RSEC_SKIPPED)
            printf("already restored from this archive (journal): skipped with --resume\n");
        else if (s->note[0])
            printf("would fail: %s\n", s->note);
        else if (!s->probed)
            printf("checked\n");
        else if (!p->exists)
            printf("missing: would be created (--create)\n");
        else if (p->conflicts > 0)
            printf("exists, %lld rows: %lld keys already there: %s: would be refused\n",
                   p->rows, p->conflicts, mno_text_msg(p->keys, keys, sizeof keys));
        else
            printf("exists, %lld rows: would be written\n", p->rows);
    }
}

static void summary(const mno_restore_result *res, int dry)
{
    const mno_restore_stats *st = &res->st;
    char b[32], bi[32];
    unsigned long long secs = st->sections - st->sections_skipped;
    unsigned long long recs = st->records - st->records_skipped;
    fprintf(stderr, "mno-restore: %s %llu section%s, %llu records",
            dry ? "checked" : "restored", secs, secs == 1 ? "" : "s", recs);
    if (st->sections_skipped)
        fprintf(stderr, "; skipped %llu already restored (%llu records)",
                (unsigned long long)st->sections_skipped, (unsigned long long)st->records_skipped);
    fprintf(stderr, "; %s read (%s from the input) in %.2f s into %s\n",
            human(st->bytes, b, sizeof b), human(st->bytes_in, bi, sizeof bi), st->seconds, res->target);
}

/* --create: why the archive's schema was not run, also after an error (and with --quiet:
   the tables lack what the schema would have made). */
static void schema_note(const mno_restore_result *res)
{
    char esc[sizeof res->schema_note * 6];
    if (res->schema_note[0])
        fprintf(stderr, "mno-restore: note: %s\n", mno_text_msg(res->schema_note, esc, sizeof esc));
}

int main(int argc, char **argv)
{
    struct opts o;
    mno_restore_result res;
    mno_error e;
    int status;
    memset(&o, 0, sizeof o);
    mno_error_clear(&e);
    mno_restore_result_init(&res);
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    struct prog pr = {isatty(2), -1};
    int tty = pr.tty;
    if (o.progress > 0) {
        o.c.progress = on_progress;
        o.c.progress_arg = &pr;
    }
    if (mno_restore(&o.c, &res, &e) < 0) {
        if (o.progress > 0 && tty)
            fputs("\r\033[K", stderr);
        if (o.c.dry_run && res.n > 0 && (e.code == MNO_E_USAGE || e.code == MNO_E_CONFLICT))
            dry_report(&res);
        fflush(stdout);
        mno_redact_error(&e, o.c.target);   /* no credential in a message, whoever wrote it */
        fprintf(stderr, "mno-restore: error: %s\n", e.msg);
        if (!o.c.dry_run && res.n > 0 && res.secs[res.n - 1].rolled_back &&
            res.secs[res.n - 1].status == MNO_RSEC_FAILED) {
            size_t done = 0, earlier = 0, stopped = 0;
            char by[64] = "", inflight[96] = "";
            for (size_t i = 0; i + 1 < res.n; i++) {
                done += res.secs[i].status == MNO_RSEC_RESTORED || res.secs[i].status == MNO_RSEC_SKIPPED;
                earlier += res.secs[i].status == MNO_RSEC_SKIPPED;
                stopped += res.secs[i].status == MNO_RSEC_STOPPED;
            }
            if (earlier)
                snprintf(by, sizeof by, ", %zu of them by an earlier run", earlier);
            if (stopped)
                snprintf(inflight, sizeof inflight, "; %zu other section%s in flight rolled back", stopped,
                         stopped == 1 ? "" : "s");
            /* -j N: the sections restored need not come before it in the archive; with
               none restored there is nothing for --resume to finish */
            char ns[MNO_NAME_MSG_MAX];
            mno_name_msg(res.secs[res.n - 1].ns, ns, sizeof ns);
            if (done == 0)
                fprintf(stderr, "mno-restore: section %s rolled back: nothing of it was written; "
                        "no %ssection was restored%s\n", ns, o.c.jobs > 1 ? "other " : "", inflight);
            else
                fprintf(stderr, "mno-restore: section %s rolled back: nothing of it was written; "
                        "%zu %s restored%s%s (journaled: --resume finishes)\n", ns, done,
                        o.c.jobs > 1 ? (done == 1 ? "other section" : "other sections")
                                     : (done == 1 ? "section before it" : "sections before it"),
                        by, inflight);
        }
        schema_note(&res);
        status = 2;
        goto done;
    }
    if (o.c.dry_run) {
        dry_report(&res);
        fflush(stdout);
    }
    if (o.progress >= 0)
        summary(&res, o.c.dry_run);
    if (res.ddl_skipped)   /* printed even with --quiet: the tables are not what the ddl says */
        fprintf(stderr, "mno-restore: note: %u table%s created from the archive's columns and key only; "
                "its ddl was not run: the archive is not authenticated (MNO_ARCHIVE_KEY, a FILE checked "
                "first) and --trust-archive was not given\n", res.ddl_skipped, res.ddl_skipped == 1 ? "" : "s");
    schema_note(&res);
    status = 0;
done:
    mno_restore_result_release(&res);
    return status;
}
