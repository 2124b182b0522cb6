/* wire.c: one client connection: reads OP_QUERY/OP_MSG messages, runs them, writes OP_REPLY/OP_MSG. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "mongod.h"
#include "wire.h"

#define OP_REPLY 1
#define OP_QUERY 2004
#define OP_COMPRESSED 2012
#define OP_MSG 2013
#define MAX_INCOMING (64 * 1024 * 1024)

static int32_t next_request_id = 1;
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;

static int32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (int32_t)BSON_UINT32_FROM_LE(v);
}

static void wr32(uint8_t *p, int32_t v)
{
    uint32_t u = BSON_UINT32_TO_LE((uint32_t)v);
    memcpy(p, &u, 4);
}

static int read_full(int fd, uint8_t *buf, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, buf, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (n && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int32_t new_request_id(void)
{
    pthread_mutex_lock(&id_lock);
    int32_t id = next_request_id++;
    pthread_mutex_unlock(&id_lock);
    return id;
}

static int send_msg(int fd, int32_t response_to, const bson_t *doc)
{
    uint8_t h[21];
    uint32_t len = doc->len;
    wr32(h, (int32_t)(16 + 4 + 1 + len));
    wr32(h + 4, new_request_id());
    wr32(h + 8, response_to);
    wr32(h + 12, OP_MSG);
    wr32(h + 16, 0); /* flagBits: never checksumPresent, never moreToCome */
    h[20] = 0;       /* kind 0 */
    struct iovec iov[2] = { { h, sizeof h }, { (void *)bson_get_data(doc), len } };
    return write_all(fd, iov, 2);
}

static int send_reply(int fd, int32_t response_to, int32_t flags, const bson_t *doc)
{
    uint8_t h[36];
    uint32_t len = doc->len;
    wr32(h, (int32_t)(36 + len));
    wr32(h + 4, new_request_id());
    wr32(h + 8, response_to);
    wr32(h + 12, OP_REPLY);
    wr32(h + 16, flags);
    memset(h + 20, 0, 8); /* cursorID */
    wr32(h + 28, 0);      /* startingFrom */
    wr32(h + 32, 1);      /* numberReturned */
    struct iovec iov[2] = { { h, sizeof h }, { (void *)bson_get_data(doc), len } };
    return write_all(fd, iov, 2);
}

