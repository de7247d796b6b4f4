// Number and time formatting for display.
import { locale } from './i18n.js';

export function num(v, digits = 1) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—';
}

// Money arrives as a JSON number with two decimals (yuan).
export const money = (v) => num(v, 2);

export function dateTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(locale(), { hour12: false });
}

export function timeOnly(date) {
  return date.toLocaleTimeString(locale(), { hour12: false });
}

// YYYY-MM-DD of a Date in the browser's zone.
export function ymd(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// A random key for Idempotency-Key (crypto.randomUUID needs a secure context; this does not).
export function randomKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// An interval in seconds as the API's duration ("30s", "10m", "1h", "1d").
export function durationParam(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

// A datetime-local input's value ("YYYY-MM-DDTHH:MM[:SS]", the browser's wall clock) as
// RFC 3339 with the browser's offset at that time ("2026-12-08T00:00:00+08:00"); null for
// anything else.
export function localToRfc3339(value) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?$/.exec(value || '');
  if (!m) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const off = -d.getTimezoneOffset();
  const p = (n) => String(n).padStart(2, '0');
  return `${m[1]}${m[2] || ':00'}${off < 0 ? '-' : '+'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

// YYYY-MM of a Date in the browser's zone.
export function ym(d) {
  return ymd(d).slice(0, 7);
}

// Yuan as the dashboard's forms take them: digits with at most two decimals, a sign where allowed.
export function validYuan(text, signed = false) {
  return (signed ? /^-?\d{1,9}(\.\d{1,2})?$/ : /^\d{1,9}(\.\d{1,2})?$/).test(text);
}
