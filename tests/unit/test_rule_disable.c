/* Turning rules off and on (DATA/rules-state.json): a rule that is off raises nothing and feeds no
 * correlation, a correlation that is off fires nothing, the state applies at the next batch without
 * a reload and survives reloads, and the detector counts matches per rule across reloads. */
#include "trl_test.h"

#include "detect/detector.h"
#include "detect/rule_state.h"
#include "detect/sigma.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC 1000000000LL

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

struct fixture {
    char dir[64];
    char rules[96];
    char data[96];
    const char *paths[1];
    struct trl_arena *arena;
    struct trl_detector *det;
    uint64_t next_id;
    int64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trl-disable-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->rules, sizeof(f->rules), "%s/rules", f->dir);
    snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
    assert_int_equal(mkdir(f->rules, 0700), 0);
    assert_int_equal(mkdir(f->data, 0700), 0);
    f->paths[0] = f->rules;
    f->arena = trl_arena_create(0);
    f->next_id = 0x100;
    f->now = 1795773600LL * SEC;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_detector_destroy(f->det);
    trl_arena_destroy(f->arena);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void start(struct fixture *f, const char *yaml)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/rules.yml", f->rules);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
    struct trl_detector_config c = {.rule_paths = f->paths, .nrule_paths = 1, .data_dir = f->data};
    f->det = trl_detector_create(&c);
    assert_non_null(f->det);
}

/* Runs one batch of n events with event.action action from one address, one second apart.
 * Returns how many alerts the batch raised. */
static uint64_t feed(struct fixture *f, const char *action, int n)
{
    struct trl_event *evs[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        f->now += SEC;
        struct trl_event *ev = trl_event_create(f->arena, "{}", 2, f->now);
        ev->timestamp_ns = f->now;
        char id[17];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)f->next_id++);
        trl_event_set_str(ev, TRL_F_EVENT_ID, id);
        trl_event_set_str(ev, TRL_F_EVENT_ACTION, action);
        trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.45");
        evs[i] = ev;
    }
    struct trl_batch b = {.arena = f->arena, .events = evs, .nevents = (uint32_t)n};
    struct trl_detector_stats before, after;
    trl_detector_get_stats(f->det, &before);
    assert_int_equal(trl_detector_process(f->det, &b), 0);
    trl_detector_get_stats(f->det, &after);
    return after.matches - before.matches;
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
    start(f, OTHER_RULE);
    assert_int_equal(feed(f, "user-created", 1), 1);
    set_enabled(f, OTHER_ID, false);
    assert_false(trl_detector_rule_enabled(f->det, OTHER_ID));
    assert_int_equal(feed(f, "user-created", 2), 0);
    set_enabled(f, OTHER_ID, true);
    assert_true(trl_detector_rule_enabled(f->det, OTHER_ID));
    assert_int_equal(feed(f, "user-created", 1), 1);
}

static void test_disabled_rule_feeds_no_correlation(void **state)
{
    struct fixture *f = *state;
    start(f, FAILED_RULE "---\n" BRUTE_FORCE);
    set_enabled(f, FAILED_ID, false);
    /* Five failures, none counted: the correlation's window stays empty. */
    assert_int_equal(feed(f, "ssh-login-failed", 5), 0);
    set_enabled(f, FAILED_ID, true);
    assert_int_equal(feed(f, "ssh-login-failed", 2), 0);
    assert_int_equal(feed(f, "ssh-login-failed", 1), 1);
}

static void test_disabled_correlation_fires_nothing(void **state)
{
    struct fixture *f = *state;
    start(f, FAILED_RULE "---\n" BRUTE_FORCE);
    set_enabled(f, BRUTE_ID, false);
    assert_int_equal(feed(f, "ssh-login-failed", 6), 0);
    set_enabled(f, BRUTE_ID, true);
    assert_int_equal(feed(f, "ssh-login-failed", 3), 1);
}

static void test_state_at_start_and_across_reload(void **state)
{
    struct fixture *f = *state;
    /* Turned off before the server starts (`trapline rules disable`). */
    assert_int_equal(trl_rule_state_set(f->data, OTHER_ID, false, NULL), 0);
    start(f, OTHER_RULE);
    assert_int_equal(feed(f, "user-created", 1), 0);
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
    assert_int_equal(feed(f, "user-created", 1), 0);
    /* Turned on while running, then a reload (SIGHUP) reads the same state. */
    assert_int_equal(trl_rule_state_set(f->data, OTHER_ID, true, NULL), 0);
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
    assert_int_equal(feed(f, "user-created", 1), 1);
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
    start(f, OTHER_RULE "---\n" FAILED_RULE "---\n" BRUTE_FORCE);
    assert_int_equal(feed(f, "user-created", 3), 3);
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
    assert_int_equal(feed(f, "user-created", 2), 2);
    set_enabled(f, OTHER_ID, false);
    assert_int_equal(feed(f, "user-created", 2), 0);
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
