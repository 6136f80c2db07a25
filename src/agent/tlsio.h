/*
 * tlsio: a two-way TLS 1.3 stream over OpenSSL memory BIOs, for the agent protocol on both ends
 * (the agent's client connection and the server's agent listener). The caller moves ciphertext
 * between the socket and the stream (trl_tlsio_feed / trl_tlsio_take_output) and exchanges
 * plaintext with trl_tlsio_read / trl_tlsio_write; plaintext written before the handshake is done
 * is held and sent once it is.
 *
 * Contexts: trl_tlsio_server_ctx() (server certificate, CA that client certificates must chain to;
 * a client certificate is requested, and verified when sent, but not required so that enrollment
 * can run without one: check trl_tlsio_peer_cn() before accepting data) and trl_tlsio_client_ctx()
 * (pinned CA only, optional client certificate). Both are TLS 1.3 only.
 *
 * Ownership: contexts are SSL_CTX references the caller frees with SSL_CTX_free(); a stream owns
 * its SSL object and buffers. Threads: one thread per stream; contexts may be shared.
 */
#ifndef TRL_AGENT_TLSIO_H
#define TRL_AGENT_TLSIO_H

#include "core/buf.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Returns NULL with the reason in err. */
SSL_CTX *trl_tlsio_server_ctx(const char *cert, const char *key, const char *ca, char *err,
                              size_t errlen);
/* cert and key may both be NULL (enrollment). */
SSL_CTX *trl_tlsio_client_ctx(const char *ca, const char *cert, const char *key, char *err,
                              size_t errlen);

struct trl_tlsio;

/* host (client only): the name or IP address the server certificate must be valid for. */
struct trl_tlsio *trl_tlsio_create(SSL_CTX *ctx, bool server, const char *host);
void trl_tlsio_destroy(struct trl_tlsio *t);

/* Buffers ciphertext received from the peer. */
void trl_tlsio_feed(struct trl_tlsio *t, const void *data, size_t len);
/* Drives the handshake and decrypts: returns the number of plaintext bytes put in buf (> 0), 0
 * when nothing more can be decrypted now, -1 once the peer closed (close_notify), TRL_EINVAL on a
 * protocol or verification error (see trl_tlsio_error). */
int trl_tlsio_read(struct trl_tlsio *t, void *buf, size_t cap);
/* Queues plaintext for the peer. Returns 0 or TRL_EINVAL. */
int trl_tlsio_write(struct trl_tlsio *t, const void *data, size_t len);
/* Moves the ciphertext waiting to be sent to the end of out; returns the number of bytes. */
size_t trl_tlsio_take_output(struct trl_tlsio *t, struct trl_buf *out);
/* Writes the ciphertext waiting to be sent to stream (uv_write; the bytes are freed when written).
 * Returns the number of bytes queued, or 0 when there was nothing or the write failed. */
size_t trl_tlsio_flush(struct trl_tlsio *t, uv_stream_t *stream);
/* Queues close_notify. */
void trl_tlsio_shutdown(struct trl_tlsio *t);

bool trl_tlsio_established(const struct trl_tlsio *t);
/* The CN of the peer's verified certificate, or NULL when it sent none. */
const char *trl_tlsio_peer_cn(const struct trl_tlsio *t);
const char *trl_tlsio_error(const struct trl_tlsio *t);

#endif
