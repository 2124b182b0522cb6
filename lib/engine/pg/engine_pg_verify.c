/* engine_pg_verify.c: PostgreSQL verify ops: counts and md5 sums of a table's rows, computed in the server. */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "hex.h"
#include "engine_pg.h"
#include "engine_pg_seq.h"
#include "pgname.h"

/*
 * All hashing runs in one REPEATABLE READ READ ONLY transaction, so every table is seen at
 * the same instant and nothing can be written by mistake. The record text of a row is
 * ROW(c1,...,cn)::text over the archive's columns, in the archive's order; the session
 * settings of mno_pg_session_setup pin the text of every value, as for the dump. The 128-bit
 * sum of the md5 digests is computed in SQL as sums of 64-bit halves (hash_sql), combined
 * with their carries here.
 */

typedef struct pg_verify {
    int in_txn;           /* the snapshot transaction is open */
    char *pending_ns;     /* hash_start sent the query for this section */
    int pending_exists;   /* 0: the table is missing, nothing was sent; 2: it lacks columns */
    char missing[512];    /* the archive's columns the table lacks (exists 2) */
} pg_verify;

static pg_verify *state(mno_pg *pg, mno_error *e)
{
    if (!pg->verify) {
        pg->verify = calloc(1, sizeof(pg_verify));
        if (!pg->verify)
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    return pg->verify;
}

/*
 * What the queries of s read its table's own rows from: the table named by the section's
 * schema and table, resolved in the catalog (never through search_path, as mno-restore does),
 * ONLY its own rows (not its inheritance children's). Malloc'd; NULL with e filled.
 */
static char *table_from(PGconn *c, const mno_section *s, mno_error *e)
{
    mno_pg_rel rel;
    char *from = NULL;
    if (mno_pg_rel_parse(s->ns, s->begin_line, &rel, e) < 0)
        return NULL;
    if (mno_pg_rel_lookup(c, s->ns, s->begin_line, &rel, e) >= 0 && !(from = strdup(rel.from)))
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
    mno_pg_rel_release(&rel);
    return from;
}

void mno_pg_verify_free(mno_pg *pg)
{
    if (!pg || !pg->verify)
        return;
    pg_verify *v = pg->verify;
    free(v->pending_ns);
    free(v);
    pg->verify = NULL;
}

static int begin_snapshot(mno_pg *pg, pg_verify *v, mno_error *e)
{
    if (v->in_txn)
        return 0;
    if (mno_pg_exec(pg->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, e) < 0)
        return -1;
    v->in_txn = 1;
    return 0;
}

/*
 * 1 if the table of s exists with every column of the archive, 2 if it exists but lacks
 * some (their names, quoted, into v->missing: the table cannot be hashed, it differs), 0 if
 * it does not exist, -1 on error.
 */
static int table_exists(mno_pg *pg, pg_verify *v, const mno_section *s, mno_error *e)
{
    const char *ns = s->ns;
    mno_pg_rel rel;
    PGresult *r = NULL;
    if (mno_pg_rel_parse(ns, s->begin_line, &rel, e) < 0)
        return -1;
    int rc = mno_pg_rel_lookup(pg->conn, ns, s->begin_line, &rel, e);
    if (rc <= 0)
        goto done;
    rc = -1;
    const char *params[1] = {rel.oid};
    r = PQexecParams(pg->conn, "SELECT a.attname, 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::oid"
                     " AND a.attnum > 0 AND NOT a.attisdropped UNION ALL SELECT NULL, 0", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, pg->conn, r, ns, "cannot look up the table");
        goto done;
    }
    rc = PQntuples(r) > 0;
    size_t k = 0, nmiss = 0;
    v->missing[0] = '\0';
    for (size_t i = 0; rc && i < s->ncols; i++) {
        int t = 0;
        while (t < PQntuples(r) && strcmp(PQgetvalue(r, t, 0), s->colnames[i]) != 0)
            t++;
        if (t < PQntuples(r))
            continue;
        rc = 2;
        if (nmiss++ < 5 && k + 1 < sizeof v->missing)
            k += (size_t)snprintf(v->missing + k, sizeof v->missing - k, "%s\"%s\"", k ? ", " : "",
                                  s->colnames[i]);
        else if (nmiss == 6 && k + 1 < sizeof v->missing)
            k += (size_t)snprintf(v->missing + k, sizeof v->missing - k, ", ...");
    }
    if (rc == 2 && k + 1 < sizeof v->missing)
        snprintf(v->missing + k, sizeof v->missing - k, " (%zu of the archive's %zu columns)", nmiss, s->ncols);
done:
    PQclear(r);
    mno_pg_rel_release(&rel);
    return rc;
}

