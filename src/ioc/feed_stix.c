/* STIX 2.x bundles and TAXII 2.1 envelopes: indicator objects with STIX patterns. */
#include "core/strmap.h"
#include "ioc/feed_internal.h"
#include "ioc/stix_pattern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The TLP 1.0 marking definitions have fixed ids in the STIX 2.1 specification. */
static const struct {
    const char *id, *tag;
} tlp_ids[] = {
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "tlp:white"},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "tlp:green"},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "tlp:amber"},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "tlp:red"},
};

/* Context objects an indicator can point to with an "indicates" relationship. */
static const char *const named_types[] = {"intrusion-set", "malware",        "threat-actor",
                                          "campaign",      "attack-pattern", "tool"};

struct related {
    struct related *next;
    char *target; /* id of the object the indicator indicates */
};

static void free_related(void *v)
{
    struct related *r = v;
    while (r) {
        struct related *n = r->next;
        free(r->target);
        free(r);
        r = n;
    }
}

/* The tag for a named object: "intrusion-set:APT40", or for an ATT&CK technique its id. */
static char *object_tag(const json_t *o, const char *type)
{
    size_t nlen;
    const char *name = feed_json_str(o, "name", &nlen);
    if (!strcmp(type, "attack-pattern")) {
        const json_t *refs = json_object_get(o, "external_references");
        size_t i;
        const json_t *ref;
        json_array_foreach(refs, i, ref)
        {
            const char *src = feed_json_str(ref, "source_name", NULL);
            const char *ext = feed_json_str(ref, "external_id", NULL);
            if (src && ext && !strcmp(src, "mitre-attack")) {
                size_t n = strlen(ext) + 8;
                char *t = trl_xmalloc(n);
                snprintf(t, n, "attack:%s", ext);
                return t;
            }
        }
    }
    if (!name || nlen == 0 || memchr(name, '\0', nlen))
        return NULL;
    size_t n = strlen(type) + nlen + 2;
    char *t = trl_xmalloc(n);
    snprintf(t, n, "%s:%s", type, name);
    return t;
}

/* A marking-definition object inside the bundle: its TLP level as a tag. */
static char *marking_tag(const json_t *o)
{
    const char *name = feed_json_str(o, "name", NULL);
    if (name && !strncasecmp(name, "TLP:", 4)) {
        char *t = trl_xstrdup(name);
        for (char *p = t; *p; p++)
            *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        return t;
    }
    const char *tlp = feed_json_str(json_object_get(o, "definition"), "tlp", NULL);
    if (tlp) {
        size_t n = strlen(tlp) + 5;
        char *t = trl_xmalloc(n);
        snprintf(t, n, "tlp:%s", tlp);
        for (char *p = t; *p; p++)
            *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        return t;
    }
    return NULL;
}

static void add_strings(struct feed_rec *r, const json_t *arr, bool as_tag)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            continue;
        if (as_tag)
            feed_rec_tag(r, json_string_value(v), json_string_length(v));
        else
            feed_rec_label(r, json_string_value(v), json_string_length(v));
    }
}

struct stix_maps {
    struct trl_strmap *names;   /* object id -> tag (char *) */
    struct trl_strmap *related; /* indicator id -> struct related list */
};

static void index_objects(const json_t *objects, struct stix_maps *m)
{
    size_t i;
    const json_t *o;
    json_array_foreach(objects, i, o)
    {
        const char *type = feed_json_str(o, "type", NULL);
        size_t idlen;
        const char *id = feed_json_str(o, "id", &idlen);
        if (!type || !id)
            continue;
        char *tag = NULL;
        if (!strcmp(type, "marking-definition")) {
            tag = marking_tag(o);
        } else {
            for (size_t k = 0; k < TRL_ARRAY_LEN(named_types) && !tag; k++) {
                if (!strcmp(type, named_types[k]))
                    tag = object_tag(o, type);
            }
        }
        if (tag)
            free(trl_strmap_put(m->names, id, idlen, tag));
        if (!strcmp(type, "relationship")) {
            const char *rt = feed_json_str(o, "relationship_type", NULL);
            size_t slen;
            const char *src = feed_json_str(o, "source_ref", &slen);
            const char *dst = feed_json_str(o, "target_ref", NULL);
            if (rt && src && dst && !strcmp(rt, "indicates") && !strncmp(src, "indicator--", 11)) {
                struct related *r = trl_xmalloc(sizeof(*r));
                r->target = trl_xstrdup(dst);
                r->next = trl_strmap_get(m->related, src, slen);
                trl_strmap_put(m->related, src, slen, r);
            }
        }
    }
}

