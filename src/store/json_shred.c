#include "store/json_shred.h"
#include "core/util.h"
#include "store/block.h"
#include "core/timeutil.h"
#include "store/json_leaves.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* x86-64 compilers that build a function for AVX2 on demand: find_in() then tries 32 positions a
 * time where the processor has it. */
#if defined(__x86_64__) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define SHRED_AVX2 1
#include <immintrin.h>
#else
#define SHRED_AVX2 0
#endif

/*
 * Layout of a shredded block (all integers LEB128 varints):
 *
 *   count  json_length  nstreams  skeleton_length
 *   nstreams x { values_length  refs_length }
 *   skeletons: count x { varint length, bytes }            format 2
 *              count x { varint length > 0, bytes          format 3: a skeleton new to the block
 *                      | 0, varint n }                     format 3: the n-th distinct skeleton
 *                                                          (from 0, in the order first written)
 *   for each stream in order: its values, then its refs
 *
 * A skeleton is the event's JSON with each value replaced by a marker and the value's stream
 * number (varint): MARK_STR (a string, its content in the values as varint length + the bytes
 * between the quotes, still escaped), MARK_SCALAR (a number or literal, likewise), MARK_ORIGINAL
 * (a string: the event's event.original, which later references point into), MARK_STR_REF and
 * MARK_SCALAR_REF (the value is bytes [offset, offset + length) of the event's event.original
 * content: the refs hold varint offset, varint length). MARK_VERBATIM (varint length, bytes)
 * holds an event that is not plain JSON. Every other byte is copied as is. Streams are numbered
 * in the order their dotted path first occurs in the block; values in an array share the path of
 * the array.
 *
 * Format 3 adds MARK_TIME (a string that is an RFC 3339 time as trl_format_rfc3339() writes it:
 * the values hold the zig-zag varint of its difference in ns from the event's timestamp), makes
 * bytes 1..7 markers (6 in format 2), keeps some values inline (their JSON text stays in the
 * skeleton, without a marker: the writer's choice, value by value) and stores each distinct
 * skeleton of the block once.
 */
enum {
    MARK_STR = 1,
    MARK_SCALAR = 2,
    MARK_STR_REF = 3,
    MARK_SCALAR_REF = 4,
    MARK_VERBATIM = 5,
    MARK_ORIGINAL = 6,
    MARK_TIME = 7, /* format 3 */
    MARK_LAST_V2 = 6,
    MARK_LAST = 7,
};

#define SHRED_MAX_PATH  1024
#define SHRED_MAX_DEPTH 64
#define REF_MIN_LEN     4 /* shorter values cost less in their column than as a reference */
/* A path whose values in the block are no more than this many distinct ones keeps them inline in
 * the skeleton, where they repeat together with the event's shape (an sshd failure always has the
 * same action, category, outcome and facility): zstd then stores them with the shape for almost
 * nothing, where a stream of its own would pay for each choice apart. */
#define INLINE_DISTINCT 8
#define INLINE_MAX_LEN  48
/* RFC 3339 with nanoseconds and Z, as the JSON encoder writes times (2024-07-09T22:40:03.5Z with
 * the fraction padded to nine digits). */
#define TIME_LEN 30

struct stream {
    struct trl_buf vals, refs;
    uint32_t path_off, path_len;    /* in paths */
    uint32_t tries, hits;           /* reference attempts in this block */
    uint32_t time_tries, time_hits; /* time encoding attempts in this block */
    uint64_t seen[INLINE_DISTINCT]; /* fingerprints of the values kept inline */
    uint8_t nseen;
    /* The two values last kept inline (their lengths, 0xff for none): the next value of the path
     * is most often one of them, which a comparison then tells without fingerprinting it. */
    uint8_t last_len[2];
    char last[2][INLINE_MAX_LEN];
    bool varied;        /* more distinct values than INLINE_DISTINCT */
    bool original_path; /* the path is event.original */
};

struct path_slot {
    uint64_t hash;
    uint32_t sid;
    uint32_t off, len; /* in paths */
    bool used;
};

struct undo {
    uint32_t sid;
    size_t vals_len, refs_len;
};

/* A distinct skeleton of the block: events of one kind share theirs, stored once. */
struct skel_slot {
    uint64_t hash;
    uint32_t off, len; /* in skel */
    uint32_t idx;
    bool used;
};

/* Where a distinct skeleton lies in skel (in skel0 when it is one of the first part's), by its
 * number. */
struct skel_pos {
    uint32_t off, len;
    uint64_t hash;
};

/* A known shape of the block: the events walked so far, as a tree of the bytes between their
 * values. A node is one step: the bytes from the end of the previous value to the start of the
 * next (keys, punctuation, whitespace), the kind of that value and its stream; or, for
 * SHAPE_END, the bytes up to the end of the event. The walk of an event depends only on these
 * bytes and on where each value ends, so an event that follows a path of the tree to a SHAPE_END
 * is walked exactly as the events that made the path were: its values go to the same streams
 * without reading its keys again. */
enum { SHAPE_STR, SHAPE_SCALAR, SHAPE_END };

struct shape_node {
    uint32_t lit_off, lit_len; /* in lits */
    uint32_t sid;
    uint32_t child, next; /* first child and next sibling, 0 for none (node 0 is the root) */
    uint8_t kind;
    uint8_t nchild;
    /* The first 16 bytes of the literal followed by the string's opening quote (SHAPE_STR), and
     * a bit for each of them that there is (zeros after them). quick: they are all the step
     * has, literal and quote. */
    uint16_t head_mask;
    bool quick;
    uint8_t head[16];
};

/* A value of the event being walked: it lies at [v, vend) in the input (a string with its quotes).
 * An event read by a known shape has its values in the shredder's vals instead. */
struct shape_step {
    const char *v, *vend;
    uint32_t sid;
    uint8_t kind;
    bool esc; /* a string holding a backslash */
};

/* Bounds of the tree of a block, which keep its upkeep and each look-up cheap whatever the
 * input: shapes beyond them are walked key by key. */
#define SHAPE_MAX_NODES    (1u << 16)
#define SHAPE_MAX_LITS     (1u << 20)
#define SHAPE_MAX_CHILDREN 32

/* Skeletons recently written, by their length: an event usually has the shape of one of the
 * last few, which a comparison finds without hashing the skeleton. */
#define SKEL_RECENT 256

struct minute_text {
    int64_t minute; /* ns */
    char text[17];
    bool known;
};

struct trl_shredder {
    struct trl_buf skel, ev, paths;
    struct stream *st;
    size_t nst, st_cap;
    struct path_slot *map;
    size_t map_cap, map_n;
    struct undo *undo;
    size_t nundo, undo_cap;
    char path[SHRED_MAX_PATH];
    size_t plen;
    /* The stream that last followed stream i - 1 (ord_sid[0]: the first of an event): keys come in
     * a fixed order, so a value's path is nearly always the one that followed the previous
     * value's last time. nord is the current event's previous stream + 1. */
    uint32_t *ord_sid;
    size_t ord_cap, nord;
    const char *copy_from;     /* input not yet copied into the skeleton */
    const char *in_end;        /* end of the event's JSON */
    struct trl_leaves *leaves; /* the event's leaves, while leaves_ok */
    bool leaves_ok;
    const char *orig;
    size_t orig_len;
    uint64_t total;
    uint32_t count;
    bool have_ts; /* ts is the event's timestamp: times may be stored as deltas from it */
    int64_t ts;
    /* Minutes whose text is known (the first 17 bytes of their times as the JSON encoder writes
     * them, to the minute's colon): the one of ts, and the last of another time. */
    struct minute_text ts_min, other_min;
    /* The event's values for the index (trl_shredder_add_event), while vals_ok. */
    struct trl_shred_val *vals;
    size_t nvals, vals_cap;
    size_t esc_first;      /* the first of vals in esc (unescaped), SIZE_MAX for none */
    struct trl_leaves esc; /* unescaped copies of escaped strings */
    struct skel_slot *smap;
    size_t smap_cap, nskel;
    struct skel_pos *skel_at; /* nskel entries */
    size_t skel_at_cap;
    /* Format 5: the skeletons of the block's first part, which later parts name without storing
     * them again (skeletons 0 .. nskel0 - 1); cut0 once the first part is cut. */
    struct trl_buf skel0;
    size_t nskel0;
    bool cut0;
    uint32_t skel_recent[SKEL_RECENT]; /* a skeleton's number + 1, 0 for none */
    /* The known shapes (node 0 the root), and the steps of the event walked. */
    struct shape_node *nodes;
    size_t nnodes, nodes_cap;
    struct trl_buf lits;
    struct shape_step *steps;
    size_t nsteps, steps_cap;
    bool key_escaped;                 /* the event walked has a key with an escape */
    uint32_t shape_tries, shape_hits; /* events looked up in the known shapes, and found */
    bool avx2;                        /* the processor has AVX2 */
};

struct trl_shredder *trl_shredder_create(void)
{
    struct trl_shredder *s = trl_xcalloc(1, sizeof(struct trl_shredder));
    trl_leaves_init(&s->esc);
#if SHRED_AVX2
    s->avx2 = __builtin_cpu_supports("avx2");
#endif
    return s;
}

