/* error.c: filling mno_error values, exit statuses, and URIs with credentials removed. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "error.h"

void mno_error_clear(mno_error *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

int mno_verr(mno_error *e, int code, const char *input, long long line, const char *object,
             const char *fmt, va_list ap)
{
    if (!e)
        return -1;
    char pre[1200] = "";
    size_t n = 0;
    e->code = code;
    snprintf(e->input, sizeof e->input, "%s", input ? input : "");
    snprintf(e->object, sizeof e->object, "%s", object ? object : "");
    e->line = line;
    if (input && *input)
        n += (size_t)snprintf(pre + n, sizeof pre - n, line > 0 ? "%s:%lld: " : "%s: ", input, line);
    if (object && *object && n < sizeof pre)
        snprintf(pre + n, sizeof pre - n, "section %s: ", object);
    char body[sizeof e->msg];
    vsnprintf(body, sizeof body, fmt, ap);
    snprintf(e->msg, sizeof e->msg, "%s%s", pre, body);
    return -1;
}

int mno_err(mno_error *e, int code, const char *input, long long line, const char *object,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mno_verr(e, code, input, line, object, fmt, ap);
    va_end(ap);
    return -1;
}

int mno_exit_status(const mno_error *e)
{
    return (!e || e->code == MNO_OK) ? 0 : 2;
}

char *mno_redact_uri(const char *uri, char *out, size_t n)
{
    if (!out || n == 0)
        return out;
    out[0] = '\0';
    if (!uri)
        return out;
    /* a URI only when it starts with a scheme: a conninfo value may hold "://" itself */
    const char *scheme = strstr(uri, "://");
    if (scheme && (scheme == uri || strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789+.-:") < (size_t)(scheme - uri)))
        scheme = NULL; /* "jdbc:postgresql://" is a URI, "password=a://b host=h" is not */
    if (scheme) {
        /* scheme://user:password@host... -> scheme://user@host... */
        const char *auth = scheme + 3;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < end; p++)
            if (*p == '@')
                at = p;
        if (!at) {
            /* a password holding an unescaped '/', '?' or '#' (base64 ones do) ends the
               authority early: then the last '@' with a ':' before it ends the credentials
               (an '@' in the query is cut too: the safe side) */
            const char *last = strrchr(auth, '@');
            if (last && memchr(auth, ':', (size_t)(last - auth)))
                at = last;
        }
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        /* also drop password=... from the query string */
        char tmp[4096];
        if (colon)
            snprintf(tmp, sizeof tmp, "%.*s%s", (int)(colon - uri), uri, at);
        else
            snprintf(tmp, sizeof tmp, "%s", uri);
        char *q = strchr(tmp, '?');
        if (q) {
            char res[4096];
            size_t rn = (size_t)(q - tmp);
            memcpy(res, tmp, rn);
            char sep = '?';
            for (char *tok = strtok(q + 1, "&"); tok; tok = strtok(NULL, "&")) {
                if (strncmp(tok, "pass", 4) == 0 && strncmp(tok, "passfile=", 9) != 0)
                    continue; /* password=, and a misspelt one */
                rn += (size_t)snprintf(res + rn, sizeof res - rn, "%c%s", sep, tok);
                if (rn >= sizeof res)
                    rn = sizeof res - 1;
                sep = '&';
            }
            res[rn] = '\0';
            snprintf(out, n, "%s", res);
        } else {
            snprintf(out, n, "%s", tmp);
        }
        return out;
    }
    /* key=value conninfo, parsed as libpq does (white space around '=' allowed, values
       quoted with '' and \ escapes): every item kept as written but password=... */
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
        const char *q = p;
        while (isspace((unsigned char)*q))
            q++;
        if (*q == '=') {
            p = q + 1;
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p)
                    p++;
            } else {
                for (; *p && !isspace((unsigned char)*p); p++)
                    if (*p == '\\' && p[1])
                        p++;
            }
        }
        if (klen >= 4 && strncmp(key, "pass", 4) == 0 && !(klen == 8 && strncmp(key, "passfile", 8) == 0))
            continue; /* password, and a misspelt one (libpq then refuses the keyword) */
        o += (size_t)snprintf(out + o, n - o, "%s%.*s", o ? " " : "", (int)(p - key), key);
        if (o >= n)
            o = n - 1;
    }
    out[o < n ? o : n - 1] = '\0';
    return out;
}
