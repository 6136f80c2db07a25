/*
 * Web server access logs in the NCSA layouts nginx and Apache write by default:
 *
 *   common:         client ident user [09/Jul/2024:22:10:13 +0000] "GET /x HTTP/1.1" 200 153
 *   combined:       common + ' "referer" "user agent"'
 *   vhost_combined: "vhost:port " + combined
 *
 * with anything after the user agent (nginx request_time, upstream times, X-Forwarded-For) ignored.
 * The parser is strict about the layout up to the status code because the dispatcher tries it on
 * lines of unknown format before RFC 3164: a line that does not have the client, ident, user,
 * bracketed time, quoted request and status in that order is not an access log.
 */
#include "formats/parse.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <string.h>

struct span {
    const char *p;
    size_t len;
};

/* Stores a value of the line: by reference when the line lies in event.original (it lives as long
 * as the event's arena), as a copy otherwise. */
static void put(struct trl_event *ev, bool ref, enum trl_field f, const char *v, size_t len)
{
    if (ref)
        trl_event_set_ref(ev, f, v, len);
    else
        trl_event_set(ev, f, v, len);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The bytes that end a token: a space, or the '[' or '"' of a field that has no space before it. */
static const bool token_stop[256] = {[' '] = true, ['['] = true, ['"'] = true};

/* A space-free token at p[*i] followed by one space; false when empty or at the end. */
static bool token(const char *p, size_t len, size_t *i, struct span *out)
{
    size_t s = *i, k = s;
    while (k < len && !token_stop[(unsigned char)p[k]])
        k++;
    if (k == s || k >= len || p[k] != ' ')
        return false;
    out->p = p + s;
    out->len = k - s;
    *i = k + 1;
    return true;
}

static unsigned num(const char *p, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(p[i] - '0');
    return v;
}

/* "[09/Jul/2024:22:10:13 +0000]" at p[i]; sets *ns (UTC) and returns the bytes it spans, or 0. */
static size_t parse_time(const char *p, size_t len, size_t i, int64_t *ns)
{
    /* The offsets of the digits, and of the punctuation with what it must be; the month's three
     * letters are at 4..6 and the offset's sign at 22. Every line is checked: fixed offsets
     * compile to straight-line tests. */
    static const unsigned char digit_at[16] = {1,  2,  8,  9,  10, 11, 13, 14,
                                               16, 17, 19, 20, 23, 24, 25, 26};
    static const char punct[] = "[//::: ]";
    static const unsigned char punct_at[8] = {0, 3, 7, 12, 15, 18, 21, 27};
    size_t n = 28;
    if (len - i < n)
        return 0;
    const char *t = p + i;
    unsigned bad = 0;
    for (size_t k = 0; k < sizeof(digit_at); k++)
        bad |= (unsigned char)(t[digit_at[k]] - '0') > 9;
    for (size_t k = 0; k < sizeof(punct_at); k++)
        bad |= t[punct_at[k]] != punct[k];
    for (size_t k = 4; k < 7; k++)
        bad |= (unsigned char)((t[k] | 0x20) - 'a') > 'z' - 'a';
    if (bad || (t[22] != '+' && t[22] != '-'))
        return 0;
    unsigned mon = trl_month_from_abbrev(t + 4);
    unsigned day = num(t + 1, 2), year = num(t + 8, 4);
    unsigned h = num(t + 13, 2), mi = num(t + 16, 2), s = num(t + 19, 2);
    unsigned oh = num(t + 23, 2), om = num(t + 25, 2);
    /* Nanoseconds since 1970 in an int64 end in 2262; no web server logs beyond 2200. */
    if (mon == 0 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60 || oh > 23 || om > 59 ||
        year < 1970 || year > 2200)
        return 0;
    int64_t off = (int64_t)(oh * 3600 + om * 60) * (t[22] == '-' ? -1 : 1);
    *ns = (trl_epoch_from_civil(year, mon, day, h, mi, s) - off) * TRL_NS_PER_SEC;
    return n;
}

/* A quoted field starting at p[*i] (the opening quote). Both servers escape a quote inside as \"
 * (Apache) or \x22 (nginx), so the first unescaped quote closes it. For the request field the
 * closing quote must also be followed by " <status>"; a quote that is not is part of the text. */
static bool quoted(const char *p, size_t len, size_t *i, struct span *out, bool need_status)
{
    if (*i >= len || p[*i] != '"')
        return false;
    size_t s = *i + 1;
    for (size_t k = trl_find_either(p, len, s, '"', '\\'); k < len;
         k = trl_find_either(p, len, k + 1, '"', '\\')) {
        if (p[k] == '\\') {
            /* The escaped byte is skipped, whatever it is. */
            if (++k >= len)
                break;
            continue;
        }
        if (need_status) {
            size_t r = len - k;
            bool status = r >= 5 && p[k + 1] == ' ' && is_digit(p[k + 2]) && is_digit(p[k + 3]) &&
                          is_digit(p[k + 4]) && (r == 5 || p[k + 5] == ' ');
            bool dash = r >= 3 && p[k + 1] == ' ' && p[k + 2] == '-' && (r == 3 || p[k + 3] == ' ');
            if (!status && !dash)
                continue;
        }
        out->p = p + s;
        out->len = k - s;
        *i = k + 1;
        return true;
    }
    return false;
}

static bool valid_method(const char *p, size_t len)
{
    if (len == 0 || len > 24)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_' || p[i] == '-'))
            return false;
    }
    return true;
}

