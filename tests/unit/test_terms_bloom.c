/* The filter of the event store's index: version 1 probes (blocks written before salts) read as
 * they always were, version 2 probes salted per block, version 3 ribbon filters holding every
 * term, and false-positive rates that stay near what bits per term promise, independently from
 * block to block. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "store/block.h"
#include "store/digest.h"
#include "store/terms.h"

#include <math.h>

#define T0 1720564803000000000LL /* 2024-07-09T22:40:03Z */

/* A deterministic stream of 64-bit hashes standing in for term hashes. */
static uint64_t next_hash(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The version 1 probe written out by hand: double hashing over the halves of the term hash,
 * scaled onto the filter by a multiply. Stored blocks depend on exactly these positions. */
static uint32_t v1_probe(uint64_t h, unsigned i, uint32_t nbits)
{
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
    return (uint32_t)(((uint64_t)(uint32_t)(h1 + i * h2) * nbits) >> 32);
}

/* A meta blob as version 1 wrote it: header, no summaries, the filter. */
static size_t v1_meta(uint8_t *p, uint32_t nbits, uint8_t k, const uint64_t *terms, size_t n)
{
    memset(p, 0, 32 + nbits / 8);
    memcpy(p, "TRLM", 4);
    p[4] = 1;
    p[5] = 1;
    p[6] = k;
    p[7] = 0;
    trl_put_u32le(p + 8, 100);
    trl_put_u64le(p + 12, (uint64_t)T0);
    trl_put_u64le(p + 20, (uint64_t)(T0 + 60 * TRL_NS_PER_SEC));
    trl_put_u32le(p + 28, nbits);
    for (size_t t = 0; t < n; t++) {
        for (unsigned i = 0; i < k; i++) {
            uint32_t b = v1_probe(terms[t], i, nbits);
            p[32 + (b >> 3)] |= (uint8_t)(1u << (b & 7));
        }
    }
    return 32 + nbits / 8;
}

static void test_version_1_meta_is_read_with_its_unsalted_probes(void **state)
{
    (void)state;
    uint8_t meta[32 + 128];
    uint64_t terms[] = {trl_term_text_hash("failed", 6), trl_term_text_hash("root", 4),
                        trl_term_field_hash("user.name", 9, "root", 4)};
    size_t len = v1_meta(meta, 1024, 7, terms, TRL_ARRAY_LEN(terms));
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(meta, len, &m), 0);
    assert_int_equal(m.bloom.version, 1);
    assert_int_equal(m.bloom.k, 7);
    assert_int_equal(m.bloom.nbits, 1024);
    for (size_t i = 0; i < TRL_ARRAY_LEN(terms); i++)
        assert_true(trl_bloom_maybe(&m.bloom, terms[i]));
    assert_false(trl_bloom_maybe(&m.bloom, trl_term_text_hash("mimikatz", 8)));

    /* trl_bloom_add() on a version 1 shape sets exactly the hand-computed bits. */
    uint8_t bits[128] = {0};
    struct trl_bloom shape = {.nbits = 1024, .k = 7, .version = 1};
    for (size_t i = 0; i < TRL_ARRAY_LEN(terms); i++)
        trl_bloom_add(bits, &shape, terms[i]);
    assert_memory_equal(bits, meta + 32, sizeof(bits));
}

static void test_meta_rejects_unknown_term_hash_versions(void **state)
{
    (void)state;
    uint8_t meta[32 + 8];
    uint64_t h = trl_term_text_hash("root", 4);
    size_t len = v1_meta(meta, 64, 7, &h, 1);
    struct trl_block_meta m;
    meta[5] = 0;
    assert_int_equal(trl_block_meta_parse(meta, len, &m), TRL_EINVAL);
    meta[5] = TRL_TERMS_HASH_VERSION + 1;
    assert_int_equal(trl_block_meta_parse(meta, len, &m), TRL_EINVAL);
    meta[5] = 2;
    assert_int_equal(trl_block_meta_parse(meta, len, &m), 0);
    assert_int_equal(m.bloom.version, 2);
}

/* Builds n events (each with its own port and pid, so its own terms) into one block and parses
 * its meta into *m; the meta stays valid until the builder is destroyed. */
