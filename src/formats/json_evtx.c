#include "core/util.h"
#include "formats/json_in.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Windows events dumped from EVTX to JSON. The dumpers write an XML element's attributes either
 * under "#attributes" ({"Provider":{"#attributes":{"Name":"..."}}}), with an "@" prefix
 * ({"Provider":{"@Name":"..."}}), or flattened ("Provider_Name"), and an element's text either as
 * the value or as "#text". Every spelling is accepted.
 */

struct json_object *trl_json_evtx_event(struct json_object *obj)
{
    struct json_object *event, *sys;
    if (json_object_object_get_ex(obj, "Event", &event) &&
        json_object_is_type(event, json_type_object) &&
        json_object_object_get_ex(event, "System", &sys) &&
        json_object_is_type(sys, json_type_object))
        return event;
    if (json_object_object_get_ex(obj, "System", &sys) &&
        json_object_is_type(sys, json_type_object) &&
        json_object_object_get_ex(sys, "EventID", NULL))
        return obj;
    return NULL;
}

static struct json_object *member(struct json_object *obj, const char *name)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, name, &v) ? v : NULL;
}

/* Attribute attr of element elem of obj, in any of the dumpers' spellings. */
static struct json_object *attribute(struct json_object *obj, const char *elem, const char *attr)
{
    char name[64];
    struct json_object *el = member(obj, elem), *v;
    if (json_object_is_type(el, json_type_object)) {
        struct json_object *attrs = member(el, "#attributes");
        if (json_object_is_type(attrs, json_type_object) && (v = member(attrs, attr)))
            return v;
        snprintf(name, sizeof(name), "@%s", attr);
        if ((v = member(el, name)) || (v = member(el, attr)))
            return v;
    }
    snprintf(name, sizeof(name), "%s_%s", elem, attr);
    return member(obj, name);
}

/* Sets known field f from v's text; returns whether v had one. */
static bool set_field(struct trl_event *ev, enum trl_field f, struct json_object *v)
{
    char num[TRL_JSON_NUM_MAX];
    const char *text;
    size_t len;
    if (!trl_json_text(v, num, &text, &len) || len == 0)
        return false;
    trl_event_set(ev, f, text, len);
    return true;
}

static void set_named(struct trl_event *ev, const char *name, struct json_object *v)
{
    char num[TRL_JSON_NUM_MAX];
    const char *text;
    size_t len;
    if (trl_json_text(v, num, &text, &len) && len > 0)
        trl_event_set_named(ev, name, strlen(name), text, len);
}

static const char *const levels[] = {
    "information", "critical", "error", "warning", "information", "verbose",
};

/* The standard keyword bits (winmeta.xml); provider-specific bits have no common name. */
static const struct {
    unsigned long long bit;
    const char *name;
} keywords[] = {
    {0x01000000000000ULL, "Response Time"},    {0x02000000000000ULL, "WDI Context"},
    {0x04000000000000ULL, "WDI Diag"},         {0x08000000000000ULL, "SQM"},
    {0x10000000000000ULL, "Audit Failure"},    {0x20000000000000ULL, "Audit Success"},
    {0x40000000000000ULL, "Correlation Hint"}, {0x80000000000000ULL, "Classic"},
};

static void set_keywords(struct trl_event *ev, struct json_object *v)
{
    char num[TRL_JSON_NUM_MAX], buf[24];
    const char *text;
    size_t len;
    if (!trl_json_text(v, num, &text, &len) || len == 0 || len >= sizeof(buf))
        return;
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end;
    unsigned long long mask = strtoull(buf, &end, 0);
    if (*end != '\0')
        return;
    for (size_t i = 0; i < TRL_ARRAY_LEN(keywords); i++) {
        if (mask & keywords[i].bit)
            trl_event_add(ev, TRL_F_WINLOG_KEYWORDS, keywords[i].name, strlen(keywords[i].name));
    }
}

static void parse_system(struct trl_event *ev, struct json_object *sys)
{
    char num[TRL_JSON_NUM_MAX];
    const char *text;
    size_t len;
    if (trl_json_text(member(sys, "EventID"), num, &text, &len) && len > 0) {
        trl_event_set(ev, TRL_F_WINLOG_EVENT_ID, text, len);
        trl_event_set(ev, TRL_F_EVENT_CODE, text, len);
    }
    if (set_field(ev, TRL_F_WINLOG_PROVIDER_NAME, attribute(sys, "Provider", "Name")))
        set_field(ev, TRL_F_EVENT_PROVIDER, attribute(sys, "Provider", "Name"));
    set_named(ev, "winlog.provider_guid", attribute(sys, "Provider", "Guid"));
    set_field(ev, TRL_F_WINLOG_CHANNEL, member(sys, "Channel"));
    if (set_field(ev, TRL_F_WINLOG_COMPUTER_NAME, member(sys, "Computer")))
        set_field(ev, TRL_F_HOST_NAME, member(sys, "Computer"));
    set_field(ev, TRL_F_WINLOG_RECORD_ID, member(sys, "EventRecordID"));
    trl_json_set_timestamp(ev, attribute(sys, "TimeCreated", "SystemTime"));
    set_named(ev, "winlog.process.pid", attribute(sys, "Execution", "ProcessID"));
    set_named(ev, "winlog.process.thread.id", attribute(sys, "Execution", "ThreadID"));
    set_named(ev, "winlog.user.identifier", attribute(sys, "Security", "UserID"));
    set_named(ev, "winlog.activity_id", attribute(sys, "Correlation", "ActivityID"));
    set_named(ev, "winlog.related_activity_id", attribute(sys, "Correlation", "RelatedActivityID"));
    set_named(ev, "winlog.version", member(sys, "Version"));
    set_named(ev, "winlog.task", member(sys, "Task"));
    set_named(ev, "winlog.opcode", member(sys, "Opcode"));
    uint64_t level;
    if (trl_json_text(member(sys, "Level"), num, &text, &len) && trl_parse_u64(text, len, &level) &&
        level < TRL_ARRAY_LEN(levels))
        trl_event_set_str(ev, TRL_F_LOG_LEVEL, levels[level]);
    set_keywords(ev, member(sys, "Keywords"));
}

