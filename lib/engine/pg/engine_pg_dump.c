/* engine_pg_dump.c: the PostgreSQL engine's dump side: the plan (scope rules + declared foreign keys -> one SELECT per table, parents first) and each section streamed with COPY, in one snapshot, with -j workers sharing it. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "v16.h"
#include "buf.h"
#include "engine_pg.h"
#include "engine_pg_schema.h"
#include "engine_pg_refs.h"
#include "engine_pg_seq.h"
#include "engine_pg_pgdump.h"
#include "scope.h"

/*
 * How a table belongs to the tenant. Rules come from the scope; a table the scope does not
 * mention is placed by its declared foreign keys to tenant tables (K_FK), else unscoped.
 * The tenant's rows of a table are selected by a predicate on the row: rules OR-ed, each
 * parent link a semi-join (IN) on the parent's own predicate, recursively, so that one
 * SELECT per table reads only the tenant's rows, in the same snapshot as every other.
 * The tenant value is a session setting (mno.tenant, set with a bound parameter), so the
 * queries, COPY included, carry no value of the user's.
 */
enum { K_UNSCOPED = 0, K_SKIP, K_GLOBAL, K_RULES, K_FK };

#define TENANT_SETTING "mno.tenant"
#define AHEAD_PER_JOB 2   /* -j: sections a worker may dump ahead of the writer, per job */

typedef struct dtab {
    int kind;
    size_t *rules;        /* K_RULES/K_GLOBAL/K_SKIP: indexes into the scope's rules */
    size_t nrules;
    size_t *fks;          /* K_FK: indexes into the table's declared foreign keys */
    size_t nfks;
    int round;            /* K_FK: the placement round (rules: 0) */
    int mark;             /* cycle check / topological order */
} dtab;

/* A plan item's engine part (it->priv). */
typedef struct sec {
    size_t idx;           /* position in the plan */
    size_t table;         /* index in the schema */
    char *copy;           /* COPY (SELECT ...) TO STDOUT */
    /* -j: a worker's result */
    int state;            /* S_* */
    FILE *tmp;            /* the rows as COPY sent them */
    mno_error err;
} sec;

enum { S_FREE = 0, S_RUNNING, S_DONE, S_FAILED };

typedef struct pg_dump {
    pg_schema schema;
    mno_scope *scope;
    dtab *d;
    int in_txn;
    int jobs;
    sec **secs;           /* in plan order */
    size_t nsecs;
    /* -j */
    int started;
    char *snapshot;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int mu_init;
    pthread_t *threads;
    size_t nthreads;
    PGconn **wconn;       /* workers' connections (set by each worker, for cancel) */
    size_t next;          /* next section nobody claimed */
    size_t cur;           /* the section the writer is at */
    int stop;
    char *tenant;
    mno_pg *pg;
    struct hasher *hasher;  /* the sections' hashing thread */
    /* the dangling-reference check (engine_pg_refs.c) */
    struct plink *links;    /* what it follows */
    size_t nlinks;
    mno_pg_refs *refs;
    long **refkeys;         /* per table: its key columns' indexes, for messages */
} pg_dump;

/* A link the dangling check follows: a parent rule or a declared foreign key of a table
   dumped by rules or foreign keys, to a table that is not global. */
typedef struct plink {
    size_t child;
    long parent;            /* -1: the referenced table is not dumped */
    size_t pt;              /* the referenced table (also when it is not dumped) */
    char *const *cols;      /* borrowed from the scope or the schema */
    char *const *refcols;
    size_t n;
    const char *gcol, *gval;
    int gnull;
    char *desc;             /* "user_id -> public.users.id", "fk (a, b) -> public.t(x, y)" */
} plink;

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

/* ---- state ---- */

static void sec_free(sec *s)
{
    if (!s)
        return;
    free(s->copy);
    if (s->tmp)
        fclose(s->tmp);
    free(s);
}

static void stop_workers(pg_dump *st)
{
    if (!st->started)
        return;
    pthread_mutex_lock(&st->mu);
    st->stop = 1;
    for (size_t i = 0; i < st->nthreads; i++) {
        if (!st->wconn[i])
            continue;
        PGcancel *cn = PQgetCancel(st->wconn[i]);
        char buf[256];
        if (cn) {
            PQcancel(cn, buf, sizeof buf);
            PQfreeCancel(cn);
        }
    }
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    for (size_t i = 0; i < st->nthreads; i++)
        pthread_join(st->threads[i], NULL);
    st->started = 0;
}

static void hasher_free(struct hasher *hs);

static void dump_state_free(pg_dump *st)
{
    if (!st)
        return;
    stop_workers(st);
    hasher_free(st->hasher);
    for (size_t i = 0; st->d && i < st->schema.n; i++) {
        free(st->d[i].rules);
        free(st->d[i].fks);
    }
    free(st->d);
    for (size_t i = 0; i < st->nlinks; i++)
        free(st->links[i].desc);
    free(st->links);
    mno_pg_refs_free(st->refs);
    for (size_t i = 0; st->refkeys && i < st->schema.n; i++)
        free(st->refkeys[i]);
    free(st->refkeys);
    mno_pg_schema_release(&st->schema);
    mno_scope_free(st->scope);
    for (size_t i = 0; i < st->nsecs; i++)
        sec_free(st->secs[i]);
    free(st->secs);
    free(st->threads);
    free(st->wconn);
    free(st->snapshot);
    free(st->tenant);
    if (st->mu_init) {
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
    }
    free(st);
}

void mno_pg_dump_free(mno_pg *pg)
{
    if (!pg || !pg->dump)
        return;
    dump_state_free(pg->dump);
    pg->dump = NULL;
}

void mno_pg_plan_free(mno_engine *en, mno_plan *plan)
{
    mno_pg *pg = MNO_PG(en);
    if (plan) {
        for (size_t i = 0; i < plan->n; i++) {
            free(plan->items[i].ns);
            free(plan->items[i].rule);
            free(plan->items[i].query);
        }
        free(plan->items);
        for (size_t i = 0; i < plan->n_unscoped; i++)
            free(plan->unscoped[i]);
        free(plan->unscoped);
        for (size_t i = 0; i < plan->n_dangling; i++)
            free(plan->dangling[i]);
        free(plan->dangling);
        memset(plan, 0, sizeof *plan);
    }
    if (pg)
        mno_pg_dump_free(pg);
}

/* ---- SQL ---- */

/* Appends the quoted identifier. */
static int add_ident(mno_buf *b, const char *name)
{
    char *q = mno_pg_ident(name);
    int rc = q ? mno_buf_adds(b, q) : -1;
    free(q);
    return rc;
}

/* Appends alias."col". */
static int add_col(mno_buf *b, const char *alias, const char *col)
{
    return mno_buf_addf(b, "%s.", alias) < 0 ? -1 : add_ident(b, col);
}

/* Appends a string literal ('...' with quotes doubled; standard_conforming_strings is on). */
static int add_lit(mno_buf *b, const char *s)
{
    if (mno_buf_addc(b, '\'') < 0)
        return -1;
    for (const char *p = s; *p; p++)
        if ((*p == '\'' && mno_buf_addc(b, '\'') < 0) || mno_buf_addc(b, *p) < 0)
            return -1;
    return mno_buf_addc(b, '\'');
}

static int add_pred(pg_dump *st, size_t ti, const char *alias, int *ctr, mno_buf *b);

/* Appends "(SELECT p.c1[, p.c2...] FROM parent p WHERE pred)"; astext casts the column to
   text; array makes it "ARRAY(SELECT ...)" (one column), which the planner evaluates once and
   can match with an index (col = ANY (...), several of them OR-ed as a BitmapOr). */
