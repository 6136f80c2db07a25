#include "norm_test.h"

static void test_useradd_new_user(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("useradd", "new user: name=sysmaint, UID=1002, GID=1002, home=/home/sysmaint, "
                              "shell=/bin/bash, from=/dev/pts/0");
    assert_class(ev, "iam", "user,creation", "user-created", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "sysmaint");
    assert_field(ev, TRL_F_USER_TARGET_ID, "1002");
    assert_field(ev, TRL_F_GROUP_ID, "1002");
    assert_field(ev, TRL_F_USER_NAME, NULL);
    assert_values(ev, TRL_F_RELATED_USER, "sysmaint");

    /* shadow before 4.6 had no from= */
    ev = normalized("useradd",
                    "new user: name=svc, UID=1001, GID=1001, home=/home/svc, shell=/bin/sh");
    assert_class(ev, "iam", "user,creation", "user-created", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");
}

static void test_useradd_new_group_and_memberships(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("useradd", "new group: name=svc, GID=1001");
    assert_class(ev, "iam", "group,creation", "group-created", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "svc");
    assert_field(ev, TRL_F_GROUP_ID, "1001");
    assert_field(ev, TRL_F_USER_TARGET_NAME, NULL);

    ev = normalized("usermod", "add 'sysmaint' to group 'sudo'");
    assert_class(ev, "iam", "group,change", "group-member-added", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "sysmaint");
    assert_field(ev, TRL_F_GROUP_NAME, "sudo");

    ev = normalized("usermod", "add 'sysmaint' to shadow group 'sudo'");
    assert_class(ev, "iam", "group,change", "group-member-added", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "sudo");

    /* shadow 4.1 quoted with `name' */
    ev = normalized("useradd", "add `svc' to group `wheel'");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");
    assert_field(ev, TRL_F_GROUP_NAME, "wheel");
}

static void test_useradd_failure(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("useradd", "failed adding user 'svc', exit code: 12");
    assert_class(ev, "iam", "user,creation", "user-created", "failure");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");
}

static void test_userdel_lines(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("userdel", "delete user 'svc'\n");
    assert_class(ev, "iam", "user,deletion", "user-deleted", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");

    ev = normalized("userdel", "delete user 'svc'#012");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");

    ev = normalized("userdel", "removed group 'svc' owned by 'svc'");
    assert_class(ev, "iam", "group,deletion", "group-deleted", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "svc");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");

    ev = normalized("userdel", "removed shadow group 'svc' owned by 'svc'");
    assert_class(ev, "iam", "group,deletion", "group-deleted", "success");

    ev = normalized("userdel", "delete 'svc' from group 'sudo'");
    assert_class(ev, "iam", "group,change", "group-member-removed", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "svc");
    assert_field(ev, TRL_F_GROUP_NAME, "sudo");
}

static void test_usermod_changes(void **state)
{
    (void)state;
    struct trl_event *ev = normalized(
        "usermod", "change user 'www-data' shell from '/usr/sbin/nologin' to '/bin/bash'");
    assert_class(ev, "iam", "user,change", "user-modified", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "www-data");
    assert_named(ev, "accounts.attribute", "shell");
    assert_named(ev, "accounts.old_value", "/usr/sbin/nologin");
    assert_named(ev, "accounts.new_value", "/bin/bash");

    ev = normalized("usermod", "change user 'bob' UID from '1005' to '0'");
    assert_named(ev, "accounts.attribute", "uid");
    assert_named(ev, "accounts.new_value", "0");

    ev = normalized("usermod", "change user 'bob' expiration from 'never' to '2030-01-01'");
    assert_named(ev, "accounts.attribute", "expiration");
    assert_named(ev, "accounts.old_value", "never");

    ev = normalized("usermod", "lock user 'bob' password");
    assert_class(ev, "iam", "user,change", "password-locked", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "bob");

    ev = normalized("usermod", "unlock user 'bob' password");
    assert_class(ev, "iam", "user,change", "password-unlocked", "success");

    ev = normalized("usermod", "change user 'bob' password");
    assert_class(ev, "iam", "user,change", "password-changed", "success");

    ev = normalized("usermod", "change user name 'bob' to 'robert'");
    assert_class(ev, "iam", "user,change", "user-renamed", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "bob");
    assert_field(ev, TRL_F_USER_CHANGES_NAME, "robert");
    assert_values(ev, TRL_F_RELATED_USER, "bob,robert");

    ev = normalized("usermod", "change 'bob' to 'robert' in group 'dev'");
    assert_class(ev, "iam", "group,change", "group-modified", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "dev");
}

static void test_groupadd_groupdel_groupmod(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("groupadd", "group added to /etc/group: name=ops, GID=1002");
    assert_class(ev, "iam", "group,creation", "group-created", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "ops");
    assert_field(ev, TRL_F_GROUP_ID, "1002");
    assert_field(ev, TRL_F_FILE_PATH, "/etc/group");

    ev = normalized("groupadd", "group added to /etc/gshadow: name=ops");
    assert_class(ev, "iam", "group,creation", "group-created", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "ops");
    assert_field(ev, TRL_F_GROUP_ID, NULL);
    assert_field(ev, TRL_F_FILE_PATH, "/etc/gshadow");

    ev = normalized("groupadd", "new group: name=ops, GID=1002");
    assert_class(ev, "iam", "group,creation", "group-created", "success");

    ev = normalized("groupdel", "group 'ops' removed from /etc/group");
    assert_class(ev, "iam", "group,deletion", "group-deleted", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "ops");
    assert_field(ev, TRL_F_FILE_PATH, "/etc/group");

    ev = normalized("groupdel", "group 'ops' removed\n");
    assert_class(ev, "iam", "group,deletion", "group-deleted", "success");
    assert_field(ev, TRL_F_FILE_PATH, NULL);

    ev = normalized("groupmod", "group changed in /etc/group (group ops/1002, new name: ops2)");
    assert_class(ev, "iam", "group,change", "group-modified", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "ops");
    assert_field(ev, TRL_F_GROUP_ID, "1002");
}

static void test_gpasswd_membership(void **state)
{
    (void)state;
    struct trl_event *ev = normalized("gpasswd", "user alice added by root to group sudo");
    assert_class(ev, "iam", "group,change", "group-member-added", "success");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "alice");
    assert_field(ev, TRL_F_GROUP_NAME, "sudo");
    assert_values(ev, TRL_F_RELATED_USER, "alice,root");

    ev = normalized("gpasswd", "user alice removed by root from group sudo");
    assert_class(ev, "iam", "group,change", "group-member-removed", "success");
    assert_field(ev, TRL_F_GROUP_NAME, "sudo");

    ev = normalized("gpasswd", "members of group docker set by root to alice,bob");
    assert_class(ev, "iam", "group,change", "group-modified", "success");
    assert_named(ev, "accounts.attribute", "members");
    assert_named(ev, "accounts.new_value", "alice,bob");

    ev = normalized("gpasswd", "root failed to add user eve to group sudo");
    assert_class(ev, "iam", "group,change", "group-member-added", "failure");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "eve");
}

