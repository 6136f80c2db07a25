/*
 * keys: the Ed25519 key that signs the event store's chain heads.
 *
 * Files: DATA/keys/store-signing.key (PKCS#8 PEM, mode 0600, created on first use by the writer)
 * and DATA/keys/store-signing.pub (PEM, 0644, what `trapline verify` needs). A key is identified by
 * the first 8 bytes of the SHA-256 of its raw public key, in hex ("key id"), which every signed
 * head records. A struct trl_store_key is immutable after loading and may be shared by threads;
 * the caller frees it with trl_store_key_free().
 */
#ifndef TRL_STORE_KEYS_H
#define TRL_STORE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_SIG_LEN    64
#define TRL_KEY_ID_LEN 16 /* hex characters */

struct trl_store_key;

/* Loads the signing key, creating the pair when there is none. 0 or a negative error (logged). */
int trl_store_key_open(const char *data_dir, struct trl_store_key **out);
/* Loads a public key for verification: from pub_path when given, else DATA/keys/store-signing.pub,
 * else derived from the private key file. 0 or a negative error (not logged). */
int trl_store_key_open_public(const char *data_dir, const char *pub_path,
                              struct trl_store_key **out);
void trl_store_key_free(struct trl_store_key *k);

const char *trl_store_key_id(const struct trl_store_key *k);
/* Signs msg into sig (TRL_SIG_LEN bytes); 0 or a negative error. Needs the private key. */
int trl_store_key_sign(const struct trl_store_key *k, const void *msg, size_t len,
                       uint8_t sig[TRL_SIG_LEN]);
bool trl_store_key_verify(const struct trl_store_key *k, const void *msg, size_t len,
                          const uint8_t *sig, size_t sig_len);

#endif
