#include "sigma_test_util.h"

#include "arena_fixture.h"

/* Searches a, b, c, sel_x, sel_y, notepad_sel, _hidden each test CommandLine|contains their own
 * name; the event's command line says which of them hold. */
static bool cond_matches(const char *condition, const char *cmdline)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             PROC_RULE_HEAD "  a:\n    CommandLine|contains: '[a]'\n"
                            "  b:\n    CommandLine|contains: '[b]'\n"
                            "  c:\n    CommandLine|contains: '[c]'\n"
                            "  sel_x:\n    CommandLine|contains: '[x]'\n"
                            "  sel_y:\n    CommandLine|contains: '[y]'\n"
                            "  notepad_sel:\n    CommandLine|contains: '[n]'\n"
                            "  _hidden:\n    CommandLine|contains: '[h]'\n"
                            "  condition: %s\n",
             condition);
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    bool m = matches(rs, sysmon1(arena, "CommandLine", cmdline, NULL));
    trl_sigma_ruleset_destroy(rs);
    return m;
}

static void test_not_binds_tighter_than_and_tighter_than_or(void **state)
{
    (void)state;
    /* a or (b and (not c)) */
    assert_true(cond_matches("a or b and not c", "[a][c]"));
    assert_true(cond_matches("a or b and not c", "[b]"));
    assert_false(cond_matches("a or b and not c", "[b][c]"));
    assert_false(cond_matches("(a or b) and not c", "[a][c]"));
}

static void test_parentheses_and_double_not(void **state)
{
    (void)state;
    assert_true(cond_matches("not not a", "[a]"));
    assert_true(cond_matches("not (a and b)", "[a]"));
    assert_false(cond_matches("not (a or b)", "[a]"));
    assert_true(cond_matches("((a))", "[a]"));
}

static void test_one_of_and_all_of_patterns(void **state)
{
    (void)state;
    assert_true(cond_matches("1 of sel_*", "[y]"));
    assert_false(cond_matches("all of sel_*", "[y]"));
    assert_true(cond_matches("all of sel_*", "[x][y]"));
    assert_true(cond_matches("any of sel_*", "[x]"));
    assert_true(cond_matches("a and not 1 of sel*", "[a]"));
}

static void test_them_excludes_underscore_identifiers(void **state)
{
    (void)state;
    assert_false(cond_matches("1 of them", "[h]"));
    assert_true(cond_matches("1 of them", "[b]"));
    assert_false(cond_matches("all of them", "[a][b][c][x][y]"));
    assert_true(cond_matches("all of them", "[a][b][c][x][y][n]"));
}

static void test_identifier_starting_with_not_is_an_identifier(void **state)
{
    (void)state;
    assert_true(cond_matches("notepad_sel", "[n]"));
    assert_false(cond_matches("not notepad_sel", "[n]"));
    assert_true(cond_matches("a and not notepad_sel", "[a]"));
}

static void test_condition_list_is_ored(void **state)
{
    (void)state;
    assert_true(cond_matches("\n    - a\n    - b", "[b]"));
    assert_false(cond_matches("\n    - a\n    - b", "[c]"));
}

static void test_condition_errors_name_the_column(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), PROC_RULE_HEAD "  a:\n    Image: x\n  condition: a and (b\n");
    struct load_report r = reject_reason(yaml);
    assert_non_null(strstr(r.last, "column 8"));
    assert_non_null(strstr(r.last, "unknown search identifier 'b'"));
    snprintf(yaml, sizeof(yaml), PROC_RULE_HEAD "  a:\n    Image: x\n  condition: a and\n");
    r = reject_reason(yaml);
    assert_non_null(strstr(r.last, "unexpected end of condition"));
    snprintf(yaml, sizeof(yaml), PROC_RULE_HEAD "  a:\n    Image: x\n  condition: 1 of z*\n");
    r = reject_reason(yaml);
    assert_non_null(strstr(r.last, "no search identifier matches 'z*'"));
    snprintf(yaml, sizeof(yaml), PROC_RULE_HEAD "  a:\n    Image: x\n  condition: a b\n");
    r = reject_reason(yaml);
    assert_non_null(strstr(r.last, "unexpected text"));
    snprintf(yaml, sizeof(yaml),
             PROC_RULE_HEAD "  a:\n    Image: x\n  condition: a | count() > 3\n");
    r = reject_reason(yaml);
    assert_true(r.unsupported);
}

