-- Waveform captures: requested from a meter over MQTT, answered with samples, analysed here.
-- samples holds the v,i pairs interleaved as little-endian float32 (8 bytes a pair).
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    requested_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    requested_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'complete', 'failed')),
    message TEXT,
    rate_hz REAL,
    nominal_hz REAL,
    start_ms INTEGER,
    samples INTEGER,
    data BLOB,
    analysis TEXT,
    received_ms INTEGER,
    UNIQUE (device_pk, request_id)
);
CREATE INDEX IF NOT EXISTS captures_by_device ON captures (device_pk, id);
