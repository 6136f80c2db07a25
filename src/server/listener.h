/*
 * listener: the internal interface between the server runtime (server.c) and its receivers (udp.c
 * for datagrams, tcp.c for TCP and TLS connections). Not for use outside src/server.
 *
 * The runtime owns the loop, the ingress, the list of listeners and of connections, the timers and
 * the shared read buffers; receivers fill the ingress and keep their counters in their listener.
 * A listener is freed when its socket is closed and its last connection is gone (refs), so a
 * listener removed by a reload keeps counting for the connections it accepted.
 * Threads: the loop thread only.
 */
#ifndef TRL_LISTENER_H
#define TRL_LISTENER_H

#include "server/framing.h"
#include "server/ingress.h"
#include "server/server.h"
#include "server/tls.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* "[ffff:...:ffff]:65535" and a NUL. */
#define TRL_ADDR_STRLEN 56

/* Shared read buffers: one TCP read, one decrypted TLS piece, one batch of datagrams. */
#define TRL_READ_BUF_SIZE (64 * 1024)
#define TRL_UDP_DGRAM_MAX (64 * 1024)
#define TRL_UDP_BATCH     20 /* datagrams per recvmmsg() */

struct trl_srv;

struct trl_listener_stats {
    uint64_t msgs;
    uint64_t bytes; /* as received: ciphertext for TLS */
    uint64_t truncated;
    uint64_t drops; /* UDP: datagrams dropped under congestion */
    uint64_t accepted;
    uint64_t rejected; /* connections refused at max_connections */
    uint64_t errors;   /* connections closed for an error; UDP receive errors */
    uint32_t active;   /* connections open now */
};

struct trl_listener {
    struct trl_srv *srv;
    enum trl_listen_kind kind;
    char *configured;
    char bound[TRL_ADDR_STRLEN];
    struct sockaddr_storage addr;
    union {
        uv_handle_t handle;
        uv_udp_t udp;
        uv_tcp_t tcp;
    } h;
    bool handle_open; /* h was initialised and is not closing */
    bool keep;        /* reload: still configured */
    unsigned refs;    /* the handle plus one per connection */
    struct trl_listener_stats st;
    struct trl_listener_stats published; /* what hooks->counters holds of st */
    struct trl_listener_counters *slot;  /* this address's counters in hooks->counters, or NULL */
    struct trl_listener_stats slot_pub;  /* what slot holds of st */
    struct trl_listener *next;           /* in srv->listeners while open */
    /* The last datagram's sender and its text, since most traffic comes from few senders. */
    struct sockaddr_storage last_peer;
    char last_peer_str[TRL_ADDR_STRLEN];
};

struct trl_conn {
    uv_tcp_t h;
    struct trl_listener *l;
    struct trl_conn *prev, *next; /* in srv->conns while open */
    struct trl_framer fr;
    struct trl_tls_conn *tls; /* NULL on plain TCP */
    char peer[TRL_ADDR_STRLEN];
    uint64_t accepted_ms; /* loop time */
    uint64_t last_msg_ms; /* loop time of the last complete message (or of the accept) */
    uint64_t msgs;
    uint64_t bytes;
    bool reading;
    bool closing;
    bool warned_truncated;
};

struct trl_srv {
    uv_loop_t loop;
    struct trl_pipeline *p;
    const struct trl_server_hooks *hooks;

    /* Settings in force (copied from the options, replaced on reload). */
    size_t max_msg;
    uint32_t max_conns;
    uint64_t idle_ms;
    uint64_t handshake_ms;
    uint64_t stats_ms;
    int udp_rcvbuf;
    struct trl_tls_ctx *tls; /* for new TLS connections; NULL without TLS listeners */

    struct trl_ingress in;
    struct trl_listener *listeners;
    struct trl_conn *conns;
    uint32_t nconns;

    char *readbuf;   /* TRL_READ_BUF_SIZE */
    char *plainbuf;  /* TRL_READ_BUF_SIZE */
    char *udpbuf;    /* TRL_UDP_BATCH * TRL_UDP_DGRAM_MAX */
    int64_t read_ns; /* receive time of the data being framed */

    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t sweep, stats, poll;
    uv_check_t check;
    uv_async_t wake;

    bool paused;
    bool stopping;
    uint64_t paused_at_ms;
    uint64_t pauses;
    uint64_t reject_log_ms; /* rate limit of "connection refused" lines */
    uint64_t rejects_unlogged;
    uint64_t drop_log_ms; /* rate limit of "dropping datagrams" lines */
    uint64_t drops_unlogged;
    uint64_t accept_err_log_ms; /* rate limit of "accept failed" lines */
    uint64_t accept_errs_unlogged;
};

/* Claims the listener's slot in hooks->counters once it is bound (l->bound has the real port). */
static inline void trl_listener_claim_slot(struct trl_listener *l)
{
    struct trl_server_counters *c = l->srv->hooks ? l->srv->hooks->counters : NULL;
    l->slot = trl_server_counters_slot(c, trl_listen_kind_name(l->kind), l->bound);
}

/* Adds what the listener received since the last call to its slot. Receivers call it after each
 * read and when a connection opens or closes, so GET /metrics lags by one read at most. */
static inline void trl_listener_publish(struct trl_listener *l)
{
    struct trl_listener_counters *c = l->slot;
    struct trl_listener_stats *st = &l->st, *pub = &l->slot_pub;
    if (!c)
        return;
    atomic_fetch_add_explicit(&c->msgs, st->msgs - pub->msgs, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bytes, st->bytes - pub->bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->drops, st->drops - pub->drops, memory_order_relaxed);
    /* Unsigned wrap-around adds a negative difference when connections closed. */
    atomic_fetch_add_explicit(&c->conns, (uint64_t)st->active - (uint64_t)pub->active,
                              memory_order_relaxed);
    *pub = *st;
}

/* Formats "ip:port" ("[ip]:port" for IPv6). */
void trl_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/* udp.c: binds and starts receiving; on failure returns a negative libuv error (logged). */
int trl_udp_open(struct trl_listener *l);
void trl_udp_apply_rcvbuf(struct trl_listener *l);
/* At stop: reads what the kernel already holds for this socket. */
void trl_udp_drain(struct trl_listener *l);

/* tcp.c: binds and listens (TCP or TLS by l->kind). */
int trl_tcp_open(struct trl_listener *l);
void trl_conn_pause(struct trl_conn *c);
void trl_conn_resume(struct trl_conn *c);
/* Closes the connection when a timeout has passed. */
void trl_conn_sweep(struct trl_conn *c, uint64_t now_ms);
/* At stop: reads what the kernel already holds, hands over the last message, closes. */
void trl_conn_stop(struct trl_conn *c);

/* server.c */
void trl_listener_unref(struct trl_listener *l);
/* Rate-limited warnings shared by the receivers. */
void trl_srv_log_reject(struct trl_srv *s, struct trl_listener *l, const char *peer);
void trl_srv_log_drop(struct trl_srv *s, struct trl_listener *l, const char *peer);
void trl_srv_log_accept_error(struct trl_srv *s, struct trl_listener *l, int uv_err);

#endif
