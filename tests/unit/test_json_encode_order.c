/*
 * The event encoder lays the known fields out once and merges the dynamic ones in: these tests
 * pin the order, nesting, duplicates and escaping at the seams between the two, and compare the
 * encoder with a plain reference encoder (sort every member by name, then nest) on many random
 * events built from tricky names and values. Every encoding is also done through a cache, the
 * first time recording the event's plan and then running it: the bytes must be the same.
 */
#include "trl_test.h"

#include "core/buf.h"
#include "formats/json_encode.h"
#include "json_ref_string.h"

static struct trl_arena *arena;
static struct trl_json_cache *cache;

static int setup(void **state)
{
    (void)state;
    arena = trl_arena_create(0);
    cache = trl_json_cache_create();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trl_arena_destroy(arena);
    trl_json_cache_destroy(cache);
    return 0;
}

static struct trl_buf out;

/* Encodes ev without the cache, then checks that the cache gives the same bytes both when it
 * records ev's shape and when it reuses what it recorded. */
static const char *encode(const struct trl_event *ev)
{
    static struct trl_buf cached;
    trl_buf_reset(&out);
    trl_json_encode_event(ev, &out);
    for (int pass = 0; pass < 2; pass++) {
        trl_buf_reset(&cached);
        trl_buf_append(&cached, "prefix", 6);
        trl_json_encode_event_cached(cache, ev, &cached);
        if (cached.len != out.len + 6 || memcmp(cached.data + 6, out.data, out.len) != 0) {
            print_error("cached (pass %d):\n got  %s\n want %s\n", pass, cached.data + 6, out.data);
            fail();
        }
    }
    return out.data;
}

/* An event with fixed times and no event.original, so expected texts stay short. */
static struct trl_event *new_event(void)
{
    trl_arena_reset(arena);
    struct trl_event *ev = trl_event_create(arena, "", 0, 1720563243412000000LL);
    ev->timestamp_ns = 1720563243000000001LL;
    return ev;
}

#define HEAD                                                                                       \
    "{\"@timestamp\":\"2024-07-09T22:14:03.000000001Z\",\"event\":{\"created\":\"2024-07-09T22:"   \
    "14:03.412000000Z\",\"original\":\"\"}"

/* Adds a dynamic field whose name may equal a known one, which trl_event_set_named() would store
 * as the known field: the encoder must still cope with such an event. */
static void add_raw_dynamic(struct trl_event *ev, const char *name, const char *val)
{
    trl_event_set_named(ev, "x.placeholder", 13, val, strlen(val));
    struct trl_kv *kv = &ev->fields[ev->nfields - 1];
    kv->name = trl_arena_strndup(ev->arena, name, strlen(name));
    kv->name_len = (uint32_t)strlen(name);
}

static void test_json_dynamic_names_interleave_with_known_ones(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    trl_event_set_named(ev, "zz.last", 7, "z", 1);
    trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
    trl_event_set_named(ev, "host.arch", 9, "x86", 3);
    trl_event_set_named(ev, "host.os.name", 12, "linux", 5);
    trl_event_set_str(ev, TRL_F_HOST_OS_TYPE, "linux");
    trl_event_set_named(ev, "aa.first", 8, "a", 1);
    trl_event_set_named(ev, "event.zzz", 9, "e", 1);
    assert_string_equal(
        encode(ev), "{\"@timestamp\":\"2024-07-09T22:14:03.000000001Z\",\"aa\":{\"first\":\"a\"},"
                    "\"event\":{\"created\":\"2024-07-09T22:14:03.412000000Z\",\"original\":\"\","
                    "\"zzz\":\"e\"},\"host\":{\"arch\":\"x86\",\"name\":\"web01\",\"os\":{\"name\":"
                    "\"linux\",\"type\":\"linux\"}},\"zz\":{\"last\":\"z\"}}");
}

static void test_json_structured_data_nests_under_known_syslog_fields(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, "app");
    trl_event_set_named(ev, "log.syslog.structured_data.origin.ip", 36, "10.0.0.1", 8);
    trl_event_set_named(ev, "log.syslog.structured_data.meta.seq", 35, "1", 1);
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_VERSION, "1");
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, "6");
    assert_string_equal(encode(ev),
                        HEAD ",\"log\":{\"syslog\":{\"appname\":\"app\",\"severity\":{\"code\":6},"
                             "\"structured_data\":{\"meta\":{\"seq\":\"1\"},\"origin\":{\"ip\":"
                             "\"10.0.0.1\"}},\"version\":\"1\"}}}");
}

