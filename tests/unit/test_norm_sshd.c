#include "norm_test.h"

static void test_sshd_accepted_password(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "Accepted password for svc_backup from 10.20.1.15 port 44230 ssh2");
    assert_class(ev, "authentication", "start", "ssh-login", "success");
    assert_field(ev, TRL_F_USER_NAME, "svc_backup");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_SOURCE_PORT, "44230");
    assert_values(ev, TRL_F_RELATED_IP, "10.20.1.15");
    assert_values(ev, TRL_F_RELATED_USER, "svc_backup");
    assert_named(ev, "sshd.method", "password");
    assert_named(ev, "sshd.invalid_user", NULL);
    assert_named(ev, "sshd.key_type", NULL);
    /* The tag fields the parser set stay as they were. */
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "4242");
}

static void test_sshd_accepted_publickey_keeps_key_type_and_fingerprint(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd-session", "Accepted publickey for alice from 2001:db8::7 port 50522 ssh2: "
                                   "ED25519 SHA256:pqg0sJ7m5ZCsYPlZ3pVv2xW9P3fE0yqQkq3R8nX1a2c");
    assert_class(ev, "authentication", "start", "ssh-login", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_SOURCE_IP, "2001:db8::7");
    assert_field(ev, TRL_F_SOURCE_PORT, "50522");
    assert_named(ev, "sshd.method", "publickey");
    assert_named(ev, "sshd.key_type", "ED25519");
    assert_named(ev, "sshd.key_fingerprint", "SHA256:pqg0sJ7m5ZCsYPlZ3pVv2xW9P3fE0yqQkq3R8nX1a2c");
}

static void test_sshd_accepted_keyboard_interactive_pam_method_is_the_base_method(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Accepted keyboard-interactive/pam for bob from 192.0.2.10 port 2222 ssh2");
    assert_class(ev, "authentication", "start", "ssh-login", "success");
    assert_field(ev, TRL_F_USER_NAME, "bob");
    assert_named(ev, "sshd.method", "keyboard-interactive");
}

static void test_sshd_failed_password(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "Failed password for root from 203.0.113.45 port 51200 ssh2");
    assert_class(ev, "authentication", "start", "ssh-login-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51200");
    assert_named(ev, "sshd.method", "password");
    assert_named(ev, "sshd.invalid_user", NULL);
}

static void test_sshd_failed_password_for_invalid_user(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Failed password for invalid user admin from 203.0.113.45 port 51120 ssh2");
    assert_class(ev, "authentication", "start", "ssh-login-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "admin");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51120");
    assert_named(ev, "sshd.invalid_user", "true");
}

static void test_sshd_failed_publickey_with_key(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Failed publickey for git from 198.51.100.3 port 40000 ssh2: RSA SHA256:abc+/def");
    assert_class(ev, "authentication", "start", "ssh-login-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "git");
    assert_named(ev, "sshd.method", "publickey");
    assert_named(ev, "sshd.key_type", "RSA");
    assert_named(ev, "sshd.key_fingerprint", "SHA256:abc+/def");
}

static void test_sshd_user_name_with_spaces_and_fake_address_uses_last_address(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "Failed password for invalid user x from 6.6.6.6 port 1 from 192.0.2.9 "
                           "port 5555 ssh2");
    assert_field(ev, TRL_F_USER_NAME, "x from 6.6.6.6 port 1");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.9");
    assert_field(ev, TRL_F_SOURCE_PORT, "5555");
    assert_values(ev, TRL_F_RELATED_IP, "192.0.2.9");
    ev = normalized("sshd", "Invalid user john 'o doe from 192.0.2.9 port 22");
    assert_field(ev, TRL_F_USER_NAME, "john 'o doe");
}

static void test_sshd_partial_and_postponed(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "Partial publickey for carol from 192.0.2.4 port 1000 ssh2: ECDSA "
                           "SHA256:xyz");
    assert_class(ev, "authentication", "info", "ssh-login-partial", "unknown");
    assert_field(ev, TRL_F_USER_NAME, "carol");
    ev = normalized("sshd", "Postponed keyboard-interactive for carol from 192.0.2.4 port 1000 "
                            "ssh2 [preauth]");
    assert_class(ev, "authentication", "info", "ssh-login-postponed", "unknown");
    assert_field(ev, TRL_F_SOURCE_PORT, "1000");
}

