#include "core/timeutil.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

int64_t trl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * TRL_NS_PER_SEC + ts.tv_nsec;
}

int64_t trl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * TRL_NS_PER_SEC + ts.tv_nsec;
}

/* Howard Hinnant's days_from_civil / civil_from_days algorithms (public domain descriptions). */
int64_t trl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void trl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t trl_epoch_from_civil(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi,
                             unsigned s)
{
    return trl_days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s;
}

unsigned trl_month_from_abbrev(const char *p)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char a = (char)tolower((unsigned char)p[0]);
    char b = a ? (char)tolower((unsigned char)p[1]) : 0;
    char c = b ? (char)tolower((unsigned char)p[2]) : 0;
    for (unsigned i = 0; i < 12; i++) {
        if (names[i * 3] == a && names[i * 3 + 1] == b && names[i * 3 + 2] == c)
            return i + 1;
    }
    return 0;
}

/* "00" .. "99": two digits per table lookup instead of a division and a remainder each. */
static const char two_digit_text[201] =
    "00010203040506070809101112131415161718192021222324252627282930"
    "31323334353637383940414243444546474849505152535455565758596061"
    "62636465666768697071727374757677787980818283848586878889909192"
    "93949596979899";

static inline char *put2(char *p, unsigned v)
{
    memcpy(p, two_digit_text + 2 * v, 2);
    return p + 2;
}

size_t trl_format_rfc3339(int64_t ns, char *buf)
{
    int64_t secs = ns / TRL_NS_PER_SEC;
    int64_t frac = ns % TRL_NS_PER_SEC;
    if (frac < 0) {
        frac += TRL_NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    trl_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    unsigned r = (unsigned)rem, h = r / 3600, mi = r % 3600 / 60, s = r % 60;
    unsigned yy = (unsigned)y;
    char *p = buf;
    p = put2(p, yy / 100);
    p = put2(p, yy % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, h);
    *p++ = ':';
    p = put2(p, mi);
    *p++ = ':';
    p = put2(p, s);
    *p++ = '.';
    /* Nine digits by constant divisions: a division by a variable costs tens of cycles. */
    uint32_t f = (uint32_t)frac;
    *p++ = (char)('0' + f / 100000000);
    f %= 100000000;
    p = put2(p, f / 1000000);
    f %= 1000000;
    p = put2(p, f / 10000);
    f %= 10000;
    p = put2(p, f / 100);
    p = put2(p, f % 100);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

static bool digits(const char *p, size_t len, size_t at, size_t n, unsigned *out)
{
    if (at + n > len)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[at + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *out = v;
    return true;
}

/* Two decimal digits at p (readable), or -1. */
static inline int two_digits(const char *p)
{
    unsigned a = (unsigned)(unsigned char)p[0] - '0', b = (unsigned)(unsigned char)p[1] - '0';
    return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

size_t trl_parse_rfc3339(const char *p, size_t len, int64_t *ns)
{
    /* The fixed part "YYYY-MM-DDTHH:MM:SS" is 19 bytes: read it at known offsets. */
    if (len < 19)
        return 0;
    int yh = two_digits(p), yl = two_digits(p + 2), mo = two_digits(p + 5), d = two_digits(p + 8);
    int h = two_digits(p + 11), mi = two_digits(p + 14), s = two_digits(p + 17);
    if (yh < 0 || yl < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0 || p[4] != '-' ||
        p[7] != '-' || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || p[13] != ':' ||
        p[16] != ':')
        return 0;
    unsigned y = (unsigned)(yh * 100 + yl);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return 0;
    /* Outside these years the time in nanoseconds does not fit in 64 bits. */
    if (y < 1678 || y > 2261)
        return 0;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && (p[i] == '.' || p[i] == ',')) {
        i++;
        static const int32_t scale[9] = {100000000, 10000000, 1000000, 100000, 10000,
                                         1000,      100,      10,      1};
        size_t start = i, stop = len - i > 9 ? i + 9 : len;
        uint32_t v = 0;
        while (i < stop && (unsigned char)(p[i] - '0') <= 9)
            v = v * 10 + (uint32_t)(p[i++] - '0');
        if (i == start)
            return 0;
        /* n digits are v * 10^(9 - n) nanoseconds. */
        frac = (int64_t)v * scale[i - start - 1];
        /* Digits past the ninth (below a nanosecond) are read and dropped. */
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    int64_t offset = 0;
    if (i < len && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
    } else if (i < len && (p[i] == '+' || p[i] == '-')) {
        unsigned oh, om;
        int sign = p[i] == '-' ? -1 : 1;
        if (!digits(p, len, i + 1, 2, &oh))
            return 0;
        size_t j = i + 3;
        if (j < len && p[j] == ':')
            j++;
        if (!digits(p, len, j, 2, &om))
            return 0;
        if (oh > 23 || om > 59)
            return 0;
        offset = sign * (int64_t)(oh * 3600 + om * 60);
        i = j + 2;
    }
    int64_t secs =
        trl_epoch_from_civil(y, (unsigned)mo, (unsigned)d, (unsigned)h, (unsigned)mi, (unsigned)s) -
        offset;
    *ns = secs * TRL_NS_PER_SEC + frac;
    return i;
}
