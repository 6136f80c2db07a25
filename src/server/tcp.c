/*
 * tcp: syslog over TCP (RFC 6587) and TLS (RFC 5425) connections.
 *
 * Every connection reads into the loop's shared buffer (TLS first decrypts into a second one) and
 * runs its own framer; the framer keeps only a message that spans two reads. Messages go to the
 * ingress with the peer's "ip:port" and the time of the read. A connection is closed, with one log
 * line saying why, on end of stream, reset, a framing error, a TLS error, a TLS handshake not done
 * within handshake_timeout, or no complete message within idle_timeout (idle, or a sender too slow
 * to finish one); a message it had started is still handed over, flagged truncated when the close
 * was not a clean end of stream.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "server/listener.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A TLS peer that does not read what we send (handshake records, alerts) is cut off past this. */
#define TLS_MAX_UNSENT (256 * 1024)

static const char *comp(const struct trl_conn *c)
{
    return c->tls ? "tls" : "tcp";
}

static void on_conn_closed(uv_handle_t *h)
{
    struct trl_conn *c = h->data;
    trl_framer_free(&c->fr);
    trl_tls_conn_destroy(c->tls);
    trl_listener_unref(c->l);
    free(c);
}

/* at_close: the message in progress when the connection closed (its close line says so). */
static void deliver(struct trl_conn *c, const struct trl_frame *fr, bool at_close)
{
    struct trl_srv *s = c->l->srv;
    trl_ingress_add(&s->in, fr->data, fr->len, c->peer, s->read_ns, fr->flags);
    c->msgs++;
    c->l->st.msgs++;
    c->last_msg_ms = uv_now(&s->loop);
    if (fr->flags & TRL_MSG_TRUNCATED) {
        c->l->st.truncated++;
        if (!at_close && !c->warned_truncated) {
            c->warned_truncated = true;
            trl_warn(comp(c), "message truncated peer=%s listener=%s max_message_size=%zu", c->peer,
                     c->l->bound, s->max_msg);
        }
    }
}

enum close_kind {
    CLOSE_CLEAN,  /* end of stream, close_notify, server stop */
    CLOSE_ABRUPT, /* reset, timeout, error: a message in progress is flagged truncated */
};

/* Hands over the message in progress, logs, and closes. Safe to call twice. */
static void conn_close(struct trl_conn *c, enum close_kind kind, enum trl_log_level level,
                       const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    struct trl_srv *s = c->l->srv;
    struct trl_frame fr;
    size_t partial = 0;
    if (trl_framer_finish(&c->fr, &fr) == 1) {
        if (kind == CLOSE_ABRUPT)
            fr.flags |= TRL_MSG_TRUNCATED;
        s->read_ns = trl_now_ns();
        deliver(c, &fr, true);
        partial = fr.len;
    }
    trl_log(level, comp(c),
            "closed peer=%s listener=%s reason=\"%s\" msgs=%llu bytes=%llu unfinished_bytes=%zu",
            c->peer, c->l->bound, reason, (unsigned long long)c->msgs, (unsigned long long)c->bytes,
            partial);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    c->l->st.active--;
    trl_listener_publish(c->l);
    uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void conn_error(struct trl_conn *c, const char *reason)
{
    c->l->st.errors++;
    conn_close(c, CLOSE_ABRUPT, TRL_LOG_WARN, reason);
}

/* Frames one piece of plaintext. Returns nonzero when the connection was closed. */
static int conn_frames(struct trl_conn *c, const char *data, size_t n)
{
    size_t pos = 0;
    struct trl_frame fr;
    for (;;) {
        int rc = trl_framer_next(&c->fr, data, n, &pos, &fr);
        if (rc == 1) {
            deliver(c, &fr, false);
            continue;
        }
        if (rc == 0)
            return 0;
        char reason[96];
        snprintf(reason, sizeof(reason), "framing error: %s", c->fr.error);
        conn_error(c, reason);
        return 1;
    }
}

static int on_plain(void *ud, const char *p, size_t n)
{
    return conn_frames(ud, p, n);
}

struct write_req {
    uv_write_t req;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a read error or a closed handle */
    free(req);
}

/* Sends the records OpenSSL produced. When the connection is about to close, only what the socket
 * takes at once (an alert telling the client why). Returns nonzero when it closed the connection.
 */
static int tls_flush(struct trl_conn *c, bool closing)
{
    size_t n = trl_tls_conn_output_pending(c->tls);
    if (n == 0)
        return 0;
    struct write_req *w = trl_xmalloc(sizeof(*w) + n);
    n = trl_tls_conn_output_take(c->tls, w->data, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (closing) {
        (void)uv_try_write((uv_stream_t *)&c->h, &b, 1);
        free(w);
        return 0;
    }
    if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_written) != 0) {
        free(w);
        return 0;
    }
    if (c->h.write_queue_size > TLS_MAX_UNSENT) {
        conn_error(c, "peer does not read TLS records");
        return 1;
    }
    return 0;
}

