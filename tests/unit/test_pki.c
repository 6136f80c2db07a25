#include "trl_test.h"

#include "server/pki.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/trl-pki-XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static X509 *load(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(c);
    return c;
}

static void test_pki_creates_ca_and_server_cert_signed_by_it(void **state)
{
    (void)state;
    struct trl_pki_paths p;
    assert_int_equal(trl_pki_ensure(dir, &p), 0);
    struct stat st;
    assert_int_equal(stat(p.ca_key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(p.server_key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    X509 *ca = load(p.ca_cert), *srv = load(p.server_cert);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, srv, NULL);
    assert_int_equal(X509_verify_cert(ctx), 1);
    assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(srv);
}

static void test_pki_keeps_existing_files_on_second_start(void **state)
{
    (void)state;
    struct trl_pki_paths p;
    char before[128], after[128];
    assert_int_equal(trl_pki_ensure(dir, &p), 0);
    assert_int_equal(trl_pki_fingerprint(p.ca_cert, before, sizeof(before)), 0);
    assert_int_equal(trl_pki_ensure(dir, &p), 0);
    assert_int_equal(trl_pki_fingerprint(p.ca_cert, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    assert_int_equal(strlen(before), 32 * 3 - 1);
}

static void test_pki_refuses_half_a_ca(void **state)
{
    (void)state;
    struct trl_pki_paths p;
    assert_int_equal(trl_pki_ensure(dir, &p), 0);
    unlink(p.ca_cert);
    assert_true(trl_pki_ensure(dir, &p) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pki_creates_ca_and_server_cert_signed_by_it),
        cmocka_unit_test(test_pki_keeps_existing_files_on_second_start),
        cmocka_unit_test(test_pki_refuses_half_a_ca),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
