/*
 * server: the event loop of `trapline server`: options, listeners, back-pressure, timers, signals,
 * reload and the orderly stop. Receivers live in udp.c and tcp.c.
 */
#include "server/server.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "server/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* How often the pipeline is asked again while reads are paused: often without a waker, rarely
 * with one (then only a safety net). */
#define POLL_MS_NO_WAKER 5
#define POLL_MS_WAKER    100

/* ---- options ----------------------------------------------------------------------------------
 */

void trl_server_opts_init(struct trl_server_opts *o)
{
    *o = (struct trl_server_opts){
        .tls_client_auth = TRL_CLIENT_AUTH_NONE,
        .max_message_size = 65536,
        .max_connections = 10000,
        .idle_timeout_ms = 300000,
        .handshake_timeout_ms = 10000,
        .udp_rcvbuf = 8 << 20,
        .stats_interval_ms = 60000,
    };
}

static const char **kind_list(struct trl_server_opts *o, enum trl_listen_kind kind, size_t **n)
{
    switch (kind) {
    case TRL_LISTEN_UDP:
        *n = &o->n_syslog_udp;
        return o->syslog_udp;
    case TRL_LISTEN_TCP:
        *n = &o->n_syslog_tcp;
        return o->syslog_tcp;
    default:
        *n = &o->n_syslog_tls;
        return o->syslog_tls;
    }
}

int trl_server_opts_add(struct trl_server_opts *o, enum trl_listen_kind kind, const char *addr)
{
    size_t *n;
    const char **list = kind_list(o, kind, &n);
    if (*n >= TRL_SERVER_MAX_LISTEN)
        return TRL_EFULL;
    list[(*n)++] = addr;
    return 0;
}

void trl_server_opts_clear(struct trl_server_opts *o, enum trl_listen_kind kind)
{
    size_t *n;
    kind_list(o, kind, &n);
    *n = 0;
}

int trl_client_auth_parse(const char *s)
{
    if (!strcmp(s, "none"))
        return TRL_CLIENT_AUTH_NONE;
    if (!strcmp(s, "optional"))
        return TRL_CLIENT_AUTH_OPTIONAL;
    if (!strcmp(s, "required"))
        return TRL_CLIENT_AUTH_REQUIRED;
    return -1;
}

const char *trl_listen_kind_name(enum trl_listen_kind kind)
{
    switch (kind) {
    case TRL_LISTEN_UDP:
        return "udp";
    case TRL_LISTEN_TCP:
        return "tcp";
    default:
        return "tls";
    }
}

/* Parses "ADDR:PORT", "[V6]:PORT", ":PORT", "*:PORT" or "PORT". Returns 0 or TRL_EINVAL with the
 * reason in err. */
static int parse_listen_addr(const char *s, struct sockaddr_storage *out, char *err, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port;
    memset(out, 0, sizeof(*out));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host)) {
            snprintf(err, errlen, "'%s': expected [IPV6]:PORT", s);
            return TRL_EINVAL;
        }
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && memchr(s, ':', (size_t)(colon - s))) {
            snprintf(err, errlen, "'%s': write IPv6 addresses in brackets, e.g. [::]:514", s);
            return TRL_EINVAL;
        }
        size_t hl = colon ? (size_t)(colon - s) : 0;
        if (hl >= sizeof(host)) {
            snprintf(err, errlen, "'%s': expected ADDR:PORT", s);
            return TRL_EINVAL;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
        port = colon ? colon + 1 : s;
    }
    uint64_t p;
    if (!trl_parse_u64(port, strlen(port), &p) || p > 65535) {
        snprintf(err, errlen, "'%s': port must be 0..65535", s);
        return TRL_EINVAL;
    }
    if (s[0] == '[') {
        if (uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)out) != 0) {
            snprintf(err, errlen, "'%s': not an IPv6 address", s);
            return TRL_EINVAL;
        }
        return 0;
    }
    const char *h = host;
    if (!h[0] || !strcmp(h, "*"))
        h = "0.0.0.0";
    else if (!strcmp(h, "localhost"))
        h = "127.0.0.1";
    if (uv_ip4_addr(h, (int)p, (struct sockaddr_in *)out) != 0) {
        snprintf(err, errlen, "'%s': not an IPv4 address", s);
        return TRL_EINVAL;
    }
    return 0;
}

