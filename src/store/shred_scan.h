/*
 * shred_scan: reads the shredded JSON column of a block (block formats 2 and 3, json_shred.h)
 * without rebuilding every event's JSON.
 *
 * The full decoder rebuilds all the events of a block; a search often needs far less: which
 * events hold a word (a count or a histogram needs nothing else), or the JSON of the few events
 * it returns. A scan reads each distinct skeleton (an event's shape: keys, punctuation, the values
 * kept inline, one marker per stored value) once, hands over its inline values once, and for each
 * event only the stored values of the streams the caller asks for, with the event they belong to
 * and the stream's dotted path, as trl_json_leaves() would give them (strings unescaped).
 * trl_shred_rebuild() writes the JSON of chosen events only, byte for byte what the full decoder
 * gives.
 *
 * Input is bounds-checked throughout: damaged or hostile bytes give TRL_EINVAL, never a crash.
 * TRL_ENOMATCH means the block holds something the scan leaves to the full decoder (an escaped
 * key, a value trl_json_leaves() would stop at, an unknown format); the caller then rebuilds the
 * JSON the usual way. A struct trl_shred_scan owns its buffers, is reused across blocks and
 * belongs to one thread.
 */
#ifndef TRL_STORE_SHRED_SCAN_H
#define TRL_STORE_SHRED_SCAN_H

#include "store/json_leaves.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trl_shred_cursor {
    size_t vals, vals_end, refs, refs_end; /* offsets into the column */
};

struct trl_shred_op {
    uint8_t mark;
    uint32_t sid;
};

struct trl_shred_shape {
    uint64_t hash;
    uint32_t skel_off, skel_len; /* a copy of the skeleton, in shape_bytes */
    uint32_t op, nops;           /* its markers, in ops */
};

/* A part of the column (format 5 cuts it into parts of consecutive events; before, the whole
 * column is one): a shredded column of its own, with the block's stream numbers and values of
 * its own; a later part also names the first part's skeletons. */
struct trl_shred_part {
    size_t skel, skel_end; /* offsets of its skeletons */
    uint32_t first, count; /* its events */
    uint32_t cur_off;      /* its streams' cursors are start[cur_off ..] */
    uint32_t nst;
};

struct trl_shred_scan {
    const uint8_t *base;
    size_t len;
    uint32_t count;
    int version;
    const int64_t *ts;     /* the events' timestamps (format 3 stores times relative to them) */
    uint8_t last_mark;     /* skeleton bytes 1..last_mark are markers */
    size_t skel, skel_end; /* offsets of the skeletons of the part being walked */
    size_t nst;            /* the block's streams: the most any part has */
    size_t ncur;           /* cursors in start: every part's streams */
    struct trl_shred_part *parts;
    size_t nparts, parts_cap;
    uint32_t part, part_nst;        /* the part being walked */
    size_t dist_base;               /* its first entry of its own in dist */
    bool sharing;                   /* it names the first part's skeletons */
    struct trl_shred_cursor *cur;   /* per stream, during a walk */
    struct trl_shred_cursor *start; /* per part and stream, as opened (see trl_shred_part) */
    uint32_t *path_off, *path_len;  /* per stream, in paths; path_len UINT32_MAX: not seen yet */
    uint8_t *mode;                  /* per stream: what the walk does with its values */
    size_t st_cap;
    char *paths;
    size_t paths_len, paths_cap;
    struct trl_shred_shape *shapes;
    size_t nshapes, shapes_cap;
    uint32_t *slots; /* hash table of shapes: index + 1, 0 empty */
    size_t slots_cap;
    struct trl_shred_op *ops;
    size_t nops, ops_cap;
    uint8_t *shape_bytes;
    size_t shape_bytes_len, shape_bytes_cap;
    /* Format 3: the distinct skeletons met so far in a walk (an event may name an earlier one),
     * with the shape each was read as (-1: not yet, or verbatim). */
    struct trl_shred_skel {
        size_t off, len;
        int32_t shape;
    } * dist;
    size_t ndist, dist_cap;
    /* Format 5: the distinct skeletons of the block's first part, which the later parts name
     * (their skeleton n < nshared is the first part's n-th). */
    struct trl_shred_skel *shared;
    size_t nshared, shared_cap;
    size_t dist_scanned;     /* entries whose shape the last trl_shred_scan_values() found */
    struct trl_leaves unesc; /* an escaped string, unescaped */
    char *tmp;
    size_t tmp_cap;
    char *json; /* trl_shred_rebuild: the chosen events' JSON, back to back */
    size_t json_len, json_cap;
};

