#include "norm_test.h"

static void test_pam_sshd_authentication_failure(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                           "tty=ssh ruser= rhost=203.0.113.45  user=root");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_values(ev, TRL_F_RELATED_IP, "203.0.113.45");
    assert_values(ev, TRL_F_RELATED_USER, "root");
    assert_named(ev, "pam.module", "pam_unix");
    assert_named(ev, "pam.service", "sshd");
    assert_named(ev, "pam.tty", "ssh");
}

static void test_pam_authentication_failure_without_user(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                           "tty=ssh ruser= rhost=203.0.113.45");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
}

static void test_pam_rhost_host_name_goes_to_source_domain(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                           "tty=ssh ruser= rhost=scanner.example user=alice");
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "scanner.example");
    assert_named(ev, "pam.module", "pam_sss");
}

static void test_pam_check_pass_user_unknown(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("sshd", "pam_unix(sshd:auth): check pass; user unknown");
    assert_class(ev, "authentication", "info", "pam-user-unknown", "failure");
    assert_field(ev, TRL_F_USER_NAME, NULL);
}

static void test_pam_session_opened_and_closed(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "login", "pam_unix(login:session): session opened for user root(uid=0) by LOGIN(uid=0)");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, NULL);

    /* Before Linux-PAM 1.4 the uid of the target was not written. */
    ev = normalized("sshd", "pam_unix(sshd:session): session opened for user www-data by (uid=0)");
    assert_field(ev, TRL_F_USER_NAME, "www-data");
    assert_field(ev, TRL_F_USER_ID, NULL);

    ev = normalized("sshd", "pam_unix(sshd:session): session closed for user alice");
    assert_class(ev, "session", "end", "session-closed", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
}

static void test_pam_account_expired_and_locked(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "pam_unix(sshd:account): account bob has expired (account expired)");
    assert_class(ev, "authentication", "info", "account-expired", "failure");
    assert_field(ev, TRL_F_USER_NAME, "bob");

    ev = normalized("sshd", "pam_faillock(sshd:auth): Consecutive login failures for user root "
                            "account temporarily locked");
    assert_class(ev, "authentication", "info", "account-locked", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_named(ev, "pam.module", "pam_faillock");

    ev = normalized("sshd", "pam_tally2(sshd:auth): user root (0) tally 4, deny 3");
    assert_class(ev, "authentication", "info", "account-locked", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_ID, "0");

    ev = normalized("cron",
                    "pam_unix(cron:account): expired password for user root (password aged)");
    assert_class(ev, "authentication", "info", "password-expired", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
}

static void test_pam_sudo_could_not_identify_password(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "pam_unix(sudo:auth): auth could not identify password for [alice]");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "alice");
}

static void test_pam_sshd_more_failures_summary(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh "
                           "ruser= rhost=203.0.113.45  user=root");
    assert_class(ev, "authentication", "info", "pam-auth-failed-summary", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_named(ev, "pam.failures", "2");
}

static void test_pam_old_tag_with_module_in_logger(void **state)
{
    (void)state;
    struct trl_event *ev = norm_event("sshd", "authentication failure; logname= uid=0 euid=0 "
                                              "tty=NODEVssh ruser= rhost=198.51.100.2  user=root");
    trl_event_set_str(ev, TRL_F_LOG_LOGGER, "pam_unix");
    trl_normalize(ev);
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.2");
    assert_named(ev, "pam.module", "pam_unix");

    ev = norm_event("sshd", "session opened for user root by (uid=0)");
    trl_event_set_str(ev, TRL_F_LOG_LOGGER, "pam_unix");
    trl_normalize(ev);
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
}

static void test_pam_lines_of_any_program_are_dispatched(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "vsftpd", "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp "
                  "ruser=anonymous rhost=192.0.2.77  user=ftpuser");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "anonymous");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "ftpuser");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.77");
    assert_named(ev, "pam.service", "vsftpd");
}

static void test_pam_message_repeated(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "message repeated 3 times: [ pam_unix(sshd:auth): authentication failure; "
                "logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.45  user=root]");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_named(ev, "trapline.repeat_count", "3");
    assert_field(ev, TRL_F_USER_NAME, "root");
}

static void test_pam_unknown_and_malformed(void **state)
{
    (void)state;
    assert_no_match(trl_norm_pam, "sshd", "");
    assert_no_match(trl_norm_pam, "sshd", "pam_unix(");
    assert_no_match(trl_norm_pam, "sshd", "pam_unix(sshd:auth)");
    assert_no_match(trl_norm_pam, "sshd", "pam_unix(sshd:auth): ");
    assert_no_match(trl_norm_pam, "sshd", "pam_unix(sshd:session): session opened for user ");
    assert_no_match(trl_norm_pam, "sshd",
                    "pam_unix(sshd:session): session opened for user (uid=0)");
    assert_no_match(trl_norm_pam, "sshd", "pam_unix(sshd:account): account  has expired");
    assert_no_match(trl_norm_pam, "sshd", "pam_systemd(sshd:session): New sd-bus connection");
    assert_no_match(trl_norm_pam, "sshd", "PAM service(sshd) ignoring max retries; 6 > 3");
    assert_no_match(trl_norm_pam, "sshd", "PAM x more authentication failures");
}

static void test_pam_survives_every_truncation(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        "rhost=203.0.113.45  user=root",
        "pam_unix(sudo:session): session opened for user root(uid=0) by svc_backup(uid=1001)",
        "pam_unix(sshd:account): account bob has expired (account expired)",
        "pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily "
        "locked",
        "pam_tally2(sshd:auth): user root (0) tally 4, deny 3",
        "pam_unix(sudo:auth): auth could not identify password for [alice]",
        "PAM 2 more authentication failures; logname= uid=0 rhost=1.2.3.4  user=root",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++)
        norm_survive_prefixes(trl_norm_pam, "sshd", lines[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pam_sshd_authentication_failure),
        cmocka_unit_test(test_pam_authentication_failure_without_user),
        cmocka_unit_test(test_pam_rhost_host_name_goes_to_source_domain),
        cmocka_unit_test(test_pam_check_pass_user_unknown),
        cmocka_unit_test(test_pam_session_opened_and_closed),
        cmocka_unit_test(test_pam_account_expired_and_locked),
        cmocka_unit_test(test_pam_sudo_could_not_identify_password),
        cmocka_unit_test(test_pam_sshd_more_failures_summary),
        cmocka_unit_test(test_pam_old_tag_with_module_in_logger),
        cmocka_unit_test(test_pam_lines_of_any_program_are_dispatched),
        cmocka_unit_test(test_pam_message_repeated),
        cmocka_unit_test(test_pam_unknown_and_malformed),
        cmocka_unit_test(test_pam_survives_every_truncation),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
