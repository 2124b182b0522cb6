/* lex.c: the one tokenizer of the scope, rules and scrub files (lex.h); every error cites file:line. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "lex.h"

static int lerr(const mno_lex_at *at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lerr(const mno_lex_at *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mno_verr(at->e, MNO_E_SCOPE, at->file, at->line, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

static int nomem(const mno_lex_at *at) { return mno_err(at->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

static int is_word_char(const mno_lex_syntax *syn, const char *p, const char *end)
{
    unsigned char c = (unsigned char)*p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
        c == '.')
        return 1;
    if (c >= 0x80)
        return syn->high_bytes;
    if (!c || !strchr(syn->punct ? syn->punct : "", c))
        return 0;
    return !(syn->arrow && c == '-' && p + 1 < end && p[1] == '>');
}

/* A 'string' from just after its opening quote; *pp moves past the closing one. */
static int lex_string(const mno_lex_at *at, const char **pp, const char *end, mno_tok *t)
{
    mno_buf b = MNO_BUF_INIT;
    const char *p = *pp;
    for (;;) {
        if (p >= end) {
            mno_buf_release(&b);
            return lerr(at, "unterminated string");
        }
        if (*p == '\'') {
            if (p + 1 < end && p[1] == '\'') {
                p += 2;
                if (mno_buf_addc(&b, '\'') < 0)
                    goto nomem;
                continue;
            }
            p++;
            break;
        }
        if (mno_buf_addc(&b, *p++) < 0)
            goto nomem;
    }
    t->kind = MNO_TOK_STRING;
    t->s = b.data ? b.data : strdup("");
    if (!t->s)
        return nomem(at);
    *pp = p;
    return 0;
nomem:
    mno_buf_release(&b);
    return nomem(at);
}

/* A word: dot-separated parts, each bare or one "quoted identifier" ("" is a quote). */
static int lex_word(const mno_lex_syntax *syn, const mno_lex_at *at, const char **pp, const char *end, mno_tok *t)
{
    const char *s = *pp, *p = s;
    int part_start = 1;
    t->quoted = 0;
    while (p < end && (is_word_char(syn, p, end) || *p == '"')) {
        if (*p == '"') {
            if (!part_start)
                return lerr(at, "malformed quoting in '%.*s': a quote in the middle of a name part", (int)(p - s + 1),
                            s);
            const char *q = p + 1;
            for (;; q++) {
                if (q >= end)
                    return lerr(at, "unterminated quoted identifier %.*s", (int)(end - p), p);
                if (*q == '"' && q + 1 < end && q[1] == '"')
                    q++;
                else if (*q == '"')
                    break;
            }
            if (q == p + 1)
                return lerr(at, "empty quoted identifier in '%.*s'", (int)(q - s + 1), s);
            p = q + 1;
            if (p < end && (*p == '"' || (is_word_char(syn, p, end) && *p != '.')))
                return lerr(at, "malformed quoting in '%.*s': text after a closing quote", (int)(p - s + 1), s);
            part_start = 0;
            t->quoted = 1;
            continue;
        }
        part_start = *p == '.';
        p++;
    }
    t->kind = MNO_TOK_WORD;
    if (!(t->s = strndup(s, (size_t)(p - s))))
        return nomem(at);
    *pp = p;
    return 0;
}

int mno_lex_line(const mno_lex_syntax *syn, const mno_lex_at *at, const char *p, const char *end, mno_tok *toks,
                 size_t max, size_t *ntok)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
            continue;
        }
        if (*p == '#')
            break;
        if (*ntok == max)
            return lerr(at, "too many words on one line");
        mno_tok *t = &toks[*ntok];
        t->s = NULL;
        t->quoted = 0;
        if (*p == ':' || *p == '=' || (syn->comma && *p == ',')) {
            t->kind = *p == ':' ? MNO_TOK_COLON : *p == '=' ? MNO_TOK_EQ : MNO_TOK_COMMA;
            p++;
        } else if (syn->arrow && *p == '-' && p + 1 < end && p[1] == '>') {
            t->kind = MNO_TOK_ARROW;
            p += 2;
        } else if (*p == '\'') {
            p++;
            if (lex_string(at, &p, end, t) < 0)
                return -1;
        } else if (is_word_char(syn, p, end) || *p == '"') {
            if (lex_word(syn, at, &p, end, t) < 0)
                return -1;
        } else {
            unsigned char c = (unsigned char)*p;
            if (c >= 0x20 && c < 0x7f)
                return lerr(at, "unexpected character '%c'", c);
            return lerr(at, "unexpected character 0x%02x", c);
        }
        (*ntok)++;
    }
    return 0;
}

void mno_lex_clear(mno_tok *toks, size_t *ntok)
{
    for (size_t i = 0; i < *ntok; i++) {
        free(toks[i].s);
        toks[i].s = NULL;
    }
    *ntok = 0;
}

const char *mno_tok_desc(const mno_tok *t)
{
    switch (t->kind) {
    case MNO_TOK_ARROW: return "->";
    case MNO_TOK_COLON: return ":";
    case MNO_TOK_EQ: return "=";
    case MNO_TOK_COMMA: return ",";
    default: return t->s;
    }
}

const char *mno_lex_next_dot(const char *s)
{
    for (int quoted = 0; *s; s++) {
        if (*s == '"')
            quoted = !quoted;   /* "" inside quotes toggles twice */
        else if (*s == '.' && !quoted)
            return s;
    }
    return NULL;
}

/* Appends the part p[0..n) to b, unquoted when it is one "quoted identifier". 1 when it was
   exactly a bare or a quoted part, 0 when not, -1 out of memory. */
static int add_part(mno_buf *b, const char *p, size_t n)
{
    if (!n || *p != '"')
        return mno_buf_add(b, p, n) < 0 ? -1 : 1;
    size_t i = 1;
    for (; i < n; i++) {
        if (p[i] == '"' && !(i + 1 < n && p[i + 1] == '"'))
            break;
        if (p[i] == '"')
            i++;
        if (mno_buf_addc(b, p[i]) < 0)
            return -1;
    }
    return i < n && i + 1 == n && i > 1;   /* ended by its closing quote, not empty */
}

char *mno_lex_col(const char *word, int *bad)
{
    mno_buf b = MNO_BUF_INIT;
    *bad = 0;
    if (*word != '"')
        return strdup(word);
    int k = add_part(&b, word, strlen(word));
    if (k <= 0) {
        mno_buf_release(&b);
        *bad = k == 0;
        return NULL;
    }
    return b.data;
}

char *mno_lex_path(const char *word)
{
    mno_buf b = MNO_BUF_INIT;
    const char *p = word;
    for (;;) {
        const char *dot = mno_lex_next_dot(p);
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (add_part(&b, p, n) < 0 || (dot && mno_buf_addc(&b, '.') < 0)) {
            mno_buf_release(&b);
            return NULL;
        }
        if (!dot)
            break;
        p = dot + 1;
    }
    if (!b.data && mno_buf_adds(&b, "") < 0)
        return NULL;
    return b.data;
}
