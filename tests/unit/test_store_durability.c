/* Durability: a writer killed with SIGKILL at any moment loses no batch it acknowledged, stores
 * no batch in part, and leaves every file readable and verifiable. */
#include "store_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define BATCH 400

/* The child: appends batches k = base, base+1, ... of BATCH events (event i of batch k at
 * D0 + k*BATCH + i ns) and reports k on the pipe once trl_store_append() has returned 0. Runs
 * until killed. */
static void writer_child(const char *dir, int fd, uint32_t base)
{
    struct trl_store *st;
    if (trl_store_open(dir, NULL, &st) != 0)
        _exit(3);
    struct trl_arena *a = trl_arena_create(1 << 20);
    struct trl_event *ev[BATCH];
    for (uint32_t k = base;; k++) {
        trl_arena_reset(a);
        for (int i = 0; i < BATCH; i++)
            ev[i] = tu_event(a, D0 + (int64_t)k * BATCH + i, "root", "web01",
                             "batch%u event %d Failed password for root from 10.0.%d.%d", k, i,
                             i % 256, k % 256);
        if (trl_store_append(st, ev, BATCH) != 0)
            _exit(4);
        if (write(fd, &k, sizeof(k)) != sizeof(k))
            _exit(5);
    }
}

static int count_cb(void *ud, int64_t ts, const char *json, size_t len)
{
    (void)json;
    (void)len;
    uint32_t *per_batch = ud;
    per_batch[((ts - D0) / BATCH) % 1000]++;
    return 0;
}

static void test_sigkill_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    /* Kill after different amounts of work: early (maybe mid-creation), then mid-stream. */
    const int kill_after_ms[] = {5, 60, 250, 700, 1300};
    char *dir = tu_mkdtemp();
    uint32_t acked_total = 0;
    for (uint32_t round = 0; round < TRL_ARRAY_LEN(kill_after_ms); round++) {
        uint32_t base = round * 1000;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            writer_child(dir, fds[1], base);
        }
        close(fds[1]);
        usleep((useconds_t)kill_after_ms[round] * 1000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        /* Every k the child reported was committed before it said so. */
        uint32_t k, acked = 0;
        while (read(fds[0], &k, sizeof(k)) == sizeof(k))
            acked = k - base + 1;
        close(fds[0]);
        uint32_t per_batch[1000] = {0};
        struct trl_store_reader *r;
        int rc = trl_store_reader_open(dir, &r);
        if (rc == -ENOENT && acked == 0)
            continue; /* killed before it created DATA/events */
        assert_int_equal(rc, 0);
        struct trl_query *q;
        assert_int_equal(trl_query_parse("", 0, &q, NULL), 0);
        struct trl_store_search_opts o = {D0 + (int64_t)base * BATCH,
                                          D0 + (int64_t)(base + 1000) * BATCH, 0};
        assert_int_equal(trl_store_search(r, q, &o, count_cb, per_batch, NULL), 0);
        trl_query_free(q);
        trl_store_reader_close(r);
        for (uint32_t b = 0; b < 1000; b++) {
            /* Acknowledged: all there, once. The one in flight: all or nothing. Later: none. */
            uint32_t want_min = b < acked ? BATCH : 0, want_max = b <= acked ? BATCH : 0;
            if (per_batch[b] < want_min || per_batch[b] > want_max ||
                (per_batch[b] != 0 && per_batch[b] != BATCH))
                fail_msg("round %u: batch %u has %u events (acknowledged: %u batches)", round, b,
                         per_batch[b], acked);
        }
        acked_total += acked;
        /* Every file opens and verifies, and a new writer can take over. */
        assert_no_findings(dir);
        struct trl_store *st;
        assert_int_equal(trl_store_open(dir, NULL, &st), 0);
        trl_store_close(st);
    }
    print_message("acknowledged batches across rounds: %u\n", acked_total);
    tu_rmrf(dir);
}

/* A writer killed between creating the ledger file and its tables leaves an empty (or WAL-only)
 * database: verify treats it as no ledger yet, and the next writer completes it. */
static void test_a_ledger_killed_before_its_tables_verifies_and_reopens(void **state)
{
    (void)state;
    const char *leftovers[] = {NULL, "PRAGMA journal_mode=WAL"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(leftovers); i++) {
        char *dir = tu_mkdtemp(), path[512];
        snprintf(path, sizeof(path), "%s/events", dir);
        assert_int_equal(mkdir(path, 0750), 0);
        snprintf(path, sizeof(path), "%s/events/ledger.db", dir);
        int fd = open(path, O_WRONLY | O_CREAT, 0640);
        assert_true(fd >= 0);
        close(fd);
        if (leftovers[i]) {
            sqlite3 *db;
            assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
            assert_int_equal(sqlite3_exec(db, leftovers[i], NULL, NULL, NULL), SQLITE_OK);
            sqlite3_close(db);
        }
        assert_no_findings(dir);
        struct trl_store *st;
        assert_int_equal(trl_store_open(dir, NULL, &st), 0);
        trl_store_close(st);
        assert_no_findings(dir);
        tu_rmrf(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_loses_no_acknowledged_batch),
        cmocka_unit_test(test_a_ledger_killed_before_its_tables_verifies_and_reopens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
