#include "agent/utmp.h"

#include "agent/agent_event.h"
#include "agent/offsets.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmp.h>

#define LOG_COMP  "utmp"
#define REC       sizeof(struct utmp)
#define CHUNK     64 /* records per read */
#define TTY_SLOTS 256

struct ufile {
    char *path;
    bool btmp;
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t off;      /* just past the last record delivered */
    uint64_t seen;     /* size at the last look */
    int64_t last_us;   /* time of the newest record delivered */
    int64_t filter_us; /* after truncation or recreation: records up to this time are old */
    bool opened_once;  /* the saved state applies to the first open only */
};

/* Which user logged in on which tty, so that a logout record without a name can be attributed. */
struct tty_user {
    char line[UT_LINESIZE + 1];
    char user[UT_NAMESIZE + 1];
};

struct trl_utmp {
    char *state_path;
    bool read_existing;
    struct ufile files[2];
    size_t nfiles;
    struct trl_offsets saved;
    bool dirty;
    struct tty_user ttys[TTY_SLOTS];
    size_t tty_next;
};

static size_t field_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    return n;
}

static int64_t rec_time_us(const struct utmp *r)
{
    return (int64_t)r->ut_tv.tv_sec * 1000000 + (int64_t)r->ut_tv.tv_usec;
}

static void set_source(struct trl_event *ev, const struct utmp *r)
{
    uint32_t a[4];
    memcpy(a, r->ut_addr_v6, sizeof(a));
    if (a[0] || a[1] || a[2] || a[3]) {
        if (!a[1] && !a[2] && !a[3])
            trl_agent_set_ip(ev, TRL_F_SOURCE_IP, AF_INET, &a[0]);
        else
            trl_agent_set_ip(ev, TRL_F_SOURCE_IP, AF_INET6, a);
    }
    size_t hl = field_len(r->ut_host, sizeof(r->ut_host));
    if (hl) {
        trl_event_set(ev, TRL_F_SOURCE_ADDRESS, r->ut_host, hl);
        if (!trl_event_has(ev, TRL_F_SOURCE_IP) && trl_is_ip(r->ut_host, hl))
            trl_event_set(ev, TRL_F_SOURCE_IP, r->ut_host, hl);
    }
    size_t len;
    const char *ip = trl_event_get(ev, TRL_F_SOURCE_IP, &len);
    if (ip)
        trl_event_add_unique(ev, TRL_F_RELATED_IP, ip, len);
}

static void set_message(struct trl_event *ev, const char *what)
{
    size_t ul = 0, tl = 0, sl = 0;
    const char *u = trl_event_get(ev, TRL_F_USER_NAME, &ul);
    const char *t = trl_event_get_named(ev, "utmp.tty", 8, &tl);
    const char *s = trl_event_get(ev, TRL_F_SOURCE_ADDRESS, &sl);
    char *m = trl_arena_sprintf(ev->arena, "%.*s%s%s%s%.*s%s%.*s", (int)ul, u ? u : "",
                                u ? " " : "", what, t ? " on " : "", (int)tl, t ? t : "",
                                s ? " from " : "", (int)sl, s ? s : "");
    trl_event_set_ref(ev, TRL_F_MESSAGE, m, strlen(m));
}

