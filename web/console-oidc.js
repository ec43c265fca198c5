// The console's OpenID Connect parts: the applications you allowed (revoke
// one: it asks again next time) and, for admins, the clients (add one: its
// secret is shown once; delete). Text only: no HTML is built from data.
'use strict';

(() => {
  const lines = (s) => s.split('\n').map((x) => x.trim()).filter((x) => x !== '');
  const tbody = (id) => document.querySelector(`#${id} tbody`);

  function cells(values) {
    const tr = document.createElement('tr');
    for (const v of values) {
      const td = document.createElement('td');
      if (v instanceof Node) td.append(v);
      else td.textContent = v === null || v === undefined || v === '' ? '—' : String(v);
      tr.append(td);
    }
    return tr;
  }

  async function loadConsents() {
    const res = await PC.api('GET', '/api/v1/oidc/consents');
    if (res.status !== 200) return;
    tbody('consents').replaceChildren(...res.data.consents.map((c) => cells([
      c.client_name || c.client_id, c.scope, new Date(c.created_at * 1000).toISOString().slice(0, 16).replace('T', ' '),
      PC.button('Revoke', async () => {
        const r = await PC.api('DELETE', `/api/v1/oidc/consents/${c.client_id}`);
        PC.status(r.status === 204 ? `${c.client_name || c.client_id} will ask again.` : PC.problem(r), r.status !== 204);
        loadConsents();
      }, `Revoke ${c.client_name || c.client_id}`),
    ])));
  }

  async function loadClients() {
    const res = await PC.api('GET', '/api/v1/oidc/clients');
    if (res.status !== 200) return; // members: the section stays hidden
    document.getElementById('oidc-clients').hidden = false;
    tbody('clients').replaceChildren(...res.data.clients.map((c) => cells([
      c.name, PC.el('code', c.client_id), `${c.client_type}${c.first_party ? ', first-party' : ''}${c.require_mfa ? ', mfa' : ''}, ${c.alg}`,
      c.redirect_uris.join(' '), c.allowed_groups.join(', '),
      PC.button('Delete', async () => {
        if (!confirm(`Delete the client ${c.name}? Its users can no longer sign in to it.`)) return;
        const r = await PC.api('DELETE', `/api/v1/oidc/clients/${c.client_id}`);
        PC.status(r.status === 204 ? `${c.name} deleted.` : PC.problem(r), r.status !== 204);
        loadClients();
      }, `Delete client ${c.name}`),
    ])));
  }

  document.getElementById('add-client').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      name: document.getElementById('client-name').value.trim(),
      redirect_uris: lines(document.getElementById('client-redirects').value),
      post_logout_redirect_uris: lines(document.getElementById('client-logout').value),
      allowed_groups: document.getElementById('client-groups').value.split(/[\s,]+/).filter((g) => g !== ''),
      public: document.getElementById('client-public').checked,
      first_party: document.getElementById('client-first-party').checked,
      require_mfa: document.getElementById('client-mfa').checked,
      alg: document.getElementById('client-alg').value,
    };
    const res = await PC.api('POST', '/api/v1/oidc/clients', body);
    if (res.status !== 201) {
      PC.status(PC.problem(res), true);
      return;
    }
    const box = document.getElementById('new-client');
    document.getElementById('new-client-value').textContent = res.data.client_secret
      ? `client_id: ${res.data.client_id}\nclient_secret: ${res.data.client_secret}`
      : `client_id: ${res.data.client_id} (public: no secret)`;
    box.hidden = false;
    e.target.reset();
    PC.status(`${res.data.name} added.`);
    loadClients();
  });

  // only once admin.js has found a session (it fills #whoami): a signed-out
  // visitor is sent to the login page and must not see requests fail here
  const who = document.getElementById('whoami');
  let started = false;
  const start = () => {
    if (started || !who.textContent.startsWith('Signed in')) return;
    started = true;
    loadConsents();
    loadClients();
  };
  new MutationObserver(start).observe(who, { childList: true, characterData: true, subtree: true });
  start();
})();
