#include "cli/progress.h"
#include "core/timeutil.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>

struct trl_progress {
    uint64_t total;
    uint64_t done;
    int64_t started;
    int64_t last_draw;
};

struct trl_progress *trl_progress_create(bool enabled, uint64_t total)
{
    if (!enabled)
        return NULL;
    struct trl_progress *p = trl_xcalloc(1, sizeof(*p));
    p->total = total;
    p->started = trl_mono_ns();
    return p;
}

static void draw(struct trl_progress *p, int64_t now)
{
    double secs = (double)(now - p->started) / 1e9;
    double rate = secs > 0 ? (double)p->done / secs / 1e6 : 0;
    if (p->total) {
        int width = 30;
        double frac = (double)p->done / (double)p->total;
        if (frac > 1)
            frac = 1;
        int fill = (int)(frac * width);
        fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %.1f / %.1f MB  %.1f MB/s ", fill,
                "##############################", width - fill, "", frac * 100,
                (double)p->done / 1e6, (double)p->total / 1e6, rate);
    } else {
        fprintf(stderr, "\r%.1f MB  %.1f MB/s ", (double)p->done / 1e6, rate);
    }
}

void trl_progress_add(struct trl_progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done += done;
    int64_t now = trl_mono_ns();
    if (now - p->last_draw >= 200 * 1000 * 1000LL) {
        p->last_draw = now;
        draw(p, now);
    }
}

void trl_progress_destroy(struct trl_progress *p)
{
    if (!p)
        return;
    fprintf(stderr, "\r%80s\r", "");
    free(p);
}
