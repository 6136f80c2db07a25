/* Unit tests for the pure request pieces of the web API (src/web/http_parse.c) and its routes. */
#include "trl_test.h"
#include "web/http_parse.h"
#include "web/web.h"

static void test_route_match_captures_segments(void **state)
{
    (void)state;
    struct trl_route_param p[TRL_ROUTE_MAX_PARAMS];
    size_t n = 9;
    assert_true(
        trl_route_match("/api/v1/alerts/{id}/comments", "/api/v1/alerts/42/comments", p, &n));
    assert_int_equal(n, 1);
    assert_int_equal(p[0].len, 2);
    assert_memory_equal(p[0].ptr, "42", 2);
    assert_true(trl_route_match("/health", "/health", p, &n));
    assert_int_equal(n, 0);
}

static void test_route_match_rejects_partial_and_empty(void **state)
{
    (void)state;
    struct trl_route_param p[TRL_ROUTE_MAX_PARAMS];
    size_t n;
    assert_false(trl_route_match("/api/v1/alerts/{id}", "/api/v1/alerts/", p, &n));
    assert_false(trl_route_match("/api/v1/alerts/{id}", "/api/v1/alerts/7/", p, &n));
    assert_false(trl_route_match("/api/v1/alerts/{id}", "/api/v1/alerts/7/comments", p, &n));
    assert_false(trl_route_match("/api/v1/alerts", "/api/v1/alertsx", p, &n));
    assert_false(trl_route_match("/api/v1/alerts", "/api/v1/alert", p, &n));
    assert_false(trl_route_match("/api/v1/{a}/{b}", "/api/v1/x", p, &n));
    /* A parameter never spans a '/': traversal attempts do not match. */
    assert_false(trl_route_match("/api/v1/events/{id}", "/api/v1/events/../../users.db", p, &n));
}

static void test_route_find_method_and_405(void **state)
{
    (void)state;
    struct trl_route_param p[TRL_ROUTE_MAX_PARAMS];
    size_t n;
    bool known;
    const struct trl_route *r = trl_web_route_find("PATCH", "/api/v1/alerts/5", p, &n, &known);
    assert_non_null(r);
    assert_ptr_equal(r->fn, trl_api_alert_patch);
    assert_int_equal(r->min_role, TRL_ROLE_ANALYST);
    assert_null(trl_web_route_find("DELETE", "/api/v1/search", p, &n, &known));
    assert_true(known);
    assert_null(trl_web_route_find("GET", "/api/v1/nothing", p, &n, &known));
    assert_false(known);
    r = trl_web_route_find("POST", "/api/v1/login", p, &n, &known);
    assert_non_null(r);
    assert_true(r->flags & TRL_ROUTE_PUBLIC);
    assert_true(r->flags & TRL_ROUTE_NO_CSRF);
    r = trl_web_route_find("POST", "/api/v1/users", p, &n, &known);
    assert_int_equal(r->min_role, TRL_ROLE_ADMIN);
}

