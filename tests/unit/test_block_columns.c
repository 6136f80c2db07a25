/* Event store blocks of format 4: keyword columns stored as their distinct entries and one
 * reference per event give back every event's values exactly as format 3 did, and a damaged or
 * hostile column is refused without a crash. */
#include "trl_test.h"

#include "store/block.h"

/* Builds a block of n events cycling through a few users and hosts (every 7th event has no
 * user, every 5th two categories), decodes each keyword column and checks it value by value. */
static void check_round_trip(size_t n)
{
    static const char *const users[] = {"root", "alice", "Bob", "deploy"};
    static const char *const hosts[] = {"web01", "db01", "web02"};
    struct trl_block_input *in = calloc(n, sizeof(*in));
    char(*json)[256] = calloc(n, sizeof(*json));
    assert_non_null(in);
    assert_non_null(json);
    for (size_t i = 0; i < n; i++) {
        char user[64] = "";
        if (i % 7)
            snprintf(user, sizeof(user), ",\"user\":{\"name\":\"%s\"}", users[i % 4]);
        snprintf(json[i], sizeof(json[i]),
                 "{\"event\":{\"category\":[\"authentication\"%s]},\"host\":{\"name\":\"%s\"},"
                 "\"source\":{\"ip\":\"10.0.%zu.%zu\"}%s}",
                 i % 5 ? "" : ",\"session\"", hosts[i % 3], i / 256, i % 256, user);
        in[i] =
            (struct trl_block_input){1720564803000000000LL + (int64_t)i, json[i], strlen(json[i])};
    }
    struct trl_block_builder *b = trl_block_builder_create(3, 12);
    struct trl_block_out out;
    assert_int_equal(trl_block_build(b, in, n, &out), 0);
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, out.data, out.data_len), 0);
    assert_int_equal(v.version, TRL_BLOCK_VERSION);
    assert_true(v.cols[TRL_COL_USER_NAME].dict);
    assert_false(v.cols[TRL_COL_JSON].dict);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_HOST_NAME), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_SOURCE_IP), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_EVENT_CATEGORY), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_DESTINATION_IP), 0);
    const struct trl_strcol *u = &d.str[TRL_COL_USER_NAME], *h = &d.str[TRL_COL_HOST_NAME];
    const struct trl_strcol *ip = &d.str[TRL_COL_SOURCE_IP], *cat = &d.str[TRL_COL_EVENT_CATEGORY];
    const struct trl_strcol *dst = &d.str[TRL_COL_DESTINATION_IP];
    for (size_t i = 0; i < n; i++) {
        if (i % 7) {
            assert_int_equal(u->first[i + 1] - u->first[i], 1);
            assert_int_equal(u->vals[u->first[i]].len, strlen(users[i % 4]));
            assert_memory_equal(u->vals[u->first[i]].ptr, users[i % 4], strlen(users[i % 4]));
        } else {
            assert_int_equal(u->first[i + 1] - u->first[i], 0);
        }
        assert_int_equal(h->first[i + 1] - h->first[i], 1);
        assert_int_equal(h->vals[h->first[i]].len, strlen(hosts[i % 3]));
        assert_memory_equal(h->vals[h->first[i]].ptr, hosts[i % 3], strlen(hosts[i % 3]));
        char want[32];
        int wl = snprintf(want, sizeof(want), "10.0.%zu.%zu", i / 256, i % 256);
        assert_int_equal(ip->vals[ip->first[i]].len, (size_t)wl);
        assert_memory_equal(ip->vals[ip->first[i]].ptr, want, (size_t)wl);
        assert_int_equal(cat->first[i + 1] - cat->first[i], i % 5 ? 1 : 2);
        assert_int_equal(dst->first[i + 1] - dst->first[i], 0);
    }
    /* The per-event slices agree with the decoded values. */
    uint32_t *start = calloc(n + 1, sizeof(*start)), *nvals = calloc(n, sizeof(*nvals));
    const uint8_t *bytes;
    assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_USER_NAME, start, nvals, &bytes), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(nvals[i], u->first[i + 1] - u->first[i]);
        if (nvals[i])
            assert_ptr_equal(bytes + start[i] + 2, (const uint8_t *)u->vals[u->first[i]].ptr);
    }
    free(start);
    free(nvals);
    trl_block_decoder_free(&d);
    trl_block_builder_destroy(b);
    free(json);
    free(in);
}

static void test_dictionary_columns_give_back_every_events_values(void **state)
{
    (void)state;
    check_round_trip(1);
    check_round_trip(3);
    check_round_trip(300);
    check_round_trip(3000);
}

/* A version 4 data blob of count events with stored columns: zero timestamps, user.name holding
 * col[0..len) flagged as dictionary-coded, and a placeholder JSON column. */
