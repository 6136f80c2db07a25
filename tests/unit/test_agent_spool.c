#include "trl_test.h"

#include "test_agent_util.h"

#include "agent/crc32c.h"
#include "agent/spool.h"
#include "core/log.h"

#include <signal.h>
#include <sys/wait.h>

/*
 * Records are "rec-<n>" padded with '.' to a fixed size, so a test can append N records, read them
 * back and check both the sequence and the payload of each.
 */
#define PAD 1000

struct fixture {
    char *dir;
    char *spool_dir;
};

static int setup(void **state)
{
    trl_log_set_level(TRL_LOG_ERROR);
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = agent_test_mkdtemp();
    f->spool_dir = strdup(agent_test_path(f->dir, "spool"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->spool_dir);
    agent_test_rmdir(f->dir);
    free(f);
    return 0;
}

static struct trl_spool *open_spool(struct fixture *f, uint64_t max_bytes,
                                    enum trl_spool_full_policy policy)
{
    struct trl_spool_config cfg = {
        .dir = f->spool_dir,
        .segment_bytes = 4096,
        .max_bytes = max_bytes ? max_bytes : 1 << 20,
        .policy = policy,
        .sync_interval_ms = 50,
    };
    struct trl_spool *s = NULL;
    assert_int_equal(trl_spool_create(&cfg, &s), 0);
    assert_non_null(s);
    return s;
}

static void append_n(struct trl_spool *s, uint64_t first, uint64_t n)
{
    char buf[PAD];
    for (uint64_t i = first; i < first + n; i++) {
        memset(buf, '.', sizeof(buf));
        int len = snprintf(buf, sizeof(buf), "rec-%llu", (unsigned long long)i);
        buf[len] = '.';
        uint64_t seq = 0;
        assert_int_equal(trl_spool_append(s, buf, sizeof(buf), &seq), 0);
        assert_int_equal(seq, i);
    }
}

/* Reads every available record, checking that they are first, first+1, ... ; returns the count. */
static uint64_t read_expect(struct trl_spool *s, uint64_t first)
{
    struct trl_spool_record rec;
    uint64_t n = 0;
    int rc;
    while ((rc = trl_spool_read(s, &rec)) == 1) {
        char want[32];
        int wl = snprintf(want, sizeof(want), "rec-%llu.", (unsigned long long)(first + n));
        assert_int_equal(rec.seq, first + n);
        assert_int_equal(rec.len, PAD);
        assert_memory_equal(rec.data, want, (size_t)wl);
        n++;
    }
    assert_int_equal(rc, 0);
    return n;
}

static uint64_t segment_count(struct trl_spool *s)
{
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    return st.segments;
}

static const char *seg_file(struct fixture *f, unsigned id)
{
    char name[32];
    snprintf(name, sizeof(name), "%08u.seg", id);
    return agent_test_path(f->spool_dir, name);
}

static void test_crc32c_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(trl_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(trl_crc32c(0, "", 0), 0);
    /* Feeding the input in pieces gives the same result as all at once. */
    uint32_t c = trl_crc32c(0, "12345", 5);
    assert_int_equal(trl_crc32c(c, "6789", 4), 0xE3069283u);
    unsigned char zeros[32] = {0};
    assert_int_equal(trl_crc32c(0, zeros, sizeof(zeros)), 0x8A9136AAu);
}

/* The crc32 instruction and the tables agree on every length and alignment, and when a CRC is
 * continued across pieces. */
static void test_crc32c_instruction_matches_the_tables(void **state)
{
    (void)state;
    unsigned char buf[600];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n + off <= sizeof(buf); n++) {
            assert_int_equal(trl_crc32c(0, buf + off, n), trl_crc32c_portable(0, buf + off, n));
            uint32_t c = trl_crc32c(0x1234u, buf + off, n / 3);
            assert_int_equal(trl_crc32c(c, buf + off + n / 3, n - n / 3),
                             trl_crc32c_portable(trl_crc32c_portable(0x1234u, buf + off, n / 3),
                                                 buf + off + n / 3, n - n / 3));
        }
    }
    assert_int_equal(trl_crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

static void test_spool_append_read_ack_across_segments(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    /* 1016-byte records, 4096-byte segments: four records per segment, ten records in three. */
    append_n(s, 1, 10);
    assert_int_equal(segment_count(s), 3);
    assert_int_equal(read_expect(s, 1), 10);

    /* Acknowledging 5 deletes the first segment (1..4) but keeps the second (5..8). */
    assert_int_equal(trl_spool_ack(s, 5), 0);
    assert_int_equal(segment_count(s), 2);
    assert_int_equal(agent_test_size(seg_file(f, 1)), -1);

    /* After a reconnect the cursor goes back to the first unacknowledged record. */
    trl_spool_rewind(s);
    assert_int_equal(read_expect(s, 6), 5);

    assert_int_equal(trl_spool_ack(s, 10), 0);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.segments, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.acked_seq, 10);

    /* An ack beyond anything appended is refused. */
    assert_int_equal(trl_spool_ack(s, 11), TRL_EINVAL);
    append_n(s, 11, 1);
    assert_int_equal(read_expect(s, 11), 1);
    trl_spool_destroy(s);
}

