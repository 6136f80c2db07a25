/*
 * Trapline's configuration table and the settings that are Trapline's own rather than the loader's:
 * data_dir's default, the environment, listener addresses and the checks `trapline server` needs.
 *
 * Every key here must be documented in docs/configuration.md (a unit test compares them).
 */
#include "core/config.h"
#include "core/util.h"
#include "ioc/taxii_client.h"
#include "ioc/taxii_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OFF(field) offsetof(struct trl_config, field)

#define KIB (INT64_C(1) << 10)
#define MIB (INT64_C(1) << 20)
#define GIB (INT64_C(1) << 30)
#define SEC INT64_C(1000)
#define DAY (86400 * SEC)

/* The orders below are those of enum trl_log_level, enum trl_tls_client_auth, enum trl_tls_version
 * and enum trl_format_id, so the stored index is the enum value. */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const client_auth_modes[] = {"none", "optional", "required", NULL};
static const char *const tls_versions[] = {"1.2", "1.3", NULL};
static const char *const ingest_formats[] = {"auto", "rfc3164", "rfc5424", "snare", "cef", "leef",
                                             "json", "audit",   "access",  "raw",   NULL};

static const char *const alert_levels[] = {"informational", "low",      "medium",
                                           "high",          "critical", NULL};
static const char *const alert_syslog_formats[] = {"rfc5424", "cef", NULL};

static bool check_alert_target(const char *value, char *why, size_t whylen)
{
    if (!value[0] || !strncmp(value, "udp://", 6) || !strncmp(value, "tcp://", 6) ||
        !strncmp(value, "tls://", 6)) {
        if (!value[0] || strrchr(value + 6, ':'))
            return true;
    }
    snprintf(why, whylen, "expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT");
    return false;
}

static bool check_alert_url(const char *value, char *why, size_t whylen)
{
    if (!value[0] || !strncmp(value, "http://", 7) || !strncmp(value, "https://", 8))
        return true;
    snprintf(why, whylen, "expected an http:// or https:// URL");
    return false;
}

static bool check_email_url(const char *value, char *why, size_t whylen)
{
    if (!value[0] || !strncmp(value, "smtp://", 7) || !strncmp(value, "smtps://", 8))
        return true;
    snprintf(why, whylen, "expected an smtp:// or smtps:// URL");
    return false;
}

static const char *const email_starttls_modes[] = {"required", "optional", "off", NULL};
static const char *const response_levels[] = {"off",  "informational", "low", "medium",
                                              "high", "critical",      NULL};
static const char *const response_actions[] = {"block-ip", "kill-process", "lock-account", NULL};

static bool is_response_action(const char *s, size_t len)
{
    for (size_t i = 0; response_actions[i]; i++) {
        if (strlen(response_actions[i]) == len && !strncmp(s, response_actions[i], len))
            return true;
    }
    return false;
}

/* "RULE_ID:ACTION" or "RULE_ID:ACTION:TIMEOUT" with a timeout such as 90s, 30m, 1h or 1d. */
static bool check_response_rule(const char *value, char *why, size_t whylen)
{
    const char *a = strchr(value, ':');
    if (a && a != value) {
        const char *t = strchr(a + 1, ':');
        size_t alen = t ? (size_t)(t - a - 1) : strlen(a + 1);
        uint64_t n;
        size_t tlen = t ? strlen(t + 1) : 0;
        if (is_response_action(a + 1, alen) &&
            (!t || (tlen >= 2 && t[tlen] && strchr("smhd", t[tlen]) &&
                    trl_parse_u64(t + 1, tlen - 1, &n) && n > 0)))
            return true;
    }
    snprintf(why, whylen,
             "expected RULE_ID:ACTION or RULE_ID:ACTION:TIMEOUT with ACTION block-ip, "
             "kill-process or lock-account and TIMEOUT like 30m");
    return false;
}

