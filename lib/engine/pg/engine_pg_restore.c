/* engine_pg_restore.c: PostgreSQL restore ops: each section one transaction, COPY FROM STDIN, conflict refusal, sequences, the journal (docs/restore.md). */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "engine_pg.h"
#include "engine_pg_seq.h"
#include "restore.h"

/*
 * One section is one transaction:
 *   BEGIN; look the table up (create it from the archive's ddl with --create);
 *   LOCK it (SHARE ROW EXCLUSIVE: no concurrent writer between the emptiness check and commit);
 *   empty table  -> COPY table (archive columns) FROM STDIN straight in, plain indexes
 *                   dropped first and rebuilt after the load (same definitions, same end state);
 *   rows there   -> COPY into a temporary table of the archive's columns, then refuse when any
 *                   key is already in the table (naming up to 5), else INSERT ... SELECT;
 *   set serial/identity sequences past the restored keys; INSERT the journal row; COMMIT.
 * A kill at any point leaves either nothing of the section or all of it with its journal row.
 * Values are PostgreSQL's own text output; they go out in COPY text format (backslash escapes).
 */

#define COPY_CHUNK (256 * 1024)
#define JOURNAL "mno_migrate.journal"
#define TMP "pg_temp.mno_restore_rows"
/* advisory lock class of the schemas a restore creates (the journal's, --create's): two
   connections of mno-restore -j N never create the same schema at once */
#define CREATE_LOCK "1836938081"

typedef struct pg_restore {
    int in_txn, in_copy;
    int dry;              /* dry run: write nothing, roll back at the end */
    int missing;          /* dry run: the table is not there (would be created) */
    int direct;           /* COPY straight into the (empty) table */
    int created;          /* the table was created in this transaction */
    char *ns;
    char *qtable;         /* "schema"."table" */
    mno_pg_rel rel;       /* the table, resolved by schema and table (rel.from: its own rows) */
    char *archive_id;
    mno_buf cols;         /* "c1","c2",... quoted, the archive's columns in order */
    size_t *keyidx;       /* key columns: indexes into the section's columns */
    size_t nkey;
    size_t *copyidx;      /* the columns COPY writes, when some are generated in the target */
    size_t ncopy;         /* (NULL: all of them, in order) */
    char **deferred;      /* CREATE INDEX statements to run after the load */
    size_t ndeferred;
    long long rows;       /* rows in the table before the section */
    mno_buf copy;         /* COPY data not yet sent */
    long long begin_line; /* the section's begin line (COPY line N = archive line begin+N) */
    /* kept for the whole run (reset leaves them): the journal read once, not per section */
    int journal_there;    /* the journal table is known to exist (a commit wrote to it) */
    json_t *journal;      /* this archive's entries {ns: [count, sum]} (NULL: not read yet) */
    char *journal_of;     /* the archive id they are of */
    const char *prepared[8]; /* catalog queries prepared on this connection (query_st) */
} pg_restore;

static void reset(pg_restore *st)
{
    mno_pg_rel_release(&st->rel);
    free(st->ns);
    free(st->qtable);
    free(st->archive_id);
    free(st->keyidx);
    free(st->copyidx);
    for (size_t i = 0; i < st->ndeferred; i++)
        free(st->deferred[i]);
    free(st->deferred);
    st->ns = st->qtable = st->archive_id = NULL;
    st->keyidx = st->copyidx = NULL;
    st->deferred = NULL;
    st->nkey = st->ncopy = st->ndeferred = 0;
    st->in_txn = st->in_copy = st->dry = st->missing = st->direct = st->created = 0;
    st->rows = 0;
    mno_buf_reset(&st->cols);
    mno_buf_reset(&st->copy);
}

void mno_pg_restore_free(mno_pg *pg)
{
    if (!pg || !pg->restore)
        return;
    pg_restore *st = pg->restore;
    reset(st);
    json_decref(st->journal);
    free(st->journal_of);
    mno_buf_release(&st->cols);
    mno_buf_release(&st->copy);
    free(st);
    pg->restore = NULL;
}

static int nomem(mno_error *e, const char *ns)
{
    return mno_err(e, MNO_E_NOMEM, NULL, 0, ns, "out of memory");
}

/* The server's message for a failed result: primary text, then detail (one line). */
static int srv_err(mno_error *e, PGconn *c, const PGresult *r, const char *ns, const char *what)
{
    const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *det = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (!prim)
        return mno_pg_err(e, c, r, ns, what);
    if (det)
        return mno_err(e, MNO_E_SERVER, NULL, 0, ns, "%s: %s (%s)", what, prim, det);
    return mno_err(e, MNO_E_SERVER, NULL, 0, ns, "%s: %s", what, prim);
}

static int exec(PGconn *c, const char *sql, const char *ns, const char *what, mno_error *e)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = PQresultStatus(r);
    int rc = (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) ? 0 : srv_err(e, c, r, ns, what);
    PQclear(r);
    return rc;
}

/* Runs a query with text parameters; returns the result (PQclear it) or NULL with e filled. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params, const char *ns,
                       const char *what, mno_error *e)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        return r;
    srv_err(e, c, r, ns, what);
    PQclear(r);
    return NULL;
}

/*
 * query() for the catalog queries run at every section: prepared once per connection (named
 * mno_restore_N) and executed after, so that the server plans them once, not per section
 * (planning those joins cost more than running them). sql must be a string literal (it is
 * known by its address). Same returns as query().
 */
