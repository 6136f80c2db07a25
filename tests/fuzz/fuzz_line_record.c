/*
 * Fuzzes reading a file line's spool record (line_record.h): the input is a spool record's
 * payload, read in place from libFuzzer's exactly sized buffer so that any read past its end is
 * caught by ASan. Checked: the decoder and the position reader agree on every record of the
 * current layout; a decoded record's path and line lie inside the input, it encodes back to the
 * same bytes, and its event (parsed, normalised, encoded as JSON) is built without error and
 * keeps the line as event.original.
 */
#include "agent/line_record.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/event.h"
#include "core/util.h"
#include "formats/json_encode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_line_rec r;
    int rc = trl_line_rec_decode(data, size, &r);
    uint64_t off, end;
    uint32_t crc;
    bool has_pos = trl_line_rec_position(data, size, &off, &end, &crc);
    if (rc != 0) {
        check(rc == TRL_ENOMATCH || rc == TRL_EINVAL);
        check(!has_pos || (size > 0 && data[0] == (uint8_t)TRL_POS_REC_MARK));
        return 0;
    }
    check(has_pos && off == r.offset && end == r.end && crc == r.crc);
    const char *lo = (const char *)data, *hi = lo + size;
    check(r.path >= lo && r.path + r.path_len <= hi && r.line >= r.path + r.path_len &&
          r.line + r.line_len == hi);

    struct trl_buf again = {0};
    trl_line_rec_encode(&again, &r);
    check(again.len == size && memcmp(again.data, data, size) == 0);
    trl_buf_free(&again);

    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = trl_line_rec_event(a, &r, "fuzz-host");
    check(ev->original_len == r.line_len && memcmp(ev->original, r.line, r.line_len) == 0);
    check(trl_event_has(ev, TRL_F_HOST_NAME) &&
          (r.path_len == 0 || trl_event_has(ev, TRL_F_LOG_FILE_PATH)));
    struct trl_buf json = {0};
    trl_json_encode_event(ev, &json);
    check(json.len > 0 && memchr(json.data, '\n', json.len) == NULL);
    trl_buf_free(&json);
    trl_arena_destroy(a);
    return 0;
}
