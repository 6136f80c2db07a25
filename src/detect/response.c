/*
 * Active response (see response.h): deciding, checking and running actions, the action thread,
 * and the events that record them.
 */
#include "detect/response.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "formats/json_encode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_QUEUE         1024
#define MAX_BLOCKS        65536
#define DEFAULT_TIMEOUT_S 3600
/* Agent ids are at most 128 characters (the listener refuses longer ones). */
#define AGENT_ID_MAX 160
/* nft's own limit on element timeouts is far above this; a month bounds a mistake. */
#define MAX_TIMEOUT_S (30LL * 86400)
/* Above one tick at the lowest usual HZ (100). */
#define KERNEL_TICK_MARGIN_NS (20LL * 1000000)

static const char *const action_names[] = {"block-ip", "kill-process", "lock-account"};

struct net {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

struct by_rule {
    char *rule_id;
    enum trl_response_action action;
    int64_t timeout_s;
};

struct block {
    char ip[INET6_ADDRSTRLEN];
    int64_t expires_ns;
    char rule_id[128];
};

struct trl_response {
    struct by_rule *rules;
    size_t nrules;
    int min_level;
    enum trl_response_action level_action;
    int64_t timeout_s;
    struct net *allow; /* configured, loopback, unspecified and own addresses */
    size_t nallow;
    bool lock_system_accounts;
    int64_t self_pid;
    struct trl_response_ops ops;
    bool synchronous;
    bool nft_ready;
    struct block *blocks; /* active blocks, for ip-unblocked events */
    size_t nblocks;

    pthread_mutex_t lock; /* queue, stop, emit */
    pthread_cond_t cond;
    struct trl_response_request queue[MAX_QUEUE];
    size_t qhead, qlen;
    uint64_t dropped;
    bool stop;
    pthread_t thread;
    bool started;
    void (*emit)(void *ud, const char *json, size_t len);
    void *emit_ud;
    int (*route)(void *ud, const char *agent_id, const struct trl_response_request *req, char *err,
                 size_t errlen);
    void *route_ud;
};

const char *trl_response_action_name(enum trl_response_action a)
{
    return (size_t)a < TRL_ARRAY_LEN(action_names) ? action_names[a] : "unknown";
}

static int action_from(const char *s, size_t len)
{
    for (size_t i = 0; i < TRL_ARRAY_LEN(action_names); i++) {
        if (strlen(action_names[i]) == len && !strncmp(s, action_names[i], len))
            return (int)i;
    }
    return -1;
}

void trl_response_config_from(struct trl_response_config *out, const struct trl_config *cfg)
{
    *out = (struct trl_response_config){
        .rules = (const char *const *)cfg->response.rules.items,
        .nrules = cfg->response.rules.count,
        .min_level = cfg->response.min_level,
        .level_action = (enum trl_response_action)cfg->response.action,
        .timeout_ms = cfg->response.timeout_ms,
        .allowlist = (const char *const *)cfg->response.allowlist.items,
        .nallowlist = cfg->response.allowlist.count,
        .lock_system_accounts = cfg->response.lock_system_accounts,
    };
}

bool trl_response_configured(const struct trl_response_config *c)
{
    return c->nrules > 0 || c->min_level > 0;
}

/* ---- the real system ---- */

static int sys_run(void *ud, const char *const *argv, char *err, size_t errlen)
{
    (void)ud;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -rc;
    }
    /* The first line of what the program said on standard error is the reason of a failure. */
    char msg[512];
    size_t n = 0;
    ssize_t r;
    while ((r = read(pipefd[0], msg + n, sizeof(msg) - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
        if (n == sizeof(msg) - 1) {
            char sink[512];
            while (read(pipefd[0], sink, sizeof(sink)) > 0)
                ;
            break;
        }
    }
    msg[n] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s exited with status %d: %s", argv[0], WEXITSTATUS(status), msg);
    else
        snprintf(err, errlen, "%s was killed by signal %d", argv[0], WTERMSIG(status));
    return TRL_EINVAL;
}

static int sys_kill(void *ud, int64_t pid, char *err, size_t errlen)
{
    (void)ud;
    if (kill((pid_t)pid, SIGKILL) != 0) {
        snprintf(err, errlen, "kill %lld: %s", (long long)pid, strerror(errno));
        return -errno;
    }
    return 0;
}

static int sys_user_uid(void *ud, const char *user, int64_t *uid)
{
    (void)ud;
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return -ENOENT;
    *uid = (int64_t)res->pw_uid;
    return 0;
}

static void sys_own_addresses(void *ud, void (*add)(void *ctx, const char *ip), void *ctx)
{
    (void)ud;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        char ip[INET6_ADDRSTRLEN];
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof(ip));
        else if (i->ifa_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip, sizeof(ip));
        else
            continue;
        add(ctx, ip);
    }
    freeifaddrs(ifs);
}

