/* engine_pg_verify.c: placeholder until issue 7 builds this part; every operation fails with "not built yet". */
#include "engine_pg.h"

int mno_pg_hash_section(mno_engine *en, const mno_section *s, uint64_t *count, mno_sum *sum, int *exists, mno_error *e)
{ (void)en; (void)s; (void)count; (void)sum; (void)exists; return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "verify is not built yet"); }
