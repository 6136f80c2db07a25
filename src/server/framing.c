#include "server/framing.h"
#include "core/util.h"
#include "server/pipeline.h"

#include <stdlib.h>
#include <string.h>

enum state {
    S_START,     /* before the first byte of a frame */
    S_DIGITS,    /* reading what may be an octet count; the digits are kept in buf */
    S_LINE,      /* inside an LF-terminated message */
    S_LINE_SKIP, /* skipping the rest of an over-long LF message */
    S_BODY,      /* inside an octet-counted message: count octets still to read */
    S_BODY_SKIP, /* skipping the rest of an over-long octet-counted message */
    S_ERROR,
};

/* Ten digits allow counts up to 9,999,999,999: every real frame, and every absurd count big enough
 * to matter is still recognised as a count (and rejected) rather than read as text. */
#define MAX_COUNT_DIGITS 10

void trl_framer_init(struct trl_framer *f, size_t max_msg)
{
    memset(f, 0, sizeof(*f));
    /* A count's digits are buffered like message bytes: keep room for them. */
    f->max_msg = TRL_MAX(max_msg, (size_t)MAX_COUNT_DIGITS + 6);
    f->max_frame = TRL_MAX(TRL_FRAMER_MIN_MAX_FRAME, f->max_msg * 16);
}

void trl_framer_free(struct trl_framer *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
    f->cap = 0;
}

const char *trl_framing_name(enum trl_framing m)
{
    switch (m) {
    case TRL_FRAMING_OCTET:
        return "octet-counting";
    case TRL_FRAMING_LF:
        return "lf";
    default:
        return "unknown";
    }
}

bool trl_framer_in_message(const struct trl_framer *f)
{
    return f->state != S_START && f->state != S_ERROR;
}

