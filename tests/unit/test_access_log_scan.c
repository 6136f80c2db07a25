/* The access log parser's scans: the bracketed time checked at fixed offsets, quoted fields found
 * 16 bytes at a time with backslash escapes, and values stored as slices of event.original when
 * the line lies in it (copies otherwise). */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

#define TRL_TEST_PARSER trl_parse_access_log
#include "parse_test.h"

#define LINE_HEAD "198.51.100.7 - bob "
#define LINE_TAIL " \"GET /Index.HTML?a=1 HTTP/1.1\" 200 512 \"-\" \"curl/8.4.0\""

static void test_access_time_accepts_either_case_of_month_and_either_sign(void **state)
{
    (void)state;
    struct trl_event *ev = parse(LINE_HEAD "[09/jul/2024:22:10:13 -0130]" LINE_TAIL);
    assert_true(ev->timestamp_ns == (1720563013LL + 5400) * TRL_NS_PER_SEC);
    ev = parse(LINE_HEAD "[09/JUL/2024:22:10:13 +0000]" LINE_TAIL);
    assert_true(ev->timestamp_ns == 1720563013LL * TRL_NS_PER_SEC);
}

static void test_access_time_rejects_a_wrong_byte_at_every_offset(void **state)
{
    (void)state;
    static const char good[] = "[09/Jul/2024:22:10:13 +0000]";
    /* For each offset, a byte of another class than the one due there: a letter for a digit, a
     * digit for a letter or punctuation, '@' and '[' (next to the letters) for a month letter. */
    for (size_t k = 0; k < sizeof(good) - 1; k++) {
        char bad[sizeof(good)];
        const char *swaps = (good[k] >= '0' && good[k] <= '9') ? "a:/"
                            : (k >= 4 && k <= 6)               ? "@[1`{"
                                                               : "7x";
        for (const char *s = swaps; *s; s++) {
            memcpy(bad, good, sizeof(good));
            bad[k] = *s;
            char line[256];
            snprintf(line, sizeof(line), "%s%s%s", LINE_HEAD, bad, LINE_TAIL);
            int rc;
            parse_as(line, strlen(line), NULL, &rc);
            if (rc != TRL_ENOMATCH)
                fail_msg("offset %zu byte '%c' accepted: %s", k, *s, line);
        }
    }
}

static void test_access_quoted_fields_with_escapes_and_long_runs(void **state)
{
    (void)state;
    /* Apache escapes a quote as \", nginx as \x22; a backslash escapes the byte after it. Long
     * fields cross several 16-byte blocks before their closing quote. */
    struct trl_event *ev =
        parse("10.0.0.1 - - [09/Jul/2024:22:10:13 +0000] \"GET /a\\\"b/\\\\ HTTP/1.1\" 200 1 "
              "\"https://example.org/a/very/long/referrer/path/that/crosses/blocks?q=\\\"x\\\"\" "
              "\"agent \\x22quoted\\x22 with a backslash at the end\\\\\"");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/a\\\"b/\\\\");
    assert_field(ev, TRL_F_HTTP_REQUEST_REFERRER,
                 "https://example.org/a/very/long/referrer/path/that/crosses/blocks?q=\\\"x\\\"");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL,
                 "agent \\x22quoted\\x22 with a backslash at the end\\\\");
    /* A quote that is not followed by " <status>" belongs to the request. */
    ev = parse("10.0.0.1 - - [09/Jul/2024:22:10:13 +0000] \"GET /x\" y HTTP/1.0\" 404 -");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/x\" y");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "404");
    /* A backslash as the last byte of an unterminated field: no match, no read past the end. */
    static const char *const cut[] = {
        "10.0.0.1 - - [09/Jul/2024:22:10:13 +0000] \"GET /x HTTP/1.1\\",
        "10.0.0.1 - - [09/Jul/2024:22:10:13 +0000] \"GET /0123456789abcdef0123456789 HTTP/1.1",
    };
    assert_not_matched(cut, TRL_ARRAY_LEN(cut));
}

static void test_access_values_of_original_are_slices_and_copies_otherwise(void **state)
{
    (void)state;
    const char *line = LINE_HEAD "[09/Jul/2024:22:10:13 +0000]" LINE_TAIL;
    int rc;
    /* Parsed in place (event.original): the values point into it, the extension excepted,
     * which is lower-cased. */
    struct trl_event *ev = parse_rc(line, strlen(line), &rc);
    assert_int_equal(rc, TRL_OK);
    size_t len;
    const char *v = trl_event_get(ev, TRL_F_URL_PATH, &len);
    assert_true(trl_event_in_original(ev, v, len));
    assert_field(ev, TRL_F_URL_PATH, "/Index.HTML");
    assert_field(ev, TRL_F_URL_EXTENSION, "html");
    assert_field(ev, TRL_F_USER_NAME, "bob");
    assert_string_equal(array(ev, TRL_F_RELATED_USER), "bob");
    assert_string_equal(array(ev, TRL_F_RELATED_IP), "198.51.100.7");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    /* Parsed from a buffer that is wiped afterwards (parse()): the same values, copied. */
    ev = parse(line);
    v = trl_event_get(ev, TRL_F_URL_PATH, &len);
    assert_false(trl_event_in_original(ev, v, len));
    assert_field(ev, TRL_F_URL_PATH, "/Index.HTML");
    assert_field(ev, TRL_F_URL_QUERY, "a=1");
    assert_field(ev, TRL_F_URL_EXTENSION, "html");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, "curl/8.4.0");
    assert_string_equal(array(ev, TRL_F_RELATED_USER), "bob");
    /* A lower-case extension of a line in event.original is the slice itself. */
    const char *lower = LINE_HEAD "[09/Jul/2024:22:10:13 +0000] \"GET /x.css HTTP/1.1\" 500 1";
    ev = parse_rc(lower, strlen(lower), &rc);
    assert_int_equal(rc, TRL_OK);
    v = trl_event_get(ev, TRL_F_URL_EXTENSION, &len);
    assert_true(trl_event_in_original(ev, v, len));
    assert_field(ev, TRL_F_URL_EXTENSION, "css");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_time_accepts_either_case_of_month_and_either_sign),
        cmocka_unit_test(test_access_time_rejects_a_wrong_byte_at_every_offset),
        cmocka_unit_test(test_access_quoted_fields_with_escapes_and_long_runs),
        cmocka_unit_test(test_access_values_of_original_are_slices_and_copies_otherwise),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
