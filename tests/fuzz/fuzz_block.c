/*
 * Fuzzes the event store's block formats. Input starting with 'B': the rest is JSON documents, one
 * per line, built into a block that must decode back to the same bytes and index its terms (the
 * shredder's leaves must equal json_leaves').
 * Otherwise: a little-endian u16 meta length, the meta blob, then the data blob, as read from a
 * (possibly damaged) partition: parsing and decoding must fail cleanly or yield bounded values.
 */
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/json_shred.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool count_value(void *ud, const char *v, size_t len)
{
    (void)v;
    *(size_t *)ud += len;
    return false;
}

static void decode_all(const uint8_t *data, size_t len, const struct trl_str *expect, size_t n)
{
    struct trl_block_view v;
    if (trl_block_view_init(&v, data, len) != 0) {
        if (expect)
            abort();
        return;
    }
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    struct trl_leaves l;
    trl_leaves_init(&l);
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        int rc = trl_block_decode(&d, &v, (enum trl_col)c);
        if (rc != 0) {
            if (expect)
                abort();
            continue;
        }
        if (c == TRL_COL_TS)
            continue;
        const struct trl_strcol *s = &d.str[c];
        for (uint32_t i = 0; i < v.count; i++) {
            if (s->first[i] > s->first[i + 1])
                abort();
            for (uint32_t k = s->first[i]; k < s->first[i + 1]; k++) {
                const struct trl_str *x = &s->vals[k];
                /* Every value lies inside the blob or inside the column's decoded bytes. */
                const char *lo = (const char *)data, *hi = lo + len;
                if (v.cols[c].codec == 1) {
                    lo = (const char *)d.raw[c];
                    hi = lo + v.cols[c].raw_len;
                }
                /* A dictionary-coded column is expanded into the decoder's buffer. */
                if (v.cols[c].dict) {
                    lo = (const char *)d.raw[c];
                    hi = lo + d.raw_cap[c];
                }
                /* Format 2 rebuilds the JSON column into the decoder's own buffer. */
                if (c == TRL_COL_JSON && v.version != TRL_BLOCK_VERSION_ROWS) {
                    lo = d.unshred.json;
                    hi = lo + d.json_off[v.count];
                }
                if (x->len > 0 && (x->ptr < lo || x->ptr + x->len > hi))
                    abort();
                if (c == TRL_COL_JSON) {
                    trl_leaves_reset(&l);
                    (void)trl_json_leaves(x->ptr, x->len, &l);
                    if (expect && (i >= n || x->len != expect[i].len ||
                                   memcmp(x->ptr, expect[i].ptr, x->len) != 0))
                        abort();
                }
            }
        }
    }
    trl_leaves_free(&l);
    trl_block_decoder_free(&d);
}

static void parse_meta(const uint8_t *p, size_t len)
{
    struct trl_block_meta m;
    if (trl_block_meta_parse(p, len, &m) != 0)
        return;
    size_t total = 0;
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        if (m.sum[c].set_complete)
            trl_block_summary_any(&m.sum[c], count_value, &total);
    }
    (void)trl_bloom_maybe(&m.bloom, 0x1234567890abcdefULL);
}

static void build(const uint8_t *data, size_t size)
{
    struct trl_str lines[256];
    struct trl_block_input in[256];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 256; i++) {
        if (i == size || data[i] == '\n') {
            lines[n].ptr = (const char *)data + start;
            lines[n].len = i - start;
            in[n] =
                (struct trl_block_input){(int64_t)(n * 1000003) - 500, lines[n].ptr, lines[n].len};
            n++;
            start = i + 1;
        }
    }
    /* The leaves the shredder hands the index must be those search reads with json_leaves. */
    struct trl_shredder *sh = trl_shredder_create();
    struct trl_leaves la, lb;
    trl_leaves_init(&la);
    trl_leaves_init(&lb);
    for (size_t i = 0; i < n; i++) {
        trl_leaves_reset(&la);
        trl_leaves_reset(&lb);
        if (!trl_shredder_add(sh, lines[i].ptr, lines[i].len, &la))
            continue;
        (void)trl_json_leaves(lines[i].ptr, lines[i].len, &lb);
        if (la.n != lb.n)
            abort();
        for (size_t k = 0; k < la.n; k++) {
            const struct trl_leaf *x = &la.items[k], *y = &lb.items[k];
            if (x->path_len != y->path_len || x->val_len != y->val_len ||
                x->is_string != y->is_string ||
                memcmp(trl_leaf_path(&la, x), trl_leaf_path(&lb, y), x->path_len) != 0 ||
                memcmp(trl_leaf_val(&la, x), trl_leaf_val(&lb, y), x->val_len) != 0)
                abort();
        }
    }
    trl_leaves_free(&la);
    trl_leaves_free(&lb);
    trl_shredder_destroy(sh);
    struct trl_block_builder *b = trl_block_builder_create(1, 10);
    /* Parts of a few events (by the line count), so that the JSON column has several. */
    trl_block_builder_set_part_events(b, 1 + (uint32_t)(n % 5));
    struct trl_block_out out;
    if (trl_block_build(b, in, n, &out) != 0)
        abort();
    parse_meta(out.meta, out.meta_len);
    decode_all(out.data, out.data_len, lines, n);
    trl_block_builder_destroy(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 1 && data[0] == 'B') {
        build(data + 1, size - 1);
        return 0;
    }
    if (size < 2)
        return 0;
    size_t mlen = (size_t)(data[0] | data[1] << 8);
    if (mlen > size - 2)
        mlen = size - 2;
    parse_meta(data + 2, mlen);
    decode_all(data + 2 + mlen, size - 2 - mlen, NULL, 0);
    return 0;
}
