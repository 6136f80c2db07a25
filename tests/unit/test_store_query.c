/* The search language: parsing, canonical form, error columns, and what each term matches. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "store/match.h"
#include "store/query.h"
#include "store/timearg.h"

/* Parses q and returns its canonical form (static buffer), or "ERR@col: message". */
static const char *canon(const char *q)
{
    static char buf[1024];
    struct trl_query *p;
    struct trl_query_error e;
    if (trl_query_parse(q, strlen(q), &p, &e) != 0) {
        snprintf(buf, sizeof(buf), "ERR@%u: %s", e.column, e.message);
        return buf;
    }
    trl_query_format(p, buf, sizeof(buf));
    trl_query_free(p);
    return buf;
}

static void test_query_words_are_anded_and_operators_nest(void **state)
{
    (void)state;
    assert_string_equal(canon("failed password"), "(\"failed\" AND \"password\")");
    assert_string_equal(canon("a OR b c"), "(\"a\" OR (\"b\" AND \"c\"))");
    assert_string_equal(canon("a AND (b OR c) NOT d"),
                        "(\"a\" AND (\"b\" OR \"c\") AND NOT \"d\")");
    assert_string_equal(canon("NOT NOT x"), "NOT NOT \"x\"");
    assert_string_equal(canon("and or not"), "(\"and\" AND \"or\" AND \"not\")");
    assert_string_equal(canon(""), "*");
    assert_string_equal(canon("   *  "), "*");
}

static void test_query_fields_phrases_and_wildcards(void **state)
{
    (void)state;
    assert_string_equal(canon("User.Name:ROOT"), "user.name:\"root\"");
    assert_string_equal(canon("message:\"Failed password\""), "message:\"failed password\"");
    assert_string_equal(canon("process.name:ssh*"), "process.name:ssh*");
    assert_string_equal(canon("source.ip:*"), "source.ip:*");
    assert_string_equal(canon("user.name:(root OR admin)"),
                        "(user.name:\"root\" OR user.name:\"admin\")");
    assert_string_equal(canon("source.ip:fe80::1"), "source.ip:\"fe80::1\"");
    assert_string_equal(canon("a\\*b"), "\"a*b\"");
    assert_string_equal(canon("file.path:C\\:\\\\win*"), "file.path:c\\:\\\\win*");
    assert_string_equal(canon("\"say \\\"hi\\\"\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(canon("process.executable:\"C:\\Windows\\cmd.exe\""),
                        "process.executable:\"c:\\\\windows\\\\cmd.exe\"");
}

