// Shared helpers of the trust pages: JSON calls with the session's CSRF token, escaping.

export const $ = (id) => document.getElementById(id);

let csrf = sessionStorage.getItem('cb_csrf') || '';
export function setCsrf(t) {
  csrf = t || '';
  sessionStorage.setItem('cb_csrf', csrf);
}

/** Call the API; resolves to the JSON body (or null), rejects with the problem message. */
export async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(`/api/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await r.text();
  const data = text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : null;
  if (!r.ok) throw new Error((data && data.error && data.error.message) || `HTTP ${r.status}`);
  return data;
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export const fmtDate = (t) => (t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '–');

export function table(rows, cols) {
  const head = `<tr>${cols.map(([h]) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${cols.map(([, f]) => `<td>${f(r)}</td>`).join('')}</tr>`).join('');
  return `<table>${head}${body}</table>`;
}
