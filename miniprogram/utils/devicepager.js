// 设备列表分页：每页 20 台，按 next_cursor 取下一页；刷新时从各页自己的游标重读。
// The device list in pages (GET /api/devices?limit=&cursor=&q=&status=&balance_below=,
// docs/api.md): the cursor each loaded page started from is kept, so a refresh reads the same
// pages again (a keyset on device_id: a device added meanwhile never shifts the others), and
// an answer for filters replaced meanwhile is dropped.

const PAGE = 20
// What "in arrears" asks the list for: a balance at or below zero (yuan, two decimals).
const ARREARS_BELOW = '0.01'

function listQuery(filters, cursor, limit) {
  const f = filters || {}
  const q = { limit: limit || PAGE }
  if (cursor) q.cursor = cursor
  const search = String(f.q || '').trim()
  if (search) q.q = search.slice(0, 64)
  if (f.status) q.status = f.status
  if (f.alarms) q.alarms = 'open'
  if (f.arrears) q.balance_below = ARREARS_BELOW
  return q
}

// fetchPage(query) resolves {devices, total, nextCursor} (api.listDevicesPage).
function createPager(fetchPage, limit) {
  let filters = {}
  let cursors = []
  let pages = []
  let total = null
  let next = null
  let generation = 0
  let busy = null

  const state = () => ({
    devices: [].concat.apply([], pages),
    total,
    hasMore: next !== null,
    filters: Object.assign({}, filters)
  })
  const ask = cursor => fetchPage(listQuery(filters, cursor, limit))

  return {
    state,
    // The first page for these filters; the pages loaded before are dropped.
    reset(newFilters) {
      const g = ++generation
      busy = null
      if (newFilters) filters = Object.assign({}, newFilters)
      return ask(null).then(r => {
        if (g !== generation) return null
        cursors = [null]
        pages = [r.devices]
        total = r.total
        next = r.nextCursor
        return state()
      })
    },
    // The next page; null when there is none, one is on its way, or a reset came first.
    more() {
      if (next === null || busy) return Promise.resolve(null)
      const g = generation
      const cursor = next
      busy = ask(cursor).then(r => {
        busy = null
        if (g !== generation) return null
        cursors.push(cursor)
        pages.push(r.devices)
        total = r.total
        next = r.nextCursor
        return state()
      }, err => {
        busy = null
        throw err
      })
      return busy
    },
    // Every loaded page read again from its own cursor.
    refresh() {
      if (!cursors.length) return this.reset()
      const g = generation
      const snap = cursors.slice()
      const fresh = []
      let last = null
      return snap.reduce((p, c) => p.then(() => ask(c).then(r => { fresh.push(r.devices); last = r })), Promise.resolve())
        .then(() => {
          if (g !== generation) return null
          // A page reaching the bottom added meanwhile stays, with the cursor it left.
          const added = pages.slice(snap.length)
          pages = fresh.concat(added)
          total = last.total
          if (!added.length) next = last.nextCursor
          return state()
        })
    }
  }
}

module.exports = { PAGE, ARREARS_BELOW, listQuery, createPager }
