/*
 * json_leaves: flattens a JSON document into (dotted path, value) leaves.
 *
 * The event store indexes and searches the stored JSON of each event, not the in-memory event, so
 * that what a search matches is exactly what it prints. {"user":{"name":"root"},"tags":["a","b"]}
 * gives user.name=root, tags=a, tags=b. Strings are unescaped (\uXXXX to UTF-8), numbers and the
 * literals true/false/null are kept as their text. Input may be anything: malformed JSON stops the
 * walk with TRL_EINVAL, and the leaves found before the error stay usable.
 *
 * The leaves live in the struct's own buffers (owned by the caller, reused across documents with
 * trl_leaves_reset). Pure; one owner thread per struct.
 */
#ifndef TRL_STORE_JSON_LEAVES_H
#define TRL_STORE_JSON_LEAVES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRL_LEAVES_MAX_DEPTH 64
#define TRL_LEAVES_MAX_PATH  1024

struct trl_leaf {
    uint32_t path_off, path_len; /* in buf */
    uint32_t val_off, val_len;   /* in buf */
    bool is_string;
};

struct trl_leaves {
    char *buf;
    size_t len, cap;
    struct trl_leaf *items;
    size_t n, items_cap;
};

void trl_leaves_init(struct trl_leaves *l);
void trl_leaves_free(struct trl_leaves *l);
static inline void trl_leaves_reset(struct trl_leaves *l)
{
    l->len = 0;
    l->n = 0;
}

/* Appends the leaves of one document. 0, or TRL_EINVAL when the JSON is malformed. */
int trl_json_leaves(const char *json, size_t len, struct trl_leaves *out);

/* Appends one leaf, for a walker that already found it (json_shred.h): the path and value bytes
 * exactly as trl_json_leaves() would have given them. */
void trl_leaves_add(struct trl_leaves *l, const char *path, size_t path_len, const char *val,
                    size_t val_len, bool is_string);
/* The same for a string value still escaped: raw[0..len) is its content and raw[len] its closing
 * quote. False (nothing added) when trl_json_leaves() would stop at it as malformed. */
bool trl_leaves_add_escaped(struct trl_leaves *l, const char *path, size_t path_len,
                            const char *raw, size_t len);

static inline const char *trl_leaf_path(const struct trl_leaves *l, const struct trl_leaf *f)
{
    return l->buf + f->path_off;
}
static inline const char *trl_leaf_val(const struct trl_leaves *l, const struct trl_leaf *f)
{
    return l->buf + f->val_off;
}

#endif