/*
 * A table that lacks columns of the archive (table_exists 2): *count its rows (of the
 * begin's "where", if any), no sum, and e->msg naming the columns; returns 0.
 */
static int count_lacking(mno_pg *pg, pg_verify *v, const mno_section *s, uint64_t *count, mno_error *e);

/* Appends "(c1,c2,...)" of the names, quoted. */
static int add_collist(mno_buf *b, PGconn *c, const char *const *names, size_t n)
{
    if (mno_buf_addc(b, '(') < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char *q = PQescapeIdentifier(c, names[i], strlen(names[i]));
        if (!q)
            return -1;
        int rc = mno_buf_addf(b, "%s%s", i ? "," : "", q);
        PQfreemem(q);
        if (rc < 0)
            return -1;
    }
    return mno_buf_addc(b, ')');
}

/* The section's key column names (point into begin); *n 0 when it has none. Caller frees the array. */
static const char **key_names(const mno_section *s, size_t *n)
{
    json_t *key = json_object_get(s->begin, "key");
    *n = json_is_array(key) ? json_array_size(key) : 0;
    const char **names = calloc(*n + 1, sizeof *names);
    if (!names)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        names[i] = json_string_value(json_array_get(key, i));
        if (!names[i]) {
            free(names);
            return NULL;
        }
    }
    return names;
}

/* Appends the WHERE clause of a section: the begin's "where" (a shared target: only the
   tenant's rows), if any. *sep becomes the word that joins a further condition. */
static int add_where(mno_buf *b, const mno_section *s, const char **sep, mno_error *e)
{
    const char *where = json_string_value(json_object_get(s->begin, "where"));
    *sep = " WHERE ";
    if (where && *where) {
        if (mno_buf_addf(b, "%s(%s)", *sep, where) < 0)
            return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        *sep = " AND ";
    }
    return 0;
}

/* Appends "md5(ROW(k1,...,km)::text)": the key hash of verify --diff (engine.h). */
static int add_keyhash(mno_buf *b, PGconn *c, const mno_section *s, mno_error *e)
{
    size_t nk = 0;
    const char **keys = key_names(s, &nk);
    int rc = -1;
    if (!keys)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
    if (nk == 0)
        mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "the section has no key");
    else if (mno_buf_adds(b, "md5(ROW") < 0 || add_collist(b, c, keys, nk) < 0 || mno_buf_adds(b, "::text)") < 0)
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
    else
        rc = 0;
    free(keys);
    return rc;
}

/*
 * The query that counts and sums s's rows (of the begin's where). Each row's digest is computed once,
 * as bit(128), by a set-returning function in the inner select list: such a subquery is not
 * flattened (a plain one would be, and its md5 evaluated once per reference), its ProjectSet
 * is cheaper than a LATERAL function scan per row, and unlike OFFSET 0 (the usual fence) it
 * allows a parallel plan. The 128-bit sum is taken as two sums of signed 64-bit halves
 * (sum(bigint) is exact: numeric) and the number of negative low halves, combined with their
 * carries in read_hash. The aggregate runs in parallel workers where the server allows.
 */
#define SUMS_SQL                                                                               \
    "coalesce(sum(mno_h.mno_d::bit(64)::bigint), 0), "                                        \
    "coalesce(sum((mno_h.mno_d << 64)::bit(64)::bigint), 0), "                                \
    "count(*) FILTER (WHERE get_bit(mno_h.mno_d, 64) = 1)"

