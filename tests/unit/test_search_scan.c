/* Searching a block on its shredded values (shred_scan.h, trl_match_scan_block()): exactly the
 * events match that match when each event's JSON is rebuilt and walked, chosen events are rebuilt
 * byte for byte, and damage is refused without a crash. */
#include "trl_test.h"

#include "store_fixture.h"

#include "formats/json_encode.h"
#include "store/block.h"
#include "store/match.h"
#include "store/query.h"
#include "store/shred_scan.h"

#include <stdlib.h>
#include <zstd.h>

/* Odd JSON next to realistic events: escapes, unicode, arrays, empty containers, whitespace,
 * event.original twice, and events that are not plain JSON (stored verbatim). */
static const char *const odd[] = {
    "{\"@timestamp\":\"2026-11-27T10:00:00.000000000Z\",\"event\":{\"original\":\"<38>web01 "
    "sshd[25003]: Failed password for root from 203.0.113.45 port 51120 ssh2\"},\"message\":"
    "\"Failed password for root from 203.0.113.45 port 51120 ssh2\",\"process\":{\"name\":"
    "\"sshd\",\"pid\":25003},\"source\":{\"ip\":\"203.0.113.45\",\"port\":51120},\"user\":"
    "{\"name\":\"root\"}}",
    "{ \"a\" : \"q\\\"uote\\\\d \\u00e9\\n\" , \"b\":[[1,2],[],{}], \"c\":{}, \"d\":[true,false,"
    "null,-1.5e3], \"e\":\"\" }",
    "{\"host\":\"web01\",\"event\":{\"original\":[\"web01 first\",\"web01 first\"]},"
    "\"z\":\"web01 first\"}",
    "{\"event\":{\"original\":\"GET \\\"/login\\\" from 10.1.2.3\"},\"url\":{\"path\":"
    "\"/login\"},\"source\":{\"ip\":\"10.1.2.3\"}}",
    "{\"unterminated\":\"abc",
    "{\"a\":1} trailing",
    "42",
    "{\"raw\":\"tab\tinside sshd\"}",
    "[\"top\",\"level\",\"sshd\"]",
    "{\"message\":\"pam_unix(sshd:session): session opened for user alice\"}",
    /* Escapes next to a term's text: one that stands for a byte of it (\\u006b is 'k', \\/ is
     * '/'), and one whose letter makes the stored bytes hold a text the value does not. */
    "{\"message\":\"mimi\\u006batz ran\"}",
    "{\"message\":\"copied to a\\/b today\"}",
    "{\"message\":\"\\nobody home\"}",
    "{\"message\":\"nobody else\\there\"}",
    "{\"message\":\"MiMiKaTz in capitals, xsshd and sshdx are other words\"}",
};

#define NODD  (sizeof(odd) / sizeof(odd[0]))
#define NREAL 1200
#define NALL  (NREAL + NODD)

struct blk {
    struct trl_block_builder *b;
    struct trl_block_out out;
    struct trl_block_view v;
    struct trl_block_decoder d;
    uint8_t *col;
    size_t col_len;
};

/* The JSON column of a block, decompressed (every part of it) but not rebuilt. */
static uint8_t *json_column(const struct trl_block_view *v, size_t *len)
{
    struct trl_json_parts ps = {0};
    assert_int_equal(trl_block_json_parts(v, &ps), 0);
    uint8_t *col = malloc(v->cols[TRL_COL_JSON].raw_len + 1);
    assert_non_null(col);
    void *dctx = NULL;
    assert_int_equal(trl_block_json_read(&dctx, v, &ps, NULL, col, len, NULL), 0);
    assert_int_equal(*len, v->cols[TRL_COL_JSON].raw_len);
    ZSTD_freeDCtx(dctx);
    trl_json_parts_free(&ps);
    return col;
}

