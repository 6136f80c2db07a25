/* Event store: the columnar (shredded) JSON of block format 3 gives back every event byte for
 * byte, keeps odd input verbatim, rejects damage, and blocks of formats 1, 2 and 3 stay
 * readable. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "store/block.h"
#include "store/json_leaves.h"
#include "store/json_shred.h"

static const char *const events[] = {
    /* A syslog event: user, address, port and program are found in event.original. */
    "{\"@timestamp\":\"2024-07-09T22:40:03Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"original\":\"<38>web01 sshd[25003]: Failed password for root from 203.0.113.45 port 51120 "
    "ssh2\"},\"message\":\"Failed password for root from 203.0.113.45 port 51120 ssh2\","
    "\"process\":{\"name\":\"sshd\",\"pid\":25003},\"source\":{\"ip\":\"203.0.113.45\","
    "\"port\":51120},\"user\":{\"name\":\"root\"}}",
    /* Escapes, unicode, nested arrays and empty containers, whitespace between tokens. */
    "{ \"a\" : \"q\\\"uote\\\\d \\u00e9\\n\" , \"b\":[[1,2],[],{}], \"c\":{}, \"d\":[true,false,"
    "null,-1.5e3], \"e\":\"\" }",
    /* Values before event.original are not references; a second event.original is a value. */
    "{\"host\":\"web01\",\"event\":{\"original\":[\"web01 first\",\"web01 first\"]},"
    "\"z\":\"web01 first\"}",
    /* Not plain JSON: kept verbatim. */
    "{\"unterminated\":\"abc",
    "{\"a\":1} trailing",
    "42",
    "",
    "{\"key\x01with marker\":\"v\"}",
    "{\"raw\":\"tab\tinside\"}",
    "{\"a\":\"\\\\\"}",
    "[\"top\",\"level\",\"array\"]",
};

#define NEV (sizeof(events) / sizeof(events[0]))

static void shred_all(struct trl_buf *out)
{
    struct trl_shredder *s = trl_shredder_create();
    /* Two blocks through one shredder: the second must not see the first. */
    trl_shredder_add(s, "{\"x\":\"left over\"}", 17, NULL);
    trl_shredder_reset(s);
    for (size_t i = 0; i < NEV; i++)
        trl_shredder_add(s, events[i], strlen(events[i]), NULL);
    trl_shredder_finish(s, out);
    trl_shredder_destroy(s);
}

static void test_shredded_json_gives_back_every_event_byte_for_byte(void **state)
{
    (void)state;
    struct trl_buf sh = {0};
    shred_all(&sh);
    struct trl_unshred_buf u = {0};
    uint32_t off[NEV + 1];
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, NEV, 1 << 20, &u, off), 0);
    for (size_t i = 0; i < NEV; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(events[i]));
        assert_memory_equal(u.json + off[i], events[i], strlen(events[i]));
    }
    /* The wrong event count, or a cap below the JSON's size, is refused. */
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, NEV - 1, 1 << 20, &u, off),
                     TRL_EINVAL);
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, NEV, 10, &u, off),
                     TRL_EINVAL);
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
}

static int count_in(const struct trl_buf *b, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = b->data, *end = b->data + b->len;
         (p = memmem(p, (size_t)(end - p), needle, nl)) != NULL; p += nl)
        n++;
    return n;
}

static void test_values_found_in_the_original_are_not_stored_twice(void **state)
{
    (void)state;
    struct trl_shredder *s = trl_shredder_create();
    char ev[100][512];
    for (int i = 0; i < 100; i++) {
        /* The port differs in every event: the message and the port are not among the few values
         * a field keeps inline. */
        snprintf(ev[i], sizeof(ev[i]),
                 "{\"event\":{\"original\":\"<38>web01 sshd[25003]: Failed password for root "
                 "from 203.0.113.45 port %d ssh2\"},\"message\":\"Failed password for root from "
                 "203.0.113.45 port %d ssh2\",\"source\":{\"port\":%d}}",
                 50000 + i, 50000 + i, 50000 + i);
        trl_shredder_add(s, ev[i], strlen(ev[i]), NULL);
    }
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    /* The message is a reference into event.original: stored once per event (in the original),
     * plus the first few a field keeps inline before it sees that its values vary. */
    int copies = count_in(&sh, "Failed password for root");
    assert_true(copies >= 100 && copies <= 110);
    /* The skeleton shared by the events is stored once. */
    assert_true(count_in(&sh, "\"message\"") <= 10);
    struct trl_unshred_buf u = {0};
    uint32_t off[101];
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, 100, 1 << 20, &u, off), 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(ev[i]));
        assert_memory_equal(u.json + off[i], ev[i], strlen(ev[i]));
    }
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
    trl_shredder_destroy(s);
}

