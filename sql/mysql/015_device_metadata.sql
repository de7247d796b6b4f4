-- Device metadata (server/store/device_meta.h, docs/api.md "Device metadata"): what an operator
-- tells the server about an installation. Every field is optional (NULL: not told). A device on
-- a 4G DTU's RS-485 bus has one unit address there.
CREATE TABLE IF NOT EXISTS device_meta (
    device_pk BIGINT NOT NULL PRIMARY KEY,
    name VARCHAR(64) NULL,
    site VARCHAR(64) NULL,
    address VARCHAR(200) NULL,
    latitude DOUBLE NULL,
    longitude DOUBLE NULL,
    nominal_voltage DOUBLE NULL,
    nominal_hz INT NULL,
    rated_current DOUBLE NULL,
    rated_kva DOUBLE NULL,
    ct_ratio DOUBLE NULL,
    pt_ratio DOUBLE NULL,
    modbus_unit INT NULL,
    dtu_id VARCHAR(64) NULL,
    poll_interval_s INT NULL,
    register_map VARCHAR(32) NULL,
    updated_ms BIGINT NOT NULL,
    updated_by VARCHAR(64) NOT NULL,
    UNIQUE KEY device_meta_dtu_unit (dtu_id, modbus_unit),
    KEY device_meta_by_site (site),
    CONSTRAINT device_meta_device FOREIGN KEY (device_pk) REFERENCES devices (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- Remote operations (server/commands/operations.h): set_interval's interval (ms), and the JSON result
-- a meter's reply carries (read_status, sync_clock).
ALTER TABLE commands ADD COLUMN IF NOT EXISTS interval_ms INT NULL;
ALTER TABLE commands ADD COLUMN IF NOT EXISTS result TEXT NULL;
