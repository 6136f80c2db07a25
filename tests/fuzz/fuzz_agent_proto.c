/*
 * Fuzzes the agent protocol decoder as the server's agent listener and the agent run it: the first
 * byte seeds the chunk sizes, the rest is the plaintext stream. Every frame cut from it is parsed
 * with the parser of its type, and batches are decompressed. The decoder must never read out of
 * bounds, and a batch it accepts must decompress to exactly the declared size and line count.
 * Parsed values are re-encoded and parsed again to check that the round trip is stable.
 */
#include "agent/proto.h"
#include "core/buf.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_frame(const struct trl_proto_frame *f, struct trl_buf *raw, struct trl_buf *re)
{
    if (f->type < TRL_PROTO_HELLO || f->type > TRL_PROTO_ACTION_RESULT ||
        f->len >= TRL_PROTO_MAX_FRAME)
        abort();
    struct trl_proto_hello h;
    struct trl_proto_batch b;
    struct trl_proto_heartbeat hb;
    struct trl_proto_error e;
    struct trl_proto_action act;
    struct trl_proto_action_result ar;
    uint64_t seq;
    const char *json;
    size_t len;
    trl_buf_reset(re);
    switch (f->type) {
    case TRL_PROTO_HELLO:
        if (trl_proto_parse_hello(f, &h) == 0)
            trl_proto_put_hello(re, &h);
        break;
    case TRL_PROTO_BATCH:
        if (trl_proto_parse_batch(f, &b) == 0 && trl_proto_batch_decompress(&b, raw) == 0) {
            if (raw->len != b.raw_len || raw->data[raw->len - 1] != '\n')
                abort();
            if (trl_proto_put_batch(re, b.first_seq, b.count, raw->data, raw->len, 1) != 0)
                abort();
        }
        break;
    case TRL_PROTO_ACK:
        if (trl_proto_parse_ack(f, &seq) == 0)
            trl_proto_put_ack(re, seq);
        break;
    case TRL_PROTO_HEARTBEAT:
        if (trl_proto_parse_heartbeat(f, &hb) == 0)
            trl_proto_put_heartbeat(re, &hb);
        break;
    case TRL_PROTO_ENROLL_REQ:
    case TRL_PROTO_ENROLL_RESP:
        if (trl_proto_parse_json(f, &json, &len) == 0 &&
            trl_proto_put_json(re, (enum trl_proto_type)f->type, json, len) != 0)
            abort();
        break;
    case TRL_PROTO_ERROR:
        if (trl_proto_parse_error(f, &e) == 0)
            trl_proto_put_error(re, e.code, e.reason);
        break;
    case TRL_PROTO_ACTION:
        if (trl_proto_parse_action(f, &act) == 0 &&
            (act.len == 0 || trl_proto_put_action(re, act.id, act.json, act.len) != 0))
            abort();
        break;
    case TRL_PROTO_ACTION_RESULT:
        if (trl_proto_parse_action_result(f, &ar) == 0) {
            if (ar.outcome > TRL_PROTO_OUTCOME_REFUSED)
                abort();
            trl_proto_put_action_result(re, &ar);
        }
        break;
    default:
        abort();
    }
    if (re->len == 0)
        return;
    /* What was re-encoded must decode as one frame of the same type. */
    struct trl_proto_reader r2;
    trl_proto_reader_init(&r2);
    trl_proto_reader_feed(&r2, re->data, re->len);
    struct trl_proto_frame f2;
    if (trl_proto_reader_next(&r2, &f2) != 1 || f2.type != f->type ||
        trl_proto_reader_pending(&r2) != 0)
        abort();
    trl_proto_reader_free(&r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t seed = data[0];
    data++;
    size--;
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_buf raw = {0}, re = {0};
    size_t off = 0;
    bool failed = false;
    while (off < size && !failed) {
        size_t chunk = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            chunk = TRL_MIN(chunk, (size_t)(seed >> 16) % 61 + 1);
        }
        trl_proto_reader_feed(&r, data + off, chunk);
        off += chunk;
        struct trl_proto_frame f;
        int rc;
        while ((rc = trl_proto_reader_next(&r, &f)) == 1)
            check_frame(&f, &raw, &re);
        failed = rc < 0;
    }
    trl_proto_reader_free(&r);
    trl_buf_free(&raw);
    trl_buf_free(&re);
    return 0;
}
