/* Search pipelines: each stage on a fixed set of events, chains of stages, and pipelines run over
 * a store with range and address tests. */
#include "store_testutil.h"

#include "store/match.h"
#include "store/pipes.h"

static const char *const EVENTS[] = {
    "{\"@timestamp\":\"2026-11-27T10:05:00Z\",\"source\":{\"ip\":\"10.0.0.1\",\"port\":50000},"
    "\"user\":{\"name\":\"root\"},\"event\":{\"category\":[\"authentication\",\"session\"]}}",
    "{\"@timestamp\":\"2026-11-27T10:10:00Z\",\"source\":{\"ip\":\"10.0.0.2\",\"port\":22},"
    "\"user\":{\"name\":\"alice\"},\"event\":{\"category\":[\"authentication\"]}}",
    "{\"@timestamp\":\"2026-11-27T10:50:00Z\",\"source\":{\"ip\":\"10.0.0.1\",\"port\":9},"
    "\"user\":{\"name\":\"root\"},\"event\":{\"category\":[\"process\"]}}",
    "{\"@timestamp\":\"2026-11-27T13:00:00Z\",\"source\":{\"ip\":\"192.0.2.7\",\"port\":443},"
    "\"user\":{\"name\":\"bob\"}}",
    "{\"@timestamp\":\"2026-11-27T13:30:00Z\",\"user\":{\"name\":\"root\"},\"message\":\"x\\\"y\"}",
};

struct collected {
    char text[8192];
    size_t rows;
};

static int collect(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    struct collected *c = ud;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof(c->text) - used, "%.*s\n", (int)len, json);
    c->rows++;
    return 0;
}

/* Runs the pipeline of `query` over EVENTS (in order) and returns the rows, one per line. */
static const char *run_cap(const char *query, size_t sort_cap, bool *cut)
{
    static struct collected c;
    memset(&c, 0, sizeof(c));
    struct trl_query *q;
    struct trl_query_error e;
    if (trl_query_parse(query, strlen(query), &q, &e) != 0)
        fail_msg("query '%s': %s", query, e.message);
    assert_non_null(q->pipeline);
    struct trl_pipe_run *r = trl_pipe_run_create(q->pipeline, sort_cap, collect, &c);
    for (size_t i = 0; i < TRL_ARRAY_LEN(EVENTS); i++) {
        int64_t ts = 0;
        assert_true(trl_parse_rfc3339(EVENTS[i] + 15, 20, &ts) > 0);
        int rc = trl_pipe_run_push(r, ts, EVENTS[i], strlen(EVENTS[i]));
        if (rc == TRL_PIPE_STOP)
            break;
        assert_int_equal(rc, 0);
    }
    assert_int_equal(trl_pipe_run_finish(r), 0);
    if (cut)
        *cut = trl_pipe_run_cut(r);
    trl_pipe_run_destroy(r);
    trl_query_free(q);
    return c.text;
}

static const char *run(const char *query)
{
    return run_cap(query, 0, NULL);
}

static void test_stats_counts_by_fields_most_frequent_first(void **state)
{
    (void)state;
    assert_string_equal(run("| stats count"), "{\"count\":5}\n");
    assert_string_equal(run("| stats count by user.name"), "{\"user.name\":\"root\",\"count\":3}\n"
                                                           "{\"user.name\":\"alice\",\"count\":1}\n"
                                                           "{\"user.name\":\"bob\",\"count\":1}\n");
    /* Events without the field are not counted; numbers stay numbers. */
    assert_string_equal(run("| stats count by source.ip, source.port"),
                        "{\"source.ip\":\"10.0.0.1\",\"source.port\":50000,\"count\":1}\n"
                        "{\"source.ip\":\"10.0.0.1\",\"source.port\":9,\"count\":1}\n"
                        "{\"source.ip\":\"10.0.0.2\",\"source.port\":22,\"count\":1}\n"
                        "{\"source.ip\":\"192.0.2.7\",\"source.port\":443,\"count\":1}\n");
    /* Each element of an array is a group of its own. */
    assert_string_equal(run("| stats count by event.category"),
                        "{\"event.category\":\"authentication\",\"count\":2}\n"
                        "{\"event.category\":\"process\",\"count\":1}\n"
                        "{\"event.category\":\"session\",\"count\":1}\n");
    assert_string_equal(run("| stats count by no.such.field"), "");
}

