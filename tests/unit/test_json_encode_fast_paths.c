/* The JSON encoder's fast paths: the block screen for bytes that need escaping (next to every
 * byte it must and must not catch, at every offset of the block and tail loops), and the cached
 * encoder's recent plans when shapes that share a lookup key alternate. Each is checked against
 * a byte-by-byte reference or against the uncached encoder. */
#include "trl_test.h"

#include "core/buf.h"
#include "formats/json_encode.h"
#include "json_ref_string.h"

#include "arena_fixture.h"
#include "json_cached_check.h"

static void assert_string_like_reference(const char *s, size_t len)
{
    struct trl_buf got = {0}, want = {0};
    trl_json_append_string(&got, s, len);
    ref_string(&want, s, len);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
        print_error("string of %zu bytes: want %.*s, got %.*s\n", len, (int)want.len, want.data,
                    (int)got.len, got.data);
        fail();
    }
    trl_buf_free(&got);
    trl_buf_free(&want);
}

static void test_json_escape_screen_catches_exactly_the_special_bytes(void **state)
{
    (void)state;
    /* Every byte value, alone and at every offset of strings whose lengths exercise the 32-byte
     * loop, the 16-byte blocks, the 8..15 byte tail and the short tail: '"' and '\\' next to
     * their neighbours 0x21, 0x23, 0x5B and 0x5D, the controls next to the space, 0x7F next to
     * 0x80. */
    static const size_t lengths[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 70};
    char s[70];
    for (unsigned b = 0; b < 256; b++) {
        for (size_t li = 0; li < TRL_ARRAY_LEN(lengths); li++) {
            size_t len = lengths[li];
            for (size_t at = 0; at < len; at++) {
                memset(s, 'a', len);
                s[at] = (char)b;
                assert_string_like_reference(s, len);
            }
        }
    }
}

static void test_json_escape_of_utf8_cut_and_mixed_with_escapes(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "caf\xC3\xA9 \"quoted\" \\ back",            /* valid 2-byte sequence among escapes */
        "\xE2\x82\xAC\xF0\x9F\x98\x80 tab\there",    /* 3- and 4-byte sequences, a tab */
        "cut at the end \xE2\x82",                   /* a sequence cut short */
        "\xC0\xAF overlong, \xED\xA0\x80 surrogate", /* forbidden forms */
        "\xF4\x90\x80\x80 beyond U+10FFFF \xFF\xFE", /* out of range, never-valid bytes */
        "a long plain run before the special byte at the end of the block ....\x01",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++)
        assert_string_like_reference(cases[i], strlen(cases[i]));
    /* A long value of nothing but bytes to escape: the worst case the reservation covers. */
    char worst[3000];
    for (size_t i = 0; i < sizeof(worst); i++)
        worst[i] = (char)(i % 2 ? 0x01 : 0xFF);
    assert_string_like_reference(worst, sizeof(worst));
}

/* The event of one of four shapes: the same number of fields, and the same last, middle and
 * fourth field, so that all four share the cached encoder's recent key; they differ in the
 * second field. Values vary with i and hold bytes to escape. */
static struct trl_event *shaped_event(unsigned shape, unsigned i)
{
    static const enum trl_field second[4] = {TRL_F_HOST_NAME, TRL_F_USER_NAME, TRL_F_SOURCE_IP,
                                             TRL_F_PROCESS_NAME};
    char value[32];
    int n = snprintf(value, sizeof(value), "v%u \"q\"\t%u", i, shape);
    char original[64];
    int on = snprintf(original, sizeof(original), "line %u of shape %u", i, shape);
    struct trl_event *ev = trl_event_create(arena, original, (size_t)on, 1720563243412000000LL);
    ev->format = "rfc5424";
    ev->timestamp_ns = 1720563243000000000LL + i;
    trl_event_set_str(ev, TRL_F_EVENT_KIND, "event");
    trl_event_set(ev, second[shape], value, (size_t)n);
    trl_event_set_str(ev, TRL_F_MESSAGE, "message");
    trl_event_set_str(ev, TRL_F_EVENT_MODULE, "mod");
    /* The name a literal, or (every third event) a copy of it: a plan recorded from one fits
     * the other. */
    char name_copy[] = "labels.env";
    trl_event_set_named_ex(ev, i % 3 == 2 ? name_copy : "labels.env", 10, value, (size_t)n,
                           i % 3 == 2 ? 0 : TRL_REF_NAME);
    trl_event_set_str(ev, TRL_F_PROCESS_PID, i % 3 ? "4242" : "42x");
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, "act");
    return ev;
}

static void test_json_cached_alternating_shapes_of_one_recent_key(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    struct trl_buf cached = {0};
    /* Two shapes alternating (both recent plans used), then a third and a fourth evicting them,
     * then the first again. */
    static const unsigned order[] = {0, 1, 0, 1, 1, 0, 2, 0, 2, 3, 1, 3, 0, 0, 1, 2, 3, 3, 2, 1};
    for (unsigned i = 0; i < TRL_ARRAY_LEN(order); i++) {
        assert_cached_as_plain(c, shaped_event(order[i], i), &cached);
    }
    trl_buf_free(&cached);
    trl_json_cache_destroy(c);
}

static void test_json_cached_value_slices_of_original_with_escapes(void **state)
{
    (void)state;
    /* Values that are slices of event.original before, between and after its bytes to escape,
     * and across them: the cached encoder copies the clean ones unchecked (the longest clean run
     * between two such bytes is "middle value"). */
    static const char line[] = "<13>head value\t\"middle value\" more text\x01 tail value";
    struct trl_json_cache *c = trl_json_cache_create();
    struct trl_buf cached = {0};
    for (int round = 0; round < 3; round++) {
        struct trl_event *ev = trl_event_create(arena, line, sizeof(line) - 1, 5);
        const char *o = ev->original;
        ev->format = "rfc3164";
        trl_event_set_ref(ev, TRL_F_HOST_NAME, o + 4, 4);      /* "head" */
        trl_event_set_ref(ev, TRL_F_MESSAGE, o + 16, 12);      /* "middle value" */
        trl_event_set_ref(ev, TRL_F_USER_NAME, o + 9, 13);     /* across the tab and quote */
        trl_event_set_ref(ev, TRL_F_PROCESS_NAME, o + 41, 10); /* "tail value" */
        trl_event_set_ref(ev, TRL_F_EVENT_MODULE, o + 30, 0);  /* empty */
        /* One byte more than the run between the quotes, on either side (keys after "event":
         * written once event.original has been). */
        trl_event_set_ref(ev, TRL_F_SOURCE_DOMAIN, o + 15, 13);
        trl_event_set_ref(ev, TRL_F_URL_DOMAIN, o + 16, 13);
        assert_cached_as_plain(c, ev, &cached);
        assert_non_null(strstr(cached.data, "\"user\":{\"name\":\"value\\t\\\"middle\"}"));
        assert_non_null(strstr(cached.data, "\"source\":{\"domain\":\"\\\"middle value\"}"));
        assert_non_null(strstr(cached.data, "\"url\":{\"domain\":\"middle value\\\"\"}"));
    }
    trl_buf_free(&cached);
    trl_json_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape_screen_catches_exactly_the_special_bytes),
        cmocka_unit_test(test_json_escape_of_utf8_cut_and_mixed_with_escapes),
        cmocka_unit_test(test_json_cached_alternating_shapes_of_one_recent_key),
        cmocka_unit_test(test_json_cached_value_slices_of_original_with_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
