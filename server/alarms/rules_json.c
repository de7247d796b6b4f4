/* rules_json: the rule overrides and the state filter as clients send them (rules_json.h). */
#include "rules_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, const char *kind, const char *what)
{
    snprintf(err, ALARM_PARSE_ERR_LEN, "rules.%.40s%s", kind, what);
    return -EINVAL;
}

static int parse_one(const char *kind, const json_t *obj, struct alarm_rule_override *o, char *err)
{
    if (!json_is_object(obj))
        return fail(err, kind, " must be an object or null");
    memset(o, 0, sizeof(*o));
    snprintf(o->kind, sizeof(o->kind), "%s", kind);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (json_is_null(v))
            continue; /* the default */
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        if (strcmp(key, "enabled") == 0) {
            if (!json_is_boolean(v))
                return fail(err, kind, ".enabled must be true or false");
            o->has_enabled = true;
            o->enabled = json_is_true(v);
        } else if (strcmp(key, "limit") == 0) {
            if (!isfinite(x) || fabs(x) > 1e9)
                return fail(err, kind, ".limit must be a number (at most 1e9 either way)");
            o->has_limit = true;
            o->limit = x;
        } else if (strcmp(key, "hysteresis") == 0) {
            if (!isfinite(x) || x < 0 || x > 1e9)
                return fail(err, kind, ".hysteresis must be a number from 0 to 1e9");
            o->has_hysteresis = true;
            o->hysteresis = x;
        } else if (strcmp(key, "min_duration_s") == 0) {
            if (!isfinite(x) || x < 0 || x > ALARM_MIN_DURATION_MAX_S)
                return fail(err, kind, ".min_duration_s must be seconds from 0 to 604800");
            o->has_min_duration = true;
            o->min_duration_ms = (int64_t)llround(x * 1000);
        } else {
            return fail(err, kind,
                        " takes enabled, limit, min_duration_s and hysteresis, nothing else");
        }
    }
    return 0;
}

int alarm_overrides_parse(const json_t *rules, struct alarm_rule_override ret[AK__COUNT],
                          size_t *ret_n, char err[ALARM_PARSE_ERR_LEN])
{
    size_t n = 0;
    if (!json_is_object(rules)) {
        snprintf(err, ALARM_PARSE_ERR_LEN, "rules must be an object of rule kinds");
        return -EINVAL;
    }
    const char *kind;
    json_t *v;
    json_object_foreach((json_t *)rules, kind, v)
    {
        if (alarm_kind_parse(kind) < 0) {
            snprintf(err, ALARM_PARSE_ERR_LEN, "unknown rule '%.40s'", kind);
            return -EINVAL;
        }
        if (json_is_null(v))
            continue;
        if (n == AK__COUNT) /* jansson keeps keys unique: cannot happen */
            return fail(err, kind, ": too many rules");
        int r = parse_one(kind, v, &ret[n], err);
        if (r)
            return r;
        n++;
    }
    *ret_n = n;
    return 0;
}

int alarm_states_parse(const char *s, unsigned *ret)
{
    unsigned m = 0;
    if (!*s)
        return -EINVAL;
    while (*s) {
        size_t n = strcspn(s, ",");
        char one[16];
        if (n == 0 || n >= sizeof(one))
            return -EINVAL;
        memcpy(one, s, n);
        one[n] = '\0';
        enum alarm_state st;
        if (strcmp(one, "open") == 0)
            m |= ALARM_OPEN_MASK;
        else if (alarm_state_parse(one, &st) == 0)
            m |= ALARM_BIT(st);
        else
            return -EINVAL;
        s += n;
        if (*s == ',') {
            s++;
            if (!*s)
                return -EINVAL; /* a trailing comma */
        }
    }
    *ret = m;
    return 0;
}