static int hash_sql(mno_buf *b, PGconn *c, const mno_section *s, mno_error *e)
{
    char *qns = table_from(c, s, e);
    const char *sep;
    if (!qns)
        return -1;
    int rc = -1;
    if (mno_buf_adds(b, "SELECT count(*), " SUMS_SQL " FROM (SELECT unnest(ARRAY[('x' || md5(ROW") < 0 ||
        add_collist(b, c, s->colnames, s->ncols) < 0 ||
        mno_buf_addf(b, "::text))::bit(128)]) AS mno_d FROM %s", qns) < 0)
        goto nomem;
    if (add_where(b, s, &sep, e) < 0)
        goto done;
    if (mno_buf_adds(b, ") AS mno_h") < 0)
        goto nomem;
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
done:
    free(qns);
    return rc;
}

/* Parses a decimal integer (optionally negative) into *v modulo 2^128. */
static int parse_i128(const char *t, unsigned __int128 *v)
{
    int neg = *t == '-';
    *v = 0;
    if (neg)
        t++;
    if (!*t)
        return -1;
    for (; *t; t++) {
        if (*t < '0' || *t > '9')
            return -1;
        *v = *v * 10 + (unsigned)(*t - '0');
    }
    if (neg)
        *v = -*v;
    return 0;
}

/* Reads count and sum from row t of a result, columns col..col+3 (as hash_sql selects them). */
static int read_sums(PGresult *r, int t, int col, const mno_section *s, uint64_t *count, mno_sum *sum,
                     mno_error *e)
{
    unsigned __int128 n, hi, lo, nneg;
    if (parse_i128(PQgetvalue(r, t, col), &n) < 0 || parse_i128(PQgetvalue(r, t, col + 3), &nneg) < 0)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "bad count from the server");
    if (parse_i128(PQgetvalue(r, t, col + 1), &hi) < 0 || parse_i128(PQgetvalue(r, t, col + 2), &lo) < 0)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "bad sum from the server");
    /* a digest is hi64 * 2^64 + lo64 with both halves unsigned; the server summed them as
       signed: a negative high half differs by 2^128 (nothing, modulo 2^128), a negative low
       half by 2^64 (a carry into the high half) */
    unsigned __int128 total = (hi << 64) + lo + (nneg << 64);
    *count = (uint64_t)n;
    sum->hi = (uint64_t)(total >> 64);
    sum->lo = (uint64_t)total;
    return 0;
}

/* Reads the one-row result of hash_sql into count and sum. */
static int read_hash(PGresult *r, PGconn *c, const mno_section *s, uint64_t *count, mno_sum *sum,
                     mno_error *e)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return mno_pg_err(e, c, r, s->ns, "cannot hash the table");
    if (PQntuples(r) != 1 || PQnfields(r) != 4)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "unexpected hash result");
    return read_sums(r, 0, 0, s, count, sum, e);
}

static int check_cols(const mno_section *s, mno_error *e)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (!s->colnames[i])
            return mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "begin: column %zu has no name", i + 1);
    return 0;
}

int mno_pg_hash_start(mno_engine *en, const mno_section *s, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_verify *v = state(pg, e);
    mno_buf sql = MNO_BUF_INIT;
    int rc = -1;
    if (!v || check_cols(s, e) < 0 || begin_snapshot(pg, v, e) < 0)
        return -1;
    if (v->pending_ns)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "a hash is already pending for %s", v->pending_ns);
    int ex = table_exists(pg, v, s, e);
    if (ex < 0)
        return -1;
    if (ex == 1) {
        if (hash_sql(&sql, pg->conn, s, e) < 0)
            goto done;
        if (!PQsendQueryParams(pg->conn, sql.data, 0, NULL, NULL, NULL, NULL, 0)) {
            mno_pg_err(e, pg->conn, NULL, s->ns, "cannot hash the table");
            goto done;
        }
    }
    v->pending_ns = strdup(s->ns);
    v->pending_exists = ex;
    if (!v->pending_ns) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        goto done;
    }
    rc = 0;
done:
    mno_buf_release(&sql);
    return rc;
}

