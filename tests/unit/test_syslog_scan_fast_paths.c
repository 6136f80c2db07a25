/* The shortcuts of the RFC 3164 parser and the Linux normalisers must give what the general ways
 * give: the PRI read at fixed offsets, the "Mmm dd hh:mm:ss" layout read at fixed offsets, the
 * year nearest to the receive time worked out without a civil-date conversion, words and tokens
 * found 8 bytes at a time, the last occurrence of a literal found with memrchr(3), ports read
 * without trl_parse_u64(), and MAC addresses upper-cased a word at a time. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/normalize/scan.h"
#include "formats/parse.h"
#include "formats/syslog_common.h"

#include "norm_test.h"

static uint64_t rng = 0x243F6A8885A308D3ULL;

static uint64_t next_rand(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 11;
}

static void check_pri(const char *text, size_t want_end, unsigned want_value, bool want_valid,
                      bool want_zero, const char *want_digits)
{
    struct trl_syslog_pri pri;
    trl_syslog_scan_pri(text, strlen(text), &pri);
    if (pri.end != want_end || (want_end && (pri.value != want_value || pri.valid != want_valid ||
                                             pri.leading_zero != want_zero)))
        fail_msg("PRI of \"%s\": end %zu value %u valid %d zero %d", text, pri.end, pri.value,
                 pri.valid, pri.leading_zero);
    if (want_digits) {
        assert_int_equal(pri.ndigits, strlen(want_digits));
        assert_memory_equal(pri.digits, want_digits, pri.ndigits);
    }
}

static void test_pri_reads_every_form_and_flags_the_odd_ones(void **state)
{
    (void)state;
    check_pri("<0>x", 3, 0, true, false, "0");
    check_pri("<1>", 3, 1, true, false, "1");
    check_pri("<13>Jul", 4, 13, true, false, "13");
    check_pri("<191>x", 5, 191, true, false, "191");
    check_pri("<192>x", 5, 192, false, false, "192");
    check_pri("<999>x", 5, 999, false, false, "999");
    check_pri("<013>x", 5, 13, true, true, "13");
    check_pri("<00>x", 4, 0, true, true, "0");
    check_pri("<1000>x", 6, 1000, false, false, NULL);
    check_pri("<0013>x", 6, 13, false, true, NULL);
    check_pri("<12", 0, 0, false, false, NULL);
    check_pri("<12x>", 0, 0, false, false, NULL);
    check_pri("<>x", 0, 0, false, false, NULL);
    check_pri("<a>x", 0, 0, false, false, NULL);
    check_pri("13>x", 0, 0, false, false, NULL);
    check_pri("<12345>", 0, 0, false, false, NULL);
    check_pri("<", 0, 0, false, false, NULL);
    check_pri("", 0, 0, false, false, NULL);
}

/* The year the RFC 3164 parser has always taken: the receive year, or the one before or after it
 * when that puts the timestamp nearer to the receive time (by trl_civil_from_days()). */
static int64_t reference_epoch(unsigned mon, unsigned day, unsigned h, unsigned mi, unsigned s,
                               int64_t received_ns)
{
    int64_t rsec = received_ns / TRL_NS_PER_SEC - (received_ns % TRL_NS_PER_SEC < 0);
    int64_t days = rsec / 86400 - (rsec % 86400 < 0), year;
    unsigned rm, rd;
    trl_civil_from_days(days, &year, &rm, &rd);
    int64_t best = trl_epoch_from_civil(year, mon, day, h, mi, s);
    int64_t best_diff = best > rsec ? best - rsec : rsec - best;
    if (best_diff <= 182 * 86400)
        return best;
    for (int64_t y = year - 1; y <= year + 1; y += 2) {
        int64_t t = trl_epoch_from_civil(y, mon, day, h, mi, s);
        int64_t diff = t > rsec ? t - rsec : rsec - t;
        if (diff < best_diff) {
            best = t;
            best_diff = diff;
        }
    }
    return best;
}

static void check_time(const char *stamp, unsigned mon, unsigned day, unsigned h, unsigned mi,
                       unsigned s, int64_t received_ns)
{
    char line[128];
    snprintf(line, sizeof(line), "<13>%s host prog: text", stamp);
    struct trl_event *ev = trl_event_create(norm_arena, line, strlen(line), received_ns);
    assert_int_equal(trl_parse_rfc3164(ev, ev->original, ev->original_len), 0);
    int64_t want = reference_epoch(mon, day, h, mi, s, received_ns) * TRL_NS_PER_SEC;
    if (ev->timestamp_ns != want)
        fail_msg("\"%s\" received at %lld: %lld, want %lld", stamp, (long long)received_ns,
                 (long long)ev->timestamp_ns, (long long)want);
    assert_field(ev, TRL_F_HOST_NAME, "host");
}

