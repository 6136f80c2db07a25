#include "store/block.h"
#include "core/buf.h"
#include "core/fields.h"
#include "store/json_leaves.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zstd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Data blob: "TRLB", version, column count, 2 reserved bytes, event count (u32), then one
 * directory entry per column (col, codec, flags (version 4; reserved before), 1 reserved, raw
 * length u32, stored length u32) and the column payloads in directory order. */
#define DATA_MAGIC   "TRLB"
#define DATA_HDR_LEN 12
#define DATA_DIR_LEN 12
/* Directory flag of version 4: the column holds its distinct entries and references. */
#define DIR_FLAG_DICT 1
/* Codec of the JSON column of version 5: its parts, each compressed on its own (those after the
 * first with the end of the first as zstd prefix). */
#define CODEC_PARTS 2
/* Meta blob: "TRLM", version, term hash version, Bloom k, summary count, event count (u32),
 * min and max timestamp (i64), Bloom size in bits (u32), the summaries, then the Bloom bits. */
#define META_MAGIC   "TRLM"
#define META_HDR_LEN 32

static const char *const col_fields[TRL_COL__COUNT] = {
    [TRL_COL_HOST_NAME] = "host.name",           [TRL_COL_SOURCE_IP] = "source.ip",
    [TRL_COL_DESTINATION_IP] = "destination.ip", [TRL_COL_USER_NAME] = "user.name",
    [TRL_COL_PROCESS_NAME] = "process.name",     [TRL_COL_EVENT_CATEGORY] = "event.category",
    [TRL_COL_EVENT_ACTION] = "event.action",     [TRL_COL_EVENT_OUTCOME] = "event.outcome",
    [TRL_COL_EVENT_CODE] = "event.code",
};

const char *trl_col_field(enum trl_col c)
{
    return (unsigned)c < TRL_COL__COUNT ? col_fields[c] : NULL;
}

int trl_col_for_path(const char *path, size_t len)
{
    /* Called for every leaf of every event: reject by length and first letter before comparing. */
    static const uint8_t col_len[TRL_COL__COUNT] = {
        [TRL_COL_HOST_NAME] = 9,     [TRL_COL_SOURCE_IP] = 9,      [TRL_COL_DESTINATION_IP] = 14,
        [TRL_COL_USER_NAME] = 9,     [TRL_COL_PROCESS_NAME] = 12,  [TRL_COL_EVENT_CATEGORY] = 14,
        [TRL_COL_EVENT_ACTION] = 12, [TRL_COL_EVENT_OUTCOME] = 13, [TRL_COL_EVENT_CODE] = 10,
    };
    if (len < 9 || len > 14)
        return -1;
    unsigned char first = trl_ascii_lower((unsigned char)path[0]);
    for (int c = TRL_COL_HOST_NAME; c <= TRL_COL_EVENT_CODE; c++) {
        if (col_len[c] == len && (unsigned char)col_fields[c][0] == first &&
            strncasecmp(col_fields[c], path, len) == 0)
            return c;
    }
    return -1;
}

bool trl_store_is_text_field(const char *path, size_t len)
{
#define TRL_TEXT_FIELD(id, name, type)                                                             \
    if ((type) == TRL_FT_TEXT && len == sizeof(name) - 1 && strncasecmp(path, name, len) == 0)     \
        return true;
    TRL_FIELD_LIST(TRL_TEXT_FIELD)
#undef TRL_TEXT_FIELD
    return false;
}

bool trl_store_is_indexed_field(const char *path, size_t len)
{
    if (len == 10 && memcmp(path, "@timestamp", 10) == 0)
        return false;
    if (len == 13 && strncasecmp(path, "event.created", 13) == 0)
        return false;
    return true;
}

bool trl_varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return false;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return false;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            *pp = p;
            return true;
        }
    }
    return false;
}

/* Appends v as a varint, written in place (column values are appended a few per event). */
static inline void buf_varint(struct trl_buf *b, uint64_t v)
{
    if (b->cap - b->len < 11)
        trl_buf_reserve(b, 11);
    uint8_t *p = (uint8_t *)b->data + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - (uint8_t *)b->data);
    b->data[b->len] = '\0';
}

static void buf_u32(struct trl_buf *b, uint32_t v)
{
    uint8_t tmp[4];
    trl_put_u32le(tmp, v);
    trl_buf_append(b, tmp, 4);
}

void trl_events_digest_add(struct trl_sha256 *h, int64_t ts, const char *json, size_t len)
{
    uint8_t hdr[12];
    trl_put_u64le(hdr, (uint64_t)ts);
    trl_put_u32le(hdr + 8, (uint32_t)len);
    trl_sha256_update(h, hdr, sizeof(hdr));
    trl_sha256_update(h, json, len);
}

/* ------------------------------------------------------------------------------------------ */
/* Building                                                                                    */

struct summary_acc {
    uint32_t nonempty;
    uint32_t nset;
    bool many;         /* more distinct values (or longer ones) than a summary keeps */
    bool minmax_valid; /* false once a value too long for min/max was seen */
    bool have_minmax;
    uint64_t set_hash[TRL_BLOCK_SUMMARY_VALUES];
    struct trl_buf set; /* nset x (varint len, lower-cased bytes) */
    struct trl_buf min, max;
};

struct seen_slot;

/* A keyword column value of the event being built, filed once its leaves are all seen. */
struct pending {
    uint8_t col;
    bool repeat; /* the same value as the previous one of its path: the summary has it */
    uint32_t len;
    const char *val;
    uint64_t field_hash;
    /* The slot of the table of seen values that holds this value, while its tag is `tag` (the
     * slot may be taken by another value of the same event): it remembers the value's column
     * entry. NULL for values the table does not keep. */
    struct seen_slot *seen;
    uint32_t tag;
};

/* What the builder needs to know about a leaf's path. Every event of a block repeats the same few
 * dozen paths, so these facts are cached instead of recomputed per leaf. */
#define PATH_CACHE_SIZE   1024 /* entries, direct-mapped */
#define PATH_CACHE_MAXLEN 48   /* longer paths are not cached */

struct path_info {
    uint8_t len; /* 0: empty entry */
    int8_t col;  /* keyword column, or -1 */
    bool text;
    bool indexed;
    uint64_t hash; /* trl_term_path_hash */
    char path[PATH_CACHE_MAXLEN];
};

/* The same facts per stream of the shredder (one per path in the block), with the path's last
 * value: a value equal to the previous one of its path (the same host, action, outcome in a row)
 * adds no term and changes no summary, so it costs a comparison instead of a hash. */
struct stream_info {
    bool known;
    bool original; /* event.original */
    int8_t col;
    bool text;
    bool indexed;
    uint64_t hash;
    const char *prev; /* in an input event's JSON (alive during the build), or NULL */
    uint32_t prev_len;
};

/* A direct-mapped memory of the terms added last: most terms of an event were already added by an
 * earlier event, and this small table answers that from cache. What it lets through goes to the
 * block's term lists (struct term_parts). */
#define RECENT_TERMS 4096
/* Value hashes whose text terms were added: a value repeated across the block (host names,
 * actions, users) is tokenized once while it stays here; one pushed out is only tokenized
 * again, to the same terms. */
#define RECENT_VALUES 8192

/* Hashes of index terms of up to 16 bytes (words, numbers, and most pairs such as "10.0" or
 * "sshd:session"), remembered by their bytes: the same words come back in event after event. */
#define TOKEN_CACHE_BITS 11
struct token_slot {
    /* The term's bytes, zero-padded, in two words; when shorter than 16 bytes its length is in
     * the top byte of k1. A term of 16 bytes ends with a word byte (>= '0'), never 1..15, so keys
     * of different lengths differ. k1 == 0: empty (a term has at least one byte). */
    uint64_t k0, k1;
    uint64_t hash;
    uint32_t gen; /* the builder's block generation when the term went into the block's set */
};

/* Segments of up to 16 bytes whose terms the block has. Values are cut into segments at spaces
 * and control characters, which are neither word bytes nor joiners, so that every term of a value
 * (token or joined pair) lies within one segment and depends on its bytes alone: a segment seen
 * again in the block (a word of a message template, a host name, an address, a time) is skipped
 * whole instead of looking up each of its terms. Remembered by their bytes, as the token cache's
 * keys. */
#define SEG_CACHE_BITS 12
struct seg_slot {
    uint64_t k0, k1;
    uint32_t gen; /* the builder's block generation when the segment's terms were added */
};

/* Keyword values of up to 16 bytes already indexed in the block, by stream: one seen again
 * (the same user or address a few events later) adds nothing to the index and nothing to its
 * column's summary, so it is only filed for its column. */
#define SEEN_BITS 11
struct seen_slot {
    uint64_t k0, k1; /* the value's bytes (see value_key) */
    uint32_t sid;
    uint32_t len;
    uint32_t gen; /* the builder's block generation when indexed; 0: empty */
    uint32_t tag; /* distinct for every value put in a slot during a block */
    /* 1 + the column dictionary's entry of an event whose only value in the column is this one,
     * 0 while not known: such an event is filed without building and looking up its entry. */
    uint32_t entry;
};

/* The term hashes added to the block (with some repeats), filed by their top bits into lists
 * that are deduplicated one at a time when the block is done: each list's set then fits in the
 * cache, where one set of the block's tens of thousands of terms would miss it on nearly every
 * new term. */
#define TERM_PART_BITS 6
#define TERM_PARTS     (1u << TERM_PART_BITS)
struct term_parts {
    uint64_t *v[TERM_PARTS];
    uint32_t n[TERM_PARTS], cap[TERM_PARTS];
    uint64_t *set; /* open addressing slots for deduplicating one list */
    size_t set_cap;
    size_t distinct; /* after term_parts_dedup() */
};

/* A keyword column as written by format 4: each event's entry (varint value count, then each
 * value's varint length and bytes) is kept once per block in `vals`, in the order entries first
 * occur, and `refs` holds one varint per event: 0 for the next new entry, k for the k-th entry
 * already written. Events of a block repeat a few hosts, users, actions and outcomes; as
 * references, zstd codes each choice in a few bits where a repeated string costs a match. */
struct coldict {
    struct trl_buf vals, refs;
    uint32_t *off;  /* off[i]: where entry i starts in vals; off[n] its end */
    uint64_t *hash; /* trl_hash_short of entry i */
    size_t off_cap;
    uint32_t n;
    uint32_t *slots; /* open addressing: entry index + 1, 0 empty */
    size_t slots_cap;
    int32_t empty;   /* the entry of an event without a value, or -1 while none */
    size_t expanded; /* the column's size as a reader expands it */
};

