/*
 * Fuzzes the shredder of the event store's JSON column. The input is JSON documents, one per
 * line; each is shredded twice in a row (the second time it has a shape the block knows), then
 * once more at the end of the block. The block must give back every document byte for byte, and
 * the values the shredder reports must be the leaves trl_json_leaves() finds.
 */
#include "store/json_leaves.h"
#include "store/json_shred.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 64

struct line {
    const char *ptr;
    size_t len;
};

static void check_vals(const struct trl_shredder *s, const struct line *l,
                       const struct trl_shred_val *v, size_t n, struct trl_leaves *want)
{
    trl_leaves_reset(want);
    if (trl_json_leaves(l->ptr, l->len, want) != 0 || want->n != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t plen;
        const char *path = trl_shredder_path(s, v[i].sid, &plen);
        const struct trl_leaf *f = &want->items[i];
        if (plen != f->path_len || memcmp(path, trl_leaf_path(want, f), plen) != 0 ||
            v[i].len != f->val_len || memcmp(v[i].ptr, trl_leaf_val(want, f), f->val_len) != 0 ||
            v[i].is_string != f->is_string)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct line lines[MAX_LINES];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_LINES; i++) {
        if (i == size || data[i] == '\n') {
            lines[n++] = (struct line){(const char *)data + start, i - start};
            start = i + 1;
        }
    }
    size_t count = 2 * n + n;
    struct line *order = malloc(count * sizeof(*order));
    int64_t *ts = malloc(count * sizeof(*ts));
    uint32_t *off = malloc((count + 1) * sizeof(*off));
    for (size_t i = 0; i < n; i++) {
        order[2 * i] = lines[i];
        order[2 * i + 1] = lines[i];
        order[2 * n + i] = lines[i];
    }
    struct trl_shredder *s = trl_shredder_create();
    struct trl_leaves want;
    trl_leaves_init(&want);
    for (size_t i = 0; i < count; i++) {
        /* Timestamps near the times the documents may hold, and some far from them. */
        ts[i] = 1720564803000000000LL + (int64_t)(i % 5) * 999999937LL - (i % 7 == 3 ? 1LL : 0);
        const struct trl_shred_val *v;
        size_t nv;
        if (trl_shredder_add_event(s, ts[i], order[i].ptr, order[i].len, &v, &nv))
            check_vals(s, &order[i], v, nv, &want);
    }
    struct trl_buf out = {0};
    trl_shredder_finish(s, &out);
    struct trl_unshred_buf u = {0};
    if (trl_json_unshred_ts((const uint8_t *)out.data, out.len, (uint32_t)count, 3, ts, 1 << 26, &u,
                            off) != 0)
        abort();
    for (size_t i = 0; i < count; i++) {
        if (off[i + 1] - off[i] != order[i].len ||
            memcmp(u.json + off[i], order[i].ptr, order[i].len) != 0)
            abort();
    }
    trl_unshred_buf_free(&u);
    trl_buf_free(&out);
    trl_leaves_free(&want);
    trl_shredder_destroy(s);
    free(off);
    free(ts);
    free(order);
    return 0;
}
