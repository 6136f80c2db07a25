/* Helpers shared by the agent's unit tests: scratch directories and small file operations. */
#ifndef TRL_TEST_AGENT_UTIL_H
#define TRL_TEST_AGENT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline int agent_test_rm_cb(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Creates a fresh scratch directory; the caller frees the result after agent_test_rmdir(). */
static inline char *agent_test_mkdtemp(void)
{
    char tmpl[] = "/tmp/trl-agent-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void agent_test_rmdir(char *dir)
{
    if (dir)
        nftw(dir, agent_test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* "dir/name" in a static rotation of buffers (tests only). */
static inline const char *agent_test_path(const char *dir, const char *name)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    size_t n = strlen(dir);
    if (n + 1 + strlen(name) >= sizeof(bufs[0]))
        abort();
    memcpy(b, dir, n);
    b[n] = '/';
    strcpy(b + n + 1, name);
    return b;
}

static inline void agent_test_write(const char *path, const char *mode, const void *data,
                                    size_t len)
{
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        abort();
    }
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

static inline void agent_test_append(const char *path, const char *text)
{
    agent_test_write(path, "a", text, strlen(text));
}

static inline off_t agent_test_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static inline void agent_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#endif
