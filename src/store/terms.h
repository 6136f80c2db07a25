/*
 * terms: how the event store turns text into index terms, and the Bloom filter that holds them.
 *
 * A token is a maximal run of word bytes (ASCII letters and digits, '_', and every byte >= 0x80);
 * everything else separates tokens. Tokens are compared case-insensitively (ASCII only): hashing
 * lowercases as it goes. Two kinds of terms go into a block's index:
 *   - text terms: every token of every value (except @timestamp and event.created), and every
 *     pair of adjacent tokens joined by one of . : - / @ \ (see trl_term_index_terms);
 *   - field terms: the whole lower-cased value of every non-text field, keyed by its dotted path.
 * The hashes and the filter probes are part of the on-disk format, versioned by the meta blob's
 * term hash version: a change makes every stored index useless, so nothing changes within a
 * version. Version 1 probes every block's Bloom filter at the same relative positions for a term;
 * version 2 first mixes the term hash with a per-block salt (see trl_bloom_salt()); version 3
 * (what blocks are written with) keeps the salt and replaces the Bloom filter by a ribbon filter,
 * which answers with the same false-positive rate in about 80% of the bits. Readers accept all
 * three.
 *
 * Everything here is pure; a termset is owned by one thread. Safe from any thread otherwise.
 */
#ifndef TRL_STORE_TERMS_H
#define TRL_STORE_TERMS_H

#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version new blocks are written with; TRL_TERMS_HASH_VERSION_MIN..this are read. */
#define TRL_TERMS_HASH_VERSION     3
#define TRL_TERMS_HASH_VERSION_MIN 1
/* The first version whose filter is a ribbon filter rather than a Bloom filter. */
#define TRL_TERMS_HASH_VERSION_RIBBON 3

extern const uint8_t trl_term_wordchar[256];

static inline bool trl_term_is_word(unsigned char c)
{
    return trl_term_wordchar[c] != 0;
}

static inline unsigned char trl_ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* The term hash (term hash versions 1 to 3), inline so that the block builder, which hashes a
 * few terms per event, does not pay a call for each. Seeds keep text terms and field terms apart:
 * the token "root" and the field term user.name=root must not share a hash. */
#define TRL_TERM_SEED_TEXT  0x5472706c54657874ULL
#define TRL_TERM_SEED_FIELD 0x5472706c4669656cULL
#define TRL_TERM_SEED_VALUE 0x5472706c56616c75ULL

static inline uint64_t trl_term_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline uint32_t trl_term_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t trl_term_le64(const unsigned char *p)
{
    return (uint64_t)trl_term_le32(p) | (uint64_t)trl_term_le32(p + 4) << 32;
}

/* The bytes are read as little-endian words whatever the host, so stored indexes are portable. */
static inline __attribute__((always_inline)) uint64_t trl_term_hash_lower(uint64_t seed,
                                                                          const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w = trl_ascii_lower8(trl_term_le64(p));
        h = (h ^ trl_term_mix64(w)) * 0x9e3779b97f4a7c15ULL;
        h = (h << 29) | (h >> 35);
        p += 8;
        len -= 8;
    }
    if (len) {
        /* The last 1..7 bytes in one word without a byte loop: two overlapping 4-byte reads, or
         * first/middle/last byte. Not the bytes in order, but a fixed function of them (and
         * the length is in the seed), which is all a hash needs. */
        uint64_t w;
        if (len >= 4)
            w = (uint64_t)trl_term_le32(p) | (uint64_t)trl_term_le32(p + len - 4) << 32;
        else
            w = (uint64_t)p[0] | (uint64_t)p[len / 2] << 8 | (uint64_t)p[len - 1] << 16;
        w = trl_ascii_lower8(w);
        h = (h ^ trl_term_mix64(w)) * 0x9e3779b97f4a7c15ULL;
    }
    return trl_term_mix64(h);
}

/* Hash of one token for the text index (lower-cased while hashing). */
uint64_t trl_term_text_hash(const char *tok, size_t len);
/* Hash of a field term: dotted path and whole value, both lower-cased while hashing. It is
 * trl_term_field_combine(trl_term_path_hash(path), trl_term_value_hash(value)), so a writer can
 * reuse a value's hash (also used to skip values already tokenized). */
uint64_t trl_term_field_hash(const char *path, size_t path_len, const char *val, size_t val_len);
uint64_t trl_term_path_hash(const char *path, size_t len);
uint64_t trl_term_value_hash(const char *val, size_t len);
static inline uint64_t trl_term_field_combine(uint64_t path_hash, uint64_t value_hash)
{
    return trl_term_mix64(path_hash * 0x9e3779b97f4a7c15ULL + value_hash);
}

/* Calls fn(ud, token, len) for every token of [p, p+len). */
void trl_term_tokens(const char *p, size_t len, void (*fn)(void *ud, const char *tok, size_t n),
                     void *ud);

/* True for the separators that join tokens into compound terms: . : - / @ \ (addresses, paths,
 * host names, times). */
static inline bool trl_term_is_joiner(unsigned char c)
{
    return c == '.' || c == ':' || c == '-' || c == '/' || c == '@' || c == '\\';
}

