/* engine_pg_pgdump.c: the source's schema as pg_dump writes it (pre-data, post-data), carried in the archive's header ("pg_schema", docs/format.md) and run by mno-restore --create on an empty target (docs/restore.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "buf.h"
#include "engine_pg.h"
#include "engine_pg_pgdump.h"
#include "engine_pg_schema.h"
#include "pgname.h"

extern char **environ;

#define PRE_NS "(pg_dump pre-data)"    /* the journal's rows of the schema's two parts */
#define POST_NS "(pg_dump post-data)"
#define ZERO_SUM "00000000000000000000000000000000"

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

/* ---- running pg_dump ---- */

/* A temporary file in $TMPDIR (else /tmp), mode 0600; its path in path. Returns the fd or -1. */
static int temp_fd(char *path, size_t n, const char *stem, mno_error *e)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, n, "%s/%s.XXXXXX", dir && *dir ? dir : "/tmp", stem);
    int fd = mkstemp(path);
    if (fd < 0)
        mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot create a temporary file in %s: %s",
                dir && *dir ? dir : "/tmp", strerror(errno));
    return fd;
}

/* Reads fd whole from its start into a malloc'd NUL-terminated string (*len its length). */
static char *slurp(int fd, size_t *len)
{
    mno_buf b = MNO_BUF_INIT;
    char chunk[65536];
    ssize_t n;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return NULL;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        if (mno_buf_add(&b, chunk, (size_t)n) < 0) {
            mno_buf_release(&b);
            return NULL;
        }
    if (n < 0 || mno_buf_addc(&b, '\0') < 0) {
        mno_buf_release(&b);
        return NULL;
    }
    *len = b.len - 1;
    return b.data;
}

/* The pg_dump to run: $MNO_PG_DUMP, else pg_dump from PATH. */
static const char *pg_dump_path(void)
{
    const char *p = getenv("MNO_PG_DUMP");
    return p && *p ? p : "pg_dump";
}

/* Appends "NAME=value" to the environment vector env (n entries). Returns 0 or -1. */
static int env_add(char ***env, size_t *n, const char *name, const char *val)
{
    char *s = NULL, **ne = realloc(*env, (*n + 2) * sizeof *ne);
    if (!ne)
        return -1;
    *env = ne;
    if (asprintf(&s, "%s=%s", name, val) < 0)
        return -1;
    (*env)[(*n)++] = s;
    (*env)[*n] = NULL;
    return 0;
}

/*
 * Runs pg_dump with args (args[0] is the program) on the database c is connected to. The
 * connection is given to it the way libpq reads it from the environment, never on its
 * command line (which others see in ps): every option of c's connection that has an
 * environment variable (PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE, ...) is set from
 * PQconninfo, the caller's own PG* variables are dropped, and a password is written to a
 * temporary passfile (mode 0600, removed after) named by PGPASSFILE. Returns pg_dump's
 * standard output (malloc'd; *len its length), or NULL with e filled: pg_dump's exit status
 * and the first line of its standard error.
 */
