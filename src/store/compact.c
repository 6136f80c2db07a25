/*
 * Compaction: the writer merges runs of small blocks (what a quiet server commits every few
 * milliseconds) into blocks of up to block_max_events, so that searches open few blocks and the
 * index and compression work on large ones. Once a partition is idle (no write for 30 s, whether
 * or not its day is over: an import of old logs writes a past day without pause), the blocks
 * appends wrote (one per batch, compressed fast) are also merged, into blocks of up to four
 * times block_max_events with the stronger compaction level: larger blocks share more of their
 * index terms and compress better, and this work waits for idle time instead of costing the
 * ingest path.
 *
 * A merge is one transaction: read the run's blocks, concatenate their events in chain order,
 * build one block, append it to the chain as a "compact" entry listing the replaced block ids,
 * delete the replaced rows, sign the new head. Each replaced block is first checked against its
 * chain entry's content hash, and the new block's entry records the digest of its events, which
 * verify recomputes; blocks written before appends stopped recording an events digest also have
 * theirs checked against the new block's events cut at their counts. So compaction can regroup
 * events but cannot change, drop or add one without verify or the compaction itself noticing.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDLE_NS (30 * TRL_NS_PER_SEC)

struct run {
    uint64_t *ids;
    size_t n, cap;
    uint64_t events;
};

static void run_push(struct run *r, uint64_t id, uint32_t count)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ids = trl_xrealloc(r->ids, r->cap * sizeof(*r->ids));
    }
    r->ids[r->n++] = id;
    r->events += count;
}

/* Finds the first run of at least two adjacent small blocks worth merging now. *pending is set
 * when a run exists but waits for more events or for the partition to go idle. */
static int find_run(struct trl_partition *p, uint32_t block_max, bool ripe_anyway, struct run *r,
                    bool *pending)
{
    sqlite3_stmt *st = NULL;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        trl_partition_db(p), "SELECT id, count FROM blocks ORDER BY id", -1, &st, NULL));
    if (rc != 0)
        return rc;
    uint32_t small = block_max / 4;
    r->n = 0;
    r->events = 0;
    *pending = false;
    bool found = false;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
        int64_t count = sqlite3_column_int64(st, 1);
        bool is_small = count > 0 && count < small;
        if (is_small && r->events + (uint64_t)count <= block_max) {
            run_push(r, id, (uint32_t)count);
            continue;
        }
        /* The run ends here: keep it if it is worth merging, else start over. */
        if (r->n >= 2 && (ripe_anyway || r->events >= block_max / 2)) {
            found = true;
            break;
        }
        if (r->n >= 2)
            *pending = true;
        r->n = 0;
        r->events = 0;
        if (is_small)
            run_push(r, id, (uint32_t)count);
    }
    if (!found && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    if (!found && rc == 0 && r->n >= 2) {
        if (ripe_anyway || r->events >= block_max / 2)
            found = true;
        else
            *pending = true;
    }
    sqlite3_finalize(st);
    if (rc == 0 && !found)
        r->n = 0;
    return rc;
}

/* Blocks appends wrote (chain kind 1) that compaction has not rewritten yet: adjacent ones (by
 * id) are merged, up to big_max events, once their partition is idle. */
static int find_append_run(struct trl_partition *p, uint32_t big_max, struct run *r)
{
    sqlite3_stmt *st = NULL;
    int rc = trl_sqlite_err(sqlite3_prepare_v2(
        trl_partition_db(p),
        "SELECT b.id, b.count, c.kind FROM blocks b JOIN chain c ON c.seq = b.id ORDER BY b.id", -1,
        &st, NULL));
    if (rc != 0)
        return rc;
    r->n = 0;
    r->events = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
        int64_t count = sqlite3_column_int64(st, 1);
        bool appended = sqlite3_column_int(st, 2) == TRL_CHAIN_ADD;
        if (appended && count > 0 && r->events + (uint64_t)count <= big_max) {
            run_push(r, id, (uint32_t)count);
            continue;
        }
        if (r->n >= 2)
            break;
        r->n = 0;
        r->events = 0;
        if (appended && count > 0 && (uint64_t)count <= big_max)
            run_push(r, id, (uint32_t)count);
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = trl_sqlite_err(step);
    sqlite3_finalize(st);
    if (rc != 0 || r->n < 2) {
        r->n = 0;
        r->events = 0;
    }
    return rc;
}

/* Merges the run's blocks (or, when their JSON would pass TRL_STORE_BLOCK_MAX_JSON_BYTES, the first
 * ones: r is cut to them) into one block, in one transaction. */
