/* Fuzzes the Sigma rule loader (YAML, detection, modifiers, correlations, filters) and evaluates
 * whatever loads against a fixed event. */
#include "core/arena.h"
#include "core/event.h"
#include "detect/sigma.h"

#include <stdint.h>
#include <string.h>

static void ignore(void *ud, const char *file, int line, const char *rule, const char *reason,
                   bool unsupported)
{
    (void)ud, (void)file, (void)line, (void)rule, (void)reason, (void)unsupported;
}

static void on_match(void *ud, const struct trl_sigma_match *m)
{
    (void)ud, (void)m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_sigma_ruleset *rs = trl_sigma_ruleset_create();
    trl_sigma_load_buffer(rs, "fuzz.yml", (const char *)data, size, ignore, NULL);
    trl_sigma_ruleset_finalize(rs, ignore, NULL);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = trl_event_create(a, "sshd failed password", 20, 1000000000);
    trl_event_set_str(ev, TRL_F_WINLOG_EVENT_ID, "1");
    trl_event_set_str(ev, TRL_F_WINLOG_CHANNEL, "Microsoft-Windows-Sysmon/Operational");
    trl_event_set_named(ev, "winlog.event_data.CommandLine", 29, "cmd.exe /c whoami", 17);
    trl_event_set_str(ev, TRL_F_MESSAGE, "Failed password for root");
    struct trl_sigma_scratch *s = trl_sigma_scratch_create(rs);
    trl_sigma_eval(rs, s, ev, 0, on_match, NULL);
    trl_sigma_eval(rs, s, ev, 1, on_match, NULL);
    trl_sigma_scratch_destroy(s);
    trl_arena_destroy(a);
    trl_sigma_ruleset_destroy(rs);
    return 0;
}