static void buf_append(struct trl_framer *f, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (f->cap - f->len < n) {
        size_t want = TRL_MAX(f->len + n, TRL_MAX(f->cap * 2, (size_t)256));
        /* The buffer never needs more than one message: digits of a count are fewer than that. */
        want = TRL_MIN(want, f->max_msg);
        f->buf = trl_xrealloc(f->buf, want);
        f->cap = want;
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
}

/* Appends to an LF message; returns true (having kept what fits) when it outgrows max_msg. */
static bool line_add(struct trl_framer *f, const char *p, size_t n)
{
    size_t room = f->max_msg - f->len;
    buf_append(f, p, TRL_MIN(n, room));
    return n > room;
}

static size_t strip_cr(const char *p, size_t n)
{
    return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

/* Drops a trailing LF or CRLF that some senders put inside an octet-counted frame. */
static size_t strip_eol(const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\n')
        n--;
    return strip_cr(p, n);
}

static int emit(struct trl_frame *out, const char *p, size_t n, uint32_t flags)
{
    out->data = p;
    out->len = n;
    out->flags = flags;
    return 1;
}

/* Returns the buffered message as a frame (the buffer is reset on the next call). */
static int emit_buf(struct trl_framer *f, struct trl_frame *out, size_t n, uint32_t flags)
{
    f->buf_emitted = true;
    return emit(out, f->buf, n, flags);
}

static int fail(struct trl_framer *f, const char *why)
{
    f->state = S_ERROR;
    f->error = why;
    return TRL_EINVAL;
}

int trl_framer_next(struct trl_framer *f, const char *data, size_t len, size_t *pos,
                    struct trl_frame *out)
{
    if (f->buf_emitted) {
        f->buf_emitted = false;
        f->len = 0;
        /* A connection that once sent a big message should not keep that memory while idle. */
        if (f->cap > 16384)
            trl_framer_free(f);
    }
    size_t i = *pos;
    while (i < len) {
        switch (f->state) {
        case S_START: {
            char c = data[i];
            if (f->mode == TRL_FRAMING_OCTET && (c == '\n' || c == '\r' || c == '\0' || c == ' ')) {
                i++; /* stray separators between counted frames */
                break;
            }
            if (f->mode != TRL_FRAMING_LF && c >= '1' && c <= '9') {
                f->state = S_DIGITS;
                f->count = 0;
                f->ndigits = 0;
                break;
            }
            if (f->mode == TRL_FRAMING_UNKNOWN)
                f->mode = TRL_FRAMING_LF;
            f->state = S_LINE;
            break;
        }
        case S_DIGITS: {
            char c = data[i];
            if (c >= '0' && c <= '9' && f->ndigits < MAX_COUNT_DIGITS) {
                f->count = f->count * 10 + (uint64_t)(c - '0');
                f->ndigits++;
                buf_append(f, &c, 1);
                i++;
                break;
            }
            if (c == ' ') {
                i++;
                if (f->count > f->max_frame) {
                    *pos = i;
                    return fail(f, "octet count too large");
                }
                f->mode = TRL_FRAMING_OCTET;
                f->len = 0;
                f->state = S_BODY;
                break;
            }
            /* Not a count after all: the digits start an LF-terminated message. */
            if (f->mode == TRL_FRAMING_UNKNOWN)
                f->mode = TRL_FRAMING_LF;
            f->state = S_LINE;
            break;
        }
        case S_LINE: {
            size_t seg = trl_find_either(data + i, len - i, 0, '\n', '\0');
            bool term = i + seg < len;
            size_t next = term ? i + seg + 1 : len;
            const char *p = data + i;
            size_t n = seg;
            bool hold_cr = false;
            if (n > 0 && p[n - 1] == '\r') {
                /* Before a terminator a CR is CRLF framing; at the end of a chunk it may be. */
                n--;
                hold_cr = !term;
            }
            if (f->len == 0 && !f->pending_cr && term) {
                /* The whole message is in this chunk: no copy. */
                f->state = S_START;
                i = next;
                if (n == 0)
                    break;
                *pos = i;
                if (n > f->max_msg)
                    return emit(out, p, f->max_msg, TRL_MSG_TRUNCATED);
                return emit(out, p, n, 0);
            }
            bool over = false;
            if (f->pending_cr) {
                /* The CR held back from the last chunk was not followed by a terminator. */
                f->pending_cr = false;
                if (seg > 0)
                    over = line_add(f, "\r", 1);
            }
            if (!over)
                over = line_add(f, p, n);
            if (over) {
                f->state = term ? S_START : S_LINE_SKIP;
                *pos = next;
                return emit_buf(f, out, f->len, TRL_MSG_TRUNCATED);
            }
            f->pending_cr = hold_cr;
            i = next;
            if (!term)
                break;
            f->state = S_START;
            if (f->len == 0)
                break;
            *pos = i;
            return emit_buf(f, out, f->len, 0);
        }
        case S_LINE_SKIP: {
            size_t seg = trl_find_either(data + i, len - i, 0, '\n', '\0');
            if (i + seg < len)
                f->state = S_START;
            i = TRL_MIN(i + seg + 1, len);
            break;
        }
        case S_BODY: {
            size_t avail = len - i;
            size_t room = f->max_msg - f->len;
            size_t want = (size_t)TRL_MIN(f->count, (uint64_t)room);
            if (f->len == 0 && avail >= want) {
                /* The whole message (or all of it we keep) is in this chunk: no copy. */
                const char *p = data + i;
                i += want;
                f->count -= want;
                *pos = i;
                if (f->count > 0) {
                    f->state = S_BODY_SKIP;
                    return emit(out, p, want, TRL_MSG_TRUNCATED);
                }
                f->state = S_START;
                size_t n = strip_eol(p, want);
                if (n == 0)
                    break;
                return emit(out, p, n, 0);
            }
            size_t take = TRL_MIN(avail, want);
            buf_append(f, data + i, take);
            i += take;
            f->count -= take;
            if (f->count > 0 && f->len < f->max_msg)
                break;
            *pos = i;
            if (f->count > 0) {
                f->state = S_BODY_SKIP;
                return emit_buf(f, out, f->len, TRL_MSG_TRUNCATED);
            }
            f->state = S_START;
            size_t n = strip_eol(f->buf, f->len);
            if (n == 0) {
                f->len = 0;
                break;
            }
            return emit_buf(f, out, n, 0);
        }
        case S_BODY_SKIP: {
            size_t take = (size_t)TRL_MIN((uint64_t)(len - i), f->count);
            i += take;
            f->count -= take;
            if (f->count == 0)
                f->state = S_START;
            break;
        }
        default:
            *pos = len;
            return TRL_EINVAL;
        }
    }
    *pos = len;
    return f->state == S_ERROR ? TRL_EINVAL : 0;
}

int trl_framer_finish(struct trl_framer *f, struct trl_frame *out)
{
    if (f->buf_emitted) {
        f->buf_emitted = false;
        f->len = 0;
    }
    int rc = 0;
    switch (f->state) {
    case S_DIGITS:
    case S_LINE:
        /* A CR held back at the end of the stream is dropped like one before a terminator. */
        if (f->len > 0)
            rc = emit_buf(f, out, f->len, 0);
        break;
    case S_BODY:
        if (f->len > 0)
            rc = emit_buf(f, out, f->len, TRL_MSG_TRUNCATED);
        break;
    default:
        break;
    }
    if (!rc)
        f->len = 0;
    f->state = S_START;
    f->mode = TRL_FRAMING_UNKNOWN;
    f->count = 0;
    f->ndigits = 0;
    f->pending_cr = false;
    f->error = NULL;
    return rc;
}