static char *run_pg_dump(PGconn *c, char *const *args, size_t *len, mno_error *e)
{
    char *out = NULL, passfile[4096] = "", opath[4096], epath[4096];
    char **env = NULL;
    size_t nenv = 0;
    int ofd = -1, efd = -1, status = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    int fa_init = 0;
    PQconninfoOption *opts = c ? PQconninfo(c) : NULL;
    const char *password = NULL;

    if (c && !opts) {
        nomem(e);
        goto done;
    }
    if (!(env = calloc(1, sizeof *env))) {
        nomem(e);
        goto done;
    }
    for (char **v = environ; *v; v++) {
        if (strncmp(*v, "PG", 2) == 0)
            continue;   /* the connection's own settings below, nothing else of libpq's */
        char *d = strdup(*v), **ne = realloc(env, (nenv + 2) * sizeof *ne);
        if (!d || !ne) {
            free(d);
            if (ne)
                env = ne;
            nomem(e);
            goto done;
        }
        env = ne;
        env[nenv++] = d;
        env[nenv] = NULL;
    }
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            password = o->val;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->envvar || !o->val || !*o->val || strcmp(o->keyword, "password") == 0 ||
            (password && strcmp(o->keyword, "passfile") == 0))
            continue;
        if (env_add(&env, &nenv, o->envvar, o->val) < 0) {
            nomem(e);
            goto done;
        }
    }
    if (password) {
        int pfd = temp_fd(passfile, sizeof passfile, "mno-pgpass", e);
        if (pfd < 0) {
            passfile[0] = '\0';
            goto done;
        }
        mno_buf pb = MNO_BUF_INIT;   /* *:*:*:*:password, with \ and : escaped */
        int ok = mno_buf_adds(&pb, "*:*:*:*:") == 0;
        for (const char *p = password; ok && *p; p++)
            ok = ((*p == '\\' || *p == ':') ? mno_buf_addc(&pb, '\\') == 0 : 1) && mno_buf_addc(&pb, *p) == 0;
        ok = ok && mno_buf_addc(&pb, '\n') == 0 && write(pfd, pb.data, pb.len) == (ssize_t)pb.len;
        mno_buf_release(&pb);
        close(pfd);
        if (!ok || env_add(&env, &nenv, "PGPASSFILE", passfile) < 0) {
            mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot write a temporary password file");
            goto done;
        }
    }
    if ((ofd = temp_fd(opath, sizeof opath, "mno-pgdump", e)) < 0)
        goto done;
    unlink(opath);
    if ((efd = temp_fd(epath, sizeof epath, "mno-pgdump", e)) < 0)
        goto done;
    unlink(epath);
    if (posix_spawn_file_actions_init(&fa) != 0) {
        nomem(e);
        goto done;
    }
    fa_init = 1;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, ofd, 1) != 0 || posix_spawn_file_actions_adddup2(&fa, efd, 2) != 0) {
        nomem(e);
        goto done;
    }
    int rc = posix_spawnp(&pid, args[0], &fa, NULL, args, env);
    if (rc != 0) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--with-schema: cannot run %s: %s (install PostgreSQL's client tools, "
                "or name the pg_dump to run in MNO_PG_DUMP)", args[0], strerror(rc));
        goto done;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        size_t elen = 0;
        char *err = slurp(efd, &elen), *nl;
        const char *msg = err ? err : "";
        if (strncmp(msg, "pg_dump: error: ", 16) == 0)
            msg += 16;
        if (err && (nl = strchr(err, '\n')))
            *nl = '\0';
        if (WIFEXITED(status))
            mno_err(e, MNO_E_SERVER, NULL, 0, NULL, "--with-schema: %s failed (exit status %d): %s", args[0], WEXITSTATUS(status), msg);
        else
            mno_err(e, MNO_E_SERVER, NULL, 0, NULL, "--with-schema: %s failed (signal %d): %s", args[0],
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg);
        free(err);
        goto done;
    }
    if (!(out = slurp(ofd, len)))
        mno_err(e, MNO_E_IO, NULL, 0, NULL, "cannot read pg_dump's output: %s", strerror(errno));
done:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (ofd >= 0)
        close(ofd);
    if (efd >= 0)
        close(efd);
    if (passfile[0])
        unlink(passfile);
    for (size_t i = 0; env && i < nenv; i++)
        free(env[i]);
    free(env);
    PQconninfoFree(opts);
    return out;
}

/* The major version in pg_dump's "pg_dump (PostgreSQL) 15.18 (Debian ...)" as the server
   numbers it (150000; 9.6 -> 90600), the version text in ver. Returns 0 or -1. */
