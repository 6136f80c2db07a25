#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

/* 2024-07-10T00:00:00Z */
#define RECEIVED_NS (1720569600LL * TRL_NS_PER_SEC)
#define SD          "log.syslog.structured_data."

#include "arena_fixture.h"

static struct trl_event *parse_n(const char *line, size_t len, int want_rc)
{
    struct trl_event *ev = trl_event_create(arena, line, len, RECEIVED_NS);
    assert_int_equal(trl_parse_rfc5424(ev, ev->original, ev->original_len), want_rc);
    return ev;
}

static struct trl_event *parse(const char *line, int want_rc)
{
    return parse_n(line, strlen(line), want_rc);
}

static void test_rfc5424_rfc_example_1_with_bom(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                                 "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
                                 0);
    assert_string_equal(ev->format, "rfc5424");
    assert_time(ev, "2003-10-11T22:14:15.003000000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "34");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, "4");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "auth");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "2");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "crit");
    assert_field(ev, TRL_F_LOG_SYSLOG_VERSION, "1");
    assert_field(ev, TRL_F_LOG_SYSLOG_HOSTNAME, "mymachine.example.com");
    assert_field(ev, TRL_F_HOST_NAME, "mymachine.example.com");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "su");
    assert_field(ev, TRL_F_PROCESS_NAME, "su");
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, NULL);
    assert_field(ev, TRL_F_PROCESS_PID, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "ID47");
    assert_field(ev, TRL_F_MESSAGE, "'su root' failed for lonvick on /dev/pts/8");
}

static void test_rfc5424_rfc_example_2_with_offset_and_microseconds(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
              "%% It's time to make the do-nuts.",
              0);
    assert_time(ev, "2003-08-24T12:14:15.000003000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "local4");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    assert_field(ev, TRL_F_HOST_NAME, "192.0.2.1");
    assert_field(ev, TRL_F_PROCESS_NAME, "myproc");
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, "8710");
    assert_field(ev, TRL_F_PROCESS_PID, "8710");
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, NULL);
    assert_field(ev, TRL_F_MESSAGE, "%% It's time to make the do-nuts.");
}

static void test_rfc5424_rfc_example_3_structured_data_and_message(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
              "\xEF\xBB\xBF"
              "An application event log entry...",
              0);
    assert_field(ev, TRL_F_PROCESS_NAME, "evntslog");
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "ID47");
    assert_named(ev, SD "exampleSDID@32473.iut", "3");
    assert_named(ev, SD "exampleSDID@32473.eventSource", "Application");
    assert_named(ev, SD "exampleSDID@32473.eventID", "1011");
    assert_field(ev, TRL_F_MESSAGE, "An application event log entry...");
}

static void test_rfc5424_rfc_example_4_two_elements_without_message(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
              "[examplePriority@32473 class=\"high\"]",
              0);
    assert_named(ev, SD "exampleSDID@32473.eventID", "1011");
    assert_named(ev, SD "examplePriority@32473.class", "high");
    assert_field(ev, TRL_F_MESSAGE, NULL);
}

static void test_rfc5424_util_linux_logger_lines(void **state)
{
    (void)state;
    /* logger -n 127.0.0.1 --rfc5424 -t myapp "hello 5424" */
    struct trl_event *ev = parse("<13>1 2026-11-27T17:04:11.081446+00:00 vm myapp - - [timeQuality "
                                 "tzKnown=\"1\" isSynced=\"0\"] hello 5424",
                                 0);
    assert_time(ev, "2026-11-27T17:04:11.081446000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "user");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    assert_field(ev, TRL_F_HOST_NAME, "vm");
    assert_field(ev, TRL_F_PROCESS_NAME, "myapp");
    assert_named(ev, SD "timeQuality.tzKnown", "1");
    assert_named(ev, SD "timeQuality.isSynced", "0");
    assert_field(ev, TRL_F_MESSAGE, "hello 5424");

    /* logger --rfc5424=notq */
    ev = parse("<13>1 2026-11-27T17:04:11.085312+00:00 vm myapp - - - no tq", 0);
    assert_named(ev, SD "timeQuality.tzKnown", NULL);
    assert_field(ev, TRL_F_MESSAGE, "no tq");

    /* logger --rfc5424 -i --msgid MSG1 --sd-id zoo@123 --sd-param 'tiger="hungry"'
     *        --sd-param 'note="a \"q\" \\ back\]"' "with sd" */
    ev = parse("<13>1 2026-11-27T17:04:16.138838+00:00 vm myapp 10684 MSG1 [timeQuality "
               "tzKnown=\"1\" isSynced=\"0\"][zoo@123 tiger=\"hungry\" note=\"a \\\"q\\\" \\\\ "
               "back\\]\"] with sd",
               0);
    assert_field(ev, TRL_F_PROCESS_PID, "10684");
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "MSG1");
    assert_named(ev, SD "zoo@123.tiger", "hungry");
    assert_named(ev, SD "zoo@123.note", "a \"q\" \\ back]");
    assert_field(ev, TRL_F_MESSAGE, "with sd");

    /* Three elements. */
    ev = parse("<13>1 2026-11-27T17:04:16.142183+00:00 vm myapp - - [timeQuality tzKnown=\"1\" "
               "isSynced=\"0\"][zoo@123 tiger=\"hungry\"][meta sequenceId=\"7\"] two elements",
               0);
    assert_named(ev, SD "zoo@123.tiger", "hungry");
    assert_named(ev, SD "meta.sequenceId", "7");
    assert_field(ev, TRL_F_MESSAGE, "two elements");
}