void trl_shredder_destroy(struct trl_shredder *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->st_cap; i++) {
        trl_buf_free(&s->st[i].vals);
        trl_buf_free(&s->st[i].refs);
    }
    free(s->st);
    free(s->map);
    free(s->undo);
    free(s->ord_sid);
    trl_buf_free(&s->skel);
    trl_buf_free(&s->ev);
    trl_buf_free(&s->paths);
    free(s->vals);
    free(s->smap);
    free(s->skel_at);
    trl_buf_free(&s->skel0);
    free(s->nodes);
    trl_buf_free(&s->lits);
    free(s->steps);
    trl_leaves_free(&s->esc);
    free(s);
}

void trl_shredder_reset(struct trl_shredder *s)
{
    for (size_t i = 0; i < s->nst; i++) {
        trl_buf_reset(&s->st[i].vals);
        trl_buf_reset(&s->st[i].refs);
    }
    s->nst = 0;
    if (s->map)
        memset(s->map, 0, s->map_cap * sizeof(*s->map));
    s->map_n = 0;
    if (s->ord_sid)
        memset(s->ord_sid, 0xff, s->ord_cap * sizeof(*s->ord_sid));
    trl_buf_reset(&s->skel);
    trl_buf_reset(&s->paths);
    if (s->smap)
        memset(s->smap, 0, s->smap_cap * sizeof(*s->smap));
    s->nskel = 0;
    memset(s->skel_recent, 0, sizeof(s->skel_recent));
    trl_buf_reset(&s->skel0);
    s->nskel0 = 0;
    s->cut0 = false;
    /* Stream numbers belong to the block: so do the shapes that name them. */
    s->nnodes = 0;
    s->shape_tries = 0;
    s->shape_hits = 0;
    trl_buf_reset(&s->lits);
    s->total = 0;
    s->count = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Byte helpers of the hot path: a word at a time where the data allows, no library call for the
 * few bytes most keys and values have. */

/* Whether the bytes of a word lie in it as in memory from its lowest byte up, which finding the
 * first of them that a test flags and masking off bytes beyond a value rely on; elsewhere those
 * go byte by byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SHRED_WORDS 1
#else
#define SHRED_WORDS 0
#endif

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* A byte of a word is a marker byte (0..MARK_LAST) when it has none of these bits. */
#define MARKER_FREE_BITS 0xf8f8f8f8f8f8f8f8ULL

static inline uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Nonzero when a byte of w is zero. A borrow can only mark bytes beyond a real zero byte, so the
 * answer to "is there one" is exact. */
static inline uint64_t zero_byte(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

static inline uint32_t load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Makes room for n more bytes; trl_buf keeps a byte for its terminating NUL. */
static inline uint8_t *buf_room(struct trl_buf *b, size_t n)
{
    if (b->cap - b->len < n + 1)
        trl_buf_reserve(b, n + 1);
    return (uint8_t *)b->data + b->len;
}

static inline void put_varint(struct trl_buf *b, uint64_t v)
{
    uint8_t *p = buf_room(b, 10);
    b->len += trl_varint_put(p, v);
}

/* Copies n bytes: the runs of keys between values and most values are short, which two reads
 * that overlap copy without a call. */
static inline void copy_bytes(uint8_t *d, const char *a, size_t n)
{
#if defined(__SSE2__)
    if (n >= 16 && n <= 32) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)a);
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(a + n - 16));
        _mm_storeu_si128((__m128i *)(void *)d, x);
        _mm_storeu_si128((__m128i *)(void *)(d + n - 16), y);
        return;
    }
#endif
    if (n >= 8 && n <= 16) {
        uint64_t x = load64(a), y = load64(a + n - 8);
        memcpy(d, &x, 8);
        memcpy(d + n - 8, &y, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t x = load32(a), y = load32(a + n - 4);
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)a[i];
    } else {
        memcpy(d, a, n);
    }
}

static inline void put_bytes(struct trl_buf *b, const char *a, size_t n)
{
    copy_bytes(buf_room(b, n), a, n);
    b->len += n;
}

/* A varint length followed by the bytes. */
static inline void put_lenval(struct trl_buf *b, const char *a, size_t n)
{
    uint8_t *p = buf_room(b, n + 10);
    size_t k = trl_varint_put(p, n);
    copy_bytes(p + k, a, n);
    b->len += k + n;
}

/* A marker and its stream number. */
static inline void put_mark(struct trl_buf *b, uint8_t mark, uint32_t sid)
{
    uint8_t *p = buf_room(b, 11);
    p[0] = mark;
    b->len += 1 + trl_varint_put(p + 1, sid);
}

/* A hash for the tables of paths and skeletons (only ever compared with itself). */
static uint64_t bytes_hash(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    if (n < 8) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x94d049bb133111ebULL;
        return h ^ (h >> 29);
    }
    /* Four lanes, mixed at the end; the last word is read where it ends (overlapping the one
     * before). */
    uint64_t g = 0x632be59bd9b4e019ULL, e = 0xd6e8feb86659fd93ULL, f = 0xa0761d6478bd642fULL;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        h = (h ^ load64(p + i)) * 0xbf58476d1ce4e5b9ULL;
        g = (g ^ load64(p + i + 8)) * 0x94d049bb133111ebULL;
        e = (e ^ load64(p + i + 16)) * 0xbf58476d1ce4e5b9ULL;
        f = (f ^ load64(p + i + 24)) * 0x94d049bb133111ebULL;
    }
    for (; i + 8 <= n; i += 8)
        h = ((h ^ load64(p + i)) * 0xbf58476d1ce4e5b9ULL) ^ (h >> 29);
    g = (g ^ load64(p + n - 8)) * 0xbf58476d1ce4e5b9ULL;
    h ^= (g ^ (g >> 31)) + (e ^ (e >> 29)) * 3 + (f ^ (f >> 32)) * 5;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

/* Bytes that end the plain part of a key: its closing quote, an escape, a marker byte. */
static const uint8_t key_stop[256] = {[0 ... MARK_LAST] = 1, ['"'] = 1, ['\\'] = 1};

static void map_grow(struct trl_shredder *s)
{
    size_t ncap = s->map_cap ? s->map_cap * 2 : 256;
    struct path_slot *n = trl_xcalloc(ncap, sizeof(*n));
    for (size_t i = 0; i < s->map_cap; i++) {
        if (!s->map[i].used)
            continue;
        size_t j = (size_t)s->map[i].hash & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = s->map[i];
    }
    free(s->map);
    s->map = n;
    s->map_cap = ncap;
}

static inline bool stream_is_path(const struct trl_shredder *s, uint32_t sid)
{
    const struct stream *st = &s->st[sid];
    return st->path_len == s->plen && trl_short_eq(s->paths.data + st->path_off, s->path, s->plen);
}

/* The stream of the current path, created on first use. */
static uint32_t stream_lookup(struct trl_shredder *s)
{
    if ((s->map_n + 1) * 2 > s->map_cap)
        map_grow(s);
    uint64_t h = bytes_hash(s->path, s->plen);
    size_t j = (size_t)h & (s->map_cap - 1);
    while (s->map[j].used) {
        const struct path_slot *e = &s->map[j];
        if (e->hash == h && e->len == s->plen && !memcmp(s->paths.data + e->off, s->path, s->plen))
            return e->sid;
        j = (j + 1) & (s->map_cap - 1);
    }
    if (s->nst == s->st_cap) {
        size_t ncap = s->st_cap ? s->st_cap * 2 : 64;
        s->st = trl_xrealloc(s->st, ncap * sizeof(*s->st));
        memset(s->st + s->st_cap, 0, (ncap - s->st_cap) * sizeof(*s->st));
        s->st_cap = ncap;
    }
    uint32_t sid = (uint32_t)s->nst++;
    s->map[j] = (struct path_slot){h, sid, (uint32_t)s->paths.len, (uint32_t)s->plen, true};
    s->st[sid].path_off = (uint32_t)s->paths.len;
    s->st[sid].path_len = (uint32_t)s->plen;
    s->st[sid].tries = 0;
    s->st[sid].hits = 0;
    s->st[sid].time_tries = 0;
    s->st[sid].time_hits = 0;
    s->st[sid].nseen = 0;
    s->st[sid].last_len[0] = 0xff;
    s->st[sid].last_len[1] = 0xff;
    s->st[sid].varied = false;
    s->st[sid].original_path = s->plen == 14 && !memcmp(s->path, "event.original", 14);
    trl_buf_append(&s->paths, s->path, s->plen);
    s->map_n++;
    return sid;
}

