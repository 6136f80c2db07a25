#include "agent/fim.h"

#include "agent/fim_db.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_COMP "fim"
#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |            \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

struct pend {
    int64_t due;
    char path[];
};

struct trl_fim {
    struct trl_fim_db *db;
    uint64_t max_hash;
    int64_t interval_ns;
    int64_t settle_ns;

    char **roots;
    bool *baselined; /* per root: its baseline is complete, differences are reported */
    size_t nroots;
    struct trl_strmap *done_roots; /* roots the database lists as baselined */
    char **ignores;
    size_t nignores;

    struct trl_strmap *pending; /* path -> struct pend: inotify saw a change there */

    int ifd;
    char **wdpath; /* inotify watch descriptor -> directory path */
    size_t wdcap;
    bool watch_warned;

    uint32_t gen; /* of the current or last full scan, stored with the paths it saw */
    bool scan_now;
    int64_t next_scan_ns;
    bool in_txn;

    /* The callback of the call in progress. */
    struct trl_arena *arena;
    trl_agent_event_fn cb;
    void *ud;
    int count;

    struct trl_fim_stats st;
};

/* ---- baseline entries ---------------------------------------------------------------------- */

static void load_root(void *ud, const char *path)
{
    struct trl_fim *f = ud;
    trl_strmap_put(f->done_roots, path, strlen(path), (void *)1);
}

static void txn(struct trl_fim *f)
{
    if (!f->in_txn && trl_fim_db_begin(f->db) == 0)
        f->in_txn = true;
}

static void txn_end(struct trl_fim *f)
{
    if (f->in_txn)
        trl_fim_db_commit(f->db);
    f->in_txn = false;
}

static void entry_put(struct trl_fim *f, const char *path, const struct trl_fim_entry *e)
{
    txn(f);
    trl_fim_db_put(f->db, path, e, f->gen);
}

/* The baseline entry of path, from the database: true when there is one. */
static bool entry_get(struct trl_fim *f, const char *path, struct trl_fim_entry *e)
{
    return trl_fim_db_get(f->db, path, e) == 1;
}

/* ---- paths --------------------------------------------------------------------------------- */

static bool ignored(const struct trl_fim *f, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < f->nignores; i++) {
        if (fnmatch(f->ignores[i], path, 0) == 0 || fnmatch(f->ignores[i], base, 0) == 0)
            return true;
    }
    return false;
}

static bool under(const char *path, const char *root)
{
    size_t rl = strlen(root);
    if (strncmp(path, root, rl) != 0)
        return false;
    return path[rl] == '\0' || path[rl] == '/' || (rl == 1 && root[0] == '/');
}

/* The configured root a path belongs to, or -1. */
static int root_of(const struct trl_fim *f, const char *path)
{
    for (size_t i = 0; i < f->nroots; i++) {
        if (under(path, f->roots[i]))
            return (int)i;
    }
    return -1;
}

static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl && dir[dl - 1] == '/';
    char *p = trl_xmalloc(dl + nl + 2);
    memcpy(p, dir, dl);
    if (!slash)
        p[dl++] = '/';
    memcpy(p + dl, name, nl + 1);
    return p;
}

/* ---- attributes and hashing ---------------------------------------------------------------- */

static uint8_t type_of(mode_t m)
{
    return S_ISREG(m)   ? TRL_FIM_FILE
           : S_ISDIR(m) ? TRL_FIM_DIR
           : S_ISLNK(m) ? TRL_FIM_SYMLINK
                        : TRL_FIM_OTHER;
}

/* libsodium's SHA-256 rather than OpenSSL's: the digests are the same, and the agent's main
 * process then never initialises OpenSSL, whose set-up alone kept about 3 MB of its pages
 * resident (docs/agent.md, "Footprint"). */
static bool sha256_fd(int fd, unsigned char out[crypto_hash_sha256_BYTES])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    static const size_t chunk = 65536;
    unsigned char *buf = trl_xmalloc(chunk);
    bool ok = true;
    for (;;) {
        ssize_t n = read(fd, buf, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    }
    crypto_hash_sha256_final(&st, out);
    free(buf);
    return ok;
}

