/* The RFC 5424 header scan: fields found space to space 16 bytes at a time, whatever their length
 * and wherever the input ends; the PRI fields appended in one go; and format names looked up by
 * address or by spelling. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"
#include "formats/syslog_common.h"

#define TRL_TEST_PARSER trl_parse_rfc5424
#include "parse_test.h"

static void test_rfc5424_header_fields_of_every_length(void **state)
{
    (void)state;
    /* Host names of 1 to 40 bytes put the next space at every offset of a 16-byte block. */
    for (size_t n = 1; n <= 40; n++) {
        char host[41], line[256];
        for (size_t i = 0; i < n; i++)
            host[i] = (char)('a' + i % 26);
        host[n] = '\0';
        snprintf(line, sizeof(line),
                 "<34>1 2024-07-09T22:14:03.123456Z %s application-name-longer-than-16 4242 "
                 "ID47 - message text",
                 host);
        int rc;
        /* The parser stores slices of its input: it parses event.original. */
        struct trl_event *ev = parse_rc(line, strlen(line), &rc);
        assert_int_equal(rc, TRL_OK);
        assert_field(ev, TRL_F_HOST_NAME, host);
        assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "application-name-longer-than-16");
        assert_field(ev, TRL_F_PROCESS_PID, "4242");
        assert_field(ev, TRL_F_LOG_SYSLOG_MSGID, "ID47");
        assert_field(ev, TRL_F_MESSAGE, "message text");
        assert_true(ev->timestamp_ns == 1720563243123456000LL);
    }
}

static void test_rfc5424_header_cut_at_every_byte(void **state)
{
    (void)state;
    /* Every prefix of a header with long fields, as an exact-size buffer: the scan never reads
     * past the end, and a header cut before its structured data is malformed. Only the result is
     * looked at: the values would be slices of the freed buffer. */
    static const char line[] = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com "
                               "evntslog-with-a-long-name 1234567890123456789 ID47 - hi";
    for (size_t len = 8; len < sizeof(line) - 1; len++) {
        int rc;
        parse_as(line, len, NULL, &rc);
        assert_true(rc == TRL_OK || rc == TRL_EINVAL || rc == TRL_ENOMATCH);
    }
}

static void test_format_names_found_by_address_and_by_spelling(void **state)
{
    (void)state;
    for (int f = 0; f < TRL_FORMAT__COUNT; f++)
        assert_int_equal(trl_format_from_name(trl_format_name((enum trl_format_id)f)), f);
    /* A copy of a name, in any case, is found by comparing its bytes. */
    char copy[] = "RFC5424";
    assert_int_equal(trl_format_from_name(copy), TRL_FORMAT_RFC5424);
    assert_int_equal(trl_format_from_name("Access"), TRL_FORMAT_ACCESS_LOG);
    assert_int_equal(trl_format_from_name("rfc542"), -1);
    assert_int_equal(trl_format_from_name(""), -1);
}

static void test_syslog_pri_on_fresh_and_on_used_events(void **state)
{
    (void)state;
    struct trl_syslog_pri pri;
    trl_syslog_scan_pri("<86>x", 5, &pri);
    /* A fresh event: the five fields appended in one go. */
    struct trl_event *ev = trl_event_create(arena, "", 0, 0);
    trl_syslog_set_pri(ev, &pri);
    assert_int_equal(ev->nfields, 5);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "86");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, "10");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "authpriv");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "6");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "info");
    /* Set again (a relayed message's inner header): replaced, not duplicated. */
    trl_syslog_scan_pri("<13>x", 5, &pri);
    trl_syslog_set_pri(ev, &pri);
    assert_int_equal(ev->nfields, 5);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "13");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME, "user");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    /* An event with one of them already set, after other fields. */
    ev = trl_event_create(arena, "", 0, 0);
    trl_event_set_ref(ev, TRL_F_HOST_NAME, "h", 1);
    trl_event_set_ref(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "old", 3);
    trl_syslog_set_pri(ev, &pri);
    assert_int_equal(ev->nfields, 6);
    assert_field(ev, TRL_F_HOST_NAME, "h");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME, "notice");
    assert_field(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, "1");
    /* An event whose field list is full grows it. */
    ev = trl_event_create(arena, "", 0, 0);
    char name[32];
    while (ev->nfields + 5 <= ev->cap || ev->nfields < 3) {
        int n = snprintf(name, sizeof(name), "labels.l%u", ev->nfields);
        trl_event_set_named(ev, name, (size_t)n, "v", 1);
    }
    uint32_t before = ev->nfields;
    trl_syslog_set_pri(ev, &pri);
    assert_int_equal(ev->nfields, before + 5);
    assert_field(ev, TRL_F_LOG_SYSLOG_PRIORITY, "13");
    assert_field(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424_header_fields_of_every_length),
        cmocka_unit_test(test_rfc5424_header_cut_at_every_byte),
        cmocka_unit_test(test_format_names_found_by_address_and_by_spelling),
        cmocka_unit_test(test_syslog_pri_on_fresh_and_on_used_events),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
