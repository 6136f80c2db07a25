/* The event store through its writer and reader APIs: partitions, search order and skipping,
 * compaction, retention, a full disk, the writer lock and the pipeline sink. */
#include "store_testutil.h"

#include "server/pipeline.h"
#include "store/partition.h"
#include "store/store_internal.h"

#include <errno.h>
#include <sys/stat.h>

#include "store_dir_fixture.h"

static bool file_exists(const char *day)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/events/%s.db", dir, day);
    return access(p, F_OK) == 0;
}

static void test_batch_is_split_into_one_partition_per_utc_day(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_event *ev[4] = {
        tu_event(arena, D0 - 1, "a", NULL, "last nanosecond of 2026-11-26"),
        tu_event(arena, D0, "b", NULL, "first nanosecond of 2026-11-27"),
        tu_event(arena, D0 + DAY_NS + 5, "c", NULL, "early on 2026-11-28"),
        tu_event(arena, D0 + 3600 * TRL_NS_PER_SEC, "d", NULL, "later on 2026-11-27"),
    };
    assert_int_equal(trl_store_append(st, ev, 4), 0);
    trl_store_close(st);
    assert_true(file_exists("2026-11-26"));
    assert_true(file_exists("2026-11-27"));
    assert_true(file_exists("2026-11-28"));
    struct tu_results r = tu_search(dir, "", D0 - DAY_NS, D0 + 2 * DAY_NS, 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.st.partitions, 3);
    /* Newest first. */
    assert_non_null(strstr(r.json[0], "early on 2026-11-28"));
    assert_non_null(strstr(r.json[1], "later on 2026-11-27"));
    assert_non_null(strstr(r.json[2], "first nanosecond"));
    assert_non_null(strstr(r.json[3], "last nanosecond"));
    tu_results_free(&r);
    assert_no_findings(dir);
}

static void test_events_without_a_timestamp_are_filed_by_receive_time(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_event *ev = trl_event_create(arena, "garbage \x01\xff", 10, D0 + 42);
    assert_int_equal(trl_store_append(st, &ev, 1), 0);
    trl_store_close(st);
    assert_true(file_exists("2026-11-27"));
    struct tu_results r = tu_search(dir, "garbage", D0, D0 + 100, 10);
    assert_int_equal(r.n, 1);
    assert_true(r.ts[0] == D0 + 42);
    tu_results_free(&r);
}

/* Writes n events a second apart from start, in batches of batch, each user/host cycling. */
static void write_series(const char *d, int64_t start, int n, int batch,
                         const struct trl_store_opts *o)
{
    static const char *const users[] = {"root", "alice", "bob", "deploy"};
    struct trl_store *st;
    assert_int_equal(trl_store_open(d, o, &st), 0);
    struct trl_event **ev = calloc((size_t)batch, sizeof(*ev));
    for (int i = 0; i < n; i += batch) {
        trl_arena_reset(arena);
        int k = 0;
        for (; k < batch && i + k < n; k++) {
            int j = i + k;
            ev[k] = tu_event(arena, start + (int64_t)j * TRL_NS_PER_SEC, users[j % 4], "web01",
                             "event number %d of the series, token%d, Failed password for %s", j,
                             j % 97, users[j % 4]);
        }
        assert_int_equal(trl_store_append(st, ev, (size_t)k), 0);
    }
    free(ev);
    trl_store_close(st);
}

static void test_search_returns_newest_first_up_to_the_limit(void **state)
{
    (void)state;
    write_series(dir, D0, 1000, 100, NULL);
    struct tu_results r = tu_search(dir, "user.name:bob", D0, D0 + DAY_NS, 5);
    assert_int_equal(r.n, 5);
    for (size_t i = 0; i < r.n; i++) {
        char want[64];
        snprintf(want, sizeof(want), "event number %zu of", 998 - 4 * i);
        assert_non_null(strstr(r.json[i], want));
        assert_non_null(strstr(r.json[i], "\"name\":\"bob\""));
    }
    assert_true(r.st.more);
    tu_results_free(&r);
    /* Exactly the events inside [from, to). */
    r = tu_search(dir, "", D0 + 10 * TRL_NS_PER_SEC, D0 + 20 * TRL_NS_PER_SEC, 0);
    assert_int_equal(r.n, 10);
    assert_true(r.ts[0] == D0 + 19 * TRL_NS_PER_SEC && r.ts[9] == D0 + 10 * TRL_NS_PER_SEC);
    tu_results_free(&r);
}

