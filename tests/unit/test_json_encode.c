#include "trl_test.h"

#include "core/buf.h"
#include "formats/json_encode.h"

#include "arena_fixture.h"

static char *encode(const struct trl_event *ev)
{
    static struct trl_buf b;
    trl_buf_reset(&b);
    trl_json_encode_event(ev, &b);
    return b.data;
}

static void test_json_nests_dotted_names_and_sorts_keys(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "x", 1, 1720563243412000000LL);
    ev->timestamp_ns = 1720563243000000001LL;
    trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
    trl_event_set_str(ev, TRL_F_PROCESS_PID, "25003");
    trl_event_set_str(ev, TRL_F_PROCESS_NAME, "sshd");
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "authentication", 14);
    trl_event_set_named(ev, "labels.env", 10, "prod", 4);
    assert_string_equal(encode(ev),
                        "{\"@timestamp\":\"2024-07-09T22:14:03.000000001Z\","
                        "\"event\":{\"category\":[\"authentication\"],"
                        "\"created\":\"2024-07-09T22:14:03.412000000Z\",\"original\":\"x\"},"
                        "\"host\":{\"name\":\"web01\"},\"labels\":{\"env\":\"prod\"},"
                        "\"process\":{\"name\":\"sshd\",\"pid\":25003}}");
}

static void test_json_arrays_keep_insertion_order(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "", 0, 0);
    trl_event_add(ev, TRL_F_EVENT_TYPE, "start", 5);
    trl_event_add(ev, TRL_F_EVENT_TYPE, "allowed", 7);
    trl_event_add_unique(ev, TRL_F_RELATED_IP, "10.0.0.1", 8);
    trl_event_add_unique(ev, TRL_F_RELATED_IP, "10.0.0.1", 8);
    char *json = encode(ev);
    assert_non_null(strstr(json, "\"type\":[\"start\",\"allowed\"]"));
    assert_non_null(strstr(json, "\"related\":{\"ip\":[\"10.0.0.1\"]}"));
}

static void test_json_escapes_controls_quotes_and_invalid_utf8(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "a\"b\\c\n\x01\xff\xc3\xa9", 10, 0);
    char *json = encode(ev);
    assert_non_null(strstr(json, "\"original\":\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xc3\xa9\""));
}

static void test_json_long_field_that_is_not_a_number_is_quoted(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "", 0, 0);
    trl_event_set_str(ev, TRL_F_SOURCE_PORT, "22x");
    assert_non_null(strstr(encode(ev), "\"source\":{\"port\":\"22x\"}"));
}

static void test_json_long_field_with_a_leading_zero_is_quoted(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "", 0, 0);
    trl_event_set_str(ev, TRL_F_PROCESS_PID, "-099");
    trl_event_set_str(ev, TRL_F_SOURCE_PORT, "022");
    trl_event_set_str(ev, TRL_F_DESTINATION_PORT, "-0");
    char *json = encode(ev);
    assert_non_null(strstr(json, "\"pid\":\"-099\""));
    assert_non_null(strstr(json, "\"source\":{\"port\":\"022\"}"));
    assert_non_null(strstr(json, "\"destination\":{\"port\":-0}"));
}

static void test_json_unparsed_and_truncated_become_tags(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "zz", 2, 0);
    ev->flags = TRL_EVF_TRUNCATED | TRL_EVF_UNPARSED;
    assert_non_null(strstr(encode(ev), "\"tags\":[\"trapline.truncated\",\"trapline.unparsed\"]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_nests_dotted_names_and_sorts_keys),
        cmocka_unit_test(test_json_arrays_keep_insertion_order),
        cmocka_unit_test(test_json_escapes_controls_quotes_and_invalid_utf8),
        cmocka_unit_test(test_json_long_field_that_is_not_a_number_is_quoted),
        cmocka_unit_test(test_json_long_field_with_a_leading_zero_is_quoted),
        cmocka_unit_test(test_json_unparsed_and_truncated_become_tags),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
