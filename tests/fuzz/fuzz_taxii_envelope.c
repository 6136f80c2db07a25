/* Fuzzes the TAXII 2.1 client's envelope parser and paging decision: the input is one objects
 * envelope; its objects go through the STIX parser as a poll would hand them over, and the paging
 * state is advanced twice with it (a server answering the same page again). */
#include "ioc/feed_internal.h"
#include "ioc/taxii_client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int take(void *ud, const struct trl_ioc *ioc)
{
    (void)ud;
    if (!ioc->value || !ioc->value[0])
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_taxii_envelope env;
    char err[256];
    if (trl_taxii_envelope_parse((const char *)data, size, &env, err, sizeof(err)) != 0) {
        if (!err[0] || env.objects || env.next)
            abort();
        return 0;
    }
    if (!json_is_array(env.objects) || (env.next && strlen(env.next) > TRL_TAXII_TOKEN_MAX))
        abort();
    struct trl_ioc_sink sink = {.indicator = take};
    trl_ioc_parse_stix_objects(env.objects, NULL, &sink);

    struct trl_taxii_pager p;
    trl_taxii_pager_init(&p, "2024-07-09T00:00:00Z");
    /* The date header comes from the same input, as a hostile server would choose it. */
    const char *hdr = env.next;
    int rc = trl_taxii_pager_advance(&p, &env, hdr, err, sizeof(err));
    if (rc == 1)
        rc = trl_taxii_pager_advance(&p, &env, hdr, err, sizeof(err));
    if (rc == 1 && !p.next && !p.added_after)
        abort();
    trl_taxii_pager_clear(&p);
    trl_taxii_envelope_clear(&env);
    return 0;
}
