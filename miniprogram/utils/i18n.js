// 界面语言：简体中文或英文。/ The interface language: simplified Chinese or English.
//
// The language is the one the person picked on the me page (kept in wx storage), or else
// the phone's: WeChat's language zh* (zh_CN, zh_TW, zh_HK) gives zh-CN, anything else
// English. The words live in lang/zh-CN.js and lang/en.js, same keys in both.
//
// WXML cannot call functions, so a page puts its words into data: section('device') is the
// device page's table; t('status.online') one text, {name} placeholders filled from params.
// A page calls setTitle() for its navigation bar; tab pages call applyTabBar() on show.

const TABLES = {
  'zh-CN': require('./lang/zh-CN.js'),
  en: require('./lang/en.js')
}

const LANGUAGES = ['zh-CN', 'en']
const STORAGE_KEY = 'smartmeter.lang'
// The tab bar of app.json, in its order.
const TABS = ['devices', 'alarms', 'me']

// Resolved once: asking the system is a synchronous bridge call on a phone.
let current = null

function systemLanguage() {
  let lang = ''
  try {
    const info = typeof wx.getAppBaseInfo === 'function' ? wx.getAppBaseInfo() : wx.getSystemInfoSync()
    lang = (info && info.language) || ''
  } catch (e) {
    // No system information (outside WeChat): English.
  }
  return /^zh/i.test(lang) ? 'zh-CN' : 'en'
}

// The language the person picked, or '' to follow the system.
function preference() {
  let v = ''
  try {
    v = wx.getStorageSync(STORAGE_KEY)
  } catch (e) {
    v = ''
  }
  return LANGUAGES.indexOf(v) >= 0 ? v : ''
}

// 'zh-CN' or 'en'.
function language() {
  if (!current) current = preference() || systemLanguage()
  return current
}

// Forgets the resolved language, to read the storage and the system again.
function refresh() {
  current = null
}

// lang: 'zh-CN', 'en', or '' to follow the system. Returns false for anything else.
function setLanguage(lang) {
  if (lang === '') wx.removeStorageSync(STORAGE_KEY)
  else if (LANGUAGES.indexOf(lang) >= 0) wx.setStorageSync(STORAGE_KEY, lang)
  else return false
  current = null
  return true
}

function lookup(table, key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), table)
}

// Fills {name} from params; a placeholder without a value stays as it is.
function fill(text, params) {
  if (!params) return text
  return text.replace(/\{(\w+)\}/g, (m, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m)
}

// The text of key ("device.cutOff") in the current language; English if the table lacks it,
// the key itself if both do (a missing text shows, it does not break the page).
function t(key, params) {
  let text = lookup(TABLES[language()].strings, key)
  if (typeof text !== 'string') text = lookup(TABLES.en.strings, key)
  return typeof text === 'string' ? fill(text, params) : key
}

// A page's table ("login", "device", ...) as a flat object for data, placeholders filled.
function section(name, params) {
  const out = {}
  const table = lookup(TABLES[language()].strings, name) || {}
  Object.keys(table).forEach(k => {
    if (typeof table[k] === 'string') out[k] = fill(table[k], params)
  })
  return out
}

// The server's English error message in the current language, or null when it is to be
// shown as the server wrote it (in English always; in Chinese when no wording is known).
function serverMessage(message) {
  const table = TABLES[language()]
  if (!table.server) return null
  if (Object.prototype.hasOwnProperty.call(table.server, message)) return table.server[message]
  const patterns = table.serverPatterns || []
  for (let i = 0; i < patterns.length; i++) {
    const m = patterns[i][0].exec(message)
    if (m) return patterns[i][1].replace(/\{(\d+)\}/g, (s, n) => (m[Number(n)] === undefined ? s : m[Number(n)]))
  }
  return null
}

// The choices of the me page: following the system, then each language in its own words.
function choices() {
  return [{ key: '', label: t('me.followSystem') }].concat(LANGUAGES.map(l => ({ key: l, label: TABLES[l].strings.langName })))
}

function setTitle(title) {
  if (typeof wx.setNavigationBarTitle === 'function') wx.setNavigationBarTitle({ title, fail() {} })
}

// The tab bar's texts (app.json has the Chinese ones); only a tab page can set them.
function applyTabBar() {
  if (typeof wx.setTabBarItem !== 'function') return
  TABS.forEach((key, index) => {
    try {
      wx.setTabBarItem({ index, text: t('tab.' + key), fail() {} })
    } catch (e) {
      // A page shown without the tab bar has none to set.
    }
  })
}

module.exports = {
  LANGUAGES,
  STORAGE_KEY,
  TABS,
  language,
  preference,
  refresh,
  setLanguage,
  t,
  section,
  serverMessage,
  choices,
  setTitle,
  applyTabBar
}
