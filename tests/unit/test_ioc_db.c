/* Indicator database: upsert, merge within one import, removal, listing, feed bookkeeping, and a
 * matcher built from it. */
#include "trl_test.h"

#include "ioc/iocdb.h"
#include "ioc/matcher.h"

#include <sys/stat.h>
#include <unistd.h>

#define NS(sec) ((int64_t)(sec)*1000000000LL)

struct fixture {
    char dir[64];
    struct trl_iocdb *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trl-iocdb-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->db = trl_iocdb_open(f->dir, false);
    *state = f;
    return f->db ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_iocdb_close(f->db);
    char path[128];
    static const char *const files[] = {"ioc.db", "ioc.db-wal", "ioc.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct trl_ioc ioc(enum trl_ioc_type type, const char *value, const char *source)
{
    return (struct trl_ioc){.type = type, .value = value, .source = source, .confidence = 50};
}

struct rows {
    int n;
    char text[16][256]; /* "id type value source confidence from until tags" */
};

static int collect(void *ud, const struct trl_iocdb_row *r)
{
    struct rows *rs = ud;
    if (rs->n < 16)
        snprintf(rs->text[rs->n], sizeof(rs->text[0]), "%s %s %s %s %d %lld %lld %s", r->ioc.id,
                 trl_ioc_type_name(r->ioc.type), r->ioc.value, r->ioc.source, r->ioc.confidence,
                 (long long)(r->ioc.valid_from_ns / 1000000000LL),
                 (long long)(r->ioc.valid_until_ns / 1000000000LL), r->tags_json);
    rs->n++;
    return 0;
}

static struct rows list(struct trl_iocdb *db, const struct trl_iocdb_filter *f)
{
    struct rows rs = {0};
    assert_true(trl_iocdb_list(db, f, collect, &rs) >= 0);
    return rs;
}

static void test_upsert_inserts_then_replaces_on_a_later_import(void **state)
{
    struct fixture *f = *state;
    const char *tags1[] = {"tlp:green"};
    struct trl_ioc a = ioc(TRL_IOC_IPV4, "192.0.2.1", "feodo");
    a.id = "feodo-1";
    a.tags = tags1;
    a.ntags = 1;
    a.valid_until_ns = NS(2000);
    bool created = false;
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(100), &created), 0);
    assert_true(created);
    /* The next import of the feed states a new confidence and validity and other tags. */
    const char *tags2[] = {"Emotet"};
    a.tags = tags2;
    a.confidence = 90;
    a.valid_until_ns = NS(3000);
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(200), &created), 0);
    assert_false(created);
    struct rows rs = list(f->db, NULL);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.text[0], "feodo-1 ipv4 192.0.2.1 feodo 90 0 3000 [\"Emotet\"]");
}

static void test_same_value_twice_in_one_import_is_merged(void **state)
{
    struct fixture *f = *state;
    const char *t1[] = {"a"}, *t2[] = {"b"};
    struct trl_ioc x = ioc(TRL_IOC_DOMAIN, "evil.example", "stix");
    x.id = "indicator--1";
    x.tags = t1;
    x.ntags = 1;
    x.valid_from_ns = NS(1000);
    x.valid_until_ns = NS(2000);
    assert_int_equal(trl_iocdb_upsert(f->db, &x, NS(50), NULL), 0);
    x.id = "indicator--2";
    x.tags = t2;
    x.confidence = 80;
    x.valid_from_ns = NS(1500);
    x.valid_until_ns = NS(5000);
    bool created = true;
    assert_int_equal(trl_iocdb_upsert(f->db, &x, NS(50), &created), 0);
    assert_false(created);
    struct rows rs = list(f->db, NULL);
    assert_int_equal(rs.n, 1);
    /* the first id, the highest confidence, the union of the windows and of the tags */
    assert_string_equal(rs.text[0],
                        "indicator--1 domain evil.example stix 80 1000 5000 [\"a\",\"b\"]");
}

