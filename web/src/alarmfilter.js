// The alarms page's list and its count kept in step with the live stream: pure, no DOM
// (unit-tested). Newest first by id; an alarm changed on the stream replaces its older self.
export function mergeAlarm(list, a) {
  const out = list.filter((x) => x.id !== a.id);
  out.push(a);
  return out.sort((x, y) => y.id - x.id);
}

// Whether an alarm passes the page's filters (the same ones the server applies to the list),
// so a changed alarm that no longer matches leaves the page.
export function matches(a, f) {
  if (f.state) {
    const states = f.state.split(',').flatMap((s) => (s === 'open' ? ['raised', 'acknowledged'] : [s]));
    if (!states.includes(a.state)) return false;
  }
  if (f.severity && a.severity !== f.severity) return false;
  if (f.device && a.device_id !== f.device) return false;
  if (f.site && a.site !== f.site) return false;
  const at = Date.parse(a.raised_at);
  if (f.since && at < Date.parse(f.since)) return false;
  if (f.until && at >= Date.parse(f.until)) return false;
  return true;
}

// The count of alarms that pass the filters (the list's `total`) after a change from the
// stream. The pages read hold every matching alarm from `floor` (the oldest id read; null
// once the last page is read) up, so there the count follows what enters and leaves the
// list. An older alarm may or may not be among those counted: the count stays as it is.
// A server without `total` (null) stays without.
export function totalAfter(total, list, a, f, floor) {
  if (total === null || (floor !== null && a.id < floor)) return total;
  const was = list.some((x) => x.id === a.id);
  return total + (matches(a, f) ? 1 : 0) - (was ? 1 : 0);
}