static inline uint32_t stream_for_path(struct trl_shredder *s)
{
    size_t k = s->nord;
    if (k >= s->ord_cap) {
        size_t ncap = s->ord_cap ? s->ord_cap : 128;
        while (ncap <= k)
            ncap *= 2;
        s->ord_sid = trl_xrealloc(s->ord_sid, ncap * sizeof(*s->ord_sid));
        memset(s->ord_sid + s->ord_cap, 0xff, (ncap - s->ord_cap) * sizeof(*s->ord_sid));
        s->ord_cap = ncap;
    }
    uint32_t sid = s->ord_sid[k];
    if (sid >= s->nst || !stream_is_path(s, sid)) {
        sid = stream_lookup(s);
        s->ord_sid[k] = sid;
    }
    s->nord = (size_t)sid + 1;
    return sid;
}

/* Whether a value of this stream may be a reference: a stream whose values were rarely found in
 * event.original (times, actions, outcomes) stops being searched for the rest of the block. */
static inline bool ref_worth_trying(const struct stream *st)
{
    return st->tries < 16 || st->hits * 4 >= st->tries;
}

/* Whether hay at p holds needle (n >= REF_MIN_LEN), whose first four bytes are head. */
static inline bool needle_at(const char *p, const char *needle, size_t n, uint32_t head)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w == head && trl_short_eq(p + 4, needle + 4, n - 4);
}

#if defined(__SSE2__)
/* The first of the sixteen start positions at hay whose bytes 0 and n - 1 are those of first and
 * last and that hold the needle, skipping the positions below bit 'from'; NULL when none does. */
static inline const char *find_in16(const char *hay, const char *needle, size_t n, uint32_t head,
                                    __m128i first, __m128i last, unsigned from)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)hay);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(hay + n - 1));
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
    m &= ~0u << from;
    while (m) {
        const char *p = hay + (unsigned)__builtin_ctz(m);
        if (needle_at(p, needle, n, head))
            return p;
        m &= m - 1;
    }
    return NULL;
}
#endif

/* First occurrence of needle (n >= REF_MIN_LEN) in hay. A line is short and most values are not
 * in it, so the search must be cheap to set up and to fail: sixteen start positions at a time are
 * kept only where both the needle's first and last bytes match, which leaves few to compare in
 * full. The last sixteen positions are read as one vector overlapping the one before, the ones
 * already tried masked out; a haystack too short for a vector is tried position by position. */
static const char *find_in(const char *hay, size_t hlen, const char *needle, size_t n)
{
    uint32_t head;
    memcpy(&head, needle, 4);
    size_t npos = hlen - n + 1;
#if defined(__SSE2__)
    if (npos >= 16) {
        const __m128i first = _mm_set1_epi8(needle[0]), last = _mm_set1_epi8(needle[n - 1]);
        size_t i = 0;
        for (; i + 16 <= npos; i += 16) {
            const char *p = find_in16(hay + i, needle, n, head, first, last, 0);
            if (p)
                return p;
        }
        if (i == npos)
            return NULL;
        return find_in16(hay + npos - 16, needle, n, head, first, last,
                         (unsigned)(i - (npos - 16)));
    }
#endif
    for (size_t i = 0; i < npos; i++) {
        if (hay[i] == needle[0] && hay[i + n - 1] == needle[n - 1] &&
            needle_at(hay + i, needle, n, head))
            return hay + i;
    }
    return NULL;
}

#if SHRED_AVX2
/* find_in16() for 32 start positions. */
__attribute__((target("avx2"))) static inline const char *find_in32(const char *hay,
                                                                    const char *needle, size_t n,
                                                                    uint32_t head, __m256i first,
                                                                    __m256i last, unsigned from)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)hay);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(hay + n - 1));
    unsigned m = (unsigned)_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last)));
    m &= (unsigned)(~0ULL << from);
    while (m) {
        const char *p = hay + (unsigned)__builtin_ctz(m);
        if (needle_at(p, needle, n, head))
            return p;
        m &= m - 1;
    }
    return NULL;
}

/* find_in() with 32 start positions at a time; a haystack with fewer goes to find_in(). */
__attribute__((target("avx2"))) static const char *find_in_avx2(const char *hay, size_t hlen,
                                                                const char *needle, size_t n)
{
    size_t npos = hlen - n + 1;
    if (npos < 32)
        return find_in(hay, hlen, needle, n);
    uint32_t head;
    memcpy(&head, needle, 4);
    const __m256i first = _mm256_set1_epi8(needle[0]), last = _mm256_set1_epi8(needle[n - 1]);
    size_t i = 0;
    for (; i + 32 <= npos; i += 32) {
        const char *p = find_in32(hay + i, needle, n, head, first, last, 0);
        if (p)
            return p;
    }
    if (i == npos)
        return NULL;
    return find_in32(hay + npos - 32, needle, n, head, first, last, (unsigned)(i - (npos - 32)));
}
#endif

/* The first occurrence of needle (n >= REF_MIN_LEN) in hay, by the widest search the processor
 * has. */
static inline const char *find_first(const struct trl_shredder *s, const char *hay, size_t hlen,
                                     const char *needle, size_t n)
{
#if SHRED_AVX2
    if (s->avx2)
        return find_in_avx2(hay, hlen, needle, n);
#else
    (void)s;
#endif
    return find_in(hay, hlen, needle, n);
}

/* A number or literal as trl_json_leaves() accepts it. */
static inline bool scalar_is_json(const char *v, size_t n)
{
    if (n > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
        return true;
    return (n == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "null", 4))) ||
           (n == 5 && !memcmp(v, "false", 5));
}

/* The bytes a[0..n) (n < 8) as memcpy() into a zeroed word gives them; end bounds the input. */
static inline uint64_t load_short(const char *a, size_t n, const char *end)
{
    if (SHRED_WORDS && end - a >= 8)
        return n ? load64(a) & (~0ULL >> (64 - 8 * n)) : 0;
    uint64_t w = 0;
    memcpy(&w, a, n);
    return w;
}

/* A cheap fingerprint of a value (its length and up to 24 of its bytes), only used to tell the
 * few values of a path apart: a collision at worst keeps one more value inline. */
static inline uint64_t value_fp(const char *a, size_t n, const char *end)
{
    uint64_t h = 0, m = 0, t = 0;
    if (n >= 8) {
        h = load64(a);
        m = load64(a + (n - 8) / 2);
        t = load64(a + n - 8);
    } else {
        h = load_short(a, n, end);
    }
    uint64_t x =
        (h * 0x9e3779b97f4a7c15ULL) ^ (m * 0xbf58476d1ce4e5b9ULL) ^ (t * 0x94d049bb133111ebULL) ^ n;
    return x ^ (x >> 29);
}

/* Whether a[0..n) holds a marker byte; end bounds the input. */
static inline bool has_marker_byte(const char *a, size_t n, const char *end)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (zero_byte(load64(a + i) & MARKER_FREE_BITS))
            return true;
    }
    if (i == n)
        return false;
    if (SHRED_WORDS && end - (a + i) >= 8) {
        /* The rest in one word, the bytes after it made non-markers. */
        uint64_t w = load64(a + i) | (~0ULL << (8 * (n - i)));
        return zero_byte(w & MARKER_FREE_BITS) != 0;
    }
    for (; i < n; i++) {
        if ((unsigned char)a[i] <= MARK_LAST)
            return true;
    }
    return false;
}

/* For a short value of a path with few distinct values so far: whether it is one of them or
 * becomes one, and holds no byte the skeleton uses as a marker (raw control bytes are not JSON,
 * but the input may be anything). */
static bool seen_or_new(const struct trl_shredder *s, struct stream *st, bool is_str, const char *a,
                        size_t n)
{
    if (is_str && has_marker_byte(a, n, s->in_end))
        return false;
    uint64_t fp = value_fp(a, n, s->in_end);
    for (unsigned i = 0; i < st->nseen; i++) {
        if (st->seen[i] == fp)
            return true;
    }
    if (st->nseen == INLINE_DISTINCT) {
        st->varied = true;
        return false;
    }
    st->seen[st->nseen++] = fp;
    return true;
}

/* Whether a value stays inline in the skeleton: its path has had few distinct values in the block
 * so far, and the value is short and holds no marker byte. The first test, which most values of
 * varied paths stop at, costs no call. */
