#include "measure.h"

#include <string.h>

void measure_close_interval(struct meter_state *st, const struct dsp_result *res, double interval_s,
                            int64_t ts_ms, struct reading *ret)
{
    meter_state_add_energy(st, res->p_w * interval_s / 3600.0);

    memset(ret, 0, sizeof(*ret));
    ret->seq = meter_state_next_seq(st);
    ret->has_seq = true;
    ret->ts_ms = ts_ms;
    reading_set_real(ret, RR_VOLTAGE, res->vrms);
    reading_set_real(ret, RR_CURRENT, res->irms);
    reading_set_real(ret, RR_POWER_W, res->p_w);
    reading_set_real(ret, RR_REACTIVE_VAR, res->q_var);
    reading_set_real(ret, RR_APPARENT_VA, res->s_va);
    reading_set_real(ret, RR_PF, res->pf);
    if (res->freq_hz > 0)
        reading_set_real(ret, RR_FREQ_HZ, res->freq_hz);
    reading_set_counter(ret, RC_ENERGY_IMPORT, st->energy_import_mwh);
    reading_set_counter(ret, RC_ENERGY_EXPORT, st->energy_export_mwh);
    reading_set_counter(ret, RC_BOOT, st->boot);
}
