// The device list's pages (web/src/devicepager.js) under node's own test runner, against a
// fake GET /api/devices that pages a fleet of 120 devices as the server does (a keyset on
// device_id, an opaque cursor, the total over all pages).
import assert from 'node:assert/strict';
import test from 'node:test';
import { allDevices, createPager, debounce, listQuery, PAGE_SIZE } from '../../../web/src/devicepager.js';

const FLEET = Array.from({ length: 120 }, (_, i) => ({
  device_id: `m-${String(i).padStart(3, '0')}`,
  name: i % 10 === 0 ? `Pump ${i}` : null,
  status: i % 3 === 0 ? 'online' : 'offline',
  balance: i % 7 === 0 ? -5 : 100,
}));

function fakeServer(fleet = FLEET) {
  const asked = [];
  const cursorOf = (id) => Buffer.from(id).toString('hex');
  const fetchPage = async (query) => {
    asked.push({ ...query });
    const limit = query.limit;
    assert.ok(Number.isInteger(limit) && limit >= 1 && limit <= 1000, `limit ${limit}`);
    let rows = fleet.filter((d) => (!query.status || d.status === query.status)
      && (!query.q || d.device_id.toLowerCase().includes(query.q.toLowerCase()) || (d.name || '').toLowerCase().includes(query.q.toLowerCase()))
      && (query.balance_below === undefined || d.balance < Number(query.balance_below)));
    const total = rows.length;
    if (query.cursor) {
      const after = Buffer.from(query.cursor, 'hex').toString();
      rows = rows.filter((d) => d.device_id > after);
    }
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? cursorOf(page[page.length - 1].device_id) : null;
    return { devices: page, total, limit, next_cursor: next };
  };
  return { fetchPage, asked };
}

test('the query carries a limit and only the filters set', () => {
  assert.deepEqual(listQuery({}), { limit: PAGE_SIZE });
  assert.deepEqual(listQuery({ q: '  pump ', status: 'online', alarms: true, arrears: true }, 'abc', 20),
    { limit: 20, cursor: 'abc', q: 'pump', status: 'online', alarms: 'open', balance_below: '0.01' });
  assert.deepEqual(listQuery({ q: '   ', status: '', alarms: false, arrears: false }), { limit: PAGE_SIZE });
});

test('a fleet of 120: the first page holds 50, "more" follows the cursor to 100 then 120', async () => {
  const srv = fakeServer();
  const pager = createPager(srv.fetchPage);
  let st = await pager.reset({});
  assert.equal(PAGE_SIZE, 50);
  assert.equal(st.devices.length, 50);
  assert.equal(st.total, 120);
  assert.equal(st.hasMore, true);
  assert.equal(srv.asked[0].cursor, undefined);
  st = await pager.more();
  assert.equal(st.devices.length, 100);
  assert.equal(srv.asked[1].cursor, Buffer.from('m-049').toString('hex'));
  assert.equal(st.devices[50].device_id, 'm-050');
  st = await pager.more();
  assert.equal(st.devices.length, 120);
  assert.equal(st.hasMore, false);
  assert.deepEqual(st.devices.map((d) => d.device_id), FLEET.map((d) => d.device_id));
  assert.equal(await pager.more(), null);
  assert.equal(srv.asked.length, 3);
});

test('a refresh reads the loaded pages again from their own cursors', async () => {
  const fleet = FLEET.map((d) => ({ ...d }));
  const srv = fakeServer(fleet);
  const pager = createPager(srv.fetchPage);
  await pager.reset({});
  await pager.more();
  fleet[60].status = 'unknown';
  srv.asked.length = 0;
  const st = await pager.refresh();
  assert.deepEqual(srv.asked.map((q) => q.cursor), [undefined, Buffer.from('m-049').toString('hex')]);
  assert.equal(st.devices.length, 100);
  assert.equal(st.devices[60].status, 'unknown');
});

test('a page added by "more" while a refresh runs stays, and the next one follows it', async () => {
  const srv = fakeServer();
  let hold = null;
  const pager = createPager(async (q) => {
    if (hold && !q.cursor) await hold;
    return srv.fetchPage(q);
  });
  await pager.reset({});
  let release;
  hold = new Promise((r) => { release = r; });
  const refreshing = pager.refresh();
  const st = await pager.more();
  assert.equal(st.devices.length, 100);
  release();
  const after = await refreshing;
  assert.equal(after.devices.length, 100);
  assert.deepEqual(after.devices.map((d) => d.device_id), FLEET.slice(0, 100).map((d) => d.device_id));
  hold = null;
  const last = await pager.more();
  assert.equal(last.devices.length, 120);
  assert.equal(last.hasMore, false);
});

test('a search narrows and starts again from the first page', async () => {
  const srv = fakeServer();
  const pager = createPager(srv.fetchPage);
  await pager.reset({});
  await pager.more();
  const st = await pager.reset({ q: 'pump' });
  assert.equal(srv.asked.at(-1).q, 'pump');
  assert.equal(srv.asked.at(-1).cursor, undefined);
  assert.equal(st.total, 12);
  assert.equal(st.devices.length, 12);
  assert.ok(st.devices.every((d) => /^Pump /.test(d.name)));
  assert.equal(st.hasMore, false);
});

test('filters go to the server: status and arrears', async () => {
  const srv = fakeServer();
  const pager = createPager(srv.fetchPage);
  let st = await pager.reset({ status: 'online' });
  assert.equal(st.total, 40);
  assert.ok(st.devices.every((d) => d.status === 'online'));
  st = await pager.reset({ arrears: true });
  assert.equal(st.total, FLEET.filter((d) => d.balance <= 0).length);
  assert.ok(st.devices.every((d) => d.balance <= 0));
});

test('an answer to filters replaced meanwhile is dropped', async () => {
  const srv = fakeServer();
  let release;
  const gate = new Promise((r) => { release = r; });
  let first = true;
  const pager = createPager(async (q) => {
    if (first) {
      first = false;
      await gate;
    }
    return srv.fetchPage(q);
  });
  const old = pager.reset({});
  const now = await pager.reset({ q: 'pump' });
  release();
  assert.equal(await old, null);
  assert.equal(now.total, 12);
  assert.equal(pager.state().devices.length, 12);
});

test('allDevices walks every page for a picker', async () => {
  const srv = fakeServer();
  const all = await allDevices(srv.fetchPage, { limit: 50 });
  assert.equal(all.length, 120);
  assert.equal(srv.asked.length, 3);
  assert.equal(new Set(all.map((d) => d.device_id)).size, 120);
});

test('debounce calls once after the last call', () => {
  const pending = new Map();
  let id = 0;
  const timers = {
    setTimeout: (fn) => { pending.set(++id, fn); return id; },
    clearTimeout: (i) => pending.delete(i),
  };
  const calls = [];
  const d = debounce((v) => calls.push(v), 300, timers);
  d('p'); d('pu'); d('pump');
  assert.equal(pending.size, 1);
  for (const [i, fn] of [...pending]) { pending.delete(i); fn(); }
  assert.deepEqual(calls, ['pump']);
  d('x');
  d.cancel();
  assert.equal(pending.size, 0);
});
