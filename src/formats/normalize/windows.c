#include "core/arena.h"
#include "core/util.h"
#include "formats/normalize.h"

#include <string.h>

/*
 * Windows events arrive from two parsers that agree on one shape: winlog.event_id, winlog.channel,
 * winlog.provider_name and the event's data items as winlog.event_data.<EVTX name> (or
 * winlog.user_data.<name> for events that carry <UserData>). Everything below reads only that
 * shape, so an event gives the same ECS fields whether it came as EVTX JSON or as Snare text.
 *
 * Values taken as they are from the event's own fields already live in its arena, so they are
 * stored by reference (trl_event_set_ref) without copying; only converted values (decimal pids,
 * lower-case hashes) are written anew.
 */

static struct trl_str field(const struct trl_event *ev, enum trl_field f)
{
    size_t len = 0;
    const char *v = trl_event_get(ev, f, &len);
    return v ? (struct trl_str){v, len} : (struct trl_str){"", 0};
}

/* The event's data items, gathered in one pass over its fields before the mapping starts: a
 * mapping looks up a dozen items, and each lookup then compares the names of the few items in
 * one bucket of a small hash table rather than the full names of every field. An event with more
 * items than fit keeps the first ones here and has the rest looked up by name. */
#define WIN_MAX_ITEMS    64
#define WIN_ITEM_BUCKETS 64

struct win_item {
    const char *name; /* the EVTX name, after the winlog.event_data. or .user_data. prefix */
    const char *val;
    uint32_t len, vlen;
};

struct win_items {
    struct win_item v[WIN_MAX_ITEMS];
    size_t n;
    bool partial; /* more items than fit in v */
    /* Index plus one of the first item of each bucket (0: none), and of the next item of the same
     * bucket after each item: a bucket lists its items in the order of the event's fields. */
    uint8_t head[WIN_ITEM_BUCKETS];
    uint8_t next[WIN_MAX_ITEMS];
};

_Static_assert(WIN_MAX_ITEMS < UINT8_MAX, "item indices must fit in a byte");

/* An item name's bucket: EVTX names of one event differ in their length, first or last letter
 * ("SubjectUserName", "TargetUserName", "IpPort"). */
static inline size_t item_bucket(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    return (len * 5 + (unsigned char)name[0] * 3 + (unsigned char)name[len - 1]) &
           (WIN_ITEM_BUCKETS - 1);
}

struct win {
    struct trl_event *ev;
    struct win_items event_data, user_data;
};

static const char event_data_prefix[] = "winlog.event_data.";
static const char user_data_prefix[] = "winlog.user_data.";

static inline void items_add(struct win_items *items, const struct trl_kv *kv, size_t plen)
{
    if (items->n == WIN_MAX_ITEMS) {
        items->partial = true;
        return;
    }
    items->v[items->n++] =
        (struct win_item){kv->name + plen, kv->val, kv->name_len - (uint32_t)plen, kv->val_len};
}

/* Links the items into their buckets, last first, so that each bucket lists them in order. */
static void items_index(struct win_items *items)
{
    memset(items->head, 0, sizeof(items->head));
    for (size_t i = items->n; i-- > 0;) {
        const struct win_item *it = &items->v[i];
        size_t b = item_bucket(it->name, it->len);
        items->next[i] = items->head[b];
        items->head[b] = (uint8_t)(i + 1);
    }
}

static void win_init(struct win *w, struct trl_event *ev)
{
    const size_t ed = sizeof(event_data_prefix) - 1, ud = sizeof(user_data_prefix) - 1;
    w->ev = ev;
    w->event_data.n = w->user_data.n = 0;
    w->event_data.partial = w->user_data.partial = false;
    /* Dynamic fields only ever follow the first one: the known fields before it are skipped. */
    for (uint32_t i = ev->first_named ? ev->first_named - 1 : ev->nfields; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field != TRL_F_NONE || kv->name_len <= ud || kv->name[0] != 'w')
            continue;
        if (kv->name_len > ed && trl_short_eq(kv->name, event_data_prefix, ed))
            items_add(&w->event_data, kv, ed);
        else if (trl_short_eq(kv->name, user_data_prefix, ud))
            items_add(&w->user_data, kv, ud);
    }
    items_index(&w->event_data);
    items_index(&w->user_data);
}

