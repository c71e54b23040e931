// Headless-Chromium checks of the dashboard (run by scripts/test-web.sh).
import assert from 'node:assert/strict';
import { run } from './browser.mjs';

const base = process.env.BASE_URL;

await run(async (browser) => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const t0 = Date.now();
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  console.log(`first render in ${Date.now() - t0} ms`);

  // 1. The map really drew: count road-coloured pixels on the canvas.
  const pixels = await page.evaluate(() => {
    const c = document.getElementById('map');
    const g = c.getContext('2d');
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let drawn = 0, coloured = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, gg, b] = [d[i], d[i + 1], d[i + 2]];
      if (Math.abs(r - 13) + Math.abs(gg - 17) + Math.abs(b - 23) > 30) drawn++;
      if ((gg > 120 && r < 100) || (r > 180 && gg > 120 && b < 80) || (r > 200 && gg < 110)) coloured++;
    }
    return { drawn, coloured, total: d.length / 4 };
  });
  console.log('map pixels', pixels);
  assert.ok(pixels.drawn > 0.01 * pixels.total, `map drew too little: ${JSON.stringify(pixels)}`);

  // 2. KPIs change as stream messages arrive.
  const kpi = () => page.evaluate(() => ({
    clock: document.getElementById('clock').textContent,
    vehicles: document.getElementById('kpi-vehicles').textContent,
    trips: document.getElementById('kpi-trips').textContent,
    messages: window.citybrain.messages,
  }));
  const before = await kpi();
  await page.waitForFunction((n) => window.citybrain.messages >= n + 3, before.messages, { timeout: 20000 });
  const after = await kpi();
  console.log('kpi before', before, 'after', after);
  assert.notEqual(after.clock, before.clock, 'the clock KPI did not move with the stream');
  assert.ok(after.vehicles !== '–' && Number(after.vehicles) >= 0);
  // Grades arrive with the stream: coloured roads appear.
  await page.waitForFunction(() => window.citybrain.map.grade.some((g) => g !== 'unknown'), null, { timeout: 20000 });

  // 3. A click on a road opens its history chart with data.
  const target = await page.evaluate(() => {
    const m = window.citybrain.map;
    const c = document.getElementById('map').getBoundingClientRect();
    for (const [i, r] of m.roads.entries()) {
      if (m.grade[i] === 'unknown') continue; // a road with live evidence has history
      const p = m.roadScreenPoint(r.id);
      if (p && p[0] > 40 && p[1] > 60 && p[0] < c.width - 40 && p[1] < c.height - 80) return { id: r.id, x: c.left + p[0], y: c.top + p[1] };
    }
    return null;
  });
  assert.ok(target, 'no road on screen to click');
  await page.mouse.click(target.x, target.y);
  await page.waitForSelector('#detail:not([hidden])', { timeout: 5000 });
  await page.waitForFunction(() => Number(document.getElementById('detail').dataset.points || 0) > 0, null, { timeout: 10000 });
  const speeds = await page.evaluate(() => window.citybrain.detailChart.data[0].length);
  assert.ok(speeds > 0, 'the history chart of a road with live speed has no speed points');
  const title = await page.textContent('#detail-title');
  console.log('clicked', target.id, '->', title, 'points', await page.getAttribute('#detail', 'data-points'));
  await page.screenshot({ path: process.env.SCREENSHOT || 'target/web-tests/dashboard.png' });
  assert.ok(errors.length === 0, `page errors: ${errors.join('; ')}`);
  console.log('dashboard tests passed');
});
