/*
 * enroll: the server side of agent enrollment. An agent presents a single-use token
 * (server/enroll_token.h) and a certificate signing request; the server checks both, signs a client
 * certificate with its CA (server/pki.h) whose CN is a new agent id, and records the agent in the
 * registry (server/agent_registry.h).
 *
 * The agent listener passes the JSON payload of an ENROLL_REQ frame to trl_enroll_handle_json and
 * sends back, as ENROLL_RESP, the JSON it returns; docs/agent-enrollment.md describes both. For
 * the agent to check the server against the CA fingerprint in its token, the listener must send
 * the CA certificate after its own in the TLS handshake (e.g. SSL_CTX_add1_chain_cert with
 * DATA/keys/ca.crt), and must accept connections without a client certificate for enrollment.
 *
 * Ownership: strings returned through char ** are malloc'ed and the caller frees them. Threads:
 * any thread that may use the registry handle; the CA files are read on each call.
 */
#ifndef TRL_ENROLL_H
#define TRL_ENROLL_H

#include "core/buf.h"
#include "server/agent_registry.h"
#include "server/pki.h"

#include <stddef.h>

/* Agent certificates are valid this long. */
#define TRL_AGENT_CERT_DAYS 365
/* Caps on what a request may carry. */
#define TRL_ENROLL_MAX_CSR  16384
#define TRL_ENROLL_MAX_NAME 255

/*
 * Checks token (known, secret right, not expired, not used, issued for this CA) and csr_pem
 * (PEM PKCS#10, an EC P-256 or RSA >= 2048-bit key, self-signature valid), signs a client
 * certificate (CN = new agent id "agt-" + 16 hex digits, extendedKeyUsage clientAuth, one year,
 * random serial) and records the agent, using the token up. hostname and version may be NULL.
 * Returns 0 with *cert_pem and *agent_id set, or a negative error with *err set to a message fit
 * to send to the agent (it says why without revealing anything about tokens it does not hold).
 */
int trl_enroll_issue(struct trl_agent_registry *reg, const struct trl_pki_paths *pki,
                     const char *token, const char *csr_pem, const char *hostname,
                     const char *version, char **cert_pem, char **agent_id, char **err);

/*
 * The same from an ENROLL_REQ payload {"token","csr","hostname","version"} (req need not be
 * NUL-terminated). Always sets *resp_json: on success {"agent_id","cert","ca"} (the CA as PEM) and
 * returns 0; on failure {"error": message} and returns a negative error. The listener sends it as
 * ENROLL_RESP either way (the agent also understands an ERROR frame).
 */
int trl_enroll_handle_json(struct trl_agent_registry *reg, const struct trl_pki_paths *pki,
                           const char *req, size_t len, char **resp_json);

/* What trl_enroll_listener_fn needs: the server's registry handle and CA files. */
struct trl_enroll_ctx {
    struct trl_agent_registry *reg;
    struct trl_pki_paths pki;
};

/*
 * The agent listener's enroll callback (server/agent_listener.h, trl_agent_enroll_fn) with ud a
 * struct trl_enroll_ctx: on success resp holds the ENROLL_RESP JSON and 0 is returned; on failure
 * resp holds the reason as plain text (for an ERROR frame) and a negative error is returned.
 */
int trl_enroll_listener_fn(void *ud, const char *peer, const char *json, size_t len,
                           struct trl_buf *resp);

#endif
