/* live.c: the driver of the live-environment tools (docs/live.md): rules + scope -> one UPDATE per table, the undo archive first, one transaction; the undo. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "codec.h"
#include "engine.h"
#include "engine_pg.h"
#include "engine_pg_schema.h"
#include "live.h"
#include "live_mongo.h"
#include "rules.h"
#include "scope.h"
#include "stream.h"

#define TENANT_SETTING "mno.tenant"   /* the dump plan's queries read the tenant from it */
#define MAX_LISTED 20                 /* keys or values a refusal names before "and N more" */

/* One table's change: the columns set, their values, which rows. */
typedef struct change {
    mno_live_table pub;
    const mno_rule *rule;     /* set rule (NULL for rename) */
    const char *file;         /* where it comes from, for messages */
    int line;
    size_t ti;                /* the table in the schema */
    size_t nset;
    const char **cols;        /* borrowed (rule or scope) */
    const char **vals;        /* NULL: null; borrowed */
    char *pred;               /* the tenant's rows, on alias t */
    char *changed;            /* " WHERE (pred) AND NOT (all at the values)" with $1.. the values */
} change;

struct mno_live {
    mno_live_cfg c;
    mno_engine *en;
    PGconn *conn;
    pg_schema schema;
    mno_rules *rules;
    mno_scope *scope;
    char kind[16];
    char *db;
    change *ch;
    size_t n;
    long long total;
    int renamed;
    char *undo_file;
    mno_plan plan;
    int have_plan;
    mno_live_table *view;     /* mno_live_tables' copy */
    mno_live_table *del;      /* destroy: the tables, children first */
    size_t ndel;
    long long del_total;
    mno_live_mongo *mg;       /* destroy on a Connec! (MongoDB) target: everything is there */
};

static int undo_apply(PGconn *conn, const pg_schema *schema, const char *kind, const char *tool,
                      const char *want_tenant, const char *file, mno_live_undo_res *res, mno_error *e);

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

/* ---- SQL text ---- */

static int add_ident(mno_buf *b, const char *name)
{
    char *q = mno_pg_ident(name);
    int rc = q ? mno_buf_adds(b, q) : -1;
    free(q);
    return rc;
}

static int add_col(mno_buf *b, const char *alias, const char *col)
{
    return mno_buf_addf(b, "%s.", alias) < 0 ? -1 : add_ident(b, col);
}

static int add_lit(mno_buf *b, const char *s)
{
    if (!s)
        return mno_buf_adds(b, "NULL");
    if (mno_buf_addc(b, '\'') < 0)
        return -1;
    for (const char *p = s; *p; p++)
        if ((*p == '\'' && mno_buf_addc(b, '\'') < 0) || mno_buf_addc(b, *p) < 0)
            return -1;
    return mno_buf_addc(b, '\'');
}

static const char *col_type(const pg_table *t, const char *col)
{
    long ci = mno_pg_table_col(t, col);
    return ci >= 0 ? t->cols[ci].type : "text";
}

/* Appends "$N::TYPE" (inline 0) or the value as a literal (inline 1, for --plan). */
static int add_param(mno_buf *b, const pg_table *t, const char *col, int n, const char *val, int inl)
{
    if (inl)
        return add_lit(b, val);
    return mno_buf_addf(b, "$%d::%s", n, col_type(t, col));
}

/* " WHERE (pred) AND NOT (t.c1 IS NOT DISTINCT FROM $1::T AND ...)" */
static int add_changed(mno_buf *b, const change *c, const pg_table *t, int inl)
{
    if (mno_buf_addf(b, " WHERE (%s) AND NOT (", c->pred) < 0)
        return -1;
    for (size_t i = 0; i < c->nset; i++)
        if ((i && mno_buf_adds(b, " AND ") < 0) || add_col(b, "t", c->cols[i]) < 0 ||
            mno_buf_adds(b, " IS NOT DISTINCT FROM ") < 0 ||
            add_param(b, t, c->cols[i], (int)i + 1, c->vals[i], inl) < 0)
            return -1;
    return mno_buf_addc(b, ')');
}

static char *update_sql(const change *c, const pg_table *t, int inl)
{
    mno_buf b = MNO_BUF_INIT;
    if (mno_buf_addf(&b, "UPDATE %s t SET ", t->qname) < 0)
        goto fail;
    for (size_t i = 0; i < c->nset; i++)
        if ((i && mno_buf_adds(&b, ", ") < 0) || add_ident(&b, c->cols[i]) < 0 ||
            mno_buf_adds(&b, " = ") < 0 || add_param(&b, t, c->cols[i], (int)i + 1, c->vals[i], inl) < 0)
            goto fail;
    if (add_changed(&b, c, t, inl) < 0)
        goto fail;
    return b.data;
fail:
    mno_buf_release(&b);
    return NULL;
}

/* For reading (--plan): the tenant as a literal where the queries read it from the session. */
static int inline_tenant(char **sql, const char *tenant)
{
    static const char needle[] = "current_setting('" TENANT_SETTING "')";
    mno_buf b = MNO_BUF_INIT;
    const char *p = *sql, *hit;
    while ((hit = strstr(p, needle)) != NULL) {
        if (mno_buf_add(&b, p, (size_t)(hit - p)) < 0 || add_lit(&b, tenant) < 0)
            goto fail;
        p = hit + sizeof needle - 1;
    }
    if (mno_buf_adds(&b, p) < 0)
        goto fail;
    free(*sql);
    *sql = b.data;
    return 0;
fail:
    mno_buf_release(&b);
    return -1;
}

/* Runs sql with the change's values as parameters; returns the result (caller clears). */
static PGresult *exec_vals(PGconn *conn, const char *sql, const change *c)
{
    return PQexecParams(conn, sql, (int)c->nset, NULL, c->vals, NULL, NULL, 0);
}

static int set_tenant(PGconn *conn, const char *tenant, mno_error *e)
{
    const char *p[1] = {tenant};
    PGresult *r = PQexecParams(conn, "SELECT set_config('" TENANT_SETTING "', $1, true)", 1, NULL, p,
                               NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        mno_pg_err(e, conn, r, NULL, "cannot set the tenant");
    PQclear(r);
    return ok ? 0 : -1;
}

/* A count(*) query with params; -1 with e filled. */
static long long count_q(PGconn *conn, const char *sql, int n, const char *const *vals, const char *ns,
                         mno_error *e)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, vals, NULL, NULL, 0);
    long long v = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        mno_pg_err(e, conn, r, ns, "cannot count the rows");
    else
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* ---- open ---- */

static char *qualify(const char *name)
{
    char *s = NULL;
    if (strchr(name, '.'))
        return strdup(name);
    return asprintf(&s, "public.%s", name) < 0 ? NULL : s;
}

/* Checks change c against its table: columns exist, a real key that is not changed. */
static int check_change(mno_live *l, change *c, mno_error *e)
{
    const pg_table *t = &l->schema.t[c->ti];
    for (size_t i = 0; i < c->nset; i++) {
        if (mno_pg_table_col(t, c->cols[i]) < 0)
            return mno_err(e, MNO_E_SCOPE, c->file, c->line, NULL, "%s: no column '%s'", t->ns, c->cols[i]);
        for (size_t k = 0; k < t->nkey; k++)
            if (strcmp(t->key[k], c->cols[i]) == 0 && !t->key_is_all)
                return mno_err(e, MNO_E_SCOPE, c->file, c->line, NULL,
                               "%s: column '%s' is part of the key: the undo finds rows by their key",
                               t->ns, c->cols[i]);
    }
    if (t->key_is_all || t->nkey == 0)
        return mno_err(e, MNO_E_SCOPE, c->file, c->line, NULL,
                       "%s has no primary key or unique not-null index: its rows could not be found again to undo",
                       t->ns);
    return 0;
}

static change *add_change(mno_live *l, const char *name, const char *file, int line, mno_error *e)
{
    char *ns = qualify(name);
    if (!ns) {
        nomem(e);
        return NULL;
    }
    long ti = mno_pg_schema_find(&l->schema, ns);
    if (ti < 0) {
        mno_err(e, MNO_E_SCOPE, file, line, NULL, "%s: table not found in database '%s'", ns, l->db);
        free(ns);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ch[i].pub.ns, ns) == 0) {
            mno_err(e, MNO_E_SCOPE, file, line, NULL, "%s is changed twice (also at %s:%d)", ns,
                    l->ch[i].file, l->ch[i].line);
            free(ns);
            return NULL;
        }
    change *nc = realloc(l->ch, (l->n + 1) * sizeof *nc);
    if (!nc) {
        free(ns);
        nomem(e);
        return NULL;
    }
    l->ch = nc;
    change *c = &l->ch[l->n++];
    memset(c, 0, sizeof *c);
    c->pub.ns = ns;
    c->file = file;
    c->line = line;
    c->ti = (size_t)ti;
    return c;
}

