/* trl_is_ip() reads IPv4 text without inet_pton(3), from a copy of its first 16 bytes: it must
 * agree with inet_pton(3) on every text, stop at a NUL as a C string would, and never read past
 * the end of its slice (each case sits at the very end of a heap block, where AddressSanitizer
 * catches an overread). */
#include "trl_test.h"

#include <arpa/inet.h>
#include <stdlib.h>

/* What inet_pton(3) says about the text p[0..len), up to its first NUL. */
static bool pton_is_ip(const char *p, size_t len)
{
    char buf[128];
    unsigned char addr[16];
    if (len == 0 || len > INET6_ADDRSTRLEN)
        return false;
    const char *nul = memchr(p, '\0', len);
    size_t n = nul ? (size_t)(nul - p) : len;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* trl_is_ip() on a copy of p[0..len) that ends exactly where its heap block ends. */
static bool is_ip_at_block_end(const char *p, size_t len)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, p, len);
    bool r = trl_is_ip(copy, len);
    free(copy);
    return r;
}

static void check(const char *p, size_t len)
{
    bool want = pton_is_ip(p, len);
    if (is_ip_at_block_end(p, len) != want)
        fail_msg("trl_is_ip(\"%.*s\", %zu) should be %d", (int)len, p, len, want);
}

static void test_is_ip_agrees_with_inet_pton_on_edge_cases(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "0.0.0.0",
        "255.255.255.255",
        "1.2.3.4",
        "10.0.0.1",
        "192.168.100.200",
        "01.2.3.4",
        "1.02.3.4",
        "1.2.003.4",
        "1.2.3.256",
        "256.1.1.1",
        "1.2.3.4.",
        ".1.2.3.4",
        "1..2.3",
        "1.2.3",
        "1.2.3.4.5",
        "1234.1.1.1",
        "1.2.3.1000",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.4x",
        "255.255.255.2555",
        "255.255.255.255.",
        "999.999.999.999",
        "1.2.3.-4",
        "+1.2.3.4",
        "1.2.3.4/24",
        "::1",
        "::",
        "2001:db8::1",
        "::ffff:1.2.3.4",
        "fe80::1%eth0",
        "1:2",
        "a.b.c.d",
        "0",
        "1.2.3.",
        "1.2.3.4:22",
        "100.100.100.100",
        "10.10.10.10",
        "1.1.1.1",
        "9.9.9.99",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++)
        check(cases[i], strlen(cases[i]));
}

static void test_is_ip_ends_at_a_nul_like_a_c_string(void **state)
{
    (void)state;
    assert_true(trl_is_ip("1.2.3.4\0junk", 12));
    assert_true(trl_is_ip("255.255.255.255\0", 16));
    assert_true(trl_is_ip("255.255.255.255\0xxxxxxxxxx", 26));
    assert_false(trl_is_ip("255.255.255.255x", 16));
    assert_false(trl_is_ip("1.2.3\0.4", 8));
    assert_false(trl_is_ip("\0"
                           "1.2.3.4",
                           8));
    check("1.2.3.4\0", 8);
    check("12.34.56.78\0\0\0\0\0\0", 17);
}

/* Every text of up to 8 bytes over a few digits, a dot, a NUL and a letter, and random longer
 * ones. */
static void test_is_ip_agrees_with_inet_pton_on_generated_texts(void **state)
{
    (void)state;
    static const char alphabet[] = "019.x\0";
    const size_t k = sizeof(alphabet) - 1;
    char buf[48];
    for (size_t len = 1; len <= 8; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= k;
        for (size_t n = 0; n < total; n++) {
            size_t x = n;
            for (size_t i = 0; i < len; i++, x /= k)
                buf[i] = alphabet[x % k];
            check(buf, len);
        }
    }
    /* Longer texts: dotted numbers with random digits, dots and noise. */
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 200000; round++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = 7 + (size_t)(seed >> 60);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned c = (unsigned)(seed >> 59);
            buf[i] = c < 20 ? (char)('0' + c % 10) : c < 28 ? '.' : c < 30 ? '\0' : 'x';
        }
        check(buf, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_ip_agrees_with_inet_pton_on_edge_cases),
        cmocka_unit_test(test_is_ip_ends_at_a_nul_like_a_c_string),
        cmocka_unit_test(test_is_ip_agrees_with_inet_pton_on_generated_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
