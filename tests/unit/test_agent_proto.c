#include "trl_test.h"

#include "agent/proto.h"
#include "core/buf.h"

#include <zstd.h>

/* Feeds the whole buffer to a reader and returns the first frame's status. */
static int one_frame(struct trl_proto_reader *r, const struct trl_buf *b, struct trl_proto_frame *f)
{
    trl_proto_reader_feed(r, b->data, b->len);
    return trl_proto_reader_next(r, f);
}

static const char three_events[] =
    "{\"message\":\"a\"}\n{\"message\":\"b\"}\n{\"message\":\"c\"}\n";

static void test_proto_hello_round_trip(void **state)
{
    (void)state;
    struct trl_proto_hello h = {.proto = 1, .last_ack = 0x0102030405060708ull};
    snprintf(h.agent_id, sizeof(h.agent_id), "agt-0011223344556677");
    snprintf(h.version, sizeof(h.version), "0.1.0");
    snprintf(h.hostname, sizeof(h.hostname), "web01.example.org");
    struct trl_buf b = {0};
    trl_proto_put_hello(&b, &h);

    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_proto_frame f;
    assert_int_equal(one_frame(&r, &b, &f), 1);
    assert_int_equal(f.type, TRL_PROTO_HELLO);
    struct trl_proto_hello got;
    assert_int_equal(trl_proto_parse_hello(&f, &got), 0);
    assert_int_equal(got.proto, 1);
    assert_true(got.last_ack == 0x0102030405060708ull);
    assert_string_equal(got.agent_id, "agt-0011223344556677");
    assert_string_equal(got.version, "0.1.0");
    assert_string_equal(got.hostname, "web01.example.org");
    assert_int_equal(trl_proto_reader_next(&r, &f), 0);
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

static void test_proto_batch_round_trip(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    assert_int_equal(trl_proto_put_batch(&b, 41, 3, three_events, sizeof(three_events) - 1, 1), 0);
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_proto_frame f;
    assert_int_equal(one_frame(&r, &b, &f), 1);
    struct trl_proto_batch pb;
    assert_int_equal(trl_proto_parse_batch(&f, &pb), 0);
    assert_true(pb.first_seq == 41);
    assert_int_equal(pb.count, 3);
    struct trl_buf raw = {0};
    assert_int_equal(trl_proto_batch_decompress(&pb, &raw), 0);
    assert_int_equal(raw.len, sizeof(three_events) - 1);
    assert_memory_equal(raw.data, three_events, raw.len);
    trl_buf_free(&raw);
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

/* A context kept across batches gives the same frames as a fresh one, also after a trim freed its
 * working memory, and decompresses them back. */
static void test_proto_zctx_survives_trim(void **state)
{
    (void)state;
    struct trl_proto_zctx *z = trl_proto_zctx_create();
    struct trl_buf fresh = {0}, kept = {0}, raw = {0};
    assert_int_equal(trl_proto_put_batch(&fresh, 7, 3, three_events, sizeof(three_events) - 1, 1),
                     0);
    for (int round = 0; round < 3; round++) {
        trl_buf_reset(&kept);
        assert_int_equal(
            trl_proto_put_batch_z(z, &kept, 7, 3, three_events, sizeof(three_events) - 1, 1), 0);
        assert_int_equal(kept.len, fresh.len);
        assert_memory_equal(kept.data, fresh.data, kept.len);
        struct trl_proto_reader r;
        trl_proto_reader_init(&r);
        struct trl_proto_frame f;
        struct trl_proto_batch pb;
        assert_int_equal(one_frame(&r, &kept, &f), 1);
        assert_int_equal(trl_proto_parse_batch(&f, &pb), 0);
        trl_buf_reset(&raw);
        assert_int_equal(trl_proto_batch_decompress_z(z, &pb, &raw), 0);
        assert_int_equal(raw.len, sizeof(three_events) - 1);
        assert_memory_equal(raw.data, three_events, raw.len);
        trl_proto_reader_free(&r);
        trl_proto_zctx_trim(z);
    }
    trl_proto_zctx_trim(NULL);
    trl_proto_zctx_destroy(z);
    trl_buf_free(&fresh);
    trl_buf_free(&kept);
    trl_buf_free(&raw);
}

static void test_proto_ack_heartbeat_error_round_trip(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    trl_proto_put_ack(&b, 123456789);
    struct trl_proto_heartbeat hb = {
        .spooled = 5, .dropped = 2, .sent = 99, .sources_error = 1, .events_per_sec = 42};
    trl_proto_put_heartbeat(&b, &hb);
    trl_proto_put_error(&b, TRL_PROTO_ERR_REVOKED, "agent revoked");
    assert_int_equal(trl_proto_put_json(&b, TRL_PROTO_ENROLL_REQ, "{\"token\":\"x\"}", 13), 0);

    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, b.data, b.len);
    struct trl_proto_frame f;
    uint64_t seq = 0;
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    assert_int_equal(trl_proto_parse_ack(&f, &seq), 0);
    assert_true(seq == 123456789);
    struct trl_proto_heartbeat got;
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    assert_int_equal(trl_proto_parse_heartbeat(&f, &got), 0);
    assert_true(got.spooled == 5 && got.dropped == 2 && got.sent == 99);
    assert_int_equal(got.sources_error, 1);
    assert_int_equal(got.events_per_sec, 42);
    struct trl_proto_error e;
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    assert_int_equal(trl_proto_parse_error(&f, &e), 0);
    assert_int_equal(e.code, TRL_PROTO_ERR_REVOKED);
    assert_string_equal(e.reason, "agent revoked");
    const char *json;
    size_t len;
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    assert_int_equal(trl_proto_parse_json(&f, &json, &len), 0);
    assert_int_equal(len, 13);
    assert_memory_equal(json, "{\"token\":\"x\"}", 13);
    assert_int_equal(trl_proto_reader_next(&r, &f), 0);
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

static void test_proto_reader_waits_for_truncated_frame(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    trl_proto_put_ack(&b, 7);
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_proto_frame f;
    /* Byte by byte: no frame until the last byte is in. */
    for (size_t i = 0; i + 1 < b.len; i++) {
        trl_proto_reader_feed(&r, b.data + i, 1);
        assert_int_equal(trl_proto_reader_next(&r, &f), 0);
    }
    trl_proto_reader_feed(&r, b.data + b.len - 1, 1);
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    assert_int_equal(f.type, TRL_PROTO_ACK);
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

static void test_proto_rejects_truncated_payloads(void **state)
{
    (void)state;
    /* An ACK of 7 bytes, a HELLO whose string runs past the end, a heartbeat one byte short. */
    static const uint8_t ack7[] = {0, 0, 0, 8, TRL_PROTO_ACK, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t hello[] = {0, 0, 0, 13, TRL_PROTO_HELLO, 0, 1, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 200};
    struct trl_proto_frame f;
    uint64_t seq;
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, ack7, sizeof(ack7));
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    assert_int_equal(trl_proto_parse_ack(&f, &seq), TRL_EINVAL);
    trl_proto_reader_free(&r);

    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, hello, sizeof(hello));
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    struct trl_proto_hello h;
    assert_int_equal(trl_proto_parse_hello(&f, &h), TRL_EINVAL);
    trl_proto_reader_free(&r);

    struct trl_buf b = {0};
    struct trl_proto_heartbeat hb = {0};
    trl_proto_put_heartbeat(&b, &hb);
    struct trl_proto_frame cut = {.type = TRL_PROTO_HEARTBEAT,
                                  .payload = (const uint8_t *)b.data + TRL_PROTO_HEADER,
                                  .len = b.len - TRL_PROTO_HEADER - 1};
    assert_int_equal(trl_proto_parse_heartbeat(&cut, &hb), TRL_EINVAL);
    trl_buf_free(&b);
}

static void test_proto_rejects_oversize_frame(void **state)
{
    (void)state;
    /* Length 4 MiB + 1: refused from the header alone, before any payload arrives. */
    uint32_t len = TRL_PROTO_MAX_FRAME + 1;
    uint8_t hdr[5] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len,
                      TRL_PROTO_BATCH};
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, hdr, 4);
    struct trl_proto_frame f;
    assert_int_equal(trl_proto_reader_next(&r, &f), TRL_ETRUNC);
    trl_proto_reader_free(&r);

    static const uint8_t zero[] = {0, 0, 0, 0, TRL_PROTO_ACK};
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, zero, sizeof(zero));
    assert_int_equal(trl_proto_reader_next(&r, &f), TRL_EINVAL);
    trl_proto_reader_free(&r);

    /* A HELLO string longer than 255 bytes is refused. */
    uint8_t big[5 + 2 + 8 + 2 + 300];
    memset(big, 'a', sizeof(big));
    uint32_t bl = sizeof(big) - 4;
    big[0] = 0;
    big[1] = 0;
    big[2] = (uint8_t)(bl >> 8);
    big[3] = (uint8_t)bl;
    big[4] = TRL_PROTO_HELLO;
    big[5] = 0;
    big[6] = 1;
    memset(big + 7, 0, 8);
    big[15] = 300 >> 8;
    big[16] = 300 & 0xff;
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, big, sizeof(big));
    assert_int_equal(trl_proto_reader_next(&r, &f), 1);
    struct trl_proto_hello h;
    assert_int_equal(trl_proto_parse_hello(&f, &h), TRL_EINVAL);
    trl_proto_reader_free(&r);
}

