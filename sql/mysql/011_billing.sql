-- Prepaid billing (docs/billing.md). Tariff versions of a device, or of the park when device_pk
-- is NULL (the default for devices without their own); billing's state per device (charge.h's
-- struct charge_state); the charge rows that grow as an hour goes on, keyed (device, wall-clock
-- hour, tariff version, period); the events billing reports to an operator; and each device's
-- billing settings. Money in the settings is a money column (DECIMAL yuan here); charges count
-- whole fen and nanofen (10^-8 fen) as integers.
CREATE TABLE IF NOT EXISTS tariff_versions (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_pk BIGINT NULL,
    effective_from_ms BIGINT NOT NULL,
    tariff TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    UNIQUE KEY tariff_versions_by_device (device_pk, effective_from_ms),
    CONSTRAINT tariff_versions_device FOREIGN KEY (device_pk) REFERENCES devices (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS billing_state (
    device_pk BIGINT NOT NULL PRIMARY KEY,
    started TINYINT NOT NULL DEFAULT 0,
    seq BIGINT NOT NULL DEFAULT 0,
    ts_ms BIGINT NOT NULL DEFAULT 0,
    import_mwh BIGINT NOT NULL DEFAULT 0,
    remainder_nfen BIGINT NOT NULL DEFAULT 0,
    waiting_since_ms BIGINT NOT NULL DEFAULT 0,
    exchange_next TINYINT NOT NULL DEFAULT 0,
    updated_ms BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT billing_state_device FOREIGN KEY (device_pk) REFERENCES devices (id)
        ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS charges (
    device_pk BIGINT NOT NULL,
    hour_ms BIGINT NOT NULL,
    version_ms BIGINT NOT NULL,
    period INT NOT NULL,
    label VARCHAR(16) NOT NULL,
    price BIGINT NOT NULL,
    energy_mwh BIGINT NOT NULL,
    amount_nfen BIGINT NOT NULL,
    fen BIGINT NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    PRIMARY KEY (device_pk, hour_ms, version_ms, period),
    CONSTRAINT charges_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS billing_events (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_pk BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    from_seq BIGINT NOT NULL,
    to_seq BIGINT NOT NULL,
    from_ts_ms BIGINT NOT NULL,
    to_ts_ms BIGINT NOT NULL,
    from_import_mwh BIGINT NOT NULL,
    to_import_mwh BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    KEY billing_events_by_device (device_pk, id),
    CONSTRAINT billing_events_device FOREIGN KEY (device_pk) REFERENCES devices (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS billing_settings (
    device_pk BIGINT NOT NULL PRIMARY KEY,
    low_balance DECIMAL(15,2) NOT NULL,
    cutoff_at DECIMAL(15,2) NOT NULL,
    protected TINYINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    CONSTRAINT billing_settings_device FOREIGN KEY (device_pk) REFERENCES devices (id)
        ON DELETE CASCADE
) ENGINE=InnoDB;
