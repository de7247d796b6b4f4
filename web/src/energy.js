// Energy per day and month, from GET /api/devices/:id/energy (answers 404 on servers that do
// not have it yet: callers then show "no energy data").
import { Api, ApiError } from './api.js';
import { ymd } from './format.js';

// The buckets of one period, or null when the server has no energy endpoint.
export async function energyBuckets(id, period, from, to) {
  try {
    const r = await Api.energy(id, { period, from: ymd(from), to: ymd(to) });
    return r.buckets || [];
  } catch (err) {
    // 404 for a route that is not there (a missing device would have failed earlier).
    if (err instanceof ApiError && err.status === 404 && err.message === 'not found') return null;
    throw err;
  }
}

// Today's energy in Wh: from the energy endpoint, or else the meter's import counter now
// minus its last value before local midnight (the whole counter for a meter first heard
// today).
export async function todayEnergyWh(id, latest) {
  const today = new Date();
  const tomorrow = new Date(today.getFullYear(), today.getMonth(), today.getDate() + 1);
  const buckets = await energyBuckets(id, 'day', today, tomorrow);
  if (buckets) {
    // Whether the server reads `to` as inclusive or not, count today's bucket only.
    return buckets.filter((b) => b.date === ymd(today)).reduce((s, b) => s + (b.energy_wh || 0), 0);
  }
  if (!latest || typeof latest.energy_wh !== 'number') return null;
  const midnight = new Date(today.getFullYear(), today.getMonth(), today.getDate());
  const before = await Api.data(id, { to: midnight.toISOString(), limit: 1 });
  const base = before.length && typeof before[0].energy_wh === 'number' ? before[0].energy_wh : 0;
  return Math.max(0, latest.energy_wh - base);
}
