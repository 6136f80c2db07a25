#include "server/enroll.h"
#include "core/log.h"
#include "core/util.h"
#include "server/enroll_token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int fail_msg(char **err, int rc, const char *msg)
{
    *err = trl_xstrdup(msg);
    return rc;
}

static X509 *read_cert_file(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return c;
}

static EVP_PKEY *read_key_file(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return k;
}

/* Printable ASCII without control bytes, at most TRL_ENROLL_MAX_NAME bytes. */
static bool name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= TRL_ENROLL_MAX_NAME || s[n] < ' ' || s[n] > '~')
            return false;
    }
    return true;
}

/* The key types an agent may use: EC on P-256, or RSA of at least 2048 bits. */
static bool key_ok(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64];
        size_t glen = 0;
        return EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                              &glen) == 1 &&
               (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"));
    }
    if (EVP_PKEY_is_a(key, "RSA"))
        return EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 16384;
    return false;
}

static char *cert_to_pem(X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_X509(b, cert)) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            out = trl_xstrndup(p, (size_t)n);
    }
    BIO_free(b);
    return out;
}

static void hex_colons(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *out++ = hex[p[i] >> 4];
        *out++ = hex[p[i] & 15];
        if (i + 1 < n)
            *out++ = ':';
    }
    *out = '\0';
}

static const char *token_error(int rc)
{
    switch (rc) {
    case -ETIMEDOUT:
        return "enrollment token expired: create a new one with `trapline token`";
    case -EALREADY:
        return "enrollment token already used: create a new one with `trapline token`";
    case -ENOENT:
        return "enrollment token not known to this server";
    default:
        return "enrollment failed: server error";
    }
}

int trl_enroll_issue(struct trl_agent_registry *reg, const struct trl_pki_paths *pki,
                     const char *token, const char *csr_pem, const char *hostname,
                     const char *version, char **cert_pem, char **agent_id, char **err)
{
    struct trl_enroll_token t;
    char token_id[2 * TRL_TOKEN_ID_LEN + 1], fp[128], serial_hex[64], cert_fp[128];
    unsigned char hash[TRL_TOKEN_HASH_LEN], our_fp[TRL_TOKEN_FP_LEN], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    X509_REQ *req = NULL;
    X509 *ca = NULL, *cert = NULL;
    EVP_PKEY *ca_key = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    int rc;

    *cert_pem = NULL;
    *agent_id = NULL;
    *err = NULL;
    hostname = hostname ? hostname : "";
    version = version ? version : "";
    if (!token || trl_enroll_token_decode(token, &t) != 0)
        return fail_msg(err, TRL_EINVAL, "malformed enrollment token");
    if (trl_pki_fingerprint(pki->ca_cert, fp, sizeof(fp)) != 0 ||
        trl_enroll_fp_parse(fp, our_fp) != 0) {
        rc = fail_msg(err, -EIO, "enrollment failed: server error");
        goto out;
    }
    if (CRYPTO_memcmp(our_fp, t.ca_fp, sizeof(our_fp)) != 0) {
        rc = fail_msg(err, -ENOENT, "enrollment token was issued by another server");
        goto out;
    }
    trl_enroll_token_id_hex(&t, token_id);
    trl_enroll_token_hash(&t, hash);
    /* Check the token before spending work on the request, and again when using it up. */
    rc = trl_agent_registry_token_check(reg, token_id, hash, (int64_t)time(NULL));
    if (rc) {
        fail_msg(err, rc, token_error(rc));
        goto out;
    }
    if (!name_ok(hostname) || !name_ok(version)) {
        rc = fail_msg(err, TRL_EINVAL, "hostname or version too long or not printable ASCII");
        goto out;
    }
    if (!csr_pem || strnlen(csr_pem, TRL_ENROLL_MAX_CSR + 1) > TRL_ENROLL_MAX_CSR ||
        !(bio = BIO_new_mem_buf(csr_pem, -1)) ||
        !(req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL))) {
        rc = fail_msg(err, TRL_EINVAL, "malformed certificate signing request");
        goto out;
    }
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub || !key_ok(pub)) {
        rc = fail_msg(
            err, TRL_EINVAL,
            "certificate signing request key must be EC P-256 or RSA of 2048 bits or more");
        goto out;
    }
    if (X509_REQ_verify(req, pub) != 1) {
        rc = fail_msg(err, TRL_EINVAL, "certificate signing request signature is not valid");
        goto out;
    }
    if (!(ca = read_cert_file(pki->ca_cert)) || !(ca_key = read_key_file(pki->ca_key))) {
        trl_error("enroll", "cannot read the CA path=%s", pki->ca_cert);
        rc = fail_msg(err, -EIO, "enrollment failed: server error");
        goto out;
    }
    unsigned char rnd[8];
    char id[32];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        rc = fail_msg(err, -EIO, "enrollment failed: server error");
        goto out;
    }
    memcpy(id, "agt-", 4);
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(id + 4 + 2 * i, sizeof(id) - 4 - 2 * i, "%02x", rnd[i]);
    /* The agent's certificate: the CSR's key, our subject and extensions (nothing else of the
     * CSR is taken over, so an agent cannot ask for a CA certificate or a server name). */
    cert = trl_pki_issue_cert(pub, id, ca, ca_key, TRL_AGENT_CERT_DAYS, TRL_CERT_CLIENT, NULL);
    const ASN1_INTEGER *serial = cert ? X509_get0_serialNumber(cert) : NULL;
    if (!cert || !(pem = cert_to_pem(cert)) || !X509_digest(cert, EVP_sha256(), md, &mdlen) ||
        serial->length <= 0 || (size_t)serial->length * 2 >= sizeof(serial_hex)) {
        rc = fail_msg(err, -EIO, "enrollment failed: server error");
        goto out;
    }
    hex_colons(md, mdlen, cert_fp);
    for (int i = 0; i < serial->length; i++)
        snprintf(serial_hex + 2 * i, sizeof(serial_hex) - 2 * (size_t)i, "%02x", serial->data[i]);
    struct trl_agent_enrollment e = {
        .id = id,
        .hostname = hostname,
        .version = version,
        .cert_serial = serial_hex,
        .cert_fingerprint = cert_fp,
    };
    rc = trl_agent_registry_enroll(reg, token_id, hash, (int64_t)time(NULL), &e);
    if (rc) {
        fail_msg(err, rc, rc == -EEXIST ? "enrollment failed: retry" : token_error(rc));
        goto out;
    }
    trl_info("enroll", "enrolled agent id=%s hostname=\"%s\" version=\"%s\" serial=%s", id,
             hostname, version, serial_hex);
    *cert_pem = pem;
    pem = NULL;
    *agent_id = trl_xstrdup(id);