/* disconnect, freeze: the rules' set lines, the tenant's rows by the dump's plan. */
static int open_set_rules(mno_live *l, mno_error *e)
{
    char scope[4096];
    if (l->c.scope_path)
        snprintf(scope, sizeof scope, "%s", l->c.scope_path);
    else
        snprintf(scope, sizeof scope, "%s/%s.scope", l->c.scope_dir ? l->c.scope_dir : "filters", l->kind);
    mno_dump_opts o;
    memset(&o, 0, sizeof o);
    o.tenant = l->c.tenant;
    o.scope_path = scope;
    o.jobs = 1;
    if (mno_engine_pg.plan(l->en, &o, &l->plan, e) < 0)
        return -1;
    l->have_plan = 1;
    for (size_t k = 0; k < l->rules->n; k++) {
        const mno_rule *r = &l->rules->r[k];
        if (strcmp(r->kind, l->kind) != 0 || r->verb == MNO_RULE_VERIFIED)
            continue;
        if (r->verb != MNO_RULE_SET)
            return mno_err(e, MNO_E_SCOPE, r->file, r->line, NULL, "%s: '%s' rules are for mno-rename-tenant",
                           r->name, mno_rule_verb_name(r->verb));
        change *c = add_change(l, r->name, r->file, r->line, e);
        if (!c)
            return -1;
        c->rule = r;
        c->nset = r->ncols;
        c->cols = (const char **)r->cols;
        c->vals = (const char **)r->vals;
        if (!(c->pub.rule = strdup(r->text)))
            return nomem(e);
        if (check_change(l, c, e) < 0)
            return -1;
        const mno_plan_item *it = NULL;
        for (size_t i = 0; i < l->plan.n && !it; i++)
            if (strcmp(l->plan.items[i].ns, c->pub.ns) == 0)
                it = &l->plan.items[i];
        if (!it || strcmp(it->rule, "global") == 0)
            return mno_err(e, MNO_E_SCOPE, r->file, r->line, NULL,
                           "%s: the scope '%s' %s: which of its rows are the tenant's is not known", c->pub.ns,
                           scope, it ? "says it is global" : "does not place it");
        const pg_table *t = &l->schema.t[c->ti];
        mno_buf b = MNO_BUF_INIT;
        int rc = mno_buf_adds(&b, t->nkey > 1 ? "(" : "");
        for (size_t i = 0; i < t->nkey; i++)
            rc |= (i ? mno_buf_adds(&b, ", ") : 0) | add_col(&b, "t", t->key[i]);
        rc |= mno_buf_adds(&b, t->nkey > 1 ? ") IN (SELECT " : " IN (SELECT ");
        for (size_t i = 0; i < t->nkey; i++)
            rc |= (i ? mno_buf_adds(&b, ", ") : 0) | add_col(&b, "q", t->key[i]);
        rc |= mno_buf_addf(&b, " FROM (%s) q)", it->query);
        if (rc) {
            mno_buf_release(&b);
            return nomem(e);
        }
        c->pred = b.data;
    }
    if (l->n == 0)
        return mno_err(e, MNO_E_SCOPE, l->rules->file, 0, NULL, "no rule for a %s database", l->kind);
    return 0;
}

/* Appends "ns: v1, v2 (and N more)" for the rows of r. */
static int list_values(mno_buf *b, const char *ns, PGresult *r)
{
    int n = PQntuples(r), rc = mno_buf_addf(b, "%s%s:", b->len ? "; " : "", ns);
    for (int i = 0; i < n && i < MAX_LISTED; i++)
        rc |= mno_buf_addf(b, "%s %s", i ? "," : "", PQgetvalue(r, i, 0));
    if (n > MAX_LISTED)
        rc |= mno_buf_addf(b, " (and %d more)", n - MAX_LISTED);
    return rc;
}

/* rename: the scope's root columns set to the new name; the rules' unique columns checked. */
static int open_rename(mno_live *l, mno_error *e)
{
    char scope[4096];
    mno_buf b = MNO_BUF_INIT, sql = MNO_BUF_INIT;
    int rc = -1;
    long long old_rows = 0, new_rows = 0;
    if (strcmp(l->kind, "connector") != 0)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "database '%s' is a %s database: %s renames a tenant in a connector database", l->db,
                       l->kind, l->c.tool);
    if (l->c.scope_path)
        snprintf(scope, sizeof scope, "%s", l->c.scope_path);
    else
        snprintf(scope, sizeof scope, "%s/%s.scope", l->c.scope_dir ? l->c.scope_dir : "filters", l->kind);
    if (!(l->scope = mno_scope_load(scope, e)) || mno_scope_qualify(l->scope, "public", e) < 0)
        return -1;
    if (set_tenant(l->conn, l->c.tenant, e) < 0)
        return -1;
    for (size_t k = 0; k < l->scope->n; k++) {
        const mno_scope_rule *r = &l->scope->rules[k];
        if (r->kind != MNO_SCOPE_ROOT)
            continue;
        change *c = add_change(l, r->name, r->file, r->line, e);
        if (!c)
            return -1;
        if (r->ncols != 1)
            return mno_err(e, MNO_E_SCOPE, r->file, r->line, NULL,
                           "%s: a root rule of %zu columns: rename needs one tenant column", c->pub.ns, r->ncols);
        c->nset = 1;
        c->cols = (const char **)r->cols;
        if (!(c->vals = malloc(sizeof *c->vals)))
            return nomem(e);
        c->vals[0] = l->c.to;
        if (asprintf(&c->pub.rule, "%s: %s -> '%s'", r->text, r->cols[0], l->c.to) < 0) {
            c->pub.rule = NULL;
            return nomem(e);
        }
        if (check_change(l, c, e) < 0)
            return -1;
        mno_buf_reset(&b);
        if (add_col(&b, "t", r->cols[0]) < 0 || mno_buf_adds(&b, "::text = current_setting('" TENANT_SETTING "')") < 0)
            goto nomem;
        c->pred = b.data;
        b.data = NULL;
        mno_buf_release(&b);
        /* rows already under the new name */
        const pg_table *t = &l->schema.t[c->ti];
        const char *to[1] = {l->c.to};
        mno_buf_reset(&sql);
        if (mno_buf_addf(&sql, "SELECT count(*) FROM %s t WHERE ", t->qname) < 0 ||
            add_col(&sql, "t", r->cols[0]) < 0 || mno_buf_adds(&sql, "::text = $1") < 0)
            goto nomem;
        long long n = count_q(l->conn, sql.data, 1, to, c->pub.ns, e);
        if (n < 0)
            goto done;
        new_rows += n;
    }
    if (l->n == 0) {
        mno_err(e, MNO_E_SCOPE, scope, 0, NULL, "no root rule: no column holds the tenant's name");
        goto done;
    }
    /* collisions: a unique column's value under both names */
    mno_buf_reset(&b);
    for (size_t k = 0; k < l->rules->n; k++) {
        const mno_rule *r = &l->rules->r[k];
        if (strcmp(r->kind, l->kind) != 0 || r->verb == MNO_RULE_VERIFIED)
            continue;
        if (r->verb != MNO_RULE_UNIQUE) {
            mno_err(e, MNO_E_SCOPE, r->file, r->line, NULL, "%s: '%s' rules are not for %s", r->name,
                    mno_rule_verb_name(r->verb), l->c.tool);
            goto done;
        }
        char *ns = qualify(r->name);
        if (!ns)
            goto nomem;
        change *c = NULL;
        for (size_t i = 0; i < l->n && !c; i++)
            if (strcmp(l->ch[i].pub.ns, ns) == 0)
                c = &l->ch[i];
        free(ns);
        if (!c) {
            mno_err(e, MNO_E_SCOPE, r->file, r->line, NULL, "%s: not a table with the tenant's name (no root rule)",
                    r->name);
            goto done;
        }
        const pg_table *t = &l->schema.t[c->ti];
        if (mno_pg_table_col(t, r->cols[0]) < 0) {
            mno_err(e, MNO_E_SCOPE, r->file, r->line, NULL, "%s: no column '%s'", t->ns, r->cols[0]);
            goto done;
        }
        const char *p[2] = {l->c.tenant, l->c.to};
        mno_buf_reset(&sql);
        int bad = mno_buf_adds(&sql, "SELECT DISTINCT ") < 0 || add_col(&sql, "o", r->cols[0]) < 0 ||
                  mno_buf_addf(&sql, "::text FROM %s o WHERE ", t->qname) < 0 ||
                  add_col(&sql, "o", c->cols[0]) < 0 ||
                  mno_buf_addf(&sql, "::text = $1 AND EXISTS (SELECT 1 FROM %s n WHERE ", t->qname) < 0 ||
                  add_col(&sql, "n", c->cols[0]) < 0 || mno_buf_adds(&sql, "::text = $2 AND ") < 0 ||
                  add_col(&sql, "n", r->cols[0]) < 0 || mno_buf_adds(&sql, " = ") < 0 ||
                  add_col(&sql, "o", r->cols[0]) < 0 || mno_buf_adds(&sql, ") ORDER BY 1") < 0;
        if (bad)
            goto nomem;
        PGresult *res = PQexecParams(l->conn, sql.data, 2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            mno_pg_err(e, l->conn, res, t->ns, "cannot look for colliding values");
            PQclear(res);
            goto done;
        }
        if (PQntuples(res) > 0 && list_values(&b, t->ns, res) < 0) {
            PQclear(res);
            goto nomem;
        }
        PQclear(res);
    }
    if (b.len) {
        mno_err(e, MNO_E_CONFLICT, NULL, 0, NULL,
                "rename refused: tenant '%s' already holds rows with the same unique values as '%s' "
                "(%s); nothing was changed",
                l->c.to, l->c.tenant, b.data);
        goto done;
    }
    for (size_t i = 0; i < l->n; i++) {
        const pg_table *t = &l->schema.t[l->ch[i].ti];
        const char *p[1] = {l->c.tenant};
        mno_buf_reset(&sql);
        if (mno_buf_addf(&sql, "SELECT count(*) FROM %s t WHERE %s", t->qname, l->ch[i].pred) < 0)
            goto nomem;
        long long n = count_q(l->conn, sql.data, 0, p, t->ns, e);
        if (n < 0)
            goto done;
        old_rows += n;
    }
    if (old_rows == 0 && new_rows == 0) {
        mno_buf_reset(&b);
        for (size_t i = 0; i < l->n; i++)
            if (mno_buf_addf(&b, "%s%s", i ? ", " : "", l->ch[i].pub.ns) < 0)
                goto nomem;
        mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "tenant '%s' not found in %s", l->c.tenant, b.data);
        goto done;
    }
    if (old_rows == 0)
        l->renamed = 1;
    else if (new_rows > 0 && !l->c.merge) {
        mno_err(e, MNO_E_CONFLICT, NULL, 0, NULL,
                "rename refused: tenant '%s' already exists (%lld rows); give --merge to join '%s' to it "
                "(no unique value collides); nothing was changed",
                l->c.to, new_rows, l->c.tenant);
        goto done;
    }
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    mno_buf_release(&b);
    mno_buf_release(&sql);
    return rc;
}

