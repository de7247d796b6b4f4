// The logged-in session: the JWT and the account, kept in sessionStorage (gone when the tab
// closes).
const KEY = 'smartmeter.session';

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

export const session = {
  token: () => load()?.token || null,
  user: () => load(), // {token, username, role}
  isStaff: () => ['operator', 'admin'].includes(load()?.role),
  isAdmin: () => load()?.role === 'admin',
  save: (token, username, role) => sessionStorage.setItem(KEY, JSON.stringify({ token, username, role })),
  clear: () => sessionStorage.removeItem(KEY),
};
