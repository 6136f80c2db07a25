#include "sigma_test_util.h"

#include "arena_fixture.h"

#define SEC 1000000000LL

static const char *base_rules =
    "title: failed logon\nid: f0000000-0000-0000-0000-000000000001\nname: failed_login\n"
    "logsource:\n  product: windows\n  service: security\n"
    "detection:\n  sel:\n    EventID: 4625\n  condition: sel\n"
    "---\n"
    "title: successful logon\nid: f0000000-0000-0000-0000-000000000002\nname: successful_login\n"
    "logsource:\n  product: windows\n  service: security\n"
    "detection:\n  sel:\n    EventID: 4624\n  condition: sel\n";

struct hits {
    int detections;
    int correlations;
    char last_group[256];
    size_t last_nevents;
    uint64_t last_count;
    uint64_t last_ids[64];
    char last_title[128];
};

static const struct trl_sigma_ruleset *current;

static void on_match(void *ud, const struct trl_sigma_match *m)
{
    struct hits *h = ud;
    struct trl_sigma_rule_info info;
    trl_sigma_rule_get_info(current, m->rule_index, &info);
    snprintf(h->last_title, sizeof(h->last_title), "%s", info.title);
    if (!m->correlation) {
        h->detections++;
        return;
    }
    h->correlations++;
    h->last_group[0] = '\0';
    for (size_t i = 0; i < m->ngroup; i++) {
        size_t n = strlen(h->last_group);
        snprintf(h->last_group + n, sizeof(h->last_group) - n, "%s%s=%s", i ? "," : "",
                 m->group_fields[i], m->group_values[i]);
    }
    h->last_nevents = m->nevents;
    h->last_count = m->count;
    memcpy(h->last_ids, m->event_ids, m->nevents * sizeof(uint64_t));
}

static struct trl_sigma_ruleset *load_set(const char *corr)
{
    char yaml[8192];
    snprintf(yaml, sizeof(yaml), "%s---\n%s", base_rules, corr);
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    struct load_report rep = {0};
    trl_sigma_load_buffer(rs, "corr.yml", yaml, strlen(yaml), collect_report, &rep);
    trl_sigma_ruleset_finalize(rs, collect_report, &rep);
    if (rep.problems)
        print_error("load problem: %s\n", rep.last);
    assert_int_equal(rep.problems, 0);
    current = rs;
    return rs;
}

static struct trl_event *logon(int id, const char *user, const char *ip, int64_t t)
{
    struct trl_event *ev = trl_event_create(arena, "{}", 2, t);
    ev->timestamp_ns = t;
    char code[8];
    snprintf(code, sizeof(code), "%d", id);
    trl_event_set_str(ev, TRL_F_WINLOG_EVENT_ID, code);
    trl_event_set_str(ev, TRL_F_WINLOG_CHANNEL, "Security");
    trl_event_set_named(ev, "winlog.event_data.TargetUserName", 32, user, strlen(user));
    trl_event_set_named(ev, "winlog.event_data.IpAddress", 27, ip, strlen(ip));
    return ev;
}

