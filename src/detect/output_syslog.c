/*
 * The syslog output: each alert becomes one RFC 5424 message (the alert JSON as the message, or
 * a CEF record) sent over UDP, TCP or TLS. TCP and TLS use octet-counting framing (RFC 6587). A
 * connection that fails is closed and opened again at the next attempt.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/outputs.h"
#include "formats/syslog_encode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 10000
/* Larger than any alert we make, smaller than a UDP datagram can be. */
#define UDP_MAX 65000

enum transport { T_UDP, T_TCP, T_TLS };

struct syslog_out {
    struct trl_output base;
    enum transport transport;
    enum trl_syslog_format format;
    char host[256];
    char port[8];
    char hostname[256]; /* ours, for the message header */
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    struct trl_buf msg;
};

/* ---- formatting ---- */

static const char *str(json_t *alert, const char *key)
{
    const char *s = json_string_value(json_object_get(alert, key));
    return s ? s : "";
}

static int level_rank(const char *level)
{
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < (int)TRL_ARRAY_LEN(names); i++) {
        if (!strcmp(level, names[i]))
            return i;
    }
    return 0;
}

/* The escaping is formats/syslog_encode.h's, shared with the agent's forwarders. */
static void put_cef(struct trl_buf *b, const char *s, bool header)
{
    trl_cef_put_escaped(b, s, strlen(s), header);
}

static int64_t time_ms(json_t *alert, const char *key)
{
    const char *s = str(alert, key);
    int64_t ns = 0;
    return trl_parse_rfc3339(s, strlen(s), &ns) ? ns / 1000000 : 0;
}

static void format_cef(struct trl_buf *out, json_t *alert)
{
    static const int severity[] = {1, 3, 5, 8, 10};
    trl_buf_puts(out, "CEF:0|Trapline|Trapline|" TRL_VERSION "|");
    put_cef(out, str(alert, "rule_id"), true);
    trl_buf_putc(out, '|');
    put_cef(out, str(alert, "title"), true);
    trl_buf_printf(out, "|%d|", severity[level_rank(str(alert, "level"))]);
    trl_buf_printf(out, "externalId=%lld cnt=%lld start=%lld end=%lld",
                   (long long)json_integer_value(json_object_get(alert, "id")),
                   (long long)json_integer_value(json_object_get(alert, "count")),
                   (long long)time_ms(alert, "first_seen"), (long long)time_ms(alert, "last_seen"));
    const char *host = str(alert, "host");
    if (host[0]) {
        trl_buf_puts(out, " dhost=");
        put_cef(out, host, false);
    }
    json_t *group = json_object_get(alert, "group_by");
    const char *src = json_string_value(json_object_get(group, "source.ip"));
    if (src) {
        trl_buf_puts(out, " src=");
        put_cef(out, src, false);
    }
    const char *corr = str(alert, "correlation");
    trl_buf_puts(out, " cat=");
    put_cef(out, corr[0] ? corr : "detection", false);
    trl_buf_puts(out, " cs1Label=tags cs1=");
    json_t *tags = json_object_get(alert, "tags");
    size_t i;
    json_t *v;
    json_array_foreach(tags, i, v)
    {
        if (i)
            trl_buf_putc(out, ',');
        put_cef(out, json_string_value(v) ? json_string_value(v) : "", false);
    }
    if (json_object_size(group) > 0) {
        char *g = json_dumps(group, JSON_COMPACT | JSON_SORT_KEYS);
        if (g) {
            trl_buf_puts(out, " cs2Label=group_by cs2=");
            put_cef(out, g, false);
            free(g);
        }
    }
    trl_buf_puts(out, " msg=");
    put_cef(out, str(alert, "title"), false);
}

