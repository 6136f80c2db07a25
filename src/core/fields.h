/*
 * fields: the closed list of ECS fields Trapline knows by number.
 *
 * Known fields are addressed by enum trl_field (fast, no string compares in the hot path); anything
 * else (winlog.event_data.*, labels.*, log.syslog.structured_data.*, vendor extensions) is a
 * dynamic field addressed by its dotted name. The table is constant data: safe from any thread.
 */
#ifndef TRL_FIELDS_H
#define TRL_FIELDS_H

#include <stddef.h>

enum trl_field_type {
    TRL_FT_KEYWORD, /* exact-value string */
    TRL_FT_TEXT,    /* free text (message) */
    TRL_FT_LONG,    /* integer; serialised as a JSON number when it parses as one */
    TRL_FT_IP,      /* IPv4 or IPv6 address */
    TRL_FT_DATE,    /* RFC 3339 string */
    TRL_FT_ARRAY,   /* keyword array: always serialised as a JSON array (event.category, ...) */
};

/* X(ENUM_SUFFIX, "ecs.name", TYPE). Keep dotted names unique; a name never both a leaf and a
 * parent. */
#define TRL_FIELD_LIST(X)                                                                          \
    X(MESSAGE, "message", TRL_FT_TEXT)                                                             \
    X(TAGS, "tags", TRL_FT_ARRAY)                                                                  \
    X(HOST_NAME, "host.name", TRL_FT_KEYWORD)                                                      \
    X(HOST_HOSTNAME, "host.hostname", TRL_FT_KEYWORD)                                              \
    X(HOST_IP, "host.ip", TRL_FT_IP)                                                               \
    X(HOST_OS_TYPE, "host.os.type", TRL_FT_KEYWORD)                                                \
    X(AGENT_ID, "agent.id", TRL_FT_KEYWORD)                                                        \
    X(AGENT_NAME, "agent.name", TRL_FT_KEYWORD)                                                    \
    X(AGENT_TYPE, "agent.type", TRL_FT_KEYWORD)                                                    \
    X(AGENT_VERSION, "agent.version", TRL_FT_KEYWORD)                                              \
    X(LOG_LEVEL, "log.level", TRL_FT_KEYWORD)                                                      \
    X(LOG_LOGGER, "log.logger", TRL_FT_KEYWORD)                                                    \
    X(LOG_FILE_PATH, "log.file.path", TRL_FT_KEYWORD)                                              \
    X(LOG_SOURCE_ADDRESS, "log.source.address", TRL_FT_KEYWORD)                                    \
    X(LOG_SYSLOG_FACILITY_CODE, "log.syslog.facility.code", TRL_FT_LONG)                           \
    X(LOG_SYSLOG_FACILITY_NAME, "log.syslog.facility.name", TRL_FT_KEYWORD)                        \
    X(LOG_SYSLOG_SEVERITY_CODE, "log.syslog.severity.code", TRL_FT_LONG)                           \
    X(LOG_SYSLOG_SEVERITY_NAME, "log.syslog.severity.name", TRL_FT_KEYWORD)                        \
    X(LOG_SYSLOG_PRIORITY, "log.syslog.priority", TRL_FT_LONG)                                     \
    X(LOG_SYSLOG_APPNAME, "log.syslog.appname", TRL_FT_KEYWORD)                                    \
    X(LOG_SYSLOG_PROCID, "log.syslog.procid", TRL_FT_KEYWORD)                                      \
    X(LOG_SYSLOG_MSGID, "log.syslog.msgid", TRL_FT_KEYWORD)                                        \
    X(LOG_SYSLOG_HOSTNAME, "log.syslog.hostname", TRL_FT_KEYWORD)                                  \
    X(LOG_SYSLOG_VERSION, "log.syslog.version", TRL_FT_KEYWORD)                                    \
    X(EVENT_ID, "event.id", TRL_FT_KEYWORD)                                                        \
    X(EVENT_ORIGINAL, "event.original", TRL_FT_TEXT)                                               \
    X(EVENT_CREATED, "event.created", TRL_FT_DATE)                                                 \
    X(EVENT_KIND, "event.kind", TRL_FT_KEYWORD)                                                    \
    X(EVENT_CATEGORY, "event.category", TRL_FT_ARRAY)                                              \
    X(EVENT_TYPE, "event.type", TRL_FT_ARRAY)                                                      \
    X(EVENT_ACTION, "event.action", TRL_FT_KEYWORD)                                                \
    X(EVENT_OUTCOME, "event.outcome", TRL_FT_KEYWORD)                                              \
    X(EVENT_CODE, "event.code", TRL_FT_KEYWORD)                                                    \
    X(EVENT_PROVIDER, "event.provider", TRL_FT_KEYWORD)                                            \
    X(EVENT_DATASET, "event.dataset", TRL_FT_KEYWORD)                                              \
    X(EVENT_MODULE, "event.module", TRL_FT_KEYWORD)                                                \
    X(EVENT_SEVERITY, "event.severity", TRL_FT_LONG)                                               \
    X(EVENT_SEQUENCE, "event.sequence", TRL_FT_LONG)                                               \
    X(EVENT_REASON, "event.reason", TRL_FT_KEYWORD)                                                \
    X(EVENT_DURATION, "event.duration", TRL_FT_LONG)                                               \
    X(PROCESS_NAME, "process.name", TRL_FT_KEYWORD)                                                \
    X(PROCESS_PID, "process.pid", TRL_FT_LONG)                                                     \
    X(PROCESS_EXECUTABLE, "process.executable", TRL_FT_KEYWORD)                                    \
    X(PROCESS_COMMAND_LINE, "process.command_line", TRL_FT_KEYWORD)                                \
    X(PROCESS_ARGS, "process.args", TRL_FT_ARRAY)                                                  \
    X(PROCESS_ARGS_COUNT, "process.args_count", TRL_FT_LONG)                                       \
    X(PROCESS_WORKING_DIRECTORY, "process.working_directory", TRL_FT_KEYWORD)                      \
    X(PROCESS_TITLE, "process.title", TRL_FT_KEYWORD)                                              \
    X(PROCESS_ENTITY_ID, "process.entity_id", TRL_FT_KEYWORD)                                      \
    X(PROCESS_HASH_SHA256, "process.hash.sha256", TRL_FT_KEYWORD)                                  \
    X(PROCESS_USER_ID, "process.user.id", TRL_FT_KEYWORD)                                          \
    X(PROCESS_USER_NAME, "process.user.name", TRL_FT_KEYWORD)                                      \
    X(PROCESS_PARENT_PID, "process.parent.pid", TRL_FT_LONG)                                       \
    X(PROCESS_PARENT_NAME, "process.parent.name", TRL_FT_KEYWORD)                                  \
    X(PROCESS_PARENT_EXECUTABLE, "process.parent.executable", TRL_FT_KEYWORD)                      \
    X(PROCESS_PARENT_COMMAND_LINE, "process.parent.command_line", TRL_FT_KEYWORD)                  \
    X(PROCESS_PARENT_ENTITY_ID, "process.parent.entity_id", TRL_FT_KEYWORD)                        \
    X(USER_NAME, "user.name", TRL_FT_KEYWORD)                                                      \
    X(USER_ID, "user.id", TRL_FT_KEYWORD)                                                          \
    X(USER_DOMAIN, "user.domain", TRL_FT_KEYWORD)                                                  \
    X(USER_EFFECTIVE_NAME, "user.effective.name", TRL_FT_KEYWORD)                                  \
    X(USER_EFFECTIVE_ID, "user.effective.id", TRL_FT_KEYWORD)                                      \
    X(USER_TARGET_NAME, "user.target.name", TRL_FT_KEYWORD)                                        \
    X(USER_TARGET_ID, "user.target.id", TRL_FT_KEYWORD)                                            \
    X(USER_TARGET_DOMAIN, "user.target.domain", TRL_FT_KEYWORD)                                    \
    X(USER_CHANGES_NAME, "user.changes.name", TRL_FT_KEYWORD)                                      \
    X(GROUP_NAME, "group.name", TRL_FT_KEYWORD)                                                    \
    X(GROUP_ID, "group.id", TRL_FT_KEYWORD)                                                        \
    X(SOURCE_IP, "source.ip", TRL_FT_IP)                                                           \
    X(SOURCE_PORT, "source.port", TRL_FT_LONG)                                                     \
    X(SOURCE_ADDRESS, "source.address", TRL_FT_KEYWORD)                                            \
    X(SOURCE_DOMAIN, "source.domain", TRL_FT_KEYWORD)                                              \
    X(SOURCE_MAC, "source.mac", TRL_FT_KEYWORD)                                                    \
    X(SOURCE_BYTES, "source.bytes", TRL_FT_LONG)                                                   \
    X(SOURCE_USER_NAME, "source.user.name", TRL_FT_KEYWORD)                                        \
    X(DESTINATION_IP, "destination.ip", TRL_FT_IP)                                                 \
    X(DESTINATION_PORT, "destination.port", TRL_FT_LONG)                                           \
    X(DESTINATION_ADDRESS, "destination.address", TRL_FT_KEYWORD)                                  \
    X(DESTINATION_DOMAIN, "destination.domain", TRL_FT_KEYWORD)                                    \
    X(DESTINATION_BYTES, "destination.bytes", TRL_FT_LONG)                                         \
    X(NETWORK_TRANSPORT, "network.transport", TRL_FT_KEYWORD)                                      \
    X(NETWORK_PROTOCOL, "network.protocol", TRL_FT_KEYWORD)                                        \
    X(NETWORK_DIRECTION, "network.direction", TRL_FT_KEYWORD)                                      \
    X(NETWORK_TYPE, "network.type", TRL_FT_KEYWORD)                                                \
    X(NETWORK_BYTES, "network.bytes", TRL_FT_LONG)                                                 \
    X(NETWORK_PACKETS, "network.packets", TRL_FT_LONG)                                             \
    X(OBSERVER_INGRESS_INTERFACE_NAME, "observer.ingress.interface.name", TRL_FT_KEYWORD)          \
    X(OBSERVER_EGRESS_INTERFACE_NAME, "observer.egress.interface.name", TRL_FT_KEYWORD)            \
    X(OBSERVER_VENDOR, "observer.vendor", TRL_FT_KEYWORD)                                          \
    X(OBSERVER_PRODUCT, "observer.product", TRL_FT_KEYWORD)                                        \
    X(OBSERVER_VERSION, "observer.version", TRL_FT_KEYWORD)                                        \
    X(OBSERVER_HOSTNAME, "observer.hostname", TRL_FT_KEYWORD)                                      \
    X(RULE_NAME, "rule.name", TRL_FT_KEYWORD)                                                      \
    X(URL_ORIGINAL, "url.original", TRL_FT_KEYWORD)                                                \
    X(URL_PATH, "url.path", TRL_FT_KEYWORD)                                                        \
    X(URL_QUERY, "url.query", TRL_FT_KEYWORD)                                                      \
    X(URL_DOMAIN, "url.domain", TRL_FT_KEYWORD)                                                    \
    X(URL_EXTENSION, "url.extension", TRL_FT_KEYWORD)                                              \
    X(HTTP_REQUEST_METHOD, "http.request.method", TRL_FT_KEYWORD)                                  \
    X(HTTP_REQUEST_REFERRER, "http.request.referrer", TRL_FT_KEYWORD)                              \
    X(HTTP_RESPONSE_STATUS_CODE, "http.response.status_code", TRL_FT_LONG)                         \
    X(HTTP_RESPONSE_BODY_BYTES, "http.response.body.bytes", TRL_FT_LONG)                           \
    X(HTTP_VERSION, "http.version", TRL_FT_KEYWORD)                                                \
    X(USER_AGENT_ORIGINAL, "user_agent.original", TRL_FT_KEYWORD)                                  \
    X(FILE_PATH, "file.path", TRL_FT_KEYWORD)                                                      \
    X(FILE_NAME, "file.name", TRL_FT_KEYWORD)                                                      \
    X(FILE_DIRECTORY, "file.directory", TRL_FT_KEYWORD)                                            \
    X(FILE_EXTENSION, "file.extension", TRL_FT_KEYWORD)                                            \
    X(FILE_INODE, "file.inode", TRL_FT_KEYWORD)                                                    \
    X(FILE_MODE, "file.mode", TRL_FT_KEYWORD)                                                      \
    X(FILE_OWNER, "file.owner", TRL_FT_KEYWORD)                                                    \
    X(FILE_UID, "file.uid", TRL_FT_KEYWORD)                                                        \
    X(FILE_GID, "file.gid", TRL_FT_KEYWORD)                                                        \
    X(FILE_SIZE, "file.size", TRL_FT_LONG)                                                         \
    X(FILE_MTIME, "file.mtime", TRL_FT_DATE)                                                       \
    X(FILE_HASH_SHA256, "file.hash.sha256", TRL_FT_KEYWORD)                                        \
    X(FILE_TYPE, "file.type", TRL_FT_KEYWORD)                                                      \
    X(SERVICE_NAME, "service.name", TRL_FT_KEYWORD)                                                \
    X(SERVICE_TYPE, "service.type", TRL_FT_KEYWORD)                                                \
    X(WINLOG_CHANNEL, "winlog.channel", TRL_FT_KEYWORD)                                            \
    X(WINLOG_EVENT_ID, "winlog.event_id", TRL_FT_KEYWORD)                                          \
    X(WINLOG_PROVIDER_NAME, "winlog.provider_name", TRL_FT_KEYWORD)                                \
    X(WINLOG_COMPUTER_NAME, "winlog.computer_name", TRL_FT_KEYWORD)                                \
    X(WINLOG_RECORD_ID, "winlog.record_id", TRL_FT_KEYWORD)                                        \
    X(WINLOG_LOGON_TYPE, "winlog.logon.type", TRL_FT_KEYWORD)                                      \
    X(WINLOG_LOGON_ID, "winlog.logon.id", TRL_FT_KEYWORD)                                          \
    X(WINLOG_KEYWORDS, "winlog.keywords", TRL_FT_ARRAY)                                            \
    X(AUDITD_SEQUENCE, "auditd.log.sequence", TRL_FT_LONG)                                         \
    X(AUDITD_RECORD_TYPE, "auditd.log.record_type", TRL_FT_KEYWORD)                                \
    X(AUDITD_RECORD_TYPES, "auditd.log.record_types", TRL_FT_ARRAY)                                \
    X(AUDITD_KEY, "auditd.log.key", TRL_FT_KEYWORD)                                                \
    X(AUDITD_SYSCALL, "auditd.log.syscall", TRL_FT_KEYWORD)                                        \
    X(AUDITD_AUID, "auditd.log.auid", TRL_FT_KEYWORD)                                              \
    X(AUDITD_SES, "auditd.log.ses", TRL_FT_KEYWORD)                                                \
    X(AUDITD_TTY, "auditd.log.tty", TRL_FT_KEYWORD)                                                \
    X(RELATED_IP, "related.ip", TRL_FT_ARRAY)                                                      \
    X(RELATED_USER, "related.user", TRL_FT_ARRAY)                                                  \
    X(RELATED_HASH, "related.hash", TRL_FT_ARRAY)                                                  \
    X(ERROR_MESSAGE, "error.message", TRL_FT_KEYWORD)

enum trl_field {
    TRL_F_NONE = 0, /* a dynamic field, addressed by name */
#define TRL_FIELD_ENUM(id, name, type) TRL_F_##id,
    TRL_FIELD_LIST(TRL_FIELD_ENUM)
#undef TRL_FIELD_ENUM
        TRL_F__COUNT
};

struct trl_field_info {
    const char *name;
    size_t name_len;
    enum trl_field_type type;
};

/* Information for a known field; f must be in (TRL_F_NONE, TRL_F__COUNT). */
const struct trl_field_info *trl_field_info(enum trl_field f);
/* Looks a dotted name up; TRL_F_NONE when it is not a known field. */
enum trl_field trl_field_lookup(const char *name, size_t len);

#endif
