/*
 * forward: forwarders to third-party syslog collectors (see forward.h).
 *
 * A forwarder is a ring of queued messages and at most one connection attempt (struct conn, freed
 * when its handle is closed, so that a new attempt never reuses a handle that is still closing).
 * Writes go out in batches of up to 64 KiB while the socket's write queue is short; each write
 * remembers how many messages it completes, so that they are counted as sent when it is done, or
 * as dropped when the connection breaks under it.
 */
#include "agent/forward.h"

#include "agent/tlsio.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define COMP            "agent-net"
#define BATCH_BYTES     (64u << 10)
#define WRITE_QUEUE_MAX (256u << 10)
#define BACKOFF_MIN_MS  500
#define BACKOFF_MAX_MS  30000
#define UDP_RETRY_MS    20

struct msg {
    size_t len;
    char data[];
};

struct conn {
    union {
        uv_tcp_t tcp;
        uv_udp_t udp;
    } h;
    uv_connect_t creq;
    struct trl_forwarder *f;
    struct trl_tlsio *tls;
    bool up;
    bool dead;
};

/* One uv_write: its bytes follow it. */
struct wr {
    uv_write_t req;
    struct conn *c;
    uint32_t nmsgs;
    char data[];
};

struct trl_forwarder {
    uv_loop_t *loop;
    struct trl_forward_config cfg; /* strings borrowed from the caller's copy below */
    char *name, *host;
    char port[8];
    SSL_CTX *ssl;
    struct msg **ring;
    uint32_t cap, head, count;
    size_t bytes;
    struct conn *conn;
    uv_getaddrinfo_t gai;
    bool resolving;
    uv_timer_t timer; /* reconnection backoff; UDP send retry */
    uint32_t attempt;
    bool failing; /* the last attempt failed: further failures are logged at debug level */
    bool destroyed;
    uint32_t handles; /* open handles of the forwarder itself (its timer) */
    struct trl_buf batch;
    struct trl_forward_stats st;
};

static void pump(struct trl_forwarder *f);
static void start_attempt(struct trl_forwarder *f);

/* ---- queue ---- */

static struct msg *front(struct trl_forwarder *f)
{
    return f->count ? f->ring[f->head] : NULL;
}

static void pop(struct trl_forwarder *f)
{
    struct msg *m = f->ring[f->head];
    f->bytes -= m->len;
    free(m);
    f->ring[f->head] = NULL;
    f->head = (f->head + 1) % f->cap;
    f->count--;
}

void trl_forwarder_push(struct trl_forwarder *f, const void *data, size_t len)
{
    if (f->destroyed)
        return;
    if (f->cfg.transport == TRL_FWD_UDP && len > TRL_FWD_UDP_MAX)
        len = TRL_FWD_UDP_MAX;
    if (f->count == f->cap || f->bytes + len > TRL_FWD_QUEUE_BYTES) {
        f->st.dropped++;
        return;
    }
    struct msg *m = trl_xmalloc(sizeof(*m) + len);
    m->len = len;
    memcpy(m->data, data, len);
    f->ring[(f->head + f->count) % f->cap] = m;
    f->count++;
    f->bytes += len;
    pump(f);
}

/* ---- connection lifecycle ---- */

static uint64_t backoff_ms(struct trl_forwarder *f)
{
    uint64_t d = BACKOFF_MIN_MS;
    for (uint32_t i = 0; i < f->attempt && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    d = TRL_MIN(d, (uint64_t)BACKOFF_MAX_MS);
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)trl_mono_ns();
    return d / 2 + r % (d / 2 + 1);
}

static void on_timer(uv_timer_t *t);

static void schedule(struct trl_forwarder *f, uint64_t ms)
{
    if (!f->destroyed)
        uv_timer_start(&f->timer, on_timer, ms, 0);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    trl_tlsio_destroy(c->tls);
    free(c);
}

