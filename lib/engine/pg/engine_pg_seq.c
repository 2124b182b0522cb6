/* engine_pg_seq.c: a table's sequences in its section's begin line: read by the dump, set forward (never back) by the restore, checked by verify (docs/format.md, "sequences"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "engine_pg.h"
#include "engine_pg_seq.h"

/* The sequences of one table ($1: its oid): owned by a column (serial, deptype a), an
   identity's (i), or called by a column default (the default's pg_attrdef row depends on the
   sequence, n). "columns": the columns they feed (identity and defaults). */
static const char *const q_table_seqs =
    "WITH x AS ("
    " SELECT d.objid AS seq, a.attname::text AS col, d.deptype::text AS how FROM pg_catalog.pg_depend d"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
    " WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
    " AND d.refobjid = $1::oid AND d.deptype IN ('a', 'i')"
    " UNION ALL"
    " SELECT d.refobjid, a.attname::text, 'n' FROM pg_catalog.pg_attrdef ad"
    " JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid"
    " AND d.refclassid = 'pg_catalog.pg_class'::regclass"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum"
    " WHERE ad.adrelid = $1::oid)"
    " SELECT sn.nspname, s.relname, pg_catalog.format_type(q.seqtypid, NULL), q.seqstart, q.seqincrement,"
    " q.seqmin, q.seqmax, q.seqcycle,"
    " COALESCE(array_to_json(array_agg(DISTINCT x.col) FILTER (WHERE x.how IN ('i', 'n'))), '[]'),"
    " min(x.col) FILTER (WHERE x.how IN ('a', 'i')), bool_or(x.how = 'i'),"
    " pg_catalog.has_sequence_privilege(x.seq, 'SELECT')"
    " FROM x JOIN pg_catalog.pg_class s ON s.oid = x.seq AND s.relkind = 'S'"
    " JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace"
    " JOIN pg_catalog.pg_sequence q ON q.seqrelid = x.seq"
    " GROUP BY x.seq, 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2";

static int nomem(mno_error *e, const char *ns)
{
    return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
}

static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params, const char *ns,
                       const char *what, mno_error *e)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        return r;
    mno_pg_err(e, c, r, ns, what);
    PQclear(r);
    return NULL;
}

/* Appends "schema"."name". */
static int add_qname(PGconn *c, mno_buf *b, const char *schema, const char *name)
{
    char *qs = PQescapeIdentifier(c, schema, strlen(schema));
    char *qn = qs ? PQescapeIdentifier(c, name, strlen(name)) : NULL;
    int rc = qn ? mno_buf_addf(b, "%s.%s", qs, qn) : -1;
    PQfreemem(qs);
    PQfreemem(qn);
    return rc;
}

json_t *mno_pg_seq_read(PGconn *c, unsigned int oid, const char *ns, mno_error *e)
{
    char oids[16];
    snprintf(oids, sizeof oids, "%u", oid);
    const char *params[1] = {oids};
    json_t *out = json_array();
    mno_buf b = MNO_BUF_INIT;
    PGresult *r = NULL;
    if (!out) {
        nomem(e, ns);
        return NULL;
    }
    if (!(r = query(c, q_table_seqs, 1, params, ns, "cannot read the table's sequences", e)))
        goto fail;
    for (int i = 0; i < PQntuples(r); i++) {
        if (*PQgetvalue(r, i, 11) != 't')
            continue;   /* the role cannot read its state: left out (the restore still moves
                           serial and identity sequences past the restored values) */
        mno_buf_reset(&b);
        if (mno_buf_adds(&b, "SELECT last_value, is_called FROM ") < 0 ||
            add_qname(c, &b, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)) < 0) {
            nomem(e, ns);
            goto fail;
        }
        PGresult *v = query(c, b.data, 0, NULL, ns, "cannot read a sequence's state", e);
        if (!v)
            goto fail;
        json_t *cols = json_loads(PQgetvalue(r, i, 8), 0, NULL);
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:b,s:o*}",
                              "schema", PQgetvalue(r, i, 0), "name", PQgetvalue(r, i, 1),
                              "type", PQgetvalue(r, i, 2), "start", PQgetvalue(r, i, 3),
                              "increment", PQgetvalue(r, i, 4), "min", PQgetvalue(r, i, 5),
                              "max", PQgetvalue(r, i, 6), "cycle", *PQgetvalue(r, i, 7) == 't',
                              "last_value", PQgetvalue(v, 0, 0), "is_called", *PQgetvalue(v, 0, 1) == 't',
                              "columns", cols ? cols : json_array());
        PQclear(v);
        if (!o || json_array_append_new(out, o) < 0) {
            nomem(e, ns);
            goto fail;
        }
        if (!PQgetisnull(r, i, 9) && json_object_set_new(o, "owned_by", json_string(PQgetvalue(r, i, 9))) < 0) {
            nomem(e, ns);
            goto fail;
        }
        if (*PQgetvalue(r, i, 10) == 't' && json_object_set_new(o, "identity", json_true()) < 0) {
            nomem(e, ns);
            goto fail;
        }
    }
    PQclear(r);
    mno_buf_release(&b);
    return out;
