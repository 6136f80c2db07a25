/* The shortcuts the parse and normalise hot path takes must give exactly what the plain ways do:
 * field lookup by name, dynamic fields set without copies, IPv4 recognition without inet_pton(3),
 * substring search, and RFC 3164 / RFC 5424 timestamps. */
#include "trl_test.h"

#include "formats/parse.h"

#include <arpa/inet.h>

#include "arena_fixture.h"

static void test_field_lookup_finds_every_known_field_and_nothing_else(void **state)
{
    (void)state;
    for (int f = 1; f < TRL_F__COUNT; f++) {
        const struct trl_field_info *fi = trl_field_info((enum trl_field)f);
        assert_int_equal(trl_field_lookup(fi->name, fi->name_len), f);
        /* A prefix or an extension of a known name is not that field. */
        assert_int_not_equal(trl_field_lookup(fi->name, fi->name_len - 1), f);
    }
    assert_int_equal(trl_field_lookup("", 0), TRL_F_NONE);
    assert_int_equal(trl_field_lookup("user.names", 10), TRL_F_NONE);
    assert_int_equal(trl_field_lookup("sshd.method", 11), TRL_F_NONE);
    assert_int_equal(trl_field_lookup("log.syslog.structured_data.origin@32473.ip", 42),
                     TRL_F_NONE);
    assert_int_equal(trl_field_lookup("user.name", 9), TRL_F_USER_NAME);
}

static void test_set_named_ex_stores_references_only_when_asked(void **state)
{
    (void)state;
    const char *line = "<86>Jul  9 22:40:03 web01 sshd[1]: Accepted password for bob";
    struct trl_event *ev = trl_event_create(arena, line, strlen(line), 0);
    const char *method = ev->original + 44;
    char name[] = "sshd.method";
    trl_event_set_named_ex(ev, "sshd.method", 11, method, 8, TRL_REF_NAME | TRL_REF_VALUE);
    size_t len = 0;
    assert_ptr_equal(trl_event_get_named(ev, "sshd.method", 11, &len), method);
    assert_int_equal(len, 8);

    /* Copied name and value survive their buffer being overwritten. */
    char value[] = "publickey";
    trl_event_set_named_ex(ev, name, 11, value, 9, 0);
    memset(name, 'x', sizeof(name) - 1);
    memset(value, 'x', sizeof(value) - 1);
    const char *v = trl_event_get_named(ev, "sshd.method", 11, &len);
    assert_int_equal(len, 9);
    assert_memory_equal(v, "publickey", 9);

    /* A known name still lands in its known field. */
    trl_event_set_named_ex(ev, "user.name", 9, "bob", 3, TRL_REF_NAME | TRL_REF_VALUE);
    assert_field(ev, TRL_F_USER_NAME, "bob");
}

static void test_dynamic_fields_are_found_after_a_field_is_removed(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "x", 1, 0);
    trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
    trl_event_set_named(ev, "labels.env", 10, "prod", 4);
    trl_event_set_named(ev, "labels.team", 11, "soc", 3);
    trl_event_remove(ev, TRL_F_HOST_NAME);
    size_t len = 0;
    const char *v = trl_event_get_named(ev, "labels.team", 11, &len);
    assert_non_null(v);
    assert_memory_equal(v, "soc", 3);
    /* Setting it again replaces the value instead of adding a second entry. */
    uint32_t n = ev->nfields;
    trl_event_set_named(ev, "labels.env", 10, "dev", 3);
    assert_int_equal(ev->nfields, n);
    v = trl_event_get_named(ev, "labels.env", 10, &len);
    assert_memory_equal(v, "dev", 3);
}

