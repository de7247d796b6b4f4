// Loads the mini program's pages with miniprogram-simulate (WXML compiled by the official
// wcc compiler that the miniprogram-compiler package ships) and reads what they show.

const path = require('path')
const simulate = require('miniprogram-simulate')

const ROOT = path.join(__dirname, '..', '..')
const loaded = {}

// A page's component definition is registered once per test file (jest keeps the module
// registry per file, so the page's Component() call runs only on its first load). The root
// is the project's, so wcc compiles every page's WXML together, as DevTools does.
function pageId(name) {
  if (!loaded[name]) loaded[name] = simulate.load(path.join(ROOT, 'pages', name, 'index'), { rootPath: ROOT })
  return loaded[name]
}

// A fresh rendered instance of a page, attached to a document node.
function render(name) {
  const comp = simulate.render(pageId(name))
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

// Text of the first node matching selector (an id or class as in the WXML), or null.
function text(comp, selector) {
  const node = comp.querySelector(selector)
  return node ? node.dom.textContent.replace(/\s+/g, ' ').trim() : null
}

// Text of every node matching selector.
function texts(comp, selector) {
  return comp.querySelectorAll(selector).map(n => n.dom.textContent.replace(/\s+/g, ' ').trim())
}

// The whole page as text, to check that something is shown anywhere on it.
function pageText(comp) {
  return comp.dom.textContent.replace(/\s+/g, ' ').trim()
}

// j-component delivers events asynchronously; this waits until the handler has run and the
// promise callbacks it started have settled (the wx mocks answer in microtasks).
function settle() {
  return new Promise(resolve => setTimeout(resolve, 0))
}

// Types into an <input> the way the framework reports it (bindinput, e.detail.value).
function type(comp, selector, value) {
  comp.querySelector(selector).dispatchEvent('input', { detail: { value } })
  return settle()
}

// Taps a node (bindtap).
function tap(comp, selector) {
  comp.querySelector(selector).dispatchEvent('tap')
  return settle()
}

module.exports = { ROOT, render, text, texts, pageText, type, tap, simulate }
