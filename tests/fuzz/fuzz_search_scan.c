/*
 * Fuzzes the search of a block on its shredded JSON column (shred_scan.h, match.h). The input is
 * JSON documents, one per line, stored as one block: for each of a few queries, the events that
 * trl_match_scan_block() finds must be those trl_match_event() finds on each event's JSON (among
 * the events trl_json_leaves() reads to the end), and trl_shred_rebuild() must give back the
 * chosen events byte for byte. Then the column is damaged (bytes taken from the input) and
 * scanned and rebuilt again, which may fail but not crash.
 */
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/match.h"
#include "store/query.h"
#include "store/shred_scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define MAX_LINES 64

static const char *const queries[] = {
    "sshd", "a/b", "mimikatz OR nobody", "failed password", "message:root", "fail*", "x:*",
};

/* The JSON column of the block, decompressed into a buffer of its own (NULL when the block has
 * none the scan reads): every part, or those with sel[k] set. */
static uint8_t *column_of(const struct trl_block_view *v, const struct trl_json_parts *ps,
                          const uint8_t *sel, size_t *len, uint32_t *first)
{
    if (!v->cols[TRL_COL_JSON].present || v->version == TRL_BLOCK_VERSION_ROWS)
        return NULL;
    uint8_t *col = malloc(v->cols[TRL_COL_JSON].raw_len + 1);
    void *dctx = NULL;
    if (trl_block_json_read(&dctx, v, ps, sel, col, len, first) != 0)
        abort();
    ZSTD_freeDCtx(dctx);
    return col;
}

/* Rebuilds the chosen events from the first part and the part holding the last event only, as a
 * search of a hit block does: byte for byte what the full decoder gives. */
static void check_parts(const struct trl_block_view *v, const struct trl_json_parts *ps,
                        struct trl_block_decoder *d, uint8_t *want, uint32_t *off, uint32_t *len)
{
    uint8_t sel[MAX_LINES] = {0};
    uint32_t first[MAX_LINES];
    sel[0] = sel[ps->n - 1] = 1;
    size_t n;
    uint8_t *col = column_of(v, ps, sel, &n, first);
    if (!col)
        return;
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    if (trl_shred_scan_open_parts(&s, col, n, v->count, d->ts, first, sel[0] + (ps->n > 1)) != 0)
        abort();
    memset(want, 0, v->count);
    want[0] = want[v->count - 1] = 1;
    if (trl_shred_rebuild(&s, want, off, len) != 0)
        abort();
    const struct trl_strcol *js = &d->str[TRL_COL_JSON];
    for (uint32_t i = 0; i < v->count; i++) {
        const struct trl_str *e = &js->vals[js->first[i]];
        if (want[i] && (len[i] != e->len || memcmp(s.json + off[i], e->ptr, e->len) != 0))
            abort();
    }
    trl_shred_scan_free(&s);
    free(col);
}

