// The commands of a device, newest first (GET …/commands): what was asked, where it
// stands, who asked and why (operators and admins: the API leaves these out for users), and
// when. Reloaded whenever the relay switch reports a command's new state on the page's bus.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime } from '../format.js';

// A remote operation (or a capture) as the table names it.
function opText(c) {
  if (c.cmd === 'set_interval') return t('ops.set_interval_to', { s: c.interval_s });
  return ['read_status', 'sync_clock'].includes(c.cmd) ? t(`ops.${c.cmd}`) : c.cmd;
}

export function commandsSection(el, { id, bus }) {
  const table = h('div', { class: 'table-wrap', id: 'commands' });
  const status = h('div', { class: 'status', id: 'commands-status' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.commands'))), status, table);
  let stopped = false;
  let busy = null;

  async function load() {
    try {
      const r = await Api.commands(id, 20);
      if (stopped) return;
      fill(status);
      if (!r.commands.length) {
        fill(table, h('p', { class: 'muted' }, t('commands.empty')));
        return;
      }
      // Who and why only when the answer has them.
      const who = r.commands.some((c) => 'actor' in c);
      fill(table, h('table', {},
        h('thead', {}, h('tr', {},
          h('th', {}, t('commands.created')), h('th', {}, t('commands.relay')), h('th', {}, t('commands.state')),
          who && h('th', {}, t('commands.actor')), who && h('th', {}, t('commands.reason')),
          h('th', { class: 'wide-only' }, t('commands.sent')), h('th', { class: 'num wide-only' }, t('commands.sends')),
          h('th', { class: 'wide-only' }, t('commands.finished')))),
        h('tbody', {}, r.commands.map((c) => h('tr', { dataset: { command: c.command_id, cmd: c.cmd, state: c.state } },
          h('td', {}, dateTime(c.created_at)), h('td', { dataset: { key: 'relay' } }, c.relay ? t(`relay.${c.relay}`) : opText(c)),
          h('td', { dataset: { key: 'state' }, class: `command-${c.state}` }, t(`command.${c.state}`), c.message ? h('div', { class: 'muted small' }, c.message) : null),
          who && h('td', { dataset: { key: 'actor' } }, c.actor === 'rule:cutoff' ? t('commands.rule') : (c.actor ?? '—')),
          who && h('td', { dataset: { key: 'reason' }, class: 'reason' }, c.reason ?? '—'),
          h('td', { class: 'wide-only' }, dateTime(c.sent_at)), h('td', { class: 'num wide-only' }, String(c.sends ?? 0)),
          h('td', { class: 'wide-only' }, dateTime(c.finished_at)))))));
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  }

  // One load at a time; a request while one runs loads again after it.
  let again = false;
  function reload() {
    if (busy) {
      again = true;
      return;
    }
    busy = load().finally(() => {
      busy = null;
      if (again && !stopped) {
        again = false;
        reload();
      }
    });
  }
  const onCommand = () => reload();
  bus.addEventListener('command', onCommand);
  reload();
  return () => {
    stopped = true;
    bus.removeEventListener('command', onCommand);
  };
}
