/* main.c: mno-test-mongod: options, the listening socket, a thread per connection, clean stop. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "mongod.h"
#include "wire.h"

static const char usage[] =
    "usage: mno-test-mongod [options]\n"
    "A MongoDB wire-protocol server for tests (in memory; see docs/mongod.md).\n"
    "Prints \"port N\" as its first line on stdout once it accepts connections.\n"
    "  --port N                    listen on port N (default 0: a free port)\n"
    "  --bind ADDR                 listen address (default 127.0.0.1)\n"
    "  --port-file F               also write the port number to F\n"
    "  --verbose                   log every command to stderr\n"
    "Fault injection (also MNO_MONGOD_FAULT_* variables and the mnoFault command):\n"
    "  --fault-drop-after-docs N   close the connection at the first find/getMore after N\n"
    "                              documents were served (batches are cut to N); once\n"
    "  --fault-drop-on CMD:N[:after]  close the connection on the Nth command CMD (before\n"
    "                              running it, or after running it without replying); once\n"
    "  --fault-fail-on CMD:N:CODE[:MSG]  answer the Nth command CMD with ok:0, code, errmsg; once\n"
    "  --fault-delay-ms N          delay every reply by N milliseconds\n";

typedef struct conn {
    int fd;
    struct conn *next;
} conn;

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cond = PTHREAD_COND_INITIALIZER;
static conn *conns;
static int nconns;
static int wake[2] = { -1, -1 };

static void *conn_main(void *arg)
{
    conn *c = arg;
    wire_serve(c->fd);
    pthread_mutex_lock(&conns_lock);
    for (conn **p = &conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    close(c->fd);
    free(c);
    nconns--;
    pthread_cond_broadcast(&conns_cond);
    pthread_mutex_unlock(&conns_lock);
    return NULL;
}

/* SIGTERM/SIGINT: wake the accept loop (a handler, not sigwait: whichever thread the signal
   lands on, e.g. one a sanitizer runtime started before main, it ends up here). */
static void on_signal(int sig)
{
    int saved = errno;
    (void)sig;
    if (write(wake[1], "x", 1) < 0) {
        /* the pipe is full: a stop is already pending */
    }
    errno = saved;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "port-file", required_argument, NULL, 'f' },
        { "verbose", no_argument, NULL, 'v' },
        { "fault-drop-after-docs", required_argument, NULL, 1 },
        { "fault-drop-on", required_argument, NULL, 2 },
        { "fault-fail-on", required_argument, NULL, 3 },
        { "fault-delay-ms", required_argument, NULL, 4 },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    static const char *fault_names[] = { NULL, "drop-after-docs", "drop-on", "fail-on", "delay-ms" };
    const char *bind_addr = "127.0.0.1", *port_file = NULL;
    long port = 0;
    int ch;
    fault_init_env();
    while ((ch = getopt_long(argc, argv, "p:b:f:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'p': {
            char *end;
            port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "mno-test-mongod: invalid port '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'b': bind_addr = optarg; break;
        case 'f': port_file = optarg; break;
        case 'v': md_verbose = 1; break;
        case 1: case 2: case 3: case 4:
            if (fault_option(fault_names[ch], optarg)) {
                fprintf(stderr, "mno-test-mongod: invalid --fault-%s '%s'\n", fault_names[ch], optarg);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mno-test-mongod: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK)) {
        perror("mno-test-mongod: pipe");
        return 2;
    }
    struct sigaction sa_stop;
    memset(&sa_stop, 0, sizeof sa_stop);
    sa_stop.sa_handler = on_signal;
    sigemptyset(&sa_stop.sa_mask);
    sa_stop.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa_stop, NULL);
    sigaction(SIGINT, &sa_stop, NULL);

    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "mno-test-mongod: invalid bind address '%s'\n", bind_addr);
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 128)) {
        fprintf(stderr, "mno-test-mongod: cannot listen on %s:%ld: %s\n", bind_addr, port, strerror(errno));
        return 2;
    }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    int actual = ntohs(sa.sin_port);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", actual) < 0 || fclose(f) || rename(tmp, port_file)) {
            fprintf(stderr, "mno-test-mongod: cannot write port file '%s': %s\n", port_file, strerror(errno));
            return 2;
        }
    }
    printf("port %d\n", actual);
    fflush(stdout);

    for (;;) {
        struct pollfd pf[2] = { { ls, POLLIN, 0 }, { wake[0], POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        c->fd = fd;
        pthread_mutex_lock(&conns_lock);
        c->next = conns;
        conns = c;
        nconns++;
        pthread_mutex_unlock(&conns_lock);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, c)) {
            pthread_mutex_lock(&conns_lock);
            conns = c->next;
            nconns--;
            pthread_mutex_unlock(&conns_lock);
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&attr);
    }

    /* stop: no new connections; wake every connection thread and wait for them */
    close(ls);
    pthread_mutex_lock(&conns_lock);
    for (conn *c = conns; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (nconns > 0)
        pthread_cond_wait(&conns_cond, &conns_lock);
    pthread_mutex_unlock(&conns_lock);
    pthread_mutex_lock(&md_lock);
    cursor_free_all();
    store_free_all();
    pthread_mutex_unlock(&md_lock);
    close(wake[0]);
    close(wake[1]);
    return 0;
}
