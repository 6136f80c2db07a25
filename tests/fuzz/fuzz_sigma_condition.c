/* Fuzzes the Sigma condition compiler with arbitrary condition text over fixed search names. */
#include "core/util.h"
#include "detect/sigma_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *names[] = {"selection", "filter_main", "filter_optional", "notepad", "sel1", "_x"};
    struct sigma_search searches[6];
    memset(searches, 0, sizeof(searches));
    for (size_t i = 0; i < 6; i++)
        searches[i].name = names[i];
    char *text = trl_xstrndup((const char *)data, size);
    char err[256];
    struct sigma_cond *c = sigma_cond_compile(text, searches, 6, err, sizeof(err));
    sigma_cond_free(c);
    free(text);
    return 0;
}