static void build_events(struct trl_block_builder *b, size_t n, struct trl_block_meta *m)
{
    struct trl_block_input *in = calloc(n, sizeof(*in));
    char(*json)[160] = calloc(n, sizeof(*json));
    assert_non_null(in);
    assert_non_null(json);
    for (size_t i = 0; i < n; i++) {
        snprintf(json[i], sizeof(json[i]),
                 "{\"event\":{\"original\":\"Accepted password for alice from 10.1.2.3 port "
                 "%zu\"},\"process\":{\"pid\":%zu},\"user\":{\"name\":\"alice\"}}",
                 40000 + i, 9000 + i);
        in[i] =
            (struct trl_block_input){T0 + (int64_t)i * TRL_NS_PER_SEC, json[i], strlen(json[i])};
    }
    struct trl_block_out out;
    assert_int_equal(trl_block_build(b, in, n, &out), 0);
    assert_int_equal(trl_block_meta_parse(out.meta, out.meta_len, m), 0);
    assert_true(m->bloom.salt == trl_bloom_salt((uint32_t)n, T0,
                                                T0 + (int64_t)(n - 1) * TRL_NS_PER_SEC,
                                                m->bloom.nbits));
    const char *present[] = {"accepted", "ALICE", "10.1", "1.2", "40000", "9000"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(present); i++)
        assert_true(trl_bloom_maybe(&m->bloom, trl_term_text_hash(present[i], strlen(present[i]))));
    assert_true(trl_bloom_maybe(&m->bloom, trl_term_field_hash("user.name", 9, "alice", 5)));
    assert_true(trl_bloom_maybe(&m->bloom, trl_term_field_hash("process.pid", 11, "9001", 4)));
    assert_false(trl_bloom_maybe(&m->bloom, trl_term_text_hash("mimikatz", 8)));
    free(json);
    free(in);
}

static void test_new_blocks_are_written_with_a_ribbon_filter_salted_from_their_header(void **state)
{
    (void)state;
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    struct trl_block_meta m;
    build_events(b, 400, &m);
    assert_int_equal(m.bloom.version, 3);
    /* 10 bits per term of a Bloom filter: fingerprints of 7 bits, groups of 64 slots, fewer bits
     * than the Bloom filter (about 1,200 terms). */
    assert_int_equal(m.bloom.k, 7);
    assert_int_equal(m.bloom.nbits % (64 * 7), 0);
    assert_true(m.bloom.nbits < 1200 * 10);
    trl_block_builder_destroy(b);
}

static void test_blocks_of_few_terms_keep_a_bloom_filter_where_it_is_smaller(void **state)
{
    (void)state;
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    struct trl_block_meta m;
    build_events(b, 2, &m);
    assert_int_equal(m.bloom.version, 2);
    assert_int_equal(m.bloom.k, trl_bloom_best_k(10));
    trl_block_builder_destroy(b);
}

static void test_version_2_probes_move_with_the_salt(void **state)
{
    (void)state;
    uint64_t h = trl_term_text_hash("mimikatz", 8);
    assert_true(trl_bloom_salt(2048, T0, T0 + 1, 160000) !=
                trl_bloom_salt(2048, T0 + 1, T0 + 1, 160000));
    assert_true(trl_bloom_salt(2048, T0, T0 + 1, 160000) !=
                trl_bloom_salt(2047, T0, T0 + 1, 160000));
    uint8_t v1[1024] = {0}, a[1024] = {0}, a2[1024] = {0}, c[1024] = {0};
    struct trl_bloom s1 = {.nbits = 8192, .k = 7, .version = 1};
    struct trl_bloom sa = {.nbits = 8192, .k = 7, .version = 2, .salt = 1};
    struct trl_bloom sc = {.nbits = 8192, .k = 7, .version = 2, .salt = 2};
    trl_bloom_add(v1, &s1, h);
    trl_bloom_add(a, &sa, h);
    trl_bloom_add(a2, &sa, h);
    trl_bloom_add(c, &sc, h);
    assert_memory_equal(a, a2, sizeof(a)); /* same salt, same bits */
    assert_memory_not_equal(a, c, sizeof(a));
    assert_memory_not_equal(a, v1, sizeof(a));
    sa.bits = a;
    sc.bits = c;
    assert_true(trl_bloom_maybe(&sa, h));
    assert_true(trl_bloom_maybe(&sc, h));
}

/* Fills a filter of bits_per_term with n random terms, then probes absent ones: the rate stays
 * within a fifth (plus noise) of the textbook (1 - e^(-k/b))^k. */