static size_t dict_blob(uint8_t *out, uint32_t count, const uint8_t *col, size_t len)
{
    memcpy(out, "TRLB", 4);
    out[4] = TRL_BLOCK_VERSION_DICT4;
    out[5] = 3;
    out[6] = out[7] = 0;
    trl_put_u32le(out + 8, count);
    const uint8_t ids[3] = {TRL_COL_TS, TRL_COL_USER_NAME, TRL_COL_JSON};
    const size_t lens[3] = {count, len, 1};
    size_t o = 12;
    for (int c = 0; c < 3; c++) {
        memset(out + o, 0, 12);
        out[o] = ids[c];
        out[o + 2] = ids[c] == TRL_COL_USER_NAME ? 1 : 0;
        trl_put_u32le(out + o + 4, (uint32_t)lens[c]);
        trl_put_u32le(out + o + 8, (uint32_t)lens[c]);
        o += 12;
    }
    memset(out + o, 0, count);
    o += count;
    memcpy(out + o, col, len);
    o += len;
    out[o++] = 'x';
    return o;
}

/* 0 when the column decodes (both ways agreeing on the outcome), else its error. */
static int decode_user(const uint8_t *col, size_t len, uint32_t count)
{
    uint8_t *blob = malloc(64 + count + len);
    assert_non_null(blob);
    size_t n = dict_blob(blob, count, col, len);
    struct trl_block_view v;
    int rc = trl_block_view_init(&v, blob, n);
    if (rc == 0) {
        struct trl_block_decoder d;
        trl_block_decoder_init(&d);
        trl_block_decoder_reset(&d, &v);
        rc = trl_block_decode(&d, &v, TRL_COL_USER_NAME);
        uint32_t *start = malloc((count + 1) * sizeof(*start));
        uint32_t *nv = malloc(count * sizeof(*nv));
        const uint8_t *bytes;
        assert_int_equal(trl_block_decode_slices(&d, &v, TRL_COL_USER_NAME, start, nv, &bytes), rc);
        free(start);
        free(nv);
        trl_block_decoder_free(&d);
    }
    free(blob);
    return rc;
}

static void test_dictionary_columns_refuse_damage(void **state)
{
    (void)state;
    /* Entries "root" and none; references: new, new, 1 (root), 2 (none). */
    static const uint8_t good[] = {7, 1, 4, 'r', 'o', 'o', 't', 0, 0, 0, 1, 2};
    assert_int_equal(decode_user(good, sizeof(good), 4), 0);
    uint8_t bad[sizeof(good)];
    /* A reference to an entry not yet introduced. */
    memcpy(bad, good, sizeof(good));
    bad[10] = 3;
    assert_int_equal(decode_user(bad, sizeof(bad), 4), TRL_EINVAL);
    /* An entry left unused, and one more reference than events. */
    memcpy(bad, good, sizeof(good));
    bad[9] = 1;
    bad[11] = 1;
    assert_int_equal(decode_user(bad, sizeof(bad), 4), TRL_EINVAL);
    assert_int_equal(decode_user(good, sizeof(good), 3), TRL_EINVAL);
    /* Entries longer than the column, or an entry running past the entries. */
    memcpy(bad, good, sizeof(good));
    bad[0] = 40;
    assert_int_equal(decode_user(bad, sizeof(bad), 4), TRL_EINVAL);
    memcpy(bad, good, sizeof(good));
    bad[2] = 5;
    assert_int_equal(decode_user(bad, sizeof(bad), 4), TRL_EINVAL);
    /* Truncated anywhere. */
    for (size_t n = 1; n < sizeof(good); n++)
        assert_int_equal(decode_user(good, n, 4), TRL_EINVAL);
    /* One entry of 64 KiB referenced by 65,536 events would expand past the column limit. */
    uint32_t count = TRL_BLOCK_MAX_EVENTS;
    size_t elen = 65536, len = 0;
    uint8_t *huge = malloc(elen + 16 + (size_t)count);
    assert_non_null(huge);
    len += trl_varint_put(huge, elen + 4);
    len += trl_varint_put(huge + len, 1);
    len += trl_varint_put(huge + len, elen);
    memset(huge + len, 'a', elen);
    len += elen;
    huge[len++] = 0;
    memset(huge + len, 1, count - 1);
    len += count - 1;
    assert_int_equal(decode_user(huge, len, count), TRL_EINVAL);
    free(huge);
    /* A dictionary flag on the JSON or timestamp column, or an unknown flag, is refused. */
    uint8_t blob[128];
    size_t n = dict_blob(blob, 4, good, sizeof(good));
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, blob, n), 0);
    blob[12 + 2] = 1;
    assert_int_equal(trl_block_view_init(&v, blob, n), TRL_EINVAL);
    blob[12 + 2] = 0;
    blob[24 + 2] = 3;
    assert_int_equal(trl_block_view_init(&v, blob, n), TRL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dictionary_columns_give_back_every_events_values),
        cmocka_unit_test(test_dictionary_columns_refuse_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
