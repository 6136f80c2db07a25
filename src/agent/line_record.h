/*
 * line_record: the spool record of a line read from a log file.
 *
 * A file line is spooled as it was read, with what it takes to turn it into its event later: its
 * position in its file (for exactly-once after a crash, see agent_main.c), the time it was read
 * (event.created, and the year of a timestamp that has none) and the file's path. The line is
 * parsed, normalised and encoded as JSON when it is sent, not when it is read: an auth.log line
 * of about 130 bytes takes about 195 bytes of spool instead of 880 as JSON, which is that much
 * less to write, sync, read back and checksum, and that many more lines in a spool of a given
 * cap. Parsing is deterministic given the line and the time it
 * was read, so the event sent is the one reading it would have made.
 *
 * Layout, integers little-endian:
 *     u8 TRL_LINE_REC_MARK, u64 offset, u64 end, u32 CRC-32C of the line, i64 read time (ns since
 *     the epoch), u16 path length, the path, the line (the rest of the record).
 *
 * Spools written before this layout hold file lines as "\x1e<offset> <end> <crc>\n" followed by
 * the event's JSON (TRL_POS_REC_MARK), which trl_line_rec_position() still reads. Records of the
 * other sources are the event's JSON.
 *
 * Nothing here allocates or keeps state: decoded fields point into the record; the event built by
 * trl_line_rec_event() lives in the caller's arena. Any thread may call these functions.
 */
#ifndef TRL_AGENT_LINE_RECORD_H
#define TRL_AGENT_LINE_RECORD_H

#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_LINE_REC_MARK '\x1d'
#define TRL_POS_REC_MARK  '\x1e'
/* Bytes before the path. */
#define TRL_LINE_REC_HEAD 31
/* The longest path a record carries (PATH_MAX). */
#define TRL_LINE_REC_MAX_PATH 4096

struct trl_line_rec {
    uint64_t offset, end; /* the line's bytes in its file, end after its newline */
    uint32_t crc;         /* CRC-32C of the line */
    int64_t read_ns;
    const char *path;
    size_t path_len;
    const char *line;
    size_t line_len;
};

/* Appends r's record to out. path_len must be at most TRL_LINE_REC_MAX_PATH. */
void trl_line_rec_encode(struct trl_buf *out, const struct trl_line_rec *r);

/* Reads a record made by trl_line_rec_encode(): returns 0 and fills *r (pointing into data),
 * TRL_ENOMATCH when data is not a line record, or TRL_EINVAL when it is one but malformed. */
int trl_line_rec_decode(const void *data, size_t len, struct trl_line_rec *r);

/* The position of the file line a record carries, in this layout or the earlier one: returns
 * true and sets *offset, *end and *crc, or false for a record of another source (or malformed). */
bool trl_line_rec_position(const void *data, size_t len, uint64_t *offset, uint64_t *end,
                           uint32_t *crc);

/* The event's JSON in a record that is not a line record: the whole record for the other sources,
 * what follows the position for a file line of the earlier layout. *json points into data. */
void trl_line_rec_json(const void *data, size_t len, const char **json, size_t *json_len);

/* The line's event, in arena a: parsed (format detected) and normalised with r->read_ns as the
 * time it was received, log.file.path set to the record's path and host.name to hostname unless
 * the line named them. */
struct trl_event *trl_line_rec_event(struct trl_arena *a, const struct trl_line_rec *r,
                                     const char *hostname);

#endif