struct trl_event *trl_utmp_record_event(struct trl_arena *arena, const void *rec, size_t len,
                                        bool from_btmp, const char *path)
{
    struct utmp r;
    if (len < REC)
        return NULL;
    memcpy(&r, rec, REC);
    size_t ul = field_len(r.ut_user, sizeof(r.ut_user));
    size_t ll = field_len(r.ut_line, sizeof(r.ut_line));
    const char *action = NULL, *what = NULL;
    if (from_btmp) {
        if (r.ut_type == EMPTY || (!ul && !field_len(r.ut_host, sizeof(r.ut_host))))
            return NULL;
        action = "logon-failed";
        what = "failed to log in";
    } else if (r.ut_type == USER_PROCESS && ul) {
        action = "logged-in";
        what = "logged in";
    } else if (r.ut_type == DEAD_PROCESS && ll) {
        action = "logged-out";
        what = "logged out";
    } else if (r.ut_type == BOOT_TIME) {
        action = "system-boot";
        what = "system boot";
    } else if (r.ut_type == RUN_LVL && ul == 8 && memcmp(r.ut_user, "shutdown", 8) == 0) {
        action = "system-shutdown";
        what = "system shutdown";
        ul = 0;
    } else {
        return NULL;
    }
    int64_t ts = r.ut_tv.tv_sec > 0 ? rec_time_us(&r) * 1000 : trl_now_ns();
    struct trl_event *ev = trl_agent_event(arena, "agent.login", ts);
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, action);
    trl_event_set_str(ev, TRL_F_LOG_FILE_PATH, path);
    if (from_btmp) {
        trl_event_add(ev, TRL_F_EVENT_CATEGORY, "authentication", 14);
        trl_event_add(ev, TRL_F_EVENT_TYPE, "start", 5);
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, "failure", 7);
    } else if (r.ut_type == USER_PROCESS) {
        trl_event_add(ev, TRL_F_EVENT_CATEGORY, "authentication", 14);
        trl_event_add(ev, TRL_F_EVENT_CATEGORY, "session", 7);
        trl_event_add(ev, TRL_F_EVENT_TYPE, "start", 5);
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, "success", 7);
    } else if (r.ut_type == DEAD_PROCESS) {
        trl_event_add(ev, TRL_F_EVENT_CATEGORY, "session", 7);
        trl_event_add(ev, TRL_F_EVENT_TYPE, "end", 3);
    } else {
        trl_event_add(ev, TRL_F_EVENT_CATEGORY, "host", 4);
        trl_event_add(ev, TRL_F_EVENT_TYPE, r.ut_type == BOOT_TIME ? "start" : "end",
                      r.ut_type == BOOT_TIME ? 5 : 3);
    }
    if (ul) {
        trl_event_set(ev, TRL_F_USER_NAME, r.ut_user, ul);
        trl_event_add_unique(ev, TRL_F_RELATED_USER, r.ut_user, ul);
    }
    if (ll && r.ut_type != BOOT_TIME && r.ut_type != RUN_LVL)
        trl_event_set_named(ev, "utmp.tty", 8, r.ut_line, ll);
    if (r.ut_pid > 0 && r.ut_type != BOOT_TIME && r.ut_type != RUN_LVL)
        trl_event_set_int(ev, TRL_F_PROCESS_PID, r.ut_pid);
    if (r.ut_type == BOOT_TIME || r.ut_type == RUN_LVL) {
        size_t hl = field_len(r.ut_host, sizeof(r.ut_host));
        if (hl)
            trl_event_set_named(ev, "host.os.kernel", 14, r.ut_host, hl);
    } else {
        set_source(ev, &r);
    }
    set_message(ev, what);
    return ev;
}

int trl_utmp_create(const struct trl_utmp_config *cfg, struct trl_utmp **out)
{
    *out = NULL;
    struct trl_utmp *u = trl_xcalloc(1, sizeof(*u));
    u->state_path = cfg->state_path ? trl_xstrdup(cfg->state_path) : NULL;
    u->read_existing = cfg->read_existing;
    const char *paths[2] = {cfg->wtmp_path ? cfg->wtmp_path : "/var/log/wtmp",
                            cfg->btmp_path ? cfg->btmp_path : "/var/log/btmp"};
    for (int i = 0; i < 2; i++) {
        if (!*paths[i])
            continue;
        if (paths[i][0] != '/') {
            trl_utmp_destroy(u);
            return TRL_EINVAL;
        }
        struct ufile *f = &u->files[u->nfiles++];
        f->path = trl_xstrdup(paths[i]);
        f->btmp = i == 1;
        f->fd = -1;
    }
    if (u->state_path) {
        int rc = trl_offsets_load(u->state_path, &u->saved);
        if (rc < 0)
            trl_warn(LOG_COMP, "ignoring unreadable state path=%s err=\"%s\"", u->state_path,
                     rc == TRL_EINVAL ? "damaged" : strerror(-rc));
    }
    *out = u;
    return 0;
}

void trl_utmp_destroy(struct trl_utmp *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nfiles; i++) {
        if (u->files[i].fd >= 0)
            close(u->files[i].fd);
        free(u->files[i].path);
    }
    trl_offsets_free(&u->saved);
    free(u->state_path);
    free(u);
}

static void tty_remember(struct trl_utmp *u, const struct utmp *r)
{
    size_t ll = field_len(r->ut_line, sizeof(r->ut_line));
    size_t ul = field_len(r->ut_user, sizeof(r->ut_user));
    if (!ll || !ul)
        return;
    struct tty_user *slot = NULL;
    for (size_t i = 0; i < TTY_SLOTS && !slot; i++) {
        if (strlen(u->ttys[i].line) == ll && memcmp(u->ttys[i].line, r->ut_line, ll) == 0)
            slot = &u->ttys[i];
    }
    if (!slot)
        slot = &u->ttys[u->tty_next++ % TTY_SLOTS];
    memcpy(slot->line, r->ut_line, ll);
    slot->line[ll] = '\0';
    memcpy(slot->user, r->ut_user, ul);
    slot->user[ul] = '\0';
}

