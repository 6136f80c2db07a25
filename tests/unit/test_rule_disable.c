/* Turning rules off and on (DATA/rules-state.json): a rule that is off raises nothing and feeds no
 * correlation, a correlation that is off fires nothing, the state applies at the next batch without
 * a reload and survives reloads, and the detector counts matches per rule across reloads. */
#include "detector_fixture.h"
#include "detect/rule_state.h"

#define FAILED_ID "10000000-0000-0000-0000-000000000001"
#define BRUTE_ID  "10000000-0000-0000-0000-000000000002"
#define OTHER_ID  "10000000-0000-0000-0000-000000000003"

#define FAILED_RULE                                                                                \
    "title: failed login\nid: " FAILED_ID "\nname: failed_login\n"                                 \
    "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: ssh-login-failed\n"       \
    "  condition: sel\nlevel: low\n"

#define BRUTE_FORCE                                                                                \
    "title: brute force\nid: " BRUTE_ID "\n"                                                       \
    "correlation:\n  type: event_count\n  rules: failed_login\n  group-by: source.ip\n"            \
    "  timespan: 10m\n  condition:\n    gte: 3\nlevel: high\n"

#define OTHER_RULE                                                                                 \
    "title: user created\nid: " OTHER_ID "\n"                                                      \
    "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: user-created\n"           \
    "  condition: sel\nlevel: medium\n"

#define IP "203.0.113.45"

/* Starts the detector with the rules of yaml. */
static void start_with(struct fixture *f, const char *yaml)
{
    write_rule(f, "rules.yml", yaml);
    start(f);
}

/* Turns a rule off or on the way the API does: saved state, then the detector told. */
static void set_enabled(struct fixture *f, const char *id, bool enabled)
{
    bool changed = false;
    assert_int_equal(trl_rule_state_set(f->data, id, enabled, &changed), 0);
    assert_true(changed);
    assert_int_equal(trl_detector_load_rule_state(f->det), 0);
}

static void test_disabled_rule_raises_no_alert_until_enabled(void **state)
{
    struct fixture *f = *state;
    start_with(f, OTHER_RULE);
    assert_int_equal(feed(f, "user-created", IP, 1), 1);
    set_enabled(f, OTHER_ID, false);
    assert_false(trl_detector_rule_enabled(f->det, OTHER_ID));
    assert_int_equal(feed(f, "user-created", IP, 2), 0);
    set_enabled(f, OTHER_ID, true);
    assert_true(trl_detector_rule_enabled(f->det, OTHER_ID));
    assert_int_equal(feed(f, "user-created", IP, 1), 1);
}

static void test_disabled_rule_feeds_no_correlation(void **state)
{
    struct fixture *f = *state;
    start_with(f, FAILED_RULE "---\n" BRUTE_FORCE);
    set_enabled(f, FAILED_ID, false);
    /* Five failures, none counted: the correlation's window stays empty. */
    assert_int_equal(feed(f, "ssh-login-failed", IP, 5), 0);
    set_enabled(f, FAILED_ID, true);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 2), 0);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 1), 1);
}

static void test_disabled_correlation_fires_nothing(void **state)
{
    struct fixture *f = *state;
    start_with(f, FAILED_RULE "---\n" BRUTE_FORCE);
    set_enabled(f, BRUTE_ID, false);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 6), 0);
    set_enabled(f, BRUTE_ID, true);
    assert_int_equal(feed(f, "ssh-login-failed", IP, 3), 1);
}

static void test_state_at_start_and_across_reload(void **state)
{
    struct fixture *f = *state;
    /* Turned off before the server starts (`trapline rules disable`). */
    assert_int_equal(trl_rule_state_set(f->data, OTHER_ID, false, NULL), 0);
    start_with(f, OTHER_RULE);
    assert_int_equal(feed(f, "user-created", IP, 1), 0);
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
    assert_int_equal(feed(f, "user-created", IP, 1), 0);
    /* Turned on while running, then a reload (SIGHUP) reads the same state. */
    assert_int_equal(trl_rule_state_set(f->data, OTHER_ID, true, NULL), 0);
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
    assert_int_equal(feed(f, "user-created", IP, 1), 1);
}

