/*
 * Snare Linux audit records ("LinuxKAudit").
 *
 * The agent merges the audit records of one event into one line of "name,value[,value...]"
 * tokens: a header (event,<syscall>,<date>  sequence  uid,<id>,<name>  euid  gid  egid
 * process,<pid>,<exe>  return,<code>,<yes|no>) followed by the raw audit key/values of the records
 * flattened to "key,value". Keys repeat (the header's uid and the SYSCALL record's uid, one
 * inode/mode per PATH item, the syscall's a0..a3 and then the EXECVE record's a0..aN), so the
 * first value of a key wins, and argument tokens after the "key" token are the EXECVE arguments.
 * Values that auditd hex-encodes (proctitle, paths with spaces) are decoded.
 *
 * SNARE V2 sends {"Event":{"System":{...header...},"Data":{...key/values...}}} with the same names.
 *
 * Fields without an ECS home are kept as auditd.data.<key>, the names the audit record parser uses.
 * Dates without a zone ("2018-05-15 00:00:01", "Jun 20 06:10:03") are taken as UTC.
 */
#include "formats/snare_internal.h"
#include "formats/vendor_ecs.h"
#include "formats/vendor_time.h"

#include <jansson.h>
#include <string.h>

#define DATA_PFX "auditd.data."
#define KEY_MAX  64
#define ARGS_MAX 256

enum owned {
    OWN_PNAME = 1, /* process.name set from this record (it replaces a syslog tag's) */
    OWN_PID = 2,
};

struct lctx {
    struct trl_event *ev;
    unsigned owned;
    unsigned items; /* PATH items seen */
    bool after_key;
    bool have_args;
    const char *syscall;
    size_t syscall_len;
    struct trl_str args[ARGS_MAX];
    size_t nargs;
};

static bool is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static unsigned hexval(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

/* auditd writes a value as upper-case hex when it holds spaces or control characters. Decodes such
 * a value into the arena; NUL bytes (argument separators in proctitle) are allowed when nul_ok.
 * Returns false, leaving the value as it is, when it is not hex or does not decode to text. */
static bool decode_hex(struct trl_event *ev, const char *p, size_t len, bool nul_ok,
                       const char **out, size_t *out_len)
{
    if (len < 2 || len % 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_upper_hex(p[i]))
            return false;
    }
    char *buf = trl_arena_alloc(ev->arena, len / 2 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i += 2) {
        unsigned char c = (unsigned char)(hexval(p[i]) << 4 | hexval(p[i + 1]));
        if ((c == 0 && !nul_ok) || (c != 0 && c < 0x20 && c != '\t') || c == 0x7f)
            return false;
        buf[n++] = (char)c;
    }
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return n > 0;
}

static void decoded(struct trl_event *ev, const char **p, size_t *len)
{
    const char *d;
    size_t dl;
    if (decode_hex(ev, *p, *len, false, &d, &dl)) {
        *p = d;
        *len = dl;
    }
}

static bool is_key_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* auditd.data.<key> (first value wins), for keys of plain characters. */
static void set_data(struct trl_event *ev, const char *key, size_t klen, const char *v, size_t vlen)
{
    if (klen == 0 || klen > KEY_MAX || vlen == 0 || !trl_vendor_room(ev))
        return;
    char name[sizeof(DATA_PFX) + KEY_MAX];
    size_t plen = sizeof(DATA_PFX) - 1;
    memcpy(name, DATA_PFX, plen);
    for (size_t i = 0; i < klen; i++) {
        if (!is_key_char(key[i]))
            return;
        name[plen + i] = key[i];
    }
    size_t old;
    if (!trl_event_get_named(ev, name, plen + klen, &old))
        trl_event_set_named(ev, name, plen + klen, v, vlen);
}

static void set_named_new(struct trl_event *ev, const char *name, const char *v, size_t len)
{
    size_t old;
    if (len > 0 && !trl_event_get_named(ev, name, strlen(name), &old))
        trl_snare_set_named(ev, name, v, len);
}

