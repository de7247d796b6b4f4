// Prepaid: the relay's state and, for operators and admins, a switch with a required reason
// (POST …/relay, then the command's state polled until it is final). Each change of the
// command's state is told on the page's bus as a 'command' event (the history follows).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';

const FINAL = new Set(['done', 'failed', 'expired']);
const POLL_MS = 1000;

export function prepaidSection(el, { id, staff, detail, onDetail, bus }) {
  const relayState = h('span', { id: 'relay-state', class: 'badge' });
  const command = h('div', { class: 'status', id: 'relay-command', 'aria-live': 'polite' });
  let stopped = false;
  let timer = null;

  const showRelay = (d) => {
    const r = d.relay || 'unknown';
    relayState.className = `badge relay-${r}`;
    fill(relayState, t(`relay.${r}`));
  };
  showRelay(detail);
  const off = onDetail(showRelay);

  async function poll(cid) {
    try {
      const c = await Api.command(id, cid);
      if (stopped) return;
      fill(command, h('span', { class: c.state === 'done' ? 'ok' : '' },
        t('relay.command', { relay: t(`relay.${c.relay}`), state: t(`command.${c.state}`) }),
        c.message ? ` (${c.message})` : ''));
      if (command.dataset.state !== c.state) bus.dispatchEvent(new Event('command'));
      command.dataset.state = c.state;
      if (!FINAL.has(c.state)) timer = setTimeout(() => poll(cid), POLL_MS);
    } catch (err) {
      if (!stopped) fill(command, errorBox(apiMessage(err)));
    }
  }

  function relayForm() {
    const reason = h('input', { id: 'relay-reason', required: true, maxlength: 200, placeholder: t('relay.reason') });
    const button = (relay) => h('button', { type: 'submit', id: `relay-${relay}`, dataset: { relay } }, t(`relay.switch_${relay}`));
    let which = 'off';
    const buttons = [button('off'), button('on')];
    for (const b of buttons) b.addEventListener('click', () => { which = b.dataset.relay; });
    return h('form', { class: 'inline', id: 'relay-form', onsubmit: async (e) => {
      e.preventDefault();
      const why = reason.value.trim();
      if (!why) return;
      clearTimeout(timer);
      fill(command, t('relay.busy'));
      delete command.dataset.state;
      try {
        const r = await Api.relay(id, which, why);
        reason.value = '';
        await poll(r.command_id);
      } catch (err) {
        fill(command, errorBox(apiMessage(err)));
      }
    } }, h('label', { for: 'relay-reason' }, t('relay.reason')), reason, buttons);
  }

  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.prepaid'))),
    h('p', {}, `${t('relay.label')}: `, relayState), staff && relayForm(), command);
  return () => {
    stopped = true;
    clearTimeout(timer);
    off();
  };
}
