#include "sigma_test_util.h"

#include "arena_fixture.h"

/* Evaluates a one-selection rule `sel: {KEY: VALUE}` against Image=image, CommandLine=cmd. */
static bool rule_matches(const char *selection, const char *image, const char *cmd)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), PROC_RULE_HEAD "  sel:\n%s\n  condition: sel\n", selection);
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    struct trl_event *ev = sysmon1(arena, "Image", image, "CommandLine", cmd, NULL);
    bool m = matches(rs, ev);
    trl_sigma_ruleset_destroy(rs);
    return m;
}

static void test_plain_value_is_whole_and_case_insensitive(void **state)
{
    (void)state;
    assert_true(rule_matches("    Image: 'C:\\Windows\\System32\\cmd.exe'",
                             "c:\\windows\\system32\\CMD.EXE", ""));
    assert_false(rule_matches("    Image: 'cmd.exe'", "C:\\Windows\\System32\\cmd.exe", ""));
}

static void test_wildcards_and_escapes(void **state)
{
    (void)state;
    assert_true(rule_matches("    Image: '*\\cmd.exe'", "C:\\Windows\\System32\\cmd.exe", ""));
    assert_true(rule_matches("    CommandLine: 'a?c*z'", "", "abcXYZ"));
    assert_false(rule_matches("    CommandLine: 'a?c'", "", "ac"));
    assert_true(rule_matches("    CommandLine: 'what\\?'", "", "what?"));
    assert_false(rule_matches("    CommandLine: 'what\\?'", "", "whatx"));
    assert_true(rule_matches("    CommandLine: 'star\\*'", "", "STAR*"));
}

static void test_contains_startswith_endswith(void **state)
{
    (void)state;
    assert_true(rule_matches("    CommandLine|contains: 'Invoke-Mimikatz'", "",
                             "powershell invoke-mimikatz -x"));
    assert_true(
        rule_matches("    Image|endswith: '\\powershell.exe'", "C:\\x\\PowerShell.exe", ""));
    assert_true(rule_matches("    Image|startswith: 'C:\\Users\\'", "c:\\users\\bob\\a.exe", ""));
    assert_false(rule_matches("    Image|startswith: 'C:\\Users\\'", "D:\\users\\bob\\a.exe", ""));
}

static void test_all_requires_every_value(void **state)
{
    (void)state;
    const char *sel = "    CommandLine|contains|all:\n      - ' -enc '\n      - 'bypass'";
    assert_true(rule_matches(sel, "", "ps -ExecutionPolicy Bypass -enc AAA"));
    assert_false(rule_matches(sel, "", "ps -ExecutionPolicy Bypass"));
}

static void test_cased_is_case_sensitive(void **state)
{
    (void)state;
    assert_true(rule_matches("    CommandLine|cased: 'ABC'", "", "ABC"));
    assert_false(rule_matches("    CommandLine|cased: 'ABC'", "", "abc"));
}

static void test_re_is_unanchored_and_flags_work(void **state)
{
    (void)state;
    assert_true(
        rule_matches("    CommandLine|re: 'curl\\s+-[a-z]*O'", "", "sh -c curl -sO http://x"));
    assert_false(rule_matches("    CommandLine|re: 'CURL'", "", "curl"));
    assert_true(rule_matches("    CommandLine|re|i: 'CURL'", "", "curl"));
    assert_true(rule_matches("    CommandLine|re|s: 'a.b'", "", "a\nb"));
    assert_false(rule_matches("    CommandLine|re: 'a.b'", "", "a\nb"));
    assert_true(rule_matches("    CommandLine|re|m: '^b$'", "", "a\nb\nc"));
}

static void test_base64_and_base64offset(void **state)
{
    (void)state;
    /* base64("IEX") = "SUVY" */
    assert_true(rule_matches("    CommandLine|base64|contains: 'IEX'", "", "-enc SUVYKG5ldy"));
    /* "IEX" at offsets 1 and 2 inside a larger base64 string */
    assert_true(
        rule_matches("    CommandLine|base64offset|contains: 'http://'", "", "x aHR0cDovL y"));
    assert_true(
        rule_matches("    CommandLine|base64offset|contains: 'http://'", "", "IGh0dHA6Ly9"));
    assert_true(
        rule_matches("    CommandLine|base64offset|contains: 'http://'", "", "ICBodHRwOi8v"));
}

