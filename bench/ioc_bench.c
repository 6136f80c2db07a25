/*
 * Indicator matching benchmark (built and run by bench/ioc.sh).
 *
 *   ioc_bench INDICATORS EVENTS DIR      (DIR "-": leave the database out)
 *
 * Generates INDICATORS synthetic indicators in the mix of real feeds (addresses, networks,
 * domains, URLs, hashes), times building a matcher from memory, importing them into DIR/ioc.db and
 * loading a matcher from the database. Then generates EVENTS realistic log lines (sshd, sudo,
 * firewall, cron, web access, JSON DNS), times trl_parse_event() on them (the parsing part of
 * ingest) and times matching the parsed events against an empty matcher and the full one, with a
 * share of events that hit. Prints ns/event and the ratio of matching to parsing.
 */
#include "core/arena.h"
#include "core/timeutil.h"
#include "formats/parse.h"
#include "ioc/iocdb.h"
#include "ioc/matcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Indicator i of the synthetic set, always the same for the same i. */
static void make_indicator(uint32_t i, struct trl_ioc *ioc, char *v, size_t cap)
{
    uint32_t h = i * 2654435761u;
    ioc->value = v;
    /* Networks are rare in real feeds (Spamhaus DROP and EDROP together list about 1,500): 1 in
     * 400 here. */
    if (i % 400 == 8) {
        ioc->type = TRL_IOC_CIDR;
        snprintf(v, cap, "%u.%u.%u.0/%u", 11 + h % 180, h >> 8 & 255, h >> 16 & 255, 16 + i % 9);
        return;
    }
    switch (i % 20) {
    case 0 ... 8:
        ioc->type = TRL_IOC_IPV4;
        snprintf(v, cap, "%u.%u.%u.%u", 11 + h % 180, h >> 8 & 255, h >> 16 & 255, 1 + i % 250);
        break;
    case 9:
        ioc->type = TRL_IOC_IPV6;
        snprintf(v, cap, "2001:db8:%x:%x::%x", h & 0xffff, h >> 16, i & 0xffff);
        break;
    case 10 ... 13:
        ioc->type = TRL_IOC_DOMAIN;
        snprintf(v, cap, "%s%u.%s", i % 3 ? "cdn-" : "upd", i, i % 2 ? "example.net" : "example");
        break;
    case 14 ... 16:
        ioc->type = TRL_IOC_URL;
        snprintf(v, cap, "http://host%u.example/%x/payload.bin", i, h);
        break;
    case 17 ... 18:
        ioc->type = TRL_IOC_SHA256;
        snprintf(v, cap, "%08x%08x%08x%08x%08x%08x%08x%08x", i, h, ~i, ~h, i ^ 0x5555, h ^ 0xaaaa,
                 i * 3, h * 7);
        break;
    default:
        ioc->type = TRL_IOC_MD5;
        snprintf(v, cap, "%08x%08x%08x%08x", i, h, ~i, ~h);
        break;
    }
}