static void test_event_count_fires_at_threshold_per_group_and_resets(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs =
        load_set("title: brute force\ncorrelation:\n  type: event_count\n  rules: failed_login\n"
                 "  group-by:\n    - IpAddress\n  timespan: 1m\n  condition:\n    gte: 3\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    int64_t t0 = 1720563243LL * SEC;
    trl_sigma_eval(rs, s, logon(4625, "a", "10.0.0.1", t0), 0, on_match, &h);
    trl_sigma_eval(rs, s, logon(4625, "b", "10.0.0.2", t0 + 1 * SEC), 1, on_match, &h);
    trl_sigma_eval(rs, s, logon(4625, "c", "10.0.0.1", t0 + 2 * SEC), 2, on_match, &h);
    assert_int_equal(h.correlations, 0);
    trl_sigma_eval(rs, s, logon(4625, "d", "10.0.0.1", t0 + 3 * SEC), 3, on_match, &h);
    assert_int_equal(h.correlations, 1);
    assert_string_equal(h.last_group, "IpAddress=10.0.0.1");
    assert_int_equal(h.last_nevents, 3);
    assert_int_equal(h.last_count, 3);
    assert_int_equal(h.last_ids[0], 0);
    assert_int_equal(h.last_ids[2], 3);
    /* Base rules referenced with generate: false (the default) report nothing themselves. */
    assert_int_equal(h.detections, 0);
    /* The window was cleared when it fired: two more are not enough. */
    trl_sigma_eval(rs, s, logon(4625, "e", "10.0.0.1", t0 + 4 * SEC), 4, on_match, &h);
    trl_sigma_eval(rs, s, logon(4625, "f", "10.0.0.1", t0 + 5 * SEC), 5, on_match, &h);
    assert_int_equal(h.correlations, 1);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_event_count_window_slides_by_event_time(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs =
        load_set("title: bf\ncorrelation:\n  type: event_count\n  rules: failed_login\n"
                 "  group-by: IpAddress\n  timespan: 10s\n  condition:\n    gte: 3\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    int64_t t0 = 1000 * SEC;
    trl_sigma_eval(rs, s, logon(4625, "a", "1.1.1.1", t0), 0, on_match, &h);
    trl_sigma_eval(rs, s, logon(4625, "a", "1.1.1.1", t0 + 9 * SEC), 1, on_match, &h);
    /* 11 s after the first: the first has left the window. */
    trl_sigma_eval(rs, s, logon(4625, "a", "1.1.1.1", t0 + 11 * SEC), 2, on_match, &h);
    assert_int_equal(h.correlations, 0);
    /* Exactly 10 s after the second is still inside (the window is inclusive). */
    trl_sigma_eval(rs, s, logon(4625, "a", "1.1.1.1", t0 + 19 * SEC), 3, on_match, &h);
    assert_int_equal(h.correlations, 1);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_event_count_reports_every_event_but_lists_the_last_64(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs =
        load_set("title: bf\ncorrelation:\n  type: event_count\n  rules: failed_login\n"
                 "  group-by: IpAddress\n  timespan: 1h\n  condition:\n    gte: 100\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    for (int i = 0; i < 100; i++)
        trl_sigma_eval(rs, s, logon(4625, "a", "8.8.8.8", (1000 + i) * SEC), (uint64_t)i, on_match,
                       &h);
    assert_int_equal(h.correlations, 1);
    assert_int_equal(h.last_count, 100);
    assert_int_equal(h.last_nevents, 64);
    assert_int_equal(h.last_ids[0], 36);
    assert_int_equal(h.last_ids[63], 99);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_value_count_counts_distinct_values(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs =
        load_set("title: spray\ncorrelation:\n  type: value_count\n  rules: failed_login\n"
                 "  group-by: IpAddress\n  timespan: 5m\n  condition:\n    field: TargetUserName\n"
                 "    gt: 2\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    int64_t t0 = 1000 * SEC;
    const char *users[] = {"alice", "alice", "bob", "bob", "carol"};
    for (int i = 0; i < 5; i++)
        trl_sigma_eval(rs, s, logon(4625, users[i], "2.2.2.2", t0 + i * SEC), (uint64_t)i, on_match,
                       &h);
    assert_int_equal(h.correlations, 1);
    assert_string_equal(h.last_group, "IpAddress=2.2.2.2");
    /* Every event in the window made it fire, not only one per distinct value. */
    assert_int_equal(h.last_count, 5);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_temporal_needs_every_rule_in_any_order(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs =
        load_set("title: both\ncorrelation:\n  type: temporal\n  rules:\n    - successful_login\n"
                 "    - failed_login\n  group-by: TargetUserName\n  timespan: 1m\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    int64_t t0 = 1000 * SEC;
    trl_sigma_eval(rs, s, logon(4624, "root", "3.3.3.3", t0), 0, on_match, &h);
    trl_sigma_eval(rs, s, logon(4625, "other", "3.3.3.3", t0 + 1 * SEC), 1, on_match, &h);
    assert_int_equal(h.correlations, 0);
    trl_sigma_eval(rs, s, logon(4625, "root", "3.3.3.3", t0 + 2 * SEC), 2, on_match, &h);
    assert_int_equal(h.correlations, 1);
    assert_string_equal(h.last_group, "TargetUserName=root");
    assert_int_equal(h.last_count, 2);
    assert_int_equal(h.last_nevents, 2);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_temporal_ordered_requires_the_order(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs =
        load_set("title: fail then success\ncorrelation:\n  type: temporal_ordered\n  rules:\n"
                 "    - failed_login\n    - successful_login\n  group-by: TargetUserName\n"
                 "  timespan: 1m\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    int64_t t0 = 1000 * SEC;
    trl_sigma_eval(rs, s, logon(4624, "root", "4.4.4.4", t0), 0, on_match, &h);
    trl_sigma_eval(rs, s, logon(4625, "root", "4.4.4.4", t0 + 1 * SEC), 1, on_match, &h);
    assert_int_equal(h.correlations, 0);
    /* Too late: more than a minute after the failure. */
    trl_sigma_eval(rs, s, logon(4624, "root", "4.4.4.4", t0 + 62 * SEC), 2, on_match, &h);
    assert_int_equal(h.correlations, 0);
    trl_sigma_eval(rs, s, logon(4625, "root", "4.4.4.4", t0 + 70 * SEC), 3, on_match, &h);
    trl_sigma_eval(rs, s, logon(4624, "root", "4.4.4.4", t0 + 75 * SEC), 4, on_match, &h);
    assert_int_equal(h.correlations, 1);
    assert_int_equal(h.last_nevents, 2);
    assert_int_equal(h.last_count, 2);
    assert_int_equal(h.last_ids[0], 3);
    assert_int_equal(h.last_ids[1], 4);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_chained_correlations_from_the_specification(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs = load_set(
        "title: many failures then success\nid: c0000000-0000-0000-0000-000000000001\nlevel: high\n"
        "correlation:\n  type: temporal_ordered\n  rules:\n    - multiple_failed_login\n"
        "    - successful_login\n  group-by:\n    - TargetUserName\n  timespan: 10m\n"
        "---\n"
        "title: multiple failed\nname: multiple_failed_login\ncorrelation:\n  type: event_count\n"
        "  rules:\n    - failed_login\n  group-by:\n    - TargetUserName\n  timespan: 10m\n"
        "  condition:\n    gte: 3\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    int64_t t0 = 1000 * SEC;
    for (int i = 0; i < 3; i++)
        trl_sigma_eval(rs, s, logon(4625, "svc", "5.5.5.5", t0 + i * SEC), (uint64_t)i, on_match,
                       &h);
    assert_int_equal(h.correlations, 1); /* the inner event_count */
    assert_int_equal(h.last_count, 3);
    trl_sigma_eval(rs, s, logon(4624, "svc", "5.5.5.5", t0 + 10 * SEC), 3, on_match, &h);
    assert_int_equal(h.correlations, 2);
    assert_string_equal(h.last_title, "many failures then success");
    /* The three failures under the inner correlation and the success: four events. */
    assert_int_equal(h.last_count, 4);
    assert_int_equal(h.last_nevents, 2);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_aliases_map_different_fields_onto_one_group(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs = load_set(
        "title: same address\ncorrelation:\n  type: temporal\n  rules:\n    - failed_login\n"
        "    - successful_login\n  group-by:\n    - addr\n  timespan: 1m\n  aliases:\n    addr:\n"
        "      failed_login: IpAddress\n      successful_login: TargetUserName\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    trl_sigma_eval(rs, s, logon(4625, "x", "6.6.6.6", 1000 * SEC), 0, on_match, &h);
    trl_sigma_eval(rs, s, logon(4624, "6.6.6.6", "9.9.9.9", 1001 * SEC), 1, on_match, &h);
    assert_int_equal(h.correlations, 1);
    assert_string_equal(h.last_group, "addr=6.6.6.6");
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_generate_true_keeps_base_rule_alerts(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs = load_set(
        "title: bf\ncorrelation:\n  type: event_count\n  rules: failed_login\n"
        "  group-by: IpAddress\n  timespan: 1m\n  generate: true\n  condition:\n    gte: 2\n");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    struct hits h = {0};
    trl_sigma_eval(rs, s, logon(4625, "a", "7.7.7.7", 1000 * SEC), 0, on_match, &h);
    assert_int_equal(h.detections, 1);
    trl_sigma_scratch_destroy(s);
    trl_sigma_ruleset_destroy(rs);
}

static void test_unknown_reference_and_bad_timespan_are_reported(void **state)
{
    (void)state;
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    struct load_report rep = {0};
    const char *y1 = "title: x\ncorrelation:\n  type: event_count\n  rules: nope\n"
                     "  group-by: a\n  timespan: 1m\n  condition:\n    gte: 2\n";
    trl_sigma_load_buffer(rs, "c.yml", y1, strlen(y1), collect_report, &rep);
    trl_sigma_ruleset_finalize(rs, collect_report, &rep);
    assert_non_null(strstr(rep.last, "unknown rule 'nope'"));
    const char *y2 = "title: y\ncorrelation:\n  type: event_count\n  rules: nope\n"
                     "  group-by: a\n  timespan: 1w\n  condition:\n    gte: 2\n";
    trl_sigma_load_buffer(rs, "c.yml", y2, strlen(y2), collect_report, &rep);
    assert_non_null(strstr(rep.last, "timespan"));
    trl_sigma_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_count_fires_at_threshold_per_group_and_resets),
        cmocka_unit_test(test_event_count_window_slides_by_event_time),
        cmocka_unit_test(test_event_count_reports_every_event_but_lists_the_last_64),
        cmocka_unit_test(test_value_count_counts_distinct_values),
        cmocka_unit_test(test_temporal_needs_every_rule_in_any_order),
        cmocka_unit_test(test_temporal_ordered_requires_the_order),
        cmocka_unit_test(test_chained_correlations_from_the_specification),
        cmocka_unit_test(test_aliases_map_different_fields_onto_one_group),
        cmocka_unit_test(test_generate_true_keeps_base_rule_alerts),
        cmocka_unit_test(test_unknown_reference_and_bad_timespan_are_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
