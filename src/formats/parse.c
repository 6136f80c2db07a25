#include "formats/parse.h"
#include "core/util.h"
#include "formats/normalize.h"

#include <string.h>
#include <strings.h>

static const char *const format_names[TRL_FORMAT__COUNT] = {
    [TRL_FORMAT_AUTO] = "auto",         [TRL_FORMAT_RFC3164] = "rfc3164",
    [TRL_FORMAT_RFC5424] = "rfc5424",   [TRL_FORMAT_SNARE] = "snare",
    [TRL_FORMAT_CEF] = "cef",           [TRL_FORMAT_LEEF] = "leef",
    [TRL_FORMAT_JSON] = "json",         [TRL_FORMAT_AUDIT] = "audit",
    [TRL_FORMAT_ACCESS_LOG] = "access", [TRL_FORMAT_RAW] = "raw",
};

const char *trl_format_name(enum trl_format_id f)
{
    return f < TRL_FORMAT__COUNT ? format_names[f] : "unknown";
}

int trl_format_from_name(const char *name)
{
    for (int f = 0; f < TRL_FORMAT__COUNT; f++) {
        if (!strcasecmp(name, format_names[f]))
            return f;
    }
    return -1;
}

typedef int (*parser_fn)(struct trl_event *, const char *, size_t);

static const parser_fn parsers[TRL_FORMAT__COUNT] = {
    [TRL_FORMAT_RFC3164] = trl_parse_rfc3164, [TRL_FORMAT_RFC5424] = trl_parse_rfc5424,
    [TRL_FORMAT_SNARE] = trl_parse_snare,     [TRL_FORMAT_CEF] = trl_parse_cef,
    [TRL_FORMAT_LEEF] = trl_parse_leef,       [TRL_FORMAT_JSON] = trl_parse_json,
    [TRL_FORMAT_AUDIT] = trl_parse_audit,     [TRL_FORMAT_ACCESS_LOG] = trl_parse_access_log,
};

static bool has_pri(const char *p, size_t len)
{
    if (len < 3 || p[0] != '<')
        return false;
    size_t i = 1;
    while (i < len && i <= 4 && p[i] >= '0' && p[i] <= '9')
        i++;
    return i > 1 && i < len && p[i] == '>';
}

/* Snare lines name their log type in the first or second tab-separated field (or after a syslog
 * header); the names are distinctive enough to route on. */
static bool looks_like_snare(const char *p, size_t len)
{
    size_t window = len < 160 ? len : 160;
    return trl_memstr(p, window, "MSWinEventLog") || trl_memstr(p, window, "LinuxKAudit") ||
           trl_memstr(p, window, "AgentHeartBeat") ||
           (trl_memstr(p, window, "\t") &&
            (trl_memstr(p, window, "\tApacheLog\t") || trl_memstr(p, window, "\tAppleBSM\t") ||
             trl_memstr(p, window, "\tGenericLog\t")));
}

/* Order matters: the cheap, unambiguous prefixes first, the permissive guessers last. */
static int parse_auto(struct trl_event *ev, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    if (has_pri(p, len)) {
        const char *gt = memchr(p, '>', len);
        size_t after = (size_t)(gt - p) + 1;
        if (after + 1 < len && p[after] >= '1' && p[after] <= '9' && p[after + 1] == ' ') {
            /* A malformed RFC 5424 message keeps what its parser read: running the RFC 3164
             * parser over the same event would mix the two. */
            int rc = trl_parse_rfc5424(ev, p, len);
            if (rc != TRL_ENOMATCH)
                return rc;
        }
        return trl_parse_rfc3164(ev, p, len);
    }
    if (len > 0 && p[0] == '{')
        return trl_parse_json(ev, p, len);
    if (trl_starts_with(p, len, "CEF:"))
        return trl_parse_cef(ev, p, len);
    if (trl_starts_with(p, len, "LEEF:"))
        return trl_parse_leef(ev, p, len);
    if (trl_starts_with(p, len, "type=") || trl_starts_with(p, len, "node="))
        return trl_parse_audit(ev, p, len);
    if (looks_like_snare(p, len)) {
        /* A malformed Snare record keeps what was read rather than falling to other parsers. */
        int rc = trl_parse_snare(ev, p, len);
        if (rc != TRL_ENOMATCH)
            return rc;
    }
    if (trl_parse_access_log(ev, p, len) == 0)
        return 0;
    return trl_parse_rfc3164(ev, p, len);
}

/* A syslog message may carry another format in its MSG part; parse it into the same event. */
static void parse_payload(struct trl_event *ev)
{
    size_t len = 0;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    if (!msg || len == 0)
        return;
    if (trl_starts_with(msg, len, "CEF:"))
        trl_parse_cef(ev, msg, len);
    else if (trl_starts_with(msg, len, "LEEF:"))
        trl_parse_leef(ev, msg, len);
    else if (looks_like_snare(msg, len))
        trl_parse_snare(ev, msg, len);
    else if (msg[0] == '{')
        trl_parse_json(ev, msg, len);
    else if (trl_starts_with(msg, len, "type=") || trl_starts_with(msg, len, "node=") ||
             trl_memstr(msg, TRL_MIN(len, 64), "audit("))
        trl_parse_audit(ev, msg, len);
    else if (trl_event_is(ev, TRL_F_LOG_SYSLOG_APPNAME, "nginx") ||
             trl_event_is(ev, TRL_F_LOG_SYSLOG_APPNAME, "apache") ||
             trl_event_is(ev, TRL_F_LOG_SYSLOG_APPNAME, "apache2") ||
             trl_event_is(ev, TRL_F_LOG_SYSLOG_APPNAME, "httpd"))
        trl_parse_access_log(ev, msg, len);
}

static void keep_unparsed(struct trl_event *ev, const char *p, size_t len)
{
    ev->flags |= TRL_EVF_UNPARSED;
    ev->format = "raw";
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    trl_event_set_ref(ev, TRL_F_MESSAGE, p, len);
}

void trl_parse_agent_event(struct trl_event *ev)
{
    ev->flags |= TRL_EVF_FROM_AGENT;
    const char *p = ev->original;
    size_t len = ev->original_len;
    if (trl_parse_json(ev, p, len) == TRL_ENOMATCH)
        keep_unparsed(ev, p, len);
}

void trl_parse_event(struct trl_event *ev, enum trl_format_id fmt)
{
    const char *p = ev->original;
    size_t len = ev->original_len;
    int rc;
    if (fmt == TRL_FORMAT_RAW) {
        rc = TRL_ENOMATCH;
    } else if (fmt == TRL_FORMAT_AUTO || fmt >= TRL_FORMAT__COUNT || !parsers[fmt]) {
        rc = parse_auto(ev, p, len);
    } else {
        rc = parsers[fmt](ev, p, len);
    }
    if (rc == TRL_ENOMATCH) {
        keep_unparsed(ev, p, len);
        if (fmt == TRL_FORMAT_RAW)
            ev->flags &= ~(uint32_t)TRL_EVF_UNPARSED;
        return;
    }
    if (ev->format && (!strcmp(ev->format, "rfc3164") || !strcmp(ev->format, "rfc5424")))
        parse_payload(ev);
    trl_normalize(ev);
}
