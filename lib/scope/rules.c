/* rules.c: the rules file parser of the live-environment tools (docs/live.md); every error cites file:line. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "lex.h"
#include "rules.h"

/* Tokens: lib/scope/lex.c, the tokenizer the scope and scrub files share. */
typedef mno_tok tok;
#define T_WORD MNO_TOK_WORD
#define T_STRING MNO_TOK_STRING
#define T_COLON MNO_TOK_COLON
#define T_EQ MNO_TOK_EQ
#define T_COMMA MNO_TOK_COMMA

/* Rules files: words of letters, digits, '_', '$', '.', '-', '+' and '*' (values such as
   -1.5e+3, the '*' of a whole source), with "quoted" parts; ':', '=', ','. */
static const mno_lex_syntax rules_syntax = {"-+*", 0, 0, 1};

/* The parser's state: where it is, for messages. */
typedef struct parser {
    const char *file;
    int line;
    mno_error *e;
    tok toks[256];
    size_t ntok;
} parser;

static const char *const kinds[] = {"mnohub", "connector", "connec"};

static int nomem(parser *ps) { return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

static int perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mno_verr(ps->e, MNO_E_SCOPE, ps->file, ps->line, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

static void toks_clear(parser *ps) { mno_lex_clear(ps->toks, &ps->ntok); }

static const char *tok_desc(const tok *t) { return mno_tok_desc(t); }

/* Splits one line into tokens ('#' starts a comment outside a quoted value). Returns 0 or -1. */
static int tokenize(parser *ps, const char *p, const char *end)
{
    mno_lex_at at = {ps->file, ps->line, ps->e};
    return mno_lex_line(&rules_syntax, &at, p, end, ps->toks, sizeof ps->toks / sizeof ps->toks[0], &ps->ntok);
}

/* A column: a "quoted identifier" unquoted (its quoting checked by the tokenizer), a bare
   word as it is. NULL when out of memory, or *bad. */
static char *col_dup(const tok *t, int *bad)
{
    if (t->quoted && (t->s[0] != '"' || mno_lex_next_dot(t->s))) {
        *bad = 1;   /* a dotted name, not one column */
        return NULL;
    }
    if (!t->quoted) {
        *bad = 0;
        return strdup(t->s);
    }
    return mno_lex_col(t->s, bad);
}

/* A name or column: dot-separated non-empty parts of word characters. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..") && s[0] != '-' &&
           !strchr(s, '+') && !strchr(s, '*');
}

/* A bare value: a number (digits, sign, point, exponent). */
static int is_number(const char *s)
{
    char *end;
    errno = 0;
    (void)strtod(s, &end);
    return *s && !*end && (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s[1]));
}

static void rule_release(mno_rule *r)
{
    free(r->kind);
    free(r->name);
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i]);
        if (r->vals)
            free(r->vals[i]);
    }
    free(r->cols);
    free(r->vals);
    free(r->text);
}

void mno_rules_free(mno_rules *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        rule_release(&rs->r[i]);
    free(rs->r);
    free(rs->file);
    free(rs);
}

const char *mno_rule_verb_name(mno_rule_verb v)
{
    return v == MNO_RULE_SET ? "set" : v == MNO_RULE_UNIQUE ? "unique" : v == MNO_RULE_VERIFIED ? "verified" : "?";
}

/* Builds r->text, the canonical form of the rule. */
static int rule_text(mno_rule *r)
{
    mno_buf b = MNO_BUF_INIT;
    int rc = mno_buf_adds(&b, mno_rule_verb_name(r->verb));
    for (size_t i = 0; i < r->ncols; i++) {
        rc |= mno_buf_addf(&b, "%s %s", i ? "," : "", r->cols[i]);
        if (r->verb != MNO_RULE_SET)
            continue;
        if (!r->vals[i]) {
            rc |= mno_buf_adds(&b, " = null");
            continue;
        }
        rc |= mno_buf_adds(&b, " = '");
        for (const char *p = r->vals[i]; *p; p++)
            rc |= *p == '\'' ? mno_buf_adds(&b, "''") : mno_buf_addc(&b, *p);
        rc |= mno_buf_addc(&b, '\'');
    }
    if (rc) {
        mno_buf_release(&b);
        return -1;
    }
    r->text = b.data;
    return 0;
}

