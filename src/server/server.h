/*
 * server: the network side of `trapline server`: one libuv event loop that receives syslog over
 * UDP, TCP and TLS and hands every message to the pipeline.
 *
 * trl_server_run() binds every configured listener, calls hooks->ready, then runs until SIGTERM or
 * SIGINT: it stops accepting, reads what the kernel already holds for each connection, submits
 * every message to the pipeline and returns 0. The caller then destroys the pipeline, which writes
 * what is queued. SIGHUP calls hooks->reload and applies the new options without dropping
 * connections: listeners that did not change stay open, new ones are bound, removed ones are closed
 * (their open connections are kept), the TLS files are loaded again for new connections,
 * max_message_size applies to new connections and the other limits at once.
 *
 * Nothing accepted on a stream is ever dropped: when the pipeline is congested the server stops
 * reading from every TCP/TLS connection until the pipeline drains. UDP senders cannot be slowed, so
 * datagrams that arrive when the queue is past its hard limit are dropped and counted.
 *
 * Ownership: the server copies what it keeps from the options; strings stay the caller's. Options
 * returned by hooks->reload must stay valid until the next reload call or until trl_server_run()
 * returns. Threads: trl_server_run() runs on the calling thread (which should be the main thread:
 * it installs signal handlers and ignores SIGPIPE); trl_server_waker_notify() may be called from
 * any thread.
 */
#ifndef TRL_SERVER_H
#define TRL_SERVER_H

#include "server/pipeline.h"

#include <stddef.h>
#include <stdint.h>

#define TRL_SERVER_MAX_LISTEN 16

enum trl_listen_kind {
    TRL_LISTEN_UDP,
    TRL_LISTEN_TCP,
    TRL_LISTEN_TLS,
};

enum trl_tls_min_version {
    TRL_TLS_MIN_1_2, /* the order of server.tls.min_version's names in the configuration */
    TRL_TLS_MIN_1_3,
};

enum trl_client_auth {
    TRL_CLIENT_AUTH_NONE,     /* no client certificate asked for */
    TRL_CLIENT_AUTH_OPTIONAL, /* asked for; if one is sent it must verify against tls_ca */
    TRL_CLIENT_AUTH_REQUIRED, /* a client certificate that verifies against tls_ca is required */
};

struct trl_server_opts {
    /* Listen addresses, "ADDR:PORT": "0.0.0.0:514", "127.0.0.1:6514", "[::]:514", "[::1]:6514";
     * ":514" or "*:514" is every IPv4 address. Port 0 picks a free port (see hooks->ready). */
    const char *syslog_udp[TRL_SERVER_MAX_LISTEN];
    size_t n_syslog_udp;
    const char *syslog_tcp[TRL_SERVER_MAX_LISTEN];
    size_t n_syslog_tcp;
    const char *syslog_tls[TRL_SERVER_MAX_LISTEN]; /* RFC 5425: TLS 1.2 or later */
    size_t n_syslog_tls;

    const char *tls_cert; /* PEM certificate (chain) and key: required with syslog_tls */
    const char *tls_key;
    const char *tls_ca; /* PEM CA bundle verifying client certificates (optional/required) */
    enum trl_client_auth tls_client_auth; /* optional without tls_ca asks for no certificate */
    enum trl_tls_min_version tls_min_version;

    size_t max_message_size;       /* longer messages are cut and flagged (default 65536) */
    uint32_t max_connections;      /* TCP + TLS connections open at once (default 10000) */
    uint64_t idle_timeout_ms;      /* close a connection that delivered no complete message for
                                      this long: idle or too slow (default 300000; 0 = never) */
    uint64_t handshake_timeout_ms; /* close a TLS connection not through its handshake by then
                                      (default 10000) */
    int udp_rcvbuf;                /* SO_RCVBUF of UDP sockets in bytes (default 8 MiB; 0 = the
                                      system default) */
    uint64_t stats_interval_ms; /* counters logged this often (default 60000; 0 = at exit only) */
};

/* Fills the defaults above, with no listeners. */
void trl_server_opts_init(struct trl_server_opts *o);
/* Appends a listen address of one kind; TRL_EFULL past TRL_SERVER_MAX_LISTEN. The string is not
 * copied. */
