/* Helpers for the JSON input and Windows normaliser unit tests: events parsed from a JSON line,
 * assertions on array and dynamic fields, and reading the shared sample files. */
#ifndef TRL_JSON_TEST_H
#define TRL_JSON_TEST_H

#include "trl_test.h"

#include "formats/json_encode.h"
#include "formats/normalize.h"
#include "formats/parse.h"

static struct trl_arena *json_arena;

static inline int json_setup(void **state)
{
    (void)state;
    json_arena = trl_arena_create(0);
    return 0;
}

static inline int json_teardown(void **state)
{
    (void)state;
    trl_arena_destroy(json_arena);
    return 0;
}

/* A fresh event holding line as event.original. */
static inline struct trl_event *json_event(const char *line, size_t len)
{
    return trl_event_create(json_arena, line, len, 1720563243000000000LL);
}

/* The event after trl_parse_json() and trl_normalize(), as the pipeline leaves it; the parser
 * must accept the line. */
static inline struct trl_event *json_parsed(const char *line)
{
    struct trl_event *ev = json_event(line, strlen(line));
    int rc = trl_parse_json(ev, ev->original, ev->original_len);
    if (rc != 0)
        print_error("trl_parse_json returned %d for %s\n", rc, line);
    assert_int_equal(rc, 0);
    trl_normalize(ev);
    return ev;
}

#define json_values(ev, f) trl_test_values((ev), (f))

/* The event as JSON text (a static buffer reused by the next call). */
static inline const char *json_encoded(const struct trl_event *ev)
{
    static struct trl_buf b;
    trl_buf_reset(&b);
    trl_json_encode_event(ev, &b);
    return b.data;
}

/* Reads a whole file into a NUL-terminated heap buffer; NULL when it cannot be read. */
static inline char *json_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

#endif
