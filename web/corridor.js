// The dashboard's green-corridor layer: a form that starts a corridor (emergency
// services' operators), the list of corridors with the ETA at each signal, and on the
// map the route highlighted, its signals coloured by stage and the vehicle with its ETA.

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const STAGE_COLOR = { ahead: '#8b949e', called: '#3fb950', recovering: '#d29922', done: '#30363d' };
export const ROUTE_COLOR = '#ff2bd6';
export const VEHICLE_COLOR = '#00e5ff';

export class CorridorLayer {
  constructor(map, els) {
    this.map = map;
    this.els = els; // {list, form, message}
    this.corridors = [];
    this.details = new Map();
    this.refreshes = 0;
    this.denied = false;
    const prev = map.overlay;
    map.overlay = (g, m) => { if (prev) prev(g, m); this.draw(g, m); };
    els.form.addEventListener('submit', (e) => { e.preventDefault(); this.request().catch((x) => this.say(x.message)); });
  }

  say(msg) { this.els.message.textContent = msg; }

  async get(path) {
    const r = await fetch(`/api/v1/${path}`);
    if (r.status === 401 || r.status === 403) { this.denied = true; return null; }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    this.denied = false;
    return r.json();
  }

  async refresh() {
    const list = await this.get('corridors');
    if (!list) { this.els.list.innerHTML = '<p class="hint">Log in as emergency services or traffic staff to see corridors.</p>'; return; }
    this.corridors = list.corridors;
    const live = this.corridors.filter((c) => c.status === 'active' || c.status === 'planned' || !c.recovered);
    const details = await Promise.all(live.slice(-5).map((c) => this.get(`corridors/${c.id}`)));
    this.details = new Map(details.filter(Boolean).map((d) => [d.id, d]));
    this.refreshes += 1;
    this.render();
    this.map.dirty = true;
  }

  run(periodMs = 1000) {
    const tick = () => this.refresh().catch((e) => console.error(e)).finally(() => setTimeout(tick, periodMs));
    tick();
  }

  render() {
    const rows = this.corridors.slice(-8).reverse().map((c) => {
      const d = this.details.get(c.id);
      const sig = d ? d.signals.map((s) => `<span class="sig ${esc(s.stage)}" title="${esc(s.intersection)}">${esc(s.intersection)}: ${s.eta_s != null ? Math.round(s.eta_s) + ' s' : esc(s.stage)}</span>`).join(' ') : '';
      return `<tr data-corridor="${c.id}"><td>${c.id}</td><td>${esc(c.vehicle.replace('_', ' '))} p${c.priority}</td><td>${esc(c.status)}</td>
        <td data-testid="corridor-eta">${c.eta_s != null ? Math.round(c.eta_s) + ' s' : (c.travel_time_s != null ? 'took ' + Math.round(c.travel_time_s) + ' s' : '')}</td>
        <td>${esc(c.requester)}</td></tr>${sig ? `<tr class="sigs"><td colspan="5">${sig}</td></tr>` : ''}`;
    }).join('');
    this.els.list.innerHTML = `<table class="events corridors">${rows}</table>`;
  }

  async request() {
    const f = this.els.form;
    const body = {
      origin: f.origin.value.trim(), destination: f.destination.value.trim(), vehicle: f.vehicle.value,
      priority: Number(f.priority.value), reason: f.reason.value.trim(),
    };
    if (this.csrf === undefined) {
      const me = await fetch('/api/v1/auth/me').then((x) => (x.ok ? x.json() : null)).catch(() => null);
      this.csrf = me && me.csrf ? me.csrf : null;
    }
    const headers = { 'Content-Type': 'application/json' };
    if (this.csrf) headers['X-CSRF-Token'] = this.csrf;
    const r = await fetch('/api/v1/corridors', { method: 'POST', headers, body: JSON.stringify(body) });
    const out = await r.json().catch(() => ({}));
    this.say(r.ok ? `corridor ${out.id} started` : (out.error ? out.error.message : `HTTP ${r.status}`));
    await this.refresh();
  }

  draw(g, m) {
    for (const d of this.details.values()) {
      if (d.status === 'failed') continue;
      const pts = d.path_xy.map(([x, y]) => m.toScreen(x, y));
      if (pts.length > 1) {
        g.strokeStyle = ROUTE_COLOR; g.lineWidth = 6; g.globalAlpha = 0.55;
        g.beginPath(); g.moveTo(pts[0][0], pts[0][1]);
        for (const p of pts.slice(1)) g.lineTo(p[0], p[1]);
        g.stroke(); g.globalAlpha = 1;
      }
      for (const s of d.signals) {
        const [x, y] = m.toScreen(s.x, s.y);
        g.strokeStyle = STAGE_COLOR[s.stage] || '#8b949e'; g.lineWidth = 4;
        g.beginPath(); g.arc(x, y, 11, 0, 2 * Math.PI); g.stroke();
      }
      if (d.x != null && d.y != null) {
        const [x, y] = m.toScreen(d.x, d.y);
        g.fillStyle = VEHICLE_COLOR;
        g.beginPath(); g.moveTo(x, y - 9); g.lineTo(x + 9, y); g.lineTo(x, y + 9); g.lineTo(x - 9, y); g.closePath(); g.fill();
        if (d.eta_s != null) {
          g.font = '12px sans-serif'; g.fillStyle = '#fff';
          g.fillText(`ETA ${Math.round(d.eta_s)} s`, x + 12, y - 10);
        }
      }
    }
  }
}
