/*
 * terms: how the event store turns text into index terms, and the Bloom filter that holds them.
 *
 * A token is a maximal run of word bytes (ASCII letters and digits, '_', and every byte >= 0x80);
 * everything else separates tokens. Tokens are compared case-insensitively (ASCII only): hashing
 * lowercases as it goes. Two kinds of terms go into a block's index:
 *   - text terms: every token of every value (except @timestamp and event.created), and every
 *     pair of adjacent tokens joined by one of . : - / @ \ (see trl_term_index_terms);
 *   - field terms: the whole lower-cased value of every non-text field, keyed by its dotted path.
 * The hashes and the Bloom probes are part of the on-disk format, versioned by the meta blob's
 * term hash version: a change makes every stored index useless, so nothing changes within a
 * version. Version 1 probes every block's filter at the same relative positions for a term;
 * version 2 (what blocks are written with) first mixes the term hash with a per-block salt (see
 * trl_bloom_salt()). Readers accept both.
 *
 * Everything here is pure; a termset is owned by one thread. Safe from any thread otherwise.
 */
#ifndef TRL_STORE_TERMS_H
#define TRL_STORE_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version new blocks are written with; TRL_TERMS_HASH_VERSION_MIN..this are read. */
#define TRL_TERMS_HASH_VERSION     2
#define TRL_TERMS_HASH_VERSION_MIN 1

extern const uint8_t trl_term_wordchar[256];

static inline bool trl_term_is_word(unsigned char c)
{
    return trl_term_wordchar[c] != 0;
}

static inline unsigned char trl_ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Hash of one token for the text index (lower-cased while hashing). */
uint64_t trl_term_text_hash(const char *tok, size_t len);
/* Hash of a field term: dotted path and whole value, both lower-cased while hashing. It is
 * trl_term_field_combine(trl_term_path_hash(path), trl_term_value_hash(value)), so a writer can
 * reuse a value's hash (also used to skip values already tokenized). */
uint64_t trl_term_field_hash(const char *path, size_t path_len, const char *val, size_t val_len);
uint64_t trl_term_path_hash(const char *path, size_t len);
uint64_t trl_term_value_hash(const char *val, size_t len);
uint64_t trl_term_field_combine(uint64_t path_hash, uint64_t value_hash);

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

/* Bloom filter over term hashes: nbits bits, k probes derived from one 64-bit hash. Version 1
 * derives the probes from the term hash alone, so a term probes the same relative positions in
 * every block and blocks with similar term sets share their false positives: an absent term is
 * either rejected nearly everywhere or reported in many blocks. Version 2 derives them from the
 * term hash mixed with the block's salt, which makes false positives independent from block to
 * block. */
struct trl_bloom {
    const uint8_t *bits;
    uint32_t nbits;
    uint8_t k;
    uint8_t version; /* term hash version: 1 or 2 */
    uint64_t salt;   /* version 2 only */
};

/* Bits to allocate for n distinct terms at bits_per_term (rounded up to whole bytes, >= 64). */
uint32_t trl_bloom_size_bits(size_t n, unsigned bits_per_term);
/* Probes that minimise false positives at bits_per_term (ln 2 * bits), between 1 and 16. */
uint8_t trl_bloom_best_k(unsigned bits_per_term);
/* The salt of a version 2 filter, derived from fields of the meta header that sit beside it (event
 * count, time bounds, filter size), so it costs no bytes and a reader recomputes it. Two blocks
 * that agree on all four share a salt, which only correlates those two. */
uint64_t trl_bloom_salt(uint32_t count, int64_t min_ts, int64_t max_ts, uint32_t nbits);
/* Sets the k bits of h in bits, a filter of shape b (b->bits is not used). */
void trl_bloom_add(uint8_t *bits, const struct trl_bloom *b, uint64_t h);
/* False when h is certainly not in the filter; true when it may be (or the filter is empty). */
bool trl_bloom_maybe(const struct trl_bloom *b, uint64_t h);

#endif
