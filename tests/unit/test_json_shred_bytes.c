/* Event store: the shredded JSON column is an on-disk format. Blocks built from the same events
 * keep the very bytes the format has always had, whichever way the shredder reads each event (a
 * known shape or key by key); a value found in event.original names its first place there; a time
 * whose fraction has a stray byte stays text. */
#include "trl_test.h"

#include "core/buf.h"
#include "core/timeutil.h"
#include "store/block.h"
#include "store/digest.h"
#include "shred_leaves_check.h"
#include "store/json_leaves.h"
#include "store/json_shred.h"

/* The skeleton of a stream-marked value that is a time (see json_shred.c). */
#define MARK_TIME 7

/* The SHA-256 of p[0..n) in hex. */
static void sha256_hex(const void *p, size_t n, char hex[2 * TRL_SHA256_LEN + 1])
{
    struct trl_sha256 h;
    uint8_t d[TRL_SHA256_LEN];
    assert_int_equal(trl_sha256_init(&h), 0);
    trl_sha256_update(&h, p, n);
    trl_sha256_final(&h, d);
    trl_sha256_free(&h);
    for (int i = 0; i < TRL_SHA256_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* One part of a shredded column, read back by its documented layout. */
struct column {
    uint64_t count, nst;
    const uint8_t *skel;
    size_t skel_len;
    const uint8_t *refs[8];
    size_t refs_len[8];
};

static void read_column(const struct trl_buf *b, struct column *c)
{
    const uint8_t *p = (const uint8_t *)b->data, *end = p + b->len;
    uint64_t total, skel_len, lens[8][2];
    assert_true(trl_varint_get(&p, end, &c->count) && trl_varint_get(&p, end, &total) &&
                trl_varint_get(&p, end, &c->nst) && trl_varint_get(&p, end, &skel_len));
    assert_true(c->nst <= 8);
    for (uint64_t i = 0; i < c->nst; i++)
        assert_true(trl_varint_get(&p, end, &lens[i][0]) && trl_varint_get(&p, end, &lens[i][1]));
    c->skel = p;
    c->skel_len = (size_t)skel_len;
    p += skel_len;
    for (uint64_t i = 0; i < c->nst; i++) {
        p += lens[i][0];
        c->refs[i] = p;
        c->refs_len[i] = (size_t)lens[i][1];
        p += lens[i][1];
    }
    assert_ptr_equal(p, end);
}

/* Checks that the parts of one block in col[0..len) give back the n events json[] (timestamps
 * ts[]). */
static void assert_block_round_trip(const struct trl_buf *col, char **json, const int64_t *ts,
                                    uint32_t n)
{
    struct trl_unshred_buf u = {0};
    uint32_t *off = calloc(n + 1, sizeof(*off));
    assert_int_equal(
        trl_json_unshred_parts((const uint8_t *)col->data, col->len, n, ts, 1 << 26, &u, off), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(off[i + 1] - off[i], strlen(json[i]));
        assert_memory_equal(u.json + off[i], json[i], strlen(json[i]));
    }
    free(off);
    trl_unshred_buf_free(&u);
}

/* Events of every kind the shredder reads: known shapes, escapes, scalars, times, verbatim. */
static const struct {
    int64_t ts;
    const char *json;
} golden_events[] = {
    {1795806094860000000,
     "{\"@timestamp\":\"2026-11-27T19:01:34.860000000Z\",\"event\":{\"action\":\"ssh-login\","
     "\"created\":\"2026-11-28T08:22:40.573922800Z\",\"kind\":\"event\",\"original\":\"<38>web01 "
     "sshd[25003]: Failed password for root from 203.0.113.45 port 51120 ssh2\",\"outcome\":"
     "\"failure\"},\"host\":{\"name\":\"web01\"},\"process\":{\"name\":\"sshd\",\"pid\":25003},"
     "\"source\":{\"ip\":\"203.0.113.45\",\"port\":51120},\"user\":{\"name\":\"root\"}}"},
    {1795806095000000000,
     "{\"@timestamp\":\"2026-11-27T19:01:35.000000000Z\",\"event\":{\"action\":\"ssh-login\","
     "\"created\":\"2026-11-28T08:22:40.573999999Z\",\"kind\":\"event\",\"original\":\"<38>web02 "
     "sshd[7]: Accepted publickey for admin from 198.51.100.7 port 22 ssh2\",\"outcome\":"
     "\"success\"},\"host\":{\"name\":\"web02\"},\"process\":{\"name\":\"sshd\",\"pid\":7},"
     "\"source\":{\"ip\":\"198.51.100.7\",\"port\":22},\"user\":{\"name\":\"admin\"}}"},
    /* Escapes in the original and in a value, a negative number, literals, an array. */
    {1795806096000000000,
     "{\"@timestamp\":\"2026-11-27T19:01:36.000000000Z\",\"event\":{\"category\":[\"process\","
     "\"host\"],\"original\":\"MSWinEventLog\\t1\\tSecurity\\tC:\\\\Windows\\\\cmd.exe \\\"x\\\"\","
     "\"severity\":-3},\"process\":{\"executable\":\"C:\\\\Windows\\\\cmd.exe\",\"pid\":4},"
     "\"winlog\":{\"ok\":true,\"no\":false,\"none\":null}}"},
    /* A time that is not the encoder's form, a time of another minute, a long value. */
    {1795806097000000000,
     "{\"@timestamp\":\"2026-11-27T19:01:37.00000000xZ\",\"event\":{\"created\":"
     "\"2026-11-27T19:05:00.000000001Z\",\"original\":\"GET /index.html?q=aaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\"},\"url\":{\"original\":\"/index.html?q=aaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}"},
    /* Not JSON: kept verbatim. */
    {1795806098000000000, "{\"event\":{\"original\":\"x\"},\"user\":"},
    /* The first shape again with other values. */
    {1795806099000000000,
     "{\"@timestamp\":\"2026-11-27T19:01:39.000000000Z\",\"event\":{\"action\":\"ssh-login\","
     "\"created\":\"2026-11-28T08:22:41.000000000Z\",\"kind\":\"event\",\"original\":\"<38>db01 "
     "sshd[99]: Failed password for invalid user oracle from 192.0.2.200 port 40000 ssh2\","
     "\"outcome\":\"failure\"},\"host\":{\"name\":\"db01\"},\"process\":{\"name\":\"sshd\","
     "\"pid\":99},\"source\":{\"ip\":\"192.0.2.200\",\"port\":40000},\"user\":{\"name\":"
     "\"oracle\"}}"},
};

/* Writes generated event i (of a mix of shapes and values, the same on every run) to out and
 * gives its timestamp. */
static int64_t generated_event(uint32_t i, char *out, size_t cap)
{
    static const char *const users[] = {"root",     "admin",   "oracle", "postgres",
                                        "www-data", "backup",  "git",    "deploy",
                                        "nagios",   "jenkins", "alice",  "bob"};
    static const char *const hosts[] = {"web01", "web02", "db01", "mail", "vpn-gw"};
    static const char *const outcomes[] = {"success", "failure", "unknown"};
    uint32_t r = (i + 1) * 0x9e3779b1u;
    r ^= r >> 16;
    r *= 0x85ebca6bu;
    r ^= r >> 13;
    int64_t ts = 1795806094000000000LL + (int64_t)i * 1000003LL;
    char t[40], c[40];
    trl_format_rfc3339(ts, t);
    /* The time of ingestion: most often a few milliseconds later, sometimes in another minute. */
    trl_format_rfc3339(ts + (r % 7 == 0 ? 61 * TRL_NS_PER_SEC : (int64_t)(r % 5000) * 1000), c);
    const char *user = users[(i / 3) % (i < 600 ? 4 : 12)];
    const char *host = hosts[r % 5];
    unsigned ip = 0xc0000200u + r % 251, port = 1024 + r % 60000, pid = 100 + r % 30000;
    switch (r % 8) {
    case 0:
    case 1:
    case 2:
        snprintf(out, cap,
                 "{\"@timestamp\":\"%s\",\"event\":{\"action\":\"ssh-login\",\"category\":"
                 "[\"authentication\",\"session\"],\"created\":\"%s\",\"kind\":\"event\","
                 "\"original\":\"<38>%s sshd[%u]: Failed password for %s from %u.%u.%u.%u port "
                 "%u ssh2\",\"outcome\":\"%s\"},\"host\":{\"name\":\"%s\"},\"process\":{\"name\":"
                 "\"sshd\",\"pid\":%u},\"source\":{\"ip\":\"%u.%u.%u.%u\",\"port\":%u},\"user\":"
                 "{\"name\":\"%s\"}}",
                 t, c, host, pid, user, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, port,
                 outcomes[(i / 5) % 3], host, pid, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                 ip & 255, port, user);
        break;
    case 3:
    case 4:
        snprintf(out, cap,
                 "{\"@timestamp\":\"%s\",\"event\":{\"original\":\"%u.%u.%u.%u - - \\\"GET "
                 "/app/%0*u/view?id=%u HTTP/1.1\\\" %u %u\"},\"http\":{\"request\":{\"method\":"
                 "\"GET\"},\"response\":{\"bytes\":%u,\"status_code\":%u}},\"url\":{\"original\":"
                 "\"/app/%0*u/view?id=%u\"},\"source\":{\"ip\":\"%u.%u.%u.%u\"}}",
                 t, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, (int)(r % 60), r, pid,
                 200 + (r % 4) * 100, port, port, 200 + (r % 4) * 100, (int)(r % 60), r, pid,
                 ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
        break;
    case 5:
        snprintf(out, cap,
                 "{\"@timestamp\":\"%s\",\"event\":{\"code\":\"4688\",\"original\":"
                 "\"MSWinEventLog\\t1\\tSecurity\\t%u\\t%s\\tC:\\\\Windows\\\\System32\\\\cmd%u.exe"
                 "\"},\"process\":{\"executable\":\"C:\\\\Windows\\\\System32\\\\cmd%u.exe\","
                 "\"pid\":%u},\"winlog\":{\"ok\":%s,\"level\":%d,\"x\":null}}",
                 t, pid, user, r % 3, r % 3, pid, r % 2 ? "true" : "false", -(int)(r % 4));
        break;
    case 6:
        /* A key with an escape, a time not in the encoder's form, a value longer than any kept
         * inline. */
        snprintf(out, cap,
                 "{\"@timestamp\":\"%.28sx%s\",\"a\\\"b\":\"%s\",\"message\":\"%s %s "
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa %u\"}",
                 t, t + 29, host, user, host, r);
        break;
    default:
        /* Not JSON, or empty containers. */
        if (r % 16 < 8)
            snprintf(out, cap, "{\"event\":{\"original\":\"%s\"},\"user\":", user);
        else
            snprintf(out, cap, "{\"e\":{},\"f\":[],\"g\":\"%s\"}", user);
        break;
    }
    return ts;
}

static void test_fixed_events_shred_to_the_bytes_format_5_has_always_had(void **state)
{
    (void)state;
    struct trl_shredder *s = trl_shredder_create();
    struct trl_buf col = {0};
    size_t n = sizeof(golden_events) / sizeof(golden_events[0]);
    for (size_t i = 0; i < n; i++) {
        const struct trl_shred_val *v;
        size_t nv;
        bool ok = trl_shredder_add_event(s, golden_events[i].ts, golden_events[i].json,
                                         strlen(golden_events[i].json), &v, &nv);
        /* Only the event that is not JSON leaves its values to trl_json_leaves(). */
        assert_int_equal(ok, i != 4);
        if (ok)
            assert_vals_are_leaves(s, golden_events[i].json, v, nv);
        if (i == 2 || i == n - 1)
            trl_shredder_cut(s, &col);
    }
    char hex[2 * TRL_SHA256_LEN + 1];
    sha256_hex(col.data, col.len, hex);
    assert_int_equal(col.len, 1555);
    assert_string_equal(hex, "7824b6d999b84c559d02dc673f57baab94aedaff3f0c9aba458d4fc047e28e48");
    trl_buf_free(&col);
    trl_shredder_destroy(s);
}

static void test_generated_events_shred_to_the_bytes_format_5_has_always_had(void **state)
{
    (void)state;
    enum { EVENTS = 4000, BLOCK2 = 3000 };
    char **json = calloc(EVENTS, sizeof(*json));
    int64_t *ts = calloc(EVENTS, sizeof(*ts));
    struct trl_shredder *s = trl_shredder_create();
    struct trl_buf col[2] = {{0}, {0}};
    for (uint32_t i = 0; i < EVENTS; i++) {
        char ev[1024];
        ts[i] = generated_event(i, ev, sizeof(ev));
        json[i] = strdup(ev);
        if (i == BLOCK2)
            trl_shredder_reset(s);
        const struct trl_shred_val *v;
        size_t nv;
        if (trl_shredder_add_event(s, ts[i], ev, strlen(ev), &v, &nv))
            assert_vals_are_leaves(s, ev, v, nv);
        if ((i + 1) % 1024 == 0 || i + 1 == BLOCK2 || i + 1 == EVENTS)
            trl_shredder_cut(s, &col[i >= BLOCK2]);
    }
    assert_block_round_trip(&col[0], json, ts, BLOCK2);
    assert_block_round_trip(&col[1], json + BLOCK2, ts + BLOCK2, EVENTS - BLOCK2);
    /* Both blocks' columns, back to back, as they were written before. */
    struct trl_buf all = {0};
    trl_buf_append(&all, col[0].data, col[0].len);
    trl_buf_append(&all, col[1].data, col[1].len);
    char hex[2 * TRL_SHA256_LEN + 1];
    sha256_hex(all.data, all.len, hex);
    assert_int_equal(all.len, 401443);
    assert_string_equal(hex, "6a7305ce1cc3b66cbbc594c83e369ada015e9b92ce5073f0d43ec33e12c2bc83");
    for (uint32_t i = 0; i < EVENTS; i++)
        free(json[i]);
    free(json);
    free(ts);
    trl_buf_free(&all);
    trl_buf_free(&col[0]);
    trl_buf_free(&col[1]);
    trl_shredder_destroy(s);
}

/* The first place of needle in hay, or -1. */
static long first_place(const char *hay, size_t hlen, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= hlen; i++) {
        if (!memcmp(hay + i, needle, n))
            return (long)i;
    }
    return -1;
}

static void test_references_name_the_first_place_of_a_value_in_the_original(void **state)
{
    (void)state;
    static const size_t needle_lens[] = {4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33};
    static const size_t hay_lens[] = {4,  5,  6,  15, 16,  17,  18,  19,  31,  32,  33,  34,
                                      35, 36, 47, 48, 49,  50,  63,  64,  65,  66,  67,  95,
                                      96, 97, 98, 99, 127, 128, 129, 130, 200, 255, 256, 300};
    struct trl_shredder *s = trl_shredder_create();
    char hay[320], ev[512];
    for (size_t h = 0; h < sizeof(hay_lens) / sizeof(hay_lens[0]); h++) {
        size_t hlen = hay_lens[h];
        /* Few letters, so that many places start and end as a value does without holding it. */
        for (size_t i = 0; i < hlen; i++)
            hay[i] = "abab"[(i * i + i / 3) % 4] + (i % 11 == 0);
        for (size_t k = 0; k < sizeof(needle_lens) / sizeof(needle_lens[0]); k++) {
            size_t n = needle_lens[k];
            if (n > hlen)
                continue;
            for (size_t at = 0; at + n <= hlen; at += (at + n + 7 < hlen ? 7 : 1)) {
                const char *needle = hay + at;
                trl_shredder_reset(s);
                /* Nine values of the field first: a field with more distinct ones than it keeps
                 * inline stores its values, short ones as they are. */
                for (int w = 0; w < 9; w++) {
                    snprintf(ev, sizeof(ev), "{\"event\":{\"original\":\"%.*s\"},\"v\":\"w%d\"}",
                             (int)hlen, hay, w);
                    trl_shredder_add(s, ev, strlen(ev), NULL);
                }
                snprintf(ev, sizeof(ev), "{\"event\":{\"original\":\"%.*s\"},\"v\":\"%.*s\"}",
                         (int)hlen, hay, (int)n, needle);
                trl_shredder_add(s, ev, strlen(ev), NULL);
                struct trl_buf b = {0};
                trl_shredder_finish(s, &b);
                struct column c;
                read_column(&b, &c);
                /* Stream 1 is v: its one reference is the value's first place and length. */
                const uint8_t *p = c.refs[1], *end = p + c.refs_len[1];
                uint64_t off, len;
                assert_true(trl_varint_get(&p, end, &off) && trl_varint_get(&p, end, &len));
                assert_ptr_equal(p, end);
                if ((long)off != first_place(hay, hlen, needle, n) || len != n)
                    fail_msg("original of %zu bytes, value of %zu at %zu: reference %lu+%lu", hlen,
                             n, at, (unsigned long)off, (unsigned long)len);
                trl_buf_free(&b);
            }
        }
    }
    trl_shredder_destroy(s);
}

static void test_a_fraction_with_a_stray_byte_is_kept_as_text(void **state)
{
    (void)state;
    static const char stray[] = {'/', ':', 'a', ' ', '\x7f', '\xc3', '0'};
    const int64_t ts = 1795806094860000000LL; /* 2026-11-27T19:01:34.860000000Z */
    struct trl_shredder *s = trl_shredder_create();
    for (size_t k = 0; k < sizeof(stray); k++) {
        for (int at = 0; at < 9; at++) {
            char t[] = "2026-11-27T19:01:34.123456789Z", ev[128];
            t[20 + at] = stray[k];
            snprintf(ev, sizeof(ev),
                     "{\"@timestamp\":\"2026-11-27T19:01:34.860000000Z\",\"t\":\"%s\"}", t);
            trl_shredder_reset(s);
            const struct trl_shred_val *v;
            size_t nv;
            assert_true(trl_shredder_add_event(s, ts, ev, strlen(ev), &v, &nv));
            struct trl_buf b = {0};
            trl_shredder_finish(s, &b);
            struct column c;
            read_column(&b, &c);
            /* @timestamp is a time; t only when its fraction is all digits ('0'). */
            size_t times = 0;
            for (size_t i = 0; i < c.skel_len; i++)
                times += c.skel[i] == MARK_TIME;
            if (times != (stray[k] == '0' ? 2u : 1u))
                fail_msg("fraction byte %d is 0x%02x: %zu times", at, (unsigned char)stray[k],
                         times);
            struct trl_unshred_buf u = {0};
            uint32_t off[2];
            assert_int_equal(
                trl_json_unshred_ts((const uint8_t *)b.data, b.len, 1, 3, &ts, 1 << 20, &u, off),
                0);
            assert_int_equal(off[1], strlen(ev));
            assert_memory_equal(u.json, ev, strlen(ev));
            trl_unshred_buf_free(&u);
            trl_buf_free(&b);
        }
    }
    trl_shredder_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_events_shred_to_the_bytes_format_5_has_always_had),
        cmocka_unit_test(test_generated_events_shred_to_the_bytes_format_5_has_always_had),
        cmocka_unit_test(test_references_name_the_first_place_of_a_value_in_the_original),
        cmocka_unit_test(test_a_fraction_with_a_stray_byte_is_kept_as_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
