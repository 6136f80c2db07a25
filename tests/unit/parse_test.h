/* A fixture for the unit tests of one parser: an arena per test and helpers that run the parser
 * under test on a line and check how it treats lines that are not its own or are malformed.
 * The test file defines TRL_TEST_PARSER (the parser, with the signature of trl_parse_cef) and may
 * define TRL_TEST_RECV_NS (the receive time of every event, 0 when it does not) before it
 * includes this header, once. */
#ifndef TRL_PARSE_TEST_H
#define TRL_PARSE_TEST_H

#include "trl_test.h"

#include "formats/parse.h"

#ifndef TRL_TEST_PARSER
#error "define TRL_TEST_PARSER before including parse_test.h"
#endif
#ifndef TRL_TEST_RECV_NS
#define TRL_TEST_RECV_NS 0
#endif

#include "arena_fixture.h"

/* Parses the event's own copy of line (event.original), as the server does. */
static inline struct trl_event *parse_rc(const char *line, size_t len, int *rc)
{
    struct trl_event *ev = trl_event_create(arena, line, len, TRL_TEST_RECV_NS);
    *rc = TRL_TEST_PARSER(ev, ev->original, ev->original_len);
    return ev;
}

/* Parses line and asserts that the parser accepted it. */
static inline struct trl_event *parse_ok(const char *line)
{
    int rc;
    struct trl_event *ev = parse_rc(line, strlen(line), &rc);
    assert_int_equal(rc, TRL_OK);
    return ev;
}

/* Parses an exact-size heap copy of line without a terminating NUL, so that AddressSanitizer
 * catches any read past len; ev->format starts as format, as a syslog parser may have left it.
 * The copy is wiped before it is freed: values must not point into the caller's buffer. */
static inline struct trl_event *parse_as(const char *line, size_t len, const char *format, int *rc)
{
    struct trl_event *ev = trl_event_create(arena, line, len, TRL_TEST_RECV_NS);
    ev->format = format;
    char *copy = malloc(len ? len : 1);
    memcpy(copy, line, len);
    *rc = TRL_TEST_PARSER(ev, copy, len);
    memset(copy, 'X', len);
    free(copy);
    return ev;
}

/* Parses a heap copy of line (see parse_as) and asserts that the parser accepted it. */
static inline struct trl_event *parse(const char *line)
{
    int rc;
    struct trl_event *ev = parse_as(line, strlen(line), NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    return ev;
}

/* The values of an array field joined by '|'. */
static inline const char *array(const struct trl_event *ev, enum trl_field f)
{
    return trl_test_joined(ev, f, '|');
}

/* Asserts that none of the n lines is for this parser: each gives TRL_ENOMATCH and leaves the
 * event untouched, so that the dispatcher can try the next parser. */
static inline void assert_not_matched(const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        struct trl_event *ev = parse_as(lines[i], strlen(lines[i]), NULL, &rc);
        if (rc != TRL_ENOMATCH)
            fail_msg("line %zu: rc %d: %s", i, rc, lines[i]);
        assert_null(ev->format);
        assert_int_equal(ev->nfields, 0);
        assert_true(ev->timestamp_ns == 0);
    }
}

/* Parses every prefix of each of the n lines (the line cut at each byte) from an exact-size copy,
 * so that a read past the end shows, and asserts that the parser answers each with TRL_OK,
 * TRL_ENOMATCH or, when invalid_ok, TRL_EINVAL. */
static inline void assert_truncations_safe(const char *const *lines, size_t n, bool invalid_ok)
{
    for (size_t l = 0; l < n; l++) {
        size_t full = strlen(lines[l]);
        for (size_t cut = 0; cut <= full; cut++) {
            int rc;
            trl_arena_reset(arena);
            parse_as(lines[l], cut, NULL, &rc);
            if (rc != TRL_OK && rc != TRL_ENOMATCH && !(invalid_ok && rc == TRL_EINVAL))
                fail_msg("line %zu cut at %zu: rc %d", l, cut, rc);
        }
    }
}

/* Asserts that each of the n lines is recognised as format but malformed: TRL_EINVAL, with the
 * format set and the line kept as the message, so that the event is stored all the same. */
static inline void assert_invalid_with_message(const char *const *lines, size_t n,
                                               const char *format)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        struct trl_event *ev = parse_rc(lines[i], strlen(lines[i]), &rc);
        if (rc != TRL_EINVAL)
            fail_msg("line %zu: rc %d", i, rc);
        assert_string_equal(ev->format, format);
        assert_true(trl_event_has(ev, TRL_F_MESSAGE));
    }
}

#endif