static void test_rfc5424_nilvalue_for_every_header_field(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<14>1 - - - - - -", 0);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "14");
    assert_field(ev, TRL_F_LOG_SYSLOG_VERSION, "1");
    assert_field(ev, TRL_F_LOG_SYSLOG_HOSTNAME, NULL);
    assert_field(ev, TRL_F_HOST_NAME, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, NULL);
    assert_field(ev, TRL_F_PROCESS_NAME, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_PROCID, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, NULL);
    assert_field(ev, TRL_F_MESSAGE, NULL);

    ev = parse("<14>1 - - - - - - just the message\r\n", 0);
    assert_field(ev, TRL_F_MESSAGE, "just the message");
}

static void test_rfc5424_nanoseconds_and_offsets(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<14>1 2024-07-09T22:31:02.123456789+05:30 h a - - - m", 0);
    assert_time(ev, "2024-07-09T17:01:02.123456789Z");
    ev = parse("<14>1 2024-07-09T22:31:02Z h a - - - m", 0);
    assert_time(ev, "2024-07-09T22:31:02.000000000Z");
    ev = parse("<14>1 1990-12-31T23:59:60Z h a - - - leap second", 0);
    assert_time(ev, "1991-01-01T00:00:00.000000000Z");
}

static void test_rfc5424_unescapes_param_values(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<14>1 - h a - - [x@1 q=\"say \\\"hi\\\"\" b=\"C:\\\\temp\" "
                                 "r=\"[a\\]\" o=\"keep \\n as is\" e=\"\"] m",
                                 0);
    assert_named(ev, SD "x@1.q", "say \"hi\"");
    assert_named(ev, SD "x@1.b", "C:\\temp");
    assert_named(ev, SD "x@1.r", "[a]");
    assert_named(ev, SD "x@1.o", "keep \\n as is");
    assert_named(ev, SD "x@1.e", "");
    assert_field(ev, TRL_F_MESSAGE, "m");
}

/* Each value is read on its own: a backslash in a later value does not make an earlier one
 * escaped, and one in an earlier value does not hide a later value's closing quote. */
static void test_rfc5424_backslashes_belong_to_their_own_value(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<14>1 - h a - - [x@1 a=\"plain\" b=\"C:\\\\d \\\"q\\\"\" c=\"end\"] m", 0);
    assert_named(ev, SD "x@1.a", "plain");
    assert_named(ev, SD "x@1.b", "C:\\d \"q\"");
    assert_named(ev, SD "x@1.c", "end");
    assert_field(ev, TRL_F_MESSAGE, "m");
}

/* SD-NAME is printable US-ASCII: control bytes, DEL and bytes above 127 end it, and what follows
 * is then not a parameter. */
static void test_rfc5424_non_ascii_in_sd_name_is_einval(void **state)
{
    (void)state;
    static const char *const bad[] = {"[x\x7f a=\"1\"] m", "[x\x80 a=\"1\"] m", "[x a\x01=\"1\"] m",
                                      "[x\xc3\xa9 a=\"1\"] m"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        char line[256];
        snprintf(line, sizeof(line), "<13>1 - host app - - %s", bad[i]);
        struct trl_event *ev = parse(line, TRL_EINVAL);
        assert_field(ev, TRL_F_MESSAGE, bad[i]);
    }
}

