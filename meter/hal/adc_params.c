#include "adc_params.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int adc_param_fail(char *err, size_t errlen, const char *driver, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "--adc %s: ", driver);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int adc_params_each(const char *driver, const char *list, adc_param_fn *fn, void *ctx, char *err,
                    size_t errlen)
{
    const char *s = list ? list : "";

    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char item[ADC_PARAM_ITEM_MAX];
        if (len == 0)
            return adc_param_fail(err, errlen, driver, "empty item in parameter list");
        if (len >= sizeof(item))
            return adc_param_fail(err, errlen, driver, "item '%.16s...' is too long", s);
        memcpy(item, s, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (!eq || eq == item || eq[1] == '\0')
            return adc_param_fail(err, errlen, driver, "'%s' is not key=value", item);
        *eq = '\0';
        int r = fn(ctx, item, eq + 1, err, errlen);
        if (r)
            return r;
        s += len;
        if (*s == ',') {
            s++;
            if (*s == '\0')
                return adc_param_fail(err, errlen, driver, "empty item in parameter list");
        }
    }
    return 0;
}

int adc_param_double(const char *driver, const char *key, const char *val, double min, double max,
                     double *ret, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    if (errno || end == val || *end != '\0' || !isfinite(d))
        return adc_param_fail(err, errlen, driver, "%s=%s is not a number", key, val);
    if (d < min || d > max)
        return adc_param_fail(err, errlen, driver, "%s=%s is out of range %g..%g", key, val, min,
                              max);
    *ret = d;
    return 0;
}

int adc_param_uint(const char *driver, const char *key, const char *val, unsigned long min,
                   unsigned long max, unsigned long *ret, char *err, size_t errlen)
{
    char *end;
    if (val[0] < '0' || val[0] > '9')
        return adc_param_fail(err, errlen, driver, "%s=%s is not a whole number", key, val);
    errno = 0;
    unsigned long u = strtoul(val, &end, 10);
    if (errno || *end != '\0')
        return adc_param_fail(err, errlen, driver, "%s=%s is not a whole number", key, val);
    if (u < min || u > max)
        return adc_param_fail(err, errlen, driver, "%s=%s is out of range %lu..%lu", key, val, min,
                              max);
    *ret = u;
    return 0;
}
