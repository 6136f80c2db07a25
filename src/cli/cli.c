#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct verb verbs[] = {
    {"server", trl_cmd_server, "receive syslog and agent traffic, normalise, detect, store"},
    {"ingest", trl_cmd_ingest, "import log files through the same pipeline as the server"},
    {"rules", trl_cmd_rules, "check or test Sigma rules, turn rules off or on"},
    {"search", trl_cmd_search, "search stored events, newest first"},
    {"alerts", trl_cmd_alerts, "list alerts and change their status"},
    {"verify", trl_cmd_verify, "check the event store's hash chains, signatures and ledger"},
    {"ioc", trl_cmd_ioc, "threat-intelligence indicators: import, list, remove, match"},
    {"users", trl_cmd_users, "web console and API accounts: add, passwd, remove, list"},
    {"tokens", trl_cmd_tokens, "REST API tokens: create, list, revoke"},
    {"token", trl_cmd_token, "print a single-use enrollment token for an agent"},
    {"agents", trl_cmd_agents, "list enrolled agents and their health, revoke one"},
    {"agent", trl_cmd_agent, "collect events on this host and deliver them to a server"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: trapline <verb> [options]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(out, "\n`trapline <verb> --help` lists the options of a verb.\n"
                 "`trapline --version` prints the version.\n");
}

int trl_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("trapline %s\n", TRL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "trapline: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
