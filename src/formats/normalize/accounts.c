/*
 * accounts: shadow-utils account management lines (useradd, userdel, usermod, groupadd, groupdel,
 * groupmod, gpasswd, passwd, chage, chfn, chsh) and PAM lines of chpasswd / passwd.
 *
 * Each shape is a format with placeholders that say which field a value fills; older shadow
 * releases quote names as `name' where newer ones write 'name', and both are accepted. One
 * command may log several lines (groupadd writes /etc/group, /etc/gshadow and "new group"; usermod
 * writes the group and the shadow group), and each becomes an event of its own.
 *
 * Placeholders: %A account acted on (user.target.name), %B acting user (user.name), %G group.name,
 * %U user.target.id, %I group.id, %N new account name (user.changes.name), %O / %V old / new value
 * (accounts.old_value / accounts.new_value), %P database file (file.path), %X groupmod's change
 * description ("group NAME/GID, ..."), %- ignored. A placeholder runs to the text that follows it
 * in the format; a final %A, %B or %G is one word (gpasswd may append " in gshadow" and the like).
 */
#include "formats/normalize.h"
#include "formats/normalize/scan.h"

#include <string.h>

#define IAM_CLASS(name, type, type2, action, outcome)                                              \
    static const struct trl_norm_class name = {"iam", type, type2, action, outcome}

IAM_CLASS(cls_user_created, "user", "creation", "user-created", "success");
IAM_CLASS(cls_user_create_failed, "user", "creation", "user-created", "failure");
IAM_CLASS(cls_user_deleted, "user", "deletion", "user-deleted", "success");
IAM_CLASS(cls_user_modified, "user", "change", "user-modified", "success");
IAM_CLASS(cls_user_renamed, "user", "change", "user-renamed", "success");
IAM_CLASS(cls_password_changed, "user", "change", "password-changed", "success");
IAM_CLASS(cls_password_change_failed, "user", "change", "password-changed", "failure");
IAM_CLASS(cls_password_locked, "user", "change", "password-locked", "success");
IAM_CLASS(cls_password_unlocked, "user", "change", "password-unlocked", "success");
IAM_CLASS(cls_group_created, "group", "creation", "group-created", "success");
IAM_CLASS(cls_group_deleted, "group", "deletion", "group-deleted", "success");
IAM_CLASS(cls_group_modified, "group", "change", "group-modified", "success");
IAM_CLASS(cls_member_added, "group", "change", "group-member-added", "success");
IAM_CLASS(cls_member_add_failed, "group", "change", "group-member-added", "failure");
IAM_CLASS(cls_member_removed, "group", "change", "group-member-removed", "success");
IAM_CLASS(cls_member_remove_failed, "group", "change", "group-member-removed", "failure");

struct shape {
    const char *fmt;
    const struct trl_norm_class *cls;
    const char *attribute; /* accounts.attribute: which property changed, or NULL */
};