out:
    OPENSSL_cleanse(&t, sizeof(t));
    free(pem);
    BIO_free(bio);
    X509_REQ_free(req);
    X509_free(ca);
    X509_free(cert);
    EVP_PKEY_free(ca_key);
    return rc;
}

static char *read_text_file(const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = trl_xmalloc(max + 1);
    size_t n = fread(buf, 1, max, f);
    bool ok = !ferror(f) && n < max;
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static char *error_json(const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s ? s : trl_xstrdup("{\"error\":\"enrollment failed\"}");
}

/* A string member, or NULL when absent; *bad when present but not a string. */
static const char *member_str(json_t *o, const char *key, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    const char *s = json_string_value(v);
    /* Embedded NUL bytes would make the C string differ from what was sent. */
    if (strlen(s) != json_string_length(v))
        *bad = true;
    return s;
}

int trl_enroll_handle_json(struct trl_agent_registry *reg, const struct trl_pki_paths *pki,
                           const char *req, size_t len, char **resp_json)
{
    json_t *root = NULL, *resp = NULL;
    char *cert = NULL, *id = NULL, *err = NULL, *ca = NULL;
    int rc;
    *resp_json = NULL;
    if (len > 65536 || !(root = json_loadb(req, len, JSON_REJECT_DUPLICATES, NULL)) ||
        !json_is_object(root)) {
        *resp_json = error_json("malformed enrollment request");
        rc = TRL_EINVAL;
        goto out;
    }
    bool bad = false;
    const char *token = member_str(root, "token", &bad);
    const char *csr = member_str(root, "csr", &bad);
    const char *hostname = member_str(root, "hostname", &bad);
    const char *version = member_str(root, "version", &bad);
    if (bad || !token || !csr) {
        *resp_json = error_json("enrollment request needs \"token\" and \"csr\" strings");
        rc = TRL_EINVAL;
        goto out;
    }
    rc = trl_enroll_issue(reg, pki, token, csr, hostname, version, &cert, &id, &err);
    if (rc) {
        *resp_json = error_json(err);
        goto out;
    }
    ca = read_text_file(pki->ca_cert, 65536);
    resp = ca ? json_pack("{s:s,s:s,s:s}", "agent_id", id, "cert", cert, "ca", ca) : NULL;
    *resp_json = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    if (!*resp_json) {
        /* The agent is recorded but never learns its certificate: revoke it so the row says so. */
        trl_agent_registry_revoke(reg, id);
        *resp_json = error_json("enrollment failed: server error");
        rc = -EIO;
    }
out:
    json_decref(root);
    json_decref(resp);
    free(cert);
    free(id);
    free(err);
    free(ca);
    return rc;
}

int trl_enroll_listener_fn(void *ud, const char *peer, const char *json, size_t len,
                           struct trl_buf *resp)
{
    const struct trl_enroll_ctx *ctx = ud;
    char *out = NULL;
    int rc = trl_enroll_handle_json(ctx->reg, &ctx->pki, json, len, &out);
    trl_buf_reset(resp);
    if (rc == 0) {
        trl_buf_puts(resp, out);
    } else {
        json_t *o = json_loads(out, 0, NULL);
        const char *msg = json_string_value(json_object_get(o, "error"));
        trl_buf_puts(resp, msg ? msg : "enrollment failed");
        trl_warn("enroll", "refused enrollment peer=%s reason=\"%s\"", peer ? peer : "-",
                 msg ? msg : "");
        json_decref(o);
    }
    free(out);
    return rc;
}
