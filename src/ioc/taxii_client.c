/* TAXII 2.1 client: feed specs, objects envelopes, paging and the HTTP requests of one poll. */
#include "ioc/taxii_client.h"
#include "core/buf.h"
#include "core/http_lib.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KIB                 (INT64_C(1) << 10)
#define MIB                 (INT64_C(1) << 20)
#define DEFAULT_MAX_PAGES   10000
#define SECRET_MAX          4096
#define DEFAULT_INTERVAL_MS (3600 * INT64_C(1000))
#define DEFAULT_TIMEOUT_MS  (60 * INT64_C(1000))
#define DEFAULT_HUNT_MS     (30 * 86400 * INT64_C(1000))
/* Objects of one poll at most, in bytes of responses: a first poll of a large collection stops
 * there and the rest is fetched by the next polls (the cursor advances page by page). */
#define POLL_BYTES_FACTOR 4

/* ---- Feed specs ---- */

static bool parse_duration_ms(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n < 0 || n > INT64_C(1) << 40)
        return false;
    int64_t mul;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "s"))
        mul = 1000;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (!strcmp(end, "d"))
        mul = 86400000;
    else
        return false;
    *out = (int64_t)n * mul;
    return true;
}

static bool parse_size(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || n <= 0 || n > INT64_C(1) << 40)
        return false;
    int64_t mul;
    if (!*end || !strcmp(end, "B"))
        mul = 1;
    else if (!strcmp(end, "KiB") || !strcmp(end, "KB"))
        mul = KIB;
    else if (!strcmp(end, "MiB") || !strcmp(end, "MB"))
        mul = MIB;
    else if (!strcmp(end, "GiB") || !strcmp(end, "GB"))
        mul = KIB * MIB;
    else
        return false;
    *out = (int64_t)n * mul;
    return true;
}

static bool parse_uint(const char *v, int64_t max, int64_t *out)
{
    uint64_t n;
    if (!trl_parse_u64(v, strlen(v), &n) || n > (uint64_t)max)
        return false;
    *out = (int64_t)n;
    return true;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = trl_xstrdup(v);
}

static bool is_http_url(const char *v)
{
    return !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8);
}

/* Applies one key=value; false with err set when either is wrong. */
static bool spec_set(struct trl_taxii_spec *s, const char *k, const char *v, char *err,
                     size_t errlen)
{
    int64_t n;
    if (!strcmp(k, "name")) {
        for (const char *p = v; *p; p++) {
            if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) {
                snprintf(err, errlen, "name: use letters, digits, '-', '_' and '.'");
                return false;
            }
        }
        set_str(&s->name, v);
    } else if (!strcmp(k, "url")) {
        if (!is_http_url(v)) {
            snprintf(err, errlen, "url: expected an http:// or https:// URL");
            return false;
        }
        /* URLs are logged and shown by `ioc feeds`: credentials have keys of their own. */
        const char *host = strstr(v, "://") + 3;
        const char *at = strchr(host, '@');
        if (at && at < host + strcspn(host, "/?#")) {
            snprintf(err, errlen,
                     "url: give credentials with username= and password_file=, not "
                     "in the URL");
            return false;
        }
        set_str(&s->url, v);
    } else if (!strcmp(k, "api_root")) {
        set_str(&s->api_root, v);
    } else if (!strcmp(k, "collection")) {
        set_str(&s->collection, v);
    } else if (!strcmp(k, "username")) {
        set_str(&s->username, v);
    } else if (!strcmp(k, "password")) {
        set_str(&s->password, v);
    } else if (!strcmp(k, "password_file")) {
        set_str(&s->password_file, v);
    } else if (!strcmp(k, "token")) {
        set_str(&s->token, v);
    } else if (!strcmp(k, "token_file")) {
        set_str(&s->token_file, v);
    } else if (!strcmp(k, "ca")) {
        set_str(&s->ca, v);
    } else if (!strcmp(k, "verify_tls")) {
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
            s->verify_tls = true;
        } else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
            s->verify_tls = false;
        } else {
            snprintf(err, errlen, "verify_tls: expected true or false");
            return false;
        }
    } else if (!strcmp(k, "interval")) {
        if (!parse_duration_ms(v, &n) || n < 1000) {
            snprintf(err, errlen, "interval: expected a duration of 1s or more (30s, 15m, 1h)");
            return false;
        }
        s->interval_ms = n;
    } else if (!strcmp(k, "timeout")) {
        if (!parse_duration_ms(v, &n) || n < 100 || n > 3600000) {
            snprintf(err, errlen, "timeout: expected a duration from 100ms to 1h");
            return false;
        }
        s->timeout_ms = n;
    } else if (!strcmp(k, "hunt")) {
        if (!parse_duration_ms(v, &n)) {
            snprintf(err, errlen, "hunt: expected a duration (30d), or 0s for no retro-hunt");
            return false;
        }
        s->hunt_ms = n;
    } else if (!strcmp(k, "max_size")) {
        if (!parse_size(v, &n) || n < 4 * KIB) {
            snprintf(err, errlen, "max_size: expected a size of 4KiB or more (64MiB)");
            return false;
        }
        s->max_bytes = n;
    } else if (!strcmp(k, "limit")) {
        if (!parse_uint(v, 1000000, &n)) {
            snprintf(err, errlen, "limit: expected a number of objects per page (0-1000000)");
            return false;
        }
        s->limit = (unsigned)n;
    } else if (!strcmp(k, "confidence")) {
        if (!parse_uint(v, 100, &n)) {
            snprintf(err, errlen, "confidence: expected 0-100");
            return false;
        }
        s->confidence = (int)n;
    } else {
        snprintf(err, errlen, "unknown key '%.40s'", k);
        return false;
    }
    return true;
}