static bool inet_pton_is_ip(const char *p, size_t len)
{
    char buf[64];
    unsigned char addr[16];
    if (len == 0 || len >= 47)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

static void test_is_ip_agrees_with_inet_pton(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "1.2.3.4",
        "0.0.0.0",
        "255.255.255.255",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.04",
        "1.2.3",
        "1.2.3.4.",
        ".1.2.3.4",
        "1..2.3",
        "1.2.3.4.5",
        "1234.1.1.1",
        "1.2.3.4 ",
        " 1.2.3.4",
        "10.0.0.1x",
        "::1",
        "fe80::1%eth0",
        "2001:db8::1",
        "::ffff:1.2.3.4",
        "1:2",
        "2001:db8::g",
        "a.b.c.d",
        "",
        "0",
        "00.0.0.0",
        "199.99.9.255",
        "1.2.3.256",
        "9.9.9.9999",
        "1.2.3.-4",
        "+1.2.3.4",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++)
        assert_int_equal(trl_is_ip(cases[i], strlen(cases[i])),
                         inet_pton_is_ip(cases[i], strlen(cases[i])));
    /* inet_pton(3) reads a C string: an address ends at a NUL. */
    assert_true(trl_is_ip("1.2.3.4\0junk", 12));
    assert_false(trl_is_ip("1.2.3\0.4", 8));
    assert_true(trl_is_ip("::1\0zz", 6));
}

static void test_memmem_finds_first_match_and_survives_near_misses(void **state)
{
    (void)state;
    const char *hay = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab port 22 port 23";
    assert_ptr_equal(trl_memstr(hay, strlen(hay), "aab"), hay + 38);
    assert_ptr_equal(trl_memstr(hay, strlen(hay), " port "), hay + 41);
    assert_null(trl_memstr(hay, strlen(hay), "aaac"));
    assert_ptr_equal(trl_memstr(hay, 5, ""), hay);
    assert_null(trl_memstr(hay, 2, "aaa"));
    assert_true(trl_mem_contains(hay, strlen(hay), "port 23", 7, 4));
    assert_false(trl_mem_contains(hay, strlen(hay) - 1, "port 23", 7, 4));
    assert_true(trl_mem_contains("pam_unix(sshd:auth)", 19, "pam_", 4, 3));
    assert_false(trl_mem_contains("pa_m pam", 8, "pam_", 4, 3));
}

static void test_rfc3339_parse_reads_fraction_offset_and_rejects_bad_digits(void **state)
{
    (void)state;
    int64_t ns = 0;
    const char *t = "2024-07-09T22:31:02.1234567891+02:00 rest";
    assert_int_equal(trl_parse_rfc3339(t, strlen(t), &ns), 36);
    assert_int_equal(ns, (1720564262LL - 7200) * TRL_NS_PER_SEC + 123456789);
    assert_int_equal(trl_parse_rfc3339("2024-07-09 22:31:02Z", 20, &ns), 20);
    assert_int_equal(trl_parse_rfc3339("2024-07-09T22:31:0x", 19, &ns), 0);
    assert_int_equal(trl_parse_rfc3339("2024-13-09T22:31:02", 19, &ns), 0);
    assert_int_equal(trl_parse_rfc3339("2024-07-09T22:31:02.", 20, &ns), 0);
    assert_int_equal(trl_parse_rfc3339("2024-07-09T22:31:02+2", 21, &ns), 0);
    assert_int_equal(trl_parse_rfc3339("2024-07-09T22:31", 16, &ns), 0);
}

/* A fraction of one to nine digits is scaled to nanoseconds; digits past the ninth are read and
 * dropped; a comma may stand for the point. */
static void test_rfc3339_fraction_of_any_length_scales_to_nanoseconds(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t frac;
    } cases[] = {
        {"2024-07-09T22:31:02.5Z", 500000000},
        {"2024-07-09T22:31:02.05Z", 50000000},
        {"2024-07-09T22:31:02.123Z", 123000000},
        {"2024-07-09T22:31:02,123456Z", 123456000},
        {"2024-07-09T22:31:02.000000001Z", 1},
        {"2024-07-09T22:31:02.999999999Z", 999999999},
        {"2024-07-09T22:31:02.1234567899999Z", 123456789},
        {"2024-07-09T22:31:02.000Z", 0},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        int64_t ns = 0;
        size_t len = strlen(cases[i].text);
        assert_int_equal(trl_parse_rfc3339(cases[i].text, len, &ns), len);
        assert_int_equal(ns, 1720564262LL * TRL_NS_PER_SEC + cases[i].frac);
    }
    /* Cut inside the fraction: what is there counts. */
    int64_t ns = 0;
    assert_int_equal(trl_parse_rfc3339("2024-07-09T22:31:02.12", 22, &ns), 22);
    assert_int_equal(ns, 1720564262LL * TRL_NS_PER_SEC + 120000000);
    assert_int_equal(trl_parse_rfc3339("2024-07-09T22:31:02.x", 21, &ns), 0);
}

