#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/fim.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <poll.h>
#include <sqlite3.h>
#include <sys/stat.h>

/*
 * Each test monitors a scratch directory, changes files in it the way an intruder or an admin
 * would, and checks the events: action, current values (file.*) and previous ones (fim.before.*).
 */
#define SHA_HELLO "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define MAX_EV    64

struct fixture {
    char *dir;
    char root[4096];
    char db[4096];
    struct trl_arena *arena;
    int n;
    struct trl_event *ev[MAX_EV];
};

static int setup(void **state)
{
    trl_log_set_level(TRL_LOG_ERROR);
    umask(022);
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    snprintf(f->root, sizeof(f->root), "%s/etc", f->dir);
    snprintf(f->db, sizeof(f->db), "%s/fim.db", f->dir);
    assert_int_equal(mkdir(f->root, 0755), 0);
    f->arena = trl_arena_create(65536);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_arena_destroy(f->arena);
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

static void collect(void *ud, struct trl_event *ev)
{
    struct fixture *f = ud;
    assert_true(f->n < MAX_EV);
    f->ev[f->n++] = ev;
}

static void reset(struct fixture *f)
{
    f->n = 0;
    trl_arena_reset(f->arena);
}

static struct trl_fim *make(struct fixture *f, uint64_t max_hash, bool realtime)
{
    struct trl_fim_config cfg = {
        .db_path = f->db,
        .max_hash_bytes = max_hash,
        .settle_ms = 40,
        .no_realtime = !realtime,
    };
    struct trl_fim *m;
    assert_int_equal(trl_fim_create(&cfg, &m), 0);
    assert_int_equal(trl_fim_add_path(m, f->root), 0);
    return m;
}

/* Drives the monitor like a main loop until want events arrived, then a little longer to catch
 * any extra one. */
static void run(struct trl_fim *m, struct fixture *f, int want)
{
    int64_t deadline = trl_mono_ns() + 3 * TRL_NS_PER_SEC;
    int64_t settle_until = 0;
    for (;;) {
        assert_true(trl_fim_poll(m, f->arena, collect, f) >= 0);
        int64_t now = trl_mono_ns();
        if (f->n >= want && !settle_until)
            settle_until = now + 150 * 1000000LL;
        if ((settle_until && now >= settle_until) || now >= deadline)
            return;
        struct pollfd p = {trl_fim_fd(m), POLLIN, 0};
        int to = trl_fim_timeout_ms(m);
        poll(&p, 1, to > 50 ? 50 : to);
    }
}

/* A monitor of the root whose first scan built the baseline, silently. */
static struct trl_fim *baseline(struct fixture *f, bool realtime)
{
    struct trl_fim *m = make(f, 0, realtime);
    run(m, f, 0);
    assert_int_equal(f->n, 0);
    return m;
}

static const char *named(const struct trl_event *ev, const char *name)
{
    size_t len;
    const char *v = trl_event_get_named(ev, name, strlen(name), &len);
    return v ? trl_arena_strndup(ev->arena, v, len) : NULL;
}

static const char *p(struct fixture *f, const char *name)
{
    return agent_test_path(f->root, name);
}

static void test_fim_first_scan_builds_baseline_silently(void **state)
{
    struct fixture *f = *state;
    agent_test_write(p(f, "passwd"), "w", "root:x:0:0::/root:/bin/bash\n", 28);
    assert_int_equal(mkdir(p(f, "ssh"), 0755), 0);
    agent_test_write(p(f, "ssh/sshd_config"), "w", "PermitRootLogin no\n", 19);
    struct trl_fim *m = baseline(f, true);
    struct trl_fim_stats st;
    trl_fim_stats(m, &st);
    assert_int_equal(st.entries, 4); /* etc, passwd, ssh, sshd_config */
    assert_int_equal(st.watches, 2);
    trl_fim_destroy(m);
}

static void test_fim_realtime_create_modify_chmod_chown_delete(void **state)
{
    struct fixture *f = *state;
    agent_test_write(p(f, "hosts"), "w", "127.0.0.1 localhost\n", 20);
    struct trl_fim *m = baseline(f, true);

    /* Created and written: one event, with the final content. */
    agent_test_write(p(f, "cron.d-backdoor"), "w", "hello", 5);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    struct trl_event *ev = f->ev[0];
    assert_field(ev, TRL_F_EVENT_ACTION, "file-created");
    assert_field(ev, TRL_F_EVENT_CATEGORY, "file");
    assert_field(ev, TRL_F_EVENT_TYPE, "creation");
    assert_field(ev, TRL_F_EVENT_DATASET, "agent.fim");
    assert_field(ev, TRL_F_FILE_PATH, p(f, "cron.d-backdoor"));
    assert_field(ev, TRL_F_FILE_NAME, "cron.d-backdoor");
    assert_field(ev, TRL_F_FILE_DIRECTORY, f->root);
    assert_field(ev, TRL_F_FILE_TYPE, "file");
    assert_field(ev, TRL_F_FILE_SIZE, "5");
    assert_field(ev, TRL_F_FILE_MODE, "0644");
    assert_field(ev, TRL_F_FILE_HASH_SHA256, SHA_HELLO);
    assert_field(ev, TRL_F_RELATED_HASH, SHA_HELLO);
    assert_non_null(named(ev, "file.mtime"));
    assert_null(named(ev, "fim.before.size"));
    char uid[16];
    snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
    assert_field(ev, TRL_F_FILE_UID, uid);
    struct stat st;
    assert_int_equal(stat(p(f, "cron.d-backdoor"), &st), 0);
    char ino[32];
    snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st.st_ino);
    assert_field(ev, TRL_F_FILE_INODE, ino);
    reset(f);

    /* Content changed: before and after hashes and sizes. */
    agent_test_write(p(f, "hosts"), "w", "hello", 5);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    ev = f->ev[0];
    assert_field(ev, TRL_F_EVENT_ACTION, "file-modified");
    assert_field(ev, TRL_F_EVENT_TYPE, "change");
    assert_field(ev, TRL_F_FILE_HASH_SHA256, SHA_HELLO);
    assert_field(ev, TRL_F_FILE_SIZE, "5");
    assert_string_equal(named(ev, "fim.before.size"), "20");
    assert_non_null(named(ev, "fim.before.hash_sha256"));
    assert_string_not_equal(named(ev, "fim.before.hash_sha256"), SHA_HELLO);
    assert_string_equal(named(ev, "fim.changed"), "hash,size");
    reset(f);

    /* Permissions changed. */
    assert_int_equal(chmod(p(f, "hosts"), 04755), 0);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    ev = f->ev[0];
    assert_field(ev, TRL_F_EVENT_ACTION, "file-permissions-changed");
    assert_field(ev, TRL_F_FILE_MODE, "4755");
    assert_string_equal(named(ev, "fim.before.mode"), "0644");
    assert_string_equal(named(ev, "fim.changed"), "mode");
    reset(f);

    /* Owner changed (needs root). */
    if (geteuid() == 0) {
        assert_int_equal(chown(p(f, "hosts"), 1234, 5678), 0);
        run(m, f, 1);
        assert_int_equal(f->n, 1);
        ev = f->ev[0];
        assert_field(ev, TRL_F_EVENT_ACTION, "file-owner-changed");
        assert_field(ev, TRL_F_FILE_UID, "1234");
        assert_field(ev, TRL_F_FILE_GID, "5678");
        assert_string_equal(named(ev, "fim.before.uid"), "0");
        assert_string_equal(named(ev, "fim.before.gid"), "0");
        reset(f);
    } else {
        print_message("chown part skipped: not root\n");
    }

    /* Deleted: the last known values are reported. */
    assert_int_equal(unlink(p(f, "hosts")), 0);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    ev = f->ev[0];
    assert_field(ev, TRL_F_EVENT_ACTION, "file-deleted");
    assert_field(ev, TRL_F_EVENT_TYPE, "deletion");
    assert_field(ev, TRL_F_FILE_HASH_SHA256, SHA_HELLO);
    assert_field(ev, TRL_F_FILE_SIZE, "5");
    reset(f);
    trl_fim_destroy(m);
}

