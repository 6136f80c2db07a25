/* The decoder of agents' JSON (trl_json_parse_agent) against the generic JSON parser: for every
 * input it accepts, the event must be exactly the one trl_parse_json() builds for an agent's event
 * (same fields in the same order, same original, format and timestamp); every other input must be
 * left untouched for the generic parser. */
#include "trl_test.h"

#include "formats/json_encode.h"
#include "formats/json_in.h"
#include "formats/parse.h"

#include <dirent.h>

#include "arena_fixture.h"

static struct trl_event *agent_event(const char *line, size_t len)
{
    struct trl_event *ev = trl_event_create(arena, line, len, 1720563243000000000LL);
    ev->flags |= TRL_EVF_FROM_AGENT;
    trl_event_set_ref(ev, TRL_F_LOG_SOURCE_ADDRESS, "127.0.0.1:40000", 15);
    return ev;
}

static void assert_same_event(const struct trl_event *a, const struct trl_event *b)
{
    assert_int_equal(a->original_len, b->original_len);
    assert_memory_equal(a->original, b->original, a->original_len);
    assert_int_equal(a->original[a->original_len], '\0');
    assert_int_equal(b->original[b->original_len], '\0');
    assert_string_equal(a->format, b->format);
    assert_int_equal(a->timestamp_ns, b->timestamp_ns);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->nfields, b->nfields);
    for (uint32_t i = 0; i < a->nfields; i++) {
        size_t na, nb;
        const char *x = trl_kv_name(&a->fields[i], &na), *y = trl_kv_name(&b->fields[i], &nb);
        assert_int_equal(a->fields[i].field, b->fields[i].field);
        assert_int_equal(na, nb);
        assert_memory_equal(x, y, na);
        assert_int_equal(a->fields[i].val_len, b->fields[i].val_len);
        assert_memory_equal(a->fields[i].val, b->fields[i].val, a->fields[i].val_len);
    }
    struct trl_buf ja = {0}, jb = {0};
    trl_json_encode_event(a, &ja);
    trl_json_encode_event(b, &jb);
    assert_string_equal(ja.data, jb.data);
    trl_buf_free(&ja);
    trl_buf_free(&jb);
}

/* Runs both decoders over line; returns whether the fast one took it. */
static bool check_line(const char *line, size_t len)
{
    struct trl_event *fast = agent_event(line, len);
    if (trl_json_parse_agent(fast) != 0) {
        /* Untouched for the generic parser. */
        assert_int_equal(fast->nfields, 1);
        assert_null(fast->format);
        assert_int_equal(fast->timestamp_ns, 0);
        assert_memory_equal(fast->original, line, len);
        return false;
    }
    struct trl_event *slow = agent_event(line, len);
    assert_int_equal(trl_parse_json(slow, slow->original, slow->original_len), 0);
    assert_same_event(slow, fast);
    return true;
}

static bool check(const char *line)
{
    return check_line(line, strlen(line));
}

/* The line the agent listener hands to the pipeline: the agent's JSON with agent.* and
 * event.sequence appended. */
static void with_listener_fields(struct trl_buf *out, const char *json, size_t len, uint64_t seq)
{
    trl_buf_reset(out);
    trl_buf_append(out, json, len - 1);
    trl_buf_printf(out,
                   ",\"agent\":{\"id\":\"agt-0123456789abcdef\",\"name\":\"agt-0123456789abcdef\","
                   "\"type\":\"trapline\"},\"event.sequence\":%llu}",
                   (unsigned long long)seq);
}

/* Parses line as an agent would, encodes it, and checks the server's two decoders agree. */
static bool check_collected(const char *line, size_t len, uint64_t seq)
{
    struct trl_event *ev = trl_event_create(arena, line, len, 1720563243000000000LL);
    trl_parse_event(ev, TRL_FORMAT_AUTO);
    trl_event_set_ref(ev, TRL_F_LOG_FILE_PATH, "/var/log/auth.log", 17);
    struct trl_buf json = {0}, wire = {0};
    trl_json_encode_event(ev, &json);
    with_listener_fields(&wire, json.data, json.len, seq);
    bool fast = check_line(wire.data, wire.len);
    trl_buf_free(&json);
    trl_buf_free(&wire);
    return fast;
}

