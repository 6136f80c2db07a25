/*
 * Fuzzes the configuration loader: arbitrary bytes as a configuration file. A file that loads must
 * dump to YAML that loads again (the dump is what --print-config shows and what operators copy
 * into their files). The input is also split at its first newline into a key and a value for
 * trl_config_set(), the path command-line flags take. Everything is freed: LeakSanitizer checks.
 */
#include "core/config.h"
#include "core/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_dump_reloads(const struct trl_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    trl_config_dump(c, f);
    fclose(f);
    struct trl_config again;
    char err[512];
    trl_config_defaults(&again);
    if (trl_config_load_buffer(&again, "dump", text, len, err, sizeof(err)) != 0) {
        fprintf(stderr, "dump does not load back: %s\n%s", err, text);
        abort();
    }
    trl_config_free(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_config c;
    char err[512];
    trl_config_defaults(&c);
    if (trl_config_load_buffer(&c, "fuzz.yml", (const char *)data, size, err, sizeof(err)) == 0)
        check_dump_reloads(&c);
    else if (!err[0] || strlen(err) >= sizeof(err))
        abort();
    trl_config_free(&c);

    const char *nl = memchr(data, '\n', size);
    size_t klen = nl ? (size_t)(nl - (const char *)data) : size;
    char *key = trl_xstrndup((const char *)data, klen);
    char *value = nl ? trl_xstrndup(nl + 1, size - klen - 1) : trl_xstrdup("");
    trl_config_defaults(&c);
    if (trl_config_set(&c, key, value, err, sizeof(err)) == 0)
        check_dump_reloads(&c);
    trl_config_free(&c);

    char addr[64];
    uint16_t port;
    trl_config_parse_listen(value, addr, sizeof(addr), &port);
    free(key);
    free(value);
    return 0;
}
