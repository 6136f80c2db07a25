/* Alerts raised by Sigma correlations: the alert's count is the number of events that made the
 * correlation fire (not 1), its event ids list those events, and a repeat that folds into the
 * open alert adds its events to the count. A single-event detection still counts 1. */
#include "detector_fixture.h"

#include "detect/alerts.h"

#define IP "203.0.113.45"

#define FAILED_RULE                                                                                \
    "title: failed login\nid: 20000000-0000-0000-0000-000000000001\nname: failed_login\n"          \
    "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: ssh-login-failed\n"       \
    "  condition: sel\nlevel: low\n"

#define ACCEPTED_RULE                                                                              \
    "title: login\nid: 20000000-0000-0000-0000-000000000002\nname: ssh_login\n"                    \
    "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: ssh-login\n"              \
    "  condition: sel\nlevel: low\n"

#define BRUTE_FORCE(threshold)                                                                     \
    "title: brute force\nid: 20000000-0000-0000-0000-000000000003\n"                               \
    "correlation:\n  type: event_count\n  rules: failed_login\n  group-by: source.ip\n"            \
    "  timespan: 10m\n  condition:\n    gte: " threshold "\nlevel: high\n"

#define SPRAY                                                                                      \
    "title: many actions\nid: 20000000-0000-0000-0000-000000000004\n"                              \
    "correlation:\n  type: value_count\n  rules:\n    - failed_login\n    - ssh_login\n"           \
    "  group-by: source.ip\n  timespan: 10m\n  condition:\n    field: event.action\n"              \
    "    gte: 2\nlevel: high\n"

#define FAIL_THEN_LOGIN                                                                            \
    "title: failure then login\nid: 20000000-0000-0000-0000-000000000005\n"                        \
    "correlation:\n  type: temporal\n  rules:\n    - failed_login\n    - ssh_login\n"              \
    "  group-by: source.ip\n  timespan: 10m\nlevel: high\n"

struct listed {
    int n;
    int64_t count;
    char correlation[32];
    char event_ids[2048];
};

static void on_row(void *ud, const struct trl_alert_row *r)
{
    struct listed *l = ud;
    /* Newest first: the first row is the one the test looks at. */
    if (l->n++ == 0) {
        l->count = r->count;
        snprintf(l->correlation, sizeof(l->correlation), "%s",
                 r->correlation ? r->correlation : "");
        snprintf(l->event_ids, sizeof(l->event_ids), "%s", r->event_ids_json);
    }
}

/* The alerts stored so far for rule title, as `trapline alerts` and the API list them. */
static struct listed alerts_of(struct fixture *f, const char *title)
{
    struct trl_alert_store *s = trl_alert_store_open(f->data, 0, true);
    assert_non_null(s);
    struct listed l = {0};
    struct trl_alert_filter filter = {.rule = title};
    assert_true(trl_alert_store_list(s, &filter, on_row, &l) >= 0);
    trl_alert_store_close(s);
    return l;
}

static void test_event_count_alert_counts_every_event_in_the_window(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("5"));
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 4), 0);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 1), 1);
    struct listed l = alerts_of(f, "brute force");
    assert_int_equal(l.n, 1);
    assert_string_equal(l.correlation, "event_count");
    assert_int_equal(l.count, 5);
    assert_string_equal(l.event_ids, "[\"0000000000000100\",\"0000000000000101\","
                                     "\"0000000000000102\",\"0000000000000103\","
                                     "\"0000000000000104\"]");
}

static void test_event_count_alert_counts_more_events_than_it_lists(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("70"));
    start(f);
    for (int i = 0; i < 4; i++)
        assert_int_equal(feed(f, "ssh-login-failed", IP, 16), 0);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 6), 1);
    struct listed l = alerts_of(f, "brute force");
    assert_int_equal(l.count, 70);
    /* The last 64 of the 70 events are listed: ids 0x106 to 0x145. */
    assert_true(strncmp(l.event_ids, "[\"0000000000000106\",", 20) == 0);
    assert_non_null(strstr(l.event_ids, ",\"0000000000000145\"]"));
    size_t commas = 0;
    for (const char *p = l.event_ids; *p; p++)
        commas += *p == ',';
    assert_int_equal(commas, 63);
}

static void test_value_count_alert_counts_the_events_in_the_window(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" ACCEPTED_RULE "---\n" SPRAY);
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 3), 0);
    assert_int_equal(feed(f, "ssh-login", IP, 1), 1);
    struct listed l = alerts_of(f, "many actions");
    assert_string_equal(l.correlation, "value_count");
    assert_int_equal(l.count, 4);
}

static void test_temporal_alert_counts_one_event_per_rule(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" ACCEPTED_RULE "---\n" FAIL_THEN_LOGIN);
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 1), 0);
    assert_int_equal(feed(f, "ssh-login", IP, 1), 1);
    struct listed l = alerts_of(f, "failure then login");
    assert_string_equal(l.correlation, "temporal");
    assert_int_equal(l.count, 2);
    assert_string_equal(l.event_ids, "[\"0000000000000100\",\"0000000000000101\"]");
}

static void test_folded_correlation_alert_adds_its_events(void **state)
{
    struct fixture *f = *state;
    f->fold_window_ns = 3600 * SEC;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("3"));
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 3), 1);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 3), 1);
    struct listed l = alerts_of(f, "brute force");
    assert_int_equal(l.n, 1);
    assert_int_equal(l.count, 6);
}

static void test_single_event_detection_counts_one(void **state)
{
    struct fixture *f = *state;
    f->fold_window_ns = 3600 * SEC;
    write_rule(f, "ssh.yml", ACCEPTED_RULE);
    start(f);
    assert_int_equal(feed(f, "ssh-login", IP, 1), 1);
    struct listed l = alerts_of(f, "login");
    assert_int_equal(l.count, 1);
    assert_string_equal(l.correlation, "");
    assert_string_equal(l.event_ids, "[\"0000000000000100\"]");
    assert_int_equal(feed(f, "ssh-login", IP, 2), 2);
    assert_int_equal(alerts_of(f, "login").count, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_count_alert_counts_every_event_in_the_window,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_count_alert_counts_more_events_than_it_lists,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_count_alert_counts_the_events_in_the_window,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_temporal_alert_counts_one_event_per_rule, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_folded_correlation_alert_adds_its_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_single_event_detection_counts_one, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
