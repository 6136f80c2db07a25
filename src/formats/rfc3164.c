/*
 * RFC 3164 ("BSD syslog") as senders really write it: PRI optional, timestamps in the BSD form
 * ("Jul  9 22:40:03", "Jul 09 ...", Cisco's "*Mar  1 2024 18:46:11.123:") or ISO 8601 (rsyslog's
 * high-precision format), hostname optional, and a tag that may be "prog:", "prog[pid]:",
 * "prog(sub)[pid]:" or missing altogether. One forward pass over the buffer, no allocation: every
 * value is a slice of the input.
 *
 * A BSD timestamp has no year and no zone: the zone is taken as UTC and the year is the one that
 * puts the timestamp closest to the receive time (a December line received on January 1st belongs
 * to the previous year).
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/parse.h"
#include "formats/syslog_common.h"

#include <stdint.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static size_t skip_spaces(const char *p, size_t len, size_t i)
{
    while (i < len && is_space(p[i]))
        i++;
    return i;
}

/* "Jan" .. "Dec" in any case at p (three readable bytes): 1..12, or 0. */
static unsigned month_at(const char *p)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char a = (char)(p[0] | 0x20), b = (char)(p[1] | 0x20), c = (char)(p[2] | 0x20);
    /* The first letter narrows the candidates to at most three. */
    unsigned first, last;
    switch (a) {
    case 'j':
        first = 0, last = 6; /* jan, jun, jul */
        break;
    case 'f':
        first = last = 1;
        break;
    case 'm':
        first = 2, last = 4; /* mar, may */
        break;
    case 'a':
        first = 3, last = 7; /* apr, aug */
        break;
    case 's':
        first = last = 8;
        break;
    case 'o':
        first = last = 9;
        break;
    case 'n':
        first = last = 10;
        break;
    case 'd':
        first = last = 11;
        break;
    default:
        return 0;
    }
    for (unsigned m = first; m <= last; m++) {
        if (names[m * 3] == a && names[m * 3 + 1] == b && names[m * 3 + 2] == c)
            return m + 1;
    }
    return 0;
}

/* Reads n digits at p[i] (bounds checked); false when any is not a digit. */
static bool read_digits(const char *p, size_t len, size_t i, size_t n, unsigned *out)
{
    if (i + n > len)
        return false;
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!trl_syslog_is_digit(p[i + k]))
            return false;
        v = v * 10 + (unsigned)(p[i + k] - '0');
    }
    *out = v;
    return true;
}

/* The value of the digit c, or a value above 99 when it is not one. */
static unsigned one_digit(char c)
{
    unsigned v = (unsigned)(unsigned char)c - '0';
    return v <= 9 ? v : 100;
}

/* The value of the two digits at p, or a value above 99 when either is not a digit. */
static unsigned two_digits(const char *p)
{
    unsigned a = one_digit(p[0]), b = one_digit(p[1]);
    return a <= 9 && b <= 9 ? a * 10 + b : 100;
}

/* The layout nearly every sender writes, "Mmm dd hh:mm:ss" or "Mmm  d hh:mm:ss" (the month already
 * checked), read at fixed offsets. False for anything else, which the general reader then takes:
 * on this layout it would read the same values and stop at the same place, 15 bytes in. The eight
 * bytes "hh:mm:ss" are checked and read as one word. */
