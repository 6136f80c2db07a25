/* Unit tests for web accounts, tokens, sessions and the login throttle (src/web/users.c,
 * src/web/sessions.c). */
#include "trl_test.h"
#include "web/http_parse.h"
#include "web/sessions.h"
#include "web/users.h"

#include <errno.h>
#include <sys/stat.h>

#define SEC 1000000000LL

static void test_password_hash_round_trip(void **state)
{
    (void)state;
    char enc[TRL_PW_ENCODED_MAX], enc2[TRL_PW_ENCODED_MAX];
    assert_int_equal(trl_password_hash("correct horse", enc, sizeof(enc)), 0);
    assert_true(strncmp(enc, "$argon2id$v=19$m=32768,t=3,p=1$", 31) == 0);
    assert_int_equal(trl_password_verify(enc, "correct horse"), 0);
    assert_int_equal(trl_password_verify(enc, "correct horsE"), TRL_ENOMATCH);
    assert_int_equal(trl_password_verify(enc, ""), TRL_ENOMATCH);
    /* Every hash has its own salt. */
    assert_int_equal(trl_password_hash("correct horse", enc2, sizeof(enc2)), 0);
    assert_string_not_equal(enc, enc2);
    assert_int_equal(trl_password_verify("$argon2id$garbage", "x"), TRL_ENOMATCH);
}

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/trl-web-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void test_users_add_verify_remove(void **state)
{
    (void)state;
    char *dir = temp_dir();
    struct trl_users *u = NULL;
    assert_int_equal(trl_users_open(dir, &u), 0);
    assert_int_equal(trl_users_add(u, "ann", TRL_ROLE_ANALYST, "ann-password"), 0);
    assert_int_equal(trl_users_add(u, "ann", TRL_ROLE_VIEWER, "other-password"), -EEXIST);
    assert_int_equal(trl_users_add(u, "bad name", TRL_ROLE_VIEWER, "password1"), TRL_EINVAL);
    assert_int_equal(trl_users_add(u, "bob", TRL_ROLE_VIEWER, "short"), TRL_EINVAL);
    assert_int_equal(trl_users_add(u, "bob", 9, "password1"), TRL_EINVAL);
    int role = -1;
    assert_int_equal(trl_users_verify(u, "ann", "ann-password", &role), 0);
    assert_int_equal(role, TRL_ROLE_ANALYST);
    assert_int_equal(trl_users_verify(u, "ann", "wrong-password", &role), TRL_ENOMATCH);
    assert_int_equal(trl_users_verify(u, "nobody", "ann-password", &role), TRL_ENOMATCH);
    assert_int_equal(trl_users_set_role(u, "ann", TRL_ROLE_ADMIN), 0);
    assert_int_equal(trl_users_role(u, "ann", &role), 0);
    assert_int_equal(role, TRL_ROLE_ADMIN);
    assert_int_equal(trl_users_set_password(u, "ann", "new-password"), 0);
    assert_int_equal(trl_users_verify(u, "ann", "ann-password", &role), TRL_ENOMATCH);
    assert_int_equal(trl_users_verify(u, "ann", "new-password", &role), 0);
    assert_int_equal(trl_users_set_password(u, "nobody", "new-password"), -ENOENT);
    assert_int_equal(trl_users_remove(u, "ann"), 0);
    assert_int_equal(trl_users_remove(u, "ann"), -ENOENT);
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/users.db", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    trl_users_close(u);
    remove_dir(dir);
}

