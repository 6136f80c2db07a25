/*
 * sessions: the logged-in sessions of the web console (in memory: a restart logs everyone out)
 * and the login throttle.
 *
 * A session id is 32 random bytes (64 hex digits) sent as the trl_session cookie; each session has
 * its own CSRF token (32 random bytes, hex) that the console sends back in X-CSRF-Token. A session
 * unused for the idle time expires. When the table is full the least recently used session goes.
 *
 * The throttle counts failed logins per key (the user name, the client address): from `threshold`
 * failures on, each further attempt is refused for a lock time that doubles with every failure
 * (TRL_THROTTLE_BASE_NS << (failures - threshold), at most TRL_THROTTLE_MAX_NS). A key with no
 * failure for TRL_THROTTLE_FORGET_NS starts again from zero.
 *
 * Threads: every function may be called from any thread (each table has its own mutex). Times are
 * passed in (nanoseconds, any monotonic origin) so the logic is testable.
 */
#ifndef TRL_WEB_SESSIONS_H
#define TRL_WEB_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_SESSION_ID_LEN     64
#define TRL_SESSION_IDLE_NS    (8LL * 3600 * 1000000000LL)
#define TRL_THROTTLE_BASE_NS   (30LL * 1000000000LL)
#define TRL_THROTTLE_MAX_NS    (3600LL * 1000000000LL)
#define TRL_THROTTLE_FORGET_NS (3600LL * 1000000000LL)

struct trl_session_info {
    char user[65];
    int role;
    char csrf[TRL_SESSION_ID_LEN + 1];
};

struct trl_sessions;

struct trl_sessions *trl_sessions_create(size_t max, int64_t idle_ns);
void trl_sessions_destroy(struct trl_sessions *s);
/* Starts a session; id receives its id and info->csrf its CSRF token. */
void trl_sessions_start(struct trl_sessions *s, const char *user, int role, int64_t now_ns,
                        char id[TRL_SESSION_ID_LEN + 1], struct trl_session_info *info);
/* Looks a session up (constant time in the id) and marks it used. False when unknown or
 * expired. */
bool trl_sessions_get(struct trl_sessions *s, const char *id, size_t len, int64_t now_ns,
                      struct trl_session_info *out);
void trl_sessions_end(struct trl_sessions *s, const char *id, size_t len);
/* Ends every session of a user (removed, password or role changed). */
void trl_sessions_end_user(struct trl_sessions *s, const char *user);

struct trl_throttle;

struct trl_throttle *trl_throttle_create(size_t max_keys);
void trl_throttle_destroy(struct trl_throttle *t);
/* 0 when an attempt for key may go ahead, else the nanoseconds until it may. */
int64_t trl_throttle_wait(struct trl_throttle *t, const char *key, int64_t now_ns);
/* Counts a failed attempt. */
void trl_throttle_fail(struct trl_throttle *t, const char *key, unsigned threshold, int64_t now_ns);
/* A successful attempt clears the key. */
void trl_throttle_clear(struct trl_throttle *t, const char *key);

#endif
