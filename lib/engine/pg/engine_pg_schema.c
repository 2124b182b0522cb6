/* engine_pg_schema.c: reads the user tables of a PostgreSQL database from the catalog (columns, keys, foreign keys) and writes each table's DDL. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "buf.h"
#include "engine_pg.h"
#include "engine_pg_schema.h"
#include "pgname.h"

/* The user tables: ordinary and partitioned tables, not partitions, outside the system
   schemas and mno_migrate (the toolkit's own bookkeeping: mno-restore's journal). */
#define USER_TABLES                                                                          \
    "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "             \
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "                                \
    "AND n.nspname NOT IN ('information_schema', 'mno_migrate') AND n.nspname NOT LIKE 'pg\\_%'"

static const char *const q_tables =
    "SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid IN (" USER_TABLES ")";

/* Columns with type, not null, default, identity/generated, and whether the type sorts (its
   type, a domain's base type, or anyenum for an enum, has a default btree operator class;
   the classes are read once, as a hashed subquery, not once per column). */
#define BTREE_DEFAULT_TYPES                                                                    \
    "(SELECT oc.opcintype FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod "          \
    "WHERE am.amname = 'btree' AND oc.opcdefault)"
static const char *const q_columns =
    "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, "
    "CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.atttypid_ END IN " BTREE_DEFAULT_TYPES " "
    "OR (t.typtype = 'e' AND 'anyenum'::regtype IN " BTREE_DEFAULT_TYPES ") "
    "FROM pg_attribute a "
    "JOIN (SELECT oid AS atttypid_, typtype, typbasetype FROM pg_type) t ON t.atttypid_ = a.atttypid "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid IN (" USER_TABLES ") AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attrelid, a.attnum";

/* Constraints: p(rimary), u(nique), c(heck), x (exclusion), f(oreign key), with their columns as JSON. */
static const char *const q_constraints =
    "SELECT co.conrelid, co.conname, co.contype, co.confrelid, pg_get_constraintdef(co.oid), "
    "(SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(co.conkey) WITH ORDINALITY k(n, o) "
    "  JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n)::text, "
    "(SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(co.confkey) WITH ORDINALITY k(n, o) "
    "  JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n)::text "
    "FROM pg_constraint co WHERE co.contype IN ('p', 'u', 'c', 'x', 'f') "
    "AND co.conrelid IN (" USER_TABLES ") "
    "ORDER BY co.conrelid, CASE co.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 "
    "WHEN 'c' THEN 3 ELSE 4 END, co.conname";

/* Indexes: definition, whether a constraint owns it, and (for key candidates) its plain
   columns when it is unique, total, on columns only, all NOT NULL. */
static const char *const q_indexes =
    "SELECT i.indrelid, pg_get_indexdef(i.indexrelid), i.indisprimary, "
    "EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid "
    "  AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')), "
    "CASE WHEN i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
    "  AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) "
    "    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n "
    "    WHERE k.o <= i.indnkeyatts AND (a.attnum IS NULL OR NOT a.attnotnull)) "
    "THEN (SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) "
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n WHERE k.o <= i.indnkeyatts)::text END "
    "FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid "
    "WHERE i.indrelid IN (" USER_TABLES ") ORDER BY i.indrelid, ci.relname";

/* Sequences owned by a column (serial): created before the table, owned after. */
static const char *const q_sequences =
    "SELECT d.refobjid, a.attname, sn.nspname, s.relname FROM pg_depend d "
    "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
    "JOIN pg_namespace sn ON sn.oid = s.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
    "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
    "AND d.deptype = 'a' AND d.refobjid IN (" USER_TABLES ") ORDER BY d.refobjid, a.attnum";

char *mno_pg_ident(const char *name)
{
    mno_buf b = MNO_BUF_INIT;
    if (mno_buf_addc(&b, '"') < 0)
        goto nomem;
    for (const char *p = name; *p; p++)
        if ((*p == '"' && mno_buf_addc(&b, '"') < 0) || mno_buf_addc(&b, *p) < 0)
            goto nomem;
    if (mno_buf_addc(&b, '"') < 0)
        goto nomem;
    return b.data;
nomem:
    mno_buf_release(&b);
    return NULL;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void mno_pg_schema_release(pg_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        pg_table *t = &s->t[i];
        free(t->ns);
        free(t->schema);
        free(t->qname);
        free(t->from);
        for (size_t j = 0; j < t->ncols; j++) {
            free(t->cols[j].name);
            free(t->cols[j].type);
        }
        free(t->cols);
        free_strv(t->key, t->nkey);
        for (size_t j = 0; j < t->nfks; j++) {
            free(t->fks[j].name);
            free_strv(t->fks[j].cols, t->fks[j].n);
            free_strv(t->fks[j].refcols, t->fks[j].n);
        }
        free(t->fks);
        free(t->ddl);
    }
    free(s->t);
    s->t = NULL;
    s->n = 0;
}