static void test_first_admin_is_created_once(void **state)
{
    (void)state;
    char *dir = temp_dir();
    struct trl_users *u = NULL;
    assert_int_equal(trl_users_open(dir, &u), 0);
    assert_int_equal(trl_users_ensure_admin(u, dir), 0);
    char path[512], pw[128] = "";
    snprintf(path, sizeof(path), "%s/admin-password", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(fgets(pw, sizeof(pw), f));
    fclose(f);
    pw[strcspn(pw, "\n")] = '\0';
    assert_true(strlen(pw) >= 20);
    int role;
    assert_int_equal(trl_users_verify(u, "admin", pw, &role), 0);
    assert_int_equal(role, TRL_ROLE_ADMIN);
    /* A second start keeps the existing admin and password. */
    assert_int_equal(trl_users_ensure_admin(u, dir), 0);
    assert_int_equal(trl_users_verify(u, "admin", pw, &role), 0);
    trl_users_close(u);
    remove_dir(dir);
}

static void test_tokens_hashed_checked_revoked(void **state)
{
    (void)state;
    char *dir = temp_dir();
    struct trl_users *u = NULL;
    assert_int_equal(trl_users_open(dir, &u), 0);
    char tok[TRL_TOKEN_LEN + 1], name[65];
    int64_t id;
    int role = -1;
    assert_int_equal(trl_tokens_create(u, "ci", TRL_ROLE_VIEWER, "admin", tok, &id), 0);
    assert_int_equal(strlen(tok), TRL_TOKEN_LEN);
    assert_memory_equal(tok, "trl_", 4);
    assert_int_equal(trl_tokens_check(u, tok, strlen(tok), name, sizeof(name), &role), 0);
    assert_string_equal(name, "ci");
    assert_int_equal(role, TRL_ROLE_VIEWER);
    char bad[TRL_TOKEN_LEN + 1];
    memcpy(bad, tok, sizeof(bad));
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    assert_int_equal(trl_tokens_check(u, bad, strlen(bad), name, sizeof(name), &role),
                     TRL_ENOMATCH);
    assert_int_equal(trl_tokens_check(u, tok, 10, name, sizeof(name), &role), TRL_ENOMATCH);
    /* The database holds no token, only digests. */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "grep -q '%s' '%s/users.db'", tok + 4, dir);
    assert_int_not_equal(system(cmd), 0);
    assert_int_equal(trl_tokens_revoke(u, id), 0);
    assert_int_equal(trl_tokens_check(u, tok, strlen(tok), name, sizeof(name), &role),
                     TRL_ENOMATCH);
    assert_int_equal(trl_tokens_revoke(u, id), -ENOENT);
    trl_users_close(u);
    remove_dir(dir);
}

static void test_sessions_expire_when_idle(void **state)
{
    (void)state;
    struct trl_sessions *s = trl_sessions_create(4, 10 * SEC);
    char id[TRL_SESSION_ID_LEN + 1];
    struct trl_session_info si, got;
    trl_sessions_start(s, "ann", TRL_ROLE_ANALYST, 100 * SEC, id, &si);
    assert_int_equal(strlen(id), TRL_SESSION_ID_LEN);
    assert_int_equal(strlen(si.csrf), TRL_SESSION_ID_LEN);
    assert_string_not_equal(id, si.csrf);
    assert_true(trl_sessions_get(s, id, strlen(id), 105 * SEC, &got));
    assert_string_equal(got.user, "ann");
    assert_string_equal(got.csrf, si.csrf);
    /* Use keeps it alive; 10 s without use ends it. */
    assert_true(trl_sessions_get(s, id, strlen(id), 114 * SEC, &got));
    assert_false(trl_sessions_get(s, id, strlen(id), 124 * SEC, &got));
    assert_false(trl_sessions_get(s, id, 5, 124 * SEC, &got));
    trl_sessions_start(s, "bob", TRL_ROLE_VIEWER, 200 * SEC, id, &si);
    trl_sessions_end_user(s, "bob");
    assert_false(trl_sessions_get(s, id, strlen(id), 201 * SEC, &got));
    trl_sessions_destroy(s);
}

