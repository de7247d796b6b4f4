#include "api_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

void api_cursor_encode(const char *key, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p && n + 2 < out_size; p++) {
        out[n++] = hex[*p >> 4];
        out[n++] = hex[*p & 15];
    }
    if (out_size)
        out[n] = '\0';
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int api_cursor_decode(const char *cursor, char *out, size_t out_size)
{
    size_t len = strlen(cursor);
    if (len == 0 || len % 2 || len / 2 >= out_size)
        return -EINVAL;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit(cursor[i]), lo = hex_digit(cursor[i + 1]);
        if (hi < 0 || lo < 0 || (hi << 4 | lo) < 0x20 || (hi << 4 | lo) == 0x7f)
            return -EINVAL;
        out[i / 2] = (char)(hi << 4 | lo);
    }
    out[len / 2] = '\0';
    return 0;
}