static inline bool keep_inline(const struct trl_shredder *s, struct stream *st, bool is_str,
                               const char *a, size_t n)
{
    if (st->varied || n > INLINE_MAX_LEN)
        return false;
    /* The last value kept inline has no marker byte and its fingerprint stays among the seen
     * ones while the path is not varied: the same bytes again are kept inline for sure. */
    if ((n == st->last_len[0] && trl_short_eq(a, st->last[0], n)) ||
        (n == st->last_len[1] && trl_short_eq(a, st->last[1], n)))
        return true;
    if (!seen_or_new(s, st, is_str, a, n))
        return false;
    st->last_len[1] = st->last_len[0];
    memcpy(st->last[1], st->last[0], sizeof(st->last[0]));
    st->last_len[0] = (uint8_t)n;
    memcpy(st->last[0], a, n);
    return true;
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#define MINUTE_NS   (60 * TRL_NS_PER_SEC)
#define MINUTE_TEXT 17

/* Far from the ends of the int64 range (years 1824 to 2115), where minutes cannot overflow. */
static inline bool time_in_range(int64_t ns)
{
    return ns > INT64_MIN / 2 && ns < INT64_MAX / 2;
}

static inline int64_t minute_of(int64_t ns)
{
    return ns - ((ns % MINUTE_NS) + MINUTE_NS) % MINUTE_NS;
}

/* The nine digits at a as a number. */
static inline bool fraction_digits(const char *a, int64_t *v)
{
    if (!SHRED_WORDS) {
        int64_t x = 0;
        for (int i = 0; i < 9; i++) {
            if (!is_digit(a[i]))
                return false;
            x = x * 10 + (a[i] - '0');
        }
        *v = x;
        return true;
    }
    /* The first eight a word at a time: every byte is a digit when its high half is 3 and adding
     * 6 leaves it so; then pairs, fours and the eight are summed with their weights. */
    uint64_t w = load64(a);
    if ((w & 0xf0f0f0f0f0f0f0f0ULL) != 0x3030303030303030ULL ||
        ((w + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL) != 0x3030303030303030ULL ||
        !is_digit(a[8]))
        return false;
    w -= 0x3030303030303030ULL;
    w = w * 10 + (w >> 8);
    w = (((w & 0x000000ff000000ffULL) * (100 + (1000000ULL << 32))) +
         (((w >> 16) & 0x000000ff000000ffULL) * (1 + (10000ULL << 32)))) >>
        32;
    *v = (int64_t)(uint32_t)w * 10 + (a[8] - '0');
    return true;
}

/* The time of a[0..TIME_LEN) when its seconds and fraction are digits, its first bytes known to
 * be those of minute m. */
static inline bool time_after_minute(const struct minute_text *m, const char *a, int64_t *ns)
{
    int64_t frac;
    if (!is_digit(a[17]) || !is_digit(a[18]) || (a[17] - '0') * 10 + (a[18] - '0') >= 60 ||
        !fraction_digits(a + 20, &frac))
        return false;
    *ns = m->minute + ((a[17] - '0') * 10 + (a[18] - '0')) * TRL_NS_PER_SEC + frac;
    return true;
}

/* The time of a[0..TIME_LEN) when it is a time of minute m: its first bytes are m's and its
 * seconds and fraction are digits (a time the JSON encoder would write). */
static bool time_in_minute(const struct minute_text *m, const char *a, int64_t *ns)
{
    return m->known && trl_short_eq(a, m->text, MINUTE_TEXT) && time_after_minute(m, a, ns);
}

/* The time a string holds when it is exactly the JSON encoder's form of it (RFC 3339, nine
 * fraction digits, Z), which trl_format_rfc3339() gives back byte for byte. Usually the event's
 * own timestamp or a few milliseconds from it, or in the minute of the last other time seen (the
 * time of ingestion): then only the seconds and fraction are read. */
static bool time_value(struct trl_shredder *s, const char *a, size_t n, int64_t *ns)
{
    if (n != TIME_LEN || a[4] != '-' || a[10] != 'T' || a[16] != ':' || a[19] != '.' ||
        a[29] != 'Z')
        return false;
    if (time_in_range(s->ts)) {
        /* Both in range: the difference cannot overflow. */
        if (!s->ts_min.known || s->ts < s->ts_min.minute || s->ts - s->ts_min.minute >= MINUTE_NS) {
            int64_t m = minute_of(s->ts);
            char buf[TRL_RFC3339_MAX];
            trl_format_rfc3339(m, buf);
            memcpy(s->ts_min.text, buf, MINUTE_TEXT);
            s->ts_min.minute = m;
            s->ts_min.known = true;
        }
        if (trl_short_eq(a, s->ts_min.text, MINUTE_TEXT)) {
            /* The seconds of a time of ts's minute: no other reading of these bytes. */
            if (is_digit(a[17]) && is_digit(a[18]) && (a[17] - '0') * 10 + (a[18] - '0') < 60)
                return time_after_minute(&s->ts_min, a, ns);
        } else if (time_in_minute(&s->other_min, a, ns)) {
            return true;
        }
    }
    char buf[TRL_RFC3339_MAX];
    if (trl_parse_rfc3339(a, n, ns) != n || trl_format_rfc3339(*ns, buf) != n || memcmp(buf, a, n))
        return false;
    if (time_in_range(*ns)) {
        s->other_min.minute = minute_of(*ns);
        memcpy(s->other_min.text, a, MINUTE_TEXT);
        s->other_min.known = true;
    }
    return true;
}

/* Whether a string of this stream may be a time: a stream whose values were rarely times stops
 * being tried for the rest of the block. */
static inline bool time_worth_trying(const struct stream *st)
{
    return st->time_tries < 16 || st->time_hits * 4 >= st->time_tries;
}

/* Makes room for more values of the event; gives them. */
static struct trl_shred_val *vals_grow(struct trl_shredder *s)
{
    s->vals_cap = s->vals_cap ? s->vals_cap * 2 : 64;
    s->vals = trl_xrealloc(s->vals, s->vals_cap * sizeof(*s->vals));
    return s->vals;
}

/* Adds a value for the index: at a in the input, or (a NULL) at esc_off in s->esc. */
static inline void push_val(struct trl_shredder *s, uint32_t sid, const char *a, size_t n,
                            bool is_str, uint32_t esc_off)
{
    if (s->nvals == s->vals_cap)
        vals_grow(s);
    struct trl_shred_val *v = &s->vals[s->nvals++];
    v->ptr = a;
    v->len = (uint32_t)n;
    v->sid = sid;
    v->is_string = is_str;
    v->esc_off = esc_off;
}

/* Gives the value to the index: its leaves, or its entry in the event's values. Escaped strings
 * are unescaped as trl_json_leaves() does; what it would refuse (a bad escape, a scalar that is
 * no number or literal) leaves the event to it. */
static void index_value(struct trl_shredder *s, uint32_t sid, bool is_str, bool escaped,
                        const char *a, size_t n)
{
    if (!is_str && !scalar_is_json(a, n)) {
        s->leaves_ok = false;
    } else if (s->leaves) {
        const struct stream *st = &s->st[sid];
        const char *path = s->paths.data + st->path_off;
        if (escaped)
            s->leaves_ok = trl_leaves_add_escaped(s->leaves, path, st->path_len, a, n);
        else
            trl_leaves_add(s->leaves, path, st->path_len, a, n, is_str);
    } else if (escaped) {
        s->leaves_ok = trl_leaves_add_escaped(&s->esc, "", 0, a, n);
        if (s->leaves_ok) {
            const struct trl_leaf *f = &s->esc.items[s->esc.n - 1];
            push_val(s, sid, NULL, f->val_len, true, f->val_off);
            if (s->esc_first == SIZE_MAX)
                s->esc_first = s->nvals - 1;
        }
    } else {
        push_val(s, sid, a, n, is_str, 0);
    }
}

/* Completes the entry of a value that shape_match() wrote to s->vals as it lies in the input when
 * it is not what the index takes as it is (escaped tells whether it holds a backslash): an
 * escaped string is unescaped, what trl_json_leaves() would refuse leaves the event to it. */
static void index_entry(struct trl_shredder *s, struct trl_shred_val *v, bool escaped)
{
    if (!v->is_string && !scalar_is_json(v->ptr, v->len)) {
        s->leaves_ok = false;
    } else if (escaped) {
        s->leaves_ok = trl_leaves_add_escaped(&s->esc, "", 0, v->ptr, v->len);
        if (s->leaves_ok) {
            const struct trl_leaf *f = &s->esc.items[s->esc.n - 1];
            v->ptr = NULL;
            v->len = f->val_len;
            v->esc_off = f->val_off;
            if (s->esc_first == SIZE_MAX)
                s->esc_first = (size_t)(v - s->vals);
        }
    }
}

/* A marker and its stream number where the buffer has room for them. */
static inline void put_mark_room(struct trl_buf *b, uint8_t mark, uint32_t sid)
{
    uint8_t *p = (uint8_t *)b->data + b->len;
    p[0] = mark;
    b->len += 1 + trl_varint_put(p + 1, sid);
}

/* Files the value of stream sid (st) at input [vstart, vend) (quotes included), whose content is
 * [a, a + n): kept inline in the skeleton, or replaced there by its marker and stored in its
 * stream. may_fail: the event is walked key by key; otherwise it follows a known shape, and s->ev
 * has room for what any of its values adds to it. */
static inline __attribute__((always_inline)) void
emit_value(struct trl_shredder *s, struct stream *st, uint32_t sid, bool is_str, const char *vstart,
           const char *vend, const char *a, size_t n, bool may_fail)
{
    bool original = is_str && !s->orig && st->original_path;
    int64_t tns;
    bool is_time = !original && is_str && s->have_ts && n == TIME_LEN && time_worth_trying(st);
    if (is_time) {
        st->time_tries++;
        is_time = time_value(s, a, n, &tns);
        st->time_hits += is_time;
    }
    if (!original && !is_time && keep_inline(s, st, is_str, a, n))
        return;
    size_t run = (size_t)(vstart - s->copy_from);
    if (may_fail) {
        put_bytes(&s->ev, s->copy_from, run);
    } else {
        copy_bytes((uint8_t *)s->ev.data + s->ev.len, s->copy_from, run);
        s->ev.len += run;
    }
    s->copy_from = vend;
    /* An event walked key by key may still turn out not to be JSON: what its values add to the
     * streams is then taken back. */
    if (may_fail) {
        if (s->nundo == s->undo_cap) {
            s->undo_cap = s->undo_cap ? s->undo_cap * 2 : 64;
            s->undo = trl_xrealloc(s->undo, s->undo_cap * sizeof(*s->undo));
        }
        s->undo[s->nundo++] = (struct undo){sid, st->vals.len, st->refs.len};
    }
    struct trl_buf *ev = &s->ev;
    if (original) {
        may_fail ? put_mark(ev, MARK_ORIGINAL, sid) : put_mark_room(ev, MARK_ORIGINAL, sid);
        put_lenval(&st->vals, a, n);
        s->orig = a;
        s->orig_len = n;
        return;
    }
    if (is_time) {
        /* As a zig-zag delta from the event's timestamp: @timestamp itself costs one byte. */
        uint64_t d = (uint64_t)tns - (uint64_t)s->ts;
        may_fail ? put_mark(ev, MARK_TIME, sid) : put_mark_room(ev, MARK_TIME, sid);
        put_varint(&st->vals, (d << 1) ^ (uint64_t)((int64_t)d >> 63));
        return;
    }
    if (s->orig && n >= REF_MIN_LEN && n <= s->orig_len && ref_worth_trying(st)) {
        st->tries++;
        const char *m = find_first(s, s->orig, s->orig_len, a, n);
        if (m) {
            st->hits++;
            uint8_t mark = is_str ? MARK_STR_REF : MARK_SCALAR_REF;
            may_fail ? put_mark(ev, mark, sid) : put_mark_room(ev, mark, sid);
            uint8_t *p = buf_room(&st->refs, 20);
            size_t k = trl_varint_put(p, (uint64_t)(m - s->orig));
            k += trl_varint_put(p + k, n);
            st->refs.len += k;
            return;
        }
    }
    uint8_t mark = is_str ? MARK_STR : MARK_SCALAR;
    may_fail ? put_mark(ev, mark, sid) : put_mark_room(ev, mark, sid);
    put_lenval(&st->vals, a, n);
}

static inline bool is_ws(char c)
{
    unsigned char u = (unsigned char)c;
    return u <= ' ' &&
           ((1ULL << u) & ((1ULL << ' ') | (1ULL << '\t') | (1ULL << '\n') | (1ULL << '\r')));
}

static inline void skip_ws(const char **pp, const char *end)
{
    const char *p = *pp;
    while (p < end && is_ws(*p))
        p++;
    *pp = p;
}

/* Offset of the first byte a word-at-a-time test flagged in m (not 0): on a little-endian machine
 * the lowest flag. A flag can only be false above a true one, and true ones are never missed, so
 * the lowest is always a true one. */
static inline size_t first_flagged(uint64_t m)
{
    return (size_t)__builtin_ctzll(m) / 8;
}

/* Scans a string whose opening quote is at *pp; [*a, *b) is its raw (escaped) content, and *esc
 * tells whether it holds a backslash. */
static inline __attribute__((always_inline)) bool
scan_string(const char **pp, const char *end, const char **a, const char **b, bool *esc)
{
    const char *p = *pp + 1;
    *a = p;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    /* Most strings end within sixteen bytes, without an escape before their quote. */
    if (end - p >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)));
        if (m && p[__builtin_ctz(m)] == '"') {
            *esc = false;
            *b = p + __builtin_ctz(m);
            *pp = *b + 1;
            return true;
        }
    }
