/* The block builder's index: the set of terms it puts in a block's filter is exactly the set
 * the indexing rules give (terms.h), however the builder finds and deduplicates them; summaries
 * and repeated builds with one builder. */
#include "trl_test.h"

#include "core/buf.h"
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/terms.h"

#include <stdio.h>

#define T0 1720564803000000000LL /* 2024-07-09T22:40:03Z */

static void ref_add_text(void *ud, const char *tok, size_t n)
{
    trl_termset_add(ud, trl_term_text_hash(tok, n));
}

/* The terms of the events as the rules define them: every token and joined pair of every indexed
 * value, and a field term for every value of a field that is not a text field. */
static void reference_terms(const char *const *json, size_t n, struct trl_termset *set)
{
    struct trl_leaves l;
    trl_leaves_init(&l);
    for (size_t i = 0; i < n; i++) {
        trl_leaves_reset(&l);
        (void)trl_json_leaves(json[i], strlen(json[i]), &l);
        for (size_t j = 0; j < l.n; j++) {
            const struct trl_leaf *f = &l.items[j];
            const char *path = trl_leaf_path(&l, f), *val = trl_leaf_val(&l, f);
            if (!trl_store_is_indexed_field(path, f->path_len))
                continue;
            trl_term_index_terms(val, f->val_len, ref_add_text, set);
            if (!trl_store_is_text_field(path, f->path_len))
                trl_termset_add(set, trl_term_field_hash(path, f->path_len, val, f->val_len));
        }
    }
    trl_leaves_free(&l);
}

struct bloom_check {
    const struct trl_bloom *bloom;
    size_t missing;
};

static void check_in_bloom(void *ud, uint64_t h)
{
    struct bloom_check *c = ud;
    c->missing += !trl_bloom_maybe(c->bloom, h);
}

/* Builds the events into one block with b and checks its terms against the reference. */
static void assert_block_terms_are_the_reference(struct trl_block_builder *b,
                                                 const char *const *json, size_t n)
{
    struct trl_block_input *in = calloc(n, sizeof(*in));
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] =
            (struct trl_block_input){T0 + (int64_t)i * TRL_NS_PER_SEC, json[i], strlen(json[i])};
    struct trl_block_out out;
    assert_int_equal(trl_block_build(b, in, n, &out), 0);
    struct trl_termset want;
    trl_termset_init(&want);
    reference_terms(json, n, &want);
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(out.meta, out.meta_len, &m), 0);
    assert_int_equal(out.distinct_terms, want.count);
    /* A ribbon filter, or a Bloom filter where that is smaller (few terms). */
    if (m.bloom.version == 3) {
        assert_int_equal(m.bloom.k, trl_ribbon_fingerprint_bits(10));
        assert_true(m.bloom.nbits >= trl_ribbon_slots(want.count) * m.bloom.k);
        assert_true(m.bloom.nbits < trl_bloom_size_bits(want.count, 10));
    } else {
        assert_int_equal(m.bloom.version, 2);
        assert_int_equal(m.bloom.nbits, trl_bloom_size_bits(want.count, 10));
        assert_true(m.bloom.nbits <=
                    trl_ribbon_slots(want.count) * trl_ribbon_fingerprint_bits(10));
    }
    struct bloom_check c = {&m.bloom, 0};
    trl_termset_each(&want, check_in_bloom, &c);
    assert_int_equal(c.missing, 0);
    trl_termset_free(&want);
    free(in);
}

/* Tokens across the 64-byte steps of the tokenizer, a last token ending exactly at 128 bytes,
 * tokens and pairs around the 8 and 16 bytes of the token cache, capitals and UTF-8. */