long mno_pg_schema_find(const pg_schema *s, const char *ns)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->t[mid].ns, ns);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long mno_pg_table_col(const pg_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int by_ns(const void *a, const void *b)
{
    return strcmp(((const pg_table *)a)->ns, ((const pg_table *)b)->ns);
}

static long by_oid(const pg_schema *s, unsigned int oid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].oid == oid)
            return (long)i;
    return -1;
}

static PGresult *query(PGconn *c, const char *sql, mno_error *e)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, r, NULL, "cannot read the catalog");
        PQclear(r);
        return NULL;
    }
    return r;
}

/* A JSON array of strings (as text) into a malloc'd vector. Returns 0 or -1. */
static int json_strv(const char *text, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!text || !*text)
        return 0;
    json_t *a = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return -1;
    }
    size_t len = json_array_size(a);
    char **v = calloc(len ? len : 1, sizeof *v);
    if (!v) {
        json_decref(a);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !(v[i] = strdup(s))) {
            free_strv(v, i);
            json_decref(a);
            return -1;
        }
    }
    json_decref(a);
    *out = v;
    *n = len;
    return 0;
}

/* Appends `"schema"."name"` to b. */
static int add_qname(mno_buf *b, const char *schema, const char *name)
{
    char *qs = mno_pg_ident(schema), *qn = mno_pg_ident(name);
    int rc = qs && qn ? mno_buf_addf(b, "%s.%s", qs, qn) : -1;
    free(qs);
    free(qn);
    return rc;
}

/* Builds every table's DDL: schema, owned sequences, CREATE TABLE with columns and
   constraints (not foreign keys), OWNED BY, then the other indexes; from the catalog rows
   mno_pg_schema_load read (cols, cons, idx) and the owned sequences. */
