/*
 * enroll_token: the enrollment tokens `trapline token` prints and `trapline agent enroll` takes.
 *
 * A token is "trl1_" followed by base64url (no padding) of: a version byte (1), an 8-byte token
 * id, a 16-byte random secret, the 32-byte SHA-256 fingerprint of the server's CA certificate and,
 * optionally, the agent listener's address (HOST:PORT, up to 255 printable bytes). The server
 * keeps the token id and the SHA-256 of the secret only (server/agent_registry.h), so a copy of
 * agents.db does not let anyone enroll. The agent pins the CA fingerprint: it talks only to a
 * server whose certificate chains to that CA.
 *
 * Pure functions apart from trl_enroll_token_create (random bytes, the CA file, the registry);
 * any thread.
 */
#ifndef TRL_ENROLL_TOKEN_H
#define TRL_ENROLL_TOKEN_H

#include "server/agent_registry.h"

#include <stddef.h>
#include <stdint.h>

#define TRL_TOKEN_ID_LEN     8
#define TRL_TOKEN_SECRET_LEN 16
#define TRL_TOKEN_FP_LEN     32
#define TRL_TOKEN_SERVER_MAX 255
/* The longest text form, with its NUL. */
#define TRL_TOKEN_TEXT_MAX 512

struct trl_enroll_token {
    unsigned char id[TRL_TOKEN_ID_LEN];
    unsigned char secret[TRL_TOKEN_SECRET_LEN];
    unsigned char ca_fp[TRL_TOKEN_FP_LEN];
    char server[TRL_TOKEN_SERVER_MAX + 1]; /* "" when the token names no address */
};

/* Writes the text form into out (at least TRL_TOKEN_TEXT_MAX bytes). 0 or TRL_EINVAL. */
int trl_enroll_token_encode(const struct trl_enroll_token *t, char *out, size_t outlen);
/* Parses the text form (surrounding white space allowed). 0 or TRL_EINVAL. */
int trl_enroll_token_decode(const char *text, struct trl_enroll_token *t);

/* The token id as 16 lower-case hex digits (the key in enroll_tokens). */
void trl_enroll_token_id_hex(const struct trl_enroll_token *t, char out[2 * TRL_TOKEN_ID_LEN + 1]);
/* SHA-256 of the secret, as stored by the registry. */
void trl_enroll_token_hash(const struct trl_enroll_token *t, unsigned char out[TRL_TOKEN_HASH_LEN]);

/* Parses "aa:bb:..." (trl_pki_fingerprint's form) into 32 bytes. 0 or TRL_EINVAL. */
int trl_enroll_fp_parse(const char *hex, unsigned char out[TRL_TOKEN_FP_LEN]);

/* Creates a token valid for ttl_s seconds for the CA in ca_cert, stores its hash in reg and writes
 * the text form into out (TRL_TOKEN_TEXT_MAX bytes). server may be NULL. 0 or a negative error. */
int trl_enroll_token_create(struct trl_agent_registry *reg, const char *ca_cert, int64_t ttl_s,
                            const char *server, char *out, size_t outlen);

#endif
