/*
 * `trapline agent`: collects events on this host and delivers them to a Trapline server (see
 * agent/agent_main.h and docs/protocol.md). Settings come from an optional YAML file (--config)
 * and from flags, which take precedence. `trapline agent enroll ...` obtains the agent's identity.
 */
#include "agent/agent_main.h"
#include "agent/enroll_client.h"
#include "agent/forward.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct agent_config {
    char *server;
    char *state_dir;
    struct trl_strlist tail;
    struct trl_strlist fim;
    bool processes;
    bool network;
    bool default_sources;
    bool active_response;
    int64_t spool_max_bytes;
    int64_t heartbeat_ms;
    int log_level;
    char *network_user;
    struct trl_cfg_origins origins;
    /* The `forwarders` list, which the table below cannot describe (agent/forward_config.c). */
    struct trl_forward_config *fwd;
    size_t nfwd;
};

#define OFF(f) offsetof(struct agent_config, f)

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

static const struct trl_cfg_entry keys[] = {
    {.key = "server",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(server),
     .help = "HOST:PORT of the server's agent listener; empty: the one saved at enrollment."},
    {.key = "state_dir",
     .type = TRL_CFG_STRING,
     .def = "",
     .offset = OFF(state_dir),
     .help = "Directory of the agent's identity, spool and offsets."},
    {.key = "tail",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(tail),
     .help = "Log files to follow: paths or glob patterns."},
    {.key = "fim",
     .type = TRL_CFG_LIST,
     .def = "",
     .offset = OFF(fim),
     .help = "File integrity monitoring of these files and directories (besides /etc and the "
             "system binaries with the default sources)."},
    {.key = "processes",
     .type = TRL_CFG_BOOL,
     .def = "false",
     .offset = OFF(processes),
     .help = "Report process executions even without the default sources (needs root)."},
    {.key = "network",
     .type = TRL_CFG_BOOL,
     .def = "false",
     .offset = OFF(network),
     .help = "Report TCP listeners and connections even without the default sources."},
    {.key = "default_sources",
     .type = TRL_CFG_BOOL,
     .def = "true",
     .offset = OFF(default_sources),
     .help = "Also collect the system logs, file integrity, processes, network and logins."},
    {.key = "active_response",
     .type = TRL_CFG_BOOL,
     .def = "true",
     .offset = OFF(active_response),
     .help = "Carry out the server's response actions (block-ip, kill-process, lock-account) on "
             "this host; false: refuse and record them."},
    {.key = "spool.max_size",
     .type = TRL_CFG_SIZE,
     .def = "1GiB",
     .offset = OFF(spool_max_bytes),
     .min = 16 << 20,
     .max = (int64_t)1 << 40,
     .help = "Cap on the disk spool; when reached, file sources pause and host events are "
             "dropped."},
    {.key = "heartbeat",
     .type = TRL_CFG_DURATION,
     .def = "30s",
     .offset = OFF(heartbeat_ms),
     .min = 1000,
     .max = 3600000,
     .help = "How often the agent reports its health to the server."},
    {.key = "network_user",
     .type = TRL_CFG_STRING,
     .def = "nobody",
     .offset = OFF(network_user),
     .help = "User the unprivileged network process runs as when the agent runs as root."},
    {.key = "log.level",
     .type = TRL_CFG_ENUM,
     .def = "info",
     .offset = OFF(log_level),
     .names = log_levels,
     .help = "Least severe level written to the agent's log (stderr)."},
};

static const struct trl_cfg_map agent_map = {
    .entries = keys,
    .count = TRL_ARRAY_LEN(keys),
    .origins_offset = OFF(origins),
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: trapline agent [options]\n"
        "       trapline agent enroll [options]   (see `trapline agent enroll --help`)\n"
        "\n"
        "Collects events on this host (log files, and by default file integrity, processes,\n"
        "network connections and logins), parses and normalises them, keeps them in a disk\n"
        "spool and delivers them to the server over TLS 1.3 until it acknowledges them.\n"
        "The configuration file may also list `forwarders`: syslog collectors (UDP, TCP,\n"
        "TLS; RFC 5424, RFC 3164, Snare, CEF or JSON) that get every event as well.\n"
        "All network I/O runs in a separate process without privileges [network_user].\n"
        "\n"
        "options:\n"
        "  --config FILE             YAML file with the keys below\n"
        "  --state DIR               identity, spool and offsets [state_dir]\n"
        "                            (default: " TRL_AGENT_DEFAULT_STATE ")\n"
        "  --server HOST:PORT        the server's agent listener [server]\n"
        "  --tail PATH_OR_GLOB       follow a log file, repeatable [tail]\n"
        "  --fim PATH                file integrity of a file or directory, repeatable [fim]\n"
        "  --processes               process executions, also with --no-default-sources\n"
        "                            [processes]\n"
        "  --network                 TCP connections, also with --no-default-sources [network]\n"
        "  --no-default-sources      only the sources named by the options above\n"
        "                            [default_sources]\n"
        "  --no-active-response      refuse the server's response actions [active_response]\n"
        "  --spool-max-size N        spool cap, e.g. 1GiB [spool.max_size]\n"
        "  --heartbeat DUR           health report interval, e.g. 30s [heartbeat]\n"
        "  --log-level LEVEL         debug|info|warn|error [log.level]\n"
        "  -h, --help                this text\n");
}

