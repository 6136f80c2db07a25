/*
 * Vectorscan (libhs), loaded when the Sigma rules are first compiled. Only the detection engine
 * uses it, as a prefilter, yet linking it made every command, the endpoint agent included, load
 * it and the C++ runtime it depends on. trl_hs_get() opens libhs.so.5 on its first call and
 * resolves the functions Trapline uses; the library then stays loaded until the process exits.
 * When it cannot be loaded the rules run without the prefilter, as they do when it fails.
 *
 * The table returned is immutable and lives as long as the process: callers keep the pointer and
 * never free it. Any thread may call trl_hs_get(), concurrently too.
 */
#ifndef TRL_HS_LIB_H
#define TRL_HS_LIB_H

#include <hs.h>
#include <stddef.h>

/* The Vectorscan functions Trapline calls, named after them without the "hs_" prefix. */
struct trl_hs {
    __typeof__(hs_compile_lit_multi) *compile_lit_multi;
    __typeof__(hs_free_compile_error) *free_compile_error;
    __typeof__(hs_free_database) *free_database;
    __typeof__(hs_alloc_scratch) *alloc_scratch;
    __typeof__(hs_free_scratch) *free_scratch;
    __typeof__(hs_scan) *scan;
};

/* The library's soname, as opened. */
#define TRL_HS_SONAME "libhs.so.5"

/* Returns Vectorscan's functions, loading the library on the first call. NULL when it cannot be
 * loaded: err then says why, on every call. */
const struct trl_hs *trl_hs_get(char *err, size_t errlen);
/* The table, once a database was compiled with it (trl_hs_get() returned it). */
const struct trl_hs *trl_hs(void);

#endif
