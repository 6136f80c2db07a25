#include "agent/audit_rules.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <libaudit.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#define LOG_COMP "audit"

static const char *const exec_calls[] = {"execve", "execveat", NULL};
static const char *const module_calls[] = {"init_module", "finit_module", "delete_module", NULL};
static const char *const time_calls[] = {"adjtimex", "settimeofday", "clock_settime", NULL};
static const char *const identity_paths[] = {
    "/etc/passwd",  "/etc/shadow",    "/etc/group", "/etc/gshadow",
    "/etc/sudoers", "/etc/sudoers.d", NULL};
static const char *const shadow_paths[] = {"/etc/shadow", "/etc/gshadow", NULL};
static const char *const ssh_paths[] = {"/root/.ssh", "/etc/ssh/sshd_config", NULL};
static const char *const cron_paths[] = {"/etc/crontab",     "/etc/cron.d",     "/etc/cron.daily",
                                         "/etc/cron.hourly", "/var/spool/cron", NULL};
static const char *const systemd_paths[] = {"/etc/systemd/system", "/usr/lib/systemd/system",
                                            "/lib/systemd/system", "/etc/init.d", NULL};
static const char *const audit_paths[] = {"/etc/audit", "/sbin/auditctl", "/sbin/auditd", NULL};

const struct trl_audit_objective trl_audit_objectives[] = {
    {"trl_exec", "every program execution", exec_calls, NULL, NULL},
    {"trl_identity", "changes to accounts, groups and sudo rights", NULL, identity_paths, "wa"},
    {"trl_shadow_read", "reads of the password hashes", NULL, shadow_paths, "r"},
    {"trl_ssh", "changes to root's SSH keys and the SSH server configuration", NULL, ssh_paths,
     "wa"},
    {"trl_cron", "changes to scheduled jobs", NULL, cron_paths, "wa"},
    {"trl_systemd", "changes to services and their units", NULL, systemd_paths, "wa"},
    {"trl_modules", "kernel modules loaded or removed", module_calls, NULL, NULL},
    {"trl_time", "changes to the system time", time_calls, NULL, NULL},
    {"trl_audit_config", "changes to the audit configuration and tools", NULL, audit_paths, "wa"},
    {NULL, NULL, NULL, NULL, NULL},
};

struct trl_audit_rules {
    struct audit_rule_data **rules;
    size_t n, cap;
};

static void keep(struct trl_audit_rules *set, struct audit_rule_data *r)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->rules = trl_xrealloc(set->rules, set->cap * sizeof(*set->rules));
    }
    set->rules[set->n++] = r;
}

static bool selected(const char *key, const char *const *keys)
{
    if (!keys)
        return true;
    for (size_t i = 0; keys[i]; i++) {
        if (!strcmp(keys[i], key))
            return true;
    }
    return false;
}

static int perms_mask(const char *perms)
{
    int m = 0;
    for (const char *p = perms; p && *p; p++)
        m |= *p == 'r'   ? AUDIT_PERM_READ
             : *p == 'w' ? AUDIT_PERM_WRITE
             : *p == 'x' ? AUDIT_PERM_EXEC
             : *p == 'a' ? AUDIT_PERM_ATTR
                         : 0;
    return m;
}

/* Appends the key field as the kernel's rule format has it (the field, its length as the value,
 * the text in buf). libaudit's "key=" pair would do the same, but only after state that auditctl
 * sets by hand. */
static int add_key(struct audit_rule_data **rp, const char *key)
{
    struct audit_rule_data *r = *rp;
    size_t klen = strlen(key);
    if (r->field_count >= AUDIT_MAX_FIELDS || klen > AUDIT_MAX_KEY_LEN)
        return -EINVAL;
    r = realloc(r, sizeof(*r) + r->buflen + klen);
    if (!r)
        return -ENOMEM;
    *rp = r;
    memcpy(r->buf + r->buflen, key, klen);
    r->buflen += (uint32_t)klen;
    r->fields[r->field_count] = AUDIT_FILTERKEY;
    r->fieldflags[r->field_count] = AUDIT_EQUAL;
    r->values[r->field_count] = (uint32_t)klen;
    r->field_count++;
    return 0;
}

