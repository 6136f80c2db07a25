#include "agent/tail.h"

#include "agent/crc32c.h"
#include "agent/offsets.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_COMP "tail"
/* Bytes at the start of a file whose CRC identifies its content (against inode reuse and
 * truncate-then-refill). */
#define FP_MAX 1024u
/* Bytes read from one file per poll before the others get their turn. */
#define READ_BUDGET (1u << 20)
#define WATCH_MASK                                                                                 \
    (IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |            \
     IN_DELETE_SELF | IN_MOVE_SELF)

struct tfile {
    uint64_t id;
    char *path;
    dev_t dev;
    ino_t ino;
    int fd; /* -1 once drained and closed (kept until its lines are acknowledged) */
    bool rotated;
    bool bound; /* scratch for scans */
    bool at_eof;

    /* Bytes read but not yet delivered: buf[pos, len) starts at file offset read_off - (len-pos).
     * buf has cap + 1 bytes so a line can always be NUL-terminated in place. */
    char *buf;
    size_t cap, len, pos;
    uint64_t read_off;

    /* An over-long line: its first max_line bytes, kept while the rest is skipped. */
    char *longbuf;
    size_t longlen;
    uint64_t long_start;
    bool skipping;
    bool long_sent;

    uint64_t emitted; /* end of the last line delivered */
    uint64_t acked;
    uint32_t fp_crc;
    uint32_t fp_len;
    int64_t last_grow_ns;
    uint64_t seen_size; /* size at the last truncation check */
};

struct trl_tail {
    char *state_path;
    size_t max_line;
    int64_t idle_ns;
    int64_t interval_ns;
    int64_t rotate_wait_ns;
    bool start_at_end;

    char **patterns;
    size_t npatterns;
    char **excludes;
    size_t nexcludes;

    struct tfile **files; /* in order of discovery: a rotated file precedes its successor */
    size_t nfiles;
    size_t filecap;
    uint64_t next_id;

    int ifd;
    bool need_scan;
    bool more; /* a file hit its read budget or the callback stopped: poll again at once */
    bool first_scan_done;
    bool dirty;
    int64_t next_scan_ns;

    struct trl_offsets saved;  /* state read at create, consumed by the first scan */
    struct trl_strmap *warned; /* paths whose open failure was already logged */
};

static bool has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int64_t ms_ns(int ms, int dflt)
{
    return (int64_t)(ms > 0 ? ms : dflt) * 1000000;
}

int trl_tail_create(const struct trl_tail_config *cfg, struct trl_tail **out)
{
    *out = NULL;
    if (cfg->idle_flush_ms < 0 || cfg->poll_interval_ms < 0 || cfg->rotate_wait_ms < 0)
        return TRL_EINVAL;
    struct trl_tail *t = trl_xcalloc(1, sizeof(*t));
    t->state_path = cfg->state_path ? trl_xstrdup(cfg->state_path) : NULL;
    t->max_line = cfg->max_line ? cfg->max_line : 64 * 1024;
    t->idle_ns = ms_ns(cfg->idle_flush_ms, 5000);
    t->interval_ns = ms_ns(cfg->poll_interval_ms, 1000);
    t->rotate_wait_ns = ms_ns(cfg->rotate_wait_ms, 5000);
    t->start_at_end = cfg->start_at_end;
    t->next_id = 1;
    t->need_scan = true;
    t->warned = trl_strmap_create();
    t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (t->ifd < 0)
        trl_warn(LOG_COMP, "inotify unavailable, polling only err=\"%s\"", strerror(errno));
    if (t->state_path) {
        int rc = trl_offsets_load(t->state_path, &t->saved);
        if (rc < 0)
            trl_warn(LOG_COMP, "ignoring unreadable state path=%s err=\"%s\"", t->state_path,
                     rc == TRL_EINVAL ? "damaged" : strerror(-rc));
    }
    *out = t;
    return 0;
}

static void tfile_close(struct tfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->buf);
    free(f->longbuf);
    f->buf = f->longbuf = NULL;
    f->len = f->pos = f->cap = 0;
}

static void tfile_free(struct tfile *f)
{
    tfile_close(f);
    free(f->path);
    free(f);
}