static void test_cookie_find(void **state)
{
    (void)state;
    const char *v;
    size_t len;
    assert_true(trl_cookie_find("a=1; trl_session=abc; b=2", "trl_session", &v, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(v, "abc", 3);
    assert_true(trl_cookie_find("trl_session=xyz", "trl_session", &v, &len));
    assert_memory_equal(v, "xyz", 3);
    assert_true(trl_cookie_find("trl_session=", "trl_session", &v, &len));
    assert_int_equal(len, 0);
    /* Names compare whole: a prefix or a longer name is another cookie. */
    assert_false(trl_cookie_find("xtrl_session=1; trl_session2=2", "trl_session", &v, &len));
    assert_false(trl_cookie_find("", "trl_session", &v, &len));
    assert_false(trl_cookie_find(";;;", "trl_session", &v, &len));
}

static void test_bearer_token(void **state)
{
    (void)state;
    const char *t;
    size_t len;
    assert_true(trl_bearer_token("Bearer trl_abc", &t, &len));
    assert_int_equal(len, 7);
    assert_memory_equal(t, "trl_abc", 7);
    assert_true(trl_bearer_token("bearer   tok", &t, &len));
    assert_false(trl_bearer_token("Basic YWRtaW46eA==", &t, &len));
    assert_false(trl_bearer_token("Bearer", &t, &len));
    assert_false(trl_bearer_token("Bearer ", &t, &len));
    assert_false(trl_bearer_token("Bearertok", &t, &len));
    assert_false(trl_bearer_token("Bearer a b", &t, &len));
}

static void test_accepts_gzip(void **state)
{
    (void)state;
    assert_true(trl_accepts_gzip("gzip, deflate, br"));
    assert_true(trl_accepts_gzip("br;q=1.0, gzip;q=0.8"));
    assert_true(trl_accepts_gzip("*"));
    assert_true(trl_accepts_gzip("GZIP"));
    assert_false(trl_accepts_gzip("gzip;q=0"));
    assert_false(trl_accepts_gzip("gzip; q=0.000"));
    assert_false(trl_accepts_gzip("identity"));
    assert_false(trl_accepts_gzip("x-gzip2"));
    assert_false(trl_accepts_gzip(""));
}

static void test_names_and_roles(void **state)
{
    (void)state;
    assert_true(trl_web_name_ok("admin"));
    assert_true(trl_web_name_ok("j.doe-2@corp"));
    assert_false(trl_web_name_ok(""));
    assert_false(trl_web_name_ok("../etc"));
    assert_false(trl_web_name_ok("a b"));
    assert_false(trl_web_name_ok("name\n"));
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    assert_false(trl_web_name_ok(long_name));
    assert_int_equal(trl_role_parse("viewer"), TRL_ROLE_VIEWER);
    assert_int_equal(trl_role_parse("analyst"), TRL_ROLE_ANALYST);
    assert_int_equal(trl_role_parse("admin"), TRL_ROLE_ADMIN);
    assert_int_equal(trl_role_parse("Admin"), -1);
    assert_string_equal(trl_role_name(TRL_ROLE_ANALYST), "analyst");
    assert_string_equal(trl_role_name(7), "none");
}

static void test_body_object_reports_position(void **state)
{
    (void)state;
    struct trl_web_req rq = {.body = "{\"a\": ", .body_len = 6};
    struct trl_web_resp rs = {0};
    assert_null(trl_web_body_object(&rq, &rs));
    assert_int_equal(rs.status, 400);
    assert_non_null(strstr(rs.body, "\"position\""));
    free(rs.body);
    rs = (struct trl_web_resp){0};
    rq = (struct trl_web_req){.body = "[1]", .body_len = 3};
    assert_null(trl_web_body_object(&rq, &rs));
    assert_int_equal(rs.status, 400);
    free(rs.body);
    rs = (struct trl_web_resp){0};
    rq = (struct trl_web_req){.body = "{\"a\":1,\"a\":2}", .body_len = 13};
    assert_null(trl_web_body_object(&rq, &rs)); /* duplicate keys are refused */
    free(rs.body);
    rs = (struct trl_web_resp){0};
    rq = (struct trl_web_req){.body = "{\"a\":1}", .body_len = 7};
    json_t *o = trl_web_body_object(&rq, &rs);
    assert_non_null(o);
    assert_null(rs.body);
    json_decref(o);
}

static void test_web_time_has_milliseconds(void **state)
{
    (void)state;
    json_t *t = trl_web_time(1700000000123456789LL);
    assert_string_equal(json_string_value(t), "2023-11-14T22:13:20.123Z");
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_match_captures_segments),
        cmocka_unit_test(test_route_match_rejects_partial_and_empty),
        cmocka_unit_test(test_route_find_method_and_405),
        cmocka_unit_test(test_cookie_find),
        cmocka_unit_test(test_bearer_token),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_names_and_roles),
        cmocka_unit_test(test_body_object_reports_position),
        cmocka_unit_test(test_web_time_has_milliseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
