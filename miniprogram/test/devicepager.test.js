// utils/devicepager.js on its own: the query, the cursors of the pages in view, and a page
// added while a refresh runs.
const pager = require('../utils/devicepager.js')

const FLEET = Array.from({ length: 45 }, (_, i) => ({ device_id: 'm-' + String(i).padStart(3, '0') }))

function fetchFrom(fleet, asked) {
  return q => {
    asked.push(Object.assign({}, q))
    const rows = fleet.filter(d => !q.cursor || d.device_id > q.cursor)
    const page = rows.slice(0, q.limit)
    return Promise.resolve({ devices: page, total: fleet.length, nextCursor: rows.length > q.limit ? page[page.length - 1].device_id : null })
  }
}

test('the query carries a limit and only the filters set', () => {
  expect(pager.listQuery({}, null)).toEqual({ limit: 20 })
  expect(pager.listQuery({ q: ' pump ', status: 'offline', alarms: true, arrears: true }, 'c1', 20))
    .toEqual({ limit: 20, cursor: 'c1', q: 'pump', status: 'offline', alarms: 'open', balance_below: '0.01' })
})

test('pages follow the cursor; a refresh reads each again from its own', async () => {
  const asked = []
  const p = pager.createPager(fetchFrom(FLEET, asked), 20)
  expect((await p.reset({})).devices).toHaveLength(20)
  expect((await p.more()).devices).toHaveLength(40)
  const last = await p.more()
  expect(last.devices.map(d => d.device_id)).toEqual(FLEET.map(d => d.device_id))
  expect(last.hasMore).toBe(false)
  expect(await p.more()).toBeNull()
  asked.length = 0
  expect((await p.refresh()).devices).toHaveLength(45)
  expect(asked.map(q => q.cursor)).toEqual([undefined, 'm-019', 'm-039'])
})

test('a page added while a refresh runs stays, and the next one follows it', async () => {
  const asked = []
  const plain = fetchFrom(FLEET, asked)
  let hold = null
  const p = pager.createPager(q => (hold && !q.cursor ? hold.then(() => plain(q)) : plain(q)), 20)
  await p.reset({})
  let release
  hold = new Promise(resolve => { release = resolve })
  const refreshing = p.refresh()
  expect((await p.more()).devices).toHaveLength(40)
  release()
  const after = await refreshing
  expect(after.devices.map(d => d.device_id)).toEqual(FLEET.slice(0, 40).map(d => d.device_id))
  hold = null
  const next = await p.more()
  expect(next.devices).toHaveLength(45)
  expect(new Set(next.devices.map(d => d.device_id)).size).toBe(45)
})

test('an answer for filters replaced meanwhile is dropped', async () => {
  const asked = []
  const plain = fetchFrom(FLEET, asked)
  let release
  const hold = new Promise(resolve => { release = resolve })
  let first = true
  const p = pager.createPager(q => {
    if (first) { first = false; return hold.then(() => plain(q)) }
    return plain(q)
  }, 20)
  const old = p.reset({})
  const now = await p.reset({ q: 'm-04' })
  release()
  expect(await old).toBeNull()
  expect(now.filters.q).toBe('m-04')
  expect(p.state().filters.q).toBe('m-04')
})
