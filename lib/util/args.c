/* args.c: small command-line helpers the tools share (numbers, the default scope directory). */
#include "args.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mno_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* 1 when dir is a directory holding a *.scope file (build/san/filters, which holds the filter
   tools' objects, is not a scope directory). */
static int scope_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        found = l > 6 && strcmp(de->d_name + l - 6, ".scope") == 0;
    }
    closedir(d);
    return found;
}

void mno_default_scope_dir(char *out, size_t n)
{
    const char *env = getenv("MNO_SCOPE_DIR");
    char exe[PATH_MAX];
    ssize_t len;
    snprintf(out, n, "filters");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    if ((len = readlink("/proc/self/exe", exe, sizeof exe - 1)) <= 0)
        return;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const rel[] = {"/../filters", "/../share/mno-migrate/filters",
                                      "/../../../filters"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX + 64];
        snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
        if (scope_dir(cand)) {
            char *real = realpath(cand, NULL);
            if (real && strlen(real) < n)
                memcpy(out, real, strlen(real) + 1);
            free(real);
            return;
        }
    }
}