static bool check_cidr(const char *value, char *why, size_t whylen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(value, '/');
    size_t alen = slash ? (size_t)(slash - value) : strlen(value);
    unsigned char bin[16];
    uint64_t prefix = 0;
    if (alen > 0 && alen < sizeof(addr)) {
        memcpy(addr, value, alen);
        addr[alen] = '\0';
        bool v6 = strchr(addr, ':') != NULL;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) == 1 &&
            (!slash ||
             (trl_parse_u64(slash + 1, strlen(slash + 1), &prefix) && prefix <= (v6 ? 128u : 32u))))
            return true;
    }
    snprintf(why, whylen, "expected an IP address or a CIDR such as 192.0.2.0/24");
    return false;
}

static bool check_token_hash(const char *value, char *why, size_t whylen)
{
    if (trl_taxii_token_hash_valid(value))
        return true;
    snprintf(why, whylen, "expected the SHA-256 of a token in hex (64 digits: sha256sum)");
    return false;
}

static bool check_ioc_feed(const char *value, char *why, size_t whylen)
{
    struct trl_taxii_spec spec;
    if (trl_taxii_spec_parse(value, &spec, why, whylen) != 0)
        return false;
    trl_taxii_spec_free(&spec);
    return true;
}

static bool check_listen(const char *value, char *why, size_t whylen)
{
    char addr[INET6_ADDRSTRLEN];
    uint16_t port;
    if (trl_config_parse_listen(value, addr, sizeof(addr), &port) == 0)
        return true;
    snprintf(why, whylen,
             "expected ADDRESS:PORT such as 0.0.0.0:514 or [::]:514 (IP address, port 0-65535; 0 "
             "picks a free port)");
    return false;
}

static bool check_optional_listen(const char *value, char *why, size_t whylen)
{
    return !value[0] || check_listen(value, why, whylen);
}

static bool check_not_empty(const char *value, char *why, size_t whylen)
{
    if (value[0])
        return true;
    snprintf(why, whylen, "expected a directory path");
    return false;
}

