// What WeChat DevTools needs to open the folder as it is: a project file, app.json whose
// pages and tab bar exist, pages made with Component() whose WXML only binds handlers the
// page has, WXML and WXSS that Tencent's own compilers (wcc, wcsc from the
// miniprogram-compiler package) accept, and the npm layout that 构建 npm builds from.

const fs = require('fs')
const path = require('path')
const compiler = require('miniprogram-compiler')

const ROOT = path.join(__dirname, '..')
const readJson = f => JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'))
const app = readJson('app.json')
const project = readJson('project.config.json')
const pkg = readJson('package.json')

// The source files that end up in the mini program (not tests, not node_modules).
function sources(dir, ext, out) {
  const list = out || []
  fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).forEach(e => {
    const rel = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (!['node_modules', 'miniprogram_npm', 'test'].includes(e.name)) sources(rel, ext, list)
    } else if (rel.endsWith(ext)) {
      list.push(rel)
    }
  })
  return list
}

// The definition object a page passes to Component(), captured without a framework.
function definitionOf(page) {
  let captured = null
  const savedComponent = global.Component
  const savedWx = global.wx
  global.Component = def => { captured = def }
  global.wx = global.wx || {}
  try {
    jest.isolateModules(() => {
      require(path.join(ROOT, page + '.js'))
    })
  } finally {
    global.Component = savedComponent
    global.wx = savedWx
  }
  return captured
}

test('project.config.json: a mini program rooted here, placeholder appid, 构建 npm from package.json', () => {
  expect(project.compileType).toBe('miniprogram')
  expect(project.appid).toBe('touristappid')
  expect(path.resolve(ROOT, project.miniprogramRoot)).toBe(ROOT)
  // package.json sits beside app.json inside miniprogramRoot: DevTools' default npm build
  // finds it, and no manual relation list is needed.
  expect(project.setting.packNpmManually).toBe(false)
  expect(fs.existsSync(path.join(ROOT, 'package.json'))).toBe(true)
  expect(Object.keys(pkg.dependencies)).toEqual(['@qiun/ucharts'])
  // tests and docs stay out of the uploaded package
  const ignored = project.packOptions.ignore.map(i => i.type + ':' + i.value)
  expect(ignored).toEqual(expect.arrayContaining(['folder:test', 'folder:node_modules', 'file:README.md']))
})

test('every dependency version is pinned exactly', () => {
  const all = Object.assign({}, pkg.dependencies, pkg.devDependencies)
  Object.keys(all).forEach(name => expect(all[name]).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/))
  const lock = readJson('package-lock.json')
  expect(lock.lockfileVersion).toBe(3)
})

test('app.json: pages exist, the login page comes first, the tab bar points at pages', () => {
  expect(app.pages[0]).toBe('pages/login/index')
  app.pages.forEach(p => {
    ['.js', '.json', '.wxml', '.wxss'].forEach(ext => {
      expect(fs.existsSync(path.join(ROOT, p + ext))).toBe(true)
    })
  })
  const tabs = app.tabBar.list.map(t => t.pagePath)
  expect(tabs).toEqual(['pages/devices/index', 'pages/alarms/index', 'pages/me/index'])
  tabs.forEach(t => expect(app.pages).toContain(t))
  expect(app.tabBar.list.map(t => t.text)).toEqual(['设备', '告警', '我的'])
  expect(fs.existsSync(path.join(ROOT, app.sitemapLocation))).toBe(true)
  expect(fs.existsSync(path.join(ROOT, 'app.js'))).toBe(true)
  expect(fs.existsSync(path.join(ROOT, 'app.wxss'))).toBe(true)
})

test.each(app.pages)('%s is a Component() whose WXML binds only its own methods', page => {
  const def = definitionOf(page)
  expect(def).not.toBeNull()
  expect(typeof def.methods).toBe('object')
  const wxml = fs.readFileSync(path.join(ROOT, page + '.wxml'), 'utf8')
  const handlers = [...wxml.matchAll(/\b(?:bind|catch):?[a-z]+="([^"]+)"/g)].map(m => m[1])
  expect(handlers.length).toBeGreaterThan(0)
  handlers.forEach(h => expect(typeof def.methods[h]).toBe('function'))
  const json = readJson(page + '.json')
  expect(json.usingComponents).toEqual({})
})

test('Tencent wcc compiles every WXML file of the project', () => {
  const code = compiler.wxmlToJs(ROOT)
  // eslint-disable-next-line no-new-func
  const gwx = new Function(code)()
  app.pages.forEach(p => expect(typeof gwx(p + '.wxml')).toBe('function'))
})

test('Tencent wcsc compiles every WXSS file of the project', () => {
  const code = compiler.wxssToJs(ROOT)
  expect(code).toContain('pages/device/index.wxss')
  expect(code).toContain('app.wxss')
})

test('mini program code uses CommonJS and only relative modules or the npm chart library', () => {
  const files = sources('.', '.js').filter(f => !f.startsWith('test'))
  expect(files).toEqual(expect.arrayContaining(['app.js', 'config.js', 'utils/api.js', 'pages/device/index.js']))
  files.forEach(f => {
    const src = fs.readFileSync(path.join(ROOT, f), 'utf8')
    expect(src).not.toMatch(/^\s*(import|export)\s/m)
    const required = [...src.matchAll(/require\('([^']+)'\)/g)].map(m => m[1])
    required.forEach(r => expect(r.startsWith('.') || r === '@qiun/ucharts').toBe(true))
    // relative requires name the file with its extension, and it exists
    required.filter(r => r.startsWith('.')).forEach(r => {
      expect(r.endsWith('.js')).toBe(true)
      expect(fs.existsSync(path.join(ROOT, path.dirname(f), r))).toBe(true)
    })
  })
})
