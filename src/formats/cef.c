/*
 * CEF (ArcSight Common Event Format):
 *   CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
 *
 * In the header '|' and '\' are escaped with a backslash. The extension is "key=value" pairs
 * separated by spaces, where a value may itself contain spaces: it ends where the next " key="
 * begins. In values '=' and '\' are escaped, and "\n" / "\r" stand for line breaks.
 *
 * Every extension key is kept as cef.extensions.<key>; the ones with an ECS meaning are also
 * mapped (src -> source.ip, suser -> source.user.name, rt -> @timestamp, ...), under their short
 * and full CEF names. Custom fields (cs1..cs6, cn1.., flexString1.., ...) with a "<key>Label" are
 * also stored as cef.custom.<label>. The message is msg when present, else the header's Name.
 */
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/parse.h"
#include "formats/vendor_ecs.h"
#include "formats/vendor_time.h"

#include <string.h>

#define HEADER_FIELDS 7

enum kind {
    K_SRC_ADDR,
    K_DST_ADDR,
    K_PORT,
    K_COUNT,
    K_KEYWORD,  /* copied to the field */
    K_KEYWORD1, /* copied unless the field is already set */
    K_SUSER,
    K_DUSER,
    K_TRANSPORT,
    K_LOWER,
    K_ACTION,
    K_OUTCOME,
    K_TIME,
    K_HASH,
    K_MSG,
    K_DYNAMIC, /* an ECS field Trapline has no number for */
};

struct mapping {
    const char *key; /* short name */
    size_t key_len;
    const char *full; /* full name, or NULL */
    size_t full_len;
    enum kind kind;
    enum trl_field field;
    const char *dyn; /* K_DYNAMIC: the ECS name */
};

#define K(name) name, sizeof(name) - 1

static const struct mapping mappings[] = {
    {K("src"), K("sourceAddress"), K_SRC_ADDR, TRL_F_SOURCE_IP, NULL},
    {K("dst"), K("destinationAddress"), K_DST_ADDR, TRL_F_DESTINATION_IP, NULL},
    {K("spt"), K("sourcePort"), K_PORT, TRL_F_SOURCE_PORT, NULL},
    {K("dpt"), K("destinationPort"), K_PORT, TRL_F_DESTINATION_PORT, NULL},
    {K("smac"), K("sourceMacAddress"), K_KEYWORD, TRL_F_SOURCE_MAC, NULL},
    {K("dmac"), K("destinationMacAddress"), K_DYNAMIC, TRL_F_NONE, "destination.mac"},
    {K("suser"), K("sourceUserName"), K_SUSER, TRL_F_SOURCE_USER_NAME, NULL},
    {K("duser"), K("destinationUserName"), K_DUSER, TRL_F_USER_TARGET_NAME, NULL},
    {K("suid"), K("sourceUserId"), K_KEYWORD1, TRL_F_USER_ID, NULL},
    {K("duid"), K("destinationUserId"), K_KEYWORD, TRL_F_USER_TARGET_ID, NULL},
    {K("sntdom"), K("sourceNtDomain"), K_KEYWORD1, TRL_F_USER_DOMAIN, NULL},
    {K("dntdom"), K("destinationNtDomain"), K_KEYWORD, TRL_F_USER_TARGET_DOMAIN, NULL},
    {K("shost"), K("sourceHostName"), K_KEYWORD, TRL_F_SOURCE_DOMAIN, NULL},
    {K("dhost"), K("destinationHostName"), K_KEYWORD, TRL_F_DESTINATION_DOMAIN, NULL},
    {K("proto"), K("transportProtocol"), K_TRANSPORT, TRL_F_NETWORK_TRANSPORT, NULL},
    {K("app"), K("applicationProtocol"), K_LOWER, TRL_F_NETWORK_PROTOCOL, NULL},
    {K("act"), K("deviceAction"), K_ACTION, TRL_F_EVENT_ACTION, NULL},
    {K("request"), K("requestUrl"), K_KEYWORD, TRL_F_URL_ORIGINAL, NULL},
    {K("requestMethod"), NULL, 0, K_KEYWORD, TRL_F_HTTP_REQUEST_METHOD, NULL},
    {K("requestClientApplication"), NULL, 0, K_KEYWORD, TRL_F_USER_AGENT_ORIGINAL, NULL},
    {K("fname"), K("fileName"), K_KEYWORD, TRL_F_FILE_NAME, NULL},
    {K("filePath"), NULL, 0, K_KEYWORD, TRL_F_FILE_PATH, NULL},
    {K("fileHash"), NULL, 0, K_HASH, TRL_F_FILE_HASH_SHA256, NULL},
    {K("fsize"), K("fileSize"), K_COUNT, TRL_F_FILE_SIZE, NULL},
    {K("rt"), K("receiptTime"), K_TIME, TRL_F_NONE, NULL},
    {K("end"), K("endTime"), K_TIME, TRL_F_NONE, NULL},
    {K("start"), K("startTime"), K_TIME, TRL_F_NONE, NULL},
    {K("outcome"), K("eventOutcome"), K_OUTCOME, TRL_F_EVENT_OUTCOME, NULL},
    {K("msg"), K("message"), K_MSG, TRL_F_MESSAGE, NULL},
    {K("dvchost"), K("deviceHostName"), K_KEYWORD, TRL_F_OBSERVER_HOSTNAME, NULL},
    {K("dvc"), K("deviceAddress"), K_DYNAMIC, TRL_F_NONE, "observer.ip"},
    {K("in"), K("bytesIn"), K_COUNT, TRL_F_SOURCE_BYTES, NULL},
    {K("out"), K("bytesOut"), K_COUNT, TRL_F_DESTINATION_BYTES, NULL},
    {K("reason"), NULL, 0, K_KEYWORD, TRL_F_EVENT_REASON, NULL},
    {K("deviceInboundInterface"), NULL, 0, K_KEYWORD, TRL_F_OBSERVER_INGRESS_INTERFACE_NAME, NULL},
    {K("deviceOutboundInterface"), NULL, 0, K_KEYWORD, TRL_F_OBSERVER_EGRESS_INTERFACE_NAME, NULL},
    {K("sproc"), K("sourceProcessName"), K_KEYWORD1, TRL_F_PROCESS_NAME, NULL},
    {K("spid"), K("sourceProcessId"), K_KEYWORD1, TRL_F_PROCESS_PID, NULL},
};

