// The admin console: who you are, your sessions, users (an admin changes
// their role, groups and state; a member sees their own profile), API keys,
// access rules (admins), audit.
'use strict';

let me = null;
let auditCursor = null;

function fail(res) {
  if (res.status === 401) {
    location.assign(PC.base + '/login?rd=' + encodeURIComponent(PC.base + '/admin'));
    return true;
  }
  if (res.status >= 400) {
    PC.status(PC.problem(res), true);
    return true;
  }
  return false;
}

function fill(tableId, rows) {
  const tbody = document.querySelector(`#${tableId} tbody`);
  tbody.replaceChildren(...rows);
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c);
    else if (Array.isArray(c)) td.append(...c);
    else td.textContent = c === null || c === undefined ? '—' : String(c);
    tr.append(td);
  }
  return tr;
}

async function loadSessions() {
  const res = await PC.api('GET', '/api/v1/sessions');
  if (fail(res)) return;
  fill('sessions', res.data.sessions.map((s) => row([
    PC.time(s.created_at), PC.time(s.last_seen_at), s.client_address, s.user_agent,
    s.current ? PC.el('span', 'this session', { class: 'muted' })
      : PC.button('End', async () => {
        const r = await PC.api('DELETE', `/api/v1/sessions/${s.id}`);
        if (!fail(r)) { PC.status('Session ended.'); loadSessions(); loadAudit(true); }
      }, `End session from ${s.client_address}`),
  ])));
}

// One user's change by an admin (PATCH); reloads the list and the trail.
async function patchUser(u, body, done) {
  const r = await PC.api('PATCH', `/api/v1/users/${u.id}`, body);
  if (fail(r)) { loadUsers(); return; }
  PC.status(done);
  loadUsers();
  loadAudit(true);
}

function groupsText(groups) {
  return groups && groups.length ? groups.join(', ') : '—';
}

// An admin's controls for one user: role, groups, enabled or not.
function adminCells(u) {
  const role = PC.el('select', null, { 'aria-label': `Role of ${u.email}` });
  for (const r of ['member', 'admin']) {
    const o = PC.el('option', r, { value: r });
    if (u.role === r) o.selected = true;
    role.append(o);
  }
  role.addEventListener('change', () => patchUser(u, { role: role.value }, `${u.email} is now ${role.value === 'admin' ? 'an admin' : 'a member'}.`));
  const groups = PC.el('input', null, { id: `groups-${u.id}`, placeholder: 'ops, staff', size: '14' });
  groups.value = (u.groups || []).join(', ');
  const label = PC.el('label', `Groups of ${u.email}`, { for: groups.id, class: 'sr-only' });
  const save = PC.button('Save', () => {
    const list = groups.value.split(/[\s,]+/).filter((g) => g !== '');
    patchUser(u, { groups: list }, `Groups of ${u.email} saved.`);
  }, `Save groups of ${u.email}`);
  const state = PC.button(u.disabled ? 'Enable' : 'Disable', () => {
    if (!u.disabled && !confirm(`Disable ${u.email}? Their sessions and tokens end now.`)) return;
    patchUser(u, { disabled: !u.disabled }, `${u.email} ${u.disabled ? 'enabled' : 'disabled'}.`);
  }, `${u.disabled ? 'Enable' : 'Disable'} ${u.email}`);
  return [role, [label, groups, save], [PC.el('span', u.disabled ? 'disabled ' : 'enabled ', { class: u.disabled ? 'bad' : 'muted' }), state]];
}

