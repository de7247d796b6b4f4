-- Users, devices, who may see which device, readings and the money ledger.
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'user')),
    tokens_valid_after_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    balance_fen INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'unknown',
    status_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);

-- The seed kept a JSON list of devices in each user row; a binding table instead.
CREATE TABLE IF NOT EXISTS user_devices (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_devices_by_device ON user_devices (device_pk);

-- One row per reading, keyed by the meter's own sequence number so replays are harmless.
CREATE TABLE IF NOT EXISTS readings (
    device_pk INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    voltage REAL NOT NULL,
    current REAL NOT NULL,
    power_w REAL,
    reactive_var REAL,
    apparent_va REAL,
    pf REAL,
    freq_hz REAL,
    thd_v REAL,
    thd_i REAL,
    energy_import_mwh INTEGER,
    energy_export_mwh INTEGER,
    boot INTEGER,
    PRIMARY KEY (device_pk, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (device_pk, ts_ms);

-- Every change of a balance, with who made it; idempotency keys make retries harmless.
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    balance_after_fen INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    idem_key TEXT,
    created_ms INTEGER NOT NULL,
    UNIQUE (actor_user_id, idem_key)
);
CREATE INDEX IF NOT EXISTS ledger_by_device ON ledger (device_pk, id);