/* The first value of the item called name (nlen bytes), or NULL. */
static const char *item(const struct win *w, const struct win_items *items, const char *prefix,
                        size_t plen, const char *name, size_t nlen, size_t *len)
{
    for (unsigned at = items->head[item_bucket(name, nlen)]; at; at = items->next[at - 1]) {
        const struct win_item *it = &items->v[at - 1];
        if (it->len == nlen && trl_short_eq(it->name, name, nlen)) {
            *len = it->vlen;
            return it->val;
        }
    }
    if (!items->partial)
        return NULL;
    char full[96];
    if (plen + nlen > sizeof(full))
        return NULL;
    memcpy(full, prefix, plen);
    memcpy(full + plen, name, nlen);
    return trl_event_get_named(w->ev, full, plen + nlen, len);
}

/* A data item by its EVTX name; Windows writes "-" for an item that has no value. Inline, so that
 * the length of the literal name is known when compiling. */
static inline struct trl_str data(const struct win *w, const char *name)
{
    size_t nlen = strlen(name), len = 0;
    const char *v =
        item(w, &w->event_data, event_data_prefix, sizeof(event_data_prefix) - 1, name, nlen, &len);
    if (!v)
        v = item(w, &w->user_data, user_data_prefix, sizeof(user_data_prefix) - 1, name, nlen,
                 &len);
    if (!v || (len == 1 && v[0] == '-'))
        return (struct trl_str){"", 0};
    return (struct trl_str){v, len};
}

/* Inline, so that the literal's length is known when compiling and most mismatches cost one
 * comparison. */
static inline bool str_case_is(struct trl_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && trl_strcase_eq(s.ptr, s.len, lit, n);
}

static void set(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len > 0)
        trl_event_set_ref(ev, f, s.ptr, s.len);
}

static void set_user(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len == 0)
        return;
    trl_event_set_ref(ev, f, s.ptr, s.len);
    trl_event_add_unique_ref(ev, TRL_F_RELATED_USER, s.ptr, s.len);
}

/* S-1-0-0 is the NULL SID: no account. */
static void set_sid(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (!trl_str_eq(s, "S-1-0-0"))
        set(ev, f, s);
}

/* Addresses are written "-" when there is none and "::ffff:a.b.c.d" for IPv4 peers of a dual-stack
 * socket; ECS wants the plain IPv4 address. */
static void set_ip(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len > 7 && s.ptr[0] == ':' && trl_strcase_eq(s.ptr, 7, "::ffff:", 7) &&
        memchr(s.ptr + 7, '.', s.len - 7)) {
        s.ptr += 7;
        s.len -= 7;
    }
    if (!trl_is_ip(s.ptr, s.len))
        return;
    trl_event_set_ref(ev, f, s.ptr, s.len);
    trl_event_add_unique_ref(ev, TRL_F_RELATED_IP, s.ptr, s.len);
}

/* Port 0 is what Windows writes when the logon did not come over the network. */
static void set_port(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    uint64_t port;
    if (trl_parse_u64(s.ptr, s.len, &port) && port > 0 && port <= 65535)
        trl_event_set_ref(ev, f, s.ptr, s.len);
}

/* Process ids are hexadecimal ("0x1a4") in Security events and decimal in Sysmon's. */
static void set_pid(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    uint64_t pid = 0;
    if (s.len > 2 && s.ptr[0] == '0' && (s.ptr[1] == 'x' || s.ptr[1] == 'X')) {
        if (s.len > 2 + 16)
            return;
        for (size_t i = 2; i < s.len; i++) {
            char c = s.ptr[i];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (d == 16)
                return;
            pid = pid << 4 | d;
        }
    } else if (!trl_parse_u64(s.ptr, s.len, &pid)) {
        return;
    }
    if (pid <= INT64_MAX)
        trl_event_set_int(ev, f, (int64_t)pid);
}

/* The last component of a Windows or POSIX path. */
static struct trl_str base_name(struct trl_str path)
{
    size_t i = path.len;
    while (i > 0 && path.ptr[i - 1] != '\\' && path.ptr[i - 1] != '/')
        i--;
    return (struct trl_str){path.ptr + i, path.len - i};
}

static void set_executable(struct trl_event *ev, enum trl_field exe, enum trl_field name,
                           struct trl_str path)
{
    set(ev, exe, path);
    set(ev, name, base_name(path));
}