static int add_parent_set(pg_dump *st, size_t pi, char *const *cols, size_t n, int astext,
                          int array, int *ctr, mno_buf *b)
{
    char sub[24];
    snprintf(sub, sizeof sub, "p%d", ++*ctr);
    if (mno_buf_adds(b, array ? "ARRAY(SELECT " : "(SELECT ") < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((i && mno_buf_adds(b, ", ") < 0) || add_col(b, sub, cols[i]) < 0 ||
            (astext && mno_buf_adds(b, "::text") < 0))
            return -1;
    if (mno_buf_addf(b, " FROM %s %s", st->schema.t[pi].from, sub) < 0)
        return -1;
    if (st->d[pi].kind != K_GLOBAL &&
        (mno_buf_adds(b, " WHERE ") < 0 || add_pred(st, pi, sub, ctr, b) < 0))
        return -1;
    return mno_buf_addc(b, ')');
}

/* Appends the jsonb value a uids json rule looks at: COL (as jsonb) #> path. */
static int add_json_expr(mno_buf *b, const pg_table *t, const mno_scope_rule *r, const char *alias)
{
    long ci = mno_pg_table_col(t, r->cols[0]);
    const char *type = ci >= 0 ? t->cols[ci].type : "";
    if (mno_buf_addc(b, '(') < 0)
        return -1;
    if (strcmp(type, "jsonb") == 0) {
        if (add_col(b, alias, r->cols[0]) < 0)
            return -1;
    } else if (strcmp(type, "json") == 0) {
        if (add_col(b, alias, r->cols[0]) < 0 || mno_buf_adds(b, "::jsonb") < 0)
            return -1;
    } else { /* text holding JSON; blank is no value */
        if (mno_buf_adds(b, "NULLIF(btrim(") < 0 || add_col(b, alias, r->cols[0]) < 0 ||
            mno_buf_adds(b, "::text), '')::jsonb") < 0)
            return -1;
    }
    if (r->npath) {
        if (mno_buf_adds(b, " #> ARRAY[") < 0)
            return -1;
        for (size_t i = 0; i < r->npath; i++)
            if ((i && mno_buf_adds(b, ", ") < 0) || add_lit(b, r->path[i]) < 0)
                return -1;
        if (mno_buf_adds(b, "]::text[]") < 0)
            return -1;
    }
    return mno_buf_addc(b, ')');
}

/* Appends one rule as a predicate on alias. */
static int add_rule_pred(pg_dump *st, size_t ti, const mno_scope_rule *r, const char *alias,
                         int *ctr, mno_buf *b)
{
    const pg_table *t = &st->schema.t[ti];
    long pi = r->ref_ns ? mno_pg_schema_find(&st->schema, r->ref_ns) : -1;
    char *refcol[1] = {r->ref_col};
    switch (r->kind) {
    case MNO_SCOPE_ROOT:
        if (mno_buf_addc(b, '(') < 0)
            return -1;
        for (size_t i = 0; i < r->ncols; i++)
            if ((i && mno_buf_adds(b, " OR ") < 0) || add_col(b, alias, r->cols[i]) < 0 ||
                mno_buf_adds(b, "::text = current_setting('" TENANT_SETTING "')") < 0)
                return -1;
        return mno_buf_addc(b, ')');
    case MNO_SCOPE_PARENT:
        if (mno_buf_addc(b, '(') < 0)
            return -1;
        if (r->guard_null && (add_col(b, alias, r->guard_col) < 0 || mno_buf_adds(b, " IS NULL AND ") < 0))
            return -1;
        if (!r->guard_null && r->guard_col &&
            (add_col(b, alias, r->guard_col) < 0 || mno_buf_adds(b, " = ") < 0 ||
             add_lit(b, r->guard_val) < 0 || mno_buf_adds(b, " AND ") < 0))
            return -1;
        if (add_col(b, alias, r->cols[0]) < 0 || mno_buf_adds(b, " = ANY (") < 0 ||
            add_parent_set(st, (size_t)pi, refcol, 1, 0, 1, ctr, b) < 0)
            return -1;
        return mno_buf_adds(b, "))");
    case MNO_SCOPE_UIDS:
        if (!r->uids_json) {
            char tok[24];
            snprintf(tok, sizeof tok, "p%d", ++*ctr);
            if (mno_buf_adds(b, "EXISTS (SELECT 1 FROM regexp_split_to_table(") < 0 ||
                add_col(b, alias, r->cols[0]) < 0 ||
                mno_buf_addf(b, "::text, '[^A-Za-z0-9_-]+') AS %s(tok) WHERE %s.tok IN ", tok, tok) < 0 ||
                add_parent_set(st, (size_t)pi, refcol, 1, 1, 0, ctr, b) < 0)
                return -1;
            return mno_buf_addc(b, ')');
        }
        if (mno_buf_adds(b, "(jsonb_typeof") < 0 || add_json_expr(b, t, r, alias) < 0 ||
            mno_buf_adds(b, " IN ('array', 'string') AND ") < 0 || add_json_expr(b, t, r, alias) < 0 ||
            mno_buf_adds(b, " ?| ") < 0 || add_parent_set(st, (size_t)pi, refcol, 1, 1, 1, ctr, b) < 0)
            return -1;
        return mno_buf_addc(b, ')');
    default:
        return mno_buf_adds(b, "false");
    }
}

/* Appends the predicate saying that the row alias of table ti belongs to the tenant. */
static int add_pred(pg_dump *st, size_t ti, const char *alias, int *ctr, mno_buf *b)
{
    const dtab *d = &st->d[ti];
    const pg_table *t = &st->schema.t[ti];
    if (d->kind == K_GLOBAL)
        return mno_buf_adds(b, "true");
    size_t n = d->kind == K_FK ? d->nfks : d->nrules;
    if (n > 1 && mno_buf_addc(b, '(') < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        /* rules OR-ed, an 'and' group's AND-ed (each rule's predicate is one term) */
        int and = k && d->kind != K_FK && st->scope->rules[d->rules[k - 1]].and_next;
        if (k && mno_buf_adds(b, and ? " AND " : " OR ") < 0)
            return -1;
        if (d->kind == K_FK) {
            const pg_fk *fk = &t->fks[d->fks[k]];
            if (fk->n > 1 && mno_buf_addc(b, '(') < 0)
                return -1;
            for (size_t i = 0; i < fk->n; i++)
                if ((i && mno_buf_adds(b, ", ") < 0) || add_col(b, alias, fk->cols[i]) < 0)
                    return -1;
            if ((fk->n > 1 && mno_buf_addc(b, ')') < 0) || mno_buf_adds(b, fk->n > 1 ? " IN " : " = ANY (") < 0 ||
                add_parent_set(st, fk->ref, fk->refcols, fk->n, 0, fk->n == 1, ctr, b) < 0 ||
                (fk->n == 1 && mno_buf_addc(b, ')') < 0))
                return -1;
        } else if (add_rule_pred(st, ti, &st->scope->rules[d->rules[k]], alias, ctr, b) < 0) {
            return -1;
        }
    }
    return n > 1 ? mno_buf_addc(b, ')') : 0;
}

/* The SELECT of table ti: its columns, the tenant predicate (none with all), key order. */
static char *select_sql(pg_dump *st, size_t ti, int all)
{
    const pg_table *t = &st->schema.t[ti];
    mno_buf b = MNO_BUF_INIT;
    int ctr = 0;
    if (mno_buf_adds(&b, "SELECT ") < 0)
        goto fail;
    for (size_t i = 0; i < t->ncols; i++)
        if ((i && mno_buf_adds(&b, ", ") < 0) || add_col(&b, "t", t->cols[i].name) < 0)
            goto fail;
    if (mno_buf_addf(&b, " FROM %s t", t->from) < 0)
        goto fail;
    if (!all && st->d[ti].kind != K_GLOBAL &&
        (mno_buf_adds(&b, " WHERE ") < 0 || add_pred(st, ti, "t", &ctr, &b) < 0))
        goto fail;
    for (size_t i = 0; i < t->nkey; i++) {
        long ci = mno_pg_table_col(t, t->key[i]);
        if (mno_buf_adds(&b, i ? ", " : " ORDER BY ") < 0 || add_col(&b, "t", t->key[i]) < 0)
            goto fail;
        if (ci >= 0 && !t->cols[ci].orderable && mno_buf_adds(&b, "::text COLLATE \"C\"") < 0)
            goto fail;
    }
    return b.data;
fail:
    mno_buf_release(&b);
    return NULL;
}

/* The rule of table ti as --plan shows it. */
static char *rule_text(pg_dump *st, size_t ti)
{
    const dtab *d = &st->d[ti];
    const pg_table *t = &st->schema.t[ti];
    mno_buf b = MNO_BUF_INIT;
    if (d->kind == K_FK) {
        for (size_t k = 0; k < d->nfks; k++) {
            const pg_fk *fk = &t->fks[d->fks[k]];
            if (mno_buf_adds(&b, k ? " or fk (" : "fk (") < 0)
                goto fail;
            for (size_t i = 0; i < fk->n; i++)
                if (mno_buf_addf(&b, "%s%s", i ? ", " : "", fk->cols[i]) < 0)
                    goto fail;
            if (mno_buf_addf(&b, ") -> %s(", st->schema.t[fk->ref].ns) < 0)
                goto fail;
            for (size_t i = 0; i < fk->n; i++)
                if (mno_buf_addf(&b, "%s%s", i ? ", " : "", fk->refcols[i]) < 0)
                    goto fail;
            if (mno_buf_addf(&b, ") (declared %s)", fk->name) < 0)
                goto fail;
        }
    } else {
        for (size_t k = 0; k < d->nrules; k++)
            if (mno_buf_addf(&b, "%s%s", !k ? "" : st->scope->rules[d->rules[k - 1]].and_next ? " and " : " or ",
                             st->scope->rules[d->rules[k]].text) < 0)
                goto fail;
    }
    if (!b.data && mno_buf_adds(&b, "") < 0)
        goto fail;
    return b.data;
fail:
    mno_buf_release(&b);
    return NULL;
}

/* ---- source kind ---- */

const char *mno_pg_source_kind(mno_engine *en, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    /* a connector database keys its organizations by a tenant column and has no tenants table */
    PGresult *r = PQexec(pg->conn,
        "SELECT to_regclass('public.tenants') IS NULL AND EXISTS (SELECT 1 FROM pg_attribute "
        "WHERE attrelid = to_regclass('public.organizations') AND attname = 'tenant' AND NOT attisdropped)");
    const char *kind = NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        mno_pg_err(e, pg->conn, r, NULL, "cannot read the catalog");
    else
        kind = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? "connector" : "mnohub";
    PQclear(r);
    return kind;
}

/* ---- plan ---- */

static int scope_err(pg_dump *st, const mno_scope_rule *r, mno_error *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int scope_err(pg_dump *st, const mno_scope_rule *r, mno_error *e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mno_err(e, MNO_E_SCOPE, st->scope->file, r->line, NULL, "%s: %s", r->name, msg);
}

/* Checks rule r of table ti against the catalog: columns, referenced table and column. */
static int check_rule(pg_dump *st, size_t ti, const mno_scope_rule *r, mno_error *e)
{
    const pg_table *t = &st->schema.t[ti];
    if (r->kind == MNO_SCOPE_MATCH)
        return scope_err(st, r, e, "rule 'match' does not apply to a postgresql table (use root, parent, uids, global or skip)");
    for (size_t i = 0; i < r->ncols; i++)
        if (mno_pg_table_col(t, r->cols[i]) < 0)
            return scope_err(st, r, e, "column '%s' not found in the source", r->cols[i]);
    if (r->guard_col && mno_pg_table_col(t, r->guard_col) < 0)
        return scope_err(st, r, e, "column '%s' not found in the source", r->guard_col);
    if (!r->ref_ns)
        return 0;
    long pi = mno_pg_schema_find(&st->schema, r->ref_ns);
    if (pi < 0)
        return scope_err(st, r, e, "table '%s' not found in the source", r->ref_ns);
    if ((size_t)pi == ti)
        return scope_err(st, r, e, "a table cannot link to itself");
    if (st->d[pi].kind == K_UNSCOPED)
        return scope_err(st, r, e, "parent '%s' is not in the scope", r->ref_ns);
    if (st->d[pi].kind == K_SKIP)
        return scope_err(st, r, e, "parent '%s' is skipped", r->ref_ns);
    if (mno_pg_table_col(&st->schema.t[pi], r->ref_col) < 0)
        return scope_err(st, r, e, "column '%s.%s' not found in the source", r->ref_ns, r->ref_col);
    return 0;
}

/* Depth-first search for a cycle of rule links from ti (mark: 1 on the path, 2 done). */
static int rule_cycle(pg_dump *st, size_t ti, mno_error *e)
{
    dtab *d = &st->d[ti];
    if (d->mark == 2 || d->kind != K_RULES)
        return 0;
    d->mark = 1;
    for (size_t k = 0; k < d->nrules; k++) {
        const mno_scope_rule *r = &st->scope->rules[d->rules[k]];
        if (!r->ref_ns)
            continue;
        size_t pi = (size_t)mno_pg_schema_find(&st->schema, r->ref_ns);
        if (st->d[pi].mark == 1)
            return scope_err(st, r, e, "parent links form a cycle through '%s'", r->ref_ns);
        if (rule_cycle(st, pi, e) < 0)
            return -1;
    }
    d->mark = 2;
    return 0;
}

/* Places the tables the scope does not mention by their declared foreign keys to tenant
   tables, in rounds: a table placed in round n links only to tables placed before it. */
static int place_by_fks(pg_dump *st, mno_error *e)
{
    for (int round = 1;; round++) {
        int placed = 0;
        for (size_t i = 0; i < st->schema.n; i++) {
            dtab *d = &st->d[i];
            const pg_table *t = &st->schema.t[i];
            if (d->kind != K_UNSCOPED)
                continue;
            for (size_t k = 0; k < t->nfks; k++) {
                const dtab *p = &st->d[t->fks[k].ref];
                if (t->fks[k].ref == i || !((p->kind == K_RULES) || (p->kind == K_FK && p->round < round)))
                    continue;
                size_t *nf = realloc(d->fks, (d->nfks + 1) * sizeof *nf);
                if (!nf)
                    return nomem(e);
                d->fks = nf;
                d->fks[d->nfks++] = k;
            }
            if (d->nfks) {
                d->kind = K_FK;
                d->round = round;
                placed = 1;
            }
        }
        if (!placed)
            return 0;
    }
}

static int dumped(const dtab *d) { return d->kind == K_GLOBAL || d->kind == K_RULES || d->kind == K_FK; }

/* 1 when every table ti must follow (rules, placing foreign keys; with all_fks every
   declared foreign key) is emitted (mark 3). */
static int deps_done(pg_dump *st, size_t ti, int all_fks)
{
    const dtab *d = &st->d[ti];
    const pg_table *t = &st->schema.t[ti];
    for (size_t k = 0; d->kind == K_RULES && k < d->nrules; k++) {
        const mno_scope_rule *r = &st->scope->rules[d->rules[k]];
        if (r->ref_ns && st->d[mno_pg_schema_find(&st->schema, r->ref_ns)].mark != 3)
            return 0;
    }
    for (size_t k = 0; d->kind == K_FK && k < d->nfks; k++)
        if (st->d[t->fks[d->fks[k]].ref].mark != 3)
            return 0;
    for (size_t k = 0; all_fks && k < t->nfks; k++) {
        size_t ri = t->fks[k].ref;
        if (ri != ti && dumped(&st->d[ri]) && st->d[ri].mark != 3)
            return 0;
    }
    return 1;
}

/* Whether table a, not emitted yet, reaches table b through the declared foreign keys of
   tables not emitted yet (a -> the tables it references). seen: scratch, one per table. */
static int fk_reaches(pg_dump *st, size_t a, size_t b, char *seen)
{
    if (seen[a])
        return 0;
    seen[a] = 1;
    const pg_table *t = &st->schema.t[a];
    for (size_t k = 0; k < t->nfks; k++) {
        size_t ri = t->fks[k].ref;
        if (ri == a || !dumped(&st->d[ri]) || st->d[ri].mark == 3)
            continue;
        if (ri == b || fk_reaches(st, ri, b, seen))
            return 1;
    }
    return 0;
}

/* 1 when every table ti waits for (its declared foreign keys' tables not emitted yet) waits
   for ti in turn: ti is in a cycle of foreign keys and nothing outside the cycle holds it
   back, so starting the cycle with it puts every other table after its parents. */
static int in_cycle_only(pg_dump *st, size_t ti, char *seen)
{
    const pg_table *t = &st->schema.t[ti];
    for (size_t k = 0; k < t->nfks; k++) {
        size_t ri = t->fks[k].ref;
        if (ri == ti || !dumped(&st->d[ri]) || st->d[ri].mark == 3)
            continue;
        memset(seen, 0, st->schema.n);
        if (!fk_reaches(st, ri, ti, seen))
            return 0;
    }
    return 1;
}

/* The dumped tables parents first: the first by name whose parents are out; when declared
   foreign keys form a cycle, the first by name of a cycle that waits for nothing else
   (whose rule parents are out), else the first by name whose rule parents are out. */
static size_t *topo_order(pg_dump *st, size_t *nout, mno_error *e)
{
    size_t n = 0, total = 0;
    for (size_t i = 0; i < st->schema.n; i++) {
        st->d[i].mark = 0;
        total += dumped(&st->d[i]);
    }
    size_t *order = calloc(total ? total : 1, sizeof *order);
    if (!order) {
        nomem(e);
        return NULL;
    }
    char *seen = malloc(st->schema.n ? st->schema.n : 1);
    if (!seen) {
        free(order);
        nomem(e);
        return NULL;
    }
    while (n < total) {
        long pick = -1;
        for (int strict = 2; strict >= 0 && pick < 0; strict--)
            for (size_t i = 0; i < st->schema.n && pick < 0; i++)
                if (dumped(&st->d[i]) && st->d[i].mark != 3 && deps_done(st, i, strict == 2) &&
                    (strict != 1 || in_cycle_only(st, i, seen)))
                    pick = (long)i;
        if (pick < 0) { /* cannot happen: rule links were checked for cycles */
            free(seen);
            free(order);
            mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "no dump order for the scope's tables");
            return NULL;
        }
        st->d[pick].mark = 3;
        order[n++] = (size_t)pick;
    }
    free(seen);
    *nout = n;
    return order;
}

/* ---- dangling references ---- */

static int add_plink(pg_dump *st, size_t child, size_t pt, char *const *cols, char *const *refcols, size_t n,
                     const char *gcol, const char *gval, int gnull, char *desc)
{
    if (!desc)
        return -1;
    plink *nl = realloc(st->links, (st->nlinks + 1) * sizeof *nl);
    if (!nl) {
        free(desc);
        return -1;
    }
    st->links = nl;
    st->links[st->nlinks++] = (plink){child, dumped(&st->d[pt]) ? (long)pt : -1, pt, cols, refcols, n,
                                      gcol, gval, gnull, desc};
    return 0;
}

/* Collects the links every dumped row must resolve (docs/scope.md, "Dangling references"):
   of each table dumped by rules or foreign keys, its parent rules and its declared foreign
   keys, but those to global tables (copied whole); and sets the in-memory check up. */
static int links_setup(pg_dump *st, mno_error *e)
{
    if (!(st->refs = mno_pg_refs_new()) || !(st->refkeys = calloc(st->schema.n ? st->schema.n : 1, sizeof *st->refkeys)))
        return nomem(e);
    for (size_t ti = 0; ti < st->schema.n; ti++) {
        const dtab *d = &st->d[ti];
        const pg_table *t = &st->schema.t[ti];
        if (!dumped(d))
            continue;
        if (!(st->refkeys[ti] = calloc(t->nkey ? t->nkey : 1, sizeof **st->refkeys)))
            return nomem(e);
        for (size_t i = 0; i < t->nkey; i++)
            st->refkeys[ti][i] = mno_pg_table_col(t, t->key[i]);
        if (mno_pg_refs_table(st->refs, ti, t->ns, t->key, st->refkeys[ti], t->nkey) < 0)
            return nomem(e);
        if (d->kind != K_RULES && d->kind != K_FK)
            continue;
        size_t first = st->nlinks;
        for (size_t k = 0; d->kind == K_RULES && k < d->nrules; k++) {
            const mno_scope_rule *r = &st->scope->rules[d->rules[k]];
            if (r->kind != MNO_SCOPE_PARENT)
                continue;
            size_t pi = (size_t)mno_pg_schema_find(&st->schema, r->ref_ns);
            if (st->d[pi].kind == K_GLOBAL)
                continue;
            char *desc = NULL;
            if (asprintf(&desc, "%s -> %s.%s", r->cols[0], r->ref_ns, r->ref_col) < 0)
                desc = NULL;
            if (add_plink(st, ti, pi, r->cols, &r->ref_col, 1, r->guard_col, r->guard_val, r->guard_null, desc) < 0)
                return nomem(e);
        }
        for (size_t k = 0; k < t->nfks; k++) {
            const pg_fk *fk = &t->fks[k];
            if (st->d[fk->ref].kind == K_GLOBAL)
                continue;
            int same = 0;   /* a parent rule says the same */
            for (size_t j = first; j < st->nlinks && !same; j++) {
                const plink *l = &st->links[j];
                same = !l->gcol && fk->n == 1 && l->pt == fk->ref && strcmp(l->cols[0], fk->cols[0]) == 0 &&
                       strcmp(l->refcols[0], fk->refcols[0]) == 0;
            }
            if (same)
                continue;
            mno_buf b = MNO_BUF_INIT;
            int bad = mno_buf_adds(&b, "fk (") < 0;
            for (size_t i = 0; !bad && i < fk->n; i++)
                bad = mno_buf_addf(&b, "%s%s", i ? ", " : "", fk->cols[i]) < 0;
            bad = bad || mno_buf_addf(&b, ") -> %s(", st->schema.t[fk->ref].ns) < 0;
            for (size_t i = 0; !bad && i < fk->n; i++)
                bad = mno_buf_addf(&b, "%s%s", i ? ", " : "", fk->refcols[i]) < 0;
            bad = bad || mno_buf_addf(&b, ") (declared %s)", fk->name) < 0;
            if (bad) {
                mno_buf_release(&b);
                return nomem(e);
            }
            if (add_plink(st, ti, fk->ref, fk->cols, fk->refcols, fk->n, NULL, NULL, 0, b.data) < 0)
                return nomem(e);
        }
    }
    for (size_t i = 0; i < st->nlinks; i++) {
        const plink *l = &st->links[i];
        const pg_table *c = &st->schema.t[l->child], *p = &st->schema.t[l->pt];
        long cols[64], refcols[64];
        if (l->n > 64)
            continue;
        for (size_t k = 0; k < l->n; k++) {
            cols[k] = mno_pg_table_col(c, l->cols[k]);
            refcols[k] = mno_pg_table_col(p, l->refcols[k]);
        }
        if (mno_pg_refs_link(st->refs, l->child, cols, l->n, l->parent, refcols,
                             l->gcol ? mno_pg_table_col(c, l->gcol) : -1, l->gval, l->gnull, l->desc) < 0)
            return nomem(e);
    }
    return 0;
}

/* --plan: the same check in SQL, over the rows the plan selects: per link, the rows whose
   link resolves to no selected row of the parent. Fills plan->dangling. */
static int plan_dangling(pg_dump *st, PGconn *c, int all, mno_plan *plan, mno_error *e)
{
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    for (size_t i = 0; i < st->nlinks; i++) {
        const plink *l = &st->links[i];
        const pg_table *t = &st->schema.t[l->child];
        int ctr = 0;
        mno_buf_reset(&b);
        if (mno_buf_adds(&b, "SELECT count(*), min(ROW(") < 0)
            goto nomem;
        for (size_t k = 0; k < t->nkey; k++)
            if ((k && mno_buf_adds(&b, ", ") < 0) || add_col(&b, "t", t->key[k]) < 0)
                goto nomem;
        if (mno_buf_adds(&b, ")::text || ' ' || ROW(") < 0)
            goto nomem;
        for (size_t k = 0; k < l->n; k++)
            if ((k && mno_buf_adds(&b, ", ") < 0) || add_col(&b, "t", l->cols[k]) < 0)
                goto nomem;
        if (mno_buf_addf(&b, ")::text) FROM %s t WHERE ", t->qname) < 0)
            goto nomem;
        if (!all && (add_pred(st, l->child, "t", &ctr, &b) < 0 || mno_buf_adds(&b, " AND ") < 0))
            goto nomem;
        if (l->gcol && (add_col(&b, "t", l->gcol) < 0 ||
                        (l->gnull ? mno_buf_adds(&b, " IS NULL AND ") < 0
                                  : mno_buf_adds(&b, " = ") < 0 || add_lit(&b, l->gval) < 0 ||
                                        mno_buf_adds(&b, " AND ") < 0)))
            goto nomem;
        for (size_t k = 0; k < l->n; k++)
            if ((k && mno_buf_adds(&b, " AND ") < 0) || add_col(&b, "t", l->cols[k]) < 0 ||
                mno_buf_adds(&b, " IS NOT NULL") < 0)
                goto nomem;
        if (l->parent >= 0) {
            if (mno_buf_addf(&b, " AND NOT EXISTS (SELECT 1 FROM %s p0 WHERE ", st->schema.t[l->pt].qname) < 0)
                goto nomem;
            for (size_t k = 0; k < l->n; k++)
                if ((k && mno_buf_adds(&b, " AND ") < 0) || add_col(&b, "p0", l->refcols[k]) < 0 ||
                    mno_buf_adds(&b, " = ") < 0 || add_col(&b, "t", l->cols[k]) < 0)
                    goto nomem;
            if (!all && (mno_buf_adds(&b, " AND ") < 0 || add_pred(st, l->pt, "p0", &ctr, &b) < 0))
                goto nomem;
            if (mno_buf_addc(&b, ')') < 0)
                goto nomem;
        }
        PGresult *r = PQexec(c, b.data);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            mno_pg_err(e, c, r, t->ns, "cannot check the references");
            PQclear(r);
            goto done;
        }
        long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        char *line = NULL;
        if (n > 0 && asprintf(&line, "%s: %s: %lld row%s link%s to no row of the archive (first: %s)", t->ns,
                              l->desc, n, n == 1 ? "" : "s", n == 1 ? "s" : "", PQgetvalue(r, 0, 1)) < 0)
            line = NULL;
        PQclear(r);
        if (n > 0) {
            char **nd = line ? realloc(plan->dangling, (plan->n_dangling + 1) * sizeof *nd) : NULL;
            if (!nd) {
                free(line);
                goto nomem;
            }
            plan->dangling = nd;
            plan->dangling[plan->n_dangling++] = line;
            plan->dangling_rows += n;
        }
    }
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    mno_buf_release(&b);
    return rc;
}

