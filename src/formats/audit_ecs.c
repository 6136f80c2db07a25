#include "formats/audit_ecs.h"
#include "core/name_index.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a user-space message's acct= and id= name their account: the authenticating user (login,
 * sudo), the account being managed (useradd, passwd), or a group (groupadd). */
enum acct_role { ACCT_ACTOR, ACCT_TARGET_USER, ACCT_GROUP };

struct audit_type {
    uint16_t num;
    const char *name;
    size_t len;
    const char *cat[2];
    const char *type[2];
    const char *action; /* NULL: the name in lower case with '-' for '_' */
    uint8_t role;       /* enum acct_role */
};

#define NL(name) name, sizeof(name) - 1
#define T0(n, name)                                                                                \
    {                                                                                              \
        n, NL(name), {NULL, NULL}, {NULL, NULL}, NULL, ACCT_ACTOR                                  \
    }
#define T(n, name, c, t)                                                                           \
    {                                                                                              \
        n, NL(name), {c, NULL}, {t, NULL}, NULL, ACCT_ACTOR                                        \
    }
#define TR(n, name, t1, t2, act)                                                                   \
    {                                                                                              \
        n, NL(name), {"iam", NULL}, {t1, t2}, act, ACCT_TARGET_USER                                \
    }
#define TG(n, name, t1, t2, act)                                                                   \
    {                                                                                              \
        n, NL(name), {"iam", NULL}, {t1, t2}, act, ACCT_GROUP                                      \
    }

/* Record types from linux/audit.h and libaudit.h, sorted by number. */
static const struct audit_type audit_types[] = {
    T(1100, "USER_AUTH", "authentication", "info"),
    T(1101, "USER_ACCT", "authentication", "info"),
    TR(1102, "USER_MGMT", "user", "change", NULL),
    T(1103, "CRED_ACQ", "authentication", "info"),
    T(1104, "CRED_DISP", "authentication", "info"),
    T(1105, "USER_START", "session", "start"),
    T(1106, "USER_END", "session", "end"),
    T0(1107, "USER_AVC"),
    TR(1108, "USER_CHAUTHTOK", "user", "change", NULL),
    T(1109, "USER_ERR", "authentication", "info"),
    T(1110, "CRED_REFR", "authentication", "info"),
    T(1111, "USYS_CONFIG", "configuration", "change"),
    {1112, NL("USER_LOGIN"), {"authentication", "session"}, {"start", NULL}, NULL, ACCT_ACTOR},
    T(1113, "USER_LOGOUT", "session", "end"),
    TR(1114, "ADD_USER", "user", "creation", "added-user"),
    TR(1115, "DEL_USER", "user", "deletion", "deleted-user"),
    TG(1116, "ADD_GROUP", "group", "creation", "added-group"),
    TG(1117, "DEL_GROUP", "group", "deletion", "deleted-group"),
    T0(1118, "DAC_CHECK"),
    TG(1119, "CHGRP_ID", "group", "change", NULL),
    T0(1120, "TEST"),
    T0(1121, "TRUSTED_APP"),
    T0(1122, "USER_SELINUX_ERR"),
    T(1123, "USER_CMD", "process", "start"),
    T0(1124, "USER_TTY"),
    TR(1125, "CHUSER_ID", "user", "change", NULL),
    T(1126, "GRP_AUTH", "authentication", "info"),
    T(1127, "SYSTEM_BOOT", "host", "start"),
    T(1128, "SYSTEM_SHUTDOWN", "host", "end"),
    T(1129, "SYSTEM_RUNLEVEL", "host", "change"),
    T(1130, "SERVICE_START", "process", "start"),
    T(1131, "SERVICE_STOP", "process", "end"),
    TG(1132, "GRP_MGMT", "group", "change", NULL),
    TG(1133, "GRP_CHAUTHTOK", "group", "change", NULL),
    T0(1134, "MAC_CHECK"),
    TR(1135, "ACCT_LOCK", "user", "change", NULL),
    TR(1136, "ACCT_UNLOCK", "user", "change", NULL),
    T0(1137, "USER_DEVICE"),
    T(1138, "SOFTWARE_UPDATE", "package", "installation"),
    T(1200, "DAEMON_START", "process", "start"),
    T(1201, "DAEMON_END", "process", "end"),
    T(1202, "DAEMON_ABORT", "process", "end"),
    T(1203, "DAEMON_CONFIG", "configuration", "change"),
    T(1204, "DAEMON_RECONFIG", "configuration", "change"),
    T0(1205, "DAEMON_ROTATE"),
    T0(1206, "DAEMON_RESUME"),
    T0(1207, "DAEMON_ACCEPT"),
    T0(1208, "DAEMON_CLOSE"),
    T0(1209, "DAEMON_ERR"),
    T0(1300, "SYSCALL"),
    T0(1302, "PATH"),
    T0(1303, "IPC"),
    T0(1304, "SOCKETCALL"),
    T(1305, "CONFIG_CHANGE", "configuration", "change"),
    T0(1306, "SOCKADDR"),
    T0(1307, "CWD"),
    T0(1309, "EXECVE"),
    T0(1311, "IPC_SET_PERM"),
    T0(1312, "MQ_OPEN"),
    T0(1313, "MQ_SENDRECV"),
    T0(1314, "MQ_NOTIFY"),
    T0(1315, "MQ_GETSETATTR"),
    T0(1316, "KERNEL_OTHER"),
    T0(1317, "FD_PAIR"),
    T0(1318, "OBJ_PID"),
    T0(1319, "TTY"),
    T0(1320, "EOE"),
    T0(1321, "BPRM_FCAPS"),
    T0(1322, "CAPSET"),
    T0(1323, "MMAP"),
    T0(1324, "NETFILTER_PKT"),
    T(1325, "NETFILTER_CFG", "configuration", "change"),
    T0(1326, "SECCOMP"),
    T0(1327, "PROCTITLE"),
    T0(1328, "FEATURE_CHANGE"),
    T0(1329, "REPLACE"),
    T(1330, "KERN_MODULE", "driver", "info"),
    T0(1331, "FANOTIFY"),
    T0(1332, "TIME_INJOFFSET"),
    T0(1333, "TIME_ADJNTPVAL"),
    T0(1334, "BPF"),
    T0(1335, "EVENT_LISTENER"),
    T0(1336, "URINGOP"),
    T0(1337, "OPENAT2"),
    T0(1400, "AVC"),
    T0(1401, "SELINUX_ERR"),
    T0(1402, "AVC_PATH"),
    T(1403, "MAC_POLICY_LOAD", "configuration", "change"),
    T(1404, "MAC_STATUS", "configuration", "change"),
    T(1405, "MAC_CONFIG_CHANGE", "configuration", "change"),
    T(1700, "ANOM_PROMISCUOUS", "host", "change"),
    T(1701, "ANOM_ABEND", "process", "end"),
    T0(1702, "ANOM_LINK"),
    T0(1703, "ANOM_CREAT"),
    T(2100, "ANOM_LOGIN_FAILURES", "authentication", "info"),
    T(2101, "ANOM_LOGIN_TIME", "authentication", "info"),
    T(2102, "ANOM_LOGIN_SESSIONS", "authentication", "info"),
    T(2103, "ANOM_LOGIN_ACCT", "authentication", "info"),
    T(2104, "ANOM_LOGIN_LOCATION", "authentication", "info"),
    T0(2105, "ANOM_MAX_DAC"),
    T0(2106, "ANOM_MAX_MAC"),
    T0(2107, "ANOM_AMTU_FAIL"),
    T0(2108, "ANOM_RBAC_FAIL"),
    T0(2109, "ANOM_RBAC_INTEGRITY_FAIL"),
    T0(2110, "ANOM_CRYPTO_FAIL"),
    T0(2111, "ANOM_ACCESS_FS"),
    T0(2112, "ANOM_EXEC"),
    T0(2113, "ANOM_MK_EXEC"),
    T0(2114, "ANOM_ADD_ACCT"),
    T0(2115, "ANOM_DEL_ACCT"),
    T0(2116, "ANOM_MOD_ACCT"),
    T0(2117, "ANOM_ROOT_TRANS"),
    T0(2118, "ANOM_LOGIN_SERVICE"),
    T0(2400, "CRYPTO_TEST_USER"),
    T0(2401, "CRYPTO_PARAM_CHANGE_USER"),
    T(2402, "CRYPTO_LOGIN", "authentication", "start"),
    T(2403, "CRYPTO_LOGOUT", "authentication", "end"),
    T0(2404, "CRYPTO_KEY_USER"),
    T0(2405, "CRYPTO_FAILURE_USER"),
    T0(2406, "CRYPTO_REPLAY_USER"),
    T0(2407, "CRYPTO_SESSION"),
};

