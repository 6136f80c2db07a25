/*
 * Snare: records of the Snare agents ("<host>TAB<log type>TAB<criticality>TAB..."), received as a
 * whole line or as the MSG of a syslog message (then the line starts at the log type and the host
 * comes from the syslog header).
 *
 * This file finds the log type, works out how the line separates its fields and splits them, then
 * hands the fields to the parser of the log type: Windows event log (snare_windows.c), Linux audit
 * (snare_linux.c), or the simple shapes handled here: macOS BSM audit, agent heartbeats and the
 * Epilog text-file types (ApacheLog, GenericLog, ...) whose payload is the log line itself.
 *
 * Separators: Snare uses a TAB by default, but relays escape it: rsyslog writes "#011" and some
 * forwarders write the two characters "\t". Each line is checked for which of the three it uses,
 * and escaped lines are unescaped into the event's arena before splitting. The agent can also be
 * configured with another delimiter character; one punctuation character right after the log type
 * is taken as that delimiter.
 */
#include "core/timeutil.h"
#include "formats/parse.h"
#include "formats/snare_internal.h"
#include "formats/vendor_ecs.h"
#include "formats/vendor_time.h"

#include <string.h>

/* How far into the input the log type may start: after a syslog header and a host name. */
#define TYPE_WINDOW 1024
#define HOST_MAX    255

#define CTIME_PATTERN "EEE MMM d HH:mm:ss yyyy"
#define DMY_PATTERN   "dd/MM/yyyy HH:mm:ss"

/* Log types recognised anywhere in the window; other Epilog types only at the start of a line. */
static const char *const known_types[] = {
    "MSWinEventLog", "LinuxKAudit", "AppleBSM", "AgentHeartBeat", "ApacheLog", "GenericLog",
};

enum sep_mode {
    SEP_TAB,    /* literal TAB */
    SEP_HASH,   /* rsyslog's "#011" */
    SEP_BSLASH, /* the two characters "\t" */
    SEP_CUSTOM, /* another single delimiter character */
    SEP_SPACE,  /* tabs rendered as spaces: only heartbeats and Epilog lines are readable so */
};

struct frame {
    const char *host;
    size_t host_len;
    const char *type;
    size_t type_len;
    const char *raw; /* the input after the log type and its separator */
    size_t raw_len;
    enum sep_mode mode;
    char sep; /* the separator in the unescaped body */
};

