/*
 * http_parse: route patterns, cookies, bearer tokens and Accept-Encoding, over caller buffers.
 */
#include "web/http_parse.h"

#include <string.h>
#include <strings.h>

bool trl_route_match(const char *pattern, const char *path, struct trl_route_param *params,
                     size_t *nparams)
{
    size_t n = 0;
    const char *p = pattern, *s = path;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || n >= TRL_ROUTE_MAX_PARAMS)
                return false;
            size_t len = strcspn(s, "/");
            if (len == 0)
                return false;
            params[n++] = (struct trl_route_param){s, len};
            s += len;
            p = close + 1;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*s)
        return false;
    *nparams = n;
    return true;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool trl_cookie_find(const char *header, const char *name, const char **val, size_t *len)
{
    size_t nlen = strlen(name);
    const char *s = header;
    while (s && *s) {
        s = skip_ws(s);
        const char *end = strchr(s, ';');
        size_t plen = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', plen);
        if (eq && (size_t)(eq - s) == nlen && !memcmp(s, name, nlen)) {
            *val = eq + 1;
            *len = plen - nlen - 1;
            while (*len && ((*val)[*len - 1] == ' ' || (*val)[*len - 1] == '\t'))
                (*len)--;
            return true;
        }
        s = end ? end + 1 : NULL;
    }
    return false;
}

bool trl_bearer_token(const char *header, const char **tok, size_t *len)
{
    if (strncasecmp(header, "Bearer", 6) || (header[6] != ' ' && header[6] != '\t'))
        return false;
    const char *t = skip_ws(header + 6);
    size_t n = strcspn(t, " \t\r\n");
    if (n == 0 || t[n] != '\0')
        return false;
    *tok = t;
    *len = n;
    return true;
}

bool trl_accepts_gzip(const char *header)
{
    const char *s = header;
    while (s && *s) {
        s = skip_ws(s);
        const char *end = strchr(s, ',');
        size_t plen = end ? (size_t)(end - s) : strlen(s);
        size_t tok = strcspn(s, ";, \t");
        if (tok > plen)
            tok = plen;
        if ((tok == 4 && !strncasecmp(s, "gzip", 4)) || (tok == 1 && s[0] == '*')) {
            /* q=0 (or 0.0, 0.00 ...) refuses it. */
            const char *q = s + tok;
            const char *stop = s + plen;
            while (q < stop && (*q == ' ' || *q == '\t' || *q == ';'))
                q++;
            if (stop - q >= 3 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
                const char *v = q + 2;
                bool zero = v < stop && v[0] == '0';
                for (const char *d = v + 1; zero && d < stop && *d != ' ' && *d != '\t'; d++)
                    zero = *d == '.' || *d == '0';
                if (zero)
                    return false;
            }
            return true;
        }
        s = end ? end + 1 : NULL;
    }
    return false;
}

static const char *const role_names[] = {"viewer", "analyst", "admin"};

int trl_role_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, role_names[i]))
            return i;
    return -1;
}

const char *trl_role_name(int role)
{
    return role >= 0 && role < 3 ? role_names[role] : "none";
}

bool trl_web_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '@';
        if (!ok)
            return false;
    }
    return true;
}
