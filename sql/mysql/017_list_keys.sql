-- Keys for the device list (docs/api.md "GET /api/devices", server/store/ops_device_lists.c),
-- kept by the store beside what they are made of.
--
-- A user's page: the binding carries its device's device_id (in the collation of
-- devices.device_id, so the order is the same), so the page walks (user_id, device_id) from
-- the cursor and stops after limit + 1 rows instead of reading and sorting every device of
-- the user. A device_id never changes.
ALTER TABLE user_devices ADD COLUMN IF NOT EXISTS device_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '';
UPDATE user_devices b JOIN devices d ON d.id = b.device_pk SET b.device_id = d.device_id;
CREATE INDEX IF NOT EXISTS user_devices_by_user_device_id ON user_devices (user_id, device_id);
-- The search (q): LOWER(device_id), or LOWER(device_id || char(10) || name) when the device
-- has a name. A search holds no control character, so a match never spans the line feed; one
-- LIKE on a narrow index entry replaces LOWER() of two columns and a join per device. Bytes
-- (the UTF-8 of the lowered text): LIKE compares them without a collation's per-character
-- work, and a substring of whole characters is the same substring of bytes.
ALTER TABLE devices ADD COLUMN IF NOT EXISTS search_key VARBINARY(400) NOT NULL DEFAULT '';
UPDATE devices d LEFT JOIN device_meta m ON m.device_pk = d.id SET d.search_key = LOWER(CONCAT_WS(CHAR(10 USING utf8mb4), d.device_id, m.name));
CREATE INDEX IF NOT EXISTS devices_by_search_key ON devices (device_id, search_key);