static void test_blocks_outside_the_time_range_are_not_read(void **state)
{
    (void)state;
    write_series(dir, D0, 1000, 100, NULL); /* 10 blocks of 100 s each */
    struct tu_results r =
        tu_search(dir, "", D0 + 250 * TRL_NS_PER_SEC, D0 + 350 * TRL_NS_PER_SEC, 0);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.st.blocks, 2); /* 200..299 and 300..399 only */
    tu_results_free(&r);
}

static void test_token_index_skips_blocks_without_the_terms(void **state)
{
    (void)state;
    write_series(dir, D0, 1000, 100, NULL);
    /* "event number 512" sits in one block; only that block is decompressed. */
    struct tu_results r = tu_search(dir, "\"event number 512 of\"", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.st.blocks, 10);
    assert_true(r.st.blocks_skipped_index >= 8);
    tu_results_free(&r);
    r = tu_search(dir, "nosuchword", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 0);
    assert_true(r.st.blocks_skipped_index >= 9);
    assert_true(r.st.blocks_decoded <= 1);
    tu_results_free(&r);
    /* A keyword column's value set rules blocks out too. */
    r = tu_search(dir, "host.name:db01 OR user.name:mallory", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.st.blocks_decoded, 0);
    tu_results_free(&r);
}

static void test_compaction_merges_small_blocks_and_keeps_results(void **state)
{
    (void)state;
    write_series(dir, D0, 3000, 30, NULL); /* 100 blocks of 30 events */
    struct tu_results before =
        tu_search(dir, "failed token7 OR user.name:alice", D0, D0 + DAY_NS, 0);
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    trl_store_close(st);
    assert_int_equal(cs.blocks_replaced, 100);
    assert_int_equal(cs.events, 3000);
    assert_int_equal(cs.merges, 1); /* 3000 events fit one 4096-event block */
    struct tu_results after =
        tu_search(dir, "failed token7 OR user.name:alice", D0, D0 + DAY_NS, 0);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < before.n; i++)
        assert_string_equal(after.json[i], before.json[i]);
    assert_int_equal(after.st.blocks, 1);
    tu_results_free(&before);
    tu_results_free(&after);
    struct tu_findings f = tu_verify(dir, NULL);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.sum.blocks, 1);
    assert_int_equal(f.sum.events, 3000);
}

static void test_compaction_waits_for_enough_small_blocks(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    int64_t now = trl_now_ns();
    for (int b = 0; b < 4; b++) {
        struct trl_event *ev[10];
        for (int i = 0; i < 10; i++)
            ev[i] = tu_event(arena, now - 60 * TRL_NS_PER_SEC + b * 10 + i, NULL, NULL, "x%d", i);
        assert_int_equal(trl_store_append(st, ev, 10), 0);
    }
    /* Four blocks of 10 events in a partition written just now: not yet worth a merge ... */
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, false, &cs), 0);
    assert_int_equal(cs.merges, 0);
    /* ... unless forced. */
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    assert_int_equal(cs.merges, 1);
    assert_int_equal(cs.blocks_replaced, 4);
    trl_store_close(st);
    assert_no_findings(dir);
}

static void test_compaction_splits_runs_at_the_block_size(void **state)
{
    (void)state;
    struct trl_store_opts o = {.block_max_events = 64};
    write_series(dir, D0, 150, 10, &o); /* 15 blocks of 10, small below 16 */
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    trl_store_close(st);
    assert_int_equal(cs.merges, 3); /* 60 + 60 + 30 */
    assert_int_equal(cs.events, 150);
    struct tu_results r = tu_search(dir, "", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 150);
    assert_int_equal(r.st.blocks, 3);
    tu_results_free(&r);
    assert_no_findings(dir);
}

static void test_idle_partition_merges_appended_blocks_into_larger_ones(void **state)
{
    (void)state;
    struct trl_store_opts o = {.block_max_events = 64};
    /* Ten appends of 40 events (not small blocks: 64 / 4 = 16) on a day that is over. */
    write_series(dir, D0 - 2 * DAY_NS, 400, 40, &o);
    struct tu_results before =
        tu_search(dir, "failed token7 OR user.name:alice", D0 - 2 * DAY_NS, D0 - DAY_NS, 0);
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, false, &cs), 0);
    /* Blocks of up to 4 x 64 events: 6 x 40, then 4 x 40. */
    assert_int_equal(cs.merges, 2);
    assert_int_equal(cs.blocks_replaced, 10);
    assert_int_equal(cs.events, 400);
    /* Blocks compaction wrote are not merged again. */
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    assert_int_equal(cs.merges, 0);
    trl_store_close(st);
    struct tu_results after =
        tu_search(dir, "failed token7 OR user.name:alice", D0 - 2 * DAY_NS, D0 - DAY_NS, 0);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < before.n; i++)
        assert_string_equal(after.json[i], before.json[i]);
    tu_results_free(&before);
    tu_results_free(&after);
    struct tu_findings f = tu_verify(dir, NULL);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.sum.blocks, 2);
    assert_int_equal(f.sum.events, 400);
}