/* Records n of a batch: "rec-<first+i>" padded to PAD, in one buffer. */
static char *batch_records(uint64_t first, size_t n, struct iovec *iov)
{
    char *buf = malloc(n * PAD);
    memset(buf, '.', n * PAD);
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(buf + i * PAD, PAD, "rec-%llu", (unsigned long long)(first + i));
        buf[i * PAD + (size_t)len] = '.';
        iov[i] = (struct iovec){buf + i * PAD, PAD};
    }
    return buf;
}

/* Many records in one call land exactly as if appended one by one: consecutive sequences,
 * segments sealed at the same places, everything readable after a reopen. */
static void test_spool_append_many_is_appends_in_one_write(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    struct iovec iov[150];
    char *buf = batch_records(1, 150, iov);
    uint64_t first = 0;
    size_t done = 0;
    assert_int_equal(trl_spool_append_many(s, iov, 150, &first, &done), 0);
    assert_int_equal(first, 1);
    assert_int_equal(done, 150);
    /* Four 1016-byte records per 4096-byte segment. */
    assert_int_equal(segment_count(s), 38);
    append_n(s, 151, 1);
    assert_int_equal(read_expect(s, 1), 151);
    trl_spool_destroy(s);
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(read_expect(s, 1), 151);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.next_seq, 152);
    assert_int_equal(st.corrupt_bytes, 0);
    trl_spool_destroy(s);
    free(buf);
}

/* A batch that meets the cap or a bad record stops there: what came before is appended. */
static void test_spool_append_many_stops_at_full_or_bad_record(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 3 * 4096, TRL_SPOOL_BLOCK);
    struct iovec iov[20];
    char *buf = batch_records(1, 20, iov);
    size_t done = 99;
    assert_int_equal(trl_spool_append_many(s, iov, 20, NULL, &done), TRL_EFULL);
    assert_int_equal(done, 12);
    assert_int_equal(read_expect(s, 1), 12);
    assert_int_equal(trl_spool_ack(s, 12), 0);
    iov[2].iov_len = 0;
    assert_int_equal(trl_spool_append_many(s, iov, 5, NULL, &done), TRL_EINVAL);
    assert_int_equal(done, 2);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.next_seq, 15);
    assert_int_equal(trl_spool_append_many(s, iov, 0, NULL, &done), 0);
    assert_int_equal(done, 0);
    trl_spool_destroy(s);
    free(buf);
}

static void test_spool_read_only_returns_durable_records(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 3);
    struct trl_spool_record rec;
    assert_int_equal(trl_spool_read(s, &rec), 1);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    /* Handing out record 1 synced everything appended so far. */
    assert_int_equal(st.durable_seq, 3);
    trl_spool_destroy(s);
}

