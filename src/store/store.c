#include "core/log.h"
#include "core/timeutil.h"
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A block's JSON column stays well under the decoder's limit (TRL_BLOCK_MAX_COL_BYTES). */

static void apply_defaults(struct trl_store_opts *o)
{
    if (o->block_max_events == 0)
        o->block_max_events = 4096;
    if (o->block_max_events < 16)
        o->block_max_events = 16;
    if (o->block_max_events > TRL_BLOCK_MAX_EVENTS)
        o->block_max_events = TRL_BLOCK_MAX_EVENTS;
    /* Measured (docs/storage.md): appends compress fast, as they are on the ingest path; the
     * merges of compaction run when the writer is idle and rewrite what appends wrote into larger
     * blocks at level 9, about 20% smaller than level 3 for about 3x its compression work. */
    if (o->zstd_level == 0)
        o->zstd_level = 2;
    if (o->compact_zstd_level == 0)
        o->compact_zstd_level = 9;
    /* Measured (docs/storage.md, "Terms and the Bloom filter"): 12 bits per term cut the false
     * positives of 10 from 0.8% to 0.3% of blocks for 2.7 more bytes per event; 14 reach 0.1%
     * for twice that, and searches read the larger filters of every block in range. */
    if (o->bloom_bits_per_term == 0)
        o->bloom_bits_per_term = 12;
    if (o->max_open_partitions == 0)
        o->max_open_partitions = 4;
    if (o->max_open_partitions > TRL_STORE_MAX_SLOTS)
        o->max_open_partitions = TRL_STORE_MAX_SLOTS;
}

void trl_store_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int trl_store_partition_path(const char *events_dir, const char *day, char *path)
{
    if (snprintf(path, PATH_MAX, "%s/%s.db", events_dir, day) >= PATH_MAX)
        return -ENAMETOOLONG;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int trl_store_list_days(const char *events_dir, int64_t **days, size_t *n)
{
    *days = NULL;
    *n = 0;
    DIR *d = opendir(events_dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        int64_t day;
        if (len != TRL_DAY_LEN + 3 || strcmp(e->d_name + TRL_DAY_LEN, ".db") != 0 ||
            !trl_day_parse(e->d_name, TRL_DAY_LEN, &day))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *days = trl_xrealloc(*days, cap * sizeof(**days));
        }
        (*days)[(*n)++] = day;
    }
    closedir(d);
    if (*n)
        qsort(*days, *n, sizeof(**days), cmp_i64);
    return 0;
}

static int mkdirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST)
                return -errno;
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return 0;
}

void trl_store_mark_dirty(struct trl_store *st, int64_t day, int64_t now_ns)
{
    for (size_t i = 0; i < st->ndirty; i++) {
        if (st->dirty[i].day == day) {
            st->dirty[i].last_write_ns = now_ns;
            return;
        }
    }
    if (st->ndirty == st->dirty_cap) {
        st->dirty_cap = st->dirty_cap ? st->dirty_cap * 2 : 8;
        st->dirty = trl_xrealloc(st->dirty, st->dirty_cap * sizeof(*st->dirty));
    }
    st->dirty[st->ndirty++] = (struct dirty_part){day, now_ns};
}

void trl_store_unmark_dirty(struct trl_store *st, int64_t day)
{
    for (size_t i = 0; i < st->ndirty; i++) {
        if (st->dirty[i].day == day) {
            st->dirty[i] = st->dirty[--st->ndirty];
            return;
        }
    }
}

void trl_store_partition_forget(struct trl_store *st, int64_t day)
{
    for (uint32_t i = 0; i < st->opts.max_open_partitions; i++) {
        struct part_slot *s = &st->slots[i];
        if (s->p && s->day == day) {
            trl_partition_close(s->p);
            s->p = NULL;
        }
    }
}

/* Moves a partition file aside as DAY.db.WHY.<ns>, with its WAL (which may hold committed
 * blocks of it), for `trapline verify` to report; the day then starts a fresh partition. */