int trl_taxii_spec_parse(const char *text, struct trl_taxii_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->verify_tls = true;
    out->interval_ms = DEFAULT_INTERVAL_MS;
    out->timeout_ms = DEFAULT_TIMEOUT_MS;
    out->max_bytes = 64 * MIB;
    out->limit = 1000;
    out->confidence = -1;
    out->hunt_ms = DEFAULT_HUNT_MS;
    char *copy = trl_xstrdup(text);
    char *save = NULL;
    char *w = strtok_r(copy, " \t", &save);
    bool ok = true;
    if (!w || strcmp(w, "taxii")) {
        snprintf(err, errlen, "a feed starts with its type: \"taxii key=value ...\"");
        ok = false;
    }
    while (ok && (w = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w || !eq[1]) {
            snprintf(err, errlen, "expected key=value, got '%.40s'", w);
            ok = false;
            break;
        }
        *eq = '\0';
        ok = spec_set(out, w, eq + 1, err, errlen);
    }
    if (ok && (!out->name || !out->url || !out->collection)) {
        snprintf(err, errlen, "a TAXII feed needs name=, url= and collection=");
        ok = false;
    }
    if (ok && (out->token || out->token_file) && (out->username || out->password)) {
        snprintf(err, errlen, "give either a token or a username and password, not both");
        ok = false;
    }
    if (ok && (out->password || out->password_file) && !out->username) {
        snprintf(err, errlen, "password without username");
        ok = false;
    }
    free(copy);
    if (!ok) {
        trl_taxii_spec_free(out);
        return TRL_EINVAL;
    }
    return 0;
}