#endif
    /* Most strings are short: a word at a time finds their end, or an escape, without a call. */
    const char *stop = end - p > 64 ? p + 64 : end;
    bool hit = false;
#if defined(__SSE2__)
    /* Sixteen bytes at a time while they lie before stop. */
    while (stop - p >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, bslash)));
        if (m) {
            p += __builtin_ctz(m);
            hit = true;
            break;
        }
        p += 16;
    }
    if (!hit && SHRED_WORDS) {
#else
    if (SHRED_WORDS) {
#endif
        while (stop - p >= 8) {
            uint64_t w = load64(p);
            uint64_t m = zero_byte(w ^ (ONES * '"')) | zero_byte(w ^ (ONES * '\\'));
            if (m) {
                p += first_flagged(m);
                hit = true;
                break;
            }
            p += 8;
        }
    }
    if (!hit) {
        while (p < stop && *p != '"' && *p != '\\')
            p++;
    }
    if (p == stop) {
        if (p == end)
            return false;
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return false;
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        if (!bs) {
            *esc = false;
            *b = q;
            *pp = q + 1;
            return true;
        }
        p = bs;
    } else if (*p == '"') {
        *esc = false;
        *b = p;
        *pp = p + 1;
        return true;
    }
    /* An escape at p: the closing quote is the first one after an even number of backslashes. */
    *esc = true;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return false;
        size_t bs = 0;
        while (q - bs > *a && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0) {
            *b = q;
            *pp = q + 1;
            return true;
        }
        p = q + 1;
    }
}

/* Reads the key whose opening quote is at *pp onto the path (after a dot unless at the top).
 * False when it is unterminated, too long, or holds a marker byte (the skeleton keeps keys as
 * they are: such an event is kept verbatim); a key with an escape leaves the event's leaves to
 * trl_json_leaves() and its shape out of the known ones. */
static inline bool read_key(struct trl_shredder *s, const char **pp, const char *end)
{
    const char *k = *pp + 1, *start = k;
    for (;;) {
        bool hit = false;
        if (SHRED_WORDS) {
            while (end - k >= 8) {
                uint64_t w = load64(k);
                uint64_t m = zero_byte(w ^ (ONES * '"')) | zero_byte(w ^ (ONES * '\\')) |
                             zero_byte(w & MARKER_FREE_BITS);
                if (m) {
                    k += first_flagged(m);
                    hit = true;
                    break;
                }
                k += 8;
            }
        }
        if (!hit) {
            while (k < end && !key_stop[(unsigned char)*k])
                k++;
        }
        if (k >= end || (unsigned char)*k <= MARK_LAST)
            return false;
        if (*k == '"')
            break;
        /* A backslash and the byte it escapes, which may be a quote. */
        s->leaves_ok = false;
        s->key_escaped = true;
        if (k + 1 >= end || (unsigned char)k[1] <= MARK_LAST)
            return false;
        k += 2;
    }
    size_t n = (size_t)(k - start);
    size_t at = s->plen + (s->plen ? 1 : 0);
    if (at + n > sizeof(s->path))
        return false;
    if (s->plen)
        s->path[s->plen] = '.';
    memcpy(s->path + at, start, n);
    s->plen = at + n;
    *pp = k + 1;
    return true;
}

