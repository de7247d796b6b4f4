// The alarms page (GET /api/alarms): filters (state, severity, device, site, raised between),
// how many alarms pass them (total), pages of 50 (next_before), live changes from the stream
// without a reload, and for operators and admins acknowledging with a note
// (POST /api/alarms/:id/ack). Users see the alarms of their own devices and no acknowledge
// button.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime, localToRfc3339 } from '../format.js';
import { session } from '../session.js';
import { openAlarmStream } from '../alarmstream.js';
import { SEVERITIES, STATES, kindText, severityBadge, stateCell, valueText } from '../alarmview.js';
import { matches, mergeAlarm, totalAfter } from '../alarmfilter.js';
import { allDevices } from '../devicepager.js';

const PAGE = 50;

// One alarm as a table row; staff get the acknowledge form on a raised one.
export function alarmRow(a, { staff, onAck, showDevice = true }) {
  let action = null;
  if (staff && a.state === 'raised') {
    const note = h('input', { class: 'ack-note', maxlength: 255, placeholder: t('alarm.note'), 'aria-label': t('alarm.note') });
    const result = h('span', { class: 'ack-result' });
    action = h('form', { class: 'ack-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      if (new TextEncoder().encode(note.value).length > 255) {
        fill(result, errorBox(t('alarm.note_long')));
        return;
      }
      fill(result);
      e.submitter?.setAttribute('disabled', '');
      try {
        await onAck(a, note.value.trim());
      } catch (err) {
        fill(result, errorBox(apiMessage(err)));
        e.submitter?.removeAttribute('disabled');
      }
    } }, note, h('button', { type: 'submit', class: 'ack-submit' }, t('alarm.ack')), result);
  }
  return h('tr', { class: `alarm sev-${a.severity}`, dataset: { id: a.id, state: a.state, kind: a.kind, device: a.device_id } },
    h('td', { dataset: { key: 'raised_at' } }, dateTime(a.raised_at)),
    showDevice && h('td', { dataset: { key: 'device' } }, h('a', { href: `/devices/${encodeURIComponent(a.device_id)}`, 'data-link': true }, a.device_id),
      a.site ? h('div', { class: 'small muted' }, a.site) : null),
    h('td', { dataset: { key: 'kind' } }, kindText(a.kind)),
    h('td', {}, severityBadge(a.severity)),
    h('td', { dataset: { key: 'value' }, title: a.message || '' }, valueText(a)),
    stateCell(a),
    staff && h('td', { class: 'ack-cell' }, action));
}

// Fills container with node (the alarms, drawn again after a live change), keeping what is
// being typed: the notes not yet sent, by alarm, and the caret of the one in use.
export function redrawKeepingNotes(container, node) {
  const notes = new Map();
  for (const input of container.querySelectorAll('tr[data-id] .ack-note')) {
    if (input.value) notes.set(input.closest('tr').dataset.id, input.value);
  }
  const active = document.activeElement;
  const focused = active && active.classList.contains('ack-note') && container.contains(active)
    ? { id: active.closest('tr').dataset.id, start: active.selectionStart, end: active.selectionEnd } : null;
  fill(container, node);
  const noteOf = (id) => container.querySelector(`tr[data-id="${CSS.escape(id)}"] .ack-note`);
  for (const [id, value] of notes) {
    const input = noteOf(id);
    if (input) input.value = value;
  }
  const input = focused && noteOf(focused.id);
  if (input) {
    input.focus();
    input.setSelectionRange(focused.start, focused.end);
  }
}

export function alarmTable(alarms, opts) {
  return h('table', { class: 'alarms' },
    h('thead', {}, h('tr', {},
      h('th', {}, t('alarm.raised_at')), opts.showDevice !== false && h('th', {}, t('alarm.device')), h('th', {}, t('alarm.kind')),
      h('th', {}, t('alarm.severity')), h('th', {}, t('alarm.value')), h('th', {}, t('alarm.state')),
      opts.staff && h('th', {}, t('alarm.action')))),
    h('tbody', {}, alarms.map((a) => alarmRow(a, opts))));
}

