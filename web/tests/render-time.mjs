// First-render timing of the dashboard against a running brain (used for BENCHMARKS.md):
// NODE_PATH=target/web-tests/node_modules URL=http://127.0.0.1:PORT/ node web/tests/render-time.mjs
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const times = [];
for (let i = 0; i < 5; i++) {
  const t0 = Date.now();
  await page.goto(process.env.URL, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  times.push(Date.now() - t0);
}
const drawn = await page.evaluate(() => {
  const c = document.getElementById('map'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 13) + Math.abs(d[i + 1] - 17) + Math.abs(d[i + 2] - 23) > 30) n++;
  return { n, roads: window.citybrain.map.roads.length };
});
const redraw = await page.evaluate(() => { const m = window.citybrain.map; const t = performance.now(); for (let i = 0; i < 10; i++) m.draw(); return (performance.now() - t) / 10; });
console.log(JSON.stringify({ first_render_ms: times, drawn, redraw_ms: redraw }));
await page.screenshot({ path: process.env.SCREENSHOT || 'target/web-tests/render.png' });
await browser.close();
