#include "agent/spool.h"

#include "agent/crc32c.h"
#include "agent/statefile.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_COMP        "spool"
#define REC_HDR         16u
#define ACK_FILE_LEN    16u
#define ACK_MAGIC       0x4B434154u /* "TACK" little-endian */
#define DEFAULT_SEGMENT (8ull << 20)
#define DEFAULT_MAX     (1ull << 30)
#define READ_AHEAD      (256u << 10)
/* Records written by one writev() in trl_spool_append_many() (two iovecs each, under IOV_MAX). */
#define APPEND_GROUP 64

/* A corrupt stretch found when the spool was opened: the reader jumps from start to end without
 * checking, logging or counting it again. */
struct hole {
    uint64_t start;
    uint64_t end;
};

struct seg {
    uint32_t id;
    uint64_t first_seq; /* 0 while the segment holds no record */
    uint64_t last_seq;
    uint64_t nrec;
    uint64_t size;
    struct hole *holes;
    size_t nholes;
};

/* One background sync: fdatasync of fds, then of the directory when dir, after which every record
 * up to target is durable. err is its outcome (0 or a negative errno), what names the call that
 * failed. */
struct sync_job {
    int *fds;
    size_t nfds;
    size_t cap;
    bool dir;
    uint64_t target;
    int err;
    const char *what;
};

struct trl_spool {
    char *dir;
    char *ack_path;
    uint64_t segment_bytes;
    uint64_t max_bytes;
    enum trl_spool_full_policy policy;
    int64_t sync_interval_ns;

    struct seg *segs; /* ascending id; the last one is the write segment while wfd >= 0 */
    size_t nsegs;
    size_t segcap;
    uint32_t next_seg_id;
    int wfd;
    uint64_t total_bytes;

    uint64_t next_seq;
    uint64_t acked;
    uint64_t ack_on_disk;
    uint64_t durable;
    bool dir_dirty;
    int64_t last_sync_ns;

    /* Read cursor: the segment (by id, since ids survive deletions) and offset of the next record,
     * and the last sequence handed out. */
    uint32_t rseg_id;
    uint64_t roff;
    uint64_t rlast;
    uint64_t rseq; /* sequence of the record just before roff (valid when roff > 0) */
    int rfd;
    uint32_t rfd_id;

    /* Read-ahead window: bytes [win_off, win_off + win_len) of segment win_id (0: none), so that
     * reading records one after the other costs one pread per READ_AHEAD bytes instead of two
     * per record. It never holds bytes past the segment's size when it was read, and is dropped
     * whenever a segment is truncated or deleted. */
    unsigned char *buf;
    size_t bufcap;
    size_t win_len;
    uint64_t win_off;
    uint32_t win_id;

    uint64_t dropped;
    uint64_t corrupt_bytes;

