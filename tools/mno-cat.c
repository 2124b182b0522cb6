/* mno-cat: lists, prints, checks and seals mnoa archives (docs/format.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "outfile.h"
#include "buf.h"
#include "filter.h"
#include "stream.h"

static const char usage[] =
    "usage: mno-cat [options] FILE|-\n"
    "Reads an mnoa archive (plain or zstd, detected by its magic number) and checks it as it\n"
    "reads: every section's count and sum, the trailer, the order of the lines.\n"
    "\n"
    "  (no mode)        print the archive uncompressed\n"
    "  --header         print the header line\n"
    "  --list           one line per section: ns, count, sum, ok|BAD (tab-separated); an\n"
    "                   archive a filter wrote first says its chain (\"# filters: ...\")\n"
    "  --records        print the record lines (JSON Lines, uncompressed)\n"
    "    --ns NS        only the records of section NS\n"
    "  --check          verify every count and sum and the trailer; print a summary\n"
    "  --seal           recompute every count and sum and the trailer and write the\n"
    "                   archive (after a deliberate edit with jq or sed)\n"
    "    -o FILE        write to FILE (default stdout): a new file (mode 0600) that\n"
    "                   replaces FILE only when complete (a symbolic link FILE is\n"
    "                   replaced, never written through)\n"
    "    -z             compress with zstd (implied by a FILE ending in .zst)\n"
    "    --level N      zstd level (default 3)\n"
    "    --threads N    zstd worker threads (default 0: one compressing thread)\n"
    "  --max-line N     longest line accepted, in bytes (default 268435456)\n"
    "  --help           this text\n"
    "  --version        the version\n"
    "\n"
    "Exit status: 0 the archive holds, 2 an error (the message names the input, line and\n"
    "section).\n";

enum mode { M_CAT, M_HEADER, M_LIST, M_RECORDS, M_CHECK, M_SEAL };

struct opts {
    enum mode mode;
    const char *input, *output, *ns;
    int zstd, level, threads;
    size_t max_line;
};

static int fail(const mno_error *e)
{
    fprintf(stderr, "mno-cat: error: %s\n", e->msg);
    return 2;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mno-cat: error: %s\n%s", msg, "try 'mno-cat --help'\n");
    return 2;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lopts[] = {
        {"header", no_argument, 0, 'H'}, {"list", no_argument, 0, 'l'},
        {"records", no_argument, 0, 'r'}, {"ns", required_argument, 0, 'n'},
        {"check", no_argument, 0, 'c'}, {"seal", no_argument, 0, 's'},
        {"output", required_argument, 0, 'o'}, {"level", required_argument, 0, 'L'},
        {"threads", required_argument, 0, 'T'}, {"max-line", required_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c, modes = 0, packing = 0;
    long v;
    char msg[300];
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:z", lopts, NULL)) != -1) {
        switch (c) {
        case 'H': o->mode = M_HEADER; modes++; break;
        case 'l': o->mode = M_LIST; modes++; break;
        case 'r': o->mode = M_RECORDS; modes++; break;
        case 'c': o->mode = M_CHECK; modes++; break;
        case 's': o->mode = M_SEAL; modes++; break;
        case 'n': o->ns = optarg; break;
        case 'o': o->output = optarg; packing = 1; break;
        case 'z': o->zstd = 1; packing = 1; break;
        case 'L':
            if (mno_parse_long(optarg, -131072, 22, &v) < 0)
                return usage_error("--level: expected a zstd level up to 22");
            o->level = (int)v;
            packing = 1;
            break;
        case 'T':
            if (mno_parse_long(optarg, 0, 200, &v) < 0)
                return usage_error("--threads: expected a number from 0 to 200");
            o->threads = (int)v;
            packing = 1;
            break;
        case 'M':
            if (mno_parse_long(optarg, 1, 1L << 40, &v) < 0)
                return usage_error("--max-line: expected a positive number of bytes");
            o->max_line = (size_t)v;
            break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("mno-cat %s\n", MNO_VERSION_STR); exit(0);
        case ':':
            snprintf(msg, sizeof msg, "option '%s' needs a value", argv[optind - 1]);
            return usage_error(msg);
        default:
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return usage_error(msg);
        }
    }
    if (modes > 1)
        return usage_error("give at most one of --header, --list, --records, --check, --seal");
    if (o->ns && o->mode != M_RECORDS)
        return usage_error("--ns goes with --records");
    if (packing && o->mode != M_SEAL)
        return usage_error("-o, -z, --level and --threads go with --seal");
    if (optind + 1 != argc)
        return usage_error(optind == argc ? "no input (give FILE, or - for stdin)" : "one input only");
    o->input = argv[optind];
    return 0;
}

static int print_line(const mno_item *it)
{
    return fwrite(it->line, 1, it->len, stdout) == it->len && putchar('\n') != EOF ? 0 : -1;
}

/* --list: what covers the archive's metadata (docs/format.md 4.1), as notes on stderr. */
static void list_notes(const mno_reader *r, const char *input)
{
    if (mno_reader_version(r) == 1)
        fprintf(stderr, "mno-cat: note: %s: version 1: metadata (header and begin lines) not covered by a digest\n",
                input);
    switch (mno_reader_auth(r)) {
    case MNO_AUTH_OK:
        fprintf(stderr, "mno-cat: note: %s: authenticated: its \"mac\" matches MNO_ARCHIVE_KEY\n", input);
        break;
    case MNO_AUTH_NOKEY:
        fprintf(stderr, "mno-cat: note: %s: has a \"mac\", not checked (no MNO_ARCHIVE_KEY)\n", input);
        break;
    case MNO_AUTH_BAD:
        fprintf(stderr, "mno-cat: note: %s: its \"mac\" does not match MNO_ARCHIVE_KEY\n", input);
        break;
    default:
        break;
    }
}

