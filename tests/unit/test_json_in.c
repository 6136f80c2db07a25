#include "json_test.h"

#include <json-c/json.h>

/* ECS documents (Elastic agents, Trapline's own output). */

static void test_json_ecs_nested_objects_become_dotted_fields(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        "{\"@timestamp\":\"2024-07-09T22:31:02.123456Z\",\"message\":\"Accepted publickey for "
        "deploy\",\"host\":{\"name\":\"web01\",\"os\":{\"family\":\"debian\"}},"
        "\"event\":{\"category\":[\"authentication\",\"session\"],\"outcome\":\"success\","
        "\"original\":\"spoofed\",\"created\":\"1999-01-01T00:00:00Z\"},"
        "\"source\":{\"ip\":\"10.20.1.15\",\"port\":44218},\"process\":{\"pid\":4102},"
        "\"ecs\":{\"version\":\"8.11.0\"},\"labels\":{\"env\":\"prod\",\"tier\":3}}");
    assert_string_equal(ev->format, "json");
    assert_int_equal(ev->timestamp_ns, 1720564262123456000LL);
    assert_field(ev, TRL_F_MESSAGE, "Accepted publickey for deploy");
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_named(ev, "host.os.family", "debian");
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication,session");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_SOURCE_PORT, "44218");
    assert_field(ev, TRL_F_PROCESS_PID, "4102");
    assert_named(ev, "ecs.version", "8.11.0");
    assert_named(ev, "labels.tier", "3");
    /* event.original stays the line as received; event.created stays the receive time. */
    assert_field(ev, TRL_F_EVENT_ORIGINAL, NULL);
    assert_field(ev, TRL_F_EVENT_CREATED, NULL);
    assert_memory_equal(ev->original, "{\"@timestamp\"", 13);
}

static void test_json_ecs_dotted_keys_equal_nested_objects(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"host.name\":\"web01\",\"labels.env\":\"prod\"}");
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_named(ev, "labels.env", "prod");
}

static void test_json_scalars_keep_their_spelling(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        "{\"a\":{\"t\":true,\"f\":false,\"n\":null,\"neg\":-42,\"real\":1.10,\"exp\":2.5e-3,"
        "\"big\":18446744073709551615,\"min\":-9223372036854775808,\"empty\":\"\"}}");
    assert_named(ev, "a.t", "true");
    assert_named(ev, "a.f", "false");
    assert_named(ev, "a.n", NULL);
    assert_named(ev, "a.neg", "-42");
    assert_named(ev, "a.real", "1.10");
    assert_named(ev, "a.exp", "2.5e-3");
    assert_named(ev, "a.big", "18446744073709551615");
    assert_named(ev, "a.min", "-9223372036854775808");
    assert_named(ev, "a.empty", "");
}

static void test_json_arrays_repeat_array_fields_and_stay_json_elsewhere(void **state)
{
    (void)state;
    struct trl_event *ev =
        json_parsed("{\"tags\":[\"web\",\"dmz\"],\"related\":{\"ip\":[\"10.0.0.1\",\"10.0.0.2\"]},"
                    "\"process\":{\"args\":[\"sh\",\"-c\",\"id\"],\"title\":[\"a\",\"b\"]},"
                    "\"labels\":{\"list\":[1,\"two\",{\"three\":3}],\"none\":[]}}");
    assert_string_equal(json_values(ev, TRL_F_TAGS), "web,dmz");
    assert_string_equal(json_values(ev, TRL_F_RELATED_IP), "10.0.0.1,10.0.0.2");
    assert_string_equal(json_values(ev, TRL_F_PROCESS_ARGS), "sh,-c,id");
    /* process.title holds one value: the array is kept as its JSON text. */
    assert_field(ev, TRL_F_PROCESS_TITLE, "[\"a\",\"b\"]");
    assert_named(ev, "labels.list", "[1,\"two\",{\"three\":3}]");
    assert_named(ev, "labels.none", NULL);
}