static int move_aside(struct trl_store *st, const char *path, const char *day, const char *why)
{
    char to[PATH_MAX];
    if (snprintf(to, sizeof(to), "%s/%s.db.%s.%lld", st->events_dir, day, why,
                 (long long)trl_now_ns()) >= (int)sizeof(to))
        return -ENAMETOOLONG;
    if (rename(path, to) != 0)
        return -errno;
    char side[PATH_MAX + 8], side_to[PATH_MAX + 8];
    snprintf(side, sizeof(side), "%s-wal", path);
    snprintf(side_to, sizeof(side_to), "%s-wal", to);
    rename(side, side_to);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    trl_error("store", "partition moved aside day=%s to=%s reason=\"%s\"", day, to,
              !strcmp(why, "altered") ? "its chain head is not the one this store's writer left "
                                        "(changed outside the server); run trapline verify"
                                      : "it holds blocks but the ledger does not know it");
    trl_store_sync_dir(st->events_dir);
    return 0;
}

/* Opens the day's partition for writing. A file the ledger does not know but that already holds
 * blocks cannot be adopted (it may have been planted), and a file whose chain head this store's
 * writer did not leave (altered: unsigned, signed with another key, or not naming the chain's
 * last entry; or, with set_aside, one that changed while this writer had it open) cannot be
 * extended: signing a new head over it would hide the change. Either is moved aside and the day
 * starts a fresh partition, which the ledger records. */
static int open_partition(struct trl_store *st, int64_t day, bool create, bool set_aside,
                          struct trl_partition **out)
{
    char name[TRL_DAY_LEN + 1], path[PATH_MAX];
    trl_day_name(day, name);
    int rc = trl_store_partition_path(st->events_dir, name, path);
    if (rc != 0)
        return rc;
    bool exists = access(path, F_OK) == 0;
    if (!exists && !create)
        return -ENOENT;
    enum trl_ledger_state state;
    rc = trl_ledger_state(st->ledger, name, &state);
    if (rc != 0)
        return rc;
    struct trl_partition *p = NULL;
    bool created = false, altered = set_aside && exists;
    if (!altered) {
        rc = trl_partition_open_rw(path, name, st->key, !st->opts.sync_normal, &p, &created);
        altered = rc == -EBADMSG;
    }
    if (altered) {
        rc = move_aside(st, path, name, "altered");
        if (rc == 0)
            rc = trl_partition_open_rw(path, name, st->key, !st->opts.sync_normal, &p, &created);
    }
    if (rc != 0) {
        trl_error("store", "cannot open partition path=%s error=\"%s\"", path, trl_strerror(rc));
        return rc;
    }
    if (created)
        trl_store_sync_dir(st->events_dir);
    if (state != TRL_LEDGER_OPEN || altered) {
        struct trl_partition_head h;
        rc = trl_partition_read_head(p, &h);
        if (rc == 0 && h.seq > 0) {
            trl_partition_close(p);
            p = NULL;
            rc = move_aside(st, path, name, "quarantined");
            if (rc == 0)
                rc =
                    trl_partition_open_rw(path, name, st->key, !st->opts.sync_normal, &p, &created);
            if (rc == 0)
                rc = trl_partition_read_head(p, &h);
        }
        /* The ledger entry is committed before the first block, so a partition with blocks
         * always has one. */
        if (rc == 0)
            rc = trl_ledger_append(st->ledger, st->key, "open", name,
                                   altered ? "the previous file was altered and moved aside" : "",
                                   h.seq, h.hash, trl_now_ns());
        if (rc != 0) {
            trl_partition_close(p);
            trl_error("store", "cannot record partition in the ledger day=%s error=\"%s\"", name,
                      trl_strerror(rc));
            return rc;
        }
    }
    *out = p;
    return 0;
}

/* trl_store_partition(), set_aside as for open_partition(). */
static int get_partition(struct trl_store *st, int64_t day, bool create, bool set_aside,
                         struct trl_partition **out)
{
    if (set_aside)
        trl_store_partition_forget(st, day);
    uint32_t nslots = st->opts.max_open_partitions;
    struct part_slot *victim = &st->slots[0];
    for (uint32_t i = 0; i < nslots; i++) {
        struct part_slot *s = &st->slots[i];
        if (s->p && s->day == day) {
            s->used = ++st->clock;
            *out = s->p;
            return 0;
        }
        if (!s->p || (victim->p && s->used < victim->used))
            victim = s;
    }
    struct trl_partition *p = NULL;
    int rc = open_partition(st, day, create, set_aside, &p);
    if (rc != 0)
        return rc;
    if (victim->p)
        trl_partition_close(victim->p);
    victim->p = p;
    victim->day = day;
    trl_day_name(day, victim->name);
    victim->used = ++st->clock;
    *out = p;
    return 0;
}

