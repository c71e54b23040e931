// Headless-Chromium check of a unit's page (run by scripts/test-web.sh): the pages of
// the police units are open, a camera reports a collision, the dispatched unit's page
// receives the alert over its WebSocket with a route, and accepting it puts the unit
// en route (checked through the API).
import assert from 'node:assert/strict';
import { run } from './browser.mjs';

const base = process.env.BASE_URL;

await run(async (browser) => {
  // The unit's crew logs in (an emergency-services operator of the demo accounts).
  const context = await browser.newContext({ viewport: { width: 400, height: 760 } });
  const login = await context.request.post(`${base}/api/v1/auth/login`, { data: { name: process.env.UNIT_USER, password: process.env.UNIT_PASSWORD } });
  assert.ok(login.ok(), `login: HTTP ${login.status()} ${await login.text()}`);
  const csrf = (await login.json()).csrf;
  const api = async (path, init = {}) => {
    const r = init.method === 'POST'
      ? await context.request.post(`${base}/api/v1/${path}`, { headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, data: init.body })
      : await context.request.get(`${base}/api/v1/${path}`);
    const body = await r.json();
    if (!r.ok()) throw new Error(`${path}: HTTP ${r.status()} ${JSON.stringify(body)}`);
    return body;
  };
  // The demo's own incidents keep units busy for a while: wait (up to 60 s) for a free
  // police unit. Units clear their scenes by themselves, so one always frees up.
  let units = [];
  let police = [];
  for (let i = 0; i < 120 && police.length === 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    ({ units } = await api('units'));
    police = units.filter((u) => u.kind === 'police' && u.status === 'available');
  }
  assert.ok(police.length > 0, `no free police unit within 60 s: ${JSON.stringify(units)}`);
  const errors = [];
  const pages = new Map();
  for (const u of police) {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/app/unit/${encodeURIComponent(u.id)}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
    await page.waitForFunction(() => window.citybrainUnit.messages > 0, null, { timeout: 10000 });
    pages.set(u.id, page);
  }
  // A camera sees a collision where the first police unit is.
  const at = police[0];
  const rep = await api('events/reports', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ source: 'camera', type: 'collision', location: { lon: at.lon, lat: at.lat }, confidence: 0.95, snapshot: 'snapshot://test/1.jpg' }),
  });
  const ev = await api(`events/${rep.event}`);
  assert.equal(ev.event.status, 'dispatched', JSON.stringify(ev));
  const unit = ev.event.unit;
  const page = pages.get(unit);
  assert.ok(page, `dispatched to ${unit}, whose page is not open`);
  // The alert arrives over the WebSocket, with a route to draw.
  await page.waitForSelector('[data-testid="alert"]:not([hidden])', { timeout: 10000 });
  const shown = await page.evaluate(() => ({
    title: document.getElementById('alert-title').textContent,
    status: document.getElementById('unit-status').textContent,
    route: window.citybrainUnit.view.route.length,
  }));
  console.log('alert shown', shown);
  assert.match(shown.title, new RegExp(`Event ${rep.event}`));
  assert.equal(shown.status, 'alerted');
  assert.ok(shown.route >= 2, 'no route to draw');
  await page.click('[data-testid="accept"]');
  // Accepted: on its way (or already there, when the alert was where it stood).
  await page.waitForFunction(() => ['en route', 'on scene'].includes(document.getElementById('unit-status').textContent), null, { timeout: 10000 });
  const after = await api(`units/${encodeURIComponent(unit)}`);
  assert.ok(['en_route', 'on_scene'].includes(after.unit.status), JSON.stringify(after.unit));
  const detail = await api(`events/${rep.event}`);
  assert.ok(detail.timeline.some((t) => t.note === 'alert accepted' && t.actor_kind === 'unit' && t.actor === unit), JSON.stringify(detail.timeline));
  await page.screenshot({ path: process.env.UNIT_SCREENSHOT || 'target/web-tests/unit.png' });
  assert.ok(errors.length === 0, `page errors: ${errors.join('; ')}`);
  console.log('unit page tests passed');
});
