-- Power-quality fields of a reading: per-interval extremes, V-I angle, reactive energy,
-- and the samples a meter missed.
ALTER TABLE readings
    ADD COLUMN IF NOT EXISTS voltage_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS voltage_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS current_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS power_w_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS freq_hz_min DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS freq_hz_max DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS phase_deg DOUBLE NULL,
    ADD COLUMN IF NOT EXISTS reactive_import_mvarh BIGINT NULL,
    ADD COLUMN IF NOT EXISTS reactive_export_mvarh BIGINT NULL,
    ADD COLUMN IF NOT EXISTS samples_dropped BIGINT NULL;