static int merge_run(struct trl_store *st, struct trl_partition *p, struct run *r, int64_t now)
{
    struct trl_stored_block sb = {0};
    struct trl_block_decoder dec;
    trl_block_decoder_init(&dec);
    struct trl_buf json = {0};
    struct {
        int64_t ts;
        size_t off, len;
    } *ev = trl_xmalloc((size_t)r->events * sizeof(*ev));
    size_t nev = 0;
    struct trl_block_input *in = NULL;
    int rc = trl_partition_begin(p);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        struct trl_block_view v;
        rc = trl_partition_read_block(p, r->ids[i], &sb, true);
        /* Appended blocks record no events digest: their content hash is all that shows an
         * alteration, and a merge would hide it behind a new, correct hash. */
        if (rc == 0 && (rc = trl_partition_check_block(p, &sb)) == TRL_EINVAL)
            trl_error("store",
                      "block %llu of partition %s differs from its chain entry: not compacting "
                      "the partition, run trapline verify",
                      (unsigned long long)r->ids[i], trl_partition_day(p));
        if (rc == 0)
            rc = trl_block_view_init(&v, sb.data.data, sb.data.len);
        if (rc == 0) {
            trl_block_decoder_reset(&dec, &v);
            rc = trl_block_decode(&dec, &v, TRL_COL_TS);
        }
        if (rc == 0)
            rc = trl_block_decode(&dec, &v, TRL_COL_JSON);
        if (rc == 0 && nev + v.count > r->events)
            rc = TRL_EINVAL;
        if (rc == 0 && i >= 2) {
            uint64_t bytes = 0;
            for (uint32_t k = 0; k < v.count; k++)
                bytes += dec.str[TRL_COL_JSON].vals[k].len;
            if (json.len + bytes > TRL_STORE_BLOCK_MAX_JSON_BYTES) {
                r->n = i;
                r->events = nev;
                break;
            }
        }
        for (uint32_t k = 0; rc == 0 && k < v.count; k++) {
            const struct trl_str *js = &dec.str[TRL_COL_JSON].vals[k];
            ev[nev].ts = dec.ts[k];
            ev[nev].off = json.len;
            ev[nev].len = js->len;
            trl_buf_append(&json, js->ptr, js->len);
            nev++;
        }
    }
    if (rc == 0 && nev != r->events)
        rc = TRL_EINVAL;
    if (rc == 0) {
        in = trl_xmalloc(nev * sizeof(*in));
        for (size_t i = 0; i < nev; i++)
            in[i] = (struct trl_block_input){ev[i].ts, json.data + ev[i].off, ev[i].len};
        struct trl_block_out out;
        rc = trl_block_build(st->compact_builder, in, nev, &out);
        if (rc == 0)
            rc = trl_partition_add_block(p, &out, TRL_CHAIN_COMPACT, r->ids, r->n, now, NULL);
    }
    for (size_t i = 0; i < r->n && rc == 0; i++)
        rc = trl_partition_delete_block(p, r->ids[i]);
    if (rc == 0)
        rc = trl_partition_commit(p, st->key);
    else
        trl_partition_rollback(p);
out:
    free(in);
    free(ev);
    trl_buf_free(&json);
    trl_buf_free(&sb.meta);
    trl_buf_free(&sb.data);
    trl_block_decoder_free(&dec);
    return rc;
}

int trl_store_compact(struct trl_store *st, int64_t budget_ns, bool force,
                      struct trl_store_compact_stats *stats)
{
    struct trl_store_compact_stats local = {0};
    int64_t start = trl_mono_ns();
    int64_t now = trl_now_ns();
    struct run r = {0};
    int rc = 0;
    size_t i = 0;
    while (i < st->ndirty) {
        struct dirty_part d = st->dirty[i];
        struct trl_partition *p;
        rc = trl_store_partition(st, d.day, false, &p);
        if (rc == -ENOENT) {
            trl_store_unmark_dirty(st, d.day);
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        /* A past day still being written (late events, an import) is not idle: merging it now
         * would put the costly merges on the ingest path, in runs cut short by the next writes. */
        bool idle = now - d.last_write_ns >= IDLE_NS;
        bool pending = false;
        uint32_t merged = 0;
        uint32_t big_max = st->opts.block_max_events * 4;
        if (big_max > TRL_BLOCK_MAX_EVENTS)
            big_max = TRL_BLOCK_MAX_EVENTS;
        for (;;) {
            rc = find_run(p, st->opts.block_max_events, force || idle, &r, &pending);
            if (rc == 0 && r.n == 0) {
                /* Appended blocks wait for the partition to go idle: until then it stays on the
                 * list, without reading its whole block list every time the writer pauses. */
                if (idle)
                    rc = find_append_run(p, big_max, &r);
                else
                    pending = true;
            }
            if (rc != 0 || r.n == 0)
                break;
            rc = merge_run(st, p, &r, now);
            if (rc != 0)
                break;
            local.merges++;
            merged++;
            local.blocks_replaced += (uint32_t)r.n;
            local.events += r.events;
            if (budget_ns > 0 && trl_mono_ns() - start >= budget_ns)
                goto out;
        }
        if (rc == TRL_EINVAL || rc == -EBADMSG) {
            /* A damaged block (logged above, or one that does not decode) stays as it is for
             * verify to report; the partition's other runs are not retried on every pause. A
             * head changed under the writer (-EBADMSG) is set aside by the day's next write. */
            trl_store_unmark_dirty(st, d.day);
            rc = 0;
            continue;
        }
        if (rc != 0) {
            char name[TRL_DAY_LEN + 1];
            trl_day_name(d.day, name);
            trl_warn("store", "compaction failed day=%s error=\"%s\"", name, trl_strerror(rc));
            break;
        }
        /* The replaced blocks' pages are free inside the file; a partition that is done
         * merging gives them back to the file system. */
        if (merged && idle)
            sqlite3_exec(trl_partition_db(p), "PRAGMA incremental_vacuum", NULL, NULL, NULL);
        /* Nothing left to merge now: forget the partition unless a run waits for more. */
        if (!pending)
            trl_store_unmark_dirty(st, d.day);
        else
            i++;
    }
out:
    free(r.ids);
    if (stats)
        *stats = local;
    return rc;
}
