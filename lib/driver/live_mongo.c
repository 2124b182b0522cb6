/* live_mongo.c: mno-freeze --destroy on a Connec! (MongoDB) database (docs/live.md): the proofs, the final archive, and the deletion by _id from it under a journal that the next run finishes. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "buf.h"
#include "codec.h"
#include "engine.h"
#include "engine_mongo.h"
#include "live_mongo.h"
#include "rules.h"
#include "stream.h"

#define DEFAULT_BATCH 1000
#define JOURNAL_KEY "destroy:"        /* + tenant: the journal document's _id */
#define STATE_DELETING "deleting"
#define STATE_DONE "done"

struct mno_live_mongo {
    mno_live_cfg c;
    mno_engine *en;
    mno_mongo *m;
    mno_rules *rules;
    mno_plan plan;
    int have_plan;
    json_t *secs;             /* the connec report's sections */
    mno_live_table *del;      /* one per collection of the plan */
    size_t ndel;
    long long total;          /* the tenant's documents now */
    /* the journal */
    int resume;               /* an interrupted destroy is finished */
    int done_before;          /* the journal says an earlier destroy finished */
    char *final;              /* the final archive: as given (or the journal's) */
    char *final_abs;          /* its absolute path (the journal's) */
    char *archive_id;         /* its header's id */
    long long jsection, jbatch;   /* resume: batches done (sections before jsection all done) */
    long long deleted_before, deleted;
};

static int nomem(mno_error *e) { return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory"); }

const char *mno_live_mongo_database(const mno_live_mongo *m) { return m->m->dbname; }
int mno_live_mongo_resuming(const mno_live_mongo *m) { return m->resume; }
int mno_live_mongo_pending(const mno_live_mongo *m) { return m->resume || m->total > 0; }
const char *mno_live_mongo_final(const mno_live_mongo *m) { return m->final; }

long long mno_live_mongo_deleted(const mno_live_mongo *m, long long *this_run)
{
    if (this_run)
        *this_run = m->deleted;
    return m->deleted_before + m->deleted;
}

const mno_live_table *mno_live_mongo_tables(const mno_live_mongo *m, size_t *n, long long *total)
{
    *n = m->ndel;
    if (total)
        *total = m->total;
    return m->del;
}

void mno_live_mongo_free(mno_live_mongo *m)
{
    if (!m)
        return;
    if (m->have_plan)
        mno_engine_mongo.plan_free(m->en, &m->plan);
    mno_engine_mongo.close(m->en);
    mno_rules_free(m->rules);
    json_decref(m->secs);
    for (size_t i = 0; i < m->ndel; i++) {
        free(m->del[i].ns);
        free(m->del[i].rule);
        free(m->del[i].stmt);
    }
    free(m->del);
    free(m->final);
    free(m->final_abs);
    free(m->archive_id);
    free(m);
}

/* The collection name of ns "db.coll". */
static const char *coll_of(const char *ns)
{
    const char *dot = strchr(ns, '.');
    return dot ? dot + 1 : ns;
}

/* ---- the journal: one document per tenant in MNO_MONGO_LIVE_JOURNAL ---- */

static mongoc_collection_t *journal_coll(mno_live_mongo *m)
{
    mongoc_collection_t *j = mongoc_client_get_collection(m->m->client, m->m->dbname, MNO_MONGO_LIVE_JOURNAL);
    /* written before the deletes it announces, and durable (the journal of the server) */
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_wmajority(wc, 0);
    mongoc_write_concern_set_journal(wc, true);
    mongoc_collection_set_write_concern(j, wc);
    mongoc_write_concern_destroy(wc);
    return j;
}

static char *journal_id(const char *tenant)
{
    char *s = NULL;
    return asprintf(&s, JOURNAL_KEY "%s", tenant) < 0 ? NULL : s;
}

static const char *doc_utf8(const bson_t *d, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
}

static long long doc_int(const bson_t *d, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, d, key) && BSON_ITER_HOLDS_NUMBER(&it) ? (long long)bson_iter_as_int64(&it) : 0;
}

