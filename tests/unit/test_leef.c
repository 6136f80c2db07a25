/* LEEF 1.0 and 2.0: header, delimiters, devTime formats, ECS mapping, and malformed input. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

#define RECV_NS 1720526400000000000LL /* 2024-07-09T12:00:00Z */

#define TRL_TEST_PARSER  trl_parse_leef
#define TRL_TEST_RECV_NS RECV_NS
#include "parse_test.h"

static void test_leef1_tab_separated_attributes(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\t"
                                    "dst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\t"
                                    "usrName=joe.black");
    assert_string_equal(ev->format, "leef");
    assert_field(ev, TRL_F_OBSERVER_VENDOR, "Microsoft");
    assert_field(ev, TRL_F_OBSERVER_PRODUCT, "MSExchange");
    assert_field(ev, TRL_F_OBSERVER_VERSION, "4.0 SP1");
    assert_field(ev, TRL_F_EVENT_CODE, "15345");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.0");
    assert_field(ev, TRL_F_DESTINATION_IP, "172.50.123.1");
    assert_field(ev, TRL_F_EVENT_SEVERITY, "5");
    assert_field(ev, TRL_F_SOURCE_PORT, "81");
    assert_field(ev, TRL_F_DESTINATION_PORT, "21");
    assert_field(ev, TRL_F_USER_NAME, "joe.black");
    assert_field(ev, TRL_F_RELATED_USER, "joe.black");
    assert_field(ev, TRL_F_EVENT_CATEGORY, NULL);
    assert_named(ev, "leef.cat", "anomaly");
    assert_named(ev, "leef.usrName", "joe.black");
}

static void test_leef2_caret_delimiter(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^"
                                    "dst=10.0.0.5^sev=5^srcPort=81^dstPort=21^proto=6");
    assert_field(ev, TRL_F_EVENT_CODE, "41");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.1.8");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.0.0.5");
    assert_field(ev, TRL_F_DESTINATION_PORT, "21");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "tcp");
}

static void test_leef2_hex_and_missing_delimiter(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:2.0|V|P|1.0|E1|x09|src=10.0.0.1\tdst=10.0.0.2");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.1");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.0.0.2");
    ev = parse_ok("LEEF:2.0|V|P|1.0|E1|0x5E|src=10.0.0.3^dst=10.0.0.4");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.3");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.0.0.4");
    ev = parse_ok("LEEF:2.0|V|P|1.0|E1|src=10.0.0.5\tdst=10.0.0.6");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.0.0.6");
    ev = parse_ok("LEEF:2.0|V|P|1.0|E1||src=10.0.0.7");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.7");
}

static void test_leef_devtime_with_format(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:1.0|V|P|1|E|devTime=Jul 09 2024 10:15:02.345 UTC\t"
                                    "devTimeFormat=MMM dd yyyy HH:mm:ss.SSS zzz\tsrc=10.0.0.1");
    assert_time(ev, "2024-07-09T10:15:02.345000000Z");
    ev = parse_ok("LEEF:2.0|V|P|1|E|^|devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^"
                  "devTime=2024-07-09T10:15:02.345+0200");
    assert_time(ev, "2024-07-09T08:15:02.345000000Z");
    ev = parse_ok("LEEF:1.0|V|P|1|E|devTime=1720520102345");
    assert_time(ev, "2024-07-09T10:15:02.345000000Z");
    ev = parse_ok("LEEF:1.0|V|P|1|E|devTime=Jul 09 2024 10:15:02");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
    ev = parse_ok("LEEF:1.0|V|P|1|E|devTime=09/07/2024 10:15\tdevTimeFormat=dd/MM/yyyy HH:mm");
    assert_time(ev, "2024-07-09T10:15:00.000000000Z");
    ev = parse_ok("LEEF:1.0|V|P|1|E|devTime=garbage\tdevTimeFormat=yyyy");
    assert_int_equal(ev->timestamp_ns, 0);
}