int mno_pg_dump_check(mno_engine *en, long long *n, char **text, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_dump *st = pg->dump;
    *n = 0;
    *text = NULL;
    if (!st || !st->refs)
        return 0;
    if ((*n = mno_pg_refs_result(st->refs, text)) < 0)
        return nomem(e);
    return 0;
}

/* Runs a one-value query with the tenant bound; returns the count, or -1 with e filled. */
static long long count_rows(PGconn *c, const char *sql, const char *ns, mno_error *e)
{
    PGresult *r = PQexec(c, sql);
    long long n = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        mno_pg_err(e, c, r, ns, "cannot count the rows");
    else
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/*
 * Binds the tenant (a parameter) to the session setting the queries read. Also turns parallel
 * query off for the dump's transaction: each COPY streams through one connection to one
 * client, so workers do not make it faster, and starting them costs ~10 ms per query, most
 * of a small tenant's section.
 */
static int set_tenant(PGconn *c, const char *tenant, mno_error *e)
{
    const char *params[1] = {tenant ? tenant : ""};
    PGresult *r = PQexecParams(c, "SELECT set_config('" TENANT_SETTING "', $1, false), "
                               "set_config('max_parallel_workers_per_gather', '0', true)", 1, NULL,
                               params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        mno_pg_err(e, c, r, NULL, "cannot set the tenant");
    PQclear(r);
    return ok ? 0 : -1;
}

/* Opens the dump's transaction on c: one snapshot (snapshot: an exported one to share),
   read only; binds the tenant. */
static int begin_snapshot(PGconn *c, const char *snapshot, const char *tenant, mno_error *e)
{
    if (mno_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, e) < 0)
        return -1;
    if (snapshot) {
        mno_buf b = MNO_BUF_INIT;
        int rc = mno_buf_adds(&b, "SET TRANSACTION SNAPSHOT ") < 0 || add_lit(&b, snapshot) < 0
                     ? nomem(e)
                     : mno_pg_exec(c, b.data, NULL, e);
        mno_buf_release(&b);
        if (rc < 0)
            return -1;
    }
    return set_tenant(c, tenant, e);
}

/*
 * A tenant given as a value that root columns of table ti match in different rows (--tenant 1
 * with `root name id`: the tenant with id 1 and the tenant named '1') is ambiguous: fails
 * listing the matches (each group of rows by the columns it matched, up to 3 keys each).
 * One row matching by several columns (id 1 named '1') is not. Returns 0 or -1.
 */
static int check_ambiguous(pg_dump *st, PGconn *c, size_t ti, const char *tenant, mno_error *e)
{
    const pg_table *t = &st->schema.t[ti];
    const dtab *d = &st->d[ti];
    const char *cols[32];
    size_t n = 0;
    for (size_t k = 0; k < d->nrules; k++) {
        const mno_scope_rule *r = &st->scope->rules[d->rules[k]];
        for (size_t j = 0; r->kind == MNO_SCOPE_ROOT && j < r->ncols && n < 32; j++) {
            size_t x = 0;
            while (x < n && strcmp(cols[x], r->cols[j]) != 0)
                x++;
            if (x == n)
                cols[n++] = r->cols[j];
        }
    }
    if (n < 2)
        return 0;
    mno_buf q = MNO_BUF_INIT, msg = MNO_BUF_INIT;
    PGresult *r = NULL;
    int rc = -1;
    /* per set of matching columns: the rows' keys (the first 3) and their count */
    if (mno_buf_adds(&q, "SELECT concat_ws(' and '") < 0)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if (mno_buf_adds(&q, ", CASE WHEN ") < 0 || add_col(&q, "t", cols[i]) < 0 ||
            mno_buf_adds(&q, "::text = current_setting('" TENANT_SETTING "') THEN ") < 0 || add_lit(&q, cols[i]) < 0 ||
            mno_buf_adds(&q, " END") < 0)
            goto nomem;
    if (mno_buf_adds(&q, ") AS m, count(*), (array_agg(k.k ORDER BY k.k))[1:3] FROM ") < 0 ||
        mno_buf_addf(&q, "%s t, LATERAL (SELECT concat_ws(', '", t->from) < 0)
        goto nomem;
    for (size_t i = 0; i < t->nkey; i++)
        if (mno_buf_adds(&q, ", ") < 0 || add_lit(&q, t->key[i]) < 0 || mno_buf_adds(&q, " || '=' || ") < 0 ||
            add_col(&q, "t", t->key[i]) < 0 || mno_buf_adds(&q, "::text") < 0)
            goto nomem;
    if (mno_buf_adds(&q, ") AS k) k WHERE ") < 0)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if ((i && mno_buf_adds(&q, " OR ") < 0) || add_col(&q, "t", cols[i]) < 0 ||
            mno_buf_adds(&q, "::text = current_setting('" TENANT_SETTING "')") < 0)
            goto nomem;
    if (mno_buf_adds(&q, " GROUP BY 1 ORDER BY 1") < 0)
        goto nomem;
    r = PQexec(c, q.data);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, r, t->ns, "cannot look the tenant up");
        goto done;
    }
    if (PQntuples(r) < 2) {
        rc = 0;
        goto done;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        long long cnt = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        char *keys = PQgetvalue(r, i, 2);   /* {"id=1","id=2"} */
        size_t kl = strlen(keys);
        if (kl >= 2 && keys[0] == '{')
            keys++, kl -= 2;
        if (mno_buf_addf(&msg, "%s%lld row%s by %s (%.*s%s)", i ? "; " : "", cnt, cnt == 1 ? "" : "s",
                         PQgetvalue(r, i, 0), (int)kl, keys, cnt > 3 ? ", ..." : "") < 0)
            goto nomem;
    }
    mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "tenant '%s' is ambiguous: in %s it matches %s; give a value that "
            "names one tenant", tenant, t->ns, msg.data);
    goto done;
