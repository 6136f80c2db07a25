/* Libraries opened on first use (core/dynlib.h): a library found fills its table once, whatever the
 * number of threads asking; a missing library, a missing function or a failed check leave the table
 * empty and give, on every call, an error naming what is missing and the package to install. */
#include "trl_test.h"

#include "core/dynlib.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

struct libm_table {
    double (*cos)(double x);
    double (*sqrt)(double x);
};

static const struct trl_dynlib_sym libm_syms[] = {
    TRL_DYNLIB_SYM(struct libm_table, cos, "cos"),
    TRL_DYNLIB_SYM(struct libm_table, sqrt, "sqrt"),
};

static const struct trl_dynlib_sym libm_syms_one_missing[] = {
    TRL_DYNLIB_SYM(struct libm_table, cos, "cos"),
    TRL_DYNLIB_SYM(struct libm_table, sqrt, "trl_no_such_function"),
};

static atomic_int checks_run;

static int count_check(void *table, char *err, size_t errlen)
{
    (void)table;
    (void)err;
    (void)errlen;
    atomic_fetch_add(&checks_run, 1);
    return 0;
}

static int refuse_check(void *table, char *err, size_t errlen)
{
    const struct libm_table *t = table;
    snprintf(err, errlen, "libm.so.6 says cos(0) is %.0f: refused", t->cos(0));
    return TRL_EINVAL;
}

/* libm.so.6 (package libc6) with the functions syms_, loaded into the table t_, checked by check_.
 */
#define LIBM(t_, syms_, check_)                                                                    \
    {                                                                                              \
        .soname = "libm.so.6", .package = "libc6", .syms = syms_, .nsyms = TRL_ARRAY_LEN(syms_),   \
        .table = t_, .check = check_, TRL_DYNLIB_STATE                                             \
    }

static void test_library_found_fills_the_table(void **state)
{
    (void)state;
    struct libm_table t = {0};
    struct trl_dynlib lib = LIBM(&t, libm_syms, count_check);
    atomic_store(&checks_run, 0);
    char err[256] = "";
    assert_int_equal(trl_dynlib_load(&lib, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_non_null(t.cos);
    assert_true(t.cos(0.0) == 1.0);
    assert_true(t.sqrt(16.0) == 4.0);
    /* The second call finds it loaded: the check does not run again. */
    assert_int_equal(trl_dynlib_load(&lib, NULL, 0), 0);
    assert_int_equal(atomic_load(&checks_run), 1);
}

static void test_missing_library_names_it_and_its_package(void **state)
{
    (void)state;
    struct libm_table t = {0};
    struct trl_dynlib lib = {.soname = "libtrapline-absent.so.9",
                             .package = "libtrapline-absent9",
                             .syms = libm_syms,
                             .nsyms = TRL_ARRAY_LEN(libm_syms),
                             .table = &t,
                             TRL_DYNLIB_STATE};
    char err[256] = "";
    assert_int_equal(trl_dynlib_load(&lib, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "cannot load libtrapline-absent.so.9 ("));
    assert_non_null(strstr(err, "): install the libtrapline-absent9 package"));
    /* Every later call fails the same way, with the same text. */
    char again[256] = "";
    assert_int_equal(trl_dynlib_load(&lib, again, sizeof(again)), -ENOENT);
    assert_string_equal(again, err);
    assert_null(t.cos);
}

static void test_missing_function_names_it_and_empties_the_table(void **state)
{
    (void)state;
    struct libm_table t = {0};
    struct trl_dynlib lib = LIBM(&t, libm_syms_one_missing, NULL);
    char err[256] = "";
    assert_int_equal(trl_dynlib_load(&lib, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "libm.so.6 has no function trl_no_such_function: install a newer "
                             "libc6 package");
    /* cos was resolved before the miss, but no address into a closed library stays behind. */
    assert_null(t.cos);
    assert_null(t.sqrt);
}

static void test_failed_check_is_the_error(void **state)
{
    (void)state;
    struct libm_table t = {0};
    struct trl_dynlib lib = LIBM(&t, libm_syms, refuse_check);
    char err[256] = "";
    assert_int_equal(trl_dynlib_load(&lib, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "libm.so.6 says cos(0) is 1: refused");
    assert_null(t.cos);
    /* A short buffer gets a truncated, terminated text. */
    char small[8];
    assert_int_equal(trl_dynlib_load(&lib, small, sizeof(small)), -ENOENT);
    assert_string_equal(small, "libm.so");
}

static void *load_from_thread(void *arg)
{
    return (void *)(intptr_t)trl_dynlib_load(arg, NULL, 0);
}

static void test_threads_racing_load_it_once(void **state)
{
    (void)state;
    struct libm_table t = {0};
    struct trl_dynlib lib = LIBM(&t, libm_syms, count_check);
    atomic_store(&checks_run, 0);
    pthread_t th[8];
    for (size_t i = 0; i < TRL_ARRAY_LEN(th); i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_from_thread, &lib), 0);
    for (size_t i = 0; i < TRL_ARRAY_LEN(th); i++) {
        void *rc;
        assert_int_equal(pthread_join(th[i], &rc), 0);
        assert_int_equal((intptr_t)rc, 0);
    }
    assert_int_equal(atomic_load(&checks_run), 1);
    assert_true(t.sqrt(9.0) == 3.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_found_fills_the_table),
        cmocka_unit_test(test_missing_library_names_it_and_its_package),
        cmocka_unit_test(test_missing_function_names_it_and_empties_the_table),
        cmocka_unit_test(test_failed_check_is_the_error),
        cmocka_unit_test(test_threads_racing_load_it_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
