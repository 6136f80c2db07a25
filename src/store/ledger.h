/*
 * ledger: the store's record of partitions created and removed (DATA/events/ledger.db).
 *
 * Every partition file the writer creates gets an "open" entry, every partition retention deletes
 * a "remove" entry (with the reason and the partition's last chain head), so `trapline verify` can
 * tell a partition removed by policy from one deleted behind the store's back. Entries are
 * hash-chained like a partition's blocks and the ledger head is signed with the same key.
 *
 * The writer's handle belongs to the writer thread; read-only handles to one reader each.
 */
#ifndef TRL_STORE_LEDGER_H
#define TRL_STORE_LEDGER_H

#include "store/digest.h"
#include "store/keys.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define TRL_LEDGER_FILE "ledger.db"

enum trl_ledger_state {
    TRL_LEDGER_NONE = 0, /* the day never had a partition */
    TRL_LEDGER_OPEN,     /* its partition exists */
    TRL_LEDGER_REMOVED,  /* its partition was removed by retention */
};

struct trl_ledger_entry {
    uint64_t seq;
    const char *kind; /* "open" or "remove" */
    const char *day;
    int64_t at_ns;
    const char *reason;
    uint64_t part_seq; /* the partition's head when the entry was written */
    uint8_t part_hash[TRL_SHA256_LEN];
    uint8_t prev_hash[TRL_SHA256_LEN];
    uint8_t hash[TRL_SHA256_LEN];
};

struct trl_ledger;

int trl_ledger_open(const char *events_dir, bool sync_full, struct trl_ledger **out);
int trl_ledger_open_ro(const char *events_dir, struct trl_ledger **out);
void trl_ledger_close(struct trl_ledger *l);
sqlite3 *trl_ledger_db(const struct trl_ledger *l);

/* Appends an entry in its own transaction and re-signs the head. */
int trl_ledger_append(struct trl_ledger *l, const struct trl_store_key *key, const char *kind,
                      const char *day, const char *reason, uint64_t part_seq,
                      const uint8_t part_hash[TRL_SHA256_LEN], int64_t now_ns);
/* The state of a day after the last entry naming it. */
int trl_ledger_state(struct trl_ledger *l, const char *day, enum trl_ledger_state *state);

void trl_ledger_genesis(uint8_t out[TRL_SHA256_LEN]);
void trl_ledger_entry_hash(const struct trl_ledger_entry *e, uint8_t out[TRL_SHA256_LEN]);

#endif