nomem:
    nomem(e);
done:
    PQclear(r);
    mno_buf_release(&q);
    mno_buf_release(&msg);
    return rc;
}

/* Fails with the unknown tenant when no root rule selects a row. */
static int check_tenant(pg_dump *st, PGconn *c, const char *tenant, mno_error *e)
{
    mno_buf roots = MNO_BUF_INIT, q = MNO_BUF_INIT;
    long long found = 0;
    int rc = -1, nroots = 0;
    for (size_t i = 0; i < st->schema.n; i++) {
        const dtab *d = &st->d[i];
        int has_root = 0;
        mno_buf_reset(&q);
        for (size_t k = 0; d->kind == K_RULES && k < d->nrules; k++) {
            const mno_scope_rule *r = &st->scope->rules[d->rules[k]];
            if (r->kind != MNO_SCOPE_ROOT)
                continue;
            int ctr = 0;
            if (mno_buf_addf(&q, has_root ? " OR " : "SELECT count(*) FROM %s t WHERE ",
                             st->schema.t[i].from) < 0 ||
                add_rule_pred(st, i, r, "t", &ctr, &q) < 0)
                goto nomem;
            has_root = 1;
        }
        if (!has_root)
            continue;
        if (mno_buf_addf(&roots, "%s%s", nroots++ ? " or " : "", st->schema.t[i].ns) < 0)
            goto nomem;
        long long n = count_rows(c, q.data, st->schema.t[i].ns, e);
        if (n < 0 || (n > 1 && check_ambiguous(st, c, i, tenant, e) < 0))
            goto done;
        found += n;
    }
    char tn[MNO_NAME_MSG_MAX];
    mno_name_msg(tenant, tn, sizeof tn);   /* a tenant name of any length, cut in the message */
    if (!nroots)
        mno_err(e, MNO_E_SCOPE, st->scope->file, 0, NULL,
                "no root rule: the scope cannot select tenant '%s' (use --all for everything)", tn);
    else if (!found)
        mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "tenant '%s' not found in %s", tn, roots.data);
    else
        rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    mno_buf_release(&roots);
    mno_buf_release(&q);
    return rc;
}