static int needs(const char *const *need, size_t n, const char *kind)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(need[i], kind) == 0)
            return 1;
    return 0;
}

/* freeze of a MnoHub: the tenant's Connec! documents now (c->connec; the organizations of the
   tenant from the target) against the connec report's sums. */
static int recheck_connec(mno_live *l, mno_error *e)
{
    char scope[4096];
    mno_engine *en = NULL;
    mno_plan plan;
    json_t *secs = NULL;
    int rc = -1, planned = 0;
    memset(&plan, 0, sizeof plan);
    if (!l->c.connec)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "no --connec URI: the tenant's Connec! documents must still be those of the connec report "
                       "(give --connec CONNEC_URI, the old Connec! database, to re-check them)");
    if (mno_engine_for_uri(l->c.connec) != &mno_engine_mongo)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--connec: not a mongodb:// uri");
    if (!(secs = mno_live_report_sections(l->c.reports, l->c.nreports, "connec", e)))
        return -1;
    snprintf(scope, sizeof scope, "%s/connec.scope", l->c.scope_dir ? l->c.scope_dir : "filters");
    mno_dump_opts o;
    memset(&o, 0, sizeof o);
    o.tenant = l->c.tenant;
    o.scope_path = scope;
    o.jobs = 1;
    o.hub_uri = l->c.target;
    if (mno_engine_mongo.open(&en, l->c.connec, MNO_ROLE_SOURCE, e) < 0 ||
        mno_engine_mongo.plan(en, &o, &plan, e) < 0)
        goto done;
    planned = 1;
    rc = mno_live_recheck(&mno_engine_mongo, en, &plan, secs, "connec", e);
done:
    if (planned)
        mno_engine_mongo.plan_free(en, &plan);
    mno_engine_mongo.close(en);
    json_decref(secs);
    return rc;
}

/* freeze: the reports, then (when there is something to change) the source against the target
   kind's report, in this transaction. */
static int check_proofs(mno_live *l, mno_error *e)
{
    const char *need[16];
    size_t nneed = 0;
    json_t *secs = NULL;
    for (size_t k = 0; k < l->rules->n; k++) {
        const mno_rule *r = &l->rules->r[k];
        if (r->verb != MNO_RULE_VERIFIED || nneed == sizeof need / sizeof need[0])
            continue;
        need[nneed++] = r->kind;
    }
    if (l->c.nreports == 0)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "no --verified report: %s changes the old environment only after its copy is proven "
                       "(mno-verify --json reports of the tenant's archives against their restored copies)",
                       l->c.tool);
    if (mno_live_reports_check(l->c.reports, l->c.nreports, l->c.tenant, need, nneed, l->kind, &secs, e) < 0)
        return -1;
    int rc = 0;
    if (l->c.destroy) {
        /* the source as it was before the freeze: the freeze undone in a savepoint */
        mno_live_undo_res res;
        memset(&res, 0, sizeof res);
        if (!l->c.frozen_by)
            rc = mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                         "--destroy needs --frozen-by FILE, the freeze's undo archive (the source is re-checked "
                         "as it was before the freeze)");
        else if (mno_pg_exec(l->conn, "SAVEPOINT mno_recheck", NULL, e) < 0 ||
                 undo_apply(l->conn, &l->schema, l->kind, l->c.tool, l->c.tenant, l->c.frozen_by, &res, e) < 0 ||
                 mno_live_recheck(&mno_engine_pg, l->en, &l->plan, secs, l->kind, e) < 0 ||
                 mno_pg_exec(l->conn, "ROLLBACK TO SAVEPOINT mno_recheck", NULL, e) < 0)
            rc = -1;
        mno_live_undo_res_release(&res);
    } else if (l->total) {
        /* nothing to change (a second run): the source holds the tool's own values, not the archive's */
        rc = mno_live_recheck(&mno_engine_pg, l->en, &l->plan, secs, l->kind, e);
        if (rc == 0 && strcmp(l->kind, "mnohub") == 0 && needs(need, nneed, "connec"))
            rc = recheck_connec(l, e);
    }
    json_decref(secs);
    return rc;
}

/* destroy: the plan's tables that are not global, children first, with their rows now. */
static int destroy_plan(mno_live *l, mno_error *e)
{
    if (!(l->del = calloc(l->plan.n ? l->plan.n : 1, sizeof *l->del)))
        return nomem(e);
    for (size_t k = l->plan.n; k-- > 0;) {
        const mno_plan_item *it = &l->plan.items[k];
        if (strcmp(it->rule, "global") == 0)
            continue;
        long ti = mno_pg_schema_find(&l->schema, it->ns);
        if (ti < 0)
            return mno_err(e, MNO_E_INTERNAL, NULL, 0, it->ns, "table not in the schema");
        const pg_table *t = &l->schema.t[ti];
        if (t->key_is_all || !t->nkey)
            return mno_err(e, MNO_E_SCOPE, NULL, 0, it->ns,
                           "no primary key or unique not-null index: its rows cannot be deleted one by one");
        mno_live_table *d = &l->del[l->ndel++];
        char *cq = NULL;
        mno_buf b = MNO_BUF_INIT;
        int bad = mno_buf_addf(&b, "DELETE FROM %s t WHERE %s", t->qname, t->nkey > 1 ? "(" : "");
        for (size_t i = 0; i < t->nkey; i++)
            bad |= (i ? mno_buf_adds(&b, ", ") : 0) | add_col(&b, "t", t->key[i]);
        bad |= mno_buf_adds(&b, t->nkey > 1 ? ") IN (SELECT " : " IN (SELECT ");
        for (size_t i = 0; i < t->nkey; i++)
            bad |= (i ? mno_buf_adds(&b, ", ") : 0) | add_col(&b, "q", t->key[i]);
        bad |= mno_buf_addf(&b, " FROM (%s) q)", it->query);
        d->stmt = b.data;
        if (bad || !(d->ns = strdup(it->ns)) || !(d->rule = strdup(it->rule)) ||
            asprintf(&cq, "SELECT count(*) FROM (%s) q", it->query) < 0)
            return nomem(e);
        d->rows = count_q(l->conn, cq, 0, NULL, it->ns, e);
        free(cq);
        if (d->rows < 0 || inline_tenant(&d->stmt, l->c.tenant) < 0)
            return d->rows < 0 ? -1 : nomem(e);
        l->del_total += d->rows;
    }
    return 0;
}

