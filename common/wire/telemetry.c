#include "telemetry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonutil.h"
#include "timeutil.h"

const struct reading_real_desc reading_reals[RR__COUNT] = {
    [RR_VOLTAGE] = {"voltage", "voltage", 0, 1e6, true},
    [RR_CURRENT] = {"current", "current", 0, 1e5, true},
    [RR_POWER_W] = {"power_w", "power_w", -1e10, 1e10, false},
    [RR_REACTIVE_VAR] = {"reactive_var", "reactive_var", -1e10, 1e10, false},
    [RR_APPARENT_VA] = {"apparent_va", "apparent_va", 0, 1e10, false},
    [RR_PF] = {"pf", "pf", -1, 1, false},
    [RR_FREQ_HZ] = {"freq_hz", "freq_hz", 0, 1000, false},
    [RR_THD_V] = {"thd_v", "thd_v", 0, 1000, false},
    [RR_THD_I] = {"thd_i", "thd_i", 0, 1000, false},
    [RR_VOLTAGE_MIN] = {"voltage_min", "voltage_min", 0, 1e6, false},
    [RR_VOLTAGE_MAX] = {"voltage_max", "voltage_max", 0, 1e6, false},
    [RR_CURRENT_MIN] = {"current_min", "current_min", 0, 1e5, false},
    [RR_CURRENT_MAX] = {"current_max", "current_max", 0, 1e5, false},
    [RR_POWER_W_MIN] = {"power_w_min", "power_w_min", -1e10, 1e10, false},
    [RR_POWER_W_MAX] = {"power_w_max", "power_w_max", -1e10, 1e10, false},
    [RR_FREQ_HZ_MIN] = {"freq_hz_min", "freq_hz_min", 0, 1000, false},
    [RR_FREQ_HZ_MAX] = {"freq_hz_max", "freq_hz_max", 0, 1000, false},
    [RR_PHASE_DEG] = {"phase_deg", "phase_deg", -180, 180, false},
    [RR_VOLTAGE_A] = {"voltage_a", "voltage_a", 0, 1e6, false},
    [RR_VOLTAGE_B] = {"voltage_b", "voltage_b", 0, 1e6, false},
    [RR_VOLTAGE_C] = {"voltage_c", "voltage_c", 0, 1e6, false},
    [RR_CURRENT_A] = {"current_a", "current_a", 0, 1e5, false},
    [RR_CURRENT_B] = {"current_b", "current_b", 0, 1e5, false},
    [RR_CURRENT_C] = {"current_c", "current_c", 0, 1e5, false},
    [RR_POWER_W_A] = {"power_w_a", "power_w_a", -1e10, 1e10, false},
    [RR_POWER_W_B] = {"power_w_b", "power_w_b", -1e10, 1e10, false},
    [RR_POWER_W_C] = {"power_w_c", "power_w_c", -1e10, 1e10, false},
    [RR_REACTIVE_VAR_A] = {"reactive_var_a", "reactive_var_a", -1e10, 1e10, false},
    [RR_REACTIVE_VAR_B] = {"reactive_var_b", "reactive_var_b", -1e10, 1e10, false},
    [RR_REACTIVE_VAR_C] = {"reactive_var_c", "reactive_var_c", -1e10, 1e10, false},
    [RR_APPARENT_VA_A] = {"apparent_va_a", "apparent_va_a", 0, 1e10, false},
    [RR_APPARENT_VA_B] = {"apparent_va_b", "apparent_va_b", 0, 1e10, false},
    [RR_APPARENT_VA_C] = {"apparent_va_c", "apparent_va_c", 0, 1e10, false},
    [RR_PF_A] = {"pf_a", "pf_a", -1, 1, false},
    [RR_PF_B] = {"pf_b", "pf_b", -1, 1, false},
    [RR_PF_C] = {"pf_c", "pf_c", -1, 1, false},
    [RR_THD_V_A] = {"thd_v_a", "thd_v_a", 0, 1000, false},
    [RR_THD_V_B] = {"thd_v_b", "thd_v_b", 0, 1000, false},
    [RR_THD_V_C] = {"thd_v_c", "thd_v_c", 0, 1000, false},
    [RR_THD_I_A] = {"thd_i_a", "thd_i_a", 0, 1000, false},
    [RR_THD_I_B] = {"thd_i_b", "thd_i_b", 0, 1000, false},
    [RR_THD_I_C] = {"thd_i_c", "thd_i_c", 0, 1000, false},
    [RR_PHASE_DEG_A] = {"phase_deg_a", "phase_deg_a", -180, 180, false},
    [RR_PHASE_DEG_B] = {"phase_deg_b", "phase_deg_b", -180, 180, false},
    [RR_PHASE_DEG_C] = {"phase_deg_c", "phase_deg_c", -180, 180, false},
    [RR_ANGLE_V_B] = {"angle_v_b", "angle_v_b", -180, 180, false},
    [RR_ANGLE_V_C] = {"angle_v_c", "angle_v_c", -180, 180, false},
    [RR_VOLTAGE_AB] = {"voltage_ab", "voltage_ab", 0, 1e6, false},
    [RR_VOLTAGE_BC] = {"voltage_bc", "voltage_bc", 0, 1e6, false},
    [RR_VOLTAGE_CA] = {"voltage_ca", "voltage_ca", 0, 1e6, false},
    [RR_CURRENT_N] = {"current_n", "current_n", 0, 1e5, false},
    [RR_UNBALANCE_U2] = {"unbalance_u2_pct", "unbalance_u2_pct", 0, 1000, false},
    [RR_UNBALANCE_U0] = {"unbalance_u0_pct", "unbalance_u0_pct", 0, 1000, false},
    [RR_UNBALANCE_I2] = {"unbalance_i2_pct", "unbalance_i2_pct", 0, 1000, false},
    [RR_DEMAND_W] = {"demand_w", "demand_w", -1e10, 1e10, false},
    [RR_DEMAND_MAX_W] = {"demand_max_w", "demand_max_w", -1e10, 1e10, false},
};