/* Processes bytes read from the socket (ciphertext on TLS). */
static void conn_input(struct trl_conn *c, const char *data, size_t n)
{
    struct trl_srv *s = c->l->srv;
    c->bytes += n;
    c->l->st.bytes += n;
    s->read_ns = trl_now_ns();
    if (!c->tls) {
        conn_frames(c, data, n);
        return;
    }
    bool was_established = trl_tls_conn_established(c->tls);
    enum trl_tls_status st =
        trl_tls_conn_feed(c->tls, data, n, s->plainbuf, TRL_READ_BUF_SIZE, on_plain, c);
    if (c->closing)
        return; /* closed by a framing error */
    if (!was_established && trl_tls_conn_established(c->tls)) {
        char desc[384];
        trl_tls_conn_describe(c->tls, desc, sizeof(desc));
        trl_debug("tls", "handshake done peer=%s listener=%s %s", c->peer, c->l->bound, desc);
    }
    if (st == TRL_TLS_ERROR) {
        tls_flush(c, true);
        conn_error(c, trl_tls_conn_error(c->tls));
        return;
    }
    if (st == TRL_TLS_CLOSED) {
        trl_tls_conn_close_notify(c->tls);
        tls_flush(c, true);
        conn_close(c, CLOSE_CLEAN, TRL_LOG_DEBUG, "close_notify");
        return;
    }
    tls_flush(c, false);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct trl_conn *c = h->data;
    /* One shared buffer is safe: libuv reads a stream and runs its callback before the next. */
    *buf = uv_buf_init(c->l->srv->readbuf, TRL_READ_BUF_SIZE);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    struct trl_conn *c = h->data;
    if (nread > 0) {
        conn_input(c, buf->base, (size_t)nread);
        trl_listener_publish(c->l);
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        if (c->tls && !trl_tls_conn_established(c->tls)) {
            c->l->st.errors++;
            conn_close(c, CLOSE_ABRUPT, TRL_LOG_WARN, "closed during TLS handshake");
        } else {
            conn_close(c, CLOSE_CLEAN, TRL_LOG_DEBUG, "end of stream");
        }
        return;
    }
    if (nread == UV_ECONNRESET) {
        conn_close(c, CLOSE_ABRUPT, TRL_LOG_INFO, "connection reset by peer");
        return;
    }
    char reason[96];
    snprintf(reason, sizeof(reason), "read failed: %s", uv_strerror((int)nread));
    conn_error(c, reason);
}

void trl_conn_pause(struct trl_conn *c)
{
    if (c->reading && !c->closing)
        uv_read_stop((uv_stream_t *)&c->h);
    c->reading = false;
}

void trl_conn_resume(struct trl_conn *c)
{
    if (c->reading || c->closing)
        return;
    int rc = uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
    if (rc < 0) {
        char reason[96];
        snprintf(reason, sizeof(reason), "cannot read: %s", uv_strerror(rc));
        conn_error(c, reason);
        return;
    }
    c->reading = true;
}

void trl_conn_sweep(struct trl_conn *c, uint64_t now_ms)
{
    struct trl_srv *s = c->l->srv;
    if (c->closing)
        return;
    if (c->tls && !trl_tls_conn_established(c->tls) && s->handshake_ms &&
        now_ms - c->accepted_ms >= s->handshake_ms) {
        char reason[96];
        snprintf(reason, sizeof(reason), "TLS handshake not done in %llu ms",
                 (unsigned long long)s->handshake_ms);
        conn_error(c, reason);
        return;
    }
    if (!s->idle_ms || now_ms - c->last_msg_ms < s->idle_ms)
        return;
    char reason[128];
    if (trl_framer_in_message(&c->fr)) {
        /* Bytes keep coming but no message completes: a slow sender holding a connection. */
        snprintf(reason, sizeof(reason), "too slow: no complete message in %llu ms",
                 (unsigned long long)s->idle_ms);
        conn_error(c, reason);
        return;
    }
    snprintf(reason, sizeof(reason), "idle for %llu ms", (unsigned long long)s->idle_ms);
    conn_close(c, CLOSE_CLEAN, TRL_LOG_INFO, reason);
}

