/* verify_live.c: mno-verify --source: a live source against a live target. */
#include "verify.h"

int mno_verify_live(const mno_verify_opts *o, mno_vreport *rep, mno_error *e)
{
    (void)o;
    (void)rep;
    return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "live verification is not built yet");
}