/* "DOMAIN\user" (Sysmon's User) into user.domain and user.name. */
static void set_domain_user(struct trl_event *ev, struct trl_str s)
{
    const char *bs = s.len ? memchr(s.ptr, '\\', s.len) : NULL;
    if (!bs) {
        set_user(ev, TRL_F_USER_NAME, s);
        return;
    }
    set(ev, TRL_F_USER_DOMAIN, (struct trl_str){s.ptr, (size_t)(bs - s.ptr)});
    set_user(ev, TRL_F_USER_NAME, (struct trl_str){bs + 1, s.len - (size_t)(bs - s.ptr) - 1});
}

/* The acting account of most Security events. */
static void set_subject(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_user(ev, TRL_F_USER_NAME, data(w, "SubjectUserName"));
    set(ev, TRL_F_USER_DOMAIN, data(w, "SubjectDomainName"));
    set_sid(ev, TRL_F_USER_ID, data(w, "SubjectUserSid"));
    set(ev, TRL_F_WINLOG_LOGON_ID, data(w, "SubjectLogonId"));
}

static void set_target_user(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_user(ev, TRL_F_USER_TARGET_NAME, data(w, "TargetUserName"));
    set(ev, TRL_F_USER_TARGET_DOMAIN, data(w, "TargetDomainName"));
    set_sid(ev, TRL_F_USER_TARGET_ID, data(w, "TargetSid"));
}

static void set_source(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_ip(ev, TRL_F_SOURCE_IP, data(w, "IpAddress"));
    set_port(ev, TRL_F_SOURCE_PORT, data(w, "IpPort"));
}

/* The executable path inside a service's command line ("C:\x\svc.exe -k netsvcs"). */
static struct trl_str image_path(struct trl_str cmd)
{
    while (cmd.len > 0 && cmd.ptr[0] == ' ') {
        cmd.ptr++;
        cmd.len--;
    }
    if (cmd.len > 1 && cmd.ptr[0] == '"') {
        const char *q = memchr(cmd.ptr + 1, '"', cmd.len - 1);
        if (q)
            return (struct trl_str){cmd.ptr + 1, (size_t)(q - cmd.ptr - 1)};
    }
    static const char *const exts[] = {".exe", ".sys", ".dll"};
    for (size_t i = 0; i + 4 <= cmd.len; i++) {
        for (size_t e = 0; e < TRL_ARRAY_LEN(exts); e++) {
            if (trl_strcase_eq(cmd.ptr + i, 4, exts[e], 4) &&
                (i + 4 == cmd.len || cmd.ptr[i + 4] == ' '))
                return (struct trl_str){cmd.ptr, i + 4};
        }
    }
    return cmd;
}

struct code_text {
    const char *code;
    size_t code_len;
    const char *text;
};

#define CT(code, text)                                                                             \
    {                                                                                              \
        code, sizeof(code) - 1, text                                                               \
    }

static const char *code_lookup(const struct code_text *t, size_t n, struct trl_str code)
{
    for (size_t i = 0; i < n; i++) {
        if (code.len == t[i].code_len && trl_strcase_eq(code.ptr, code.len, t[i].code, code.len))
            return t[i].text;
    }
    return NULL;
}

/* Sets f to the name the table t gives code, or to code itself when it has none. */
static void set_code_name(struct trl_event *ev, enum trl_field f, const struct code_text *t,
                          size_t n, struct trl_str code)
{
    const char *name = code_lookup(t, n, code);
    if (name)
        trl_event_set_ref(ev, f, name, strlen(name));
    else
        set(ev, f, code);
}

static void set_reason(struct trl_event *ev, const char *text)
{
    if (text)
        trl_event_set_ref(ev, TRL_F_EVENT_REASON, text, strlen(text));
}

static const struct code_text logon_types[] = {
    CT("0", "System"),
    CT("2", "Interactive"),
    CT("3", "Network"),
    CT("4", "Batch"),
    CT("5", "Service"),
    CT("7", "Unlock"),
    CT("8", "NetworkCleartext"),
    CT("9", "NewCredentials"),
    CT("10", "RemoteInteractive"),
    CT("11", "CachedInteractive"),
    CT("12", "CachedRemoteInteractive"),
    CT("13", "CachedUnlock"),
};

