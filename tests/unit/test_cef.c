/* CEF: header and extension parsing, escapes, ECS mapping, and malformed input. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

#define RECV_NS 1720526400000000000LL /* 2024-07-09T12:00:00Z */

#define TRL_TEST_PARSER  trl_parse_cef
#define TRL_TEST_RECV_NS RECV_NS
#include "parse_test.h"

#define assert_ext(ev, key, want) assert_named(ev, "cef.extensions." key, want)

static void test_cef_spec_example(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("CEF:0|Security|threatmanager|1.0|100|worm successfully "
                                    "stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232");
    assert_string_equal(ev->format, "cef");
    assert_field(ev, TRL_F_OBSERVER_VENDOR, "Security");
    assert_field(ev, TRL_F_OBSERVER_PRODUCT, "threatmanager");
    assert_field(ev, TRL_F_OBSERVER_VERSION, "1.0");
    assert_field(ev, TRL_F_EVENT_CODE, "100");
    assert_field(ev, TRL_F_MESSAGE, "worm successfully stopped");
    assert_field(ev, TRL_F_EVENT_SEVERITY, "10");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.1");
    assert_field(ev, TRL_F_DESTINATION_IP, "2.1.2.2");
    assert_field(ev, TRL_F_SOURCE_PORT, "1232");
    assert_named(ev, "cef.version", "0");
    assert_named(ev, "cef.name", "worm successfully stopped");
    assert_named(ev, "cef.device_event_class_id", "100");
    assert_ext(ev, "src", "10.0.0.1");
    assert_ext(ev, "spt", "1232");
    assert_int_equal(ev->timestamp_ns, 0);
}

static void test_cef_header_escapes(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("CEF:0|security|threat\\|manager|1.0|100|detected a \\\\ in "
                                    "packet|10|src=10.0.0.1");
    assert_field(ev, TRL_F_OBSERVER_PRODUCT, "threat|manager");
    assert_field(ev, TRL_F_MESSAGE, "detected a \\ in packet");
    assert_field(ev, TRL_F_EVENT_SEVERITY, "10");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.1");
}

static void test_cef_extension_values_with_spaces_and_escapes(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse_ok("CEF:0|Acme|Scanner|2.1|scan-7|File scanned|3|cs1=some\\=value with spaces  "
                 "cs1Label=Scan Policy msg=line one\\nline two filePath=C:\\\\Windows\\\\x.exe "
                 "fname=x.exe request=https://intranet.corp/a?b\\=c&d\\=e");
    assert_ext(ev, "cs1", "some=value with spaces");
    assert_named(ev, "cef.custom.Scan_Policy", "some=value with spaces");
    assert_field(ev, TRL_F_MESSAGE, "line one\nline two");
    assert_field(ev, TRL_F_FILE_PATH, "C:\\Windows\\x.exe");
    assert_field(ev, TRL_F_FILE_NAME, "x.exe");
    assert_field(ev, TRL_F_URL_ORIGINAL, "https://intranet.corp/a?b=c&d=e");
}

static void test_cef_firewall_traffic_mapping(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse_ok("CEF:0|Palo Alto Networks|PAN-OS|10.1.6|end|TRAFFIC|1|rt=Jul 09 2024 10:15:02 GMT "
                 "deviceExternalId=0123456789 src=10.1.1.5 dst=93.184.216.34 "
                 "sourceTranslatedAddress=203.0.113.10 spt=52144 dpt=443 proto=TCP act=allow "
                 "suser=corp\\\\alice duser= app=SSL cs1Label=Rule cs1=allow-web cs4Label=FromZone "
                 "cs4=trust in=1532 out=8871 dvchost=fw01 dvc=10.1.1.1 smac=00:11:22:33:44:55 "
                 "outcome=success");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
    assert_field(ev, TRL_F_SOURCE_IP, "10.1.1.5");
    assert_field(ev, TRL_F_DESTINATION_IP, "93.184.216.34");
    assert_field(ev, TRL_F_SOURCE_PORT, "52144");
    assert_field(ev, TRL_F_DESTINATION_PORT, "443");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "tcp");
    assert_field(ev, TRL_F_NETWORK_PROTOCOL, "ssl");
    assert_field(ev, TRL_F_EVENT_ACTION, "allow");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_SOURCE_USER_NAME, "corp\\alice");
    assert_field(ev, TRL_F_USER_NAME, "corp\\alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_BYTES, "1532");
    assert_field(ev, TRL_F_DESTINATION_BYTES, "8871");
    assert_field(ev, TRL_F_OBSERVER_HOSTNAME, "fw01");
    assert_field(ev, TRL_F_SOURCE_MAC, "00:11:22:33:44:55");
    assert_named(ev, "observer.ip", "10.1.1.1");
    assert_named(ev, "cef.custom.Rule", "allow-web");
    assert_named(ev, "cef.custom.FromZone", "trust");
    assert_ext(ev, "duser", "");
    assert_ext(ev, "sourceTranslatedAddress", "203.0.113.10");
    assert_field(ev, TRL_F_MESSAGE, "TRAFFIC");
}