static bool fixed_layout(const char *p, size_t len, unsigned *day, unsigned *h, unsigned *mi,
                         unsigned *s)
{
    if (len < 15 || p[6] != ' ')
        return false;
    const uint64_t ones = 0x0101010101010101ULL, nibbles = 0xF0F0F0F0F0F0F0F0ULL;
    /* Bytes 2 and 5 of the word are the colons (x86 and other little-endian machines load byte k
     * into bits 8k..8k+7). */
    const uint64_t colons = (uint64_t)':' << 16 | (uint64_t)':' << 40;
    const uint64_t colon_bytes = 0xFFULL << 16 | 0xFFULL << 40;
    uint64_t w;
    memcpy(&w, p + 7, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if ((w & colon_bytes) != colons)
        return false;
    /* The colons become '0': then every byte must be a digit, 0x30..0x39, which is the high
     * nibble 3 before and after adding 6. */
    uint64_t x = w ^ ((uint64_t)(':' ^ '0') << 16 | (uint64_t)(':' ^ '0') << 40);
    if ((x & nibbles) != ones * '0' || ((x + ones * 6) & nibbles) != ones * '0')
        return false;
    uint64_t d = x - ones * '0';
    *h = (unsigned)(d & 0xFF) * 10 + (unsigned)(d >> 8 & 0xFF);
    *mi = (unsigned)(d >> 24 & 0xFF) * 10 + (unsigned)(d >> 32 & 0xFF);
    *s = (unsigned)(d >> 48 & 0xFF) * 10 + (unsigned)(d >> 56);
#else
    (void)ones, (void)nibbles, (void)colons, (void)colon_bytes, (void)w;
    if (p[9] != ':' || p[12] != ':')
        return false;
    *h = two_digits(p + 7);
    *mi = two_digits(p + 10);
    *s = two_digits(p + 13);
    if (*h > 99 || *mi > 99 || *s > 99)
        return false;
#endif
    *day = p[4] == ' ' ? one_digit(p[5]) : two_digits(p + 4);
    return *day <= 99;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days from 1970-01-01 to January 1st of year y (negative before 1970): 365 a year plus the leap
 * days of the years in between (477 leap years come before 1970). */
static int64_t days_to_year(int64_t y)
{
    int64_t leaps;
    if (y >= 1) {
        uint64_t p = (uint64_t)(y - 1); /* unsigned: the divisions need no rounding fix */
        leaps = (int64_t)(p / 4 - p / 100 + p / 400);
    } else {
        leaps = floor_div(y - 1, 4) - floor_div(y - 1, 100) + floor_div(y - 1, 400);
    }
    return 365 * (y - 1970) + leaps - 477;
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Seconds since the epoch of mon/day h:mi:s in the year that starts start days after 1970-01-01
 * (leap: whether it is a leap year), as trl_epoch_from_civil() counts them (a day past the end of
 * its month runs on into the next). */
static int64_t epoch_in_year(int64_t start, bool leap, unsigned mon, unsigned day, unsigned h,
                             unsigned mi, unsigned s)
{
    static const uint16_t days_before_month[12] = {0,   31,  59,  90,  120, 151,
                                                   181, 212, 243, 273, 304, 334};
    int64_t days = start + days_before_month[mon - 1] + (mon > 2 && leap) + day - 1;
    return days * 86400 + h * 3600 + mi * 60 + s;
}

/* The calendar year a receive time falls in: the seconds it spans and where it starts. */
struct recv_year {
    int64_t first_sec, end_sec; /* [first_sec, end_sec) since the epoch */
    int64_t year, start;        /* start: days from 1970-01-01 to its January 1st */
    bool leap;
};

static struct recv_year recv_year_of(int64_t days)
{
    /* The mean Gregorian year of 146097/400 days puts the estimate within a year of it, and where
     * that year starts settles which. */
    int64_t year = 1970 + floor_div(days * 400, 146097);
    int64_t start = days_to_year(year);
    if (start > days) {
        year--;
        start = days_to_year(year);
    } else if (start + 365 + is_leap(year) <= days) {
        start += 365 + is_leap(year);
        year++;
    }
    bool leap = is_leap(year);
    return (struct recv_year){start * 86400, (start + 365 + leap) * 86400, year, start, leap};
}

/* The receive year of the last year-less timestamp this thread read. Receive times change year
 * once a year, so working it out again for every message is wasted: a memo of a pure function,
 * whose result is the same whichever thread asks, and so no state that changes any output. */
static _Thread_local struct recv_year last_recv_year = {1, 0, 0, 0, false};

/* Seconds since the epoch of a year-less date: the candidate year closest to the receive time. */
static int64_t closest_year_epoch(unsigned mon, unsigned day, unsigned h, unsigned mi, unsigned s,
                                  int64_t received_ns)
{
    int64_t rsec = floor_div(received_ns, TRL_NS_PER_SEC);
    struct recv_year *ry = &last_recv_year;
    if (rsec < ry->first_sec || rsec >= ry->end_sec)
        *ry = recv_year_of(floor_div(rsec, 86400));
    int64_t year = ry->year;
    int64_t best = epoch_in_year(ry->start, ry->leap, mon, day, h, mi, s);
    int64_t best_diff = best > rsec ? best - rsec : rsec - best;
    /* The neighbouring years are 365 or 366 days away from this candidate: within half a year of
     * the receive time, neither can be closer. */
    if (best_diff <= 182 * 86400)
        return best;
    for (int64_t y = year - 1; y <= year + 1; y += 2) {
        int64_t t = epoch_in_year(days_to_year(y), is_leap(y), mon, day, h, mi, s);
        int64_t diff = t > rsec ? t - rsec : rsec - t;
        if (diff < best_diff) {
            best = t;
            best_diff = diff;
        }
    }
    return best;
}

/* Parses a BSD timestamp at the start of [p, p+len): "Mmm dd hh:mm:ss" with the day padded by a
 * space or a zero (or not at all), then what network devices add: a year after the day, a fraction
 * of a second, " UTC" or " GMT", a closing ':'. Returns the bytes consumed, 0 when there is no such
 * timestamp. */
static size_t parse_bsd_time(const char *p, size_t len, int64_t received_ns, int assume_year,
                             int64_t *ns)
{
    if (len < 14)
        return 0;
    unsigned mon = month_at(p);
    if (!mon || p[3] != ' ')
        return 0;
    unsigned day, year = 0, h, mi, s;
    bool has_year = false;
    size_t i = 4;
    if (fixed_layout(p, len, &day, &h, &mi, &s)) {
        i = 15;
    } else {
        if (p[i] == ' ')
            i++;
        if (read_digits(p, len, i, 2, &day))
            i += 2;
        else if (read_digits(p, len, i, 1, &day))
            i += 1;
        else
            return 0;
        if (i >= len || p[i] != ' ')
            return 0;
        i++;
        has_year = read_digits(p, len, i, 4, &year) && i + 4 < len && p[i + 4] == ' ';
        if (has_year) {
            if (year < TRL_SYSLOG_YEAR_MIN || year > TRL_SYSLOG_YEAR_MAX)
                return 0;
            i += 5;
        }
        if (!read_digits(p, len, i, 2, &h) || i + 8 > len || p[i + 2] != ':' ||
            !read_digits(p, len, i + 3, 2, &mi) || p[i + 5] != ':' ||
            !read_digits(p, len, i + 6, 2, &s))
            return 0;
        i += 8;
    }
    if (day < 1 || day > 31 || h > 23 || mi > 59 || s > 60)
        return 0;
    int64_t frac = 0;
    if (i + 1 < len && p[i] == '.' && trl_syslog_is_digit(p[i + 1])) {
        int64_t scale = TRL_NS_PER_SEC / 10;
        for (i++; i < len && trl_syslog_is_digit(p[i]); i++) {
            frac += (p[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (i + 4 <= len && p[i] == ' ' &&
        ((p[i + 1] == 'U' && p[i + 2] == 'T' && p[i + 3] == 'C') ||
         (p[i + 1] == 'G' && p[i + 2] == 'M' && p[i + 3] == 'T')) &&
        (i + 4 == len || is_space(p[i + 4]) || p[i + 4] == ':'))
        i += 4;
    if (i < len && p[i] == ':')
        i++;
    if (i < len && !is_space(p[i]))
        return 0;
    int64_t secs = has_year      ? trl_epoch_from_civil(year, mon, day, h, mi, s)
                   : assume_year ? trl_epoch_from_civil(assume_year, mon, day, h, mi, s)
                                 : closest_year_epoch(mon, day, h, mi, s, received_ns);
    /* Only a receive time at the very edge of the int64 range could push the inferred year out. */
    if (secs >= INT64_MAX / TRL_NS_PER_SEC || secs <= INT64_MIN / TRL_NS_PER_SEC)
        return 0;
    *ns = secs * TRL_NS_PER_SEC + frac;
    return i;
}

/* A BSD timestamp (optionally marked '*' or '.' by Cisco for an unsynchronised clock) or an ISO
 * 8601 one; returns the bytes consumed, 0 when [p, p+len) does not start with a timestamp. */
static size_t parse_time(const char *p, size_t len, int64_t received_ns, int assume_year,
                         int64_t *ns)
{
    if (len == 0)
        return 0;
    if (trl_syslog_is_digit(p[0])) {
        /* Only the 'T' form: "2024-07-09 22:31:02,123 INFO ..." is an application log line whose
         * second word is no hostname. */
        if (len <= 10 || (p[10] != 'T' && p[10] != 't'))
            return 0;
        size_t n = trl_syslog_parse_rfc3339(p, len, ns);
        return n && (n == len || is_space(p[n])) ? n : 0;
    }
    if ((p[0] == '*' || p[0] == '.') && len > 1) {
        size_t n = parse_bsd_time(p + 1, len - 1, received_ns, assume_year, ns);
        return n ? n + 1 : 0;
    }
    return parse_bsd_time(p, len, received_ns, assume_year, ns);
}

/* Payloads that parse.c parses out of the MSG part; a word that starts one is never a host or tag.
 */
static bool embedded_payload_at(const char *p, size_t len)
{
    if (len == 0)
        return false;
    switch (p[0]) {
    case '{':
        return true;
    case 'C':
        return trl_starts_with(p, len, "CEF:");
    case 'L':
        return trl_starts_with(p, len, "LEEF:") || trl_starts_with(p, len, "LinuxKAudit");
    case 'M':
        return trl_starts_with(p, len, "MSWinEventLog");
    case '%':
        /* Cisco's "%FAC-SEV-MNEMONIC: text" belongs to the message, where its rules look for it. */
        return true;
    default:
        return false;
    }
}

struct tag {
    size_t name_len; /* the name starts where scanning started */
    size_t sub_off, sub_len;
    size_t pid_off, pid_len;
    bool has_pid;
    size_t end; /* where the text after the tag starts */
};

/* Bytes of a tag's NAME or SUB: above the space, except ':', '[', ']', '(' and ')'. A table
 * indexed by byte value: one load and test per byte, where the tag and the host before it are
 * scanned for every message. */
static const bool tag_char[256] = {
    ['!' ... '\''] = true, ['*' ... '9'] = true, [';' ... 'Z'] = true,
    ['\\'] = true,         ['^' ... 255] = true,
};

static inline bool is_tag_char(char c)
{
    return tag_char[(unsigned char)c];
}

/* Recognises a tag at p: NAME ["(" SUB ")"] ["[" PID "]"] ":" followed by a space or the end. With
 * a [PID] the colon may be missing. Anything else (a word, "host:port", "CEF:0|") is not a tag.
 * Either way t->name_len is the length of the run of tag characters at p. */
static bool scan_tag(const char *p, size_t len, struct tag *t)
{
    size_t i = 0;
    while (i < len && is_tag_char(p[i]))
        i++;
    memset(t, 0, sizeof(*t));
    t->name_len = i;
    if (i == 0)
        return false;
    if (i < len && p[i] == '(') {
        t->sub_off = ++i;
        while (i < len && is_tag_char(p[i]))
            i++;
        if (i >= len || p[i] != ')')
            return false;
        t->sub_len = i - t->sub_off;
        i++;
    }
    if (i < len && p[i] == '[') {
        t->pid_off = ++i;
        while (i < len && p[i] != ']' && !is_space(p[i]))
            i++;
        if (i >= len || p[i] != ']')
            return false;
        t->pid_len = i - t->pid_off;
        t->has_pid = true;
        i++;
    }
    if (i < len && p[i] == ':')
        i++;
    else if (!t->has_pid)
        return false;
    if (i < len && !is_space(p[i]))
        return false;
    t->end = i;
    return true;
}

static void set_tag(struct trl_event *ev, const char *p, const struct tag *t)
{
    trl_syslog_set_appname(ev, p, t->name_len);
    if (t->sub_len)
        trl_event_set_ref(ev, TRL_F_LOG_LOGGER, p + t->sub_off, t->sub_len);
    if (t->pid_len)
        trl_syslog_set_procid(ev, p + t->pid_off, t->pid_len);
}

/* After the timestamp: [HOSTNAME] [TAG] MSG. The first word is a tag rather than a host when it
 * has the shape of one ("sshd[1]:", "kernel:"), and neither host nor tag when it starts an
 * embedded payload. */
static void parse_host_tag_msg(struct trl_event *ev, const char *p, size_t len, size_t i)
{
    struct tag t;
    i = skip_spaces(p, len, i);
    if (embedded_payload_at(p + i, len - i)) {
        trl_syslog_set_message(ev, p + i, len - i);
        return;
    }
    if (!scan_tag(p + i, len - i, &t)) {
        size_t host = i;
        /* The run of tag characters scan_tag() read has no space in it. */
        i += t.name_len;
        while (i < len && !is_space(p[i]))
            i++;
        if (i == host)
            return;
        trl_syslog_set_hostname(ev, p + host, i - host);
        i = skip_spaces(p, len, i);
        /* Cisco ASA separates the host from the message with " : ". */
        if (i < len && p[i] == ':' && (i + 1 == len || is_space(p[i + 1])))
            i = skip_spaces(p, len, i + 1);
        if (embedded_payload_at(p + i, len - i) || !scan_tag(p + i, len - i, &t)) {
            trl_syslog_set_message(ev, p + i, len - i);
            return;
        }
    }
    set_tag(ev, p + i, &t);
    i = skip_spaces(p, len, i + t.end);
    trl_syslog_set_message(ev, p + i, len - i);
}

int trl_parse_rfc3164(struct trl_event *ev, const char *p, size_t len)
{
    len = trl_syslog_trim_end(p, len);
    struct trl_syslog_pri pri;
    trl_syslog_scan_pri(p, len, &pri);
    bool bad_pri = pri.end && !pri.valid;
    size_t i = pri.end;

    /* Cisco IOS numbers its messages: "<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: ...". */
    size_t seq = 0, seq_len = 0;
    if (pri.valid) {
        size_t j = i;
        while (j < len && j - i < 10 && trl_syslog_is_digit(p[j]))
            j++;
        if (j > i && j + 1 < len && p[j] == ':' && p[j + 1] == ' ') {
            seq = i;
            seq_len = j - i;
            i = j + 2;
        }
    }

    int64_t ts = 0;
    size_t n = parse_time(p + i, len - i, ev->received_ns, ev->assume_year, &ts);
    /* Without a valid PRI, a timestamp is the only sign that this is syslog at all. */
    if (n == 0 && !pri.valid)
        return TRL_ENOMATCH;

    ev->format = "rfc3164";
    if (pri.valid)
        trl_syslog_set_pri(ev, &pri);
    if (seq_len)
        trl_event_set_ref(ev, TRL_F_EVENT_SEQUENCE, p + seq, seq_len);
    if (n == 0) {
        ev->timestamp_ns = ev->received_ns;
        trl_syslog_set_message(ev, p + i, len - i);
        return 0;
    }
    ev->timestamp_ns = ts;
    parse_host_tag_msg(ev, p, len, i + n);
    return bad_pri ? TRL_EINVAL : 0;
}
