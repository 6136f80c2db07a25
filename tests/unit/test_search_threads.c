/* Searches and aggregations by columns on helper threads (trl_store_reader_set_threads), over
 * several partitions and within one: the same results, in the same order, and the same rows as
 * one thread; the limit; older days left unread. */
#include "trl_test.h"

#include "store_testutil.h"

#include "core/buf.h"
#include "store/pipes.h"

#define DAYS           4
#define BLOCKS_PER_DAY 40
#define BLOCK          50

/* DAYS days of BLOCKS_PER_DAY blocks of BLOCK events, one every 30 s from D0 + 1 h each day;
 * every third user is alice, and every 97th event says "rare". */
static char *write_store(void)
{
    char *dir = tu_mkdtemp();
    struct trl_store *st;
    struct trl_store_opts o = {.block_max_events = BLOCK, .no_compaction = true};
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    for (int d = 0; d < DAYS; d++) {
        for (int b = 0; b < BLOCKS_PER_DAY; b++) {
            struct trl_arena *a = trl_arena_create(1 << 16);
            struct trl_event *ev[BLOCK];
            for (int i = 0; i < BLOCK; i++) {
                int k = b * BLOCK + i, g = d * BLOCKS_PER_DAY * BLOCK + k;
                int64_t ts = D0 + d * DAY_NS + 3600 * TRL_NS_PER_SEC + k * 30LL * TRL_NS_PER_SEC;
                ev[i] =
                    tu_event(a, ts, g % 3 ? "root" : "alice", g % 2 ? "web01" : "db01",
                             "login %d from 10.0.%d.%d%s", g, d, k % 250, g % 97 ? "" : " rare");
            }
            assert_int_equal(trl_store_append(st, ev, BLOCK), 0);
            trl_arena_destroy(a);
        }
    }
    trl_store_close(st);
    return dir;
}

static struct tu_results search(const char *dir, unsigned threads, const char *query, int64_t from,
                                int64_t to, size_t limit)
{
    return tu_search_on(dir, query, from, to, limit, threads, false);
}

static const char *const queries[] = {
    "*",         "alice",    "user.name:alice", "rare",         "host.name:db01 AND rare",
    "NOT alice", "login 17", "nothing-here",    "user.name:bob"};
static const size_t limits[] = {0, 1, 7, 100, 1000};

static void test_threads_return_what_one_thread_returns(void **state)
{
    (void)state;
    char *dir = write_store();
    /* The whole store, a range cutting the first and the last day, and one day: its partition
     * is shared by the threads. */
    const int64_t ranges[][2] = {
        {D0, D0 + DAYS * DAY_NS},
        {D0 + 10 * 3600 * TRL_NS_PER_SEC, D0 + 2 * DAY_NS + 7200 * TRL_NS_PER_SEC},
        {D0 + DAY_NS, D0 + 2 * DAY_NS}};
    for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
        for (size_t ri = 0; ri < sizeof(ranges) / sizeof(ranges[0]); ri++) {
            int64_t from = ranges[ri][0], to = ranges[ri][1];
            struct tu_results all = search(dir, 1, queries[qi], from, to, 0);
            for (size_t li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
                size_t limit = limits[li];
                struct tu_results one = search(dir, 1, queries[qi], from, to, limit);
                for (unsigned t = 2; t <= TRL_STORE_SEARCH_MAX_THREADS; t += 2) {
                    struct tu_results par = search(dir, t, queries[qi], from, to, limit);
                    size_t want = limit && limit < all.n ? limit : all.n;
                    if (par.n != want || one.n != want)
                        fail_msg("'%s' limit %zu threads %u: %zu results, one thread %zu, want %zu",
                                 queries[qi], limit, t, par.n, one.n, want);
                    for (size_t i = 0; i < par.n; i++) {
                        assert_string_equal(par.json[i], one.json[i]);
                        assert_int_equal(par.ts[i], one.ts[i]);
                        assert_string_equal(par.json[i], all.json[i]);
                        if (i > 0)
                            assert_true(par.ts[i] <= par.ts[i - 1]);
                    }
                    /* "More may match" whenever some did not make it. */
                    if (want < all.n)
                        assert_true(par.st.more);
                    if (!par.st.more)
                        assert_int_equal(par.n, all.n);
                    assert_int_equal(par.st.blocks_unreadable, 0);
                    tu_results_free(&par);
                }
                tu_results_free(&one);
            }
            tu_results_free(&all);
        }
    }
    tu_rmrf(dir);
}