/* NTSTATUS codes of failed logons (4625 Status / SubStatus). */
static const struct code_text logon_failures[] = {
    CT("0xC0000064", "user name does not exist"),
    CT("0xC000006A", "wrong password"),
    CT("0xC000006D", "bad user name or authentication information"),
    CT("0xC000006E", "account restriction"),
    CT("0xC000006F", "logon outside allowed hours"),
    CT("0xC0000070", "logon from unauthorized workstation"),
    CT("0xC0000071", "password expired"),
    CT("0xC0000072", "account disabled"),
    CT("0xC000015B", "logon type not granted"),
    CT("0xC0000193", "account expired"),
    CT("0xC0000224", "password must change"),
    CT("0xC0000234", "account locked out"),
    CT("0xC0000133", "clock skew"),
    CT("0xC000005E", "no logon servers"),
    CT("0xC0000413", "authentication firewall"),
};

/* Kerberos result codes (4768, 4769, 4771 Status). */
static const struct code_text kerberos_failures[] = {
    CT("0x6", "client not found in Kerberos database"),
    CT("0x7", "server not found in Kerberos database"),
    CT("0xC", "policy rejects request"),
    CT("0xE", "encryption type not supported"),
    CT("0x12", "account disabled, expired or locked out"),
    CT("0x17", "password expired"),
    CT("0x18", "pre-authentication failed"),
    CT("0x1F", "integrity check failed"),
    CT("0x20", "ticket expired"),
    CT("0x25", "clock skew too great"),
};

/* The process that asked for a logon; a ProcessId of 0x0 means none (a network logon). */
static void set_logon_process(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_executable(ev, TRL_F_PROCESS_EXECUTABLE, TRL_F_PROCESS_NAME, data(w, "ProcessName"));
    struct trl_str pid = data(w, "ProcessId");
    if (!trl_str_eq(pid, "0x0"))
        set_pid(ev, TRL_F_PROCESS_PID, pid);
}

static void map_logon(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_user(ev, TRL_F_USER_NAME, data(w, "TargetUserName"));
    set(ev, TRL_F_USER_DOMAIN, data(w, "TargetDomainName"));
    set_sid(ev, TRL_F_USER_ID, data(w, "TargetUserSid"));
    /* The subject is the account that asked for the logon (often the machine itself). */
    struct trl_str subject = data(w, "SubjectUserName");
    if (subject.len)
        trl_event_add_unique_ref(ev, TRL_F_RELATED_USER, subject.ptr, subject.len);
    set(ev, TRL_F_WINLOG_LOGON_ID, data(w, "TargetLogonId"));
    set_code_name(ev, TRL_F_WINLOG_LOGON_TYPE, logon_types, TRL_ARRAY_LEN(logon_types),
                  data(w, "LogonType"));
    set_source(w);
    set(ev, TRL_F_SOURCE_DOMAIN, data(w, "WorkstationName"));
    set_logon_process(w);
    /* SubStatus is the precise reason when there is one; Status the general one. */
    struct trl_str status = data(w, "SubStatus");
    const char *reason = code_lookup(logon_failures, TRL_ARRAY_LEN(logon_failures), status);
    if (!reason)
        reason = code_lookup(logon_failures, TRL_ARRAY_LEN(logon_failures), data(w, "Status"));
    set_reason(ev, reason);
}

static void map_explicit_logon(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_subject(w);
    set_target_user(w);
    set(ev, TRL_F_DESTINATION_DOMAIN, data(w, "TargetServerName"));
    set_source(w);
    set_logon_process(w);
}

static void map_subject(const struct win *w)
{
    set_subject(w);
}

static void map_process_4688(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_subject(w);
    set_user(ev, TRL_F_USER_EFFECTIVE_NAME, data(w, "TargetUserName"));
    set_executable(ev, TRL_F_PROCESS_EXECUTABLE, TRL_F_PROCESS_NAME, data(w, "NewProcessName"));
    set_pid(ev, TRL_F_PROCESS_PID, data(w, "NewProcessId"));
    set(ev, TRL_F_PROCESS_COMMAND_LINE, data(w, "CommandLine"));
    set_executable(ev, TRL_F_PROCESS_PARENT_EXECUTABLE, TRL_F_PROCESS_PARENT_NAME,
                   data(w, "ParentProcessName"));
    /* In 4688, ProcessId is the creator: the parent of the new process. */
    set_pid(ev, TRL_F_PROCESS_PARENT_PID, data(w, "ProcessId"));
}

/* 4697 numeric service types, named as 7045 writes them. */
static const struct code_text service_types[] = {
    CT("0x1", "kernel mode driver"),  CT("0x2", "file system driver"),
    CT("0x10", "user mode service"),  CT("0x20", "user mode service"),
    CT("0x110", "user mode service"), CT("0x120", "user mode service"),
};