/* Reads the tenant's journal document: m->resume when a destroy is unfinished (its final
   archive and progress), m->done_before when one finished. */
static int journal_read(mno_live_mongo *m, mno_error *e)
{
    char *id = journal_id(m->c.tenant);
    if (!id)
        return nomem(e);
    mongoc_collection_t *j = journal_coll(m);
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", id);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(j, &filter, NULL, NULL);
    const bson_t *doc;
    bson_error_t be;
    int rc = 0;
    if (mongoc_cursor_next(cur, &doc)) {
        const char *state = doc_utf8(doc, "state"), *path = doc_utf8(doc, "final_archive"),
                   *aid = doc_utf8(doc, "archive_id");
        if (!state || !path || !aid) {
            rc = mno_err(e, MNO_E_FORMAT, NULL, 0, NULL, "the journal '%s.%s' has a bad entry '%s'", m->m->dbname,
                         MNO_MONGO_LIVE_JOURNAL, id);
        } else if (strcmp(state, STATE_DELETING) == 0) {
            m->resume = 1;
            m->jsection = doc_int(doc, "section");
            m->jbatch = doc_int(doc, "batch");
            m->deleted_before = doc_int(doc, "deleted");
            m->c.batch = doc_int(doc, "batch_size");   /* the batches the journal counts */
            if (!(m->final_abs = strdup(path)) || !(m->archive_id = strdup(aid)))
                rc = nomem(e);
        } else {
            m->done_before = 1;
        }
    } else if (mongoc_cursor_error(cur, &be)) {
        rc = mno_mongo_err(e, &be, NULL, "cannot read the destroy journal");
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    mongoc_collection_destroy(j);
    free(id);
    return rc;
}

/* Writes the journal document: update (a $set of doc's fields), or replace when start. */
static int journal_write(mno_live_mongo *m, const bson_t *fields, int start, mno_error *e)
{
    char *id = journal_id(m->c.tenant);
    if (!id)
        return nomem(e);
    mongoc_collection_t *j = journal_coll(m);
    bson_t sel = BSON_INITIALIZER, upd = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    bson_error_t be;
    BSON_APPEND_UTF8(&sel, "_id", id);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    bool ok;
    if (start) {
        ok = mongoc_collection_replace_one(j, &sel, fields, &opts, NULL, &be);
    } else {
        BSON_APPEND_DOCUMENT(&upd, "$set", fields);
        ok = mongoc_collection_update_one(j, &sel, &upd, NULL, NULL, &be);
    }
    int rc = ok ? 0 : mno_mongo_err(e, &be, NULL, "cannot write the destroy journal");
    bson_destroy(&sel);
    bson_destroy(&upd);
    bson_destroy(&opts);
    mongoc_collection_destroy(j);
    free(id);
    return rc;
}

/* ---- open ---- */

/* The MnoHub tenant is frozen: no row of the rules' mnohub set rules is left to change. */
static int hub_frozen(const mno_live_mongo *m, mno_error *e)
{
    mno_live_cfg hc = MNO_LIVE_CFG_INIT;
    mno_live *hl = NULL;
    hc.tool = m->c.tool;
    hc.action = "freeze";
    hc.target = m->c.hub;
    hc.tenant = m->c.tenant;
    hc.rules_path = m->c.rules_path;
    hc.rules_name = m->c.rules_name;
    hc.scope_dir = m->c.scope_dir;
    if (mno_engine_for_uri(m->c.hub) != &mno_engine_pg)
        return mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--hub: not a PostgreSQL (MnoHub) uri");
    if (mno_live_open(&hl, &hc, e) < 0)
        return -1;
    int rc = 0;
    if (strcmp(mno_live_source_kind(hl), "mnohub") != 0) {
        rc = mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "--hub: database '%s' is a %s database, not MnoHub",
                     mno_live_database(hl), mno_live_source_kind(hl));
    } else if (mno_live_total(hl) > 0) {
        mno_buf b = MNO_BUF_INIT;
        size_t n;
        const mno_live_table *t = mno_live_tables(hl, &n);
        for (size_t i = 0; t && i < n; i++)
            if (t[i].rows && mno_buf_addf(&b, "%s%s %lld", b.len ? ", " : "", t[i].ns, t[i].rows) < 0)
                rc = -1;
        rc = rc < 0 ? nomem(e)
                    : mno_err(e, MNO_E_CONFLICT, NULL, 0, NULL,
                              "tenant '%s' is not frozen in MnoHub database '%s' (rows not at the freeze rules' "
                              "values: %s): freeze it first; nothing was changed",
                              m->c.tenant, mno_live_database(hl), b.data ? b.data : "");
        mno_buf_release(&b);
    }
    mno_live_free(hl);
    return rc;
}

