/* Shared includes and helpers for Trapline's cmocka unit tests. */
#ifndef TRL_TEST_H
#define TRL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"

/* Fails the test at file:line unless the value v (len bytes, NULL: absent) is the C string want
 * (NULL: absent); name says which field in the message. */
static inline void trl_test_assert_value(const char *v, size_t len, const char *want,
                                         const char *name, const char *file, int line)
{
    if (!want && !v)
        return;
    if (want && v && strlen(want) == len && memcmp(want, v, len) == 0)
        return;
    print_error("%s:%d: %s: want %s%s%s, got %s%.*s%s\n", file, line, name, want ? "'" : "",
                want ? want : "(absent)", want ? "'" : "", v ? "'" : "", v ? (int)len : 8,
                v ? v : "(absent)", v ? "'" : "");
    _fail(file, line);
}

/* Asserts that field f of ev equals the C string want (NULL: the field must be absent). */
#define assert_field(ev, f, want) trl_test_assert_field((ev), (f), (want), #f, __FILE__, __LINE__)

static inline void trl_test_assert_field(const struct trl_event *ev, enum trl_field f,
                                         const char *want, const char *fname, const char *file,
                                         int line)
{
    size_t len = 0;
    const char *v = trl_event_get(ev, f, &len);
    trl_test_assert_value(v, len, want, fname, file, line);
}

/* Asserts that the field called name (dynamic or known) has the value want (NULL: absent). */
#define assert_named(ev, name, want) trl_test_assert_named((ev), (name), (want), __FILE__, __LINE__)

static inline void trl_test_assert_named(const struct trl_event *ev, const char *name,
                                         const char *want, const char *file, int line)
{
    size_t len = 0;
    const char *v = trl_event_get_named(ev, name, strlen(name), &len);
    trl_test_assert_value(v, len, want, name, file, line);
}

/* All values of field f joined with sep ("" when absent), in a static buffer. */
static inline const char *trl_test_joined(const struct trl_event *ev, enum trl_field f, char sep)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field != f)
            continue;
        int w = snprintf(buf + n, sizeof(buf) - n, "%.*s%.*s", n ? 1 : 0, &sep, (int)kv->val_len,
                         kv->val);
        if (w < 0 || (size_t)w >= sizeof(buf) - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* All values of field f joined with ',' ("" when absent), in a static buffer. */
static inline const char *trl_test_values(const struct trl_event *ev, enum trl_field f)
{
    return trl_test_joined(ev, f, ',');
}

/* Asserts the event's @timestamp as RFC 3339 with nanoseconds. */
static inline void assert_time(const struct trl_event *ev, const char *want)
{
    char buf[TRL_RFC3339_MAX];
    trl_format_rfc3339(ev->timestamp_ns, buf);
    assert_string_equal(buf, want);
}

/* The directory of shared test data (../shared), or NULL when it is not there. */
static inline const char *trl_test_shared_dir(void)
{
    const char *d = getenv("TRL_SHARED");
    char probe[4096];
    if (!d || !*d)
        return NULL;
    snprintf(probe, sizeof(probe), "%s/data", d);
    return access(probe, F_OK) == 0 ? d : NULL;
}

#endif