static void test_json_winlogbeat_shape_is_normalised_as_windows(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        "{\"@timestamp\":\"2024-07-09T22:31:02.000Z\",\"winlog\":{\"channel\":\"Security\","
        "\"event_id\":4625,\"provider_name\":\"Microsoft-Windows-Security-Auditing\","
        "\"computer_name\":\"DC01\",\"keywords\":[\"Audit Failure\"],\"event_data\":{"
        "\"TargetUserName\":\"administrator\",\"TargetDomainName\":\"CORP\",\"LogonType\":\"3\","
        "\"IpAddress\":\"203.0.113.45\",\"IpPort\":\"50112\",\"Status\":\"0xc000006d\","
        "\"SubStatus\":\"0xc000006a\",\"WorkstationName\":\"KALI\"}},"
        "\"event\":{\"category\":[\"authentication\"]}}");
    assert_field(ev, TRL_F_WINLOG_EVENT_ID, "4625");
    assert_string_equal(json_values(ev, TRL_F_WINLOG_KEYWORDS), "Audit Failure");
    assert_named(ev, "winlog.event_data.TargetUserName", "administrator");
    /* The category the sender already had is not repeated. */
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_field(ev, TRL_F_EVENT_ACTION, "logon-failed");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_USER_NAME, "administrator");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "50112");
    assert_field(ev, TRL_F_WINLOG_LOGON_TYPE, "Network");
    assert_field(ev, TRL_F_EVENT_REASON, "wrong password");
}

/* Other JSON objects. */

static void test_json_generic_object_takes_msg_and_time(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"level\":\"warn\",\"time\":\"2024-07-09T22:31:02+02:00\","
                                       "\"msg\":\"disk almost full\",\"disk\":{\"free_pct\":4}}");
    assert_field(ev, TRL_F_MESSAGE, "disk almost full");
    assert_named(ev, "msg", NULL);
    assert_int_equal(ev->timestamp_ns, 1720557062000000000LL);
    assert_named(ev, "time", "2024-07-09T22:31:02+02:00");
    assert_named(ev, "level", "warn");
    assert_named(ev, "disk.free_pct", "4");
}

static void test_json_msg_stays_a_field_when_message_is_present(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"msg\":\"short\",\"message\":\"long text\"}");
    assert_field(ev, TRL_F_MESSAGE, "long text");
    assert_named(ev, "msg", "short");
}

static void test_json_upper_case_message_key(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"MESSAGE\":\"hello\",\"app\":\"x\"}");
    assert_field(ev, TRL_F_MESSAGE, "hello");
}

static void test_json_name_that_would_be_leaf_and_parent_moves_under_json(void **state)
{
    (void)state;
    /* "host" and "log" are parents of known fields; "a" becomes a parent of "a.b". */
    struct trl_event *ev = json_parsed("{\"host\":\"web01\",\"log\":\"line\",\"a\":\"x\",\"a.b\":"
                                       "\"y\",\"message\":{\"text\":\"m\"},"
                                       "\"@timestamp\":{\"bad\":1},\"trapline\":\"t\"}");
    assert_named(ev, "json.host", "web01");
    assert_named(ev, "json.log", "line");
    assert_named(ev, "a", "x");
    assert_named(ev, "json.a_b", "y");
    assert_named(ev, "json.message_text", "m");
    assert_named(ev, "json.@timestamp_bad", "1");
    assert_named(ev, "json.trapline", "t");
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    /* The output is valid JSON with every key once: json-c would drop a repeated key, so its
     * own rendering of the parsed output would differ from the output. */
    const char *out = json_encoded(ev);
    struct json_object *o = json_tokener_parse(out);
    assert_non_null(o);
    assert_string_equal(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        out);
    json_object_put(o);
}

static void test_json_unreadable_timestamp_is_dropped(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"@timestamp\":\"yesterday\",\"message\":\"m\"}");
    assert_int_equal(ev->timestamp_ns, 0);
    assert_named(ev, "@timestamp", NULL);
    ev = json_parsed("{\"@timestamp\":\"9999-12-31T23:59:59Z\",\"message\":\"m\"}");
    assert_int_equal(ev->timestamp_ns, 0);
}

/* journald export JSON. */

