// The frame every Chromium check shares (run by scripts/test-web.sh): Debian's chromium
// through playwright-core, the check's failures printed, the process exit status set.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

/** Launch headless Chromium, run `check(browser)`, close it and exit 1 if the check threw. */
export async function run(check) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  let failed = false;
  try {
    await check(browser);
  } catch (e) {
    failed = true;
    console.error(e);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}
