/* TAXII 2.1 client: feed lines, objects envelopes (good and malformed), and the paging decision. */
#include "trl_test.h"

#include "ioc/feed_internal.h"
#include "ioc/taxii_client.h"

static char *read_shared(const char *rel, size_t *len)
{
    const char *shared = getenv("TRL_SHARED");
    if (!shared)
        return NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", shared, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* ---- Feed lines ---- */

static void test_spec_parses_a_full_line(void **state)
{
    (void)state;
    struct trl_taxii_spec s;
    char err[256] = "";
    int rc = trl_taxii_spec_parse(
        "taxii name=partner url=https://taxii.example.org/taxii2/ collection=apt40-synth "
        "token_file=/etc/trapline/partner.token interval=15m timeout=20s max_size=8MiB "
        "limit=500 confidence=70 hunt=7d ca=/etc/ssl/partner.pem",
        &s, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_string_equal(s.name, "partner");
    assert_string_equal(s.url, "https://taxii.example.org/taxii2/");
    assert_string_equal(s.collection, "apt40-synth");
    assert_string_equal(s.token_file, "/etc/trapline/partner.token");
    assert_string_equal(s.ca, "/etc/ssl/partner.pem");
    assert_int_equal(s.interval_ms, 15 * 60 * 1000);
    assert_int_equal(s.timeout_ms, 20000);
    assert_int_equal(s.max_bytes, 8 << 20);
    assert_int_equal(s.limit, 500);
    assert_int_equal(s.confidence, 70);
    assert_int_equal(s.hunt_ms, 7 * 86400 * INT64_C(1000));
    assert_true(s.verify_tls);
    trl_taxii_spec_free(&s);
}

static void test_spec_defaults(void **state)
{
    (void)state;
    struct trl_taxii_spec s;
    char err[256];
    assert_int_equal(trl_taxii_spec_parse("taxii name=a url=http://127.0.0.1:9/taxii2/ "
                                          "collection=c username=u password=p",
                                          &s, err, sizeof(err)),
                     0);
    assert_int_equal(s.interval_ms, 3600 * 1000);
    assert_int_equal(s.limit, 1000);
    assert_int_equal(s.confidence, -1);
    assert_string_equal(s.username, "u");
    assert_string_equal(s.password, "p");
    trl_taxii_spec_free(&s);
}

static void test_spec_rejects_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line, *why;
    } cases[] = {
        {"", "a feed starts with its type"},
        {"misp name=a url=https://x/ collection=c", "a feed starts with its type"},
        {"taxii name=a url=ftp://x/ collection=c", "url: expected an http"},
        {"taxii name=a url=https://x/", "needs name=, url= and collection="},
        {"taxii name=a url=https://u:p@x/taxii2/ collection=c", "not in the URL"},
        {"taxii name=../etc url=https://x/ collection=c", "name: use letters"},
        {"taxii name=a url=https://x/ collection=c interval=0s", "interval:"},
        {"taxii name=a url=https://x/ collection=c interval=5", "interval:"},
        {"taxii name=a url=https://x/ collection=c limit=-1", "limit:"},
        {"taxii name=a url=https://x/ collection=c confidence=101", "confidence:"},
        {"taxii name=a url=https://x/ collection=c max_size=1KiB", "max_size:"},
        {"taxii name=a url=https://x/ collection=c token=t username=u", "either a token"},
        {"taxii name=a url=https://x/ collection=c password=p", "password without username"},
        {"taxii name=a url=https://x/ collection=c colour=red", "unknown key 'colour'"},
        {"taxii name=a url=https://x/ collection=c token", "expected key=value"},
        {"taxii name=a url=https://x/ collection=c verify_tls=maybe", "verify_tls:"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_taxii_spec s;
        char err[256] = "";
        assert_int_equal(trl_taxii_spec_parse(cases[i].line, &s, err, sizeof(err)), TRL_EINVAL);
        if (!strstr(err, cases[i].why))
            fail_msg("'%s': want '%s' in '%s'", cases[i].line, cases[i].why, err);
        assert_null(s.name);
    }
}

/* ---- Envelopes ---- */

static void test_envelope_first_page_of_sample(void **state)
{
    (void)state;
    size_t len;
    char *buf = read_shared("data/ti/taxii/04-objects-page1.json", &len);
    if (!buf)
        skip();
    struct trl_taxii_envelope env;
    char err[256];
    assert_int_equal(trl_taxii_envelope_parse(buf, len, &env, err, sizeof(err)), 0);
    assert_true(env.more);
    assert_string_equal(env.next, "c2VxPTU");
    assert_int_equal(json_array_size(env.objects), 5);
    trl_taxii_envelope_clear(&env);
    free(buf);
}

static void test_envelope_last_page_and_empty(void **state)
{
    (void)state;
    struct trl_taxii_envelope env;
    char err[256];
    const char *last = "{\"more\":false,\"objects\":[{\"type\":\"identity\"}]}";
    assert_int_equal(trl_taxii_envelope_parse(last, strlen(last), &env, err, sizeof(err)), 0);
    assert_false(env.more);
    assert_null(env.next);
    assert_int_equal(json_array_size(env.objects), 1);
    trl_taxii_envelope_clear(&env);
    /* An empty collection answers with an empty envelope. */
    assert_int_equal(trl_taxii_envelope_parse("{}", 2, &env, err, sizeof(err)), 0);
    assert_false(env.more);
    assert_int_equal(json_array_size(env.objects), 0);
    trl_taxii_envelope_clear(&env);
}

static void test_envelope_rejects_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *in, *why;
    } cases[] = {
        {"", "not JSON"},
        {"{\"objects\":[", "not JSON"},
        {"[]", "an envelope is a JSON object"},
        {"\"objects\"", "not JSON"},
        {"{\"objects\":{}}", "\"objects\" is not a list"},
        {"{\"objects\":[],\"more\":\"true\"}", "\"more\" is not true or false"},
        {"{\"objects\":[],\"more\":1}", "\"more\" is not true or false"},
        {"{\"more\":true,\"next\":5}", "\"next\" is not a string"},
        {"{\"more\":true,\"next\":\"\"}", "\"next\" is empty"},
        {"{\"more\":true,\"next\":\"a b\"}", "printable ASCII"},
        {"{\"more\":true,\"next\":\"a\\nb\"}", "printable ASCII"},
        {"{\"more\":true,\"next\":\"a\",\"next\":\"b\"}", "not JSON"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        struct trl_taxii_envelope env;
        char err[256] = "";
        assert_int_equal(
            trl_taxii_envelope_parse(cases[i].in, strlen(cases[i].in), &env, err, sizeof(err)),
            TRL_EINVAL);
        if (!strstr(err, cases[i].why))
            fail_msg("'%s': want '%s' in '%s'", cases[i].in, cases[i].why, err);
        assert_null(env.objects);
        assert_null(env.next);
    }
    /* A token longer than the limit. */
    char big[TRL_TAXII_TOKEN_MAX + 64];
    int n = snprintf(big, sizeof(big), "{\"more\":true,\"next\":\"");
    memset(big + n, 'A', TRL_TAXII_TOKEN_MAX + 1);
    strcpy(big + n + TRL_TAXII_TOKEN_MAX + 1, "\"}");
    struct trl_taxii_envelope env;
    char err[256];
    assert_int_equal(trl_taxii_envelope_parse(big, strlen(big), &env, err, sizeof(err)),
                     TRL_EINVAL);
}