int mno_pg_plan(mno_engine *en, const mno_dump_opts *o, mno_plan *plan, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    int rc = -1;
    size_t *order = NULL, norder = 0;
    memset(plan, 0, sizeof *plan);
    if (!o->all && !o->tenant)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no tenant: give --tenant NAME or --all");
    if (!o->scope_path)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no scope file: give --scope FILE");
    mno_pg_dump_free(pg);
    pg_dump *st = calloc(1, sizeof *st);
    if (!st)
        return nomem(e);
    pg->dump = st;
    st->pg = pg;
    st->jobs = o->jobs > 1 ? o->jobs : 1;
    if (o->tenant && !o->all && !(st->tenant = strdup(o->tenant)))
        goto nomem;

    if (!(st->scope = mno_scope_load(o->scope_path, e)) || mno_scope_qualify(st->scope, "public", e) < 0)
        goto done;
    if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE) {
        if (begin_snapshot(pg->conn, NULL, st->tenant, e) < 0)
            goto done;
        st->in_txn = 1;
    } else if (set_tenant(pg->conn, st->tenant, e) < 0) {
        goto done;
    }
    if (mno_pg_schema_load(pg->conn, &st->schema, e) < 0)
        goto done;
    if (!(st->d = calloc(st->schema.n ? st->schema.n : 1, sizeof *st->d)))
        goto nomem;

    /* the scope's rules, by table */
    for (size_t k = 0; k < st->scope->n; k++) {
        const mno_scope_rule *r = &st->scope->rules[k];
        long ti = mno_pg_schema_find(&st->schema, r->name);
        if (ti < 0 && r->kind == MNO_SCOPE_SKIP)
            continue;   /* nothing to skip (Rails 5's ar_internal_metadata in a Rails 4 database) */
        if (ti < 0) {
            mno_err(e, MNO_E_SCOPE, st->scope->file, r->line, NULL, "%s: table not found in the source", r->name);
            goto done;
        }
        dtab *d = &st->d[ti];
        size_t *nr = realloc(d->rules, (d->nrules + 1) * sizeof *nr);
        if (!nr)
            goto nomem;
        d->rules = nr;
        d->rules[d->nrules++] = k;
        d->kind = r->kind == MNO_SCOPE_SKIP ? K_SKIP : r->kind == MNO_SCOPE_GLOBAL ? K_GLOBAL : K_RULES;
    }
    for (size_t i = 0; i < st->schema.n; i++)
        for (size_t k = 0; k < st->d[i].nrules; k++)
            if (check_rule(st, i, &st->scope->rules[st->d[i].rules[k]], e) < 0)
                goto done;
    for (size_t i = 0; i < st->schema.n; i++)
        if (rule_cycle(st, i, e) < 0)
            goto done;
    if (place_by_fks(st, e) < 0)
        goto done;
    if (!(order = topo_order(st, &norder, e)))
        goto done;
    if (!o->all && check_tenant(st, pg->conn, st->tenant, e) < 0)
        goto done;
    if (links_setup(st, e) < 0)
        goto done;

    /* the plan */
    plan->items = calloc(norder ? norder : 1, sizeof *plan->items);
    plan->unscoped = calloc(st->schema.n ? st->schema.n : 1, sizeof *plan->unscoped);
    st->secs = calloc(norder ? norder : 1, sizeof *st->secs);
    if (!plan->items || !plan->unscoped || !st->secs)
        goto nomem;
    for (size_t i = 0; i < st->schema.n; i++)
        if (st->d[i].kind == K_UNSCOPED && !(plan->unscoped[plan->n_unscoped++] = strdup(st->schema.t[i].ns)))
            goto nomem;
    for (size_t k = 0; k < norder; k++) {
        size_t ti = order[k];
        mno_plan_item *it = &plan->items[plan->n++];
        sec *s = calloc(1, sizeof *s);
        if (!s)
            goto nomem;
        st->secs[st->nsecs++] = s;
        s->idx = k;
        s->table = ti;
        it->priv = s;
        it->count = -1;
        it->ns = strdup(st->schema.t[ti].ns);
        it->rule = rule_text(st, ti);
        it->query = select_sql(st, ti, o->all);
        if (!it->ns || !it->rule || !it->query || asprintf(&s->copy, "COPY (%s) TO STDOUT", it->query) < 0) {
            s->copy = NULL;
            goto nomem;
        }
        if (o->count) {
            char *cq = NULL;
            if (asprintf(&cq, "SELECT count(*) FROM (%s) q", it->query) < 0)
                goto nomem;
            it->count = count_rows(pg->conn, cq, it->ns, e);
            free(cq);
            if (it->count < 0)
                goto done;
        }
    }
    if (o->count && plan_dangling(st, pg->conn, o->all, plan, e) < 0)
        goto done;
    rc = 0;
    goto done;
