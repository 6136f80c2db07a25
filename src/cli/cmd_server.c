/*
 * `trapline server`: receives syslog over UDP, TCP and TLS, runs every message through the pipeline
 * (parse, normalise, detect) and keeps the events in the event store (DATA/events). Settings come
 * from the YAML configuration
 * (--config), the environment (TRAPLINE_DATA) and flags, in increasing precedence; SIGHUP reads
 * them all again and applies the listener changes without dropping connections, and reloads the
 * Sigma rules (correlation windows of unchanged correlations are kept, see detect/detector.h).
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "detect/detector.h"
#include "ioc/ioc_stage.h"
#include "ioc/taxii_feeds.h"
#include "ioc/taxii_server.h"
#include "server/agent_listener.h"
#include "server/pipeline.h"
#include "server/pki.h"
#include "server/server.h"
#include "store/store.h"
#include "web/http_server.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A flag and the configuration key it sets. Repeatable flags (listeners, rules) accumulate into a
 * comma-separated list. */
struct flag_key {
    const char *flag;
    const char *key;
    bool repeat;
};

static const struct flag_key flag_keys[] = {
    {"data", "data_dir", false},
    {"syslog-udp", "server.syslog_udp", true},
    {"syslog-tcp", "server.syslog_tcp", true},
    {"syslog-tls", "server.syslog_tls", true},
    {"tls-cert", "server.tls.cert", false},
    {"tls-key", "server.tls.key", false},
    {"tls-ca", "server.tls.ca", false},
    {"tls-client-auth", "server.tls.client_auth", false},
    {"tls-min-version", "server.tls.min_version", false},
    {"max-message-size", "server.max_message_size", false},
    {"max-connections", "server.max_connections", false},
    {"idle-timeout", "server.idle_timeout", false},
    {"handshake-timeout", "server.handshake_timeout", false},
    {"udp-rcvbuf", "server.udp_rcvbuf", false},
    {"stats-interval", "server.stats_interval", false},
    {"http", "server.http", false},
    {"agents", "server.agents", false},
    {"output", "pipeline.output", false},
    {"store", "store.enabled", false},
    {"format", "ingest.format", false},
    {"rules", "detection.rules", true},
    {"log-level", "log.level", false},
};

#define NFLAGS TRL_ARRAY_LEN(flag_keys)

struct server_cli {
    const char *config_path;
    bool print_config;
    struct trl_buf values[NFLAGS]; /* the value given for each flag ("" when not given) */
    bool given[NFLAGS];
    /* Current configuration and the options built from it (the server keeps pointers into the
     * configuration until the next reload). */
    struct trl_config cfg;
    struct trl_server_opts opts;
    struct trl_pki_paths pki;
    /* The detector, when it evaluates Sigma rules: SIGHUP reloads them. */
    struct trl_detector *rules_detector;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: trapline server [options]\n"
        "\n"
        "Receives syslog (RFC 3164/5424, Snare, CEF, LEEF, JSON; octet-counted or LF-framed on\n"
        "streams), normalises every message to ECS, evaluates Sigma rules and writes events.\n"
        "SIGHUP re-reads the configuration and the rules; SIGTERM stops after handing over\n"
        "everything.\n"
        "\n"
        "options (each sets the configuration key in brackets; see docs/configuration.md):\n"
        "  --config FILE            YAML configuration file\n"
        "  --print-config           print the effective configuration and exit\n"
        "  --data DIR               data directory [data_dir] (default: $TRAPLINE_DATA, else "
        "%s)\n"
        "  --syslog-udp ADDR:PORT   UDP listener, repeatable, \"off\" for none "
        "[server.syslog_udp]\n"
        "  --syslog-tcp ADDR:PORT   TCP listener [server.syslog_tcp]\n"
        "  --syslog-tls ADDR:PORT   TLS listener, RFC 5425 [server.syslog_tls]\n"
        "                           defaults: UDP and TCP 0.0.0.0:514, TLS 0.0.0.0:6514; naming\n"
        "                           any listener turns the kinds not named off; as a non-root\n"
        "                           user pick ports above 1024 (e.g. 5514 and 6514)\n"
        "  --tls-cert FILE, --tls-key FILE\n"
        "                           TLS identity [server.tls.cert/key]; default: the server's\n"
        "                           own certificate, created in DATA/keys on first start\n"
        "  --tls-ca FILE            CA bundle for client certificates [server.tls.ca]\n"
        "  --tls-client-auth MODE   none|optional|required [server.tls.client_auth]\n"
        "  --tls-min-version V      1.2|1.3 [server.tls.min_version]\n"
        "  --max-message-size N     cut longer messages at N bytes, e.g. 64KiB\n"
        "  --max-connections N      TCP+TLS connections open at once\n"
        "  --idle-timeout DUR       close a connection with no complete message for DUR (5m)\n"
        "  --handshake-timeout DUR  close a TLS connection not through its handshake (10s)\n"
        "  --udp-rcvbuf N           UDP socket receive buffer, e.g. 8MiB\n"
        "  --stats-interval DUR     log the counters this often (1m)\n"
        "  --http ADDR:PORT         HTTPS web console and REST API, \"\" for none\n"
        "                           [server.http] (default 127.0.0.1:8443)\n"
        "  --agents ADDR:PORT       agent listener, TLS 1.3, \"\" for none [server.agents]\n"
        "  --output FILE            events as JSON lines [pipeline.output]\n"
        "  --store on|off           keep events in DATA/events; off makes a relay that only\n"
        "                           detects and writes --output [store.enabled]\n"
        "  --format FMT             auto|rfc3164|rfc5424|snare|cef|leef|json|audit|access|raw\n"
        "  --rules PATH             Sigma rules, repeatable, \"off\" for none "
        "[detection.rules]\n"
        "  --log-level LEVEL        debug|info|warn|error [log.level]\n"
        "  -h, --help               this text\n",
        trl_cli_default_data_dir());
}

