#include "agent/enroll_client.h"
#include "agent/privsep.h"
#include "agent/proto.h"
#include "agent/statefile.h"
#include "core/buf.h"
#include "core/util.h"
#include "server/enroll_token.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define IO_TIMEOUT_S 30
/* Bound on the answer the network child hands back (three PEM or id strings). */
#define ANSWER_MAX (1u << 20)
#define PREFIX     "trapline agent enroll: "

/* What the certificate check found, for a message that says why the server was refused. */
enum pin_result { PIN_NOT_RUN, PIN_OK, PIN_NO_CA, PIN_MISMATCH, PIN_BAD_CHAIN };

struct pin {
    unsigned char fp[TRL_TOKEN_FP_LEN];
    enum pin_result result;
    char seen_fp[128]; /* the fingerprint of the server's top certificate, on mismatch */
    char detail[160];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trapline agent enroll --token TOKEN [--server HOST:PORT] [--state DIR]\n\n"
            "Enrolls this agent with a Trapline server using a token from `trapline token`.\n\n"
            "options:\n"
            "  --token TOKEN       the enrollment token (single use); - reads it from standard\n"
            "                      input, out of sight of other users' process listings\n"
            "  --server HOST:PORT  the server's agent listener (default: the address in the\n"
            "                      token, if it has one)\n"
            "  --state DIR         the agent's state directory (default %s)\n"
            "  --force             enroll again even if DIR already holds an identity\n",
            TRL_AGENT_DEFAULT_STATE);
}

static void fp_text(const unsigned char *md, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *out++ = hex[md[i] >> 4];
        *out++ = hex[md[i] & 15];
        if (i + 1 < n)
            *out++ = ':';
    }
    *out = '\0';
}

/*
 * Replaces OpenSSL's chain verification: there is no trust store yet, only the fingerprint from
 * the token. The server's chain must contain a certificate with that fingerprint, and the server's
 * own certificate must verify against it as a TLS server certificate (agent certificates, signed
 * by the same CA for client use only, do not pass).
 */
static int pin_verify(X509_STORE_CTX *sctx, void *arg)
{
    struct pin *p = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(sctx);
    X509 *ca = NULL, *top = leaf;
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (!X509_digest(c, EVP_sha256(), md, &n))
            continue;
        top = c;
        if (n == TRL_TOKEN_FP_LEN && CRYPTO_memcmp(md, p->fp, n) == 0)
            ca = c;
    }
    if (!ca) {
        p->result = top == leaf ? PIN_NO_CA : PIN_MISMATCH;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (top && X509_digest(top, EVP_sha256(), md, &n))
            fp_text(md, n, p->seen_fp);
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_UNTRUSTED);
        return 0;
    }
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    int ok = 0;
    if (store && v && X509_STORE_add_cert(store, ca) == 1 &&
        X509_STORE_CTX_init(v, store, leaf, chain) == 1 &&
        X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_SERVER) == 1)
        ok = X509_verify_cert(v) == 1;
    if (ok) {
        p->result = PIN_OK;
    } else {
        p->result = PIN_BAD_CHAIN;
        snprintf(p->detail, sizeof(p->detail), "%s",
                 v ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(v)) : "out of memory");
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_UNTRUSTED);
    }
    X509_STORE_CTX_free(v);
    X509_STORE_free(store);
    ERR_clear_error();
    return ok;
}

static void print_pin_failure(const struct pin *p, const char *server)
{
    char want[128];
    fp_text(p->fp, TRL_TOKEN_FP_LEN, want);
    switch (p->result) {
    case PIN_NO_CA:
        fprintf(stderr,
                PREFIX "refusing %s: it did not send its CA certificate, so it cannot be checked "
                       "against the token's CA fingerprint %s\n",
                server, want);
        break;
    case PIN_MISMATCH:
        fprintf(stderr,
                PREFIX "refusing %s: its CA fingerprint %s is not the token's %s (a different "
                       "server, or someone in between)\n",
                server, p->seen_fp, want);
        break;
    case PIN_BAD_CHAIN:
        fprintf(stderr,
                PREFIX "refusing %s: its certificate does not verify against the token's CA: %s\n",
                server, p->detail);
        break;
    default:
        break;
    }
}

