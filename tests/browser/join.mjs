// The patient side of a visit in a real headless Chromium, driven by playwright-core.
//
//   node tests/browser/join.mjs LINK SHOTDIR [--expect admitted|invalid|expired|withdrawn] [--name NAME]
//
// Opens LINK, and for `admitted` (the default) passes the device check with the fake
// camera, types a name, knocks, and waits to be let in. For `invalid` it waits for the
// page's link-error state. One JSON line per step on stdout ({"step":"admitted"}), a
// screenshot per step in SHOTDIR; exit 0 on success, 1 with a message on failure or
// after 30 s in all.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../../ui/package.json'));
const { chromium } = require('playwright-core');

const TOTAL_MS = 30_000;

const args = process.argv.slice(2);
let expect = 'admitted';
let NAME = "Zoë O'Brien";
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--expect') expect = args[++i];
  else if (args[i] === '--name') NAME = args[++i];
  else positional.push(args[i]);
}
const [link, shotDir] = positional;
const REFUSALS = {
  invalid: 'This link is not valid',
  expired: 'This link has expired',
  withdrawn: 'This link was withdrawn by your clinic',
};
if (!link || !shotDir || !['admitted', ...Object.keys(REFUSALS)].includes(expect)) {
  console.error('usage: node tests/browser/join.mjs LINK SHOTDIR [--expect admitted|invalid|expired|withdrawn] [--name NAME]');
  process.exit(2);
}

const started = Date.now();
const left = () => Math.max(1, TOTAL_MS - (Date.now() - started));
let current = 'launch';
let context = null;
const profile = mkdtempSync(join(tmpdir(), 'bedside-chromium-'));

async function cleanup() {
  try {
    await context?.close();
  } catch {
    // the browser is already gone
  }
  rmSync(profile, { recursive: true, force: true });
}

// A backstop: every wait below is bounded by what is left of TOTAL_MS.
const deadline = setTimeout(async () => {
  console.error(`timeout: no success within ${TOTAL_MS / 1000} s (stuck at step "${current}")`);
  await cleanup();
  process.exit(1);
}, TOTAL_MS + 2_000);

async function step(page, name, extra = {}) {
  await page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
  console.log(JSON.stringify({ step: name, ms: Date.now() - started, ...extra }));
}

/** Wait until the join card is in `kind`; fail early if it lands in another final state. */
async function state(page, kind) {
  current = kind;
  const card = page.getByTestId('card');
  await card.and(page.locator(`[data-state="${kind}"]`)).waitFor({ timeout: left() });
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
    timeout: left(),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`page console: ${m.text()}`);
  });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));

  current = 'open';
  const response = await page.goto(link, { timeout: left() });

  if (expect in REFUSALS) {
    // A token the relay refuses (forged, expired, withdrawn) gets the relay's own plain page;
    // a link the relay serves but the page rejects shows the page's link-error state.
    current = expect;
    const refused = page.getByText(REFUSALS[expect]);
    const pageError = page.getByTestId('card').and(page.locator('[data-state="link_error"]'));
    await refused.or(pageError).first().waitFor({ timeout: left() });
    const by = (await refused.count()) > 0 ? 'relay' : 'page';
    await step(page, expect, { by, status: response?.status() });
  } else {
    await state(page, 'ready');
    await step(page, 'ready');

    await page.getByTestId('start').click({ timeout: left() });
    await state(page, 'device_check');
    current = 'camera';
    await page.getByTestId('continue').waitFor({ timeout: left() });
    await page.locator('video.preview').waitFor({ timeout: left() });
    await step(page, 'device_check');

    await page.getByTestId('continue').click({ timeout: left() });
    await state(page, 'knock_form');
    await page.getByTestId('name').fill(NAME, { timeout: left() });
    await step(page, 'knock_form');

    await page.getByTestId('knock').click({ timeout: left() });
    // The host may admit at once: the waiting state can be short-lived.
    current = 'waiting';
    const seen = await page
      .getByTestId('card')
      .and(page.locator('[data-state="waiting"], [data-state="admitted"]'))
      .getAttribute('data-state', { timeout: left() });
    if (seen === 'waiting') await step(page, 'waiting');
    else console.log(JSON.stringify({ step: 'waiting', ms: Date.now() - started, skipped: true }));

    await state(page, 'admitted');
    await step(page, 'admitted');
  }
  clearTimeout(deadline);
  await cleanup();
  process.exit(0);
} catch (e) {
  clearTimeout(deadline);
  const what = e?.name === 'TimeoutError' ? `timeout (${TOTAL_MS / 1000} s in all)` : 'failed';
  console.error(`${what} at step "${current}": ${e?.message ?? e}`);
  await cleanup();
  process.exit(1);
}