/* Builds one block of the realistic events followed by the odd ones, and decodes it fully. */
static void build(struct blk *k, struct trl_arena *a, struct trl_buf *json)
{
    struct trl_event *ev[NREAL];
    struct fx_rng r = {0x5eed};
    int64_t t0 = 1795000000LL * TRL_NS_PER_SEC;
    fx_events(a, &r, ev, NREAL, t0, 250 * 1000000LL);
    struct trl_block_input in[NALL];
    size_t offs[NALL];
    trl_buf_reset(json);
    for (size_t i = 0; i < NREAL; i++) {
        offs[i] = json->len;
        trl_json_encode_event(ev[i], json);
        in[i].ts = ev[i]->timestamp_ns;
        in[i].len = json->len - offs[i];
    }
    for (size_t i = 0; i < NODD; i++) {
        offs[NREAL + i] = json->len;
        trl_buf_append(json, odd[i], strlen(odd[i]));
        in[NREAL + i].ts = t0 + (int64_t)(NREAL + i) * TRL_NS_PER_SEC;
        in[NREAL + i].len = strlen(odd[i]);
    }
    for (size_t i = 0; i < NALL; i++)
        in[i].json = json->data + offs[i];
    k->b = trl_block_builder_create(3, 10);
    assert_int_equal(trl_block_build(k->b, in, NALL, &k->out), 0);
    assert_int_equal(trl_block_view_init(&k->v, k->out.data, k->out.data_len), 0);
    trl_block_decoder_init(&k->d);
    trl_block_decoder_reset(&k->d, &k->v);
    assert_int_equal(trl_block_decode(&k->d, &k->v, TRL_COL_TS), 0);
    assert_int_equal(trl_block_decode(&k->d, &k->v, TRL_COL_JSON), 0);
    k->col = json_column(&k->v, &k->col_len);
}

static void blk_free(struct blk *k)
{
    free(k->col);
    trl_block_decoder_free(&k->d);
    trl_block_builder_destroy(k->b);
}

static const struct trl_str *json_of(const struct blk *k, uint32_t i)
{
    const struct trl_strcol *js = &k->d.str[TRL_COL_JSON];
    return &js->vals[js->first[i]];
}

static void test_chosen_events_are_rebuilt_byte_for_byte(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf json = {0};
    struct blk k;
    build(&k, a, &json);
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    assert_int_equal(trl_shred_scan_open(&s, k.col, k.col_len, k.v.count, k.v.version, k.d.ts), 0);
    static uint8_t want[NALL];
    static uint32_t off[NALL], len[NALL];
    struct trl_query *q = NULL;
    assert_int_equal(trl_query_parse("sshd", 4, &q, NULL), 0);
    struct trl_match *m = trl_match_compile(q);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    /* Every event, none, every third, the last one only, the second one only (the rebuild stops
     * there); the last five after a scan of the values, whose shapes the rebuild then skips by. */
    for (int pattern = 0; pattern < 10; pattern++) {
        if (pattern == 5)
            assert_int_equal(trl_match_scan_block(m, &c, &s), 0);
        for (uint32_t i = 0; i < NALL; i++)
            want[i] = pattern % 5 == 0 || (pattern % 5 == 2 && i % 3 == 1) ||
                      (pattern % 5 == 3 && i == NALL - 1) || (pattern % 5 == 4 && i == 1);
        assert_int_equal(trl_shred_rebuild(&s, want, off, len), 0);
        for (uint32_t i = 0; i < NALL; i++) {
            if (!want[i]) {
                assert_int_equal(len[i], 0);
                continue;
            }
            const struct trl_str *e = json_of(&k, i);
            assert_int_equal(len[i], e->len);
            assert_memory_equal(s.json + off[i], e->ptr, e->len);
        }
    }
    trl_match_ctx_free(&c);
    trl_match_free(m);
    trl_query_free(q);
    trl_shred_scan_free(&s);
    blk_free(&k);
    trl_buf_free(&json);
    trl_arena_destroy(a);
}

static const char *const queries[] = {
    "sshd",
    "failed password",
    "\"Failed password for\"",
    "fail*",
    "user.name:root",
    "user.name:(root OR alice)",
    "source.ip:10.0.0.0/8",
    "source.ip:*",
    "process.pid>1000",
    "destination.port:[1 TO 1023]",
    "NOT sshd",
    "sshd NOT user.name:root",
    "web01",
    "host.name:web*",
    "event.created:*",
    "@timestamp:*",
    "@timestamp>=2026-11-27T10:00:00Z",
    /* Times stored as deltas from the timestamp: not in the values as text. */
    "@timestamp:\"2026-11-27T10:00:00.000000000Z\"",
    "message:password",
    "message:\"session opened\"",
    "event.original:first",
    "\"q\\\"uote\"",
    "true",
    "-1.5e3",
    "/login",
    "url.path:/login",
    "top",
    "inside",
    "event.action:ssh-login-failed OR event.action:sudo-command",
    "a:*",
    "mimikatz",
    "a/b",
    "nobody",
    "xsshd",
    "capitals",
    "ssh-login-failed",
    "mimikatz OR nobody",
};