static const struct trl_response_ops sys_ops = {
    .run = sys_run,
    .kill = sys_kill,
    .user_uid = sys_user_uid,
    .own_addresses = sys_own_addresses,
};

/* ---- addresses ---- */

/* Parses "ADDR" or "ADDR/BITS". */
static bool parse_net(const char *s, struct net *out)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr))
        return false;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof(*out));
    out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, addr, out->addr) != 1)
        return false;
    int max = out->family == AF_INET ? 32 : 128;
    out->bits = max;
    if (slash) {
        uint64_t b;
        if (!trl_parse_u64(slash + 1, strlen(slash + 1), &b) || b > (uint64_t)max)
            return false;
        out->bits = (int)b;
    }
    return true;
}

static bool net_contains(const struct net *n, const struct net *ip)
{
    if (n->family != ip->family)
        return false;
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->addr, ip->addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (n->addr[full] & mask) == (ip->addr[full] & mask);
}

static void allow_add(struct trl_response *r, const struct net *n)
{
    r->allow = trl_xrealloc(r->allow, (r->nallow + 1) * sizeof(*r->allow));
    r->allow[r->nallow++] = *n;
}

static void add_own(void *ctx, const char *ip)
{
    struct net n;
    if (parse_net(ip, &n))
        allow_add(ctx, &n);
}

/* An IPv4 address written as IPv6 (::ffff:a.b.c.d) is checked as IPv4. */
static void unmap(struct net *ip)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (ip->family == AF_INET6 && !memcmp(ip->addr, prefix, 12)) {
        memmove(ip->addr, ip->addr + 12, 4);
        memset(ip->addr + 4, 0, 12);
        ip->family = AF_INET;
        ip->bits = 32;
    }
}

bool trl_response_ip_protected(struct trl_response *r, const char *ip)
{
    struct net n;
    if (strchr(ip, '/') || !parse_net(ip, &n))
        return true;
    unmap(&n);
    for (size_t i = 0; i < r->nallow; i++) {
        if (net_contains(&r->allow[i], &n))
            return true;
    }
    return false;
}

/* The canonical text of an address (so that only inet_ntop's output reaches nft), or false. */
static bool canonical_ip(const char *ip, char *out, size_t outlen, int *family)
{
    struct net n;
    if (strchr(ip, '/') || !parse_net(ip, &n))
        return false;
    unmap(&n);
    *family = n.family;
    return inet_ntop(n.family, n.addr, out, (socklen_t)outlen) != NULL;
}

/* ---- events ---- */

static void put_key_str(struct trl_buf *b, const char *key, const char *v)
{
    trl_buf_printf(b, ",\"%s\":", key);
    trl_json_append_string(b, v, strlen(v));
}

