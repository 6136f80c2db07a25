/*
 * drop_behind: keeps a file written as a stream from filling the page cache (see drop_behind.h).
 */
#include "core/drop_behind.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void trl_drop_behind_init(struct trl_drop_behind *d, int fd)
{
    struct stat st;
    *d = (struct trl_drop_behind){.fd = fd};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    /* Where the next write goes, without moving the descriptor's offset. */
    int flags = fcntl(fd, F_GETFL);
    off_t at = flags >= 0 && (flags & O_APPEND) ? st.st_size : lseek(fd, 0, SEEK_CUR);
    if (at < 0)
        return;
    d->on = true;
    /* What the file held before is someone else's to cache or not. */
    d->end = d->started = d->dropped = (uint64_t)at;
}

void trl_drop_behind_wrote(struct trl_drop_behind *d, size_t n)
{
    if (!d->on)
        return;
    d->end += n;
    if (d->end - d->started < TRL_DROP_BEHIND_WINDOW)
        return;
    /* The file may have been truncated (logrotate's copytruncate) or appended to by another
     * writer: after an O_APPEND write the offset is the file's end. */
    off_t at = lseek(d->fd, 0, SEEK_CUR);
    if (at >= 0) {
        if ((uint64_t)at < d->started)
            d->started = d->dropped = 0;
        d->end = (uint64_t)at;
        if (d->end - d->started < TRL_DROP_BEHIND_WINDOW)
            return;
    }
    (void)sync_file_range(d->fd, (off_t)d->started, (off_t)(d->end - d->started),
                          SYNC_FILE_RANGE_WRITE);
    d->started = d->end;
    /* Keep the window just started and the one before it: drop what is older. */
    if (d->started - d->dropped < 2 * (uint64_t)TRL_DROP_BEHIND_WINDOW)
        return;
    uint64_t upto = d->started - TRL_DROP_BEHIND_WINDOW;
    off_t off = (off_t)d->dropped, len = (off_t)(upto - d->dropped);
    /* Pages still dirty or under writeback are not dropped: wait for them first. */
    (void)sync_file_range(d->fd, off, len,
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER);
    (void)posix_fadvise(d->fd, off, len, POSIX_FADV_DONTNEED);
    d->dropped = upto;
}
