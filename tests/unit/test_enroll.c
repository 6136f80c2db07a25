/* Agent enrollment on the server: tokens (garbage, expired, used, for another CA), certificate
 * signing requests (bad signature, weak keys) and the certificate issued (verifies against the CA,
 * CN = agent id, client use only), directly and through the JSON request handler. */
#include "trl_test.h"

#include "server/agent_registry.h"
#include "server/enroll.h"
#include "server/enroll_token.h"
#include "server/pki.h"
#include "test_agent_util.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct fixture {
    char *dir;
    struct trl_pki_paths pki;
    struct trl_agent_registry *reg;
    char token[TRL_TOKEN_TEXT_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    *state = f;
    f->dir = agent_test_mkdtemp();
    if (!f->dir || trl_pki_ensure(f->dir, &f->pki) != 0)
        return -1;
    f->reg = trl_agent_registry_open(f->dir);
    if (!f->reg)
        return -1;
    return trl_enroll_token_create(f->reg, f->pki.ca_cert, 600, NULL, f->token, sizeof(f->token));
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_agent_registry_close(f->reg);
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* A PEM CSR for key; with other set, the request carries other's public key but key's
 * signature, which must not verify. */
static char *csr_pem(EVP_PKEY *key, EVP_PKEY *other)
{
    X509_REQ *req = X509_REQ_new();
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                               (const unsigned char *)"web01", -1, -1, 0);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    if (other)
        assert_int_equal(X509_REQ_set_pubkey(req, other), 1);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509_REQ(b, req), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_REQ_free(req);
    return out;
}

static X509 *cert_of(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(c);
    return c;
}

static X509 *ca_of(const struct fixture *f)
{
    FILE *fp = fopen(f->pki.ca_cert, "r");
    assert_non_null(fp);
    X509 *ca = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(ca);
    return ca;
}

/* Issues with f's token and a fresh P-256 key; returns the error code and the message. */
static int issue(struct fixture *f, const char *token, const char *csr, char **err)
{
    char *cert = NULL, *id = NULL;
    int rc = trl_enroll_issue(f->reg, &f->pki, token, csr, "web01", "0.1.0", &cert, &id, err);
    free(cert);
    free(id);
    return rc;
}

static void test_issued_cert_verifies_against_ca_with_cn_agent_id_for_clients(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *csr = csr_pem(key, NULL);
    char *cert_pem = NULL, *id = NULL, *err = NULL;
    assert_int_equal(
        trl_enroll_issue(f->reg, &f->pki, f->token, csr, "web01", "0.1.0", &cert_pem, &id, &err),
        0);
    assert_null(err);
    assert_int_equal(strlen(id), 20);
    assert_memory_equal(id, "agt-", 4);

    X509 *cert = cert_of(cert_pem), *ca = ca_of(f);
    char cn[64];
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, id);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
    assert_false(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_ca(cert), 0);
    /* Valid for a year, give or take the hour of clock skew allowed at the start. */
    int days = 0, secs = 0;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)), 1);
    assert_in_range(days, 364, 365);

    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    X509_STORE_CTX_init(v, store, cert, NULL);
    X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_CLIENT);
    assert_int_equal(X509_verify_cert(v), 1);
    X509_STORE_CTX_cleanup(v);
    X509_STORE_CTX_init(v, store, cert, NULL);
    X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_SERVER);
    assert_int_not_equal(X509_verify_cert(v), 1);

    assert_false(trl_agent_registry_is_revoked(f->reg, id));
    X509_STORE_CTX_free(v);
    X509_STORE_free(store);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    free(csr);
    free(cert_pem);
    free(id);
}

static void test_second_use_of_token_is_refused(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *csr = csr_pem(key, NULL), *err = NULL;
    assert_int_equal(issue(f, f->token, csr, &err), 0);
    assert_int_equal(issue(f, f->token, csr, &err), -EALREADY);
    assert_string_equal(err,
                        "enrollment token already used: create a new one with `trapline token`");
    free(err);
    free(csr);
    EVP_PKEY_free(key);
}

