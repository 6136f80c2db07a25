/* The fixture of unit tests that write stores: a fresh directory (dir) and an arena for events,
 * made before each test (cmocka's setup) and removed after it (teardown). Include once per test
 * file. */
#ifndef TRL_STORE_DIR_FIXTURE_H
#define TRL_STORE_DIR_FIXTURE_H

#include "store_testutil.h"

static char *dir;
static struct trl_arena *arena;

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp();
    arena = trl_arena_create(1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trl_arena_destroy(arena);
    tu_rmrf(dir);
    return 0;
}

#endif