static void check_fp_rate(unsigned bits_per_term)
{
    const size_t n = 20000, probes = 200000;
    uint32_t nbits = trl_bloom_size_bits(n, bits_per_term);
    uint8_t *bits = calloc(nbits / 8, 1);
    assert_non_null(bits);
    struct trl_bloom b = {.nbits = nbits,
                          .k = trl_bloom_best_k(bits_per_term),
                          .version = 2,
                          .salt = trl_bloom_salt(2048, T0, T0 + 1, nbits)};
    uint64_t seed = 42;
    for (size_t i = 0; i < n; i++)
        trl_bloom_add(bits, &b, next_hash(&seed));
    b.bits = bits;
    size_t fp = 0;
    for (size_t i = 0; i < probes; i++)
        fp += trl_bloom_maybe(&b, next_hash(&seed));
    double want = pow(1 - exp(-(double)b.k / bits_per_term), b.k);
    double got = (double)fp / probes;
    print_message("bits/term %u k %u: false positives %.4f%% (expected %.4f%%)\n", bits_per_term,
                  b.k, got * 100, want * 100);
    assert_true(got < want * 1.2 + 3 * sqrt(want / probes));
    free(bits);
}

static void test_false_positive_rate_stays_below_the_bound_of_its_bits_per_term(void **state)
{
    (void)state;
    check_fp_rate(10);
    check_fp_rate(12);
    check_fp_rate(14);
}

/* Builds a ribbon filter of the n hashes from seed into *b (bits allocated here); returns how
 * many times it had to start over. */
static unsigned build_ribbon(struct trl_ribbon *r, struct trl_bloom *b, uint64_t seed, size_t n,
                             unsigned bits_per_term, uint64_t salt_base)
{
    uint8_t k = trl_ribbon_fingerprint_bits(bits_per_term);
    unsigned retries = 0;
    for (uint32_t slots = trl_ribbon_slots(n);; slots += 64, retries++) {
        uint64_t salt = trl_bloom_salt((uint32_t)n, (int64_t)salt_base, 0, slots * k);
        trl_ribbon_begin(r, slots, k, salt);
        uint64_t st = seed;
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++)
            ok = trl_ribbon_add(r, next_hash(&st));
        if (!ok)
            continue;
        uint8_t *bits = malloc((size_t)slots * k / 8);
        assert_non_null(bits);
        trl_ribbon_solve(r, bits);
        *b = (struct trl_bloom){
            .bits = bits, .nbits = slots * k, .k = k, .version = 3, .salt = salt};
        return retries;
    }
}

/* A ribbon filter answers yes for every term added and, for absent terms, about 2^-k of the
 * time, at most what a Bloom filter of the same bits per term gives, in fewer bits. */
static void check_ribbon(size_t n, unsigned bits_per_term)
{
    const size_t probes = 200000;
    struct trl_ribbon r = {0};
    struct trl_bloom b;
    uint64_t seed = 1000 + n;
    build_ribbon(&r, &b, seed, n, bits_per_term, 7);
    for (size_t i = 0; i < n; i++)
        assert_true(trl_bloom_maybe(&b, next_hash(&seed)));
    size_t fp = 0;
    for (size_t i = 0; i < probes; i++)
        fp += trl_bloom_maybe(&b, next_hash(&seed));
    double want = ldexp(1, -b.k), got = (double)fp / probes;
    double bloom = pow(1 - exp(-(double)trl_bloom_best_k(bits_per_term) / bits_per_term),
                       trl_bloom_best_k(bits_per_term));
    print_message("%zu terms, as %u Bloom bits/term (%.3f%%): k %u, %.2f bits/term, false "
                  "positives %.4f%%\n",
                  n, bits_per_term, bloom * 100, b.k, (double)b.nbits / n, got * 100);
    assert_true(got < want * 1.2 + 3 * sqrt(want / probes));
    assert_true(want <= bloom);
    if (n >= 2000)
        assert_true(b.nbits < n * bits_per_term);
    free((void *)b.bits);
    trl_ribbon_free(&r);
}

static void test_ribbon_filters_hold_every_term_in_fewer_bits_than_bloom(void **state)
{
    (void)state;
    check_ribbon(1, 12);
    check_ribbon(10, 12);
    check_ribbon(2000, 10);
    check_ribbon(20000, 12);
    check_ribbon(20000, 14);
    check_ribbon(100000, 12);
}

