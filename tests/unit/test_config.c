/* Configuration: defaults, every value type, YAML structure errors, precedence, dump, docs. */
#include "trl_test.h"

#include "core/config.h"
#include "core/log.h"
#include "formats/parse.h"

#include <unistd.h>

static char err[512];

static int load(struct trl_config *c, const char *yaml)
{
    err[0] = '\0';
    return trl_config_load_buffer(c, "t.yml", yaml, strlen(yaml), err, sizeof(err));
}

/* Loads yaml into a fresh default config and asserts the exact error message. */
#define assert_load_error(yaml, want)                                                              \
    do {                                                                                           \
        struct trl_config c_;                                                                      \
        trl_config_defaults(&c_);                                                                  \
        assert_int_equal(load(&c_, (yaml)), TRL_ECONFIG);                                          \
        assert_string_equal(err, (want));                                                          \
        trl_config_free(&c_);                                                                      \
    } while (0)

static void test_config_defaults(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    if (geteuid() == 0)
        assert_string_equal(c.data_dir, "/var/lib/trapline");
    else
        assert_non_null(strstr(c.data_dir, "trapline"));
    assert_int_equal(c.log.level, TRL_LOG_INFO);
    assert_string_equal(c.log.file, "");
    assert_int_equal(c.server.syslog_udp.count, 1);
    assert_string_equal(c.server.syslog_udp.items[0], "0.0.0.0:514");
    assert_string_equal(c.server.syslog_tcp.items[0], "0.0.0.0:514");
    assert_string_equal(c.server.syslog_tls.items[0], "0.0.0.0:6514");
    assert_string_equal(c.server.tls.cert, "");
    assert_int_equal(c.server.tls.client_auth, TRL_TLS_CLIENT_AUTH_OPTIONAL);
    assert_int_equal(c.server.tls.min_version, TRL_TLS_VERSION_1_2);
    assert_int_equal(c.server.max_message_size, 64 * 1024);
    assert_int_equal(c.server.max_connections, 10000);
    assert_int_equal(c.server.idle_timeout_ms, 5 * 60 * 1000);
    assert_int_equal(c.server.handshake_timeout_ms, 10 * 1000);
    assert_int_equal(c.server.udp_rcvbuf, 8 * 1024 * 1024);
    assert_int_equal(c.server.stats_interval_ms, 60 * 1000);
    assert_int_equal(c.pipeline.queue_batches, 64);
    assert_int_equal(c.pipeline.batch_max_messages, 4096);
    assert_int_equal(c.pipeline.batch_max_bytes, 4 * 1024 * 1024);
    assert_string_equal(c.pipeline.output, "");
    assert_int_equal(c.ingest.format, TRL_FORMAT_AUTO);
    trl_config_free(&c);
}

static const char full_file[] = "# every key, none at its default\n"
                                "data_dir: /srv/trapline\n"
                                "log:\n"
                                "  level: debug\n"
                                "  file: /var/log/trapline.log\n"
                                "server:\n"
                                "  syslog_udp: [\"127.0.0.1:5514\", \"[::1]:5514\"]\n"
                                "  syslog_tcp:\n"
                                "    - 127.0.0.1:5514\n"
                                "  syslog_tls: 0.0.0.0:6514\n"
                                "  tls:\n"
                                "    cert: /etc/trapline/cert.pem\n"
                                "    key: /etc/trapline/key.pem\n"
                                "    ca: /etc/trapline/ca.pem\n"
                                "    client_auth: required\n"
                                "    min_version: 1.3\n"
                                "  max_message_size: 1MiB\n"
                                "  max_connections: 500\n"
                                "  idle_timeout: 90s\n"
                                "  handshake_timeout: 2s\n"
                                "  udp_rcvbuf: 32MiB\n"
                                "  stats_interval: 1h30m\n"
                                "pipeline:\n"
                                "  queue_batches: 8\n"
                                "  batch_max_messages: 100\n"
                                "  batch_max_bytes: 10MB\n"
                                "  output: '-'\n"
                                "ingest:\n"
                                "  format: rfc5424\n";

static void test_config_full_file_sets_every_key(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(load(&c, full_file), 0);
    assert_string_equal(c.data_dir, "/srv/trapline");
    assert_int_equal(c.log.level, TRL_LOG_DEBUG);
    assert_string_equal(c.log.file, "/var/log/trapline.log");
    assert_int_equal(c.server.syslog_udp.count, 2);
    assert_string_equal(c.server.syslog_udp.items[0], "127.0.0.1:5514");
    assert_string_equal(c.server.syslog_udp.items[1], "[::1]:5514");
    assert_int_equal(c.server.syslog_tcp.count, 1);
    assert_string_equal(c.server.syslog_tcp.items[0], "127.0.0.1:5514");
    assert_int_equal(c.server.syslog_tls.count, 1);
    assert_string_equal(c.server.tls.cert, "/etc/trapline/cert.pem");
    assert_string_equal(c.server.tls.key, "/etc/trapline/key.pem");
    assert_string_equal(c.server.tls.ca, "/etc/trapline/ca.pem");
    assert_int_equal(c.server.tls.client_auth, TRL_TLS_CLIENT_AUTH_REQUIRED);
    assert_int_equal(c.server.tls.min_version, TRL_TLS_VERSION_1_3);
    assert_int_equal(c.server.max_message_size, 1024 * 1024);
    assert_int_equal(c.server.max_connections, 500);
    assert_int_equal(c.server.idle_timeout_ms, 90 * 1000);
    assert_int_equal(c.server.handshake_timeout_ms, 2000);
    assert_int_equal(c.server.udp_rcvbuf, 32 * 1024 * 1024);
    assert_int_equal(c.server.stats_interval_ms, 90 * 60 * 1000);
    assert_int_equal(c.pipeline.queue_batches, 8);
    assert_int_equal(c.pipeline.batch_max_messages, 100);
    assert_int_equal(c.pipeline.batch_max_bytes, 10 * 1000 * 1000);
    assert_string_equal(c.pipeline.output, "-");
    assert_int_equal(c.ingest.format, TRL_FORMAT_RFC5424);
    assert_int_equal(trl_config_check_server(&c, err, sizeof(err)), 0);
    trl_config_free(&c);
}