static const char *const edge_events[] = {
    "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"original\":\"<13>Jul  9 22:40:03 "
    "web01 app[42]: abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGH abcdefghi 0123456789abcdef "
    "0123456789abcdefg end\"},\"message\":\"abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGH "
    "abcdefghi 0123456789abcdef 0123456789abcdefg end\"}",
    /* event.original of exactly 128 bytes ending in a word byte. */
    "{\"event\":{\"original\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.cc\"}}",
    /* Exactly 64 bytes, one token. */
    "{\"event\":{\"original\":\"0123456789012345678901234567890123456789012345678901234567890123"
    "\"}}",
    "{\"event\":{\"original\":\"Größe 10.0.0.5:8080/Path\\\\to\\\\FILE.exe user@EXAMPLE.com "
    "a-b_c-d ÄÖÜ\"},\"user\":{\"name\":\"Bob\"},\"source\":{\"ip\":\"10.0.0.5\"}}",
    /* The message occurs in event.original only inside a longer word: its own tokens count. */
    "{\"event\":{\"original\":\"xroot logged in from 192.0.2.77 port 40022 ssh2 via gateway\"},"
    "\"message\":\"root logged in from 192.0.2.77 port 40022 ssh2 via gateway\"}",
    /* The message in the middle of event.original, and a value found there too. */
    "{\"event\":{\"original\":\"head Accepted publickey for alice from 198.51.100.7 port 2222 "
    "ssh2 tail 99\"},\"message\":\"Accepted publickey for alice from 198.51.100.7 port 2222 "
    "ssh2\",\"user\":{\"name\":\"alice\"},\"process\":{\"command_line\":\"publickey for alice "
    "from 198.51.100.7 port\"}}",
    /* Escapes: values the shredder unescapes outside the input. */
    "{\"event\":{\"original\":\"say \\\"hello\\\"\\tworld\\u00e9 C:\\\\Windows\\\\System32\"},"
    "\"message\":\"say \\\"hello\\\"\\tworld\\u00e9\",\"user\":{\"name\":\"ROOT\"}}",
    /* Not JSON: the leaves read before the error. */
    "{\"event\":{\"original\":\"half an event 10.9.8.7\"},\"user\":{\"name\":\"root\"",
    "{\"user\":{\"name\":\"root\"},\"host\":{\"name\":\"web01\"},\"source\":{\"ip\":\"10.0.0.5\"},"
    "\"event\":{\"category\":[\"process\",\"iam\"],\"outcome\":\"success\"}}",
    "{\"user\":{\"name\":\"alice\"},\"host\":{\"name\":\"web02\"},\"source\":{\"ip\":\"10.0.0.6\"},"
    "\"event\":{\"category\":[\"iam\",\"process\"],\"outcome\":\"failure\"}}",
    "{\"user\":{\"name\":\"root\"},\"host\":{\"name\":\"web01\"},\"source\":{\"ip\":\"10.0.0.5\"},"
    "\"event\":{\"category\":[\"process\",\"iam\"],\"outcome\":\"success\"},\"n\":12,\"ok\":true,"
    "\"none\":null,\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event.created\":\"x\"}",
};

static void test_block_terms_are_exactly_those_of_the_rules(void **state)
{
    (void)state;
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    assert_block_terms_are_the_reference(b, edge_events, TRL_ARRAY_LEN(edge_events));
    trl_block_builder_destroy(b);
}

/* A message found in event.original only after many false starts (the same first byte again and
 * again): the search gives up on its shortcut and still decides right. */
static void test_block_terms_with_a_message_hard_to_find_in_the_original(void **state)
{
    (void)state;
    struct trl_buf orig = {0}, ev = {0};
    for (int i = 0; i < 600; i++)
        trl_buf_puts(&orig, "a a a a a a a ");
    trl_buf_puts(&orig, "a a a a a a a a a a a a a a a a a a zz");
    for (int i = 0; i < 600; i++)
        trl_buf_puts(&orig, " a a a a a a a");
    trl_buf_printf(
        &ev,
        "{\"event\":{\"original\":\"%s\"},\"message\":\"a a a a a a a a a a a a a a a a a "
        "a zz\"}",
        orig.data);
    const char *json[] = {ev.data};
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    assert_block_terms_are_the_reference(b, json, 1);
    trl_block_builder_destroy(b);
    trl_buf_free(&orig);
    trl_buf_free(&ev);
}

/* A builder reused for block after block forgets what the previous block had: its caches must not
 * make a term of the second block look already added. */