void trl_shred_scan_init(struct trl_shred_scan *s);
void trl_shred_scan_free(struct trl_shred_scan *s);

/* Takes the shredded column p[0..len) of count events of block format version (2, 3 or 4, whose
 * JSON column is that of 3; or 5, whose column is parts of format 3 back to back, as
 * trl_block_json_read() gives them), whose timestamps are ts[0..count). p and ts must stay valid
 * while the scan is used. 0, TRL_EINVAL, or TRL_ENOMATCH for another version. */
int trl_shred_scan_open(struct trl_shred_scan *s, const uint8_t *p, size_t len, uint32_t count,
                        int version, const int64_t *ts);
/* The same for some parts of a format 5 column only: p holds nparts parts back to back, the j-th
 * of them holding the events from first[j] on (increasing, within count; the first part, which
 * the others need, first). A walk of the values
 * then visits their events only; trl_shred_rebuild() refuses to rebuild an event of no part. */
int trl_shred_scan_open_parts(struct trl_shred_scan *s, const uint8_t *p, size_t len,
                              uint32_t count, const int64_t *ts, const uint32_t *first,
                              size_t nparts);

struct trl_shred_visitor {
    /* A stream's path, the first time the walk meets the stream (before any of its values):
     * returns whether value() wants its values. */
    bool (*stream)(void *ud, uint32_t sid, const char *path, size_t path_len);
    /* A new shape (numbered from 0 in the order met), then each value it keeps inline. */
    void (*shape)(void *ud, uint32_t shape);
    void (*inline_value)(void *ud, uint32_t shape, const char *path, size_t path_len, const char *v,
                         size_t n, bool is_string);
    /* Event ev has this shape: called before the event's values. */
    void (*event)(void *ud, uint32_t ev, uint32_t shape);
    /* A stored value of a wanted stream in event ev, valid during the call only: numbers and
     * literals as their text, strings as stored, still escaped: trl_shred_unescape() gives the
     * value trl_json_leaves() would. A non-zero return stops the walk and is returned by it. */
    int (*value)(void *ud, uint32_t ev, uint32_t sid, const char *v, size_t n, bool is_string);
    /* An event the writer kept verbatim (it is not plain JSON): its bytes. */
    void (*verbatim)(void *ud, uint32_t ev, const char *json, size_t n);
    void *ud;
    /* Optional (format 3): true when the skeleton at [off, off + n) of the column holds nothing
     * inline_value() needs to see. Such a skeleton that names no stream not met before is read
     * for its markers only: shape() is called for it, inline_value() is not. */
    bool (*plain)(void *ud, size_t off, size_t n);
    /* Optional: one bit per byte of the column. A stored string or number (or a reference into
     * the event's original) none of whose bytes has its bit set is not handed to value(). Times
     * stored as deltas are handed over as without it. */
    const uint64_t *filter;
};

/* Walks every event of the opened column, in order. 0, TRL_EINVAL or TRL_ENOMATCH. */
int trl_shred_scan_values(struct trl_shred_scan *s, const struct trl_shred_visitor *v);

/* A stored string as trl_json_leaves() gives it: *v and *n are replaced by the unescaped bytes
 * (valid until the next call) when it holds escapes. False where trl_json_leaves() would stop. */
bool trl_shred_unescape(struct trl_shred_scan *s, const char **v, size_t *n);

/* Rebuilds the JSON of the events i with want[i] != 0 into s->json: event i is
 * s->json[off[i] .. off[i] + len[i]) (off and len have count entries; unchosen ones are 0).
 * The events after the last chosen one are not read. 0 or TRL_EINVAL. */
int trl_shred_rebuild(struct trl_shred_scan *s, const uint8_t *want, uint32_t *off, uint32_t *len);

#endif