static int load_file(struct agent_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "trapline agent: cannot open %s\n", path);
        return -1;
    }
    char *data = trl_xmalloc(1 << 20);
    size_t len = fread(data, 1, 1 << 20, f);
    bool too_big = !feof(f);
    fclose(f);
    char err[512];
    int rc = -1;
    if (too_big)
        fprintf(stderr, "trapline agent: %s is larger than 1 MiB\n", path);
    else if (trl_forward_config_extract(path, data, len, &c->fwd, &c->nfwd, err, sizeof(err)) != 0)
        fprintf(stderr, "trapline agent: %s\n", err);
    else if (trl_cfgmap_load(&agent_map, c, path, data, len, err, sizeof(err)) != 0)
        fprintf(stderr, "trapline agent: %s\n", err);
    else
        rc = 0;
    free(data);
    return rc;
}

static int set_flag(struct agent_config *c, const char *key, const char *value)
{
    char err[512];
    if (trl_cfgmap_set(&agent_map, c, key, value, TRL_CFG_SRC_FLAG, err, sizeof(err)) != 0) {
        fprintf(stderr, "trapline agent: %s\n", err);
        return -1;
    }
    return 0;
}

int trl_cmd_agent(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "enroll"))
        return trl_cmd_agent_enroll(argc - 1, argv + 1);

    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"state", required_argument, NULL, 's'},
        {"server", required_argument, NULL, 'S'},
        {"tail", required_argument, NULL, 't'},
        {"no-default-sources", no_argument, NULL, 'n'},
        {"fim", required_argument, NULL, 'F'},
        {"processes", no_argument, NULL, 'P'},
        {"network", no_argument, NULL, 'N'},
        {"no-active-response", no_argument, NULL, 'R'},
        {"spool-max-size", required_argument, NULL, 'm'},
        {"heartbeat", required_argument, NULL, 'b'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct agent_config c;
    memset(&c, 0, sizeof(c));
    trl_cfgmap_defaults(&agent_map, &c);
    struct trl_agent_opts o;
    memset(&o, 0, sizeof(o));
    const char *config_path = NULL;
    const char *tails[TRL_AGENT_MAX_TAILS];
    size_t ntails = 0;
    const char *fims[TRL_AGENT_MAX_TAILS];
    size_t nfims = 0;
    char *state = NULL;
    int rc = 2;
    /* The file is read first so that flags override it, wherever --config appears. */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config"))
            config_path = argv[i + 1];
    if (config_path && load_file(&c, config_path) != 0)
        goto out;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int r = 0;
        switch (opt) {
        case 'c':
            break;
        case 's':
            r = set_flag(&c, "state_dir", optarg);
            break;
        case 'S':
            r = set_flag(&c, "server", optarg);
            break;
        case 't':
            if (ntails == TRL_AGENT_MAX_TAILS) {
                fprintf(stderr, "trapline agent: at most %d --tail\n", TRL_AGENT_MAX_TAILS);
                goto out;
            }
            tails[ntails++] = optarg;
            break;
        case 'n':
            r = set_flag(&c, "default_sources", "false");
            break;
        case 'F':
            if (nfims == TRL_AGENT_MAX_TAILS) {
                fprintf(stderr, "trapline agent: at most %d --fim\n", TRL_AGENT_MAX_TAILS);
                goto out;
            }
            fims[nfims++] = optarg;
            break;
        case 'P':
            r = set_flag(&c, "processes", "true");
            break;
        case 'N':
            r = set_flag(&c, "network", "true");
            break;
        case 'R':
            r = set_flag(&c, "active_response", "false");
            break;
        case 'm':
            r = set_flag(&c, "spool.max_size", optarg);
            break;
        case 'b':
            r = set_flag(&c, "heartbeat", optarg);
            break;
        case 'l':
            r = set_flag(&c, "log.level", optarg);
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
        if (r != 0)
            goto out;
    }
    if (optind < argc) {
        fprintf(stderr, "trapline agent: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    /* --tail flags replace the file's list, as every flag replaces its key. */
    if (ntails == 0) {
        for (size_t i = 0; i < c.tail.count && ntails < TRL_AGENT_MAX_TAILS; i++)
            tails[ntails++] = c.tail.items[i];
    }
    if (nfims == 0) {
        for (size_t i = 0; i < c.fim.count && nfims < TRL_AGENT_MAX_TAILS; i++)
            fims[nfims++] = c.fim.items[i];
    }
    if (ntails == 0 && nfims == 0 && !c.processes && !c.network && !c.default_sources) {
        fprintf(stderr, "trapline agent: no sources: give --tail or allow the default sources\n");
        goto out;
    }
    trl_log_set_level((enum trl_log_level)c.log_level);
    state = trl_xstrdup(c.state_dir[0] ? c.state_dir : TRL_AGENT_DEFAULT_STATE);
    o.state_dir = state;
    o.server = c.server[0] ? c.server : NULL;
    for (size_t i = 0; i < ntails; i++)
        o.tails[i] = tails[i];
    o.ntails = ntails;
    for (size_t i = 0; i < nfims; i++)
        o.fim[i] = fims[i];
    o.nfim = nfims;
    o.processes = c.processes;
    o.network = c.network;
    o.default_sources = c.default_sources;
    o.active_response = c.active_response;
    o.spool_max_bytes = (uint64_t)c.spool_max_bytes;
    o.heartbeat_ms = (uint64_t)c.heartbeat_ms;
    o.forwarders = c.fwd;
    o.nforwarders = c.nfwd;
    o.network_user = c.network_user;
    rc = trl_agent_run(&o) == 0 ? 0 : 1;
out:
    free(state);
    trl_cfgmap_free(&agent_map, &c);
    trl_forward_config_free(c.fwd, c.nfwd);
    return rc;
}