static void test_agent_json_takes_what_agents_send(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "Nov 27 21:11:31 web19 sshd[26175]: Failed password for invalid user tk00000001 from "
        "10.37.48.94 port 43683 ssh2",
        "Nov 27 21:11:31 web08 sshd[14370]: Accepted publickey for postgres from 198.232.185.77 "
        "port 3481 ssh2: ED25519 SHA256:tk00000002L31IeL2HPcHyGcFRl1SPnXNYvMIHa/2o7",
        "Nov 27 21:11:32 web10 CRON[5664]: (deploy) CMD (/usr/local/bin/backup --job tk00000003 "
        ">/dev/null 2>&1)",
        "Nov 27 21:11:33 web02 sudo:    alice : TTY=pts/3 ; PWD=/home/alice ; USER=root ; "
        "COMMAND=/usr/bin/tail -n 50 /var/log/app/tk00000004.log",
        "<34>1 2024-07-09T22:31:02.123456+02:00 db01 sshd 4102 ID47 [exampleSDID@32473 "
        "iut=\"3\" eventSource=\"Application\"] \"quoted\" \\ back\tslash \x01 ctl",
        "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 "
        "dst=2.1.2.2 spt=1232",
        "type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59 success=yes "
        "exit=0 a0=55d pid=4102 auid=1000 uid=0 comm=\"sudo\" exe=\"/usr/bin/sudo\"",
        "{\"msg\":\"json log\",\"level\":\"info\",\"user\":{\"name\":\"eve\"},\"n\":[1,2]}",
        "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xff\xfe invalid utf-8",
        "",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++)
        assert_true(check_collected(lines[i], strlen(lines[i]), i + 1));
}

static void test_agent_json_matches_the_generic_parser_on_edge_cases(void **state)
{
    (void)state;
    /* Taken by the fast decoder, same result. */
    assert_true(check("{}"));
    assert_true(check("{\"a\":{}}"));
    assert_true(check("{\"event\":{\"category\":[]},\"tags\":[\"x\",null,true,false,-7,0]}"));
    assert_true(check("{\"s\":\"\\\"q\\\\b\\/s\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\"}"));
    assert_true(check("{\"x\":{\"y\":{\"z\":1}},\"x.w\":2,\"host.name\":\"h\",\"host\":{\"ip\":"
                      "\"10.0.0.1\"}}"));
    assert_true(check("{\"@timestamp\":\"bad\",\"event\":{\"original\":\"line\"}}"));
    assert_true(check("{\"@timestamp\":[],\"event\":{\"original\":7,\"created\":\"x\"}}"));
    assert_true(check("{\"trapline\":{\"format\":\"RFC5424\"}}"));
    assert_true(check("{\"trapline\":{\"format\":\"something\"}}"));
    assert_true(check("{\"trapline\":{\"format\":3}}"));
    assert_true(check("{\"event\":{\"original\":\"a\"},\"event.original\":\"b\"}"));
    assert_true(check("{\"message\":null,\"n\":null,\"big\":123456789012345678}"));
    assert_true(check("{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"timestamp\":\"x\",\"time\":1}"));
    /* Dynamic names that would be leaf and parent move under json. (or are dropped). */
    assert_true(check("{\"host\":{\"name\":{\"x\":\"1\"}},\"a\":\"1\",\"a.b\":\"2\"}"));
    assert_true(check("{\"json\":{\"a\":\"1\"},\"json_a\":\"0\",\"a\":\"2\",\"a.b\":\"3\"}"));
    assert_true(check("{\"@timestamp\":{\"x\":\"1\"},\"trapline\":{\"format\":{\"x\":1}}}"));
    assert_true(check("{\"a\":\"1\"}  \r\n"));
    /* An empty @timestamp is no time: the event keeps none. */
    assert_true(check("{\"@timestamp\":\"\",\"event\":{\"actPPPPP\":\"admin\"}}"));
    assert_false(check("{\"@timestamp\":\"\",\"time\":\"2024-07-09T22:31:02Z\"}"));

    /* Left to the generic parser. */
    static const char *const generic[] = {
        " {\"a\":\"1\"}",
        "\xEF\xBB\xBF{\"a\":\"1\"}",
        "{\"a\": \"1\"}",
        "{\"a\":\"1\",\"a\":\"2\"}",
        "{\"a\":{\"b\":\"1\",\"b\":\"2\"}}",
        "{\"\":\"1\"}",
        "{\"a..b\":\"1\"}",
        "{\".a\":\"1\"}",
        "{\"a\\u0041\":\"1\"}",
        "{\"a\":1.5}",
        "{\"a\":1e3}",
        "{\"a\":01}",
        "{\"a\":-0}",
        "{\"a\":1234567890123456789}",
        "{\"a\":[1,[2]]}",
        "{\"a\":[{\"b\":1}]}",
        "{\"a\":[\"x\"]}",
        "{\"message\":[\"x\"]}",
        "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"tab\there\"}",
        "{\"msg\":\"m\"}",
        "{\"MESSAGE\":\"m\",\"PRIORITY\":\"6\"}",
        "{\"__CURSOR\":\"s=1\"}",
        "{\"Event\":{\"System\":{\"EventID\":4624}}}",
        "{\"System\":{\"EventID\":4624}}",
        "{\"timestamp\":\"2024-07-09T22:31:02Z\"}",
        "{\"@timestamp\":\"bad\",\"time\":\"2024-07-09T22:31:02Z\"}",
        "{\"a\":\"1\"} trailing",
        "{\"a\":\"1\"",
        "{\"a\":\"1\",}",
        "{\"a\":tru}",
        "[1,2]",
        "",
        "not json",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(generic); i++) {
        if (check(generic[i]))
            fail_msg("taken by the fast decoder: %s", generic[i]);
    }
}