/* ---- Paging ---- */

static void parse_env(const char *json, struct trl_taxii_envelope *env)
{
    char err[256];
    assert_int_equal(trl_taxii_envelope_parse(json, strlen(json), env, err, sizeof(err)), 0);
}

static void test_pager_follows_next_and_keeps_newest_date(void **state)
{
    (void)state;
    struct trl_taxii_pager p;
    struct trl_taxii_envelope env;
    char err[256];
    trl_taxii_pager_init(&p, "2024-07-09T00:00:00.000Z");
    parse_env("{\"more\":true,\"next\":\"c2VxPTU\",\"objects\":[]}", &env);
    assert_int_equal(
        trl_taxii_pager_advance(&p, &env, "2024-07-10T01:05:00.000000Z", err, sizeof(err)), 1);
    trl_taxii_envelope_clear(&env);
    assert_string_equal(p.next, "c2VxPTU");
    assert_string_equal(p.added_after, "2024-07-09T00:00:00.000Z"); /* same query, plus next */
    parse_env("{\"more\":false,\"objects\":[]}", &env);
    assert_int_equal(
        trl_taxii_pager_advance(&p, &env, "2024-07-10T01:05:00.123456Z", err, sizeof(err)), 0);
    trl_taxii_envelope_clear(&env);
    /* The cursor is kept as the server wrote it: microseconds are not rounded away. */
    assert_string_equal(p.newest, "2024-07-10T01:05:00.123456Z");
    assert_int_equal(p.pages, 2);
    trl_taxii_pager_clear(&p);
}