static void test_fim_new_directory_and_ignored_files(void **state)
{
    struct fixture *f = *state;
    struct trl_fim *m = make(f, 0, true);
    assert_int_equal(trl_fim_ignore(m, "*.swp"), 0);
    run(m, f, 0);

    assert_int_equal(mkdir(p(f, "sudoers.d"), 0750), 0);
    agent_test_write(p(f, "sudoers.d/evil"), "w", "hello", 5);
    agent_test_write(p(f, ".sudoers.swp"), "w", "x", 1);
    run(m, f, 2);
    assert_int_equal(f->n, 2);
    assert_field(f->ev[0], TRL_F_FILE_PATH, p(f, "sudoers.d"));
    assert_field(f->ev[0], TRL_F_FILE_TYPE, "dir");
    assert_field(f->ev[0], TRL_F_FILE_MODE, "0750");
    assert_field(f->ev[0], TRL_F_FILE_HASH_SHA256, NULL);
    assert_field(f->ev[1], TRL_F_FILE_PATH, p(f, "sudoers.d/evil"));
    assert_field(f->ev[1], TRL_F_EVENT_ACTION, "file-created");
    reset(f);

    /* Files created later inside the new directory are seen too (it is watched). */
    agent_test_write(p(f, "sudoers.d/second"), "w", "hello", 5);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    assert_field(f->ev[0], TRL_F_FILE_PATH, p(f, "sudoers.d/second"));
    reset(f);

    /* Removing the directory reports everything in it. */
    assert_int_equal(unlink(p(f, "sudoers.d/evil")), 0);
    assert_int_equal(unlink(p(f, "sudoers.d/second")), 0);
    assert_int_equal(rmdir(p(f, "sudoers.d")), 0);
    run(m, f, 3);
    assert_int_equal(f->n, 3);
    for (int i = 0; i < 3; i++)
        assert_field(f->ev[i], TRL_F_EVENT_ACTION, "file-deleted");
    reset(f);
    trl_fim_destroy(m);
}

