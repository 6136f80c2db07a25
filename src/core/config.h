/*
 * config: Trapline's settings, read from one YAML file, the environment and command-line flags.
 *
 * The loader is declarative: a static table of entries (dotted key, type, default text, offset of
 * the field in the target struct, help) drives defaults, parsing, validation, `--print-config` and
 * the reference in docs/configuration.md. The generic part (trl_cfgmap_*) works on any table and
 * struct; the trl_config_* functions apply it to Trapline's own table (config_keys.c).
 *
 * Every key has a default, applied before anything is read. A key can be set from four sources; the
 * one of highest precedence wins whatever the order of the calls: command-line flag > environment
 * (TRAPLINE_DATA for data_dir) > configuration file > default. A value from a lower source is still
 * validated, so a bad file is reported even when a flag overrides the key.
 *
 * Errors are complete sentences for the operator, without the program name:
 *   config /etc/trapline.yml:12: server.max_message_size: expected a size like 64KiB, got "big"
 * The functions return 0 or TRL_ECONFIG with that message in err. After an error the struct holds
 * a valid mix of old and new values and must still be freed.
 *
 * Ownership: a struct trl_config owns every string and list in it; trl_config_free() releases them.
 * Values read from it stay valid until the next call that changes it or frees it.
 * Threads: build the configuration on one thread at start-up; afterwards it is read-only and any
 * thread may read it. The functions use no global mutable state.
 */
#ifndef TRL_CONFIG_H
#define TRL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum trl_cfg_type {
    TRL_CFG_STRING,   /* char *, never NULL (empty string when unset) */
    TRL_CFG_BOOL,     /* bool: true/false, yes/no, on/off */
    TRL_CFG_INT,      /* int64_t, decimal */
    TRL_CFG_SIZE,     /* int64_t bytes: 512, 64KiB, 8MiB, 1GiB, 10MB */
    TRL_CFG_DURATION, /* int64_t milliseconds: 250ms, 10s, 5m, 1h30m, 90d */
    TRL_CFG_ENUM,     /* int: index into the entry's names */
    TRL_CFG_LIST,     /* struct trl_strlist: a YAML sequence or one scalar; "off" = empty */
};

/* An owned list of owned strings. */
struct trl_strlist {
    char **items;
    size_t count;
};

/* One setting. min/max bound int, size and duration values (inclusive; both 0: no bound beyond
 * the type's own, which for size and duration is "not negative"). */
struct trl_cfg_entry {
    const char *key; /* dotted path: "server.tls.cert" */
    enum trl_cfg_type type;
    const char *def; /* default, written as in a file; parsed like one */
    size_t offset;   /* offsetof(target struct, field) */
    int64_t min;
    int64_t max;
    const char *const *names; /* TRL_CFG_ENUM: the allowed names, NULL-terminated */
    /* Optional extra check of a string value or of each list item: returns false and writes why
     * (a phrase such as `expected ADDRESS:PORT`) when the value is not acceptable. */
    bool (*check)(const char *value, char *why, size_t whylen);
    const char *help; /* one sentence for --print-config readers and the docs */
};

enum trl_cfg_source {
    TRL_CFG_SRC_DEFAULT = 0,
    TRL_CFG_SRC_FILE,
    TRL_CFG_SRC_ENV,
    TRL_CFG_SRC_FLAG,
};

#define TRL_CFG_MAX_KEYS 128

/* Where each key's current value came from; lives inside the target struct. */
struct trl_cfg_origins {
    uint8_t source[TRL_CFG_MAX_KEYS]; /* enum trl_cfg_source, by entry index */
    uint32_t line[TRL_CFG_MAX_KEYS];  /* line in the file for TRL_CFG_SRC_FILE */
    char *file;                       /* path of the last file loaded, owned */
};

/* A table and where its target struct keeps its struct trl_cfg_origins. The table lists keys of
 * one section together (all "server.tls.*" next to each other) so that dumps nest correctly. */