/* One key set from text, with the value read back as an int64 or the error message. */
struct case_i64 {
    const char *key;
    const char *text;
    int64_t want;      /* when err is NULL */
    const char *error; /* the message after "key: ", or NULL for success */
};

static int64_t get_i64(const struct trl_config *c, const char *key)
{
    const struct trl_cfg_entry *e = trl_cfgmap_find(trl_config_map(), key);
    assert_non_null(e);
    return *(const int64_t *)((const char *)c + e->offset);
}

static void run_i64_cases(const struct case_i64 *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct trl_config c;
        char want[512];
        trl_config_defaults(&c);
        int rc = trl_config_set(&c, cases[i].key, cases[i].text, err, sizeof(err));
        if (!cases[i].error) {
            if (rc != 0)
                fail_msg("%s=%s: unexpected error: %s", cases[i].key, cases[i].text, err);
            assert_int_equal(get_i64(&c, cases[i].key), cases[i].want);
        } else {
            assert_int_equal(rc, TRL_ECONFIG);
            snprintf(want, sizeof(want), "%s: %s", cases[i].key, cases[i].error);
            assert_string_equal(err, want);
        }
        trl_config_free(&c);
    }
}

static void test_config_size_values(void **state)
{
    (void)state;
    static const struct case_i64 cases[] = {
        {"server.max_message_size", "64KiB", 65536, NULL},
        {"server.max_message_size", "8MiB", 8 << 20, NULL},
        {"server.max_message_size", "2048", 2048, NULL},
        {"server.max_message_size", "10kB", 10000, NULL},
        {"server.max_message_size", "10MB", 10000000, NULL},
        {"server.max_message_size", "64 KiB", 65536, NULL},
        {"server.max_message_size", "64kib", 65536, NULL},
        {"server.max_message_size", "1024B", 1024, NULL},
        {"server.udp_rcvbuf", "1GiB", INT64_C(1) << 30, NULL},
        {"server.max_message_size", "big", 0, "expected a size like 64KiB, got \"big\""},
        {"server.max_message_size", "", 0, "expected a size like 64KiB, got \"\""},
        {"server.max_message_size", "64Ki", 0, "expected a size like 64KiB, got \"64Ki\""},
        {"server.max_message_size", "-5KiB", 0, "expected a size like 64KiB, got \"-5KiB\""},
        {"server.max_message_size", "1.5MiB", 0, "expected a size like 64KiB, got \"1.5MiB\""},
        {"server.max_message_size", "64 ", 0, "expected a size like 64KiB, got \"64 \""},
        {"server.max_message_size", "99999999999999999999TiB", 0,
         "expected a size like 64KiB, got \"99999999999999999999TiB\""},
        {"server.max_message_size", "9999999TiB", 0,
         "expected a size like 64KiB, got \"9999999TiB\""},
        {"server.max_message_size", "512", 0, "\"512\" is out of range 1KiB..16MiB"},
        {"server.max_message_size", "17MiB", 0, "\"17MiB\" is out of range 1KiB..16MiB"},
        {"server.udp_rcvbuf", "2GiB", 0, "\"2GiB\" is out of range 64KiB..1GiB"},
    };
    run_i64_cases(cases, TRL_ARRAY_LEN(cases));
}

static void test_config_duration_values(void **state)
{
    (void)state;
    static const struct case_i64 cases[] = {
        {"server.idle_timeout", "10s", 10000, NULL},
        {"server.idle_timeout", "5m", 300000, NULL},
        {"server.idle_timeout", "1h", 3600000, NULL},
        {"server.idle_timeout", "1d", 86400000, NULL},
        {"server.idle_timeout", "1h30m", 5400000, NULL},
        {"server.idle_timeout", "1500ms", 1500, NULL},
        {"server.idle_timeout", "10", 0, "expected a duration like 10s or 5m, got \"10\""},
        {"server.idle_timeout", "10x", 0, "expected a duration like 10s or 5m, got \"10x\""},
        {"server.idle_timeout", "s", 0, "expected a duration like 10s or 5m, got \"s\""},
        {"server.idle_timeout", "10S", 0, "expected a duration like 10s or 5m, got \"10S\""},
        {"server.idle_timeout", "-1s", 0, "expected a duration like 10s or 5m, got \"-1s\""},
        {"server.idle_timeout", "9999999999999999d", 0,
         "expected a duration like 10s or 5m, got \"9999999999999999d\""},
        {"server.idle_timeout", "0", 0, NULL},
        {"server.idle_timeout", "90d", 0, "\"90d\" is out of range 0..1d"},
        {"server.handshake_timeout", "500ms", 0, "\"500ms\" is out of range 1s..5m"},
    };
    run_i64_cases(cases, TRL_ARRAY_LEN(cases));
}

