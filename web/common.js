// Shared by the pages: the JSON API with CSRF tokens, and safe rendering
// (textContent only: no HTML is ever built from data).
'use strict';

const PC = {
  // The path the pages are served under: "" for /login, "/.portcullis" for
  // /.portcullis/login (PORTCULLIS_PATH_PREFIX); every API path and link
  // the pages build starts with it.
  base: location.pathname.replace(/\/[^/]*$/, ''),

  csrfCookie() {
    for (const part of document.cookie.split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === '__Host-portcullis_csrf') return v;
    }
    return null;
  },

  // fresh: ask for a new token even with one in the cookie (signed out,
  // the cookie's token may be bound to the session that ended)
  async csrf(fresh = false) {
    const have = PC.csrfCookie();
    if (have && !fresh) return have;
    const r = await fetch(PC.base + '/api/v1/auth/csrf-token', { credentials: 'same-origin' });
    const j = await r.json();
    return j.csrf_token;
  },

  // -> {status, data}; data is the parsed JSON body or null
  async api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-CSRF-Token'] = await PC.csrf();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path.startsWith('/') ? PC.base + path : path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    const t = r.headers.get('Content-Type') || '';
    if (t.includes('json')) data = await r.json().catch(() => null);
    return { status: r.status, data };
  },

  status(text, error = false) {
    const el = document.getElementById('status');
    el.textContent = text || '';
    el.classList.toggle('error', !!error);
  },

  problem(res) {
    return (res.data && (res.data.detail || res.data.title)) || `Request failed (${res.status}).`;
  },

  el(tag, text, attrs = {}) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  },

  button(label, onClick, aria) {
    const b = PC.el('button', label, { type: 'button' });
    if (aria) b.setAttribute('aria-label', aria);
    b.addEventListener('click', onClick);
    return b;
  },

  time(s) {
    if (!s) return '—';
    const d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  },
};
