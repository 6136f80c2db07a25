/* Read-only TAXII 2.1 server: discovery, one API root, one collection of the STIX export. */
#include "ioc/taxii_server.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mhd_lib.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "ioc/stix_export.h"
#include "ioc/taxii_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define API_ROOT       "/trapline/"
#define STIX_MEDIA     "application/stix+json;version=2.1"
#define DEFAULT_LIMIT  100
#define MAX_LIMIT      1000
#define MAX_PEM        (64 * 1024)
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define EXPORT_TTL_NS  (2 * TRL_NS_PER_SEC)

struct trl_taxii_server {
    struct MHD_Daemon *d;
    char *data_dir;
    char *identity_name;
    char *cert_pem, *key_pem;
    unsigned char (*hashes)[32];
    size_t nhashes;
    char collection_id[37];
    unsigned port;
    /* The export, rebuilt at most every EXPORT_TTL_NS: a partner paging through the collection, or
     * polling too often, does not read the databases once per request. */
    pthread_mutex_t mu;
    json_t *bundle;
    int64_t bundle_at;
};

/* A marker for the first call of a request (MHD calls the handler again for the body); only its
 * address is used. */
static const char request_started;

bool trl_taxii_token_hash_valid(const char *hex)
{
    if (!hex || strlen(hex) != 64)
        return false;
    for (int i = 0; i < 64; i++) {
        if (trl_hex_value(hex[i]) < 0)
            return false;
    }
    return true;
}

static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = trl_xmalloc(MAX_PEM + 1);
    size_t n = fread(buf, 1, MAX_PEM, f);
    fclose(f);
    buf[n] = '\0';
    if (n == 0 || n == MAX_PEM) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- Responses ---- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, char *text,
                                 const char *first, const char *last)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        trl_mhd()->create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    trl_mhd()->add_response_header(r, "Content-Type", TRL_TAXII_MEDIA_TYPE);
    trl_mhd()->add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        trl_mhd()->add_response_header(r, "WWW-Authenticate", "Bearer realm=\"trapline-taxii\"");
    if (first)
        trl_mhd()->add_response_header(r, "X-TAXII-Date-Added-First", first);
    if (last)
        trl_mhd()->add_response_header(r, "X-TAXII-Date-Added-Last", last);
    enum MHD_Result rc = trl_mhd()->queue_response(c, status, r);
    trl_mhd()->destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body,
                                 const char *first, const char *last)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return send_text(c, status, text, first, last);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *title,
                                  const char *description)
{
    char st[8];
    snprintf(st, sizeof(st), "%u", status);
    return send_json(
        c, status,
        json_pack("{s:s, s:s, s:s}", "title", title, "description", description, "http_status", st),
        NULL, NULL);
}

/* ---- Checks ---- */

static bool authorised(const struct trl_taxii_server *s, struct MHD_Connection *c)
{
    const char *h = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return false;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok)
        return false;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(tok, strlen(tok), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return false;
    bool ok = false;
    /* Every hash is compared, in constant time, whatever matched before. */
    for (size_t i = 0; i < s->nhashes; i++)
        ok |= CRYPTO_memcmp(md, s->hashes[i], 32) == 0;
    return ok;
}

/* TAXII 2.1 clients ask for application/taxii+json, with version=2.1 or without a version. */
static bool accepts_taxii(struct MHD_Connection *c)
{
    const char *h = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    if (!h)
        return false;
    char norm[512];
    size_t n = 0;
    for (const char *p = h; *p && n + 1 < sizeof(norm); p++) {
        if (*p != ' ' && *p != '\t')
            norm[n++] = (char)tolower((unsigned char)*p);
    }
    norm[n] = '\0';
    for (char *save = NULL, *item = strtok_r(norm, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (!strcmp(item, "application/taxii+json;version=2.1") ||
            !strcmp(item, "application/taxii+json"))
            return true;
    }
    return false;
}

/* "https://<Host>/..." for discovery, when the Host header is a plain host[:port]. */
static char *absolute(struct MHD_Connection *c, const char *path)
{
    const char *host = trl_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    bool ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr(".-:[]", *p);
    struct trl_buf b = {0};
    if (ok)
        trl_buf_printf(&b, "https://%s%s", host, path);
    else
        trl_buf_puts(&b, path);
    return b.data;
}

/* ---- Endpoints ---- */

static json_t *collection_object(const struct trl_taxii_server *s)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:b, s:[s]}", "id", s->collection_id, "title",
                     "Trapline sightings and indicators", "description",
                     "Sightings of indicators in this instance's events, and its own indicators",
                     "can_read", 1, "can_write", 0, "media_types", STIX_MEDIA);
}