static int build_ddl(PGconn *c, pg_schema *s, const PGresult *cols, const PGresult *cons,
                     const PGresult *idx, mno_error *e)
{
    int rc = -1;
    PGresult *seqs = NULL;
    mno_buf *b = calloc(s->n ? s->n : 1, sizeof *b);
    mno_buf *tail = calloc(s->n ? s->n : 1, sizeof *tail);
    if (!b || !tail) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    if (!(seqs = query(c, q_sequences, e)))
        goto done;
    /* schema and sequences first */
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->t[i].schema, "public") != 0) {
            char *q = mno_pg_ident(s->t[i].schema);
            int r = q ? mno_buf_addf(&b[i], "CREATE SCHEMA IF NOT EXISTS %s;\n", q) : -1;
            free(q);
            if (r < 0)
                goto nomem;
        }
    }
    for (int r = 0; r < PQntuples(seqs); r++) {
        long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(seqs, r, 0), NULL, 10));
        if (ti < 0)
            continue;
        char *qc = mno_pg_ident(PQgetvalue(seqs, r, 1));
        if (!qc || mno_buf_adds(&b[ti], "CREATE SEQUENCE IF NOT EXISTS ") < 0 ||
            add_qname(&b[ti], PQgetvalue(seqs, r, 2), PQgetvalue(seqs, r, 3)) < 0 ||
            mno_buf_adds(&b[ti], ";\n") < 0 || mno_buf_adds(&tail[ti], "ALTER SEQUENCE ") < 0 ||
            add_qname(&tail[ti], PQgetvalue(seqs, r, 2), PQgetvalue(seqs, r, 3)) < 0 ||
            mno_buf_addf(&tail[ti], " OWNED BY %s.%s;\n", s->t[ti].qname, qc) < 0) {
            free(qc);
            goto nomem;
        }
        free(qc);
    }
    for (size_t i = 0; i < s->n; i++)
        if (mno_buf_addf(&b[i], "CREATE TABLE %s (", s->t[i].qname) < 0)
            goto nomem;
    /* columns (the same rows that filled t->cols, in order) */
    size_t *ncol = calloc(s->n ? s->n : 1, sizeof *ncol);
    if (!ncol)
        goto nomem;
    for (int r = 0; r < PQntuples(cols); r++) {
        long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(cols, r, 0), NULL, 10));
        if (ti < 0)
            continue;
        mno_buf *t = &b[ti];
        char *qc = mno_pg_ident(PQgetvalue(cols, r, 1));
        const char *def = PQgetisnull(cols, r, 4) ? NULL : PQgetvalue(cols, r, 4);
        const char ident = *PQgetvalue(cols, r, 5), gen = *PQgetvalue(cols, r, 6);
        int ok = qc && mno_buf_addf(t, "%s\n    %s %s", ncol[ti] ? "," : "", qc, PQgetvalue(cols, r, 2)) == 0;
        if (ok && gen == 's' && def)
            ok = mno_buf_addf(t, " GENERATED ALWAYS AS (%s) STORED", def) == 0;
        else if (ok && def)
            ok = mno_buf_addf(t, " DEFAULT %s", def) == 0;
        if (ok && ident == 'a')
            ok = mno_buf_adds(t, " GENERATED ALWAYS AS IDENTITY") == 0;
        else if (ok && ident == 'd')
            ok = mno_buf_adds(t, " GENERATED BY DEFAULT AS IDENTITY") == 0;
        if (ok && strcmp(PQgetvalue(cols, r, 3), "t") == 0)
            ok = mno_buf_adds(t, " NOT NULL") == 0;
        free(qc);
        ncol[ti]++;
        if (!ok) {
            free(ncol);
            goto nomem;
        }
    }
    /* constraints but foreign keys, inside the CREATE TABLE */
    for (int r = 0; r < PQntuples(cons); r++) {
        long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(cons, r, 0), NULL, 10));
        if (ti < 0 || *PQgetvalue(cons, r, 2) == 'f')
            continue;
        char *qn = mno_pg_ident(PQgetvalue(cons, r, 1));
        int ok = qn && mno_buf_addf(&b[ti], "%s\n    CONSTRAINT %s %s", ncol[ti] ? "," : "", qn,
                                    PQgetvalue(cons, r, 4)) == 0;
        free(qn);
        ncol[ti]++;
        if (!ok) {
            free(ncol);
            goto nomem;
        }
    }
    free(ncol);
    for (size_t i = 0; i < s->n; i++)
        if (mno_buf_adds(&b[i], "\n);\n") < 0 || mno_buf_add(&b[i], tail[i].data, tail[i].len) < 0)
            goto nomem;
    /* indexes no constraint owns */
    for (int r = 0; r < PQntuples(idx); r++) {
        long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(idx, r, 0), NULL, 10));
        if (ti < 0 || strcmp(PQgetvalue(idx, r, 3), "t") == 0)
            continue;
        if (mno_buf_addf(&b[ti], "%s;\n", PQgetvalue(idx, r, 1)) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < s->n; i++) {
        s->t[i].ddl = b[i].data;
        b[i].data = NULL;
    }
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
done:
    for (size_t i = 0; b && tail && i < s->n; i++) {
        mno_buf_release(&b[i]);
        mno_buf_release(&tail[i]);
    }
    free(b);
    free(tail);
    PQclear(seqs);
    return rc;
}

