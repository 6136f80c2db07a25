/*
 * syslog_encode: events as RFC 5424, RFC 3164, Snare, CEF or JSON messages (see syslog_encode.h).
 *
 * The header fields come from the event's ECS fields: the priority from log.syslog.facility.code
 * and log.syslog.severity.code when a parser found them (else facility user, severity notice, or
 * warning for a failure), host.name, process.name and process.pid, event.action. The text is the
 * event's message, else event.original, else (host events such as file integrity) its ECS JSON.
 * RFC 3164 and CEF timestamps are UTC, as RFC 3164 carries no zone.
 */
#include "formats/syslog_encode.h"

#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"

#include <stdint.h>
#include <string.h>

#define PEN          "32473" /* RFC 5612 documentation enterprise number, as in the alert output */
#define CEF_NAME_MAX 512

const char *const trl_syslog_encoding_names[] = {"rfc5424", "rfc3164", "snare",
                                                 "cef",     "json",    NULL};

void trl_syslog_put_header_field(struct trl_buf *b, const char *s, size_t len, size_t max)
{
    size_t n = TRL_MIN(len, max);
    for (size_t i = 0; i < n; i++)
        trl_buf_putc(b, s[i] > 32 && s[i] < 127 ? s[i] : '_');
    if (n == 0)
        trl_buf_putc(b, '-');
}

void trl_syslog_put_sd_value(struct trl_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\' || s[i] == ']')
            trl_buf_putc(b, '\\');
        trl_buf_putc(b, s[i]);
    }
}

void trl_cef_put_escaped(struct trl_buf *b, const char *s, size_t len, bool header)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' || (header && c == '|') || (!header && c == '='))
            trl_buf_putc(b, '\\');
        if (c == '\n' || c == '\r')
            trl_buf_puts(b, header ? " " : c == '\n' ? "\\n" : "\\r");
        else
            trl_buf_putc(b, c);
    }
}

/* ---- event fields ---- */

struct view {
    const char *p;
    size_t len;
};

static struct view get(const struct trl_event *ev, enum trl_field f)
{
    size_t len = 0;
    const char *p = trl_event_get(ev, f, &len);
    return p ? (struct view){p, len} : (struct view){"", 0};
}

static bool get_int(const struct trl_event *ev, enum trl_field f, uint64_t max, uint64_t *out)
{
    struct view v = get(ev, f);
    return v.len > 0 && trl_parse_u64(v.p, v.len, out) && *out <= max;
}

static bool is_failure(const struct trl_event *ev)
{
    return trl_event_is(ev, TRL_F_EVENT_OUTCOME, "failure");
}

static int priority(const struct trl_event *ev)
{
    uint64_t fac = 1, sev = is_failure(ev) ? 4 : 5, pri;
    if (get_int(ev, TRL_F_LOG_SYSLOG_PRIORITY, 191, &pri))
        return (int)pri;
    get_int(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, 23, &fac);
    get_int(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, 7, &sev);
    return (int)(fac * 8 + sev);
}

static int64_t event_time(const struct trl_event *ev, int64_t now_ns)
{
    if (ev->timestamp_ns)
        return ev->timestamp_ns;
    return ev->received_ns ? ev->received_ns : now_ns;
}

static struct view host_of(const struct trl_event *ev, const char *hostname)
{
    struct view h = get(ev, TRL_F_HOST_NAME);
    if (h.len == 0 && hostname)
        h = (struct view){hostname, strlen(hostname)};
    return h;
}

static struct view app_of(const struct trl_event *ev)
{
    struct view a = get(ev, TRL_F_PROCESS_NAME);
    if (a.len == 0)
        a = get(ev, TRL_F_LOG_SYSLOG_APPNAME);
    return a.len ? a : (struct view){"trapline-agent", 14};
}

/* Turns the line breaks written since start into spaces: a message is always one line. */
static void flatten(struct trl_buf *b, size_t start)
{
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '\n' || b->data[i] == '\r')
            b->data[i] = ' ';
}

/* Appends text with line breaks turned into spaces. */
static void put_line(struct trl_buf *b, const char *s, size_t len)
{
    size_t start = b->len;
    trl_buf_append(b, s, len);
    flatten(b, start);
}

/* The message text: message, event.original, or the event's JSON. */
static void put_text(struct trl_buf *b, const struct trl_event *ev, const char *json,
                     size_t json_len)
{
    struct view m = get(ev, TRL_F_MESSAGE);
    if (m.len == 0 && ev->original_len)
        m = (struct view){ev->original, ev->original_len};
    if (m.len) {
        put_line(b, m.p, m.len);
    } else if (json) {
        put_line(b, json, json_len);
    } else {
        size_t start = b->len;
        trl_json_encode_event(ev, b);
        flatten(b, start);
    }
}

