/* The cached encoder copies the values that are slices of event.original without checking them
 * when event.original had nothing to escape, and checks every other value. Whatever the bytes, it
 * must write exactly what the plain encoder writes: escapes, invalid UTF-8, control characters,
 * slices cut in the middle of a UTF-8 sequence, values just outside event.original, long values,
 * and the first event of a shape (encoded in full) as well as the ones after it (from the plan). */
#include "trl_test.h"

#include "core/buf.h"
#include "formats/json_encode.h"

#include "arena_fixture.h"
#include "json_cached_check.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t next_rand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}

/* Asserts that the cached encoder writes what the plain one does for ev. */
static void assert_same_as_plain(struct trl_json_cache *c, const struct trl_event *ev)
{
    struct trl_buf cached = {0};
    assert_cached_as_plain(c, ev, &cached);
    trl_buf_free(&cached);
}

/* An event of a fixed shape whose values are slices of original (from the given offsets), a
 * literal, a copy in the arena and a number. */
static struct trl_event *shaped_event(const char *original, size_t len, size_t a, size_t alen,
                                      size_t b, size_t blen)
{
    struct trl_event *ev = trl_event_create(arena, original, len, 1720563243412000000LL);
    ev->format = "rfc3164";
    ev->timestamp_ns = 1720563243000000000LL;
    const char *o = ev->original;
    trl_event_set_ref(ev, TRL_F_EVENT_KIND, "event", 5);
    trl_event_add_ref(ev, TRL_F_EVENT_CATEGORY, "authentication", 14);
    trl_event_set_ref(ev, TRL_F_HOST_NAME, o + a, alen);
    trl_event_set_ref(ev, TRL_F_MESSAGE, o + b, blen);
    trl_event_set(ev, TRL_F_USER_NAME, o + a, alen);
    trl_event_set_ref(ev, TRL_F_SOURCE_PORT, "2222", 4);
    trl_event_set_ref(ev, TRL_F_PROCESS_PID, o + a, alen);
    trl_event_add_ref(ev, TRL_F_RELATED_USER, o + b, blen);
    trl_event_set_named_ex(ev, "sshd.method", 11, o + a, alen, TRL_REF_NAME | TRL_REF_VALUE);
    return ev;
}

static void test_plan_copies_slices_of_a_clean_original_as_they_are(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    static const char *const lines[] = {
        "<86>Nov 27 21:03:46 web20 sshd[44648]: Accepted publickey for bob from 198.44.216.9",
        "<86>Nov 27 21:03:46 web21 sshd[1]: Accepted password for alice from 10.0.0.1 port 22",
        "plain ascii without anything to escape at all, long enough for several blocks of 16",
    };
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
            size_t len = strlen(lines[i]);
            /* Slices at the start, in the middle, at the very end, and empty. */
            assert_same_as_plain(c, shaped_event(lines[i], len, 0, 5, 20, len - 20));
            assert_same_as_plain(c, shaped_event(lines[i], len, len - 1, 1, 0, len));
            assert_same_as_plain(c, shaped_event(lines[i], len, len, 0, 3, 17));
            assert_same_as_plain(c, shaped_event(lines[i], len, 7, 16, 1, 33));
        }
    }
    trl_json_cache_destroy(c);
}

static void test_plan_escapes_slices_of_an_original_that_needs_escaping(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    static const struct {
        const char *text;
        size_t len;
    } lines[] = {
#define LINE(s) {s, sizeof(s) - 1}
        LINE("quote \" and backslash \\ in the middle of the line"),
        LINE("control \x01\x1f and tab \t and newline \n here"),
        LINE("utf-8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 and more text after it"),
        LINE("invalid \xff\xc3 \xe2\x82 \xed\xa0\x80 \xc0\xaf bytes"),
        LINE("nul \0 byte"),
#undef LINE
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
            size_t len = lines[i].len;
            for (size_t a = 0; a + 1 < len; a += 3)
                assert_same_as_plain(c, shaped_event(lines[i].text, len, a, len - a, a / 2, 2));
        }
    }
    trl_json_cache_destroy(c);
}

/* A slice of a clean original written before one of an unclean original of the same shape, and
 * values in the arena just after event.original (outside it) are checked, not copied. */
static void test_plan_checks_values_outside_the_original(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    for (int round = 0; round < 4; round++) {
        struct trl_event *ev = shaped_event("clean text", 10, 0, 5, 6, 4);
        /* A value right after original's bytes: its terminating NUL and beyond. */
        char *after = trl_arena_alloc(arena, 8);
        memcpy(after, "a\"\x02\xff", 5);
        trl_event_set_ref(ev, TRL_F_EVENT_ACTION, after, 4);
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, ev->original + 5, 6);
        assert_same_as_plain(c, ev);
    }
    trl_json_cache_destroy(c);
}