/* A background spool whose sync thread writes a byte to durable_pipe after each sync it completes.
 */
static int durable_pipe[2];

static void note_durable(void *ud)
{
    (void)ud;
    char c = 1;
    assert_int_equal(write(durable_pipe[1], &c, 1), 1);
}

static struct trl_spool *open_background_spool(struct fixture *f)
{
    assert_int_equal(pipe(durable_pipe), 0);
    struct trl_spool_config cfg = {
        .dir = f->spool_dir,
        .segment_bytes = 4096,
        .max_bytes = 1 << 20,
        .sync_interval_ms = 60000,
        .background_sync = true,
        .on_durable = note_durable,
    };
    struct trl_spool *s = NULL;
    assert_int_equal(trl_spool_create(&cfg, &s), 0);
    return s;
}

static void close_background_spool(struct trl_spool *s)
{
    trl_spool_destroy(s);
    close(durable_pipe[0]);
    close(durable_pipe[1]);
}

static void wait_durable(struct trl_spool *s)
{
    char c;
    assert_int_equal(read(durable_pipe[0], &c, 1), 1);
    assert_int_equal(trl_spool_poll(s), 0);
}

static uint64_t durable_seq(struct trl_spool *s)
{
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    return st.durable_seq;
}

static void test_spool_background_read_returns_nothing_until_the_sync_is_done(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_background_spool(f);
    /* Ten records of 1 KiB in segments of 4 KiB: the first segments are closed (sealed) before
     * any sync ran, and the sync covers them as well as the write segment. */
    append_n(s, 1, 10);
    struct trl_spool_record rec;
    assert_int_equal(trl_spool_read(s, &rec), 0);
    wait_durable(s);
    assert_int_equal(durable_seq(s), 10);
    assert_int_equal(read_expect(s, 1), 10);
    assert_int_equal(trl_spool_unread(s), 0);
    close_background_spool(s);
}

static void test_spool_background_appends_during_a_sync_wait_for_the_next(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_background_spool(f);
    append_n(s, 1, 3);
    struct trl_spool_record rec;
    assert_int_equal(trl_spool_read(s, &rec), 0); /* starts a sync of 1..3 */
    append_n(s, 4, 2);
    wait_durable(s);
    assert_int_equal(durable_seq(s), 3);
    assert_int_equal(read_expect(s, 1), 3); /* then starts a sync of 4..5 */
    assert_int_equal(trl_spool_unread(s), 2);
    wait_durable(s);
    assert_int_equal(durable_seq(s), 5);
    assert_int_equal(read_expect(s, 4), 2);
    close_background_spool(s);
}

static void test_spool_background_sync_waits_for_the_running_one(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_background_spool(f);
    append_n(s, 1, 6);
    assert_int_equal(trl_spool_sync_start(s), 0);
    append_n(s, 7, 6);
    assert_int_equal(trl_spool_sync(s), 0);
    assert_int_equal(durable_seq(s), 12);
    assert_int_equal(read_expect(s, 1), 12);
    assert_int_equal(trl_spool_ack(s, 12), 0);
    close_background_spool(s);
    /* Everything is there after a reopen, acknowledged. */
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.next_seq, 13);
    assert_int_equal(st.pending, 0);
    trl_spool_destroy(s);
}

static void test_spool_reader_following_the_writer_gets_every_record(void **state)
{
    struct fixture *f = *state;
    struct trl_spool_config cfg = {
        .dir = f->spool_dir,
        .segment_bytes = 64 << 20,
        .max_bytes = 256 << 20,
        .sync_interval_ms = 60000,
    };
    struct trl_spool *s = NULL;
    assert_int_equal(trl_spool_create(&cfg, &s), 0);
    /* 6000 records of 1 KiB in one segment, read back as they come, through the read-ahead
     * window, which is trimmed once in the middle. */
    for (uint64_t i = 0; i < 60; i++) {
        append_n(s, 1 + 100 * i, 100);
        assert_int_equal(read_expect(s, 1 + 100 * i), 100);
        if (i == 30)
            trl_spool_trim(s);
    }
    /* After a rewind the same records come from the file. */
    trl_spool_rewind(s);
    assert_int_equal(read_expect(s, 1), 6000);
    trl_spool_destroy(s);
}