int mno_live_open(mno_live **out, const mno_live_cfg *c, mno_error *e)
{
    *out = NULL;
    if (!c->target || !c->tenant || !c->tool || !c->action)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no target or tenant");
    int mongo = mno_engine_for_uri(c->target) == &mno_engine_mongo;
    if (mongo && !c->verified)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "only PostgreSQL targets (MnoHub, a connector database) are supported; on a Connec! "
                       "(mongodb://) target only mno-freeze --destroy applies (docs/live.md)");
    if (!mongo && (c->hub || c->orgs_from))
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "--hub and --orgs-from go with --destroy on a Connec! (mongodb://) target");
    if (mongo && c->connec)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--connec goes with a MnoHub target");
    mno_live *l = calloc(1, sizeof *l);
    if (!l)
        return nomem(e);
    l->c = *c;
    if (mongo) {
        if (mno_live_mongo_open(&l->mg, c, e) < 0)
            goto fail;
        snprintf(l->kind, sizeof l->kind, "connec");
        if (!(l->db = strdup(mno_live_mongo_database(l->mg))))
            goto nomem;
        *out = l;
        return 0;
    }
    if (mno_engine_pg.open(&l->en, c->target, MNO_ROLE_TARGET, e) < 0)
        goto fail;
    l->conn = MNO_PG(l->en)->conn;
    if (!(l->db = strdup(PQdb(l->conn) ? PQdb(l->conn) : "")))
        goto nomem;
    if (mno_pg_exec(l->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL, e) < 0)
        goto fail;
    const char *kind = mno_engine_pg.source_kind(l->en, e);
    if (!kind)
        goto fail;
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    char rules[4096];
    if (c->rules_path)
        snprintf(rules, sizeof rules, "%s", c->rules_path);
    else
        snprintf(rules, sizeof rules, "%s/%s", c->scope_dir ? c->scope_dir : "filters", c->rules_name);
    if (!(l->rules = mno_rules_load(rules, e)))
        goto fail;
    if (mno_pg_schema_load(l->conn, &l->schema, e) < 0)
        goto fail;
    if ((c->to ? open_rename(l, e) : open_set_rules(l, e)) < 0)
        goto fail;

    /* the statements and the rows they change now */
    for (size_t i = 0; i < l->n; i++) {
        change *ch = &l->ch[i];
        const pg_table *t = &l->schema.t[ch->ti];
        mno_buf b = MNO_BUF_INIT;
        if (!(ch->pub.stmt = update_sql(ch, t, 1)) || inline_tenant(&ch->pub.stmt, c->tenant) < 0)
            goto nomem;
        if (mno_buf_addf(&b, "SELECT count(*) FROM %s t", t->qname) < 0 || add_changed(&b, ch, t, 0) < 0) {
            mno_buf_release(&b);
            goto nomem;
        }
        ch->changed = b.data;
        ch->pub.rows = count_q(l->conn, ch->changed, (int)ch->nset, ch->vals, t->ns, e);
        if (ch->pub.rows < 0)
            goto fail;
        l->total += ch->pub.rows;
    }
    if (c->destroy && (l->total > 0 || destroy_plan(l, e) < 0)) {
        if (l->total > 0) {
            mno_buf b = MNO_BUF_INIT;
            for (size_t i = 0; i < l->n; i++)
                if (l->ch[i].pub.rows && mno_buf_addf(&b, "%s%s %lld", b.len ? ", " : "", l->ch[i].pub.ns,
                                                      l->ch[i].pub.rows) < 0)
                    goto nomem;
            mno_err(e, MNO_E_CONFLICT, NULL, 0, NULL,
                    "tenant '%s' is not frozen (rows not at %s's values: %s): freeze it first; nothing was changed",
                    c->tenant, l->rules->file, b.data);
            mno_buf_release(&b);
        }
        goto fail;
    }
    if (c->verified && check_proofs(l, e) < 0)
        goto fail;
    *out = l;
    return 0;
nomem:
    nomem(e);
fail:
    mno_live_free(l);
    return -1;
}

const mno_live_table *mno_live_tables(const mno_live *l, size_t *n)
{
    *n = l->n;
    /* a copy of each change's public part, owned by l (the strings are the changes') */
    mno_live *m = (mno_live *)l;
    free(m->view);
    m->view = calloc(l->n ? l->n : 1, sizeof *m->view);
    if (!m->view) {
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++)
        m->view[i] = l->ch[i].pub;
    return m->view;
}

long long mno_live_total(const mno_live *l) { return l->total; }
const char *mno_live_source_kind(const mno_live *l) { return l->kind; }
const char *mno_live_database(const mno_live *l) { return l->db; }
int mno_live_renamed(const mno_live *l) { return l->renamed; }
const char *mno_live_undo_file(const mno_live *l) { return l->undo_file; }

int mno_live_plan_text(const mno_live *l, mno_buf *out, mno_error *e)
{
    for (size_t i = 0; i < l->n; i++) {
        const change *c = &l->ch[i];
        if (mno_buf_addf(out, "%s\t", c->pub.ns) < 0)
            return nomem(e);
        for (const char *p = c->pub.stmt; *p; p++)
            if (mno_buf_addc(out, *p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p) < 0)
                return nomem(e);
        if (mno_buf_addf(out, "\t%lld\n", c->pub.rows) < 0)
            return nomem(e);
    }
    return 0;
}

void mno_live_undo_name(const char *tool, const char *tenant, char *out, size_t n)
{
    char t[128], stamp[32];
    size_t k = 0;
    for (const char *p = tenant; *p && k + 1 < sizeof t; p++) {
        unsigned char ch = (unsigned char)*p;
        t[k++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '.' || ch == '_' || ch == '-'
                     ? (char)ch
                     : '_';
    }
    t[k] = '\0';
    if (k == 0 || t[0] == '.' || t[0] == '-')
        t[0] = '_';
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, n, "%s-%s-%s.undo.mnoa", tool, t, stamp);
}

/* ---- run ---- */

/* Writes the undo archive: each change's rows (locked), key and changed columns' prior values. */
static int write_undo(mno_live *l, const char *path, long long *rows, mno_error *e)
{
    mno_out *out = NULL;
    mno_writer *w = NULL;
    json_t *hdr = NULL, *begin = NULL;
    mno_buf sql = MNO_BUF_INIT;
    PGresult *res = NULL;
    int rc = -1;
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    size_t plen = strlen(path);
    oo.zstd = plen > 4 && strcmp(path + plen - 4, ".zst") == 0;
    oo.mode = 0600;
    if (!(out = mno_out_open(path, &oo, e)))
        goto done;
    hdr = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s?}}", "engine", "postgresql", "source", l->kind,
                    "tenant", l->c.tenant, "undo", "tool", l->c.tool, "action", l->c.action, "database",
                    l->db, "to", l->c.to);
    if (!hdr)
        goto nomem;
    char producer[128];
    snprintf(producer, sizeof producer, "%s %s", l->c.tool, MNO_VERSION_STR);
    if (!(w = mno_writer_new(out, hdr, producer, e)))
        goto done;
    for (size_t i = 0; i < l->n; i++) {
        const change *c = &l->ch[i];
        const pg_table *t = &l->schema.t[c->ti];
        json_t *cols = json_array(), *key = json_array(), *set = json_object();
        begin = json_pack("{s:o, s:o, s:{s:o}}", "columns", cols, "key", key, "live", "set", set);
        if (!begin)
            goto nomem;
        mno_buf_reset(&sql);
        int bad = mno_buf_adds(&sql, "SELECT ") < 0;
        for (size_t k = 0; k < t->nkey; k++) {
            bad |= json_array_append_new(cols, json_pack("{s:s, s:s}", "name", t->key[k], "type",
                                                         col_type(t, t->key[k]))) |
                   json_array_append_new(key, json_string(t->key[k]));
            bad |= (k ? mno_buf_adds(&sql, ", ") : 0) | add_col(&sql, "t", t->key[k]);
        }
        for (size_t k = 0; k < c->nset; k++) {
            bad |= json_array_append_new(cols, json_pack("{s:s, s:s}", "name", c->cols[k], "type",
                                                         col_type(t, c->cols[k]))) |
                   json_object_set_new(set, c->cols[k], c->vals[k] ? json_string(c->vals[k]) : json_null());
            bad |= mno_buf_adds(&sql, ", ") | add_col(&sql, "t", c->cols[k]);
        }
        bad |= mno_buf_addf(&sql, " FROM %s t", t->qname) | add_changed(&sql, c, t, 0);
        for (size_t k = 0; k < t->nkey; k++)
            bad |= mno_buf_adds(&sql, k ? ", " : " ORDER BY ") | add_col(&sql, "t", t->key[k]);
        bad |= mno_buf_adds(&sql, " FOR UPDATE OF t");
        if (bad)
            goto nomem;
        res = exec_vals(l->conn, sql.data, c);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            mno_pg_err(e, l->conn, res, t->ns, "cannot read and lock the rows to change");
            goto done;
        }
        if (mno_writer_begin(w, t->ns, begin, e) < 0)
            goto done;
        json_decref(begin);
        begin = NULL;
        int nf = PQnfields(res);
        const char *vals[nf > 0 ? nf : 1];
        size_t lens[nf > 0 ? nf : 1];
        for (int r = 0; r < PQntuples(res); r++) {
            for (int f = 0; f < nf; f++) {
                vals[f] = PQgetisnull(res, r, f) ? NULL : PQgetvalue(res, r, f);
                lens[f] = (size_t)PQgetlength(res, r, f);
            }
            if (mno_writer_rec_pg(w, vals, lens, e) < 0)
                goto done;
        }
        rows[i] = PQntuples(res);
        PQclear(res);
        res = NULL;
        if (mno_writer_end(w, e) < 0)
            goto done;
    }
    if (mno_writer_close(w, e) < 0)
        goto done;
    mno_writer_free(w);
    w = NULL;
    rc = mno_out_finish(out, e);
    out = NULL;
    goto done;
