// One device: its status and last reading, then the sections (its open alarms, three phases for a device
// wired three-phase, live chart, history, energy, ledger and recharge, alarm rules, bindings, waveform
// captures). A device the caller may not see answers
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
import { phasesSection } from '../sections/phases.js';
import { prepaidSection } from '../sections/prepaid.js';
import { commandsSection } from '../sections/commands.js';
import { eventsSection } from '../sections/events.js';
import { tariffSection } from '../sections/tariff.js';
import { billingSettingsSection } from '../sections/billing_settings.js';
import { paymentsSection } from '../sections/payments.js';
import { statementSection } from '../sections/statement.js';
import { metadataSection } from '../sections/metadata.js';
import { operationsSection } from '../sections/operations.js';
import { deviceAlarmsSection } from '../sections/alarms.js';
import { alarmRulesSection } from '../sections/alarm_rules.js';
import { isThreePhase } from '../threephase.js';

export function devicePage(main, { params }) {
  const id = params.id;
  const head = h('section', { class: 'card device-head' });
  const back = h('a', { href: '/devices', 'data-link': true, class: 'back' }, t('device.back'));
  fill(main, back, head);
  const cleanups = [];
  let stopped = false;
  // Sections that follow the head's reading (onDetail returns the unsubscribe function).
  const listeners = new Set();
  const onDetail = (fn) => {
    listeners.add(fn);
    return () => listeners.delete(fn);
  };

  const statusBadge = (d) => h('span', { class: `badge ${d.status}` }, t(`status.${d.status}`));

  function showHead(d) {
    const r = d.latest;
    // For a three-phase reading voltage and current are the means of the phases.
    const three = isThreePhase(r);
    const metric = (label, value, unit, cls) => h('div', { class: 'metric' }, h('span', { class: 'label' }, label), h('span', { class: `value ${cls || ''}` }, value, unit && h('small', {}, ` ${unit}`)));
    fill(head,
      h('div', { class: 'card-head' }, h('h1', {}, h('span', { class: 'device-id' }, d.device_id),
        d.name ? h('span', { class: 'device-name', id: 'device-name' }, ` ${d.name}`) : null,
        d.site ? h('small', { class: 'device-site muted', id: 'device-site' }, ` · ${d.site}`) : null),
        three
          ? h('span', {}, h('span', { class: 'badge wiring', id: 'device-wiring' }, t(`wiring.${r.wiring}`)), ' ', statusBadge(d))
          : statusBadge(d)),
      h('div', { class: 'metrics wide' },
        metric(t('field.balance'), `¥${money(d.balance)}`, null, 'balance'),
        metric(t(three ? 'field.voltage_mean' : 'field.voltage'), num(r?.voltage, 1), 'V'),
        metric(t(three ? 'field.current_mean' : 'field.current'), num(r?.current, 2), 'A'),
        metric(t(three ? 'field.power_total' : 'field.power'), num(r?.power_w, 0), 'W'),
        metric(t('field.pf'), num(r?.pf, 2)),
        metric(t('field.freq'), num(r?.freq_hz, 2), 'Hz'),
        metric(t('field.energy_total'), r?.energy_wh == null ? '—' : num(r.energy_wh / 1000, 3), 'kWh')),
      h('div', { class: 'muted small' }, `${t('field.last_reading')}: ${r ? dateTime(r.timestamp) : t('no_reading')}`));
    for (const fn of listeners) fn(d);
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
    // The bus carries the sections' news to each other ('command': a relay command changed
    // state; 'billing': the billing settings were saved).
    const ctx = { id, detail, reloadHead, onDetail, staff: session.isStaff(), bus: new EventTarget() };
    const sections = [
      [deviceAlarmsSection, 'alarms'],
      [liveSection, 'live'], [historySection, 'history'], [energySection, 'energy'],
      [metadataSection, 'metadata'],
      ctx.staff && [operationsSection, 'operations'],
      [prepaidSection, 'prepaid'], [commandsSection, 'commands'], [eventsSection, 'events'],
      [alarmRulesSection, 'alarm-rules'],
      [tariffSection, 'tariff'], [billingSettingsSection, 'billing'],
      [ledgerSection, 'ledger'], [paymentsSection, 'payments'], [statementSection, 'statement'],
      ctx.staff && [bindingsSection, 'bindings'],
      [capturesSection, 'captures'],
    ].filter(Boolean);
    for (const [section, name] of sections) {
      const el = h('section', { class: 'card', id: `section-${name}` });
      main.append(el);
      cleanups.push(section(el, ctx) || (() => {}));
    }
    // The three phases come first, from the first three-phase reading on (at once for a meter
    // already sending them; a single-phase meter never gets the section).
    const addPhases = (d) => {
      const el = h('section', { class: 'card', id: 'section-phases' });
      head.after(el);
      cleanups.push(phasesSection(el, { ...ctx, detail: d }));
    };
    if (isThreePhase(detail.latest)) addPhases(detail);
    else {
      const off = onDetail((d) => {
        if (!isThreePhase(d.latest)) return;
        off();
        addPhases(d);
      });
      cleanups.push(off);
    }
  })();

  return () => {
    stopped = true;
    for (const c of cleanups) c();
  };
}
