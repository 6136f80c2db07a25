/*
 * Fuzzes the audit netlink record wrapper: the first two bytes are the message type, the rest the
 * kernel's payload, unterminated and of any length. The resulting event must encode as JSON.
 */
#include "agent/audit_nl.h"
#include "core/arena.h"
#include "core/buf.h"
#include "formats/json_encode.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trl_arena *arena;
    static struct trl_buf out;
    if (!arena)
        arena = trl_arena_create(0);
    trl_arena_reset(arena);
    if (size < 2)
        return 0;
    int type = data[0] | data[1] << 8;
    struct trl_event *ev = trl_audit_nl_record(arena, type, (const char *)data + 2, size - 2);
    if (ev) {
        trl_buf_reset(&out);
        trl_json_encode_event(ev, &out);
        if (out.len == 0 || out.data[0] != '{')
            abort();
    }
    return 0;
}
