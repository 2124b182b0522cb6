/* pgname.c: parsing and formatting the archive's PostgreSQL section names (schema.table, quoted where needed). */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "pgname.h"

int mno_pgname_plain(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Reads a quoted part at *p (on its opening quote) into a malloc'd string; *p moves past the
   closing quote. Returns NULL with *why, or NULL with *why NULL when out of memory. */
static char *quoted_part(const char **p, const char **why)
{
    mno_buf b = MNO_BUF_INIT;
    const char *s = *p + 1;
    *why = NULL;
    for (;;) {
        if (!*s) {
            *why = "unterminated quoted identifier";
            goto fail;
        }
        if (*s == '"') {
            if (s[1] != '"')
                break;
            s++;
        }
        if (mno_buf_addc(&b, *s++) < 0)
            goto fail;
    }
    if (b.len == 0) {
        *why = "empty quoted identifier";
        goto fail;
    }
    *p = s + 1;
    return b.data;
fail:
    mno_buf_release(&b);
    return NULL;
}

int mno_pgns_split(const char *ns, char **schema, char **table, const char **why)
{
    const char *p = ns;
    char *first = NULL, *second = NULL;
    *schema = *table = NULL;
    *why = NULL;
    if (*p == '"') {
        if (!(first = quoted_part(&p, why)))
            goto fail;
        if (*p && *p != '.') {
            *why = "a quoted identifier must be followed by '.' or end the name";
            goto fail;
        }
    } else {
        size_t n = strcspn(p, ".");
        if (n == 0) {
            *why = "empty name part";
            goto fail;
        }
        if (!(first = strndup(p, n)))
            goto fail;
        p += n;
    }
    if (!*p) {   /* no schema part */
        *table = first;
        return 0;
    }
    p++;   /* the dot */
    if (*p == '"') {
        if (!(second = quoted_part(&p, why)))
            goto fail;
        if (*p) {
            *why = "text after the quoted table name";
            goto fail;
        }
    } else {
        if (!*p) {
            *why = "empty name part";
            goto fail;
        }
        if (!(second = strdup(p)))
            goto fail;
    }
    *schema = first;
    *table = second;
    return 0;
fail:
    free(first);
    free(second);
    return *why ? -1 : -2;
}

static int add_part(mno_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (mno_pgname_plain(s, n))
        return mno_buf_add(b, s, n);
    if (mno_buf_addc(b, '"') < 0)
        return -1;
    for (; *s; s++)
        if ((*s == '"' && mno_buf_addc(b, '"') < 0) || mno_buf_addc(b, *s) < 0)
            return -1;
    return mno_buf_addc(b, '"');
}

char *mno_pgns_join(const char *schema, const char *table)
{
    mno_buf b = MNO_BUF_INIT;
    if ((schema && (add_part(&b, schema) < 0 || mno_buf_addc(&b, '.') < 0)) || add_part(&b, table) < 0) {
        mno_buf_release(&b);
        return NULL;
    }
    return b.data;
}

char *mno_pgns_canon(const char *ns, const char **why)
{
    char *schema, *table;
    if (mno_pgns_split(ns, &schema, &table, why) < 0)
        return NULL;
    char *out = mno_pgns_join(schema, table);
    free(schema);
    free(table);
    return out;
}

int mno_pgname_reserved_schema(const char *schema)
{
    return strncmp(schema, "pg_", 3) == 0 || strcmp(schema, "information_schema") == 0 ||
           strcmp(schema, "mno_migrate") == 0;
}
