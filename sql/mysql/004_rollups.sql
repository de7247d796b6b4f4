-- Rollups of readings, kept up to date as readings are stored (in the same
-- transaction), so downsampled history and energy per day or month never scan
-- raw readings, and survive the raw readings' retention.
--
-- period '1m' and '1h': UTC minutes and hours; bucket_ms is the bucket's start.
-- period '1d': days in the site's time zone (option timezone); bucket_ms is the
-- local midnight that starts the day, as epoch ms (a day is 23 or 25 hours long
-- across a DST change). Months are summed from days.
--
-- n counts the readings in the bucket. For voltage and current (always present)
-- sum/min/max cover all n; for the optional metrics <m>_n counts those that
-- carried the value and <m>_sum, <m>_min, <m>_max cover them (NULL min/max when
-- none did). min and max take a reading's own interval extremes (voltage_min,
-- voltage_max, ...) where it has them. Energy counters (cumulative, never
-- decreasing) keep their smallest and largest value in the bucket: the energy
-- of a bucket is its max minus the max of the bucket before it with data (or
-- its own min when there is none).
CREATE TABLE IF NOT EXISTS rollups (
    device_pk BIGINT NOT NULL,
    period CHAR(2) NOT NULL,
    bucket_ms BIGINT NOT NULL,
    n BIGINT NOT NULL,
    first_ts_ms BIGINT NOT NULL,
    last_ts_ms BIGINT NOT NULL,
    voltage_sum DOUBLE NOT NULL,
    voltage_min DOUBLE NOT NULL,
    voltage_max DOUBLE NOT NULL,
    current_sum DOUBLE NOT NULL,
    current_min DOUBLE NOT NULL,
    current_max DOUBLE NOT NULL,
    power_w_n BIGINT NOT NULL DEFAULT 0,
    power_w_sum DOUBLE NOT NULL DEFAULT 0,
    power_w_min DOUBLE NULL,
    power_w_max DOUBLE NULL,
    reactive_var_n BIGINT NOT NULL DEFAULT 0,
    reactive_var_sum DOUBLE NOT NULL DEFAULT 0,
    reactive_var_min DOUBLE NULL,
    reactive_var_max DOUBLE NULL,
    pf_n BIGINT NOT NULL DEFAULT 0,
    pf_sum DOUBLE NOT NULL DEFAULT 0,
    pf_min DOUBLE NULL,
    pf_max DOUBLE NULL,
    freq_hz_n BIGINT NOT NULL DEFAULT 0,
    freq_hz_sum DOUBLE NOT NULL DEFAULT 0,
    freq_hz_min DOUBLE NULL,
    freq_hz_max DOUBLE NULL,
    thd_v_n BIGINT NOT NULL DEFAULT 0,
    thd_v_sum DOUBLE NOT NULL DEFAULT 0,
    thd_v_min DOUBLE NULL,
    thd_v_max DOUBLE NULL,
    thd_i_n BIGINT NOT NULL DEFAULT 0,
    thd_i_sum DOUBLE NOT NULL DEFAULT 0,
    thd_i_min DOUBLE NULL,
    thd_i_max DOUBLE NULL,
    energy_import_min_mwh BIGINT NULL,
    energy_import_max_mwh BIGINT NULL,
    energy_export_min_mwh BIGINT NULL,
    energy_export_max_mwh BIGINT NULL,
    PRIMARY KEY (device_pk, period, bucket_ms),
    CONSTRAINT rollups_period CHECK (period IN ('1m', '1h', '1d')),
    CONSTRAINT rollups_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE
) ENGINE=InnoDB;