int trl_server_opts_check(const struct trl_server_opts *o, char *err, size_t errlen)
{
    const char *const *lists[] = {o->syslog_udp, o->syslog_tcp, o->syslog_tls};
    const size_t counts[] = {o->n_syslog_udp, o->n_syslog_tcp, o->n_syslog_tls};
    for (int k = 0; k < 3; k++) {
        if (counts[k] > TRL_SERVER_MAX_LISTEN) {
            snprintf(err, errlen, "too many %s listeners (at most %d)",
                     trl_listen_kind_name((enum trl_listen_kind)k), TRL_SERVER_MAX_LISTEN);
            return TRL_ECONFIG;
        }
        for (size_t i = 0; i < counts[k]; i++) {
            struct sockaddr_storage ss;
            char why[256];
            if (!lists[k][i] || parse_listen_addr(lists[k][i], &ss, why, sizeof(why)) != 0) {
                snprintf(err, errlen, "%s listener %s",
                         trl_listen_kind_name((enum trl_listen_kind)k),
                         lists[k][i] ? why : "address missing");
                return TRL_ECONFIG;
            }
        }
    }
    if (o->n_syslog_udp + o->n_syslog_tcp + o->n_syslog_tls == 0) {
        snprintf(err, errlen, "no listener configured");
        return TRL_ECONFIG;
    }
    if (o->n_syslog_tls && (!o->tls_cert || !o->tls_key)) {
        snprintf(err, errlen,
                 "syslog TLS listeners need a certificate and a key (tls cert, tls key)");
        return TRL_ECONFIG;
    }
    if (o->tls_client_auth == TRL_CLIENT_AUTH_REQUIRED && o->n_syslog_tls && !o->tls_ca) {
        snprintf(err, errlen,
                 "required client certificates need a CA bundle (tls ca) to check them");
        return TRL_ECONFIG;
    }
    if (o->max_message_size < 64 || o->max_message_size > ((size_t)16 << 20)) {
        snprintf(err, errlen, "max message size must be 64..16777216 bytes");
        return TRL_ECONFIG;
    }
    if (o->max_connections < 1) {
        snprintf(err, errlen, "max connections must be at least 1");
        return TRL_ECONFIG;
    }
    if (o->udp_rcvbuf < 0) {
        snprintf(err, errlen, "udp receive buffer must not be negative");
        return TRL_ECONFIG;
    }
    return 0;
}

void trl_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
    } else {
        snprintf(buf, len, "unknown");
    }
}

/* ---- waker ------------------------------------------------------------------------------------
 */

struct trl_server_waker {
    pthread_mutex_t mu;
    uv_async_t *async; /* set while a server runs */
};

struct trl_server_waker *trl_server_waker_create(void)
{
    struct trl_server_waker *w = trl_xcalloc(1, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    return w;
}

void trl_server_waker_destroy(struct trl_server_waker *w)
{
    if (!w)
        return;
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void trl_server_waker_notify(void *waker)
{
    struct trl_server_waker *w = waker;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->async)
        uv_async_send(w->async);
    pthread_mutex_unlock(&w->mu);
}

static void waker_attach(struct trl_server_waker *w, uv_async_t *async)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->async = async;
    pthread_mutex_unlock(&w->mu);
}

/* ---- counters ---------------------------------------------------------------------------------
 */

