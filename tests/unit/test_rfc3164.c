#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"
#include "formats/syslog_common.h"

#include <glob.h>

/* 2024-07-10T00:00:00Z: the samples below are from the evening before. */
#define RECEIVED_NS (1720569600LL * TRL_NS_PER_SEC)

#include "arena_fixture.h"

static struct trl_event *parse_at(const char *line, size_t len, int64_t received_ns, int want_rc)
{
    struct trl_event *ev = trl_event_create(arena, line, len, received_ns);
    assert_int_equal(trl_parse_rfc3164(ev, ev->original, ev->original_len), want_rc);
    return ev;
}

static struct trl_event *parse(const char *line, int want_rc)
{
    return parse_at(line, strlen(line), RECEIVED_NS, want_rc);
}

static void test_rfc3164_parses_rsyslog_line_with_pri(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<38>Jul  9 22:40:03 web01 sshd[25003]: Invalid user admin from "
                                 "203.0.113.45 port 51120\n",
                                 0);
    assert_string_equal(ev->format, "rfc3164");
    assert_time(ev, "2024-07-09T22:40:03.000000000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "38");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, "4");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "auth");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "6");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "info");
    assert_field(ev, TRL_F_LOG_SYSLOG_HOSTNAME, "web01");
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, "25003");
    assert_field(ev, TRL_F_PROCESS_PID, "25003");
    assert_field(ev, TRL_F_MESSAGE, "Invalid user admin from 203.0.113.45 port 51120");
    assert_field(ev, TRL_F_LOG_LOGGER, NULL);
}

static void test_rfc3164_parses_file_line_without_pri(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("Jul 09 22:31:02 db01 sshd[4102]: Failed password for root from 10.20.1.15 port "
              "44218 ssh2",
              0);
    assert_time(ev, "2024-07-09T22:31:02.000000000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, NULL);
    assert_field(ev, TRL_F_HOST_NAME, "db01");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "4102");
    assert_field(ev, TRL_F_MESSAGE, "Failed password for root from 10.20.1.15 port 44218 ssh2");
}

static void test_rfc3164_accepts_unpadded_day(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>Jul 9 22:40:03 host app: x", 0);
    assert_time(ev, "2024-07-09T22:40:03.000000000Z");
    assert_field(ev, TRL_F_HOST_NAME, "host");
}

static void test_rfc3164_december_line_received_in_january_is_last_year(void **state)
{
    (void)state;
    /* Received 2025-01-01T00:00:10Z. */
    const char *line = "<13>Dec 31 23:59:58 host app: happy new year";
    struct trl_event *ev = parse_at(line, strlen(line), 1735689610LL * TRL_NS_PER_SEC, 0);
    assert_time(ev, "2024-12-31T23:59:58.000000000Z");
}

static void test_rfc3164_january_line_received_in_december_is_next_year(void **state)
{
    (void)state;
    /* Received 2024-12-31T23:59:59Z from a sender whose clock runs a few seconds ahead. */
    const char *line = "<13>Jan  1 00:00:05 host app: early";
    struct trl_event *ev = parse_at(line, strlen(line), 1735689599LL * TRL_NS_PER_SEC, 0);
    assert_time(ev, "2025-01-01T00:00:05.000000000Z");
}

/* The year a year-less timestamp gets is remembered per receive year: receive times that jump
 * between years, in either direction, and the leap day each get the year nearest to them. */