nomem:
    nomem(e);
done:
    PQclear(res);
    json_decref(begin);
    json_decref(hdr);
    mno_buf_release(&sql);
    mno_writer_free(w);
    mno_out_abort(out);
    return rc;
}

int mno_live_run(mno_live *l, mno_error *e)
{
    char def[512];
    long long *rows = NULL;
    int rc = -1;
    if (l->total == 0)
        return mno_pg_exec(l->conn, "ROLLBACK", NULL, e);
    const char *path = l->c.undo_file;
    if (!path) {
        mno_live_undo_name(l->c.tool, l->c.tenant, def, sizeof def);
        path = def;
    }
    struct stat st;
    if (lstat(path, &st) == 0)
        return mno_err(e, MNO_E_IO, path, 0, NULL,
                       "the undo archive exists: it will not be overwritten (give another --undo-file); nothing was changed");
    if (!(l->undo_file = strdup(path)) || !(rows = calloc(l->n, sizeof *rows)))
        return nomem(e);
    if (write_undo(l, path, rows, e) < 0)
        goto done;
    for (size_t i = 0; i < l->n; i++) {
        const change *c = &l->ch[i];
        const pg_table *t = &l->schema.t[c->ti];
        char *sql = update_sql(c, t, 0);
        if (!sql) {
            nomem(e);
            goto done;
        }
        PGresult *res = exec_vals(l->conn, sql, c);
        free(sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            mno_pg_err(e, l->conn, res, t->ns, "cannot update");
            PQclear(res);
            goto done;
        }
        long long n = strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        if (n != rows[i]) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, t->ns,
                    "the update changed %lld rows, the undo archive holds %lld; rolled back", n, rows[i]);
            goto done;
        }
        l->ch[i].pub.rows = n;
    }
    if (mno_pg_exec(l->conn, "COMMIT", NULL, e) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0 && PQtransactionStatus(l->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(l->conn, "ROLLBACK");
        PQclear(r);
    }
    free(rows);
    return rc;
}

void mno_live_free(mno_live *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        change *c = &l->ch[i];
        free(c->pub.ns);
        free(c->pub.rule);
        free(c->pub.stmt);
        free(c->pred);
        free(c->changed);
        if (!c->rule)
            free(c->vals);
    }
    free(l->ch);
    if (l->have_plan)
        mno_engine_pg.plan_free(l->en, &l->plan);
    mno_engine_pg.close(l->en);
    mno_pg_schema_release(&l->schema);
    mno_rules_free(l->rules);
    mno_scope_free(l->scope);
    free(l->db);
    free(l->undo_file);
    free(l->view);
    for (size_t i = 0; i < l->ndel; i++) {
        free(l->del[i].ns);
        free(l->del[i].rule);
        free(l->del[i].stmt);
    }
    free(l->del);
    mno_live_mongo_free(l->mg);
    free(l);
}

/* ---- undo ---- */

/* One section of the undo archive, as the undo applies it. */
typedef struct usec {
    const pg_table *t;
    size_t nkey, nset;
    size_t *kidx, *sidx;      /* the key's and the set columns' indexes in the section's columns */
    const char **setv;        /* the values the tool set (point into the begin) */
    char *check, *update;
} usec;

static void usec_release(usec *u)
{
    free(u->kidx);
    free(u->sidx);
    free(u->setv);
    free(u->check);
    free(u->update);
    memset(u, 0, sizeof *u);
}

/* Builds u for the section s of input file (line: its begin). */
static int usec_init(usec *u, const pg_schema *schema, const mno_section *s, const char *file, mno_error *e)
{
    const json_t *key = json_object_get(s->begin, "key");
    const json_t *set = json_object_get(json_object_get(s->begin, "live"), "set");
    long ti = mno_pg_schema_find(schema, s->ns);
    if (!json_is_array(key) || !json_is_object(set) || json_array_size(key) == 0)
        return mno_err(e, MNO_E_FORMAT, file, s->begin_line, s->ns,
                       "not a section of an undo archive (no key or no live.set in its begin)");
    if (ti < 0)
        return mno_err(e, MNO_E_SCOPE, file, s->begin_line, s->ns, "table not found in the target");
    u->t = &schema->t[ti];
    u->nkey = json_array_size(key);
    u->nset = s->ncols - u->nkey;
    u->kidx = calloc(u->nkey, sizeof *u->kidx);
    u->sidx = calloc(u->nset ? u->nset : 1, sizeof *u->sidx);
    u->setv = calloc(u->nset ? u->nset : 1, sizeof *u->setv);
    if (!u->kidx || !u->sidx || !u->setv)
        return nomem(e);
    size_t ns = 0;
    for (size_t i = 0; i < s->ncols; i++) {
        size_t k;
        for (k = 0; k < u->nkey; k++)
            if (json_is_string(json_array_get(key, k)) &&
                strcmp(json_string_value(json_array_get(key, k)), s->colnames[i]) == 0)
                break;
        if (mno_pg_table_col(u->t, s->colnames[i]) < 0)
            return mno_err(e, MNO_E_SCOPE, file, s->begin_line, s->ns, "the target has no column '%s'",
                           s->colnames[i]);
        if (k < u->nkey) {
            u->kidx[k] = i;
            continue;
        }
        const json_t *v = json_object_get(set, s->colnames[i]);
        if (ns == u->nset || !v || !(json_is_string(v) || json_is_null(v)))
            return mno_err(e, MNO_E_FORMAT, file, s->begin_line, s->ns,
                           "column '%s' has no value in the begin's live.set", s->colnames[i]);
        u->sidx[ns] = i;
        u->setv[ns++] = json_is_string(v) ? json_string_value(v) : NULL;
    }
    if (ns != u->nset || u->nset == 0)
        return mno_err(e, MNO_E_FORMAT, file, s->begin_line, s->ns, "the key's columns are not all in the section");
    /* params: keys $1..$K, priors $K+1..$K+S, set values $K+S+1..$K+2S */
    mno_buf c = MNO_BUF_INIT, w = MNO_BUF_INIT, up = MNO_BUF_INIT;
    int bad = 0;
    for (size_t k = 0; k < u->nkey; k++) {
        const char *col = s->colnames[u->kidx[k]];
        bad |= mno_buf_adds(&w, k ? " AND " : " WHERE ") | add_col(&w, "t", col) |
               mno_buf_addf(&w, " = $%zu::%s", k + 1, col_type(u->t, col));
    }
    bad |= mno_buf_adds(&c, "SELECT (");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < u->nset; k++) {
            const char *col = s->colnames[u->sidx[k]];
            bad |= mno_buf_adds(&c, k ? " AND " : "") | add_col(&c, "t", col) |
                   mno_buf_addf(&c, " IS NOT DISTINCT FROM $%zu::%s", u->nkey + (size_t)pass * u->nset + k + 1,
                                col_type(u->t, col));
        }
        bad |= mno_buf_adds(&c, pass ? ")" : "), (");
    }
    bad |= mno_buf_addf(&c, " FROM %s t%s FOR UPDATE OF t", u->t->qname, w.data ? w.data : "");
    bad |= mno_buf_addf(&up, "UPDATE %s t SET ", u->t->qname);
    for (size_t k = 0; k < u->nset; k++) {
        const char *col = s->colnames[u->sidx[k]];
        bad |= mno_buf_adds(&up, k ? ", " : "") | add_ident(&up, col) |
               mno_buf_addf(&up, " = $%zu::%s", u->nkey + k + 1, col_type(u->t, col));
    }
    bad |= mno_buf_adds(&up, w.data ? w.data : "");
    mno_buf_release(&w);
    u->check = c.data;
    u->update = up.data;
    return bad ? nomem(e) : 0;
}