static void test_wide_then_base64(void **state)
{
    (void)state;
    /* base64(utf16le("cmd")) = "YwBtAGQA" */
    assert_true(rule_matches("    CommandLine|wide|base64|contains: 'cmd'", "", "-e YwBtAGQA"));
    assert_true(rule_matches("    CommandLine|utf16le|base64|contains: 'cmd'", "", "YwBtAGQA"));
    /* utf16be: "AGMAbQBk" */
    assert_true(rule_matches("    CommandLine|utf16be|base64|contains: 'cmd'", "", "AGMAbQBk"));
    /* utf16 with BOM FF FE: base64 = "//5jAG0AZAA=" */
    assert_true(rule_matches("    CommandLine|utf16|base64: 'cmd'", "", "//5jAG0AZAA="));
}

static void test_windash_expands_flag_dashes(void **state)
{
    (void)state;
    const char *sel = "    CommandLine|windash|contains: ' -nop '";
    assert_true(rule_matches(sel, "", "powershell -nop -w hidden"));
    assert_true(rule_matches(sel, "", "powershell /nop -w hidden"));
    assert_true(rule_matches(sel, "", "powershell \xE2\x80\x93nop -w hidden"));
    assert_false(rule_matches(sel, "", "powershell +nop -w hidden"));
}

static void test_numeric_comparisons(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             PROC_RULE_HEAD "  sel:\n    ProcessId|gte: 1000\n    ProcessId|lt: 2000\n"
                            "  condition: sel\n");
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    assert_true(matches(rs, sysmon1(arena, "ProcessId", "1500", NULL)));
    assert_false(matches(rs, sysmon1(arena, "ProcessId", "2000", NULL)));
    assert_false(matches(rs, sysmon1(arena, "ProcessId", "abc", NULL)));
    trl_sigma_ruleset_destroy(rs);
    assert_true(rule_matches("    CommandLine: 4624", "", "4624"));
    assert_true(rule_matches("    CommandLine: 10", "", "10.0"));
}

static void test_cidr(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             PROC_RULE_HEAD "  sel:\n    SourceIp|cidr:\n      - 10.0.0.0/8\n      - 'fd00::/8'\n"
                            "  condition: sel\n");
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    assert_true(matches(rs, sysmon1(arena, "SourceIp", "10.20.1.15", NULL)));
    assert_true(matches(rs, sysmon1(arena, "SourceIp", "fd12::1", NULL)));
    assert_false(matches(rs, sysmon1(arena, "SourceIp", "11.0.0.1", NULL)));
    assert_false(matches(rs, sysmon1(arena, "SourceIp", "not-an-ip", NULL)));
    trl_sigma_ruleset_destroy(rs);
}

static void test_exists_null_and_neq(void **state)
{
    (void)state;
    assert_true(rule_matches("    CommandLine|exists: true", "", "x"));
    assert_false(rule_matches("    OriginalFileName|exists: true", "", "x"));
    assert_true(rule_matches("    OriginalFileName|exists: false", "", "x"));
    assert_true(rule_matches("    OriginalFileName: null", "", "x"));
    assert_false(rule_matches("    CommandLine: null", "", "x"));
    assert_true(rule_matches("    CommandLine: null", "", ""));
    assert_true(rule_matches("    CommandLine|neq: 'a'", "", "b"));
    assert_false(rule_matches("    CommandLine|neq: 'a'", "", "A"));
    assert_true(rule_matches("    Missing|neq: 'a'", "", "b"));
    assert_false(rule_matches("    CommandLine|neq:\n      - a\n      - b", "", "b"));
}