static void test_same_value_from_two_sources_stays_two_rows(void **state)
{
    struct fixture *f = *state;
    struct trl_ioc a = ioc(
        TRL_IOC_SHA256, "aba8206f24e3dd82777148dcf2fd4f03ced7ec7849af67971101b335fa01a139", "misp");
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    a.source = "threatfox";
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    assert_int_equal(trl_iocdb_count(f->db, NULL), 2);
    assert_int_equal(trl_iocdb_count(f->db, "misp"), 1);
    /* Without an id from the source, the id is derived and stable. */
    char want[TRL_IOC_DERIVED_ID_SIZE];
    trl_ioc_derive_id(TRL_IOC_SHA256, "misp", a.value, want);
    struct trl_iocdb_filter flt = {.source = "misp"};
    struct rows rs = list(f->db, &flt);
    assert_int_equal(rs.n, 1);
    assert_true(strncmp(rs.text[0], want, strlen(want)) == 0);
}

static void test_remove_by_id_removes_every_row_of_it(void **state)
{
    struct fixture *f = *state;
    struct trl_ioc a = ioc(TRL_IOC_IPV4, "203.0.113.45", "stix");
    a.id = "indicator--x";
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    a = ioc(TRL_IOC_DOMAIN, "x.example", "stix");
    a.id = "indicator--x";
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    a = ioc(TRL_IOC_DOMAIN, "y.example", "stix");
    a.id = "indicator--y";
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    assert_int_equal(trl_iocdb_remove(f->db, "indicator--x"), 2);
    assert_int_equal(trl_iocdb_remove(f->db, "indicator--x"), 0);
    assert_int_equal(trl_iocdb_remove(f->db, "no-such-id"), 0);
    assert_int_equal(trl_iocdb_count(f->db, NULL), 1);
}

static void test_list_filters_by_type_source_text_tag_and_validity(void **state)
{
    struct fixture *f = *state;
    const char *tags[] = {"Cobalt Strike"};
    struct trl_ioc rows[] = {
        ioc(TRL_IOC_IPV4, "192.0.2.1", "a"),
        ioc(TRL_IOC_CIDR, "192.0.2.0/24", "a"),
        ioc(TRL_IOC_IPV6, "2001:db8::1", "b"),
        ioc(TRL_IOC_DOMAIN, "evil.example", "b"),
        ioc(TRL_IOC_MD5, "7eb18cdb185800b899425be06ecc6e00", "b"),
    };
    rows[3].tags = tags;
    rows[3].ntags = 1;
    rows[4].valid_until_ns = NS(100);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(trl_iocdb_upsert(f->db, &rows[i], NS(1), NULL), 0);
    enum trl_ioc_type ip[] = {TRL_IOC_IPV4, TRL_IOC_IPV6, TRL_IOC_CIDR};
    struct trl_iocdb_filter flt = {.types = ip, .ntypes = 3};
    assert_int_equal(list(f->db, &flt).n, 3);
    flt = (struct trl_iocdb_filter){.types = ip, .ntypes = 3, .source = "a"};
    assert_int_equal(list(f->db, &flt).n, 2);
    flt = (struct trl_iocdb_filter){.text = "192.0.2"};
    assert_int_equal(list(f->db, &flt).n, 2);
    flt = (struct trl_iocdb_filter){.tag = "Cobalt"};
    struct rows rs = list(f->db, &flt);
    assert_int_equal(rs.n, 1);
    assert_non_null(strstr(rs.text[0], "evil.example"));
    flt = (struct trl_iocdb_filter){.valid_at = NS(200)};
    assert_int_equal(list(f->db, &flt).n, 4);
    flt = (struct trl_iocdb_filter){.limit = 2};
    assert_int_equal(list(f->db, &flt).n, 2);
    flt = (struct trl_iocdb_filter){.text = "'; DROP TABLE indicators; --"};
    assert_int_equal(list(f->db, &flt).n, 0);
    assert_int_equal(trl_iocdb_count(f->db, NULL), 5);
}

struct feeds {
    int n;
    char text[4][160];
};

