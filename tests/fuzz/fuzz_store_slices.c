/*
 * Fuzzes the reading of keyword columns as one byte string per event (trl_block_decode_slices),
 * against their decoding into values (trl_block_decode): both must accept and reject the same
 * columns, and each event's slice must hold exactly the values the decoder gives.
 * Input starting with 'B': the rest is JSON documents, one per line, built into a block first.
 * Otherwise: a little-endian u16 length of bytes to skip (a meta blob, as fuzz_block's inputs
 * hold), then the data blob, as read from a (possibly damaged) partition.
 */
#include "store/block.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_column(const struct trl_block_view *v, enum trl_col c)
{
    struct trl_block_decoder a, b;
    trl_block_decoder_init(&a);
    trl_block_decoder_init(&b);
    trl_block_decoder_reset(&a, v);
    trl_block_decoder_reset(&b, v);
    uint32_t *start = malloc(((size_t)v->count + 1) * sizeof(*start));
    uint32_t *nvals = malloc((size_t)v->count * sizeof(*nvals));
    if (!start || !nvals)
        abort();
    const uint8_t *bytes = NULL;
    int ra = trl_block_decode(&a, v, c);
    int rb = trl_block_decode_slices(&b, v, c, start, nvals, &bytes);
    if ((ra == 0) != (rb == 0))
        abort();
    if (ra == 0) {
        const struct trl_strcol *s = &a.str[c];
        for (uint32_t i = 0; i < v->count; i++) {
            if (s->first[i + 1] - s->first[i] != nvals[i] || start[i] > start[i + 1])
                abort();
            if (!bytes) {
                if (nvals[i] != 0 || start[i + 1] != 0)
                    abort();
                continue;
            }
            const uint8_t *p = bytes + start[i], *end = p + (start[i + 1] - start[i]);
            uint64_t k = 0;
            if (p != end && !trl_varint_get(&p, end, &k))
                abort();
            if (k != nvals[i])
                abort();
            for (uint32_t j = s->first[i]; j < s->first[i + 1]; j++) {
                uint64_t vl;
                if (!trl_varint_get(&p, end, &vl) || vl > (uint64_t)(end - p) ||
                    vl != s->vals[j].len || memcmp(p, s->vals[j].ptr, vl) != 0)
                    abort();
                p += vl;
            }
            if (p != end)
                abort();
        }
    }
    free(start);
    free(nvals);
    trl_block_decoder_free(&a);
    trl_block_decoder_free(&b);
}

static void check(const uint8_t *data, size_t len)
{
    struct trl_block_view v;
    if (trl_block_view_init(&v, data, len) != 0)
        return;
    for (int c = TRL_COL_HOST_NAME; c <= TRL_COL_EVENT_CODE; c++)
        check_column(&v, (enum trl_col)c);
}

static void build(const uint8_t *data, size_t size)
{
    struct trl_block_input in[256];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 256; i++) {
        if (i == size || data[i] == '\n') {
            in[n] = (struct trl_block_input){(int64_t)(n * 1000003) - 500,
                                             (const char *)data + start, i - start};
            n++;
            start = i + 1;
        }
    }
    struct trl_block_builder *b = trl_block_builder_create(1, 10);
    struct trl_block_out out;
    if (trl_block_build(b, in, n, &out) != 0)
        abort();
    check(out.data, out.data_len);
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
    size_t skip = (size_t)(data[0] | data[1] << 8);
    if (skip > size - 2)
        skip = size - 2;
    check(data + 2 + skip, size - 2 - skip);
    return 0;
}