/* Collects the result of the query hash_start sent. */
static int hash_collect(mno_pg *pg, pg_verify *v, const mno_section *s, uint64_t *count,
                        mno_sum *sum, int *exists, mno_error *e)
{
    int rc = 0, ex = v->pending_exists;
    free(v->pending_ns);
    v->pending_ns = NULL;
    *exists = ex;
    if (ex == 2)
        return count_lacking(pg, v, s, count, e);
    if (!ex)
        return 0;
    PGresult *r, *first = NULL;
    while ((r = PQgetResult(pg->conn)) != NULL) {
        if (!first)
            first = r;
        else
            PQclear(r);
    }
    if (!first)
        rc = mno_pg_err(e, pg->conn, NULL, s->ns, "cannot hash the table");
    else
        rc = read_hash(first, pg->conn, s, count, sum, e);
    PQclear(first);
    return rc;
}

int mno_pg_hash_section(mno_engine *en, const mno_section *s, uint64_t *count, mno_sum *sum,
                        int *exists, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_verify *v = state(pg, e);
    *count = 0;
    sum->hi = sum->lo = 0;
    *exists = 0;
    if (!v)
        return -1;
    if (v->pending_ns) {
        if (strcmp(v->pending_ns, s->ns) != 0)
            return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "the pending hash is for %s", v->pending_ns);
        return hash_collect(pg, v, s, count, sum, exists, e);
    }
    if (check_cols(s, e) < 0 || begin_snapshot(pg, v, e) < 0)
        return -1;
    int ex = table_exists(pg, v, s, e);
    if (ex <= 0)
        return ex;
    *exists = ex;
    if (ex == 2)
        return count_lacking(pg, v, s, count, e);
    mno_buf sql = MNO_BUF_INIT;
    int rc = -1;
    if (hash_sql(&sql, pg->conn, s, e) == 0) {
        PGresult *r = PQexec(pg->conn, sql.data);
        rc = read_hash(r, pg->conn, s, count, sum, e);
        PQclear(r);
    }
    mno_buf_release(&sql);
    return rc;
}

static int count_lacking(mno_pg *pg, pg_verify *v, const mno_section *s, uint64_t *count, mno_error *e)
{
    mno_buf sql = MNO_BUF_INIT;
    const char *sep;
    int rc = -1;
    PGresult *r = NULL;
    char *qns = table_from(pg->conn, s, e);
    if (!qns)
        goto done;
    if (mno_buf_addf(&sql, "SELECT count(*) FROM %s", qns) < 0) {
        mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
        goto done;
    }
    if (add_where(&sql, s, &sep, e) < 0)
        goto done;
    r = PQexec(pg->conn, sql.data);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, pg->conn, r, s->ns, "cannot count the table's rows");
        goto done;
    }
    *count = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    mno_err(e, MNO_E_FORMAT, NULL, 0, NULL, "the target table lacks column%s %s", strchr(v->missing, ',') ? "s" : "",
            v->missing);
    rc = 0;
done:
    PQclear(r);
    free(qns);
    mno_buf_release(&sql);
    return rc;
}