static const struct audit_type *type_by_num(unsigned num)
{
    size_t lo = 0, hi = TRL_ARRAY_LEN(audit_types);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (audit_types[mid].num == num)
            return &audit_types[mid];
        if (audit_types[mid].num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* audit_types by name (core/name_index.h), built once: every record's type is looked up several
 * times on its way (parse, assembly, classification); a scan of the whole list cost more than the
 * rest of that. */
#define TYPE_SLOTS 512
_Static_assert(TRL_ARRAY_LEN(audit_types) < TYPE_SLOTS / 2, "the type table must stay sparse");
_Static_assert(TRL_ARRAY_LEN(audit_types) < UINT8_MAX, "type indices must fit in a byte");

static unsigned char type_slots[TYPE_SLOTS];
static pthread_once_t type_slots_once = PTHREAD_ONCE_INIT;

static void build_type_slots(void)
{
    for (size_t i = 0; i < TRL_ARRAY_LEN(audit_types); i++)
        trl_name_index_put(type_slots, TYPE_SLOTS, audit_types[i].name, audit_types[i].len, i);
}

static const char *type_name_at(const void *table, size_t pos, size_t *len)
{
    const struct audit_type *t = (const struct audit_type *)table + pos;
    *len = t->len;
    return t->name;
}

static const struct audit_type *type_by_name(const char *name, size_t len)
{
    pthread_once(&type_slots_once, build_type_slots);
    if (len == 0 || len > 32)
        return NULL;
    int i = trl_name_index_find(type_slots, TYPE_SLOTS, audit_types, type_name_at, name, len);
    return i < 0 ? NULL : &audit_types[i];
}

const char *trl_audit_type_name(unsigned type)
{
    const struct audit_type *t = type_by_num(type);
    return t ? t->name : NULL;
}

const char *trl_audit_type_literal(const char *name, size_t len)
{
    const struct audit_type *t = type_by_name(name, len);
    return t ? t->name : NULL;
}

unsigned trl_audit_type_number(const char *name, size_t len)
{
    const struct audit_type *t = type_by_name(name, len);
    if (t)
        return t->num;
    /* auditd writes types it has no name for as "UNKNOWN[1334]". */
    uint64_t n;
    if (trl_starts_with(name, len, "UNKNOWN[") && len > 9 && name[len - 1] == ']' &&
        trl_parse_u64(name + 8, len - 9, &n) && n < 65536)
        return (unsigned)n;
    if (trl_parse_u64(name, len, &n) && n < 65536)
        return (unsigned)n;
    return 0;
}

bool trl_audit_type_is_standalone(const char *name, size_t len)
{
    unsigned n = trl_audit_type_number(name, len);
    /* AUDIT_FIRST_USER_MSG..AUDIT_LAST_USER_MSG (with the daemon range) and AUDIT_FIRST_USER_MSG2..
     * AUDIT_LAST_USER_MSG2: messages sent by user-space programs, one record each. */
    return (n >= 1100 && n <= 1299) || (n >= 2100 && n <= 2999);
}

struct syscall_name {
    uint16_t nr;
    const char *name;
};

/* x86_64 (arch=c000003e) numbers of the syscalls audit rules commonly watch, sorted by number. */
static const struct syscall_name x86_64_syscalls[] = {
    {0, "read"},
    {1, "write"},
    {2, "open"},
    {3, "close"},
    {9, "mmap"},
    {10, "mprotect"},
    {16, "ioctl"},
    {41, "socket"},
    {42, "connect"},
    {43, "accept"},
    {44, "sendto"},
    {45, "recvfrom"},
    {46, "sendmsg"},
    {47, "recvmsg"},
    {49, "bind"},
    {50, "listen"},
    {56, "clone"},
    {57, "fork"},
    {58, "vfork"},
    {59, "execve"},
    {60, "exit"},
    {62, "kill"},
    {76, "truncate"},
    {77, "ftruncate"},
    {80, "chdir"},
    {82, "rename"},
    {83, "mkdir"},
    {84, "rmdir"},
    {85, "creat"},
    {86, "link"},
    {87, "unlink"},
    {88, "symlink"},
    {90, "chmod"},
    {91, "fchmod"},
    {92, "chown"},
    {93, "fchown"},
    {94, "lchown"},
    {101, "ptrace"},
    {105, "setuid"},
    {106, "setgid"},
    {113, "setreuid"},
    {114, "setregid"},
    {117, "setresuid"},
    {119, "setresgid"},
    {133, "mknod"},
    {157, "prctl"},
    {161, "chroot"},
    {165, "mount"},
    {166, "umount2"},
    {169, "reboot"},
    {170, "sethostname"},
    {175, "init_module"},
    {176, "delete_module"},
    {200, "tkill"},
    {231, "exit_group"},
    {234, "tgkill"},
    {257, "openat"},
    {258, "mkdirat"},
    {259, "mknodat"},
    {260, "fchownat"},
    {263, "unlinkat"},
    {264, "renameat"},
    {265, "linkat"},
    {266, "symlinkat"},
    {268, "fchmodat"},
    {272, "unshare"},
    {288, "accept4"},
    {308, "setns"},
    {313, "finit_module"},
    {316, "renameat2"},
    {319, "memfd_create"},
    {321, "bpf"},
    {322, "execveat"},
    {435, "clone3"},
    {437, "openat2"},
};

const char *trl_audit_syscall_name(const char *nr, size_t len)
{
    uint64_t n;
    if (!trl_parse_u64(nr, len, &n))
        return NULL;
    size_t lo = 0, hi = TRL_ARRAY_LEN(x86_64_syscalls);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x86_64_syscalls[mid].nr == n)
            return x86_64_syscalls[mid].name;
        if (x86_64_syscalls[mid].nr < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Finds a dynamic field by its full name. The auditd.* and user.audit.* names read here are never
 * known fields, so the lookup finds the dynamic field of that name. */
static const char *get_dyn(const struct trl_event *ev, const char *name, size_t nlen, size_t *len)
{
    return trl_event_get_named(ev, name, nlen, len);
}

const char *trl_audit_data(const struct trl_event *rec, const char *key, size_t *len)
{
    char name[TRL_AUDIT_DATA_PREFIX_LEN + TRL_AUDIT_KEY_MAX];
    size_t klen = strlen(key);
    if (klen > TRL_AUDIT_KEY_MAX)
        return NULL;
    memcpy(name, TRL_AUDIT_DATA_PREFIX, TRL_AUDIT_DATA_PREFIX_LEN);
    memcpy(name + TRL_AUDIT_DATA_PREFIX_LEN, key, klen);
    return get_dyn(rec, name, TRL_AUDIT_DATA_PREFIX_LEN + klen, len);
}

static bool lit_eq(const char *v, size_t len, const char *lit)
{
    return v && strlen(lit) == len && memcmp(v, lit, len) == 0;
}

static bool is_digits(const char *v, size_t len)
{
    if (len == 0 || len > 19)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
    }
    return true;
}

/* Sets f unless it already has a value: the record applied first wins. v is stored by reference:
 * a literal, a value of rec (which lives as long as ev's arena, see audit_ecs.h) or a value already
 * in ev's arena. */
static void put(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (v && len > 0 && !trl_event_has(ev, f))
        trl_event_set_ref(ev, f, v, len);
}

/* put() for a value in a buffer of the caller's that does not outlive the call: copied. */
static void put_copy(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (v && len > 0 && !trl_event_has(ev, f))
        trl_event_set(ev, f, v, len);
}

/* Sets a dynamic field (name a literal) unless present; refs says whether v is stored by reference
 * (as in put()) or copied (as in put_copy()). */
static void put_named_ex(struct trl_event *ev, const char *name, const char *v, size_t len,
                         bool ref)
{
    size_t nlen = strlen(name), old;
    if (v && len > 0 && !get_dyn(ev, name, nlen, &old))
        trl_event_set_dynamic_ex(ev, name, nlen, v, len, TRL_REF_NAME | (ref ? TRL_REF_VALUE : 0));
}

static void put_named(struct trl_event *ev, const char *name, const char *v, size_t len)
{
    put_named_ex(ev, name, v, len, false);
}

/* Values audit writes for "nobody" or "not known" rather than a real name or path. */
static bool is_placeholder(const char *v, size_t len)
{
    if (len == 0)
        return true;
    /* Every placeholder starts with one of these: most values are rejected by their first byte. */
    if (v[0] != '?' && v[0] != '(' && v[0] != 'u')
        return false;
    return lit_eq(v, len, "?") || lit_eq(v, len, "(null)") || lit_eq(v, len, "(none)") ||
           lit_eq(v, len, "unset") || lit_eq(v, len, "(unknown)") ||
           lit_eq(v, len, "(invalid user)") || trl_starts_with(v, len, "unknown(");
}

static const char *data(const struct trl_event *rec, const char *key, size_t *len)
{
    const char *v = trl_audit_data(rec, key, len);
    return v && !is_placeholder(v, *len) ? v : NULL;
}

static const char *basename_of(const char *p, size_t len, size_t *blen)
{
    size_t i = len;
    while (i > 0 && p[i - 1] != '/')
        i--;
    *blen = len - i;
    return p + i;
}

/* The keys trl_audit_ecs_common() maps, found in one pass over the record's fields. */
enum common_key {
    K_PID,
    K_PPID,
    K_COMM,
    K_EXE,
    K_CWD,
    K_UID,
    K_EUID,
    K_GID,
    K_AUID,
    K_SES,
    K_TTY,
    K_KEY,
    K_SYSCALL,
    K_ARCH,
    K_SUCCESS,
    K_RES,
    K_ACCT,
    K_ID,
    K_ADDR,
    K_UNIT,
    K_CMD,
    K_E_UID, /* the enriched block's resolved names */
    K_E_EUID,
    K_E_GID,
    K_E_AUID,
    K_E_SYSCALL,
    K__COUNT
};

static const struct {
    const char *name;
    uint8_t len;
    uint8_t key;
} common_keys[] = {
#define CK(n, k)                                                                                   \
    {                                                                                              \
        n, sizeof(n) - 1, k                                                                        \
    }
    CK("pid", K_PID),         CK("ppid", K_PPID),         CK("comm", K_COMM),
    CK("exe", K_EXE),         CK("cwd", K_CWD),           CK("uid", K_UID),
    CK("euid", K_EUID),       CK("gid", K_GID),           CK("auid", K_AUID),
    CK("ses", K_SES),         CK("tty", K_TTY),           CK("key", K_KEY),
    CK("syscall", K_SYSCALL), CK("arch", K_ARCH),         CK("success", K_SUCCESS),
    CK("res", K_RES),         CK("acct", K_ACCT),         CK("id", K_ID),
    CK("addr", K_ADDR),       CK("unit", K_UNIT),         CK("cmd", K_CMD),
    CK("UID", K_E_UID),       CK("EUID", K_E_EUID),       CK("GID", K_E_GID),
    CK("AUID", K_E_AUID),     CK("SYSCALL", K_E_SYSCALL),
#undef CK
};

/* common_keys chained by their length and first byte, built once and read-only afterwards: a
 * record's key is compared with the one or two keys that can match it, not with every one. Only
 * the few rows of the lengths in use are ever touched. */
static struct {
    unsigned char head[UINT8_MAX + 1][256]; /* index in common_keys plus one, 0: none */
    unsigned char next[TRL_ARRAY_LEN(common_keys)];
} key_index;
static pthread_once_t key_index_once = PTHREAD_ONCE_INIT;

_Static_assert(TRL_ARRAY_LEN(common_keys) < 255, "key indices must fit in an unsigned char");

static void build_key_index(void)
{
    for (size_t k = TRL_ARRAY_LEN(common_keys); k-- > 0;) {
        unsigned char *head =
            &key_index.head[common_keys[k].len][(unsigned char)common_keys[k].name[0]];
        key_index.next[k] = *head;
        *head = (unsigned char)(k + 1);
    }
}

/* The index in common_keys of the key klen bytes long at key, or -1. */
static int common_key(const char *key, size_t klen)
{
    if (klen == 0 || klen > UINT8_MAX)
        return -1;
    for (unsigned k = key_index.head[klen][(unsigned char)key[0]]; k; k = key_index.next[k - 1]) {
        if (trl_short_eq(common_keys[k - 1].name, key, klen))
            return (int)k - 1;
    }
    return -1;
}

struct slot {
    const char *v;
    size_t len;
};

static void collect(const struct trl_event *rec, struct slot *slots)
{
    pthread_once(&key_index_once, build_key_index);
    memset(slots, 0, K__COUNT * sizeof(*slots));
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const struct trl_kv *kv = &rec->fields[i];
        if (kv->field || !trl_audit_is_data_name(kv->name, kv->name_len))
            continue;
        const char *key = kv->name + TRL_AUDIT_DATA_PREFIX_LEN;
        size_t klen = kv->name_len - TRL_AUDIT_DATA_PREFIX_LEN;
        int k = common_key(key, klen);
        if (k < 0)
            continue;
        struct slot *s = &slots[common_keys[k].key];
        if (!s->v && !is_placeholder(kv->val, kv->val_len)) {
            s->v = kv->val;
            s->len = kv->val_len;
        }
    }
}

static void put_slot(struct trl_event *ev, enum trl_field f, const struct slot *s)
{
    put(ev, f, s->v, s->len);
}

static void set_outcome(struct trl_event *ev, const char *v, size_t len)
{
    if (lit_eq(v, len, "yes") || lit_eq(v, len, "success") || lit_eq(v, len, "1"))
        put(ev, TRL_F_EVENT_OUTCOME, "success", 7);
    else if (lit_eq(v, len, "no") || lit_eq(v, len, "failed") || lit_eq(v, len, "0"))
        put(ev, TRL_F_EVENT_OUTCOME, "failure", 7);
}

static void map_syscall(struct trl_event *ev, const struct slot *s)
{
    const struct slot *nr = &s[K_SYSCALL], *arch = &s[K_ARCH], *named = &s[K_E_SYSCALL];
    const char *name = NULL;
    if (!nr->v)
        return;
    if (lit_eq(arch->v, arch->len, "c000003e"))
        name = trl_audit_syscall_name(nr->v, nr->len);
    if (name)
        put(ev, TRL_F_AUDITD_SYSCALL, name, strlen(name));
    else if (named->v) /* the enriched form names the syscall for any architecture */
        put_slot(ev, TRL_F_AUDITD_SYSCALL, named);
    else
        put_slot(ev, TRL_F_AUDITD_SYSCALL, nr);
}

void trl_audit_ecs_common(struct trl_event *ev, const struct trl_event *rec, const char *rtype,
                          size_t rtlen)
{
    const struct audit_type *t = type_by_name(rtype, rtlen);
    enum acct_role role = t ? (enum acct_role)t->role : ACCT_ACTOR;
    struct slot s[K__COUNT];
    collect(rec, s);

    /* User-space messages: acct= is the user who authenticates, or the account or group managed;
     * it comes before the enriched UID so that it wins user.name. */
    if (s[K_ACCT].v) {
        put_slot(ev,
                 role == ACCT_ACTOR         ? TRL_F_USER_NAME
                 : role == ACCT_TARGET_USER ? TRL_F_USER_TARGET_NAME
                                            : TRL_F_GROUP_NAME,
                 &s[K_ACCT]);
    }
    if (role != ACCT_ACTOR && is_digits(s[K_ID].v, s[K_ID].len))
        put_slot(ev, role == ACCT_TARGET_USER ? TRL_F_USER_TARGET_ID : TRL_F_GROUP_ID, &s[K_ID]);
    if (s[K_ADDR].v && trl_is_ip(s[K_ADDR].v, s[K_ADDR].len))
        put_slot(ev, TRL_F_SOURCE_IP, &s[K_ADDR]);
    put_slot(ev, TRL_F_SERVICE_NAME, &s[K_UNIT]);
    put_slot(ev, TRL_F_PROCESS_COMMAND_LINE, &s[K_CMD]);

    if (is_digits(s[K_PID].v, s[K_PID].len))
        put_slot(ev, TRL_F_PROCESS_PID, &s[K_PID]);
    if (is_digits(s[K_PPID].v, s[K_PPID].len))
        put_slot(ev, TRL_F_PROCESS_PARENT_PID, &s[K_PPID]);
    put_slot(ev, TRL_F_PROCESS_NAME, &s[K_COMM]);
    if (s[K_EXE].v) {
        put_slot(ev, TRL_F_PROCESS_EXECUTABLE, &s[K_EXE]);
        size_t blen;
        const char *base = basename_of(s[K_EXE].v, s[K_EXE].len, &blen);
        put(ev, TRL_F_PROCESS_NAME, base, blen);
    }
    put_slot(ev, TRL_F_PROCESS_WORKING_DIRECTORY, &s[K_CWD]);
    put_slot(ev, TRL_F_USER_ID, &s[K_UID]);
    put_slot(ev, TRL_F_USER_EFFECTIVE_ID, &s[K_EUID]);
    put_slot(ev, TRL_F_GROUP_ID, &s[K_GID]);
    put_slot(ev, TRL_F_AUDITD_AUID, &s[K_AUID]);
    put_slot(ev, TRL_F_AUDITD_SES, &s[K_SES]);
    put_slot(ev, TRL_F_AUDITD_TTY, &s[K_TTY]);
    if (s[K_KEY].v && !trl_event_has(ev, TRL_F_AUDITD_KEY)) {
        /* Several rule keys on one event are joined by \x01. */
        char *k = trl_arena_strndup(ev->arena, s[K_KEY].v, s[K_KEY].len);
        for (size_t i = 0; i < s[K_KEY].len; i++) {
            if (k[i] == '\x01')
                k[i] = ',';
        }
        put(ev, TRL_F_AUDITD_KEY, k, s[K_KEY].len);
    }
    map_syscall(ev, s);
    if (s[K_SUCCESS].v)
        set_outcome(ev, s[K_SUCCESS].v, s[K_SUCCESS].len);
    else if (s[K_RES].v)
        set_outcome(ev, s[K_RES].v, s[K_RES].len);
    /* The enriched block after \x1d carries the names auditd resolved on the audited host. */
    put_slot(ev, TRL_F_USER_NAME, &s[K_E_UID]);
    put_slot(ev, TRL_F_USER_EFFECTIVE_NAME, &s[K_E_EUID]);
    put_slot(ev, TRL_F_GROUP_NAME, &s[K_E_GID]);
    put_named_ex(ev, "user.audit.name", s[K_E_AUID].v, s[K_E_AUID].len, true);
}

static bool needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '\\')
            return true;
    }
    return false;
}

