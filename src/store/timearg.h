/*
 * timearg: the time bounds users type for searches: RFC 3339 ("2024-07-09T22:40:03Z", offsets,
 * fractions), a date ("2024-07-09", midnight UTC; as an upper bound the end of that day), "now",
 * and relative forms before now ("-15m", "-24h", "-7d", "-2w", "-30s"). Pure; any thread.
 */
#ifndef TRL_STORE_TIMEARG_H
#define TRL_STORE_TIMEARG_H

#include <stdbool.h>
#include <stdint.h>

/* Parses s relative to now_ns. end: s is an upper bound (a bare date means the end of that day).
 * 0, or TRL_EINVAL for anything else (including dates outside 1678..2261, which nanoseconds since
 * 1970 cannot hold). */
int trl_parse_time_arg(const char *s, int64_t now_ns, bool end, int64_t *out);

#endif
