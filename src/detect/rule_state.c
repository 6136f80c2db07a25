#include "detect/rule_state.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void trl_rule_state_free(struct trl_rule_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ndisabled; i++)
        free(st->disabled[i]);
    free(st->disabled);
    st->disabled = NULL;
    st->ndisabled = 0;
}

bool trl_rule_state_is_disabled(const struct trl_rule_state *st, const char *id)
{
    if (!id || !st->ndisabled)
        return false;
    return bsearch(&id, st->disabled, st->ndisabled, sizeof(*st->disabled), cmp_ids) != NULL;
}

static int state_path(const char *data_dir, const char *name, char *out, size_t cap)
{
    return snprintf(out, cap, "%s/%s", data_dir, name) >= (int)cap ? -ENAMETOOLONG : 0;
}

int trl_rule_state_load(const char *data_dir, struct trl_rule_state *out)
{
    memset(out, 0, sizeof(*out));
    char path[4096];
    int rc = state_path(data_dir, TRL_RULE_STATE_FILE, path, sizeof(path));
    if (rc != 0)
        return rc;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return errno == ENOENT ? 0 : -errno;
    json_error_t jerr;
    json_t *root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
    fclose(fp);
    json_t *list = json_object_get(root, "disabled");
    if (!json_is_array(list)) {
        json_decref(root);
        return TRL_EINVAL;
    }
    size_t n = json_array_size(list);
    out->disabled = trl_xcalloc(n + 1, sizeof(*out->disabled));
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(list, i));
        if (id && *id)
            out->disabled[out->ndisabled++] = trl_xstrdup(id);
    }
    json_decref(root);
    if (out->ndisabled > 1)
        qsort(out->disabled, out->ndisabled, sizeof(*out->disabled), cmp_ids);
    /* Duplicates from a hand-edited file are dropped, so that one enable turns a rule on. */
    size_t w = 0;
    for (size_t i = 0; i < out->ndisabled; i++) {
        if (w && !strcmp(out->disabled[w - 1], out->disabled[i]))
            free(out->disabled[i]);
        else
            out->disabled[w++] = out->disabled[i];
    }
    out->ndisabled = w;
    return 0;
}

/* Files root creates in the data directory (`sudo trapline rules disable`) go to the directory's
 * owner, so that a server running as that user can still read and lock them. */
static int match_owner(int fd, const char *data_dir)
{
    struct stat st;
    if (geteuid() != 0 || stat(data_dir, &st) != 0 || st.st_uid == 0)
        return 0;
    return fchown(fd, st.st_uid, st.st_gid) == 0 ? 0 : -errno;
}

/* Writes the state to DATA/rules-state.json through a temporary file, fsync and rename. */
static int save(const char *data_dir, const struct trl_rule_state *st)
{
    json_t *list = json_array();
    for (size_t i = 0; i < st->ndisabled; i++)
        json_array_append_new(list, json_string(st->disabled[i]));
    json_t *root = json_pack("{s:o}", "disabled", list);
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    char tmp[4096], path[4096];
    int rc = state_path(data_dir, "." TRL_RULE_STATE_FILE ".tmp", tmp, sizeof(tmp));
    if (rc == 0)
        rc = state_path(data_dir, TRL_RULE_STATE_FILE, path, sizeof(path));
    int fd = rc == 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640) : -1;
    if (rc == 0 && fd < 0)
        rc = -errno;
    if (fd >= 0) {
        bool ok = match_owner(fd, data_dir) == 0 && write(fd, text, len) == (ssize_t)len &&
                  write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            rc = errno ? -errno : -EIO;
            unlink(tmp);
        }
    }
    free(text);
    return rc;
}

int trl_rule_state_set(const char *data_dir, const char *id, bool enabled, bool *changed)
{
    if (changed)
        *changed = false;
    if (!id || !*id)
        return TRL_EINVAL;
    char lock_path[4096];
    int rc = state_path(data_dir, "rules-state.lock", lock_path, sizeof(lock_path));
    if (rc != 0)
        return rc;
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (lock < 0)
        return -errno;
    if ((rc = match_owner(lock, data_dir)) != 0 || flock(lock, LOCK_EX) != 0) {
        rc = rc ? rc : -errno;
        close(lock);
        return rc;
    }
    struct trl_rule_state st;
    rc = trl_rule_state_load(data_dir, &st);
    if (rc != 0)
        goto out;
    bool off = trl_rule_state_is_disabled(&st, id);
    if (off == !enabled)
        goto out;
    if (enabled) {
        size_t w = 0;
        for (size_t i = 0; i < st.ndisabled; i++) {
            if (!strcmp(st.disabled[i], id))
                free(st.disabled[i]);
            else
                st.disabled[w++] = st.disabled[i];
        }
        st.ndisabled = w;
    } else {
        st.disabled = trl_xrealloc(st.disabled, (st.ndisabled + 1) * sizeof(*st.disabled));
        st.disabled[st.ndisabled++] = trl_xstrdup(id);
        qsort(st.disabled, st.ndisabled, sizeof(*st.disabled), cmp_ids);
    }
    rc = save(data_dir, &st);
    if (rc == 0 && changed)
        *changed = true;
out:
    trl_rule_state_free(&st);
    close(lock); /* releases the lock */
    return rc;
}
