/* redact.c: URIs and conninfo strings with their credentials removed, and those credentials scrubbed from messages (redact.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "redact.h"

/* The secrets one URI holds, each raw and percent-decoded (a fixed list: a URI with more
   is cut in the redacted form all the same; its later secrets are not scrubbed by piece). */
#define MAX_SECRETS 32
typedef struct secrets {
    char *s[MAX_SECRETS];
    int n;
} secrets;

static void secrets_release(secrets *sl)
{
    for (int i = 0; i < sl->n; i++)
        free(sl->s[i]);
    sl->n = 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* p[0..len) percent-decoded, NUL-terminated (malloc'ed; NULL when out of memory). */
static char *pct_decode(const char *p, size_t len)
{
    char *d = malloc(len + 1);
    size_t o = 0;
    if (!d)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int h, l;
        if (p[i] == '%' && i + 2 < len && (h = hexval((unsigned char)p[i + 1])) >= 0 &&
            (l = hexval((unsigned char)p[i + 2])) >= 0) {
            d[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            d[o++] = p[i];
        }
    }
    d[o] = '\0';
    return d;
}

static void add_one(secrets *sl, const char *p, size_t len)
{
    if (len == 0 || sl->n >= MAX_SECRETS)
        return;
    for (int i = 0; i < sl->n; i++)
        if (strlen(sl->s[i]) == len && memcmp(sl->s[i], p, len) == 0)
            return;
    char *c = strndup(p, len);
    if (c)
        sl->s[sl->n++] = c;
}

/* Adds the secret p[0..len) as written and, when it differs, percent-decoded. */
static void add_secret(secrets *sl, const char *p, size_t len)
{
    add_one(sl, p, len);
    char *d = pct_decode(p, len);
    if (d) {
        add_one(sl, d, strlen(d));
        free(d);
    }
}

/* Whether the keyword or parameter name k[0..len) (percent-decoded, any case) carries a secret. */
static int is_secret_key(const char *k, size_t len)
{
    char *d = pct_decode(k, len);
    if (!d)
        return 1; /* the safe side */
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int secret = (strncmp(d, "pass", 4) == 0 && strcmp(d, "passfile") != 0) || strstr(d, "password") ||
                 strstr(d, "secret") || strstr(d, "token") || strcmp(d, "authmechanismproperties") == 0;
    free(d);
    return secret;
}

static int is_dbname_key(const char *k, size_t len)
{
    return len == 6 && strncasecmp(k, "dbname", 6) == 0;
}

static void redact(const char *uri, char *out, size_t n, secrets *sl, int depth);

/* Appends to out (size n, used *o) the printf'ed text, cut at the end of out. */
static void outf(char *out, size_t n, size_t *o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void outf(char *out, size_t n, size_t *o, const char *fmt, ...)
{
    if (*o + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *o, n - *o, fmt, ap);
    va_end(ap);
    if (w > 0)
        *o = *o + (size_t)w >= n ? n - 1 : *o + (size_t)w;
}

/* A dbname value v (as written, unquoted) that libpq would expand as a URI or conninfo:
   its secrets are collected and out gets its redacted form; else out gets v. */
static void dbname_value(const char *v, size_t len, char *out, size_t n, size_t *o, secrets *sl,
                         int depth, int quote)
{
    char *d = strndup(v, len);
    if (!d)
        return;
    if (depth < 2 && (strchr(d, '=') || strstr(d, "://"))) {
        char inner[2048];
        redact(d, inner, sizeof inner, sl, depth + 1);
        if (quote) {
            outf(out, n, o, "'");
            for (const char *p = inner; *p; p++)
                outf(out, n, o, "%s%c", *p == '\'' || *p == '\\' ? "\\" : "", *p);
            outf(out, n, o, "'");
        } else {
            outf(out, n, o, "%s", inner);
        }
    } else {
        outf(out, n, o, "%s%s%s", quote ? "'" : "", d, quote ? "'" : "");
    }
    free(d);
}

static void redact_uri_form(const char *uri, const char *scheme, char *out, size_t n, secrets *sl, int depth)
{
    size_t o = 0;
    const char *auth = scheme + 3;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        /* a password holding an unescaped '/', '?' or '#' (base64 ones do) ends the authority
           early: then the last '@' with a ':' before it ends the credentials (an '@' in the
           query is cut too: the safe side) */
        const char *last = strrchr(auth, '@');
        if (last && memchr(auth, ':', (size_t)(last - auth)))
            at = last;
    } else if (memchr(auth, ':', (size_t)(at - auth))) {
        /* an '@' further on, after a '/', '?' or '#' of the password ("u:p@ss/w?rd@host"):
           the credentials end there, unless what lies between reads as a query (an '&', or
           an '=' with a value after it: base64 padding "==" is no query) */
        const char *last = strrchr(at + 1, '@');
        int query = 0;
        for (const char *p = at + 1; last && p < last && !query; p++)
            query = *p == '&' || (*p == '=' && p[1] != '=' && p[1] != '@');
        if (last && !query)
            at = last;
    }
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    const char *rest;
    if (colon) {
        add_secret(sl, colon + 1, (size_t)(at - colon - 1));
        outf(out, n, &o, "%.*s", (int)(colon - uri), uri);
        rest = at;
    } else {
        rest = uri;
    }
    /* the query: every item kept as written but the secret ones */
    const char *q = strchr(at ? at : auth, '?');
    if (!q) {
        outf(out, n, &o, "%s", rest);
        return;
    }
    outf(out, n, &o, "%.*s", (int)(q - rest), rest);
    const char *p = q + 1;
    char sep = '?';
    for (;;) {
        size_t len = strcspn(p, "&;#");
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (len > 0) {
            if (is_secret_key(p, klen)) {
                if (eq)
                    add_secret(sl, eq + 1, len - klen - 1);
            } else if (eq && is_dbname_key(p, klen)) {
                char *d = pct_decode(eq + 1, len - klen - 1);
                outf(out, n, &o, "%c%.*s=", sep, (int)klen, p);
                if (d)
                    dbname_value(d, strlen(d), out, n, &o, sl, depth, 0);
                free(d);
                sep = '&';
            } else {
                outf(out, n, &o, "%c%.*s", sep, (int)len, p);
                sep = '&';
            }
        }
        p += len;
        if (*p == '#') {
            outf(out, n, &o, "%s", p);
            break;
        }
        if (!*p)
            break;
        p++;
    }
}

/* keyword=value conninfo, parsed as libpq does (white space around '=' allowed, values quoted
   with '' and \ escapes): every item kept as written but the secret ones */
static void redact_conninfo(const char *uri, char *out, size_t n, secrets *sl, int depth)
{
    size_t o = 0;
    const char *p = uri;
    while (*p && o + 1 < n) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - key);
        const char *q = p, *val = NULL;
        char *v = NULL;   /* the value, unquoted and unescaped */
        size_t vlen = 0;
        while (isspace((unsigned char)*q))
            q++;
        if (*q == '=') {
            p = q + 1;
            while (isspace((unsigned char)*p))
                p++;
            val = p;
            v = malloc(strlen(p) + 1);
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++) {
                    if (*p == '\\' && p[1])
                        p++;
                    if (v)
                        v[vlen++] = *p;
                }
                if (*p)
                    p++;
            } else {
                for (; *p && !isspace((unsigned char)*p); p++) {
                    if (*p == '\\' && p[1])
                        p++;
                    if (v)
                        v[vlen++] = *p;
                }
            }
            if (v)
                v[vlen] = '\0';
        }
        if (is_secret_key(key, klen)) {
            /* a password, and a misspelt one (libpq then refuses the keyword) */
            if (v)
                add_secret(sl, v, vlen);
        } else if (v && is_dbname_key(key, klen)) {
            outf(out, n, &o, "%s%.*s=", o ? " " : "", (int)klen, key);
            dbname_value(v, vlen, out, n, &o, sl, depth, *val == '\'');
        } else {
            outf(out, n, &o, "%s%.*s", o ? " " : "", (int)(p - key), key);
        }
        free(v);
    }
}

