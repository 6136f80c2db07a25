/*
 * users: the accounts and API tokens of the web console and REST API, kept in DATA/users.db
 * (SQLite, WAL, mode 0600).
 *
 * Passwords are stored as Argon2id encoded hashes (t=TRL_PW_T_COST, m=TRL_PW_M_KIB KiB, p=1,
 * 16-byte random salt). API tokens are "trl_" followed by 64 hex digits of randomness; only their
 * SHA-256 is stored, so a token is shown once, when it is created.
 *
 * Ownership: a struct trl_users owns its SQLite handle; strings passed in are copied. Threads:
 * every function may be called from any thread (an internal mutex serialises the database; the
 * slow password hashing runs outside it).
 */
#ifndef TRL_WEB_USERS_H
#define TRL_WEB_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_PW_T_COST      3
#define TRL_PW_M_KIB       (32 * 1024) /* 32 MiB: about 0.2 s a login on a small host */
#define TRL_PW_MAX_LEN     1024        /* longer passwords are refused (hashing cost) */
#define TRL_PW_MIN_LEN     8
#define TRL_PW_ENCODED_MAX 160
#define TRL_TOKEN_LEN      68 /* "trl_" + 64 hex digits */

struct trl_users;

/* Opens (creating when missing) DATA/users.db. 0 or a negative error (logged). */
int trl_users_open(const char *data_dir, struct trl_users **out);
void trl_users_close(struct trl_users *u);

/* On a database without users: creates "admin" with a random password, writes the password to
 * DATA/admin-password (mode 0600) and logs it once. 0 or a negative error. */
int trl_users_ensure_admin(struct trl_users *u, const char *data_dir);

/* Argon2id of a password, encoded ($argon2id$v=19$...). 0 or TRL_EINVAL. */
int trl_password_hash(const char *password, char *out, size_t cap);
/* 0 when password matches encoded, TRL_ENOMATCH when not. */
int trl_password_verify(const char *encoded, const char *password);

/* Adds a user: -EEXIST when the name is taken, TRL_EINVAL for a bad name, role or a password
 * outside TRL_PW_MIN_LEN..TRL_PW_MAX_LEN bytes. */
int trl_users_add(struct trl_users *u, const char *name, int role, const char *password);
/* -ENOENT for an unknown user; TRL_EINVAL as above. */
int trl_users_set_password(struct trl_users *u, const char *name, const char *password);
int trl_users_set_role(struct trl_users *u, const char *name, int role);
int trl_users_remove(struct trl_users *u, const char *name);
/* 0 and the user's role when the password is right; TRL_ENOMATCH when the user is unknown or the
 * password wrong (both take the time of one hash). */
int trl_users_verify(struct trl_users *u, const char *name, const char *password, int *role);
/* The role of an existing user, or -ENOENT. */
int trl_users_role(struct trl_users *u, const char *name, int *role);

struct trl_user_row {
    const char *name;
    int role;
    int64_t created_ns;
};
/* Every user, by name. Returns the count or a negative error. */
long trl_users_list(struct trl_users *u, void (*each)(void *ud, const struct trl_user_row *r),
                    void *ud);

/* Creates a token; token receives it (TRL_TOKEN_LEN + 1 bytes with the NUL), *id its number. */
int trl_tokens_create(struct trl_users *u, const char *name, int role, const char *created_by,
                      char token[TRL_TOKEN_LEN + 1], int64_t *id);
/* 0 with the token's name (name_cap bytes) and role when the token is valid, else TRL_ENOMATCH.
 * Records the time of use. */
int trl_tokens_check(struct trl_users *u, const char *token, size_t len, char *name,
                     size_t name_cap, int *role);
/* -ENOENT for an unknown id. */
int trl_tokens_revoke(struct trl_users *u, int64_t id);

struct trl_token_row {
    int64_t id;
    const char *name;
    int role;
    const char *created_by;
    int64_t created_ns;
    int64_t last_used_ns; /* 0: never */
};
long trl_tokens_list(struct trl_users *u, void (*each)(void *ud, const struct trl_token_row *r),
                     void *ud);

#endif
