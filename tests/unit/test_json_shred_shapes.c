/* Event store: the shredder reads an event that has the shape of one seen before in the block
 * (the same keys and punctuation, other values) without walking its keys again; whichever way it
 * reads an event, the block gives back every event byte for byte and the values it reports are
 * the leaves trl_json_leaves() finds. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "shred_leaves_check.h"
#include "store/json_leaves.h"
#include "store/json_shred.h"

/* Shreds n events as one block (timestamps ts, or 0), checks what add_event reports (want_ok[i]:
 * whether it gives the values) and that the block gives back every event. */
static void shred_and_check(struct trl_shredder *s, const char *const *json, size_t n,
                            const int64_t *ts, const bool *want_ok)
{
    trl_shredder_reset(s);
    int64_t *t = calloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        const struct trl_shred_val *v;
        size_t nv;
        t[i] = ts ? ts[i] : 0;
        bool ok = trl_shredder_add_event(s, t[i], json[i], strlen(json[i]), &v, &nv);
        if (want_ok && ok != want_ok[i])
            fail_msg("event %zu: add_event gave %d", i, ok);
        if (ok)
            assert_vals_are_leaves(s, json[i], v, nv);
    }
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    struct trl_unshred_buf u = {0};
    uint32_t *off = calloc(n + 1, sizeof(*off));
    assert_int_equal(
        trl_json_unshred_ts((const uint8_t *)sh.data, sh.len, (uint32_t)n, 3, t, 1 << 24, &u, off),
        0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(json[i]));
        assert_memory_equal(u.json + off[i], json[i], strlen(json[i]));
    }
    free(off);
    free(t);
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
}

static void test_events_of_a_known_shape_come_back_with_their_own_values(void **state)
{
    (void)state;
    static const char *const json[] = {
        "{\"event\":{\"original\":\"<38>web01 sshd[25003]: Failed password for root from "
        "203.0.113.45 port 51120 ssh2\"},\"source\":{\"ip\":\"203.0.113.45\",\"port\":51120},"
        "\"user\":{\"name\":\"root\"}}",
        /* The same shape, other values. */
        "{\"event\":{\"original\":\"<38>web02 sshd[1]: Failed password for admin from "
        "198.51.100.7 port 22 ssh2\"},\"source\":{\"ip\":\"198.51.100.7\",\"port\":22},"
        "\"user\":{\"name\":\"admin\"}}",
        /* The same keys, a value of another kind: a string where a number was, null, a number
         * where a string was. */
        "{\"event\":{\"original\":\"x\"},\"source\":{\"ip\":\"203.0.113.45\",\"port\":\"22\"},"
        "\"user\":{\"name\":null}}",
        "{\"event\":{\"original\":\"x\"},\"source\":{\"ip\":17,\"port\":22},"
        "\"user\":{\"name\":\"r\"}}",
        /* The same start, then another key, and a shape that ends early. */
        "{\"event\":{\"original\":\"y\"},\"source\":{\"ip\":\"10.0.0.1\",\"bytes\":22},"
        "\"user\":{\"name\":\"r\"}}",
        "{\"event\":{\"original\":\"z\"},\"source\":{\"ip\":\"10.0.0.1\"}}",
        /* Whitespace where the known shape has none. */
        "{\"event\":{\"original\":\"x\"},\"source\":{\"ip\": \"10.0.0.2\",\"port\":22},"
        "\"user\":{\"name\":\"r\"}}",
        "{\"event\":{\"original\":\"x\"},\"source\":{\"ip\":\"10.0.0.2\",\"port\":22},"
        "\"user\":{\"name\":\"r\"}} ",
        /* Escapes in values, and in a key (the values then left to trl_json_leaves). */
        "{\"event\":{\"original\":\"a\\tb\\\"c\\u00e9\"},\"source\":{\"ip\":\"\\\\\",\"port\":1},"
        "\"user\":{\"name\":\"\\ud83d\\ude00\"}}",
        "{\"event\":{\"original\":\"x\"},\"source\":{\"i\\u0070\":\"10.0.0.2\",\"port\":22},"
        "\"user\":{\"name\":\"r\"}}",
        "{\"event\":{\"original\":\"x\"},\"source\":{\"i\\u0070\":\"10.0.0.3\",\"port\":22},"
        "\"user\":{\"name\":\"r\"}}",
        /* Arrays, nesting, empty containers. */
        "{\"event\":{\"category\":[\"authentication\",\"session\"],\"type\":[]},\"a\":[[1,2],{}]}",
        "{\"event\":{\"category\":[\"network\",\"web\"],\"type\":[]},\"a\":[[3,4],{}]}",
        "{\"event\":{\"category\":[\"network\"],\"type\":[]},\"a\":[[3,4],{}]}",
    };
    const bool ok[] = {true, true, true,  true,  true, true, true,
                       true, true, false, false, true, true, true};
    struct trl_shredder *s = trl_shredder_create();
    shred_and_check(s, json, sizeof(json) / sizeof(json[0]), NULL, ok);
    trl_shredder_destroy(s);
}

