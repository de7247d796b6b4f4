-- The log of changes to devices' credentials: a row for each device added, deleted or given a
-- new secret, written in the same transaction as the change. A running meter-server follows
-- it to keep the broker's accounts in step with the devices table (server/broker/); rows
-- older than a day are pruned.
CREATE TABLE IF NOT EXISTS device_changes (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_id VARCHAR(64) NOT NULL,
    changed_ms BIGINT NOT NULL,
    KEY device_changes_by_time (changed_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
