/* engine_mongo_dump.c: placeholder until issue 5 builds this part; every operation fails with "not built yet". */
#include "engine_mongo.h"

int mno_mongo_plan(mno_engine *en, const mno_dump_opts *o, mno_plan *plan, mno_error *e)
{ (void)en; (void)o; (void)plan; return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "dump is not built yet"); }
int mno_mongo_dump_section(mno_engine *en, const mno_plan_item *it, mno_writer *w, mno_error *e)
{ (void)en; (void)it; (void)w; return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "dump is not built yet"); }
void mno_mongo_plan_free(mno_engine *en, mno_plan *plan) { (void)en; (void)plan; }
