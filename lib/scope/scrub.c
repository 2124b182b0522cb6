/* scrub.c: the scrub rule file parser (scope file syntax, every error file:line) and the actions. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include "args.h"
#include "lex.h"
#include "scrub.h"

/* Tokens: lib/scope/lex.c, the tokenizer the scope and rules files share. */
typedef mno_tok tok;
#define T_WORD MNO_TOK_WORD
#define T_STRING MNO_TOK_STRING
#define T_COLON MNO_TOK_COLON
#define T_EQ MNO_TOK_EQ

/* Scrub files: words of letters, digits, '_', '$', '.', '-', the globs' '*' and '?', and
   UTF-8 (MongoDB field names), with "quoted" parts; ':', '='. */
static const mno_lex_syntax scrub_syntax = {"-*?", 1, 0, 0};

/* The parser's state: where it is, for messages. */
typedef struct parser {
    const char *file;
    int line;
    mno_error *e;
    tok toks[128];
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

static int nomem(parser *ps) { return mno_err(ps->e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

static const char *tok_desc(const tok *t) { return mno_tok_desc(t); }

/* Splits one line into tokens: words (a "double-quoted" part is one part of a name, as in a
   quoted PostgreSQL name), 'strings' ('' inside is one '), ':' and '='; '#' starts a comment. */
static int tokenize(parser *ps, const char *p, const char *end)
{
    mno_lex_at at = {ps->file, ps->line, ps->e};
    return mno_lex_line(&scrub_syntax, &at, p, end, ps->toks, sizeof ps->toks / sizeof ps->toks[0], &ps->ntok);
}

/* A name: dot-separated non-empty parts (a dot inside a "quoted" part is part of it). */
static int valid_name(const char *s)
{
    for (const char *p = s;;) {
        const char *dot = mno_lex_next_dot(p);
        if ((dot ? dot : p + strlen(p)) == p)
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

const char *mno_scrub_action_name(mno_scrub_action a)
{
    switch (a) {
    case MNO_SCRUB_NULL: return "null";
    case MNO_SCRUB_DROP: return "drop";
    case MNO_SCRUB_SET: return "set";
    case MNO_SCRUB_HASH: return "hash";
    case MNO_SCRUB_EMAIL: return "email";
    case MNO_SCRUB_MAP: return "map";
    }
    return "?";
}

static int add_rule(parser *ps, mno_scrub *s, const char *ns, const char *col, mno_scrub_action a,
                    const char *value, const char *source)
{
    for (size_t i = 0; i < s->n; i++) {
        const mno_scrub_rule *o = &s->rules[i];
        if (strcmp(o->ns, ns) == 0 && strcmp(o->col, col) == 0 &&
            ((!o->source && !source) || (o->source && source && strcmp(o->source, source) == 0)))
            return perr(ps, "%s.%s already has a rule (line %d)", ns, col, o->line);
    }
    mno_scrub_rule *r = realloc(s->rules, (s->n + 1) * sizeof *r);
    if (!r)
        return nomem(ps);
    s->rules = r;
    r = &s->rules[s->n];
    memset(r, 0, sizeof *r);
    r->ns = strdup(ns);
    r->col = strdup(col);
    r->value = value ? strdup(value) : NULL;
    r->source = source ? strdup(source) : NULL;
    r->action = a;
    r->line = ps->line;
    s->n++;
    if (!r->ns || !r->col || (value && !r->value) || (source && !r->source))
        return nomem(ps);
    if (a == MNO_SCRUB_HASH || a == MNO_SCRUB_EMAIL)
        s->need_key = 1;
    return 0;
}

/* One rule line, tokenized. */
static int parse_rule(parser *ps, mno_scrub *s)
{
    static const struct { const char *w; mno_scrub_action a; } acts[] = {
        {"null", MNO_SCRUB_NULL}, {"drop", MNO_SCRUB_DROP}, {"set", MNO_SCRUB_SET},
        {"hash", MNO_SCRUB_HASH}, {"email", MNO_SCRUB_EMAIL}};
    tok *t = ps->toks;
    size_t n = ps->ntok, i = 2, end;
    const char *value = NULL, *source = NULL;
    mno_scrub_action a = 0;
    if (t[0].kind != T_WORD || n < 2 || t[1].kind != T_COLON)
        return perr(ps, "expected 'TABLE: ACTION COLUMN...' (a rule starts with a table or collection and ':')");
    if (!valid_name(t[0].s) || !mno_lex_next_dot(t[0].s))
        return perr(ps, "bad table name '%s' (expected SCHEMA.TABLE or DATABASE.COLLECTION)", t[0].s);
    if (n < 3)
        return perr(ps, "expected an action after ':' (null, drop, set, hash or email)");
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++)
        if (t[2].kind == T_WORD && strcmp(t[2].s, acts[k].w) == 0)
            a = acts[k].a;
    if (!a)
        return perr(ps, "unknown action '%s' (expected null, drop, set, hash or email)", tok_desc(&t[2]));
    i = 3;
    if (a == MNO_SCRUB_SET) {
        if (i >= n || t[i].kind != T_STRING)
            return perr(ps, "set needs a value in single quotes: set 'VALUE' COLUMN...");
        value = t[i++].s;
    }
    /* an optional guard at the end: when source = 'KIND' */
    end = n;
    for (size_t k = i; k < n; k++)
        if (t[k].kind == T_WORD && strcmp(t[k].s, "when") == 0) {
            if (k + 4 != n || t[k + 1].kind != T_WORD || strcmp(t[k + 1].s, "source") != 0 || t[k + 2].kind != T_EQ ||
                t[k + 3].kind != T_STRING)
                return perr(ps, "expected when source = 'KIND' at the end of the rule");
            source = t[k + 3].s;
            end = k;
            break;
        }
    if (i >= end)
        return perr(ps, "expected a column after '%s'", mno_scrub_action_name(a));
    for (; i < end; i++) {
        if (t[i].kind != T_WORD)
            return perr(ps, "unexpected '%s' where a column was expected", tok_desc(&t[i]));
        if (!valid_name(t[i].s))
            return perr(ps, "bad column name '%s'", t[i].s);
        /* a "quoted" column unquoted; a MongoDB path's parts each */
        char *col = mno_lex_path(t[i].s);
        if (!col)
            return nomem(ps);
        int rc = add_rule(ps, s, t[0].s, col, a, value, source);
        free(col);
        if (rc < 0)
            return -1;
    }
    return 0;
}

mno_scrub *mno_scrub_parse(const char *text, size_t len, const char *file, mno_error *e)
{
    mno_scrub *s = calloc(1, sizeof *s);
    parser ps = {.file = file, .line = 0, .e = e, .ntok = 0};
    const char *p = text, *end = text + len;
    if (!s || !(s->file = strdup(file))) {
        free(s);
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        return NULL;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        ps.line++;
        int rc = tokenize(&ps, p, le);
        if (rc == 0 && ps.ntok > 0)
            rc = parse_rule(&ps, s);
        toks_clear(&ps);
        if (rc < 0) {
            mno_scrub_free(s);
            return NULL;
        }
        p = nl ? nl + 1 : end;
    }
    return s;
}

mno_scrub *mno_scrub_load(const char *path, mno_error *e)
{
    FILE *f = fopen(path, "rb");
    mno_buf b = MNO_BUF_INIT;
    if (!f) {
        mno_err(e, MNO_E_IO, path, 0, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    int rd = mno_buf_add_file(&b, f);
    if (rd < 0) {
        if (rd == -1)
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        else
            mno_err(e, MNO_E_IO, path, 0, NULL, "read error: %s", strerror(errno));
        fclose(f);
        mno_buf_release(&b);
        return NULL;
    }
    fclose(f);
    mno_scrub *s = mno_scrub_parse(b.data ? b.data : "", b.len, path, e);
    mno_buf_release(&b);
    return s;
}

/* Appends the presets in dir (its *.scrub files' names, sorted, comma-separated) to b. */
static void preset_names(const char *dir, mno_buf *b)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list[i]->d_name);
        if (l > 6 && strcmp(list[i]->d_name + l - 6, ".scrub") == 0 && list[i]->d_name[0] != '.') {
            if (b->len)
                mno_buf_adds(b, ", ");
            mno_buf_add(b, list[i]->d_name, l - 6);
        }
        free(list[i]);
    }
    free(list);
}

mno_scrub *mno_scrub_preset(const char *name, mno_error *e)
{
    char dir[PATH_MAX], path[PATH_MAX + 300];
    struct stat st;
    mno_buf names = MNO_BUF_INIT;
    if (!*name || strlen(name) > 200 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(name)) {
        char shown[MNO_NAME_MSG_MAX];
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--preset: '%s' is not a preset name (letters, digits, '-' and '_')",
                mno_name_msg(name, shown, sizeof shown));
        return NULL;
    }
    mno_default_scope_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s.scrub", dir, name);
    if (stat(path, &st) < 0 && errno == ENOENT) {
        preset_names(dir, &names);
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "unknown preset '%s': no %s.scrub in %s (presets there: %s; the directory is $MNO_SCOPE_DIR, else filters/ beside the tools)",
                name, name, dir, names.len ? names.data : "none");
        mno_buf_release(&names);
        return NULL;
    }
    return mno_scrub_load(path, e);
}

void mno_scrub_free(mno_scrub *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->rules[i].ns);
        free(s->rules[i].col);
        free(s->rules[i].value);
        free(s->rules[i].source);
        free(s->rules[i].from);
    }
    free(s->rules);
    free(s->file);
    free(s);
}

