/* Counting without reading events: `| stats count` and `| timechart count` of a query matching
 * everything count whole blocks from their rows, and trl_store_count_buckets() gives the counts a
 * histogram needs; all equal the counts of every event fed one by one. */
#include "trl_test.h"

#include "store_testutil.h"

#include "store/pipes.h"

/* 600 events, one every 36 s from D0 (6 hours), in blocks of 50 (30 minutes each); every third
 * user is alice. */
static char *write_store(void)
{
    char *dir = tu_mkdtemp();
    struct trl_store *st;
    struct trl_store_opts o = {.block_max_events = 50};
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    for (int b = 0; b < 12; b++) {
        struct trl_arena *a = trl_arena_create(1 << 16);
        struct trl_event *ev[50];
        for (int i = 0; i < 50; i++) {
            int k = b * 50 + i;
            ev[i] = tu_event(a, D0 + (int64_t)k * 36 * TRL_NS_PER_SEC, k % 3 ? "root" : "alice",
                             "web01", "login %d", k);
        }
        assert_int_equal(trl_store_append(st, ev, 50), 0);
        trl_arena_destroy(a);
    }
    trl_store_close(st);
    return dir;
}

struct text {
    char buf[4096];
    size_t len;
};

static int collect(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    struct text *t = ud;
    assert_true(t->len + len + 1 < sizeof(t->buf));
    memcpy(t->buf + t->len, json, len);
    t->len += len;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = '\0';
    return 0;
}

/* Runs a pipeline over [from, to) through trl_store_scan_pipe(). */
static const char *piped(const char *dir, const char *query, int64_t from, int64_t to,
                         struct trl_store_search_stats *st)
{
    static struct text t;
    memset(&t, 0, sizeof(t));
    struct trl_store_reader *rd;
    assert_int_equal(trl_store_reader_open(dir, &rd), 0);
    struct trl_query *q;
    assert_int_equal(trl_query_parse(query, strlen(query), &q, NULL), 0);
    struct trl_pipe_run *r = trl_pipe_run_create(q->pipeline, 0, collect, &t);
    struct trl_store_search_opts o = {from, to, 0};
    assert_int_equal(trl_store_scan_pipe(rd, q, &o, r, q->pipeline, st), 0);
    assert_int_equal(trl_pipe_run_finish(r), 0);
    trl_pipe_run_destroy(r);
    trl_query_free(q);
    trl_store_reader_close(rd);
    return t.buf;
}

static void test_counting_everything_reads_no_block_inside_the_range(void **state)
{
    (void)state;
    char *dir = write_store();
    struct trl_store_search_stats st;
    assert_string_equal(piped(dir, "| stats count", D0, D0 + DAY_NS, &st), "{\"count\":600}\n");
    assert_int_equal(st.blocks, 12);
    assert_int_equal(st.blocks_decoded, 0);
    /* A range that cuts blocks: those two are read, event by event. */
    int64_t from = D0 + 10 * 60 * TRL_NS_PER_SEC, to = D0 + 100 * 60 * TRL_NS_PER_SEC;
    assert_string_equal(piped(dir, "* | stats count", from, to, &st), "{\"count\":150}\n");
    assert_int_equal(st.blocks_decoded, 2);
    /* Hourly buckets hold two blocks each; 20-minute ones cut every block but the ones that
     * happen to fit. */
    assert_string_equal(piped(dir, "| timechart span=1h count", D0, D0 + DAY_NS, &st),
                        "{\"@timestamp\":\"2026-11-27T00:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T01:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T02:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T03:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T04:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T05:00:00Z\",\"count\":100}\n");
    assert_int_equal(st.blocks_decoded, 0);
    const char *by20 = piped(dir, "| timechart span=20m count", D0, D0 + DAY_NS, &st);
    assert_non_null(strstr(by20, "{\"@timestamp\":\"2026-11-27T00:20:00Z\",\"count\":33}\n"));
    assert_true(st.blocks_decoded > 0);
    /* A query with terms reads its blocks and counts its matches. */
    assert_string_equal(piped(dir, "user.name:alice | stats count", D0, D0 + DAY_NS, &st),
                        "{\"count\":200}\n");
    assert_int_equal(st.blocks_decoded, 12);
    tu_rmrf(dir);
}

/* Stats and top by a keyword column leave a block's timestamps compressed when the block lies
 * inside the range and the query is decided on columns; a range that cuts blocks, and a query on
 * the JSON, still read them. Every way counts the same events. */