/* The numeric id and the name of uid/euid/gid/egid. 4294967295 is audit's "unset". */
static void set_ids(struct lctx *c, const char *kind, const char *v, size_t len)
{
    if (len == 0 || trl_str_eq((struct trl_str){v, len}, "4294967295") ||
        trl_str_eq((struct trl_str){v, len}, "unknown") ||
        trl_str_eq((struct trl_str){v, len}, "null"))
        return;
    bool num = trl_snare_is_digits(v, len);
    struct trl_event *ev = c->ev;
    if (!strcmp(kind, "uid")) {
        trl_snare_set_new(ev, num ? TRL_F_USER_ID : TRL_F_USER_NAME, v, len);
        if (!num && trl_vendor_room(ev))
            trl_event_add_unique(ev, TRL_F_RELATED_USER, v, len);
    } else if (!strcmp(kind, "euid")) {
        trl_snare_set_new(ev, num ? TRL_F_USER_EFFECTIVE_ID : TRL_F_USER_EFFECTIVE_NAME, v, len);
        if (!num && trl_vendor_room(ev))
            trl_event_add_unique(ev, TRL_F_RELATED_USER, v, len);
    } else if (!strcmp(kind, "gid")) {
        trl_snare_set_new(ev, num ? TRL_F_GROUP_ID : TRL_F_GROUP_NAME, v, len);
    } else {
        set_named_new(ev, num ? "user.effective.group.id" : "user.effective.group.name", v, len);
    }
}

static void set_exe(struct lctx *c, const char *v, size_t len)
{
    decoded(c->ev, &v, &len);
    if (len > 0 && !trl_str_eq((struct trl_str){v, len}, "null"))
        trl_snare_set_new(c->ev, TRL_F_PROCESS_EXECUTABLE, v, len);
}

static void set_pid(struct lctx *c, const char *v, size_t len)
{
    if (!trl_snare_is_digits(v, len) || len > 10)
        return;
    if (!(c->owned & OWN_PID)) {
        trl_event_set(c->ev, TRL_F_PROCESS_PID, v, len);
        c->owned |= OWN_PID;
    }
}

static void set_outcome(struct trl_event *ev, const char *v, size_t len, bool replace)
{
    const char *o = NULL;
    if (trl_strcase_eq(v, len, "yes", 3) || trl_strcase_eq(v, len, "success", 7))
        o = "success";
    else if (trl_strcase_eq(v, len, "no", 2) || trl_strcase_eq(v, len, "failed", 6))
        o = "failure";
    if (o && (replace || !trl_event_has(ev, TRL_F_EVENT_OUTCOME)))
        trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, o);
}

static void set_time(struct trl_event *ev, const char *v, size_t len)
{
    int64_t ns;
    if (trl_vtime_parse_any(v, len, trl_snare_ref_ns(ev), &ns) ||
        trl_vtime_parse_pattern("MMM d HH:mm:ss", 14, v, len, trl_snare_ref_ns(ev), &ns))
        ev->timestamp_ns = ns;
}

static void set_proctitle(struct lctx *c, const char *v, size_t len)
{
    struct trl_event *ev = c->ev;
    if (trl_event_has(ev, TRL_F_PROCESS_TITLE) || len == 0)
        return;
    const char *d;
    size_t dl;
    if (decode_hex(ev, v, len, true, &d, &dl)) {
        /* The arguments are NUL-separated: they give process.args when no EXECVE record did. */
        char *t = (char *)d;
        size_t start = 0;
        for (size_t i = 0; i <= dl; i++) {
            if (i < dl && t[i] != '\0')
                continue;
            if (!c->have_args && c->nargs < ARGS_MAX && i > start)
                c->args[c->nargs++] = (struct trl_str){t + start, i - start};
            if (i < dl)
                t[i] = ' ';
            start = i + 1;
        }
        v = d;
        len = dl;
    }
    trl_event_set(ev, TRL_F_PROCESS_TITLE, v, len);
}

/* aN tokens after the "key" token are the EXECVE record's arguments, in order. */
static bool take_arg(struct lctx *c, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (!c->after_key || nlen < 2 || name[0] != 'a' || !trl_snare_is_digits(name + 1, nlen - 1))
        return false;
    if (!c->have_args) {
        c->have_args = true;
        c->nargs = 0; /* arguments taken from proctitle give way to the real ones */
    }
    decoded(c->ev, &v, &vlen);
    if (c->nargs < ARGS_MAX)
        c->args[c->nargs++] = (struct trl_str){v, vlen};
    return true;
}

/* Splits "a,b,c" into at most max values (the last keeps any further commas). */
static size_t values(const char *v, size_t len, struct trl_str *out, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len && k < max; i++) {
        if (i == len || (v[i] == ',' && k + 1 < max)) {
            out[k++] = (struct trl_str){v + start, i - start};
            start = i + 1;
        }
    }
    return k;
}

