#include "server/tls.h"
#include "core/util.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>

struct trl_tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct trl_tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the peer, owned by ssl */
    BIO *wbio; /* ciphertext to the peer, owned by ssl */
    bool established;
    char error[192];
};

/* The reason of the last OpenSSL failure on this thread, then clears the error queue. */
static void openssl_reason(char *buf, size_t len, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char detail[160] = "unknown error";
    if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    snprintf(buf, len, "%s: %s", what, detail);
    ERR_clear_error();
}

struct trl_tls_ctx *trl_tls_ctx_create(const struct trl_server_opts *o, char *err, size_t errlen)
{
    const char *cert = o->tls_cert, *key = o->tls_key, *ca = o->tls_ca;
    enum trl_client_auth auth = o->tls_client_auth;
    if (auth == TRL_CLIENT_AUTH_OPTIONAL && !ca)
        auth = TRL_CLIENT_AUTH_NONE; /* nothing to verify a certificate against */
    ERR_clear_error();
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    if (!sc) {
        openssl_reason(err, errlen, "cannot create TLS context");
        return NULL;
    }
    /* RFC 5425 as updated by RFC 9662: TLS 1.2 at least; no renegotiation (a CPU-exhaustion lever
     * for clients), no compression; idle connections give their read/write buffers back. */
    SSL_CTX_set_min_proto_version(sc, o->tls_min_version == TRL_TLS_MIN_1_3 ? TLS1_3_VERSION
                                                                            : TLS1_2_VERSION);
    SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
    /* Syslog senders write and never read. TLS 1.3 session tickets sent after the handshake would
     * sit unread in the sender's socket, and closing a socket with unread data makes its kernel
     * reset the connection and throw away what the sender had not yet transmitted: lost events.
     * So no tickets; TLS 1.2 session IDs still allow resumption. */
    SSL_CTX_set_num_tickets(sc, 0);
    static const unsigned char sid_ctx[] = "trapline-syslog";
    SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1);

    if (!cert || !key) {
        snprintf(err, errlen, "TLS listener needs a certificate and a key");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(sc, cert) != 1) {
        char what[4200];
        snprintf(what, sizeof(what), "cannot load certificate %s", cert);
        openssl_reason(err, errlen, what);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1) {
        char what[4200];
        snprintf(what, sizeof(what), "cannot load key %s", key);
        openssl_reason(err, errlen, what);
        goto fail;
    }
    if (SSL_CTX_check_private_key(sc) != 1) {
        openssl_reason(err, errlen, "key does not match certificate");
        goto fail;
    }
    if (auth != TRL_CLIENT_AUTH_NONE) {
        if (!ca) {
            snprintf(err, errlen, "client certificates need a CA bundle (tls ca)");
            goto fail;
        }
        if (SSL_CTX_load_verify_locations(sc, ca, NULL) != 1) {
            char what[4200];
            snprintf(what, sizeof(what), "cannot load CA bundle %s", ca);
            openssl_reason(err, errlen, what);
            goto fail;
        }
        /* Tell clients which CAs we accept so they pick the right certificate. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (names)
            SSL_CTX_set_client_CA_list(sc, names);
        int mode = SSL_VERIFY_PEER;
        if (auth == TRL_CLIENT_AUTH_REQUIRED)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(sc, mode, NULL);
    }
    ERR_clear_error();
    struct trl_tls_ctx *ctx = trl_xcalloc(1, sizeof(*ctx));
    ctx->ssl_ctx = sc;
    return ctx;
fail:
    SSL_CTX_free(sc);
    return NULL;
}

void trl_tls_ctx_destroy(struct trl_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx); /* connections hold their own reference */
    free(ctx);
}

