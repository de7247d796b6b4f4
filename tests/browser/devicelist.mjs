// The dashboard's device list in pages, in Debian's Chromium (playwright-core). Environment:
// BASE_URL (a meter-server serving the dashboard, set up by run_devicelist.py), CHROMIUM,
// SCREENSHOTS, FLEET (the park's device ids, comma-separated, every tenth named "Pump n"),
// RECHARGED (the ones not in arrears). Every wait has a deadline; any failed check or page
// error fails the run (exit 1).
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SCREENSHOTS;
const FLEET = (process.env.FLEET || '').split(',').filter(Boolean);
const RECHARGED = (process.env.RECHARGED || '').split(',').filter(Boolean);
const WAIT_MS = 20000;
assert.ok(BASE && SHOTS && FLEET.length > 100, 'BASE_URL, SCREENSHOTS and FLEET (over 100 devices) must be set');

const problems = [];
const cards = (page) => page.locator('#device-list .card.device');
const ids = (page) => page.$$eval('#device-list .device-id', (els) => els.map((e) => e.textContent));
const waitCards = (page, n) => page.waitForFunction((k) => document.querySelectorAll('#device-list .card.device').length === k
  && document.querySelector('#device-list').dataset.count === String(k), n, { timeout: WAIT_MS });
const count = (page, key) => page.getAttribute(`#fleet-${key}`, 'data-count', { timeout: WAIT_MS });

// Every /api/devices list request the page makes, as its query parameters.
function recordLists(page) {
  const asked = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/devices' && r.method() === 'GET') asked.push(Object.fromEntries(u.searchParams));
  });
  return asked;
}

async function run(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  const asked = recordLists(page);

  await page.goto(`${BASE}/`);
  await page.waitForURL(/\/login$/, { timeout: WAIT_MS });
  await page.fill('#username', 'op');
  await page.fill('#password', 'op-password');
  await page.click('#login-submit');
  await page.waitForURL(/\/devices$/, { timeout: WAIT_MS });

  // The first render: 50 of the 120, asked for as a page, and the fleet counts on top.
  await waitCards(page, 50);
  assert.deepEqual(await ids(page), FLEET.slice(0, 50));
  assert.equal(asked[0].limit, '50');
  assert.equal(asked[0].cursor, undefined);
  assert.equal(await page.textContent('#device-count'), `已显示 50 / 共 ${FLEET.length}`);
  assert.equal(await count(page, 'total'), String(FLEET.length));
  assert.equal(await count(page, 'unknown'), String(FLEET.length));
  assert.equal(await count(page, 'online'), '0');
  assert.equal(await count(page, 'in-arrears'), String(FLEET.length - RECHARGED.length));
  assert.equal(await page.isVisible('#device-more'), true);
  await page.screenshot({ path: path.join(SHOTS, 'devicelist-1-first-page.png'), fullPage: false });

  // "More" follows the cursor: 100, then all 120, and the button goes.
  const next = page.waitForRequest((r) => /\/api\/devices\?.*cursor=/.test(r.url()), { timeout: WAIT_MS });
  await page.click('#device-more');
  const withCursor = new URL((await next).url()).searchParams;
  assert.equal(withCursor.get('limit'), '50');
  await waitCards(page, 100);
  assert.deepEqual(await ids(page), FLEET.slice(0, 100));
  await page.click('#device-more');
  await waitCards(page, FLEET.length);
  assert.deepEqual(await ids(page), FLEET);
  await page.waitForSelector('#device-more', { state: 'hidden', timeout: WAIT_MS });
  assert.equal(await page.textContent('#device-count'), `已显示 ${FLEET.length} / 共 ${FLEET.length}`);

  // A search, typed: one request once the typing pauses, from the first page.
  const before = asked.length;
  await page.locator('#device-search').pressSequentially('pump', { delay: 40 });
  const pumps = FLEET.filter((_, i) => i % 10 === 0);
  await waitCards(page, pumps.length);
  assert.deepEqual(await ids(page), pumps);
  const searched = asked.slice(before).filter((q) => q.q);
  assert.ok(searched.length >= 1 && searched.length < 4, `typing 4 letters asked ${searched.length} times: ${JSON.stringify(searched)}`);
  assert.equal(searched.at(-1).q, 'pump');
  assert.equal(searched.at(-1).cursor, undefined);
  assert.equal(await page.isVisible('#device-more'), false);
  await page.screenshot({ path: path.join(SHOTS, 'devicelist-2-search.png'), fullPage: false });

  // Filters: in arrears (with the search still on), then online (nobody), then none.
  await page.check('#device-arrears');
  const arrearsPumps = pumps.filter((d) => !RECHARGED.includes(d));
  await waitCards(page, arrearsPumps.length);
  assert.equal(asked.at(-1).balance_below, '0.01');
  await page.fill('#device-search', '');
  await waitCards(page, 50);
  assert.equal(await page.textContent('#device-count'), `已显示 50 / 共 ${FLEET.length - RECHARGED.length}`);
  assert.ok(!(await ids(page)).some((d) => RECHARGED.includes(d)), 'a recharged meter is listed as in arrears');
  await page.uncheck('#device-arrears');
  await page.selectOption('#device-status', 'online');
  await page.waitForSelector('#device-empty', { timeout: WAIT_MS });
  assert.equal(asked.at(-1).status, 'online');
  assert.equal(await cards(page).count(), 0);
  await page.selectOption('#device-status', '');
  await waitCards(page, 50);

  // In English: the same page of 50, the counts' labels and the filters in English.
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.querySelector('#device-count')?.textContent.includes('shown'), null, { timeout: WAIT_MS });
  await waitCards(page, 50);
  assert.equal(await page.textContent('#device-count'), `50 of ${FLEET.length} shown`);
  assert.match(await page.textContent('#fleet-in-arrears'), /^In arrears/);
  assert.equal(await page.getAttribute('#device-search', 'placeholder'), 'Search id or name');
  await page.screenshot({ path: path.join(SHOTS, 'devicelist-3-english.png'), fullPage: false });
  await page.click('#lang-switch');

  // The alarms page's device picker still offers every meter (read a page at a time).
  await page.click('#nav-alarms');
  await page.waitForURL(/\/alarms$/, { timeout: WAIT_MS });
  await page.waitForFunction((n) => document.querySelectorAll('#alarms-device option').length === n + 1, FLEET.length, { timeout: WAIT_MS });
  await context.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let failed = false;
try {
  await run(browser);
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await browser.close();
}
if (problems.length) {
  failed = true;
  console.error(problems.join('\n'));
}
process.exit(failed ? 1 : 0);