/* Custom fields whose meaning is given by a "<key>Label" extension. */
static const char *const labelled[] = {
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cn1",
    "cn2",
    "cn3",
    "cfp1",
    "cfp2",
    "cfp3",
    "cfp4",
    "c6a1",
    "c6a2",
    "c6a3",
    "c6a4",
    "flexString1",
    "flexString2",
    "flexNumber1",
    "flexNumber2",
    "flexDate1",
    "deviceCustomDate1",
    "deviceCustomDate2",
};

static int64_t ref_ns(const struct trl_event *ev)
{
    return ev->received_ns ? ev->received_ns : trl_now_ns();
}

static const struct mapping *find_mapping(const char *key, size_t len)
{
    for (size_t i = 0; i < TRL_ARRAY_LEN(mappings); i++) {
        const struct mapping *m = &mappings[i];
        if ((len == m->key_len && trl_strcase_eq(key, len, m->key, len)) ||
            (len == m->full_len && trl_strcase_eq(key, len, m->full, len)))
            return m;
    }
    return NULL;
}

static bool is_sha256(const char *v, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* rt is the time the device saw the event; end and start stand in when it is absent. */
static int time_rank(const char *key, size_t len)
{
    if (trl_strcase_eq(key, len, "rt", 2) || trl_strcase_eq(key, len, "receiptTime", 11))
        return 3;
    if (trl_strcase_eq(key, len, "end", 3) || trl_strcase_eq(key, len, "endTime", 7))
        return 2;
    return 1;
}

static void apply(struct trl_event *ev, const struct trl_vendor_kv *kv, int *best_time)
{
    const struct mapping *m = find_mapping(kv->key, kv->key_len);
    const char *v = kv->val;
    size_t len = kv->val_len;
    if (!m || len == 0)
        return;
    switch (m->kind) {
    case K_SRC_ADDR:
        trl_vendor_set_addr(ev, TRL_F_SOURCE_IP, TRL_F_SOURCE_ADDRESS, v, len);
        break;
    case K_DST_ADDR:
        trl_vendor_set_addr(ev, TRL_F_DESTINATION_IP, TRL_F_DESTINATION_ADDRESS, v, len);
        break;
    case K_PORT:
        trl_vendor_set_number(ev, m->field, v, len, true);
        break;
    case K_COUNT:
        trl_vendor_set_number(ev, m->field, v, len, false);
        break;
    case K_KEYWORD:
        trl_event_set(ev, m->field, v, len);
        break;
    case K_KEYWORD1:
        if (!trl_event_has(ev, m->field))
            trl_event_set(ev, m->field, v, len);
        break;
    case K_SUSER:
        trl_vendor_set_user(ev, TRL_F_SOURCE_USER_NAME, v, len);
        trl_event_set(ev, TRL_F_USER_NAME, v, len);
        break;
    case K_DUSER:
        trl_vendor_set_user(ev, TRL_F_USER_TARGET_NAME, v, len);
        break;
    case K_TRANSPORT:
        trl_vendor_set_transport(ev, v, len);
        break;
    case K_LOWER: {
        char *low = trl_arena_strndup(ev->arena, v, len);
        for (size_t i = 0; i < len; i++)
            low[i] = (low[i] >= 'A' && low[i] <= 'Z') ? (char)(low[i] - 'A' + 'a') : low[i];
        trl_event_set_ref(ev, m->field, low, len);
        break;
    }
    case K_ACTION:
        trl_vendor_set_action(ev, v, len);
        break;
    case K_OUTCOME:
        trl_vendor_set_outcome(ev, v, len);
        break;
    case K_TIME: {
        int rank = time_rank(kv->key, kv->key_len);
        int64_t ns;
        if (rank > *best_time && trl_vtime_parse_any(v, len, ref_ns(ev), &ns)) {
            ev->timestamp_ns = ns;
            *best_time = rank;
        }
        break;
    }
    case K_HASH:
        if (is_sha256(v, len)) {
            trl_event_set(ev, TRL_F_FILE_HASH_SHA256, v, len);
            trl_event_add_unique(ev, TRL_F_RELATED_HASH, v, len);
        }
        break;
    case K_MSG:
        trl_event_set(ev, TRL_F_MESSAGE, v, len);
        break;
    case K_DYNAMIC:
        trl_event_set_named(ev, m->dyn, strlen(m->dyn), v, len);
        break;
    }
}

/* "csNLabel=Policy" names the value of csN: stored as cef.custom.Policy. One pass remembers the
 * last value and the last label of each custom field. */
static void apply_labels(struct trl_event *ev, const struct trl_vendor_kv *kv, size_t n)
{
    const struct trl_vendor_kv *value[TRL_ARRAY_LEN(labelled)] = {NULL};
    const struct trl_vendor_kv *label[TRL_ARRAY_LEN(labelled)] = {NULL};
    for (size_t i = 0; i < n; i++) {
        const char *key = kv[i].key;
        size_t klen = kv[i].key_len;
        bool is_label = klen > 5 && memcmp(key + klen - 5, "Label", 5) == 0;
        size_t base = is_label ? klen - 5 : klen;
        for (size_t k = 0; k < TRL_ARRAY_LEN(labelled); k++) {
            if (strlen(labelled[k]) == base && memcmp(labelled[k], key, base) == 0) {
                if (is_label)
                    label[k] = &kv[i];
                else
                    value[k] = &kv[i];
                break;
            }
        }
    }
    for (size_t k = 0; k < TRL_ARRAY_LEN(labelled); k++) {
        if (value[k] && label[k] && label[k]->val_len)
            trl_vendor_set_prefixed(ev, "cef.custom.", label[k]->val, label[k]->val_len,
                                    value[k]->val, value[k]->val_len);
    }
}

static bool is_digits(const char *p, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
    }
    return true;
}