static void test_scanned_values_match_exactly_as_the_rebuilt_json(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf json = {0};
    struct blk k;
    build(&k, a, &json);
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
        struct trl_query *q = NULL;
        assert_int_equal(trl_query_parse(queries[qi], strlen(queries[qi]), &q, NULL), 0);
        struct trl_match *m = trl_match_compile(q);
        assert_int_equal(trl_shred_scan_open(&s, k.col, k.col_len, k.v.count, k.v.version, k.d.ts),
                         0);
        assert_true(trl_match_can_scan(m));
        assert_int_equal(trl_match_scan_block(m, &c, &s), 0);
        size_t matched = 0;
        for (uint32_t i = 0; i < NALL; i++) {
            const struct trl_str *e = json_of(&k, i);
            bool want = trl_match_event(m, &c, &k.d, i, e->ptr, e->len);
            bool got = trl_match_event_scanned(m, &c, i);
            if (want != got)
                fail_msg("query '%s', event %u: scanned %d, rebuilt %d: %.*s", queries[qi], i, got,
                         want, (int)e->len, e->ptr);
            matched += got;
        }
        /* Every query finds something in this block: the comparison is not a vacuous one. */
        if (matched == 0)
            fail_msg("query '%s' matches no event of the block", queries[qi]);
        trl_match_free(m);
        trl_query_free(q);
    }
    trl_match_ctx_free(&c);
    trl_shred_scan_free(&s);
    blk_free(&k);
    trl_buf_free(&json);
    trl_arena_destroy(a);
}

static void test_escaped_keys_are_left_to_the_json_walk(void **state)
{
    (void)state;
    const char *ev = "{\"we\\u0069rd\":\"sshd\",\"message\":\"x\"}";
    struct trl_block_input in = {1795000000LL * TRL_NS_PER_SEC, ev, strlen(ev)};
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    struct trl_block_out out;
    assert_int_equal(trl_block_build(b, &in, 1, &out), 0);
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, out.data, out.data_len), 0);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_TS), 0);
    size_t n;
    uint8_t *col = json_column(&v, &n);
    struct trl_query *q = NULL;
    assert_int_equal(trl_query_parse("sshd", 4, &q, NULL), 0);
    struct trl_match *m = trl_match_compile(q);
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    assert_int_equal(trl_shred_scan_open(&s, col, n, 1, v.version, d.ts), 0);
    /* The key's path needs unescaping: the caller falls back to the rebuilt JSON. */
    assert_int_equal(trl_match_scan_block(m, &c, &s), TRL_ENOMATCH);
    trl_match_ctx_free(&c);
    trl_shred_scan_free(&s);
    trl_match_free(m);
    trl_query_free(q);
    free(col);
    trl_block_decoder_free(&d);
    trl_block_builder_destroy(b);
}

