// One device: its status and last reading, then the sections (live chart, history, energy,
// ledger and recharge, bindings, waveform captures). A device the caller may not see answers
// 404 and the page says so.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { money, num, dateTime } from '../format.js';
import { session } from '../session.js';
import { liveSection } from '../sections/live.js';
import { historySection } from '../sections/history.js';
import { energySection } from '../sections/energy.js';
import { ledgerSection } from '../sections/ledger.js';
import { bindingsSection } from '../sections/bindings.js';
import { capturesSection } from '../sections/captures.js';

export function devicePage(main, { params }) {
  const id = params.id;
  const head = h('section', { class: 'card device-head' });
  const back = h('a', { href: '/devices', 'data-link': true, class: 'back' }, t('device.back'));
  fill(main, back, head);
  const cleanups = [];
  let stopped = false;

  function showHead(d) {
    const r = d.latest;
    const metric = (label, value, unit, cls) => h('div', { class: 'metric' }, h('span', { class: 'label' }, label), h('span', { class: `value ${cls || ''}` }, value, unit && h('small', {}, ` ${unit}`)));
    fill(head,
      h('div', { class: 'card-head' }, h('h1', { class: 'device-id' }, d.device_id), h('span', { class: `badge ${d.status}` }, t(`status.${d.status}`))),
      h('div', { class: 'metrics wide' },
        metric(t('field.balance'), `¥${money(d.balance)}`, null, 'balance'),
        metric(t('field.voltage'), num(r?.voltage, 1), 'V'),
        metric(t('field.current'), num(r?.current, 2), 'A'),
        metric(t('field.power'), num(r?.power_w, 0), 'W'),
        metric(t('field.pf'), num(r?.pf, 2)),
        metric(t('field.freq'), num(r?.freq_hz, 2), 'Hz'),
        metric(t('field.energy_total'), r?.energy_wh == null ? '—' : num(r.energy_wh / 1000, 3), 'kWh')),
      h('div', { class: 'muted small' }, `${t('field.last_reading')}: ${r ? dateTime(r.timestamp) : t('no_reading')}`));
  }

  // Reloads the head (after a recharge, and with each live poll's newest reading).
  async function reloadHead() {
    const d = await Api.device(id);
    if (!stopped) showHead(d);
    return d;
  }

  (async () => {
    let detail;
    try {
      detail = await reloadHead();
    } catch (err) {
      if (stopped) return;
      fill(head, h('h1', {}, t('device.refused')), h('p', { class: 'device-id muted' }, id),
        h('div', { id: 'device-refused' }, errorBox(apiMessage(err))));
      return;
    }
    if (stopped) return;
    const ctx = { id, detail, reloadHead, staff: session.isStaff() };
    const sections = [
      [liveSection, 'live'], [historySection, 'history'], [energySection, 'energy'],
      [ledgerSection, 'ledger'],
      ctx.staff && [bindingsSection, 'bindings'],
      [capturesSection, 'captures'],
    ].filter(Boolean);
    for (const [section, name] of sections) {
      const el = h('section', { class: 'card', id: `section-${name}` });
      main.append(el);
      cleanups.push(section(el, ctx) || (() => {}));
    }
  })();

  return () => {
    stopped = true;
    for (const c of cleanups) c();
  };
}
