#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

/* 2024-07-10T00:00:00Z */
#define RECEIVED_NS (1720569600LL * TRL_NS_PER_SEC)

#include "arena_fixture.h"

static struct trl_event *parse_as(const char *line, size_t len, enum trl_format_id fmt)
{
    struct trl_event *ev = trl_event_create(arena, line, len, RECEIVED_NS);
    trl_parse_event(ev, fmt);
    return ev;
}

static struct trl_event *parse_auto(const char *line)
{
    return parse_as(line, strlen(line), TRL_FORMAT_AUTO);
}

static void assert_unparsed(const struct trl_event *ev, const char *want_message)
{
    assert_true(ev->flags & TRL_EVF_UNPARSED);
    assert_string_equal(ev->format, "raw");
    assert_field(ev, TRL_F_MESSAGE, want_message);
}

static void test_dispatch_picks_rfc5424_for_versioned_header(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse_auto("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                   "[exampleSDID@32473 iut=\"3\"] An application event log entry...\n");
    assert_string_equal(ev->format, "rfc5424");
    assert_false(ev->flags & TRL_EVF_UNPARSED);
    assert_field(ev, TRL_F_HOST_NAME, "mymachine.example.com");
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "ID47");
    assert_field(ev, TRL_F_MESSAGE, "An application event log entry...");

    ev = parse_auto("<13>1 2026-11-27T17:04:11.085312+00:00 vm myapp - - - no tq");
    assert_string_equal(ev->format, "rfc5424");
    assert_field(ev, TRL_F_PROCESS_NAME, "myapp");
}

static void test_dispatch_picks_rfc3164_for_bsd_header(void **state)
{
    (void)state;
    struct trl_event *ev = parse_auto("<38>Jul  9 22:40:03 web01 sshd[25003]: Invalid user admin "
                                      "from 203.0.113.45 port 51120\n");
    assert_string_equal(ev->format, "rfc3164");
    assert_false(ev->flags & TRL_EVF_UNPARSED);
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "25003");

    ev = parse_auto("<86>2024-07-09T22:31:02.123456+00:00 db01 sudo: pam_unix(sudo:session): "
                    "session closed for user root");
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_PROCESS_NAME, "sudo");
}

static void test_dispatch_picks_rfc3164_for_file_lines_without_pri(void **state)
{
    (void)state;
    struct trl_event *ev = parse_auto("Jul  9 22:31:09 db01 systemd-logind[612]: New session 7 of "
                                      "user svc_backup.\n");
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_HOST_NAME, "db01");
    assert_field(ev, TRL_F_PROCESS_NAME, "systemd-logind");

    ev = parse_auto("2024-07-09T22:34:18.123456+00:00 db01 groupadd[4188]: new group: "
                    "name=sysmaint, GID=1002");
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_PROCESS_NAME, "groupadd");
}

static void test_dispatch_falls_back_to_rfc3164_after_pri_and_digit(void **state)
{
    (void)state;
    /* A PRI, a digit and a space, but no RFC 5424 header behind them. */
    struct trl_event *ev = parse_auto("<13>1 apple fell from the tree");
    assert_string_equal(ev->format, "rfc3164");
    assert_false(ev->flags & TRL_EVF_UNPARSED);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    assert_field(ev, TRL_F_MESSAGE, "1 apple fell from the tree");
}

static void test_dispatch_keeps_malformed_rfc5424_content(void **state)
{
    (void)state;
    struct trl_event *ev = parse_auto("<13>1 2024-07-09T22:31:02Z host app 42 LOGIN user bob");
    assert_false(ev->flags & TRL_EVF_UNPARSED);
    assert_field(ev, TRL_F_HOST_NAME, "host");
    assert_true(trl_event_has(ev, TRL_F_MESSAGE));
}

static void test_dispatch_pri_then_plain_text_is_rfc3164(void **state)
{
    (void)state;
    struct trl_event *ev = parse_auto("<134>%ASA-6-302013: Built outbound TCP connection 1");
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "local0");
    assert_field(ev, TRL_F_MESSAGE, "%ASA-6-302013: Built outbound TCP connection 1");
}

static void test_dispatch_syslog_wrapped_payload_keeps_syslog_header(void **state)
{
    (void)state;
    struct trl_event *ev = parse_auto("<134>Jul  9 22:40:03 fw01 CEF:0|Security|threatmanager|1.0|"
                                      "100|worm successfully stopped|10|src=10.0.0.1");
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_LOG_SYSLOG_HOSTNAME, "fw01");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, NULL);
}

static void test_dispatch_junk_becomes_unparsed_event(void **state)
{
    (void)state;
    struct trl_event *ev = parse_auto("hello world, nothing to see here\r\n");
    assert_unparsed(ev, "hello world, nothing to see here");

    ev = parse_auto("<");
    assert_unparsed(ev, "<");

    ev = parse_auto("<192>free text");
    assert_unparsed(ev, "<192>free text");

    ev = parse_as("", 0, TRL_FORMAT_AUTO);
    assert_unparsed(ev, "");

    static const char bin[] = "\x01\x02<\xff\xfe>\x00\x7f";
    ev = parse_as(bin, sizeof(bin) - 1, TRL_FORMAT_AUTO);
    assert_true(ev->flags & TRL_EVF_UNPARSED);
    size_t len = 0;
    assert_non_null(trl_event_get(ev, TRL_F_MESSAGE, &len));
    assert_int_equal(len, sizeof(bin) - 1);
}

static void test_dispatch_forced_format_that_does_not_match_is_unparsed(void **state)
{
    (void)state;
    const char *line = "Jul  9 22:31:09 db01 sshd[1]: hello";
    struct trl_event *ev = parse_as(line, strlen(line), TRL_FORMAT_RFC5424);
    assert_unparsed(ev, line);

    line = "just words";
    ev = parse_as(line, strlen(line), TRL_FORMAT_RFC3164);
    assert_unparsed(ev, line);

    line = "<13>1 - host app - - - forced";
    ev = parse_as(line, strlen(line), TRL_FORMAT_RFC5424);
    assert_string_equal(ev->format, "rfc5424");
    assert_field(ev, TRL_F_MESSAGE, "forced");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_picks_rfc5424_for_versioned_header),
        cmocka_unit_test(test_dispatch_picks_rfc3164_for_bsd_header),
        cmocka_unit_test(test_dispatch_picks_rfc3164_for_file_lines_without_pri),
        cmocka_unit_test(test_dispatch_falls_back_to_rfc3164_after_pri_and_digit),
        cmocka_unit_test(test_dispatch_keeps_malformed_rfc5424_content),
        cmocka_unit_test(test_dispatch_pri_then_plain_text_is_rfc3164),
        cmocka_unit_test(test_dispatch_syslog_wrapped_payload_keeps_syslog_header),
        cmocka_unit_test(test_dispatch_junk_becomes_unparsed_event),
        cmocka_unit_test(test_dispatch_forced_format_that_does_not_match_is_unparsed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
