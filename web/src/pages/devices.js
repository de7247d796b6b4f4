// The device list: fleet counts (GET /api/devices/summary) at the top, a search box and
// filters, then the devices in pages of 50 ("More" follows next_cursor): status, last reading
// (V, A, W, PF; for a three-phase meter the means and the total, with its wiring), today's
// energy and balance. The pages in view and the counts are refreshed every 5 s.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { money, num, timeOnly } from '../format.js';
import { todayEnergyWh } from '../energy.js';
import { isThreePhase } from '../threephase.js';
import { createPager, debounce, PAGE_SIZE } from '../devicepager.js';

const REFRESH_MS = 5000;
const TODAY_EVERY = 6; // today's energy, where the list lacks it, every 6th refresh (30 s)
const SEARCH_MS = 300;
const COUNTS = ['total', 'online', 'offline', 'unknown', 'in_arrears', 'with_open_alarms'];

export function devicesPage(main) {
  const list = h('div', { class: 'grid', id: 'device-list' });
  const status = h('div', { class: 'status' });
  const summary = h('div', { class: 'fleet', id: 'fleet-summary' });
  const search = h('input', { type: 'search', id: 'device-search', maxlength: 64, placeholder: t('devices.search'), 'aria-label': t('devices.search') });
  const fStatus = h('select', { id: 'device-status' },
    h('option', { value: '' }, t('devices.status_any')),
    ['online', 'offline', 'unknown'].map((s) => h('option', { value: s }, t(`status.${s}`))));
  const fAlarms = h('input', { type: 'checkbox', id: 'device-alarms' });
  const fArrears = h('input', { type: 'checkbox', id: 'device-arrears' });
  const shown = h('span', { class: 'muted', id: 'device-count' });
  const more = h('button', { type: 'button', id: 'device-more', hidden: true }, t('devices.more'));
  const pageStatus = h('div', { class: 'status', id: 'device-page-status' });
  const filter = (label, el) => h('label', { class: 'filter' }, label, el);
  const check = (label, el) => h('label', { class: 'filter check' }, h('span', {}, el, ' ', label));
  fill(main, h('div', { class: 'page-head' }, h('h1', {}, t('devices.title')), status),
    summary,
    h('div', { class: 'filters', id: 'device-filters' },
      filter(t('devices.search'), search), filter(t('devices.status'), fStatus),
      check(t('devices.has_alarms'), fAlarms), check(t('devices.in_arrears'), fArrears)),
    list, h('div', { class: 'more-row' }, shown, ' ', more), pageStatus);
  let timer = null;
  let stopped = false;
  const today = new Map(); // device id -> Wh, for a server whose list lacks energy_today_wh
  let round = 0;
  const pager = createPager((query) => Api.devicesPage(query), { limit: PAGE_SIZE });

  const filtersNow = () => ({ q: search.value, status: fStatus.value, alarms: fAlarms.checked, arrears: fArrears.checked });

  async function todays(devices, all) {
    const errors = [];
    await Promise.all(devices.map(async (d) => {
      if (typeof d.energy_today_wh === 'number') {
        today.set(d.device_id, d.energy_today_wh);
      } else if (all || !today.has(d.device_id)) {
        const wh = await todayEnergyWh(d.device_id, d.latest).catch((err) => {
          errors.push(`${d.device_id}: ${apiMessage(err)}`);
          return null;
        });
        today.set(d.device_id, wh);
      }
    }));
    return errors;
  }

  async function show(st, all) {
    if (!st || stopped) return;
    const errors = await todays(st.devices, all);
    if (stopped) return;
    const { devices } = st;
    fill(list, devices.length ? devices.map((d) => card(d, today.get(d.device_id))) : h('p', { class: 'muted', id: 'device-empty' }, t('devices.empty')));
    list.dataset.count = String(devices.length);
    fill(shown, t('devices.shown', { shown: devices.length, total: st.total }));
    more.hidden = !st.hasMore;
    more.disabled = false;
    fill(status, h('span', { class: 'muted' }, t('devices.updated', { time: timeOnly(new Date()) })),
      errors.length ? errorBox(errors.join('; ')) : null);
  }

  async function counts() {
    try {
      const s = await Api.devicesSummary();
      if (stopped) return;
      fill(summary, COUNTS.map((k) => h('span', { class: `fleet-count ${k}`, id: `fleet-${k.replace(/_/g, '-')}`, dataset: { count: s[k] } },
        h('span', { class: 'label' }, t(`devices.count.${k}`)), ' ', h('strong', {}, String(s[k] ?? '—')))));
    } catch (err) {
      if (!stopped) fill(summary, errorBox(apiMessage(err)));
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  }

  async function tick() {
    try {
      const all = round++ % TODAY_EVERY === 0;
      await Promise.all([pager.refresh().then((st) => show(st, all)), counts()]);
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
    schedule();
  }

  // New filters: the first page again.
  async function restart() {
    clearTimeout(timer);
    try {
      await show(await pager.reset(filtersNow()), false);
      fill(pageStatus);
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
    schedule();
  }

  const typed = debounce(restart, SEARCH_MS);
  search.addEventListener('input', typed);
  for (const el of [fStatus, fAlarms, fArrears]) el.addEventListener('change', () => { typed.cancel(); restart(); });
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await show(await pager.more(), false);
      fill(pageStatus);
    } catch (err) {
      more.disabled = false;
      if (!stopped) fill(pageStatus, errorBox(apiMessage(err)));
    }
  });

  counts();
  restart();
  return () => {
    stopped = true;
    typed.cancel();
    clearTimeout(timer);
  };
}

function card(d, todayWh) {
  const r = d.latest;
  const metric = (label, value, unit) => h('div', { class: 'metric' }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value, unit && h('small', {}, ` ${unit}`)));
  return h('a', { class: 'card device', href: `/devices/${encodeURIComponent(d.device_id)}`, 'data-link': true, dataset: { device: d.device_id, status: d.status } },
    h('div', { class: 'card-head' },
      h('span', {}, h('strong', { class: 'device-id' }, d.device_id),
        d.name ? h('span', { class: 'device-name' }, ` ${d.name}`) : null,
        d.site ? h('small', { class: 'device-site muted' }, ` · ${d.site}`) : null),
      isThreePhase(r)
        ? h('span', {}, h('span', { class: 'badge wiring' }, t(`wiring.${r.wiring}`)), ' ', h('span', { class: `badge ${d.status}` }, t(`status.${d.status}`)))
        : h('span', { class: `badge ${d.status}` }, t(`status.${d.status}`))),
    r ? h('div', { class: 'metrics' },
      metric(t('field.voltage'), num(r.voltage, 1), 'V'),
      metric(t('field.current'), num(r.current, 2), 'A'),
      metric(t('field.power'), num(r.power_w, 0), 'W'),
      metric(t('field.pf'), num(r.pf, 2)))
      : h('p', { class: 'muted' }, t('no_reading')),
    h('div', { class: 'metrics' },
      metric(t('field.today'), todayWh == null ? '—' : num(todayWh / 1000, 3), 'kWh'),
      h('div', { class: 'metric' }, h('span', { class: 'label' }, t('field.balance')), h('span', { class: 'value balance' }, `¥${money(d.balance)}`))),
    r && h('div', { class: 'muted small' }, `${t('field.last_reading')}: ${new Date(r.timestamp).toLocaleString()}`));
}