/* process.args_count and process.command_line from the process.args already set on ev. */
static void command_line(struct trl_event *ev)
{
    size_t total = 0, nargs = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].field == TRL_F_PROCESS_ARGS) {
            total += ev->fields[i].val_len * 2 + 3;
            nargs++;
        }
    }
    if (nargs == 0)
        return;
    char *cmd = trl_arena_alloc(ev->arena, total + 1);
    size_t clen = 0, n = 0;
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field != TRL_F_PROCESS_ARGS)
            continue;
        if (n++)
            cmd[clen++] = ' ';
        if (needs_quotes(kv->val, kv->val_len)) {
            cmd[clen++] = '"';
            for (size_t k = 0; k < kv->val_len; k++) {
                if (kv->val[k] == '"' || kv->val[k] == '\\')
                    cmd[clen++] = '\\';
                cmd[clen++] = kv->val[k];
            }
            cmd[clen++] = '"';
        } else {
            memcpy(cmd + clen, kv->val, kv->val_len);
            clen += kv->val_len;
        }
    }
    cmd[clen] = '\0';
    trl_event_set_int(ev, TRL_F_PROCESS_ARGS_COUNT, (int64_t)nargs);
    put(ev, TRL_F_PROCESS_COMMAND_LINE, cmd, clen);
}