static PGresult *query_st(pg_restore *st, PGconn *c, const char *sql, int n, const char *const *params,
                          const char *ns, const char *what, mno_error *e)
{
    size_t k, max = sizeof st->prepared / sizeof *st->prepared;
    char name[32];
    for (k = 0; k < max && st->prepared[k] && st->prepared[k] != sql; k++)
        ;
    if (k == max)
        return query(c, sql, n, params, ns, what, e);
    snprintf(name, sizeof name, "mno_restore_%zu", k);
    if (!st->prepared[k]) {
        PGresult *p = PQprepare(c, name, sql, n, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            srv_err(e, c, p, ns, what);
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        st->prepared[k] = sql;
    }
    PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
        return r;
    srv_err(e, c, r, ns, what);
    PQclear(r);
    return NULL;
}

static pg_restore *state(mno_pg *pg, mno_error *e)
{
    if (!pg->restore) {
        /* no NOTICEs on stderr ("schema already exists, skipping"): set outside any transaction */
        if (exec(pg->conn, "SET client_min_messages = warning", NULL, "cannot set up the session", e) < 0)
            return NULL;
        pg->restore = calloc(1, sizeof(pg_restore));
        if (!pg->restore)
            nomem(e, NULL);
    }
    return pg->restore;
}

/* ---- journal ---- */

/*
 * The journal's entries of this archive, read in one query at the first section (two
 * queries per section made a restore of many small sections slow): a run only ever looks up
 * the entries earlier runs wrote, as each section is restored once per run.
 */
static int journal_load(mno_pg *pg, pg_restore *st, const char *archive_id, const char *ns, mno_error *e)
{
    if (st->journal && st->journal_of && strcmp(st->journal_of, archive_id) == 0)
        return 0;
    json_decref(st->journal);
    free(st->journal_of);
    st->journal = json_object();
    st->journal_of = strdup(archive_id);
    if (!st->journal || !st->journal_of)
        return nomem(e, ns);
    PGresult *r = query(pg->conn, "SELECT to_regclass('" JOURNAL "') IS NOT NULL", 0, NULL, ns,
                        "cannot read the restore journal", e);
    if (!r)
        return -1;
    int have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!have)
        return 0;
    const char *params[1] = {archive_id};
    r = query(pg->conn, "SELECT ns, count, sum FROM " JOURNAL " WHERE archive_id = $1", 1, params, ns,
              "cannot read the restore journal", e);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        if (json_object_set_new(st->journal, PQgetvalue(r, i, 0),
                                json_pack("[ss]", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2))) < 0)
            rc = nomem(e, ns);
    PQclear(r);
    st->journal_there = 1;
    return rc;
}

int mno_pg_journal_get(mno_engine *en, const char *archive_id, const char *ns, int *found,
                       uint64_t *count, mno_sum *sum, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_restore *st = state(pg, e);
    *found = 0;
    if (!st || journal_load(pg, st, archive_id, ns, e) < 0)
        return -1;
    json_t *ent = json_object_get(st->journal, ns);
    if (!ent)
        return 0;
    *found = 1;
    *count = strtoull(json_string_value(json_array_get(ent, 0)), NULL, 10);
    if (mno_sum_parse(json_string_value(json_array_get(ent, 1)), sum) < 0)
        return mno_err(e, MNO_E_SERVER, NULL, 0, ns, "the restore journal " JOURNAL " holds a bad sum");
    return 0;
}

/*
 * After waiting for an advisory lock (restore -j N): makes this session see the catalog rows
 * the other transaction committed meanwhile. An advisory lock, unlike a relation's, does not
 * make the backend take in other sessions' catalog changes, so a name it looked up before
 * (not there then) could still look absent to CREATE ... IF NOT EXISTS, which would then fail
 * on the catalog's unique index. A lookup of a relation that is not there, with a lock, does
 * take them in (RangeVarGetRelidExtended); the name can never exist in pg_catalog.
 */
static int see_catalog(PGconn *c, const char *ns, mno_error *e)
{
    return exec(c, "DROP TABLE IF EXISTS pg_catalog.mno_restore_no_such_table", ns,
                "cannot read the catalog", e);
}

/* Creates the journal when it is not there (inside the section's transaction, before its row).
   known: a commit of this run already wrote to it (nothing to look up). */
int mno_pg_journal_ensure(PGconn *c, int known, const char *ns, mno_error *e)
{
    if (known)
        return 0;
    PGresult *r = query(c, "SELECT to_regclass('" JOURNAL "') IS NOT NULL", 0, NULL, ns,
                        "cannot read the restore journal", e);
    if (!r)
        return -1;
    int have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (have)
        return 0;
    /* restore -j N: another connection may be creating it: wait for its transaction (the
       statements below then find it there) instead of failing on its catalog rows */
    if (exec(c, "SELECT pg_advisory_xact_lock(" CREATE_LOCK ", hashtext('mno_migrate'))", ns,
             "cannot lock the restore journal's creation", e) < 0 || see_catalog(c, ns, e) < 0)
        return -1;
    return exec(c,
                "CREATE SCHEMA IF NOT EXISTS mno_migrate;"
                "CREATE TABLE IF NOT EXISTS " JOURNAL " ("
                " archive_id text NOT NULL, ns text NOT NULL, count bigint NOT NULL,"
                " sum text NOT NULL, restored_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (archive_id, ns));"
                "COMMENT ON TABLE " JOURNAL " IS 'mno-restore: sections committed per archive (docs/restore.md)'",
                ns, "cannot create the restore journal " JOURNAL, e);
}

/* ---- begin ---- */

/* Looks the section's table up by (schema, table) into st->rel (oid "" when it is not there). */
static int lookup(PGconn *c, pg_restore *st, const mno_section *s, mno_error *e)
{
    return mno_pg_rel_lookup(c, s->ns, s->begin_line, &st->rel, e) < 0 ? -1 : 0;
}

/*
 * Whether an archive column type may be written into SQL text: a type name as format_type
 * prints it (letters, digits, _ . , ( ) [ ] spaces and "quoted identifiers"), without a
 * statement separator, a string or dollar quote, a comment or a control character. The server
 * then has to accept the whole string as one type name (type_exists). Returns 1 or 0.
 */
static int type_text_ok(const char *t)
{
    size_t n = strlen(t), quotes = 0;
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (ch == '"') {
            quotes++;
            continue;
        }
        if (quotes % 2)   /* inside a quoted identifier: anything printable but the quote */
            continue;
        if (ch < 0x20 || ch == 0x7f || ch == ';' || ch == '\'' || ch == '$' || ch == '\\' ||
            (ch == '-' && t[i + 1] == '-') || (ch == '/' && t[i + 1] == '*') || (ch == '*' && t[i + 1] == '/'))
            return 0;
    }
    return quotes % 2 == 0;
}

/*
 * Whether the server takes type (the archive's text) as exactly one type name of an existing
 * type: to_regtype($1), a parameter, inside a savepoint (a string that does not parse as a type
 * name is an error there, which must not end the section's transaction). Returns 1 (yes), 0
 * (no: e filled with why) or -1 (a server error).
 */
static int type_exists(PGconn *c, const mno_section *s, const char *col, const char *type, mno_error *e)
{
    const char *params[1] = {type};
    if (exec(c, "SAVEPOINT mno_type_check", s->ns, "--create: cannot check the archive's column types", e) < 0)
        return -1;
    PGresult *r = PQexecParams(c, "SELECT to_regtype($1) IS NOT NULL", 1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (ok && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        PQclear(r);
        return exec(c, "RELEASE SAVEPOINT mno_type_check", s->ns, "--create: cannot check the archive's column types",
                    e) < 0 ? -1 : 1;
    }
    if (ok)
        mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "--create: column \"%s\": type \"%s\" does not exist in the target",
                col, type);
    else {
        const char *prim = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "--create: column \"%s\": type \"%s\" is not a type name: %s", col,
                type, prim ? prim : "refused by the server");
    }
    PQclear(r);
    mno_error e2;
    mno_error_clear(&e2);
    if (exec(c, "ROLLBACK TO SAVEPOINT mno_type_check", s->ns, "--create: cannot check the archive's column types",
             &e2) < 0) {
        *e = e2;
        return -1;
    }
    return 0;
}

