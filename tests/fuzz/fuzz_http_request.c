/*
 * Fuzzes the request decoding of the web API: the input is split at newlines into a method, a
 * path, a Cookie header, an Authorization header, an Accept-Encoding header and a JSON body (the
 * rest). Each goes through what the server does with it: the route table, the cookie and bearer
 * token parsers, the gzip negotiation, name validation and the JSON body decoder.
 */
#include "web/http_parse.h"
#include "web/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Splits off the next line of [*p, end) as a NUL-terminated copy. */
static char *next_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += nl ? n + 1 : n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *method = next_line(&p, end);
    char *path = next_line(&p, end);
    char *cookie = next_line(&p, end);
    char *authz = next_line(&p, end);
    char *ae = next_line(&p, end);
    char *body = malloc((size_t)(end - p) + 1);
    memcpy(body, p, (size_t)(end - p));
    body[end - p] = '\0';

    struct trl_route_param params[TRL_ROUTE_MAX_PARAMS];
    size_t nparams = 0;
    bool known;
    const struct trl_route *r = trl_web_route_find(method, path, params, &nparams, &known);
    for (size_t i = 0; r && i < nparams; i++) {
        /* Parameters point into the path. */
        if (params[i].ptr < path || params[i].ptr + params[i].len > path + strlen(path))
            abort();
    }
    trl_route_match(cookie, path, params, &nparams);

    const char *v;
    size_t len;
    if (trl_cookie_find(cookie, "trl_session", &v, &len) &&
        (v < cookie || v + len > cookie + strlen(cookie)))
        abort();
    if (trl_bearer_token(authz, &v, &len) && (v < authz || v + len > authz + strlen(authz)))
        abort();
    (void)trl_accepts_gzip(ae);
    (void)trl_web_name_ok(method);
    (void)trl_role_parse(method);

    struct trl_web_req rq = {.body = body, .body_len = (size_t)(end - p)};
    struct trl_web_resp rs = {0};
    json_t *o = trl_web_body_object(&rq, &rs);
    json_decref(o);
    free(rs.body);

    free(method);
    free(path);
    free(cookie);
    free(authz);
    free(ae);
    free(body);
    return 0;
}