static void test_proto_rejects_bad_type(void **state)
{
    (void)state;
    static const uint8_t t0[] = {0, 0, 0, 1, 0};
    static const uint8_t t99[] = {0, 0, 0, 1, 99};
    struct trl_proto_frame f;
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, t0, sizeof(t0));
    assert_int_equal(trl_proto_reader_next(&r, &f), TRL_EINVAL);
    trl_proto_reader_free(&r);
    trl_proto_reader_init(&r);
    trl_proto_reader_feed(&r, t99, sizeof(t99));
    assert_int_equal(trl_proto_reader_next(&r, &f), TRL_EINVAL);
    trl_proto_reader_free(&r);
    /* A well-formed frame of the wrong type for the parser. */
    struct trl_buf b = {0};
    trl_proto_put_ack(&b, 1);
    trl_proto_reader_init(&r);
    assert_int_equal(one_frame(&r, &b, &f), 1);
    struct trl_proto_batch pb;
    assert_int_equal(trl_proto_parse_batch(&f, &pb), TRL_EINVAL);
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

/* A batch frame around an arbitrary zstd frame with declared count and size. */
static void batch_frame(struct trl_buf *out, uint32_t count, uint32_t raw_len, const void *z,
                        size_t zlen)
{
    uint32_t len = (uint32_t)(1 + 16 + zlen);
    uint8_t h[21] = {(uint8_t)(len >> 24),
                     (uint8_t)(len >> 16),
                     (uint8_t)(len >> 8),
                     (uint8_t)len,
                     TRL_PROTO_BATCH,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     1,
                     (uint8_t)(count >> 24),
                     (uint8_t)(count >> 16),
                     (uint8_t)(count >> 8),
                     (uint8_t)count,
                     (uint8_t)(raw_len >> 24),
                     (uint8_t)(raw_len >> 16),
                     (uint8_t)(raw_len >> 8),
                     (uint8_t)raw_len};
    trl_buf_reset(out);
    trl_buf_append(out, h, sizeof(h));
    trl_buf_append(out, z, zlen);
}

