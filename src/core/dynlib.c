/*
 * Libraries opened on first use (see dynlib.h). The first caller loads the library under the
 * description's lock and publishes the outcome in its state with a release store; every later
 * caller sees it with an acquire load and never takes the lock.
 */
#include "core/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { NOT_LOADED = 0, LOADED, FAILED };

static int load(struct trl_dynlib *lib)
{
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib->err, sizeof(lib->err), "cannot load %s (%s): install the %s package",
                 lib->soname, dlerror(), lib->package);
        return -ENOENT;
    }
    for (size_t i = 0; i < lib->nsyms; i++) {
        void *p = dlsym(h, lib->syms[i].name);
        if (!p) {
            snprintf(lib->err, sizeof(lib->err),
                     "%s has no function %s: install a newer %s package", lib->soname,
                     lib->syms[i].name, lib->package);
            goto fail;
        }
        /* POSIX requires a function's address to survive the trip through void *; memcpy stores
         * it without reading the table's pointer through a pointer of another type. */
        memcpy((char *)lib->table + lib->syms[i].offset, &p, sizeof(p));
    }
    if (lib->check && lib->check(lib->table, lib->err, sizeof(lib->err)) != 0)
        goto fail;
    return 0;
fail:
    /* Nothing may call into a library about to be closed. */
    for (size_t i = 0; i < lib->nsyms; i++)
        memset((char *)lib->table + lib->syms[i].offset, 0, sizeof(void *));
    dlclose(h);
    return -ENOENT;
}

int trl_dynlib_load(struct trl_dynlib *lib, char *err, size_t errlen)
{
    int state = atomic_load_explicit(&lib->state, memory_order_acquire);
    if (state == NOT_LOADED) {
        pthread_mutex_lock(&lib->lock);
        state = atomic_load_explicit(&lib->state, memory_order_relaxed);
        if (state == NOT_LOADED) {
            state = load(lib) == 0 ? LOADED : FAILED;
            atomic_store_explicit(&lib->state, state, memory_order_release);
        }
        pthread_mutex_unlock(&lib->lock);
    }
    if (state == LOADED)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "%s", lib->err);
    return -ENOENT;
}
