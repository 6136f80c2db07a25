#include "formats/parse.h"
#include "formats/json_in.h"
#include "core/util.h"
#include "formats/normalize.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    /* The pipeline looks up every event's format, and parsers set it from literals that the
     * linker usually merges with the names above: a name that is one of them is found by its
     * address. */
    for (int f = 0; f < TRL_FORMAT__COUNT; f++) {
        if (name == format_names[f])
            return f;
    }
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

/* The offset of the '>' that closes a "<PRI>" prefix, or 0 when there is none. */
static size_t pri_end(const char *p, size_t len)
{
    if (len < 3 || p[0] != '<')
        return 0;
    size_t i = 1;
    while (i < len && i <= 4 && p[i] >= '0' && p[i] <= '9')
        i++;
    return i > 1 && i < len && p[i] == '>' ? i : 0;
}

/* Literal needles; key: the index of a byte of lit that is rare in log text. */
#define CONTAINS(p, len, lit, key) trl_mem_contains(p, len, lit, sizeof(lit) - 1, key)

/* The exact test behind looks_like_snare(). */
static bool snare_marker_in(const char *p, size_t window)
{
    if (CONTAINS(p, window, "MSWinEventLog", 2) || CONTAINS(p, window, "LinuxKAudit", 5) ||
        CONTAINS(p, window, "AgentHeartBeat", 5))
        return true;
    /* The other log types sit between tabs. */
    const char *tab = memchr(p, '\t', window), *end = p + window;
    while (tab) {
        size_t left = (size_t)(end - tab);
        if ((left >= 11 && memcmp(tab, "\tApacheLog\t", 11) == 0) ||
            (left >= 10 && memcmp(tab, "\tAppleBSM\t", 10) == 0) ||
            (left >= 12 && memcmp(tab, "\tGenericLog\t", 12) == 0))
            return true;
        tab = left > 1 ? memchr(tab + 1, '\t', left - 1) : NULL;
    }
    return false;
}

/* Whether the byte pair at p could belong to a marker: every marker holds the pair "SW", "xK" or
 * "tH", or a tab, which ordinary syslog text rarely does. */
static inline bool pair_at(const char *p)
{
    return (p[0] == 'S' && p[1] == 'W') || (p[0] == 'x' && p[1] == 'K') ||
           (p[0] == 't' && p[1] == 'H') || p[1] == '\t';
}

#if defined(__SSE2__)
/* Bit k set when p[k] (k < 16) is the second byte of a pair that pair_at() looks at: 'W', 'K',
 * 'H' or a tab. Those are rare enough in log text that the pairs are seldom looked at. */
static inline unsigned second_bytes(const char *p)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i wk =
        _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('W')), _mm_cmpeq_epi8(b, _mm_set1_epi8('K')));
    __m128i ht =
        _mm_or_si128(_mm_cmpeq_epi8(b, _mm_set1_epi8('H')), _mm_cmpeq_epi8(b, _mm_set1_epi8('\t')));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(wk, ht));
}

/* Whether a pair ending in p[j0 + k] for a bit k of bits is one pair_at() takes. */
static bool pairs_at(const char *p, size_t j0, unsigned bits)
{
    for (; bits; bits &= bits - 1) {
        if (pair_at(p + j0 + (unsigned)__builtin_ctz(bits) - 1))
            return true;
    }
    return false;
}

/* Whether pair_at() holds for a pair in [p, p + window), window >= 17: the second bytes at
 * 1 .. window - 1 are screened 16 at a time, the last block overlapping its predecessor rather
 * than leave a tail. */
static bool any_pair(const char *p, size_t window)
{
    size_t j = 1;
    for (; j + 16 <= window; j += 16) {
        unsigned bits = second_bytes(p + j);
        if (bits && pairs_at(p, j, bits))
            return true;
    }
    if (j == window)
        return false;
    unsigned bits = second_bytes(p + window - 16);
    return bits && pairs_at(p, window - 16, bits);
}
#else
typedef unsigned char byte16 __attribute__((vector_size(16)));

/* Whether one of the 16 byte pairs starting at p[0..15] is one pair_at() takes. Reads p[0..16]. */
static bool pair_block(const char *p)
{
    byte16 a, b;
    memcpy(&a, p, sizeof(a));
    memcpy(&b, p + 1, sizeof(b));
    byte16 m = (byte16)(((a == 'S') & (b == 'W')) | ((a == 'x') & (b == 'K')) |
                        ((a == 't') & (b == 'H')) | (b == '\t'));
    uint64_t w[2];
    memcpy(w, &m, sizeof(w));
    return (w[0] | w[1]) != 0;
}

