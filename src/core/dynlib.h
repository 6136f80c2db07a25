/*
 * A shared library opened with dlopen() the first time it is needed. Some libraries are used by
 * a few commands only (libcurl by the alert outputs and the TAXII client, libmicrohttpd by the
 * HTTPS servers, Vectorscan by the detection engine), yet linking them makes every command, the
 * endpoint agent included, load them and their dependencies and run their initialisers at
 * start-up. A module that wraps such a library describes it with a struct trl_dynlib: its soname,
 * the Debian package that installs it, the functions to resolve and where each address goes in the
 * module's table of function pointers, and an optional check run once they are resolved.
 *
 * trl_dynlib_load() loads the library once per process, whichever thread calls it first, and
 * later calls return at once with the same result; the library stays loaded until the process
 * exits. The description and its table are static storage owned by the wrapping module and written
 * only by that first load. Any thread may call trl_dynlib_load(), concurrently too.
 */
#ifndef TRL_DYNLIB_H
#define TRL_DYNLIB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

/* A function to resolve: its exported name and the offset of its pointer in the table. */
struct trl_dynlib_sym {
    const char *name;
    size_t offset;
};

/* An entry of a symbol list: type is the table's type, member the pointer the name resolves to. */
#define TRL_DYNLIB_SYM(type, member, name)                                                         \
    {                                                                                              \
        (name), offsetof(type, member)                                                             \
    }

struct trl_dynlib {
    /* Filled in by the wrapping module. */
    const char *soname;  /* as passed to dlopen(), e.g. "libcurl.so.4" */
    const char *package; /* the Debian package that installs it, named in errors */
    const struct trl_dynlib_sym *syms;
    size_t nsyms;
    void *table; /* where the addresses go, at each symbol's offset */
    /* Run once every symbol is resolved, with the table filled in: 0 when the library is fit for
     * use, or a negative error code after writing why into err. May be NULL. */
    int (*check)(void *table, char *err, size_t errlen);

    /* The state of the load, private to dynlib.c. */
    pthread_mutex_t lock;
    atomic_int state;
    char err[256];
};

/* The initialiser of a struct trl_dynlib's private state. */
#define TRL_DYNLIB_STATE .lock = PTHREAD_MUTEX_INITIALIZER, .state = 0

/*
 * Loads lib on the first call and returns 0 when its table is filled in. Otherwise returns
 * -ENOENT on this and every later call, and writes into err (when not NULL) what failed: the
 * library that could not be opened, the function it lacks or what the check found, and the
 * package to install.
 */
int trl_dynlib_load(struct trl_dynlib *lib, char *err, size_t errlen);

#endif