static void test_block_builder_reused_indexes_each_block_in_full(void **state)
{
    (void)state;
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    char bufs[200][160];
    const char *json[200];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 200; i++) {
            snprintf(bufs[i], sizeof(bufs[i]),
                     "{\"event\":{\"original\":\"sshd[%d]: Failed password for user%d from "
                     "10.0.%d.%d port %d\"},\"user\":{\"name\":\"user%d\"},\"source\":{\"ip\":"
                     "\"10.0.%d.%d\"}}",
                     100 + i, i % 7, round, i % 5, 40000 + i, i % 7, round, i % 5);
            json[i] = bufs[i];
        }
        assert_block_terms_are_the_reference(b, json, 200);
        /* The same events again: the same terms, from a builder that just saw them. */
        assert_block_terms_are_the_reference(b, json, 200);
    }
    trl_block_builder_destroy(b);
}

/* Values are indexed segment by segment (cut at spaces and control characters), a segment seen
 * before in the block being skipped: repeated segments, segments of 16 and 17 bytes, segments
 * across the 64-byte steps, joiners next to a gap, control characters and zero bytes as cuts,
 * capitals, and short values that are segments of the original. */
static void test_block_terms_of_repeated_segments_are_exactly_those_of_the_rules(void **state)
{
    (void)state;
    enum { N = 300 };
    static char bufs[N][640];
    const char *json[N];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof(bufs[i]),
                 "{\"event\":{\"original\":\"<13>Nov 27 18:37:%02d WS-%04d MSWinEventLog\\t1\\t"
                 "Security\\t%d\\tAn account was successfully logged on. Account Name: User%d "
                 "Source Network Address: 10.0.%d.%d Port: %d abcdefghijklmnop "
                 "abcdefghijklmnopq %s x.y:z/w@v\\\\u a. b .c -d e- \\u0001ctl\\u0001 "
                 "nul\\u0000nul\\u0000 line\\nbreak\\r\\n%dxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyz.%d "
                 "tail.%d\"},\"message\":\"An account was successfully logged on.\","
                 "\"user\":{\"name\":\"User%d\"},\"host\":{\"name\":\"ws-%04d\"},"
                 "\"source\":{\"ip\":\"10.0.%d.%d\",\"port\":%d},\"process\":{\"name\":"
                 "\"a b %d\"}}",
                 i % 60, i % 5, 5720849 + i, i % 7, i % 3, i % 11, 40000 + i % 13,
                 i % 2 ? "ABCDEFGHIJKLMNOP" : "abcdefghijklmnop", i % 4, i % 9, i % 6, i % 7, i % 5,
                 i % 3, i % 11, 40000 + i % 13, i % 3);
        json[i] = bufs[i];
    }
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    assert_block_terms_are_the_reference(b, json, N);
    /* Fewer events: segments of the previous block are not taken as seen in this one. */
    assert_block_terms_are_the_reference(b, json + 7, 40);
    trl_block_builder_destroy(b);
}

/* An event whose only value in a column was filed before is filed by the entry remembered for that
 * value: every event still decodes to its own values, also after a block in between, beside events
 * with two values or none in the column. */