/* A BSD timestamp takes the year nearest the receive time, also across New Year. */
static void test_rfc3164_year_is_the_one_nearest_receive_time(void **state)
{
    (void)state;
    static const struct {
        int64_t received_s;
        const char *line, *want;
    } cases[] = {
        {1704067200, "<13>Dec 31 23:59:59 h p: x", "2023-12-31T23:59:59.000000000Z"},
        {1704067200, "<13>Jan  1 00:00:01 h p: x", "2024-01-01T00:00:01.000000000Z"},
        {1719792000, "<13>Jan  1 00:00:01 h p: x", "2024-01-01T00:00:01.000000000Z"},
        {1719792000, "<13>Dec 31 00:00:01 h p: x", "2023-12-31T00:00:01.000000000Z"},
        {1735603200, "<13>Jan  2 00:00:01 h p: x", "2025-01-02T00:00:01.000000000Z"},
        {1709251200, "<13>Feb 29 12:00:00 h p: x", "2024-02-29T12:00:00.000000000Z"},
        {1719792000, "<13>aug  9 12:00:00 h p: x", "2024-08-09T12:00:00.000000000Z"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_event *ev = trl_event_create(arena, cases[i].line, strlen(cases[i].line),
                                                cases[i].received_s * TRL_NS_PER_SEC);
        trl_parse_event(ev, TRL_FORMAT_AUTO);
        char buf[TRL_RFC3339_MAX];
        trl_format_rfc3339(ev->timestamp_ns, buf);
        assert_string_equal(buf, cases[i].want);
    }
}

/* Two events built the same way, one through trl_event_set_named_ex() and the other through
 * trl_event_set_dynamic_ex(), hold the same fields: repeated names, every kind of reference, known
 * fields in between and more fields than the list first has room for. */
static void test_set_dynamic_ex_is_set_named_ex_for_vendor_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "sshd.method", "sshd.key_type",       "iptables.tcp.flags", "pam.module", "sudo.tty",
        "x",           "sshd.key_fingerprint"};
    const char *line = "<86>Jul  9 22:40:03 web01 sshd[1]: Accepted publickey for bob";
    struct trl_event *a = trl_event_create(arena, line, strlen(line), 0);
    struct trl_event *b = trl_event_create(arena, line, strlen(line), 0);
    uint32_t r = 12345;
    for (int i = 0; i < 200; i++) {
        r = r * 1103515245u + 12345u;
        const char *name = names[(r >> 8) % TRL_ARRAY_LEN(names)];
        unsigned refs = (r >> 16) & 3;
        size_t off = (r >> 4) % 40, len = (r >> 20) % 20;
        char copy[32];
        memcpy(copy, line + off, len);
        /* A referenced value must outlive the arena: a slice of event.original then. */
        const char *va = refs & TRL_REF_VALUE ? a->original + off : copy;
        const char *vb = refs & TRL_REF_VALUE ? b->original + off : copy;
        trl_event_set_named_ex(a, name, strlen(name), va, len, refs);
        trl_event_set_dynamic_ex(b, name, strlen(name), vb, len, refs);
        memset(copy, 'z', sizeof(copy));
        if (i % 7 == 0) {
            trl_event_set_ref(a, (enum trl_field)(1 + i % 40), "v", 1);
            trl_event_set_ref(b, (enum trl_field)(1 + i % 40), "v", 1);
        }
    }
    assert_int_equal(a->nfields, b->nfields);
    for (uint32_t i = 0; i < a->nfields; i++) {
        const struct trl_kv *x = &a->fields[i], *y = &b->fields[i];
        size_t xl, yl;
        const char *xn = trl_kv_name(x, &xl), *yn = trl_kv_name(y, &yl);
        assert_int_equal(x->field, y->field);
        assert_int_equal(xl, yl);
        assert_memory_equal(xn, yn, xl);
        assert_int_equal(x->val_len, y->val_len);
        if (x->val_len)
            assert_memory_equal(x->val, y->val, x->val_len);
    }
    for (size_t n = 0; n < TRL_ARRAY_LEN(names); n++) {
        size_t la = 0, lb = 0;
        const char *va = trl_event_get_named(a, names[n], strlen(names[n]), &la);
        const char *vb = trl_event_get_named(b, names[n], strlen(names[n]), &lb);
        assert_int_equal(va == NULL, vb == NULL);
        assert_int_equal(la, lb);
        if (va && la)
            assert_memory_equal(va, vb, la);
    }
}