void trl_audit_ecs_execve(struct trl_event *ev, const struct trl_event *const *recs, size_t n)
{
    if (n == 1 && recs[0] == ev) {
        command_line(ev);
        return;
    }
    if (trl_event_has(ev, TRL_F_PROCESS_ARGS))
        return;
    /* Each record holds the next arguments in order; a record that starts in the middle of an
     * argument (auditd.execve.continued) extends the previous record's last one. */
    const char *last = NULL;
    size_t last_len = 0;
    bool have_last = false;
    for (size_t r = 0; r < n; r++) {
        const struct trl_event *rec = recs[r];
        size_t clen;
        bool cont = get_dyn(rec, "auditd.execve.continued", 23, &clen) != NULL;
        for (uint32_t i = 0; i < rec->nfields; i++) {
            const struct trl_kv *kv = &rec->fields[i];
            if (kv->field != TRL_F_PROCESS_ARGS)
                continue;
            if (cont && have_last) {
                char *joined = trl_arena_alloc(ev->arena, last_len + kv->val_len + 1);
                memcpy(joined, last, last_len);
                memcpy(joined + last_len, kv->val, kv->val_len);
                joined[last_len + kv->val_len] = '\0';
                last = joined;
                last_len += kv->val_len;
            } else {
                if (have_last)
                    trl_event_add_ref(ev, TRL_F_PROCESS_ARGS, last, last_len);
                last = kv->val;
                last_len = kv->val_len;
                have_last = true;
            }
            cont = false;
        }
    }
    if (have_last)
        trl_event_add_ref(ev, TRL_F_PROCESS_ARGS, last, last_len);
    command_line(ev);
}