static void test_agent_json_deep_and_long_names_go_generic(void **state)
{
    (void)state;
    /* Sixteen levels flatten to one dotted name; an object one level deeper is kept as JSON
     * text by the generic parser. */
    for (int levels = 16; levels <= 17; levels++) {
        char deep[512] = "";
        size_t n = 0;
        for (int i = 0; i < levels; i++)
            n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"k%d\":", i);
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "\"v\"");
        for (int i = 0; i < levels; i++)
            deep[n++] = '}';
        deep[n] = '\0';
        assert_int_equal(check(deep), levels == 16);
    }

    char longname[400];
    memset(longname, 'n', sizeof(longname));
    memcpy(longname, "{\"", 2);
    memcpy(longname + 300, "\":\"v\"}", 7);
    assert_false(check(longname));
}

/* Runs both decoders over line for events that already hold a dynamic field name = "0". */
static bool check_with_dynamic(const char *line, const char *name)
{
    size_t len = strlen(line);
    struct trl_event *fast = agent_event(line, len);
    trl_event_set_named(fast, name, strlen(name), "0", 1);
    if (trl_json_parse_agent(fast) != 0)
        return false;
    struct trl_event *slow = agent_event(line, len);
    trl_event_set_named(slow, name, strlen(name), "0", 1);
    assert_int_equal(trl_parse_json(slow, slow->original, slow->original_len), 0);
    assert_same_event(slow, fast);
    return true;
}

/* The value of dynamic field name in what the fast decoder makes of line, or NULL. */
static const char *fast_named(const char *line, const char *name)
{
    struct trl_event *ev = agent_event(line, strlen(line));
    assert_int_equal(trl_json_parse_agent(ev), 0);
    size_t len;
    const char *v = trl_event_get_named(ev, name, strlen(name), &len);
    return v ? trl_arena_strndup(arena, v, len) : NULL;
}

