/*
 * verify: checks that the event store holds exactly what its writer committed (`trapline verify`).
 *
 * For every partition: the chain of entries is complete and every hash recomputes, the signed head
 * covers the last entry, every live block hashes to its entry, decodes, and carries the events
 * its entry's digest names, every block a compaction replaced is accounted for by the block that
 * replaced it (whose events, cut at the replaced blocks' counts, reproduce their digests), and no
 * block or entry exists that the chain does not know. For the store: the ledger chain and
 * signature hold, every partition the ledger says exists is there, every file there is in the
 * ledger, and partitions that are gone were removed by retention. docs/storage.md has the rules.
 *
 * Read-only: runs alongside a writer (each partition is checked in one read snapshot). The report
 * callback runs on the calling thread.
 */
#ifndef TRL_STORE_VERIFY_H
#define TRL_STORE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

enum trl_verify_what {
    TRL_VERIFY_OK,         /* a partition verified (a note) */
    TRL_VERIFY_NOTE,       /* worth saying, not a finding */
    TRL_VERIFY_ALTERED,    /* content differs from what was committed */
    TRL_VERIFY_DELETED,    /* something committed is missing */
    TRL_VERIFY_INSERTED,   /* something is there that was never committed */
    TRL_VERIFY_UNREADABLE, /* a file or block cannot be read at all */
    TRL_VERIFY_SIGNATURE,  /* a head signature is missing, invalid or from another key */
};

struct trl_verify_report {
    enum trl_verify_what what;
    const char *scope; /* "2026-11-27" (a partition), "ledger", or "keys" */
    uint64_t block;    /* block id / chain seq concerned, 0 when none */
    const char *text;  /* one line, no trailing newline */
};

typedef void (*trl_verify_fn)(void *ud, const struct trl_verify_report *r);

struct trl_verify_opts {
    const char *pubkey_path; /* verify signatures against this key instead of DATA/keys */
};

struct trl_verify_summary {
    uint32_t partitions;         /* partitions checked */
    uint32_t removed_partitions; /* removals recorded by retention */
    uint64_t blocks;
    uint64_t events;
    uint32_t findings;
    char key_id[17];
};

/* 0 when the check ran (findings are counted in sum), or a negative error when it could not run
 * at all (no DATA/events). */
int trl_store_verify(const char *data_dir, const struct trl_verify_opts *opts, trl_verify_fn fn,
                     void *ud, struct trl_verify_summary *sum);

static inline bool trl_verify_is_finding(enum trl_verify_what w)
{
    return w != TRL_VERIFY_OK && w != TRL_VERIFY_NOTE;
}

#endif