static int decompress_frame(const struct trl_buf *frame, struct trl_buf *raw)
{
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_proto_frame f;
    int rc = one_frame(&r, frame, &f);
    assert_int_equal(rc, 1);
    struct trl_proto_batch pb;
    rc = trl_proto_parse_batch(&f, &pb);
    if (rc == 0)
        rc = trl_proto_batch_decompress(&pb, raw);
    trl_proto_reader_free(&r);
    return rc;
}

static void test_proto_rejects_decompression_bomb(void **state)
{
    (void)state;
    /* 16 MiB of newlines compress to a few hundred bytes; the frame claims 100 bytes. */
    size_t big = TRL_PROTO_MAX_RAW;
    char *src = malloc(big);
    memset(src, '\n', big);
    size_t zcap = ZSTD_compressBound(big);
    void *z = malloc(zcap);
    size_t zlen = ZSTD_compress(z, zcap, src, big, 3);
    assert_false(ZSTD_isError(zlen));
    assert_true(zlen < 4096);

    struct trl_buf frame = {0}, raw = {0};
    batch_frame(&frame, 100, 100, z, zlen);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    assert_int_equal(raw.len, 0);

    /* The same content streamed without a declared size: stopped at the declared 100 bytes. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_inBuffer in = {src, big, 0};
    ZSTD_outBuffer o = {z, zcap, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end);
    } while (left != 0 && !ZSTD_isError(left));
    ZSTD_freeCCtx(cc);
    assert_int_equal(ZSTD_getFrameContentSize(z, o.pos), ZSTD_CONTENTSIZE_UNKNOWN);
    batch_frame(&frame, 100, 100, z, o.pos);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    assert_true(raw.cap <= 4096);

    /* A declared size above the cap is refused before decompressing. */
    batch_frame(&frame, 1, TRL_PROTO_MAX_RAW + 1, z, o.pos);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    free(src);
    free(z);
    trl_buf_free(&frame);
    trl_buf_free(&raw);
}

