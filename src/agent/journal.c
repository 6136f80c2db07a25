#include "agent/journal.h"

#include "agent/statefile.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_in.h"
#include "formats/normalize.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

/* A cursor is about 120 bytes; anything much longer in the state file is not one of ours. */
#define CURSOR_MAX 1024

struct trl_journal {
    sd_journal *j;
    char *state_path;
    char *cursor; /* of the last entry delivered (from sd_journal, free()d) */
    bool dirty;   /* cursor changed since the last commit */
};

static int add_matches(sd_journal *j, const char *const *matches)
{
    for (size_t i = 0; matches && matches[i]; i++) {
        const char *m = matches[i];
        const char *eq = strchr(m, '=');
        if (!eq || eq == m)
            return TRL_EINVAL;
        if (i > 0 && sd_journal_add_disjunction(j) < 0)
            return TRL_EINVAL;
        if (sd_journal_add_match(j, m, 0) < 0)
            return TRL_EINVAL;
    }
    return 0;
}

/* Places the read position so that the next sd_journal_next() returns the first entry to deliver.
 */
static int position(struct trl_journal *jr, bool read_existing)
{
    char *saved = NULL;
    size_t len = 0;
    int rc = jr->state_path ? trl_state_read(jr->state_path, CURSOR_MAX, &saved, &len) : -ENOENT;
    if (rc == 0 && len > 0) {
        while (len > 0 && (saved[len - 1] == '\n' || saved[len - 1] == '\r'))
            saved[--len] = '\0';
        if (sd_journal_seek_cursor(jr->j, saved) >= 0) {
            /* seek_cursor lands on that entry or, when it was rotated away, the nearest one: only
             * the entry itself was delivered before. */
            int r = sd_journal_next(jr->j);
            if (r > 0 && sd_journal_test_cursor(jr->j, saved) <= 0)
                sd_journal_previous(jr->j);
            jr->cursor = saved;
            return 0;
        }
        trl_warn("journal", "the saved cursor is not usable, starting at the end path=%s",
                 jr->state_path);
    }
    free(saved);
    if (read_existing)
        return sd_journal_seek_head(jr->j);
    /* At the tail, step back onto the last entry so that the next read returns only new ones. */
    rc = sd_journal_seek_tail(jr->j);
    if (rc >= 0)
        sd_journal_previous(jr->j);
    return rc < 0 ? rc : 0;
}

int trl_journal_create(const struct trl_journal_config *cfg, struct trl_journal **out)
{
    *out = NULL;
    struct trl_journal *jr = calloc(1, sizeof(*jr));
    if (!jr)
        return -ENOMEM;
    int rc = cfg->directory ? sd_journal_open_directory(&jr->j, cfg->directory, 0)
                            : sd_journal_open(&jr->j, SD_JOURNAL_LOCAL_ONLY);
    if (rc < 0)
        goto fail;
    sd_journal_set_data_threshold(jr->j, cfg->max_field ? cfg->max_field : 64 * 1024);
    rc = add_matches(jr->j, cfg->matches);
    if (rc < 0)
        goto fail;
    if (cfg->state_path && !(jr->state_path = strdup(cfg->state_path))) {
        rc = -ENOMEM;
        goto fail;
    }
    /* Watching starts with the first sd_journal_get_fd(): without it, files the journal adds
     * later (rotation, a new boot) would never be seen. */
    if (sd_journal_get_fd(jr->j) < 0)
        trl_warn("journal", "cannot watch the journal, new files are seen only on reopen");
    rc = position(jr, cfg->read_existing);
    if (rc < 0)
        goto fail;
    *out = jr;
    return 0;
fail:
    trl_journal_destroy(jr);
    return rc;
}

void trl_journal_destroy(struct trl_journal *j)
{
    if (!j)
        return;
    sd_journal_close(j->j);
    free(j->state_path);
    free(j->cursor);
    free(j);
}

int trl_journal_fd(struct trl_journal *j)
{
    return sd_journal_get_fd(j->j);
}

/* The entry as the object `journalctl -o json` would print (first value of a repeated field),
 * which the JSON input's journald mapping then reads. */
static struct json_object *entry_object(sd_journal *j)
{
    struct json_object *obj = json_object_new_object();
    if (!obj)
        return NULL;
    const void *data;
    size_t len;
    SD_JOURNAL_FOREACH_DATA(j, data, len)
    {
        const char *d = data, *eq = memchr(d, '=', len);
        if (!eq || eq == d || (size_t)(eq - d) >= 256)
            continue;
        char key[256];
        memcpy(key, d, (size_t)(eq - d));
        key[eq - d] = '\0';
        if (json_object_object_get_ex(obj, key, NULL))
            continue;
        size_t vlen = len - (size_t)(eq - d) - 1;
        json_object_object_add(obj, key, json_object_new_string_len(eq + 1, (int)vlen));
    }
    uint64_t usec;
    if (sd_journal_get_realtime_usec(j, &usec) >= 0) {
        char num[24];
        snprintf(num, sizeof(num), "%llu", (unsigned long long)usec);
        json_object_object_add(obj, "__REALTIME_TIMESTAMP", json_object_new_string(num));
    }
    return obj;
}

static struct trl_event *entry_event(sd_journal *j, struct trl_arena *arena)
{
    struct json_object *obj = entry_object(j);
    if (!obj)
        return NULL;
    struct json_object *msg = NULL;
    const char *text = "";
    size_t len = 0;
    if (json_object_object_get_ex(obj, "MESSAGE", &msg)) {
        text = json_object_get_string(msg);
        len = (size_t)json_object_get_string_len(msg);
    }
    struct trl_event *ev = trl_event_create(arena, text, len, trl_now_ns());
    trl_json_parse_journald(ev, obj);
    json_object_put(obj);
    if (!ev->timestamp_ns)
        ev->timestamp_ns = ev->received_ns;
    ev->format = "journald";
    trl_normalize(ev);
    return ev;
}

int trl_journal_poll(struct trl_journal *j, struct trl_arena *arena, size_t max, trl_journal_cb cb,
                     void *ud)
{
    /* Lets sd_journal notice rotated, added and removed files before reading on. */
    sd_journal_process(j->j);
    int n = 0;
    while (max == 0 || (size_t)n < max) {
        int r = sd_journal_next(j->j);
        if (r < 0)
            return n > 0 ? n : r;
        if (r == 0)
            break;
        char *cursor = NULL;
        if (sd_journal_get_cursor(j->j, &cursor) < 0)
            cursor = NULL;
        struct trl_event *ev = entry_event(j->j, arena);
        if (cursor) {
            free(j->cursor);
            j->cursor = cursor;
            j->dirty = true;
        }
        if (!ev)
            continue;
        n++;
        if (cb(ud, ev) != 0)
            break;
    }
    return n;
}

int trl_journal_commit(struct trl_journal *j)
{
    if (!j->state_path || !j->dirty || !j->cursor)
        return 0;
    int rc = trl_state_write(j->state_path, j->cursor, strlen(j->cursor));
    if (rc == 0)
        j->dirty = false;
    return rc;
}
