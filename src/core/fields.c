#include "core/fields.h"

#include <stdlib.h>
#include <string.h>

static const struct trl_field_info field_table[TRL_F__COUNT] = {
    [TRL_F_NONE] = {"", 0, TRL_FT_KEYWORD},
#define TRL_FIELD_INFO(id, name, type) [TRL_F_##id] = {name, sizeof(name) - 1, type},
    TRL_FIELD_LIST(TRL_FIELD_INFO)
#undef TRL_FIELD_INFO
};

const struct trl_field_info *trl_field_info(enum trl_field f)
{
    return &field_table[f];
}

/* Lookup by name is rare on the hot path (configuration, rule compilation, JSON input of known
 * names), so a linear scan with a length check first is enough. */
enum trl_field trl_field_lookup(const char *name, size_t len)
{
    for (int f = 1; f < TRL_F__COUNT; f++) {
        if (field_table[f].name_len == len && memcmp(field_table[f].name, name, len) == 0)
            return (enum trl_field)f;
    }
    return TRL_F_NONE;
}