/*
 * CREATE TABLE from the begin line's columns and key, built here: names quoted
 * (PQescapeIdentifier), each type checked (type_text_ok, then by the server: type_exists) before
 * it is written into the statement, the key as primary key. No SQL text of the archive runs.
 * Returns 0, or -1 with e filled.
 */
static int ddl_from_columns(PGconn *c, const mno_section *s, const char *qtable, mno_buf *b, mno_error *e)
{
    if (mno_buf_addf(b, "CREATE TABLE %s (", qtable) < 0)
        return nomem(e, s->ns);
    for (size_t i = 0; i < s->ncols; i++) {
        const char *type = s->coltypes[i] && *s->coltypes[i] ? s->coltypes[i] : "text";
        if (!type_text_ok(type))
            return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "--create: column \"%s\": type \"%.200s\" is not a "
                           "type name (it holds a ; quote, comment or control character)", s->colnames[i], type);
        int ok = type_exists(c, s, s->colnames[i], type, e);
        if (ok <= 0)
            return -1;
        char *q = PQescapeIdentifier(c, s->colnames[i], strlen(s->colnames[i]));
        int rc = q ? mno_buf_addf(b, "%s%s %s", i ? ", " : "", q, type) : -1;
        PQfreemem(q);
        if (rc < 0)
            return nomem(e, s->ns);
    }
    json_t *key = json_object_get(s->begin, "key");
    /* a key of every column is the dump's stand-in for a table without one (its columns may
       be NULL or have no btree order, json): no primary key then */
    if (json_array_size(key) > 0 && json_array_size(key) < s->ncols) {
        if (mno_buf_adds(b, ", PRIMARY KEY (") < 0)
            return nomem(e, s->ns);
        for (size_t i = 0; i < json_array_size(key); i++) {
            const char *k = json_string_value(json_array_get(key, i));
            char *q = k ? PQescapeIdentifier(c, k, strlen(k)) : NULL;
            int rc = q ? mno_buf_addf(b, "%s%s", i ? ", " : "", q) : -1;
            PQfreemem(q);
            if (rc < 0)
                return nomem(e, s->ns);
        }
        if (mno_buf_addc(b, ')') < 0)
            return nomem(e, s->ns);
    }
    return mno_buf_adds(b, ")") < 0 ? nomem(e, s->ns) : 0;
}

/* When schema (its quoted name q) does not exist, takes the transaction's advisory lock on
   its creation. Returns 0 or -1. */
static int schema_lock(PGconn *c, const char *schema, const char *q, const char *ns, mno_error *e)
{
    const char *params[2] = {q, schema};
    PGresult *r = query(c, "SELECT pg_advisory_xact_lock(" CREATE_LOCK ", hashtext($2)) "
                           "WHERE to_regnamespace($1) IS NULL", 2, params, ns, "cannot look up the schema", e);
    if (!r)
        return -1;
    int locked = PQntuples(r) > 0;
    PQclear(r);
    return locked ? see_catalog(c, ns, e) : 0;
}

/* --create: the schema, then the archive's ddl (a string or an array of statements) when
   o->run_ddl (an authenticated archive, or --trust-archive), else a CREATE TABLE made here from
   the columns and key (ddl_from_columns; o->ddl_skipped counts it when a ddl was there). */
static int create_table(PGconn *c, const mno_restore_opts *o, const mno_section *s, const mno_pg_rel *rel,
                        mno_error *e)
{
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    const char *qtable = rel->qname;
    {
        const char *schema = rel->schema;
        char *q = PQescapeIdentifier(c, schema, strlen(schema));
        int ok = q && mno_buf_addf(&b, "CREATE SCHEMA IF NOT EXISTS %s;", q) == 0;
        /* a schema that is not there yet: restore -j N may be creating it on another
           connection; wait for that transaction rather than fail on its catalog row */
        if (ok && schema_lock(c, schema, q, s->ns, e) < 0) {
            PQfreemem(q);
            goto done;
        }
        PQfreemem(q);
        if (!ok) {
            nomem(e, s->ns);
            goto done;
        }
    }
    json_t *ddl = json_object_get(s->begin, "ddl");
    int ok = 0;
    int has_ddl = (json_is_string(ddl) && json_string_length(ddl) > 0) || (json_is_array(ddl) && json_array_size(ddl) > 0);
    if (has_ddl && !o->run_ddl) {
        if (o->ddl_skipped)
            __atomic_add_fetch(o->ddl_skipped, 1, __ATOMIC_RELAXED);
        ddl = NULL;
    }
    if (json_is_string(ddl) && json_string_length(ddl) > 0)
        ok = mno_buf_adds(&b, json_string_value(ddl)) == 0;
    else if (json_is_array(ddl) && json_array_size(ddl) > 0) {
        ok = 1;
        for (size_t i = 0; ok && i < json_array_size(ddl); i++) {
            const char *stmt = json_string_value(json_array_get(ddl, i));
            if (!stmt) {
                mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "begin line: \"ddl\" item %zu is not a string", i + 1);
                goto done;
            }
            ok = mno_buf_addf(&b, "%s;", stmt) == 0;
        }
    } else if (ddl_from_columns(c, s, qtable, &b, e) < 0)
        goto done;
    else
        ok = 1;
    if (!ok) {
        nomem(e, s->ns);
        goto done;
    }
    if (exec(c, b.data, s->ns, "--create: the archive's table definition failed", e) < 0)
        goto done;
    rc = 0;
done:
    mno_buf_release(&b);
    return rc;
}

/*
 * Whether values of archive type ARCH keep their text in a target column of type TARGET: the
 * same type, a text or unbounded varchar column (any value's text is stored as it is), or a
 * wider integer. Anything else (numeric(12,0) for numeric(12,2), varchar(10) for varchar(40),
 * jsonb for json, timestamp for timestamptz) could round, cut or reformat them silently.
 */
static int type_keeps_text(const char *arch, const char *target)
{
    static const char *const wider[][2] = {{"smallint", "integer"}, {"smallint", "bigint"}, {"integer", "bigint"}};
    if (!arch || !*arch || strcmp(arch, target) == 0 || strcmp(target, "text") == 0 ||
        strcmp(target, "character varying") == 0)
        return 1;
    for (size_t i = 0; i < sizeof wider / sizeof wider[0]; i++)
        if (strcmp(arch, wider[i][0]) == 0 && strcmp(target, wider[i][1]) == 0)
            return 1;
    return 0;
}