static void test_config_int_values(void **state)
{
    (void)state;
    static const struct case_i64 cases[] = {
        {"pipeline.queue_batches", "2", 2, NULL},
        {"pipeline.queue_batches", "65536", 65536, NULL},
        {"server.max_connections", "1", 1, NULL},
        {"pipeline.queue_batches", "1", 0, "\"1\" is out of range 2..65536"},
        {"pipeline.queue_batches", "65537", 0, "\"65537\" is out of range 2..65536"},
        {"pipeline.queue_batches", "-3", 0, "\"-3\" is out of range 2..65536"},
        {"pipeline.queue_batches", "64k", 0, "expected an integer, got \"64k\""},
        {"pipeline.queue_batches", "0x40", 0, "expected an integer, got \"0x40\""},
        {"pipeline.queue_batches", " 64", 0, "expected an integer, got \" 64\""},
        {"pipeline.queue_batches", "99999999999999999999999", 0,
         "expected an integer, got \"99999999999999999999999\""},
    };
    run_i64_cases(cases, TRL_ARRAY_LEN(cases));
}

static void test_config_enum_values(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(trl_config_set(&c, "log.level", "warn", err, sizeof(err)), 0);
    assert_int_equal(c.log.level, TRL_LOG_WARN);
    assert_int_equal(trl_config_set(&c, "log.level", "ERROR", err, sizeof(err)), 0);
    assert_int_equal(c.log.level, TRL_LOG_ERROR);
    assert_int_equal(trl_config_set(&c, "log.level", "verbose", err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(err,
                        "log.level: expected one of debug, info, warn, error; got \"verbose\"");
    assert_int_equal(trl_config_set(&c, "server.tls.min_version", "1.1", err, sizeof(err)),
                     TRL_ECONFIG);
    assert_string_equal(err, "server.tls.min_version: expected one of 1.2, 1.3; got \"1.1\"");
    assert_int_equal(trl_config_set(&c, "ingest.format", "leef", err, sizeof(err)), 0);
    assert_int_equal(c.ingest.format, TRL_FORMAT_LEEF);
    trl_config_free(&c);

    /* min_version: 1.3 unquoted is a YAML float to most tools; here it is the name "1.3". */
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "server:\n  tls:\n    min_version: 1.3\n"), 0);
    assert_int_equal(c.server.tls.min_version, TRL_TLS_VERSION_1_3);
    trl_config_free(&c);
    assert_load_error("server:\n  tls:\n    client_auth: maybe\n",
                      "config t.yml:3: server.tls.client_auth: expected one of none, optional, "
                      "required; got \"maybe\"");
}

/* Enum indexes are the enum values the rest of Trapline uses. */
static void test_config_enum_names_match_enums(void **state)
{
    (void)state;
    const struct trl_cfg_entry *fmt = trl_cfgmap_find(trl_config_map(), "ingest.format");
    const struct trl_cfg_entry *lvl = trl_cfgmap_find(trl_config_map(), "log.level");
    int n = 0;
    for (; fmt->names[n]; n++)
        assert_string_equal(fmt->names[n], trl_format_name((enum trl_format_id)n));
    assert_int_equal(n, TRL_FORMAT__COUNT);
    for (n = 0; lvl->names[n]; n++)
        assert_int_equal(trl_log_level_parse(lvl->names[n]), n);
}