int trl_server_opts_add(struct trl_server_opts *o, enum trl_listen_kind kind, const char *addr);
/* Removes every listen address of one kind (`--syslog-udp off`). */
void trl_server_opts_clear(struct trl_server_opts *o, enum trl_listen_kind kind);
/* Checks the options as trl_server_run() would (addresses parse, TLS files given when a TLS
 * listener is, CA given when client certificates are required, limits in range). Returns 0, or
 * TRL_ECONFIG with the reason written to err. */
int trl_server_opts_check(const struct trl_server_opts *o, char *err, size_t errlen);

/* "none", "optional", "required" -> enum trl_client_auth; -1 when unknown. */
int trl_client_auth_parse(const char *s);
/* "udp", "tcp", "tls". */
const char *trl_listen_kind_name(enum trl_listen_kind kind);

/* One bound listener, as reported to hooks->ready. */
struct trl_server_bound {
    enum trl_listen_kind kind;
    const char *configured; /* the address as given */
    const char *address;    /* the address bound, with the real port: "127.0.0.1:40123" */
};

/*
 * Carries the pipeline's drain notification (worker thread) to the server loop. Create it before
 * the pipeline, give trl_server_waker_notify and the waker as trl_pipeline_config.on_drain and
 * on_drain_ud, pass it in hooks, and destroy it after the pipeline. Without one the server polls
 * the pipeline every few milliseconds while paused, which works but reacts more slowly.
 */
struct trl_server_waker;
struct trl_server_waker *trl_server_waker_create(void);
void trl_server_waker_destroy(struct trl_server_waker *w);
void trl_server_waker_notify(void *waker);

/* What one listener (a syslog UDP, TCP or TLS address, or the agent listener) received since the
 * start, for GET /metrics. The receiver adds to its own slot as it goes (one writer per slot); any
 * thread may read. kind and address are written once, before state turns TRL_COUNTERS_USED. */
#define TRL_SERVER_COUNTER_SLOTS 64

enum { TRL_COUNTERS_FREE, TRL_COUNTERS_CLAIMING, TRL_COUNTERS_USED };

struct trl_listener_counters {
    _Atomic int state;
    char kind[8];           /* "udp", "tcp", "tls", "agent" */
    char address[56];       /* as bound, with the real port */
    _Atomic uint64_t msgs;  /* messages received (agent listener: events) */
    _Atomic uint64_t bytes; /* bytes received (TLS: as on the wire) */
    _Atomic uint64_t drops; /* UDP datagrams dropped under congestion */
    _Atomic uint64_t conns; /* connections open now */
};

/* Syslog received per listener kind since the start (listeners closed by a reload included), for
 * GET /metrics. The server's loop publishes its counters here at the end of every loop iteration;
 * any thread may read them. listeners[] holds the same per listener address. */
struct trl_server_counters {
    _Atomic uint64_t msgs[3]; /* by enum trl_listen_kind */
    _Atomic uint64_t bytes[3];
    _Atomic uint64_t drops[3]; /* UDP datagrams dropped under congestion */
    struct trl_listener_counters listeners[TRL_SERVER_COUNTER_SLOTS];
};

/* The slot of the listener of this kind and address, claimed at its first use: a listener closed
 * by a reload and opened again on the same address counts on in the same slot. NULL when c is
 * NULL or every slot is taken. Any thread. */
struct trl_listener_counters *trl_server_counters_slot(struct trl_server_counters *c,
                                                       const char *kind, const char *address);

struct trl_server_hooks {
    void *ud;
    /* SIGHUP: fill *out with the new options (re-read the configuration). Return 0 to apply them,
     * a negative error to keep running unchanged (the caller logs why). May be NULL. */
    int (*reload)(void *ud, struct trl_server_opts *out);
    /* Called once, when every listener is bound. May be NULL. */
    void (*ready)(void *ud, const struct trl_server_bound *bound, size_t count);
    struct trl_server_waker *waker;       /* may be NULL */
    struct trl_server_counters *counters; /* may be NULL */
};

/*
 * Runs the server until SIGTERM or SIGINT. Returns 0 after a clean stop, or a negative error when
 * it could not start (bad options, a listener that cannot be bound, unreadable TLS files: logged).
 * hooks may be NULL.
 */
int trl_server_run(const struct trl_server_opts *opts, struct trl_pipeline *p,
                   const struct trl_server_hooks *hooks);

#endif