/* --orgs-from: the final archive of mno-freeze --destroy of the tenant's MnoHub. */
static int orgs_from_final(const mno_live_mongo *m, mno_error *e)
{
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *rd = NULL;
    mno_in *in = mno_in_open(m->c.orgs_from, e);
    int rc = -1;
    mno_item it;
    if (!in || !(rd = mno_reader_new(in, &ro, e)) || mno_reader_next(rd, &it, e) < 0)
        goto done;
    const json_t *fin = json_object_get(it.obj, "final");
    const char *tool = json_string_value(json_object_get(fin, "tool"));
    const char *action = json_string_value(json_object_get(fin, "action"));
    const char *source = json_string_value(json_object_get(it.obj, "source"));
    const char *tenant = json_string_value(json_object_get(it.obj, "tenant"));
    if (!tool || strcmp(tool, m->c.tool) != 0 || !action || strcmp(action, "destroy") != 0 || !source ||
        strcmp(source, "mnohub") != 0) {
        mno_err(e, MNO_E_USAGE, m->c.orgs_from, 1, NULL,
                "not the final archive of %s --destroy of a MnoHub (the Connec! documents are destroyed only "
                "once the MnoHub tenant is frozen: give --hub HUB_URI, or destroyed: its final archive)",
                m->c.tool);
        goto done;
    }
    if (!tenant || strcmp(tenant, m->c.tenant) != 0) {
        mno_err(e, MNO_E_USAGE, m->c.orgs_from, 1, NULL, "the final archive of tenant '%s', not of '%s'",
                tenant ? tenant : "", m->c.tenant);
        goto done;
    }
    rc = 0;
done:
    mno_reader_free(rd);
    mno_in_close(in);
    /* the whole archive is checked (its sums, the trailer) as the dump's plan reads its uids */
    return rc;
}

/* The delete statements, as --plan shows them. */
static int plan_tables(mno_live_mongo *m, mno_error *e)
{
    if (!(m->del = calloc(m->plan.n ? m->plan.n : 1, sizeof *m->del)))
        return nomem(e);
    for (size_t i = 0; i < m->plan.n; i++) {
        const mno_plan_item *it = &m->plan.items[i];
        mno_live_table *d = &m->del[m->ndel++];
        if (!(d->ns = strdup(it->ns)) || !(d->rule = strdup(it->rule)) ||
            asprintf(&d->stmt, "%s.deleteMany({\"_id\": {\"$in\": [the final archive's _ids]}, \"$and\": [%s]})",
                     coll_of(it->ns), it->query) < 0) {
            d->stmt = NULL;
            return nomem(e);
        }
        d->rows = it->count;
        m->total += it->count;
    }
    return 0;
}

