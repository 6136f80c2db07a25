/*
 * audit_ecs: the mapping of Linux audit data onto ECS fields, shared by the record parser
 * (audit.c) and the audit assembler (audit_assembler.c).
 *
 * A parsed record keeps every key=value pair, decoded, as the dynamic field auditd.data.<key>; the
 * functions here read those fields from a record (`rec`) and set ECS fields on an event (`ev`). For
 * a single record rec and ev are the same event; when records are merged, rec is each stored record
 * and ev the assembled event. Setters never replace a value already present, so the record applied
 * first (the SYSCALL record) wins. Values of rec are stored on ev by reference, not copied: rec's
 * values must live as long as ev's arena (rec is ev, or a record whose values were copied into ev's
 * arena). Pure functions; allocate only in ev's arena; callable from any thread on distinct events.
 */
#ifndef TRL_AUDIT_ECS_H
#define TRL_AUDIT_ECS_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TRL_AUDIT_DATA_PREFIX     "auditd.data."
#define TRL_AUDIT_DATA_PREFIX_LEN (sizeof(TRL_AUDIT_DATA_PREFIX) - 1)
_Static_assert(sizeof(TRL_AUDIT_DATA_PREFIX) - 1 == 12, "trl_audit_is_data_name compares 12 bytes");
/* Longest key= name kept; longer ones are not audit keys. */
#define TRL_AUDIT_KEY_MAX 64

/* Whether a field name is TRL_AUDIT_DATA_PREFIX followed by a key, compared as two words. */
static inline bool trl_audit_is_data_name(const char *name, size_t len)
{
    uint64_t head, want_head;
    uint32_t tail, want_tail;
    if (len <= TRL_AUDIT_DATA_PREFIX_LEN)
        return false;
    memcpy(&head, name, 8);
    memcpy(&tail, name + 8, 4);
    memcpy(&want_head, TRL_AUDIT_DATA_PREFIX, 8);
    memcpy(&want_tail, &TRL_AUDIT_DATA_PREFIX[8], 4);
    return head == want_head && tail == want_tail;
}

/* Name of a numeric record type (1300 -> "SYSCALL"), or NULL when unknown. */
const char *trl_audit_type_name(unsigned type);
/* The record type name len bytes long at name as a string literal ("SYSCALL"), or NULL when it is
 * not a known type's name. */
const char *trl_audit_type_literal(const char *name, size_t len);
/* Numeric value of a record type name ("SYSCALL" -> 1300, "UNKNOWN[1334]" -> 1334), 0 if unknown.
 */
unsigned trl_audit_type_number(const char *name, size_t len);
/* True for record types that are a whole event on their own: user-space messages (USER_*, CRED_*,
 * ADD_USER, SERVICE_START, DAEMON_*, ANOM_LOGIN_*, ...) never share their serial with others. */
bool trl_audit_type_is_standalone(const char *name, size_t len);
/* Name of an x86_64 syscall number given as decimal text, or NULL. */
const char *trl_audit_syscall_name(const char *nr, size_t len);

/* The value of auditd.data.<key> in rec, or NULL. */
const char *trl_audit_data(const struct trl_event *rec, const char *key, size_t *len);

/* Fields every record type may carry: pid, ppid, exe, comm, uid, euid, gid, auid, ses, tty, key,
 * syscall, success / res, the enriched UID= AUID= EUID= GID= SYSCALL= names, and the user-space
 * message fields (acct, addr, id, unit, cmd) and cwd (CWD, USER_CMD). rtype is rec's record type.
 */
void trl_audit_ecs_common(struct trl_event *ev, const struct trl_event *rec, const char *rtype,
                          size_t rtlen);
/* process.args, process.args_count and process.command_line from the a0..aN values of one or more
 * EXECVE records (in the order given; an argument split over records is joined). */
void trl_audit_ecs_execve(struct trl_event *ev, const struct trl_event *const *recs, size_t n);
/* process.title from a PROCTITLE record (its NUL argument separators already decoded as spaces). */
void trl_audit_ecs_proctitle(struct trl_event *ev, const struct trl_event *rec);
/* file.path, file.inode, file.mode, file.type, file.uid, file.gid from one PATH record; a relative
 * name is joined to cwd when cwd is given. */
void trl_audit_ecs_path(struct trl_event *ev, const struct trl_event *rec, const char *cwd,
                        size_t cwdlen);
/* Which end of a connection a SOCKADDR record names. */
enum trl_audit_peer {
    TRL_AUDIT_PEER_NONE,        /* a local address (bind): only auditd.data.socket.* */
    TRL_AUDIT_PEER_SOURCE,      /* accept, recvfrom: the remote end that connected */
    TRL_AUDIT_PEER_DESTINATION, /* connect, sendto, and a record seen alone */
};
/* Decodes SOCKADDR's saddr into auditd.data.socket.{family,addr,port,path} and, for IP families,
 * into source.ip/port or destination.ip/port as peer says. */
void trl_audit_ecs_sockaddr(struct trl_event *ev, const struct trl_event *rec,
                            enum trl_audit_peer peer);
/* event.kind, event.category, event.type, event.action (and event.outcome where the record type
 * implies one) from auditd.log.record_type, auditd.log.syscall and the flags and paths of ev. */
void trl_audit_ecs_classify(struct trl_event *ev);
/* related.ip and related.user from the address and user fields set so far. */
void trl_audit_ecs_related(struct trl_event *ev);

#endif
