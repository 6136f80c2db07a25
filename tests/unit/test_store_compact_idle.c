/* Compaction waits for a partition to go idle: a past day that is still being written (an import
 * of old logs, late events) keeps the blocks appends wrote until the writer leaves it alone. */
#include "store_testutil.h"

#include "store_dir_fixture.h"

/* Ten appends of 40 events (not small blocks: 64 / 4 = 16) to a day two days ago. */
static void append_past_day(struct trl_store *st)
{
    struct trl_event *ev[40];
    int64_t day = trl_now_ns() / DAY_NS * DAY_NS - 2 * DAY_NS;
    for (int b = 0; b < 10; b++) {
        trl_arena_reset(arena);
        for (int i = 0; i < 40; i++)
            ev[i] = tu_event(arena, day + (int64_t)(b * 40 + i) * TRL_NS_PER_SEC, "root", "web01",
                             "Failed password for root from 10.0.0.%d port 22", i);
        assert_int_equal(trl_store_append(st, ev, 40), 0);
    }
}

static void test_past_day_being_written_is_not_compacted(void **state)
{
    (void)state;
    struct trl_store_opts o = {.block_max_events = 64};
    struct trl_store *st;
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    append_past_day(st);
    /* Written just now: merging would be redone at every pause of a steady import. */
    struct trl_store_compact_stats cs;
    assert_int_equal(trl_store_compact(st, 0, false, &cs), 0);
    assert_int_equal(cs.merges, 0);
    /* Forcing merges only runs of small blocks, which these are not. */
    assert_int_equal(trl_store_compact(st, 0, true, &cs), 0);
    assert_int_equal(cs.merges, 0);
    trl_store_close(st);

    /* Once the writer is gone (a store opened later finds the partition untouched for long), the
     * appended blocks are merged. */
    assert_int_equal(trl_store_open(dir, &o, &st), 0);
    assert_int_equal(trl_store_compact(st, 0, false, &cs), 0);
    assert_int_equal(cs.merges, 2);
    assert_int_equal(cs.events, 400);
    trl_store_close(st);
    assert_no_findings(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_past_day_being_written_is_not_compacted, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