static int parse_version(const char *text, int *num, char *ver, size_t n)
{
    const char *p = strstr(text, ") ");
    int a = 0, b = 0;
    if (!p || sscanf(p + 2, "%d.%d", &a, &b) < 1 || a <= 0)
        return -1;
    *num = a >= 10 ? a * 10000 : a * 10000 + b * 100;
    size_t k = strcspn(p + 2, " \n");
    snprintf(ver, n, "%.*s", (int)(k < 40 ? k : 40), p + 2);
    return 0;
}

/*
 * pg_dump's script made fit to be run by libpq in one transaction, as pg_restore would run
 * it: psql's \restrict and \unrestrict lines (pg_dump 17.6, 16.10, 15.14 and later write
 * them around a plain script) are dropped; a schema's CREATE SCHEMA becomes CREATE SCHEMA IF
 * NOT EXISTS (-n public writes CREATE SCHEMA public, which every database has); the comment
 * on schema public is dropped (only its owner may set it). Entries are found by the header
 * pg_dump writes before each ("-- Name: N; Type: T; Schema: S; Owner: O"). Caller frees.
 */
static char *clean_script(const char *s, size_t len)
{
    mno_buf b = MNO_BUF_INIT;
    char type[64] = "", name[256] = "";
    int skip = 0;
    const char *end = s + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
        if (n >= 9 && strncmp(s, "-- Name: ", 9) == 0) {
            const char *t = memmem(s, n, "; Type: ", 8);
            if (t) {
                const char *te = memchr(t + 8, ';', n - (size_t)(t + 8 - s));
                snprintf(name, sizeof name, "%.*s", (int)(t - s - 9), s + 9);
                snprintf(type, sizeof type, "%.*s", te ? (int)(te - t - 8) : 0, t + 8);
            }
            skip = strcmp(type, "COMMENT") == 0 && strcmp(name, "SCHEMA public") == 0;
        } else if (n >= 2 && strncmp(s, "--", 2) == 0 && (n == 2 || s[2] == '\n')) {
            /* the line before a header: the entry before it ended */
        } else if ((n >= 10 && strncmp(s, "\\restrict ", 10) == 0) || (n >= 12 && strncmp(s, "\\unrestrict ", 12) == 0)) {
            s += n;
            continue;
        } else if (skip) {
            s += n;
            continue;
        } else if (strcmp(type, "SCHEMA") == 0 && n > 14 && strncmp(s, "CREATE SCHEMA ", 14) == 0 &&
                   !memmem(s, n, "IF NOT EXISTS", 13)) {
            if (mno_buf_adds(&b, "CREATE SCHEMA IF NOT EXISTS ") < 0 || mno_buf_add(&b, s + 14, n - 14) < 0)
                goto nomem;
            s += n;
            continue;
        }
        if (mno_buf_add(&b, s, n) < 0)
            goto nomem;
        s += n;
    }
    if (mno_buf_addc(&b, '\0') < 0)
        goto nomem;
    return b.data;
nomem:
    mno_buf_release(&b);
    return NULL;
}

/* The schemas pg_dump is run on: those of the tables, of their columns' types (and array
   elements), of the sequences and functions their defaults call, of their inheritance
   parents and of their partitions. */
static const char *const q_schemas =
    "SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid IN ("
    " SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[])"
    " UNION SELECT t.typnamespace FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    "   WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped"
    " UNION SELECT et.typnamespace FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    "   JOIN pg_catalog.pg_type et ON et.oid = t.typelem"
    "   WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped"
    " UNION SELECT CASE WHEN d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass THEN"
    "     (SELECT s.relnamespace FROM pg_catalog.pg_class s WHERE s.oid = d.refobjid)"
    "   ELSE (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = d.refobjid) END"
    "   FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
    "   AND d.objid = ad.oid AND d.refclassid IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass)"
    "   WHERE ad.adrelid = ANY($1::oid[])"
    " UNION SELECT pc.relnamespace FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent"
    "   WHERE i.inhrelid = ANY($1::oid[])"
    " UNION SELECT c.relnamespace FROM pg_catalog.pg_class p, pg_catalog.pg_partition_tree(p.oid) pt"
    "   JOIN pg_catalog.pg_class c ON c.oid = pt.relid WHERE p.oid = ANY($1::oid[]) AND p.relkind = 'p')"
    " AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'mno_migrate'"
    " ORDER BY 1";