static void test_times_are_stored_as_deltas_from_the_event_timestamp(void **state)
{
    (void)state;
    static const char *const json[] = {
        "{\"@timestamp\":\"2024-07-09T22:40:03.000000000Z\",\"event\":{\"created\":"
        "\"2024-07-09T22:40:03.001000000Z\"}}",
        /* A minute and a day boundary away, before the epoch, and times not in the encoder's
         * exact form (kept as text). */
        "{\"@timestamp\":\"2024-07-09T23:59:59.999999999Z\",\"event\":{\"created\":"
        "\"2024-07-10T00:00:00.000000001Z\"}}",
        "{\"@timestamp\":\"1969-12-31T23:59:59.500000000Z\",\"t\":\"2024-07-09T22:40:03Z\","
        "\"u\":\"2024-07-09T22:40:63.000000000Z\"}",
    };
    const int64_t ts[] = {1720564803000000000LL, 1720569599999999999LL, -500000000LL};
    struct trl_shredder *s = trl_shredder_create();
    for (int i = 0; i < 3; i++) {
        const struct trl_shred_val *v;
        size_t n;
        assert_true(trl_shredder_add_event(s, ts[i], json[i], strlen(json[i]), &v, &n));
        assert_true(n >= 2);
    }
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    assert_int_equal(count_in(&sh, "2024-07-09T22:40:03.0"), 0);
    assert_int_equal(count_in(&sh, "22:40:63"), 1);
    struct trl_unshred_buf u = {0};
    uint32_t off[4];
    assert_int_equal(
        trl_json_unshred_ts((const uint8_t *)sh.data, sh.len, 3, 3, ts, 1 << 20, &u, off), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(json[i]));
        assert_memory_equal(u.json + off[i], json[i], strlen(json[i]));
    }
    /* Without the timestamps such a block cannot be read, and is refused. */
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, 3, 1 << 20, &u, off),
                     TRL_EINVAL);
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
    trl_shredder_destroy(s);
}

static void test_times_at_the_ends_of_the_range_come_back_exactly(void **state)
{
    (void)state;
    const int64_t ts[] = {INT64_MAX, INT64_MIN, INT64_MAX - 1000};
    char json[3][160];
    for (int i = 0; i < 3; i++) {
        char t[TRL_RFC3339_MAX], u[TRL_RFC3339_MAX];
        size_t tn = trl_format_rfc3339(ts[i], t), un = trl_format_rfc3339(ts[(i + 1) % 3], u);
        snprintf(json[i], sizeof(json[i]), "{\"@timestamp\":\"%.*s\",\"x\":\"%.*s\"}", (int)tn, t,
                 (int)un, u);
    }
    struct trl_shredder *s = trl_shredder_create();
    for (int i = 0; i < 3; i++) {
        const struct trl_shred_val *v;
        size_t n;
        assert_true(trl_shredder_add_event(s, ts[i], json[i], strlen(json[i]), &v, &n));
    }
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    struct trl_unshred_buf u = {0};
    uint32_t off[4];
    assert_int_equal(
        trl_json_unshred_ts((const uint8_t *)sh.data, sh.len, 3, 3, ts, 1 << 20, &u, off), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(json[i]));
        assert_memory_equal(u.json + off[i], json[i], strlen(json[i]));
    }
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
    trl_shredder_destroy(s);
}

static void test_unshred_rejects_damage_without_crashing(void **state)
{
    (void)state;
    struct trl_buf sh = {0};
    shred_all(&sh);
    struct trl_unshred_buf u = {0};
    uint32_t off[NEV + 1];
    uint8_t *copy = malloc(sh.len);
    int refused = 0;
    for (size_t i = 0; i < sh.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, sh.data, sh.len);
            copy[i] ^= (uint8_t)(1u << bit);
            refused += trl_json_unshred(copy, sh.len, NEV, 1 << 20, &u, off) != 0;
        }
    }
    /* Flips inside value bytes rebuild other bytes (the zstd checksum and the chain catch
     * those); flips in the structure are refused. */
    assert_true(refused > 0);
    for (size_t n = 0; n < sh.len; n++)
        assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, n, NEV, 1 << 20, &u, off),
                         TRL_EINVAL);
    free(copy);
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
}

static void test_shredder_leaves_equal_those_of_json_leaves(void **state)
{
    (void)state;
    struct trl_shredder *s = trl_shredder_create();
    struct trl_leaves a, b;
    trl_leaves_init(&a);
    trl_leaves_init(&b);
    int given = 0;
    for (size_t i = 0; i < NEV; i++) {
        trl_leaves_reset(&a);
        trl_leaves_reset(&b);
        if (!trl_shredder_add(s, events[i], strlen(events[i]), &a))
            continue;
        given++;
        (void)trl_json_leaves(events[i], strlen(events[i]), &b);
        assert_int_equal(a.n, b.n);
        for (size_t k = 0; k < a.n; k++) {
            const struct trl_leaf *x = &a.items[k], *y = &b.items[k];
            assert_int_equal(x->path_len, y->path_len);
            assert_memory_equal(trl_leaf_path(&a, x), trl_leaf_path(&b, y), x->path_len);
            assert_int_equal(x->val_len, y->val_len);
            assert_memory_equal(trl_leaf_val(&a, x), trl_leaf_val(&b, y), x->val_len);
            assert_int_equal(x->is_string, y->is_string);
        }
    }
    /* The syslog event, the escapes, the original array, the tab, the escaped backslash, the
     * top-level array; not the malformed ones or the bare number. */
    assert_int_equal(given, 6);
    /* A bad escape is left to trl_json_leaves(). */
    trl_leaves_reset(&a);
    assert_false(trl_shredder_add(s, "{\"a\":\"\\x\"}", 10, &a));
    /* A scalar trl_json_leaves() refuses is left to it. */
    trl_leaves_reset(&a);
    assert_false(trl_shredder_add(s, "{\"a\":1,\"b\":abc}", 15, &a));
    trl_leaves_free(&a);
    trl_leaves_free(&b);
    trl_shredder_destroy(s);
}