struct trl_block_builder {
    int level;
    unsigned bits_per_term;
    ZSTD_CCtx *cctx;      /* the JSON column's parts */
    ZSTD_CCtx *cctx_cols; /* the timestamp and keyword columns */
    struct trl_leaves leaves;
    struct term_parts terms;
    struct path_info paths[PATH_CACHE_SIZE];
    struct stream_info *sinfo;
    size_t sinfo_cap;
    uint64_t recent[RECENT_TERMS];
    uint64_t recent_tok[RECENT_VALUES];
    struct token_slot tokens[1u << TOKEN_CACHE_BITS];
    struct seg_slot segs[1u << SEG_CACHE_BITS];
    struct seen_slot seen[1u << SEEN_BITS];
    uint32_t gen;       /* counts blocks, from 1: a token slot stamped with it has its term added */
    uint32_t seen_tags; /* tags given to seen slots in this block */
    char *text;         /* a value being tokenized, followed by TEXT_PAD zero bytes */
    size_t text_cap;
    uint64_t *masks;  /* its word and gap masks (index_text) */
    int32_t orig_sid; /* stream of event.original in the current block, -1 while unknown */
    struct trl_buf raw[TRL_COL__COUNT];
    struct coldict dict[TRL_COL__COUNT];
    struct summary_acc sum[TRL_COL__COUNT];
    struct pending *pend;
    size_t pend_cap;
    struct trl_shredder *shred;
    uint32_t *part_events; /* per part of the JSON column: its events and raw length */
    uint32_t *part_raw;
    size_t nparts, parts_cap;
    uint32_t part_size;    /* trl_block_builder_set_part_events(), 0 for the default */
    bool no_digest;        /* trl_block_builder_set_events_digest(b, false) */
    struct trl_buf frames; /* the JSON column's compressed parts, before their directory */
    struct trl_buf data, meta;
    uint8_t *bloom;
    size_t bloom_cap;
    struct trl_ribbon ribbon;
};

/* The levels up to which the timestamp and keyword columns are compressed at level 1 with
 * matches of at least 6 bytes. These columns are a few KiB each per block (dictionaries of
 * addresses, names and codes, then their references), where level 3's double hash table finds
 * nothing that level 1 misses: on 300,000 mixed events ingested in 152 blocks, level 3 stored them
 * in 2,172,278 bytes for 311M instructions, level 1 with 6-byte matches in 2,136,198 bytes for
 * 236M. Above this, as for compaction, the builder's level pays for itself (level 9: 2,085,216
 * bytes, but 1,536M). */
#define COLS_FAST_LEVEL_MAX 3

/* A context that compresses at `level` (and `min_match`, if not 0) with a content checksum,
 * which tells damage (bit rot, a truncated copy) from a bad hash at verify time and stops a
 * damaged column from decoding into garbage. */
static ZSTD_CCtx *cctx_create(int level, int min_match)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c)
        return NULL;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
        (min_match && ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, min_match)))) {
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return c;
}

struct trl_block_builder *trl_block_builder_create(int zstd_level, unsigned bloom_bits_per_term)
{
    struct trl_block_builder *b = trl_xcalloc(1, sizeof(*b));
    b->level = zstd_level < 1 ? 1 : zstd_level > 19 ? 19 : zstd_level;
    b->bits_per_term = bloom_bits_per_term < 4    ? 4
                       : bloom_bits_per_term > 32 ? 32
                                                  : bloom_bits_per_term;
    bool cols_fast = b->level <= COLS_FAST_LEVEL_MAX;
    b->cctx = cctx_create(b->level, 0);
    b->cctx_cols = cctx_create(cols_fast ? 1 : b->level, cols_fast ? 6 : 0);
    if (!b->cctx || !b->cctx_cols) {
        ZSTD_freeCCtx(b->cctx);
        ZSTD_freeCCtx(b->cctx_cols);
        free(b);
        return NULL;
    }
    b->shred = trl_shredder_create();
    trl_leaves_init(&b->leaves);
    return b;
}

void trl_block_builder_set_part_events(struct trl_block_builder *b, uint32_t events)
{
    b->part_size = events;
}

void trl_block_builder_set_events_digest(struct trl_block_builder *b, bool on)
{
    b->no_digest = !on;
}

void trl_block_builder_destroy(struct trl_block_builder *b)
{
    if (!b)
        return;
    ZSTD_freeCCtx(b->cctx);
    ZSTD_freeCCtx(b->cctx_cols);
    trl_shredder_destroy(b->shred);
    trl_leaves_free(&b->leaves);
    for (unsigned p = 0; p < TERM_PARTS; p++)
        free(b->terms.v[p]);
    free(b->terms.set);
    free(b->text);
    free(b->masks);
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        trl_buf_free(&b->raw[c]);
        trl_buf_free(&b->dict[c].vals);
        trl_buf_free(&b->dict[c].refs);
        free(b->dict[c].off);
        free(b->dict[c].hash);
        free(b->dict[c].slots);
        trl_buf_free(&b->sum[c].set);
        trl_buf_free(&b->sum[c].min);
        trl_buf_free(&b->sum[c].max);
    }
    trl_buf_free(&b->data);
    trl_buf_free(&b->meta);
    trl_buf_free(&b->frames);
    free(b->part_events);
    free(b->part_raw);
    free(b->pend);
    free(b->sinfo);
    free(b->bloom);
    trl_ribbon_free(&b->ribbon);
    free(b);
}

static void term_parts_grow(struct term_parts *t, unsigned p)
{
    t->cap[p] = t->cap[p] ? t->cap[p] * 2 : 1024;
    t->v[p] = trl_xrealloc(t->v[p], t->cap[p] * sizeof(*t->v[p]));
}

static inline void term_parts_add(struct term_parts *t, uint64_t h)
{
    unsigned p = (unsigned)(h >> (64 - TERM_PART_BITS));
    if (t->n[p] == t->cap[p])
        term_parts_grow(t, p);
    t->v[p][t->n[p]++] = h;
}

/* Adds a term to the block. The hash 0 never sits in the memory of recent terms (an empty slot
 * holds 0), so it always goes to the lists. */
static inline void add_term(struct trl_block_builder *b, uint64_t h)
{
    uint64_t *r = &b->recent[(h >> 17) & (RECENT_TERMS - 1)];
    if (*r == h && h)
        return;
    *r = h;
    term_parts_add(&b->terms, h);
}

/* Keeps each hash of list p once (in place, in first-seen order) with the help of t->set, whose
 * slots hold 0 or hashes of this list or of lists done before; returns how many remain. */
static uint32_t term_part_dedup(struct term_parts *t, unsigned p, size_t mask)
{
    uint32_t n = t->n[p];
    if (n < 2)
        return n;
    uint64_t *v = t->v[p], *set = t->set;
    bool have_zero = false;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = v[i];
        if (h == 0) {
            if (!have_zero)
                v[k++] = 0;
            have_zero = true;
            continue;
        }
        /* The slot comes from bits below the top ones, which all hashes of the list share. A
         * slot holding a hash of another list is free for this one: no list looks at it again. */
        size_t j = (size_t)(h >> 20) & mask;
        while (set[j] && set[j] >> (64 - TERM_PART_BITS) == p && set[j] != h)
            j = (j + 1) & mask;
        if (set[j] == h)
            continue;
        set[j] = h;
        v[k++] = h;
    }
    return k;
}

/* Deduplicates the lists one after the other in one table, cleared once for the block rather than
 * once per list: a list's hashes all share their top bits, so it can tell its own slots from
 * those of the lists before. */
static void term_parts_dedup(struct term_parts *t)
{
    uint32_t most = 0;
    for (unsigned p = 0; p < TERM_PARTS; p++)
        most = t->n[p] > most ? t->n[p] : most;
    size_t cap = 64;
    while (cap < (size_t)most * 2)
        cap *= 2;
    if (t->set_cap < cap) {
        free(t->set);
        t->set = trl_xmalloc(cap * sizeof(*t->set));
        t->set_cap = cap;
    }
    memset(t->set, 0, cap * sizeof(*t->set));
    t->distinct = 0;
    for (unsigned p = 0; p < TERM_PARTS; p++) {
        t->n[p] = term_part_dedup(t, p, cap - 1);
        t->distinct += t->n[p];
    }
}

/* Empties the lists for the next block. Lists grown by one huge block shrink back, so that one
 * block does not make the builder keep megabytes. */
static void term_parts_clear(struct term_parts *t)
{
    for (unsigned p = 0; p < TERM_PARTS; p++) {
        if (t->cap[p] > 16384 && (size_t)t->n[p] * 4 < t->cap[p]) {
            free(t->v[p]);
            t->v[p] = NULL;
            t->cap[p] = 0;
        }
        t->n[p] = 0;
    }
    if (t->set_cap > 32768) {
        free(t->set);
        t->set = NULL;
        t->set_cap = 0;
    }
}

/* False when the value's text terms were added recently (the same value earlier in the block). */
static inline bool first_tokenized(struct trl_block_builder *b, uint64_t vh)
{
    uint64_t *r = &b->recent_tok[(vh >> 17) & (RECENT_VALUES - 1)];
    if (*r == vh && vh)
        return false;
    *r = vh;
    return true;
}

/* Zero bytes after a value copied for tokenizing: whole 64-byte blocks and 16-byte term keys are
 * read without bounds checks. */
#define TEXT_PAD 80
/* A copy kept for the next values is dropped after a block when larger than this. */
#define TEXT_KEEP (1u << 20)

static const uint64_t low_bytes[9] = {
    0,
    0xff,
    0xffff,
    0xffffff,
    0xffffffffULL,
    0xffffffffffULL,
    0xffffffffffffULL,
    0xffffffffffffffULL,
    ~0ULL,
};

static inline uint64_t load_le64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return le64toh(w);
}

/* The key of the 1 to 16 bytes at p, followed by at least 16 readable bytes, in the token cache
 * (see struct token_slot); returns its hash. */
static inline uint64_t term_key(const char *p, size_t n, uint64_t *k0, uint64_t *k1)
{
    uint64_t a = load_le64(p), c;
    if (n > 8) {
        c = load_le64(p + 8) & low_bytes[n - 8];
    } else {
        a &= low_bytes[n];
        c = 0;
    }
    if (n < 16)
        c |= (uint64_t)n << 56;
    *k0 = a;
    *k1 = c;
    return (a ^ (c * 0xbf58476d1ce4e5b9ULL)) * 0x9e3779b97f4a7c15ULL;
}

/* Adds the text term [tok, tok + n) of a padded copy (see TEXT_PAD). Terms of up to 16 bytes are
 * looked up in the token cache, which also knows whether the block has the term already. Inlined
 * into the tokenizer's loop: it runs for every token of every event. */
static inline __attribute__((always_inline)) void add_text_term(struct trl_block_builder *b,
                                                                const char *tok, size_t n)
{
    if (__builtin_expect(n > 16, 0)) {
        add_term(b, trl_term_hash_lower(TRL_TERM_SEED_TEXT, tok, n));
        return;
    }
    uint64_t k0, k1;
    uint64_t x = term_key(tok, n, &k0, &k1);
    struct token_slot *t = &b->tokens[x >> (64 - TOKEN_CACHE_BITS)];
    if (t->k0 == k0 && t->k1 == k1) {
        if (t->gen == b->gen)
            return;
    } else {
        t->k0 = k0;
        t->k1 = k1;
        t->hash = trl_term_hash_lower(TRL_TERM_SEED_TEXT, tok, n);
    }
    t->gen = b->gen;
    term_parts_add(&b->terms, t->hash);
}

/* Two masks of the 16 bytes at p: bit i of *word set when p[i] is a word byte (trl_term_is_word),
 * bit i of *gap when p[i] is a space or a control character (0x00..0x20; see struct seg_slot). */
