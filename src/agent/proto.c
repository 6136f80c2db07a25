/*
 * proto: frame encoding and hostile-input decoding of the agent protocol (see proto.h).
 */
#include "agent/proto.h"

#include "core/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Window size cap for decompression: 2^24 = 16 MiB, the largest batch allowed. */
#define PROTO_WINDOW_LOG_MAX 24

const char *trl_proto_type_name(int type)
{
    switch (type) {
    case TRL_PROTO_HELLO:
        return "HELLO";
    case TRL_PROTO_BATCH:
        return "BATCH";
    case TRL_PROTO_ACK:
        return "ACK";
    case TRL_PROTO_HEARTBEAT:
        return "HEARTBEAT";
    case TRL_PROTO_ENROLL_REQ:
        return "ENROLL_REQ";
    case TRL_PROTO_ENROLL_RESP:
        return "ENROLL_RESP";
    case TRL_PROTO_ERROR:
        return "ERROR";
    case TRL_PROTO_ACTION:
        return "ACTION";
    case TRL_PROTO_ACTION_RESULT:
        return "ACTION_RESULT";
    default:
        return "unknown";
    }
}

/* ---- encoding ---------------------------------------------------------------------------------
 */

static void put_u16(struct trl_buf *b, uint16_t v)
{
    unsigned char p[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    trl_buf_append(b, p, 2);
}

static void put_u32(struct trl_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    trl_buf_append(b, p, 4);
}

static void put_u64(struct trl_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static void put_str(struct trl_buf *b, const char *s)
{
    size_t n = s ? strnlen(s, TRL_PROTO_MAX_STR) : 0;
    put_u16(b, (uint16_t)n);
    trl_buf_append(b, s, n);
}

/* Writes the header with a length patched in by end_frame(). Returns the header's offset. */
static size_t begin_frame(struct trl_buf *b, uint8_t type)
{
    size_t at = b->len;
    put_u32(b, 0);
    trl_buf_append(b, &type, 1);
    return at;
}

static void end_frame(struct trl_buf *b, size_t at)
{
    uint32_t len = (uint32_t)(b->len - at - 4);
    unsigned char *p = (unsigned char *)b->data + at;
    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
}

void trl_proto_put_hello(struct trl_buf *out, const struct trl_proto_hello *h)
{
    size_t at = begin_frame(out, TRL_PROTO_HELLO);
    put_u16(out, h->proto);
    put_u64(out, h->last_ack);
    put_str(out, h->agent_id);
    put_str(out, h->version);
    put_str(out, h->hostname);
    end_frame(out, at);
}

struct trl_proto_zctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
};

struct trl_proto_zctx *trl_proto_zctx_create(void)
{
    return trl_xcalloc(1, sizeof(struct trl_proto_zctx));
}

void trl_proto_zctx_destroy(struct trl_proto_zctx *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

void trl_proto_zctx_trim(struct trl_proto_zctx *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    z->c = NULL;
    z->d = NULL;
}

int trl_proto_put_batch_z(struct trl_proto_zctx *z, struct trl_buf *out, uint64_t first_seq,
                          uint32_t count, const void *raw, size_t raw_len, int level)
{
    if (count == 0 || count > TRL_PROTO_MAX_EVENTS || raw_len == 0 || raw_len > TRL_PROTO_MAX_RAW)
        return TRL_EINVAL;
    ZSTD_CCtx *cctx = z ? z->c : NULL;
    if (!cctx) {
        cctx = ZSTD_createCCtx();
        if (!cctx)
            return TRL_EINVAL;
        if (z)
            z->c = cctx;
    }
    size_t bound = ZSTD_compressBound(raw_len);
    size_t at = begin_frame(out, TRL_PROTO_BATCH);
    put_u64(out, first_seq);
    put_u32(out, count);
    put_u32(out, (uint32_t)raw_len);
    trl_buf_reserve(out, bound);
    size_t zn = ZSTD_compressCCtx(cctx, out->data + out->len, bound, raw, raw_len, level);
    if (!z)
        ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(zn)) {
        out->len = at;
        return TRL_EINVAL;
    }
    out->len += zn;
    if (out->len - at - 4 > TRL_PROTO_MAX_FRAME) {
        out->len = at;
        return TRL_EFULL;
    }
    end_frame(out, at);
    return 0;
}

int trl_proto_put_batch(struct trl_buf *out, uint64_t first_seq, uint32_t count, const void *raw,
                        size_t raw_len, int level)
{
    return trl_proto_put_batch_z(NULL, out, first_seq, count, raw, raw_len, level);
}

void trl_proto_put_ack(struct trl_buf *out, uint64_t seq)
{
    size_t at = begin_frame(out, TRL_PROTO_ACK);
    put_u64(out, seq);
    end_frame(out, at);
}

void trl_proto_put_heartbeat(struct trl_buf *out, const struct trl_proto_heartbeat *h)
{
    size_t at = begin_frame(out, TRL_PROTO_HEARTBEAT);
    put_u64(out, h->spooled);
    put_u64(out, h->dropped);
    put_u64(out, h->sent);
    put_u32(out, h->sources_error);
    put_u32(out, h->events_per_sec);
    end_frame(out, at);
}

int trl_proto_put_json(struct trl_buf *out, enum trl_proto_type type, const char *json, size_t len)
{
    if ((type != TRL_PROTO_ENROLL_REQ && type != TRL_PROTO_ENROLL_RESP) || len > TRL_PROTO_MAX_JSON)
        return TRL_EINVAL;
    size_t at = begin_frame(out, (uint8_t)type);
    trl_buf_append(out, json, len);
    end_frame(out, at);
    return 0;
}

void trl_proto_put_error(struct trl_buf *out, uint16_t code, const char *reason)
{
    size_t at = begin_frame(out, TRL_PROTO_ERROR);
    put_u16(out, code);
    size_t n = reason ? strnlen(reason, TRL_PROTO_MAX_REASON) : 0;
    trl_buf_append(out, reason, n);
    end_frame(out, at);
}

int trl_proto_put_action(struct trl_buf *out, uint64_t id, const char *json, size_t len)
{
    if (len == 0 || len > TRL_PROTO_MAX_ACTION)
        return TRL_EINVAL;
    size_t at = begin_frame(out, TRL_PROTO_ACTION);
    put_u64(out, id);
    trl_buf_append(out, json, len);
    end_frame(out, at);
    return 0;
}

void trl_proto_put_action_result(struct trl_buf *out, const struct trl_proto_action_result *r)
{
    size_t at = begin_frame(out, TRL_PROTO_ACTION_RESULT);
    put_u64(out, r->id);
    trl_buf_append(out, &r->outcome, 1);
    put_str(out, r->action);
    trl_buf_append(out, r->reason, strnlen(r->reason, TRL_PROTO_MAX_REASON));
    end_frame(out, at);
}

/* ---- decoding ---------------------------------------------------------------------------------
 */

void trl_proto_reader_init(struct trl_proto_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void trl_proto_reader_free(struct trl_proto_reader *r)
{
    trl_buf_free(&r->buf);
    memset(r, 0, sizeof(*r));
}

void trl_proto_reader_feed(struct trl_proto_reader *r, const void *data, size_t len)
{
    /* Drop what was consumed first, so the buffer holds at most one frame plus what follows. */
    if (r->off > 0) {
        memmove(r->buf.data, r->buf.data + r->off, r->buf.len - r->off);
        r->buf.len -= r->off;
        r->off = 0;
    }
    if (len)
        trl_buf_append(&r->buf, data, len);
}

size_t trl_proto_reader_pending(const struct trl_proto_reader *r)
{
    return r->buf.len - r->off;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
    return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}

int trl_proto_reader_next(struct trl_proto_reader *r, struct trl_proto_frame *f)
{
    size_t avail = r->buf.len - r->off;
    if (avail < 4)
        return 0;
    const uint8_t *p = (const uint8_t *)r->buf.data + r->off;
    uint32_t len = get_u32(p);
    if (len == 0)
        return TRL_EINVAL;
    if (len > TRL_PROTO_MAX_FRAME)
        return TRL_ETRUNC;
    if (avail < 5)
        return 0;
    if (p[4] < TRL_PROTO_HELLO || p[4] > TRL_PROTO_ACTION_RESULT)
        return TRL_EINVAL;
    if (avail - 4 < len)
        return 0;
    f->type = p[4];
    f->payload = p + 5;
    f->len = len - 1;
    r->off += 4 + (size_t)len;
    return 1;
}

/* A bounds-checked cursor over a payload. */
struct cur {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static const uint8_t *take(struct cur *c, size_t n)
{
    if (c->bad || c->left < n) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static uint16_t take_u16(struct cur *c)
{
    const uint8_t *p = take(c, 2);
    return p ? get_u16(p) : 0;
}

static uint32_t take_u32(struct cur *c)
{
    const uint8_t *p = take(c, 4);
    return p ? get_u32(p) : 0;
}

static uint64_t take_u64(struct cur *c)
{
    const uint8_t *p = take(c, 8);
    return p ? get_u64(p) : 0;
}

/* A string: at most TRL_PROTO_MAX_STR bytes without NUL. */
static void take_str(struct cur *c, char out[TRL_PROTO_MAX_STR + 1])
{
    out[0] = '\0';
    uint16_t n = take_u16(c);
    if (n > TRL_PROTO_MAX_STR) {
        c->bad = true;
        return;
    }
    const uint8_t *p = take(c, n);
    if (!p)
        return;
    if (memchr(p, '\0', n)) {
        c->bad = true;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

static struct cur cur_of(const struct trl_proto_frame *f)
{
    return (struct cur){.p = f->payload, .left = f->len, .bad = false};
}

int trl_proto_parse_hello(const struct trl_proto_frame *f, struct trl_proto_hello *h)
{
    if (f->type != TRL_PROTO_HELLO)
        return TRL_EINVAL;
    struct cur c = cur_of(f);
    h->proto = take_u16(&c);
    h->last_ack = take_u64(&c);
    take_str(&c, h->agent_id);
    take_str(&c, h->version);
    take_str(&c, h->hostname);
    return c.bad || c.left || h->proto == 0 ? TRL_EINVAL : 0;
}

int trl_proto_parse_batch(const struct trl_proto_frame *f, struct trl_proto_batch *b)
{
    if (f->type != TRL_PROTO_BATCH)
        return TRL_EINVAL;
    struct cur c = cur_of(f);
    b->first_seq = take_u64(&c);
    b->count = take_u32(&c);
    b->raw_len = take_u32(&c);
    if (c.bad || c.left == 0 || b->first_seq == 0 || b->first_seq > UINT64_MAX - b->count ||
        b->count == 0 || b->count > TRL_PROTO_MAX_EVENTS || b->raw_len < b->count ||
        b->raw_len > TRL_PROTO_MAX_RAW)
        return TRL_EINVAL;
    b->zdata = c.p;
    b->zlen = c.left;
    return 0;
}

int trl_proto_parse_ack(const struct trl_proto_frame *f, uint64_t *seq)
{
    if (f->type != TRL_PROTO_ACK || f->len != 8)
        return TRL_EINVAL;
    *seq = get_u64(f->payload);
    return 0;
}

int trl_proto_parse_heartbeat(const struct trl_proto_frame *f, struct trl_proto_heartbeat *h)
{
    if (f->type != TRL_PROTO_HEARTBEAT)
        return TRL_EINVAL;
    struct cur c = cur_of(f);
    h->spooled = take_u64(&c);
    h->dropped = take_u64(&c);
    h->sent = take_u64(&c);
    h->sources_error = take_u32(&c);
    h->events_per_sec = take_u32(&c);
    return c.bad || c.left ? TRL_EINVAL : 0;
}

int trl_proto_parse_json(const struct trl_proto_frame *f, const char **json, size_t *len)
{
    if ((f->type != TRL_PROTO_ENROLL_REQ && f->type != TRL_PROTO_ENROLL_RESP) ||
        f->len > TRL_PROTO_MAX_JSON)
        return TRL_EINVAL;
    *json = (const char *)f->payload;
    *len = f->len;
    return 0;
}

int trl_proto_parse_error(const struct trl_proto_frame *f, struct trl_proto_error *e)
{
    if (f->type != TRL_PROTO_ERROR || f->len < 2 || f->len - 2 > TRL_PROTO_MAX_REASON)
        return TRL_EINVAL;
    e->code = get_u16(f->payload);
    size_t n = f->len - 2;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)f->payload[2 + i];
        e->reason[i] = ch == '\0' ? '?' : ch;
    }
    e->reason[n] = '\0';
    return 0;
}

int trl_proto_parse_action(const struct trl_proto_frame *f, struct trl_proto_action *a)
{
    if (f->type != TRL_PROTO_ACTION || f->len <= 8 || f->len - 8 > TRL_PROTO_MAX_ACTION)
        return TRL_EINVAL;
    a->id = get_u64(f->payload);
    a->json = (const char *)f->payload + 8;
    a->len = f->len - 8;
    return 0;
}

int trl_proto_parse_action_result(const struct trl_proto_frame *f,
                                  struct trl_proto_action_result *r)
{
    if (f->type != TRL_PROTO_ACTION_RESULT)
        return TRL_EINVAL;
    struct cur c = cur_of(f);
    r->id = take_u64(&c);
    const uint8_t *o = take(&c, 1);
    r->outcome = o ? *o : 0;
    take_str(&c, r->action);
    if (c.bad || r->outcome > TRL_PROTO_OUTCOME_REFUSED || c.left > TRL_PROTO_MAX_REASON)
        return TRL_EINVAL;
    for (size_t i = 0; i < c.left; i++)
        r->reason[i] = c.p[i] == '\0' ? '?' : (char)c.p[i];
    r->reason[c.left] = '\0';
    return 0;
}

int trl_proto_batch_decompress(const struct trl_proto_batch *b, struct trl_buf *out)
{
    return trl_proto_batch_decompress_z(NULL, b, out);
}

int trl_proto_batch_decompress_z(struct trl_proto_zctx *z, const struct trl_proto_batch *b,
                                 struct trl_buf *out)
{
    trl_buf_reset(out);
    if (b->raw_len == 0 || b->raw_len > TRL_PROTO_MAX_RAW || b->count == 0 || !b->zdata)
        return TRL_EINVAL;
    /* A frame that declares its size must declare the batch's size; one that does not is held to
     * it by the output buffer's bound below. */
    unsigned long long declared = ZSTD_getFrameContentSize(b->zdata, b->zlen);
    if (declared == ZSTD_CONTENTSIZE_ERROR ||
        (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != b->raw_len))
        return TRL_EINVAL;
    ZSTD_DCtx *dctx = z ? z->d : NULL;
    if (!dctx) {
        dctx = ZSTD_createDCtx();
        if (!dctx)
            return TRL_EINVAL;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, PROTO_WINDOW_LOG_MAX))) {
            ZSTD_freeDCtx(dctx);
            return TRL_EINVAL;
        }
        if (z)
            z->d = dctx;
    } else {
        /* A kept context may stop in the middle of a frame that was refused: start afresh (the
         * window limit is a parameter, which a session reset keeps). */
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    }
    int rc = TRL_EINVAL;
    trl_buf_reserve(out, (size_t)b->raw_len + 1);
    ZSTD_inBuffer in = {b->zdata, b->zlen, 0};
    /* One spare byte past raw_len reveals a frame that holds more than it said. */
    ZSTD_outBuffer o = {out->data, (size_t)b->raw_len + 1, 0};
    size_t ret;
    do {
        size_t before_in = in.pos, before_out = o.pos;
        ret = ZSTD_decompressStream(dctx, &o, &in);
        if (ZSTD_isError(ret) || o.pos > b->raw_len)
            goto out;
        if (ret != 0 && in.pos == before_in && o.pos == before_out)
            goto out; /* no progress: input ended inside the frame */
    } while (ret != 0);
    /* Exactly one frame, exactly raw_len bytes. */
    if (in.pos != in.size || o.pos != b->raw_len)
        goto out;
    out->len = o.pos;
    out->data[out->len] = '\0';
    if (out->data[out->len - 1] != '\n')
        goto out;
    /* Count the lines; an empty one is malformed (every event is a JSON object). */
    uint32_t lines = 0;
    const char *end = out->data + out->len;
    for (const char *p = out->data; p < end; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == p || lines >= b->count)
            goto out;
        p = nl + 1;
    }
    if (lines != b->count)
        goto out;
    rc = 0;
out:
    if (!z)
        ZSTD_freeDCtx(dctx);
    if (rc)
        trl_buf_reset(out);
    return rc;
}
