/* The fixture of unit tests whose events live in one arena: made before each test (cmocka's setup)
 * and destroyed after it (teardown). Include once per test file. */
#ifndef TRL_ARENA_FIXTURE_H
#define TRL_ARENA_FIXTURE_H

#include "trl_test.h"

static struct trl_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = trl_arena_create(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trl_arena_destroy(arena);
    return 0;
}

#endif