static void test_sshd_invalid_user(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("sshd", "Invalid user admin from 203.0.113.45 port 51120");
    assert_class(ev, "authentication", "info", "ssh-invalid-user", "failure");
    assert_field(ev, TRL_F_USER_NAME, "admin");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51120");
    assert_named(ev, "sshd.invalid_user", "true");
    assert_values(ev, TRL_F_RELATED_USER, "admin");
}

static void test_sshd_invalid_user_without_port_from_old_releases(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("sshd", "Invalid user oracle from 203.0.113.45");
    assert_class(ev, "authentication", "info", "ssh-invalid-user", "failure");
    assert_field(ev, TRL_F_USER_NAME, "oracle");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
}

static void test_sshd_connection_closed_variants(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Connection closed by invalid user admin 203.0.113.45 port 51120 [preauth]");
    assert_class(ev, "session", "end", "ssh-connection-closed", NULL);
    assert_field(ev, TRL_F_USER_NAME, "admin");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51120");
    assert_named(ev, "sshd.invalid_user", "true");

    ev = normalized("sshd",
                    "Connection closed by authenticating user root 203.0.113.45 port 4 [preauth]");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_named(ev, "sshd.invalid_user", NULL);

    ev = normalized("sshd", "Connection closed by 203.0.113.45 port 4 [preauth]");
    assert_class(ev, "session", "end", "ssh-connection-closed", NULL);
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_values(ev, TRL_F_RELATED_USER, "");

    ev = normalized("sshd", "Connection reset by 203.0.113.45 port 4");
    assert_class(ev, "session", "end", "ssh-connection-reset", NULL);
    assert_field(ev, TRL_F_SOURCE_PORT, "4");
}

static void test_sshd_disconnected_from_user(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("sshd", "Disconnected from user alice 10.0.0.5 port 60000");
    assert_class(ev, "session", "end", "ssh-disconnect", NULL);
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");
    assert_field(ev, TRL_F_SOURCE_PORT, "60000");

    ev = normalized("sshd", "Disconnected from invalid user test 10.0.0.5 port 6 [preauth]");
    assert_field(ev, TRL_F_USER_NAME, "test");
    assert_named(ev, "sshd.invalid_user", "true");

    ev = normalized("sshd", "Disconnected from authenticating user root 10.0.0.5 port 7 [preauth]");
    assert_field(ev, TRL_F_USER_NAME, "root");

    ev = normalized("sshd", "Disconnected from 10.0.0.5 port 8");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");
}

static void test_sshd_received_disconnect(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "Received disconnect from 10.0.0.5 port 60000:11: disconnected by user");
    assert_class(ev, "session", "end", "ssh-disconnect-received", NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");
    assert_field(ev, TRL_F_SOURCE_PORT, "60000");
    assert_named(ev, "sshd.disconnect_code", "11");
    assert_field(ev, TRL_F_EVENT_REASON, "disconnected by user");

    /* The reason is the peer's text: an address in it is not the source. */
    ev =
        normalized("sshd", "Received disconnect from 10.0.0.5 port 6:11: 1.2.3.4 port 9 [preauth]");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");
    assert_field(ev, TRL_F_EVENT_REASON, "1.2.3.4 port 9");

    ev = normalized("sshd", "Received disconnect from 10.0.0.5: 11: Bye Bye");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
    assert_field(ev, TRL_F_EVENT_REASON, "Bye Bye");
}

static void test_sshd_max_auth_exceeded(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "error: maximum authentication attempts exceeded for root from "
                           "203.0.113.45 port 51200 ssh2 [preauth]");
    assert_class(ev, "authentication", "info", "ssh-max-auth-exceeded", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51200");

    ev = normalized("sshd", "maximum authentication attempts exceeded for invalid user pi from "
                            "203.0.113.45 port 3 ssh2 [preauth]");
    assert_field(ev, TRL_F_USER_NAME, "pi");
    assert_named(ev, "sshd.invalid_user", "true");
}

static void test_sshd_disconnecting_too_many_failures(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "Disconnecting authenticating user root 203.0.113.45 port 51200: Too "
                           "many authentication failures [preauth]");
    assert_class(ev, "session", "end", "ssh-disconnecting", NULL);
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51200");
    assert_field(ev, TRL_F_EVENT_REASON, "Too many authentication failures");

    ev = normalized("sshd", "Disconnecting invalid user guest 203.0.113.45 port 9: Too many "
                            "authentication failures [preauth]");
    assert_field(ev, TRL_F_USER_NAME, "guest");
    assert_named(ev, "sshd.invalid_user", "true");

    ev = normalized("sshd", "Disconnecting: Too many authentication failures for admin [preauth]");
    assert_class(ev, "session", "end", "ssh-disconnecting", NULL);
    assert_field(ev, TRL_F_USER_NAME, "admin");
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_field(ev, TRL_F_EVENT_REASON, "Too many authentication failures for admin");
}

