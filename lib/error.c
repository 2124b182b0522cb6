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

/* Escapes s into out[n]: at most cut bytes of s (0: all), then "..." when cut. With lines,
   a line break followed by two spaces is kept (a message's own indented continuation lines:
   nothing after it can stand at the start of a line, where a tool's own lines begin). */
static char *escape_lines(const char *s, size_t cut, int lines, char *out, size_t n)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *start = p;
    if (!out || n == 0)
        return out;
    for (; *p; p++) {
        char tmp[8];
        size_t k;
        if (cut && (size_t)(p - start) >= cut) {
            /* cut on a UTF-8 boundary: drop a partial sequence at the end */
            while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
                o--;
            if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
                o--;
            if (o + 4 <= n) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (*p == '\n' && lines && p[1] == ' ' && p[2] == ' ') {
            tmp[0] = '\n';
            k = 1;
        } else if (*p == '\n')
            k = (size_t)snprintf(tmp, sizeof tmp, "\\n");
        else if (*p == '\t')
            k = (size_t)snprintf(tmp, sizeof tmp, "\\t");
        else if (*p == '\r')
            k = (size_t)snprintf(tmp, sizeof tmp, "\\r");
        else if (*p < 0x20 || *p == 0x7f)
            k = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            k = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", p[1]);
            p++;
        } else {
            tmp[0] = (char)*p;
            k = 1;
        }
        if (o + k >= n)
            break;
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o] = '\0';
    return out;
}

static char *escape(const char *s, size_t cut, char *out, size_t n)
{
    return escape_lines(s, cut, 0, out, n);
}

char *mno_lines_msg(const char *s, char *out, size_t n)
{
    return escape_lines(s, 0, 1, out, n);
}

char *mno_name_msg(const char *s, char *out, size_t n)
{
    return escape(s, MNO_NAME_MSG_CUT, out, n);
}

char *mno_text_msg(const char *s, char *out, size_t n)
{
    return escape(s, 0, out, n);
}

char *mno_err_prefix(const char *input, long long line, const char *object, char *out, size_t n)
{
    char name[MNO_NAME_MSG_MAX];
    size_t k = 0;
    if (!out || n == 0)
        return out;
    out[0] = '\0';
    if (input && *input) {
        mno_name_msg(input, name, sizeof name);
        k += (size_t)snprintf(out + k, n - k, line > 0 ? "%s:%lld: " : "%s: ", name, line);
    }
    if (object && *object && k < n) {
        mno_name_msg(object, name, sizeof name);
        snprintf(out + k, n - k, "section %s: ", name);
    }
    return out;
}

int mno_verr(mno_error *e, int code, const char *input, long long line, const char *object,
             const char *fmt, va_list ap)
{
    if (!e)
        return -1;
    char pre[2 * MNO_NAME_MSG_MAX + 64];
    e->code = code;
    snprintf(e->input, sizeof e->input, "%s", input ? input : "");
    snprintf(e->object, sizeof e->object, "%s", object ? object : "");
    e->line = line;
    mno_err_prefix(input, line, object, pre, sizeof pre);
    /* a message is one line (and its own indented continuation lines): whatever a name or a
       server's text holds is escaped */
    char body[sizeof e->msg], esc[sizeof e->msg];
    vsnprintf(body, sizeof body, fmt, ap);
    mno_lines_msg(body, esc, sizeof esc);
    size_t k = strlen(pre);
    if (k >= sizeof e->msg)
        k = sizeof e->msg - 1;
    memcpy(e->msg, pre, k);
    snprintf(e->msg + k, sizeof e->msg - k, "%s", esc);
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
