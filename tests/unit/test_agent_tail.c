#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/offsets.h"
#include "agent/tail.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <poll.h>

/*
 * Each test writes real files in a scratch directory, drives a tailer the way the agent's loop
 * does (poll on its descriptor with its timeout, then trl_tail_poll) and compares the lines
 * delivered, rendered "text" or "text[T]" (truncated) / "text[P]" (no newline), joined by '|'.
 */
#define MAX_LINES 256

struct got {
    int n;
    char *text[MAX_LINES];
    uint64_t id[MAX_LINES];
    uint64_t end[MAX_LINES];
    unsigned flags[MAX_LINES];
    char rendered[8192];
};

static int collect(void *ud, const struct trl_tail_line *line)
{
    struct got *g = ud;
    assert_true(g->n < MAX_LINES);
    assert_int_equal(strlen(line->data), line->len);
    g->text[g->n] = strdup(line->data);
    g->id[g->n] = line->file_id;
    g->end[g->n] = line->end;
    g->flags[g->n] = line->flags;
    g->n++;
    return 0;
}

static void got_reset(struct got *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->text[i]);
    memset(g, 0, sizeof(*g));
}

static const char *render(struct got *g)
{
    size_t off = 0;
    g->rendered[0] = '\0';
    for (int i = 0; i < g->n; i++) {
        const char *fl = g->flags[i] & TRL_TAIL_TRUNCATED ? "[T]"
                         : g->flags[i] & TRL_TAIL_PARTIAL ? "[P]"
                                                          : "";
        off += (size_t)snprintf(g->rendered + off, sizeof(g->rendered) - off, "%s%s%s",
                                i ? "|" : "", g->text[i], fl);
    }
    return g->rendered;
}

/* Polls like a main loop until want lines arrived (or, with want 0, for ms milliseconds). */
static void run(struct trl_tail *t, struct got *g, int want, int ms)
{
    int64_t deadline = trl_mono_ns() + (int64_t)ms * 1000000;
    for (;;) {
        assert_true(trl_tail_poll(t, collect, g) >= 0);
        if (want && g->n >= want)
            return;
        int64_t left = (deadline - trl_mono_ns()) / 1000000;
        if (left <= 0)
            return;
        int to = trl_tail_timeout_ms(t);
        if (to > left)
            to = (int)left;
        struct pollfd p = {trl_tail_fd(t), POLLIN, 0};
        poll(&p, trl_tail_fd(t) >= 0 ? 1 : 0, to);
    }
}

static void ack_all(struct trl_tail *t, struct got *g)
{
    for (int i = 0; i < g->n; i++)
        trl_tail_ack(t, g->id[i], g->end[i]);
}

struct fixture {
    char *dir;
    char state[4096];
    char log[4096];
};

static int setup(void **state)
{
    trl_log_set_level(TRL_LOG_ERROR);
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    snprintf(f->state, sizeof(f->state), "%s/tail.offsets", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/app.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

static struct trl_tail *make(struct fixture *f, const char *pattern, size_t max_line)
{
    struct trl_tail_config cfg = {
        .state_path = f->state,
        .max_line = max_line,
        .idle_flush_ms = 150,
        .poll_interval_ms = 50,
        .rotate_wait_ms = 200,
    };
    struct trl_tail *t;
    assert_int_equal(trl_tail_create(&cfg, &t), 0);
    assert_int_equal(trl_tail_add(t, pattern ? pattern : f->log), 0);
    return t;
}

static void test_tail_follows_appends_crlf_and_final_line(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "Nov 27 10:00:01 web1 sshd[811]: Accepted publickey for root\n"
                              "second\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g),
                        "Nov 27 10:00:01 web1 sshd[811]: Accepted publickey for root|second");
    got_reset(&g);

    /* CRLF loses its CR; an empty line is a line; a final line without newline waits for the
     * idle time, then comes flagged. */
    agent_test_append(f->log, "windows line\r\n\nno newline yet");
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g), "windows line|");
    got_reset(&g);
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "no newline yet[P]");
    assert_int_equal(g.end[0], (uint64_t)agent_test_size(f->log));
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_rename_rotation_reads_old_file_to_end(void **state)
{
    struct fixture *f = *state;
    FILE *w = fopen(f->log, "a");
    setvbuf(w, NULL, _IONBF, 0);
    fputs("old-1\nold-2\n", w);
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g), "old-1|old-2");
    got_reset(&g);

    /* logrotate renames the file; the writer still has the old one open and writes to it before
     * it reopens; meanwhile the new file gets its first line. */
    assert_int_equal(rename(f->log, agent_test_path(f->dir, "app.log.1")), 0);
    fputs("old-3\n", w);
    agent_test_append(f->log, "new-1\n");
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g), "old-3|new-1");
    got_reset(&g);

    /* A late write to the rotated file is still picked up within rotate_wait_ms. */
    fputs("old-4\n", w);
    fclose(w);
    agent_test_append(f->log, "new-2\n");
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g), "old-4|new-2");
    ack_all(t, &g);
    got_reset(&g);

    /* Once idle for rotate_wait_ms the old file is closed; only the new one stays open. */
    run(t, &g, 0, 500);
    assert_int_equal(g.n, 0);
    assert_int_equal(trl_tail_open_files(t), 1);
    trl_tail_destroy(t);
}

