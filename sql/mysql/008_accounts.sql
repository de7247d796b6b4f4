-- Accounts (the security work). AUTO_INCREMENT never hands out an id twice (MariaDB keeps the
-- counter across restarts since 10.2.4), so only SQLite rebuilds its tables here. Accounts may
-- be disabled. The audit log keeps what operators and admins did, names rather than ids, so it
-- outlives the accounts.
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled TINYINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS audit_log (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor VARCHAR(64) NOT NULL,
    action VARCHAR(32) NOT NULL,
    target VARCHAR(128) NOT NULL,
    address VARCHAR(64) NOT NULL,
    detail VARCHAR(255) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
