/* pgrec.h: a fast decoder for PostgreSQL record lines in the writer's own compact form, used by the reader (opt-in) instead of a general JSON parse. */
#ifndef MNO_PGREC_H
#define MNO_PGREC_H

#include <stddef.h>
#include "stream.h"

/*
 * The writer prints every PostgreSQL record line as
 *     {"t":"rec","ns":NS,"v":{"c1":V1,"c2":V2,...}}
 * with the columns in begin order, each value a JSON string or null, no white space. This
 * decoder takes exactly that form and nothing else: any other line (keys in another order,
 * white space, a number, an escaped NUL, invalid UTF-8, a lone surrogate, ...) is left to the
 * general JSON parser, which accepts it or reports the error as always. So the fast path never
 * accepts a line the general path would reject, and decodes the values it accepts to the same
 * bytes (tests/unit/test_pgrec.c compares the two on random and hostile lines).
 */

typedef struct mno_pgrec mno_pgrec;

/* Returns a decoder (mno_pgrec_free), or NULL when out of memory. */
mno_pgrec *mno_pgrec_new(void);
void mno_pgrec_free(mno_pgrec *p);

/* Prepares for the records of section s (its ns and columns; s is not kept). Returns 0, or
   -1 when out of memory. */
int mno_pgrec_setup(mno_pgrec *p, const mno_section *s);

/*
 * Decodes line[0..len) as a record of the section set up last. Returns 1 with vals[i]
 * (NUL-terminated; NULL for null) and lens[i] filled for every column, pointing into p and
 * valid until the next call; 0 when the line is not of the writer's form (use the general
 * parser); -1 when out of memory.
 */
int mno_pgrec_parse(mno_pgrec *p, const char *line, size_t len, const char **vals, size_t *lens);

/*
 * The same line, straight to its canonical form: returns 1 and appends to text exactly what
 * mno_pg_record_text appends for the values mno_pgrec_parse gives (without making them), 0
 * for exactly the lines mno_pgrec_parse leaves to the general parser (text unchanged), -1
 * when out of memory.
 */
struct mno_buf;
int mno_pgrec_parse_text(mno_pgrec *p, const char *line, size_t len, struct mno_buf *text);

#endif
