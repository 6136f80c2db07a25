/* STIX 2.1 pattern parser: the grammar, error columns, and what can be matched per event. */
#include "trl_test.h"

#include "ioc/stix_pattern.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int parse(const char *p, char *err, size_t errlen)
{
    struct trl_stix_pattern *pat = NULL;
    int rc = trl_stix_pattern_parse(p, strlen(p), &pat, err, errlen);
    trl_stix_pattern_free(pat);
    return rc;
}

/* Every line of a shared pattern file, with want = 0 (must parse) or TRL_EINVAL (must be refused
 * with a column). */
static void check_pattern_file(const char *name, int want)
{
    const char *shared = trl_test_shared_dir();
    if (!shared) {
        print_message("TRL_SHARED not set: skipping %s\n", name);
        skip();
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/data/ti/stix/%s", shared, name);
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) {
        print_message("%s not found: skipping\n", path);
        skip();
    }
    int lines = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char err[256] = "";
        int rc = parse(line, err, sizeof(err));
        if (rc != want)
            fail_msg("%s: '%s': want %s, got %s (%s)", name, line, want ? "error" : "ok",
                     rc ? "error" : "ok", err);
        if (want)
            assert_true(strncmp(err, "column ", 7) == 0);
        lines++;
    }
    assert_true(lines >= 10);
    free(buf);
}

static void test_stix_pattern_accepts_every_valid_sample(void **state)
{
    (void)state;
    check_pattern_file("patterns-valid.txt", 0);
}

static void test_stix_pattern_rejects_every_invalid_sample_naming_the_column(void **state)
{
    (void)state;
    check_pattern_file("patterns-invalid.txt", TRL_EINVAL);
}

static void expect_error(const char *pattern, const char *want)
{
    char err[256] = "";
    assert_int_equal(parse(pattern, err, sizeof(err)), TRL_EINVAL);
    if (!strstr(err, want))
        fail_msg("'%s': want error containing '%s', got '%s'", pattern, want, err);
}

static void test_stix_pattern_error_messages_name_the_column(void **state)
{
    (void)state;
    expect_error("ipv4-addr:value = '203.0.113.45'", "column 1: expected '[' or '('");
    expect_error("[ipv4-addr:value = 203.0.113.45]", "column 20: malformed number");
    expect_error("[ipv4-addr:value = \"203.0.113.45\"]",
                 "column 20: strings are quoted with single");
    expect_error("[ipv4-addr = '203.0.113.45']", "column 12: expected ':'");
    expect_error("[ipv4-addr:value = '203.0.113.45'", "column 34: expected ']'");
    expect_error("[ipv4-addr:value = '203.0.113.45'] WITHIN 10", "column 45: expected SECONDS");
    expect_error("[ipv4-addr:value = '203.0.113.45'] REPEATS TIMES",
                 "column 44: expected a positive integer after REPEATS");
    expect_error("[ipv4-addr:value = '203.0.113.45'] START '2024-07-09T00:00:00Z'",
                 "column 42: expected a timestamp");
    expect_error("[ipv4-addr:value === '203.0.113.45']", "column 20: expected a value");
    expect_error("[] ", "column 2: expected a comparison");
    expect_error("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY", "column 41: expected '[' or '('");
    expect_error("", "column 1: empty pattern");
    expect_error("[file:name = 'a\\x']", "bad escape");
    expect_error("[file:name = 'abc]", "column 14: unterminated string");
    expect_error("[a:b = t'2024-13-01T00:00:00Z']", "bad timestamp literal");
    expect_error("[a:b = 1] START t'2024-07-11T00:00:00Z' STOP t'2024-07-09T00:00:00Z'",
                 "STOP time must be later");
    expect_error("[a:b-c = 1]", "must be quoted");
    expect_error("[a:b = 1] and [a:b = 2]", "unexpected 'and'");
}

static void test_stix_pattern_refuses_deep_nesting(void **state)
{
    (void)state;
    char p[1024];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        p[n++] = '(';
    memcpy(p + n, "[a:b = 1]", 9);
    n += 9;
    for (int i = 0; i < 200; i++)
        p[n++] = ')';
    p[n] = '\0';
    expect_error(p, "nesting deeper than");
}

static void test_stix_pattern_tree_has_operators_values_and_qualifiers(void **state)
{
    (void)state;
    const char *p = "([file:hashes.'SHA-256' = 'AB' AND file:size < 4096] FOLLOWEDBY "
                    "[domain-name:value NOT IN ('a.example', 'b.example')]) WITHIN 300 SECONDS";
    struct trl_stix_pattern *pat;
    char err[128];
    assert_int_equal(trl_stix_pattern_parse(p, strlen(p), &pat, err, sizeof(err)), 0);
    const struct trl_stix_obs_expr *root = trl_stix_pattern_root(pat);
    assert_int_equal(root->kind, TRL_STIX_OBS_FOLLOWEDBY);
    assert_non_null(root->quals);
    assert_int_equal(root->quals->kind, TRL_STIX_Q_WITHIN);
    assert_true(root->quals->within_s == 300.0);
    const struct trl_stix_cmp_expr *and = root->left->cmp;
    assert_int_equal(and->kind, TRL_STIX_CMP_AND);
    assert_string_equal(and->left->cmp->object_type, "file");
    assert_string_equal(and->left->cmp->path, "hashes.SHA-256");
    assert_string_equal(and->left->cmp->values[0].text, "AB");
    assert_int_equal(and->right->cmp->op, TRL_STIX_LT);
    assert_int_equal(and->right->cmp->values[0].i, 4096);
    const struct trl_stix_comparison *in = root->right->cmp->cmp;
    assert_int_equal(in->op, TRL_STIX_IN);
    assert_true(in->negated);
    assert_int_equal(in->nvalues, 2);
    assert_string_equal(in->values[1].text, "b.example");
    trl_stix_pattern_free(pat);
}