fail:
    PQclear(r);
    mno_buf_release(&b);
    json_decref(out);
    return NULL;
}

/* ---- the begin line's "sequences" ---- */

/* 1 when s is an integer as PostgreSQL prints a bigint. */
static int is_int(const char *s)
{
    if (!s)
        return 0;
    if (*s == '-')
        s++;
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 19 && s[n] == '\0';
}

static const char *str(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

int mno_pg_seq_check_format(const mno_section *s, mno_error *e)
{
    char why[256];
    if (mno_pg_seq_why(s->begin, why, sizeof why) < 0)
        return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "%s", why);
    return 0;
}

int mno_pg_seq_why(const json_t *begin, char *why, size_t whylen)
{
    json_t *seqs = json_object_get(begin, "sequences");
    if (!seqs)
        return 0;
    if (!json_is_array(seqs)) {
        snprintf(why, whylen, "begin line: \"sequences\" is not an array");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(seqs); i++) {
        json_t *o = json_array_get(seqs, i);
        const char *bad = NULL;
        const char *type = str(o, "type");
        json_t *cols = json_object_get(o, "columns");
        if (!json_is_object(o))
            bad = "is not an object";
        else if (!str(o, "schema") || !*str(o, "schema") || !str(o, "name") || !*str(o, "name"))
            bad = "has no \"schema\" and \"name\"";
        else if (!type || (strcmp(type, "smallint") && strcmp(type, "integer") && strcmp(type, "bigint")))
            bad = "has no valid \"type\" (smallint, integer or bigint)";
        else if (!is_int(str(o, "start")) || !is_int(str(o, "increment")) || !is_int(str(o, "min")) ||
                 !is_int(str(o, "max")) || !is_int(str(o, "last_value")))
            bad = "has no valid \"start\", \"increment\", \"min\", \"max\" and \"last_value\" (integers as strings)";
        else if (strtoll(str(o, "increment"), NULL, 10) == 0)
            bad = "has \"increment\" 0";
        else if (!json_is_boolean(json_object_get(o, "cycle")) || !json_is_boolean(json_object_get(o, "is_called")))
            bad = "has no valid \"cycle\" and \"is_called\" (booleans)";
        else if (cols && !json_is_array(cols))
            bad = "has \"columns\" that is not an array";
        else if (json_object_get(o, "owned_by") && !str(o, "owned_by"))
            bad = "has \"owned_by\" that is not a string";
        for (size_t k = 0; !bad && k < json_array_size(cols); k++)
            if (!json_is_string(json_array_get(cols, k)))
                bad = "has a column that is not a string";
        if (bad) {
            snprintf(why, whylen, "begin line: \"sequences\" item %zu %s", i + 1, bad);
            return -1;
        }
    }
    return 0;
}

/* Appends the definition clauses of sequence o (checked by mno_pg_seq_check_format). */
static int add_definition(mno_buf *b, const json_t *o)
{
    return mno_buf_addf(b, " AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s %sCYCLE", str(o, "type"),
                        str(o, "increment"), str(o, "min"), str(o, "max"), str(o, "start"),
                        json_is_true(json_object_get(o, "cycle")) ? "" : "NO ");
}

/* The target's sequence for archive sequence o of the table qtable: the serial/identity
   sequence of its owned_by column when the target has one, else the one of its name.
   Fills *qseq with "schema"."name" quoted (caller frees), or NULL when the target has none.
   Returns 0 or -1. */