int mno_live_mongo_open(mno_live_mongo **out, const mno_live_cfg *c, mno_error *e)
{
    char rules[4096], scope[4096];
    const char *need[16];
    size_t nneed = 0;
    *out = NULL;
    mno_live_mongo *m = calloc(1, sizeof *m);
    if (!m)
        return nomem(e);
    m->c = *c;
    if (!c->destroy) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                "a Connec! (mongodb) target is only for --destroy: %s freezes the tenant in MnoHub "
                "(give --target HUB_URI)",
                c->tool);
        goto fail;
    }
    if (!c->hub == !c->orgs_from) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                "--destroy on a Connec! database needs the MnoHub: give --hub HUB_URI (the tenant frozen there) "
                "or --orgs-from FINAL_ARCHIVE (of the MnoHub's destroy)");
        goto fail;
    }
    if (c->rules_path)
        snprintf(rules, sizeof rules, "%s", c->rules_path);
    else
        snprintf(rules, sizeof rules, "%s/%s", c->scope_dir ? c->scope_dir : "filters", c->rules_name);
    if (!(m->rules = mno_rules_load(rules, e)))
        goto fail;
    for (size_t k = 0; k < m->rules->n; k++)
        if (m->rules->r[k].verb == MNO_RULE_VERIFIED && nneed < sizeof need / sizeof need[0])
            need[nneed++] = m->rules->r[k].kind;
    if (c->nreports == 0) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                "no --verified report: %s changes the old environment only after its copy is proven "
                "(mno-verify --json reports of the tenant's archives against their restored copies)",
                c->tool);
        goto fail;
    }
    if (mno_live_reports_check(c->reports, c->nreports, c->tenant, need, nneed, "connec", &m->secs, e) < 0)
        goto fail;
    if ((c->hub ? hub_frozen(m, e) : orgs_from_final(m, e)) < 0)
        goto fail;
    if (mno_engine_mongo.open(&m->en, c->target, MNO_ROLE_TARGET, e) < 0)
        goto fail;
    m->m = MNO_MONGO(m->en);
    if (!m->m->dbname || !*m->m->dbname) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "mongodb uri names no database: '%s' (add /DATABASE)",
                m->m->uri_redacted);
        goto fail;
    }
    if (journal_read(m, e) < 0)
        goto fail;
    if (c->scope_path)
        snprintf(scope, sizeof scope, "%s", c->scope_path);
    else
        snprintf(scope, sizeof scope, "%s/connec.scope", c->scope_dir ? c->scope_dir : "filters");
    mno_dump_opts o;
    memset(&o, 0, sizeof o);
    o.tenant = c->tenant;
    o.scope_path = scope;
    o.count = 1;
    o.jobs = 1;
    o.hub_uri = c->hub;
    o.orgs_from = c->orgs_from;
    if (mno_engine_mongo.plan(m->en, &o, &m->plan, e) < 0)
        goto fail;
    m->have_plan = 1;
    if (m->plan.n_unscoped) {
        mno_buf b = MNO_BUF_INIT;
        for (size_t i = 0; i < m->plan.n_unscoped; i++)
            mno_buf_addf(&b, "%s'%s'", i ? ", " : "", m->plan.unscoped[i]);
        mno_err(e, MNO_E_SCOPE, scope, 0, NULL,
                "the scope does not place %s: the tenant's documents there would be left; add %s to the scope "
                "file; nothing was changed",
                b.data ? b.data : "", m->plan.n_unscoped == 1 ? "it" : "them");
        mno_buf_release(&b);
        goto fail;
    }
    if (plan_tables(m, e) < 0)
        goto fail;
    if (m->resume) {
        if (c->final_file) {
            char *abs = realpath(c->final_file, NULL);
            int same = abs && strcmp(abs, m->final_abs) == 0;
            free(abs);
            if (!same) {
                mno_err(e, MNO_E_USAGE, NULL, 0, NULL,
                        "an interrupted destroy of tenant '%s' is to be finished with its own final archive '%s' "
                        "(the journal '%s.%s'), not '%s'",
                        c->tenant, m->final_abs, m->m->dbname, MNO_MONGO_LIVE_JOURNAL, c->final_file);
                goto fail;
            }
        }
        if (!(m->final = strdup(c->final_file ? c->final_file : m->final_abs)))
            goto nomem;
    } else if (m->total > 0 &&
               mno_live_recheck(&mno_engine_mongo, m->en, &m->plan, m->secs, "connec", e) < 0) {
        goto fail;
    }
    *out = m;
    return 0;
