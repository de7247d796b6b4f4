// The language module: both tables say the same things, the phone's language or the person's
// pick decides, placeholders are filled, the server's messages are Chinese only in Chinese,
// and no Chinese is written anywhere in the mini program's code but in the Chinese table.
const fs = require('fs')
const path = require('path')
const { installWx } = require('./helpers/wx-mock.js')
const i18n = require('../utils/i18n.js')
const messages = require('../utils/messages.js')
const zh = require('../utils/lang/zh-CN.js')
const en = require('../utils/lang/en.js')

const ROOT = path.join(__dirname, '..')
const ZH_TABLE = path.join('utils', 'lang', 'zh-CN.js')
const CJK = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/

// key → text of every string of a table, keys joined with dots.
function flatten(table, prefix, out) {
  const list = out || {}
  Object.keys(table).forEach(k => {
    const key = prefix ? prefix + '.' + k : k
    if (typeof table[k] === 'string') list[key] = table[k]
    else flatten(table[k], key, list)
  })
  return list
}

const placeholders = text => (text.match(/\{\w+\}/g) || []).sort()

describe('the two tables', () => {
  const zhFlat = flatten(zh.strings)
  const enFlat = flatten(en.strings)

  test('have the same keys', () => {
    expect(Object.keys(zhFlat).length).toBeGreaterThan(150)
    expect(Object.keys(enFlat).sort()).toEqual(Object.keys(zhFlat).sort())
  })

  test('have the same placeholders in each text, and no empty text', () => {
    Object.keys(zhFlat).forEach(k => {
      expect([k, placeholders(enFlat[k])]).toEqual([k, placeholders(zhFlat[k])])
      expect([k, zhFlat[k].trim() !== '' && enFlat[k].trim() !== '']).toEqual([k, true])
    })
  })

  test('the English table is English and the Chinese one Chinese', () => {
    Object.keys(enFlat).forEach(k => expect([k, CJK.test(enFlat[k])]).toEqual([k, false]))
    // Texts without Chinese in zh-CN are names and symbols the same in both languages.
    const same = Object.keys(zhFlat).filter(k => !CJK.test(zhFlat[k]))
    same.forEach(k => expect([k, zhFlat[k]]).toEqual([k, enFlat[k]]))
    expect(same).toEqual(['chart.total'])
  })

  test('the server messages translated are ones the server writes, in English', () => {
    Object.keys(zh.server).forEach(m => {
      expect(m).not.toMatch(CJK)
      expect(zh.server[m]).toMatch(CJK)
    })
  })
})

describe('the language', () => {
  test.each([
    ['zh_CN', 'zh-CN'],
    ['zh_TW', 'zh-CN'],
    ['zh_HK', 'zh-CN'],
    ['zh', 'zh-CN'],
    ['en', 'en'],
    ['en_US', 'en'],
    ['fr', 'en'],
    ['', 'en']
  ])('a phone in %j gets %s', (phone, lang) => {
    installWx({ language: phone })
    expect(i18n.language()).toBe(lang)
    expect(i18n.preference()).toBe('')
  })

  test('without system information the interface is English', () => {
    const env = installWx()
    env.wx.getAppBaseInfo.mockImplementation(() => { throw new Error('not in WeChat') })
    i18n.refresh()
    expect(i18n.language()).toBe('en')
  })

  test('a pick is kept in storage and wins over the phone; none follows the phone again', () => {
    const env = installWx({ language: 'en_US' })
    expect(i18n.setLanguage('zh-CN')).toBe(true)
    expect(env.storage.get(i18n.STORAGE_KEY)).toBe('zh-CN')
    expect(i18n.language()).toBe('zh-CN')
    // the next start reads the same storage
    i18n.refresh()
    expect(i18n.language()).toBe('zh-CN')
    expect(i18n.t('tab.me')).toBe('我的')

    expect(i18n.setLanguage('')).toBe(true)
    expect(env.storage.has(i18n.STORAGE_KEY)).toBe(false)
    expect(i18n.language()).toBe('en')
  })

  test('anything but a known language is refused and changes nothing', () => {
    const env = installWx({ language: 'zh_CN' })
    i18n.setLanguage('en')
    ;['fr', 'zh', 'EN', null, undefined, 7].forEach(bad => expect(i18n.setLanguage(bad)).toBe(false))
    expect(env.storage.get(i18n.STORAGE_KEY)).toBe('en')
    // a stored value that is no language of ours is ignored
    env.storage.set(i18n.STORAGE_KEY, 'de')
    i18n.refresh()
    expect(i18n.preference()).toBe('')
    expect(i18n.language()).toBe('zh-CN')
  })
})