void trl_taxii_spec_free(struct trl_taxii_spec *s)
{
    if (!s)
        return;
    char **fields[] = {&s->name,     &s->url,           &s->api_root, &s->collection, &s->username,
                       &s->password, &s->password_file, &s->token,    &s->token_file, &s->ca};
    for (size_t i = 0; i < TRL_ARRAY_LEN(fields); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* ---- Envelopes and paging ---- */

static bool printable_token(const char *s, size_t len)
{
    if (len == 0 || len > TRL_TAXII_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    }
    return true;
}

int trl_taxii_envelope_parse(const char *buf, size_t len, struct trl_taxii_envelope *env, char *err,
                             size_t errlen)
{
    memset(env, 0, sizeof(*env));
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s (line %d)", je.text, je.line);
        return TRL_EINVAL;
    }
    const char *why = NULL;
    json_t *objects = json_object_get(root, "objects");
    json_t *more = json_object_get(root, "more");
    json_t *next = json_object_get(root, "next");
    if (!json_is_object(root))
        why = "an envelope is a JSON object";
    else if (objects && !json_is_array(objects))
        why = "\"objects\" is not a list";
    else if (more && !json_is_boolean(more))
        why = "\"more\" is not true or false";
    else if (next && !json_is_string(next))
        why = "\"next\" is not a string";
    else if (next && !printable_token(json_string_value(next), json_string_length(next)))
        why = "\"next\" is empty, too long or holds characters other than printable ASCII";
    if (why) {
        snprintf(err, errlen, "%s", why);
        json_decref(root);
        return TRL_EINVAL;
    }
    env->objects = objects ? json_incref(objects) : json_array();
    env->more = json_is_true(more);
    env->next = next ? trl_xstrdup(json_string_value(next)) : NULL;
    json_decref(root);
    return 0;
}

void trl_taxii_envelope_clear(struct trl_taxii_envelope *env)
{
    if (!env)
        return;
    json_decref(env->objects);
    free(env->next);
    memset(env, 0, sizeof(*env));
}

/* The time of a TAXII timestamp, or 0 when it is not one. */
static int64_t stamp_ns(const char *s)
{
    int64_t ns;
    size_t len = s ? strlen(s) : 0;
    if (!printable_token(s, len) || trl_parse_rfc3339(s, len, &ns) != len)
        return 0;
    return ns;
}

void trl_taxii_pager_init(struct trl_taxii_pager *p, const char *added_after)
{
    memset(p, 0, sizeof(*p));
    if (added_after && added_after[0])
        p->added_after = trl_xstrdup(added_after);
}

void trl_taxii_pager_clear(struct trl_taxii_pager *p)
{
    if (!p)
        return;
    free(p->added_after);
    free(p->next);
    free(p->newest);
    memset(p, 0, sizeof(*p));
}

int trl_taxii_pager_advance(struct trl_taxii_pager *p, const struct trl_taxii_envelope *env,
                            const char *date_added_last, char *err, size_t errlen)
{
    p->pages++;
    int64_t last = stamp_ns(date_added_last);
    if (last && last > p->newest_ns) {
        set_str(&p->newest, date_added_last);
        p->newest_ns = last;
    }
    if (!env->more)
        return 0;
    size_t max = p->max_pages ? p->max_pages : DEFAULT_MAX_PAGES;
    if (p->pages >= max) {
        snprintf(err, errlen, "the collection still has more after %zu pages", p->pages);
        return TRL_EINVAL;
    }
    if (env->next) {
        if (p->next && !strcmp(p->next, env->next)) {
            snprintf(err, errlen, "the server sent the same \"next\" twice");
            return TRL_EINVAL;
        }
        set_str(&p->next, env->next);
        return 1;
    }
    /* Without "next", TAXII 2.1 lets a client page by asking again for what was added after the
     * last object it received. */
    if (p->newest && p->newest_ns > stamp_ns(p->added_after)) {
        set_str(&p->added_after, p->newest);
        free(p->next);
        p->next = NULL;
        return 1;
    }
    snprintf(err, errlen,
             "\"more\" is true without \"next\" nor a later X-TAXII-Date-Added-Last to continue");
    return TRL_EINVAL;
}

/* ---- HTTP ---- */

struct response {
    struct trl_buf body;
    int64_t cap;
    bool too_big;
    const atomic_bool *stop;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct response *r = ud;
    size_t len = size * n;
    if ((int64_t)(r->body.len + len) > r->cap) {
        r->too_big = true;
        return 0;
    }
    trl_buf_append(&r->body, p, len);
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct response *r = ud;
    return r->stop && atomic_load(r->stop) ? 1 : 0;
}

/* Reads the first line of a secret file. */
static char *read_secret(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[SECRET_MAX];
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        snprintf(err, errlen, "%s is empty", path);
        return NULL;
    }
    return trl_xstrdup(buf);
}

struct session {
    const struct trl_taxii_spec *spec;
    const struct trl_curl *cu;
    CURL *curl;
    struct curl_slist *headers;
    char *password;
    const atomic_bool *stop;
    int error; /* of the last request that failed: -EACCES for 401 and 403, else -EIO */
};