static void test_json_dynamic_name_equal_to_known_name_comes_first(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    trl_event_set_str(ev, TRL_F_HOST_NAME, "known");
    add_raw_dynamic(ev, "host.name", "dynamic");
    assert_string_equal(encode(ev), HEAD ",\"host\":{\"name\":\"dynamic\",\"name\":\"known\"}}");
}

static void test_json_format_wins_over_dynamic_field_of_the_same_name(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    ev->format = "rfc5424";
    trl_event_set_named(ev, "trapline.format", 15, "spoofed", 7);
    trl_event_set_named(ev, "trapline.a", 10, "a", 1);
    trl_event_set_named(ev, "trapline.z", 10, "z", 1);
    assert_string_equal(encode(ev), HEAD ",\"trapline\":{\"a\":\"a\",\"format\":\"rfc5424\","
                                         "\"z\":\"z\"}}");
}

static void test_json_dynamic_format_field_without_parser_format_is_kept(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    trl_event_set_named(ev, "trapline.format", 15, "first", 5);
    add_raw_dynamic(ev, "trapline.format", "second");
    assert_string_equal(encode(ev), HEAD ",\"trapline\":{\"format\":\"first\"}}");
}

static void test_json_array_values_from_flags_and_fields_keep_order(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    ev->flags = TRL_EVF_TRUNCATED | TRL_EVF_UNPARSED;
    trl_event_add(ev, TRL_F_TAGS, "mine", 4);
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "a\"b", 3);
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "", 0);
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "c", 1);
    assert_string_equal(encode(ev), "{\"@timestamp\":\"2024-07-09T22:14:03.000000001Z\","
                                    "\"event\":{\"category\":[\"a\\\"b\",\"\",\"c\"],"
                                    "\"created\":\"2024-07-09T22:14:03.412000000Z\","
                                    "\"original\":\"\"},"
                                    "\"tags\":[\"trapline.truncated\",\"trapline.unparsed\","
                                    "\"mine\"]}");
}

static void test_json_scalar_added_twice_keeps_the_first_value(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    trl_event_add(ev, TRL_F_USER_NAME, "alice", 5);
    trl_event_add(ev, TRL_F_USER_NAME, "bob", 3);
    trl_event_add(ev, TRL_F_EVENT_ORIGINAL, "not the original", 16);
    assert_string_equal(encode(ev), HEAD ",\"user\":{\"name\":\"alice\"}}");
}

static void test_json_odd_dynamic_names_are_escaped_and_nested_as_given(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    add_raw_dynamic(ev, "", "empty");
    add_raw_dynamic(ev, "q.\"x\"", "quote");
    add_raw_dynamic(ev, "q.a..b", "gap");
    add_raw_dynamic(ev, "q.end.", "dot");
    add_raw_dynamic(ev, "u.\xc3\xa9\xff", "utf8");
    assert_string_equal(
        encode(ev), "{\"@timestamp\":\"2024-07-09T22:14:03.000000001Z\",\"\":\"empty\","
                    "\"event\":{\"created\":\"2024-07-09T22:14:03.412000000Z\",\"original\":\"\"},"
                    "\"q\":{\"\\\"x\\\"\":\"quote\",\"a\":{\"\":{\"b\":\"gap\"}},\"end\":{\"\":"
                    "\"dot\"}},\"u\":{\"\xc3\xa9\xEF\xBF\xBD\":\"utf8\"}}");
}

static void test_json_long_fields_are_numbers_only_when_plain_int64(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"0", "0"},
        {"-0", "-0"},
        {"007", "\"007\""},
        {"-", "\"-\""},
        {"", "\"\""},
        {"12a", "\"12a\""},
        {"+5", "\"+5\""},
        {"123456789012345678", "123456789012345678"},
        {"9223372036854775807", "9223372036854775807"},
        {"9223372036854775808", "\"9223372036854775808\""},
        {"-9223372036854775808", "-9223372036854775808"},
        {"-9223372036854775809", "\"-9223372036854775809\""},
        {"123456789012345678901", "\"123456789012345678901\""},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_event *ev = new_event();
        trl_event_set_str(ev, TRL_F_SOURCE_PORT, cases[i].text);
        char want[256];
        snprintf(want, sizeof(want), HEAD ",\"source\":{\"port\":%s}}", cases[i].want);
        assert_string_equal(encode(ev), want);
    }
}