static void test_tail_copytruncate_restarts_at_zero(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "before-1\nbefore-2\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 2, 2000);
    got_reset(&g);

    /* copytruncate: the content is copied elsewhere and the file truncated in place. */
    assert_int_equal(truncate(f->log, 0), 0);
    agent_test_append(f->log, "after-1\n");
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "after-1");
    got_reset(&g);

    /* Truncated and refilled past the old offset before the tailer looked: the changed first
     * bytes give it away. */
    assert_int_equal(truncate(f->log, 0), 0);
    agent_test_append(f->log, "refilled line that is longer than before\n");
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "refilled line that is longer than before");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_delete_and_recreate(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "first file\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 1, 2000);
    got_reset(&g);

    assert_int_equal(unlink(f->log), 0);
    run(t, &g, 0, 100);
    agent_test_append(f->log, "second file\n");
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "second file");
    got_reset(&g);
    run(t, &g, 0, 400);
    assert_int_equal(g.n, 0);
    assert_int_equal(trl_tail_open_files(t), 1);
    trl_tail_destroy(t);
}

static void test_tail_restart_resumes_after_last_acked_line(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "l1\nl2\nl3\nl4\nl5\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 5, 2000);
    assert_string_equal(render(&g), "l1|l2|l3|l4|l5");
    /* Only three lines made it to the spool before the agent stopped. */
    trl_tail_ack(t, g.id[2], g.end[2]);
    assert_int_equal(trl_tail_commit(t), 0);
    got_reset(&g);
    trl_tail_destroy(t);

    agent_test_append(f->log, "l6\nl7\n");
    t = make(f, NULL, 0);
    run(t, &g, 4, 2000);
    run(t, &g, 0, 100);
    assert_string_equal(render(&g), "l4|l5|l6|l7");
    ack_all(t, &g);
    assert_int_equal(trl_tail_commit(t), 0);
    got_reset(&g);
    trl_tail_destroy(t);

    /* Everything acknowledged: a third start delivers nothing old. */
    agent_test_append(f->log, "l8\n");
    t = make(f, NULL, 0);
    run(t, &g, 1, 2000);
    run(t, &g, 0, 100);
    assert_string_equal(render(&g), "l8");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_restart_finds_file_rotated_while_down(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "a1\na2\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 2, 2000);
    ack_all(t, &g);
    assert_int_equal(trl_tail_commit(t), 0);
    got_reset(&g);
    trl_tail_destroy(t);

    /* While the agent is down the file grows, is rotated, and a new one starts. */
    agent_test_append(f->log, "a3\n");
    assert_int_equal(rename(f->log, agent_test_path(f->dir, "app.log.1")), 0);
    agent_test_append(f->log, "b1\n");
    t = make(f, NULL, 0);
    run(t, &g, 2, 2000);
    run(t, &g, 0, 100);
    assert_string_equal(render(&g), "a3|b1");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_state_ignores_other_file_with_same_inode(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "original content\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 1, 2000);
    ack_all(t, &g);
    assert_int_equal(trl_tail_commit(t), 0);
    got_reset(&g);
    trl_tail_destroy(t);

    /* Replaced by a different file while down (the inode may well be reused): its first bytes
     * differ, so it is read from the start. */
    assert_int_equal(unlink(f->log), 0);
    agent_test_append(f->log, "completely different and longer content\n");
    t = make(f, NULL, 0);
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "completely different and longer content");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_cuts_long_lines_and_skips_rest(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "0123456789abcdefXXXXXXXXXXXXXXXXXXXXXXXX\nshort\n");
    struct trl_tail *t = make(f, NULL, 16);
    struct got g = {0};
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g), "0123456789abcdef[T]|short");
    assert_int_equal(g.end[0], 41);
    got_reset(&g);

    /* A long line arriving in pieces, longer than the whole read buffer. */
    agent_test_append(f->log, "ABCDEFGHIJ");
    run(t, &g, 0, 60);
    char big[70000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    agent_test_append(f->log, big);
    run(t, &g, 0, 60);
    agent_test_append(f->log, "tail of it\nnext\n");
    run(t, &g, 2, 2000);
    assert_string_equal(render(&g), "ABCDEFGHIJzzzzzz[T]|next");
    assert_int_equal(g.end[0], 47 + 10 + sizeof(big) - 1 + 11);
    got_reset(&g);

    /* A line of exactly max_line bytes, with CRLF, is not truncated. */
    agent_test_append(f->log, "0123456789ABCDEF\r\n");
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "0123456789ABCDEF");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_glob_picks_up_new_files_and_honours_excludes(void **state)
{
    struct fixture *f = *state;
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/*.log*", f->dir);
    agent_test_append(agent_test_path(f->dir, "a.log"), "from a\n");
    struct trl_tail *t = make(f, pattern, 0);
    assert_int_equal(trl_tail_exclude(t, "*.gz"), 0);
    struct got g = {0};
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "from a");
    got_reset(&g);

    agent_test_append(agent_test_path(f->dir, "b.log"), "from b, written before it was seen\n");
    agent_test_append(agent_test_path(f->dir, "c.log.1.gz"), "compressed\n");
    run(t, &g, 1, 2000);
    run(t, &g, 0, 150);
    assert_string_equal(render(&g), "from b, written before it was seen");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_start_at_end_skips_existing_content(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "history\n");
    struct trl_tail_config cfg = {
        .state_path = f->state, .idle_flush_ms = 150, .poll_interval_ms = 50, .start_at_end = true};
    struct trl_tail *t;
    assert_int_equal(trl_tail_create(&cfg, &t), 0);
    assert_int_equal(trl_tail_add(t, f->log), 0);
    struct got g = {0};
    run(t, &g, 0, 100);
    agent_test_append(f->log, "fresh\n");
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "fresh");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_tail_damaged_state_reads_from_start(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->state, "trapline-offsets 1\n1 2 3 4 garbage\n");
    agent_test_append(f->log, "one\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    run(t, &g, 1, 2000);
    assert_string_equal(render(&g), "one");
    got_reset(&g);
    trl_tail_destroy(t);
}

static int stop_after_one(void *ud, const struct trl_tail_line *line)
{
    collect(ud, line);
    return 1;
}

static void test_tail_callback_can_stop_the_poll(void **state)
{
    struct fixture *f = *state;
    agent_test_append(f->log, "x1\nx2\nx3\n");
    struct trl_tail *t = make(f, NULL, 0);
    struct got g = {0};
    assert_int_equal(trl_tail_poll(t, stop_after_one, &g), 1);
    assert_int_equal(trl_tail_timeout_ms(t), 0);
    assert_int_equal(trl_tail_poll(t, stop_after_one, &g), 1);
    assert_int_equal(trl_tail_poll(t, collect, &g), 1);
    assert_string_equal(render(&g), "x1|x2|x3");
    got_reset(&g);
    trl_tail_destroy(t);
}

static void test_offsets_file_round_trip_and_damage(void **state)
{
    (void)state;
    struct trl_offsets o = {0};
    const char *good = "trapline-offsets 1\n"
                       "2049 131 42 0 16 /var/log/auth.log\n";
    /* Without the closing line the file is damaged. */
    assert_int_equal(trl_offsets_parse(good, strlen(good), &o), TRL_EINVAL);
    assert_int_equal(o.n, 0);
    /* A path may contain a newline: it is length-prefixed. */
    struct fixture *f = *state;
    trl_offsets_add(&o, "/var/log/we\nird.log", 1, 2, 3, 4);
    trl_offsets_add(&o, "/var/log/syslog", 5, 6, 7, 8);
    assert_int_equal(trl_offsets_save(f->state, &o), 0);
    trl_offsets_free(&o);
    assert_int_equal(trl_offsets_load(f->state, &o), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].path, "/var/log/we\nird.log");
    assert_int_equal(o.v[1].offset, 7);
    assert_int_equal(o.v[1].aux, 8);
    trl_offsets_free(&o);
    /* Any flipped byte is caught by the CRC. */
    FILE *fp = fopen(f->state, "r+");
    fseek(fp, 20, SEEK_SET);
    fputc('9', fp);
    fclose(fp);
    assert_int_equal(trl_offsets_load(f->state, &o), TRL_EINVAL);
    assert_int_equal(o.n, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_tail_follows_appends_crlf_and_final_line),
        T(test_tail_rename_rotation_reads_old_file_to_end),
        T(test_tail_copytruncate_restarts_at_zero),
        T(test_tail_delete_and_recreate),
        T(test_tail_restart_resumes_after_last_acked_line),
        T(test_tail_restart_finds_file_rotated_while_down),
        T(test_tail_state_ignores_other_file_with_same_inode),
        T(test_tail_cuts_long_lines_and_skips_rest),
        T(test_tail_glob_picks_up_new_files_and_honours_excludes),
        T(test_tail_start_at_end_skips_existing_content),
        T(test_tail_damaged_state_reads_from_start),
        T(test_tail_callback_can_stop_the_poll),
        T(test_offsets_file_round_trip_and_damage),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
