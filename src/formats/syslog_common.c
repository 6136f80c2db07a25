#include "formats/syslog_common.h"

#include "core/timeutil.h"
#include "core/util.h"

#include <string.h>

struct lit {
    const char *s;
    size_t len;
};
/* clang-format off */
#define LIT(x) {x, sizeof(x) - 1}
/* clang-format on */

/* Facility and severity codes as text, so setting them needs no formatting or allocation. */
static const struct lit codes[24] = {
    LIT("0"),  LIT("1"),  LIT("2"),  LIT("3"),  LIT("4"),  LIT("5"),  LIT("6"),  LIT("7"),
    LIT("8"),  LIT("9"),  LIT("10"), LIT("11"), LIT("12"), LIT("13"), LIT("14"), LIT("15"),
    LIT("16"), LIT("17"), LIT("18"), LIT("19"), LIT("20"), LIT("21"), LIT("22"), LIT("23"),
};

static const struct lit facilities[24] = {
    LIT("kern"),         LIT("user"),   LIT("mail"),   LIT("daemon"),   LIT("auth"),
    LIT("syslog"),       LIT("lpr"),    LIT("news"),   LIT("uucp"),     LIT("cron"),
    LIT("authpriv"),     LIT("ftp"),    LIT("ntp"),    LIT("security"), LIT("console"),
    LIT("solaris-cron"), LIT("local0"), LIT("local1"), LIT("local2"),   LIT("local3"),
    LIT("local4"),       LIT("local5"), LIT("local6"), LIT("local7"),
};

static const struct lit severities[8] = {
    LIT("emerg"),   LIT("alert"),  LIT("crit"), LIT("err"),
    LIT("warning"), LIT("notice"), LIT("info"), LIT("debug"),
};

/* The usual PRI, "<" 1*3DIGIT ">" without a leading zero, read in one short pass with nothing
 * to clear first; false for anything else, which the general reader below then takes (it would
 * give the same result on this form). */
static bool scan_plain_pri(const char *p, size_t len, struct trl_syslog_pri *pri)
{
    if (len < 3 || p[0] != '<' || p[1] < '1' || p[1] > '9')
        return false;
    unsigned v = (unsigned)(p[1] - '0');
    size_t n = 1;
    while (n < 3 && 1 + n < len && trl_syslog_is_digit(p[1 + n])) {
        v = v * 10 + (unsigned)(p[1 + n] - '0');
        n++;
    }
    if (1 + n >= len || p[1 + n] != '>')
        return false;
    *pri = (struct trl_syslog_pri){.end = n + 2,
                                   .digits = p + 1,
                                   .ndigits = n,
                                   .value = v,
                                   .valid = v <= TRL_SYSLOG_PRI_MAX,
                                   .leading_zero = false};
    return true;
}

void trl_syslog_scan_pri(const char *p, size_t len, struct trl_syslog_pri *pri)
{
    if (scan_plain_pri(p, len, pri))
        return;
    memset(pri, 0, sizeof(*pri));
    if (len < 3 || p[0] != '<')
        return;
    size_t i = 1;
    unsigned v = 0;
    while (i < len && i <= 4 && trl_syslog_is_digit(p[i])) {
        v = v * 10 + (unsigned)(p[i] - '0');
        i++;
    }
    size_t ndigits = i - 1;
    if (ndigits == 0 || i >= len || p[i] != '>')
        return;
    size_t first = 1;
    while (first < i - 1 && p[first] == '0')
        first++;
    pri->end = i + 1;
    pri->value = v;
    pri->digits = p + first;
    pri->ndigits = i - first;
    pri->leading_zero = ndigits > 1 && p[1] == '0';
    pri->valid = ndigits <= 3 && v <= TRL_SYSLOG_PRI_MAX;
}

void trl_syslog_set_pri(struct trl_event *ev, const struct trl_syslog_pri *pri)
{
    unsigned fac = pri->value >> 3, sev = pri->value & 7;
    /* Every syslog event comes here first, with none of the five fields set and room for them
     * in its list: they are appended in one go, as trl_event_set_ref() would append them. */
    uint32_t n = ev->nfields;
    if ((ev->slot[TRL_F_LOG_SYSLOG_PRIORITY] | ev->slot[TRL_F_LOG_SYSLOG_FACILITY_CODE] |
         ev->slot[TRL_F_LOG_SYSLOG_FACILITY_NAME] | ev->slot[TRL_F_LOG_SYSLOG_SEVERITY_CODE] |
         ev->slot[TRL_F_LOG_SYSLOG_SEVERITY_NAME]) == 0 &&
        ev->cap >= 5 && n <= ev->cap - 5 && n + 5 < UINT16_MAX) {
        struct trl_kv *kv = &ev->fields[n];
        trl_kv_put_known(&kv[0], TRL_F_LOG_SYSLOG_PRIORITY, pri->digits, pri->ndigits);
        trl_kv_put_known(&kv[1], TRL_F_LOG_SYSLOG_FACILITY_CODE, codes[fac].s, codes[fac].len);
        trl_kv_put_known(&kv[2], TRL_F_LOG_SYSLOG_FACILITY_NAME, facilities[fac].s,
                         facilities[fac].len);
        trl_kv_put_known(&kv[3], TRL_F_LOG_SYSLOG_SEVERITY_CODE, codes[sev].s, codes[sev].len);
        trl_kv_put_known(&kv[4], TRL_F_LOG_SYSLOG_SEVERITY_NAME, severities[sev].s,
                         severities[sev].len);
        ev->slot[TRL_F_LOG_SYSLOG_PRIORITY] = (uint16_t)(n + 1);
        ev->slot[TRL_F_LOG_SYSLOG_FACILITY_CODE] = (uint16_t)(n + 2);
        ev->slot[TRL_F_LOG_SYSLOG_FACILITY_NAME] = (uint16_t)(n + 3);
        ev->slot[TRL_F_LOG_SYSLOG_SEVERITY_CODE] = (uint16_t)(n + 4);
        ev->slot[TRL_F_LOG_SYSLOG_SEVERITY_NAME] = (uint16_t)(n + 5);
        ev->nfields = n + 5;
        return;
    }
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_PRIORITY, pri->digits, pri->ndigits);
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, codes[fac].s, codes[fac].len);
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, facilities[fac].s, facilities[fac].len);
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, codes[sev].s, codes[sev].len);
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, severities[sev].s, severities[sev].len);
}

const char *trl_syslog_facility_name(unsigned code)
{
    return code < TRL_ARRAY_LEN(facilities) ? facilities[code].s : NULL;
}

const char *trl_syslog_severity_name(unsigned code)
{
    return code < TRL_ARRAY_LEN(severities) ? severities[code].s : NULL;
}

size_t trl_syslog_trim_end(const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    return len;
}

size_t trl_syslog_parse_rfc3339(const char *p, size_t len, int64_t *ns)
{
    if (len < 4)
        return 0;
    unsigned year = 0;
    for (size_t i = 0; i < 4; i++) {
        if (!trl_syslog_is_digit(p[i]))
            return 0;
        year = year * 10 + (unsigned)(p[i] - '0');
    }
    if (year < TRL_SYSLOG_YEAR_MIN || year > TRL_SYSLOG_YEAR_MAX)
        return 0;
    return trl_parse_rfc3339(p, len, ns);
}
