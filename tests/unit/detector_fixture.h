/* A fixture for unit tests of the detector: a temporary directory with rules/ (the rule files the
 * detector loads) and data/ (its alerts.db), and batches of hand-made events fed to it. Each test
 * writes its rules, starts the detector and feeds it; teardown removes everything. */
#ifndef TRL_DETECTOR_FIXTURE_H
#define TRL_DETECTOR_FIXTURE_H

#include "trl_test.h"

#include "detect/detector.h"
#include "detect/sigma.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC 1000000000LL

struct fixture {
    char dir[64];
    char rules[96];
    char data[96];
    const char *paths[1]; /* {rules}, as the detector takes them */
    int64_t fold_window_ns;
    struct trl_arena *arena;
    struct trl_detector *det;
    uint64_t next_id; /* event.id of the next event fed */
    int64_t now;      /* @timestamp of the last event fed */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/trl-detector-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->rules, sizeof(f->rules), "%s/rules", f->dir);
    snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
    assert_int_equal(mkdir(f->rules, 0700), 0);
    assert_int_equal(mkdir(f->data, 0700), 0);
    f->paths[0] = f->rules;
    f->arena = trl_arena_create(0);
    f->next_id = 0x100;
    f->now = 1795773600LL * SEC;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    trl_detector_destroy(f->det);
    trl_arena_destroy(f->arena);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Writes (or replaces) the rule file rules/name. */
static inline void write_rule(struct fixture *f, const char *name, const char *yaml)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", f->rules, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
}

/* Starts the detector over rules/, with the fixture's fold window (0: no folding). */
static inline void start(struct fixture *f)
{
    struct trl_detector_config c = {.rule_paths = f->paths,
                                    .nrule_paths = 1,
                                    .data_dir = f->data,
                                    .fold_window_ns = f->fold_window_ns};
    f->det = trl_detector_create(&c);
    assert_non_null(f->det);
}

/* Runs one batch of n events from host web01, each with event.action action and source.ip ip,
 * one second apart. Returns how many alerts the batch raised. */
static inline uint64_t feed(struct fixture *f, const char *action, const char *ip, int n)
{
    struct trl_event *evs[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        f->now += SEC;
        struct trl_event *ev = trl_event_create(f->arena, "{}", 2, f->now);
        ev->timestamp_ns = f->now;
        char id[17];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)f->next_id++);
        trl_event_set_str(ev, TRL_F_EVENT_ID, id);
        trl_event_set_str(ev, TRL_F_EVENT_ACTION, action);
        trl_event_set_str(ev, TRL_F_SOURCE_IP, ip);
        trl_event_set_str(ev, TRL_F_HOST_NAME, "web01");
        evs[i] = ev;
    }
    struct trl_batch b = {.arena = f->arena, .events = evs, .nevents = (uint32_t)n};
    struct trl_detector_stats before, after;
    trl_detector_get_stats(f->det, &before);
    assert_int_equal(trl_detector_process(f->det, &b), 0);
    trl_detector_get_stats(f->det, &after);
    return after.matches - before.matches;
}

#endif