/* ---- HMAC-SHA-256 ---- */

struct mno_hmac {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

mno_hmac *mno_hmac_new(const void *key, size_t len)
{
    mno_hmac *h = calloc(1, sizeof *h);
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                            OSSL_PARAM_construct_end()};
    if (!h || !(h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(h->ctx = EVP_MAC_CTX_new(h->mac)) ||
        !EVP_MAC_init(h->ctx, key, len, params)) {
        mno_hmac_free(h);
        return NULL;
    }
    return h;
}

int mno_hmac_hex(mno_hmac *h, const void *p, size_t n, mno_buf *out)
{
    unsigned char md[32];
    size_t mdlen = 0;
    char hex[65];
    if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) || !EVP_MAC_update(h->ctx, p, n) ||
        !EVP_MAC_final(h->ctx, md, &mdlen, sizeof md) || mdlen != 32)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    return mno_buf_add(out, hex, 64);
}

void mno_hmac_free(mno_hmac *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    free(h);
}

/* ---- actions ---- */

int mno_scrub_text(mno_scrub_action a, const char *value, mno_hmac *h, const char *v, size_t n, mno_buf *out,
                   int *isnull)
{
    *isnull = 0;
    switch (a) {
    case MNO_SCRUB_NULL:
    case MNO_SCRUB_DROP:
        *isnull = 1;
        return 0;
    case MNO_SCRUB_SET:
        return mno_buf_adds(out, value ? value : "");
    case MNO_SCRUB_MAP:
        return -1;
    case MNO_SCRUB_HASH:
    case MNO_SCRUB_EMAIL:
        if (!v) {
            *isnull = 1;
            return 0;
        }
        if (a == MNO_SCRUB_EMAIL) {
            const char *at = NULL;
            for (size_t k = n; k > 0 && !at; k--)
                if (v[k - 1] == '@')
                    at = v + k - 1;
            if (at)
                return mno_hmac_hex(h, v, (size_t)(at - v), out) < 0 ? -1 : mno_buf_add(out, at, n - (size_t)(at - v));
        }
        return mno_hmac_hex(h, v, n, out);
    }
    return -1;
}

