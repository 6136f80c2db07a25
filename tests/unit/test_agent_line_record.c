#include "trl_test.h"

#include "agent/line_record.h"
#include "core/buf.h"

/* 2026-01-02T03:04:05Z: a line of December 31st read then is from the year before. */
#define READ_NS (1767323045LL * TRL_NS_PER_SEC)

static const char auth_line[] = "Dec 31 23:59:58 web20 sshd[44648]: Accepted publickey for bob "
                                "from 198.44.216.9 port 2976 ssh2";
static const char path[] = "/var/log/auth.log";

static struct trl_line_rec sample(const char *line)
{
    return (struct trl_line_rec){.offset = 4096,
                                 .end = 4096 + strlen(line) + 1,
                                 .crc = 0xdeadbeefu,
                                 .read_ns = READ_NS,
                                 .path = path,
                                 .path_len = strlen(path),
                                 .line = line,
                                 .line_len = strlen(line)};
}

static void test_line_record_round_trip(void **state)
{
    (void)state;
    struct trl_line_rec in = sample(auth_line), out;
    struct trl_buf b = {0};
    trl_line_rec_encode(&b, &in);
    assert_int_equal(b.len, TRL_LINE_REC_HEAD + strlen(path) + strlen(auth_line));
    assert_int_equal(trl_line_rec_decode(b.data, b.len, &out), 0);
    assert_int_equal(out.offset, in.offset);
    assert_int_equal(out.end, in.end);
    assert_int_equal(out.crc, in.crc);
    assert_int_equal(out.read_ns, in.read_ns);
    assert_int_equal(out.path_len, in.path_len);
    assert_memory_equal(out.path, path, out.path_len);
    assert_int_equal(out.line_len, in.line_len);
    assert_memory_equal(out.line, auth_line, out.line_len);

    uint64_t off = 0, end = 0;
    uint32_t crc = 0;
    assert_true(trl_line_rec_position(b.data, b.len, &off, &end, &crc));
    assert_int_equal(off, in.offset);
    assert_int_equal(end, in.end);
    assert_int_equal(crc, in.crc);
    trl_buf_free(&b);
}

/* An empty line and an empty path are records too: the line is the rest of the record. */
static void test_line_record_empty_line(void **state)
{
    (void)state;
    struct trl_line_rec in = sample(""), out;
    in.path_len = 0;
    struct trl_buf b = {0};
    trl_line_rec_encode(&b, &in);
    assert_int_equal(b.len, TRL_LINE_REC_HEAD);
    assert_int_equal(trl_line_rec_decode(b.data, b.len, &out), 0);
    assert_int_equal(out.path_len, 0);
    assert_int_equal(out.line_len, 0);
    trl_buf_free(&b);
}

static void test_line_record_rejects_malformed(void **state)
{
    (void)state;
    struct trl_line_rec in = sample(auth_line), out;
    struct trl_buf b = {0};
    trl_line_rec_encode(&b, &in);
    uint64_t off, end;
    uint32_t crc;
    /* Every truncation inside the header or the path. */
    for (size_t n = 1; n < TRL_LINE_REC_HEAD + strlen(path); n++) {
        assert_int_equal(trl_line_rec_decode(b.data, n, &out), TRL_EINVAL);
        assert_false(trl_line_rec_position(b.data, n, &off, &end, &crc));
    }
    /* A path longer than the rest of the record, or than any path. */
    unsigned char *p = (unsigned char *)b.data;
    p[29] = 0xff;
    p[30] = 0x0f;
    assert_int_equal(trl_line_rec_decode(b.data, b.len, &out), TRL_EINVAL);
    struct trl_buf big = {0};
    struct trl_line_rec huge = in;
    char long_path[TRL_LINE_REC_MAX_PATH + 1];
    memset(long_path, 'a', sizeof(long_path));
    huge.path = long_path;
    huge.path_len = sizeof(long_path);
    trl_line_rec_encode(&big, &huge);
    assert_int_equal(trl_line_rec_decode(big.data, big.len, &out), TRL_EINVAL);
    /* Not a line record: JSON of another source, and nothing. */
    static const char json[] = "{\"message\":\"x\"}";
    assert_int_equal(trl_line_rec_decode(json, strlen(json), &out), TRL_ENOMATCH);
    assert_false(trl_line_rec_position(json, strlen(json), &off, &end, &crc));
    assert_int_equal(trl_line_rec_decode("", 0, &out), TRL_ENOMATCH);
    trl_buf_free(&b);
    trl_buf_free(&big);
}