/* "<PRI>Mmm dd hh:mm:ss HOST " (RFC 3164 section 4.1, day padded with a space). */
static void put_3164_header(struct trl_buf *b, const struct trl_event *ev, const char *hostname,
                            int64_t now_ns)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t secs = event_time(ev, now_ns) / TRL_NS_PER_SEC;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned mon, d;
    trl_civil_from_days(days, &y, &mon, &d);
    trl_buf_printf(b, "<%d>%s %2u %02d:%02d:%02d ", priority(ev), months[(mon - 1) % 12], d,
                   (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    struct view h = host_of(ev, hostname);
    trl_syslog_put_header_field(b, h.p, h.len, 255);
    trl_buf_putc(b, ' ');
}

static void encode_5424(struct trl_buf *b, const struct trl_event *ev, const char *hostname,
                        const char *json, size_t json_len, int64_t now_ns)
{
    char ts[TRL_RFC3339_MAX];
    size_t tslen = trl_format_rfc3339(event_time(ev, now_ns), ts);
    /* RFC 5424 allows at most six digits of fraction: "...:46.123456789Z" becomes ".123456Z". */
    const char *dot = memchr(ts, '.', tslen);
    if (dot && tslen - (size_t)(dot - ts) > 8) {
        size_t keep = (size_t)(dot - ts) + 7;
        ts[keep] = 'Z';
        tslen = keep + 1;
    }
    trl_buf_printf(b, "<%d>1 ", priority(ev));
    trl_buf_append(b, ts, tslen);
    trl_buf_putc(b, ' ');
    struct view h = host_of(ev, hostname), app = app_of(ev), pid = get(ev, TRL_F_PROCESS_PID),
                action = get(ev, TRL_F_EVENT_ACTION);
    trl_syslog_put_header_field(b, h.p, h.len, 255);
    trl_buf_putc(b, ' ');
    trl_syslog_put_header_field(b, app.p, app.len, 48);
    trl_buf_putc(b, ' ');
    trl_syslog_put_header_field(b, pid.p, pid.len, 128);
    trl_buf_putc(b, ' ');
    trl_syslog_put_header_field(b, action.p, action.len, 32);
    /* The ECS classification travels as structured data, so that a receiver need not parse the
     * text to know what the event is. */
    static const struct {
        const char *name;
        enum trl_field f;
    } sd[] = {{"dataset", TRL_F_EVENT_DATASET},
              {"action", TRL_F_EVENT_ACTION},
              {"outcome", TRL_F_EVENT_OUTCOME},
              {"category", TRL_F_EVENT_CATEGORY}};
    bool any = false;
    for (size_t i = 0; i < TRL_ARRAY_LEN(sd); i++) {
        struct view v = get(ev, sd[i].f);
        if (!v.len)
            continue;
        trl_buf_printf(b, "%s%s=\"", any ? " " : " [trapline@" PEN " ", sd[i].name);
        size_t start = b->len;
        trl_syslog_put_sd_value(b, v.p, v.len);
        flatten(b, start);
        trl_buf_putc(b, '"');
        any = true;
    }
    trl_buf_puts(b, any ? "] " : " - ");
    put_text(b, ev, json, json_len);
}

static void encode_3164(struct trl_buf *b, const struct trl_event *ev, const char *hostname,
                        const char *json, size_t json_len, int64_t now_ns)
{
    put_3164_header(b, ev, hostname, now_ns);
    /* TAG: alphanumeric characters and a few more, at most 32 (RFC 3164 section 4.1.3). */
    struct view app = app_of(ev), pid = get(ev, TRL_F_PROCESS_PID);
    size_t n = 0;
    for (size_t i = 0; i < app.len && n < 32; i++, n++) {
        char c = app.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '/';
        trl_buf_putc(b, ok ? c : '_');
    }
    uint64_t pidn;
    if (pid.len && trl_parse_u64(pid.p, pid.len, &pidn))
        trl_buf_printf(b, "[%llu]", (unsigned long long)pidn);
    trl_buf_puts(b, ": ");
    put_text(b, ev, json, json_len);
}

static void encode_snare(struct trl_buf *b, const struct trl_event *ev, const char *hostname,
                         const char *json, size_t json_len, int64_t now_ns)
{
    /* Epilog's layout: HOST TAB GenericLog TAB criticality TAB the line. Tabs inside the line
     * would add columns: they become spaces. */
    put_3164_header(b, ev, hostname, now_ns);
    struct view h = host_of(ev, hostname);
    trl_syslog_put_header_field(b, h.p, h.len, 255);
    trl_buf_printf(b, "\tGenericLog\t%d\t", is_failure(ev) ? 3 : 1);
    size_t start = b->len;
    put_text(b, ev, json, json_len);
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '\t')
            b->data[i] = ' ';
}