static void test_rfc3164_year_follows_receive_time_across_years(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int64_t received; /* seconds since the epoch */
        const char *want;
    } cases[] = {
        /* 2024-07-10T00:00:00Z, then 2023-03-01T00:00:00Z (back a year), then forward again. */
        {"<13>Jul  9 23:00:00 h a: x", 1720569600, "2024-07-09T23:00:00.000000000Z"},
        {"<13>Feb 28 23:00:00 h a: x", 1677628800, "2023-02-28T23:00:00.000000000Z"},
        {"<13>Jul  9 23:00:00 h a: x", 1720569600, "2024-07-09T23:00:00.000000000Z"},
        /* A leap day in a leap year, and one received in a common year: it runs on into
         * March 1st, as trl_epoch_from_civil() counts it. */
        {"<13>Feb 29 12:00:00 h a: x", 1709251200, "2024-02-29T12:00:00.000000000Z"},
        {"<13>Feb 29 12:00:00 h a: x", 1677628800, "2023-03-01T12:00:00.000000000Z"},
        /* The last second of 2024 and the first of 2025 as receive times. */
        {"<13>Dec 31 23:59:59 h a: x", 1735689599, "2024-12-31T23:59:59.000000000Z"},
        {"<13>Jan  1 00:00:00 h a: x", 1735689600, "2025-01-01T00:00:00.000000000Z"},
        {"<13>Dec 31 23:59:59 h a: x", 1735689600, "2024-12-31T23:59:59.000000000Z"},
        {"<13>Jan  1 00:00:00 h a: x", 1735689599, "2025-01-01T00:00:00.000000000Z"},
        /* Half a year off either way: the neighbouring year is closer. */
        {"<13>Aug 15 00:00:00 h a: x", 1706745600, "2023-08-15T00:00:00.000000000Z"},
        {"<13>Jan 15 00:00:00 h a: x", 1722470400, "2025-01-15T00:00:00.000000000Z"},
        /* Before 1970: receive times are signed. */
        {"<13>Jun  1 00:00:00 h a: x", -86400, "1970-06-01T00:00:00.000000000Z"},
        {"<13>Dec 30 00:00:00 h a: x", -86400, "1969-12-30T00:00:00.000000000Z"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        const char *line = cases[i].line;
        struct trl_event *ev =
            parse_at(line, strlen(line), cases[i].received * TRL_NS_PER_SEC + 123, 0);
        assert_time(ev, cases[i].want);
    }
}

/* "hh:mm:ss" is read as one word: every digit and both colons count, and a time that is not one
 * leaves the receive time. */
static void test_rfc3164_time_digits_are_checked_one_by_one(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *want; /* NULL: no timestamp read, the receive time stands */
    } cases[] = {
        {"<13>Jul  9 00:00:00 h a: x", "2024-07-09T00:00:00.000000000Z"},
        {"<13>Jul  9 23:59:60 h a: x", "2024-07-10T00:00:00.000000000Z"},
        {"<13>Jul 09 09:05:07 h a: x", "2024-07-09T09:05:07.000000000Z"},
        {"<13>Jul  9 19:28:37 h a: x", "2024-07-09T19:28:37.000000000Z"},
        {"<13>Jul  9 24:00:00 h a: x", NULL},
        {"<13>Jul  9 23:60:00 h a: x", NULL},
        {"<13>Jul  9 23:59:61 h a: x", NULL},
        {"<13>Jul  9 2a:40:03 h a: x", NULL},
        {"<13>Jul  9 /2:40:03 h a: x", NULL},
        {"<13>Jul  9 22:4::03 h a: x", NULL},
        {"<13>Jul  9 22:40:0: h a: x", NULL},
        {"<13>Jul  9 22-40:03 h a: x", NULL},
        {"<13>Jul  9 22:40;03 h a: x", NULL},
        {"<13>Jul  9 22:40:\xb3 h a: x", NULL},
        {"<13>Jul 3x 22:40:03 h a: x", NULL},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_event *ev = parse(cases[i].line, 0);
        if (cases[i].want)
            assert_time(ev, cases[i].want);
        else
            assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    }
}

static void test_rfc3164_parses_rsyslog_high_precision_timestamp(void **state)
{
    (void)state;
    struct trl_event *ev = parse("2024-07-09T22:31:02.123456+00:00 db01 sshd-session[4102]: "
                                 "Failed password for root from 10.20.1.15 port 44218 ssh2",
                                 0);
    assert_time(ev, "2024-07-09T22:31:02.123456000Z");
    assert_field(ev, TRL_F_HOST_NAME, "db01");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd-session");
    assert_field(ev, TRL_F_PROCESS_PID, "4102");
    assert_field(ev, TRL_F_MESSAGE, "Failed password for root from 10.20.1.15 port 44218 ssh2");
}