static void test_json_times_match_rfc3339_formatting(void **state)
{
    (void)state;
    static const int64_t times[] = {
        1,
        -1,
        -1000000000LL * 86400 * 365,
        INT64_MAX,
        INT64_MIN,
        INT64_MIN + 1,
        1720563243999999999LL,
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(times); i++) {
        trl_arena_reset(arena);
        struct trl_event *ev = trl_event_create(arena, "", 0, times[i]);
        ev->timestamp_ns = times[(i + 1) % TRL_ARRAY_LEN(times)];
        char ts[TRL_RFC3339_MAX], created[TRL_RFC3339_MAX], want[256];
        trl_format_rfc3339(ev->timestamp_ns, ts);
        trl_format_rfc3339(ev->received_ns, created);
        snprintf(want, sizeof(want),
                 "{\"@timestamp\":\"%s\",\"event\":{\"created\":\"%s\",\"original\":\"\"}}", ts,
                 created);
        assert_string_equal(encode(ev), want);
    }
}

static void test_json_many_dynamic_and_array_values_spill_to_the_heap(void **state)
{
    (void)state;
    struct trl_event *ev = new_event();
    char name[32], val[32];
    for (int i = 99; i >= 0; i--) {
        snprintf(name, sizeof(name), "labels.k%02d", i);
        snprintf(val, sizeof(val), "v%d", i);
        trl_event_set_named(ev, name, strlen(name), val, strlen(val));
        trl_event_add(ev, TRL_F_RELATED_USER, val, strlen(val));
    }
    const char *json = encode(ev);
    assert_non_null(strstr(json, "\"labels\":{\"k00\":\"v0\",\"k01\":\"v1\","));
    assert_non_null(strstr(json, "\"k99\":\"v99\"},\"related\":{\"user\":[\"v99\",\"v98\","));
    assert_non_null(strstr(json, "\"v1\",\"v0\"]}}"));
}

/* ---- A reference encoder: every member sorted by name, then nested ---- */

