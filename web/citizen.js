// The citizen's page: pick a place on the map, choose a category, describe, send; get a
// ticket number; follow it.

import { $, call, esc, fmtDate } from './trust.js';

const pick = { lines: [], box: null, point: null };
window.citybrainCitizen = pick; // for the browser tests

function project(c, [x, y]) {
  const b = pick.box;
  const s = Math.min(c.width / (b[2] - b[0] || 1), c.height / (b[3] - b[1] || 1)) * 0.9;
  const ox = (c.width - s * (b[2] - b[0])) / 2, oy = (c.height - s * (b[3] - b[1])) / 2;
  return [ox + (x - b[0]) * s, c.height - (oy + (y - b[1]) * s)];
}

function unproject(c, px, py) {
  const b = pick.box;
  const s = Math.min(c.width / (b[2] - b[0] || 1), c.height / (b[3] - b[1] || 1)) * 0.9;
  const ox = (c.width - s * (b[2] - b[0])) / 2, oy = (c.height - s * (b[3] - b[1])) / 2;
  return [b[0] + (px - ox) / s, b[1] + (c.height - py - oy) / s];
}

function draw() {
  const c = $('pick');
  c.width = c.clientWidth; c.height = c.clientHeight;
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = '#8b949e'; g.lineWidth = 2;
  for (const l of pick.lines) {
    g.beginPath();
    l.forEach((p, i) => { const [x, y] = project(c, p); if (i) g.lineTo(x, y); else g.moveTo(x, y); });
    g.stroke();
  }
  if (pick.point) {
    const [x, y] = project(c, pick.point);
    g.fillStyle = '#f85149'; g.beginPath(); g.arc(x, y, 7, 0, 2 * Math.PI); g.fill();
  }
}

async function main() {
  const cat = await call('GET', 'catalogue');
  $('category').innerHTML = cat.ticket_categories.map((c) => `<option>${esc(c)}</option>`).join('');
  const net = await call('GET', 'network');
  const xs = [], ys = [];
  for (const f of net.features) {
    if (f.geometry.type !== 'LineString') continue;
    pick.lines.push(f.geometry.coordinates);
    for (const [x, y] of f.geometry.coordinates) { xs.push(x); ys.push(y); }
  }
  pick.box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  draw();
  $('pick').addEventListener('click', (e) => {
    const r = $('pick').getBoundingClientRect();
    pick.point = unproject($('pick'), e.clientX - r.left, e.clientY - r.top);
    $('lon').value = pick.point[0].toFixed(6);
    $('lat').value = pick.point[1].toFixed(6);
    draw();
  });
  $('report').addEventListener('submit', async (e) => {
    e.preventDefault();
    const lon = $('lon').value.trim(), lat = $('lat').value.trim();
    try {
      const t = await call('POST', 'tickets', {
        category: $('category').value, text: $('text').value,
        lon: lon ? Number(lon) : null, lat: lat ? Number(lat) : null,
        photo_ref: $('photo').value.trim() || null,
      });
      $('sent').innerHTML = `Thank you. Your ticket number is <b data-testid="ticket-number">${esc(t.number)}</b>; it went to <b>${esc(t.department)}</b>. Keep the number to follow it.`;
      $('sent').className = 'msg ok';
      $('number').value = t.number;
    } catch (err) {
      $('sent').textContent = err.message;
      $('sent').className = 'msg err';
    }
  });
  $('follow').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const s = await call('GET', `tickets/${encodeURIComponent($('number').value.trim())}`);
      $('status').innerHTML = `<span data-testid="ticket-status">${esc(s.status)}</span> · ${esc(s.category)} · ${esc(s.department)} · received ${esc(fmtDate(s.created))}` +
        (s.answer ? `<p>Answer (${esc(fmtDate(s.answered_at))}): <span data-testid="ticket-answer">${esc(s.answer)}</span></p>` : '');
      $('status').className = 'msg';
    } catch (err) {
      $('status').textContent = err.message;
      $('status').className = 'msg err';
    }
  });
  document.body.dataset.ready = '1';
}

main().catch((e) => { $('sent').textContent = e.message; });