static void test_rfc3164_applies_iso8601_offset(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<86>2024-07-09T22:31:02.5+02:00 db01 sudo: pam_unix(sudo:session): "
              "session closed for user root",
              0);
    assert_time(ev, "2024-07-09T20:31:02.500000000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "authpriv");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "info");
    assert_field(ev, TRL_F_PROCESS_NAME, "sudo");
    assert_field(ev, TRL_F_PROCESS_PID, NULL);
}

static void test_rfc3164_tag_right_after_timestamp_means_no_hostname(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>Jul  9 22:40:03 sshd[123]: Connection closed", 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_HOSTNAME, NULL);
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "123");
    assert_field(ev, TRL_F_MESSAGE, "Connection closed");

    /* logger writing to /dev/log: "<13>Jul  9 22:40:03 myapp: hello". */
    ev = parse("<13>Jul  9 22:40:03 myapp: hello", 0);
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "myapp");
    assert_field(ev, TRL_F_MESSAGE, "hello");
}

static void test_rfc3164_parses_util_linux_logger_lines(void **state)
{
    (void)state;
    /* logger -n 127.0.0.1 --rfc3164 -t myapp "hello 3164", received a second later. */
    const char *line = "<13>Nov 27 17:04:11 vm myapp: hello 3164";
    struct trl_event *ev = parse_at(line, strlen(line), 1795799052LL * TRL_NS_PER_SEC, 0);
    assert_time(ev, "2026-11-27T17:04:11.000000000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "user");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    assert_field(ev, TRL_F_HOST_NAME, "vm");
    assert_field(ev, TRL_F_PROCESS_NAME, "myapp");
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, NULL);
    assert_field(ev, TRL_F_MESSAGE, "hello 3164");

    /* logger ... -i -p local3.warning -t myapp "with pid" */
    ev = parse("<156>Nov 27 17:04:11 vm myapp[10432]: with pid", 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, "19");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "local3");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "4");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "warning");
    assert_field(ev, TRL_F_PROCESS_PID, "10432");
    assert_field(ev, TRL_F_MESSAGE, "with pid");
}

static void test_rfc3164_tag_without_pid_and_spaces_trimmed(void **state)
{
    (void)state;
    struct trl_event *ev = parse("Jul  9 22:32:40 db01 sudo:  svc_backup : TTY=pts/0 ; "
                                 "PWD=/home/svc_backup ; USER=root ; COMMAND=/usr/bin/id   ",
                                 0);
    assert_field(ev, TRL_F_PROCESS_NAME, "sudo");
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, NULL);
    assert_field(ev, TRL_F_PROCESS_PID, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "svc_backup : TTY=pts/0 ; PWD=/home/svc_backup ; USER=root ; "
                 "COMMAND=/usr/bin/id");
}

static void test_rfc3164_tag_with_subsystem_in_parentheses(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<86>Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= "
              "uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
              0);
    assert_field(ev, TRL_F_HOST_NAME, "combo");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_LOG_LOGGER, "pam_unix");
    assert_field(ev, TRL_F_PROCESS_PID, "19939");
    assert_field(ev, TRL_F_MESSAGE,
                 "authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
                 "ruser= rhost=218.188.2.4");
}

static void test_rfc3164_tag_names_with_slashes_dots_and_dashes(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<22>Jul  9 22:40:03 mx1 postfix/smtpd[1234]: connect from "
                                 "unknown[198.51.100.7]",
                                 0);
    assert_field(ev, TRL_F_PROCESS_NAME, "postfix/smtpd");
    assert_field(ev, TRL_F_PROCESS_PID, "1234");
    assert_field(ev, TRL_F_MESSAGE, "connect from unknown[198.51.100.7]");

    ev = parse("Jul  9 22:40:03 laptop org.gnome.Shell.desktop[2211]: Window manager warning", 0);
    assert_field(ev, TRL_F_PROCESS_NAME, "org.gnome.Shell.desktop");

    ev = parse("Jul  9 22:31:09 db01 systemd-logind[612]: New session 7 of user svc_backup.", 0);
    assert_field(ev, TRL_F_PROCESS_NAME, "systemd-logind");
    assert_field(ev, TRL_F_PROCESS_PID, "612");
}

