#include "formats/json_stream.h"
#include "core/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static void emit(json_t *obj, size_t *index, void (*each)(void *, size_t, const char *, size_t),
                 void *ud)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return;
    each(ud, (*index)++, text, strlen(text));
    free(text);
}

long trl_json_stream_each(const char *buf, size_t len,
                          void (*each)(void *ud, size_t index, const char *json, size_t json_len),
                          void *ud, char *err, size_t errlen)
{
    size_t pos = 0, index = 0;
    for (;;) {
        while (pos < len && (buf[pos] == ' ' || buf[pos] == '\n' || buf[pos] == '\r' ||
                             buf[pos] == '\t' || buf[pos] == ','))
            pos++;
        if (pos >= len)
            break;
        json_error_t jerr;
        json_t *v =
            json_loadb(buf + pos, len - pos, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
        if (!v) {
            snprintf(err, errlen, "offset %zu: %s", pos + (size_t)jerr.position, jerr.text);
            return TRL_EINVAL;
        }
        pos += (size_t)jerr.position;
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                if (json_is_object(item))
                    emit(item, &index, each, ud);
            }
        } else if (json_is_object(v)) {
            emit(v, &index, each, ud);
        }
        json_decref(v);
    }
    return (long)index;
}