static void test_query_errors_point_at_the_column(void **state)
{
    (void)state;
    assert_string_equal(canon("user.name:(root OR admin"), "ERR@11: unclosed '(': missing ')'");
    assert_string_equal(canon("a OR"), "ERR@3: OR needs a term on both sides");
    assert_string_equal(canon("AND b"), "ERR@1: AND needs a term on both sides");
    assert_string_equal(canon("a )"), "ERR@3: unexpected ')' without a matching '('");
    assert_string_equal(canon("x \"open"), "ERR@3: unterminated phrase: missing closing '\"'");
    assert_string_equal(canon("user.name: root"), "ERR@11: missing value after 'user.name:'");
    assert_string_equal(canon("a | stats sum by host.name"),
                        "ERR@11: stats: only 'count' is supported (stats count [by f1, f2])");
    assert_string_equal(canon("a | frobnicate"),
                        "ERR@5: unknown stage 'frobnicate' (stats, top, timechart, fields, sort, "
                        "head)");
    assert_string_equal(canon("a |"), "ERR@4: a stage name is expected after '|' (stats, top, "
                                      "timechart, fields, sort, head)");
    assert_string_equal(canon("| head 0"),
                        "ERR@8: head: a number from 1 to 1000000000 is expected");
    assert_string_equal(canon("| timechart span=1w count"),
                        "ERR@18: timechart: span is a number and s, m, h or d, up to a year (1h, "
                        "15m)");
    assert_string_equal(canon("| sort a b"), "ERR@10: unexpected 'b'");
    assert_string_equal(canon("| fields a,,b"), "ERR@12: fields: a field name is missing");
    assert_string_equal(canon("(a | head 1)"), "ERR@1: unclosed '(': missing ')'");
    assert_string_equal(canon("a AND | head 1"), "ERR@3: AND needs a term on both sides");
    assert_string_equal(canon("port>="), "ERR@7: missing value after 'port>='");
    assert_string_equal(canon("port>*"), "ERR@6: a comparison needs a value, not '*'");
    assert_string_equal(canon("port:[1 2]"), "ERR@9: a range is written [low TO high]");
    assert_string_equal(canon("port:[1 TO 2"), "ERR@6: unclosed '[': missing ']'");
    assert_string_equal(canon("port:[ TO 2]"), "ERR@8: a range needs a bound here ('*' for none)");
    assert_string_equal(canon("NOT"), "ERR@1: NOT needs a term after it");
    assert_string_equal(canon("()"), "ERR@2: empty parentheses");
    assert_string_equal(canon("\"\""), "ERR@1: empty phrase");
    assert_string_equal(canon("abc\\"),
                        "ERR@4: a backslash at the end of the query escapes nothing");
    /* Columns count characters, not bytes. */
    assert_string_equal(canon("caf\xc3\xa9 )"), "ERR@6: unexpected ')' without a matching '('");
    char deep[201];
    memset(deep, '(', sizeof(deep) - 1);
    deep[200] = '\0';
    assert_non_null(strstr(canon(deep), "nests deeper than"));
}

static void test_canonical_form_parses_to_itself(void **state)
{
    (void)state;
    const char *qs[] = {"a b OR c",
                        "user.name:(x OR \"y z\") NOT host.name:web*",
                        "f:a\\ b*",
                        "\"q\\\\\"",
                        "x:\\(*\\)",
                        "NOT (a OR b)",
                        "a:b:c",
                        "port>=1024 port<2000",
                        "@timestamp>2024-07-09T22:00:00Z",
                        "port:[1 TO *]",
                        "source.ip:10.0.0.0/8",
                        "a | stats count by x, y | sort count desc | head 3",
                        "| timechart span=90m count by host.name",
                        "| top 5 user.name",
                        "| fields a, b.c | head 1",
                        "x | timechart count",
                        "a\\>b*",
                        "f:([*]x)"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(qs); i++) {
        char once[512];
        snprintf(once, sizeof(once), "%s", canon(qs[i]));
        assert_string_equal(canon(once), once);
    }
}

static void test_operators_and_pipes_have_a_canonical_form(void **state)
{
    (void)state;
    assert_string_equal(canon("Port>=1024"), "port>=1024");
    assert_string_equal(canon("port:[1   TO  1023]"), "port:[1 TO 1023]");
    assert_string_equal(canon("source.ip:10.0.0.0/8"), "source.ip:10.0.0.0/8");
    assert_string_equal(canon("source.ip:\"10.0.0.0/8\""), "source.ip:\"10.0.0.0/8\"");
    assert_string_equal(canon("a:1.2.3.4/99"), "a:\"1.2.3.4/99\""); /* not a block: text */
    assert_string_equal(canon("x\\>y*"), "x\\>y*");     /* an escaped '>' is no comparison */
    assert_string_equal(canon("f:([*]x)"), "f:\\[*]x"); /* nor an escaped '[' a range */
    assert_string_equal(canon("| stats count"), "* | stats count");
    assert_string_equal(canon("x|stats count by a,b|head"),
                        "\"x\" | stats count by a, b | head 10");
    assert_string_equal(canon("| timechart span=24h count"), "* | timechart span=1d count");
    assert_string_equal(canon("| timechart count"), "* | timechart span=1h count");
    assert_string_equal(canon("| top url.path"), "* | top 10 url.path");
    assert_string_equal(canon("| sort Count DESC"), "* | sort count desc");
}