/* Drops the connection (reason logged) and schedules the next attempt. */
static void conn_fail(struct trl_forwarder *f, const char *why)
{
    struct conn *c = f->conn;
    if (why) {
        if (!f->failing || (c && c->up))
            trl_warn(COMP, "forwarder %s (%s:%s): %s", f->name, f->host, f->port, why);
        else
            trl_debug(COMP, "forwarder %s (%s:%s): %s", f->name, f->host, f->port, why);
    }
    f->failing = true;
    f->st.connected = false;
    if (c) {
        f->conn = NULL;
        c->dead = true;
        uv_close((uv_handle_t *)&c->h, on_conn_closed);
    }
    uint64_t ms = backoff_ms(f);
    f->attempt++;
    schedule(f, ms);
}

static void conn_up(struct trl_forwarder *f)
{
    f->conn->up = true;
    f->st.connected = true;
    if (f->failing || f->st.reconnects)
        trl_info(COMP, "forwarder %s: connected to %s:%s", f->name, f->host, f->port);
    f->failing = false;
    f->attempt = 0;
    f->st.reconnects++;
    pump(f);
}

static void on_timer(uv_timer_t *t)
{
    struct trl_forwarder *f = t->data;
    if (f->conn)
        pump(f); /* UDP: the kernel had no room a moment ago */
    else
        start_attempt(f);
}

/* ---- writing (TCP, TLS) ---- */

static void on_written(uv_write_t *req, int status)
{
    struct wr *w = (struct wr *)req;
    struct conn *c = w->c;
    struct trl_forwarder *f = c->f;
    if (status < 0) {
        f->st.dropped += w->nmsgs;
        if (!c->dead && f->conn == c)
            conn_fail(f, uv_strerror(status));
    } else {
        f->st.sent += w->nmsgs;
    }
    free(w);
    if (!c->dead && f->conn == c)
        pump(f);
}

static int write_bytes(struct conn *c, const char *p, size_t len, uint32_t nmsgs)
{
    struct wr *w = trl_xmalloc(sizeof(*w) + len);
    w->c = c;
    w->nmsgs = nmsgs;
    memcpy(w->data, p, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->h.tcp, &b, 1, on_written);
    if (rc < 0) {
        c->f->st.dropped += nmsgs;
        free(w);
    }
    return rc;
}

/* Sends the TLS engine's pending output (handshake, or records of messages). */
static int tls_out(struct conn *c, uint32_t nmsgs)
{
    struct trl_forwarder *f = c->f;
    trl_buf_reset(&f->batch);
    trl_tlsio_take_output(c->tls, &f->batch);
    if (f->batch.len == 0) {
        /* Nothing to write: a handshake step without output. Messages always produce records,
         * so nmsgs is 0 here; counting them keeps the books right whatever happens. */
        f->st.sent += nmsgs;
        return 0;
    }
    return write_bytes(c, f->batch.data, f->batch.len, nmsgs);
}

static void frame(struct trl_forwarder *f, struct trl_buf *b, const struct msg *m)
{
    if (f->cfg.framing == TRL_FWD_OCTET_COUNTING) {
        trl_buf_printf(b, "%zu ", m->len);
        trl_buf_append(b, m->data, m->len);
    } else {
        trl_buf_append(b, m->data, m->len);
        trl_buf_putc(b, '\n');
    }
}

static void pump_stream(struct trl_forwarder *f, struct conn *c)
{
    if (!c->up || (c->tls && !trl_tlsio_established(c->tls)))
        return;
    while (f->count && uv_stream_get_write_queue_size((uv_stream_t *)&c->h.tcp) < WRITE_QUEUE_MAX) {
        struct trl_buf plain = {0};
        uint32_t n = 0;
        while (f->count && plain.len < BATCH_BYTES) {
            frame(f, &plain, front(f));
            pop(f);
            n++;
        }
        int rc;
        if (c->tls) {
            rc = trl_tlsio_write(c->tls, plain.data, plain.len);
            if (rc == 0)
                rc = tls_out(c, n);
            else
                f->st.dropped += n;
        } else {
            rc = write_bytes(c, plain.data, plain.len, n);
        }
        trl_buf_free(&plain);
        if (rc != 0) {
            conn_fail(f, "write failed");
            return;
        }
    }
}

/* ---- UDP ---- */

