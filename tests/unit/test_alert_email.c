/* The email output's message: RFC 5322 headers, the subject template, RFC 2047 encoding of a
 * non-ASCII subject, and values from events that try to inject headers. */
#include "trl_test.h"

#include "detect/outputs.h"

/* 2026-11-27T10:00:06Z, a Friday */
#define NOW_NS (1795773606LL * 1000000000LL)

static char *format(const char *alert_json, const char *subject_tpl)
{
    struct trl_outbox_item it = {
        .id = 3, .alert_id = 7, .body = alert_json, .len = strlen(alert_json)};
    it.alert = json_loads(alert_json, 0, NULL);
    assert_non_null(it.alert);
    const char *to[] = {"soc@example.org", "oncall@example.org"};
    struct trl_buf out = {0};
    trl_email_format_message(&out, &it, "Trapline <trapline@example.org>", to, 2, subject_tpl,
                             "siem01.example.org", NOW_NS, NULL);
    trl_buf_putc(&out, '\0');
    json_decref(it.alert);
    return out.data;
}

static void test_email_headers_and_body(void **state)
{
    (void)state;
    char *m = format("{\"id\":7,\"rule_id\":\"b8246bfe\",\"title\":\"SSH Brute Force\","
                     "\"level\":\"medium\",\"tags\":[\"attack.t1110\"],"
                     "\"correlation\":\"event_count\",\"group_by\":{\"source.ip\":"
                     "\"203.0.113.45\"},\"host\":\"web01\",\"event_ids\":[\"00000000000000ab\"],"
                     "\"first_seen\":\"2026-11-27T10:00:04.000Z\",\"last_seen\":"
                     "\"2026-11-27T10:00:05.000Z\",\"count\":2,\"status\":\"new\"}",
                     "[Trapline] {level}: {title} ({count}x on {host}, rule {rule_id}, #{id})");
    assert_non_null(strstr(m, "Date: Fri, 27 Nov 2026 10:00:06 +0000\r\n"));
    assert_non_null(strstr(m, "From: Trapline <trapline@example.org>\r\n"));
    assert_non_null(strstr(m, "To: soc@example.org,\r\n oncall@example.org\r\n"));
    assert_non_null(strstr(
        m, "Subject: [Trapline] medium: SSH Brute Force (2x on web01, rule b8246bfe, #7)\r\n"));
    assert_non_null(strstr(m, "Message-ID: <trapline.alert.7.3@siem01.example.org>\r\n"));
    assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(m, "\r\n\r\nTrapline raised an alert.\r\n"));
    assert_non_null(strstr(m, "  source.ip = 203.0.113.45\r\n"));
    assert_non_null(strstr(m, "Events (1 event.id):\r\n  00000000000000ab\r\n"));
    free(m);
}

/* A title or host taken from a log line must not start a header of its own, nor end the body. */
static void test_email_values_cannot_inject_headers(void **state)
{
    (void)state;
    char *m = format("{\"title\":\"Evil\\r\\nBcc: victim@example.net\",\"level\":\"high\","
                     "\"host\":\"h\\n.\\r\\nRCPT TO:<x@y>\",\"group_by\":{\"user.name\":"
                     "\"a\\r\\n\\r\\nX-Injected: 1\"}}",
                     "{title} {host}");
    assert_null(strstr(m, "\nBcc:"));
    assert_null(strstr(m, "\nX-Injected"));
    assert_null(strstr(m, "\n.\r"));
    assert_non_null(strstr(m, "Subject: Evil  Bcc: victim@example.net h .  RCPT TO:<x@y>\r\n"));
    free(m);
}

/* Events found in the store are summarised next to their id, cleaned like every value. */
static void test_email_body_shows_event_summaries(void **state)
{
    (void)state;
    const char *json =
        "{\"title\":\"t\",\"event_ids\":[\"00000000000000ab\",\"00000000000000ac\"]}";
    struct trl_outbox_item it = {.id = 1, .alert_id = 1, .body = json, .len = strlen(json)};
    it.alert = json_loads(json, 0, NULL);
    char line[] = "2026-11-27T10:00:04Z web01 ssh-login-failed source.ip=203.0.113.45: "
                  "Failed password\r\nBcc: x@y";
    struct trl_email_events ev = {.ids = {"00000000000000ab"}, .lines = {line}, .n = 1};
    const char *to[] = {"a@example.org"};
    struct trl_buf out = {0};
    trl_email_format_message(&out, &it, "t@example.org", to, 1, "x", "h", NOW_NS, &ev);
    trl_buf_putc(&out, '\0');
    assert_non_null(strstr(out.data, "  00000000000000ab  2026-11-27T10:00:04Z web01 "
                                     "ssh-login-failed source.ip=203.0.113.45: Failed password  "
                                     "Bcc: x@y\r\n  00000000000000ac\r\n"));
    json_decref(it.alert);
    trl_buf_free(&out);
}

static void test_email_non_ascii_subject_is_rfc2047_encoded(void **state)
{
    (void)state;
    char *m = format("{\"title\":\"Échec de connexion répété\",\"level\":\"low\"}", "{title}");
    /* "Échec de connexion répété" in UTF-8, base64. */
    assert_non_null(strstr(m, "Subject: =?UTF-8?B?w4ljaGVjIGRlIGNvbm5leGlvbiByw6lww6l0w6k=?=\r\n"));
    free(m);
}

static void test_email_bad_hostname_gives_localhost_message_id(void **state)
{
    (void)state;
    struct trl_outbox_item it = {.id = 1, .alert_id = 1, .body = "{}", .len = 2};
    it.alert = json_object();
    const char *to[] = {"a@example.org"};
    struct trl_buf out = {0};
    trl_email_format_message(&out, &it, "t@example.org", to, 1, "x", "bad host>", NOW_NS, NULL);
    trl_buf_putc(&out, '\0');
    assert_non_null(strstr(out.data, "Message-ID: <trapline.alert.1.1@localhost>\r\n"));
    json_decref(it.alert);
    trl_buf_free(&out);
}

static void test_email_output_refuses_unusable_settings(void **state)
{
    (void)state;
    const char *to[] = {"soc@example.org"};
    struct trl_outputs_config c = {.email_url = "http://mail.example.org",
                                   .email_from = "t@example.org",
                                   .email_to = to,
                                   .email_nto = 1};
    assert_null(trl_output_email_create(&c));
    c.email_url = "smtp://127.0.0.1:25";
    c.email_nto = 0;
    assert_null(trl_output_email_create(&c));
    c.email_nto = 1;
    c.email_from = "t@example.org\r\nBcc: x@y";
    assert_null(trl_output_email_create(&c));
    c.email_from = "t@example.org";
    struct trl_output *o = trl_output_email_create(&c);
    assert_non_null(o);
    assert_string_equal(o->name, "email");
    o->destroy(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_headers_and_body),
        cmocka_unit_test(test_email_values_cannot_inject_headers),
        cmocka_unit_test(test_email_body_shows_event_summaries),
        cmocka_unit_test(test_email_non_ascii_subject_is_rfc2047_encoded),
        cmocka_unit_test(test_email_bad_hostname_gives_localhost_message_id),
        cmocka_unit_test(test_email_output_refuses_unusable_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
