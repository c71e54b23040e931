// A response unit's mobile page: receives its alert over the WebSocket
// /api/v1/units/{id}/stream, shows the route on a map and has accept / on-scene /
// cleared buttons (POST /api/v1/units/{id}/{action}).

const $ = (id) => document.getElementById(id);
const unitId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const page = { view: null, messages: 0, roads: [], csrf: null };
window.citybrainUnit = page; // for the browser tests

async function loadNetwork() {
  const r = await fetch('/api/v1/network');
  if (!r.ok) return;
  const g = await r.json();
  page.roads = g.features.filter((f) => f.properties.kind === 'road').map((f) => f.geometry.coordinates);
}

function draw() {
  const c = $('route-map');
  const w = c.clientWidth, h = c.clientHeight;
  c.width = w * devicePixelRatio; c.height = h * devicePixelRatio;
  const g = c.getContext('2d');
  g.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  g.fillStyle = '#0d1117'; g.fillRect(0, 0, w, h);
  const v = page.view;
  const pts = page.roads.flat();
  if (v) pts.push([v.unit.lon, v.unit.lat]);
  if (!pts.length) return;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of pts) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180); // equirectangular: shrink longitude
  const s = 0.9 * Math.min(w / Math.max((x1 - x0) * k, 1e-9), h / Math.max(y1 - y0, 1e-9));
  const at = ([x, y]) => [w / 2 + (x - (x0 + x1) / 2) * k * s, h / 2 - (y - (y0 + y1) / 2) * s];
  g.strokeStyle = '#30363d'; g.lineWidth = 2;
  for (const line of page.roads) {
    g.beginPath();
    line.forEach((p, i) => { const [sx, sy] = at(p); if (i) g.lineTo(sx, sy); else g.moveTo(sx, sy); });
    g.stroke();
  }
  if (!v) return;
  if (v.route.length > 1) {
    g.strokeStyle = '#58a6ff'; g.lineWidth = 5;
    g.beginPath();
    v.route.forEach((p, i) => { const [sx, sy] = at(p); if (i) g.lineTo(sx, sy); else g.moveTo(sx, sy); });
    g.stroke();
  }
  if (v.alert) {
    const [ex, ey] = at([v.alert.lon, v.alert.lat]);
    g.fillStyle = '#f85149'; g.beginPath(); g.arc(ex, ey, 9, 0, 2 * Math.PI); g.fill();
  }
  const [ux, uy] = at([v.unit.lon, v.unit.lat]);
  g.fillStyle = '#2ea043'; g.beginPath(); g.arc(ux, uy, 7, 0, 2 * Math.PI); g.fill();
}

function show(v) {
  page.view = v;
  $('unit-title').textContent = `${v.unit.id} (${v.unit.kind.replace('_', ' ')})`;
  $('unit-status').textContent = v.unit.status.replace('_', ' ');
  const a = v.alert;
  $('alert').hidden = !a;
  $('idle').hidden = !!a;
  if (a) {
    $('alert-title').textContent = `Event ${a.id}: ${a.type.replace('_', ' ')}`;
    $('alert-facts').textContent = `${a.road ? 'road ' + a.road + ' · ' : ''}status ${a.status} · confidence ${a.confidence}`;
    $('alert-eta').textContent = v.unit.eta_s != null ? `about ${Math.round(v.unit.eta_s / 60 * 10) / 10} min away` : '';
  }
  $('btn-accept').disabled = v.unit.status !== 'alerted';
  $('btn-on-scene').disabled = !['alerted', 'en_route'].includes(v.unit.status);
  $('btn-cleared').disabled = v.unit.status !== 'on_scene';
  draw();
}

async function act(action) {
  const headers = page.csrf ? { 'X-CSRF-Token': page.csrf } : {};
  const r = await fetch(`/api/v1/units/${encodeURIComponent(unitId)}/${action}`, { method: 'POST', headers });
  const body = await r.json().catch(() => ({}));
  $('msg').textContent = r.ok ? `${action.replace('_', ' ')}: event ${body.event}` : (body.error ? body.error.message : `HTTP ${r.status}`);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/units/${encodeURIComponent(unitId)}/stream`);
  ws.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn ok'; };
  ws.onmessage = (e) => { page.messages += 1; show(JSON.parse(e.data)); };
  ws.onclose = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn'; setTimeout(connect, 1000); };
}

async function main() {
  $('btn-accept').addEventListener('click', () => act('accept'));
  $('btn-on-scene').addEventListener('click', () => act('on_scene'));
  $('btn-cleared').addEventListener('click', () => act('cleared'));
  window.addEventListener('resize', draw);
  await loadNetwork();
  // A logged-in session's CSRF token for the buttons (a unit's page runs as its crew).
  const me = await fetch('/api/v1/auth/me').then((r) => (r.ok ? r.json() : null)).catch(() => null);
  page.csrf = me && me.csrf ? me.csrf : null;
  connect();
  document.body.dataset.ready = '1';
}

main().catch((e) => { $('conn').textContent = `error: ${e.message}`; console.error(e); });