static inline void masks16(const unsigned char *p, uint32_t *word, uint32_t *gap)
{
#if defined(__SSE2__)
    const __m128i lo_digit = _mm_set1_epi8('0' - 1), hi_digit = _mm_set1_epi8('9' + 1);
    const __m128i lo_alpha = _mm_set1_epi8('a' - 1), hi_alpha = _mm_set1_epi8('z' + 1);
    const __m128i case_bit = _mm_set1_epi8(0x20), under = _mm_set1_epi8('_');
    const __m128i space = _mm_set1_epi8(' ');
    const __m128i zero = _mm_setzero_si128();
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* Signed compares: bytes >= 0x80 are negative, and word bytes by themselves. */
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, lo_digit), _mm_cmplt_epi8(x, hi_digit));
    __m128i l = _mm_or_si128(x, case_bit);
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(l, lo_alpha), _mm_cmplt_epi8(l, hi_alpha));
    __m128i w = _mm_or_si128(_mm_or_si128(digit, alpha),
                             _mm_or_si128(_mm_cmpeq_epi8(x, under), _mm_cmplt_epi8(x, zero)));
    /* Unsigned x <= ' ': the larger of the two is the space. */
    __m128i g = _mm_cmpeq_epi8(_mm_max_epu8(x, space), space);
    *word = (uint32_t)_mm_movemask_epi8(w);
    *gap = (uint32_t)_mm_movemask_epi8(g);
#else
    uint32_t m = 0, g = 0;
    for (unsigned i = 0; i < 16; i++) {
        m |= (uint32_t)trl_term_wordchar[p[i]] << i;
        g |= (uint32_t)(p[i] <= ' ') << i;
    }
    *word = m;
    *gap = g;
#endif
}

/* The joiners of trl_term_is_joiner(), as a table: the tokenizer asks once per token. */
static const uint8_t joiner_table[256] = {
    ['.'] = 1, [':'] = 1, ['-'] = 1, ['/'] = 1, ['@'] = 1, ['\\'] = 1,
};

/* Adds the token [s0, e0) of the padded copy p, and the pair it makes with the previous token
 * [*prev_start, *prev_end) when one joiner separates them. */
static inline __attribute__((always_inline)) void emit_token(struct trl_block_builder *b,
                                                             const char *p, size_t s0, size_t e0,
                                                             size_t *prev_start, size_t *prev_end)
{
    add_text_term(b, p + s0, e0 - s0);
    if (s0 == *prev_end + 1 && joiner_table[(unsigned char)p[*prev_end]])
        add_text_term(b, p + *prev_start, e0 - *prev_start);
    *prev_start = s0;
    *prev_end = e0;
}

/* True when the block has the terms of the segment [p, p + n) of at most 16 bytes (followed by 16
 * readable bytes); otherwise remembers that it has them, the caller adding them now. */
static inline bool seg_seen(struct trl_block_builder *b, const char *p, size_t n)
{
    uint64_t k0, k1;
    uint64_t x = term_key(p, n, &k0, &k1);
    struct seg_slot *sl = &b->segs[x >> (64 - SEG_CACHE_BITS)];
    if (sl->gen == b->gen && sl->k0 == k0 && sl->k1 == k1)
        return true;
    *sl = (struct seg_slot){k0, k1, b->gen};
    return false;
}

/* index_text() for a value of 1 to 16 bytes (most keyword values): the copy is made on the stack
 * without a call, and one 16-byte mask covers it. */
static void index_short_text(struct trl_block_builder *b, const char *val, size_t len)
{
    /* The value, then zero bytes: a term key reads 16 bytes from a token's start. */
    char p[32] = {0};
    if (len >= 8) {
        memcpy(p, val, 8);
        memcpy(p + len - 8, val + len - 8, 8);
    } else if (len >= 4) {
        memcpy(p, val, 4);
        memcpy(p + len - 4, val + len - 4, 4);
    } else {
        p[0] = val[0];
        p[len / 2] = val[len / 2];
        p[len - 1] = val[len - 1];
    }
    uint32_t word, gap;
    masks16((const unsigned char *)p, &word, &gap);
    /* A value without a gap is one segment: often one of the event's original, seen there. */
    if (!(gap & ((1u << len) - 1)) && seg_seen(b, p, len))
        return;
    /* Bit len, a zero byte, ends the last token. */
    uint64_t m = word;
    uint64_t starts = m & ~(m << 1), ends = ~m & (m << 1);
    size_t prev_start = 0, prev_end = (size_t)-2;
    while (ends) {
        size_t s0 = (size_t)__builtin_ctzll(starts);
        size_t e = (size_t)__builtin_ctzll(ends);
        starts &= starts - 1;
        ends &= ends - 1;
        emit_token(b, p, s0, e, &prev_start, &prev_end);
    }
}

/* The first position from i whose bit is set in the masks w (one is, at the latest in the
 * sentinel word after the last). */
static inline size_t next_set(const uint64_t *w, size_t i)
{
    size_t k = i >> 6;
    uint64_t x = w[k] & (~0ULL << (i & 63));
    while (!x)
        x = w[++k];
    return (k << 6) + (size_t)__builtin_ctzll(x);
}

/* The same for a clear bit. */
static inline size_t next_clear(const uint64_t *w, size_t i)
{
    size_t k = i >> 6;
    uint64_t x = ~w[k] & (~0ULL << (i & 63));
    while (!x)
        x = ~w[++k];
    return (k << 6) + (size_t)__builtin_ctzll(x);
}

/* Adds the terms of the segment [a, z) of the padded copy p, whose word masks are wm (with a set
 * sentinel word after the last), unless the block has them. */
static inline __attribute__((always_inline)) void
index_segment(struct trl_block_builder *b, const char *p, const uint64_t *wm, size_t a, size_t z)
{
    if (z - a <= 16 && seg_seen(b, p + a, z - a))
        return;
    size_t prev_start = 0, prev_end = (size_t)-2;
    for (size_t i = a;;) {
        size_t s0 = next_set(wm, i);
        if (s0 >= z)
            break;
        /* The gap byte at z is not a word byte: the token ends there at the latest. */
        i = next_clear(wm, s0);
        emit_token(b, p, s0, i, &prev_start, &prev_end);
    }
}

/* Adds the text terms of a value: what trl_term_index_terms() reports (every token, and every
 * pair of tokens joined by one joiner). A zero-padded copy of the value is cut into segments at
 * gap bytes, which no term spans; a segment of up to 16 bytes seen before in the block (a word of
 * a template, a host, an address, a time) adds nothing, any other is tokenized from a mask of word
 * bytes. */
static void index_text(struct trl_block_builder *b, const char *val, size_t len)
{
    if (len == 0)
        return;
    if (len <= 16) {
        index_short_text(b, val, len);
        return;
    }
    /* Mask words for bits 0..len (the byte at len is zero: a gap, not a word byte), then a
     * sentinel word for the word masks. */
    size_t nw = len / 64 + 1;
    if (b->text_cap < len + TEXT_PAD) {
        free(b->text);
        free(b->masks);
        b->text_cap = len + TEXT_PAD > 4096 ? len + TEXT_PAD : 4096;
        b->text = trl_xmalloc(b->text_cap);
        b->masks = trl_xmalloc(2 * (b->text_cap / 64 + 2) * sizeof(*b->masks));
    }
    char *p = b->text;
    memcpy(p, val, len);
    memset(p + len, 0, TEXT_PAD);
    uint64_t *wm = b->masks, *gm = b->masks + nw + 1;
    for (size_t k = 0; k < nw; k++) {
        uint64_t w = 0, g = 0;
        for (unsigned c = 0; c < 4; c++) {
            uint32_t w16, g16;
            masks16((const unsigned char *)p + 64 * k + 16 * c, &w16, &g16);
            w |= (uint64_t)w16 << (16 * c);
            g |= (uint64_t)g16 << (16 * c);
        }
        wm[k] = w;
        gm[k] = g;
    }
    wm[nw] = ~0ULL;
    /* Segments from the gap masks as tokens from word masks: a start where a gap byte (or the
     * value's start) precedes a byte that is not one, an end where a gap byte follows one. */
    bool in_seg = false;
    size_t a = 0;
    for (size_t k = 0; k < nw; k++) {
        size_t base = 64 * k;
        uint64_t ng = ~gm[k];
        uint64_t shifted = (ng << 1) | (in_seg ? 1 : 0);
        uint64_t st = ng & ~shifted, en = ~ng & shifted;
        if (in_seg) {
            /* A segment from the previous 64 bytes: none ends here when no byte is a gap. */
            if (!en)
                continue;
            size_t z = base + (size_t)__builtin_ctzll(en);
            en &= en - 1;
            in_seg = false;
            index_segment(b, p, wm, a, z);
        }
        while (en) {
            size_t s0 = base + (size_t)__builtin_ctzll(st);
            size_t z = base + (size_t)__builtin_ctzll(en);
            st &= st - 1;
            en &= en - 1;
            index_segment(b, p, wm, s0, z);
        }
        /* A start left over begins a segment that goes on into the next 64 bytes (the zero
         * byte at len ends the last one in the last word). */
        if (st) {
            a = base + (size_t)__builtin_ctzll(st);
            in_seg = true;
        }
    }
}

/* Lower-case comparison of v (any case) with a lower-cased l. */
static int lower_cmp(const char *v, size_t vlen, const char *l, size_t llen)
{
    size_t n = vlen < llen ? vlen : llen;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = trl_ascii_lower((unsigned char)v[i]), c = (unsigned char)l[i];
        if (a != c)
            return a < c ? -1 : 1;
    }
    return (vlen > llen) - (vlen < llen);
}

static void buf_set_lower(struct trl_buf *d, const char *v, size_t len)
{
    trl_buf_reset(d);
    trl_buf_reserve(d, len + 1);
    for (size_t i = 0; i < len; i++)
        d->data[i] = (char)trl_ascii_lower((unsigned char)v[i]);
    d->data[len] = '\0';
    d->len = len;
}

static void summary_add(struct summary_acc *s, const char *v, size_t len, uint64_t field_hash)
{
    if (len > TRL_BLOCK_SUMMARY_MAXLEN) {
        s->minmax_valid = false;
        s->many = true;
        return;
    }
    /* The field hash is already case-insensitive: equal hashes are taken as equal values (a
     * collision only makes the set incomplete-but-marked-complete for a 2^-64 chance, which
     * would at worst skip a block for one query; acceptable for a summary). A value of the set
     * already counts in min and max. */
    if (!s->many) {
        for (uint32_t i = 0; i < s->nset; i++) {
            if (s->set_hash[i] == field_hash)
                return;
        }
    }
    if (!s->have_minmax) {
        buf_set_lower(&s->min, v, len);
        buf_set_lower(&s->max, v, len);
        s->have_minmax = true;
    } else {
        if (lower_cmp(v, len, s->min.data, s->min.len) < 0)
            buf_set_lower(&s->min, v, len);
        if (lower_cmp(v, len, s->max.data, s->max.len) > 0)
            buf_set_lower(&s->max, v, len);
    }
    if (s->many)
        return;
    if (s->nset == TRL_BLOCK_SUMMARY_VALUES) {
        s->many = true;
        return;
    }
    s->set_hash[s->nset++] = field_hash;
    buf_varint(&s->set, len);
    size_t at = s->set.len;
    trl_buf_reserve(&s->set, len + 1);
    for (size_t i = 0; i < len; i++)
        s->set.data[at + i] = (char)trl_ascii_lower((unsigned char)v[i]);
    s->set.len = at + len;
    s->set.data[s->set.len] = '\0';
}

/* Buffers kept from block to block are given back when one outsized block (a huge message) grew
 * them far beyond what the last block needed, so that a builder does not hold on to it. */
#define BUF_KEEP (8u << 20)

