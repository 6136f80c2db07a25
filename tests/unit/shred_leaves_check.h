/* Test helper: the values the JSON shredder reports for an event must be the leaves
 * trl_json_leaves() finds in the same JSON, path, value and kind alike. */
#ifndef TRL_TEST_SHRED_LEAVES_CHECK_H
#define TRL_TEST_SHRED_LEAVES_CHECK_H

#include "trl_test.h"

#include "store/json_leaves.h"
#include "store/json_shred.h"

#include <string.h>

static inline void assert_vals_are_leaves(const struct trl_shredder *s, const char *json,
                                          const struct trl_shred_val *v, size_t n)
{
    struct trl_leaves l;
    trl_leaves_init(&l);
    assert_int_equal(trl_json_leaves(json, strlen(json), &l), 0);
    assert_int_equal(n, l.n);
    for (size_t i = 0; i < n; i++) {
        size_t plen;
        const char *path = trl_shredder_path(s, v[i].sid, &plen);
        const struct trl_leaf *f = &l.items[i];
        assert_int_equal(plen, f->path_len);
        assert_memory_equal(path, trl_leaf_path(&l, f), plen);
        assert_int_equal(v[i].len, f->val_len);
        assert_memory_equal(v[i].ptr, trl_leaf_val(&l, f), f->val_len);
        assert_int_equal(v[i].is_string, f->is_string);
    }
    trl_leaves_free(&l);
}

#endif