    /* Background sync (cfg->background_sync). The sync thread runs one job at a time: the loop
     * fills job and sets job_ready; the thread runs it, sets job_done and calls on_durable. The
     * flags and on_durable are guarded by mu; job belongs to the thread between job_ready and
     * job_done, to the loop otherwise. job_busy (loop only) is true from the start of a job until
     * the loop has collected its result. Write segments closed while records in them were not yet
     * durable stay open in sealed until a sync has covered them. */
    bool background;
    void (*on_durable)(void *ud);
    void *ud;
    bool thread_started;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool job_ready, job_done, quit;
    bool job_busy;
    struct sync_job job;
    int *sealed;
    size_t nsealed;
    size_t sealedcap;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* The CRC covers the length and sequence fields as well as the payload, so a torn or shifted
 * header cannot pass for a valid one. */
static uint32_t rec_crc(const unsigned char *hdr, const void *payload, size_t len)
{
    uint32_t c = trl_crc32c(0, hdr, 4);
    c = trl_crc32c(c, hdr + 8, 8);
    return trl_crc32c(c, payload, len);
}

static void buf_reserve(struct trl_spool *s, size_t n)
{
    if (s->bufcap >= n)
        return;
    size_t cap = s->bufcap ? s->bufcap : 4096;
    while (cap < n)
        cap *= 2;
    free(s->buf);
    s->buf = trl_xmalloc(cap);
    s->bufcap = cap;
}

static char *seg_path(const struct trl_spool *s, uint32_t id)
{
    char name[32];
    snprintf(name, sizeof(name), "%08" PRIu32 ".seg", id);
    return trl_path_join(s->dir, name);
}

/* Makes bytes [off, off + n) of segment id (open as fd, size bytes long) available in the
 * read-ahead window: returns 1 and sets *out, 0 when the file holds fewer bytes, or a negative
 * errno. */
static int win_get(struct trl_spool *s, int fd, uint32_t id, uint64_t off, size_t n, uint64_t size,
                   const unsigned char **out)
{
    if (s->win_id == id && off >= s->win_off && off + n <= s->win_off + s->win_len) {
        *out = s->buf + (off - s->win_off);
        return 1;
    }
    if (n > size - off)
        return 0;
    size_t want = (size_t)TRL_MIN((uint64_t)TRL_MAX(n, (size_t)READ_AHEAD), size - off);
    s->win_id = 0;
    buf_reserve(s, want);
    ssize_t got = trl_pread_full(fd, s->buf, want, off);
    if (got < 0)
        return (int)got;
    s->win_id = id;
    s->win_off = off;
    s->win_len = (size_t)got;
    if ((size_t)got < n)
        return 0;
    *out = s->buf;
    return 1;
}

void trl_spool_trim(struct trl_spool *s)
{
    if (!s)
        return;
    free(s->buf);
    s->buf = NULL;
    s->bufcap = 0;
    s->win_id = 0;
}

static void win_drop(struct trl_spool *s, uint32_t id)
{
    if (s->win_id == id)
        s->win_id = 0;
}

/*
 * Reads and checks the record at off of segment id (open as fd), which is size bytes long.
 * Returns 1 when it is valid (*payload, *len and *seq set; the payload is valid until the next
 * read), 0 when it is not, or a negative errno. A record is valid when its header and payload lie
 * within the segment, its CRC matches and its sequence is in (lo, hi].
 */
static int rec_load(struct trl_spool *s, int fd, uint32_t id, uint64_t off, uint64_t size,
                    uint64_t lo, uint64_t hi, const unsigned char **payload, uint32_t *len,
                    uint64_t *seq)
{
    unsigned char hdr[REC_HDR];
    const unsigned char *p;
    if (size - off < REC_HDR)
        return 0;
    int rc = win_get(s, fd, id, off, REC_HDR, size, &p);
    if (rc <= 0)
        return rc;
    memcpy(hdr, p, REC_HDR);
    uint32_t l = get_u32(hdr);
    uint64_t q = get_u64(hdr + 8);
    if (l == 0 || l > TRL_SPOOL_MAX_RECORD || l > size - off - REC_HDR || q <= lo || q > hi)
        return 0;
    rc = win_get(s, fd, id, off + REC_HDR, l, size, &p);
    if (rc <= 0)
        return rc;
    if (rec_crc(hdr, p, l) != get_u32(hdr + 4))
        return 0;
    *payload = p;
    *len = l;
    *seq = q;
    return 1;
}

/*
 * After a corrupt record at off, finds the next offset where a valid record starts whose sequence
 * follows lo. Corruption cannot have swallowed more records than fit in the bytes skipped, which
 * bounds the sequence a candidate may carry; together with the CRC this makes a false match
 * practically impossible. The CRC work is capped so a hostile file cannot make opening quadratic.
 * Returns the offset, size when there is none, or a negative errno.
 */
static int64_t rec_resync(int fd, uint64_t off, uint64_t size, uint64_t lo)
{
    if (size - off <= REC_HDR)
        return (int64_t)size;
    size_t span = (size_t)(size - off);
    unsigned char *d = trl_xmalloc(span);
    ssize_t n = trl_pread_full(fd, d, span, off);
    if (n < 0) {
        free(d);
        return n;
    }
    span = (size_t)n;
    uint64_t budget = 2 * (uint64_t)span + (1u << 20);
    int64_t found = (int64_t)size;
    for (size_t i = 1; i + REC_HDR <= span; i++) {
        const unsigned char *h = d + i;
        uint32_t l = get_u32(h);
        uint64_t q = get_u64(h + 8);
        if (l == 0 || l > span - i - REC_HDR || q <= lo || q - lo > i / REC_HDR + 1)
            continue;
        if (budget < l)
            break;
        budget -= l;
        if (rec_crc(h, h + REC_HDR, l) == get_u32(h + 4)) {
            found = (int64_t)(off + i);
            break;
        }
    }
    free(d);
    return found;
}

static int seg_fd_for_read(struct trl_spool *s, uint32_t id)
{
    if (s->wfd >= 0 && s->nsegs && s->segs[s->nsegs - 1].id == id)
        return s->wfd;
    if (s->rfd >= 0 && s->rfd_id == id)
        return s->rfd;
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
    char *path = seg_path(s, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err = errno;
    free(path);
    if (fd < 0)
        return -err;
    s->rfd = fd;
    s->rfd_id = id;
    return fd;
}

static void close_rfd_if(struct trl_spool *s, uint32_t id)
{
    if (s->rfd >= 0 && s->rfd_id == id) {
        close(s->rfd);
        s->rfd = -1;
    }
}

static int persist_ack(struct trl_spool *s)
{
    if (s->ack_on_disk == s->acked)
        return 0;
    unsigned char b[ACK_FILE_LEN];
    put_u64(b, s->acked);
    put_u32(b + 8, ACK_MAGIC);
    put_u32(b + 12, trl_crc32c(0, b, 12));
    int rc = trl_state_write(s->ack_path, b, sizeof(b));
    if (rc < 0) {
        trl_error(LOG_COMP, "cannot write ack position path=%s err=\"%s\"", s->ack_path,
                  strerror(-rc));
        return rc;
    }
    s->ack_on_disk = s->acked;
    return 0;
}

static void load_ack(struct trl_spool *s)
{
    char *data;
    size_t len;
    int rc = trl_state_read(s->ack_path, 4096, &data, &len);
    if (rc == -ENOENT)
        return;
    if (rc < 0) {
        trl_warn(LOG_COMP, "cannot read ack position path=%s err=\"%s\": resending the spool",
                 s->ack_path, strerror(-rc));
        return;
    }
    const unsigned char *b = (const unsigned char *)data;
    if (len == ACK_FILE_LEN && get_u32(b + 8) == ACK_MAGIC &&
        get_u32(b + 12) == trl_crc32c(0, b, 12)) {
        s->acked = get_u64(b);
        s->ack_on_disk = s->acked;
    } else {
        trl_warn(LOG_COMP, "damaged ack position path=%s: resending the spool", s->ack_path);
    }
    free(data);
}

/* Removes segs[i] from the table and its file from the disk. */
static void seg_remove(struct trl_spool *s, size_t i)
{
    struct seg g = s->segs[i];
    if (s->wfd >= 0 && i == s->nsegs - 1) {
        close(s->wfd);
        s->wfd = -1;
    }
    close_rfd_if(s, g.id);
    win_drop(s, g.id);
    char *path = seg_path(s, g.id);
    if (unlink(path) != 0 && errno != ENOENT)
        trl_warn(LOG_COMP, "cannot delete segment path=%s err=\"%s\"", path, strerror(errno));
    free(path);
    s->total_bytes -= g.size;
    free(g.holes);
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(*s->segs));
    s->nsegs--;
    s->dir_dirty = true;
}

static struct seg *seg_append(struct trl_spool *s, uint32_t id)
{
    if (s->nsegs == s->segcap) {
        s->segcap = s->segcap ? s->segcap * 2 : 16;
        s->segs = trl_xrealloc(s->segs, s->segcap * sizeof(*s->segs));
    }
    struct seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof(*g));
    g->id = id;
    return g;
}