static void set_severity(struct trl_event *ev, const char *v, size_t len)
{
    static const struct {
        const char *word;
        const char *num;
    } words[] = {
        {"Low", "3"}, {"Medium", "6"}, {"High", "8"}, {"Very-High", "10"}, {"Very High", "10"}};
    uint64_t n;
    while (len > 0 && v[len - 1] == ' ')
        len--;
    if (len <= 2 && trl_parse_u64(v, len, &n) && n <= 10) {
        trl_event_set(ev, TRL_F_EVENT_SEVERITY, v, len);
        return;
    }
    for (size_t i = 0; i < TRL_ARRAY_LEN(words); i++) {
        if (trl_strcase_eq(v, len, words[i].word, strlen(words[i].word))) {
            trl_event_set_str(ev, TRL_F_EVENT_SEVERITY, words[i].num);
            return;
        }
    }
}

/* A header field without its "\|" and "\\" escapes. */
static struct trl_str header_field(struct trl_event *ev, const char *p, size_t len)
{
    if (!memchr(p, '\\', len))
        return (struct trl_str){p, len};
    char *out = trl_arena_alloc(ev->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\\' && i + 1 < len && (p[i + 1] == '|' || p[i + 1] == '\\'))
            i++;
        out[n++] = p[i];
    }
    out[n] = '\0';
    return (struct trl_str){out, n};
}

