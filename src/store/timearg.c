#include "store/timearg.h"
#include "core/timeutil.h"
#include "core/util.h"
#include "store/partition.h"

#include <string.h>

/* Years whose every instant fits in int64 nanoseconds since 1970. */
#define MIN_YEAR 1678
#define MAX_YEAR 2261

static bool year_ok(const char *s, size_t len)
{
    if (len < 4)
        return false;
    unsigned y = 0;
    for (int i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        y = y * 10 + (unsigned)(s[i] - '0');
    }
    return y >= MIN_YEAR && y <= MAX_YEAR;
}

int trl_parse_time_arg(const char *s, int64_t now_ns, bool end, int64_t *out)
{
    size_t len = strlen(s);
    if (len == 3 && !strcmp(s, "now")) {
        *out = now_ns;
        return 0;
    }
    if (len >= 3 && s[0] == '-') {
        uint64_t n;
        int64_t unit;
        switch (s[len - 1]) {
        case 's':
            unit = TRL_NS_PER_SEC;
            break;
        case 'm':
            unit = 60 * TRL_NS_PER_SEC;
            break;
        case 'h':
            unit = 3600 * TRL_NS_PER_SEC;
            break;
        case 'd':
            unit = 86400 * TRL_NS_PER_SEC;
            break;
        case 'w':
            unit = 7 * 86400 * TRL_NS_PER_SEC;
            break;
        default:
            return TRL_EINVAL;
        }
        /* At most 100 years back. */
        if (!trl_parse_u64(s + 1, len - 2, &n) || n == 0 ||
            n > (uint64_t)(36525LL * 86400 * TRL_NS_PER_SEC / unit))
            return TRL_EINVAL;
        *out = now_ns - (int64_t)n * unit;
        return 0;
    }
    if (!year_ok(s, len))
        return TRL_EINVAL;
    int64_t day;
    if (trl_day_parse(s, len, &day)) {
        *out = (day + (end ? 1 : 0)) * TRL_NS_PER_DAY;
        return 0;
    }
    int64_t ns;
    if (len >= 19 && trl_parse_rfc3339(s, len, &ns) == len) {
        *out = ns;
        return 0;
    }
    return TRL_EINVAL;
}
