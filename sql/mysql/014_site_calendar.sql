-- No-cut-off hours (docs/billing.md "Cut-off and restore"): a due cut-off waits during the
-- device's quiet hours [from, to) of the site's local day (minutes; from = to: none), on
-- weekend days and on the site calendar's holidays when those flags are set.
ALTER TABLE billing_settings ADD COLUMN IF NOT EXISTS no_cutoff_from_min SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE billing_settings ADD COLUMN IF NOT EXISTS no_cutoff_to_min SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE billing_settings ADD COLUMN IF NOT EXISTS no_cutoff_weekends TINYINT NOT NULL DEFAULT 0;
ALTER TABLE billing_settings ADD COLUMN IF NOT EXISTS no_cutoff_holidays TINYINT NOT NULL DEFAULT 0;
-- The site calendar: public holidays, and weekend days that are working days (调休).
CREATE TABLE IF NOT EXISTS site_calendar (
    day CHAR(10) NOT NULL PRIMARY KEY,
    kind VARCHAR(8) NOT NULL,
    CONSTRAINT site_calendar_kind CHECK (kind IN ('holiday', 'workday'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
