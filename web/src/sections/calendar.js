// The park's calendar (GET/PUT /api/site/calendar): holidays (a due cut-off waits on them
// where a device asks so) and workdays (weekend days that are working days, 调休). One date
// a line, checked here before it is sent.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

// The textarea's dates (blank lines and spaces dropped), and the first bad one.
function dates(text) {
  const list = text.split(/[\s,]+/).filter(Boolean);
  return { list, bad: list.find((d) => !DAY.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`))) };
}

export function calendarView(el) {
  const holidays = h('textarea', { id: 'calendar-holidays', rows: 6, cols: 14, placeholder: '2027-01-01' });
  const workdays = h('textarea', { id: 'calendar-workdays', rows: 6, cols: 14, placeholder: '2027-02-07' });
  const result = h('div', { class: 'status', id: 'calendar-result' });
  const status = h('div', { class: 'status', id: 'calendar-status' });
  let stopped = false;

  const show = (c) => {
    holidays.value = (c.holidays || []).join('\n');
    workdays.value = (c.workdays || []).join('\n');
  };

  const form = h('form', { class: 'stack', id: 'calendar-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const hol = dates(holidays.value);
    const work = dates(workdays.value);
    const bad = hol.bad || work.bad;
    if (bad) {
      fill(result, errorBox(t('calendar.bad_date', { date: bad })));
      return;
    }
    try {
      const c = await Api.setCalendar(hol.list, work.list);
      if (stopped) return;
      show(c);
      fill(result, h('span', { class: 'ok' }, t('calendar.saved', { holidays: c.holidays.length, workdays: c.workdays.length })));
    } catch (err) {
      fill(result, errorBox(apiMessage(err)));
    }
  } },
  h('div', { class: 'calendar-cols' },
    h('div', { class: 'stack' }, h('label', { for: 'calendar-holidays' }, t('calendar.holidays')), holidays),
    h('div', { class: 'stack' }, h('label', { for: 'calendar-workdays' }, t('calendar.workdays')), workdays)),
  h('p', { class: 'muted small' }, t('calendar.hint')),
  h('button', { type: 'submit', id: 'calendar-submit' }, t('calendar.save')), result);

  fill(el, status, form);
  Api.calendar().then((c) => { if (!stopped) show(c); })
    .catch((err) => { if (!stopped) fill(status, errorBox(apiMessage(err))); });
  return () => {
    stopped = true;
  };
}
