// The device metadata fields the dashboard edits and their bounds: the server's
// (server/store/device_meta.c, docs/api.md "Device metadata"), checked here before sending.
// Pure: no DOM, no strings; a problem is {error: [i18n key, params]}.

// [name, kind, min, max]: kind 'text' (max = characters), 'ascii', 'map', 'hz', 'real', 'int'.
export const META_FIELDS = [
  ['name', 'text', 1, 64], ['site', 'text', 1, 64], ['address', 'text', 1, 200],
  ['latitude', 'real', -90, 90], ['longitude', 'real', -180, 180],
  ['nominal_voltage', 'real', 1, 1e6], ['nominal_hz', 'hz', 50, 60],
  ['rated_current', 'real', 0.001, 1e6], ['rated_kva', 'real', 0.001, 1e7],
  ['ct_ratio', 'real', 1, 1e5], ['pt_ratio', 'real', 1, 1e5],
  ['modbus_unit', 'int', 1, 247], ['dtu_id', 'ascii', 1, 64], ['poll_interval_s', 'int', 1, 86400],
  ['register_map', 'map', 1, 32],
];

// The value typed for a field: {value} (null for an empty field: it clears) or {error}.
export function parseField([, kind, min, max], raw) {
  const s = raw.trim();
  if (s === '') return { value: null };
  const chars = [...s].length;
  if (kind === 'text') return chars <= max && !/\p{Cc}/u.test(s) ? { value: s } : { error: ['meta.bad_text', { max }] };
  if (kind === 'ascii') return chars <= max && /^[\x21-\x7e]+$/.test(s) ? { value: s } : { error: ['meta.bad_ascii', { max }] };
  if (kind === 'map') return chars <= max && /^[a-z0-9_-]+$/.test(s) ? { value: s } : { error: ['meta.bad_map', { max }] };
  if (kind === 'hz') return s === '50' || s === '60' ? { value: Number(s) } : { error: ['meta.bad_hz', {}] };
  const v = /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!(v >= min && v <= max) || (kind === 'int' && !Number.isInteger(v))) {
    return { error: [kind === 'int' ? 'meta.bad_int' : 'meta.bad_number', { min, max }] };
  }
  return { value: v };
}

// The PATCH body: the fields whose parsed value differs from before (null clears).
export function changedFields(before, values) {
  const change = {};
  for (const [k, v] of Object.entries(values)) if (v !== (before[k] ?? null)) change[k] = v;
  return change;
}
