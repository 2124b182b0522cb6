/* utf8.h: strict UTF-8 checking for the fast record parsers (pgrec.c, engine_mongo_json.c). */
#ifndef MNO_UTF8_H
#define MNO_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not valid
   (overlong, surrogate, past U+10FFFF, cut short): as strict as jansson's check. */
static inline size_t mno_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k;
    unsigned long v;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) { k = 2; v = c & 0x1F; }
    else if (c < 0xF0) { k = 3; v = c & 0x0F; }
    else if (c < 0xF5) { k = 4; v = c & 0x07; }
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((k == 3 && v < 0x800) || (k == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return k;
}

#endif