/*
 * Every archive column must be a column of the table, of a type that keeps its values' text. A column generated in the target
 * (GENERATED ALWAYS AS ... STORED: mno-dump writes its values) is not written: the server
 * computes it (mno-verify compares it); COPY writes st->copyidx. A generated key column is
 * refused (the conflict check needs its value).
 */
static int check_columns(PGconn *c, pg_restore *st, const mno_section *s, const char *oid, mno_error *e)
{
    const char *params[1] = {oid};
    PGresult *r = query_st(st, c, "SELECT attname, attgenerated <> '', format_type(atttypid, atttypmod) FROM pg_attribute"
                           " WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped", 1, params, s->ns,
                        "cannot read the table's columns", e);
    if (!r)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < s->ncols && rc == 0; i++) {
        int k = 0, n = PQntuples(r);
        while (k < n && strcmp(PQgetvalue(r, k, 0), s->colnames[i]) != 0)
            k++;
        if (k == n)
            rc = mno_err(e, MNO_E_USAGE, NULL, 0, s->ns, "column \"%s\" of the archive is not in the target table",
                         s->colnames[i]);
        else if (!type_keeps_text(s->coltypes[i], PQgetvalue(r, k, 2)))
            rc = mno_err(e, MNO_E_USAGE, NULL, 0, s->ns, "column \"%s\" is %s in the target table but %s in the "
                         "archive: its values could change", s->colnames[i], PQgetvalue(r, k, 2), s->coltypes[i]);
        else if (strcmp(PQgetvalue(r, k, 1), "t") == 0) {
            for (size_t j = 0; j < st->nkey; j++)
                if (st->keyidx[j] == i)
                    rc = mno_err(e, MNO_E_USAGE, NULL, 0, s->ns, "key column \"%s\" is generated in the target "
                                 "table: it cannot be restored", s->colnames[i]);
            if (!st->copyidx) {   /* the columns before this one */
                st->copyidx = calloc(s->ncols, sizeof *st->copyidx);
                if (!st->copyidx) {
                    rc = nomem(e, s->ns);
                    break;
                }
                for (size_t j = 0; j < i; j++)
                    st->copyidx[st->ncopy++] = j;
            }
        } else if (st->copyidx)
            st->copyidx[st->ncopy++] = i;
    }
    PQclear(r);
    return rc;
}

/* The key columns (begin's "key") as indexes into the section's columns. */
static int find_key(pg_restore *st, const mno_section *s, mno_error *e)
{
    json_t *key = json_object_get(s->begin, "key");
    size_t n = json_array_size(key);
    if (n == 0)
        return 0;
    st->keyidx = calloc(n, sizeof *st->keyidx);
    if (!st->keyidx)
        return nomem(e, s->ns);
    for (size_t i = 0; i < n; i++) {
        const char *k = json_string_value(json_array_get(key, i));
        size_t j = 0;
        while (k && j < s->ncols && strcmp(s->colnames[j], k) != 0)
            j++;
        if (!k || j == s->ncols)
            return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "begin line: key column %s is not among the columns",
                           k ? k : "(not a string)");
        st->keyidx[i] = j;
    }
    st->nkey = n;
    return 0;
}

