/* Event store blocks: column round trip, summaries, token index, and the decoder's defences. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/terms.h"

#define T0 1720564803000000000LL /* 2024-07-09T22:40:03Z */

static const char *const sample_json[] = {
    "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"category\":[\"authentication\"],\"outcome\":\"failure\",\"original\":\"Failed password for "
    "root from 203.0.113.45 port 51120 ssh2\"},\"host\":{\"name\":\"web01\"},\"process\":{\"name\":"
    "\"sshd\",\"pid\":25003},\"source\":{\"ip\":\"203.0.113.45\"},\"user\":{\"name\":\"root\"}}",
    "{\"@timestamp\":\"2024-07-09T22:40:05Z\",\"event\":{\"action\":\"sudo-command\","
    "\"category\":[\"process\",\"iam\"],\"outcome\":\"success\",\"original\":\"deploy : TTY=pts/0 "
    "; COMMAND=/usr/bin/apt-get update\"},\"host\":{\"name\":\"WEB02\"},\"user\":{\"name\":"
    "\"deploy\"}}",
    "{\"@timestamp\":\"2024-07-09T22:40:01Z\",\"event\":{\"original\":\"kernel: [UFW BLOCK] "
    "SRC=10.0.0.5 DST=10.0.0.9\"},\"destination\":{\"ip\":\"10.0.0.9\"},\"source\":{\"ip\":"
    "\"10.0.0.5\"}}",
};

static struct trl_block_builder *builder;
static struct trl_block_out out;

static int setup(void **state)
{
    (void)state;
    builder = trl_block_builder_create(3, 10);
    struct trl_block_input in[3];
    for (int i = 0; i < 3; i++)
        in[i] = (struct trl_block_input){T0 + (i == 2 ? -2 : i * 2) * TRL_NS_PER_SEC,
                                         sample_json[i], strlen(sample_json[i])};
    return trl_block_build(builder, in, 3, &out);
}

static int teardown(void **state)
{
    (void)state;
    trl_block_builder_destroy(builder);
    return 0;
}

static void test_block_round_trips_timestamps_json_and_columns(void **state)
{
    (void)state;
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, out.data, out.data_len), 0);
    assert_int_equal(v.count, 3);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_TS), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_JSON), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_EVENT_CATEGORY), 0);
    assert_true(d.ts[0] == T0 && d.ts[1] == T0 + 2 * TRL_NS_PER_SEC &&
                d.ts[2] == T0 - 2 * TRL_NS_PER_SEC);
    for (int i = 0; i < 3; i++) {
        const struct trl_str *j = &d.str[TRL_COL_JSON].vals[d.str[TRL_COL_JSON].first[i]];
        assert_int_equal(j->len, strlen(sample_json[i]));
        assert_memory_equal(j->ptr, sample_json[i], j->len);
    }
    /* user.name: root, deploy, (none) */
    const struct trl_strcol *u = &d.str[TRL_COL_USER_NAME];
    assert_int_equal(u->first[1] - u->first[0], 1);
    assert_memory_equal(u->vals[u->first[0]].ptr, "root", 4);
    assert_memory_equal(u->vals[u->first[1]].ptr, "deploy", 6);
    assert_int_equal(u->first[3] - u->first[2], 0);
    /* event.category is an array: the second event has two values. */
    const struct trl_strcol *c = &d.str[TRL_COL_EVENT_CATEGORY];
    assert_int_equal(c->first[2] - c->first[1], 2);
    assert_memory_equal(c->vals[c->first[1] + 1].ptr, "iam", 3);
    trl_block_decoder_free(&d);
}

static bool collect_value(void *ud, const char *v, size_t len)
{
    char *acc = ud;
    strncat(acc, v, len);
    strcat(acc, "|");
    return false;
}

