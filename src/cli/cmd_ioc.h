/*
 * cmd_ioc: the `trapline ioc` subcommands that live in their own files (hunt, feeds, export),
 * and the retro-hunt run shared by `ioc hunt` and `ioc import --hunt`. Main thread only; each
 * returns the process exit status.
 */
#ifndef TRL_CLI_CMD_IOC_H
#define TRL_CLI_CMD_IOC_H

#include <stddef.h>
#include <stdint.h>

int trl_cmd_ioc_hunt(int argc, char **argv);
int trl_cmd_ioc_feeds(int argc, char **argv);
int trl_cmd_ioc_export(int argc, char **argv);

/* Hunts the values given (or, with none, the indicators of DATA/ioc.db imported since
 * imported_since_ns, all when 0) in the events stored in [from_ns, to_ns) and prints a summary.
 * max_events: sightings per indicator at most (0: the default). */
int trl_ioc_run_hunt(const char *data_dir, int64_t from_ns, int64_t to_ns,
                     const char *const *values, size_t nvalues, int64_t imported_since_ns,
                     size_t max_events);

#endif