static void test_pager_ignores_an_older_or_bad_date_header(void **state)
{
    (void)state;
    struct trl_taxii_pager p;
    struct trl_taxii_envelope env;
    char err[256];
    trl_taxii_pager_init(&p, NULL);
    parse_env("{\"more\":true,\"next\":\"1\"}", &env);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, "2024-07-10T02:00:00Z", err, sizeof(err)),
                     1);
    trl_taxii_envelope_clear(&env);
    parse_env("{\"more\":true,\"next\":\"2\"}", &env);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, "2024-07-10T01:00:00Z", err, sizeof(err)),
                     1);
    trl_taxii_envelope_clear(&env);
    parse_env("{\"more\":false}", &env);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, "yesterday", err, sizeof(err)), 0);
    trl_taxii_envelope_clear(&env);
    assert_string_equal(p.newest, "2024-07-10T02:00:00Z");
    trl_taxii_pager_clear(&p);
}

static void test_pager_pages_by_date_without_next(void **state)
{
    (void)state;
    struct trl_taxii_pager p;
    struct trl_taxii_envelope env;
    char err[256];
    trl_taxii_pager_init(&p, "2024-07-09T00:00:00Z");
    parse_env("{\"more\":true,\"objects\":[]}", &env);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, "2024-07-10T01:05:00Z", err, sizeof(err)),
                     1);
    assert_string_equal(p.added_after, "2024-07-10T01:05:00Z");
    assert_null(p.next);
    /* The same answer again: the date did not move, so paging cannot go on. */
    assert_int_equal(trl_taxii_pager_advance(&p, &env, "2024-07-10T01:05:00Z", err, sizeof(err)),
                     TRL_EINVAL);
    assert_non_null(strstr(err, "without \"next\""));
    trl_taxii_envelope_clear(&env);
    trl_taxii_pager_clear(&p);
}

static void test_pager_refuses_endless_paging(void **state)
{
    (void)state;
    struct trl_taxii_pager p;
    struct trl_taxii_envelope env;
    char err[256];
    /* more without next nor a date. */
    trl_taxii_pager_init(&p, NULL);
    parse_env("{\"more\":true}", &env);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, NULL, err, sizeof(err)), TRL_EINVAL);
    trl_taxii_envelope_clear(&env);
    trl_taxii_pager_clear(&p);
    /* The same next twice. */
    trl_taxii_pager_init(&p, NULL);
    parse_env("{\"more\":true,\"next\":\"x\"}", &env);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, NULL, err, sizeof(err)), 1);
    assert_int_equal(trl_taxii_pager_advance(&p, &env, NULL, err, sizeof(err)), TRL_EINVAL);
    assert_non_null(strstr(err, "same \"next\" twice"));
    trl_taxii_envelope_clear(&env);
    trl_taxii_pager_clear(&p);
    /* A new next every time, for ever. */
    trl_taxii_pager_init(&p, NULL);
    p.max_pages = 50;
    int rc = 1;
    for (int i = 0; i < 100 && rc == 1; i++) {
        char json[64];
        snprintf(json, sizeof(json), "{\"more\":true,\"next\":\"n%d\"}", i);
        parse_env(json, &env);
        rc = trl_taxii_pager_advance(&p, &env, NULL, err, sizeof(err));
        trl_taxii_envelope_clear(&env);
    }
    assert_int_equal(rc, TRL_EINVAL);
    assert_int_equal(p.pages, 50);
    assert_non_null(strstr(err, "more after 50 pages"));
    trl_taxii_pager_clear(&p);
}