/* Parses the tokens of one line into r. Returns 0 or -1. */
static int parse_line(parser *ps, mno_rule *r)
{
    tok *t = ps->toks;
    size_t n = ps->ntok, i;
    if (t[0].kind != T_WORD)
        return perr(ps, "expected a source kind (mnohub, connector or connec), found '%s'", tok_desc(&t[0]));
    for (i = 0; i < sizeof kinds / sizeof kinds[0] && strcmp(kinds[i], t[0].s); i++)
        ;
    if (i == sizeof kinds / sizeof kinds[0])
        return perr(ps, "unknown source kind '%s' (mnohub, connector or connec)", t[0].s);
    if (n < 2 || t[1].kind != T_WORD)
        return perr(ps, "expected a table name after '%s'", t[0].s);
    int star = strcmp(t[1].s, "*") == 0;
    if (!star && !valid_name(t[1].s))
        return perr(ps, "bad table name '%s'", t[1].s);
    if (n < 3 || t[2].kind != T_COLON)
        return perr(ps, "expected ':' after '%s'", t[1].s);
    if (n < 4 || t[3].kind != T_WORD)
        return perr(ps, "expected a rule (set, unique or verified) after ':'");
    r->line = ps->line;
    r->file = ps->file;
    if (!(r->kind = strdup(t[0].s)) || !(r->name = strdup(t[1].s)))
        return nomem(ps);
    size_t max = n; /* more than enough */
    if (!(r->cols = calloc(max, sizeof *r->cols)))
        return nomem(ps);
    if (star != (strcmp(t[3].s, "verified") == 0))
        return star ? perr(ps, "'*' (the whole source) goes only with 'verified'")
                    : perr(ps, "'verified' goes with '*' (the whole source), not a table");
    if (star) {
        r->verb = MNO_RULE_VERIFIED;
        if (n > 4)
            return perr(ps, "unexpected '%s' at the end of the rule", tok_desc(&t[4]));
        return rule_text(r) < 0 ? nomem(ps) : 0;
    }
    if (strcmp(t[3].s, "unique") == 0) {
        r->verb = MNO_RULE_UNIQUE;
        if (n < 5 || t[4].kind != T_WORD || (!t[4].quoted && !valid_name(t[4].s)))
            return perr(ps, "expected a column after 'unique'");
        if (n > 5)
            return perr(ps, "unexpected '%s' at the end of the rule", tok_desc(&t[5]));
        int bad;
        if (!(r->cols[r->ncols++] = col_dup(&t[4], &bad)))
            return bad ? perr(ps, "bad column name '%s'", t[4].s) : nomem(ps);
        return rule_text(r) < 0 ? nomem(ps) : 0;
    }
    if (strcmp(t[3].s, "set") != 0)
        return perr(ps, "unknown rule '%s' (set, unique or verified)", t[3].s);
    r->verb = MNO_RULE_SET;
    if (!(r->vals = calloc(max, sizeof *r->vals)))
        return nomem(ps);
    for (i = 4;;) {
        if (i >= n || t[i].kind != T_WORD)
            return perr(ps, "expected a column after '%s'", tok_desc(&t[i - 1]));
        int bad;
        if (!t[i].quoted && !valid_name(t[i].s))
            return perr(ps, "bad column name '%s'", t[i].s);
        if (!(r->cols[r->ncols] = col_dup(&t[i], &bad)))
            return bad ? perr(ps, "bad column name '%s'", t[i].s) : nomem(ps);
        r->ncols++;   /* its value (vals[], NULL for now) follows */
        for (size_t k = 0; k + 1 < r->ncols; k++)
            if (strcmp(r->cols[k], r->cols[r->ncols - 1]) == 0)
                return perr(ps, "column '%s' is set twice", t[i].s);
        if (i + 1 >= n || t[i + 1].kind != T_EQ)
            return perr(ps, "expected '=' after '%s'", t[i].s);
        if (i + 2 >= n)
            return perr(ps, "expected a value after '='");
        const tok *v = &t[i + 2];
        char *val = NULL;
        if (v->kind == T_STRING || (v->kind == T_WORD && (is_number(v->s) || !strcmp(v->s, "true") ||
                                                         !strcmp(v->s, "false")))) {
            if (!(val = strdup(v->s)))
                return nomem(ps);
        } else if (!(v->kind == T_WORD && strcmp(v->s, "null") == 0)) {
            return perr(ps, "expected a value (null, true, false, a number or 'text') after '=', found '%s'",
                        tok_desc(v));
        }
        r->vals[r->ncols - 1] = val;
        i += 3;
        if (i == n)
            break;
        if (t[i].kind != T_COMMA)
            return perr(ps, "expected ',' or the end of the rule, found '%s'", tok_desc(&t[i]));
        i++;
    }
    return rule_text(r) < 0 ? nomem(ps) : 0;
}