static void map_service(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_subject(w);
    if (!trl_event_has(ev, TRL_F_USER_ID)) {
        size_t len = 0;
        const char *sid = trl_event_get_named(ev, "winlog.user.identifier", 22, &len);
        if (sid)
            set_sid(ev, TRL_F_USER_ID, (struct trl_str){sid, len});
    }
    set(ev, TRL_F_SERVICE_NAME, data(w, "ServiceName"));
    set_code_name(ev, TRL_F_SERVICE_TYPE, service_types, TRL_ARRAY_LEN(service_types),
                  data(w, "ServiceType"));
    struct trl_str cmd = data(w, "ServiceFileName");
    if (cmd.len == 0)
        cmd = data(w, "ImagePath");
    struct trl_str path = image_path(cmd);
    set(ev, TRL_F_FILE_PATH, path);
    set(ev, TRL_F_FILE_NAME, base_name(path));
}

static void map_user_account(const struct win *w)
{
    set_subject(w);
    set_target_user(w);
}

/* The CN of a distinguished name ("CN=Jane Doe,OU=Staff,DC=corp,DC=example"); commas escaped with
 * a backslash belong to the name. */
static struct trl_str dn_common_name(struct trl_str dn)
{
    if (dn.len < 3 || !trl_strcase_eq(dn.ptr, 3, "CN=", 3))
        return (struct trl_str){"", 0};
    size_t i = 3;
    while (i < dn.len && !(dn.ptr[i] == ',' && dn.ptr[i - 1] != '\\'))
        i++;
    return (struct trl_str){dn.ptr + 3, i - 3};
}

static void map_group_member(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_subject(w);
    set(ev, TRL_F_GROUP_NAME, data(w, "TargetUserName"));
    set_sid(ev, TRL_F_GROUP_ID, data(w, "TargetSid"));
    struct trl_str sid = data(w, "MemberSid");
    struct trl_str member = dn_common_name(data(w, "MemberName"));
    set_user(ev, TRL_F_USER_TARGET_NAME, member.len ? member : sid);
    set_sid(ev, TRL_F_USER_TARGET_ID, sid);
}

static void map_kerberos(const struct win *w)
{
    struct trl_event *ev = w->ev;
    /* 4769 names the account "user@REALM". */
    struct trl_str user = data(w, "TargetUserName");
    const char *at = user.len ? memchr(user.ptr, '@', user.len) : NULL;
    if (at) {
        set_user(ev, TRL_F_USER_NAME, (struct trl_str){user.ptr, (size_t)(at - user.ptr)});
        set(ev, TRL_F_USER_DOMAIN,
            (struct trl_str){at + 1, user.len - (size_t)(at - user.ptr) - 1});
    } else {
        set_user(ev, TRL_F_USER_NAME, user);
        set(ev, TRL_F_USER_DOMAIN, data(w, "TargetDomainName"));
    }
    set_sid(ev, TRL_F_USER_ID, data(w, "TargetSid"));
    set(ev, TRL_F_SERVICE_NAME, data(w, "ServiceName"));
    set_source(w);
    struct trl_str status = data(w, "Status");
    if (status.len == 0)
        return;
    bool ok = str_case_is(status, "0x0");
    trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, ok ? "success" : "failure");
    if (!ok)
        set_reason(ev, code_lookup(kerberos_failures, TRL_ARRAY_LEN(kerberos_failures), status));
}

/* A lower-case copy of p in the event's arena: ECS wants hashes and transports in lower case. */
static char *lower_copy(struct trl_event *ev, const char *p, size_t len)
{
    char *v = trl_arena_alloc(ev->arena, len + 1);
    for (size_t i = 0; i < len; i++)
        v[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] - 'A' + 'a') : p[i];
    v[len] = '\0';
    return v;
}

