#include "measure.h"

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
