/* The journal source reads real journal files, written by systemd-journal-remote from the db01
 * sample intrusion, maps entries like the server maps journald JSON, and resumes after the last
 * entry it committed. */
#include "trl_test.h"

#include "agent/journal.h"
#include "core/arena.h"
#include "core/event.h"
#include "core/fields.h"
#include "core/timeutil.h"

#include <errno.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOURNAL_REMOTE "/lib/systemd/systemd-journal-remote"

static char dir[64];
static char state[128];
static struct trl_arena *arena;

/* Writes the entries of a journalctl JSON file (or the given lines) in journal export format and
 * turns them into DIR/name.journal with systemd-journal-remote. */
static void write_journal(const char *name, const char *json_path, const char *const *lines)
{
    char export[160], out[160], cmd[512];
    snprintf(export, sizeof(export), "%s/%s.export", dir, name);
    snprintf(out, sizeof(out), "%s/%s.journal", dir, name);
    FILE *f = fopen(export, "w");
    assert_non_null(f);
    FILE *in = json_path ? fopen(json_path, "r") : NULL;
    char line[8192];
    for (size_t i = 0;; i++) {
        const char *text = NULL;
        if (in)
            text = fgets(line, sizeof(line), in);
        else
            text = lines[i];
        if (!text)
            break;
        struct json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        json_object_object_foreach(o, k, v)
        {
            if (strcmp(k, "__CURSOR") != 0)
                fprintf(f, "%s=%s\n", k, json_object_get_string(v));
        }
        fputc('\n', f);
        json_object_put(o);
    }
    if (in)
        fclose(in);
    fclose(f);
    snprintf(cmd, sizeof(cmd), JOURNAL_REMOTE " --output=%s %s 2>/dev/null", out, export);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state_)
{
    (void)state_;
    const char *shared = getenv("TRL_SHARED");
    if (access(JOURNAL_REMOTE, X_OK) != 0 || !shared) {
        print_message("skipped: needs %s (package systemd-journal-remote) and TRL_SHARED\n",
                      JOURNAL_REMOTE);
        skip();
    }
    snprintf(dir, sizeof(dir), "/tmp/trl-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(state, sizeof(state), "%s/journal.cursor", dir);
    char path[512];
    snprintf(path, sizeof(path), "%s/data/linux-samples/db01-journal.json", shared);
    write_journal("db01", path, NULL);
    arena = trl_arena_create(1 << 16);
    return 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state_)
{
    (void)state_;
    trl_arena_destroy(arena);
    arena = NULL;
    if (dir[0])
        nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
    return 0;
}

struct got {
    int n;
    char messages[16][128];
    const struct trl_event *first;
};

static int collect(void *ud, struct trl_event *ev)
{
    struct got *g = ud;
    size_t len = 0;
    const char *m = trl_event_get(ev, TRL_F_MESSAGE, &len);
    if (g->n < 16)
        snprintf(g->messages[g->n], sizeof(g->messages[0]), "%.*s", (int)len, m ? m : "");
    if (!g->first)
        g->first = ev;
    g->n++;
    return 0;
}

static struct trl_journal *open_reader(bool read_existing, const char *const *matches)
{
    struct trl_journal_config cfg = {
        .state_path = state, .directory = dir, .matches = matches, .read_existing = read_existing};
    struct trl_journal *j;
    assert_int_equal(trl_journal_create(&cfg, &j), 0);
    return j;
}

static void test_entries_map_like_journald_json_and_normalise(void **state_)
{
    (void)state_;
    struct trl_journal *j = open_reader(true, NULL);
    struct got g = {0};
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &g), 9);
    const struct trl_event *ev = g.first;
    char ts[TRL_RFC3339_MAX];
    trl_format_rfc3339(ev->timestamp_ns, ts);
    assert_string_equal(ts, "2024-07-09T22:31:02.000000000Z");
    assert_field(ev, TRL_F_HOST_NAME, "db01");
    assert_field(ev, TRL_F_PROCESS_NAME, "sshd");
    assert_field(ev, TRL_F_PROCESS_PID, "4102");
    assert_field(ev, TRL_F_PROCESS_EXECUTABLE, "/usr/sbin/sshd");
    assert_field(ev, TRL_F_SOURCE_IP, "10.20.1.15");
    assert_field(ev, TRL_F_USER_NAME, "root");
    assert_field(ev, TRL_F_EVENT_OUTCOME, "failure");
    assert_string_equal(ev->original, "Failed password for root from 10.20.1.15 port 44218 ssh2");
    assert_string_equal(g.messages[6],
                        "Accepted password for svc_backup from 10.20.1.15 port 44230 ssh2");
    trl_journal_destroy(j);
}