/* Extracts a pattern; returns the atoms as "type=value" joined by ' ' and the problems. */
static int extract(const char *p, char *atoms, size_t acap, char *problems, size_t pcap)
{
    struct trl_stix_pattern *pat;
    char err[256];
    if (trl_stix_pattern_parse(p, strlen(p), &pat, err, sizeof(err)) != 0)
        fail_msg("'%s' does not parse: %s", p, err);
    struct trl_stix_extract x;
    int rc = trl_stix_pattern_extract(pat, &x);
    atoms[0] = problems[0] = '\0';
    for (size_t i = 0; i < x.natoms; i++) {
        size_t n = strlen(atoms);
        snprintf(atoms + n, acap - n, "%s%s=%s", i ? " " : "", trl_ioc_type_name(x.atoms[i].type),
                 x.atoms[i].value);
    }
    for (size_t i = 0; i < x.nproblems; i++) {
        size_t n = strlen(problems);
        snprintf(problems + n, pcap - n, "%s%s", i ? "; " : "", x.problems[i]);
    }
    trl_stix_pattern_free(pat);
    return rc;
}

#define EXPECT_ATOMS(pattern, want_atoms, want_problem)                                            \
    do {                                                                                           \
        char a_[1024], p_[2048];                                                                   \
        extract(pattern, a_, sizeof(a_), p_, sizeof(p_));                                          \
        assert_string_equal(a_, want_atoms);                                                       \
        if (!strstr(p_, want_problem))                                                             \
            fail_msg("'%s': want problem '%s', got '%s'", pattern, want_problem, p_);              \
    } while (0)

static void test_stix_extract_equalities_of_matched_observables(void **state)
{
    (void)state;
    EXPECT_ATOMS("[ipv4-addr:value = '203.0.113.45']", "ipv4=203.0.113.45", "");
    EXPECT_ATOMS("[ipv4-addr:value ISSUBSET '198.51.100.7/24']", "cidr=198.51.100.0/24", "");
    EXPECT_ATOMS("[ipv6-addr:value = '2001:DB8:0::1']", "ipv6=2001:db8::1", "");
    EXPECT_ATOMS("[domain-name:value = 'Update-CDN.example.net']", "domain=update-cdn.example.net",
                 "");
    EXPECT_ATOMS("[url:value = 'HTTP://198.51.100.77/F']", "url=http://198.51.100.77/F", "");
    EXPECT_ATOMS("[file:hashes.MD5 = '7EB18CDB185800B899425BE06ECC6E00']",
                 "md5=7eb18cdb185800b899425be06ecc6e00", "");
    EXPECT_ATOMS("[file:hashes.'SHA-1' = 'ec94b20d67a1e7c132da60c611ccd6d9fc1d5e3d' OR "
                 "file:hashes.MD5 = '7eb18cdb185800b899425be06ecc6e00']",
                 "sha1=ec94b20d67a1e7c132da60c611ccd6d9fc1d5e3d "
                 "md5=7eb18cdb185800b899425be06ecc6e00",
                 "");
    EXPECT_ATOMS("[domain-name:value IN ('a.example', 'b.example')]",
                 "domain=a.example domain=b.example", "");
    EXPECT_ATOMS("[network-traffic:dst_ref.type = 'ipv4-addr' AND "
                 "network-traffic:dst_ref.value = '198.51.100.77']",
                 "ipv4=198.51.100.77", "");
    EXPECT_ATOMS("[email-addr:value = 'Boss@Example.COM']", "email=boss@example.com", "");
    EXPECT_ATOMS("[file:name = 'Thumb.PHP']", "filename=thumb.php", "");
    EXPECT_ATOMS("[ipv4-addr:value = '203.0.113.45'] OR [domain-name:value = 'x.example']",
                 "ipv4=203.0.113.45 domain=x.example", "");
}

