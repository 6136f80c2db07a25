#include "trl_test.h"

#include "core/buf.h"
#include "server/framing.h"
#include "server/pipeline.h"

/*
 * Each test feeds bytes to a framer and compares what came out, rendered as one string:
 * frames joined by '|', a truncated frame prefixed with "T:", a framing error as "ERR(reason)".
 */
struct run {
    struct trl_buf out;
    int frames;
    bool failed;
};

static void render(struct run *r, const struct trl_frame *fr)
{
    if (r->frames++)
        trl_buf_putc(&r->out, '|');
    if (fr->flags & TRL_MSG_TRUNCATED)
        trl_buf_puts(&r->out, "T:");
    trl_buf_append(&r->out, fr->data, fr->len);
}

/* Feeds one chunk; returns false after a framing error. */
static bool feed(struct trl_framer *f, struct run *r, const char *p, size_t n)
{
    if (r->failed)
        return false;
    size_t pos = 0;
    struct trl_frame fr;
    for (;;) {
        int rc = trl_framer_next(f, p, n, &pos, &fr);
        if (rc == 1) {
            render(r, &fr);
            continue;
        }
        if (rc == 0) {
            assert_int_equal(pos, n);
            return true;
        }
        assert_int_equal(rc, TRL_EINVAL);
        trl_buf_printf(&r->out, "%sERR(%s)", r->frames ? "|" : "", f->error);
        r->failed = true;
        return false;
    }
}

static void finish(struct trl_framer *f, struct run *r)
{
    struct trl_frame fr;
    if (!r->failed && trl_framer_finish(f, &fr) == 1)
        render(r, &fr);
}

/* Frames the whole input in one chunk, then checks every split into two and three chunks and one
 * byte at a time give exactly the same frames. Returns the rendering (static). */
static const char *frame_all(const char *in, size_t n, size_t max_msg)
{
    static struct trl_buf want;
    struct trl_framer f;
    struct run r = {0};
    trl_framer_init(&f, max_msg);
    feed(&f, &r, in, n);
    finish(&f, &r);
    trl_framer_free(&f);
    trl_buf_reset(&want);
    trl_buf_append(&want, r.out.data ? r.out.data : "", r.out.len);
    trl_buf_free(&r.out);

    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            /* Three-way splits are quadratic: only for short inputs. */
            if (b != a && n > 300)
                break;
            struct run s = {0};
            trl_framer_init(&f, max_msg);
            feed(&f, &s, in, a);
            feed(&f, &s, in + a, b - a);
            feed(&f, &s, in + b, n - b);
            finish(&f, &s);
            trl_framer_free(&f);
            if (s.out.len != want.len || memcmp(s.out.data, want.data, want.len) != 0) {
                print_error("split at %zu,%zu gives '%s', whole gives '%s'\n", a, b,
                            s.out.data ? s.out.data : "", want.data);
                fail();
            }
            trl_buf_free(&s.out);
        }
    }
    struct run s = {0};
    trl_framer_init(&f, max_msg);
    for (size_t i = 0; i < n; i++)
        feed(&f, &s, in + i, 1);
    finish(&f, &s);
    trl_framer_free(&f);
    if (s.out.len != want.len || memcmp(s.out.data, want.data, want.len) != 0) {
        print_error("byte at a time gives '%s', whole gives '%s'\n", s.out.data ? s.out.data : "",
                    want.data);
        fail();
    }
    trl_buf_free(&s.out);
    return want.data ? want.data : "";
}

#define FRAME(lit, max) frame_all((lit), sizeof(lit) - 1, (max))

static void test_lf_splits_lines_and_strips_crlf(void **state)
{
    (void)state;
    assert_string_equal(
        FRAME("<13>Jul  9 22:31:02 web01 sshd[1]: a\n"
              "<13>Jul  9 22:31:03 web01 sshd[1]: b\r\n",
              1024),
        "<13>Jul  9 22:31:02 web01 sshd[1]: a|<13>Jul  9 22:31:03 web01 sshd[1]: b");
}

static void test_nul_terminates_like_lf(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>one\0<13>two\0", 1024), "<13>one|<13>two");
}

static void test_empty_lines_are_skipped(void **state)
{
    (void)state;
    assert_string_equal(FRAME("\n\r\n<13>a\n\n\n<13>b\n", 1024), "<13>a|<13>b");
}