/* More specific formats come before those they are a prefix of. */
static const struct shape shapes[] = {
    /* useradd */
    {"new user: name=%A, UID=%U, GID=%I, home=%-, shell=%-, from=%-", &cls_user_created, NULL},
    {"new user: name=%A, UID=%U, GID=%I, home=%-, shell=%-", &cls_user_created, NULL},
    {"new group: name=%G, GID=%I", &cls_group_created, NULL},
    {"add '%A' to shadow group '%G'", &cls_member_added, NULL},
    {"add '%A' to group '%G'", &cls_member_added, NULL},
    {"failed adding user '%A', exit code: %-", &cls_user_create_failed, NULL},
    {"failed adding user '%A', data deleted", &cls_user_create_failed, NULL},
    /* userdel and usermod */
    {"delete '%A' from shadow group '%G'", &cls_member_removed, NULL},
    {"delete '%A' from group '%G'", &cls_member_removed, NULL},
    {"removed shadow group '%G' owned by '%A'", &cls_group_deleted, NULL},
    {"removed group '%G' owned by '%A'", &cls_group_deleted, NULL},
    {"delete user '%A'", &cls_user_deleted, NULL},
    {"lock user '%A' password", &cls_password_locked, NULL},
    {"unlock user '%A' password", &cls_password_unlocked, NULL},
    {"change user '%A' password", &cls_password_changed, NULL},
    {"change user name '%A' to '%N'", &cls_user_renamed, "name"},
    {"change user '%A' UID from '%O' to '%V'", &cls_user_modified, "uid"},
    {"change user '%A' GID from '%O' to '%V'", &cls_user_modified, "gid"},
    {"change user '%A' home from '%O' to '%V'", &cls_user_modified, "home"},
    {"change user '%A' shell from '%O' to '%V'", &cls_user_modified, "shell"},
    {"change user '%A' inactive from '%O' to '%V'", &cls_user_modified, "inactive"},
    {"change user '%A' expiration from '%O' to '%V'", &cls_user_modified, "expiration"},
    {"change admin '%A' to '%N' in shadow group '%G'", &cls_group_modified, "admin"},
    {"change '%A' to '%N' in shadow group '%G'", &cls_group_modified, "member"},
    {"change '%A' to '%N' in group '%G'", &cls_group_modified, "member"},
    /* groupadd, groupdel, groupmod */
    {"group added to %P: name=%G, GID=%I", &cls_group_created, NULL},
    {"group added to %P: name=%G", &cls_group_created, NULL},
    {"group '%G' removed from %P", &cls_group_deleted, NULL},
    {"group '%G' removed", &cls_group_deleted, NULL},
    {"remove group '%G'", &cls_group_deleted, NULL},
    {"group changed in %P (%X)", &cls_group_modified, NULL},
    {"change group '%G' to '%V'", &cls_group_modified, "name"},
    {"change GID for '%G' to %V", &cls_group_modified, "gid"},
    /* passwd and chage */
    {"password for '%A' changed by '%B'", &cls_password_changed, NULL},
    {"password locked for '%A'", &cls_password_locked, NULL},
    {"incorrect password for %A", &cls_password_change_failed, NULL},
    {"now < minimum age for '%A'", &cls_password_change_failed, NULL},
    {"changed password expiry for %A", &cls_user_modified, "password_expiry"},
    /* gpasswd */
    {"user %A added by %B to group %G", &cls_member_added, NULL},
    {"user %A removed by %B from group %G", &cls_member_removed, NULL},
    {"members of group %G set by %B to %V", &cls_group_modified, "members"},
    {"administrators of group %G set by %B to %V", &cls_group_modified, "administrators"},
    {"password of group %G changed by %B", &cls_group_modified, "password"},
    {"password of group %G removed by %B", &cls_group_modified, "password"},
    {"access to group %G restricted by %B", &cls_group_modified, "password"},
    {"%B failed to add user %A to group %G", &cls_member_add_failed, NULL},
    {"%B failed to remove user %A from group %G", &cls_member_remove_failed, NULL},
    {"add member %A to group %G by %B", &cls_member_added, NULL},
    {"remove member %A from group %G by %B", &cls_member_removed, NULL},
    {"change the password for group %G by %B", &cls_group_modified, "password"},
    /* chfn and chsh */
    {"changed user '%A' information", &cls_user_modified, "information"},
    {"changed user '%A' shell to '%V'", &cls_user_modified, "shell"},
};

#define MAX_SLOTS 8

struct slot {
    char kind;
    struct trl_str v;
};

/* A ' in a format also matches the ` that older releases open quotes with. */
static bool lit_at(const char *p, const char *end, const char *lit, size_t n)
{
    if ((size_t)(end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lit[i] != p[i] && !(lit[i] == '\'' && p[i] == '`'))
            return false;
    }
    return true;
}

static const char *lit_find(const char *p, const char *end, const char *lit, size_t n)
{
    for (; (size_t)(end - p) >= n; p++) {
        if (lit_at(p, end, lit, n))
            return p;
    }
    return NULL;
}

static bool is_digits(struct trl_str v)
{
    uint64_t n;
    return trl_parse_u64(v.ptr, v.len, &n);
}