/* A tag's name takes every byte above the space except ':', '[', ']', '(' and ')'. */
static void test_rfc3164_tag_name_bytes(void **state)
{
    (void)state;
    for (unsigned c = '!'; c <= 0xFF; c++) {
        char line[64];
        int n = snprintf(line, sizeof(line), "Jul  9 22:40:03 host a%cb[42]: started", (char)c);
        struct trl_event *ev = parse_at(line, (size_t)n, RECEIVED_NS, 0);
        size_t len = 0;
        const char *name = trl_event_get(ev, TRL_F_PROCESS_NAME, &len);
        bool whole = name && len == 3 && name[0] == 'a' && name[1] == (char)c && name[2] == 'b';
        bool tag_byte = c != ':' && c != '[' && c != ']' && c != '(' && c != ')';
        if (whole != tag_byte) {
            print_error("byte 0x%02x: process.name %.*s\n", c, name ? (int)len : 6,
                        name ? name : "absent");
            fail();
        }
    }
}

static void test_rfc3164_non_numeric_pid_is_procid_only(void **state)
{
    (void)state;
    struct trl_event *ev = parse("Jul  9 22:40:03 host app[worker-3]: started", 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, "worker-3");
    assert_field(ev, TRL_F_PROCESS_PID, NULL);
    assert_field(ev, TRL_F_MESSAGE, "started");
}

static void test_rfc3164_kernel_uptime_stays_in_message(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<4>Jul  9 22:37:30 db01 kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= "
              "SRC=203.0.113.45 DST=10.20.1.20 PROTO=TCP SPT=51515 DPT=9999",
              0);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "kern");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "warning");
    assert_field(ev, TRL_F_PROCESS_NAME, "kernel");
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "[12345.678] [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.45 "
                 "DST=10.20.1.20 PROTO=TCP SPT=51515 DPT=9999");
}

static void test_rfc3164_text_after_hostname_without_tag_is_message(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>Jul  9 22:40:03 db01 last message repeated 3 times", 0);
    assert_field(ev, TRL_F_HOST_NAME, "db01");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, NULL);
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE, "last message repeated 3 times");

    ev = parse("<13>Jul  9 22:40:03 db01 see http://example.com:8080/x for details", 0);
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE, "see http://example.com:8080/x for details");
}

static void test_rfc3164_ipv6_hostname_is_not_a_tag(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>Jul  9 22:40:03 2001:db8::1 ntpd[88]: time reset", 0);
    assert_field(ev, TRL_F_HOST_NAME, "2001:db8::1");
    assert_field(ev, TRL_F_PROCESS_NAME, "ntpd");
    assert_field(ev, TRL_F_MESSAGE, "time reset");
}

static void test_rfc3164_embedded_payloads_start_the_message(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<134>Jul  9 22:40:03 fw01 CEF:0|Security|threatmanager|1.0|100|worm successfully "
              "stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
              0);
    assert_field(ev, TRL_F_HOST_NAME, "fw01");
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "CEF:0|Security|threatmanager|1.0|100|worm successfully "
                 "stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232");

    ev = parse("<134>Jul  9 22:40:03 CEF:0|Vendor|Product|1|id|name|5|", 0);
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE, "CEF:0|Vendor|Product|1|id|name|5|");

    ev = parse("<13>Jul  9 22:40:03 qradar LEEF:1.0|IBM|QRadar|7.0|Login|usrName=bob", 0);
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE, "LEEF:1.0|IBM|QRadar|7.0|Login|usrName=bob");

    ev = parse("<13>Jul  9 22:40:03 app01 {\"level\":\"info\",\"msg\":\"a:b\"}", 0);
    assert_field(ev, TRL_F_HOST_NAME, "app01");
    assert_field(ev, TRL_F_MESSAGE, "{\"level\":\"info\",\"msg\":\"a:b\"}");

    ev = parse("<13>Jul  9 22:40:03 lnx01 LinuxKAudit\tuser\t1\tFri Jul  9 22:40:03 2024", 0);
    assert_field(ev, TRL_F_MESSAGE, "LinuxKAudit\tuser\t1\tFri Jul  9 22:40:03 2024");
}

