/*
 * http_server: the HTTPS server of the web console and REST API (`trapline server --http`).
 *
 * libmicrohttpd with GnuTLS: TLS 1.2 or 1.3 only, a pool of worker threads, a cap on connections
 * (in all and per client address), a timeout per connection, request bodies capped at 1 MiB
 * (8 MiB for rule and indicator uploads; larger ones get 413). Requests go through a table of
 * routes (web/api.h); console files come from the table compiled into the binary (web/assets.h).
 * Every response carries the security headers of the API contract (docs/api.md).
 *
 * Ownership: the server copies the options' strings; the pipeline stays the caller's and must
 * outlive the server. Threads: start and stop from one thread (the main thread); requests run on
 * the server's own threads.
 */
#ifndef TRL_WEB_HTTP_SERVER_H
#define TRL_WEB_HTTP_SERVER_H

#include "detect/detector.h"
#include "server/pipeline.h"
#include "server/server.h"

struct trl_http_opts {
    const char *listen;    /* "127.0.0.1:8443", "[::1]:8443"; port 0 picks a free one */
    const char *cert_file; /* PEM certificate (chain) */
    const char *key_file;  /* PEM private key */
    const char *data_dir;
    struct trl_pipeline *pipeline; /* audit events go here; may be NULL */
    const char *const *rule_paths; /* Sigma rule files/directories the detector loads */
    size_t nrule_paths;
    bool local_rules; /* DATA/rules is evaluated too: uploads go there (and SIGHUP loads them) */
    const char *agents_address; /* server.agents, for enrollment commands; may be NULL */
    /* The running detector (rule state, hits, evaluation time) and the syslog listeners'
     * counters, for the rules API and /metrics; either may be NULL. Not owned: they must
     * outlive the server. */
    struct trl_detector *detector;
    const struct trl_server_counters *listener_counters;
    unsigned threads;         /* worker threads (default 4) */
    unsigned max_connections; /* open connections at once (default 256) */
    unsigned timeout_s;       /* idle seconds before a connection is closed (default 30) */
};

struct trl_http_server;

/* Opens the user database (creating the first admin on first start), binds and starts serving.
 * NULL on failure (logged). */
struct trl_http_server *trl_http_server_start(const struct trl_http_opts *o);
/* Stops accepting, finishes the requests in progress and frees everything. NULL-safe. */
void trl_http_server_stop(struct trl_http_server *s);
/* The address bound, with the real port: "127.0.0.1:8443". */
const char *trl_http_server_address(const struct trl_http_server *s);

#endif