static void tty_attribute_logout(struct trl_utmp *u, const struct utmp *r, struct trl_event *ev)
{
    size_t ll = field_len(r->ut_line, sizeof(r->ut_line));
    for (size_t i = 0; i < TTY_SLOTS; i++) {
        struct tty_user *t = &u->ttys[i];
        if (!t->line[0] || strlen(t->line) != ll || memcmp(t->line, r->ut_line, ll) != 0)
            continue;
        if (!trl_event_has(ev, TRL_F_USER_NAME)) {
            trl_event_set_str(ev, TRL_F_USER_NAME, t->user);
            trl_event_add_unique(ev, TRL_F_RELATED_USER, t->user, strlen(t->user));
            set_message(ev, "logged out");
        }
        t->line[0] = '\0';
        return;
    }
}

static struct trl_event *tamper_event(struct trl_arena *arena, const struct ufile *f,
                                      const char *action, uint64_t before, uint64_t after)
{
    struct trl_event *ev = trl_agent_event(arena, "agent.login", trl_now_ns());
    trl_event_set_str(ev, TRL_F_EVENT_ACTION, action);
    trl_event_add(ev, TRL_F_EVENT_CATEGORY, "file", 4);
    bool del = strcmp(action, "log-deleted") == 0;
    trl_event_add(ev, TRL_F_EVENT_TYPE, del ? "deletion" : "change", del ? 8 : 6);
    trl_event_set_str(ev, TRL_F_FILE_PATH, f->path);
    trl_event_set_str(ev, TRL_F_LOG_FILE_PATH, f->path);
    trl_agent_set_u64(ev, TRL_F_FILE_SIZE, after);
    trl_agent_set_named_u64(ev, "utmp.previous_size", before);
    char *m = trl_arena_sprintf(arena, "%s %s: size %" PRIu64 " -> %" PRIu64, f->path,
                                del ? "deleted" : "truncated", before, after);
    trl_event_set_ref(ev, TRL_F_MESSAGE, m, strlen(m));
    trl_warn(LOG_COMP, "%s path=%s before=%" PRIu64 " after=%" PRIu64, action, f->path, before,
             after);
    return ev;
}

/* Reads complete records from f->off on. Returns 1 when the callback asked to stop. */
static int read_records(struct trl_utmp *u, struct ufile *f, struct trl_arena *arena,
                        trl_utmp_cb cb, void *ud, int *count)
{
    _Static_assert(REC * CHUNK <= 65536, "chunk fits the stack buffer");
    unsigned char buf[REC * CHUNK];
    for (;;) {
        ssize_t n = pread(f->fd, buf, sizeof(buf), (off_t)f->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            trl_warn(LOG_COMP, "read failed path=%s err=\"%s\"", f->path, strerror(errno));
            return 0;
        }
        size_t nrec = (size_t)n / REC;
        if (nrec == 0)
            return 0;
        for (size_t i = 0; i < nrec; i++) {
            const unsigned char *p = buf + i * REC;
            struct utmp r;
            memcpy(&r, p, REC);
            f->off += REC;
            u->dirty = true;
            int64_t t = rec_time_us(&r);
            if (f->filter_us && t <= f->filter_us)
                continue;
            f->filter_us = 0;
            if (t > f->last_us)
                f->last_us = t;
            struct trl_event *ev = trl_utmp_record_event(arena, p, REC, f->btmp, f->path);
            if (!f->btmp && r.ut_type == USER_PROCESS)
                tty_remember(u, &r);
            if (!ev)
                continue;
            if (!f->btmp && r.ut_type == DEAD_PROCESS)
                tty_attribute_logout(u, &r, ev);
            (*count)++;
            if (cb(ud, ev))
                return 1;
        }
    }
}