static void test_events_are_rebuilt_from_their_part_alone(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf json = {0};
    struct blk k;
    build(&k, a, &json);
    /* 1,215 events: a part of 1,024, then one of 191 (the odd events among them). */
    struct trl_json_parts ps = {0};
    assert_int_equal(trl_block_json_parts(&k.v, &ps), 0);
    assert_int_equal(ps.n, 2);
    assert_int_equal(ps.p[0].count, TRL_BLOCK_PART_EVENTS);
    assert_int_equal(ps.p[1].first, TRL_BLOCK_PART_EVENTS);
    uint8_t *col = malloc(k.v.cols[TRL_COL_JSON].raw_len);
    size_t n;
    uint32_t first[2];
    void *dctx = NULL;
    /* The second part needs the first (its zstd prefix, and the skeletons it names). */
    const uint8_t alone[2] = {0, 1}, both[2] = {1, 1}, head[2] = {1, 0};
    assert_int_equal(trl_block_json_read(&dctx, &k.v, &ps, alone, col, &n, first), TRL_EINVAL);
    assert_int_equal(trl_block_json_read(&dctx, &k.v, &ps, both, col, &n, first), 0);
    assert_int_equal(n, k.v.cols[TRL_COL_JSON].raw_len);
    assert_int_equal(first[1], TRL_BLOCK_PART_EVENTS);
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    assert_int_equal(trl_shred_scan_open_parts(&s, col, n, k.v.count, k.d.ts, first, 2), 0);
    /* Events of the second part are rebuilt without reading the first part's events. */
    static uint8_t want[NALL];
    static uint32_t off[NALL], len[NALL];
    memset(want, 0, sizeof(want));
    want[NREAL - 1] = want[NALL - 2] = want[NALL - 1] = 1;
    assert_int_equal(trl_shred_rebuild(&s, want, off, len), 0);
    for (uint32_t i = 0; i < NALL; i++) {
        if (!want[i]) {
            assert_int_equal(len[i], 0);
            continue;
        }
        assert_int_equal(len[i], json_of(&k, i)->len);
        assert_memory_equal(s.json + off[i], json_of(&k, i)->ptr, len[i]);
    }
    /* With the first part alone, events of the second cannot be rebuilt. */
    assert_int_equal(trl_block_json_read(&dctx, &k.v, &ps, head, col, &n, first), 0);
    assert_int_equal(trl_shred_scan_open_parts(&s, col, n, k.v.count, k.d.ts, first, 1), 0);
    assert_int_equal(trl_shred_rebuild(&s, want, off, len), TRL_EINVAL);
    memset(want, 0, sizeof(want));
    want[3] = 1;
    assert_int_equal(trl_shred_rebuild(&s, want, off, len), 0);
    assert_memory_equal(s.json + off[3], json_of(&k, 3)->ptr, len[3]);
    /* Parts must name increasing events inside the block. */
    const uint32_t late[1] = {NALL - 1};
    assert_int_equal(trl_shred_scan_open_parts(&s, col, n, k.v.count, k.d.ts, late, 1), TRL_EINVAL);
    trl_shred_scan_free(&s);
    ZSTD_freeDCtx(dctx);
    free(col);
    trl_json_parts_free(&ps);
    blk_free(&k);
    trl_buf_free(&json);
    trl_arena_destroy(a);
}

static void test_damaged_columns_are_refused_without_a_crash(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_buf json = {0};
    struct blk k;
    build(&k, a, &json);
    struct trl_query *q = NULL;
    assert_int_equal(trl_query_parse("sshd OR root", 12, &q, NULL), 0);
    struct trl_match *m = trl_match_compile(q);
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    static uint8_t want[NALL];
    static uint32_t off[NALL], len[NALL];
    memset(want, 1, sizeof(want));
    uint8_t *copy = malloc(k.col_len);
    struct fx_rng r = {42};
    for (int round = 0; round < 300; round++) {
        memcpy(copy, k.col, k.col_len);
        size_t n = k.col_len;
        if (round % 3 == 0)
            n = fx_below(&r, (unsigned)k.col_len);
        else
            for (int j = 0; j < 1 + round % 7; j++)
                copy[fx_below(&r, (unsigned)k.col_len)] = (uint8_t)fx_next(&r);
        if (trl_shred_scan_open(&s, copy, n, k.v.count, k.v.version, k.d.ts) != 0)
            continue;
        int rc = trl_match_scan_block(m, &c, &s);
        assert_true(rc == 0 || rc == TRL_EINVAL || rc == TRL_ENOMATCH);
        rc = trl_shred_rebuild(&s, want, off, len);
        assert_true(rc == 0 || rc == TRL_EINVAL);
    }
    /* Versions the scan does not know are left to the full decoder. */
    assert_int_equal(trl_shred_scan_open(&s, k.col, k.col_len, k.v.count, 1, k.d.ts), TRL_ENOMATCH);
    assert_int_equal(trl_shred_scan_open(&s, k.col, k.col_len, k.v.count, 9, k.d.ts), TRL_ENOMATCH);
    assert_int_equal(trl_shred_scan_open(&s, k.col, k.col_len, k.v.count + 1, k.v.version, k.d.ts),
                     TRL_EINVAL);
    free(copy);
    trl_match_ctx_free(&c);
    trl_shred_scan_free(&s);
    trl_match_free(m);
    trl_query_free(q);
    blk_free(&k);
    trl_buf_free(&json);
    trl_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chosen_events_are_rebuilt_byte_for_byte),
        cmocka_unit_test(test_events_are_rebuilt_from_their_part_alone),
        cmocka_unit_test(test_scanned_values_match_exactly_as_the_rebuilt_json),
        cmocka_unit_test(test_escaped_keys_are_left_to_the_json_walk),
        cmocka_unit_test(test_damaged_columns_are_refused_without_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
