/* libcurl, libmicrohttpd and Vectorscan loaded on first use (core/http_lib.h, mhd_lib.h,
 * hs_lib.h): the binary does not link them, each table resolves every function Trapline calls, and
 * the library works through it. */
#include "trl_test.h"

#include "core/hs_lib.h"
#include "core/http_lib.h"
#include "core/mhd_lib.h"

#include <dlfcn.h>

static void test_libcurl_is_not_loaded_before_first_use(void **state)
{
    (void)state;
    /* RTLD_NOLOAD only looks: the binary must not have pulled libcurl in at start-up. */
    void *h = dlopen(TRL_CURL_SONAME, RTLD_NOW | RTLD_NOLOAD);
    assert_null(h);
}

static void test_libmicrohttpd_and_vectorscan_are_not_loaded_before_first_use(void **state)
{
    (void)state;
    assert_null(dlopen(TRL_MHD_SONAME, RTLD_NOW | RTLD_NOLOAD));
    assert_null(dlopen(TRL_HS_SONAME, RTLD_NOW | RTLD_NOLOAD));
    /* Nor GnuTLS, which libmicrohttpd would bring. (The C++ runtime, Vectorscan's, cannot be
     * checked the same way: the sanitisers' runtime links it.) */
    assert_null(dlopen("libgnutls.so.30", RTLD_NOW | RTLD_NOLOAD));
}

static void test_libmicrohttpd_table_is_complete(void **state)
{
    (void)state;
    char err[256] = "";
    const struct trl_mhd *m = trl_mhd_get(err, sizeof(err));
    if (!m)
        fail_msg("libmicrohttpd did not load: %s", err);
    assert_ptr_equal(trl_mhd(), m);
    assert_non_null(m->start_daemon);
    assert_non_null(m->stop_daemon);
    assert_non_null(m->get_daemon_info);
    assert_non_null(m->get_connection_info);
    assert_non_null(m->lookup_connection_value);
    assert_non_null(m->create_response_from_buffer);
    assert_non_null(m->add_response_header);
    assert_non_null(m->queue_response);
    assert_non_null(m->destroy_response);
    /* A response built and released through the table. */
    static const char body[] = "ok";
    struct MHD_Response *r =
        m->create_response_from_buffer(2, (void *)body, MHD_RESPMEM_PERSISTENT);
    assert_non_null(r);
    assert_int_equal(m->add_response_header(r, "Content-Type", "text/plain"), MHD_YES);
    m->destroy_response(r);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    *(unsigned *)ctx |= 1u << id;
    return 0;
}

static void test_vectorscan_scans_through_the_table(void **state)
{
    (void)state;
    char err[256] = "";
    const struct trl_hs *hs = trl_hs_get(err, sizeof(err));
    if (!hs)
        fail_msg("Vectorscan did not load: %s", err);
    assert_ptr_equal(trl_hs(), hs);
    const char *lits[] = {"mimikatz", "sekurlsa"};
    unsigned flags[] = {HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH, HS_FLAG_SINGLEMATCH};
    unsigned ids[] = {0, 1};
    size_t lens[] = {8, 8};
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    assert_int_equal(
        hs->compile_lit_multi(lits, flags, ids, lens, 2, HS_MODE_BLOCK, NULL, &db, &cerr),
        HS_SUCCESS);
    hs_scratch_t *scratch = NULL;
    assert_int_equal(hs->alloc_scratch(db, &scratch), HS_SUCCESS);
    static const char line[] = "CommandLine: MIMIKATZ.exe privilege::debug";
    unsigned seen = 0;
    assert_int_equal(hs->scan(db, line, sizeof(line) - 1, 0, scratch, on_match, &seen), HS_SUCCESS);
    assert_int_equal(seen, 1u);
    hs->free_scratch(scratch);
    hs->free_database(db);
}

static void test_every_function_is_resolved_once(void **state)
{
    (void)state;
    char err[256] = "";
    const struct trl_curl *cu = trl_curl_get(err, sizeof(err));
    if (!cu)
        fail_msg("libcurl did not load: %s", err);
    assert_non_null(cu->easy_init);
    assert_non_null(cu->easy_setopt);
    assert_non_null(cu->easy_perform);
    assert_non_null(cu->easy_getinfo);
    assert_non_null(cu->easy_reset);
    assert_non_null(cu->easy_cleanup);
    assert_non_null(cu->easy_strerror);
    assert_non_null(cu->easy_escape);
    assert_non_null(cu->easy_header);
    assert_non_null(cu->slist_append);
    assert_non_null(cu->slist_free_all);
    assert_non_null(cu->free);
    assert_non_null(cu->url);
    assert_non_null(cu->url_cleanup);
    assert_non_null(cu->url_set);
    assert_non_null(cu->url_get);
    /* Later calls return the same table, without an error text. */
    assert_ptr_equal(trl_curl_get(NULL, 0), cu);
}

static void test_functions_work_through_the_table(void **state)
{
    (void)state;
    const struct trl_curl *cu = trl_curl_get(NULL, 0);
    assert_non_null(cu);
    assert_string_equal(cu->easy_strerror(CURLE_OK), "No error");

    CURLU *u = cu->url();
    assert_non_null(u);
    char *out = NULL;
    assert_int_equal(cu->url_set(u, CURLUPART_URL, "https://taxii.example/api1/", 0), CURLUE_OK);
    assert_int_equal(cu->url_set(u, CURLUPART_URL, "../collections/", 0), CURLUE_OK);
    assert_int_equal(cu->url_get(u, CURLUPART_URL, &out, 0), CURLUE_OK);
    assert_string_equal(out, "https://taxii.example/collections/");
    cu->free(out);
    cu->url_cleanup(u);

    CURL *h = cu->easy_init();
    assert_non_null(h);
    assert_int_equal(cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"), CURLE_OK);
    char *esc = cu->easy_escape(h, "2026-11-28T03:00:00.000Z a&b", 0);
    assert_string_equal(esc, "2026-11-28T03%3A00%3A00.000Z%20a%26b");
    cu->free(esc);
    struct curl_slist *l = cu->slist_append(NULL, "Accept: application/taxii+json");
    assert_non_null(l);
    cu->slist_free_all(l);
    cu->easy_cleanup(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libcurl_is_not_loaded_before_first_use),
        cmocka_unit_test(test_libmicrohttpd_and_vectorscan_are_not_loaded_before_first_use),
        cmocka_unit_test(test_libmicrohttpd_table_is_complete),
        cmocka_unit_test(test_vectorscan_scans_through_the_table),
        cmocka_unit_test(test_every_function_is_resolved_once),
        cmocka_unit_test(test_functions_work_through_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
