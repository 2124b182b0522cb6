/* engine_mongo_orgs.c: the tenant's MnoHub organization uids (Connec!'s channel_id), from a MnoHub archive or a live MnoHub. */
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "engine_mongo.h"
#include "engine_pg.h"

#define ORGS_NS "public.organizations"

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static int strv_push(strv *s, const char *p, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strndup(p, len)))
        return -1;
    s->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mno_mongo_orgs_free(char **uids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(uids[i]);
    free(uids);
}

/* From a MnoHub archive: the uid of every public.organizations record. */
static int orgs_from_archive(const char *path, const char *tenant, strv *out, mno_error *e)
{
    int rc = -1, seen = 0;
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *r = NULL;
    mno_in *in = mno_in_open(path, e);
    if (!in)
        return -1;
    const char *name = mno_in_name(in);
    if (!(r = mno_reader_new(in, &ro, e)))
        goto done;
    for (;;) {
        mno_item it;
        int n = mno_reader_next(r, &it, e);
        if (n < 0)
            goto done;
        if (n == 0)
            break;
        if (it.kind == MNO_ITEM_HEADER) {
            const json_t *h = it.obj;
            const char *engine = json_string_value(json_object_get(h, "engine"));
            const char *t = json_string_value(json_object_get(h, "tenant"));
            if (!engine || strcmp(engine, "postgresql") != 0) {
                mno_err(e, MNO_E_USAGE, name, it.lineno, NULL,
                        "not a mnohub archive: engine is '%s', not 'postgresql'", engine ? engine : "");
                goto done;
            }
            if (!t || strcmp(t, tenant) != 0) {
                char tn[MNO_NAME_MSG_MAX], an[MNO_NAME_MSG_MAX];
                mno_err(e, MNO_E_SCOPE, name, it.lineno, NULL,
                        "archive of tenant %s%s%s, not '%s'", t ? "'" : "",
                        t ? mno_name_msg(t, an, sizeof an) : "null (--all)", t ? "'" : "",
                        mno_name_msg(tenant, tn, sizeof tn));
                goto done;
            }
            continue;
        }
        if (!it.section || strcmp(it.section->ns, ORGS_NS) != 0)
            continue;
        seen = 1;
        if (it.kind == MNO_ITEM_END)
            break;   /* the section's count and sum were checked: the uids are whole */
        if (it.kind != MNO_ITEM_REC)
            continue;
        const json_t *uid = json_object_get(it.v, "uid");
        if (!json_is_string(uid)) {
            mno_err(e, MNO_E_FORMAT, name, it.lineno, ORGS_NS, "record without a uid string");
            goto done;
        }
        if (strv_push(out, json_string_value(uid), json_string_length(uid)) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            goto done;
        }
    }
    if (!seen) {
        mno_err(e, MNO_E_SCOPE, name, 0, NULL, "archive has no %s section", ORGS_NS);
        goto done;
    }
    rc = 0;
done:
    mno_reader_free(r);
    mno_in_close(in);
    return rc;
}

/* From a live MnoHub: the organizations of the tenant, as filters/mnohub.scope relates them
   (organizations.mnoe_tenant_id -> tenants.id, the tenant given by tenants.name or id). */
static int orgs_from_hub(const char *uri, const char *tenant, strv *out, mno_error *e)
{
    /* as filters/mnohub.scope: public.tenants: root name id;
       public.organizations: parent mnoe_tenant_id -> public.tenants.id */
    static const char *const tenant_sql =
        "SELECT id FROM public.tenants WHERE name = $1 OR id::text = $1";
    static const char *const orgs_sql =
        "SELECT o.uid FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id"
        " WHERE (t.name = $1 OR t.id::text = $1) AND o.uid IS NOT NULL ORDER BY o.uid";
    char red[1024];
    int rc = -1;
    PGresult *res = NULL;
    mno_redact_uri(uri, red, sizeof red);
    PGconn *c = mno_pg_connect(uri, red, e);
    if (!c)
        return -1;
    const char *params[1] = {tenant};
    res = PQexecParams(c, tenant_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, res, NULL, "cannot read the tenants of mnohub");
        goto done;
    }
    if (PQntuples(res) == 0) {
        char tn[MNO_NAME_MSG_MAX];
        mno_err(e, MNO_E_SCOPE, NULL, 0, NULL, "tenant '%s' not found in public.tenants of mnohub %s",
                mno_name_msg(tenant, tn, sizeof tn), red);
        goto done;
    }
    PQclear(res);
    res = PQexecParams(c, orgs_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        mno_pg_err(e, c, res, NULL, "cannot read the organizations of mnohub");
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++)
        if (strv_push(out, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0)) < 0) {
            mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
            goto done;
        }
    rc = 0;
done:
    PQclear(res);
    PQfinish(c);
    return rc;
}

int mno_mongo_tenant_orgs(const mno_dump_opts *o, char ***uids, size_t *n, mno_error *e)
{
    strv s = {NULL, 0, 0};
    int rc;
    *uids = NULL;
    *n = 0;
    if (!o->tenant)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "no tenant: give --tenant NAME or --all");
    if (o->orgs_from && o->hub_uri)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--orgs-from and --hub exclude each other");
    if (o->orgs_from)
        rc = orgs_from_archive(o->orgs_from, o->tenant, &s, e);
    else if (o->hub_uri)
        rc = orgs_from_hub(o->hub_uri, o->tenant, &s, e);
    else
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                       "a mongodb dump of tenant '%s' needs its organization uids: give "
                       "--orgs-from MNOHUB_ARCHIVE or --hub MNOHUB_URI", o->tenant);
    if (rc < 0) {
        mno_mongo_orgs_free(s.v, s.n);
        return -1;
    }
    if (s.n)
        qsort(s.v, s.n, sizeof *s.v, cmp_str);
    *uids = s.v;
    *n = s.n;
    return 0;
}