struct ref_member {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
    enum trl_field_type type;
    bool known;
    size_t seq;
};

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* Name order; a dynamic name before an equal known one; otherwise insertion order. */
static int ref_cmp(const void *pa, const void *pb)
{
    const struct ref_member *a = pa, *b = pb;
    int c = name_cmp(a->name, a->name_len, b->name, b->name_len);
    if (c)
        return c;
    if (a->known != b->known)
        return a->known ? 1 : -1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

static void ref_value(struct trl_buf *b, const struct ref_member *m)
{
    int64_t num;
    if (m->type == TRL_FT_LONG && trl_parse_i64(m->val, m->val_len, &num) &&
        !(m->val_len > 1 && m->val[0] == '0'))
        trl_buf_append(b, m->val, m->val_len);
    else
        ref_string(b, m->val, m->val_len);
}

static void ref_encode(const struct trl_event *ev, struct trl_buf *b)
{
    char ts[TRL_RFC3339_MAX], created[TRL_RFC3339_MAX];
    size_t ts_len = trl_format_rfc3339(ev->timestamp_ns ? ev->timestamp_ns : ev->received_ns, ts);
    size_t created_len = trl_format_rfc3339(ev->received_ns, created);
    size_t n = 0, cap = ev->nfields + 5;
    struct ref_member *m = calloc(cap, sizeof(*m));
    m[n] = (struct ref_member){"event.created", 13, created, created_len, TRL_FT_DATE, true, n};
    n++;
    m[n] = (struct ref_member){
        "event.original", 14, ev->original, ev->original_len, TRL_FT_TEXT, true, n};
    n++;
    if (ev->format) {
        m[n] = (struct ref_member){"trapline.format", 15,    ev->format, strlen(ev->format),
                                   TRL_FT_KEYWORD,    false, n};
        n++;
    }
    if (ev->flags & TRL_EVF_TRUNCATED) {
        m[n] = (struct ref_member){"tags", 4, "trapline.truncated", 18, TRL_FT_ARRAY, true, n};
        n++;
    }
    if (ev->flags & TRL_EVF_UNPARSED) {
        m[n] = (struct ref_member){"tags", 4, "trapline.unparsed", 17, TRL_FT_ARRAY, true, n};
        n++;
    }
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        struct ref_member *x = &m[n];
        x->name = trl_kv_name(kv, &x->name_len);
        x->val = kv->val;
        x->val_len = kv->val_len;
        x->known = kv->field != TRL_F_NONE;
        x->type = x->known ? trl_field_info((enum trl_field)kv->field)->type : TRL_FT_KEYWORD;
        x->seq = n++;
    }
    qsort(m, n, sizeof(*m), ref_cmp);

    trl_buf_printf(b, "{\"@timestamp\":\"%.*s\"", (int)ts_len, ts);
    const struct ref_member *prev = NULL;
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ref_member *x = &m[i];
        bool same = prev && prev->known == x->known &&
                    name_cmp(prev->name, prev->name_len, x->name, x->name_len) == 0;
        if (same) {
            if (x->type == TRL_FT_ARRAY) {
                trl_buf_putc(b, ',');
                ref_value(b, x);
            }
            continue;
        }
        if (prev && prev->type == TRL_FT_ARRAY)
            trl_buf_putc(b, ']');
        size_t keep = 0;
        for (size_t j = 0; prev && j < prev->name_len && j < x->name_len; j++) {
            if (prev->name[j] != x->name[j])
                break;
            keep += prev->name[j] == '.';
        }
        for (; open > keep; open--)
            trl_buf_putc(b, '}');
        trl_buf_putc(b, ',');
        const char *seg = x->name, *end = x->name + x->name_len;
        for (size_t s = 0; s < open; s++)
            seg = memchr(seg, '.', (size_t)(end - seg)) + 1;
        /* One comma before the member's first new key: the next ones follow an opening brace. */
        for (;;) {
            const char *dot = seg < end ? memchr(seg, '.', (size_t)(end - seg)) : NULL;
            const char *seg_end = dot ? dot : end;
            ref_string(b, seg, (size_t)(seg_end - seg));
            trl_buf_putc(b, ':');
            if (!dot)
                break;
            trl_buf_putc(b, '{');
            open++;
            seg = dot + 1;
        }
        if (x->type == TRL_FT_ARRAY)
            trl_buf_putc(b, '[');
        ref_value(b, x);
        prev = x;
    }
    if (prev && prev->type == TRL_FT_ARRAY)
        trl_buf_putc(b, ']');
    for (; open > 0; open--)
        trl_buf_putc(b, '}');
    trl_buf_putc(b, '}');
    free(m);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void test_json_matches_reference_encoder_on_random_events(void **state)
{
    (void)state;
    static const char *const names[] = {
        "labels.env",
        "host.arch",
        "host.name",
        "host",
        "a",
        "a.b",
        "a.b.c",
        "ab.c",
        "log.syslog.structured_data.meta.seq",
        "log.syslog.structured_data.origin@32473.ip",
        "log.syslog.structured_data.origin@32473.software",
        "log.syslog.zzz",
        "event.aaa",
        "event.created",
        "trapline.format",
        "trapline.other",
        "winlog.event_data.TargetUserName",
        "winlog.event_data.SubjectUserName",
        "zz",
        "",
        ".",
        "x..y",
        "q\"uote.k",
        "bs\\.k",
        "ctl\x01.k",
        "utf.\xc3\xa9t\xc3\xa9",
        "bad.\xff\xfe",
        "observer.ingress.interface.name",
        "observer.ingress.zone",
        "user.target.group.name",
    };
    static const char *const values[] = {
        "",
        "x",
        "42",
        "-7",
        "007",
        "9223372036854775808",
        "a\"b",
        "back\\slash",
        "tab\there",
        "line\nbreak\r",
        "\x01\x1f\x7f",
        "caf\xc3\xa9",
        "\xe2\x82\xac euro",
        "\xf0\x9f\x98\x80 smile",
        "bad \xc3\x28 seq",
        "cut \xe2\x82",
        "overlong \xc0\xaf",
        "surrogate \xed\xa0\x80",
        "0123456789abcdef",
        "0123456789abcdef0",
        "a long value with \"quotes\" in the middle and more text after them, well past 16",
        "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"",
        "exactly8",
        "seven77",
        "nine99999",
    };
    struct trl_buf want = {0};
    for (int round = 0; round < 20000; round++) {
        trl_arena_reset(arena);
        const char *orig = values[rnd(TRL_ARRAY_LEN(values))];
        int64_t received = (int64_t)rnd(2000000000) * 1000000000 + rnd(1000000000);
        struct trl_event *ev = trl_event_create(arena, orig, strlen(orig), received);
        ev->timestamp_ns = rnd(3) == 0 ? 0 : rnd(2) ? received : received - rnd(100000) * 1000;
        ev->format = rnd(4) ? "rfc5424" : NULL;
        ev->flags = rnd(8) == 0 ? rnd(4) : 0;
        uint32_t nfields = rnd(rnd(8) == 0 ? 120 : 30);
        for (uint32_t i = 0; i < nfields; i++) {
            const char *v = values[rnd(TRL_ARRAY_LEN(values))];
            uint32_t pick = rnd(10);
            if (pick < 5) {
                enum trl_field f = (enum trl_field)(1 + rnd(TRL_F__COUNT - 1));
                if (trl_field_info(f)->type == TRL_FT_ARRAY || rnd(8) == 0)
                    trl_event_add(ev, f, v, strlen(v));
                else
                    trl_event_set(ev, f, v, strlen(v));
            } else if (pick < 9) {
                const char *name = names[rnd(TRL_ARRAY_LEN(names))];
                trl_event_set_named(ev, name, strlen(name), v, strlen(v));
            } else {
                add_raw_dynamic(ev, names[rnd(TRL_ARRAY_LEN(names))], v);
            }
        }
        trl_buf_reset(&want);
        ref_encode(ev, &want);
        const char *got = encode(ev);
        if (strcmp(got, want.data) != 0) {
            print_error("round %d:\n got  %s\n want %s\n", round, got, want.data);
            fail();
        }
    }
    trl_buf_free(&want);
}

