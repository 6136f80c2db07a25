/*
 * proto: the frame codec of the agent protocol (docs/protocol.md) spoken between `trapline agent`
 * and the server's agent listener over TLS 1.3.
 *
 * Encoding: the trl_proto_put_* functions append one whole frame to a caller's buffer. Decoding: a
 * struct trl_proto_reader collects the plaintext bytes of a connection and cuts it into frames;
 * the trl_proto_parse_* functions then read a frame's payload into a struct. Every byte given to
 * the decoder is treated as hostile: lengths are checked against the bytes present and against the
 * caps below, and BATCH decompression never produces more than the declared (capped) size.
 *
 * Ownership: a frame returned by trl_proto_reader_next() points into the reader's buffer and is
 * valid until the next call on the reader; parsed structs copy their strings, except the zstd
 * bytes of a batch, which point into the frame. Pure functions and per-reader state: any thread
 * may use its own reader.
 */
#ifndef TRL_AGENT_PROTO_H
#define TRL_AGENT_PROTO_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define TRL_PROTO_VERSION    2           /* 2: ACTION and ACTION_RESULT */
#define TRL_PROTO_HEADER     5           /* u32 length + u8 type */
#define TRL_PROTO_MAX_FRAME  (4u << 20)  /* cap on length (type + payload) */
#define TRL_PROTO_MAX_RAW    (16u << 20) /* cap on a batch's uncompressed size */
#define TRL_PROTO_MAX_EVENTS 10000u      /* cap on a batch's event count */
#define TRL_PROTO_MAX_STR    255u        /* cap on a HELLO string */
#define TRL_PROTO_MAX_JSON   (64u << 10) /* cap on an ENROLL_REQ/RESP payload */
#define TRL_PROTO_MAX_REASON 1024u       /* cap on an ERROR reason */
#define TRL_PROTO_MAX_ACTION 4096u       /* cap on an ACTION's JSON request */
/* The first protocol version whose agents carry out ACTION frames. */
#define TRL_PROTO_VERSION_ACTIONS 2

enum trl_proto_type {
    TRL_PROTO_HELLO = 1,
    TRL_PROTO_BATCH = 2,
    TRL_PROTO_ACK = 3,
    TRL_PROTO_HEARTBEAT = 4,
    TRL_PROTO_ENROLL_REQ = 5,
    TRL_PROTO_ENROLL_RESP = 6,
    TRL_PROTO_ERROR = 7,
    TRL_PROTO_ACTION = 8,
    TRL_PROTO_ACTION_RESULT = 9,
};

/* The outcome byte of ACTION_RESULT. */
enum trl_proto_outcome {
    TRL_PROTO_OUTCOME_SUCCESS = 0,
    TRL_PROTO_OUTCOME_FAILURE = 1, /* tried, and the command failed */
    TRL_PROTO_OUTCOME_REFUSED = 2, /* not tried: the agent's checks refused it */
};

enum trl_proto_error_code {
    TRL_PROTO_ERR_MALFORMED = 1,
    TRL_PROTO_ERR_TOO_LARGE = 2,
    TRL_PROTO_ERR_NOT_ALLOWED = 3,
    TRL_PROTO_ERR_REVOKED = 4,
    TRL_PROTO_ERR_BUSY = 5,
    TRL_PROTO_ERR_ENROLL = 6,
};

/* "HELLO", "BATCH", ... or "unknown". */
const char *trl_proto_type_name(int type);

struct trl_proto_frame {
    uint8_t type;
    const uint8_t *payload;
    size_t len;
};

struct trl_proto_hello {
    uint16_t proto;
    uint64_t last_ack;
    char agent_id[TRL_PROTO_MAX_STR + 1];
    char version[TRL_PROTO_MAX_STR + 1];
    char hostname[TRL_PROTO_MAX_STR + 1];
};

struct trl_proto_batch {
    uint64_t first_seq;
    uint32_t count;
    uint32_t raw_len;
    const void *zdata; /* the zstd frame, inside the frame's payload */
    size_t zlen;
};

struct trl_proto_heartbeat {
    uint64_t spooled;
    uint64_t dropped;
    uint64_t sent;
    uint32_t sources_error;
    uint32_t events_per_sec;
};

/* ACTION: a response request (detect/response.h) for the agent to carry out. */
struct trl_proto_action {
    uint64_t id;      /* chosen by the server, echoed in ACTION_RESULT */
    const char *json; /* inside the frame's payload, not NUL-terminated */
    size_t len;
};

struct trl_proto_action_result {
    uint64_t id;
    uint8_t outcome;                       /* enum trl_proto_outcome */
    char action[TRL_PROTO_MAX_STR + 1];    /* the event.action recorded, e.g. "ip-blocked" */
    char reason[TRL_PROTO_MAX_REASON + 1]; /* empty on success; NUL bytes replaced by '?' */
};

struct trl_proto_error {
    uint16_t code;
    char reason[TRL_PROTO_MAX_REASON + 1]; /* NUL bytes of the input are replaced by '?' */
};

/* ---- encoding: each appends one frame to out ------------------------------------------------ */