static void test_agent_json_known_shape_is_read_again_with_new_values(void **state)
{
    (void)state;
    const char *first =
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"ssh-login\","
        "\"category\":[\"authentication\"]},\"related\":{\"ip\":[\"10.0.0.1\"]},"
        "\"source\":{\"port\":22},\"sshd\":{\"method\":\"password\"}}";
    const char *second = "{\"@timestamp\":\"2025-01-02T03:04:05.5Z\",\"event\":{\"action\":\"ssh-"
                         "logout\",\"category\":[]},\"related\":{\"ip\":[\"10.0.0.2\",\"::1\","
                         "null]},\"source\":{\"port\":-65536},\"sshd\":{\"method\":\"pub\\\"key\\\""
                         "\\u00e9\"}}";
    assert_true(check(first));
    assert_true(check(first));
    assert_true(check(second));
    assert_string_equal(fast_named(second, "sshd.method"), "pub\"key\"\xc3\xa9");
    /* A value holding the bytes that follow it in the shape is still one value. */
    assert_true(
        check("{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"x\\\",\\"
              "\"category\\\":[\\\"y\\\"]},\\\"z\\\":{\\\"a\\\":\\\"\",\"category\":[\"w\"]},"
              "\"related\":{\"ip\":[]},\"source\":{\"port\":1},\"sshd\":{\"method\":\"m\"}}"));
    /* Values the full reading refuses are refused along a known shape too. */
    static const char *const refused[] = {
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\",\"category\":[\"c\"]"
        "},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":022},\"sshd\":{\"method\":\"m\"}}",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\",\"category\":[\"c\"]"
        "},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":2.5},\"sshd\":{\"method\":\"m\"}}",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\\ud800\",\"category\":"
        "[\"c\"]},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":2},\"sshd\":{\"method\":\"m\"}"
        "}",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\",\"category\":[[\"c\""
        "]]},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":2},\"sshd\":{\"method\":\"m\"}}",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\",\"category\":[\"c\"]"
        "},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":2},\"sshd\":{\"method\":\"m\"}}x",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\",\"category\":[\"c\"]"
        "},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":2},\"sshd\":{\"method\":\"m\"}",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"event\":{\"action\":\"a\",\"category\":[\"c\"]"
        "},\"related\":{\"ip\":[\"i\"]},\"source\":{\"port\":2},\"sshd\":{\"method\":\"m\t\"}}",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(refused); i++) {
        if (check(refused[i]))
            fail_msg("taken by the fast decoder: %s", refused[i]);
    }
    /* Whether timestamp or time stands in for @timestamp depends on each event's @timestamp. */
    assert_true(check("{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"time\":\"x\"}"));
    assert_false(check("{\"@timestamp\":\"2024-07-09T22:31:0xZ\",\"time\":\"x\"}"));
    assert_true(check("{\"@timestamp\":\"2024-07-09T22:31:03Z\",\"time\":\"x\"}"));
}

static void test_agent_json_shape_differing_in_one_key_byte(void **state)
{
    (void)state;
    assert_true(check("{\"host\":{\"name\":\"h1\"},\"user\":{\"name\":\"u1\"},\"x\":\"1\"}"));
    assert_true(check("{\"host\":{\"name\":\"h2\"},\"user\":{\"nbme\":\"u2\"},\"x\":\"2\"}"));
    assert_string_equal(fast_named("{\"host\":{\"name\":\"h2\"},\"user\":{\"nbme\":\"u2\"},"
                                   "\"x\":\"2\"}",
                                   "user.nbme"),
                        "u2");
    assert_true(check("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\"},\"y\":\"3\"}"));
    assert_true(
        check("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\"},\"x\":\"3\",\"y\":1}"));
    assert_true(check("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\"}}"));
    assert_true(check("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\",\"x\":\"4\"}}"));
    assert_string_equal(fast_named("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\"},\"x\":"
                                   "\"5\"}",
                                   "x"),
                        "5");
    /* The same keys with a duplicate among them is still left to the generic parser. */
    assert_false(check("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\"},\"user\":\"5\"}"));
    assert_false(check("{\"host\":{\"name\":\"h3\"},\"user\":{\"name\":\"u3\"},\"msg\":\"5\"}"));
}