static void test_a_limit_the_newest_day_fills_leaves_the_older_days_unread(void **state)
{
    (void)state;
    char *dir = write_store();
    struct tu_results r = search(dir, 2, "*", D0, D0 + DAYS * DAY_NS, 10);
    assert_int_equal(r.n, 10);
    assert_int_equal(r.st.partitions, 1);
    assert_true(r.st.more);
    tu_results_free(&r);
    /* A rare term reads every day; the stats add up over the threads. */
    struct tu_results one = search(dir, 1, "rare", D0, D0 + DAYS * DAY_NS, 0);
    struct tu_results par = tu_search_on(dir, "rare", D0, D0 + DAYS * DAY_NS, 0, 2, true);
    assert_int_equal(par.n, one.n);
    assert_int_equal(par.st.partitions, DAYS);
    assert_int_equal(par.st.blocks, DAYS * BLOCKS_PER_DAY);
    assert_int_equal(par.st.blocks_decoded, one.st.blocks_decoded);
    assert_int_equal(par.st.events_matched, one.st.events_matched);
    assert_false(par.st.more);
    tu_results_free(&one);
    tu_results_free(&par);
    tu_rmrf(dir);
}

static int append_row(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    trl_buf_append(ud, json, len);
    trl_buf_putc(ud, '\n');
    return 0;
}

/* The rows of an aggregation through trl_store_scan_pipe(), one per line (caller frees). */
static char *aggregate(const char *dir, unsigned threads, const char *query,
                       struct trl_store_search_stats *st)
{
    struct trl_store_reader *rd;
    assert_int_equal(trl_store_reader_open(dir, &rd), 0);
    trl_store_reader_set_threads(rd, threads);
    struct trl_query *q;
    assert_int_equal(trl_query_parse(query, strlen(query), &q, NULL), 0);
    struct trl_buf out = {0};
    struct trl_pipe_run *run = trl_pipe_run_create(q->pipeline, 0, append_row, &out);
    struct trl_store_search_opts o = {D0, D0 + DAYS * DAY_NS, 0};
    assert_int_equal(trl_store_scan_pipe(rd, q, &o, run, q->pipeline, st), 0);
    assert_int_equal(trl_pipe_run_finish(run), 0);
    trl_pipe_run_destroy(run);
    trl_query_free(q);
    trl_store_reader_close(rd);
    trl_buf_putc(&out, '\0');
    return out.data;
}

static void test_aggregations_by_columns_on_threads_count_what_one_thread_counts(void **state)
{
    (void)state;
    char *dir = write_store();
    static const char *const aggs[] = {
        "* | stats count by user.name",      "rare | stats count by host.name, user.name",
        "user.name:alice | top 3 host.name", "* | timechart span=1h count by host.name",
        "host.name:db01 | stats count",
    };
    for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++) {
        struct trl_store_search_stats st1, st;
        char *one = aggregate(dir, 1, aggs[i], &st1);
        assert_true(strlen(one) > 0);
        for (unsigned t = 2; t <= TRL_STORE_SEARCH_MAX_THREADS; t += 2) {
            char *par = aggregate(dir, t, aggs[i], &st);
            assert_string_equal(par, one);
            assert_int_equal(st.blocks, st1.blocks);
            assert_int_equal(st.blocks_decoded, st1.blocks_decoded);
            assert_int_equal(st.events_matched, st1.events_matched);
            free(par);
        }
        free(one);
    }
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_return_what_one_thread_returns),
        cmocka_unit_test(test_a_limit_the_newest_day_fills_leaves_the_older_days_unread),
        cmocka_unit_test(test_aggregations_by_columns_on_threads_count_what_one_thread_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
