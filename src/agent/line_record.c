/*
 * line_record: the spool record of a line read from a log file (see line_record.h).
 */
#include "agent/line_record.h"

#include "core/util.h"
#include "formats/parse.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

/* Where the header's fields start, after the mark byte. */
enum { AT_OFFSET = 1, AT_END = 9, AT_CRC = 17, AT_READ_NS = 21, AT_PATH_LEN = 29 };
_Static_assert(AT_PATH_LEN + 2 == TRL_LINE_REC_HEAD, "the path length ends the header");

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
    uint64_t le = htole64(v);
    memcpy(p, &le, n);
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t le = 0;
    memcpy(&le, p, n);
    return le64toh(le);
}

void trl_line_rec_encode(struct trl_buf *out, const struct trl_line_rec *r)
{
    unsigned char head[TRL_LINE_REC_HEAD];
    head[0] = (unsigned char)TRL_LINE_REC_MARK;
    put_le(head + AT_OFFSET, r->offset, 8);
    put_le(head + AT_END, r->end, 8);
    put_le(head + AT_CRC, r->crc, 4);
    put_le(head + AT_READ_NS, (uint64_t)r->read_ns, 8);
    put_le(head + AT_PATH_LEN, r->path_len, 2);
    trl_buf_reserve(out, sizeof(head) + r->path_len + r->line_len);
    trl_buf_append(out, head, sizeof(head));
    trl_buf_append(out, r->path, r->path_len);
    trl_buf_append(out, r->line, r->line_len);
}

int trl_line_rec_decode(const void *data, size_t len, struct trl_line_rec *r)
{
    const unsigned char *p = data;
    if (len == 0 || p[0] != (unsigned char)TRL_LINE_REC_MARK)
        return TRL_ENOMATCH;
    if (len < TRL_LINE_REC_HEAD)
        return TRL_EINVAL;
    size_t path_len = (size_t)get_le(p + AT_PATH_LEN, 2);
    if (path_len > TRL_LINE_REC_MAX_PATH || path_len > len - TRL_LINE_REC_HEAD)
        return TRL_EINVAL;
    r->offset = get_le(p + AT_OFFSET, 8);
    r->end = get_le(p + AT_END, 8);
    r->crc = (uint32_t)get_le(p + AT_CRC, 4);
    r->read_ns = (int64_t)get_le(p + AT_READ_NS, 8);
    r->path = (const char *)p + TRL_LINE_REC_HEAD;
    r->path_len = path_len;
    r->line = r->path + path_len;
    r->line_len = len - TRL_LINE_REC_HEAD - path_len;
    return 0;
}

/* "\x1e<offset> <end> <crc>\n" then the event's JSON: the layout of earlier spools. */
static bool text_position(const char *p, size_t len, uint64_t *offset, uint64_t *end, uint32_t *crc)
{
    char head[80];
    size_t n = TRL_MIN(len - 1, sizeof(head) - 1);
    memcpy(head, p + 1, n);
    head[n] = '\0';
    unsigned long long off, e;
    unsigned c;
    if (sscanf(head, "%llu %llu %u", &off, &e, &c) != 3)
        return false;
    *offset = off;
    *end = e;
    *crc = c;
    return true;
}

bool trl_line_rec_position(const void *data, size_t len, uint64_t *offset, uint64_t *end,
                           uint32_t *crc)
{
    const char *p = data;
    if (len >= 2 && p[0] == TRL_POS_REC_MARK)
        return text_position(p, len, offset, end, crc);
    struct trl_line_rec r;
    if (trl_line_rec_decode(data, len, &r) != 0)
        return false;
    *offset = r.offset;
    *end = r.end;
    *crc = r.crc;
    return true;
}

void trl_line_rec_json(const void *data, size_t len, const char **json, size_t *json_len)
{
    const char *p = data;
    size_t skip = 0;
    if (len > 0 && p[0] == TRL_POS_REC_MARK) {
        const char *nl = memchr(p, '\n', len);
        skip = nl ? (size_t)(nl - p) + 1 : len;
    }
    *json = p + skip;
    *json_len = len - skip;
}

struct trl_event *trl_line_rec_event(struct trl_arena *a, const struct trl_line_rec *r,
                                     const char *hostname)
{
    struct trl_event *ev = trl_event_create(a, r->line, r->line_len, r->read_ns);
    trl_parse_event(ev, TRL_FORMAT_AUTO);
    if (!trl_event_has(ev, TRL_F_LOG_FILE_PATH))
        trl_event_set(ev, TRL_F_LOG_FILE_PATH, r->path, r->path_len);
    if (!trl_event_has(ev, TRL_F_HOST_NAME))
        trl_event_set_str(ev, TRL_F_HOST_NAME, hostname);
    return ev;
}
