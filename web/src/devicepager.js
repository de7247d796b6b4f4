// The device list in pages (GET /api/devices?limit=&cursor=&status=&alarms=&balance_below=&q=,
// docs/api.md): pure, no DOM, so node's test runner drives it with a fake fetch. The pager
// keeps the cursor each loaded page started from, so a refresh reads the same pages again
// (a keyset on device_id: a device added meanwhile never shifts the others).

export const PAGE_SIZE = 50;
// What "in arrears" asks the list for: a balance at or below zero (yuan, two decimals).
export const ARREARS_BELOW = '0.01';

// The query for one page: only the filters set, always a limit (so the server pages).
export function listQuery(filters = {}, cursor = null, limit = PAGE_SIZE) {
  const q = { limit };
  if (cursor) q.cursor = cursor;
  const search = (filters.q || '').trim();
  if (search) q.q = search.slice(0, 64);
  if (filters.status) q.status = filters.status;
  if (filters.alarms) q.alarms = 'open';
  if (filters.arrears) q.balance_below = ARREARS_BELOW;
  return q;
}

// fetchPage(query) resolves {devices, total, next_cursor} as the API answers.
export function createPager(fetchPage, { limit = PAGE_SIZE } = {}) {
  let filters = {};
  let cursors = []; // the cursor each loaded page was asked with (null for the first)
  let pages = []; // the devices of each loaded page
  let total = null;
  let next = null;
  let generation = 0; // a reset makes the answers of older requests stale

  const state = () => ({
    devices: pages.flat(),
    total,
    hasMore: next !== null,
    filters: { ...filters },
  });

  async function ask(cursor) {
    return fetchPage(listQuery(filters, cursor, limit));
  }

  return {
    state,
    // The first page for these filters (the pages loaded before are dropped).
    async reset(newFilters = filters) {
      const g = ++generation;
      filters = { ...newFilters };
      const r = await ask(null);
      if (g !== generation) return null;
      cursors = [null];
      pages = [r.devices || []];
      total = r.total ?? pages[0].length;
      next = r.next_cursor ?? null;
      return state();
    },
    // The page after the last one loaded; null when there is none (or a reset came first).
    async more() {
      if (next === null) return null;
      const g = generation;
      const cursor = next;
      const r = await ask(cursor);
      if (g !== generation || cursor !== next) return null;
      cursors.push(cursor);
      pages.push(r.devices || []);
      total = r.total ?? total;
      next = r.next_cursor ?? null;
      return state();
    },
    // Every loaded page read again from its own cursor: fresh readings and statuses,
    // the same devices in view.
    async refresh() {
      if (!cursors.length) return this.reset(filters);
      const g = generation;
      const snap = cursors.slice();
      const fresh = [];
      let r = null;
      for (const c of snap) {
        r = await ask(c);
        if (g !== generation) return null;
        fresh.push(r.devices || []);
      }
      // A page "more" added meanwhile stays, with the cursor it left for the next one.
      const added = pages.slice(snap.length);
      pages = fresh.concat(added);
      total = r.total ?? total;
      if (!added.length) next = r.next_cursor ?? null;
      return state();
    },
  };
}

// Every device the caller may see, a page of `limit` at a time (for pickers that list them
// all); stops after `max` devices.
export async function allDevices(fetchPage, { limit = 1000, max = 100000, filters = {} } = {}) {
  const out = [];
  let cursor = null;
  do {
    const r = await fetchPage(listQuery(filters, cursor, limit));
    out.push(...(r.devices || []));
    cursor = r.next_cursor ?? null;
  } while (cursor && out.length < max);
  return out;
}

// fn called once `ms` after the last call (a search box's typing).
export function debounce(fn, ms, timers = globalThis) {
  let timer = null;
  const d = (...args) => {
    timers.clearTimeout(timer);
    timer = timers.setTimeout(() => {
      timer = null;
      fn(...args);
    }, ms);
  };
  d.cancel = () => {
    timers.clearTimeout(timer);
    timer = null;
  };
  return d;
}
