/* engine_pg_restore.c: placeholder until issue 6 builds this part; every operation fails with "not built yet". */
#include "engine_pg.h"

int mno_pg_restore_begin(mno_engine *en, const mno_restore_opts *o, const mno_section *s, mno_error *e)
{ (void)en; (void)o; (void)s; return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "restore is not built yet"); }
int mno_pg_restore_rec(mno_engine *en, const mno_item *it, mno_error *e)
{ (void)en; (void)it; return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "restore is not built yet"); }
int mno_pg_restore_commit(mno_engine *en, const mno_section *s, mno_error *e)
{ (void)en; (void)s; return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "restore is not built yet"); }
void mno_pg_restore_abort(mno_engine *en) { (void)en; }