static void set_url(struct trl_event *ev, bool ref, const char *u, size_t len)
{
    put(ev, ref, TRL_F_URL_ORIGINAL, u, len);
    size_t i = 0;
    /* Absolute form, as proxies receive it: "http://host:port/path". */
    const char *sep = len > 3 ? trl_memstr(u, TRL_MIN(len, 16), "://") : NULL;
    if (sep) {
        size_t h = (size_t)(sep - u) + 3, e = h;
        while (e < len && u[e] != '/' && u[e] != '?' && u[e] != '#')
            e++;
        size_t hl = e - h;
        const char *at = memchr(u + h, '@', hl);
        if (at) {
            hl -= (size_t)(at + 1 - (u + h));
            h = (size_t)(at + 1 - u);
        }
        size_t colon = hl;
        if (hl > 0 && u[h] != '[') {
            const char *c = memchr(u + h, ':', hl);
            colon = c ? (size_t)(c - (u + h)) : hl;
        }
        if (colon > 0)
            put(ev, ref, TRL_F_URL_DOMAIN, u + h, colon);
        i = e;
    } else if (len == 0 || u[0] != '/') {
        return; /* "*", or the authority of a CONNECT */
    }
    size_t q = i;
    while (q < len && u[q] != '?' && u[q] != '#')
        q++;
    if (q > i)
        put(ev, ref, TRL_F_URL_PATH, u + i, q - i);
    if (q < len && u[q] == '?') {
        size_t f = q + 1;
        while (f < len && u[f] != '#')
            f++;
        if (f > q + 1)
            put(ev, ref, TRL_F_URL_QUERY, u + q + 1, f - q - 1);
    }
    /* The extension of the last path segment, when it has one that is not a leading dot. */
    size_t seg = q;
    while (seg > i && u[seg - 1] != '/')
        seg--;
    size_t dot = q;
    while (dot > seg && u[dot - 1] != '.')
        dot--;
    if (dot > seg + 1 && dot < q && q - dot <= 16) {
        char ext[16];
        size_t n = q - dot;
        bool lower = true;
        for (size_t k = 0; k < n; k++) {
            char c = u[dot + k];
            lower &= !(c >= 'A' && c <= 'Z');
            ext[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        /* An extension already in lower case is the slice itself. */
        put(ev, ref && lower, TRL_F_URL_EXTENSION, lower ? u + dot : ext, n);
    }
}

static void set_request(struct trl_event *ev, bool ref, const char *r, size_t len)
{
    const char *sp1 = memchr(r, ' ', len);
    if (!sp1 || !valid_method(r, (size_t)(sp1 - r)))
        return; /* "-", or bytes that are no request (TLS sent to a plain HTTP port) */
    size_t mlen = (size_t)(sp1 - r);
    put(ev, ref, TRL_F_HTTP_REQUEST_METHOD, r, mlen);
    const char *target = sp1 + 1;
    size_t rest = len - mlen - 1;
    size_t tlen = rest;
    const char *sp2 = NULL;
    for (size_t k = rest; k > 0; k--) {
        if (target[k - 1] == ' ') {
            sp2 = target + k - 1;
            break;
        }
    }
    if (sp2) {
        const char *proto = sp2 + 1;
        size_t plen = (size_t)(r + len - proto);
        if (trl_starts_with(proto, plen, "HTTP/") && plen > 5) {
            tlen = (size_t)(sp2 - target);
            put(ev, ref, TRL_F_HTTP_VERSION, proto + 5, plen - 5);
        }
    }
    if (tlen > 0)
        set_url(ev, ref, target, tlen);
}

/* vhost_combined writes "server:port"; the server is the destination of the request. */
static void set_vhost(struct trl_event *ev, bool ref, const struct span *v)
{
    const char *colon = NULL;
    for (size_t k = v->len; k > 0; k--) {
        if (v->p[k - 1] == ':') {
            colon = v->p + k - 1;
            break;
        }
        if (!is_digit(v->p[k - 1]))
            break;
    }
    size_t hlen = colon ? (size_t)(colon - v->p) : v->len;
    if (hlen > 0)
        put(ev, ref, TRL_F_DESTINATION_DOMAIN, v->p, hlen);
    if (colon && colon + 1 < v->p + v->len)
        put(ev, ref, TRL_F_DESTINATION_PORT, colon + 1, (size_t)(v->p + v->len - colon - 1));
}

static bool dash(const struct span *s)
{
    return s->len == 1 && s->p[0] == '-';
}

int trl_parse_access_log(struct trl_event *ev, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    /* The time's '[' is the line's first '[' or '"' (tokens hold neither) and follows a space:
     * most lines that are no access log fail this 16 bytes at a time, before being tokenised. */
    size_t open = trl_find_either(p, len, 0, '[', '"');
    if (open == len || open == 0 || p[open - 1] != ' ' || p[open] != '[')
        return TRL_ENOMATCH;
    size_t i = 0;
    struct span t[4];
    int nt = 0;
    /* Three tokens then the time (client ident user), or four (vhost client ident user). */
    while (nt < 4 && token(p, len, &i, &t[nt])) {
        nt++;
        if (nt >= 3 && i < len && p[i] == '[')
            break;
    }
    if (nt < 3 || i >= len || p[i] != '[')
        return TRL_ENOMATCH;
    int64_t ts;
    size_t tl = parse_time(p, len, i, &ts);
    if (tl == 0)
        return TRL_ENOMATCH;
    i += tl;
    if (i >= len || p[i] != ' ')
        return TRL_ENOMATCH;
    i++;
    struct span req;
    if (!quoted(p, len, &i, &req, true))
        return TRL_ENOMATCH;
    /* quoted() checked that " <status>" or " -" follows. */
    i++;
    struct span status = {p + i, 0};
    while (i < len && p[i] != ' ')
        i++;
    status.len = (size_t)(p + i - status.p);
    struct span bytes = {NULL, 0};
    if (i < len) {
        i++;
        bytes.p = p + i;
        while (i < len && p[i] != ' ')
            i++;
        bytes.len = (size_t)(p + i - bytes.p);
    }
    uint64_t nbytes;
    if (bytes.p && !dash(&bytes) && !trl_parse_u64(bytes.p, bytes.len, &nbytes))
        return TRL_ENOMATCH;

    const struct span *client = &t[nt - 3], *user = &t[nt - 1];
    /* The line is usually the event's original or its syslog MSG part: its values are then
     * stored as slices of it rather than copied. */
    bool ref = trl_event_in_original(ev, p, len);
    if (!ev->format)
        ev->format = "access";
    ev->timestamp_ns = ts;
    if (nt == 4)
        set_vhost(ev, ref, &t[0]);
    if (trl_is_ip(client->p, client->len)) {
        put(ev, ref, TRL_F_SOURCE_IP, client->p, client->len);
        if (ref)
            trl_event_add_unique_ref(ev, TRL_F_RELATED_IP, client->p, client->len);
        else
            trl_event_add_unique(ev, TRL_F_RELATED_IP, client->p, client->len);
    } else if (!dash(client)) {
        put(ev, ref, TRL_F_SOURCE_ADDRESS, client->p, client->len);
        put(ev, ref, TRL_F_SOURCE_DOMAIN, client->p, client->len);
    }
    if (!dash(user)) {
        put(ev, ref, TRL_F_USER_NAME, user->p, user->len);
        if (ref)
            trl_event_add_unique_ref(ev, TRL_F_RELATED_USER, user->p, user->len);
        else
            trl_event_add_unique(ev, TRL_F_RELATED_USER, user->p, user->len);
    }
    set_request(ev, ref, req.p, req.len);
    if (!dash(&status)) {
        put(ev, ref, TRL_F_HTTP_RESPONSE_STATUS_CODE, status.p, status.len);
        bool ok = num(status.p, 3) < 400;
        if (ok)
            trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, "success", 7);
        else
            trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, "failure", 7);
    }
    if (bytes.p && !dash(&bytes))
        put(ev, ref, TRL_F_HTTP_RESPONSE_BODY_BYTES, bytes.p, bytes.len);

    /* combined: ' "referer" "user agent"'; anything after that is ignored. */
    struct span referrer, ua;
    if (i + 1 < len && p[i] == ' ' && (i++, quoted(p, len, &i, &referrer, false))) {
        if (referrer.len > 0 && !(referrer.len == 1 && referrer.p[0] == '-'))
            put(ev, ref, TRL_F_HTTP_REQUEST_REFERRER, referrer.p, referrer.len);
        if (i + 1 < len && p[i] == ' ' && (i++, quoted(p, len, &i, &ua, false)) && ua.len > 0 &&
            !(ua.len == 1 && ua.p[0] == '-'))
            put(ev, ref, TRL_F_USER_AGENT_ORIGINAL, ua.p, ua.len);
    }
    trl_event_set_ref(ev, TRL_F_EVENT_KIND, "event", 5);
    trl_event_add_ref(ev, TRL_F_EVENT_CATEGORY, "web", 3);
    trl_event_add_ref(ev, TRL_F_EVENT_TYPE, "access", 6);
    trl_event_set_ref(ev, TRL_F_EVENT_ACTION, "http-request", 12);
    return TRL_OK;
}