static void test_broken_events_of_a_known_shape_are_kept_verbatim(void **state)
{
    (void)state;
    static const char *const json[] = {
        "{\"a\":\"one\",\"b\":{\"c\":1}}",
        "{\"a\":\"two\",\"b\":{\"c\":2}}",
        /* Cut inside a value, inside the punctuation, before the end; a raw marker byte in a
         * key; an unterminated string where the shape has a string. */
        "{\"a\":\"thr",
        "{\"a\":\"three\",\"b\":{\"c\"",
        "{\"a\":\"three\",\"b\":{\"c\":3}",
        "{\"a\":\"three\",\"b\":{\"\x01\":3}}",
        "{\"a\":\"three\\\",\"b\":{\"c\":3}}",
        "{\"a\":\"four\",\"b\":{\"c\":4}}x",
        "{\"a\":\"five\",\"b\":{\"c\":5}}",
    };
    const bool ok[] = {true, true, false, false, false, false, false, false, true};
    struct trl_shredder *s = trl_shredder_create();
    shred_and_check(s, json, sizeof(json) / sizeof(json[0]), NULL, ok);
    trl_shredder_destroy(s);
}

static void test_a_new_block_does_not_reuse_the_shapes_of_the_last(void **state)
{
    (void)state;
    /* In the second block the paths are numbered in another order: the shapes of the first must
     * not give their stream numbers. */
    static const char *const first[] = {"{\"a\":\"1\",\"b\":\"2\"}", "{\"a\":\"3\",\"b\":\"4\"}"};
    static const char *const second[] = {"{\"b\":\"5\"}", "{\"a\":\"6\",\"b\":\"7\"}",
                                         "{\"a\":\"8\",\"b\":\"9\"}"};
    struct trl_shredder *s = trl_shredder_create();
    shred_and_check(s, first, 2, NULL, NULL);
    shred_and_check(s, second, 3, NULL, NULL);
    /* A reused shredder writes what a new one writes. */
    struct trl_buf again = {0}, fresh = {0};
    trl_shredder_finish(s, &again);
    struct trl_shredder *n = trl_shredder_create();
    for (size_t i = 0; i < 3; i++) {
        const struct trl_shred_val *v;
        size_t nv;
        trl_shredder_add_event(n, 0, second[i], strlen(second[i]), &v, &nv);
    }
    trl_shredder_finish(n, &fresh);
    assert_int_equal(again.len, fresh.len);
    assert_memory_equal(again.data, fresh.data, fresh.len);
    trl_buf_free(&again);
    trl_buf_free(&fresh);
    trl_shredder_destroy(n);
    trl_shredder_destroy(s);
}