static void test_ribbon_filters_rarely_need_a_second_try(void **state)
{
    (void)state;
    struct trl_ribbon r = {0};
    unsigned retries = 0, trials = 200;
    for (unsigned t = 0; t < trials; t++) {
        struct trl_bloom b;
        retries += build_ribbon(&r, &b, t * 7919, 3000 + t * 50, 12, t);
        free((void *)b.bits);
    }
    print_message("%u filters of 3,000 to 13,000 terms: %u retries\n", trials, retries);
    assert_true(retries < trials / 10);
    /* A filter abandoned before it is solved (as after a contradiction) leaves no rows behind:
     * the next one is byte for byte what a fresh builder makes. */
    uint64_t st = 5;
    trl_ribbon_begin(&r, 4096, 9, 3);
    for (int i = 0; i < 3000; i++)
        (void)trl_ribbon_add(&r, next_hash(&st));
    struct trl_ribbon fresh = {0};
    struct trl_bloom a, b;
    build_ribbon(&r, &a, 4242, 2000, 12, 9);
    build_ribbon(&fresh, &b, 4242, 2000, 12, 9);
    assert_int_equal(a.nbits, b.nbits);
    assert_memory_equal(a.bits, b.bits, a.nbits / 8);
    free((void *)a.bits);
    free((void *)b.bits);
    trl_ribbon_free(&fresh);
    trl_ribbon_free(&r);
}

/* Blocks with nearly the same terms (most terms of a log recur in every block) and sizes a few
 * bytes apart: for each absent term, the number of blocks reporting it. With probes independent
 * from block to block it is binomial, its variance about its mean; version 1 probes the same
 * relative positions everywhere, so an absent term is reported by many blocks or by none. */
static double fp_dispersion(uint8_t version, double *mean_out)
{
    enum { BLOCKS = 120, COMMON = 1500, OWN = 500, ABSENT = 2000 };
    const unsigned bpt = 10;
    uint64_t common_seed = 7, absent_seed = 99, own_seed = 1234;
    uint64_t common[COMMON], absent[ABSENT];
    for (size_t i = 0; i < COMMON; i++)
        common[i] = next_hash(&common_seed);
    for (size_t i = 0; i < ABSENT; i++)
        absent[i] = next_hash(&absent_seed);
    unsigned hits[ABSENT] = {0};
    for (unsigned blk = 0; blk < BLOCKS; blk++) {
        uint32_t nbits = trl_bloom_size_bits(COMMON + OWN + blk % 7, bpt);
        uint8_t *bits = calloc(nbits / 8, 1);
        assert_non_null(bits);
        int64_t t = T0 + (int64_t)blk * 60 * TRL_NS_PER_SEC;
        struct trl_bloom b = {.nbits = nbits,
                              .k = trl_bloom_best_k(bpt),
                              .version = version,
                              .salt = trl_bloom_salt(COMMON + OWN, t, t + 59, nbits)};
        for (size_t i = 0; i < COMMON; i++)
            trl_bloom_add(bits, &b, common[i]);
        for (size_t i = 0; i < OWN + blk % 7; i++)
            trl_bloom_add(bits, &b, next_hash(&own_seed));
        b.bits = bits;
        for (size_t i = 0; i < ABSENT; i++)
            hits[i] += trl_bloom_maybe(&b, absent[i]);
        free(bits);
    }
    double sum = 0, sq = 0;
    for (size_t i = 0; i < ABSENT; i++) {
        sum += hits[i];
        sq += (double)hits[i] * hits[i];
    }
    double mean = sum / ABSENT, var = sq / ABSENT - mean * mean;
    *mean_out = mean;
    return var / mean;
}

static void test_false_positives_of_salted_blocks_do_not_cluster_on_a_term(void **state)
{
    (void)state;
    double m1, m2;
    double d1 = fp_dispersion(1, &m1), d2 = fp_dispersion(2, &m2);
    print_message("blocks reporting an absent term: version 1 mean %.2f variance/mean %.2f, "
                  "version 2 mean %.2f variance/mean %.2f\n",
                  m1, d1, m2, d2);
    assert_true(d2 < 1.3);
    assert_true(d1 > 2 * d2);
    /* Both keep the average rate near 1% of 120 blocks. */
    assert_true(m2 > 0.5 && m2 < 1.6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_1_meta_is_read_with_its_unsalted_probes),
        cmocka_unit_test(test_meta_rejects_unknown_term_hash_versions),
        cmocka_unit_test(test_new_blocks_are_written_with_a_ribbon_filter_salted_from_their_header),
        cmocka_unit_test(test_blocks_of_few_terms_keep_a_bloom_filter_where_it_is_smaller),
        cmocka_unit_test(test_ribbon_filters_hold_every_term_in_fewer_bits_than_bloom),
        cmocka_unit_test(test_ribbon_filters_rarely_need_a_second_try),
        cmocka_unit_test(test_version_2_probes_move_with_the_salt),
        cmocka_unit_test(test_false_positive_rate_stays_below_the_bound_of_its_bits_per_term),
        cmocka_unit_test(test_false_positives_of_salted_blocks_do_not_cluster_on_a_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
