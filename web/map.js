// The network map: roads coloured by congestion grade, signals by state. Roads are
// batched into one Path2D per colour so a 6,000-road city redraws in a few milliseconds.

const COLORS = { free: '#2ea043', slow: '#d29922', congested: '#f85149', unknown: '#484f58' };

export class NetworkMap {
  constructor(canvas, geojson, onPick) {
    this.canvas = canvas;
    this.onPick = onPick;
    this.roads = []; // {id, pts: [[x,y]], cls}
    this.inters = []; // {id, x, y, signalised}
    for (const f of geojson.features) {
      const p = f.properties;
      if (p.kind === 'road') this.roads.push({ id: p.id, pts: f.geometry.coordinates, cls: p.class, props: p });
      else if (!p.virtual) this.inters.push({ id: p.id, x: f.geometry.coordinates[0], y: f.geometry.coordinates[1], signalised: p.signalised });
    }
    this.roadIndex = new Map(this.roads.map((r, i) => [r.id, i]));
    this.interIndex = new Map(this.inters.map((n, i) => [n.id, i]));
    this.grade = new Array(this.roads.length).fill('unknown');
    this.phase = new Array(this.inters.length).fill(null);
    this.selected = null;
    this.fit();
    this.bindEvents();
    this.dirty = true;
    const loop = () => { if (this.dirty) this.draw(); requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  }

  fit() {
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const r of this.roads) for (const [x, y] of r.pts) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    if (!Number.isFinite(x0)) { x0 = y0 = 0; x1 = y1 = 1; }
    const w = this.canvas.clientWidth || 800, h = this.canvas.clientHeight || 600;
    this.scale = 0.92 * Math.min(w / Math.max(x1 - x0, 1), h / Math.max(y1 - y0, 1));
    this.cx = (x0 + x1) / 2;
    this.cy = (y0 + y1) / 2;
  }

  toScreen(x, y) {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    return [w / 2 + (x - this.cx) * this.scale, h / 2 - (y - this.cy) * this.scale];
  }
  toWorld(sx, sy) {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    return [this.cx + (sx - w / 2) / this.scale, this.cy - (sy - h / 2) / this.scale];
  }