static void test_year_is_the_nearest_to_receive_time_in_every_era(void **state)
{
    (void)state;
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    /* Receive times around year boundaries, leap days and century years, before 1970 too. */
    static const int64_t around[] = {
        0,          -1,         946684800,  951782400,  978307199,   1704067199,  1704067200,
        1709164800, 1735689599, 4102444800, 4107542400, -2208988800, -9000000000, 9000000000,
    };
    char stamp[32];
    for (size_t i = 0; i < TRL_ARRAY_LEN(around); i++) {
        for (int64_t delta = -3 * 86400; delta <= 3 * 86400; delta += 86400 / 2 + 7) {
            int64_t received = (around[i] + delta) * TRL_NS_PER_SEC + 123;
            for (unsigned mon = 1; mon <= 12; mon++) {
                static const unsigned days[] = {1, 2, 28, 29, 30, 31};
                for (size_t d = 0; d < TRL_ARRAY_LEN(days); d++) {
                    snprintf(stamp, sizeof(stamp), "%s %2u 23:59:59", months[mon - 1], days[d]);
                    check_time(stamp, mon, days[d], 23, 59, 59, received);
                }
            }
        }
    }
    for (int round = 0; round < 20000; round++) {
        int64_t received = (int64_t)(next_rand() % 8000000000ULL) - 2000000000LL;
        unsigned mon = 1 + (unsigned)(next_rand() % 12), day = 1 + (unsigned)(next_rand() % 31);
        unsigned h = (unsigned)(next_rand() % 24), mi = (unsigned)(next_rand() % 60),
                 s = (unsigned)(next_rand() % 61);
        snprintf(stamp, sizeof(stamp), "%s %02u %02u:%02u:%02u", months[mon - 1], day, h, mi, s);
        check_time(stamp, mon, day, h, mi, s, received * TRL_NS_PER_SEC);
        trl_arena_reset(norm_arena);
    }
}

/* The fixed layout and the general reader agree on every spelling around it. */
static void test_timestamp_layouts_read_the_same_values(void **state)
{
    (void)state;
    const int64_t received = 1720569600LL * TRL_NS_PER_SEC;
    check_time("Jul  9 22:40:03", 7, 9, 22, 40, 3, received);
    check_time("Jul 09 22:40:03", 7, 9, 22, 40, 3, received);
    check_time("Jul 9 22:40:03", 7, 9, 22, 40, 3, received);
    check_time("jul 19 02:04:00", 7, 19, 2, 4, 0, received);
    check_time("Dec 31 23:59:60", 12, 31, 23, 59, 60, received);

    static const struct {
        const char *line;
        const char *want; /* NULL: no timestamp (the receive time) */
    } cases[] = {
        {"<13>Jul  9 22:40:03.123 host prog: x", "2024-07-09T22:40:03.123000000Z"},
        {"<13>Jul  9 22:40:03 UTC host prog: x", "2024-07-09T22:40:03.000000000Z"},
        {"<13>Jul  9 2023 22:40:03 host prog: x", "2023-07-09T22:40:03.000000000Z"},
        {"<13>Jul  9 22:40:03: host prog: x", "2024-07-09T22:40:03.000000000Z"},
        {"<13>Jul  9 22:40:03", "2024-07-09T22:40:03.000000000Z"},
        {"<13>Jul 32 22:40:03 host prog: x", NULL},
        {"<13>Jul  0 22:40:03 host prog: x", NULL},
        {"<13>Jul  9 24:40:03 host prog: x", NULL},
        {"<13>Jul  9 22:60:03 host prog: x", NULL},
        {"<13>Jul  9 22:40:61 host prog: x", NULL},
        {"<13>Jul  9 22:4:03 host prog: x", NULL},
        {"<13>Jul  9 2a:40:03 host prog: x", NULL},
        {"<13>Jul x9 22:40:03 host prog: x", NULL},
        {"<13>Jul  9 22:40:03x host prog: x", NULL},
        {"<13>Jul  9 22:40:0", NULL},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        const char *line = cases[i].line;
        struct trl_event *ev = trl_event_create(norm_arena, line, strlen(line), received);
        trl_parse_rfc3164(ev, ev->original, ev->original_len);
        char buf[TRL_RFC3339_MAX];
        trl_format_rfc3339(ev->timestamp_ns, buf);
        if (cases[i].want)
            assert_string_equal(buf, cases[i].want);
        else
            assert_int_equal(ev->timestamp_ns, received);
    }
}