/* The inline setters append while the list has room and grow it when it is full, keep the first
 * value of an array field findable, and replace a scalar's value in place. */
/* Dynamic names that share a prefix and a suffix, differ in one byte only, or are shorter than a
 * word: each is set once, found again, replaced in place, and no other name is found for it. */
static void test_dynamic_names_that_nearly_match_stay_apart(void **state)
{
    (void)state;
    static const char *const names[] = {
        "auditd.data.pid",
        "auditd.data.uid",
        "auditd.data.gid",
        "auditd.data.ppid",
        "auditd.data.auid",
        "auditd.data.euid",
        "auditd.data.a0",
        "auditd.data.a1",
        "auditd.paths.0.nametype",
        "auditd.paths.1.nametype",
        "auditd.paths.0.name",
        "auditd.paths.1.name",
        "winlog.event_data.TargetUserName",
        "winlog.event_data.SubjectUserName",
        "winlog.event_data.TargetUserSid",
        "winlog.event_data.SubjectUserSid",
        "a",
        "b",
        "ab",
        "abcdefg",
        "abcdefh",
        "abcdefgh",
        "abcdefgi",
        "x.y",
        "",
    };
    const size_t n = sizeof(names) / sizeof(names[0]);
    struct trl_event *ev = trl_event_create(arena, "x", 1, 0);
    trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
    char v[16];
    for (size_t i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "v%zu", i);
        trl_event_set_dynamic_ex(ev, names[i], strlen(names[i]), v, strlen(v), 0);
    }
    assert_int_equal(ev->nfields, n + 1);
    size_t len;
    for (size_t i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "v%zu", i);
        const char *got = trl_event_get_named(ev, names[i], strlen(names[i]), &len);
        assert_non_null(got);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(got, v, len);
    }
    /* Setting a name again replaces its value and adds no field. */
    trl_event_set_named(ev, "auditd.data.uid", 15, "changed", 7);
    trl_event_set_dynamic_ex(ev, "abcdefgi", 8, "again", 5, TRL_REF_NAME | TRL_REF_VALUE);
    assert_int_equal(ev->nfields, n + 1);
    assert_memory_equal(trl_event_get_named(ev, "auditd.data.uid", 15, &len), "changed", 7);
    assert_memory_equal(trl_event_get_named(ev, "abcdefgi", 8, &len), "again", 5);
    assert_memory_equal(trl_event_get_named(ev, "auditd.data.pid", 15, &len), "v0", 2);
    /* Names of the same length and ending, or a prefix of a set name, are not found. */
    assert_null(trl_event_get_named(ev, "auditd.data.sid", 15, &len));
    assert_null(trl_event_get_named(ev, "auditd.paths.2.nametype", 23, &len));
    assert_null(trl_event_get_named(ev, "winlog.event_data.TargetUserNam", 31, &len));
    assert_null(trl_event_get_named(ev, "abcdefgj", 8, &len));
    assert_null(trl_event_get_named(ev, "c", 1, &len));
    assert_null(trl_event_get_named(ev, "auditd.data.pie", 15, &len));
}

