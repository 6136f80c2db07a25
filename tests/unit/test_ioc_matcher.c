/* Matcher: exact values, networks, domain suffixes, validity, case, event fields, enrichment, the
 * hand-over of a new matcher, and a timing printout. */
#include "trl_test.h"

#include "core/timeutil.h"
#include "formats/parse.h"
#include "ioc/matcher.h"

#define NS(sec) ((int64_t)(sec)*1000000000LL)
#define T0      NS(1720569600) /* 2024-07-10T00:00:00Z */

struct spec {
    enum trl_ioc_type type;
    const char *value;
    const char *source;
    int confidence;
    int64_t from, until;
};

static struct trl_ioc_matcher *build(const struct spec *s, size_t n,
                                     const struct trl_ioc_build_opts *o)
{
    struct trl_ioc_builder *b = trl_ioc_builder_create(o);
    for (size_t i = 0; i < n; i++) {
        char norm[TRL_IOC_VALUE_MAX + 2];
        size_t len;
        const char *why;
        if (trl_ioc_normalize(s[i].type, s[i].value, strlen(s[i].value), norm, sizeof(norm), &len,
                              &why) != 0)
            fail_msg("%s: %s", s[i].value, why);
        const char *tags[] = {"tlp:amber", "malware:x"};
        struct trl_ioc ioc = {
            .type = s[i].type,
            .value = norm,
            .source = s[i].source ? s[i].source : "test",
            .confidence = s[i].confidence ? s[i].confidence : 50,
            .valid_from_ns = s[i].from,
            .valid_until_ns = s[i].until,
            .tags = tags,
            .ntags = 2,
            .description = "test indicator",
        };
        assert_int_equal(trl_ioc_builder_add(b, &ioc, NULL), 0);
    }
    return trl_ioc_builder_finish(b);
}

struct hits {
    int n;
    int stop_after;
    char list[16][200]; /* "field type value source" */
};

static int on_hit(void *ud, const struct trl_ioc_hit *h)
{
    struct hits *hs = ud;
    if (hs->n < 16)
        snprintf(hs->list[hs->n], sizeof(hs->list[0]), "%s %s %s %s", h->field,
                 trl_ioc_type_name(h->type), h->value, h->source);
    hs->n++;
    return hs->stop_after && hs->n >= hs->stop_after;
}

static struct trl_event *event(struct trl_arena *a)
{
    struct trl_event *ev = trl_event_create(a, "x", 1, T0 + NS(3600));
    ev->timestamp_ns = T0 + NS(3600);
    return ev;
}

static int match(const struct trl_ioc_matcher *m, const struct trl_event *ev, struct hits *h)
{
    memset(h, 0, sizeof(*h));
    return trl_ioc_match_event(m, ev, on_hit, h);
}

