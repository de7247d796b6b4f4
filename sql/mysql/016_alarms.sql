-- Alarms of the state analysis (server/alarms/, docs/alarms.md): one row per episode of a
-- condition of a device (kind), raised with the value and the limit it crossed, acknowledged
-- by an operator (who, when, a note), cleared when the condition ends. At most one open
-- (raised or acknowledged) alarm per device and kind: the service keeps to that.
CREATE TABLE IF NOT EXISTS alarms (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_id VARCHAR(64) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    severity VARCHAR(16) NOT NULL,
    state VARCHAR(16) NOT NULL,
    site VARCHAR(64) NOT NULL DEFAULT '',
    value DOUBLE NULL,
    limit_value DOUBLE NULL,
    message VARCHAR(255) NOT NULL DEFAULT '',
    raised_ms BIGINT NOT NULL,
    acked_ms BIGINT NULL,
    acked_by VARCHAR(64) NULL,
    ack_note VARCHAR(255) NULL,
    cleared_ms BIGINT NULL,
    KEY alarms_by_device (device_id, kind, state),
    KEY alarms_by_time (raised_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- Per-device settings of a rule, over the site defaults: each NULL column keeps the default.
CREATE TABLE IF NOT EXISTS alarm_rules (
    device_id VARCHAR(64) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    enabled TINYINT NULL,
    limit_value DOUBLE NULL,
    min_duration_ms BIGINT NULL,
    hysteresis DOUBLE NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
