-- Commands to meters kept until they are done (server/commands/, docs/protocol.md "Relay"):
-- a command is queued, sent (again when its meter comes back), acknowledged by the meter's
-- reply, then done, failed or expired past expires_ms. Who asked for it and why stay with it.
CREATE TABLE IF NOT EXISTS commands (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    device_id VARCHAR(64) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    relay_state VARCHAR(3) NULL,
    state VARCHAR(16) NOT NULL,
    actor VARCHAR(128) NOT NULL,
    reason VARCHAR(512) NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    sent_ms BIGINT NULL,
    sends INT NOT NULL DEFAULT 0,
    finished_ms BIGINT NULL,
    message VARCHAR(255) NULL,
    KEY commands_by_device (device_id, created_ms),
    KEY commands_by_state (state, expires_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- What the rules noticed about a device (the low-balance alert, "balance.low"), for the
-- dashboard and the notifications that read it.
CREATE TABLE IF NOT EXISTS device_events (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_id VARCHAR(64) NOT NULL,
    at_ms BIGINT NOT NULL,
    kind VARCHAR(32) NOT NULL,
    detail VARCHAR(255) NOT NULL,
    KEY device_events_by_device (device_id, at_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- The load relay as each reading reports it: "on", "off", or NULL from meters without one.
ALTER TABLE readings ADD COLUMN IF NOT EXISTS relay VARCHAR(3) NULL;