static void log_listener_stats(const struct trl_listener *l, const char *note)
{
    const struct trl_listener_stats *st = &l->st;
    if (l->kind == TRL_LISTEN_UDP) {
        trl_info("server",
                 "stats: udp=%s msgs=%llu bytes=%llu truncated=%llu drops=%llu errors=%llu%s",
                 l->bound, (unsigned long long)st->msgs, (unsigned long long)st->bytes,
                 (unsigned long long)st->truncated, (unsigned long long)st->drops,
                 (unsigned long long)st->errors, note);
        return;
    }
    trl_info(
        "server",
        "stats: %s=%s msgs=%llu bytes=%llu truncated=%llu conns=%u accepted=%llu rejected=%llu "
        "errors=%llu%s",
        trl_listen_kind_name(l->kind), l->bound, (unsigned long long)st->msgs,
        (unsigned long long)st->bytes, (unsigned long long)st->truncated, st->active,
        (unsigned long long)st->accepted, (unsigned long long)st->rejected,
        (unsigned long long)st->errors, note);
}

static void log_stats(struct trl_srv *s)
{
    for (struct trl_listener *l = s->listeners; l; l = l->next)
        log_listener_stats(l, "");
    struct trl_pipeline_stats ps;
    trl_pipeline_get_stats(s->p, &ps);
    trl_info("server",
             "stats: pipeline events=%llu bytes=%llu unparsed=%llu truncated=%llu sink_errors=%llu "
             "queued=%u pauses=%llu",
             (unsigned long long)ps.events, (unsigned long long)ps.bytes,
             (unsigned long long)ps.unparsed, (unsigned long long)ps.truncated,
             (unsigned long long)ps.sink_errors, ps.queued_batches, (unsigned long long)s->pauses);
}

void trl_srv_log_reject(struct trl_srv *s, struct trl_listener *l, const char *peer)
{
    uint64_t now = uv_now(&s->loop);
    if (s->reject_log_ms && now - s->reject_log_ms < 1000) {
        s->rejects_unlogged++;
        return;
    }
    trl_warn(trl_listen_kind_name(l->kind),
             "refused connection peer=%s listener=%s reason=\"%s\" also_refused=%llu", peer,
             l->bound, s->stopping ? "server stopping" : "max_connections reached",
             (unsigned long long)s->rejects_unlogged);
    s->reject_log_ms = now;
    s->rejects_unlogged = 0;
}

void trl_srv_log_drop(struct trl_srv *s, struct trl_listener *l, const char *peer)
{
    uint64_t now = uv_now(&s->loop);
    if (s->drop_log_ms && now - s->drop_log_ms < 10000) {
        s->drops_unlogged++;
        return;
    }
    trl_warn("udp",
             "dropping datagrams: pipeline congested listener=%s peer=%s also_dropped=%llu "
             "total_drops=%llu",
             l->bound, peer, (unsigned long long)s->drops_unlogged,
             (unsigned long long)l->st.drops);
    s->drop_log_ms = now;
    s->drops_unlogged = 0;
}

void trl_srv_log_accept_error(struct trl_srv *s, struct trl_listener *l, int uv_err)
{
    uint64_t now = uv_now(&s->loop);
    if (s->accept_err_log_ms && now - s->accept_err_log_ms < 1000) {
        s->accept_errs_unlogged++;
        return;
    }
    trl_warn(trl_listen_kind_name(l->kind),
             "accept failed listener=%s error=\"%s\" also_failed=%llu hint=\"%s\"", l->bound,
             uv_strerror(uv_err), (unsigned long long)s->accept_errs_unlogged,
             uv_err == UV_EMFILE || uv_err == UV_ENFILE ? "out of file descriptors: raise ulimit -n"
                                                        : "");
    s->accept_err_log_ms = now;
    s->accept_errs_unlogged = 0;
}

/* ---- listeners --------------------------------------------------------------------------------
 */

void trl_listener_unref(struct trl_listener *l)
{
    if (--l->refs > 0)
        return;
    free(l->configured);
    free(l);
}

static void on_listener_closed(uv_handle_t *h)
{
    trl_listener_unref(h->data);
}

