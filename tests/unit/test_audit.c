#include "trl_test.h"

#include "formats/parse.h"

#define TRL_TEST_PARSER trl_parse_audit
#include "parse_test.h"

static void test_audit_syscall_sets_process_user_and_syscall_name(void **state)
{
    (void)state;
    struct trl_event *ev = parse(
        "type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59 success=yes exit=0 "
        "a0=55d0c3a4e2a0 a1=55d0c3a4e2c8 a2=7ffd6b1c1e58 a3=0 items=2 ppid=1187 pid=24001 "
        "auid=4294967295 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 "
        "tty=(none) ses=4294967295 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"exec\"\n");
    assert_string_equal(ev->format, "audit");
    assert_true(ev->timestamp_ns == 1720563243412000000LL);
    assert_field(ev, TRL_F_AUDITD_SEQUENCE, "8801");
    assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "SYSCALL");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "execve");
    assert_field(ev, TRL_F_AUDITD_KEY, "exec");
    assert_field(ev, TRL_F_AUDITD_AUID, "4294967295");
    assert_field(ev, TRL_F_AUDITD_SES, "4294967295");
    assert_field(ev, TRL_F_AUDITD_TTY, NULL);
    assert_field(ev, TRL_F_PROCESS_PID, "24001");
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "1187");
    assert_field(ev, TRL_F_PROCESS_NAME, "sh");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/bin/dash");
    assert_field(ev, TRL_F_USER_ID, "33");
    assert_field(ev, TRL_F_USER_EFFECTIVE_ID, "33");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    assert_field(ev, TRL_F_EVENT_KIND, "event");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "process");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_ACTION, "executed");
    /* Register arguments of SYSCALL are hex numbers, not hex-encoded strings. */
    assert_named(ev, "auditd.data.a0", "55d0c3a4e2a0");
    assert_named(ev, "auditd.data.syscall", "59");
    assert_named(ev, "auditd.data.comm", "sh");
    assert_named(ev, "auditd.data.tty", "(none)");
}

static void test_audit_execve_decodes_hex_arguments(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=EXECVE msg=audit(1720563255.730:8804): argc=3 a0=\"sh\" a1=\"-c\" "
              "a2=756E616D65202D613B206970202D3420616464723B20636174202F6574632F6F732D72656C6561"
              "7365");
    assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "EXECVE");
    assert_named(ev, "auditd.data.argc", "3");
    assert_named(ev, "auditd.data.a2", "uname -a; ip -4 addr; cat /etc/os-release");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS),
                        "sh|-c|uname -a; ip -4 addr; cat /etc/os-release");
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, "3");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE,
                 "sh -c \"uname -a; ip -4 addr; cat /etc/os-release\"");
}

static void test_audit_execve_joins_split_argument_pieces(void **state)
{
    (void)state;
    struct trl_event *ev = parse("type=EXECVE msg=audit(1.0:1): argc=3 a0=\"echo\" a1_len=10 "
                                 "a1[0]=68656C6C6F a1[1]=776F726C64 a2=\"x\"");
    assert_named(ev, "auditd.data.a1_len", "10");
    assert_named(ev, "auditd.data.a1", "helloworld");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS), "echo|helloworld|x");
    assert_named(ev, "auditd.execve.continued", NULL);
    /* A record that goes on with an argument begun in the record before says so. */
    ev = parse("type=EXECVE msg=audit(1.0:1): a1[2]=21 a2=\"x\"");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS), "!|x");
    assert_named(ev, "auditd.execve.continued", "true");
}

static void test_audit_proctitle_nul_separators_become_spaces(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=PROCTITLE msg=audit(1720563243.412:8801): proctitle=7368002D63006964");
    assert_field(ev, TRL_F_PROCESS_TITLE, "sh -c id");
    assert_named(ev, "auditd.data.proctitle", "sh -c id");
}