int trl_store_partition(struct trl_store *st, int64_t day, bool create, struct trl_partition **out)
{
    return get_partition(st, day, create, false, out);
}

int trl_store_begin(struct trl_store *st, int64_t day, bool create, struct trl_partition **out)
{
    int rc = get_partition(st, day, create, false, out);
    if (rc != 0)
        return rc;
    rc = trl_partition_begin(*out);
    /* The head is not the one this writer committed last: the file changed under it. */
    if (rc == -EBADMSG) {
        rc = get_partition(st, day, create, true, out);
        if (rc == 0)
            rc = trl_partition_begin(*out);
    }
    return rc;
}

/* Finishes what a crash may have interrupted: a removal recorded in the ledger whose file is still
 * there (the ledger entry is written first), and leftover -wal/-shm of a removed file. */
static void reconcile(struct trl_store *st)
{
    int64_t *days = NULL;
    size_t n = 0;
    if (trl_store_list_days(st->events_dir, &days, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char name[TRL_DAY_LEN + 1], path[PATH_MAX];
        trl_day_name(days[i], name);
        enum trl_ledger_state state;
        if (trl_ledger_state(st->ledger, name, &state) != 0 || state != TRL_LEDGER_REMOVED)
            continue;
        if (trl_store_partition_path(st->events_dir, name, path) != 0)
            continue;
        char side[PATH_MAX + 8];
        unlink(path);
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
        trl_info("store", "finished an interrupted removal day=%s", name);
    }
    /* The newest partitions may hold small blocks from before a restart. */
    int64_t now = trl_now_ns();
    for (size_t i = n > 2 ? n - 2 : 0; i < n; i++)
        trl_store_mark_dirty(st, days[i], now - 3600 * TRL_NS_PER_SEC);
    free(days);
    trl_store_sync_dir(st->events_dir);
}

static int take_lock(struct trl_store *st)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/LOCK", st->events_dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return err;
    }
    st->lock_fd = fd;
    return 0;
}

int trl_store_open(const char *data_dir, const struct trl_store_opts *opts, struct trl_store **out)
{
    *out = NULL;
    struct trl_store *st = trl_xcalloc(1, sizeof(*st));
    st->lock_fd = -1;
    if (opts)
        st->opts = *opts;
    apply_defaults(&st->opts);
    st->data_dir = trl_xstrdup(data_dir);
    size_t n = strlen(data_dir) + 8;
    st->events_dir = trl_xmalloc(n);
    snprintf(st->events_dir, n, "%s/events", data_dir);

    int rc = mkdirs(st->events_dir);
    if (rc != 0) {
        trl_error("store", "cannot create path=%s error=\"%s\"", st->events_dir, trl_strerror(rc));
        goto fail;
    }
    rc = take_lock(st);
    if (rc != 0) {
        if (rc == -EBUSY)
            trl_error("store", "another trapline process is writing to path=%s", st->events_dir);
        else
            trl_error("store", "cannot lock path=%s/LOCK error=\"%s\"", st->events_dir,
                      trl_strerror(rc));
        goto fail;
    }
    rc = trl_store_key_open(data_dir, &st->key);
    if (rc != 0)
        goto fail;
    rc = trl_ledger_open(st->events_dir, !st->opts.sync_normal, &st->ledger);
    if (rc != 0) {
        trl_error("store", "cannot open the ledger path=%s/%s error=\"%s\"", st->events_dir,
                  TRL_LEDGER_FILE, trl_strerror(rc));
        goto fail;
    }
    st->prebuilder = trl_prebuilder_create(st->opts.zstd_level, st->opts.bloom_bits_per_term,
                                           st->opts.block_max_events);
    st->compact_builder =
        trl_block_builder_create(st->opts.compact_zstd_level, st->opts.bloom_bits_per_term);
    st->scratch = trl_arena_create(1 << 20);
    if (!st->prebuilder || !st->compact_builder) {
        rc = -ENOMEM;
        goto fail;
    }
    reconcile(st);
    *out = st;
    return 0;
fail:
    trl_store_close(st);
    return rc;
}

