#include "core/arena.h"
#include "core/util.h"
#include "formats/json_in.h"
#include "formats/syslog_common.h"

#include <string.h>

/* journalctl -o json: one object per entry, every value a string, except binary values (arrays
 * of byte numbers), values of fields that occur more than once (arrays of those), and null for a
 * value journalctl chose not to print. */

bool trl_json_is_journald(struct json_object *obj)
{
    if (json_object_object_get_ex(obj, "__REALTIME_TIMESTAMP", NULL) ||
        json_object_object_get_ex(obj, "__CURSOR", NULL) ||
        json_object_object_get_ex(obj, "_BOOT_ID", NULL))
        return true;
    return json_object_object_get_ex(obj, "MESSAGE", NULL) &&
           (json_object_object_get_ex(obj, "PRIORITY", NULL) ||
            json_object_object_get_ex(obj, "SYSLOG_IDENTIFIER", NULL) ||
            json_object_object_get_ex(obj, "_PID", NULL) ||
            json_object_object_get_ex(obj, "_HOSTNAME", NULL));
}

/* A binary value: an array of numbers 0..255, decoded into the arena. */
static bool decode_bytes(struct trl_event *ev, struct json_object *v, const char **text,
                         size_t *len)
{
    size_t n = json_object_array_length(v);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        struct json_object *b = json_object_array_get_idx(v, i);
        if (!json_object_is_type(b, json_type_int))
            return false;
        int64_t x = json_object_get_int64(b);
        if (x < 0 || x > 255)
            return false;
    }
    char *out = trl_arena_alloc(ev->arena, n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)json_object_get_int64(json_object_array_get_idx(v, i));
    out[n] = '\0';
    *text = out;
    *len = n;
    return true;
}

/*
 * The text of one value. With first, a field that occurs several times gives its first value (ECS
 * fields hold one); otherwise such a list is kept as its JSON text.
 */
static bool value_text(struct trl_event *ev, struct json_object *v, bool first,
                       char num[TRL_JSON_NUM_MAX], const char **text, size_t *len)
{
    if (trl_json_scalar(v, num, text, len))
        return true;
    if (!v)
        return false;
    if (!json_object_is_type(v, json_type_array)) {
        *text = trl_json_dump(v, len);
        return true;
    }
    if (decode_bytes(ev, v, text, len))
        return true;
    if (first && json_object_array_length(v) > 0) {
        struct json_object *el = json_object_array_get_idx(v, 0);
        return trl_json_scalar(el, num, text, len) ||
               (json_object_is_type(el, json_type_array) && decode_bytes(ev, el, text, len));
    }
    *text = trl_json_dump(v, len);
    return *len > 0;
}

static bool is_number(const char *p, size_t len, uint64_t max, uint64_t *out)
{
    return trl_parse_u64(p, len, out) && *out <= max;
}

/* The ECS fields journald keys map to; every key not consumed here is kept as journald.<key>. */
enum jkey {
    J_OTHER,
    J_REALTIME,
    J_HOSTNAME,
    J_IDENTIFIER,
    J_PID,
    J_SYSLOG_PID,
    J_COMM,
    J_EXE,
    J_CMDLINE,
    J_UID,
    J_PRIORITY,
    J_FACILITY,
    J_MESSAGE,
    J_UNIT,
    J__COUNT
};

static const char *const jkey_names[J__COUNT] = {
    [J_REALTIME] = "__REALTIME_TIMESTAMP",
    [J_HOSTNAME] = "_HOSTNAME",
    [J_IDENTIFIER] = "SYSLOG_IDENTIFIER",
    [J_PID] = "_PID",
    [J_SYSLOG_PID] = "SYSLOG_PID",
    [J_COMM] = "_COMM",
    [J_EXE] = "_EXE",
    [J_CMDLINE] = "_CMDLINE",
    [J_UID] = "_UID",
    [J_PRIORITY] = "PRIORITY",
    [J_FACILITY] = "SYSLOG_FACILITY",
    [J_MESSAGE] = "MESSAGE",
    [J_UNIT] = "_SYSTEMD_UNIT",
};

static enum jkey classify(const char *key)
{
    for (int k = 1; k < J__COUNT; k++) {
        if (!strcmp(key, jkey_names[k]))
            return (enum jkey)k;
    }
    return J_OTHER;
}

/* journald.<key in lower case, without leading underscores>; dots become underscores so every
 * such field is one level below "journald". */
