/*
 * framing: splits a syslog byte stream (TCP or decrypted TLS) into messages, incrementally.
 *
 * Two framings exist on the wire (RFC 6587): octet counting ("LEN SP MSG", RFC 5425/6587 3.4.1) and
 * non-transparent framing (a message ends at LF; CRLF and NUL are accepted too). The framing is
 * detected on the first frame of a connection: a non-zero digit followed by up to nine more digits
 * and a space means octet counting, anything else means LF. On an octet-counting connection a frame
 * that does not start with a count is read as one LF-terminated message instead, so a sender that
 * mixes both loses nothing; on an LF connection digits are never special.
 *
 * A message longer than max_msg is cut to max_msg bytes and flagged TRL_MSG_TRUNCATED, and the rest
 * of it is skipped without losing the stream: exactly the counted octets for octet counting, up to
 * the next terminator for LF. An octet count above max_frame (a sender claiming gigabytes) is a
 * framing error: the stream cannot be trusted any more and the caller closes it.
 *
 * The framer is a pure state machine: no I/O, no globals. It copies only the partial message that
 * spans two chunks into its own buffer (at most max_msg bytes); a message wholly inside one chunk
 * is returned as a pointer into that chunk. One framer per connection, used by one thread at a
 * time.
 */
#ifndef TRL_FRAMING_H
#define TRL_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum trl_framing {
    TRL_FRAMING_UNKNOWN = 0, /* no frame seen yet */
    TRL_FRAMING_OCTET,       /* RFC 6587 octet counting */
    TRL_FRAMING_LF,          /* non-transparent: LF, CRLF or NUL terminated */
};

struct trl_frame {
    const char
        *data; /* into the caller's chunk or the framer's buffer: valid until the next call */
    size_t len;
    uint32_t flags; /* TRL_MSG_TRUNCATED when cut at max_msg */
};

struct trl_framer {
    size_t max_msg;   /* longer messages are cut to this */
    size_t max_frame; /* larger octet counts are a framing error */
    uint8_t mode;     /* enum trl_framing */
    uint8_t state;    /* internal */
    uint8_t ndigits;  /* digits of the octet count read so far */
    bool buf_emitted; /* the last frame returned was buf: reset it on the next call */
    bool pending_cr;  /* an LF message's chunk ended in CR, not yet known to be CRLF */
    uint64_t count;   /* octet count being read, then octets of the frame still to read or skip */
    const char *error;
    char *buf; /* the partial message (heap, grows up to max_msg) */
    size_t len;
    size_t cap;
};

/* The smallest max_frame trl_framer_init() picks: max(16 MiB, 16 * max_msg). */
#define TRL_FRAMER_MIN_MAX_FRAME ((size_t)16 << 20)

void trl_framer_init(struct trl_framer *f, size_t max_msg);
/* Releases the buffer; the framer may be initialised again. */
void trl_framer_free(struct trl_framer *f);

/*
 * Reads frames from data[*pos .. len). Returns 1 with *out set and *pos just past that frame's
 * bytes (call again for the next), 0 when every byte was consumed without completing a frame
 * (*pos == len: feed the next chunk), or TRL_EINVAL on a framing error (f->error says why; every
 * later call fails the same way). Empty messages are skipped, never returned.
 */
int trl_framer_next(struct trl_framer *f, const char *data, size_t len, size_t *pos,
                    struct trl_frame *out);

/*
 * End of stream: returns 1 with the message that was still open, if any (an LF message without its
 * terminator as it is; an octet-counted message short of its count flagged TRL_MSG_TRUNCATED), and
 * 0 otherwise. The framer is then ready for a new stream.
 */
int trl_framer_finish(struct trl_framer *f, struct trl_frame *out);

/* Bytes of an incomplete message held or being skipped: true when the sender stopped mid-message.
 */
bool trl_framer_in_message(const struct trl_framer *f);

const char *trl_framing_name(enum trl_framing m);

#endif