void trl_tail_destroy(struct trl_tail *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nfiles; i++)
        tfile_free(t->files[i]);
    free(t->files);
    for (size_t i = 0; i < t->npatterns; i++)
        free(t->patterns[i]);
    free(t->patterns);
    for (size_t i = 0; i < t->nexcludes; i++)
        free(t->excludes[i]);
    free(t->excludes);
    if (t->ifd >= 0)
        close(t->ifd);
    trl_offsets_free(&t->saved);
    trl_strmap_destroy(t->warned, free);
    free(t->state_path);
    free(t);
}

int trl_tail_add(struct trl_tail *t, const char *pattern)
{
    if (!pattern || pattern[0] != '/')
        return TRL_EINVAL;
    t->patterns = trl_xrealloc(t->patterns, (t->npatterns + 1) * sizeof(*t->patterns));
    t->patterns[t->npatterns++] = trl_xstrdup(pattern);
    t->need_scan = true;
    return 0;
}

int trl_tail_exclude(struct trl_tail *t, const char *pattern)
{
    if (!pattern || !*pattern)
        return TRL_EINVAL;
    t->excludes = trl_xrealloc(t->excludes, (t->nexcludes + 1) * sizeof(*t->excludes));
    t->excludes[t->nexcludes++] = trl_xstrdup(pattern);
    t->need_scan = true;
    return 0;
}

int trl_tail_fd(const struct trl_tail *t)
{
    return t->ifd;
}

size_t trl_tail_open_files(const struct trl_tail *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nfiles; i++)
        n += t->files[i]->fd >= 0;
    return n;
}

/* True when the first fp_len bytes of fd still have CRC fp_crc. */
static bool fp_matches(int fd, uint32_t fp_len, uint32_t fp_crc)
{
    if (fp_len == 0)
        return true;
    char b[FP_MAX];
    ssize_t n = trl_pread_full(fd, b, TRL_MIN(fp_len, FP_MAX), 0);
    return n == (ssize_t)fp_len && trl_crc32c(0, b, fp_len) == fp_crc;
}

/* Checks the fingerprint still matches. A file first read from the middle (resumed from the state
 * file, or start_at_end) has its fingerprint extended here over up to FP_MAX bytes before the
 * read offset. Returns false when the file's beginning changed under us. */
static bool fp_refresh(struct tfile *f)
{
    uint32_t want = (uint32_t)TRL_MIN((uint64_t)FP_MAX, f->read_off);
    if (want <= f->fp_len)
        return fp_matches(f->fd, f->fp_len, f->fp_crc);
    char b[FP_MAX];
    ssize_t n = trl_pread_full(f->fd, b, want, 0);
    if (n < (ssize_t)f->fp_len)
        return false;
    if (f->fp_len && trl_crc32c(0, b, f->fp_len) != f->fp_crc)
        return false;
    f->fp_len = (uint32_t)n;
    f->fp_crc = trl_crc32c(0, b, (size_t)n);
    return true;
}

static bool excluded(const struct trl_tail *t, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < t->nexcludes; i++) {
        if (fnmatch(t->excludes[i], base, 0) == 0)
            return true;
    }
    return false;
}

static void tfile_reset(struct trl_tail *t, struct tfile *f, uint64_t off)
{
    f->id = t->next_id++;
    f->read_off = off;
    f->emitted = off;
    f->acked = off;
    f->len = f->pos = 0;
    f->skipping = false;
    f->long_sent = false;
    f->longlen = 0;
    f->at_eof = false;
    f->fp_len = 0;
    f->fp_crc = 0;
    t->dirty = true;
}

/* Wraps an open descriptor in a tracked file starting at offset off. */
static struct tfile *tfile_add(struct trl_tail *t, const char *path, int fd, const struct stat *st,
                               uint64_t off, bool rotated)
{
    struct tfile *f = trl_xcalloc(1, sizeof(*f));
    f->path = trl_xstrdup(path);
    f->fd = fd;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->rotated = rotated;
    f->cap = TRL_MAX(2 * t->max_line + 2, (size_t)16384);
    f->buf = trl_xmalloc(f->cap + 1);
    f->last_grow_ns = trl_mono_ns();
    tfile_reset(t, f, off);
    if (t->nfiles == t->filecap) {
        t->filecap = t->filecap ? t->filecap * 2 : 8;
        t->files = trl_xrealloc(t->files, t->filecap * sizeof(*t->files));
    }
    /* A rotated file found again at start-up holds older lines than the file now under its
     * name: it goes first, so its lines are delivered first. */
    if (rotated) {
        memmove(t->files + 1, t->files, t->nfiles * sizeof(*t->files));
        t->files[0] = f;
        t->nfiles++;
    } else {
        t->files[t->nfiles++] = f;
    }
    return f;
}

