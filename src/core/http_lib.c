/*
 * libcurl loaded on first use (see http_lib.h). The loaded library is process-wide by nature, so
 * this module keeps one table and one error text, written once under pthread_once and only read
 * afterwards.
 */
#include "core/http_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

/* CURLOPT_PROTOCOLS_STR, which every caller sets to limit the schemes, came with 7.85.0. */
#define CURL_MIN_VERSION      0x075500
#define CURL_MIN_VERSION_TEXT "7.85.0"

static struct {
    pthread_once_t once;
    bool ok;
    struct trl_curl api;
    char err[256];
} lib = {.once = PTHREAD_ONCE_INIT};

static void load(void)
{
    void *h = dlopen(TRL_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib.err, sizeof(lib.err), "cannot load %s (%s): install the libcurl4 package",
                 TRL_CURL_SONAME, dlerror());
        return;
    }
    const char *missing = NULL;
    struct trl_curl *a = &lib.api;
    curl_version_info_data *(*version_info)(CURLversion) = NULL;
    CURLcode (*global_init)(long) = NULL;

#define RESOLVE(dst, name)                                                                         \
    do {                                                                                           \
        if (!missing && !((dst) = (__typeof__(dst))dlsym(h, name)))                                \
            missing = name;                                                                        \
    } while (0)
    RESOLVE(version_info, "curl_version_info");
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(a->easy_init, "curl_easy_init");
    RESOLVE(a->easy_setopt, "curl_easy_setopt");
    RESOLVE(a->easy_perform, "curl_easy_perform");
    RESOLVE(a->easy_getinfo, "curl_easy_getinfo");
    RESOLVE(a->easy_reset, "curl_easy_reset");
    RESOLVE(a->easy_cleanup, "curl_easy_cleanup");
    RESOLVE(a->easy_strerror, "curl_easy_strerror");
    RESOLVE(a->easy_escape, "curl_easy_escape");
    RESOLVE(a->easy_header, "curl_easy_header");
    RESOLVE(a->slist_append, "curl_slist_append");
    RESOLVE(a->slist_free_all, "curl_slist_free_all");
    RESOLVE(a->free, "curl_free");
    RESOLVE(a->url, "curl_url");
    RESOLVE(a->url_cleanup, "curl_url_cleanup");
    RESOLVE(a->url_set, "curl_url_set");
    RESOLVE(a->url_get, "curl_url_get");
#undef RESOLVE

    const curl_version_info_data *v = version_info ? version_info(CURLVERSION_NOW) : NULL;
    if (missing || !v || v->version_num < CURL_MIN_VERSION) {
        snprintf(lib.err, sizeof(lib.err), "%s is libcurl %s: version %s or newer is needed",
                 TRL_CURL_SONAME, v && v->version ? v->version : "(unknown)",
                 CURL_MIN_VERSION_TEXT);
        goto fail;
    }
    /* The library is loaded once and never unloaded, so its global state is set up once too. */
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(lib.err, sizeof(lib.err), "cannot initialise libcurl");
        goto fail;
    }
    lib.ok = true;
    return;
fail:
    dlclose(h);
}

const struct trl_curl *trl_curl_get(char *err, size_t errlen)
{
    pthread_once(&lib.once, load);
    if (lib.ok)
        return &lib.api;
    if (err && errlen)
        snprintf(err, errlen, "%s", lib.err);
    return NULL;
}