void trl_audit_ecs_proctitle(struct trl_event *ev, const struct trl_event *rec)
{
    size_t len;
    const char *v = data(rec, "proctitle", &len);
    while (v && len > 0 && v[len - 1] == ' ')
        len--;
    put(ev, TRL_F_PROCESS_TITLE, v, len);
}

static const char *file_type(uint64_t mode)
{
    switch (mode & 0170000) {
    case 0100000:
        return "file";
    case 0040000:
        return "dir";
    case 0120000:
        return "symlink";
    case 0020000:
        return "char_device";
    case 0060000:
        return "block_device";
    case 0010000:
        return "fifo";
    case 0140000:
        return "socket";
    default:
        return NULL;
    }
}

static bool parse_octal(const char *v, size_t len, uint64_t *out)
{
    if (len == 0 || len > 12)
        return false;
    uint64_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '7')
            return false;
        m = m * 8 + (uint64_t)(v[i] - '0');
    }
    *out = m;
    return true;
}

void trl_audit_ecs_path(struct trl_event *ev, const struct trl_event *rec, const char *cwd,
                        size_t cwdlen)
{
    size_t len;
    const char *v = data(rec, "name", &len);
    if (v && !trl_event_has(ev, TRL_F_FILE_PATH)) {
        if (v[0] != '/' && cwd && cwdlen > 0) {
            /* A relative name is relative to the process's working directory. */
            bool slash = cwd[cwdlen - 1] == '/';
            char *full = trl_arena_sprintf(ev->arena, "%.*s%s%.*s", (int)cwdlen, cwd,
                                           slash ? "" : "/", (int)len, v);
            trl_event_set_ref(ev, TRL_F_FILE_PATH, full, strlen(full));
        } else {
            trl_event_set_ref(ev, TRL_F_FILE_PATH, v, len);
        }
        size_t blen;
        const char *base = basename_of(v, len, &blen);
        put(ev, TRL_F_FILE_NAME, base, blen);
    }
    if ((v = data(rec, "inode", &len)))
        put(ev, TRL_F_FILE_INODE, v, len);
    uint64_t mode;
    if ((v = data(rec, "mode", &len)) && parse_octal(v, len, &mode)) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%04o", (unsigned)(mode & 07777));
        put_copy(ev, TRL_F_FILE_MODE, buf, (size_t)n);
        const char *ft = file_type(mode);
        if (ft)
            put(ev, TRL_F_FILE_TYPE, ft, strlen(ft));
    }
    if ((v = data(rec, "ouid", &len)))
        put(ev, TRL_F_FILE_UID, v, len);
    if ((v = data(rec, "ogid", &len)))
        put(ev, TRL_F_FILE_GID, v, len);
    if ((v = data(rec, "OUID", &len)))
        put(ev, TRL_F_FILE_OWNER, v, len);
}

