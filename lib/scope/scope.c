/* scope.c: the scope file parser (docs/scope.md); every error cites file:line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "lex.h"
#include "pgname.h"
#include "scope.h"

/* Tokens: lib/scope/lex.c, the tokenizer the rules and scrub files share. */
typedef mno_tok tok;
#define T_WORD MNO_TOK_WORD
#define T_STRING MNO_TOK_STRING
#define T_ARROW MNO_TOK_ARROW
#define T_COLON MNO_TOK_COLON
#define T_EQ MNO_TOK_EQ

/* Scope files: words of letters, digits, '_', '$', '.' and '-' (not in "->"), with "quoted"
   parts; '->', ':', '='. */
static const mno_lex_syntax scope_syntax = {"-", 0, 1, 0};

typedef struct parser {
    const char *file;
    int line;
    mno_error *e;
    tok toks[64];
    size_t ntok;
} parser;

static void toks_clear(parser *ps) { mno_lex_clear(ps->toks, &ps->ntok); }

static int perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mno_verr(ps->e, MNO_E_SCOPE, ps->file, ps->line, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

/* Splits one line (comment already allowed) into tokens. Returns 0 or -1. */
static int tokenize(parser *ps, const char *p, const char *end)
{
    mno_lex_at at = {ps->file, ps->line, ps->e};
    return mno_lex_line(&scope_syntax, &at, p, end, ps->toks, sizeof ps->toks / sizeof ps->toks[0], &ps->ntok);
}

/* A name: dot-separated non-empty parts (dots inside quotes are part of a part). */
static int valid_name(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = mno_lex_next_dot(p);
        if ((dot ? dot : p + strlen(p)) == p)
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

static int valid_col(const char *s)
{
    return valid_name(s);
}

static int want_word(parser *ps, size_t i, const char *what, const char *after)
{
    if (i < ps->ntok && ps->toks[i].kind == T_WORD)
        return 0;
    if (i < ps->ntok)
        return perr(ps, "expected %s after '%s', found '%s'", what, after, mno_tok_desc(&ps->toks[i]));
    return perr(ps, "expected %s after '%s'", what, after);
}

/* Splits "ns.col" at the last dot into r->ref_ns and r->ref_col. */
static int parse_ref(parser *ps, size_t i, mno_scope_rule *r)
{
    if (want_word(ps, i, "TABLE.COLUMN", "->") < 0)
        return -1;
    const char *s = ps->toks[i].s, *dot = NULL;
    for (const char *d = mno_lex_next_dot(s); d; d = mno_lex_next_dot(d + 1))
        dot = d;   /* the last dot outside quotes */
    if (!valid_name(s) || !dot)
        return perr(ps, "expected TABLE.COLUMN after '->', found '%s'", s);
    int bad;
    r->ref_ns = strndup(s, (size_t)(dot - s));
    r->ref_col = mno_lex_col(dot + 1, &bad);
    if (bad)
        return perr(ps, "bad column name '%s' after '->'", dot + 1);
    if (!r->ref_ns || !r->ref_col)
        return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    return 0;
}

static int set_cols(parser *ps, mno_scope_rule *r, size_t from, size_t to)
{
    r->cols = calloc(to - from, sizeof *r->cols);
    if (!r->cols)
        return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = from; i < to; i++) {
        int bad;
        if (!valid_col(ps->toks[i].s))
            return perr(ps, "bad column name '%s'", ps->toks[i].s);
        r->cols[r->ncols] = mno_lex_col(ps->toks[i].s, &bad);
        if (bad)
            return perr(ps, "bad column name '%s'", ps->toks[i].s);
        if (!r->cols[r->ncols++])
            return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    return 0;
}

static int no_more(parser *ps, size_t i)
{
    if (i < ps->ntok)
        return perr(ps, "unexpected '%s' at the end of the rule", mno_tok_desc(&ps->toks[i]));
    return 0;
}

static int split_path(parser *ps, mno_scope_rule *r, const char *s)
{
    if (!valid_name(s))
        return perr(ps, "bad key path '%s'", s);
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '.';
    r->path = calloc(n, sizeof *r->path);
    if (!r->path)
        return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        r->path[r->npath] = strndup(p, len);
        if (!r->path[r->npath++])
            return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        if (!dot)
            break;
        p = dot + 1;
    }
    return 0;
}

/* Builds r->text, the canonical form of the rule. */
static int rule_text(mno_scope_rule *r)
{
    mno_buf b = MNO_BUF_INIT;
    int rc = 0;
    rc |= mno_buf_adds(&b, mno_scope_kind_name(r->kind));
    switch (r->kind) {
    case MNO_SCOPE_ROOT:
        for (size_t i = 0; i < r->ncols; i++)
            rc |= mno_buf_addf(&b, " %s", r->cols[i]);
        break;
    case MNO_SCOPE_PARENT:
        rc |= mno_buf_addf(&b, " %s -> %s.%s", r->cols[0], r->ref_ns, r->ref_col);
        if (r->guard_null) {
            rc |= mno_buf_addf(&b, " when %s is null", r->guard_col);
        } else if (r->guard_col) {
            rc |= mno_buf_addf(&b, " when %s = '", r->guard_col);
            for (const char *p = r->guard_val; *p; p++)
                rc |= *p == '\'' ? mno_buf_adds(&b, "''") : mno_buf_addc(&b, *p);
            rc |= mno_buf_addc(&b, '\'');
        }
        break;
    case MNO_SCOPE_UIDS:
        rc |= mno_buf_addf(&b, " %s %s", r->uids_json ? "json" : "text", r->cols[0]);
        if (r->npath) {
            rc |= mno_buf_adds(&b, " at ");
            for (size_t i = 0; i < r->npath; i++)
                rc |= mno_buf_addf(&b, "%s%s", i ? "." : "", r->path[i]);
        }
        rc |= mno_buf_addf(&b, " -> %s.%s", r->ref_ns, r->ref_col);
        break;
    case MNO_SCOPE_MATCH:
        rc |= mno_buf_addf(&b, " %s in %s", r->cols[0], r->set);
        break;
    default:
        break;
    }
    if (rc) {
        mno_buf_release(&b);
        return -1;
    }
    r->text = b.data;
    return 0;
}

/* 1 when token i is a rule's keyword that can be a part of an 'and' group. */
static int part_keyword(const parser *ps, size_t i)
{
    if (i >= ps->ntok || ps->toks[i].kind != T_WORD)
        return 0;
    const char *s = ps->toks[i].s;
    return strcmp(s, "root") == 0 || strcmp(s, "parent") == 0 || strcmp(s, "uids") == 0 ||
           strcmp(s, "match") == 0;
}

/* The end of the rule that starts at token i: the next 'and' followed by a rule keyword, or
   the end of the line. */
static size_t part_end(const parser *ps, size_t i)
{
    for (size_t j = i + 1; j < ps->ntok; j++)
        if (ps->toks[j].kind == T_WORD && strcmp(ps->toks[j].s, "and") == 0 &&
            (j + 1 == ps->ntok || part_keyword(ps, j + 1)))
            return j;
    return ps->ntok;
}

/* Parses the rule whose keyword is token i (the tokens up to ps->ntok) into r, whose name is
   set. Returns 0 or -1. */
static int parse_body(parser *ps, mno_scope_rule *r, size_t i)
{
    if (i >= ps->ntok)
        return perr(ps, "%s: missing rule after %s", r->name, i == 2 ? "':'" : "'and'");
    if (ps->toks[i].kind != T_WORD)
        return perr(ps, "%s: expected a rule after %s, found '%s'", r->name, i == 2 ? "':'" : "'and'",
                    mno_tok_desc(&ps->toks[i]));
    const char *kw = ps->toks[i].s;
    i++;
    if (strcmp(kw, "global") == 0 || strcmp(kw, "skip") == 0) {
        r->kind = kw[0] == 'g' ? MNO_SCOPE_GLOBAL : MNO_SCOPE_SKIP;
        if (no_more(ps, i) < 0)
            return -1;
    } else if (strcmp(kw, "root") == 0) {
        r->kind = MNO_SCOPE_ROOT;
        size_t j = i;
        while (j < ps->ntok && ps->toks[j].kind == T_WORD)
            j++;
        if (j == i)
            return perr(ps, "root: expected at least one column");
        if (no_more(ps, j) < 0 || set_cols(ps, r, i, j) < 0)
            return -1;
    } else if (strcmp(kw, "parent") == 0) {
        r->kind = MNO_SCOPE_PARENT;
        if (want_word(ps, i, "COLUMN", "parent") < 0 || set_cols(ps, r, i, i + 1) < 0)
            return -1;
        i++;
        if (i >= ps->ntok || ps->toks[i].kind != T_ARROW)
            return perr(ps, "parent: expected '->' after '%s'", r->cols[0]);
        if (parse_ref(ps, ++i, r) < 0)
            return -1;
        i++;
        if (i < ps->ntok && ps->toks[i].kind == T_WORD && strcmp(ps->toks[i].s, "when") == 0) {
            i++;
            if (want_word(ps, i, "COLUMN", "when") < 0)
                return -1;
            if (!valid_col(ps->toks[i].s))
                return perr(ps, "bad column name '%s'", ps->toks[i].s);
            if (i + 2 < ps->ntok && ps->toks[i + 1].kind == T_WORD && strcmp(ps->toks[i + 1].s, "is") == 0 &&
                ps->toks[i + 2].kind == T_WORD && strcmp(ps->toks[i + 2].s, "null") == 0) {
                r->guard_null = 1;   /* when COLUMN is null */
            } else if (i + 2 >= ps->ntok || ps->toks[i + 1].kind != T_EQ || ps->toks[i + 2].kind != T_STRING) {
                return perr(ps, "when: expected COLUMN = 'VALUE' or COLUMN is null");
            }
            int bad;
            r->guard_col = mno_lex_col(ps->toks[i].s, &bad);
            if (bad)
                return perr(ps, "bad column name '%s'", ps->toks[i].s);
            r->guard_val = r->guard_null ? NULL : strdup(ps->toks[i + 2].s);
            if (!r->guard_col || (!r->guard_null && !r->guard_val))
                return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            i += 3;
        }
        if (no_more(ps, i) < 0)
            return -1;
    } else if (strcmp(kw, "uids") == 0) {
        r->kind = MNO_SCOPE_UIDS;
        if (i >= ps->ntok || ps->toks[i].kind != T_WORD ||
            (strcmp(ps->toks[i].s, "text") != 0 && strcmp(ps->toks[i].s, "json") != 0))
            return perr(ps, "uids: expected 'text' or 'json' after 'uids'");
        r->uids_json = ps->toks[i].s[0] == 'j';
        i++;
        if (want_word(ps, i, "COLUMN", r->uids_json ? "json" : "text") < 0 || set_cols(ps, r, i, i + 1) < 0)
            return -1;
        i++;
        if (i < ps->ntok && ps->toks[i].kind == T_WORD && strcmp(ps->toks[i].s, "at") == 0) {
            if (!r->uids_json)
                return perr(ps, "uids: 'at' needs a json column");
            i++;
            if (want_word(ps, i, "KEY", "at") < 0 || split_path(ps, r, ps->toks[i].s) < 0)
                return -1;
            i++;
        }
        if (i >= ps->ntok || ps->toks[i].kind != T_ARROW)
            return perr(ps, "uids: expected '->' after '%s'", ps->toks[i - 1].s);
        if (parse_ref(ps, ++i, r) < 0)
            return -1;
        if (no_more(ps, i + 1) < 0)
            return -1;
    } else if (strcmp(kw, "match") == 0) {
        r->kind = MNO_SCOPE_MATCH;
        if (want_word(ps, i, "FIELD", "match") < 0 || set_cols(ps, r, i, i + 1) < 0)
            return -1;
        i++;
        if (i >= ps->ntok || ps->toks[i].kind != T_WORD || strcmp(ps->toks[i].s, "in") != 0)
            return perr(ps, "match: expected 'in' after '%s'", r->cols[0]);
        i++;
        if (want_word(ps, i, "SET", "in") < 0)
            return -1;
        r->set = strdup(ps->toks[i].s);
        if (!r->set)
            return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        if (no_more(ps, i + 1) < 0)
            return -1;
    } else {
        return perr(ps, "%s: unknown rule '%s' (expected root, parent, uids, match, global or skip)",
                    r->name, kw);
    }
    if ((r->kind == MNO_SCOPE_PARENT || r->kind == MNO_SCOPE_UIDS) && strcmp(r->ref_ns, r->name) == 0)
        return perr(ps, "%s: a table cannot link to itself", r->name);
    if (rule_text(r) < 0)
        return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    return 0;
}

/*
 * Parses one rule line: NAME: RULE [and RULE ...] into *n consecutive rules from r (room for
 * as many as the line has tokens), each but the last with and_next set. Returns 0 or -1
 * (*n: the rules filled, to be released).
 */
static int parse_line(parser *ps, mno_scope_rule *r, size_t *n)
{
    *n = 0;
    if (ps->toks[0].kind != T_WORD || ps->ntok < 2 || ps->toks[1].kind != T_COLON)
        return perr(ps, "expected 'NAME: RULE'");
    if (!valid_name(ps->toks[0].s))
        return perr(ps, "bad name '%s'", ps->toks[0].s);
    size_t total = ps->ntok, i = 2;
    int rc = 0;
    do {
        size_t end = i < total ? part_end(ps, i) : total;
        mno_scope_rule *p = &r[(*n)++];
        memset(p, 0, sizeof *p);
        if (!(p->name = strdup(ps->toks[0].s)))
            return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        ps->ntok = end;   /* the part's tokens only */
        rc = parse_body(ps, p, i);
        ps->ntok = total;
        if (rc < 0)
            return -1;
        if (end < total && (p->kind == MNO_SCOPE_GLOBAL || p->kind == MNO_SCOPE_SKIP))
            return perr(ps, "%s: '%s' cannot be part of an 'and' group", p->name, mno_scope_kind_name(p->kind));
        p->and_next = end < total;
        i = end + 1;
    } while (i <= total && r[*n - 1].and_next);
    return 0;
}

static void rule_release(mno_scope_rule *r)
{
    free(r->name);
    for (size_t i = 0; i < r->ncols; i++)
        free(r->cols[i]);
    free(r->cols);
    free(r->ref_ns);
    free(r->ref_col);
    free(r->guard_col);
    free(r->guard_val);
    for (size_t i = 0; i < r->npath; i++)
        free(r->path[i]);
    free(r->path);
    free(r->set);
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* Rules that contradict each other across lines. */
static int check_rules(parser *ps, const mno_scope *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const mno_scope_rule *r = &s->rules[i];
        for (size_t j = 0; j < i; j++) {
            const mno_scope_rule *q = &s->rules[j];
            if (strcmp(q->name, r->name) != 0)
                continue;
            ps->line = r->line;
            int grouped = r->and_next || q->and_next || (i && s->rules[i - 1].and_next) ||
                          (j && s->rules[j - 1].and_next);
            if (q->line == r->line && strcmp(q->text, r->text) == 0)
                return perr(ps, "%s: the same rule twice in one 'and' group", r->name);
            if (!grouped && strcmp(q->text, r->text) == 0)
                return perr(ps, "%s: duplicate rule (line %d)", r->name, q->line);
            int qw = q->kind == MNO_SCOPE_GLOBAL || q->kind == MNO_SCOPE_SKIP;
            int rw = r->kind == MNO_SCOPE_GLOBAL || r->kind == MNO_SCOPE_SKIP;
            if (qw || rw)
                return perr(ps, "%s: '%s' cannot be combined with other rules (line %d: %s)",
                            r->name, mno_scope_kind_name(rw ? r->kind : q->kind), q->line, q->text);
        }
    }
    return 0;
}

mno_scope *mno_scope_parse(const char *text, size_t len, const char *file, mno_error *e)
{
    parser ps = {.file = file ? file : "<scope>", .line = 0, .e = e};
    mno_scope *s = calloc(1, sizeof *s);
    size_t cap = 0;
    if (!s || !(s->file = strdup(ps.file))) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    ps.file = s->file;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        ps.line++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            perr(&ps, "unexpected NUL byte");
            goto fail;
        }
        if (tokenize(&ps, p, eol) < 0)
            goto fail;
        p = nl ? nl + 1 : end;
        if (ps.ntok == 0)
            continue;
        while (s->n + ps.ntok > cap) {   /* a line holds at most one rule per token */
            size_t nc = cap ? cap * 2 : 32;
            mno_scope_rule *nr = realloc(s->rules, nc * sizeof *nr);
            if (!nr) {
                mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto fail;
            }
            s->rules = nr;
            cap = nc;
        }
        mno_scope_rule *r = &s->rules[s->n];
        size_t nr = 0;
        int prc = parse_line(&ps, r, &nr);
        s->n += nr;
        for (size_t k = 0; k < nr; k++) {
            r[k].file = s->file;
            r[k].line = ps.line;
        }
        if (prc < 0)
            goto fail;
        toks_clear(&ps);
    }
    if (check_rules(&ps, s) < 0)
        goto fail;
    return s;