static void test_spool_trim_frees_the_window_and_reading_goes_on(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 10);
    struct trl_spool_record rec;
    assert_int_equal(trl_spool_read(s, &rec), 1);
    assert_int_equal(rec.seq, 1);
    /* Records 2..10 sat in the read-ahead window; after the trim they are read from the files. */
    trl_spool_trim(s);
    trl_spool_trim(s);
    assert_int_equal(read_expect(s, 2), 9);
    trl_spool_trim(s);
    append_n(s, 11, 3);
    assert_int_equal(read_expect(s, 11), 3);
    trl_spool_rewind(s);
    trl_spool_trim(s);
    assert_int_equal(read_expect(s, 1), 13);
    trl_spool_trim(NULL);
    trl_spool_destroy(s);
}

static void test_spool_reopen_resumes_after_ack(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 10);
    assert_int_equal(read_expect(s, 1), 10);
    assert_int_equal(trl_spool_ack(s, 6), 0);
    trl_spool_destroy(s);

    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(read_expect(s, 7), 4);
    append_n(s, 11, 2);
    assert_int_equal(read_expect(s, 11), 2);
    trl_spool_destroy(s);
}

static void test_spool_sequence_continues_after_everything_acked(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 9);
    assert_int_equal(read_expect(s, 1), 9);
    assert_int_equal(trl_spool_ack(s, 9), 0);
    trl_spool_destroy(s);

    /* No segment is left; the ack file alone carries the sequence forward. */
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(segment_count(s), 0);
    append_n(s, 10, 1);
    assert_int_equal(read_expect(s, 10), 1);
    trl_spool_destroy(s);
}

static void test_spool_truncates_torn_tail_on_reopen(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 6); /* segment 1: 1..4, segment 2: 5..6 */
    trl_spool_destroy(s);

    /* A crash in the middle of writing record 6: only half of it reached the disk. */
    off_t size = agent_test_size(seg_file(f, 2));
    assert_int_equal(size, 2 * 1016);
    assert_int_equal(truncate(seg_file(f, 2), 1016 + 500), 0);

    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(agent_test_size(seg_file(f, 2)), 1016);
    assert_int_equal(read_expect(s, 1), 5);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.corrupt_bytes, 500);
    /* The lost record's number is reused: it was never durable, so never sent. */
    append_n(s, 6, 1);
    assert_int_equal(read_expect(s, 6), 1);
    trl_spool_destroy(s);
}

static void test_spool_torn_header_only(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 2);
    trl_spool_destroy(s);
    /* Seven bytes of the next header made it to disk. */
    agent_test_write(seg_file(f, 1), "a", "\xf8\x03\x00\x00\x12\x34\x56", 7);
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(agent_test_size(seg_file(f, 1)), 2 * 1016);
    assert_int_equal(read_expect(s, 1), 2);
    trl_spool_destroy(s);
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_spool_skips_corrupt_record_in_the_middle(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 4); /* one full segment */
    trl_spool_destroy(s);

    /* A flipped payload byte in record 2: only that record is lost, 3 and 4 are still read. */
    flip_byte(seg_file(f, 1), 1016 + 16 + 300);
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    struct trl_spool_record rec;
    uint64_t seqs[4] = {0};
    int n = 0;
    while (n < 4 && trl_spool_read(s, &rec) == 1)
        seqs[n++] = rec.seq;
    assert_int_equal(n, 3);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(seqs[2], 4);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.corrupt_bytes, 1016);
    assert_int_equal(st.next_seq, 5);
    trl_spool_destroy(s);
}