static const char journald_sshd[] =
    "{\"__CURSOR\":\"s=0123456789abcdef0123456789abcdef;i=1a2b;b=fedcba9876543210fedcba9876543210;"
    "m=3c4d;t=61cd815a65580;x=0000000000000000\",\"__REALTIME_TIMESTAMP\":\"1720564262000000\","
    "\"__MONOTONIC_TIMESTAMP\":\"88000000000\",\"_BOOT_ID\":\"fedcba9876543210fedcba9876543210\","
    "\"_MACHINE_ID\":\"0123456789abcdef0123456789abcdef\",\"_HOSTNAME\":\"db01\",\"PRIORITY\":"
    "\"5\","
    "\"SYSLOG_FACILITY\":\"4\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"SYSLOG_TIMESTAMP\":\"Jul  9 "
    "22:31:02 \",\"_TRANSPORT\":\"syslog\",\"_PID\":\"4102\",\"_UID\":\"0\",\"_GID\":\"0\","
    "\"_COMM\":\"sshd\",\"_EXE\":\"/usr/sbin/sshd\",\"_CMDLINE\":\"sshd: unknown [priv]\","
    "\"_SYSTEMD_UNIT\":\"ssh.service\",\"_SYSTEMD_SLICE\":\"system.slice\","
    "\"_SYSTEMD_CGROUP\":\"/system.slice/ssh.service\",\"MESSAGE\":\"Failed password for root "
    "from 10.20.1.15 port 44218 ssh2\"}";

static void test_journald_fields_map_to_ecs(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(journald_sshd);
    assert_string_equal(ev->format, "json");
    assert_int_equal(ev->timestamp_ns, 1720564262000000000LL);
    assert_field(ev, TRL_F_HOST_NAME, "db01");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "4102");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/sbin/sshd");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "sshd: unknown [priv]");
    assert_field(ev, TRL_F_PROCESS_USER_ID, "0");
    assert_field(ev, TRL_F_USER_ID, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "5");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, "4");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "auth");
    assert_field(ev, TRL_F_MESSAGE, "Failed password for root from 10.20.1.15 port 44218 ssh2");
    assert_field(ev, TRL_F_EVENT_MODULE, "journald");
    assert_field(ev, TRL_F_EVENT_DATASET, "journald");
    assert_named(ev, "journald.unit", "ssh.service");
    assert_named(ev, "journald.systemd_slice", "system.slice");
    assert_named(ev, "journald.cursor",
                 "s=0123456789abcdef0123456789abcdef;i=1a2b;b=fedcba9876543210fedcba9876543210;"
                 "m=3c4d;t=61cd815a65580;x=0000000000000000");
    assert_named(ev, "journald.monotonic_timestamp", "88000000000");
    assert_named(ev, "journald.boot_id", "fedcba9876543210fedcba9876543210");
    assert_named(ev, "journald.comm", "sshd");
    assert_named(ev, "journald.gid", "0");
    assert_named(ev, "journald.transport", "syslog");
    /* Mapped keys are not repeated under journald. */
    assert_named(ev, "journald.hostname", NULL);
    assert_named(ev, "journald.pid", NULL);
    assert_named(ev, "journald.message", NULL);
    assert_named(ev, "journald.realtime_timestamp", NULL);
}

static void test_journald_binary_message_is_decoded(void **state)
{
    (void)state;
    struct trl_event *ev =
        json_parsed("{\"__REALTIME_TIMESTAMP\":\"1720564262000000\",\"_COMM\":\"backup\","
                    "\"MESSAGE\":[104,105,0,255],\"BLOB\":[[1,2],[3]],\"SYSLOG_PID\":\"77\"}");
    size_t len = 0;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(msg, "hi\0\xff", 4);
    /* Without SYSLOG_IDENTIFIER the process name is _COMM; SYSLOG_PID stands in for _PID. */
    assert_field(ev, TRL_F_PROCESS_NAME, "backup");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, NULL);
    assert_field(ev, TRL_F_PROCESS_PID, "77");
    assert_named(ev, "journald.blob", "[[1,2],[3]]");
}

static void test_journald_bad_values_stay_as_journald_fields(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(
        "{\"__REALTIME_TIMESTAMP\":\"soon\",\"PRIORITY\":\"9\",\"SYSLOG_FACILITY\":\"-1\","
        "\"_PID\":\"abc\",\"SYSLOG_PID\":\"12\",\"MESSAGE\":null,\"SYSLOG_IDENTIFIER\":[\"a\","
        "\"b\"]}");
    assert_int_equal(ev->timestamp_ns, 0);
    assert_named(ev, "journald.realtime_timestamp", "soon");
    assert_named(ev, "journald.priority", "9");
    assert_named(ev, "journald.syslog_facility", "-1");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, NULL);
    assert_field(ev, TRL_F_PROCESS_PID, "12");
    assert_named(ev, "journald.pid", "abc");
    assert_field(ev, TRL_F_MESSAGE, NULL);
    /* A field logged twice: ECS takes the first value. */
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "a");
}

