/* The TAXII 2.1 server and client against each other on loopback: TLS verified with the data
 * directory's CA, bearer tokens, paging with limit and next, and the added_after cursor. */
#include "trl_test.h"

#include "detect/alerts.h"
#include "ioc/ioc_stage.h"
#include "ioc/iocdb.h"
#include "ioc/stix_export.h"
#include "ioc/taxii_client.h"
#include "ioc/taxii_server.h"
#include "server/pki.h"

#include <errno.h>
#include <ftw.h>
#include <openssl/evp.h>

#define TOKEN "partner-token-41d2"

struct fixture {
    char dir[64];
    struct trl_pki_paths pki;
    struct trl_taxii_server *srv;
    char hash[65];
    char url[128];
    char collection[37];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trl-taxii-srv-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(trl_pki_ensure(f->dir, &f->pki), 0);
    struct trl_iocdb *db = trl_iocdb_open(f->dir, false);
    int64_t t0 = 1720573800LL * TRL_NS_PER_SEC;
    struct trl_ioc a = {.type = TRL_IOC_IPV4,
                        .value = "203.0.113.45",
                        .id = "ioc--3d8b4600352d0fc519d6a7abdcfbbe6e",
                        .source = "local",
                        .confidence = 85};
    struct trl_ioc b = {.type = TRL_IOC_DOMAIN,
                        .value = "evil.example",
                        .id = "ioc--955a55d35090a401e4616d96f2813167",
                        .source = "local",
                        .confidence = 60};
    assert_int_equal(trl_iocdb_upsert(db, &a, t0, NULL), 0);
    assert_int_equal(trl_iocdb_upsert(db, &b, t0 + TRL_NS_PER_SEC, NULL), 0);
    assert_int_equal(trl_iocdb_feed_update(db, "local", "list", NULL, t0, NULL), 0);
    trl_iocdb_close(db);
    struct trl_alert_store *as = trl_alert_store_open(f->dir, 3600 * TRL_NS_PER_SEC, false);
    struct trl_ioc_alert_info ai = {.type = TRL_IOC_IPV4,
                                    .confidence = 85,
                                    .value = "203.0.113.45",
                                    .id = a.id,
                                    .field = "source.ip",
                                    .timestamp_ns = t0 + 5 * TRL_NS_PER_SEC};
    assert_int_equal(trl_ioc_alert_add(as, &ai), 0);
    assert_int_equal(trl_alert_store_commit(as), 0);
    trl_alert_store_close(as);

    sha256_hex(TOKEN, f->hash);
    const char *hashes[] = {f->hash};
    struct trl_taxii_server_opts o = {.data_dir = f->dir,
                                      .listen = "127.0.0.1:0",
                                      .cert_path = f->pki.server_cert,
                                      .key_path = f->pki.server_key,
                                      .token_hashes = hashes,
                                      .ntokens = 1,
                                      .identity_name = "SOC lab"};
    f->srv = trl_taxii_server_start(&o);
    assert_non_null(f->srv);
    snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%u/taxii2/", trl_taxii_server_port(f->srv));
    trl_stix_uuid5("collection|trapline-export", f->collection);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_taxii_server_stop(f->srv);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void spec_for(struct fixture *f, struct trl_taxii_spec *s, const char *token)
{
    memset(s, 0, sizeof(*s));
    s->name = "partner";
    s->url = f->url;
    s->collection = f->collection;
    s->token = (char *)token;
    s->ca = f->pki.ca_cert;
    s->verify_tls = true;
    s->timeout_ms = 10000;
    s->max_bytes = 1 << 20;
    s->limit = 2;
    s->confidence = -1;
}

static void test_client_pages_through_the_server_and_keeps_the_cursor(void **state)
{
    struct fixture *f = *state;
    struct trl_taxii_spec s;
    spec_for(f, &s, TOKEN);
    struct trl_taxii_poll p;
    char err[512] = "";
    int rc = trl_taxii_poll(&s, NULL, NULL, &p, err, sizeof(err));
    if (rc != 0)
        fail_msg("poll: %s", err);
    /* identity, two indicators, one sighting: two pages of two. */
    assert_int_equal(json_array_size(p.objects), 4);
    assert_int_equal(p.pages, 2);
    assert_non_null(p.cursor);
    char want[160];
    snprintf(want, sizeof(want), "https://127.0.0.1:%u/trapline/collections/%s/",
             trl_taxii_server_port(f->srv), f->collection);
    assert_string_equal(p.collection_url, want);
    char *cursor = strdup(p.cursor);
    trl_taxii_poll_clear(&p);
    /* Nothing was added since. */
    assert_int_equal(trl_taxii_poll(&s, cursor, NULL, &p, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(p.objects), 0);
    assert_int_equal(p.pages, 1);
    assert_null(p.cursor);
    trl_taxii_poll_clear(&p);
    free(cursor);
}

static void test_wrong_token_is_refused(void **state)
{
    struct fixture *f = *state;
    struct trl_taxii_spec s;
    spec_for(f, &s, "not-the-token");
    struct trl_taxii_poll p;
    char err[512] = "";
    assert_int_equal(trl_taxii_poll(&s, NULL, NULL, &p, err, sizeof(err)), -EACCES);
    assert_non_null(strstr(err, "HTTP 401, Unauthorized"));
    assert_null(p.objects);
    trl_taxii_poll_clear(&p);
}

static void test_unknown_ca_fails_tls_verification(void **state)
{
    struct fixture *f = *state;
    struct trl_taxii_spec s;
    spec_for(f, &s, TOKEN);
    s.ca = "/nonexistent/ca.pem";
    struct trl_taxii_poll p;
    char err[512] = "";
    assert_int_equal(trl_taxii_poll(&s, NULL, NULL, &p, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, f->url));
    trl_taxii_poll_clear(&p);
}

static void test_unknown_collection_is_reported(void **state)
{
    struct fixture *f = *state;
    struct trl_taxii_spec s;
    spec_for(f, &s, TOKEN);
    s.collection = "nope";
    struct trl_taxii_poll p;
    char err[512] = "";
    assert_int_equal(trl_taxii_poll(&s, NULL, NULL, &p, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "has no collection 'nope'"));
    trl_taxii_poll_clear(&p);
}

static void test_server_needs_tokens_and_valid_hashes(void **state)
{
    struct fixture *f = *state;
    struct trl_taxii_server_opts o = {.data_dir = f->dir,
                                      .listen = "127.0.0.1:0",
                                      .cert_path = f->pki.server_cert,
                                      .key_path = f->pki.server_key};
    assert_null(trl_taxii_server_start(&o));
    const char *bad[] = {"abc"};
    o.token_hashes = bad;
    o.ntokens = 1;
    assert_null(trl_taxii_server_start(&o));
    assert_true(trl_taxii_token_hash_valid(f->hash));
    assert_false(trl_taxii_token_hash_valid(TOKEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_pages_through_the_server_and_keeps_the_cursor),
        cmocka_unit_test(test_wrong_token_is_refused),
        cmocka_unit_test(test_unknown_ca_fails_tls_verification),
        cmocka_unit_test(test_unknown_collection_is_reported),
        cmocka_unit_test(test_server_needs_tokens_and_valid_hashes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