static void delay(void)
{
    int ms = fault_delay_ms();
    if (ms > 0) {
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
}

/* Parses and runs an OP_MSG body; returns -1 when the message is malformed (drop). */
static int handle_msg(int fd, int32_t req_id, const uint8_t *b, size_t n)
{
    if (n < 5)
        return -1;
    uint32_t flags = (uint32_t)rd32(b);
    size_t end = n - ((flags & 1) ? 4 : 0), p = 4;
    bson_t body;
    bool have_body = false;
    mseq seqs[8];
    int nseqs = 0;
    if ((flags & 1) && n < 9)
        return -1;
    while (p < end) {
        uint8_t kind = b[p++];
        if (p + 4 > end)
            return -1;
        uint32_t sz = (uint32_t)rd32(b + p);
        if (sz < 5 || sz > end - p)
            return -1;
        if (kind == 0) {
            if (have_body || !bson_init_static(&body, b + p, sz))
                return -1;
            have_body = true;
        } else if (kind == 1) {
            const uint8_t *s = b + p + 4, *e = b + p + sz;
            const uint8_t *z = memchr(s, 0, (size_t)(e - s));
            if (!z || nseqs == 8)
                return -1;
            seqs[nseqs].name = (const char *)s;
            seqs[nseqs].data = z + 1;
            seqs[nseqs].len = (uint32_t)(e - (z + 1));
            nseqs++;
        } else {
            return -1;
        }
        p += sz;
    }
    if (!have_body)
        return -1;
    bson_t reply = BSON_INITIALIZER;
    bson_iter_t it;
    mreq r = { &body, NULL, seqs, nseqs, false };
    if (bson_iter_init_find(&it, &body, "$db") && BSON_ITER_HOLDS_UTF8(&it)) {
        r.db = bson_iter_utf8(&it, NULL);
        cmd_run(&r, &reply);
    } else {
        cmd_error(&reply, 40571, NULL, "OP_MSG requests require a $db argument");
    }
    int rc = 0;
    if (r.drop)
        rc = -1;
    else if (!(flags & 2)) { /* moreToCome: no reply */
        delay();
        rc = send_msg(fd, req_id, &reply);
    }
    bson_destroy(&reply);
    return rc;
}

static int handle_query(int fd, int32_t req_id, const uint8_t *b, size_t n)
{
    if (n < 4 + 1 + 8 + 5)
        return -1;
    const uint8_t *ns = b + 4;
    const uint8_t *z = memchr(ns, 0, n - 4);
    if (!z || (size_t)(z + 1 - b) + 8 + 5 > n)
        return -1;
    const uint8_t *q = z + 1 + 8;
    uint32_t ql = (uint32_t)rd32(q);
    bson_t query, body, reply = BSON_INITIALIZER;
    if (ql > n - (size_t)(q - b) || !bson_init_static(&query, q, ql))
        return -1;
    const char *nss = (const char *)ns;
    size_t nl = strlen(nss);
    int rc = 0;
    if (nl < 6 || strcmp(nss + nl - 5, ".$cmd")) {
        BSON_APPEND_UTF8(&reply, "$err", "OP_QUERY is no longer supported for queries; use the find command");
        BSON_APPEND_INT32(&reply, "code", 5739101);
        delay();
        rc = send_reply(fd, req_id, 2 /* QueryFailure */, &reply);
        bson_destroy(&reply);
        return rc;
    }
    char *db = bson_strndup(nss, nl - 5);
    bson_iter_t it;
    body = query;
    if (bson_iter_init(&it, &query) && bson_iter_next(&it) && !strcmp(bson_iter_key(&it), "$query") &&
        BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t l;
        const uint8_t *d;
        bson_iter_document(&it, &l, &d);
        bson_init_static(&body, d, l);
    }
    mreq r = { &body, db, NULL, 0, false };
    cmd_run(&r, &reply);
    if (r.drop)
        rc = -1;
    else {
        delay();
        rc = send_reply(fd, req_id, 0, &reply);
    }
    bson_destroy(&reply);
    bson_free(db);
    return rc;
}

void wire_serve(int fd)
{
    static uint64_t next_conn = 1;
    uint8_t *buf = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&id_lock);
    md_conn = next_conn++;
    pthread_mutex_unlock(&id_lock);
    for (;;) {
        uint8_t h[16];
        if (read_full(fd, h, sizeof h))
            break;
        int32_t len = rd32(h), req_id = rd32(h + 4), op = rd32(h + 12);
        if (len < 16 || len > MAX_INCOMING) {
            if (md_verbose)
                fprintf(stderr, "mno-test-mongod: bad message length %d, closing\n", len);
            break;
        }
        size_t n = (size_t)len - 16;
        /* reuse the buffer across a run of large messages (a bulk insert); give a large one
           back as soon as a small message comes, so an idle connection holds little */
        if (n > cap || (cap > 4 * 1024 * 1024 && n < cap / 4)) {
            free(buf);
            cap = n > 65536 ? n : 65536;
            buf = malloc(cap);
            if (!buf)
                break;
        }
        if (read_full(fd, buf, n))
            break;
        int rc;
        if (op == OP_MSG)
            rc = handle_msg(fd, req_id, buf, n);
        else if (op == OP_QUERY)
            rc = handle_query(fd, req_id, buf, n);
        else {
            if (md_verbose)
                fprintf(stderr, "mno-test-mongod: unsupported opcode %d, closing\n", op);
            rc = -1;
        }
        if (rc)
            break;
    }
    free(buf);
    pthread_mutex_lock(&md_lock);
    cursor_free_conn(md_conn);
    pthread_mutex_unlock(&md_lock);
}
