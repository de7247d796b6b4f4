#include "adc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adc_driver.h"

/* Drivers by name; a NULL open names a driver that a later build will carry. */
static const struct {
    const char *name;
    adc_open_fn *open;
} drivers[] = {
    {"sim", adc_sim_open},
    {"mcp3208", NULL},
    {"ads1115", NULL},
};

#define N_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

int adc_open(const char *spec, struct adc **ret_adc, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *params = colon ? colon + 1 : "";

    for (size_t d = 0; d < N_DRIVERS; d++) {
        if (strlen(drivers[d].name) != name_len || strncmp(drivers[d].name, spec, name_len) != 0)
            continue;
        if (!drivers[d].open) {
            snprintf(err, errlen, "--adc %s: ADC driver '%s' is not available in this build yet",
                     spec, drivers[d].name);
            return -ENOTSUP;
        }
        return drivers[d].open(params, ret_adc, err, errlen);
    }
    snprintf(err, errlen, "--adc %s: unknown ADC driver '%.*s' (known: sim, mcp3208, ads1115)",
             spec, (int)name_len, spec);
    return -ENOENT;
}

int adc_read(struct adc *adc, double *v_volts, double *i_amps, size_t n)
{
    return adc->ops->read(adc, v_volts, i_amps, n);
}

double adc_rate_hz(const struct adc *adc)
{
    return adc->ops->rate_hz(adc);
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