int trl_parse_cef(struct trl_event *ev, const char *p, size_t len)
{
    if (!p)
        return TRL_ENOMATCH;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
        len--;
    if (!trl_starts_with(p, len, "CEF:"))
        return TRL_ENOMATCH;
    if (!ev->format)
        ev->format = "cef";
    if (!trl_event_has(ev, TRL_F_MESSAGE))
        trl_event_set(ev, TRL_F_MESSAGE, p, len);

    /* Header: seven fields, each ended by an unescaped '|'. */
    struct trl_str h[HEADER_FIELDS];
    size_t nh = 0, i = 4, start = 4;
    while (i < len && p[i] == ' ')
        start = ++i;
    for (; i < len && nh < HEADER_FIELDS; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (p[i] == '|') {
            h[nh++] = header_field(ev, p + start, i - start);
            start = i + 1;
        }
    }
    /* A line that ends right after the severity has an empty extension. */
    if (nh == HEADER_FIELDS - 1 && start < len) {
        h[nh++] = header_field(ev, p + start, len - start);
        start = len;
    }
    static const enum trl_field header_fields[] = {
        TRL_F_NONE,       TRL_F_OBSERVER_VENDOR, TRL_F_OBSERVER_PRODUCT, TRL_F_OBSERVER_VERSION,
        TRL_F_EVENT_CODE,
    };
    for (size_t k = 1; k < nh && k < TRL_ARRAY_LEN(header_fields); k++) {
        if (h[k].len)
            trl_event_set(ev, header_fields[k], h[k].ptr, h[k].len);
    }
    if (nh > 0)
        trl_event_set_named(ev, "cef.version", 11, h[0].ptr, h[0].len);
    if (nh > 4)
        trl_event_set_named(ev, "cef.device_event_class_id", 25, h[4].ptr, h[4].len);
    if (nh > 5 && h[5].len) {
        trl_event_set_named(ev, "cef.name", 8, h[5].ptr, h[5].len);
        trl_event_set(ev, TRL_F_MESSAGE, h[5].ptr, h[5].len);
    }
    if (nh > 6) {
        trl_event_set_named(ev, "cef.severity", 12, h[6].ptr, h[6].len);
        set_severity(ev, h[6].ptr, h[6].len);
    }
    if (nh < HEADER_FIELDS || !is_digits(h[0].ptr, h[0].len))
        return TRL_EINVAL;

    struct trl_vendor_kv *kv;
    size_t n = trl_vendor_split_spaced(ev, p + start, len - start, true, &kv);
    int best_time = 0;
    for (size_t k = 0; k < n; k++) {
        trl_vendor_set_prefixed(ev, "cef.extensions.", kv[k].key, kv[k].key_len, kv[k].val,
                                kv[k].val_len);
        apply(ev, &kv[k], &best_time);
    }
    apply_labels(ev, kv, n);
    return 0;
}