/* Checks one segment file found at open: counts its valid records, skips corrupt stretches and
 * truncates a torn tail. *prev is the highest sequence seen so far, across segments. */
static int seg_scan(struct trl_spool *s, struct seg *g, uint64_t *prev)
{
    char *path = seg_path(s, g->id);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
        trl_error(LOG_COMP, "cannot open segment path=%s err=\"%s\"", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size, off = 0;
    while (off < size) {
        uint32_t len = 0;
        uint64_t seq = 0;
        const unsigned char *payload;
        rc = rec_load(s, fd, g->id, off, size, *prev, UINT64_MAX, &payload, &len, &seq);
        if (rc < 0)
            goto out;
        if (rc == 1) {
            if (!g->first_seq)
                g->first_seq = seq;
            g->last_seq = seq;
            g->nrec++;
            *prev = seq;
            off += REC_HDR + len;
            continue;
        }
        int64_t next = rec_resync(fd, off, size, *prev);
        if (next < 0) {
            rc = (int)next;
            goto out;
        }
        if ((uint64_t)next < size) {
            trl_warn(LOG_COMP, "skipping corrupt records path=%s offset=%" PRIu64 " bytes=%" PRIu64,
                     path, off, (uint64_t)next - off);
            s->corrupt_bytes += (uint64_t)next - off;
            g->holes = trl_xrealloc(g->holes, (g->nholes + 1) * sizeof(*g->holes));
            g->holes[g->nholes++] = (struct hole){off, (uint64_t)next};
            off = (uint64_t)next;
            continue;
        }
        trl_warn(LOG_COMP, "truncating torn tail path=%s offset=%" PRIu64 " bytes=%" PRIu64, path,
                 off, size - off);
        s->corrupt_bytes += size - off;
        if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0) {
            rc = -errno;
            goto out;
        }
        size = off;
    }
    rc = 0;
    g->size = size;
out:
    /* The window was read through this descriptor, maybe before a truncation. */
    win_drop(s, g->id);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segment ids in the directory, ascending. */
static int list_segments(struct trl_spool *s, uint32_t **ids, size_t *n)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return -errno;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        uint64_t id;
        if (l < 5 || strcmp(e->d_name + l - 4, ".seg") != 0 ||
            !trl_parse_u64(e->d_name, l - 4, &id) || id == 0 || id > UINT32_MAX)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *ids = trl_xrealloc(*ids, cap * sizeof(**ids));
        }
        (*ids)[(*n)++] = (uint32_t)id;
    }
    closedir(d);
    if (*n)
        qsort(*ids, *n, sizeof(**ids), cmp_u32);
    return 0;
}