static void test_sessions_full_table_drops_least_recent(void **state)
{
    (void)state;
    struct trl_sessions *s = trl_sessions_create(2, 1000 * SEC);
    char a[TRL_SESSION_ID_LEN + 1], b[TRL_SESSION_ID_LEN + 1], c[TRL_SESSION_ID_LEN + 1];
    struct trl_session_info si;
    trl_sessions_start(s, "a", 0, 1 * SEC, a, &si);
    trl_sessions_start(s, "b", 0, 2 * SEC, b, &si);
    assert_true(trl_sessions_get(s, a, strlen(a), 3 * SEC, &si)); /* a is now the newer */
    trl_sessions_start(s, "c", 0, 4 * SEC, c, &si);
    assert_true(trl_sessions_get(s, a, strlen(a), 5 * SEC, &si));
    assert_false(trl_sessions_get(s, b, strlen(b), 5 * SEC, &si));
    assert_true(trl_sessions_get(s, c, strlen(c), 5 * SEC, &si));
    trl_sessions_end(s, c, strlen(c));
    assert_false(trl_sessions_get(s, c, strlen(c), 6 * SEC, &si));
    trl_sessions_destroy(s);
}

static void test_throttle_locks_exponentially(void **state)
{
    (void)state;
    struct trl_throttle *t = trl_throttle_create(8);
    int64_t now = 1000 * SEC;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(trl_throttle_wait(t, "u:ann", now), 0);
        trl_throttle_fail(t, "u:ann", 5, now);
    }
    assert_int_equal(trl_throttle_wait(t, "u:ann", now), 0);
    trl_throttle_fail(t, "u:ann", 5, now); /* the fifth failure locks */
    assert_int_equal(trl_throttle_wait(t, "u:ann", now), TRL_THROTTLE_BASE_NS);
    assert_int_equal(trl_throttle_wait(t, "u:bob", now), 0);
    now += TRL_THROTTLE_BASE_NS;
    assert_int_equal(trl_throttle_wait(t, "u:ann", now), 0);
    trl_throttle_fail(t, "u:ann", 5, now); /* each further failure doubles the lock */
    assert_int_equal(trl_throttle_wait(t, "u:ann", now), 2 * TRL_THROTTLE_BASE_NS);
    for (int i = 0; i < 30; i++)
        trl_throttle_fail(t, "u:ann", 5, now);
    assert_int_equal(trl_throttle_wait(t, "u:ann", now), TRL_THROTTLE_MAX_NS);
    trl_throttle_clear(t, "u:ann");
    assert_int_equal(trl_throttle_wait(t, "u:ann", now), 0);
    trl_throttle_destroy(t);
}

static void test_throttle_forgets_old_failures_and_bounds_keys(void **state)
{
    (void)state;
    struct trl_throttle *t = trl_throttle_create(2);
    int64_t now = 1000 * SEC;
    for (int i = 0; i < 4; i++)
        trl_throttle_fail(t, "a:10.0.0.1", 5, now);
    now += TRL_THROTTLE_FORGET_NS;
    trl_throttle_fail(t, "a:10.0.0.1", 5, now); /* counts as the first again */
    assert_int_equal(trl_throttle_wait(t, "a:10.0.0.1", now), 0);
    /* More keys than slots: the oldest goes, nothing overflows. */
    trl_throttle_fail(t, "a:10.0.0.2", 1, now + 1);
    trl_throttle_fail(t, "a:10.0.0.3", 1, now + 2);
    assert_int_equal(trl_throttle_wait(t, "a:10.0.0.3", now + 2), TRL_THROTTLE_BASE_NS);
    trl_throttle_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_round_trip),
        cmocka_unit_test(test_users_add_verify_remove),
        cmocka_unit_test(test_first_admin_is_created_once),
        cmocka_unit_test(test_tokens_hashed_checked_revoked),
        cmocka_unit_test(test_sessions_expire_when_idle),
        cmocka_unit_test(test_sessions_full_table_drops_least_recent),
        cmocka_unit_test(test_throttle_locks_exponentially),
        cmocka_unit_test(test_throttle_forgets_old_failures_and_bounds_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
