/* Tamper evidence: verify names every altered, deleted or inserted block, chain entry,
 * partition and ledger entry, and accepts what compaction and retention did. */
#include "store_dir_fixture.h"

#include "store/keys.h"

#include <sqlite3.h>
#include <sys/stat.h>

/* Two days: 2026-11-27 with 5 blocks of 20 events (ids 1..5), 2026-11-28 with one block. */
static int setup_store(void **state)
{
    setup(state);
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    for (int b = 0; b < 6; b++) {
        struct trl_event *ev[20];
        int64_t base = b < 5 ? D0 + b * 3600 * TRL_NS_PER_SEC : D0 + DAY_NS;
        for (int i = 0; i < 20; i++)
            ev[i] = tu_event(arena, base + i * TRL_NS_PER_SEC, "root", "web01",
                             "block %d event %d Failed password for root", b, i);
        assert_int_equal(trl_store_append(st, ev, 20), 0);
    }
    trl_store_close(st);
    return 0;
}

static void sql(const char *file, const char *stmt)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/events/%s", dir, file);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", stmt, err);
    sqlite3_close(db);
}

/* Asserts that verify finds exactly `count` problems and that the text names `want`. */
static void expect_findings(uint32_t count, const char *want)
{
    struct tu_findings f = tu_verify(dir, NULL);
    if (f.n != count || !strstr(f.text, want))
        fail_msg("want %u finding(s) naming '%s', got %u:\n%s", count, want, f.n, f.text);
}

static void test_untouched_store_verifies(void **state)
{
    (void)state;
    struct tu_findings f = tu_verify(dir, NULL);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.sum.partitions, 2);
    assert_int_equal(f.sum.blocks, 6);
    assert_int_equal(f.sum.events, 120);
}

static void test_a_changed_byte_in_a_block_is_named(void **state)
{
    (void)state;
    sql("2026-11-27.db", "UPDATE blocks SET data = substr(data, 1, 100) || "
                         "x'00' || substr(data, 102) WHERE id = 3");
    expect_findings(1, "2026-11-27 #3 2 block 3 (20 events, 2026-11-27T02:00:00Z..");
}

static void test_search_skips_a_damaged_block_and_says_so(void **state)
{
    (void)state;
    /* A byte near the end of the data blob lies in the compressed JSON column. */
    sql("2026-11-27.db", "UPDATE blocks SET data = substr(data, 1, length(data) - 20) || "
                         "x'00' || substr(data, length(data) - 18) WHERE id = 3");
    struct tu_results r = tu_search(dir, "", D0, D0 + DAY_NS, 0);
    assert_int_equal(r.n, 80); /* the four intact blocks */
    assert_int_equal(r.st.blocks_unreadable, 1);
    tu_results_free(&r);
}

static void test_a_changed_meta_blob_or_time_range_is_named(void **state)
{
    (void)state;
    sql("2026-11-27.db", "UPDATE blocks SET max_ts = max_ts + 1 WHERE id = 2");
    expect_findings(1, "block 2 (20 events");
    sql("2026-11-27.db", "UPDATE blocks SET max_ts = max_ts - 1 WHERE id = 2;"
                         "UPDATE blocks SET meta = zeroblob(length(meta)) WHERE id = 4");
    expect_findings(1, "block 4 (20 events");
}

static void test_a_deleted_block_is_named(void **state)
{
    (void)state;
    sql("2026-11-27.db", "DELETE FROM blocks WHERE id = 2");
    expect_findings(1, "2026-11-27 #2 3 block 2 (20 events, 2026-11-27T01:00:00Z..2026-11-27T01:00:"
                       "19Z) is missing (deleted)");
}

static void test_an_inserted_block_is_named(void **state)
{
    (void)state;
    sql("2026-11-27.db", "INSERT INTO blocks(id, min_ts, max_ts, count, meta, data) "
                         "SELECT 99, min_ts, max_ts, count, meta, data FROM blocks WHERE id = 1");
    expect_findings(1, "2026-11-27 #99 4 block 99 (20 events");
}

static void test_a_block_swapped_with_another_is_named(void **state)
{
    (void)state;
    sql("2026-11-27.db", "UPDATE blocks SET data = (SELECT data FROM blocks WHERE id = 1) "
                         "WHERE id = 5");
    expect_findings(1, "block 5 (20 events");
}

static void test_chain_tampering_is_named(void **state)
{
    (void)state;
    /* Deleting the last entry together with its block: the signed head still names it. */
    sql("2026-11-27.db", "DELETE FROM chain WHERE seq = 5; DELETE FROM blocks WHERE id = 5");
    expect_findings(1, "the signed head is at entry 5 but the chain ends at 4");
}