int64_t trl_snare_ref_ns(const struct trl_event *ev)
{
    return ev->received_ns ? ev->received_ns : trl_now_ns();
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A delimiter the agent may be configured with instead of TAB. */
static bool is_custom_delim(char c)
{
    return c == '|' || c == ';' || c == ',' || c == '^' || c == '~';
}

/* Length of the separator that ends just before p[i], or 0. */
static size_t sep_before(const char *p, size_t i)
{
    if (i >= 4 && memcmp(p + i - 4, "#011", 4) == 0)
        return 4;
    if (i >= 2 && p[i - 2] == '\\' && p[i - 1] == 't')
        return 2;
    if (i >= 1 && (p[i - 1] == '\t' || p[i - 1] == ' ' || is_custom_delim(p[i - 1])))
        return 1;
    return 0;
}

/* Length of the separator starting at p[j]; *ok is false when p[j] cannot end a log type. */
static size_t sep_at(const char *p, size_t len, size_t j, bool *ok)
{
    *ok = true;
    if (j >= len)
        return 0;
    if (len - j >= 4 && memcmp(p + j, "#011", 4) == 0)
        return 4;
    if (len - j >= 2 && p[j] == '\\' && p[j + 1] == 't')
        return 2;
    if (p[j] == '\t' || p[j] == ' ' || is_custom_delim(p[j]))
        return 1;
    *ok = false;
    return 0;
}

static void take_host(const char *p, size_t type_at, size_t seplen, struct frame *fr)
{
    if (type_at == 0 || seplen == 0 || seplen > type_at)
        return;
    size_t end = type_at - seplen;
    size_t start = end;
    while (start > 0 && p[start - 1] != ' ' && p[start - 1] != '\t' && p[start - 1] != '>')
        start--;
    size_t n = end - start;
    if (n == 0 || n > HOST_MAX || (n == 1 && p[start] == '-'))
        return;
    for (size_t k = start; k < end; k++) {
        if ((unsigned char)p[k] < 0x20)
            return;
    }
    fr->host = p + start;
    fr->host_len = n;
}

static bool find_known_type(const char *p, size_t len, struct frame *fr)
{
    size_t window = TRL_MIN(len, (size_t)TYPE_WINDOW);
    for (size_t i = 0; i < window; i++) {
        char c = p[i];
        if (c != 'M' && c != 'L' && c != 'A' && c != 'G')
            continue;
        size_t before = sep_before(p, i);
        if (i > 0 && before == 0)
            continue;
        for (size_t k = 0; k < TRL_ARRAY_LEN(known_types); k++) {
            size_t tl = strlen(known_types[k]);
            if (len - i < tl || memcmp(p + i, known_types[k], tl) != 0)
                continue;
            bool ok;
            size_t after = sep_at(p, len, i + tl, &ok);
            if (!ok)
                continue;
            fr->type = p + i;
            fr->type_len = tl;
            fr->raw = p + i + tl + after;
            fr->raw_len = len - (i + tl + after);
            take_host(p, i, before, fr);
            return true;
        }
    }
    return false;
}

/* An Epilog log type we do not know by name: "host TAB Type TAB digit TAB" or, after a syslog
 * header, "Type TAB digit TAB", with literal tabs only. */
static bool find_generic_type(const char *p, size_t len, struct frame *fr)
{
    const char *t1 = memchr(p, '\t', TRL_MIN(len, (size_t)HOST_MAX + 1));
    for (int with_host = 1; with_host >= 0; with_host--) {
        size_t ts = 0;
        if (with_host) {
            if (!t1 || t1 == p)
                continue;
            ts = (size_t)(t1 - p) + 1;
        }
        size_t te = ts;
        while (te < len && te - ts < 40 && (is_alnum(p[te]) || p[te] == '_'))
            te++;
        if (te - ts < 3 || te >= len || p[te] != '\t' || !(p[ts] >= 'A' && p[ts] <= 'Z'))
            continue;
        size_t cs = te + 1, ce = cs;
        while (ce < len && ce - cs < 2 && p[ce] >= '0' && p[ce] <= '9')
            ce++;
        if (ce == cs || (ce < len && p[ce] != '\t'))
            continue;
        fr->type = p + ts;
        fr->type_len = te - ts;
        fr->raw = p + te + 1;
        fr->raw_len = len - (te + 1);
        if (with_host) {
            fr->host = p;
            fr->host_len = ts - 1;
        }
        return true;
    }
    return false;
}

static void detect_mode(struct frame *fr, char after_type)
{
    const char *r = fr->raw;
    size_t n = fr->raw_len;
    fr->sep = '\t';
    if (memchr(r, '\t', n) || after_type == '\t')
        fr->mode = SEP_TAB;
    else if (trl_memstr(r, n, "#011"))
        fr->mode = SEP_HASH;
    else if (trl_memstr(r, n, "\\t"))
        fr->mode = SEP_BSLASH;
    else if (is_custom_delim(after_type)) {
        fr->mode = SEP_CUSTOM;
        fr->sep = after_type;
    } else {
        fr->mode = SEP_SPACE;
        fr->sep = ' ';
    }
}

static bool is_octal(char c)
{
    return c >= '0' && c <= '7';
}

/* Undoes "#011"-style (rsyslog: '#' and three octal digits for a control character) or "\t"
 * escaping into the arena. */
static const char *unescape(struct trl_event *ev, const char *p, size_t len, enum sep_mode mode,
                            size_t *out_len)
{
    char *out = trl_arena_alloc(ev->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (mode == SEP_HASH && p[i] == '#' && len - i >= 4 && is_octal(p[i + 1]) &&
            is_octal(p[i + 2]) && is_octal(p[i + 3])) {
            unsigned v =
                (unsigned)((p[i + 1] - '0') * 64 + (p[i + 2] - '0') * 8 + (p[i + 3] - '0'));
            if (v >= 1 && v < 0x20) {
                out[n++] = (char)v;
                i += 3;
                continue;
            }
        }
        if (mode == SEP_BSLASH && p[i] == '\\' && i + 1 < len && p[i + 1] == 't') {
            out[n++] = '\t';
            i++;
            continue;
        }
        out[n++] = p[i];
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* Fields a record is split into before the list has to grow: a Windows record has about 15. */
#define SPLIT_FIRST 32

/* The fields between separators, in one pass; memchr skips the long runs of text between them. */
static struct trl_str *split(struct trl_event *ev, const char *p, size_t len, char sep, size_t *n)
{
    size_t cap = SPLIT_FIRST, k = 0;
    struct trl_str *f = trl_arena_alloc(ev->arena, cap * sizeof(*f));
    const char *end = p + len, *start = p;
    for (;;) {
        const char *q = start < end ? memchr(start, sep, (size_t)(end - start)) : NULL;
        if (!q)
            q = end;
        if (k == cap) {
            struct trl_str *grown = trl_arena_alloc(ev->arena, 2 * cap * sizeof(*f));
            memcpy(grown, f, cap * sizeof(*f));
            f = grown;
            cap *= 2;
        }
        f[k].ptr = start;
        f[k].len = (size_t)(q - start);
        k++;
        if (q == end)
            break;
        start = q + 1;
    }
    *n = k;
    return f;
}

/* The JSON object of a SNARE V2 record: "<criticality><sep>{...}", read from the input as received
 * (a JSON body keeps its own escapes, which must not be undone as tab escapes). */
static bool json_body(const char *raw, size_t len, size_t *crit_len, const char **json,
                      size_t *jlen)
{
    size_t i = 0;
    while (i < len && i < 3 && raw[i] >= '0' && raw[i] <= '9')
        i++;
    if (i == 0)
        return false;
    bool ok;
    size_t s = sep_at(raw, len, i, &ok);
    if (!ok || s == 0 || i + s >= len || raw[i + s] != '{')
        return false;
    *crit_len = i;
    *json = raw + i + s;
    *jlen = len - (i + s);
    while (*jlen > 0 && ((*json)[*jlen - 1] == ' ' || (*json)[*jlen - 1] == '\t'))
        (*jlen)--;
    return true;
}

static bool type_is(const struct frame *fr, const char *name)
{
    return fr->type_len == strlen(name) && memcmp(fr->type, name, fr->type_len) == 0;
}

/* The text from field k to the end of the body (fields are contiguous in the body). */
static void rest_from(const struct trl_str *f, size_t n, size_t k, const char **p, size_t *len)
{
    if (k >= n) {
        *p = NULL;
        *len = 0;
        return;
    }
    const struct trl_str *last = &f[n - 1];
    *p = f[k].ptr;
    *len = (size_t)(last->ptr + last->len - f[k].ptr);
}

/* Epilog: "<host> <type> <criticality> <log line as read from the file>". */
static int parse_epilog(struct trl_event *ev, const struct trl_str *f, size_t n)
{
    size_t k = 0;
    if (n > 1 && f[0].len <= 2 && trl_snare_is_digits(f[0].ptr, f[0].len)) {
        trl_snare_set_named(ev, "labels.snare_criticality", f[0].ptr, f[0].len);
        k = 1;
    }
    const char *data;
    size_t dlen;
    rest_from(f, n, k, &data, &dlen);
    if (dlen == 0)
        return TRL_EINVAL;
    trl_event_set(ev, TRL_F_MESSAGE, data, dlen);
    return 0;
}

static bool is_date_dmy(const struct trl_str *s)
{
    return s->len == 10 && s->ptr[2] == '/' && s->ptr[5] == '/';
}

/* Heartbeat: "<host> AgentHeartBeat [crit] <dd/mm/yyyy> <HH:MM:SS> <agent type> <version> <action>
 * <text>". The date and time may be one field or two. */
static int parse_heartbeat(struct trl_event *ev, const struct trl_str *f, size_t n)
{
    size_t k = 0;
    if (k < n && f[k].len == 1 && trl_snare_is_digits(f[k].ptr, 1)) {
        trl_snare_set_named(ev, "labels.snare_criticality", f[k].ptr, 1);
        k++;
    }
    trl_event_set_str(ev, TRL_F_EVENT_KIND, "event");
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, "agent-heartbeat");
    if (k < n && (is_date_dmy(&f[k]) || (f[k].len == 19 && f[k].ptr[2] == '/'))) {
        /* The date and the time are one field or two; rejoin them with a space. */
        char when[20];
        memcpy(when, f[k].ptr, TRL_MIN(f[k].len, (size_t)19));
        size_t wl = TRL_MIN(f[k].len, (size_t)19);
        if (wl == 10 && k + 1 < n && f[k + 1].len == 8) {
            when[10] = ' ';
            memcpy(when + 11, f[k + 1].ptr, 8);
            wl = 19;
            k++;
        }
        int64_t ns;
        if (trl_vtime_parse_pattern(DMY_PATTERN, sizeof(DMY_PATTERN) - 1, when, wl, 0, &ns))
            ev->timestamp_ns = ns;
        k++;
    }
    if (k < n)
        trl_snare_set(ev, TRL_F_AGENT_TYPE, f[k].ptr, f[k].len);
    if (k + 1 < n)
        trl_snare_set(ev, TRL_F_AGENT_VERSION, f[k + 1].ptr, f[k + 1].len);
    if (k + 2 < n) {
        const struct trl_str *a = &f[k + 2];
        trl_snare_set_named(ev, "labels.snare_heartbeat_action", a->ptr, a->len);
        if (trl_strcase_eq(a->ptr, a->len, "INFO", 4))
            trl_event_set_str(ev, TRL_F_LOG_LEVEL, "info");
        else if (trl_strcase_eq(a->ptr, a->len, "WARNING", 7))
            trl_event_set_str(ev, TRL_F_LOG_LEVEL, "warning");
        else if (trl_strcase_eq(a->ptr, a->len, "ERROR", 5))
            trl_event_set_str(ev, TRL_F_LOG_LEVEL, "error");
    }
    const char *text;
    size_t tlen;
    rest_from(f, n, k + 3, &text, &tlen);
    if (tlen)
        trl_event_set(ev, TRL_F_MESSAGE, text, tlen);
    return k + 2 <= n ? 0 : TRL_EINVAL;
}

/* The comma-separated values of a BSM token: v[0] is the token name. */
static size_t bsm_values(const struct trl_str *tok, struct trl_str *v, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= tok->len && k < max; i++) {
        if (i == tok->len || tok->ptr[i] == ',') {
            v[k].ptr = tok->ptr + start;
            v[k].len = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

/* macOS BSM audit, as praudit prints it with commas: "header,<size>,<version>,<event>,<modifier>,
 * <date>, + <ms> msec", then "subject,<auid>,<euid>,<egid>,<ruid>,<rgid>,<pid>,<sid>,<port>,<ip>",
 * "path,...", "return,<success|failure...>,<value>", "exec arg,...", "trailer,<size>". */
static int parse_bsm(struct trl_event *ev, const struct trl_str *f, size_t n)
{
    size_t k = 0;
    if (n > 1 && f[0].len == 1 && trl_snare_is_digits(f[0].ptr, 1)) {
        trl_snare_set_named(ev, "labels.snare_criticality", f[0].ptr, 1);
        k = 1;
    }
    const char *body;
    size_t blen;
    rest_from(f, n, k, &body, &blen);
    if (blen == 0)
        return TRL_EINVAL;
    trl_event_set(ev, TRL_F_MESSAGE, body, blen);
    trl_event_set_str(ev, TRL_F_EVENT_KIND, "event");
    bool have_header = false;
    for (; k < n; k++) {
        struct trl_str v[12];
        size_t nv = bsm_values(&f[k], v, TRL_ARRAY_LEN(v));
        if (trl_str_eq(v[0], "header") && nv >= 6 && !have_header) {
            have_header = true;
            size_t alen;
            const char *action = trl_vendor_action(ev, v[3].ptr, v[3].len, &alen);
            if (action)
                trl_event_set_ref(ev, TRL_F_EVENT_ACTION, action, alen);
            int64_t ns;
            if (trl_vtime_parse_pattern(CTIME_PATTERN, sizeof(CTIME_PATTERN) - 1, v[5].ptr,
                                        v[5].len, 0, &ns)) {
                uint64_t ms;
                /* The milliseconds follow as " + 317 msec". */
                if (nv >= 7 && v[6].len > 8 && trl_starts_with(v[6].ptr, v[6].len, " + ") &&
                    trl_parse_u64(v[6].ptr + 3, v[6].len - 8, &ms) && ms < 1000 &&
                    trl_starts_with(v[6].ptr + v[6].len - 5, 5, " msec"))
                    ns += (int64_t)ms * 1000000;
                ev->timestamp_ns = ns;
            }
        } else if (trl_str_eq(v[0], "subject") && nv >= 7) {
            trl_snare_set_new(ev, TRL_F_USER_EFFECTIVE_NAME, v[2].ptr, v[2].len);
            trl_snare_set_new(ev, TRL_F_USER_NAME, v[4].ptr, v[4].len);
            if (trl_snare_is_digits(v[6].ptr, v[6].len))
                trl_snare_set_new(ev, TRL_F_PROCESS_PID, v[6].ptr, v[6].len);
            if (nv >= 10 && trl_is_ip(v[9].ptr, v[9].len) && !trl_str_eq(v[9], "0.0.0.0"))
                trl_snare_set_new(ev, TRL_F_SOURCE_IP, v[9].ptr, v[9].len);
        } else if (trl_str_eq(v[0], "path") && nv >= 2) {
            const char *path = f[k].ptr + 5;
            trl_snare_set_new(ev, TRL_F_FILE_PATH, path, f[k].len - 5);
        } else if (trl_str_eq(v[0], "return") && nv >= 2) {
            if (trl_str_eq(v[1], "success"))
                trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "success");
            else if (trl_starts_with(v[1].ptr, v[1].len, "failure"))
                trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "failure");
        } else if (trl_str_eq(v[0], "exec arg") && nv >= 2 &&
                   !trl_event_has(ev, TRL_F_PROCESS_COMMAND_LINE)) {
            const char *args = f[k].ptr + 9;
            size_t alen = f[k].len - 9;
            char *cmd = trl_arena_strndup(ev->arena, args, alen);
            for (size_t i = 1; i < nv && trl_vendor_room(ev); i++)
                trl_event_add(ev, TRL_F_PROCESS_ARGS, v[i].ptr, v[i].len);
            for (size_t i = 0; i < alen; i++)
                cmd[i] = cmd[i] == ',' ? ' ' : cmd[i];
            trl_event_set_ref(ev, TRL_F_PROCESS_COMMAND_LINE, cmd, alen);
        }
    }
    return have_header ? 0 : TRL_EINVAL;
}

static bool locate(const char *p, size_t len, struct frame *fr)
{
    memset(fr, 0, sizeof(*fr));
    if (!find_known_type(p, len, fr) && !find_generic_type(p, len, fr))
        return false;
    size_t type_end = (size_t)(fr->type - p) + fr->type_len;
    char after = type_end < len ? p[type_end] : '\0';
    detect_mode(fr, after);
    return true;
}

int trl_parse_snare(struct trl_event *ev, const char *p, size_t len)
{
    if (!p)
        return TRL_ENOMATCH;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    struct frame fr;
    if (!locate(p, len, &fr))
        return TRL_ENOMATCH;
    if (!ev->format)
        ev->format = "snare";
    if (fr.host)
        trl_snare_set_slice(ev, TRL_F_HOST_NAME, fr.host, fr.host_len);
    trl_snare_set_named(ev, "labels.snare_log_type", fr.type, fr.type_len);
    /* Whatever follows, the event keeps a message: the record without its header. */
    if (!trl_event_has(ev, TRL_F_MESSAGE)) {
        if (fr.raw_len > 0)
            trl_snare_set_slice(ev, TRL_F_MESSAGE, fr.raw, fr.raw_len);
        else
            trl_snare_set_slice(ev, TRL_F_MESSAGE, p, len);
    }

    bool windows = type_is(&fr, "MSWinEventLog");
    bool linux_audit = type_is(&fr, "LinuxKAudit");
    const char *json;
    size_t jlen, crit_len;
    if ((windows || linux_audit) && json_body(fr.raw, fr.raw_len, &crit_len, &json, &jlen)) {
        trl_snare_set_named(ev, "labels.snare_criticality", fr.raw, crit_len);
        return windows ? trl_snare_windows_json(ev, json, jlen)
                       : trl_snare_linux_json(ev, json, jlen);
    }

    const char *body = fr.raw;
    size_t blen = fr.raw_len;
    if (fr.mode == SEP_HASH || fr.mode == SEP_BSLASH)
        body = unescape(ev, fr.raw, fr.raw_len, fr.mode, &blen);
    size_t n;
    struct trl_str *f = split(ev, body, blen, fr.sep, &n);
    if (windows)
        return fr.mode == SEP_SPACE ? TRL_EINVAL : trl_snare_windows(ev, f, n);
    if (linux_audit)
        return fr.mode == SEP_SPACE ? TRL_EINVAL : trl_snare_linux(ev, f, n);
    if (type_is(&fr, "AgentHeartBeat"))
        return parse_heartbeat(ev, f, n);
    if (type_is(&fr, "AppleBSM"))
        return fr.mode == SEP_SPACE ? TRL_EINVAL : parse_bsm(ev, f, n);
    return parse_epilog(ev, f, n);
}