static const struct trl_cfg_entry keys[] = {
    {.key = "data_dir",
     .type = TRL_CFG_STRING,
     .def = "/var/lib/trapline",
     .offset = OFF(data_dir),
     .check = check_not_empty,
     .help = "Directory for Trapline's state and output; for a user other than root the default is "
             "$XDG_DATA_HOME/trapline or ~/.local/share/trapline."},
    {.key = "log.level",
     .type = TRL_CFG_ENUM,
     .def = "info",
     .offset = OFF(log.level),
     .names = log_levels,
     .help = "Least severe level of Trapline's own log that is written."},
    {.key = "log.file",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(log.file),
     .help = "File that Trapline's own log is appended to; empty writes to stderr."},
    {.key = "server.syslog_udp",
     .type = TRL_CFG_LIST,
     .def = "0.0.0.0:514",
     .offset = OFF(server.syslog_udp),
     .check = check_listen,
     .help = "Addresses that receive syslog over UDP, one message per datagram; off for none."},
    {.key = "server.syslog_tcp",
     .type = TRL_CFG_LIST,
     .def = "0.0.0.0:514",
     .offset = OFF(server.syslog_tcp),
     .check = check_listen,
     .help = "Addresses that receive syslog over plain TCP; off for none."},
    {.key = "server.syslog_tls",
     .type = TRL_CFG_LIST,
     .def = "0.0.0.0:6514",
     .offset = OFF(server.syslog_tls),
     .check = check_listen,
     .help = "Addresses that receive syslog over TLS; needs server.tls.cert and "
             "server.tls.key; off for none."},
    {.key = "server.tls.cert",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(server.tls.cert),
     .help = "PEM file with the server certificate, followed by any intermediate certificates."},
    {.key = "server.tls.key",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(server.tls.key),
     .help = "PEM file with the private key of server.tls.cert."},
    {.key = "server.tls.ca",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(server.tls.ca),
     .help = "PEM file with the certificate authorities that client certificates are checked "
             "against; empty accepts no client certificate."},
    {.key = "server.tls.client_auth",
     .type = TRL_CFG_ENUM,
     .def = "optional",
     .offset = OFF(server.tls.client_auth),
     .names = client_auth_modes,
     .help = "Whether TLS clients must present a certificate signed by server.tls.ca."},
    {.key = "server.tls.min_version",
     .type = TRL_CFG_ENUM,
     .def = "1.2",
     .offset = OFF(server.tls.min_version),
     .names = tls_versions,
     .help = "Oldest TLS version accepted."},
    {.key = "server.max_message_size",
     .type = TRL_CFG_SIZE,
     .def = "64KiB",
     .offset = OFF(server.max_message_size),
     .min = KIB,
     .max = 16 * MIB,
     .help = "Longest message kept whole; longer ones are cut and flagged as truncated."},
    {.key = "server.max_connections",
     .type = TRL_CFG_INT,
     .def = "10000",
     .offset = OFF(server.max_connections),
     .min = 1,
     .max = 1000000,
     .help = "Most TCP and TLS connections open at once; further ones are refused."},
    {.key = "server.idle_timeout",
     .type = TRL_CFG_DURATION,
     .def = "5m",
     .offset = OFF(server.idle_timeout_ms),
     .min = 0,
     .max = DAY,
     .help = "A TCP or TLS connection that delivers no complete message for this long (idle, or "
             "too slow) is closed; 0 never closes one."},
    {.key = "server.handshake_timeout",
     .type = TRL_CFG_DURATION,
     .def = "10s",
     .offset = OFF(server.handshake_timeout_ms),
     .min = SEC,
     .max = 300 * SEC,
     .help = "A TLS handshake that has not finished after this long is abandoned."},
    {.key = "server.udp_rcvbuf",
     .type = TRL_CFG_SIZE,
     .def = "8MiB",
     .offset = OFF(server.udp_rcvbuf),
     .min = 64 * KIB,
     .max = GIB,
     .help = "Kernel receive buffer asked for each UDP socket, to ride out bursts."},
    {.key = "server.stats_interval",
     .type = TRL_CFG_DURATION,
     .def = "1m",
     .offset = OFF(server.stats_interval_ms),
     .min = 0,
     .max = DAY,
     .help = "How often the server logs its counters; 0 logs them only at exit."},
    {.key = "server.http",
     .type = TRL_CFG_STRING,
     .def = "127.0.0.1:8443",
     .offset = OFF(server.http),
     .help = "Address of the HTTPS web console and REST API (ADDRESS:PORT); empty turns it off."},
    {.key = "server.agents",
     .type = TRL_CFG_STRING,
     .def = "127.0.0.1:6515",
     .offset = OFF(server.agents),
     .help = "Address of the agent listener (ADDRESS:PORT, TLS 1.3 with client certificates); "
             "empty turns it off."},
    {.key = "pipeline.queue_batches",
     .type = TRL_CFG_INT,
     .def = "64",
     .offset = OFF(pipeline.queue_batches),
     .min = 2,
     .max = 65536,
     .help = "Batches queued for the workers before receivers are slowed down."},
    {.key = "pipeline.parse_threads",
     .type = TRL_CFG_INT,
     .def = "0",
     .offset = OFF(pipeline.parse_threads),
     .min = 0,
     .max = 64,
     .help = "Threads that parse and normalise batches side by side; 0 means one per CPU."},
    {.key = "pipeline.batch_max_messages",
     .type = TRL_CFG_INT,
     .def = "4096",
     .offset = OFF(pipeline.batch_max_messages),
     .min = 1,
     .max = 1048576,
     .help = "A batch is handed to the workers at this many messages."},
    {.key = "pipeline.batch_max_bytes",
     .type = TRL_CFG_SIZE,
     .def = "4MiB",
     .offset = OFF(pipeline.batch_max_bytes),
     .min = 64 * KIB,
     .max = GIB,
     .help = "... or at this many bytes of messages."},
    {.key = "pipeline.output",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(pipeline.output),
     .help = "Also append every event as a JSON line to this file (- means stdout); empty means "
             "events go only to the event store in <data_dir>/events."},
    {.key = "ingest.format",
     .type = TRL_CFG_ENUM,
     .def = "auto",
     .offset = OFF(ingest.format),
     .names = ingest_formats,
     .help = "Format of received messages; auto detects it for each message."},
    {.key = "store.enabled",
     .type = TRL_CFG_BOOL,
     .def = "true",
     .offset = OFF(store.enabled),
     .help = "Keep every event in the event store under <data_dir>/events; false makes a relay "
             "that only detects and writes pipeline.output (nothing to search)."},
    {.key = "retention.days",
     .type = TRL_CFG_INT,
     .def = "90",
     .offset = OFF(retention.days),
     .min = 0,
     .max = 36500,
     .help = "Stored events older than this many days (by @timestamp) are dropped, a whole day "
             "partition at a time; 0 keeps them forever."},
    {.key = "retention.max_bytes",
     .type = TRL_CFG_SIZE,
     .def = "0",
     .offset = OFF(retention.max_bytes),
     .min = 0,
     .max = 1LL << 50,
     .help = "Cap on the disk used by stored events: above it the oldest day partitions are "
             "dropped; 0 means no cap."},
    {.key = "detection.enabled",
     .type = TRL_CFG_BOOL,
     .def = "true",
     .offset = OFF(detection.enabled),
     .help = "Evaluate Sigma rules on every event and raise alerts."},
    {.key = "detection.rules",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(detection.rules),
     .help = "Sigma rule files or directories to evaluate on every event; empty means the "
             "built-in rules (the rules/ directory next to the build directory) plus "
             "<data_dir>/rules when it exists."},
    {.key = "detection.fold_window",
     .type = TRL_CFG_DURATION,
     .def = "1h",
     .offset = OFF(detection.fold_window_ms),
     .min = 0,
     .max = 30LL * 86400 * 1000,
     .help = "A repeat of an open alert (same rule, host and group-by values) within this window "
             "is counted into it instead of raising a new alert; 0 turns folding off."},
    {.key = "alerts.min_level",
     .type = TRL_CFG_ENUM,
     .def = "informational",
     .offset = OFF(alerts.min_level),
     .names = alert_levels,
     .help = "Alerts of a lower level are stored but not sent to the alert outputs."},
    {.key = "alerts.max_backoff",
     .type = TRL_CFG_DURATION,
     .def = "5m",
     .offset = OFF(alerts.max_backoff_ms),
     .min = 1000,
     .max = 86400 * SEC,
     .help = "Longest wait between two attempts to deliver an alert to an output that fails."},
    {.key = "alerts.webhook.url",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.webhook.url),
     .check = check_alert_url,
     .help = "http:// or https:// URL that every alert is POSTed to as JSON; empty for none."},
    {.key = "alerts.webhook.secret",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.webhook.secret),
     .help = "Key of the HMAC-SHA256 sent in the X-Trapline-Signature header; empty sends none."},
    {.key = "alerts.webhook.ca",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.webhook.ca),
     .help = "CA certificates (PEM file) for the webhook's TLS; empty uses the system's."},
    {.key = "alerts.webhook.verify_tls",
     .type = TRL_CFG_BOOL,
     .def = "true",
     .offset = OFF(alerts.webhook.verify_tls),
     .help = "Check the webhook server's certificate and name."},
    {.key = "alerts.webhook.timeout",
     .type = TRL_CFG_DURATION,
     .def = "10s",
     .offset = OFF(alerts.webhook.timeout_ms),
     .min = 100,
     .max = 600 * SEC,
     .help = "A webhook request not answered within this time is retried later."},
    {.key = "alerts.syslog.target",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.syslog.target),
     .check = check_alert_target,
     .help = "Send every alert as a syslog message to udp://HOST:PORT, tcp://HOST:PORT or "
             "tls://HOST:PORT; empty for none."},
    {.key = "alerts.syslog.format",
     .type = TRL_CFG_ENUM,
     .def = "rfc5424",
     .offset = OFF(alerts.syslog.format),
     .names = alert_syslog_formats,
     .help = "rfc5424 carries the alert as JSON; cef as an ArcSight CEF record."},
    {.key = "alerts.syslog.ca",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.syslog.ca),
     .help = "CA certificates (PEM file) that a tls:// syslog target is checked against; empty "
             "uses the system's."},
    {.key = "alerts.exec.command",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(alerts.exec.command),
     .help = "Program and arguments run for every alert (no shell), the alert JSON on its "
             "standard input; empty for none."},
    {.key = "alerts.exec.timeout",
     .type = TRL_CFG_DURATION,
     .def = "30s",
     .offset = OFF(alerts.exec.timeout_ms),
     .min = 100,
     .max = 3600 * SEC,
     .help = "The program is killed and the alert retried later when it runs longer."},
    {.key = "alerts.email.url",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.email.url),
     .check = check_email_url,
     .help = "smtp://HOST:PORT or smtps://HOST:PORT of the mail server every alert is sent "
             "through; empty for none."},
    {.key = "alerts.email.from",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.email.from),
     .help = "Sender address of the alert mails (envelope and From header)."},
    {.key = "alerts.email.to",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(alerts.email.to),
     .help = "Recipient addresses of the alert mails."},
    {.key = "alerts.email.username",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.email.username),
     .help = "User name to authenticate to the mail server with; empty: no authentication."},
    {.key = "alerts.email.password",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(alerts.email.password),
     .help = "Password for alerts.email.username."},
    {.key = "alerts.email.starttls",
     .type = TRL_CFG_ENUM,
     .def = "required",
     .offset = OFF(alerts.email.starttls),
     .names = email_starttls_modes,
     .help = "For smtp:// URLs: required refuses to send without STARTTLS, optional uses it "
             "when offered, off never does."},
    {.key = "alerts.email.subject",
     .type = TRL_CFG_STRING,
     .def = "[Trapline] {level}: {title}",
     .offset = OFF(alerts.email.subject),
     .help = "Subject of the alert mails; {title}, {level}, {rule_id}, {host}, {id} and {count} "
             "are replaced."},
    {.key = "alerts.email.timeout",
     .type = TRL_CFG_DURATION,
     .def = "30s",
     .offset = OFF(alerts.email.timeout_ms),
     .min = 100,
     .max = 600 * SEC,
     .help = "A mail not accepted by the server within this time is retried later."},
    {.key = "response.rules",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(response.rules),
     .check = check_response_rule,
     .help = "Active responses by rule: RULE_ID:ACTION[:TIMEOUT] items, ACTION one of "
             "block-ip, kill-process, lock-account."},
    {.key = "response.min_level",
     .type = TRL_CFG_ENUM,
     .def = "off",
     .offset = OFF(response.min_level),
     .names = response_levels,
     .help = "Alerts of at least this level trigger response.action; off for none."},
    {.key = "response.action",
     .type = TRL_CFG_ENUM,
     .def = "block-ip",
     .offset = OFF(response.action),
     .names = response_actions,
     .help = "The action response.min_level triggers."},
    {.key = "response.timeout",
     .type = TRL_CFG_DURATION,
     .def = "1h",
     .offset = OFF(response.timeout_ms),
     .min = SEC,
     .max = 30 * DAY,
     .help = "How long an IP address stays blocked when its rule names no timeout."},
    {.key = "response.allowlist",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(response.allowlist),
     .check = check_cidr,
     .help = "Addresses and CIDRs never blocked, besides loopback and the server's own addresses."},
    {.key = "response.lock_system_accounts",
     .type = TRL_CFG_BOOL,
     .def = "false",
     .offset = OFF(response.lock_system_accounts),
     .help = "Allow lock-account on system accounts (UID below 1000 or from 60000); root is "
             "never locked."},
    {.key = "ioc.enabled",
     .type = TRL_CFG_BOOL,
     .def = "true",
     .offset = OFF(ioc.enabled),
     .help = "Match every event against the threat-intelligence indicators of <data_dir>/ioc.db "
             "(when it exists): enrich it with threat.indicator.* fields and raise an alert per "
             "hit."},
    {.key = "ioc.reload_interval",
     .type = TRL_CFG_DURATION,
     .def = "5s",
     .offset = OFF(ioc.reload_interval_ms),
     .min = SEC,
     .max = 3600 * SEC,
     .help = "How often ioc.db is checked for changes; a changed database is loaded and swapped "
             "in without a restart."},
    {.key = "ioc.feeds",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(ioc.feeds),
     .check = check_ioc_feed,
     .help = "Threat-intelligence feeds the server polls into ioc.db, one per item: \"taxii "
             "name=N url=DISCOVERY-URL collection=ID [token_file=F | username=U password_file=F] "
             "[interval=1h] ...\" (see docs/threat-intel.md)."},
    {.key = "ioc.taxii_server.listen",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(ioc.taxii_server.listen),
     .check = check_optional_listen,
     .help = "Address (ADDRESS:PORT) of the read-only TAXII 2.1 server (HTTPS) that shares this "
             "instance's sightings and indicators with partners; empty turns it off."},
    {.key = "ioc.taxii_server.tokens",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(ioc.taxii_server.tokens),
     .check = check_token_hash,
     .help = "SHA-256 (64 hex digits) of each bearer token the TAXII server accepts; the tokens "
             "themselves are not stored. The server does not start without one."},
};