struct dated {
    json_t *obj;
    const char *date; /* its modified time */
    int64_t ns;
};

static int cmp_dated(const void *a, const void *b)
{
    const struct dated *x = a, *y = b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x->obj, "id")),
                  json_string_value(json_object_get(y->obj, "id")));
}

static enum MHD_Result serve_objects(struct trl_taxii_server *s, struct MHD_Connection *c)
{
    const char *after = trl_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "added_after");
    const char *limit_s = trl_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *next_s = trl_mhd()->lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "next");
    int64_t after_ns = 0;
    uint64_t limit = DEFAULT_LIMIT, offset = 0;
    if (after && trl_parse_rfc3339(after, strlen(after), &after_ns) != strlen(after))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "Bad request", "added_after is not a timestamp");
    if (limit_s && (!trl_parse_u64(limit_s, strlen(limit_s), &limit) || limit == 0))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "Bad request", "limit is not a positive number");
    if (next_s && (!trl_parse_u64(next_s, strlen(next_s), &offset) || offset > 100000000))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "Bad request", "next is not a token of ours");
    limit = TRL_MIN(limit, (uint64_t)MAX_LIMIT);

    /* Requests are answered one at a time from the cached export (its json_t values are not
     * shared between threads). */
    pthread_mutex_lock(&s->mu);
    if (!s->bundle || trl_mono_ns() - s->bundle_at > EXPORT_TTL_NS) {
        struct trl_stix_export_opts eo = {.data_dir = s->data_dir,
                                          .identity_name = s->identity_name};
        struct trl_stix_export_stats st;
        json_t *fresh;
        char err[256];
        if (trl_stix_export(&eo, &fresh, &st, err, sizeof(err)) != 0) {
            pthread_mutex_unlock(&s->mu);
            trl_error("taxii-server", "export failed: %s", err);
            return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error",
                              "the collection cannot be read now");
        }
        json_decref(s->bundle);
        s->bundle = fresh;
        s->bundle_at = trl_mono_ns();
    }
    json_t *objs = json_object_get(s->bundle, "objects");
    size_t n = json_array_size(objs), kept = 0;
    struct dated *v = trl_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(objs, i);
        const char *m = json_string_value(json_object_get(o, "modified"));
        int64_t ns = 0;
        if (!m || trl_parse_rfc3339(m, strlen(m), &ns) == 0 || (after && ns <= after_ns))
            continue;
        v[kept++] = (struct dated){o, m, ns};
    }
    qsort(v, kept, sizeof(*v), cmp_dated);
    json_t *page = json_array();
    size_t end = offset < kept ? (size_t)TRL_MIN(kept, offset + limit) : 0;
    for (size_t i = offset; i < end; i++)
        json_array_append(page, v[i].obj);
    json_t *env = json_object();
    bool more = end > 0 && end < kept;
    json_object_set_new(env, "more", json_boolean(more));
    if (more) {
        char next[24];
        snprintf(next, sizeof(next), "%zu", end);
        json_object_set_new(env, "next", json_string(next));
    }
    char first[32] = "", last[32] = "";
    if (json_array_size(page)) {
        snprintf(first, sizeof(first), "%s", v[offset].date);
        snprintf(last, sizeof(last), "%s", v[end - 1].date);
        json_object_set_new(env, "objects", page);
    } else {
        json_decref(page);
    }
    free(v);
    char *text = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    pthread_mutex_unlock(&s->mu);
    return send_text(c, MHD_HTTP_OK, text, first[0] ? first : NULL, last[0] ? last : NULL);
}

static enum MHD_Result route(struct trl_taxii_server *s, struct MHD_Connection *c, const char *url)
{
    if (!strcmp(url, "/taxii2/")) {
        char *root = absolute(c, API_ROOT);
        json_t *d = json_pack("{s:s, s:s, s:s, s:[s]}", "title", "Trapline TAXII server",
                              "description", "Sightings and indicators of this Trapline instance",
                              "default", root, "api_roots", root);
        free(root);
        return send_json(c, MHD_HTTP_OK, d, NULL, NULL);
    }
    if (!strcmp(url, API_ROOT))
        return send_json(c, MHD_HTTP_OK,
                         json_pack("{s:s, s:[s], s:i}", "title", "Trapline", "versions",
                                   TRL_TAXII_MEDIA_TYPE, "max_content_length", 0),
                         NULL, NULL);
    if (!strcmp(url, API_ROOT "collections/"))
        return send_json(c, MHD_HTTP_OK, json_pack("{s:[o]}", "collections", collection_object(s)),
                         NULL, NULL);
    const char *prefix = API_ROOT "collections/";
    size_t plen = strlen(prefix);
    if (!strncmp(url, prefix, plen) && !strncmp(url + plen, s->collection_id, 36)) {
        const char *rest = url + plen + 36;
        if (!strcmp(rest, "/"))
            return send_json(c, MHD_HTTP_OK, collection_object(s), NULL, NULL);
        if (!strcmp(rest, "/objects/"))
            return serve_objects(s, c);
    }
    return send_error(c, MHD_HTTP_NOT_FOUND, "Not found", "no such TAXII resource");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version, (void)upload_data;
    struct trl_taxii_server *s = cls;
    if (!*con_cls) {
        *con_cls = (void *)&request_started;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* This server takes no request bodies: they are read and dropped. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!authorised(s, c))
        return send_error(c, MHD_HTTP_UNAUTHORIZED, "Unauthorized",
                          "a valid bearer token is required");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                          "this TAXII server is read-only");
    if (!accepts_taxii(c))
        return send_error(c, MHD_HTTP_NOT_ACCEPTABLE, "Not acceptable",
                          "the Accept header must allow " TRL_TAXII_MEDIA_TYPE);
    return route(s, c, url);
}

