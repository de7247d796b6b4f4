-- Three-phase readings (docs/protocol.md "Three-phase readings"): per-phase values, line-to-line
-- voltages, neutral current, unbalance, maximum demand, per-phase energy, the wiring and the
-- phase sequence. NULL in single-phase readings.
ALTER TABLE readings ADD COLUMN voltage_a REAL;
ALTER TABLE readings ADD COLUMN voltage_b REAL;
ALTER TABLE readings ADD COLUMN voltage_c REAL;
ALTER TABLE readings ADD COLUMN current_a REAL;
ALTER TABLE readings ADD COLUMN current_b REAL;
ALTER TABLE readings ADD COLUMN current_c REAL;
ALTER TABLE readings ADD COLUMN power_w_a REAL;
ALTER TABLE readings ADD COLUMN power_w_b REAL;
ALTER TABLE readings ADD COLUMN power_w_c REAL;
ALTER TABLE readings ADD COLUMN reactive_var_a REAL;
ALTER TABLE readings ADD COLUMN reactive_var_b REAL;
ALTER TABLE readings ADD COLUMN reactive_var_c REAL;
ALTER TABLE readings ADD COLUMN apparent_va_a REAL;
ALTER TABLE readings ADD COLUMN apparent_va_b REAL;
ALTER TABLE readings ADD COLUMN apparent_va_c REAL;
ALTER TABLE readings ADD COLUMN pf_a REAL;
ALTER TABLE readings ADD COLUMN pf_b REAL;
ALTER TABLE readings ADD COLUMN pf_c REAL;
ALTER TABLE readings ADD COLUMN thd_v_a REAL;
ALTER TABLE readings ADD COLUMN thd_v_b REAL;
ALTER TABLE readings ADD COLUMN thd_v_c REAL;
ALTER TABLE readings ADD COLUMN thd_i_a REAL;
ALTER TABLE readings ADD COLUMN thd_i_b REAL;
ALTER TABLE readings ADD COLUMN thd_i_c REAL;
ALTER TABLE readings ADD COLUMN phase_deg_a REAL;
ALTER TABLE readings ADD COLUMN phase_deg_b REAL;
ALTER TABLE readings ADD COLUMN phase_deg_c REAL;
ALTER TABLE readings ADD COLUMN angle_v_b REAL;
ALTER TABLE readings ADD COLUMN angle_v_c REAL;
ALTER TABLE readings ADD COLUMN voltage_ab REAL;
ALTER TABLE readings ADD COLUMN voltage_bc REAL;
ALTER TABLE readings ADD COLUMN voltage_ca REAL;
ALTER TABLE readings ADD COLUMN current_n REAL;
ALTER TABLE readings ADD COLUMN unbalance_u2_pct REAL;
ALTER TABLE readings ADD COLUMN unbalance_u0_pct REAL;
ALTER TABLE readings ADD COLUMN unbalance_i2_pct REAL;
ALTER TABLE readings ADD COLUMN demand_w REAL;
ALTER TABLE readings ADD COLUMN demand_max_w REAL;
ALTER TABLE readings ADD COLUMN energy_import_a_mwh INTEGER;
ALTER TABLE readings ADD COLUMN energy_import_b_mwh INTEGER;
ALTER TABLE readings ADD COLUMN energy_import_c_mwh INTEGER;
ALTER TABLE readings ADD COLUMN demand_max_ts_ms INTEGER;
ALTER TABLE readings ADD COLUMN wiring TEXT;
ALTER TABLE readings ADD COLUMN phase_sequence TEXT;

-- Per-phase rollups (004_rollups.sql explains the columns): voltage, current and active power of
-- each phase, counted like the optional metrics, so per-phase history outlives raw readings.
ALTER TABLE rollups ADD COLUMN voltage_a_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN voltage_a_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN voltage_a_min REAL NULL;
ALTER TABLE rollups ADD COLUMN voltage_a_max REAL NULL;
ALTER TABLE rollups ADD COLUMN voltage_b_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN voltage_b_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN voltage_b_min REAL NULL;
ALTER TABLE rollups ADD COLUMN voltage_b_max REAL NULL;
ALTER TABLE rollups ADD COLUMN voltage_c_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN voltage_c_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN voltage_c_min REAL NULL;
ALTER TABLE rollups ADD COLUMN voltage_c_max REAL NULL;
ALTER TABLE rollups ADD COLUMN current_a_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN current_a_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN current_a_min REAL NULL;
ALTER TABLE rollups ADD COLUMN current_a_max REAL NULL;
ALTER TABLE rollups ADD COLUMN current_b_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN current_b_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN current_b_min REAL NULL;
ALTER TABLE rollups ADD COLUMN current_b_max REAL NULL;
ALTER TABLE rollups ADD COLUMN current_c_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN current_c_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN current_c_min REAL NULL;
ALTER TABLE rollups ADD COLUMN current_c_max REAL NULL;
ALTER TABLE rollups ADD COLUMN power_w_a_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN power_w_a_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN power_w_a_min REAL NULL;
ALTER TABLE rollups ADD COLUMN power_w_a_max REAL NULL;
ALTER TABLE rollups ADD COLUMN power_w_b_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN power_w_b_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN power_w_b_min REAL NULL;
ALTER TABLE rollups ADD COLUMN power_w_b_max REAL NULL;
ALTER TABLE rollups ADD COLUMN power_w_c_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN power_w_c_sum REAL NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN power_w_c_min REAL NULL;
ALTER TABLE rollups ADD COLUMN power_w_c_max REAL NULL;

-- Multi-channel captures (docs/protocol.md "Waveform capture"): the wiring and the channel names
-- in the order of the samples blob, which interleaves one float32 per channel per instant.
-- NULL in single-phase captures (v,i pairs, as before).
ALTER TABLE captures ADD COLUMN wiring TEXT;
ALTER TABLE captures ADD COLUMN channels TEXT;

-- Maximum demand per device and month (docs/api.md "Maximum demand"): month is 'YYYY-MM' in the
-- site's time zone; the largest demand_w the readings carried and when, and the largest
-- demand_max_w the meter itself reported with the time it gave (demand_max_ts).
CREATE TABLE IF NOT EXISTS demand_monthly (
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    demand_max_w REAL NULL,
    demand_max_ts_ms INTEGER NULL,
    meter_max_w REAL NULL,
    meter_max_ts_ms INTEGER NULL,
    readings INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_pk, month)
) WITHOUT ROWID;
