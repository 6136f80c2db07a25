/*
 * tlsio: TLS 1.3 over memory BIOs for the agent protocol (see tlsio.h).
 */
#include "agent/tlsio.h"

#include "core/util.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trl_tlsio {
    SSL *ssl;
    BIO *rbio;
    BIO *wbio;
    bool established;
    bool server;
    struct trl_buf pending; /* plaintext written before the handshake finished */
    char cn[256];
    bool have_cn;
    char error[256];
};

static void ssl_reason(char *buf, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();
    char r[200] = "unknown error";
    if (e)
        ERR_error_string_n(e, r, sizeof(r));
    snprintf(buf, len, "%s: %s", what, r);
    ERR_clear_error();
}

static SSL_CTX *base_ctx(bool server, char *err, size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c) {
        ssl_reason(err, errlen, "TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_num_tickets(c, 0);
    return c;
}

static int load_pair(SSL_CTX *c, const char *cert, const char *key, char *err, size_t errlen)
{
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
        ssl_reason(err, errlen, cert);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c) != 1) {
        ssl_reason(err, errlen, key);
        return -1;
    }
    return 0;
}

SSL_CTX *trl_tlsio_server_ctx(const char *cert, const char *key, const char *ca, char *err,
                              size_t errlen)
{
    SSL_CTX *c = base_ctx(true, err, errlen);
    if (!c)
        return NULL;
    if (load_pair(c, cert, key, err, errlen) != 0)
        goto fail;
    if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1) {
        ssl_reason(err, errlen, ca);
        goto fail;
    }
    /* The CA goes after the server certificate in the handshake, so that an agent enrolling with
     * only the CA's fingerprint can check the server. */
    BIO *cb = BIO_new_file(ca, "r");
    X509 *cacert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    BIO_free(cb);
    if (!cacert || SSL_CTX_add1_chain_cert(c, cacert) != 1) {
        X509_free(cacert);
        ssl_reason(err, errlen, ca);
        goto fail;
    }
    X509_free(cacert);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (names)
        SSL_CTX_set_client_CA_list(c, names);
    static const unsigned char sid[] = "trapline-agents";
    SSL_CTX_set_session_id_context(c, sid, sizeof(sid) - 1);
    /* Asked for and verified when sent, not required: enrollment comes without one. */
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_verify_depth(c, 4);
    return c;
fail:
    SSL_CTX_free(c);
    return NULL;
}

SSL_CTX *trl_tlsio_client_ctx(const char *ca, const char *cert, const char *key, char *err,
                              size_t errlen)
{
    SSL_CTX *c = base_ctx(false, err, errlen);
    if (!c)
        return NULL;
    /* Only the pinned CA, never the system store. */
    if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1) {
        ssl_reason(err, errlen, ca);
        goto fail;
    }
    if (cert && key && load_pair(c, cert, key, err, errlen) != 0)
        goto fail;
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_verify_depth(c, 4);
    return c;
fail:
    SSL_CTX_free(c);
    return NULL;
}

struct trl_tlsio *trl_tlsio_create(SSL_CTX *ctx, bool server, const char *host)
{
    SSL *ssl = SSL_new(ctx);
    BIO *r = BIO_new(BIO_s_mem());
    BIO *w = BIO_new(BIO_s_mem());
    if (!ssl || !r || !w) {
        SSL_free(ssl);
        BIO_free(r);
        BIO_free(w);
        ERR_clear_error();
        return NULL;
    }
    /* An empty memory BIO means "no data yet", not end of file. */
    BIO_set_mem_eof_return(r, -1);
    SSL_set_bio(ssl, r, w);
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (host && host[0]) {
            X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
            /* An IP address is checked against the certificate's IP entries, a name against its
             * DNS names. */
            if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
                ERR_clear_error();
                SSL_set_tlsext_host_name(ssl, host);
                SSL_set1_host(ssl, host);
            }
        }
    }
    struct trl_tlsio *t = trl_xcalloc(1, sizeof(*t));
    t->ssl = ssl;
    t->rbio = r;
    t->wbio = w;
    t->server = server;
    return t;
}

void trl_tlsio_destroy(struct trl_tlsio *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    trl_buf_free(&t->pending);
    free(t);
}

void trl_tlsio_feed(struct trl_tlsio *t, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        int w = BIO_write(t->rbio, p, (int)TRL_MIN(len, (size_t)1 << 30));
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
}

