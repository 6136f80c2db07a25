#include "trl_test.h"

#include "core/drop_behind.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define CHUNK (1u << 20)

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "/var/tmp/trl-drop-behind.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

/* Pages of [off, off + len) of fd in the page cache, by mincore() over a mapping of them. */
static size_t resident_pages(int fd, off_t off, size_t len)
{
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
    assert_true(m != MAP_FAILED);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, in = 0;
    unsigned char *vec = malloc(n);
    assert_int_equal(mincore(m, len, vec), 0);
    for (size_t i = 0; i < n; i++)
        in += vec[i] & 1;
    free(vec);
    munmap(m, len);
    return in;
}

/* The test file opened for appending and followed by d; skips the test where the file lives in
 * memory (tmpfs), whose pages cannot leave the cache. */
static int open_stream(struct trl_drop_behind *d)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    struct statfs fs;
    assert_int_equal(fstatfs(fd, &fs), 0);
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
        printf("skipped: %s is in memory, its pages cannot leave the cache\n", path);
        close(fd);
        skip();
    }
    trl_drop_behind_init(d, fd);
    return fd;
}

/* After six windows streamed, the first ones are out of the page cache, the last two are in, and
 * every byte is in the file. */
static void test_drop_behind_drops_old_windows(void **state)
{
    (void)state;
    struct trl_drop_behind d;
    int fd = open_stream(&d);
    assert_true(d.on);
    char *chunk = malloc(CHUNK);
    size_t total = 6 * (size_t)TRL_DROP_BEHIND_WINDOW;
    for (size_t w = 0; w < total; w += CHUNK) {
        memset(chunk, 'a' + (int)(w / TRL_DROP_BEHIND_WINDOW), CHUNK);
        assert_int_equal(trl_write_all(fd, chunk, CHUNK), 0);
        trl_drop_behind_wrote(&d, CHUNK);
    }
    close(fd);
    assert_true(d.dropped >= 3 * (uint64_t)TRL_DROP_BEHIND_WINDOW);

    int rfd = open(path, O_RDONLY);
    assert_true(rfd >= 0);
    struct stat st;
    assert_int_equal(fstat(rfd, &st), 0);
    assert_int_equal((size_t)st.st_size, total);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t window_pages = TRL_DROP_BEHIND_WINDOW / page;
    /* The first window was dropped; the last was written and never dropped. */
    assert_true(resident_pages(rfd, 0, TRL_DROP_BEHIND_WINDOW) < window_pages / 8);
    assert_true(resident_pages(rfd, (off_t)(total - TRL_DROP_BEHIND_WINDOW),
                               TRL_DROP_BEHIND_WINDOW) > window_pages / 2);
    /* And the bytes are all there. */
    for (size_t w = 0; w < total; w += CHUNK) {
        assert_int_equal(pread(rfd, chunk, CHUNK, (off_t)w), (ssize_t)CHUNK);
        char want = (char)('a' + (int)(w / TRL_DROP_BEHIND_WINDOW));
        assert_true(chunk[0] == want && chunk[CHUNK - 1] == want);
    }
    close(rfd);
    free(chunk);
}

/* Truncated under the writer (copytruncate), the file is followed from its new end: the windows
 * written after the truncation leave the cache as the first ones did. */
static void test_drop_behind_follows_truncation(void **state)
{
    (void)state;
    struct trl_drop_behind d;
    int fd = open_stream(&d);
    char *chunk = malloc(CHUNK);
    memset(chunk, 'x', CHUNK);
    for (size_t w = 0; w < 4 * (size_t)TRL_DROP_BEHIND_WINDOW; w += CHUNK) {
        assert_int_equal(trl_write_all(fd, chunk, CHUNK), 0);
        trl_drop_behind_wrote(&d, CHUNK);
    }
    assert_int_equal(ftruncate(fd, 0), 0);
    size_t total = 5 * (size_t)TRL_DROP_BEHIND_WINDOW;
    for (size_t w = 0; w < total; w += CHUNK) {
        assert_int_equal(trl_write_all(fd, chunk, CHUNK), 0);
        trl_drop_behind_wrote(&d, CHUNK);
    }
    close(fd);
    assert_true(d.end == total);
    int rfd = open(path, O_RDONLY);
    assert_true(rfd >= 0);
    size_t window_pages = TRL_DROP_BEHIND_WINDOW / (size_t)sysconf(_SC_PAGESIZE);
    assert_true(resident_pages(rfd, 0, TRL_DROP_BEHIND_WINDOW) < window_pages / 8);
    close(rfd);
    free(chunk);
}

/* A pipe is not a file to drop pages of: nothing happens. */
static void test_drop_behind_ignores_pipes(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct trl_drop_behind d;
    trl_drop_behind_init(&d, p[1]);
    assert_false(d.on);
    trl_drop_behind_wrote(&d, 3 * (size_t)TRL_DROP_BEHIND_WINDOW);
    assert_int_equal(d.end, 0);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_drop_behind_drops_old_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_behind_follows_truncation, setup, teardown),
        cmocka_unit_test(test_drop_behind_ignores_pipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