/* Hashes a regular file's content, or a symlink's target (so that retargeting a link shows). */
static void hash_entry(const struct trl_fim *f, const char *path, struct trl_fim_entry *e)
{
    e->hash_state = TRL_FIM_HASH_NONE;
    if (e->type == TRL_FIM_SYMLINK) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target));
        if (n >= 0) {
            crypto_hash_sha256(e->sha256, (const unsigned char *)target, (unsigned long long)n);
            e->hash_state = TRL_FIM_HASH_OK;
        }
        return;
    }
    if (e->type != TRL_FIM_FILE)
        return;
    if (e->size > f->max_hash) {
        e->hash_state = TRL_FIM_HASH_TOO_BIG;
        return;
    }
    /* O_NOATIME keeps the scan from touching access times; it needs ownership or CAP_FOWNER. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        e->hash_state = TRL_FIM_HASH_UNREADABLE;
        return;
    }
    e->hash_state = sha256_fd(fd, e->sha256) ? TRL_FIM_HASH_OK : TRL_FIM_HASH_UNREADABLE;
    close(fd);
}

static int64_t ts_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * TRL_NS_PER_SEC + ts.tv_nsec;
}

/* Fills e from st, hashing only when the content may have changed since old. */
static void make_entry(const struct trl_fim *f, const char *path, const struct stat *st,
                       const struct trl_fim_entry *old, struct trl_fim_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->type = type_of(st->st_mode);
    e->mode = st->st_mode & 07777;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->size = (uint64_t)st->st_size;
    e->ino = (uint64_t)st->st_ino;
    e->dev = (uint64_t)st->st_dev;
    e->mtime_ns = ts_ns(st->st_mtim);
    e->ctime_ns = ts_ns(st->st_ctim);
    bool same = old && old->type == e->type && old->size == e->size && old->ino == e->ino &&
                old->mtime_ns == e->mtime_ns && old->ctime_ns == e->ctime_ns &&
                (old->hash_state == TRL_FIM_HASH_OK ||
                 (old->hash_state == TRL_FIM_HASH_TOO_BIG && e->size > f->max_hash));
    if (same) {
        e->hash_state = old->hash_state;
        memcpy(e->sha256, old->sha256, sizeof(e->sha256));
        return;
    }
    hash_entry(f, path, e);
}

/* ---- events -------------------------------------------------------------------------------- */

static void set_hex(struct trl_event *ev, enum trl_field fld, const char *name,
                    const unsigned char h[32])
{
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    if (fld != TRL_F_NONE)
        trl_event_set(ev, fld, hex, 64);
    else
        trl_agent_set_named_str(ev, name, hex);
}

static const char *type_name(uint8_t t)
{
    return t == TRL_FIM_FILE      ? "file"
           : t == TRL_FIM_DIR     ? "dir"
           : t == TRL_FIM_SYMLINK ? "symlink"
                                  : NULL;
}