static void test_sshd_message_repeated_sets_repeat_count(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "message repeated 5 times: [ Failed password for root "
                           "from 203.0.113.45 port 51200 ssh2]");
    assert_class(ev, "authentication", "start", "ssh-login-failed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_named(ev, "trapline.repeat_count", "5");
    /* The message itself is left as received. */
    size_t len;
    const char *m = trl_event_get(ev, TRL_F_MESSAGE, &len);
    assert_true(trl_starts_with(m, len, "message repeated 5 times"));
}

static void test_sshd_pam_session_opened(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "pam_unix(sshd:session): session opened for user svc_backup(uid=1001) by (uid=0)");
    assert_class(ev, "session", "start", "session-opened", "success");
    assert_field(ev, TRL_F_USER_NAME, "svc_backup");
    assert_field(ev, TRL_F_USER_ID, "1001");
    assert_field(ev, TRL_F_USER_TARGET_NAME, NULL);
    assert_named(ev, "pam.module", "pam_unix");
    assert_named(ev, "pam.service", "sshd");
    /* Called directly, the sshd normaliser hands PAM lines over too. */
    struct trl_event *direct = norm_event("sshd", "");
    const char *msg = "pam_unix(sshd:session): session closed for user svc_backup";
    assert_int_equal(trl_norm_sshd(direct, msg, strlen(msg)), 0);
    assert_class(direct, "session", "end", "session-closed", "success");
}

static void test_sshd_server_listening_and_signal(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("sshd", "Server listening on 0.0.0.0 port 22.");
    assert_class(ev, "network", "start", "ssh-server-listening", NULL);
    assert_named(ev, "server.ip", "0.0.0.0");
    assert_named(ev, "server.port", "22");
    assert_values(ev, TRL_F_RELATED_IP, "");

    ev = normalized("sshd", "Server listening on :: port 2222.");
    assert_named(ev, "server.ip", "::");
    assert_named(ev, "server.port", "2222");

    ev = normalized("sshd", "Received signal 15; terminating.");
    assert_class(ev, "process", "end", "ssh-server-stopped", NULL);
}

static void test_sshd_connection_from(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Connection from 203.0.113.45 port 51120 on 10.20.1.10 port 22 rdomain \"\"");
    assert_class(ev, "network", "connection,start", "ssh-connection", NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "51120");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.20.1.10");
    assert_field(ev, TRL_F_DESTINATION_PORT, "22");
    assert_values(ev, TRL_F_RELATED_IP, "203.0.113.45,10.20.1.10");
}

static void test_sshd_timeouts(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("sshd", "Timeout, client not responding.");
    assert_class(ev, "session", "end", "ssh-timeout", NULL);
    assert_field(ev, TRL_F_SOURCE_IP, NULL);

    ev = normalized("sshd", "Timeout, client not responding from user alice 10.0.0.5 port 22");
    assert_class(ev, "session", "end", "ssh-timeout", NULL);
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");

    ev = normalized("sshd", "fatal: Timeout before authentication for 198.51.100.7 port 40404");
    assert_class(ev, "session", "end", "ssh-auth-timeout", "failure");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.7");
    assert_field(ev, TRL_F_SOURCE_PORT, "40404");
}

static void test_sshd_negotiation_and_banner_failures(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Unable to negotiate with 198.51.100.7 port 40404: no matching key exchange "
                "method found. Their offer: diffie-hellman-group1-sha1 [preauth]");
    assert_class(ev, "network", "connection,denied", "ssh-negotiation-failed", "failure");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.7");
    assert_field(ev, TRL_F_SOURCE_PORT, "40404");
    assert_field(ev, TRL_F_EVENT_REASON,
                 "no matching key exchange method found. Their offer: "
                 "diffie-hellman-group1-sha1");

    ev = normalized("sshd",
                    "banner exchange: Connection from 198.51.100.7 port 40405: invalid format");
    assert_class(ev, "network", "protocol", "ssh-bad-banner", "failure");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.7");
    assert_field(ev, TRL_F_SOURCE_PORT, "40405");
    assert_field(ev, TRL_F_EVENT_REASON, "invalid format");

    ev = normalized("sshd", "Did not receive identification string from 198.51.100.7 port 40406");
    assert_class(ev, "network", "connection", "ssh-no-identification", "failure");
    assert_field(ev, TRL_F_SOURCE_PORT, "40406");

    ev = normalized("sshd", "Did not receive identification string from 198.51.100.7");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.7");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);

    ev = normalized("sshd", "Bad protocol version identification 'GET / HTTP/1.1' from "
                            "198.51.100.7 port 40407");
    assert_class(ev, "network", "protocol", "ssh-bad-banner", "failure");
    assert_field(ev, TRL_F_SOURCE_IP, "198.51.100.7");
}