static int resolve(PGconn *c, const char *qtable, const json_t *o, const char *ns, char **qseq, mno_error *e)
{
    mno_buf name = MNO_BUF_INIT, q = MNO_BUF_INIT;
    int rc = -1;
    *qseq = NULL;
    if (add_qname(c, &name, str(o, "schema"), str(o, "name")) < 0)
        goto nomem;
    const char *params[3] = {qtable, str(o, "owned_by"), name.data};
    PGresult *r = query(c, "SELECT n.nspname, s.relname FROM pg_catalog.pg_class s"
                           " JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace"
                           " WHERE s.relkind = 'S' AND s.oid = COALESCE("
                           "pg_catalog.pg_get_serial_sequence($1, $2)::regclass, pg_catalog.to_regclass($3))",
                        3, params, ns, "cannot look up a sequence", e);
    if (!r)
        goto done;
    if (PQntuples(r) == 1 && add_qname(c, &q, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) < 0) {
        PQclear(r);
        goto nomem;
    }
    PQclear(r);
    *qseq = q.data;
    q.data = NULL;
    rc = 0;
    goto done;
nomem:
    nomem(e, ns);
done:
    mno_buf_release(&name);
    mno_buf_release(&q);
    return rc;
}

int mno_pg_seq_create(PGconn *c, const mno_section *s, mno_error *e)
{
    json_t *seqs = json_object_get(s->begin, "sequences");
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    for (size_t i = 0; i < json_array_size(seqs); i++) {
        json_t *o = json_array_get(seqs, i);
        if (json_is_true(json_object_get(o, "identity")))
            continue;   /* made by the table's CREATE, then given the definition */
        const char *schema = str(o, "schema");
        char *qs = PQescapeIdentifier(c, schema, strlen(schema));
        mno_buf_reset(&b);
        int ok = qs && mno_buf_addf(&b, "CREATE SCHEMA IF NOT EXISTS %s; CREATE SEQUENCE IF NOT EXISTS ", qs) == 0 &&
                 add_qname(c, &b, schema, str(o, "name")) == 0 && add_definition(&b, o) == 0;
        PQfreemem(qs);
        if (!ok) {
            nomem(e, s->ns);
            goto done;
        }
        PGresult *r = PQexec(c, b.data);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            mno_pg_err(e, c, r, s->ns, "--create: cannot create a sequence of the archive");
            PQclear(r);
            goto done;
        }
        PQclear(r);
    }
    rc = 0;
done:
    mno_buf_release(&b);
    return rc;
}

/* 1 when column name of s is restored and of an integer type. */
static int int_column(const mno_section *s, const char *name)
{
    for (size_t j = 0; j < s->ncols; j++)
        if (strcmp(s->colnames[j], name) == 0)
            return strcmp(s->coltypes[j], "bigint") == 0 || strcmp(s->coltypes[j], "integer") == 0 ||
                   strcmp(s->coltypes[j], "smallint") == 0;
    return 0;
}

/* The next value of a sequence, as SQL over its relation s and catalog row q. */
#define NEXT_VALUE "(s.last_value::numeric + CASE WHEN s.is_called THEN q.seqincrement ELSE 0 END)"

