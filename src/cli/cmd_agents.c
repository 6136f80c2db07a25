/*
 * `trapline agents`: the enrolled agents and their health, and revocation.
 *
 *   trapline agents [--data DIR] [--output table|json]
 *   trapline agents revoke ID [--data DIR]
 *   trapline agents token [...]  (the same as `trapline token`)
 *
 * Status: "online" when seen within two minutes, "silent" after, "revoked" once revoked. A
 * revocation takes effect in a running server within a second: the agent is disconnected and
 * refused from then on.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/buf.h"
#include "core/util.h"
#include "server/agent_registry.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trapline agents [--data DIR] [--output table|json]\n"
            "       trapline agents revoke ID [--data DIR]\n"
            "       trapline agents token [--data DIR] [--ttl DURATION] [--server HOST:PORT]\n\n"
            "Lists enrolled agents: id, hostname, version, last seen, events/s, spool depth and\n"
            "status (online: seen within 2 minutes, silent, revoked).\n\n"
            "options:\n"
            "  --data DIR    data directory (default: $TRAPLINE_DATA, else %s)\n"
            "  --output FMT  json (one agent per line) or table (default on a terminal)\n",
            trl_cli_default_data_dir());
}

struct list_ctx {
    struct trl_buf buf;
    int64_t now;
    bool json;
    size_t count;
};

static void age(char *out, size_t len, int64_t now, int64_t then)
{
    if (!then) {
        snprintf(out, len, "never");
        return;
    }
    int64_t d = now > then ? now - then : 0;
    if (d < 120)
        snprintf(out, len, "%llds ago", (long long)d);
    else if (d < 7200)
        snprintf(out, len, "%lldm ago", (long long)(d / 60));
    else if (d < 172800)
        snprintf(out, len, "%lldh ago", (long long)(d / 3600));
    else
        snprintf(out, len, "%lldd ago", (long long)(d / 86400));
}

static void print_agent(void *ud, const struct trl_agent_info *a)
{
    struct list_ctx *ctx = ud;
    const char *status = trl_agent_status(a, ctx->now);
    ctx->count++;
    if (ctx->json) {
        struct trl_buf *b = &ctx->buf;
        trl_buf_reset(b);
        trl_agent_info_json(a, ctx->now, b);
        trl_buf_putc(b, '\n');
        fwrite(b->data, 1, b->len, stdout);
        return;
    }
    char seen[32];
    age(seen, sizeof(seen), ctx->now, a->last_seen);
    printf("%-20s %-24.24s %-10.10s %-10s %9.1f %9llu  %s\n", a->id,
           a->hostname[0] ? a->hostname : "-", a->version[0] ? a->version : "-", seen,
           a->events_per_sec, (unsigned long long)a->spool_depth, status);
}

static int cmd_revoke(int argc, char **argv)
{
    const char *data = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!id) {
        fprintf(stderr, "trapline agents revoke: which agent? (an id from `trapline agents`)\n");
        return 2;
    }
    struct trl_agent_registry *reg = trl_agent_registry_open(trl_cli_data_dir(data));
    if (!reg)
        return 1;
    int rc = trl_agent_registry_revoke(reg, id);
    trl_agent_registry_close(reg);
    if (rc == -ENOENT) {
        fprintf(stderr, "trapline agents revoke: no agent '%s'\n", id);
        return 1;
    }
    if (rc == -EALREADY) {
        printf("agent %s was already revoked\n", id);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "trapline agents revoke: %s\n", trl_strerror(rc));
        return 1;
    }
    printf("agent %s revoked\n", id);
    return 0;
}

int trl_cmd_agents(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "revoke"))
        return cmd_revoke(argc - 1, argv + 1);
    /* The same as `trapline token`, found where the rest of agent management is. */
    if (argc > 1 && !strcmp(argv[1], "token"))
        return trl_cmd_token(argc - 1, argv + 1);
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL;
    bool json = !isatty(1);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'o':
            if (trl_cli_output_json("agents", optarg, &json))
                return 2;
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trapline agents: unknown argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    const char *dir = trl_cli_data_dir(data);
    if (trl_cli_ensure_dir(dir) != 0)
        return 1;
    struct trl_agent_registry *reg = trl_agent_registry_open(dir);
    if (!reg)
        return 1;
    struct list_ctx ctx = {.now = (int64_t)time(NULL), .json = json};
    if (!json)
        printf("%-20s %-24s %-10s %-10s %9s %9s  %s\n", "ID", "HOSTNAME", "VERSION", "LAST SEEN",
               "EVENTS/S", "SPOOL", "STATUS");
    int rc = trl_agent_registry_list(reg, print_agent, &ctx);
    trl_agent_registry_close(reg);
    trl_buf_free(&ctx.buf);
    if (rc) {
        fprintf(stderr, "trapline agents: cannot list agents: %s\n", trl_strerror(rc));
        return 1;
    }
    if (!json && !ctx.count)
        fprintf(stderr, "no agents enrolled yet: create a token with `trapline token`\n");
    return 0;
}