/* Adds what the listener received since the last call to hooks->counters. */
static void publish_counters(struct trl_srv *s, struct trl_listener *l)
{
    struct trl_server_counters *c = s->hooks ? s->hooks->counters : NULL;
    if (!c || (unsigned)l->kind >= TRL_ARRAY_LEN(c->msgs))
        return;
    struct trl_listener_stats *st = &l->st, *pub = &l->published;
    atomic_fetch_add_explicit(&c->msgs[l->kind], st->msgs - pub->msgs, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bytes[l->kind], st->bytes - pub->bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->drops[l->kind], st->drops - pub->drops, memory_order_relaxed);
    *pub = *st;
}

static void listener_close(struct trl_srv *s, struct trl_listener *l)
{
    publish_counters(s, l);
    struct trl_listener **pp = &s->listeners;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
    l->next = NULL;
    if (l->handle_open) {
        l->handle_open = false;
        uv_close(&l->h.handle, on_listener_closed);
    } else {
        trl_listener_unref(l);
    }
}

/* Binds one listener; on failure logs, closes it and returns the libuv error. */
static int listener_open(struct trl_srv *s, enum trl_listen_kind kind, const char *configured,
                         const struct sockaddr_storage *addr)
{
    struct trl_listener *l = trl_xcalloc(1, sizeof(*l));
    l->srv = s;
    l->kind = kind;
    l->configured = trl_xstrdup(configured);
    l->addr = *addr;
    l->refs = 1; /* ours until the handle takes over */
    l->keep = true;
    trl_sockaddr_str((const struct sockaddr *)addr, l->bound, sizeof(l->bound));
    int rc = kind == TRL_LISTEN_UDP ? trl_udp_open(l) : trl_tcp_open(l);
    l->refs--; /* the handle's reference (if it was created) remains */
    if (rc < 0) {
        trl_error("server", "cannot listen %s=%s error=\"%s\"", trl_listen_kind_name(kind),
                  configured, uv_strerror(rc));
        if (l->handle_open) {
            l->handle_open = false;
            uv_close(&l->h.handle, on_listener_closed);
        } else {
            trl_listener_unref(l);
        }
        return rc;
    }
    struct trl_listener **tail = &s->listeners; /* configuration order, for the logs */
    while (*tail)
        tail = &(*tail)->next;
    *tail = l;
    trl_info("server", "listening %s=%s", trl_listen_kind_name(kind), l->bound);
    return 0;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    size_t n = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return memcmp(a, b, n) == 0;
}

static struct trl_listener *find_listener(struct trl_srv *s, enum trl_listen_kind kind,
                                          const struct sockaddr_storage *addr)
{
    for (struct trl_listener *l = s->listeners; l; l = l->next) {
        if (l->kind == kind && same_addr(&l->addr, addr))
            return l;
    }
    return NULL;
}

/* Opens the listeners of o that are not open yet and marks the ones still wanted. Returns how many
 * failed; counts opened ones in *opened. */
static int open_listeners(struct trl_srv *s, const struct trl_server_opts *o, int *opened)
{
    const char *const *lists[] = {o->syslog_udp, o->syslog_tcp, o->syslog_tls};
    const size_t counts[] = {o->n_syslog_udp, o->n_syslog_tcp, o->n_syslog_tls};
    int failed = 0;
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < counts[k]; i++) {
            struct sockaddr_storage ss;
            char err[256];
            if (parse_listen_addr(lists[k][i], &ss, err, sizeof(err)) != 0) {
                trl_error("server", "%s listener %s", trl_listen_kind_name((enum trl_listen_kind)k),
                          err);
                failed++;
                continue;
            }
            struct trl_listener *l = find_listener(s, (enum trl_listen_kind)k, &ss);
            if (l) {
                l->keep = true;
                continue;
            }
            if (listener_open(s, (enum trl_listen_kind)k, lists[k][i], &ss) < 0)
                failed++;
            else
                (*opened)++;
        }
    }
    return failed;
}

/* ---- back-pressure ----------------------------------------------------------------------------
 */

static void on_poll(uv_timer_t *t);