static void test_cidr_blocks_hold_their_addresses(void **state)
{
    (void)state;
    struct trl_qcidr c;
    assert_true(trl_cidr_parse("10.0.0.0/8", 10, &c));
    assert_true(trl_cidr_contains(&c, "10.255.1.2", 10));
    assert_false(trl_cidr_contains(&c, "11.0.0.1", 8));
    assert_false(trl_cidr_contains(&c, "not-an-ip", 9));
    assert_true(trl_cidr_contains(&c, "::ffff:10.1.2.3", 15)); /* IPv4-mapped */
    assert_true(trl_cidr_parse("192.168.1.77/32", 15, &c));
    assert_true(trl_cidr_contains(&c, "192.168.1.77", 12));
    assert_false(trl_cidr_contains(&c, "192.168.1.78", 12));
    assert_true(trl_cidr_parse("0.0.0.0/0", 9, &c));
    assert_true(trl_cidr_contains(&c, "8.8.8.8", 7));
    assert_false(trl_cidr_contains(&c, "2001:db8::1", 11)); /* /0 of IPv4 is not all of IPv6 */
    assert_true(trl_cidr_parse("2001:db8::/32", 13, &c));
    assert_true(trl_cidr_contains(&c, "2001:DB8:0:1::5", 15));
    assert_false(trl_cidr_contains(&c, "2001:db9::1", 11));
    assert_true(trl_cidr_parse("10.0.0.1/20", 11, &c)); /* host bits are ignored */
    assert_true(trl_cidr_contains(&c, "10.0.15.255", 11));
    assert_false(trl_cidr_contains(&c, "10.0.16.0", 9));
    assert_false(trl_cidr_parse("10.0.0.0/33", 11, &c));
    assert_false(trl_cidr_parse("2001:db8::/129", 14, &c));
    assert_false(trl_cidr_parse("10.0.0.0/", 9, &c));
    assert_false(trl_cidr_parse("/8", 2, &c));
    assert_false(trl_cidr_parse("10.0.0/8", 8, &c));
}

static void test_glob_matches_stars_and_escapes(void **state)
{
    (void)state;
    assert_true(trl_glob_match("ssh*", 4, "sshd", 4));
    assert_true(trl_glob_match("*admin*", 7, "/wp-ADMIN/x", 11));
    assert_true(trl_glob_match("a*b*c", 5, "aXXbYYc", 7));
    assert_false(trl_glob_match("a*b*c", 5, "aXXbYY", 6));
    assert_true(trl_glob_match("a\\*", 3, "a*", 2));
    assert_false(trl_glob_match("a\\*", 3, "ab", 2));
    assert_true(trl_glob_match("*", 1, "", 0));
    assert_false(trl_glob_match("", 0, "x", 1));
}

/* Does the query match this event JSON (exact evaluation, and the pre-checks must agree)? */
static bool matches(const char *query, const char *json)
{
    struct trl_query *q;
    struct trl_query_error e;
    if (trl_query_parse(query, strlen(query), &q, &e) != 0)
        fail_msg("parse %s: %s", query, e.message);
    struct trl_match *m = trl_match_compile(q);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    bool exact = trl_match_event(m, &c, NULL, 0, json, strlen(json));
    bool maybe = trl_match_event_maybe(m, &c, json, strlen(json));
    if (exact && !maybe)
        fail_msg("pre-check rejected a match: %s", query);
    trl_match_ctx_free(&c);
    trl_match_free(m);
    trl_query_free(q);
    return exact;
}

static const char *const EV =
    "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"category\":[\"authentication\",\"session\"],\"created\":\"2024-07-09T22:40:04Z\","
    "\"original\":\"<38>Jul  9 22:40:03 web01 sshd[25003]: Failed password for invalid user "
    "Admin from 203.0.113.45 port 51120 ssh2\"},\"host\":{\"name\":\"web01\"},\"message\":"
    "\"Failed password for invalid user Admin from 203.0.113.45 port 51120 ssh2\",\"process\":"
    "{\"name\":\"sshd\",\"pid\":25003},\"source\":{\"ip\":\"203.0.113.45\"},\"url\":{\"path\":"
    "\"/wp-admin/install.php\"},\"user\":{\"name\":\"Admin\"},\"winlog\":{\"event_data\":"
    "{\"TargetUserName\":\"svc\"}}}";