static void test_stix_extract_explains_what_is_not_matched(void **state)
{
    (void)state;
    EXPECT_ATOMS("[file:name LIKE '%.jsp']", "", "LIKE: unsupported for matching");
    EXPECT_ATOMS("[url:value MATCHES '^https?://']", "", "MATCHES: unsupported for matching");
    EXPECT_ATOMS("[x-custom-object:value != 'x']", "", "not an observable Trapline matches");
    EXPECT_ATOMS("[file:hashes.MD5 NOT IN ('00000000000000000000000000000000')]", "",
                 "negations are not supported");
    EXPECT_ATOMS("[user-account:user_id = 'sysmaint'] AND [process:name = 'crontab']", "",
                 "correlated pattern: not matched per event (observations joined by AND)");
    EXPECT_ATOMS("([ipv4-addr:value = '203.0.113.45'] FOLLOWEDBY [url:value = 'http://a/f']) "
                 "WITHIN 300 SECONDS",
                 "",
                 "correlated pattern: not matched per event (observations joined by FOLLOWEDBY)");
    EXPECT_ATOMS("[user-account:account_login = 'root'] REPEATS 5 TIMES WITHIN 60 SECONDS", "",
                 "correlated pattern");
    EXPECT_ATOMS("[file:name = 'thumb.php' AND file:size < 4096]", "", "comparisons joined by AND");
    EXPECT_ATOMS("[ipv4-addr:value = 'not-an-ip']", "", "not an IPv4 address");
    EXPECT_ATOMS("[ipv4-addr:value = '2001:db8::1']", "", "wrong address family for ipv4-addr");
    EXPECT_ATOMS("[file:hashes.MD5 = 'abc']", "", "an MD5 hash has 32 hex digits");
    EXPECT_ATOMS("[file:hashes.'SHA-512' = 'abc']", "", "hash algorithm not matched");
}

static void test_stix_extract_hash_stands_for_its_file(void **state)
{
    (void)state;
    EXPECT_ATOMS("[file:name = 'thumb.php' AND file:hashes.MD5 = "
                 "'7eb18cdb185800b899425be06ecc6e00']",
                 "md5=7eb18cdb185800b899425be06ecc6e00",
                 "file:name not checked: the hash identifies the file");
}

static void test_stix_extract_keeps_the_matchable_side_of_an_or(void **state)
{
    (void)state;
    char atoms[512], problems[1024];
    int rc = extract("[ipv4-addr:value = '192.0.2.1'] OR [process:name = 'sh']", atoms,
                     sizeof(atoms), problems, sizeof(problems));
    assert_int_equal(rc, 0);
    assert_string_equal(atoms, "ipv4=192.0.2.1");
    assert_non_null(strstr(problems, "process:name is not an observable"));
}

static void test_stix_extract_start_stop_becomes_the_validity_window(void **state)
{
    (void)state;
    const char *p = "[ipv4-addr:value = '203.0.113.45'] START t'2024-07-09T00:00:00Z' "
                    "STOP t'2024-07-11T00:00:00Z'";
    struct trl_stix_pattern *pat;
    char err[128];
    assert_int_equal(trl_stix_pattern_parse(p, strlen(p), &pat, err, sizeof(err)), 0);
    struct trl_stix_extract x;
    assert_int_equal(trl_stix_pattern_extract(pat, &x), 0);
    assert_int_equal(x.natoms, 1);
    assert_int_equal(x.atoms[0].start_ns, 1720483200LL * 1000000000LL);
    assert_int_equal(x.atoms[0].stop_ns, 1720656000LL * 1000000000LL);
    trl_stix_pattern_free(pat);
}

static void test_stix_pattern_survives_garbage(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "[",
        "]",
        "[a",
        "[a:",
        "[a:b",
        "[a:b =",
        "[a:b = '",
        "(((",
        "[a:b[",
        "[a:b[*",
        "[a:b[1]",
        "[a:b IN",
        "[a:b IN (",
        "[a:b IN ()",
        "t'",
        "\xff\xfe",
        "[a:b = b'!']",
        "[a:b = h'abc']",
        "[a:b = 1.]",
        "[a:b = -]",
        "[a:b = 99999999999999999999]",
        "[a:b = 1] START",
        "[a:b = 1] WITHIN -1 SECONDS",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char err[128] = "";
        assert_int_equal(parse(inputs[i], err, sizeof(err)), TRL_EINVAL);
        assert_true(strncmp(err, "column ", 7) == 0);
    }
    char nul[] = "[a:b = 'x\0y']";
    struct trl_stix_pattern *pat;
    char err[128];
    assert_int_equal(trl_stix_pattern_parse(nul, sizeof(nul) - 1, &pat, err, sizeof(err)),
                     TRL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stix_pattern_accepts_every_valid_sample),
        cmocka_unit_test(test_stix_pattern_rejects_every_invalid_sample_naming_the_column),
        cmocka_unit_test(test_stix_pattern_error_messages_name_the_column),
        cmocka_unit_test(test_stix_pattern_refuses_deep_nesting),
        cmocka_unit_test(test_stix_pattern_tree_has_operators_values_and_qualifiers),
        cmocka_unit_test(test_stix_extract_equalities_of_matched_observables),
        cmocka_unit_test(test_stix_extract_explains_what_is_not_matched),
        cmocka_unit_test(test_stix_extract_hash_stands_for_its_file),
        cmocka_unit_test(test_stix_extract_keeps_the_matchable_side_of_an_or),
        cmocka_unit_test(test_stix_extract_start_stop_becomes_the_validity_window),
        cmocka_unit_test(test_stix_pattern_survives_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
