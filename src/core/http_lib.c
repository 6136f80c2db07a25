/*
 * libcurl loaded on first use (see http_lib.h), through the generic loader (core/dynlib.h). The
 * two functions needed only to check and set the library up, curl_version_info() and
 * curl_global_init(), are resolved with the rest but kept out of the public table.
 */
#include "core/http_lib.h"
#include "core/dynlib.h"
#include "core/util.h"

#include <stdio.h>

/* CURLOPT_PROTOCOLS_STR, which every caller sets to limit the schemes, came with 7.85.0. */
#define CURL_MIN_VERSION      0x075500
#define CURL_MIN_VERSION_TEXT "7.85.0"

struct curl_table {
    struct trl_curl api;
    curl_version_info_data *(*version_info)(CURLversion v);
    CURLcode (*global_init)(long flags);
};

#define SYM(member, name) TRL_DYNLIB_SYM(struct curl_table, member, name)
static const struct trl_dynlib_sym syms[] = {
    SYM(version_info, "curl_version_info"),
    SYM(global_init, "curl_global_init"),
    SYM(api.easy_init, "curl_easy_init"),
    SYM(api.easy_setopt, "curl_easy_setopt"),
    SYM(api.easy_perform, "curl_easy_perform"),
    SYM(api.easy_getinfo, "curl_easy_getinfo"),
    SYM(api.easy_reset, "curl_easy_reset"),
    SYM(api.easy_cleanup, "curl_easy_cleanup"),
    SYM(api.easy_strerror, "curl_easy_strerror"),
    SYM(api.easy_escape, "curl_easy_escape"),
    SYM(api.easy_header, "curl_easy_header"),
    SYM(api.slist_append, "curl_slist_append"),
    SYM(api.slist_free_all, "curl_slist_free_all"),
    SYM(api.free, "curl_free"),
    SYM(api.url, "curl_url"),
    SYM(api.url_cleanup, "curl_url_cleanup"),
    SYM(api.url_set, "curl_url_set"),
    SYM(api.url_get, "curl_url_get"),
};
#undef SYM

static int check(void *table, char *err, size_t errlen)
{
    struct curl_table *t = table;
    const curl_version_info_data *v = t->version_info(CURLVERSION_NOW);
    if (!v || v->version_num < CURL_MIN_VERSION) {
        snprintf(err, errlen, "%s is libcurl %s: version %s or newer is needed", TRL_CURL_SONAME,
                 v && v->version ? v->version : "(unknown)", CURL_MIN_VERSION_TEXT);
        return TRL_EINVAL;
    }
    /* The library is loaded once and never unloaded, so its global state is set up once too. */
    if (t->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return TRL_EINVAL;
    }
    return 0;
}

static struct curl_table table;
static struct trl_dynlib lib = {
    .soname = TRL_CURL_SONAME,
    .package = "libcurl4",
    .syms = syms,
    .nsyms = TRL_ARRAY_LEN(syms),
    .table = &table,
    .check = check,
    TRL_DYNLIB_STATE,
};

const struct trl_curl *trl_curl_get(char *err, size_t errlen)
{
    return trl_dynlib_load(&lib, err, errlen) == 0 ? &table.api : NULL;
}