/* Appends "c1, c2" (quoted, prefixed with pre) for the key columns. */
static int add_keycols(mno_buf *b, PGconn *c, const pg_restore *st, const mno_section *s, const char *pre,
                       const char *cast, const char *sep)
{
    for (size_t i = 0; i < st->nkey; i++) {
        const char *name = s->colnames[st->keyidx[i]];
        char *q = PQescapeIdentifier(c, name, strlen(name));
        int rc = q ? mno_buf_addf(b, "%s%s%s%s", i ? sep : "", pre, q, cast) : -1;
        PQfreemem(q);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/*
 * Into an empty table, plain indexes (no constraint behind them, not clustered, not the
 * replica identity, no comment, default tablespace, not part of a partitioned index) are
 * dropped and rebuilt after the load from pg_get_indexdef: one sorted build instead of one
 * insertion per row, and the same indexes at the end.
 */
static int defer_indexes(PGconn *c, pg_restore *st, const char *oid, mno_error *e)
{
    const char *params[1] = {oid};
    PGresult *r = query_st(st, c,
        "SELECT pg_get_indexdef(i.indexrelid), quote_ident(n.nspname) || '.' || quote_ident(x.relname)"
        " FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = x.relnamespace JOIN pg_class t ON t.oid = i.indrelid"
        " WHERE i.indrelid = $1::oid AND t.relkind = 'r' AND NOT i.indisprimary AND NOT i.indisexclusion"
        " AND NOT i.indisclustered AND NOT i.indisreplident AND i.indisvalid AND i.indisready"
        " AND x.reltablespace = 0 AND NOT x.relispartition"
        /* no constraint owns it or uses it (pg_constraint.conindid, which has no index: a
           scan of every constraint per section grew with the database; pg_depend's two
           indexes find the same: a unique/exclusion constraint's index depends on it, a
           foreign key depends on the unique index it references) */
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
        " AND d.objid = i.indexrelid AND d.refclassid = 'pg_constraint'::regclass)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass"
        " AND d.refobjid = i.indexrelid AND d.classid = 'pg_constraint'::regclass)"
        " AND NOT EXISTS (SELECT 1 FROM pg_description d WHERE d.objoid = i.indexrelid)"
        " AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0)"
        " ORDER BY x.relname", 1, params, st->ns, "cannot read the table's indexes", e);
    if (!r)
        return -1;
    int n = PQntuples(r), rc = 0;
    mno_buf drop = MNO_BUF_INIT;
    if (n > 0) {
        st->deferred = calloc((size_t)n, sizeof *st->deferred);
        if (!st->deferred)
            rc = nomem(e, st->ns);
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        st->deferred[i] = strdup(PQgetvalue(r, i, 0));
        if (!st->deferred[i] || mno_buf_addf(&drop, "DROP INDEX %s;", PQgetvalue(r, i, 1)) < 0)
            rc = nomem(e, st->ns);
        else
            st->ndeferred++;
    }
    PQclear(r);
    if (rc == 0 && drop.len)
        rc = exec(c, drop.data, st->ns, "cannot drop the indexes to rebuild after the load", e);
    mno_buf_release(&drop);
    return rc;
}

static int start_copy(PGconn *c, pg_restore *st, const char *into, const char *collist, mno_error *e)
{
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    /* a table without columns: COPY's rows are empty lines (no column list: "()" is not SQL) */
    if (mno_buf_addf(&b, *collist ? "COPY %s (%s) FROM STDIN" : "COPY %s FROM STDIN%s", into, collist) < 0) {
        nomem(e, st->ns);
        goto done;
    }
    PGresult *r = PQexec(c, b.data);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        srv_err(e, c, r, st->ns, "cannot start COPY");
        PQclear(r);
        goto done;
    }
    PQclear(r);
    st->in_copy = 1;
    rc = 0;
done:
    mno_buf_release(&b);
    return rc;
}

int mno_pg_restore_begin(mno_engine *en, const mno_restore_opts *o, const mno_section *s, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    PGconn *c = pg->conn;
    pg_restore *st = state(pg, e);
    PGresult *r = NULL;
    mno_buf b = MNO_BUF_INIT;
    int rc = -1;
    if (!st)
        return -1;
    reset(st);
    const char *oid = st->rel.oid;
    if (s->engine != MNO_ENGINE_PG)
        return mno_err(e, MNO_E_USAGE, NULL, 0, s->ns, "not a postgresql section");
    /* the table by schema and table, never through search_path (an unqualified "pg_authid"
       would be pg_catalog's); not in the toolkit's own schema (the journal: a section there
       could fake restored sections) nor the server's, which mno-dump never writes */
    if (mno_pg_rel_parse(s->ns, s->begin_line, &st->rel, e) < 0)
        return -1;
    st->dry = o->dry_run;
    st->begin_line = s->begin_line;
    st->ns = strdup(s->ns);
    st->archive_id = strdup(o->archive_id ? o->archive_id : "");
    st->qtable = strdup(st->rel.qname);
    if (!st->ns || !st->archive_id || !st->qtable)
        return nomem(e, s->ns);
    if (find_key(st, s, e) < 0 || mno_pg_seq_check_format(s, e) < 0)
        return -1;
    if (exec(c, "BEGIN", s->ns, "cannot begin the section's transaction", e) < 0)
        return -1;
    st->in_txn = 1;
    /* --disable-triggers, as pg_restore's: no trigger of the target fires on the section's
       rows, the foreign keys' own included (replica mode, for this transaction only) */
    if (o->disable_triggers) {
        PGresult *r = PQexec(c, "SET LOCAL session_replication_role = replica");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *prim = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            mno_err(e, MNO_E_USAGE, NULL, 0, s->ns, "--disable-triggers: the target's role may not set "
                    "session_replication_role (a superuser may, or a role given GRANT SET ON PARAMETER "
                    "session_replication_role): %s", prim ? prim : PQerrorMessage(c));
            PQclear(r);
            goto done;
        }
        PQclear(r);
    }
    if (lookup(c, st, s, e) < 0)
        goto done;
    if (!*st->rel.oid) {
        if (!o->create) {
            mno_err(e, MNO_E_USAGE, NULL, 0, s->ns, "table %s is not in the target "
                    "(--create creates it from the archive)", s->ns);
            goto done;
        }
        if (st->dry) {   /* it would be created: nothing to probe */
            st->missing = 1;
            rc = 0;
            goto done;
        }
        if (mno_pg_seq_create(c, s, e) < 0 || create_table(c, o, s, &st->rel, e) < 0 || lookup(c, st, s, e) < 0)
            goto done;
        if (!*st->rel.oid) {
            mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "--create: the archive's table definition did not create table %s",
                    s->ns);
            goto done;
        }
        st->created = 1;
    }
    if (check_columns(c, st, s, oid, e) < 0)
        goto done;
    size_t ncopy = st->copyidx ? st->ncopy : s->ncols;
    for (size_t k = 0; k < ncopy; k++) {
        const char *name = s->colnames[st->copyidx ? st->copyidx[k] : k];
        char *q = PQescapeIdentifier(c, name, strlen(name));
        int bad = !q || mno_buf_addf(&st->cols, "%s%s", k ? "," : "", q) < 0;
        PQfreemem(q);
        if (bad)
            goto nomem;
    }
    if (mno_buf_addf(&b, "SELECT count(*) FROM %s", st->rel.from) < 0)
        goto nomem;
    if (st->dry) {
        r = query(c, b.data, 0, NULL, s->ns, "cannot count the table's rows", e);
        if (!r)
            goto done;
        st->rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else {
        /* no writer may slip in between the emptiness check and the commit (a dry run only
           reads); the lock and the check in one round trip (no parameters: names quoted).
           The lock is on the rows the section restores (rel.from): ONLY the table of an
           inheritance parent, whose children are sections of their own (with -j N a lock
           recursing into them made the parent's and a child's sections wait on each other) */
        mno_buf_reset(&b);
        if (mno_buf_addf(&b, "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE; SELECT EXISTS (SELECT 1 FROM %s)",
                         st->rel.from, st->rel.from) < 0)
            goto nomem;
        r = PQexec(c, b.data);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            srv_err(e, c, r, s->ns, "cannot lock and read the table");
            goto done;
        }
        st->rows = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? -1 : 0;   /* -1: some */
    }
    PQclear(r);
    r = NULL;
    if (st->rows != 0 && st->nkey == 0) {
        mno_err(e, MNO_E_CONFLICT, NULL, 0, s->ns, "refused: the target table already holds rows and the "
                "section has no key to tell them apart: nothing of this section was written");
        goto done;
    }
    if (st->rows == 0 && !st->dry) {
        st->direct = 1;
        if (defer_indexes(c, st, oid, e) < 0)
            goto done;
        rc = start_copy(c, st, st->qtable, st->cols.data, e);
        goto done;
    }
    if (st->rows == 0) {   /* dry run, empty table: no conflict possible */
        rc = 0;
        goto done;
    }
    /* rows there: the section goes to a temporary table first (dry run: its key only) */
    mno_buf_reset(&b);
    mno_buf keycols = MNO_BUF_INIT;
    if (add_keycols(&keycols, c, st, s, "", "", ",") < 0 ||
        mno_buf_addf(&b, "CREATE TEMPORARY TABLE mno_restore_rows ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA",
                     st->dry ? keycols.data : st->cols.data, st->qtable) < 0) {
        mno_buf_release(&keycols);
        goto nomem;
    }
    if (exec(c, b.data, s->ns, "cannot create the temporary table", e) < 0) {
        mno_buf_release(&keycols);
        goto done;
    }
    rc = start_copy(c, st, TMP, st->dry ? keycols.data : st->cols.data, e);
    mno_buf_release(&keycols);
    goto done;
nomem:
    nomem(e, s->ns);
done:
    PQclear(r);
    mno_buf_release(&b);
    return rc;
}

/* ---- records ---- */