static void test_fim_directory_moved_away_reports_its_tree_only(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(p(f, "cron.d"), 0755), 0);
    assert_int_equal(mkdir(p(f, "cron.d/sub"), 0755), 0);
    agent_test_write(p(f, "cron.d/job"), "w", "x", 1);
    agent_test_write(p(f, "cron.d/sub/deep"), "w", "y", 1);
    /* Names that sort right around the directory's subtree must stay. */
    agent_test_write(p(f, "cron.d0"), "w", "z", 1);
    agent_test_write(p(f, "cron.d.bak"), "w", "z", 1);
    agent_test_write(p(f, "cron.dz"), "w", "z", 1);
    struct trl_fim *m = baseline(f, true);

    char away[4200];
    snprintf(away, sizeof(away), "%s/away", f->dir);
    assert_int_equal(rename(p(f, "cron.d"), away), 0);
    run(m, f, 4);
    assert_int_equal(f->n, 4);
    int seen = 0;
    for (int i = 0; i < f->n; i++) {
        assert_field(f->ev[i], TRL_F_EVENT_ACTION, "file-deleted");
        size_t len;
        const char *path = trl_event_get(f->ev[i], TRL_F_FILE_PATH, &len);
        static const char *const gone[] = {"cron.d", "cron.d/sub", "cron.d/job", "cron.d/sub/deep"};
        for (int k = 0; k < 4; k++) {
            if (strcmp(path, p(f, gone[k])) == 0)
                seen |= 1 << k;
        }
    }
    assert_int_equal(seen, 15);
    reset(f);
    struct trl_fim_stats st;
    trl_fim_stats(m, &st);
    assert_int_equal(st.entries, 4); /* the root and its three files */
    trl_fim_destroy(m);
}

/* A baseline written before the scan generation was stored (schema version 1) is kept: unchanged
 * files stay silent, changes made while the agent was down are reported. */
static void test_fim_baseline_of_schema_version_1_is_kept(void **state)
{
    struct fixture *f = *state;
    agent_test_write(p(f, "passwd"), "w", "root:x:0:0::/root:/bin/sh\n", 27);
    agent_test_write(p(f, "hosts"), "w", "127.0.0.1 localhost\n", 20);
    agent_test_write(p(f, "issue"), "w", "Debian\n", 7);
    struct trl_fim *m = baseline(f, false);
    trl_fim_destroy(m);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE files DROP COLUMN gen; PRAGMA user_version=1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    agent_test_write(p(f, "hosts"), "a", "10.0.0.9 evil\n", 14);
    assert_int_equal(unlink(p(f, "issue")), 0);

    m = make(f, 0, false);
    run(m, f, 2);
    assert_int_equal(f->n, 2);
    int seen = 0;
    for (int i = 0; i < f->n; i++) {
        size_t len;
        const char *path = trl_event_get(f->ev[i], TRL_F_FILE_PATH, &len);
        if (strcmp(path, p(f, "hosts")) == 0) {
            assert_field(f->ev[i], TRL_F_EVENT_ACTION, "file-modified");
            seen |= 1;
        } else if (strcmp(path, p(f, "issue")) == 0) {
            assert_field(f->ev[i], TRL_F_EVENT_ACTION, "file-deleted");
            seen |= 2;
        }
    }
    assert_int_equal(seen, 3);
    reset(f);
    trl_fim_destroy(m);
}

