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
    device_pk INTEGER NOT NULL,
    period CHAR(2) NOT NULL,
    bucket_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    first_ts_ms INTEGER NOT NULL,
    last_ts_ms INTEGER NOT NULL,
    voltage_sum REAL NOT NULL,
    voltage_min REAL NOT NULL,
    voltage_max REAL NOT NULL,
    current_sum REAL NOT NULL,
    current_min REAL NOT NULL,
    current_max REAL NOT NULL,
    power_w_n INTEGER NOT NULL DEFAULT 0,
    power_w_sum REAL NOT NULL DEFAULT 0,
    power_w_min REAL NULL,
    power_w_max REAL NULL,
    reactive_var_n INTEGER NOT NULL DEFAULT 0,
    reactive_var_sum REAL NOT NULL DEFAULT 0,
    reactive_var_min REAL NULL,
    reactive_var_max REAL NULL,
    pf_n INTEGER NOT NULL DEFAULT 0,
    pf_sum REAL NOT NULL DEFAULT 0,
    pf_min REAL NULL,
    pf_max REAL NULL,
    freq_hz_n INTEGER NOT NULL DEFAULT 0,
    freq_hz_sum REAL NOT NULL DEFAULT 0,
    freq_hz_min REAL NULL,
    freq_hz_max REAL NULL,
    thd_v_n INTEGER NOT NULL DEFAULT 0,
    thd_v_sum REAL NOT NULL DEFAULT 0,
    thd_v_min REAL NULL,
    thd_v_max REAL NULL,
    thd_i_n INTEGER NOT NULL DEFAULT 0,
    thd_i_sum REAL NOT NULL DEFAULT 0,
    thd_i_min REAL NULL,
    thd_i_max REAL NULL,
    energy_import_min_mwh INTEGER NULL,
    energy_import_max_mwh INTEGER NULL,
    energy_export_min_mwh INTEGER NULL,
    energy_export_max_mwh INTEGER NULL,
    PRIMARY KEY (device_pk, period, bucket_ms),
    CHECK (period IN ('1m', '1h', '1d')),
    FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE
) WITHOUT ROWID;
