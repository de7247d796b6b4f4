#include "timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int time_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int r = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

struct timespec time_mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Howard Hinnant's civil calendar algorithms (public domain). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void time_civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *ret_y = y + (m <= 2);
    *ret_m = m;
    *ret_d = d;
}

static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void time_format_rfc3339_ms(int64_t ms, char out[TIME_RFC3339_LEN])
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned mo, d;

    time_civil_from_days(days, &y, &mo, &d);
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, mo, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)(rem / 3600000), 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)(rem / 60000 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)(rem / 1000 % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (unsigned)(rem % 1000), 3);
    out[23] = 'Z';
    out[24] = '\0';
}

static int take_digits(const char **p, int n, unsigned *ret)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *ret = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -EINVAL;
    (*p)++;
    return 0;
}

static int days_in_month(unsigned y, unsigned m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/*
 * The UTC days that ended with a leap second (IERS Bulletin C; none has been inserted since
 * the end of 2016), as days since the epoch: 23:59:60 UTC exists on these days only.
 */
static bool leap_second_day(int64_t day)
{
    static const unsigned short days[] = {
        911,  1095, 1460, 1825, 2190, 2556, 2921,  3286,  3651,  4198,  4563,  4928,  5659,  6573,
        7304, 7669, 8216, 8581, 8946, 9495, 10042, 10591, 13148, 14244, 15521, 16616, 17166,
    };
    for (size_t k = 0; k < sizeof(days) / sizeof(days[0]); k++)
        if (days[k] == day)
            return true;
    return false;
}

int time_parse_rfc3339(const char *s, int64_t *ret_ms)
{
    const char *p = s;
    unsigned y, mo, d, h, mi, sec, ms = 0;
    int64_t offset_min = 0;

    if (take_digits(&p, 4, &y) || expect(&p, '-') || take_digits(&p, 2, &mo) || expect(&p, '-') ||
        take_digits(&p, 2, &d))
        return -EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -EINVAL;
    p++;
    if (take_digits(&p, 2, &h) || expect(&p, ':') || take_digits(&p, 2, &mi) || expect(&p, ':') ||
        take_digits(&p, 2, &sec))
        return -EINVAL;
    if (*p == '.') {
        int n = 0;
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (unsigned)(*p - '0');
            n++;
            p++;
            if (n > 9)
                return -EINVAL;
        }
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        unsigned oh, om;
        p++;
        if (take_digits(&p, 2, &oh) || expect(&p, ':') || take_digits(&p, 2, &om))
            return -EINVAL;
        if (oh > 23 || om > 59)
            return -EINVAL;
        offset_min = sign * (int64_t)(oh * 60 + om);
    } else {
        return -EINVAL;
    }
    if (*p != '\0')
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || (int)d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return -EINVAL;

    int64_t days = time_days_from_civil(y, mo, d);
    int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec - offset_min * 60;
    /* A real leap second (23:59:60 UTC on a day that had one) is folded into the next second;
       :60 at any other time is no time at all. */
    if (sec == 60 && ((t - 1) % 86400 != 86399 || !leap_second_day((t - 1) / 86400)))
        return -EINVAL;
    *ret_ms = t * 1000 + ms;
    return 0;
}

int time_parse_hhmm(const char *s, int32_t *ret_min)
{
    if (strlen(s) != 5 || s[2] != ':')
        return -EINVAL;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return -EINVAL;
    *ret_min = h * 60 + m;
    return 0;
}

void time_format_hhmm(int32_t min, char out[6])
{
    unsigned m = (unsigned)(min < 0 ? 0 : min % (24 * 60));
    out[0] = (char)('0' + m / 600);
    out[1] = (char)('0' + m / 60 % 10);
    out[2] = ':';
    out[3] = (char)('0' + m % 60 / 10);
    out[4] = (char)('0' + m % 10);
    out[5] = '\0';
}