static void test_agent_json_shape_with_a_different_value_kind(void **state)
{
    (void)state;
    static const char *const kinds[] = {
        "{\"a\":\"s\",\"tags\":[\"t\"],\"b\":{\"c\":\"1\"}}",
        "{\"a\":12,\"tags\":[\"t\"],\"b\":{\"c\":\"1\"}}",
        "{\"a\":-3,\"tags\":[\"t\"],\"b\":{\"c\":\"1\"}}",
        "{\"a\":true,\"tags\":[\"t\"],\"b\":{\"c\":\"1\"}}",
        "{\"a\":false,\"tags\":[\"t\"],\"b\":{\"c\":\"1\"}}",
        "{\"a\":null,\"tags\":[\"t\"],\"b\":{\"c\":\"1\"}}",
        "{\"a\":\"s\",\"tags\":\"t\",\"b\":{\"c\":\"1\"}}",
        "{\"a\":\"s\",\"tags\":[],\"b\":{\"c\":\"1\"}}",
        "{\"a\":\"s\",\"tags\":null,\"b\":{\"c\":\"1\"}}",
        "{\"a\":\"s\",\"tags\":[\"t\"],\"b\":{\"c\":1}}",
        "{\"a\":\"s\",\"tags\":[\"t\"],\"b\":{}}",
        "{\"a\":\"s\",\"tags\":[\"t\"],\"b\":\"c\"}",
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < TRL_ARRAY_LEN(kinds); i++) {
            if (!check(kinds[i]))
                fail_msg("left to the generic parser: %s", kinds[i]);
        }
    }
    assert_false(check("{\"a\":\"s\",\"tags\":[\"t\"],\"b\":{\"c\":1.5}}"));
    assert_false(check("{\"a\":\"s\",\"tags\":[\"t\"],\"b\":[\"c\"]}"));
}

/* A dynamic name that clashes moves under json. or is dropped; what it clashes with includes
 * the dynamic fields the event held before, so those events are not read like the others. */
static void test_agent_json_shape_with_clashing_names(void **state)
{
    (void)state;
    const char *line =
        "{\"q.r\":\"1\",\"a\":\"2\",\"a.b\":\"3\",\"json\":{\"a_b\":\"4\"},\"z\":\"5\"}";
    for (int round = 0; round < 2; round++) {
        assert_true(check(line));
        assert_true(check_with_dynamic(line, "q"));
        assert_true(check_with_dynamic(line, "z.y"));
        assert_true(check(line));
    }
    assert_null(fast_named(line, "a.b"));
    assert_string_equal(fast_named(line, "q.r"), "1");
}

/* More shapes than a thread keeps, and more parting at one key than it follows: the oldest are
 * forgotten or some never kept, and every event still comes out right. */
static void test_agent_json_many_shapes(void **state)
{
    (void)state;
    char line[128];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4096; i++) {
            snprintf(line, sizeof(line),
                     "{\"host\":{\"name\":\"h\"},\"a%d\":\"1\",\"b%d\":2,\"c%d\":null}", i % 16,
                     i / 16 % 16, i / 256);
            assert_true(check(line));
            if (i % 100 == 0)
                trl_arena_reset(arena);
        }
        for (int i = 0; i < 100; i++) {
            snprintf(line, sizeof(line), "{\"host\":{\"name\":\"h\"},\"k%d\":{\"v\":\"%d\"}}", i,
                     i);
            assert_true(check(line));
        }
        trl_arena_reset(arena);
    }
}

/* Every line of the shared samples, collected as an agent does, takes the fast path. */
static void test_agent_json_shared_samples(void **state)
{
    (void)state;
    const char *shared = trl_test_shared_dir();
    if (!shared) {
        print_message("TRL_SHARED not set or missing: skipping the shared samples\n");
        skip();
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/data/linux-samples", shared);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    size_t lines = 0, fast = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            lines++;
            fast += check_collected(line, (size_t)len, lines);
            trl_arena_reset(arena);
        }
        free(line);
        fclose(f);
    }
    closedir(d);
    print_message("shared samples: %zu lines, %zu by the fast decoder\n", lines, fast);
    assert_true(lines > 100);
    assert_int_equal(fast, lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_json_takes_what_agents_send),
        cmocka_unit_test(test_agent_json_matches_the_generic_parser_on_edge_cases),
        cmocka_unit_test(test_agent_json_deep_and_long_names_go_generic),
        cmocka_unit_test(test_agent_json_known_shape_is_read_again_with_new_values),
        cmocka_unit_test(test_agent_json_shape_differing_in_one_key_byte),
        cmocka_unit_test(test_agent_json_shape_with_a_different_value_kind),
        cmocka_unit_test(test_agent_json_shape_with_clashing_names),
        cmocka_unit_test(test_agent_json_many_shapes),
        cmocka_unit_test(test_agent_json_shared_samples),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
