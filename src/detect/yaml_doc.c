#include "detect/yaml_doc.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* A rule file deeper than this is not a rule; the limit keeps recursion bounded for fuzzed input.
 */
#define MAX_DEPTH 64

static void node_free(struct trl_yaml_node *n)
{
    if (!n)
        return;
    if (n->kind != TRL_YAML_SCALAR) {
        size_t count = n->kind == TRL_YAML_MAP ? n->len * 2 : n->len;
        for (size_t i = 0; i < count; i++)
            node_free(n->items[i]);
    }
    free(n->items);
    free(n->scalar);
    free(n);
}

void trl_yaml_file_destroy(struct trl_yaml_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ndocs; i++)
        node_free(f->docs[i]);
    free(f->docs);
    free(f);
}

struct reader {
    yaml_parser_t parser;
    char *err;
    size_t errlen;
};

static bool next_event(struct reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev))
        return true;
    snprintf(r->err, r->errlen, "line %zu: %s", r->parser.problem_mark.line + 1,
             r->parser.problem ? r->parser.problem : "YAML syntax error");
    return false;
}

/* Reads the node that starts with event ev (already consumed). Returns NULL on error. */
static struct trl_yaml_node *read_node(struct reader *r, yaml_event_t *ev, int depth)
{
    if (depth > MAX_DEPTH) {
        snprintf(r->err, r->errlen, "line %zu: nesting deeper than %d levels",
                 ev->start_mark.line + 1, MAX_DEPTH);
        return NULL;
    }
    struct trl_yaml_node *n = trl_xcalloc(1, sizeof(*n));
    n->line = (int)ev->start_mark.line + 1;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        snprintf(r->err, r->errlen, "line %d: aliases are not supported", n->line);
        goto fail;
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor) {
            snprintf(r->err, r->errlen, "line %d: anchors are not supported", n->line);
            goto fail;
        }
        n->kind = TRL_YAML_SCALAR;
        n->scalar = trl_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->len = ev->data.scalar.length;
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
                    ev->data.scalar.style != YAML_ANY_SCALAR_STYLE;
        return n;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool is_map = ev->type == YAML_MAPPING_START_EVENT;
        if ((is_map && ev->data.mapping_start.anchor) ||
            (!is_map && ev->data.sequence_start.anchor)) {
            snprintf(r->err, r->errlen, "line %d: anchors are not supported", n->line);
            goto fail;
        }
        /* Build as a sequence of slots; a map's slots are key, value, key, value... */
        n->kind = TRL_YAML_SEQ;
        size_t cap = 0;
        for (;;) {
            yaml_event_t child;
            if (!next_event(r, &child))
                goto fail;
            if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            struct trl_yaml_node *c = read_node(r, &child, depth + 1);
            yaml_event_delete(&child);
            if (!c)
                goto fail;
            if (n->len == cap) {
                cap = cap ? cap * 2 : 8;
                n->items = trl_xrealloc(n->items, cap * sizeof(*n->items));
            }
            n->items[n->len++] = c;
        }
        if (is_map) {
            if (n->len % 2) {
                snprintf(r->err, r->errlen, "line %d: mapping without a value", n->line);
                goto fail;
            }
            n->kind = TRL_YAML_MAP;
            n->len /= 2;
        }
        return n;
    }
    default:
        snprintf(r->err, r->errlen, "line %d: unexpected YAML event", n->line);
        goto fail;
    }
fail:
    node_free(n);
    return NULL;
}

struct trl_yaml_file *trl_yaml_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    struct reader r = {.err = err, .errlen = errlen};
    struct trl_yaml_file *f = trl_xcalloc(1, sizeof(*f));
    size_t cap = 0;
    if (!yaml_parser_initialize(&r.parser)) {
        snprintf(err, errlen, "cannot initialise the YAML parser");
        free(f);
        return NULL;
    }
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)buf, len);
    for (;;) {
        yaml_event_t ev;
        if (!next_event(&r, &ev))
            goto fail;
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        yaml_event_t root;
        if (!next_event(&r, &root))
            goto fail;
        struct trl_yaml_node *doc = NULL;
        if (root.type != YAML_DOCUMENT_END_EVENT) {
            doc = read_node(&r, &root, 0);
            yaml_event_delete(&root);
            if (!doc)
                goto fail;
            yaml_event_t end;
            if (!next_event(&r, &end)) {
                node_free(doc);
                goto fail;
            }
            yaml_event_delete(&end);
        } else {
            yaml_event_delete(&root);
        }
        if (!doc)
            continue; /* an empty document between two "---" */
        if (f->ndocs == cap) {
            cap = cap ? cap * 2 : 4;
            f->docs = trl_xrealloc(f->docs, cap * sizeof(*f->docs));
        }
        f->docs[f->ndocs++] = doc;
    }
    yaml_parser_delete(&r.parser);
    return f;
fail:
    yaml_parser_delete(&r.parser);
    trl_yaml_file_destroy(f);
    return NULL;
}

struct trl_yaml_file *trl_yaml_load(const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 65536;
            if (cap > (64u << 20)) {
                snprintf(err, errlen, "file larger than 64 MiB");
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = trl_xrealloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    fclose(fp);
    struct trl_yaml_file *f = trl_yaml_parse(buf, len, err, errlen);
    free(buf);
    return f;
}

const struct trl_yaml_node *trl_yaml_get(const struct trl_yaml_node *map, const char *key)
{
    if (!map || map->kind != TRL_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++) {
        const struct trl_yaml_node *k = map->items[i * 2];
        if (k->kind == TRL_YAML_SCALAR && !strcmp(k->scalar, key))
            return map->items[i * 2 + 1];
    }
    return NULL;
}

bool trl_yaml_is_null(const struct trl_yaml_node *n)
{
    if (!n || n->kind != TRL_YAML_SCALAR || n->quoted)
        return false;
    return n->len == 0 || !strcmp(n->scalar, "null") || !strcmp(n->scalar, "~") ||
           !strcmp(n->scalar, "Null") || !strcmp(n->scalar, "NULL");
}