static int parse_args(int argc, char **argv, struct server_cli *c)
{
    struct option longopts[NFLAGS + 4];
    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < NFLAGS; i++)
        longopts[i] = (struct option){flag_keys[i].flag, required_argument, NULL, 1000 + (int)i};
    longopts[NFLAGS] = (struct option){"config", required_argument, NULL, 'c'};
    longopts[NFLAGS + 1] = (struct option){"print-config", no_argument, NULL, 'p'};
    longopts[NFLAGS + 2] = (struct option){"help", no_argument, NULL, 'h'};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt >= 1000 && opt < 1000 + (int)NFLAGS) {
            size_t i = (size_t)(opt - 1000);
            struct trl_buf *v = &c->values[i];
            /* "off" empties a list; a later listener flag starts it again. */
            if (flag_keys[i].repeat && c->given[i] && strcmp(optarg, "off") &&
                strcmp(v->data, "off")) {
                trl_buf_putc(v, ',');
            } else {
                trl_buf_reset(v);
            }
            trl_buf_puts(v, optarg);
            c->given[i] = true;
        } else if (opt == 'c') {
            c->config_path = optarg;
        } else if (opt == 'p') {
            c->print_config = true;
        } else if (opt == 'h') {
            usage(stdout);
            return 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trapline server: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    /* Naming any listener on the command line means "exactly these": the kinds not named are
     * off rather than at their defaults. */
    bool any_listener = false;
    for (size_t i = 0; i < NFLAGS; i++)
        any_listener |= c->given[i] && !strncmp(flag_keys[i].flag, "syslog-", 7);
    for (size_t i = 0; any_listener && i < NFLAGS; i++) {
        if (!c->given[i] && !strncmp(flag_keys[i].flag, "syslog-", 7)) {
            trl_buf_reset(&c->values[i]);
            trl_buf_puts(&c->values[i], "off");
            c->given[i] = true;
        }
    }
    return 0;
}

/* Builds a configuration from file, environment and flags. On error prints why and returns -1. */
static int load_config(const struct server_cli *c, struct trl_config *cfg)
{
    char err[1024];
    trl_config_defaults(cfg);
    if (c->config_path && trl_config_load_file(cfg, c->config_path, err, sizeof(err)) != 0)
        goto fail;
    if (trl_config_apply_env(cfg, err, sizeof(err)) != 0)
        goto fail;
    for (size_t i = 0; i < NFLAGS; i++) {
        if (!c->given[i])
            continue;
        const char *key = flag_keys[i].key, *value = c->values[i].data;
        /* `--rules off` turns detection off rather than emptying the list (which means the
         * built-in rules). */
        if (!strcmp(key, "detection.rules") && !strcmp(value, "off")) {
            key = "detection.enabled";
            value = "false";
        }
        if (trl_config_set(cfg, key, value, err, sizeof(err)) != 0)
            goto fail;
    }
    if (trl_config_check_server(cfg, err, sizeof(err)) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "trapline: %s\n", err);
    trl_config_free(cfg);
    return -1;
}

