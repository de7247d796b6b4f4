-- One vocabulary for both dialects: the money columns are named balance, amount and
-- balance_after everywhere. MySQL had these names from the start (DECIMAL(15,2) yuan), so
-- only SQLite renames (sql/sqlite/007_money_names.sql); this number keeps the two in step.
DO 0;