static void test_escaped_values_unescape_alike_wherever_their_escapes_fall(void **state)
{
    (void)state;
    struct trl_shredder *s = trl_shredder_create();
    struct trl_leaves a, b;
    trl_leaves_init(&a);
    trl_leaves_init(&b);
    /* Plain runs of every length around 16 bytes between escapes, as in a Windows message
     * ("Logon Type:\t\t3\r\n"), and a value that ends just after an escape. */
    for (size_t run = 0; run <= 40; run++) {
        char ev[256];
        int len = snprintf(ev, sizeof(ev),
                           "{\"message\":\"%.*s\\t\\\"%.*s\\u00e9\\r\\n%.*s\",\"e\":\"x%.*s\\\\\"}",
                           (int)run, "An account was successfully logged on. Subject",
                           (int)(40 - run), "Security ID: S-1-5-18 Account Name: WIN01", (int)run,
                           "Logon Type 3 Logon Process Advapi Logon ", (int)run,
                           "0123456789abcdef0123456789abcdef01234567");
        trl_leaves_reset(&a);
        trl_leaves_reset(&b);
        assert_true(trl_shredder_add(s, ev, (size_t)len, &a));
        assert_int_equal(trl_json_leaves(ev, (size_t)len, &b), 0);
        assert_int_equal(a.n, 2);
        assert_int_equal(b.n, 2);
        for (size_t k = 0; k < a.n; k++) {
            const struct trl_leaf *x = &a.items[k], *y = &b.items[k];
            assert_int_equal(x->val_len, y->val_len);
            assert_memory_equal(trl_leaf_val(&a, x), trl_leaf_val(&b, y), x->val_len);
        }
        /* The tab, the quote and the two bytes of U+00E9 are in the message as decoded. */
        assert_int_equal(a.items[0].val_len, run + 2 + (40 - run) + 4 + run);
    }
    /* An unterminated escaped value after a long run is refused, not read past. */
    trl_leaves_reset(&a);
    const char *cut = "{\"a\":\"0123456789abcdef0123\\";
    assert_false(trl_shredder_add(s, cut, strlen(cut), &a));
    trl_leaves_free(&a);
    trl_leaves_free(&b);
    trl_shredder_destroy(s);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    return trl_varint_put(p, v);
}

/* A data blob of format 1 (row JSON), columns stored uncompressed, as earlier versions wrote. */
static size_t format1_blob(uint8_t *b, const char *const *json, const int64_t *ts, uint32_t n)
{
    uint8_t tsraw[64], jsraw[1024];
    size_t tl = 0, jl = 0;
    int64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t d = ts[i] - prev;
        prev = ts[i];
        tl += put_varint(tsraw + tl, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
        size_t len = strlen(json[i]);
        jl += put_varint(jsraw + jl, len);
        memcpy(jsraw + jl, json[i], len);
        jl += len;
    }
    size_t o = 0;
    memcpy(b, "TRLB", 4);
    b[4] = 1; /* version */
    b[5] = 2; /* columns */
    b[6] = b[7] = 0;
    trl_put_u32le(b + 8, n);
    o = 12;
    const uint8_t cols[2] = {TRL_COL_TS, TRL_COL_JSON};
    const size_t lens[2] = {tl, jl};
    for (int c = 0; c < 2; c++) {
        memset(b + o, 0, 12);
        b[o] = cols[c];
        trl_put_u32le(b + o + 4, (uint32_t)lens[c]);
        trl_put_u32le(b + o + 8, (uint32_t)lens[c]);
        o += 12;
    }
    memcpy(b + o, tsraw, tl);
    o += tl;
    memcpy(b + o, jsraw, jl);
    return o + jl;
}

static void test_blocks_of_format_1_stay_readable(void **state)
{
    (void)state;
    const char *json[2] = {"{\"user\":{\"name\":\"root\"}}", "{\"message\":\"hello\"}"};
    const int64_t ts[2] = {1000, 999};
    uint8_t blob[2048];
    size_t len = format1_blob(blob, json, ts, 2);
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, blob, len), 0);
    assert_int_equal(v.version, 1);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_TS), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_JSON), 0);
    assert_true(d.ts[0] == 1000 && d.ts[1] == 999);
    for (int i = 0; i < 2; i++) {
        const struct trl_str *j = &d.str[TRL_COL_JSON].vals[d.str[TRL_COL_JSON].first[i]];
        assert_int_equal(j->len, strlen(json[i]));
        assert_memory_equal(j->ptr, json[i], j->len);
    }
    trl_block_decoder_free(&d);
    /* A version this code does not know is refused. */
    blob[4] = TRL_BLOCK_VERSION + 1;
    assert_int_equal(trl_block_view_init(&v, blob, len), TRL_EINVAL);
}