/* Spools of the earlier layout: the position in text before the event's JSON. */
static void test_line_record_earlier_layout_position(void **state)
{
    (void)state;
    static const char rec[] = "\x1e"
                              "123 456 3735928559\n{\"message\":\"x\"}";
    uint64_t off = 0, end = 0;
    uint32_t crc = 0;
    assert_true(trl_line_rec_position(rec, strlen(rec), &off, &end, &crc));
    assert_int_equal(off, 123);
    assert_int_equal(end, 456);
    assert_int_equal(crc, 3735928559u);
    static const char *const bad[] = {"\x1e", "\x1e\n{}",
                                      "\x1e"
                                      "12 x 3\n{}",
                                      "\x1e"
                                      "1 2\n{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(trl_line_rec_position(bad[i], strlen(bad[i]), &off, &end, &crc));
    struct trl_line_rec out;
    assert_int_equal(trl_line_rec_decode(rec, strlen(rec), &out), TRL_ENOMATCH);
}

/* The JSON of records that are not line records: after the position in the earlier layout, the
 * whole record otherwise. */
static void test_line_record_json_of_other_records(void **state)
{
    (void)state;
    static const char earlier[] = "\x1e"
                                  "1 2 3\n{\"message\":\"x\"}";
    static const char other[] = "{\"message\":\"y\"}";
    const char *json;
    size_t len;
    trl_line_rec_json(earlier, strlen(earlier), &json, &len);
    assert_int_equal(len, strlen("{\"message\":\"x\"}"));
    assert_memory_equal(json, "{\"message\":\"x\"}", len);
    trl_line_rec_json(other, strlen(other), &json, &len);
    assert_ptr_equal(json, other);
    assert_int_equal(len, strlen(other));
    /* A position without its newline leaves no JSON rather than a part of the position. */
    trl_line_rec_json("\x1e"
                      "12 34",
                      6, &json, &len);
    assert_int_equal(len, 0);
}

/* The event is the one reading the line would have made: the read time decides the year, the
 * record's path is log.file.path, the host is the line's own. */
static void test_line_record_event(void **state)
{
    (void)state;
    struct trl_arena *a = trl_arena_create(0);
    struct trl_line_rec r = sample(auth_line);
    struct trl_event *ev = trl_line_rec_event(a, &r, "this-host");
    assert_int_equal(ev->original_len, strlen(auth_line));
    assert_memory_equal(ev->original, auth_line, ev->original_len);
    assert_int_equal(ev->received_ns, READ_NS);
    char ts[TRL_RFC3339_MAX];
    trl_format_rfc3339(ev->timestamp_ns, ts);
    assert_true(strncmp(ts, "2025-12-31T23:59:58", 19) == 0);
    assert_field(ev, TRL_F_LOG_FILE_PATH, path);
    assert_field(ev, TRL_F_HOST_NAME, "web20");
    assert_field(ev, TRL_F_USER_NAME, "bob");
    assert_field(ev, TRL_F_SOURCE_IP, "198.44.216.9");

    /* A line without a host of its own gets this host's name. */
    trl_arena_reset(a);
    struct trl_line_rec plain = sample("just some text");
    ev = trl_line_rec_event(a, &plain, "this-host");
    assert_field(ev, TRL_F_HOST_NAME, "this-host");
    assert_field(ev, TRL_F_LOG_FILE_PATH, path);
    trl_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_record_round_trip),
        cmocka_unit_test(test_line_record_empty_line),
        cmocka_unit_test(test_line_record_rejects_malformed),
        cmocka_unit_test(test_line_record_earlier_layout_position),
        cmocka_unit_test(test_line_record_json_of_other_records),
        cmocka_unit_test(test_line_record_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