static void test_rfc5424_long_escaped_value_unescapes_in_arena(void **state)
{
    (void)state;
    char line[4096];
    size_t n = (size_t)snprintf(line, sizeof(line), "<14>1 - h a - - [big v=\"");
    for (int i = 0; i < 1000; i++) {
        line[n++] = '\\';
        line[n++] = '"';
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n, "\"] tail");
    struct trl_event *ev = parse_n(line, n, 0);
    size_t len = 0;
    const char *v = trl_event_get_named(ev, SD "big.v", strlen(SD "big.v"), &len);
    assert_non_null(v);
    assert_int_equal(len, 1000);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(v[i], '"');
    assert_field(ev, TRL_F_MESSAGE, "tail");
}

static void test_rfc5424_not_5424_returns_enomatch_untouched(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "",
        "<",
        "<13>",
        "<13>1",
        "<13>1 ",
        "no pri at all",
        "<13>Jul  9 22:40:03 host app: x",
        "<13>0 2024-07-09T22:31:02Z h a - - -",
        "<13>01 2024-07-09T22:31:02Z h a - - -",
        "<13>1234 2024-07-09T22:31:02Z h a - - -",
        "<13>1 hello world",
        "<13>1 12 apples",
        "<13>1 -x h a - - -",
        "<12345>1 - - - - - -",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
        struct trl_event *ev = parse(lines[i], TRL_ENOMATCH);
        assert_int_equal(ev->nfields, 0);
        assert_null(ev->format);
        assert_int_equal(ev->timestamp_ns, 0);
    }
}

static void test_rfc5424_truncated_header_keeps_what_was_read(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>1 2024-07-09T22:31:02Z host app", TRL_EINVAL);
    assert_string_equal(ev->format, "rfc5424");
    assert_time(ev, "2024-07-09T22:31:02.000000000Z");
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "13");
    assert_field(ev, TRL_F_HOST_NAME, "host");
    assert_field(ev, TRL_F_PROCESS_NAME, "app");
    assert_field(ev, TRL_F_MESSAGE, NULL);

    ev = parse("<13>1 2024-07-09T22:31:02Z host app 1 ID", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "ID");

    ev = parse("<13>1 2024-07-09T22:31:02Z", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_VERSION, "1");
}

static void test_rfc5424_missing_structured_data_makes_rest_the_message(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("<13>1 2024-07-09T22:31:02Z host app 42 LOGIN user bob logged in", TRL_EINVAL);
    assert_field(ev, TRL_F_PROCESS_PID, "42");
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "LOGIN");
    assert_field(ev, TRL_F_MESSAGE, "user bob logged in");

    ev = parse("<13>1 - host app - - -garbage", TRL_EINVAL);
    assert_field(ev, TRL_F_MESSAGE, "-garbage");
}

static void test_rfc5424_malformed_structured_data_is_einval(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[x a=1] m",
        "[x a=\"1] m",
        "[x a=\"1\"",
        "[ a=\"1\"] m",
        "[x =\"1\"] m",
        "[x a\"1\"] m",
        "[x a=\"1\"]m",
        "[x a=\"1\"b=\"2\"] m",
        "[] m",
        "[x a=\"1\" b] m",
        "[x@1 a=\"ends with backslash\\",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        char line[256];
        snprintf(line, sizeof(line), "<13>1 - host app - - %s", bad[i]);
        struct trl_event *ev = parse(line, TRL_EINVAL);
        assert_field(ev, TRL_F_HOST_NAME, "host");
        assert_true(trl_event_has(ev, TRL_F_MESSAGE));
    }
    /* Parameters before the error are kept; the message keeps the raw structured data. */
    struct trl_event *ev = parse("<13>1 - host app - - [ok a=\"1\"][bad b=2] text", TRL_EINVAL);
    assert_named(ev, SD "ok.a", "1");
    assert_field(ev, TRL_F_MESSAGE, "[ok a=\"1\"][bad b=2] text");
}

static void test_rfc5424_bad_timestamp_falls_back_to_receive_time(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>1 2024-13-45T99:00:00Z host app - - - m", TRL_EINVAL);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    assert_field(ev, TRL_F_HOST_NAME, "host");
    assert_field(ev, TRL_F_MESSAGE, "m");

    ev = parse("<13>1 2024-07-09T22:31:02.Z host app - - - m", TRL_EINVAL);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);

    /* Out of the range int64 nanoseconds can hold. */
    ev = parse("<13>1 9999-12-31T23:59:59Z host app - - - m", TRL_EINVAL);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
    ev = parse("<13>1 1600-01-01T00:00:00Z host app - - - m", TRL_EINVAL);
    assert_int_equal(ev->timestamp_ns, RECEIVED_NS);
}

