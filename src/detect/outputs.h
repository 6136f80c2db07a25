/*
 * outputs: delivers alerts to other systems (webhook, syslog, a program) from a disk-backed queue,
 * so that an output that is down loses nothing.
 *
 * The alert store writes each new or folded alert into the table alert_outbox of alerts.db in the
 * same transaction as the alert (see detect/alerts.h). A delivery thread reads that table in id
 * order and hands every row to each configured output. Each output keeps its own state in the
 * table alert_output_state: a cursor (the last row it delivered), the number of failed attempts
 * at the next row and when to try again. A failure is retried after 1s, 2s, 4s ... up to the
 * maximum backoff, without holding up the other outputs; rows every configured output has
 * delivered are deleted. The state survives restarts: what was not delivered is sent when the
 * next process opens the same data directory.
 *
 * Ownership: struct trl_outputs owns its outputs, its SQLite handle and its thread. Strings in the
 * configuration are copied. Threads: create, notify and destroy from one thread (the detector's);
 * the outputs' deliver functions run only on the delivery thread (or the caller of
 * trl_outputs_pump() when no thread is started).
 */
#ifndef TRL_OUTPUTS_H
#define TRL_OUTPUTS_H

#include "core/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_syslog_format {
    TRL_SYSLOG_RFC5424,
    TRL_SYSLOG_CEF,
};

enum trl_email_starttls {
    TRL_EMAIL_STARTTLS_REQUIRED,
    TRL_EMAIL_STARTTLS_OPTIONAL,
    TRL_EMAIL_STARTTLS_OFF,
};

struct trl_outputs_config {
    const char *data_dir; /* where alerts.db lives (the alert store must have created it) */
    const char *webhook_url;
    const char *webhook_secret;
    const char *webhook_ca;
    bool webhook_verify_tls;
    int64_t webhook_timeout_ms;
    const char *syslog_target; /* udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT */
    enum trl_syslog_format syslog_format;
    const char *syslog_ca;
    const char *const *exec_argv;
    size_t exec_argc;
    int64_t exec_timeout_ms;
    const char *email_url; /* smtp://HOST:PORT or smtps://HOST:PORT */
    const char *email_from;
    const char *const *email_to;
    size_t email_nto;
    const char *email_username; /* NULL or "": no SMTP AUTH */
    const char *email_password;
    enum trl_email_starttls email_starttls;
    const char *email_subject; /* template, see trl_email_format_subject() */
    int64_t email_timeout_ms;
    int64_t backoff_initial_ms; /* 0 = 1000 */
    int64_t backoff_max_ms;     /* 0 = 300000 */
    int64_t drain_timeout_ms;   /* how long destroy keeps delivering what is queued */
};

/* One queued alert, as handed to an output. alert is the parsed body; all are valid during the
 * deliver call only. */
struct trl_outbox_item {
    int64_t id;
    int64_t alert_id;
    const char *body;
    size_t len;
    json_t *alert;
};

/* An output. deliver returns 0 when the alert was accepted, or a negative error with a reason in
 * err; it is called again for the same item later. */
struct trl_output {
    const char *name; /* unique among the outputs: the key of its state */
    int (*deliver)(struct trl_output *o, const struct trl_outbox_item *it, char *err,
                   size_t errlen);
    void (*destroy)(struct trl_output *o);
};

struct trl_config;
/* Fills out from Trapline's configuration (alerts.*); out points into cfg, which must outlive it.
 */
void trl_outputs_config_from(struct trl_outputs_config *out, const struct trl_config *cfg);

/* True when the configuration names at least one output. */
bool trl_outputs_configured(const struct trl_outputs_config *c);

/* Builds the configured outputs, opens the queue and starts the delivery thread. Returns NULL
 * (after logging why) when an output's settings are unusable or alerts.db cannot be opened. */
struct trl_outputs *trl_outputs_create(const struct trl_outputs_config *c);
/* Same with the given outputs (ownership passes, also on failure); start_thread false leaves
 * delivery to trl_outputs_pump(). */
struct trl_outputs *trl_outputs_create_with(const struct trl_outputs_config *c,
                                            struct trl_output **outs, size_t nouts,
                                            bool start_thread);
/* Tells the delivery thread that new rows were committed. */
void trl_outputs_notify(struct trl_outputs *o);
/* Delivers what is due now. Returns the milliseconds until the next attempt is due, 0 when an
 * output can go on at once, or -1 when nothing is queued. */
int64_t trl_outputs_pump(struct trl_outputs *o);
/* Stops the thread after delivering what is queued, for at most the drain timeout; what is left
 * stays queued on disk. NULL-safe. */
void trl_outputs_destroy(struct trl_outputs *o);

/* The outputs. Each returns NULL after logging why when its settings are unusable. */
struct trl_output *trl_output_webhook_create(const struct trl_outputs_config *c);
struct trl_output *trl_output_syslog_create(const struct trl_outputs_config *c);
struct trl_output *trl_output_exec_create(const struct trl_outputs_config *c);
struct trl_output *trl_output_email_create(const struct trl_outputs_config *c);

/* The X-Trapline-Signature value of a webhook body: "sha256=" and the lower-case hex HMAC-SHA256
 * of the body keyed with secret. out must hold TRL_SIGNATURE_MAX bytes. */
#define TRL_SIGNATURE_MAX 72
void trl_webhook_signature(const char *secret, const void *body, size_t len, char *out);

/* Appends one syslog message for the alert (RFC 5424; CEF inside an RFC 5424 header), without
 * framing. hostname is the sender's, now_ns the message time. */
void trl_syslog_format_alert(struct trl_buf *out, const struct trl_outbox_item *it,
                             enum trl_syslog_format fmt, const char *hostname, int64_t now_ns);

/* A one-line summary of some of the alert's events (time, host, action, source, user and
 * message), looked up in the event store, by event.id; NULL lines are events not found. */
#define TRL_EMAIL_MAX_EVENTS 10
struct trl_email_events {
    const char *ids[TRL_EMAIL_MAX_EVENTS];
    char *lines[TRL_EMAIL_MAX_EVENTS];
    size_t n;
};

/* Appends the alert mail (RFC 5322 headers, CRLF line ends, a plain-text body) for the alert.
 * subject_tpl is the subject template ({title}, {level}, {rule_id}, {host}, {id}, {count}); to
 * lists the recipients; hostname names this host in the Message-ID; now_ns is the Date; events
 * (may be NULL) summarises events by id. Every value from the alert is cleaned of control
 * characters, so no header can be injected. */
void trl_email_format_message(struct trl_buf *out, const struct trl_outbox_item *it,
                              const char *from, const char *const *to, size_t nto,
                              const char *subject_tpl, const char *hostname, int64_t now_ns,
                              const struct trl_email_events *events);

#endif
