#include "store/prebuild.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "formats/json_encode.h"
#include "store/partition.h"

#include <stdlib.h>
#include <string.h>

struct event_ref {
    struct trl_prebuilt_event ev;
    int64_t day;
    uint32_t idx; /* in the batch: keeps batch order within a day */
};

struct trl_prebuilder {
    struct trl_block_builder *builder;
    uint32_t block_max_events;
    struct event_ref *refs;
    size_t refs_cap;
    struct trl_block_input *inputs;
    size_t inputs_cap;
    struct trl_buf json; /* events encoded here, copied into the arena */
};

struct trl_prebuilder *trl_prebuilder_create(int zstd_level, unsigned bloom_bits_per_term,
                                             uint32_t block_max_events)
{
    struct trl_block_builder *b = trl_block_builder_create(zstd_level, bloom_bits_per_term);
    if (!b)
        return NULL;
    /* The ingest path's blocks are covered by their content hash alone (see block.h). */
    trl_block_builder_set_events_digest(b, false);
    struct trl_prebuilder *pb = trl_xcalloc(1, sizeof(*pb));
    pb->builder = b;
    pb->block_max_events = block_max_events;
    return pb;
}

void trl_prebuilder_destroy(struct trl_prebuilder *pb)
{
    if (!pb)
        return;
    trl_block_builder_destroy(pb->builder);
    free(pb->refs);
    free(pb->inputs);
    trl_buf_free(&pb->json);
    free(pb);
}

static int cmp_ref(const void *a, const void *b)
{
    const struct event_ref *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The events' references, sorted by day (a batch rarely spans two). Returns their number. */
static size_t collect(struct trl_prebuilder *pb, struct trl_event *const *events,
                      const struct trl_str *json, size_t n, struct trl_arena *a)
{
    if (n > pb->refs_cap) {
        pb->refs_cap = n;
        pb->refs = trl_xrealloc(pb->refs, n * sizeof(*pb->refs));
    }
    size_t k = 0;
    bool one_day = true;
    for (size_t i = 0; i < n; i++) {
        const struct trl_event *ev = events[i];
        if (!ev)
            continue;
        int64_t ts = ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns;
        struct event_ref *r = &pb->refs[k];
        *r = (struct event_ref){.ev = {.ts = ts}, .day = trl_day_of_ns(ts), .idx = (uint32_t)i};
        if (json && json[i].ptr) {
            r->ev.json = json[i].ptr;
            r->ev.len = json[i].len;
        } else {
            trl_buf_reset(&pb->json);
            trl_json_encode_event(ev, &pb->json);
            r->ev.len = pb->json.len;
            r->ev.json = trl_arena_strndup(a, pb->json.data ? pb->json.data : "", pb->json.len);
        }
        one_day &= r->day == pb->refs[0].day;
        k++;
    }
    if (!one_day)
        qsort(pb->refs, k, sizeof(*pb->refs), cmp_ref);
    return k;
}

/* Builds the blocks of one day's events: at most block_max_events each, and a block holds fewer
 * events when their JSON passes TRL_STORE_BLOCK_MAX_JSON_BYTES. */
static int build_day(struct trl_prebuilder *pb, struct trl_prebuilt_day *d, struct trl_arena *a)
{
    size_t max_blocks = (d->nevents + pb->block_max_events - 1) / pb->block_max_events;
    size_t cap = max_blocks + 1;
    d->blocks = trl_arena_alloc(a, cap * sizeof(*d->blocks));
    if (pb->inputs_cap < pb->block_max_events) {
        pb->inputs_cap = pb->block_max_events;
        pb->inputs = trl_xrealloc(pb->inputs, pb->inputs_cap * sizeof(*pb->inputs));
    }
    size_t i = 0;
    while (i < d->nevents) {
        size_t k = 0, bytes = 0;
        while (i < d->nevents && k < pb->block_max_events &&
               (k == 0 || bytes + d->events[i].len <= TRL_STORE_BLOCK_MAX_JSON_BYTES)) {
            const struct trl_prebuilt_event *e = &d->events[i];
            pb->inputs[k++] = (struct trl_block_input){e->ts, e->json, e->len};
            bytes += e->len;
            i++;
        }
        struct trl_block_out out;
        int rc = trl_block_build(pb->builder, pb->inputs, k, &out);
        if (rc != 0)
            return rc;
        if (d->nblocks == cap) {
            /* Blocks cut short by their size: more than the event count alone needs. */
            struct trl_block_out *grown = trl_arena_alloc(a, 2 * cap * sizeof(*grown));
            memcpy(grown, d->blocks, cap * sizeof(*grown));
            d->blocks = grown;
            cap *= 2;
        }
        /* The builder's bytes are only valid until its next build: keep a copy. */
        uint8_t *data = trl_arena_alloc(a, out.data_len + out.meta_len);
        memcpy(data, out.data, out.data_len);
        memcpy(data + out.data_len, out.meta, out.meta_len);
        out.data = data;
        out.meta = data + out.data_len;
        d->blocks[d->nblocks++] = out;
    }
    return 0;
}

int trl_store_prebuild(struct trl_prebuilder *pb, struct trl_event *const *events,
                       const struct trl_str *json, size_t n, struct trl_arena *a,
                       struct trl_prebuilt *out)
{
    memset(out, 0, sizeof(*out));
    size_t k = collect(pb, events, json, n, a);
    if (k == 0)
        return 0;
    size_t ndays = 1;
    for (size_t i = 1; i < k; i++)
        ndays += pb->refs[i].day != pb->refs[i - 1].day;
    struct trl_prebuilt_event *evs = trl_arena_alloc(a, k * sizeof(*evs));
    out->days = trl_arena_alloc(a, ndays * sizeof(*out->days));
    for (size_t i = 0; i < k; i++)
        evs[i] = pb->refs[i].ev;
    size_t i = 0;
    while (i < k) {
        size_t j = i + 1;
        while (j < k && pb->refs[j].day == pb->refs[i].day)
            j++;
        struct trl_prebuilt_day *d = &out->days[out->ndays++];
        *d = (struct trl_prebuilt_day){.day = pb->refs[i].day, .events = evs + i, .nevents = j - i};
        int rc = build_day(pb, d, a);
        if (rc != 0)
            return rc;
        i = j;
    }
    out->nevents = k;
    return 0;
}

int trl_prebuilt_day_digest(const struct trl_prebuilt_day *d, uint8_t out[TRL_SHA256_LEN])
{
    struct trl_sha256 h;
    int rc = trl_sha256_init(&h);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < d->nevents; i++)
        trl_events_digest_add(&h, d->events[i].ts, d->events[i].json, d->events[i].len);
    trl_sha256_final(&h, out);
    return 0;
}