/* The starting offset for a file: after the last acknowledged line when the state knows this very
 * file (same inode, same first bytes), else its beginning (or end, see start_at_end). */
static uint64_t start_offset(struct trl_tail *t, int fd, const struct stat *st, const char *path,
                             uint32_t *fp_len, uint32_t *fp_crc)
{
    struct trl_offset_entry *e = trl_offsets_find(&t->saved, st->st_dev, st->st_ino);
    if (e) {
        uint32_t len = (uint32_t)(e->aux >> 32), crc = (uint32_t)e->aux;
        uint64_t off = e->offset;
        e->dev = e->ino = 0; /* consumed */
        if (len <= FP_MAX && off <= (uint64_t)st->st_size && fp_matches(fd, len, crc)) {
            *fp_len = len;
            *fp_crc = crc;
            trl_debug(LOG_COMP, "resuming path=%s offset=%" PRIu64, path, off);
            return off;
        }
        trl_info(LOG_COMP, "file changed while stopped, reading from start path=%s", path);
        return 0;
    }
    if (!t->first_scan_done && t->start_at_end)
        return (uint64_t)st->st_size;
    return 0;
}

static bool same_path(void *value, void *ud)
{
    return strcmp(value, ud) == 0;
}

static void tfile_open(struct trl_tail *t, const char *path, bool rotated)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        if (!trl_strmap_get(t->warned, path, strlen(path))) {
            trl_warn(LOG_COMP, "cannot follow path=%s err=\"%s\"", path, strerror(err));
            trl_strmap_put(t->warned, path, strlen(path), trl_xstrdup(path));
        }
        return;
    }
    if (trl_strmap_get(t->warned, path, strlen(path)))
        trl_strmap_remove_if(t->warned, same_path, (void *)path, free);
    uint32_t fp_len = 0, fp_crc = 0;
    uint64_t off = start_offset(t, fd, &st, path, &fp_len, &fp_crc);
    struct tfile *f = tfile_add(t, path, fd, &st, off, rotated);
    f->fp_len = fp_len;
    f->fp_crc = fp_crc;
    trl_info(LOG_COMP, "following path=%s offset=%" PRIu64 "%s", path, off,
             rotated ? " (rotated)" : "");
}

static struct tfile *find_open(const struct trl_tail *t, dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tfile *f = t->files[i];
        if (f->fd >= 0 && f->dev == dev && f->ino == ino)
            return f;
    }
    return NULL;
}

/* Watches the directory holding path (a file or a pattern) unless it is itself a pattern. */
static void watch_dir(struct trl_tail *t, const char *path)
{
    if (t->ifd < 0)
        return;
    char *d = trl_xstrdup(path);
    char *s = strrchr(d, '/');
    if (s == d)
        s[1] = '\0';
    else if (s)
        *s = '\0';
    if (!has_glob_chars(d))
        inotify_add_watch(t->ifd, d, WATCH_MASK | IN_ONLYDIR);
    free(d);
}

/* After the first scan: a file the state knows that no pattern names any more was probably rotated
 * while the agent was down. Rotation keeps a file in its directory, so look there by inode and
 * drain what was not yet acknowledged. */
static void rediscover_rotated(struct trl_tail *t)
{
    for (size_t i = 0; i < t->saved.n; i++) {
        struct trl_offset_entry *e = &t->saved.v[i];
        if (!e->dev && !e->ino)
            continue;
        char *dir = trl_xstrdup(e->path);
        char *s = strrchr(dir, '/');
        if (s)
            s[s == dir ? 1 : 0] = '\0';
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if ((uint64_t)de->d_ino != e->ino)
                continue;
            char path[PATH_MAX];
            size_t dl = strlen(dir);
            if (snprintf(path, sizeof(path), "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
                         de->d_name) >= (int)sizeof(path))
                break;
            struct stat st;
            if (stat(path, &st) != 0 || (uint64_t)st.st_dev != e->dev || excluded(t, path) ||
                (uint64_t)st.st_size <= e->offset || find_open(t, st.st_dev, st.st_ino))
                break;
            tfile_open(t, path, true);
            break;
        }
        if (d)
            closedir(d);
        free(dir);
    }
    trl_offsets_free(&t->saved);
}

