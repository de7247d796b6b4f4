#include "sitetime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "timeutil.h"

#define ZONEINFO "/usr/share/zoneinfo"

static char zone_name[64] = "UTC";

static int zone_name_valid(const char *z)
{
    size_t n = strlen(z);
    if (n == 0 || n >= sizeof(zone_name) || z[0] == '/' || strstr(z, ".."))
        return 0;
    for (const char *p = z; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return 0;
    }
    return 1;
}

int sitetime_set_zone(const char *zone, char *err, size_t errlen)
{
    if (!zone || !zone_name_valid(zone)) {
        snprintf(err, errlen, "time zone '%s' is not a zone name like Asia/Shanghai or UTC",
                 zone ? zone : "");
        return -EINVAL;
    }
    char path[sizeof(ZONEINFO) + sizeof(zone_name) + 1];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", ZONEINFO, zone);
    if (strcmp(zone, "UTC") != 0 && (stat(path, &st) != 0 || !S_ISREG(st.st_mode))) {
        snprintf(err, errlen, "time zone '%s' is unknown (no %s; is tzdata installed?)", zone,
                 path);
        return -EINVAL;
    }
    if (strcmp(zone, "UTC") == 0)
        setenv("TZ", "UTC0", 1);
    else {
        char tz[sizeof(zone_name) + 1];
        snprintf(tz, sizeof(tz), ":%s", zone);
        setenv("TZ", tz, 1);
    }
    tzset();
    snprintf(zone_name, sizeof(zone_name), "%s", zone);
    return 0;
}

const char *sitetime_zone(void)
{
    return zone_name;
}

static void local_tm(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    localtime_r(&t, tm);
}

/* The first instant of local date y-m-d: mktime at 00:00, or, where midnight does
 * not exist (a DST change at midnight), the instant the clocks jump to. */
static int64_t local_midnight(int y, int m, int d)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1};
    time_t t = mktime(&tm);
    /* mktime normalises a missing 00:00 forward or back; never start the day in the day
     * before it. */
    struct tm chk;
    localtime_r(&t, &chk);
    if (chk.tm_mday != d || chk.tm_mon != m - 1) {
        while (chk.tm_mday != d || chk.tm_mon != m - 1) {
            t += 60;
            localtime_r(&t, &chk);
        }
    }
    return (int64_t)t * 1000;
}

int64_t sitetime_day_start(int64_t ms)
{
    struct tm tm;
    local_tm(ms, &tm);
    return local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int64_t sitetime_next_day(int64_t day_start)
{
    /* 26 h later is always inside the next day (days last 23..25 h), even from its start. */
    struct tm tm;
    local_tm(day_start + 26 * 3600 * INT64_C(1000), &tm);
    int64_t next = local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (next <= day_start) /* cannot happen with real zones; never loop */
        next = day_start + 24 * 3600 * INT64_C(1000);
    return next;
}

int64_t sitetime_month_start(int64_t ms)
{
    struct tm tm;
    local_tm(ms, &tm);
    return local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, 1);
}

int64_t sitetime_next_month(int64_t month_start)
{
    struct tm tm;
    local_tm(month_start, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 2;
    if (m > 12) {
        m = 1;
        y++;
    }
    return local_midnight(y, m, 1);
}

void sitetime_format_day(int64_t ms, char out[11])
{
    struct tm tm;
    local_tm(ms, &tm);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

int sitetime_weekday(int64_t ms)
{
    struct tm tm;
    local_tm(ms, &tm);
    return tm.tm_wday;
}

void sitetime_format_month(int64_t ms, char out[8])
{
    struct tm tm;
    local_tm(ms, &tm);
    snprintf(out, 8, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u);
}

int sitetime_parse_day(const char *s, int64_t *ret_ms)
{
    int y, m, d, n = 0;
    /* Exactly YYYY-MM-DD: sscanf alone would take " 1" or "+1" for a month. */
    for (int k = 0; s[k] && k < 10; k++)
        if (k == 4 || k == 7 ? s[k] != '-' : s[k] < '0' || s[k] > '9')
            return -EINVAL;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || y < 2000 ||
        y > 2199 || m < 1 || m > 12 || d < 1)
        return -EINVAL;
    int64_t days = time_days_from_civil(y, (unsigned)m, (unsigned)d);
    int64_t yy;
    unsigned mm, dd;
    time_civil_from_days(days, &yy, &mm, &dd);
    if ((int)mm != m || (int)dd != d) /* 2026-02-30 */
        return -EINVAL;
    *ret_ms = local_midnight(y, m, d);
    return 0;
}