/* Appends "ns key=value" or "ns (k1, k2)=(v1, v2)" of the record's key. */
static int add_key_desc(mno_buf *b, const mno_section *s, const usec *u, const char *const *vals)
{
    int rc = mno_buf_addf(b, "%s%s %s", b->len ? ", " : "", s->ns, u->nkey > 1 ? "(" : "");
    for (size_t k = 0; k < u->nkey; k++)
        rc |= mno_buf_addf(b, "%s%s", k ? ", " : "", s->colnames[u->kidx[k]]);
    rc |= mno_buf_adds(b, u->nkey > 1 ? ")=(" : "=");
    for (size_t k = 0; k < u->nkey; k++) {
        const char *v = vals[u->kidx[k]];
        rc |= mno_buf_addf(b, "%s%s", k ? ", " : "", v ? v : "null");
    }
    return rc | mno_buf_adds(b, u->nkey > 1 ? ")" : "");
}

void mno_live_undo_res_release(mno_live_undo_res *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n; i++)
        free(res->t[i].ns);
    free(res->t);
    free(res->tenant);
    memset(res, 0, sizeof *res);
}

/*
 * Applies the undo archive file (of tool; of tenant when want_tenant is not NULL) on conn, in its
 * open transaction, against schema (kind: the database's source kind). Fills *res. Returns 0,
 * or -1 with e filled (the caller rolls back).
 */
static int undo_apply(PGconn *conn, const pg_schema *schema, const char *kind, const char *tool,
                      const char *want_tenant, const char *file, mno_live_undo_res *res, mno_error *e)
{
    mno_in *in = NULL;
    mno_reader *rd = NULL;
    usec u;
    mno_buf conflicts = MNO_BUF_INIT;
    long long nconflicts = 0;
    mno_item it;
    int rc = -1, st;
    memset(&u, 0, sizeof u);
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    if (!(in = mno_in_open(file, e)) || !(rd = mno_reader_new(in, &ro, e)))
        goto done;
    st = mno_reader_next(rd, &it, e);
    if (st < 0)
        goto done;
    const json_t *undo = st > 0 ? json_object_get(it.obj, "undo") : NULL;
    const char *utool = json_string_value(json_object_get(undo, "tool"));
    if (!utool) {
        mno_err(e, MNO_E_USAGE, file, 1, NULL, "not an undo archive (its header has no \"undo\" object)");
        goto done;
    }
    if (strcmp(utool, tool) != 0) {
        mno_err(e, MNO_E_USAGE, file, 1, NULL, "an undo archive of %s, not of %s", utool, tool);
        goto done;
    }
    const char *tenant = json_string_value(json_object_get(it.obj, "tenant"));
    const char *source = json_string_value(json_object_get(it.obj, "source"));
    if (want_tenant && (!tenant || strcmp(tenant, want_tenant) != 0)) {
        mno_err(e, MNO_E_USAGE, file, 1, NULL, "an undo archive of tenant '%s', not of '%s'", tenant ? tenant : "",
                want_tenant);
        goto done;
    }
    if (!(res->tenant = strdup(tenant ? tenant : "")))
        goto nomem;
    if (source && strcmp(source, kind) != 0) {
        mno_err(e, MNO_E_USAGE, file, 1, NULL, "the archive is of a %s database, the target '%s' is a %s database",
                source, PQdb(conn), kind);
        goto done;
    }
    while ((st = mno_reader_next(rd, &it, e)) > 0) {
        if (it.kind == MNO_ITEM_BEGIN) {
            usec_release(&u);
            if (usec_init(&u, schema, it.section, file, e) < 0)
                goto done;
            mno_live_undone *nt = realloc(res->t, (res->n + 1) * sizeof *nt);
            if (!nt)
                goto nomem;
            res->t = nt;
            memset(&res->t[res->n], 0, sizeof *res->t);
            if (!(res->t[res->n++].ns = strdup(it.section->ns)))
                goto nomem;
            continue;
        }
        if (it.kind != MNO_ITEM_REC)
            continue;
        size_t np = u.nkey + 2 * u.nset;
        const char *p[np];
        for (size_t k = 0; k < u.nkey; k++)
            p[k] = it.vals[u.kidx[k]];
        for (size_t k = 0; k < u.nset; k++) {
            p[u.nkey + k] = it.vals[u.sidx[k]];
            p[u.nkey + u.nset + k] = u.setv[k];
        }
        PGresult *r = PQexecParams(conn, u.check, (int)np, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            mno_pg_err(e, conn, r, it.section->ns, "cannot read and lock a row to undo");
            PQclear(r);
            goto done;
        }
        int found = PQntuples(r) == 1;
        int prior = found && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        int set = found && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        PQclear(r);
        mno_live_undone *t = &res->t[res->n - 1];
        if (prior) {
            t->already++;
            continue;
        }
        if (!set) {
            if (nconflicts++ < MAX_LISTED && add_key_desc(&conflicts, it.section, &u, it.vals) < 0)
                goto nomem;
            if (!found && mno_buf_adds(&conflicts, " (gone)") < 0)
                goto nomem;
            continue;
        }
        if (nconflicts)
            continue;   /* refused anyway: only the conflicts are still of interest */
        r = PQexecParams(conn, u.update, (int)(u.nkey + u.nset), NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            mno_pg_err(e, conn, r, it.section->ns, "cannot put the prior values back");
            PQclear(r);
            goto done;
        }
        PQclear(r);
        t->restored++;
        res->restored++;
    }
    if (st < 0)
        goto done;
    if (nconflicts) {
        mno_err(e, MNO_E_CONFLICT, file, 0, NULL,
                "undo refused: %lld row%s changed since %s set %s (putting the prior values back would "
                "overwrite someone else's write): %s%s; nothing was changed",
                nconflicts, nconflicts == 1 ? "" : "s", tool, nconflicts == 1 ? "it" : "them", conflicts.data,
                nconflicts > MAX_LISTED ? " (and more)" : "");
        goto done;
    }
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    usec_release(&u);
    mno_buf_release(&conflicts);
    mno_reader_free(rd);
    mno_in_close(in);
    return rc;
}

int mno_live_undo(const mno_live_cfg *c, const char *file, mno_live_undo_res *res, mno_error *e)
{
    mno_engine *en = NULL;
    PGconn *conn = NULL;
    pg_schema schema;
    int rc = -1;
    memset(&schema, 0, sizeof schema);
    memset(res, 0, sizeof *res);
    if (mno_engine_for_uri(c->target) != &mno_engine_pg)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "only PostgreSQL targets (MnoHub, a connector database) are supported");
    if (access(file, R_OK) != 0)
        return mno_err(e, MNO_E_IO, file, 0, NULL, "cannot open: %s", strerror(errno));
    if (mno_engine_pg.open(&en, c->target, MNO_ROLE_TARGET, e) < 0)
        goto done;
    conn = MNO_PG(en)->conn;
    if (mno_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL, e) < 0)
        goto done;
    const char *kind = mno_engine_pg.source_kind(en, e);
    if (!kind || mno_pg_schema_load(conn, &schema, e) < 0)
        goto done;
    if (undo_apply(conn, &schema, kind, c->tool, NULL, file, res, e) < 0 ||
        mno_pg_exec(conn, "COMMIT", NULL, e) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0)
        mno_live_undo_res_release(res);
    mno_pg_schema_release(&schema);
    mno_engine_pg.close(en);   /* rolls back what was not committed */
    return rc;
}

/* ---- reports ---- */

static int add_json(mno_buf *out, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int rc = s ? mno_buf_adds(out, s) | mno_buf_addc(out, '\n') : -1;
    free(s);
    json_decref(o);
    return rc;
}