const struct reading_counter_desc reading_counters[RC__COUNT] = {
    [RC_ENERGY_IMPORT] = {"energy_wh", "energy_import_mwh", 1000, INT64_C(1000000000000000)},
    [RC_ENERGY_EXPORT] = {"energy_export_wh", "energy_export_mwh", 1000, INT64_C(1000000000000000)},
    [RC_BOOT] = {"boot", "boot", 1, UINT32_MAX},
    [RC_REACTIVE_IMPORT] = {"reactive_energy_varh", "reactive_import_mvarh", 1000,
                            INT64_C(1000000000000000)},
    [RC_REACTIVE_EXPORT] = {"reactive_energy_export_varh", "reactive_export_mvarh", 1000,
                            INT64_C(1000000000000000)},
    [RC_SAMPLES_DROPPED] = {"samples_dropped", "samples_dropped", 1, INT64_C(1000000000000000)},
    [RC_ENERGY_IMPORT_A] = {"energy_a_wh", "energy_import_a_mwh", 1000, INT64_C(1000000000000000)},
    [RC_ENERGY_IMPORT_B] = {"energy_b_wh", "energy_import_b_mwh", 1000, INT64_C(1000000000000000)},
    [RC_ENERGY_IMPORT_C] = {"energy_c_wh", "energy_import_c_mwh", 1000, INT64_C(1000000000000000)},
    [RC_DEMAND_MAX_TS] = {"demand_max_ts", "demand_max_ts_ms", 1, INT64_C(253402300799999)},
};

static const char *const wiring_values[] = {"1p2w", "3p4w", "3p3w", NULL};
static const char *const sequence_values[] = {"abc", "acb", NULL};
static const char *const relay_values[] = {"on", "off", NULL};

const struct reading_label_desc reading_labels[RL__COUNT] = {
    [RL_WIRING] = {"wiring", "wiring", wiring_values, "\"1p2w\", \"3p4w\", \"3p3w\""},
    [RL_SEQUENCE] = {"sequence", "phase_sequence", sequence_values, "\"abc\", \"acb\""},
    [RL_RELAY] = {"relay", "relay", relay_values, "\"on\", \"off\""},
};

int reading_set_label(struct reading *r, enum reading_label l, const char *text)
{
    const char *const *v = reading_labels[l].values;
    for (uint8_t k = 0; text && v[k]; k++) {
        if (strcmp(v[k], text) == 0) {
            r->label[l] = (uint8_t)(k + 1);
            return 0;
        }
    }
    return -EINVAL;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, TELEMETRY_ERR_LEN, __VA_ARGS__);                                             \
        return -EINVAL;                                                                            \
    } while (0)

