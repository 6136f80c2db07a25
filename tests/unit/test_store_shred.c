/* Event store: the columnar (shredded) JSON of block format 2 gives back every event byte for
 * byte, keeps odd input verbatim, rejects damage, and blocks of format 1 stay readable. */
#include "trl_test.h"

#include "store/block.h"
#include "store/json_leaves.h"
#include "store/json_shred.h"

static const char *const events[] = {
    /* A syslog event: user, address, port and program are found in event.original. */
    "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"original\":\"<38>web01 sshd[25003]: Failed password for root from 203.0.113.45 port 51120 "
    "ssh2\"},\"message\":\"Failed password for root from 203.0.113.45 port 51120 ssh2\","
    "\"process\":{\"name\":\"sshd\",\"pid\":25003},\"source\":{\"ip\":\"203.0.113.45\","
    "\"port\":51120},\"user\":{\"name\":\"root\"}}",
    /* Escapes, unicode, nested arrays and empty containers, whitespace between tokens. */
    "{ \"a\" : \"q\\\"uote\\\\d \\u00e9\\n\" , \"b\":[[1,2],[],{}], \"c\":{}, \"d\":[true,false,"
    "null,-1.5e3], \"e\":\"\" }",
    /* Values before event.original are not references; a second event.original is a value. */
    "{\"host\":\"web01\",\"event\":{\"original\":[\"web01 first\",\"web01 first\"]},"
    "\"z\":\"web01 first\"}",
    /* Not plain JSON: kept verbatim. */
    "{\"unterminated\":\"abc",
    "{\"a\":1} trailing",
    "42",
    "",
    "{\"key\x01with marker\":\"v\"}",
    "{\"raw\":\"tab\tinside\"}",
    "{\"a\":\"\\\\\"}",
    "[\"top\",\"level\",\"array\"]",
};

#define NEV (sizeof(events) / sizeof(events[0]))

static void shred_all(struct trl_buf *out)
{
    struct trl_shredder *s = trl_shredder_create();
    /* Two blocks through one shredder: the second must not see the first. */
    trl_shredder_add(s, "{\"x\":\"left over\"}", 17, NULL);
    trl_shredder_reset(s);
    for (size_t i = 0; i < NEV; i++)
        trl_shredder_add(s, events[i], strlen(events[i]), NULL);
    trl_shredder_finish(s, out);
    trl_shredder_destroy(s);
}

static void test_shredded_json_gives_back_every_event_byte_for_byte(void **state)
{
    (void)state;
    struct trl_buf sh = {0};
    shred_all(&sh);
    struct trl_unshred_buf u = {0};
    uint32_t off[NEV + 1];
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, NEV, 1 << 20, &u, off), 0);
    for (size_t i = 0; i < NEV; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(events[i]));
        assert_memory_equal(u.json + off[i], events[i], strlen(events[i]));
    }
    /* The wrong event count, or a cap below the JSON's size, is refused. */
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, NEV - 1, 1 << 20, &u, off),
                     TRL_EINVAL);
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, NEV, 10, &u, off),
                     TRL_EINVAL);
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
}

static int count_in(const struct trl_buf *b, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = b->data, *end = b->data + b->len;
         (p = memmem(p, (size_t)(end - p), needle, nl)) != NULL; p += nl)
        n++;
    return n;
}

static void test_values_found_in_the_original_are_not_stored_twice(void **state)
{
    (void)state;
    const char *ev = events[0];
    struct trl_shredder *s = trl_shredder_create();
    for (int i = 0; i < 100; i++)
        trl_shredder_add(s, ev, strlen(ev), NULL);
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    /* The message, the address, the port, the pid and the user are references: the message's
     * text and the address are stored once per event (in event.original), not two or three
     * times. */
    assert_int_equal(count_in(&sh, "Failed password for root"), 100);
    assert_int_equal(count_in(&sh, "203.0.113.45"), 100);
    struct trl_unshred_buf u = {0};
    uint32_t off[101];
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, 100, 1 << 20, &u, off), 0);
    assert_memory_equal(u.json + off[99], ev, strlen(ev));
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
    trl_shredder_destroy(s);
}

static void test_unshred_rejects_damage_without_crashing(void **state)
{
    (void)state;
    struct trl_buf sh = {0};
    shred_all(&sh);
    struct trl_unshred_buf u = {0};
    uint32_t off[NEV + 1];
    uint8_t *copy = malloc(sh.len);
    int refused = 0;
    for (size_t i = 0; i < sh.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, sh.data, sh.len);
            copy[i] ^= (uint8_t)(1u << bit);
            refused += trl_json_unshred(copy, sh.len, NEV, 1 << 20, &u, off) != 0;
        }
    }
    /* Flips inside value bytes rebuild other bytes (the zstd checksum and the chain catch
     * those); flips in the structure are refused. */
    assert_true(refused > 0);
    for (size_t n = 0; n < sh.len; n++)
        assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, n, NEV, 1 << 20, &u, off),
                         TRL_EINVAL);
    free(copy);
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
}