fail:
    toks_clear(&ps);
    mno_scope_free(s);
    return NULL;
}

mno_scope *mno_scope_load(const char *path, mno_error *e)
{
    mno_buf b = MNO_BUF_INIT;
    mno_scope *s = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open scope file: %s", strerror(errno));
        goto done;
    }
    int rd = mno_buf_add_file(&b, f);
    if (rd == -1) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    if (rd < 0) {
        mno_err(e, MNO_E_IO, path, 0, NULL, "cannot read scope file: %s", strerror(errno));
        goto done;
    }
    s = mno_scope_parse(b.data ? b.data : "", b.len, path, e);
done:
    if (f)
        fclose(f);
    mno_buf_release(&b);
    return s;
}

void mno_scope_free(mno_scope *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        rule_release(&s->rules[i]);
    free(s->rules);
    free(s->file);
    free(s);
}

/* Qualifies *name with prefix when it has no dot outside quotes, then writes it in the
   archive's ns form (pgname.h: `public.Users` and `public."Users"` are one table). */
static int qualify(char **name, const char *prefix)
{
    if (!*name)
        return 0;
    if (!mno_lex_next_dot(*name)) {
        size_t n = strlen(prefix) + strlen(*name) + 2;
        char *q = malloc(n);
        if (!q)
            return -1;
        snprintf(q, n, "%s.%s", prefix, *name);
        free(*name);
        *name = q;
    }
    const char *why;
    char *c = mno_pgns_canon(*name, &why);
    if (!c)
        return why ? 0 : -1;   /* the tokenizer's checks make the name well-formed */
    free(*name);
    *name = c;
    return 0;
}

int mno_scope_qualify(mno_scope *s, const char *prefix, mno_error *e)
{
    for (size_t i = 0; i < s->n; i++) {
        mno_scope_rule *r = &s->rules[i];
        if (qualify(&r->name, prefix) < 0 || qualify(&r->ref_ns, prefix) < 0)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        if (r->ref_ns) {
            free(r->text);
            r->text = NULL;
            if (rule_text(r) < 0)
                return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        }
    }
    return 0;
}

size_t mno_scope_find(const mno_scope *s, const char *name, size_t *idx, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->rules[i].name, name) == 0) {
            if (k < max)
                idx[k] = i;
            k++;
        }
    return k;
}

const char *mno_scope_kind_name(mno_scope_kind k)
{
    switch (k) {
    case MNO_SCOPE_ROOT: return "root";
    case MNO_SCOPE_PARENT: return "parent";
    case MNO_SCOPE_UIDS: return "uids";
    case MNO_SCOPE_MATCH: return "match";
    case MNO_SCOPE_GLOBAL: return "global";
    case MNO_SCOPE_SKIP: return "skip";
    }
    return "?";
}