void trl_audit_ecs_sockaddr(struct trl_event *ev, const struct trl_event *rec,
                            enum trl_audit_peer peer)
{
    size_t len;
    const char *v = data(rec, "saddr", &len);
    unsigned char b[128];
    size_t n = 0;
    if (!v)
        return;
    for (size_t i = 0; i + 1 < len && n < sizeof(b); i += 2) {
        int hi = trl_hex_value(v[i]), lo = trl_hex_value(v[i + 1]);
        if (hi < 0 || lo < 0)
            return;
        b[n++] = (unsigned char)(hi << 4 | lo);
    }
    if (n < 2)
        return;
    /* sa_family is in host byte order: little-endian on x86, big-endian on s390x and others. */
    unsigned family = b[0] ? b[0] : b[1];
    char addr[INET6_ADDRSTRLEN];
    unsigned port = 0;
    bool ip = false;
    if (family == 2 && n >= 8) {
        port = (unsigned)b[2] << 8 | b[3];
        ip = inet_ntop(AF_INET, b + 4, addr, sizeof(addr)) != NULL;
        put_named(ev, "auditd.data.socket.family", "inet", 4);
    } else if (family == 10 && n >= 24) {
        port = (unsigned)b[2] << 8 | b[3];
        ip = inet_ntop(AF_INET6, b + 8, addr, sizeof(addr)) != NULL;
        put_named(ev, "auditd.data.socket.family", "inet6", 5);
    } else if (family == 1) {
        put_named(ev, "auditd.data.socket.family", "unix", 4);
        /* An abstract socket name starts with a NUL byte; show it with the usual '@'. */
        char path[sizeof(b) + 1];
        size_t plen = 0;
        size_t i = 2;
        if (i < n && b[i] == 0) {
            path[plen++] = '@';
            i++;
        }
        for (; i < n && b[i]; i++)
            path[plen++] = (char)b[i];
        put_named(ev, "auditd.data.socket.path", path, plen);
    } else if (family == 16) {
        put_named(ev, "auditd.data.socket.family", "netlink", 7);
    }
    if (!ip)
        return;
    char portbuf[8];
    int plen = snprintf(portbuf, sizeof(portbuf), "%u", port);
    put_named(ev, "auditd.data.socket.addr", addr, strlen(addr));
    put_named(ev, "auditd.data.socket.port", portbuf, (size_t)plen);
    if (peer == TRL_AUDIT_PEER_NONE)
        return;
    bool src = peer == TRL_AUDIT_PEER_SOURCE;
    put_copy(ev, src ? TRL_F_SOURCE_IP : TRL_F_DESTINATION_IP, addr, strlen(addr));
    put_copy(ev, src ? TRL_F_SOURCE_PORT : TRL_F_DESTINATION_PORT, portbuf, (size_t)plen);
}

