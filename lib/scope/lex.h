/* lex.h: the one tokenizer of the scope, rules and scrub files (docs/scope.md): words with "quoted identifier" parts, 'strings', punctuation. */
#ifndef MNO_LEX_H
#define MNO_LEX_H

#include <stddef.h>
#include "error.h"

typedef enum mno_tok_kind {
    MNO_TOK_WORD = 1,   /* a name, keyword or bare value: text as written, quotes included */
    MNO_TOK_STRING,     /* a 'single-quoted' value: its text, '' read as one quote */
    MNO_TOK_ARROW,      /* -> (syntaxes with arrow) */
    MNO_TOK_COLON,      /* : */
    MNO_TOK_EQ,         /* = */
    MNO_TOK_COMMA       /* , (syntaxes with comma) */
} mno_tok_kind;

typedef struct mno_tok {
    mno_tok_kind kind;
    char *s;            /* WORD / STRING text (owned; NULL for punctuation) */
    int quoted;         /* WORD: 1 when it holds a "quoted identifier" part */
} mno_tok;

/* What one kind of file accepts, besides what every one does: blanks (space, tab, CR), '#'
   starting a comment outside a string, ':', '=', 'strings', and words of ASCII letters,
   digits, '_', '$' and '.' in which each dot-separated part may be one "quoted identifier"
   ("" inside is a quote; the part ends at its closing quote). */
typedef struct mno_lex_syntax {
    const char *punct;  /* more word characters ("-", "-+*") */
    int high_bytes;     /* bytes 0x80..0xff are word characters (UTF-8 names unquoted) */
    int arrow;          /* "->" is a token ('-' just before '>' is not a word character) */
    int comma;          /* ',' is a token */
} mno_lex_syntax;

/* Where the lexer is, for messages: errors are MNO_E_SCOPE "file:line: what is wrong". */
typedef struct mno_lex_at {
    const char *file;
    int line;
    mno_error *e;
} mno_lex_at;

/*
 * Splits the line p[0..end) into tokens appended at toks[*ntok] (at most max in all; more is
 * "too many words on one line"). Errors: "unterminated string", "unexpected character 'c'"
 * (or 0xNN), for quoted parts "unterminated quoted identifier \"...", "empty quoted identifier
 * in '...'", "malformed quoting in '...': a quote in the middle of a name part" and "...: text
 * after a closing quote". Returns 0, or -1 with at->e filled (the tokens made so far stay in
 * toks: mno_lex_clear frees them).
 */
int mno_lex_line(const mno_lex_syntax *syn, const mno_lex_at *at, const char *p, const char *end, mno_tok *toks,
                 size_t max, size_t *ntok);
/* Frees toks[0..*ntok) and sets *ntok to 0. */
void mno_lex_clear(mno_tok *toks, size_t *ntok);
/* The token as written, for messages ("->", ":", "=", ",", or its text). */
const char *mno_tok_desc(const mno_tok *t);

/* The first '.' of s outside double quotes at or after s, or NULL (quotes balanced, as in a
   word the lexer made). */
const char *mno_lex_next_dot(const char *s);
/* A column as written: a word starting with a quote is one "quoted identifier", unquoted;
   any other word is the name as it is. Returns a malloc'd name, or NULL: *bad set when a
   word starting with a quote is not exactly one quoted part, else out of memory. */
char *mno_lex_col(const char *word, int *bad);
/* A dotted field path (MongoDB) as written: each part unquoted, joined by '.'
   (`email."home address"` -> email.home address). Returns a malloc'd path or NULL (out of
   memory). */
char *mno_lex_path(const char *word);

#endif
