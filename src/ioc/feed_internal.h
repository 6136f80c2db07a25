/*
 * feed_internal: helpers shared by the feed parsers (not part of the public feed API): building one
 * indicator at a time, reporting problems, walking lines and splitting CSV.
 *
 * A struct feed_rec collects the context of one record (id, tags, labels, description, validity)
 * in a scratch arena that the parser resets per record; feed_emit() normalises a value, fills in
 * the defaults and hands the indicator to the sink. Pure helpers: safe from any thread.
 */
#ifndef TRL_IOC_FEED_INTERNAL_H
#define TRL_IOC_FEED_INTERNAL_H

#include "core/arena.h"
#include "core/util.h"
#include "ioc/feed.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define FEED_MAX_TAGS   64
#define FEED_MAX_LABELS 16

struct feed_rec {
    struct trl_arena *arena; /* scratch for this record's strings */
    const char *id;
    const char *description;
    int confidence; /* < 0: none stated */
    int64_t valid_from_ns, valid_until_ns;
    const char *tags[FEED_MAX_TAGS];
    size_t ntags;
    const char *labels[FEED_MAX_LABELS];
    size_t nlabels;
};

struct feed_ctx {
    const struct trl_ioc_parse_opts *opts;
    const char *source;
    struct trl_ioc_sink *sink;
};

void feed_ctx_init(struct feed_ctx *c, const struct trl_ioc_parse_opts *opts,
                   const char *default_source, struct trl_ioc_sink *sink);

/* Starts a new record with its strings in a, which may already hold the record's input. */
void feed_rec_init(struct feed_rec *r, struct trl_arena *a);
/* Starts a new record in an emptied a (resets it). */
void feed_rec_reset(struct feed_rec *r, struct trl_arena *a);
/* Adds a tag / label (copied, trimmed; empty and duplicate ones ignored). */
void feed_rec_tag(struct feed_rec *r, const char *p, size_t len);
void feed_rec_label(struct feed_rec *r, const char *p, size_t len);
/* Adds every comma-separated element of a list as a tag. */
void feed_rec_tag_list(struct feed_rec *r, const char *p, size_t len);
char *feed_rec_strdup(struct feed_rec *r, const char *p, size_t len);

/* Normalises raw as type and emits it with r's context. Returns 1 when emitted, 0 when the value
 * was refused (reported as a problem of item; skipped says whether it is a skip or a note), or the
 * sink's negative return. */
int feed_emit(struct feed_ctx *c, const struct feed_rec *r, size_t item, enum trl_ioc_type type,
              const char *raw, size_t len, bool skipped);

void feed_problem(struct feed_ctx *c, size_t item, bool skipped, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Lines of a buffer, without the line terminator; lineno counts from 1. */
struct feed_lines {
    const char *p, *end;
    size_t lineno;
};
static inline void feed_lines_init(struct feed_lines *l, const char *buf, size_t len)
{
    l->p = buf;
    l->end = buf + len;
    l->lineno = 0;
    /* A UTF-8 byte order mark is not part of the first line. */
    if (len >= 3 && (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb &&
        (unsigned char)buf[2] == 0xbf)
        l->p += 3;
}
bool feed_lines_next(struct feed_lines *l, struct trl_str *line);

struct trl_str feed_trim(struct trl_str s);
/* The position of the first byte from i on that is no space, tab or line break (len if none):
 * where a document starts, to tell JSON from text. */
size_t feed_skip_space(const char *buf, size_t len, size_t i);

/* Splits one CSV line: fields separated by ',', optionally "quoted" with "" as an escaped quote,
 * spaces around a quoted field ignored (ThreatFox writes ", "). Unquoted fields are trimmed. Fields
 * are written to out (at most max; more are counted but not stored), unescaped copies in arena.
 * Returns the number of fields, or -1 for bad quoting. */
int feed_csv_split(struct trl_str line, struct trl_str *out, int max, struct trl_arena *arena);

/* Loads a JSON document; on failure reports item 0 and returns NULL. */
json_t *feed_json_load(struct feed_ctx *c, const char *buf, size_t len);
/* A string member (NULL when absent or not a string). */
const char *feed_json_str(const json_t *obj, const char *key, size_t *len);
/* A member holding true, 1, "1", "true" (MISP writes booleans all three ways). */
bool feed_json_truthy(const json_t *v);
/* Parses "2024-07-09 22:30:00" / RFC 3339 into ns; 0 when absent or unreadable. */
int64_t feed_parse_time(const char *s, size_t len);

/* The indicators of a JSON array of STIX objects (a bundle's or TAXII envelope's "objects", or the
 * objects of several envelope pages joined), as trl_ioc_parse_stix() reads them. */
int trl_ioc_parse_stix_objects(const json_t *objects, const struct trl_ioc_parse_opts *opts,
                               struct trl_ioc_sink *sink);

/* Emits the address part of "ip:port", "[v6]:port" or a bare address. */
int feed_emit_ip_port(struct feed_ctx *c, const struct feed_rec *r, size_t item, const char *v,
                      size_t len);

#endif
