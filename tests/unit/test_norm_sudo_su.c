#include "norm_test.h"

static void test_sudo_command_as_root(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sudo", "  svc_backup : TTY=pts/0 ; PWD=/home/svc_backup ; USER=root ; COMMAND=/bin/bash");
    assert_class(ev, "process", "start", "sudo-command", "success");
    assert_field(ev, TRL_F_USER_NAME, "svc_backup");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/bin/bash");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/bin/bash");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/home/svc_backup");
    assert_named(ev, "sudo.tty", "pts/0");
    assert_values(ev, TRL_F_RELATED_USER, "svc_backup,root");
    assert_field(ev, TRL_F_EVENT_REASON, NULL);
    /* process.name and pid stay those of sudo itself, from the syslog tag. */
    assert_field(ev, TRL_F_PROCESS_NAME, "sudo");
    assert_field(ev, TRL_F_PROCESS_PID, "4242");
}

static void test_sudo_command_with_arguments_keeps_whole_command_line(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sudo", "svc_backup : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/sbin/iptables -I "
                "INPUT -p tcp --dport 9998 -j ACCEPT");
    assert_class(ev, "process", "start", "sudo-command", "success");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE,
                 "/usr/sbin/iptables -I INPUT -p tcp --dport 9998 -j ACCEPT");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/sbin/iptables");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/root");
}

static void test_sudo_command_containing_separator_runs_to_end(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "alice : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh -c 'id ; "
                           "ufw allow 9999'");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/bin/sh -c 'id ; ufw allow 9999'");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/bin/sh");
}

static void test_sudo_group_env_and_tsid(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "alice : TTY=pts/1 ; PWD=/srv ; USER=postgres ; GROUP=dba ; "
                           "TSID=00000A ; ENV=PGDATA=/srv/pg LANG=C ; COMMAND=/usr/bin/psql");
    assert_class(ev, "process", "start", "sudo-command", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "postgres");
    assert_named(ev, "user.target.group.name", "dba");
    assert_named(ev, "sudo.env", "PGDATA=/srv/pg LANG=C");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/usr/bin/psql");
}

static void test_sudo_command_exit_status(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sudo", "alice : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/false ; EXIT=1");
    assert_class(ev, "process", "end", "sudo-command-exit", NULL);
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/usr/bin/false");
    assert_named(ev, "process.exit_code", "1");
}

static void test_sudo_incorrect_password_attempts(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "   alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice "
                           "; USER=root ; COMMAND=/usr/bin/bash");
    assert_class(ev, "authentication", "start", "sudo-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_field(ev, TRL_F_EVENT_REASON, "3 incorrect password attempts");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/usr/bin/bash");

    ev = normalized("sudo", "alice : 1 incorrect password attempt ; TTY=pts/0 ; PWD=/ ; USER=root "
                            "; COMMAND=/bin/ls");
    assert_class(ev, "authentication", "start", "sudo-auth-failed", "failure");
}

static void test_sudo_policy_refusals(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; "
                           "COMMAND=/bin/cat /etc/shadow");
    assert_class(ev, "authentication", "info", "sudo-not-in-sudoers", "failure");
    assert_field(ev, TRL_F_USER_NAME, "mallory");
    assert_field(ev, TRL_F_EVENT_REASON, "user NOT in sudoers");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/bin/cat /etc/shadow");

    ev = normalized("sudo", "bob : command not allowed ; TTY=pts/2 ; PWD=/ ; USER=root ; "
                            "COMMAND=/usr/bin/vim /etc/sudoers");
    assert_class(ev, "authentication", "info", "sudo-command-not-allowed", "failure");

    ev = normalized("sudo", "bob : a password is required ; TTY=unknown ; PWD=/ ; USER=root ; "
                            "COMMAND=/usr/bin/id");
    assert_class(ev, "authentication", "info", "sudo-password-required", "failure");
    assert_named(ev, "sudo.tty", "unknown");

    ev = normalized("sudo", "bob : user NOT authorized on host ; TTY=pts/2 ; PWD=/ ; USER=root ; "
                            "COMMAND=/usr/bin/id");
    assert_class(ev, "authentication", "info", "sudo-host-not-allowed", "failure");

    ev = normalized("sudo", "bob : unable to change directory : No such file ; TTY=pts/2 ; PWD=/x "
                            "; USER=root ; COMMAND=/usr/bin/id");
    assert_class(ev, "authentication", "info", "sudo-denied", "failure");
    assert_field(ev, TRL_F_EVENT_REASON, "unable to change directory : No such file");
}

static void test_sudo_list(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=list");
    assert_class(ev, "process", "info", "sudo-list", "success");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, NULL);
}

static void test_sudo_pam_session_opened_names_actor_and_target(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sudo",
        "pam_unix(sudo:session): session opened for user root(uid=0) by svc_backup(uid=1001)");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "svc_backup");
    assert_field(ev, TRL_F_USER_ID, "1001");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_ID, "0");
    assert_values(ev, TRL_F_RELATED_USER, "svc_backup,root");

    ev = normalized("sudo", "pam_unix(sudo:session): session closed for user root");
    assert_class(ev, "session", "end", "session-closed", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
}