/* The host before a tag is read to the next space even when it holds bytes a tag cannot. */
static void test_host_runs_to_the_space_whatever_it_holds(void **state)
{
    (void)state;
    static const struct {
        const char *line, *host, *app;
    } cases[] = {
        {"<13>Jul  9 22:40:03 web01 sshd[1]: x", "web01", "sshd"},
        {"<13>Jul  9 22:40:03 10.0.0.1:514 sshd: x", "10.0.0.1:514", "sshd"},
        {"<13>Jul  9 22:40:03 h[1]x prog: x", "h[1]x", "prog"},
        {"<13>Jul  9 22:40:03 a(b prog: x", "a(b", "prog"},
        {"<13>Jul  9 22:40:03 sshd[1]: x", NULL, "sshd"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        const char *line = cases[i].line;
        struct trl_event *ev = trl_event_create(norm_arena, line, strlen(line), 0);
        assert_int_equal(trl_parse_rfc3164(ev, ev->original, ev->original_len), 0);
        assert_field(ev, TRL_F_HOST_NAME, cases[i].host);
        assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, cases[i].app);
    }
}

/* A word of every length up to 40 with the space, or none, at every place, in an exact-size
 * buffer (AddressSanitizer catches a read past the end). */
static void test_words_end_at_the_first_space_or_the_end(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 40; len++) {
        for (size_t sp = 0; sp <= len; sp++) {
            char *buf = malloc(len ? len : 1);
            assert_non_null(buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)('a' + i % 26);
            if (sp < len)
                buf[sp] = ' ';
            if (len > 2 && sp + 2 < len)
                buf[len - 1] = ' '; /* a later space does not count */
            assert_ptr_equal(trl_scan_find_space(buf, buf + len), buf + (sp < len ? sp : len));
            struct trl_scan s = trl_scan_init(buf, len);
            struct trl_str w;
            assert_int_equal(trl_scan_word(&s, &w), sp > 0);
            if (sp > 0)
                assert_int_equal(w.len, sp);
            free(buf);
        }
    }
    /* Bytes that are spaces but for one bit, and bytes with the high bit set. */
    const char odd[] = "\xa0\x21\x30\x00\x60\xe0\x20x";
    assert_ptr_equal(trl_scan_find_space(odd, odd + 8), odd + 6);
}

static void test_rfind_finds_the_last_occurrence(void **state)
{
    (void)state;
    const char *text = " from a from  b from";
    assert_ptr_equal(trl_scan_rfind(text, strlen(text), " from "), text + 7);
    assert_ptr_equal(trl_scan_rfind(text, 6, " from "), text);
    assert_null(trl_scan_rfind(text, 5, " from "));
    assert_ptr_equal(trl_scan_rfind(text, strlen(text), "from"), text + 16);
    const char *semi = "a ; b ; c";
    assert_ptr_equal(trl_scan_rfind(semi, 9, " ; "), semi + 5);
    assert_ptr_equal(trl_scan_rfind(semi, 7, " ; "), semi + 1);
    assert_null(trl_scan_rfind(semi, 4, " ; x"));
    const char *spaces = "a   b";
    assert_ptr_equal(trl_scan_rfind(spaces, 5, "  "), spaces + 2);
    assert_ptr_equal(trl_scan_rfind(spaces, 5, " "), spaces + 3);
    assert_null(trl_scan_rfind(spaces, 5, ""));
    assert_null(trl_scan_rfind(spaces, 5, "x"));
}

static void test_ports_are_read_as_trl_parse_u64_reads_them(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"22", "22"},    {"0", "0"},       {"65535", "65535"}, {"65536", NULL},
        {"99999", NULL}, {"022", "22"},    {"00000022", "22"}, {"000000000000000000065535", NULL},
        {"2x", NULL},    {"", NULL},       {"+22", NULL},      {"-1", NULL},
        {" 22", NULL},   {"123456", NULL},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_event *ev = trl_event_create(norm_arena, "", 0, 0);
        trl_norm_port(ev, TRL_F_SOURCE_PORT,
                      (struct trl_str){cases[i].text, strlen(cases[i].text)});
        assert_field(ev, TRL_F_SOURCE_PORT, cases[i].want);
    }
    /* A NUL is no digit. */
    struct trl_event *ev = trl_event_create(norm_arena, "", 0, 0);
    trl_norm_port(ev, TRL_F_SOURCE_PORT, (struct trl_str){"1\0", 2});
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
}