/* Sysmon's Hashes item: "SHA1=..,MD5=..,SHA256=..,IMPHASH=..". */
static void set_hashes(struct trl_event *ev, enum trl_field sha256, struct trl_str s)
{
    size_t i = 0;
    while (i < s.len) {
        size_t end = i;
        while (end < s.len && s.ptr[end] != ',')
            end++;
        const char *eq = memchr(s.ptr + i, '=', end - i);
        if (eq && eq + 1 < s.ptr + end) {
            size_t klen = (size_t)(eq - s.ptr - i), vlen = (size_t)(s.ptr + end - eq - 1);
            /* ECS hashes are lower-case hex; Sysmon writes upper case. */
            char *v = lower_copy(ev, eq + 1, vlen);
            trl_event_add_unique_ref(ev, TRL_F_RELATED_HASH, v, vlen);
            if (trl_strcase_eq(s.ptr + i, klen, "SHA256", 6))
                trl_event_set_ref(ev, sha256, v, vlen);
        }
        i = end + 1;
    }
}

/* The process fields every Sysmon event has. */
static void set_sysmon_process(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_executable(ev, TRL_F_PROCESS_EXECUTABLE, TRL_F_PROCESS_NAME, data(w, "Image"));
    set_pid(ev, TRL_F_PROCESS_PID, data(w, "ProcessId"));
    set(ev, TRL_F_PROCESS_ENTITY_ID, data(w, "ProcessGuid"));
    set_domain_user(ev, data(w, "User"));
}

static void map_sysmon_process(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_sysmon_process(w);
    set(ev, TRL_F_PROCESS_COMMAND_LINE, data(w, "CommandLine"));
    set(ev, TRL_F_PROCESS_WORKING_DIRECTORY, data(w, "CurrentDirectory"));
    set(ev, TRL_F_WINLOG_LOGON_ID, data(w, "LogonId"));
    set_hashes(ev, TRL_F_PROCESS_HASH_SHA256, data(w, "Hashes"));
    set_executable(ev, TRL_F_PROCESS_PARENT_EXECUTABLE, TRL_F_PROCESS_PARENT_NAME,
                   data(w, "ParentImage"));
    set(ev, TRL_F_PROCESS_PARENT_COMMAND_LINE, data(w, "ParentCommandLine"));
    set_pid(ev, TRL_F_PROCESS_PARENT_PID, data(w, "ParentProcessId"));
    set(ev, TRL_F_PROCESS_PARENT_ENTITY_ID, data(w, "ParentProcessGuid"));
}

static void set_lower(struct trl_event *ev, enum trl_field f, struct trl_str s)
{
    if (s.len)
        trl_event_set_ref(ev, f, lower_copy(ev, s.ptr, s.len), s.len);
}

static void map_sysmon_network(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_sysmon_process(w);
    set_lower(ev, TRL_F_NETWORK_TRANSPORT, data(w, "Protocol"));
    set(ev, TRL_F_NETWORK_PROTOCOL, data(w, "DestinationPortName"));
    struct trl_str initiated = data(w, "Initiated");
    if (str_case_is(initiated, "true"))
        trl_event_set_str(ev, TRL_F_NETWORK_DIRECTION, "egress");
    else if (str_case_is(initiated, "false"))
        trl_event_set_str(ev, TRL_F_NETWORK_DIRECTION, "ingress");
    struct trl_str v6 = data(w, "SourceIsIpv6");
    if (v6.len)
        trl_event_set_str(ev, TRL_F_NETWORK_TYPE, str_case_is(v6, "true") ? "ipv6" : "ipv4");
    set_ip(ev, TRL_F_SOURCE_IP, data(w, "SourceIp"));
    set_port(ev, TRL_F_SOURCE_PORT, data(w, "SourcePort"));
    set(ev, TRL_F_SOURCE_DOMAIN, data(w, "SourceHostname"));
    set_ip(ev, TRL_F_DESTINATION_IP, data(w, "DestinationIp"));
    set_port(ev, TRL_F_DESTINATION_PORT, data(w, "DestinationPort"));
    set(ev, TRL_F_DESTINATION_DOMAIN, data(w, "DestinationHostname"));
}

static void map_sysmon_file(const struct win *w)
{
    struct trl_event *ev = w->ev;
    set_sysmon_process(w);
    struct trl_str path = data(w, "TargetFilename");
    if (path.len == 0)
        return;
    set(ev, TRL_F_FILE_PATH, path);
    struct trl_str name = base_name(path);
    set(ev, TRL_F_FILE_NAME, name);
    if (name.len < path.len)
        set(ev, TRL_F_FILE_DIRECTORY, (struct trl_str){path.ptr, path.len - name.len - 1});
    const char *dot = NULL;
    for (size_t i = 0; i < name.len; i++) {
        if (name.ptr[i] == '.')
            dot = name.ptr + i;
    }
    if (dot && dot > name.ptr)
        set(ev, TRL_F_FILE_EXTENSION,
            (struct trl_str){dot + 1, name.len - (size_t)(dot - name.ptr) - 1});
}

