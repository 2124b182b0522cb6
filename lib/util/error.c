/* error.c: filling mno_error values and exit statuses. */
#include <stdio.h>
#include <string.h>
#include "error.h"

void mno_error_clear(mno_error *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

size_t mno_escape_char(const unsigned char *p, int backslash, char *tmp, size_t *used)
{
    *used = 1;
    if (*p == '\n')
        return (size_t)snprintf(tmp, 8, "\\n");
    if (*p == '\t')
        return (size_t)snprintf(tmp, 8, "\\t");
    if (*p == '\r')
        return (size_t)snprintf(tmp, 8, "\\r");
    if (*p == '\\' && backslash)
        return (size_t)snprintf(tmp, 8, "\\\\");
    if (*p < 0x20 || *p == 0x7f)
        return (size_t)snprintf(tmp, 8, "\\x%02x", *p);
    if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
        *used = 2;
        return (size_t)snprintf(tmp, 8, "\\u%04x", p[1]);
    }
    tmp[0] = (char)*p;
    return 1;
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
        size_t used = 1;
        if (*p == '\n' && lines && p[1] == ' ' && p[2] == ' ') {
            tmp[0] = '\n';
            k = 1;
        } else if (*p == '\n' && lines && !p[1])
            k = 0; /* the list's last line break: the tool ends the message's line */
        else
            k = mno_escape_char(p, 0, tmp, &used);
        p += used - 1;
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