static void test_times_of_another_minute_come_back_exactly(void **state)
{
    (void)state;
    /* event.created is the time of ingestion, far from @timestamp: after the first, the others
     * of its minute are read from their seconds. Times not in the encoder's exact form stay
     * text. */
    static const char *const json[] = {
        "{\"@timestamp\":\"2024-07-09T22:40:03.000000000Z\",\"created\":"
        "\"2026-11-28T00:43:29.809579779Z\"}",
        "{\"@timestamp\":\"2024-07-09T22:40:04.000000000Z\",\"created\":"
        "\"2026-11-28T00:43:59.999999999Z\"}",
        "{\"@timestamp\":\"2024-07-09T22:40:05.000000000Z\",\"created\":"
        "\"2026-11-28T00:43:60.000000000Z\"}",
        "{\"@timestamp\":\"2024-07-09T22:40:06.000000000Z\",\"created\":"
        "\"2026-11-28T00:43:00.00000000xZ\"}",
        "{\"@timestamp\":\"2024-07-09T22:40:07.000000000Z\",\"created\":"
        "\"2026-11-28T00:44:00.000000000Z\"}",
        "{\"@timestamp\":\"2024-07-09T22:41:00.000000000Z\",\"created\":"
        "\"2024-07-09T22:40:59.000000000Z\"}",
    };
    int64_t ts[6];
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(trl_parse_rfc3339(json[i] + 15, 30, &ts[i]), 30);
    struct trl_shredder *s = trl_shredder_create();
    shred_and_check(s, json, 6, ts, NULL);
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    /* Only the two malformed times are stored as text. */
    size_t text = 0;
    for (size_t i = 0; i + 10 <= sh.len; i++)
        text += !memcmp(sh.data + i, "2026-11-28", 10);
    assert_int_equal(text, 2);
    trl_buf_free(&sh);
    trl_shredder_destroy(s);
}

static void test_many_shapes_and_skeletons_in_one_block(void **state)
{
    (void)state;
    /* Shapes differing only near their end, skeletons of equal length, values of a path that
     * stop being kept inline once they vary. */
    enum { N = 600 };
    static char buf[N][160];
    const char *json[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof(buf[i]),
                 "{\"host\":{\"name\":\"h%d\"},\"user\":{\"name\":\"u%d\"},\"k%d\":%d,"
                 "\"msg\":\"%s\\n%d\"}",
                 i % 7, i % 5, i % 13, i, i % 3 ? "plain" : "tab\\t", i);
        json[i] = buf[i];
    }
    struct trl_shredder *s = trl_shredder_create();
    shred_and_check(s, json, N, NULL, NULL);
    trl_shredder_destroy(s);
}

static void test_add_with_leaves_on_a_known_shape(void **state)
{
    (void)state;
    static const char *const json[] = {
        "{\"a\":{\"b\":\"x\\u00e9\"},\"c\":[1,\"two\",true]}",
        "{\"a\":{\"b\":\"y\"},\"c\":[3,\"four\",null]}",
        "{\"a\":{\"b\":\"z\\q\"},\"c\":[5,\"six\",false]}",
        "{\"a\":{\"b\":\"w\"},\"c\":[5,\"six\",nope]}",
    };
    const bool ok[] = {true, true, false, false};
    struct trl_shredder *s = trl_shredder_create();
    struct trl_leaves mine, want;
    trl_leaves_init(&mine);
    trl_leaves_init(&want);
    for (size_t i = 0; i < 4; i++) {
        trl_leaves_reset(&mine);
        trl_leaves_reset(&want);
        bool got = trl_shredder_add(s, json[i], strlen(json[i]), &mine);
        assert_int_equal(got, ok[i]);
        if (!got)
            continue;
        assert_int_equal(trl_json_leaves(json[i], strlen(json[i]), &want), 0);
        assert_int_equal(mine.n, want.n);
        assert_int_equal(mine.len, want.len);
        assert_memory_equal(mine.buf, want.buf, want.len);
    }
    trl_leaves_free(&mine);
    trl_leaves_free(&want);
    trl_shredder_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_of_a_known_shape_come_back_with_their_own_values),
        cmocka_unit_test(test_broken_events_of_a_known_shape_are_kept_verbatim),
        cmocka_unit_test(test_a_new_block_does_not_reuse_the_shapes_of_the_last),
        cmocka_unit_test(test_times_of_another_minute_come_back_exactly),
        cmocka_unit_test(test_many_shapes_and_skeletons_in_one_block),
        cmocka_unit_test(test_add_with_leaves_on_a_known_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