/* Events of one shape (the same names in the same order, flags and format) with ever different
 * values: the cache's recorded structure must fit every one of them, numbers that stop being
 * numbers, values that need escaping, times that differ or not. */
static void test_json_cached_plan_fits_new_values_of_the_same_shape(void **state)
{
    (void)state;
    static const char *const values[] = {
        "",
        "x",
        "42",
        "-7",
        "007",
        "9223372036854775807",
        "9223372036854775808",
        "a\"b",
        "line\nbreak",
        "caf\xc3\xa9",
        "bad \xc3\x28",
        "0123456789abcdef0",
        "\x01",
    };
    static const char *const names[] = {
        "labels.env", "a.b", "log.syslog.structured_data.meta.seq", "trapline.format", "q\"k.x",
    };
    struct trl_buf want = {0};
    for (int shape = 0; shape < 300; shape++) {
        uint64_t seed = rng_state;
        int64_t received = 1720563243412000000LL;
        uint32_t flags = rnd(4) == 0 ? rnd(4) : 0;
        bool has_format = rnd(4) != 0;
        uint32_t nfields = rnd(40);
        for (int round = 0; round < 8; round++) {
            /* The same draws for names, a fresh value each time. */
            uint64_t values_state = rng_state;
            rng_state = seed;
            trl_arena_reset(arena);
            const char *orig = values[(round * 7) % TRL_ARRAY_LEN(values)];
            struct trl_event *ev = trl_event_create(arena, orig, strlen(orig), received);
            ev->timestamp_ns = round % 3 == 0 ? 0 : round % 3 == 1 ? received : received - round;
            ev->format = has_format ? (round % 2 ? "rfc5424" : "rfc3164") : NULL;
            ev->flags = flags;
            received += round % 2 ? 0 : 1000;
            uint32_t field[40], name[40], kind[40];
            for (uint32_t i = 0; i < nfields; i++) {
                kind[i] = rnd(3);
                field[i] = 1 + rnd(TRL_F__COUNT - 1);
                name[i] = rnd(TRL_ARRAY_LEN(names));
            }
            rng_state = values_state;
            for (uint32_t i = 0; i < nfields; i++) {
                const char *v = values[rnd(TRL_ARRAY_LEN(values))];
                if (kind[i] == 0 || trl_field_info((enum trl_field)field[i])->type == TRL_FT_ARRAY)
                    trl_event_add(ev, (enum trl_field)field[i], v, strlen(v));
                else if (kind[i] == 1)
                    trl_event_set(ev, (enum trl_field)field[i], v, strlen(v));
                else
                    add_raw_dynamic(ev, names[name[i]], v);
            }
            trl_buf_reset(&want);
            ref_encode(ev, &want);
            const char *got = encode(ev);
            if (strcmp(got, want.data) != 0) {
                print_error("shape %d round %d:\n got  %s\n want %s\n", shape, round, got,
                            want.data);
                fail();
            }
        }
    }
    trl_buf_free(&want);
}