static void test_top_gives_the_n_most_frequent_values_with_percent(void **state)
{
    (void)state;
    assert_string_equal(run("| top 2 user.name"),
                        "{\"user.name\":\"root\",\"count\":3,\"percent\":60.00}\n"
                        "{\"user.name\":\"alice\",\"count\":1,\"percent\":20.00}\n");
    /* Percentages are of the events that have the field. */
    assert_string_equal(run("| top 1 source.ip"),
                        "{\"source.ip\":\"10.0.0.1\",\"count\":2,\"percent\":50.00}\n");
}

static void test_timechart_counts_per_bucket_and_fills_gaps(void **state)
{
    (void)state;
    assert_string_equal(run("| timechart span=1h count"),
                        "{\"@timestamp\":\"2026-11-27T10:00:00Z\",\"count\":3}\n"
                        "{\"@timestamp\":\"2026-11-27T11:00:00Z\",\"count\":0}\n"
                        "{\"@timestamp\":\"2026-11-27T12:00:00Z\",\"count\":0}\n"
                        "{\"@timestamp\":\"2026-11-27T13:00:00Z\",\"count\":2}\n");
    assert_string_equal(run("| timechart span=30m count by user.name"),
                        "{\"@timestamp\":\"2026-11-27T10:00:00Z\",\"user.name\":\"alice\","
                        "\"count\":1}\n"
                        "{\"@timestamp\":\"2026-11-27T10:00:00Z\",\"user.name\":\"root\","
                        "\"count\":1}\n"
                        "{\"@timestamp\":\"2026-11-27T10:30:00Z\",\"user.name\":\"root\","
                        "\"count\":1}\n"
                        "{\"@timestamp\":\"2026-11-27T13:00:00Z\",\"user.name\":\"bob\","
                        "\"count\":1}\n"
                        "{\"@timestamp\":\"2026-11-27T13:30:00Z\",\"user.name\":\"root\","
                        "\"count\":1}\n");
    assert_string_equal(run("| timechart span=1d count"),
                        "{\"@timestamp\":\"2026-11-27T00:00:00Z\",\"count\":5}\n");
}

static void test_fields_projects_dotted_fields_and_objects(void **state)
{
    (void)state;
    assert_string_equal(run("| fields user.name, source.ip | head 2"),
                        "{\"user.name\":\"root\",\"source.ip\":\"10.0.0.1\"}\n"
                        "{\"user.name\":\"alice\",\"source.ip\":\"10.0.0.2\"}\n");
    assert_string_equal(run("| fields source, event.category | head 1"),
                        "{\"source.ip\":\"10.0.0.1\",\"source.port\":50000,"
                        "\"event.category\":[\"authentication\",\"session\"]}\n");
    /* A missing field is left out; values are escaped again. */
    assert_string_equal(run("| fields message, nothing | sort message | head 1"),
                        "{\"message\":\"x\\\"y\"}\n");
}

static void test_sort_orders_numbers_numerically_text_bytewise_missing_last(void **state)
{
    (void)state;
    assert_string_equal(run("| fields source.port | sort source.port"),
                        "{\"source.port\":9}\n{\"source.port\":22}\n{\"source.port\":443}\n"
                        "{\"source.port\":50000}\n{}\n");
    assert_string_equal(run("| fields source.port | sort source.port desc"),
                        "{\"source.port\":50000}\n{\"source.port\":443}\n{\"source.port\":22}\n"
                        "{\"source.port\":9}\n{}\n");
    /* Equal keys keep their order (the events' order here). */
    assert_string_equal(run("| sort user.name | fields source.port"),
                        "{\"source.port\":22}\n{\"source.port\":443}\n{\"source.port\":50000}\n"
                        "{\"source.port\":9}\n{}\n");
}