static void test_config_string_values(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "log:\n  file: \"/var/log/tr apline.log\"\n"), 0);
    assert_string_equal(c.log.file, "/var/log/tr apline.log");
    /* "file:" with nothing is the empty string: back to stderr. */
    assert_int_equal(load(&c, "log:\n  file:\n"), 0);
    assert_string_equal(c.log.file, "");
    trl_config_free(&c);
    assert_load_error("log:\n  file: \"a\\0b\"\n",
                      "config t.yml:2: log.file: the value contains a NUL byte");
    /* Flags are bytes; a value must be UTF-8 text like the file it could be written to. */
    trl_config_defaults(&c);
    assert_int_equal(trl_config_set(&c, "log.file", "/tmp/\xc1x", err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(err, "log.file: expected UTF-8 text, got \"/tmp/\\xc1x\"");
    assert_int_equal(trl_config_set(&c, "log.file", "/tmp/\xc3\xa9t\xc3\xa9", err, sizeof(err)), 0);
    trl_config_free(&c);
    assert_load_error("data_dir: \"\"\n",
                      "config t.yml:1: data_dir: expected a directory path, got \"\"");
    assert_load_error("log:\n  file: [a, b]\n",
                      "config t.yml:2: log.file: expected a string, got a list");
}

static void test_config_list_values(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "server:\n  syslog_udp: off\n  syslog_tcp: []\n"
                              "  syslog_tls: \"[::]:6514\"\n"),
                     0);
    assert_int_equal(c.server.syslog_udp.count, 0);
    assert_int_equal(c.server.syslog_tcp.count, 0);
    assert_int_equal(c.server.syslog_tls.count, 1);
    assert_string_equal(c.server.syslog_tls.items[0], "[::]:6514");
    /* Flags: comma-separated, spaces trimmed, off or "" = none. */
    assert_int_equal(
        trl_config_set(&c, "server.syslog_udp", "0.0.0.0:5514, [::]:5514", err, sizeof(err)), 0);
    assert_int_equal(c.server.syslog_udp.count, 2);
    assert_string_equal(c.server.syslog_udp.items[1], "[::]:5514");
    assert_int_equal(trl_config_set(&c, "server.syslog_udp", "off", err, sizeof(err)), 0);
    assert_int_equal(c.server.syslog_udp.count, 0);
    assert_int_equal(trl_config_set(&c, "server.syslog_udp", "1.2.3.4:5,", err, sizeof(err)),
                     TRL_ECONFIG);
    assert_string_equal(err, "server.syslog_udp: empty item in the list \"1.2.3.4:5,\"");
    trl_config_free(&c);

    const char *bad_addr = "server.syslog_udp: expected ADDRESS:PORT such as 0.0.0.0:514 or "
                           "[::]:514 (IP address, port 0-65535; 0 picks a free port), got ";
    char want[512];
    snprintf(want, sizeof(want), "config t.yml:3: %s\"localhost:514\"", bad_addr);
    assert_load_error("server:\n  syslog_udp:\n    - localhost:514\n", want);
    snprintf(want, sizeof(want), "config t.yml:2: %s\"0.0.0.0:65536\"", bad_addr);
    assert_load_error("server:\n  syslog_udp: 0.0.0.0:65536\n", want);
    /* "off" turns a list off only as the whole value; as an item it is an address, and wrong. */
    snprintf(want, sizeof(want), "config t.yml:2: %s\"off\"", bad_addr);
    assert_load_error("server:\n  syslog_udp: [off]\n", want);
    assert_load_error("server:\n  syslog_udp:\n", "config t.yml:2: server.syslog_udp: expected a "
                                                  "list, a single value or off, got nothing");
    assert_load_error("server:\n  syslog_udp: [[1.2.3.4:5]]\n",
                      "config t.yml:2: server.syslog_udp: list items must be single values, "
                      "got a list");
    assert_load_error("server:\n  syslog_udp: {a: b}\n",
                      "config t.yml:2: server.syslog_udp: expected a list, a single value or "
                      "off, got a mapping");
    assert_load_error("server:\n  syslog_udp:\n    -\n",
                      "config t.yml:3: server.syslog_udp: empty list item");
}

static void test_config_parse_listen(void **state)
{
    (void)state;
    char addr[64];
    uint16_t port = 0;
    assert_int_equal(trl_config_parse_listen("0.0.0.0:514", addr, sizeof(addr), &port), 0);
    assert_string_equal(addr, "0.0.0.0");
    assert_int_equal(port, 514);
    assert_int_equal(trl_config_parse_listen("[::]:6514", addr, sizeof(addr), &port), 0);
    assert_string_equal(addr, "::");
    assert_int_equal(port, 6514);
    assert_int_equal(trl_config_parse_listen("[fe80::1]:65535", addr, sizeof(addr), &port), 0);
    assert_int_equal(trl_config_parse_listen("::1:514", addr, sizeof(addr), &port), TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen("[::1]514", addr, sizeof(addr), &port), TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen("1.2.3.4:65536", addr, sizeof(addr), &port),
                     TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen("1.2.3.4:", addr, sizeof(addr), &port), TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen(":514", addr, sizeof(addr), &port), TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen("514", addr, sizeof(addr), &port), TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen("1.2.3.4:+5", addr, sizeof(addr), &port), TRL_EINVAL);
    assert_int_equal(trl_config_parse_listen("1.2.3.4:514", addr, 4, &port), TRL_EINVAL);
}

/* The generic loader on a table of its own: the bool type, which Trapline's table does not use. */
struct toy {
    bool flag;
    int64_t n;
    struct trl_cfg_origins origins;
};

static const struct trl_cfg_entry toy_keys[] = {
    {.key = "flag",
     .type = TRL_CFG_BOOL,
     .def = "no",
     .offset = offsetof(struct toy, flag),
     .help = "A switch."},
    {.key = "a.b.n",
     .type = TRL_CFG_INT,
     .def = "-7",
     .offset = offsetof(struct toy, n),
     .help = "An unbounded number."},
};
static const struct trl_cfg_map toy_map = {toy_keys, 2, offsetof(struct toy, origins)};

