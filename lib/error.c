/* error.c: filling mno_error values and exit statuses. */
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
