// The alarm-rules editor's checks (PUT /api/devices/:id/alarm-rules, docs/api.md): pure, no
// DOM (unit-tested). Each rule's form gives text for limit, min_duration_s and hysteresis
// (empty: the default) and "", "on" or "off" for enabled; the same bounds as the server's.
const NUMBER = /^-?\d{1,9}(\.\d{1,6})?$/;
export const MAX_DURATION_S = 604800;

// → {override: {...} or null (nothing set), errors: {field: [i18n key, params]}}.
export function parseRule(form) {
  const override = {};
  const errors = {};
  if (form.enabled === 'on' || form.enabled === 'off') override.enabled = form.enabled === 'on';
  else if (form.enabled) errors.enabled = ['rules.bad_enabled', {}];
  const limit = (form.limit || '').trim();
  if (limit) {
    if (!NUMBER.test(limit)) errors.limit = ['rules.bad_number', { value: limit }];
    else override.limit = Number(limit);
  }
  const dur = (form.min_duration_s || '').trim();
  if (dur) {
    if (!/^\d{1,7}$/.test(dur) || Number(dur) > MAX_DURATION_S) errors.min_duration_s = ['rules.bad_duration', { max: MAX_DURATION_S }];
    else override.min_duration_s = Number(dur);
  }
  const hys = (form.hysteresis || '').trim();
  if (hys) {
    if (!NUMBER.test(hys) || Number(hys) < 0) errors.hysteresis = ['rules.bad_hysteresis', {}];
    else override.hysteresis = Number(hys);
  }
  return { override: Object.keys(override).length ? override : null, errors };
}

// The override a rule has, as the form's texts.
export function formOf(rule) {
  const o = rule.override || {};
  const text = (v) => (v === null || v === undefined ? '' : String(v));
  return {
    enabled: o.enabled === true ? 'on' : o.enabled === false ? 'off' : '',
    limit: text(o.limit), min_duration_s: text(o.min_duration_s), hysteresis: text(o.hysteresis),
  };
}

// {kind: form} → {body: {rules: {...}}, errors: {kind: {field: ...}}} (errors empty when good).
export function rulesBody(forms) {
  const rules = {};
  const errors = {};
  for (const [kind, form] of Object.entries(forms)) {
    const p = parseRule(form);
    if (Object.keys(p.errors).length) errors[kind] = p.errors;
    else if (p.override) rules[kind] = p.override;
  }
  return { body: { rules }, errors };
}