struct trl_cfg_map {
    const struct trl_cfg_entry *entries;
    size_t count; /* at most TRL_CFG_MAX_KEYS */
    size_t origins_offset;
};

/* Generic loader over any map and target struct (base). */
void trl_cfgmap_defaults(const struct trl_cfg_map *m, void *base);
/* Sets one key from its text form, as a command-line flag or the environment would. A list value is
 * comma-separated ("off" or "" = empty). A value from a source of lower precedence than the key's
 * current one is validated and then ignored. */
int trl_cfgmap_set(const struct trl_cfg_map *m, void *base, const char *key, const char *value,
                   enum trl_cfg_source src, char *err, size_t errlen);
/* Reads a YAML document from data; name is the file name used in messages. */
int trl_cfgmap_load(const struct trl_cfg_map *m, void *base, const char *name, const char *data,
                    size_t len, char *err, size_t errlen);
/* Writes the current values as YAML that trl_cfgmap_load() reads back to the same values. */
void trl_cfgmap_dump(const struct trl_cfg_map *m, const void *base, FILE *out);
void trl_cfgmap_free(const struct trl_cfg_map *m, void *base);
/* The entry for a key, or NULL. */
const struct trl_cfg_entry *trl_cfgmap_find(const struct trl_cfg_map *m, const char *key);
/* "string", "bool", "int", "size", "duration", "enum", "list". */
const char *trl_cfg_type_name(enum trl_cfg_type t);
/* Formats a size or duration the way the loader reads it back ("64KiB", "5m"). */
void trl_cfg_format_size(int64_t bytes, char *out, size_t outlen);
void trl_cfg_format_duration(int64_t ms, char *out, size_t outlen);

/* Trapline's settings. Enum fields hold the index of the name in the key's list, which the enums
 * below mirror. */
enum trl_tls_client_auth {
    TRL_TLS_CLIENT_AUTH_NONE,
    TRL_TLS_CLIENT_AUTH_OPTIONAL,
    TRL_TLS_CLIENT_AUTH_REQUIRED,
};
enum trl_tls_version {
    TRL_TLS_VERSION_1_2,
    TRL_TLS_VERSION_1_3,
};