static int spool_load(struct trl_spool *s)
{
    load_ack(s);
    uint32_t *ids = NULL;
    size_t n = 0;
    int rc = list_segments(s, &ids, &n);
    if (rc < 0)
        return rc;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        struct seg *g = seg_append(s, ids[i]);
        rc = seg_scan(s, g, &prev);
        if (rc < 0)
            break;
        s->total_bytes += g->size;
        s->next_seg_id = ids[i] + 1;
    }
    free(ids);
    if (rc < 0)
        return rc;
    s->next_seq = TRL_MAX(prev, s->acked) + 1;
    /* Segments left empty by a torn write, or wholly acknowledged before a crash interrupted
     * their deletion, go now. */
    for (size_t i = 0; i < s->nsegs;) {
        const struct seg *g = &s->segs[i];
        if (g->nrec == 0 || g->last_seq <= s->acked)
            seg_remove(s, i);
        else
            i++;
    }
    s->durable = s->next_seq - 1;
    s->rlast = s->acked;
    s->rseg_id = s->nsegs ? s->segs[0].id : 0;
    s->roff = 0;
    if (s->next_seg_id == 0)
        s->next_seg_id = 1;
    return 0;
}

int trl_spool_create(const struct trl_spool_config *cfg, struct trl_spool **out)
{
    *out = NULL;
    if (!cfg->dir || !*cfg->dir || cfg->sync_interval_ms < 0)
        return TRL_EINVAL;
    struct trl_spool *s = trl_xcalloc(1, sizeof(*s));
    s->dir = trl_xstrdup(cfg->dir);
    s->ack_path = trl_path_join(cfg->dir, "ack");
    s->segment_bytes = cfg->segment_bytes ? cfg->segment_bytes : DEFAULT_SEGMENT;
    s->max_bytes = cfg->max_bytes ? cfg->max_bytes : DEFAULT_MAX;
    s->policy = cfg->policy;
    s->sync_interval_ns = (int64_t)cfg->sync_interval_ms * 1000000;
    s->wfd = -1;
    s->rfd = -1;
    s->next_seg_id = 1;
    s->background = cfg->background_sync;
    s->on_durable = cfg->on_durable;
    s->ud = cfg->ud;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rc = TRL_EINVAL;
    if (s->max_bytes < s->segment_bytes || s->segment_bytes < 4096 ||
        (cfg->policy != TRL_SPOOL_BLOCK && cfg->policy != TRL_SPOOL_DROP_OLDEST))
        goto fail;
    rc = trl_state_mkdir(s->dir);
    if (rc < 0) {
        trl_error(LOG_COMP, "cannot create spool directory path=%s err=\"%s\"", s->dir,
                  strerror(-rc));
        goto fail;
    }
    rc = spool_load(s);
    if (rc < 0)
        goto fail;
    s->last_sync_ns = trl_mono_ns();
    trl_info(LOG_COMP,
             "opened path=%s segments=%zu bytes=%" PRIu64 " next_seq=%" PRIu64 " acked=%" PRIu64,
             s->dir, s->nsegs, s->total_bytes, s->next_seq, s->acked);
    *out = s;
    return 0;
fail:
    trl_spool_destroy(s);
    return rc;
}

/* fdatasyncs every fd of job, then the directory when job->dir: the part of a sync that waits for
 * the disk, and touches nothing of the spool but its (immutable) directory name. */