static void test_leef_devtime_format_letters(void **state)
{
    (void)state;
    static const struct {
        const char *time, *format, *want;
    } cases[] = {
        {"07/09/24 10:15:02 PM", "MM/dd/yy hh:mm:ss a", "2024-07-09T22:15:02.000000000Z"},
        {"07/09/24 12:05:00 AM", "MM/dd/yy hh:mm:ss a", "2024-07-09T00:05:00.000000000Z"},
        {"2024-07-09T10:15:02Z", "yyyy-MM-dd'T'HH:mm:ssX", "2024-07-09T10:15:02.000000000Z"},
        {"2024-07-09T10:15:02-05:00", "yyyy-MM-dd'T'HH:mm:ssXXX", "2024-07-09T15:15:02.000000000Z"},
        {"Tue, 9 July 2024 10:15:02 GMT+02:00", "EEE, d MMMM yyyy HH:mm:ss z",
         "2024-07-09T08:15:02.000000000Z"},
        {"Jul 09 2024 10:15:02 EST", "MMM dd yyyy HH:mm:ss z", "2024-07-09T10:15:02.000000000Z"},
        {"it's 2024.07.09 10:15", "'it''s' yyyy.MM.dd HH:mm", "2024-07-09T10:15:00.000000000Z"},
        /* No year: the one that puts the date closest before the receive time (2024-07-09). */
        {"Dec 31 23:59:59", "MMM dd HH:mm:ss", "2023-12-31T23:59:59.000000000Z"},
        {"Jul 10 01:00:00", "MMM dd HH:mm:ss", "2024-07-10T01:00:00.000000000Z"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        char line[256];
        snprintf(line, sizeof(line), "LEEF:1.0|V|P|1|E|devTime=%s\tdevTimeFormat=%s", cases[i].time,
                 cases[i].format);
        struct trl_event *ev = parse_ok(line);
        assert_time(ev, cases[i].want);
    }
    static const struct {
        const char *time, *format;
    } bad[] = {
        {"13/09/24 10:15:02 PM", "MM/dd/yy hh:mm:ss a"},
        {"07/09/24 13:15:02 PM", "MM/dd/yy hh:mm:ss a"},
        {"07/09/24 10:15:02 XM", "MM/dd/yy hh:mm:ss a"},
        {"2024-07-09", "yyyy-MM-dd'T'"},
        {"2024-07-09 junk", "yyyy-MM-dd"},
        {"2024 w 07", "yyyy w MM"},
        {"1969-12-31", "yyyy-MM-dd"},
        {"2024-07-09T10:15+9", "yyyy-MM-dd'T'HH:mmX"},
        {"Foo 09 2024", "MMM dd yyyy"},
        {"Ju", "MMM"},
        {"it is", "'it''s'"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        char line[256];
        snprintf(line, sizeof(line), "LEEF:1.0|V|P|1|E|devTime=%s\tdevTimeFormat=%s", bad[i].time,
                 bad[i].format);
        struct trl_event *ev = parse_ok(line);
        if (ev->timestamp_ns != 0)
            fail_msg("case %zu parsed", i);
    }
}

static void test_leef_devtime_epoch_shapes(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:1.0|V|P|1|E|devTime=1720520102.5");
    assert_time(ev, "2024-07-09T10:15:02.500000000Z");
    ev = parse_ok("LEEF:1.0|V|P|1|E|devTime= 1720520102 ");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
    static const char *const bad[] = {
        "LEEF:1.0|V|P|1|E|devTime=17205201023450",
        "LEEF:1.0|V|P|1|E|devTime=1720520102345.5",
        "LEEF:1.0|V|P|1|E|devTime=1720520102.",
        "LEEF:1.0|V|P|1|E|devTime=99999999999",
        "LEEF:1.0|V|P|1|E|devTime=9999999999999",
        "LEEF:1.0|V|P|1|E|devTime=2500-01-01T00:00:00Z",
        "LEEF:1.0|V|P|1|E|devTime=1000-01-01 00:00:00",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        ev = parse_ok(bad[i]);
        if (ev->timestamp_ns != 0)
            fail_msg("case %zu parsed", i);
    }
}

static void test_leef_web_proxy_mapping(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse_ok("LEEF:1.0|Zscaler|NSS|4.1|Malware|devTime=Jul 09 2024 10:15:02 GMT\tsrc=10.8.0.4\t"
                 "dst=203.0.113.9\tusrName=alice@corp.example\turl=http://bad.example/dl.exe\t"
                 "action=Blocked\tproto=HTTP\tsrcBytes=512\tdstBytes=0\tsrcMAC=00:11:22:33:44:55\t"
                 "dstMAC=66:77:88:99:aa:bb\tpolicy=Block Malware\tuserAgent=curl/8.0\t"
                 "msg=Download blocked\tidentSrc=10.8.0.99\tidentHostName=ws-alice");
    assert_field(ev, TRL_F_URL_ORIGINAL, "http://bad.example/dl.exe");
    assert_field(ev, TRL_F_EVENT_ACTION, "blocked");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "http");
    assert_field(ev, TRL_F_SOURCE_BYTES, "512");
    assert_field(ev, TRL_F_DESTINATION_BYTES, "0");
    assert_field(ev, TRL_F_SOURCE_MAC, "00:11:22:33:44:55");
    assert_named(ev, "destination.mac", "66:77:88:99:aa:bb");
    assert_field(ev, TRL_F_RULE_NAME, "Block Malware");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, "curl/8.0");
    assert_field(ev, TRL_F_MESSAGE, "Download blocked");
    assert_field(ev, TRL_F_SOURCE_IP, "10.8.0.4");
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "ws-alice");
    assert_named(ev, "leef.identSrc", "10.8.0.99");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
}

