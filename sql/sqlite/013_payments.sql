-- WeChat Pay orders: one row per order a tenant placed for a device. A paid order points at
-- its ledger row (kind 'payment'); out_trade_no is ours, transaction_id WeChat Pay's.
-- amount in fen, like the ledger's.
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY,
    out_trade_no TEXT NOT NULL UNIQUE,
    transaction_id TEXT UNIQUE,
    device_pk INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    prepay_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('created', 'paid', 'closed', 'failed')),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    paid_ms INTEGER,
    ledger_id INTEGER
);
CREATE INDEX IF NOT EXISTS payments_by_state ON payments (state, created_ms);
CREATE INDEX IF NOT EXISTS payments_by_device ON payments (device_pk, id);
