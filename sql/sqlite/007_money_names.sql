-- One vocabulary for both dialects: the money columns are named as in MySQL (balance, amount,
-- balance_after). SQLite keeps them as integer fen (it has no exact decimal type), MySQL as
-- DECIMAL(15,2) yuan; the drivers convert. Renamed in place: every row is kept.
ALTER TABLE devices RENAME COLUMN balance_fen TO balance;
ALTER TABLE ledger RENAME COLUMN amount_fen TO amount;
ALTER TABLE ledger RENAME COLUMN balance_after_fen TO balance_after;