static int collect_feed(void *ud, const struct trl_iocdb_feed *fd)
{
    struct feeds *fs = ud;
    if (fs->n < 4)
        snprintf(fs->text[fs->n], sizeof(fs->text[0]), "%s %s %lld %lld %s", fd->name, fd->format,
                 (long long)(fd->last_fetch_ns / 1000000000LL), (long long)fd->count,
                 fd->last_error ? fd->last_error : "-");
    fs->n++;
    return 0;
}

static void test_feed_bookkeeping_counts_and_errors(void **state)
{
    struct fixture *f = *state;
    struct trl_ioc a = ioc(TRL_IOC_IPV4, "192.0.2.1", "feodo");
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    a.value = "192.0.2.2";
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    assert_int_equal(trl_iocdb_feed_update(f->db, "feodo", "feodo", NULL, NS(10), NULL), 0);
    assert_int_equal(
        trl_iocdb_feed_update(f->db, "urlhaus", "urlhaus", NULL, NS(20), "not valid CSV"), 0);
    struct feeds fs = {0};
    assert_int_equal(trl_iocdb_feeds(f->db, collect_feed, &fs), 2);
    assert_string_equal(fs.text[0], "feodo feodo 10 2 -");
    assert_string_equal(fs.text[1], "urlhaus urlhaus 20 0 not valid CSV");
    /* A later clean import clears the error. */
    assert_int_equal(trl_iocdb_feed_update(f->db, "urlhaus", "urlhaus", NULL, NS(30), NULL), 0);
    fs.n = 0;
    trl_iocdb_feeds(f->db, collect_feed, &fs);
    assert_string_equal(fs.text[1], "urlhaus urlhaus 30 0 -");
}

static int count_hits(void *ud, const struct trl_ioc_hit *h)
{
    (void)h;
    (*(int *)ud)++;
    return 0;
}

static void test_matcher_from_database_follows_removal_and_expiry(void **state)
{
    struct fixture *f = *state;
    struct trl_ioc a = ioc(TRL_IOC_IPV4, "198.51.100.77", "misp");
    a.id = "attr-1";
    assert_int_equal(trl_iocdb_upsert(f->db, &a, NS(1), NULL), 0);
    struct trl_ioc old = ioc(TRL_IOC_IPV4, "198.51.100.78", "misp");
    old.valid_until_ns = NS(1000);
    assert_int_equal(trl_iocdb_upsert(f->db, &old, NS(1), NULL), 0);
    struct trl_ioc_build_opts o = {.now_ns = NS(5000)};
    struct trl_ioc_matcher *m;
    assert_int_equal(trl_iocdb_build_matcher(f->db, &o, &m), 0);
    assert_int_equal(trl_ioc_matcher_count(m), 1); /* the expired one is left out */
    int hits = 0;
    assert_int_equal(trl_ioc_match_value(m, TRL_IOC_V_IP, "198.51.100.77", 13, "source.ip",
                                         NS(6000), count_hits, &hits),
                     1);
    trl_ioc_matcher_unref(m);
    assert_int_equal(trl_iocdb_remove(f->db, "attr-1"), 1);
    assert_int_equal(trl_iocdb_build_matcher(f->db, &o, &m), 0);
    hits = 0;
    assert_int_equal(trl_ioc_match_value(m, TRL_IOC_V_IP, "198.51.100.77", 13, "source.ip",
                                         NS(6000), count_hits, &hits),
                     0);
    trl_ioc_matcher_unref(m);
}

static void test_read_only_open_of_a_missing_database_fails(void **state)
{
    struct fixture *f = *state;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/nothing-here", f->dir);
    assert_null(trl_iocdb_open(dir, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upsert_inserts_then_replaces_on_a_later_import, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_value_twice_in_one_import_is_merged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_value_from_two_sources_stays_two_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_by_id_removes_every_row_of_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_by_type_source_text_tag_and_validity,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_bookkeeping_counts_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matcher_from_database_follows_removal_and_expiry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_open_of_a_missing_database_fails, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
