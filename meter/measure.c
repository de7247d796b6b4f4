#include "measure.h"

#include <stdbool.h>
#include <string.h>

void measure_close_pq_interval(struct meter_state *st, const struct pq_interval *iv, int64_t ts_ms,
                               struct reading *ret)
{
    meter_state_add_energy(st, iv->import_wh);
    meter_state_add_energy(st, -iv->export_wh);
    meter_state_add_reactive(st, iv->q_import_varh);
    meter_state_add_reactive(st, -iv->q_export_varh);

    memset(ret, 0, sizeof(*ret));
    ret->seq = meter_state_next_seq(st);
    ret->has_seq = true;
    ret->ts_ms = ts_ms;
    reading_set_real(ret, RR_VOLTAGE, iv->vrms_avg);
    reading_set_real(ret, RR_CURRENT, iv->irms_avg);
    reading_set_real(ret, RR_POWER_W, iv->p_avg);
    reading_set_real(ret, RR_REACTIVE_VAR, iv->q_avg);
    reading_set_real(ret, RR_APPARENT_VA, iv->s_avg);
    reading_set_real(ret, RR_PF, iv->pf);
    reading_set_real(ret, RR_VOLTAGE_MIN, iv->vrms_min);
    reading_set_real(ret, RR_VOLTAGE_MAX, iv->vrms_max);
    reading_set_real(ret, RR_CURRENT_MIN, iv->irms_min);
    reading_set_real(ret, RR_CURRENT_MAX, iv->irms_max);
    reading_set_real(ret, RR_POWER_W_MIN, iv->p_min);
    reading_set_real(ret, RR_POWER_W_MAX, iv->p_max);
    if (iv->freq_windows > 0) {
        reading_set_real(ret, RR_FREQ_HZ, iv->freq_avg);
        reading_set_real(ret, RR_FREQ_HZ_MIN, iv->freq_min);
        reading_set_real(ret, RR_FREQ_HZ_MAX, iv->freq_max);
        reading_set_real(ret, RR_THD_V, iv->thd_v);
        reading_set_real(ret, RR_THD_I, iv->thd_i);
        reading_set_real(ret, RR_PHASE_DEG, iv->phase_deg);
    }
    reading_set_counter(ret, RC_ENERGY_IMPORT, st->energy_import_mwh);
    reading_set_counter(ret, RC_ENERGY_EXPORT, st->energy_export_mwh);
    reading_set_counter(ret, RC_REACTIVE_IMPORT, st->reactive_import_mvarh);
    reading_set_counter(ret, RC_REACTIVE_EXPORT, st->reactive_export_mvarh);
    reading_set_counter(ret, RC_BOOT, st->boot);
}

