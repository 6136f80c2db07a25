/*
 * `trapline token`: prints a single-use enrollment token for `trapline agent enroll`.
 *
 *   trapline token [--data DIR] [--ttl 1h] [--server HOST:PORT]
 *
 * The token carries the fingerprint of the server's CA (created here if the server has not run
 * yet) and, with --server, the address agents should enroll at. Only a hash of its secret is kept
 * in DATA/agents.db. The token alone goes to standard output so scripts can capture it.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/util.h"
#include "server/agent_registry.h"
#include "server/enroll_token.h"
#include "server/pki.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_TTL_S (30 * 86400)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trapline token [--data DIR] [--ttl DURATION] [--server HOST:PORT]\n\n"
            "Prints a single-use token for `trapline agent enroll`.\n\n"
            "options:\n"
            "  --data DIR          data directory (default: $TRAPLINE_DATA, else %s)\n"
            "  --ttl DURATION      how long the token stays valid: 90s, 30m, 1h, 7d (default 1h,\n"
            "                      at most 30d)\n"
            "  --server HOST:PORT  the agent listener's address, put in the token so that\n"
            "                      `trapline agent enroll` needs no --server\n",
            trl_cli_default_data_dir());
}

/* "90", "90s", "30m", "1h", "7d" into seconds; false on anything else. */
static bool parse_duration(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    int64_t unit = 1;
    if (len && strchr("smhd", s[len - 1])) {
        unit = s[len - 1] == 's' ? 1 : s[len - 1] == 'm' ? 60 : s[len - 1] == 'h' ? 3600 : 86400;
        len--;
    }
    uint64_t v;
    if (!trl_parse_u64(s, len, &v) || v == 0 || v > (uint64_t)MAX_TTL_S)
        return false;
    *out = (int64_t)v * unit;
    return *out <= MAX_TTL_S;
}

int trl_cmd_token(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"ttl", required_argument, NULL, 't'},
        {"server", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL, *server = NULL;
    int64_t ttl = 3600;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 't':
            if (!parse_duration(optarg, &ttl)) {
                fprintf(stderr, "trapline token: bad --ttl '%s' (e.g. 30m, 1h, 7d; at most 30d)\n",
                        optarg);
                return 2;
            }
            break;
        case 's':
            server = optarg;
            if (!*server || strlen(server) > TRL_TOKEN_SERVER_MAX || strpbrk(server, " \t\n")) {
                fprintf(stderr, "trapline token: bad --server '%s' (HOST:PORT)\n", server);
                return 2;
            }
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    const char *dir = trl_cli_data_dir(data);
    struct trl_pki_paths pki;
    if (trl_cli_ensure_dir(dir) != 0 || trl_pki_ensure(dir, &pki) != 0)
        return 1;
    struct trl_agent_registry *reg = trl_agent_registry_open(dir);
    if (!reg)
        return 1;
    char token[TRL_TOKEN_TEXT_MAX];
    int rc = trl_enroll_token_create(reg, pki.ca_cert, ttl, server, token, sizeof(token));
    trl_agent_registry_close(reg);
    if (rc) {
        fprintf(stderr, "trapline token: cannot create a token: %s\n", trl_strerror(rc));
        return 1;
    }
    time_t until = time(NULL) + (time_t)ttl;
    struct tm tm;
    char when[64];
    gmtime_r(&until, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s\n", token);
    fprintf(stderr, "single use, valid until %s; enroll with: trapline agent enroll %s--token %s\n",
            when, server ? "" : "--server HOST:PORT ", "<token>");
    return 0;
}