/* One response event. target_kind: "ip", "pid" or "user"; outcome_err NULL for success. */
static void emit_event(struct trl_response *r, const char *action, const char *type,
                       const struct trl_response_request *req, const char *outcome_err,
                       int64_t expires_ns)
{
    char ts[TRL_RFC3339_MAX];
    trl_format_rfc3339(trl_now_ns(), ts);
    struct trl_buf b = {0};
    trl_buf_printf(&b,
                   "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\","
                   "\"category\":[\"intrusion_detection\"],\"type\":[\"%s\"],"
                   "\"action\":\"%s\",\"outcome\":\"%s\"",
                   ts, type, action, outcome_err ? "failure" : "success");
    if (outcome_err)
        put_key_str(&b, "reason", outcome_err);
    if (expires_ns) {
        char end[TRL_RFC3339_MAX];
        trl_format_rfc3339(expires_ns, end);
        trl_buf_printf(&b, ",\"end\":\"%s\"", end);
    }
    trl_buf_puts(&b, "},\"rule\":{\"id\":");
    trl_json_append_string(&b, req->rule_id, strlen(req->rule_id));
    trl_buf_puts(&b, "}");
    if (req->action == TRL_RESPONSE_BLOCK_IP) {
        trl_buf_puts(&b, ",\"source\":{\"ip\":");
        trl_json_append_string(&b, req->target, strlen(req->target));
        trl_buf_puts(&b, "}");
    } else if (req->action == TRL_RESPONSE_KILL_PROCESS) {
        /* A number, as in ECS; a refused target that is not one stays text. */
        uint64_t pid;
        trl_buf_puts(&b, ",\"process\":{\"pid\":");
        if (trl_parse_u64(req->target, strlen(req->target), &pid))
            trl_buf_printf(&b, "%llu", (unsigned long long)pid);
        else
            trl_json_append_string(&b, req->target, strlen(req->target));
        trl_buf_puts(&b, "}");
    } else {
        trl_buf_puts(&b, ",\"user\":{\"name\":");
        trl_json_append_string(&b, req->target, strlen(req->target));
        trl_buf_puts(&b, "}");
    }
    struct trl_buf msg = {0};
    if (!strcmp(action, "action-refused"))
        trl_buf_printf(&msg, "trapline response %s refused for %s: %s",
                       trl_response_action_name(req->action), req->target,
                       outcome_err ? outcome_err : "");
    else
        trl_buf_printf(&msg, "trapline response %s %s %s%s%s", action, req->target,
                       outcome_err ? "failed" : "done", outcome_err ? ": " : "",
                       outcome_err ? outcome_err : "");
    put_key_str(&b, "message", msg.data);
    trl_buf_free(&msg);
    trl_buf_puts(&b, ",\"observer\":{\"product\":\"trapline\",\"type\":\"ids\"}}");
    trl_info("response", "%s target=%s rule=%s outcome=%s%s%s%s", action, req->target, req->rule_id,
             outcome_err ? "failure" : "success", outcome_err ? " error=\"" : "",
             outcome_err ? outcome_err : "", outcome_err ? "\"" : "");
    pthread_mutex_lock(&r->lock);
    if (r->emit)
        r->emit(r->emit_ud, b.data, b.len);
    else
        trl_warn("response", "event not stored (pipeline stopped) action=%s target=%s", action,
                 req->target);
    pthread_mutex_unlock(&r->lock);
    trl_buf_free(&b);
}

/* ---- decisions ---- */

static bool safe_user(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > 32 || u[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Checks a request whatever its origin. Returns 0 or a negative error with why. */
static int check_request(struct trl_response *r, struct trl_response_request *req, char *why,
                         size_t whylen)
{
    switch (req->action) {
    case TRL_RESPONSE_BLOCK_IP: {
        char canon[INET6_ADDRSTRLEN];
        int family;
        if (!canonical_ip(req->target, canon, sizeof(canon), &family)) {
            snprintf(why, whylen, "not an IP address");
            return TRL_EINVAL;
        }
        if (trl_response_ip_protected(r, canon)) {
            snprintf(why, whylen, "address is allowlisted (loopback, own or response.allowlist)");
            return -EPERM;
        }
        snprintf(req->target, sizeof(req->target), "%s", canon);
        if (req->timeout_s <= 0 || req->timeout_s > MAX_TIMEOUT_S)
            req->timeout_s = TRL_MIN(TRL_MAX(req->timeout_s, r->timeout_s), MAX_TIMEOUT_S);
        return 0;
    }
    case TRL_RESPONSE_KILL_PROCESS: {
        uint64_t pid;
        if (!trl_parse_u64(req->target, strlen(req->target), &pid) || pid > INT32_MAX) {
            snprintf(why, whylen, "not a process id");
            return TRL_EINVAL;
        }
        if (pid <= 1 || (int64_t)pid == r->self_pid) {
            snprintf(why, whylen, "refusing to kill pid %llu (init or Trapline itself)",
                     (unsigned long long)pid);
            return -EPERM;
        }
        req->timeout_s = 0;
        return 0;
    }
    case TRL_RESPONSE_LOCK_ACCOUNT: {
        int64_t uid;
        if (!safe_user(req->target)) {
            snprintf(why, whylen, "not a valid user name");
            return TRL_EINVAL;
        }
        if (r->ops.user_uid(r->ops.ud, req->target, &uid) != 0) {
            snprintf(why, whylen, "no such local account");
            return -ENOENT;
        }
        /* Debian reserves 60000 and up for system use too (nobody is 65534). */
        bool system = uid < 1000 || uid >= 60000;
        if (uid == 0 || (system && !r->lock_system_accounts)) {
            snprintf(why, whylen, "refusing to lock %s account (uid %lld)",
                     uid == 0 ? "the root" : "a system", (long long)uid);
            return -EPERM;
        }
        req->timeout_s = 0;
        return 0;
    }
    }
    snprintf(why, whylen, "unknown action");
    return TRL_EINVAL;
}

static const char *group_value(const char *field, const char *const *fields,
                               const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(fields[i], field))
            return values[i];
    }
    return NULL;
}

