/*
 * audit_rules: the agent's preset of Linux audit rules ("objectives"), installed in and removed
 * from the kernel with libaudit.
 *
 * Each objective is a group of rules sharing one key (the `key` field of the records they cause,
 * which detections match on): process executions, identity files, SSH keys and configuration, cron,
 * systemd units, kernel modules, time changes, and the audit configuration itself. Every key
 * starts with "trl_" so the rules are recognisably ours. A watch on a path whose folder does not
 * exist on this host is left out (the kernel refuses it).
 *
 * Ownership: trl_audit_rules_install() returns a set the caller frees with
 * trl_audit_rules_remove(), which also deletes from the kernel the rules the set added. Not
 * thread-safe; called from the agent's main thread. Needs CAP_AUDIT_CONTROL.
 */
#ifndef TRL_AGENT_AUDIT_RULES_H
#define TRL_AGENT_AUDIT_RULES_H

#include <stddef.h>

struct trl_audit_rules;

struct trl_audit_objective {
    const char *key;             /* "trl_exec", ... */
    const char *summary;         /* what it watches, for docs and logs */
    const char *const *syscalls; /* NULL-terminated, or NULL for a watch objective */
    const char *const *paths;    /* NULL-terminated watched files or folders, or NULL */
    const char *perms;           /* for watches: any of "rwxa" (read, write, exec, attribute) */
};

/* The preset, terminated by an entry with key NULL. */
extern const struct trl_audit_objective trl_audit_objectives[];

/* Adds the rules of every objective whose key is in keys (NULL-terminated; NULL: all) on the audit
 * netlink socket fd (from audit_open()). A rule the kernel already has counts as added. Returns 0
 * and sets *out (also when some rules were refused: see *refused), or a negative errno when not
 * one rule could be added (-EPERM without CAP_AUDIT_CONTROL). */
int trl_audit_rules_install(int fd, const char *const *keys, struct trl_audit_rules **out,
                            size_t *refused);
/* Number of rules the set added. */
size_t trl_audit_rules_count(const struct trl_audit_rules *r);
/* Deletes the set's rules from the kernel and frees it. NULL-safe. */
void trl_audit_rules_remove(int fd, struct trl_audit_rules *r);

#endif
