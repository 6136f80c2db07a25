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

/* A web server's message is read as an access log line unless a Snare marker lies in its first
 * 160 bytes: the marker is moved through every position of that window (and past it), and the
 * byte pairs the screen looks for are planted elsewhere, alone, where they must not count. */
static void test_dispatch_snare_marker_anywhere_in_the_window_wins(void **state)
{
    (void)state;
    static const char *const markers[] = {"MSWinEventLog", "LinuxKAudit", "AgentHeartBeat"};
    static const char *const decoys[] = {"", "SW", "xK", "tH", "SWxKtH", "W K H"};
    static const char head[] = "<13>Jul  9 22:40:03 web01 nginx: ";
    static const char req[] = "10.0.0.1 - - [09/Jul/2024:22:40:03 +0000] \"GET /";
    static const char tail[] = " HTTP/1.1\" 200 512 \"-\" \"curl/8.0\"";
    char line[512];
    for (size_t m = 0; m < TRL_ARRAY_LEN(markers); m++) {
        for (size_t d = 0; d < TRL_ARRAY_LEN(decoys); d++) {
            for (size_t pad = 0; pad < 140; pad++) {
                int n =
                    snprintf(line, sizeof(line), "%s%s%s%.*s%s%s", head, req, decoys[d], (int)pad,
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                             markers[m], tail);
                assert_true(n > 0 && (size_t)n < sizeof(line));
                struct trl_event *ev = parse_as(line, (size_t)n, TRL_FORMAT_AUTO);
                size_t marker_end = sizeof(req) - 1 + strlen(decoys[d]) + pad + strlen(markers[m]);
                if (marker_end <= 160)
                    assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, NULL);
                else
                    assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, "GET");
            }
        }
        trl_arena_reset(arena);
    }
    /* The decoys alone are no marker. */
    for (size_t d = 0; d < TRL_ARRAY_LEN(decoys); d++) {
        int n = snprintf(line, sizeof(line), "%s%s%sx%s", head, req, decoys[d], tail);
        struct trl_event *ev = parse_as(line, (size_t)n, TRL_FORMAT_AUTO);
        assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, "GET");
    }
}

/* A kernel line that relays an audit record is read as one when "audit(" lies in the first 64
 * bytes of its message: the record is moved through that window and past its end. */
static void test_dispatch_audit_mark_in_the_first_64_bytes(void **state)
{
    (void)state;
    char line[256];
    for (int node = 1; node <= 40; node++) {
        int n = snprintf(line, sizeof(line),
                         "<5>Jul  9 22:40:03 db01 kernel: [ 1.567890] audit: node=%.*s "
                         "type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59",
                         node, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh");
        assert_true(n > 0 && (size_t)n < sizeof(line));
        struct trl_event *ev = parse_as(line, (size_t)n, TRL_FORMAT_AUTO);
        /* "[ 1.567890] audit: node=", the node's name, " type=SYSCALL msg=" and "audit(". */
        if (24 + node + 18 + 6 <= 64)
            assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "SYSCALL");
        else
            assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, NULL);
    }
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
        cmocka_unit_test(test_dispatch_snare_marker_anywhere_in_the_window_wins),
        cmocka_unit_test(test_dispatch_audit_mark_in_the_first_64_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