/* The canonical Extended JSON of the value at it (hash of a value that is not a string). */
static int value_text(const bson_iter_t *it, mno_buf *out)
{
    bson_t one = BSON_INITIALIZER;
    size_t len = 0;
    int rc = -1;
    if (bson_append_value(&one, "", 0, bson_iter_value((bson_iter_t *)it))) {
        char *s = bson_as_canonical_extended_json(&one, &len);
        /* { "" : VALUE } */
        if (s && len > 9) {
            rc = mno_buf_add(out, s + 7, len - 9);
        }
        bson_free(s);
    }
    bson_destroy(&one);
    return rc;
}

/* One level: paths[i] the rest of rule i's path here (NULL: not on this branch). */
static int scrub_level(const bson_t *doc, const char *const *paths, mno_scrub_rule *const *rules, size_t n,
                       mno_hmac *h, bson_t *out, int *changed, int *hits, int depth)
{
    bson_iter_t it;
    const char *sub[64];
    mno_buf tmp = MNO_BUF_INIT, val = MNO_BUF_INIT;
    int rc = -1;
    if (n > 64 || depth > 100 || !bson_iter_init(&it, doc))
        return -1;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        size_t klen = bson_iter_key_len(&it);
        int leaf = -1, deeper = 0;
        for (size_t i = 0; i < n; i++) {
            sub[i] = NULL;
            if (!paths[i] || strncmp(paths[i], key, klen) != 0)
                continue;
            if (paths[i][klen] == 0 && leaf < 0)
                leaf = (int)i;
            else if (paths[i][klen] == '.') {
                sub[i] = paths[i] + klen + 1;
                deeper = 1;
            }
        }
        if (leaf >= 0) {
            mno_scrub_rule *r = rules[leaf];
            if (hits)
                hits[leaf] = 1;
            bson_type_t ty = bson_iter_type(&it);
            if (r->action == MNO_SCRUB_MAP) {
                /* every map on this field: the first whose old value it is maps it */
                uint32_t slen = 0;
                const char *sv = ty == BSON_TYPE_UTF8 ? bson_iter_utf8(&it, &slen) : NULL;
                mno_scrub_rule *hit = NULL;
                for (size_t j = (size_t)leaf; sv && j < n; j++) {
                    mno_scrub_rule *m = rules[j];
                    if (!paths[j] || m->action != MNO_SCRUB_MAP || strncmp(paths[j], key, klen) != 0 || paths[j][klen])
                        continue;
                    if (hits)
                        hits[j] = 1;
                    if (!hit && slen == strlen(m->from) && memcmp(sv, m->from, slen) == 0)
                        hit = m;
                    else if (slen == strlen(m->value) && memcmp(sv, m->value, slen) == 0)
                        m->clash++;
                }
                if (hit) {
                    hit->changed++;
                    *changed = 1;
                    if (!bson_append_utf8(out, key, (int)klen, hit->value, -1))
                        goto done;
                } else if (!bson_append_iter(out, NULL, 0, &it)) {
                    goto done;
                }
                continue;
            }
            if (r->action == MNO_SCRUB_DROP) {
                *changed = 1;
                continue;
            }
            if (r->action == MNO_SCRUB_NULL || (ty == BSON_TYPE_NULL && r->action != MNO_SCRUB_SET)) {
                if (ty != BSON_TYPE_NULL)
                    *changed = 1;
                if (!bson_append_null(out, key, (int)klen))
                    goto done;
                continue;
            }
            mno_buf_reset(&val);
            mno_buf_reset(&tmp);
            int isnull;
            const char *s;
            uint32_t slen = 0;
            if (ty == BSON_TYPE_UTF8) {
                s = bson_iter_utf8(&it, &slen);
            } else {
                if (value_text(&it, &tmp) < 0)
                    goto done;
                s = tmp.data ? tmp.data : "";
                slen = (uint32_t)tmp.len;
            }
            if (mno_scrub_text(r->action, r->value, h, s, slen, &val, &isnull) < 0 ||
                (!val.data && mno_buf_grow(&val, 1) < 0))
                goto done;
            if (ty != BSON_TYPE_UTF8 || val.len != slen || memcmp(val.data, s, slen) != 0)
                *changed = 1;
            if (!bson_append_utf8(out, key, (int)klen, val.data, (int)val.len))
                goto done;
            continue;
        }
        if (deeper && (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it))) {
            const uint8_t *data;
            uint32_t dlen;
            bson_t inner, child;
            int isarr = BSON_ITER_HOLDS_ARRAY(&it);
            if (isarr)
                bson_iter_array(&it, &dlen, &data);
            else
                bson_iter_document(&it, &dlen, &data);
            if (!bson_init_static(&inner, data, dlen))
                goto done;
            if (!(isarr ? bson_append_array_begin(out, key, (int)klen, &child)
                        : bson_append_document_begin(out, key, (int)klen, &child)))
                goto done;
            if (!isarr) {
                if (scrub_level(&inner, sub, rules, n, h, &child, changed, hits, depth + 1) < 0)
                    goto done;
            } else {
                /* an array: the path goes on in each of its documents */
                bson_iter_t ai;
                if (!bson_iter_init(&ai, &inner))
                    goto done;
                while (bson_iter_next(&ai)) {
                    if (BSON_ITER_HOLDS_DOCUMENT(&ai)) {
                        bson_t ed, ec;
                        bson_iter_document(&ai, &dlen, &data);
                        if (!bson_init_static(&ed, data, dlen) ||
                            !bson_append_document_begin(&child, bson_iter_key(&ai), -1, &ec) ||
                            scrub_level(&ed, sub, rules, n, h, &ec, changed, hits, depth + 1) < 0 ||
                            !bson_append_document_end(&child, &ec))
                            goto done;
                    } else if (!bson_append_iter(&child, NULL, 0, &ai)) {
                        goto done;
                    }
                }
            }
            if (!(isarr ? bson_append_array_end(out, &child) : bson_append_document_end(out, &child)))
                goto done;
            continue;
        }
        if (!bson_append_iter(out, NULL, 0, &it))
            goto done;
    }
    rc = 0;
done:
    mno_buf_release(&tmp);
    mno_buf_release(&val);
    return rc;
}

int mno_scrub_bson(const bson_t *doc, mno_scrub_rule *const *rules, size_t n, mno_hmac *h, bson_t *out,
                   int *changed, int *hits)
{
    const char *paths[64];
    if (n > 64)
        return -1;
    for (size_t i = 0; i < n; i++)
        paths[i] = rules[i]->col;
    *changed = 0;
    return scrub_level(doc, paths, rules, n, h, out, changed, hits, 0);
}
