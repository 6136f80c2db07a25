/*
 * sessions: in-memory session table and login throttle.
 */
#include "web/sessions.h"
#include "core/util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session {
    bool used;
    char id[TRL_SESSION_ID_LEN + 1];
    int64_t last_ns;
    struct trl_session_info info;
};

struct trl_sessions {
    pthread_mutex_t mu;
    struct session *tab;
    size_t max;
    int64_t idle_ns;
};

struct trl_sessions *trl_sessions_create(size_t max, int64_t idle_ns)
{
    struct trl_sessions *s = trl_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->tab = trl_xcalloc(max, sizeof(*s->tab));
    s->max = max;
    s->idle_ns = idle_ns;
    return s;
}

void trl_sessions_destroy(struct trl_sessions *s)
{
    if (!s)
        return;
    sodium_memzero(s->tab, s->max * sizeof(*s->tab));
    free(s->tab);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void random_hex(char out[TRL_SESSION_ID_LEN + 1])
{
    uint8_t raw[TRL_SESSION_ID_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, TRL_SESSION_ID_LEN + 1, raw, sizeof(raw));
}

void trl_sessions_start(struct trl_sessions *s, const char *user, int role, int64_t now_ns,
                        char id[TRL_SESSION_ID_LEN + 1], struct trl_session_info *info)
{
    pthread_mutex_lock(&s->mu);
    /* A free or expired slot, else the least recently used one. */
    struct session *slot = &s->tab[0];
    for (size_t i = 0; i < s->max; i++) {
        struct session *e = &s->tab[i];
        if (!e->used || now_ns - e->last_ns >= s->idle_ns) {
            slot = e;
            break;
        }
        if (e->last_ns < slot->last_ns)
            slot = e;
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = true;
    slot->last_ns = now_ns;
    random_hex(slot->id);
    random_hex(slot->info.csrf);
    snprintf(slot->info.user, sizeof(slot->info.user), "%s", user);
    slot->info.role = role;
    memcpy(id, slot->id, sizeof(slot->id));
    *info = slot->info;
    pthread_mutex_unlock(&s->mu);
}

static struct session *find_locked(struct trl_sessions *s, const char *id, size_t len)
{
    if (len != TRL_SESSION_ID_LEN)
        return NULL;
    struct session *found = NULL;
    for (size_t i = 0; i < s->max; i++) {
        struct session *e = &s->tab[i];
        if (e->used && sodium_memcmp(e->id, id, TRL_SESSION_ID_LEN) == 0)
            found = e;
    }
    return found;
}

bool trl_sessions_get(struct trl_sessions *s, const char *id, size_t len, int64_t now_ns,
                      struct trl_session_info *out)
{
    pthread_mutex_lock(&s->mu);
    struct session *e = find_locked(s, id, len);
    bool ok = false;
    if (e && now_ns - e->last_ns >= s->idle_ns) {
        memset(e, 0, sizeof(*e));
    } else if (e) {
        e->last_ns = now_ns;
        *out = e->info;
        ok = true;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void trl_sessions_end(struct trl_sessions *s, const char *id, size_t len)
{
    pthread_mutex_lock(&s->mu);
    struct session *e = find_locked(s, id, len);
    if (e)
        memset(e, 0, sizeof(*e));
    pthread_mutex_unlock(&s->mu);
}

void trl_sessions_end_user(struct trl_sessions *s, const char *user)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->max; i++) {
        if (s->tab[i].used && !strcmp(s->tab[i].info.user, user))
            memset(&s->tab[i], 0, sizeof(s->tab[i]));
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- throttle ---------------------------------------------------------------------------------
 */

struct tkey {
    char key[80];
    unsigned failures;
    int64_t last_fail_ns;
    int64_t locked_until_ns;
};

struct trl_throttle {
    pthread_mutex_t mu;
    struct tkey *tab;
    size_t max;
};

struct trl_throttle *trl_throttle_create(size_t max_keys)
{
    struct trl_throttle *t = trl_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    t->tab = trl_xcalloc(max_keys, sizeof(*t->tab));
    t->max = max_keys;
    return t;
}

void trl_throttle_destroy(struct trl_throttle *t)
{
    if (!t)
        return;
    free(t->tab);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct tkey *tfind_locked(struct trl_throttle *t, const char *key)
{
    for (size_t i = 0; i < t->max; i++) {
        if (t->tab[i].key[0] && !strncmp(t->tab[i].key, key, sizeof(t->tab[i].key) - 1))
            return &t->tab[i];
    }
    return NULL;
}

int64_t trl_throttle_wait(struct trl_throttle *t, const char *key, int64_t now_ns)
{
    pthread_mutex_lock(&t->mu);
    struct tkey *k = tfind_locked(t, key);
    int64_t wait = k && k->locked_until_ns > now_ns ? k->locked_until_ns - now_ns : 0;
    pthread_mutex_unlock(&t->mu);
    return wait;
}

void trl_throttle_fail(struct trl_throttle *t, const char *key, unsigned threshold, int64_t now_ns)
{
    pthread_mutex_lock(&t->mu);
    struct tkey *k = tfind_locked(t, key);
    if (k && now_ns - k->last_fail_ns >= TRL_THROTTLE_FORGET_NS && k->locked_until_ns <= now_ns)
        k->failures = 0;
    if (!k) {
        /* A free slot, else the one whose last failure is oldest (an attacker cycling through
         * many keys only evicts his own). */
        k = &t->tab[0];
        for (size_t i = 0; i < t->max; i++) {
            if (!t->tab[i].key[0]) {
                k = &t->tab[i];
                break;
            }
            if (t->tab[i].last_fail_ns < k->last_fail_ns)
                k = &t->tab[i];
        }
        memset(k, 0, sizeof(*k));
        snprintf(k->key, sizeof(k->key), "%s", key);
    }
    k->failures++;
    k->last_fail_ns = now_ns;
    if (k->failures >= threshold) {
        unsigned shift = TRL_MIN(k->failures - threshold, 20u);
        int64_t lock = TRL_THROTTLE_BASE_NS << shift;
        k->locked_until_ns = now_ns + TRL_MIN(lock, TRL_THROTTLE_MAX_NS);
    }
    pthread_mutex_unlock(&t->mu);
}

void trl_throttle_clear(struct trl_throttle *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    struct tkey *k = tfind_locked(t, key);
    if (k)
        memset(k, 0, sizeof(*k));
    pthread_mutex_unlock(&t->mu);
}