nomem:
    nomem(e);
done:
    free(order);
    if (rc < 0)
        mno_pg_plan_free(en, plan);
    return rc;
}

/* ---- sections ---- */

/* Decodes the COPY escape whose backslash is just before *pp (*pp < end): returns the byte
   and moves *pp past the escape. */
static char unescape1(char **pp, char *end)
{
    char *p = *pp, c = *p++;
    switch (c) {
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'v': c = '\v'; break;
    case 'x': {
        int v = 0, k = 0;
        while (k < 2 && p < end && ((*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'f'))) {
            v = v * 16 + (*p <= '9' ? *p - '0' : (*p | 32) - 'a' + 10);
            p++, k++;
        }
        c = k ? (char)v : 'x';
        break;
    }
    default:
        if (c >= '0' && c <= '7') {
            int v = c - '0', k = 1;
            while (k < 3 && p < end && *p >= '0' && *p <= '7')
                v = v * 8 + (*p++ - '0'), k++;
            c = (char)v;
        }
        break;
    }
    *pp = p;
    return c;
}

/* The first tab or backslash in [p, end), or end: 16 bytes at a time while they are in the row. */
static char *find_tab_bs(char *p, char *end)
{
    while (end - p >= 16) {
        mno_v16 x;
        memcpy(&x, p, 16);
        mno_v16 m = (mno_v16)((x == '\t') | (x == '\\'));
        uint64_t w[2];
        memcpy(w, &m, sizeof w);
        if (w[0] | w[1]) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (w[0] ? __builtin_ctzll(w[0]) / 8 : 8 + __builtin_ctzll(w[1]) / 8);
#else
            return p + (w[0] ? __builtin_clzll(w[0]) / 8 : 8 + __builtin_clzll(w[1]) / 8);
#endif
        }
        p += 16;
    }
    while (p < end && *p != '\t' && *p != '\\')
        p++;
    return p;
}

/* Decodes one COPY text row in place into vals/lens (NULL for \N), each value NUL-terminated
   (over its tab, or the newline/end: the buffer has a byte after). Returns 0, or -1 when the
   row does not have n fields. */
static int decode_row(char *row, size_t len, size_t n, const char **vals, size_t *lens)
{
    char *p = row, *end = row + len;
    if (len && end[-1] == '\n')
        end--;
    if (n == 0)
        return p == end ? 0 : -1;
    size_t f = 0;
    for (;;) {
        if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' && (end - p == 2 || p[2] == '\t')) {
            vals[f] = NULL;
            lens[f] = 0;
            p += 2;
        } else {
            char *start = p, *w = p;  /* w: where decoded bytes go (behind p after an escape) */
            for (;;) {
                char *s = find_tab_bs(p, end);
                if (w != p)
                    memmove(w, p, (size_t)(s - p));
                w += s - p;
                p = s;
                if (p == end || *p == '\t')
                    break;
                if (++p == end || *p == '\t') {  /* a lone backslash before the end stays */
                    *w++ = '\\';
                    break;
                }
                *w++ = unescape1(&p, end);
            }
            *w = '\0';
            vals[f] = start;
            lens[f] = (size_t)(w - start);
        }
        f++;
        if (p == end)
            return f == n ? 0 : -1;
        if (f == n)
            return -1;   /* a tab after the last column */
        p++;
    }
}

/*
 * The rows of a section go to the archive through a two-stage pipeline: this thread receives
 * and decodes each row, and writes; a hashing thread computes the rows' record-text md5s and
 * encodes their archive lines a batch ahead. The two halves cost about the same, so a dump
 * uses two cores besides the server's.
 */
#define BATCH_ROWS 1024
#define BATCH_BYTES ((size_t)1 << 20)

typedef struct batch {
    char **rows;                  /* the rows (each malloc'd or from PQgetCopyData) */
    int pq;                       /* rows are PQgetCopyData's: PQfreemem, else free */
    size_t n, bytes, cap;         /* cap: rows the arrays hold (grown up to BATCH_ROWS) */
    const char **vals;            /* cap * ncols, decoded in place into rows */
    size_t *lens;
    unsigned char (*digest)[16];
    mno_buf lines;                /* the rows' archive lines, when encoded (by the hasher) */
    int encoded;
} batch;

/* The hashing thread (one per dump, started with its first section). */
typedef struct hasher {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *job;                   /* the batch to hash, NULL when idle */
    const mno_writer *w;          /* whose open section job's lines are for */
    size_t ncols;
    int stop;
    mno_buf text;                 /* the batch's record texts, back to back */
    size_t off[BATCH_ROWS + 1];   /* where row i's text starts in text */
    const unsigned char *msg[BATCH_ROWS];
    size_t len[BATCH_ROWS];
} hasher;

static void *hasher_main(void *arg)
{
    hasher *hs = arg;
    pthread_mutex_lock(&hs->mu);
    for (;;) {
        while (!hs->job && !hs->stop)
            pthread_cond_wait(&hs->cv, &hs->mu);
        if (hs->stop)
            break;
        batch *b = hs->job;
        const mno_writer *w = hs->w;
        size_t nc = hs->ncols;
        pthread_mutex_unlock(&hs->mu);
        int ok = 1;
        /* every row's record text, then their md5s side by side (mno_md5_many) */
        mno_buf_reset(&hs->text);
        for (size_t i = 0; i < b->n; i++) {
            hs->off[i] = hs->text.len;
            if (mno_pg_record_text(&hs->text, b->vals + i * nc, b->lens + i * nc, nc) < 0) {
                ok = 0;   /* out of memory: the writer hashes this batch itself */
                break;
            }
        }
        if (ok) {
            hs->off[b->n] = hs->text.len;
            for (size_t i = 0; i < b->n; i++) {
                hs->msg[i] = (const unsigned char *)hs->text.data + hs->off[i];
                hs->len[i] = hs->off[i + 1] - hs->off[i];
            }
            mno_md5_many(hs->msg, hs->len, b->n, b->digest);
            /* and the lines (a failure leaves them to the writer's thread) */
            mno_buf_reset(&b->lines);
            b->encoded = mno_writer_pg_encode(w, &b->lines, b->n, b->vals, b->lens) == 0;
        }
        pthread_mutex_lock(&hs->mu);
        hs->job = NULL;
        pthread_cond_broadcast(&hs->cv);
        if (!ok)
            hs->stop = 2;
    }
    pthread_mutex_unlock(&hs->mu);
    return NULL;
}

