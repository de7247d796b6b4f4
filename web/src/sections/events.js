// A device's prepaid events, newest first (GET …/events): the balance going low or back up,
// the relay found in a state other than the one asked for, and back. The server's rules run
// every few seconds, so the list is looked at again every POLL_MS and after a change here.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime } from '../format.js';

const BAD = new Set(['balance.low', 'relay.mismatch']);
const POLL_MS = 5000;

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
  let timer = null;

  function show(events) {
    if (!events.length) {
      fill(list, h('p', { class: 'muted' }, t('events.empty')));
      return;
    }
    fill(list, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, t('events.at')), h('th', {}, t('events.kind')), h('th', {}, t('events.detail')))),
      h('tbody', {}, events.map((e) => h('tr', { dataset: { kind: e.kind } },
        h('td', {}, dateTime(e.at)),
        h('td', {}, h('span', { class: `badge ${BAD.has(e.kind) ? 'bad' : 'good'}` }, kindText(e.kind))),
        h('td', { class: 'reason' }, e.detail || '—'))))));
  }

  // One request at a time; the next look is POLL_MS after the last answer.
  let busy = false;
  async function load() {
    if (busy || stopped) return;
    busy = true;
    clearTimeout(timer);
    try {
      const r = await Api.events(id, 20);
      if (!stopped) {
        fill(status);
        show(r.events);
      }
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
    busy = false;
    if (!stopped) timer = setTimeout(load, POLL_MS);
  }

  // A command's end or a settings change may bring an event: look again then.
  const onChange = () => load();
  bus.addEventListener('command', onChange);
  bus.addEventListener('billing', onChange);
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    bus.removeEventListener('command', onChange);
    bus.removeEventListener('billing', onChange);
  };
}