static void test_audit_cwd_and_path_records(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=CWD msg=audit(1720563243.412:8801): cwd=\"/var/www/html/uploads/img\"");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/var/www/html/uploads/img");

    ev = parse("type=PATH msg=audit(1720563243.412:8801): item=0 name=\"/usr/bin/dash\" "
               "inode=131090 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL "
               "cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0");
    assert_field(ev, TRL_F_FILE_PATH, "/usr/bin/dash");
    assert_field(ev, TRL_F_FILE_NAME, "dash");
    assert_field(ev, TRL_F_FILE_INODE, "131090");
    assert_field(ev, TRL_F_FILE_MODE, "0755");
    assert_field(ev, TRL_F_FILE_TYPE, "file");
    assert_field(ev, TRL_F_FILE_UID, "0");
    assert_field(ev, TRL_F_FILE_GID, "0");
    assert_named(ev, "auditd.data.nametype", "NORMAL");
    /* A PATH record is a part of a SYSCALL event: nothing happened by itself. */
    assert_field(ev, TRL_F_EVENT_ACTION, NULL);
    assert_field(ev, TRL_F_EVENT_KIND, "event");
}

static void test_audit_hex_encoded_path_name_and_cwd(void **state)
{
    (void)state;
    /* "/tmp/my dir" and "a b.txt": names with spaces are hex. */
    struct trl_event *ev = parse("type=PATH msg=audit(1.5:2): item=0 name=6120622E747874 "
                                 "nametype=CREATE");
    assert_field(ev, TRL_F_FILE_PATH, "a b.txt");
    ev = parse("type=CWD msg=audit(1.5:2): cwd=2F746D702F6D7920646972");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/tmp/my dir");
}

static void test_audit_user_auth_parses_nested_msg_pairs(void **state)
{
    (void)state;
    struct trl_event *ev = parse(
        "type=USER_AUTH msg=audit(1720564801.201:8811): pid=25001 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" "
        "hostname=203.0.113.45 addr=203.0.113.45 terminal=ssh res=failed'");
    assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "USER_AUTH");
    assert_named(ev, "auditd.data.op", "PAM:authentication");
    assert_named(ev, "auditd.data.grantors", "?");
    assert_named(ev, "auditd.data.terminal", "ssh");
    assert_named(ev, "auditd.data.msg", NULL);
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/sbin/sshd");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "25001");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_EVENT_ACTION, "user-auth");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "authentication");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "info");
    assert_string_equal(array(ev, TRL_F_RELATED_IP), "203.0.113.45");
    assert_string_equal(array(ev, TRL_F_RELATED_USER), "root");
}

static void test_audit_user_login_hex_acct_invalid_user_is_not_a_user_name(void **state)
{
    (void)state;
    struct trl_event *ev = parse(
        "type=USER_LOGIN msg=audit(1720564803.902:8812): pid=25003 uid=0 auid=4294967295 "
        "ses=4294967295 msg='op=login acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" "
        "hostname=? addr=203.0.113.45 terminal=sshd res=failed'");
    assert_named(ev, "auditd.data.acct", "(invalid user)");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    assert_field(ev, TRL_F_EVENT_ACTION, "user-login");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "authentication|session");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "start");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
}

static void test_audit_user_cmd_hex_cmd_becomes_command_line(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=USER_CMD msg=audit(1720564381.017:9120): pid=4180 uid=1001 auid=1001 ses=7 "
              "msg='cwd=\"/home/svc_backup\" cmd=2F62696E2F62617368 exe=\"/usr/bin/sudo\" "
              "terminal=pts/0 res=success'");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "/bin/bash");
    assert_field(ev, TRL_F_PROCESS_WORKING_DIRECTORY, "/home/svc_backup");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/bin/sudo");
    assert_field(ev, TRL_F_USER_ID, "1001");
    assert_field(ev, TRL_F_AUDITD_AUID, "1001");
    assert_field(ev, TRL_F_EVENT_ACTION, "user-cmd");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "process");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
}