/* Splits "host:port", "[v6]:port" into host and port. */
static int split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon;
    const char *h = s;
    size_t hn;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -1;
        h = s + 1;
        hn = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -1;
        hn = (size_t)(colon - s);
    }
    if (!hn || hn >= hlen || !colon[1] || strlen(colon + 1) >= plen)
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        fprintf(stderr, PREFIX "cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, PREFIX "cannot connect to %s:%s: %s\n", host, port, strerror(err));
    return fd;
}

static char *pem_of_key(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            out = trl_xstrndup(p, (size_t)n);
    }
    BIO_free_all(b);
    return out;
}

/* A CSR for key; the server ignores the subject and uses the key only. */
static char *make_csr(EVP_PKEY *key, const char *hostname)
{
    X509_REQ *req = X509_REQ_new();
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    if (req && b && X509_REQ_set_version(req, 0) && X509_REQ_set_pubkey(req, key) &&
        X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                   (const unsigned char *)hostname, -1, -1, 0) &&
        X509_REQ_sign(req, key, EVP_sha256()) && PEM_write_bio_X509_REQ(b, req)) {
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            out = trl_xstrndup(p, (size_t)n);
    }
    BIO_free(b);
    X509_REQ_free(req);
    return out;
}

static X509 *parse_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return c;
}

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/*
 * Checks what the server sent back before anything is written: the CA is the pinned one, the
 * certificate is for our key, names the agent id and verifies against the CA for client use.
 */
static int check_response(const struct pin *pin, EVP_PKEY *key, const char *id,
                          const char *cert_pem, const char *ca_pem)
{
    X509 *cert = parse_cert(cert_pem), *ca = parse_cert(ca_pem);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char cn[256];
    const char *why = NULL;
    if (!cert || !ca)
        why = "the certificates in the answer do not parse";
    else if (!X509_digest(ca, EVP_sha256(), md, &n) || n != TRL_TOKEN_FP_LEN ||
             CRYPTO_memcmp(md, pin->fp, n) != 0)
        why = "the CA in the answer is not the token's";
    else if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)
        why = "the certificate is not for this agent's key";
    else if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                       sizeof(cn)) <= 0 ||
             strcmp(cn, id) != 0)
        why = "the certificate does not name the agent id";
    else if (!store || !v || X509_STORE_add_cert(store, ca) != 1 ||
             X509_STORE_CTX_init(v, store, cert, NULL) != 1 ||
             X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_CLIENT) != 1 ||
             X509_verify_cert(v) != 1)
        why = "the certificate does not verify against the CA";
    if (why)
        fprintf(stderr, PREFIX "the server's answer is not usable: %s\n", why);
    X509_STORE_CTX_free(v);
    X509_STORE_free(store);
    X509_free(cert);
    X509_free(ca);
    ERR_clear_error();
    return why ? -1 : 0;
}

static int ssl_write_all(SSL *ssl, const void *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t w = 0;
        if (SSL_write_ex(ssl, (const char *)p + done, len - done, &w) != 1)
            return -1;
        done += w;
    }
    return 0;
}

/* Reads until one frame arrives; it is valid until the next call on r. */
static int read_frame(SSL *ssl, struct trl_proto_reader *r, struct trl_proto_frame *f)
{
    for (;;) {
        int rc = trl_proto_reader_next(r, f);
        if (rc != 0)
            return rc == 1 ? 0 : -1;
        char buf[16384];
        size_t n = 0;
        if (SSL_read_ex(ssl, buf, sizeof(buf), &n) != 1)
            return -1;
        trl_proto_reader_feed(r, buf, n);
    }
}

