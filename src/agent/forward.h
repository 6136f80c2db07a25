/*
 * forward: the agent's forwarders to third-party collectors (syslog over UDP, TCP or TLS), next to
 * its delivery to the Trapline server. Each forwarder has its own bounded queue of encoded
 * messages, its own connection and its own reconnection backoff, so that a slow or dead collector
 * only ever costs its own queue: when that queue is full, new messages for it are dropped and
 * counted, nothing else waits.
 *
 * Messages are encoded by the caller (formats/syslog_encode.h) and framed here: UDP sends one
 * message per datagram (cut at 65,000 bytes); TCP and TLS use octet counting (RFC 6587, "LEN SP
 * MSG") or a line feed after each message. TLS is 1.2 or 1.3, the collector's certificate verified
 * against the configured CA (else the system's trust store) and for the configured host, with an
 * optional client certificate. A broken connection is made again after 0.5 s, doubling up to 30 s,
 * each delay randomised between half and all of it; messages written to a connection that broke
 * are counted as dropped.
 *
 * In the agent the forwarders run in the unprivileged network process (privsep_net.h).
 *
 * Ownership: a forwarder copies what it needs from its configuration and owns its queue; the
 * SSL_CTX is the caller's and must outlive it. Threads: one uv loop; every call on that loop's
 * thread.
 */
#ifndef TRL_AGENT_FORWARD_H
#define TRL_AGENT_FORWARD_H

#include "formats/syslog_encode.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum trl_forward_transport { TRL_FWD_UDP, TRL_FWD_TCP, TRL_FWD_TLS };
enum trl_forward_framing { TRL_FWD_OCTET_COUNTING, TRL_FWD_LF };

#define TRL_FWD_MAX           16
#define TRL_FWD_QUEUE_DEFAULT 10000
#define TRL_FWD_QUEUE_BYTES   (16u << 20)
#define TRL_FWD_UDP_MAX       65000

struct trl_forward_config {
    char *name;    /* for logs and health events */
    char *host;    /* name or address of the collector */
    uint16_t port; /* its port */
    enum trl_forward_transport transport;
    enum trl_syslog_encoding format;
    enum trl_forward_framing framing; /* TCP and TLS */
    uint32_t queue_size;              /* messages waiting at most; 0: TRL_FWD_QUEUE_DEFAULT */
    char *tls_ca;                     /* PEM file of the CAs to trust; NULL: system store */
    char *tls_cert;                   /* optional client certificate and its key (PEM) */
    char *tls_key;
};

struct trl_forward_stats {
    uint64_t sent;    /* messages written to the collector (UDP: handed to the kernel) */
    uint64_t dropped; /* messages lost: queue full, connection broken, send failed */
    uint32_t queued;  /* messages waiting */
    uint32_t reconnects;
    bool connected;
};

struct trl_forwarder;

/* The TLS context of a TLS forwarder (NULL for the others, or on error with the reason in err).
 * Reads its files: call it before giving up the privileges that reading them needs. */
int trl_forward_ssl_ctx(const struct trl_forward_config *c, SSL_CTX **out, char *err,
                        size_t errlen);

/* Starts the forwarder on loop: it resolves and connects at once. Returns 0 or a negative error. */
int trl_forwarder_create(uv_loop_t *loop, const struct trl_forward_config *c, SSL_CTX *ssl,
                         struct trl_forwarder **out);
/* Queues one message (without framing); drops it, counted, when the queue is full. */
void trl_forwarder_push(struct trl_forwarder *f, const void *msg, size_t len);
void trl_forwarder_stats(const struct trl_forwarder *f, struct trl_forward_stats *st);
/* Closes the connection and frees the forwarder once its handles are closed (run the loop). */
void trl_forwarder_destroy(struct trl_forwarder *f);

/* Frees the strings of n configurations and the array. */
void trl_forward_config_free(struct trl_forward_config *c, size_t n);

/* The forwarders of an agent YAML file: reads the top-level key `forwarders` (a list of mappings,
 * docs/agent.md) from data and blanks it out in place, keeping line numbers, so that the rest can
 * be read by the agent's other settings. *out is NULL and *n 0 when the key is absent. name is
 * the file's name for messages. Returns 0 or TRL_ECONFIG with the reason in err. */
int trl_forward_config_extract(const char *name, char *data, size_t len,
                               struct trl_forward_config **out, size_t *n, char *err,
                               size_t errlen);

#endif
