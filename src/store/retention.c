/*
 * Retention: whole partitions are dropped, by age (retention.days) and then by total size
 * (retention.max_bytes, oldest first, never the newest partition). The ledger entry recording a
 * removal, with the partition's last signed chain head, is committed before the file is deleted:
 * a crash in between leaves a recorded removal whose file the next writer deletes (store.c), never
 * a silent deletion.
 */
#include "core/log.h"
#include "core/timeutil.h"
#include "store/store_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static uint64_t partition_size(const char *events_dir, int64_t day)
{
    char name[TRL_DAY_LEN + 1], path[PATH_MAX], wal[PATH_MAX + 4];
    trl_day_name(day, name);
    if (trl_store_partition_path(events_dir, name, path) != 0)
        return 0;
    snprintf(wal, sizeof(wal), "%s-wal", path);
    return file_size(path) + file_size(wal);
}

static int remove_partition(struct trl_store *st, int64_t day, const char *reason, int64_t now)
{
    char name[TRL_DAY_LEN + 1], path[PATH_MAX];
    trl_day_name(day, name);
    int rc = trl_store_partition_path(st->events_dir, name, path);
    if (rc != 0)
        return rc;
    trl_store_partition_forget(st, day);
    struct trl_partition_head h = {0};
    struct trl_partition *p = NULL;
    rc = trl_partition_open_ro(path, &p);
    if (rc == 0)
        rc = trl_partition_read_head(p, &h);
    trl_partition_close(p);
    if (rc != 0) {
        /* An unreadable partition is still removed; its record says so. */
        trl_warn("store", "removing an unreadable partition day=%s error=\"%s\"", name,
                 trl_strerror(rc));
        memset(&h, 0, sizeof(h));
    }
    rc = trl_ledger_append(st->ledger, st->key, "remove", name, reason, h.seq, h.hash, now);
    if (rc != 0) {
        trl_error("store", "cannot record a removal in the ledger day=%s error=\"%s\"", name,
                  trl_strerror(rc));
        return rc;
    }
    char side[PATH_MAX + 8];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    if (unlink(path) != 0 && errno != ENOENT)
        rc = -errno;
    trl_store_sync_dir(st->events_dir);
    trl_store_unmark_dirty(st, day);
    trl_info("store", "removed partition day=%s reason=\"%s\"", name, reason);
    return rc;
}

int trl_store_apply_retention(struct trl_store *st, uint32_t days, uint64_t max_bytes,
                              int64_t now_ns, struct trl_store_retention_result *res)
{
    struct trl_store_retention_result local = {0};
    int64_t *list = NULL;
    size_t n = 0;
    int rc = trl_store_list_days(st->events_dir, &list, &n);
    if (rc != 0)
        return rc;
    uint64_t *sizes = trl_xcalloc(n ? n : 1, sizeof(*sizes));
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        sizes[i] = partition_size(st->events_dir, list[i]);
        total += sizes[i];
    }
    size_t first = 0; /* list[first..n) remain */
    char reason[96];
    if (days > 0) {
        snprintf(reason, sizeof(reason), "retention.days=%u", days);
        int64_t cutoff = now_ns - (int64_t)days * TRL_NS_PER_DAY;
        while (first < n && (list[first] + 1) * TRL_NS_PER_DAY <= cutoff) {
            rc = remove_partition(st, list[first], reason, now_ns);
            if (rc != 0)
                goto out;
            local.removed++;
            local.bytes += sizes[first];
            total -= sizes[first];
            first++;
        }
    }
    if (max_bytes > 0) {
        snprintf(reason, sizeof(reason), "retention.max_bytes=%llu", (unsigned long long)max_bytes);
        while (total > max_bytes && n - first > 1) {
            rc = remove_partition(st, list[first], reason, now_ns);
            if (rc != 0)
                goto out;
            local.removed++;
            local.bytes += sizes[first];
            total -= sizes[first];
            first++;
        }
        if (total > max_bytes)
            trl_warn("store",
                     "the newest partition alone exceeds retention.max_bytes=%llu "
                     "size=%llu",
                     (unsigned long long)max_bytes, (unsigned long long)total);
    }
out:
    local.kept_bytes = total;
    if (res)
        *res = local;
    free(sizes);
    free(list);
    return rc;
}