static void set_journald(struct trl_event *ev, const char *key, const char *v, size_t len)
{
    char name[TRL_JSON_NAME_MAX];
    memcpy(name, "journald.", 9);
    size_t n = 9;
    while (*key == '_')
        key++;
    for (; *key && n < sizeof(name); key++) {
        char c = *key;
        name[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c == '.' ? '_' : c;
    }
    if (n == 9 || n == sizeof(name))
        return;
    trl_event_set_named(ev, name, n, v, len);
}

/* Maps one key onto ECS; false when the value does not fit the field and is kept as it is. */
static bool map_key(struct trl_event *ev, enum jkey k, const char *v, size_t len)
{
    uint64_t x;
    switch (k) {
    case J_REALTIME:
        /* Microseconds; the bound keeps the nanosecond value inside an int64. */
        if (!is_number(v, len, INT64_MAX / 1000, &x))
            return false;
        ev->timestamp_ns = (int64_t)x * 1000;
        return true;
    case J_HOSTNAME:
        trl_event_set(ev, TRL_F_HOST_NAME, v, len);
        return true;
    case J_EXE:
        trl_event_set(ev, TRL_F_PROCESS_EXECUTABLE, v, len);
        return true;
    case J_CMDLINE:
        trl_event_set(ev, TRL_F_PROCESS_COMMAND_LINE, v, len);
        return true;
    case J_UID:
        /* The uid of the process that logged, not of the user a message may be about (sshd runs
         * as root while logging svc_backup's failed password). */
        trl_event_set(ev, TRL_F_PROCESS_USER_ID, v, len);
        return true;
    case J_PRIORITY:
        if (!is_number(v, len, 7, &x))
            return false;
        trl_event_set(ev, TRL_F_LOG_SYSLOG_SEVERITY_CODE, v, len);
        trl_event_set_str(ev, TRL_F_LOG_SYSLOG_SEVERITY_NAME,
                          trl_syslog_severity_name((unsigned)x));
        return true;
    case J_FACILITY:
        if (!is_number(v, len, 23, &x))
            return false;
        trl_event_set(ev, TRL_F_LOG_SYSLOG_FACILITY_CODE, v, len);
        trl_event_set_str(ev, TRL_F_LOG_SYSLOG_FACILITY_NAME,
                          trl_syslog_facility_name((unsigned)x));
        return true;
    case J_MESSAGE:
        trl_event_set(ev, TRL_F_MESSAGE, v, len);
        return true;
    case J_UNIT:
        trl_event_set_named(ev, "journald.unit", 13, v, len);
        return true;
    default:
        return false;
    }
}

struct deferred {
    const char *text;
    size_t len;
};

void trl_json_parse_journald(struct trl_event *ev, struct json_object *obj)
{
    /* The process name and pid each have two candidate keys; they are settled after the loop. */
    struct deferred d[J__COUNT] = {{0}};
    char num[TRL_JSON_NUM_MAX];
    json_object_object_foreach(obj, key, val)
    {
        enum jkey k = classify(key);
        const char *text;
        size_t len;
        if (!val || !value_text(ev, val, k != J_OTHER, num, &text, &len))
            continue;
        if (k == J_IDENTIFIER || k == J_PID || k == J_SYSLOG_PID || k == J_COMM) {
            /* num is reused by the next value: keep a copy of a number's text. */
            if (text == num)
                text = trl_arena_strndup(ev->arena, text, len);
            d[k] = (struct deferred){text, len};
            continue;
        }
        if (!map_key(ev, k, text, len))
            set_journald(ev, key, text, len);
    }

    uint64_t pid;
    enum jkey pid_key = J_OTHER;
    if (d[J_PID].text && is_number(d[J_PID].text, d[J_PID].len, INT64_MAX, &pid))
        pid_key = J_PID;
    else if (d[J_SYSLOG_PID].text &&
             is_number(d[J_SYSLOG_PID].text, d[J_SYSLOG_PID].len, INT64_MAX, &pid))
        pid_key = J_SYSLOG_PID;
    if (pid_key != J_OTHER)
        trl_event_set(ev, TRL_F_PROCESS_PID, d[pid_key].text, d[pid_key].len);

    struct deferred ident = d[J_IDENTIFIER], comm = d[J_COMM];
    if (ident.len > 0) {
        /* Like a syslog tag, so the program normalisers (sshd, sudo...) run on MESSAGE. */
        trl_event_set(ev, TRL_F_LOG_SYSLOG_APPNAME, ident.text, ident.len);
        trl_event_set(ev, TRL_F_PROCESS_NAME, ident.text, ident.len);
    } else {
        if (comm.len > 0)
            trl_event_set(ev, TRL_F_PROCESS_NAME, comm.text, comm.len);
        if (ident.text)
            set_journald(ev, jkey_names[J_IDENTIFIER], ident.text, ident.len);
    }
    if (d[J_COMM].text)
        set_journald(ev, jkey_names[J_COMM], d[J_COMM].text, d[J_COMM].len);
    for (enum jkey k = J_PID; k <= J_SYSLOG_PID; k++) {
        if (d[k].text && k != pid_key)
            set_journald(ev, jkey_names[k], d[k].text, d[k].len);
    }

    trl_event_set_ref(ev, TRL_F_EVENT_MODULE, "journald", 8);
    trl_event_set_ref(ev, TRL_F_EVENT_DATASET, "journald", 8);
}
