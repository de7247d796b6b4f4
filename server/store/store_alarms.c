/*
 * store_alarms: the facade of the alarms (store.h "Alarms of the state
 * analysis"): argument checks, then the backend's operations.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "store_impl.h"
#include "utf8.h"

static const char *const alarm_states[ALARM__COUNT] = {
    [ALARM_RAISED] = "raised", [ALARM_ACKNOWLEDGED] = "acknowledged", [ALARM_CLEARED] = "cleared"};

const char *alarm_state_name(enum alarm_state st)
{
    return (unsigned)st < ALARM__COUNT ? alarm_states[st] : NULL;
}

int alarm_state_parse(const char *name, enum alarm_state *ret)
{
    for (int k = 0; k < ALARM__COUNT; k++) {
        if (strcmp(name, alarm_states[k]) == 0) {
            *ret = (enum alarm_state)k;
            return 0;
        }
    }
    return -EINVAL;
}

static bool text_ok(const char *t, size_t max)
{
    size_t n = t ? strlen(t) : 0;
    return n > 0 && n <= max;
}

/* Kinds are the rules' names: lower-case letters, digits, '.' and '_'. */
static bool kind_ok(const char *k)
{
    if (!text_ok(k, STORE_ALARM_KIND_MAX))
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
            return false;
    return true;
}

int store_alarm_raise(struct store *s, const struct alarm_rec *a, int64_t *ret_id, bool *ret_new)
{
    if (!text_ok(a->device_id, DEVICE_ID_MAX) || !kind_ok(a->kind) ||
        !text_ok(a->severity, STORE_ALARM_SEVERITY_MAX) || strlen(a->site) > STORE_ALARM_SITE_MAX ||
        (a->has_value && !isfinite(a->value)) || (a->has_limit && !isfinite(a->limit)) ||
        a->raised_ms <= 0)
        return store_fail(s, -EINVAL, "an alarm needs a device, a kind, a severity and a time");
    struct alarm_rec c = *a;
    utf8_clean(a->message, c.message, sizeof(c.message));
    return s->ops->alarm_raise(s, &c, ret_id, ret_new);
}

int store_alarm_clear(struct store *s, const char *device_id, const char *kind, int64_t at_ms,
                      int64_t *ret_id)
{
    if (!text_ok(device_id, DEVICE_ID_MAX) || !kind_ok(kind))
        return store_fail(s, -EINVAL, "clearing an alarm needs a device and a kind");
    return s->ops->alarm_clear(s, device_id, kind, at_ms, ret_id);
}

int store_alarm_ack(struct store *s, int64_t id, const char *user, const char *note, int64_t at_ms)
{
    char clean[STORE_ALARM_TEXT_MAX + 1];
    if (id <= 0 || !text_ok(user, USERNAME_MAX))
        return store_fail(s, -EINVAL, "an acknowledgement needs an alarm and a user");
    utf8_clean(note ? note : "", clean, sizeof(clean));
    return s->ops->alarm_ack(s, id, user, clean, at_ms);
}

int store_alarm_get(struct store *s, int64_t id, struct alarm_rec *ret)
{
    if (id <= 0)
        return store_fail(s, -ENOENT, "no such alarm");
    return s->ops->alarm_get(s, id, ret);
}

static bool alarm_filter_ok(const struct alarm_filter *f)
{
    return !((f->device_id && !text_ok(f->device_id, DEVICE_ID_MAX)) ||
             (f->site && strlen(f->site) > STORE_ALARM_SITE_MAX) ||
             (f->severity && !text_ok(f->severity, STORE_ALARM_SEVERITY_MAX)) ||
             f->state_mask >= ALARM_BIT(ALARM__COUNT));
}

int store_alarms_list(struct store *s, const struct alarm_filter *f, store_alarm_cb cb, void *ctx)
{
    if (f->limit == 0 || f->limit > STORE_ALARMS_MAX || !alarm_filter_ok(f))
        return store_fail(s, -EINVAL, "bad alarm filter");
    return s->ops->alarms_list(s, f, cb, ctx);
}

int store_alarms_count(struct store *s, const struct alarm_filter *f, int64_t *ret)
{
    if (!alarm_filter_ok(f))
        return store_fail(s, -EINVAL, "bad alarm filter");
    return s->ops->alarms_count(s, f, ret);
}

int store_alarm_rules_get(struct store *s, const char *device_id, store_alarm_rule_cb cb, void *ctx)
{
    if (!text_ok(device_id, DEVICE_ID_MAX))
        return store_fail(s, -EINVAL, "alarm rules need a device");
    return s->ops->alarm_rules_get(s, device_id, cb, ctx);
}

int store_alarm_rules_set(struct store *s, const char *device_id,
                          const struct alarm_rule_override *o, size_t n, int64_t at_ms)
{
    if (!text_ok(device_id, DEVICE_ID_MAX))
        return store_fail(s, -EINVAL, "alarm rules need a device");
    for (size_t i = 0; i < n; i++) {
        if (!kind_ok(o[i].kind) || (o[i].has_limit && !isfinite(o[i].limit)) ||
            (o[i].has_hysteresis && (!isfinite(o[i].hysteresis) || o[i].hysteresis < 0)) ||
            (o[i].has_min_duration && o[i].min_duration_ms < 0))
            return store_fail(s, -EINVAL, "bad alarm rule '%s'", o[i].kind);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o[i].kind, o[j].kind) == 0)
                return store_fail(s, -EINVAL, "alarm rule '%s' given twice", o[i].kind);
    }
    return s->ops->alarm_rules_set(s, device_id, o, n, at_ms);
}
