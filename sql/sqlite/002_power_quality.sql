-- Power-quality fields of a reading: per-interval extremes, V-I angle, reactive energy,
-- and the samples a meter missed.
ALTER TABLE readings ADD COLUMN voltage_min REAL;
ALTER TABLE readings ADD COLUMN voltage_max REAL;
ALTER TABLE readings ADD COLUMN current_min REAL;
ALTER TABLE readings ADD COLUMN current_max REAL;
ALTER TABLE readings ADD COLUMN power_w_min REAL;
ALTER TABLE readings ADD COLUMN power_w_max REAL;
ALTER TABLE readings ADD COLUMN freq_hz_min REAL;
ALTER TABLE readings ADD COLUMN freq_hz_max REAL;
ALTER TABLE readings ADD COLUMN phase_deg REAL;
ALTER TABLE readings ADD COLUMN reactive_import_mvarh INTEGER;
ALTER TABLE readings ADD COLUMN reactive_export_mvarh INTEGER;
ALTER TABLE readings ADD COLUMN samples_dropped INTEGER;
