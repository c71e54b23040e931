// The dashboard's incident layer: the event list (newest first), event markers and unit
// positions drawn over the network map, and an event's detail with its timeline and its
// sources, where the operator verifies, rejects, merges or closes it.

const KIND_COLOR = { police: '#58a6ff', ambulance: '#ffffff', tow_truck: '#d29922', fire_engine: '#f85149' };
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

export class EventsLayer {
  constructor(map, els, fmtTime) {
    this.map = map;
    this.els = els; // {list, detail, operator}
    this.fmtTime = fmtTime;
    this.events = [];
    this.units = [];
    this.selected = null;
    this.refreshes = 0;
    map.overlay = (g, m) => this.draw(g, m);
  }

  async get(path) {
    const r = await fetch(`/api/v1/${path}`);
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }

  async refresh() {
    const [ev, un] = await Promise.all([this.get('events?status=all&limit=100'), this.get('units')]);
    this.events = ev.events;
    this.units = un.units;
    this.refreshes += 1;
    this.renderList();
    this.map.dirty = true;
    if (this.selected != null) await this.open(this.selected, false);
  }

  start(periodMs = 2000) {
    const tick = () => this.refresh().catch((e) => console.error(e)).finally(() => setTimeout(tick, periodMs));
    tick();
  }

  renderList() {
    const open = this.events.filter((e) => !['closed', 'rejected', 'merged'].includes(e.status));
    const rows = this.events.slice(0, 30).map((e) => `<tr data-event="${e.id}" class="ev ${esc(e.status)}${e.penalises ? ' penalty' : ''}">
      <td>${e.id}</td><td>${esc(e.type.replace(/_/g, ' '))}</td><td>${esc(e.status.replace('_', ' '))}</td>
      <td>${Math.round(e.confidence * 100)}%</td><td>${esc(e.unit || '')}</td></tr>`).join('');
    this.els.list.innerHTML = `<p class="hint">${open.length} open · ${this.units.filter((u) => u.status !== 'available').length}/${this.units.length} units busy</p>
      <table class="events"><tr><th>#</th><th>type</th><th>status</th><th>conf.</th><th>unit</th></tr>${rows}</table>`;
    for (const tr of this.els.list.querySelectorAll('tr[data-event]')) {
      tr.addEventListener('click', () => this.open(Number(tr.dataset.event)).catch((e) => console.error(e)));
    }
  }

  async open(id, scroll = true) {
    this.selected = id;
    const d = await this.get(`events/${id}`);
    const e = d.event;
    const t = (s) => this.fmtTime(s);
    const el = this.els.detail;
    el.hidden = false;
    el.dataset.event = String(id);
    el.dataset.status = e.status;
    const others = this.events.filter((x) => x.id !== id && !['closed', 'rejected', 'merged'].includes(x.status));
    el.innerHTML = `<h2>Event ${e.id}: ${esc(e.type.replace(/_/g, ' '))} — <span data-testid="event-status">${esc(e.status)}</span></h2>
      <p>${e.road ? 'road ' + esc(e.road) + ' · ' : ''}confidence ${Math.round(e.confidence * 100)}% · sources ${esc(e.sources.join(', '))}
      ${e.penalises ? '<br><b>Could penalise a person: an operator must verify it.</b>' : ''}
      ${e.verified_by ? '<br>verified by ' + esc(e.verified_by) : ''}${e.unit ? ' · unit ' + esc(e.unit) : ''}</p>
      <div class="ops">
        <button data-op="verify">verify</button><button data-op="reject">reject</button>
        <select data-testid="merge-into"><option value="">merge into…</option>${others.map((x) => `<option value="${x.id}">#${x.id} ${esc(x.type)}</option>`).join('')}</select>
        <button data-op="merge">merge</button><button data-op="close">close</button>
      </div>
      <p class="msg" data-testid="op-message"></p>
      <h2>Timeline</h2><table class="timeline">${d.timeline.map((x) => `<tr><td>${t(x.time)}</td><td>${esc(x.to)}</td><td>${esc(x.actor_kind)}:${esc(x.actor)}</td><td>${esc(x.note)}</td></tr>`).join('')}</table>
      <h2>Sources</h2><table class="sources">${d.sources.map((s) => `<tr><td>${t(s.time)}</td><td>${esc(s.source)}</td><td>${esc(s.origin)}</td><td>${esc(s.type)}</td><td>${Math.round(s.confidence * 100)}%</td><td>${esc(s.reference || s.text)}</td></tr>`).join('')}</table>`;
    for (const b of el.querySelectorAll('button[data-op]')) b.addEventListener('click', () => this.act(id, b.dataset.op).catch((x) => console.error(x)));
    if (scroll) el.scrollIntoView({ block: 'nearest' });
  }

  async act(id, op) {
    const body = { operator: this.els.operator.value.trim() || undefined };
    if (op === 'merge') body.into = Number(this.els.detail.querySelector('select').value) || undefined;
    if (op === 'reject') body.note = 'rejected from the dashboard';
    if (this.csrf === undefined) {
      const me = await fetch('/api/v1/auth/me').then((x) => (x.ok ? x.json() : null)).catch(() => null);
      this.csrf = me && me.csrf ? me.csrf : null;
    }
    const headers = { 'Content-Type': 'application/json' };
    if (this.csrf) headers['X-CSRF-Token'] = this.csrf;
    const r = await fetch(`/api/v1/events/${id}/${op}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const out = await r.json().catch(() => ({}));
    const msg = r.ok ? `${op}: done` : (out.error ? out.error.message : `HTTP ${r.status}`);
    await this.refresh();
    if (op === 'merge' && r.ok) await this.open(body.into);
    this.els.detail.querySelector('[data-testid="op-message"]').textContent = msg;
  }

  draw(g, m) {
    for (const e of this.events) {
      if (['closed', 'rejected', 'merged'].includes(e.status)) continue;
      const [x, y] = m.toScreen(e.x, e.y);
      g.fillStyle = e.penalises ? '#d29922' : '#f85149';
      g.beginPath(); g.moveTo(x, y - 9); g.lineTo(x + 8, y + 6); g.lineTo(x - 8, y + 6); g.closePath(); g.fill();
      if (e.id === this.selected) { g.strokeStyle = '#fff'; g.lineWidth = 2; g.stroke(); }
    }
    for (const u of this.units) {
      const [x, y] = m.toScreen(u.x, u.y);
      g.fillStyle = KIND_COLOR[u.kind] || '#8b949e';
      g.fillRect(x - 4, y - 4, 8, 8);
      if (u.status !== 'available') { g.strokeStyle = '#fff'; g.lineWidth = 1; g.strokeRect(x - 5, y - 5, 10, 10); }
    }
  }
}
