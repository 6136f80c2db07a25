/* Indicator model: normalisation per type, type detection, refanging, derived ids. */
#include "trl_test.h"

#include "ioc/indicator.h"

static void expect_norm(enum trl_ioc_type t, const char *in, const char *want)
{
    char out[TRL_IOC_VALUE_MAX + 2];
    size_t n = 0;
    const char *why = NULL;
    int rc = trl_ioc_normalize(t, in, strlen(in), out, sizeof(out), &n, &why);
    if (rc != 0)
        fail_msg("%s '%s': refused (%s), want '%s'", trl_ioc_type_name(t), in, why, want);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void expect_refused(enum trl_ioc_type t, const char *in, const char *why_part)
{
    char out[TRL_IOC_VALUE_MAX + 2];
    size_t n;
    const char *why = NULL;
    if (trl_ioc_normalize(t, in, strlen(in), out, sizeof(out), &n, &why) == 0)
        fail_msg("%s '%s': accepted as '%s'", trl_ioc_type_name(t), in, out);
    if (!strstr(why, why_part))
        fail_msg("%s '%s': reason '%s' lacks '%s'", trl_ioc_type_name(t), in, why, why_part);
}

static void test_addresses_and_networks_are_canonical(void **state)
{
    (void)state;
    expect_norm(TRL_IOC_IPV4, " 203.0.113.45\n", "203.0.113.45");
    expect_norm(TRL_IOC_IPV6, "2001:DB8:0:0::1", "2001:db8::1");
    expect_norm(TRL_IOC_IPV6, "[2001:db8::1]", "2001:db8::1");
    expect_norm(TRL_IOC_CIDR, "198.51.100.77/24", "198.51.100.0/24");
    expect_norm(TRL_IOC_CIDR, "10.1.2.3/32", "10.1.2.3/32");
    expect_norm(TRL_IOC_CIDR, "2001:db8:1:2::5/33", "2001:db8::/33");
    expect_refused(TRL_IOC_IPV4, "203.0.113.256", "not an IPv4 address");
    expect_refused(TRL_IOC_IPV4, "2001:db8::1", "an IPv6 address where IPv4");
    expect_refused(TRL_IOC_IPV4, "", "empty value");
    expect_refused(TRL_IOC_CIDR, "10.0.0.0", "prefix length");
    expect_refused(TRL_IOC_CIDR, "10.0.0.0/33", "bad prefix length (0-32)");
    expect_refused(TRL_IOC_CIDR, "10.0.0.0/0", "every address");
    expect_refused(TRL_IOC_CIDR, "10.0.0.0/-1", "bad prefix length");
    expect_refused(TRL_IOC_CIDR, "x/8", "bad network address");
}

static void test_names_hashes_and_addresses_fold_case(void **state)
{
    (void)state;
    expect_norm(TRL_IOC_DOMAIN, "Update-CDN.Example.NET.", "update-cdn.example.net");
    expect_norm(TRL_IOC_DOMAIN, "*.evil.example", "evil.example");
    expect_norm(TRL_IOC_MD5, "7EB18CDB185800B899425BE06ECC6E00",
                "7eb18cdb185800b899425be06ecc6e00");
    expect_norm(TRL_IOC_EMAIL, "mailto:<Boss@Evil.Example>", "boss@evil.example");
    expect_norm(TRL_IOC_FILENAME, "Thumb.PHP", "thumb.php");
    expect_norm(TRL_IOC_USER_AGENT, "  Mozilla/5.0 (X)  ", "Mozilla/5.0 (X)");
    expect_refused(TRL_IOC_DOMAIN, "a..example", "empty label");
    expect_refused(TRL_IOC_DOMAIN, "exa mple.com", "not allowed");
    expect_refused(TRL_IOC_DOMAIN,
                   "b\xc3\xbc"
                   "cher.example",
                   "punycode");
    expect_refused(TRL_IOC_DOMAIN, "192.0.2.1", "an IP address");
    expect_refused(TRL_IOC_SHA256, "abc", "64 hex digits");
    expect_refused(TRL_IOC_SHA1, "zz94b20d67a1e7c132da60c611ccd6d9fc1d5e3d", "not a hex digit");
    expect_refused(TRL_IOC_EMAIL, "a@b@c.example", "exactly one '@'");
    expect_refused(TRL_IOC_EMAIL, "@evil.example", "exactly one '@'");
    expect_refused(TRL_IOC_FILENAME, "a\tb", "control character");
    char nul[] = "a\0b";
    char out[16];
    size_t n;
    const char *why;
    assert_int_equal(trl_ioc_normalize(TRL_IOC_FILENAME, nul, 3, out, sizeof(out), &n, &why),
                     TRL_EINVAL);
}

static void test_urls_lower_case_scheme_and_host_only(void **state)
{
    (void)state;
    expect_norm(TRL_IOC_URL, "HTTP://Evil.Example:8080/Path?Q=A#F",
                "http://evil.example:8080/Path?Q=A#F");
    expect_norm(TRL_IOC_URL, "https://Evil.Example", "https://evil.example/");
    expect_norm(TRL_IOC_URL, "http://198.51.100.77/f", "http://198.51.100.77/f");
    expect_refused(TRL_IOC_URL, "evil.example/x", "not an absolute URL");
    expect_refused(TRL_IOC_URL, "http:///x", "without a host");
    expect_refused(TRL_IOC_URL, "http://a b/", "white space");
    char big[5000];
    memcpy(big, "http://a.example/", 17);
    memset(big + 17, 'x', sizeof(big) - 18);
    big[sizeof(big) - 1] = '\0';
    expect_refused(TRL_IOC_URL, big, "longer than 4096");
}

static void test_detect_type_of_bare_values(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        enum trl_ioc_type t;
        unsigned flags;
    } cases[] = {
        {"203.0.113.45", TRL_IOC_IPV4, 0},
        {"2001:db8::1", TRL_IOC_IPV6, 0},
        {"[2001:db8::1]", TRL_IOC_IPV6, 0},
        {"203.0.113.0/24", TRL_IOC_CIDR, 0},
        {"7eb18cdb185800b899425be06ecc6e00", TRL_IOC_MD5, 0},
        {"ec94b20d67a1e7c132da60c611ccd6d9fc1d5e3d", TRL_IOC_SHA1, 0},
        {"aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139", TRL_IOC_SHA256, 0},
        {"http://x.example/a", TRL_IOC_URL, 0},
        {"a@x.example", TRL_IOC_EMAIL, 0},
        {"update-cdn.example.net", TRL_IOC_DOMAIN, 0},
        {"thumb.php", TRL_IOC_DOMAIN, 0},
        {"thumb.php", TRL_IOC_NONE, TRL_IOC_DETECT_FREETEXT},
        {"localhost", TRL_IOC_NONE, 0},
        {"1.2.3", TRL_IOC_NONE, 0},
        {"deadbeef", TRL_IOC_NONE, 0},
        {"e.g", TRL_IOC_NONE, 0},
        {"", TRL_IOC_NONE, 0},
        {"http://", TRL_IOC_NONE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum trl_ioc_type got = trl_ioc_detect_type(cases[i].v, strlen(cases[i].v), cases[i].flags);
        if (got != cases[i].t)
            fail_msg("'%s': want %s, got %s", cases[i].v, trl_ioc_type_name(cases[i].t),
                     trl_ioc_type_name(got));
    }
}

static void test_refang_undoes_defanging(void **state)
{
    (void)state;
    char out[128];
    const char *in = "hxxps://evil[.]example[:]443/a and bad[@]evil(.)example 10[.]0[.]0[.]1";
    size_t n = trl_ioc_refang(in, strlen(in), out, sizeof(out));
    assert_string_equal(out, "https://evil.example:443/a and bad@evil.example 10.0.0.1");
    assert_int_equal(n, strlen(out));
    char tiny[4];
    assert_int_equal(trl_ioc_refang("abcdef", 6, tiny, sizeof(tiny)), 3);
    assert_string_equal(tiny, "abc");
}

static void test_derived_ids_are_stable_and_distinct(void **state)
{
    (void)state;
    char a[TRL_IOC_DERIVED_ID_SIZE], b[TRL_IOC_DERIVED_ID_SIZE], c[TRL_IOC_DERIVED_ID_SIZE];
    trl_ioc_derive_id(TRL_IOC_IPV4, "feodo", "192.0.2.1", a);
    trl_ioc_derive_id(TRL_IOC_IPV4, "feodo", "192.0.2.1", b);
    trl_ioc_derive_id(TRL_IOC_IPV4, "spamhaus", "192.0.2.1", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 37);
    assert_true(strncmp(a, "ioc--", 5) == 0);
}

static void test_type_names_round_trip(void **state)
{
    (void)state;
    for (int t = TRL_IOC_IPV4; t < TRL_IOC_TYPE__COUNT; t++) {
        const char *n = trl_ioc_type_name((enum trl_ioc_type)t);
        assert_int_equal(trl_ioc_type_from_name(n, strlen(n)), t);
    }
    assert_int_equal(trl_ioc_type_from_name("ip", 2), TRL_IOC_NONE);
    assert_string_equal(trl_ioc_type_name((enum trl_ioc_type)99), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_and_networks_are_canonical),
        cmocka_unit_test(test_names_hashes_and_addresses_fold_case),
        cmocka_unit_test(test_urls_lower_case_scheme_and_host_only),
        cmocka_unit_test(test_detect_type_of_bare_values),
        cmocka_unit_test(test_refang_undoes_defanging),
        cmocka_unit_test(test_derived_ids_are_stable_and_distinct),
        cmocka_unit_test(test_type_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
