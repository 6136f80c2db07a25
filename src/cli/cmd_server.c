/*
 * `trapline server`: receives syslog over UDP, TCP and TLS, normalises every message through the
 * pipeline and writes the events (JSON lines). Options come from flags; SIGHUP re-reads them, which
 * with flags alone means the TLS certificate and key are loaded again from the same paths.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/log.h"
#include "core/util.h"
#include "server/pipeline.h"
#include "server/server.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct server_cli {
    struct trl_server_opts opts;
    const char *data_dir;
    const char *output;
    bool udp_given, tcp_given, tls_given;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: trapline server [options]\n"
        "\n"
        "Receives syslog (RFC 3164/5424, octet-counted or LF-framed on streams) and writes one\n"
        "normalised event per message. SIGHUP reloads the TLS certificate; SIGTERM stops after\n"
        "handing over everything received.\n"
        "\n"
        "options (ADDR:PORT such as 0.0.0.0:514 or [::]:514; flags may repeat; \"off\" = none):\n"
        "  --syslog-udp ADDR:PORT   UDP listener (default 0.0.0.0:514 when no listener is given)\n"
        "  --syslog-tcp ADDR:PORT   TCP listener (default 0.0.0.0:514 when no listener is given)\n"
        "  --syslog-tls ADDR:PORT   TLS listener (RFC 5425); needs --tls-cert and --tls-key\n"
        "  --tls-cert FILE          PEM certificate chain of the TLS listeners\n"
        "  --tls-key FILE           PEM private key of --tls-cert\n"
        "  --tls-ca FILE            PEM CA bundle that client certificates must chain to\n"
        "  --tls-client-auth MODE   none|optional|required (default none)\n"
        "  --tls-min-version V      1.2|1.3 (default 1.2)\n"
        "  --max-message-size N     cut longer messages at N bytes (default 65536)\n"
        "  --max-connections N      TCP+TLS connections open at once (default 10000)\n"
        "  --idle-timeout DUR       close a connection with no complete message for DUR\n"
        "                           (default 5m; 0 = never); DUR is 250ms, 10s, 5m or ms\n"
        "  --handshake-timeout DUR  close a TLS connection not through its handshake (10s)\n"
        "  --udp-rcvbuf N           UDP socket receive buffer in bytes (default 8388608)\n"
        "  --stats-interval DUR     log the counters this often (default 60s; 0 = at exit)\n"
        "  --output FILE            events as JSON lines (\"-\" = stdout; default\n"
        "                           DATA/events.jsonl)\n"
        "  --data DIR               data directory (default: $TRAPLINE_DATA, else %s)\n"
        "  --log-level LEVEL        debug|info|warn|error (default info)\n"
        "  -h, --help               this text\n",
        trl_cli_default_data_dir());
}

/* "250ms", "10s", "5m", "1h" or plain milliseconds. */
static bool parse_duration_ms(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t mult = 1;
    if (n > 2 && !strcmp(s + n - 2, "ms")) {
        n -= 2;
    } else if (n > 1 && s[n - 1] == 's') {
        mult = 1000;
        n--;
    } else if (n > 1 && s[n - 1] == 'm') {
        mult = 60000;
        n--;
    } else if (n > 1 && s[n - 1] == 'h') {
        mult = 3600000;
        n--;
    }
    uint64_t v;
    if (!trl_parse_u64(s, n, &v) || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

static int listen_flag(struct server_cli *c, enum trl_listen_kind kind, bool *given,
                       const char *arg)
{
    if (!*given) {
        /* The first flag of a kind replaces the defaults of that kind. */
        trl_server_opts_clear(&c->opts, kind);
        *given = true;
    }
    if (!strcmp(arg, "off")) {
        trl_server_opts_clear(&c->opts, kind);
        return 0;
    }
    if (trl_server_opts_add(&c->opts, kind, arg) != 0) {
        fprintf(stderr, "trapline server: at most %d %s listeners\n", TRL_SERVER_MAX_LISTEN,
                trl_listen_kind_name(kind));
        return 2;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct server_cli *c)
{
    enum {
        O_UDP = 256,
        O_TCP,
        O_TLS,
        O_CERT,
        O_KEY,
        O_CA,
        O_AUTH,
        O_MINVER,
        O_MAXMSG,
        O_MAXCONN,
        O_IDLE,
        O_HANDSHAKE,
        O_RCVBUF,
        O_STATS,
        O_OUTPUT,
        O_DATA,
        O_LOGLEVEL,
    };
    static const struct option longopts[] = {
        {"syslog-udp", required_argument, NULL, O_UDP},
        {"syslog-tcp", required_argument, NULL, O_TCP},
        {"syslog-tls", required_argument, NULL, O_TLS},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"tls-ca", required_argument, NULL, O_CA},
        {"tls-client-auth", required_argument, NULL, O_AUTH},
        {"tls-min-version", required_argument, NULL, O_MINVER},
        {"max-message-size", required_argument, NULL, O_MAXMSG},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"handshake-timeout", required_argument, NULL, O_HANDSHAKE},
        {"udp-rcvbuf", required_argument, NULL, O_RCVBUF},
        {"stats-interval", required_argument, NULL, O_STATS},
        {"output", required_argument, NULL, O_OUTPUT},
        {"data", required_argument, NULL, O_DATA},
        {"log-level", required_argument, NULL, O_LOGLEVEL},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct trl_server_opts *o = &c->opts;
    int opt, rc;
    uint64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_UDP:
            if ((rc = listen_flag(c, TRL_LISTEN_UDP, &c->udp_given, optarg)))
                return rc;
            break;
        case O_TCP:
            if ((rc = listen_flag(c, TRL_LISTEN_TCP, &c->tcp_given, optarg)))
                return rc;
            break;
        case O_TLS:
            if ((rc = listen_flag(c, TRL_LISTEN_TLS, &c->tls_given, optarg)))
                return rc;
            break;
        case O_CERT:
            o->tls_cert = optarg;
            break;
        case O_KEY:
            o->tls_key = optarg;
            break;
        case O_CA:
            o->tls_ca = optarg;
            break;
        case O_AUTH:
            if ((rc = trl_client_auth_parse(optarg)) < 0) {
                fprintf(stderr, "trapline server: --tls-client-auth: none, optional or required\n");
                return 2;
            }
            o->tls_client_auth = (enum trl_client_auth)rc;
            break;
        case O_MINVER:
            if (strcmp(optarg, "1.2") != 0 && strcmp(optarg, "1.3") != 0) {
                fprintf(stderr, "trapline server: --tls-min-version: 1.2 or 1.3\n");
                return 2;
            }
            o->tls_min_version = !strcmp(optarg, "1.3") ? TRL_TLS_MIN_1_3 : TRL_TLS_MIN_1_2;
            break;
        case O_MAXMSG:
            if (!trl_parse_u64(optarg, strlen(optarg), &v) || v < 64 || v > (16u << 20)) {
                fprintf(stderr, "trapline server: --max-message-size: 64..16777216 bytes\n");
                return 2;
            }
            o->max_message_size = (size_t)v;
            break;
        case O_MAXCONN:
            if (!trl_parse_u64(optarg, strlen(optarg), &v) || v < 1 || v > 1000000) {
                fprintf(stderr, "trapline server: --max-connections: 1..1000000\n");
                return 2;
            }
            o->max_connections = (uint32_t)v;
            break;
        case O_IDLE:
        case O_HANDSHAKE:
        case O_STATS:
            if (!parse_duration_ms(optarg, &v)) {
                fprintf(stderr, "trapline server: %s: a duration such as 250ms, 10s, 5m\n",
                        argv[optind - 1]);
                return 2;
            }
            if (opt == O_IDLE)
                o->idle_timeout_ms = v;
            else if (opt == O_HANDSHAKE)
                o->handshake_timeout_ms = v;
            else
                o->stats_interval_ms = v;
            break;
        case O_RCVBUF:
            if (!trl_parse_u64(optarg, strlen(optarg), &v) || v > (1u << 30)) {
                fprintf(stderr, "trapline server: --udp-rcvbuf: 0..1073741824 bytes\n");
                return 2;
            }
            o->udp_rcvbuf = (int)v;
            break;
        case O_OUTPUT:
            c->output = optarg;
            break;
        case O_DATA:
            c->data_dir = optarg;
            break;
        case O_LOGLEVEL:
            if ((rc = trl_log_level_parse(optarg)) < 0) {
                fprintf(stderr, "trapline server: --log-level: debug, info, warn or error\n");
                return 2;
            }
            trl_log_set_level((enum trl_log_level)rc);
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trapline server: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

/* SIGHUP: the flags do not change, but the certificate files may have been renewed; returning the
 * same options makes the server load them again. */
static int reload(void *ud, struct trl_server_opts *out)
{
    *out = ((struct server_cli *)ud)->opts;
    return 0;
}

static void ready(void *ud, const struct trl_server_bound *bound, size_t count)
{
    (void)ud;
    printf("trapline server: listening");
    for (size_t i = 0; i < count; i++)
        printf(" %s=%s", trl_listen_kind_name(bound[i].kind), bound[i].address);
    printf("\n");
    fflush(stdout);
}

int trl_cmd_server(int argc, char **argv)
{
    struct server_cli c = {0};
    trl_server_opts_init(&c.opts);
    trl_server_opts_add(&c.opts, TRL_LISTEN_UDP, "0.0.0.0:514");
    trl_server_opts_add(&c.opts, TRL_LISTEN_TCP, "0.0.0.0:514");
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc == 1 ? 0 : rc;
    if ((c.udp_given || c.tcp_given || c.tls_given) && !c.udp_given)
        trl_server_opts_clear(&c.opts, TRL_LISTEN_UDP);
    if ((c.udp_given || c.tcp_given || c.tls_given) && !c.tcp_given)
        trl_server_opts_clear(&c.opts, TRL_LISTEN_TCP);
    char err[512];
    if (trl_server_opts_check(&c.opts, err, sizeof(err)) != 0) {
        fprintf(stderr, "trapline server: %s\n", err);
        return 2;
    }

    char *output = NULL;
    if (c.output) {
        output = trl_xstrdup(c.output);
    } else {
        const char *dir = trl_cli_data_dir(c.data_dir);
        if (trl_cli_ensure_dir(dir) != 0)
            return 1;
        size_t n = strlen(dir) + 16;
        output = trl_xmalloc(n);
        snprintf(output, n, "%s/events.jsonl", dir);
    }
    struct trl_sink *sink = trl_sink_jsonl_create(output);
    if (!sink) {
        free(output);
        return 1;
    }
    struct trl_server_waker *waker = trl_server_waker_create();
    struct trl_pipeline_config pc = {
        .format = TRL_FORMAT_AUTO,
        .sink = sink,
        .on_drain = trl_server_waker_notify,
        .on_drain_ud = waker,
    };
    struct trl_pipeline *p = trl_pipeline_create(&pc);
    if (!p) {
        sink->destroy(sink);
        trl_server_waker_destroy(waker);
        free(output);
        return 1;
    }
    trl_info("server", "starting output=%s", output);
    struct trl_server_hooks hooks = {.ud = &c, .reload = reload, .ready = ready, .waker = waker};
    rc = trl_server_run(&c.opts, p, &hooks);
    trl_pipeline_destroy(p);
    trl_server_waker_destroy(waker);
    free(output);
    return rc == 0 ? 0 : 1;
}