nomem:
    nomem(e);
fail:
    mno_live_mongo_free(m);
    return -1;
}

/* ---- destroy ---- */

static int write_final(mno_live_mongo *m, const char *path, mno_error *e)
{
    const char *scope = m->c.scope_path ? m->c.scope_path : "connec.scope";
    const char *slash = strrchr(scope, '/');
    json_t *hdr = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "engine", "mongodb", "source", "connec",
                            "tenant", m->c.tenant, "scope", slash ? slash + 1 : scope, "final", "tool", m->c.tool,
                            "action", "destroy", "database", m->m->dbname);
    return mno_live_write_final(path, hdr, m->c.tool, &mno_engine_mongo, m->en, &m->plan, &m->archive_id, e);
}

/* Reads the header of the final archive: its id must be the journal's. */
static int final_id_check(mno_live_mongo *m, mno_error *e)
{
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    mno_reader *rd = NULL;
    mno_in *in = mno_in_open(m->final, e);
    mno_item it;
    int rc = -1;
    if (!in || !(rd = mno_reader_new(in, &ro, e)) || mno_reader_next(rd, &it, e) < 0)
        goto done;
    const char *id = json_string_value(json_object_get(it.obj, "id"));
    if (!id || strcmp(id, m->archive_id) != 0) {
        mno_err(e, MNO_E_CONFLICT, m->final, 1, NULL,
                "not the final archive the journal '%s.%s' names (archive id %s): the interrupted destroy cannot be "
                "finished from it",
                m->m->dbname, MNO_MONGO_LIVE_JOURNAL, m->archive_id);
        goto done;
    }
    rc = 0;
done:
    mno_reader_free(rd);
    mno_in_close(in);
    return rc;
}

/* {_id: {$in: ids}, $and: [the plan's filter of pi (still of the tenant's organizations)]} into
   sel (initialized). Returns 0, or -1 with e filled. */
static int batch_selector(const mno_plan_item *pi, const bson_t *ids, bson_t *sel, mno_error *e)
{
    bson_t arr, in, filter;
    bson_error_t be;
    bson_init(sel);
    if (!bson_init_from_json(&filter, pi->query, -1, &be))
        return mno_err(e, MNO_E_INTERNAL, NULL, 0, pi->ns, "the plan's filter does not parse: %s", be.message);
    /* _id at the top: a server finds the batch by its _id index (the test server too) */
    bool ok = BSON_APPEND_DOCUMENT_BEGIN(sel, "_id", &in);
    ok = ok && BSON_APPEND_ARRAY(&in, "$in", ids);
    ok = ok && bson_append_document_end(sel, &in);
    ok = ok && BSON_APPEND_ARRAY_BEGIN(sel, "$and", &arr);
    ok = ok && BSON_APPEND_DOCUMENT(&arr, "0", &filter);
    ok = ok && bson_append_array_end(sel, &arr);
    bson_destroy(&filter);
    return ok ? 0 : nomem(e);
}

/* One batch: deletes the tenant's documents of pi's collection whose _id is in ids (*n of them).
   present: when not NULL, first counts those still there (the batch an interrupted run was in). */
