-- Alarms of the state analysis (server/alarms/, docs/alarms.md): one row per episode of a
-- condition of a device (kind), raised with the value and the limit it crossed, acknowledged
-- by an operator (who, when, a note), cleared when the condition ends. At most one open
-- (raised or acknowledged) alarm per device and kind: the service keeps to that.
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    site TEXT NOT NULL DEFAULT '',
    value REAL,
    limit_value REAL,
    message TEXT NOT NULL DEFAULT '',
    raised_ms INTEGER NOT NULL,
    acked_ms INTEGER,
    acked_by TEXT,
    ack_note TEXT,
    cleared_ms INTEGER
);
CREATE INDEX IF NOT EXISTS alarms_by_device ON alarms (device_id, kind, state);
CREATE INDEX IF NOT EXISTS alarms_by_time ON alarms (raised_ms);
-- Per-device settings of a rule, over the site defaults: each NULL column keeps the default.
CREATE TABLE IF NOT EXISTS alarm_rules (
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled INTEGER,
    limit_value REAL,
    min_duration_ms INTEGER,
    hysteresis REAL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, kind)
);
