/* STIX 2.1 export: deterministic ids, the properties STIX requires, and a round trip of the
 * exported bundle through Trapline's own STIX parser. */
#include "trl_test.h"

#include "detect/alerts.h"
#include "ioc/feed.h"
#include "ioc/ioc_stage.h"
#include "ioc/iocdb.h"
#include "ioc/stix_export.h"

#include <ftw.h>

#define IDENTITY_ID "identity--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30" /* "SOC lab" */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void test_uuid5_matches_the_rfc_4122_algorithm(void **state)
{
    (void)state;
    char u[37];
    /* Python: uuid.uuid5(UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), "identity|SOC lab") */
    trl_stix_uuid5("identity|SOC lab", u);
    assert_string_equal(u, "ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30");
    trl_stix_uuid5("indicator|ipv4|203.0.113.45|web01-intel", u);
    assert_string_equal(u, "a029cd80-75ff-54c4-be32-2d2892033b03");
}

static void test_timestamps_have_milliseconds_and_z(void **state)
{
    (void)state;
    char ts[25];
    trl_stix_timestamp(1720573811123456789LL, ts);
    assert_string_equal(ts, "2024-07-10T01:10:11.123Z");
    trl_stix_timestamp(0, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
}

static void test_patterns_per_type_and_escaping(void **state)
{
    (void)state;
    static const struct {
        enum trl_ioc_type type;
        const char *value, *want;
    } cases[] = {
        {TRL_IOC_IPV4, "203.0.113.45", "[ipv4-addr:value = '203.0.113.45']"},
        {TRL_IOC_IPV6, "2001:db8::1", "[ipv6-addr:value = '2001:db8::1']"},
        {TRL_IOC_CIDR, "198.51.100.0/24", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']"},
        {TRL_IOC_CIDR, "2001:db8::/32", "[ipv6-addr:value ISSUBSET '2001:db8::/32']"},
        {TRL_IOC_DOMAIN, "evil.example", "[domain-name:value = 'evil.example']"},
        {TRL_IOC_URL, "http://198.51.100.77/f?a='b'",
         "[url:value = 'http://198.51.100.77/f?a=\\'b\\'']"},
        {TRL_IOC_MD5, "7eb18cdb185800b899425be06ecc6e00",
         "[file:hashes.MD5 = '7eb18cdb185800b899425be06ecc6e00']"},
        {TRL_IOC_SHA256, "aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139",
         "[file:hashes.'SHA-256' = "
         "'aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139']"},
        {TRL_IOC_EMAIL, "a@evil.example", "[email-addr:value = 'a@evil.example']"},
        {TRL_IOC_FILENAME, "c:\\x\\thumb.php", "[file:name = 'c:\\\\x\\\\thumb.php']"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        char out[512];
        assert_true(trl_stix_pattern_of(cases[i].type, cases[i].value, out, sizeof(out)));
        assert_string_equal(out, cases[i].want);
    }
    char small[16];
    assert_false(trl_stix_pattern_of(TRL_IOC_DOMAIN, "evil.example", small, sizeof(small)));
    assert_false(trl_stix_pattern_of(TRL_IOC_NONE, "x", small, sizeof(small)));
}

static void test_objects_carry_the_required_properties(void **state)
{
    (void)state;
    char err[256] = "";
    json_t *id = trl_stix_identity("SOC lab");
    assert_true(trl_stix_check_object(id, err, sizeof(err)));
    assert_string_equal(json_string_value(json_object_get(id, "id")), IDENTITY_ID);
    const char *tags[] = {"tlp:amber", "intrusion-set:APT40"};
    const char *labels[] = {"malicious-activity"};
    struct trl_ioc ioc = {
        .type = TRL_IOC_IPV4,
        .value = "203.0.113.45",
        .source = "web01-intel",
        .confidence = 85,
        .valid_until_ns = 4102444800LL * TRL_NS_PER_SEC,
        .tags = tags,
        .ntags = 2,
        .labels = labels,
        .nlabels = 1,
    };
    json_t *ind = trl_stix_indicator(&ioc, IDENTITY_ID, 1720573800LL * TRL_NS_PER_SEC,
                                     1720573900LL * TRL_NS_PER_SEC);
    assert_true(trl_stix_check_object(ind, err, sizeof(err)));
    assert_string_equal(json_string_value(json_object_get(ind, "id")),
                        "indicator--a029cd80-75ff-54c4-be32-2d2892033b03");
    assert_string_equal(json_string_value(json_object_get(ind, "created")),
                        "2024-07-10T01:10:00.000Z");
    assert_string_equal(json_string_value(json_object_get(ind, "modified")),
                        "2024-07-10T01:11:40.000Z");
    assert_string_equal(json_string_value(json_object_get(ind, "valid_from")),
                        "2024-07-10T01:10:00.000Z");
    assert_string_equal(json_string_value(json_object_get(ind, "created_by_ref")), IDENTITY_ID);
    /* TLP becomes the specification's marking definition, not a label. */
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(ind, "object_marking_refs"), 0)),
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82");
    struct trl_stix_sighting_info si = {"indicator--a029cd80-75ff-54c4-be32-2d2892033b03", 12,
                                        1720563011LL * TRL_NS_PER_SEC,
                                        1720566167LL * TRL_NS_PER_SEC};
    json_t *s = trl_stix_sighting(&si, IDENTITY_ID);
    assert_true(trl_stix_check_object(s, err, sizeof(err)));
    assert_int_equal(json_integer_value(json_object_get(s, "count")), 12);
    assert_string_equal(json_string_value(json_object_get(s, "first_seen")),
                        "2024-07-09T22:10:11.000Z");
    assert_string_equal(json_string_value(json_object_get(s, "last_seen")),
                        "2024-07-09T23:02:47.000Z");
    json_decref(id);
    json_decref(ind);
    json_decref(s);
}

static void test_checker_refuses_what_stix_forbids(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"{\"id\":\"identity--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\"}", "without a type"},
        {"{\"type\":\"identity\",\"id\":\"identity--1\"}", "is not identity--<uuid>"},
        {"{\"type\":\"identity\",\"id\":\"indicator--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\"}",
         "is not identity--<uuid>"},
        {"{\"type\":\"identity\",\"id\":\"identity--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\","
         "\"created\":\"2024-07-10T01:00:00.000Z\",\"modified\":\"2024-07-10T01:00:00.000Z\"}",
         "spec_version"},
        {"{\"type\":\"identity\",\"spec_version\":\"2.1\","
         "\"id\":\"identity--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\","
         "\"created\":\"2024-07-10T01:00:00Z\",\"modified\":\"2024-07-10T01:00:00.000Z\"}",
         "created is not a timestamp with milliseconds"},
        {"{\"type\":\"identity\",\"spec_version\":\"2.1\","
         "\"id\":\"identity--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\","
         "\"created\":\"2024-07-10T01:00:00.000Z\",\"modified\":\"2024-07-09T01:00:00.000Z\"}",
         "modified is before created"},
        {"{\"type\":\"indicator\",\"spec_version\":\"2.1\","
         "\"id\":\"indicator--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\","
         "\"created\":\"2024-07-10T01:00:00.000Z\",\"modified\":\"2024-07-10T01:00:00.000Z\","
         "\"pattern\":\"[ipv4-addr:value = '1.2.3.4']\",\"pattern_type\":\"stix\"}",
         "valid_from"},
        {"{\"type\":\"sighting\",\"spec_version\":\"2.1\","
         "\"id\":\"sighting--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\","
         "\"created\":\"2024-07-10T01:00:00.000Z\",\"modified\":\"2024-07-10T01:00:00.000Z\","
         "\"sighting_of_ref\":\"indicator--ee2ebbce-1e44-5ff9-bae1-e10d8c24cc30\",\"count\":-1}",
         "count is not"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        json_t *o = json_loads(cases[i].json, 0, NULL);
        assert_non_null(o);
        char err[256] = "";
        assert_false(trl_stix_check_object(o, err, sizeof(err)));
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: want '%s' in '%s'", i, cases[i].why, err);
        json_decref(o);
    }
}