static int delete_batch(mno_live_mongo *m, const mno_plan_item *pi, const bson_t *ids, long long *present,
                        long long *n, mno_error *e)
{
    mongoc_collection_t *c = mongoc_client_get_collection(m->m->client, m->m->dbname, coll_of(pi->ns));
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_wmajority(wc, 0);
    mongoc_write_concern_set_journal(wc, true);
    mongoc_collection_set_write_concern(c, wc);
    mongoc_write_concern_destroy(wc);
    bson_t sel, reply;
    bson_error_t be;
    int rc = -1;
    if (batch_selector(pi, ids, &sel, e) < 0)
        goto done;
    if (present && (*present = mongoc_collection_count_documents(c, &sel, NULL, NULL, NULL, &be)) < 0) {
        mno_mongo_err(e, &be, pi->ns, "cannot count the documents of a batch");
        goto done;
    }
    if (!mongoc_collection_delete_many(c, &sel, NULL, &reply, &be)) {
        mno_mongo_err(e, &be, pi->ns, "cannot delete");
        bson_destroy(&reply);
        goto done;
    }
    bson_iter_t it;
    *n = bson_iter_init_find(&it, &reply, "deletedCount") ? bson_iter_as_int64(&it) : 0;
    bson_destroy(&reply);
    rc = 0;
done:
    bson_destroy(&sel);
    mongoc_collection_destroy(c);
    return rc;
}

/* Reads the final archive and deletes its documents, batch by batch, journaling each. */
static int delete_archived(mno_live_mongo *m, mno_error *e)
{
    long batch = m->c.batch > 0 ? m->c.batch : DEFAULT_BATCH;
    mno_reader_opts ro = MNO_READER_OPTS_INIT;
    ro.fast_mongo = 1;
    ro.no_digest = 1;
    mno_reader *rd = NULL;
    mno_in *in = mno_in_open(m->final, e);
    bson_t ids = BSON_INITIALIZER;
    size_t nids = 0;
    long long section = -1, nbatch = 0, run_batches = 0;
    const mno_plan_item *pi = NULL;
    int rc = -1, st;
    mno_item it;
    if (!in || !(rd = mno_reader_new(in, &ro, e)))
        goto done;
    while ((st = mno_reader_next(rd, &it, e)) > 0) {
        if (it.kind == MNO_ITEM_BEGIN) {
            section++;
            nbatch = 0;
            pi = NULL;
            for (size_t i = 0; i < m->plan.n && !pi; i++)
                if (strcmp(m->plan.items[i].ns, it.section->ns) == 0)
                    pi = &m->plan.items[i];
            if (!pi) {
                mno_err(e, MNO_E_SCOPE, m->final, it.lineno, it.section->ns,
                        "a collection of the final archive that the scope does not place now");
                goto done;
            }
            continue;
        }
        if (it.kind != MNO_ITEM_REC && it.kind != MNO_ITEM_END)
            continue;
        if (it.kind == MNO_ITEM_REC) {
            bson_iter_t id;
            char key[24];
            const char *kp;
            if (!it.doc || !bson_iter_init_find(&id, it.doc, "_id")) {
                mno_err(e, MNO_E_FORMAT, m->final, it.lineno, it.section->ns, "a document without _id");
                goto done;
            }
            uint32_t kn = bson_uint32_to_string((uint32_t)nids, &kp, key, sizeof key);
            if (!bson_append_iter(&ids, kp, (int)kn, &id)) {
                nomem(e);
                goto done;
            }
            nids++;
        }
        if (nids == 0 || (it.kind == MNO_ITEM_REC && nids < (size_t)batch))
            continue;
        /* a full batch, or the section's last one */
        if (section > m->jsection || (section == m->jsection && nbatch >= m->jbatch) || !m->resume) {
            /* the batch an interrupted run was in: what it deleted is what is missing now (every
               archived document was there when the destroy began: the re-check) */
            int inflight = m->resume && section == m->jsection && nbatch == m->jbatch;
            long long n = 0, present = 0;
            if (delete_batch(m, pi, &ids, inflight ? &present : NULL, &n, e) < 0)
                goto done;
            if (inflight)
                m->deleted_before += (long long)nids - present;
            m->deleted += n;
            run_batches++;
            if (m->c.kill_after > 0 && run_batches == m->c.kill_after)
                raise(SIGKILL);   /* the crash test's hook (MNO_TEST_DESTROY_KILL) */
            bson_t f = BSON_INITIALIZER;
            BSON_APPEND_INT64(&f, "section", section);
            BSON_APPEND_INT64(&f, "batch", nbatch + 1);
            BSON_APPEND_INT64(&f, "deleted", m->deleted_before + m->deleted);
            int jr = journal_write(m, &f, 0, e);
            bson_destroy(&f);
            if (jr < 0)
                goto done;
        }
        nbatch++;
        bson_reinit(&ids);
        nids = 0;
    }
    if (st < 0)
        goto done;
    rc = 0;
done:
    bson_destroy(&ids);
    mno_reader_free(rd);
    mno_in_close(in);
    return rc;
}

