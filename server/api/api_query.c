#include "api_query.h"

#include <errno.h>
#include <stdlib.h>

#include "timeutil.h"

int api_parse_instant(const char *s, int64_t *ret_ms)
{
    if (!s || !*s)
        return -EINVAL;
    if (time_parse_rfc3339(s, ret_ms) == 0)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < 0)
        return -EINVAL;
    *ret_ms = v;
    return 0;
}

int api_parse_duration(const char *s, int64_t *ret_ms)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v <= 0)
        return -EINVAL;
    int64_t unit;
    if (*end == '\0' || (end[0] == 's' && end[1] == '\0'))
        unit = 1000;
    else if (end[0] == 'm' && end[1] == '\0')
        unit = 60000;
    else if (end[0] == 'h' && end[1] == '\0')
        unit = 3600000;
    else if (end[0] == 'd' && end[1] == '\0')
        unit = 86400000;
    else
        return -EINVAL;
    if (v > INT64_C(366) * 86400000 / unit)
        return -ERANGE;
    *ret_ms = v * unit;
    return 0;
}

int api_parse_count(const char *s, int64_t min, int64_t max, int64_t *ret)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return -EINVAL;
    if (v < min || v > max)
        return -ERANGE;
    *ret = v;
    return 0;
}
