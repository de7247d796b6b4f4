-- The log of changes to devices' credentials: a row for each device added, deleted or given a
-- new secret, written in the same transaction as the change. A running meter-server follows
-- it to keep the broker's accounts in step with the devices table (server/broker/); rows
-- older than a day are pruned. AUTOINCREMENT: ids are never reused, even after pruning.
CREATE TABLE IF NOT EXISTS device_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    changed_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS device_changes_by_time ON device_changes (changed_ms);
