-- A counter per device that moves in the same transaction as every change to the device's
-- readings (an insert that stored rows, a retention delete that removed some): cached
-- history answers keyed by it can never be stale.
ALTER TABLE devices ADD COLUMN data_version INTEGER NOT NULL DEFAULT 0;
