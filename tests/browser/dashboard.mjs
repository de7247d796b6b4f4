// Drives the dashboard in Debian's Chromium (playwright-core, no browser download).
// Environment: BASE_URL (a running meter-server serving the dashboard, set up by
// run_browser.py), CHROMIUM (the browser binary), SCREENSHOTS (a directory for the PNGs).
// Every wait has a deadline; any failed check, page error or Content-Security-Policy
// violation fails the run (exit 1).
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOTS;
const WAIT_MS = 20000;
assert.ok(BASE && SHOTS, 'BASE_URL and SCREENSHOTS must be set');

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
  await page.waitForFunction(() => document.querySelectorAll('#device-list .card.device').length === 2, null, { timeout: WAIT_MS });
  await page.waitForFunction(() => [...document.querySelectorAll('#device-list .card.device')].every((c) => c.dataset.status === 'online'), null, { timeout: WAIT_MS });
  const ids = await page.$$eval('#device-list .device-id', (els) => els.map((e) => e.textContent));
  assert.deepEqual(ids, ['meter-a', 'meter-b']);
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
  const inked = await page.$eval('#live-chart canvas', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let k = 3; k < d.length; k += 4) if (d[k] !== 0) n++;
    return n;
  });
  assert.ok(inked > 1000, `live chart canvas has ${inked} painted pixels`);

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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 30000,
});
let failed = false;
try {
  await desktop(browser);
  await phone(browser);
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
