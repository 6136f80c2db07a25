/* Helpers for the Linux normaliser unit tests: events built as the syslog parser leaves them,
 * assertions on array and dynamic fields, and robustness checks over exact-size buffers. */
#ifndef TRL_NORM_TEST_H
#define TRL_NORM_TEST_H

#include "trl_test.h"

#include "formats/normalize.h"

typedef int (*norm_test_fn)(struct trl_event *, const char *, size_t);

static struct trl_arena *norm_arena;

static inline int norm_setup(void **state)
{
    (void)state;
    norm_arena = trl_arena_create(0);
    return 0;
}

static inline int norm_teardown(void **state)
{
    (void)state;
    trl_arena_destroy(norm_arena);
    return 0;
}

/* An event with the fields the syslog parser sets for "host prog[4242]: msg". */
static inline struct trl_event *norm_event(const char *prog, const char *msg)
{
    struct trl_event *ev = trl_event_create(norm_arena, msg, strlen(msg), 0);
    trl_event_set_str(ev, TRL_F_HOST_NAME, "db01");
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, prog);
    trl_event_set_str(ev, TRL_F_PROCESS_NAME, prog);
    trl_event_set_str(ev, TRL_F_PROCESS_PID, "4242");
    trl_event_set_str(ev, TRL_F_MESSAGE, msg);
    return ev;
}

/* The event after trl_normalize() picked the normaliser for prog. */
static inline struct trl_event *normalized(const char *prog, const char *msg)
{
    struct trl_event *ev = norm_event(prog, msg);
    trl_normalize(ev);
    return ev;
}

#define norm_values(ev, f) trl_test_values((ev), (f))

#define assert_values(ev, f, want) assert_string_equal(norm_values((ev), (f)), (want))

/* Asserts the classification fields in one line. */
#define assert_class(ev, category, type, action, outcome)                                          \
    do {                                                                                           \
        assert_field((ev), TRL_F_EVENT_KIND, "event");                                             \
        assert_values((ev), TRL_F_EVENT_CATEGORY, (category));                                     \
        assert_values((ev), TRL_F_EVENT_TYPE, (type));                                             \
        assert_field((ev), TRL_F_EVENT_ACTION, (action));                                          \
        assert_field((ev), TRL_F_EVENT_OUTCOME, (outcome));                                        \
    } while (0)

/* Runs fn over msg held in a buffer of exactly its length (no NUL after it), so that a read past
 * the end is caught by AddressSanitizer. Returns fn's result; *nfields_before gets the field count
 * the event had before the call. */
static inline int norm_run_exact(norm_test_fn fn, const char *prog, const char *msg, size_t len,
                                 struct trl_event **out, uint32_t *nfields_before)
{
    char *buf = malloc(len ? len : 1);
    memcpy(buf, msg, len);
    struct trl_event *ev = norm_event(prog, "");
    trl_event_set_ref(ev, TRL_F_MESSAGE, buf, len);
    *nfields_before = ev->nfields;
    int rc = fn(ev, buf, len);
    trl_event_set_ref(ev, TRL_F_MESSAGE, "", 0);
    free(buf);
    *out = ev;
    return rc;
}

/* Asserts that fn does not recognise msg and leaves the event untouched. */
#define assert_no_match(fn, prog, msg) trl_test_no_match((fn), (prog), (msg), __FILE__, __LINE__)

static inline void trl_test_no_match(norm_test_fn fn, const char *prog, const char *msg,
                                     const char *file, int line)
{
    struct trl_event *ev;
    uint32_t before;
    int rc = norm_run_exact(fn, prog, msg, strlen(msg), &ev, &before);
    if (rc == TRL_ENOMATCH && ev->nfields == before)
        return;
    print_error("%s:%d: '%s': want no match and no new field, got rc %d and %u new fields\n", file,
                line, msg, rc, ev->nfields - before);
    _fail(file, line);
}

/* Runs fn over every prefix of msg (each in an exact-size buffer): truncated lines must neither
 * crash nor read out of bounds, and a prefix that is not recognised must leave no field behind. */
static inline void norm_survive_prefixes(norm_test_fn fn, const char *prog, const char *msg)
{
    size_t len = strlen(msg);
    for (size_t n = 0; n <= len; n++) {
        struct trl_event *ev;
        uint32_t before;
        int rc = norm_run_exact(fn, prog, msg, n, &ev, &before);
        assert_true(rc == 0 || rc == TRL_ENOMATCH);
        if (rc == TRL_ENOMATCH)
            assert_int_equal(ev->nfields, before);
        else
            assert_true(ev->nfields > before);
    }
}

#endif