static void test_block_meta_has_time_range_and_small_value_sets(void **state)
{
    (void)state;
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(out.meta, out.meta_len, &m), 0);
    assert_int_equal(m.count, 3);
    assert_true(m.min_ts == T0 - 2 * TRL_NS_PER_SEC);
    assert_true(m.max_ts == T0 + 2 * TRL_NS_PER_SEC);
    const struct trl_block_summary *h = &m.sum[TRL_COL_HOST_NAME];
    assert_true(h->present && h->set_complete);
    assert_int_equal(h->nonempty, 2);
    char acc[128] = "";
    trl_block_summary_any(h, collect_value, acc);
    assert_string_equal(acc, "web01|web02|"); /* lower-cased */
    assert_true(h->has_minmax);
    assert_int_equal(h->min.len, 5);
    assert_memory_equal(h->max.ptr, "web02", 5);
}

static void test_token_index_hits_words_and_field_values_case_insensitively(void **state)
{
    (void)state;
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(out.meta, out.meta_len, &m), 0);
    const char *present[] = {"failed", "PASSWORD", "203", "113", "apt", "ufw", "sshd"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(present); i++)
        assert_true(trl_bloom_maybe(&m.bloom, trl_term_text_hash(present[i], strlen(present[i]))));
    assert_true(trl_bloom_maybe(&m.bloom, trl_term_field_hash("user.name", 9, "ROOT", 4)));
    assert_true(trl_bloom_maybe(&m.bloom, trl_term_field_hash("source.ip", 9, "10.0.0.5", 8)));
    assert_true(trl_bloom_maybe(&m.bloom, trl_term_field_hash("process.pid", 11, "25003", 5)));
}

static void test_token_index_misses_absent_words_and_values(void **state)
{
    (void)state;
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(out.meta, out.meta_len, &m), 0);
    const char *absent[] = {"mallory", "accepted", "mimikatz", "198", "invalid"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(absent); i++)
        assert_false(trl_bloom_maybe(&m.bloom, trl_term_text_hash(absent[i], strlen(absent[i]))));
    /* A word that is there, but not as that field's whole value. */
    assert_false(trl_bloom_maybe(&m.bloom, trl_term_field_hash("user.name", 9, "web01", 5)));
    assert_false(trl_bloom_maybe(&m.bloom, trl_term_field_hash("source.ip", 9, "10.0.0", 6)));
    /* Neither timestamps nor event.created are indexed. */
    assert_false(trl_bloom_maybe(&m.bloom, trl_term_text_hash("22", 2)));
}

static void test_block_decoder_rejects_damaged_blobs(void **state)
{
    (void)state;
    struct trl_block_view v;
    uint8_t *copy = malloc(out.data_len);
    /* Truncated at every length. */
    for (size_t n = 0; n < out.data_len; n += 7)
        assert_int_equal(trl_block_view_init(&v, out.data, n), TRL_EINVAL);
    /* Each byte of the compressed JSON column flipped: decoding fails or yields other bytes,
     * never a crash (the zstd content checksum catches nearly all). */
    assert_int_equal(trl_block_view_init(&v, out.data, out.data_len), 0);
    size_t off = v.cols[TRL_COL_JSON].off, len = v.cols[TRL_COL_JSON].stored_len;
    int failures = 0;
    for (size_t i = off; i < off + len; i++) {
        memcpy(copy, out.data, out.data_len);
        copy[i] ^= 0x40;
        struct trl_block_view cv;
        if (trl_block_view_init(&cv, copy, out.data_len) != 0) {
            failures++;
            continue;
        }
        struct trl_block_decoder d;
        trl_block_decoder_init(&d);
        trl_block_decoder_reset(&d, &cv);
        failures += trl_block_decode(&d, &cv, TRL_COL_JSON) != 0;
        trl_block_decoder_free(&d);
    }
    /* A few header bits (window size hints) change nothing; the chain hash covers those. */
    assert_true(failures >= (int)len - 8);
    /* Bad magic, version, count. */
    memcpy(copy, out.data, out.data_len);
    copy[0] = 'X';
    assert_int_equal(trl_block_view_init(&v, copy, out.data_len), TRL_EINVAL);
    memcpy(copy, out.data, out.data_len);
    copy[8] = 0, copy[9] = 0, copy[10] = 0, copy[11] = 0;
    assert_int_equal(trl_block_view_init(&v, copy, out.data_len), TRL_EINVAL);
    free(copy);
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(out.meta, out.meta_len - 1, &m), TRL_EINVAL);
    assert_int_equal(trl_block_meta_parse("TRLM", 4, &m), TRL_EINVAL);
}

