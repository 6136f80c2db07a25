#include "store/chain.h"

#include <stdlib.h>
#include <string.h>

static void must_init(struct trl_sha256 *h)
{
    /* Running out of memory for a 200-byte OpenSSL context is not recoverable here. */
    if (trl_sha256_init(h) != 0)
        abort();
}

void trl_chain_genesis(const char *day, uint8_t out[TRL_SHA256_LEN])
{
    struct trl_sha256 h;
    must_init(&h);
    trl_sha256_bytes(&h, "trapline-genesis-1", 18);
    trl_sha256_bytes(&h, day, strlen(day));
    trl_sha256_final(&h, out);
}

void trl_chain_entry_hash(const char *day, const struct trl_chain_entry *e,
                          uint8_t out[TRL_SHA256_LEN])
{
    struct trl_sha256 h;
    must_init(&h);
    trl_sha256_bytes(&h, "trapline-chain-1", 16);
    trl_sha256_bytes(&h, day, strlen(day));
    trl_sha256_u64(&h, e->seq);
    trl_sha256_u8(&h, (uint8_t)e->kind);
    trl_sha256_u32(&h, e->count);
    trl_sha256_u64(&h, (uint64_t)e->min_ts);
    trl_sha256_u64(&h, (uint64_t)e->max_ts);
    trl_sha256_update(&h, e->content_hash, TRL_SHA256_LEN);
    trl_sha256_update(&h, e->events_digest, TRL_SHA256_LEN);
    trl_sha256_bytes(&h, e->replaces, e->replaces_len);
    trl_sha256_u64(&h, (uint64_t)e->at_ns);
    trl_sha256_update(&h, e->prev_hash, TRL_SHA256_LEN);
    trl_sha256_final(&h, out);
}

void trl_block_content_hash(uint64_t id, int64_t min_ts, int64_t max_ts, uint32_t count,
                            const void *meta, size_t meta_len, const void *data, size_t data_len,
                            uint8_t out[TRL_SHA256_LEN])
{
    struct trl_sha256 h;
    must_init(&h);
    trl_sha256_bytes(&h, "trapline-block-1", 16);
    trl_sha256_u64(&h, id);
    trl_sha256_u64(&h, (uint64_t)min_ts);
    trl_sha256_u64(&h, (uint64_t)max_ts);
    trl_sha256_u32(&h, count);
    trl_sha256_bytes(&h, meta, meta_len);
    trl_sha256_bytes(&h, data, data_len);
    trl_sha256_final(&h, out);
}

size_t trl_head_message(const char *scope, uint64_t seq, const uint8_t hash[TRL_SHA256_LEN],
                        uint8_t *buf)
{
    size_t n = 0;
    memcpy(buf, "trapline-head-1:", 16);
    n += 16;
    size_t sl = strlen(scope);
    if (sl > 24)
        sl = 24;
    buf[n++] = (uint8_t)sl;
    memcpy(buf + n, scope, sl);
    n += sl;
    trl_put_u64le(buf + n, seq);
    n += 8;
    memcpy(buf + n, hash, TRL_SHA256_LEN);
    return n + TRL_SHA256_LEN;
}
