/*
 * vendor_time: the timestamp shapes of vendor log formats (Snare, CEF, LEEF) that RFC 3339 does not
 * cover: ctime-like dates, epoch seconds or milliseconds, and dates described by a Java
 * SimpleDateFormat pattern (LEEF's devTimeFormat, CEF's "MMM dd yyyy HH:mm:ss").
 *
 * A date without a time zone is taken as UTC. A date without a year gets the year that puts it
 * closest before the reference time (the event's receive time), so "Dec 31" received on Jan 1 is
 * last year's. Pure functions without locale or libc time state; callable from any thread.
 */
#ifndef TRL_VENDOR_TIME_H
#define TRL_VENDOR_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses all of [p, p+len) (surrounding spaces allowed) as described by a SimpleDateFormat
 * pattern. Supported letters: y M (number or name) d H h a m s S (fraction) E (day name, skipped)
 * z Z X (zone: UTC/GMT/Z or a numeric offset; other zone names are taken as UTC); 'quoted' text and
 * other characters are literals, and a space matches one or more spaces. Returns false when the
 * text does not fit the pattern or a value is out of range. */
bool trl_vtime_parse_pattern(const char *fmt, size_t flen, const char *p, size_t len,
                             int64_t ref_ns, int64_t *ns);

/* Epoch time as decimal digits: 13 digits are milliseconds, fewer are seconds, and a
 * fraction after a '.' is allowed on seconds ("1753664832.630"). */
bool trl_vtime_parse_epoch(const char *p, size_t len, int64_t *ns);

/* The common shapes tried in order: epoch seconds or milliseconds, RFC 3339, "MMM dd yyyy
 * HH:mm:ss[.SSS][ zone]", "MMM dd HH:mm:ss[.SSS][ zone]", ctime "EEE MMM dd HH:mm:ss yyyy". */
bool trl_vtime_parse_any(const char *p, size_t len, int64_t ref_ns, int64_t *ns);

#endif
