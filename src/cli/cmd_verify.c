/*
 * `trapline verify`: checks the event store's hash chains, signatures and ledger, and names
 * every block, chain entry or partition that was altered, deleted or inserted. Exit status 0 when
 * everything verifies, 1 on any finding, 2 when it cannot run.
 */
#include "cli/cli.h"
#include "cli/common.h"
#include "core/util.h"
#include "store/verify.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trapline verify [options]\n"
            "\n"
            "Checks that the event store holds exactly what was committed: every block against\n"
            "its partition's hash chain, every chain head against its Ed25519 signature, every\n"
            "partition against the ledger of partitions created and removed by retention.\n"
            "Prints each finding (altered, deleted, inserted, unreadable, signature) and a\n"
            "summary. Safe to run while the server writes.\n"
            "\n"
            "options:\n"
            "  --data DIR      data directory (default: $TRAPLINE_DATA, else %s)\n"
            "  --pubkey FILE   check signatures against this public key (PEM) instead of\n"
            "                  DATA/keys/store-signing.pub, e.g. a copy kept elsewhere\n"
            "  -q, --quiet     print findings and the summary only\n"
            "  -h, --help      this text\n"
            "\n"
            "exit status: 0 all verified, 1 findings, 2 cannot run\n",
            trl_cli_default_data_dir());
}

static const char *what_name(enum trl_verify_what w)
{
    switch (w) {
    case TRL_VERIFY_OK:
        return "ok";
    case TRL_VERIFY_NOTE:
        return "note";
    case TRL_VERIFY_ALTERED:
        return "ALTERED";
    case TRL_VERIFY_DELETED:
        return "DELETED";
    case TRL_VERIFY_INSERTED:
        return "INSERTED";
    case TRL_VERIFY_UNREADABLE:
        return "UNREADABLE";
    case TRL_VERIFY_SIGNATURE:
        return "SIGNATURE";
    }
    return "?";
}

struct print_ctx {
    bool quiet;
};

static void print_report(void *ud, const struct trl_verify_report *r)
{
    const struct print_ctx *pc = ud;
    if (pc->quiet && !trl_verify_is_finding(r->what))
        return;
    printf("%-10s  %-10s  %s\n", r->scope ? r->scope : "-", what_name(r->what), r->text);
}

int trl_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"pubkey", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL;
    struct trl_verify_opts vo = {0};
    struct print_ctx pc = {false};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'k':
            vo.pubkey_path = optarg;
            break;
        case 'q':
            pc.quiet = true;
            break;
        default:
            return trl_cli_help_or_usage(c, usage);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trapline verify: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    const char *dir = trl_cli_data_dir(data);
    struct trl_verify_summary sum;
    int rc = trl_store_verify(dir, &vo, print_report, &pc, &sum);
    if (rc != 0) {
        fprintf(stderr, "trapline verify: no event store in %s/events: %s\n", dir,
                trl_strerror(rc));
        return 2;
    }
    printf("\nverified %u partitions, %llu blocks, %llu events; %u partitions removed by "
           "retention; signing key %s\n",
           sum.partitions, (unsigned long long)sum.blocks, (unsigned long long)sum.events,
           sum.removed_partitions, sum.key_id[0] ? sum.key_id : "(none)");
    if (sum.findings) {
        printf("%u finding%s\n", sum.findings, sum.findings == 1 ? "" : "s");
        return 1;
    }
    printf("no findings\n");
    return 0;
}