/* Timestamps in one second, across seconds and before 1970, one after the other as a stream has
 * them: the cache reuses the text of a second and must write every fraction as it should. */
static void test_json_cached_times_match_full_formatting(void **state)
{
    (void)state;
    static const int64_t times[] = {
        1720563243000000001LL, 1720563243999999999LL,
        1720563243123456789LL, 1720563244000000000LL,
        1720563243000000000LL, -1LL,
        -999999999LL,          -1000000000LL,
        -1000000001LL,         INT64_MIN,
        INT64_MIN + 1,         INT64_MAX,
        INT64_MAX - 1,         1LL,
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(times); i++) {
        struct trl_event *ev = new_event();
        ev->timestamp_ns = times[i];
        trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
        char want[TRL_RFC3339_MAX + 32];
        size_t n = trl_format_rfc3339(times[i], want);
        want[n] = '\0';
        /* encode() checks the cached bytes against the uncached ones. */
        assert_non_null(strstr(encode(ev), want));
    }
}

/* Events with more fields than a plan takes, or whose plan would be too big to keep: the cache
 * encodes them in full every time, with the same bytes. */
static void test_json_cached_encoder_handles_events_too_big_for_a_plan(void **state)
{
    (void)state;
    static const uint32_t counts[] = {1100, 400};
    for (size_t k = 0; k < TRL_ARRAY_LEN(counts); k++) {
        for (int pass = 0; pass < 2; pass++) {
            struct trl_event *ev = new_event();
            for (uint32_t i = 0; i < counts[k]; i++) {
                char name[96];
                int n = snprintf(name, sizeof(name),
                                 "labels.a_rather_long_name_to_make_the_plan_big_%u_%u", i, i * 7);
                trl_event_set_named(ev, name, (size_t)n, pass ? "second" : "1", pass ? 6 : 1);
            }
            /* encode() checks the cached bytes against the uncached ones. */
            assert_non_null(strstr(encode(ev), "\"a_rather_long_name_to_make_the_plan_big_0_0\""));
        }
    }
}

/* More shapes than the cache has slots, seen round after round: plans are replaced and shapes
 * that share a slot take turns, and every event still gets the bytes of the full encoder. */
static void test_json_cache_keeps_encoding_right_when_shapes_outnumber_its_slots(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        for (unsigned shape = 0; shape < 700; shape++) {
            struct trl_event *ev = new_event();
            trl_event_set_str(ev, TRL_F_HOST_NAME, round ? "db01" : "web01");
            char name[32], val[32];
            int n = snprintf(name, sizeof(name), "labels.shape_%u", shape);
            int v = snprintf(val, sizeof(val), "%u", shape * 3 + (unsigned)round);
            trl_event_set_named(ev, name, (size_t)n, val, (size_t)v);
            if (shape % 3 == 0)
                trl_event_add(ev, TRL_F_RELATED_IP, "10.0.0.1", 8);
            /* encode() checks the cached bytes against the uncached ones. */
            assert_non_null(strstr(encode(ev), name + 7));
        }
    }
}

/* The cache picks a slot by a hash that reads only some bytes of a dynamic name: shapes whose
 * names differ elsewhere share slots, and each must still get its own plan and output. */
static void test_json_cache_tells_apart_names_that_differ_only_in_unhashed_bytes(void **state)
{
    (void)state;
    static const char *names[] = {
        "labels.a_long_name_with_a_middle_part_.end",
        "labels.b_long_name_with_a_middle_part_.end",
        "labels.a_long_name_with_a_middle_part_.enD",
        "labels.c_long_name_with_a_middle_part_.end",
        "labels.ab",
        "labels.ac",
        "labels.x.ab",
    };
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(names); i++) {
            struct trl_event *ev = new_event();
            trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
            trl_event_set_named(ev, names[i], strlen(names[i]), "v", 1);
            /* encode() checks the cached bytes against the uncached ones. */
            const char *json = encode(ev);
            const char *leaf = strrchr(names[i], '.') + 1;
            char want[64];
            snprintf(want, sizeof(want), "\"%s\":\"v\"", leaf);
            assert_non_null(strstr(json, want));
        }
    }
}