static void pump_udp(struct trl_forwarder *f, struct conn *c)
{
    while (f->count) {
        struct msg *m = front(f);
        uv_buf_t b = uv_buf_init(m->data, (unsigned)m->len);
        int rc = uv_udp_try_send(&c->h.udp, &b, 1, NULL);
        if (rc == UV_EAGAIN || rc == UV_ENOBUFS) {
            if (!uv_is_active((uv_handle_t *)&f->timer))
                schedule(f, UDP_RETRY_MS);
            return;
        }
        if (rc < 0) {
            /* ECONNREFUSED: an ICMP port unreachable for an earlier datagram; the message is
             * lost like any datagram to a collector that is down. */
            f->st.dropped++;
            if (rc != UV_ECONNREFUSED && !f->failing) {
                trl_warn(COMP, "forwarder %s (%s:%s): send failed: %s", f->name, f->host, f->port,
                         uv_strerror(rc));
                f->failing = true;
            }
        } else {
            f->st.sent++;
            f->failing = false;
        }
        pop(f);
    }
}

static void pump(struct trl_forwarder *f)
{
    struct conn *c = f->conn;
    if (!c || c->dead || f->destroyed)
        return;
    if (f->cfg.transport == TRL_FWD_UDP) {
        if (c->up)
            pump_udp(f, c);
    } else {
        pump_stream(f, c);
    }
}

/* ---- connecting ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char scratch[16384];
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct trl_forwarder *f = c->f;
    if (c->dead || nread == 0)
        return;
    if (nread < 0) {
        conn_fail(f, nread == UV_EOF ? "the collector closed the connection"
                                     : uv_strerror((int)nread));
        return;
    }
    if (!c->tls)
        return; /* a syslog collector has nothing to say: ignored */
    bool was_up = trl_tlsio_established(c->tls);
    trl_tlsio_feed(c->tls, buf->base, (size_t)nread);
    char sink[4096];
    int n;
    while ((n = trl_tlsio_read(c->tls, sink, sizeof(sink))) > 0)
        ;
    if (n < 0) {
        char why[300];
        snprintf(why, sizeof(why), "TLS: %s",
                 n == -1 ? "the collector closed the connection" : trl_tlsio_error(c->tls));
        conn_fail(f, why);
        return;
    }
    if (tls_out(c, 0) != 0) {
        conn_fail(f, "write failed");
        return;
    }
    if (!was_up && trl_tlsio_established(c->tls))
        conn_up(f);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct trl_forwarder *f = c->f;
    if (c->dead)
        return;
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof(why), "cannot connect: %s", uv_strerror(status));
        conn_fail(f, why);
        return;
    }
    uv_tcp_nodelay(&c->h.tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->h.tcp, on_alloc, on_read) != 0) {
        conn_fail(f, "cannot read from the socket");
        return;
    }
    if (!c->tls) {
        conn_up(f);
        return;
    }
    /* The client speaks first: trl_tlsio_read() with nothing fed starts the handshake. */
    char none[1];
    if (trl_tlsio_read(c->tls, none, sizeof(none)) < 0 || tls_out(c, 0) != 0)
        conn_fail(f, "TLS handshake could not start");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct trl_forwarder *f = req->data;
    f->resolving = false;
    if (f->destroyed) {
        uv_freeaddrinfo(res);
        if (f->handles == 0)
            goto free_it;
        return;
    }
    if (status < 0 || !res) {
        char why[300];
        snprintf(why, sizeof(why), "cannot resolve %s: %s", f->host, uv_strerror(status));
        uv_freeaddrinfo(res);
        conn_fail(f, why);
        return;
    }
    struct conn *c = trl_xcalloc(1, sizeof(*c));
    c->f = f;
    c->creq.data = c;
    f->conn = c;
    int rc;
    if (f->cfg.transport == TRL_FWD_UDP) {
        uv_udp_init(f->loop, &c->h.udp);
        c->h.udp.data = c;
        rc = uv_udp_connect(&c->h.udp, res->ai_addr);
        uv_freeaddrinfo(res);
        if (rc < 0) {
            char why[160];
            snprintf(why, sizeof(why), "cannot use the address: %s", uv_strerror(rc));
            conn_fail(f, why);
            return;
        }
        conn_up(f);
        return;
    }
    uv_tcp_init(f->loop, &c->h.tcp);
    c->h.tcp.data = c;
    if (f->cfg.transport == TRL_FWD_TLS && !(c->tls = trl_tlsio_create(f->ssl, false, f->host))) {
        uv_freeaddrinfo(res);
        conn_fail(f, "cannot set up TLS");
        return;
    }
    rc = uv_tcp_connect(&c->creq, &c->h.tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof(why), "cannot connect: %s", uv_strerror(rc));
        conn_fail(f, why);
    }
    return;