static void test_expired_token_is_refused(void **state)
{
    struct fixture *f = *state;
    /* A token whose hash was stored with an expiry a second ago. */
    struct trl_enroll_token t = {.id = {1, 2, 3, 4, 5, 6, 7, 8}, .secret = {9}};
    char fp[128], id[2 * TRL_TOKEN_ID_LEN + 1], text[TRL_TOKEN_TEXT_MAX];
    unsigned char hash[TRL_TOKEN_HASH_LEN];
    assert_int_equal(trl_pki_fingerprint(f->pki.ca_cert, fp, sizeof(fp)), 0);
    assert_int_equal(trl_enroll_fp_parse(fp, t.ca_fp), 0);
    assert_int_equal(trl_enroll_token_encode(&t, text, sizeof(text)), 0);
    trl_enroll_token_id_hex(&t, id);
    trl_enroll_token_hash(&t, hash);
    assert_int_equal(trl_agent_registry_token_add(f->reg, id, hash, (int64_t)time(NULL) - 1), 0);

    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *csr = csr_pem(key, NULL), *err = NULL;
    assert_int_equal(issue(f, text, csr, &err), -ETIMEDOUT);
    assert_string_equal(err, "enrollment token expired: create a new one with `trapline token`");
    free(err);
    free(csr);
    EVP_PKEY_free(key);
}

static void test_garbage_and_foreign_tokens_are_refused(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *csr = csr_pem(key, NULL), *err = NULL;
    static const char *const garbage[] = {
        "",
        "trl1_",
        "hello",
        "trl1_!!!!",
        "trl2_AAAA",
        "trl1_AQIDBAUGBwgJ",
        "trl1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(garbage); i++) {
        assert_int_equal(issue(f, garbage[i], csr, &err), TRL_EINVAL);
        assert_string_equal(err, "malformed enrollment token");
        free(err);
    }

    /* Well formed, right CA, but a secret the server never stored. */
    struct trl_enroll_token t;
    char text[TRL_TOKEN_TEXT_MAX];
    assert_int_equal(trl_enroll_token_decode(f->token, &t), 0);
    t.secret[0] ^= 1;
    assert_int_equal(trl_enroll_token_encode(&t, text, sizeof(text)), 0);
    assert_int_equal(issue(f, text, csr, &err), -ENOENT);
    assert_string_equal(err, "enrollment token not known to this server");
    free(err);

    /* Issued for another server's CA. */
    assert_int_equal(trl_enroll_token_decode(f->token, &t), 0);
    t.ca_fp[31] ^= 1;
    assert_int_equal(trl_enroll_token_encode(&t, text, sizeof(text)), 0);
    assert_int_equal(issue(f, text, csr, &err), -ENOENT);
    assert_string_equal(err, "enrollment token was issued by another server");
    free(err);

    /* None of that used the real token up. */
    assert_int_equal(issue(f, f->token, csr, &err), 0);
    free(csr);
    EVP_PKEY_free(key);
}

static void test_csr_with_bad_signature_is_refused_and_keeps_token(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
    char *csr = csr_pem(a, b), *err = NULL;
    assert_int_equal(issue(f, f->token, csr, &err), TRL_EINVAL);
    assert_string_equal(err, "certificate signing request signature is not valid");
    free(err);
    free(csr);
    assert_int_equal(issue(f, f->token, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", &err),
                     TRL_EINVAL);
    assert_string_equal(err, "malformed certificate signing request");
    free(err);
    csr = csr_pem(a, NULL);
    assert_int_equal(issue(f, f->token, csr, &err), 0);
    free(csr);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

static void test_weak_or_odd_keys_are_refused(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *rsa1024 = EVP_RSA_gen(1024), *p384 = EVP_EC_gen("P-384");
    char *err = NULL;
    EVP_PKEY *keys[] = {rsa1024, p384};
    for (size_t i = 0; i < TRL_ARRAY_LEN(keys); i++) {
        char *csr = csr_pem(keys[i], NULL);
        assert_int_equal(issue(f, f->token, csr, &err), TRL_EINVAL);
        assert_string_equal(
            err, "certificate signing request key must be EC P-256 or RSA of 2048 bits or more");
        free(err);
        free(csr);
    }
    EVP_PKEY *rsa2048 = EVP_RSA_gen(2048);
    char *csr = csr_pem(rsa2048, NULL);
    assert_int_equal(issue(f, f->token, csr, &err), 0);
    free(csr);
    EVP_PKEY_free(rsa2048);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(p384);
}

static void test_control_bytes_in_hostname_are_refused(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *csr = csr_pem(key, NULL), *cert = NULL, *id = NULL, *err = NULL;
    assert_int_equal(
        trl_enroll_issue(f->reg, &f->pki, f->token, csr, "web01\n\x1b[2J", "0.1", &cert, &id, &err),
        TRL_EINVAL);
    assert_null(cert);
    assert_null(id);
    assert_string_equal(err, "hostname or version too long or not printable ASCII");
    free(err);
    free(csr);
    EVP_PKEY_free(key);
}

static json_t *handle(struct fixture *f, const char *req, int want_rc)
{
    char *resp = NULL;
    assert_int_equal(trl_enroll_handle_json(f->reg, &f->pki, req, strlen(req), &resp), want_rc);
    assert_non_null(resp);
    json_t *o = json_loads(resp, 0, NULL);
    assert_non_null(o);
    free(resp);
    return o;
}

static void test_json_request_gets_agent_id_cert_and_ca(void **state)
{
    struct fixture *f = *state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *csr = csr_pem(key, NULL);
    json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "token", f->token, "csr", csr, "hostname", "web01",
                            "version", "0.1.0");
    char *text = json_dumps(req, 0);
    json_t *o = handle(f, text, 0);
    const char *id = json_string_value(json_object_get(o, "agent_id"));
    assert_non_null(id);
    assert_non_null(strstr(json_string_value(json_object_get(o, "cert")), "BEGIN CERTIFICATE"));
    FILE *fp = fopen(f->pki.ca_cert, "r");
    char ca[8192];
    size_t n = fread(ca, 1, sizeof(ca) - 1, fp);
    fclose(fp);
    ca[n] = '\0';
    assert_string_equal(json_string_value(json_object_get(o, "ca")), ca);
    assert_false(trl_agent_registry_is_revoked(f->reg, id));
    json_decref(o);

    /* The same request again: the token is used up. */
    o = handle(f, text, -EALREADY);
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "enrollment token already used: create a new one with `trapline token`");
    json_decref(o);
    free(text);
    json_decref(req);
    free(csr);
    EVP_PKEY_free(key);
}

