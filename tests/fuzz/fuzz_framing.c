/*
 * Fuzzes the stream framer: the first byte picks the maximum message size, the second seeds the
 * chunk sizes, the rest is the stream. The same stream is framed in one chunk and in the seeded
 * chunks; both must give exactly the same frames, each non-empty and no longer than the maximum.
 */
#include "core/buf.h"
#include "core/util.h"
#include "server/framing.h"
#include "server/pipeline.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_frame(const struct trl_framer *f, const struct trl_frame *fr, struct trl_buf *out)
{
    if (fr->len == 0 || fr->len > f->max_msg)
        abort();
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "|%zu:%u:", fr->len, fr->flags);
    trl_buf_append(out, hdr, (size_t)n);
    trl_buf_append(out, fr->data, fr->len);
}

static void frame(const uint8_t *data, size_t size, size_t max_msg, uint32_t seed,
                  struct trl_buf *out)
{
    struct trl_framer f;
    trl_framer_init(&f, max_msg);
    size_t off = 0;
    bool failed = false;
    while (off < size && !failed) {
        size_t chunk = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            chunk = TRL_MIN(chunk, (size_t)(seed >> 16) % 97 + 1);
        }
        /* Copy each chunk so out-of-bounds reads past it are caught by the sanitizer. */
        char *c = malloc(chunk ? chunk : 1);
        memcpy(c, data + off, chunk);
        size_t pos = 0;
        struct trl_frame fr;
        int rc;
        while ((rc = trl_framer_next(&f, c, chunk, &pos, &fr)) == 1)
            check_frame(&f, &fr, out);
        if (rc < 0) {
            trl_buf_printf(out, "|ERR:%s", f.error);
            failed = true;
        } else if (pos != chunk) {
            abort();
        }
        free(c);
        off += chunk;
    }
    struct trl_frame fr;
    if (!failed && trl_framer_finish(&f, &fr) == 1)
        check_frame(&f, &fr, out);
    trl_framer_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[] = {16, 17, 32, 100, 1024, 65536};
    if (size < 2)
        return 0;
    size_t max_msg = maxes[data[0] % TRL_ARRAY_LEN(maxes)];
    uint32_t seed = (uint32_t)data[1] | 1u;
    struct trl_buf whole = {0}, chunked = {0};
    frame(data + 2, size - 2, max_msg, 0, &whole);
    frame(data + 2, size - 2, max_msg, seed, &chunked);
    if (whole.len != chunked.len || (whole.len && memcmp(whole.data, chunked.data, whole.len)))
        abort();
    trl_buf_free(&whole);
    trl_buf_free(&chunked);
    return 0;
}