static void test_exact_ipv4_matches_source_ip_only_when_equal(void **state)
{
    (void)state;
    const struct spec s[] = {{TRL_IOC_IPV4, "203.0.113.45", NULL, 0, 0, 0}};
    struct trl_ioc_matcher *m = build(s, 1, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    struct hits h;
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "source.ip ipv4 203.0.113.45 test");
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.46");
    assert_int_equal(match(m, ev, &h), 0);
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.045"); /* not an address */
    assert_int_equal(match(m, ev, &h), 0);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_cidr_v4_reports_every_network_most_specific_first(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_CIDR, "10.0.0.0/8", NULL, 0, 0, 0},
        {TRL_IOC_CIDR, "10.20.30.0/24", NULL, 0, 0, 0},
        {TRL_IOC_IPV4, "10.20.30.40", NULL, 0, 0, 0},
        {TRL_IOC_CIDR, "10.20.0.0/16", NULL, 0, 0, 0},
        {TRL_IOC_CIDR, "10.21.0.0/16", NULL, 0, 0, 0},
    };
    struct trl_ioc_matcher *m = build(s, 5, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_DESTINATION_IP, "10.20.30.40");
    struct hits h;
    assert_int_equal(match(m, ev, &h), 4);
    assert_string_equal(h.list[0], "destination.ip ipv4 10.20.30.40 test");
    assert_string_equal(h.list[1], "destination.ip cidr 10.20.30.0/24 test");
    assert_string_equal(h.list[2], "destination.ip cidr 10.20.0.0/16 test");
    assert_string_equal(h.list[3], "destination.ip cidr 10.0.0.0/8 test");
    /* Stopping after the first hit gives the most specific one. */
    memset(&h, 0, sizeof(h));
    h.stop_after = 1;
    assert_int_equal(trl_ioc_match_event(m, ev, on_hit, &h), 1);
    ev = event(a);
    trl_event_set_str(ev, TRL_F_DESTINATION_IP, "10.99.1.1");
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "destination.ip cidr 10.0.0.0/8 test");
    ev = event(a);
    trl_event_set_str(ev, TRL_F_DESTINATION_IP, "11.0.0.1");
    assert_int_equal(match(m, ev, &h), 0);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_cidr_v6_and_v4_mapped_addresses(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_CIDR, "2001:db8::/32", NULL, 0, 0, 0},
        {TRL_IOC_CIDR, "2001:db8:1::/48", NULL, 0, 0, 0},
        {TRL_IOC_IPV6, "2001:db8:1::5", NULL, 0, 0, 0},
        {TRL_IOC_CIDR, "2001:db8:1:2:3:4:5:0/127", NULL, 0, 0, 0},
        {TRL_IOC_IPV4, "192.0.2.7", NULL, 0, 0, 0},
    };
    struct trl_ioc_matcher *m = build(s, 5, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "2001:DB8:1:0::5");
    struct hits h;
    assert_int_equal(match(m, ev, &h), 3);
    assert_string_equal(h.list[0], "source.ip ipv6 2001:db8:1::5 test");
    assert_string_equal(h.list[1], "source.ip cidr 2001:db8:1::/48 test");
    assert_string_equal(h.list[2], "source.ip cidr 2001:db8::/32 test");
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "2001:db8:1:2:3:4:5:1");
    assert_int_equal(match(m, ev, &h), 3);
    assert_string_equal(h.list[0], "source.ip cidr 2001:db8:1:2:3:4:5:0/127 test");
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "2001:db9::1");
    assert_int_equal(match(m, ev, &h), 0);
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "::ffff:192.0.2.7");
    assert_int_equal(match(m, ev, &h), 1);
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "fe80::1%eth0");
    assert_int_equal(match(m, ev, &h), 0);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_domain_matches_itself_and_subdomains_only(void **state)
{
    (void)state;
    const struct spec s[] = {{TRL_IOC_DOMAIN, "evil.example", NULL, 0, 0, 0}};
    struct trl_ioc_matcher *m = build(s, 1, NULL);
    static const struct {
        const char *name;
        int hits;
    } cases[] = {
        {"evil.example", 1},    {"a.b.evil.example", 1}, {"A.EVIL.Example.", 1},
        {"notevil.example", 0}, {"example", 0},          {"evil.example.com", 0},
        {"evil.examples", 0},   {".evil.example", 1},    {"", 0},
    };
    struct trl_arena *a = trl_arena_create(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct trl_event *ev = event(a);
        trl_event_set_named(ev, "dns.question.name", 17, cases[i].name, strlen(cases[i].name));
        struct hits h;
        if (match(m, ev, &h) != cases[i].hits)
            fail_msg("'%s': want %d hits, got %d", cases[i].name, cases[i].hits, h.n);
        if (h.n)
            assert_string_equal(h.list[0], "dns.question.name domain evil.example test");
    }
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_expired_and_not_yet_valid_indicators_never_match(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_IPV4, "192.0.2.1", "old", 0, 0, T0},                 /* expired at T0 */
        {TRL_IOC_IPV4, "192.0.2.1", "future", 0, T0 + NS(7200), 0},   /* from T0 + 2h */
        {TRL_IOC_IPV4, "192.0.2.1", "current", 0, T0, T0 + NS(7200)}, /* [T0, T0 + 2h) */
    };
    struct trl_ioc_matcher *m = build(s, 3, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a); /* T0 + 1h */
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "192.0.2.1");
    struct hits h;
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "source.ip ipv4 192.0.2.1 current");
    ev->timestamp_ns = T0 + NS(7200); /* the end is exclusive */
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "source.ip ipv4 192.0.2.1 future");
    ev->timestamp_ns = 0; /* no @timestamp: the receive time counts */
    ev->received_ns = T0 - 1;
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "source.ip ipv4 192.0.2.1 old");
    trl_ioc_matcher_unref(m);

    /* Built "now" at T0 + 1h: the expired one is left out; a fixed time overrides the event's. */
    struct trl_ioc_build_opts o = {.now_ns = T0 + NS(3600), .at_ns = T0 + NS(3600)};
    struct trl_ioc_builder *b = trl_ioc_builder_create(&o);
    for (size_t i = 0; i < 3; i++) {
        struct trl_ioc ioc = {.type = s[i].type,
                              .value = s[i].value,
                              .source = s[i].source,
                              .valid_from_ns = s[i].from,
                              .valid_until_ns = s[i].until};
        assert_int_equal(trl_ioc_builder_add(b, &ioc, NULL), 0);
    }
    assert_int_equal(trl_ioc_builder_count(b), 2);
    assert_int_equal(trl_ioc_builder_expired(b), 1);
    m = trl_ioc_builder_finish(b);
    ev->timestamp_ns = T0 - NS(86400 * 365);
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "source.ip ipv4 192.0.2.1 current");
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_values_match_without_regard_to_case(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_SHA256, "aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139", NULL,
         0, 0, 0},
        {TRL_IOC_MD5, "7eb18cdb185800b899425be06ecc6e00", NULL, 0, 0, 0},
        {TRL_IOC_FILENAME, "Thumb.php", NULL, 0, 0, 0},
        {TRL_IOC_URL, "HTTP://Tools.Example/Get?ID=1", NULL, 0, 0, 0},
        {TRL_IOC_EMAIL, "Boss@Evil.Example", NULL, 0, 0, 0},
    };
    struct trl_ioc_matcher *m = build(s, 5, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_FILE_HASH_SHA256,
                      "ABA8206F24E3DD82777148DCF2FD4F03CED7EC7849AF67971101B335FA01A139");
    trl_event_set_named(ev, "process.hash.md5", 16, "7EB18CDB185800B899425BE06ECC6E00", 32);
    trl_event_set_str(ev, TRL_F_FILE_NAME, "THUMB.PHP");
    trl_event_set_named(ev, "url.full", 8, "http://tools.EXAMPLE/Get?ID=1", 29);
    trl_event_set_named(ev, "email.from.address", 18, "\"Boss\" <BOSS@evil.example>", 26);
    struct hits h;
    assert_int_equal(match(m, ev, &h), 5);
    /* The path and query of a URL keep their case. */
    ev = event(a);
    trl_event_set_named(ev, "url.full", 8, "http://tools.example/get?id=1", 29);
    assert_int_equal(match(m, ev, &h), 0);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_event_fields_that_carry_indicators(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_IPV4, "198.51.100.77", NULL, 0, 0, 0},
        {TRL_IOC_URL, "http://198.51.100.77/f", NULL, 0, 0, 0},
        {TRL_IOC_DOMAIN, "update-cdn.example.net", NULL, 0, 0, 0},
        {TRL_IOC_FILENAME, "/var/www/html/uploads/img/thumb.php", NULL, 0, 0, 0},
        {TRL_IOC_FILENAME, "fscan", NULL, 0, 0, 0},
        {TRL_IOC_SHA1, "ec94b20d67a1e7c132da60c611ccd6d9fc1d5e3d", NULL, 0, 0, 0},
        {TRL_IOC_USER_AGENT, "Go-http-client/1.1", NULL, 0, 0, 0},
        {TRL_IOC_EMAIL, "x@evil.example", NULL, 0, 0, 0},
    };
    struct trl_ioc_matcher *m = build(s, 8, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct hits h;

    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "198.51.100.77");
    trl_event_add(ev, TRL_F_RELATED_IP, "198.51.100.77", 13);
    trl_event_set_named(ev, "client.ip", 9, "198.51.100.77", 13);
    assert_int_equal(match(m, ev, &h), 1); /* one indicator, reported once */
    assert_string_equal(h.list[0], "source.ip ipv4 198.51.100.77 test");

    ev = event(a); /* an access log line: a path on a known host */
    trl_event_set_str(ev, TRL_F_URL_ORIGINAL, "/f");
    trl_event_set_str(ev, TRL_F_URL_DOMAIN, "198.51.100.77");
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "url.original url http://198.51.100.77/f test");

    ev = event(a); /* an absolute URL also checks its host */
    trl_event_set_str(ev, TRL_F_URL_ORIGINAL, "https://a.update-cdn.example.net:8443/x");
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "url.original domain update-cdn.example.net test");
    ev = event(a);
    trl_event_set_str(ev, TRL_F_URL_ORIGINAL, "http://198.51.100.77/f");
    assert_int_equal(match(m, ev, &h), 2);

    ev = event(a);
    trl_event_set_str(ev, TRL_F_DESTINATION_DOMAIN, "Update-CDN.example.net");
    assert_int_equal(match(m, ev, &h), 1);

    ev = event(a);
    trl_event_set_str(ev, TRL_F_FILE_PATH, "/var/www/html/uploads/img/thumb.php");
    assert_int_equal(match(m, ev, &h), 1);
    ev = event(a);
    trl_event_set_str(ev, TRL_F_FILE_PATH, "/tmp/.x/fscan");
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "file.path filename fscan test");

    ev = event(a);
    trl_event_add(ev, TRL_F_RELATED_HASH, "0000", 4);
    trl_event_add(ev, TRL_F_RELATED_HASH, "EC94B20D67A1E7C132DA60C611CCD6D9FC1D5E3D", 40);
    trl_event_set_str(ev, TRL_F_USER_AGENT_ORIGINAL, "Go-http-client/1.1");
    trl_event_set_named(ev, "email.to.address", 16, "x@evil.example", 14);
    trl_event_set_named(ev, "winlog.event_data.IpAddress", 27, "198.51.100.77", 13);
    assert_int_equal(match(m, ev, &h), 3);
    assert_string_equal(h.list[0],
                        "related.hash sha1 ec94b20d67a1e7c132da60c611ccd6d9fc1d5e3d test");
    assert_string_equal(h.list[1], "user_agent.original user-agent Go-http-client/1.1 test");
    assert_string_equal(h.list[2], "email.to.address email x@evil.example test");
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_same_value_from_two_sources_gives_two_hits(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_DOMAIN, "evil.example", "feed-a", 40, 0, 0},
        {TRL_IOC_DOMAIN, "evil.example", "feed-b", 90, 0, 0},
    };
    struct trl_ioc_matcher *m = build(s, 2, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_URL_DOMAIN, "www.evil.example");
    struct hits h;
    assert_int_equal(match(m, ev, &h), 2);
    assert_non_null(strstr(h.list[0], "feed-"));
    assert_non_null(strstr(h.list[1], "feed-"));
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_enrichment_sets_ecs_threat_indicator_fields(void **state)
{
    (void)state;
    const struct spec s[] = {
        {TRL_IOC_CIDR, "203.0.113.0/24", "spamhaus", 50, 0, 0},
        {TRL_IOC_IPV4, "203.0.113.45", "threatfox", 100, 0, 0},
    };
    struct trl_ioc_matcher *m = build(s, 2, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_int_equal(trl_ioc_enrich_event(m, ev), 2);
    size_t len;
#define NAMED(n) trl_event_get_named(ev, n, strlen(n), &len)
    assert_string_equal(NAMED("threat.indicator.type"), "ipv4-addr");
    assert_string_equal(NAMED("threat.indicator.ip"), "203.0.113.45");
    assert_string_equal(NAMED("threat.indicator.name"), "203.0.113.45");
    assert_string_equal(NAMED("threat.indicator.provider"), "threatfox");
    assert_string_equal(NAMED("threat.feed.name"), "threatfox");
    assert_string_equal(NAMED("threat.indicator.confidence"), "High");
    assert_string_equal(NAMED("threat.indicator.marking.tlp"), "AMBER");
    assert_string_equal(NAMED("threat.indicator.description"), "test indicator");
    assert_non_null(strstr(NAMED("threat.indicator.id"), "ioc--"));
    ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "198.51.100.1");
    assert_int_equal(trl_ioc_enrich_event(m, ev), 0);
    assert_null(NAMED("threat.indicator.type"));
#undef NAMED
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_handle_swaps_matchers_between_batches(void **state)
{
    (void)state;
    const struct spec s1[] = {{TRL_IOC_IPV4, "192.0.2.1", NULL, 0, 0, 0}};
    const struct spec s2[] = {{TRL_IOC_IPV4, "192.0.2.2", NULL, 0, 0, 0}};
    struct trl_ioc_handle *h = trl_ioc_handle_create();
    struct trl_ioc_reader r = {.handle = h};
    assert_null(trl_ioc_reader_refresh(&r));
    trl_ioc_handle_publish(h, build(s1, 1, NULL));
    const struct trl_ioc_matcher *m1 = trl_ioc_reader_refresh(&r);
    assert_non_null(m1);
    assert_ptr_equal(trl_ioc_reader_refresh(&r), m1); /* unchanged: same matcher */
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "192.0.2.1");
    struct hits hs;
    /* A new matcher is published while a batch is being matched with the old one: the reader
     * keeps the old one alive until its next refresh. */
    trl_ioc_handle_publish(h, build(s2, 1, NULL));
    assert_int_equal(match(m1, ev, &hs), 1);
    const struct trl_ioc_matcher *m2 = trl_ioc_reader_refresh(&r);
    assert_int_equal(match(m2, ev, &hs), 0);
    trl_ioc_handle_publish(h, NULL);
    assert_null(trl_ioc_reader_refresh(&r));
    trl_ioc_reader_release(&r);
    trl_ioc_handle_destroy(h);
    trl_arena_destroy(a);
}