static int add_listeners(struct trl_server_opts *o, enum trl_listen_kind kind,
                         const struct trl_strlist *l)
{
    for (size_t i = 0; i < l->count; i++) {
        if (trl_server_opts_add(o, kind, l->items[i]) != 0) {
            trl_error("server", "too many %s listeners (at most %d)", trl_listen_kind_name(kind),
                      TRL_SERVER_MAX_LISTEN);
            return -1;
        }
    }
    return 0;
}

/* Server options from a configuration; pki supplies the certificate when none is configured. */
static int build_opts(const struct trl_config *cfg, const struct trl_pki_paths *pki,
                      struct trl_server_opts *o)
{
    trl_server_opts_init(o);
    if (add_listeners(o, TRL_LISTEN_UDP, &cfg->server.syslog_udp) ||
        add_listeners(o, TRL_LISTEN_TCP, &cfg->server.syslog_tcp) ||
        add_listeners(o, TRL_LISTEN_TLS, &cfg->server.syslog_tls))
        return -1;
    bool own = !cfg->server.tls.cert[0];
    o->tls_cert = own ? pki->server_cert : cfg->server.tls.cert;
    o->tls_key = own ? pki->server_key : cfg->server.tls.key;
    o->tls_ca = cfg->server.tls.ca[0] ? cfg->server.tls.ca : NULL;
    o->tls_client_auth = (enum trl_client_auth)cfg->server.tls.client_auth;
    o->tls_min_version = (enum trl_tls_min_version)cfg->server.tls.min_version;
    o->max_message_size = (size_t)cfg->server.max_message_size;
    o->max_connections = (uint32_t)cfg->server.max_connections;
    o->idle_timeout_ms = (uint64_t)cfg->server.idle_timeout_ms;
    o->handshake_timeout_ms = (uint64_t)cfg->server.handshake_timeout_ms;
    o->udp_rcvbuf = (int)cfg->server.udp_rcvbuf;
    o->stats_interval_ms = (uint64_t)cfg->server.stats_interval_ms;
    char err[512];
    if (trl_server_opts_check(o, err, sizeof(err)) != 0) {
        trl_error("server", "%s", err);
        return -1;
    }
    return 0;
}

