/*
 * syslog_encode: writes events (and parts of messages) in the syslog formats other collectors read:
 * RFC 5424, RFC 3164 (BSD), Snare (Epilog "GenericLog" over syslog), CEF (after an RFC 3164
 * header) and bare JSON (the event's ECS JSON, one object per message).
 *
 * The escaping helpers are the building blocks shared by every writer of such messages (the
 * agent's forwarders and the alert output): RFC 5424 header fields and SD-PARAM values, and CEF
 * header fields and extension values.
 *
 * Everything appends to the caller's buffer; nothing else is allocated. Pure functions over their
 * arguments: any thread may call them on distinct buffers.
 */
#ifndef TRL_SYSLOG_ENCODE_H
#define TRL_SYSLOG_ENCODE_H

#include "core/buf.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>

enum trl_syslog_encoding {
    TRL_ENCODE_RFC5424,
    TRL_ENCODE_RFC3164,
    TRL_ENCODE_SNARE,
    TRL_ENCODE_CEF,
    TRL_ENCODE_JSON,
};

/* "rfc5424", "rfc3164", "snare", "cef", "json"; NULL-terminated, in enum order. */
extern const char *const trl_syslog_encoding_names[];

/* An RFC 5424 header field (HOSTNAME, APP-NAME, PROCID, MSGID): printable US-ASCII without
 * spaces, at most max bytes; other bytes become '_', an empty value is the NILVALUE '-'. */
void trl_syslog_put_header_field(struct trl_buf *b, const char *s, size_t len, size_t max);
/* An RFC 5424 SD-PARAM value, without its quotes: '"', '\' and ']' are escaped. */
void trl_syslog_put_sd_value(struct trl_buf *b, const char *s, size_t len);
/* A CEF header field (header: '|' and '\' escaped, line breaks become spaces) or extension value
 * ('=' and '\' escaped, line breaks written as \n and \r). */
void trl_cef_put_escaped(struct trl_buf *b, const char *s, size_t len, bool header);

/* Appends ev as one message in format enc, without framing or a trailing newline. hostname is
 * the sender's name, used when the event has no host.name. json is the event's ECS JSON when the
 * caller already has it (NULL: encoded here when needed). now_ns stands in for an event without a
 * timestamp. Line breaks inside the message text become spaces, so that a message is always one
 * line. */
void trl_syslog_encode_event(struct trl_buf *out, const struct trl_event *ev,
                             enum trl_syslog_encoding enc, const char *hostname, const char *json,
                             size_t json_len, int64_t now_ns);

#endif
