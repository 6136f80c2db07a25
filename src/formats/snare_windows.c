/*
 * Snare Windows event log records ("MSWinEventLog").
 *
 * Classic layout, after the log type: criticality, LogName, Snare event counter, DateTime, EventID,
 * SourceName, UserName, SIDType, EventLogType, ComputerName, CategoryString, then the strings and
 * an optional trailer. The strings part varies between agent versions: usually an empty DataString
 * then the ExpandedString (the rendered message), but older agents omit the DataString, and some
 * relays keep the message's own tabs. The trailer is the event log record number, optionally
 * followed by "Name=Value" fields or an MD5 checksum. So the strings are read from both ends: the
 * trailer is taken from the right, an empty DataString from the left, and everything between is
 * the message, tabs included.
 *
 * SNARE V2 carries the same event as a JSON object. Its exact shape differs between agents and
 * relays (Snare's {"Event":{"System":..,"EventData":..}}, flat NXLog-style objects), so the reader
 * looks for each value under the names these use.
 *
 * The DateTime carries no time zone. The agent writes the Windows host's local time by default (it
 * can be set to UTC); without a zone it is taken as UTC.
 */
#include "core/timeutil.h"
#include "formats/snare_internal.h"
#include "formats/vendor_ecs.h"
#include "formats/vendor_time.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define CTIME_PATTERN  "EEE MMM d HH:mm:ss yyyy"
#define NAME_MAX_LEN   TRL_VENDOR_NAME_MAX
#define EVENT_DATA_PFX "winlog.event_data."

enum {
    F_CRIT,
    F_LOGNAME,
    F_COUNTER,
    F_DATETIME,
    F_EVENTID,
    F_SOURCE,
    F_USER,
    F_SIDTYPE,
    F_LOGTYPE,
    F_COMPUTER,
    F_CATEGORY,
    F_STRINGS, /* first field of the strings */
};

static bool is_na(const struct trl_str *s)
{
    return s->len == 0 || trl_str_eq(*s, "N/A");
}

static bool is_name_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_hex(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return len > 0;
}

/* "Name=Value" with a plain name, or a 32-hex-digit MD5 checksum. */
static bool is_optional_field(const struct trl_str *s)
{
    if (s->len == 32 && is_hex(s->ptr, 32))
        return true;
    const char *eq = memchr(s->ptr, '=', s->len);
    if (!eq || eq == s->ptr || (size_t)(eq - s->ptr) > NAME_MAX_LEN)
        return false;
    for (const char *c = s->ptr; c < eq; c++) {
        if (!is_name_char(*c))
            return false;
    }
    return true;
}

static void set_optional_field(struct trl_event *ev, const struct trl_str *s)
{
    const char *eq = memchr(s->ptr, '=', s->len);
    if (!eq) {
        trl_snare_set_named(ev, "labels.snare_checksum", s->ptr, s->len);
        return;
    }
    size_t nlen = (size_t)(eq - s->ptr);
    trl_vendor_set_prefixed(ev, "labels.snare_", s->ptr, nlen, eq + 1, s->len - nlen - 1);
}

static void set_user(struct trl_event *ev, const char *p, size_t len)
{
    const char *bs = memchr(p, '\\', len);
    if (bs) {
        size_t dlen = (size_t)(bs - p);
        trl_snare_set(ev, TRL_F_USER_DOMAIN, p, dlen);
        p = bs + 1;
        len -= dlen + 1;
    }
    if (len > 0)
        trl_vendor_set_user(ev, TRL_F_USER_NAME, p, len);
}

/* EventLogType: audit results give the outcome and the keyword, the other types a log level. */
static void set_log_type(struct trl_event *ev, const char *p, size_t len)
{
    if (trl_strcase_eq(p, len, "Success Audit", 13) ||
        trl_strcase_eq(p, len, "AUDIT_SUCCESS", 13) ||
        trl_strcase_eq(p, len, "Audit Success", 13)) {
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, "success", 7);
        trl_event_add_unique_ref(ev, TRL_F_WINLOG_KEYWORDS, "Audit Success", 13);
        return;
    }
    if (trl_strcase_eq(p, len, "Failure Audit", 13) ||
        trl_strcase_eq(p, len, "AUDIT_FAILURE", 13) ||
        trl_strcase_eq(p, len, "Audit Failure", 13)) {
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, "failure", 7);
        trl_event_add_unique_ref(ev, TRL_F_WINLOG_KEYWORDS, "Audit Failure", 13);
        return;
    }
    static const char *const levels[] = {"information", "warning", "error", "critical", "verbose"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(levels); i++) {
        if (trl_strcase_eq(p, len, levels[i], strlen(levels[i]))) {
            trl_event_set_ref(ev, TRL_F_LOG_LEVEL, levels[i], strlen(levels[i]));
            return;
        }
    }
}