/* A block of format 2 as the previous writer built it (zstd level 3, Bloom 10 bits per term):
 * an sshd event with references into event.original, escapes and arrays, and a malformed event. */
static const char *const format2_hex = "54524c42020b000003000000000100000b0000001800000001010000090"
                                       "000001600000002010000100000001d000000"
                                       "03010000030000001000000004010000080000001500000005010000080"
                                       "0000015000000060100000300000010000000"
                                       "07010000140000002100000008010000030000001000000009010000030"
                                       "00000100000000a010000130200009b010000"
                                       "28b52ffd240b59000080f8d6fdd0a4d6e02f020218eb6c6928b52ffd240"
                                       "9490000010577656230310000ac5a6ff428b5"
                                       "2ffd2410810000010c3230332e302e3131332e34350000f80b781a28b52"
                                       "ffd2403190000000000a48caf7d28b52ffd24"
                                       "084100000104726f6f7400008da2302828b52ffd2408410000010473736"
                                       "86400004dc0e92928b52ffd24031900000000"
                                       "00a48caf7d28b52ffd2414a1000001107373682d6c6f67696e2d6661696"
                                       "c656400004a5dda1728b52ffd240319000000"
                                       "0000a48caf7d28b52ffd2403190000000000a48caf7d28b52ffd6413016"
                                       "d0c00b6d95733304de306c04055130d55f10a"
                                       "a7d532a5e01b1162f6f987881a9e6dd7824bba21e5fafb025348033e74e"
                                       "9a3fc47732009929401480046004d000bea6f"
                                       "d50bdb8ac76dc1a05ed58ba250d77a5c1ef5e973fd2b797c8ffa65a92c5"
                                       "5d7a8e7eb31bc47f7a86356cdf82d2a3f70ed"
                                       "6d70cf4938e82216e728b80967c04d2c1920a086452e79c7c8a6c548142"
                                       "38d25369628a22ef18e2de0356dafde1a846d"
                                       "7bb88f338f5b00483d5f8b7904b0a08e512fddcc628f9b03a43e5198470"
                                       "6c62fd98b79642815e3b73c6e30119a461e29"
                                       "a1194d158cdb9192af70c0e06930c199bea2eaa4b9288aad9a0ac6052c4"
                                       "8c723a97cd0392b50c866816c1e53ce0492a4"
                                       "fa4559f7f395b916c120d89ac0a3fe71c012519fbce3a6d1ee79c8e1348"
                                       "caaca2ef8b8aa13e6b39be17ccebb20142f65"
                                       "06e90902f96c33875c38001530121a1003011fa80403a79c8e0375430fc"
                                       "7e3388ed996bd93ced6debe76d2d3b5151857"
                                       "ac031000464479d8e0dd1123205c0c3261aa1ac41fd635783eed321dd9b"
                                       "93231a8608db23e662c34d565c4393063907e"
                                       "87";

static const char *const format2_json[] = {
    "{\"@timestamp\":\"2024-07-09T22:40:03.000000000Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"created\":\"2024-07-09T22:40:03.001000000Z\",\"original\":\"<38>web01 sshd[25003]: Failed "
    "password for root from 203.0.113.45 port 51120 ssh2\"},\"host\":{\"name\":\"web01\"},"
    "\"message\":\"Failed password for root from 203.0.113.45 port 51120 ssh2\",\"process\":{"
    "\"name\":\"sshd\",\"pid\":25003},\"source\":{\"ip\":\"203.0.113.45\",\"port\":51120},"
    "\"user\":{\"name\":\"root\"}}",
    "{ \"a\" : \"q\\\"uote\\\\d \\u00e9\\n\" , \"b\":[[1,2],[],{}], \"c\":{}, \"d\":[true,false,"
    "null,-1.5e3], \"e\":\"\" }",
    "{\"unterminated\":\"abc",
};