void trl_store_close(struct trl_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < TRL_STORE_MAX_SLOTS; i++)
        trl_partition_close(st->slots[i].p);
    trl_ledger_close(st->ledger);
    trl_store_key_free(st->key);
    trl_prebuilder_destroy(st->prebuilder);
    trl_block_builder_destroy(st->compact_builder);
    trl_arena_destroy(st->scratch);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st->dirty);
    free(st->partial);
    free(st->data_dir);
    free(st->events_dir);
    free(st);
}

/* Commits the prebuilt blocks of one day in one transaction. */
static int commit_day(struct trl_store *st, const struct trl_prebuilt_day *d, int64_t now)
{
    struct trl_partition *p;
    int rc = trl_store_begin(st, d->day, true, &p);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < d->nblocks && rc == 0; i++)
        rc = trl_partition_add_block(p, &d->blocks[i], TRL_CHAIN_ADD, NULL, 0, now, NULL);
    if (rc == 0)
        rc = trl_partition_commit(p, st->key);
    else
        trl_partition_rollback(p);
    if (rc == 0)
        trl_store_mark_dirty(st, d->day, now);
    return rc;
}

/* After a failed append, the days of it that did commit (see store.h). A day of this append whose
 * events are exactly those of such a day is taken as a retry and skipped. */
static bool take_partial(struct trl_store *st, int64_t day, const uint8_t *digest)
{
    for (size_t i = 0; i < st->npartial; i++) {
        if (st->partial[i].day == day && !memcmp(st->partial[i].digest, digest, TRL_SHA256_LEN)) {
            st->partial[i] = st->partial[--st->npartial];
            return true;
        }
    }
    return false;
}

int trl_store_append(struct trl_store *st, struct trl_event *const *events, size_t n)
{
    return trl_store_append_encoded(st, events, NULL, n);
}

int trl_store_append_encoded(struct trl_store *st, struct trl_event *const *events,
                             const struct trl_str *json, size_t n)
{
    trl_arena_reset(st->scratch);
    struct trl_prebuilt pb;
    int rc = trl_store_prebuild(st->prebuilder, events, json, n, st->scratch, &pb);
    if (rc != 0) {
        trl_error("store", "cannot build blocks events=%zu error=\"%s\"", n, trl_strerror(rc));
        return rc;
    }
    return trl_store_append_prebuilt(st, &pb);
}

int trl_store_append_prebuilt(struct trl_store *st, const struct trl_prebuilt *pb)
{
    /* Days committed by this call, and retried days skipped, in case a later day fails. */
    struct committed_group *done = NULL;
    size_t ndone = 0;
    bool one_day = pb->ndays <= 1;
    int64_t now = trl_now_ns();
    int rc = 0;
    size_t d = 0;
    for (; d < pb->ndays; d++) {
        const struct trl_prebuilt_day *day = &pb->days[d];
        uint8_t digest[TRL_SHA256_LEN];
        bool have_digest = false;
        if (st->npartial) {
            rc = trl_prebuilt_day_digest(day, digest);
            if (rc != 0)
                break;
            have_digest = true;
        }
        bool skip = have_digest && take_partial(st, day->day, digest);
        if (!skip) {
            rc = commit_day(st, day, now);
            if (rc != 0)
                break;
        }
        /* Without its digest a committed day cannot be recognised later, and a retry stores
         * it again: a duplicate, never a loss. */
        if (!one_day && (have_digest || trl_prebuilt_day_digest(day, digest) == 0)) {
            done = trl_xrealloc(done, (ndone + 1) * sizeof(*done));
            done[ndone].day = day->day;
            memcpy(done[ndone].digest, digest, TRL_SHA256_LEN);
            ndone++;
        }
    }
    free(st->partial);
    st->partial = NULL;
    st->npartial = 0;
    if (rc != 0) {
        char name[TRL_DAY_LEN + 1];
        trl_day_name(pb->days[d].day, name);
        trl_error("store", "append failed day=%s events=%zu error=\"%s\"", name, pb->nevents,
                  trl_strerror(rc));
        st->partial = done;
        st->npartial = ndone;
        return rc;
    }
    free(done);
    return 0;
}

const struct trl_store_opts *trl_store_get_opts(const struct trl_store *st)
{
    return &st->opts;
}