static void on_congested(void *ud)
{
    struct trl_srv *s = ud;
    if (s->stopping || s->paused)
        return;
    s->paused = true;
    s->pauses++;
    s->paused_at_ms = uv_now(&s->loop);
    for (struct trl_conn *c = s->conns; c; c = c->next)
        trl_conn_pause(c);
    trl_debug("server", "pipeline congested: reads paused conns=%u", s->nconns);
    uint64_t every = s->hooks && s->hooks->waker ? POLL_MS_WAKER : POLL_MS_NO_WAKER;
    uv_timer_start(&s->poll, on_poll, every, every);
}

static void try_resume(struct trl_srv *s)
{
    if (!trl_ingress_recheck(&s->in) || !s->paused)
        return;
    s->paused = false;
    uv_timer_stop(&s->poll);
    uint64_t now = uv_now(&s->loop);
    uint64_t paused_for = now - s->paused_at_ms;
    /* Time spent paused was ours, not the sender's: it does not count toward their timeouts. */
    for (struct trl_conn *c = s->conns; c; c = c->next) {
        c->last_msg_ms += paused_for;
        c->accepted_ms += paused_for;
        trl_conn_resume(c);
    }
    trl_debug("server", "pipeline drained: reads resumed after_ms=%llu conns=%u",
              (unsigned long long)paused_for, s->nconns);
}

static void on_poll(uv_timer_t *t)
{
    try_resume(t->data);
}

static void on_wake(uv_async_t *a)
{
    try_resume(a->data);
}

/* End of every loop iteration: what arrived in it goes to the pipeline now. */
static void on_check(uv_check_t *h)
{
    struct trl_srv *s = h->data;
    trl_ingress_flush(&s->in);
    for (struct trl_listener *l = s->listeners; l; l = l->next)
        publish_counters(s, l);
}

/* ---- timers -----------------------------------------------------------------------------------
 */

static void on_sweep(uv_timer_t *t)
{
    struct trl_srv *s = t->data;
    if (s->paused)
        return;
    uint64_t now = uv_now(&s->loop);
    struct trl_conn *c = s->conns;
    while (c) {
        struct trl_conn *next = c->next; /* c may close and unlink */
        trl_conn_sweep(c, now);
        c = next;
    }
}

static void on_stats(uv_timer_t *t)
{
    log_stats(t->data);
}

/* How often connections are checked: a quarter of the shortest timeout, between 50 ms and 1 s. */
static uint64_t sweep_interval(const struct trl_srv *s)
{
    uint64_t shortest = UINT64_MAX;
    if (s->idle_ms)
        shortest = s->idle_ms;
    if (s->handshake_ms && s->handshake_ms < shortest)
        shortest = s->handshake_ms;
    uint64_t every = shortest == UINT64_MAX ? 1000 : shortest / 4;
    return TRL_MAX((uint64_t)50, TRL_MIN((uint64_t)1000, every));
}

static void apply_settings(struct trl_srv *s, const struct trl_server_opts *o)
{
    s->max_msg = o->max_message_size;
    s->max_conns = o->max_connections;
    s->idle_ms = o->idle_timeout_ms;
    s->handshake_ms = o->handshake_timeout_ms;
    s->stats_ms = o->stats_interval_ms;
    s->udp_rcvbuf = o->udp_rcvbuf;
}

static void start_timers(struct trl_srv *s)
{
    uint64_t every = sweep_interval(s);
    uv_timer_start(&s->sweep, on_sweep, every, every);
    if (s->stats_ms)
        uv_timer_start(&s->stats, on_stats, s->stats_ms, s->stats_ms);
    else
        uv_timer_stop(&s->stats);
}

/* ---- reload and stop --------------------------------------------------------------------------
 */

