// Drives the dashboard in Debian's Chromium (playwright-core, no browser download).
// Environment: BASE_URL (a running meter-server serving the dashboard, set up by
// run_browser.py), CHROMIUM (the browser binary), SCREENSHOTS (a directory for the PNGs),
// METER_3P and METER_3P_SECRET (the three-phase meter and its upload secret),
// METER_3P_NEXT (a reading of it to upload while its page is open) and METER_T3 (a simulated
// three-phase meter publishing over MQTT).
// Every wait has a deadline; any failed check, page error or Content-Security-Policy
// violation fails the run (exit 1).
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOTS;
const METER_3P = process.env.METER_3P;
const METER_T3 = process.env.METER_T3;
const WAIT_MS = 20000;
assert.ok(BASE && SHOTS && METER_3P && METER_T3 && process.env.METER_3P_SECRET && process.env.METER_3P_NEXT,
  'BASE_URL, SCREENSHOTS and METER_3P, METER_T3, METER_3P_SECRET, METER_3P_NEXT must be set');

// Whether a number read off the page is within tolerance of what it should be.
function near(text, want, tol, what) {
  const v = Number.parseFloat(text);
  assert.ok(Math.abs(v - want) <= tol, `${what} reads ${text}, not ${want} ± ${tol}`);
}

const problems = [];
const shots = [];

function watch(page, label) {
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`${label}: ${m.text()}`);
  });
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

// The number of points of each series a chart element says it draws.
async function chartPoints(page, selector) {
  const raw = await page.locator(selector).getAttribute('data-points', { timeout: WAIT_MS });
  return raw ? JSON.parse(raw) : {};
}

// Waits until every series of the chart has at least min points.
async function waitForSeries(page, selector, min) {
  await page.waitForFunction(([sel, n]) => {
    const el = document.querySelector(sel);
    if (!el || !el.dataset.points) return false;
    const counts = Object.values(JSON.parse(el.dataset.points));
    return counts.length > 0 && counts.every((c) => c >= n);
  }, [selector, min], { timeout: WAIT_MS });
  return chartPoints(page, selector);
}

// The text of a cell of the per-phase table.
const phaseCell = (page, phase, key) => page.textContent(`#phase-table tr[data-phase="${phase}"] td[data-key="${key}"]`);

// How many pixels of a chart's canvas are painted.
const inked = (page, selector) => page.$eval(`${selector} canvas`, (c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let k = 3; k < d.length; k += 4) if (d[k] !== 0) n++;
  return n;
});

// Picks this month in the statement form and downloads it: checks the file's name, header
// and total (the sum of its day lines) and that the page shows the same lines; answers the
// text and the day lines as cells.
async function downloadStatement(page, device) {
  await page.waitForSelector('#statement-form', { timeout: WAIT_MS });
  const month = await page.evaluate(() => {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
  });
  assert.equal(await page.inputValue('#statement-month'), month);
  const answer = page.waitForResponse((r) => r.url().includes(`/api/devices/${device}/statement?month=${month}`), { timeout: WAIT_MS });
  const download = page.waitForEvent('download', { timeout: WAIT_MS });
  await page.click('#statement-download');
  const res = await answer;
  assert.equal(res.status(), 200);
  assert.match((await res.request().allHeaders()).authorization || '', /^Bearer /, 'the statement was fetched without the token');
  const file = await download;
  assert.equal(file.suggestedFilename(), `statement-${device}-${month}.csv`);
  const text = await (async () => {
    const chunks = [];
    for await (const c of await file.createReadStream()) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  })();
  const lines = text.split('\r\n');
  assert.equal(lines.pop(), '', 'the CSV ends with CRLF');
  assert.equal(lines[0], 'date,period,price,energy_kwh,cost');
  const total = lines.at(-1).split(',');
  assert.equal(total[0], 'total');
  const days = lines.slice(1, -1).map((l) => l.split(','));
  const fen = days.reduce((sum, d) => sum + Math.round(Number(d[4]) * 100), 0);
  assert.equal(Math.round(Number(total[4]) * 100), fen, `the total ${total[4]} is not the sum of the days`);
  await page.waitForSelector('#statement tbody tr.total', { timeout: WAIT_MS });
  assert.equal(await page.locator('#statement tbody tr').count(), days.length + 1);
  return { text, days };
}

async function login(page, user) {
  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/login$/, { timeout: WAIT_MS });
  await page.fill('#username', user);
  await page.fill('#password', `${user}-password`);
  await page.click('#login-submit');
  await page.waitForURL(/\/devices$/, { timeout: WAIT_MS });
}