static bool two_digits(const char *p, unsigned *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return false;
    *v = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
    return true;
}

/* The DateTime in the form every agent writes, "Fri Nov 27 18:37:34 2026" (day in one or two
 * digits), read without interpreting CTIME_PATTERN. Gives what trl_vtime_parse_pattern() gives for
 * the same text; false for any other form, which the pattern then reads. */
static bool parse_ctime(const char *p, size_t len, int64_t *ns)
{
    if (len != 23 && len != 24)
        return false;
    size_t dd = len - 22; /* digits of the day */
    const char *t = p + 8 + dd;
    for (size_t i = 0; i < 3; i++) {
        char c = (char)(p[i] | 0x20);
        if (c < 'a' || c > 'z')
            return false;
    }
    if (p[3] != ' ' || p[7] != ' ' || t[0] != ' ' || t[3] != ':' || t[6] != ':' || t[9] != ' ')
        return false;
    char abbr[4] = {p[4], p[5], p[6], '\0'};
    unsigned mon = trl_month_from_abbrev(abbr), day, hour, min, sec, y1, y2;
    if (p[8] < '0' || p[8] > '9')
        return false;
    day = (unsigned)(p[8] - '0');
    if (dd == 2) {
        if (p[9] < '0' || p[9] > '9')
            return false;
        day = day * 10 + (unsigned)(p[9] - '0');
    }
    if (!mon || !two_digits(t + 1, &hour) || !two_digits(t + 4, &min) || !two_digits(t + 7, &sec) ||
        !two_digits(t + 10, &y1) || !two_digits(t + 12, &y2))
        return false;
    unsigned year = y1 * 100 + y2;
    if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970 || year > 2261)
        return false;
    *ns = trl_epoch_from_civil(year, mon, day, hour, min, sec) * TRL_NS_PER_SEC;
    return true;
}

static bool set_event_id(struct trl_event *ev, const char *p, size_t len, unsigned *id)
{
    uint64_t v;
    if (len > 5 || !trl_parse_u64(p, len, &v) || v > 65535)
        return false;
    trl_snare_set_slice(ev, TRL_F_WINLOG_EVENT_ID, p, len);
    trl_snare_set_slice(ev, TRL_F_EVENT_CODE, p, len);
    *id = (unsigned)v;
    return true;
}

static void set_computer(struct trl_event *ev, const char *p, size_t len)
{
    if (len == 0)
        return;
    trl_snare_set_slice(ev, TRL_F_WINLOG_COMPUTER_NAME, p, len);
    trl_snare_set_new(ev, TRL_F_HOST_NAME, p, len);
}

/* The strings and trailer: [DataString] ExpandedString [record number [optional fields...]]. */
static void parse_strings(struct trl_event *ev, const struct trl_str *f, size_t n, unsigned id,
                          bool have_id)
{
    size_t first = F_STRINGS, end = n;
    size_t k = n;
    while (k > first + 1 && is_optional_field(&f[k - 1]))
        k--;
    if (k > first + 1 && f[k - 1].len <= 20 && trl_snare_is_digits(f[k - 1].ptr, f[k - 1].len)) {
        trl_snare_set_slice(ev, TRL_F_WINLOG_RECORD_ID, f[k - 1].ptr, f[k - 1].len);
        for (size_t i = k; i < n; i++)
            set_optional_field(ev, &f[i]);
        end = k - 1;
    }
    if (end - first >= 2 && f[first].len == 0)
        first++;
    if (end <= first)
        return;
    const char *msg = f[first].ptr;
    size_t mlen = (size_t)(f[end - 1].ptr + f[end - 1].len - msg);
    while (mlen > 0 && (msg[mlen - 1] == ' ' || msg[mlen - 1] == '\t'))
        mlen--;
    if (mlen == 0)
        return;
    trl_snare_set_slice(ev, TRL_F_MESSAGE, msg, mlen);
    if (have_id)
        trl_snare_win_message(ev, id, msg, mlen);
}

