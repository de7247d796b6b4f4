-- Prepaid billing (docs/billing.md). Tariff versions of a device, or of the park when device_pk
-- is NULL (the default for devices without their own); billing's state per device (charge.h's
-- struct charge_state); the charge rows that grow as an hour goes on, keyed (device, wall-clock
-- hour, tariff version, period); the events billing reports to an operator; and each device's
-- billing settings. Money in the settings is a money column (integer fen here); charges count
-- whole fen and nanofen (10^-8 fen) as integers.
CREATE TABLE IF NOT EXISTS tariff_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_pk INTEGER REFERENCES devices(id) ON DELETE CASCADE,
    effective_from_ms INTEGER NOT NULL,
    tariff TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (device_pk, effective_from_ms)
);

CREATE TABLE IF NOT EXISTS billing_state (
    device_pk INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    started INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    ts_ms INTEGER NOT NULL DEFAULT 0,
    import_mwh INTEGER NOT NULL DEFAULT 0,
    remainder_nfen INTEGER NOT NULL DEFAULT 0,
    waiting_since_ms INTEGER NOT NULL DEFAULT 0,
    exchange_next INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS charges (
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    hour_ms INTEGER NOT NULL,
    version_ms INTEGER NOT NULL,
    period INTEGER NOT NULL,
    label TEXT NOT NULL,
    price INTEGER NOT NULL,
    energy_mwh INTEGER NOT NULL,
    amount_nfen INTEGER NOT NULL,
    fen INTEGER NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    PRIMARY KEY (device_pk, hour_ms, version_ms, period)
);

CREATE TABLE IF NOT EXISTS billing_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL,
    from_ts_ms INTEGER NOT NULL,
    to_ts_ms INTEGER NOT NULL,
    from_import_mwh INTEGER NOT NULL,
    to_import_mwh INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS billing_events_by_device ON billing_events (device_pk, id);

CREATE TABLE IF NOT EXISTS billing_settings (
    device_pk INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    low_balance INTEGER NOT NULL,
    cutoff_at INTEGER NOT NULL,
    protected INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