/* prefix.name with dots in name turned into underscores, so that every data item is one level
 * below its prefix whatever its name. */
static void set_data(struct trl_event *ev, const char *prefix, const char *name, size_t name_len,
                     struct json_object *v)
{
    char full[TRL_JSON_NAME_MAX];
    size_t plen = strlen(prefix);
    if (name_len == 0 || plen + 1 + name_len >= sizeof(full))
        return;
    memcpy(full, prefix, plen);
    full[plen] = '.';
    char *dst = full + plen + 1;
    memcpy(dst, name, name_len);
    for (char *dot = memchr(dst, '.', name_len); dot;
         dot = memchr(dot, '.', name_len - (size_t)(dot - dst)))
        *dot = '_';
    size_t flen = plen + 1 + name_len;

    char num[TRL_JSON_NUM_MAX];
    const char *text;
    size_t len;
    if (!v)
        return;
    if (!trl_json_text(v, num, &text, &len))
        text = trl_json_dump(v, &len);
    trl_event_set_named(ev, full, flen, text, len);
}

/* The Name attribute of a <Data Name="..."> item written as an object. */
static bool data_name(struct json_object *item, const char **name, size_t *len)
{
    struct json_object *attrs = member(item, "#attributes");
    struct json_object *n = json_object_is_type(attrs, json_type_object) ? member(attrs, "Name")
                                                                         : member(item, "@Name");
    if (!json_object_is_type(n, json_type_string))
        return false;
    *name = json_object_get_string(n);
    *len = (size_t)json_object_get_string_len(n);
    return true;
}

/* One <Data> item: named ones become prefix.<Name>, unnamed ones prefix.param<N> as winlogbeat
 * names them. */
static void set_data_item(struct trl_event *ev, const char *prefix, struct json_object *item,
                          size_t index)
{
    const char *name;
    size_t len;
    if (json_object_is_type(item, json_type_object) && data_name(item, &name, &len)) {
        set_data(ev, prefix, name, len, member(item, "#text"));
        return;
    }
    char param[24];
    int n = snprintf(param, sizeof(param), "param%zu", index + 1);
    set_data(ev, prefix, param, (size_t)n, item);
}

static void parse_data(struct trl_event *ev, const char *prefix, struct json_object *data)
{
    json_object_object_foreach(data, key, val)
    {
        /* The element's own attributes (xmlns, a template Name) describe the schema, not the
         * event. */
        if (!strcmp(key, "#attributes") || key[0] == '@')
            continue;
        /* <Data> items: a list of them, or a single one (named or not). */
        if (!strcmp(key, "Data")) {
            if (!json_object_is_type(val, json_type_array)) {
                set_data_item(ev, prefix, val, 0);
                continue;
            }
            size_t n = json_object_array_length(val);
            for (size_t i = 0; i < n; i++)
                set_data_item(ev, prefix, json_object_array_get_idx(val, i), i);
            continue;
        }
        set_data(ev, prefix, key, strlen(key), val);
    }
}

void trl_json_parse_evtx(struct trl_event *ev, struct json_object *event)
{
    parse_system(ev, member(event, "System"));
    struct json_object *data = member(event, "EventData");
    if (json_object_is_type(data, json_type_object))
        parse_data(ev, "winlog.event_data", data);
    /* <UserData> wraps its items in one provider-defined element, named in xml_name. */
    struct json_object *user = member(event, "UserData");
    if (json_object_is_type(user, json_type_object)) {
        json_object_object_foreach(user, key, val)
        {
            if (key[0] == '#' || key[0] == '@' || !json_object_is_type(val, json_type_object))
                continue;
            trl_event_set_named(ev, "winlog.user_data.xml_name", 25, key, strlen(key));
            parse_data(ev, "winlog.user_data", val);
            break;
        }
    }
    struct json_object *rendering = member(event, "RenderingInfo");
    if (json_object_is_type(rendering, json_type_object))
        set_field(ev, TRL_F_MESSAGE, member(rendering, "Message"));
    trl_event_set_ref(ev, TRL_F_EVENT_MODULE, "windows", 7);
}