async function desktop(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  watch(page, 'desktop');

  // Login page, in Chinese by default.
  await page.goto(`${BASE}/devices`);
  await page.waitForURL(/\/login$/, { timeout: WAIT_MS });
  assert.equal(await page.textContent('h1'), '登录');
  await page.fill('#username', 'op');
  await page.fill('#password', 'wrong-password');
  await page.click('#login-submit');
  await page.waitForSelector('.error', { timeout: WAIT_MS });
  assert.match(await page.textContent('.error'), /Invalid credentials/);
  await shot(page, 'desktop-1-login-refused');

  // The operator sees both meters, online, with readings.
  await login(page, 'op');
  await page.waitForFunction(() => document.querySelectorAll('#device-list .card.device').length === 4, null, { timeout: WAIT_MS });
  // The meters publishing over MQTT are online (the uploading one stays unknown).
  await page.waitForFunction((ids) => ids.every((d) => document.querySelector(`[data-device="${d}"]`)?.dataset.status === 'online'),
    ['meter-a', 'meter-b', METER_T3], { timeout: WAIT_MS });
  const ids = await page.$$eval('#device-list .device-id', (els) => els.map((e) => e.textContent));
  assert.deepEqual(ids, ['meter-a', 'meter-b', METER_3P, METER_T3]);
  assert.equal(await page.textContent(`[data-device="${METER_3P}"] .badge.wiring`), '三相四线');
  assert.equal(await page.locator('[data-device="meter-a"] .badge.wiring').count(), 0);
  const firstVoltage = await page.textContent('[data-device="meter-a"] .metric .value');
  assert.match(firstVoltage, /^2\d\d\.\d/, `meter-a's voltage reads ${firstVoltage}`);
  await shot(page, 'desktop-2-devices');

  // The device page: the live chart has points for V, A and W and grows without a reload.
  await page.click('[data-device="meter-a"]');
  await page.waitForURL(/\/devices\/meter-a$/, { timeout: WAIT_MS });
  const live = await waitForSeries(page, '#live-chart', 3);
  assert.equal(Object.keys(live).length, 3, `live series: ${JSON.stringify(live)}`);
  const lastBefore = Number(await page.getAttribute('#live-chart', 'data-last'));
  await page.waitForFunction((t) => Number(document.querySelector('#live-chart').dataset.last) > t, lastBefore, { timeout: WAIT_MS });
  // The chart is drawn: its canvas has non-blank pixels.
  const liveInk = await inked(page, '#live-chart');
  assert.ok(liveInk > 1000, `live chart canvas has ${liveInk} painted pixels`);
  // A single-phase meter's page is as it always was: no three-phase section, no wiring badge.
  assert.equal(await page.locator('#section-phases').count(), 0, 'a single-phase meter shows a three-phase section');
  assert.equal(await page.locator('#device-wiring').count(), 0);
  assert.equal(await page.locator('#history-phases').count(), 0, 'a single-phase meter offers a phase picker');
  assert.equal(await page.textContent('.device-head .metric:nth-child(2) .label'), '电压');

  // History (downsampled buckets) for the last hour, then 24 hours, then a custom range.
  await waitForSeries(page, '#history-chart', 1);
  assert.equal(await page.isVisible('.custom-range'), false, 'the custom range form shows for a preset');
  await page.click('[data-range="24h"]');
  await page.waitForFunction(() => /10m/.test(document.querySelector('#history-info').textContent), null, { timeout: WAIT_MS });
  await waitForSeries(page, '#history-chart', 1);
  await page.click('[data-range="custom"]');
  assert.equal(await page.isVisible('.custom-range'), true);
  await page.click('.custom-range button[type="submit"]'); // the last 24 hours, in 150 buckets
  // The form's default is the 24 hours to this minute: 86400 s / 150 buckets = 576 s each.
  await page.waitForFunction(() => /576s/.test(document.querySelector('#history-info').textContent), null, { timeout: WAIT_MS });
  await waitForSeries(page, '#history-chart', 1);

  // Energy: bars when the server has the endpoint, otherwise a plain "no energy data".
  await page.waitForFunction(() => {
    const chart = document.querySelector('#energy-chart');
    const status = document.querySelector('#energy-status');
    return (chart && chart.dataset.points && !chart.hidden) || /暂无用电数据/.test(status.textContent) || status.querySelector('.error');
  }, null, { timeout: WAIT_MS });
  assert.equal(await page.locator('#energy-status .error').count(), 0, await page.textContent('#energy-status'));

  // Recharge: the answer's new balance shows, and the head's balance follows.
  const balanceText = async () => (await page.textContent('.device-head .balance')).replace(/[¥,\s]/g, '');
  const before = Number(await balanceText());
  await page.fill('#recharge-amount', '88.50');
  await page.click('#recharge-submit');
  const expected = (before + 88.5).toFixed(2);
  await page.waitForFunction((b) => document.querySelector('#recharge-result').textContent.includes(b), expected, { timeout: WAIT_MS });
  await page.waitForFunction((b) => document.querySelector('.device-head .balance').textContent.includes(b), expected, { timeout: WAIT_MS });
  assert.match(await page.textContent('#ledger tbody tr:first-child'), /88\.50/);

  // Prepaid: a tariff through the editor, then the relay switched off with a reason: the
  // command's state goes to done (the meter applied it and a reading shows it) and the head's
  // relay follows; then back on. A switch without a reason is not sent.
  await page.waitForSelector('#tariff p.muted', { timeout: WAIT_MS });
  await page.fill('#tariff-text', '08:00 1.2000 峰\n06:00 0.4000 谷');
  await page.click('#tariff-submit');
  await page.waitForSelector('#tariff-result .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#tariff-result .error'), /periods\[1\]\.from/);
  await page.fill('#tariff-text', '00:00 0.4000 谷\n08:00 1.2000 峰');
  await page.click('#tariff-submit');
  await page.waitForSelector('#tariff-periods tbody tr:nth-child(2)', { timeout: WAIT_MS });
  assert.match(await page.textContent('#tariff-periods tbody tr:nth-child(2)'), /08:00.*峰.*1\.2000/);
  assert.equal(await page.textContent('#relay-state'), '合闸');
  await page.click('#relay-off');
  await page.waitForTimeout(1500);
  assert.equal(await page.textContent('#relay-command'), '', 'a relay switch went without a reason');
  for (const [relay, shown] of [['off', '断开（已断电）'], ['on', '合闸']]) {
    await page.fill('#relay-reason', `browser test: relay ${relay}`);
    await page.click(`#relay-${relay}`);
    await page.waitForFunction(() => ['done', 'failed', 'expired'].includes(document.querySelector('#relay-command').dataset.state), null, { timeout: WAIT_MS });
    assert.equal(await page.getAttribute('#relay-command', 'data-state'), 'done', await page.textContent('#relay-command'));
    assert.match(await page.textContent('#relay-command'), /已执行/);
    await page.waitForFunction((s) => document.querySelector('#relay-state').textContent === s, shown, { timeout: WAIT_MS });
    if (relay === 'off') await shot(page, 'desktop-2b-relay-off');
  }
  // The command history follows each switch without a reload: newest first, who and why.
  await page.waitForFunction(() => {
    const r = document.querySelector('#commands tbody tr');
    return r?.dataset.state === 'done' && r.querySelector('[data-key="reason"]').textContent === 'browser test: relay on';
  }, null, { timeout: WAIT_MS });
  const commandRows = await page.$$eval('#commands tbody tr', (els) => els.slice(0, 2).map((e) =>
    [e.dataset.state, ...['relay', 'state', 'actor', 'reason'].map((k) => e.querySelector(`[data-key="${k}"]`).textContent)]));
  assert.deepEqual(commandRows, [['done', '合闸', '已执行', 'op', 'browser test: relay on'],
    ['done', '断开（已断电）', '已执行', 'op', 'browser test: relay off']]);

  // Installation metadata: a bad value is refused by its field and nothing is sent; good
  // values are saved (only those changed), show in the head and read back after a reload.
  let patches = 0;
  const countPatch = (r) => { if (r.method() === 'PATCH' && r.url().endsWith('/api/devices/meter-a')) patches++; };
  page.on('request', countPatch);
  await page.waitForSelector('#metadata-form', { timeout: WAIT_MS });
  assert.equal(await page.locator('#metadata-empty').count(), 1);
  await page.fill('#meta-nominal_hz', '55');
  await page.fill('#meta-latitude', '91');
  await page.click('#metadata-submit');
  await page.waitForFunction(() => document.querySelector('#meta-nominal_hz-error').textContent !== '', null, { timeout: WAIT_MS });
  assert.equal(await page.textContent('#meta-nominal_hz-error'), '50 或 60');
  assert.match(await page.textContent('#meta-latitude-error'), /-90 到 90/);
  await page.locator('#section-metadata').screenshot({ path: path.join(SHOTS, 'desktop-2g-metadata-refused.png') });
  shots.push(path.join(SHOTS, 'desktop-2g-metadata-refused.png'));
  assert.equal(patches, 0, 'bad metadata was sent');
  const patchSent = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/api/devices/meter-a'), { timeout: WAIT_MS });
  for (const [k, v] of [['name', '1号配变'], ['site', '北区'], ['nominal_voltage', '220'], ['nominal_hz', '50'],
    ['latitude', '31.23'], ['rated_current', '60'], ['rated_kva', '100'], ['ct_ratio', '40']]) await page.fill(`#meta-${k}`, v);
  await page.click('#metadata-submit');
  assert.deepEqual(JSON.parse((await patchSent).postData()), {
    name: '1号配变', site: '北区', latitude: 31.23, nominal_voltage: 220, nominal_hz: 50, rated_current: 60, rated_kva: 100, ct_ratio: 40,
  });
  await page.waitForSelector('#metadata-result .ok', { timeout: WAIT_MS });
  await page.waitForFunction(() => document.querySelector('#device-name')?.textContent.includes('1号配变'), null, { timeout: WAIT_MS });
  assert.equal(await page.textContent('#metadata-list dd[data-key="nominal_voltage"]'), '220');
  assert.match(await page.textContent('#device-site'), /北区/);
  // Emptying a field clears it (null), the others stay.
  await page.fill('#meta-latitude', '');
  const cleared = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith('/api/devices/meter-a'), { timeout: WAIT_MS });
  await page.click('#metadata-submit');
  assert.deepEqual(JSON.parse((await cleared).postData()), { latitude: null });
  await page.waitForFunction(() => !document.querySelector('#metadata-list dd[data-key="latitude"]'), null, { timeout: WAIT_MS });
  page.off('request', countPatch);
  await page.locator('#section-metadata').screenshot({ path: path.join(SHOTS, 'desktop-2h-metadata-saved.png') });
  shots.push(path.join(SHOTS, 'desktop-2h-metadata-saved.png'));

  // Remote operations: read status shows the lifecycle to done and the meter's state as a
  // table; a bad interval is refused here; set interval and sync clock are done with their
  // results; the command history lists them.
  await page.click('#ops-read_status');
  await page.waitForFunction(() => ['done', 'failed', 'expired'].includes(document.querySelector('#ops-command').dataset.state), null, { timeout: WAIT_MS });
  assert.equal(await page.getAttribute('#ops-command', 'data-state'), 'done', await page.textContent('#ops-command'));
  assert.match(await page.textContent('#ops-command .lifecycle li.current'), /已执行/);
  assert.match(await page.textContent('#ops-status tr[data-key="adc"] td'), /^sim · 正常/);
  assert.match(await page.textContent('#ops-status tr[data-key="link"] td'), /^mqtt · 是/);
  assert.match(await page.textContent('#ops-status tr[data-key="relay"] td'), /合闸/);
  assert.match(await page.textContent('#ops-status tr[data-key="clock_offset_ms"] td'), /^-?\d+ ms$/);
  await page.locator('#section-operations').screenshot({ path: path.join(SHOTS, 'desktop-2i-read-status.png') });
  shots.push(path.join(SHOTS, 'desktop-2i-read-status.png'));
  await page.fill('#ops-interval-s', '0.01');
  await page.click('#ops-set_interval');
  await page.waitForFunction(() => document.querySelector('#ops-interval-error').textContent !== '', null, { timeout: WAIT_MS });
  for (const s of ['0.5', '1']) {
    await page.fill('#ops-interval-s', s);
    await page.click('#ops-set_interval');
    await page.waitForFunction((want) => document.querySelector('#ops-command').dataset.state === 'done' &&
      document.querySelector('#ops-interval')?.textContent.includes(`每 ${want} 秒`), s, { timeout: WAIT_MS });
  }
  assert.match(await page.textContent('#ops-interval'), /原为 0\.5 秒/);
  await page.click('#ops-sync_clock');
  await page.waitForFunction(() => document.querySelector('#ops-command').dataset.op === 'sync_clock' &&
    document.querySelector('#ops-command').dataset.state === 'done', null, { timeout: WAIT_MS });
  assert.match(await page.textContent('#ops-clock'), /时钟偏差 -?\d+ ms.*仅上报/);
  await page.locator('#section-operations').screenshot({ path: path.join(SHOTS, 'desktop-2j-sync-clock.png') });
  shots.push(path.join(SHOTS, 'desktop-2j-sync-clock.png'));
  await page.waitForFunction(() => document.querySelector('#commands tbody tr [data-key="relay"]')?.textContent === '校时', null, { timeout: WAIT_MS });
  const opRows = await page.$$eval('#commands tbody tr', (els) => els.slice(0, 4).map((e) => e.querySelector('[data-key="relay"]').textContent));
  assert.deepEqual(opRows, ['校时', '上报周期 1 秒', '上报周期 0.5 秒', '读取状态']);

  // A tariff version from tomorrow's midnight (the browser's wall clock): the form sends it
  // with the browser's offset, the version in force stays and the new one is listed as
  // upcoming at that instant; the same start again is refused (409) and says so.
  const tomorrow = await page.evaluate(() => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    const p = (n) => String(n).padStart(2, '0');
    const local = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T00:00`;
    return { local, iso: new Date(local).toISOString() };
  });
  const tariffPut = page.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith('/api/devices/meter-a/tariff'), { timeout: WAIT_MS });
  await page.fill('#tariff-text', '00:00 0.5000 谷\n08:00 1.5000 峰');
  await page.fill('#tariff-effective', tomorrow.local);
  await page.click('#tariff-submit');
  const sent = JSON.parse((await tariffPut).postData());
  assert.match(sent.effective_from, /^\d{4}-\d{2}-\d{2}T00:00:00[+-]\d{2}:\d{2}$/, `effective_from sent: ${sent.effective_from}`);
  assert.equal(new Date(sent.effective_from).toISOString(), tomorrow.iso);
  await page.waitForSelector('#tariff-result .ok', { timeout: WAIT_MS });
  await page.waitForSelector('#tariff-upcoming .tariff-version', { timeout: WAIT_MS });
  assert.deepEqual(await page.$$eval('#tariff-upcoming .tariff-version', (els) => els.map((e) => e.dataset.from)), [tomorrow.iso]);
  assert.match(await page.textContent('#tariff-upcoming .tariff-version tbody tr:nth-child(2)'), /08:00.*峰.*1\.5000/);
  assert.match(await page.textContent('#tariff-periods tbody tr:nth-child(2)'), /08:00.*峰.*1\.2000/, 'the version in force changed');
  await page.fill('#tariff-effective', tomorrow.local);
  await page.click('#tariff-submit');
  await page.waitForSelector('#tariff-result[data-status="409"] .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#tariff-result .error'), /被拒绝，电价未更改.*该生效时间已有电价版本/);
  assert.equal(await page.locator('#tariff-upcoming .tariff-version').count(), 1);
  await page.locator('#section-tariff').screenshot({ path: path.join(SHOTS, 'desktop-2c-tariff-upcoming-409.png') });
  shots.push(path.join(SHOTS, 'desktop-2c-tariff-upcoming-409.png'));

  // Billing settings: bad input is refused here with a message by each field and nothing is
  // sent; good input is saved and reads back after a reload.
  let billingPuts = 0;
  page.on('request', (r) => { if (r.method() === 'PUT' && r.url().endsWith('/meter-a/billing')) billingPuts++; });
  await page.waitForSelector('#billing-form', { timeout: WAIT_MS });
  assert.equal(await page.inputValue('#billing-low_balance'), '20.00');
  assert.equal(await page.inputValue('#billing-cutoff_at'), '0.00');
  assert.equal(await page.isChecked('#billing-protected'), false);
  assert.equal(await page.inputValue('#billing-no_cutoff_hours'), '');
  assert.equal(await page.isChecked('#billing-no_cutoff_weekends'), false);
  assert.equal(await page.isChecked('#billing-no_cutoff_holidays'), false);
  await page.fill('#billing-low_balance', '12.345');
  await page.fill('#billing-cutoff_at', '-abc');
  await page.fill('#billing-no_cutoff_hours', '25:00-08:00');
  await page.click('#billing-submit');
  await page.waitForFunction(() => document.querySelector('#billing-low_balance-error').textContent !== '', null, { timeout: WAIT_MS });
  assert.match(await page.textContent('#billing-low_balance-error'), /最多两位小数/);
  assert.match(await page.textContent('#billing-cutoff_at-error'), /可为负数/);
  assert.equal(await page.getAttribute('#billing-cutoff_at', 'aria-invalid'), 'true');
  assert.match(await page.textContent('#billing-no_cutoff_hours-error'), /22:00-08:00/);
  await page.waitForTimeout(300);
  assert.equal(billingPuts, 0, 'bad billing settings were sent');
  await shot(page, 'desktop-2d-billing-invalid');
  await page.fill('#billing-low_balance', '30.50');
  await page.fill('#billing-cutoff_at', '-5');
  await page.check('#billing-protected');
  await page.fill('#billing-no_cutoff_hours', '22:00-08:00');
  await page.check('#billing-no_cutoff_weekends');
  await page.click('#billing-submit');
  await page.waitForSelector('#billing-result .ok', { timeout: WAIT_MS });
  assert.equal(billingPuts, 1);
  assert.equal(await page.textContent('#billing dd[data-key="low_balance"]'), '¥30.50');
  assert.equal(await page.textContent('#billing dd[data-key="cutoff_at"]'), '¥-5.00');
  assert.equal(await page.textContent('#billing dd[data-key="protected"]'), '是');
  assert.equal(await page.textContent('#billing dd[data-key="no_cutoff_hours"]'), '22:00-08:00');
  assert.equal(await page.textContent('#billing dd[data-key="no_cutoff_weekends"]'), '是');
  assert.equal(await page.textContent('#billing dd[data-key="no_cutoff_holidays"]'), '否');
  await page.reload();
  await page.waitForSelector('#billing-form', { timeout: WAIT_MS });
  assert.equal(await page.inputValue('#billing-low_balance'), '30.50');
  assert.equal(await page.inputValue('#billing-cutoff_at'), '-5.00');
  assert.equal(await page.isChecked('#billing-protected'), true);
  assert.equal(await page.inputValue('#billing-no_cutoff_hours'), '22:00-08:00');
  assert.equal(await page.isChecked('#billing-no_cutoff_weekends'), true);
  assert.equal(await page.isChecked('#billing-no_cutoff_holidays'), false);

  // Events: a warning level above the balance raises "balance low" within a round of the
  // server's rules, and the list shows it without a reload; back down, "balance back up".
  await page.fill('#billing-low_balance', '100000.00');
  await page.click('#billing-submit');
  await page.waitForSelector('#billing-result .ok', { timeout: WAIT_MS });
  await page.waitForFunction(() => document.querySelector('#events tbody tr')?.dataset.kind === 'balance.low', null, { timeout: WAIT_MS });
  assert.match(await page.textContent('#events tbody tr:first-child'), /余额不足.*at or below 100000\.00/);
  await page.locator('#section-events').screenshot({ path: path.join(SHOTS, 'desktop-2f-events-low.png') });
  shots.push(path.join(SHOTS, 'desktop-2f-events-low.png'));
  await page.fill('#billing-low_balance', '30.50');
  await page.click('#billing-submit');
  await page.waitForSelector('#billing-result .ok', { timeout: WAIT_MS });
  await page.waitForFunction(() => document.querySelector('#events tbody tr')?.dataset.kind === 'balance.ok', null, { timeout: WAIT_MS });
  assert.match(await page.textContent('#events tbody tr:first-child'), /余额恢复.*back above 30\.50/);

  // Payments: alice's paid order and her unpaid one, newest first.
  await page.waitForSelector('#payments tbody tr', { timeout: WAIT_MS });
  assert.deepEqual(await page.$$eval('#payments tbody tr', (els) => els.map((e) => [e.dataset.order, e.dataset.state])),
    [[process.env.OPEN_ORDER, 'created'], [process.env.PAID_ORDER, 'paid']]);
  const paidRow = `#payments tr[data-order="${process.env.PAID_ORDER}"]`;
  assert.equal(await page.textContent(`${paidRow} [data-key="amount"]`), '50.00');
  assert.equal(await page.textContent(`${paidRow} [data-key="state"]`), '已支付');
  assert.notEqual(await page.textContent(`${paidRow} [data-key="paid_at"]`), '—');
  assert.equal(await page.textContent(`#payments tr[data-order="${process.env.OPEN_ORDER}"] [data-key="paid_at"]`), '—');

  // The month's statement: downloaded with the token (the file is the server's CSV), its
  // lines shown; the total is the sum of the day lines.
  const statement = await downloadStatement(page, 'meter-a');
  assert.ok(statement.days.length > 0, `no charges in the statement: ${statement.text}`);
  // Energy before the first tariff is billed at nothing, with no period.
  for (const d of statement.days) assert.match(d.join(','), /^\d{4}-\d{2}-\d{2},(谷,0\.4000|峰,1\.2000|,0\.0000),\d+\.\d{6},\d+\.\d{2}$/);
  assert.ok(statement.days.some((d) => d[1] !== ''), `nothing billed at the tariff: ${statement.text}`);
  assert.match(await page.textContent('#statement tbody tr.total'), /合计/);
  await page.locator('#section-statement').screenshot({ path: path.join(SHOTS, 'desktop-2e-statement.png') });
  shots.push(path.join(SHOTS, 'desktop-2e-statement.png'));

  // Bind bob to meter-a, then take it away again.
  await page.fill('#bind-username', 'bob');
  await page.click('#section-bindings button[type="submit"]');
  await page.waitForSelector('#bindings li:has-text("bob")', { timeout: WAIT_MS });
  await page.click('#bindings li:has-text("bob") button');
  await page.waitForFunction(() => !/bob/.test(document.querySelector('#bindings').textContent), null, { timeout: WAIT_MS });
  await page.fill('#bind-username', 'nobody');
  await page.click('#section-bindings button[type="submit"]');
  await page.waitForSelector('#section-bindings .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#section-bindings .error'), /user not found/);

  // A waveform capture: analysis numbers, harmonics bars and the V/I waveform.
  await page.fill('#capture-duration', '1000');
  await page.click('#capture-request');
  await page.waitForFunction(() => {
    const dd = document.querySelector('#capture-analysis dd[data-key="thd_v"]');
    return dd && dd.textContent !== '—';
  }, null, { timeout: WAIT_MS });
  const thd = Number(await page.textContent('#capture-analysis dd[data-key="thd_v"]'));
  assert.ok(thd > 5 && thd < 7, `THD of V is ${thd} % (the signal has 6.2 %)`);
  const harmonics = await waitForSeries(page, '#harmonics-chart', 40);
  assert.equal(Object.keys(harmonics).length, 2);
  const wave = await waitForSeries(page, '#waveform-chart', 1000);
  assert.equal(Object.keys(wave).length, 2);
  await page.waitForTimeout(300); // let the last frame paint before the picture
  await shot(page, 'desktop-3-device-operator');

  // English.
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: WAIT_MS });
  await page.waitForSelector('#section-live h2:text("Live")', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#lang-switch'), '中文');
  await waitForSeries(page, '#live-chart', 3);
  await shot(page, 'desktop-4-device-english');
  // The prepaid parts in English: the settings as saved, the payments, the statement.
  assert.equal(await page.textContent('#section-billing h2'), 'Billing settings');
  await page.waitForSelector('#billing-form', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#billing dd[data-key="protected"]'), 'yes');
  await page.fill('#billing-low_balance', '1.2.3');
  await page.click('#billing-submit');
  await page.waitForFunction(() => document.querySelector('#billing-low_balance-error').textContent !== '', null, { timeout: WAIT_MS });
  assert.match(await page.textContent('#billing-low_balance-error'), /at most two decimals/);
  await page.waitForSelector(`${paidRow} [data-key="state"]`, { timeout: WAIT_MS });
  assert.equal(await page.textContent(`${paidRow} [data-key="state"]`), 'paid');
  await downloadStatement(page, 'meter-a');
  assert.deepEqual(await page.$$eval('#statement thead th', (els) => els.map((e) => e.textContent)),
    ['Date', 'Period', 'Price (¥/kWh)', 'Energy (kWh)', 'Cost (¥)']);
  await page.waitForSelector('#tariff-upcoming h4:text("Upcoming versions")', { timeout: WAIT_MS });
  await shot(page, 'desktop-4b-prepaid-english');

  // Administration: the accounts, a new user, a new device owned by her (its secret shown once).
  await page.click('#nav-admin');
  await page.waitForSelector('#users td:text("alice")', { timeout: WAIT_MS });
  const stored = Number(await page.textContent('#stats dd[data-key="mqtt.readings_stored"]', { timeout: WAIT_MS }));
  assert.ok(stored > 0, `the ingest counters say ${stored} readings stored`);
  await page.fill('#new-username', 'carol');
  await page.fill('#new-password', 'carol-password');
  await page.click('#new-password ~ button[type="submit"]');
  await page.waitForSelector('#users td:text("carol")', { timeout: WAIT_MS });
  await page.fill('#new-device-id', 'meter-c');
  await page.fill('#new-device-owner', 'carol');
  await page.click('#new-device-owner ~ button[type="submit"]');
  await page.waitForSelector('code.secret', { timeout: WAIT_MS });
  assert.match(await page.textContent('code.secret'), /^[0-9a-f]{64}$/);
  await page.fill('#new-device-id', 'meter-c');
  await page.click('#new-device-owner ~ button[type="submit"]');
  await page.waitForSelector('#new-device-owner ~ .status .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#new-device-owner ~ .status .error'), /already exists/);
  await shot(page, 'desktop-5-admin');
  await context.close();
}

