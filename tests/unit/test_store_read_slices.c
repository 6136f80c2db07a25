/* Keyword columns read as one byte string per event (trl_block_decode_slices), as the search's
 * aggregations by columns read them: the same values, and the same damage rejected, as
 * trl_block_decode. */
#include "trl_test.h"

#include "store/block.h"

#include <string.h>

/* A data blob of three events with stored (uncompressed) columns: the timestamps, user.name
 * holding the given bytes (absent when ulen is 0), and a placeholder JSON column. */
static size_t make_blob(uint8_t *out, const uint8_t *user, size_t ulen)
{
    static const uint8_t ts[] = {0x02, 0x02, 0x02};
    struct {
        uint8_t col;
        const uint8_t *p;
        size_t len;
    } cols[] = {
        {TRL_COL_TS, ts, sizeof(ts)},
        {TRL_COL_USER_NAME, user, ulen},
        {TRL_COL_JSON, (const uint8_t *)"x", 1},
    };
    size_t n = 0, ncols = 0;
    uint8_t dir[3][12];
    for (size_t i = 0; i < 3; i++) {
        if (cols[i].len == 0)
            continue;
        memset(dir[ncols], 0, 12);
        dir[ncols][0] = cols[i].col;
        trl_put_u32le(dir[ncols] + 4, (uint32_t)cols[i].len);
        trl_put_u32le(dir[ncols] + 8, (uint32_t)cols[i].len);
        ncols++;
    }
    memcpy(out, "TRLB", 4);
    out[4] = TRL_BLOCK_VERSION_DICT4;
    out[5] = (uint8_t)ncols;
    out[6] = out[7] = 0;
    trl_put_u32le(out + 8, 3);
    n = 12;
    memcpy(out + n, dir, 12 * ncols);
    n += 12 * ncols;
    for (size_t i = 0; i < 3; i++) {
        if (cols[i].len == 0)
            continue;
        memcpy(out + n, cols[i].p, cols[i].len);
        n += cols[i].len;
    }
    return n;
}

static void test_slices_hold_each_events_values_as_decode_gives_them(void **state)
{
    (void)state;
    /* root | (none) | a, bc */
    static const uint8_t user[] = {1, 4, 'r', 'o', 'o', 't', 0, 2, 1, 'a', 2, 'b', 'c'};
    uint8_t blob[128];
    size_t len = make_blob(blob, user, sizeof(user));
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, blob, len), 0);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    uint32_t start[4], nvals[3];
    const uint8_t *bytes;
    assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_USER_NAME, start, nvals, &bytes), 0);
    assert_non_null(bytes);
    assert_int_equal(start[0], 0);
    assert_int_equal(start[1], 6);
    assert_int_equal(start[2], 7);
    assert_int_equal(start[3], 13);
    assert_int_equal(nvals[0], 1);
    assert_int_equal(nvals[1], 0);
    assert_int_equal(nvals[2], 2);
    assert_memory_equal(bytes + start[2],
                        "\x02\x01"
                        "a\x02"
                        "bc",
                        6);
    /* Decoding the column afterwards (or before) leaves both views valid. */
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
    const struct trl_strcol *sc = &d.str[TRL_COL_USER_NAME];
    assert_int_equal(sc->first[3] - sc->first[2], 2);
    assert_int_equal(sc->vals[sc->first[2] + 1].len, 2);
    assert_memory_equal(sc->vals[sc->first[2] + 1].ptr, "bc", 2);
    assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_USER_NAME, start, nvals, &bytes), 0);
    assert_memory_equal(bytes + start[0], "\x01\x04root", 6);
    /* Neither the timestamps nor the JSON are keyword columns. */
    assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_TS, start, nvals, &bytes), TRL_EINVAL);
    assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_JSON, start, nvals, &bytes),
                     TRL_EINVAL);
    trl_block_decoder_free(&d);
}

static void test_slices_of_an_absent_column_are_empty(void **state)
{
    (void)state;
    uint8_t blob[128];
    size_t len = make_blob(blob, NULL, 0);
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, blob, len), 0);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    uint32_t start[4] = {9, 9, 9, 9}, nvals[3] = {9, 9, 9};
    const uint8_t *bytes = (const uint8_t *)"";
    assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_USER_NAME, start, nvals, &bytes), 0);
    assert_null(bytes);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(start[i], 0);
        assert_int_equal(nvals[i], 0);
    }
    assert_int_equal(start[3], 0);
    trl_block_decoder_free(&d);
}

static void test_slices_reject_the_damage_decode_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } bad[] = {
        {"a value runs past the end", {1, 9, 'r', 'o', 'o', 't', 0, 0}, 8},
        {"more values than bytes", {1, 1, 'a', 0, 9, 1}, 6},
        {"bytes after the last event", {1, 1, 'a', 0, 0, 7}, 6},
        {"an event missing", {1, 1, 'a', 0}, 4},
        {"a truncated count", {1, 1, 'a', 0, 0x80}, 5},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        uint8_t blob[128];
        size_t len = make_blob(blob, bad[k].bytes, bad[k].len);
        struct trl_block_view v;
        assert_int_equal(trl_block_view_init(&v, blob, len), 0);
        struct trl_block_decoder d;
        trl_block_decoder_init(&d);
        trl_block_decoder_reset(&d, &v);
        uint32_t start[4], nvals[3];
        const uint8_t *bytes;
        if (trl_block_decode_slices(&d, &v, TRL_COL_USER_NAME, start, nvals, &bytes) != TRL_EINVAL)
            fail_msg("slices accepted: %s", bad[k].what);
        if (trl_block_decode(&d, &v, TRL_COL_USER_NAME) != TRL_EINVAL)
            fail_msg("decode accepted: %s", bad[k].what);
        trl_block_decoder_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slices_hold_each_events_values_as_decode_gives_them),
        cmocka_unit_test(test_slices_of_an_absent_column_are_empty),
        cmocka_unit_test(test_slices_reject_the_damage_decode_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