#define NAME_IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)

static void token(struct lctx *c, const char *name, size_t nlen, const char *v, size_t vlen)
{
    struct trl_event *ev = c->ev;
    struct trl_str val[3];
    if (NAME_IS("event")) {
        size_t n = values(v, vlen, val, 2);
        if (n >= 1 && val[0].len && !trl_event_has(ev, TRL_F_AUDITD_SYSCALL)) {
            trl_event_set(ev, TRL_F_AUDITD_SYSCALL, val[0].ptr, val[0].len);
            c->syscall = val[0].ptr;
            c->syscall_len = val[0].len;
        }
        if (n == 2)
            set_time(ev, val[1].ptr, val[1].len);
    } else if (NAME_IS("sequence")) {
        if (trl_snare_is_digits(v, vlen) && vlen <= 20)
            trl_snare_set_new(ev, TRL_F_AUDITD_SEQUENCE, v, vlen);
    } else if (NAME_IS("uid") || NAME_IS("euid") || NAME_IS("gid") || NAME_IS("egid")) {
        char kind[5];
        memcpy(kind, name, nlen);
        kind[nlen] = '\0';
        size_t n = values(v, vlen, val, 2);
        for (size_t i = 0; i < n; i++)
            set_ids(c, kind, val[i].ptr, val[i].len);
    } else if (NAME_IS("process")) {
        size_t n = values(v, vlen, val, 2);
        if (n == 2) {
            set_pid(c, val[0].ptr, val[0].len);
            set_exe(c, val[1].ptr, val[1].len);
        } else if (n == 1) {
            set_exe(c, val[0].ptr, val[0].len);
        }
    } else if (NAME_IS("exe")) {
        set_exe(c, v, vlen);
    } else if (NAME_IS("comm")) {
        decoded(ev, &v, &vlen);
        if (vlen && !(c->owned & OWN_PNAME)) {
            trl_event_set(ev, TRL_F_PROCESS_NAME, v, vlen);
            c->owned |= OWN_PNAME;
        }
    } else if (NAME_IS("pid")) {
        set_pid(c, v, vlen);
    } else if (NAME_IS("ppid")) {
        if (trl_snare_is_digits(v, vlen) && vlen <= 10)
            trl_snare_set_new(ev, TRL_F_PROCESS_PARENT_PID, v, vlen);
    } else if (NAME_IS("return")) {
        size_t n = values(v, vlen, val, 2);
        if (n >= 1)
            set_data(ev, "exit", 4, val[0].ptr, val[0].len);
        if (n == 2)
            set_outcome(ev, val[1].ptr, val[1].len, false);
    } else if (NAME_IS("success")) {
        set_outcome(ev, v, vlen, true);
    } else if (NAME_IS("syscall")) {
        size_t n = values(v, vlen, val, 2);
        if (n == 2 && val[1].len && !trl_event_has(ev, TRL_F_AUDITD_SYSCALL)) {
            trl_event_set(ev, TRL_F_AUDITD_SYSCALL, val[1].ptr, val[1].len);
            c->syscall = val[1].ptr;
            c->syscall_len = val[1].len;
        }
        if (n >= 1)
            set_data(ev, "syscall", 7, val[0].ptr, val[0].len);
    } else if (NAME_IS("name")) {
        decoded(ev, &v, &vlen);
        if (vlen > 0 && v[0] == '/')
            trl_snare_set_new(ev, TRL_F_FILE_PATH, v, vlen);
    } else if (NAME_IS("cwd")) {
        decoded(ev, &v, &vlen);
        trl_snare_set_new(ev, TRL_F_PROCESS_WORKING_DIRECTORY, v, vlen);
    } else if (NAME_IS("key")) {
        c->after_key = true;
        if (vlen && !trl_str_eq((struct trl_str){v, vlen}, "(null)") &&
            !trl_str_eq((struct trl_str){v, vlen}, "null"))
            trl_snare_set_new(ev, TRL_F_AUDITD_KEY, v, vlen);
    } else if (NAME_IS("proctitle")) {
        set_proctitle(c, v, vlen);
    } else if (NAME_IS("tty")) {
        trl_snare_set_new(ev, TRL_F_AUDITD_TTY, v, vlen);
    } else if (NAME_IS("ses")) {
        trl_snare_set_new(ev, TRL_F_AUDITD_SES, v, vlen);
    } else if (NAME_IS("auid")) {
        trl_snare_set_new(ev, TRL_F_AUDITD_AUID, v, vlen);
    } else if (NAME_IS("item")) {
        c->items++;
    } else if (c->items == 1 &&
               (NAME_IS("inode") || NAME_IS("mode") || NAME_IS("ouid") || NAME_IS("ogid"))) {
        enum trl_field f = NAME_IS("inode")  ? TRL_F_FILE_INODE
                           : NAME_IS("mode") ? TRL_F_FILE_MODE
                           : NAME_IS("ouid") ? TRL_F_FILE_UID
                                             : TRL_F_FILE_GID;
        trl_snare_set_new(ev, f, v, vlen);
    } else if (NAME_IS("snareseq")) {
        trl_snare_set_named(ev, "labels.snare_sequence", v, vlen);
    } else if (!take_arg(c, name, nlen, v, vlen)) {
        set_data(ev, name, nlen, v, vlen);
    }
}

