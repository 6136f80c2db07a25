#include "store/terms.h"
#include "core/util.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

const uint8_t trl_term_wordchar[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['_'] = 1, [128 ... 255] = 1,
};

uint64_t trl_term_text_hash(const char *tok, size_t len)
{
    return trl_term_hash_lower(TRL_TERM_SEED_TEXT, tok, len);
}

uint64_t trl_term_value_hash(const char *val, size_t len)
{
    return trl_term_hash_lower(TRL_TERM_SEED_VALUE, val, len);
}

uint64_t trl_term_path_hash(const char *path, size_t len)
{
    return trl_term_hash_lower(TRL_TERM_SEED_FIELD, path, len);
}

uint64_t trl_term_field_hash(const char *path, size_t path_len, const char *val, size_t val_len)
{
    return trl_term_field_combine(trl_term_path_hash(path, path_len),
                                  trl_term_value_hash(val, val_len));
}

void trl_term_tokens(const char *p, size_t len, void (*fn)(void *ud, const char *tok, size_t n),
                     void *ud)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        while (i < len && !trl_term_wordchar[u[i]])
            i++;
        size_t start = i;
        while (i < len && trl_term_wordchar[u[i]])
            i++;
        if (i > start)
            fn(ud, p + start, i - start);
    }
}

void trl_term_index_terms(const char *p, size_t len,
                          void (*fn)(void *ud, const char *term, size_t n), void *ud)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0, prev_start = 0, prev_end = 0;
    bool have_prev = false;
    while (i < len) {
        while (i < len && !trl_term_wordchar[u[i]])
            i++;
        size_t start = i;
        while (i < len && trl_term_wordchar[u[i]])
            i++;
        if (i == start)
            break;
        fn(ud, p + start, i - start);
        if (have_prev && start == prev_end + 1 && trl_term_is_joiner(u[prev_end]))
            fn(ud, p + prev_start, i - prev_start);
        have_prev = true;
        prev_start = start;
        prev_end = i;
    }
}

void trl_termset_init(struct trl_termset *s)
{
    memset(s, 0, sizeof(*s));
}

void trl_termset_free(struct trl_termset *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

void trl_termset_clear(struct trl_termset *s)
{
    if (s->slots)
        memset(s->slots, 0, s->cap * sizeof(*s->slots));
    s->count = 0;
    s->has_zero = false;
}

static void termset_grow(struct trl_termset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 4096;
    uint64_t *n = trl_xcalloc(ncap, sizeof(*n));
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t h = s->slots[i];
        if (!h)
            continue;
        size_t j = (size_t)h & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = h;
    }
    free(s->slots);
    s->slots = n;
    s->cap = ncap;
}

bool trl_termset_insert(struct trl_termset *s, uint64_t h)
{
    if (h == 0) {
        if (s->has_zero)
            return false;
        s->has_zero = true;
        s->count++;
        return true;
    }
    /* Keep the load under one half: probes stay short. */
    if ((s->count + 1) * 2 > s->cap)
        termset_grow(s);
    size_t mask = s->cap - 1;
    size_t j = (size_t)h & mask;
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return false;
        j = (j + 1) & mask;
    }
    s->slots[j] = h;
    s->count++;
    return true;
}

void trl_termset_add(struct trl_termset *s, uint64_t h)
{
    (void)trl_termset_insert(s, h);
}

void trl_termset_each(const struct trl_termset *s, void (*fn)(void *ud, uint64_t h), void *ud)
{
    if (s->has_zero)
        fn(ud, 0);
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i])
            fn(ud, s->slots[i]);
    }
}

uint32_t trl_bloom_size_bits(size_t n, unsigned bits_per_term)
{
    uint64_t bits = (uint64_t)n * bits_per_term;
    if (bits < 64)
        bits = 64;
    /* Blocks hold at most a few hundred thousand distinct terms; stay far below 2^32 bits. */
    if (bits > (1ULL << 31))
        bits = 1ULL << 31;
    return (uint32_t)((bits + 7) & ~7ULL);
}