int mno_pg_seq_restore(PGconn *c, const char *qtable, const mno_section *s, int created, mno_error *e)
{
    json_t *seqs = json_object_get(s->begin, "sequences");
    mno_buf b = MNO_BUF_INIT;
    char *qseq = NULL;
    int rc = -1;
    for (size_t i = 0; i < json_array_size(seqs); i++) {
        json_t *o = json_array_get(seqs, i);
        free(qseq);
        if (resolve(c, qtable, o, s->ns, &qseq, e) < 0)
            goto done;
        if (!qseq)
            continue;   /* the target has no such sequence: nothing to move */
        if (created && json_is_true(json_object_get(o, "identity"))) {
            mno_buf_reset(&b);
            if (mno_buf_addf(&b, "ALTER SEQUENCE %s", qseq) < 0 || add_definition(&b, o) < 0)
                goto nomem;
            PGresult *r = query(c, b.data, 0, NULL, s->ns, "--create: cannot give an identity sequence its definition", e);
            if (!r)
                goto done;
            PQclear(r);
        }
        /* the archive's state, when it is ahead of the target's (in the target's direction) */
        mno_buf_reset(&b);
        if (mno_buf_addf(&b, "SELECT pg_catalog.setval($1::regclass, $2::bigint, $3::boolean) FROM %s s,"
                             " pg_catalog.pg_sequence q WHERE q.seqrelid = $1::regclass AND"
                             " sign(q.seqincrement) * (($2::numeric + CASE WHEN $3::boolean THEN q.seqincrement"
                             " ELSE 0 END) - " NEXT_VALUE ") > 0", qseq) < 0)
            goto nomem;
        const char *params[3] = {qseq, str(o, "last_value"), json_is_true(json_object_get(o, "is_called")) ? "t" : "f"};
        PGresult *r = query(c, b.data, 3, params, s->ns, "cannot set a sequence to the archive's state", e);
        if (!r)
            goto done;
        PQclear(r);
        /* and past the values restored into the columns it feeds */
        json_t *cols = json_object_get(o, "columns");
        for (size_t k = 0; k < json_array_size(cols); k++) {
            const char *col = json_string_value(json_array_get(cols, k));
            if (!int_column(s, col))
                continue;
            char *qc = PQescapeIdentifier(c, col, strlen(col));
            mno_buf_reset(&b);
            int ok = qc && mno_buf_addf(&b, "SELECT pg_catalog.setval($1::regclass, x.m) FROM (SELECT max(%s)::bigint AS m"
                                            " FROM %s) x, %s s, pg_catalog.pg_sequence q WHERE q.seqrelid = $1::regclass"
                                            " AND q.seqincrement > 0 AND x.m IS NOT NULL AND x.m >= " NEXT_VALUE,
                                        qc, qtable, qseq) == 0;
            PQfreemem(qc);
            if (!ok)
                goto nomem;
            if (!(r = query(c, b.data, 1, params, s->ns, "cannot set a sequence past the restored values", e)))
                goto done;
            PQclear(r);
        }
    }
    rc = 0;
    goto done;
nomem:
    nomem(e, s->ns);
done:
    free(qseq);
    mno_buf_release(&b);
    return rc;
}

int mno_pg_seq_verify(PGconn *c, const char *qtable, const mno_section *s, json_t **problems, mno_error *e)
{
    json_t *seqs = json_object_get(s->begin, "sequences");
    mno_buf b = MNO_BUF_INIT;
    char *qseq = NULL;
    int rc = -1;
    *problems = NULL;
    if (json_is_array(seqs) && mno_pg_seq_check_format(s, e) < 0)
        return -1;
    for (size_t i = 0; i < json_array_size(seqs); i++) {
        json_t *o = json_array_get(seqs, i);
        json_t *cols = json_object_get(o, "columns");
        free(qseq);
        if (resolve(c, qtable, o, s->ns, &qseq, e) < 0)
            goto done;
        for (size_t k = 0; qseq && k < json_array_size(cols); k++) {
            const char *col = json_string_value(json_array_get(cols, k));
            if (!int_column(s, col))
                continue;
            char *qc = PQescapeIdentifier(c, col, strlen(col));
            mno_buf_reset(&b);
            int ok = qc && mno_buf_addf(&b, "SELECT " NEXT_VALUE ", x.m FROM (SELECT max(%s)::numeric AS m FROM %s) x,"
                                            " %s s, pg_catalog.pg_sequence q WHERE q.seqrelid = $1::regclass AND"
                                            " x.m IS NOT NULL AND CASE WHEN q.seqincrement > 0 THEN x.m >= " NEXT_VALUE
                                            " ELSE x.m <= " NEXT_VALUE " END",
                                        qc, qtable, qseq) == 0;
            PQfreemem(qc);
            if (!ok)
                goto nomem;
            const char *params[1] = {qseq};
            PGresult *r = query(c, b.data, 1, params, s->ns, "cannot read a sequence", e);
            if (!r)
                goto done;
            if (PQntuples(r) == 1) {
                json_t *p = json_pack("{s:s,s:s++,s:s,s:s,s:s}", "what", "sequence behind", "sequence",
                                      str(o, "schema"), ".", str(o, "name"), "column", col,
                                      "next", PQgetvalue(r, 0, 0), "max", PQgetvalue(r, 0, 1));
                if (!p || (!*problems && !(*problems = json_array())) || json_array_append_new(*problems, p) < 0) {
                    PQclear(r);
                    goto nomem;
                }
            }
            PQclear(r);
        }
    }
    rc = 0;
    goto done;
nomem:
    nomem(e, s->ns);
done:
    free(qseq);
    mno_buf_release(&b);
    return rc;
}