struct trl_config {
    char *data_dir;
    struct {
        int level;  /* enum trl_log_level */
        char *file; /* "" = stderr */
    } log;
    struct {
        struct trl_strlist syslog_udp; /* "ADDRESS:PORT" items, see trl_config_parse_listen() */
        struct trl_strlist syslog_tcp;
        struct trl_strlist syslog_tls;
        struct {
            char *cert;
            char *key;
            char *ca;
            int client_auth; /* enum trl_tls_client_auth */
            int min_version; /* enum trl_tls_version */
        } tls;
        int64_t max_message_size;
        int64_t max_connections;
        int64_t idle_timeout_ms;
        int64_t handshake_timeout_ms;
        int64_t udp_rcvbuf;
        int64_t stats_interval_ms;
        char *http;   /* "ADDRESS:PORT" of the HTTPS console and API; "" = off */
        char *agents; /* "ADDRESS:PORT" of the agent listener (TLS 1.3); "" = off */
    } server;
    struct {
        int64_t queue_batches;
        int64_t parse_threads; /* 0: one per online CPU */
        int64_t batch_max_messages;
        int64_t batch_max_bytes;
        char *output; /* "": events go only to the store; see trl_config_output_path() */
    } pipeline;
    struct {
        int format; /* enum trl_format_id */
    } ingest;
    struct {
        bool enabled; /* false: events are not stored (a relay to pipeline.output) */
    } store;
    struct {
        int64_t days;      /* 0: keep forever */
        int64_t max_bytes; /* 0: no cap */
    } retention;
    struct {
        bool enabled;
        struct trl_strlist rules; /* Sigma rule files or directories; empty: the built-in rules */
        int64_t fold_window_ms;
    } detection;
    struct {
        int min_level;          /* index into informational, low, medium, high, critical */
        int64_t max_backoff_ms; /* longest wait between two delivery attempts of one output */
        struct {
            char *url; /* "": no webhook */
            char *secret;
            char *ca;
            bool verify_tls;
            int64_t timeout_ms;
        } webhook;
        struct {
            char *target; /* "udp://HOST:PORT", "tcp://...", "tls://..."; "": no syslog output */
            int format;   /* 0 = rfc5424, 1 = cef */
            char *ca;
        } syslog;
        struct {
            struct trl_strlist command; /* argv; empty: no exec output */
            int64_t timeout_ms;
        } exec;
        struct {
            char *url; /* "smtp://HOST:PORT" or "smtps://HOST:PORT"; "": no email output */
            char *from;
            struct trl_strlist to;
            char *username; /* "": no authentication */
            char *password;
            int starttls;  /* 0 = required, 1 = optional, 2 = off */
            char *subject; /* template: {title}, {level}, {rule_id}, {host}, {id}, {count} */
            int64_t timeout_ms;
        } email;
    } alerts;
    struct {
        struct trl_strlist rules;     /* "RULE_ID:ACTION[:TIMEOUT]" items */
        int min_level;                /* 0 = off, 1 informational .. 5 critical */
        int action;                   /* what min_level triggers: enum trl_response_action */
        int64_t timeout_ms;           /* how long a block lasts when a rule names none */
        struct trl_strlist allowlist; /* CIDRs or addresses never blocked */
        bool lock_system_accounts;    /* allow lock-account on system UIDs (<1000, >=60000) */
    } response;
    struct {
        bool enabled;               /* match events against DATA/ioc.db when it exists */
        int64_t reload_interval_ms; /* how often ioc.db is checked for changes */
        struct trl_strlist feeds;   /* "taxii key=value ..." lines, see ioc/taxii_client.h */
        struct {
            char *listen;              /* "ADDRESS:PORT" of the TAXII 2.1 server; "" = off */
            struct trl_strlist tokens; /* SHA-256 (hex) of each accepted bearer token */
        } taxii_server;
    } ioc;
    struct trl_cfg_origins origins;
};

/* Trapline's table, for iteration (docs, --help) and the generic functions. */
const struct trl_cfg_map *trl_config_map(void);

/* Sets every key to its default. data_dir's default is /var/lib/trapline for root, otherwise
 * $XDG_DATA_HOME/trapline or $HOME/.local/share/trapline. Call first. */
void trl_config_defaults(struct trl_config *c);
/* Reads a YAML file (at most 1 MiB). */
int trl_config_load_file(struct trl_config *c, const char *path, char *err, size_t errlen);
/* Same from memory; name is shown in messages. */
int trl_config_load_buffer(struct trl_config *c, const char *name, const char *data, size_t len,
                           char *err, size_t errlen);
/* Applies the environment: TRAPLINE_DATA (when set and not empty) sets data_dir. */
int trl_config_apply_env(struct trl_config *c, char *err, size_t errlen);
/* Sets a key from a command-line flag: same validation as the file, highest precedence. */
int trl_config_set(struct trl_config *c, const char *key, const char *value, char *err,
                   size_t errlen);
/* Checks what only matters to `trapline server`: a TLS listener needs server.tls.cert and
 * server.tls.key. */
int trl_config_check_server(const struct trl_config *c, char *err, size_t errlen);
/* pipeline.output, or NULL when it is empty (events go only to the store). The caller frees it. */
char *trl_config_output_path(const struct trl_config *c);
/* Writes the effective configuration as YAML, each value not at its default followed by a comment
 * naming where it came from. */
void trl_config_dump(const struct trl_config *c, FILE *out);
/* Releases every string and list. NULL-safe; the struct may be reused after trl_config_defaults().
 */
void trl_config_free(struct trl_config *c);

/* Splits a listener "ADDRESS:PORT" ("0.0.0.0:514", "[::]:6514") into the address without brackets
 * and the port. Returns 0, or TRL_EINVAL when it is not of that form. */
int trl_config_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port);

#endif