/* Whether pair_at() holds for a pair in [p, p + window), window >= 17: blocks of 16 pairs, the
 * last one overlapping its predecessor rather than leave a tail. */
static bool any_pair(const char *p, size_t window)
{
    for (size_t i = 0; i + 17 <= window; i += 16) {
        if (pair_block(p + i))
            return true;
    }
    return pair_block(p + window - 17);
}
#endif

/* Snare lines name their log type in the first or second tab-separated field (or after a syslog
 * header); the names are distinctive enough to route on. Every message is checked, so a cheap
 * screen for the byte pairs that each name contains comes before the exact search. */
static bool looks_like_snare(const char *p, size_t len)
{
    size_t window = len < 160 ? len : 160;
    if (window == 0)
        return false;
    bool candidate = p[0] == '\t';
    if (window < 17) {
        for (size_t i = 0; !candidate && i + 1 < window; i++)
            candidate = pair_at(p + i);
    } else if (!candidate) {
        candidate = any_pair(p, window);
    }
    return candidate && snare_marker_in(p, window);
}

/* Order matters: the cheap, unambiguous prefixes first, the permissive guessers last. */
static int parse_auto(struct trl_event *ev, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    size_t gt = pri_end(p, len);
    if (gt) {
        size_t after = gt + 1;
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

/* Programs whose messages parse_payload() reads as web access log lines. */
static bool is_web_server(const char *app, size_t len)
{
    switch (len) {
    case 5:
        return memcmp(app, "nginx", 5) == 0 || memcmp(app, "httpd", 5) == 0;
    case 6:
        return app[0] == 'a' && memcmp(app, "apache", 6) == 0;
    case 7:
        return app[0] == 'a' && memcmp(app, "apache2", 7) == 0;
    default:
        return false;
    }
}

/* Whether "audit(" lies in the first 64 bytes of [p, p+len): the mark of an audit record that a
 * syslog daemon relayed. Every syslog message is checked: its '(' bytes are found 16 at a time,
 * and only they are compared. */
static bool has_audit_mark(const char *p, size_t len)
{
    size_t window = TRL_MIN(len, 64);
#if defined(__SSE2__)
    if (window >= 16) {
        for (size_t i = 0; i < window; i += 16) {
            /* The last block overlaps its predecessor rather than read past the window. */
            size_t at = i + 16 <= window ? i : window - 16;
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + at));
            unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_set1_epi8('(')));
            for (; bits; bits &= bits - 1) {
                size_t j = at + (unsigned)__builtin_ctz(bits);
                if (j >= 5 && memcmp(p + j - 5, "audit", 5) == 0)
                    return true;
            }
        }
        return false;
    }
#endif
    return CONTAINS(p, window, "audit(", 5);
}

/* A syslog message may carry another format in its MSG part; parse it into the same event. */
static void parse_payload(struct trl_event *ev)
{
    size_t len = 0, app_len = 0;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    if (!msg || len == 0)
        return;
    const char *app;
    if (trl_starts_with(msg, len, "CEF:"))
        trl_parse_cef(ev, msg, len);
    else if (trl_starts_with(msg, len, "LEEF:"))
        trl_parse_leef(ev, msg, len);
    else if (looks_like_snare(msg, len))
        trl_parse_snare(ev, msg, len);
    else if (msg[0] == '{')
        trl_parse_json(ev, msg, len);
    else if (trl_starts_with(msg, len, "type=") || trl_starts_with(msg, len, "node=") ||
             has_audit_mark(msg, len))
        trl_parse_audit(ev, msg, len);
    else if ((app = trl_event_get(ev, TRL_F_LOG_SYSLOG_APPNAME, &app_len)) &&
             is_web_server(app, app_len))
        trl_parse_access_log(ev, msg, len);
}

/* "rfc3164" or "rfc5424", compared by hand: this runs for every event. */
static bool is_syslog_format(const char *f)
{
    return f && f[0] == 'r' && f[1] == 'f' && f[2] == 'c' &&
           ((f[3] == '3' && f[4] == '1' && f[5] == '6' && f[6] == '4' && f[7] == '\0') ||
            (f[3] == '5' && f[4] == '4' && f[5] == '2' && f[6] == '4' && f[7] == '\0'));
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
    if (trl_json_parse_agent(ev) == 0)
        return;
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
    if (is_syslog_format(ev->format))
        parse_payload(ev);
    trl_normalize(ev);
}