static void check_query(const char *text, struct trl_shred_scan *s, const uint8_t *col,
                        size_t col_len, const struct trl_block_view *v, struct trl_block_decoder *d,
                        uint8_t *want, uint32_t *off, uint32_t *len)
{
    /* A scan is opened for each block (and plan), as a search does. */
    uint32_t count = v->count;
    if (trl_shred_scan_open(s, col, col_len, count, v->version, d->ts) != 0)
        abort();
    struct trl_query *q = NULL;
    if (trl_query_parse(text, strlen(text), &q, NULL) != 0)
        abort();
    struct trl_match *m = trl_match_compile(q);
    struct trl_match_ctx c;
    trl_match_ctx_init(&c);
    int rc = trl_match_scan_block(m, &c, s);
    if (rc != 0 && rc != TRL_ENOMATCH)
        abort(); /* the builder's own column is not damaged */
    const struct trl_strcol *js = &d->str[TRL_COL_JSON];
    struct trl_leaves l;
    trl_leaves_init(&l);
    for (uint32_t i = 0; i < count; i++) {
        const struct trl_str *e = &js->vals[js->first[i]];
        bool exact = trl_match_event(m, &c, d, i, e->ptr, e->len);
        /* An event the JSON walk stops in (an invalid escape, say) keeps the leaves before the
         * stop, where the scan may see more of it: only whole events are compared. */
        trl_leaves_reset(&l);
        bool whole = trl_json_leaves(e->ptr, e->len, &l) == 0;
        if (rc == 0 && whole && trl_match_event_scanned(m, &c, i) != exact) {
            fprintf(stderr, "query '%s', event %u: scanned %d, exact %d: %.*s\n", text, i, !exact,
                    exact, (int)e->len, e->ptr);
            abort();
        }
        want[i] = exact;
    }
    trl_leaves_free(&l);
    if (trl_shred_rebuild(s, want, off, len) != 0)
        abort();
    for (uint32_t i = 0; i < count; i++) {
        const struct trl_str *e = &js->vals[js->first[i]];
        if (want[i] && (len[i] != e->len || memcmp(s->json + off[i], e->ptr, e->len) != 0))
            abort();
    }
    trl_match_ctx_free(&c);
    trl_match_free(m);
    trl_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_block_input in[MAX_LINES];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_LINES; i++) {
        if (i == size || data[i] == '\n') {
            in[n] = (struct trl_block_input){1795000000000000000LL + (int64_t)n * 1000000,
                                             (const char *)data + start, i - start};
            n++;
            start = i + 1;
        }
    }
    struct trl_block_builder *b = trl_block_builder_create(1, 10);
    /* Parts of a few events, so that a block of a few lines has several. */
    trl_block_builder_set_part_events(b, size > 0 ? 1 + data[0] % 8 : 0);
    struct trl_block_out out;
    if (trl_block_build(b, in, n, &out) != 0)
        abort();
    struct trl_block_view v;
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    if (trl_block_view_init(&v, out.data, out.data_len) != 0)
        abort();
    trl_block_decoder_reset(&d, &v);
    if (trl_block_decode(&d, &v, TRL_COL_TS) != 0 || trl_block_decode(&d, &v, TRL_COL_JSON) != 0)
        abort();
    size_t col_len = 0;
    struct trl_json_parts ps = {0};
    if (trl_block_json_parts(&v, &ps) != 0)
        abort();
    uint8_t want[MAX_LINES];
    uint32_t off[MAX_LINES], len[MAX_LINES];
    uint8_t *col = column_of(&v, &ps, NULL, &col_len, NULL);
    check_parts(&v, &ps, &d, want, off, len);
    struct trl_shred_scan s;
    trl_shred_scan_init(&s);
    if (col && trl_shred_scan_open(&s, col, col_len, v.count, v.version, d.ts) == 0) {
        for (size_t k = 0; k < sizeof(queries) / sizeof(queries[0]); k++)
            check_query(queries[k], &s, col, col_len, &v, &d, want, off, len);
        /* Damage: a few bytes of the column replaced by bytes of the input. */
        for (size_t k = 0; k < 4 && col_len > 0 && size > 0; k++)
            col[(data[k % size] * 131u + k * 977u) % col_len] = data[(k * 7) % size];
        if (trl_shred_scan_open(&s, col, col_len, v.count, v.version, d.ts) == 0) {
            struct trl_query *q = NULL;
            if (trl_query_parse("sshd OR root", 12, &q, NULL) != 0)
                abort();
            struct trl_match *m = trl_match_compile(q);
            struct trl_match_ctx c;
            trl_match_ctx_init(&c);
            (void)trl_match_scan_block(m, &c, &s);
            memset(want, 1, sizeof(want));
            (void)trl_shred_rebuild(&s, want, off, len);
            trl_match_ctx_free(&c);
            trl_match_free(m);
            trl_query_free(q);
        }
    }
    trl_shred_scan_free(&s);
    free(col);
    trl_json_parts_free(&ps);
    trl_block_decoder_free(&d);
    trl_block_builder_destroy(b);
    return 0;
}