static void test_cef_full_key_names_and_numeric_transport(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "CEF:1|Vendor|Product|1|42|Login failed|High|sourceAddress=198.51.100.7 "
        "destinationAddress=web01.corp.local destinationPort=22 transportProtocol=6 "
        "destinationUserName=root sourceHostName=attacker.example deviceAction=Blocked Login "
        "eventOutcome=Failure receiptTime=1720520102000");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.7");
    assert_field(ev, TRL_F_DESTINATION_IP, NULL);
    assert_field(ev, TRL_F_DESTINATION_ADDRESS, "web01.corp.local");
    assert_field(ev, TRL_F_DESTINATION_PORT, "22");
    assert_field(ev, TRL_F_NETWORK_TRANSPORT, "tcp");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "attacker.example");
    assert_field(ev, TRL_F_EVENT_ACTION, "blocked-login");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_EVENT_SEVERITY, "8");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
}

static void test_cef_severity_words(void **state)
{
    (void)state;
    static const struct {
        const char *sev, *want;
    } cases[] = {{"Low", "3"},      {"Medium", "6"}, {"High", "8"}, {"Very-High", "10"},
                 {"Unknown", NULL}, {"0", "0"},      {"11", NULL},  {"7", "7"}};
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        char line[128];
        snprintf(line, sizeof(line), "CEF:0|V|P|1|1|n|%s|src=1.2.3.4", cases[i].sev);
        struct trl_event *ev = parse_ok(line);
        assert_field(ev, TRL_F_EVENT_SEVERITY, cases[i].want);
    }
}

static void test_cef_time_prefers_rt_over_end_and_start(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("CEF:0|V|P|1|1|n|5|start=1720000000000 rt=Jul 09 2024 "
                                    "10:15:02.250 end=1720000001000");
    assert_time(ev, "2024-07-09T10:15:02.250000000Z");
    ev = parse_ok("CEF:0|V|P|1|1|n|5|start=1720000000000 end=1720000001000");
    assert_time(ev, "2024-07-03T09:46:41.000000000Z");
    ev = parse_ok("CEF:0|V|P|1|1|n|5|rt=Jul 09 10:15:02");
    assert_time(ev, "2024-07-09T10:15:02.000000000Z");
    ev = parse_ok("CEF:0|V|P|1|1|n|5|rt=not a time");
    assert_int_equal(ev->timestamp_ns, 0);
}