static void test_fim_changes_while_down_are_found_by_scan(void **state)
{
    struct fixture *f = *state;
    agent_test_write(p(f, "shadow"), "w", "root:*:19000::::::\n", 19);
    agent_test_write(p(f, "motd"), "w", "welcome\n", 8);
    struct trl_fim *m = baseline(f, true);
    trl_fim_trim(m);
    trl_fim_destroy(m);

    /* While the agent is stopped. */
    agent_test_write(p(f, "shadow"), "w", "hello", 5);
    assert_int_equal(unlink(p(f, "motd")), 0);
    assert_int_equal(symlink("/tmp/x", p(f, "ld.so.preload")), 0);

    m = make(f, 0, true);
    run(m, f, 3);
    assert_int_equal(f->n, 3);
    int seen = 0;
    for (int i = 0; i < f->n; i++) {
        struct trl_event *ev = f->ev[i];
        size_t len;
        const char *path = trl_event_get(ev, TRL_F_FILE_PATH, &len);
        if (strcmp(path, p(f, "shadow")) == 0) {
            assert_field(ev, TRL_F_EVENT_ACTION, "file-modified");
            assert_field(ev, TRL_F_FILE_HASH_SHA256, SHA_HELLO);
            assert_string_equal(named(ev, "fim.before.size"), "19");
            seen |= 1;
        } else if (strcmp(path, p(f, "motd")) == 0) {
            assert_field(ev, TRL_F_EVENT_ACTION, "file-deleted");
            seen |= 2;
        } else if (strcmp(path, p(f, "ld.so.preload")) == 0) {
            assert_field(ev, TRL_F_EVENT_ACTION, "file-created");
            assert_field(ev, TRL_F_FILE_TYPE, "symlink");
            assert_string_equal(named(ev, "file.target_path"), "/tmp/x");
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    reset(f);
    trl_fim_destroy(m);
}

static void test_fim_large_files_are_not_hashed(void **state)
{
    struct fixture *f = *state;
    struct trl_fim *m = make(f, 16, true);
    run(m, f, 0);
    agent_test_write(p(f, "big.bin"), "w", "0123456789abcdefXYZ", 19);
    agent_test_write(p(f, "small.txt"), "w", "hello", 5);
    run(m, f, 2);
    assert_int_equal(f->n, 2);
    for (int i = 0; i < 2; i++) {
        struct trl_event *ev = f->ev[i];
        if (trl_event_is(ev, TRL_F_FILE_NAME, "big.bin")) {
            assert_field(ev, TRL_F_FILE_HASH_SHA256, NULL);
            assert_string_equal(named(ev, "fim.hash_skipped"), "size-limit");
            assert_field(ev, TRL_F_FILE_EXTENSION, "bin");
        } else {
            assert_field(ev, TRL_F_FILE_HASH_SHA256, SHA_HELLO);
            assert_null(named(ev, "fim.hash_skipped"));
        }
    }
    reset(f);
    /* An unhashed file that changes is still reported, from its size and mtime. */
    agent_test_write(p(f, "big.bin"), "a", "more", 4);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    assert_field(f->ev[0], TRL_F_EVENT_ACTION, "file-modified");
    reset(f);
    trl_fim_destroy(m);
}

static void test_fim_periodic_scan_without_inotify(void **state)
{
    struct fixture *f = *state;
    agent_test_write(p(f, "resolv.conf"), "w", "nameserver 10.0.0.1\n", 20);
    struct trl_fim *m = make(f, 0, false);
    assert_int_equal(trl_fim_fd(m), -1);
    assert_int_equal(trl_fim_scan(m, f->arena, collect, f), 0);
    /* Giving back the baseline database's cache between scans loses nothing. */
    trl_fim_trim(m);
    assert_int_equal(chmod(p(f, "resolv.conf"), 0666), 0);
    assert_int_equal(trl_fim_scan(m, f->arena, collect, f), 1);
    assert_field(f->ev[0], TRL_F_EVENT_ACTION, "file-permissions-changed");
    assert_field(f->ev[0], TRL_F_FILE_MODE, "0666");
    reset(f);
    /* Touching a file without changing it is not a change worth an event. */
    assert_int_equal(utimensat(AT_FDCWD, p(f, "resolv.conf"), NULL, 0), 0);
    assert_int_equal(trl_fim_scan(m, f->arena, collect, f), 0);
    trl_fim_destroy(m);
}

static void test_fim_new_root_is_baselined_silently(void **state)
{
    struct fixture *f = *state;
    struct trl_fim *m = make(f, 0, false);
    assert_int_equal(trl_fim_scan(m, f->arena, collect, f), 0);
    trl_fim_destroy(m);

    char other[4096];
    snprintf(other, sizeof(other), "%s/usr-bin", f->dir);
    assert_int_equal(mkdir(other, 0755), 0);
    agent_test_write(agent_test_path(other, "ls"), "w", "ELF", 3);
    m = make(f, 0, false);
    assert_int_equal(trl_fim_add_path(m, other), 0);
    assert_int_equal(trl_fim_scan(m, f->arena, collect, f), 0);
    agent_test_write(agent_test_path(other, "ls"), "w", "ELF2", 4);
    assert_int_equal(trl_fim_scan(m, f->arena, collect, f), 1);
    assert_field(f->ev[0], TRL_F_EVENT_ACTION, "file-modified");
    reset(f);
    trl_fim_destroy(m);
}

static void test_fim_single_file_root(void **state)
{
    struct fixture *f = *state;
    agent_test_write(p(f, "authorized_keys"), "w", "ssh-ed25519 AAAA\n", 17);
    agent_test_write(p(f, "unrelated"), "w", "x", 1);
    struct trl_fim_config cfg = {.db_path = f->db, .settle_ms = 40};
    struct trl_fim *m;
    assert_int_equal(trl_fim_create(&cfg, &m), 0);
    assert_int_equal(trl_fim_add_path(m, p(f, "authorized_keys")), 0);
    run(m, f, 0);
    agent_test_append(p(f, "authorized_keys"), "ssh-rsa BBBB attacker\n");
    agent_test_append(p(f, "unrelated"), "y");
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    assert_field(f->ev[0], TRL_F_FILE_NAME, "authorized_keys");
    assert_field(f->ev[0], TRL_F_EVENT_ACTION, "file-modified");
    reset(f);
    trl_fim_destroy(m);
}

/* A file read in several chunks gets the standard SHA-256 of its whole content (the value
 * sha256sum prints), so that baselines written by earlier versions stay valid. */
static void test_fim_hashes_multi_chunk_file_like_sha256sum(void **state)
{
    struct fixture *f = *state;
    struct trl_fim *m = make(f, 0, true);
    run(m, f, 0);
    size_t n = 200003;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i % 251);
    agent_test_write(p(f, "sshd.bin"), "w", data, n);
    free(data);
    run(m, f, 1);
    assert_int_equal(f->n, 1);
    assert_field(f->ev[0], TRL_F_EVENT_ACTION, "file-created");
    assert_field(f->ev[0], TRL_F_FILE_SIZE, "200003");
    assert_field(f->ev[0], TRL_F_FILE_HASH_SHA256,
                 "49cbf04ab31e40bccff20650404805fc4a1f508e56d891f406ec592a2176d2e4");
    reset(f);
    trl_fim_destroy(m);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fim_first_scan_builds_baseline_silently),
        T(test_fim_realtime_create_modify_chmod_chown_delete),
        T(test_fim_new_directory_and_ignored_files),
        T(test_fim_directory_moved_away_reports_its_tree_only),
        T(test_fim_changes_while_down_are_found_by_scan),
        T(test_fim_baseline_of_schema_version_1_is_kept),
        T(test_fim_large_files_are_not_hashed),
        T(test_fim_periodic_scan_without_inotify),
        T(test_fim_new_root_is_baselined_silently),
        T(test_fim_single_file_root),
        T(test_fim_hashes_multi_chunk_file_like_sha256sum),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