static inline bool is_scalar_byte(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

static struct shape_step *step_push(struct trl_shredder *s)
{
    if (s->nsteps == s->steps_cap) {
        s->steps_cap = s->steps_cap ? s->steps_cap * 2 : 64;
        s->steps = trl_xrealloc(s->steps, s->steps_cap * sizeof(*s->steps));
    }
    return &s->steps[s->nsteps++];
}

/* A value the walk found: its stream by its path, and a step of the event's shape. */
static void walk_value(struct trl_shredder *s, bool is_str, bool escaped, const char *vstart,
                       const char *vend, const char *a, size_t n)
{
    uint32_t sid = stream_for_path(s);
    struct shape_step *st = step_push(s);
    st->v = vstart;
    st->vend = vend;
    st->sid = sid;
    st->kind = is_str ? SHAPE_STR : SHAPE_SCALAR;
    st->esc = escaped;
    if (s->leaves_ok) {
        if (!s->leaves && !escaped && (is_str || (n > 0 && is_digit(a[0]))))
            push_val(s, sid, a, n, is_str, 0);
        else
            index_value(s, sid, is_str, escaped, a, n);
    }
    emit_value(s, &s->st[sid], sid, is_str, vstart, vend, a, n, true);
}

static bool shred_value(struct trl_shredder *s, const char **pp, const char *end, int depth);

static bool shred_container(struct trl_shredder *s, const char **pp, const char *end, int depth)
{
    const char *p = *pp;
    bool object = *p == '{';
    char close = object ? '}' : ']';
    p++;
    skip_ws(&p, end);
    if (p < end && *p == close) {
        *pp = p + 1;
        return true;
    }
    for (;;) {
        size_t saved = s->plen;
        if (object) {
            if (p >= end || *p != '"' || !read_key(s, &p, end))
                return false;
            if (p < end && *p == ':') {
                p++;
            } else {
                skip_ws(&p, end);
                if (p >= end || *p != ':')
                    return false;
                p++;
            }
        }
        skip_ws(&p, end);
        if (!shred_value(s, &p, end, depth + 1))
            return false;
        s->plen = saved;
        skip_ws(&p, end);
        if (p >= end)
            return false;
        char c = *p++;
        if (c == close) {
            *pp = p;
            return true;
        }
        if (c != ',')
            return false;
        skip_ws(&p, end);
    }
}

static bool shred_value(struct trl_shredder *s, const char **pp, const char *end, int depth)
{
    if (depth > SHRED_MAX_DEPTH || *pp >= end)
        return false;
    const char *p = *pp;
    if (*p == '"') {
        const char *a, *b;
        bool esc;
        if (!scan_string(pp, end, &a, &b, &esc))
            return false;
        walk_value(s, true, esc, p, *pp, a, (size_t)(b - a));
        return true;
    }
    if (*p == '{' || *p == '[')
        return shred_container(s, pp, end, depth);
    while (p < end && is_scalar_byte(*p))
        p++;
    if (p == *pp)
        return false;
    walk_value(s, false, false, *pp, p, *pp, (size_t)(p - *pp));
    *pp = p;
    return true;
}

static void smap_grow(struct trl_shredder *s)
{
    size_t ncap = s->smap_cap ? s->smap_cap * 2 : 256;
    struct skel_slot *n = trl_xcalloc(ncap, sizeof(*n));
    for (size_t i = 0; i < s->smap_cap; i++) {
        if (!s->smap[i].used)
            continue;
        size_t j = (size_t)s->smap[i].hash & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = s->smap[i];
    }
    free(s->smap);
    s->smap = n;
    s->smap_cap = ncap;
}

/* The bytes of distinct skeleton idx. */
static inline const char *skel_bytes(const struct trl_shredder *s, size_t idx)
{
    return (idx < s->nskel0 ? s->skel0.data : s->skel.data) + s->skel_at[idx].off;
}

/* Appends the event's skeleton (in s->ev) to the block's: a skeleton seen before in the block as
 * 0 and its number among the distinct ones, a new one as its length and bytes. */
static void put_skeleton(struct trl_shredder *s)
{
    /* Distinct skeletons are stored once, so one found equal is the one the table would give. */
    uint32_t *recent = &s->skel_recent[s->ev.len % SKEL_RECENT];
    if (*recent) {
        const struct skel_pos *sp = &s->skel_at[*recent - 1];
        if (sp->len == s->ev.len && !memcmp(skel_bytes(s, *recent - 1), s->ev.data, s->ev.len)) {
            put_varint(&s->skel, 0);
            put_varint(&s->skel, *recent - 1);
            return;
        }
    }
    if ((s->nskel + 1) * 2 > s->smap_cap)
        smap_grow(s);
    uint64_t h = bytes_hash(s->ev.data, s->ev.len);
    size_t j = (size_t)h & (s->smap_cap - 1);
    while (s->smap[j].used) {
        const struct skel_slot *e = &s->smap[j];
        if (e->hash == h && e->len == s->ev.len &&
            !memcmp(skel_bytes(s, e->idx), s->ev.data, s->ev.len)) {
            put_varint(&s->skel, 0);
            put_varint(&s->skel, e->idx);
            *recent = e->idx + 1;
            return;
        }
        j = (j + 1) & (s->smap_cap - 1);
    }
    if (s->nskel == s->skel_at_cap) {
        s->skel_at_cap = s->skel_at_cap ? s->skel_at_cap * 2 : 64;
        s->skel_at = trl_xrealloc(s->skel_at, s->skel_at_cap * sizeof(*s->skel_at));
    }
    put_varint(&s->skel, s->ev.len);
    uint32_t idx = (uint32_t)s->nskel++;
    s->smap[j] = (struct skel_slot){h, (uint32_t)s->skel.len, (uint32_t)s->ev.len, idx, true};
    s->skel_at[idx] = (struct skel_pos){(uint32_t)s->skel.len, (uint32_t)s->ev.len, h};
    *recent = idx + 1;
    trl_buf_append(&s->skel, s->ev.data, s->ev.len);
}

/* Whether the input at p is the literal of t followed by a value of t's kind (the end of the
 * input for SHAPE_END), reading from byte 'from' of the literal on (the ones before are known to
 * match). */
static inline bool node_fits(const struct shape_node *t, const char *lits, const char *p,
                             const char *end, size_t from)
{
    size_t n = t->lit_len;
    if (n > (size_t)(end - p) ||
        (n > from && !trl_short_eq(p + from, lits + t->lit_off + from, n - from)))
        return false;
    const char *v = p + n;
    return t->kind == SHAPE_END   ? v == end
           : t->kind == SHAPE_STR ? v < end && *v == '"'
                                  : v < end && is_scalar_byte(*v);
}

/* Whether the event follows a known shape to its end. Its values are then in s->vals[0 ..
 * s->nsteps) as they lie in the input (a string's content between its quotes), each with esc_off
 * 1 when it holds a backslash, else 0. */
static bool shape_match(struct trl_shredder *s, const char *json, size_t len)
{
    if (s->nnodes == 0)
        return false;
    const struct shape_node *nodes = s->nodes;
    const char *lits = s->lits.data;
    const char *p = json, *end = json + len;
    struct trl_shred_val *vals = s->vals;
    size_t nsteps = 0, cap = s->vals_cap;
    uint32_t cur = 0;
    bool ok = false;
    for (;;) {
        const struct shape_node *t = NULL;
#if defined(__SSE2__)
        if (end - p >= 16) {
            /* The next sixteen bytes against each child's first ones: for most steps (a key and
             * a string) that is the whole test. */
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
            for (uint32_t c = nodes[cur].child; c; c = nodes[c].next) {
                const struct shape_node *x = &nodes[c];
                __m128i h = _mm_loadu_si128((const __m128i *)(const void *)x->head);
                unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, h));
                if ((m & x->head_mask) != x->head_mask ||
                    (!x->quick && !node_fits(x, lits, p, end, 16)))
                    continue;
                t = x;
                break;
            }
        } else
#endif
        {
            for (uint32_t c = nodes[cur].child; c; c = nodes[c].next) {
                if (node_fits(&nodes[c], lits, p, end, 0)) {
                    t = &nodes[c];
                    break;
                }
            }
        }
        if (!t)
            break;
        if (t->kind == SHAPE_END) {
            ok = true;
            break;
        }
        if (nsteps == cap) {
            vals = vals_grow(s);
            cap = s->vals_cap;
        }
        struct trl_shred_val *v = &vals[nsteps++];
        p += t->lit_len;
        v->sid = t->sid;
        if (t->kind == SHAPE_STR) {
            const char *a, *b;
            bool esc;
            if (!scan_string(&p, end, &a, &b, &esc))
                break;
            v->ptr = a;
            v->len = (uint32_t)(b - a);
            v->esc_off = esc;
            v->is_string = true;
        } else {
            const char *a = p;
            while (p < end && is_scalar_byte(*p))
                p++;
            v->ptr = a;
            v->len = (uint32_t)(p - a);
            v->esc_off = 0;
            v->is_string = false;
        }
        cur = (uint32_t)(t - nodes);
    }
    s->nsteps = nsteps;
    return ok;
}

/* Adds the shape of the event just walked (s->steps, then its bytes from the last value to end)
 * to the known ones, while the tree is within its bounds. */
static void shape_insert(struct trl_shredder *s, const char *json, const char *end)
{
    if (s->nnodes + s->nsteps + 2 > SHAPE_MAX_NODES ||
        s->lits.len + (size_t)(end - json) > SHAPE_MAX_LITS)
        return;
    if (s->nnodes + s->nsteps + 2 > s->nodes_cap) {
        size_t ncap = s->nodes_cap ? s->nodes_cap : 256;
        while (ncap < s->nnodes + s->nsteps + 2)
            ncap *= 2;
        s->nodes = trl_xrealloc(s->nodes, ncap * sizeof(*s->nodes));
        s->nodes_cap = ncap;
    }
    if (s->nnodes == 0)
        s->nodes[s->nnodes++] = (struct shape_node){0};
    uint32_t cur = 0;
    const char *lit = json; /* the step's bytes start where the last value ended */
    for (size_t i = 0; i <= s->nsteps; i++) {
        const struct shape_step *st = i < s->nsteps ? &s->steps[i] : NULL;
        uint32_t lit_len = (uint32_t)((st ? st->v : end) - lit);
        uint32_t sid = st ? st->sid : 0;
        uint8_t kind = st ? st->kind : SHAPE_END;
        uint32_t c = s->nodes[cur].child;
        for (; c; c = s->nodes[c].next) {
            const struct shape_node *t = &s->nodes[c];
            if (t->kind == kind && t->sid == sid && t->lit_len == lit_len &&
                trl_short_eq(s->lits.data + t->lit_off, lit, lit_len))
                break;
        }
        if (!c) {
            if (s->nodes[cur].nchild == SHAPE_MAX_CHILDREN)
                return;
            s->nodes[cur].nchild++;
            c = (uint32_t)s->nnodes++;
            s->nodes[c] = (struct shape_node){.lit_off = (uint32_t)s->lits.len,
                                              .lit_len = lit_len,
                                              .sid = sid,
                                              .next = s->nodes[cur].child,
                                              .kind = kind};
            struct shape_node *x = &s->nodes[c];
            size_t nh = lit_len < 16 ? lit_len : 16;
            memcpy(x->head, lit, nh);
            if (kind == SHAPE_STR && nh < 16)
                x->head[nh++] = '"';
            x->head_mask = (uint16_t)((1u << nh) - 1);
            x->quick = kind == SHAPE_STR && lit_len < 16;
            s->nodes[cur].child = c;
            trl_buf_append(&s->lits, lit, lit_len);
        }
        cur = c;
        if (st)
            lit = st->vend;
    }
}

