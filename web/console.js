// The department console: who I am, grants (owners issue and revoke), the citizens'
// report queue, the audit of my department's data, tokens.

import { $, call, esc, fmtDate, table, setCsrf } from './trust.js';

const state = { me: null };
window.citybrainConsole = state; // for the browser tests

function say(id, text, ok) {
  $(id).textContent = text;
  $(id).className = `msg ${ok ? 'ok' : 'err'}`;
}

async function loadGrants() {
  const grants = await call('GET', 'grants');
  $('grants').innerHTML = grants.length ? table(grants, [
    ['id', (g) => esc(g.id)],
    ['dataset', (g) => esc(g.dataset)],
    ['owner', (g) => esc(g.owner)],
    ['grantee', (g) => esc(g.grantee)],
    ['purpose', (g) => esc(g.purpose)],
    ['expires', (g) => esc(fmtDate(g.expires))],
    ['state', (g) => (g.active ? 'active' : g.revoked ? 'revoked' : 'expired')],
    ['', (g) => (g.active && g.owner === state.me.department && state.me.role === 'admin'
      ? `<button data-revoke="${esc(g.id)}" data-testid="revoke-${esc(g.id)}">revoke</button>` : '')],
  ]) : '<p class="how">No grants.</p>';
  for (const b of $('grants').querySelectorAll('button[data-revoke]')) {
    b.addEventListener('click', async () => {
      try {
        await call('DELETE', `grants/${b.dataset.revoke}`);
        say('grant-msg', `grant ${b.dataset.revoke} revoked`, true);
      } catch (e) { say('grant-msg', e.message, false); }
      await loadGrants();
    });
  }
}

async function loadQueue() {
  try {
    const q = await call('GET', 'queue');
    $('queue').innerHTML = q.length ? table(q, [
      ['ticket', (t) => esc(t.number)],
      ['received', (t) => esc(fmtDate(t.created))],
      ['category', (t) => esc(t.category)],
      ['report', (t) => esc(t.text) + (t.photo_ref ? ` <span class="how">photo: ${esc(t.photo_ref)}</span>` : '')],
      ['place', (t) => (t.lon != null ? `${t.lon.toFixed(5)}, ${t.lat.toFixed(5)}` : '–')],
      ['status', (t) => esc(t.status)],
      ['answer', (t) => (t.answer ? esc(t.answer) : (state.me.role === 'viewer' ? '' :
        `<input data-answer="${esc(t.number)}" placeholder="answer to the citizen" size="24"><button data-send="${esc(t.number)}">send</button>`))],
    ]) : '<p class="how">No reports.</p>';
    for (const b of $('queue').querySelectorAll('button[data-send]')) {
      b.addEventListener('click', async () => {
        const input = $('queue').querySelector(`input[data-answer="${b.dataset.send}"]`);
        try { await call('POST', `tickets/${b.dataset.send}/answer`, { status: 'answered', answer: input.value }); } catch (e) { alert(e.message); }
        await loadQueue();
      });
    }
  } catch (e) { $('queue').innerHTML = `<p class="how">${esc(e.message)}</p>`; }
}

async function loadAudit() {
  try {
    const a = await call('GET', 'audit?limit=100');
    $('audit').innerHTML = table(a, [
      ['#', (r) => esc(r.seq)],
      ['time', (r) => esc(fmtDate(r.time))],
      ['what', (r) => esc(r.kind)],
      ['who', (r) => `${esc(r.actor || 'public')} <span class="how">${esc(r.department || '')}</span>`],
      ['dataset', (r) => esc(r.dataset || '')],
      ['purpose', (r) => esc(r.purpose || '')],
      ['detail', (r) => esc(r.detail)],
    ]);
  } catch (e) { $('audit').innerHTML = `<p class="how">${esc(e.message)}</p>`; }
}

async function loadTokens() {
  const t = await call('GET', 'tokens');
  $('tokens').innerHTML = t.length ? table(t, [
    ['id', (x) => esc(x.id)], ['account', (x) => esc(x.principal)], ['scopes', (x) => esc(x.scopes)],
    ['expires', (x) => esc(fmtDate(x.expires))], ['revoked', (x) => esc(fmtDate(x.revoked))], ['label', (x) => esc(x.label)],
  ]) : '<p class="how">No tokens.</p>';
}

async function main() {
  const me = await call('GET', 'auth/me');
  if (me.role === 'public') { location.href = 'login.html'; return; }
  if (me.csrf) setCsrf(me.csrf);
  state.me = me;
  $('me').textContent = `${me.principal} · ${me.department_name || me.department} · ${me.role}`;
  const cat = await call('GET', 'catalogue');
  const mine = cat.datasets.filter((d) => d.owner === me.department && (d.class === 'restricted' || d.class === 'personal'));
  const names = [...mine.map((d) => d.name), `tickets:${me.department}`];
  $('g-dataset').innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join('');
  $('grants-box').querySelector('form').hidden = me.role !== 'admin';
  $('grant-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const g = await call('POST', 'grants', {
        dataset: $('g-dataset').value, grantee: $('g-grantee').value.trim(), purpose: $('g-purpose').value.trim(),
        expires: Date.now() / 1000 + 86400 * Number($('g-days').value || 30),
      });
      say('grant-msg', `grant ${g.id} issued to ${g.grantee}`, true);
    } catch (err) { say('grant-msg', err.message, false); }
    await loadGrants();
  });
  $('logout').addEventListener('click', async (e) => {
    e.preventDefault();
    await call('POST', 'auth/logout').catch(() => {});
    setCsrf('');
    location.href = 'login.html';
  });
  await Promise.all([loadGrants(), loadQueue(), loadAudit(), loadTokens()]);
  document.body.dataset.ready = '1';
}

main().catch((e) => { $('me').textContent = e.message; });