struct hits {
    uint64_t other;
    bool other_enabled;
    int rules;
};

static void collect_hits(void *ud, const char *id, bool enabled, uint64_t n)
{
    struct hits *h = ud;
    h->rules++;
    if (!strcmp(id, OTHER_ID)) {
        h->other = n;
        h->other_enabled = enabled;
    }
}

static void test_hits_count_matches_across_reload(void **state)
{
    struct fixture *f = *state;
    start_with(f, OTHER_RULE "---\n" FAILED_RULE "---\n" BRUTE_FORCE);
    assert_int_equal(feed(f, "user-created", IP, 3), 3);
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
    assert_int_equal(feed(f, "user-created", IP, 2), 2);
    set_enabled(f, OTHER_ID, false);
    assert_int_equal(feed(f, "user-created", IP, 2), 0);
    struct hits h = {0};
    trl_detector_each_rule(f->det, collect_hits, &h);
    assert_int_equal(h.rules, 3);
    assert_int_equal(h.other, 5);
    assert_false(h.other_enabled);
    uint64_t events, ns;
    trl_detector_get_eval_stats(f->det, &events, &ns);
    assert_int_equal(events, 7);
    assert_true(ns > 0);
}

static void test_rule_state_file(void **state)
{
    struct fixture *f = *state;
    struct trl_rule_state st;
    /* No file: every rule on. */
    assert_int_equal(trl_rule_state_load(f->data, &st), 0);
    assert_int_equal(st.ndisabled, 0);
    bool changed;
    assert_int_equal(trl_rule_state_set(f->data, "b", false, &changed), 0);
    assert_true(changed);
    assert_int_equal(trl_rule_state_set(f->data, "a", false, &changed), 0);
    assert_int_equal(trl_rule_state_set(f->data, "a", false, &changed), 0);
    assert_false(changed);
    assert_int_equal(trl_rule_state_load(f->data, &st), 0);
    assert_int_equal(st.ndisabled, 2);
    assert_string_equal(st.disabled[0], "a");
    assert_true(trl_rule_state_is_disabled(&st, "b"));
    assert_false(trl_rule_state_is_disabled(&st, "c"));
    trl_rule_state_free(&st);
    assert_int_equal(trl_rule_state_set(f->data, "a", true, &changed), 0);
    assert_true(changed);
    assert_int_equal(trl_rule_state_set(f->data, "zzz", true, &changed), 0);
    assert_false(changed);

    /* A hand-edited file with duplicates and non-strings; then a broken one. */
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", f->data, TRL_RULE_STATE_FILE);
    FILE *fp = fopen(path, "w");
    fputs("{\"disabled\": [\"x\", 7, \"x\", \"\", \"w\"]}", fp);
    fclose(fp);
    assert_int_equal(trl_rule_state_load(f->data, &st), 0);
    assert_int_equal(st.ndisabled, 2);
    assert_string_equal(st.disabled[0], "w");
    assert_string_equal(st.disabled[1], "x");
    trl_rule_state_free(&st);
    assert_int_equal(trl_rule_state_set(f->data, "x", true, NULL), 0);
    assert_int_equal(trl_rule_state_load(f->data, &st), 0);
    assert_int_equal(st.ndisabled, 1);
    trl_rule_state_free(&st);
    fp = fopen(path, "w");
    fputs("{\"disabled\": [\"x\"", fp);
    fclose(fp);
    assert_int_not_equal(trl_rule_state_load(f->data, &st), 0);
    assert_int_equal(st.ndisabled, 0);
    /* A broken file is not overwritten by a change: the change fails. */
    assert_int_not_equal(trl_rule_state_set(f->data, "y", false, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disabled_rule_raises_no_alert_until_enabled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_disabled_rule_feeds_no_correlation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_correlation_fires_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_at_start_and_across_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hits_count_matches_across_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_state_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