/* Walks the event key by key; learn: adds its shape to the known ones. */
static bool walk_event(struct trl_shredder *s, const char *json, size_t len, bool learn)
{
    s->nsteps = 0;
    s->key_escaped = false;
    const char *p = json, *end = json + len;
    skip_ws(&p, end);
    bool ok = p < end && (*p == '{' || *p == '[') && shred_container(s, &p, end, 0);
    if (ok)
        skip_ws(&p, end);
    if (!ok || p != end)
        return false;
    if (learn && !s->key_escaped)
        shape_insert(s, json, end);
    return true;
}

static bool shred_event(struct trl_shredder *s, const char *json, size_t len)
{
    trl_buf_reset(&s->ev);
    s->plen = 0;
    s->orig = NULL;
    s->orig_len = 0;
    s->nundo = 0;
    s->nord = 0;
    s->copy_from = json;
    s->in_end = json + len;
    const char *end = json + len;
    bool ok;
    /* Input whose events seldom have a known shape (every one different) stops being looked up
     * for the rest of the block. */
    bool try_shape = s->shape_tries < 64 || s->shape_hits * 4 >= s->shape_tries;
    bool known = false;
    if (try_shape) {
        s->shape_tries++;
        known = shape_match(s, json, len);
        s->shape_hits += known;
    }
    if (known) {
        /* Room for the skeleton: the input, each value at worst replaced by a marker and a stream
         * number of up to five bytes. */
        trl_buf_reserve(&s->ev, len + 6 * s->nsteps + 1);
        struct trl_shred_val *vals = s->vals;
        struct stream *streams = s->st;
        const struct trl_leaves *leaves = s->leaves;
        for (size_t i = 0, nsteps = s->nsteps; i < nsteps; i++) {
            struct trl_shred_val *v = &vals[i];
            const char *a = v->ptr;
            size_t n = v->len;
            uint32_t sid = v->sid;
            bool is_str = v->is_string, escaped = v->esc_off != 0;
            if (s->leaves_ok) {
                if (leaves)
                    index_value(s, sid, is_str, escaped, a, n);
                else if (escaped || (!is_str && !is_digit(a[0])))
                    index_entry(s, v, escaped);
            }
            emit_value(s, &streams[sid], sid, is_str, a - is_str, a + n + is_str, a, n, false);
        }
        s->nvals = s->nsteps;
        ok = true;
    } else {
        s->nvals = 0;
        ok = walk_event(s, json, len, try_shape);
    }
    /* Whitespace and punctuation between values: only the bytes JSON allows there. */
    if (ok)
        put_bytes(&s->ev, s->copy_from, (size_t)(end - s->copy_from));
    if (!ok) {
        /* Not plain JSON: take back what went into the streams and keep the bytes as they are. */
        while (s->nundo > 0) {
            const struct undo *u = &s->undo[--s->nundo];
            s->st[u->sid].vals.len = u->vals_len;
            s->st[u->sid].refs.len = u->refs_len;
        }
        trl_buf_reset(&s->ev);
        trl_buf_putc(&s->ev, MARK_VERBATIM);
        put_varint(&s->ev, len);
        trl_buf_append(&s->ev, json, len);
        s->leaves_ok = false;
    }
    put_skeleton(s);
    s->total += len;
    s->count++;
    return s->leaves_ok;
}

bool trl_shredder_add(struct trl_shredder *s, const char *json, size_t len,
                      struct trl_leaves *leaves)
{
    s->leaves = leaves;
    s->leaves_ok = leaves != NULL;
    s->esc_first = SIZE_MAX;
    s->have_ts = false;
    s->nvals = 0;
    return shred_event(s, json, len);
}

bool trl_shredder_add_event(struct trl_shredder *s, int64_t ts, const char *json, size_t len,
                            const struct trl_shred_val **vals, size_t *nvals)
{
    s->leaves = NULL;
    s->leaves_ok = true;
    s->have_ts = true;
    s->ts = ts;
    s->nvals = 0;
    s->esc_first = SIZE_MAX;
    trl_leaves_reset(&s->esc);
    bool ok = shred_event(s, json, len);
    if (ok) {
        struct trl_shred_val *v = s->vals;
        for (size_t i = s->esc_first, n = s->nvals; i < n; i++) {
            if (!v[i].ptr)
                v[i].ptr = s->esc.buf + v[i].esc_off;
        }
    }
    *vals = s->vals;
    *nvals = ok ? s->nvals : 0;
    return ok;
}

const char *trl_shredder_path(const struct trl_shredder *s, uint32_t sid, size_t *len)
{
    *len = s->st[sid].path_len;
    return s->paths.data + s->st[sid].path_off;
}

void trl_shredder_finish(struct trl_shredder *s, struct trl_buf *out)
{
    put_varint(out, s->count);
    put_varint(out, s->total);
    put_varint(out, s->nst);
    put_varint(out, s->skel.len);
    for (size_t i = 0; i < s->nst; i++) {
        put_varint(out, s->st[i].vals.len);
        put_varint(out, s->st[i].refs.len);
    }
    trl_buf_append(out, s->skel.data, s->skel.len);
    for (size_t i = 0; i < s->nst; i++) {
        trl_buf_append(out, s->st[i].vals.data, s->st[i].vals.len);
        trl_buf_append(out, s->st[i].refs.data, s->st[i].refs.len);
    }
}