static void job_run(const char *dir, struct sync_job *job)
{
    job->err = 0;
    for (size_t i = 0; i < job->nfds; i++) {
        if (fdatasync(job->fds[i]) != 0) {
            job->err = -errno;
            job->what = "fdatasync";
            return;
        }
    }
    if (job->dir) {
        job->err = trl_state_sync_dir(dir);
        job->what = "directory sync";
    }
}

static void *sync_main(void *arg)
{
    struct trl_spool *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->job_ready && !s->quit)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->job_ready)
            break;
        pthread_mutex_unlock(&s->mu);
        job_run(s->dir, &s->job);
        pthread_mutex_lock(&s->mu);
        s->job_ready = false;
        s->job_done = true;
        /* Called under the lock: once the loop has collected a job (which takes the lock), no
         * call for it can still be running, so the owner may close what it wakes. */
        if (s->on_durable)
            s->on_durable(s->ud);
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void sealed_push(struct trl_spool *s, int fd)
{
    if (s->nsealed == s->sealedcap) {
        s->sealedcap = s->sealedcap ? s->sealedcap * 2 : 8;
        s->sealed = trl_xrealloc(s->sealed, s->sealedcap * sizeof(*s->sealed));
    }
    s->sealed[s->nsealed++] = fd;
}

/*
 * Takes the result of the background sync once it is done, waiting for it when wait. Returns 0
 * (none running, or it succeeded: durable has advanced), 1 (still running) or the error of the
 * sync, logged. A failed job's descriptors go back to sealed so that the next sync retries them.
 */
static int sync_collect(struct trl_spool *s, bool wait)
{
    if (!s->job_busy)
        return 0;
    pthread_mutex_lock(&s->mu);
    while (wait && !s->job_done)
        pthread_cond_wait(&s->cv, &s->mu);
    bool done = s->job_done;
    s->job_done = false;
    pthread_mutex_unlock(&s->mu);
    if (!done)
        return 1;
    s->job_busy = false;
    struct sync_job *job = &s->job;
    if (job->err < 0) {
        trl_error(LOG_COMP, "%s failed path=%s err=\"%s\"", job->what, s->dir, strerror(-job->err));
        for (size_t i = 0; i < job->nfds; i++)
            sealed_push(s, job->fds[i]);
        job->nfds = 0;
        if (job->dir)
            s->dir_dirty = true;
        return job->err;
    }
    for (size_t i = 0; i < job->nfds; i++)
        close(job->fds[i]);
    job->nfds = 0;
    if (job->target > s->durable)
        s->durable = job->target;
    return 0;
}

static void job_add_fd(struct sync_job *job, int fd)
{
    if (job->nfds == job->cap) {
        job->cap = job->cap ? job->cap * 2 : 8;
        job->fds = trl_xrealloc(job->fds, job->cap * sizeof(*job->fds));
    }
    job->fds[job->nfds++] = fd;
}

int trl_spool_sync(struct trl_spool *s)
{
    /* A background sync in flight finishes first: one sync at a time, and its result (durable,
     * an error) is taken before this one. */
    int rc = sync_collect(s, true);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->nsealed; i++) {
        if (fdatasync(s->sealed[i]) != 0) {
            rc = -errno;
            trl_error(LOG_COMP, "fdatasync failed path=%s err=\"%s\"", s->dir, strerror(errno));
            return rc;
        }
    }
    for (size_t i = 0; i < s->nsealed; i++)
        close(s->sealed[i]);
    s->nsealed = 0;
    if (s->wfd >= 0 && s->durable + 1 < s->next_seq && fdatasync(s->wfd) != 0) {
        rc = -errno;
        trl_error(LOG_COMP, "fdatasync failed path=%s err=\"%s\"", s->dir, strerror(errno));
        return rc;
    }
    if (s->dir_dirty) {
        rc = trl_state_sync_dir(s->dir);
        if (rc < 0)
            return rc;
        s->dir_dirty = false;
    }
    s->durable = s->next_seq - 1;
    s->last_sync_ns = trl_mono_ns();
    return persist_ack(s);
}

/*
 * The appends made while a sync runs wait for the next one (group commit). Falls back to
 * trl_spool_sync() when the thread or a descriptor cannot be had.
 */
