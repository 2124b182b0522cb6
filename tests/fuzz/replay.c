/*
 * replay.c: a fuzz target's driver without libFuzzer (gcc builds, make check): runs every
 * input of the given corpus directories or files, then deterministic mutations of them
 * (seeded: the same run every time) for -n rounds or -t seconds, whichever ends first.
 *
 *   fuzz_X-replay [-t SECONDS] [-n ROUNDS] [-s SEED] [-o FILE] CORPUS...
 *
 * -o FILE: each input is written there before it runs, so that the one a crash (an ASan or
 * UBSan report, a failed FUZZ_CHECK) stopped at is left for a test and a fix.
 * Exit status 0 when every input ran (a bug aborts), 2 on a usage or I/O error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "fuzz.h"

typedef struct input {
    uint8_t *p;
    size_t n;
} input;

static input *ins;
static size_t nins, capins;
static const char *save_to;

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *q = realloc(p, cap);
            if (!q)
                abort();
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    if (nins == capins) {
        capins = capins ? capins * 2 : 64;
        input *a = realloc(ins, capins * sizeof *a);
        if (!a)
            abort();
        ins = a;
    }
    ins[nins].p = p;
    ins[nins].n = n;
    nins++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's files in name order (the same run on every machine), or one file. */
static int add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return add_file(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        if (!names || asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
            abort();
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (add_file(names[i]) < 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

static void run(const uint8_t *p, size_t n)
{
    if (save_to) {
        FILE *f = fopen(save_to, "wb");
        if (f) {
            fwrite(p, 1, n, f);
            fclose(f);
        }
    }
    /* a copy of exactly n bytes: ASan sees any read past the end */
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, p, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
}

/* xorshift64*: deterministic, seeded */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Tokens that matter to the parsers: JSON structure, escapes, Extended JSON keys, line ends. */
static const char *const tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "\\ud800", "\\\"", "\n", "\r\n", "\t", " ",
    "null", "true", "-0", "1e400", "9223372036854775808", "\"t\":\"rec\"", "\"t\":\"begin\"",
    "\"t\":\"end\"", "\"ns\":", "\"v\":", "{\"$numberLong\":\"", "{\"$numberDouble\":\"NaN\"}",
    "{\"$numberDecimal\":\"", "{\"$oid\":\"", "{\"$binary\":{\"base64\":\"", "\"subType\":\"",
    "{\"$date\":", "{\"$regularExpression\":{\"pattern\":\"", "{\"$code\":\"", "\"$scope\":",
    "{\"$timestamp\":{\"t\":", "{\"$minKey\":1}", "{\"$dbPointer\":{\"$ref\":\"", "\"$id\":",
    "root ", "parent ", "uids ", "match ", " -> ", " when ", " at ", " json", " text", "#", "\xff",
    "\xc3\xa9", "\xe2\x80\xa8",
};

static size_t mutate(uint8_t *buf, size_t n, size_t cap)
{
    int k = 1 + (int)below(4);
    for (int i = 0; i < k; i++) {
        switch (below(8)) {
        case 0: /* flip a bit */
            if (n)
                buf[below(n)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* an interesting byte */
            if (n) {
                static const uint8_t v[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '{', '}', '\n', '0', '9', '-'};
                buf[below(n)] = v[below(sizeof v)];
            }
            break;
        case 2: { /* delete a range */
            if (!n)
                break;
            size_t at = below(n), len = 1 + below(n - at < 16 ? n - at : 16);
            memmove(buf + at, buf + at + len, n - at - len);
            n -= len;
            break;
        }
        case 3: { /* duplicate a range */
            if (!n)
                break;
            size_t at = below(n), len = 1 + below(n - at < 64 ? n - at : 64);
            if (n + len > cap)
                break;
            size_t to = below(n + 1);
            uint8_t tmp[64];
            memcpy(tmp, buf + at, len);
            memmove(buf + to + len, buf + to, n - to);
            memcpy(buf + to, tmp, len);
            n += len;
            break;
        }
        case 4:
        case 5: { /* insert a token */
            const char *t = tokens[below(sizeof tokens / sizeof *tokens)];
            size_t len = strlen(t), to = below(n + 1);
            if (n + len > cap)
                break;
            memmove(buf + to + len, buf + to, n - to);
            memcpy(buf + to, t, len);
            n += len;
            break;
        }
        case 6: { /* splice: the tail of another input */
            const input *o = &ins[below(nins)];
            if (!o->n)
                break;
            size_t at = below(n + 1), from = below(o->n), len = o->n - from;
            if (at + len > cap)
                len = cap - at;
            memcpy(buf + at, o->p + from, len);
            n = at + len;
            break;
        }
        default: { /* a digit changed: counts, lengths, numbers */
            for (size_t tries = 0; tries < 8 && n; tries++) {
                size_t at = below(n);
                if (buf[at] >= '0' && buf[at] <= '9') {
                    buf[at] = (uint8_t)('0' + below(10));
                    break;
                }
            }
            break;
        }
        }
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = 0;
    unsigned long long rounds = 0, seed = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        if (!strcmp(argv[i], "-t"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-n"))
            rounds = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-s"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-o"))
            save_to = argv[i + 1];
        else
            goto usage;
    }
    if (i >= argc)
        goto usage;
    for (; i < argc; i++)
        if (add_path(argv[i]) < 0) {
            fprintf(stderr, "replay: cannot read '%s': %s\n", argv[i], strerror(errno));
            return 2;
        }
    if (!nins) {
        fprintf(stderr, "replay: no inputs\n");
        return 2;
    }
    double t0 = now_s();
    for (size_t k = 0; k < nins; k++)
        run(ins[k].p, ins[k].n);
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    unsigned long long done = 0;
    if (!buf)
        abort();
    while ((rounds && done < rounds) || (!rounds && seconds > 0 && now_s() - t0 < seconds)) {
        if (rounds && seconds > 0 && now_s() - t0 >= seconds)
            break;
        const input *in = &ins[below(nins)];
        size_t n = in->n < cap ? in->n : cap;
        memcpy(buf, in->p, n);
        n = mutate(buf, n, cap);
        run(buf, n);
        done++;
    }
    free(buf);
    printf("replay: %zu inputs and %llu mutations in %.1f s\n", nins, done, now_s() - t0);
    for (size_t k = 0; k < nins; k++)
        free(ins[k].p);
    free(ins);
    return 0;
usage:
    fprintf(stderr, "usage: %s [-t SECONDS] [-n ROUNDS] [-s SEED] [-o FILE] CORPUS...\n", argv[0]);
    return 2;
}