static void emit(struct trl_fim *f, const char *action, const char *type, const char *path,
                 const struct trl_fim_entry *cur, const struct trl_fim_entry *before,
                 const char *changed)
{
    struct trl_event *ev = trl_agent_event(f->arena, "agent.fim", trl_now_ns());
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "file", 4);
    trl_event_add(ev, TRL_F_EVENT_TYPE, type, strlen(type));
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, action);
    trl_event_set_str(ev, TRL_F_FILE_PATH, path);
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    trl_event_set_str(ev, TRL_F_FILE_NAME, name);
    if (slash)
        trl_event_set(ev, TRL_F_FILE_DIRECTORY, path, slash == path ? 1 : (size_t)(slash - path));
    const char *dot = strrchr(name, '.');
    if (cur->type == TRL_FIM_FILE && dot && dot != name && dot[1])
        trl_event_set_str(ev, TRL_F_FILE_EXTENSION, dot + 1);
    const char *tn = type_name(cur->type);
    if (tn)
        trl_event_set_str(ev, TRL_F_FILE_TYPE, tn);
    trl_agent_set_u64(ev, TRL_F_FILE_SIZE, cur->size);
    char mode[16];
    snprintf(mode, sizeof(mode), "%04o", (unsigned)cur->mode);
    trl_event_set_str(ev, TRL_F_FILE_MODE, mode);
    trl_agent_set_u64(ev, TRL_F_FILE_UID, cur->uid);
    trl_agent_set_u64(ev, TRL_F_FILE_GID, cur->gid);
    trl_agent_set_u64(ev, TRL_F_FILE_INODE, cur->ino);
    trl_agent_set_date(ev, TRL_F_FILE_MTIME, cur->mtime_ns);
    if (cur->type == TRL_FIM_SYMLINK) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n >= 0)
            trl_event_set_named(ev, "file.target_path", 16, target, (size_t)n);
    } else if (cur->hash_state == TRL_FIM_HASH_OK) {
        set_hex(ev, TRL_F_FILE_HASH_SHA256, NULL, cur->sha256);
        size_t hl;
        const char *h = trl_event_get(ev, TRL_F_FILE_HASH_SHA256, &hl);
        trl_event_add_unique(ev, TRL_F_RELATED_HASH, h, hl);
    } else if (cur->hash_state == TRL_FIM_HASH_TOO_BIG) {
        trl_agent_set_named_str(ev, "fim.hash_skipped", "size-limit");
    } else if (cur->hash_state == TRL_FIM_HASH_UNREADABLE) {
        trl_agent_set_named_str(ev, "fim.hash_skipped", "unreadable");
    }
    if (before) {
        if (before->hash_state == TRL_FIM_HASH_OK && before->type == TRL_FIM_FILE)
            set_hex(ev, TRL_F_NONE, "fim.before.hash_sha256", before->sha256);
        trl_agent_set_named_u64(ev, "fim.before.size", before->size);
        snprintf(mode, sizeof(mode), "%04o", (unsigned)before->mode);
        trl_agent_set_named_str(ev, "fim.before.mode", mode);
        trl_agent_set_named_u64(ev, "fim.before.uid", before->uid);
        trl_agent_set_named_u64(ev, "fim.before.gid", before->gid);
        trl_agent_set_named_u64(ev, "fim.before.inode", before->ino);
        char date[TRL_RFC3339_MAX];
        size_t dl = trl_format_rfc3339(before->mtime_ns, date);
        trl_event_set_named(ev, "fim.before.mtime", 16, date, dl);
        if (before->type != cur->type && type_name(before->type))
            trl_agent_set_named_str(ev, "fim.before.type", type_name(before->type));
    }
    if (changed && *changed)
        trl_agent_set_named_str(ev, "fim.changed", changed);
    char *msg = trl_arena_sprintf(f->arena, "%s %s", path, action + 5);
    trl_event_set_ref(ev, TRL_F_MESSAGE, msg, strlen(msg));
    f->count++;
    f->cb(f->ud, ev);
}

/* Compares a path's new state with its baseline and reports what differs. */
static void report_change(struct trl_fim *f, const char *path, const struct trl_fim_entry *old,
                          const struct trl_fim_entry *cur)
{
    char changed[96] = "";
    bool content = false, owner = false, perms = false;
#define CHANGED(name) strcat(strcat(changed, *changed ? "," : ""), name)
    if (old->type != cur->type) {
        CHANGED("type");
        content = true;
    }
    if (cur->type != TRL_FIM_DIR) {
        /* A directory's size and mtime change with every entry added or removed: the entries
         * themselves are reported instead. */
        bool both_hashed = old->hash_state == TRL_FIM_HASH_OK && cur->hash_state == TRL_FIM_HASH_OK;
        if (both_hashed && memcmp(old->sha256, cur->sha256, 32) != 0) {
            CHANGED("hash");
            content = true;
        }
        if (old->size != cur->size) {
            CHANGED("size");
            content = true;
        }
        if (!both_hashed && old->mtime_ns != cur->mtime_ns) {
            CHANGED("mtime");
            content = true;
        }
    }
    if (old->ino != cur->ino) {
        CHANGED("inode");
        content = true;
    }
    if (old->uid != cur->uid) {
        CHANGED("uid");
        owner = true;
    }
    if (old->gid != cur->gid) {
        CHANGED("gid");
        owner = true;
    }
    if (old->mode != cur->mode) {
        CHANGED("mode");
        perms = true;
    }
#undef CHANGED
    const char *action = content ? "file-modified"
                         : owner ? "file-owner-changed"
                         : perms ? "file-permissions-changed"
                                 : NULL;
    if (action)
        emit(f, action, "change", path, cur, old, changed);
}

/* ---- looking at paths ---------------------------------------------------------------------- */

static bool entry_equal(const struct trl_fim_entry *a, const struct trl_fim_entry *b)
{
    return a->type == b->type && a->hash_state == b->hash_state && a->mode == b->mode &&
           a->uid == b->uid && a->gid == b->gid && a->size == b->size && a->ino == b->ino &&
           a->dev == b->dev && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
           (a->hash_state != TRL_FIM_HASH_OK || memcmp(a->sha256, b->sha256, 32) == 0);
}