int trl_spool_sync_start(struct trl_spool *s)
{
    if (!s->background)
        return trl_spool_sync(s);
    if (s->job_busy)
        return 0;
    bool unsynced = s->durable + 1 < s->next_seq;
    if (!unsynced && !s->dir_dirty && s->nsealed == 0)
        return 0;
    if (!s->thread_started) {
        /* The thread takes no signal: the owner's handlers run on the owner's thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int err = pthread_create(&s->thread, NULL, sync_main, s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err != 0)
            return trl_spool_sync(s);
        s->thread_started = true;
    }
    struct sync_job *job = &s->job;
    job->nfds = 0;
    if (unsynced && s->wfd >= 0) {
        /* A descriptor of the sync's own: rotation may close the write segment's meanwhile. */
        int fd = fcntl(s->wfd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            return trl_spool_sync(s);
        job_add_fd(job, fd);
    }
    for (size_t i = 0; i < s->nsealed; i++)
        job_add_fd(job, s->sealed[i]);
    s->nsealed = 0;
    job->dir = s->dir_dirty;
    s->dir_dirty = false;
    job->target = s->next_seq - 1;
    s->job_busy = true;
    s->last_sync_ns = trl_mono_ns();
    pthread_mutex_lock(&s->mu);
    s->job_ready = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int trl_spool_poll(struct trl_spool *s)
{
    int rc = sync_collect(s, false);
    return rc > 0 ? 0 : rc;
}

uint64_t trl_spool_unread(const struct trl_spool *s)
{
    return s->next_seq - 1 > s->rlast ? s->next_seq - 1 - s->rlast : 0;
}

int trl_spool_tick(struct trl_spool *s)
{
    if (s->background) {
        int rc = trl_spool_poll(s);
        if (rc < 0)
            return rc;
        bool pending = s->durable + 1 < s->next_seq || s->dir_dirty || s->nsealed;
        if (!pending || trl_mono_ns() - s->last_sync_ns < s->sync_interval_ns)
            return 0;
        return trl_spool_sync_start(s);
    }
    bool pending = s->durable + 1 < s->next_seq || s->ack_on_disk != s->acked || s->dir_dirty;
    if (!pending || trl_mono_ns() - s->last_sync_ns < s->sync_interval_ns)
        return 0;
    return trl_spool_sync(s);
}

void trl_spool_destroy(struct trl_spool *s)
{
    if (!s)
        return;
    if (s->next_seq)
        trl_spool_sync(s);
    /* A failed last sync leaves its job's descriptors here. */
    sync_collect(s, true);
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->quit = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    for (size_t i = 0; i < s->nsealed; i++)
        close(s->sealed[i]);
    free(s->sealed);
    free(s->job.fds);
    if (s->wfd >= 0)
        close(s->wfd);
    if (s->rfd >= 0)
        close(s->rfd);
    for (size_t i = 0; i < s->nsegs; i++)
        free(s->segs[i].holes);
    free(s->segs);
    free(s->buf);
    free(s->dir);
    free(s->ack_path);
    free(s);
}

/* Closes the write segment so the next append starts a new one: made durable first, or, with a
 * background sync, kept open in sealed for the next sync when records in it are not durable yet. */
static int seg_seal(struct trl_spool *s)
{
    if (s->wfd < 0)
        return 0;
    if (s->background) {
        if (s->durable + 1 < s->next_seq)
            sealed_push(s, s->wfd);
        else
            close(s->wfd);
        s->wfd = -1;
        return 0;
    }
    int rc = trl_spool_sync(s);
    if (rc < 0)
        return rc;
    close(s->wfd);
    s->wfd = -1;
    return 0;
}

static int seg_start(struct trl_spool *s)
{
    int rc = seg_seal(s);
    if (rc < 0)
        return rc;
    uint32_t id = s->next_seg_id;
    char *path = seg_path(s, id);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        trl_error(LOG_COMP, "cannot create segment path=%s err=\"%s\"", path, strerror(errno));
        free(path);
        return rc;
    }
    free(path);
    seg_append(s, id);
    s->next_seg_id = id + 1;
    s->wfd = fd;
    s->dir_dirty = true;
    return 0;
}

/* Deletes the oldest segment to make room (policy drop_oldest). The ack position moves past its
 * records and reaches the disk before the file goes, so a crash cannot bring the sequence numbers
 * of the dropped records back into use. */
static int drop_oldest(struct trl_spool *s)
{
    if (s->nsegs == 1 && s->wfd >= 0) {
        int rc = seg_seal(s);
        if (rc < 0)
            return rc;
    }
    if (s->nsegs == 0)
        return TRL_EFULL;
    const struct seg *g = &s->segs[0];
    uint64_t lost = 0;
    if (g->last_seq > s->acked)
        lost = s->acked < g->first_seq ? g->nrec : g->last_seq - s->acked;
    s->dropped += lost;
    if (g->last_seq > s->acked)
        s->acked = g->last_seq;
    int rc = persist_ack(s);
    if (rc < 0)
        return rc;
    trl_warn(LOG_COMP,
             "spool full: dropped oldest segment id=%" PRIu32 " records=%" PRIu64
             " dropped_total=%" PRIu64,
             g->id, lost, s->dropped);
    seg_remove(s, 0);
    if (s->rlast < s->acked)
        s->rlast = s->acked;
    return 0;
}

static int write_all_v(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static bool rec_len_ok(const struct trl_spool *s, size_t len)
{
    return len > 0 && len <= TRL_SPOOL_MAX_RECORD && REC_HDR + len <= s->max_bytes;
}

/* Makes room for a record of need bytes (cap, segment): the checks one append starts with. */
static int make_room(struct trl_spool *s, uint64_t need)
{
    while (s->total_bytes + need > s->max_bytes) {
        if (s->policy == TRL_SPOOL_BLOCK)
            return TRL_EFULL;
        int rc = drop_oldest(s);
        if (rc < 0)
            return rc;
    }
    const struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (s->wfd < 0 || (g->size > 0 && g->size + need > s->segment_bytes))
        return seg_start(s);
    return 0;
}

/*
 * Writes records recs[0..n) (lengths checked) into the write segment with one writev: the first
 * has room (make_room), the rest are those that fit the segment and the cap after it. Returns how
 * many were written, or a negative errno (none was).
 */
static long write_group(struct trl_spool *s, const struct iovec *recs, size_t n)
{
    unsigned char hdrs[APPEND_GROUP][REC_HDR];
    struct iovec iov[2 * APPEND_GROUP];
    struct seg *g = &s->segs[s->nsegs - 1];
    uint64_t size = g->size, total = s->total_bytes;
    size_t m = 0;
    for (; m < n && m < APPEND_GROUP; m++) {
        size_t len = recs[m].iov_len;
        uint64_t need = REC_HDR + len;
        if (m > 0 &&
            (!rec_len_ok(s, len) || size + need > s->segment_bytes || total + need > s->max_bytes))
            break;
        unsigned char *hdr = hdrs[m];
        put_u32(hdr, (uint32_t)len);
        put_u64(hdr + 8, s->next_seq + m);
        put_u32(hdr + 4, rec_crc(hdr, recs[m].iov_base, len));
        iov[2 * m] = (struct iovec){hdr, REC_HDR};
        iov[2 * m + 1] = recs[m];
        size += need;
        total += need;
    }
    int rc = write_all_v(s->wfd, iov, (int)(2 * m));
    if (rc < 0) {
        /* Take a partial record back off so the segment stays well-formed. */
        trl_error(LOG_COMP, "write failed path=%s err=\"%s\"", s->dir, strerror(-rc));
        win_drop(s, g->id);
        if (ftruncate(s->wfd, (off_t)g->size) != 0)
            seg_seal(s);
        return rc;
    }
    if (!g->first_seq)
        g->first_seq = s->next_seq;
    g->last_seq = s->next_seq + m - 1;
    g->nrec += m;
    s->total_bytes += size - g->size;
    g->size = size;
    s->next_seq += m;
    return (long)m;
}

int trl_spool_append_many(struct trl_spool *s, const struct iovec *recs, size_t n,
                          uint64_t *first_seq, size_t *done)
{
    if (first_seq)
        *first_seq = s->next_seq;
    size_t k = 0;
    int rc = 0;
    while (k < n) {
        if (!rec_len_ok(s, recs[k].iov_len)) {
            rc = TRL_EINVAL;
            break;
        }
        rc = make_room(s, REC_HDR + recs[k].iov_len);
        if (rc < 0)
            break;
        long w = write_group(s, recs + k, n - k);
        if (w < 0) {
            rc = (int)w;
            break;
        }
        k += (size_t)w;
    }
    if (done)
        *done = k;
    if (k == 0)
        return rc;
    int sync_rc = s->sync_interval_ns == 0 ? trl_spool_sync(s) : trl_spool_tick(s);
    return rc < 0 ? rc : sync_rc;
}

int trl_spool_append(struct trl_spool *s, const void *data, size_t len, uint64_t *seq)
{
    struct iovec rec = {(void *)data, len};
    return trl_spool_append_many(s, &rec, 1, seq, NULL);
}

static size_t seg_index(const struct trl_spool *s, uint32_t id)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        if (s->segs[i].id == id)
            return i;
    }
    return SIZE_MAX;
}

