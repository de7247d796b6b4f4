#include "comtrade.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* Prints with 9 significant digits and reads it back, so we quantise with what the .cfg says. */
static double printed(double x)
{
    char buf[40];
    snprintf(buf, sizeof(buf), "%.9g", x);
    return strtod(buf, NULL);
}

void comtrade_scale_of(const float *x, size_t n, struct comtrade_scale *ret)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(x[k]))
            continue;
        lo = x[k] < lo ? x[k] : lo;
        hi = x[k] > hi ? x[k] : hi;
    }
    if (!(lo <= hi)) /* no finite sample */
        lo = hi = 0;
    double b = printed((hi + lo) / 2);
    /* The largest distance from b decides a, after b was rounded for printing; the factor keeps
       the printed a at least as large, so the extremes fit. */
    double half = fmax(hi - b, b - lo);
    double a = half > 0 ? printed(half / COMTRADE_INT_MAX * (1 + 1e-8)) : 1;
    if (a <= 0 || !isfinite(a))
        a = 1;
    ret->a = a;
    ret->b = b;
}

static long quantise(float x, const struct comtrade_scale *s)
{
    if (!isfinite(x))
        return 0;
    double q = round(((double)x - s->b) / s->a);
    if (q > COMTRADE_INT_MAX)
        q = COMTRADE_INT_MAX;
    if (q < -COMTRADE_INT_MAX)
        q = -COMTRADE_INT_MAX;
    return (long)q;
}

/* The fields are comma-separated lines: names may not contain commas or line breaks. */
static bool name_ok(const char *s)
{
    return s && !strpbrk(s, ",\r\n");
}

static int check(const struct comtrade_meta *m, size_t n)
{
    if (n == 0 || !name_ok(m->station) || !name_ok(m->device) || !isfinite(m->rate_hz) ||
        m->rate_hz <= 0 || !isfinite(m->nominal_hz) || m->nominal_hz <= 0)
        return -EINVAL;
    return 0;
}

/* "dd/mm/yyyy,hh:mm:ss.ssssss", the 1999 revision's date and time. */
static int add_time(struct dynbuf *out, int64_t ms)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t in_day = ms - days * 86400000;
    int64_t y;
    unsigned mo, d;
    time_civil_from_days(days, &y, &mo, &d);
    unsigned h = (unsigned)(in_day / 3600000), mi = (unsigned)(in_day / 60000 % 60),
             s = (unsigned)(in_day / 1000 % 60), us = (unsigned)(in_day % 1000) * 1000;
    return dynbuf_addf(out, "%02u/%02u/%04lld,%02u:%02u:%02u.%06u\r\n", d, mo, (long long)y, h, mi,
                       s, us);
}

static int add_channel(struct dynbuf *out, int index, const char *id, const char *unit,
                       const float *x, size_t n)
{
    struct comtrade_scale s;
    comtrade_scale_of(x, n, &s);
    /* An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS */
    return dynbuf_addf(out, "%d,%s,,,%s,%.9g,%.9g,0,%d,%d,1,1,P\r\n", index, id, unit, s.a, s.b,
                       -COMTRADE_INT_MAX, COMTRADE_INT_MAX);
}

int comtrade_write_cfg(const struct comtrade_meta *m, const float *v, const float *i, size_t n,
                       struct dynbuf *out)
{
    int r = check(m, n);
    if (r)
        return r;
    r = dynbuf_addf(out, "%s,%s,%d\r\n", m->station, m->device, COMTRADE_REVISION);
    if (!r)
        r = dynbuf_addstr(out, "2,2A,0D\r\n");
    if (!r)
        r = add_channel(out, 1, "V", "V", v, n);
    if (!r)
        r = add_channel(out, 2, "I", "A", i, n);
    if (!r)
        r = dynbuf_addf(out, "%.9g\r\n1\r\n%.9g,%zu\r\n", m->nominal_hz, m->rate_hz, n);
    if (!r)
        r = add_time(out, m->start_ms);
    if (!r)
        r = add_time(out, m->trigger_ms);
    if (!r)
        r = dynbuf_addstr(out, "ASCII\r\n1.0\r\n");
    return r;
}

int comtrade_write_dat(const struct comtrade_meta *m, const float *v, const float *i, size_t n,
                       struct dynbuf *out)
{
    int r = check(m, n);
    if (r)
        return r;
    struct comtrade_scale sv, si;
    comtrade_scale_of(v, n, &sv);
    comtrade_scale_of(i, n, &si);
    for (size_t k = 0; k < n && !r; k++) {
        long long t_us = llround((double)k * 1e6 / m->rate_hz);
        r = dynbuf_addf(out, "%zu,%lld,%ld,%ld\r\n", k + 1, t_us, quantise(v[k], &sv),
                        quantise(i[k], &si));
    }
    return r;
}
