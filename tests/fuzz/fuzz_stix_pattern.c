/* Fuzzes the STIX pattern parser and the extraction of per-event indicators from what parses. */
#include "ioc/stix_pattern.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_stix_pattern *pat = NULL;
    char err[256];
    if (trl_stix_pattern_parse((const char *)data, size, &pat, err, sizeof(err)) == 0) {
        struct trl_stix_extract x;
        trl_stix_pattern_extract(pat, &x);
        trl_stix_pattern_free(pat);
    }
    return 0;
}
