/* args.h: small command-line helpers the tools share (numbers, the default scope directory). */
#ifndef MNO_ARGS_H
#define MNO_ARGS_H

#include <stddef.h>

/* Parses S as a whole decimal number in [LO, HI] into *OUT; -1 (and *OUT untouched) when S is
   empty, has trailing characters or is out of range. */
int mno_parse_long(const char *s, long lo, long hi, long *out);

/* The default scope directory into OUT (N bytes): $MNO_SCOPE_DIR, else the first of
   BIN/../filters, BIN/../share/mno-migrate/filters, BIN/../../../filters (build/san/bin) that
   holds a *.scope file, resolved; else "filters". */
void mno_default_scope_dir(char *out, size_t n);

#endif