/* --list: a filtered archive's chain first, as "# " lines (the section lines stay as they are). */
static int list_chain(const json_t *h)
{
    mno_buf b = MNO_BUF_INIT;
    const json_t *from = json_object_get(h, "derived_from");
    int n = mno_filter_chain_text(h, &b), rc = 0;
    if (n < 0)
        rc = -1;
    else if (n > 0)
        rc = printf("# filters: %s\n# derived from archive %s\n", b.data,
                    json_is_string(json_object_get(from, "id")) ? json_string_value(json_object_get(from, "id")) : "(no id)") < 0
                 ? -1 : 0;
    mno_buf_release(&b);
    return rc;
}

/* Reads the whole archive; per mode prints lines. Returns the exit status. */
static int run_read(const struct opts *o, mno_in *in)
{
    mno_error e = {0};
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.verify = o->mode != M_LIST;
    ro.max_line = o->max_line;
    mno_reader *r = mno_reader_new(in, &ro, &e);
    mno_item it;
    int n, status = 0, ns_seen = 0;
    long long bad_line = 0;
    int bad_meta = 0;
    char bad_ns[512] = "", hex[33];
    if (!r)
        return fail(&e);
    while ((n = mno_reader_next(r, &it, &e)) > 0) {
        int wr = 0;
        if (o->ns && it.kind == MNO_ITEM_BEGIN && strcmp(o->ns, it.section->ns) == 0)
            ns_seen = 1;
        if (o->mode == M_CAT)
            wr = print_line(&it);
        else if (o->mode == M_HEADER) {
            wr = print_line(&it);
            break;
        } else if (o->mode == M_RECORDS && it.kind == MNO_ITEM_REC &&
                   (!o->ns || strcmp(o->ns, it.section->ns) == 0))
            wr = print_line(&it);
        else if (o->mode == M_LIST && it.kind == MNO_ITEM_HEADER)
            wr = list_chain(it.obj);
        else if (o->mode == M_LIST && it.kind == MNO_ITEM_END) {
            char ns[4096];   /* escaped: a name never forges a line */
            printf("%s\t%llu\t%s\t%s\n", mno_text_msg(it.section->ns, ns, sizeof ns),
                   (unsigned long long)it.declared_count,
                   mno_sum_hex(&it.declared_sum, hex), it.sum_ok ? "ok" : "BAD");
            if (!it.sum_ok && !bad_line) {
                bad_line = it.lineno;
                bad_meta = !it.meta_ok;
                snprintf(bad_ns, sizeof bad_ns, "%s", it.section->ns);
            }
        } else if (o->mode == M_LIST && it.kind == MNO_ITEM_TRAILER && !it.sum_ok && !bad_line) {
            bad_line = it.lineno;
            bad_meta = !it.meta_ok;
        }
        if (wr < 0 || ferror(stdout)) {
            fprintf(stderr, "mno-cat: error: <stdout>: write error\n");
            status = 2;
            goto done;
        }
    }
    if (n < 0) {
        status = fail(&e);
        goto done;
    }
    if (o->ns && !ns_seen) {
        mno_err(&e, MNO_E_USAGE, mno_in_name(in), 0, NULL, "no section '%s' in the archive (mno-cat --list names them)",
                o->ns);
        status = fail(&e);
        goto done;
    }
    if (o->mode == M_LIST)
        list_notes(r, mno_in_name(in));
    if (bad_line) {
        mno_err(&e, MNO_E_CORRUPT, mno_in_name(in), bad_line, bad_ns, "%s",
                *bad_ns ? (bad_meta ? "the begin line does not match the end line's \"begin_sha256\" (changed "
                                      "without mno-cat --seal)"
                                    : "count or sum does not match the records")
                        : bad_meta ? "the header or the \"mac\" does not match the trailer (changed without mno-cat --seal)"
                                   : "trailer does not match the sections");
        status = fail(&e);
    }
done:
    mno_reader_free(r);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "mno-cat: error: <stdout>: write error\n");
        status = 2;
    }
    return status;
}