static void hasher_free(hasher *hs)
{
    if (!hs)
        return;
    pthread_mutex_lock(&hs->mu);
    if (hs->stop != 2)
        hs->stop = 1;
    pthread_cond_broadcast(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
    pthread_join(hs->th, NULL);
    pthread_mutex_destroy(&hs->mu);
    pthread_cond_destroy(&hs->cv);
    mno_buf_release(&hs->text);
    free(hs);
}

static hasher *hasher_new(void)
{
    hasher *hs = calloc(1, sizeof *hs);
    if (!hs)
        return NULL;
    pthread_mutex_init(&hs->mu, NULL);
    pthread_cond_init(&hs->cv, NULL);
    if (pthread_create(&hs->th, NULL, hasher_main, hs) != 0) {
        pthread_mutex_destroy(&hs->mu);
        pthread_cond_destroy(&hs->cv);
        free(hs);
        return NULL;
    }
    return hs;
}

/* Hands b to the hashing thread: digests, and lines for w's open section. */
static void hasher_submit(hasher *hs, batch *b, const mno_writer *w, size_t ncols)
{
    b->encoded = 0;
    pthread_mutex_lock(&hs->mu);
    hs->w = w;
    hs->ncols = ncols;
    hs->job = b;
    pthread_cond_broadcast(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

/* Waits until the hashing thread is idle; returns 0, or -1 when it failed (out of memory). */
static int hasher_wait(hasher *hs)
{
    pthread_mutex_lock(&hs->mu);
    while (hs->job && hs->stop != 2)
        pthread_cond_wait(&hs->cv, &hs->mu);
    int rc = hs->stop == 2 ? -1 : 0;
    pthread_mutex_unlock(&hs->mu);
    return rc;
}

typedef struct row_sink {
    mno_writer *w;        /* into the archive, through the pipeline */
    FILE *f;              /* worker: raw rows into a temp file */
    hasher *hs;
    const char *ns;
    size_t ncols;
    unsigned long long rows;
    batch b[2];
    batch *cur, *pending; /* filling; being hashed */
    mno_pg_refs *refs;    /* the dangling check, when the table takes part in it */
    size_t table;
} row_sink;

static void batch_clear(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->pq)
            PQfreemem(b->rows[i]);
        else
            free(b->rows[i]);
    }
    b->n = 0;
    b->bytes = 0;
    b->encoded = 0;
}

static void batch_release(batch *b)
{
    batch_clear(b);
    free(b->rows);
    free(b->vals);
    free(b->lens);
    free(b->digest);
    mno_buf_release(&b->lines);
}

static int sink_init(row_sink *k, mno_writer *w, hasher *hs, const char *ns, size_t ncols, mno_error *e)
{
    memset(k, 0, sizeof *k);
    k->w = w;
    k->hs = hs;
    k->ns = ns;
    k->ncols = ncols;
    (void)e;
    k->cur = &k->b[0];
    return 0;
}

/* Makes room in b for one more row: the arrays grow as rows come (a small section allocates
   little), up to BATCH_ROWS. Returns 0, or -1 when out of memory. */
static int batch_room(batch *b, size_t ncols)
{
    if (b->n < b->cap)
        return 0;
    size_t cap = b->cap ? 2 * b->cap : 16;
    if (cap > BATCH_ROWS)
        cap = BATCH_ROWS;
    char **rows = realloc(b->rows, cap * sizeof *rows);
    if (rows)
        b->rows = rows;
    const char **vals = rows ? realloc(b->vals, cap * (ncols + 1) * sizeof *vals) : NULL;
    if (vals)
        b->vals = vals;
    size_t *lens = vals ? realloc(b->lens, cap * (ncols + 1) * sizeof *lens) : NULL;
    if (lens)
        b->lens = lens;
    unsigned char (*digest)[16] = lens ? realloc(b->digest, cap * sizeof *digest) : NULL;
    if (!digest)
        return -1;
    b->digest = digest;
    b->cap = cap;
    return 0;
}

/* Waits for the batch being hashed (if any) and frees every row. */
static void sink_release(row_sink *k)
{
    if (k->pending)
        hasher_wait(k->hs);
    batch_release(&k->b[0]);
    batch_release(&k->b[1]);
}

/* Writes a hashed batch's lines and empties it. */
static int write_batch(row_sink *k, batch *b, int hashed, mno_error *e)
{
    const unsigned char (*d)[16] = hashed ? (const unsigned char (*)[16])b->digest : NULL;
    int rc = d && b->encoded ? mno_writer_put_pg_lines(k->w, b->lines.data, b->lines.len, b->n, d, e)
                             : mno_writer_recs_pg(k->w, b->n, b->vals, b->lens, d, e);
    batch_clear(b);
    return rc;
}

/* Writes the batch being hashed once it is: returns 0 or -1. */
static int flush_pending(row_sink *k, mno_error *e)
{
    if (!k->pending)
        return 0;
    batch *p = k->pending;
    int hashed = hasher_wait(k->hs) == 0;
    k->pending = NULL;
    return write_batch(k, p, hashed, e);
}

/* Hands the filled batch to the hashing thread, after writing the one before it. */
static int sink_cycle(row_sink *k, mno_error *e)
{
    if (flush_pending(k, e) < 0)
        return -1;
    if (!k->cur->n)
        return 0;
    hasher_submit(k->hs, k->cur, k->w, k->ncols);
    k->pending = k->cur;
    k->cur = k->cur == &k->b[0] ? &k->b[1] : &k->b[0];
    return 0;
}

/* A last batch of fewer rows is hashed by this thread: a hand-off costs more than the work. */
#define INLINE_ROWS 64

/* Writes everything still in the pipeline. */
static int sink_finish(row_sink *k, mno_error *e)
{
    if (flush_pending(k, e) < 0)
        return -1;
    if (k->cur->n < INLINE_ROWS)
        return k->cur->n ? write_batch(k, k->cur, 0, e) : 0;
    return sink_cycle(k, e) < 0 ? -1 : flush_pending(k, e);
}

/* Takes one COPY row (owned: pq says how to free it). Returns 0 or -1. */
static int sink_row(row_sink *k, char *row, size_t len, int pq, mno_error *e)
{
    k->rows++;
    if (k->f) {
        int ok = fwrite(row, 1, len, k->f) == len;
        if (pq)
            PQfreemem(row);
        else
            free(row);
        return ok ? 0 : mno_err(e, MNO_E_IO, NULL, 0, k->ns, "cannot write a temporary file: %s", strerror(errno));
    }
    batch *b = k->cur;
    if (b->n && b->pq != pq && sink_cycle(k, e) < 0) {
        (pq ? PQfreemem : free)(row);
        return -1;
    }
    b = k->cur;
    if (batch_room(b, k->ncols) < 0) {
        (pq ? PQfreemem : free)(row);
        return nomem(e);
    }
    b->pq = pq;
    b->rows[b->n] = row;
    if (decode_row(row, len, k->ncols, b->vals + b->n * k->ncols, b->lens + b->n * k->ncols) < 0) {
        (pq ? PQfreemem : free)(row);
        return mno_err(e, MNO_E_SERVER, NULL, 0, k->ns, "row %llu: COPY sent a row without %zu columns",
                       k->rows, k->ncols);
    }
    if (k->refs && mno_pg_refs_row(k->refs, k->table, b->vals + b->n * k->ncols, b->lens + b->n * k->ncols) < 0) {
        (pq ? PQfreemem : free)(row);
        return nomem(e);
    }
    b->n++;
    b->bytes += len;
    if (b->n == BATCH_ROWS || b->bytes >= BATCH_BYTES)
        return sink_cycle(k, e);
    return 0;
}

/* Streams the rows of a COPY ... TO STDOUT into k. Returns 0 or -1. */
static int copy_out(PGconn *c, const char *copy, row_sink *k, mno_error *e)
{
    int rc = -1;
    PGresult *r = PQexec(c, copy);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        mno_pg_err(e, c, r, k->ns, "query failed");
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char *buf = NULL;
    int n, failed = 0;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        if (sink_row(k, buf, (size_t)n, 1, e) < 0) {
            failed = 1;
            break;
        }
        buf = NULL;
    }
    if (failed) {
        /* stop the server sending: cancel, then drain what is in flight */
        PGcancel *cn = PQgetCancel(c);
        char err[256];
        if (cn) {
            PQcancel(cn, err, sizeof err);
            PQfreeCancel(cn);
        }
        while ((n = PQgetCopyData(c, &buf, 0)) > 0)
            PQfreemem(buf);
        while ((r = PQgetResult(c)))
            PQclear(r);
        return -1;
    }
    if (n == -2) {
        mno_pg_err(e, c, NULL, k->ns, "query failed");
        goto drain;
    }
    rc = 0;
drain:
    while ((r = PQgetResult(c))) {
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
            mno_pg_err(e, c, r, k->ns, "query failed");
            rc = -1;
        }
        PQclear(r);
    }
    return rc;
}