async function loadUsers() {
  const admin = me && me.role === 'admin';
  document.getElementById('add-user').hidden = !admin;
  document.getElementById('users-title').textContent = admin ? 'Users' : 'Your profile';
  if (!admin) {
    // a member sees their own profile only
    const res = await PC.api('GET', `/api/v1/users/${me.user_id}`);
    if (fail(res)) return;
    const u = res.data.user;
    fill('users', [row([u.email, u.role, groupsText(u.groups), u.disabled ? 'disabled' : 'enabled', PC.time(u.created_at), null])]);
    return;
  }
  const res = await PC.api('GET', '/api/v1/users');
  if (fail(res)) return;
  fill('users', res.data.users.map((u) => row([u.name ? `${u.email} (${u.name})` : u.email, ...adminCells(u), PC.time(u.created_at), [
    PC.button('Name', async () => {
      // the display name apps receive as X-Auth-Name; empty removes it
      const n = prompt(`Display name for ${u.email} (sent to apps as X-Auth-Name; empty for none)`, u.name || '');
      if (n === null) return;
      const r = await PC.api('PATCH', `/api/v1/users/${u.id}`, { name: n.trim() });
      if (!fail(r)) { PC.status('Name saved.'); loadUsers(); loadAudit(true); }
    }, `Set the display name of ${u.email}`),
    PC.button('Reset token', async () => {
      const r = await PC.api('POST', `/api/v1/users/${u.id}/password-reset`);
      if (fail(r)) return;
      const p = document.getElementById('reset-token');
      p.hidden = false;
      // the link opens the reset page (the token rides in its fragment);
      // without PORTCULLIS_PUBLIC_URL there is only the token
      p.textContent = r.data.link
        ? `Reset link for ${u.email} (1 hour, once; hand it to them): ${r.data.link}`
        : `One-time reset token for ${u.email} (1 hour): ${r.data.token}`;
      loadAudit(true);
    }, `Issue a reset token for ${u.email}`),
    PC.button('Remove 2FA', async () => {
      if (!confirm(`Remove every second factor of ${u.email} and sign them out everywhere? (For a lost authenticator.)`)) return;
      const r = await PC.api('DELETE', `/api/v1/users/${u.id}/factors`);
      if (r.status === 404) { PC.status(`${u.email} has no second factor.`); return; }
      if (!fail(r)) { PC.status(`Second factors of ${u.email} removed; their sessions ended.`); loadAudit(true); }
    }, `Remove the second factors of ${u.email}`),
    PC.button('Delete', async () => {
      if (!confirm(`Delete ${u.email}?`)) return;
      const r = await PC.api('DELETE', `/api/v1/users/${u.id}`);
      if (!fail(r)) { PC.status('User deleted.'); loadUsers(); loadAudit(true); }
    }, `Delete ${u.email}`),
  ]])));
}

async function loadKeys() {
  const res = await PC.api('GET', '/api/v1/api-keys');
  if (fail(res)) return;
  fill('keys', res.data.api_keys.map((k) => row([k.name, k.prefix, PC.time(k.created_at),
    PC.time(k.expires_at), PC.time(k.last_used_at), [
      PC.button('Rename', async () => {
        const name = prompt('New name', k.name);
        if (!name) return;
        const r = await PC.api('PATCH', `/api/v1/api-keys/${k.id}`, { name });
        if (!fail(r)) { loadKeys(); loadAudit(true); }
      }, `Rename key ${k.name}`),
      PC.button('Delete', async () => {
        if (!confirm(`Delete key ${k.name}?`)) return;
        const r = await PC.api('DELETE', `/api/v1/api-keys/${k.id}`);
        if (!fail(r)) { PC.status('Key deleted.'); loadKeys(); loadAudit(true); }
      }, `Delete key ${k.name}`),
    ]])));
}

async function loadAudit(reset) {
  if (reset) auditCursor = null;
  const q = new URLSearchParams({ limit: '20' });
  const action = document.getElementById('audit-action').value.trim();
  if (action) q.set('action', action);
  if (auditCursor) q.set('cursor', auditCursor);
  const res = await PC.api('GET', '/api/v1/audit?' + q.toString());
  if (fail(res)) return;
  const rows = res.data.events.map((e) => row([PC.time(e.time), e.action,
    `${e.resource_type} ${e.resource_id}`.trim(), e.actor.email || e.actor.auth_method, e.actor.client_address]));
  const tbody = document.querySelector('#audit tbody');
  if (reset) tbody.replaceChildren(...rows); else tbody.append(...rows);
  auditCursor = res.data.next_cursor;
  document.getElementById('audit-more').hidden = !auditCursor;
}

