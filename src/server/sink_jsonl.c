#include "core/buf.h"
#include "core/drop_behind.h"
#include "core/log.h"
#include "core/util.h"
#include "formats/json_encode.h"
#include "server/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends every event of a batch as one JSON line, with a single write(2) per batch so a reader
 * never sees half a batch interleaved with another writer's output. */
struct sink_jsonl {
    struct trl_sink base; /* first member */
    int fd;
    bool owns_fd;
    struct trl_buf buf;
    struct trl_drop_behind drop; /* the output is a stream: it does not stay in the page cache */
};

static int write_out(struct sink_jsonl *j, const char *data, size_t len)
{
    int rc = trl_write_all(j->fd, data, len);
    if (rc == 0)
        trl_drop_behind_wrote(&j->drop, len);
    return rc;
}

static int jsonl_write(struct trl_sink *s, struct trl_batch *b)
{
    struct sink_jsonl *j = (struct sink_jsonl *)s;
    /* Events the pipeline already encoded go out as they are. */
    if (b->json_count == b->nevents)
        return write_out(j, b->json.data ? b->json.data : "", b->json.len);
    trl_buf_reset(&j->buf);
    for (uint32_t i = 0; i < b->nevents; i++) {
        if (!b->events[i])
            continue;
        trl_json_encode_event(b->events[i], &j->buf);
        trl_buf_putc(&j->buf, '\n');
    }
    int rc = write_out(j, j->buf.data, j->buf.len);
    /* Do not keep a huge buffer around after an unusually large batch. */
    if (j->buf.cap > (64u << 20))
        trl_buf_free(&j->buf);
    return rc;
}

static int jsonl_flush(struct trl_sink *s)
{
    (void)s;
    return 0;
}

static void jsonl_destroy(struct trl_sink *s)
{
    struct sink_jsonl *j = (struct sink_jsonl *)s;
    if (!j)
        return;
    if (j->owns_fd) {
        fdatasync(j->fd);
        close(j->fd);
    }
    trl_buf_free(&j->buf);
    free(j);
}

struct trl_sink *trl_sink_jsonl_create(const char *path)
{
    int fd = 1;
    bool owns = false;
    if (strcmp(path, "-") != 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0) {
            trl_error("output", "cannot open path=%s error=\"%s\"", path, strerror(errno));
            return NULL;
        }
        owns = true;
    }
    struct sink_jsonl *j = trl_xcalloc(1, sizeof(*j));
    j->base.write = jsonl_write;
    j->base.flush = jsonl_flush;
    j->base.destroy = jsonl_destroy;
    j->fd = fd;
    j->owns_fd = owns;
    trl_drop_behind_init(&j->drop, fd);
    return &j->base;
}