static void test_shredder_leaves_equal_those_of_json_leaves(void **state)
{
    (void)state;
    struct trl_shredder *s = trl_shredder_create();
    struct trl_leaves a, b;
    trl_leaves_init(&a);
    trl_leaves_init(&b);
    int given = 0;
    for (size_t i = 0; i < NEV; i++) {
        trl_leaves_reset(&a);
        trl_leaves_reset(&b);
        if (!trl_shredder_add(s, events[i], strlen(events[i]), &a))
            continue;
        given++;
        (void)trl_json_leaves(events[i], strlen(events[i]), &b);
        assert_int_equal(a.n, b.n);
        for (size_t k = 0; k < a.n; k++) {
            const struct trl_leaf *x = &a.items[k], *y = &b.items[k];
            assert_int_equal(x->path_len, y->path_len);
            assert_memory_equal(trl_leaf_path(&a, x), trl_leaf_path(&b, y), x->path_len);
            assert_int_equal(x->val_len, y->val_len);
            assert_memory_equal(trl_leaf_val(&a, x), trl_leaf_val(&b, y), x->val_len);
            assert_int_equal(x->is_string, y->is_string);
        }
    }
    /* The syslog event, the escapes, the original array, the tab, the escaped backslash, the
     * top-level array; not the malformed ones or the bare number. */
    assert_int_equal(given, 6);
    /* A bad escape is left to trl_json_leaves(). */
    trl_leaves_reset(&a);
    assert_false(trl_shredder_add(s, "{\"a\":\"\\x\"}", 10, &a));
    /* A scalar trl_json_leaves() refuses is left to it. */
    trl_leaves_reset(&a);
    assert_false(trl_shredder_add(s, "{\"a\":1,\"b\":abc}", 15, &a));
    trl_leaves_free(&a);
    trl_leaves_free(&b);
    trl_shredder_destroy(s);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    return trl_varint_put(p, v);
}

/* A data blob of format 1 (row JSON), columns stored uncompressed, as earlier versions wrote. */
static size_t format1_blob(uint8_t *b, const char *const *json, const int64_t *ts, uint32_t n)
{
    uint8_t tsraw[64], jsraw[1024];
    size_t tl = 0, jl = 0;
    int64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t d = ts[i] - prev;
        prev = ts[i];
        tl += put_varint(tsraw + tl, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
        size_t len = strlen(json[i]);
        jl += put_varint(jsraw + jl, len);
        memcpy(jsraw + jl, json[i], len);
        jl += len;
    }
    size_t o = 0;
    memcpy(b, "TRLB", 4);
    b[4] = 1; /* version */
    b[5] = 2; /* columns */
    b[6] = b[7] = 0;
    trl_put_u32le(b + 8, n);
    o = 12;
    const uint8_t cols[2] = {TRL_COL_TS, TRL_COL_JSON};
    const size_t lens[2] = {tl, jl};
    for (int c = 0; c < 2; c++) {
        memset(b + o, 0, 12);
        b[o] = cols[c];
        trl_put_u32le(b + o + 4, (uint32_t)lens[c]);
        trl_put_u32le(b + o + 8, (uint32_t)lens[c]);
        o += 12;
    }
    memcpy(b + o, tsraw, tl);
    o += tl;
    memcpy(b + o, jsraw, jl);
    return o + jl;
}

static void test_blocks_of_format_1_stay_readable(void **state)
{
    (void)state;
    const char *json[2] = {"{\"user\":{\"name\":\"root\"}}", "{\"message\":\"hello\"}"};
    const int64_t ts[2] = {1000, 999};
    uint8_t blob[2048];
    size_t len = format1_blob(blob, json, ts, 2);
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, blob, len), 0);
    assert_int_equal(v.version, 1);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_TS), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_JSON), 0);
    assert_true(d.ts[0] == 1000 && d.ts[1] == 999);
    for (int i = 0; i < 2; i++) {
        const struct trl_str *j = &d.str[TRL_COL_JSON].vals[d.str[TRL_COL_JSON].first[i]];
        assert_int_equal(j->len, strlen(json[i]));
        assert_memory_equal(j->ptr, json[i], j->len);
    }
    trl_block_decoder_free(&d);
    /* A version this code does not know is refused. */
    blob[4] = 3;
    assert_int_equal(trl_block_view_init(&v, blob, len), TRL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shredded_json_gives_back_every_event_byte_for_byte),
        cmocka_unit_test(test_values_found_in_the_original_are_not_stored_twice),
        cmocka_unit_test(test_unshred_rejects_damage_without_crashing),
        cmocka_unit_test(test_shredder_leaves_equal_those_of_json_leaves),
        cmocka_unit_test(test_blocks_of_format_1_stay_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