static void test_spool_flipped_byte_in_last_record_truncates(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    append_n(s, 1, 3);
    trl_spool_destroy(s);
    /* A flipped length byte in the last record's header. */
    flip_byte(seg_file(f, 1), 2 * 1016 + 1);
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(agent_test_size(seg_file(f, 1)), 2 * 1016);
    assert_int_equal(read_expect(s, 1), 2);
    trl_spool_destroy(s);
}

static void test_spool_ignores_garbage_segment(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->spool_dir, 0700), 0);
    agent_test_write(seg_file(f, 7), "w", "this is not a spool segment\n", 28);
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    /* The garbage segment is truncated to nothing and removed. */
    assert_int_equal(segment_count(s), 0);
    assert_int_equal(agent_test_size(seg_file(f, 7)), -1);
    append_n(s, 1, 1);
    assert_int_equal(read_expect(s, 1), 1);
    trl_spool_destroy(s);
}

static void test_spool_cap_block_returns_full_until_acked(void **state)
{
    struct fixture *f = *state;
    /* Three segments' worth: twelve records fit, the thirteenth does not. */
    struct trl_spool *s = open_spool(f, 3 * 4096, TRL_SPOOL_BLOCK);
    append_n(s, 1, 12);
    char rec[PAD] = {0};
    assert_int_equal(trl_spool_append(s, rec, sizeof(rec), NULL), TRL_EFULL);
    assert_int_equal(read_expect(s, 1), 12);
    /* Delivering the first segment makes room again. */
    assert_int_equal(trl_spool_ack(s, 4), 0);
    append_n(s, 13, 4);
    assert_int_equal(trl_spool_append(s, rec, sizeof(rec), NULL), TRL_EFULL);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.pending, 12);
    trl_spool_destroy(s);
}

static void test_spool_cap_drop_oldest_counts_dropped(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = open_spool(f, 3 * 4096, TRL_SPOOL_DROP_OLDEST);
    append_n(s, 1, 12);
    /* Record 13 needs a fourth segment: segment 1 (records 1..4) goes, unsent. */
    append_n(s, 13, 1);
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.dropped, 4);
    assert_int_equal(st.acked_seq, 4);
    assert_true(st.bytes <= 3 * 4096);
    assert_int_equal(trl_spool_bytes(s), st.bytes);
    assert_int_equal(read_expect(s, 5), 9);
    trl_spool_destroy(s);

    /* The drop is remembered: a reopen does not resend or reuse 1..4. */
    s = open_spool(f, 3 * 4096, TRL_SPOOL_DROP_OLDEST);
    assert_int_equal(read_expect(s, 5), 9);
    append_n(s, 14, 1);
    trl_spool_destroy(s);
}

static void test_spool_drop_oldest_with_single_segment(void **state)
{
    struct fixture *f = *state;
    struct trl_spool_config cfg = {
        .dir = f->spool_dir,
        .segment_bytes = 8192,
        .max_bytes = 8192,
        .policy = TRL_SPOOL_DROP_OLDEST,
    };
    struct trl_spool *s;
    assert_int_equal(trl_spool_create(&cfg, &s), 0);
    append_n(s, 1, 9); /* 8 fill the only segment; the 9th drops it and starts a new one */
    struct trl_spool_stats st;
    trl_spool_stats(s, &st);
    assert_int_equal(st.dropped, 8);
    assert_int_equal(read_expect(s, 9), 1);
    trl_spool_destroy(s);
}

static void test_spool_rejects_bad_config_and_records(void **state)
{
    struct fixture *f = *state;
    struct trl_spool *s = NULL;
    struct trl_spool_config bad = {
        .dir = f->spool_dir, .segment_bytes = 1 << 20, .max_bytes = 4096};
    assert_int_equal(trl_spool_create(&bad, &s), TRL_EINVAL);
    assert_null(s);
    s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(trl_spool_append(s, "", 0, NULL), TRL_EINVAL);
    trl_spool_destroy(s);
    trl_spool_destroy(NULL);
}