struct syscall_class {
    const char *name;
    const char *category;
    const char *type;
};

static const struct syscall_class classes[] = {
    {"execve", "process", "start"},       {"execveat", "process", "start"},
    {"open", "file", "access"},           {"openat", "file", "access"},
    {"openat2", "file", "access"},        {"creat", "file", "creation"},
    {"mkdir", "file", "creation"},        {"mkdirat", "file", "creation"},
    {"mknod", "file", "creation"},        {"mknodat", "file", "creation"},
    {"link", "file", "creation"},         {"linkat", "file", "creation"},
    {"symlink", "file", "creation"},      {"symlinkat", "file", "creation"},
    {"unlink", "file", "deletion"},       {"unlinkat", "file", "deletion"},
    {"rmdir", "file", "deletion"},        {"rename", "file", "change"},
    {"renameat", "file", "change"},       {"renameat2", "file", "change"},
    {"chmod", "file", "change"},          {"fchmod", "file", "change"},
    {"fchmodat", "file", "change"},       {"chown", "file", "change"},
    {"fchown", "file", "change"},         {"fchownat", "file", "change"},
    {"lchown", "file", "change"},         {"truncate", "file", "change"},
    {"ftruncate", "file", "change"},      {"setxattr", "file", "change"},
    {"lsetxattr", "file", "change"},      {"fsetxattr", "file", "change"},
    {"connect", "network", "connection"}, {"accept", "network", "connection"},
    {"accept4", "network", "connection"}, {"init_module", "driver", "start"},
    {"finit_module", "driver", "start"},  {"delete_module", "driver", "end"},
};

static void finish(struct lctx *c)
{
    struct trl_event *ev = c->ev;
    trl_event_set_str(ev, TRL_F_EVENT_KIND, "event");
    if (c->nargs > 0 && !trl_event_has(ev, TRL_F_PROCESS_ARGS)) {
        size_t total = 0;
        for (size_t i = 0; i < c->nargs; i++) {
            trl_event_add(ev, TRL_F_PROCESS_ARGS, c->args[i].ptr, c->args[i].len);
            total += c->args[i].len + 1;
        }
        trl_event_set_int(ev, TRL_F_PROCESS_ARGS_COUNT, (int64_t)c->nargs);
        if (!trl_event_has(ev, TRL_F_PROCESS_COMMAND_LINE)) {
            char *cmd = trl_arena_alloc(ev->arena, total);
            size_t n = 0;
            for (size_t i = 0; i < c->nargs; i++) {
                if (i)
                    cmd[n++] = ' ';
                memcpy(cmd + n, c->args[i].ptr, c->args[i].len);
                n += c->args[i].len;
            }
            trl_event_set_ref(ev, TRL_F_PROCESS_COMMAND_LINE, cmd, n);
        }
    }
    size_t tlen;
    const char *title = trl_event_get(ev, TRL_F_PROCESS_TITLE, &tlen);
    if (title)
        trl_snare_set_new(ev, TRL_F_PROCESS_COMMAND_LINE, title, tlen);
    if (!c->syscall)
        return;
    for (size_t i = 0; i < TRL_ARRAY_LEN(classes); i++) {
        if (trl_str_eq((struct trl_str){c->syscall, c->syscall_len}, classes[i].name)) {
            trl_event_add_unique(ev, TRL_F_EVENT_CATEGORY, classes[i].category,
                                 strlen(classes[i].category));
            trl_event_add_unique(ev, TRL_F_EVENT_TYPE, classes[i].type, strlen(classes[i].type));
            if (!strcmp(classes[i].category, "process"))
                trl_event_set_str(ev, TRL_F_EVENT_ACTION, "process-started");
            break;
        }
    }
    if (!trl_event_has(ev, TRL_F_EVENT_ACTION)) {
        size_t alen;
        const char *a = trl_vendor_action(ev, c->syscall, c->syscall_len, &alen);
        if (a)
            trl_event_set_ref(ev, TRL_F_EVENT_ACTION, a, alen);
    }
}