/* Bytes COPY's text format escapes. */
static const char copy_esc[256] = {['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};

/* Appends v in COPY text format: backslash, newline, carriage return and tab escaped; runs
   of plain bytes copied whole. */
static int add_copy_value(mno_buf *b, const char *v, size_t n)
{
    if (mno_buf_grow(b, 2 * n + 1) < 0)
        return -1;
    char *o = b->data + b->len;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char esc = copy_esc[(unsigned char)v[i]];
        if (!esc)
            continue;
        memcpy(o, v + run, i - run);
        o += i - run;
        *o++ = '\\';
        *o++ = esc;
        run = i + 1;
    }
    memcpy(o, v + run, n - run);
    o += n - run;
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* A cycle of the target's foreign keys through the table (oid), shortest first, as
   "public.dept -> public.emp -> public.dept" (search_path is pg_catalog: names qualified). */
static const char *const q_fk_cycle =
    "WITH RECURSIVE p(rel, path) AS ("
    " SELECT confrelid, ARRAY[conrelid, confrelid] FROM pg_catalog.pg_constraint"
    "  WHERE contype = 'f' AND conrelid = $1::oid AND confrelid <> conrelid"
    " UNION ALL SELECT c.confrelid, p.path || c.confrelid FROM p JOIN pg_catalog.pg_constraint c"
    "  ON c.contype = 'f' AND c.conrelid = p.rel AND c.confrelid <> c.conrelid"
    "  WHERE p.rel <> $1::oid AND NOT c.confrelid = ANY (p.path[2:]) AND cardinality(p.path) < 20)"
    " SELECT (SELECT string_agg(x::pg_catalog.regclass::text, ' -> ' ORDER BY o)"
    "  FROM unnest(path) WITH ORDINALITY u(x, o)) FROM p WHERE rel = $1::oid"
    " ORDER BY cardinality(path) LIMIT 1";

/*
 * A row refused by a foreign key (SQLSTATE 23503) of a table in a cycle of foreign keys:
 * the section's transaction is rolled back here (it failed anyway) and the cycle named in
 * e's message, with the ways to restore it, since no order of the sections satisfies it.
 */
static void fk_cycle_hint(PGconn *c, pg_restore *st, mno_error *e)
{
    PGresult *r = PQexec(c, "ROLLBACK");
    PQclear(r);
    const char *params[1] = {st->rel.oid};
    if (!*st->rel.oid)
        return;
    r = PQexecParams(c, q_fk_cycle, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, "; the target's foreign keys form a cycle (%s): no order of the "
                 "sections satisfies them; restore with --disable-triggers (the foreign keys are not checked), or "
                 "with --create into an empty target from an archive of mno-dump --with-schema (the foreign keys "
                 "are made after the rows)", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
}

int mno_pg_copy_value(mno_buf *b, const char *v, size_t n)
{
    return v ? add_copy_value(b, v, n) : mno_buf_add(b, "\\N", 2);
}

/* Collects the COPY's results; a failure names the record's archive line (COPY line N is
   archive line begin + N). Returns 0 or -1. */
static int copy_results(PGconn *c, pg_restore *st, mno_error *e)
{
    PGresult *r;
    int rc = 0, any = 0, fk = 0;
    st->in_copy = 0;
    while ((r = PQgetResult(c)) != NULL) {
        any = 1;
        if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *ctx = PQresultErrorField(r, PG_DIAG_CONTEXT);
            const char *ln = ctx ? strstr(ctx, ", line ") : NULL;
            long long n = ln ? strtoll(ln + 7, NULL, 10) : 0;
            /* a server going away (classes 57, 08) is not the record's fault */
            const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            int gone = code && (strncmp(code, "57", 2) == 0 || strncmp(code, "08", 2) == 0);
            rc = srv_err(e, c, r, st->ns, n > 0 && !gone ? "record rejected by the server" : "COPY failed");
            if (n > 0)
                e->line = st->begin_line + n;
            fk = code && strcmp(code, "23503") == 0;
        }
        PQclear(r);
    }
    if (fk)
        fk_cycle_hint(c, st, e);
    if (!any && rc == 0)
        rc = mno_pg_err(e, c, NULL, st->ns, "COPY failed");
    return rc;
}

static int flush_copy(PGconn *c, pg_restore *st, mno_error *e)
{
    if (st->copy.len == 0)
        return 0;
    if (PQputCopyData(c, st->copy.data, (int)st->copy.len) != 1) {
        /* the server ended the COPY early (a rejected row): its error says why */
        if (copy_results(c, st, e) == 0)
            mno_pg_err(e, c, NULL, st->ns, "COPY failed");
        return -1;
    }
    mno_buf_reset(&st->copy);
    return 0;
}

int mno_pg_restore_rec(mno_engine *en, const mno_item *it, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_restore *st = pg->restore;
    if (!st || !st->in_copy)
        return 0;   /* dry run without a probe to feed */
    const mno_section *s = it->section;
    size_t n = st->dry ? st->nkey : st->copyidx ? st->ncopy : s->ncols;
    const size_t *idx = st->dry ? st->keyidx : st->copyidx;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx ? idx[k] : k;
        int rc = k ? mno_buf_addc(&st->copy, '\t') : 0;
        if (rc == 0)
            rc = it->vals[i] ? add_copy_value(&st->copy, it->vals[i], it->lens[i])
                             : mno_buf_add(&st->copy, "\\N", 2);
        if (rc < 0)
            return nomem(e, s->ns);
    }
    if (mno_buf_addc(&st->copy, '\n') < 0)
        return nomem(e, s->ns);
    if (st->copy.len >= COPY_CHUNK)
        return flush_copy(pg->conn, st, e);
    return 0;
}

/* Ends the COPY (see copy_results for its errors). */
static int end_copy(PGconn *c, pg_restore *st, mno_error *e)
{
    if (!st->in_copy)
        return 0;
    if (flush_copy(c, st, e) < 0)
        return -1;
    if (PQputCopyEnd(c, NULL) != 1) {
        if (copy_results(c, st, e) == 0)
            mno_pg_err(e, c, NULL, st->ns, "COPY failed");
        return -1;
    }
    return copy_results(c, st, e);
}

/* ---- commit ---- */

/*
 * 1 when the section's key is a unique key of the target table on NOT NULL columns (a unique
 * index without expressions or predicate on exactly those columns), 0 when not (a table
 * without a primary key: its key is every column, nullable, of any type), -1 on error.
 */
static int key_is_unique(PGconn *c, pg_restore *st, const mno_section *s, mno_error *e)
{
    const char *params[1] = {st->qtable};
    PGresult *r = query_st(st, c, "SELECT i.indexrelid::text, a.attname, a.attnotnull FROM pg_catalog.pg_index i"
                           " JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid"
                           " AND a.attnum = ANY (i.indkey::int2[])"
                           " WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisunique"
                           " AND i.indpred IS NULL AND i.indexprs IS NULL ORDER BY 1",
                        1, params, s->ns, "cannot read the table's unique indexes", e);
    if (!r)
        return -1;
    int found = 0, n = PQntuples(r);
    for (int row = 0; row < n && !found;) {
        int end = row, ok = 1;
        while (end < n && strcmp(PQgetvalue(r, end, 0), PQgetvalue(r, row, 0)) == 0)
            end++;
        if ((size_t)(end - row) != st->nkey)
            ok = 0;
        for (int i = row; ok && i < end; i++) {
            size_t k = 0;
            while (k < st->nkey && strcmp(s->colnames[st->keyidx[k]], PQgetvalue(r, i, 1)) != 0)
                k++;
            ok = k < st->nkey && strcmp(PQgetvalue(r, i, 2), "t") == 0;
        }
        found = ok;
        row = end;
    }
    PQclear(r);
    return found;
}

/*
 * Refuses when any key of the section is already in the table: counts them, names up to 5.
 * A key that is not a unique NOT NULL key of the target (a table without a primary key: every
 * column, nulls and types without '=' such as json) is matched by its text, null equal to
 * null (INTERSECT): a row restored twice is a conflict, never a silent duplicate.
 */
static int check_conflicts(PGconn *c, pg_restore *st, const mno_section *s, long long *nconf, char *keys,
                           size_t keyslen, mno_error *e)
{
    mno_buf b = MNO_BUF_INIT;
    PGresult *r = NULL;
    int rc = -1;
    *nconf = 0;
    keys[0] = '\0';
    int unique = key_is_unique(c, st, s, e);
    if (unique < 0)
        goto done;
    if (!unique) {
        if (mno_buf_adds(&b, "SELECT count(*) OVER (), x.* FROM (SELECT ") < 0 ||
            add_keycols(&b, c, st, s, "r.", "::text", ", ") < 0 ||
            mno_buf_adds(&b, " FROM " TMP " r INTERSECT SELECT ") < 0 ||
            add_keycols(&b, c, st, s, "t.", "::text", ", ") < 0 ||
            mno_buf_addf(&b, " FROM %s t) x ORDER BY ", st->rel.from) < 0)
            goto nomem;
        for (size_t i = 0; i < st->nkey; i++)
            if (mno_buf_addf(&b, "%s%zu", i ? ", " : "", i + 2) < 0)
                goto nomem;
        if (mno_buf_adds(&b, " LIMIT 5") < 0)
            goto nomem;
    } else if (mno_buf_adds(&b, "SELECT count(*) OVER ()") < 0 || add_keycols(&b, c, st, s, ", r.", "::text", "") < 0 ||
        mno_buf_addf(&b, " FROM " TMP " r WHERE EXISTS (SELECT 1 FROM %s t WHERE ", st->rel.from) < 0)
        goto nomem;
    for (size_t i = 0; unique && i < st->nkey; i++) {
        const char *name = s->colnames[st->keyidx[i]];
        char *q = PQescapeIdentifier(c, name, strlen(name));
        int bad = !q || mno_buf_addf(&b, "%st.%s = r.%s", i ? " AND " : "", q, q) < 0;
        PQfreemem(q);
        if (bad)
            goto nomem;
    }
    if (unique && (mno_buf_adds(&b, ") ORDER BY ") < 0 || add_keycols(&b, c, st, s, "r.", "", ", ") < 0 ||
                   mno_buf_adds(&b, " LIMIT 5") < 0))
        goto nomem;
    r = query(c, b.data, 0, NULL, s->ns, "cannot look for conflicting keys", e);
    if (!r)
        goto done;
    size_t k = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        *nconf = strtoll(PQgetvalue(r, row, 0), NULL, 10);
        if (k + 1 < keyslen)
            k += (size_t)snprintf(keys + k, keyslen - k, "%s%s", row ? ", " : "", st->nkey > 1 ? "(" : "");
        for (size_t i = 0; i < st->nkey && k + 1 < keyslen; i++)
            k += (size_t)snprintf(keys + k, keyslen - k, "%s%s=%s", i ? ", " : "", s->colnames[st->keyidx[i]],
                                  PQgetisnull(r, row, (int)i + 1) ? "null" : PQgetvalue(r, row, (int)i + 1));
        if (st->nkey > 1 && k + 1 < keyslen)
            k += (size_t)snprintf(keys + k, keyslen - k, ")");
    }
    if (*nconf > 5 && k + 1 < keyslen)
        snprintf(keys + k, keyslen - k, ", ...");
    rc = 0;
    goto done;
nomem:
    nomem(e, s->ns);
done:
    PQclear(r);
    mno_buf_release(&b);
    return rc;
}

