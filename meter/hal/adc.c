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

static const char *const wiring_names[] = {"1p2w", "3p4w", "3p3w"};
static const char *const channel_names[3][ADC_CHANNELS] = {
    {"v", NULL, NULL, "i", NULL, NULL},
    {"va", "vb", "vc", "ia", "ib", "ic"},
    {"vab", "vbc", "vca", "ia", "ib", "ic"},
};

const char *adc_wiring_name(enum adc_wiring w)
{
    return (unsigned)w < 3 ? wiring_names[w] : "?";
}

int adc_wiring_parse(const char *s, enum adc_wiring *ret)
{
    for (unsigned k = 0; s && k < 3; k++) {
        if (strcmp(s, wiring_names[k]) == 0) {
            *ret = (enum adc_wiring)k;
            return 0;
        }
    }
    return -EINVAL;
}

const char *adc_channel_name(enum adc_wiring w, unsigned ch)
{
    return (unsigned)w < 3 && ch < ADC_CHANNELS ? channel_names[w][ch] : NULL;
}

void adc_base_init(struct adc *adc, const struct adc_ops *ops)
{
    adc->ops = ops;
    adc_base_set_wiring(adc, ADC_WIRING_1P2W, ADC_CH_BIT(ADC_CH_VA) | ADC_CH_BIT(ADC_CH_IA));
    for (unsigned k = 0; k < ADC_CHANNELS; k++)
        adc->cal[k] = (struct adc_channel_cal){1.0, 0.0};
    adc->next_due = (struct timespec){0, 0};
}

void adc_base_set_wiring(struct adc *adc, enum adc_wiring w, unsigned channel_mask)
{
    adc->wiring = w;
    adc->channel_mask = channel_mask;
}

int adc_open(const char *spec, struct adc **ret_adc, char *err, size_t errlen)
{
    return adc_open_wired(spec, NULL, ret_adc, err, errlen);
}

int adc_open_wired(const char *spec, const char *wiring, struct adc **ret_adc, char *err,
                   size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *params = colon ? colon + 1 : "";
    enum adc_wiring w;

    if (wiring && adc_wiring_parse(wiring, &w)) {
        snprintf(err, errlen, "wiring '%s': must be 1p2w, 3p4w or 3p3w", wiring);
        return -EINVAL;
    }
    for (size_t d = 0; d < N_DRIVERS; d++) {
        if (strlen(drivers[d].name) == name_len && strncmp(drivers[d].name, spec, name_len) == 0)
            return drivers[d].open(params, wiring, ret_adc, err, errlen);
    }
    snprintf(err, errlen, "--adc %s: unknown ADC driver '%.*s' (known: sim, mcp3208, ads1115)",
             spec, (int)name_len, spec);
    return -ENOENT;
}

enum adc_wiring adc_get_wiring(const struct adc *adc)
{
    return adc->wiring;
}

unsigned adc_channel_mask(const struct adc *adc)
{
    return adc->channel_mask;
}

int adc_set_channel_calibration(struct adc *adc, unsigned ch, double gain, double offset)
{
    if (ch >= ADC_CHANNELS || !isfinite(gain) || !(gain > 0) || !isfinite(offset))
        return -EINVAL;
    adc->cal[ch] = (struct adc_channel_cal){gain, offset};
    return 0;
}

int adc_set_calibration(struct adc *adc, const struct adc_cal *cal)
{
    if (!isfinite(cal->v_gain) || !(cal->v_gain > 0) || !isfinite(cal->i_gain) ||
        !(cal->i_gain > 0) || !isfinite(cal->v_offset_v) || !isfinite(cal->i_offset_a))
        return -EINVAL;
    for (unsigned k = 0; k < ADC_CHANNELS; k++)
        adc->cal[k] = ADC_CH_IS_VOLTAGE(k) ? (struct adc_channel_cal){cal->v_gain, cal->v_offset_v}
                                           : (struct adc_channel_cal){cal->i_gain, cal->i_offset_a};
    return 0;
}

static double cal_ch(const struct adc *adc, unsigned ch, double x)
{
    return adc->cal[ch].gain * (x - adc->cal[ch].offset);
}

static double cal_v(const struct adc *adc, double v)
{
    return cal_ch(adc, ADC_CH_VA, v);
}

static double cal_i(const struct adc *adc, double i)
{
    return cal_ch(adc, ADC_CH_IA, i);
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
    return adc->ops->read != NULL || adc->ops->read_frames != NULL;
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

int adc_read_frames(struct adc *adc, float *const ch[ADC_CHANNELS], size_t n)
{
    double buf[ADC_CHANNELS][BLOCK_CHUNK];
    double *const dst[ADC_CHANNELS] = {buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]};
    size_t done = 0;

    if (!adc->ops->read && !adc->ops->read_frames)
        return -ENOTSUP;
    while (done < n) {
        size_t chunk = n - done < BLOCK_CHUNK ? n - done : BLOCK_CHUNK;
        int r = adc->ops->read_frames
                    ? adc->ops->read_frames(adc, dst, chunk)
                    : adc->ops->read(adc, buf[ADC_CH_VA], buf[ADC_CH_IA], chunk);
        if (r)
            return r;
        for (unsigned c = 0; c < ADC_CHANNELS; c++) {
            if (!(adc->channel_mask & ADC_CH_BIT(c)))
                continue;
            for (size_t k = 0; k < chunk; k++)
                ch[c][done + k] = (float)cal_ch(adc, c, buf[c][k]);
        }
        done += chunk;
    }
    return 0;
}

int adc_convert_frame(struct adc *adc, float ret[ADC_CHANNELS])
{
    double f[ADC_CHANNELS] = {0};
    int r;

    if (adc->ops->convert_frame)
        r = adc->ops->convert_frame(adc, f);
    else if (adc->ops->convert_pair)
        r = adc->ops->convert_pair(adc, &f[ADC_CH_VA], &f[ADC_CH_IA]);
    else
        return -ENOTSUP;
    if (r)
        return r;
    for (unsigned c = 0; c < ADC_CHANNELS; c++) {
        if (adc->channel_mask & ADC_CH_BIT(c))
            ret[c] = (float)cal_ch(adc, c, f[c]);
    }
    return 0;
}

double adc_channel_lag_s(const struct adc *adc, unsigned ch)
{
    if (ch >= ADC_CHANNELS || !(adc->channel_mask & ADC_CH_BIT(ch)))
        return 0.0;
    if (adc->ops->channel_lag_s)
        return adc->ops->channel_lag_s(adc, ch);
    return ch == ADC_CH_IA ? adc_current_lag_s(adc) : 0.0;
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

void adc_set_load_connected(struct adc *adc, bool connected)
{
    if (adc->ops->set_load_connected)
        adc->ops->set_load_connected(adc, connected);
}

void adc_close(struct adc *adc)
{
    if (adc)
        adc->ops->close(adc);
}
