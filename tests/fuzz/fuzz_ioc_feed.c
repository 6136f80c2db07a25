/* Fuzzes the feed parsers: format detection and parsing (auto, then every format forced), the MISP
 * manifest reader, and a matcher built from whatever indicators come out, matched against an
 * event. */
#include "core/arena.h"
#include "core/event.h"
#include "ioc/feed.h"
#include "ioc/matcher.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int add(void *ud, const struct trl_ioc *ioc)
{
    /* Everything a parser hands out must be acceptable to the matcher. */
    if (trl_ioc_builder_add(ud, ioc, NULL) != 0)
        abort();
    return 0;
}

static void problem(void *ud, size_t item, const char *reason, bool skipped)
{
    (void)ud, (void)item, (void)skipped;
    if (!reason || !*reason)
        abort();
}

static int each_uuid(void *ud, const char *uuid)
{
    (void)ud;
    return strlen(uuid) == 36 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct trl_ioc_builder *b = trl_ioc_builder_create(NULL);
    struct trl_ioc_sink sink = {.indicator = add, .problem = problem, .ud = b};
    trl_ioc_parse(TRL_IOC_FMT_AUTO, buf, size, NULL, &sink);
    /* Forced formats see input that is not theirs: the common case of a wrong --format. */
    if (size < 4096) {
        for (int f = TRL_IOC_FMT_STIX; f < TRL_IOC_FMT__COUNT; f++)
            trl_ioc_parse((enum trl_ioc_format)f, buf, size, NULL, &sink);
        if (trl_ioc_parse_misp_manifest(buf, size, each_uuid, NULL, &sink) == -1)
            abort();
    }
    struct trl_ioc_matcher *m = trl_ioc_builder_finish(b);
    struct trl_arena *a = trl_arena_create(0);
    struct trl_event *ev = trl_event_create(a, "x", 1, 1);
    trl_event_set_str(ev, TRL_F_SOURCE_IP, "203.0.113.45");
    trl_event_set_str(ev, TRL_F_URL_ORIGINAL, "http://update-cdn.example.net/u/a.sh");
    trl_event_set_str(ev, TRL_F_FILE_PATH, "/var/www/html/uploads/img/thumb.php");
    trl_event_set_named(ev, "dns.question.name", 17, "a.b.example.net", 15);
    trl_ioc_match_batch(m, &ev, 1, NULL, NULL);
    trl_ioc_enrich_event(m, ev);
    trl_arena_destroy(a);
    trl_ioc_matcher_unref(m);
    return 0;
}
