/*
 * assets: lookups in the table generated at build time.
 */
#include "web/assets.h"

#include <string.h>

/* Generated into the build directory by cmake/embed_assets.cmake and linked into the trapline
 * executable. The library is also linked into unit tests and fuzz targets that have no console:
 * there the weak references stay unresolved (NULL) and the table is empty. */
extern const struct trl_web_asset trl_web_assets[] __attribute__((weak));
extern const size_t trl_web_assets_len __attribute__((weak));

size_t trl_web_asset_count(void)
{
    return &trl_web_assets_len ? trl_web_assets_len : 0;
}

const struct trl_web_asset *trl_web_asset_find(const char *path)
{
    size_t n = trl_web_asset_count();
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(trl_web_assets[i].path, path))
            return &trl_web_assets[i];
    }
    return NULL;
}