static void test_config_bool_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int want; /* -1: error */
    } cases[] = {
        {"true", 1}, {"yes", 1}, {"on", 1}, {"True", 1}, {"false", 0}, {"no", 0},
        {"off", 0},  {"OFF", 0}, {"1", -1}, {"y", -1},   {"", -1},     {"enabled", -1},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct toy t = {0};
        trl_cfgmap_defaults(&toy_map, &t);
        assert_false(t.flag);
        assert_int_equal(t.n, -7);
        int rc =
            trl_cfgmap_set(&toy_map, &t, "flag", cases[i].text, TRL_CFG_SRC_FLAG, err, sizeof(err));
        if (cases[i].want < 0) {
            char want[128];
            snprintf(want, sizeof(want), "flag: expected true or false, got \"%s\"", cases[i].text);
            assert_int_equal(rc, TRL_ECONFIG);
            assert_string_equal(err, want);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(t.flag, cases[i].want);
        }
        trl_cfgmap_free(&toy_map, &t);
    }
    struct toy t = {0};
    trl_cfgmap_defaults(&toy_map, &t);
    const char *yaml = "flag: yes\na:\n  b: {n: -9223372036854775808}\n";
    assert_int_equal(trl_cfgmap_load(&toy_map, &t, "toy.yml", yaml, strlen(yaml), err, sizeof(err)),
                     0);
    assert_true(t.flag);
    assert_int_equal(t.n, INT64_MIN);
    trl_cfgmap_free(&toy_map, &t);
}

static void test_config_error_names_file_line_and_key(void **state)
{
    (void)state;
    assert_load_error("log:\n  level: info\nserver:\n  max_message_size: big\n",
                      "config t.yml:4: server.max_message_size: expected a size like 64KiB, "
                      "got \"big\"");
    /* The message quotes a hostile value safely and briefly. */
    assert_load_error("server:\n  max_message_size: \"\\e[31mred\\x7f\"\n",
                      "config t.yml:2: server.max_message_size: expected a size like 64KiB, got "
                      "\"\\x1b[31mred\\x7f\"");
    assert_load_error(
        "server:\n  max_connections: "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        "config t.yml:2: server.max_connections: expected an integer, got "
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
}

static void test_config_unknown_key_suggests_closest(void **state)
{
    (void)state;
    assert_load_error("server:\n  max_msg_size: 1MiB\n",
                      "config t.yml:2: unknown key \"server.max_msg_size\" "
                      "(did you mean server.max_message_size?)");
    assert_load_error("sever:\n  max_connections: 5\n",
                      "config t.yml:1: unknown key \"sever\" (did you mean server?)");
    assert_load_error("log:\n  levle: debug\n",
                      "config t.yml:2: unknown key \"log.levle\" (did you mean log.level?)");
    /* A setting at the wrong level: the same name exists in a section. */
    assert_load_error("max_connections: 5\n", "config t.yml:1: unknown key \"max_connections\" "
                                              "(did you mean server.max_connections?)");
    assert_load_error("server:\n  cert: /x.pem\n",
                      "config t.yml:2: unknown key \"server.cert\" (did you mean "
                      "server.tls.cert?)");
    assert_load_error("tls:\n  cert: /c.pem\n",
                      "config t.yml:1: unknown key \"tls\" (did you mean server.tls?)");
    assert_load_error("colour: blue\n", "config t.yml:1: unknown key \"colour\"");
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(trl_config_set(&c, "server.tls.min_vresion", "1.3", err, sizeof(err)),
                     TRL_ECONFIG);
    assert_string_equal(err, "unknown key \"server.tls.min_vresion\" (did you mean "
                             "server.tls.min_version?)");
    assert_int_equal(trl_config_set(&c, "server.tls", "x", err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(err, "server.tls: is a section, not a setting");
    trl_config_free(&c);
}

static void test_config_dotted_keys_equal_nested(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "server.tls.cert: /c.pem\nserver:\n  tls.key: /k.pem\n"), 0);
    assert_string_equal(c.server.tls.cert, "/c.pem");
    assert_string_equal(c.server.tls.key, "/k.pem");
    trl_config_free(&c);
    assert_load_error("server.tls.cert: /a.pem\nserver:\n  tls:\n    cert: /b.pem\n",
                      "config t.yml:4: server.tls.cert: duplicate key (first set on line 1)");
}

static void test_config_duplicate_keys_are_errors(void **state)
{
    (void)state;
    assert_load_error("log:\n  level: info\n  level: debug\n",
                      "config t.yml:3: log.level: duplicate key (first set on line 2)");
    assert_load_error("log:\n  level: info\nserver:\n  max_connections: 5\nlog:\n  file: /x\n",
                      "config t.yml:5: log: duplicate section (first on line 1)");
}

static void test_config_wrong_nesting(void **state)
{
    (void)state;
    assert_load_error("server: 0.0.0.0:514\n",
                      "config t.yml:1: server: is a section: expected a mapping of settings, got "
                      "a single value");
    assert_load_error("server:\n  - max_connections: 5\n",
                      "config t.yml:2: server: is a section: expected a mapping of settings, got "
                      "a list");
    assert_load_error("log:\n  level:\n    name: debug\n",
                      "config t.yml:3: log.level: expected one of debug, info, warn, error; got "
                      "a mapping");
    assert_load_error("server:\n  max_connections: [1, 2]\n",
                      "config t.yml:2: server.max_connections: expected an integer, got a list");
    assert_load_error("server:\n  max_connections:\n",
                      "config t.yml:2: server.max_connections: expected an integer, got nothing");
    assert_load_error("- a\n- b\n", "config t.yml:1: the file must be a mapping of settings "
                                    "(key: value), got a list");
    assert_load_error("hello\n", "config t.yml:1: the file must be a mapping of settings "
                                 "(key: value), got a single value");
    assert_load_error("? [a, b]\n: c\n", "config t.yml:1: a key must be a plain name, got a list");
    /* A section left empty (all its settings commented out) is fine. */
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "server:\n  tls:\n#    cert: /x\nlog: ~\n"), 0);
    trl_config_free(&c);
}