_Static_assert(TRL_ARRAY_LEN(keys) <= TRL_CFG_MAX_KEYS, "raise TRL_CFG_MAX_KEYS");

static const struct trl_cfg_map map = {
    .entries = keys,
    .count = TRL_ARRAY_LEN(keys),
    .origins_offset = OFF(origins),
};

const struct trl_cfg_map *trl_config_map(void)
{
    return &map;
}

static char *join_path(const char *dir, const char *rest)
{
    size_t n = strlen(dir) + strlen(rest) + 2;
    char *out = trl_xmalloc(n);
    snprintf(out, n, "%s/%s", dir, rest);
    return out;
}

/* The data directory of a user other than root, following the XDG base directory rules; NULL when
 * the user has no usable home directory. */
static char *user_data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0] == '/')
        return join_path(xdg, "trapline");
    const char *home = getenv("HOME");
    if (home && home[0] == '/')
        return join_path(home, ".local/share/trapline");
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir &&
        res->pw_dir[0] == '/')
        return join_path(res->pw_dir, ".local/share/trapline");
    return NULL;
}

void trl_config_defaults(struct trl_config *c)
{
    memset(c, 0, sizeof(*c));
    trl_cfgmap_defaults(&map, c);
    if (geteuid() == 0)
        return;
    char *dir = user_data_dir();
    char why[256];
    /* Validated like any value: a home directory that is not UTF-8 keeps the root default. */
    if (dir)
        trl_cfgmap_set(&map, c, "data_dir", dir, TRL_CFG_SRC_DEFAULT, why, sizeof(why));
    free(dir);
}

