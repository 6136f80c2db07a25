/* The agent's network process (agent/privsep_net.h) loads the TLS files itself, so that the agent
 * never initialises OpenSSL: it starts once they are loaded, and a file it cannot load stops the
 * start with an error that names it, as the agent's own loading did. */
#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/privsep_net.h"
#include "core/log.h"
#include "core/util.h"
#include "server/pki.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

struct fixture {
    char *dir;
    struct trl_pki_paths pki;
    struct trl_privsep_user user;
    char missing[4200];
};

static int setup(void **state)
{
    trl_log_set_level(TRL_LOG_ERROR);
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    assert_int_equal(trl_pki_ensure(f->dir, &f->pki), 0);
    assert_int_equal(trl_privsep_lookup("nobody", &f->user), 0);
    snprintf(f->missing, sizeof(f->missing), "%s/agent.crt", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

static struct trl_netproc_config config(const struct fixture *f)
{
    /* The server's own certificate and key stand for an agent identity: a pair signed by the CA. */
    return (struct trl_netproc_config){.server_host = "127.0.0.1",
                                       .server_port = "1",
                                       .server_ca = f->pki.ca_cert,
                                       .server_cert = f->pki.server_cert,
                                       .server_key = f->pki.server_key,
                                       .user = &f->user};
}

static void test_starts_once_its_tls_identity_is_loaded(void **state)
{
    struct fixture *f = *state;
    struct trl_netproc_config c = config(f);
    struct trl_netproc *np = NULL;
    char err[400] = "";
    assert_int_equal(trl_netproc_start(&c, &np, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    pid_t first = trl_netproc_pid(np);
    assert_true(first > 0);
    assert_int_equal(kill(first, 0), 0);
    /* A restart reaps the old process and waits for the new one the same way. */
    assert_int_equal(trl_netproc_restart(np, err, sizeof(err)), 0);
    assert_true(trl_netproc_pid(np) > 0);
    assert_int_not_equal(trl_netproc_pid(np), first);
    trl_netproc_destroy(np);
}

static void test_missing_identity_stops_the_start_and_names_the_file(void **state)
{
    struct fixture *f = *state;
    struct trl_netproc_config c = config(f);
    c.server_cert = f->missing;
    struct trl_netproc *np = NULL;
    char err[400] = "";
    assert_int_equal(trl_netproc_start(&c, &np, err, sizeof(err)), TRL_ECONFIG);
    assert_null(np);
    assert_non_null(strstr(err, "cannot load the agent's identity (enroll first): "));
    assert_non_null(strstr(err, f->missing));
    /* The child that said so was reaped. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_unreadable_forwarder_ca_stops_the_start(void **state)
{
    struct fixture *f = *state;
    struct trl_forward_config fwd = {.name = "siem",
                                     .host = "127.0.0.1",
                                     .port = 6514,
                                     .transport = TRL_FWD_TLS,
                                     .tls_ca = "/nonexistent/ca.pem"};
    struct trl_netproc_config c = config(f);
    c.fwd = &fwd;
    c.nfwd = 1;
    struct trl_netproc *np = NULL;
    char err[400] = "";
    assert_int_equal(trl_netproc_start(&c, &np, err, sizeof(err)), TRL_ECONFIG);
    assert_null(np);
    assert_non_null(strstr(err, "forwarder siem: cannot load the CA file"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_starts_once_its_tls_identity_is_loaded),
        T(test_missing_identity_stops_the_start_and_names_the_file),
        T(test_unreadable_forwarder_ca_stops_the_start),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
