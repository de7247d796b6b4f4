// Strings of the dashboard: one dictionary per language (i18n/zh.js, i18n/en.js), Chinese by
// default, the choice kept in localStorage. t('key', {name: value}) fills {name} placeholders.
import zh from './i18n/zh.js';
import en from './i18n/en.js';

const dictionaries = { zh, en };
const KEY = 'smartmeter.lang';
let lang = dictionaries[localStorage.getItem(KEY)] ? localStorage.getItem(KEY) : 'zh';
const listeners = new Set();

export function t(key, params = {}) {
  const s = dictionaries[lang][key] ?? dictionaries.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

export const currentLang = () => lang;

export function setLang(next) {
  if (!dictionaries[next] || next === lang) return;
  lang = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

export const locale = () => (lang === 'zh' ? 'zh-CN' : 'en-GB');

// The server's messages are English; a few common ones read better translated.
export function apiMessage(err) {
  const key = `api.${err.message}`;
  const translated = dictionaries[lang][key];
  if (err.status === 0) return t('error.network', { message: err.message });
  return translated ? `${translated} (${err.message})` : err.message;
}
