/*
 * Event store benchmark (built and run by bench/store.sh).
 *
 *   store_bench write DIR EVENTS BATCH ZSTD BITS SYNC   writes realistic events through the store
 *       (timing only trl_store_append, the sink's write), then reports events/s, bytes on disk per
 *       event against the raw text, and search latencies.
 *   store_bench index EVENTS                              compares a per-block Bloom filter with a
 *       per-block term dictionary (with and without postings): size per event, build and lookup
 *       time, measured false-positive rate.
 */
#include "core/arena.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "formats/json_encode.h"
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/query.h"
#include "store/store.h"
#include "store/store_read.h"
#include "store/terms.h"

#include "../tests/unit/store_fixture.h"

#include <dirent.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#define START_NS (1764230400LL * TRL_NS_PER_SEC) /* 2025-11-27T08:00:00Z */
#define STEP_NS  (3 * 1000000LL)                 /* 3 ms apart: ~330 events/s over hours */

/* CPU time of this thread: the machine may be shared, and wall time then says little. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * TRL_NS_PER_SEC + ts.tv_nsec;
}

static uint64_t dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t total = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[4400];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            total += (uint64_t)sb.st_size;
    }
    if (d)
        closedir(d);
    return total;
}

static int count_hit(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)ts;
    (void)json;
    (void)len;
    (*(size_t *)ud)++;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void search_bench(const char *dir, int64_t from, int64_t to)
{
    static const char *const queries[] = {
        "",
        "user.name:mallory",
        "user.name:mallory AND event.outcome:failure",
        "\"failed password\" mallory",
        "10.1.23.33",
        "source.ip:10.1.23.33",
        "process.name:sshd NOT user.name:root",
        "url.path:*wp-login*",
        "fail*",
        "sha256 AND nosuchtermanywhere",
    };
    struct trl_store_reader *r;
    if (trl_store_reader_open(dir, &r) != 0) {
        printf("cannot open the store for reading\n");
        return;
    }
    printf("\n%-46s %10s %10s %10s %8s %8s\n", "query (limit 100, whole range)", "median ms",
           "hits", "matched", "blocks", "skipped");
    for (size_t i = 0; i < TRL_ARRAY_LEN(queries); i++) {
        struct trl_query *q;
        struct trl_query_error e;
        if (trl_query_parse(queries[i], strlen(queries[i]), &q, &e) != 0)
            continue;
        double ms[5];
        struct trl_store_search_stats st = {0};
        size_t hits = 0;
        for (int k = 0; k < 5; k++) {
            hits = 0;
            struct trl_store_search_opts o = {from, to, 100};
            int64_t t0 = trl_mono_ns();
            trl_store_search(r, q, &o, count_hit, &hits, &st);
            ms[k] = (double)(trl_mono_ns() - t0) / 1e6;
        }
        qsort(ms, 5, sizeof(ms[0]), cmp_d);
        char label[64];
        snprintf(label, sizeof(label), "%s", queries[i][0] ? queries[i] : "(all)");
        printf("%-46s %10.2f %10zu %10llu %8llu %8llu\n", label, ms[2], hits,
               (unsigned long long)st.events_matched, (unsigned long long)st.blocks,
               (unsigned long long)st.blocks_skipped_index);
        trl_query_free(q);
    }
    trl_store_reader_close(r);
}

static int bench_write(const char *dir, size_t total, size_t batch, int level, unsigned bits,
                       bool sync_full)
{
    struct trl_store_opts opts = {
        .zstd_level = level, .bloom_bits_per_term = bits, .sync_normal = !sync_full};
    struct trl_store *st;
    if (trl_store_open(dir, &opts, &st) != 0)
        return 1;
    struct fx_rng rng = {0x9e3779b97f4a7c15ULL};
    struct trl_event **ev = calloc(batch, sizeof(*ev));
    struct trl_arena *a = trl_arena_create(4 << 20);
    size_t raw = 0, done = 0;
    int64_t spent = 0, enc = 0, cpu = 0;
    struct trl_buf jb = {0};
    struct trl_str *json = calloc(batch, sizeof(*json));
    size_t *ends = calloc(batch, sizeof(*ends));
    while (done < total) {
        size_t n = total - done < batch ? total - done : batch;
        trl_arena_reset(a);
        raw += fx_events(a, &rng, ev, n, START_NS + (int64_t)done * STEP_NS, STEP_NS);
        /* As `trapline server` and `ingest` run it, the pipeline's producer thread encodes the
         * events; the store (on the worker thread) takes that JSON. Timed apart. */
        int64_t e0 = cpu_ns();
        trl_buf_reset(&jb);
        for (size_t i = 0; i < n; i++) {
            trl_json_encode_event(ev[i], &jb);
            ends[i] = jb.len;
        }
        enc += cpu_ns() - e0;
        for (size_t i = 0; i < n; i++) {
            size_t start = i ? ends[i - 1] : 0;
            json[i] = (struct trl_str){jb.data + start, ends[i] - start};
        }
        int64_t t0 = trl_mono_ns(), c0 = cpu_ns();
        int rc = trl_store_append_encoded(st, ev, json, n);
        spent += trl_mono_ns() - t0;
        cpu += cpu_ns() - c0;
        if (rc != 0) {
            printf("append failed: %d\n", rc);
            return 1;
        }
        done += n;
    }
    free(json);
    free(ends);
    int64_t c0 = trl_mono_ns();
    struct trl_store_compact_stats cs;
    trl_store_compact(st, 0, false, &cs);
    int64_t compact_ns = trl_mono_ns() - c0;
    trl_store_close(st);
    trl_arena_destroy(a);
    trl_buf_free(&jb);
    free(ev);
    char evdir[4096];
    snprintf(evdir, sizeof(evdir), "%s/events", dir);
    uint64_t disk = dir_bytes(evdir);
    double secs = (double)spent / 1e9;
    printf("zstd=%d bloom=%u bits/term sync=%s batch=%zu events=%zu\n", level, bits,
           sync_full ? "FULL" : "NORMAL", batch, total);
    printf("  write: %.0f events/s through the store's append of encoded events (%.2f s wall); "
           "CPU %.1f us/event = %.0f events/s per core; JSON encoding (producer thread) %.1f "
           "us/event more\n",
           (double)total / secs, secs, (double)cpu / 1e3 / (double)total,
           (double)total / ((double)cpu / 1e9), (double)enc / 1e3 / (double)total);
    printf("  compaction after: %u merges, %.2f s\n", cs.merges, (double)compact_ns / 1e9);
    printf("  raw text %.1f MB = %.1f bytes/event; on disk %.1f MB = %.1f bytes/event; "
           "%.2fx smaller than the raw text\n",
           (double)raw / 1e6, (double)raw / (double)total, (double)disk / 1e6,
           (double)disk / (double)total, (double)raw / (double)disk);
    int64_t to = START_NS + (int64_t)total * STEP_NS + 1;
    search_bench(dir, START_NS, to);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Index comparison                                                                            */

