// Headless-Chromium checks of the trust pages (run by scripts/test-web.sh after the
// dashboard test): a citizen reports a problem and follows the ticket; a traffic-police
// administrator logs in, answers it, and grants, then revokes, the transport bureau's
// access to the controller event logs, which the analyst sees take effect at once.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { run } from './browser.mjs';

const base = process.env.BASE_URL;
const log = readFileSync(process.env.DEMO_LOG, 'utf8');
const password = (user) => {
  const m = log.match(new RegExp(`user\\s+${user.replace('.', '\\.')}\\s.*password (\\S+)`));
  assert.ok(m, `no password for ${user} in the demo output`);
  return m[1];
};

await run(async (browser) => {
  const errors = [];
  // 1. The citizen's page.
  const citizen = await (await browser.newContext()).newPage({ viewport: { width: 1200, height: 900 } });
  citizen.on('pageerror', (e) => errors.push(String(e)));
  await citizen.goto(base + '/citizen.html');
  await citizen.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  const box = await citizen.locator('[data-testid=pick-map]').boundingBox();
  await citizen.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const lon = Number(await citizen.inputValue('[data-testid=lon]'));
  assert.ok(Number.isFinite(lon) && lon !== 0, `the map click gave no place: ${lon}`);
  await citizen.selectOption('[data-testid=category]', 'accident');
  await citizen.fill('[data-testid=text]', 'Two cars collided at the junction, one lane blocked');
  await citizen.click('[data-testid=submit]');
  const number = await (await citizen.waitForSelector('[data-testid=ticket-number]', { timeout: 10000 })).textContent();
  assert.match(number, /^T-[A-Z0-9]{5}-[A-Z0-9]{5}$/);
  await citizen.click('[data-testid=follow]');
  assert.equal(await (await citizen.waitForSelector('[data-testid=ticket-status]')).textContent(), 'open');
  console.log('citizen ticket', number, 'open');

  // 2. The traffic police administrator logs in and answers it.
  const adminCtx = await browser.newContext();
  const admin = await adminCtx.newPage({ viewport: { width: 1300, height: 1000 } });
  admin.on('pageerror', (e) => errors.push(String(e)));
  await admin.goto(base + '/login.html');
  await admin.fill('#name', 'tp.admin');
  await admin.fill('#password', 'wrong password');
  await admin.click('[data-testid=login]');
  await admin.waitForFunction(() => document.querySelector('[data-testid=login-msg]').textContent.length > 0);
  await admin.fill('#password', password('tp.admin'));
  await admin.click('[data-testid=login]');
  await admin.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  assert.match(await admin.textContent('[data-testid=me]'), /tp\.admin · Traffic Police · admin/);
  const cookies = await adminCtx.cookies();
  const sc = cookies.find((c) => c.name === 'cb_session');
  assert.ok(sc && sc.httpOnly && sc.sameSite === 'Strict', `session cookie flags: ${JSON.stringify(sc)}`);
  assert.equal(await admin.evaluate(() => document.cookie.includes('cb_session')), false, 'the page script cannot read the session');
  await admin.waitForSelector(`[data-testid=queue] input[data-answer="${number}"]`);
  await admin.fill(`[data-testid=queue] input[data-answer="${number}"]`, 'Units on site, lane reopens soon');
  await admin.click(`[data-testid=queue] button[data-send="${number}"]`);
  await admin.waitForFunction((n) => !document.querySelector(`[data-testid=queue] input[data-answer="${n}"]`), number);
  await citizen.click('[data-testid=follow]');
  await citizen.waitForFunction(() => document.querySelector('[data-testid=ticket-answer]'));
  assert.equal(await citizen.textContent('[data-testid=ticket-answer]'), 'Units on site, lane reopens soon');
  console.log('ticket answered and seen by the citizen');

  // 3. The grant flow, seen from the transport bureau's analyst.
  const analyst = await (await browser.newContext()).newPage();
  await analyst.goto(base + '/login.html');
  await analyst.fill('#name', 'tb.analyst');
  await analyst.fill('#password', password('tb.analyst'));
  await analyst.click('[data-testid=login]');
  await analyst.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  const events = () => analyst.evaluate(async () => {
    const s = await (await fetch('/api/v1/signals')).json();
    const r = await fetch(`/api/v1/signals/events?intersection=${s.signals[0].id}`);
    return r.status;
  });
  assert.equal(await events(), 403, 'no grant yet');
  await admin.selectOption('#g-dataset', 'signal-events');
  await admin.fill('#g-grantee', 'transport-bureau');
  await admin.fill('#g-purpose', 'signal timing review');
  await admin.click('[data-testid=grant-issue]');
  await admin.waitForFunction(() => /issued/.test(document.querySelector('[data-testid=grant-msg]').textContent));
  assert.equal(await events(), 200, 'granted');
  const revoke = admin.locator('[data-testid=grants] button[data-revoke]').first();
  await revoke.click();
  await admin.waitForFunction(() => /revoked/.test(document.querySelector('[data-testid=grant-msg]').textContent));
  assert.equal(await events(), 403, 'revoked: refused on the next request');
  await admin.reload();
  await admin.waitForSelector('body[data-ready="1"]');
  const audit = await admin.textContent('[data-testid=audit]');
  assert.match(audit, /tb\.analyst/);
  assert.match(audit, /signal timing review/);
  console.log('grant issued, used, revoked; the read is in the owner\'s audit');

  // 4. The transparency page renders its figures. The corridor test before this one ran
  // a corridor to its end: wait until its report is journaled (signals recovered).
  let ck = null;
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${base}/api/v1/kpis/corridors`);
    assert.equal(r.status, 200, 'the corridor KPIs are public');
    ck = await r.json();
    if (ck.months.some((m) => m.run > 0)) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const cm = ck.months.find((m) => m.run > 0);
  assert.ok(cm, `no corridor run reached the KPIs: ${JSON.stringify(ck)}`);
  assert.ok(cm.ev_actual_s > 0 && cm.ev_predicted_without_s > 0 && cm.others_delay_veh_s >= 0, JSON.stringify(cm));
  assert.ok(Math.abs(cm.ev_predicted_without_s - cm.ev_actual_s - cm.ev_saved_s) < 0.2, `saved = predicted - actual: ${JSON.stringify(cm)}`);
  const pub = await (await browser.newContext()).newPage();
  await pub.goto(base + '/transparency.html');
  await pub.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  assert.match(await pub.textContent('[data-testid=ticket-kpis]'), /traffic-police/);
  assert.match(await pub.textContent('[data-testid=dp-report]'), /personal/);
  // The corridor figures really render: the month's row shows the API's numbers.
  const shown = await pub.$$eval('[data-testid=corridor-kpis] tr', (rows) => rows.map((tr) =>
    Object.fromEntries([...tr.querySelectorAll('[data-field]')].map((s) => [s.dataset.field, [s.dataset.value, s.textContent]]))));
  const row = shown.find((r) => r.month && r.month[0] === cm.month);
  assert.ok(row, `no row for ${cm.month} on the page: ${JSON.stringify(shown)}`);
  assert.equal(Number(row.run[0]), cm.run);
  assert.equal(row.ev_saved_s[1], `${Math.round(cm.ev_saved_s)} s`);
  assert.equal(row.ev_predicted_without_s[1], `${Math.round(cm.ev_predicted_without_s)} s`);
  assert.match(row.others_delay_veh_s[1], new RegExp(`^${Math.round(cm.others_delay_veh_s)} veh·s`));
  const method = await pub.textContent('[data-testid=corridor-method]');
  for (const k of ['ev_saved_s', 'others_delay_veh_s', 'run']) assert.ok(method.includes(k), `how ${k} is measured is not shown`);
  assert.ok(!/cardiac arrest/.test(await pub.textContent('[data-testid=corridor-kpis]')), 'a corridor\'s reason on the KPI table');
  console.log('corridor KPIs on the transparency page', cm.month, 'run', cm.run, 'saved', cm.ev_saved_s, 's, others', cm.others_delay_veh_s, 'veh-s');
  assert.deepEqual(errors, [], 'page errors');
  console.log('trust pages: all checks passed');
});
