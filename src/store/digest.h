/*
 * digest: SHA-256 for the event store's hash chain, and the little-endian helpers its formats use.
 *
 * A struct trl_sha256 wraps an OpenSSL EVP context; it belongs to one thread at a time and must be
 * released with trl_sha256_free(). Every on-disk integer of the store is little-endian whatever the
 * host, so hashes and blocks written on one machine verify on another.
 */
#ifndef TRL_STORE_DIGEST_H
#define TRL_STORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define TRL_SHA256_LEN 32

struct trl_sha256 {
    void *ctx; /* EVP_MD_CTX */
};

/* 0, or -ENOMEM when OpenSSL cannot make a context. */
int trl_sha256_init(struct trl_sha256 *h);
void trl_sha256_update(struct trl_sha256 *h, const void *p, size_t n);
void trl_sha256_u8(struct trl_sha256 *h, uint8_t v);
void trl_sha256_u32(struct trl_sha256 *h, uint32_t v);
void trl_sha256_u64(struct trl_sha256 *h, uint64_t v);
/* Length-prefixed bytes (u64 length, then the bytes): no two field sequences hash alike. */
void trl_sha256_bytes(struct trl_sha256 *h, const void *p, size_t n);
/* Writes the digest and releases the context. */
void trl_sha256_final(struct trl_sha256 *h, uint8_t out[TRL_SHA256_LEN]);
void trl_sha256_free(struct trl_sha256 *h);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void trl_hex(const uint8_t *p, size_t n, char *out);

static inline void trl_put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void trl_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void trl_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t trl_get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t trl_get_u32le(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t trl_get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
