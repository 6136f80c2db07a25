/* Reloading the rules (SIGHUP): unchanged correlations keep their windows, changed ones start
 * fresh, new rules apply at the next batch, and a broken rule file keeps its previous version. */
#include "detector_fixture.h"

static void reload(struct fixture *f)
{
    assert_int_equal(trl_detector_reload(f->det, f->paths, 1), 0);
}

#define FAILED_RULE                                                                                \
    "title: failed login\nid: 10000000-0000-0000-0000-000000000001\nname: failed_login\n"          \
    "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: ssh-login-failed\n"       \
    "  condition: sel\nlevel: low\n"

#define BRUTE_FORCE(threshold)                                                                     \
    "title: brute force\nid: 10000000-0000-0000-0000-000000000002\n"                               \
    "correlation:\n  type: event_count\n  rules: failed_login\n  group-by: source.ip\n"            \
    "  timespan: 10m\n  condition:\n    gte: " threshold "\nlevel: high\n"

#define OTHER_RULE                                                                                 \
    "title: user created\nid: 10000000-0000-0000-0000-000000000003\n"                              \
    "logsource:\n  product: linux\ndetection:\n  sel:\n    event.action: user-created\n"           \
    "  condition: sel\nlevel: medium\n"

static void test_reload_keeps_state_of_unchanged_correlation(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("6"));
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 3), 0);
    /* An unrelated rule is added; the comment and layout of the unchanged file do not matter. */
    write_rule(f, "ssh.yml", "# reviewed\n" FAILED_RULE "---\n" BRUTE_FORCE("6"));
    write_rule(f, "accounts.yml", OTHER_RULE);
    reload(f);
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 2), 0);
    /* The sixth failure: three before the reload count. */
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 1), 1);
    /* The new rule applies from the first batch after the reload. */
    assert_int_equal(feed(f, "user-created", "192.0.2.1", 1), 1);
}

static void test_reload_changed_correlation_starts_fresh(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("6"));
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 4), 0);
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("5"));
    reload(f);
    /* With the old windows, 4 + 1 would reach the new threshold of 5: they were dropped. */
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 4), 0);
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 1), 1);
}

static void test_reload_removed_rule_stops_matching(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "accounts.yml", OTHER_RULE);
    start(f);
    assert_int_equal(feed(f, "user-created", "192.0.2.1", 1), 1);
    char path[160];
    snprintf(path, sizeof(path), "%s/accounts.yml", f->rules);
    assert_int_equal(unlink(path), 0);
    reload(f);
    assert_int_equal(feed(f, "user-created", "192.0.2.1", 1), 0);
}

static void test_reload_broken_file_keeps_its_previous_version(void **state)
{
    struct fixture *f = *state;
    write_rule(f, "accounts.yml", OTHER_RULE);
    write_rule(f, "ssh.yml", FAILED_RULE "---\n" BRUTE_FORCE("3"));
    start(f);
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 2), 0);
    /* accounts.yml now has a YAML error, ssh.yml an invalid rule next to a valid one. */
    write_rule(f, "accounts.yml", "title: user created\ndetection: [unclosed\n");
    write_rule(f, "ssh.yml",
               FAILED_RULE "---\n" BRUTE_FORCE("3") "---\ntitle: broken\nlogsource: 7\n");
    reload(f);
    assert_int_equal(feed(f, "user-created", "192.0.2.1", 1), 1);
    /* ssh.yml is the same as before for the engine: its correlation kept its window. */
    assert_int_equal(feed(f, "ssh-login-failed", "203.0.113.45", 1), 1);
}

/* The same at the engine's level: adopting windows between two scratches. */
static void test_scratch_adopt_moves_only_identical_correlations(void **state)
{
    (void)state;
    const char *a = FAILED_RULE "---\n" BRUTE_FORCE("3");
    const char *b = FAILED_RULE "---\n" BRUTE_FORCE("3") "---\n" OTHER_RULE;
    const char *c = FAILED_RULE "---\n" BRUTE_FORCE("4");
    struct trl_sigma_ruleset *ra = trl_sigma_ruleset_create();
    struct trl_sigma_ruleset *rb = trl_sigma_ruleset_create();
    struct trl_sigma_ruleset *rc = trl_sigma_ruleset_create();
    trl_sigma_load_buffer(ra, "a.yml", a, strlen(a), NULL, NULL);
    trl_sigma_load_buffer(rb, "b.yml", b, strlen(b), NULL, NULL);
    trl_sigma_load_buffer(rc, "c.yml", c, strlen(c), NULL, NULL);
    trl_sigma_ruleset_finalize(ra, NULL, NULL);
    trl_sigma_ruleset_finalize(rb, NULL, NULL);
    trl_sigma_ruleset_finalize(rc, NULL, NULL);
    struct trl_sigma_scratch *sa = trl_sigma_scratch_create(ra);
    struct trl_sigma_scratch *sb = trl_sigma_scratch_create(rb);
    struct trl_sigma_scratch *sc = trl_sigma_scratch_create(rc);
    assert_int_equal(trl_sigma_scratch_adopt(sb, sa), 1);
    /* A changed threshold makes it another correlation. */
    assert_int_equal(trl_sigma_scratch_adopt(sc, sa), 0);
    assert_int_equal(trl_sigma_scratch_adopt(sc, sb), 0);
    trl_sigma_scratch_destroy(sa);
    trl_sigma_scratch_destroy(sb);
    trl_sigma_scratch_destroy(sc);
    trl_sigma_ruleset_destroy(ra);
    trl_sigma_ruleset_destroy(rb);
    trl_sigma_ruleset_destroy(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_keeps_state_of_unchanged_correlation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_changed_correlation_starts_fresh, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_removed_rule_stops_matching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_broken_file_keeps_its_previous_version, setup,
                                        teardown),
        cmocka_unit_test(test_scratch_adopt_moves_only_identical_correlations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