/* Brings one path's baseline up to date; report: differences are events (else silent). */
static void visit(struct trl_fim *f, const char *path, const struct stat *st, bool report)
{
    struct trl_fim_entry cur, old;
    bool known = entry_get(f, path, &old);
    make_entry(f, path, st, known ? &old : NULL, &cur);
    if (!known) {
        entry_put(f, path, &cur);
        if (report)
            emit(f, "file-created", "creation", path, &cur, NULL, NULL);
        return;
    }
    if (entry_equal(&old, &cur)) {
        txn(f);
        trl_fim_db_seen(f->db, path, f->gen);
        return;
    }
    entry_put(f, path, &cur);
    if (report)
        report_change(f, path, &old, &cur);
}

static void watch(struct trl_fim *f, const char *dir)
{
    if (f->ifd < 0)
        return;
    int wd = inotify_add_watch(f->ifd, dir, WATCH_MASK);
    if (wd < 0) {
        f->st.watch_fails++;
        if (!f->watch_warned) {
            trl_warn(LOG_COMP, "cannot watch path=%s err=\"%s\": relying on periodic scans", dir,
                     strerror(errno));
            f->watch_warned = true;
        }
        return;
    }
    if ((size_t)wd >= f->wdcap) {
        size_t cap = TRL_MAX((size_t)wd + 1, f->wdcap * 2);
        f->wdpath = trl_xrealloc(f->wdpath, cap * sizeof(*f->wdpath));
        memset(f->wdpath + f->wdcap, 0, (cap - f->wdcap) * sizeof(*f->wdpath));
        f->wdcap = cap;
    }
    if (!f->wdpath[wd])
        f->st.watches++;
    free(f->wdpath[wd]);
    f->wdpath[wd] = trl_xstrdup(dir);
}

/* Visits path and, for a directory, everything below it (symlinks are never followed). */
static void walk(struct trl_fim *f, const char *path, bool report)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    visit(f, path, &st, report);
    if (!S_ISDIR(st.st_mode))
        return;
    watch(f, path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = join(path, de->d_name);
        if (!ignored(f, child))
            walk(f, child, report);
        free(child);
    }
    closedir(d);
}

/* The entries a sweep removes, collected before any is deleted (the database is not written
 * while a query reads it). */
struct gone {
    struct trl_fim_entry *e;
    char **paths;
    size_t n, cap;
};

static void collect_gone(void *ud, const char *path, const struct trl_fim_entry *e)
{
    struct gone *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->e = trl_xrealloc(g->e, g->cap * sizeof(*g->e));
        g->paths = trl_xrealloc(g->paths, g->cap * sizeof(*g->paths));
    }
    g->e[g->n] = *e;
    g->paths[g->n++] = trl_xstrdup(path);
}

/* Forgets what a full scan did not see (prefix NULL), or prefix (unless below_only) and
 * everything below it, reporting each as deleted where its root's baseline is complete. */
static void sweep(struct trl_fim *f, const char *prefix, bool below_only)
{
    struct gone g = {0};
    trl_fim_db_select(f->db, prefix, below_only, f->gen, collect_gone, &g);
    for (size_t i = 0; i < g.n; i++) {
        int r = root_of(f, g.paths[i]);
        if (r >= 0 && f->baselined[r])
            emit(f, "file-deleted", "deletion", g.paths[i], &g.e[i], NULL, NULL);
        txn(f);
        trl_fim_db_delete(f->db, g.paths[i]);
        free(g.paths[i]);
    }
    free(g.paths);
    free(g.e);
}

static void check_path(struct trl_fim *f, const char *path)
{
    int r = root_of(f, path);
    if (r < 0 || ignored(f, path))
        return;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            sweep(f, path, false);
        return;
    }
    struct trl_fim_entry e;
    bool known = entry_get(f, path, &e);
    if (S_ISDIR(st.st_mode) && (!known || e.type != TRL_FIM_DIR || e.ino != st.st_ino)) {
        /* A directory created or moved in: everything in it is new. */
        if (known && e.type == TRL_FIM_DIR)
            sweep(f, path, false);
        walk(f, path, f->baselined[r]);
        return;
    }
    if (known && e.type == TRL_FIM_DIR && !S_ISDIR(st.st_mode)) {
        /* A directory replaced by a file: its former content is gone. */
        sweep(f, path, true);
    }
    visit(f, path, &st, f->baselined[r]);
}

