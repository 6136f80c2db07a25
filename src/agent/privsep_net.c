/*
 * privsep_net: the unprivileged network process and its control socket (see privsep_net.h).
 *
 * In the child: a fresh uv loop (the parent's is never touched), the forwarders, and one relay
 * per server connection the agent asked for. A relay moves plaintext between the agent's stream
 * socket and a TLS stream (agent/tlsio.h) over TCP to the server. Backpressure: when the
 * server's socket has more than RELAY_QUEUE_MAX bytes waiting, the relay stops reading the
 * agent's side until it drains, which stops the agent's sender in turn; the other way likewise.
 * When the server closes, what it sent last (an ERROR frame) is written to the agent before the
 * agent's end is shut down.
 */
#include "agent/privsep_net.h"

#include "agent/tlsio.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define COMP            "agent-net"
#define CTL_FD          3
#define RELAY_QUEUE_MAX (4u << 20)
#define RELAY_CHECK_MS  20
#define CTL_SNDBUF      (4 << 20)
/* Loading a few PEM files takes milliseconds; this bounds a child stuck on a file. */
#define READY_TIMEOUT_MS 30000

struct trl_netproc {
    struct trl_netproc_config c;
    pid_t pid;
    int ctl;
    char buf[1 + TRL_FWD_MAX * sizeof(struct trl_forward_stats)];
};

/* ---- parent side ---- */

static int spawn(struct trl_netproc *np, char *err, size_t errlen);

int trl_netproc_start(const struct trl_netproc_config *c, struct trl_netproc **out, char *err,
                      size_t errlen)
{
    struct trl_netproc *np = trl_xcalloc(1, sizeof(*np));
    np->c = *c;
    np->ctl = -1;
    int rc = spawn(np, err, errlen);
    if (rc < 0) {
        free(np);
        return rc;
    }
    *out = np;
    return 0;
}

pid_t trl_netproc_pid(const struct trl_netproc *np)
{
    return np->pid;
}

int trl_netproc_fd(const struct trl_netproc *np)
{
    return np->ctl;
}