static const struct hole *seg_hole_at(const struct seg *g, uint64_t off)
{
    for (size_t i = 0; i < g->nholes; i++) {
        if (g->holes[i].start == off)
            return &g->holes[i];
    }
    return NULL;
}

int trl_spool_read(struct trl_spool *s, struct trl_spool_record *rec)
{
    for (;;) {
        if (s->rlast + 1 >= s->next_seq)
            return 0;
        if (s->background && s->rlast >= s->durable) {
            /* The next record is not durable yet: the reader comes back once a sync is done. */
            int rc = sync_collect(s, false);
            if (rc < 0)
                return rc;
            if (s->rlast >= s->durable) {
                rc = trl_spool_sync_start(s);
                return rc < 0 ? rc : 0;
            }
        }
        size_t i = seg_index(s, s->rseg_id);
        if (i == SIZE_MAX) {
            /* The cursor's segment was deleted (acknowledged or dropped): go on from the oldest. */
            if (s->nsegs == 0)
                return 0;
            i = 0;
            s->rseg_id = s->segs[0].id;
            s->roff = 0;
        }
        const struct seg *g = &s->segs[i];
        if (s->roff >= g->size || g->last_seq <= s->rlast) {
            if (i + 1 >= s->nsegs)
                return 0;
            s->rseg_id = s->segs[i + 1].id;
            s->roff = 0;
            continue;
        }
        const struct hole *h = seg_hole_at(g, s->roff);
        if (h) {
            s->roff = h->end;
            continue;
        }
        int fd = seg_fd_for_read(s, g->id);
        if (fd < 0)
            return fd;
        uint32_t len = 0;
        uint64_t seq = 0;
        uint64_t lo = s->roff == 0 ? (g->first_seq ? g->first_seq - 1 : 0) : s->rseq;
        const unsigned char *payload = NULL;
        int rc = rec_load(s, fd, g->id, s->roff, g->size, lo, g->last_seq, &payload, &len, &seq);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            int64_t next = rec_resync(fd, s->roff, g->size, lo);
            if (next < 0)
                return (int)next;
            trl_warn(LOG_COMP,
                     "skipping corrupt records segment=%" PRIu32 " offset=%" PRIu64
                     " bytes=%" PRIu64,
                     g->id, s->roff, (uint64_t)next - s->roff);
            s->corrupt_bytes += (uint64_t)next - s->roff;
            s->roff = (uint64_t)next;
            continue;
        }
        if (seq > s->durable && s->background) {
            /* Left for after the next sync (the cursor stays on this record). */
            rc = trl_spool_sync_start(s);
            return rc < 0 ? rc : 0;
        }
        s->roff += REC_HDR + len;
        s->rseq = seq;
        if (seq <= s->rlast)
            continue;
        if (seq > s->durable) {
            rc = trl_spool_sync(s);
            if (rc < 0)
                return rc;
        }
        s->rlast = seq;
        rec->seq = seq;
        rec->data = payload;
        rec->len = len;
        return 1;
    }
}