/* Matches m against fmt; fills slots and returns their number, or -1. */
static int match(const char *fmt, struct trl_str m, struct slot *slots)
{
    const char *p = m.ptr, *end = m.ptr + m.len;
    const char *f = fmt;
    int n = 0;
    bool tail_ok = false;
    while (*f) {
        const char *next = strchr(f + (*f == '%' ? 2 : 0), '%');
        if (!next)
            next = f + strlen(f);
        if (*f != '%') {
            if (!lit_at(p, end, f, (size_t)(next - f)))
                return -1;
            p += next - f;
            f = next;
            continue;
        }
        char kind = f[1];
        const char *lit = f + 2;
        size_t ln = (size_t)(next - lit);
        const char *vend;
        if (ln > 0) {
            vend = lit_find(p, end, lit, ln);
        } else if (*lit == '\0') {
            vend = end;
            if (kind == 'A' || kind == 'B' || kind == 'G') {
                const char *sp = memchr(p, ' ', (size_t)(end - p));
                if (sp)
                    vend = sp;
                tail_ok = true;
            }
        } else {
            return -1; /* two placeholders in a row cannot be told apart */
        }
        if (!vend || n == MAX_SLOTS)
            return -1;
        struct trl_str v = {p, (size_t)(vend - p)};
        if (kind != '-' && v.len == 0)
            return -1;
        if ((kind == 'U' || kind == 'I') && !is_digits(v))
            return -1;
        slots[n++] = (struct slot){kind, v};
        p = vend;
        f = lit;
    }
    return p == end || tail_ok ? n : -1;
}

/* groupmod: "group NAME/GID, new name: X" or "group NAME, ..." for the gshadow line. */
static void set_described_group(struct trl_event *ev, struct trl_str d)
{
    struct trl_scan s = trl_scan_init(d.ptr, d.len);
    if (!trl_scan_lit(&s, "group "))
        return;
    const char *q = s.p;
    while (q < s.end && *q != '/' && *q != ',' && *q != ' ')
        q++;
    trl_norm_set(ev, TRL_F_GROUP_NAME, (struct trl_str){s.p, (size_t)(q - s.p)});
    s.p = q;
    struct trl_str gid;
    if (trl_scan_lit(&s, "/") && trl_scan_digits(&s, &gid))
        trl_norm_set(ev, TRL_F_GROUP_ID, gid);
}

static void commit(struct trl_event *ev, const struct shape *sh, const struct slot *slots, int n)
{
    trl_norm_classify(ev, sh->cls);
    for (int i = 0; i < n; i++) {
        struct trl_str v = slots[i].v;
        switch (slots[i].kind) {
        case 'A':
            trl_norm_user(ev, TRL_F_USER_TARGET_NAME, v);
            break;
        case 'B':
            trl_norm_user(ev, TRL_F_USER_NAME, v);
            break;
        case 'G':
            trl_norm_set(ev, TRL_F_GROUP_NAME, v);
            break;
        case 'U':
            trl_norm_set(ev, TRL_F_USER_TARGET_ID, v);
            break;
        case 'I':
            trl_norm_set(ev, TRL_F_GROUP_ID, v);
            break;
        case 'N':
            trl_norm_user(ev, TRL_F_USER_CHANGES_NAME, v);
            break;
        case 'O':
            trl_norm_set_named(ev, "accounts.old_value", v);
            break;
        case 'V':
            trl_norm_set_named(ev, "accounts.new_value", v);
            break;
        case 'P':
            trl_norm_set(ev, TRL_F_FILE_PATH, v);
            break;
        case 'X':
            set_described_group(ev, v);
            break;
        default:
            break;
        }
    }
    if (sh->attribute)
        trl_norm_set_named(ev, "accounts.attribute",
                           (struct trl_str){sh->attribute, strlen(sh->attribute)});
}

static int accounts_body(struct trl_event *ev, struct trl_str m)
{
    if (trl_norm_is_pam(m))
        return trl_norm_pam(ev, m.ptr, m.len);
    struct slot slots[MAX_SLOTS];
    for (size_t i = 0; i < TRL_ARRAY_LEN(shapes); i++) {
        int n = match(shapes[i].fmt, m, slots);
        if (n >= 0) {
            commit(ev, &shapes[i], slots, n);
            return 0;
        }
    }
    return TRL_ENOMATCH;
}

int trl_norm_accounts(struct trl_event *ev, const char *msg, size_t len)
{
    return trl_norm_run(ev, msg, len, accounts_body);
}