static void test_spool_many_reopens_keep_every_record(void **state)
{
    struct fixture *f = *state;
    uint64_t next = 1, acked = 0;
    for (int round = 0; round < 5; round++) {
        struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
        append_n(s, next, 7);
        next += 7;
        assert_int_equal(read_expect(s, acked + 1), next - 1 - acked);
        acked += 5;
        assert_int_equal(trl_spool_ack(s, acked), 0);
        trl_spool_destroy(s);
    }
    struct trl_spool *s = open_spool(f, 0, TRL_SPOOL_BLOCK);
    assert_int_equal(read_expect(s, acked + 1), next - 1 - acked);
    trl_spool_destroy(s);
}

/*
 * A child appends as fast as it can and reports each sequence number the spool has accepted on a
 * pipe; it is killed with SIGKILL at an arbitrary moment. After reopening, every reported record
 * must be there, in order and intact, and the sequence must go on from the last one found.
 */
static void test_spool_survives_kill_9(void **state)
{
    struct fixture *f = *state;
    uint64_t expect_next = 1;
    for (int round = 0; round < 4; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            struct trl_spool_config cfg = {.dir = f->spool_dir,
                                           .segment_bytes = 4096,
                                           .max_bytes = 64 << 20,
                                           .sync_interval_ms = 5};
            struct trl_spool *s;
            if (trl_spool_create(&cfg, &s) != 0)
                _exit(1);
            char buf[PAD];
            for (uint64_t seq = 0;;) {
                struct trl_spool_stats st;
                trl_spool_stats(s, &st);
                memset(buf, '.', sizeof(buf));
                int len = snprintf(buf, sizeof(buf), "rec-%llu", (unsigned long long)st.next_seq);
                buf[len] = '.';
                if (trl_spool_append(s, buf, sizeof(buf), &seq) != 0)
                    _exit(2);
                if (write(p[1], &seq, sizeof(seq)) != sizeof(seq))
                    _exit(3);
            }
        }
        close(p[1]);
        agent_test_sleep_ms(30 + 25 * round);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        uint64_t seq, last = 0;
        while (read(p[0], &seq, sizeof(seq)) == sizeof(seq))
            last = seq;
        close(p[0]);
        assert_true(last >= expect_next);

        struct trl_spool *s = open_spool(f, 64 << 20, TRL_SPOOL_BLOCK);
        uint64_t n = read_expect(s, expect_next);
        assert_true(expect_next + n - 1 >= last);
        struct trl_spool_stats st;
        trl_spool_stats(s, &st);
        assert_int_equal(st.next_seq, expect_next + n);
        assert_int_equal(trl_spool_ack(s, st.next_seq - 1), 0);
        expect_next = st.next_seq;
        trl_spool_destroy(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_instruction_matches_the_tables),
        cmocka_unit_test_setup_teardown(test_spool_append_read_ack_across_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_append_many_is_appends_in_one_write, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_append_many_stops_at_full_or_bad_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_read_only_returns_durable_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_spool_background_read_returns_nothing_until_the_sync_is_done, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_spool_background_appends_during_a_sync_wait_for_the_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_background_sync_waits_for_the_running_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_reader_following_the_writer_gets_every_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_trim_frees_the_window_and_reading_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_reopen_resumes_after_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_sequence_continues_after_everything_acked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_truncates_torn_tail_on_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_torn_header_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_skips_corrupt_record_in_the_middle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_flipped_byte_in_last_record_truncates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_ignores_garbage_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_cap_block_returns_full_until_acked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_cap_drop_oldest_counts_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_drop_oldest_with_single_segment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_rejects_bad_config_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_many_reopens_keep_every_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_survives_kill_9, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