static void test_blocks_of_format_2_stay_readable(void **state)
{
    (void)state;
    size_t len = strlen(format2_hex) / 2;
    uint8_t *blob = malloc(len);
    for (size_t i = 0; i < len; i++)
        blob[i] = (uint8_t)(trl_hex_value(format2_hex[2 * i]) << 4 |
                            trl_hex_value(format2_hex[2 * i + 1]));
    struct trl_block_view v;
    assert_int_equal(trl_block_view_init(&v, blob, len), 0);
    assert_int_equal(v.version, 2);
    struct trl_block_decoder d;
    trl_block_decoder_init(&d);
    trl_block_decoder_reset(&d, &v);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_JSON), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_TS), 0);
    assert_int_equal(trl_block_decode(&d, &v, TRL_COL_USER_NAME), 0);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(d.ts[i] == 1720564803000000000LL + i);
        const struct trl_str *j = &d.str[TRL_COL_JSON].vals[d.str[TRL_COL_JSON].first[i]];
        assert_int_equal(j->len, strlen(format2_json[i]));
        assert_memory_equal(j->ptr, format2_json[i], j->len);
    }
    const struct trl_strcol *u = &d.str[TRL_COL_USER_NAME];
    assert_int_equal(u->first[1] - u->first[0], 1);
    assert_int_equal(u->vals[u->first[0]].len, 4);
    assert_memory_equal(u->vals[u->first[0]].ptr, "root", 4);
    trl_block_decoder_free(&d);
    free(blob);
}

/* A block of format 3 as the previous writer built it (zstd level 3, Bloom 12 bits per term, term
 * hash version 2): format2_json and a second sshd event, timestamps 1720564803000000000 + i. Its
 * keyword columns are stored whole, one entry per event. */
static const char *const format3_data_hex =
    "54524c42030b000004000000000100000c0000001900000001010000100000001d000000020100001e000000"
    "2b000000030100000400000011000000040100000f0000001c00000005010000090000001600000006010000"
    "0400000011000000070100002600000027000000080100000400000011000000090100000400000011000000"
    "0a010000e8020000b001000028b52ffd240c61000080f8d6fdd0a4d6e02f0202028f7da1e328b52ffd241081"
    "000001057765623031000001057765623031a029742328b52ffd241ef10000010c3230332e302e3131332e34"
    "350000010c3139382e35312e3130302e3752993bfe28b52ffd240421000000000000b4def25c28b52ffd240f"
    "7900000104726f6f740000010561646d696e5cb20fc728b52ffd2409490000010473736864000000be2e98ae"
    "28b52ffd240421000000000000b4def25c28b52ffd2426d50000a001107373682d6c6f67696e2d6661696c65"
    "6400000100ce9b4c9ae4b66928b52ffd240421000000000000b4def25c28b52ffd240421000000000000b4de"
    "f25c28b52ffd64e801150d0036d952346049da1c304c4d30040a7804e40ae150384da4e8253590ff5fac9dc9"
    "a7ec24e1852904daedcd2eb3d34898112b391421843e221247004000400057e1f01e41192191ceb3858777a8"
    "2d6cfa9c1dea28c2c74246c88c16915aff2e67b40f7cf56e652fe8b3f5f03e49d0d696a235f04a61c25a6b29"
    "40588ab5d602c3030807090c01b42b75769be21cf36ee99ccece3092c5b9a4254b53fe3ec57e2835ebd95d5a"
    "639477284e915a6bed67d2e9ac41f1de10586b4b67f7ae397ae2ef2d415967e42c97fff75e9a49dc82451125"
    "59d7083e5853d436efd099ddeafd39b3c6ad58a3610d85b9a679779c195f3a12dd1ae530e4386d277547c1f9"
    "f1e1b982f7dece49034f8012a99515a535062381c2ccd2a40f663a1f0cd139512b9cf800bf46c30522160208"
    "183868b0d6bd1f90b4e612c7241112aec12ea304c13755d434c2e3809751a26d25f50a404380202030422240"
    "52f9180027072b030eb980fa56251a2342dd896a31520cbb45530536aa4c8e7330df2e0987b546ef85e6995f"
    "43f6cd023e8c2825a89747c320b297b6c6d28d4484ed3a38ae8c60835d012638ebc2b573182b";
static const char *const format3_meta_hex =
    "54524c4d010208090400000000deda8792ace01703deda8792ace01700030000010302000000057765623031"
    "057765623031010577656230310203020000000c3139382e35312e3130302e370c3230332e302e3131332e34"
    "35020c3230332e302e3131332e34350c3139382e35312e3130302e3703010000000000040302000000056164"
    "6d696e04726f6f740204726f6f740561646d696e050301000000047373686404737368640104737368640601"
    "0000000000070302000000107373682d6c6f67696e2d6661696c6564107373682d6c6f67696e2d6661696c65"
    "6401107373682d6c6f67696e2d6661696c6564080100000000000901000000000057f9fec3e154111e018916"
    "16e4e9fe2522ab6264dd38c8df8e6cf85966814b647842710ed064c26a6e8feba24c43899aedd8d534424dfd"
    "cd7276a3352715e53713491ca9783fc310c7b6ef91938ad6464de2eefd5756681646ad2154e2ca2412";
static const char *const format3_digest_hex =
    "e6973138e0949458fef6791e84f4d00b745a307e4ee418d497cb55054199e9ee";

static const char *const format3_extra_json =
    "{\"@timestamp\":\"2024-07-09T22:40:03.000000003Z\",\"event\":{\"action\":\"ssh-login-failed\","
    "\"original\":\"<38>web01 sshd[25004]: Failed password for admin from 198.51.100.7 port 40022 "
    "ssh2\"},\"host\":{\"name\":\"web01\"},\"related\":{\"user\":[\"admin\",\"root\"]},"
    "\"source\":{\"ip\":\"198.51.100.7\"},\"user\":{\"name\":\"admin\"}}";