struct match {
    char *path;
    dev_t dev;
    ino_t ino;
    bool used;
};

static void scan(struct trl_tail *t, int64_t now)
{
    struct match *m = NULL;
    size_t nm = 0, cap = 0;
    for (size_t p = 0; p < t->npatterns; p++) {
        glob_t g;
        watch_dir(t, t->patterns[p]);
        if (glob(t->patterns[p], GLOB_NOSORT, NULL, &g) != 0) {
            globfree(&g);
            continue;
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat st;
            const char *path = g.gl_pathv[i];
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || excluded(t, path))
                continue;
            bool dup = false;
            for (size_t k = 0; k < nm && !dup; k++)
                dup = m[k].dev == st.st_dev && m[k].ino == st.st_ino;
            if (dup)
                continue;
            if (nm == cap) {
                cap = cap ? cap * 2 : 16;
                m = trl_xrealloc(m, cap * sizeof(*m));
            }
            m[nm++] = (struct match){trl_xstrdup(path), st.st_dev, st.st_ino, false};
            watch_dir(t, path);
        }
        globfree(&g);
    }

    /* Bind open files to the names that still lead to them; the others were rotated away or
     * deleted and are only drained from now on. */
    for (size_t i = 0; i < t->nfiles; i++)
        t->files[i]->bound = false;
    for (size_t k = 0; k < nm; k++) {
        struct tfile *f = find_open(t, m[k].dev, m[k].ino);
        if (!f)
            continue;
        m[k].used = true;
        f->bound = true;
        f->rotated = false;
        if (strcmp(f->path, m[k].path) != 0) {
            free(f->path);
            f->path = trl_xstrdup(m[k].path);
            t->dirty = true;
        }
    }
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tfile *f = t->files[i];
        if (f->fd >= 0 && !f->bound && !f->rotated) {
            trl_info(LOG_COMP, "rotated or deleted, draining path=%s", f->path);
            f->rotated = true;
            f->at_eof = false;
            f->last_grow_ns = now;
        }
    }
    for (size_t k = 0; k < nm; k++) {
        if (!m[k].used)
            tfile_open(t, m[k].path, false);
        free(m[k].path);
    }
    free(m);
    if (!t->first_scan_done) {
        t->first_scan_done = true;
        rediscover_rotated(t);
    }
    t->need_scan = false;
    t->next_scan_ns = now + t->interval_ns;
}

/* Handles a file that shrank or whose first bytes changed: its content was replaced in place
 * (copytruncate), so everything in it is new. */
static void check_truncation(struct trl_tail *t, struct tfile *f, bool full)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return;
    bool shrunk = (uint64_t)st.st_size < f->read_off;
    /* A file truncated and refilled past our offset between two looks does not shrink: compare
     * its first bytes whenever it changed, and on every periodic scan. */
    bool changed = (uint64_t)st.st_size != f->seen_size;
    f->seen_size = (uint64_t)st.st_size;
    if (!shrunk && (!(full || changed) || fp_refresh(f)))
        return;
    trl_info(LOG_COMP, "truncated, reading from start path=%s size=%" PRIu64 " offset=%" PRIu64,
             f->path, (uint64_t)st.st_size, f->read_off);
    tfile_reset(t, f, 0);
    f->last_grow_ns = trl_mono_ns();
}

static int deliver(struct tfile *f, trl_tail_cb cb, void *ud, char *data, size_t len,
                   uint64_t start, uint64_t end, unsigned flags)
{
    data[len] = '\0';
    struct trl_tail_line line = {
        .data = data,
        .len = len,
        .path = f->path,
        .file_id = f->id,
        .offset = start,
        .end = end,
        .flags = flags,
    };
    f->emitted = end;
    return cb(ud, &line);
}

