/*
 * Realistic events for the event store's tests and benchmark: syslog lines of the kinds a Linux
 * fleet sends (sshd, sudo, cron, PAM, systemd, kernel firewall, nginx access, auditd), with
 * varying hosts, users, addresses, ports and pids, parsed by the real parsers. Deterministic for
 * a given seed. No cmocka dependency, so the benchmark can include it too.
 */
#ifndef TRL_STORE_FIXTURE_H
#define TRL_STORE_FIXTURE_H

#include "core/arena.h"
#include "core/event.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/parse.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct fx_rng {
    uint64_t s;
};

static inline uint64_t fx_next(struct fx_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static inline unsigned fx_below(struct fx_rng *r, unsigned n)
{
    return (unsigned)(fx_next(r) % n);
}

static const char *const fx_hosts[] = {"web01", "web02",   "db01",       "db02",       "mail01",
                                       "vpn01", "bastion", "k8s-node-1", "k8s-node-2", "backup01"};
static const char *const fx_users[] = {"root",   "admin",    "deploy",   "alice",  "bob",
                                       "carol",  "postgres", "www-data", "ubuntu", "jenkins",
                                       "oracle", "test",     "guest",    "git",    "mallory"};
static const char *const fx_cmds[] = {"/usr/bin/apt-get update",
                                      "/usr/bin/systemctl restart nginx",
                                      "/bin/cat /etc/shadow",
                                      "/usr/bin/docker ps",
                                      "/usr/bin/journalctl -u ssh",
                                      "/usr/sbin/useradd -m svc",
                                      "/usr/bin/tail -f /var/log/syslog"};
static const char *const fx_paths[] = {"/",
                                       "/index.html",
                                       "/login",
                                       "/api/v1/users",
                                       "/wp-login.php",
                                       "/.git/config",
                                       "/static/app.js",
                                       "/images/logo.png",
                                       "/api/v1/orders?page=2",
                                       "/admin/",
                                       "/cgi-bin/test.cgi"};
static const char *const fx_agents[] = {
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36"),
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"};

static inline void fx_ip(struct fx_rng *r, char *out, size_t cap)
{
    switch (fx_below(r, 3)) {
    case 0:
        snprintf(out, cap, "10.%u.%u.%u", fx_below(r, 4), fx_below(r, 256), 1 + fx_below(r, 254));
        break;
    case 1:
        snprintf(out, cap, "192.168.%u.%u", fx_below(r, 8), 1 + fx_below(r, 254));
        break;
    default:
        snprintf(out, cap, "%u.%u.%u.%u", 1 + fx_below(r, 222), fx_below(r, 256), fx_below(r, 256),
                 1 + fx_below(r, 254));
    }
}

/* Writes one raw log line for time ts_ns into buf; returns its length. */
static inline size_t fx_line(struct fx_rng *r, int64_t ts_ns, char *buf, size_t cap)
{
    char ts[TRL_RFC3339_MAX], ip[32], ip2[32];
    trl_format_rfc3339(ts_ns, ts);
    ts[26] = 'Z'; /* microseconds, like rsyslog's RFC 5424 output */
    ts[27] = '\0';
    const char *host = fx_hosts[fx_below(r, TRL_ARRAY_LEN(fx_hosts))];
    const char *user = fx_users[fx_below(r, TRL_ARRAY_LEN(fx_users))];
    unsigned pid = 1000 + fx_below(r, 60000), port = 1024 + fx_below(r, 64000);
    fx_ip(r, ip, sizeof(ip));
    fx_ip(r, ip2, sizeof(ip2));
    int n;
    switch (fx_below(r, 12)) {
    case 0:
    case 1:
    case 2:
        n = snprintf(buf, cap,
                     "<38>1 %s %s sshd %u - - Failed password for %s%s from %s port %u ssh2", ts,
                     host, pid, fx_below(r, 3) ? "" : "invalid user ", user, ip, port);
        break;
    case 3:
        n = snprintf(buf, cap,
                     "<38>1 %s %s sshd %u - - Accepted publickey for %s from %s port %u ssh2: "
                     "ED25519 SHA256:%016llx%016llx",
                     ts, host, pid, user, ip, port, (unsigned long long)fx_next(r),
                     (unsigned long long)fx_next(r));
        break;
    case 4:
        n = snprintf(buf, cap,
                     "<85>1 %s %s sudo - - - %s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; "
                     "COMMAND=%s",
                     ts, host, user, fx_below(r, 8), user, fx_cmds[fx_below(r, 7)]);
        break;
    case 5:
        n = snprintf(buf, cap, "<78>1 %s %s CRON %u - - (%s) CMD (/usr/local/bin/backup.sh --%s)",
                     ts, host, pid, user, fx_below(r, 2) ? "full" : "incremental");
        break;
    case 6:
        n = snprintf(buf, cap,
                     "<86>1 %s %s sshd %u - - pam_unix(sshd:session): session opened for user "
                     "%s(uid=%u) by (uid=0)",
                     ts, host, pid, user, 1000 + fx_below(r, 50));
        break;
    case 7:
        n = snprintf(buf, cap,
                     "<4>1 %s %s kernel - - - [UFW BLOCK] IN=eth0 OUT= "
                     "MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=%s DST=%s LEN=60 "
                     "TOS=0x00 PREC=0x00 TTL=%u ID=%u DF PROTO=TCP SPT=%u DPT=%u WINDOW=64240 "
                     "RES=0x00 SYN URGP=0",
                     ts, host, ip, ip2, 40 + fx_below(r, 24), fx_below(r, 65535), port,
                     fx_below(r, 4) ? 22 : 3389);
        break;
    case 8:
    case 9: {
        char date[64];
        int64_t y;
        unsigned mo, d;
        static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        int64_t secs = ts_ns / TRL_NS_PER_SEC;
        trl_civil_from_days(secs / 86400, &y, &mo, &d);
        snprintf(date, sizeof(date), "%02u/%s/%04lld:%02u:%02u:%02u +0000", d, mon[mo - 1],
                 (long long)y, (unsigned)(secs % 86400 / 3600), (unsigned)(secs % 3600 / 60),
                 (unsigned)(secs % 60));
        static const unsigned status[] = {200, 200, 200, 301, 304, 404, 403, 500};
        n = snprintf(buf, cap, "%s - - [%s] \"%s %s HTTP/1.1\" %u %u \"-\" \"%s\"", ip, date,
                     fx_below(r, 5) ? "GET" : "POST", fx_paths[fx_below(r, 11)],
                     status[fx_below(r, 8)], 100 + fx_below(r, 50000),
                     fx_agents[fx_below(r, TRL_ARRAY_LEN(fx_agents))]);
        break;
    }
    case 10:
        n = snprintf(buf, cap, "<30>1 %s %s systemd 1 - - Started Session %u of User %s.", ts, host,
                     fx_below(r, 9000), user);
        break;
    default:
        n = snprintf(buf, cap,
                     "type=SYSCALL msg=audit(%lld.%03u:%u): arch=c000003e syscall=59 "
                     "success=yes exit=0 a0=55d0c3a4e2a0 a1=55d0c3a4e2c8 a2=7ffd6b1c1e58 a3=0 "
                     "items=2 ppid=%u pid=%u auid=%u uid=%u gid=%u euid=%u suid=0 fsuid=0 "
                     "egid=0 sgid=0 fsgid=0 tty=pts%u ses=%u comm=\"%s\" exe=\"/usr/bin/%s\" "
                     "key=\"exec\"",
                     (long long)(ts_ns / TRL_NS_PER_SEC), (unsigned)(ts_ns / 1000000 % 1000),
                     fx_below(r, 900000), pid - 1, pid, 1000 + fx_below(r, 20), fx_below(r, 1000),
                     fx_below(r, 1000), fx_below(r, 1000), fx_below(r, 8), fx_below(r, 500),
                     fx_below(r, 2) ? "bash" : "curl", fx_below(r, 2) ? "bash" : "curl");
    }
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Creates n parsed events in arena a, @timestamp from start_ns every step_ns (forced after
 * parsing, so tests know each event's time exactly). Returns the raw bytes generated. */
static inline size_t fx_events(struct trl_arena *a, struct fx_rng *r, struct trl_event **out,
                               size_t n, int64_t start_ns, int64_t step_ns)
{
    char line[2048];
    size_t raw = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = start_ns + (int64_t)i * step_ns;
        size_t len = fx_line(r, ts, line, sizeof(line));
        raw += len + 1;
        struct trl_event *ev = trl_event_create(a, line, len, ts + 1000000);
        trl_parse_event(ev, TRL_FORMAT_AUTO);
        ev->timestamp_ns = ts;
        out[i] = ev;
    }
    return raw;
}

#endif