static void test_words_and_phrases_match_whole_words_anywhere(void **state)
{
    (void)state;
    assert_true(matches("failed", EV));
    assert_true(matches("FAILED PASSWORD", EV));
    assert_true(matches("\"password for invalid\"", EV));
    assert_false(matches("\"password invalid\"", EV));
    assert_false(matches("pass", EV)); /* a word is not a prefix */
    assert_true(matches("203.0.113.45", EV));
    assert_true(matches("203.0.113", EV)); /* ends at a '.' */
    assert_false(matches("03.0.113.45", EV));
    assert_true(matches("authentication", EV));
    assert_true(matches("\"22:40:03\"", EV)); /* the syslog header inside event.original */
    assert_false(matches("22:40:03", EV));    /* unquoted, that is field "22", value "40:03" */
    assert_false(matches("2024", EV));        /* @timestamp and event.created are not text */
}

static void test_fields_compare_whole_values_case_insensitively(void **state)
{
    (void)state;
    assert_true(matches("user.name:admin", EV));
    assert_true(matches("USER.NAME:ADMIN", EV));
    assert_false(matches("user.name:adm", EV));
    assert_true(matches("event.category:session", EV)); /* any element of an array */
    assert_true(matches("process.pid:25003", EV));      /* numbers compare as text */
    assert_true(matches("winlog.event_data.targetusername:SVC", EV));
    assert_true(matches("message:password", EV)); /* text fields by words */
    assert_true(matches("message:\"invalid user admin\"", EV));
    assert_false(matches("message:web01", EV));
    assert_false(matches("host.name:sshd", EV));
}

static void test_wildcards_and_existence(void **state)
{
    (void)state;
    assert_true(matches("process.name:ss*", EV));
    assert_true(matches("url.path:*admin*", EV));
    assert_false(matches("url.path:admin*", EV));
    assert_true(matches("fail*", EV));
    assert_true(matches("203.0.113.*", EV));
    assert_true(matches("*install.php", EV));
    assert_false(matches("nosuch*", EV));
    assert_true(matches("source.ip:*", EV));
    assert_true(matches("winlog:*", EV)); /* an object with fields below it */
    assert_false(matches("destination.ip:*", EV));
}

static void test_comparisons_and_ranges_on_numbers_times_and_text(void **state)
{
    (void)state;
    assert_true(matches("process.pid>25000", EV));
    assert_true(matches("process.pid>=25003", EV));
    assert_false(matches("process.pid>25003", EV));
    assert_true(matches("process.pid<=25003", EV));
    assert_false(matches("process.pid<25003", EV));
    assert_true(matches("process.pid:[25000 TO 26000]", EV));
    assert_true(matches("process.pid:[25003 TO 25003]", EV));
    assert_false(matches("process.pid:[1 TO 1023]", EV));
    assert_true(matches("process.pid:[* TO 30000]", EV));
    assert_true(matches("process.pid>2.5e4", EV)); /* numerically, not as text */
    assert_true(matches("process.pid>9", EV));     /* though "25003" < "9" as text */
    assert_true(matches("@timestamp>=2024-07-09T22:40:03Z", EV));
    assert_false(matches("@timestamp>2024-07-09T22:40:03Z", EV));
    assert_false(matches("@timestamp<2024-07-09T23:00:00+01:00", EV)); /* 22:00Z */
    assert_true(matches("@timestamp:[2024-07-09T00:00:00Z TO 2024-07-10T00:00:00Z]", EV));
    assert_true(matches("user.name:[a TO b]", EV)); /* text, case-insensitively */
    assert_false(matches("user.name:[b TO z]", EV));
    assert_true(matches("host.name>web", EV));
    assert_false(matches("message>5", EV)); /* text is not a number */
    assert_false(matches("nosuch.field>0", EV));
    assert_true(matches("NOT process.pid<100 AND user.name:admin", EV));
}