/* Which log an event ID belongs to: the same number means different things in other logs. */
enum win_source {
    SRC_SECURITY,
    SRC_SYSTEM_SCM,
    SRC_SYSTEM_EVENTLOG,
    SRC_SYSMON,
};

struct win_event {
    unsigned id;
    enum win_source source;
    const char *category;
    const char *type;
    const char *type2;
    const char *action;
    const char *outcome; /* NULL: from the event (Kerberos status, audit keywords) */
    void (*map)(const struct win *w);
};

static const struct win_event events[] = {
    {4624, SRC_SECURITY, "authentication", "start", NULL, "logged-in", "success", map_logon},
    {4625, SRC_SECURITY, "authentication", "start", NULL, "logon-failed", "failure", map_logon},
    {4634, SRC_SECURITY, "authentication", "end", NULL, "logged-out", "success", map_logon},
    {4647, SRC_SECURITY, "authentication", "end", NULL, "logged-out", "success", map_logon},
    {4648, SRC_SECURITY, "authentication", "start", NULL, "logged-in-explicit", "success",
     map_explicit_logon},
    {4672, SRC_SECURITY, "iam", "admin", NULL, "logged-in-special", "success", map_subject},
    {4688, SRC_SECURITY, "process", "start", NULL, "process-started", "success", map_process_4688},
    {4697, SRC_SECURITY, "configuration", "creation", NULL, "service-installed", "success",
     map_service},
    {7045, SRC_SYSTEM_SCM, "configuration", "creation", NULL, "service-installed", "success",
     map_service},
    {4698, SRC_SECURITY, "configuration", "creation", NULL, "scheduled-task-created", "success",
     map_subject},
    {4699, SRC_SECURITY, "configuration", "deletion", NULL, "scheduled-task-deleted", "success",
     map_subject},
    {4700, SRC_SECURITY, "configuration", "change", NULL, "scheduled-task-enabled", "success",
     map_subject},
    {4701, SRC_SECURITY, "configuration", "change", NULL, "scheduled-task-disabled", "success",
     map_subject},
    {4702, SRC_SECURITY, "configuration", "change", NULL, "scheduled-task-updated", "success",
     map_subject},
    {4720, SRC_SECURITY, "iam", "user", "creation", "user-created", "success", map_user_account},
    {4722, SRC_SECURITY, "iam", "user", "change", "user-enabled", "success", map_user_account},
    {4724, SRC_SECURITY, "iam", "user", "change", "password-reset", "success", map_user_account},
    {4725, SRC_SECURITY, "iam", "user", "change", "user-disabled", "success", map_user_account},
    {4726, SRC_SECURITY, "iam", "user", "deletion", "user-deleted", "success", map_user_account},
    {4738, SRC_SECURITY, "iam", "user", "change", "user-changed", "success", map_user_account},
    {4728, SRC_SECURITY, "iam", "group", "change", "group-member-added", "success",
     map_group_member},
    {4732, SRC_SECURITY, "iam", "group", "change", "group-member-added", "success",
     map_group_member},
    {4756, SRC_SECURITY, "iam", "group", "change", "group-member-added", "success",
     map_group_member},
    {4729, SRC_SECURITY, "iam", "group", "change", "group-member-removed", "success",
     map_group_member},
    {4733, SRC_SECURITY, "iam", "group", "change", "group-member-removed", "success",
     map_group_member},
    {4757, SRC_SECURITY, "iam", "group", "change", "group-member-removed", "success",
     map_group_member},
    {4768, SRC_SECURITY, "authentication", "start", NULL, "kerberos-tgt-requested", NULL,
     map_kerberos},
    {4769, SRC_SECURITY, "authentication", "start", NULL, "kerberos-service-ticket-requested", NULL,
     map_kerberos},
    {4771, SRC_SECURITY, "authentication", "start", NULL, "kerberos-preauth-failed", "failure",
     map_kerberos},
    {1102, SRC_SECURITY, "configuration", "deletion", NULL, "audit-log-cleared", "success",
     map_subject},
    {104, SRC_SYSTEM_EVENTLOG, "configuration", "deletion", NULL, "event-log-cleared", "success",
     map_subject},
    {1, SRC_SYSMON, "process", "start", NULL, "process-started", NULL, map_sysmon_process},
    {3, SRC_SYSMON, "network", "connection", "start", "network-connection", NULL,
     map_sysmon_network},
    {11, SRC_SYSMON, "file", "creation", NULL, "file-created", NULL, map_sysmon_file},
};

