/*
 * yaml_doc: reads a YAML file (one or more documents) into simple in-memory trees that keep line
 * numbers, so rule loaders can walk them and report "file:line: reason".
 *
 * The trees are owned by the returned trl_yaml_file and freed with trl_yaml_file_destroy().
 * Anchors and aliases are rejected (they are never needed by rules and are how "billion laughs"
 * inputs blow up memory). Pure apart from reading the file; safe from any thread.
 */
#ifndef TRL_YAML_DOC_H
#define TRL_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>

enum trl_yaml_kind { TRL_YAML_SCALAR, TRL_YAML_SEQ, TRL_YAML_MAP };

struct trl_yaml_node {
    enum trl_yaml_kind kind;
    int line;     /* 1-based */
    bool quoted;  /* scalar written in quotes or as a block: never null/bool/number */
    char *scalar; /* SCALAR: NUL-terminated value */
    size_t len;   /* SCALAR: length; SEQ/MAP: number of items / pairs */
    struct trl_yaml_node **items; /* SEQ: items; MAP: keys at even, values at odd indexes */
};

struct trl_yaml_file {
    struct trl_yaml_node **docs;
    size_t ndocs;
};

/* Parses a buffer. On error returns NULL and writes "line N: reason" into err. */
struct trl_yaml_file *trl_yaml_parse(const char *buf, size_t len, char *err, size_t errlen);
struct trl_yaml_file *trl_yaml_load(const char *path, char *err, size_t errlen);
void trl_yaml_file_destroy(struct trl_yaml_file *f);

/* The value of key in a MAP node, or NULL. */
const struct trl_yaml_node *trl_yaml_get(const struct trl_yaml_node *map, const char *key);
/* A plain (unquoted) scalar that YAML reads as null: "null", "~", "" or "Null"/"NULL". */
bool trl_yaml_is_null(const struct trl_yaml_node *n);

#endif