/* Appends the array literal "{p1,p2,...}" of hex prefixes (no quoting needed). */
static int add_hexarray(mno_buf *b, const char *const *p, size_t n, size_t len)
{
    if (mno_buf_addc(b, '{') < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (mno_buf_addf(b, "%s%.*s", i ? "," : "", (int)len, p[i]) < 0)
            return -1;
    return mno_buf_addc(b, '}');
}

/*
 * The rows are filtered by their key hash (computed once more in the select list: only for
 * the rows that pass) and grouped by a longer prefix of it. The row digest is computed once
 * per row by the ProjectSet of the inner select list, as in hash_sql.
 */
int mno_pg_hash_buckets(mno_engine *en, const mno_section *s, const char *const *parents,
                        size_t nparents, size_t plen, size_t clen, mno_bucket_cb cb, void *arg,
                        mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_verify *v = state(pg, e);
    mno_buf sql = MNO_BUF_INIT, arr = MNO_BUF_INIT;
    const char *params[1], *sep;
    int np = 0, rc = -1;
    PGresult *r = NULL;
    char *qns = NULL;
    if (!v || check_cols(s, e) < 0 || begin_snapshot(pg, v, e) < 0)
        return -1;
    if (clen <= plen || clen > 32)
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "bad bucket prefix lengths %zu, %zu", plen, clen);
    if (!(qns = table_from(pg->conn, s, e)))
        goto done;
    if (mno_buf_addf(&sql, "SELECT substr(mno_h.mno_k, 1, %zu), count(*), " SUMS_SQL " FROM (SELECT ", clen) < 0)
        goto nomem;
    if (add_keyhash(&sql, pg->conn, s, e) < 0)
        goto done;
    if (mno_buf_adds(&sql, " AS mno_k, unnest(ARRAY[('x' || md5(ROW") < 0 ||
        add_collist(&sql, pg->conn, s->colnames, s->ncols) < 0 ||
        mno_buf_addf(&sql, "::text))::bit(128)]) AS mno_d FROM %s", qns) < 0)
        goto nomem;
    if (add_where(&sql, s, &sep, e) < 0)
        goto done;
    if (plen > 0) {
        if (mno_buf_addf(&sql, "%ssubstr(", sep) < 0)
            goto nomem;
        if (add_keyhash(&sql, pg->conn, s, e) < 0)
            goto done;
        if (mno_buf_addf(&sql, ", 1, %zu) = ANY ($1::text[])", plen) < 0 || add_hexarray(&arr, parents, nparents, plen) < 0)
            goto nomem;
        params[np++] = arr.data;
    }
    if (mno_buf_adds(&sql, ") AS mno_h GROUP BY 1") < 0)
        goto nomem;
    r = PQexecParams(pg->conn, sql.data, np, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 5) {
        mno_pg_err(e, pg->conn, r, s->ns, "cannot hash the table's key buckets");
        goto done;
    }
    for (int t = 0; t < PQntuples(r); t++) {
        uint64_t count;
        mno_sum sum;
        if (read_sums(r, t, 1, s, &count, &sum, e) < 0 || cb(arg, PQgetvalue(r, t, 0), count, &sum, e) < 0)
            goto done;
    }
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
done:
    PQclear(r);
    free(qns);
    mno_buf_release(&sql);
    mno_buf_release(&arr);
    return rc;
}

static void unhex16(const char *h, unsigned char out[16])
{
    for (int i = 0; i < 16; i++)
        out[i] = (unsigned char)(mno_hexval(h[2 * i]) << 4 | mno_hexval(h[2 * i + 1]));
}