/* Opens the file now at f->path; the first time, from the position in the saved state. */
static int open_file(struct trl_utmp *u, struct ufile *f, struct trl_arena *arena, trl_utmp_cb cb,
                     void *ud, int *count)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    uint64_t size = (uint64_t)st.st_size;
    f->seen = size;
    bool first = !f->opened_once;
    f->opened_once = true;
    if (!first) {
        /* A new file under the name (rotated, or deleted and recreated): read it whole, but
         * only what is newer than the last record seen. */
        f->off = 0;
        f->filter_us = f->last_us;
        u->dirty = true;
        return 0;
    }
    struct trl_offset_entry *e = NULL;
    for (size_t i = 0; i < u->saved.n && !e; i++) {
        if (strcmp(u->saved.v[i].path, f->path) == 0)
            e = &u->saved.v[i];
    }
    if (!e) {
        f->off = u->read_existing ? 0 : size - size % REC;
        u->dirty = true;
        return 0;
    }
    f->last_us = (int64_t)e->aux;
    if (e->dev == (uint64_t)st.st_dev && e->ino == (uint64_t)st.st_ino && e->offset <= size) {
        f->off = e->offset;
        return 0;
    }
    /* Truncated, or replaced, while the agent was down. */
    f->off = 0;
    f->filter_us = f->last_us;
    u->dirty = true;
    if (e->dev == (uint64_t)st.st_dev && e->ino == (uint64_t)st.st_ino) {
        (*count)++;
        return cb(ud, tamper_event(arena, f, "log-truncated", e->offset, size)) ? 1 : 0;
    }
    return 0;
}

/* Finishes with the descriptor open on f: reads what is left, reports a deletion. */
static int retire_file(struct trl_utmp *u, struct ufile *f, struct trl_arena *arena, trl_utmp_cb cb,
                       void *ud, int *count)
{
    if (read_records(u, f, arena, cb, ud, count))
        return 1;
    struct stat st;
    bool deleted = fstat(f->fd, &st) == 0 && st.st_nlink == 0;
    close(f->fd);
    f->fd = -1;
    if (deleted) {
        (*count)++;
        if (cb(ud, tamper_event(arena, f, "log-deleted", (uint64_t)st.st_size, 0)))
            return 1;
    }
    return 0;
}

static int poll_file(struct trl_utmp *u, struct ufile *f, struct trl_arena *arena, trl_utmp_cb cb,
                     void *ud, int *count)
{
    struct stat st;
    bool exists = stat(f->path, &st) == 0;
    if (f->fd >= 0 && (!exists || st.st_dev != f->dev || st.st_ino != f->ino)) {
        if (retire_file(u, f, arena, cb, ud, count))
            return 1;
    }
    if (f->fd < 0) {
        if (!exists)
            return 0;
        if (open_file(u, f, arena, cb, ud, count))
            return 1;
        if (f->fd < 0)
            return 0;
    }
    if (fstat(f->fd, &st) == 0) {
        uint64_t size = (uint64_t)st.st_size;
        if (size < f->off || size < f->seen) {
            uint64_t before = TRL_MAX(f->off, f->seen);
            f->seen = size;
            f->off = 0;
            f->filter_us = f->last_us;
            u->dirty = true;
            (*count)++;
            if (cb(ud, tamper_event(arena, f, "log-truncated", before, size)))
                return 1;
        }
        f->seen = size;
    }
    return read_records(u, f, arena, cb, ud, count);
}

int trl_utmp_poll(struct trl_utmp *u, struct trl_arena *arena, trl_utmp_cb cb, void *ud)
{
    int count = 0;
    for (size_t i = 0; i < u->nfiles; i++) {
        if (poll_file(u, &u->files[i], arena, cb, ud, &count))
            break;
    }
    return count;
}

int trl_utmp_commit(struct trl_utmp *u)
{
    if (!u->dirty || !u->state_path)
        return 0;
    struct trl_offsets o = {0};
    for (size_t i = 0; i < u->nfiles; i++) {
        const struct ufile *f = &u->files[i];
        if (f->fd >= 0) {
            trl_offsets_add(&o, f->path, (uint64_t)f->dev, (uint64_t)f->ino, f->off,
                            (uint64_t)f->last_us);
            continue;
        }
        /* A file not there yet since the start keeps its saved position for when it appears. */
        for (size_t k = 0; k < u->saved.n && !f->opened_once; k++) {
            const struct trl_offset_entry *e = &u->saved.v[k];
            if (strcmp(e->path, f->path) == 0)
                trl_offsets_add(&o, e->path, e->dev, e->ino, e->offset, e->aux);
        }
    }
    int rc = trl_offsets_save(u->state_path, &o);
    trl_offsets_free(&o);
    if (rc < 0) {
        trl_error(LOG_COMP, "cannot save state path=%s err=\"%s\"", u->state_path, strerror(-rc));
        return rc;
    }
    u->dirty = false;
    return 0;
}