static int parse_indicator(struct feed_ctx *c, struct stix_maps *m, const json_t *o, size_t item,
                           struct trl_arena *scratch)
{
    struct feed_rec r;
    feed_rec_reset(&r, scratch);
    size_t idlen;
    const char *id = feed_json_str(o, "id", &idlen);
    if (json_is_true(json_object_get(o, "revoked"))) {
        feed_problem(c, item, true, "indicator %s is revoked", id ? id : "(no id)");
        return 0;
    }
    const char *ptype = feed_json_str(o, "pattern_type", NULL);
    if (ptype && strcmp(ptype, "stix")) {
        feed_problem(c, item, true, "pattern_type '%.40s' is not a STIX pattern", ptype);
        return 0;
    }
    size_t plen;
    const char *pattern = feed_json_str(o, "pattern", &plen);
    if (!pattern) {
        feed_problem(c, item, true, "indicator without a pattern");
        return 0;
    }
    if (id && !memchr(id, '\0', idlen))
        r.id = id;
    size_t n;
    const char *s;
    if ((s = feed_json_str(o, "name", &n)) || (s = feed_json_str(o, "description", &n)))
        r.description = feed_rec_strdup(&r, s, n);
    const json_t *conf = json_object_get(o, "confidence");
    if (json_is_integer(conf) && json_integer_value(conf) >= 0 && json_integer_value(conf) <= 100)
        r.confidence = (int)json_integer_value(conf);
    if ((s = feed_json_str(o, "valid_from", &n)))
        r.valid_from_ns = feed_parse_time(s, n);
    if ((s = feed_json_str(o, "valid_until", &n))) {
        r.valid_until_ns = feed_parse_time(s, n);
        if (r.valid_until_ns && r.valid_until_ns <= r.valid_from_ns) {
            feed_problem(c, item, true, "valid_until is not after valid_from");
            return 0;
        }
    }
    add_strings(&r, json_object_get(o, "labels"), false);
    add_strings(&r, json_object_get(o, "indicator_types"), false);
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(o, "kill_chain_phases"), i, v)
    {
        const char *chain = feed_json_str(v, "kill_chain_name", NULL);
        const char *phase = feed_json_str(v, "phase_name", NULL);
        if (chain && phase) {
            char buf[256];
            int k = snprintf(buf, sizeof(buf), "%s:%s", chain, phase);
            if (k > 0 && (size_t)k < sizeof(buf))
                feed_rec_tag(&r, buf, (size_t)k);
        }
    }
    json_array_foreach(json_object_get(o, "object_marking_refs"), i, v)
    {
        if (!json_is_string(v))
            continue;
        const char *ref = json_string_value(v);
        const char *tag = trl_strmap_get(m->names, ref, json_string_length(v));
        for (size_t k = 0; k < TRL_ARRAY_LEN(tlp_ids) && !tag; k++) {
            if (!strcmp(ref, tlp_ids[k].id))
                tag = tlp_ids[k].tag;
        }
        if (tag)
            feed_rec_tag(&r, tag, strlen(tag));
    }
    if (id) {
        for (const struct related *rel = trl_strmap_get(m->related, id, idlen); rel;
             rel = rel->next) {
            const char *tag = trl_strmap_get(m->names, rel->target, strlen(rel->target));
            if (tag)
                feed_rec_tag(&r, tag, strlen(tag));
        }
    }

    char err[256];
    struct trl_stix_pattern *pat;
    if (trl_stix_pattern_parse(pattern, plen, &pat, err, sizeof(err)) != 0) {
        feed_problem(c, item, true, "pattern: %s", err);
        return 0;
    }
    struct trl_stix_extract x;
    int xr = trl_stix_pattern_extract(pat, &x);
    if (x.nproblems) {
        char msg[560];
        size_t used = 0;
        for (size_t k = 0; k < x.nproblems && used + 4 < sizeof(msg); k++) {
            int w = snprintf(msg + used, sizeof(msg) - used, "%s%s", k ? "; " : "", x.problems[k]);
            if (w < 0)
                break;
            used += (size_t)w < sizeof(msg) - used ? (size_t)w : sizeof(msg) - used - 1;
        }
        feed_problem(c, item, xr != 0, "%s", msg);
    }
    int rc = 0;
    for (size_t k = 0; k < x.natoms && rc >= 0; k++) {
        struct feed_rec ar = r;
        const struct trl_stix_atom *a = &x.atoms[k];
        if (a->start_ns && a->start_ns > ar.valid_from_ns)
            ar.valid_from_ns = a->start_ns;
        if (a->stop_ns && (!ar.valid_until_ns || a->stop_ns < ar.valid_until_ns))
            ar.valid_until_ns = a->stop_ns;
        if (ar.valid_until_ns && ar.valid_until_ns <= ar.valid_from_ns) {
            feed_problem(c, item, false, "%s '%s': START/STOP window outside the validity",
                         trl_ioc_type_name(a->type), a->value);
            continue;
        }
        rc = feed_emit(c, &ar, item, a->type, a->value, strlen(a->value), false);
    }
    trl_stix_pattern_free(pat);
    return rc < 0 ? rc : 0;
}