static void test_journald_sshd_line_runs_the_sshd_normaliser(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed(journald_sshd);
    /* Whatever the sshd normaliser concludes, it saw the message under the sshd program. */
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd");
    if (trl_event_has(ev, TRL_F_EVENT_OUTCOME)) {
        assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
        assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    }
}

static void test_journald_shared_samples(void **state)
{
    (void)state;
    const char *dir = trl_test_shared_dir();
    if (!dir) {
        print_message("TRL_SHARED not set: skipping the db01 journal sample\n");
        skip();
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/data/linux-samples/db01-journal.json", dir);
    size_t len;
    char *buf = json_read_file(path, &len);
    if (!buf) {
        print_message("%s not readable: skipping\n", path);
        skip();
    }
    size_t lines = 0;
    for (char *line = buf, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            nl = line + strlen(line);
        struct trl_event *ev = json_event(line, (size_t)(nl - line));
        assert_int_equal(trl_parse_json(ev, ev->original, ev->original_len), 0);
        trl_normalize(ev);
        assert_field(ev, TRL_F_HOST_NAME, "db01");
        assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "sshd");
        assert_true(trl_event_has(ev, TRL_F_MESSAGE));
        assert_true(ev->timestamp_ns >= 1720564262000000000LL);
        assert_named(ev, "journald.unit", "ssh.service");
        lines++;
        if (!*nl)
            break;
    }
    assert_true(lines >= 9);
    free(buf);
}

/* JSON inside a syslog message. */

static void test_json_payload_of_syslog_keeps_format_and_adds_fields(void **state)
{
    (void)state;
    const char *line = "<134>Jul  9 22:31:02 app01 billing[311]: {\"msg\":\"invoice sent\","
                       "\"invoice\":{\"id\":\"A-17\"}}";
    struct trl_event *ev = json_event(line, strlen(line));
    ev->format = "rfc3164";
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, "billing");
    const char *json = strchr(ev->original, '{');
    trl_event_set_ref(ev, TRL_F_MESSAGE, json, strlen(json));
    size_t len;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_int_equal(trl_parse_json(ev, msg, len), 0);
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_MESSAGE, "invoice sent");
    assert_named(ev, "invoice.id", "A-17");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "billing");
}

static void test_json_payload_without_message_drops_the_json_text(void **state)
{
    (void)state;
    const char *line = "<134>Jul  9 22:31:02 app01 app: {\"user\":{\"name\":\"alice\"}}";
    struct trl_event *ev = json_event(line, strlen(line));
    ev->format = "rfc3164";
    const char *json = strchr(ev->original, '{');
    trl_event_set_ref(ev, TRL_F_MESSAGE, json, strlen(json));
    assert_int_equal(trl_parse_json(ev, json, strlen(json)), 0);
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_MESSAGE, NULL);
}

/* Malformed input. */

static void assert_no_match(const char *in, size_t len)
{
    struct trl_event *ev = json_event(in, len);
    int rc = trl_parse_json(ev, ev->original, ev->original_len);
    if (rc != TRL_ENOMATCH)
        print_error("want TRL_ENOMATCH for %.*s, got %d\n", (int)TRL_MIN(len, 80), in, rc);
    assert_int_equal(rc, TRL_ENOMATCH);
    assert_int_equal(ev->nfields, 0);
    assert_null(ev->format);
}
#define NO_MATCH(lit) assert_no_match(lit, sizeof(lit) - 1)

static void test_json_rejects_what_is_not_one_object(void **state)
{
    (void)state;
    NO_MATCH("");
    NO_MATCH("   ");
    NO_MATCH("hello world");
    NO_MATCH("[1,2,3]");
    NO_MATCH("\"just a string\"");
    NO_MATCH("42");
    NO_MATCH("{");
    NO_MATCH("{\"a\":");
    NO_MATCH("{\"a\":1");
    NO_MATCH("{\"a\" 1}");
    NO_MATCH("{a:1}");
    NO_MATCH("{\"a\":tru}");
    NO_MATCH("{\"a\":\"unterminated}");
    NO_MATCH("{\"a\":\"x\0y\"}");
    NO_MATCH("\0{\"a\":1}");
}

