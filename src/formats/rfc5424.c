/*
 * RFC 5424 syslog: "<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP
 * MSG]".
 *
 * The parser commits to RFC 5424 once it has seen "<PRI>VERSION SP" followed by a NILVALUE or
 * something shaped like a date; before that it returns TRL_ENOMATCH without touching the event, so
 * the dispatcher can try RFC 3164. After that point a malformed header or structured data returns
 * TRL_EINVAL with everything read so far kept, and the unread rest as the message.
 *
 * Header values are slices of the input. Structured data parameters become the dynamic fields
 * log.syslog.structured_data.<SD-ID>.<PARAM-NAME>; values with escapes are unescaped first.
 */
#include "core/util.h"
#include "formats/parse.h"
#include "formats/syslog_common.h"

#include <stdbool.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SD_PREFIX     "log.syslog.structured_data."
#define SD_PREFIX_LEN (sizeof(SD_PREFIX) - 1)
/* RFC 5424 allows 32 bytes for an SD-ID or PARAM-NAME; twice that is accepted from sloppy senders.
 */
#define SD_NAME_MAX 64
/* Parameters stored per message: enough for any real sender, and it bounds the work a hostile
 * message full of tiny parameters can cause (each stored field is a linear lookup). */
#define SD_PARAMS_MAX 128
/* Escaped values up to this size are unescaped on the stack, longer ones in the arena. */
#define SD_UNESCAPE_STACK 512

/* RFC 5424 field length limits (section 6). Longer values are kept but make the message malformed.
 */
#define HOSTNAME_MAX 255
#define APPNAME_MAX  48
#define PROCID_MAX   128
#define MSGID_MAX    32

/* The offset of the first space in p[i..len), or len. Header fields are a few bytes to a few tens
 * of bytes long: a scan 16 bytes at a time is cheaper than a call to memchr. */
static size_t token_end(const char *p, size_t len, size_t i)
{
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(' ');
    for (; len - i >= 16; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, space));
        if (m)
            return i + (unsigned)__builtin_ctz(m);
    }
#endif
    while (i < len && p[i] != ' ')
        i++;
    return i;
}

/* SD-NAME = 1*32PRINTUSASCII except '=', SP, ']' and '"': bytes 33..126 less those three, as a
 * table indexed by byte value (one load and test per byte). */
static const bool sd_name_char[256] = {
    ['!'] = true,
    ['#' ... '<'] = true,
    ['>' ... '\\'] = true,
    ['^' ... '~'] = true,
};

static size_t sd_name_end(const char *p, size_t len, size_t i)
{
    while (i < len && sd_name_char[(unsigned char)p[i]])
        i++;
    return i;
}

/* The end of the PARAM-VALUE starting at p[i]: the offset of its closing '"', or len when there is
 * none. Sets *escaped when the value holds a backslash (which may escape a '"'). Most values have
 * no backslash: the closing quote is then the first one. */
static size_t sd_value_end(const char *p, size_t len, size_t i, bool *escaped)
{
    const char *q = memchr(p + i, '"', len - i);
    size_t end = q ? (size_t)(q - p) : len;
    *escaped = memchr(p + i, '\\', end - i) != NULL;
    if (!*escaped)
        return end;
    while (i < len && p[i] != '"') {
        if (p[i] == '\\' && i + 1 < len)
            i++;
        i++;
    }
    return i < len ? i : len;
}

/* Inside PARAM-VALUE only '"', '\' and ']' are escaped; a backslash before anything else is kept.
 */
static size_t sd_unescape(const char *v, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '\\' && i + 1 < len && (v[i + 1] == '"' || v[i + 1] == '\\' || v[i + 1] == ']'))
            i++;
        out[o++] = v[i];
    }
    return o;
}

static void set_param(struct trl_event *ev, const char *name, size_t name_len, const char *v,
                      size_t len, bool escaped)
{
    if (!escaped) {
        /* The value is usually a slice of event.original: no copy needed. */
        if (trl_event_in_original(ev, v, len))
            trl_event_set_named_ex(ev, name, name_len, v, len, TRL_REF_VALUE);
        else
            trl_event_set_named(ev, name, name_len, v, len);
        return;
    }
    char stack[SD_UNESCAPE_STACK];
    char *buf = len <= sizeof(stack) ? stack : trl_arena_alloc(ev->arena, len);
    trl_event_set_named(ev, name, name_len, buf, sd_unescape(v, len, buf));
}

/* Parses 1*SD-ELEMENT at p[*pos]. On success *pos is past the last ']'. On a syntax error returns
 * false; the parameters read before it stay set. */