static void test_block_columns_of_repeated_values_decode_to_each_events_own(void **state)
{
    (void)state;
    enum { N = 400 };
    static const char *const users[] = {"root", "alice", "Bob", "svc-backup", "x"};
    static char bufs[N][200];
    struct trl_block_input in[N];
    for (int i = 0; i < N; i++) {
        if (i % 17 == 0)
            snprintf(bufs[i], sizeof(bufs[i]),
                     "{\"user\":{\"name\":[\"%s\",\"%s\"]},\"host\":{\"name\":\"h%d\"}}",
                     users[i % 5], users[(i + 1) % 5], i % 3);
        else if (i % 13 == 0)
            snprintf(bufs[i], sizeof(bufs[i]), "{\"host\":{\"name\":\"h%d\"}}", i % 3);
        else
            snprintf(bufs[i], sizeof(bufs[i]),
                     "{\"user\":{\"name\":\"%s\"},\"host\":{\"name\":\"h%d\"}}", users[i % 5],
                     i % 3);
        in[i] = (struct trl_block_input){T0 + i, bufs[i], strlen(bufs[i])};
    }
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    for (int round = 0; round < 3; round++) {
        /* Round 1 builds a block of other events first: the builder's next generation. */
        size_t first = round == 1 ? 100 : 0;
        struct trl_block_out out;
        assert_int_equal(trl_block_build(b, in + first, N - first, &out), 0);
        struct trl_block_view v;
        assert_int_equal(trl_block_view_init(&v, out.data, out.data_len), 0);
        trl_block_decoder_reset(&d, &v);
        assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
        assert_int_equal(trl_block_decode(&d, &v, TRL_COL_HOST_NAME), 0);
        const struct trl_strcol *u = &d.str[TRL_COL_USER_NAME], *h = &d.str[TRL_COL_HOST_NAME];
        for (size_t k = 0; k < N - first; k++) {
            size_t i = first + k;
            size_t nu = u->first[k + 1] - u->first[k];
            const struct trl_str *x = &u->vals[u->first[k]];
            if (i % 17 == 0) {
                assert_int_equal(nu, 2);
                assert_int_equal(x[0].len, strlen(users[i % 5]));
                assert_memory_equal(x[0].ptr, users[i % 5], x[0].len);
                assert_int_equal(x[1].len, strlen(users[(i + 1) % 5]));
                assert_memory_equal(x[1].ptr, users[(i + 1) % 5], x[1].len);
            } else if (i % 13 == 0) {
                assert_int_equal(nu, 0);
            } else {
                assert_int_equal(nu, 1);
                assert_int_equal(x[0].len, strlen(users[i % 5]));
                assert_memory_equal(x[0].ptr, users[i % 5], x[0].len);
            }
            char host[8];
            snprintf(host, sizeof(host), "h%d", (int)(i % 3));
            assert_int_equal(h->first[k + 1] - h->first[k], 1);
            assert_int_equal(h->vals[h->first[k]].len, strlen(host));
            assert_memory_equal(h->vals[h->first[k]].ptr, host, strlen(host));
        }
        if (round == 1)
            assert_int_equal(trl_block_build(b, in, 50, &out), 0);
    }
    trl_block_decoder_free(&d);
    trl_block_builder_destroy(b);
}

static void test_block_built_twice_is_byte_identical(void **state)
{
    (void)state;
    size_t n = TRL_ARRAY_LEN(edge_events);
    struct trl_block_input in[TRL_ARRAY_LEN(edge_events)];
    for (size_t i = 0; i < n; i++)
        in[i] = (struct trl_block_input){T0 + (int64_t)i, edge_events[i], strlen(edge_events[i])};
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    struct trl_block_out o;
    assert_int_equal(trl_block_build(b, in, n, &o), 0);
    uint8_t *data = malloc(o.data_len), *meta = malloc(o.meta_len);
    memcpy(data, o.data, o.data_len);
    memcpy(meta, o.meta, o.meta_len);
    size_t data_len = o.data_len, meta_len = o.meta_len;
    assert_int_equal(trl_block_build(b, in + 3, n - 3, &o), 0);
    assert_int_equal(trl_block_build(b, in, n, &o), 0);
    assert_int_equal(o.data_len, data_len);
    assert_int_equal(o.meta_len, meta_len);
    assert_memory_equal(o.data, data, data_len);
    assert_memory_equal(o.meta, meta, meta_len);
    free(data);
    free(meta);
    trl_block_builder_destroy(b);
}

static bool collect_value(void *ud, const char *v, size_t len)
{
    trl_buf_append(ud, v, len);
    trl_buf_putc(ud, ',');
    return false;
}

/* Values seen again later in the block (not just in a row) are filed in their column every time
 * but counted once in its summary, lower-cased. */
