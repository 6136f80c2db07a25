/*
 * pki: the server's own certificate authority, created on first start in DATA/keys/.
 *
 * Files: ca.key / ca.crt (the CA that later signs agent certificates), server.key / server.crt (the
 * TLS identity of the syslog-TLS and agent listeners, signed by the CA, valid for localhost, the
 * loopback addresses and this host's name). Keys are ECDSA P-256 (every TLS peer speaks it), mode
 * 0600. Existing files are never overwritten. Called from the main thread at start-up.
 */
#ifndef TRL_PKI_H
#define TRL_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

struct trl_pki_paths {
    char ca_cert[4096];
    char ca_key[4096];
    char server_cert[4096];
    char server_key[4096];
};

/* Creates whatever is missing under data_dir/keys and fills paths. 0 or a negative error (logged).
 */
int trl_pki_ensure(const char *data_dir, struct trl_pki_paths *paths);
enum trl_cert_kind {
    TRL_CERT_CA,     /* may sign certificates (path length 0) */
    TRL_CERT_SERVER, /* a TLS server (and client) identity */
    TRL_CERT_CLIENT, /* a TLS client identity only: what an agent gets */
};

/* A certificate for key with subject O=Trapline, CN=cn, valid from an hour ago for days, a random
 * 128-bit serial, signed by issuer / issuer_key (self-signed when issuer is NULL); san is the
 * subjectAltName ("DNS:x,IP:y") or NULL. Returns NULL on failure; the caller X509_free()s it. */
X509 *trl_pki_issue_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                         int days, enum trl_cert_kind kind, const char *san);

/* SHA-256 fingerprint of a PEM certificate file as lower-case hex with colons; 0 or negative error.
 */
int trl_pki_fingerprint(const char *cert_path, char *out, size_t outlen);

#endif
