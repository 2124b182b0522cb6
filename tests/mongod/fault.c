/* fault.c: fault injection (drop after N documents, drop or fail the Nth command of a name,
   delay every reply), armed by options, environment or the mnoFault command. All state is
   read and changed under md_lock, except the delay (an atomic int). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mongod.h"

static struct {
    /* drop after N documents served by find/getMore */
    bool docs_armed;
    size_t docs_limit, docs_served;
    /* drop the connection on the Nth command named drop_cmd */
    char drop_cmd[64];
    long drop_n, drop_seen;
    bool drop_after; /* run the command, then drop instead of replying */
    /* fail the Nth command named fail_cmd */
    char fail_cmd[64];
    long fail_n, fail_seen;
    int32_t fail_code;
    char fail_msg[256];
} F;
static volatile int delay_ms;

static int parse_long(const char *s, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* "CMD:N[:after]" */
static int parse_drop_on(const char *v)
{
    char buf[128];
    long n;
    if (!v || strlen(v) >= sizeof buf)
        return -1;
    strcpy(buf, v);
    char *c1 = strchr(buf, ':');
    if (!c1)
        return -1;
    *c1 = 0;
    char *c2 = strchr(c1 + 1, ':');
    if (c2)
        *c2 = 0;
    if (!buf[0] || strlen(buf) >= sizeof F.drop_cmd || parse_long(c1 + 1, &n) || n < 1)
        return -1;
    if (c2 && strcmp(c2 + 1, "after") && strcmp(c2 + 1, "before"))
        return -1;
    strcpy(F.drop_cmd, buf);
    F.drop_n = n;
    F.drop_seen = 0;
    F.drop_after = c2 && !strcmp(c2 + 1, "after");
    return 0;
}

/* "CMD:N:CODE[:MESSAGE]" */
static int parse_fail_on(const char *v)
{
    char buf[512];
    long n, code;
    if (!v || strlen(v) >= sizeof buf)
        return -1;
    strcpy(buf, v);
    char *c1 = strchr(buf, ':');
    if (!c1)
        return -1;
    *c1 = 0;
    char *c2 = strchr(c1 + 1, ':');
    if (!c2)
        return -1;
    *c2 = 0;
    char *c3 = strchr(c2 + 1, ':');
    if (c3)
        *c3 = 0;
    if (!buf[0] || strlen(buf) >= sizeof F.fail_cmd || parse_long(c1 + 1, &n) || n < 1 ||
        parse_long(c2 + 1, &code) || code < 1 || code > INT32_MAX)
        return -1;
    strcpy(F.fail_cmd, buf);
    F.fail_n = n;
    F.fail_seen = 0;
    F.fail_code = (int32_t)code;
    snprintf(F.fail_msg, sizeof F.fail_msg, "%s", c3 ? c3 + 1 : "injected fault");
    return 0;
}

int fault_option(const char *name, const char *value)
{
    long n;
    if (!strcmp(name, "drop-after-docs")) {
        if (parse_long(value, &n))
            return -1;
        F.docs_armed = true;
        F.docs_limit = (size_t)n;
        F.docs_served = 0;
        return 0;
    }
    if (!strcmp(name, "drop-on"))
        return parse_drop_on(value);
    if (!strcmp(name, "fail-on"))
        return parse_fail_on(value);
    if (!strcmp(name, "delay-ms")) {
        if (parse_long(value, &n) || n > 600000)
            return -1;
        delay_ms = (int)n;
        return 0;
    }
    return -1;
}

void fault_init_env(void)
{
    static const struct { const char *env, *opt; } m[] = {
        { "MNO_MONGOD_FAULT_DROP_AFTER_DOCS", "drop-after-docs" },
        { "MNO_MONGOD_FAULT_DROP_ON", "drop-on" },
        { "MNO_MONGOD_FAULT_FAIL_ON", "fail-on" },
        { "MNO_MONGOD_FAULT_DELAY_MS", "delay-ms" },
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        const char *v = getenv(m[i].env);
        if (v && *v && fault_option(m[i].opt, v)) {
            fprintf(stderr, "mno-test-mongod: invalid %s '%s'\n", m[i].env, v);
            exit(2);
        }
    }
}

int fault_before(const char *cmd, int32_t *code, bson_string_t *msg)
{
    if (F.drop_n && !strcmp(cmd, F.drop_cmd) && ++F.drop_seen == F.drop_n && !F.drop_after) {
        F.drop_n = 0;
        return 1;
    }
    if (F.fail_n && !strcmp(cmd, F.fail_cmd) && ++F.fail_seen == F.fail_n) {
        F.fail_n = 0;
        *code = F.fail_code;
        bson_string_append(msg, F.fail_msg);
        return 2;
    }
    return 0;
}

int fault_after(const char *cmd)
{
    if (F.drop_n && F.drop_after && !strcmp(cmd, F.drop_cmd) && F.drop_seen == F.drop_n) {
        F.drop_n = 0;
        return 1;
    }
    return 0;
}

size_t fault_docs_allowed(void)
{
    if (!F.docs_armed)
        return SIZE_MAX;
    return F.docs_limit > F.docs_served ? F.docs_limit - F.docs_served : 0;
}

void fault_docs_served(size_t n)
{
    if (F.docs_armed)
        F.docs_served += n;
}

bool fault_docs_drop_now(void)
{
    if (F.docs_armed && F.docs_served >= F.docs_limit) {
        F.docs_armed = false;
        return true;
    }
    return false;
}

int fault_delay_ms(void) { return delay_ms; }

static void state(bson_t *reply)
{
    bson_t s;
    bson_append_document_begin(reply, "faults", -1, &s);
    if (F.docs_armed) {
        BSON_APPEND_INT64(&s, "dropAfterDocs", (int64_t)F.docs_limit);
        BSON_APPEND_INT64(&s, "docsServed", (int64_t)F.docs_served);
    }
    if (F.drop_n) {
        char b[128];
        snprintf(b, sizeof b, "%s:%ld%s", F.drop_cmd, F.drop_n, F.drop_after ? ":after" : "");
        BSON_APPEND_UTF8(&s, "dropOn", b);
        BSON_APPEND_INT64(&s, "dropOnSeen", F.drop_seen);
    }
    if (F.fail_n) {
        char b[128];
        snprintf(b, sizeof b, "%s:%ld:%d", F.fail_cmd, F.fail_n, F.fail_code);
        BSON_APPEND_UTF8(&s, "failOn", b);
        BSON_APPEND_UTF8(&s, "failOnMessage", F.fail_msg);
        BSON_APPEND_INT64(&s, "failOnSeen", F.fail_seen);
    }
    BSON_APPEND_INT32(&s, "delayMs", delay_ms);
    bson_append_document_end(reply, &s);
}

/* {mnoFault: 1, clear?: true, dropAfterDocs?: N, dropOn?: "cmd:N[:after]",
    failOn?: "cmd:N:code[:msg]", delayMs?: N} */
int fault_command(const bson_t *cmd, bson_t *reply, bson_string_t *msg)
{
    bson_iter_t it;
    bson_iter_init(&it, cmd);
    bson_iter_next(&it); /* mnoFault */
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        char num[32];
        const char *v = NULL;
        if (k[0] == '$' || !strcmp(k, "lsid"))
            continue;
        if (BSON_ITER_HOLDS_UTF8(&it))
            v = bson_iter_utf8(&it, NULL);
        else if (BSON_ITER_HOLDS_NUMBER(&it)) {
            snprintf(num, sizeof num, "%lld", (long long)bson_iter_as_int64(&it));
            v = num;
        }
        int rc = -1;
        if (!strcmp(k, "clear")) {
            if (bson_iter_as_bool(&it)) {
                memset(&F, 0, sizeof F);
                delay_ms = 0;
            }
            rc = 0;
        } else if (!strcmp(k, "dropAfterDocs"))
            rc = fault_option("drop-after-docs", v);
        else if (!strcmp(k, "dropOn"))
            rc = fault_option("drop-on", v);
        else if (!strcmp(k, "failOn"))
            rc = fault_option("fail-on", v);
        else if (!strcmp(k, "delayMs"))
            rc = fault_option("delay-ms", v);
        if (rc) {
            bson_string_append_printf(msg, "mnoFault: invalid or unknown field '%s'", k);
            return 2;
        }
    }
    state(reply);
    return 0;
}
