// A device's prepaid events, newest first (GET …/events): the balance going low or back up,
// the relay found in a state other than the one asked for, and back.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime } from '../format.js';

const BAD = new Set(['balance.low', 'relay.mismatch']);

// A kind this dashboard has no words for shows as the server names it.
function kindText(kind) {
  const s = t(`events.kind.${kind}`);
  return s === `events.kind.${kind}` ? kind : s;
}

export function eventsSection(el, { id, bus }) {
  const list = h('div', { class: 'table-wrap', id: 'events' });
  const status = h('div', { class: 'status', id: 'events-status' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.events'))), status, list);
  let stopped = false;

  async function load() {
    try {
      const r = await Api.events(id, 20);
      if (stopped) return;
      fill(status);
      if (!r.events.length) {
        fill(list, h('p', { class: 'muted' }, t('events.empty')));
        return;
      }
      fill(list, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, t('events.at')), h('th', {}, t('events.kind')), h('th', {}, t('events.detail')))),
        h('tbody', {}, r.events.map((e) => h('tr', { dataset: { kind: e.kind } },
          h('td', {}, dateTime(e.at)),
          h('td', {}, h('span', { class: `badge ${BAD.has(e.kind) ? 'bad' : 'good'}` }, kindText(e.kind))),
          h('td', { class: 'reason' }, e.detail || '—'))))));
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  }

  // A command's end or a settings change may bring an event: look again then.
  const onChange = () => load();
  bus.addEventListener('command', onChange);
  bus.addEventListener('billing', onChange);
  load();
  return () => {
    stopped = true;
    bus.removeEventListener('command', onChange);
    bus.removeEventListener('billing', onChange);
  };
}
