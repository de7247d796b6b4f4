// The monthly statement (GET …/statement?month=YYYY-MM, CSV): a month picker and a download.
// The file is fetched with the session's token (a plain link would carry none), then handed
// to the browser as an object URL; its lines also show here as a table.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { ym } from '../format.js';

// The statement's CSV (no quoting: its fields are dates, labels and numbers) as rows of cells.
function rows(text) {
  return text.split(/\r?\n/).filter(Boolean).map((l) => l.split(','));
}

export function statementSection(el, { id }) {
  const month = h('input', { id: 'statement-month', type: 'month', required: true, value: ym(new Date()), max: ym(new Date()) });
  const status = h('div', { class: 'status', id: 'statement-status' });
  const preview = h('div', { class: 'table-wrap', id: 'statement' });
  let stopped = false;
  let url = null;

  const form = h('form', { class: 'inline', id: 'statement-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    if (!/^\d{4}-\d{2}$/.test(month.value)) {
      fill(status, errorBox(t('statement.bad_month')));
      return;
    }
    fill(status, t('statement.busy'));
    try {
      const { blob, filename } = await Api.statement(id, month.value);
      if (stopped) return;
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: filename, id: 'statement-link' }, filename);
      fill(status, h('span', { class: 'ok' }, t('statement.ready')), ' ', a);
      a.click();
      const [head, ...lines] = rows(await blob.text());
      fill(preview, h('table', {}, h('thead', {}, h('tr', {}, head.map((c, k) => h('th', { class: k >= 2 ? 'num' : '' }, t(`statement.${c}`))))),
        h('tbody', {}, lines.map((r) => h('tr', { class: r[0] === 'total' ? 'total' : '' },
          r.map((c, k) => h('td', { class: k >= 2 ? 'num' : '' }, k === 0 && c === 'total' ? t('statement.total') : c)))))));
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  } }, h('label', { for: 'statement-month' }, t('statement.month')), month,
  h('button', { type: 'submit', id: 'statement-download' }, t('statement.download')));

  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.statement'))), form, status, preview);
  return () => {
    stopped = true;
    if (url) URL.revokeObjectURL(url);
  };
}
