/*
 * syslog_common: the pieces the RFC 3164 and RFC 5424 parsers share: the "<PRI>" prefix, facility
 * and severity names, and the setters that store header values as slices of the input.
 *
 * Nothing here copies: every value set on the event is either a slice of the caller's buffer (which
 * must live as long as the event's arena, as event.original does) or a static string. Pure
 * functions; callable from any thread on distinct events.
 */
#ifndef TRL_SYSLOG_COMMON_H
#define TRL_SYSLOG_COMMON_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The highest valid PRI: facility 23 (local7), severity 7 (debug). */
#define TRL_SYSLOG_PRI_MAX 191

struct trl_syslog_pri {
    size_t end;         /* bytes of "<digits>" at the start of the input; 0 when there is none */
    const char *digits; /* the value's digits without leading zeros (one "0" for zero) */
    size_t ndigits;
    unsigned value;
    bool valid;        /* 1 to 3 digits and value <= 191 */
    bool leading_zero; /* "<013>": tolerated in RFC 3164, forbidden by RFC 5424 */
};

/* Reads "<" 1*4DIGIT ">" at the start of [p, p+len) into *pri (pri->end == 0 when absent). Four
 * digits or a value above 191 still count as PRI syntax (pri->end > 0) but are not valid. */
void trl_syslog_scan_pri(const char *p, size_t len, struct trl_syslog_pri *pri);
/* Sets log.syslog.priority and the facility and severity codes and names from a valid PRI. */
void trl_syslog_set_pri(struct trl_event *ev, const struct trl_syslog_pri *pri);

/* RFC 5424 keywords ("kern" .. "local7", "emerg" .. "debug"); NULL when out of range. */
const char *trl_syslog_facility_name(unsigned code);
const char *trl_syslog_severity_name(unsigned code);

/* The length of [p, p+len) without trailing line terminators and NUL padding. */
size_t trl_syslog_trim_end(const char *p, size_t len);

/* Years whose timestamps fit int64 nanoseconds with any UTC offset applied. */
#define TRL_SYSLOG_YEAR_MIN 1678
#define TRL_SYSLOG_YEAR_MAX 2261

/* trl_parse_rfc3339() limited to years TRL_SYSLOG_YEAR_MIN..MAX: a sender's year 9999 must not
 * overflow the nanosecond count. Returns the bytes consumed, 0 when there is no such timestamp. */
size_t trl_syslog_parse_rfc3339(const char *p, size_t len, int64_t *ns);

static inline bool trl_syslog_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Setters for header fields; each stores slices of p. Inline: every syslog event sets them, and
 * each is a couple of stores. */
static inline void trl_syslog_set_hostname(struct trl_event *ev, const char *p, size_t len)
{
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_HOSTNAME, p, len);
    trl_event_set_ref(ev, TRL_F_HOST_NAME, p, len);
}

static inline void trl_syslog_set_appname(struct trl_event *ev, const char *p, size_t len)
{
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_APPNAME, p, len);
    trl_event_set_ref(ev, TRL_F_PROCESS_NAME, p, len);
}

/* Sets log.syslog.procid, and process.pid when the value is a decimal number. */
static inline void trl_syslog_set_procid(struct trl_event *ev, const char *p, size_t len)
{
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_PROCID, p, len);
    /* A pid is a number that fits a long; "-", "worker-3" or a 40-digit string stay procid only. */
    if (len == 0 || len > 18)
        return;
    for (size_t i = 0; i < len; i++) {
        if (!trl_syslog_is_digit(p[i]))
            return;
    }
    trl_event_set_ref(ev, TRL_F_PROCESS_PID, p, len);
}

/* Sets message to [p, p+len) without surrounding spaces; an empty message is not set. */
static inline void trl_syslog_set_message(struct trl_event *ev, const char *p, size_t len)
{
    while (len > 0 && p[0] == ' ') {
        p++;
        len--;
    }
    while (len > 0 && p[len - 1] == ' ')
        len--;
    if (len > 0)
        trl_event_set_ref(ev, TRL_F_MESSAGE, p, len);
}

#endif