struct got {
    char values[8][64];
    int confidence[8];
    char tags[8][256];
    size_t n;
};

static int collect(void *ud, const struct trl_ioc *ioc)
{
    struct got *g = ud;
    if (g->n < 8) {
        snprintf(g->values[g->n], sizeof(g->values[0]), "%s", ioc->value);
        g->confidence[g->n] = ioc->confidence;
        size_t used = 0;
        for (size_t i = 0; i < ioc->ntags && used < sizeof(g->tags[0]); i++)
            used += (size_t)snprintf(g->tags[g->n] + used, sizeof(g->tags[0]) - used, "%s;",
                                     ioc->tags[i]);
        g->n++;
    }
    return 0;
}

/* A data directory with a local list (two indicators, one sighted 12 times), a feed indicator
 * with a STIX id (sighted once) and a feed indicator without one (sighted, not exportable). */
static void fill(const char *dir)
{
    struct trl_iocdb *db = trl_iocdb_open(dir, false);
    assert_non_null(db);
    int64_t t0 = 1720573800LL * TRL_NS_PER_SEC;
    const char *amber[] = {"tlp:amber"};
    struct trl_ioc local1 = {.type = TRL_IOC_IPV4,
                             .value = "203.0.113.45",
                             .id = "ioc--3d8b4600352d0fc519d6a7abdcfbbe6e",
                             .source = "web01-intel",
                             .confidence = 85,
                             .tags = amber,
                             .ntags = 1};
    struct trl_ioc local2 = {.type = TRL_IOC_DOMAIN,
                             .value = "evil.example",
                             .id = "ioc--955a55d35090a401e4616d96f2813167",
                             .source = "web01-intel",
                             .confidence = 60};
    struct trl_ioc feed = {.type = TRL_IOC_IPV4,
                           .value = "198.51.100.77",
                           .id = "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f604",
                           .source = "partner",
                           .confidence = 85};
    struct trl_ioc feodo = {.type = TRL_IOC_IPV4,
                            .value = "192.0.2.10",
                            .id = "ioc--00000000000000000000000000000001",
                            .source = "feodo",
                            .confidence = 75};
    assert_int_equal(trl_iocdb_upsert(db, &local1, t0, NULL), 0);
    assert_int_equal(trl_iocdb_upsert(db, &local2, t0, NULL), 0);
    assert_int_equal(trl_iocdb_upsert(db, &feed, t0, NULL), 0);
    assert_int_equal(trl_iocdb_upsert(db, &feodo, t0, NULL), 0);
    assert_int_equal(trl_iocdb_feed_update(db, "web01-intel", "list", NULL, t0, NULL), 0);
    assert_int_equal(trl_iocdb_feed_update(db, "partner", "taxii", "http://x/", t0, NULL), 0);
    assert_int_equal(trl_iocdb_feed_update(db, "feodo", "feodo", NULL, t0, NULL), 0);
    trl_iocdb_close(db);

    struct trl_alert_store *as = trl_alert_store_open(dir, 3600 * TRL_NS_PER_SEC, false);
    assert_non_null(as);
    for (int i = 0; i < 12; i++) {
        struct trl_ioc_alert_info a = {.type = TRL_IOC_IPV4,
                                       .confidence = 85,
                                       .value = "203.0.113.45",
                                       .id = local1.id,
                                       .field = "source.ip",
                                       .timestamp_ns =
                                           1720563011LL * TRL_NS_PER_SEC + i * 60 * TRL_NS_PER_SEC};
        assert_int_equal(trl_ioc_alert_add(as, &a), 0);
    }
    struct trl_ioc_alert_info b = {.type = TRL_IOC_IPV4,
                                   .confidence = 85,
                                   .value = "198.51.100.77",
                                   .id = feed.id,
                                   .field = "destination.ip",
                                   .timestamp_ns = t0,
                                   .retro = true};
    assert_int_equal(trl_ioc_alert_add(as, &b), 0);
    struct trl_ioc_alert_info c = {.type = TRL_IOC_IPV4,
                                   .confidence = 75,
                                   .value = "192.0.2.10",
                                   .id = feodo.id,
                                   .field = "source.ip",
                                   .timestamp_ns = t0};
    assert_int_equal(trl_ioc_alert_add(as, &c), 0);
    assert_int_equal(trl_alert_store_commit(as), 0);
    trl_alert_store_close(as);
}