static void buf_reuse(struct trl_buf *x)
{
    if (x->cap > BUF_KEEP && x->len * 4 < x->cap)
        trl_buf_free(x);
    else
        trl_buf_reset(x);
}

/* Slots of a dictionary kept for the next block when no larger than this. */
#define DICT_SLOTS_KEEP 16384

static void coldict_reset(struct coldict *d)
{
    buf_reuse(&d->vals);
    buf_reuse(&d->refs);
    if (d->slots_cap > DICT_SLOTS_KEEP) {
        free(d->slots);
        d->slots = NULL;
        d->slots_cap = 0;
        free(d->off);
        free(d->hash);
        d->off = NULL;
        d->hash = NULL;
        d->off_cap = 0;
    } else if (d->slots) {
        memset(d->slots, 0, d->slots_cap * sizeof(*d->slots));
    }
    d->n = 0;
    d->empty = -1;
    d->expanded = 0;
}

static void coldict_grow(struct coldict *d)
{
    size_t ncap = d->slots_cap ? d->slots_cap * 2 : 256;
    uint32_t *ns = trl_xcalloc(ncap, sizeof(*ns));
    for (uint32_t i = 0; i < d->n; i++) {
        size_t j = (size_t)d->hash[i] & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = i + 1;
    }
    free(d->slots);
    d->slots = ns;
    d->slots_cap = ncap;
}

/* Files the entry that was just appended to d->vals from offset at: kept when new to the block,
 * else taken back off; either way the event's reference is written. Returns the entry's index. */
static uint32_t coldict_file(struct coldict *d, size_t at)
{
    const char *e = d->vals.data + at;
    size_t len = d->vals.len - at;
    uint64_t h = trl_hash_short(e, len);
    d->expanded += len;
    if (((size_t)d->n + 1) * 2 > d->slots_cap)
        coldict_grow(d);
    size_t mask = d->slots_cap - 1, j = (size_t)h & mask;
    for (; d->slots[j]; j = (j + 1) & mask) {
        uint32_t i = d->slots[j] - 1;
        if (d->hash[i] == h && d->off[i + 1] - d->off[i] == len &&
            !memcmp(d->vals.data + d->off[i], e, len)) {
            d->vals.len = at;
            buf_varint(&d->refs, (uint64_t)i + 1);
            return i;
        }
    }
    if ((size_t)d->n + 2 > d->off_cap) {
        d->off_cap = d->off_cap ? d->off_cap * 2 : 256;
        d->off = trl_xrealloc(d->off, d->off_cap * sizeof(*d->off));
        d->hash = trl_xrealloc(d->hash, d->off_cap * sizeof(*d->hash));
    }
    d->slots[j] = d->n + 1;
    d->off[d->n] = (uint32_t)at;
    d->hash[d->n] = h;
    d->n++;
    d->off[d->n] = (uint32_t)d->vals.len;
    trl_buf_putc(&d->refs, 0);
    return d->n - 1;
}

/* Files entry i, already in the block, for another event. */
static inline void coldict_again(struct coldict *d, uint32_t i)
{
    d->expanded += d->off[i + 1] - d->off[i];
    buf_varint(&d->refs, (uint64_t)i + 1);
}

/* An event without a value in the column: the one-byte entry of no values. */
static void coldict_none(struct coldict *d)
{
    if (d->empty >= 0) {
        buf_varint(&d->refs, (uint64_t)d->empty + 1);
        d->expanded++;
        return;
    }
    d->empty = (int32_t)d->n;
    size_t at = d->vals.len;
    trl_buf_putc(&d->vals, 0);
    (void)coldict_file(d, at);
}

static void builder_reset(struct trl_block_builder *b)
{
    term_parts_clear(&b->terms);
    b->orig_sid = -1;
    /* A new generation forgets which cached tokens and values the block has; at the wrap, so do
     * the slots. */
    if (++b->gen == 0) {
        memset(b->tokens, 0, sizeof(b->tokens));
        memset(b->segs, 0, sizeof(b->segs));
        memset(b->seen, 0, sizeof(b->seen));
        b->gen = 1;
    }
    b->seen_tags = 0;
    if (b->text_cap > TEXT_KEEP) {
        free(b->text);
        free(b->masks);
        b->text = NULL;
        b->masks = NULL;
        b->text_cap = 0;
    }
    memset(b->recent, 0, sizeof(b->recent));
    memset(b->recent_tok, 0, sizeof(b->recent_tok));
    if (b->sinfo)
        memset(b->sinfo, 0, b->sinfo_cap * sizeof(*b->sinfo));
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        buf_reuse(&b->raw[c]);
        coldict_reset(&b->dict[c]);
        struct summary_acc *s = &b->sum[c];
        s->nonempty = 0;
        s->nset = 0;
        s->many = false;
        s->minmax_valid = true;
        s->have_minmax = false;
        trl_buf_reset(&s->set);
        trl_buf_reset(&s->min);
        trl_buf_reset(&s->max);
    }
    buf_reuse(&b->data);
    buf_reuse(&b->meta);
}

/* Compared bytes after which the search for a value in event.original falls back to memmem(3),
 * whose time is linear whatever the input. */
#define ALIGNED_SEARCH_BUDGET 4096

/* True when needle occurs in hay without splitting a word at either end: its tokens (and pairs)
 * are then tokens of hay. It looks from the end, where a syslog line's message sits, and checks
 * the last occurrence; false when that one splits a word (the caller then tokenizes the value,
 * to terms hay already gave: the set is the same). */
static bool aligned_in(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0 || nlen > hlen)
        return nlen == 0;
    const char *p = NULL;
    size_t spent = 0;
    for (size_t lim = hlen - nlen + 1; lim > 0;) {
        const char *c = memrchr(hay, needle[0], lim);
        if (!c)
            return false;
        if (memcmp(c, needle, nlen) == 0) {
            p = c;
            break;
        }
        lim = (size_t)(c - hay);
        spent += nlen;
        if (spent > ALIGNED_SEARCH_BUDGET) {
            p = memmem(hay, hlen, needle, nlen);
            break;
        }
    }
    if (!p)
        return false;
    size_t at = (size_t)(p - hay);
    bool left = at == 0 || !trl_term_is_word((unsigned char)hay[at - 1]) ||
                !trl_term_is_word((unsigned char)needle[0]);
    bool right = at + nlen == hlen || !trl_term_is_word((unsigned char)hay[at + nlen]) ||
                 !trl_term_is_word((unsigned char)needle[nlen - 1]);
    return left && right;
}

static void path_info_fill(struct path_info *pi, const char *path, size_t len)
{
    pi->col = (int8_t)trl_col_for_path(path, len);
    pi->text = trl_store_is_text_field(path, len);
    pi->indexed = trl_store_is_indexed_field(path, len);
    pi->hash = trl_term_path_hash(path, len);
}

/* The facts about a path, from the cache when it holds them (into *tmp otherwise). */
static const struct path_info *path_lookup(struct trl_block_builder *b, const char *path,
                                           size_t len, struct path_info *tmp)
{
    if (len == 0 || len > PATH_CACHE_MAXLEN) {
        path_info_fill(tmp, path, len);
        return tmp;
    }
    /* The slot from the length and the first and last (up to) eight bytes. */
    uint64_t head = 0, tail = 0;
    size_t k = len < 8 ? len : 8;
    memcpy(&head, path, k);
    memcpy(&tail, path + len - k, k);
    uint64_t x = (head * 0x9e3779b97f4a7c15ULL) ^ (tail * 0xbf58476d1ce4e5b9ULL) ^ len;
    size_t slot = (size_t)(x >> 40) & (PATH_CACHE_SIZE - 1);
    struct path_info *pi = &b->paths[slot];
    if (pi->len == len && memcmp(pi->path, path, len) == 0)
        return pi;
    path_info_fill(pi, path, len);
    pi->len = (uint8_t)len;
    memcpy(pi->path, path, len);
    return pi;
}

/* Makes room for n more values of the event being built, so that pending_add() need not check. */
static void pending_reserve(struct trl_block_builder *b, size_t n)
{
    if (n > b->pend_cap) {
        b->pend_cap = n > 32 ? n : 32;
        b->pend = trl_xrealloc(b->pend, b->pend_cap * sizeof(*b->pend));
    }
}

static inline struct pending *pending_add(struct trl_block_builder *b, size_t *npend)
{
    return &b->pend[(*npend)++];
}

/* Indexes one value: its text terms unless an earlier value of the block had the same ones (the
 * same value, or a long value found whole in the event's original: a message inside
 * event.original), its field term, and files it for its keyword column (returned then). */
static inline __attribute__((always_inline)) struct pending *
index_value(struct trl_block_builder *b, bool text, int col, uint64_t path_hash, const char *val,
            size_t len, uint64_t vh, const char *orig, size_t orig_len, size_t *npend)
{
    if (first_tokenized(b, vh)) {
        /* Only long values are worth the search: short ones cost one hash anyway. */
        bool inside_original =
            orig && val != orig && len >= 32 && aligned_in(orig, orig_len, val, len);
        if (!inside_original)
            index_text(b, val, len);
    }
    if (text)
        return NULL;
    uint64_t fh = trl_term_field_combine(path_hash, vh);
    add_term(b, fh);
    if (col < 0)
        return NULL;
    struct pending *pd = pending_add(b, npend);
    *pd = (struct pending){(uint8_t)col, false, (uint32_t)len, val, fh, NULL, 0};
    return pd;
}

/* Appends the event's keyword column values (filed in b->pend, in leaf order) and updates the
 * summaries: per column a varint count, then the values. */
static void flush_columns(struct trl_block_builder *b, size_t npend)
{
    uint32_t nv[TRL_COL__COUNT] = {0};
    size_t first[TRL_COL__COUNT];
    for (size_t j = 0; j < npend; j++) {
        if (!nv[b->pend[j].col]++)
            first[b->pend[j].col] = j;
    }
    for (int c = TRL_COL_HOST_NAME; c <= TRL_COL_EVENT_CODE; c++) {
        struct coldict *d = &b->dict[c];
        if (!nv[c]) {
            coldict_none(d);
            continue;
        }
        b->sum[c].nonempty++;
        /* A single value the table of seen values still holds: its entry may be known. */
        const struct pending *one = &b->pend[first[c]];
        struct seen_slot *ss =
            nv[c] == 1 && one->seen && one->seen->tag == one->tag && one->seen->gen == b->gen
                ? one->seen
                : NULL;
        if (ss && ss->entry) {
            coldict_again(d, ss->entry - 1);
            continue;
        }
        size_t at = d->vals.len;
        buf_varint(&d->vals, nv[c]);
        for (size_t j = first[c], left = nv[c]; left; j++) {
            const struct pending *pd = &b->pend[j];
            if (pd->col != c)
                continue;
            left--;
            buf_varint(&d->vals, pd->len);
            trl_buf_append(&d->vals, pd->val, pd->len);
            if (!pd->repeat)
                summary_add(&b->sum[c], pd->val, pd->len, pd->field_hash);
        }
        uint32_t entry = coldict_file(d, at);
        if (ss)
            ss->entry = entry + 1;
    }
}

/* Indexes one event's leaves (in b->leaves, from trl_json_leaves()) and appends its keyword
 * column values. */
