/* libcurl loaded on first use (core/http_lib.h): the binary does not link it, the table resolves
 * every function the outputs and the TAXII client call, and the library works through it. */
#include "trl_test.h"

#include "core/http_lib.h"

#include <dlfcn.h>

static void test_libcurl_is_not_loaded_before_first_use(void **state)
{
    (void)state;
    /* RTLD_NOLOAD only looks: the binary must not have pulled libcurl in at start-up. */
    void *h = dlopen(TRL_CURL_SONAME, RTLD_NOW | RTLD_NOLOAD);
    assert_null(h);
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
        cmocka_unit_test(test_every_function_is_resolved_once),
        cmocka_unit_test(test_functions_work_through_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