static void test_lone_cr_inside_a_line_is_kept(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>a\rb\n<13>c\r", 1024), "<13>a\rb|<13>c");
}

static void test_unterminated_last_line_is_returned_at_end(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>a\n<13>no newline", 1024), "<13>a|<13>no newline");
}

static void test_octet_counting_is_detected_on_first_frame(void **state)
{
    (void)state;
    assert_string_equal(FRAME("10 <13>hello!11 <13>second!", 1024), "<13>hello!|<13>second!");
}

static void test_octet_frame_may_contain_lf_and_nul(void **state)
{
    (void)state;
    (void)FRAME("9 <13>a\nb\0c", 1024);
    struct trl_framer f;
    struct run r = {0};
    trl_framer_init(&f, 1024);
    feed(&f, &r, "9 <13>a\nb\0c", 11);
    finish(&f, &r);
    assert_int_equal(r.frames, 1);
    assert_int_equal(r.out.len, 9);
    assert_memory_equal(r.out.data, "<13>a\nb\0c", 9);
    assert_int_equal(f.mode, TRL_FRAMING_UNKNOWN); /* finish() readies a new stream */
    trl_buf_free(&r.out);
    trl_framer_free(&f);
}

static void test_octet_frame_trailing_newline_is_dropped(void **state)
{
    (void)state;
    /* Some senders end each counted frame with LF, inside or after the count. */
    assert_string_equal(FRAME("7 <13>ab\n7 <13>cd\n\n8 <13>ef\r\n", 1024), "<13>ab|<13>cd|<13>ef");
}

static void test_octet_connection_reads_uncounted_frame_as_line(void **state)
{
    (void)state;
    assert_string_equal(FRAME("5 <13>a<13>plain line\n5 <13>b", 1024),
                        "<13>a|<13>plain line|<13>b");
}

static void test_lf_connection_never_reads_counts(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>first\n5 abcdefgh\n", 1024), "<13>first|5 abcdefgh");
}

static void test_digits_without_space_start_a_line(void **state)
{
    (void)state;
    assert_string_equal(FRAME("1234abc\n5 x\n", 1024), "1234abc|5 x");
    assert_string_equal(FRAME("12345", 1024), "12345");
}

static void test_eleven_digit_count_is_read_as_text(void **state)
{
    (void)state;
    assert_string_equal(FRAME("12345678901 <13>x\n", 1024), "12345678901 <13>x");
}

static void test_absurd_octet_count_is_a_framing_error(void **state)
{
    (void)state;
    assert_string_equal(FRAME("9999999999 <13>x", 1024), "ERR(octet count too large)");
    assert_string_equal(FRAME("5 <13>a999999999 x", 1024), "<13>a|ERR(octet count too large)");
}

static void test_octet_count_up_to_max_frame_is_accepted(void **state)
{
    (void)state;
    struct trl_framer f;
    trl_framer_init(&f, 65536);
    assert_int_equal(f.max_frame, TRL_FRAMER_MIN_MAX_FRAME);
    struct run r = {0};
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "%zu ", f.max_frame);
    assert_true(feed(&f, &r, hdr, (size_t)n));
    assert_int_equal(f.mode, TRL_FRAMING_OCTET);
    assert_true(trl_framer_in_message(&f));
    trl_framer_free(&f);
    trl_buf_free(&r.out);
}

static void test_long_line_is_truncated_and_rest_skipped(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>0123456789abcdefXYZ\n<13>ok\n", 20),
                        "T:<13>0123456789abcdef|<13>ok");
    /* Exactly max_msg bytes is not truncated, with or without CR. */
    assert_string_equal(FRAME("<13>0123456789abcdef\r\n<13>0123456789abcdef\n", 20),
                        "<13>0123456789abcdef|<13>0123456789abcdef");
    /* Over-long and unterminated at the end of the stream: cut once, nothing more. */
    assert_string_equal(FRAME("<13>0123456789abcdefghijklmnop", 20), "T:<13>0123456789abcdef");
}

static void test_long_octet_frame_is_truncated_and_exactly_count_skipped(void **state)
{
    (void)state;
    /* 30 counted octets, max 20: the next frame must start right after the 30th. */
    assert_string_equal(FRAME("30 <13>0123456789abcdef\n\n\n\n\n\n\n\n\n\n6 <13>ok", 20),
                        "T:<13>0123456789abcdef|<13>ok");
}

