/*
 * http_server: libmicrohttpd glue: TLS, limits, body collection, authentication, CSRF, routing,
 * static files and the headers every response carries.
 */
#include "web/http_server.h"
#include "core/log.h"
#include "core/mhd_lib.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "web/assets.h"
#include "web/web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define PEM_MAX        ((size_t)1 << 20)
#define MAX_SESSIONS   1024
#define MAX_THROTTLE   4096
#define DISCARD_MAX    ((uint64_t)32 << 20)

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
                          "'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri "
                          "'none'; form-action 'self'";

struct trl_http_server {
    struct MHD_Daemon *d;
    struct trl_web web;
    char *cert_pem;
    char *key_pem;
    char address[80];
};

/* Per request: the body collected so far and the route found with the headers. */
struct req_state {
    const struct trl_route *route;
    struct trl_route_param params[TRL_ROUTE_MAX_PARAMS];
    size_t nparams;
    bool path_known;
    size_t limit;
    bool too_large;
    char *body;
    size_t len, cap;
};

static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        trl_error("http", "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = trl_xmalloc(PEM_MAX + 1);
    size_t n = fread(buf, 1, PEM_MAX, f);
    bool bad = ferror(f) || n == PEM_MAX;
    fclose(f);
    if (bad) {
        trl_error("http", "cannot read %s (unreadable, or larger than 1 MiB)", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* "ADDR:PORT" or "[V6]:PORT" -> socket address. */
static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
    char host[64];
    const char *port;
    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
            return TRL_EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host))
            return TRL_EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    uint64_t p;
    if (!trl_parse_u64(port, strlen(port), &p) || p > 65535)
        return TRL_EINVAL;
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof(host), "127.0.0.1");
    if (!host[0] || !strcmp(host, "*"))
        snprintf(host, sizeof(host), "0.0.0.0");
    if (s[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : TRL_EINVAL;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)p);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : TRL_EINVAL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    trl_debug("http", "%s", msg);
}

static void add_common_headers(struct MHD_Response *r, bool api)
{
    trl_mhd()->add_response_header(r, "Content-Security-Policy", csp);
    trl_mhd()->add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    trl_mhd()->add_response_header(r, "X-Frame-Options", "DENY");
    trl_mhd()->add_response_header(r, "X-Content-Type-Options", "nosniff");
    trl_mhd()->add_response_header(r, "Referrer-Policy", "no-referrer");
    trl_mhd()->add_response_header(r, "Cache-Control", api ? "no-store" : "no-cache");
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct trl_web_resp *rs, bool api)
{
    struct MHD_Response *r =
        trl_mhd()->create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
    rs->body = NULL;
    if (!r)
        return MHD_NO;
    add_common_headers(r, api);
    if (rs->len || rs->ctype)
        trl_mhd()->add_response_header(r, "Content-Type",
                                       rs->ctype ? rs->ctype : "application/json; charset=utf-8");
    if (rs->set_cookie[0])
        trl_mhd()->add_response_header(r, "Set-Cookie", rs->set_cookie);
    if (rs->retry_after_s > 0) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", rs->retry_after_s);
        trl_mhd()->add_response_header(r, "Retry-After", v);
    }
    enum MHD_Result ret = trl_mhd()->queue_response(c, rs->status, r);
    trl_mhd()->destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct trl_web_resp rs = {0};
    trl_web_error(&rs, status, "%s", msg);
    return send_resp(c, &rs, true);
}

