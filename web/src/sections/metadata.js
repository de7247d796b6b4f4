// A device's metadata (GET /api/devices/:id, PATCH /api/devices/:id): name, site, place,
// the nominal voltage and frequency, ratings, transformer ratios and its Modbus/DTU address.
// Everyone who sees the device reads them; operators and admins edit them in a form checked
// here first (the same bounds as the server's, docs/api.md "Device metadata"): only the
// fields changed are sent, an emptied field is cleared (null).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { META_FIELDS, changedFields, parseField } from '../metafields.js';

const shown = (v) => (v === null || v === undefined ? '' : String(v));

export function metadataSection(el, { id, staff, detail, reloadHead }) {
  const body = h('div', { id: 'metadata' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.metadata'))), body);
  let stopped = false;

  function summary(d) {
    const set = META_FIELDS.filter(([k]) => d[k] !== null && d[k] !== undefined);
    if (!set.length) return h('p', { class: 'muted', id: 'metadata-empty' }, t('meta.empty'));
    return [h('dl', { class: 'settings', id: 'metadata-list' }, set.map(([k]) =>
      h('div', {}, h('dt', {}, t(`meta.${k}`)), h('dd', { dataset: { key: k } }, shown(d[k]))))),
    d.metadata_updated_by && h('p', { class: 'muted small', id: 'metadata-updated' },
      t('meta.updated', { who: d.metadata_updated_by, at: new Date(d.metadata_updated_at).toLocaleString() }))];
  }

  function form(d) {
    const inputs = META_FIELDS.map(([k, kind]) => h('input', {
      id: `meta-${k}`, name: k, value: shown(d[k]),
      inputmode: ['real', 'int', 'hz'].includes(kind) ? 'decimal' : undefined,
    }));
    const result = h('div', { class: 'status', id: 'metadata-result', 'aria-live': 'polite' });
    const field = (f, input) => h('div', { class: 'field' }, h('label', { for: input.id }, t(`meta.${f[0]}`)), input,
      h('span', { class: 'field-error', id: `meta-${f[0]}-error`, role: 'alert' }));
    const f = h('form', { class: 'stack meta-form', id: 'metadata-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      fill(result);
      const values = {};
      let bad = false;
      META_FIELDS.forEach((fd, k) => {
        const p = parseField(fd, inputs[k].value);
        fill(f.querySelector(`#meta-${fd[0]}-error`), p.error ? t(...p.error) : '');
        inputs[k].setAttribute('aria-invalid', p.error ? 'true' : 'false');
        bad ||= Boolean(p.error);
        values[fd[0]] = p.value;
      });
      if (bad) return;
      const change = changedFields(d, values);
      if (!Object.keys(change).length) {
        fill(result, h('span', { class: 'muted' }, t('meta.unchanged')));
        return;
      }
      try {
        const saved = await Api.setMeta(id, change);
        if (stopped) return;
        show(saved);
        reloadHead().catch(() => {});
        fill(el.querySelector('#metadata-result'), h('span', { class: 'ok' }, t('meta.saved')));
      } catch (err) {
        fill(result, errorBox(apiMessage(err)));
      }
    } },
    h('div', { class: 'meta-grid' }, META_FIELDS.map((fd, k) => field(fd, inputs[k]))),
    h('button', { type: 'submit', id: 'metadata-submit' }, t('meta.save')), result);
    return f;
  }

  function show(d) {
    fill(body, summary(d), staff && form(d));
  }
  show(detail);
  return () => {
    stopped = true;
  };
}
