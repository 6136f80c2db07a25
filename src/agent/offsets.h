/*
 * offsets: the persisted read positions of files the agent follows (tailed logs, wtmp/btmp).
 *
 * Each entry names a file by the path it was found under and by device + inode (the identity that
 * survives renames), with the offset up to which its content has been handed off and one opaque
 * 64-bit value the owning module interprets (a content fingerprint, a last record time). The file
 * format is text, one entry a line, ending with a line that carries the entry count and a CRC-32C
 * of everything before it, so a damaged file is detected rather than half-read; it is replaced with
 * trl_state_write() (atomic, durable).
 *
 * struct trl_offsets owns its entries and their paths; trl_offsets_free() releases them. No shared
 * state: each owner (a tailer, a login reader) keeps its own table and file.
 */
#ifndef TRL_AGENT_OFFSETS_H
#define TRL_AGENT_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

struct trl_offset_entry {
    char *path;
    uint64_t dev;
    uint64_t ino;
    uint64_t offset;
    uint64_t aux;
};

struct trl_offsets {
    struct trl_offset_entry *v;
    size_t n;
    size_t cap;
};

/* Appends an entry (path is copied). */
void trl_offsets_add(struct trl_offsets *o, const char *path, uint64_t dev, uint64_t ino,
                     uint64_t offset, uint64_t aux);
/* The entry for dev+ino, or NULL. */
struct trl_offset_entry *trl_offsets_find(const struct trl_offsets *o, uint64_t dev, uint64_t ino);
void trl_offsets_free(struct trl_offsets *o);

/* Loads path into o (which must be empty). A missing file gives an empty table and 0; a damaged
 * one gives an empty table and TRL_EINVAL; other failures a negative errno. */
int trl_offsets_load(const char *path, struct trl_offsets *o);
/* Replaces path with the table, atomically. Returns 0 or a negative errno. */
int trl_offsets_save(const char *path, const struct trl_offsets *o);

/* Parses the file format from memory (used by trl_offsets_load and by tests). */
int trl_offsets_parse(const char *p, size_t len, struct trl_offsets *o);

#endif