free_it:
    trl_buf_free(&f->batch);
    free(f->ring);
    free(f->name);
    free(f->host);
    free(f);
}

static void start_attempt(struct trl_forwarder *f)
{
    if (f->conn || f->resolving || f->destroyed)
        return;
    struct addrinfo hints = {
        .ai_socktype = f->cfg.transport == TRL_FWD_UDP ? SOCK_DGRAM : SOCK_STREAM,
    };
    f->gai.data = f;
    int rc = uv_getaddrinfo(f->loop, &f->gai, on_resolved, f->host, f->port, &hints);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof(why), "cannot resolve: %s", uv_strerror(rc));
        conn_fail(f, why);
        return;
    }
    f->resolving = true;
}

/* ---- public ---- */

int trl_forward_ssl_ctx(const struct trl_forward_config *c, SSL_CTX **out, char *err, size_t errlen)
{
    *out = NULL;
    if (c->transport != TRL_FWD_TLS)
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    const char *what = "cannot create a TLS context";
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    what = "cannot load the CA file";
    if ((c->tls_ca ? SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL)
                   : SSL_CTX_set_default_verify_paths(ctx)) != 1)
        goto fail;
    if (c->tls_cert) {
        what = "cannot load the client certificate or its key";
        if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, c->tls_key ? c->tls_key : c->tls_cert,
                                        SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1)
            goto fail;
    }
    *out = ctx;
    return 0;
fail:;
    unsigned long e = ERR_peek_last_error();
    snprintf(err, errlen, "forwarder %s: %s: %s", c->name, what,
             e && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error");
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return TRL_ECONFIG;
}

int trl_forwarder_create(uv_loop_t *loop, const struct trl_forward_config *c, SSL_CTX *ssl,
                         struct trl_forwarder **out)
{
    if (c->transport == TRL_FWD_TLS && !ssl)
        return TRL_EINVAL;
    struct trl_forwarder *f = trl_xcalloc(1, sizeof(*f));
    f->loop = loop;
    f->cfg = *c;
    f->name = trl_xstrdup(c->name ? c->name : c->host);
    f->host = trl_xstrdup(c->host);
    f->cfg.name = f->name;
    f->cfg.host = f->host;
    f->cfg.tls_ca = f->cfg.tls_cert = f->cfg.tls_key = NULL;
    snprintf(f->port, sizeof(f->port), "%u", (unsigned)c->port);
    f->ssl = ssl;
    f->cap = c->queue_size ? c->queue_size : TRL_FWD_QUEUE_DEFAULT;
    f->ring = trl_xcalloc(f->cap, sizeof(*f->ring));
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    f->handles = 1;
    start_attempt(f);
    *out = f;
    return 0;
}

void trl_forwarder_stats(const struct trl_forwarder *f, struct trl_forward_stats *st)
{
    *st = f->st;
    st->queued = f->count;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct trl_forwarder *f = h->data;
    f->handles--;
    if (f->resolving)
        return; /* freed by on_resolved */
    trl_buf_free(&f->batch);
    free(f->ring);
    free(f->name);
    free(f->host);
    free(f);
}

void trl_forwarder_destroy(struct trl_forwarder *f)
{
    if (!f)
        return;
    f->destroyed = true;
    if (f->conn) {
        struct conn *c = f->conn;
        f->conn = NULL;
        c->dead = true;
        uv_close((uv_handle_t *)&c->h, on_conn_closed);
    }
    if (f->resolving)
        uv_cancel((uv_req_t *)&f->gai);
    while (f->count)
        pop(f);
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

void trl_forward_config_free(struct trl_forward_config *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].host);
        free(c[i].tls_ca);
        free(c[i].tls_cert);
        free(c[i].tls_key);
    }
    free(c);
}