static uint8_t *from_hex(const char *hex, size_t *len)
{
    *len = strlen(hex) / 2;
    uint8_t *p = malloc(*len);
    assert_non_null(p);
    for (size_t i = 0; i < *len; i++)
        p[i] = (uint8_t)(trl_hex_value(hex[2 * i]) << 4 | trl_hex_value(hex[2 * i + 1]));
    return p;
}

/* The four events of a format fixture come back byte for byte from decoder d (JSON decoded), with
 * the timestamps they were written with, and their digest is the one the chain recorded. */
static void assert_fixture_events(const struct trl_block_decoder *d, const char *const json[4],
                                  const uint8_t *digest, size_t dlen)
{
    struct trl_sha256 h;
    assert_int_equal(trl_sha256_init(&h), 0);
    for (uint32_t i = 0; i < 4; i++) {
        assert_true(d->ts[i] == 1720564803000000000LL + i);
        const struct trl_str *j = &d->str[TRL_COL_JSON].vals[d->str[TRL_COL_JSON].first[i]];
        assert_int_equal(j->len, strlen(json[i]));
        assert_memory_equal(j->ptr, json[i], j->len);
        trl_events_digest_add(&h, d->ts[i], j->ptr, j->len);
    }
    uint8_t got[TRL_SHA256_LEN];
    trl_sha256_final(&h, got);
    assert_int_equal(dlen, TRL_SHA256_LEN);
    assert_memory_equal(got, digest, TRL_SHA256_LEN);
}

/* A block fixture of a past format: its data, meta and events digest decoded from hex, the data
 * viewed, its JSON and user.name columns decoded, and its events checked against the fixture's
 * JSON (the format 2 events and format3_extra_json). */
struct old_block {
    uint8_t *data, *meta, *digest;
    size_t len, mlen, dlen;
    struct trl_block_view v;
    struct trl_block_decoder d;
};

static void old_block_open(struct old_block *b, const char *data_hex, const char *meta_hex,
                           const char *digest_hex, uint8_t version)
{
    const char *json[4] = {format2_json[0], format2_json[1], format2_json[2], format3_extra_json};
    b->data = from_hex(data_hex, &b->len);
    b->meta = from_hex(meta_hex, &b->mlen);
    b->digest = from_hex(digest_hex, &b->dlen);
    assert_int_equal(trl_block_view_init(&b->v, b->data, b->len), 0);
    assert_int_equal(b->v.version, version);
    trl_block_decoder_init(&b->d);
    trl_block_decoder_reset(&b->d, &b->v);
    assert_int_equal(trl_block_decode(&b->d, &b->v, TRL_COL_JSON), 0);
    assert_int_equal(trl_block_decode(&b->d, &b->v, TRL_COL_USER_NAME), 0);
    assert_fixture_events(&b->d, json, b->digest, b->dlen);
}

static void old_block_close(struct old_block *b)
{
    trl_block_decoder_free(&b->d);
    free(b->data);
    free(b->meta);
    free(b->digest);
}

static void test_blocks_of_format_3_stay_readable(void **state)
{
    (void)state;
    struct old_block b;
    old_block_open(&b, format3_data_hex, format3_meta_hex, format3_digest_hex, 3);
    struct trl_block_decoder *d = &b.d;
    assert_int_equal(trl_block_decode(d, &b.v, TRL_COL_SOURCE_IP), 0);
    /* Keyword columns: root, none, none, admin; the addresses of events 0 and 3. */
    const struct trl_strcol *u = &d->str[TRL_COL_USER_NAME], *ip = &d->str[TRL_COL_SOURCE_IP];
    assert_int_equal(u->first[1] - u->first[0], 1);
    assert_memory_equal(u->vals[u->first[0]].ptr, "root", 4);
    assert_int_equal(u->first[3] - u->first[1], 0);
    assert_int_equal(u->vals[u->first[3]].len, 5);
    assert_memory_equal(u->vals[u->first[3]].ptr, "admin", 5);
    assert_int_equal(ip->vals[ip->first[3]].len, 12);
    assert_memory_equal(ip->vals[ip->first[3]].ptr, "198.51.100.7", 12);
    uint32_t start[5], nvals[4];
    const uint8_t *bytes;
    assert_int_equal(trl_block_decode_slices(d, &b.v, TRL_COL_USER_NAME, start, nvals, &bytes), 0);
    assert_int_equal(nvals[0], 1);
    assert_int_equal(nvals[1], 0);
    assert_memory_equal(bytes + start[3],
                        "\x01\x05"
                        "admin",
                        7);
    /* Its meta (term hash version 2) still answers for its terms. */
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(b.meta, b.mlen, &m), 0);
    assert_int_equal(m.bloom.version, 2);
    assert_true(trl_bloom_maybe(&m.bloom, trl_term_field_hash("user.name", 9, "admin", 5)));
    assert_true(trl_bloom_maybe(&m.bloom, trl_term_text_hash("198.51", 6)));
    assert_false(trl_bloom_maybe(&m.bloom, trl_term_field_hash("user.name", 9, "mallory", 7)));
    old_block_close(&b);
}

