-- Accounts (the security work). Ids are never handed out twice: without AUTOINCREMENT SQLite
-- gives the highest id again after a delete, so a new account (or device) would take a deleted
-- one's id and with it the old one's tokens (or cached history). users and devices are rebuilt
-- with AUTOINCREMENT and every row kept: the driver runs migrations with foreign keys off (the
-- other tables' references to users and devices stay as they are, by name, and no cascade
-- runs) and checks every foreign key before it commits. Accounts may be disabled. The audit log
-- keeps what operators and admins did, names rather than ids, so it outlives the accounts.
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'user')),
    tokens_valid_after_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_new (id, username, password_hash, role, tokens_valid_after_ms, created_ms)
    SELECT id, username, password_hash, role, tokens_valid_after_ms, created_ms FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE devices_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    balance INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'unknown',
    status_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    data_version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO devices_new (id, device_id, secret_hash, balance, status, status_ms, created_ms,
                         data_version)
    SELECT id, device_id, secret_hash, balance, status, status_ms, created_ms, data_version
    FROM devices;
DROP TABLE devices;
ALTER TABLE devices_new RENAME TO devices;

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    address TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