static void test_block_builder_refuses_empty_blocks(void **state)
{
    (void)state;
    struct trl_block_out o;
    assert_int_equal(trl_block_build(builder, NULL, 0, &o), TRL_EINVAL);
}

static void test_events_digest_depends_on_every_byte_and_timestamp(void **state)
{
    (void)state;
    struct trl_block_input in = {T0, sample_json[0], strlen(sample_json[0])};
    struct trl_block_out o;
    uint8_t d1[TRL_SHA256_LEN], d2[TRL_SHA256_LEN];
    assert_int_equal(trl_block_build(builder, &in, 1, &o), 0);
    memcpy(d1, o.events_digest, sizeof(d1));
    in.ts++;
    assert_int_equal(trl_block_build(builder, &in, 1, &o), 0);
    memcpy(d2, o.events_digest, sizeof(d2));
    assert_memory_not_equal(d1, d2, sizeof(d1));
}

static void test_leaves_flatten_nested_objects_and_arrays(void **state)
{
    (void)state;
    struct trl_leaves l;
    trl_leaves_init(&l);
    const char *j = "{\"a\":{\"b\":\"x\\ty\",\"c\":[1,\"\\u00e9\\ud83d\\ude00\"]},\"d\":true,"
                    "\"e\":[{\"f\":\"g\"}],\"h\":{}}";
    assert_int_equal(trl_json_leaves(j, strlen(j), &l), 0);
    assert_int_equal(l.n, 5);
    assert_string_equal(trl_leaf_path(&l, &l.items[0]), "a.b");
    assert_string_equal(trl_leaf_val(&l, &l.items[0]), "x\ty");
    assert_string_equal(trl_leaf_path(&l, &l.items[1]), "a.c");
    assert_string_equal(trl_leaf_val(&l, &l.items[1]), "1");
    assert_false(l.items[1].is_string);
    assert_string_equal(trl_leaf_val(&l, &l.items[2]), "\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(trl_leaf_path(&l, &l.items[3]), "d");
    assert_string_equal(trl_leaf_path(&l, &l.items[4]), "e.f");
    trl_leaves_free(&l);
}

static void test_leaves_keep_what_precedes_malformed_json(void **state)
{
    (void)state;
    struct trl_leaves l;
    trl_leaves_init(&l);
    const char *bad[] = {"{\"a\":\"1\",\"b\":",     "{\"a\":\"1\",\"b\":\"\\q\"}",
                         "{\"a\":\"1\"}x",          "{\"a\":\"1\",\"b\":[1,2}",
                         "{\"a\":\"1\",\"b\":nul}", "\"lone\\ud800\""};
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        trl_leaves_reset(&l);
        int rc = trl_json_leaves(bad[i], strlen(bad[i]), &l);
        if (i == TRL_ARRAY_LEN(bad) - 1) {
            assert_int_equal(rc, 0); /* a lone surrogate becomes U+FFFD */
            assert_string_equal(trl_leaf_val(&l, &l.items[0]), "lone\xef\xbf\xbd");
            continue;
        }
        assert_int_equal(rc, TRL_EINVAL);
        assert_true(l.n >= 1);
        assert_string_equal(trl_leaf_val(&l, &l.items[0]), "1");
    }
    /* Deep nesting stops at the limit instead of exhausting the stack. */
    char deep[400];
    memset(deep, '[', sizeof(deep));
    trl_leaves_reset(&l);
    assert_int_equal(trl_json_leaves(deep, sizeof(deep), &l), TRL_EINVAL);
    trl_leaves_free(&l);
}