static void test_macs_are_upper_cased_with_hyphens(void **state)
{
    (void)state;
    static const struct {
        const char *mac, *src, *dst;
    } cases[] = {
        {"52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00", "52-54-00-AB-CD-EF", "52-54-00-12-34-56"},
        {"AA:BB:CC:DD:EE:FF:aa:bb:cc:dd:ee:ff:86:dd", "AA-BB-CC-DD-EE-FF", "AA-BB-CC-DD-EE-FF"},
        {"0a:1B:2c:3D:4e:5F:6a:7B:8c:9D:0e:1F:08:00", "6A-7B-8C-9D-0E-1F", "0A-1B-2C-3D-4E-5F"},
        {"f0:f1:f2:f3:f4:f5:f6:f7:f8:f9:fa:fb:08:00", "F6-F7-F8-F9-FA-FB", "F0-F1-F2-F3-F4-F5"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "[UFW BLOCK] IN=eth0 OUT= MAC=%s SRC=203.0.113.45 DST=10.0.0.5 LEN=60 "
                 "PROTO=TCP SPT=51120 DPT=22 SYN",
                 cases[i].mac);
        struct trl_event *ev = norm_event("kernel", msg);
        assert_int_equal(trl_norm_netfilter(ev, msg, strlen(msg)), 0);
        assert_field(ev, TRL_F_SOURCE_MAC, cases[i].src);
        assert_named(ev, "destination.mac", cases[i].dst);
    }
    /* Not hex, or colons out of place: no MAC at all. */
    const char *bad = "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:5g:52:54:00:ab:cd:ef:08:00 "
                      "SRC=203.0.113.45 DST=10.0.0.5 PROTO=TCP SPT=1 DPT=2";
    struct trl_event *ev = norm_event("kernel", bad);
    assert_int_equal(trl_norm_netfilter(ev, bad, strlen(bad)), 0);
    assert_field(ev, TRL_F_SOURCE_MAC, NULL);
}

/* Tokens of every length, the keys anywhere among them. */
static void test_packet_tokens_of_any_length_are_read(void **state)
{
    (void)state;
    char msg[512];
    for (size_t pad = 0; pad < 20; pad++) {
        char filler[32];
        memset(filler, 'Z', pad);
        filler[pad] = '\0';
        snprintf(msg, sizeof(msg),
                 "IN=eth%zu OUT= X%s SRC=198.51.100.%zu  DST=10.0.0.%zu \tY%s PROTO=UDP SPT=%zu "
                 "DPT=53%s",
                 pad, filler, pad + 1, pad + 2, filler, 1000 + pad, pad % 2 ? " ACK" : "");
        struct trl_event *ev = norm_event("kernel", msg);
        assert_int_equal(trl_norm_netfilter(ev, msg, strlen(msg)), 0);
        char want[32];
        snprintf(want, sizeof(want), "198.51.100.%zu", pad + 1);
        assert_field(ev, TRL_F_SOURCE_IP, want);
        snprintf(want, sizeof(want), "%zu", 1000 + pad);
        assert_field(ev, TRL_F_SOURCE_PORT, want);
        assert_field(ev, TRL_F_DESTINATION_PORT, "53");
        assert_field(ev, TRL_F_NETWORK_TRANSPORT, "udp");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pri_reads_every_form_and_flags_the_odd_ones),
        cmocka_unit_test_setup_teardown(test_year_is_the_nearest_to_receive_time_in_every_era,
                                        norm_setup, norm_teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_layouts_read_the_same_values, norm_setup,
                                        norm_teardown),
        cmocka_unit_test_setup_teardown(test_host_runs_to_the_space_whatever_it_holds, norm_setup,
                                        norm_teardown),
        cmocka_unit_test(test_words_end_at_the_first_space_or_the_end),
        cmocka_unit_test(test_rfind_finds_the_last_occurrence),
        cmocka_unit_test_setup_teardown(test_ports_are_read_as_trl_parse_u64_reads_them, norm_setup,
                                        norm_teardown),
        cmocka_unit_test_setup_teardown(test_macs_are_upper_cased_with_hyphens, norm_setup,
                                        norm_teardown),
        cmocka_unit_test_setup_teardown(test_packet_tokens_of_any_length_are_read, norm_setup,
                                        norm_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