static void reload(struct trl_srv *s)
{
    if (!s->hooks || !s->hooks->reload) {
        trl_info("server", "SIGHUP: no configuration to reload");
        return;
    }
    struct trl_server_opts o;
    trl_server_opts_init(&o);
    int rc = s->hooks->reload(s->hooks->ud, &o);
    if (rc < 0) {
        trl_warn("server", "reload failed, running configuration kept error=\"%s\"",
                 trl_strerror(rc));
        return;
    }
    char err[512];
    if (trl_server_opts_check(&o, err, sizeof(err)) != 0) {
        trl_error("server", "reload rejected, running configuration kept: %s", err);
        return;
    }
    struct trl_tls_ctx *tls = NULL;
    if (o.n_syslog_tls) {
        tls = trl_tls_ctx_create(&o, err, sizeof(err));
        if (!tls) {
            trl_error("server", "reload rejected, running configuration kept: TLS: %s", err);
            return;
        }
    }
    apply_settings(s, &o);
    trl_tls_ctx_destroy(s->tls);
    s->tls = tls;
    for (struct trl_listener *l = s->listeners; l; l = l->next) {
        l->keep = false;
        if (l->kind == TRL_LISTEN_UDP)
            trl_udp_apply_rcvbuf(l);
    }
    int opened = 0, closed = 0, kept = 0;
    int failed = open_listeners(s, &o, &opened);
    struct trl_listener *l = s->listeners;
    while (l) {
        struct trl_listener *next = l->next;
        if (!l->keep) {
            log_listener_stats(l, " closed=1");
            trl_info("server", "closing listener %s=%s", trl_listen_kind_name(l->kind), l->bound);
            listener_close(s, l);
            closed++;
        } else {
            kept++;
        }
        l = next;
    }
    kept -= opened;
    start_timers(s);
    trl_info("server",
             "reloaded listeners_opened=%d listeners_closed=%d listeners_kept=%d failed=%d", opened,
             closed, kept, failed);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stop(struct trl_srv *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = true;
    trl_info("server", "stopping signal=%s conns=%u", why, s->nconns);
    if (s->paused) {
        s->paused = false;
        uv_timer_stop(&s->poll);
    }
    /* No new connections; what is already in the kernel's buffers is still read. The listeners
     * stay listed (their memory lives until their close callbacks) for the final counters. */
    for (struct trl_listener *l = s->listeners; l; l = l->next) {
        if (l->kind == TRL_LISTEN_UDP)
            trl_udp_drain(l);
        if (l->handle_open) {
            l->handle_open = false;
            uv_close(&l->h.handle, on_listener_closed);
        }
    }
    while (s->conns)
        trl_conn_stop(s->conns);
    trl_ingress_flush(&s->in);
    log_stats(s);
    s->listeners = NULL;
    waker_attach(s->hooks ? s->hooks->waker : NULL, NULL);
    close_handle((uv_handle_t *)&s->sig_term);
    close_handle((uv_handle_t *)&s->sig_int);
    close_handle((uv_handle_t *)&s->sig_hup);
    close_handle((uv_handle_t *)&s->sweep);
    close_handle((uv_handle_t *)&s->stats);
    close_handle((uv_handle_t *)&s->poll);
    close_handle((uv_handle_t *)&s->check);
    close_handle((uv_handle_t *)&s->wake);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct trl_srv *s = h->data;
    if (signum == SIGHUP) {
        trl_info("server", "SIGHUP: reloading");
        reload(s);
        return;
    }
    stop(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- run --------------------------------------------------------------------------------------
 */

/* Many thousands of connections need as many descriptors: take the hard limit. */
static void raise_nofile(uint32_t max_conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_conns + 64) {
        trl_warn("server",
                 "open file limit below max_connections limit=%llu max_connections=%u "
                 "hint=\"raise LimitNOFILE / ulimit -n\"",
                 (unsigned long long)rl.rlim_cur, max_conns);
    }
}

static void init_handles(struct trl_srv *s)
{
    uv_signal_init(&s->loop, &s->sig_term);
    uv_signal_init(&s->loop, &s->sig_int);
    uv_signal_init(&s->loop, &s->sig_hup);
    uv_timer_init(&s->loop, &s->sweep);
    uv_timer_init(&s->loop, &s->stats);
    uv_timer_init(&s->loop, &s->poll);
    uv_check_init(&s->loop, &s->check);
    uv_async_init(&s->loop, &s->wake, on_wake);
    uv_handle_t *hs[] = {(uv_handle_t *)&s->sig_term, (uv_handle_t *)&s->sig_int,
                         (uv_handle_t *)&s->sig_hup,  (uv_handle_t *)&s->sweep,
                         (uv_handle_t *)&s->stats,    (uv_handle_t *)&s->poll,
                         (uv_handle_t *)&s->check,    (uv_handle_t *)&s->wake};
    for (size_t i = 0; i < TRL_ARRAY_LEN(hs); i++)
        hs[i]->data = s;
}

static void report_ready(struct trl_srv *s)
{
    size_t n = 0;
    for (struct trl_listener *l = s->listeners; l; l = l->next)
        n++;
    struct trl_server_bound *bound = trl_xcalloc(n ? n : 1, sizeof(*bound));
    size_t i = 0;
    for (struct trl_listener *l = s->listeners; l; l = l->next)
        bound[i++] = (struct trl_server_bound){l->kind, l->configured, l->bound};
    if (s->hooks && s->hooks->ready)
        s->hooks->ready(s->hooks->ud, bound, n);
    free(bound);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    close_handle(h);
}

static void srv_free(struct trl_srv *s)
{
    /* Everything still open (a failed start) is closed, and its callbacks run, before the loop
     * and its memory go away. */
    while (s->listeners)
        listener_close(s, s->listeners);
    uv_walk(&s->loop, close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    trl_ingress_close(&s->in);
    if (uv_loop_close(&s->loop) != 0)
        trl_error("server", "event loop closed with handles still open");
    trl_tls_ctx_destroy(s->tls);
    free(s->readbuf);
    free(s->plainbuf);
    free(s->udpbuf);
    free(s);
}

int trl_server_run(const struct trl_server_opts *opts, struct trl_pipeline *p,
                   const struct trl_server_hooks *hooks)
{
    char err[512];
    if (trl_server_opts_check(opts, err, sizeof(err)) != 0) {
        trl_error("server", "%s", err);
        return TRL_ECONFIG;
    }
    raise_nofile(opts->max_connections);
    /* A peer that resets while we write a TLS record must not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    struct trl_srv *s = trl_xcalloc(1, sizeof(*s));
    int rc = uv_loop_init(&s->loop);
    if (rc < 0) {
        trl_error("server", "cannot create event loop: %s", uv_strerror(rc));
        free(s);
        return rc;
    }
    s->p = p;
    s->hooks = hooks;
    apply_settings(s, opts);
    trl_ingress_init(&s->in, p, on_congested, s);
    s->readbuf = trl_xmalloc(TRL_READ_BUF_SIZE);
    s->plainbuf = trl_xmalloc(TRL_READ_BUF_SIZE);
    s->udpbuf = trl_xmalloc((size_t)TRL_UDP_BATCH * TRL_UDP_DGRAM_MAX);
    init_handles(s);

    if (opts->n_syslog_tls) {
        if (opts->tls_client_auth == TRL_CLIENT_AUTH_OPTIONAL && !opts->tls_ca)
            trl_warn("tls", "client auth optional without a CA bundle: no client certificate is "
                            "asked for");
        s->tls = trl_tls_ctx_create(opts, err, sizeof(err));
        if (!s->tls) {
            trl_error("server", "TLS: %s", err);
            srv_free(s);
            return TRL_ECONFIG;
        }
    }
    int opened = 0;
    if (open_listeners(s, opts, &opened) > 0) {
        srv_free(s);
        return TRL_ECONFIG;
    }
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
    uv_check_start(&s->check, on_check);
    start_timers(s);
    waker_attach(hooks ? hooks->waker : NULL, &s->wake);
    report_ready(s);

    uv_run(&s->loop, UV_RUN_DEFAULT);

    waker_attach(hooks ? hooks->waker : NULL, NULL);
    srv_free(s);
    trl_info("server", "stopped");
    return 0;
}