static void collect_tok(void *ud, const char *t, size_t n)
{
    char *acc = ud;
    strncat(acc, t, n);
    strcat(acc, "|");
}

static void test_tokens_are_runs_of_word_characters(void **state)
{
    (void)state;
    char acc[256] = "";
    const char *s = "Failed password for root from 10.0.0.5 port 22: user=r_oot caf\xc3\xa9!";
    trl_term_tokens(s, strlen(s), collect_tok, acc);
    assert_string_equal(acc, "Failed|password|for|root|from|10|0|0|5|port|22|user|r_oot|"
                             "caf\xc3\xa9|");
    assert_true(trl_term_text_hash("ROOT", 4) == trl_term_text_hash("root", 4));
    assert_true(trl_term_text_hash("LongerThanEightBytes", 20) ==
                trl_term_text_hash("longerthaneightbytes", 20));
    assert_true(trl_term_text_hash("root", 4) != trl_term_field_hash("", 0, "root", 4));
    assert_true(trl_term_field_hash("user.name", 9, "root", 4) !=
                trl_term_field_hash("user.name", 9, "root2", 5));
}

static void test_keyword_columns_are_found_by_their_field_names(void **state)
{
    (void)state;
    for (int c = TRL_COL_HOST_NAME; c <= TRL_COL_EVENT_CODE; c++) {
        const char *name = trl_col_field((enum trl_col)c);
        assert_int_equal(trl_col_for_path(name, strlen(name)), c);
    }
    assert_int_equal(trl_col_for_path("USER.NAME", 9), TRL_COL_USER_NAME);
    assert_int_equal(trl_col_for_path("user.names", 10), -1);
    assert_int_equal(trl_col_for_path("host.hostname", 13), -1);
    assert_null(trl_col_field(TRL_COL_JSON));
    assert_true(trl_store_is_text_field("message", 7));
    assert_true(trl_store_is_text_field("Event.Original", 14));
    assert_false(trl_store_is_text_field("user.name", 9));
    assert_false(trl_store_is_indexed_field("@timestamp", 10));
    assert_false(trl_store_is_indexed_field("event.created", 13));
    assert_true(trl_store_is_indexed_field("event.code", 10));
}

static void test_index_terms_join_adjacent_tokens_of_addresses_and_paths(void **state)
{
    (void)state;
    char acc[256] = "";
    const char *s = "from 10.0.0.5:22 /var/log a - b";
    trl_term_index_terms(s, strlen(s), collect_tok, acc);
    assert_string_equal(acc, "from|10|0|10.0|0|0.0|5|0.5|22|5:22|var|log|var/log|a|b|");
}

/* 2,048 events of about 300 bytes, each with its own user, address and message. */
#define PARTS_EVENTS 2048

static void build_parts_events(char (*json)[320], struct trl_block_input *in)
{
    for (int i = 0; i < PARTS_EVENTS; i++) {
        int n = snprintf(json[i], sizeof(json[i]),
                         "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"action\":"
                         "\"ssh-login-failed\",\"original\":\"Failed password for u%05d from "
                         "198.51.%d.%d port %d ssh2 session %08x\"},\"source\":{\"ip\":"
                         "\"198.51.%d.%d\"},\"user\":{\"name\":\"u%05d\"}}",
                         i * 7919 % 100000, i / 256, i % 256, 1024 + i * 13 % 60000,
                         (unsigned)i * 2654435761u, i / 256, i % 256, i * 7919 % 100000);
        in[i] = (struct trl_block_input){T0 + i * TRL_NS_PER_SEC, json[i], (size_t)n};
    }
}