/* An event with no field at all (its field list never allocated) has a plan like any other. */
static void test_plan_of_an_event_without_fields(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    for (int round = 0; round < 3; round++) {
        struct trl_event *ev = trl_event_create(arena, "", 0, 1720563243412000000LL);
        assert_same_as_plain(c, ev);
        ev = trl_event_create(arena, "x\"y", 3, 1720563243412000000LL);
        ev->flags |= TRL_EVF_UNPARSED;
        assert_same_as_plain(c, ev);
    }
    trl_json_cache_destroy(c);
}

/* A value that starts just before event.original and runs into it is no slice of it: checked. */
static void test_plan_checks_a_value_that_starts_before_the_original(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    static const char text[] = "a\"\x01\xffthe clean original text, long enough for a block";
    for (int round = 0; round < 3; round++) {
        struct trl_event *ev = trl_event_create(arena, "", 0, 1720563243412000000LL);
        char *buf = trl_arena_alloc(arena, sizeof(text));
        memcpy(buf, text, sizeof(text));
        ev->original = buf + 4;
        ev->original_len = sizeof(text) - 5;
        trl_event_set_ref(ev, TRL_F_MESSAGE, ev->original, 10);
        trl_event_set_ref(ev, TRL_F_HOST_NAME, buf + 1, 8);
        trl_event_set_ref(ev, TRL_F_USER_NAME, buf, 30);
        assert_same_as_plain(c, ev);
    }
    trl_json_cache_destroy(c);
}

/* Literals the plan has checked once are copied the next time: a string field and a long field
 * that meet one literal after another (clean, needing escapes, longer than a block, a number, a
 * negative one, one with a leading zero, one too long for a long) and copies of the same text
 * in the arena, in every order, must come out as the plain encoder writes them. */
static void test_plan_reuses_literals_it_has_checked(void **state)
{
    (void)state;
    static const char *const strings[] = {
        "ssh-login",
        "ssh-login-failed",
        "a\"b",
        "tab\there",
        "a value longer than one block",
        "",
        "x",
        "sixteen bytes ok",
        "\xc3\xa9t\xc3\xa9",
        "\xff",
    };
    static const char *const longs[] = {
        "2222",
        "0",
        "-1",
        "012",
        "-",
        "65535",
        "12345678901234567890",
        "9223372036854775807",
        "1234567890123456",
        "abc",
        "",
    };
    struct trl_json_cache *c = trl_json_cache_create();
    for (int round = 0; round < 400; round++) {
        const char *sv = strings[next_rand() % TRL_ARRAY_LEN(strings)];
        const char *lv = longs[next_rand() % TRL_ARRAY_LEN(longs)];
        struct trl_event *ev =
            shaped_event("<86>Nov 27 21:03:46 web20 sshd[1]: x", 36, 20, 5, 35, 1);
        /* The literal itself, or the same bytes copied into the arena. */
        if (next_rand() % 3 == 0)
            trl_event_set_str(ev, TRL_F_EVENT_ACTION, sv);
        else
            trl_event_set_ref(ev, TRL_F_EVENT_ACTION, sv, strlen(sv));
        if (next_rand() % 3 == 0)
            trl_event_set_str(ev, TRL_F_SOURCE_PORT, lv);
        else
            trl_event_set_ref(ev, TRL_F_SOURCE_PORT, lv, strlen(lv));
        assert_same_as_plain(c, ev);
        /* An empty value without bytes at all. */
        if (round % 50 == 0) {
            trl_event_set_ref(ev, TRL_F_SOURCE_PORT, NULL, 0);
            trl_event_set_ref(ev, TRL_F_EVENT_ACTION, NULL, 0);
            assert_same_as_plain(c, ev);
        }
    }
    trl_json_cache_destroy(c);
}

/* Random bytes, random slices: long and short values, every byte value. */
static void test_plan_matches_plain_encoding_on_random_events(void **state)
{
    (void)state;
    struct trl_json_cache *c = trl_json_cache_create();
    char text[4096];
    for (int round = 0; round < 3000; round++) {
        size_t len = next_rand() % (round % 10 == 0 ? sizeof(text) : 200);
        unsigned mode = next_rand() % 4;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = next_rand();
            /* Mostly clean ASCII, sometimes anything. */
            text[i] = mode == 0 ? (char)r : (char)(' ' + (r % 95));
            if (mode == 1 && r % 97 == 0)
                text[i] = "\"\\\x01\xc3\xa9\xff"[r % 6];
        }
        size_t a = len ? next_rand() % len : 0, b = len ? next_rand() % len : 0;
        size_t alen = next_rand() % (len - a + 1), blen = next_rand() % (len - b + 1);
        assert_same_as_plain(c, shaped_event(text, len, a, alen, b, blen));
        if (round % 100 == 99)
            trl_arena_reset(arena);
    }
    trl_json_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plan_copies_slices_of_a_clean_original_as_they_are,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_escapes_slices_of_an_original_that_needs_escaping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_checks_values_outside_the_original, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plan_of_an_event_without_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_checks_a_value_that_starts_before_the_original,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_reuses_literals_it_has_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_matches_plain_encoding_on_random_events, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