int mno_pg_schema_load(PGconn *c, pg_schema *s, mno_error *e)
{
    int rc = -1;
    PGresult *tabs = NULL, *cols = NULL, *cons = NULL, *idx = NULL;
    memset(s, 0, sizeof *s);
    if (!(tabs = query(c, q_tables, e)))
        goto done;
    int n = PQntuples(tabs);
    s->t = calloc(n ? (size_t)n : 1, sizeof *s->t);
    if (!s->t)
        goto nomem;
    for (int r = 0; r < n; r++) {
        pg_table *t = &s->t[s->n++];
        t->oid = (unsigned int)strtoul(PQgetvalue(tabs, r, 0), NULL, 10);
        mno_buf q = MNO_BUF_INIT;
        t->ns = mno_pgns_join(PQgetvalue(tabs, r, 1), PQgetvalue(tabs, r, 2));
        t->schema = strdup(PQgetvalue(tabs, r, 1));
        if (!t->ns || !t->schema || add_qname(&q, PQgetvalue(tabs, r, 1), PQgetvalue(tabs, r, 2)) < 0) {
            mno_buf_release(&q);
            goto nomem;
        }
        t->qname = q.data;
        /* an ordinary table's own rows, not its inheritance children's (each is its own
           section); a partitioned table's rows are its partitions' (ONLY would read none) */
        if (asprintf(&t->from, "%s%s", *PQgetvalue(tabs, r, 3) == 'p' ? "" : "ONLY ", t->qname) < 0) {
            t->from = NULL;
            goto nomem;
        }
    }
    qsort(s->t, s->n, sizeof *s->t, by_ns);

    if (!(cols = query(c, q_columns, e)))
        goto done;
    for (int r = 0; r < PQntuples(cols); r++) {
        long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(cols, r, 0), NULL, 10));
        if (ti < 0)
            continue;
        pg_table *t = &s->t[ti];
        pg_col *nc = realloc(t->cols, (t->ncols + 1) * sizeof *nc);
        if (!nc)
            goto nomem;
        t->cols = nc;
        pg_col *col = &t->cols[t->ncols++];
        memset(col, 0, sizeof *col);
        col->name = strdup(PQgetvalue(cols, r, 1));
        col->type = strdup(PQgetvalue(cols, r, 2));
        col->notnull = strcmp(PQgetvalue(cols, r, 3), "t") == 0;
        col->orderable = strcmp(PQgetvalue(cols, r, 7), "t") == 0;
        col->generated = *PQgetvalue(cols, r, 6) == 's';
        if (!col->name || !col->type)
            goto nomem;
    }

    /* keys: the primary key, else the first unique index on NOT NULL columns, else all columns */
    if (!(idx = query(c, q_indexes, e)))
        goto done;
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < PQntuples(idx); r++) {
            long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(idx, r, 0), NULL, 10));
            if (ti < 0 || s->t[ti].key || PQgetisnull(idx, r, 4))
                continue;
            if (pass == 0 && strcmp(PQgetvalue(idx, r, 2), "t") != 0)
                continue;
            if (json_strv(PQgetvalue(idx, r, 4), &s->t[ti].key, &s->t[ti].nkey) < 0)
                goto nomem;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        pg_table *t = &s->t[i];
        if (t->key)
            continue;
        t->key_is_all = 1;
        t->key = calloc(t->ncols ? t->ncols : 1, sizeof *t->key);
        if (!t->key)
            goto nomem;
        for (size_t j = 0; j < t->ncols; j++) {
            if (!(t->key[j] = strdup(t->cols[j].name)))
                goto nomem;
            t->nkey++;
        }
    }

    /* declared foreign keys between user tables */
    if (!(cons = query(c, q_constraints, e)))
        goto done;
    for (int r = 0; r < PQntuples(cons); r++) {
        if (*PQgetvalue(cons, r, 2) != 'f')
            continue;
        long ti = by_oid(s, (unsigned int)strtoul(PQgetvalue(cons, r, 0), NULL, 10));
        long ri = by_oid(s, (unsigned int)strtoul(PQgetvalue(cons, r, 3), NULL, 10));
        if (ti < 0 || ri < 0)
            continue;
        pg_table *t = &s->t[ti];
        pg_fk *nf = realloc(t->fks, (t->nfks + 1) * sizeof *nf);
        if (!nf)
            goto nomem;
        t->fks = nf;
        pg_fk *fk = &t->fks[t->nfks++];
        memset(fk, 0, sizeof *fk);
        fk->ref = (size_t)ri;
        size_t n1 = 0, n2 = 0;
        fk->name = strdup(PQgetvalue(cons, r, 1));
        if (!fk->name || json_strv(PQgetvalue(cons, r, 5), &fk->cols, &n1) < 0 ||
            json_strv(PQgetvalue(cons, r, 6), &fk->refcols, &n2) < 0 || n1 != n2) {
            fk->n = n1 < n2 ? n1 : n2;
            goto nomem;
        }
        fk->n = n1;
    }
    rc = build_ddl(c, s, cols, cons, idx, e);
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
done:
    PQclear(tabs);
    PQclear(cols);
    PQclear(cons);
    PQclear(idx);
    if (rc < 0)
        mno_pg_schema_release(s);
    return rc;
}