static void redact(const char *uri, char *out, size_t n, secrets *sl, int depth)
{
    out[0] = '\0';
    /* a URI only when it starts with a scheme: a conninfo value may hold "://" itself */
    const char *scheme = strstr(uri, "://");
    if (scheme && (scheme == uri || strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789+.-:") < (size_t)(scheme - uri)))
        scheme = NULL; /* "jdbc:postgresql://" is a URI, "password=a://b host=h" is not */
    if (scheme)
        redact_uri_form(uri, scheme, out, n, sl, depth);
    else
        redact_conninfo(uri, out, n, sl, depth);
}

char *mno_redact_uri(const char *uri, char *out, size_t n)
{
    if (!out || n == 0)
        return out;
    out[0] = '\0';
    if (!uri)
        return out;
    secrets sl = {{0}, 0};
    redact(uri, out, n, &sl, 0);
    secrets_release(&sl);
    return out;
}

/* Replaces every occurrence of needle (case-insensitive) in msg (size n) by with. */
static void replace_all(char *msg, size_t n, const char *needle, const char *with, int icase)
{
    size_t nl = strlen(needle);
    if (nl == 0 || !(icase ? strcasestr(msg, needle) : strstr(msg, needle)))
        return;
    char *res = malloc(n);
    if (!res)
        return;
    size_t o = 0;
    const char *p = msg, *hit;
    while ((hit = icase ? strcasestr(p, needle) : strstr(p, needle)) != NULL) {
        outf(res, n, &o, "%.*s%s", (int)(hit - p), p, with);
        p = hit + nl;
    }
    outf(res, n, &o, "%s", p);
    res[o] = '\0';
    memcpy(msg, res, o + 1);
    free(res);
}

static int by_length_desc(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

void mno_redact_msg(char *msg, size_t n, const char *uri)
{
    if (!msg || n == 0 || !uri || !*uri)
        return;
    char red[4096];
    secrets sl = {{0}, 0};
    redact(uri, red, sizeof red, &sl, 0);
    if (strcmp(red, uri) != 0)
        replace_all(msg, n, uri, red, 0);
    /* the secrets and their pieces, longest first (a piece is never looked for in what a
       longer one already replaced) */
    char *all[MAX_SECRETS * 16];
    int na = 0;
    /* a piece in quotes is a value the parser took whole ('invalid integer value "ab" for
       connection option "port"'): cut however short */
    for (int i = 0; i < sl.n; i++)
        for (const char *p = sl.s[i]; *p;) {
            size_t len = strcspn(p, "@/?#:,;&=[] \t\r\n\"'");
            for (int q = 0; q < 2 && len > 0 && len < 500; q++) {
                char needle[512], with[8];
                snprintf(needle, sizeof needle, "%c%.*s%c", "\"'"[q], (int)len, p, "\"'"[q]);
                snprintf(with, sizeof with, "%c***%c", "\"'"[q], "\"'"[q]);
                replace_all(msg, n, needle, with, 1);
            }
            p += len;
            if (*p)
                p++;
        }
    for (int i = 0; i < sl.n; i++) {
        const char *s = sl.s[i];
        if (strlen(s) >= 3 && na < (int)(sizeof all / sizeof all[0]) && (all[na] = strdup(s)))
            na++;
        for (const char *p = s; *p;) {
            size_t len = strcspn(p, "@/?#:,;&=[] \t\r\n\"'");
            if (len >= MNO_REDACT_MIN_PIECE && len < strlen(s) && na < (int)(sizeof all / sizeof all[0]) &&
                (all[na] = strndup(p, len)))
                na++;
            p += len;
            if (*p)
                p++;
        }
    }
    qsort(all, (size_t)na, sizeof all[0], by_length_desc);
    for (int i = 0; i < na; i++) {
        replace_all(msg, n, all[i], "***", 1);
        free(all[i]);
    }
    secrets_release(&sl);
}

void mno_redact_error(mno_error *e, const char *uri)
{
    if (e)
        mno_redact_msg(e->msg, sizeof e->msg, uri);
}
