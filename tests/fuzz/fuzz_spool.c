/*
 * Fuzzes opening a spool whose segment file holds arbitrary bytes: the checker must truncate or
 * skip whatever is not a valid record, and the spool must then read, append, acknowledge and
 * reopen without crashing or leaking. The first input byte chooses whether the next 16 bytes are
 * also written as the ack file.
 */
#include "agent/spool.h"
#include "core/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char spool_dir[128];

static void write_file(const char *name, const uint8_t *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", spool_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
}

static void clean(void)
{
    DIR *d = opendir(spool_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", spool_dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

static void remove_dirs(void)
{
    clean();
    rmdir(spool_dir);
    rmdir(dir);
}

static void drain(struct trl_spool *s)
{
    struct trl_spool_record rec;
    uint64_t last = 0;
    while (trl_spool_read(s, &rec) == 1) {
        if (rec.seq <= last)
            abort();
        last = rec.seq;
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < rec.len; i++)
            sink ^= ((const uint8_t *)rec.data)[i];
        (void)sink;
    }
    if (last)
        trl_spool_ack(s, last / 2 ? last / 2 : last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        trl_log_set_level(TRL_LOG_ERROR);
        /* tmpfs when there is one: the spool fsyncs, which on a disk would slow fuzzing to a crawl.
         */
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof(dir), "%s/trl-fuzz-spool-XXXXXX", base);
        if (!mkdtemp(dir))
            abort();
        snprintf(spool_dir, sizeof(spool_dir), "%s/spool", dir);
        mkdir(spool_dir, 0700);
        atexit(remove_dirs);
    }
    clean();
    if (size > 17 && (data[0] & 1)) {
        write_file("ack", data + 1, 16);
        data += 17;
        size -= 17;
    } else if (size > 0) {
        data++;
        size--;
    }
    write_file("00000001.seg", data, size);

    struct trl_spool_config cfg = {
        .dir = spool_dir,
        .segment_bytes = 4096,
        .max_bytes = 16384,
        .policy = TRL_SPOOL_DROP_OLDEST,
        .sync_interval_ms = 1000,
    };
    for (int round = 0; round < 2; round++) {
        struct trl_spool *s;
        if (trl_spool_create(&cfg, &s) != 0)
            break;
        drain(s);
        trl_spool_rewind(s);
        drain(s);
        static const char rec[] = "{\"event\":\"fuzz\"}";
        for (int i = 0; i < 3; i++)
            trl_spool_append(s, rec, sizeof(rec) - 1, NULL);
        drain(s);
        trl_spool_destroy(s);
    }
    clean();
    return 0;
}