static void run_full_scan(struct trl_fim *f)
{
    f->gen++;
    for (size_t i = 0; i < f->nroots; i++) {
        struct stat st;
        if (lstat(f->roots[i], &st) != 0)
            continue;
        walk(f, f->roots[i], f->baselined[i]);
        if (!S_ISDIR(st.st_mode)) {
            /* A single file: watch its directory for it being replaced or removed. */
            char *dir = trl_xstrdup(f->roots[i]);
            char *s = strrchr(dir, '/');
            s[s == dir ? 1 : 0] = '\0';
            watch(f, dir);
            free(dir);
        }
    }
    sweep(f, NULL, false);
    for (size_t i = 0; i < f->nroots; i++) {
        if (f->baselined[i])
            continue;
        f->baselined[i] = true;
        txn(f);
        trl_fim_db_add_root(f->db, f->roots[i]);
        trl_info(LOG_COMP, "baseline built path=%s", f->roots[i]);
    }
    f->st.scans++;
    f->scan_now = false;
    f->next_scan_ns = trl_mono_ns() + f->interval_ns;
}

/* ---- inotify ------------------------------------------------------------------------------- */

static void pend(struct trl_fim *f, const char *path, int64_t now)
{
    size_t n = strlen(path);
    if (trl_strmap_get(f->pending, path, n))
        return;
    struct pend *p = trl_xmalloc(sizeof(*p) + n + 1);
    p->due = now + f->settle_ns;
    memcpy(p->path, path, n + 1);
    trl_strmap_put(f->pending, path, n, p);
}

static int drain_inotify(struct trl_fim *f, int64_t now)
{
    if (f->ifd < 0)
        return 0;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(f->ifd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0)
            return n < 0 ? -errno : 0;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                f->st.overflows++;
                trl_warn(LOG_COMP, "inotify queue overflow: scanning everything");
                f->scan_now = true;
                continue;
            }
            if (ev->wd < 0 || (size_t)ev->wd >= f->wdcap || !f->wdpath[ev->wd])
                continue;
            if (ev->mask & IN_IGNORED) {
                free(f->wdpath[ev->wd]);
                f->wdpath[ev->wd] = NULL;
                f->st.watches--;
                continue;
            }
            if (ev->len && ev->name[0]) {
                char *path = join(f->wdpath[ev->wd], ev->name);
                pend(f, path, now);
                free(path);
            } else {
                pend(f, f->wdpath[ev->wd], now);
            }
        }
    }
}

struct due_ctx {
    int64_t now;
    char **paths;
    size_t n, cap;
};

static bool take_due(void *value, void *ud)
{
    struct pend *p = value;
    struct due_ctx *c = ud;
    if (p->due > c->now)
        return false;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->paths = trl_xrealloc(c->paths, c->cap * sizeof(*c->paths));
    }
    c->paths[c->n++] = trl_xstrdup(p->path);
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void process_pending(struct trl_fim *f, int64_t now)
{
    struct due_ctx c = {.now = now};
    trl_strmap_remove_if(f->pending, take_due, &c, free);
    /* Parents before children, so a new directory is walked once, as a whole. */
    if (c.n > 1)
        qsort(c.paths, c.n, sizeof(*c.paths), cmp_str);
    for (size_t i = 0; i < c.n; i++) {
        check_path(f, c.paths[i]);
        free(c.paths[i]);
    }
    free(c.paths);
}

/* ---- public -------------------------------------------------------------------------------- */

int trl_fim_create(const struct trl_fim_config *cfg, struct trl_fim **out)
{
    *out = NULL;
    if (!cfg->db_path || cfg->scan_interval_s < 0 || cfg->settle_ms < 0)
        return TRL_EINVAL;
    struct trl_fim *f = trl_xcalloc(1, sizeof(*f));
    f->max_hash = cfg->max_hash_bytes ? cfg->max_hash_bytes : 64ull << 20;
    f->interval_ns = (int64_t)(cfg->scan_interval_s ? cfg->scan_interval_s : 3600) * TRL_NS_PER_SEC;
    f->settle_ns = (int64_t)(cfg->settle_ms ? cfg->settle_ms : 200) * 1000000;
    f->pending = trl_strmap_create();
    f->done_roots = trl_strmap_create();
    f->scan_now = true;
    f->ifd = -1;
    int rc = trl_fim_db_open(cfg->db_path, &f->db);
    if (rc < 0)
        goto fail;
    rc = trl_fim_db_load_roots(f->db, load_root, f, &f->gen);
    if (rc < 0)
        goto fail;
    /* The baseline database lives in the state directory, which may well be monitored. */
    size_t dl = strlen(cfg->db_path);
    char *pat = trl_xmalloc(dl + 2);
    memcpy(pat, cfg->db_path, dl);
    memcpy(pat + dl, "*", 2);
    f->ignores = trl_xmalloc(sizeof(*f->ignores));
    f->ignores[f->nignores++] = pat;
    if (!cfg->no_realtime) {
        f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (f->ifd < 0)
            trl_warn(LOG_COMP, "inotify unavailable, periodic scans only err=\"%s\"",
                     strerror(errno));
    }
    *out = f;
    return 0;
fail:
    trl_fim_destroy(f);
    return rc;
}