/*
 * The relations of those schemas ($2, a JSON array of names) pg_dump leaves out: the tables
 * that are not dumped ($1: the dumped ones), unless another object needs them (a foreign key
 * of another table, a view, an inheritance child: a dependency of kind 'n' from an object
 * that is not the table's own), with the partitions of a partitioned one and the sequences
 * they own. The target environment has its own (Rails' schema_migrations).
 */
static const char *const q_excluded =
    "WITH x AS (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname IN (SELECT pg_catalog.json_array_elements_text($2::json)) AND c.relkind IN ('r', 'p', 'f')"
    " AND NOT c.relispartition AND c.oid <> ALL ($1::oid[])"
    " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "  AND d.refobjid = c.oid AND d.deptype = 'n'"
    "  AND NOT (d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass"
    "   AND (SELECT co.conrelid FROM pg_catalog.pg_constraint co WHERE co.oid = d.objid) = c.oid)"
    "  AND NOT (d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
    "   AND (SELECT ad.adrelid FROM pg_catalog.pg_attrdef ad WHERE ad.oid = d.objid) = c.oid)"
    "  AND NOT (d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
    "   AND (SELECT rw.ev_class FROM pg_catalog.pg_rewrite rw WHERE rw.oid = d.objid) = c.oid))),"
    " r AS (SELECT oid FROM x"
    "  UNION SELECT pt.relid FROM x JOIN pg_catalog.pg_class p ON p.oid = x.oid AND p.relkind = 'p',"
    "   pg_catalog.pg_partition_tree(x.oid) pt)"
    " SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid IN (SELECT oid FROM r UNION SELECT d.objid FROM pg_catalog.pg_depend d JOIN r ON d.refobjid = r.oid"
    "  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    "  AND d.deptype IN ('a', 'i') AND (SELECT s.relkind FROM pg_catalog.pg_class s WHERE s.oid = d.objid) = 'S')"
    " ORDER BY 1, 2";

