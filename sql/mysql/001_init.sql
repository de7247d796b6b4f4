-- Users, devices, who may see which device, readings and the money ledger.
CREATE TABLE IF NOT EXISTS users (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(64) NOT NULL,
    password_hash VARCHAR(160) NOT NULL,
    role VARCHAR(16) NOT NULL,
    tokens_valid_after_ms BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    UNIQUE KEY users_username (username),
    CONSTRAINT users_role CHECK (role IN ('admin', 'operator', 'user'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS devices (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_id VARCHAR(64) NOT NULL,
    secret_hash CHAR(64) NOT NULL,
    balance DECIMAL(15,2) NOT NULL DEFAULT 0,
    status VARCHAR(8) NOT NULL DEFAULT 'unknown',
    status_ms BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    UNIQUE KEY devices_device_id (device_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The seed kept a JSON list of devices in each user row; a binding table instead.
CREATE TABLE IF NOT EXISTS user_devices (
    user_id BIGINT NOT NULL,
    device_pk BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_pk),
    KEY user_devices_by_device (device_pk),
    CONSTRAINT user_devices_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_devices_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- One row per reading, keyed by the meter's own sequence number so replays are harmless.
CREATE TABLE IF NOT EXISTS readings (
    device_pk BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    voltage DOUBLE NOT NULL,
    current DOUBLE NOT NULL,
    power_w DOUBLE NULL,
    reactive_var DOUBLE NULL,
    apparent_va DOUBLE NULL,
    pf DOUBLE NULL,
    freq_hz DOUBLE NULL,
    thd_v DOUBLE NULL,
    thd_i DOUBLE NULL,
    energy_import_mwh BIGINT NULL,
    energy_export_mwh BIGINT NULL,
    boot BIGINT NULL,
    PRIMARY KEY (device_pk, seq),
    KEY readings_by_time (device_pk, ts_ms)
) ENGINE=InnoDB;

-- Every change of a balance, with who made it; idempotency keys make retries harmless.
CREATE TABLE IF NOT EXISTS ledger (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_pk BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    amount DECIMAL(15,2) NOT NULL,
    balance_after DECIMAL(15,2) NOT NULL,
    actor_user_id BIGINT NULL,
    idem_key VARCHAR(128) NULL,
    created_ms BIGINT NOT NULL,
    UNIQUE KEY ledger_idempotency (actor_user_id, idem_key),
    KEY ledger_by_device (device_pk, id),
    CONSTRAINT ledger_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE,
    CONSTRAINT ledger_actor FOREIGN KEY (actor_user_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
