// A tariff: the version in force and the upcoming ones as the API answers them, and for
// operators and admins an editor that adds a version, now or from a later time (one period a
// line, "HH:MM price [label]"). Used for a device (…/tariff) and for the park's default
// (/api/site/tariff); prefix names the elements (tariff-periods, site-tariff-periods, ...).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime, localToRfc3339 } from '../format.js';

function periodsTable(id, periods) {
  return h('table', { id }, h('thead', {}, h('tr', {},
    h('th', {}, t('tariff.from')), h('th', {}, t('tariff.label')), h('th', { class: 'num' }, t('tariff.price')))),
  h('tbody', {}, periods.map((p) => h('tr', {}, h('td', {}, p.from), h('td', {}, p.label || '—'),
    h('td', { class: 'num' }, p.price)))));
}

// The textarea's lines as periods; blank lines skipped.
function parsePeriods(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [from, price, label] = l.split(/\s+/);
    return label ? { from, price, label } : { from, price };
  });
}

export function tariffView(el, { prefix, staff, load, save }) {
  const shown = h('div', { id: prefix });
  const upcoming = h('div', { id: `${prefix}-upcoming` });
  const status = h('div', { class: 'status', id: `${prefix}-status` });
  let stopped = false;

  async function reload() {
    try {
      const r = await load();
      if (stopped) return;
      fill(status);
      fill(shown, h('p', { class: 'muted small' }, t('tariff.since', { from: dateTime(r.effective_from) })),
        periodsTable(`${prefix}-periods`, r.periods));
      const next = Array.isArray(r.upcoming) ? r.upcoming : [];
      fill(upcoming, next.length ? h('h4', {}, t('tariff.upcoming')) : null,
        next.map((v) => h('div', { class: 'tariff-version', dataset: { from: v.effective_from } },
          h('p', { class: 'small' }, t('tariff.from_at', { from: dateTime(v.effective_from) })),
          periodsTable(null, v.periods))));
      if (editor && !editor.text.value) editor.text.value = r.periods.map((p) => `${p.from} ${p.price}${p.label ? ` ${p.label}` : ''}`).join('\n');
    } catch (err) {
      if (stopped) return;
      if (err.status === 404) {
        fill(shown, h('p', { class: 'muted' }, t('tariff.none')));
        fill(upcoming);
      } else fill(status, errorBox(apiMessage(err)));
    }
  }

  function tariffEditor() {
    const text = h('textarea', { id: `${prefix}-text`, rows: 4, cols: 28, placeholder: '08:00 1.2000 峰\n22:00 0.4000 谷' });
    const from = h('input', { id: `${prefix}-effective`, type: 'datetime-local' });
    const result = h('div', { class: 'status', id: `${prefix}-result` });
    const form = h('form', { class: 'stack tariff-form', id: `${prefix}-form`, novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      delete result.dataset.status;
      let effective;
      if (from.value) {
        effective = localToRfc3339(from.value);
        if (!effective) return fill(result, errorBox(t('tariff.bad_time')));
      }
      try {
        const v = await save(parsePeriods(text.value), effective);
        fill(result, h('span', { class: 'ok' }, t('tariff.saved_from', { from: dateTime(v.effective_from) })));
        from.value = '';
        await reload();
      } catch (err) {
        result.dataset.status = String(err.status);
        fill(result, errorBox(err.status === 409 ? t('tariff.conflict', { message: apiMessage(err) }) : apiMessage(err)));
      }
    } },
    h('label', { for: `${prefix}-text` }, t('tariff.edit')), text,
    h('label', { for: `${prefix}-effective` }, t('tariff.effective')), from,
    h('button', { type: 'submit', id: `${prefix}-submit` }, t('tariff.save')), result);
    return { form, text };
  }

  const editor = staff ? tariffEditor() : null;
  fill(el, status, shown, upcoming, editor && editor.form);
  reload();
  return () => {
    stopped = true;
  };
}

// The device page's card: the device's tariff (its own, or the park's default until it has one).
export function tariffSection(el, { id, staff }) {
  const body = h('div');
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('tariff.title'))), body);
  return tariffView(body, {
    prefix: 'tariff', staff, load: () => Api.tariff(id), save: (periods, from) => Api.setTariff(id, periods, from),
  });
}