int trl_config_load_buffer(struct trl_config *c, const char *name, const char *data, size_t len,
                           char *err, size_t errlen)
{
    return trl_cfgmap_load(&map, c, name, data, len, err, errlen);
}

/* Config files are small; a bigger one is a mistake (the wrong path), not something to parse. */
#define CONFIG_FILE_MAX (1024 * 1024)

int trl_config_load_file(struct trl_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    int rc;
    if (!f) {
        snprintf(err, errlen, "config %s: %s", path, strerror(errno));
        return TRL_ECONFIG;
    }
    buf = trl_xmalloc(CONFIG_FILE_MAX + 1);
    size_t len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, errlen, "config %s: %s", path, strerror(errno));
        rc = TRL_ECONFIG;
        goto done;
    }
    if (len > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "config %s: larger than %d bytes; is it the right file?", path,
                 CONFIG_FILE_MAX);
        rc = TRL_ECONFIG;
        goto done;
    }
    rc = trl_cfgmap_load(&map, c, path, buf, len, err, errlen);
done:
    free(buf);
    fclose(f);
    return rc;
}

int trl_config_apply_env(struct trl_config *c, char *err, size_t errlen)
{
    const char *dir = getenv("TRAPLINE_DATA");
    if (!dir || !dir[0])
        return 0;
    char why[512];
    if (trl_cfgmap_set(&map, c, "data_dir", dir, TRL_CFG_SRC_ENV, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, errlen, "environment TRAPLINE_DATA: %s", why);
    return TRL_ECONFIG;
}

int trl_config_set(struct trl_config *c, const char *key, const char *value, char *err,
                   size_t errlen)
{
    return trl_cfgmap_set(&map, c, key, value, TRL_CFG_SRC_FLAG, err, errlen);
}

/* An address that appears in both a and b (twice in a when a == b), or NULL. */
/* An address given twice. Port 0 asks for a free port each time, so it never collides. */
static const char *find_repeat(const struct trl_strlist *a, const struct trl_strlist *b)
{
    for (size_t i = 0; i < a->count; i++) {
        size_t n = strlen(a->items[i]);
        if (n >= 2 && !strcmp(a->items[i] + n - 2, ":0"))
            continue;
        for (size_t j = a == b ? i + 1 : 0; j < b->count; j++) {
            if (strcmp(a->items[i], b->items[j]) == 0)
                return a->items[i];
        }
    }
    return NULL;
}

int trl_config_check_server(const struct trl_config *c, char *err, size_t errlen)
{
    const struct trl_strlist *udp = &c->server.syslog_udp;
    const struct trl_strlist *tcp = &c->server.syslog_tcp;
    const struct trl_strlist *tls = &c->server.syslog_tls;
    const char *dup;
    if (tls->count > 0 && !c->server.tls.cert[0] != !c->server.tls.key[0]) {
        snprintf(err, errlen,
                 "server.tls: set both server.tls.cert and server.tls.key, or neither (then the "
                 "server's own certificate in <data_dir>/keys is used)");
        return TRL_ECONFIG;
    }
    if (tls->count > 0 && c->server.tls.client_auth == TRL_TLS_CLIENT_AUTH_REQUIRED &&
        !c->server.tls.ca[0]) {
        snprintf(err, errlen,
                 "server.tls.client_auth: required needs server.tls.ca to check client "
                 "certificates against");
        return TRL_ECONFIG;
    }
    if ((dup = find_repeat(udp, udp)) || (dup = find_repeat(tcp, tcp)) ||
        (dup = find_repeat(tls, tls)) || (dup = find_repeat(tcp, tls))) {
        snprintf(err, errlen, "server: %s is given to more than one listener of the same transport",
                 dup);
        return TRL_ECONFIG;
    }
    return 0;
}

char *trl_config_output_path(const struct trl_config *c)
{
    return c->pipeline.output[0] ? trl_xstrdup(c->pipeline.output) : NULL;
}

void trl_config_dump(const struct trl_config *c, FILE *out)
{
    trl_cfgmap_dump(&map, c, out);
}

void trl_config_free(struct trl_config *c)
{
    if (!c)
        return;
    trl_cfgmap_free(&map, c);
}

int trl_config_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port)
{
    const char *host = s;
    const char *colon;
    size_t hlen;
    bool v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return TRL_EINVAL;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return TRL_EINVAL;
        hlen = (size_t)(colon - s);
    }
    uint64_t p;
    if (!trl_parse_u64(colon + 1, strlen(colon + 1), &p) || p > 65535)
        return TRL_EINVAL;
    if (hlen == 0 || hlen >= addrlen || hlen >= INET6_ADDRSTRLEN)
        return TRL_EINVAL;
    char buf[INET6_ADDRSTRLEN];
    unsigned char bin[sizeof(struct in6_addr)];
    memcpy(buf, host, hlen);
    buf[hlen] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, bin) != 1)
        return TRL_EINVAL;
    memcpy(addr, buf, hlen + 1);
    *port = (uint16_t)p;
    return 0;
}