static void test_stats_by_column_count_the_same_inside_and_across_the_range(void **state)
{
    (void)state;
    char *dir = write_store();
    struct trl_store_search_stats st;
    assert_string_equal(piped(dir, "| stats count by user.name", D0, D0 + DAY_NS, &st),
                        "{\"user.name\":\"root\",\"count\":400}\n"
                        "{\"user.name\":\"alice\",\"count\":200}\n");
    assert_int_equal(st.blocks_decoded, 12);
    assert_int_equal(st.events_matched, 600);
    assert_string_equal(piped(dir, "| top 1 user.name", D0, D0 + DAY_NS, &st),
                        "{\"user.name\":\"root\",\"count\":400,\"percent\":66.67}\n");
    /* Events 17 to 166: 50 of them alice's. */
    int64_t from = D0 + 10 * 60 * TRL_NS_PER_SEC, to = D0 + 100 * 60 * TRL_NS_PER_SEC;
    assert_string_equal(piped(dir, "* | stats count by user.name", from, to, &st),
                        "{\"user.name\":\"root\",\"count\":100}\n"
                        "{\"user.name\":\"alice\",\"count\":50}\n");
    assert_int_equal(st.events_matched, 150);
    assert_string_equal(piped(dir, "host.name:web01 | stats count by user.name", from, to, &st),
                        "{\"user.name\":\"root\",\"count\":100}\n"
                        "{\"user.name\":\"alice\",\"count\":50}\n");
    assert_string_equal(piped(dir, "login | stats count by user.name", from, to, &st),
                        "{\"user.name\":\"root\",\"count\":100}\n"
                        "{\"user.name\":\"alice\",\"count\":50}\n");
    assert_string_equal(piped(dir, "login | stats count by user.name", D0, D0 + DAY_NS, &st),
                        "{\"user.name\":\"root\",\"count\":400}\n"
                        "{\"user.name\":\"alice\",\"count\":200}\n");
    /* A timechart by a column needs each event's time, inside the range too. */
    const char *tc = piped(dir, "| timechart span=1h count by user.name", D0, D0 + DAY_NS, &st);
    assert_non_null(strstr(tc, "\"user.name\":\"alice\",\"count\":33}"));
    assert_non_null(strstr(tc, "\"user.name\":\"alice\",\"count\":34}"));
    tu_rmrf(dir);
}

struct per_event {
    int64_t from, interval;
    uint64_t counts[64];
};

static int count_each(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)json;
    (void)len;
    struct per_event *p = ud;
    if (ts >= p->from) {
        uint64_t k = (uint64_t)(ts - p->from) / (uint64_t)p->interval;
        if (k < 64)
            p->counts[k]++;
    }
    return 0;
}

static void test_bucket_counts_equal_those_of_every_event(void **state)
{
    (void)state;
    char *dir = write_store();
    struct trl_store_reader *rd;
    assert_int_equal(trl_store_reader_open(dir, &rd), 0);
    const char *queries[] = {"", "*", "alice", "user.name:root", "login NOT alice"};
    /* Buckets aligned with the blocks, and not: starting inside a block, of 7 and 45 minutes. */
    const int64_t starts[] = {D0, D0 + 17 * TRL_NS_PER_SEC, D0 + 3600 * TRL_NS_PER_SEC};
    const int64_t spans[] = {30 * 60 * TRL_NS_PER_SEC, 7 * 60 * TRL_NS_PER_SEC,
                             45 * 60 * TRL_NS_PER_SEC};
    for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
        struct trl_query *q;
        assert_int_equal(trl_query_parse(queries[qi], strlen(queries[qi]), &q, NULL), 0);
        for (size_t si = 0; si < 3; si++) {
            for (size_t pi = 0; pi < 3; pi++) {
                struct trl_store_search_opts o = {starts[si], D0 + 5 * 3600 * TRL_NS_PER_SEC, 0};
                struct per_event want = {starts[si], spans[pi], {0}};
                assert_int_equal(trl_store_scan(rd, q, &o, true, count_each, &want, NULL), 0);
                uint64_t got[64] = {0};
                /* Fewer buckets than the range needs: the later events are not counted. */
                assert_int_equal(trl_store_count_buckets(rd, q, &o, spans[pi], got, 9, NULL), 0);
                for (size_t k = 0; k < 64; k++) {
                    if (got[k] != (k < 9 ? want.counts[k] : 0))
                        fail_msg("'%s' from +%llds every %llds: bucket %zu has %llu, not %llu",
                                 queries[qi], (long long)((starts[si] - D0) / TRL_NS_PER_SEC),
                                 (long long)(spans[pi] / TRL_NS_PER_SEC), k,
                                 (unsigned long long)got[k],
                                 (unsigned long long)(k < 9 ? want.counts[k] : 0));
                }
            }
        }
        trl_query_free(q);
    }
    struct trl_query *q;
    assert_int_equal(trl_query_parse("", 0, &q, NULL), 0);
    struct trl_store_search_opts o = {D0, D0 + DAY_NS, 0};
    uint64_t c[4];
    assert_int_equal(trl_store_count_buckets(rd, q, &o, 0, c, 4, NULL), TRL_EINVAL);
    trl_query_free(q);
    trl_store_reader_close(rd);
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counting_everything_reads_no_block_inside_the_range),
        cmocka_unit_test(test_bucket_counts_equal_those_of_every_event),
        cmocka_unit_test(test_stats_by_column_count_the_same_inside_and_across_the_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