static void build_event_leaves(struct trl_block_builder *b)
{
    struct trl_leaves *l = &b->leaves;
    const struct trl_leaf *original = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct trl_leaf *f = &l->items[i];
        if (f->path_len == 14 && !memcmp(trl_leaf_path(l, f), "event.original", 14)) {
            original = f;
            break;
        }
    }
    const char *orig = original ? trl_leaf_val(l, original) : NULL;
    size_t orig_len = original ? original->val_len : 0;
    size_t npend = 0;
    pending_reserve(b, l->n);
    for (size_t i = 0; i < l->n; i++) {
        const struct trl_leaf *f = &l->items[i];
        struct path_info tmp;
        const struct path_info *pi = path_lookup(b, trl_leaf_path(l, f), f->path_len, &tmp);
        if (!pi->indexed)
            continue;
        const char *val = trl_leaf_val(l, f);
        (void)index_value(b, pi->text, pi->col, pi->hash, val, f->val_len,
                          trl_term_value_hash(val, f->val_len), orig, orig_len, &npend);
    }
    flush_columns(b, npend);
}

static struct stream_info *stream_info_fill(struct trl_block_builder *b, uint32_t sid)
{
    if (sid >= b->sinfo_cap) {
        size_t ncap = b->sinfo_cap ? b->sinfo_cap : 64;
        while (ncap <= sid)
            ncap *= 2;
        b->sinfo = trl_xrealloc(b->sinfo, ncap * sizeof(*b->sinfo));
        memset(b->sinfo + b->sinfo_cap, 0, (ncap - b->sinfo_cap) * sizeof(*b->sinfo));
        b->sinfo_cap = ncap;
    }
    struct stream_info *si = &b->sinfo[sid];
    if (!si->known) {
        size_t len;
        const char *path = trl_shredder_path(b->shred, sid, &len);
        struct path_info pi;
        path_info_fill(&pi, path, len);
        si->known = true;
        si->original = len == 14 && !memcmp(path, "event.original", 14);
        si->col = pi.col;
        si->text = pi.text;
        si->indexed = pi.indexed;
        si->hash = pi.hash;
    }
    return si;
}

static inline struct stream_info *stream_info(struct trl_block_builder *b, uint32_t sid)
{
    if (sid < b->sinfo_cap && b->sinfo[sid].known)
        return &b->sinfo[sid];
    return stream_info_fill(b, sid);
}

/* The bytes of a value of up to 16 bytes as two words, without reading past it: for a given
 * length, different values give different keys. */
static inline void value_key(const char *p, size_t len, uint64_t *k0, uint64_t *k1)
{
    const unsigned char *u = (const unsigned char *)p;
    if (len >= 8) {
        *k0 = load_le64(p);
        *k1 = load_le64(p + len - 8);
    } else if (len >= 4) {
        uint32_t a, c;
        memcpy(&a, p, 4);
        memcpy(&c, p + len - 4, 4);
        *k0 = (uint64_t)a | (uint64_t)c << 32;
        *k1 = 0;
    } else {
        *k0 = len ? (uint64_t)u[0] | (uint64_t)u[len / 2] << 8 | (uint64_t)u[len - 1] << 16 : 0;
        *k1 = 0;
    }
}

/* Indexes one event's values as the shredder gave them (the usual case), like
 * build_event_leaves() but with the facts about each path known from its stream. */
static void build_event_vals(struct trl_block_builder *b, const struct trl_shred_val *v, size_t n,
                             const char *json, size_t json_len)
{
    const char *orig = NULL;
    size_t orig_len = 0;
    for (size_t i = 0; i < n; i++) {
        /* Once the block has an event.original stream, a comparison finds it. */
        bool is_orig = b->orig_sid >= 0 ? v[i].sid == (uint32_t)b->orig_sid
                                        : stream_info(b, v[i].sid)->original;
        if (is_orig) {
            b->orig_sid = (int32_t)v[i].sid;
            orig = v[i].ptr;
            orig_len = v[i].len;
            break;
        }
    }
    size_t npend = 0;
    pending_reserve(b, n);
    for (size_t i = 0; i < n; i++) {
        const struct trl_shred_val *x = &v[i];
        struct stream_info *si = stream_info(b, x->sid);
        if (!si->indexed)
            continue;
        /* Short keyword values are recognised by the table of seen values below, which also
         * knows the previous one. */
        bool short_keyword = !si->text && x->len <= 16;
        if (!short_keyword && si->prev && si->prev_len == x->len &&
            !memcmp(si->prev, x->ptr, x->len)) {
            /* Its terms are in the set; the column still needs the value. */
            if (si->col >= 0 && !si->text)
                *pending_add(b, &npend) =
                    (struct pending){(uint8_t)si->col, true, x->len, x->ptr, 0, NULL, 0};
            continue;
        }
        if (si->original) {
            /* Nearly every event.original is new to the block: tokenized without first hashing
             * it whole to look for an earlier equal one. It is a text field (no field term). */
            index_text(b, x->ptr, x->len);
        } else if (si->text) {
            /* A message is nearly always found whole in event.original: looking for it there,
             * from the end, costs less than hashing it to look for an earlier equal one. */
            bool inside = orig && x->ptr != orig && x->len >= 32 &&
                          aligned_in(orig, orig_len, x->ptr, x->len);
            if (!inside &&
                first_tokenized(b, trl_term_hash_lower(TRL_TERM_SEED_VALUE, x->ptr, x->len)))
                index_text(b, x->ptr, x->len);
        } else if (short_keyword) {
            uint64_t k0, k1;
            value_key(x->ptr, x->len, &k0, &k1);
            uint64_t h = (k0 ^ (k1 * 0xbf58476d1ce4e5b9ULL) ^ ((uint64_t)x->sid << 32 | x->len)) *
                         0x9e3779b97f4a7c15ULL;
            struct seen_slot *ss = &b->seen[h >> (64 - SEEN_BITS)];
            if (ss->gen == b->gen && ss->k0 == k0 && ss->k1 == k1 && ss->sid == x->sid &&
                ss->len == x->len) {
                if (si->col >= 0)
                    *pending_add(b, &npend) =
                        (struct pending){(uint8_t)si->col, true, x->len, x->ptr, 0, ss, ss->tag};
            } else {
                uint32_t tag = ++b->seen_tags;
                *ss = (struct seen_slot){k0, k1, x->sid, x->len, b->gen, tag, 0};
                uint64_t vh = trl_term_hash_lower(TRL_TERM_SEED_VALUE, x->ptr, x->len);
                struct pending *pd = index_value(b, false, si->col, si->hash, x->ptr, x->len, vh,
                                                 orig, orig_len, &npend);
                if (pd) {
                    pd->seen = ss;
                    pd->tag = tag;
                }
            }
            /* The table, not the previous value, recognises the next short value. */
            continue;
        } else {
            uint64_t vh = trl_term_hash_lower(TRL_TERM_SEED_VALUE, x->ptr, x->len);
            (void)index_value(b, false, si->col, si->hash, x->ptr, x->len, vh, orig, orig_len,
                              &npend);
        }
        /* Only values inside the input stay valid for the rest of the block. The previous value
         * of a path is the last one that was not a short keyword: any of its earlier values is
         * as good, its terms and summary entry being in the block already. */
        bool in_input = x->ptr >= json && x->ptr + x->len <= json + json_len;
        si->prev = in_input ? x->ptr : NULL;
        si->prev_len = x->len;
    }
    flush_columns(b, npend);
}

/* The end of the first part that later parts are compressed against. zstd indexes the prefix again
 * for each later part: the whole first part (about 600 KiB in an appended block) cost a quarter of
 * the block's compression instructions; its last 128 KiB keep all but 1% of the size it saves. Its
 * last 64 KiB store 0.07% more than 128 KiB (300,000 mixed events ingested: JSON columns of
 * 18,527,263 bytes against 18,513,443) for 4.6% fewer of the JSON column's instructions. */
#define PART_PREFIX_MAX (64u << 10)

/* The JSON column of format 5: the directory of its parts (varint count, varint prefix length,
 * then per part varint events, raw length and stored length), then each part compressed on its
 * own, so that a reader of a few events decompresses only their parts (and the first). */
static int compress_parts(struct trl_block_builder *b, size_t dir_entry)
{
    const struct trl_buf *raw = &b->raw[TRL_COL_JSON];
    buf_reuse(&b->frames);
    uint32_t *stored_len = trl_xmalloc(b->nparts * sizeof(*stored_len));
    uint32_t prefix_len = b->nparts > 1 ? TRL_MIN(b->part_raw[0], PART_PREFIX_MAX) : 0;
    size_t at = 0;
    int rc = 0;
    for (size_t k = 0; k < b->nparts; k++) {
        size_t n = b->part_raw[k];
        size_t bound = ZSTD_compressBound(n);
        trl_buf_reserve(&b->frames, bound + 1);
        /* Parts after the first are compressed with the first as zstd prefix: the matches it
         * gives are most of what independent parts lose (a reader of any part has the first,
         * whose skeletons the others name). The directory's prefix length lets a writer take
         * only the first part's last bytes. */
        if (k > 0 && prefix_len > 0 &&
            ZSTD_isError(ZSTD_CCtx_refPrefix(b->cctx, raw->data + b->part_raw[0] - prefix_len,
                                             prefix_len))) {
            rc = -EIO;
            goto fail;
        }
        size_t z =
            ZSTD_compress2(b->cctx, b->frames.data + b->frames.len, bound, raw->data + at, n);
        if (ZSTD_isError(z)) {
            rc = -EIO;
            goto fail;
        }
        stored_len[k] = (uint32_t)z;
        b->frames.len += z;
        at += n;
    }
    size_t start = b->data.len;
    buf_varint(&b->data, b->nparts);
    buf_varint(&b->data, prefix_len);
    for (size_t k = 0; k < b->nparts; k++) {
        buf_varint(&b->data, b->part_events[k]);
        buf_varint(&b->data, b->part_raw[k]);
        buf_varint(&b->data, stored_len[k]);
    }
    trl_buf_append(&b->data, b->frames.data, b->frames.len);
    uint8_t *d = (uint8_t *)b->data.data + dir_entry;
    d[0] = TRL_COL_JSON;
    d[1] = CODEC_PARTS;
    d[2] = 0;
    trl_put_u32le(d + 4, (uint32_t)raw->len);
    trl_put_u32le(d + 8, (uint32_t)(b->data.len - start));
fail:
    free(stored_len);
    return rc;
}