static void test_fieldref_compares_two_fields(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             PROC_RULE_HEAD "  sel:\n    Image|fieldref: ParentImage\n  condition: sel\n");
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    assert_true(
        matches(rs, sysmon1(arena, "Image", "C:\\a.exe", "ParentImage", "c:\\A.exe", NULL)));
    assert_false(
        matches(rs, sysmon1(arena, "Image", "C:\\a.exe", "ParentImage", "C:\\b.exe", NULL)));
    trl_sigma_ruleset_destroy(rs);
}

static void test_time_modifiers(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             PROC_RULE_HEAD "  sel:\n    UtcTime|hour|gte: 22\n  condition: sel\n");
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    assert_true(matches(rs, sysmon1(arena, "UtcTime", "2024-07-09 22:31:02.123", NULL)));
    assert_false(matches(rs, sysmon1(arena, "UtcTime", "2024-07-09 08:31:02.123", NULL)));
    trl_sigma_ruleset_destroy(rs);
}

static void test_keywords_match_the_message(void **state)
{
    (void)state;
    const char *yaml =
        "title: k\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n"
        "  keywords:\n    - 'maximum authentication attempts'\n    - 'Bad protocol'\n"
        "  condition: keywords\n";
    struct trl_sigma_ruleset *rs = load_rule(yaml);
    struct trl_event *ev = trl_event_create(arena, "x", 1, 0);
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd");
    trl_event_set_str(ev, TRL_F_MESSAGE,
                      "error: Maximum authentication attempts exceeded for root from 1.2.3.4");
    assert_true(matches(rs, ev));
    trl_event_set_str(ev, TRL_F_MESSAGE, "Accepted password for root");
    assert_false(matches(rs, ev));
    trl_sigma_ruleset_destroy(rs);
}

static void test_rejects_with_reasons(void **state)
{
    (void)state;
    struct load_report r;
    r = reject_reason(PROC_RULE_HEAD "  sel:\n    Image|foo: x\n  condition: sel\n");
    assert_true(r.unsupported);
    assert_non_null(strstr(r.last, "unknown modifier 'foo'"));
    r = reject_reason(PROC_RULE_HEAD "  sel:\n    Image|contains|all: x\n  condition: sel\n");
    assert_non_null(strstr(r.last, "'all' with a single value"));
    r = reject_reason(PROC_RULE_HEAD
                      "  sel:\n    Image:\n      - x\n      - null\n  condition: sel\n");
    assert_non_null(strstr(r.last, "null inside a list"));
    r = reject_reason(PROC_RULE_HEAD "  sel:\n    Image|expand: '%dc%'\n  condition: sel\n");
    assert_non_null(strstr(r.last, "no configured value"));
    r = reject_reason(PROC_RULE_HEAD "  sel:\n    Image|re: '(unclosed'\n  condition: sel\n");
    assert_non_null(strstr(r.last, "invalid regular expression"));
    r = reject_reason(PROC_RULE_HEAD
                      "  sel:\n    Image: x\n  timeframe: 5m\n  condition: sel | count() > 5\n");
    assert_true(r.unsupported);
    r = reject_reason("action: global\ntitle: g\n");
    assert_true(r.unsupported);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_value_is_whole_and_case_insensitive),
        cmocka_unit_test(test_wildcards_and_escapes),
        cmocka_unit_test(test_contains_startswith_endswith),
        cmocka_unit_test(test_all_requires_every_value),
        cmocka_unit_test(test_cased_is_case_sensitive),
        cmocka_unit_test(test_re_is_unanchored_and_flags_work),
        cmocka_unit_test(test_base64_and_base64offset),
        cmocka_unit_test(test_wide_then_base64),
        cmocka_unit_test(test_windash_expands_flag_dashes),
        cmocka_unit_test(test_numeric_comparisons),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_exists_null_and_neq),
        cmocka_unit_test(test_fieldref_compares_two_fields),
        cmocka_unit_test(test_time_modifiers),
        cmocka_unit_test(test_keywords_match_the_message),
        cmocka_unit_test(test_rejects_with_reasons),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