static int batch_hit(void *ud, size_t index, const struct trl_ioc_hit *h)
{
    char *out = ud;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%zu:%s ", index, h->value);
    return 0;
}

static void test_batch_matching_reports_the_event_index(void **state)
{
    (void)state;
    const struct spec s[] = {{TRL_IOC_IPV4, "192.0.2.1", NULL, 0, 0, 0},
                             {TRL_IOC_DOMAIN, "evil.example", NULL, 0, 0, 0}};
    struct trl_ioc_matcher *m = build(s, 2, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *evs[4];
    for (int i = 0; i < 4; i++)
        evs[i] = event(a);
    trl_event_set_str(evs[1], TRL_F_SOURCE_IP, "192.0.2.1");
    trl_event_set_str(evs[3], TRL_F_DESTINATION_DOMAIN, "www.evil.example");
    trl_event_set_str(evs[3], TRL_F_DESTINATION_IP, "192.0.2.1");
    char out[256] = "";
    assert_int_equal(trl_ioc_match_batch(m, evs, 4, batch_hit, out), 3);
    assert_string_equal(out, "1:192.0.2.1 3:evil.example 3:192.0.2.1 ");
    assert_int_equal(trl_ioc_match_batch(m, evs, 4, NULL, NULL), 3);
    assert_int_equal(trl_ioc_match_batch(NULL, evs, 4, NULL, NULL), 0);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

/* Matches one source.ip value with both entry points (the batch one parses and fetches ahead). */
static int match_ip_both_ways(const struct trl_ioc_matcher *m, struct trl_arena *a, const char *ip)
{
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, ip);
    struct hits h;
    int one = match(m, ev, &h);
    struct trl_event *evs[1] = {ev};
    int batch = (int)trl_ioc_match_batch(m, evs, 1, NULL, NULL);
    assert_int_equal(one, batch);
    return one;
}

static void test_ipv4_field_values_are_parsed_strictly(void **state)
{
    (void)state;
    const struct spec s[] = {{TRL_IOC_IPV4, "1.2.3.4", NULL, 0, 0, 0},
                             {TRL_IOC_IPV4, "0.0.0.0", NULL, 0, 0, 0},
                             {TRL_IOC_CIDR, "10.0.0.0/8", NULL, 0, 0, 0},
                             {TRL_IOC_CIDR, "198.51.100.0/24", NULL, 0, 0, 0}};
    struct trl_ioc_matcher *m = build(s, 4, NULL);
    struct trl_arena *a = trl_arena_create(0);
    assert_int_equal(match_ip_both_ways(m, a, "1.2.3.4"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "0.0.0.0"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "10.0.0.0"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "10.255.255.255"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "198.51.100.255"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "::ffff:1.2.3.4"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "::FFFF:10.1.2.3"), 1);
    assert_int_equal(match_ip_both_ways(m, a, "11.0.0.0"), 0);
    assert_int_equal(match_ip_both_ways(m, a, "198.51.101.0"), 0);
    /* Not dotted quads: leading zeros, a fourth digit, a part over 255, a part missing or extra,
     * a trailing dot, white space, brackets, signs. */
    static const char *const bad[] = {
        "01.2.3.4",   "1.02.3.4",  "1.2.3.04", "1.2.3.4444", "1.2.3.256", "256.2.3.4",
        "1.2.3",      "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4",   "1..2.3.4",  "1.2.3.4 ",
        " 1.2.3.4",   "[1.2.3.4]", "+1.2.3.4", "1.2.3.-4",   "1.2.3.4/8", "10.0.0.0000",
        "1.2.3.4:80", "10.0.0.1x", "10.0.0.",  "",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        if (match_ip_both_ways(m, a, bad[i]) != 0)
            fail_msg("'%s' matched", bad[i]);
    }
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_many_candidate_fields_and_long_dynamic_names(void **state)
{
    (void)state;
    const struct spec s[] = {{TRL_IOC_IPV4, "203.0.113.9", NULL, 0, 0, 0},
                             {TRL_IOC_DOMAIN, "evil.example", NULL, 0, 0, 0}};
    struct trl_ioc_matcher *m = build(s, 2, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct hits h;

    /* A dynamic field is reported under its own name when it comes first in the event. */
    struct trl_event *ev = event(a);
    trl_event_set_named(ev, "client.ip", 9, "203.0.113.9", 11);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.9");
    assert_int_equal(match(m, ev, &h), 1);
    assert_string_equal(h.list[0], "client.ip ipv4 203.0.113.9 test");

    /* Names of 64 bytes or more are never indicator fields, even when their length is that of one
     * modulo 64 (73 = 64 + strlen("client.ip"), 81 = 64 + strlen("dns.question.name")). */
    ev = event(a);
    char name[128];
    memset(name, 'x', sizeof(name));
    memcpy(name, "labels.", 7);
    trl_event_set_named(ev, name, 73, "203.0.113.9", 11);
    trl_event_set_named(ev, name, 81, "www.evil.example", 16);
    assert_int_equal(match(m, ev, &h), 0);

    /* More candidate fields than the staged list holds: the event's fields are walked instead,
     * in the same order, with the same result from both entry points. */
    ev = event(a);
    char ip[32];
    for (int i = 0; i < 40; i++) {
        int n = snprintf(ip, sizeof(ip), "192.0.2.%d", i);
        trl_event_add(ev, TRL_F_RELATED_IP, ip, (size_t)n);
    }
    trl_event_set_named(ev, "dns.question.name", 17, "a.evil.example", 14);
    trl_event_add(ev, TRL_F_RELATED_IP, "203.0.113.9", 11);
    assert_int_equal(match(m, ev, &h), 2);
    assert_string_equal(h.list[0], "dns.question.name domain evil.example test");
    assert_string_equal(h.list[1], "related.ip ipv4 203.0.113.9 test");
    struct trl_event *evs[3] = {event(a), ev, event(a)};
    /* Exactly as many candidates as the staged list holds, the last one the indicator, then
     * fields that are no candidates. */
    evs[2] = event(a);
    for (int i = 0; i < 31; i++) {
        int n = snprintf(ip, sizeof(ip), "192.0.2.%d", i);
        trl_event_add(evs[2], TRL_F_RELATED_IP, ip, (size_t)n);
    }
    trl_event_add(evs[2], TRL_F_RELATED_IP, "203.0.113.9", 11);
    trl_event_set_str(evs[2], TRL_F_USER_NAME, "alice");
    trl_event_set_str(evs[2], TRL_F_EVENT_ACTION, "ssh-login");
    assert_int_equal(match(m, evs[2], &h), 1);
    assert_string_equal(h.list[0], "related.ip ipv4 203.0.113.9 test");
    char out[256] = "";
    assert_int_equal(trl_ioc_match_batch(m, evs, 3, batch_hit, out), 3);
    assert_string_equal(out, "1:evil.example 1:203.0.113.9 2:203.0.113.9 ");
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_large_matcher_keeps_its_filters_in_one_block(void **state)
{
    (void)state;
    /* Enough addresses for filters over half a megabyte, which are mapped on their own. */
    enum { N = 300000 };
    struct trl_ioc_builder *b = trl_ioc_builder_create(NULL);
    char v[32];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
        struct trl_ioc ioc = {.type = TRL_IOC_IPV4, .value = v, .source = "big", .confidence = 60};
        assert_int_equal(trl_ioc_builder_add(b, &ioc, NULL), 0);
    }
    struct trl_ioc ioc = {.type = TRL_IOC_CIDR, .value = "198.51.100.0/24", .source = "big"};
    assert_int_equal(trl_ioc_builder_add(b, &ioc, NULL), 0);
    ioc = (struct trl_ioc){.type = TRL_IOC_DOMAIN, .value = "evil.example", .source = "big"};
    assert_int_equal(trl_ioc_builder_add(b, &ioc, NULL), 0);
    struct trl_ioc_matcher *m = trl_ioc_builder_finish(b);
    assert_int_equal(trl_ioc_matcher_count(m), N + 2);
    assert_true(trl_ioc_matcher_memory(m) > (size_t)N * 8);

    struct trl_arena *a = trl_arena_create(0);
    static const struct {
        const char *ip;
        int hits;
    } cases[] = {
        {"10.0.0.0", 1},     {"10.4.147.223", 1}, {"10.4.147.224", 0}, {"10.5.0.0", 0},
        {"198.51.100.7", 1}, {"198.51.101.7", 0}, {"11.0.0.0", 0},     {"::ffff:10.1.2.3", 1},
    };
    struct trl_event *evs[TRL_ARRAY_LEN(cases)];
    int want = 0;
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        assert_int_equal(match_ip_both_ways(m, a, cases[i].ip), cases[i].hits);
        evs[i] = event(a);
        trl_event_set_str(evs[i], TRL_F_SOURCE_IP, cases[i].ip);
        trl_event_set_named(evs[i], "dns.question.name", 17, "www.Evil.example", 16);
        want += cases[i].hits + 1;
    }
    assert_int_equal(trl_ioc_match_batch(m, evs, TRL_ARRAY_LEN(cases), NULL, NULL), (size_t)want);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_url_indicators_alone_match_access_log_paths(void **state)
{
    (void)state;
    /* No domain indicator: the host fields are still read to complete a path-only URL. */
    const struct spec s[] = {{TRL_IOC_URL, "http://198.51.100.77/f", NULL, 0, 0, 0},
                             {TRL_IOC_URL, "https://cdn.example.net/p/x.bin", NULL, 0, 0, 0}};
    struct trl_ioc_matcher *m = build(s, 2, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct hits h;
    struct trl_event *evs[3];
    evs[0] = event(a);
    trl_event_set_str(evs[0], TRL_F_URL_ORIGINAL, "/f");
    trl_event_set_str(evs[0], TRL_F_URL_DOMAIN, "198.51.100.77");
    assert_int_equal(match(m, evs[0], &h), 1);
    assert_string_equal(h.list[0], "url.original url http://198.51.100.77/f test");
    evs[1] = event(a);
    trl_event_set_str(evs[1], TRL_F_DESTINATION_DOMAIN, "CDN.example.net");
    trl_event_set_str(evs[1], TRL_F_URL_ORIGINAL, "/p/x.bin");
    assert_int_equal(match(m, evs[1], &h), 1);
    assert_string_equal(h.list[0], "url.original url https://cdn.example.net/p/x.bin test");
    evs[2] = event(a);
    trl_event_set_str(evs[2], TRL_F_URL_ORIGINAL, "/p/x.bin");
    trl_event_set_str(evs[2], TRL_F_URL_DOMAIN, "www.example.net");
    assert_int_equal(match(m, evs[2], &h), 0);
    char out[256] = "";
    assert_int_equal(trl_ioc_match_batch(m, evs, 3, batch_hit, out), 2);
    assert_string_equal(out, "0:http://198.51.100.77/f 1:https://cdn.example.net/p/x.bin ");
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

static void test_builder_refuses_values_that_are_not_addresses(void **state)
{
    (void)state;
    struct trl_ioc_builder *b = trl_ioc_builder_create(NULL);
    struct trl_ioc bad[] = {
        {.type = TRL_IOC_IPV4, .value = "not-an-ip"},
        {.type = TRL_IOC_CIDR, .value = "10.0.0.0/40"},
        {.type = TRL_IOC_IPV6, .value = "192.0.2.1"},
        {.type = TRL_IOC_NONE, .value = "x"},
        {.type = TRL_IOC_DOMAIN, .value = ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(trl_ioc_builder_add(b, &bad[i], NULL), TRL_EINVAL);
    struct trl_ioc_matcher *m = trl_ioc_builder_finish(b);
    assert_int_equal(trl_ioc_matcher_count(m), 0);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = event(a);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "10.0.0.1");
    struct hits h;
    assert_int_equal(match(m, ev, &h), 0);
    assert_int_equal(match(NULL, ev, &h), 0);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
}

/* Realistic lines through the real parsers, matched against many synthetic indicators. Prints
 * ns/event (sanitizer builds are several times slower than release: see bench/ioc.sh). */
static void test_matching_cost_per_event_is_printed(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "<38>Jul  9 22:31:02 web01 sshd[2211]: Failed password for invalid user admin from "
        "203.0.113.45 port 40112 ssh2",
        "<86>1 2024-07-09T22:31:05.123Z db01 sshd 4242 - - Accepted password for deploy from "
        "10.20.1.5 port 51234 ssh2",
        "203.0.113.45 - - [09/Jul/2024:22:10:11 +0000] \"GET /uploads/img/thumb.php?cmd=id "
        "HTTP/1.1\" 200 31 \"-\" \"Go-http-client/1.1\"",
        "<4>Jul  9 22:40:01 fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.9 DST=10.0.0.5 "
        "LEN=60 PROTO=TCP SPT=40000 DPT=22",
        "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"source\":{\"ip\":\"192.0.2.77\"},"
        "\"dns\":{\"question\":{\"name\":\"a.b.c.example.com\"}},\"url\":{\"domain\":"
        "\"cdn.example.org\"}}",
    };
    enum { NEV = 5, ROUNDS = 2000, NIOC = 100000 };
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *evs[NEV];
    for (int i = 0; i < NEV; i++) {
        evs[i] = trl_event_create(a, lines[i], strlen(lines[i]), T0);
        trl_parse_event(evs[i], TRL_FORMAT_AUTO);
    }
    struct trl_ioc_builder *b = trl_ioc_builder_create(NULL);
    char v[80];
    int64_t t0 = trl_mono_ns();
    for (int i = 0; i < NIOC; i++) {
        struct trl_ioc ioc = {.source = "bench", .confidence = 50, .value = v};
        switch (i % 4) {
        case 0:
            ioc.type = TRL_IOC_IPV4;
            snprintf(v, sizeof(v), "%d.%d.%d.%d", 1 + (i >> 24 & 127), i >> 16 & 255, i >> 8 & 255,
                     i & 255);
            break;
        case 1:
            ioc.type = TRL_IOC_DOMAIN;
            snprintf(v, sizeof(v), "host%d.example%d.net", i, i % 97);
            break;
        case 2:
            ioc.type = TRL_IOC_SHA256;
            snprintf(v, sizeof(v), "%064x", i);
            break;
        default:
            ioc.type = TRL_IOC_CIDR;
            snprintf(v, sizeof(v), "%d.%d.%d.0/24", 100 + (i >> 16 & 63), i >> 8 & 255, i & 255);
            break;
        }
        assert_int_equal(trl_ioc_builder_add(b, &ioc, NULL), 0);
    }
    struct trl_ioc_matcher *m = trl_ioc_builder_finish(b);
    int64_t build_ns = trl_mono_ns() - t0;
    struct trl_ioc_matcher *empty = trl_ioc_builder_finish(trl_ioc_builder_create(NULL));
    int hits = 0;
    int64_t t1 = trl_mono_ns();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NEV; i++)
            hits += trl_ioc_match_event(empty, evs[i], NULL, NULL);
    int64_t t2 = trl_mono_ns();
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NEV; i++)
            hits += trl_ioc_match_event(m, evs[i], NULL, NULL);
    int64_t t3 = trl_mono_ns();
    print_message("%d indicators built in %.1f ms (%.1f MB); matching: %.0f ns/event with none, "
                  "%.0f ns/event with %d (%d hits)\n",
                  NIOC, (double)build_ns / 1e6, (double)trl_ioc_matcher_memory(m) / 1e6,
                  (double)(t2 - t1) / (ROUNDS * NEV), (double)(t3 - t2) / (ROUNDS * NEV), NIOC,
                  hits);
    trl_ioc_matcher_unref(m);
    trl_ioc_matcher_unref(empty);
    trl_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_ipv4_matches_source_ip_only_when_equal),
        cmocka_unit_test(test_cidr_v4_reports_every_network_most_specific_first),
        cmocka_unit_test(test_cidr_v6_and_v4_mapped_addresses),
        cmocka_unit_test(test_domain_matches_itself_and_subdomains_only),
        cmocka_unit_test(test_expired_and_not_yet_valid_indicators_never_match),
        cmocka_unit_test(test_values_match_without_regard_to_case),
        cmocka_unit_test(test_event_fields_that_carry_indicators),
        cmocka_unit_test(test_same_value_from_two_sources_gives_two_hits),
        cmocka_unit_test(test_enrichment_sets_ecs_threat_indicator_fields),
        cmocka_unit_test(test_handle_swaps_matchers_between_batches),
        cmocka_unit_test(test_batch_matching_reports_the_event_index),
        cmocka_unit_test(test_ipv4_field_values_are_parsed_strictly),
        cmocka_unit_test(test_many_candidate_fields_and_long_dynamic_names),
        cmocka_unit_test(test_large_matcher_keeps_its_filters_in_one_block),
        cmocka_unit_test(test_url_indicators_alone_match_access_log_paths),
        cmocka_unit_test(test_builder_refuses_values_that_are_not_addresses),
        cmocka_unit_test(test_matching_cost_per_event_is_printed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