static int session_open(struct session *s, const struct trl_taxii_spec *spec,
                        const atomic_bool *stop, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->spec = spec;
    s->stop = stop;
    s->cu = trl_curl_get(err, errlen);
    if (!s->cu)
        return -EIO;
    s->headers = s->cu->slist_append(NULL, "Accept: " TRL_TAXII_MEDIA_TYPE);
    if (spec->token || spec->token_file) {
        char *tok =
            spec->token ? trl_xstrdup(spec->token) : read_secret(spec->token_file, err, errlen);
        if (!tok)
            return -EACCES;
        struct trl_buf h = {0};
        trl_buf_printf(&h, "Authorization: Bearer %s", tok);
        s->headers = s->cu->slist_append(s->headers, h.data);
        trl_buf_free(&h);
        free(tok);
    }
    if (spec->username) {
        s->password = spec->password        ? trl_xstrdup(spec->password)
                      : spec->password_file ? read_secret(spec->password_file, err, errlen)
                                            : trl_xstrdup("");
        if (!s->password)
            return -EACCES;
    }
    s->curl = s->cu->easy_init();
    if (!s->curl) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -ENOMEM;
    }
    return 0;
}

static void session_close(struct session *s)
{
    if (!s->cu)
        return;
    if (s->curl)
        s->cu->easy_cleanup(s->curl);
    s->cu->slist_free_all(s->headers);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
}

/* Writes the title and description of a TAXII error message into err. */
static void describe_error(const struct trl_buf *body, long status, const char *url, char *err,
                           size_t errlen)
{
    json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    const char *title = json_string_value(json_object_get(j, "title"));
    const char *desc = json_string_value(json_object_get(j, "description"));
    char clean[200] = "";
    if (title) {
        snprintf(clean, sizeof(clean), "%s%s%s", title, desc ? ": " : "", desc ? desc : "");
        for (char *p = clean; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == '"')
                *p = ' ';
        }
    }
    snprintf(err, errlen, "GET %s: HTTP %ld%s%s", url, status, clean[0] ? ", " : "", clean);
    json_decref(j);
}

/* GETs url; on 200 with a JSON media type, the body in r and, when asked, the
 * X-TAXII-Date-Added-Last header in *date_last (owned). */
static int http_get(struct session *s, const char *url, struct response *r, char **date_last,
                    char *err, size_t errlen)
{
    const struct trl_curl *cu = s->cu;
    CURL *c = s->curl;
    const struct trl_taxii_spec *spec = s->spec;
    cu->easy_reset(c);
    trl_buf_reset(&r->body);
    r->too_big = false;
    r->cap = spec->max_bytes;
    r->stop = s->stop;
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* Credentials go only where they were configured: no redirects, HTTP(S) only. */
    cu->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)spec->timeout_ms);
    cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)TRL_MIN(spec->timeout_ms, 30000));
    cu->easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)spec->max_bytes);
    cu->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, spec->verify_tls ? 1L : 0L);
    cu->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, spec->verify_tls ? 2L : 0L);
    if (spec->ca)
        cu->easy_setopt(c, CURLOPT_CAINFO, spec->ca);
    if (spec->username) {
        cu->easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        cu->easy_setopt(c, CURLOPT_USERNAME, spec->username);
        cu->easy_setopt(c, CURLOPT_PASSWORD, s->password);
    }
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, r);
    cu->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    cu->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    cu->easy_setopt(c, CURLOPT_XFERINFODATA, r);
    cu->easy_setopt(c, CURLOPT_USERAGENT, "trapline-taxii/2.1");
    CURLcode cc = cu->easy_perform(c);
    if (cc != CURLE_OK) {
        if (r->too_big || cc == CURLE_FILESIZE_EXCEEDED)
            snprintf(err, errlen, "GET %s: response larger than max_size (%lld bytes)", url,
                     (long long)spec->max_bytes);
        else if (cc == CURLE_ABORTED_BY_CALLBACK)
            snprintf(err, errlen, "GET %s: stopped", url);
        else
            snprintf(err, errlen, "GET %s: %s", url, cu->easy_strerror(cc));
        return -EIO;
    }
    long status = 0;
    cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        describe_error(&r->body, status, url, err, errlen);
        s->error = status == 401 || status == 403 ? -EACCES : -EIO;
        return s->error;
    }
    const char *ctype = NULL;
    cu->easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
    if (!ctype || (strncasecmp(ctype, "application/taxii+json", 22) &&
                   strncasecmp(ctype, "application/json", 16))) {
        snprintf(err, errlen, "GET %s: content type '%.60s' is not TAXII JSON", url,
                 ctype ? ctype : "");
        return -EIO;
    }
    if (date_last) {
        struct curl_header *h = NULL;
        *date_last = NULL;
        if (cu->easy_header(c, "X-TAXII-Date-Added-Last", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
            h && h->value)
            *date_last = trl_xstrdup(h->value);
    }
    return 0;
}

