/* fuzz_scope.c: fuzz target for the scope/rules parser (lib/scope/scope.c): parse, qualify, look every rule up again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scope.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mno_error e;
    mno_error_clear(&e);
    mno_scope *s = mno_scope_parse((const char *)data, size, "fuzz.scope", &e);
    if (!s) {
        FUZZ_CHECK(e.code != MNO_OK && e.msg[0] && !strchr(e.msg, '\n'));
        return 0;
    }
    if (mno_scope_qualify(s, "public", &e) == 0)
        for (size_t i = 0; i < s->n; i++) {
            size_t idx[4];
            /* every rule is found under its own name */
            FUZZ_CHECK(mno_scope_find(s, s->rules[i].name, idx, 4) >= 1);
            FUZZ_CHECK(mno_scope_kind_name(s->rules[i].kind) != NULL);
        }
    mno_scope_free(s);
    return 0;
}