static void test_leef1_space_separated_attributes(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:1.0|Vendor|Firewall|2.0|deny|src=10.0.0.1 dst=10.0.0.2 "
                                    "usrName=bob smith msg=connection denied by rule 7");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.1");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.0.0.2");
    assert_field(ev, TRL_F_USER_NAME, "bob smith");
    assert_field(ev, TRL_F_MESSAGE, "connection denied by rule 7");
}

static void test_leef_in_syslog_msg_keeps_syslog_format(void **state)
{
    (void)state;
    const char *msg = "LEEF:1.0|QRadar|QRM|1.0|NEW_PORT_DISCOVERD|src=172.5.6.67\tdst=172.50.123.1";
    struct trl_event *ev = trl_event_create(arena, msg, strlen(msg), RECV_NS);
    ev->format = "rfc5424";
    trl_event_set_str(ev, TRL_F_MESSAGE, msg);
    assert_int_equal(trl_parse_leef(ev, msg, strlen(msg)), 0);
    assert_string_equal(ev->format, "rfc5424");
    assert_field(ev, TRL_F_MESSAGE, msg);
    assert_field(ev, TRL_F_EVENT_CODE, "NEW_PORT_DISCOVERD");
}

static void test_leef_header_pipe_escape(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("LEEF:1.0|Ven\\|dor|P|1|E|src=10.0.0.1");
    assert_field(ev, TRL_F_OBSERVER_VENDOR, "Ven|dor");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.1");
}

static void test_leef_not_leef_is_nomatch(void **state)
{
    (void)state;
    static const char *const lines[] = {"", "LEEF", "leef:1.0|a|b|c|d|", "CEF:0|a|b|c|d|e|f|"};
    assert_not_matched(lines, TRL_ARRAY_LEN(lines));
    struct trl_event *ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_leef(ev, NULL, 0), TRL_ENOMATCH);
}

static void test_leef_malformed_is_invalid_with_a_message(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "LEEF:",           "LEEF:1.0",       "LEEF:1.0|",    "LEEF:1.0|V|P|1",
        "LEEF:x|V|P|1|E|", "LEEF:|V|P|1|E|", "LEEF:1.0|V\\", "LEEF:2.0|V|P|1|E",
    };
    assert_invalid_with_message(lines, TRL_ARRAY_LEN(lines), "leef");
}

static void test_leef_odd_attributes_are_tolerated(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "LEEF:1.0|V|P|1|E|",
        "LEEF:1.0|V|P|1|E|no equals here",
        "LEEF:1.0|V|P|1|E|=v\t\t\tk=",
        "LEEF:2.0|V|P|1|E|x",
        "LEEF:2.0|V|P|1|E|x0|",
        "LEEF:2.0|V|P|1|E|xZZ|a=b",
        "LEEF:2.0|V|P|1|E|0x|a=b",
        "LEEF:2.0|V|P|1|E|=|a=b",
        "LEEF:1.0|V|P|1|E|srcPort=70000\tsev=99\tsrc=\tdevTime=",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
        int rc;
        struct trl_event *ev = parse_as(lines[i], strlen(lines[i]), NULL, &rc);
        assert_int_equal(rc, 0);
        assert_field(ev, TRL_F_SOURCE_PORT, NULL);
        assert_field(ev, TRL_F_EVENT_SEVERITY, NULL);
    }
}

static void test_leef_huge_and_binary_values(void **state)
{
    (void)state;
    size_t len = 70000;
    char *buf = malloc(len);
    const char *head = "LEEF:2.0|V|P|1|E|^|msg=";
    size_t hl = strlen(head);
    memcpy(buf, head, hl);
    memset(buf + hl, 'y', len - hl);
    struct trl_event *ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_leef(ev, buf, len), 0);
    size_t mlen;
    assert_non_null(trl_event_get(ev, TRL_F_MESSAGE, &mlen));
    assert_int_equal(mlen, len - hl);
    for (size_t i = hl; i < len; i++)
        buf[i] = (char)(i * 53 + 3);
    ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_leef(ev, buf, len), 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leef1_tab_separated_attributes),
        cmocka_unit_test(test_leef2_caret_delimiter),
        cmocka_unit_test(test_leef2_hex_and_missing_delimiter),
        cmocka_unit_test(test_leef_devtime_with_format),
        cmocka_unit_test(test_leef_devtime_format_letters),
        cmocka_unit_test(test_leef_devtime_epoch_shapes),
        cmocka_unit_test(test_leef_web_proxy_mapping),
        cmocka_unit_test(test_leef1_space_separated_attributes),
        cmocka_unit_test(test_leef_in_syslog_msg_keeps_syslog_format),
        cmocka_unit_test(test_leef_header_pipe_escape),
        cmocka_unit_test(test_leef_not_leef_is_nomatch),
        cmocka_unit_test(test_leef_malformed_is_invalid_with_a_message),
        cmocka_unit_test(test_leef_odd_attributes_are_tolerated),
        cmocka_unit_test(test_leef_huge_and_binary_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
