/*
 * http_parse: the pure pieces of request handling for the web console and REST API: route
 * patterns, cookies, bearer tokens, Accept-Encoding, limits on identifiers. No I/O, no globals,
 * no allocation; safe from any thread. Results point into the caller's input.
 */
#ifndef TRL_WEB_HTTP_PARSE_H
#define TRL_WEB_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define TRL_ROUTE_MAX_PARAMS 4

/* A path parameter captured by a route pattern: [ptr, ptr + len) in the request path. */
struct trl_route_param {
    const char *ptr;
    size_t len;
};

/*
 * Matches a request path against a pattern such as "/api/v1/alerts/{id}/comments". Literal
 * segments compare exactly; "{name}" captures one non-empty segment (no '/'). The whole path must
 * be consumed: "/api/v1/alerts/7/" does not match "/api/v1/alerts/{id}". Returns true and fills
 * params (in pattern order; *nparams their number) on a match.
 */
bool trl_route_match(const char *pattern, const char *path, struct trl_route_param *params,
                     size_t *nparams);

/* Finds cookie `name` in a Cookie header ("a=1; trl_session=abc"). Returns true with the value's
 * bytes in *val / *len (not unquoted, not decoded). */
bool trl_cookie_find(const char *header, const char *name, const char **val, size_t *len);

/* "Bearer TOKEN" (scheme case-insensitive, one or more spaces) -> TOKEN's bytes. */
bool trl_bearer_token(const char *header, const char **tok, size_t *len);

/* True when an Accept-Encoding header admits gzip (and does not give it q=0). */
bool trl_accepts_gzip(const char *header);

/* Roles in increasing power; -1 for an unknown name. */
enum trl_role { TRL_ROLE_VIEWER, TRL_ROLE_ANALYST, TRL_ROLE_ADMIN };
int trl_role_parse(const char *s);
const char *trl_role_name(int role);

/* A user or token name: 1..64 bytes of letters, digits and . _ - @ (so it is safe in logs, URLs
 * and file names). */
bool trl_web_name_ok(const char *s);

#endif
