#include "adc.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adc_driver.h"

static const struct {
    const char *name;
    adc_open_fn *open;
} drivers[] = {
    {"sim", adc_sim_open},
    {"mcp3208", adc_mcp3208_open},
    {"ads1115", adc_ads1115_open},
};

#define N_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

/* adc_read_block() converts block drivers' doubles in chunks of this many pairs. */
#define BLOCK_CHUNK 256

void adc_base_init(struct adc *adc, const struct adc_ops *ops)
{
    adc->ops = ops;
    adc->cal = ADC_CAL_IDENTITY;
    adc->next_due = (struct timespec){0, 0};
}

int adc_open(const char *spec, struct adc **ret_adc, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *params = colon ? colon + 1 : "";

    for (size_t d = 0; d < N_DRIVERS; d++) {
        if (strlen(drivers[d].name) == name_len && strncmp(drivers[d].name, spec, name_len) == 0)
            return drivers[d].open(params, ret_adc, err, errlen);
    }
    snprintf(err, errlen, "--adc %s: unknown ADC driver '%.*s' (known: sim, mcp3208, ads1115)",
             spec, (int)name_len, spec);
    return -ENOENT;
}

int adc_set_calibration(struct adc *adc, const struct adc_cal *cal)
{
    if (!isfinite(cal->v_gain) || !(cal->v_gain > 0) || !isfinite(cal->i_gain) ||
        !(cal->i_gain > 0) || !isfinite(cal->v_offset_v) || !isfinite(cal->i_offset_a))
        return -EINVAL;
    adc->cal = *cal;
    return 0;
}

static double cal_v(const struct adc *adc, double v)
{
    return adc->cal.v_gain * (v - adc->cal.v_offset_v);
}

static double cal_i(const struct adc *adc, double i)
{
    return adc->cal.i_gain * (i - adc->cal.i_offset_a);
}

static void timespec_add_ns(struct timespec *t, int64_t ns)
{
    int64_t total = (int64_t)t->tv_nsec + ns;
    t->tv_sec += (time_t)(total / 1000000000);
    t->tv_nsec = (long)(total % 1000000000);
}

static int64_t timespec_diff_ns(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(a->tv_sec - b->tv_sec) * 1000000000 + (a->tv_nsec - b->tv_nsec);
}

/* adc_read() for per-conversion drivers: one pair per period on CLOCK_MONOTONIC. */
static int read_paced(struct adc *adc, double *v, double *i, size_t n)
{
    int64_t period_ns = llround(1e9 / adc->ops->rate_hz(adc));
    struct timespec now;
    int r;

    if (adc->next_due.tv_sec == 0 && adc->next_due.tv_nsec == 0)
        clock_gettime(CLOCK_MONOTONIC, &adc->next_due);
    for (size_t k = 0; k < n; k++) {
        while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &adc->next_due, NULL)) == EINTR)
            ;
        if (r)
            return -r;
        r = adc->ops->convert_pair(adc, &v[k], &i[k]);
        if (r)
            return r;
        v[k] = cal_v(adc, v[k]);
        i[k] = cal_i(adc, i[k]);
        timespec_add_ns(&adc->next_due, period_ns);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (timespec_diff_ns(&now, &adc->next_due) > period_ns)
            adc->next_due = now;
    }
    return 0;
}

int adc_read(struct adc *adc, double *v_volts, double *i_amps, size_t n)
{
    if (!adc->ops->read)
        return read_paced(adc, v_volts, i_amps, n);
    int r = adc->ops->read(adc, v_volts, i_amps, n);
    if (r)
        return r;
    for (size_t k = 0; k < n; k++) {
        v_volts[k] = cal_v(adc, v_volts[k]);
        i_amps[k] = cal_i(adc, i_amps[k]);
    }
    return 0;
}

bool adc_is_block_capable(const struct adc *adc)
{
    return adc->ops->read != NULL;
}

int adc_read_block(struct adc *adc, float *v_volts, float *i_amps, size_t n)
{
    double v[BLOCK_CHUNK], i[BLOCK_CHUNK];

    if (!adc->ops->read)
        return -ENOTSUP;
    while (n > 0) {
        size_t chunk = n < BLOCK_CHUNK ? n : BLOCK_CHUNK;
        int r = adc->ops->read(adc, v, i, chunk);
        if (r)
            return r;
        for (size_t k = 0; k < chunk; k++) {
            v_volts[k] = (float)cal_v(adc, v[k]);
            i_amps[k] = (float)cal_i(adc, i[k]);
        }
        v_volts += chunk;
        i_amps += chunk;
        n -= chunk;
    }
    return 0;
}

int adc_convert_pair(struct adc *adc, float *ret_v_volts, float *ret_i_amps)
{
    double v, i;

    if (!adc->ops->convert_pair)
        return -ENOTSUP;
    int r = adc->ops->convert_pair(adc, &v, &i);
    if (r)
        return r;
    *ret_v_volts = (float)cal_v(adc, v);
    *ret_i_amps = (float)cal_i(adc, i);
    return 0;
}

double adc_rate_hz(const struct adc *adc)
{
    return adc->ops->rate_hz(adc);
}

double adc_current_lag_s(const struct adc *adc)
{
    return adc->ops->current_lag_s ? adc->ops->current_lag_s(adc) : 0.0;
}

int adc_attach_drdy(struct adc *adc, struct gpio_line *drdy, char *err, size_t errlen)
{
    if (!adc->ops->attach_drdy) {
        snprintf(err, errlen, "the %s ADC has no data-ready output; leave drdy_gpio unset for it",
                 adc->ops->name);
        return -ENOTSUP;
    }
    return adc->ops->attach_drdy(adc, drdy, err, errlen);
}

const char *adc_driver_name(const struct adc *adc)
{
    return adc->ops->name;
}

void adc_close(struct adc *adc)
{
    if (adc)
        adc->ops->close(adc);
}
