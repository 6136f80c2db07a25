/*
 * overview: what GET /api/v1/overview (the console's landing page) counts, kept per minute.
 *
 * The page shows events per minute and the ten most frequent hosts and programs over a range
 * (24 hours by default) and asks again every 30 seconds. Counting a day of events each time costs
 * three passes over the store, so the counts of each whole minute are kept: a minute that ended
 * more than two minutes before it was counted is served from the cache for ten to twenty minutes
 * (late events show up when it is counted again), a more recent one for five seconds. The cache
 * holds the last seven days of minutes; longer ranges are counted from the store every time. The
 * alerts by level of the same minutes are kept for five seconds.
 *
 * The cache belongs to the web server (struct trl_web); any HTTP thread may use it (it has its
 * own lock, not held while the store is read).
 */
#ifndef TRL_WEB_OVERVIEW_H
#define TRL_WEB_OVERVIEW_H

struct trl_overview_cache;

struct trl_overview_cache *trl_overview_cache_create(void);
/* NULL-safe. */
void trl_overview_cache_destroy(struct trl_overview_cache *c);

#endif