static void test_json_trailing_text_keeps_fields_but_is_invalid(void **state)
{
    (void)state;
    const char *in = "{\"message\":\"m\",\"a\":1} trailing words";
    struct trl_event *ev = json_event(in, strlen(in));
    assert_int_equal(trl_parse_json(ev, ev->original, ev->original_len), TRL_EINVAL);
    assert_field(ev, TRL_F_MESSAGE, "m");
    assert_named(ev, "a", "1");
    assert_string_equal(ev->format, "json");
    /* Without a message in the object, the whole line is the message. */
    in = "{} Jul  9 22:31:02 not json";
    ev = json_event(in, strlen(in));
    assert_int_equal(trl_parse_json(ev, ev->original, ev->original_len), TRL_EINVAL);
    assert_field(ev, TRL_F_MESSAGE, in);
}

static void test_json_whitespace_bom_and_crlf_around_the_object(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("\xEF\xBB\xBF  {\"message\":\"m\"}\r\n");
    assert_field(ev, TRL_F_MESSAGE, "m");
    ev = json_parsed("{\"message\":\"m\"}\n\0\0");
    assert_field(ev, TRL_F_MESSAGE, "m");
}

static void test_json_depth_bomb_is_refused(void **state)
{
    (void)state;
    size_t depth = 100000, n = 0;
    char *in = malloc(2 * depth + 16);
    assert_non_null(in);
    for (size_t i = 0; i < depth; i++) {
        memcpy(in + n, "{\"a\":", 5);
        n += 5;
        if (n > depth)
            break;
    }
    assert_no_match(in, n);
    /* Just inside json-c's limit: flattened down to our own depth, then kept as JSON text. */
    n = 0;
    for (int i = 0; i < 40; i++) {
        memcpy(in + n, "{\"a\":", 5);
        n += 5;
    }
    in[n++] = '1';
    for (int i = 0; i < 40; i++)
        in[n++] = '}';
    in[n] = '\0';
    struct trl_event *ev = json_parsed(in);
    assert_int_equal(ev->nfields, 1);
    assert_true(trl_starts_with(ev->fields[0].name, ev->fields[0].name_len, "a.a.a.a.a"));
    assert_true(trl_starts_with(ev->fields[0].val, ev->fields[0].val_len, "{\"a\":{\"a\":"));
    free(in);
}

static void test_json_huge_numbers_and_invalid_utf8_are_kept(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"n\":{\"big\":123456789012345678901234567890,"
                                       "\"real\":1e400,\"bytes\":\"caf\xe9 \xff\xfe\"}}");
    /* json-c saturates integers beyond 64 bits. */
    assert_named(ev, "n.big", "18446744073709551615");
    assert_named(ev, "n.real", "1e400");
    assert_named(ev, "n.bytes", "caf\xe9 \xff\xfe");
    /* The encoder replaces the invalid bytes, so the output is still valid JSON. */
    struct json_object *o = json_tokener_parse(json_encoded(ev));
    assert_non_null(o);
    json_object_put(o);
}

static void test_json_escaped_nul_stays_inside_the_value(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"message\":\"a\\u0000b\",\"k\\u0000ey\":1}");
    size_t len = 0;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(msg, "a\0b", 3);
}

static void test_json_64k_line(void **state)
{
    (void)state;
    size_t big = 64 * 1024;
    char *in = malloc(big + 64);
    assert_non_null(in);
    int n = sprintf(in, "{\"message\":\"");
    memset(in + n, 'x', big);
    strcpy(in + n + big, "\",\"k\":1}");
    struct trl_event *ev = json_parsed(in);
    size_t len = 0;
    assert_non_null(trl_event_get(ev, TRL_F_MESSAGE, &len));
    assert_int_equal(len, big);
    free(in);
}

static void test_json_odd_dotted_keys_stay_one_segment(void **state)
{
    (void)state;
    struct trl_event *ev = json_parsed("{\"a..b\":1,\".lead\":2,\"trail.\":3,\".\":4,"
                                       "\"k.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17\":5,"
                                       "\"x\":{\"y.z\":6}}");
    assert_named(ev, "a__b", "1");
    assert_named(ev, "_lead", "2");
    assert_named(ev, "trail_", "3");
    assert_named(ev, "_", "4");
    assert_named(ev, "k_1_2_3_4_5_6_7_8_9_10_11_12_13_14_15_16_17", "5");
    assert_named(ev, "x.y.z", "6");
}

