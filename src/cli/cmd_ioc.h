/*
 * cmd_ioc: the `trapline ioc` subcommands that live in their own files (hunt, feeds, export),
 * and the retro-hunt run shared by `ioc hunt` and `ioc import --hunt`. Main thread only; each
 * returns the process exit status.
 */
#ifndef TRL_CLI_CMD_IOC_H
#define TRL_CLI_CMD_IOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_iocdb;

int trl_cmd_ioc_hunt(int argc, char **argv);
int trl_cmd_ioc_feeds(int argc, char **argv);
int trl_cmd_ioc_export(int argc, char **argv);

/* DATA/ioc.db of the data directory given (NULL: the default one) when it exists; otherwise
 * tells so on stderr, prefixed with `what` (e.g. "trapline ioc list"), and returns NULL. The
 * caller closes it with trl_iocdb_close(). */
struct trl_iocdb *trl_cli_open_existing_iocdb(const char *what, const char *data, bool read_only);

/* Hunts the values given (or, with none, the indicators of DATA/ioc.db imported since
 * imported_since_ns, all when 0) in the events stored in [from_ns, to_ns) and prints a summary.
 * max_events: sightings per indicator at most (0: the default). */
int trl_ioc_run_hunt(const char *data_dir, int64_t from_ns, int64_t to_ns,
                     const char *const *values, size_t nvalues, int64_t imported_since_ns,
                     size_t max_events);

#endif