static void test_head_stops_the_input_and_chains_compose(void **state)
{
    (void)state;
    assert_string_equal(run("| head 1 | fields user.name"), "{\"user.name\":\"root\"}\n");
    assert_string_equal(run("| stats count by user.name | sort user.name | head 2"),
                        "{\"user.name\":\"alice\",\"count\":1}\n"
                        "{\"user.name\":\"bob\",\"count\":1}\n");
    assert_string_equal(run("| stats count by user.name | sort count | fields user.name | head 1"),
                        "{\"user.name\":\"alice\"}\n");
    assert_string_equal(run("| head 4 | stats count"), "{\"count\":4}\n");
}

static void test_sort_reports_when_it_hits_its_cap(void **state)
{
    (void)state;
    bool cut = false;
    assert_string_equal(run_cap("| sort source.port | fields source.port", 3, &cut),
                        "{\"source.port\":9}\n{\"source.port\":22}\n{\"source.port\":50000}\n");
    assert_true(cut);
    run_cap("| sort source.port", 5, &cut);
    assert_false(cut);
}

static void test_pipeline_columns_name_the_rows(void **state)
{
    (void)state;
    const char *cols[8];
    struct trl_query *q;
    struct trl_query_error e;
    const char *text = "| stats count by a, b | sort count";
    assert_int_equal(trl_query_parse(text, strlen(text), &q, &e), 0);
    assert_int_equal(trl_pipeline_columns(q->pipeline, cols, 8), 3);
    assert_string_equal(cols[0], "a");
    assert_string_equal(cols[2], "count");
    assert_true(trl_pipeline_needs_all(q->pipeline));
    assert_true(trl_pipeline_needs_json(q->pipeline));
    trl_query_free(q);
    text = "| head 5 | timechart span=1m count | sort count";
    assert_int_equal(trl_query_parse(text, strlen(text), &q, &e), 0);
    assert_false(trl_pipeline_needs_json(q->pipeline)); /* timestamps are enough */
    trl_query_free(q);
    text = "x | head 3";
    assert_int_equal(trl_query_parse(text, strlen(text), &q, &e), 0);
    assert_int_equal(trl_pipeline_columns(q->pipeline, cols, 8), 0); /* whole events */
    assert_false(trl_pipeline_needs_all(q->pipeline));
    trl_query_free(q);
    text = "| timechart span=5m count by host.name";
    assert_int_equal(trl_query_parse(text, strlen(text), &q, &e), 0);
    assert_int_equal(trl_pipeline_columns(q->pipeline, cols, 8), 3);
    assert_string_equal(cols[0], "@timestamp");
    assert_string_equal(cols[1], "host.name");
    trl_query_free(q);
}

/* A store of 600 events over 6 hours, in blocks of 50, from 12 sources in two networks. */
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
            char ip[64];
            if (b < 6)
                snprintf(ip, sizeof(ip), "10.1.0.%d", k % 6);
            else
                snprintf(ip, sizeof(ip), "2001:db8::%d", k % 6);
            trl_event_set_str(ev[i], TRL_F_SOURCE_IP, ip);
        }
        assert_int_equal(trl_store_append(st, ev, 50), 0);
        trl_arena_destroy(a);
    }
    trl_store_close(st);
    return dir;
}

static int feed(void *ud, int64_t ts, const char *json, size_t len)
{
    return trl_pipe_run_push(ud, ts, json, len);
}