static void test_rfc3164_snare_with_tabs_keeps_message_from_mswineventlog(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<14>May 17 02:25:10 SL-Win2008R2DC.lab.home MSWinEventLog\t1\tSecurity\t606129\tWed "
              "May 17 02:25:10 2017\t4634\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess "
              "Audit\tSL-Win2008R2DC.lab.home\tLogoff\tAn account was logged off.\t984658",
              0);
    assert_field(ev, TRL_F_HOST_NAME, "SL-Win2008R2DC.lab.home");
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "MSWinEventLog\t1\tSecurity\t606129\tWed May 17 02:25:10 2017\t4634\tMicrosoft-"
                 "Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\tSL-Win2008R2DC.lab.home\t"
                 "Logoff\tAn account was logged off.\t984658");
}

static void test_rfc3164_snare_with_rsyslog_tab_escapes(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<175>Oct 16 23:47:31 #001 MSWinEventLog 0#011Security#01119023582#011Fri Oct 16 "
              "16:30:44 2009#011592#011Security#011rgabcde#011User#011Success Audit",
              0);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "local5");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "debug");
    assert_field(ev, TRL_F_HOST_NAME, "#001");
    assert_field(ev, TRL_F_MESSAGE,
                 "MSWinEventLog 0#011Security#01119023582#011Fri Oct 16 16:30:44 2009#011592#011"
                 "Security#011rgabcde#011User#011Success Audit");
}

static void test_rfc3164_pri_without_timestamp_keeps_rest_as_message(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<134>%ASA-6-302013: Built outbound TCP connection 1 for "
                                 "outside:198.51.100.7/443 (198.51.100.7/443)",
                                 0);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "local0");
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "%ASA-6-302013: Built outbound TCP connection 1 for "
                 "outside:198.51.100.7/443 (198.51.100.7/443)");

    ev = parse("<13>sshd[1]: not a header", 0);
    assert_field(ev, TRL_F_MESSAGE, "sshd[1]: not a header");

    ev = parse("<13>", 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "13");
    assert_field(ev, TRL_F_MESSAGE, NULL);
}

static void test_rfc3164_cisco_ios_sequence_number_and_milliseconds(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from "
                                 "console by vty0 (10.1.1.1)",
                                 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "local7");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    assert_field(ev, TRL_F_EVENT_SEQUENCE, "123");
    assert_time(ev, "2024-03-01T18:46:11.123000000Z");
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE, "%SYS-5-CONFIG_I: Configured from console by vty0 (10.1.1.1)");

    ev = parse("<187>Jul  9 22:40:03 10.0.0.1 %LINK-3-UPDOWN: Interface GigabitEthernet0/1, "
               "changed state to down",
               0);
    assert_field(ev, TRL_F_HOST_NAME, "10.0.0.1");
    assert_field(ev, TRL_F_MESSAGE,
                 "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down");

    ev = parse("<189>Jul  9 22:40:03.004 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp", 0);
    assert_time(ev, "2024-07-09T22:40:03.004000000Z");
    assert_field(ev, TRL_F_MESSAGE, "%SEC-6-IPACCESSLOGP: list 101 denied tcp");
}

static void test_rfc3164_cisco_asa_year_and_colon_separator(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<166>Jul 09 2023 22:40:03 fw01 : %ASA-6-302015: Built inbound UDP "
              "connection 7 for outside:203.0.113.45/53",
              0);
    assert_time(ev, "2023-07-09T22:40:03.000000000Z");
    assert_field(ev, TRL_F_HOST_NAME, "fw01");
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_MESSAGE,
                 "%ASA-6-302015: Built inbound UDP connection 7 for outside:203.0.113.45/53");
}

