-- WeChat Pay orders: one row per order a tenant placed for a device. A paid order points at
-- its ledger row (kind 'payment'); out_trade_no is ours, transaction_id WeChat Pay's.
-- Binary collation: both numbers are case-sensitive.
CREATE TABLE IF NOT EXISTS payments (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    out_trade_no VARCHAR(32) NOT NULL,
    transaction_id VARCHAR(32) NULL,
    device_pk BIGINT NOT NULL,
    user_id BIGINT NULL,
    amount DECIMAL(15,2) NOT NULL,
    prepay_id VARCHAR(64) NULL,
    state ENUM('created', 'paid', 'closed', 'failed') NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    paid_ms BIGINT NULL,
    ledger_id BIGINT NULL,
    UNIQUE KEY payments_out_trade_no (out_trade_no),
    UNIQUE KEY payments_transaction_id (transaction_id),
    KEY payments_by_state (state, created_ms),
    KEY payments_by_device (device_pk, id),
    CONSTRAINT payments_device FOREIGN KEY (device_pk) REFERENCES devices (id) ON DELETE CASCADE,
    CONSTRAINT payments_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT payments_amount CHECK (amount > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