void trl_spool_rewind(struct trl_spool *s)
{
    s->rlast = s->acked;
    s->rseg_id = s->nsegs ? s->segs[0].id : 0;
    s->roff = 0;
}

int trl_spool_ack(struct trl_spool *s, uint64_t seq)
{
    if (seq >= s->next_seq)
        return TRL_EINVAL;
    if (seq <= s->acked)
        return 0;
    s->acked = seq;
    if (s->rlast < seq)
        s->rlast = seq;
    if (s->nsegs == 0 || s->segs[0].last_seq > seq)
        return 0;
    /* Whole segments are delivered: the ack position must be on disk before they go. */
    int rc = persist_ack(s);
    if (rc < 0)
        return rc;
    while (s->nsegs && s->segs[0].last_seq <= seq)
        seg_remove(s, 0);
    return 0;
}

void trl_spool_stats(const struct trl_spool *s, struct trl_spool_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->bytes = s->total_bytes;
    st->segments = s->nsegs;
    st->next_seq = s->next_seq;
    st->acked_seq = s->acked;
    st->durable_seq = s->durable;
    st->read_seq = s->rlast;
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct seg *g = &s->segs[i];
        if (g->last_seq <= s->acked)
            continue;
        st->pending += s->acked < g->first_seq ? g->nrec : g->last_seq - s->acked;
    }
    st->dropped = s->dropped;
    st->corrupt_bytes = s->corrupt_bytes;
}

uint64_t trl_spool_bytes(const struct trl_spool *s)
{
    return s->total_bytes;
}