static bool event_field(const struct trl_event *ev, enum trl_field f, char *out, size_t outlen)
{
    size_t len = 0;
    const char *v = ev ? trl_event_get(ev, f, &len) : NULL;
    if (!v || len == 0 || len >= outlen)
        return false;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}

int trl_response_decide(struct trl_response *r, const char *rule_id, const char *level,
                        const struct trl_event *ev, const char *const *group_fields,
                        const char *const *group_values, size_t ngroup,
                        struct trl_response_request *req, char *why, size_t whylen)
{
    memset(req, 0, sizeof(*req));
    bool found = false;
    for (size_t i = 0; rule_id && i < r->nrules && !found; i++) {
        if (!strcmp(r->rules[i].rule_id, rule_id)) {
            req->action = r->rules[i].action;
            req->timeout_s = r->rules[i].timeout_s;
            found = true;
        }
    }
    if (!found && r->min_level > 0 && level) {
        static const char *const levels[] = {"informational", "low", "medium", "high", "critical"};
        for (size_t i = 0; i < TRL_ARRAY_LEN(levels); i++) {
            if (!strcmp(level, levels[i]) && (int)i + 1 >= r->min_level) {
                req->action = r->level_action;
                found = true;
            }
        }
    }
    if (!found)
        return 0;
    snprintf(req->rule_id, sizeof(req->rule_id), "%s", rule_id ? rule_id : "");
    static const enum trl_field fields[] = {TRL_F_SOURCE_IP, TRL_F_PROCESS_PID, TRL_F_USER_NAME};
    static const char *const names[] = {"source.ip", "process.pid", "user.name"};
    if (!event_field(ev, fields[req->action], req->target, sizeof(req->target))) {
        const char *g = group_value(names[req->action], group_fields, group_values, ngroup);
        if (!g || !g[0] || strlen(g) >= sizeof(req->target))
            return 0;
        snprintf(req->target, sizeof(req->target), "%s", g);
    }
    int rc = check_request(r, req, why, whylen);
    return rc < 0 ? rc : 1;
}

/* ---- actions ---- */

/* Creates table inet trapline with the sets blocked4 and blocked6 (elements expire by themselves)
 * and an input chain that drops their addresses, unless it exists. */
static int nft_setup(struct trl_response *r, char *err, size_t errlen)
{
    if (r->nft_ready)
        return 0;
    const char *list[] = {"nft", "list", "table", "inet", "trapline", NULL};
    char ignored[256];
    if (r->ops.run(r->ops.ud, list, ignored, sizeof(ignored)) != 0) {
        const char *create[] = {
            "nft",
            "add table inet trapline ; "
            "add set inet trapline blocked4 { type ipv4_addr ; flags timeout ; } ; "
            "add set inet trapline blocked6 { type ipv6_addr ; flags timeout ; } ; "
            "add chain inet trapline input { type filter hook input priority -10 ; "
            "policy accept ; } ; "
            "add rule inet trapline input ip saddr @blocked4 drop ; "
            "add rule inet trapline input ip6 saddr @blocked6 drop",
            NULL};
        int rc = r->ops.run(r->ops.ud, create, err, errlen);
        if (rc != 0)
            return rc;
    }
    r->nft_ready = true;
    return 0;
}

