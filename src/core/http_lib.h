/*
 * libcurl, loaded when it is first needed. Only the alert outputs (webhook, email) and the TAXII
 * feed client use an HTTP or SMTP client, yet linking libcurl made every command, the endpoint
 * agent included, load it and the thirty-odd libraries it depends on (GnuTLS, Kerberos, LDAP,
 * SSH, ...) and run their initialisers at start-up. trl_curl_get() opens libcurl.so.4 on its first
 * call, resolves the functions Trapline uses and runs curl_global_init() once; the library then
 * stays loaded until the process exits.
 *
 * The table returned is immutable and lives as long as the process: callers keep the pointer and
 * never free it. Any thread may call trl_curl_get(), concurrently too.
 */
#ifndef TRL_HTTP_LIB_H
#define TRL_HTTP_LIB_H

#include <curl/curl.h>
#include <stddef.h>

/* The libcurl functions Trapline calls, named after them without the "curl_" prefix. */
struct trl_curl {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_reset)(CURL *h);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode code);
    char *(*easy_escape)(CURL *h, const char *s, int len);
    CURLHcode (*easy_header)(CURL *h, const char *name, size_t index, unsigned int origin,
                             int request, struct curl_header **hout);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    void (*free)(void *p);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *u);
    CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
    CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
};

/* The library's soname, as opened. */
#define TRL_CURL_SONAME "libcurl.so.4"

/*
 * Returns libcurl's functions, loading and initialising the library on the first call. NULL when it
 * cannot be loaded (not installed, too old, initialisation failed): err then says why, on every
 * call, and what to install.
 */
const struct trl_curl *trl_curl_get(char *err, size_t errlen);

#endif