static void test_sudo_pam_auth_failure(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 "
                           "euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_named(ev, "pam.tty", "/dev/pts/0");
}

static void test_sudo_unknown_and_malformed(void **state)
{
    (void)state;
    assert_no_match(trl_norm_sudo, "sudo", "");
    assert_no_match(trl_norm_sudo, "sudo", "alice");
    assert_no_match(trl_norm_sudo, "sudo", "alice : ");
    assert_no_match(trl_norm_sudo, "sudo", "alice : something happened");
    assert_no_match(trl_norm_sudo, "sudo", " : TTY=pts/0 ; COMMAND=/bin/ls");
    assert_no_match(trl_norm_sudo, "sudo", "alice : TTY=pts/0 ; oops ; COMMAND=/bin/ls");
    assert_no_match(trl_norm_sudo, "sudo",
                    "unable to resolve host db01: Name or service not known");
    assert_no_match(trl_norm_sudo, "sudo", "pam_unix(sudo:auth): conversation failed");
}

static void test_su_util_linux_success_and_failure(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("su", "(to root) alice on pts/0");
    assert_class(ev, "authentication", "start", "su-login", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_named(ev, "su.tty", "pts/0");
    assert_values(ev, TRL_F_RELATED_USER, "alice,root");

    ev = normalized("su", "FAILED SU (to root) alice on pts/0");
    assert_class(ev, "authentication", "start", "su-login-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");

    ev = normalized("su", "(to postgres) root on none");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "postgres");
    assert_named(ev, "su.tty", "none");
}

static void test_su_shadow_utils_lines(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("su", "+ pts/0 alice:root");
    assert_class(ev, "authentication", "start", "su-login", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_named(ev, "su.tty", "pts/0");

    ev = normalized("su", "- pts/0 alice:root");
    assert_class(ev, "authentication", "start", "su-login-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "alice");

    ev = normalized("su", "Successful su for root by alice");
    assert_class(ev, "authentication", "start", "su-login", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");

    ev = normalized("su", "FAILED su for root by alice");
    assert_class(ev, "authentication", "start", "su-login-failed", "failure");
}

static void test_su_pam_session_and_auth_failure(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "su", "pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_named(ev, "pam.service", "su-l");

    ev = normalized("su", "pam_unix(su:auth): authentication failure; logname=alice uid=1000 "
                          "euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root");
    assert_class(ev, "authentication", "start", "pam-auth-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
}

static void test_su_unknown_and_malformed(void **state)
{
    (void)state;
    assert_no_match(trl_norm_su, "su", "(to root)");
    assert_no_match(trl_norm_su, "su", "(to root) alice on");
    assert_no_match(trl_norm_su, "su", "(to ) alice on pts/0");
    assert_no_match(trl_norm_su, "su", "FAILED SU (to root");
    assert_no_match(trl_norm_su, "su", "+ pts/0");
    assert_no_match(trl_norm_su, "su", "- pts/0 alice");
    assert_no_match(trl_norm_su, "su", "Successful su for root");
    assert_no_match(trl_norm_su, "su", "Authentication failure");
}

static void test_sudo_su_survive_every_truncation(void **state)
{
    (void)state;
    norm_survive_prefixes(trl_norm_sudo, "sudo",
                          "  alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root "
                          "; GROUP=wheel ; ENV=A=1 ; COMMAND=/bin/sh -c 'a ; b' ; EXIT=0");
    norm_survive_prefixes(trl_norm_sudo, "sudo",
                          "pam_unix(sudo:session): session opened for user root(uid=0) by "
                          "alice(uid=1000)");
    norm_survive_prefixes(trl_norm_su, "su", "FAILED SU (to root) alice on pts/0");
    norm_survive_prefixes(trl_norm_su, "su", "+ pts/0 alice:root");
    norm_survive_prefixes(trl_norm_su, "su", "Successful su for root by alice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sudo_command_as_root),
        cmocka_unit_test(test_sudo_command_with_arguments_keeps_whole_command_line),
        cmocka_unit_test(test_sudo_command_containing_separator_runs_to_end),
        cmocka_unit_test(test_sudo_group_env_and_tsid),
        cmocka_unit_test(test_sudo_command_exit_status),
        cmocka_unit_test(test_sudo_incorrect_password_attempts),
        cmocka_unit_test(test_sudo_policy_refusals),
        cmocka_unit_test(test_sudo_list),
        cmocka_unit_test(test_sudo_pam_session_opened_names_actor_and_target),
        cmocka_unit_test(test_sudo_pam_auth_failure),
        cmocka_unit_test(test_sudo_unknown_and_malformed),
        cmocka_unit_test(test_su_util_linux_success_and_failure),
        cmocka_unit_test(test_su_shadow_utils_lines),
        cmocka_unit_test(test_su_pam_session_and_auth_failure),
        cmocka_unit_test(test_su_unknown_and_malformed),
        cmocka_unit_test(test_sudo_su_survive_every_truncation),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