int trl_snare_windows(struct trl_event *ev, const struct trl_str *f, size_t n)
{
    if (n > F_CRIT && f[F_CRIT].len <= 2 && trl_snare_is_digits(f[F_CRIT].ptr, f[F_CRIT].len))
        trl_snare_set_named(ev, "labels.snare_criticality", f[F_CRIT].ptr, f[F_CRIT].len);
    if (n > F_LOGNAME)
        trl_snare_set(ev, TRL_F_WINLOG_CHANNEL, f[F_LOGNAME].ptr, f[F_LOGNAME].len);
    if (n > F_COUNTER && f[F_COUNTER].len <= 20 &&
        trl_snare_is_digits(f[F_COUNTER].ptr, f[F_COUNTER].len))
        trl_snare_set_slice(ev, TRL_F_EVENT_SEQUENCE, f[F_COUNTER].ptr, f[F_COUNTER].len);
    int64_t ns;
    if (n > F_DATETIME && (parse_ctime(f[F_DATETIME].ptr, f[F_DATETIME].len, &ns) ||
                           trl_vtime_parse_pattern(CTIME_PATTERN, sizeof(CTIME_PATTERN) - 1,
                                                   f[F_DATETIME].ptr, f[F_DATETIME].len, 0, &ns)))
        ev->timestamp_ns = ns;
    unsigned id = 0;
    bool have_id = n > F_EVENTID && set_event_id(ev, f[F_EVENTID].ptr, f[F_EVENTID].len, &id);
    if (n > F_SOURCE && f[F_SOURCE].len) {
        trl_snare_set_slice(ev, TRL_F_WINLOG_PROVIDER_NAME, f[F_SOURCE].ptr, f[F_SOURCE].len);
        trl_snare_set_slice(ev, TRL_F_EVENT_PROVIDER, f[F_SOURCE].ptr, f[F_SOURCE].len);
    }
    if (n > F_USER && !is_na(&f[F_USER]))
        set_user(ev, f[F_USER].ptr, f[F_USER].len);
    if (n > F_SIDTYPE && !is_na(&f[F_SIDTYPE]))
        trl_snare_set_named(ev, "winlog.user.type", f[F_SIDTYPE].ptr, f[F_SIDTYPE].len);
    if (n > F_LOGTYPE)
        set_log_type(ev, f[F_LOGTYPE].ptr, f[F_LOGTYPE].len);
    if (n > F_COMPUTER)
        set_computer(ev, f[F_COMPUTER].ptr, f[F_COMPUTER].len);
    if (n > F_CATEGORY && f[F_CATEGORY].len)
        trl_snare_set_named(ev, "winlog.task", f[F_CATEGORY].ptr, f[F_CATEGORY].len);
    if (n > F_STRINGS)
        parse_strings(ev, f, n, id, have_id);
    return n > F_STRINGS && have_id ? 0 : TRL_EINVAL;
}

/* SNARE V2 (JSON). */

/* Text of a scalar JSON value: strings as they are, numbers and booleans printed into buf. */
static const char *scalar(const json_t *v, char *buf, size_t bufsize, size_t *len)
{
    int n;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return json_string_value(v);
    case JSON_INTEGER:
        n = snprintf(buf, bufsize, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        n = snprintf(buf, bufsize, "%.17g", json_real_value(v));
        break;
    case JSON_TRUE:
        n = snprintf(buf, bufsize, "true");
        break;
    case JSON_FALSE:
        n = snprintf(buf, bufsize, "false");
        break;
    default:
        return NULL;
    }
    if (n < 0 || (size_t)n >= bufsize)
        return NULL;
    *len = (size_t)n;
    return buf;
}

/* The first of several member names present in obj. */
static json_t *member(const json_t *obj, const char *const *names, size_t count)
{
    if (!json_is_object(obj))
        return NULL;
    for (size_t i = 0; i < count; i++) {
        json_t *v = json_object_get(obj, names[i]);
        if (v && !json_is_null(v))
            return v;
    }
    return NULL;
}

