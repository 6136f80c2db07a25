/* Test helper: the cached JSON encoder must write exactly what the plain one writes, whatever the
 * event. Include after the cmocka headers (trl_test.h). */
#ifndef TRL_TEST_JSON_CACHED_CHECK_H
#define TRL_TEST_JSON_CACHED_CHECK_H

#include "core/buf.h"
#include "formats/json_encode.h"

/* Encodes ev with the cache c into out (reset first) and asserts that it equals the plain
 * encoder's output. */
static inline void assert_cached_as_plain(struct trl_json_cache *c, const struct trl_event *ev,
                                          struct trl_buf *out)
{
    struct trl_buf plain = {0};
    trl_buf_reset(out);
    trl_json_encode_event(ev, &plain);
    trl_json_encode_event_cached(c, ev, out);
    assert_int_equal(out->len, plain.len);
    assert_memory_equal(out->data, plain.data, plain.len);
    trl_buf_free(&plain);
}

#endif
