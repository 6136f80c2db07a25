#include "agent/offsets.h"

#include "agent/crc32c.h"
#include "agent/statefile.h"
#include "core/buf.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define OFFSETS_MAGIC    "trapline-offsets 1\n"
#define OFFSETS_MAX_FILE (16u << 20)

void trl_offsets_add(struct trl_offsets *o, const char *path, uint64_t dev, uint64_t ino,
                     uint64_t offset, uint64_t aux)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->v = trl_xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    o->v[o->n++] = (struct trl_offset_entry){
        .path = trl_xstrdup(path), .dev = dev, .ino = ino, .offset = offset, .aux = aux};
}

struct trl_offset_entry *trl_offsets_find(const struct trl_offsets *o, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->v[i].dev == dev && o->v[i].ino == ino)
            return &o->v[i];
    }
    return NULL;
}

void trl_offsets_free(struct trl_offsets *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i].path);
    free(o->v);
    memset(o, 0, sizeof(*o));
}

/* Reads one space-terminated unsigned decimal field. */
static bool take_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    const char *sp = memchr(s, ' ', (size_t)(end - s));
    if (!sp || !trl_parse_u64(s, (size_t)(sp - s), out))
        return false;
    *p = sp + 1;
    return true;
}

int trl_offsets_parse(const char *p, size_t len, struct trl_offsets *o)
{
    const char *end = p + len;
    size_t ml = strlen(OFFSETS_MAGIC);
    if (len < ml || memcmp(p, OFFSETS_MAGIC, ml) != 0)
        return TRL_EINVAL;
    const char *s = p + ml;
    uint64_t count = 0;
    while (s < end) {
        if (trl_starts_with(s, (size_t)(end - s), "end ")) {
            /* "end <count> <crc>\n" closes the file; the CRC covers every byte before "end". */
            uint32_t want = trl_crc32c(0, p, (size_t)(s - p));
            const char *q = s + 4;
            uint64_t n, crc;
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            if (!nl || nl + 1 != end || !take_u64(&q, nl, &n))
                goto bad;
            if (!trl_parse_u64(q, (size_t)(nl - q), &crc) || crc != want || n != count)
                goto bad;
            return 0;
        }
        uint64_t dev, ino, off, aux, plen;
        if (!take_u64(&s, end, &dev) || !take_u64(&s, end, &ino) || !take_u64(&s, end, &off) ||
            !take_u64(&s, end, &aux) || !take_u64(&s, end, &plen))
            goto bad;
        if (plen == 0 || plen >= (uint64_t)(end - s) || s[plen] != '\n' || memchr(s, '\0', plen))
            goto bad;
        char *path = trl_xstrndup(s, (size_t)plen);
        trl_offsets_add(o, path, dev, ino, off, aux);
        free(path);
        s += plen + 1;
        count++;
    }
bad:
    trl_offsets_free(o);
    return TRL_EINVAL;
}

int trl_offsets_load(const char *path, struct trl_offsets *o)
{
    char *data;
    size_t len;
    int rc = trl_state_read(path, OFFSETS_MAX_FILE, &data, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    rc = trl_offsets_parse(data, len, o);
    free(data);
    return rc;
}

int trl_offsets_save(const char *path, const struct trl_offsets *o)
{
    struct trl_buf b = {0};
    trl_buf_puts(&b, OFFSETS_MAGIC);
    for (size_t i = 0; i < o->n; i++) {
        const struct trl_offset_entry *e = &o->v[i];
        trl_buf_printf(&b, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu ", e->dev, e->ino,
                       e->offset, e->aux, strlen(e->path));
        trl_buf_puts(&b, e->path);
        trl_buf_putc(&b, '\n');
    }
    uint32_t crc = trl_crc32c(0, b.data, b.len);
    trl_buf_printf(&b, "end %zu %" PRIu32 "\n", o->n, crc);
    int rc = trl_state_write(path, b.data, b.len);
    trl_buf_free(&b);
    return rc;
}
