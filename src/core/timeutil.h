/*
 * timeutil: civil-time arithmetic and timestamp formatting without locale, TZ or libc time state.
 *
 * Every timestamp in Trapline is int64 nanoseconds since the Unix epoch, UTC. These functions are
 * pure and safe from any thread (they never call localtime/mktime, which take a global lock).
 */
#ifndef TRL_TIMEUTIL_H
#define TRL_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_NS_PER_SEC 1000000000LL

/* Wall clock now, ns since the epoch. */
int64_t trl_now_ns(void);
/* Monotonic clock, ns. */
int64_t trl_mono_ns(void);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t trl_days_from_civil(int64_t y, unsigned m, unsigned d);
void trl_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* Seconds since the epoch for a UTC civil time; no range checks beyond the arguments' types. */
int64_t trl_epoch_from_civil(int64_t y, unsigned mon, unsigned d, unsigned h, unsigned mi,
                             unsigned s);

/* Month from a three-letter English abbreviation ("Jan" .. "Dec", case-insensitive): 1..12, or 0.
 */
unsigned trl_month_from_abbrev(const char *p);

/* Writes RFC 3339 UTC with nanoseconds: "2024-07-09T22:31:02.123456789Z"; returns its length.
 * buf must hold TRL_RFC3339_MAX bytes. */
#define TRL_RFC3339_MAX 40
size_t trl_format_rfc3339(int64_t ns, char *buf);

/* Parses RFC 3339 / ISO 8601 ("2024-07-09T22:31:02.123456+00:00", "...Z", space instead of T,
 * fraction up to 9 digits, offset optional: UTC assumed). On success returns the number of bytes
 * consumed and sets *ns; returns 0 when [p, p+len) does not start with such a timestamp. */
size_t trl_parse_rfc3339(const char *p, size_t len, int64_t *ns);

#endif