static void test_audit_account_management_sets_target_and_iam(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=ADD_USER msg=audit(1720564458.310:9135): pid=4194 uid=0 auid=1001 ses=7 "
              "msg='op=add-user id=1002 exe=\"/usr/sbin/useradd\" hostname=db01 addr=? "
              "terminal=pts/0 res=success'");
    assert_field(ev, TRL_F_USER_TARGET_ID, "1002");
    assert_field(ev, TRL_F_SOURCE_IP, NULL);
    assert_field(ev, TRL_F_EVENT_ACTION, "added-user");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "iam");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "user|creation");

    ev = parse("type=ADD_GROUP msg=audit(1720564458.300:9131): pid=4188 uid=0 auid=1001 ses=7 "
               "msg='op=add-group acct=\"backup2\" id=1002 exe=\"/usr/sbin/groupadd\" "
               "hostname=db01 addr=? terminal=pts/0 res=success'");
    assert_field(ev, TRL_F_GROUP_NAME, "backup2");
    assert_field(ev, TRL_F_GROUP_ID, "1002");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_field(ev, TRL_F_EVENT_ACTION, "added-group");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "group|creation");
}

static void test_audit_node_prefix_sets_host_name(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("node=web01 type=CWD msg=audit(1720563243.412:8801): cwd=\"/root\"");
    assert_field(ev, TRL_F_HOST_NAME, "web01");
    assert_field(ev, TRL_F_AUDITD_SEQUENCE, "8801");
}

static void test_audit_enriched_block_gives_names(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=SYSCALL msg=audit(1720563243.412:8801): arch=c00000b7 syscall=221 "
              "success=no exit=-13 ppid=1 pid=2 auid=1000 uid=0 euid=0 comm=\"x\" exe=\"/x\" "
              "key=(null)\x1d"
              "ARCH=aarch64 SYSCALL=execve AUID=\"alice\" UID=\"root\" EUID=\"root\" GID=\"root\"");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_EFFECTIVE_NAME, "root");
    assert_field(ev, TRL_F_GROUP_NAME, "root");
    assert_named(ev, "user.audit.name", "alice");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "execve");
    assert_field(ev, TRL_F_AUDITD_KEY, NULL);
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_named(ev, "auditd.data.ARCH", "aarch64");
    assert_string_equal(array(ev, TRL_F_RELATED_USER), "root|alice");
}

static void test_audit_unknown_arch_keeps_syscall_number(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=SYSCALL msg=audit(1.000:5): arch=c00000b7 syscall=221 success=yes");
    assert_field(ev, TRL_F_AUDITD_SYSCALL, "221");
    assert_field(ev, TRL_F_EVENT_ACTION, NULL);
}

static void test_audit_syscall_names_for_common_x86_64_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *nr, *name, *action;
    } cases[] = {
        {"322", "execveat", "executed"},
        {"42", "connect", "connected-to"},
        {"175", "init_module", "loaded-kernel-module"},
        {"313", "finit_module", "loaded-kernel-module"},
        {"176", "delete_module", "unloaded-kernel-module"},
        {"263", "unlinkat", "deleted-file"},
        {"90", "chmod", "changed-file-permissions"},
        {"101", "ptrace", "traced-process"},
        {"62", "kill", "killed-process"},
        {"165", "mount", "mounted"},
        {"105", "setuid", "changed-identity"},
        {"49", "bind", "bound-socket"},
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(cases); i++) {
        char line[160];
        snprintf(line, sizeof(line),
                 "type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=%s success=yes",
                 cases[i].nr);
        struct trl_event *ev = parse(line);
        assert_field(ev, TRL_F_AUDITD_SYSCALL, cases[i].name);
        assert_field(ev, TRL_F_EVENT_ACTION, cases[i].action);
    }
}

static void test_audit_open_flags_decide_opened_or_modified(void **state)
{
    (void)state;
    /* openat(AT_FDCWD, path, O_RDONLY) and openat(..., O_WRONLY|O_CREAT|O_TRUNC). */
    struct trl_event *ev = parse("type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=257 "
                                 "success=yes a0=ffffff9c a1=7ffd1 a2=0 a3=0");
    assert_field(ev, TRL_F_EVENT_ACTION, "opened-file");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "access");
    ev = parse("type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=257 success=yes "
               "a0=ffffff9c a1=7ffd1 a2=241 a3=1b6");
    assert_field(ev, TRL_F_EVENT_ACTION, "modified-file");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "file");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "change");
}