static int parse_ts(const json_t *v, int64_t *ret, char err[TELEMETRY_ERR_LEN])
{
    if (json_is_string(v)) {
        if (time_parse_rfc3339(json_string_value(v), ret))
            FAIL("ts must be an RFC 3339 date-time like 2026-01-31T12:00:00.000Z");
        return 0;
    }
    if (json_is_integer(v)) {
        *ret = json_integer_value(v);
        return 0;
    }
    FAIL("ts must be an RFC 3339 string or integer epoch milliseconds");
}

static int parse_counter(const json_t *v, const struct reading_counter_desc *d, int64_t *ret,
                         char err[TELEMETRY_ERR_LEN])
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > d->max)
            FAIL("%s out of range 0..%lld", d->json, (long long)d->max);
        *ret = x * d->scale;
        return 0;
    }
    if (json_is_real(v) && d->scale > 1) {
        double x = json_real_value(v);
        if (!(x >= 0 && x <= (double)d->max))
            FAIL("%s out of range 0..%lld", d->json, (long long)d->max);
        *ret = llround(x * (double)d->scale);
        return 0;
    }
    FAIL("%s must be a non-negative %s", d->json, d->scale > 1 ? "number" : "integer");
}

static int parse_object(const json_t *obj, const struct telemetry_opts *o, struct reading *r,
                        char err[TELEMETRY_ERR_LEN])
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(obj))
        FAIL("reading must be a JSON object");

    const json_t *id = json_object_get(obj, "device_id");
    if (id) {
        if (!json_is_string(id))
            FAIL("device_id must be a string");
        if (o->device_id && strcmp(json_string_value(id), o->device_id) != 0)
            FAIL("device_id does not match the device this payload belongs to");
    } else if (o->require_device_id) {
        FAIL("device_id is missing");
    }

    const json_t *seq = json_object_get(obj, "seq");
    if (seq) {
        if (!json_is_integer(seq) || json_integer_value(seq) < 0)
            FAIL("seq must be a non-negative integer");
        r->seq = (uint64_t)json_integer_value(seq);
        r->has_seq = true;
    } else if (o->require_seq_ts) {
        FAIL("seq is missing");
    }

    const json_t *ts = json_object_get(obj, "ts");
    if (ts) {
        if (parse_ts(ts, &r->ts_ms, err))
            return -EINVAL;
        if (r->ts_ms < TIME_MIN_VALID_MS)
            FAIL("ts is before 2000-01-01 (is the meter's clock set?)");
        if (r->ts_ms > o->now_ms + o->max_future_ms)
            FAIL("ts is in the future (is the meter's clock set?)");
    } else if (o->require_seq_ts) {
        FAIL("ts is missing");
    } else {
        r->ts_ms = o->now_ms;
    }

    for (int f = 0; f < RR__COUNT; f++) {
        const struct reading_real_desc *d = &reading_reals[f];
        const json_t *v = json_object_get(obj, d->json);
        double x;
        if (!v || json_is_null(v)) {
            if (d->required)
                FAIL("%s is missing", d->json);
            continue;
        }
        if (!json_number(v, &x))
            FAIL("%s must be a number", d->json);
        if (!isfinite(x) || x < d->min || x > d->max)
            FAIL("%s out of range %g..%g", d->json, d->min, d->max);
        reading_set_real(r, (enum reading_real)f, x);
    }
    for (int c = 0; c < RC__COUNT; c++) {
        const json_t *v = json_object_get(obj, reading_counters[c].json);
        int64_t x;
        if (!v || json_is_null(v))
            continue;
        if (parse_counter(v, &reading_counters[c], &x, err))
            return -EINVAL;
        reading_set_counter(r, (enum reading_counter)c, x);
    }
    for (int l = 0; l < RL__COUNT; l++) {
        const struct reading_label_desc *d = &reading_labels[l];
        const json_t *v = json_object_get(obj, d->json);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v) || reading_set_label(r, (enum reading_label)l, json_string_value(v)))
            FAIL("%s must be one of %s", d->json, d->choices);
    }
    return 0;
}

