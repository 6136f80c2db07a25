#include "server/enroll_token.h"
#include "core/util.h"
#include "server/pki.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#define TOKEN_PREFIX  "trl1_"
#define TOKEN_VERSION 1
#define TOKEN_FIXED   (1 + TRL_TOKEN_ID_LEN + TRL_TOKEN_SECRET_LEN + TRL_TOKEN_FP_LEN)

static bool server_ok(const char *s, size_t len)
{
    if (len > TRL_TOKEN_SERVER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    }
    return true;
}

int trl_enroll_token_encode(const struct trl_enroll_token *t, char *out, size_t outlen)
{
    unsigned char raw[TOKEN_FIXED + TRL_TOKEN_SERVER_MAX];
    size_t slen = strnlen(t->server, sizeof(t->server));
    if (!server_ok(t->server, slen))
        return TRL_EINVAL;
    size_t n = 0;
    raw[n++] = TOKEN_VERSION;
    memcpy(raw + n, t->id, TRL_TOKEN_ID_LEN);
    n += TRL_TOKEN_ID_LEN;
    memcpy(raw + n, t->secret, TRL_TOKEN_SECRET_LEN);
    n += TRL_TOKEN_SECRET_LEN;
    memcpy(raw + n, t->ca_fp, TRL_TOKEN_FP_LEN);
    n += TRL_TOKEN_FP_LEN;
    memcpy(raw + n, t->server, slen);
    n += slen;
    size_t plen = strlen(TOKEN_PREFIX);
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (outlen < plen + need)
        return TRL_EINVAL;
    memcpy(out, TOKEN_PREFIX, plen);
    sodium_bin2base64(out + plen, outlen - plen, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

int trl_enroll_token_decode(const char *text, struct trl_enroll_token *t)
{
    memset(t, 0, sizeof(*t));
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    size_t plen = strlen(TOKEN_PREFIX);
    if (len <= plen || len >= TRL_TOKEN_TEXT_MAX || memcmp(text, TOKEN_PREFIX, plen) != 0)
        return TRL_EINVAL;
    unsigned char raw[TOKEN_FIXED + TRL_TOKEN_SERVER_MAX + 4];
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(raw, sizeof(raw), text + plen, len - plen, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text + len || n < TOKEN_FIXED || raw[0] != TOKEN_VERSION ||
        !server_ok((const char *)raw + TOKEN_FIXED, n - TOKEN_FIXED))
        return TRL_EINVAL;
    size_t off = 1;
    memcpy(t->id, raw + off, TRL_TOKEN_ID_LEN);
    off += TRL_TOKEN_ID_LEN;
    memcpy(t->secret, raw + off, TRL_TOKEN_SECRET_LEN);
    off += TRL_TOKEN_SECRET_LEN;
    memcpy(t->ca_fp, raw + off, TRL_TOKEN_FP_LEN);
    off += TRL_TOKEN_FP_LEN;
    memcpy(t->server, raw + off, n - off);
    t->server[n - off] = '\0';
    return 0;
}

void trl_enroll_token_id_hex(const struct trl_enroll_token *t, char out[2 * TRL_TOKEN_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < TRL_TOKEN_ID_LEN; i++) {
        out[2 * i] = hex[t->id[i] >> 4];
        out[2 * i + 1] = hex[t->id[i] & 15];
    }
    out[2 * TRL_TOKEN_ID_LEN] = '\0';
}

void trl_enroll_token_hash(const struct trl_enroll_token *t, unsigned char out[TRL_TOKEN_HASH_LEN])
{
    unsigned int n = 0;
    EVP_Digest(t->secret, TRL_TOKEN_SECRET_LEN, out, &n, EVP_sha256(), NULL);
}

int trl_enroll_fp_parse(const char *s, unsigned char out[TRL_TOKEN_FP_LEN])
{
    for (size_t i = 0; i < TRL_TOKEN_FP_LEN; i++) {
        int hi = trl_hex_value(s[0]);
        int lo = hi < 0 ? -1 : trl_hex_value(s[1]);
        if (lo < 0)
            return TRL_EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
        s += 2;
        if (i + 1 < TRL_TOKEN_FP_LEN && *s++ != ':')
            return TRL_EINVAL;
    }
    return *s ? TRL_EINVAL : 0;
}

int trl_enroll_token_create(struct trl_agent_registry *reg, const char *ca_cert, int64_t ttl_s,
                            const char *server, char *out, size_t outlen)
{
    struct trl_enroll_token t = {0};
    char fp[128], id[2 * TRL_TOKEN_ID_LEN + 1];
    unsigned char hash[TRL_TOKEN_HASH_LEN];
    int rc = trl_pki_fingerprint(ca_cert, fp, sizeof(fp));
    if (rc)
        return rc;
    if (trl_enroll_fp_parse(fp, t.ca_fp) || ttl_s <= 0)
        return TRL_EINVAL;
    if (server) {
        if (!server_ok(server, strlen(server)))
            return TRL_EINVAL;
        strcpy(t.server, server);
    }
    if (RAND_bytes(t.id, sizeof(t.id)) != 1 || RAND_bytes(t.secret, sizeof(t.secret)) != 1)
        return -EIO;
    rc = trl_enroll_token_encode(&t, out, outlen);
    if (rc)
        goto out;
    trl_enroll_token_id_hex(&t, id);
    trl_enroll_token_hash(&t, hash);
    rc = trl_agent_registry_token_add(reg, id, hash, (int64_t)time(NULL) + ttl_s);
out:
    OPENSSL_cleanse(&t, sizeof(t));
    return rc;
}