static void test_a_deleted_middle_chain_entry_is_named(void **state)
{
    (void)state;
    sql("2026-11-27.db", "DELETE FROM chain WHERE seq = 2");
    struct tu_findings f = tu_verify(dir, NULL);
    assert_non_null(strstr(f.text, "chain entry 2 is missing (deleted)"));
    assert_non_null(strstr(f.text, "block 2 (20 events")); /* its block has no entry now */
}

static void test_a_rewritten_head_fails_its_signature(void **state)
{
    (void)state;
    sql("2026-11-27.db", "UPDATE head SET signature = zeroblob(64)");
    expect_findings(1, "the head signature does not match");
}

static void test_a_deleted_partition_is_named_and_a_planted_one_too(void **state)
{
    (void)state;
    char a[512], b[512];
    snprintf(a, sizeof(a), "%s/events/2026-11-28.db", dir);
    snprintf(b, sizeof(b), "%s/events/2026-11-29.db", dir);
    assert_int_equal(rename(a, b), 0);
    struct tu_findings f = tu_verify(dir, NULL);
    assert_non_null(strstr(f.text, "2026-11-28 #0 3 the partition file is missing"));
    assert_non_null(strstr(f.text, "2026-11-29"));
    assert_non_null(strstr(f.text, "not in the ledger (inserted)"));
}

static void test_ledger_tampering_is_named(void **state)
{
    (void)state;
    sql("ledger.db", "UPDATE entries SET day = '2026-11-20' WHERE seq = 1");
    struct tu_findings f = tu_verify(dir, NULL);
    assert_non_null(strstr(f.text, "ledger #1 2 ledger entry 1 (open 2026-11-20) does not hash"));
}

static void test_signatures_are_checked_against_a_given_public_key(void **state)
{
    (void)state;
    /* A key pair made elsewhere: nothing in this store was signed with it. */
    char *other = tu_mkdtemp();
    struct trl_store_key *k;
    assert_int_equal(trl_store_key_open(other, &k), 0);
    trl_store_key_free(k);
    char pub[512];
    snprintf(pub, sizeof(pub), "%s/keys/store-signing.pub", other);
    struct tu_findings f = tu_verify(dir, pub);
    assert_true(f.n >= 3); /* two partition heads and the ledger head */
    assert_non_null(strstr(f.text, "is signed by key"));
    tu_rmrf(other);
}

static void test_compaction_and_retention_verify_clean_and_tampering_still_shows(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    assert_int_equal(cs.merges, 1); /* the five blocks of 2026-11-27 became block 6 */
    trl_store_close(st);
    struct tu_findings f = tu_verify(dir, NULL);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.sum.blocks, 2);
    assert_int_equal(f.sum.events, 120);
    /* The compacted block is chained like any other. */
    sql("2026-11-27.db", "UPDATE blocks SET data = data || x'00' WHERE id = 6");
    expect_findings(1, "2026-11-27 #6 2 block 6 (100 events");
    /* Retention removes that partition: recorded, so no finding is left. */
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_store_retention_result rr;
    assert_int_equal(trl_store_apply_retention(st, 1, 0, D0 + 2 * DAY_NS + 1, &rr), 0);
    assert_int_equal(rr.removed, 1);
    trl_store_close(st);
    f = tu_verify(dir, NULL);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.sum.removed_partitions, 1);
    assert_int_equal(f.sum.partitions, 1);
}

static void test_a_restored_replaced_block_is_named(void **state)
{
    (void)state;
    /* Keep a copy of block 1, compact, then put the copy back. */
    sql("2026-11-27.db", "CREATE TABLE saved AS SELECT * FROM blocks WHERE id = 1");
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    assert_int_equal(trl_store_compact(st, 0, true, NULL), 0);
    trl_store_close(st);
    sql("2026-11-27.db", "INSERT INTO blocks SELECT * FROM saved");
    expect_findings(1, "block 1 was replaced by compaction 6 but is present again");
}

static void test_compaction_does_not_merge_an_altered_block_away(void **state)
{
    (void)state;
    /* Appended blocks record no events digest: a merge would give an altered block's events a
     * new, correct hash, so compaction checks each block against its entry first. */
    sql("2026-11-27.db",
        "UPDATE blocks SET data = (SELECT data FROM blocks WHERE id = 2) WHERE id = 3");
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    assert_int_equal(cs.merges, 0);
    trl_store_close(st);
    expect_findings(1, "block 3 (20 events");
    struct tu_findings f = tu_verify(dir, NULL);
    assert_int_equal(f.sum.blocks, 5); /* the four intact blocks of that day are still there */
}