// The access rules in force (read-only) and "check access", which asks the
// server to decide a request exactly as /verify does. Administrators only:
// for anyone else the section goes away.
async function loadAccess() {
  const res = await PC.api('GET', '/api/v1/access/rules');
  if (res.status === 403 || res.status === 404) {
    document.getElementById('access').hidden = true;
    return;
  }
  if (fail(res)) return;
  document.getElementById('access-file').textContent = res.data.file
    ? `From ${res.data.file} (reloaded on SIGHUP). The first rule that matches decides; no match: deny.`
    : 'No rules file (PORTCULLIS_ACCESS_RULES_FILE): any signed-in user may pass.';
  fill('access-rules', res.data.rules.map((r) => row([r.line || '—', PC.el('code', r.text)])));
}

document.getElementById('access-check').addEventListener('submit', async (e) => {
  e.preventDefault();
  const v = (id) => document.getElementById(id).value.trim();
  const body = { url: v('check-url'), method: v('check-method'), factors: Number(v('check-factors')) };
  if (v('check-user')) body.user = v('check-user');
  if (v('check-groups')) body.groups = v('check-groups');
  if (v('check-addr')) body.addr = v('check-addr');
  const r = await PC.api('POST', '/api/v1/access/check', body);
  const out = document.getElementById('access-result');
  if (r.status !== 200) {
    out.textContent = PC.problem(r);
    return;
  }
  out.textContent = `${r.data.allowed ? 'Allowed' : 'Not allowed'}: ${r.data.outcome} (${r.data.detail})`;
});

document.getElementById('logout').addEventListener('click', async () => {
  await PC.api('POST', '/api/v1/auth/logout');
  location.assign(PC.base + '/login');
});

document.getElementById('end-others').addEventListener('click', async () => {
  const r = await PC.api('DELETE', '/api/v1/sessions');
  if (!fail(r)) {
    PC.status('Other sessions ended. Your devices too.');
    loadSessions();
    loadAudit(true);
    document.dispatchEvent(new Event('pc:sessions-changed')); // console-account.js: devices
  }
});

document.getElementById('add-user').addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = document.getElementById('user-email').value;
  const password = document.getElementById('user-password').value;
  const role = document.getElementById('user-role').value;
  const r = await PC.api('POST', '/api/v1/users', { email, password, role });
  if (fail(r)) return;
  e.target.reset();
  PC.status(`Added ${r.data.user.email}.`);
  loadUsers();
  loadAudit(true);
});

document.getElementById('add-key').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = { name: document.getElementById('key-name').value };
  const exp = document.getElementById('key-expiry').value;
  if (exp) body.expires_at = `${exp}T23:59:59Z`;
  const r = await PC.api('POST', '/api/v1/api-keys', body);
  if (fail(r)) return;
  e.target.reset();
  document.getElementById('new-key').hidden = false;
  document.getElementById('new-key-value').textContent = r.data.key;
  document.getElementById('copy-key').focus();
  loadKeys();
  loadAudit(true);
});

document.getElementById('copy-key').addEventListener('click', async () => {
  const v = document.getElementById('new-key-value').textContent;
  try {
    await navigator.clipboard.writeText(v);
    PC.status('Key copied.');
  } catch {
    PC.status('Copy failed: select the key and copy it by hand.', true);
  }
});

document.getElementById('audit-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadAudit(true);
});
document.getElementById('audit-more').addEventListener('click', () => loadAudit(false));

(async () => {
  const res = await PC.api('GET', '/api/v1/auth/me');
  if (fail(res)) return;
  me = res.data;
  document.dispatchEvent(new Event('pc:signed-in')); // console-account.js loads then, never signed out
  document.getElementById('whoami').textContent = `Signed in as ${me.email} (${me.role || me.auth_method})`;
  await Promise.all([loadSessions(), loadUsers(), loadKeys(), loadAccess(), loadAudit(true)]);
})();
