/*
 * Fuzzes the server's enrollment request handler (ENROLL_REQ JSON) against a scratch data
 * directory with a real CA and agent registry. The first input byte chooses the mode: even, the
 * rest is the request as received; odd, every "@TOKEN@" in the rest is first replaced by a fresh
 * valid token, so the fuzzer also reaches the certificate signing request checks and signing.
 * Whatever the input, the handler must answer with JSON and neither crash nor leak.
 */
#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "server/agent_registry.h"
#include "server/enroll.h"
#include "server/enroll_token.h"
#include "server/pki.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct trl_pki_paths pki;
static struct trl_agent_registry *reg;

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (e->d_type == DT_DIR)
            remove_tree(p);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

static void cleanup(void)
{
    trl_agent_registry_close(reg);
    remove_tree(dir);
}

static void init(void)
{
    trl_log_set_level(TRL_LOG_ERROR);
    snprintf(dir, sizeof(dir), "/tmp/trl-fuzz-enroll-XXXXXX");
    if (!mkdtemp(dir) || trl_pki_ensure(dir, &pki) != 0 || !(reg = trl_agent_registry_open(dir)))
        abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg)
        init();
    if (size == 0)
        return 0;
    const char *req = (const char *)data + 1;
    size_t len = size - 1;
    struct trl_buf b = {0};
    if (data[0] & 1) {
        char token[TRL_TOKEN_TEXT_MAX];
        if (trl_enroll_token_create(reg, pki.ca_cert, 600, NULL, token, sizeof(token)) != 0)
            abort();
        const char *p = req, *end = req + len, *hit;
        while ((hit = trl_memstr(p, (size_t)(end - p), "@TOKEN@"))) {
            trl_buf_append(&b, p, (size_t)(hit - p));
            trl_buf_puts(&b, token);
            p = hit + 7;
        }
        trl_buf_append(&b, p, (size_t)(end - p));
        req = b.data ? b.data : "";
        len = b.len;
    }
    char *resp = NULL;
    trl_enroll_handle_json(reg, &pki, req, len, &resp);
    if (!resp || resp[0] != '{')
        abort();
    free(resp);
    trl_buf_free(&b);
    return 0;
}