void measure_close_pq3_interval(struct meter_state *st, const struct pq3_interval *iv,
                                int64_t ts_ms, struct reading *ret)
{
    static const enum reading_real v_f[3] = {RR_VOLTAGE_A, RR_VOLTAGE_B, RR_VOLTAGE_C};
    static const enum reading_real i_f[3] = {RR_CURRENT_A, RR_CURRENT_B, RR_CURRENT_C};
    static const enum reading_real p_f[3] = {RR_POWER_W_A, RR_POWER_W_B, RR_POWER_W_C};
    static const enum reading_real q_f[3] = {RR_REACTIVE_VAR_A, RR_REACTIVE_VAR_B,
                                             RR_REACTIVE_VAR_C};
    static const enum reading_real s_f[3] = {RR_APPARENT_VA_A, RR_APPARENT_VA_B,
                                             RR_APPARENT_VA_C};
    static const enum reading_real pf_f[3] = {RR_PF_A, RR_PF_B, RR_PF_C};
    static const enum reading_real thdv_f[3] = {RR_THD_V_A, RR_THD_V_B, RR_THD_V_C};
    static const enum reading_real thdi_f[3] = {RR_THD_I_A, RR_THD_I_B, RR_THD_I_C};
    static const enum reading_real ang_f[3] = {RR_PHASE_DEG_A, RR_PHASE_DEG_B, RR_PHASE_DEG_C};
    static const enum reading_real vll_f[3] = {RR_VOLTAGE_AB, RR_VOLTAGE_BC, RR_VOLTAGE_CA};
    static const enum reading_counter e_f[3] = {RC_ENERGY_IMPORT_A, RC_ENERGY_IMPORT_B,
                                                RC_ENERGY_IMPORT_C};
    const unsigned np = iv->phases < 3 ? iv->phases : 3;
    const bool fundamental = iv->fund_windows > 0;

    meter_state_add_energy(st, iv->import_wh);
    meter_state_add_energy(st, -iv->export_wh);
    meter_state_add_reactive(st, iv->q_import_varh);
    meter_state_add_reactive(st, -iv->q_export_varh);
    for (unsigned k = 0; k < np; k++)
        meter_state_add_phase_import(st, k, iv->ph[k].import_wh);

    memset(ret, 0, sizeof(*ret));
    ret->seq = meter_state_next_seq(st);
    ret->has_seq = true;
    ret->ts_ms = ts_ms;
    reading_set_label(ret, RL_WIRING, pq3_wiring_name(iv->wiring));
    reading_set_real(ret, RR_VOLTAGE, iv->voltage_avg);
    reading_set_real(ret, RR_CURRENT, iv->current_avg);
    reading_set_real(ret, RR_POWER_W, iv->p_avg);
    reading_set_real(ret, RR_REACTIVE_VAR, iv->q_avg);
    reading_set_real(ret, RR_APPARENT_VA, iv->s_avg);
    reading_set_real(ret, RR_PF, iv->pf);
    reading_set_real(ret, RR_VOLTAGE_MIN, iv->voltage_min);
    reading_set_real(ret, RR_VOLTAGE_MAX, iv->voltage_max);
    reading_set_real(ret, RR_CURRENT_MIN, iv->current_min);
    reading_set_real(ret, RR_CURRENT_MAX, iv->current_max);
    reading_set_real(ret, RR_POWER_W_MIN, iv->p_min);
    reading_set_real(ret, RR_POWER_W_MAX, iv->p_max);
    for (unsigned k = 0; k < np; k++) {
        const struct pq_interval *ph = &iv->ph[k];
        reading_set_real(ret, v_f[k], ph->vrms_avg);
        reading_set_real(ret, i_f[k], ph->irms_avg);
        reading_set_real(ret, p_f[k], ph->p_avg);
        reading_set_real(ret, q_f[k], ph->q_avg);
        reading_set_real(ret, s_f[k], ph->s_avg);
        reading_set_real(ret, pf_f[k], ph->pf);
        reading_set_real(ret, vll_f[k], iv->vll_avg[k]);
        if (fundamental) {
            reading_set_real(ret, thdv_f[k], ph->thd_v);
            reading_set_real(ret, thdi_f[k], ph->thd_i);
            reading_set_real(ret, ang_f[k], ph->phase_deg);
        }
    }
    if (iv->wiring == PQ3_3P4W)
        reading_set_real(ret, RR_CURRENT_N, iv->in_avg);
    if (fundamental) {
        reading_set_real(ret, RR_FREQ_HZ, iv->freq_avg);
        reading_set_real(ret, RR_FREQ_HZ_MIN, iv->freq_min);
        reading_set_real(ret, RR_FREQ_HZ_MAX, iv->freq_max);
        reading_set_real(ret, RR_THD_V, iv->thd_v);
        reading_set_real(ret, RR_THD_I, iv->thd_i);
        reading_set_real(ret, RR_PHASE_DEG, iv->ph[0].phase_deg);
        reading_set_real(ret, RR_ANGLE_V_B, iv->angle_v_deg[1]);
        reading_set_real(ret, RR_ANGLE_V_C, iv->angle_v_deg[2]);
        reading_set_real(ret, RR_UNBALANCE_U2, iv->u2_pct);
        if (iv->wiring == PQ3_3P4W)
            reading_set_real(ret, RR_UNBALANCE_U0, iv->u0_pct);
        reading_set_real(ret, RR_UNBALANCE_I2, iv->i2_pct);
        if (iv->sequence != PQ3_SEQ_UNKNOWN)
            reading_set_label(ret, RL_SEQUENCE, iv->sequence == PQ3_SEQ_ACB ? "acb" : "abc");
    }
    reading_set_counter(ret, RC_ENERGY_IMPORT, st->energy_import_mwh);
    reading_set_counter(ret, RC_ENERGY_EXPORT, st->energy_export_mwh);
    reading_set_counter(ret, RC_REACTIVE_IMPORT, st->reactive_import_mvarh);
    reading_set_counter(ret, RC_REACTIVE_EXPORT, st->reactive_export_mvarh);
    for (unsigned k = 0; k < np; k++)
        reading_set_counter(ret, e_f[k], st->energy_import_phase_mwh[k]);
    reading_set_counter(ret, RC_BOOT, st->boot);
}

void measure_set_demand(struct reading *r, const struct demand *d)
{
    if (d->has_sliding)
        reading_set_real(r, RR_DEMAND_W, d->sliding_w);
    if (d->has_max) {
        reading_set_real(r, RR_DEMAND_MAX_W, d->max_w);
        reading_set_counter(r, RC_DEMAND_MAX_TS, d->max_ts_ms);
    }
}