static void test_a_restart_resumes_after_the_committed_entry(void **state_)
{
    (void)state_;
    struct trl_journal *j = open_reader(true, NULL);
    struct got g = {0};
    assert_int_equal(trl_journal_poll(j, arena, 4, collect, &g), 4);
    assert_int_equal(trl_journal_commit(j), 0);
    /* Read on without committing: a crash here must redeliver these. */
    assert_int_equal(trl_journal_poll(j, arena, 2, collect, &g), 2);
    trl_journal_destroy(j);

    j = open_reader(true, NULL);
    struct got again = {0};
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &again), 5);
    assert_string_equal(again.messages[0],
                        "Failed password for svc_backup from 10.20.1.15 port 44230 ssh2");
    assert_int_equal(trl_journal_commit(j), 0);
    trl_journal_destroy(j);

    j = open_reader(true, NULL);
    struct got none = {0};
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &none), 0);
    trl_journal_destroy(j);
}

static void test_without_a_cursor_only_new_entries_are_read(void **state_)
{
    (void)state_;
    struct trl_journal *j = open_reader(false, NULL);
    struct got g = {0};
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &g), 0);
    const char *const later[] = {
        "{\"__REALTIME_TIMESTAMP\":\"1720564400000000\",\"__MONOTONIC_TIMESTAMP\":\"88100000000\","
        "\"_BOOT_ID\":\"fedcba9876543210fedcba9876543210\",\"_HOSTNAME\":\"db01\","
        "\"SYSLOG_IDENTIFIER\":\"CRON\",\"_PID\":\"5120\",\"_SYSTEMD_UNIT\":\"cron.service\","
        "\"MESSAGE\":\"(root) CMD (/tmp/.x/update.sh)\"}",
        NULL};
    write_journal("later", NULL, later);
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &g), 1);
    assert_string_equal(g.messages[0], "(root) CMD (/tmp/.x/update.sh)");
    assert_field(g.first, TRL_F_PROCESS_NAME, "CRON");
    trl_journal_destroy(j);
}

static void test_matches_select_entries(void **state_)
{
    (void)state_;
    const char *const accepted[] = {
        "MESSAGE=Accepted password for svc_backup from 10.20.1.15 port 44230 ssh2",
        "MESSAGE=pam_unix(sshd:session): session closed for user svc_backup", NULL};
    struct trl_journal *j = open_reader(true, accepted);
    struct got g = {0};
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &g), 2);
    trl_journal_destroy(j);
}

static void test_bad_configuration_is_refused(void **state_)
{
    (void)state_;
    const char *const bad[] = {"no equals sign", NULL};
    struct trl_journal_config cfg = {.directory = dir, .matches = bad};
    struct trl_journal *j = NULL;
    assert_int_equal(trl_journal_create(&cfg, &j), TRL_EINVAL);
    assert_null(j);
    struct trl_journal_config missing = {.directory = "/nonexistent/trl-journal"};
    assert_true(trl_journal_create(&missing, &j) < 0);
    assert_null(j);
    /* A state file holding garbage is not a cursor: the reader starts at the end. */
    FILE *f = fopen(state, "w");
    fputs("not a cursor\n", f);
    fclose(f);
    j = open_reader(false, NULL);
    struct got g = {0};
    assert_int_equal(trl_journal_poll(j, arena, 0, collect, &g), 0);
    trl_journal_destroy(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entries_map_like_journald_json_and_normalise, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_restart_resumes_after_the_committed_entry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_without_a_cursor_only_new_entries_are_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_matches_select_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_configuration_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
