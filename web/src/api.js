// The REST API client (docs/api.md). Every call sends the session's token; every failure
// becomes an ApiError carrying the HTTP status and the server's own message, so pages can
// show it instead of swallowing it.
import { session } from './session.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the server could not be reached
  }
}

// Called with the error when a token is refused (401), so the app can go back to login.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function api(method, path, { body, query, headers } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const h = { Accept: 'application/json', ...headers };
  const token = session.token();
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, e.message || String(e));
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, `${res.status} ${res.statusText}`);
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.message) || `${res.status} ${res.statusText}`);
    if (res.status === 401 && token && path !== '/api/login') onUnauthorized(err);
    throw err;
  }
  return data;
}

// A file the API answers (a CSV statement): fetched with the token like every call, as
// {blob, filename} (the name from Content-Disposition, else the path's last part). An error
// answer is JSON and becomes an ApiError.
export async function download(path, query) {
  const q = new URLSearchParams(query).toString();
  const headers = {};
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(q ? `${path}?${q}` : path, { headers });
  } catch (e) {
    throw new ApiError(0, e.message || String(e));
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).message || message;
    } catch {
      // not JSON: keep the status line
    }
    const err = new ApiError(res.status, message);
    if (res.status === 401 && token) onUnauthorized(err);
    throw err;
  }
  const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
  return { blob: await res.blob(), filename: m ? m[1] : path.split('/').pop() };
}

const enc = encodeURIComponent;

export const Api = {
  login: (username, password) => api('POST', '/api/login', { body: { username, password } }),
  logout: () => api('POST', '/api/logout'),
  me: () => api('GET', '/api/me'),
  devices: () => api('GET', '/api/devices'),
  devicesPage: (query) => api('GET', '/api/devices', { query }),
  devicesSummary: () => api('GET', '/api/devices/summary'),
  device: (id) => api('GET', `/api/devices/${enc(id)}`),
  data: (id, query) => api('GET', `/api/device/data/${enc(id)}`, { query }),
  energy: (id, query) => api('GET', `/api/devices/${enc(id)}/energy`, { query }),
  demand: (id, limit = 12) => api('GET', `/api/devices/${enc(id)}/demand`, { query: { limit } }),
  ledger: (id, limit = 20) => api('GET', `/api/devices/${enc(id)}/ledger`, { query: { limit } }),
  recharge: (id, amount, key) =>
    api('POST', `/api/device/recharge/${enc(id)}`, { body: { amount }, headers: { 'Idempotency-Key': key } }),
  createDevice: (device_id, owner) => api('POST', '/api/devices', { body: { device_id, owner: owner || null } }),
  bind: (id, username) => api('POST', `/api/devices/${enc(id)}/bindings`, { body: { username } }),
  unbind: (id, username) => api('DELETE', `/api/devices/${enc(id)}/bindings/${enc(username)}`),
  users: () => api('GET', '/api/users'),
  createUser: (username, password, role) => api('POST', '/api/users', { body: { username, password, role } }),
  captures: (id) => api('GET', `/api/devices/${enc(id)}/captures`, { query: { limit: 10 } }),
  capture: (id, cid) => api('GET', `/api/devices/${enc(id)}/captures/${enc(cid)}`),
  captureSamples: (id, cid, decimate) =>
    api('GET', `/api/devices/${enc(id)}/captures/${enc(cid)}/samples`, { query: { decimate } }),
  requestCapture: (id, duration_ms) => api('POST', `/api/devices/${enc(id)}/captures`, { body: { duration_ms } }),
  stats: () => api('GET', '/api/stats'),
  relay: (id, relay, reason) => api('POST', `/api/devices/${enc(id)}/relay`, { body: { state: relay, reason } }),
  command: (id, cid) => api('GET', `/api/devices/${enc(id)}/commands/${enc(cid)}`),
  tariff: (id) => api('GET', `/api/devices/${enc(id)}/tariff`),
  setTariff: (id, periods, effective_from) =>
    api('PUT', `/api/devices/${enc(id)}/tariff`, { body: { periods, effective_from } }),
  siteTariff: () => api('GET', '/api/site/tariff'),
  setSiteTariff: (periods, effective_from) => api('PUT', '/api/site/tariff', { body: { periods, effective_from } }),
  billing: (id) => api('GET', `/api/devices/${enc(id)}/billing`),
  setBilling: (id, settings) => api('PUT', `/api/devices/${enc(id)}/billing`, { body: settings }),
  commands: (id, limit = 20) => api('GET', `/api/devices/${enc(id)}/commands`, { query: { limit } }),
  events: (id, limit = 20) => api('GET', `/api/devices/${enc(id)}/events`, { query: { limit } }),
  payments: (id, limit = 20) => api('GET', `/api/devices/${enc(id)}/payments`, { query: { limit } }),
  statement: (id, month) => download(`/api/devices/${enc(id)}/statement`, { month }),
  setMeta: (id, fields) => api('PATCH', `/api/devices/${enc(id)}`, { body: fields }),
  operation: (id, body) => api('POST', `/api/devices/${enc(id)}/operations`, { body }),
  alarms: (query) => api('GET', '/api/alarms', { query }),
  ackAlarm: (aid, note) => api('POST', `/api/alarms/${enc(aid)}/ack`, { body: note ? { note } : {} }),
  alarmRules: (id) => api('GET', `/api/devices/${enc(id)}/alarm-rules`),
  setAlarmRules: (id, rules) => api('PUT', `/api/devices/${enc(id)}/alarm-rules`, { body: { rules } }),
  calendar: () => api('GET', '/api/site/calendar'),
  setCalendar: (holidays, workdays) => api('PUT', '/api/site/calendar', { body: { holidays, workdays } }),
};