struct posting {
    uint64_t h;
    uint32_t ev;
};

static int cmp_posting(const void *a, const void *b)
{
    const struct posting *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return (x->ev > y->ev) - (x->ev < y->ev);
}

struct collect {
    struct posting *p;
    size_t n, cap;
    uint32_t ev;
};

static void add_posting(struct collect *c, uint64_t h)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->p = realloc(c->p, c->cap * sizeof(*c->p));
    }
    c->p[c->n++] = (struct posting){h, c->ev};
}

static void tok_cb(void *ud, const char *t, size_t n)
{
    add_posting(ud, trl_term_text_hash(t, n));
}

static size_t zstd_size(const void *p, size_t n)
{
    void *dst = malloc(ZSTD_compressBound(n));
    size_t r = ZSTD_compress(dst, ZSTD_compressBound(n), p, n, 3);
    free(dst);
    return ZSTD_isError(r) ? n : r;
}

static void put_varint(struct trl_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    trl_buf_append(b, tmp, trl_varint_put(tmp, v));
}

static bool bsearch_u64(const uint64_t *a, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == key;
}

static int bench_index(size_t total)
{
    const size_t per_block = 4096;
    struct fx_rng rng = {0x9e3779b97f4a7c15ULL};
    struct trl_event **ev = calloc(per_block, sizeof(*ev));
    struct trl_arena *a = trl_arena_create(8 << 20);
    struct trl_buf js = {0}, dict = {0}, post = {0};
    struct trl_leaves lv;
    trl_leaves_init(&lv);
    struct collect c = {0};
    uint64_t distinct = 0, occurrences = 0, bloom_bytes[3] = {0}, dict32 = 0, dict32z = 0,
             postz = 0, blocks = 0;
    double bloom_build = 0, dict_build = 0, bloom_probe = 0, dict_probe = 0;
    uint64_t probes = 0, fp[3] = {0};
    const unsigned bits_opts[3] = {8, 10, 14};
    for (size_t done = 0; done < total; done += per_block, blocks++) {
        trl_arena_reset(a);
        fx_events(a, &rng, ev, per_block, START_NS + (int64_t)done * STEP_NS, STEP_NS);
        c.n = 0;
        for (size_t i = 0; i < per_block; i++) {
            trl_buf_reset(&js);
            trl_json_encode_event(ev[i], &js);
            trl_leaves_reset(&lv);
            trl_json_leaves(js.data, js.len, &lv);
            c.ev = (uint32_t)i;
            for (size_t k = 0; k < lv.n; k++) {
                const struct trl_leaf *f = &lv.items[k];
                const char *path = trl_leaf_path(&lv, f), *val = trl_leaf_val(&lv, f);
                if (!trl_store_is_indexed_field(path, f->path_len))
                    continue;
                trl_term_index_terms(val, f->val_len, tok_cb, &c);
                if (!trl_store_is_text_field(path, f->path_len))
                    add_posting(&c, trl_term_field_hash(path, f->path_len, val, f->val_len));
            }
        }
        occurrences += c.n;
        /* Dictionary: sorted distinct hashes, postings per term. */
        int64_t t0 = trl_mono_ns();
        qsort(c.p, c.n, sizeof(*c.p), cmp_posting);
        uint64_t *uniq = malloc(c.n * sizeof(*uniq));
        size_t nu = 0;
        trl_buf_reset(&dict);
        trl_buf_reset(&post);
        uint32_t prev32 = 0;
        for (size_t i = 0; i < c.n;) {
            size_t j = i;
            uniq[nu++] = c.p[i].h;
            uint32_t h32 = (uint32_t)(c.p[i].h >> 32);
            put_varint(&dict, h32 - prev32);
            prev32 = h32;
            uint32_t last = 0;
            size_t cnt = 0;
            for (; j < c.n && c.p[j].h == c.p[i].h; j++) {
                if (cnt && c.p[j].ev == last)
                    continue;
                put_varint(&post, c.p[j].ev - (cnt ? last : 0));
                last = c.p[j].ev;
                cnt++;
            }
            i = j;
        }
        dict_build += (double)(trl_mono_ns() - t0);
        distinct += nu;
        dict32 += dict.len;
        dict32z += zstd_size(dict.data, dict.len);
        postz += zstd_size(post.data, post.len);
        for (int b = 0; b < 3; b++) {
            int64_t b0 = trl_mono_ns();
            uint32_t nbits = trl_bloom_size_bits(nu, bits_opts[b]);
            uint8_t *bits = calloc(nbits / 8, 1);
            uint8_t k = trl_bloom_best_k(bits_opts[b]);
            struct trl_bloom bl = {
                .bits = bits, .nbits = nbits, .k = k, .version = 2, .salt = (uint64_t)blocks};
            for (size_t i = 0; i < nu; i++)
                trl_bloom_add(bits, &bl, uniq[i]);
            if (b == 1)
                bloom_build += (double)(trl_mono_ns() - b0);
            bloom_bytes[b] += nbits / 8;
            /* Absent terms: false positives; and lookup speed on a mix. */
            struct fx_rng pr = {blocks * 7919 + 1};
            int64_t p0 = trl_mono_ns();
            for (int q = 0; q < 20000; q++) {
                uint64_t h = fx_next(&pr);
                if (trl_bloom_maybe(&bl, h) && !bsearch_u64(uniq, nu, h))
                    fp[b]++;
            }
            if (b == 1)
                bloom_probe += (double)(trl_mono_ns() - p0);
            free(bits);
        }
        struct fx_rng pr = {blocks * 7919 + 1};
        int64_t p0 = trl_mono_ns();
        size_t found = 0;
        for (int q = 0; q < 20000; q++)
            found += bsearch_u64(uniq, nu, fx_next(&pr));
        /* Keeps the compiler from dropping the probes it times. */
        __asm__ volatile("" : : "r"(found));
        dict_probe += (double)(trl_mono_ns() - p0);
        probes += 20000;
        free(uniq);
    }
    double ev_total = (double)blocks * (double)per_block;
    printf("index comparison over %llu blocks of %zu events\n", (unsigned long long)blocks,
           per_block);
    printf("  terms per block: %.0f distinct, %.0f occurrences\n", (double)distinct / blocks,
           (double)occurrences / blocks);
    for (int b = 0; b < 3; b++)
        printf("  bloom %2u bits/term: %6.2f bytes/event, measured false positives %.2f%%\n",
               bits_opts[b], (double)bloom_bytes[b] / ev_total, 100.0 * fp[b] / (double)probes);
    printf("  dictionary (32-bit hashes, delta varint): %.2f bytes/event raw, %.2f zstd\n",
           (double)dict32 / ev_total, (double)dict32z / ev_total);
    printf("  dictionary + postings (zstd): %.2f bytes/event\n",
           (double)(dict32z + postz) / ev_total);
    printf("  build per block: bloom %.2f ms (from the distinct hashes), dictionary+postings "
           "%.2f ms (sort)\n",
           bloom_build / blocks / 1e6, dict_build / blocks / 1e6);
    printf("  lookup: bloom %.0f ns, dictionary binary search %.0f ns\n",
           bloom_probe / (double)probes, dict_probe / (double)probes);
    free(c.p);
    free(ev);
    trl_leaves_free(&lv);
    trl_buf_free(&js);
    trl_buf_free(&dict);
    trl_buf_free(&post);
    trl_arena_destroy(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "index"))
        return bench_index((size_t)strtoull(argv[2], NULL, 10));
    if (argc >= 8 && !strcmp(argv[1], "write"))
        return bench_write(argv[2], (size_t)strtoull(argv[3], NULL, 10),
                           (size_t)strtoull(argv[4], NULL, 10), atoi(argv[5]),
                           (unsigned)atoi(argv[6]), !strcmp(argv[7], "full"));
    fprintf(stderr, "usage: store_bench write DIR EVENTS BATCH ZSTD BITS full|normal\n"
                    "       store_bench index EVENTS\n");
    return 2;
}