/* Up to 32 distinct prefix lengths (1..32 hex digits): one array parameter each. */
int mno_pg_list_buckets(mno_engine *en, const mno_section *s, const char *const *prefixes,
                        size_t n, mno_row_cb cb, void *arg, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_verify *v = state(pg, e);
    mno_buf sql = MNO_BUF_INIT, arr[32];
    const char *params[32], *sep;
    int np = 0, rc = -1, stop = 0;
    PGresult *r = NULL;
    json_t *key = NULL, *row = NULL;
    size_t nk = 0;
    const char **keys = NULL;
    size_t *kidx = NULL;
    char *qns = NULL;
    for (int i = 0; i < 32; i++)
        mno_buf_init(&arr[i]);
    if (!v || check_cols(s, e) < 0 || begin_snapshot(pg, v, e) < 0)
        return -1;
    keys = key_names(s, &nk);
    kidx = calloc(nk + 1, sizeof *kidx);
    if (!keys || !kidx)
        goto nomem;
    if (!(qns = table_from(pg->conn, s, e)))
        goto done;
    for (size_t k = 0; k < nk; k++) {
        size_t i = 0;
        while (i < s->ncols && strcmp(s->colnames[i], keys[k]) != 0)
            i++;
        if (i == s->ncols) {
            mno_err(e, MNO_E_FORMAT, NULL, 0, s->ns, "key column \"%s\" is not among the columns", keys[k]);
            goto done;
        }
        kidx[k] = i;
    }
    if (mno_buf_adds(&sql, "SELECT ") < 0)
        goto nomem;
    if (add_keyhash(&sql, pg->conn, s, e) < 0)
        goto done;
    if (mno_buf_adds(&sql, ", md5(ROW") < 0 || add_collist(&sql, pg->conn, s->colnames, s->ncols) < 0 ||
        mno_buf_adds(&sql, "::text)") < 0)
        goto nomem;
    for (size_t i = 0; i < s->ncols; i++) {
        char *q = PQescapeIdentifier(pg->conn, s->colnames[i], strlen(s->colnames[i]));
        int x = q ? mno_buf_addf(&sql, ", %s", q) : -1;
        PQfreemem(q);
        if (x < 0)
            goto nomem;
    }
    if (mno_buf_addf(&sql, " FROM %s", qns) < 0)
        goto nomem;
    if (add_where(&sql, s, &sep, e) < 0)
        goto done;
    /* the prefixes of each length as one array: "substr(kh, 1, L) = ANY ($i)" */
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(prefixes[i]);
        if (len < 1 || len > 32) {
            mno_err(e, MNO_E_INTERNAL, NULL, 0, s->ns, "bad bucket prefix \"%s\"", prefixes[i]);
            goto done;
        }
        if (mno_buf_addf(&arr[len - 1], "%s%s", arr[len - 1].len ? "," : "{", prefixes[i]) < 0)
            goto nomem;
    }
    if (mno_buf_addf(&sql, "%s(false", sep) < 0)
        goto nomem;
    for (size_t len = 1; len <= 32; len++) {
        if (!arr[len - 1].len)
            continue;
        if (mno_buf_addc(&arr[len - 1], '}') < 0 || mno_buf_adds(&sql, " OR substr(") < 0)
            goto nomem;
        if (add_keyhash(&sql, pg->conn, s, e) < 0)
            goto done;
        params[np] = arr[len - 1].data;
        np++;
        if (mno_buf_addf(&sql, ", 1, %zu) = ANY ($%d::text[])", len, np) < 0)
            goto nomem;
    }
    if (mno_buf_addc(&sql, ')') < 0)
        goto nomem;
    /* one row at a time: a bucket of a key that repeats (a table without a primary key) may
       hold many rows */
    if (!PQsendQueryParams(pg->conn, sql.data, np, NULL, params, NULL, NULL, 0) || !PQsetSingleRowMode(pg->conn)) {
        mno_pg_err(e, pg->conn, NULL, s->ns, "cannot list rows");
        goto done;
    }
    int failed = 0;
    while ((r = PQgetResult(pg->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
            if (!failed && !stop)
                mno_pg_err(e, pg->conn, r, s->ns, "cannot list rows");
            failed = 1;
        }
        for (int t = 0; !failed && !stop && st == PGRES_SINGLE_TUPLE && t < PQntuples(r); t++) {
            unsigned char kh[16], digest[16];
            unhex16(PQgetvalue(r, t, 0), kh);
            unhex16(PQgetvalue(r, t, 1), digest);
            row = json_object();
            key = json_array();
            if (!row || !key) {
                failed = 1;
                mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
                break;
            }
            for (size_t i = 0; !failed && i < s->ncols; i++) {
                json_t *val = PQgetisnull(r, t, (int)i + 2)
                                  ? json_null()
                                  : json_stringn(PQgetvalue(r, t, (int)i + 2), (size_t)PQgetlength(r, t, (int)i + 2));
                if (!val || json_object_set_new(row, s->colnames[i], val) < 0)
                    failed = 1;
            }
            for (size_t k = 0; !failed && k < nk; k++)
                if (json_array_append(key, json_object_get(row, s->colnames[kidx[k]])) < 0)
                    failed = 1;
            if (failed)
                mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
            int x = failed ? -1 : cb(arg, kh, key, row, digest, e);
            json_decref(key);
            json_decref(row);
            key = row = NULL;
            if (x < 0)
                failed = 1;   /* the rest of the result is read and dropped */
            else if (x > 0)
                stop = 1;
        }
        PQclear(r);
    }
    r = NULL;
    rc = failed ? -1 : 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
done:
    json_decref(key);
    json_decref(row);
    PQclear(r);
    free(qns);
    free(keys);
    free(kidx);
    mno_buf_release(&sql);
    for (int i = 0; i < 32; i++)
        mno_buf_release(&arr[i]);
    return rc;
}