static void free_server(struct trl_taxii_server *s)
{
    json_decref(s->bundle);
    pthread_mutex_destroy(&s->mu);
    free(s->data_dir);
    free(s->identity_name);
    if (s->key_pem) {
        OPENSSL_cleanse(s->key_pem, strlen(s->key_pem));
        free(s->key_pem);
    }
    free(s->cert_pem);
    free(s->hashes);
    free(s);
}

struct trl_taxii_server *trl_taxii_server_start(const struct trl_taxii_server_opts *o)
{
    if (o->ntokens == 0) {
        trl_error("taxii-server", "ioc.taxii_server.tokens is empty: the server is not started "
                                  "(it serves only partners holding a token)");
        return NULL;
    }
    char addr[INET6_ADDRSTRLEN];
    uint16_t port;
    if (trl_config_parse_listen(o->listen, addr, sizeof(addr), &port) != 0) {
        trl_error("taxii-server", "ioc.taxii_server.listen: not ADDRESS:PORT: %s", o->listen);
        return NULL;
    }
    struct trl_taxii_server *s = trl_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->data_dir = trl_xstrdup(o->data_dir);
    s->identity_name = o->identity_name ? trl_xstrdup(o->identity_name) : NULL;
    trl_stix_uuid5("collection|trapline-export", s->collection_id);
    s->hashes = trl_xcalloc(o->ntokens, sizeof(*s->hashes));
    for (size_t i = 0; i < o->ntokens; i++) {
        if (!trl_taxii_token_hash_valid(o->token_hashes[i])) {
            trl_error("taxii-server", "ioc.taxii_server.tokens item %zu is not a SHA-256 in hex",
                      i + 1);
            goto fail;
        }
        for (int k = 0; k < 32; k++)
            s->hashes[i][k] = (unsigned char)(trl_hex_value(o->token_hashes[i][2 * k]) << 4 |
                                              trl_hex_value(o->token_hashes[i][2 * k + 1]));
    }
    s->nhashes = o->ntokens;
    if (!(s->cert_pem = read_pem(o->cert_path)) || !(s->key_pem = read_pem(o->key_path))) {
        trl_error("taxii-server", "cannot read the TLS certificate %s or key %s", o->cert_path,
                  o->key_path);
        goto fail;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &a6->sin6_addr);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        inet_pton(AF_INET, addr, &a4->sin_addr);
    }
    char why[256];
    const struct trl_mhd *mhd = trl_mhd_get(why, sizeof(why));
    if (!mhd) {
        trl_error("taxii-server", "cannot serve TAXII: %s", why);
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_EPOLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = mhd->start_daemon(flags, port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&ss, MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
                             MHD_OPTION_HTTPS_MEM_KEY, s->key_pem, MHD_OPTION_HTTPS_PRIORITIES,
                             TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE, 2u,
                             MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                             16u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_END);
    if (!s->d) {
        trl_error("taxii-server",
                  "cannot serve TAXII on %s (address in use, or a bad "
                  "certificate/key)",
                  o->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *di = mhd->get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    trl_info("taxii-server", "listening taxii=%s%s%s:%u collection=%s",
             ss.ss_family == AF_INET6 ? "[" : "", addr, ss.ss_family == AF_INET6 ? "]" : "",
             s->port, s->collection_id);
    return s;
fail:
    free_server(s);
    return NULL;
}

unsigned trl_taxii_server_port(const struct trl_taxii_server *s)
{
    return s->port;
}

void trl_taxii_server_stop(struct trl_taxii_server *s)
{
    if (!s)
        return;
    if (s->d)
        trl_mhd()->stop_daemon(s->d);
    free_server(s);
}