uint8_t trl_bloom_best_k(unsigned bits_per_term)
{
    unsigned k = (bits_per_term * 69 + 50) / 100;
    return (uint8_t)(k < 1 ? 1 : k > 16 ? 16 : k);
}

uint64_t trl_bloom_salt(uint32_t count, int64_t min_ts, int64_t max_ts, uint32_t nbits)
{
    uint64_t h = trl_term_mix64((uint64_t)min_ts ^ 0x5472706c53616c74ULL);
    h = trl_term_mix64(h ^ (uint64_t)max_ts);
    return trl_term_mix64(h ^ ((uint64_t)count << 32 | nbits));
}

/* The hash the probes are taken from: the term hash itself in version 1, mixed with the block's
 * salt in version 2. */
static inline uint64_t probe_key(const struct trl_bloom *b, uint64_t h)
{
    return b->version >= 2 ? trl_term_mix64(h ^ b->salt) : h;
}

/* Probe i of key h: double hashing over the two halves, mapped onto [0, nbits) by a multiply
 * instead of a modulo. */
static inline uint32_t probe(uint64_t h, unsigned i, uint32_t nbits)
{
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
    uint32_t x = h1 + i * h2;
    return (uint32_t)(((uint64_t)x * nbits) >> 32);
}

void trl_bloom_add(uint8_t *bits, const struct trl_bloom *b, uint64_t h)
{
    uint64_t key = probe_key(b, h);
    for (unsigned i = 0; i < b->k; i++) {
        uint32_t x = probe(key, i, b->nbits);
        bits[x >> 3] |= (uint8_t)(1u << (x & 7));
    }
}

/* A term's equation in a ribbon filter of the given slots: start slot, coefficient row (bit 0
 * set: the row's first bit is the start slot) and fingerprint, from independent parts of the
 * salted hash. */
static inline void ribbon_row(uint64_t h, uint64_t salt, uint32_t slots, uint8_t k, uint32_t *start,
                              uint64_t *coef, uint32_t *fp)
{
    uint64_t key = trl_term_mix64(h ^ salt);
    *start = (uint32_t)(((key >> 32) * (uint64_t)(slots - 63)) >> 32);
    *coef = trl_term_mix64(key ^ 0x5472706c52696262ULL) | 1;
    *fp = (uint32_t)key & ((1u << k) - 1);
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return le64toh(w);
}

/* The filter's work is parities of 64-bit words, one instruction where the CPU counts bits
 * (x86-64 since 2008) and a dozen where the compiler folds the word instead: the functions doing
 * it are compiled for both, and the CPU picks. */
#if defined(__x86_64__) && defined(__GNUC__)
#define RIBBON_BOTH(ret, name, params, args)                                                       \
    __attribute__((target("popcnt"))) static ret name##_popcnt params                              \
    {                                                                                              \
        return name##_body args;                                                                   \
    }                                                                                              \
    static ret name##_plain params                                                                 \
    {                                                                                              \
        return name##_body args;                                                                   \
    }