int mno_pg_pgdump_schema(PGconn *c, const unsigned *oids, char *const *ns, size_t n, json_t **out, mno_error *e)
{
    int rc = -1, vnum = 0;
    char ver[64], *vout = NULL, *pre = NULL, *post = NULL, *snap = NULL, *cpre = NULL, *cpost = NULL;
    char **args = NULL;
    size_t nargs = 0, len = 0, sec_at = 0;
    static char dash_n[] = "-n", dash_T[] = "-T";
    mno_buf arr = MNO_BUF_INIT;
    PGresult *r = NULL;
    json_t *o = NULL, *tabs = NULL, *schemas = NULL;
    *out = NULL;

    /* a pg_dump older than the server cannot read its catalog: said plainly, before it runs */
    char *vargs[] = {(char *)pg_dump_path(), "--version", NULL};
    if (!(vout = run_pg_dump(NULL, vargs, &len, e)))
        goto done;
    if (parse_version(vout, &vnum, ver, sizeof ver) < 0) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--with-schema: %s --version did not print a version", vargs[0]);
        goto done;
    }
    int snum = PQserverVersion(c);
    int smajor = snum >= 100000 ? snum / 10000 * 10000 : snum / 100 * 100;
    if (vnum < smajor) {
        const char *sv = PQparameterStatus(c, "server_version");
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--with-schema: pg_dump %s is older than the server (PostgreSQL %s): "
                "give a pg_dump of version %d or later in MNO_PG_DUMP", ver, sv ? sv : "?",
                smajor >= 100000 ? smajor / 10000 : smajor / 10000);
        goto done;
    }

    /* the schemas, read in the dump's snapshot */
    int ok = mno_buf_addc(&arr, '{') == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = mno_buf_addf(&arr, "%s%u", i ? "," : "", oids[i]) == 0;
    if (!ok || mno_buf_adds(&arr, "}") < 0) {
        nomem(e);
        goto done;
    }
    const char *params[1] = {arr.data};
    r = PQexecParams(c, q_schemas, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, r, NULL, "--with-schema: cannot read the catalog");
        goto done;
    }
    /* the snapshot of the dump's transaction, so that the schema is the rows' */
    PGresult *sr = PQexec(c, "SELECT pg_catalog.pg_export_snapshot()");
    if (PQresultStatus(sr) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, sr, NULL, "--with-schema: cannot export the snapshot for pg_dump");
        PQclear(sr);
        goto done;
    }
    int sok = asprintf(&snap, "--snapshot=%s", PQgetvalue(sr, 0, 0)) >= 0;
    PQclear(sr);
    if (!sok) {
        snap = NULL;
        nomem(e);
        goto done;
    }
    static const char *const fixed[] = {"--schema-only", "--no-owner", "--no-privileges", "--no-tablespaces",
                                        "--no-security-labels", "--no-publications", "--no-subscriptions",
                                        "--strict-names", NULL};
    size_t ns_n = (size_t)PQntuples(r);
    args = calloc(ns_n * 2 + 16, sizeof *args);
    schemas = json_array();
    tabs = json_array();
    if (!args || !schemas || !tabs) {
        nomem(e);
        goto done;
    }
    args[nargs++] = (char *)pg_dump_path();
    for (size_t i = 0; fixed[i]; i++)
        args[nargs++] = (char *)fixed[i];
    args[nargs++] = snap;
    sec_at = nargs++;   /* --section=... */
    for (size_t i = 0; i < ns_n; i++) {
        /* a pattern in double quotes is the name as it is ("my.schema", "A*" literally) */
        char *q = mno_pg_ident(PQgetvalue(r, (int)i, 0));
        if (!q || json_array_append_new(schemas, json_string(PQgetvalue(r, (int)i, 0))) < 0) {
            free(q);
            nomem(e);
            goto done;
        }
        args[nargs++] = dash_n;
        args[nargs++] = q;
    }
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(tabs, json_string(ns[i])) < 0) {
            nomem(e);
            goto done;
        }
    /* the tables of those schemas that are not dumped (and nothing needs) are left out */
    char *sj = json_dumps(schemas, JSON_COMPACT);
    const char *xparams[2] = {arr.data, sj};
    PGresult *xr = sj ? PQexecParams(c, q_excluded, 2, NULL, xparams, NULL, NULL, 0) : NULL;
    free(sj);
    if (PQresultStatus(xr) != PGRES_TUPLES_OK) {
        if (xr)
            mno_pg_err(e, c, xr, NULL, "--with-schema: cannot read the catalog");
        else
            nomem(e);
        PQclear(xr);
        goto done;
    }
    char **na = realloc(args, (nargs + 2 * (size_t)PQntuples(xr) + 2) * sizeof *na);
    if (!na) {
        PQclear(xr);
        nomem(e);
        goto done;
    }
    args = na;
    for (int i = 0; i < PQntuples(xr); i++) {
        char *qs = mno_pg_ident(PQgetvalue(xr, i, 0)), *qt = mno_pg_ident(PQgetvalue(xr, i, 1)), *pat = NULL;
        if (!qs || !qt || asprintf(&pat, "%s.%s", qs, qt) < 0)
            pat = NULL;
        free(qs);
        free(qt);
        if (!pat) {
            PQclear(xr);
            nomem(e);
            goto done;
        }
        args[nargs++] = dash_T;
        args[nargs++] = pat;
    }
    args[nargs] = NULL;
    PQclear(xr);
    args[sec_at] = "--section=pre-data";
    if (!(pre = run_pg_dump(c, args, &len, e)) || !(cpre = clean_script(pre, len))) {
        if (pre)
            nomem(e);
        goto done;
    }
    args[sec_at] = "--section=post-data";
    if (!(post = run_pg_dump(c, args, &len, e)) || !(cpost = clean_script(post, len))) {
        if (post)
            nomem(e);
        goto done;
    }
    char tool[96];
    snprintf(tool, sizeof tool, "pg_dump %s", ver);
    o = json_pack("{s:s,s:O,s:O,s:s,s:s}", "tool", tool, "schemas", schemas, "tables", tabs,
                  "pre_data", cpre, "post_data", cpost);
    if (!o) {
        nomem(e);
        goto done;
    }
    *out = o;
    rc = 0;
