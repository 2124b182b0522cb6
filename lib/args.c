/* args.c: small command-line helpers the tools share (numbers, the default scope directory). */
#include "args.h"

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
        struct stat st;
        snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
        if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
            char *real = realpath(cand, NULL);
            if (real && strlen(real) < n)
                memcpy(out, real, strlen(real) + 1);
            free(real);
            return;
        }
    }
}