/* Hundreds of dynamic fields (far more than the filter has bits): every one is found, each by
 * its own name, and setting them again keeps one field per name. */
static void test_many_dynamic_fields_are_each_found_by_name(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "x", 1, 0);
    char name[64], v[16];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            int nlen = snprintf(name, sizeof(name), "%s.%d", i % 2 ? "auditd.data.k" : "w", i);
            int vlen = snprintf(v, sizeof(v), "%d-%d", round, i);
            trl_event_set_named(ev, name, (size_t)nlen, v, (size_t)vlen);
        }
    }
    assert_int_equal(ev->nfields, 300);
    for (int i = 0; i < 300; i++) {
        int nlen = snprintf(name, sizeof(name), "%s.%d", i % 2 ? "auditd.data.k" : "w", i);
        int vlen = snprintf(v, sizeof(v), "1-%d", i);
        size_t len;
        const char *got = trl_event_get_named(ev, name, (size_t)nlen, &len);
        assert_non_null(got);
        assert_int_equal(len, (size_t)vlen);
        assert_memory_equal(got, v, len);
    }
}

static void test_inline_setters_grow_the_list_and_replace_in_place(void **state)
{
    (void)state;
    struct trl_event *ev = trl_event_create(arena, "x", 1, 0);
    assert_int_equal(ev->cap, 0);
    static const char digits[] = "0123456789";
    for (int f = 1; f < TRL_F__COUNT; f++) {
        if (trl_field_info((enum trl_field)f)->type == TRL_FT_ARRAY) {
            trl_event_add_ref(ev, (enum trl_field)f, digits + f % 10, 1);
            trl_event_add_unique_ref(ev, (enum trl_field)f, digits + f % 10, 1);
            trl_event_add_unique_ref(ev, (enum trl_field)f, digits + (f + 1) % 10, 1);
        } else {
            trl_event_set_ref(ev, (enum trl_field)f, digits, 10);
            trl_event_set_ref(ev, (enum trl_field)f, digits + f % 10, 1);
        }
    }
    uint32_t arrays = 0;
    for (int f = 1; f < TRL_F__COUNT; f++) {
        size_t len = 0;
        const char *v = trl_event_get(ev, (enum trl_field)f, &len);
        assert_non_null(v);
        assert_int_equal(len, 1);
        assert_int_equal(*v, digits[f % 10]);
        arrays += trl_field_info((enum trl_field)f)->type == TRL_FT_ARRAY;
    }
    /* One entry per scalar, two per array field (the duplicate was skipped). */
    assert_int_equal(ev->nfields, (uint32_t)(TRL_F__COUNT - 1) + arrays);
    assert_true(ev->cap >= ev->nfields);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_lookup_finds_every_known_field_and_nothing_else),
        cmocka_unit_test(test_set_named_ex_stores_references_only_when_asked),
        cmocka_unit_test(test_dynamic_fields_are_found_after_a_field_is_removed),
        cmocka_unit_test(test_is_ip_agrees_with_inet_pton),
        cmocka_unit_test(test_memmem_finds_first_match_and_survives_near_misses),
        cmocka_unit_test(test_rfc3339_parse_reads_fraction_offset_and_rejects_bad_digits),
        cmocka_unit_test(test_rfc3339_fraction_of_any_length_scales_to_nanoseconds),
        cmocka_unit_test(test_rfc3164_year_is_the_one_nearest_receive_time),
        cmocka_unit_test(test_set_dynamic_ex_is_set_named_ex_for_vendor_names),
        cmocka_unit_test(test_inline_setters_grow_the_list_and_replace_in_place),
        cmocka_unit_test(test_dynamic_names_that_nearly_match_stay_apart),
        cmocka_unit_test(test_many_dynamic_fields_are_each_found_by_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