static void test_passwd_and_chage(void **state)
{
    (void)state;
    struct trl_event *ev =
        normalized("passwd", "pam_unix(passwd:chauthtok): password changed for sysmaint");
    assert_class(ev, "iam", "user,change", "password-changed", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "sysmaint");
    assert_field(ev, TRL_F_USER_NAME, NULL);

    ev = normalized("passwd", "password for 'alice' changed by 'root'");
    assert_class(ev, "iam", "user,change", "password-changed", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "alice");
    assert_field(ev, TRL_F_USER_NAME, "root");

    ev = normalized("chpasswd", "pam_unix(chpasswd:chauthtok): password changed for alice");
    assert_class(ev, "iam", "user,change", "password-changed", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "alice");

    ev = normalized("passwd", "incorrect password for alice");
    assert_class(ev, "iam", "user,change", "password-changed", "failure");

    ev = normalized("chage", "changed password expiry for alice");
    assert_class(ev, "iam", "user,change", "user-modified", "success");
    assert_field(ev, TRL_F_USER_TARGET_NAME, "alice");
    assert_named(ev, "accounts.attribute", "password_expiry");
}

static void test_accounts_unknown_and_malformed(void **state)
{
    (void)state;
    assert_no_match(trl_norm_accounts, "useradd", "");
    assert_no_match(trl_norm_accounts, "useradd", "new user: name=");
    assert_no_match(trl_norm_accounts, "useradd",
                    "new user: name=x, UID=abc, GID=1, home=/, shell=/");
    assert_no_match(trl_norm_accounts, "useradd", "new group: name=ops, GID=");
    assert_no_match(trl_norm_accounts, "usermod", "add 'x' to group '");
    assert_no_match(trl_norm_accounts, "usermod", "add '' to group 'sudo'");
    assert_no_match(trl_norm_accounts, "usermod", "change user 'x' shell from '/bin/sh'");
    assert_no_match(trl_norm_accounts, "userdel", "delete user");
    assert_no_match(trl_norm_accounts, "gpasswd", "user alice added by");
    assert_no_match(trl_norm_accounts, "useradd", "useradd: user 'x' already exists");
    assert_no_match(trl_norm_accounts, "passwd",
                    "pam_unix(passwd:chauthtok): password changed for");
}

static void test_accounts_survive_every_truncation(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "new user: name=sysmaint, UID=1002, GID=1002, home=/home/sysmaint, shell=/bin/bash, "
        "from=/dev/pts/0",
        "add 'sysmaint' to shadow group 'sudo'",
        "change user 'www-data' shell from '/usr/sbin/nologin' to '/bin/bash'",
        "group changed in /etc/group (group ops/1002, new name: ops2)",
        "user alice added by root to group sudo",
        "root failed to remove user eve from group sudo",
        "pam_unix(chpasswd:chauthtok): password changed for alice",
    };
    for (size_t i = 0; i < TRL_ARRAY_LEN(lines); i++)
        norm_survive_prefixes(trl_norm_accounts, "usermod", lines[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_useradd_new_user),
        cmocka_unit_test(test_useradd_new_group_and_memberships),
        cmocka_unit_test(test_useradd_failure),
        cmocka_unit_test(test_userdel_lines),
        cmocka_unit_test(test_usermod_changes),
        cmocka_unit_test(test_groupadd_groupdel_groupmod),
        cmocka_unit_test(test_gpasswd_membership),
        cmocka_unit_test(test_passwd_and_chage),
        cmocka_unit_test(test_accounts_unknown_and_malformed),
        cmocka_unit_test(test_accounts_survive_every_truncation),
    };
    return cmocka_run_group_tests(tests, norm_setup, norm_teardown);
}