static void test_rfc3164_router_style_tag(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<28>Jul  9 22:40:03 srx01 RT_FLOW: RT_FLOW_SESSION_DENY: session "
                                 "denied 203.0.113.45/51515->10.0.0.5/22",
                                 0);
    assert_field(ev, TRL_F_HOST_NAME, "srx01");
    assert_field(ev, TRL_F_PROCESS_NAME, "RT_FLOW");
    assert_field(ev, TRL_F_MESSAGE,
                 "RT_FLOW_SESSION_DENY: session denied 203.0.113.45/51515->10.0.0.5/22");

    ev = parse("<134>Jul  9 22:40:03 filterlog[1234]: 5,,,1000000103,em0,match,block,in,4,0x0", 0);
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_PROCESS_NAME, "filterlog");
    assert_field(ev, TRL_F_MESSAGE, "5,,,1000000103,em0,match,block,in,4,0x0");
}

static void test_rfc3164_trailing_crlf_and_nul_are_trimmed(void **state)
{
    (void)state;
    static const char line[] = "<13>Jul  9 22:40:03 host app: done\r\n\0";
    struct trl_event *ev = parse_at(line, sizeof(line) - 1, RECEIVED_NS, 0);
    assert_field(ev, TRL_F_MESSAGE, "done");
}

static void test_rfc3164_rejects_text_without_pri_or_timestamp(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "",
        "<",
        "<>",
        "<13",
        "<abc>Jul  9 22:40:03 host app: x",
        "hello world",
        "Jul  9 22:4",
        "Jux  9 22:40:03 host app: x",
        "Jul 32 22:40:03 host app: x",
        "Jul  9 24:40:03 host app: x",
        "Jul  9 22:40:03x host app: x",
        "2024-07-09Z22:40:03 host",
        "2024-07-09 22:31:02,123 INFO [main] application started",
        "<1999>free text",
        "<192>free text",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
        struct trl_event *ev = parse(lines[i], TRL_ENOMATCH);
        assert_int_equal(ev->nfields, 0);
        assert_null(ev->format);
        assert_int_equal(ev->timestamp_ns, 0);
    }
}

static void test_rfc3164_years_beyond_nanosecond_range_are_not_timestamps(void **state)
{
    (void)state;
    parse("Dec 15 2315 23:59:58 host app: x", TRL_ENOMATCH);
    parse("9999-12-31T23:59:59Z host app: x", TRL_ENOMATCH);
    struct trl_event *ev = parse("<13>0001-01-01T00:00:00Z host app: x", 0);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    assert_field(ev, TRL_F_MESSAGE, "0001-01-01T00:00:00Z host app: x");
}

static void test_rfc3164_invalid_pri_keeps_header_and_reports_einval(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<999>Jul  9 22:40:03 host app[7]: text", TRL_EINVAL);
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, NULL);
    assert_field(ev, TRL_F_HOST_NAME, "host");
    assert_field(ev, TRL_F_PROCESS_PID, "7");
    assert_field(ev, TRL_F_MESSAGE, "text");

    ev = parse("<0013>Jul  9 22:40:03 host app: text", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, NULL);
    assert_field(ev, TRL_F_MESSAGE, "text");
}

static void test_rfc3164_tolerates_pri_with_leading_zeros(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<013>Jul  9 22:40:03 host app: text", 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "13");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");

    ev = parse("<000>Jul  9 22:40:03 host kernel: panic", 0);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "0");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "kern");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "emerg");
}