export function alarmsPage(main) {
  const staff = session.isStaff();
  const status = h('div', { class: 'status', id: 'alarms-status' });
  const live = h('span', { class: 'badge live', id: 'alarms-live', dataset: { state: 'connecting' } }, t('alarms.live.connecting'));
  const count = h('p', { class: 'muted', id: 'alarms-total', hidden: true });
  const list = h('div', { class: 'table-wrap', id: 'alarms' });
  const more = h('button', { type: 'button', id: 'alarms-more', class: 'seg', hidden: true, onclick: () => loadPage(false) }, t('alarms.more'));

  const sel = (id, values, label) => h('select', { id, name: id },
    h('option', { value: '' }, t('alarms.any')), values.map((v) => h('option', { value: v }, label(v))));
  const fState = sel('alarms-state', STATES, (s) => t(`alarm.state.${s}`));
  fState.value = 'open';
  const fSeverity = sel('alarms-severity', SEVERITIES, (s) => t(`alarm.severity.${s}`));
  const fDevice = h('select', { id: 'alarms-device' }, h('option', { value: '' }, t('alarms.any')));
  // /alarms?device=m-1 (the device page's link) starts on that device.
  const asked = new URLSearchParams(location.search).get('device');
  if (asked) {
    fDevice.append(h('option', { value: asked }, asked));
    fDevice.value = asked;
  }
  const fSite = h('input', { id: 'alarms-site', placeholder: t('alarms.site') });
  const fSince = h('input', { id: 'alarms-since', type: 'datetime-local' });
  const fUntil = h('input', { id: 'alarms-until', type: 'datetime-local' });
  const field = (label, input) => h('label', { class: 'filter' }, h('span', {}, label), input);
  const form = h('form', { class: 'filters', id: 'alarms-filters', onsubmit: (e) => { e.preventDefault(); loadPage(true); } },
    field(t('alarm.state'), fState), field(t('alarm.severity'), fSeverity), field(t('alarm.device'), fDevice),
    field(t('alarms.site'), fSite), field(t('alarms.since'), fSince), field(t('alarms.until'), fUntil),
    h('button', { type: 'submit', id: 'alarms-apply' }, t('alarms.apply')));

  fill(main, h('div', { class: 'page-head' }, h('h1', {}, t('alarms.title')), live), form, status, count, list, more);

  let stopped = false;
  let alarms = [];
  let filters = {};
  let nextBefore = null;
  let total = null; // the server's count for the filters; null from a server without it
  let fresh = new Set(); // ids that arrived on the stream, marked until the next full load

  function filtersNow() {
    const f = {};
    if (fState.value) f.state = fState.value;
    if (fSeverity.value) f.severity = fSeverity.value;
    if (fDevice.value) f.device = fDevice.value;
    if (fSite.value.trim()) f.site = fSite.value.trim();
    for (const [k, input] of [['since', fSince], ['until', fUntil]]) {
      if (!input.value) continue;
      const v = localToRfc3339(input.value);
      if (!v) throw new Error(t('alarms.bad_time', { value: input.value }));
      f[k] = v;
    }
    return f;
  }

  async function onAck(a, note) {
    const r = await Api.ackAlarm(a.id, note);
    if (!stopped) update(r.alarm);
  }

  function show() {
    if (!alarms.length) fill(list, h('p', { class: 'muted', id: 'alarms-empty' }, t('alarms.empty')));
    else {
      redrawKeepingNotes(list, alarmTable(alarms, { staff, onAck }));
      for (const id of fresh) list.querySelector(`tr[data-id="${id}"]`)?.classList.add('fresh');
    }
    more.hidden = nextBefore === null;
    count.hidden = total === null;
    fill(count, total === null ? null : t(total === 1 ? 'alarms.total_one' : 'alarms.total', { n: total }));
  }

  function update(a) {
    total = totalAfter(total, alarms, a, filters, nextBefore);
    if (matches(a, filters)) alarms = mergeAlarm(alarms, a);
    else alarms = alarms.filter((x) => x.id !== a.id);
    show();
  }

  async function loadPage(first) {
    let f;
    try {
      f = first ? filtersNow() : filters;
    } catch (err) {
      fill(status, errorBox(err.message));
      return;
    }
    try {
      const r = await Api.alarms({ ...f, limit: PAGE, before: first ? undefined : nextBefore });
      if (stopped) return;
      fill(status);
      if (first) {
        filters = f;
        alarms = [];
        fresh = new Set();
      }
      for (const a of r.alarms) alarms = mergeAlarm(alarms, a);
      nextBefore = r.alarms.length === PAGE ? r.next_before : null;
      total = typeof r.total === 'number' ? r.total : null;
      show();
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  }

  // The device picker lists every device, read a page of 1000 at a time (the unpaged list
  // stops at 10,000).
  allDevices((query) => Api.devicesPage(query)).then((devices) => {
    if (stopped) return;
    for (const d of devices) if (d.device_id !== asked) fDevice.append(h('option', { value: d.device_id }, d.device_id));
  }).catch(() => {});

  loadPage(true);
  const stop = openAlarmStream({
    onAlarm: (a) => {
      if (stopped) return;
      fresh.add(a.id);
      update(a);
    },
    onState: (s) => {
      live.dataset.state = s;
      fill(live, t(`alarms.live.${s}`));
    },
    // What changed while the stream was down: the first page again.
    onReconnect: () => loadPage(true),
  });
  return () => {
    stopped = true;
    stop();
  };
}