struct syscall_class {
    const char *names; /* space-separated, with a space at both ends */
    const char *category;
    const char *type;
    const char *action;
};

static const struct syscall_class syscall_classes[] = {
    {" execve execveat ", "process", "start", "executed"},
    {" connect ", "network", "connection", "connected-to"},
    {" accept accept4 ", "network", "connection", "accepted-connection-from"},
    {" bind ", "network", "start", "bound-socket"},
    {" listen ", "network", "start", "listen-for-connections"},
    {" unlink unlinkat rmdir ", "file", "deletion", "deleted-file"},
    {" rename renameat renameat2 ", "file", "change", "renamed-file"},
    {" chmod fchmod fchmodat ", "file", "change", "changed-file-permissions"},
    {" chown fchown lchown fchownat ", "file", "change", "changed-file-ownership"},
    {" link linkat symlink symlinkat ", "file", "creation", "created-link"},
    {" mkdir mkdirat ", "file", "creation", "created-directory"},
    {" mknod mknodat creat ", "file", "creation", "created-file"},
    {" truncate ftruncate ", "file", "change", "modified-file"},
    {" init_module finit_module ", "driver", "start", "loaded-kernel-module"},
    {" delete_module ", "driver", "end", "unloaded-kernel-module"},
    {" ptrace ", "process", "access", "traced-process"},
    {" setuid setgid setreuid setregid setresuid setresgid ", "process", "change",
     "changed-identity"},
    {" kill tkill tgkill ", "process", "end", "killed-process"},
    {" mount ", "host", "change", "mounted"},
    {" umount2 ", "host", "change", "unmounted"},
    {" reboot ", "host", "end", "rebooted"},
    {" sethostname ", "host", "change", "changed-hostname"},
};

static const struct syscall_class *syscall_class(const char *name, size_t len)
{
    char key[40];
    if (len == 0 || len + 2 >= sizeof(key))
        return NULL;
    key[0] = ' ';
    memcpy(key + 1, name, len);
    key[len + 1] = ' ';
    key[len + 2] = '\0';
    for (size_t i = 0; i < TRL_ARRAY_LEN(syscall_classes); i++) {
        if (strstr(syscall_classes[i].names, key))
            return &syscall_classes[i];
    }
    return NULL;
}

static void add_class(struct trl_event *ev, const char *cat, const char *type, const char *action)
{
    if (cat && !trl_event_has(ev, TRL_F_EVENT_CATEGORY))
        trl_event_add_ref(ev, TRL_F_EVENT_CATEGORY, cat, strlen(cat));
    if (type && !trl_event_has(ev, TRL_F_EVENT_TYPE))
        trl_event_add_ref(ev, TRL_F_EVENT_TYPE, type, strlen(type));
    if (action)
        put(ev, TRL_F_EVENT_ACTION, action, strlen(action));
}

/* True when any PATH item of the event was created by it (nametype=CREATE). */
static bool has_created_path(const struct trl_event *ev)
{
    static const char pfx[] = "auditd.paths.";
    static const char sfx[] = ".nametype";
    for (uint32_t i = 0; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (kv->field || kv->name_len < sizeof(pfx) + sizeof(sfx) - 2 ||
            memcmp(kv->name, pfx, sizeof(pfx) - 1) != 0 ||
            memcmp(kv->name + kv->name_len - (sizeof(sfx) - 1), sfx, sizeof(sfx) - 1) != 0)
            continue;
        if (lit_eq(kv->val, kv->val_len, "CREATE"))
            return true;
    }
    return false;
}

