/*
 * common: helpers shared by the command-line verbs: where the data directory is, creating it, and
 * the options every verb reads alike.
 * Called from the main thread only; returned strings are static or owned by the environment.
 */
#ifndef TRL_CLI_COMMON_H
#define TRL_CLI_COMMON_H

#include <stdbool.h>
#include <stdio.h>

/* The default data directory: /var/lib/trapline as root, else ~/.local/share/trapline. */
const char *trl_cli_default_data_dir(void);
/* --data DIR when given, else $TRAPLINE_DATA, else the default. */
const char *trl_cli_data_dir(const char *flag);
/* mkdir -p with mode 0750; logs and returns a negative errno on failure. */
int trl_cli_ensure_dir(const char *dir);
/* Reads an `--output json|table` argument: 0 with *json set, or 2 (the usage exit code) after
 * saying what verb expects. */
int trl_cli_output_json(const char *verb, const char *arg, bool *json);
/* The last case of a verb's option switch, for an option the verb does not handle itself:
 * --help (c 'h') prints the usage to stdout and returns 0, anything else getopt_long returned
 * prints it to stderr and returns 2 (the usage exit code). The verb returns what this returns. */
int trl_cli_help_or_usage(int c, void (*usage)(FILE *out));

#endif