done:
    for (size_t i = 1; args && i < nargs; i++)
        if (args[i - 1] == dash_n || args[i - 1] == dash_T)
            free(args[i]);
    free(args);
    PQclear(r);
    mno_buf_release(&arr);
    free(vout);
    free(pre);
    free(post);
    free(cpre);
    free(cpost);
    free(snap);
    json_decref(schemas);
    json_decref(tabs);
    return rc;
}

/* ---- running it on the target ---- */

/* Whether the journal holds ns for archive_id: 1, 0, or -1 with e filled. */
static int journaled(PGconn *c, const char *archive_id, const char *ns, mno_error *e)
{
    PGresult *r = PQexec(c, "SELECT pg_catalog.to_regclass('mno_migrate.journal') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, r, NULL, "cannot read the restore journal");
        PQclear(r);
        return -1;
    }
    int have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!have)
        return 0;
    const char *params[2] = {archive_id, ns};
    r = PQexecParams(c, "SELECT 1 FROM mno_migrate.journal WHERE archive_id = $1 AND ns = $2", 2, NULL, params,
                     NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, r, NULL, "cannot read the restore journal");
        PQclear(r);
        return -1;
    }
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* The line of sql holding byte offset pos (1-based; PG_DIAG_STATEMENT_POSITION counts
   characters from 1: bytes here, close enough for a line number in an ASCII-mostly script). */
static long line_at(const char *sql, long pos)
{
    long line = 1;
    for (long i = 0; sql[i] && i < pos - 1; i++)
        if (sql[i] == '\n')
            line++;
    return line;
}

/* Runs one part of the schema (what: "pre-data" / "post-data") and its journal row in one
   transaction, then restores the session's settings (pg_dump's script sets search_path and
   others). Returns 0 or -1 with e filled (rolled back). */
