-- Waveform captures: requested from a meter over MQTT, answered with samples, analysed here.
-- data holds the v,i pairs interleaved as little-endian float32 (8 bytes a pair).
CREATE TABLE IF NOT EXISTS captures (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    device_pk BIGINT NOT NULL,
    request_id VARCHAR(64) NOT NULL,
    requested_by BIGINT NULL,
    requested_ms BIGINT NOT NULL,
    duration_ms INT NOT NULL,
    status VARCHAR(8) NOT NULL DEFAULT 'pending',
    message VARCHAR(255) NULL,
    rate_hz DOUBLE NULL,
    nominal_hz DOUBLE NULL,
    start_ms BIGINT NULL,
    samples BIGINT NULL,
    data LONGBLOB NULL,
    analysis MEDIUMTEXT NULL,
    received_ms BIGINT NULL,
    UNIQUE KEY captures_request (device_pk, request_id),
    KEY captures_by_device (device_pk, id),
    CONSTRAINT captures_status CHECK (status IN ('pending', 'complete', 'failed')),
    CONSTRAINT captures_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE,
    CONSTRAINT captures_user FOREIGN KEY (requested_by) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
