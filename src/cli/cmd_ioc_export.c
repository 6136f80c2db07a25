/*
 * `trapline ioc export`: this instance's threat intelligence as a STIX 2.1 bundle.
 *
 *   trapline ioc export [--format stix] [--since T] [--data DIR] [--output FILE]
 *                       [--identity NAME] [--source NAME]...
 *
 * The bundle holds the identity of this instance, the indicators of the local sources and one
 * sighting per indicator that raised alerts (see ioc/stix_export.h). It goes to standard output,
 * or replaces FILE whole (written beside it, then renamed).
 */
#include "cli/cmd_ioc.h"
#include "cli/common.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "ioc/stix_export.h"
#include "store/timearg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SOURCES 64

static void export_usage(FILE *out)
{
    fprintf(out,
            "usage: trapline ioc export [options]\n\n"
            "Writes a STIX 2.1 bundle: the identity of this instance, the indicators of the\n"
            "local sources, and a sighting (count, first and last seen) of every indicator\n"
            "that raised alerts. Ids are derived from the content: exporting again gives the\n"
            "same ids.\n\n"
            "options:\n"
            "  --format stix      the only format (default)\n"
            "  --since T          sightings last seen and indicators imported since T\n"
            "                     (RFC 3339, 2024-07-09, -7d); default: everything\n"
            "  --output FILE      write FILE instead of standard output\n"
            "  --identity NAME    name of this instance (default: Trapline on <hostname>)\n"
            "  --source NAME      a source whose indicators are ours (repeatable; default: the\n"
            "                     sources imported from plain lists)\n"
            "  --data DIR         data directory (default: $TRAPLINE_DATA, else %s)\n",
            trl_cli_default_data_dir());
}

static int write_file(const char *path, const char *text)
{
    size_t n = strlen(path) + 8;
    char *tmp = trl_xmalloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0)
        rc = -errno;
    if (f && fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc ? rc : 0;
}

int trl_cmd_ioc_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},     {"since", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},   {"output", required_argument, NULL, 'o'},
        {"identity", required_argument, NULL, 'i'}, {"source", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},           {0, 0, 0, 0},
    };
    const char *data = NULL, *output = NULL;
    const char *sources[MAX_SOURCES];
    struct trl_stix_export_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 's':
            if (trl_parse_time_arg(optarg, trl_now_ns(), false, &o.since_ns) != 0) {
                fprintf(stderr, "trapline ioc export: --since: not a time: %s\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (strcmp(optarg, "stix")) {
                fprintf(stderr, "trapline ioc export: --format: only stix is supported\n");
                return 2;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'i':
            o.identity_name = optarg;
            break;
        case 'S':
            if (o.nlocal == MAX_SOURCES) {
                fprintf(stderr, "trapline ioc export: at most %d --source\n", MAX_SOURCES);
                return 2;
            }
            sources[o.nlocal++] = optarg;
            o.local_sources = sources;
            break;
        default:
            return trl_cli_help_or_usage(c, export_usage);
        }
    }
    if (optind < argc) {
        export_usage(stderr);
        return 2;
    }
    o.data_dir = trl_cli_data_dir(data);
    json_t *bundle;
    struct trl_stix_export_stats st;
    char err[512];
    if (trl_stix_export(&o, &bundle, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "trapline ioc export: %s\n", err);
        return 1;
    }
    char *text = json_dumps(bundle, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(bundle);
    int rc = 0;
    if (output) {
        int w = write_file(output, text);
        if (w != 0) {
            fprintf(stderr, "trapline ioc export: cannot write %s: %s\n", output, strerror(-w));
            rc = 1;
        }
    } else {
        puts(text);
    }
    free(text);
    fprintf(stderr, "%zu indicators, %zu sightings", st.indicators, st.sightings);
    if (st.unreferable)
        fprintf(stderr, " (%zu alerts of indicators without a STIX id left out)", st.unreferable);
    fputc('\n', stderr);
    return rc;
}