static void reap(struct trl_netproc *np)
{
    if (np->ctl >= 0) {
        close(np->ctl);
        np->ctl = -1;
    }
    if (np->pid <= 0)
        return;
    /* It exits when the control socket closes; a stuck one is killed after 2 s. */
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(np->pid, NULL, WNOHANG);
        if (r == np->pid || (r < 0 && errno != EINTR)) {
            np->pid = 0;
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(np->pid, SIGKILL);
    waitpid(np->pid, NULL, 0);
    np->pid = 0;
}

int trl_netproc_restart(struct trl_netproc *np, char *err, size_t errlen)
{
    reap(np);
    return spawn(np, err, errlen);
}

void trl_netproc_destroy(struct trl_netproc *np)
{
    if (!np)
        return;
    reap(np);
    free(np);
}

static int send_ctl(int fd, const struct iovec *iov, int niov, int passfd, int flags)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)niov};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cm;
    if (passfd >= 0) {
        memset(&cm, 0, sizeof(cm));
        mh.msg_control = cm.buf;
        mh.msg_controllen = sizeof(cm.buf);
        struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &passfd, sizeof(int));
    }
    ssize_t n;
    while ((n = sendmsg(fd, &mh, flags | MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return n < 0 ? -errno : 0;
}

int trl_netproc_connect(struct trl_netproc *np, int *fd)
{
    if (np->ctl < 0)
        return -EPIPE;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    struct iovec iov = {.iov_base = "C", .iov_len = 1};
    /* Blocking, but only behind forwarded messages the network process is reading anyway. */
    int rc = send_ctl(np->ctl, &iov, 1, sv[1], 0);
    close(sv[1]);
    if (rc < 0) {
        close(sv[0]);
        return rc;
    }
    *fd = sv[0];
    return 0;
}

int trl_netproc_forward(struct trl_netproc *np, size_t idx, const void *msg, size_t len)
{
    if (np->ctl < 0 || idx >= np->c.nfwd)
        return TRL_EFULL;
    unsigned char hdr[2] = {'F', (unsigned char)idx};
    struct iovec iov[2] = {{hdr, 2}, {(void *)msg, TRL_MIN(len, (size_t)TRL_NETPROC_MAX_MSG)}};
    int rc = send_ctl(np->ctl, iov, 2, -1, MSG_DONTWAIT);
    return rc == 0 ? 0 : TRL_EFULL;
}

int trl_netproc_poll(struct trl_netproc *np, struct trl_forward_stats *stats)
{
    int changed = 0;
    if (np->ctl < 0)
        return -EPIPE;
    for (;;) {
        ssize_t n = recv(np->ctl, np->buf, sizeof(np->buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return changed;
        if (n <= 0)
            return n == 0 ? -EPIPE : -errno;
        size_t want = 1 + np->c.nfwd * sizeof(struct trl_forward_stats);
        if (np->buf[0] == 'S' && (size_t)n == want) {
            memcpy(stats, np->buf + 1, want - 1);
            changed = 1;
        }
    }
}

/* ---- child: relays to the server ---- */

struct child;

struct relay {
    struct child *ch;
    struct relay *next, **pprev;
    uv_pipe_t plain; /* the agent's end */
    uv_tcp_t tcp;    /* the server */
    uv_timer_t check;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    uv_shutdown_t shut;
    struct trl_tlsio *tls;
    int open_handles;
    bool tcp_init, resolving, connected, finishing, dead, plain_paused, tcp_paused;
};

struct child {
    uv_loop_t loop;
    const struct trl_netproc_config *c;
    SSL_CTX *server_ssl;
    SSL_CTX *fwd_ssl[TRL_FWD_MAX]; /* NULL for UDP and TCP forwarders */
    uv_poll_t ctl_poll;
    uv_timer_t stats_timer;
    uv_timer_t trim_timer; /* gives the heap's free pages back every 20 s */
    struct trl_forwarder *fw[TRL_FWD_MAX];
    struct trl_forward_stats last[TRL_FWD_MAX];
    struct relay *relays;
    bool stopping;
    char *rbuf;
};

struct pwr {
    uv_write_t req;
    char data[];
};

static void on_relay_handle_closed(uv_handle_t *h)
{
    struct relay *r = h->data;
    if (--r->open_handles > 0)
        return;
    if (!r->resolving) {
        trl_tlsio_destroy(r->tls);
        free(r);
    }
}

static void relay_close(struct relay *r, const char *why)
{
    if (r->dead)
        return;
    if (why)
        trl_warn(COMP, "connection to %s:%s: %s", r->ch->c->server_host, r->ch->c->server_port,
                 why);
    r->dead = true;
    if (r->pprev) {
        *r->pprev = r->next;
        if (r->next)
            r->next->pprev = r->pprev;
        r->pprev = NULL;
    }
    if (r->resolving)
        uv_cancel((uv_req_t *)&r->gai);
    r->open_handles = 2 + (r->tcp_init ? 1 : 0);
    uv_close((uv_handle_t *)&r->plain, on_relay_handle_closed);
    uv_close((uv_handle_t *)&r->check, on_relay_handle_closed);
    if (r->tcp_init)
        uv_close((uv_handle_t *)&r->tcp, on_relay_handle_closed);
}

static void on_plain_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    relay_close(req->data, NULL);
}

/* The server is gone: deliver what it said, then close the agent's end. */
static void relay_finish(struct relay *r, const char *why)
{
    if (r->dead || r->finishing)
        return;
    r->finishing = true;
    trl_info(COMP, "connection to %s:%s: %s", r->ch->c->server_host, r->ch->c->server_port, why);
    if (r->tcp_init)
        uv_read_stop((uv_stream_t *)&r->tcp);
    uv_read_stop((uv_stream_t *)&r->plain);
    r->shut.data = r;
    if (uv_shutdown(&r->shut, (uv_stream_t *)&r->plain, on_plain_shutdown) != 0)
        relay_close(r, NULL);
}

static void on_pwritten(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void to_agent(struct relay *r, const char *p, size_t len)
{
    struct pwr *w = trl_xmalloc(sizeof(*w) + len);
    memcpy(w->data, p, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&r->plain, &b, 1, on_pwritten) != 0) {
        free(w);
        relay_close(r, "cannot write to the agent");
    }
}

static void flush_tls(struct relay *r)
{
    if (r->connected && !r->dead)
        trl_tlsio_flush(r->tls, (uv_stream_t *)&r->tcp);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char scratch[65536];
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct relay *r = s->data;
    if (r->dead || r->finishing || nread == 0)
        return;
    if (nread < 0) {
        relay_finish(r, nread == UV_EOF ? "server closed the connection" : uv_strerror((int)nread));
        return;
    }
    trl_tlsio_feed(r->tls, buf->base, (size_t)nread);
    char plain[16384];
    int n;
    while ((n = trl_tlsio_read(r->tls, plain, sizeof(plain))) > 0)
        to_agent(r, plain, (size_t)n);
    if (r->dead)
        return;
    if (n < 0) {
        char why[300];
        snprintf(why, sizeof(why), "TLS: %s",
                 n == -1 ? "server sent close_notify" : trl_tlsio_error(r->tls));
        flush_tls(r);
        relay_finish(r, why);
        return;
    }
    flush_tls(r);
}

static void on_plain_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct relay *r = s->data;
    if (r->dead || r->finishing || nread == 0)
        return;
    if (nread < 0) {
        relay_close(r, NULL); /* the agent closed the connection */
        return;
    }
    if (trl_tlsio_write(r->tls, buf->base, (size_t)nread) != 0) {
        relay_close(r, "TLS write failed");
        return;
    }
    flush_tls(r);
}

/* Backpressure both ways, every RELAY_CHECK_MS. */
static void on_relay_check(uv_timer_t *t)
{
    struct relay *r = t->data;
    if (r->dead || r->finishing || !r->connected)
        return;
    size_t up = uv_stream_get_write_queue_size((uv_stream_t *)&r->tcp);
    size_t down = uv_stream_get_write_queue_size((uv_stream_t *)&r->plain);
    if (up > RELAY_QUEUE_MAX && !r->plain_paused) {
        uv_read_stop((uv_stream_t *)&r->plain);
        r->plain_paused = true;
    } else if (up < RELAY_QUEUE_MAX / 4 && r->plain_paused) {
        uv_read_start((uv_stream_t *)&r->plain, on_alloc, on_plain_read);
        r->plain_paused = false;
    }
    if (down > RELAY_QUEUE_MAX && !r->tcp_paused) {
        uv_read_stop((uv_stream_t *)&r->tcp);
        r->tcp_paused = true;
    } else if (down < RELAY_QUEUE_MAX / 4 && r->tcp_paused) {
        uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_tcp_read);
        r->tcp_paused = false;
    }
}

static void on_tcp_connected(uv_connect_t *req, int status)
{
    struct relay *r = req->data;
    if (r->dead)
        return;
    if (status < 0) {
        relay_finish(r, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&r->tcp, 1);
    r->connected = true;
    if (uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_tcp_read) != 0) {
        relay_finish(r, "cannot read from the socket");
        return;
    }
    /* Starts the handshake; plaintext the agent already sent is held until it is done. */
    char none[1];
    if (trl_tlsio_read(r->tls, none, sizeof(none)) < 0) {
        relay_finish(r, trl_tlsio_error(r->tls));
        return;
    }
    flush_tls(r);
}

static void on_server_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct relay *r = req->data;
    r->resolving = false;
    if (r->dead) {
        uv_freeaddrinfo(res);
        if (r->open_handles == 0) {
            trl_tlsio_destroy(r->tls);
            free(r);
        }
        return;
    }
    if (status < 0 || !res) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve: %s", uv_strerror(status));
        uv_freeaddrinfo(res);
        relay_finish(r, why);
        return;
    }
    uv_tcp_init(&r->ch->loop, &r->tcp);
    r->tcp.data = r;
    r->tcp_init = true;
    r->creq.data = r;
    int rc = uv_tcp_connect(&r->creq, &r->tcp, res->ai_addr, on_tcp_connected);
    uv_freeaddrinfo(res);
    if (rc < 0)
        relay_finish(r, uv_strerror(rc));
}