/* Sends one rule; on success the set keeps it for removal. Returns 0 or a negative errno. */
static int add(int fd, struct trl_audit_rules *set, struct audit_rule_data *r, const char *key)
{
    int rc = add_key(&r, key);
    if (rc == 0)
        rc = audit_add_rule_data(fd, r, AUDIT_FILTER_EXIT, AUDIT_ALWAYS);
    if (rc > 0 || rc == -EEXIST) {
        keep(set, r);
        return 0;
    }
    audit_rule_free_data(r);
    return rc < 0 ? rc : -EINVAL;
}

/* One rule per architecture the kernel may run programs of (64- and 32-bit on x86_64), each with
 * every syscall of the objective that architecture has. */
static int add_syscalls(int fd, struct trl_audit_rules *set, const struct trl_audit_objective *o,
                        size_t *refused)
{
    static const char *const arches[] = {"arch=b64", "arch=b32"};
    struct utsname u;
    bool biarch = uname(&u) == 0 && !strcmp(u.machine, "x86_64");
    int last = 0;
    for (size_t a = 0; a < (biarch ? 2u : 1u); a++) {
        struct audit_rule_data *r = audit_rule_create_data();
        if (!r)
            return -ENOMEM;
        /* The architecture comes first: libaudit resolves syscall names for it. libaudit writes
         * into the pair it parses, hence the copy. */
        char pair[16];
        snprintf(pair, sizeof(pair), "%s", arches[a]);
        if (audit_rule_fieldpair_data(&r, pair, AUDIT_FILTER_EXIT) != 0) {
            audit_rule_free_data(r);
            continue;
        }
        size_t named = 0;
        for (size_t i = 0; o->syscalls[i]; i++)
            named += audit_rule_syscallbyname_data(r, o->syscalls[i]) == 0;
        if (named == 0) {
            audit_rule_free_data(r);
            continue;
        }
        last = add(fd, set, r, o->key);
        if (last != 0) {
            (*refused)++;
            trl_warn(LOG_COMP, "rule refused key=%s %s err=\"%s\"", o->key, arches[a],
                     strerror(-last));
        }
    }
    return last;
}

static int add_watches(int fd, struct trl_audit_rules *set, const struct trl_audit_objective *o,
                       size_t *refused)
{
    int last = 0;
    for (size_t i = 0; o->paths[i]; i++) {
        const char *path = o->paths[i];
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", path);
        struct stat sb;
        bool exists = stat(path, &sb) == 0;
        if (!exists && stat(dirname(parent), &sb) != 0)
            continue; /* the kernel cannot watch under a folder that does not exist */
        struct audit_rule_data *r = audit_rule_create_data();
        if (!r)
            return -ENOMEM;
        int rc = exists && S_ISDIR(sb.st_mode) ? audit_add_watch_dir(AUDIT_DIR, &r, path)
                                               : audit_add_watch(&r, path);
        if (rc == 0)
            rc = audit_update_watch_perms(r, perms_mask(o->perms));
        if (rc != 0) {
            audit_rule_free_data(r);
            (*refused)++;
            continue;
        }
        last = add(fd, set, r, o->key);
        if (last != 0) {
            (*refused)++;
            trl_warn(LOG_COMP, "rule refused key=%s path=%s err=\"%s\"", o->key, path,
                     strerror(-last));
        }
    }
    return last;
}

int trl_audit_rules_install(int fd, const char *const *keys, struct trl_audit_rules **out,
                            size_t *refused)
{
    *out = NULL;
    *refused = 0;
    struct trl_audit_rules *set = calloc(1, sizeof(*set));
    if (!set)
        return -ENOMEM;
    int last = 0;
    for (const struct trl_audit_objective *o = trl_audit_objectives; o->key; o++) {
        if (!selected(o->key, keys))
            continue;
        int rc = o->syscalls ? add_syscalls(fd, set, o, refused) : add_watches(fd, set, o, refused);
        if (rc != 0)
            last = rc;
    }
    if (set->n == 0 && last != 0) {
        trl_audit_rules_remove(fd, set);
        return last;
    }
    *out = set;
    return 0;
}

size_t trl_audit_rules_count(const struct trl_audit_rules *r)
{
    return r ? r->n : 0;
}

void trl_audit_rules_remove(int fd, struct trl_audit_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (fd >= 0)
            audit_delete_rule_data(fd, r->rules[i], AUDIT_FILTER_EXIT, AUDIT_ALWAYS);
        audit_rule_free_data(r->rules[i]);
    }
    free(r->rules);
    free(r);
}