static void test_proto_rejects_batch_with_wrong_line_count(void **state)
{
    (void)state;
    size_t n = sizeof(three_events) - 1;
    char z[512];
    size_t zlen = ZSTD_compress(z, sizeof(z), three_events, n, 1);
    assert_false(ZSTD_isError(zlen));
    struct trl_buf frame = {0}, raw = {0};
    batch_frame(&frame, 2, (uint32_t)n, z, zlen);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    batch_frame(&frame, 3, (uint32_t)n, z, zlen);
    assert_int_equal(decompress_frame(&frame, &raw), 0);
    /* An empty line is not an event. */
    static const char with_empty[] = "{\"message\":\"a\"}\n\n{\"message\":\"c\"}\n";
    char z2[512];
    size_t z2len = ZSTD_compress(z2, sizeof(z2), with_empty, sizeof(with_empty) - 1, 1);
    batch_frame(&frame, 3, (uint32_t)sizeof(with_empty) - 1, z2, z2len);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    /* Garbage instead of zstd, and a cut zstd frame. */
    batch_frame(&frame, 3, (uint32_t)n, "not zstd at all", 15);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    batch_frame(&frame, 3, (uint32_t)n, z, zlen - 3);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    /* Two frames back to back. */
    char two[1024];
    memcpy(two, z, zlen);
    memcpy(two + zlen, z, zlen);
    batch_frame(&frame, 3, (uint32_t)n, two, 2 * zlen);
    assert_int_equal(decompress_frame(&frame, &raw), TRL_EINVAL);
    trl_buf_free(&frame);
    trl_buf_free(&raw);
}

static void test_proto_put_batch_rejects_bad_bounds(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    assert_int_equal(trl_proto_put_batch(&b, 1, 0, "x\n", 2, 1), TRL_EINVAL);
    assert_int_equal(trl_proto_put_batch(&b, 1, TRL_PROTO_MAX_EVENTS + 1, "x\n", 2, 1), TRL_EINVAL);
    assert_int_equal(trl_proto_put_json(&b, TRL_PROTO_ACK, "{}", 2), TRL_EINVAL);
    assert_int_equal(b.len, 0);
    trl_buf_free(&b);
}

