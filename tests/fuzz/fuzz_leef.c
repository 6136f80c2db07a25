/* Fuzzes trl_parse_leef: see payload_fuzz.h for what is checked. */
#include "payload_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_payload_parser(trl_parse_leef, data, size);
}
