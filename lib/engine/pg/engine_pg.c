/* engine_pg.c: PostgreSQL connections and the session settings every tool's session uses. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_pg.h"
#include "engine_pg_schema.h"
#include "pgname.h"

/*
 * The server's word on why it is going away (SQLSTATE class 57: administrator command,
 * shutdown, crash) arrives as a notice just before the connection drops. libpq would print
 * it on stderr, outside the tool's message; it is kept here, per thread, and added to the
 * next error instead. Other notices are dropped: lib/ never prints.
 */
static __thread char last_notice[512];

static void on_notice(void *arg, const PGresult *r)
{
    (void)arg;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (state && strncmp(state, "57", 2) == 0 && msg)
        snprintf(last_notice, sizeof last_notice, "%s", msg);
}

int mno_pg_err(mno_error *e, PGconn *c, const PGresult *r, const char *object, const char *what)
{
    const char *txt = r ? PQresultErrorMessage(r) : NULL;
    if (!txt || !*txt)
        txt = c ? PQerrorMessage(c) : "";
    /* libpq's message on one line: "...unexpectedly\n\tThis probably..." -> "...unexpectedly; This..." */
    char one[1024];
    size_t n = 0;
    for (const char *p = txt; *p && n + 3 < sizeof one; p++) {
        if (*p != '\n') {
            one[n++] = *p;
            continue;
        }
        while (p[1] == '\t' || p[1] == ' ')
            p++;
        if (p[1] >= 'A' && p[1] <= 'Z')
            one[n++] = ';'; /* a new sentence; else the same one goes on */
        if (p[1])
            one[n++] = ' ';
    }
    while (n > 0 && one[n - 1] == ' ')
        n--;
    one[n] = '\0';
    txt = one;
    int gone = *last_notice && c && PQstatus(c) == CONNECTION_BAD;
    mno_err(e, MNO_E_SERVER, NULL, 0, object, "%s: %.*s%s%s%s", what, (int)n, txt,
            gone ? " (the server said: " : "", gone ? last_notice : "", gone ? ")" : "");
    if (gone)
        *last_notice = '\0';
    return -1;
}

int mno_pg_exec(PGconn *c, const char *sql, const char *object, mno_error *e)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        mno_pg_err(e, c, r, object, "query failed");
    PQclear(r);
    return ok ? 0 : -1;
}

/*
 * Every session pins what changes the text of values, so that dump, restore and verify
 * print and parse values the same way on any server (as pg_dump's setup_connection does).
 */
int mno_pg_session_setup(PGconn *c, mno_error *e)
{
    static const char *const settings[] = {
        "SET client_encoding = 'UTF8'",            /* archives are UTF-8 */
        "SET TimeZone = 'UTC'",                    /* timestamptz printed in one zone */
        "SET DateStyle = 'ISO'",                   /* dates in ISO 8601, parseable anywhere */
        "SET IntervalStyle = 'postgres'",          /* the default interval text */
        "SET extra_float_digits = 3",              /* floats printed exactly (round trip) */
        "SET bytea_output = 'hex'",                /* one bytea text form */
        "SET standard_conforming_strings = on",    /* backslashes in literals mean themselves */
        "SET statement_timeout = 0",               /* a long COPY is not an error */
        "SET lock_timeout = 0",
        "SET idle_in_transaction_session_timeout = 0", /* a slow pipeline reader is not an error */
        "SET search_path = pg_catalog",            /* every name we use is schema-qualified */
        "SET application_name = 'mno-migrate'",
    };
    /* one round trip: the statements joined, run in order (the first that fails stops) */
    char sql[1024];
    size_t n = 0;
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s", i ? "; " : "", settings[i]);
    return mno_pg_exec(c, sql, NULL, e);
}