static void test_rfc3164_names_every_facility_and_severity(void **state)
{
    (void)state;
    static const char *const fac[24] = {
        "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
        "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
        "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
    };
    static const char *const sev[8] = {"emerg",   "alert",  "crit", "err",
                                       "warning", "notice", "info", "debug"};
    for (unsigned pri = 0; pri <= TRL_SYSLOG_PRI_MAX; pri++) {
        char line[64];
        snprintf(line, sizeof(line), "<%u>Jul  9 22:40:03 host app: x", pri);
        struct trl_event *ev = parse(line, 0);
        char want[8];
        snprintf(want, sizeof(want), "%u", pri);
        assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, want);
        snprintf(want, sizeof(want), "%u", pri >> 3);
        assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, want);
        assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, fac[pri >> 3]);
        snprintf(want, sizeof(want), "%u", pri & 7);
        assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, want);
        assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, sev[pri & 7]);
    }
    assert_null(trl_syslog_facility_name(24));
    assert_null(trl_syslog_severity_name(8));
}

static void test_rfc3164_truncated_headers_never_overread(void **state)
{
    (void)state;
    static const char full[] = "<165>Jul  9 22:40:03.123 UTC: db01 sshd(pam_unix)[4102]: message";
    /* Every prefix, in an exactly sized heap copy so ASan catches a read past the end. */
    for (size_t n = 0; n <= sizeof(full) - 1; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, full, n);
        struct trl_event *ev = trl_event_create(arena, NULL, 0, RECEIVED_NS);
        int rc = trl_parse_rfc3164(ev, copy, n);
        assert_true(rc == 0 || rc == TRL_ENOMATCH || rc == TRL_EINVAL);
        free(copy);
    }
}

static void test_rfc3164_survives_nul_bytes_and_binary(void **state)
{
    (void)state;
    static const char nul_line[] = "<13>Jul  9 22:40:03 host app: a\0b";
    struct trl_event *ev = parse_at(nul_line, sizeof(nul_line) - 1, RECEIVED_NS, 0);
    size_t len = 0;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(msg, "a\0b", 3);

    unsigned char bin[512];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof(bin); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bin[i] = (unsigned char)x;
    }
    ev = trl_event_create(arena, (const char *)bin, sizeof(bin), RECEIVED_NS);
    int rc = trl_parse_rfc3164(ev, ev->original, ev->original_len);
    assert_true(rc == TRL_ENOMATCH || rc == 0);
}

static void test_rfc3164_parses_64k_line(void **state)
{
    (void)state;
    size_t n = 65536;
    char *line = malloc(n);
    const char head[] = "<13>Jul  9 22:40:03 host app[1]: ";
    memcpy(line, head, sizeof(head) - 1);
    memset(line + sizeof(head) - 1, 'x', n - (sizeof(head) - 1));
    struct trl_event *ev = parse_at(line, n, RECEIVED_NS, 0);
    size_t len = 0;
    assert_non_null(trl_event_get(ev, TRL_F_MESSAGE, &len));
    assert_int_equal(len, n - (sizeof(head) - 1));

    /* A 64 KiB first word with no space: a hostname, nothing else. */
    memset(line + 20, 'h', n - 20);
    ev = parse_at(line, n, RECEIVED_NS, 0);
    assert_non_null(trl_event_get(ev, TRL_F_HOST_NAME, &len));
    assert_int_equal(len, n - 20);
    free(line);
}