static void relay_start(struct child *ch, int fd)
{
    struct relay *r = trl_xcalloc(1, sizeof(*r));
    r->ch = ch;
    uv_pipe_init(&ch->loop, &r->plain, 0);
    r->plain.data = r;
    uv_timer_init(&ch->loop, &r->check);
    r->check.data = r;
    r->next = ch->relays;
    if (r->next)
        r->next->pprev = &r->next;
    ch->relays = r;
    r->pprev = &ch->relays;
    if (uv_pipe_open(&r->plain, fd) != 0) {
        close(fd);
        relay_close(r, "cannot use the agent's socket");
        return;
    }
    r->tls = trl_tlsio_create(ch->server_ssl, false, ch->c->server_host);
    if (!r->tls) {
        relay_close(r, "cannot set up TLS");
        return;
    }
    uv_read_start((uv_stream_t *)&r->plain, on_alloc, on_plain_read);
    uv_timer_start(&r->check, on_relay_check, RELAY_CHECK_MS, RELAY_CHECK_MS);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    r->gai.data = r;
    int rc = uv_getaddrinfo(&ch->loop, &r->gai, on_server_resolved, ch->c->server_host,
                            ch->c->server_port, &hints);
    if (rc < 0) {
        relay_finish(r, uv_strerror(rc));
        return;
    }
    r->resolving = true;
}