static void cef_ext(struct trl_buf *b, const char *key, struct view v)
{
    if (!v.len)
        return;
    trl_buf_printf(b, " %s=", key);
    trl_cef_put_escaped(b, v.p, v.len, false);
}

static void encode_cef(struct trl_buf *b, const struct trl_event *ev, const char *hostname,
                       int64_t now_ns)
{
    put_3164_header(b, ev, hostname, now_ns);
    struct view action = get(ev, TRL_F_EVENT_ACTION), dataset = get(ev, TRL_F_EVENT_DATASET);
    struct view sig = action.len ? action : dataset.len ? dataset : (struct view){"event", 5};
    struct view name = get(ev, TRL_F_MESSAGE);
    if (!name.len && ev->original_len)
        name = (struct view){ev->original, ev->original_len};
    if (!name.len)
        name = sig;
    trl_buf_puts(b, "CEF:0|Trapline|Trapline Agent|" TRL_VERSION "|");
    trl_cef_put_escaped(b, sig.p, sig.len, true);
    trl_buf_putc(b, '|');
    trl_cef_put_escaped(b, name.p, TRL_MIN(name.len, (size_t)CEF_NAME_MAX), true);
    trl_buf_printf(b, "|%d|rt=%lld", is_failure(ev) ? 6 : 3,
                   (long long)(event_time(ev, now_ns) / 1000000));
    /* ECS to CEF: the reverse of the CEF parser's table for the keys an endpoint produces. */
    static const struct {
        const char *key;
        enum trl_field f;
    } map[] = {
        {"src", TRL_F_SOURCE_IP},
        {"spt", TRL_F_SOURCE_PORT},
        {"dst", TRL_F_DESTINATION_IP},
        {"dpt", TRL_F_DESTINATION_PORT},
        {"suser", TRL_F_USER_NAME},
        {"suid", TRL_F_USER_ID},
        {"duser", TRL_F_USER_TARGET_NAME},
        {"proto", TRL_F_NETWORK_TRANSPORT},
        {"act", TRL_F_EVENT_ACTION},
        {"outcome", TRL_F_EVENT_OUTCOME},
        {"cat", TRL_F_EVENT_DATASET},
        {"sproc", TRL_F_PROCESS_NAME},
        {"spid", TRL_F_PROCESS_PID},
        {"fname", TRL_F_FILE_NAME},
        {"filePath", TRL_F_FILE_PATH},
        {"fileHash", TRL_F_FILE_HASH_SHA256},
        {"fsize", TRL_F_FILE_SIZE},
        {"request", TRL_F_URL_ORIGINAL},
        {"requestMethod", TRL_F_HTTP_REQUEST_METHOD},
    };
    cef_ext(b, "dvchost", host_of(ev, hostname));
    for (size_t i = 0; i < TRL_ARRAY_LEN(map); i++)
        cef_ext(b, map[i].key, get(ev, map[i].f));
    struct view msg = get(ev, TRL_F_MESSAGE);
    if (!msg.len && ev->original_len)
        msg = (struct view){ev->original, ev->original_len};
    cef_ext(b, "msg", msg);
}

void trl_syslog_encode_event(struct trl_buf *out, const struct trl_event *ev,
                             enum trl_syslog_encoding enc, const char *hostname, const char *json,
                             size_t json_len, int64_t now_ns)
{
    switch (enc) {
    case TRL_ENCODE_RFC5424:
        encode_5424(out, ev, hostname, json, json_len, now_ns);
        break;
    case TRL_ENCODE_RFC3164:
        encode_3164(out, ev, hostname, json, json_len, now_ns);
        break;
    case TRL_ENCODE_SNARE:
        encode_snare(out, ev, hostname, json, json_len, now_ns);
        break;
    case TRL_ENCODE_CEF:
        encode_cef(out, ev, hostname, now_ns);
        break;
    case TRL_ENCODE_JSON:
        if (json)
            trl_buf_append(out, json, json_len);
        else
            trl_json_encode_event(ev, out);
        break;
    }
}