static void test_block_summary_counts_each_value_once_whatever_its_case(void **state)
{
    (void)state;
    const char *json[] = {
        "{\"user\":{\"name\":\"Root\"}}",  "{\"user\":{\"name\":\"alice\"}}",
        "{\"host\":{\"name\":\"h\"}}",     "{\"user\":{\"name\":\"root\"}}",
        "{\"user\":{\"name\":\"ALICE\"}}", "{\"user\":{\"name\":\"Root\"}}",
    };
    struct trl_block_input in[6];
    for (int i = 0; i < 6; i++)
        in[i] = (struct trl_block_input){T0 + i, json[i], strlen(json[i])};
    struct trl_block_builder *b = trl_block_builder_create(3, 10);
    struct trl_block_out o;
    assert_int_equal(trl_block_build(b, in, 6, &o), 0);
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(o.meta, o.meta_len, &m), 0);
    const struct trl_block_summary *s = &m.sum[TRL_COL_USER_NAME];
    assert_true(s->present && s->set_complete && s->has_minmax);
    assert_int_equal(s->nonempty, 5);
    struct trl_buf vals = {0};
    trl_block_summary_any(s, collect_value, &vals);
    assert_string_equal(vals.data, "root,alice,");
    assert_int_equal(s->min.len, 5);
    assert_memory_equal(s->min.ptr, "alice", 5);
    assert_memory_equal(s->max.ptr, "root", 4);
    trl_buf_free(&vals);

    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, o.data, o.data_len), 0);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
    const struct trl_strcol *c = &d.str[TRL_COL_USER_NAME];
    const char *want[] = {"Root", "alice", NULL, "root", "ALICE", "Root"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c->first[i + 1] - c->first[i], want[i] ? 1 : 0);
        if (want[i]) {
            const struct trl_str *x = &c->vals[c->first[i]];
            assert_int_equal(x->len, strlen(want[i]));
            assert_memory_equal(x->ptr, want[i], x->len);
        }
    }
    trl_block_decoder_free(&d);
    trl_block_builder_destroy(b);
}

/* After a block with one huge event, the builder gives back what that block grew and still
 * builds the next, small block right. */
static void test_block_builder_recovers_from_an_outsized_block(void **state)
{
    (void)state;
    struct trl_buf big = {0};
    trl_buf_puts(&big, "{\"event\":{\"original\":\"");
    while (big.len < (10u << 20))
        trl_buf_puts(&big, "averyveryverylongword0123 ");
    trl_buf_puts(&big, "\"}}");
    struct trl_block_builder *b = trl_block_builder_create(1, 10);
    struct trl_block_input in = {T0, big.data, big.len};
    struct trl_block_out o;
    assert_int_equal(trl_block_build(b, &in, 1, &o), 0);
    assert_int_equal(o.distinct_terms, 1); /* one word, over and over */
    trl_buf_free(&big);
    assert_block_terms_are_the_reference(b, edge_events, TRL_ARRAY_LEN(edge_events));

    struct trl_block_input small[2] = {{T0, edge_events[0], strlen(edge_events[0])},
                                       {T0 + 1, edge_events[3], strlen(edge_events[3])}};
    assert_int_equal(trl_block_build(b, small, 2, &o), 0);
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, o.data, o.data_len), 0);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_JSON), 0);
    for (int i = 0; i < 2; i++) {
        const struct trl_str *x = &d.str[TRL_COL_JSON].vals[i];
        assert_int_equal(x->len, small[i].len);
        assert_memory_equal(x->ptr, small[i].json, x->len);
    }
    trl_block_decoder_free(&d);
    trl_block_builder_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_terms_are_exactly_those_of_the_rules),
        cmocka_unit_test(test_block_terms_with_a_message_hard_to_find_in_the_original),
        cmocka_unit_test(test_block_builder_reused_indexes_each_block_in_full),
        cmocka_unit_test(test_block_terms_of_repeated_segments_are_exactly_those_of_the_rules),
        cmocka_unit_test(test_block_columns_of_repeated_values_decode_to_each_events_own),
        cmocka_unit_test(test_block_built_twice_is_byte_identical),
        cmocka_unit_test(test_block_summary_counts_each_value_once_whatever_its_case),
        cmocka_unit_test(test_block_builder_recovers_from_an_outsized_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
