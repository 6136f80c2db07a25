/*
 * libmicrohttpd, loaded when an HTTPS server (the web console and API, the TAXII server) is
 * first started. Linking it made every command, the endpoint agent included, load it and GnuTLS
 * with its dependencies (p11-kit, nettle, gmp, libtasn1, libunistring, ...), whose initialisers
 * run at load. trl_mhd_get() opens libmicrohttpd.so.12 on its first call and resolves the
 * functions Trapline uses; the library then stays loaded until the process exits.
 *
 * The table returned is immutable and lives as long as the process: callers keep the pointer and
 * never free it. Any thread may call trl_mhd_get(), concurrently too.
 */
#ifndef TRL_MHD_LIB_H
#define TRL_MHD_LIB_H

#include <microhttpd.h>
#include <stddef.h>

/* The libmicrohttpd functions Trapline calls, named after them without the "MHD_" prefix. */
struct trl_mhd {
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
};

/* The library's soname, as opened. */
#define TRL_MHD_SONAME "libmicrohttpd.so.12"

/* Returns libmicrohttpd's functions, loading the library on the first call. NULL when it cannot
 * be loaded: err then says why, on every call, and what to install. */
const struct trl_mhd *trl_mhd_get(char *err, size_t errlen);
/* The table, once a server started (trl_mhd_get() returned it): what request handlers call. */
const struct trl_mhd *trl_mhd(void);

#endif
