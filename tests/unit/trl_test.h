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

/* Asserts that field f of ev equals the C string want (NULL: the field must be absent). */
#define assert_field(ev, f, want) trl_test_assert_field((ev), (f), (want), #f, __FILE__, __LINE__)

static inline void trl_test_assert_field(const struct trl_event *ev, enum trl_field f,
                                         const char *want, const char *fname, const char *file,
                                         int line)
{
    size_t len = 0;
    const char *v = trl_event_get(ev, f, &len);
    if (!want && !v)
        return;
    if (want && v && strlen(want) == len && memcmp(want, v, len) == 0)
        return;
    print_error("%s:%d: %s: want %s%s%s, got %s%.*s%s\n", file, line, fname, want ? "'" : "",
                want ? want : "(absent)", want ? "'" : "", v ? "'" : "", v ? (int)len : 8,
                v ? v : "(absent)", v ? "'" : "");
    _fail(file, line);
}

/* Asserts that the field called name (dynamic or known) has the value want (NULL: absent). */
#define assert_named(ev, name, want) trl_test_assert_named((ev), (name), (want), __FILE__, __LINE__)

static inline void trl_test_assert_named(const struct trl_event *ev, const char *name,
                                         const char *want, const char *file, int line)
{
    size_t len = 0;
    const char *v = trl_event_get_named(ev, name, strlen(name), &len);
    if (!want && !v)
        return;
    if (want && v && strlen(want) == len && memcmp(want, v, len) == 0)
        return;
    print_error("%s:%d: %s: want %s%s%s, got %s%.*s%s\n", file, line, name, want ? "'" : "",
                want ? want : "(absent)", want ? "'" : "", v ? "'" : "", v ? (int)len : 8,
                v ? v : "(absent)", v ? "'" : "");
    _fail(file, line);
}

/* All values of field f joined with ',' ("" when absent), in a static buffer. */
static inline const char *trl_test_values(const struct trl_event *ev, enum trl_field f)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field != f)
            continue;
        int w =
            snprintf(buf + n, sizeof(buf) - n, "%s%.*s", n ? "," : "", (int)kv->val_len, kv->val);
        if (w < 0 || (size_t)w >= sizeof(buf) - n)
            break;
        n += (size_t)w;
    }
    return buf;
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
