/*
 * parse: turns the raw bytes of one received message into a normalised event.
 *
 * trl_parse_event() is the single entry point the pipeline calls: it detects the format (or uses
 * the one forced by `ingest --format`), runs that parser over event.original, then looks inside a
 * syslog message for an embedded payload (Snare, CEF, LEEF, JSON, Linux audit, web access log) and
 * finally runs the program-specific normalisers (normalize.h). A message no parser understands is
 * still an event: flagged TRL_EVF_UNPARSED, message = the whole text, @timestamp = receive time.
 *
 * Every parser below is a pure function over a buffer: no I/O, no globals, allocations only in the
 * event's arena. Each returns 0 when it understood the input (and set ev->format for a top-level
 * format), TRL_ENOMATCH when the input is not in its format (the event is left untouched), or
 * TRL_EINVAL when it recognised the format but the input is malformed (fields it could read stay).
 * All may be called from any thread on distinct events.
 */
#ifndef TRL_PARSE_H
#define TRL_PARSE_H

#include "core/event.h"

#include <stddef.h>

enum trl_format_id {
    TRL_FORMAT_AUTO = 0,
    TRL_FORMAT_RFC3164,
    TRL_FORMAT_RFC5424,
    TRL_FORMAT_SNARE,
    TRL_FORMAT_CEF,
    TRL_FORMAT_LEEF,
    TRL_FORMAT_JSON,
    TRL_FORMAT_AUDIT,
    TRL_FORMAT_ACCESS_LOG,
    TRL_FORMAT_RAW, /* no parsing: the line is the message */
    TRL_FORMAT__COUNT
};

/* "auto", "rfc3164", "rfc5424", "snare", "cef", "leef", "json", "audit", "access", "raw". */
const char *trl_format_name(enum trl_format_id f);
/* Returns the format for a name, or -1. */
int trl_format_from_name(const char *name);

/* Parses ev->original as fmt (TRL_FORMAT_AUTO: detect) and normalises. Never fails. */
void trl_parse_event(struct trl_event *ev, enum trl_format_id fmt);
/* An event a Trapline agent already parsed and normalised, received as its ECS JSON: the fields
 * are read back as they are (no normaliser runs twice) and event.original becomes the line the
 * agent collected. Anything else is kept whole, as unparsed. */
void trl_parse_agent_event(struct trl_event *ev);

/* Top-level formats: each sees the whole message. */
int trl_parse_rfc5424(struct trl_event *ev, const char *p, size_t len);
int trl_parse_rfc3164(struct trl_event *ev, const char *p, size_t len);
int trl_parse_snare(struct trl_event *ev, const char *p, size_t len);
int trl_parse_cef(struct trl_event *ev, const char *p, size_t len);
int trl_parse_leef(struct trl_event *ev, const char *p, size_t len);
int trl_parse_json(struct trl_event *ev, const char *p, size_t len);
/* One Linux audit record ("type=SYSCALL msg=audit(1720563243.412:8801): ..."); records of one
 * serial are merged later by the audit assembler (audit_assembler.h). */
int trl_parse_audit(struct trl_event *ev, const char *p, size_t len);
/* nginx / apache combined or common access log line. */
int trl_parse_access_log(struct trl_event *ev, const char *p, size_t len);

#endif