#define RIBBON_PICK(name, args)                                                                    \
    (__builtin_cpu_supports("popcnt") ? name##_popcnt args : name##_plain args)
#else
#define RIBBON_BOTH(ret, name, params, args)                                                       \
    static ret name##_plain params                                                                 \
    {                                                                                              \
        return name##_body args;                                                                   \
    }
#define RIBBON_PICK(name, args) name##_plain args
#endif

static inline __attribute__((always_inline)) bool ribbon_maybe_body(const struct trl_bloom *b,
                                                                    uint64_t h)
{
    uint32_t slots = b->nbits / b->k, start, fp;
    uint64_t coef;
    ribbon_row(h, b->salt, slots, b->k, &start, &coef, &fp);
    const uint8_t *w0 = b->bits + (size_t)(start / 64) * b->k * 8, *w1 = w0 + (size_t)b->k * 8;
    unsigned o = start % 64;
    uint32_t got = 0;
    for (unsigned i = 0; i < b->k; i++) {
        uint64_t w = load64(w0 + 8 * i) >> o;
        if (o)
            w |= load64(w1 + 8 * i) << (64 - o);
        got |= (uint32_t)__builtin_parityll(w & coef) << i;
    }
    return got == fp;
}

RIBBON_BOTH(bool, ribbon_maybe, (const struct trl_bloom *b, uint64_t h), (b, h))

uint8_t trl_ribbon_fingerprint_bits(unsigned bits_per_term)
{
    /* -log2(0.6185) = 0.6931: bits of fingerprint per Bloom bit at the Bloom filter's best k. */
    unsigned k = (bits_per_term * 6931 + 9999) / 10000;
    return (uint8_t)(k < 1 ? 1 : k > 16 ? 16 : k);
}

uint32_t trl_ribbon_slots(size_t n)
{
    /* Rows of 64 bits need some slack to be solvable: 8% and a group of 64, measured to fail
     * never in 200 tries up to 3,000 terms, 1.5% at 20,000 and 6% at 60,000. */
    uint64_t slots = (uint64_t)n + n / 12 + 64;
    if (slots > (1ULL << 27))
        slots = 1ULL << 27;
    return (uint32_t)((slots + 63) & ~63ULL);
}

void trl_ribbon_free(struct trl_ribbon *r)
{
    free(r->coef);
    free(r->result);
    memset(r, 0, sizeof(*r));
}

void trl_ribbon_begin(struct trl_ribbon *r, uint32_t slots, uint8_t k, uint64_t salt)
{
    /* Grown for one outsized block, the arrays shrink back at the next ordinary one. */
    if (r->cap < slots || r->cap > 4 * (size_t)slots + 65536) {
        free(r->coef);
        free(r->result);
        r->coef = trl_xcalloc(slots, sizeof(*r->coef));
        r->result = trl_xmalloc((size_t)slots * sizeof(*r->result));
        r->cap = slots;
    } else if (r->dirty) {
        /* Rows of a filter left unsolved (its system had no solution). */
        memset(r->coef, 0, (size_t)r->slots * sizeof(*r->coef));
    }
    r->dirty = false;
    r->slots = slots;
    r->k = k;
    r->salt = salt;
}

/* Gaussian elimination on the band: reduces the row by the rows already pivoted where it starts,
 * until it starts on a free slot (kept there) or vanishes (then its fingerprint must vanish too:
 * a term equivalent to earlier ones). */
static inline bool band(struct trl_ribbon *r, uint32_t i, uint64_t c, uint32_t fp)
{
    for (;;) {
        uint64_t other = r->coef[i];
        if (!other) {
            r->coef[i] = c;
            r->result[i] = (uint16_t)fp;
            return true;
        }
        c ^= other;
        fp ^= r->result[i];
        if (!c)
            return fp == 0;
        unsigned tz = (unsigned)__builtin_ctzll(c);
        i += tz;
        c >>= tz;
    }
}

bool trl_ribbon_add(struct trl_ribbon *r, uint64_t h)
{
    uint32_t i, fp;
    uint64_t c;
    ribbon_row(h, r->salt, r->slots, r->k, &i, &c, &fp);
    r->dirty = true;
    return band(r, i, c, fp);
}

bool trl_ribbon_add_all(struct trl_ribbon *r, const uint64_t *h, size_t n)
{
    if (n)
        r->dirty = true;
    for (size_t j = 0; j < n; j++) {
        uint32_t i, fp;
        uint64_t c;
        ribbon_row(h[j], r->salt, r->slots, r->k, &i, &c, &fp);
        if (!band(r, i, c, fp))
            return false;
    }
    return true;
}

/* Loops over the k planes are unrolled where k is a constant, so that the planes stay in
 * registers. */
#if defined(__clang__)
#define UNROLL_PLANES _Pragma("unroll")
#elif defined(__GNUC__)
#define UNROLL_PLANES _Pragma("GCC unroll 16")
#else
#define UNROLL_PLANES
#endif

/* Back substitution from the last slot for the planes b0..b1-1 of k: state[b] holds bit b of the
 * solutions of slots i..i+63 (bit j for slot i + j). A free slot's solution is 0. The last pass
 * over the slots frees them for the next filter. */
static inline __attribute__((always_inline)) void
solve_planes(struct trl_ribbon *r, uint8_t *out, unsigned k, unsigned b0, unsigned b1, bool last)
{
    uint64_t state[16] = {0};
    for (uint32_t i = r->slots; i-- > 0;) {
        uint64_t c = r->coef[i];
        uint32_t res = c ? (uint32_t)r->result[i] >> b0 : 0;
        if (last)
            r->coef[i] = 0;
        /* The fingerprint's bits are taken from its low end, one plane at a time: a shift
         * where extracting bit b of it would cost a shift and a mask per plane. */
        UNROLL_PLANES
        for (unsigned b = b0; b < b1; b++) {
            uint64_t s = state[b] << 1;
            s |= (uint64_t)(((unsigned)__builtin_popcountll(s & c) ^ res) & 1);
            res >>= 1;
            state[b] = s;
        }
        if (i % 64 == 0) {
            uint8_t *o = out + (size_t)(i / 64) * k * 8;
            UNROLL_PLANES
            for (unsigned b = b0; b < b1; b++) {
                uint64_t w = htole64(state[b]);
                memcpy(o + 8 * b, &w, 8);
            }
        }
    }
}

/* The planes of a k known to the compiler, in passes of at most five: then each pass keeps its
 * planes, the row and the fingerprint in registers (all nine at once spill them, which costs more
 * than reading every slot's row again). */
static inline __attribute__((always_inline)) void solve_fixed(struct trl_ribbon *r, uint8_t *out,
                                                              unsigned k)
{
    if (k <= 5) {
        solve_planes(r, out, k, 0, k, true);
        return;
    }
    solve_planes(r, out, k, 0, k / 2, false);
    solve_planes(r, out, k, k / 2, k, true);
}

/* Returns the bytes written. */
static inline __attribute__((always_inline)) size_t ribbon_solve_body(struct trl_ribbon *r,
                                                                      uint8_t *out)
{
    /* The usual fingerprint sizes with k known to the compiler. */
    switch (r->k) {
    case 7:
        solve_fixed(r, out, 7);
        break;
    case 8:
        solve_fixed(r, out, 8);
        break;
    case 9:
        solve_fixed(r, out, 9);
        break;
    case 10:
        solve_fixed(r, out, 10);
        break;
    default:
        solve_planes(r, out, r->k, 0, r->k, true);
        break;
    }
    r->dirty = false;
    return (size_t)r->slots * r->k / 8;
}

RIBBON_BOTH(size_t, ribbon_solve, (struct trl_ribbon * r, uint8_t *out), (r, out))

void trl_ribbon_solve(struct trl_ribbon *r, uint8_t *out)
{
    (void)RIBBON_PICK(ribbon_solve, (r, out));
}

bool trl_bloom_maybe(const struct trl_bloom *b, uint64_t h)
{
    if (!b->bits || b->nbits == 0)
        return true;
    if (b->version >= TRL_TERMS_HASH_VERSION_RIBBON)
        return RIBBON_PICK(ribbon_maybe, (b, h));
    uint64_t key = probe_key(b, h);
    for (unsigned i = 0; i < b->k; i++) {
        uint32_t x = probe(key, i, b->nbits);
        if (!(b->bits[x >> 3] & (1u << (x & 7))))
            return false;
    }
    return true;
}