void trl_fim_trim(struct trl_fim *f)
{
    if (f)
        trl_fim_db_trim(f->db);
}

void trl_fim_destroy(struct trl_fim *f)
{
    if (!f)
        return;
    txn_end(f);
    trl_fim_db_close(f->db);
    for (size_t i = 0; i < f->nroots; i++)
        free(f->roots[i]);
    free(f->roots);
    free(f->baselined);
    for (size_t i = 0; i < f->nignores; i++)
        free(f->ignores[i]);
    free(f->ignores);
    trl_strmap_destroy(f->pending, free);
    trl_strmap_destroy(f->done_roots, NULL);
    for (size_t i = 0; i < f->wdcap; i++)
        free(f->wdpath[i]);
    free(f->wdpath);
    if (f->ifd >= 0)
        close(f->ifd);
    free(f);
}

int trl_fim_add_path(struct trl_fim *f, const char *path)
{
    if (!path || path[0] != '/')
        return TRL_EINVAL;
    char *p = trl_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    f->roots = trl_xrealloc(f->roots, (f->nroots + 1) * sizeof(*f->roots));
    f->baselined = trl_xrealloc(f->baselined, (f->nroots + 1) * sizeof(*f->baselined));
    f->baselined[f->nroots] = trl_strmap_get(f->done_roots, p, n) != NULL;
    f->roots[f->nroots++] = p;
    f->scan_now = true;
    return 0;
}

int trl_fim_ignore(struct trl_fim *f, const char *pattern)
{
    if (!pattern || !*pattern)
        return TRL_EINVAL;
    f->ignores = trl_xrealloc(f->ignores, (f->nignores + 1) * sizeof(*f->ignores));
    f->ignores[f->nignores++] = trl_xstrdup(pattern);
    return 0;
}

int trl_fim_fd(const struct trl_fim *f)
{
    return f->ifd;
}

static void min_due(const char *key, size_t len, void *value, void *ud)
{
    (void)key;
    (void)len;
    const struct pend *p = value;
    int64_t *due = ud;
    if (p->due < *due)
        *due = p->due;
}

int trl_fim_timeout_ms(const struct trl_fim *f)
{
    if (f->scan_now)
        return 0;
    int64_t due = f->next_scan_ns;
    trl_strmap_each(f->pending, min_due, &due);
    int64_t now = trl_mono_ns();
    if (due <= now)
        return 0;
    return (int)TRL_MIN((due - now + 999999) / 1000000, (int64_t)INT_MAX);
}

static void begin_call(struct trl_fim *f, struct trl_arena *arena, trl_agent_event_fn cb, void *ud)
{
    f->arena = arena;
    f->cb = cb;
    f->ud = ud;
    f->count = 0;
}

int trl_fim_poll(struct trl_fim *f, struct trl_arena *arena, trl_agent_event_fn cb, void *ud)
{
    begin_call(f, arena, cb, ud);
    int64_t now = trl_mono_ns();
    int rc = drain_inotify(f, now);
    if (f->scan_now || now >= f->next_scan_ns) {
        /* A full scan covers every pending path too. */
        struct due_ctx c = {.now = INT64_MAX};
        trl_strmap_remove_if(f->pending, take_due, &c, free);
        for (size_t i = 0; i < c.n; i++)
            free(c.paths[i]);
        free(c.paths);
        run_full_scan(f);
    } else {
        process_pending(f, now);
    }
    txn_end(f);
    return rc < 0 ? rc : f->count;
}

int trl_fim_scan(struct trl_fim *f, struct trl_arena *arena, trl_agent_event_fn cb, void *ud)
{
    begin_call(f, arena, cb, ud);
    run_full_scan(f);
    txn_end(f);
    return f->count;
}

void trl_fim_stats(const struct trl_fim *f, struct trl_fim_stats *st)
{
    *st = f->st;
    uint64_t n = 0;
    trl_fim_db_count(f->db, &n);
    st->entries = n;
}