int mno_live_mongo_destroy(mno_live_mongo *m, mno_error *e)
{
    char def[512];
    mno_in *in = NULL;
    int rc = -1;
    mno_check_result cr;
    if (!mno_live_mongo_pending(m))
        return 0;
    if (!m->resume) {
        const char *path = m->c.final_file;
        struct stat sb;
        if (!path) {
            mno_live_undo_name(m->c.tool, m->c.tenant, def, sizeof def);
            strcpy(def + strlen(def) - strlen(".undo.mnoa"), ".final.mnoa");
            path = def;
        }
        if (lstat(path, &sb) == 0)
            return mno_err(e, MNO_E_IO, path, 0, NULL,
                           "the final archive exists: it will not be overwritten (give another --final-archive); "
                           "nothing was changed");
        if (!(m->final = strdup(path)))
            return nomem(e);
        if (write_final(m, path, e) < 0)
            return -1;
    }
    /* read it back: every count and sum and the trailer */
    if (!(in = mno_in_open(m->final, e)) || mno_stream_check(in, 0, &cr, e) < 0)
        goto done;
    mno_in_close(in);
    in = NULL;
    if (m->resume) {
        if (final_id_check(m, e) < 0)
            goto done;
    } else {
        /* what it holds is what was copied (the connec report's sums): else nothing is deleted */
        if (mno_live_archive_matches(m->final, m->secs, "documents", e) < 0) {
            unlink(m->final);
            goto done;
        }
        char hex[33];
        if (!(m->final_abs = realpath(m->final, NULL))) {
            mno_err(e, MNO_E_IO, m->final, 0, NULL, "cannot resolve its path: %s", strerror(errno));
            goto done;
        }
        bson_t j = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&j, "tool", m->c.tool);
        BSON_APPEND_UTF8(&j, "action", "destroy");
        BSON_APPEND_UTF8(&j, "tenant", m->c.tenant);
        BSON_APPEND_UTF8(&j, "state", STATE_DELETING);
        BSON_APPEND_UTF8(&j, "final_archive", m->final_abs);
        BSON_APPEND_UTF8(&j, "archive_id", m->archive_id);
        BSON_APPEND_INT64(&j, "count", (int64_t)cr.count);
        BSON_APPEND_UTF8(&j, "sum", mno_sum_hex(&cr.sum, hex));
        BSON_APPEND_INT64(&j, "batch_size", m->c.batch > 0 ? m->c.batch : DEFAULT_BATCH);
        BSON_APPEND_INT64(&j, "section", 0);
        BSON_APPEND_INT64(&j, "batch", 0);
        BSON_APPEND_INT64(&j, "deleted", 0);
        BSON_APPEND_DATE_TIME(&j, "started", (int64_t)time(NULL) * 1000);
        int jr = journal_write(m, &j, 1, e);
        bson_destroy(&j);
        if (jr < 0)
            goto done;
    }
    if (delete_archived(m, e) < 0)
        goto done;
    bson_t f = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&f, "state", STATE_DONE);
    BSON_APPEND_DATE_TIME(&f, "finished", (int64_t)time(NULL) * 1000);
    int jr = journal_write(m, &f, 0, e);
    bson_destroy(&f);
    if (jr < 0)
        goto done;
    rc = 0;
done:
    mno_in_close(in);
    return rc;
}