static void test_retention_drops_old_days_and_the_ledger_accounts_for_them(void **state)
{
    (void)state;
    for (int d = 0; d < 5; d++)
        write_series(dir, D0 + d * DAY_NS, 20, 20, NULL);
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_store_retention_result res;
    /* Now = 2026-12-01 12:00, keeping 2 days: 11-29 ended 1.5 days ago and stays; 11-28 ended
     * 2.5 days ago and goes. */
    int64_t now = D0 + 4 * DAY_NS + DAY_NS / 2;
    assert_int_equal(trl_store_apply_retention(st, 2, 0, now, &res), 0);
    trl_store_close(st);
    assert_int_equal(res.removed, 2);
    assert_false(file_exists("2026-11-27"));
    assert_false(file_exists("2026-11-28"));
    assert_true(file_exists("2026-11-29"));
    assert_true(file_exists("2026-12-01"));
    struct tu_findings f = tu_verify(dir, NULL);
    if (f.n)
        fail_msg("%s", f.text);
    assert_int_equal(f.sum.removed_partitions, 2);
    assert_int_equal(f.sum.partitions, 3);
    struct tu_results r = tu_search(dir, "", D0, D0 + 10 * DAY_NS, 0);
    assert_int_equal(r.n, 60);
    tu_results_free(&r);
}

static void test_retention_by_size_drops_the_oldest_but_never_the_newest(void **state)
{
    (void)state;
    for (int d = 0; d < 4; d++)
        write_series(dir, D0 + d * DAY_NS, 200, 200, NULL);
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_store_retention_result res;
    assert_int_equal(trl_store_apply_retention(st, 0, 1, D0, &res), 0);
    assert_int_equal(res.removed, 3);
    assert_true(file_exists("2026-11-30"));
    /* A partition removed earlier can be written again: the ledger records it reopened. */
    struct trl_event *ev = tu_event(arena, D0 + 1, NULL, NULL, "late arrival");
    assert_int_equal(trl_store_append(st, &ev, 1), 0);
    trl_store_close(st);
    assert_true(file_exists("2026-11-27"));
    assert_no_findings(dir);
}

static void limit_pages(struct trl_store *st, int64_t day, int extra)
{
    struct trl_partition *p;
    assert_int_equal(trl_store_partition(st, day, true, &p), 0);
    sqlite3 *db = trl_partition_db(p);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int pages = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%d", pages + extra);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static struct trl_event **big_batch(int64_t start, int n, const char *tag)
{
    struct trl_event **ev = calloc((size_t)n, sizeof(*ev));
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < n; i++) {
        /* Incompressible text, so that a batch really needs room on disk. */
        char noise[200];
        for (int k = 0; k < 199; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise[k] = (char)('a' + x % 26);
        }
        noise[199] = '\0';
        ev[i] = tu_event(arena, start + i, NULL, NULL, "%s event %d %s", tag, i, noise);
    }
    return ev;
}

static void test_full_disk_fails_the_append_without_damage_and_a_retry_stores_once(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_event **ev = big_batch(D0, 50, "first");
    assert_int_equal(trl_store_append(st, ev, 50), 0);
    free(ev);
    /* The partition may grow by two pages only: the next batch cannot fit. */
    limit_pages(st, trl_day_of_ns(D0), 2);
    ev = big_batch(D0 + 1000, 3000, "second");
    assert_int_equal(trl_store_append(st, ev, 3000), -ENOSPC);
    /* Space comes back: the same batch is retried. */
    limit_pages(st, trl_day_of_ns(D0), 100000);
    assert_int_equal(trl_store_append(st, ev, 3000), 0);
    free(ev);
    trl_store_close(st);
    struct tu_results r = tu_search(dir, "second", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 3000);
    tu_results_free(&r);
    r = tu_search(dir, "first", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 50);
    tu_results_free(&r);
    assert_no_findings(dir);
}