/*
 * Delivers the complete lines in f's buffer. Returns 1 when the callback asked to stop, else 0.
 * *count is incremented for each line.
 */
static int drain_buffer(struct trl_tail *t, struct tfile *f, trl_tail_cb cb, void *ud, int *count)
{
    while (f->pos < f->len) {
        char *p = f->buf + f->pos;
        size_t rem = f->len - f->pos;
        uint64_t start = f->read_off - rem;
        if (f->skipping) {
            char *nl = memchr(p, '\n', rem);
            if (!nl) {
                f->pos = f->len;
                break;
            }
            f->pos += (size_t)(nl - p) + 1;
            f->skipping = false;
            if (f->long_sent)
                continue;
            (*count)++;
            if (deliver(f, cb, ud, f->longbuf, f->longlen, f->long_start, start + (nl - p) + 1,
                        TRL_TAIL_TRUNCATED))
                return 1;
            continue;
        }
        char *nl = memchr(p, '\n', rem);
        if (!nl) {
            if (rem <= t->max_line + 1)
                break;
            /* Longer than max_line with no end in sight: keep the head, skip to the newline. */
            if (!f->longbuf)
                f->longbuf = trl_xmalloc(t->max_line + 1);
            memcpy(f->longbuf, p, t->max_line);
            f->longlen = t->max_line;
            f->long_start = start;
            f->skipping = true;
            f->long_sent = false;
            f->pos = f->len;
            break;
        }
        size_t l = (size_t)(nl - p);
        uint64_t end = start + l + 1;
        f->pos += l + 1;
        if (l > 0 && p[l - 1] == '\r')
            l--;
        unsigned flags = 0;
        if (l > t->max_line) {
            l = t->max_line;
            flags = TRL_TAIL_TRUNCATED;
        }
        (*count)++;
        if (deliver(f, cb, ud, p, l, start, end, flags))
            return 1;
    }
    return 0;
}

/* Delivers what is waiting without a newline once the file has been idle long enough. */
static int flush_idle(struct trl_tail *t, struct tfile *f, int64_t now, trl_tail_cb cb, void *ud,
                      int *count)
{
    if (now - f->last_grow_ns < t->idle_ns)
        return 0;
    if (f->skipping && !f->long_sent) {
        f->long_sent = true;
        (*count)++;
        return deliver(f, cb, ud, f->longbuf, f->longlen, f->long_start, f->read_off,
                       TRL_TAIL_TRUNCATED | TRL_TAIL_PARTIAL);
    }
    if (f->pos < f->len) {
        char *p = f->buf + f->pos;
        size_t l = f->len - f->pos;
        uint64_t start = f->read_off - l;
        f->pos = f->len;
        if (l > 0 && p[l - 1] == '\r')
            l--;
        (*count)++;
        return deliver(f, cb, ud, p, l, start, f->read_off, TRL_TAIL_PARTIAL);
    }
    return 0;
}

/* Reads f until end of file, its budget, or the callback stops. Returns 1 when stopped. */
static int read_file(struct trl_tail *t, struct tfile *f, int64_t now, trl_tail_cb cb, void *ud,
                     int *count)
{
    size_t budget = READ_BUDGET;
    for (;;) {
        if (drain_buffer(t, f, cb, ud, count))
            return 1;
        if (f->pos > 0) {
            memmove(f->buf, f->buf + f->pos, f->len - f->pos);
            f->len -= f->pos;
            f->pos = 0;
        }
        if (budget == 0) {
            t->more = true;
            return 0;
        }
        size_t want = TRL_MIN(f->cap - f->len, budget);
        ssize_t n = pread(f->fd, f->buf + f->len, want, (off_t)f->read_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            trl_warn(LOG_COMP, "read failed path=%s err=\"%s\"", f->path, strerror(errno));
            return 0;
        }
        if (n == 0) {
            f->at_eof = true;
            break;
        }
        f->at_eof = false;
        /* The fingerprint covers the first bytes as they were when read, which is what lets a
         * later look notice they were replaced. */
        if (f->fp_len == f->read_off && f->fp_len < FP_MAX) {
            size_t take = TRL_MIN((size_t)n, (size_t)(FP_MAX - f->fp_len));
            f->fp_crc = trl_crc32c(f->fp_crc, f->buf + f->len, take);
            f->fp_len += (uint32_t)take;
        }
        f->len += (size_t)n;
        f->read_off += (uint64_t)n;
        f->last_grow_ns = now;
        budget -= (size_t)n;
    }
    return flush_idle(t, f, now, cb, ud, count);
}