static int compress_columns(struct trl_block_builder *b, uint32_t count)
{
    uint8_t hdr[DATA_HDR_LEN] = {'T', 'R', 'L', 'B', TRL_BLOCK_VERSION, TRL_COL__COUNT, 0, 0};
    trl_put_u32le(hdr + 8, count);
    trl_buf_append(&b->data, hdr, sizeof(hdr));
    size_t dir_at = b->data.len;
    trl_buf_reserve(&b->data, DATA_DIR_LEN * TRL_COL__COUNT);
    memset(b->data.data + dir_at, 0, DATA_DIR_LEN * TRL_COL__COUNT);
    b->data.len += DATA_DIR_LEN * TRL_COL__COUNT;
    for (int c = TRL_COL_HOST_NAME; c <= TRL_COL_EVENT_CODE; c++) {
        const struct coldict *dc = &b->dict[c];
        struct trl_buf *raw = &b->raw[c];
        if (dc->expanded > TRL_BLOCK_MAX_COL_BYTES)
            return -EFBIG;
        buf_varint(raw, dc->vals.len);
        trl_buf_append(raw, dc->vals.data, dc->vals.len);
        trl_buf_append(raw, dc->refs.data, dc->refs.len);
    }
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        const struct trl_buf *raw = &b->raw[c];
        if (raw->len > TRL_BLOCK_MAX_COL_BYTES)
            return -EFBIG;
        if (c == TRL_COL_JSON) {
            int rc = compress_parts(b, dir_at + (size_t)c * DATA_DIR_LEN);
            if (rc != 0)
                return rc;
            continue;
        }
        size_t bound = ZSTD_compressBound(raw->len);
        trl_buf_reserve(&b->data, bound + 1);
        uint8_t codec = 0;
        size_t stored = raw->len;
        if (raw->len > 0) {
            size_t n = ZSTD_compress2(b->cctx_cols, b->data.data + b->data.len, bound, raw->data,
                                      raw->len);
            if (ZSTD_isError(n))
                return -EIO;
            codec = 1;
            stored = n;
        }
        uint8_t *d = (uint8_t *)b->data.data + dir_at + (size_t)c * DATA_DIR_LEN;
        d[0] = (uint8_t)c;
        d[1] = codec;
        d[2] = c >= TRL_COL_HOST_NAME && c <= TRL_COL_EVENT_CODE ? DIR_FLAG_DICT : 0;
        trl_put_u32le(d + 4, (uint32_t)raw->len);
        trl_put_u32le(d + 8, (uint32_t)stored);
        b->data.len += stored;
    }
    return 0;
}

static void filter_reserve(struct trl_block_builder *b, size_t nbytes)
{
    if (b->bloom_cap < nbytes) {
        free(b->bloom);
        b->bloom = trl_xmalloc(nbytes);
        b->bloom_cap = nbytes;
    }
}

/* A Bloom filter (term hash version 2) of the block's distinct terms into b->bloom. */
static void write_bloom(struct trl_block_builder *b, uint8_t k, uint64_t salt, uint32_t nbits)
{
    const struct term_parts *t = &b->terms;
    filter_reserve(b, nbits / 8);
    memset(b->bloom, 0, nbits / 8);
    struct trl_bloom shape = {
        .nbits = nbits, .k = k, .version = TRL_TERMS_HASH_VERSION_RIBBON - 1, .salt = salt};
    /* Setting bits is order-independent. */
    for (unsigned p = 0; p < TERM_PARTS; p++) {
        for (uint32_t i = 0; i < t->n[p]; i++)
            trl_bloom_add(b->bloom, &shape, t->v[p][i]);
    }
}

static void write_meta(struct trl_block_builder *b, uint32_t count, int64_t min_ts, int64_t max_ts)
{
    struct term_parts *t = &b->terms;
    term_parts_dedup(t);
    /* A ribbon filter of the block's distinct terms, unless the block has so few that a Bloom
     * filter of the same false-positive rate is smaller (a ribbon filter has 64 spare slots). */
    uint8_t k = trl_ribbon_fingerprint_bits(b->bits_per_term);
    uint32_t slots = trl_ribbon_slots(t->distinct);
    uint32_t nbits = trl_bloom_size_bits(t->distinct, b->bits_per_term);
    uint8_t version = TRL_TERMS_HASH_VERSION;
    if (nbits <= (uint64_t)slots * k) {
        version = TRL_TERMS_HASH_VERSION_RIBBON - 1;
        k = trl_bloom_best_k(b->bits_per_term);
        write_bloom(b, k, trl_bloom_salt(count, min_ts, max_ts, nbits), nbits);
    } else {
        /* The salt depends on the filter's size: a filter that cannot be solved (a few blocks
         * in a hundred) is tried again with 64 more slots, hence another salt. */
        struct trl_ribbon *rb = &b->ribbon;
        for (;; slots += 64) {
            nbits = slots * k;
            trl_ribbon_begin(rb, slots, k, trl_bloom_salt(count, min_ts, max_ts, nbits));
            bool solved = true;
            for (unsigned p = 0; p < TERM_PARTS && solved; p++)
                solved = trl_ribbon_add_all(rb, t->v[p], t->n[p]);
            if (solved)
                break;
        }
        filter_reserve(b, nbits / 8);
        trl_ribbon_solve(rb, b->bloom);
    }
    size_t nbytes = nbits / 8;

    uint8_t hdr[META_HDR_LEN] = {'T',
                                 'R',
                                 'L',
                                 'M',
                                 TRL_BLOCK_META_VERSION,
                                 version,
                                 k,
                                 TRL_COL_EVENT_CODE - TRL_COL_HOST_NAME + 1};
    trl_put_u32le(hdr + 8, count);
    trl_put_u64le(hdr + 12, (uint64_t)min_ts);
    trl_put_u64le(hdr + 20, (uint64_t)max_ts);
    trl_put_u32le(hdr + 28, nbits);
    trl_buf_append(&b->meta, hdr, sizeof(hdr));
    for (int c = TRL_COL_HOST_NAME; c <= TRL_COL_EVENT_CODE; c++) {
        const struct summary_acc *s = &b->sum[c];
        bool minmax = s->have_minmax && s->minmax_valid;
        uint8_t flags = (uint8_t)((!s->many ? 1 : 0) | (minmax ? 2 : 0));
        uint8_t h2[2] = {(uint8_t)c, flags};
        trl_buf_append(&b->meta, h2, 2);
        buf_u32(&b->meta, s->nonempty);
        if (minmax) {
            buf_varint(&b->meta, s->min.len);
            trl_buf_append(&b->meta, s->min.data, s->min.len);
            buf_varint(&b->meta, s->max.len);
            trl_buf_append(&b->meta, s->max.data, s->max.len);
        }
        if (!s->many) {
            buf_varint(&b->meta, s->nset);
            if (s->set.len)
                trl_buf_append(&b->meta, s->set.data, s->set.len);
        }
    }
    trl_buf_append(&b->meta, b->bloom, nbytes);
}

/* Events per part of the JSON column, by the block's size (docs/storage.md, "Format 5"): a
 * reader of one event rebuilds its part only; smaller parts compress a little worse. */
static size_t json_part_events(const struct trl_block_builder *b, size_t n)
{
    if (b->part_size)
        return b->part_size;
    return n > TRL_BLOCK_SMALL ? TRL_BLOCK_PART_EVENTS_LARGE : TRL_BLOCK_PART_EVENTS;
}

/* Ends the JSON column's current part, of `events` events. */
static void cut_part(struct trl_block_builder *b, uint32_t events)
{
    if (b->nparts == b->parts_cap) {
        b->parts_cap = b->parts_cap ? b->parts_cap * 2 : 16;
        b->part_events = trl_xrealloc(b->part_events, b->parts_cap * sizeof(*b->part_events));
        b->part_raw = trl_xrealloc(b->part_raw, b->parts_cap * sizeof(*b->part_raw));
    }
    size_t before = b->raw[TRL_COL_JSON].len;
    trl_shredder_cut(b->shred, &b->raw[TRL_COL_JSON]);
    b->part_events[b->nparts] = events;
    b->part_raw[b->nparts] = (uint32_t)(b->raw[TRL_COL_JSON].len - before);
    b->nparts++;
}