/* Every line of the shared auth.log samples parses with host, program and message. */
static void test_rfc3164_parses_shared_auth_logs(void **state)
{
    (void)state;
    const char *dir = trl_test_shared_dir();
    if (!dir) {
        print_message("TRL_SHARED is not set: no shared auth.log samples to parse; skipping\n");
        skip();
        return;
    }
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/data/linux-samples/*auth*.log", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) {
        print_message("no auth logs under %s; skipping\n", pattern);
        skip();
        return;
    }
    size_t lines = 0;
    for (size_t f = 0; f < g.gl_pathc; f++) {
        FILE *fp = fopen(g.gl_pathv[f], "r");
        assert_non_null(fp);
        char buf[8192];
        while (fgets(buf, sizeof(buf), fp)) {
            size_t n = strlen(buf);
            if (n <= 1)
                continue;
            struct trl_event *ev = parse_at(buf, n, RECEIVED_NS, 0);
            char ts[TRL_RFC3339_MAX];
            trl_format_rfc3339(ev->timestamp_ns, ts);
            assert_memory_equal(ts, "2024-07-09T", 11);
            assert_true(trl_event_has(ev, TRL_F_HOST_NAME));
            assert_true(trl_event_has(ev, TRL_F_PROCESS_NAME));
            assert_true(trl_event_has(ev, TRL_F_MESSAGE));
            size_t mlen = 0;
            const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &mlen);
            assert_true(msg[0] != ' ' && msg[mlen - 1] != '\n' && msg[mlen - 1] != ' ');
            lines++;
        }
        fclose(fp);
    }
    globfree(&g);
    assert_true(lines > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3164_parses_rsyslog_line_with_pri),
        cmocka_unit_test(test_rfc3164_parses_file_line_without_pri),
        cmocka_unit_test(test_rfc3164_accepts_unpadded_day),
        cmocka_unit_test(test_rfc3164_december_line_received_in_january_is_last_year),
        cmocka_unit_test(test_rfc3164_january_line_received_in_december_is_next_year),
        cmocka_unit_test(test_rfc3164_year_follows_receive_time_across_years),
        cmocka_unit_test(test_rfc3164_time_digits_are_checked_one_by_one),
        cmocka_unit_test(test_rfc3164_parses_rsyslog_high_precision_timestamp),
        cmocka_unit_test(test_rfc3164_applies_iso8601_offset),
        cmocka_unit_test(test_rfc3164_tag_right_after_timestamp_means_no_hostname),
        cmocka_unit_test(test_rfc3164_parses_util_linux_logger_lines),
        cmocka_unit_test(test_rfc3164_tag_without_pid_and_spaces_trimmed),
        cmocka_unit_test(test_rfc3164_tag_with_subsystem_in_parentheses),
        cmocka_unit_test(test_rfc3164_tag_names_with_slashes_dots_and_dashes),
        cmocka_unit_test(test_rfc3164_tag_name_bytes),
        cmocka_unit_test(test_rfc3164_non_numeric_pid_is_procid_only),
        cmocka_unit_test(test_rfc3164_kernel_uptime_stays_in_message),
        cmocka_unit_test(test_rfc3164_text_after_hostname_without_tag_is_message),
        cmocka_unit_test(test_rfc3164_ipv6_hostname_is_not_a_tag),
        cmocka_unit_test(test_rfc3164_embedded_payloads_start_the_message),
        cmocka_unit_test(test_rfc3164_snare_with_tabs_keeps_message_from_mswineventlog),
        cmocka_unit_test(test_rfc3164_snare_with_rsyslog_tab_escapes),
        cmocka_unit_test(test_rfc3164_pri_without_timestamp_keeps_rest_as_message),
        cmocka_unit_test(test_rfc3164_cisco_ios_sequence_number_and_milliseconds),
        cmocka_unit_test(test_rfc3164_cisco_asa_year_and_colon_separator),
        cmocka_unit_test(test_rfc3164_router_style_tag),
        cmocka_unit_test(test_rfc3164_trailing_crlf_and_nul_are_trimmed),
        cmocka_unit_test(test_rfc3164_rejects_text_without_pri_or_timestamp),
        cmocka_unit_test(test_rfc3164_years_beyond_nanosecond_range_are_not_timestamps),
        cmocka_unit_test(test_rfc3164_invalid_pri_keeps_header_and_reports_einval),
        cmocka_unit_test(test_rfc3164_tolerates_pri_with_leading_zeros),
        cmocka_unit_test(test_rfc3164_names_every_facility_and_severity),
        cmocka_unit_test(test_rfc3164_truncated_headers_never_overread),
        cmocka_unit_test(test_rfc3164_survives_nul_bytes_and_binary),
        cmocka_unit_test(test_rfc3164_parses_64k_line),
        cmocka_unit_test(test_rfc3164_parses_shared_auth_logs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
