// A device's open alarms (GET /api/alarms?device=…&state=open), kept live by the alarm
// stream: a new alarm of this device appears, a cleared one leaves. Operators and admins
// acknowledge here too, with a note.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { openAlarmStream } from '../alarmstream.js';
import { matches, mergeAlarm } from '../alarmfilter.js';
import { alarmTable, redrawKeepingNotes } from '../pages/alarms.js';

export function deviceAlarmsSection(el, { id, staff }) {
  const list = h('div', { class: 'table-wrap', id: 'device-alarms' });
  const status = h('div', { class: 'status', id: 'device-alarms-status' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.alarms')),
    h('a', { href: `/alarms?device=${encodeURIComponent(id)}`, 'data-link': true, class: 'small' }, t('device.all_alarms'))), status, list);
  const filters = { device: id, state: 'open' };
  let stopped = false;
  let alarms = [];

  async function onAck(a, note) {
    const r = await Api.ackAlarm(a.id, note);
    if (!stopped) update(r.alarm);
  }

  function show() {
    redrawKeepingNotes(list, alarms.length ? alarmTable(alarms, { staff, onAck, showDevice: false })
      : h('p', { class: 'muted', id: 'device-alarms-empty' }, t('device.no_open_alarms')));
  }

  function update(a) {
    if (a.device_id !== id) return;
    alarms = matches(a, filters) ? mergeAlarm(alarms, a) : alarms.filter((x) => x.id !== a.id);
    show();
  }

  async function load() {
    try {
      const r = await Api.alarms({ ...filters, limit: 100 });
      if (stopped) return;
      fill(status);
      alarms = r.alarms;
      show();
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  }

  load();
  const stop = openAlarmStream({ onAlarm: (a) => { if (!stopped) update(a); }, onReconnect: load });
  return () => {
    stopped = true;
    stop();
  };
}
