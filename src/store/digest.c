#include "store/digest.h"

#include <errno.h>
#include <openssl/evp.h>

int trl_sha256_init(struct trl_sha256 *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        h->ctx = NULL;
        return -ENOMEM;
    }
    h->ctx = c;
    return 0;
}

void trl_sha256_update(struct trl_sha256 *h, const void *p, size_t n)
{
    if (n)
        EVP_DigestUpdate(h->ctx, p, n);
}

void trl_sha256_u8(struct trl_sha256 *h, uint8_t v)
{
    trl_sha256_update(h, &v, 1);
}

void trl_sha256_u32(struct trl_sha256 *h, uint32_t v)
{
    uint8_t b[4];
    trl_put_u32le(b, v);
    trl_sha256_update(h, b, 4);
}

void trl_sha256_u64(struct trl_sha256 *h, uint64_t v)
{
    uint8_t b[8];
    trl_put_u64le(b, v);
    trl_sha256_update(h, b, 8);
}

void trl_sha256_bytes(struct trl_sha256 *h, const void *p, size_t n)
{
    trl_sha256_u64(h, n);
    trl_sha256_update(h, p, n);
}

void trl_sha256_final(struct trl_sha256 *h, uint8_t out[TRL_SHA256_LEN])
{
    unsigned n = 0;
    EVP_DigestFinal_ex(h->ctx, out, &n);
    trl_sha256_free(h);
}

void trl_sha256_free(struct trl_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void trl_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}