mno_rules *mno_rules_parse(const char *text, size_t len, const char *file, mno_error *e)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.e = e;
    mno_rules *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->file = strdup(file ? file : "-"))) {
        free(rs);
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        return NULL;
    }
    ps.file = rs->file;
    size_t cap = 0;
    int start = 0;   /* the line a rule starts on */
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        ps.line++;
        if (memchr(p, '\0', (size_t)(le - p))) {
            perr(&ps, "NUL byte in the line");
            goto fail;
        }
        if (tokenize(&ps, p, le) < 0)
            goto fail;
        if (ps.ntok && !start)
            start = ps.line;
        if (ps.ntok && ps.toks[ps.ntok - 1].kind == T_COMMA && nl) {
            p = nl + 1;   /* a rule ending in ',' goes on on the next line */
            continue;
        }
        if (ps.ntok) {
            int here = ps.line;
            ps.line = start;
            if (rs->n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                mno_rule *nr = realloc(rs->r, nc * sizeof *nr);
                if (!nr) {
                    nomem(&ps);
                    goto fail;
                }
                rs->r = nr;
                cap = nc;
            }
            mno_rule *r = &rs->r[rs->n++];
            memset(r, 0, sizeof *r);
            if (parse_line(&ps, r) < 0)
                goto fail;
            for (size_t k = 0; k + 1 < rs->n; k++) {
                const mno_rule *o = &rs->r[k];
                if (o->verb == r->verb && !strcmp(o->kind, r->kind) && !strcmp(o->name, r->name)) {
                    perr(&ps, "%s %s: a second '%s' rule (the first is at line %d)", r->kind, r->name,
                         mno_rule_verb_name(r->verb), o->line);
                    goto fail;
                }
            }
            ps.line = here;
        }
        start = 0;
        toks_clear(&ps);
        p = nl ? nl + 1 : end;
    }
    if (ps.ntok) {   /* the file ended in a rule that said it goes on */
        ps.line = start;
        perr(&ps, "expected a column after ','");
        goto fail;
    }
    return rs;
fail:
    toks_clear(&ps);
    mno_rules_free(rs);
    return NULL;
}

mno_rules *mno_rules_load(const char *path, mno_error *e)
{
    FILE *f = fopen(path, "rb");
    mno_buf b = MNO_BUF_INIT;
    if (!f) {
        mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open the rules file: %s", strerror(errno));
        return NULL;
    }
    int rd = mno_buf_add_file(&b, f);
    fclose(f);
    if (rd < 0) {
        mno_buf_release(&b);
        if (rd == -1)
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        else
            mno_err(e, MNO_E_IO, path, 0, NULL, "cannot read the rules file");
        return NULL;
    }
    mno_rules *rs = mno_rules_parse(b.data ? b.data : "", b.len, path, e);
    mno_buf_release(&b);
    return rs;
}