static bool parse_sd(struct trl_event *ev, const char *p, size_t len, size_t *pos)
{
    char name[SD_PREFIX_LEN + SD_NAME_MAX + 1 + SD_NAME_MAX];
    memcpy(name, SD_PREFIX, SD_PREFIX_LEN);
    unsigned stored = 0;
    size_t i = *pos;
    while (i < len && p[i] == '[') {
        size_t id = ++i;
        i = sd_name_end(p, len, i);
        size_t id_len = i - id;
        if (id_len == 0 || id_len > SD_NAME_MAX)
            return false;
        memcpy(name + SD_PREFIX_LEN, p + id, id_len);
        size_t base = SD_PREFIX_LEN + id_len;
        name[base++] = '.';
        for (;;) {
            if (i >= len)
                return false;
            if (p[i] == ']') {
                i++;
                break;
            }
            if (p[i] != ' ')
                return false;
            while (i < len && p[i] == ' ')
                i++;
            if (i < len && p[i] == ']')
                continue;
            size_t pn = i;
            i = sd_name_end(p, len, i);
            size_t pn_len = i - pn;
            if (pn_len == 0 || pn_len > SD_NAME_MAX || i + 1 >= len || p[i] != '=' ||
                p[i + 1] != '"')
                return false;
            i += 2;
            size_t vs = i;
            bool escaped;
            i = sd_value_end(p, len, i, &escaped);
            if (i >= len)
                return false;
            if (stored < SD_PARAMS_MAX) {
                memcpy(name + base, p + pn, pn_len);
                set_param(ev, name, base + pn_len, p + vs, i - vs, escaped);
                stored++;
            }
            i++;
        }
    }
    *pos = i;
    return true;
}

/* HOSTNAME, APP-NAME, PROCID and MSGID, in header order. */
static bool set_header_field(struct trl_event *ev, unsigned k, const char *v, size_t len)
{
    switch (k) {
    case 0:
        trl_syslog_set_hostname(ev, v, len);
        return len <= HOSTNAME_MAX;
    case 1:
        trl_syslog_set_appname(ev, v, len);
        return len <= APPNAME_MAX;
    case 2:
        trl_syslog_set_procid(ev, v, len);
        return len <= PROCID_MAX;
    default:
        trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_MSGID, v, len);
        return len <= MSGID_MAX;
    }
}

static void set_msg(struct trl_event *ev, const char *p, size_t len)
{
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        len -= 3;
    }
    trl_syslog_set_message(ev, p, len);
}

int trl_parse_rfc5424(struct trl_event *ev, const char *p, size_t len)
{
    len = trl_syslog_trim_end(p, len);
    struct trl_syslog_pri pri;
    trl_syslog_scan_pri(p, len, &pri);
    if (!pri.end)
        return TRL_ENOMATCH;
    /* VERSION = NONZERO-DIGIT 0*2DIGIT, then SP. */
    size_t ver = pri.end, i = ver;
    while (i < len && i - ver < 3 && trl_syslog_is_digit(p[i]))
        i++;
    if (i == ver || p[ver] == '0' || i >= len || p[i] != ' ')
        return TRL_ENOMATCH;
    size_t ver_len = i - ver;
    i++;

    /* TIMESTAMP: NILVALUE or RFC 3339. A token that does not even start like a date means this is
     * some other text after a PRI, not RFC 5424. */
    size_t te = token_end(p, len, i);
    int64_t ts = ev->received_ns;
    bool malformed = !pri.valid || pri.leading_zero;
    if (!(te - i == 1 && p[i] == '-')) {
        unsigned digits = 0;
        while (digits < 4 && i + digits < te && trl_syslog_is_digit(p[i + digits]))
            digits++;
        if (digits < 4 || i + 4 >= te || p[i + 4] != '-')
            return TRL_ENOMATCH;
        int64_t parsed;
        if (trl_syslog_parse_rfc3339(p + i, te - i, &parsed) == te - i)
            ts = parsed;
        else
            malformed = true;
    }

    ev->format = "rfc5424";
    ev->timestamp_ns = ts;
    if (pri.valid)
        trl_syslog_set_pri(ev, &pri);
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_VERSION, p + ver, ver_len);
    i = te;

    for (unsigned k = 0; k < 4; k++) {
        if (i >= len)
            return TRL_EINVAL;
        te = token_end(p, len, ++i);
        if (te == i)
            malformed = true; /* two spaces: an empty field where NILVALUE was due */
        else if (!(te - i == 1 && p[i] == '-') && !set_header_field(ev, k, p + i, te - i))
            malformed = true;
        i = te;
    }

    if (i >= len || i + 1 >= len)
        return TRL_EINVAL; /* no STRUCTURED-DATA */
    size_t sd = ++i;
    if (p[i] == '-') {
        i++;
    } else if (p[i] != '[' || !parse_sd(ev, p, len, &i)) {
        set_msg(ev, p + sd, len - sd);
        return TRL_EINVAL;
    }
    if (i < len) {
        if (p[i] != ' ') {
            set_msg(ev, p + sd, len - sd);
            return TRL_EINVAL;
        }
        set_msg(ev, p + i + 1, len - i - 1);
    }
    return malformed ? TRL_EINVAL : 0;
}