/* --check: the whole archive checked by the sums-only reader (mno-restore's check pass);
   the totals printed once the end of input is seen (nothing may follow the trailer). */
static int run_check(const struct opts *o, mno_in *in)
{
    mno_error e = {0};
    mno_check_result res;
    char hex[33];
    if (mno_stream_check(in, o->max_line, &res, &e) < 0)
        return fail(&e);
    printf("ok: %llu sections, %llu records, sum %s\n", (unsigned long long)res.sections,
           (unsigned long long)res.count, mno_sum_hex(&res.sum, hex));
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mno-cat: error: <stdout>: write error\n");
        return 2;
    }
    return 0;
}

static int run_seal(const struct opts *o, mno_in *in)
{
    mno_error e = {0};
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    size_t n = o->output ? strlen(o->output) : 0;
    oo.zstd = o->zstd || (n > 4 && strcmp(o->output + n - 4, ".zst") == 0);
    oo.level = o->level;
    oo.threads = o->threads;
    if (o->max_line)
        mno_in_set_max_line(in, o->max_line);
    mno_outfile_catch_signals(); /* a signal removes the temporary file */
    mno_out *out = mno_out_open(o->output, &oo, &e);
    if (!out)
        return fail(&e);
    if (mno_stream_seal(in, out, "mno-cat", &e) < 0) {
        mno_out_abort(out);
        return fail(&e);
    }
    if (mno_out_finish(out, &e) < 0)
        return fail(&e);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {M_CAT, NULL, NULL, NULL, 0, 3, 0, 0};
    mno_error e = {0};
    int status = parse_opts(argc, argv, &o);
    if (status)
        return status;
    mno_in *in = mno_in_open(o.input, &e);
    if (!in)
        return fail(&e);
    status = o.mode == M_SEAL ? run_seal(&o, in) : o.mode == M_CHECK ? run_check(&o, in) : run_read(&o, in);
    mno_in_close(in);
    return status;
}