static void test_audit_sockaddr_decodes_inet_and_inet6(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=SOCKADDR msg=audit(1.000:5): saddr=02000050C63364140000000000000000");
    assert_field(ev, TRL_F_DESTINATION_IP, "198.51.100.20");
    assert_field(ev, TRL_F_DESTINATION_PORT, "80");
    assert_named(ev, "auditd.data.socket.family", "inet");

    ev = parse("type=SOCKADDR msg=audit(1.000:5): "
               "saddr=0A0001BB0000000020010DB800000000000000000000000100000000");
    assert_field(ev, TRL_F_DESTINATION_IP, "2001:db8::1");
    assert_field(ev, TRL_F_DESTINATION_PORT, "443");
    assert_named(ev, "auditd.data.socket.family", "inet6");

    ev = parse("type=SOCKADDR msg=audit(1.000:5): saddr=01002F72756E2F782E736F636B00");
    assert_named(ev, "auditd.data.socket.family", "unix");
    assert_named(ev, "auditd.data.socket.path", "/run/x.sock");
    assert_field(ev, TRL_F_DESTINATION_IP, NULL);

    /* Too short for its family, odd length, not hex: kept as data, nothing decoded. */
    ev = parse("type=SOCKADDR msg=audit(1.000:5): saddr=0200");
    assert_field(ev, TRL_F_DESTINATION_IP, NULL);
    ev = parse("type=SOCKADDR msg=audit(1.000:5): saddr=02000050C633641");
    assert_field(ev, TRL_F_DESTINATION_IP, NULL);
    ev = parse("type=SOCKADDR msg=audit(1.000:5): saddr=zz000050C6336414");
    assert_field(ev, TRL_F_DESTINATION_IP, NULL);
}

static void test_audit_inside_syslog_keeps_format_and_drops_forwarder_process(void **state)
{
    (void)state;
    const char *msg = "audit: type=1400 audit(1720563243.412:8801): apparmor=\"DENIED\" "
                      "operation=\"open\" profile=\"/usr/sbin/cupsd\" name=\"/etc/shadow\" "
                      "pid=1234 comm=\"cupsd\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 "
                      "ouid=0";
    struct trl_event *ev = trl_event_create(arena, msg, strlen(msg), 0);
    ev->format = "rfc3164";
    trl_event_set_str(ev, TRL_F_PROCESS_NAME, "kernel");
    trl_event_set_str(ev, TRL_F_LOG_SYSLOG_APPNAME, "kernel");
    assert_int_equal(trl_parse_audit(ev, ev->original, ev->original_len), TRL_OK);
    assert_string_equal(ev->format, "rfc3164");
    assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "AVC");
    assert_field(ev, TRL_F_PROCESS_NAME, "cupsd");
    assert_field(ev, TRL_F_PROCESS_PID, "1234");
    assert_field(ev, TRL_F_LOG_SYSLOG_APPNAME, "kernel");
    assert_field(ev, TRL_F_FILE_PATH, "/etc/shadow");
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "denied");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_field(ev, TRL_F_EVENT_ACTION, "avc");
}

static void test_audit_accepts_syslog_prefixes(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "[ 1234.567890] audit: type=1300 audit(1720563243.412:8801): arch=c000003e syscall=59",
        "node=db01 type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59",
        "  type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59",
        "type=1300 msg=audit(1720563243.412:8801): arch=c000003e syscall=59",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++) {
        struct trl_event *ev = parse(lines[i]);
        assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "SYSCALL");
        assert_field(ev, TRL_F_AUDITD_SYSCALL, "execve");
        assert_true(ev->timestamp_ns == 1720563243412000000LL);
    }
}

static void test_audit_selinux_avc_words(void **state)
{
    (void)state;
    struct trl_event *ev = parse(
        "type=AVC msg=audit(1.000:5): avc:  denied  { read write } for  pid=812 comm=\"httpd\" "
        "name=\"shadow\" dev=\"dm-0\" ino=1234 scontext=system_u:system_r:httpd_t:s0 "
        "tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0");
    assert_named(ev, "auditd.data.seresult", "denied");
    assert_named(ev, "auditd.data.seperms", "read,write");
    assert_named(ev, "auditd.data.tclass", "file");
    assert_field(ev, TRL_F_PROCESS_NAME, "httpd");
    assert_field(ev, TRL_F_FILE_PATH, NULL);
    assert_string_equal(array(ev, TRL_F_EVENT_TYPE), "denied");
}

