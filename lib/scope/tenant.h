/* tenant.h: a tenant's records out of a whole archive, in one pass, by the scope rules mno-dump applies (docs/filters.md). */
#ifndef MNO_TENANT_H
#define MNO_TENANT_H

#include <stddef.h>
#include "error.h"
#include "scope.h"
#include "stream.h"

typedef struct mno_tenant mno_tenant;

/*
 * Starts selecting tenant's records by scope (borrowed; qualified by the caller as mno-dump
 * does: "public." for PostgreSQL). uids (MongoDB `match FIELD in org_uids`): the tenant's
 * organization uids (borrowed), or NULL. Returns a selector (mno_tenant_free), or NULL when
 * out of memory.
 */
mno_tenant *mno_tenant_new(const mno_scope *scope, const char *tenant, char *const *uids, size_t nuids);

/* What a section's begin decides (the values of enum mno_filter_section in filter.h), or -1
   with e filled: the scope does not mention the section, or names a rule mno-dump does not
   apply to its engine, or a parent comes after its child. */
int mno_tenant_begin(mno_tenant *t, const mno_section *sec, mno_error *e);
/* A record of a decoded section: 1 the tenant's (kept: its values the children look for are
   remembered), 0 not, -1 with e filled (a uids json column that is not JSON). */
int mno_tenant_rec(mno_tenant *t, const mno_item *it, mno_error *e);
/* Keys remembered so far (for the memory report), and the bytes they take, roughly. */
size_t mno_tenant_keys(const mno_tenant *t, size_t *bytes);
void mno_tenant_free(mno_tenant *t);

#endif