/* A block of format 4 as the previous writer built it (zstd level 3, 12 bits per term, term hash
 * version 3, ribbon filter): the events of the format 3 block above, with the same timestamps. Its
 * keyword columns are dictionaries and its JSON column one shredded stream. */
static const char *const format4_data_hex =
    "54524c42040b000004000000000100000c00000019000000010101000d0000001a0000000201010022000000"
    "2f000000030101000600000013000000040101001300000020000000050101000c0000001900000006010100"
    "0600000013000000070101001800000025000000080101000600000013000000090101000600000013000000"
    "0a010000e8020000b001000028b52ffd240c61000080f8d6fdd0a4d6e02f0202028f7da1e328b52ffd240d69"
    "000008010577656230310000000201e5d06bb128b52ffd24221101001d010c3230332e302e3131332e343500"
    "010c3139382e35312e3130302e3700000200076640ec28b52ffd2406310000010000010101669181b028b52f"
    "fd24139900000e0104726f6f7400010561646d696e00000200a7cfd17628b52ffd240c610000070104737368"
    "64000000020274dc671828b52ffd2406310000010000010101669181b028b52ffd2418c10000130110737368"
    "2d6c6f67696e2d6661696c65640000000201da384e0428b52ffd2406310000010000010101669181b028b52f"
    "fd2406310000010000010101669181b028b52ffd64e801150d0036d952346049da1c304c4d30040a7804e40a"
    "e150384da4e8253590ff5fac9dc9a7ec24e1852904daedcd2eb3d34898112b391421843e2212470040004000"
    "57e1f01e41192191ceb3858777a82d6cfa9c1dea28c2c74246c88c16915aff2e67b40f7cf56e652fe8b3f5f0"
    "3e49d0d696a235f04a61c25a6b2940588ab5d602c3030807090c01b42b75769be21cf36ee99ccece3092c5b9"
    "a4254b53fe3ec57e2835ebd95d5a639477284e915a6bed67d2e9ac41f1de10586b4b67f7ae397ae2ef2d4159"
    "67e42c97fff75e9a49dc8245112559d7083e5853d436efd099ddeafd39b3c6ad58a3610d85b9a679779c195f"
    "3a12dd1ae530e4386d277547c1f9f1e1b982f7dece49034f8012a99515a535062381c2ccd2a40f663a1f0cd1"
    "39512b9cf800bf46c30522160208183868b0d6bd1f90b4e612c7241112aec12ea304c13755d434c2e3809751"
    "a26d25f50a40438020203042224052f9180027072b030eb980fa56251a2342dd896a31520cbb45530536aa4c"
    "8e7330df2e0987b546ef85e6995f43f6cd023e8c2825a89747c320b297b6c6d28d4484ed3a38ae8c60835d01"
    "2638ebc2b573182b";
static const char *const format4_meta_hex =
    "54524c4d010208090400000000deda8792ace01703deda8792ace01700030000010302000000057765623031"
    "057765623031010577656230310203020000000c3139382e35312e3130302e370c3230332e302e3131332e34"
    "35020c3230332e302e3131332e34350c3139382e35312e3130302e3703010000000000040302000000056164"
    "6d696e04726f6f740204726f6f740561646d696e050301000000047373686404737368640104737368640601"
    "0000000000070302000000107373682d6c6f67696e2d6661696c6564107373682d6c6f67696e2d6661696c65"
    "6401107373682d6c6f67696e2d6661696c6564080100000000000901000000000057f9fec3e154111e018916"
    "16e4e9fe2522ab6264dd38c8df8e6cf85966814b647842710ed064c26a6e8feba24c43899aedd8d534424dfd"
    "cd7276a3352715e53713491ca9783fc310c7b6ef91938ad6464de2eefd5756681646ad2154e2ca2412";
static const char *const format4_digest_hex =
    "e6973138e0949458fef6791e84f4d00b745a307e4ee418d497cb55054199e9ee";