static json_t *get_json(struct session *s, const char *url, struct response *r, char *err,
                        size_t errlen)
{
    if (http_get(s, url, r, NULL, err, errlen) != 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "GET %s: not a JSON object%s%s", url, j ? "" : ": ",
                 j ? "" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Resolves ref against base and adds the trailing '/' TAXII URLs end with. */
static char *resolve_url(const struct trl_curl *cu, const char *base, const char *ref)
{
    CURLU *u = cu->url();
    char *out = NULL, *res = NULL;
    if (cu->url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        cu->url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        cu->url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
        size_t n = strlen(out);
        res = trl_xmalloc(n + 2);
        memcpy(res, out, n + 1);
        if (n && out[n - 1] != '/' && !strchr(out, '?'))
            memcpy(res + n, "/", 2);
    }
    cu->free(out);
    cu->url_cleanup(u);
    return res;
}

/* True when both URLs have the same scheme, host and port. */
static bool same_origin(const struct trl_curl *cu, const char *a, const char *b)
{
    CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    CURLU *ua = cu->url(), *ub = cu->url();
    bool same = cu->url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
                cu->url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;
    for (size_t i = 0; same && i < TRL_ARRAY_LEN(parts); i++) {
        char *pa = NULL, *pb = NULL;
        same = cu->url_get(ua, parts[i], &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               cu->url_get(ub, parts[i], &pb, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               !strcasecmp(pa, pb);
        cu->free(pa);
        cu->free(pb);
    }
    cu->url_cleanup(ua);
    cu->url_cleanup(ub);
    return same;
}

/* The API root URL: configured, or the discovery's default (on the discovery's own origin, so
 * that credentials are never sent to a host the configuration does not name). */
static char *find_api_root(struct session *s, struct response *r, char *err, size_t errlen)
{
    const struct trl_taxii_spec *spec = s->spec;
    if (spec->api_root) {
        char *u = resolve_url(s->cu, spec->url, spec->api_root);
        if (!u)
            snprintf(err, errlen, "api_root '%.100s' is not a URL", spec->api_root);
        return u;
    }
    json_t *d = get_json(s, spec->url, r, err, errlen);
    if (!d)
        return NULL;
    const char *root = json_string_value(json_object_get(d, "default"));
    if (!root)
        root = json_string_value(json_array_get(json_object_get(d, "api_roots"), 0));
    char *u = root ? resolve_url(s->cu, spec->url, root) : NULL;
    if (!root)
        snprintf(err, errlen, "discovery at %s names no API root (set api_root=)", spec->url);
    else if (!u)
        snprintf(err, errlen, "discovery names API root '%.100s', which is not a URL", root);
    else if (!same_origin(s->cu, u, spec->url)) {
        snprintf(err, errlen,
                 "discovery names API root %.200s on another server; set api_root= to use it", u);
        free(u);
        u = NULL;
    }
    json_decref(d);
    return u;
}

static bool safe_id(const char *id)
{
    if (!id || !id[0] || strlen(id) > 200)
        return false;
    for (const char *p = id; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    }
    return true;
}

/* The collection's URL, found among the API root's collections by id, alias or title. */
static char *find_collection(struct session *s, const char *api_root, struct response *r, char *err,
                             size_t errlen)
{
    const struct trl_taxii_spec *spec = s->spec;
    char *root_url = NULL;
    size_t n = strlen(api_root) + 16;
    char *url = trl_xmalloc(n);
    snprintf(url, n, "%scollections/", api_root);
    json_t *j = get_json(s, url, r, err, errlen);
    free(url);
    if (!j)
        return NULL;
    size_t i;
    json_t *c;
    const char *found = NULL;
    bool readable = false;
    json_array_foreach(json_object_get(j, "collections"), i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *alias = json_string_value(json_object_get(c, "alias"));
        const char *title = json_string_value(json_object_get(c, "title"));
        if ((id && !strcmp(id, spec->collection)) || (alias && !strcmp(alias, spec->collection)) ||
            (title && !strcmp(title, spec->collection))) {
            found = id;
            readable = json_is_true(json_object_get(c, "can_read"));
            break;
        }
    }
    if (!found)
        snprintf(err, errlen, "API root %s has no collection '%.100s'", api_root, spec->collection);
    else if (!safe_id(found))
        snprintf(err, errlen, "collection id '%.100s' is not a plain identifier", found);
    else if (!readable)
        snprintf(err, errlen, "collection '%.100s' cannot be read (can_read is not true)",
                 spec->collection);
    else {
        n = strlen(api_root) + strlen(found) + 16;
        root_url = trl_xmalloc(n);
        snprintf(root_url, n, "%scollections/%s/", api_root, found);
    }
    json_decref(j);
    return root_url;
}

static void put_param(struct trl_buf *u, const struct session *s, const char *key,
                      const char *value)
{
    const struct trl_curl *cu = s->cu;
    char *esc = cu->easy_escape(s->curl, value, 0);
    trl_buf_printf(u, "%c%s=%s", strchr(u->data, '?') ? '&' : '?', key, esc ? esc : "");
    cu->free(esc);
}

int trl_taxii_poll(const struct trl_taxii_spec *spec, const char *added_after,
                   const atomic_bool *stop, struct trl_taxii_poll *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct session s;
    struct response r = {0};
    struct trl_taxii_pager pg;
    trl_taxii_pager_init(&pg, added_after);
    char *api_root = NULL;
    int rc = session_open(&s, spec, stop, err, errlen);
    if (rc != 0)
        goto fail;
    rc = 0;
    if (!(api_root = find_api_root(&s, &r, err, errlen)))
        goto fail;
    if (!(out->collection_url = find_collection(&s, api_root, &r, err, errlen)))
        goto fail;
    out->objects = json_array();
    for (;;) {
        struct trl_buf u = {0};
        trl_buf_printf(&u, "%sobjects/", out->collection_url);
        if (pg.added_after)
            put_param(&u, &s, "added_after", pg.added_after);
        if (spec->limit) {
            char lim[24];
            snprintf(lim, sizeof(lim), "%u", spec->limit);
            put_param(&u, &s, "limit", lim);
        }
        if (pg.next)
            put_param(&u, &s, "next", pg.next);
        char *date_last = NULL;
        rc = http_get(&s, u.data, &r, &date_last, err, errlen);
        trl_buf_free(&u);
        if (rc != 0)
            goto fail;
        struct trl_taxii_envelope env;
        char why[256];
        rc = trl_taxii_envelope_parse(r.body.data ? r.body.data : "", r.body.len, &env, why,
                                      sizeof(why));
        if (rc != 0) {
            snprintf(err, errlen, "page %zu of %s: %s", pg.pages + 1, out->collection_url, why);
            free(date_last);
            goto fail;
        }
        json_array_extend(out->objects, env.objects);
        out->bytes += r.body.len;
        rc = trl_taxii_pager_advance(&pg, &env, date_last, why, sizeof(why));
        trl_taxii_envelope_clear(&env);
        free(date_last);
        if (rc < 0) {
            snprintf(err, errlen, "%s: %s", out->collection_url, why);
            goto fail;
        }
        if (rc == 0)
            break;
        /* A first poll of a very large collection is taken in several polls, each resuming
         * where the last one stopped, rather than held in memory whole. */
        if (out->bytes > (size_t)spec->max_bytes * POLL_BYTES_FACTOR && pg.newest) {
            out->partial = true;
            break;
        }
    }
    rc = 0;
    out->pages = pg.pages;
    if (pg.newest)
        out->cursor = trl_xstrdup(pg.newest);
    goto done;
fail:
    out->pages = pg.pages;
    json_decref(out->objects);
    out->objects = NULL;
    if (rc == 0)
        rc = s.error ? s.error : -EIO;
done:
    free(api_root);
    trl_buf_free(&r.body);
    trl_taxii_pager_clear(&pg);
    session_close(&s);
    return rc;
}

void trl_taxii_poll_clear(struct trl_taxii_poll *p)
{
    if (!p)
        return;
    json_decref(p->objects);
    free(p->cursor);
    free(p->collection_url);
    memset(p, 0, sizeof(*p));
}