static void test_export_is_stable_valid_and_reads_back(void **state)
{
    (void)state;
    char dir[] = "/tmp/trl-stix-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    fill(dir);
    struct trl_stix_export_opts o = {.data_dir = dir, .identity_name = "SOC lab"};
    json_t *b1, *b2;
    struct trl_stix_export_stats st;
    char err[256] = "";
    assert_int_equal(trl_stix_export(&o, &b1, &st, err, sizeof(err)), 0);
    assert_int_equal(st.indicators, 2);
    assert_int_equal(st.sightings, 2);
    assert_int_equal(st.unreferable, 1);
    assert_int_equal(trl_stix_export(&o, &b2, &st, err, sizeof(err)), 0);
    char *t1 = json_dumps(b1, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *t2 = json_dumps(b2, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(t1, t2);
    assert_true(trl_stix_check_object(b1, err, sizeof(err)));

    /* identity, 2 indicators (by id), 2 sightings (by the indicator they refer to). */
    json_t *objs = json_object_get(b1, "objects");
    assert_int_equal(json_array_size(objs), 5);
    size_t i;
    json_t *obj;
    json_array_foreach(objs, i, obj)
    {
        if (!trl_stix_check_object(obj, err, sizeof(err)))
            fail_msg("object %zu: %s", i, err);
    }
    json_t *s_feed = json_array_get(objs, 3), *s_local = json_array_get(objs, 4);
    assert_string_equal(json_string_value(json_object_get(s_feed, "sighting_of_ref")),
                        "indicator--6f1c2a3b-4d5e-4f60-8a71-b2c3d4e5f604");
    assert_int_equal(json_integer_value(json_object_get(s_feed, "count")), 1);
    assert_string_equal(json_string_value(json_object_get(s_local, "sighting_of_ref")),
                        "indicator--a029cd80-75ff-54c4-be32-2d2892033b03");
    assert_int_equal(json_integer_value(json_object_get(s_local, "count")), 12);
    assert_string_equal(json_string_value(json_object_get(s_local, "first_seen")),
                        "2024-07-09T22:10:11.000Z");
    assert_string_equal(json_string_value(json_object_get(s_local, "last_seen")),
                        "2024-07-09T22:21:11.000Z");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(s_local, "where_sighted_refs"), 0)),
        IDENTITY_ID);

    /* Round trip: our parser reads the indicators back with their values and context. */
    struct got g;
    memset(&g, 0, sizeof(g));
    struct trl_ioc_sink sink = {.indicator = collect, .ud = &g};
    assert_int_equal(trl_ioc_parse(TRL_IOC_FMT_AUTO, t1, strlen(t1), NULL, &sink), 0);
    assert_int_equal(sink.indicators, 2);
    assert_int_equal(sink.skipped, 0);
    assert_int_equal(sink.context, 3); /* the identity and the sightings */
    assert_string_equal(g.values[0], "evil.example");
    assert_int_equal(g.confidence[0], 60);
    assert_string_equal(g.values[1], "203.0.113.45");
    assert_int_equal(g.confidence[1], 85);
    assert_non_null(strstr(g.tags[1], "tlp:amber;"));

    /* --since after every sighting and import leaves only the identity. */
    o.since_ns = 1800000000LL * TRL_NS_PER_SEC;
    json_t *b3;
    assert_int_equal(trl_stix_export(&o, &b3, &st, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(json_object_get(b3, "objects")), 1);

    /* Naming the sources: the feed's indicator becomes ours too. */
    const char *srcs[] = {"web01-intel", "partner"};
    o.since_ns = 0;
    o.local_sources = srcs;
    o.nlocal = 2;
    json_t *b4;
    assert_int_equal(trl_stix_export(&o, &b4, &st, err, sizeof(err)), 0);
    assert_int_equal(st.indicators, 3);

    free(t1);
    free(t2);
    json_decref(b1);
    json_decref(b2);
    json_decref(b3);
    json_decref(b4);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_export_of_an_empty_data_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/trl-stix-export-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct trl_stix_export_opts o = {.data_dir = dir, .identity_name = "SOC lab"};
    json_t *b;
    struct trl_stix_export_stats st;
    char err[256];
    assert_int_equal(trl_stix_export(&o, &b, &st, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(json_object_get(b, "objects")), 1);
    json_decref(b);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid5_matches_the_rfc_4122_algorithm),
        cmocka_unit_test(test_timestamps_have_milliseconds_and_z),
        cmocka_unit_test(test_patterns_per_type_and_escaping),
        cmocka_unit_test(test_objects_carry_the_required_properties),
        cmocka_unit_test(test_checker_refuses_what_stix_forbids),
        cmocka_unit_test(test_export_is_stable_valid_and_reads_back),
        cmocka_unit_test(test_export_of_an_empty_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