PGconn *mno_pg_connect(const char *conninfo, const char *redacted, mno_error *e)
{
    PGconn *c = PQconnectdb(conninfo ? conninfo : "");
    if (PQstatus(c) != CONNECTION_OK) {
        char what[1200];
        snprintf(what, sizeof what, "cannot connect to postgresql at '%s'", redacted ? redacted : "");
        mno_pg_err(e, c, NULL, NULL, what);
        /* libpq echoes a conninfo it cannot parse, and the pieces of a password that its URI
           parser took for a host name or a port ('could not translate host name "TAIL@h"',
           'invalid integer value "..."'): every secret of the conninfo is cut out */
        mno_redact_error(e, conninfo);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeReceiver(c, on_notice, NULL);
    if (mno_pg_session_setup(c, e) < 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

char *mno_pg_quote_ns(PGconn *c, const char *ns)
{
    (void)c;
    char *schema, *table, *out = NULL;
    const char *why;
    if (mno_pgns_split(ns, &schema, &table, &why) < 0)
        return NULL;
    if (!schema) {   /* never left to search_path */
        free(table);
        return NULL;
    }
    char *qs = schema ? mno_pg_ident(schema) : NULL, *qt = mno_pg_ident(table);
    if (qs && qt && asprintf(&out, "%s.%s", qs, qt) < 0)
        out = NULL;
    free(qs);
    free(qt);
    free(schema);
    free(table);
    return out;
}

void mno_pg_rel_release(mno_pg_rel *rel)
{
    if (!rel)
        return;
    free(rel->schema);
    free(rel->table);
    free(rel->qname);
    free(rel->from);
    memset(rel, 0, sizeof *rel);
}

int mno_pg_rel_parse(const char *ns, long long line, mno_pg_rel *rel, mno_error *e)
{
    const char *why;
    memset(rel, 0, sizeof *rel);
    int rc = mno_pgns_split(ns, &rel->schema, &rel->table, &why);
    if (rc == -2)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
    if (rc < 0)
        return mno_err(e, MNO_E_FORMAT, NULL, line, ns, "section name is not a PostgreSQL schema.table: %s", why);
    if (!rel->schema) {
        mno_pg_rel_release(rel);
        return mno_err(e, MNO_E_USAGE, NULL, line, ns, "section name has no schema: a PostgreSQL section names "
                       "its table as schema.table (never looked up through a search path)");
    }
    if (mno_pgname_reserved_schema(rel->schema)) {
        mno_err(e, MNO_E_USAGE, NULL, line, ns, "schema '%s' is reserved and cannot be restored", rel->schema);
        mno_pg_rel_release(rel);
        return -1;
    }
    char *qs = mno_pg_ident(rel->schema), *qt = mno_pg_ident(rel->table);
    if (!qs || !qt || asprintf(&rel->qname, "%s.%s", qs, qt) < 0)
        rel->qname = NULL;
    free(qs);
    free(qt);
    if (!rel->qname || asprintf(&rel->from, "ONLY %s", rel->qname) < 0) {
        rel->from = NULL;
        mno_pg_rel_release(rel);
        return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
    }
    return 0;
}

int mno_pg_rel_lookup(PGconn *c, const char *ns, long long line, mno_pg_rel *rel, mno_error *e)
{
    const char *params[2] = {rel->schema, rel->table};
    PGresult *r = PQexecParams(c, "SELECT c.oid, c.relkind FROM pg_catalog.pg_class c"
                               " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                               " WHERE n.nspname = $1 AND c.relname = $2", 2, NULL, params, NULL, NULL, 0);
    int rc = -1;
    rel->oid[0] = '\0';
    rel->relkind = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, r, ns, "cannot look up the table");
        goto done;
    }
    rc = PQntuples(r) == 1;
    if (!rc)
        goto done;
    rel->relkind = *PQgetvalue(r, 0, 1);
    if (rel->relkind != 'r' && rel->relkind != 'p') {
        rc = mno_err(e, MNO_E_USAGE, NULL, line, ns, "%s.%s in the target is not a table (relkind '%c')",
                     rel->schema, rel->table, rel->relkind);
        goto done;
    }
    snprintf(rel->oid, sizeof rel->oid, "%s", PQgetvalue(r, 0, 0));
    /* an ordinary table's own rows (not its inheritance children's); a partitioned table's
       rows are its partitions' (ONLY would read none) */
    if (rel->relkind == 'p' && strncmp(rel->from, "ONLY ", 5) == 0)
        memmove(rel->from, rel->from + 5, strlen(rel->from + 5) + 1);
done:
    PQclear(r);
    return rc;
}

int mno_pg_open(mno_engine **out, const char *uri, int role, mno_error *e)
{
    char red[1024];
    *out = NULL;
    mno_redact_uri(uri ? uri : "", red, sizeof red);
    mno_pg *pg = calloc(1, sizeof *pg);
    if (!pg)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    pg->role = role;
    pg->uri_redacted = strdup(red);
    pg->conninfo = strdup(uri ? uri : "");
    if (!pg->uri_redacted || !pg->conninfo) {
        mno_pg_close((mno_engine *)pg);
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    pg->conn = mno_pg_connect(pg->conninfo, pg->uri_redacted, e);
    if (!pg->conn) {
        mno_pg_close((mno_engine *)pg);
        return -1;
    }
    *out = (mno_engine *)pg;
    return 0;
}

void mno_pg_close(mno_engine *en)
{
    mno_pg *pg = MNO_PG(en);
    if (!pg)
        return;
    mno_pg_dump_free(pg);
    mno_pg_verify_free(pg);
    mno_pg_restore_free(pg);
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->uri_redacted);
    free(pg->conninfo);
    free(pg);
}
