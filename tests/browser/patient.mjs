// Shared by the patient-side driver scripts (join.mjs, call.mjs): launching the
// Debian Chromium with fake devices, the step log, and the join flow up to admission.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../../ui/package.json'));
const { chromium } = require('playwright-core');

/** Flags measured on this machine kind (see the recipes): fake camera and microphone, loopback ICE. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The fake camera runs at 20 fps unless told otherwise.
  '--use-fake-device-for-media-stream=fps=30',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/**
 * A run with an overall budget: `left()` is what remains of it, `current` names the
 * step in progress (for the timeout message), and `cleanup()` closes the browser.
 */
export function run(totalMs) {
  const r = {
    started: Date.now(),
    current: 'launch',
    context: null,
    profile: mkdtempSync(join(tmpdir(), 'bedside-chromium-')),
    left: () => Math.max(1, totalMs - (Date.now() - r.started)),
    async cleanup() {
      try {
        await r.context?.close();
      } catch {
        // the browser is already gone
      }
      rmSync(r.profile, { recursive: true, force: true });
    },
  };
  // A backstop: every wait is bounded by what is left of totalMs.
  r.deadline = setTimeout(async () => {
    console.error(`timeout: no success within ${totalMs / 1000} s (stuck at step "${r.current}")`);
    await r.cleanup();
    process.exit(1);
  }, totalMs + 2_000);
  return r;
}

/** Launches Chromium; returns its first page, with console errors forwarded to stderr. */
export async function launch(r, initScript) {
  r.context = await chromium.launchPersistentContext(r.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: r.left(),
  });
  if (initScript) await r.context.addInitScript(initScript);
  const page = r.context.pages()[0] ?? (await r.context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`page console: ${m.text()}`);
  });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  return page;
}

/** Logs one step as a JSON line, with a screenshot in shotDir. */
export async function step(r, page, shotDir, name, extra = {}) {
  await page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
  console.log(JSON.stringify({ step: name, ms: Date.now() - r.started, ...extra }));
}

/** Waits until the join card is in `kind`. */
export async function state(r, page, kind) {
  r.current = kind;
  const card = page.getByTestId('card');
  await card.and(page.locator(`[data-state="${kind}"]`)).waitFor({ timeout: r.left() });
}

/** From the ready page: device check with the fake camera, the name, the knock, admission. */
export async function knockAndWait(r, page, shotDir, name) {
  await state(r, page, 'ready');
  await step(r, page, shotDir, 'ready');

  await page.getByTestId('start').click({ timeout: r.left() });
  await state(r, page, 'device_check');
  r.current = 'camera';
  await page.getByTestId('continue').waitFor({ timeout: r.left() });
  await page.locator('video.preview').waitFor({ timeout: r.left() });
  await step(r, page, shotDir, 'device_check');

  await page.getByTestId('continue').click({ timeout: r.left() });
  await state(r, page, 'knock_form');
  await page.getByTestId('name').fill(name, { timeout: r.left() });
  await step(r, page, shotDir, 'knock_form');

  await page.getByTestId('knock').click({ timeout: r.left() });
  // The host may admit at once: the waiting state can be short-lived.
  r.current = 'waiting';
  const seen = await page
    .getByTestId('card')
    .and(page.locator('[data-state="waiting"], [data-state="admitted"]'))
    .getAttribute('data-state', { timeout: r.left() });
  if (seen === 'waiting') await step(r, page, shotDir, 'waiting');
  else console.log(JSON.stringify({ step: 'waiting', ms: Date.now() - r.started, skipped: true }));

  await state(r, page, 'admitted');
  await step(r, page, shotDir, 'admitted');
}

/** Ends the script: exit 0, or 1 with a message naming the step. */
export async function finish(r, error, totalMs) {
  clearTimeout(r.deadline);
  if (error) {
    const what = error?.name === 'TimeoutError' ? `timeout (${totalMs / 1000} s in all)` : 'failed';
    console.error(`${what} at step "${r.current}": ${error?.message ?? error}`);
  }
  await r.cleanup();
  process.exit(error ? 1 : 0);
}
