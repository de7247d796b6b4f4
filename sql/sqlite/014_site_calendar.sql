-- No-cut-off hours (docs/billing.md "Cut-off and restore"): a due cut-off waits during the
-- device's quiet hours [from, to) of the site's local day (minutes; from = to: none), on
-- weekend days and on the site calendar's holidays when those flags are set.
ALTER TABLE billing_settings ADD COLUMN no_cutoff_from_min INTEGER NOT NULL DEFAULT 0;
ALTER TABLE billing_settings ADD COLUMN no_cutoff_to_min INTEGER NOT NULL DEFAULT 0;
ALTER TABLE billing_settings ADD COLUMN no_cutoff_weekends INTEGER NOT NULL DEFAULT 0;
ALTER TABLE billing_settings ADD COLUMN no_cutoff_holidays INTEGER NOT NULL DEFAULT 0;
-- The site calendar: public holidays, and weekend days that are working days (调休).
CREATE TABLE IF NOT EXISTS site_calendar (
    day TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday'))
);