static void test_blocks_of_format_4_stay_readable(void **state)
{
    (void)state;
    const char *json[4] = {format2_json[0], format2_json[1], format2_json[2], format3_extra_json};
    struct old_block b;
    old_block_open(&b, format4_data_hex, format4_meta_hex, format4_digest_hex,
                   TRL_BLOCK_VERSION_DICT4);
    assert_true(b.v.cols[TRL_COL_USER_NAME].dict);
    const struct trl_strcol *u = &b.d.str[TRL_COL_USER_NAME];
    assert_int_equal(u->first[1] - u->first[0], 1);
    assert_memory_equal(u->vals[u->first[0]].ptr, "root", 4);
    assert_memory_equal(u->vals[u->first[3]].ptr, "admin", 5);
    /* Its JSON column is one part: a search reads it as a format 5 block's. */
    struct trl_json_parts ps = {0};
    assert_int_equal(trl_block_json_parts(&b.v, &ps), 0);
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.p[0].count, 4);
    trl_json_parts_free(&ps);
    /* The meta blob parses, and the current writer builds the same index and digest for the
     * same events, in a block of format 5. */
    struct trl_block_meta m;
    assert_int_equal(trl_block_meta_parse(b.meta, b.mlen, &m), 0);
    assert_int_equal(m.count, 4);
    struct trl_block_input in[4];
    for (int i = 0; i < 4; i++)
        in[i] = (struct trl_block_input){1720564803000000000LL + i, json[i], strlen(json[i])};
    struct trl_block_builder *bb = trl_block_builder_create(3, 12);
    struct trl_block_out out;
    assert_int_equal(trl_block_build(bb, in, 4, &out), 0);
    assert_int_equal(out.data[4], TRL_BLOCK_VERSION);
    assert_int_equal(out.meta_len, b.mlen);
    assert_memory_equal(out.meta, b.meta, b.mlen);
    assert_memory_equal(out.events_digest, b.digest, TRL_SHA256_LEN);
    trl_block_builder_destroy(bb);
    old_block_close(&b);
}

/* Shreds the events (NUL-terminated, one block) and checks they come back byte for byte. */
static void assert_round_trip(char (*ev)[256], uint32_t n)
{
    struct trl_shredder *s = trl_shredder_create();
    for (uint32_t i = 0; i < n; i++) {
        /* An exact-size copy, so that a read past the event is caught. */
        size_t len = strlen(ev[i]);
        char *exact = malloc(len);
        assert_non_null(exact);
        memcpy(exact, ev[i], len);
        trl_shredder_add(s, exact, len, NULL);
        free(exact);
    }
    struct trl_buf sh = {0};
    trl_shredder_finish(s, &sh);
    struct trl_unshred_buf u = {0};
    uint32_t off[257];
    assert_int_equal(trl_json_unshred((const uint8_t *)sh.data, sh.len, n, 1 << 20, &u, off), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(ev[i]));
        assert_memory_equal(u.json + off[i], ev[i], strlen(ev[i]));
    }
    trl_unshred_buf_free(&u);
    trl_buf_free(&sh);
    trl_shredder_destroy(s);
}

static void test_references_at_every_place_of_the_original_come_back_exactly(void **state)
{
    (void)state;
    static char ev[256][256];
    /* Originals of every length around the search's 16-byte steps, each value taken from every
     * place in it (its start, its middle, its very end) or absent from it. */
    for (size_t len = 4; len <= 70; len++) {
        char orig[80];
        for (size_t i = 0; i < len; i++)
            orig[i] = (char)('a' + (i * 7 + len) % 26);
        uint32_t n = 0;
        for (size_t at = 0; at + 4 <= len + 1 && n < 256; at++) {
            size_t vlen = at + 4 <= len ? 4 + (at * 5) % (len - at - 3) : 4;
            char val[80];
            if (at + 4 <= len)
                memcpy(val, orig + at, vlen);
            else
                memcpy(val, "zzzz", vlen);
            snprintf(ev[n++], sizeof(ev[0]),
                     "{\"event\":{\"original\":\"%.*s\"},\"v\":\"%.*s\",\"n\":1}", (int)len, orig,
                     (int)vlen, val);
        }
        assert_round_trip(ev, n);
    }
    /* A value found twice in its original, and one that only matches at its first and last
     * bytes. */
    snprintf(ev[0], sizeof(ev[0]), "%s",
             "{\"event\":{\"original\":\"port 22 from 10.0.0.1 port 22 from 10.0.0.1\"},"
             "\"p\":\"port 22\",\"q\":\"pxxt 22\",\"r\":\"10.0.0.1\"}");
    snprintf(ev[1], sizeof(ev[1]), "%s",
             "{\"event\":{\"original\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"},"
             "\"p\":\"aaaab\",\"q\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"}");
    assert_round_trip(ev, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shredded_json_gives_back_every_event_byte_for_byte),
        cmocka_unit_test(test_values_found_in_the_original_are_not_stored_twice),
        cmocka_unit_test(test_unshred_rejects_damage_without_crashing),
        cmocka_unit_test(test_shredder_leaves_equal_those_of_json_leaves),
        cmocka_unit_test(test_escaped_values_unescape_alike_wherever_their_escapes_fall),
        cmocka_unit_test(test_blocks_of_format_1_stay_readable),
        cmocka_unit_test(test_blocks_of_format_2_stay_readable),
        cmocka_unit_test(test_blocks_of_format_3_stay_readable),
        cmocka_unit_test(test_blocks_of_format_4_stay_readable),
        cmocka_unit_test(test_times_are_stored_as_deltas_from_the_event_timestamp),
        cmocka_unit_test(test_times_at_the_ends_of_the_range_come_back_exactly),
        cmocka_unit_test(test_references_at_every_place_of_the_original_come_back_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