/* ---- child: control socket ---- */

static void child_stop(struct child *ch)
{
    if (ch->stopping)
        return;
    ch->stopping = true;
    uv_poll_stop(&ch->ctl_poll);
    uv_close((uv_handle_t *)&ch->ctl_poll, NULL);
    uv_close((uv_handle_t *)&ch->stats_timer, NULL);
    uv_close((uv_handle_t *)&ch->trim_timer, NULL);
    while (ch->relays)
        relay_close(ch->relays, NULL);
    for (size_t i = 0; i < ch->c->nfwd; i++) {
        trl_forwarder_destroy(ch->fw[i]);
        ch->fw[i] = NULL;
    }
}

static void on_ctl(uv_poll_t *p, int status, int events)
{
    (void)events;
    struct child *ch = p->data;
    if (status < 0) {
        child_stop(ch);
        return;
    }
    for (int budget = 0; budget < 1000; budget++) {
        struct iovec iov = {ch->rbuf, 2 + TRL_NETPROC_MAX_MSG};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } cm;
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm)};
        ssize_t n = recvmsg(CTL_FD, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            child_stop(ch); /* the agent is gone */
            return;
        }
        int fd = -1;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h))
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
                memcpy(&fd, CMSG_DATA(h), sizeof(int));
        if (ch->rbuf[0] == 'C' && fd >= 0) {
            relay_start(ch, fd);
            continue;
        }
        if (fd >= 0)
            close(fd);
        if (ch->rbuf[0] == 'F' && n >= 2 && (unsigned char)ch->rbuf[1] < ch->c->nfwd &&
            ch->fw[(unsigned char)ch->rbuf[1]])
            trl_forwarder_push(ch->fw[(unsigned char)ch->rbuf[1]], ch->rbuf + 2, (size_t)n - 2);
    }
}

static void on_stats(uv_timer_t *t)
{
    struct child *ch = t->data;
    size_t n = ch->c->nfwd;
    if (n == 0)
        return;
    struct trl_forward_stats st[TRL_FWD_MAX];
    for (size_t i = 0; i < n; i++)
        trl_forwarder_stats(ch->fw[i], &st[i]);
    if (memcmp(st, ch->last, n * sizeof(st[0])) == 0)
        return;
    char tag = 'S';
    struct iovec iov[2] = {{&tag, 1}, {st, n * sizeof(st[0])}};
    if (send_ctl(CTL_FD, iov, 2, -1, MSG_DONTWAIT) == 0)
        memcpy(ch->last, st, n * sizeof(st[0]));
}

static void on_trim(uv_timer_t *t)
{
    (void)t;
    malloc_trim(0);
}

static void close_other_fds(void)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, CTL_FD + 1, ~0u, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = CTL_FD + 1; fd < (max > 0 ? max : 65536); fd++)
        close((int)fd);
}

/* Loads the TLS contexts: the agent's identity and pinned CA, and each TLS forwarder's files. */
static int load_tls(struct child *ch, char *err, size_t errlen)
{
    const struct trl_netproc_config *c = ch->c;
    char why[300];
    ch->server_ssl =
        trl_tlsio_client_ctx(c->server_ca, c->server_cert, c->server_key, why, sizeof(why));
    if (!ch->server_ssl) {
        snprintf(err, errlen, "cannot load the agent's identity (enroll first): %s", why);
        return TRL_ECONFIG;
    }
    for (size_t i = 0; i < c->nfwd; i++)
        if (trl_forward_ssl_ctx(&c->fwd[i], &ch->fwd_ssl[i], err, errlen) != 0)
            return TRL_ECONFIG;
    return 0;
}