static void test_config_empty_file_keeps_defaults(void **state)
{
    (void)state;
    static const char *const empties[] = {"",           "# only a comment\n", "---\n",
                                          "---\n...\n", "\n\n   \n",          "~\n"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(empties); i++) {
        struct trl_config c;
        trl_config_defaults(&c);
        assert_int_equal(load(&c, empties[i]), 0);
        assert_int_equal(c.server.max_message_size, 65536);
        trl_config_free(&c);
    }
}

static void test_config_yaml_syntax_error_has_line_and_column(void **state)
{
    (void)state;
    assert_load_error("log:\n  level: info: debug\n",
                      "config t.yml:2:14: YAML syntax error: mapping values are not allowed in "
                      "this context");
    assert_load_error("server:\n  syslog_udp: [1.1.1.1:1, 1.1.1.1:2\n",
                      "config t.yml:3:1: YAML syntax error: did not find expected ',' or ']' "
                      "(while parsing a flow sequence)");
    assert_load_error("log: {level: debug}\n---\nlog: {level: info}\n",
                      "config t.yml:2: only one YAML document is allowed");
}

static void test_config_rejects_non_utf8(void **state)
{
    (void)state;
    assert_load_error("log:\n  file: /var/log/\xff\xfe.log\n",
                      "config t.yml:2:18: not valid UTF-8 text: invalid leading UTF-8 octet "
                      "(byte 0xff)");
    assert_load_error("log:\n  file: a\x01\n",
                      "config t.yml:2:10: not valid UTF-8 text: control characters are not "
                      "allowed (byte 0x01)");
}

static void test_config_rejects_aliases(void **state)
{
    (void)state;
    assert_load_error("a: &port 0.0.0.0:514\n", "config t.yml:1: unknown key \"a\"");
    assert_load_error("server:\n  syslog_udp: &l [\"0.0.0.0:5514\"]\n  syslog_tcp: *l\n",
                      "config t.yml:3: server.syslog_tcp: YAML aliases (*name) are not "
                      "supported; write the value out");
    assert_load_error("*x : 1\n", "config t.yml:1: YAML aliases (*name) are not supported; "
                                  "write the value out");
    /* An alias bomb ("billion laughs") is refused at its first alias, in constant memory. */
    char bomb[4096];
    size_t o = (size_t)snprintf(bomb, sizeof(bomb), "server:\n  syslog_udp: &a0 [\"1.1.1.1:1\"");
    for (int i = 0; i < 9; i++)
        o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, ", \"1.1.1.1:1\"");
    o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, "]\n");
    for (int i = 1; i < 30; i++) {
        o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, "  x%d: &a%d [*a%d", i, i, i - 1);
        for (int k = 0; k < 9; k++)
            o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, ", *a%d", i - 1);
        o += (size_t)snprintf(bomb + o, sizeof(bomb) - o, "]\n");
    }
    assert_load_error(bomb, "config t.yml:3: unknown key \"server.x1\"");
    /* The same bomb inside a list value stops at the first alias. */
    assert_load_error("server:\n  syslog_udp: &a [\"1.1.1.1:1\", \"1.1.1.1:1\"]\n"
                      "  syslog_tcp: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
                      "config t.yml:3: server.syslog_tcp: YAML aliases (*name) are not "
                      "supported; write the value out");
}

static void test_config_failed_load_changes_nothing(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "log:\n  level: debug\nserver:\n  max_connections: lots\n"),
                     TRL_ECONFIG);
    assert_int_equal(c.log.level, TRL_LOG_INFO);
    assert_int_equal(c.server.max_connections, 10000);
    trl_config_free(&c);
}

static void test_config_precedence_flag_env_file_default(void **state)
{
    (void)state;
    const char *yaml = "data_dir: /from/file\nlog:\n  level: warn\nserver:\n  max_connections: 7\n";
    struct trl_config c;
    /* Flags parsed before the file is read still win. */
    trl_config_defaults(&c);
    assert_int_equal(trl_config_set(&c, "server.max_connections", "9", err, sizeof(err)), 0);
    assert_int_equal(load(&c, yaml), 0);
    assert_int_equal(c.server.max_connections, 9);
    assert_int_equal(c.log.level, TRL_LOG_WARN);
    assert_string_equal(c.data_dir, "/from/file");
    /* The environment beats the file, whatever the order. */
    setenv("TRAPLINE_DATA", "/from/env", 1);
    assert_int_equal(trl_config_apply_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/from/env");
    assert_int_equal(load(&c, yaml), 0);
    assert_string_equal(c.data_dir, "/from/env");
    /* A flag beats the environment. */
    assert_int_equal(trl_config_set(&c, "data_dir", "/from/flag", err, sizeof(err)), 0);
    assert_int_equal(trl_config_apply_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/from/flag");
    /* A bad value in the file is reported even where a flag overrides it. */
    assert_int_equal(load(&c, "server:\n  max_connections: 0\n"), TRL_ECONFIG);
    assert_string_equal(err,
                        "config t.yml:2: server.max_connections: \"0\" is out of range 1..1000000");
    trl_config_free(&c);
    /* An empty TRAPLINE_DATA counts as unset. */
    setenv("TRAPLINE_DATA", "", 1);
    trl_config_defaults(&c);
    assert_int_equal(trl_config_apply_env(&c, err, sizeof(err)), 0);
    assert_string_not_equal(c.data_dir, "");
    trl_config_free(&c);
    unsetenv("TRAPLINE_DATA");
}

static void test_config_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/trl-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, full_file, strlen(full_file)), (ssize_t)strlen(full_file));
    close(fd);
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(trl_config_load_file(&c, path, err, sizeof(err)), 0);
    assert_int_equal(c.server.max_connections, 500);
    trl_config_free(&c);
    unlink(path);
    trl_config_defaults(&c);
    assert_int_equal(trl_config_load_file(&c, "/nonexistent/trapline.yml", err, sizeof(err)),
                     TRL_ECONFIG);
    assert_string_equal(err, "config /nonexistent/trapline.yml: No such file or directory");
    trl_config_free(&c);
}