static void test_json_long_and_empty_keys_are_skipped(void **state)
{
    (void)state;
    char in[1024];
    char key[400];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(in, sizeof(in), "{\"%s\":1,\"\":2,\"ok\":{\"\":3,\"x\":4}}", key);
    struct trl_event *ev = json_parsed(in);
    assert_int_equal(ev->nfields, 1);
    assert_named(ev, "ok.x", "4");
}

/* An event a Trapline agent parsed and normalised: read back as it is, with the line the agent
 * collected as event.original and the agent's parser name, and no normaliser run a second time. */
static void test_json_agent_event_keeps_its_fields_and_original_line(void **state)
{
    (void)state;
    const char *line =
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"message\":\"Failed password for root from "
        "10.20.1.15 port 44218 ssh2\",\"event\":{\"original\":\"Jul  9 22:31:02 db01 sshd[4102]: "
        "Failed password for root from 10.20.1.15 port 44218 "
        "ssh2\",\"category\":[\"authentication\"],"
        "\"outcome\":\"failure\"},\"log\":{\"syslog\":{\"appname\":\"sshd\"}},"
        "\"process\":{\"name\":\"sshd\"},\"source\":{\"ip\":\"10.20.1.15\"},"
        "\"trapline\":{\"format\":\"rfc3164\"}}";
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = trl_event_create(a, line, strlen(line), 0);
    trl_parse_agent_event(ev);
    assert_string_equal(ev->original, "Jul  9 22:31:02 db01 sshd[4102]: Failed password for root "
                                      "from 10.20.1.15 port 44218 ssh2");
    assert_string_equal(ev->format, "rfc3164");
    assert_string_equal(json_values(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_true(ev->flags & TRL_EVF_FROM_AGENT);

    /* Not JSON: kept whole, as any unparsed line. */
    ev = trl_event_create(a, "garbage", 7, 0);
    trl_parse_agent_event(ev);
    assert_true(ev->flags & TRL_EVF_UNPARSED);
    assert_field(ev, TRL_F_MESSAGE, "garbage");
    trl_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_ecs_nested_objects_become_dotted_fields),
        cmocka_unit_test(test_json_ecs_dotted_keys_equal_nested_objects),
        cmocka_unit_test(test_json_scalars_keep_their_spelling),
        cmocka_unit_test(test_json_arrays_repeat_array_fields_and_stay_json_elsewhere),
        cmocka_unit_test(test_json_winlogbeat_shape_is_normalised_as_windows),
        cmocka_unit_test(test_json_generic_object_takes_msg_and_time),
        cmocka_unit_test(test_json_msg_stays_a_field_when_message_is_present),
        cmocka_unit_test(test_json_upper_case_message_key),
        cmocka_unit_test(test_json_name_that_would_be_leaf_and_parent_moves_under_json),
        cmocka_unit_test(test_json_unreadable_timestamp_is_dropped),
        cmocka_unit_test(test_journald_fields_map_to_ecs),
        cmocka_unit_test(test_journald_binary_message_is_decoded),
        cmocka_unit_test(test_journald_bad_values_stay_as_journald_fields),
        cmocka_unit_test(test_journald_sshd_line_runs_the_sshd_normaliser),
        cmocka_unit_test(test_journald_shared_samples),
        cmocka_unit_test(test_json_payload_of_syslog_keeps_format_and_adds_fields),
        cmocka_unit_test(test_json_payload_without_message_drops_the_json_text),
        cmocka_unit_test(test_json_rejects_what_is_not_one_object),
        cmocka_unit_test(test_json_trailing_text_keeps_fields_but_is_invalid),
        cmocka_unit_test(test_json_whitespace_bom_and_crlf_around_the_object),
        cmocka_unit_test(test_json_depth_bomb_is_refused),
        cmocka_unit_test(test_json_huge_numbers_and_invalid_utf8_are_kept),
        cmocka_unit_test(test_json_escaped_nul_stays_inside_the_value),
        cmocka_unit_test(test_json_64k_line),
        cmocka_unit_test(test_json_odd_dotted_keys_stay_one_segment),
        cmocka_unit_test(test_json_long_and_empty_keys_are_skipped),
        cmocka_unit_test(test_json_agent_event_keeps_its_fields_and_original_line),
    };
    return cmocka_run_group_tests(tests, json_setup, json_teardown);
}