static void test_retry_after_a_partly_failed_batch_does_not_duplicate_committed_days(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    /* Half the batch on day 0, half on day 1; day 1 has no room. */
    struct trl_event **a = big_batch(D0, 500, "split");
    struct trl_event **b = big_batch(D0 + DAY_NS, 500, "split");
    struct trl_event **ev = calloc(1000, sizeof(*ev));
    memcpy(ev, a, 500 * sizeof(*ev));
    memcpy(ev + 500, b, 500 * sizeof(*ev));
    struct trl_event *seed = tu_event(arena, D0 + DAY_NS - 1 + DAY_NS / 2, NULL, NULL, "seed");
    assert_int_equal(trl_store_append(st, &seed, 1), 0);
    limit_pages(st, trl_day_of_ns(D0 + DAY_NS), 2);
    assert_int_equal(trl_store_append(st, ev, 1000), -ENOSPC);
    limit_pages(st, trl_day_of_ns(D0 + DAY_NS), 100000);
    assert_int_equal(trl_store_append(st, ev, 1000), 0);
    trl_store_close(st);
    struct tu_results r = tu_search(dir, "split", D0, D0 + 2 * DAY_NS, 0);
    assert_int_equal(r.n, 1000);
    tu_results_free(&r);
    free(a);
    free(b);
    free(ev);
    assert_no_findings(dir);
}

static void test_a_second_writer_is_refused(void **state)
{
    (void)state;
    struct trl_store *st, *st2;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    assert_int_equal(trl_store_open(dir, NULL, &st2), -EBUSY);
    trl_store_close(st);
    assert_int_equal(trl_store_open(dir, NULL, &st2), 0);
    trl_store_close(st2);
}

static void test_signing_key_is_created_private(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    trl_store_close(st);
    char p[512];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/keys/store-signing.key", dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(p, sizeof(p), "%s/keys", dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
}

/* Through the pipeline, with the events encoded by the producer thread (as `trapline server` and
 * `ingest` run it) or by the store itself. */
static void run_pipeline(const char *d, bool encode_json)
{
    struct trl_sink *sink = trl_store_sink_create(d, NULL);
    assert_non_null(sink);
    struct trl_pipeline_config pc = {.sink = sink, .encode_json = encode_json};
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    assert_non_null(p);
    struct trl_batch *b = trl_pipeline_batch_get(p);
    const char *lines[] = {
        "<38>1 2026-11-27T10:00:00Z web01 sshd 4102 - - Failed password for root from "
        "10.20.1.15 port 44218 ssh2",
        "<38>1 2026-11-27T10:00:01Z web01 sshd 4102 - - Accepted password for alice from "
        "10.20.1.16 port 44219 ssh2",
        "<38>1 2026-11-28T00:00:01Z web01 sshd 4102 - - Connection closed by 10.20.1.16",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++)
        trl_batch_add(b, lines[i], strlen(lines[i]), "127.0.0.1:514", D0, 0);
    trl_pipeline_submit(p, b);
    trl_pipeline_sync(p);
    struct trl_pipeline_stats ps;
    trl_pipeline_get_stats(p, &ps);
    trl_pipeline_destroy(p);
    assert_int_equal(ps.sink_errors, 0);
}

static void test_pipeline_sink_stores_parsed_messages(void **state)
{
    (void)state;
    char a[512], b[512];
    snprintf(a, sizeof(a), "%s/encoded-by-producer", dir);
    snprintf(b, sizeof(b), "%s/encoded-by-store", dir);
    run_pipeline(a, true);
    run_pipeline(b, false);
    struct tu_results ra = tu_search(a, "", D0, D0 + 2 * DAY_NS, 0);
    struct tu_results rb = tu_search(b, "", D0, D0 + 2 * DAY_NS, 0);
    assert_int_equal(ra.n, 3);
    assert_int_equal(rb.n, 3);
    for (size_t i = 0; i < ra.n; i++) {
        assert_null(strchr(ra.json[i], '\n'));
        /* The same events either way (event.id differs: it is issued per pipeline run). */
        assert_true(ra.ts[i] == rb.ts[i]);
    }
    assert_non_null(strstr(ra.json[0], "Connection closed"));
    tu_results_free(&ra);
    tu_results_free(&rb);
    struct tu_results r = tu_search(a, "source.ip:10.20.1.15", D0, D0 + DAY_NS, 10);
    assert_int_equal(r.n, 1);
    assert_non_null(strstr(r.json[0], "Failed password for root"));
    tu_results_free(&r);
    assert_no_findings(a);
    assert_no_findings(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_is_split_into_one_partition_per_utc_day, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_events_without_a_timestamp_are_filed_by_receive_time,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_returns_newest_first_up_to_the_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_blocks_outside_the_time_range_are_not_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_token_index_skips_blocks_without_the_terms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_compaction_merges_small_blocks_and_keeps_results,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_waits_for_enough_small_blocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_partition_merges_appended_blocks_into_larger_ones,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_splits_runs_at_the_block_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_drops_old_days_and_the_ledger_accounts_for_them, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_retention_by_size_drops_the_oldest_but_never_the_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_full_disk_fails_the_append_without_damage_and_a_retry_stores_once, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_after_a_partly_failed_batch_does_not_duplicate_committed_days, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_a_second_writer_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signing_key_is_created_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_sink_stores_parsed_messages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
