/* engine_mongo.c: MongoDB connections (libmongoc), opened once per tool run. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "engine_mongo.h"

static pthread_once_t mongo_once = PTHREAD_ONCE_INIT;
static void mongo_cleanup(void) { mongoc_cleanup(); }
/* libmongoc's own log lines (warnings on dropped connections, heartbeats) would go to
   stderr between the tool's messages: lib/ never prints; errors come back as bson_error_t. */
static void mongo_log_quiet(mongoc_log_level_t level, const char *domain, const char *message, void *arg)
{
    (void)level;
    (void)domain;
    (void)message;
    (void)arg;
}

static void mongo_init(void)
{
    mongoc_log_set_handler(mongo_log_quiet, NULL);
    mongoc_init();
    /* lib/ never prints: libmongoc's own log lines (which may echo a URI) are dropped; its
       errors reach us through bson_error_t */
    mongoc_log_set_handler(NULL, NULL);
    atexit(mongo_cleanup);
}

int mno_mongo_err(mno_error *e, const bson_error_t *be, const char *object, const char *what)
{
    return mno_err(e, MNO_E_SERVER, NULL, 0, object, "%s: %s (code %u)", what,
                   be && be->message[0] ? be->message : "unknown error", be ? be->code : 0);
}

int mno_mongo_is_own_collection(const char *name)
{
    return strncmp(name, MNO_MONGO_OWN_PREFIX, strlen(MNO_MONGO_OWN_PREFIX)) == 0 ||
           strncmp(name, MNO_MONGO_LIVE_PREFIX, strlen(MNO_MONGO_LIVE_PREFIX)) == 0;
}

int mno_mongo_open(mno_engine **out, const char *uri, int role, mno_error *e)
{
    char red[1024];
    bson_error_t be;
    *out = NULL;
    pthread_once(&mongo_once, mongo_init);
    mno_redact_uri(uri ? uri : "", red, sizeof red);
    mno_mongo *m = calloc(1, sizeof *m);
    if (!m)
        return mno_err(e, MNO_E_NOMEM, NULL, 0, NULL, "out of memory");
    m->role = role;
    m->uri_redacted = strdup(red);
    m->uri = mongoc_uri_new_with_error(uri ? uri : "", &be);
    if (!m->uri) {
        char why[sizeof be.message];
        snprintf(why, sizeof why, "%s", be.message);
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "invalid mongodb uri '%s'%s%s", red, *why ? ": " : "", why);
        goto fail;
    }
    const char *db = mongoc_uri_get_database(m->uri);
    if (db)
        m->dbname = strdup(db);
    m->client = mongoc_client_new_from_uri_with_error(m->uri, &be);
    if (!m->client) {
        mno_err(e, MNO_E_USAGE, NULL, 0, NULL, "cannot create a mongodb client for '%s': %s (code %u)",
                red, be.message, be.code);
        goto fail;
    }
    mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(m->client, "mno-migrate");
    /* Fail now, with a clear message, if the server cannot be reached. */
    bson_t ping = BSON_INITIALIZER;
    BSON_APPEND_INT32(&ping, "ping", 1);
    bool ok = mongoc_client_command_simple(m->client, "admin", &ping, NULL, NULL, &be);
    bson_destroy(&ping);
    if (!ok) {
        mno_err(e, MNO_E_SERVER, NULL, 0, NULL, "cannot connect to mongodb at '%s': %s (code %u)",
                red, be.message[0] ? be.message : "unknown error", be.code);
        goto fail;
    }
    *out = (mno_engine *)m;
    return 0;
fail:
    /* libmongoc's reasons echo host names, lowercased, where a password's tail after an
       unescaped '@' ends up ("Failed to resolve 'tail@127.0.0.1'"): every secret cut out */
    mno_redact_error(e, uri);
    mno_mongo_close((mno_engine *)m);
    return -1;
}

void mno_mongo_close(mno_engine *en)
{
    mno_mongo *m = MNO_MONGO(en);
    if (!m)
        return;
    mno_mongo_verify_free(en);
    mno_mongo_dump_free(en);
    mno_mongo_restore_free(en);
    if (m->client)
        mongoc_client_destroy(m->client);
    if (m->uri)
        mongoc_uri_destroy(m->uri);
    free(m->dbname);
    free(m->uri_redacted);
    free(m);
}

int mno_mongo_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int err = pthread_create(th, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}