struct trl_tls_conn *trl_tls_conn_create(struct trl_tls_ctx *ctx)
{
    SSL *ssl = SSL_new(ctx->ssl_ctx);
    if (!ssl) {
        ERR_clear_error();
        return NULL;
    }
    BIO *r = BIO_new(BIO_s_mem());
    BIO *w = BIO_new(BIO_s_mem());
    if (!r || !w) {
        BIO_free(r);
        BIO_free(w);
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    /* An empty memory BIO means "no data yet", not end of file. */
    BIO_set_mem_eof_return(r, -1);
    SSL_set_bio(ssl, r, w);
    SSL_set_accept_state(ssl);
    struct trl_tls_conn *t = trl_xcalloc(1, sizeof(*t));
    t->ssl = ssl;
    t->rbio = r;
    t->wbio = w;
    return t;
}

void trl_tls_conn_destroy(struct trl_tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

bool trl_tls_conn_established(const struct trl_tls_conn *t)
{
    return t->established;
}

const char *trl_tls_conn_error(const struct trl_tls_conn *t)
{
    return t->error[0] ? t->error : "unknown error";
}

static void set_error(struct trl_tls_conn *t, int ssl_err, const char *stage)
{
    long vr = SSL_get_verify_result(t->ssl);
    if (ssl_err == SSL_ERROR_SSL && vr != X509_V_OK) {
        snprintf(t->error, sizeof(t->error), "%s: client certificate: %s", stage,
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
        return;
    }
    if (ssl_err == SSL_ERROR_SSL) {
        openssl_reason(t->error, sizeof(t->error), stage);
        return;
    }
    snprintf(t->error, sizeof(t->error), "%s: error %d", stage, ssl_err);
    ERR_clear_error();
}

enum trl_tls_status trl_tls_conn_feed(struct trl_tls_conn *t, const char *data, size_t len,
                                      char *plain, size_t plain_cap,
                                      int (*on_plain)(void *ud, const char *p, size_t n), void *ud)
{
    ERR_clear_error();
    while (len > 0) {
        int chunk = (int)TRL_MIN(len, (size_t)1 << 30);
        int w = BIO_write(t->rbio, data, chunk);
        if (w <= 0) {
            snprintf(t->error, sizeof(t->error), "out of memory buffering TLS input");
            return TRL_TLS_ERROR;
        }
        data += w;
        len -= (size_t)w;
    }
    if (!t->established) {
        int rc = SSL_do_handshake(t->ssl);
        if (rc != 1) {
            int e = SSL_get_error(t->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return TRL_TLS_OK;
            set_error(t, e, "handshake failed");
            return TRL_TLS_ERROR;
        }
        t->established = true;
    }
    int cap = (int)TRL_MIN(plain_cap, (size_t)1 << 30);
    for (;;) {
        int n = SSL_read(t->ssl, plain, cap);
        if (n > 0) {
            if (on_plain(ud, plain, (size_t)n))
                return TRL_TLS_STOP;
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return TRL_TLS_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return TRL_TLS_CLOSED;
        set_error(t, e, "read failed");
        return TRL_TLS_ERROR;
    }
}

void trl_tls_conn_close_notify(struct trl_tls_conn *t)
{
    ERR_clear_error();
    if (t->established)
        (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

size_t trl_tls_conn_output_pending(const struct trl_tls_conn *t)
{
    return BIO_ctrl_pending(t->wbio);
}

size_t trl_tls_conn_output_take(struct trl_tls_conn *t, char *buf, size_t cap)
{
    int n = BIO_read(t->wbio, buf, (int)TRL_MIN(cap, (size_t)1 << 30));
    return n > 0 ? (size_t)n : 0;
}

void trl_tls_conn_describe(const struct trl_tls_conn *t, char *buf, size_t len)
{
    char subject[256] = "";
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (cert) {
        BIO *b = BIO_new(BIO_s_mem());
        if (b) {
            X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
            int n = BIO_read(b, subject, (int)sizeof(subject) - 1);
            subject[n > 0 ? n : 0] = '\0';
            BIO_free(b);
        }
    }
    /* The subject is the peer's text: keep quotes and control bytes out of our log line. */
    for (char *p = subject; *p; p++) {
        if (*p == '"' || (unsigned char)*p < 0x20)
            *p = '?';
    }
    snprintf(buf, len, "version=%s cipher=%s client=\"%s\"", SSL_get_version(t->ssl),
             SSL_get_cipher_name(t->ssl), subject);
    ERR_clear_error();
}