/* ---- Pages joined for the STIX parser ---- */

struct collected {
    char tags[8][512];
    char values[8][128];
    size_t n;
};

static int collect(void *ud, const struct trl_ioc *ioc)
{
    struct collected *c = ud;
    if (c->n < 8) {
        snprintf(c->values[c->n], sizeof(c->values[0]), "%s", ioc->value);
        size_t used = 0;
        for (size_t i = 0; i < ioc->ntags && used < sizeof(c->tags[0]); i++)
            used += (size_t)snprintf(c->tags[c->n] + used, sizeof(c->tags[0]) - used, "%s;",
                                     ioc->tags[i]);
        c->n++;
    }
    return 0;
}

static void test_pages_joined_resolve_relationships_across_pages(void **state)
{
    (void)state;
    size_t l1, l2;
    char *p1 = read_shared("data/ti/taxii/04-objects-page1.json", &l1);
    char *p2 = read_shared("data/ti/taxii/05-objects-page2.json", &l2);
    if (!p1 || !p2) {
        free(p1);
        free(p2);
        skip();
    }
    struct trl_taxii_envelope e1, e2;
    char err[256];
    assert_int_equal(trl_taxii_envelope_parse(p1, l1, &e1, err, sizeof(err)), 0);
    assert_int_equal(trl_taxii_envelope_parse(p2, l2, &e2, err, sizeof(err)), 0);
    json_t *all = json_array();
    json_array_extend(all, e1.objects);
    json_array_extend(all, e2.objects);
    struct collected c;
    memset(&c, 0, sizeof(c));
    struct trl_ioc_sink sink = {.indicator = collect, .ud = &c};
    struct trl_ioc_parse_opts po = {.source = "partner", .confidence = -1};
    assert_int_equal(trl_ioc_parse_stix_objects(all, &po, &sink), 0);
    /* The redirector is on page 1; the relationship naming its intrusion set on page 2. */
    assert_string_equal(c.values[0], "203.0.113.45");
    assert_non_null(strstr(c.tags[0], "intrusion-set:APT40;"));
    assert_non_null(strstr(c.tags[0], "tlp:white;"));
    assert_int_equal(sink.indicators, 7);
    json_decref(all);
    trl_taxii_envelope_clear(&e1);
    trl_taxii_envelope_clear(&e2);
    free(p1);
    free(p2);
}

static void test_parse_stix_objects_refuses_a_non_list(void **state)
{
    (void)state;
    json_t *obj = json_object();
    struct collected c;
    memset(&c, 0, sizeof(c));
    struct trl_ioc_sink sink = {.indicator = collect, .ud = &c};
    assert_int_equal(trl_ioc_parse_stix_objects(obj, NULL, &sink), TRL_EINVAL);
    assert_int_equal(sink.skipped, 1);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parses_a_full_line),
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_rejects_bad_lines),
        cmocka_unit_test(test_envelope_first_page_of_sample),
        cmocka_unit_test(test_envelope_last_page_and_empty),
        cmocka_unit_test(test_envelope_rejects_malformed),
        cmocka_unit_test(test_pager_follows_next_and_keeps_newest_date),
        cmocka_unit_test(test_pager_ignores_an_older_or_bad_date_header),
        cmocka_unit_test(test_pager_pages_by_date_without_next),
        cmocka_unit_test(test_pager_refuses_endless_paging),
        cmocka_unit_test(test_pages_joined_resolve_relationships_across_pages),
        cmocka_unit_test(test_parse_stix_objects_refuses_a_non_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
