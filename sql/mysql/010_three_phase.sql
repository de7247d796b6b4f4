-- Three-phase readings (docs/protocol.md "Three-phase readings"): per-phase values, line-to-line
-- voltages, neutral current, unbalance, maximum demand, per-phase energy, the wiring and the
-- phase sequence. NULL in single-phase readings.
ALTER TABLE readings
    ADD COLUMN IF NOT EXISTS voltage_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS reactive_var_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS reactive_var_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS reactive_var_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS apparent_va_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS apparent_va_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS apparent_va_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS pf_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS pf_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS pf_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS thd_v_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS thd_v_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS thd_v_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS thd_i_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS thd_i_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS thd_i_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS phase_deg_a DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS phase_deg_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS phase_deg_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS angle_v_b DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS angle_v_c DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_ab DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_bc DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_ca DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_n DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS unbalance_u2_pct DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS unbalance_u0_pct DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS unbalance_i2_pct DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS demand_w DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS demand_max_w DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS energy_import_a_mwh BIGINT NULL,
    ADD COLUMN IF NOT EXISTS energy_import_b_mwh BIGINT NULL,
    ADD COLUMN IF NOT EXISTS energy_import_c_mwh BIGINT NULL,
    ADD COLUMN IF NOT EXISTS demand_max_ts_ms BIGINT NULL,
    ADD COLUMN IF NOT EXISTS wiring VARCHAR(4) NULL,
    ADD COLUMN IF NOT EXISTS phase_sequence VARCHAR(3) NULL;

-- Per-phase rollups (004_rollups.sql explains the columns): voltage, current and active power of
-- each phase, counted like the optional metrics, so per-phase history outlives raw readings.
ALTER TABLE rollups
    ADD COLUMN IF NOT EXISTS voltage_a_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS voltage_a_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS voltage_a_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_a_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_b_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS voltage_b_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS voltage_b_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_b_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_c_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS voltage_c_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS voltage_c_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_c_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_a_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS current_a_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS current_a_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_a_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_b_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS current_b_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS current_b_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_b_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_c_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS current_c_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS current_c_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_c_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_a_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS power_w_a_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS power_w_a_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_a_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_b_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS power_w_b_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS power_w_b_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_b_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_c_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS power_w_c_sum DOUBLE NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS power_w_c_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_c_max DOUBLE NULL;

-- Multi-channel captures (docs/protocol.md "Waveform capture"): the wiring and the channel names
-- in the order of the samples blob, which interleaves one float32 per channel per instant.
-- NULL in single-phase captures (v,i pairs, as before).
ALTER TABLE captures
    ADD COLUMN IF NOT EXISTS wiring VARCHAR(4) NULL,
    ADD COLUMN IF NOT EXISTS channels VARCHAR(64) NULL;

-- Maximum demand per device and month (docs/api.md "Maximum demand"): month is 'YYYY-MM' in the
-- site's time zone; the largest demand_w the readings carried and when, and the largest
-- demand_max_w the meter itself reported with the time it gave (demand_max_ts).
CREATE TABLE IF NOT EXISTS demand_monthly (
    device_pk BIGINT NOT NULL,
    month CHAR(7) NOT NULL,
    demand_max_w DOUBLE NULL,
    demand_max_ts_ms BIGINT NULL,
    meter_max_w DOUBLE NULL,
    meter_max_ts_ms BIGINT NULL,
    readings BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (device_pk, month),
    CONSTRAINT demand_monthly_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE
) ENGINE=InnoDB;
