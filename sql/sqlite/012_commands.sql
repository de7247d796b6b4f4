-- Commands to meters kept until they are done (server/commands/, docs/protocol.md "Relay"):
-- a command is queued, sent (again when its meter comes back), acknowledged by the meter's
-- reply, then done, failed or expired past expires_ms. Who asked for it and why stay with it.
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    relay_state TEXT,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    sent_ms INTEGER,
    sends INTEGER NOT NULL DEFAULT 0,
    finished_ms INTEGER,
    message TEXT
);
CREATE INDEX IF NOT EXISTS commands_by_device ON commands (device_id, created_ms);
CREATE INDEX IF NOT EXISTS commands_by_state ON commands (state, expires_ms);
-- What the rules noticed about a device (the low-balance alert, "balance.low"), for the
-- dashboard and the notifications that read it.
CREATE TABLE IF NOT EXISTS device_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS device_events_by_device ON device_events (device_id, at_ms);
-- The load relay as each reading reports it: "on", "off", or NULL from meters without one.
ALTER TABLE readings ADD COLUMN relay TEXT;