// The three-phase meter (seeded by run_browser.py, its newest reading in the order acb):
// per-phase table, phasor diagram, unbalance, the wrong sequence flagged, demand; then a new
// reading in the right order replaces it without a reload.
async function threePhase(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  watch(page, 'three-phase');
  await login(page, 'op');
  await page.goto(`${BASE}/devices/${METER_3P}`);
  await page.waitForSelector('#phase-table', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#device-wiring'), '三相四线');
  assert.equal(await page.textContent('.device-head .metric:nth-child(2) .label'), '电压（三相平均）');
  // The section comes right after the head, before the open alarms and the live chart.
  assert.deepEqual(await page.$$eval('main > section', (els) => els.slice(0, 4).map((e) => e.id || e.className)),
    ['card device-head', 'section-phases', 'section-alarms', 'section-live']);

  // The table: what the meter sent, per phase and in total.
  const rows = await page.$$eval('#phase-table tbody tr', (els) => els.map((e) => e.dataset.phase));
  assert.deepEqual(rows, ['a', 'b', 'c', 'total', 'n']);
  assert.equal(await phaseCell(page, 'a', 'voltage'), '231.2');
  assert.equal(await phaseCell(page, 'c', 'voltage'), '226.9');
  assert.equal(await phaseCell(page, 'b', 'current'), '12.60');
  assert.equal(await phaseCell(page, 'a', 'power_w'), '2200'); // 231.2 V × 10.5 A × cos 25°
  assert.equal(await phaseCell(page, 'b', 'pf'), '0.857'); // cos 31°
  assert.equal(await phaseCell(page, 'c', 'phase_deg'), '18.0');
  assert.equal(await phaseCell(page, 'c', 'thd_v'), '3.40');
  assert.equal(await phaseCell(page, 'b', 'energy_wh'), '604.061');
  assert.equal(await phaseCell(page, 'total', 'power_w'), '6480');
  assert.equal(await phaseCell(page, 'total', 'pf'), '0.899');
  assert.equal(await phaseCell(page, 'n', 'current'), '3.70');

  // The phasor diagram: six phasors (origin and tip each), at the angles the reading gives:
  // voltages at 0, angle_v_b, angle_v_c; each current its phase_deg behind its voltage.
  const phasors = await waitForSeries(page, '#phasor-chart', 2);
  assert.deepEqual(phasors, { UA: 2, UB: 2, UC: 2, IA: 2, IB: 2, IC: 2 });
  const angles = JSON.parse(await page.getAttribute('#phasor-chart', 'data-angles'));
  assert.deepEqual(angles, { UA: 0, UB: 119.4, UC: -120.7, IA: -25, IB: 88.4, IC: -138.7 });
  const phasorInk = await inked(page, '#phasor-chart');
  assert.ok(phasorInk > 3000, `phasor chart canvas has ${phasorInk} painted pixels`);

  // Unbalance, line voltages, the wrong sequence as an alert, demand.
  const dd = (key) => page.textContent(`#section-phases dd[data-key="${key}"]`);
  assert.equal(await dd('unbalance_u2_pct'), '1.23 %');
  assert.equal(await dd('unbalance_u0_pct'), '0.41 %');
  assert.equal(await dd('unbalance_i2_pct'), '14.60 %');
  assert.equal(await dd('voltage_ab'), '398.1 V');
  assert.equal(await page.getAttribute('#phase-sequence', 'data-sequence'), 'acb');
  assert.equal(await page.getAttribute('#phase-sequence', 'role'), 'alert');
  assert.match(await page.getAttribute('#phase-sequence', 'class'), /\bbad\b/);
  assert.match(await page.textContent('#phase-sequence'), /相序错误/);
  assert.equal(await dd('demand_w'), '6.54 kW');
  assert.equal(await dd('demand_max_w'), '7.89 kW');
  assert.notEqual(await dd('demand_max_ts'), '—');
  // The months' maxima the server keeps: this month's is the meter's 7.89 kW.
  await page.waitForSelector('#demand-months tbody tr', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#demand-months tbody tr:first-child td[data-key="max"]'), '7.89');
  assert.notEqual(await page.textContent('#demand-months tbody tr:first-child td[data-key="at"]'), '—');
  await page.waitForTimeout(300);
  await shot(page, 'desktop-6-three-phase-acb');

  // History by phase: the whole system first, then phase b (phase=b: that phase's fields).
  await waitForSeries(page, '#history-chart', 1);
  assert.deepEqual(await page.$$eval('#history-phases button', (els) => els.map((e) => e.dataset.phase)), ['', 'a', 'b', 'c']);
  const answer = page.waitForResponse((r) => r.url().includes(`/api/device/data/${METER_3P}?`) && r.url().includes('phase=b'), { timeout: WAIT_MS });
  await page.click('#history-phases [data-phase="b"]');
  const bRows = await (await answer).json();
  assert.ok(bRows.length > 0, 'no buckets for phase b');
  for (const r of bRows) {
    assert.ok(Math.abs(r.voltage_b - 228.4) < 1e-6 && r.voltage === undefined, `a bucket of phase b: ${JSON.stringify(r)}`);
  }
  await page.waitForFunction(() => document.querySelector('#history-chart').dataset.phase === 'b', null, { timeout: WAIT_MS });
  const bSeries = await waitForSeries(page, '#history-chart', 1);
  assert.deepEqual(Object.keys(bSeries), ['B 相 电压 (V)', 'B 相 电流 (A)', 'B 相 功率 (W)']);
  assert.equal(await page.locator('#section-history .status p').count(), 0, 'the server says it has no per-phase history');

  // A new reading, phases in the right order and 20 % more current: the section follows.
  const res = await fetch(`${BASE}/api/device/data`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${process.env.METER_3P_SECRET}`, 'Content-Type': 'application/json' },
    body: process.env.METER_3P_NEXT,
  });
  assert.equal(res.status, 200, `upload answered ${res.status}: ${await res.text()}`);
  await page.waitForFunction(() => document.querySelector('#phase-sequence')?.dataset.sequence === 'abc', null, { timeout: WAIT_MS });
  assert.equal(await page.getAttribute('#phase-sequence', 'role'), null);
  assert.match(await page.getAttribute('#phase-sequence', 'class'), /\bgood\b/);
  assert.equal(await phaseCell(page, 'a', 'current'), '12.60'); // 10.5 A × 1.2
  const after = JSON.parse(await page.getAttribute('#phasor-chart', 'data-angles'));
  assert.deepEqual(after, { UA: 0, UB: -119.4, UC: 120.7, IA: -25, IB: -150.4, IC: 102.7 });

  // English.
  await page.click('#lang-switch');
  await page.waitForSelector('#section-phases h2:text("Three phases")', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#phase-sequence'), 'ABC (correct)');
  await waitForSeries(page, '#phasor-chart', 2);
  await page.waitForTimeout(300);
  await shot(page, 'desktop-7-three-phase-english');
  await context.close();

  // bob's phone: the table scrolls inside its card, the page does not.
  const phoneContext = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
  });
  const phonePage = await phoneContext.newPage();
  watch(phonePage, 'three-phase phone');
  await login(phonePage, 'bob');
  await phonePage.goto(`${BASE}/devices/${METER_3P}`);
  await waitForSeries(phonePage, '#phasor-chart', 2);
  const overflow = await phonePage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the three-phase page is ${overflow}px wider than the phone`);
  const width = await phonePage.$eval('#phasor-chart', (el) => el.getBoundingClientRect().width);
  assert.ok(width <= 390 && width > 300, `phasor chart is ${width}px wide on a 390px screen`);
  await phonePage.waitForTimeout(300);
  await shot(phonePage, 'phone-4-three-phase');
  await phoneContext.close();
}

// Alarms, for real: the operator has the alarms page open in one tab and, in another, sets
// meter-b's over-voltage limit below what it measures (230 V) through the device's
// alarm-rules editor (a bad limit is refused first, nothing sent). The state analysis raises
// the alarm from the meter's next readings and it appears on the alarms page through the
// live stream, without a reload and without the list being read again; the operator
// acknowledges it with a note; the device page shows it among its open alarms. The count of
// alarms that pass the filters (the list's total) follows the stream and each filter, and a
// server without total shows none. bob (meter-b's tenant) sees it without an acknowledge
// button; alice does not see it. English too.
async function alarms(browser) {
  const rows = (p) => p.locator('#alarms tbody tr').count();
  const countAndRows = (p) => p.evaluate(() => [document.querySelector('#alarms-total').textContent,
    document.querySelectorAll('#alarms tbody tr').length]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const list = await context.newPage();
  watch(list, 'alarms');
  await login(list, 'op');
  // The first stream the page opens is cut: it says so and opens another.
  let streams = 0;
  list.on('request', (r) => { if (r.url().endsWith('/api/alarms/stream')) streams++; });
  await list.route('**/api/alarms/stream', (route) => route.abort('connectionreset'), { times: 1 });
  await list.click('#nav-alarms');
  await list.waitForURL(/\/alarms$/, { timeout: WAIT_MS });
  await list.waitForSelector('#alarms-live[data-state="reconnecting"]', { timeout: WAIT_MS });
  assert.equal(await list.textContent('#alarms-live'), '推送已断开，正在重连…');
  await list.waitForSelector('#alarms-live[data-state="live"]', { timeout: WAIT_MS });
  assert.equal(streams, 2);
  assert.equal(await list.inputValue('#alarms-state'), 'open');
  await list.waitForSelector('#alarms table, #alarms-empty', { timeout: WAIT_MS });
  assert.equal(await list.locator('#alarms tr[data-device="meter-b"]').count(), 0, 'meter-b has an alarm before its limit was lowered');
  await list.waitForSelector('#alarms-total:not([hidden])', { timeout: WAIT_MS });
  const openBefore = await rows(list); // one page: fewer than 50
  assert.equal(await list.textContent('#alarms-total'), `共 ${openBefore} 条告警`);
  let listReads = 0;
  list.on('request', (r) => { if (new URL(r.url()).pathname === '/api/alarms') listReads++; });

  const dev = await context.newPage();
  watch(dev, 'alarm rules');
  await login(dev, 'op'); // the session is the tab's own (sessionStorage)
  await dev.goto(`${BASE}/devices/meter-b`);
  const rule = '#alarm-rules-form tr[data-kind="voltage.over"]';
  await dev.waitForSelector(rule, { timeout: WAIT_MS });
  assert.match(await dev.textContent(`${rule} [data-key="limit"]`), /高于 235\.4 V/);
  await dev.waitForSelector('#device-alarms-empty', { timeout: WAIT_MS });
  let puts = 0;
  dev.on('request', (r) => { if (r.method() === 'PUT' && r.url().endsWith('/api/devices/meter-b/alarm-rules')) puts++; });
  await dev.fill(`${rule} [name="limit"]`, '22o');
  await dev.fill(`${rule} [name="min_duration_s"]`, '-1');
  await dev.click('#alarm-rules-submit');
  await dev.waitForSelector('#alarm-rules-result .error', { timeout: WAIT_MS });
  assert.equal(await dev.textContent(`${rule} [data-error="limit"]`), '不是数字：22o');
  assert.match(await dev.textContent(`${rule} [data-error="min_duration_s"]`), /0 到 604800/);
  assert.equal(puts, 0, 'bad alarm rules were sent');
  await dev.locator('#section-alarm-rules').screenshot({ path: path.join(SHOTS, 'desktop-11-alarm-rules-refused.png') });
  shots.push(path.join(SHOTS, 'desktop-11-alarm-rules-refused.png'));
  const putSent = dev.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith('/api/devices/meter-b/alarm-rules'), { timeout: WAIT_MS });
  await dev.fill(`${rule} [name="limit"]`, '225');
  await dev.fill(`${rule} [name="min_duration_s"]`, '0');
  await dev.click('#alarm-rules-submit');
  assert.deepEqual(JSON.parse((await putSent).postData()), { rules: { 'voltage.over': { limit: 225, min_duration_s: 0 } } });
  await dev.waitForSelector('#alarm-rules-result .ok', { timeout: WAIT_MS });
  assert.match(await dev.textContent(`${rule} [data-key="limit"]`), /高于 225\.0 V/);

  // The alarms page: the new alarm arrives on the stream.
  const row = '#alarms tr[data-device="meter-b"][data-kind="voltage.over"]';
  await list.waitForSelector(row, { timeout: WAIT_MS });
  assert.equal(listReads, 0, 'the alarms page read the list again instead of following the stream');
  // The count follows the stream: it is the list's length (one page), read in one go, since
  // another alarm (a device going quiet on a loaded machine) may arrive meanwhile too.
  const [shown, listed] = await countAndRows(list);
  assert.equal(shown, `共 ${listed} 条告警`, 'the count follows the stream');
  assert.ok(listed > openBefore, `${listed} alarms listed, ${openBefore} before`);
  assert.equal(await list.getAttribute(row, 'data-state'), 'raised');
  assert.equal(await list.textContent(`${row} [data-key="kind"]`), '过电压');
  assert.equal(await list.textContent(`${row} [data-key="severity"]`), '重要');
  assert.match(await list.getAttribute(`${row} .badge.sev-major`, 'class'), /sev-major/);
  const value = await list.textContent(`${row} [data-key="value"]`);
  assert.match(value, /^2[23]\d\.\d V \/ 限值 225\.0 V$/, value);
  await shot(list, 'desktop-12-alarm-live');

  // The device page shows it among its open alarms, live too.
  await dev.waitForSelector('#device-alarms tr[data-kind="voltage.over"][data-state="raised"]', { timeout: WAIT_MS });

  // Acknowledged with a note: the row says who and the note, on both pages.
  await list.fill(`${row} .ack-note`, '巡检人员已出发');
  const ack = list.waitForResponse((r) => /\/api\/alarms\/\d+\/ack$/.test(r.url()), { timeout: WAIT_MS });
  await list.click(`${row} .ack-submit`);
  const ackRes = await ack;
  assert.equal(ackRes.status(), 200);
  assert.deepEqual(JSON.parse(ackRes.request().postData()), { note: '巡检人员已出发' });
  await list.waitForSelector(`${row}[data-state="acknowledged"]`, { timeout: WAIT_MS });
  assert.equal(await list.textContent(`${row} [data-key="note"]`), '巡检人员已出发');
  assert.match(await list.textContent(`${row} [data-key="ack"]`), /^op 于 .* 确认$/);
  assert.equal(await list.locator(`${row} .ack-submit`).count(), 0);
  const [shownAcked, listedAcked] = await countAndRows(list);
  assert.equal(shownAcked, `共 ${listedAcked} 条告警`, 'acknowledged is still open');
  await dev.waitForSelector('#device-alarms tr[data-kind="voltage.over"][data-state="acknowledged"]', { timeout: WAIT_MS });
  assert.equal(await dev.textContent('#device-alarms [data-key="note"]'), '巡检人员已出发');
  await shot(dev, 'desktop-13-device-open-alarms');

  // Filters: critical only hides it; acknowledged for meter-b shows it.
  await list.selectOption('#alarms-severity', 'critical');
  await list.click('#alarms-apply');
  await list.waitForFunction(() => !document.querySelector('#alarms tr[data-device="meter-b"]'), null, { timeout: WAIT_MS });
  assert.equal(await list.textContent('#alarms-total'), `共 ${await rows(list)} 条告警`);
  await list.selectOption('#alarms-severity', '');
  await list.selectOption('#alarms-state', 'acknowledged');
  await list.selectOption('#alarms-device', 'meter-b');
  await list.click('#alarms-apply');
  await list.waitForSelector(`${row}[data-state="acknowledged"]`, { timeout: WAIT_MS });
  assert.ok((await list.$$eval('#alarms tbody tr', (els) => els.map((e) => e.dataset.device + e.dataset.state)))
    .every((x) => x === 'meter-backnowledged'));
  assert.equal(await rows(list), 1);
  assert.equal(await list.textContent('#alarms-total'), '共 1 条告警');
  // A server without total: the list as before, no count.
  await list.route((url) => url.pathname === '/api/alarms', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    delete body.total;
    await route.fulfill({ response: res, json: body });
  }, { times: 1 });
  const older = list.waitForResponse((r) => new URL(r.url()).pathname === '/api/alarms', { timeout: WAIT_MS });
  await list.click('#alarms-apply');
  assert.equal((await (await older).json()).total, undefined);
  await list.waitForSelector('#alarms-total', { state: 'hidden', timeout: WAIT_MS });
  assert.equal(await rows(list), 1);

  // English.
  await list.click('#lang-switch');
  await list.waitForSelector('h1:text("Alarms")', { timeout: WAIT_MS });
  await list.waitForSelector(`${row}[data-state="acknowledged"]`, { timeout: WAIT_MS });
  assert.equal(await list.textContent(`${row} [data-key="kind"]`), 'Over-voltage');
  assert.equal(await list.textContent(`${row} [data-key="severity"]`), 'major');
  assert.match(await list.textContent(`${row} [data-key="ack"]`), /^Acknowledged by op at /);
  await list.waitForSelector('#alarms-live[data-state="live"]:text("Live")', { timeout: WAIT_MS });
  await list.waitForSelector('#alarms-total:not([hidden])', { timeout: WAIT_MS });
  const openNow = await rows(list);
  assert.equal(await list.textContent('#alarms-total'), openNow === 1 ? '1 alarm' : `${openNow} alarms`);
  await shot(list, 'desktop-14-alarms-english');
  await context.close();

  // bob, meter-b's tenant, sees it, and no acknowledge button; alice does not see it.
  // bob on a phone: the page is no wider than the screen.
  for (const [user, sees] of [['bob', true], ['alice', false]]) {
    const c = await browser.newContext(user === 'bob'
      ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' }
      : { viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    const p = await c.newPage();
    watch(p, `alarms as ${user}`);
    await login(p, user);
    await p.goto(`${BASE}/alarms`);
    await p.waitForSelector('#alarms table, #alarms-empty', { timeout: WAIT_MS });
    assert.equal(await p.locator(row).count(), sees ? 1 : 0, `${user} and meter-b's alarm`);
    assert.equal(await p.locator('.ack-submit, .ack-cell').count(), 0, `${user} is offered to acknowledge`);
    if (sees) {
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the alarms page is ${overflow}px wider than the phone`);
      await shot(p, 'phone-5-alarms');
      await p.goto(`${BASE}/devices/meter-b`);
      await p.waitForSelector('#device-alarms tr[data-kind="voltage.over"]', { timeout: WAIT_MS });
      await p.waitForSelector('#alarm-rules table.rules', { timeout: WAIT_MS });
      assert.equal(await p.locator('#alarm-rules-form').count(), 0, 'a user is offered the rules editor');
      await shot(p, 'phone-6-device-alarms');
    }
    await c.close();
  }
}

// The simulated three-phase meter: its live readings in the section, then a capture with
// six channels, its analysis per phase and the harmonics of the phase picked.
async function threePhaseMeter(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  watch(page, 'three-phase meter');
  await login(page, 'op');
  await page.goto(`${BASE}/devices/${METER_T3}`);
  await page.waitForSelector('#phase-table', { timeout: WAIT_MS });
  assert.equal(await page.getAttribute('#phase-sequence', 'data-sequence'), 'abc');
  near(await phaseCell(page, 'c', 'voltage'), 220, 1, 'phase c voltage');
  near(await phaseCell(page, 'b', 'current'), 12, 0.1, 'phase b current');
  near(await phaseCell(page, 'a', 'phase_deg'), 20, 1, 'phase a angle');
  await waitForSeries(page, '#phasor-chart', 2);
  const angles = JSON.parse(await page.getAttribute('#phasor-chart', 'data-angles'));
  for (const [k, want] of Object.entries({ UA: 0, UB: -120, UC: 120, IA: -20, IB: -140, IC: 100 })) near(angles[k], want, 1, `phasor ${k}`);

  await page.fill('#capture-duration', '1000');
  await page.click('#capture-request');
  await page.waitForFunction(() => {
    const td = document.querySelector('#capture-phase-table tr[data-phase="c"] td[data-key="vrms"]');
    return td && td.textContent !== '—';
  }, null, { timeout: WAIT_MS });
  const capCell = (p, k) => page.textContent(`#capture-phase-table tr[data-phase="${p}"] td[data-key="${k}"]`);
  near(await capCell('a', 'vrms'), 230, 0.5, 'capture vrms a');
  near(await capCell('c', 'vrms'), 220, 0.5, 'capture vrms c');
  near(await capCell('b', 'irms'), 12, 0.05, 'capture irms b');
  near(await capCell('a', 'thd_v'), 3, 0.2, 'capture THD of Ua');
  assert.equal(await page.getAttribute('#capture-analysis [data-key="sequence"]', 'class'), 'badge good');
  const wave = await waitForSeries(page, '#waveform-chart', 1000);
  assert.deepEqual(Object.keys(wave), ['Ua (V)', 'Ub (V)', 'Uc (V)', 'Ia (A)', 'Ib (A)', 'Ic (A)']);
  assert.equal(await page.isVisible('#harmonics-phases'), true);
  await page.click('#harmonics-phases [data-phase="c"]');
  assert.equal(await page.getAttribute('#harmonics-phases [data-phase="c"]', 'class'), 'seg active');
  const harmonics = await waitForSeries(page, '#harmonics-chart', 40);
  assert.equal(Object.keys(harmonics).length, 2);
  await page.waitForTimeout(300);
  await shot(page, 'desktop-8-three-phase-capture');
  await context.close();
}

async function phone(browser) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
  });
  const page = await context.newPage();
  watch(page, 'phone');

  // alice sees her own meter only.
  await login(page, 'alice');
  await page.waitForFunction(() => document.querySelectorAll('#device-list .card.device').length === 1, null, { timeout: WAIT_MS });
  assert.equal(await page.textContent('#device-list .device-id'), 'meter-a');
  // The name and site the operator gave it.
  assert.equal(await page.textContent('#device-list .device-name'), ' 1号配变');
  assert.equal(await page.textContent('#device-list .device-site'), ' · 北区');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the device list is ${overflow}px wider than the phone`);
  await shot(page, 'phone-1-devices');

  // bob's meter is refused, and the page says so.
  await page.goto(`${BASE}/devices/meter-b`);
  await page.waitForSelector('#device-refused .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#device-refused'), /device not found/);
  assert.equal(await page.locator('#live-chart').count(), 0);
  await shot(page, 'phone-2-refused');

  // Her own meter: live chart, no recharge form (users may not recharge).
  await page.goto(`${BASE}/devices/meter-a`);
  await waitForSeries(page, '#live-chart', 3);
  assert.equal(await page.locator('#recharge-amount').count(), 0);
  // She sees the relay's state and the tariff, but neither the switch nor the editor.
  await page.waitForSelector('#tariff-periods', { timeout: WAIT_MS });
  assert.ok((await page.textContent('#relay-state')).length > 0);
  assert.equal(await page.locator('#relay-reason').count(), 0);
  assert.equal(await page.locator('#tariff-text').count(), 0);
  // The installation read-only, and no remote operations.
  assert.equal(await page.textContent('#metadata-list dd[data-key="name"]'), '1号配变');
  assert.equal(await page.locator('#metadata-form').count(), 0);
  assert.equal(await page.locator('#section-operations').count(), 0);
  // Her meter's billing settings as the operator saved them, read-only.
  await page.waitForSelector('#billing dl', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#billing dd[data-key="low_balance"]'), '¥30.50');
  assert.equal(await page.locator('#billing-form').count(), 0);
  // The relay commands without who asked and why; the events.
  await page.waitForSelector('#commands tbody tr', { timeout: WAIT_MS });
  // (Captures and remote operations are commands too: the newest relay command is the "on".)
  const kinds = await page.$$eval('#commands tbody tr [data-key="relay"]', (els) => els.map((e) => e.textContent));
  assert.equal(kinds.find((k) => ['合闸', '断开（已断电）'].includes(k)), '合闸', kinds.join(', '));
  assert.ok(kinds.includes('读取状态') && kinds.includes('校时'), kinds.join(', '));
  assert.equal(await page.locator('#commands [data-key="actor"], #commands [data-key="reason"]').count(), 0);
  await page.waitForSelector('#events tr[data-kind="balance.low"]', { timeout: WAIT_MS });
  // Her own orders, and the statement (downloaded with her token).
  await page.waitForSelector('#payments tbody tr', { timeout: WAIT_MS });
  assert.deepEqual(await page.$$eval('#payments tbody tr', (els) => els.map((e) => e.dataset.state)), ['created', 'paid']);
  await downloadStatement(page, 'meter-a');
  await page.waitForSelector('#ledger table', { timeout: WAIT_MS });
  const pageOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(pageOverflow <= 0, `the device page is ${pageOverflow}px wider than the phone`);
  const width = await page.$eval('#live-chart', (el) => el.getBoundingClientRect().width);
  assert.ok(width <= 390 && width > 300, `live chart is ${width}px wide on a 390px screen`);
  await page.click('#lang-switch');
  await page.waitForSelector('#section-live h2:text("Live")', { timeout: WAIT_MS });
  await waitForSeries(page, '#live-chart', 3);
  await shot(page, 'phone-3-device-english');
  await context.close();
}

// The park's default tariff and calendar on the admin page. Last: the park's tariff bills
// every meter without its own from then on.
async function siteSettings(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  watch(page, 'site');
  await login(page, 'op');
  await page.click('#nav-admin');
  await page.waitForSelector('#site-tariff p.muted', { timeout: WAIT_MS });
  assert.equal(await page.textContent('#site-tariff p.muted'), '暂无电价');
  await page.fill('#site-tariff-text', '00:00 0.6000 平');
  await page.click('#site-tariff-submit');
  await page.waitForSelector('#site-tariff-periods tbody tr', { timeout: WAIT_MS });
  assert.match(await page.textContent('#site-tariff-periods tbody tr'), /00:00.*平.*0\.6000/);
  const tomorrow = await page.evaluate(() => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    const p = (n) => String(n).padStart(2, '0');
    const local = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T06:30`;
    return { local, iso: new Date(local).toISOString() };
  });
  await page.fill('#site-tariff-text', '00:00 0.3000 谷\n08:00 0.9000 峰');
  await page.fill('#site-tariff-effective', tomorrow.local);
  await page.click('#site-tariff-submit');
  await page.waitForSelector('#site-tariff-upcoming .tariff-version', { timeout: WAIT_MS });
  assert.deepEqual(await page.$$eval('#site-tariff-upcoming .tariff-version', (els) => els.map((e) => e.dataset.from)), [tomorrow.iso]);
  // A start an hour ago is before what billing has charged the meters: refused (409).
  const hourAgo = await page.evaluate(() => {
    const d = new Date(Date.now() - 3600 * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  });
  await page.fill('#site-tariff-effective', hourAgo);
  await page.click('#site-tariff-submit');
  await page.waitForSelector('#site-tariff-result[data-status="409"] .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#site-tariff-result .error'), /被拒绝，电价未更改：生效时间必须晚于已计费的最后一条读数/);
  assert.equal(await page.locator('#site-tariff-upcoming .tariff-version').count(), 1);

  // The calendar: a bad date is refused here; good ones are saved and read back.
  await page.waitForSelector('#calendar-form', { timeout: WAIT_MS });
  assert.equal(await page.inputValue('#calendar-holidays'), '');
  await page.fill('#calendar-holidays', '2027-01-01\n2027-13-01');
  await page.click('#calendar-submit');
  await page.waitForSelector('#calendar-result .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#calendar-result .error'), /2027-13-01/);
  await page.fill('#calendar-holidays', '2027-01-01\n2027-02-10\n2027-02-11');
  await page.fill('#calendar-workdays', '2027-02-07');
  await page.click('#calendar-submit');
  await page.waitForSelector('#calendar-result .ok', { timeout: WAIT_MS });
  assert.match(await page.textContent('#calendar-result .ok'), /3 个节假日，1 个调休上班日/);
  await shot(page, 'desktop-9-site-tariff-calendar');
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#calendar-holidays')?.value !== '', null, { timeout: WAIT_MS });
  assert.equal(await page.inputValue('#calendar-holidays'), '2027-01-01\n2027-02-10\n2027-02-11');
  assert.equal(await page.inputValue('#calendar-workdays'), '2027-02-07');

  // English.
  await page.click('#lang-switch');
  await page.waitForSelector('#section-site-tariff h2:text("Park default tariff")', { timeout: WAIT_MS });
  await page.waitForSelector('#site-tariff-upcoming h4:text("Upcoming versions")', { timeout: WAIT_MS });
  await page.fill('#calendar-workdays', 'someday');
  await page.click('#calendar-submit');
  await page.waitForSelector('#calendar-result .error', { timeout: WAIT_MS });
  assert.match(await page.textContent('#calendar-result .error'), /Not a date like 2027-01-01: someday/);
  await shot(page, 'desktop-10-site-english');
  await context.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 30000,
});
let failed = false;
try {
  await desktop(browser);
  await threePhase(browser);
  await threePhaseMeter(browser);
  await alarms(browser);
  await phone(browser);
  await siteSettings(browser);
  assert.deepEqual(problems, [], 'page errors or policy violations');
} catch (e) {
  failed = true;
  console.error(`browser test failed: ${e.stack || e}`);
  if (problems.length) console.error(problems.join('\n'));
} finally {
  await browser.close();
}
for (const f of shots) console.log(`screenshot: ${f}`);
process.exit(failed ? 1 : 0);