static void test_rfc5424_rejects_bad_pri_but_keeps_header(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<192>1 - host app - - - m", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, NULL);
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, NULL);
    assert_field(ev, TRL_F_HOST_NAME, "host");
    assert_field(ev, TRL_F_MESSAGE, "m");

    ev = parse("<0013>1 - host app - - - m", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, NULL);

    /* RFC 5424 forbids leading zeros; the value is still clear. */
    ev = parse("<013>1 - host app - - - m", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "13");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
}

static void test_rfc5424_empty_or_overlong_fields_are_einval(void **state)
{
    (void)state;
    struct trl_event *ev = parse("<13>1 -  app - - - m", TRL_EINVAL);
    assert_field(ev, TRL_F_HOST_NAME, NULL);

    ev = parse("<13>1 - host app - ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 - m", TRL_EINVAL);
    assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    assert_field(ev, TRL_F_MESSAGE, "m");
}

static void test_rfc5424_caps_stored_params_per_message(void **state)
{
    (void)state;
    size_t cap = 70000, n = 0;
    char *line = malloc(cap);
    n += (size_t)snprintf(line, cap, "<13>1 - h a - - [many");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(line + n, cap - n, " p%d=\"%d\"", i, i);
    n += (size_t)snprintf(line + n, cap - n, "] after");
    struct trl_event *ev = parse_n(line, n, 0);
    assert_named(ev, SD "many.p0", "0");
    assert_named(ev, SD "many.p127", "127");
    assert_named(ev, SD "many.p128", NULL);
    assert_field(ev, TRL_F_MESSAGE, "after");
    free(line);
}

static void test_rfc5424_truncated_input_never_overreads(void **state)
{
    (void)state;
    static const char full[] = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 12 "
                               "ID47 [exampleSDID@32473 iut=\"3\" e=\"a\\\"b\"][p@1 c=\"high\"] "
                               "\xEF\xBB\xBFmsg";
    for (size_t n = 0; n <= sizeof(full) - 1; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, full, n);
        struct trl_event *ev = trl_event_create(arena, NULL, 0, RECEIVED_NS);
        int rc = trl_parse_rfc5424(ev, copy, n);
        assert_true(rc == 0 || rc == TRL_ENOMATCH || rc == TRL_EINVAL);
        free(copy);
    }
}

static void test_rfc5424_keeps_nul_bytes_in_message(void **state)
{
    (void)state;
    static const char line[] = "<13>1 - h a - - - a\0b\0";
    struct trl_event *ev = parse_n(line, sizeof(line) - 1, 0);
    size_t len = 0;
    const char *msg = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(msg, "a\0b", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424_rfc_example_1_with_bom),
        cmocka_unit_test(test_rfc5424_rfc_example_2_with_offset_and_microseconds),
        cmocka_unit_test(test_rfc5424_rfc_example_3_structured_data_and_message),
        cmocka_unit_test(test_rfc5424_rfc_example_4_two_elements_without_message),
        cmocka_unit_test(test_rfc5424_util_linux_logger_lines),
        cmocka_unit_test(test_rfc5424_nilvalue_for_every_header_field),
        cmocka_unit_test(test_rfc5424_nanoseconds_and_offsets),
        cmocka_unit_test(test_rfc5424_unescapes_param_values),
        cmocka_unit_test(test_rfc5424_backslashes_belong_to_their_own_value),
        cmocka_unit_test(test_rfc5424_non_ascii_in_sd_name_is_einval),
        cmocka_unit_test(test_rfc5424_long_escaped_value_unescapes_in_arena),
        cmocka_unit_test(test_rfc5424_not_5424_returns_enomatch_untouched),
        cmocka_unit_test(test_rfc5424_truncated_header_keeps_what_was_read),
        cmocka_unit_test(test_rfc5424_missing_structured_data_makes_rest_the_message),
        cmocka_unit_test(test_rfc5424_malformed_structured_data_is_einval),
        cmocka_unit_test(test_rfc5424_bad_timestamp_falls_back_to_receive_time),
        cmocka_unit_test(test_rfc5424_rejects_bad_pri_but_keeps_header),
        cmocka_unit_test(test_rfc5424_empty_or_overlong_fields_are_einval),
        cmocka_unit_test(test_rfc5424_caps_stored_params_per_message),
        cmocka_unit_test(test_rfc5424_truncated_input_never_overreads),
        cmocka_unit_test(test_rfc5424_keeps_nul_bytes_in_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