/* Serial and identity sequences of the restored columns set past the largest value. */
static int set_sequences(PGconn *c, pg_restore *st, const mno_section *s, mno_error *e)
{
    const char *params[2] = {st->qtable, NULL};
    PGresult *r = query_st(st, c, "SELECT a.attname, pg_get_serial_sequence($1, a.attname) FROM pg_attribute a"
                           " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"
                           " AND pg_get_serial_sequence($1, a.attname) IS NOT NULL",
                        1, params, s->ns, "cannot find the table's sequences", e);
    if (!r)
        return -1;
    int rc = 0;
    mno_buf b = MNO_BUF_INIT;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *col = PQgetvalue(r, i, 0);
        size_t j = 0;
        while (j < s->ncols && strcmp(s->colnames[j], col) != 0)
            j++;
        if (j == s->ncols)
            continue;   /* not restored: its default ran */
        char *q = PQescapeIdentifier(c, col, strlen(col));
        mno_buf_reset(&b);
        /* only forward: the next value must be past max(col) (never move a sequence back) */
        /* (the next value: last_value, plus the increment once it was called; the name is
           pg_get_serial_sequence's, quoted by the server) */
        if (!q || mno_buf_addf(&b,
                "SELECT pg_catalog.setval($1::regclass, m) FROM (SELECT max(%s)::bigint AS m FROM %s) x,"
                " pg_catalog.pg_sequence q, %s s WHERE q.seqrelid = $1::regclass AND q.seqincrement > 0"
                " AND m IS NOT NULL AND m >= s.last_value::numeric + CASE WHEN s.is_called THEN q.seqincrement ELSE 0 END",
                q, st->qtable, PQgetvalue(r, i, 1)) < 0)
            rc = nomem(e, s->ns);
        PQfreemem(q);
        if (rc < 0)
            break;
        params[0] = PQgetvalue(r, i, 1);
        PGresult *r2 = query(c, b.data, 1, params, s->ns, "cannot set the sequence past the restored keys", e);
        if (!r2)
            rc = -1;
        PQclear(r2);
    }
    mno_buf_release(&b);
    PQclear(r);
    return rc;
}

