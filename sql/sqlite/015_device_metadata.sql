-- Device metadata (server/store/device_meta.h, docs/api.md "Device metadata"): what an operator
-- tells the server about an installation. Every field is optional (NULL: not told). A device on
-- a 4G DTU's RS-485 bus has one unit address there.
CREATE TABLE IF NOT EXISTS device_meta (
    device_pk INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    name TEXT,
    site TEXT,
    address TEXT,
    latitude REAL,
    longitude REAL,
    nominal_voltage REAL,
    nominal_hz INTEGER,
    rated_current REAL,
    rated_kva REAL,
    ct_ratio REAL,
    pt_ratio REAL,
    modbus_unit INTEGER,
    dtu_id TEXT,
    poll_interval_s INTEGER,
    register_map TEXT,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS device_meta_dtu_unit ON device_meta (dtu_id, modbus_unit);
CREATE INDEX IF NOT EXISTS device_meta_by_site ON device_meta (site);
-- Remote operations (server/commands/operations.h): set_interval's interval (ms), and the JSON result
-- a meter's reply carries (read_status, sync_clock).
ALTER TABLE commands ADD COLUMN interval_ms INTEGER;
ALTER TABLE commands ADD COLUMN result TEXT;