static struct block *find_block(struct trl_response *r, const char *ip)
{
    for (size_t i = 0; i < r->nblocks; i++) {
        if (!strcmp(r->blocks[i].ip, ip))
            return &r->blocks[i];
    }
    return NULL;
}

static int block_ip(struct trl_response *r, const struct trl_response_request *req, char *err,
                    size_t errlen, int64_t *expires_ns)
{
    int64_t now = trl_now_ns();
    struct block *b = find_block(r, req->target);
    /* Already blocked with at least half of this timeout left: nothing to do. A later alert
     * extends the block. */
    if (b && b->expires_ns - now >= req->timeout_s * (TRL_NS_PER_SEC / 2)) {
        *expires_ns = b->expires_ns;
        return 1;
    }
    int rc = nft_setup(r, err, errlen);
    if (rc != 0)
        return rc;
    const char *set = strchr(req->target, ':') ? "blocked6" : "blocked4";
    char elem[sizeof(req->target) + 64];
    snprintf(elem, sizeof(elem), "{ %s timeout %llds }", req->target, (long long)req->timeout_s);
    if (b) {
        /* Adding an element that exists keeps its old timeout: replace it. */
        char delem[sizeof(req->target) + 8];
        snprintf(delem, sizeof(delem), "{ %s }", req->target);
        const char *del[] = {"nft", "delete", "element", "inet", "trapline", set, delem, NULL};
        char ignored[256];
        r->ops.run(r->ops.ud, del, ignored, sizeof(ignored));
    }
    const char *add[] = {"nft", "add", "element", "inet", "trapline", set, elem, NULL};
    rc = r->ops.run(r->ops.ud, add, err, errlen);
    if (rc != 0) {
        /* The table may have been removed behind our back: set it up again next time. */
        r->nft_ready = false;
        return rc;
    }
    /* The kernel starts the element's timeout when nft inserts it and counts it in ticks, so the
     * block ends after nft has returned plus a tick: ip-unblocked is written only once nft has
     * removed the element. */
    *expires_ns = trl_now_ns() + req->timeout_s * TRL_NS_PER_SEC + KERNEL_TICK_MARGIN_NS;
    if (!b && r->nblocks < MAX_BLOCKS) {
        r->blocks = trl_xrealloc(r->blocks, (r->nblocks + 1) * sizeof(*r->blocks));
        b = &r->blocks[r->nblocks++];
        snprintf(b->ip, sizeof(b->ip), "%.*s", (int)sizeof(b->ip) - 1, req->target);
    }
    if (b) {
        b->expires_ns = *expires_ns;
        snprintf(b->rule_id, sizeof(b->rule_id), "%s", req->rule_id);
    }
    return 0;
}

static int lock_account(struct trl_response *r, const char *user, char *err, size_t errlen)
{
    /* -L disables the password, --expiredate 1 every other way in (keys included). */
    const char *usermod[] = {"usermod", "-L", "--expiredate", "1", "--", user, NULL};
    int rc = r->ops.run(r->ops.ud, usermod, err, errlen);
    if (rc == 0)
        return 0;
    const char *passwd[] = {"passwd", "-l", "--", user, NULL};
    char err2[256];
    if (r->ops.run(r->ops.ud, passwd, err2, sizeof(err2)) == 0)
        return 0;
    return rc;
}

const char *trl_response_event_action(enum trl_response_action a, enum trl_response_result res)
{
    static const char *const done[] = {"ip-blocked", "process-killed", "account-locked"};
    if (res == TRL_RESPONSE_REFUSED)
        return "action-refused";
    return (size_t)a < TRL_ARRAY_LEN(done) ? done[a] : "unknown";
}