static void test_audit_config_change_and_netfilter(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=CONFIG_CHANGE msg=audit(1.000:5): auid=1000 ses=3 op=remove_rule "
              "key=\"identity\" list=4 res=1");
    assert_field(ev, TRL_F_EVENT_ACTION, "config-change");
    assert_string_equal(array(ev, TRL_F_EVENT_CATEGORY), "configuration");
    assert_field(ev, TRL_F_AUDITD_KEY, "identity");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");

    ev = parse("type=NETFILTER_CFG msg=audit(1720564640.050:9160): table=filter:2 family=2 "
               "entries=12 op=xt_replace pid=4240 subj=unconfined comm=\"iptables\"");
    assert_field(ev, TRL_F_EVENT_ACTION, "netfilter-cfg");
    assert_field(ev, TRL_F_PROCESS_NAME, "iptables");
    assert_named(ev, "auditd.data.table", "filter:2");
}

static void test_audit_service_start_unit(void **state)
{
    (void)state;
    struct trl_event *ev =
        parse("type=SERVICE_START msg=audit(1.000:5): pid=1 uid=0 auid=4294967295 ses=4294967295 "
              "subj=unconfined msg='unit=nginx comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" "
              "hostname=? addr=? terminal=? res=success'");
    assert_field(ev, TRL_F_SERVICE_NAME, "nginx");
    assert_field(ev, TRL_F_PROCESS_NAME, "systemd");
    assert_field(ev, TRL_F_EVENT_ACTION, "service-start");
}

static void test_audit_key_null_and_multiple_keys(void **state)
{
    (void)state;
    struct trl_event *ev = parse("type=SYSCALL msg=audit(1.000:5): syscall=2 key=(null)");
    assert_field(ev, TRL_F_AUDITD_KEY, NULL);
    /* Two keys: "a" \x01 "b", hex-encoded by auditd. */
    ev = parse("type=SYSCALL msg=audit(1.000:5): syscall=2 key=610162");
    assert_field(ev, TRL_F_AUDITD_KEY, "a,b");
}

static void test_audit_not_audit_is_no_match(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "",
        "type=",
        "type=SYSCALL",
        "type=SYSCALL arch=c000003e syscall=59",
        "type=SYS CALL msg=audit(1.0:1): x=1",
        "node=web01",
        "Jul  9 22:10:13 web01 sshd[123]: Accepted password for root",
        "{\"type\":\"SYSCALL\"}",
        "typo=SYSCALL msg=audit(1.0:1):",
        "audit: backlog limit exceeded",
    };
    assert_not_matched(lines, TRL_ARRAY_LEN(lines));
}

static void test_audit_malformed_stamp_keeps_what_was_read(void **state)
{
    (void)state;
    int rc;
    const char *line = "type=SYSCALL msg=audit(1720563243.412:8801 arch=c000003e syscall=59 "
                       "pid=7";
    struct trl_event *ev = parse_as(line, strlen(line), NULL, &rc);
    assert_int_equal(rc, TRL_EINVAL);
    assert_string_equal(ev->format, "audit");
    assert_field(ev, TRL_F_AUDITD_SEQUENCE, "8801");
    assert_true(ev->timestamp_ns == 1720563243412000000LL);
    assert_field(ev, TRL_F_PROCESS_PID, "7");

    static const char *const bad[] = {
        "type=SYSCALL msg=audit(): x=1",
        "type=SYSCALL msg=audit(abc:1): x=1",
        "type=SYSCALL msg=audit(1.2): x=1",
        "type=SYSCALL msg=audit(1.2:): x=1",
        "type=SYSCALL msg=audit(99999999999999.2:1): x=1",
        "type=SYSCALL msg=audit(1.2:123456789012345678901234): x=1",
        "type=SYSCALL msg=audit(",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(bad); i++) {
        ev = parse_as(bad[i], strlen(bad[i]), NULL, &rc);
        assert_int_equal(rc, TRL_EINVAL);
        assert_field(ev, TRL_F_AUDITD_RECORD_TYPE, "SYSCALL");
    }
}