#define MEMBER(obj, ...)                                                                           \
    member((obj), (const char *const[]){__VA_ARGS__},                                              \
           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* A value that may be a scalar or an object holding it as an attribute or text ({"Name": "x"},
 * {"#text": "4624"}, {"#attributes": {"Name": "x"}}). */
static const char *text_of(const json_t *v, const char *attr, char *buf, size_t bufsize,
                           size_t *len)
{
    if (!v)
        return NULL;
    if (!json_is_object(v))
        return scalar(v, buf, bufsize, len);
    json_t *inner = MEMBER(v, attr, "Value", "#text", "text", "value");
    if (!inner) {
        json_t *attrs = MEMBER(v, "#attributes", "@attributes");
        inner = attrs ? json_object_get(attrs, attr) : NULL;
    }
    if (!inner && attr[0] != '@') {
        char at[64];
        int n = snprintf(at, sizeof(at), "@%s", attr);
        if (n > 0 && (size_t)n < sizeof(at))
            inner = json_object_get(v, at);
    }
    return inner && !json_is_object(inner) ? scalar(inner, buf, bufsize, len) : NULL;
}

static void set_data_value(struct trl_event *ev, const char *prefix, const char *name, size_t nlen,
                           const json_t *v)
{
    char buf[64];
    size_t len;
    const char *s = scalar(v, buf, sizeof(buf), &len);
    if (s)
        trl_vendor_set_prefixed(ev, prefix, name, nlen, s, len);
}

/* EventData as {"Name": value, ...}, or with "Data" as an array of {"Name": n, "#text": v} items
 * (XML-to-JSON renderings) or as an object of name/value pairs. Returns the values set. */
static size_t set_event_data(struct trl_event *ev, const char *prefix, const json_t *data)
{
    size_t count = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)data, key, v)
    {
        if (strcmp(key, "Data") == 0 && json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                char nb[64], vb[64];
                size_t nlen, vlen;
                const char *name = text_of(MEMBER(item, "Name", "@Name", "#attributes"), "Name", nb,
                                           sizeof(nb), &nlen);
                const char *val = text_of(MEMBER(item, "#text", "Value", "text", "value"), "Value",
                                          vb, sizeof(vb), &vlen);
                if (name && val) {
                    trl_vendor_set_prefixed(ev, prefix, name, nlen, val, vlen);
                    count++;
                }
            }
        } else if (strcmp(key, "Data") == 0 && json_is_object(v)) {
            count += set_event_data(ev, prefix, v);
        } else if (!json_is_object(v) && !json_is_array(v) && !json_is_null(v)) {
            set_data_value(ev, prefix, key, strlen(key), v);
            count++;
        }
    }
    return count;
}

/* Keywords as the names ("Audit Success") or as the EVTX mask (0x8020000000000000). */
static void set_keywords(struct trl_event *ev, const char *p, size_t len)
{
    if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && len <= 18 &&
        is_hex(p + 2, len - 2)) {
        uint64_t mask = 0;
        for (size_t i = 2; i < len; i++) {
            char c = p[i];
            unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
            mask = (mask << 4) | d;
        }
        if (mask & 0x0020000000000000ULL)
            set_log_type(ev, "Audit Success", 13);
        if (mask & 0x0010000000000000ULL)
            set_log_type(ev, "Audit Failure", 13);
        return;
    }
    set_log_type(ev, p, len);
}