void trl_syslog_format_alert(struct trl_buf *out, const struct trl_outbox_item *it,
                             enum trl_syslog_format fmt, const char *hostname, int64_t now_ns)
{
    /* Facility 4 (security/authorization); the severity follows the alert's level. */
    static const int severity[] = {6, 5, 4, 3, 2};
    int sev = severity[level_rank(str(it->alert, "level"))];
    time_t secs = (time_t)(now_ns / TRL_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&secs, &tm);
    trl_buf_printf(out, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ ", 4 * 8 + sev,
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (long)(now_ns % TRL_NS_PER_SEC / 1000));
    trl_syslog_put_header_field(out, hostname, strlen(hostname), 255);
    trl_buf_printf(out, " trapline %ld alert [trapline@32473 id=\"%lld\" level=\"", (long)getpid(),
                   (long long)it->alert_id);
    const char *level = str(it->alert, "level");
    trl_syslog_put_sd_value(out, level, strlen(level));
    trl_buf_puts(out, "\" rule=\"");
    const char *rule = str(it->alert, "rule_id");
    trl_syslog_put_sd_value(out, rule, strlen(rule));
    trl_buf_printf(out, "\" count=\"%lld\"] ",
                   (long long)json_integer_value(json_object_get(it->alert, "count")));
    if (fmt == TRL_SYSLOG_CEF)
        format_cef(out, it->alert);
    else
        trl_buf_append(out, it->body, it->len);
}

/* ---- transport ---- */

static void disconnect(struct syslog_out *s)
{
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

/* Waits until fd is ready for events; 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    while ((r = poll(&p, 1, IO_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

static int connect_fd(struct syslog_out *s, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = s->transport == T_UDP ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(s->host, s->port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", s->host, gai_strerror(g));
        return TRL_EINVAL;
    }
    int rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && (rc = wait_fd(fd, POLLOUT)) == 0)) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr == 0) {
                s->fd = fd;
                rc = 0;
                break;
            }
            rc = -soerr;
        } else if (errno != EINPROGRESS) {
            rc = -errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    if (rc != 0)
        snprintf(err, errlen, "cannot connect to %s:%s: %s", s->host, s->port, strerror(-rc));
    return rc;
}

static int tls_handshake(struct syslog_out *s, char *err, size_t errlen)
{
    /* The certificate must name the target: its IP address when the target is one (no SNI
     * then), otherwise its host name. */
    unsigned char bin[sizeof(struct in6_addr)];
    bool is_ip = inet_pton(AF_INET, s->host, bin) == 1 || inet_pton(AF_INET6, s->host, bin) == 1;
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1 ||
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host) != 1
               : SSL_set_tlsext_host_name(s->ssl, s->host) != 1 ||
                     SSL_set1_host(s->ssl, s->host) != 1)) {
        snprintf(err, errlen, "cannot set up TLS");
        return -EIO;
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(s->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(s->ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
            wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) == 0)
            continue;
        long v = SSL_get_verify_result(s->ssl);
        snprintf(err, errlen, "TLS handshake with %s:%s failed: %s", s->host, s->port,
                 v != X509_V_OK ? X509_verify_cert_error_string(v)
                 : ERR_reason_error_string(ERR_peek_last_error())
                     ? ERR_reason_error_string(ERR_peek_last_error())
                     : "connection closed");
        return -EIO;
    }
}

