/*
 * tls: syslog over TLS (RFC 5425) on top of the event loop's plain streams, with OpenSSL memory
 * BIOs: the connection code feeds the ciphertext it reads, receives the plaintext through a
 * callback, and sends whatever records OpenSSL produced (handshake, alerts, session tickets).
 *
 * A context holds the server certificate, key and client-verification settings; TLS 1.2 is the
 * minimum, renegotiation is refused. Each connection keeps its own reference to the context it was
 * created with, so a context may be replaced (certificate reload) while connections made with the
 * old one live on. Threads: the loop thread (OpenSSL objects are not shared between threads).
 */
#ifndef TRL_TLS_H
#define TRL_TLS_H

#include "server/server.h"

#include <stdbool.h>
#include <stddef.h>

struct trl_tls_ctx;
struct trl_tls_conn;

/* Loads the TLS settings of o: certificate (PEM chain), key, minimum version and, for client
 * certificates, the CA bundle. Returns NULL with the reason in err when a file is missing,
 * unreadable or does not match. */
struct trl_tls_ctx *trl_tls_ctx_create(const struct trl_server_opts *o, char *err, size_t errlen);
void trl_tls_ctx_destroy(struct trl_tls_ctx *ctx);

struct trl_tls_conn *trl_tls_conn_create(struct trl_tls_ctx *ctx);
void trl_tls_conn_destroy(struct trl_tls_conn *t);

enum trl_tls_status {
    TRL_TLS_OK = 0,     /* all input consumed; more is welcome */
    TRL_TLS_CLOSED = 1, /* the peer sent close_notify */
    TRL_TLS_STOP = 2,   /* on_plain asked to stop */
    TRL_TLS_ERROR = -1, /* protocol or verification error: trl_tls_conn_error() says which */
};

/*
 * Feeds ciphertext read from the peer; drives the handshake, then decrypts into plain (plain_cap
 * bytes) and calls on_plain for each piece until no complete record is left. on_plain returns
 * nonzero to stop. Afterwards trl_tls_conn_output_pending() may be nonzero: send it.
 */
enum trl_tls_status trl_tls_conn_feed(struct trl_tls_conn *t, const char *data, size_t len,
                                      char *plain, size_t plain_cap,
                                      int (*on_plain)(void *ud, const char *p, size_t n), void *ud);
bool trl_tls_conn_established(const struct trl_tls_conn *t);
const char *trl_tls_conn_error(const struct trl_tls_conn *t);

/* Queues our close_notify (after the peer's, or when the server stops): send the output after it.
 */
void trl_tls_conn_close_notify(struct trl_tls_conn *t);

/* Records waiting to be sent to the peer, and taking them (at most cap bytes; returns how many). */
size_t trl_tls_conn_output_pending(const struct trl_tls_conn *t);
size_t trl_tls_conn_output_take(struct trl_tls_conn *t, char *buf, size_t cap);

/* "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 client=\"CN=web01\"" (client="" without one). */
void trl_tls_conn_describe(const struct trl_tls_conn *t, char *buf, size_t len);

#endif