static void test_short_octet_frame_at_end_is_flagged_truncated(void **state)
{
    (void)state;
    assert_string_equal(FRAME("5 <13>a100 <13>cut short", 1024), "<13>a|T:<13>cut short");
}

static void test_binary_garbage_never_fails_in_lf_mode(void **state)
{
    (void)state;
    static const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\xfe\n\x80\x81";
    assert_string_equal(FRAME(junk, 1024),
                        "\x16\x03\x01\x02|\x01|\x01\xfc\x03\x03\xff\xfe|\x80\x81");
}

static void test_large_line_over_many_chunks(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *big = trl_xmalloc(n + 32);
    memset(big, 'A', n);
    memcpy(big + n, "\n<13>after\n", 11);
    struct trl_framer f;
    struct run r = {0};
    trl_framer_init(&f, 65536);
    for (size_t off = 0; off < n + 11; off += 4096)
        feed(&f, &r, big + off, TRL_MIN((size_t)4096, n + 11 - off));
    finish(&f, &r);
    assert_int_equal(r.frames, 2);
    assert_int_equal(r.out.len, 2 + 65536 + 1 + 9);
    assert_memory_equal(r.out.data + 2 + 65536, "|<13>after", 10);
    assert_true(f.cap <= 65536);
    trl_buf_free(&r.out);
    trl_framer_free(&f);
    free(big);
}

/* Terminators at every offset around the 16-byte blocks the scanner reads, LF and NUL alike, in
 * every split of the stream (frame_all): each line comes out whole, none runs into the next. */
static void test_terminator_found_at_every_offset_of_a_block(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>a 16 bytes!\n"
                              "<13>a 17 bytes!!\0"
                              "<13>exactly thirty-two bytes.\n"
                              "<13>no terminator for a while, then one at byte 47\n"
                              "x\n"
                              "<13>fifteen b\r\n",
                              1024),
                        "<13>a 16 bytes!|<13>a 17 bytes!!|<13>exactly thirty-two bytes.|"
                        "<13>no terminator for a while, then one at byte 47|x|<13>fifteen b");
}

/* A line longer than max_msg whose terminator sits past a block boundary: cut, flagged, and the
 * next line is intact. */
static void test_long_line_terminator_past_a_block_is_found(void **state)
{
    (void)state;
    assert_string_equal(FRAME("<13>0123456789abcdef0123456789abcdef0123\n<13>next\n", 20),
                        "T:<13>0123456789abcdef|<13>next");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lf_splits_lines_and_strips_crlf),
        cmocka_unit_test(test_nul_terminates_like_lf),
        cmocka_unit_test(test_empty_lines_are_skipped),
        cmocka_unit_test(test_lone_cr_inside_a_line_is_kept),
        cmocka_unit_test(test_unterminated_last_line_is_returned_at_end),
        cmocka_unit_test(test_octet_counting_is_detected_on_first_frame),
        cmocka_unit_test(test_octet_frame_may_contain_lf_and_nul),
        cmocka_unit_test(test_octet_frame_trailing_newline_is_dropped),
        cmocka_unit_test(test_octet_connection_reads_uncounted_frame_as_line),
        cmocka_unit_test(test_lf_connection_never_reads_counts),
        cmocka_unit_test(test_digits_without_space_start_a_line),
        cmocka_unit_test(test_eleven_digit_count_is_read_as_text),
        cmocka_unit_test(test_absurd_octet_count_is_a_framing_error),
        cmocka_unit_test(test_octet_count_up_to_max_frame_is_accepted),
        cmocka_unit_test(test_long_line_is_truncated_and_rest_skipped),
        cmocka_unit_test(test_long_octet_frame_is_truncated_and_exactly_count_skipped),
        cmocka_unit_test(test_short_octet_frame_at_end_is_flagged_truncated),
        cmocka_unit_test(test_binary_garbage_never_fails_in_lf_mode),
        cmocka_unit_test(test_large_line_over_many_chunks),
        cmocka_unit_test(test_terminator_found_at_every_offset_of_a_block),
        cmocka_unit_test(test_long_line_terminator_past_a_block_is_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
