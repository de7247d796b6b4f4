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

static int add_channel(struct dynbuf *out, size_t index, const struct comtrade_channel *ch,
                       size_t n)
{
    struct comtrade_scale s;
    comtrade_scale_of(ch->x, n, &s);
    /* An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS */
    return dynbuf_addf(out, "%zu,%s,%s,,%s,%.9g,%.9g,0,%d,%d,1,1,P\r\n", index, ch->id, ch->phase,
                       ch->unit, s.a, s.b, -COMTRADE_INT_MAX, COMTRADE_INT_MAX);
}

static int check_channels(const struct comtrade_meta *m, const struct comtrade_channel *ch,
                          size_t count, size_t n)
{
    if (count == 0 || count > COMTRADE_CHANNELS_MAX)
        return -EINVAL;
    for (size_t k = 0; k < count; k++)
        if (!name_ok(ch[k].id) || !name_ok(ch[k].phase) || !name_ok(ch[k].unit) || !ch[k].x)
            return -EINVAL;
    return check(m, n);
}

int comtrade_write_cfg_channels(const struct comtrade_meta *m, const struct comtrade_channel *ch,
                                size_t count, size_t n, struct dynbuf *out)
{
    int r = check_channels(m, ch, count, n);
    if (r)
        return r;
    r = dynbuf_addf(out, "%s,%s,%d\r\n", m->station, m->device, COMTRADE_REVISION);
    if (!r)
        r = dynbuf_addf(out, "%zu,%zuA,0D\r\n", count, count);
    for (size_t k = 0; k < count && !r; k++)
        r = add_channel(out, k + 1, &ch[k], n);
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

int comtrade_write_dat_channels(const struct comtrade_meta *m, const struct comtrade_channel *ch,
                                size_t count, size_t n, struct dynbuf *out)
{
    int r = check_channels(m, ch, count, n);
    if (r)
        return r;
    struct comtrade_scale sc[COMTRADE_CHANNELS_MAX];
    for (size_t k = 0; k < count; k++)
        comtrade_scale_of(ch[k].x, n, &sc[k]);
    for (size_t j = 0; j < n && !r; j++) {
        long long t_us = llround((double)j * 1e6 / m->rate_hz);
        r = dynbuf_addf(out, "%zu,%lld", j + 1, t_us);
        for (size_t k = 0; k < count && !r; k++)
            r = dynbuf_addf(out, ",%ld", quantise(ch[k].x[j], &sc[k]));
        if (!r)
            r = dynbuf_addstr(out, "\r\n");
    }
    return r;
}

static void single_phase(const float *v, const float *i, struct comtrade_channel ret[2])
{
    ret[0] = (struct comtrade_channel){"V", "", "V", v};
    ret[1] = (struct comtrade_channel){"I", "", "A", i};
}

int comtrade_write_cfg(const struct comtrade_meta *m, const float *v, const float *i, size_t n,
                       struct dynbuf *out)
{
    struct comtrade_channel ch[2];
    single_phase(v, i, ch);
    return comtrade_write_cfg_channels(m, ch, 2, n, out);
}

int comtrade_write_dat(const struct comtrade_meta *m, const float *v, const float *i, size_t n,
                       struct dynbuf *out)
{
    struct comtrade_channel ch[2];
    single_phase(v, i, ch);
    return comtrade_write_dat_channels(m, ch, 2, n, out);
}