static void test_audit_odd_quoting_and_bytes_do_not_break_parsing(void **state)
{
    (void)state;
    struct trl_event *ev = parse("type=SYSCALL msg=audit(1.0:1): comm=\"sh exe=\"/bin/x\" pid=5");
    assert_field(ev, TRL_F_PROCESS_PID, "5");
    ev = parse("type=USER_AUTH msg=audit(1.0:1): pid=1 msg='op=x acct=\"bob\" res=success");
    assert_field(ev, TRL_F_USER_NAME, "bob");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "success");
    ev = parse("type=SYSCALL msg=audit(1.0:1): =x == a= b=\"\" c='' pid=9 \x1d");
    assert_field(ev, TRL_F_PROCESS_PID, "9");
    assert_named(ev, "auditd.data.b", "");
    ev = parse("type=USER_AUTH msg=audit(1.0:1): msg='just words, no pairs'");
    assert_named(ev, "auditd.data.msg", "just words, no pairs");

    /* NUL bytes inside the record are data like any other byte. */
    static const char nul[] = "type=SYSCALL msg=audit(1.0:1): comm=\"a\0b\" pid=3\0 ppid=4";
    int rc;
    ev = parse_as(nul, sizeof(nul) - 1, NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    size_t len;
    const char *comm = trl_event_get(ev, TRL_F_PROCESS_NAME, &len);
    assert_non_null(comm);
    assert_int_equal(len, 3);
    assert_field(ev, TRL_F_PROCESS_PARENT_PID, "4");
}

