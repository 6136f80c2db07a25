/*
 * assets: the files of the web console (web/console) and the OpenAPI document (web/openapi.json),
 * compiled into the binary by cmake/embed_assets.cmake as a table of {path, type, bytes, gzip
 * bytes}. Lookups are exact matches on the table's paths, so no request can reach a file that is
 * not in it. Read-only; any thread.
 */
#ifndef TRL_WEB_ASSETS_H
#define TRL_WEB_ASSETS_H

#include <stddef.h>

struct trl_web_asset {
    const char *path;  /* "index.html", "assets/app.js", "api/openapi.json" */
    const char *ctype; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* the same bytes gzip-compressed */
    size_t gz_len;
};

/* The asset at exactly this path, or NULL. */
const struct trl_web_asset *trl_web_asset_find(const char *path);
/* How many assets the binary holds (0 when it was built without them). */
size_t trl_web_asset_count(void);

#endif