int mno_live_report(const mno_live *l, int json, int plan, int done, mno_buf *out)
{
    if (json) {
        json_t *tabs = json_array();
        for (size_t i = 0; tabs && i < l->n; i++)
            json_array_append_new(tabs, json_pack("{s:s, s:I, s:s}", "ns", l->ch[i].pub.ns, "rows",
                                                  (json_int_t)l->ch[i].pub.rows, "statement", l->ch[i].pub.stmt));
        return add_json(out, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:b, s:o, s:I, s:b, s:s?}", "tool",
                                       l->c.tool, "action", l->c.action, "tenant", l->c.tenant, "to", l->c.to,
                                       "source", l->kind, "database", l->db, "plan", plan, "tables", tabs,
                                       "rows", (json_int_t)l->total, "changed", done && l->total > 0,
                                       "undo_file", done ? l->undo_file : NULL));
    }
    int rc = mno_buf_addf(out, "%s: tenant '%s'%s%s%s in %s database '%s': ", l->c.tool, l->c.tenant,
                          l->c.to ? " -> '" : "", l->c.to ? l->c.to : "", l->c.to ? "'" : "", l->kind, l->db);
    if (l->total == 0)
        return rc | mno_buf_addf(out, "nothing to change%s\n",
                                 l->renamed ? " (no row holds the old name: already renamed)" : "");
    rc |= mno_buf_addf(out, "%lld row%s to change\n", l->total, l->total == 1 ? "" : "s");
    for (size_t i = 0; i < l->n; i++)
        rc |= mno_buf_addf(out, "  %-28s %6lld rows  %s\n", l->ch[i].pub.ns, l->ch[i].pub.rows, l->ch[i].pub.rule);
    if (done)
        rc |= mno_buf_addf(out, "undo archive: %s\ndone: %lld row%s changed in one transaction\n", l->undo_file,
                           l->total, l->total == 1 ? "" : "s");
    return rc;
}

int mno_live_undo_report(const mno_live_cfg *c, const char *file, const mno_live_undo_res *res, int json,
                         mno_buf *out)
{
    if (json) {
        json_t *tabs = json_array();
        for (size_t i = 0; tabs && i < res->n; i++)
            json_array_append_new(tabs, json_pack("{s:s, s:I, s:I}", "ns", res->t[i].ns, "restored",
                                                  (json_int_t)res->t[i].restored, "already",
                                                  (json_int_t)res->t[i].already));
        return add_json(out, json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "tool", c->tool, "action", "undo",
                                       "tenant", res->tenant ? res->tenant : "", "archive", file, "tables",
                                       tabs, "restored", (json_int_t)res->restored));
    }
    int rc = 0;
    if (res->restored == 0)
        return mno_buf_addf(out, "%s: undo of '%s': nothing to change (every row already holds its prior values)\n",
                            c->tool, file);
    rc |= mno_buf_addf(out, "%s: undo of '%s' (tenant '%s'):\n", c->tool, file, res->tenant ? res->tenant : "");
    for (size_t i = 0; i < res->n; i++)
        rc |= mno_buf_addf(out, "  %-28s %6lld rows restored  %lld already\n", res->t[i].ns, res->t[i].restored,
                           res->t[i].already);
    return rc | mno_buf_addf(out, "done: %lld row%s restored in one transaction\n", res->restored,
                             res->restored == 1 ? "" : "s");
}

/* ---- destroy ---- */

const mno_live_table *mno_live_destroy_tables(const mno_live *l, size_t *n)
{
    if (l->mg)
        return mno_live_mongo_tables(l->mg, n, NULL);
    *n = l->ndel;
    return l->del;
}

long long mno_live_destroy_total(const mno_live *l)
{
    long long t = l->del_total;
    if (l->mg)
        mno_live_mongo_tables(l->mg, &(size_t){0}, &t);
    return t;
}

int mno_live_destroy_pending(const mno_live *l)
{
    return l->mg ? mno_live_mongo_pending(l->mg) : l->del_total > 0;
}

const char *mno_live_destroy_unit(const mno_live *l) { return l->mg ? "documents" : "rows"; }

int mno_live_write_final(const char *path, json_t *hdr, const char *tool, const mno_engine_ops *ops,
                         mno_engine *en, const mno_plan *plan, char **id, mno_error *e)
{
    mno_out_opts oo = MNO_OUT_OPTS_INIT;
    size_t plen = strlen(path);
    oo.zstd = plen > 4 && strcmp(path + plen - 4, ".zst") == 0;
    mno_out *out = NULL;
    mno_writer *w = NULL;
    int rc = -1;
    char producer[128];
    snprintf(producer, sizeof producer, "%s %s", tool, MNO_VERSION_STR);
    if (!hdr) {
        nomem(e);
        goto done;
    }
    if (!(out = mno_out_open(path, &oo, e)) || !(w = mno_writer_new(out, hdr, producer, e)))
        goto done;
    if (id) {
        const char *aid = json_string_value(json_object_get(mno_writer_header(w), "id"));
        if (!aid || !(*id = strdup(aid))) {
            nomem(e);
            goto done;
        }
    }
    for (size_t i = 0; i < plan->n; i++)
        if (ops->dump_section(en, &plan->items[i], w, e) < 0)
            goto done;
    if (mno_writer_close(w, e) < 0)
        goto done;
    rc = mno_out_finish(out, e);
    out = NULL;
done:
    mno_writer_free(w);
    mno_out_abort(out);
    json_decref(hdr);
    return rc;
}

/* Writes the tenant's dump (every plan section, in this transaction) to path. */
static int write_final(mno_live *l, const char *path, mno_error *e)
{
    const char *slash = l->c.scope_path ? strrchr(l->c.scope_path, '/') : NULL;
    char scope[64];
    snprintf(scope, sizeof scope, "%s.scope", l->kind);
    json_t *hdr = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "engine", "postgresql", "source", l->kind,
                            "tenant", l->c.tenant, "scope",
                            l->c.scope_path ? (slash ? slash + 1 : l->c.scope_path) : scope, "final", "tool",
                            l->c.tool, "action", "destroy", "database", l->db);
    return mno_live_write_final(path, hdr, l->c.tool, &mno_engine_pg, l->en, &l->plan, NULL, e);
}

/* One section of the final archive: its keys go into a temporary table (mno_destroy_N). */
typedef struct dsec {
    const pg_table *t;
    char *ns;
    size_t nkey;
    size_t *kidx;            /* the key's columns in the section */
    long long keys;          /* keys copied */
    int del;                 /* not global: deleted */
} dsec;

/* Ends the COPY into a key table. Returns 0, or -1 with e filled. */
static int end_key_copy(PGconn *conn, mno_buf *copy, const char *ns, mno_error *e)
{
    if ((copy->len && PQputCopyData(conn, copy->data, (int)copy->len) != 1) || PQputCopyEnd(conn, NULL) != 1)
        return mno_pg_err(e, conn, NULL, ns, "cannot copy the keys to delete");
    mno_buf_reset(copy);
    PGresult *r;
    int rc = 0;
    while ((r = PQgetResult(conn)) != NULL) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = mno_pg_err(e, conn, r, ns, "cannot copy the keys to delete");
        PQclear(r);
    }
    return rc;
}