static int send_all(struct syslog_out *s, const char *p, size_t len, char *err, size_t errlen)
{
    while (len > 0) {
        ssize_t n;
        if (s->ssl) {
            ERR_clear_error();
            int r = SSL_write(s->ssl, p, (int)TRL_MIN(len, (size_t)1 << 30));
            if (r > 0) {
                n = r;
            } else {
                int e = SSL_get_error(s->ssl, r);
                if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
                    wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) == 0)
                    continue;
                snprintf(err, errlen, "TLS write failed");
                return -EIO;
            }
        } else {
            n = send(s->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (wait_fd(s->fd, POLLOUT) == 0)
                    continue;
                errno = ETIMEDOUT;
            }
            if (n < 0) {
                snprintf(err, errlen, "send failed: %s", strerror(errno));
                return -errno;
            }
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A peer that closed the stream shows up as readable with nothing (or junk) to read: the next
 * write would be lost, so the connection is made again first. */
static bool peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int deliver(struct trl_output *base, const struct trl_outbox_item *it, char *err,
                   size_t errlen)
{
    struct syslog_out *s = (struct syslog_out *)base;
    trl_buf_reset(&s->msg);
    if (s->transport != T_UDP) {
        struct trl_buf body = {0};
        trl_syslog_format_alert(&body, it, s->format, s->hostname, trl_now_ns());
        trl_buf_printf(&s->msg, "%zu ", body.len);
        trl_buf_append(&s->msg, body.data, body.len);
        trl_buf_free(&body);
    } else {
        trl_syslog_format_alert(&s->msg, it, s->format, s->hostname, trl_now_ns());
        if (s->msg.len > UDP_MAX)
            s->msg.len = UDP_MAX;
    }
    if (s->fd >= 0 && s->transport != T_UDP && peer_closed(s->fd))
        disconnect(s);
    int rc = 0;
    if (s->fd < 0) {
        rc = connect_fd(s, err, errlen);
        if (rc == 0 && s->transport == T_TLS)
            rc = tls_handshake(s, err, errlen);
    }
    if (rc == 0)
        rc = send_all(s, s->msg.data, s->msg.len, err, errlen);
    if (rc != 0)
        disconnect(s);
    return rc;
}

static void destroy(struct trl_output *base)
{
    struct syslog_out *s = (struct syslog_out *)base;
    disconnect(s);
    SSL_CTX_free(s->ctx);
    trl_buf_free(&s->msg);
    free(s);
}

/* "udp://host:port", "tcp://[::1]:6514" ... into transport, host and port. */
static int parse_target(struct syslog_out *s, const char *t)
{
    if (!strncmp(t, "udp://", 6))
        s->transport = T_UDP;
    else if (!strncmp(t, "tcp://", 6))
        s->transport = T_TCP;
    else if (!strncmp(t, "tls://", 6))
        s->transport = T_TLS;
    else
        return TRL_EINVAL;
    const char *h = t + 6;
    const char *colon;
    size_t hlen;
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return TRL_EINVAL;
        h++;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return TRL_EINVAL;
        hlen = (size_t)(colon - h);
    }
    uint64_t port;
    if (hlen == 0 || hlen >= sizeof(s->host) ||
        !trl_parse_u64(colon + 1, strlen(colon + 1), &port) || port == 0 || port > 65535)
        return TRL_EINVAL;
    memcpy(s->host, h, hlen);
    s->host[hlen] = '\0';
    snprintf(s->port, sizeof(s->port), "%u", (unsigned)port);
    return 0;
}

struct trl_output *trl_output_syslog_create(const struct trl_outputs_config *c)
{
    struct syslog_out *s = trl_xcalloc(1, sizeof(*s));
    s->base.name = "syslog";
    s->base.deliver = deliver;
    s->base.destroy = destroy;
    s->fd = -1;
    s->format = c->syslog_format;
    if (parse_target(s, c->syslog_target) != 0) {
        trl_error("outputs",
                  "alerts.syslog.target: expected udp://HOST:PORT, tcp://HOST:PORT or "
                  "tls://HOST:PORT target=%s",
                  c->syslog_target);
        goto fail;
    }
    if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0 || !s->hostname[0])
        snprintf(s->hostname, sizeof(s->hostname), "-");
    if (s->transport == T_TLS) {
        s->ctx = SSL_CTX_new(TLS_client_method());
        if (!s->ctx || SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION) != 1)
            goto tls_fail;
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
        int ok = c->syslog_ca && c->syslog_ca[0]
                     ? SSL_CTX_load_verify_locations(s->ctx, c->syslog_ca, NULL)
                     : SSL_CTX_set_default_verify_paths(s->ctx);
        if (ok != 1)
            goto tls_fail;
    }
    return &s->base;
tls_fail:
    trl_error("outputs", "cannot set up TLS for the syslog output ca=%s",
              c->syslog_ca && c->syslog_ca[0] ? c->syslog_ca : "(system)");
fail:
    destroy(&s->base);
    return NULL;
}