static void test_sshd_user_not_allowed(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("sshd", "User root from 192.0.2.1 not allowed because not listed in AllowUsers");
    assert_class(ev, "authentication", "info", "ssh-user-not-allowed", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "192.0.2.1");
    assert_field(ev, TRL_F_EVENT_REASON, "not listed in AllowUsers");

    ev = normalized("sshd", "User bob from host.example not allowed because shell /bin/false does "
                            "not exist");
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_field(ev, TRL_F_SOURCE_DOMAIN, "host.example");
}

static void test_sshd_session_start_and_close(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Starting session: shell on pts/0 for alice from 10.0.0.5 port 60000 id 0");
    assert_class(ev, "session", "start", "ssh-session-start", "success");
    assert_field(ev, TRL_F_USER_NAME, "alice");
    assert_field(ev, TRL_F_SOURCE_IP, "10.0.0.5");

    ev = normalized("sshd",
                    "Starting session: subsystem 'sftp' for bob from 10.0.0.6 port 60001 id 0");
    assert_field(ev, TRL_F_USER_NAME, "bob");

    ev = normalized("sshd", "Close session: user alice from 10.0.0.5 port 60000 id 0");
    assert_class(ev, "session", "end", "ssh-session-close", NULL);
    assert_field(ev, TRL_F_USER_NAME, "alice");
}

static void test_sshd_drop_connection(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd",
        "drop connection #10 from [203.0.113.45]:50000 on [10.20.1.10]:22 past MaxStartups");
    assert_class(ev, "network", "connection,denied", "ssh-connection-dropped", "failure");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, "50000");
    assert_field(ev, TRL_F_DESTINATION_IP, "10.20.1.10");
    assert_field(ev, TRL_F_DESTINATION_PORT, "22");
    assert_field(ev, TRL_F_EVENT_REASON, "past MaxStartups");
}

static void test_sshd_port_out_of_range_is_not_set(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "sshd", "Failed password for root from 203.0.113.45 port 99999999999999999999999 ssh2");
    assert_class(ev, "authentication", "start", "ssh-login-failed", "failure");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_SOURCE_PORT, NULL);
}

static void test_sshd_unknown_and_malformed_lines_leave_event_untouched(void **state)
{
    (void)state;
    assert_no_match(trl_norm_sshd, "sshd", "");
    assert_no_match(trl_norm_sshd, "sshd", "Failed password for");
    assert_no_match(trl_norm_sshd, "sshd", "Failed password for root from");
    assert_no_match(trl_norm_sshd, "sshd", "Failed password for root from 1.2.3.4 port");
    assert_no_match(trl_norm_sshd, "sshd", "Failed password for root from 1.2.3.4 port x ssh2");
    assert_no_match(trl_norm_sshd, "sshd", "Failed password for root from 999.2.3.4 port 1 ssh2");
    assert_no_match(trl_norm_sshd, "sshd", "Failed password for root from 1.2.3.4 port 1 junk");
    assert_no_match(trl_norm_sshd, "sshd", "Invalid user");
    assert_no_match(trl_norm_sshd, "sshd", "Invalid user x from nowhere");
    assert_no_match(trl_norm_sshd, "sshd", "Connection closed by");
    assert_no_match(trl_norm_sshd, "sshd", "Received disconnect from 10.0.0.5 port");
    assert_no_match(trl_norm_sshd, "sshd", "Connection from 1.2.3.4 port 1 on");
    assert_no_match(trl_norm_sshd, "sshd", "Server listening on port 22.");
    assert_no_match(trl_norm_sshd, "sshd", "Received signal x; terminating.");
    assert_no_match(trl_norm_sshd, "sshd", "drop connection #1 from [1.2.3.4:5");
    assert_no_match(trl_norm_sshd, "sshd", "message repeated 2 times: [ nonsense]");
    assert_no_match(trl_norm_sshd, "sshd", "message repeated 2 times: [");
    assert_no_match(trl_norm_sshd, "sshd",
                    "error: kex_exchange_identification: Connection "
                    "closed by remote host");
    assert_no_match(trl_norm_sshd, "sshd", "pam_unix(sshd:auth): something new");
    assert_no_match(trl_norm_sshd, "sshd", "Accepted key RSA SHA256:x found at /home/a/.ssh/x");
}