int trl_block_build(struct trl_block_builder *b, const struct trl_block_input *ev, size_t n,
                    struct trl_block_out *out)
{
    if (n == 0 || n > TRL_BLOCK_MAX_EVENTS)
        return TRL_EINVAL;
    builder_reset(b);
    trl_shredder_reset(b->shred);
    b->nparts = 0;
    size_t part = json_part_events(b, n);
    bool with_digest = !b->no_digest;
    struct trl_sha256 digest;
    if (with_digest && trl_sha256_init(&digest) != 0)
        return -ENOMEM;
    int64_t min_ts = ev[0].ts, max_ts = ev[0].ts, prev = 0;
    for (size_t i = 0; i < n; i++) {
        const struct trl_block_input *in = &ev[i];
        min_ts = TRL_MIN(min_ts, in->ts);
        max_ts = TRL_MAX(max_ts, in->ts);
        /* Timestamps as zig-zag deltas: events of a block are close in time. */
        uint64_t delta = (uint64_t)in->ts - (uint64_t)prev;
        int64_t sdelta = (int64_t)delta;
        buf_varint(&b->raw[TRL_COL_TS], ((uint64_t)sdelta << 1) ^ (uint64_t)(sdelta >> 63));
        prev = in->ts;
        /* The shredder's walk gives the event's leaves when it can; otherwise json_leaves. Either
         * way they are what search reads from the same JSON, so index and matching agree, and
         * malformed JSON still gets the leaves read before the error indexed. */
        const struct trl_shred_val *vals;
        size_t nvals;
        if (trl_shredder_add_event(b->shred, in->ts, in->json, in->len, &vals, &nvals)) {
            build_event_vals(b, vals, nvals, in->json, in->len);
        } else {
            trl_leaves_reset(&b->leaves);
            (void)trl_json_leaves(in->json, in->len, &b->leaves);
            build_event_leaves(b);
        }
        if (with_digest)
            trl_events_digest_add(&digest, in->ts, in->json, in->len);
        if ((i + 1) % part == 0 || i + 1 == n)
            cut_part(b, (uint32_t)((i + 1) % part == 0 ? part : (i + 1) % part));
    }
    if (with_digest)
        trl_sha256_final(&digest, out->events_digest);
    else
        memset(out->events_digest, 0, TRL_SHA256_LEN);
    int rc = compress_columns(b, (uint32_t)n);
    if (rc != 0)
        return rc;
    write_meta(b, (uint32_t)n, min_ts, max_ts);
    out->data = (const uint8_t *)b->data.data;
    out->data_len = b->data.len;
    out->meta = (const uint8_t *)b->meta.data;
    out->meta_len = b->meta.len;
    out->count = (uint32_t)n;
    out->min_ts = min_ts;
    out->max_ts = max_ts;
    out->distinct_terms = b->terms.distinct;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoding                                                                                    */

int trl_block_view_init(struct trl_block_view *v, const void *data, size_t len)
{
    memset(v, 0, sizeof(*v));
    const uint8_t *p = data;
    if (!p || len < DATA_HDR_LEN || memcmp(p, DATA_MAGIC, 4) != 0 ||
        (p[4] != TRL_BLOCK_VERSION && p[4] != TRL_BLOCK_VERSION_DICT4 &&
         p[4] != TRL_BLOCK_VERSION_SHRED3 && p[4] != TRL_BLOCK_VERSION_SHRED2 &&
         p[4] != TRL_BLOCK_VERSION_ROWS))
        return TRL_EINVAL;
    unsigned ncols = p[5];
    uint32_t count = trl_get_u32le(p + 8);
    if (ncols > TRL_COL__COUNT || count == 0 || count > TRL_BLOCK_MAX_EVENTS)
        return TRL_EINVAL;
    size_t off = DATA_HDR_LEN + (size_t)ncols * DATA_DIR_LEN;
    if (off > len)
        return TRL_EINVAL;
    for (unsigned i = 0; i < ncols; i++) {
        const uint8_t *d = p + DATA_HDR_LEN + (size_t)i * DATA_DIR_LEN;
        unsigned c = d[0];
        uint8_t codec = d[1];
        /* Before version 4 the flag byte was reserved (written as 0, never read). */
        uint8_t flags = p[4] >= TRL_BLOCK_VERSION_DICT4 ? d[2] : 0;
        bool keyword = c >= TRL_COL_HOST_NAME && c <= TRL_COL_EVENT_CODE;
        uint32_t raw_len = trl_get_u32le(d + 4), stored = trl_get_u32le(d + 8);
        /* Version 5 stores the JSON column as parts, and only it. */
        bool parts = p[4] >= TRL_BLOCK_VERSION && c == TRL_COL_JSON;
        if (flags & ~DIR_FLAG_DICT || (flags && !keyword))
            return TRL_EINVAL;
        if (c >= TRL_COL__COUNT || v->cols[c].present ||
            (parts ? codec != CODEC_PARTS : codec > 1) || raw_len > TRL_BLOCK_MAX_COL_BYTES ||
            stored > len - off || (codec == 0 && stored != raw_len))
            return TRL_EINVAL;
        v->cols[c].present = true;
        v->cols[c].codec = codec;
        v->cols[c].dict = flags & DIR_FLAG_DICT;
        v->cols[c].raw_len = raw_len;
        v->cols[c].off = (uint32_t)off;
        v->cols[c].stored_len = stored;
        off += stored;
    }
    if (off != len || !v->cols[TRL_COL_TS].present || !v->cols[TRL_COL_JSON].present)
        return TRL_EINVAL;
    v->data = p;
    v->len = len;
    v->count = count;
    v->version = p[4];
    return 0;
}

void trl_block_decoder_init(struct trl_block_decoder *d)
{
    memset(d, 0, sizeof(*d));
}

void trl_block_decoder_free(struct trl_block_decoder *d)
{
    ZSTD_freeDCtx(d->dctx);
    for (int c = 0; c < TRL_COL__COUNT; c++) {
        free(d->raw[c]);
        free(d->str[c].first);
        free(d->str[c].vals);
    }
    trl_unshred_buf_free(&d->unshred);
    trl_json_parts_free(&d->parts);
    free(d->json_off);
    free(d->packed);
    free(d->entry_off);
    free(d->ts);
    memset(d, 0, sizeof(*d));
}

void trl_block_decoder_reset(struct trl_block_decoder *d, const struct trl_block_view *v)
{
    memset(d->decoded, 0, sizeof(d->decoded));
    d->count = v->count;
}

/* Reads the entry at *p (varint value count, then each value's varint length and bytes) that
 * must end by end; false when it does not. */
static bool skip_entry(const uint8_t **p, const uint8_t *end)
{
    uint64_t k;
    if (!trl_varint_get(p, end, &k) || k > (uint64_t)(end - *p))
        return false;
    for (uint64_t j = 0; j < k; j++) {
        uint64_t vlen;
        if (!trl_varint_get(p, end, &vlen) || vlen > (uint64_t)(end - *p))
            return false;
        *p += vlen;
    }
    return true;
}

/* Expands a dictionary-coded keyword column p[0..len) (struct coldict: varint length of the
 * entries, the entries, one reference per event) into raw[c] as versions 1-3 store the column:
 * each event's entry in turn. Every entry must be introduced once, in order, and used; the
 * expanded size is capped like any column's. */
static int expand_dict(struct trl_block_decoder *d, enum trl_col c, const uint8_t *p, size_t len,
                       uint32_t count, const uint8_t **out, size_t *out_len)
{
    const uint8_t *q = p, *end = p + len;
    uint64_t vlen;
    if (!trl_varint_get(&q, end, &vlen) || vlen > (uint64_t)(end - q))
        return TRL_EINVAL;
    const uint8_t *vals = q, *vend = q + vlen, *next = vals;
    if (d->entry_off_cap < (size_t)count + 1) {
        free(d->entry_off);
        d->entry_off_cap = (size_t)count + 1;
        d->entry_off = trl_xmalloc(d->entry_off_cap * sizeof(*d->entry_off));
    }
    uint32_t *eo = d->entry_off, n = 0;
    uint64_t total = 0;
    q = vend;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t r;
        if (!trl_varint_get(&q, end, &r) || r > n)
            return TRL_EINVAL;
        if (r == 0) {
            eo[n++] = (uint32_t)(next - vals);
            if (!skip_entry(&next, vend))
                return TRL_EINVAL;
            eo[n] = (uint32_t)(next - vals);
            r = n;
        }
        total += eo[r] - eo[r - 1];
        if (total > TRL_BLOCK_MAX_COL_BYTES)
            return TRL_EINVAL;
    }
    if (q != end || next != vend)
        return TRL_EINVAL;
    if (d->raw_cap[c] < total) {
        free(d->raw[c]);
        d->raw[c] = trl_xmalloc(total);
        d->raw_cap[c] = total;
    }
    uint8_t *o = d->raw[c];
    q = vend;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t r;
        trl_varint_get(&q, end, &r);
        if (r == 0)
            r = ++seen;
        size_t elen = eo[r] - eo[r - 1];
        memcpy(o, vals + eo[r - 1], elen);
        o += elen;
    }
    *out = d->raw[c];
    *out_len = (size_t)total;
    return 0;
}

/* Points *out at the column's bytes as versions 1-3 store them: decompressed into the decoder's
 * buffer, and expanded there when the column is dictionary-coded. */
void trl_json_parts_free(struct trl_json_parts *ps)
{
    free(ps->p);
    memset(ps, 0, sizeof(*ps));
}

int trl_block_json_parts(const struct trl_block_view *v, struct trl_json_parts *ps)
{
    const uint32_t col_off = v->cols[TRL_COL_JSON].off, stored = v->cols[TRL_COL_JSON].stored_len;
    const uint32_t raw_len = v->cols[TRL_COL_JSON].raw_len;
    ps->n = 0;
    if (!v->cols[TRL_COL_JSON].present)
        return TRL_EINVAL;
    if (v->cols[TRL_COL_JSON].codec != CODEC_PARTS) {
        if (!ps->cap) {
            ps->p = trl_xmalloc(sizeof(*ps->p));
            ps->cap = 1;
        }
        ps->p[0] = (struct trl_json_part){0, v->count, raw_len, col_off, stored};
        ps->n = 1;
        ps->prefix_len = 0;
        return 0;
    }
    const uint8_t *q = v->data + col_off, *end = q + stored;
    uint64_t n, prefix;
    /* Each part holds an event and takes three directory bytes. */
    if (!trl_varint_get(&q, end, &n) || !trl_varint_get(&q, end, &prefix) || n == 0 ||
        n > v->count || n > (uint64_t)(end - q) / 3)
        return TRL_EINVAL;
    if (ps->cap < n) {
        free(ps->p);
        ps->cap = (size_t)n;
        ps->p = trl_xmalloc(ps->cap * sizeof(*ps->p));
    }
    uint64_t events = 0, raw = 0, bytes = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t e, r, z;
        if (!trl_varint_get(&q, end, &e) || !trl_varint_get(&q, end, &r) ||
            !trl_varint_get(&q, end, &z) || e == 0 || e > v->count - events || r == 0 ||
            r > raw_len - raw || z == 0 || z > stored)
            return TRL_EINVAL;
        ps->p[k] = (struct trl_json_part){(uint32_t)events, (uint32_t)e, (uint32_t)r,
                                          (uint32_t)bytes, (uint32_t)z};
        events += e;
        raw += r;
        bytes += z;
    }
    uint32_t frames = (uint32_t)(q - v->data);
    if (events != v->count || raw != raw_len || bytes != (uint64_t)(end - q) ||
        prefix > ps->p[0].raw_len || (n == 1 && prefix > 0))
        return TRL_EINVAL;
    ps->prefix_len = (uint32_t)prefix;
    for (uint64_t k = 0; k < n; k++)
        ps->p[k].off += frames;
    ps->n = (uint32_t)n;
    return 0;
}

int trl_block_json_read(void **dctx, const struct trl_block_view *v,
                        const struct trl_json_parts *ps, const uint8_t *sel, uint8_t *dst,
                        size_t *len, uint32_t *first)
{
    bool zstd = v->cols[TRL_COL_JSON].codec != 0;
    if (zstd && !*dctx && !(*dctx = ZSTD_createDCtx()))
        return -ENOMEM;
    size_t at = 0;
    uint32_t j = 0;
    for (uint32_t k = 0; k < ps->n; k++) {
        const struct trl_json_part *pt = &ps->p[k];
        if (sel && !sel[k])
            continue;
        const uint8_t *src = v->data + pt->off;
        if (!zstd) {
            memcpy(dst + at, src, pt->raw_len);
        } else {
            /* The size a frame claims must be the directory's before it is decompressed. */
            if (pt->raw_len == 0 || ZSTD_getFrameContentSize(src, pt->stored_len) != pt->raw_len)
                return TRL_EINVAL;
            /* The end of the first part, written first, is the prefix of the others (for this
             * frame only). */
            if (k > 0 && ps->prefix_len > 0 &&
                ((sel && !sel[0]) ||
                 ZSTD_isError(ZSTD_DCtx_refPrefix(*dctx, dst + ps->p[0].raw_len - ps->prefix_len,
                                                  ps->prefix_len))))
                return TRL_EINVAL;
            size_t z = ZSTD_decompressDCtx(*dctx, dst + at, pt->raw_len, src, pt->stored_len);
            if (ZSTD_isError(z) || z != pt->raw_len)
                return TRL_EINVAL;
        }
        at += pt->raw_len;
        if (first)
            first[j] = pt->first;
        j++;
    }
    *len = at;
    return 0;
}

static int column_bytes(struct trl_block_decoder *d, const struct trl_block_view *v, enum trl_col c,
                        const uint8_t **out, size_t *out_len)
{
    const uint8_t *src = v->data + v->cols[c].off;
    size_t stored = v->cols[c].stored_len, raw_len = v->cols[c].raw_len;
    if (v->cols[c].codec == 0) {
        if (v->cols[c].dict)
            return expand_dict(d, c, src, raw_len, v->count, out, out_len);
        *out = src;
        *out_len = raw_len;
        return 0;
    }
    if (v->cols[c].codec == CODEC_PARTS) {
        int rc = trl_block_json_parts(v, &d->parts);
        if (rc != 0)
            return rc;
        if (d->raw_cap[c] < raw_len) {
            free(d->raw[c]);
            d->raw[c] = trl_xmalloc(raw_len);
            d->raw_cap[c] = raw_len;
        }
        rc = trl_block_json_read(&d->dctx, v, &d->parts, NULL, d->raw[c], out_len, NULL);
        *out = d->raw[c];
        return rc;
    }
    /* The size the frame claims must match the directory (itself capped at
     * TRL_BLOCK_MAX_COL_BYTES) before anything is allocated for it. */
    unsigned long long fsize = ZSTD_getFrameContentSize(src, stored);
    if (fsize != raw_len || raw_len == 0)
        return TRL_EINVAL;
    if (!d->dctx) {
        d->dctx = ZSTD_createDCtx();
        if (!d->dctx)
            return -ENOMEM;
    }
    uint8_t **dst = v->cols[c].dict ? &d->packed : &d->raw[c];
    size_t *cap = v->cols[c].dict ? &d->packed_cap : &d->raw_cap[c];
    if (*cap < raw_len) {
        free(*dst);
        *dst = trl_xmalloc(raw_len);
        *cap = raw_len;
    }
    size_t n = ZSTD_decompressDCtx(d->dctx, *dst, raw_len, src, stored);
    if (ZSTD_isError(n) || n != raw_len)
        return TRL_EINVAL;
    if (v->cols[c].dict)
        return expand_dict(d, c, d->packed, raw_len, v->count, out, out_len);
    *out = *dst;
    *out_len = raw_len;
    return 0;
}

