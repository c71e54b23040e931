// The public transparency page: monthly KPIs with how each is measured, green corridors'
// costs month by month, response times of citizens' reports, the automated-decision log, the data-protection report, open data.

import { $, call, esc, fmtDate, table } from './trust.js';

const days = (s) => (s == null ? 'no limit' : `${(s / 86400).toFixed(s < 86400 ? 2 : 0)} days`);
const month = (t) => new Date(t * 1000).toISOString().slice(0, 7);

/** The open incidents CSV as objects (no field holds a comma but quoted ones; none here). */
async function openIncidents() {
  const r = await fetch('/api/v1/open/incidents.csv');
  if (!r.ok) return [];
  const [head, ...lines] = (await r.text()).trim().split('\n');
  const cols = head.split(',');
  return lines.filter(Boolean).map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

async function monthly(decisions) {
  const now = (await call('GET', 'state')).city.time_s || Date.now() / 1000;
  const by = new Map();
  // The history API answers at most 7 days per call: walk back week by week.
  for (let k = 0; k < 9; k++) {
    const to = now - k * 7 * 86400, from = to - 7 * 86400;
    let h;
    try { h = await call('GET', `history?scope=city&resolution=900&from=${from}&to=${to}`); } catch { break; }
    if (!h.points.length) { if (k > 0) break; continue; }
    for (const p of h.points) {
      if (p.delay_index == null) continue;
      const m = by.get(month(p.t)) || { di: 0, n: 0 };
      m.di += p.delay_index; m.n += 1; by.set(month(p.t), m);
    }
  }
  const blank = () => ({ di: 0, n: 0, decisions: 0, incidents: 0, cleared: 0, response: [] });
  for (const m of by.values()) Object.assign(m, { ...blank(), di: m.di, n: m.n });
  for (const d of decisions) {
    const m = by.get(month(d.time)) || blank();
    m.decisions += 1; by.set(month(d.time), m);
  }
  for (const e of await openIncidents()) {
    const t = Number(e.detected_at);
    const m = by.get(month(t)) || blank();
    m.incidents += 1;
    if (e.cleared_at) m.cleared += 1;
    if (e.arrived_at) m.response.push(Number(e.arrived_at) - t);
    by.set(month(t), m);
  }
  const median = (v) => (v.length ? [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] : null);
  const rows = [...by.entries()].sort().reverse();
  return rows.length ? table(rows, [
    ['month', ([m]) => esc(m)],
    ['delay index', ([, v]) => (v.n ? (v.di / v.n).toFixed(2) : '–')],
    ['quarters measured', ([, v]) => String(v.n)],
    ['automated decisions', ([, v]) => String(v.decisions)],
    ['incidents', ([, v]) => String(v.incidents)],
    ['incidents cleared', ([, v]) => String(v.cleared)],
    ['median response', ([, v]) => { const r = median(v.response); return r == null ? '–' : `${(r / 60).toFixed(1)} min`; }],
  ]) : '<p class="how">No data stored yet.</p>';
}

/** Green corridors month by month, from the corridor plug-in's reports, with the
 * API's own words for how each figure is measured. */
async function corridors() {
  const r = await fetch('/api/v1/kpis/corridors');
  if (!r.ok) return `<p class="how">Green corridors are not running in this brain (HTTP ${r.status}).</p>`;
  const k = await r.json();
  const sec = (x) => (x == null ? '–' : `${Math.round(x)} s`);
  const cell = (field, text, m) => `<span data-field="${field}" data-value="${esc(m[field] ?? '')}">${text}</span>`;
  const rows = k.months.length ? table(k.months, [
    ['month', (m) => cell('month', esc(m.month), m)],
    ['corridors requested', (m) => cell('requested', String(m.requested), m)],
    ['corridors run', (m) => cell('run', String(m.run), m)],
    ['emergency vehicles\' travel time', (m) => cell('ev_actual_s', sec(m.ev_actual_s), m)],
    ['predicted without a corridor', (m) => cell('ev_predicted_without_s', sec(m.ev_predicted_without_s), m)],
    ['time saved', (m) => cell('ev_saved_s', sec(m.ev_saved_s), m)],
    ['median saved per corridor', (m) => cell('ev_saved_median_s', sec(m.ev_saved_median_s), m)],
    ['signals preempted', (m) => cell('signals_preempted', `${m.signals_preempted} for ${sec(m.preempted_s)}`, m)],
    ['others\' delay', (m) => cell('others_delay_veh_s', `${Math.round(m.others_delay_veh_s)} veh·s (${(m.others_delay_veh_s / 3600).toFixed(2)} veh·h)`, m)],
  ]) : '<p class="how">No corridor has run yet.</p>';
  const how = Object.entries(k.method).map(([f, t]) => `<dt>${esc(f)}</dt><dd>${esc(t)}</dd>`).join('');
  return `${rows}<dl class="how" data-testid="corridor-method">${how}</dl>`;
}

async function main() {
  const decisions = await call('GET', 'transparency?limit=500');
  $('decisions').innerHTML = decisions.length ? table(decisions.slice(0, 100), [
    ['#', (r) => esc(r.seq)], ['when', (r) => esc(fmtDate(r.time))], ['by', (r) => esc(r.actor)], ['what and why', (r) => esc(r.detail)],
  ]) : '<p class="how">No automated decision yet.</p>';
  const k = await call('GET', 'kpis/tickets');
  $('tickets').innerHTML = k.length ? table(k, [
    ['department', (r) => esc(r.department)], ['received', (r) => String(r.received)], ['open', (r) => String(r.open)],
    ['answered', (r) => String(r.answered)],
    ['mean response', (r) => (r.mean_response_s == null ? '–' : `${(r.mean_response_s / 3600).toFixed(1)} h`)],
    ['90th percentile', (r) => (r.p90_response_s == null ? '–' : `${(r.p90_response_s / 3600).toFixed(1)} h`)],
  ]) : '<p class="how">No reports yet.</p>';
  const dp = await call('GET', 'data-protection');
  $('dp').innerHTML = table(dp.datasets, [
    ['dataset', (d) => esc(d.dataset)], ['class', (d) => esc(d.class)], ['owner', (d) => esc(d.owner)],
    ['what', (d) => esc(d.description)], ['kept', (d) => esc(days(d.retention_s))],
    ['who else may read it (grants)', (d) => esc(d.readers.map(([g, p, u]) => `${g} for "${p}" until ${fmtDate(u)}`).join('; ') || 'nobody')],
  ]) + table(dp.holdings, [
    ['held', (h) => esc(h.what)], ['where', (h) => esc(h.where_)], ['kept', (h) => esc(days(h.kept_s))],
  ]) + `<p class="how">Citizens' reports with text and place still held: ${dp.tickets_with_personal_data}.</p>`;
  const open = await call('GET', 'open');
  $('open').innerHTML = table(open, [
    ['dataset', (d) => esc(d.name)], ['what', (d) => esc(d.description)],
    ['download', (d) => d.downloads.map((u) => `<a href="${esc(u)}">${esc(u.split('/').pop())}</a>`).join(' ')],
  ]);
  $('kpis').innerHTML = await monthly(decisions);
  $('corridors').innerHTML = await corridors();
  document.body.dataset.ready = '1';
}

main().catch((e) => { $('kpis').textContent = e.message; });