static char *line(char *buf, size_t cap, uint32_t n_ioc, bool hit)
{
    static const char *const users[] = {"alice", "bob", "root", "deploy", "admin", "www-data"};
    char ip[128], v[128];
    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", 10 + rnd() % 200, rnd() % 256, rnd() % 256,
             1 + rnd() % 254);
    if (hit) {
        struct trl_ioc ioc;
        make_indicator((rnd() % (n_ioc / 20 + 1)) * 20 + rnd() % 8, &ioc, v, sizeof(v));
        snprintf(ip, sizeof(ip), "%s", v);
    }
    const char *u = users[rnd() % 6];
    switch (rnd() % 6) {
    case 0:
        snprintf(buf, cap,
                 "<38>Jul %2u %02u:%02u:%02u web%02u sshd[%u]: Failed password for invalid user "
                 "%s from %s port %u ssh2",
                 1 + rnd() % 28, rnd() % 24, rnd() % 60, rnd() % 60, rnd() % 20,
                 300 + rnd() % 60000, u, ip, 1024 + rnd() % 60000);
        break;
    case 1:
        snprintf(buf, cap,
                 "<86>1 2024-07-%02uT%02u:%02u:%02u.%06uZ db01 sshd %u - - Accepted publickey "
                 "for %s from %s port %u ssh2: ED25519 SHA256:abcdef",
                 1 + rnd() % 28, rnd() % 24, rnd() % 60, rnd() % 60, rnd() % 1000000,
                 300 + rnd() % 60000, u, ip, 1024 + rnd() % 60000);
        break;
    case 2:
        snprintf(buf, cap,
                 "<4>Jul %2u %02u:%02u:%02u fw-edge kernel: [UFW BLOCK] IN=eth0 OUT= "
                 "MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=%s DST=10.0.0.5 LEN=60 "
                 "TOS=0x00 PREC=0x00 TTL=52 ID=%u DF PROTO=TCP SPT=%u DPT=22 WINDOW=64240 "
                 "RES=0x00 SYN URGP=0",
                 1 + rnd() % 28, rnd() % 24, rnd() % 60, rnd() % 60, ip, rnd() % 65535,
                 1024 + rnd() % 60000);
        break;
    case 3:
        snprintf(buf, cap,
                 "<85>Jul %2u %02u:%02u:%02u db01 sudo:  %s : TTY=pts/%u ; PWD=/home/%s ; "
                 "USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
                 1 + rnd() % 28, rnd() % 24, rnd() % 60, rnd() % 60, u, rnd() % 8, u);
        break;
    case 4:
        snprintf(buf, cap,
                 "%s - - [09/Jul/2024:22:%02u:%02u +0000] \"GET /uploads/img/%u.php?cmd=id "
                 "HTTP/1.1\" 200 %u \"-\" \"Mozilla/5.0 (X11; Linux x86_64) curl/8.%u\"",
                 ip, rnd() % 60, rnd() % 60, rnd(), rnd() % 100000, rnd() % 9);
        break;
    default:
        snprintf(buf, cap,
                 "{\"@timestamp\":\"2024-07-09T22:31:02Z\",\"source\":{\"ip\":\"%s\"},"
                 "\"dns\":{\"question\":{\"name\":\"%s%u.cdn.example.%s\"}},"
                 "\"event\":{\"category\":[\"network\"]}}",
                 ip, hit ? "upd" : "www", rnd() % 100000, hit ? "net" : "org");
        break;
    }
    return buf;
}

static double ns_per(int64_t t, size_t n)
{
    return (double)t / (double)n;
}

/* The same event lines as the matching measurement, written to a file for an end-to-end run of
 * `trapline ingest` (1 line in 100 carries one of the first nioc indicators). */
