/* Fuzzes trl_parse_rfc3164: see syslog_fuzz.h for what is checked. */
#include "syslog_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_syslog_parser(trl_parse_rfc3164, data, size);
}