struct answer {
    char *id;
    char *cert;
    char *ca;
};

/* Runs the exchange on an established connection. 0 with *a filled, or -1 (reported). */
static int exchange(SSL *ssl, const char *req, struct answer *a)
{
    struct trl_buf out = {0};
    struct trl_proto_reader r;
    struct trl_proto_frame f;
    json_t *resp = NULL;
    int rc = -1;
    trl_proto_reader_init(&r);
    if (trl_proto_put_json(&out, TRL_PROTO_ENROLL_REQ, req, strlen(req)) != 0 ||
        ssl_write_all(ssl, out.data, out.len) != 0) {
        fprintf(stderr, PREFIX "cannot send the request\n");
        goto out;
    }
    if (read_frame(ssl, &r, &f) != 0) {
        fprintf(stderr, PREFIX "the server closed the connection without an answer\n");
        goto out;
    }
    if (f.type == TRL_PROTO_ERROR) {
        struct trl_proto_error e;
        if (trl_proto_parse_error(&f, &e) == 0)
            fprintf(stderr, PREFIX "the server refused: %s\n", e.reason);
        else
            fprintf(stderr, PREFIX "the server refused (malformed error)\n");
        goto out;
    }
    const char *json;
    size_t len;
    if (f.type != TRL_PROTO_ENROLL_RESP || trl_proto_parse_json(&f, &json, &len) != 0 ||
        !(resp = json_loadb(json, len, 0, NULL))) {
        fprintf(stderr, PREFIX "unexpected answer from the server (%s)\n",
                trl_proto_type_name(f.type));
        goto out;
    }
    const char *err = json_string_value(json_object_get(resp, "error"));
    const char *id = json_string_value(json_object_get(resp, "agent_id"));
    const char *cert = json_string_value(json_object_get(resp, "cert"));
    const char *ca = json_string_value(json_object_get(resp, "ca"));
    if (err) {
        fprintf(stderr, PREFIX "the server refused: %s\n", err);
        goto out;
    }
    if (!id || !cert || !ca || !id_ok(id)) {
        fprintf(stderr, PREFIX "the server's answer lacks agent_id, cert or ca\n");
        goto out;
    }
    a->id = trl_xstrdup(id);
    a->cert = trl_xstrdup(cert);
    a->ca = trl_xstrdup(ca);
    rc = 0;
    SSL_shutdown(ssl);
out:
    json_decref(resp);
    trl_buf_free(&out);
    trl_proto_reader_free(&r);
    return rc;
}

static int save(const char *dir, const char *name, const char *data)
{
    char *path = trl_path_join(dir, name);
    int rc = trl_state_write(path, data, strlen(data));
    if (rc)
        fprintf(stderr, PREFIX "cannot write %s: %s\n", path, strerror(-rc));
    free(path);
    return rc;
}

static bool already_enrolled(const char *state, char **id)
{
    char *path = trl_path_join(state, "agent.id");
    size_t len;
    int rc = trl_state_read(path, 256, id, &len);
    free(path);
    if (rc != 0)
        return false;
    while (len > 0 && ((*id)[len - 1] == '\n' || (*id)[len - 1] == '\r'))
        (*id)[--len] = '\0';
    return true;
}

/* The network side of enrollment: connect, TLS with the token's pin, ENROLL_REQ / ENROLL_RESP.
 * Runs in the child. Returns 0 with ans filled, or -1 (reported on stderr). */
