/* pgrec.c: decodes PostgreSQL record lines of the writer's compact form without a general JSON parse (the form and the guarantees are in pgrec.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "utf8.h"
#include "v16.h"
#include "buf.h"
#include "hex.h"
#include "pgrec.h"

struct mno_pgrec {
    mno_buf prefix;     /* {"t":"rec","ns":"NS","v":{ */
    mno_buf keys;       /* "c1": ,"c2": ... back to back */
    size_t *keyoff;     /* start of column i's key in keys (ncols + 1 entries) */
    size_t ncols;
    mno_buf out;        /* the decoded values, each NUL-terminated */
    size_t *valoff;     /* start of value i in out, or (size_t)-1 for null */
    size_t *vallen;     /* length of value i */
};

mno_pgrec *mno_pgrec_new(void)
{
    return calloc(1, sizeof(mno_pgrec));
}

void mno_pgrec_free(mno_pgrec *p)
{
    if (!p)
        return;
    mno_buf_release(&p->prefix);
    mno_buf_release(&p->keys);
    mno_buf_release(&p->out);
    free(p->keyoff);
    free(p->valoff);
    free(p->vallen);
    free(p);
}

int mno_pgrec_setup(mno_pgrec *p, const mno_section *s)
{
    mno_buf_reset(&p->prefix);
    mno_buf_reset(&p->keys);
    free(p->keyoff);
    free(p->valoff);
    free(p->vallen);
    p->ncols = s->ncols;
    p->keyoff = calloc(s->ncols + 1, sizeof *p->keyoff);
    p->valoff = calloc(s->ncols + 1, sizeof *p->valoff);
    p->vallen = calloc(s->ncols + 1, sizeof *p->vallen);
    if (!p->keyoff || !p->valoff || !p->vallen)
        return -1;
    if (mno_buf_adds(&p->prefix, "{\"t\":\"rec\",\"ns\":") < 0 ||
        mno_buf_add_json_str(&p->prefix, s->ns, strlen(s->ns)) < 0 || mno_buf_adds(&p->prefix, ",\"v\":{") < 0)
        return -1;
    for (size_t i = 0; i < s->ncols; i++) {
        p->keyoff[i] = p->keys.len;
        if ((i && mno_buf_addc(&p->keys, ',') < 0) ||
            mno_buf_add_json_str(&p->keys, s->colnames[i], strlen(s->colnames[i])) < 0 ||
            mno_buf_addc(&p->keys, ':') < 0)
            return -1;
    }
    p->keyoff[s->ncols] = p->keys.len;
    return 0;
}