int trl_response_execute_result(struct trl_response *r, const struct trl_response_request *in,
                                char *err, size_t errlen, enum trl_response_result *res)
{
    struct trl_response_request req = *in;
    const char *types[] = {"denied", "end", "change"};
    enum trl_response_result result = TRL_RESPONSE_DONE;
    int rc = check_request(r, &req, err, errlen);
    int64_t expires = 0;
    if (rc != 0) {
        result = TRL_RESPONSE_REFUSED;
    } else {
        switch (req.action) {
        case TRL_RESPONSE_BLOCK_IP:
            rc = block_ip(r, &req, err, errlen, &expires);
            break;
        case TRL_RESPONSE_KILL_PROCESS: {
            uint64_t pid = 0;
            trl_parse_u64(req.target, strlen(req.target), &pid);
            rc = r->ops.kill(r->ops.ud, (int64_t)pid, err, errlen);
            break;
        }
        case TRL_RESPONSE_LOCK_ACCOUNT:
            rc = lock_account(r, req.target, err, errlen);
            break;
        }
        if (rc == 1) {
            rc = 0;
            result = TRL_RESPONSE_UNCHANGED;
        } else if (rc != 0) {
            result = TRL_RESPONSE_FAILED;
        }
    }
    if (res)
        *res = result;
    if (result == TRL_RESPONSE_UNCHANGED)
        return 0; /* nothing new: no event */
    emit_event(r, trl_response_event_action(req.action, result),
               result == TRL_RESPONSE_DONE && (size_t)req.action < 3 ? types[req.action] : "info",
               &req, rc == 0 ? NULL : err, rc == 0 ? expires : 0);
    return rc;
}

void trl_response_record(struct trl_response *r, const struct trl_response_request *req,
                         enum trl_response_result res, const char *why)
{
    emit_event(r, trl_response_event_action(req->action, res), "info", req, why, 0);
}

int trl_response_execute(struct trl_response *r, const struct trl_response_request *req, char *err,
                         size_t errlen)
{
    return trl_response_execute_result(r, req, err, errlen, NULL);
}

void trl_response_expire(struct trl_response *r, int64_t now_ns)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nblocks; i++) {
        struct block *b = &r->blocks[i];
        if (b->expires_ns > now_ns) {
            r->blocks[k++] = *b;
            continue;
        }
        struct trl_response_request req = {.action = TRL_RESPONSE_BLOCK_IP};
        snprintf(req.target, sizeof(req.target), "%s", b->ip);
        snprintf(req.rule_id, sizeof(req.rule_id), "%s", b->rule_id);
        emit_event(r, "ip-unblocked", "allowed", &req, NULL, 0);
    }
    r->nblocks = k;
}

/* ---- the thread ---- */

int64_t trl_response_next_expiry(const struct trl_response *r)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < r->nblocks; i++)
        next = TRL_MIN(next, r->blocks[i].expires_ns);
    return next;
}