/* 20 events of 2026-11-27 from `hour` on (after the setup's blocks). */
static void later_events(struct trl_event **ev, int hour)
{
    for (int i = 0; i < 20; i++)
        ev[i] = tu_event(arena, D0 + hour * 3600 * TRL_NS_PER_SEC + i * TRL_NS_PER_SEC, "root",
                         "web01", "event %d after hour %d", i, hour);
}

/* Appends one block of 20 events to 2026-11-27 with a writer of its own. */
static void append_to_first_day(void)
{
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_event *ev[20];
    later_events(ev, 6);
    assert_int_equal(trl_store_append(st, ev, 20), 0);
    trl_store_close(st);
}

static void test_the_writer_does_not_sign_over_a_truncated_chain(void **state)
{
    (void)state;
    /* The last block and its entry deleted and the head moved back to entry 4: only the head's
     * signature shows it. A writer that chained onto that head and signed it would hide the
     * deletion; it moves the partition aside instead and starts the day afresh. */
    sql("2026-11-27.db", "DELETE FROM chain WHERE seq = 5; DELETE FROM blocks WHERE id = 5;"
                         " UPDATE head SET seq = 4, hash = (SELECT hash FROM chain WHERE seq = 4)");
    append_to_first_day();
    struct tu_findings f = tu_verify(dir, NULL);
    if (f.n != 1 || !strstr(f.text, "2026-11-27.db.altered."))
        fail_msg("want the altered partition named, got %u finding(s):\n%s", f.n, f.text);
    assert_int_equal(f.sum.events, 40); /* the new day file and 2026-11-28 */
}

static void test_the_writer_notices_a_head_changed_while_it_runs(void **state)
{
    (void)state;
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_event *ev[20];
    later_events(ev, 7);
    assert_int_equal(trl_store_append(st, ev, 10), 0); /* block 6: the writer knows its head */
    sql("2026-11-27.db", "DELETE FROM chain WHERE seq = 6; DELETE FROM blocks WHERE id = 6;"
                         " UPDATE head SET seq = 5, hash = (SELECT hash FROM chain WHERE seq = 5)");
    assert_int_equal(trl_store_append(st, ev + 10, 10), 0);
    trl_store_close(st);
    struct tu_findings f = tu_verify(dir, NULL);
    if (f.n != 1 || !strstr(f.text, "2026-11-27.db.altered."))
        fail_msg("want the altered partition named, got %u finding(s):\n%s", f.n, f.text);
    assert_int_equal(f.sum.events, 30);
}

static void test_the_writer_does_not_sign_over_a_truncated_ledger(void **state)
{
    (void)state;
    /* The ledger's last entry (the opening of 2026-11-28) deleted and its head moved back: the
     * next partition the writer opens must not get the ledger re-signed over that. */
    sql("ledger.db", "DELETE FROM entries WHERE seq = 2;"
                     " UPDATE head SET seq = 1, hash = (SELECT hash FROM entries WHERE seq = 1)");
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, NULL, &st), 0);
    struct trl_event *ev = tu_event(arena, D0 + 2 * DAY_NS, "root", "web01", "a new day");
    assert_int_not_equal(trl_store_append(st, &ev, 1), 0);
    trl_store_close(st);
    struct tu_findings f = tu_verify(dir, NULL);
    if (!strstr(f.text, "the head signature does not match"))
        fail_msg("want the ledger's head named, got %u finding(s):\n%s", f.n, f.text);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_store, teardown)
    const struct CMUnitTest tests[] = {
        T(test_untouched_store_verifies),
        T(test_a_changed_byte_in_a_block_is_named),
        T(test_search_skips_a_damaged_block_and_says_so),
        T(test_a_changed_meta_blob_or_time_range_is_named),
        T(test_a_deleted_block_is_named),
        T(test_an_inserted_block_is_named),
        T(test_a_block_swapped_with_another_is_named),
        T(test_chain_tampering_is_named),
        T(test_a_deleted_middle_chain_entry_is_named),
        T(test_a_rewritten_head_fails_its_signature),
        T(test_a_deleted_partition_is_named_and_a_planted_one_too),
        T(test_ledger_tampering_is_named),
        T(test_signatures_are_checked_against_a_given_public_key),
        T(test_compaction_and_retention_verify_clean_and_tampering_still_shows),
        T(test_a_restored_replaced_block_is_named),
        T(test_compaction_does_not_merge_an_altered_block_away),
        T(test_the_writer_does_not_sign_over_a_truncated_chain),
        T(test_the_writer_notices_a_head_changed_while_it_runs),
        T(test_the_writer_does_not_sign_over_a_truncated_ledger),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