static void test_audit_huge_values_and_many_pairs(void **state)
{
    (void)state;
    size_t n = 200000;
    char *line = malloc(n + 64);
    int off = snprintf(line, 64, "type=EXECVE msg=audit(1.0:1): argc=1 a0=");
    for (size_t i = 0; i < n; i++)
        line[off + (int)i] = "6162"[i % 4];
    int rc;
    struct trl_event *ev = parse_as(line, (size_t)off + n, NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    size_t len;
    assert_non_null(trl_event_get(ev, TRL_F_PROCESS_ARGS, &len));
    assert_int_equal(len, n / 2);

    /* Many pairs: every argument is kept; other pairs stop at a bound (each costs a scan). */
    size_t pos = (size_t)snprintf(line, 64, "type=EXECVE msg=audit(1.0:1): ");
    unsigned nargs = 0;
    for (; pos + 16 < n; nargs++)
        pos += (size_t)snprintf(line + pos, 16, "a%u=x ", nargs);
    ev = parse_as(line, pos, NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    char want[16];
    snprintf(want, sizeof(want), "%u", nargs);
    assert_field(ev, TRL_F_PROCESS_ARGS_COUNT, want);
    /* Only the first arguments are repeated as auditd.data.aN. */
    assert_named(ev, "auditd.data.a63", "x");
    assert_named(ev, "auditd.data.a64", NULL);
    pos = (size_t)snprintf(line, 64, "type=SYSCALL msg=audit(1.0:1): ");
    for (unsigned i = 0; pos + 16 < n; i++)
        pos += (size_t)snprintf(line + pos, 16, "k%u=x ", i);
    ev = parse_as(line, pos, NULL, &rc);
    assert_int_equal(rc, TRL_OK);
    assert_true(ev->nfields < 200);
    free(line);
}

static void test_audit_every_truncation_of_real_records_is_safe(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "node=web01 type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59 "
        "success=yes ppid=1187 pid=24001 comm=\"sh\" exe=\"/usr/bin/dash\" "
        "key=\"exec\"\x1dUID=\"a\"",
        "type=USER_LOGIN msg=audit(1720564803.902:8812): pid=25003 uid=0 msg='op=login "
        "acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" addr=203.0.113.45 res=failed'",
        "type=EXECVE msg=audit(1.0:1): argc=2 a0=\"echo\" a1[0]=68656C6C6F a1[1]=776F726C64",
        "type=SOCKADDR msg=audit(1.0:1): saddr=0A0001BB0000000020010DB80000000000000000000000010",
        "type=AVC msg=audit(1.0:5): avc:  denied  { read write } for  pid=812 comm=\"httpd\"",
    };
    assert_truncations_safe(lines, TRL_ARRAY_LEN(lines), true);
}

/* ---- the tokenizer: hex decoding, keys, values stored by reference ---- */

static void test_audit_hex_values_decode_in_one_pass(void **state)
{
    (void)state;
    struct trl_event *ev = parse(
        "type=PATH msg=audit(1.0:1): name=2F746D702F6120622063 cwd=2f746d70 comm=41 exe=414 "
        "dir=41424X43 watch=2F6574630A path=\"2F746D70\" arch=c000003e foo=4142 key=00410042");
    /* Even runs of hex digits, upper or lower case, are decoded; NUL bytes become spaces. */
    assert_named(ev, "auditd.data.name", "/tmp/a b c");
    assert_named(ev, "auditd.data.cwd", "/tmp");
    assert_named(ev, "auditd.data.key", " A B");
    /* Two digits are the shortest hex value; a line feed is kept as decoded. */
    assert_named(ev, "auditd.data.comm", "A");
    assert_named(ev, "auditd.data.watch", "/etc\n");
    /* An odd length, a non-hex byte anywhere, a quoted value or a field auditd never
     * hex-encodes stays as it was written. */
    assert_named(ev, "auditd.data.exe", "414");
    assert_named(ev, "auditd.data.dir", "41424X43");
    assert_named(ev, "auditd.data.path", "2F746D70");
    assert_named(ev, "auditd.data.arch", "c000003e");
    assert_named(ev, "auditd.data.foo", "4142");
}

static void test_audit_execve_hex_arguments_and_plain_ones(void **state)
{
    (void)state;
    struct trl_event *ev = parse_ok(
        "type=EXECVE msg=audit(1.0:1): argc=4 a0=6C73 a1=\"-l\" a2=2D2D636F6C6F72 a3=41G0");
    assert_string_equal(array(ev, TRL_F_PROCESS_ARGS), "ls|-l|--color|41G0");
    assert_named(ev, "auditd.data.a0", "ls");
    assert_named(ev, "auditd.data.a3", "41G0");
    assert_field(ev, TRL_F_PROCESS_COMMAND_LINE, "ls -l --color 41G0");
}

static void test_audit_keys_with_other_bytes_are_skipped(void **state)
{
    (void)state;
    char line[512];
    char key64[65], key65[66];
    memset(key64, 'k', 64);
    key64[64] = '\0';
    memset(key65, 'k', 65);
    key65[65] = '\0';
    snprintf(line, sizeof(line),
             "type=SYSCALL msg=audit(1.0:1): pid=1 a$b=2 k\xc3\xa9=3 =4 %s=5 %s=6 "
             "a.b-c_d[0]=7 UID=\"root\" x==8 y=",
             key64, key65);
    struct trl_event *ev = parse(line);
    assert_named(ev, "auditd.data.pid", "1");
    assert_named(ev, "auditd.data.a$b", NULL);
    assert_named(ev, "auditd.data.k\xc3\xa9", NULL);
    char name[128];
    snprintf(name, sizeof(name), "auditd.data.%s", key64);
    assert_named(ev, name, "5");
    snprintf(name, sizeof(name), "auditd.data.%s", key65);
    assert_named(ev, name, NULL);
    assert_named(ev, "auditd.data.a.b-c_d[0]", "7");
    assert_named(ev, "auditd.data.UID", "root");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_named(ev, "auditd.data.x", "=8");
    assert_named(ev, "auditd.data.y", "");
}

/* The values of a record parsed from event.original are slices of it; parsed from a buffer of the
 * caller's they are copies. Both give the same fields. */
static void test_audit_values_in_place_equal_copies(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "type=SYSCALL msg=audit(1720563243.412:8801): arch=c000003e syscall=59 success=yes exit=0 "
        "a0=55d0c3a4e2a0 items=2 ppid=1187 pid=24001 auid=1000 uid=33 gid=33 euid=33 tty=pts0 "
        "ses=4 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"exec\"\x1dUID=\"www-data\" AUID=\"alice\"",
        "type=EXECVE msg=audit(1.0:2): argc=3 a0=\"sh\" a1=\"-c\" a2=6964",
        "type=PROCTITLE msg=audit(1.0:3): proctitle=7368002D63006964",
        "type=USER_LOGIN msg=audit(1.0:4): pid=1 uid=0 auid=4294967295 ses=4294967295 "
        "msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.9 "
        "terminal=sshd res=failed'",
        "type=AVC msg=audit(1.0:5): avc:  denied  { read write } for pid=7 comm=\"httpd\" "
        "name=\"x\" scontext=a tcontext=b tclass=file permissive=0",
        "[   12.345678] audit: type=1300 audit(1.0:6): syscall=2 pid=3",
    };
    for (size_t k = 0; k < TRL_ARRAY_LEN(lines); k++) {
        struct trl_event *a = parse_ok(lines[k]);
        int rc;
        struct trl_event *b = parse_as(lines[k], strlen(lines[k]), NULL, &rc);
        assert_int_equal(rc, TRL_OK);
        assert_int_equal(a->nfields, b->nfields);
        for (uint32_t i = 0; i < a->nfields; i++) {
            const struct trl_kv *x = &a->fields[i], *y = &b->fields[i];
            size_t xl, yl;
            const char *xn = trl_kv_name(x, &xl), *yn = trl_kv_name(y, &yl);
            assert_int_equal(xl, yl);
            assert_memory_equal(xn, yn, xl);
            assert_int_equal(x->val_len, y->val_len);
            if (x->val_len)
                assert_memory_equal(x->val, y->val, x->val_len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_syscall_sets_process_user_and_syscall_name),
        cmocka_unit_test(test_audit_execve_decodes_hex_arguments),
        cmocka_unit_test(test_audit_execve_joins_split_argument_pieces),
        cmocka_unit_test(test_audit_proctitle_nul_separators_become_spaces),
        cmocka_unit_test(test_audit_cwd_and_path_records),
        cmocka_unit_test(test_audit_hex_encoded_path_name_and_cwd),
        cmocka_unit_test(test_audit_user_auth_parses_nested_msg_pairs),
        cmocka_unit_test(test_audit_user_login_hex_acct_invalid_user_is_not_a_user_name),
        cmocka_unit_test(test_audit_user_cmd_hex_cmd_becomes_command_line),
        cmocka_unit_test(test_audit_account_management_sets_target_and_iam),
        cmocka_unit_test(test_audit_node_prefix_sets_host_name),
        cmocka_unit_test(test_audit_enriched_block_gives_names),
        cmocka_unit_test(test_audit_unknown_arch_keeps_syscall_number),
        cmocka_unit_test(test_audit_syscall_names_for_common_x86_64_numbers),
        cmocka_unit_test(test_audit_open_flags_decide_opened_or_modified),
        cmocka_unit_test(test_audit_sockaddr_decodes_inet_and_inet6),
        cmocka_unit_test(test_audit_inside_syslog_keeps_format_and_drops_forwarder_process),
        cmocka_unit_test(test_audit_accepts_syslog_prefixes),
        cmocka_unit_test(test_audit_selinux_avc_words),
        cmocka_unit_test(test_audit_config_change_and_netfilter),
        cmocka_unit_test(test_audit_service_start_unit),
        cmocka_unit_test(test_audit_key_null_and_multiple_keys),
        cmocka_unit_test(test_audit_not_audit_is_no_match),
        cmocka_unit_test(test_audit_malformed_stamp_keeps_what_was_read),
        cmocka_unit_test(test_audit_odd_quoting_and_bytes_do_not_break_parsing),
        cmocka_unit_test(test_audit_huge_values_and_many_pairs),
        cmocka_unit_test(test_audit_every_truncation_of_real_records_is_safe),
        cmocka_unit_test(test_audit_hex_values_decode_in_one_pass),
        cmocka_unit_test(test_audit_execve_hex_arguments_and_plain_ones),
        cmocka_unit_test(test_audit_keys_with_other_bytes_are_skipped),
        cmocka_unit_test(test_audit_values_in_place_equal_copies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