int telemetry_decode_json(const json_t *root, const struct telemetry_opts *o, struct reading *out,
                          size_t max, struct telemetry_result *res)
{
    memset(res, 0, sizeof(*res));
    if (json_is_object(root)) {
        char err[TELEMETRY_ERR_LEN];
        if (max > 0 && parse_object(root, o, &out[0], err) == 0) {
            res->n_valid = 1;
        } else {
            res->n_invalid = 1;
            snprintf(res->first_error, sizeof(res->first_error), "%.150s", max ? err : "no room");
        }
        return 0;
    }
    if (!json_is_array(root)) {
        snprintf(res->first_error, sizeof(res->first_error),
                 "payload must be a JSON object or an array of objects");
        return -EINVAL;
    }
    size_t n = json_array_size(root);
    size_t cap = o->max_items < max ? o->max_items : max;
    if (n == 0) {
        snprintf(res->first_error, sizeof(res->first_error), "empty array");
        return -EINVAL;
    }
    if (n > cap) {
        snprintf(res->first_error, sizeof(res->first_error),
                 "array of %zu readings exceeds the limit of %zu", n, cap);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char err[TELEMETRY_ERR_LEN];
        if (parse_object(json_array_get(root, i), o, &out[res->n_valid], err) == 0) {
            res->n_valid++;
            continue;
        }
        if (res->n_invalid++ == 0)
            snprintf(res->first_error, sizeof(res->first_error), "item %zu: %.120s", i, err);
    }
    return 0;
}

int telemetry_decode(const char *payload, size_t len, const struct telemetry_opts *o,
                     struct reading *out, size_t max, struct telemetry_result *res)
{
    json_t *root;
    char jerr[JSON_ERR_LEN];

    if (telemetry_decode_fast(payload, len, o, out, max, res))
        return 0;
    memset(res, 0, sizeof(*res));
    if (json_load_limited(payload, len, TELEMETRY_MAX_DEPTH, &root, jerr)) {
        snprintf(res->first_error, sizeof(res->first_error), "%.150s", jerr);
        return -EINVAL;
    }
    int r = telemetry_decode_json(root, o, out, max, res);
    json_decref(root);
    return r;
}

bool telemetry_item_seq(const json_t *item, uint64_t *ret_seq)
{
    const json_t *seq = json_object_get(item, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0)
        return false;
    *ret_seq = (uint64_t)json_integer_value(seq);
    return true;
}

void telemetry_encode_fields(struct jsonw *w, const struct reading *r)
{
    for (int f = 0; f < RR__COUNT; f++)
        if (reading_has_real(r, (enum reading_real)f))
            jsonw_kdouble(w, reading_reals[f].json, r->real[f]);
    for (int c = 0; c < RC__COUNT; c++) {
        if (!reading_has_counter(r, (enum reading_counter)c))
            continue;
        jsonw_key(w, reading_counters[c].json);
        if (reading_counters[c].scale == 1000)
            jsonw_milli(w, r->counter[c]);
        else
            jsonw_int(w, r->counter[c]);
    }
    for (int l = 0; l < RL__COUNT; l++) {
        const char *text = reading_label_text(r, (enum reading_label)l);
        if (text)
            jsonw_kstr(w, reading_labels[l].json, text);
    }
}

void telemetry_encode(struct jsonw *w, const struct reading *r, const char *device_id)
{
    jsonw_obj_begin(w);
    if (device_id)
        jsonw_kstr(w, "device_id", device_id);
    jsonw_key(w, "seq");
    jsonw_uint(w, r->seq);
    jsonw_ktime(w, "ts", r->ts_ms);
    telemetry_encode_fields(w, r);
    jsonw_obj_end(w);
}

int telemetry_encode_payload(const struct reading *r, size_t n, bool as_array, struct dynbuf *out)
{
    if (n == 0 || (!as_array && n != 1))
        return -EINVAL;
    struct jsonw w;
    jsonw_init(&w, out);
    if (as_array)
        jsonw_arr_begin(&w);
    for (size_t k = 0; k < n; k++)
        telemetry_encode(&w, &r[k], NULL);
    if (as_array)
        jsonw_arr_end(&w);
    return jsonw_error(&w);
}