static void test_cidr_terms_match_address_fields(void **state)
{
    (void)state;
    assert_true(matches("source.ip:203.0.113.0/24", EV));
    assert_true(matches("source.ip:203.0.0.0/8", EV));
    assert_false(matches("source.ip:10.0.0.0/8", EV));
    assert_false(matches("source.ip:2001:db8::/32", EV));
    assert_false(matches("host.name:10.0.0.0/8", EV)); /* not an address: no match */
    assert_true(matches("NOT source.ip:10.0.0.0/8", EV));
    assert_true(matches("source.ip:(10.0.0.0/8 OR 203.0.113.0/26)", EV));
    assert_false(matches("source.ip:203.0.113.0/28", EV)); /* .0 to .15 */
    assert_string_equal(canon("source.ip:(10.0.0.0/8 OR fd00::/8)"),
                        "(source.ip:10.0.0.0/8 OR source.ip:fd00::/8)");
}

static void test_boolean_operators_combine_terms(void **state)
{
    (void)state;
    assert_true(matches("user.name:admin AND event.outcome:* OR sshd", EV));
    assert_false(matches("user.name:admin AND NOT sshd", EV));
    assert_true(matches("NOT user.name:root", EV));
    assert_true(matches("(root OR admin) failed", EV));
    assert_false(matches("user.name:(root OR deploy)", EV));
    assert_true(matches("*", EV));
}

static void test_time_arguments_accept_dates_rfc3339_and_relative_forms(void **state)
{
    (void)state;
    const int64_t now = 1720564803000000000LL; /* 2024-07-09T22:40:03Z */
    int64_t t;
    assert_int_equal(trl_parse_time_arg("2024-07-09", now, false, &t), 0);
    assert_true(t == 1720483200000000000LL);
    assert_int_equal(trl_parse_time_arg("2024-07-09", now, true, &t), 0);
    assert_true(t == 1720483200000000000LL + 86400 * TRL_NS_PER_SEC);
    assert_int_equal(trl_parse_time_arg("2024-07-09T22:40:03.5+02:00", now, false, &t), 0);
    assert_true(t == 1720557603500000000LL);
    assert_int_equal(trl_parse_time_arg("-15m", now, false, &t), 0);
    assert_true(t == now - 900 * TRL_NS_PER_SEC);
    assert_int_equal(trl_parse_time_arg("-7d", now, false, &t), 0);
    assert_true(t == now - 7 * 86400 * TRL_NS_PER_SEC);
    assert_int_equal(trl_parse_time_arg("now", now, true, &t), 0);
    assert_true(t == now);
    const char *bad[] = {"",
                         "-",
                         "-5",
                         "-5y",
                         "yesterday",
                         "2024-02-30",
                         "9999-01-01",
                         "2024-07-09T25:00:00Z",
                         "-99999999999d",
                         "2024-07-09 junk"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++)
        assert_int_equal(trl_parse_time_arg(bad[i], now, false, &t), TRL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_words_are_anded_and_operators_nest),
        cmocka_unit_test(test_query_fields_phrases_and_wildcards),
        cmocka_unit_test(test_query_errors_point_at_the_column),
        cmocka_unit_test(test_canonical_form_parses_to_itself),
        cmocka_unit_test(test_operators_and_pipes_have_a_canonical_form),
        cmocka_unit_test(test_cidr_blocks_hold_their_addresses),
        cmocka_unit_test(test_comparisons_and_ranges_on_numbers_times_and_text),
        cmocka_unit_test(test_cidr_terms_match_address_fields),
        cmocka_unit_test(test_glob_matches_stars_and_escapes),
        cmocka_unit_test(test_words_and_phrases_match_whole_words_anywhere),
        cmocka_unit_test(test_fields_compare_whole_values_case_insensitively),
        cmocka_unit_test(test_wildcards_and_existence),
        cmocka_unit_test(test_boolean_operators_combine_terms),
        cmocka_unit_test(test_time_arguments_accept_dates_rfc3339_and_relative_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