static int write_lines(uint32_t nioc, size_t nev, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    char buf[1024];
    for (size_t i = 0; i < nev; i++) {
        line(buf, sizeof(buf), nioc, i % 100 == 0);
        fprintf(f, "%s\n", buf);
    }
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--lines"))
        return write_lines((uint32_t)strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
                           argv[4]);
    if (argc != 4) {
        fprintf(stderr, "usage: ioc_bench INDICATORS EVENTS DIR\n"
                        "       ioc_bench --lines INDICATORS EVENTS FILE\n");
        return 2;
    }
    uint32_t nioc = (uint32_t)strtoul(argv[1], NULL, 10);
    size_t nev = strtoul(argv[2], NULL, 10);
    const char *dir = argv[3];
    char v[256];

    /* Build from memory. */
    int64_t t0 = trl_mono_ns();
    struct trl_ioc_builder *b = trl_ioc_builder_create(NULL);
    for (uint32_t i = 0; i < nioc; i++) {
        struct trl_ioc ioc = {.source = "bench", .confidence = 60};
        make_indicator(i, &ioc, v, sizeof(v));
        if (trl_ioc_builder_add(b, &ioc, NULL) != 0) {
            fprintf(stderr, "bad synthetic indicator %s\n", v);
            return 1;
        }
    }
    int64_t t1 = trl_mono_ns();
    struct trl_ioc_matcher *m = trl_ioc_builder_finish(b);
    int64_t t2 = trl_mono_ns();
    printf("indicators                   %u\n", nioc);
    printf("matcher from memory          %.2f s (adding %.2f s, tables %.2f s), %.0f MB\n",
           (double)(t2 - t0) / 1e9, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
           (double)trl_ioc_matcher_memory(m) / 1e6);

    /* Through the database, as `trapline ioc import` and a reloading server do (DIR "-": not). */
    int64_t now = trl_now_ns();
    if (strcmp(dir, "-") == 0)
        goto events;
    char path[4096];
    snprintf(path, sizeof(path), "%s/ioc.db", dir);
    unlink(path);
    struct trl_iocdb *db = trl_iocdb_open(dir, false);
    if (!db)
        return 1;
    t0 = trl_mono_ns();
    trl_iocdb_begin(db);
    for (uint32_t i = 0; i < nioc; i++) {
        struct trl_ioc ioc = {.source = "bench", .confidence = 60};
        make_indicator(i, &ioc, v, sizeof(v));
        if (trl_iocdb_upsert(db, &ioc, now, NULL) != 0)
            return 1;
    }
    trl_iocdb_commit(db);
    t1 = trl_mono_ns();
    struct trl_ioc_matcher *mdb;
    struct trl_ioc_build_opts bo = {.now_ns = now};
    if (trl_iocdb_build_matcher(db, &bo, &mdb) != 0)
        return 1;
    t2 = trl_mono_ns();
    trl_iocdb_close(db);
    printf("database import              %.2f s\n", (double)(t1 - t0) / 1e9);
    printf("matcher from database        %.2f s (%zu indicators)\n", (double)(t2 - t1) / 1e9,
           trl_ioc_matcher_count(mdb));
    trl_ioc_matcher_unref(mdb);

events:;

    /* Events in batches as the pipeline has them: a batch is parsed (the ingest side), then
     * matched while its events are still warm, against no indicators and against all of them.
     * 1 event in 100 carries an indicator. */
    enum { BATCH = 2048 };
    struct trl_arena *arena = trl_arena_create(1 << 20);
    struct trl_event *evs[BATCH];
    struct trl_ioc_matcher *empty = trl_ioc_builder_finish(trl_ioc_builder_create(NULL));
    /* One indicator of a kind no generated event has: the cost of walking each event's fields. */
    struct trl_ioc_builder *wb = trl_ioc_builder_create(NULL);
    struct trl_ioc ua = {.type = TRL_IOC_USER_AGENT, .value = "none", .source = "bench"};
    trl_ioc_builder_add(wb, &ua, NULL);
    struct trl_ioc_matcher *walk = trl_ioc_builder_finish(wb);
    static char lines[BATCH][1024];
    int64_t parse_ns = 0, empty_ns = 0, walk_ns = 0, full_ns = 0;
    size_t hits = 0;
    for (size_t done = 0; done < nev;) {
        size_t n = nev - done < BATCH ? nev - done : BATCH;
        trl_arena_reset(arena);
        for (size_t i = 0; i < n; i++)
            line(lines[i], sizeof(lines[i]), nioc, (done + i) % 100 == 0);
        int64_t a = trl_mono_ns();
        for (size_t i = 0; i < n; i++) {
            evs[i] = trl_event_create(arena, lines[i], strlen(lines[i]), now);
            trl_parse_event(evs[i], TRL_FORMAT_AUTO);
        }
        int64_t c = trl_mono_ns();
        for (size_t i = 0; i < n; i++)
            trl_ioc_match_event(empty, evs[i], NULL, NULL);
        int64_t d = trl_mono_ns();
        hits += trl_ioc_match_batch(m, evs, n, NULL, NULL);
        int64_t e = trl_mono_ns();
        trl_ioc_match_batch(walk, evs, n, NULL, NULL);
        int64_t f = trl_mono_ns();
        parse_ns += c - a;
        empty_ns += d - c;
        full_ns += e - d;
        walk_ns += f - e;
        done += n;
    }
    double parse = ns_per(parse_ns, nev);
    printf("events                       %zu (%zu hits)\n", nev, hits);
    printf("parse (trl_parse_event)      %.0f ns/event (%.0f events/s)\n", parse, 1e9 / parse);
    printf("match, 0 indicators          %.1f ns/event\n", ns_per(empty_ns, nev));
    printf("match, %u indicators    %.1f ns/event (%.1f%% of parsing)\n", nioc,
           ns_per(full_ns, nev), 100.0 * ns_per(full_ns, nev) / parse);
    printf("  of which walking the fields %.1f ns/event\n", ns_per(walk_ns, nev));
    trl_ioc_matcher_unref(empty);
    trl_ioc_matcher_unref(walk);
    trl_arena_destroy(arena);
    int64_t fa = trl_mono_ns();
    trl_ioc_matcher_unref(m);
    printf("freeing the matcher          %.1f ms\n", (double)(trl_mono_ns() - fa) / 1e6);
    return 0;
}