/* Like trl_term_tokens(), and also reports every pair of adjacent tokens separated by exactly one
 * joiner, as the span "tok1<joiner>tok2" ("10.0", "0.5" for 10.0.0.5). These pair terms let a
 * search for 203.0.113.45 skip blocks that only have the digits apart. */
void trl_term_index_terms(const char *p, size_t len,
                          void (*fn)(void *ud, const char *term, size_t n), void *ud);

/* A set of distinct 64-bit term hashes (open addressing). */
struct trl_termset {
    uint64_t *slots;
    size_t cap; /* power of two */
    size_t count;
    bool has_zero; /* the hash 0 is kept aside: 0 marks an empty slot */
};

void trl_termset_init(struct trl_termset *s);
void trl_termset_free(struct trl_termset *s);
void trl_termset_clear(struct trl_termset *s);
void trl_termset_add(struct trl_termset *s, uint64_t h);
/* Like trl_termset_add(); true when h was not in the set yet. */
bool trl_termset_insert(struct trl_termset *s, uint64_t h);
/* Calls fn for every hash in the set, in no particular order. */
void trl_termset_each(const struct trl_termset *s, void (*fn)(void *ud, uint64_t h), void *ud);

/* A block's filter over term hashes. Versions 1 and 2: a Bloom filter of nbits bits, k probes
 * derived from one 64-bit hash. Version 1 derives the probes from the term hash alone, so a term
 * probes the same relative positions in every block and blocks with similar term sets share their
 * false positives: an absent term is either rejected nearly everywhere or reported in many
 * blocks. Version 2 derives them from the term hash mixed with the block's salt, which makes
 * false positives independent from block to block.
 *
 * Version 3: a ribbon filter (a linear system over GF(2) solved for the block's terms): the salted
 * hash of a term picks a start slot s, a 64-bit coefficient row c and a k-bit fingerprint f, and
 * the term is in the filter when the XOR of the k-bit solutions of the slots s + j for every bit j
 * set in c equals f. Every term of the block satisfies its equation; any other hash does by
 * chance, 2^-k. nbits = slots x k, slots a multiple of 64; the bits are stored per group of 64
 * slots as k little-endian 64-bit words, word b holding bit b of the 64 slots' solutions. */
struct trl_bloom {
    const uint8_t *bits;
    uint32_t nbits;
    uint8_t k;       /* Bloom probes (versions 1, 2) or fingerprint bits (version 3) */
    uint8_t version; /* term hash version: 1, 2 or 3 */
    uint64_t salt;   /* versions 2 and 3 */
};

/* Bits to allocate for n distinct terms at bits_per_term (rounded up to whole bytes, >= 64). */
uint32_t trl_bloom_size_bits(size_t n, unsigned bits_per_term);
/* Probes that minimise false positives at bits_per_term (ln 2 * bits), between 1 and 16. */
uint8_t trl_bloom_best_k(unsigned bits_per_term);
/* The salt of a version 2 filter, derived from fields of the meta header that sit beside it (event
 * count, time bounds, filter size), so it costs no bytes and a reader recomputes it. Two blocks
 * that agree on all four share a salt, which only correlates those two. */
uint64_t trl_bloom_salt(uint32_t count, int64_t min_ts, int64_t max_ts, uint32_t nbits);
/* Sets the k bits of h in bits, a Bloom filter (version 1 or 2) of shape b (b->bits is not
 * used). */
void trl_bloom_add(uint8_t *bits, const struct trl_bloom *b, uint64_t h);

/* Fingerprint bits of a ribbon filter at most as often wrong as a Bloom filter of bits_per_term
 * bits per term (k with 2^-k <= 0.6185^bits_per_term), between 1 and 16. */
uint8_t trl_ribbon_fingerprint_bits(unsigned bits_per_term);
/* Slots to try first for n terms: about 8% more than n, a multiple of 64. */
uint32_t trl_ribbon_slots(size_t n);

/* Builds a ribbon filter: trl_ribbon_begin(), trl_ribbon_add() for every distinct term, then
 * trl_ribbon_solve(). The scratch arrays are kept for the next filter (solving leaves them free,
 * so the next filter need not clear them). Zero-initialise before the first use. */
struct trl_ribbon {
    uint64_t *coef;   /* per slot: the row whose first bit is this slot, 0 while free */
    uint16_t *result; /* per slot: that row's fingerprint */
    size_t cap;
    bool dirty; /* rows were added since the last solve */
    uint32_t slots;
    uint8_t k;
    uint64_t salt;
};

void trl_ribbon_free(struct trl_ribbon *r);
void trl_ribbon_begin(struct trl_ribbon *r, uint32_t slots, uint8_t k, uint64_t salt);
/* False when h's equation contradicts those added before (a few blocks in a hundred: the caller
 * starts over with 64 more slots, which also changes the salt). */
bool trl_ribbon_add(struct trl_ribbon *r, uint64_t h);
/* trl_ribbon_add() for n hashes in turn; false at the first that contradicts. */
bool trl_ribbon_add_all(struct trl_ribbon *r, const uint64_t *h, size_t n);
/* Writes the filter's slots x k / 8 bytes. */
void trl_ribbon_solve(struct trl_ribbon *r, uint8_t *out);
/* False when h is certainly not in the filter; true when it may be (or the filter is empty). */
bool trl_bloom_maybe(const struct trl_bloom *b, uint64_t h);

#endif