int mno_pg_restore_commit(mno_engine *en, const mno_section *s, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    PGconn *c = pg->conn;
    pg_restore *st = pg->restore;
    mno_buf b = MNO_BUF_INIT;
    char keys[400], cnt[32], sum[33];
    int rc = -1;
    if (!st || !st->in_txn)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "commit without a section in progress");
    if (end_copy(c, st, e) < 0)
        goto done;
    if (!st->direct) {
        long long nconf;
        if (check_conflicts(c, st, s, &nconf, keys, sizeof keys, e) < 0)
            goto done;
        if (nconf > 0) {
            mno_err(e, MNO_E_CONFLICT, NULL, 0, s->ns, "refused: %lld key%s of the archive %s already in the "
                    "target table: %s; nothing of this section was written", nconf, nconf == 1 ? "" : "s",
                    nconf == 1 ? "is" : "are", keys);
            goto done;
        }
        if (mno_buf_addf(&b, "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT * FROM " TMP, st->qtable, st->cols.data) < 0) {
            nomem(e, s->ns);
            goto done;
        }
        if (exec(c, b.data, s->ns, "cannot insert the section's rows", e) < 0)
            goto done;
    }
    for (size_t i = 0; i < st->ndeferred; i++)
        if (exec(c, st->deferred[i], s->ns, "cannot rebuild an index after the load", e) < 0)
            goto done;
    /* the archive's sequence states first: a state equal to the values' "past the largest"
       (last_value N+1 not called, or N called) stays as the source wrote it */
    if (mno_pg_seq_restore(c, st->qtable, s, st->created, e) < 0 || set_sequences(c, st, s, e) < 0)
        goto done;
    /* the journal is made at the end of the section's transaction, where -j N's other
       connections wait for it (mno_pg_journal_ensure) only for as long as a commit takes */
    if (mno_pg_journal_ensure(c, st->journal_there, s->ns, e) < 0)
        goto done;
    snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)s->count);
    mno_sum_hex(&s->sum, sum);
    const char *params[4] = {st->archive_id, s->ns, cnt, sum};
    PGresult *r = query(c, "INSERT INTO " JOURNAL " (archive_id, ns, count, sum) VALUES ($1, $2, $3, $4)", 4,
                        params, s->ns, "cannot write the restore journal", e);
    if (!r)
        goto done;
    PQclear(r);
    st->in_txn = 0;
    if (exec(c, "COMMIT", s->ns, "commit failed", e) < 0)
        goto done;
    st->journal_there = 1;
    rc = 0;
done:
    mno_buf_release(&b);
    return rc;
}

void mno_pg_restore_abort(mno_engine *en)
{
    mno_pg *pg = MNO_PG(en);
    pg_restore *st = pg ? pg->restore : NULL;
    if (!st)
        return;
    if (st->in_copy && PQstatus(pg->conn) == CONNECTION_OK) {
        PQputCopyEnd(pg->conn, "mno-restore: section abandoned");
        PGresult *r;
        while ((r = PQgetResult(pg->conn)) != NULL)
            PQclear(r);
    }
    st->in_copy = 0;
    if (PQstatus(pg->conn) == CONNECTION_OK && PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(pg->conn, "ROLLBACK");
        PQclear(r);
    }
    st->in_txn = 0;
}

/* ---- dry run ---- */

int mno_pg_restore_probe(mno_engine *en, const mno_section *s, mno_restore_probe *p, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_restore *st = pg->restore;
    int rc = -1;
    memset(p, 0, sizeof *p);
    p->rows = -1;
    p->conflicts = -1;
    if (!st || !st->in_txn)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "probe without a section in progress");
    if (st->missing) {
        rc = 0;
        goto done;
    }
    p->exists = 1;
    p->rows = st->rows;
    p->conflicts = 0;
    if (end_copy(pg->conn, st, e) < 0)
        goto done;
    if (st->rows > 0) {
        if (check_conflicts(pg->conn, st, s, &p->conflicts, p->keys, sizeof p->keys, e) < 0)
            goto done;
        if (p->conflicts > 0) {
            mno_err(e, MNO_E_CONFLICT, NULL, 0, s->ns, "%lld key%s of the archive %s already "
                    "in the target table: %s", p->conflicts, p->conflicts == 1 ? "" : "s",
                    p->conflicts == 1 ? "is" : "are", p->keys);
            goto done;
        }
    }
    rc = 0;
done:
    mno_pg_restore_abort(en);
    return rc;
}

/* ---- -j N ---- */

int mno_pg_restore_related(mno_engine *en, const char *const *ns, size_t n, size_t **pairs, size_t *npairs,
                           mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    PGconn *c = pg->conn;
    json_t *names = json_array();
    char *arg = NULL;
    PGresult *r = NULL;
    int rc = -1;
    *pairs = NULL;
    *npairs = 0;
    if (!names)
        return nomem(e, NULL);
    for (size_t i = 0; i < n; i++) {
        /* a malformed or unqualified ns (its section is refused when it begins): no table */
        char *q = mno_pg_quote_ns(c, ns[i]);
        if (json_array_append_new(names, q ? json_string(q) : json_null()) < 0) {
            free(q);
            nomem(e, NULL);
            goto done;
        }
        free(q);
    }
    arg = json_dumps(names, JSON_COMPACT);
    if (!arg) {
        nomem(e, NULL);
        goto done;
    }
    /* the target's foreign keys between two of the archive's tables (either way round) */
    const char *params[1] = {arg};
    r = query(c, "WITH t AS (SELECT u.i, to_regclass(u.q)::oid AS oid FROM json_array_elements_text($1::json) "
                 "WITH ORDINALITY u(q, i)) "
                 "SELECT DISTINCT a.i - 1, b.i - 1 FROM pg_constraint co JOIN t a ON a.oid = co.conrelid "
                 "JOIN t b ON b.oid = co.confrelid WHERE co.contype = 'f' AND a.i <> b.i",
              1, params, NULL, "cannot read the target's foreign keys", e);
    if (!r)
        goto done;
    size_t k = (size_t)PQntuples(r);
    if (k) {
        *pairs = malloc(2 * k * sizeof **pairs);
        if (!*pairs) {
            nomem(e, NULL);
            goto done;
        }
        for (size_t i = 0; i < k; i++) {
            (*pairs)[2 * i] = strtoul(PQgetvalue(r, (int)i, 0), NULL, 10);
            (*pairs)[2 * i + 1] = strtoul(PQgetvalue(r, (int)i, 1), NULL, 10);
        }
        *npairs = k;
    }
    rc = 0;
done:
    PQclear(r);
    free(arg);
    json_decref(names);
    return rc;
}