int mno_live_destroy(mno_live *l, mno_error *e)
{
    if (l->mg)
        return mno_live_mongo_destroy(l->mg, e);
    char def[512];
    dsec *ds = NULL;
    size_t nds = 0;
    mno_in *in = NULL;
    mno_reader *rd = NULL;
    mno_buf sql = MNO_BUF_INIT, copy = MNO_BUF_INIT;
    int rc = -1, st, in_copy = 0;
    const char *path = l->c.final_file;
    if (!path) {
        mno_live_undo_name(l->c.tool, l->c.tenant, def, sizeof def);
        strcpy(def + strlen(def) - strlen(".undo.mnoa"), ".final.mnoa");
        path = def;
    }
    struct stat sb;
    if (lstat(path, &sb) == 0)
        return mno_err(e, MNO_E_IO, path, 0, NULL,
                       "the final archive exists: it will not be overwritten (give another --final-archive); nothing was changed");
    if (!(l->undo_file = strdup(path)))
        return nomem(e);
    if (write_final(l, path, e) < 0)
        goto done;
    /* read it back: every count and sum and the trailer */
    if (!(in = mno_in_open(path, e)) || mno_stream_check(in, 0, NULL, e) < 0)
        goto done;
    mno_in_close(in);
    in = NULL;
    /* the keys it holds, streamed into temporary tables (memory stays flat whatever the
       tenant's size), one per deleted section */
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.fast_pg = 1;
    ro.no_digest = 1;
    if (!(ds = calloc(l->plan.n ? l->plan.n : 1, sizeof *ds)) || !(in = mno_in_open(path, e)) ||
        !(rd = mno_reader_new(in, &ro, e))) {
        if (!ds)
            nomem(e);
        goto done;
    }
    mno_item it;
    dsec *cur = NULL;
    while ((st = mno_reader_next(rd, &it, e)) > 0) {
        if (it.kind == MNO_ITEM_BEGIN) {
            if (nds == l->plan.n) {
                mno_err(e, MNO_E_INTERNAL, path, it.lineno, it.section->ns, "more sections than planned");
                goto done;
            }
            cur = &ds[nds++];
            long ti = mno_pg_schema_find(&l->schema, it.section->ns);
            if (ti < 0 || !(cur->ns = strdup(it.section->ns))) {
                ti < 0 ? mno_err(e, MNO_E_INTERNAL, path, it.lineno, it.section->ns, "table not in the schema")
                       : nomem(e);
                goto done;
            }
            cur->t = &l->schema.t[ti];
            for (size_t k = 0; k < l->ndel; k++)
                cur->del |= strcmp(l->del[k].ns, cur->ns) == 0;
            if (!cur->del)
                continue;
            cur->nkey = cur->t->nkey;
            if (!(cur->kidx = calloc(cur->nkey, sizeof *cur->kidx)))
                goto nomem;
            mno_buf_reset(&sql);
            if (mno_buf_addf(&sql, "CREATE TEMPORARY TABLE mno_destroy_%zu ON COMMIT DROP AS SELECT ", nds) < 0)
                goto nomem;
            for (size_t k = 0; k < cur->nkey; k++) {
                size_t c;
                for (c = 0; c < it.section->ncols && strcmp(it.section->colnames[c], cur->t->key[k]); c++)
                    ;
                if (c == it.section->ncols) {
                    mno_err(e, MNO_E_INTERNAL, path, it.lineno, cur->ns, "key column '%s' not in the section",
                            cur->t->key[k]);
                    goto done;
                }
                cur->kidx[k] = c;
                if ((k && mno_buf_adds(&sql, ", ") < 0) || add_col(&sql, "t", cur->t->key[k]) < 0)
                    goto nomem;
            }
            if (mno_buf_addf(&sql, " FROM %s t WITH NO DATA", cur->t->qname) < 0)
                goto nomem;
            if (mno_pg_exec(l->conn, sql.data, cur->ns, e) < 0)
                goto done;
            mno_buf_reset(&sql);
            if (mno_buf_addf(&sql, "COPY mno_destroy_%zu FROM STDIN", nds) < 0)
                goto nomem;
            PGresult *r = PQexec(l->conn, sql.data);
            int ok = PQresultStatus(r) == PGRES_COPY_IN;
            if (!ok)
                mno_pg_err(e, l->conn, r, cur->ns, "cannot copy the keys to delete");
            PQclear(r);
            if (!ok)
                goto done;
            in_copy = 1;
        } else if (it.kind == MNO_ITEM_REC && cur && cur->del) {
            for (size_t c = 0; c < cur->nkey; c++)
                if ((c && mno_buf_addc(&copy, '\t') < 0) ||
                    mno_pg_copy_value(&copy, it.vals[cur->kidx[c]], it.lens[cur->kidx[c]]) < 0)
                    goto nomem;
            if (mno_buf_addc(&copy, '\n') < 0)
                goto nomem;
            cur->keys++;
            if (copy.len >= ((size_t)64 << 10)) {
                if (PQputCopyData(l->conn, copy.data, (int)copy.len) != 1) {
                    mno_pg_err(e, l->conn, NULL, cur->ns, "cannot copy the keys to delete");
                    goto done;
                }
                mno_buf_reset(&copy);
            }
        } else if (it.kind == MNO_ITEM_END && cur && cur->del) {
            in_copy = 0;
            if (end_key_copy(l->conn, &copy, cur->ns, e) < 0)
                goto done;
        }
    }
    if (st < 0)
        goto done;
    /* children first: the plan is parents first; each key must delete its row */
    for (size_t i = nds; i-- > 0;) {
        dsec *d = &ds[i];
        if (!d->del)
            continue;
        mno_buf_reset(&sql);
        if (mno_buf_addf(&sql, "DELETE FROM %s t USING mno_destroy_%zu k", d->t->qname, i + 1) < 0)
            goto nomem;
        for (size_t k = 0; k < d->nkey; k++)
            if (mno_buf_adds(&sql, k ? " AND " : " WHERE ") < 0 || add_col(&sql, "t", d->t->key[k]) < 0 ||
                mno_buf_adds(&sql, " = ") < 0 || add_col(&sql, "k", d->t->key[k]) < 0)
                goto nomem;
        PGresult *res = PQexec(l->conn, sql.data);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            mno_pg_err(e, l->conn, res, d->ns, "cannot delete");
            PQclear(res);
            goto done;
        }
        long long n = strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        if (n != d->keys) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, d->ns,
                    "%lld rows deleted, the final archive holds %lld (a row was gone or changed its key); rolled back",
                    n, d->keys);
            goto done;
        }
    }
    if (mno_pg_exec(l->conn, "COMMIT", NULL, e) < 0)
        goto done;
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    if (in_copy) {
        PQputCopyEnd(l->conn, "aborted");
        PGresult *r;
        while ((r = PQgetResult(l->conn)) != NULL)
            PQclear(r);
    }
    if (rc < 0 && PQtransactionStatus(l->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(l->conn, "ROLLBACK");
        PQclear(r);
    }
    for (size_t i = 0; i < nds; i++) {
        free(ds[i].ns);
        free(ds[i].kidx);
    }
    free(ds);
    mno_reader_free(rd);
    mno_in_close(in);
    mno_buf_release(&sql);
    mno_buf_release(&copy);
    return rc;
}

int mno_live_destroy_report(const mno_live *l, int json, int plan, mno_buf *out)
{
    size_t ndel;
    const mno_live_table *del = mno_live_destroy_tables(l, &ndel);
    long long total = mno_live_destroy_total(l), deleted = total, this_run = total;
    const char *final = l->mg ? mno_live_mongo_final(l->mg) : l->undo_file;
    int pending = mno_live_destroy_pending(l);
    if (l->mg)
        deleted = mno_live_mongo_deleted(l->mg, &this_run);
    if (json) {
        json_t *tabs = json_array();
        for (size_t i = 0; tabs && i < ndel; i++)
            json_array_append_new(tabs, json_pack("{s:s, s:I, s:s}", "ns", del[i].ns, "rows",
                                                  (json_int_t)del[i].rows, "statement", del[i].stmt));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:I, s:s?}", "tool", l->c.tool, "action",
                              "destroy", "tenant", l->c.tenant, "source", l->kind, "database", l->db, "plan", plan,
                              "tables", tabs, "rows", (json_int_t)total, "final_archive",
                              plan || !pending ? NULL : final);
        if (o && l->mg &&
            (json_object_set_new(o, "deleted", json_integer(plan || !pending ? 0 : deleted)) < 0 ||
             json_object_set_new(o, "resumed", json_boolean(mno_live_mongo_resuming(l->mg))) < 0)) {
            json_decref(o);
            o = NULL;
        }
        return add_json(out, o);
    }
    int rc = 0;
    if (plan) {
        for (size_t i = 0; i < ndel; i++) {
            rc |= mno_buf_addf(out, "%s\t", del[i].ns);
            for (const char *p = del[i].stmt; *p; p++)
                rc |= mno_buf_addc(out, *p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p);
            rc |= mno_buf_addf(out, "\t%lld\n", del[i].rows);
        }
        return rc;
    }
    if (!pending)
        return mno_buf_addf(out, "%s: tenant '%s' in %s database '%s': nothing to change (no %s of the tenant left)\n",
                            l->c.tool, l->c.tenant, l->kind, l->db, l->mg ? "document" : "row");
    if (l->mg)
        return mno_buf_addf(out, "%s: tenant '%s' destroyed in %s database '%s'\nfinal archive: %s\n"
                                 "done: %lld documents deleted from %zu collections%s",
                            l->c.tool, l->c.tenant, l->kind, l->db, final, deleted, ndel,
                            deleted != this_run ? "" : "\n") |
               (deleted != this_run
                    ? mno_buf_addf(out, " (%lld of them by the interrupted run this one finished)\n", deleted - this_run)
                    : 0);
    return mno_buf_addf(out, "%s: tenant '%s' destroyed in %s database '%s'\nfinal archive: %s\n"
                             "done: %lld rows deleted from %zu tables in one transaction\n",
                        l->c.tool, l->c.tenant, l->kind, l->db, final, total, ndel);
}