/* The built-in rules: rules/ next to the build directory holding the binary, when it exists. */
static void builtin_rules(char *out, size_t outlen)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    out[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    struct stat st;
    if (snprintf(out, outlen, "%.*s/../rules", (int)(outlen - 10), exe) >= (int)outlen ||
        stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
        out[0] = '\0';
}

/* Where the Sigma rules are: detection.rules, or the built-in rules and DATA/rules. */
struct rule_paths {
    const char *paths[64];
    size_t n;
    char builtin[PATH_MAX], local[PATH_MAX];
};

static void rule_paths(const struct trl_config *cfg, struct rule_paths *rp)
{
    const struct trl_strlist *rules = &cfg->detection.rules;
    rp->n = 0;
    if (rules->count == 0) {
        struct stat st;
        builtin_rules(rp->builtin, sizeof(rp->builtin));
        if (rp->builtin[0])
            rp->paths[rp->n++] = rp->builtin;
        snprintf(rp->local, sizeof(rp->local), "%s/rules", cfg->data_dir);
        if (stat(rp->local, &st) == 0 && S_ISDIR(st.st_mode))
            rp->paths[rp->n++] = rp->local;
        if (rp->n == 0)
            trl_warn("rules", "no rules configured and no built-in rules found: no detection");
    }
    for (size_t i = 0; i < rules->count && rp->n < TRL_ARRAY_LEN(rp->paths); i++)
        rp->paths[rp->n++] = rules->items[i];
}

/* The rules are read again even when the new configuration is rejected (with the running
 * configuration's paths): a rule file edited on its own is picked up either way. */
static void reload_rules(struct server_cli *c)
{
    if (!c->rules_detector)
        return;
    if (!c->cfg.detection.enabled) {
        trl_warn("rules", "detection.enabled changed: takes effect at the next start");
        return;
    }
    struct rule_paths rp;
    rule_paths(&c->cfg, &rp);
    trl_detector_reload(c->rules_detector, rp.paths, rp.n);
}

static int reload(void *ud, struct trl_server_opts *out)
{
    struct server_cli *c = ud;
    struct trl_config fresh;
    if (load_config(c, &fresh) != 0) {
        reload_rules(c);
        return TRL_ECONFIG;
    }
    struct trl_server_opts opts;
    if (build_opts(&fresh, &c->pki, &opts) != 0) {
        trl_config_free(&fresh);
        reload_rules(c);
        return TRL_ECONFIG;
    }
    trl_log_set_level((enum trl_log_level)fresh.log.level);
    /* The server copied what it keeps from the previous options: the old configuration can go. */
    trl_config_free(&c->cfg);
    c->cfg = fresh;
    c->opts = opts;
    *out = c->opts;
    trl_info("server", "configuration reloaded");
    reload_rules(c);
    return 0;
}

/* One line on standard output once every listener is bound (scripts wait for it). */
static void ready(void *ud, const struct trl_server_bound *bound, size_t count)
{
    (void)ud;
    printf("trapline server: listening");
    for (size_t i = 0; i < count; i++)
        printf(" %s=%s", trl_listen_kind_name(bound[i].kind), bound[i].address);
    printf("\n");
    fflush(stdout);
}

/* Response events go into the pipeline like received messages (JSON, parsed as ECS). The
 * pipeline is set once it exists, before any event can raise an alert. */
struct response_sink {
    struct trl_pipeline *p;
};

static void emit_response(void *ud, const char *json, size_t len)
{
    struct response_sink *rs = ud;
    if (!rs->p)
        return;
    struct trl_batch *b = trl_pipeline_batch_get(rs->p);
    trl_batch_add(b, json, len, "trapline-response", trl_now_ns(), 0);
    trl_pipeline_submit(rs->p, b);
}

/* How long a kill or lock waits for its agent to connect; a block waits its own timeout. */
#define AGENT_ACTION_TTL_S 600

/* Actions for events from agents go to the agent listener, which sends them to the agent. The
 * listener starts after the detector and stops before it: the lock keeps the pipeline worker
 * that routes from using it while it goes away. */
struct response_route {
    pthread_mutex_t mu;
    struct trl_agent_listener *l;
};

static int route_response(void *ud, const char *agent_id, const struct trl_response_request *req,
                          char *err, size_t errlen)
{
    struct response_route *rr = ud;
    struct trl_buf json = {0};
    trl_response_request_json(req, &json);
    int64_t ttl = req->action == TRL_RESPONSE_BLOCK_IP ? req->timeout_s : AGENT_ACTION_TTL_S;
    int64_t expires = trl_now_ns() + ttl * TRL_NS_PER_SEC;
    pthread_mutex_lock(&rr->mu);
    int rc = rr->l ? trl_agent_listener_action(rr->l, agent_id, json.data, json.len, expires)
                   : TRL_EINVAL;
    pthread_mutex_unlock(&rr->mu);
    if (rc == TRL_EFULL)
        snprintf(err, errlen, "too many actions waiting for their agents");
    else if (rc != 0)
        snprintf(err, errlen, "the agent listener is not running");
    trl_buf_free(&json);
    return rc;
}

/* An action that expired before its agent connected is recorded as failed. */
static void agent_action_expired(void *ud, const char *agent_id, const char *json, size_t len)
{
    struct trl_response_request req;
    if (trl_response_request_parse(json, len, &req) != 0)
        return;
    char why[256];
    snprintf(why, sizeof(why), "agent %s did not connect before the request expired", agent_id);
    trl_response_record(ud, &req, TRL_RESPONSE_FAILED, why);
}

/* with_rules false: a detector without Sigma rules, for the alerts of threat-intelligence hits. */
static struct trl_detector *start_detection(const struct trl_config *cfg, bool with_rules,
                                            struct trl_response *response)
{
    struct rule_paths rp = {.n = 0};
    if (with_rules)
        rule_paths(cfg, &rp);
    const char **paths = rp.paths;
    size_t n = rp.n;
    struct trl_outputs_config oc;
    trl_outputs_config_from(&oc, cfg);
    struct trl_detector_config dc = {
        .rule_paths = paths,
        .nrule_paths = n,
        .data_dir = cfg->data_dir,
        .fold_window_ns = cfg->detection.fold_window_ms * 1000000LL,
        .outputs = &oc,
        .outputs_min_level = cfg->alerts.min_level,
        .response = response,
    };
    return trl_detector_create(&dc);
}

int trl_cmd_server(int argc, char **argv)
{
    struct server_cli c;
    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < NFLAGS; i++)
        trl_buf_puts(&c.values[i], "");
    int rc = parse_args(argc, argv, &c);
    if (rc) {
        rc = rc == 1 ? 0 : rc;
        goto out_args;
    }
    rc = 2;
    if (load_config(&c, &c.cfg) != 0)
        goto out_args;
    if (c.print_config) {
        trl_config_dump(&c.cfg, stdout);
        rc = 0;
        goto out_cfg;
    }
    trl_log_set_level((enum trl_log_level)c.cfg.log.level);
    rc = 1;
    struct trl_sink *sink = NULL;
    struct trl_detector *det = NULL;
    struct trl_response *response = NULL;
    struct response_sink response_sink = {NULL};
    struct response_route response_route = {PTHREAD_MUTEX_INITIALIZER, NULL};
    struct trl_ioc_stage *ioc = NULL;
    struct trl_taxii_feeds *feeds = NULL;
    struct trl_taxii_server *taxii = NULL;
    struct trl_server_waker *waker = NULL;
    struct trl_pipeline *p = NULL;
    struct trl_agent_listener *agents = NULL;
    struct trl_http_server *http = NULL;
    struct trl_server_counters counters = {0};
    char *output = NULL;
    if (trl_cli_ensure_dir(c.cfg.data_dir) != 0 || trl_pki_ensure(c.cfg.data_dir, &c.pki) != 0)
        goto out;
    if (build_opts(&c.cfg, &c.pki, &c.opts) != 0)
        goto out;
    output = trl_config_output_path(&c.cfg);
    if (!c.cfg.store.enabled && !output) {
        trl_error("server", "store.enabled is false and there is no pipeline.output: events "
                            "would go nowhere (set --output FILE, or --store on)");
        goto out;
    }
    if (c.cfg.store.enabled) {
        struct trl_store_opts so = {
            .retention_days = (uint32_t)c.cfg.retention.days,
            .retention_max_bytes = (uint64_t)c.cfg.retention.max_bytes,
        };
        sink = trl_store_sink_create(c.cfg.data_dir, &so);
        if (!sink)
            goto out;
    }
    if (output) {
        struct trl_sink *copy = trl_sink_jsonl_create(output);
        if (!copy)
            goto out;
        sink = sink ? trl_sink_tee_create(sink, copy) : copy;
    }
    /* A detector that cannot start (alert store, an output's settings) stops the server: running
     * without detection is not what the configuration asked for. */
    struct trl_response_config rc_cfg;
    trl_response_config_from(&rc_cfg, &c.cfg);
    rc_cfg.emit = emit_response;
    rc_cfg.emit_ud = &response_sink;
    rc_cfg.route = route_response;
    rc_cfg.route_ud = &response_route;
    if (c.cfg.detection.enabled && trl_response_configured(&rc_cfg) &&
        !(response = trl_response_create(&rc_cfg)))
        goto out;
    if (c.cfg.detection.enabled && !(det = start_detection(&c.cfg, true, response)))
        goto out;
    c.rules_detector = det;
    if (c.cfg.ioc.enabled) {
        struct trl_ioc_stage_opts io = {
            .data_dir = c.cfg.data_dir,
            .reload_interval_ns = c.cfg.ioc.reload_interval_ms * 1000000LL,
        };
        if (!(ioc = trl_ioc_stage_create(&io)))
            goto out;
        /* Indicator hits become alerts in the detection stage, which then runs even without
         * Sigma rules. */
        if (!det && !(det = start_detection(&c.cfg, false, NULL)))
            goto out;
        bool no_feeds;
        feeds = trl_taxii_feeds_start(c.cfg.data_dir, c.cfg.ioc.feeds.items, c.cfg.ioc.feeds.count,
                                      &no_feeds);
        if (!feeds && !no_feeds)
            goto out;
    }
    if (c.cfg.ioc.taxii_server.listen[0]) {
        struct trl_taxii_server_opts to = {
            .data_dir = c.cfg.data_dir,
            .listen = c.cfg.ioc.taxii_server.listen,
            .cert_path = c.pki.server_cert,
            .key_path = c.pki.server_key,
            .token_hashes = (const char *const *)c.cfg.ioc.taxii_server.tokens.items,
            .ntokens = c.cfg.ioc.taxii_server.tokens.count,
        };
        if (!(taxii = trl_taxii_server_start(&to)))
            goto out;
    }
    waker = trl_server_waker_create();
    struct trl_pipeline_config pc = {
        .format = (enum trl_format_id)c.cfg.ingest.format,
        /* The parse threads also encode the events as JSON, which the store and the output
         * file take as it is: the worker thread, which runs both, has the most to do. */
        .encode_json = true,
        .parse_threads = (uint32_t)c.cfg.pipeline.parse_threads,
        .queue_batches = (uint32_t)c.cfg.pipeline.queue_batches,
        .batch_max_msgs = (uint32_t)c.cfg.pipeline.batch_max_messages,
        .batch_max_bytes = (size_t)c.cfg.pipeline.batch_max_bytes,
        .sink = sink,
        .stage = det ? trl_detector_process : NULL,
        .stage_ud = det,
        .enrich = ioc ? trl_ioc_stage_enrich : NULL,
        .enrich_ud = ioc,
        .on_drain = trl_server_waker_notify,
        .on_drain_ud = waker,
    };
    p = trl_pipeline_create(&pc);
    if (!p)
        goto out;
    response_sink.p = p;
    sink = NULL; /* owned by the pipeline */
    trl_info("server", "starting data=%s store=%s%s%s%s", c.cfg.data_dir,
             c.cfg.store.enabled ? c.cfg.data_dir : "off", c.cfg.store.enabled ? "/events" : "",
             output ? " copy=" : "", output ? output : "");
    /* An agent listener that cannot start is logged; syslog reception goes on without it. */
    struct trl_agent_listener_opts ao = {.address = c.cfg.server.agents,
                                         .data_dir = c.cfg.data_dir,
                                         .pki = &c.pki,
                                         .pipeline = p,
                                         .action_expired = response ? agent_action_expired : NULL,
                                         .action_ud = response,
                                         .counters = &counters};
    if (c.cfg.server.agents[0] && trl_agent_listener_start(&ao, &agents) != 0)
        agents = NULL;
    pthread_mutex_lock(&response_route.mu);
    response_route.l = agents;
    pthread_mutex_unlock(&response_route.mu);
    /* The web console and API, likewise: without them the server still receives. */
    bool own_cert = !c.cfg.server.tls.cert[0];
    struct rule_paths rp;
    rule_paths(&c.cfg, &rp);
    struct trl_http_opts ho = {
        .rule_paths = rp.paths,
        .nrule_paths = c.cfg.detection.enabled ? rp.n : 0,
        .local_rules = c.cfg.detection.enabled && c.cfg.detection.rules.count == 0,
        .agents_address = c.cfg.server.agents,
        .listen = c.cfg.server.http,
        .cert_file = own_cert ? c.pki.server_cert : c.cfg.server.tls.cert,
        .key_file = own_cert ? c.pki.server_key : c.cfg.server.tls.key,
        .data_dir = c.cfg.data_dir,
        .pipeline = p,
        .detector = det,
        .listener_counters = &counters,
    };
    if (c.cfg.server.http[0])
        http = trl_http_server_start(&ho);
    struct trl_server_hooks hooks = {
        .ud = &c, .reload = reload, .ready = ready, .waker = waker, .counters = &counters};
    rc = trl_server_run(&c.opts, p, &hooks) == 0 ? 0 : 1;
out:
    trl_http_server_stop(http);
    pthread_mutex_lock(&response_route.mu);
    response_route.l = NULL;
    pthread_mutex_unlock(&response_route.mu);
    trl_agent_listener_stop(agents);
    trl_taxii_server_stop(taxii);
    trl_taxii_feeds_stop(feeds);
    /* Actions still running when the pipeline stops are logged, not stored. */
    trl_response_detach(response);
    trl_pipeline_destroy(p);
    if (sink)
        sink->destroy(sink);
    trl_detector_destroy(det);
    trl_response_destroy(response);
    trl_ioc_stage_destroy(ioc);
    trl_server_waker_destroy(waker);
    free(output);
out_cfg:
    trl_config_free(&c.cfg);
out_args:
    for (size_t i = 0; i < NFLAGS; i++)
        trl_buf_free(&c.values[i]);
    return rc;
}