static int talk_to_server(SSL_CTX *ctx, const char *host, const char *port, const char *server,
                          struct pin *pin, const char *req, struct answer *ans)
{
    int rc = -1;
    SSL *ssl = NULL;
    int fd = connect_to(host, port);
    if (fd < 0)
        return -1;
    ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        fprintf(stderr, PREFIX "out of memory\n");
        goto out;
    }
    /* SNI carries names only, never addresses. */
    if (!trl_is_ip(host, strlen(host)))
        SSL_set_tlsext_host_name(ssl, host);
    if (SSL_connect(ssl) != 1) {
        if (pin->result != PIN_NOT_RUN && pin->result != PIN_OK) {
            print_pin_failure(pin, server);
        } else {
            unsigned long e = ERR_get_error();
            char why[256] = "connection closed";
            if (e)
                ERR_error_string_n(e, why, sizeof(why));
            fprintf(stderr, PREFIX "TLS handshake with %s failed: %s\n", server, why);
        }
        goto out;
    }
    rc = exchange(ssl, req, ans);
out:
    SSL_free(ssl);
    close(fd);
    return rc;
}

static int put_string(int fd, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    return write(fd, &n, sizeof(n)) == (ssize_t)sizeof(n) && write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

static char *take_string(const char **p, const char *end)
{
    uint32_t n;
    if ((size_t)(end - *p) < sizeof(n))
        return NULL;
    memcpy(&n, *p, sizeof(n));
    *p += sizeof(n);
    if ((size_t)(end - *p) < n)
        return NULL;
    char *s = trl_xmalloc((size_t)n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n;
    return s;
}

/* Privilege separation: the exchange with the server runs in a child that has given up every
 * privilege (agent/privsep.h) and never sees the agent's private key; it hands the answer back
 * over a pipe, and this process, which alone may write the state directory, checks and saves
 * it. Returns 0 with ans filled, or -1 (reported). */
static int enroll_separated(SSL_CTX *ctx, const char *host, const char *port, const char *server,
                            struct pin *pin, const char *req, char *key_pem, EVP_PKEY *key,
                            struct answer *ans)
{
    struct trl_privsep_user user;
    if (trl_privsep_lookup("nobody", &user) != 0) {
        fprintf(stderr, PREFIX "no unprivileged user to run the network exchange as\n");
        return -1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        fprintf(stderr, PREFIX "pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, PREFIX "fork: %s\n", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        /* The key stays with the parent: wipe this copy before talking to anyone. */
        OPENSSL_cleanse(key_pem, strlen(key_pem));
        EVP_PKEY_free(key);
        char err[300];
        if (trl_privsep_drop(&user, err, sizeof(err)) != 0) {
            fprintf(stderr, PREFIX "cannot give up privileges: %s\n", err);
            _exit(1);
        }
        struct answer a = {0};
        if (talk_to_server(ctx, host, port, server, pin, req, &a) != 0)
            _exit(1);
        _exit(put_string(p[1], a.id) || put_string(p[1], a.cert) || put_string(p[1], a.ca) ? 1 : 0);
    }
    close(p[1]);
    char *buf = trl_xmalloc(ANSWER_MAX);
    size_t len = 0;
    ssize_t n;
    while (len < ANSWER_MAX &&
           ((n = read(p[0], buf + len, ANSWER_MAX - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        const char *q = buf, *end = buf + len;
        ans->id = take_string(&q, end);
        ans->cert = ans->id ? take_string(&q, end) : NULL;
        ans->ca = ans->cert ? take_string(&q, end) : NULL;
        if (ans->ca && q == end)
            rc = 0;
        else
            fprintf(stderr, PREFIX "the network exchange returned a malformed answer\n");
    } else if (!WIFEXITED(status)) {
        fprintf(stderr, PREFIX "the network exchange ended on signal %d\n",
                WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    free(buf);
    return rc;
}

int trl_cmd_agent_enroll(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"token", required_argument, NULL, 't'}, {"server", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 'S'}, {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},        {0, 0, 0, 0},
    };
    const char *token_text = NULL, *server = NULL, *state = TRL_AGENT_DEFAULT_STATE;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            token_text = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'S':
            state = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || !token_text) {
        if (!token_text)
            fprintf(stderr, PREFIX "--token is required (create one with `trapline token`)\n");
        usage(stderr);
        return 2;
    }
    /* "-" reads the token from standard input, which, unlike arguments, other users cannot see. */
    char token_line[TRL_TOKEN_TEXT_MAX + 2];
    if (!strcmp(token_text, "-")) {
        if (!fgets(token_line, sizeof(token_line), stdin)) {
            fprintf(stderr, PREFIX "no token on standard input\n");
            return 2;
        }
        token_text = token_line;
    }
    struct trl_enroll_token tok;
    if (trl_enroll_token_decode(token_text, &tok) != 0) {
        fprintf(stderr, PREFIX "this is not a Trapline enrollment token\n");
        return 2;
    }
    if (!server || !*server)
        server = tok.server[0] ? tok.server : NULL;
    char host[256], port[32];
    if (!server || split_hostport(server, host, sizeof(host), port, sizeof(port)) != 0) {
        fprintf(stderr, PREFIX "%s\n",
                server ? "--server must be HOST:PORT"
                       : "the token names no server: give --server HOST:PORT");
        return 2;
    }
    char *old_id = NULL;
    if (!force && already_enrolled(state, &old_id)) {
        fprintf(stderr,
                PREFIX "%s already holds the identity of agent %s (use --force to "
                       "replace it)\n",
                state, old_id);
        free(old_id);
        return 1;
    }
    free(old_id);
    int rc = trl_state_mkdir(state);
    if (rc) {
        fprintf(stderr, PREFIX "cannot create %s: %s\n", state, strerror(-rc));
        return 1;
    }

    /* A server that closes the connection mid-write must give an error, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    int status = 1;
    struct pin pin = {.result = PIN_NOT_RUN};
    memcpy(pin.fp, tok.ca_fp, sizeof(pin.fp));
    char hostname[256] = "localhost";
    gethostname(hostname, sizeof(hostname) - 1);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *key_pem = key ? pem_of_key(key) : NULL;
    char *csr = key ? make_csr(key, hostname) : NULL;
    char *req = NULL;
    SSL_CTX *ctx = NULL;
    struct answer ans = {0};
    if (!key_pem || !csr) {
        fprintf(stderr, PREFIX "cannot generate the agent key\n");
        goto out;
    }
    json_t *jr = json_pack("{s:s,s:s,s:s,s:s}", "token", token_text, "csr", csr, "hostname",
                           hostname, "version", TRL_VERSION);
    req = jr ? json_dumps(jr, JSON_COMPACT) : NULL;
    json_decref(jr);
    ctx = SSL_CTX_new(TLS_client_method());
    if (!req || !ctx) {
        fprintf(stderr, PREFIX "out of memory\n");
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, pin_verify, &pin);
    if (enroll_separated(ctx, host, port, server, &pin, req, key_pem, key, &ans) != 0 ||
        check_response(&pin, key, ans.id, ans.cert, ans.ca) != 0)
        goto out;
    /* agent.id last: its presence says the rest is complete. */
    char server_line[300];
    snprintf(server_line, sizeof(server_line), "%s\n", server);
    char id_line[80];
    snprintf(id_line, sizeof(id_line), "%s\n", ans.id);
    if (save(state, "agent.key", key_pem) || save(state, "agent.crt", ans.cert) ||
        save(state, "ca.crt", ans.ca) || save(state, "server", server_line) ||
        save(state, "agent.id", id_line) || trl_state_sync_dir(state))
        goto out;
    printf("%s\n", ans.id);
    fprintf(stderr, "enrolled as agent %s with %s; identity in %s\n", ans.id, server, state);
    status = 0;
out:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    EVP_PKEY_free(key);
    if (key_pem)
        OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    free(csr);
    free(req);
    free(ans.id);
    free(ans.cert);
    free(ans.ca);
    OPENSSL_cleanse(&tok, sizeof(tok));
    return status;
}