static int decode_ts(struct trl_block_decoder *d, const uint8_t *p, size_t len, uint32_t count)
{
    if (d->ts_cap < count) {
        free(d->ts);
        d->ts = trl_xmalloc(count * sizeof(*d->ts));
        d->ts_cap = count;
    }
    const uint8_t *end = p + len;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t z;
        if (!trl_varint_get(&p, end, &z))
            return TRL_EINVAL;
        uint64_t delta = (z >> 1) ^ (uint64_t)(-(int64_t)(z & 1));
        prev += delta;
        d->ts[i] = (int64_t)prev;
    }
    return p == end ? 0 : TRL_EINVAL;
}

static void strcol_reserve(struct trl_strcol *s, size_t nfirst, size_t nvals)
{
    if (s->first_cap < nfirst) {
        free(s->first);
        s->first = trl_xmalloc(nfirst * sizeof(*s->first));
        s->first_cap = nfirst;
    }
    if (s->vals_cap < nvals) {
        size_t cap = s->vals_cap ? s->vals_cap : 256;
        while (cap < nvals)
            cap *= 2;
        s->vals = trl_xrealloc(s->vals, cap * sizeof(*s->vals));
        s->vals_cap = cap;
    }
}

static int decode_strings(struct trl_strcol *s, const uint8_t *p, size_t len, uint32_t count,
                          bool one_per_event)
{
    const uint8_t *end = p + len;
    strcol_reserve(s, (size_t)count + 1, count);
    size_t nv = 0;
    for (uint32_t i = 0; i < count; i++) {
        s->first[i] = (uint32_t)nv;
        uint64_t k = 1;
        if (!one_per_event && !trl_varint_get(&p, end, &k))
            return TRL_EINVAL;
        /* Every value takes at least one byte (its length), which bounds k. */
        if (k > (uint64_t)(end - p))
            return TRL_EINVAL;
        strcol_reserve(s, (size_t)count + 1, nv + (size_t)k);
        for (uint64_t j = 0; j < k; j++) {
            uint64_t vlen;
            if (!trl_varint_get(&p, end, &vlen) || vlen > (uint64_t)(end - p))
                return TRL_EINVAL;
            s->vals[nv].ptr = (const char *)p;
            s->vals[nv].len = (size_t)vlen;
            nv++;
            p += vlen;
        }
    }
    s->first[count] = (uint32_t)nv;
    return p == end ? 0 : TRL_EINVAL;
}

/* The JSON column of a version 2 or 3 block: rebuilt into the decoder's buffer, one value per
 * event. Version 3 stores times as deltas from the events' timestamps: those are decoded first. */
static int decode_shredded(struct trl_block_decoder *d, const struct trl_block_view *v,
                           const uint8_t *p, size_t len, uint32_t count)
{
    const int64_t *ts = NULL;
    if (v->version >= 3) {
        int rc = trl_block_decode(d, v, TRL_COL_TS);
        if (rc != 0)
            return rc;
        ts = d->ts;
    }
    if (d->json_off_cap < (size_t)count + 1) {
        free(d->json_off);
        d->json_off_cap = (size_t)count + 1;
        d->json_off = trl_xmalloc(d->json_off_cap * sizeof(*d->json_off));
    }
    /* Format 4 changed the keyword columns only: its JSON column is that of format 3; format 5
     * cuts it into parts, each that of format 3. */
    int shred_version = v->version >= 3 ? 3 : 2;
    int rc = v->version >= TRL_BLOCK_VERSION
                 ? trl_json_unshred_parts(p, len, count, ts, TRL_BLOCK_MAX_COL_BYTES, &d->unshred,
                                          d->json_off)
                 : trl_json_unshred_ts(p, len, count, shred_version, ts, TRL_BLOCK_MAX_COL_BYTES,
                                       &d->unshred, d->json_off);
    if (rc != 0)
        return rc;
    struct trl_strcol *s = &d->str[TRL_COL_JSON];
    strcol_reserve(s, (size_t)count + 1, count);
    for (uint32_t i = 0; i < count; i++) {
        s->first[i] = i;
        s->vals[i].ptr = d->unshred.json + d->json_off[i];
        s->vals[i].len = d->json_off[i + 1] - d->json_off[i];
    }
    s->first[count] = count;
    return 0;
}

int trl_block_decode(struct trl_block_decoder *d, const struct trl_block_view *v, enum trl_col c)
{
    if ((unsigned)c >= TRL_COL__COUNT)
        return TRL_EINVAL;
    if (d->decoded[c])
        return 0;
    d->count = v->count;
    const uint8_t *p = NULL;
    size_t len = 0;
    if (v->cols[c].present && v->cols[c].raw_len > 0) {
        int rc = column_bytes(d, v, c, &p, &len);
        if (rc != 0)
            return rc;
    } else if (c == TRL_COL_TS || c == TRL_COL_JSON) {
        return TRL_EINVAL;
    }
    int rc;
    if (c == TRL_COL_TS) {
        rc = decode_ts(d, p, len, v->count);
    } else if (!p) {
        /* An absent or empty keyword column: no event has a value. */
        struct trl_strcol *s = &d->str[c];
        strcol_reserve(s, (size_t)v->count + 1, 1);
        memset(s->first, 0, ((size_t)v->count + 1) * sizeof(*s->first));
        rc = 0;
    } else if (c == TRL_COL_JSON && v->version != TRL_BLOCK_VERSION_ROWS) {
        rc = decode_shredded(d, v, p, len, v->count);
    } else {
        rc = decode_strings(&d->str[c], p, len, v->count, c == TRL_COL_JSON);
    }
    if (rc == 0)
        d->decoded[c] = true;
    return rc;
}

int trl_block_decode_slices(struct trl_block_decoder *d, const struct trl_block_view *v,
                            enum trl_col c, uint32_t *start, uint32_t *nvals, const uint8_t **bytes)
{
    if (c <= TRL_COL_TS || c >= TRL_COL_JSON)
        return TRL_EINVAL;
    const uint8_t *p = NULL;
    size_t len = 0;
    if (v->cols[c].present && v->cols[c].raw_len > 0) {
        /* Decompresses into the buffer trl_block_decode() uses: when the column is decoded
         * already, the same bytes land in the same place, so its values stay valid. */
        int rc = column_bytes(d, v, c, &p, &len);
        if (rc != 0)
            return rc;
    }
    *bytes = p;
    if (!p) {
        memset(start, 0, ((size_t)v->count + 1) * sizeof(*start));
        memset(nvals, 0, (size_t)v->count * sizeof(*nvals));
        return 0;
    }
    /* The checks of decode_strings(): a column one accepts, the other does too. */
    const uint8_t *q = p, *end = p + len;
    for (uint32_t i = 0; i < v->count; i++) {
        start[i] = (uint32_t)(q - p);
        uint64_t k;
        if (!trl_varint_get(&q, end, &k) || k > (uint64_t)(end - q))
            return TRL_EINVAL;
        nvals[i] = (uint32_t)k;
        for (uint64_t j = 0; j < k; j++) {
            uint64_t vlen;
            if (!trl_varint_get(&q, end, &vlen) || vlen > (uint64_t)(end - q))
                return TRL_EINVAL;
            q += vlen;
        }
    }
    start[v->count] = (uint32_t)len;
    return q == end ? 0 : TRL_EINVAL;
}

/* ------------------------------------------------------------------------------------------ */
/* Meta                                                                                        */

static bool skip_values(const uint8_t **p, const uint8_t *end, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (!trl_varint_get(p, end, &len) || len > (uint64_t)(end - *p))
            return false;
        *p += len;
    }
    return true;
}

static bool read_str(const uint8_t **p, const uint8_t *end, struct trl_str *s)
{
    uint64_t len;
    if (!trl_varint_get(p, end, &len) || len > (uint64_t)(end - *p))
        return false;
    s->ptr = (const char *)*p;
    s->len = (size_t)len;
    *p += len;
    return true;
}

int trl_block_meta_parse(const void *data, size_t len, struct trl_block_meta *m)
{
    memset(m, 0, sizeof(*m));
    const uint8_t *p = data;
    if (!p || len < META_HDR_LEN || memcmp(p, META_MAGIC, 4) != 0 ||
        p[4] != TRL_BLOCK_META_VERSION || p[5] < TRL_TERMS_HASH_VERSION_MIN ||
        p[5] > TRL_TERMS_HASH_VERSION || p[6] < 1 || p[6] > 16)
        return TRL_EINVAL;
    m->bloom.k = p[6];
    m->bloom.version = p[5];
    unsigned nsum = p[7];
    m->count = trl_get_u32le(p + 8);
    m->min_ts = (int64_t)trl_get_u64le(p + 12);
    m->max_ts = (int64_t)trl_get_u64le(p + 20);
    uint32_t nbits = trl_get_u32le(p + 28);
    if (m->count == 0 || m->count > TRL_BLOCK_MAX_EVENTS || m->min_ts > m->max_ts || nbits == 0 ||
        nbits % 8 != 0)
        return TRL_EINVAL;
    /* A ribbon filter is whole groups of 64 slots of k bits. */
    if (m->bloom.version >= TRL_TERMS_HASH_VERSION_RIBBON && nbits % (64u * m->bloom.k) != 0)
        return TRL_EINVAL;
    const uint8_t *q = p + META_HDR_LEN, *end = p + len;
    for (unsigned i = 0; i < nsum; i++) {
        if (end - q < 6)
            return TRL_EINVAL;
        unsigned c = q[0], flags = q[1];
        if (c < TRL_COL_HOST_NAME || c > TRL_COL_EVENT_CODE || m->sum[c].present || flags > 3)
            return TRL_EINVAL;
        struct trl_block_summary *s = &m->sum[c];
        s->present = true;
        s->nonempty = trl_get_u32le(q + 2);
        q += 6;
        if (flags & 2) {
            s->has_minmax = true;
            if (!read_str(&q, end, &s->min) || !read_str(&q, end, &s->max))
                return TRL_EINVAL;
        }
        if (flags & 1) {
            uint64_t n;
            if (!trl_varint_get(&q, end, &n) || n > TRL_BLOCK_SUMMARY_VALUES)
                return TRL_EINVAL;
            const uint8_t *start = q;
            if (!skip_values(&q, end, n))
                return TRL_EINVAL;
            s->set_complete = true;
            s->nvalues = (uint32_t)n;
            s->values = start;
            s->values_len = (size_t)(q - start);
        }
    }
    if ((size_t)(end - q) != nbits / 8)
        return TRL_EINVAL;
    m->bloom.bits = q;
    m->bloom.nbits = nbits;
    if (m->bloom.version >= 2)
        m->bloom.salt = trl_bloom_salt(m->count, m->min_ts, m->max_ts, nbits);
    return 0;
}

bool trl_block_summary_any(const struct trl_block_summary *s,
                           bool (*fn)(void *ud, const char *v, size_t len), void *ud)
{
    const uint8_t *p = s->values, *end = s->values + s->values_len;
    for (uint32_t i = 0; i < s->nvalues; i++) {
        struct trl_str v;
        if (!read_str(&p, end, &v))
            return false;
        if (fn(ud, v.ptr, v.len))
            return true;
    }
    return false;
}