static void test_proto_action_round_trip(void **state)
{
    (void)state;
    static const char req[] =
        "{\"action\":\"block-ip\",\"ip\":\"203.0.113.45\",\"timeout\":600,\"rule_id\":\"r1\"}";
    struct trl_buf b = {0};
    assert_int_equal(trl_proto_put_action(&b, 42, req, strlen(req)), 0);
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_proto_frame f;
    assert_int_equal(one_frame(&r, &b, &f), 1);
    assert_int_equal(f.type, TRL_PROTO_ACTION);
    assert_string_equal(trl_proto_type_name(f.type), "ACTION");
    struct trl_proto_action a;
    assert_int_equal(trl_proto_parse_action(&f, &a), 0);
    assert_true(a.id == 42);
    assert_int_equal(a.len, strlen(req));
    assert_memory_equal(a.json, req, a.len);
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

static void test_proto_action_rejects_empty_and_oversize_request(void **state)
{
    (void)state;
    struct trl_buf b = {0};
    char *big = calloc(TRL_PROTO_MAX_ACTION + 1, 1);
    memset(big, 'x', TRL_PROTO_MAX_ACTION + 1);
    assert_int_equal(trl_proto_put_action(&b, 1, "", 0), TRL_EINVAL);
    assert_int_equal(trl_proto_put_action(&b, 1, big, TRL_PROTO_MAX_ACTION + 1), TRL_EINVAL);
    assert_int_equal(b.len, 0);
    /* Hand-made frames: only the id (no request), and a request above the cap. */
    static const uint8_t only_id[] = {0, 0, 0, 9, 8, 0, 0, 0, 0, 0, 0, 0, 7};
    struct trl_proto_frame f = {.type = TRL_PROTO_ACTION, .payload = only_id + 5, .len = 8};
    struct trl_proto_action a;
    assert_int_equal(trl_proto_parse_action(&f, &a), TRL_EINVAL);
    uint8_t *over = calloc(8 + TRL_PROTO_MAX_ACTION + 1, 1);
    f.payload = over;
    f.len = 8 + TRL_PROTO_MAX_ACTION + 1;
    assert_int_equal(trl_proto_parse_action(&f, &a), TRL_EINVAL);
    f.len = 8 + TRL_PROTO_MAX_ACTION;
    assert_int_equal(trl_proto_parse_action(&f, &a), 0);
    f.type = TRL_PROTO_ACK;
    assert_int_equal(trl_proto_parse_action(&f, &a), TRL_EINVAL);
    free(over);
    free(big);
    trl_buf_free(&b);
}

static void test_proto_action_result_round_trip(void **state)
{
    (void)state;
    struct trl_proto_action_result in = {.id = 0x0102030405060708ull,
                                         .outcome = TRL_PROTO_OUTCOME_REFUSED};
    snprintf(in.action, sizeof(in.action), "action-refused");
    snprintf(in.reason, sizeof(in.reason), "address is allowlisted");
    struct trl_buf b = {0};
    trl_proto_put_action_result(&b, &in);
    struct trl_proto_reader r;
    trl_proto_reader_init(&r);
    struct trl_proto_frame f;
    assert_int_equal(one_frame(&r, &b, &f), 1);
    assert_int_equal(f.type, TRL_PROTO_ACTION_RESULT);
    struct trl_proto_action_result got;
    assert_int_equal(trl_proto_parse_action_result(&f, &got), 0);
    assert_true(got.id == in.id);
    assert_int_equal(got.outcome, TRL_PROTO_OUTCOME_REFUSED);
    assert_string_equal(got.action, "action-refused");
    assert_string_equal(got.reason, "address is allowlisted");
    trl_proto_reader_free(&r);
    trl_buf_free(&b);
}

static void test_proto_action_result_rejects_bad_payloads(void **state)
{
    (void)state;
    struct trl_proto_action_result got;
    /* Outcome 3 is unknown. */
    static const uint8_t bad_outcome[] = {0, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0};
    struct trl_proto_frame f = {
        .type = TRL_PROTO_ACTION_RESULT, .payload = bad_outcome, .len = sizeof(bad_outcome)};
    assert_int_equal(trl_proto_parse_action_result(&f, &got), TRL_EINVAL);
    /* The action string claims 5 bytes, 2 are there. */
    static const uint8_t short_str[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 5, 'i', 'p'};
    f.payload = short_str;
    f.len = sizeof(short_str);
    assert_int_equal(trl_proto_parse_action_result(&f, &got), TRL_EINVAL);
    /* Cut inside the id. */
    f.len = 5;
    assert_int_equal(trl_proto_parse_action_result(&f, &got), TRL_EINVAL);
    /* A NUL in the reason becomes '?'. */
    static const uint8_t nul_reason[] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 'x', 'a', 0, 'b'};
    f.payload = nul_reason;
    f.len = sizeof(nul_reason);
    assert_int_equal(trl_proto_parse_action_result(&f, &got), 0);
    assert_string_equal(got.action, "x");
    assert_string_equal(got.reason, "a?b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_hello_round_trip),
        cmocka_unit_test(test_proto_batch_round_trip),
        cmocka_unit_test(test_proto_zctx_survives_trim),
        cmocka_unit_test(test_proto_ack_heartbeat_error_round_trip),
        cmocka_unit_test(test_proto_reader_waits_for_truncated_frame),
        cmocka_unit_test(test_proto_rejects_truncated_payloads),
        cmocka_unit_test(test_proto_rejects_oversize_frame),
        cmocka_unit_test(test_proto_rejects_bad_type),
        cmocka_unit_test(test_proto_rejects_decompression_bomb),
        cmocka_unit_test(test_proto_rejects_batch_with_wrong_line_count),
        cmocka_unit_test(test_proto_put_batch_rejects_bad_bounds),
        cmocka_unit_test(test_proto_action_round_trip),
        cmocka_unit_test(test_proto_action_rejects_empty_and_oversize_request),
        cmocka_unit_test(test_proto_action_result_round_trip),
        cmocka_unit_test(test_proto_action_result_rejects_bad_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
