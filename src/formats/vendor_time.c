#include "formats/vendor_time.h"
#include "core/timeutil.h"

#include <string.h>

/* A date that lands this far after the reference time is last year's (clocks drift a little). */
#define FUTURE_SLACK_SECS (7 * 86400)

struct civil {
    int64_t year;
    unsigned mon, day, hour, min, sec;
    int64_t frac_ns;
    int64_t offset_secs; /* east of UTC */
    int pm;              /* -1: no AM/PM marker, 0: AM, 1: PM */
    bool have_year;
    bool hour12;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Reads 1..max decimal digits at *i. */
static bool read_num(const char *p, size_t len, size_t *i, size_t max, unsigned *out)
{
    size_t start = *i;
    unsigned v = 0;
    while (*i < len && *i - start < max && is_digit(p[*i])) {
        v = v * 10 + (unsigned)(p[*i] - '0');
        (*i)++;
    }
    if (*i == start)
        return false;
    *out = v;
    return true;
}

/* Decimal fraction digits at *i: as many as there are, nanosecond precision kept. */
static bool read_fraction(const char *p, size_t len, size_t *i, int64_t *ns)
{
    size_t start = *i;
    int64_t scale = 100000000, v = 0;
    while (*i < len && is_digit(p[*i])) {
        if (scale > 0) {
            v += (p[*i] - '0') * scale;
            scale /= 10;
        }
        (*i)++;
    }
    *ns = v;
    return *i > start;
}

/* "+hh:mm", "+hhmm", "+hh" (or '-'). */
static bool read_offset(const char *p, size_t len, size_t *i, int64_t *offset)
{
    if (*i >= len || (p[*i] != '+' && p[*i] != '-'))
        return false;
    int sign = p[*i] == '-' ? -1 : 1;
    size_t j = *i + 1;
    unsigned hh, mm = 0;
    size_t before = j;
    if (!read_num(p, len, &j, 2, &hh) || j - before != 2 || hh > 23)
        return false;
    if (j < len && p[j] == ':')
        j++;
    if (j + 1 < len && is_digit(p[j]) && is_digit(p[j + 1])) {
        mm = (unsigned)((p[j] - '0') * 10 + (p[j + 1] - '0'));
        j += 2;
        if (mm > 59)
            return false;
    }
    *offset = sign * (int64_t)(hh * 3600 + mm * 60);
    *i = j;
    return true;
}

/* A zone written as a name and/or an offset. Names other than UTC/GMT/UT/Z carry no offset we can
 * know without a zone database; they are consumed and taken as UTC. */
static bool read_zone(const char *p, size_t len, size_t *i, int64_t *offset)
{
    *offset = 0;
    if (read_offset(p, len, i, offset))
        return true;
    size_t start = *i;
    while (*i < len && is_alpha(p[*i]))
        (*i)++;
    if (*i == start)
        return false;
    read_offset(p, len, i, offset);
    return true;
}

static bool match_field(char c, size_t count, const char *p, size_t len, size_t *i, struct civil *t)
{
    unsigned v;
    switch (c) {
    case 'y':
        if (count == 2) {
            size_t start = *i;
            if (!read_num(p, len, i, 2, &v) || *i - start != 2)
                return false;
            t->year = v < 70 ? 2000 + v : 1900 + v;
        } else {
            if (!read_num(p, len, i, 4, &v))
                return false;
            t->year = v;
        }
        t->have_year = true;
        return true;
    case 'M':
        if (count >= 3) {
            if (*i + 3 > len)
                return false;
            char abbr[4] = {p[*i], p[*i + 1], p[*i + 2], '\0'};
            v = trl_month_from_abbrev(abbr);
            if (!v)
                return false;
            *i += 3;
            while (*i < len && is_alpha(p[*i])) /* a full month name */
                (*i)++;
            t->mon = v;
            return true;
        }
        return read_num(p, len, i, 2, &t->mon);
    case 'd':
        return read_num(p, len, i, 2, &t->day);
    case 'H':
        return read_num(p, len, i, 2, &t->hour);
    case 'h':
        t->hour12 = true;
        return read_num(p, len, i, 2, &t->hour);
    case 'm':
        return read_num(p, len, i, 2, &t->min);
    case 's':
        return read_num(p, len, i, 2, &t->sec);
    case 'S':
        return read_fraction(p, len, i, &t->frac_ns);
    case 'E': {
        size_t start = *i;
        while (*i < len && is_alpha(p[*i]))
            (*i)++;
        return *i > start;
    }
    case 'a':
        if (*i + 2 > len || lower(p[*i + 1]) != 'm')
            return false;
        if (lower(p[*i]) == 'a')
            t->pm = 0;
        else if (lower(p[*i]) == 'p')
            t->pm = 1;
        else
            return false;
        *i += 2;
        return true;
    case 'z':
        return read_zone(p, len, i, &t->offset_secs);
    case 'Z':
    case 'X':
    case 'x':
        if (*i < len && (p[*i] == 'Z' || p[*i] == 'z')) {
            (*i)++;
            t->offset_secs = 0;
            return true;
        }
        return read_offset(p, len, i, &t->offset_secs);
    default:
        return false;
    }
}

static int64_t civil_to_secs(const struct civil *t, int64_t year)
{
    return trl_epoch_from_civil(year, t->mon, t->day, t->hour, t->min, t->sec) - t->offset_secs;
}

static bool finish(struct civil *t, int64_t ref_ns, int64_t *ns)
{
    if (t->hour12) {
        if (t->hour < 1 || t->hour > 12)
            return false;
        if (t->pm >= 0)
            t->hour = t->hour % 12 + (t->pm ? 12 : 0);
    }
    if (t->mon < 1 || t->mon > 12 || t->day < 1 || t->day > 31 || t->hour > 23 || t->min > 59 ||
        t->sec > 60)
        return false;
    int64_t secs;
    if (t->have_year) {
        /* int64 nanoseconds end in April 2262. */
        if (t->year < 1970 || t->year > 2261)
            return false;
        secs = civil_to_secs(t, t->year);
    } else {
        int64_t ref_secs = ref_ns / TRL_NS_PER_SEC;
        int64_t y;
        unsigned m, d;
        trl_civil_from_days(ref_secs / 86400, &y, &m, &d);
        secs = civil_to_secs(t, y);
        if (secs > ref_secs + FUTURE_SLACK_SECS)
            secs = civil_to_secs(t, y - 1);
    }
    *ns = secs * TRL_NS_PER_SEC + t->frac_ns;
    return true;
}

bool trl_vtime_parse_pattern(const char *fmt, size_t flen, const char *p, size_t len,
                             int64_t ref_ns, int64_t *ns)
{
    struct civil t = {.mon = 1, .day = 1, .pm = -1};
    size_t i = 0, f = 0;
    while (i < len && p[i] == ' ')
        i++;
    while (f < flen) {
        char c = fmt[f];
        if (c == '\'') {
            f++;
            if (f < flen && fmt[f] == '\'') { /* '' is a quote character */
                if (i >= len || p[i] != '\'')
                    return false;
                i++;
                f++;
                continue;
            }
            while (f < flen) {
                if (fmt[f] == '\'') {
                    if (f + 1 < flen && fmt[f + 1] == '\'') /* '' inside quotes: a quote */
                        f++;
                    else
                        break;
                }
                if (i >= len || p[i] != fmt[f])
                    return false;
                i++;
                f++;
            }
            f++;
            continue;
        }
        if (c == ' ') {
            while (f < flen && fmt[f] == ' ')
                f++;
            if (i >= len || p[i] != ' ')
                return false;
            while (i < len && p[i] == ' ')
                i++;
            continue;
        }
        if (is_alpha(c)) {
            size_t count = 0;
            while (f < flen && fmt[f] == c) {
                f++;
                count++;
            }
            if (!match_field(c, count, p, len, &i, &t))
                return false;
            continue;
        }
        if (i >= len || p[i] != c)
            return false;
        i++;
        f++;
    }
    while (i < len && p[i] == ' ')
        i++;
    if (i != len)
        return false;
    return finish(&t, ref_ns, ns);
}

bool trl_vtime_parse_epoch(const char *p, size_t len, int64_t *ns)
{
    while (len > 0 && p[len - 1] == ' ')
        len--;
    while (len > 0 && p[0] == ' ') {
        p++;
        len--;
    }
    size_t i = 0;
    int64_t v = 0;
    while (i < len && is_digit(p[i])) {
        if (i >= 13) /* more digits than milliseconds until 2262: not a timestamp */
            return false;
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i == 0)
        return false;
    size_t ndigits = i;
    int64_t frac = 0;
    if (i < len && p[i] == '.') {
        i++;
        if (!read_fraction(p, len, &i, &frac))
            return false;
    }
    if (i != len)
        return false;
    if (ndigits == 13) {
        if (frac || v > INT64_MAX / 1000000)
            return false;
        *ns = v * 1000000;
    } else {
        if (v >= INT64_MAX / TRL_NS_PER_SEC)
            return false;
        *ns = v * TRL_NS_PER_SEC + frac;
    }
    return true;
}

/* trl_parse_rfc3339 computes nanoseconds without a range check, so years outside what int64
 * nanoseconds can hold are turned away before it sees them. */
static bool rfc3339_year_ok(const char *p, size_t len)
{
    unsigned y = 0;
    if (len < 4)
        return false;
    for (size_t i = 0; i < 4; i++) {
        if (!is_digit(p[i]))
            return false;
        y = y * 10 + (unsigned)(p[i] - '0');
    }
    return y >= 1970 && y <= 2261;
}

bool trl_vtime_parse_any(const char *p, size_t len, int64_t ref_ns, int64_t *ns)
{
    static const char *const patterns[] = {
        "MMM dd yyyy HH:mm:ss.SSS zzz", "MMM dd yyyy HH:mm:ss.SSS", "MMM dd yyyy HH:mm:ss zzz",
        "MMM dd yyyy HH:mm:ss",         "MMM dd HH:mm:ss.SSS zzz",  "MMM dd HH:mm:ss.SSS",
        "MMM dd HH:mm:ss zzz",          "MMM dd HH:mm:ss",          "EEE MMM dd HH:mm:ss yyyy",
        "EEE MMM dd HH:mm:ss zzz yyyy",
    };
    while (len > 0 && p[len - 1] == ' ')
        len--;
    while (len > 0 && p[0] == ' ') {
        p++;
        len--;
    }
    if (len == 0)
        return false;
    if (is_digit(p[0]) && trl_vtime_parse_epoch(p, len, ns))
        return true;
    if (rfc3339_year_ok(p, len)) {
        size_t used = trl_parse_rfc3339(p, len, ns);
        if (used && used == len)
            return true;
    }
    for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
        if (trl_vtime_parse_pattern(patterns[k], strlen(patterns[k]), p, len, ref_ns, ns))
            return true;
    }
    return false;
}