  bindEvents() {
    const c = this.canvas;
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const [wx, wy] = this.toWorld(e.offsetX, e.offsetY);
      const k = Math.exp(-e.deltaY * 0.0015);
      this.scale *= k;
      const [nx, ny] = this.toWorld(e.offsetX, e.offsetY);
      this.cx += wx - nx; this.cy += wy - ny;
      this.dirty = true;
    }, { passive: false });
    let drag = null;
    c.addEventListener('mousedown', (e) => { drag = { x: e.offsetX, y: e.offsetY, moved: false }; });
    c.addEventListener('mousemove', (e) => {
      if (!drag) return;
      const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        this.cx -= dx / this.scale; this.cy += dy / this.scale;
        drag.x = e.offsetX; drag.y = e.offsetY;
        this.dirty = true;
      }
    });
    c.addEventListener('mouseup', (e) => {
      if (drag && !drag.moved) this.pick(e.offsetX, e.offsetY);
      drag = null;
    });
    window.addEventListener('resize', () => { this.dirty = true; });
  }

  // Nearest intersection within 7 px, else nearest road within 8 px.
  pick(sx, sy) {
    let best = null, bd = 7 * 7;
    for (const n of this.inters) {
      const [x, y] = this.toScreen(n.x, n.y);
      const d = (x - sx) ** 2 + (y - sy) ** 2;
      if (d < bd) { bd = d; best = { kind: 'intersection', id: n.id }; }
    }
    if (!best) {
      bd = 8 * 8;
      for (const r of this.roads) {
        const pts = this.offsetScreen(r.pts);
        for (let k = 1; k < pts.length; k++) {
          const d = segDist2(sx, sy, pts[k - 1], pts[k]);
          if (d < bd) { bd = d; best = { kind: 'road', id: r.id, props: r.props }; }
        }
      }
    }
    this.selected = best;
    this.dirty = true;
    if (best) this.onPick(best);
  }

  // Screen polyline of a road, shifted to the right of travel so both directions show.
  offsetScreen(pts) {
    const s = pts.map(([x, y]) => this.toScreen(x, y));
    const off = Math.min(3, Math.max(1, this.scale * 4));
    const out = [];
    for (let k = 0; k < s.length; k++) {
      const a = s[Math.max(0, k - 1)], b = s[Math.min(s.length - 1, k + 1)];
      const dx = b[0] - a[0], dy = b[1] - a[1];
      const len = Math.hypot(dx, dy) || 1;
      out.push([s[k][0] - (dy / len) * off, s[k][1] + (dx / len) * off]);
    }
    return out;
  }

  setState(roads, intersections) {
    for (const r of roads || []) {
      const i = this.roadIndex.get(r.id);
      if (i !== undefined) this.grade[i] = r.grade;
    }
    for (const n of intersections || []) {
      const i = this.interIndex.get(n.id);
      if (i !== undefined) this.phase[i] = n.signal;
    }
    this.dirty = true;
  }

  draw() {
    this.dirty = false;
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#0d1117';
    g.fillRect(0, 0, w, h);
    const paths = { free: new Path2D(), slow: new Path2D(), congested: new Path2D(), unknown: new Path2D() };
    const widths = { arterial: 3, local: 2 };
    const byClass = { arterial: {}, local: {} };
    for (const cls of Object.keys(byClass)) for (const k of Object.keys(paths)) byClass[cls][k] = new Path2D();
    this.roads.forEach((r, i) => {
      const p = byClass[r.cls === 'arterial' ? 'arterial' : 'local'][this.grade[i] || 'unknown'];
      const pts = this.offsetScreen(r.pts);
      p.moveTo(pts[0][0], pts[0][1]);
      for (let k = 1; k < pts.length; k++) p.lineTo(pts[k][0], pts[k][1]);
    });
    g.lineCap = 'round';
    for (const cls of ['local', 'arterial']) {
      for (const grade of ['unknown', 'free', 'slow', 'congested']) {
        g.strokeStyle = COLORS[grade];
        g.lineWidth = widths[cls];
        g.stroke(byClass[cls][grade]);
      }
    }
    const green = new Path2D(), clear = new Path2D(), plain = new Path2D();
    const rad = Math.max(1.5, Math.min(4, this.scale * 8));
    this.inters.forEach((n, i) => {
      const [x, y] = this.toScreen(n.x, n.y);
      if (x < -10 || y < -10 || x > w + 10 || y > h + 10) return;
      const p = !n.signalised ? plain : this.phase[i] === 'clearance' ? clear : green;
      p.moveTo(x + rad, y);
      p.arc(x, y, rad, 0, Math.PI * 2);
    });
    g.fillStyle = '#58a6ff'; g.fill(green);
    g.fillStyle = '#d29922'; g.fill(clear);
    g.fillStyle = '#6e7681'; g.fill(plain);
    if (this.selected) {
      g.strokeStyle = '#ffffff';
      g.lineWidth = 2;
      if (this.selected.kind === 'road') {
        const r = this.roads[this.roadIndex.get(this.selected.id)];
        const pts = this.offsetScreen(r.pts);
        g.beginPath(); g.moveTo(pts[0][0], pts[0][1]);
        for (let k = 1; k < pts.length; k++) g.lineTo(pts[k][0], pts[k][1]);
        g.stroke();
      } else {
        const n = this.inters[this.interIndex.get(this.selected.id)];
        const [x, y] = this.toScreen(n.x, n.y);
        g.beginPath(); g.arc(x, y, rad + 4, 0, Math.PI * 2); g.stroke();
      }
    }
    if (this.overlay) this.overlay(g, this);
  }

  // Screen position of a road's midpoint (used by tests and tooltips).
  roadScreenPoint(id) {
    const r = this.roads[this.roadIndex.get(id)];
    if (!r) return null;
    const pts = this.offsetScreen(r.pts);
    const a = pts[Math.floor((pts.length - 1) / 2)], b = pts[Math.floor((pts.length - 1) / 2) + 1] || a;
    return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  }
}

function segDist2(px, py, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const l2 = dx * dx + dy * dy || 1;
  const t = Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / l2));
  const x = a[0] + t * dx, y = a[1] + t * dy;
  return (px - x) ** 2 + (py - y) ** 2;
}
