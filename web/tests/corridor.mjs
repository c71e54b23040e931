// Headless-Chromium check of the green-corridor layer (run by scripts/test-web.sh): an
// emergency-services operator starts a corridor from the dashboard's form; the map then
// really draws the highlighted route and the moving vehicle, the list shows its ETA and
// the ETA at each signal; the corridor's report comes back after the run. A viewer of
// the public (no login) may not start one.
import assert from 'node:assert/strict';
import { run } from './browser.mjs';

const base = process.env.BASE_URL;

await run(async (browser) => {
  // Without a login the API refuses to start a corridor.
  const anon = await browser.newContext();
  const refused = await anon.request.post(`${base}/api/v1/corridors`, {
    headers: { 'Content-Type': 'application/json' },
    data: { origin: 'x', destination: 'y', vehicle: 'ambulance', priority: 5, reason: 'test' },
  });
  assert.ok([401, 403].includes(refused.status()), `anonymous start: HTTP ${refused.status()}`);

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const login = await context.request.post(`${base}/api/v1/auth/login`, { data: { name: process.env.UNIT_USER, password: process.env.UNIT_PASSWORD } });
  assert.ok(login.ok(), `login: HTTP ${login.status()} ${await login.text()}`);
  const csrf = (await login.json()).csrf;
  const get = async (path) => {
    const r = await context.request.get(`${base}/api/v1/${path}`);
    assert.ok(r.ok(), `${path}: HTTP ${r.status()}`);
    return r.json();
  };
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });

  // Roads far apart: the first road of the network and the one farthest from it.
  const net = await get('network?crs=local');
  const roads = net.features.filter((f) => f.properties.kind === 'road');
  const mid = (f) => f.geometry.coordinates[Math.floor(f.geometry.coordinates.length / 2)];
  const name = (f) => f.properties.id || f.properties.name;
  const candidates = [];
  for (let k = 0; k < Math.min(roads.length, 12); k++) {
    const a = roads[k * Math.floor(roads.length / 12)];
    const far = roads.slice().sort((x, y) => {
      const d = (f) => Math.hypot(mid(f)[0] - mid(a)[0], mid(f)[1] - mid(a)[1]);
      return d(y) - d(x);
    });
    candidates.push([name(a), name(far[0])], [name(a), name(far[1])]);
  }
  let detail = null;
  for (const [origin, destination] of candidates) {
    await page.fill('#corridor-form input[name=origin]', origin);
    await page.fill('#corridor-form input[name=destination]', destination);
    await page.fill('#corridor-form input[name=reason]', 'cardiac arrest, browser test');
    await page.click('#corridor-form button[type=submit]');
    await page.waitForFunction(() => /corridor \d+ started|HTTP|must|no such|cannot/.test(document.getElementById('corridor-message').textContent), null, { timeout: 10000 });
    const msg = await page.textContent('#corridor-message');
    const m = /corridor (\d+) started/.exec(msg);
    if (!m) { console.log('not started:', origin, destination, msg); continue; }
    const id = Number(m[1]);
    for (let i = 0; i < 100; i++) {
      const d = await get(`corridors/${id}`);
      if (d.status === 'active' && d.signals.length > 0 && d.x != null) { detail = d; break; }
      if (d.status === 'failed' || d.status === 'arrived') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (detail) break;
  }
  assert.ok(detail, 'no corridor with signals became active');
  console.log('corridor', detail.id, detail.origin, '->', detail.destination, 'signals', detail.signals.length, 'eta', detail.eta_s);
  assert.ok(detail.requester.includes(process.env.UNIT_USER), `requester: ${detail.requester}`);

  // The map draws the route (magenta) and the vehicle (cyan).
  await page.waitForFunction((id) => {
    const d = window.citybrain.corridors.details.get(id);
    return d && d.x != null && d.status === 'active';
  }, detail.id, { timeout: 10000 });
  // One animation frame for the map to draw what the last refresh brought.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const pixels = await page.evaluate(() => {
    const c = document.getElementById('map');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let route = 0, vehicle = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
      if (r > 150 && b > 110 && g < 100) route++;
      if (r < 80 && g > 180 && b > 200) vehicle++;
    }
    return { route, vehicle };
  });
  console.log('corridor pixels', pixels);
  assert.ok(pixels.route > 200, `the route is not highlighted: ${JSON.stringify(pixels)}`);
  assert.ok(pixels.vehicle > 20, `the vehicle is not drawn: ${JSON.stringify(pixels)}`);
  await page.screenshot({ path: process.env.SCREENSHOT_CORRIDOR || 'target/web-tests/corridor.png' });

  // The list shows the ETA, and the ETA at the signals ahead.
  const eta = await page.textContent(`#corridors tr[data-corridor="${detail.id}"] [data-testid=corridor-eta]`);
  assert.match(eta, /\d+ s/);
  const sigs = await page.$$eval('#corridors .sig', (els) => els.map((e) => e.textContent));
  assert.ok(sigs.length > 0 && sigs.some((s) => /\d+ s|called|recovering|done/.test(s)), `signals: ${sigs}`);

  // The vehicle moves; later it arrives and the report compares against no corridor.
  const x0 = [detail.x, detail.y];
  let report = null;
  let moved = false;
  for (let i = 0; i < 600 && !report; i++) {
    const d = await get(`corridors/${detail.id}`);
    if (d.x != null && (d.x !== x0[0] || d.y !== x0[1])) moved = true;
    if (d.status === 'arrived') report = await get(`corridors/${detail.id}/report`);
    else await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(moved, 'the vehicle did not move');
  assert.ok(report, 'the vehicle did not arrive');
  console.log('report', report);
  assert.ok(report.actual_s > 0 && report.predicted_without_s > 0 && report.cost_veh_s >= 0);
  assert.ok(report.preempted > 0, 'no signal was preempted');
  assert.ok(errors.length === 0, `page errors: ${errors.join('; ')}`);
  void csrf;
  console.log('corridor tests passed');
});