static void *run(void *arg)
{
    struct trl_response *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        if (r->qlen > 0) {
            struct trl_response_request req = r->queue[r->qhead];
            r->qhead = (r->qhead + 1) % MAX_QUEUE;
            r->qlen--;
            pthread_mutex_unlock(&r->lock);
            char err[512];
            trl_response_execute(r, &req, err, sizeof(err));
            pthread_mutex_lock(&r->lock);
            continue;
        }
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        trl_response_expire(r, trl_now_ns());
        int64_t next = trl_response_next_expiry(r);
        pthread_mutex_lock(&r->lock);
        if (r->qlen > 0 || r->stop)
            continue;
        /* The kernel removes expired elements itself; waking up only writes the events. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ns = next == INT64_MAX ? 60 * TRL_NS_PER_SEC : next - trl_now_ns();
        wait_ns = TRL_MAX(TRL_MIN(wait_ns, 60 * TRL_NS_PER_SEC), 10000000LL);
        int64_t at = (int64_t)ts.tv_sec * TRL_NS_PER_SEC + ts.tv_nsec + wait_ns;
        ts.tv_sec = (time_t)(at / TRL_NS_PER_SEC);
        ts.tv_nsec = (long)(at % TRL_NS_PER_SEC);
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* An accepted request for an event from an agent goes to that agent, when a route is set: true
 * when it was handed over or recorded as failed. The refusals of the checks stay here, where they
 * are recorded. */
static bool route_to_agent(struct trl_response *r, const struct trl_response_request *req,
                           const struct trl_event *ev)
{
    /* Only an event received from an agent on the agent listener counts: an agent.id in a syslog
     * message is whatever its sender wrote. */
    char agent[AGENT_ID_MAX];
    if (!r->route || !ev || !(ev->flags & TRL_EVF_FROM_AGENT) ||
        !event_field(ev, TRL_F_AGENT_ID, agent, sizeof(agent)) || !agent[0])
        return false;
    char err[512] = "";
    if (r->route(r->route_ud, agent, req, err, sizeof(err)) == 0) {
        trl_info("response", "%s target=%s rule=%s sent to agent=%s",
                 trl_response_action_name(req->action), req->target, req->rule_id, agent);
        return true;
    }
    emit_event(r, trl_response_event_action(req->action, TRL_RESPONSE_FAILED), "info", req,
               err[0] ? err : "cannot send the action to the agent", 0);
    return true;
}

void trl_response_alert(struct trl_response *r, const char *rule_id, const char *level,
                        const struct trl_event *ev, const char *const *group_fields,
                        const char *const *group_values, size_t ngroup)
{
    if (!r)
        return;
    struct trl_response_request req;
    char why[256] = "";
    int rc = trl_response_decide(r, rule_id, level, ev, group_fields, group_values, ngroup, &req,
                                 why, sizeof(why));
    if (rc == 0)
        return;
    if (rc > 0 && route_to_agent(r, &req, ev))
        return;
    /* A refused request goes the same way: executing checks it again and records the refusal
     * with its reason, so that an analyst sees what was not done and why. */
    if (r->synchronous) {
        char err[512];
        trl_response_execute(r, &req, err, sizeof(err));
        return;
    }
    pthread_mutex_lock(&r->lock);
    if (r->qlen == MAX_QUEUE) {
        if (r->dropped++ % 1000 == 0)
            trl_warn("response", "action queue full: action dropped target=%s dropped=%llu",
                     req.target, (unsigned long long)r->dropped);
    } else {
        r->queue[(r->qhead + r->qlen) % MAX_QUEUE] = req;
        r->qlen++;
        pthread_cond_signal(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- requests as JSON ---- */

void trl_response_request_json(const struct trl_response_request *req, struct trl_buf *out)
{
    trl_buf_printf(out, "{\"action\":\"%s\",", trl_response_action_name(req->action));
    if (req->action == TRL_RESPONSE_BLOCK_IP) {
        trl_buf_puts(out, "\"ip\":");
        trl_json_append_string(out, req->target, strlen(req->target));
        trl_buf_printf(out, ",\"timeout\":%lld", (long long)req->timeout_s);
    } else if (req->action == TRL_RESPONSE_KILL_PROCESS) {
        uint64_t pid = 0;
        trl_parse_u64(req->target, strlen(req->target), &pid);
        trl_buf_printf(out, "\"pid\":%llu", (unsigned long long)pid);
    } else {
        trl_buf_puts(out, "\"user\":");
        trl_json_append_string(out, req->target, strlen(req->target));
    }
    trl_buf_puts(out, ",\"rule_id\":");
    trl_json_append_string(out, req->rule_id, strlen(req->rule_id));
    trl_buf_putc(out, '}');
}

int trl_response_request_parse(const char *json, size_t len, struct trl_response_request *out)
{
    memset(out, 0, sizeof(*out));
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = TRL_EINVAL;
    if (!json_is_object(o))
        goto out;
    const char *action = json_string_value(json_object_get(o, "action"));
    int a = action ? action_from(action, strlen(action)) : -1;
    if (a < 0)
        goto out;
    out->action = (enum trl_response_action)a;
    const char *rule = json_string_value(json_object_get(o, "rule_id"));
    snprintf(out->rule_id, sizeof(out->rule_id), "%s", rule ? rule : "");
    if (out->action == TRL_RESPONSE_KILL_PROCESS) {
        json_t *pid = json_object_get(o, "pid");
        if (!json_is_integer(pid))
            goto out;
        snprintf(out->target, sizeof(out->target), "%lld", (long long)json_integer_value(pid));
    } else {
        const char *key = out->action == TRL_RESPONSE_BLOCK_IP ? "ip" : "user";
        const char *v = json_string_value(json_object_get(o, key));
        if (!v || strlen(v) >= sizeof(out->target))
            goto out;
        snprintf(out->target, sizeof(out->target), "%s", v);
        json_t *t = json_object_get(o, "timeout");
        if (out->action == TRL_RESPONSE_BLOCK_IP && json_is_integer(t))
            out->timeout_s = (int64_t)json_integer_value(t);
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- create / destroy ---- */

/* "RULE:ACTION[:TIMEOUT]" with TIMEOUT like 90s, 30m, 1h, 1d. */
static bool parse_rule(const char *s, struct by_rule *out, int64_t default_s)
{
    const char *a = strchr(s, ':');
    if (!a || a == s)
        return false;
    const char *t = strchr(a + 1, ':');
    int action = action_from(a + 1, t ? (size_t)(t - a - 1) : strlen(a + 1));
    if (action < 0)
        return false;
    int64_t timeout = default_s;
    if (t) {
        size_t n = strlen(t + 1);
        uint64_t v;
        if (n < 2 || !trl_parse_u64(t + 1, n - 1, &v) || v == 0 || v > (uint64_t)MAX_TIMEOUT_S)
            return false;
        switch (t[n]) {
        case 's':
            timeout = (int64_t)v;
            break;
        case 'm':
            timeout = (int64_t)v * 60;
            break;
        case 'h':
            timeout = (int64_t)v * 3600;
            break;
        case 'd':
            timeout = (int64_t)v * 86400;
            break;
        default:
            return false;
        }
        timeout = TRL_MIN(timeout, MAX_TIMEOUT_S);
    }
    out->rule_id = trl_xstrndup(s, (size_t)(a - s));
    out->action = (enum trl_response_action)action;
    out->timeout_s = timeout;
    return true;
}

struct trl_response *trl_response_create(const struct trl_response_config *c)
{
    struct trl_response *r = trl_xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->ops = c->ops ? *c->ops : sys_ops;
    r->min_level = c->min_level;
    r->level_action = c->level_action;
    r->timeout_s =
        c->timeout_ms > 0 ? TRL_MIN(c->timeout_ms / 1000, MAX_TIMEOUT_S) : DEFAULT_TIMEOUT_S;
    if (r->timeout_s <= 0)
        r->timeout_s = 1;
    r->lock_system_accounts = c->lock_system_accounts;
    r->self_pid = c->self_pid > 0 ? c->self_pid : (int64_t)getpid();
    r->synchronous = c->synchronous;
    r->emit = c->emit;
    r->emit_ud = c->emit_ud;
    r->route = c->route;
    r->route_ud = c->route_ud;
    r->rules = trl_xcalloc(c->nrules + 1, sizeof(*r->rules));
    for (size_t i = 0; i < c->nrules; i++) {
        if (!parse_rule(c->rules[i], &r->rules[r->nrules], r->timeout_s)) {
            trl_error("response", "response.rules: expected RULE_ID:ACTION[:TIMEOUT]: \"%s\"",
                      c->rules[i]);
            goto fail;
        }
        r->nrules++;
    }
    static const char *const always[] = {"127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"};
    for (size_t i = 0; i < TRL_ARRAY_LEN(always); i++)
        add_own(r, always[i]);
    for (size_t i = 0; i < c->nallowlist; i++) {
        struct net n;
        if (!parse_net(c->allowlist[i], &n)) {
            trl_error("response", "response.allowlist: not an address or CIDR: \"%s\"",
                      c->allowlist[i]);
            goto fail;
        }
        allow_add(r, &n);
    }
    r->ops.own_addresses(r->ops.ud, add_own, r);
    if (!r->synchronous) {
        if (pthread_create(&r->thread, NULL, run, r) != 0) {
            trl_error("response", "cannot start the response thread");
            goto fail;
        }
        r->started = true;
    }
    trl_info("response", "active response on rules=%zu min_level=%d allowlisted=%zu", r->nrules,
             r->min_level, r->nallow);
    return r;
fail:
    trl_response_destroy(r);
    return NULL;
}

void trl_response_detach(struct trl_response *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->emit = NULL;
    pthread_mutex_unlock(&r->lock);
}

void trl_response_destroy(struct trl_response *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    for (size_t i = 0; i < r->nrules; i++)
        free(r->rules[i].rule_id);
    free(r->rules);
    free(r->allow);
    free(r->blocks);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