static bool from_source(const struct trl_event *ev, enum win_source src)
{
    struct trl_str channel = field(ev, TRL_F_WINLOG_CHANNEL);
    struct trl_str provider = field(ev, TRL_F_WINLOG_PROVIDER_NAME);
    bool unknown = channel.len == 0 && provider.len == 0;
    switch (src) {
    case SRC_SECURITY:
        return unknown || str_case_is(channel, "Security") ||
               (channel.len == 0 && (str_case_is(provider, "Microsoft-Windows-Security-Auditing") ||
                                     str_case_is(provider, "Microsoft-Windows-Eventlog")));
    case SRC_SYSTEM_SCM:
        return unknown || str_case_is(channel, "System") ||
               (channel.len == 0 && str_case_is(provider, "Service Control Manager"));
    case SRC_SYSTEM_EVENTLOG:
        return str_case_is(channel, "System") ||
               (channel.len == 0 && str_case_is(provider, "Microsoft-Windows-Eventlog"));
    case SRC_SYSMON:
        return str_case_is(channel, "Microsoft-Windows-Sysmon/Operational") ||
               (channel.len == 0 && str_case_is(provider, "Microsoft-Windows-Sysmon"));
    }
    return false;
}

/* v is a literal of the events table. */
static void add_type(struct trl_event *ev, enum trl_field f, const char *v)
{
    if (v)
        trl_event_add_unique_ref(ev, f, v, strlen(v));
}

/* Fields every recognised event gets, derived from winlog.* so both parsers agree. */
static void set_common(struct trl_event *ev, const struct win_event *w)
{
    trl_event_set_ref(ev, TRL_F_EVENT_KIND, "event", 5);
    add_type(ev, TRL_F_EVENT_CATEGORY, w->category);
    add_type(ev, TRL_F_EVENT_TYPE, w->type);
    add_type(ev, TRL_F_EVENT_TYPE, w->type2);
    trl_event_set_ref(ev, TRL_F_EVENT_ACTION, w->action, strlen(w->action));
    if (w->outcome)
        trl_event_set_ref(ev, TRL_F_EVENT_OUTCOME, w->outcome, strlen(w->outcome));
    struct trl_str id = field(ev, TRL_F_WINLOG_EVENT_ID);
    if (!trl_event_has(ev, TRL_F_EVENT_CODE))
        set(ev, TRL_F_EVENT_CODE, id);
    if (!trl_event_has(ev, TRL_F_EVENT_PROVIDER))
        set(ev, TRL_F_EVENT_PROVIDER, field(ev, TRL_F_WINLOG_PROVIDER_NAME));
    if (!trl_event_has(ev, TRL_F_HOST_NAME))
        set(ev, TRL_F_HOST_NAME, field(ev, TRL_F_WINLOG_COMPUTER_NAME));
}

/* Events whose table entry leaves the outcome open take it from the audit keywords, when the
 * event has them. */
static void outcome_from_keywords(struct trl_event *ev)
{
    if (trl_event_has(ev, TRL_F_EVENT_OUTCOME))
        return;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field != TRL_F_WINLOG_KEYWORDS)
            continue;
        struct trl_str k = {kv->val, kv->val_len};
        if (trl_str_eq(k, "Audit Success"))
            trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "success");
        else if (trl_str_eq(k, "Audit Failure"))
            trl_event_set_str(ev, TRL_F_EVENT_OUTCOME, "failure");
    }
}

int trl_norm_windows(struct trl_event *ev)
{
    struct trl_str id_text = field(ev, TRL_F_WINLOG_EVENT_ID);
    uint64_t id;
    if (!trl_parse_u64(id_text.ptr, id_text.len, &id))
        return TRL_ENOMATCH;
    for (size_t i = 0; i < TRL_ARRAY_LEN(events); i++) {
        const struct win_event *e = &events[i];
        if (e->id != id || !from_source(ev, e->source))
            continue;
        set_common(ev, e);
        struct win w;
        win_init(&w, ev);
        e->map(&w);
        outcome_from_keywords(ev);
        return 0;
    }
    return TRL_ENOMATCH;
}