void trl_shredder_cut(struct trl_shredder *s, struct trl_buf *out)
{
    trl_shredder_finish(s, out);
    /* The next part keeps the block's stream numbers, paths and shapes (a stream with no value in
     * it costs two zero bytes in its directory); its values, skeletons and counts are its own. */
    for (size_t i = 0; i < s->nst; i++) {
        trl_buf_reset(&s->st[i].vals);
        trl_buf_reset(&s->st[i].refs);
    }
    /* Later parts name the first part's skeletons by their numbers (its bytes are the zstd
     * prefix of theirs, and a reader of any part has them); their own come after. */
    if (!s->cut0) {
        /* The first part's skeleton bytes move to skel0 (the buffers trade places). */
        struct trl_buf t = s->skel0;
        s->skel0 = s->skel;
        s->skel = t;
        s->nskel0 = s->nskel;
        s->cut0 = true;
    } else if (s->nskel > s->nskel0) {
        memset(s->smap, 0, s->smap_cap * sizeof(*s->smap));
        for (size_t i = 0; i < s->nskel0; i++) {
            const struct skel_pos *sp = &s->skel_at[i];
            size_t j = (size_t)sp->hash & (s->smap_cap - 1);
            while (s->smap[j].used)
                j = (j + 1) & (s->smap_cap - 1);
            s->smap[j] = (struct skel_slot){sp->hash, sp->off, sp->len, (uint32_t)i, true};
        }
        s->nskel = s->nskel0;
    }
    trl_buf_reset(&s->skel);
    memset(s->skel_recent, 0, sizeof(s->skel_recent));
    s->total = 0;
    s->count = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Unshredding                                                                                 */

void trl_unshred_buf_free(struct trl_unshred_buf *u)
{
    free(u->json);
    free(u->cursor);
    free(u->skel);
    memset(u, 0, sizeof(*u));
}

struct unshred {
    char *out;
    size_t olen, ocap;
    size_t *cur; /* per stream: vals pos, vals end, refs pos, refs end (offsets into base) */
    size_t nst;
    const uint8_t *base;
    unsigned last_mark; /* bytes 1..last_mark are markers (6 in format 2, 7 in format 3) */
};

static bool out_put(struct unshred *u, const void *p, size_t n)
{
    if (n > u->ocap - u->olen)
        return false;
    memcpy(u->out + u->olen, p, n);
    u->olen += n;
    return true;
}

/* Reads one varint from stream field k (0 values, 2 refs) of stream sid. */
static bool stream_varint(struct unshred *u, uint64_t sid, int k, uint64_t *v)
{
    size_t *c = &u->cur[sid * 4 + (size_t)k];
    const uint8_t *p = u->base + c[0], *end = u->base + c[1];
    if (!trl_varint_get(&p, end, v))
        return false;
    c[0] = (size_t)(p - u->base);
    return true;
}

static bool unshred_event(struct unshred *u, const uint8_t *s, const uint8_t *se, const int64_t *ts)
{
    size_t orig_off = 0, orig_len = 0;
    bool have_orig = false;
    while (s < se) {
        const uint8_t *run = s;
        while (s < se && (*s == 0 || *s > u->last_mark))
            s++;
        if (s > run && !out_put(u, run, (size_t)(s - run)))
            return false;
        if (s >= se)
            break;
        uint8_t mark = *s++;
        uint64_t sid, n;
        if (!trl_varint_get(&s, se, mark == MARK_VERBATIM ? &n : &sid))
            return false;
        if (mark == MARK_VERBATIM) {
            if (n > (uint64_t)(se - s) || !out_put(u, s, (size_t)n))
                return false;
            s += n;
            continue;
        }
        if (sid >= u->nst)
            return false;
        bool quoted = mark != MARK_SCALAR && mark != MARK_SCALAR_REF;
        if (quoted && !out_put(u, "\"", 1))
            return false;
        if (mark == MARK_TIME) {
            uint64_t z;
            if (!ts || !stream_varint(u, sid, 0, &z))
                return false;
            uint64_t t = (uint64_t)*ts + ((z >> 1) ^ (uint64_t)(-(int64_t)(z & 1)));
            char buf[TRL_RFC3339_MAX];
            size_t n = trl_format_rfc3339((int64_t)t, buf);
            if (!out_put(u, buf, n))
                return false;
        } else if (mark == MARK_STR_REF || mark == MARK_SCALAR_REF) {
            uint64_t off;
            if (!have_orig || !stream_varint(u, sid, 2, &off) || !stream_varint(u, sid, 2, &n) ||
                off > orig_len || n > orig_len - off)
                return false;
            if (n > u->ocap - u->olen)
                return false;
            /* The original lies before the write position: the ranges cannot overlap. */
            memcpy(u->out + u->olen, u->out + orig_off + off, (size_t)n);
            u->olen += (size_t)n;
        } else {
            size_t *c = &u->cur[sid * 4];
            if (!stream_varint(u, sid, 0, &n) || n > c[1] - c[0])
                return false;
            if (mark == MARK_ORIGINAL) {
                if (have_orig)
                    return false;
                have_orig = true;
                orig_off = u->olen;
                orig_len = (size_t)n;
            }
            if (!out_put(u, u->base + c[0], (size_t)n))
                return false;
            c[0] += (size_t)n;
        }
        if (quoted && !out_put(u, "\"", 1))
            return false;
    }
    return true;
}

int trl_json_unshred(const uint8_t *p, size_t len, uint32_t count, size_t max_json,
                     struct trl_unshred_buf *ub, uint32_t *off)
{
    return trl_json_unshred_ts(p, len, count, 3, NULL, max_json, ub, off);
}

/* Rebuilds one shredded column (a whole block's, or one part of a format 5 column) that starts at
 * p, with avail bytes after p of which it may use the first ones: its events' JSON goes to
 * ub->json from out_at on, event i at off[i] (off[n] its end; absolute offsets). *n and *used
 * give its event count (at most max_count) and byte length. */
static int unshred_part(const uint8_t *p, size_t avail, uint32_t max_count, int version,
                        const int64_t *ts, size_t max_json, struct trl_unshred_buf *ub,
                        size_t out_at, uint32_t *off, uint32_t *n, size_t *used, size_t *nskel_io)
{
    const uint8_t *q = p, *end = p + avail;
    uint64_t n_ev, total, nst, skel_len;
    if (!trl_varint_get(&q, end, &n_ev) || !trl_varint_get(&q, end, &total) ||
        !trl_varint_get(&q, end, &nst) || !trl_varint_get(&q, end, &skel_len))
        return TRL_EINVAL;
    /* Each stream takes at least two directory bytes: that bounds nst by the input. */
    if (n_ev > max_count || total > max_json - out_at || out_at + total > UINT32_MAX ||
        nst > (uint64_t)(end - q) / 2)
        return TRL_EINVAL;
    if (ub->cursor_cap < nst * 4) {
        free(ub->cursor);
        ub->cursor_cap = nst * 4 > 64 ? (size_t)nst * 4 : 64;
        ub->cursor = trl_xmalloc(ub->cursor_cap * sizeof(*ub->cursor));
    }
    size_t *cur = ub->cursor;
    uint64_t lens[2];
    /* First pass: the lengths; stream data starts after the skeleton. */
    const uint8_t *dir = q;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < nst; i++) {
        if (!trl_varint_get(&q, end, &lens[0]) || !trl_varint_get(&q, end, &lens[1]))
            return TRL_EINVAL;
        if (lens[0] > (uint64_t)(end - p) || lens[1] > (uint64_t)(end - p))
            return TRL_EINVAL;
        sum += lens[0] + lens[1];
    }
    if (skel_len > (uint64_t)(end - q) || sum > (uint64_t)(end - q) - skel_len)
        return TRL_EINVAL;
    const uint8_t *skel = q, *skel_end = q + skel_len;
    *used = (size_t)(skel_end - p) + (size_t)sum;
    size_t pos = (size_t)(skel_end - p);
    q = dir;
    for (uint64_t i = 0; i < nst; i++) {
        trl_varint_get(&q, end, &lens[0]);
        trl_varint_get(&q, end, &lens[1]);
        cur[i * 4] = pos;
        cur[i * 4 + 1] = pos + (size_t)lens[0];
        pos += (size_t)lens[0];
        cur[i * 4 + 2] = pos;
        cur[i * 4 + 3] = pos + (size_t)lens[1];
        pos += (size_t)lens[1];
    }
    size_t need = out_at + (size_t)total;
    if (ub->json_cap < need || !ub->json) {
        size_t cap = ub->json_cap > need ? ub->json_cap : need ? need : 1;
        if (out_at > 0 && cap < ub->json_cap * 2)
            cap = ub->json_cap * 2; /* parts after the first: grow geometrically */
        ub->json = trl_xrealloc(ub->json, cap);
        ub->json_cap = cap;
    }
    struct unshred u = {
        ub->json, out_at, need, cur, (size_t)nst, p, version == 2 ? MARK_LAST_V2 : MARK_LAST};
    q = skel;
    /* A later part of format 5 names the first part's skeletons (ub->skel[0 .. *nskel_io)) too. */
    size_t nskel = *nskel_io;
    for (uint32_t i = 0; i < n_ev; i++) {
        uint64_t sl;
        if (!trl_varint_get(&q, skel_end, &sl) || sl > (uint64_t)(skel_end - q))
            return TRL_EINVAL;
        const uint8_t *sk = q;
        if (sl == 0 && version >= 3) {
            /* Format 3: the skeleton of an earlier event, by its number among the distinct. */
            uint64_t idx;
            if (!trl_varint_get(&q, skel_end, &idx) || idx >= nskel)
                return TRL_EINVAL;
            sk = ub->skel[idx].ptr;
            sl = ub->skel[idx].len;
        } else {
            if (version >= 3) {
                if (nskel == ub->skel_cap) {
                    ub->skel_cap = ub->skel_cap ? ub->skel_cap * 2 : 64;
                    ub->skel = trl_xrealloc(ub->skel, ub->skel_cap * sizeof(*ub->skel));
                }
                ub->skel[nskel].ptr = q;
                ub->skel[nskel].len = (size_t)sl;
                nskel++;
            }
            q += sl;
        }
        off[i] = (uint32_t)u.olen;
        if (!unshred_event(&u, sk, sk + sl, ts ? &ts[i] : NULL))
            return TRL_EINVAL;
    }
    off[n_ev] = (uint32_t)u.olen;
    if (q != skel_end || u.olen != need)
        return TRL_EINVAL;
    /* Every value and reference was used: anything left over means damage. */
    for (uint64_t i = 0; i < nst; i++) {
        if (cur[i * 4] != cur[i * 4 + 1] || cur[i * 4 + 2] != cur[i * 4 + 3])
            return TRL_EINVAL;
    }
    *n = (uint32_t)n_ev;
    *nskel_io = nskel;
    return 0;
}

int trl_json_unshred_ts(const uint8_t *p, size_t len, uint32_t count, int version,
                        const int64_t *ts, size_t max_json, struct trl_unshred_buf *ub,
                        uint32_t *off)
{
    if (version != 2 && version != 3)
        return TRL_EINVAL;
    uint32_t n;
    size_t used, nskel = 0;
    int rc = unshred_part(p, len, count, version, ts, max_json, ub, 0, off, &n, &used, &nskel);
    return rc != 0 ? rc : n == count && used == len ? 0 : TRL_EINVAL;
}

int trl_json_unshred_parts(const uint8_t *p, size_t len, uint32_t count, const int64_t *ts,
                           size_t max_json, struct trl_unshred_buf *ub, uint32_t *off)
{
    if (!ts)
        return TRL_EINVAL;
    size_t pos = 0, out_at = 0, nskel0 = 0;
    uint32_t done = 0;
    while (pos < len) {
        uint32_t n;
        size_t used, nskel = nskel0;
        int rc = unshred_part(p + pos, len - pos, count - done, 3, ts + done, max_json, ub, out_at,
                              off + done, &n, &used, &nskel);
        if (rc != 0)
            return rc;
        if (done == 0)
            nskel0 = nskel; /* the first part's distinct skeletons, which later parts share */
        if (n == 0)
            return TRL_EINVAL; /* the writer makes no empty part */
        done += n;
        pos += used;
        out_at = off[done];
    }
    return done == count ? 0 : TRL_EINVAL;
}
