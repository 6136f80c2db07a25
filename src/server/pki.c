#include "server/pki.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CA_DAYS     3650
#define SERVER_DAYS 825

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

static int write_key(const char *path, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -errno;
    }
    int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok ? 0 : -EIO;
}

static int write_cert(const char *path, X509 *cert)
{
    FILE *f = fopen(path, "wx");
    if (!f)
        return -errno;
    int ok = PEM_write_X509(f, cert);
    return fclose(f) == 0 && ok ? 0 : -EIO;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

X509 *trl_pki_issue_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                         int days, enum trl_cert_kind kind, const char *san)
{
    X509 *cert = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial number */
    serial[0] |= 0x01; /* and never a short one */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
        goto fail;
    X509_NAME *name = X509_get_subject_name(cert);
    if (!X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) ||
        !X509_set_pubkey(cert, key) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Trapline", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name))
        goto fail;
    X509 *iss = issuer ? issuer : cert;
    switch (kind) {
    case TRL_CERT_CA:
        if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
            add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign") ||
            add_ext(cert, iss, NID_subject_key_identifier, "hash"))
            goto fail;
        break;
    case TRL_CERT_SERVER:
    case TRL_CERT_CLIENT:
        if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE") ||
            add_ext(cert, iss, NID_key_usage,
                    kind == TRL_CERT_SERVER ? "critical,digitalSignature,keyAgreement"
                                            : "critical,digitalSignature") ||
            add_ext(cert, iss, NID_ext_key_usage,
                    kind == TRL_CERT_SERVER ? "serverAuth,clientAuth" : "clientAuth") ||
            add_ext(cert, iss, NID_subject_key_identifier, "hash") ||
            add_ext(cert, iss, NID_authority_key_identifier, "keyid:always") ||
            (san && add_ext(cert, iss, NID_subject_alt_name, san)))
            goto fail;
        break;
    }
    if (!X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()))
        goto fail;
    BN_free(bn);
    return cert;
fail:
    BN_free(bn);
    X509_free(cert);
    return NULL;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return c;
}

int trl_pki_ensure(const char *data_dir, struct trl_pki_paths *p)
{
    char dir[4000];
    if (snprintf(dir, sizeof(dir), "%s/keys", data_dir) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        trl_error("pki", "cannot create path=%s error=\"%s\"", dir, strerror(errno));
        return -errno;
    }
    snprintf(p->ca_cert, sizeof(p->ca_cert), "%s/ca.crt", dir);
    snprintf(p->ca_key, sizeof(p->ca_key), "%s/ca.key", dir);
    snprintf(p->server_cert, sizeof(p->server_cert), "%s/server.crt", dir);
    snprintf(p->server_key, sizeof(p->server_key), "%s/server.key", dir);

    EVP_PKEY *ca_key = NULL, *srv_key = NULL;
    X509 *ca = NULL, *srv = NULL;
    int rc = -EIO;
    if (!exists(p->ca_key) || !exists(p->ca_cert)) {
        if (exists(p->ca_key) || exists(p->ca_cert)) {
            trl_error("pki", "half a CA in path=%s: remove ca.key and ca.crt, or restore both",
                      dir);
            goto out;
        }
        ca_key = new_key();
        char cn[300];
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(cn, sizeof(cn), "Trapline CA %s", host);
        ca = ca_key ? trl_pki_issue_cert(ca_key, cn, NULL, NULL, CA_DAYS, TRL_CERT_CA, NULL) : NULL;
        if (!ca || (rc = write_key(p->ca_key, ca_key)) != 0 ||
            (rc = write_cert(p->ca_cert, ca)) != 0) {
            trl_error("pki", "cannot create the CA in path=%s", dir);
            rc = rc ? rc : -EIO;
            goto out;
        }
        trl_info("pki", "created certificate authority path=%s", p->ca_cert);
    }
    if (!exists(p->server_key) || !exists(p->server_cert)) {
        if (!ca_key)
            ca_key = read_key(p->ca_key);
        if (!ca)
            ca = read_cert(p->ca_cert);
        if (!ca_key || !ca) {
            trl_error("pki", "cannot read the CA in path=%s", dir);
            goto out;
        }
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        char san[600];
        snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,IP:127.0.0.1,IP:::1", host);
        unlink(p->server_key);
        unlink(p->server_cert);
        srv_key = new_key();
        srv = srv_key
                  ? trl_pki_issue_cert(srv_key, host, ca, ca_key, SERVER_DAYS, TRL_CERT_SERVER, san)
                  : NULL;
        if (!srv || (rc = write_key(p->server_key, srv_key)) != 0 ||
            (rc = write_cert(p->server_cert, srv)) != 0) {
            trl_error("pki", "cannot create the server certificate in path=%s", dir);
            rc = rc ? rc : -EIO;
            goto out;
        }
        trl_info("pki", "created server certificate path=%s", p->server_cert);
    }
    rc = 0;
out:
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    X509_free(ca);
    X509_free(srv);
    return rc;
}

int trl_pki_fingerprint(const char *cert_path, char *out, size_t outlen)
{
    X509 *c = read_cert(cert_path);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!c)
        return -ENOENT;
    int ok = X509_digest(c, EVP_sha256(), md, &n);
    X509_free(c);
    if (!ok || outlen < n * 3)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + i * 3, outlen - i * 3, "%02x%s", md[i], i + 1 < n ? ":" : "");
    return 0;
}
