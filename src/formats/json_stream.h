/*
 * json_stream: splits a file's worth of JSON into its objects, whatever the layout people hand us:
 * one object per line, one array of objects, or pretty-printed objects one after another. Each
 * object is passed to the callback re-serialised compactly on one line, ready for trl_parse_json().
 *
 * The text passed to the callback is valid only during the call. Pure; safe from any thread.
 */
#ifndef TRL_JSON_STREAM_H
#define TRL_JSON_STREAM_H

#include <stddef.h>

/* Returns the number of objects, or a negative error after reporting "offset N: reason" in err
 * (objects before the bad one have already been passed to the callback). */
long trl_json_stream_each(const char *buf, size_t len,
                          void (*each)(void *ud, size_t index, const char *json, size_t json_len),
                          void *ud, char *err, size_t errlen);

#endif