/* The cache first tries the plan last used for an event with as many fields: events of other
 * shapes with the same count, alternating, must each come out as their own. */
static void test_json_cache_alternating_shapes_of_one_field_count(void **state)
{
    (void)state;
    for (int i = 0; i < 12; i++) {
        struct trl_event *ev = new_event();
        switch (i % 4) {
        case 0:
            trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
            trl_event_set_str(ev, TRL_F_USER_NAME, "alice");
            break;
        case 1:
            trl_event_set_str(ev, TRL_F_USER_NAME, "alice");
            trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
            break;
        case 2:
            trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
            trl_event_add(ev, TRL_F_RELATED_USER, "alice", 5);
            break;
        default:
            trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
            ev->flags |= TRL_EVF_TRUNCATED;
            trl_event_set_str(ev, TRL_F_USER_NAME, "alice");
            break;
        }
        /* encode() checks the cached bytes against the uncached ones. */
        assert_non_null(strstr(encode(ev), "alice"));
    }
}

/* Values that are not fields' (the times, event.original, the format, the unparsed and truncated
 * tags) come out of a cached plan as they do from a full encoding. */
static void test_json_cached_plan_writes_times_original_format_and_tags(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        trl_arena_reset(arena);
        const char *raw = round ? "<13>raw \"line\"" : "plain line";
        struct trl_event *ev = trl_event_create(arena, raw, strlen(raw), 1720563243412000000LL);
        ev->flags = TRL_EVF_UNPARSED | TRL_EVF_TRUNCATED;
        ev->format = round ? "raw" : NULL;
        trl_event_set_str(ev, TRL_F_MESSAGE, raw);
        const char *json = encode(ev);
        assert_non_null(strstr(json, "\"trapline.unparsed\""));
        assert_non_null(strstr(json, "\"trapline.truncated\""));
        assert_non_null(strstr(json, "\"created\":\"2024-07-09T22:14:03.412000000Z\""));
    }
}

static int free_out(void **state)
{
    (void)state;
    trl_buf_free(&out);
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_dynamic_names_interleave_with_known_ones),
        cmocka_unit_test(test_json_structured_data_nests_under_known_syslog_fields),
        cmocka_unit_test(test_json_dynamic_name_equal_to_known_name_comes_first),
        cmocka_unit_test(test_json_format_wins_over_dynamic_field_of_the_same_name),
        cmocka_unit_test(test_json_dynamic_format_field_without_parser_format_is_kept),
        cmocka_unit_test(test_json_array_values_from_flags_and_fields_keep_order),
        cmocka_unit_test(test_json_scalar_added_twice_keeps_the_first_value),
        cmocka_unit_test(test_json_odd_dynamic_names_are_escaped_and_nested_as_given),
        cmocka_unit_test(test_json_long_fields_are_numbers_only_when_plain_int64),
        cmocka_unit_test(test_json_times_match_rfc3339_formatting),
        cmocka_unit_test(test_json_many_dynamic_and_array_values_spill_to_the_heap),
        cmocka_unit_test(test_json_matches_reference_encoder_on_random_events),
        cmocka_unit_test(test_json_cached_plan_fits_new_values_of_the_same_shape),
        cmocka_unit_test(test_json_cached_times_match_full_formatting),
        cmocka_unit_test(test_json_cached_encoder_handles_events_too_big_for_a_plan),
        cmocka_unit_test(test_json_cache_tells_apart_names_that_differ_only_in_unhashed_bytes),
        cmocka_unit_test(test_json_cached_plan_writes_times_original_format_and_tags),
        cmocka_unit_test(test_json_cache_alternating_shapes_of_one_field_count),
        cmocka_unit_test(test_json_cache_keeps_encoding_right_when_shapes_outnumber_its_slots),
    };
    return cmocka_run_group_tests(tests, setup, free_out);
}