static void child_main(const struct trl_netproc_config *c, int ctl)
{
    if (ctl != CTL_FD) {
        if (dup2(ctl, CTL_FD) < 0)
            _exit(1);
        close(ctl);
    }
    fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
    close_other_fds();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_IGN); /* the agent stops it by closing the control socket */
    signal(SIGINT, SIG_IGN);
    prctl(PR_SET_NAME, "trapline-net", 0, 0, 0);
    if (c->pool_size)
        setenv("UV_THREADPOOL_SIZE", c->pool_size, 1); /* one thread here since fork() */
    struct child *ch = trl_xcalloc(1, sizeof(*ch));
    ch->c = c;
    /* The key and certificates are read before the privileges go (agent.key is readable by root
     * only), the same files the agent itself used to load. The agent waits for the answer. */
    char err[400];
    bool loaded = load_tls(ch, err, sizeof(err)) == 0;
    char tag = loaded ? 'R' : 'E';
    struct iovec ready[2] = {{&tag, 1}, {err, loaded ? 0 : strlen(err)}};
    if (send_ctl(CTL_FD, ready, 2, -1, 0) != 0 || !loaded)
        _exit(1);
    if (trl_privsep_drop(c->user, err, sizeof(err)) != 0) {
        trl_error(COMP, "cannot give up privileges, network process not started: %s", err);
        _exit(1);
    }
    struct trl_privsep_status ps;
    if (trl_privsep_status(0, &ps) == 0)
        trl_info(COMP,
                 "network process pid=%ld uid=%u CapEff=%llx CapBnd=%llx NoNewPrivs=%d "
                 "Seccomp=%d",
                 (long)getpid(), (unsigned)ps.uid, (unsigned long long)ps.cap_eff,
                 (unsigned long long)ps.cap_bnd, ps.no_new_privs, ps.seccomp);
    ch->rbuf = trl_xmalloc(2 + TRL_NETPROC_MAX_MSG);
    memset(ch->last, 0xff, sizeof(ch->last)); /* the first report goes out whatever it says */
    uv_loop_init(&ch->loop);
    for (size_t i = 0; i < c->nfwd; i++) {
        if (trl_forwarder_create(&ch->loop, &c->fwd[i], ch->fwd_ssl[i], &ch->fw[i]) != 0) {
            trl_error(COMP, "forwarder %s cannot start", c->fwd[i].name);
            _exit(1);
        }
    }
    uv_poll_init(&ch->loop, &ch->ctl_poll, CTL_FD);
    ch->ctl_poll.data = ch;
    uv_poll_start(&ch->ctl_poll, UV_READABLE | UV_DISCONNECT, on_ctl);
    uv_timer_init(&ch->loop, &ch->stats_timer);
    ch->stats_timer.data = ch;
    uv_timer_start(&ch->stats_timer, on_stats, 1000, 1000);
    uv_timer_init(&ch->loop, &ch->trim_timer);
    uv_timer_start(&ch->trim_timer, on_trim, 10000, 20000);
    uv_run(&ch->loop, UV_RUN_DEFAULT);
    /* Without the agent there is nobody to deliver for; no exit handlers (they belong to the
     * agent's image). */
    _exit(0);
}

/* Waits for the new process's first message: 'R' once its TLS contexts are loaded, 'E' and the
 * reason when they cannot be. */
static int wait_ready(struct trl_netproc *np, char *err, size_t errlen)
{
    struct pollfd p = {np->ctl, POLLIN, 0};
    int n;
    while ((n = poll(&p, 1, READY_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    if (n == 0) {
        snprintf(err, errlen, "the network process did not load its TLS files in %d s",
                 READY_TIMEOUT_MS / 1000);
        return -ETIMEDOUT;
    }
    char msg[512];
    ssize_t got;
    while ((got = recv(np->ctl, msg, sizeof(msg) - 1, 0)) < 0 && errno == EINTR)
        ;
    if (got > 0 && msg[0] == 'R')
        return 0;
    if (got > 1 && msg[0] == 'E') {
        msg[got] = '\0';
        snprintf(err, errlen, "%s", msg + 1);
        return TRL_ECONFIG;
    }
    snprintf(err, errlen, "the network process exited while starting");
    return -EPIPE;
}

static int spawn(struct trl_netproc *np, char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    int sz = CTL_SNDBUF;
    if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return -e;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(&np->c, sv[1]);
    }
    close(sv[1]);
    np->pid = pid;
    np->ctl = sv[0];
    int rc = wait_ready(np, err, errlen);
    if (rc < 0)
        reap(np);
    return rc;
}