static void test_list_of_maps_is_or_and_map_is_and(void **state)
{
    (void)state;
    const char *yaml = PROC_RULE_HEAD "  sel:\n    - Image|endswith: '\\a.exe'\n"
                                      "      CommandLine|contains: 'x'\n"
                                      "    - Image|endswith: '\\b.exe'\n"
                                      "  condition: sel\n";
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    assert_true(matches(rs, sysmon1(arena, "Image", "C:\\a.exe", "CommandLine", "x", NULL)));
    assert_false(matches(rs, sysmon1(arena, "Image", "C:\\a.exe", "CommandLine", "y", NULL)));
    assert_true(matches(rs, sysmon1(arena, "Image", "C:\\b.exe", "CommandLine", "y", NULL)));
    trl_sigma_ruleset_destroy(rs);
}

static void test_logsource_limits_which_events_a_rule_sees(void **state)
{
    (void)state;
    const char *yaml =
        PROC_RULE_HEAD "  sel:\n    CommandLine|contains: whoami\n  condition: sel\n";
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    struct trl_event *ev = sysmon1(arena, "CommandLine", "whoami /all", NULL);
    assert_true(matches(rs, ev));
    trl_event_set_str(ev, TRL_F_WINLOG_EVENT_ID, "3"); /* a network connection, not a process */
    assert_false(matches(rs, ev));
    /* Security 4688 is process creation too, with NewProcessName as Image. */
    struct trl_event *sec = trl_event_create(arena, "{}", 2, 0);
    trl_event_set_str(sec, TRL_F_WINLOG_EVENT_ID, "4688");
    trl_event_set_str(sec, TRL_F_WINLOG_CHANNEL, "Security");
    trl_event_set_named(sec, "winlog.event_data.CommandLine", 29, "whoami", 6);
    assert_true(matches(rs, sec));
    trl_sigma_ruleset_destroy(rs);
}

static void test_sigma_filter_excludes_matching_events_from_its_rules(void **state)
{
    (void)state;
    const char *yaml =
        PROC_RULE_HEAD "  sel:\n    CommandLine|contains: rar\n  condition: sel\n"
                       "---\n"
                       "title: admins may compress\nlogsource:\n  product: windows\n"
                       "  category: process_creation\nfilter:\n  rules:\n"
                       "    - 00000000-0000-0000-0000-000000000001\n"
                       "  selection:\n    User|startswith: 'adm_'\n  condition: selection\n";
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    struct load_report rep = {0};
    assert_int_equal(trl_sigma_load_buffer(rs, "f.yml", yaml, strlen(yaml), collect_report, &rep),
                     2);
    trl_sigma_ruleset_finalize(rs, collect_report, &rep);
    assert_int_equal(rep.problems, 0);
    assert_true(matches(rs, sysmon1(arena, "CommandLine", "rar a x.rar", "User", "bob", NULL)));
    assert_false(
        matches(rs, sysmon1(arena, "CommandLine", "rar a x.rar", "User", "adm_bob", NULL)));
    trl_sigma_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_binds_tighter_than_and_tighter_than_or),
        cmocka_unit_test(test_parentheses_and_double_not),
        cmocka_unit_test(test_one_of_and_all_of_patterns),
        cmocka_unit_test(test_them_excludes_underscore_identifiers),
        cmocka_unit_test(test_identifier_starting_with_not_is_an_identifier),
        cmocka_unit_test(test_condition_list_is_ored),
        cmocka_unit_test(test_condition_errors_name_the_column),
        cmocka_unit_test(test_list_of_maps_is_or_and_map_is_and),
        cmocka_unit_test(test_logsource_limits_which_events_a_rule_sees),
        cmocka_unit_test(test_sigma_filter_excludes_matching_events_from_its_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