/* 4 hex digits at s (s[0..4) must be readable): the value, or -1. */
static long hex4(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = mno_hexval(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}


/* The code point of the JSON escape whose letter is at line[*i] (just after its backslash),
   *i moved past it; 0 when the general parser must decide (an unknown letter, bad hex,
   \u0000, a lone or reversed surrogate, the line cut short). */
static int json_escape(const char *line, size_t len, size_t *i, unsigned long *cp)
{
    size_t k = *i;
    long v;
    switch (line[k++]) {
    case '"': v = '"'; break;
    case '\\': v = '\\'; break;
    case '/': v = '/'; break;
    case 'b': v = '\b'; break;
    case 'f': v = '\f'; break;
    case 'n': v = '\n'; break;
    case 'r': v = '\r'; break;
    case 't': v = '\t'; break;
    case 'u':
        if (k + 4 > len)
            return 0;
        v = hex4(line + k);
        k += 4;
        if (v <= 0)
            return 0;   /* bad hex, or \u0000: the general parser decides */
        if (v >= 0xDC00 && v <= 0xDFFF)
            return 0;
        if (v >= 0xD800 && v <= 0xDBFF) {
            if (k + 6 > len || line[k] != '\\' || line[k + 1] != 'u')
                return 0;
            long lo = hex4(line + k + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return 0;
            k += 6;
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        }
        break;
    default:
        return 0;
    }
    *i = k;
    *cp = (unsigned long)v;
    return 1;
}

static void put_utf8(char **o, unsigned long v)
{
    unsigned char *u = (unsigned char *)*o;
    if (v < 0x80) {
        *u++ = (unsigned char)v;
    } else if (v < 0x800) {
        *u++ = (unsigned char)(0xC0 | (v >> 6));
        *u++ = (unsigned char)(0x80 | (v & 0x3F));
    } else if (v < 0x10000) {
        *u++ = (unsigned char)(0xE0 | (v >> 12));
        *u++ = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        *u++ = (unsigned char)(0x80 | (v & 0x3F));
    } else {
        *u++ = (unsigned char)(0xF0 | (v >> 18));
        *u++ = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
        *u++ = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        *u++ = (unsigned char)(0x80 | (v & 0x3F));
    }
    *o = (char *)u;
}

/*
 * Decodes the JSON string whose opening quote is at *pos into p->out (NUL-terminated) and
 * moves *pos past its closing quote. Returns 1, 0 when the string is not plain (control
 * character, bad escape, \u0000, lone surrogate, invalid UTF-8, no closing quote), -1 on
 * out of memory. *n: the decoded length. The output is never longer than the input, so one
 * grow suffices.
 */
static int decode_string(mno_pgrec *p, const char *line, size_t len, size_t *pos, size_t *n)
{
    size_t i = *pos + 1;
    if (mno_buf_grow(&p->out, len - *pos + 1) < 0)
        return -1;
    char *o = p->out.data + p->out.len;
    while (i < len) {
        /* 16 bytes at a time while they are plain ASCII (no quote, backslash, control
           character or UTF-8 byte): copied whole (out has room: it is never longer than the
           input left), kept up to the first that is not */
        while (i + 16 <= len) {
            mno_v16 x;
            memcpy(&x, line + i, 16);
            size_t j = mno_v16_first((mno_v16)(((mno_v16)(x - 0x20) >= 0x60) | (x == '"') | (x == '\\')));
            memcpy(o, &x, 16);
            o += j;
            i += j;
            if (j < 16)
                break;
        }
        if (i >= len)
            break;
        unsigned char c = (unsigned char)line[i];
        if (c == '"') {
            *o = '\0';
            *n = (size_t)(o - p->out.data) - p->out.len;
            p->out.len = (size_t)(o - p->out.data) + 1;
            *pos = i + 1;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c < 0x80 && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = mno_utf8_len((const unsigned char *)line + i, len - i);
            if (!k)
                return 0;
            memcpy(o, line + i, k);
            o += k;
            i += k;
            continue;
        }
        if (i + 1 >= len)
            return 0;
        unsigned long v;
        i++;
        if (!json_escape(line, len, &i, &v))
            return 0;
        put_utf8(&o, v);
    }
    return 0;
}

int mno_pgrec_parse(mno_pgrec *p, const char *line, size_t len, const char **vals, size_t *lens)
{
    size_t pos = p->prefix.len;
    if (len < pos || memcmp(line, p->prefix.data, pos) != 0)
        return 0;
    mno_buf_reset(&p->out);
    for (size_t i = 0; i < p->ncols; i++) {
        size_t klen = p->keyoff[i + 1] - p->keyoff[i];
        if (len - pos < klen || memcmp(line + pos, p->keys.data + p->keyoff[i], klen) != 0)
            return 0;
        pos += klen;
        if (len - pos >= 4 && memcmp(line + pos, "null", 4) == 0) {
            p->valoff[i] = (size_t)-1;
            pos += 4;
            continue;
        }
        if (pos >= len || line[pos] != '"')
            return 0;
        p->valoff[i] = p->out.len;
        int rc = decode_string(p, line, len, &pos, &p->vallen[i]);
        if (rc <= 0)
            return rc;
    }
    if (len - pos != 2 || line[pos] != '}' || line[pos + 1] != '}')
        return 0;
    for (size_t i = 0; i < p->ncols; i++) {
        if (p->valoff[i] == (size_t)-1) {
            vals[i] = NULL;
            lens[i] = 0;
        } else {
            vals[i] = p->out.data + p->valoff[i];
            lens[i] = p->vallen[i];
        }
    }
    return 1;
}

/* The bytes that make ROW()::text quote a value (as rt_class in checksum.c): '"' '\\' '('
   ')' ',' and white space in the C locale. */
static inline int rt_special(unsigned c)
{
    return c == '"' || c == '\\' || c == '(' || c == ')' || c == ',' || c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * As decode_string, but writes the value's field of the record text at *d (mno_pg_record_text's
 * form: double-quoted when empty or holding a special byte, '"' and '\\' doubled) and moves *d
 * past it. *d must have room for twice the input left plus 2. Returns 1 or 0 (not plain: the
 * same cases as decode_string).
 */
static int decode_field(const char *line, size_t len, size_t *pos, char **d)
{
    static const mno_v16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    size_t i = *pos + 1;
    char *slot = *d, *o = slot + 1;   /* slot: the opening quote, if the field needs one */
    mno_v16 q = {0};                   /* nonzero: a byte that needs quoting was seen */
    int quote = 0;
    while (i < len) {
        while (i + 16 <= len) {
            mno_v16 x;
            memcpy(&x, line + i, 16);
            size_t j = mno_v16_first((mno_v16)(((mno_v16)(x - 0x20) >= 0x60) | (x == '"') | (x == '\\')));
            memcpy(o, &x, 16);
            q |= (mno_v16)((x == '(') | (x == ')') | (x == ',') | (x == ' ')) & (mno_v16)(lane < (unsigned char)j);
            o += j;
            i += j;
            if (j < 16)
                break;
        }
        if (i >= len)
            return 0;
        unsigned char c = (unsigned char)line[i];
        if (c == '"') {
            uint64_t w[2];
            memcpy(w, &q, sizeof w);
            if (quote || w[0] || w[1] || o == slot + 1) {
                *slot = '"';
                *o++ = '"';
            } else {
                memmove(slot, slot + 1, (size_t)(o - slot - 1));
                o--;
            }
            *d = o;
            *pos = i + 1;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c < 0x80 && c != '\\') {
            quote |= rt_special(c);
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = mno_utf8_len((const unsigned char *)line + i, len - i);
            if (!k)
                return 0;
            memcpy(o, line + i, k);
            o += k;
            i += k;
            continue;
        }
        if (i + 1 >= len)
            return 0;
        unsigned long v;
        i++;
        if (!json_escape(line, len, &i, &v))
            return 0;
        if (v < 0x80) {
            quote |= rt_special((unsigned)v);
            if (v == '"' || v == '\\')
                *o++ = (char)v;
            *o++ = (char)v;
        } else {
            put_utf8(&o, v);
        }
    }
    return 0;
}

int mno_pgrec_parse_text(mno_pgrec *p, const char *line, size_t len, mno_buf *text)
{
    size_t pos = p->prefix.len;
    if (len < pos || memcmp(line, p->prefix.data, pos) != 0)
        return 0;
    /* the text is never longer than twice the line, plus parentheses, commas and quotes */
    if (mno_buf_grow(text, 2 * len + 3 * p->ncols + 4) < 0)
        return -1;
    char *d = text->data + text->len;
    *d++ = '(';
    for (size_t i = 0; i < p->ncols; i++) {
        size_t klen = p->keyoff[i + 1] - p->keyoff[i];
        if (len - pos < klen || memcmp(line + pos, p->keys.data + p->keyoff[i], klen) != 0)
            return 0;
        pos += klen;
        if (i)
            *d++ = ',';
        if (len - pos >= 4 && memcmp(line + pos, "null", 4) == 0) {
            pos += 4;
            continue;
        }
        if (pos >= len || line[pos] != '"' || !decode_field(line, len, &pos, &d))
            return 0;
    }
    if (len - pos != 2 || line[pos] != '}' || line[pos + 1] != '}')
        return 0;
    *d++ = ')';
    text->len = (size_t)(d - text->data);
    text->data[text->len] = '\0';
    return 1;
}