/* Static console files: "/" is index.html, "/assets/NAME" the embedded asset; nothing else. */
static enum MHD_Result send_static(struct MHD_Connection *c, const char *path)
{
    char key[256];
    if (!strcmp(path, "/") || !strcmp(path, "/index.html"))
        snprintf(key, sizeof(key), "index.html");
    else if (!strncmp(path, "/assets/", 8) && strlen(path) < sizeof(key))
        snprintf(key, sizeof(key), "%s", path + 1);
    else
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
    const struct trl_web_asset *a = trl_web_asset_find(key);
    if (!a)
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
    const char *ae = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    bool gz = a->gz && ae && trl_accepts_gzip(ae);
    struct MHD_Response *r = trl_mhd()->create_response_from_buffer(
        gz ? a->gz_len : a->len, (void *)(gz ? a->gz : a->data), MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    add_common_headers(r, false);
    trl_mhd()->add_response_header(r, "Content-Type", a->ctype);
    trl_mhd()->add_response_header(r, "Vary", "Accept-Encoding");
    if (gz)
        trl_mhd()->add_response_header(r, "Content-Encoding", "gzip");
    enum MHD_Result ret = trl_mhd()->queue_response(c, MHD_HTTP_OK, r);
    trl_mhd()->destroy_response(r);
    return ret;
}

static void client_ip(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        trl_mhd()->get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* Who is calling: a bearer token, else the session cookie. Returns false when neither is valid.
 */
static bool authenticate(struct trl_web_req *rq)
{
    struct MHD_Connection *c = rq->conn;
    const char *authz = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *tok;
    size_t len;
    if (authz) {
        char name[65];
        int role;
        if (!trl_bearer_token(authz, &tok, &len) ||
            trl_tokens_check(rq->web->users, tok, len, name, sizeof(name), &role) != 0)
            return false;
        snprintf(rq->user, sizeof(rq->user), "token:%s", name);
        rq->role = role;
        return true;
    }
    const char *cookie = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
    struct trl_session_info si;
    if (!cookie || !trl_cookie_find(cookie, "trl_session", &tok, &len) ||
        !trl_sessions_get(rq->web->sessions, tok, len, trl_mono_ns(), &si))
        return false;
    snprintf(rq->user, sizeof(rq->user), "%s", si.user);
    rq->role = si.role;
    rq->session = true;
    memcpy(rq->session_id, tok, TRL_SESSION_ID_LEN);
    rq->session_id[TRL_SESSION_ID_LEN] = '\0';
    /* A session of a user removed or demoted since the login follows the database. */
    int role;
    if (trl_users_role(rq->web->users, si.user, &role) != 0) {
        trl_sessions_end(rq->web->sessions, tok, len);
        return false;
    }
    rq->role = TRL_MIN(role, si.role);
    memcpy(rq->csrf, si.csrf, sizeof(rq->csrf));
    const char *m = rq->method;
    bool changes = strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
    if (changes) {
        const char *sent = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        rq->csrf_ok = sent && strlen(sent) == TRL_SESSION_ID_LEN &&
                      sodium_memcmp(sent, si.csrf, TRL_SESSION_ID_LEN) == 0;
    }
    return true;
}

static enum MHD_Result dispatch(struct trl_http_server *s, struct MHD_Connection *c,
                                const char *method, const char *path, struct req_state *st)
{
    if (!st->route) {
        if (st->path_known)
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
    }
    if (st->too_large)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
    struct trl_web_req rq = {
        .web = &s->web,
        .conn = c,
        .method = method,
        .path = path,
        .nparams = st->nparams,
        .body = st->body ? st->body : "",
        .body_len = st->len,
        .role = -1,
        .csrf_ok = true,
    };
    memcpy(rq.params, st->params, sizeof(rq.params));
    client_ip(c, rq.client_ip, sizeof(rq.client_ip));
    const struct trl_route *rt = st->route;
    if (!(rt->flags & TRL_ROUTE_PUBLIC)) {
        if (!authenticate(&rq))
            return send_error(c, MHD_HTTP_UNAUTHORIZED, "authentication required");
        if (!rq.csrf_ok && !(rt->flags & TRL_ROUTE_NO_CSRF))
            return send_error(c, MHD_HTTP_FORBIDDEN, "CSRF token missing or wrong");
        if (rq.role < rt->min_role)
            return send_error(c, MHD_HTTP_FORBIDDEN, "your role does not allow this");
    }
    struct trl_web_resp rs = {.status = 500};
    rt->fn(&rq, &rs);
    if (!rs.body && rs.status != MHD_HTTP_NO_CONTENT)
        trl_web_error(&rs, 500, "internal error");
    return send_resp(c, &rs, true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct trl_http_server *s = cls;
    struct req_state *st = *con_cls;
    bool api = !strncmp(url, "/api/", 5) || !strcmp(url, "/health") || !strcmp(url, "/metrics");
    if (!st) {
        st = trl_xcalloc(1, sizeof(*st));
        *con_cls = st;
        if (api)
            st->route = trl_web_route_find(method, url, st->params, &st->nparams, &st->path_known);
        st->limit = st->route && (st->route->flags & TRL_ROUTE_BIG_BODY) ? TRL_WEB_BODY_MAX_BIG
                                                                         : TRL_WEB_BODY_MAX;
        /* A body somewhat over the limit is read and dropped, so that the client, still
         * sending, gets to read the 413; an absurd one is answered at once and the connection
         * closed. */
        const char *cl = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        uint64_t n;
        if (cl && trl_parse_u64(cl, strlen(cl), &n) && n > st->limit) {
            st->too_large = true;
            if (n > DISCARD_MAX)
                return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (st->too_large || st->len + n > st->limit) {
            st->too_large = true;
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            st->cap = TRL_MAX(st->cap * 2, st->len + n + 1);
            st->body = trl_xrealloc(st->body, st->cap);
        }
        memcpy(st->body + st->len, upload, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    if (!api) {
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        return send_static(c, url);
    }
    return dispatch(s, c, method, url, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void web_free(struct trl_web *w)
{
    trl_users_close(w->users);
    trl_sessions_destroy(w->sessions);
    trl_throttle_destroy(w->throttle);
    trl_overview_cache_destroy(w->overview);
    for (size_t i = 0; i < w->nrule_paths; i++)
        free(w->rule_paths[i]);
    free(w->rule_paths);
    free(w->agents_address);
    free(w->data_dir);
}

struct trl_http_server *trl_http_server_start(const struct trl_http_opts *o)
{
    struct sockaddr_storage ss;
    if (parse_addr(o->listen, &ss) != 0) {
        trl_error("http", "server.http '%s': expected ADDRESS:PORT, e.g. 127.0.0.1:8443",
                  o->listen);
        return NULL;
    }
    struct trl_http_server *s = trl_xcalloc(1, sizeof(*s));
    s->web.data_dir = trl_xstrdup(o->data_dir);
    s->web.pipeline = o->pipeline;
    s->web.started_ns = trl_now_ns();
    s->web.local_rules = o->local_rules;
    s->web.detector = o->detector;
    s->web.listener_counters = o->listener_counters;
    s->web.agents_address = o->agents_address ? trl_xstrdup(o->agents_address) : NULL;
    s->web.nrule_paths = o->nrule_paths;
    s->web.rule_paths = trl_xcalloc(o->nrule_paths ? o->nrule_paths : 1, sizeof(char *));
    for (size_t i = 0; i < o->nrule_paths; i++)
        s->web.rule_paths[i] = trl_xstrdup(o->rule_paths[i]);
    s->web.sessions = trl_sessions_create(MAX_SESSIONS, TRL_SESSION_IDLE_NS);
    s->web.throttle = trl_throttle_create(MAX_THROTTLE);
    s->web.overview = trl_overview_cache_create();
    if (!(s->cert_pem = read_pem(o->cert_file)) || !(s->key_pem = read_pem(o->key_file)))
        goto fail;
    if (trl_users_open(o->data_dir, &s->web.users) != 0 ||
        trl_users_ensure_admin(s->web.users, o->data_dir) != 0)
        goto fail;
    char why[256];
    const struct trl_mhd *mhd = trl_mhd_get(why, sizeof(why));
    if (!mhd) {
        trl_error("http", "cannot serve https: %s", why);
        goto fail;
    }
    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = mhd->start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
        MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(o->threads ? o->threads : 4), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(o->max_connections ? o->max_connections : 256),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(o->timeout_s ? o->timeout_s : 30), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, s, MHD_OPTION_END);
    if (!s->d) {
        trl_error("http", "cannot serve https on %s (address in use, or a bad certificate/key)",
                  o->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = mhd->get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    char host[64] = "?";
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        snprintf(s->address, sizeof(s->address), "[%s]:%u", host, port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        snprintf(s->address, sizeof(s->address), "%s:%u", host, port);
    }
    trl_info("http", "listening https=%s assets=%zu", s->address, trl_web_asset_count());
    return s;
fail:
    web_free(&s->web);
    if (s->key_pem)
        sodium_memzero(s->key_pem, strlen(s->key_pem));
    free(s->cert_pem);
    free(s->key_pem);
    free(s);
    return NULL;
}

void trl_http_server_stop(struct trl_http_server *s)
{
    if (!s)
        return;
    trl_mhd()->stop_daemon(s->d);
    web_free(&s->web);
    sodium_memzero(s->key_pem, strlen(s->key_pem));
    free(s->cert_pem);
    free(s->key_pem);
    free(s);
    trl_info("http", "stopped");
}

const char *trl_http_server_address(const struct trl_http_server *s)
{
    return s->address;
}