describe('t and section', () => {
  test('fill placeholders; one without a value stays; a missing key shows itself', () => {
    installWx({ language: 'en' })
    expect(i18n.t('recharge.payConfirm', { id: 'm-1', amount: '5.00' })).toBe('Pay ¥5.00 for meter m-1 with WeChat?')
    expect(i18n.t('recharge.payConfirm', { id: 'm-1' })).toBe('Pay ¥{amount} for meter m-1 with WeChat?')
    expect(i18n.t('no.such.key')).toBe('no.such.key')
    expect(i18n.t('device')).toBe('device')
    installWx({ language: 'zh_CN' })
    expect(i18n.t('recharge.payConfirm', { id: 'm-1', amount: '5.00' })).toBe('微信支付为电表 m-1 充值 ¥5.00？')
    expect(i18n.t('alarm.ackedBy', { who: 'op', time: '08:00' })).toBe('op 于 08:00 确认')
  })

  test('a section is the page\'s texts in the current language', () => {
    installWx({ language: 'en' })
    const s = i18n.section('device', { seconds: 5 })
    expect(s.refreshEvery).toBe('refreshed every 5 s')
    expect(s.cutOff).toMatch(/^The balance ran out/)
    expect(Object.keys(s)).toEqual(Object.keys(en.strings.device))
    expect(i18n.section('nothing')).toEqual({})
  })

  test('the language choices name each language in its own words', () => {
    installWx({ language: 'en' })
    expect(i18n.choices()).toEqual([{ key: '', label: 'System' }, { key: 'zh-CN', label: '简体中文' }, { key: 'en', label: 'English' }])
    installWx({ language: 'zh_CN' })
    expect(i18n.choices()[0].label).toBe('跟随系统')
  })

  test('the tab bar is set in the current language', () => {
    const env = installWx({ language: 'en' })
    i18n.applyTabBar()
    expect(env.tabBar).toEqual(['Meters', 'Alarms', 'Me'])
    i18n.setLanguage('zh-CN')
    i18n.applyTabBar()
    expect(env.tabBar).toEqual(['设备', '告警', '我的'])
  })
})

describe('server messages', () => {
  test.each([
    ['Invalid credentials', 401, '用户名或密码错误'],
    ['too many failed logins; try again in 42 seconds', 429, '登录失败次数过多，请 42 秒后再试'],
    ['something new the server says', 400, 'something new the server says'],
    ['', 401, '请重新登录'],
    [undefined, 403, '没有权限执行此操作'],
    [undefined, 503, '服务器暂时不可用（HTTP 503），请稍后重试'],
    [undefined, 418, '请求失败（HTTP 418）']
  ])('in Chinese %j (%i) reads %j', (message, status, shown) => {
    installWx({ language: 'zh_CN' })
    expect(messages.translate(message, status)).toBe(shown)
  })

  test.each([
    ['Invalid credentials', 401, 'Invalid credentials'],
    ['too many failed logins; try again in 42 seconds', 429, 'too many failed logins; try again in 42 seconds'],
    ['online payment is not configured on this server', 503, 'online payment is not configured on this server'],
    ['', 401, 'Please log in again'],
    [undefined, 404, 'Not found'],
    [undefined, 502, 'The server is unavailable (HTTP 502); try again shortly'],
    [undefined, 418, 'Request failed (HTTP 418)']
  ])('in English %j (%i) reads %j', (message, status, shown) => {
    installWx({ language: 'en' })
    expect(messages.translate(message, status)).toBe(shown)
  })
})

// --- no Chinese outside the Chinese table --------------------------------------------------

// The code without its comments: Chinese in a comment explains, it is never shown.
function withoutComments(src, ext) {
  if (ext === '.wxml') return src.replace(/<!--[\s\S]*?-->/g, '')
  const token = /'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`|\/\/[^\n]*|\/\*[\s\S]*?\*\//g
  return src.replace(token, t => (t[0] === '/' ? '' : t))
}

// [file, line, text] of every line with Chinese left in it.
function chineseIn(file, src) {
  const found = []
  withoutComments(src, path.extname(file)).split('\n').forEach((line, i) => {
    if (CJK.test(line)) found.push([file, i + 1, line.trim()])
  })
  return found
}

function sourceFiles(dir, out) {
  const list = out || []
  fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).forEach(e => {
    const rel = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (!['node_modules', 'miniprogram_npm', 'test'].includes(e.name)) sourceFiles(rel, list)
    } else if (/\.(js|wxml)$/.test(e.name)) {
      list.push(rel)
    }
  })
  return list
}

test('the scan finds Chinese in code and text, not in comments', () => {
  expect(chineseIn('a.js', "// 注释\nconst a = '中文'\n/* 注释 */ const b = 'x' // 注释")).toEqual([['a.js', 2, "const a = '中文'"]])
  expect(chineseIn('a.js', 'const u = "http://x" + `用`')).toHaveLength(1)
  expect(chineseIn('a.wxml', '<!-- 注释 -->\n<view>{{s.a}}</view>\n<text>电费</text>')).toEqual([['a.wxml', 3, '<text>电费</text>']])
})

test('no Chinese in the mini program\'s code and pages but in the Chinese table', () => {
  const files = sourceFiles('.')
  expect(files).toEqual(expect.arrayContaining(['app.js', 'utils/i18n.js', 'utils/messages.js', 'pages/me/index.wxml', 'pages/billing/index.js', ZH_TABLE]))
  const found = files.filter(f => f !== ZH_TABLE).flatMap(f => chineseIn(f, fs.readFileSync(path.join(ROOT, f), 'utf8')))
  expect(found).toEqual([])
  // and the table itself is found by the same scan
  expect(chineseIn(ZH_TABLE, fs.readFileSync(path.join(ROOT, ZH_TABLE), 'utf8')).length).toBeGreaterThan(150)
})