/* open(2) flags: a1 of open, a2 of openat, as the hex register value. */
static void classify_open(struct trl_event *ev, bool at)
{
    size_t len;
    const char *v = trl_audit_data(ev, at ? "a2" : "a1", &len);
    uint64_t flags = 0;
    for (size_t i = 0; v && i < len && i < 16; i++) {
        int d = trl_hex_value(v[i]);
        if (d < 0)
            break;
        flags = flags << 4 | (uint64_t)d;
    }
    /* O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND. */
    bool write = (flags & 03) || (flags & (0100 | 01000 | 02000));
    if (has_created_path(ev))
        add_class(ev, "file", "creation", "created-file");
    else if (write)
        add_class(ev, "file", "change", "modified-file");
    else
        add_class(ev, "file", "access", "opened-file");
}

static void classify_syscall(struct trl_event *ev)
{
    size_t len;
    const char *sc = trl_event_get(ev, TRL_F_AUDITD_SYSCALL, &len);
    if (!sc)
        return;
    if (lit_eq(sc, len, "open") || lit_eq(sc, len, "openat") || lit_eq(sc, len, "openat2")) {
        classify_open(ev, !lit_eq(sc, len, "open"));
        return;
    }
    const struct syscall_class *c = syscall_class(sc, len);
    if (c) {
        add_class(ev, c->category, c->type, c->action);
        return;
    }
    /* Any other named syscall: the name says what happened; a bare number says nothing. */
    if (!is_digits(sc, len))
        put(ev, TRL_F_EVENT_ACTION, sc, len);
}

/* AppArmor writes apparmor="DENIED"/"ALLOWED"; SELinux "avc:  denied  { read }" (seresult). */
static void classify_avc(struct trl_event *ev)
{
    size_t len;
    const char *v = trl_audit_data(ev, "apparmor", &len);
    if (!v)
        v = trl_audit_data(ev, "seresult", &len);
    if (!v)
        return;
    if (trl_strcase_eq(v, len, "denied", 6)) {
        add_class(ev, NULL, "denied", NULL);
        put(ev, TRL_F_EVENT_OUTCOME, "failure", 7);
    } else if (trl_strcase_eq(v, len, "allowed", 7) || trl_strcase_eq(v, len, "granted", 7)) {
        add_class(ev, NULL, "allowed", NULL);
    }
}

void trl_audit_ecs_classify(struct trl_event *ev)
{
    put(ev, TRL_F_EVENT_KIND, "event", 5);
    size_t len;
    const char *rtype = trl_event_get(ev, TRL_F_AUDITD_RECORD_TYPE, &len);
    if (!rtype)
        return;
    if (lit_eq(rtype, len, "SYSCALL")) {
        classify_syscall(ev);
        return;
    }
    const struct audit_type *t = type_by_name(rtype, len);
    if (lit_eq(rtype, len, "AVC") || lit_eq(rtype, len, "USER_AVC"))
        classify_avc(ev);
    if (t) {
        bool have_cat = trl_event_has(ev, TRL_F_EVENT_CATEGORY);
        bool have_type = trl_event_has(ev, TRL_F_EVENT_TYPE);
        for (int i = 0; i < 2; i++) {
            if (t->cat[i] && !have_cat)
                trl_event_add_ref(ev, TRL_F_EVENT_CATEGORY, t->cat[i], strlen(t->cat[i]));
            if (t->type[i] && !have_type)
                trl_event_add_ref(ev, TRL_F_EVENT_TYPE, t->type[i], strlen(t->type[i]));
        }
    }
    if (t && t->action) {
        put(ev, TRL_F_EVENT_ACTION, t->action, strlen(t->action));
        return;
    }
    /* The kernel's auxiliary records (PATH, CWD, EXECVE, PROCTITLE, SOCKADDR, EOE, ...) are parts
     * of a SYSCALL event and say nothing happened on their own. */
    if (t && t->num >= 1300 && t->num < 1400 && !t->cat[0])
        return;
    /* Any other type: its name in lower case with '-', as event.action wants ("user-login"). */
    char *action = trl_arena_strndup(ev->arena, rtype, len);
    for (size_t i = 0; i < len; i++) {
        char c = action[i];
        if (c >= 'A' && c <= 'Z')
            action[i] = (char)(c - 'A' + 'a');
        else if (c == '_')
            action[i] = '-';
    }
    put(ev, TRL_F_EVENT_ACTION, action, len);
}

void trl_audit_ecs_related(struct trl_event *ev)
{
    static const enum trl_field ips[] = {TRL_F_SOURCE_IP, TRL_F_DESTINATION_IP};
    static const enum trl_field users[] = {TRL_F_USER_NAME, TRL_F_USER_EFFECTIVE_NAME,
                                           TRL_F_USER_TARGET_NAME};
    size_t len;
    const char *v;
    for (size_t i = 0; i < TRL_ARRAY_LEN(ips); i++) {
        if ((v = trl_event_get(ev, ips[i], &len)))
            trl_event_add_unique_ref(ev, TRL_F_RELATED_IP, v, len);
    }
    for (size_t i = 0; i < TRL_ARRAY_LEN(users); i++) {
        if ((v = trl_event_get(ev, users[i], &len)))
            trl_event_add_unique_ref(ev, TRL_F_RELATED_USER, v, len);
    }
    /* A plain scan: the name often shares its bit of the event's name filter with an
     * auditd.data.* name, which makes trl_event_get_named() compare more. */
    static const char audit_name[] = "user.audit.name";
    for (uint32_t i = ev->first_named ? ev->first_named - 1 : ev->nfields; i < ev->nfields; i++) {
        const struct trl_kv *kv = &ev->fields[i];
        if (!kv->field && kv->name_len == sizeof(audit_name) - 1 &&
            trl_short_eq(kv->name, audit_name, sizeof(audit_name) - 1)) {
            trl_event_add_unique_ref(ev, TRL_F_RELATED_USER, kv->val, kv->val_len);
            break;
        }
    }
}
