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