/* The begin object of table t: columns, key, ddl, and "generated": the columns the server
   computes (a restore cannot write them), when there are any. */
static json_t *begin_obj(const pg_table *t)
{
    json_t *cols = json_array(), *key = json_array(), *gen = NULL;
    for (size_t i = 0; cols && i < t->ncols; i++) {
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", t->cols[i].name, "type", t->cols[i].type));
        if (t->cols[i].generated && (gen || (gen = json_array())))
            json_array_append_new(gen, json_string(t->cols[i].name));
    }
    for (size_t i = 0; key && i < t->nkey; i++)
        json_array_append_new(key, json_string(t->key[i]));
    return json_pack("{s:o*,s:o*,s:s,s:o*}", "columns", cols, "key", key, "ddl", t->ddl ? t->ddl : "",
                     "generated", gen);
}

/* Writes rows already fetched by a worker (raw COPY rows in s->tmp) into the open section. */
static int replay(sec *s, row_sink *k, mno_error *e)
{
    int rc = -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (fflush(s->tmp) != 0 || fseeko(s->tmp, 0, SEEK_SET) != 0)
        return mno_err(e, MNO_E_IO, NULL, 0, k->ns, "cannot read a temporary file: %s", strerror(errno));
    while ((n = getline(&line, &cap, s->tmp)) > 0) {
        char *row = malloc((size_t)n + 1);
        if (!row) {
            nomem(e);
            goto done;
        }
        memcpy(row, line, (size_t)n + 1);
        if (sink_row(k, row, (size_t)n, 0, e) < 0)
            goto done;
    }
    if (ferror(s->tmp)) {
        mno_err(e, MNO_E_IO, NULL, 0, k->ns, "cannot read a temporary file: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(line);
    fclose(s->tmp);
    s->tmp = NULL;
    return rc;
}

/* A temporary file in $TMPDIR (else /tmp), already unlinked. */
static FILE *temp_file(mno_error *e)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/mno-dump.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot create a temporary file in %s: %s",
                dir && *dir ? dir : "/tmp", strerror(errno));
        return NULL;
    }
    unlink(path);
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        close(fd);
        mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot open a temporary file: %s", strerror(errno));
    }
    return f;
}

typedef struct worker_arg {
    pg_dump *st;
    size_t slot;
} worker_arg;

/* A -j worker: its own connection in the exported snapshot; dumps the next free sections
   (at most AHEAD_PER_JOB * jobs ahead of the writer) into temporary files. */
static void *worker(void *argp)
{
    worker_arg *a = argp;
    pg_dump *st = a->st;
    size_t slot = a->slot;
    free(a);
    mno_error e;
    mno_error_clear(&e);
    PGconn *c = mno_pg_connect(st->pg->conninfo, st->pg->uri_redacted, &e);
    if (c && begin_snapshot(c, st->snapshot, st->tenant, &e) < 0) {
        PQfinish(c);
        c = NULL;
    }
    pthread_mutex_lock(&st->mu);
    st->wconn[slot] = c;
    for (;;) {
        while (!st->stop && st->next < st->nsecs && st->next >= st->cur + AHEAD_PER_JOB * (size_t)st->jobs)
            pthread_cond_wait(&st->cv, &st->mu);
        if (st->stop || st->next >= st->nsecs)
            break;
        sec *s = st->secs[st->next++];
        s->state = S_RUNNING;
        pthread_mutex_unlock(&st->mu);
        int rc = -1;
        if (!c) {
            s->err = e;
        } else if ((s->tmp = temp_file(&s->err))) {
            const pg_table *t = &st->schema.t[s->table];
            row_sink k = {.f = s->tmp, .ns = t->ns, .ncols = t->ncols};
            rc = copy_out(c, s->copy, &k, &s->err);
        }
        pthread_mutex_lock(&st->mu);
        s->state = rc == 0 ? S_DONE : S_FAILED;
        pthread_cond_broadcast(&st->cv);
        if (!c)
            break;
    }
    st->wconn[slot] = NULL;
    pthread_mutex_unlock(&st->mu);
    if (c)
        PQfinish(c);
    return NULL;
}

/* Exports the snapshot and starts jobs-1 workers. Returns 0 or -1. */
static int start_workers(pg_dump *st, mno_error *e)
{
    PGresult *r = PQexec(st->pg->conn, "SELECT pg_export_snapshot()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, st->pg->conn, r, NULL, "cannot export the snapshot for -j");
        PQclear(r);
        return -1;
    }
    st->snapshot = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    size_t n = (size_t)st->jobs - 1;
    st->threads = calloc(n, sizeof *st->threads);
    st->wconn = calloc(n, sizeof *st->wconn);
    if (!st->snapshot || !st->threads || !st->wconn)
        return nomem(e);
    if (pthread_mutex_init(&st->mu, NULL) != 0 || pthread_cond_init(&st->cv, NULL) != 0)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "cannot start the -j workers");
    st->mu_init = 1;
    st->started = 1;
    for (size_t i = 0; i < n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a)
            return nomem(e);
        a->st = st;
        a->slot = i;
        if (pthread_create(&st->threads[i], NULL, worker, a) != 0) {
            free(a);
            return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "cannot start the -j workers");
        }
        st->nthreads++;
    }
    return 0;
}

int mno_pg_dump_section(mno_engine *en, const mno_plan_item *it, mno_writer *w, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_dump *st = pg->dump;
    sec *s = it->priv;
    if (!st || !s || s->idx >= st->nsecs || st->secs[s->idx] != s)
        return mno_err(e, MNO_E_USAGE, NULL, 0, it->ns, "section is not of this engine's plan");
    const pg_table *t = &st->schema.t[s->table];
    int rc = -1, direct = 1;
    row_sink k;
    json_t *b = NULL;
    memset(&k, 0, sizeof k);

    if (st->jobs > 1 && st->nsecs > 1 && !st->started && !st->stop) {
        if (start_workers(st, e) < 0) {
            stop_workers(st);
            return -1;
        }
    }
    if (st->started) {
        pthread_mutex_lock(&st->mu);
        st->cur = s->idx;
        pthread_cond_broadcast(&st->cv);
        if (s->state == S_FREE && st->next == s->idx) {
            st->next++;
            s->state = S_RUNNING;
        } else {
            direct = 0;
            while (s->state != S_DONE && s->state != S_FAILED)
                pthread_cond_wait(&st->cv, &st->mu);
        }
        pthread_mutex_unlock(&st->mu);
        if (!direct && s->state == S_FAILED) {
            *e = s->err;
            return -1;
        }
    }
    if (!st->hasher && !(st->hasher = hasher_new())) {
        nomem(e);
        goto done;
    }
    if (sink_init(&k, w, st->hasher, t->ns, t->ncols, e) < 0)
        goto done;
    if (mno_pg_refs_wants(st->refs, s->table)) {
        k.refs = st->refs;
        k.table = s->table;
    }
    if (!(b = begin_obj(t))) {
        nomem(e);
        goto done;
    }
    /* the sequences its columns use, read now (after the snapshot's rows were fixed: a
       sequence only moves forward, so the state is at or past every dumped value) */
    json_t *seqs = mno_pg_seq_read(pg->conn, t->oid, t->ns, e);
    if (!seqs)
        goto done;
    if (json_array_size(seqs) ? json_object_set_new(b, "sequences", seqs) < 0 : (json_decref(seqs), 0)) {
        nomem(e);
        goto done;
    }
    if (mno_writer_begin(w, t->ns, b, e) < 0)
        goto done;
    if (direct ? copy_out(pg->conn, s->copy, &k, e) < 0 : replay(s, &k, e) < 0)
        goto done;
    if (sink_finish(&k, e) < 0 || mno_writer_end(w, e) < 0)
        goto done;
    if (st->refs && mno_pg_refs_done(st->refs, s->table) < 0) {
        nomem(e);
        goto done;
    }
    rc = 0;
done:
    if (st->started && direct) {
        pthread_mutex_lock(&st->mu);
        s->state = rc == 0 ? S_DONE : S_FAILED;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
    }
    json_decref(b);
    sink_release(&k);
    return rc;
}

int mno_pg_dump_schema(mno_engine *en, json_t **out, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_dump *st = pg->dump;
    *out = NULL;
    if (!st)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, NULL, "dump schema before plan");
    unsigned *oids = calloc(st->nsecs ? st->nsecs : 1, sizeof *oids);
    char **ns = calloc(st->nsecs ? st->nsecs : 1, sizeof *ns);
    int rc = -1;
    if (!oids || !ns) {
        nomem(e);
        goto done;
    }
    for (size_t i = 0; i < st->nsecs; i++) {
        oids[i] = st->schema.t[st->secs[i]->table].oid;
        ns[i] = st->schema.t[st->secs[i]->table].ns;
    }
    rc = mno_pg_pgdump_schema(pg->conn, oids, ns, st->nsecs, out, e);
done:
    free(oids);
    free(ns);
    return rc;
}
