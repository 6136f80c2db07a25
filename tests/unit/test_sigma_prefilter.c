/* The rule prefilter: which rules it lets skip, and that a skipped rule is one that could not
 * match (every case below also checks the match itself). */
#include "sigma_test_util.h"

#include "detect/sigma_prefilter.h"

#include "arena_fixture.h"

/* Loads `sel`-based detection text under a process_creation head, reports whether the prefilter
 * may skip the rule (it has atoms) and whether it matches Image=image, CommandLine=cmd. */
static bool check(const char *detection, const char *image, const char *cmd, bool *selective)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), PROC_RULE_HEAD "%s", detection);
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    *selective = sigma_prefilter_selective_rules(rs) == 1;
    struct trl_event *ev = sysmon1(arena, "Image", image, "CommandLine", cmd, NULL);
    bool m = matches(rs, ev);
    trl_sigma_ruleset_destroy(rs);
    return m;
}

static void test_literal_values_make_a_rule_selective_and_still_match(void **state)
{
    (void)state;
    bool sel;
    const char *rule = "  sel:\n    CommandLine|contains: 'Invoke-Mimikatz'\n  condition: sel\n";
    assert_true(check(rule, "", "powershell INVOKE-mimikatz -x", &sel));
    assert_true(sel);
    assert_false(check(rule, "", "powershell Get-Date", &sel));
    /* A cased value needs its exact case, which the case-blind prefilter lets through to it. */
    rule = "  sel:\n    CommandLine|contains|cased: 'Invoke'\n  condition: sel\n";
    assert_false(check(rule, "", "invoke", &sel));
    assert_true(check(rule, "", "Invoke", &sel));
}

static void test_a_wildcard_pattern_needs_its_longest_fixed_part(void **state)
{
    (void)state;
    bool sel;
    /* In the rule, `\\*` is a backslash and then the wildcard, and a backslash before an
     * ordinary character is itself: the atom keeps both backslashes. */
    const char *rule = "  sel:\n    Image: 'C:\\Windows\\\\*\\cmd.exe'\n  condition: sel\n";
    assert_true(check(rule, "c:\\windows\\system32\\CMD.exe", "", &sel));
    assert_true(sel);
    assert_false(check(rule, "c:\\windows\\system32\\pwsh.exe", "", &sel));
    rule = "  sel:\n    CommandLine: '*what\\?*x'\n  condition: sel\n";
    assert_true(check(rule, "", "so what? then x", &sel));
    assert_true(sel);
}

static void test_conditions_that_promise_no_literal_are_always_evaluated(void **state)
{
    (void)state;
    bool sel;
    const char *rule = "  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: not sel\n";
    assert_true(check(rule, "C:\\x\\pwsh.exe", "", &sel));
    assert_false(sel);
    rule = "  sel:\n    CommandLine|re: 'a.c'\n  condition: sel\n";
    assert_true(check(rule, "", "xabcx", &sel));
    assert_false(sel);
    /* One alternative without a literal makes the whole OR need none. */
    rule = "  a:\n    CommandLine|contains: 'mimikatz'\n  b:\n    CommandLine|re: 'x+y'\n"
           "  condition: a or b\n";
    assert_true(check(rule, "", "xxy", &sel));
    assert_false(sel);
    /* Values too short to be selective. */
    rule = "  sel:\n    CommandLine|contains: '-e'\n  condition: sel\n";
    assert_true(check(rule, "", "ps -e", &sel));
    assert_false(sel);
}

static void test_and_needs_only_one_side_and_all_one_value(void **state)
{
    (void)state;
    bool sel;
    const char *rule = "  a:\n    CommandLine|re: 'x+y'\n  b:\n    Image|endswith: '\\wmic.exe'\n"
                       "  condition: a and b\n";
    assert_true(check(rule, "C:\\w\\WMIC.exe", "xxy", &sel));
    assert_true(sel);
    assert_false(check(rule, "C:\\w\\cmd.exe", "xxy", &sel));
    rule = "  sel:\n    CommandLine|contains|all:\n      - 'vssadmin'\n      - 'delete'\n"
           "  condition: sel\n";
    assert_true(check(rule, "", "vssadmin.exe delete shadows", &sel));
    assert_true(sel);
    assert_false(check(rule, "", "vssadmin list shadows", &sel));
}

static void test_keywords_are_found_in_the_original_text(void **state)
{
    (void)state;
    const char *yaml = "title: t\nid: 00000000-0000-0000-0000-000000000002\nlevel: high\n"
                       "logsource:\n  product: linux\ndetection:\n  keywords:\n"
                       "    - 'base64 -d'\n  condition: keywords\n";
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    assert_int_equal(sigma_prefilter_selective_rules(rs), 1);
    const char *line = "echo aGk= | BASE64 -d | sh";
    struct trl_event *ev = trl_event_create(arena, line, strlen(line), 0);
    assert_true(matches(rs, ev));
    const char *other = "echo hello";
    ev = trl_event_create(arena, other, strlen(other), 0);
    assert_false(matches(rs, ev));
    trl_sigma_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_values_make_a_rule_selective_and_still_match),
        cmocka_unit_test(test_a_wildcard_pattern_needs_its_longest_fixed_part),
        cmocka_unit_test(test_conditions_that_promise_no_literal_are_always_evaluated),
        cmocka_unit_test(test_and_needs_only_one_side_and_all_one_value),
        cmocka_unit_test(test_keywords_are_found_in_the_original_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