/* Adds the schema of ns to the set (none for a malformed or unqualified ns). */
static int add_schema(json_t *set, const char *ns)
{
    char *schema, *table;
    const char *why;
    int rc = mno_pgns_split(ns, &schema, &table, &why);
    if (rc == -1)
        return 0;
    if (rc == 0 && schema)
        rc = json_object_set_new(set, schema, json_true());
    free(schema);
    free(table);
    return rc;
}

/* 1 when the archive's ns a names the table b (in ns form): equal, or equal once a is
   written in the canonical form (a version-1 archive's bare `public.Users`). */
static int same_ns(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    const char *why;
    char *c = mno_pgns_canon(a, &why);
    int same = c && strcmp(c, b) == 0;
    free(c);
    return same;
}

int mno_pg_list_ns(mno_engine *en, const char *const *ns, size_t n, mno_ns_count **out,
                   size_t *nout, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    pg_verify *v = state(pg, e);
    json_t *set = json_object();
    mno_buf arr = MNO_BUF_INIT;
    PGresult *r = NULL;
    mno_ns_count *a = NULL;
    size_t na = 0;
    int rc = -1;
    *out = NULL;
    *nout = 0;
    if (!v || !set)
        goto nomem;
    if (begin_snapshot(pg, v, e) < 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (add_schema(set, ns[i]) < 0)
            goto nomem;
    const char *schema;
    json_t *val;
    if (mno_buf_addc(&arr, '{') < 0)
        goto nomem;
    json_object_foreach(set, schema, val) {
        if (mno_buf_addf(&arr, "%s", arr.len > 1 ? "," : "") < 0 ||
            mno_buf_add_json_str(&arr, schema, strlen(schema)) < 0)
            goto nomem;
    }
    if (mno_buf_addc(&arr, '}') < 0)
        goto nomem;
    const char *params[1] = {arr.data};
    r = PQexecParams(pg->conn,
                     "SELECT n.nspname, c.relname FROM pg_class c"
                     " JOIN pg_namespace n ON n.oid = c.relnamespace"
                     " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
                     " AND n.nspname = ANY ($1::text[]) ORDER BY 1, 2",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, pg->conn, r, NULL, "cannot list tables");
        goto done;
    }
    a = calloc((size_t)PQntuples(r) + 1, sizeof *a);
    if (!a)
        goto nomem;
    for (int t = 0; t < PQntuples(r); t++) {
        a[na].ns = mno_pgns_join(PQgetvalue(r, t, 0), PQgetvalue(r, t, 1));
        if (!a[na].ns)
            goto nomem;
        const char *name = a[na].ns;
        na++;
        size_t k = 0;
        while (k < n && !same_ns(ns[k], name))
            k++;
        if (k < n) {
            a[na - 1].count = -1;  /* the caller's own: not counted (a full scan) */
            continue;
        }
        char *q = mno_pg_quote_ns(pg->conn, name);
        mno_buf c = MNO_BUF_INIT;
        if (!q || mno_buf_addf(&c, "SELECT count(*) FROM %s", q) < 0) {
            free(q);
            mno_buf_release(&c);
            goto nomem;
        }
        free(q);
        PGresult *rc2 = PQexec(pg->conn, c.data);
        mno_buf_release(&c);
        if (PQresultStatus(rc2) != PGRES_TUPLES_OK) {
            mno_pg_err(e, pg->conn, rc2, name, "cannot count rows");
            PQclear(rc2);
            goto done;
        }
        a[na - 1].count = strtoll(PQgetvalue(rc2, 0, 0), NULL, 10);
        PQclear(rc2);
    }
    *out = a;
    *nout = na;
    a = NULL;
    rc = 0;
    goto done;
nomem:
    mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
done:
    mno_ns_counts_free(a, na);
    PQclear(r);
    json_decref(set);
    mno_buf_release(&arr);
    return rc;
}

int mno_pg_section_problems(mno_engine *en, const mno_section *s, json_t **problems, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    *problems = NULL;
    if (!json_object_get(s->begin, "sequences"))
        return 0;
    char *qtable = mno_pg_quote_ns(pg->conn, s->ns);
    if (!qtable)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, s->ns, "out of memory");
    int rc = mno_pg_seq_verify(pg->conn, qtable, s, problems, e);
    free(qtable);
    return rc;
}