static const char *scan(const char *dir, const char *query, struct trl_store_search_stats *stats)
{
    static struct collected c;
    memset(&c, 0, sizeof(c));
    struct trl_store_reader *rd;
    assert_int_equal(trl_store_reader_open(dir, &rd), 0);
    struct trl_query *q;
    struct trl_query_error e;
    if (trl_query_parse(query, strlen(query), &q, &e) != 0)
        fail_msg("query '%s': %s", query, e.message);
    struct trl_pipe_run *r = trl_pipe_run_create(q->pipeline, 0, collect, &c);
    struct trl_store_search_opts o = {D0, D0 + DAY_NS, 0};
    bool ts_only = !trl_pipeline_needs_json(q->pipeline);
    assert_int_equal(trl_store_scan(rd, q, &o, ts_only, feed, r, stats), 0);
    assert_int_equal(trl_pipe_run_finish(r), 0);
    trl_pipe_run_destroy(r);
    trl_query_free(q);
    trl_store_reader_close(rd);
    return c.text;
}

static void test_store_scan_feeds_every_match_to_the_aggregation(void **state)
{
    (void)state;
    char *dir = write_store();
    struct trl_store_search_stats st;
    assert_string_equal(scan(dir, "| stats count", &st), "{\"count\":600}\n");
    assert_string_equal(scan(dir, "| timechart span=1h count", &st),
                        "{\"@timestamp\":\"2026-11-27T00:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T01:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T02:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T03:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T04:00:00Z\",\"count\":100}\n"
                        "{\"@timestamp\":\"2026-11-27T05:00:00Z\",\"count\":100}\n");
    assert_string_equal(scan(dir, "user.name:alice | stats count by user.name", &st),
                        "{\"user.name\":\"alice\",\"count\":200}\n");
    /* The address block is decided from the column summaries: the IPv4 blocks only are read. */
    assert_string_equal(scan(dir, "source.ip:10.1.0.0/30 | stats count", &st), "{\"count\":200}\n");
    assert_int_equal(st.blocks, 12);
    assert_int_equal(st.blocks_skipped_index, 6);
    assert_string_equal(scan(dir, "source.ip:2001:db8::/64 | top 1 source.ip", &st),
                        "{\"source.ip\":\"2001:db8::0\",\"count\":50,\"percent\":16.67}\n");
    assert_int_equal(st.blocks_skipped_index, 6);
    /* A time range skips the blocks outside it by their time bounds. */
    assert_string_equal(scan(dir, "@timestamp>=2026-11-27T05:00:00Z | stats count", &st),
                        "{\"count\":100}\n");
    assert_int_equal(st.blocks_skipped_index, 10);
    assert_string_equal(
        scan(dir, "@timestamp:[2026-11-27T01:00:00Z TO 2026-11-27T01:59:59Z] | stats count", &st),
        "{\"count\":100}\n");
    /* Text ranges use the columns' min/max. */
    assert_string_equal(scan(dir, "user.name:[b TO z] | stats count", &st), "{\"count\":400}\n");
    tu_rmrf(dir);
}

static char *scan_pipe(const char *dir, const char *query)
{
    static struct collected c;
    memset(&c, 0, sizeof(c));
    struct trl_store_reader *rd;
    assert_int_equal(trl_store_reader_open(dir, &rd), 0);
    struct trl_query *q;
    struct trl_query_error e;
    if (trl_query_parse(query, strlen(query), &q, &e) != 0)
        fail_msg("query '%s': %s", query, e.message);
    struct trl_pipe_run *r = trl_pipe_run_create(q->pipeline, 0, collect, &c);
    struct trl_store_search_opts o = {D0, D0 + DAY_NS, 0};
    assert_int_equal(trl_store_scan_pipe(rd, q, &o, r, q->pipeline, NULL), 0);
    assert_int_equal(trl_pipe_run_finish(r), 0);
    trl_pipe_run_destroy(r);
    trl_query_free(q);
    trl_store_reader_close(rd);
    return strdup(c.text);
}

/* Each query answers the same through the column path (scan_pipe) as through the JSON (scan). */
static void assert_columns_equal_json(const char *dir, const char *const *queries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *cols = scan_pipe(dir, queries[i]);
        struct trl_store_search_stats st;
        const char *json = scan(dir, queries[i], &st);
        assert_true(strlen(cols) > 0);
        assert_string_equal(cols, json);
        free(cols);
    }
}

