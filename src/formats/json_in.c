#include "core/util.h"
#include "formats/json_in.h"
#include "formats/parse.h"

#include <limits.h>
#include <string.h>

/* Deeper documents are not JSON logs; json-c refuses them before building the tree. */
#define JSON_MAX_DEPTH 64

/* What the ECS / generic mapping saw while flattening the top level. */
struct ecs_ctx {
    struct trl_event *ev;
    bool have_timestamp;
    bool have_message;
    struct json_object *msg_alt; /* "msg" or "MESSAGE": the message when "message" is absent */
    const char *msg_alt_name;
    struct json_object *time_alt; /* "timestamp" or "time": @timestamp when that is absent */
};

static bool name_is(const char *name, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static bool ecs_leaf(void *arg, const char *name, size_t len, struct json_object *v)
{
    struct ecs_ctx *c = arg;
    if (name_is(name, len, "@timestamp")) {
        /* The encoder writes @timestamp from timestamp_ns: an unreadable one can only be dropped
         * (it stays in event.original). */
        c->have_timestamp = trl_json_set_timestamp(c->ev, v) || c->have_timestamp;
        return true;
    }
    /* An agent's event carries the line it collected: that is the event's original text. */
    if (name_is(name, len, "event.original") && (c->ev->flags & TRL_EVF_FROM_AGENT) &&
        json_object_is_type(v, json_type_string)) {
        c->ev->original = trl_arena_strndup(c->ev->arena, json_object_get_string(v),
                                            json_object_get_string_len(v));
        c->ev->original_len = (size_t)json_object_get_string_len(v);
        return true;
    }
    /* ... and the name of the agent's parser, kept when it is one of ours. */
    if (name_is(name, len, "trapline.format") && (c->ev->flags & TRL_EVF_FROM_AGENT) &&
        json_object_is_type(v, json_type_string)) {
        int f = trl_format_from_name(json_object_get_string(v));
        c->ev->format = f >= 0 ? trl_format_name((enum trl_format_id)f) : "agent";
        return true;
    }
    /* event.original is the line as received, and event.created the time Trapline received it;
     * values claimed by the input must not replace either. trapline.format names our parser. */
    if (name_is(name, len, "event.original") || name_is(name, len, "event.created") ||
        name_is(name, len, "trapline.format"))
        return true;
    if (name_is(name, len, "message")) {
        c->have_message = v != NULL;
        return false;
    }
    if ((name_is(name, len, "msg") || name_is(name, len, "MESSAGE")) && !c->msg_alt &&
        json_object_is_type(v, json_type_string)) {
        c->msg_alt = v;
        c->msg_alt_name = name_is(name, len, "msg") ? "msg" : "MESSAGE";
        return true;
    }
    if ((name_is(name, len, "timestamp") || name_is(name, len, "time")) && !c->time_alt)
        c->time_alt = v;
    return false;
}

/* ECS documents (Elastic agents, Trapline's own output, winlogbeat) and any other object: every
 * member becomes a field under its dotted name. */
static void parse_ecs(struct trl_event *ev, struct json_object *root)
{
    struct ecs_ctx c = {.ev = ev};
    trl_json_flatten(ev, root, "", 0, ecs_leaf, &c);
    if (c.msg_alt) {
        if (c.have_message)
            trl_json_set(ev, c.msg_alt_name, strlen(c.msg_alt_name), c.msg_alt);
        else
            trl_json_set(ev, "message", 7, c.msg_alt);
    }
    if (!c.have_timestamp && c.time_alt)
        trl_json_set_timestamp(ev, c.time_alt);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int trl_parse_json(struct trl_event *ev, const char *p, size_t len)
{
    const char *start = p;
    if (trl_starts_with(p, len, "\xEF\xBB\xBF")) {
        p += 3;
        len -= 3;
    }
    while (len > 0 && is_space(*p)) {
        p++;
        len--;
    }
    while (len > 0 && (is_space(p[len - 1]) || p[len - 1] == '\0'))
        len--;
    if (len == 0 || p[0] != '{' || len > INT_MAX)
        return TRL_ENOMATCH;

    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok)
        return TRL_ENOMATCH;
    struct json_object *root = json_tokener_parse_ex(tok, p, (int)len);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root)
        return TRL_ENOMATCH;
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return TRL_ENOMATCH;
    }
    /* Anything after the object means the line is not one JSON object: keep what was read, but
     * say the input was malformed. */
    bool trailing = false;
    for (size_t i = end; i < len && !trailing; i++)
        trailing = !is_space(p[i]);

    /* When the JSON is the MSG of a syslog line, the message field holds the JSON text itself. */
    size_t mlen = 0;
    const char *msg_before = trl_event_get(ev, TRL_F_MESSAGE, &mlen);
    bool message_is_input = msg_before && msg_before == start;

    struct json_object *evtx = trl_json_evtx_event(root);
    if (evtx)
        trl_json_parse_evtx(ev, evtx);
    else if (trl_json_is_journald(root))
        trl_json_parse_journald(ev, root);
    else
        parse_ecs(ev, root);
    json_object_put(root);

    /* The fields now say everything the JSON text said (and event.original still holds it), so a
     * message that is only that text is dropped, as it would be for a JSON line of its own. */
    const char *msg_after = trl_event_get(ev, TRL_F_MESSAGE, &mlen);
    if (message_is_input && msg_after == msg_before && !trailing)
        trl_event_remove(ev, TRL_F_MESSAGE);
    /* With text after the object, the line as a whole is the message unless the object had one. */
    if (trailing && !msg_after)
        trl_event_set(ev, TRL_F_MESSAGE, p, len);
    if (!ev->format)
        ev->format = "json";
    return trailing ? TRL_EINVAL : 0;
}
