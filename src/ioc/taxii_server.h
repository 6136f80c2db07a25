/*
 * taxii_server: a read-only TAXII 2.1 server over HTTPS for trusted partners, on its own port
 * (ioc.taxii_server.listen), serving what `trapline ioc export` writes.
 *
 * Endpoints: discovery (/taxii2/), one API root (/trapline/), its collections and one collection
 * whose objects are the export of this instance: its identity, the indicators of the local
 * sources and the sightings of the indicators that raised alerts. An object's date_added is its
 * `modified` time, so a sighting seen again comes back to a partner polling with added_after.
 * Objects pages honour added_after, limit (1-1000, default 100) and next, and carry
 * X-TAXII-Date-Added-First/-Last.
 *
 * Every request must send a bearer token whose SHA-256 (lower-case hex) is among the configured
 * ones (tokens themselves are never stored) and accept the TAXII 2.1 media type: 401 and 406
 * otherwise. The server refuses to start without tokens. TLS uses DATA/keys/server.crt and
 * server.key (PEM, libmicrohttpd's GnuTLS).
 *
 * Ownership: the handle owns the daemon and its copies of the options. Threads: start and stop
 * on one thread; requests are served on the daemon's own threads.
 */
#ifndef TRL_IOC_TAXII_SERVER_H
#define TRL_IOC_TAXII_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_taxii_server;

struct trl_taxii_server_opts {
    const char *data_dir;
    const char *listen;               /* "ADDRESS:PORT" (port 0: any free port) */
    const char *cert_path, *key_path; /* PEM */
    const char *const *token_hashes;  /* SHA-256 of each accepted token, hex */
    size_t ntokens;
    const char *identity_name; /* NULL: the export's default */
};

/* Starts serving. NULL (logged) when the options are unusable or the port cannot be bound. */
struct trl_taxii_server *trl_taxii_server_start(const struct trl_taxii_server_opts *o);
/* The port actually bound. */
unsigned trl_taxii_server_port(const struct trl_taxii_server *s);
void trl_taxii_server_stop(struct trl_taxii_server *s);

/* True for 64 hexadecimal digits (a configured token hash). */
bool trl_taxii_token_hash_valid(const char *hex);

#endif
