// The device list: status, last reading (V, A, W, PF; for a three-phase meter the means and
// the total, with its wiring), today's energy and balance, refreshed every 5 s.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { money, num, timeOnly } from '../format.js';
import { todayEnergyWh } from '../energy.js';
import { isThreePhase } from '../threephase.js';

const REFRESH_MS = 5000;
const TODAY_EVERY = 6; // today's energy changes slowly: every 6th refresh (30 s)

export function devicesPage(main) {
  const list = h('div', { class: 'grid', id: 'device-list' });
  const status = h('div', { class: 'status' });
  fill(main, h('div', { class: 'page-head' }, h('h1', {}, t('devices.title')), status), list);
  let timer = null;
  let stopped = false;
  const today = new Map(); // device id -> Wh, refreshed less often than the readings
  let round = 0;

  async function refresh() {
    try {
      const { devices } = await Api.devices();
      if (stopped) return;
      const all = round++ % TODAY_EVERY === 0;
      const errors = [];
      await Promise.all(devices.map(async (d) => {
        if (all || !today.has(d.device_id)) {
          const wh = await todayEnergyWh(d.device_id, d.latest).catch((err) => {
            errors.push(`${d.device_id}: ${apiMessage(err)}`);
            return null;
          });
          today.set(d.device_id, wh);
        }
      }));
      if (stopped) return;
      fill(list, devices.length ? devices.map((d) => card(d, today.get(d.device_id))) : h('p', { class: 'muted' }, t('devices.empty')));
      fill(status, h('span', { class: 'muted' }, t('devices.updated', { time: timeOnly(new Date()) })),
        errors.length ? errorBox(errors.join('; ')) : null);
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
  return () => {
    stopped = true;
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
