/* Unit tests for the per-listener counters that GET /metrics reads (server/server.h). */
#include "server/server.h"
#include "trl_test.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void test_counters_slot_claims_once_per_kind_and_address(void **state)
{
    (void)state;
    struct trl_server_counters *c = calloc(1, sizeof(*c));
    struct trl_listener_counters *udp = trl_server_counters_slot(c, "udp", "127.0.0.1:514");
    struct trl_listener_counters *tcp = trl_server_counters_slot(c, "tcp", "127.0.0.1:514");
    assert_non_null(udp);
    assert_non_null(tcp);
    assert_ptr_not_equal(udp, tcp);
    assert_string_equal(udp->kind, "udp");
    assert_string_equal(udp->address, "127.0.0.1:514");
    assert_int_equal(atomic_load(&udp->state), TRL_COUNTERS_USED);
    /* A listener bound again on the same address (a reload) counts on in the same slot. */
    atomic_fetch_add(&udp->msgs, 7);
    struct trl_listener_counters *again = trl_server_counters_slot(c, "udp", "127.0.0.1:514");
    assert_ptr_equal(again, udp);
    assert_int_equal(atomic_load(&again->msgs), 7);
    free(c);
}

static void test_counters_slot_null_when_full_or_no_counters(void **state)
{
    (void)state;
    assert_null(trl_server_counters_slot(NULL, "udp", "127.0.0.1:514"));
    struct trl_server_counters *c = calloc(1, sizeof(*c));
    char addr[64];
    for (int i = 0; i < TRL_SERVER_COUNTER_SLOTS; i++) {
        snprintf(addr, sizeof(addr), "10.0.0.1:%d", 1000 + i);
        assert_non_null(trl_server_counters_slot(c, "tcp", addr));
    }
    assert_null(trl_server_counters_slot(c, "tcp", "10.0.0.2:1"));
    /* Those already claimed are still found. */
    assert_non_null(trl_server_counters_slot(c, "tcp", "10.0.0.1:1000"));
    free(c);
}

static void test_counters_slot_cuts_long_names(void **state)
{
    (void)state;
    struct trl_server_counters *c = calloc(1, sizeof(*c));
    char longaddr[200];
    memset(longaddr, 'a', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';
    struct trl_listener_counters *s = trl_server_counters_slot(c, "agent-listener", longaddr);
    assert_non_null(s);
    assert_int_equal(strlen(s->kind), sizeof(s->kind) - 1);
    assert_int_equal(strlen(s->address), sizeof(s->address) - 1);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_slot_claims_once_per_kind_and_address),
        cmocka_unit_test(test_counters_slot_null_when_full_or_no_counters),
        cmocka_unit_test(test_counters_slot_cuts_long_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