static void test_sshd_survives_every_truncation(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "Accepted publickey for alice from 2001:db8::7 port 50522 ssh2: ED25519 SHA256:abc",
        "Failed password for invalid user admin from 203.0.113.45 port 51120 ssh2",
        "Invalid user admin from 203.0.113.45 port 51120",
        "Connection closed by authenticating user root 203.0.113.45 port 4 [preauth]",
        "Disconnected from user alice 10.0.0.5 port 60000",
        "Received disconnect from 10.0.0.5 port 60000:11: disconnected by user",
        "error: maximum authentication attempts exceeded for root from 1.2.3.4 port 5 ssh2 "
        "[preauth]",
        "Disconnecting authenticating user root 1.2.3.4 port 5: Too many authentication failures",
        "Disconnecting: Too many authentication failures for admin [preauth]",
        "message repeated 3 times: [ Failed password for root from 1.2.3.4 port 5 ssh2]",
        "Server listening on 0.0.0.0 port 22.",
        "Connection from 1.2.3.4 port 5 on 10.0.0.1 port 22 rdomain \"\"",
        "Timeout, client not responding from user alice 10.0.0.5 port 22",
        "Unable to negotiate with 1.2.3.4 port 5: no matching key exchange method found.",
        "banner exchange: Connection from 1.2.3.4 port 5: invalid format",
        "Did not receive identification string from 1.2.3.4 port 5",
        "User root from 192.0.2.1 not allowed because not listed in AllowUsers",
        "Starting session: shell on pts/0 for alice from 10.0.0.5 port 60000 id 0",
        "drop connection #10 from [1.2.3.4]:5 on [10.0.0.1]:22 past MaxStartups",
        "Received signal 15; terminating.",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        "rhost=1.2.3.4  user=root",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++)
        norm_survive_prefixes(trl_norm_sshd, "sshd", lines[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sshd_accepted_password),
        cmocka_unit_test(test_sshd_accepted_publickey_keeps_key_type_and_fingerprint),
        cmocka_unit_test(test_sshd_accepted_keyboard_interactive_pam_method_is_the_base_method),
        cmocka_unit_test(test_sshd_failed_password),
        cmocka_unit_test(test_sshd_failed_password_for_invalid_user),
        cmocka_unit_test(test_sshd_failed_publickey_with_key),
        cmocka_unit_test(test_sshd_user_name_with_spaces_and_fake_address_uses_last_address),
        cmocka_unit_test(test_sshd_partial_and_postponed),
        cmocka_unit_test(test_sshd_invalid_user),
        cmocka_unit_test(test_sshd_invalid_user_without_port_from_old_releases),
        cmocka_unit_test(test_sshd_connection_closed_variants),
        cmocka_unit_test(test_sshd_disconnected_from_user),
        cmocka_unit_test(test_sshd_received_disconnect),
        cmocka_unit_test(test_sshd_max_auth_exceeded),
        cmocka_unit_test(test_sshd_disconnecting_too_many_failures),
        cmocka_unit_test(test_sshd_message_repeated_sets_repeat_count),
        cmocka_unit_test(test_sshd_pam_session_opened),
        cmocka_unit_test(test_sshd_server_listening_and_signal),
        cmocka_unit_test(test_sshd_connection_from),
        cmocka_unit_test(test_sshd_timeouts),
        cmocka_unit_test(test_sshd_negotiation_and_banner_failures),
        cmocka_unit_test(test_sshd_user_not_allowed),
        cmocka_unit_test(test_sshd_session_start_and_close),
        cmocka_unit_test(test_sshd_drop_connection),
        cmocka_unit_test(test_sshd_port_out_of_range_is_not_set),
        cmocka_unit_test(test_sshd_unknown_and_malformed_lines_leave_event_untouched),
        cmocka_unit_test(test_sshd_survives_every_truncation),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
