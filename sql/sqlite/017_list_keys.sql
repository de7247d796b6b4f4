-- Keys for the device list (docs/api.md "GET /api/devices", server/store/ops_device_lists.c),
-- kept by the store beside what they are made of.
--
-- A user's page: the binding carries its device's device_id, so the page walks
-- (user_id, device_id) from the cursor and stops after limit + 1 rows instead of reading and
-- sorting every device of the user. A device_id never changes.
ALTER TABLE user_devices ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
UPDATE user_devices SET device_id = (SELECT d.device_id FROM devices d WHERE d.id = user_devices.device_pk);
CREATE INDEX IF NOT EXISTS user_devices_by_user_device_id ON user_devices (user_id, device_id);
-- The search (q): LOWER(device_id), or LOWER(device_id || char(10) || name) when the device
-- has a name. A search holds no control character, so a match never spans the line feed; one
-- LIKE on a narrow index entry replaces LOWER() of two columns and a join per device.
ALTER TABLE devices ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
UPDATE devices SET search_key = LOWER(device_id || COALESCE(char(10) || (SELECT m.name FROM device_meta m WHERE m.device_pk = devices.id), ''));
CREATE INDEX IF NOT EXISTS devices_by_search_key ON devices (device_id, search_key);