static void init(struct lctx *c, struct trl_event *ev)
{
    c->ev = ev;
    c->owned = 0;
    c->items = 0;
    c->after_key = false;
    c->have_args = false;
    c->syscall = NULL;
    c->syscall_len = 0;
    c->nargs = 0;
}

int trl_snare_linux(struct trl_event *ev, const struct trl_str *f, size_t n)
{
    size_t k = 0;
    if (n > 0 && f[0].len <= 2 && trl_snare_is_digits(f[0].ptr, f[0].len)) {
        trl_snare_set_named(ev, "labels.snare_criticality", f[0].ptr, f[0].len);
        k = 1;
    }
    struct lctx c;
    init(&c, ev);
    size_t tokens = 0;
    for (; k < n; k++) {
        const char *comma = memchr(f[k].ptr, ',', f[k].len);
        if (!comma || comma == f[k].ptr)
            continue;
        size_t nlen = (size_t)(comma - f[k].ptr);
        token(&c, f[k].ptr, nlen, comma + 1, f[k].len - nlen - 1);
        tokens++;
    }
    if (tokens == 0)
        return TRL_EINVAL;
    finish(&c);
    return 0;
}

/* SNARE V2. */

static const char *jstr(const json_t *obj, const char *key, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Runs a JSON string member through the token handler under its own name. */
static void jtoken(struct lctx *c, const json_t *obj, const char *key)
{
    size_t len;
    const char *v = jstr(obj, key, &len);
    if (v)
        token(c, key, strlen(key), v, len);
}

int trl_snare_linux_json(struct trl_event *ev, const char *json, size_t len)
{
    json_error_t err;
    json_t *root = json_loadb(json, len, 0, &err);
    json_t *event = json_object_get(root, "Event");
    json_t *sys = json_object_get(event, "System");
    json_t *data = json_object_get(event, "Data");
    if (!json_is_object(sys) && !json_is_object(data)) {
        json_decref(root);
        return TRL_EINVAL;
    }
    struct lctx c;
    init(&c, ev);
    size_t vlen;
    const char *v;
    json_t *e = json_object_get(sys, "event");
    if ((v = jstr(e, "syscall", &vlen)) && vlen) {
        trl_event_set(ev, TRL_F_AUDITD_SYSCALL, v, vlen);
        c.syscall = trl_arena_strndup(ev->arena, v, vlen);
        c.syscall_len = vlen;
    }
    json_t *tc = json_object_get(sys, "TimeCreated");
    if ((v = jstr(tc, "SystemTime", &vlen)) || (v = jstr(e, "datetime", &vlen)))
        set_time(ev, v, vlen);
    static const char *const ids[] = {"uid", "euid", "gid", "egid"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(ids); i++) {
        json_t *o = json_object_get(sys, ids[i]);
        if ((v = jstr(o, ids[i], &vlen)))
            set_ids(&c, ids[i], v, vlen);
        if ((v = jstr(o, "name", &vlen)))
            set_ids(&c, ids[i], v, vlen);
    }
    jtoken(&c, sys, "sequence");
    jtoken(&c, sys, "name");
    if ((v = jstr(sys, "process", &vlen)))
        set_exe(&c, v, vlen);
    json_t *ret = json_object_get(sys, "return");
    if ((v = jstr(ret, "code", &vlen)))
        set_data(ev, "exit", 4, v, vlen);
    if ((v = jstr(ret, "status", &vlen)))
        set_outcome(ev, v, vlen, false);
    if ((v = jstr(sys, "arch", &vlen)))
        set_data(ev, "arch", 4, v, vlen);
    if (json_is_object(data)) {
        const char *key;
        json_t *val;
        json_object_foreach(data, key, val)
        {
            if (json_is_string(val))
                token(&c, key, strlen(key), json_string_value(val), json_string_length(val));
        }
    }
    finish(&c);
    json_decref(root);
    return 0;
}