void trl_conn_stop(struct trl_conn *c)
{
    struct trl_srv *s = c->l->srv;
    uv_os_fd_t fd;
    if (c->closing)
        return;
    trl_conn_pause(c);
    if (uv_fileno((uv_handle_t *)&c->h, &fd) == 0) {
        /* What the kernel already holds for us, bounded so a flooding peer cannot stall the stop.
         */
        size_t total = 0;
        while (!c->closing && total < ((size_t)64 << 20)) {
            ssize_t n = recv(fd, s->readbuf, TRL_READ_BUF_SIZE, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0) {
                conn_close(c, CLOSE_CLEAN, TRL_LOG_DEBUG, "end of stream");
                return;
            }
            if (n < 0)
                break;
            conn_input(c, s->readbuf, (size_t)n);
            total += (size_t)n;
        }
    }
    if (c->tls && !c->closing) {
        trl_tls_conn_close_notify(c->tls);
        tls_flush(c, true);
    }
    conn_close(c, CLOSE_CLEAN, TRL_LOG_DEBUG, "server stopping");
}

static void on_rejected_closed(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct trl_listener *l = server->data;
    struct trl_srv *s = l->srv;
    if (status < 0) {
        /* Typically EMFILE: libuv has already shed the pending connection. */
        l->st.errors++;
        trl_srv_log_accept_error(s, l, status);
        return;
    }
    struct trl_conn *c = trl_xcalloc(1, sizeof(*c));
    uv_tcp_init(&s->loop, &c->h);
    c->h.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
        uv_close((uv_handle_t *)&c->h, on_rejected_closed);
        return;
    }
    struct sockaddr_storage peer;
    int plen = sizeof(peer);
    if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&peer, &plen) == 0)
        trl_sockaddr_str((struct sockaddr *)&peer, c->peer, sizeof(c->peer));
    else
        snprintf(c->peer, sizeof(c->peer), "unknown");
    if (s->stopping || s->nconns >= s->max_conns) {
        l->st.rejected++;
        trl_srv_log_reject(s, l, c->peer);
        uv_close((uv_handle_t *)&c->h, on_rejected_closed);
        return;
    }
    if (l->kind == TRL_LISTEN_TLS) {
        c->tls = s->tls ? trl_tls_conn_create(s->tls) : NULL;
        if (!c->tls) {
            l->st.errors++;
            trl_error("tls", "cannot set up TLS peer=%s listener=%s", c->peer, l->bound);
            uv_close((uv_handle_t *)&c->h, on_rejected_closed);
            return;
        }
    }
    c->l = l;
    l->refs++;
    l->st.accepted++;
    l->st.active++;
    trl_framer_init(&c->fr, s->max_msg);
    c->accepted_ms = c->last_msg_ms = uv_now(&s->loop);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    trl_listener_publish(l);
    /* Keepalive finds peers that vanished without a FIN long before the idle timeout would. */
    uv_tcp_keepalive(&c->h, 1, 60);
    trl_debug(comp(c), "accepted peer=%s listener=%s", c->peer, l->bound);
    if (!s->paused)
        trl_conn_resume(c);
}

int trl_tcp_open(struct trl_listener *l)
{
    struct trl_srv *s = l->srv;
    int family = l->addr.ss_family;
    int rc = uv_tcp_init_ex(&s->loop, &l->h.tcp, (unsigned)family);
    if (rc < 0)
        return rc;
    l->h.handle.data = l;
    l->handle_open = true;
    l->refs++;
    unsigned flags = family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    rc = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&l->addr, flags);
    if (rc < 0)
        return rc;
    rc = uv_listen((uv_stream_t *)&l->h.tcp, SOMAXCONN > 4096 ? SOMAXCONN : 4096, on_connection);
    if (rc < 0)
        return rc;
    struct sockaddr_storage name;
    int namelen = sizeof(name);
    if (uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&name, &namelen) == 0)
        trl_sockaddr_str((struct sockaddr *)&name, l->bound, sizeof(l->bound));
    trl_listener_claim_slot(l);
    return 0;
}
