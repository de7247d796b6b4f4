// How an alarm shows (docs/api.md "Alarms"): its kind and severity in words, the measured
// value against the limit, and its state with who acknowledged it. Shared by the alarms page
// and the device page's open alarms.
import { h } from './dom.js';
import { t } from './i18n.js';
import { dateTime, num } from './format.js';

export const KINDS = ['voltage.over', 'voltage.under', 'frequency', 'thd_v', 'current.over', 'load.over', 'pf.low',
  'voltage.sag', 'voltage.swell', 'offline', 'relay.mismatch', 'balance.low', 'cutoff'];
export const SEVERITIES = ['critical', 'major', 'minor'];
export const STATES = ['open', 'raised', 'acknowledged', 'cleared'];

// A word this dashboard has none for shows as the server names it.
function word(key, fallback) {
  const s = t(key);
  return s === key ? fallback : s;
}

export const kindText = (kind) => word(`alarm.kind.${kind}`, kind);
export const severityText = (s) => word(`alarm.severity.${s}`, s);
export const stateText = (s) => word(`alarm.state.${s}`, s);

export function severityBadge(s) {
  return h('span', { class: `badge sev-${SEVERITIES.includes(s) ? s : 'minor'}`, dataset: { key: 'severity' } }, severityText(s));
}

// Decimals a quantity shows with: volts and percents one, minutes none, a power factor (no
// unit) three, the rest (A, Hz) two.
export function digitsFor(unit) {
  if (unit === 'V' || unit === '%') return 1;
  if (unit === 'min') return 0;
  return unit ? 2 : 3;
}

// "250.4 V > 235.4 V" for a measured kind; the server's message for a condition.
export function valueText(a) {
  if (typeof a.value !== 'number' || typeof a.limit !== 'number') return a.message || '—';
  const digits = digitsFor(a.unit);
  const unit = a.unit ? ` ${a.unit}` : '';
  return `${num(a.value, digits)}${unit} / ${t('alarm.limit')} ${num(a.limit, digits)}${unit}`;
}

// The state with its story: acknowledged by whom, when, the note; cleared when.
export function stateCell(a) {
  return h('td', { dataset: { key: 'state' } },
    h('span', { class: `badge state-${a.state}` }, stateText(a.state)),
    a.acknowledged_by && h('div', { class: 'small muted', dataset: { key: 'ack' } },
      t('alarm.acked_by', { who: a.acknowledged_by, at: dateTime(a.acknowledged_at) })),
    a.note && h('div', { class: 'small note', dataset: { key: 'note' } }, a.note),
    a.cleared_at && h('div', { class: 'small muted' }, t('alarm.cleared_at', { at: dateTime(a.cleared_at) })));
}