static void test_malformed_json_requests_get_an_error(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"token\":\"x\"}",
        "{\"token\":1,\"csr\":\"x\"}",
        "{\"token\":\"x\",\"csr\":\"x\",\"token\":\"y\"}",
        "{\"token\":\"x\\u0000y\",\"csr\":\"x\"}",
        "{\"token\":\"x\",\"csr\":\"x\",\"hostname\":[1]}",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        json_t *o = handle(f, bad[i], TRL_EINVAL);
        assert_non_null(json_string_value(json_object_get(o, "error")));
        assert_null(json_object_get(o, "cert"));
        json_decref(o);
    }
}

static void test_listener_callback_gives_plain_reason_on_failure(void **state)
{
    struct fixture *f = *state;
    struct trl_enroll_ctx ctx = {.reg = f->reg, .pki = f->pki};
    struct trl_buf resp = {0};
    const char *req = "{\"token\":\"trl1_AAAA\",\"csr\":\"x\"}";
    assert_int_equal(trl_enroll_listener_fn(&ctx, "127.0.0.1:5555", req, strlen(req), &resp),
                     TRL_EINVAL);
    trl_buf_putc(&resp, '\0');
    assert_string_equal(resp.data, "malformed enrollment token");
    trl_buf_free(&resp);
}

static void test_token_text_round_trips_with_server_address(void **state)
{
    (void)state;
    struct trl_enroll_token t = {.id = {0xde, 0xad}, .secret = {1, 2, 3}, .ca_fp = {0xff}}, back;
    strcpy(t.server, "siem.example.org:6515");
    char text[TRL_TOKEN_TEXT_MAX];
    assert_int_equal(trl_enroll_token_encode(&t, text, sizeof(text)), 0);
    assert_memory_equal(text, "trl1_", 5);
    assert_null(strpbrk(text, " \t\n=+/"));
    char padded[TRL_TOKEN_TEXT_MAX + 4];
    snprintf(padded, sizeof(padded), " %s\n", text);
    assert_int_equal(trl_enroll_token_decode(padded, &back), 0);
    assert_memory_equal(&t, &back, sizeof(t));
    strcpy(t.server, "has space:1");
    assert_int_equal(trl_enroll_token_encode(&t, text, sizeof(text)), TRL_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_issued_cert_verifies_against_ca_with_cn_agent_id_for_clients),
        T(test_second_use_of_token_is_refused),
        T(test_expired_token_is_refused),
        T(test_garbage_and_foreign_tokens_are_refused),
        T(test_csr_with_bad_signature_is_refused_and_keeps_token),
        T(test_weak_or_odd_keys_are_refused),
        T(test_control_bytes_in_hostname_are_refused),
        T(test_json_request_gets_agent_id_cert_and_ca),
        T(test_malformed_json_requests_get_an_error),
        T(test_listener_callback_gives_plain_reason_on_failure),
        cmocka_unit_test(test_token_text_round_trips_with_server_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