static bool tfile_done(const struct tfile *f)
{
    return f->fd < 0 && f->acked >= f->emitted;
}

static void reap(struct trl_tail *t, int64_t now)
{
    size_t out = 0;
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tfile *f = t->files[i];
        if (f->fd >= 0 && f->rotated && f->at_eof && f->pos == f->len &&
            (!f->skipping || f->long_sent) && now - f->last_grow_ns >= t->rotate_wait_ns) {
            trl_info(LOG_COMP, "finished rotated file path=%s offset=%" PRIu64, f->path,
                     f->read_off);
            tfile_close(f);
        }
        if (tfile_done(f)) {
            tfile_free(f);
            t->dirty = true;
            continue;
        }
        t->files[out++] = f;
    }
    t->nfiles = out;
}

static int drain_inotify(struct trl_tail *t)
{
    if (t->ifd < 0)
        return 0;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(t->ifd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return n < 0 ? -errno : 0;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_Q_OVERFLOW |
                            IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                t->need_scan = true;
            p += sizeof(*ev) + ev->len;
        }
    }
}

int trl_tail_poll(struct trl_tail *t, trl_tail_cb cb, void *ud)
{
    int rc = drain_inotify(t);
    int64_t now = trl_mono_ns();
    bool periodic = now >= t->next_scan_ns;
    if (t->need_scan || periodic)
        scan(t, now);
    t->more = false;
    int count = 0;
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tfile *f = t->files[i];
        if (f->fd < 0)
            continue;
        check_truncation(t, f, periodic);
        if (read_file(t, f, now, cb, ud, &count)) {
            t->more = true;
            break;
        }
    }
    reap(t, now);
    return rc < 0 ? rc : count;
}

int trl_tail_timeout_ms(const struct trl_tail *t)
{
    if (t->more || t->need_scan)
        return 0;
    int64_t now = trl_mono_ns();
    int64_t due = t->next_scan_ns;
    for (size_t i = 0; i < t->nfiles; i++) {
        const struct tfile *f = t->files[i];
        if (f->fd < 0)
            continue;
        if (f->pos < f->len || (f->skipping && !f->long_sent))
            due = TRL_MIN(due, f->last_grow_ns + t->idle_ns);
        if (f->rotated)
            due = TRL_MIN(due, f->last_grow_ns + t->rotate_wait_ns);
    }
    if (due <= now)
        return 0;
    return (int)TRL_MIN((due - now + 999999) / 1000000, (int64_t)INT_MAX);
}

void trl_tail_ack(struct trl_tail *t, uint64_t file_id, uint64_t end)
{
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tfile *f = t->files[i];
        if (f->id != file_id)
            continue;
        if (end > f->acked && end <= f->emitted) {
            f->acked = end;
            t->dirty = true;
        }
        return;
    }
}

int trl_tail_commit(struct trl_tail *t)
{
    if (!t->dirty || !t->state_path)
        return 0;
    struct trl_offsets o = {0};
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tfile *f = t->files[i];
        if (f->fd >= 0)
            fp_refresh(f);
        uint64_t aux = (uint64_t)f->fp_len << 32 | f->fp_crc;
        trl_offsets_add(&o, f->path, (uint64_t)f->dev, (uint64_t)f->ino, f->acked, aux);
    }
    /* Entries of the state file not yet matched (before the first scan) are kept as they were. */
    for (size_t i = 0; i < t->saved.n; i++) {
        const struct trl_offset_entry *e = &t->saved.v[i];
        if (e->dev || e->ino)
            trl_offsets_add(&o, e->path, e->dev, e->ino, e->offset, e->aux);
    }
    int rc = trl_offsets_save(t->state_path, &o);
    trl_offsets_free(&o);
    if (rc < 0) {
        trl_error(LOG_COMP, "cannot save state path=%s err=\"%s\"", t->state_path, strerror(-rc));
        return rc;
    }
    t->dirty = false;
    return 0;
}