static void test_cef_file_hash_only_when_sha256(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse_ok("CEF:0|V|AV|1|1|Malware found|9|fileHash="
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 fname=evil.exe");
    assert_field(ev, TRL_F_FILE_HASH_SHA256,
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_field(ev, TRL_F_RELATED_HASH,
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ev = parse_ok("CEF:0|V|AV|1|1|Malware found|9|fileHash=d41d8cd98f00b204e9800998ecf8427e");
    assert_field(ev, TRL_F_FILE_HASH_SHA256, NULL);
    assert_ext(ev, "fileHash", "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_cef_in_syslog_msg_keeps_syslog_format(void **state)
{
    (void)state;
    const char *msg = "CEF:0|Trend Micro|Deep Security Agent|20.0|4000000|Eicar_test_file|6|"
                      "cn1=1 cn1Label=Host ID dvchost=ws7 act=Quarantine";
    struct trl_event *ev = trl_event_create(arena, msg, strlen(msg), RECV_NS);
    ev->format = "rfc3164";
    trl_event_set_str(ev, TRL_F_HOST_NAME, "relay");
    trl_event_set_str(ev, TRL_F_MESSAGE, msg);
    assert_int_equal(trl_parse_cef(ev, msg, strlen(msg)), 0);
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_HOST_NAME, "relay");
    assert_field(ev, TRL_F_OBSERVER_HOSTNAME, "ws7");
    assert_field(ev, TRL_F_EVENT_ACTION, "quarantine");
    assert_field(ev, TRL_F_MESSAGE, "Eicar_test_file");
    assert_named(ev, "cef.custom.Host_ID", "1");
}

static void test_cef_line_without_extension(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("CEF:0|V|P|1|7|Name here|4|");
    assert_field(ev, TRL_F_MESSAGE, "Name here");
    ev = parse_ok("CEF:0|V|P|1|7|Name here|4\r\n");
    assert_field(ev, TRL_F_EVENT_SEVERITY, "4");
}

static void test_cef_keys_are_sanitised_in_field_names(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok("CEF:0|V|P|1|1|n|1|ad.User[0]=bob ..=x a=1");
    assert_named(ev, "cef.extensions.ad_User_0_", "bob");
    assert_named(ev, "cef.extensions.__", "x");
    assert_named(ev, "cef.extensions.a", "1");
}

static void test_cef_not_cef_is_nomatch(void **state)
{
    (void)state;
    static const char *const lines[] = {"", "CEF", "cef:0|a|b|c|d|e|f|", "LEEF:1.0|a|b|c|d|",
                                        " CEF:0|a"};
    assert_not_matched(lines, TRL_ARRAY_LEN(lines));
    struct trl_event *ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_cef(ev, NULL, 0), TRL_ENOMATCH);
}

static void test_cef_malformed_is_invalid_with_a_message(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "CEF:",
        "CEF:0",
        "CEF:0|",
        "CEF:0|a|b",
        "CEF:0|a|b|c|d|e",
        "CEF:0|a\\",
        "CEF:0|a|b|c\\|",
        "CEF:x|a|b|c|d|e|f|k=v",
        "CEF:|a|b|c|d|e|f|",
    };
    assert_invalid_with_message(lines, TRL_ARRAY_LEN(lines), "cef");
}

static void test_cef_odd_extensions_are_tolerated(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "CEF:0|V|P|1|1|n|1|just some words",
        "CEF:0|V|P|1|1|n|1|=value k=",
        "CEF:0|V|P|1|1|n|1|k=v\\",
        "CEF:0|V|P|1|1|n|1|k=\\",
        "CEF:0|V|P|1|1|n|1|   k=v   ",
        "CEF:0|V|P|1|1|n|1|k==v x= =y",
        "CEF:0|V|P|1|1|n|1|spt=99999 dpt=-1 in=abc src=",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
        int rc;
        struct trl_event *ev = parse_as(lines[i], strlen(lines[i]), NULL, &rc);
        assert_int_equal(rc, 0);
        assert_field(ev, TRL_F_SOURCE_PORT, NULL);
    }
}

static void test_cef_huge_and_binary_values(void **state)
{
    (void)state;
    size_t len = 70000;
    char *buf = malloc(len);
    const char *head = "CEF:0|V|P|1|1|n|1|msg=";
    size_t hl = strlen(head);
    memcpy(buf, head, hl);
    memset(buf + hl, 'x', len - hl);
    struct trl_event *ev = trl_event_create(arena, "", 0, RECV_NS);
    assert_int_equal(trl_parse_cef(ev, buf, len), 0);
    size_t mlen;
    assert_non_null(trl_event_get(ev, TRL_F_MESSAGE, &mlen));
    assert_int_equal(mlen, len - hl);

    for (size_t i = hl; i < len; i++)
        buf[i] = (char)(i * 37 + 11);
    ev = trl_event_create(arena, "", 0, RECV_NS);
    int rc = trl_parse_cef(ev, buf, len);
    assert_true(rc == 0 || rc == TRL_EINVAL);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cef_spec_example),
        cmocka_unit_test(test_cef_header_escapes),
        cmocka_unit_test(test_cef_extension_values_with_spaces_and_escapes),
        cmocka_unit_test(test_cef_firewall_traffic_mapping),
        cmocka_unit_test(test_cef_full_key_names_and_numeric_transport),
        cmocka_unit_test(test_cef_severity_words),
        cmocka_unit_test(test_cef_time_prefers_rt_over_end_and_start),
        cmocka_unit_test(test_cef_file_hash_only_when_sha256),
        cmocka_unit_test(test_cef_in_syslog_msg_keeps_syslog_format),
        cmocka_unit_test(test_cef_line_without_extension),
        cmocka_unit_test(test_cef_keys_are_sanitised_in_field_names),
        cmocka_unit_test(test_cef_not_cef_is_nomatch),
        cmocka_unit_test(test_cef_malformed_is_invalid_with_a_message),
        cmocka_unit_test(test_cef_odd_extensions_are_tolerated),
        cmocka_unit_test(test_cef_huge_and_binary_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