/* The indicators of a list of STIX objects, read together so that relationships and marking
 * definitions anywhere in the list apply to every indicator in it. */
static int parse_objects(struct feed_ctx *c, const json_t *objects)
{
    struct stix_maps m = {trl_strmap_create(), trl_strmap_create()};
    index_objects(objects, &m);
    struct trl_arena *scratch = trl_arena_create(16384);
    int rc = 0;
    size_t i;
    const json_t *o;
    json_array_foreach(objects, i, o)
    {
        const char *type = feed_json_str(o, "type", NULL);
        if (!type) {
            feed_problem(c, i + 1, true, "not a STIX object (no \"type\")");
            continue;
        }
        if (strcmp(type, "indicator")) {
            c->sink->context++;
            continue;
        }
        rc = parse_indicator(c, &m, o, i + 1, scratch);
        if (rc < 0)
            break;
    }
    trl_arena_destroy(scratch);
    trl_strmap_destroy(m.names, free);
    trl_strmap_destroy(m.related, free_related);
    return rc;
}

int trl_ioc_parse_stix_objects(const json_t *objects, const struct trl_ioc_parse_opts *opts,
                               struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "stix", sink);
    if (!json_is_array(objects)) {
        feed_problem(&c, 0, true, "no STIX objects (expected a list of objects)");
        return TRL_EINVAL;
    }
    return parse_objects(&c, objects);
}

int trl_ioc_parse_stix(const char *buf, size_t len, const struct trl_ioc_parse_opts *opts,
                       struct trl_ioc_sink *sink)
{
    struct feed_ctx c;
    feed_ctx_init(&c, opts, "stix", sink);
    json_t *root = feed_json_load(&c, buf, len);
    if (!root)
        return TRL_EINVAL;
    json_t *objects = NULL, *single = NULL;
    if (json_is_array(root)) {
        objects = root;
    } else if (json_is_array(json_object_get(root, "objects"))) {
        objects = json_object_get(root, "objects");
    } else if (json_is_object(root) && feed_json_str(root, "type", NULL) &&
               !strcmp(feed_json_str(root, "type", NULL), "indicator")) {
        single = json_array();
        json_array_append(single, root);
        objects = single;
    } else {
        feed_problem(&c, 0, true, "no STIX objects (a bundle or envelope has an \"objects\" list)");
        json_decref(root);
        return TRL_EINVAL;
    }
    int rc = parse_objects(&c, objects);
    json_decref(single);
    json_decref(root);
    return rc;
}