/* Strings longer than TRL_PROTO_MAX_STR are cut. */
void trl_proto_put_hello(struct trl_buf *out, const struct trl_proto_hello *h);
/* Compresses raw (count JSON lines, each ending with '\n') at zstd level. Returns 0, TRL_EINVAL
 * when count or raw_len is out of bounds, or TRL_EFULL when the compressed frame would exceed
 * TRL_PROTO_MAX_FRAME (send fewer events). out is unchanged on error. */
int trl_proto_put_batch(struct trl_buf *out, uint64_t first_seq, uint32_t count, const void *raw,
                        size_t raw_len, int level);
void trl_proto_put_ack(struct trl_buf *out, uint64_t seq);
void trl_proto_put_heartbeat(struct trl_buf *out, const struct trl_proto_heartbeat *h);
/* type TRL_PROTO_ENROLL_REQ or TRL_PROTO_ENROLL_RESP. Returns 0 or TRL_EINVAL (bad type, too
 * long). */
int trl_proto_put_json(struct trl_buf *out, enum trl_proto_type type, const char *json, size_t len);
/* Returns 0 or TRL_EINVAL when json is empty or longer than TRL_PROTO_MAX_ACTION. */
int trl_proto_put_action(struct trl_buf *out, uint64_t id, const char *json, size_t len);
/* The action name is cut at TRL_PROTO_MAX_STR bytes, the reason at TRL_PROTO_MAX_REASON. */
void trl_proto_put_action_result(struct trl_buf *out, const struct trl_proto_action_result *r);
/* The reason is cut at TRL_PROTO_MAX_REASON bytes. */
void trl_proto_put_error(struct trl_buf *out, uint16_t code, const char *reason);

/* ---- decoding ---------------------------------------------------------------------------------
 */

struct trl_proto_reader {
    struct trl_buf buf;
    size_t off; /* start of the unread bytes in buf */
};

void trl_proto_reader_init(struct trl_proto_reader *r);
void trl_proto_reader_free(struct trl_proto_reader *r);
/* Appends bytes received. Earlier frames returned become invalid. */
void trl_proto_reader_feed(struct trl_proto_reader *r, const void *data, size_t len);
/* Cuts the next frame: returns 1 and fills *f, 0 when more bytes are needed, TRL_ETRUNC when the
 * declared length is above TRL_PROTO_MAX_FRAME, TRL_EINVAL for a zero length or an unknown type.
 * After an error the stream cannot be resynchronised: close the connection. */
int trl_proto_reader_next(struct trl_proto_reader *r, struct trl_proto_frame *f);
/* Bytes received but not yet returned as frames. */
size_t trl_proto_reader_pending(const struct trl_proto_reader *r);

/* Each returns 0 or TRL_EINVAL (wrong type, wrong size, a value out of bounds). */
int trl_proto_parse_hello(const struct trl_proto_frame *f, struct trl_proto_hello *h);
int trl_proto_parse_batch(const struct trl_proto_frame *f, struct trl_proto_batch *b);
int trl_proto_parse_ack(const struct trl_proto_frame *f, uint64_t *seq);
int trl_proto_parse_heartbeat(const struct trl_proto_frame *f, struct trl_proto_heartbeat *h);
/* ENROLL_REQ or ENROLL_RESP: *json points into the frame (not NUL-terminated). */
int trl_proto_parse_json(const struct trl_proto_frame *f, const char **json, size_t *len);
int trl_proto_parse_error(const struct trl_proto_frame *f, struct trl_proto_error *e);
/* a->json points into the frame. */
int trl_proto_parse_action(const struct trl_proto_frame *f, struct trl_proto_action *a);
int trl_proto_parse_action_result(const struct trl_proto_frame *f,
                                  struct trl_proto_action_result *r);

/* Decompresses a parsed batch into out (replacing its content) and checks it: exactly raw_len
 * bytes, exactly count lines each ending with '\n', none of them empty. Never allocates more than
 * raw_len + 1 bytes. Returns 0 or TRL_EINVAL. */
int trl_proto_batch_decompress(const struct trl_proto_batch *b, struct trl_buf *out);

/* zstd state kept from one batch to the next by a sender or a receiver: setting a context up costs
 * more than compressing or decompressing a small batch. Owned by the caller; one thread at a
 * time. */
struct trl_proto_zctx;
struct trl_proto_zctx *trl_proto_zctx_create(void);
/* NULL-safe. */
void trl_proto_zctx_destroy(struct trl_proto_zctx *z);
/* Frees the contexts' working memory (mostly the compressor's tables, 0.5 MiB after a large
 * batch) while the sender is idle; the next batch sets them up again. */
void trl_proto_zctx_trim(struct trl_proto_zctx *z);
/* trl_proto_put_batch() and trl_proto_batch_decompress() with the context z (NULL: a temporary
 * one). */
int trl_proto_put_batch_z(struct trl_proto_zctx *z, struct trl_buf *out, uint64_t first_seq,
                          uint32_t count, const void *raw, size_t raw_len, int level);
int trl_proto_batch_decompress_z(struct trl_proto_zctx *z, const struct trl_proto_batch *b,
                                 struct trl_buf *out);

#endif
