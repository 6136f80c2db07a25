/*
 * Fuzzes the block builder's index: the input is JSON documents (or anything), one per line,
 * built into a block twice with one builder and once with a fresh one. The filter must hold
 * every term the indexing rules give (every token and joined pair of every indexed leaf, a field
 * term for every non-text leaf, as trl_json_leaves() reads the leaves) and the block must count
 * exactly that many distinct terms; both builds must give the same bytes.
 */
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/terms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 256

static void add_text(void *ud, const char *tok, size_t n)
{
    trl_termset_add(ud, trl_term_text_hash(tok, n));
}

static void must_be_in_bloom(void *ud, uint64_t h)
{
    if (!trl_bloom_maybe(ud, h))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_block_input in[MAX_LINES];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_LINES; i++) {
        if (i == size || data[i] == '\n') {
            in[n] =
                (struct trl_block_input){(int64_t)n * 1000, (const char *)data + start, i - start};
            n++;
            start = i + 1;
        }
    }

    struct trl_termset want;
    trl_termset_init(&want);
    struct trl_leaves l;
    trl_leaves_init(&l);
    for (size_t i = 0; i < n; i++) {
        trl_leaves_reset(&l);
        (void)trl_json_leaves(in[i].json, in[i].len, &l);
        for (size_t k = 0; k < l.n; k++) {
            const struct trl_leaf *f = &l.items[k];
            const char *path = trl_leaf_path(&l, f), *val = trl_leaf_val(&l, f);
            if (!trl_store_is_indexed_field(path, f->path_len))
                continue;
            trl_term_index_terms(val, f->val_len, add_text, &want);
            if (!trl_store_is_text_field(path, f->path_len))
                trl_termset_add(&want, trl_term_field_hash(path, f->path_len, val, f->val_len));
        }
    }
    trl_leaves_free(&l);

    struct trl_block_builder *b = trl_block_builder_create(1, 10);
    struct trl_block_builder *fresh = trl_block_builder_create(1, 10);
    struct trl_block_out o1, o2, o3;
    if (!b || !fresh || trl_block_build(b, in, n, &o1) != 0)
        abort();
    uint8_t *meta = malloc(o1.meta_len), *blob = malloc(o1.data_len);
    memcpy(meta, o1.meta, o1.meta_len);
    memcpy(blob, o1.data, o1.data_len);
    size_t meta_len = o1.meta_len, data_len = o1.data_len, distinct = o1.distinct_terms;
    /* A second build with the same builder, after one of part of the input. */
    if (n > 1 && trl_block_build(b, in + 1, n - 1, &o2) != 0)
        abort();
    if (trl_block_build(b, in, n, &o2) != 0 || trl_block_build(fresh, in, n, &o3) != 0)
        abort();
    if (o2.meta_len != meta_len || memcmp(o2.meta, meta, meta_len) != 0 ||
        o2.data_len != data_len || memcmp(o2.data, blob, data_len) != 0 ||
        o3.meta_len != meta_len || memcmp(o3.meta, meta, meta_len) != 0)
        abort();

    struct trl_block_meta m;
    if (trl_block_meta_parse(meta, meta_len, &m) != 0 || distinct != want.count)
        abort();
    trl_termset_each(&want, must_be_in_bloom, &m.bloom);

    trl_termset_free(&want);
    free(meta);
    free(blob);
    trl_block_builder_destroy(b);
    trl_block_builder_destroy(fresh);
    return 0;
}