int trl_snare_windows_json(struct trl_event *ev, const char *json, size_t len)
{
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    if (!json_is_object(root)) {
        json_decref(root);
        return TRL_EINVAL;
    }
    json_t *r = json_object_get(root, "Event");
    if (!json_is_object(r))
        r = root;
    json_t *sys = json_object_get(r, "System");
    if (!json_is_object(sys))
        sys = r;
    char buf[64];
    size_t vlen;
    const char *v;
    unsigned id = 0;
    bool have_id = false;

    v = text_of(MEMBER(sys, "EventID"), "Value", buf, sizeof(buf), &vlen);
    if (!v)
        v = text_of(MEMBER(r, "EventID", "EventId"), "Value", buf, sizeof(buf), &vlen);
    if (v)
        have_id = set_event_id(ev, v, vlen, &id);
    if ((v = text_of(MEMBER(sys, "Channel"), "Name", buf, sizeof(buf), &vlen)) ||
        (v = text_of(MEMBER(r, "Channel", "LogName"), "Name", buf, sizeof(buf), &vlen)))
        trl_snare_set(ev, TRL_F_WINLOG_CHANNEL, v, vlen);
    if ((v = text_of(MEMBER(sys, "Provider"), "Name", buf, sizeof(buf), &vlen)) ||
        (v = text_of(MEMBER(r, "Provider", "SourceName", "ProviderName"), "Name", buf, sizeof(buf),
                     &vlen))) {
        trl_snare_set(ev, TRL_F_WINLOG_PROVIDER_NAME, v, vlen);
        trl_snare_set(ev, TRL_F_EVENT_PROVIDER, v, vlen);
    }
    if ((v = text_of(MEMBER(sys, "Computer"), "Name", buf, sizeof(buf), &vlen)) ||
        (v = text_of(MEMBER(r, "Computer", "Hostname", "ComputerName"), "Name", buf, sizeof(buf),
                     &vlen)))
        set_computer(ev, v, vlen);
    if ((v = text_of(MEMBER(sys, "EventRecordID"), "Value", buf, sizeof(buf), &vlen)) ||
        (v = text_of(MEMBER(r, "EventRecordID", "RecordNumber"), "Value", buf, sizeof(buf), &vlen)))
        trl_snare_set(ev, TRL_F_WINLOG_RECORD_ID, v, vlen);
    if ((v = text_of(MEMBER(sys, "TimeCreated"), "SystemTime", buf, sizeof(buf), &vlen)) ||
        (v = text_of(MEMBER(r, "EventTime", "TimeCreated"), "SystemTime", buf, sizeof(buf),
                     &vlen))) {
        int64_t ns;
        if (trl_vtime_parse_any(v, vlen, trl_snare_ref_ns(ev), &ns))
            ev->timestamp_ns = ns;
    }
    if ((v = text_of(MEMBER(sys, "Keywords"), "Value", buf, sizeof(buf), &vlen)) ||
        (v = text_of(MEMBER(r, "Keywords", "EventType", "EventLogType"), "Value", buf, sizeof(buf),
                     &vlen)))
        set_keywords(ev, v, vlen);
    if ((v = text_of(MEMBER(r, "Category", "TaskName", "CategoryString"), "Value", buf, sizeof(buf),
                     &vlen)) &&
        vlen)
        trl_snare_set_named(ev, "winlog.task", v, vlen);
    if ((v = text_of(MEMBER(r, "UserName", "Username", "User"), "Name", buf, sizeof(buf), &vlen)) &&
        vlen && !trl_strcase_eq(v, vlen, "N/A", 3))
        set_user(ev, v, vlen);

    size_t data = 0;
    json_t *ed = MEMBER(r, "EventData", "Data");
    if (json_is_object(ed))
        data += set_event_data(ev, EVENT_DATA_PFX, ed);
    /* UserData holds one element ({"LogFileCleared": {...}}), stored as the JSON parser does. */
    json_t *ud = MEMBER(r, "UserData");
    if (json_is_object(ud)) {
        const char *key;
        json_t *inner;
        json_object_foreach(ud, key, inner)
        {
            if (!json_is_object(inner))
                continue;
            trl_snare_set_named(ev, "winlog.user_data.xml_name", key, strlen(key));
            data += set_event_data(ev, "winlog.user_data.", inner);
            break;
        }
    }
    json_t *rendering = MEMBER(r, "RenderingInfo");
    v = text_of(MEMBER(r, "Message", "ExpandedString"), "Value", buf, sizeof(buf), &vlen);
    if (!v && rendering)
        v = text_of(MEMBER(rendering, "Message"), "Value", buf, sizeof(buf), &vlen);
    if (v && vlen) {
        trl_event_set(ev, TRL_F_MESSAGE, v, vlen);
        if (data == 0 && have_id)
            trl_snare_win_message(ev, id, v, vlen);
    }
    json_decref(root);
    return have_id ? 0 : TRL_EINVAL;
}