static void test_aggregations_by_keyword_columns_equal_those_from_json(void **state)
{
    (void)state;
    char *dir = write_store();
    static const char *const queries[] = {
        "| stats count by source.ip",
        "| top 3 user.name",
        "| timechart span=2h count by user.name",
        "| stats count by user.name, source.ip",
        "login | stats count by host.name",
        "user.name:root | top 2 source.ip",
        "source.ip:10.1.0.0/30 | stats count by source.ip | head 1",
    };
    assert_columns_equal_json(dir, queries, sizeof(queries) / sizeof(queries[0]));
    /* Not a column: the JSON path, same answer. */
    char *msg = scan_pipe(dir, "| stats count by message | head 1");
    assert_true(strstr(msg, "\"count\":1}") != NULL);
    free(msg);
    tu_rmrf(dir);
}

/* Blocks whose events have several values of a column (event.category), or none of one. */
static char *write_store_sparse(void)
{
    char *dir = tu_mkdtemp();
    struct trl_store *st;
    struct trl_store_opts o = {.block_max_events = 40};
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    static const char *const cats[] = {"authentication", "network", "process", "session"};
    for (int b = 0; b < 5; b++) {
        struct trl_arena *a = trl_arena_create(1 << 16);
        struct trl_event *ev[40];
        for (int i = 0; i < 40; i++) {
            int k = b * 40 + i;
            ev[i] = tu_event(a, D0 + (int64_t)k * 97 * TRL_NS_PER_SEC, k % 4 ? "root" : "bob",
                             "web01", "event %d", k);
            if (k % 5)
                trl_event_add(ev[i], TRL_F_EVENT_CATEGORY, cats[k % 4], strlen(cats[k % 4]));
            if (k % 3 == 0)
                trl_event_add(ev[i], TRL_F_EVENT_CATEGORY, cats[(k + 1) % 4],
                              strlen(cats[(k + 1) % 4]));
            if (k % 7) {
                char ip[32];
                snprintf(ip, sizeof(ip), "192.0.2.%d", k % 9);
                trl_event_set_str(ev[i], TRL_F_SOURCE_IP, ip);
            }
        }
        assert_int_equal(trl_store_append(st, ev, 40), 0);
        trl_arena_destroy(a);
    }
    trl_store_close(st);
    return dir;
}

static void
test_column_groups_of_multi_valued_and_missing_fields_equal_those_from_json(void **state)
{
    (void)state;
    char *dir = write_store_sparse();
    static const char *const queries[] = {
        "| stats count by event.category",
        "| stats count by source.ip",
        "| top 3 event.category",
        "| top 4 source.ip",
        "| stats count by event.category, source.ip",
        "| stats count by source.ip, event.category, user.name",
        "| timechart span=1h count by event.category",
        "root | stats count by event.category",
    };
    assert_columns_equal_json(dir, queries, sizeof(queries) / sizeof(queries[0]));
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_counts_by_fields_most_frequent_first),
        cmocka_unit_test(
            test_column_groups_of_multi_valued_and_missing_fields_equal_those_from_json),
        cmocka_unit_test(test_top_gives_the_n_most_frequent_values_with_percent),
        cmocka_unit_test(test_timechart_counts_per_bucket_and_fills_gaps),
        cmocka_unit_test(test_fields_projects_dotted_fields_and_objects),
        cmocka_unit_test(test_sort_orders_numbers_numerically_text_bytewise_missing_last),
        cmocka_unit_test(test_head_stops_the_input_and_chains_compose),
        cmocka_unit_test(test_sort_reports_when_it_hits_its_cap),
        cmocka_unit_test(test_pipeline_columns_name_the_rows),
        cmocka_unit_test(test_store_scan_feeds_every_match_to_the_aggregation),
        cmocka_unit_test(test_aggregations_by_keyword_columns_equal_those_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