static void
test_parts_after_the_first_use_its_last_64_kib_and_round_trip_at_every_level(void **state)
{
    (void)state;
    static char json[PARTS_EVENTS][320];
    static struct trl_block_input in[PARTS_EVENTS];
    build_parts_events(json, in);
    /* Level 3 as appends write, level 9 as compaction writes: the keyword columns are compressed
     * differently, and read back the same. */
    const int levels[] = {3, 9};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        struct trl_block_builder *b = trl_block_builder_create(levels[l], 10);
        trl_block_builder_set_part_events(b, 1024);
        struct trl_block_out o;
        assert_int_equal(trl_block_build(b, in, PARTS_EVENTS, &o), 0);
        struct trl_block_view v;
        assert_int_equal(trl_block_view_init(&v, o.data, o.data_len), 0);
        assert_int_equal(v.cols[TRL_COL_USER_NAME].codec, 1);
        struct trl_json_parts ps = {0};
        assert_int_equal(trl_block_json_parts(&v, &ps), 0);
        assert_int_equal(ps.n, 2);
        assert_true(ps.p[0].raw_len > 64u << 10);
        assert_int_equal(ps.prefix_len, 64u << 10);
        trl_json_parts_free(&ps);
        struct trl_block_decoder d;
        trl_block_decoder_init(&d);
        trl_block_decoder_reset(&d, &v);
        assert_int_equal(trl_block_decode(&d, &v, TRL_COL_JSON), 0);
        assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
        assert_int_equal(trl_block_decode(&d, &v, TRL_COL_SOURCE_IP), 0);
        const struct trl_strcol *j = &d.str[TRL_COL_JSON];
        const struct trl_strcol *u = &d.str[TRL_COL_USER_NAME];
        const struct trl_strcol *ip = &d.str[TRL_COL_SOURCE_IP];
        for (int i = 0; i < PARTS_EVENTS; i++) {
            assert_int_equal(j->vals[j->first[i]].len, in[i].len);
            assert_memory_equal(j->vals[j->first[i]].ptr, in[i].json, in[i].len);
            char want[32];
            int n = snprintf(want, sizeof(want), "u%05d", i * 7919 % 100000);
            assert_int_equal(u->first[i + 1] - u->first[i], 1);
            assert_int_equal(u->vals[u->first[i]].len, n);
            assert_memory_equal(u->vals[u->first[i]].ptr, want, (size_t)n);
            n = snprintf(want, sizeof(want), "198.51.%d.%d", i / 256, i % 256);
            assert_int_equal(ip->vals[ip->first[i]].len, n);
            assert_memory_equal(ip->vals[ip->first[i]].ptr, want, (size_t)n);
        }
        trl_block_decoder_free(&d);
        trl_block_builder_destroy(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_round_trips_timestamps_json_and_columns),
        cmocka_unit_test(test_block_meta_has_time_range_and_small_value_sets),
        cmocka_unit_test(test_token_index_hits_words_and_field_values_case_insensitively),
        cmocka_unit_test(test_token_index_misses_absent_words_and_values),
        cmocka_unit_test(test_block_decoder_rejects_damaged_blobs),
        cmocka_unit_test(test_block_builder_refuses_empty_blocks),
        cmocka_unit_test(test_events_digest_depends_on_every_byte_and_timestamp),
        cmocka_unit_test(test_leaves_flatten_nested_objects_and_arrays),
        cmocka_unit_test(test_leaves_keep_what_precedes_malformed_json),
        cmocka_unit_test(test_tokens_are_runs_of_word_characters),
        cmocka_unit_test(test_keyword_columns_are_found_by_their_field_names),
        cmocka_unit_test(test_index_terms_join_adjacent_tokens_of_addresses_and_paths),
        cmocka_unit_test(
            test_parts_after_the_first_use_its_last_64_kib_and_round_trip_at_every_level),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
