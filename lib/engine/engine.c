/* engine.c: the engines' operation tables and the choice of engine by URI or archive kind. */
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "engine_pg.h"
#include "engine_pg_pgdump.h"
#include "engine_mongo.h"

const mno_engine_ops mno_engine_pg = {
    .name = "postgresql",
    .default_source = "mnohub",
    .open = mno_pg_open,
    .close = mno_pg_close,
    .source_kind = mno_pg_source_kind,
    .plan = mno_pg_plan,
    .dump_section = mno_pg_dump_section,
    .plan_free = mno_pg_plan_free,
    .dump_check = mno_pg_dump_check,
    .dump_schema = mno_pg_dump_schema,
    .restore_schema = mno_pg_restore_schema,
    .restore_begin = mno_pg_restore_begin,
    .restore_rec = mno_pg_restore_rec,
    .restore_commit = mno_pg_restore_commit,
    .restore_abort = mno_pg_restore_abort,
    .restore_probe = mno_pg_restore_probe,
    .journal_get = mno_pg_journal_get,
    .restore_related = mno_pg_restore_related,
    .hash_section = mno_pg_hash_section,
    .hash_start = mno_pg_hash_start,
    .hash_buckets = mno_pg_hash_buckets,
    .list_buckets = mno_pg_list_buckets,
    .list_ns = mno_pg_list_ns,
    .section_problems = mno_pg_section_problems,
};

const mno_engine_ops mno_engine_mongo = {
    .name = "mongodb",
    .default_source = "connec",
    .open = mno_mongo_open,
    .close = mno_mongo_close,
    .plan = mno_mongo_plan,
    .dump_section = mno_mongo_dump_section,
    .plan_free = mno_mongo_plan_free,
    .restore_ns_check = mno_mongo_restore_ns_check,
    .restore_begin = mno_mongo_restore_begin,
    .restore_rec = mno_mongo_restore_rec,
    .restore_commit = mno_mongo_restore_commit,
    .restore_abort = mno_mongo_restore_abort,
    .restore_probe = mno_mongo_restore_probe,
    .journal_get = mno_mongo_journal_get,
    .restore_related = mno_mongo_restore_related,
    .hash_section = mno_mongo_hash_section,
    .hash_start = mno_mongo_hash_start,
    .hash_buckets = mno_mongo_hash_buckets,
    .list_buckets = mno_mongo_list_buckets,
    .list_ns = mno_mongo_list_ns,
};

void mno_ns_counts_free(mno_ns_count *a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        free(a[i].ns);
    free(a);
}

const mno_engine_ops *mno_engine_for_uri(const char *uri)
{
    if (uri && (strncmp(uri, "mongodb://", 10) == 0 || strncmp(uri, "mongodb+srv://", 14) == 0))
        return &mno_engine_mongo;
    return &mno_engine_pg;
}

const mno_engine_ops *mno_engine_for_kind(mno_engine_kind k)
{
    switch (k) {
    case MNO_ENGINE_PG: return &mno_engine_pg;
    case MNO_ENGINE_MONGO: return &mno_engine_mongo;
    default: return NULL;
    }
}

const mno_engine_ops *mno_engine_for_archive(const mno_item *it, const char *input, const char *target,
                                             const char *shown, mno_error *e)
{
    const char *kind = json_string_value(json_object_get(it->obj, "engine"));
    const mno_engine_ops *want = mno_engine_for_kind(mno_engine_kind_parse(kind));
    const mno_engine_ops *ops = mno_engine_for_uri(target);
    if (!want) {
        mno_err(e, MNO_E_FORMAT, input, it->lineno, NULL, "header: unknown engine \"%s\"", kind ? kind : "");
        return NULL;
    }
    if (want != ops) {
        mno_err(e, MNO_E_USAGE, input, it->lineno, NULL, "the archive is a %s archive but the target %s is %s",
                want->name, shown ? shown : "", ops->name);
        return NULL;
    }
    return ops;
}
