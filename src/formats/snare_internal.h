/*
 * snare_internal: the pieces of the Snare parser (snare.c) that live in their own files: the
 * Windows event log records (snare_windows.c), the rendered Windows Security message text turned
 * back into EventData names (snare_winmsg.c) and the Linux audit records (snare_linux.c).
 *
 * snare.c finds the log type, undoes the tab escaping and splits the fields; the functions here
 * receive the fields after the log type (criticality first). Field slices point into the input or
 * into the event's arena and live as long as the arena. A value set on the event that is a slice
 * of event.original is stored by reference; any other is copied into the arena. Pure functions;
 * callable from any thread on distinct events.
 */
#ifndef TRL_SNARE_INTERNAL_H
#define TRL_SNARE_INTERNAL_H

#include "core/event.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>

/* Windows "MSWinEventLog" record in the classic tab-separated layout. Returns 0, or TRL_EINVAL when
 * fields are missing or the event ID is not a number (the fields that were read stay set). */
int trl_snare_windows(struct trl_event *ev, const struct trl_str *f, size_t n);
/* Windows record in SNARE V2 (a JSON object after the criticality). */
int trl_snare_windows_json(struct trl_event *ev, const char *json, size_t len);

/* Sets winlog.event_data.<Name> from the rendered message of a Windows event, using the EVTX
 * names of the event's EventData (SubjectUserName, TargetUserName, IpAddress, ...). Labels the
 * table does not know are left in the message only. */
void trl_snare_win_message(struct trl_event *ev, unsigned event_id, const char *msg, size_t len);

/* Linux "LinuxKAudit" record: "name,value[,value...]" tokens. */
int trl_snare_linux(struct trl_event *ev, const struct trl_str *f, size_t n);
/* Linux record in SNARE V2: {"Event":{"System":{...},"Data":{...}}}. */
int trl_snare_linux_json(struct trl_event *ev, const char *json, size_t len);

/* Helpers shared by the Snare files. */

static inline bool trl_snare_is_digits(const char *p, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
    }
    return true;
}

/* Sets a field from a slice: by reference when the slice lies in event.original, else copied. */
static inline void trl_snare_set_slice(struct trl_event *ev, enum trl_field f, const char *v,
                                       size_t len)
{
    if (trl_event_in_original(ev, v, len))
        trl_event_set_ref(ev, f, v, len);
    else
        trl_event_set(ev, f, v, len);
}

/* Sets a field from a slice unless the slice is empty. */
static inline void trl_snare_set(struct trl_event *ev, enum trl_field f, const char *v, size_t len)
{
    if (v && len > 0)
        trl_snare_set_slice(ev, f, v, len);
}

/* Sets a field only when the event does not have it yet. */
static inline void trl_snare_set_new(struct trl_event *ev, enum trl_field f, const char *v,
                                     size_t len)
{
    if (v && len > 0 && !trl_event_has(ev, f))
        trl_snare_set_slice(ev, f, v, len);
}

/* Sets a dynamic field; name is a string literal (stored by reference). */
static inline void trl_snare_set_named(struct trl_event *ev, const char *name, const char *v,
                                       size_t len)
{
    trl_event_set_named_ex(ev, name, strlen(name), v, len,
                           TRL_REF_NAME | (trl_event_in_original(ev, v, len) ? TRL_REF_VALUE : 0));
}

/* Reference time for dates without a year: the receive time, else now. */
int64_t trl_snare_ref_ns(const struct trl_event *ev);

#endif
