// citybrain operations dashboard: map, KPI tiles, charts, history and replay, fed by the
// REST API and the /api/v1/stream WebSocket.

import { NetworkMap } from './map.js';
import { LineChart, fmtTime, setCityTimeZone } from './chart.js';
import { EventsLayer } from './events.js';
import { CorridorLayer } from './corridor.js';

const $ = (id) => document.getElementById(id);
const api = (path) => fetch(`/api/v1/${path}`).then((r) => {
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
});

const ui = {
  map: null,
  live: true,
  now: 0,
  messages: 0,
  cityChart: new LineChart($('city-chart'), [
    { name: 'delay index', color: '#f85149' },
    { name: 'speed', color: '#58a6ff', unit: ' km/h' },
  ]),
  detailChart: new LineChart($('detail-chart'), [
    { name: 'speed', color: '#58a6ff', unit: ' km/h' },
    { name: 'count', color: '#d29922' },
  ]),
};
window.citybrain = ui; // for operators' consoles and the browser tests

function showKpis(c) {
  if (!c) return;
  $('kpi-delay').textContent = c.delay_index.toFixed(2);
  $('kpi-tpi').textContent = c.tpi.toFixed(1);
  $('kpi-tpi-grade').textContent = c.tpi_grade || '';
  $('kpi-speed').textContent = c.average_speed_kmh.toFixed(1);
  $('kpi-vehicles').textContent = String(c.vehicles);
  $('kpi-trips').textContent = String(c.trips_finished);
  $('clock').textContent = fmtTime(c.time_s);
}

function applyLive(state) {
  ui.now = Math.max(ui.now, state.city.time_s);
  const slider = $('time-slider');
  slider.max = String(Math.floor(ui.now));
  // Times are Unix seconds: the slider spans the last 24 hours (the raw retention).
  slider.min = String(Math.floor(ui.now) - 86400);
  if (!ui.live) return;
  slider.value = slider.max;
  showKpis(state.city);
  ui.map.setState(state.roads, state.intersections);
  ui.cityChart.push(0, state.city.time_s, state.city.delay_index);
  ui.cityChart.push(1, state.city.time_s, state.city.average_speed_kmh);
  ui.cityChart.draw();
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`);
  ws.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn ok'; };
  ws.onmessage = (e) => {
    ui.messages += 1;
    applyLive(JSON.parse(e.data));
  };
  ws.onclose = () => {
    $('conn').textContent = 'reconnecting…';
    $('conn').className = 'conn';
    setTimeout(connect, 1000);
  };
}

async function openDetail(pick) {
  const scope = `${pick.kind}:${pick.id}`;
  $('detail').hidden = false;
  $('detail-title').textContent = `${pick.kind === 'road' ? 'Road' : 'Intersection'} ${pick.id}`;
  const facts = pick.props
    ? `<table><tr><td>lanes</td><td>${pick.props.lanes}</td><td>limit</td><td>${pick.props.speed_limit_kmh} km/h</td></tr>
       <tr><td>length</td><td>${pick.props.length_m} m</td><td>class</td><td>${pick.props.class}</td></tr></table>`
    : '';
  $('detail-facts').innerHTML = facts;
  const to = ui.live ? ui.now : Number($('time-slider').value);
  const h = await api(`history?scope=${encodeURIComponent(scope)}&from=${Math.max(0, to - 3600)}&to=${to}&resolution=60`);
  ui.detailChart.set(0, h.points.map((p) => [p.t, p.speed_kmh]));
  ui.detailChart.set(1, h.points.map((p) => [p.t, p.count]));
  ui.detailChart.draw();
  $('detail').dataset.points = String(ui.detailChart.pointCount());
}

async function replay(t) {
  const snap = await api(`snapshot?t=${t}`);
  if (ui.live) return;
  $('slider-label').textContent = `replay ${fmtTime(snap.city.time_s)}`;
  showKpis(snap.city);
  ui.map.setState(snap.roads, snap.intersections);
}

async function main() {
  // Local metres: the canvas draws the plane as is (GeoJSON lon/lat is the default).
  const net = await api('network?crs=local');
  ui.map = new NetworkMap($('map'), net, (pick) => openDetail(pick).catch((e) => console.error(e)));
  const state = await api('state');
  if (state.city && state.city.timezone) setCityTimeZone(state.city.timezone);
  const hist = await api('history?scope=city&resolution=60');
  ui.cityChart.set(0, hist.points.map((p) => [p.t, p.delay_index]));
  ui.cityChart.set(1, hist.points.map((p) => [p.t, p.speed_kmh]));
  applyLive(state);
  ui.cityChart.draw();
  const slider = $('time-slider');
  slider.addEventListener('input', () => {
    ui.live = false;
    replay(Number(slider.value)).catch((e) => console.error(e));
  });
  $('live-btn').addEventListener('click', () => {
    ui.live = true;
    $('slider-label').textContent = 'live';
  });
  window.addEventListener('resize', () => { ui.cityChart.draw(); ui.detailChart.draw(); });
  connect();
  ui.events = new EventsLayer(ui.map, { list: $('events'), detail: $('event-detail'), operator: $('operator') }, fmtTime);
  ui.events.start();
  ui.corridors = new CorridorLayer(ui.map, { list: $('corridors'), form: $('corridor-form'), message: $('corridor-message') });
  ui.corridors.run();
  document.body.dataset.ready = '1';
}

main().catch((e) => {
  $('conn').textContent = `error: ${e.message}`;
  console.error(e);
});