static void test_config_check_server(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    /* The defaults listen for TLS with the server's own certificate; half a pair is an error. */
    assert_int_equal(trl_config_check_server(&c, err, sizeof(err)), 0);
    assert_int_equal(trl_config_set(&c, "server.tls.cert", "/c", err, sizeof(err)), 0);
    assert_int_equal(trl_config_check_server(&c, err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(err, "server.tls: set both server.tls.cert and server.tls.key, or neither "
                             "(then the server's own certificate in <data_dir>/keys is used)");
    assert_int_equal(trl_config_set(&c, "server.syslog_tls", "off", err, sizeof(err)), 0);
    assert_int_equal(trl_config_check_server(&c, err, sizeof(err)), 0);
    trl_config_free(&c);
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "server:\n  syslog_tcp: [\"0.0.0.0:5514\", \"0.0.0.0:5514\"]\n"), 0);
    assert_int_equal(trl_config_check_server(&c, err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(
        err, "server: 0.0.0.0:5514 is given to more than one listener of the same transport");
    trl_config_free(&c);
    trl_config_defaults(&c);
    assert_int_equal(load(&c, "server:\n  tls: {cert: /c, key: /k, client_auth: required}\n"), 0);
    assert_int_equal(trl_config_check_server(&c, err, sizeof(err)), TRL_ECONFIG);
    assert_string_equal(err, "server.tls.client_auth: required needs server.tls.ca to check "
                             "client certificates against");
    trl_config_free(&c);
}

static void test_config_output_path(void **state)
{
    (void)state;
    struct trl_config c;
    trl_config_defaults(&c);
    assert_int_equal(trl_config_set(&c, "data_dir", "/d", err, sizeof(err)), 0);
    /* Empty: events go to the store only. */
    char *p = trl_config_output_path(&c);
    assert_null(p);
    assert_int_equal(trl_config_set(&c, "pipeline.output", "-", err, sizeof(err)), 0);
    p = trl_config_output_path(&c);
    assert_string_equal(p, "-");
    free(p);
    trl_config_free(&c);
}

static void test_config_dump_reads_back_the_same(void **state)
{
    (void)state;
    struct trl_config a, b;
    trl_config_defaults(&a);
    assert_int_equal(load(&a, full_file), 0);
    assert_int_equal(trl_config_set(&a, "log.file", "/tmp/odd \"name\"\t: #x", err, sizeof(err)),
                     0);
    assert_int_equal(trl_config_set(&a, "pipeline.output", "null", err, sizeof(err)), 0);
    assert_int_equal(trl_config_set(&a, "server.tls.ca",
                                    "/\xc2\x85\xe2\x80\xa8\xef\xbb\xbf\xc3\xa9:", err, sizeof(err)),
                     0);
    assert_int_equal(trl_config_set(&a, "server.syslog_tcp", "off", err, sizeof(err)), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    trl_config_dump(&a, f);
    fclose(f);
    assert_non_null(strstr(text, "  max_message_size: 1MiB  # from t.yml:17\n"));
    assert_non_null(strstr(text, "  file: \"/tmp/odd \\\"name\\\"\\x09: #x\"  # from the "
                                 "command line\n"));
    assert_non_null(strstr(text, "  syslog_udp:  # from t.yml:7\n    - 127.0.0.1:5514\n"
                                 "    - \"[::1]:5514\"\n"));
    assert_non_null(strstr(text, "  syslog_tcp: off  # from the command line\n"));
    assert_non_null(strstr(text, "  batch_max_bytes: 10000000  # from t.yml:26\n"));
    assert_non_null(strstr(text, "  stats_interval: 90m  # from t.yml:22\n"));
    trl_config_defaults(&b);
    if (load(&b, text) != 0)
        fail_msg("dump does not load back: %s\n%s", err, text);
    const struct trl_cfg_map *m = trl_config_map();
    for (size_t i = 0; i < m->count; i++) {
        const struct trl_cfg_entry *e = &m->entries[i];
        const void *fa = (const char *)&a + e->offset;
        const void *fb = (const char *)&b + e->offset;
        switch (e->type) {
        case TRL_CFG_STRING:
            assert_string_equal(*(char *const *)fa, *(char *const *)fb);
            break;
        case TRL_CFG_BOOL:
            assert_int_equal(*(const bool *)fa, *(const bool *)fb);
            break;
        case TRL_CFG_INT:
        case TRL_CFG_SIZE:
        case TRL_CFG_DURATION:
            assert_int_equal(*(const int64_t *)fa, *(const int64_t *)fb);
            break;
        case TRL_CFG_ENUM:
            assert_int_equal(*(const int *)fa, *(const int *)fb);
            break;
        case TRL_CFG_LIST: {
            const struct trl_strlist *la = fa, *lb = fb;
            assert_int_equal(la->count, lb->count);
            for (size_t k = 0; k < la->count; k++)
                assert_string_equal(la->items[k], lb->items[k]);
            break;
        }
        }
    }
    free(text);
    trl_config_free(&a);
    trl_config_free(&b);
}

/* The text of docs/configuration.md (the caller frees it), or NULL after skipping the test when
 * TRL_SRC does not say where the sources are. */
static char *read_docs(void)
{
    const char *src = getenv("TRL_SRC");
    if (!src || !*src) {
        print_message("TRL_SRC is not set: skipping the docs check\n");
        skip();
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", src);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char *doc = NULL;
    size_t len = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        doc = realloc(doc, len + n + 1);
        assert_non_null(doc);
        memcpy(doc + len, chunk, n);
        len += n;
        doc[len] = '\0';
    }
    fclose(f);
    assert_non_null(doc);
    return doc;
}

/* Every key of the table has a row in docs/configuration.md with its type and default. */
static void test_config_docs_list_every_key(void **state)
{
    (void)state;
    char *doc = read_docs();
    const struct trl_cfg_map *m = trl_config_map();
    for (size_t i = 0; i < m->count; i++) {
        const struct trl_cfg_entry *e = &m->entries[i];
        char row[128], want[160];
        snprintf(row, sizeof(row), "| `%s` |", e->key);
        const char *at = strstr(doc, row);
        if (!at)
            fail_msg("docs/configuration.md has no row starting \"%s\"", row);
        const char *eol = strchr(at, '\n');
        size_t rowlen = eol ? (size_t)(eol - at) : strlen(at);
        snprintf(want, sizeof(want), "| %s |", trl_cfg_type_name(e->type));
        if (!memmem(at, rowlen, want, strlen(want)))
            fail_msg("the row of %s in docs/configuration.md does not give its type %s", e->key,
                     want);
        if ((e->type == TRL_CFG_STRING || e->type == TRL_CFG_LIST) && !e->def[0])
            snprintf(want, sizeof(want), "| `\"\"` |");
        else
            snprintf(want, sizeof(want), "| `%s` |", e->def);
        if (!memmem(at, rowlen, want, strlen(want)))
            fail_msg("the row of %s in docs/configuration.md does not give its default %s", e->key,
                     want);
    }
    free(doc);
}

/* Every YAML example in docs/configuration.md is a valid configuration. */
static void test_config_docs_examples_load(void **state)
{
    (void)state;
    char *doc = read_docs();
    int examples = 0;
    for (const char *p = doc; (p = strstr(p, "```yaml\n")); examples++) {
        p += strlen("```yaml\n");
        const char *end = strstr(p, "```");
        assert_non_null(end);
        struct trl_config c;
        trl_config_defaults(&c);
        if (trl_config_load_buffer(&c, "example", p, (size_t)(end - p), err, sizeof(err)) != 0)
            fail_msg("example %d in docs/configuration.md: %s", examples + 1, err);
        trl_config_free(&c);
        p = end + 3;
    }
    assert_true(examples >= 2);
    free(doc);
}

static void test_config_free_is_null_safe(void **state)
{
    (void)state;
    trl_config_free(NULL);
    struct trl_config c;
    trl_config_defaults(&c);
    trl_config_free(&c);
    trl_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_full_file_sets_every_key),
        cmocka_unit_test(test_config_size_values),
        cmocka_unit_test(test_config_duration_values),
        cmocka_unit_test(test_config_int_values),
        cmocka_unit_test(test_config_enum_values),
        cmocka_unit_test(test_config_enum_names_match_enums),
        cmocka_unit_test(test_config_string_values),
        cmocka_unit_test(test_config_list_values),
        cmocka_unit_test(test_config_parse_listen),
        cmocka_unit_test(test_config_bool_values),
        cmocka_unit_test(test_config_error_names_file_line_and_key),
        cmocka_unit_test(test_config_unknown_key_suggests_closest),
        cmocka_unit_test(test_config_dotted_keys_equal_nested),
        cmocka_unit_test(test_config_duplicate_keys_are_errors),
        cmocka_unit_test(test_config_wrong_nesting),
        cmocka_unit_test(test_config_empty_file_keeps_defaults),
        cmocka_unit_test(test_config_yaml_syntax_error_has_line_and_column),
        cmocka_unit_test(test_config_rejects_non_utf8),
        cmocka_unit_test(test_config_rejects_aliases),
        cmocka_unit_test(test_config_failed_load_changes_nothing),
        cmocka_unit_test(test_config_precedence_flag_env_file_default),
        cmocka_unit_test(test_config_load_file),
        cmocka_unit_test(test_config_check_server),
        cmocka_unit_test(test_config_output_path),
        cmocka_unit_test(test_config_dump_reads_back_the_same),
        cmocka_unit_test(test_config_docs_list_every_key),
        cmocka_unit_test(test_config_docs_examples_load),
        cmocka_unit_test(test_config_free_is_null_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