static void set_error(struct trl_tlsio *t, int e, const char *stage)
{
    long vr = SSL_get_verify_result(t->ssl);
    if (e == SSL_ERROR_SSL && vr != X509_V_OK) {
        snprintf(t->error, sizeof(t->error), "%s: peer certificate: %s", stage,
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else if (e == SSL_ERROR_SSL) {
        ssl_reason(t->error, sizeof(t->error), stage);
    } else {
        snprintf(t->error, sizeof(t->error), "%s: error %d", stage, e);
        ERR_clear_error();
    }
}

static void read_peer_cn(struct trl_tlsio *t)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK)
        return;
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, t->cn,
                                      (int)sizeof(t->cn));
    t->have_cn = n > 0 && (size_t)n < sizeof(t->cn) && strlen(t->cn) == (size_t)n;
}

static int flush_pending(struct trl_tlsio *t)
{
    size_t off = 0;
    while (off < t->pending.len) {
        int n = SSL_write(t->ssl, t->pending.data + off,
                          (int)TRL_MIN(t->pending.len - off, (size_t)1 << 30));
        if (n <= 0) {
            int e = SSL_get_error(t->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break;
            set_error(t, e, "write failed");
            return TRL_EINVAL;
        }
        off += (size_t)n;
    }
    if (off > 0) {
        memmove(t->pending.data, t->pending.data + off, t->pending.len - off);
        t->pending.len -= off;
    }
    return 0;
}

static int handshake(struct trl_tlsio *t)
{
    if (t->established)
        return 1;
    ERR_clear_error();
    int rc = SSL_do_handshake(t->ssl);
    if (rc != 1) {
        int e = SSL_get_error(t->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        set_error(t, e, "handshake failed");
        return TRL_EINVAL;
    }
    t->established = true;
    read_peer_cn(t);
    return flush_pending(t) == 0 ? 1 : TRL_EINVAL;
}

int trl_tlsio_read(struct trl_tlsio *t, void *buf, size_t cap)
{
    int h = handshake(t);
    if (h <= 0)
        return h;
    ERR_clear_error();
    int n = SSL_read(t->ssl, buf, (int)TRL_MIN(cap, (size_t)1 << 30));
    if (n > 0)
        return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
        return -1;
    set_error(t, e, "read failed");
    return TRL_EINVAL;
}

int trl_tlsio_write(struct trl_tlsio *t, const void *data, size_t len)
{
    trl_buf_append(&t->pending, data, len);
    int h = handshake(t);
    if (h < 0)
        return h;
    if (h == 0)
        return 0;
    return flush_pending(t);
}

size_t trl_tlsio_take_output(struct trl_tlsio *t, struct trl_buf *out)
{
    size_t total = 0;
    size_t n;
    while ((n = BIO_ctrl_pending(t->wbio)) > 0) {
        trl_buf_reserve(out, n);
        int r = BIO_read(t->wbio, out->data + out->len, (int)TRL_MIN(n, (size_t)1 << 30));
        if (r <= 0)
            break;
        out->len += (size_t)r;
        total += (size_t)r;
    }
    return total;
}

void trl_tlsio_shutdown(struct trl_tlsio *t)
{
    ERR_clear_error();
    if (t->established)
        (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

bool trl_tlsio_established(const struct trl_tlsio *t)
{
    return t->established;
}

const char *trl_tlsio_peer_cn(const struct trl_tlsio *t)
{
    return t->have_cn ? t->cn : NULL;
}

const char *trl_tlsio_error(const struct trl_tlsio *t)
{
    return t->error[0] ? t->error : "unknown error";
}

struct write_req {
    uv_write_t req;
    struct trl_buf buf;
};

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    (void)status;
    trl_buf_free(&w->buf);
    free(w);
}

size_t trl_tlsio_flush(struct trl_tlsio *t, uv_stream_t *stream)
{
    struct write_req *w = trl_xcalloc(1, sizeof(*w));
    size_t n = trl_tlsio_take_output(t, &w->buf);
    if (n == 0) {
        free(w);
        return 0;
    }
    uv_buf_t b = uv_buf_init(w->buf.data, (unsigned)w->buf.len);
    if (uv_write(&w->req, stream, &b, 1, on_written) != 0) {
        trl_buf_free(&w->buf);
        free(w);
        return 0;
    }
    return n;
}