static int run_part(mno_pg *pg, const char *archive_id, const char *sql, const char *jns, const char *what,
                    mno_error *e)
{
    PGconn *c = pg->conn;
    if (mno_pg_exec(c, "BEGIN", NULL, e) < 0)
        return -1;
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK && t != PGRES_EMPTY_QUERY) {
        const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
        const char *prim = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *det = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        /* the statement's position is within the whole script for a syntax error only; else
           name the statement by the server's context */
        if (prim && pos)
            mno_err(e, MNO_E_SERVER, NULL, 0, NULL, "--create: the archive's schema (pg_dump %s) failed in the target "
                    "at its line %ld: %s%s%s%s", what, line_at(sql, atol(pos)), prim, det ? " (" : "", det ? det : "", det ? ")" : "");
        else if (prim)
            mno_err(e, MNO_E_SERVER, NULL, 0, NULL, "--create: the archive's schema (pg_dump %s) failed in the target: %s%s%s%s",
                    what, prim, det ? " (" : "", det ? det : "", det ? ")" : "");
        else
            mno_pg_err(e, c, r, NULL, "--create: the archive's schema failed in the target");
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    if (mno_pg_session_setup(c, e) < 0 || mno_pg_journal_ensure(c, 0, NULL, e) < 0)
        goto fail;
    const char *params[4] = {archive_id, jns, "0", ZERO_SUM};
    r = PQexecParams(c, "INSERT INTO mno_migrate.journal (archive_id, ns, count, sum) VALUES ($1, $2, $3, $4)",
                     4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        mno_pg_err(e, c, r, NULL, "cannot write the restore journal");
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    if (mno_pg_exec(c, "COMMIT", NULL, e) < 0)
        goto fail;
    return 0;
fail:
    PQclear(PQexec(c, "ROLLBACK"));
    mno_error ignored;
    mno_pg_session_setup(c, &ignored);   /* SETs of the script are undone by the rollback too */
    return -1;
}

int mno_pg_restore_schema(mno_engine *en, const mno_restore_opts *o, const json_t *schema, int phase,
                          char **note, mno_error *e)
{
    mno_pg *pg = MNO_PG(en);
    const json_t *tabs = json_object_get(schema, "tables");
    const char *pre = json_string_value(json_object_get(schema, "pre_data"));
    const char *post = json_string_value(json_object_get(schema, "post_data"));
    size_t n = json_array_size(tabs), there = 0;
    mno_buf names = MNO_BUF_INIT;
    int rc = -1;
    *note = NULL;
    if (!json_is_object(schema) || !json_is_array(tabs) || !pre || !post)
        return mno_err(e, MNO_E_FORMAT, NULL, 1, NULL, "header: \"pg_schema\" is not an object with \"tables\" "
                       "(an array), \"pre_data\" and \"post_data\" (strings)");
    if (!o->create || o->dry_run)
        return 0;
    if (phase == 1) {
        int pre_done = journaled(pg->conn, o->archive_id, PRE_NS, e), post_done;
        if (pre_done < 0 || (pre_done && (post_done = journaled(pg->conn, o->archive_id, POST_NS, e)) < 0))
            return -1;
        if (!pre_done || post_done)
            return 0;
        return run_part(pg, o->archive_id, post, POST_NS, "post-data", e);
    }
    int done = journaled(pg->conn, o->archive_id, PRE_NS, e);
    if (done)
        return done < 0 ? -1 : 0;   /* an earlier run made it (--resume) */
    for (size_t i = 0; i < n; i++) {
        const char *ns = json_string_value(json_array_get(tabs, i));
        mno_pg_rel rel;
        if (!ns)
            return mno_err(e, MNO_E_FORMAT, NULL, 1, NULL, "header: \"pg_schema\": table %zu is not a string", i);
        if (mno_pg_rel_parse(ns, 1, &rel, e) < 0)
            goto done;
        int got = mno_pg_rel_lookup(pg->conn, ns, 1, &rel, e);
        mno_pg_rel_release(&rel);
        if (got < 0)
            goto done;
        if (got && there++ < 3 && mno_buf_addf(&names, "%s%s", there > 1 ? ", " : "", ns) < 0) {
            nomem(e);
            goto done;
        }
    }
    if (there == n && n > 0) {   /* a schema made first: nothing to create */
        rc = 0;
        goto done;
    }
    if (!o->run_ddl) {
        if (asprintf(note, "the archive's schema (pg_dump: types, sequences, partitions, constraints, foreign "
                     "keys, indexes) was not run: the archive is not authenticated (MNO_ARCHIVE_KEY, a FILE "
                     "checked first) and --trust-archive was not given") < 0)
            *note = NULL;
        rc = 0;
        goto done;
    }
    if (there > 0) {
        if (asprintf(note, "the archive's schema (pg_dump) was not run: %zu of its %zu tables are already in the "
                     "target (%s%s); the missing ones are created from their sections' ddl", there, n, names.data,
                     there > 3 ? ", ..." : "") < 0)
            *note = NULL;
        rc = 0;
        goto done;
    }
    rc = run_part(pg, o->archive_id, pre, PRE_NS, "pre-data", e);
done:
    mno_buf_release(&names);
    return rc;
}
