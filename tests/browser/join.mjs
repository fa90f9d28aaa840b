// The patient side of a visit in a real headless Chromium, driven by playwright-core.
//
//   node tests/browser/join.mjs LINK SHOTDIR [--expect admitted|invalid|expired|withdrawn] [--name NAME]
//        [--reload] [--dob YYYY-MM-DD] [--restart]
//
// Opens LINK, and for `admitted` (the default) passes the device check with the fake
// camera, types a name, knocks, and waits to be let in. For `invalid` it waits for the
// page's link-error state. With --reload, once admitted it reloads the page, knocks
// again and waits in the lobby; the `admitted` and `rewaiting` steps carry the device
// ids read back from the page's IndexedDB (`devices`). With --dob the knock form must
// ask for the date of birth (the invite's signed flag) and gets it; without, it must not.
// With --restart, once admitted it waits (without any click) for the page to lose the relay,
// reconnect, knock again and be admitted again: the `readmitted` step lists the states seen.
// With --record, from the waiting room on it records every state the card passes through and
// every distinct text the waiting room shows (sampled every 200 ms) until admitted: the `admitted` step carries
// them as `states` and `texts` (the clinician's app may go away and come back meanwhile). One JSON line per step on stdout ({"step":"admitted"}), a
// screenshot per step in SHOTDIR; exit 0 on success, 1 with a message on failure or
// after 30 s in all.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { storedDevices as pageDevices } from './probes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../../ui/package.json'));
const { chromium } = require('playwright-core');

const TOTAL_MS = 30_000;

const args = process.argv.slice(2);
let expect = 'admitted';
let NAME = "Zoë O'Brien";
let reload = false;
let DOB = null;
let restart = false;
let record = false;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--expect') expect = args[++i];
  else if (args[i] === '--reload') reload = true;
  else if (args[i] === '--dob') DOB = args[++i];
  else if (args[i] === '--restart') restart = true;
  else if (args[i] === '--record') record = true;
  else if (args[i] === '--name') NAME = args[++i];
  else positional.push(args[i]);
}
const [link, shotDir] = positional;
// --expect denied: knock, then wait to be turned away; the step carries the reason shown.
const REFUSALS = {
  invalid: 'This link is not valid',
  expired: 'This link has expired',
  withdrawn: 'This link was withdrawn by your clinic',
};
if (!link || !shotDir || !['admitted', 'denied', ...Object.keys(REFUSALS)].includes(expect)) {
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

/** The device keys the page keeps in IndexedDB (probes.mjs). */
const storedDevices = (page) => page.evaluate(pageDevices);

/** From the `ready` card through the device check to a knock; returns the state after it. */
async function knockFlow(page, prefix = '') {
  await state(page, 'ready');
  await step(page, `${prefix}ready`);

  await page.getByTestId('start').click({ timeout: left() });
  await state(page, 'device_check');
  current = 'camera';
  await page.getByTestId('continue').waitFor({ timeout: left() });
  await page.locator('video.preview').waitFor({ timeout: left() });
  await step(page, `${prefix}device_check`);

  await page.getByTestId('continue').click({ timeout: left() });
  await state(page, 'knock_form');
  await page.getByTestId('name').fill(NAME, { timeout: left() });
  const dobField = page.getByLabel('Date of birth');
  const asked = (await dobField.count()) > 0;
  if (asked !== (DOB !== null)) throw new Error(`the knock form ${asked ? 'asks' : 'does not ask'} for the date of birth`);
  if (DOB !== null) await dobField.fill(DOB, { timeout: left() });
  await step(page, `${prefix}knock_form`, { dob_asked: asked });

  await page.getByTestId('knock').click({ timeout: left() });
  // The clinician may answer at once: the waiting state can be short-lived.
  current = `${prefix}waiting`;
  return page
    .getByTestId('card')
    .and(page.locator('[data-state="waiting"], [data-state="admitted"], [data-state="denied"]'))
    .getAttribute('data-state', { timeout: left() });
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
  } else if (expect === 'denied') {
    await knockFlow(page);
    await state(page, 'denied');
    const reason = await page.getByTestId('reason').textContent({ timeout: left() });
    await step(page, 'denied', { reason });
  } else {
    const seen = await knockFlow(page);
    if (record) {
      if (seen !== 'waiting') throw new Error(`after the knock the page is ${seen}, not waiting`);
      await page.evaluate(() => {
        const card = document.querySelector('[data-testid="card"]');
        window.__states = [card.getAttribute('data-state')];
        window.__texts = [];
        const sample = () => {
          // The waiting room's texts (other states are in __states).
          if (card.getAttribute('data-state') !== 'waiting') return;
          const text = card.innerText.replace(/\s+/g, ' ').trim();
          if (!window.__texts.includes(text)) window.__texts.push(text);
        };
        sample();
        window.__sampler = setInterval(sample, 200);
        new MutationObserver(() => window.__states.push(card.getAttribute('data-state'))).observe(card, {
          attributes: true,
          attributeFilter: ['data-state'],
        });
      });
    }
    if (seen === 'waiting') await step(page, 'waiting', { devices: await storedDevices(page) });
    else console.log(JSON.stringify({ step: 'waiting', ms: Date.now() - started, skipped: true }));

    await state(page, 'admitted');
    const recorded = record
      ? await page.evaluate(() => {
          clearInterval(window.__sampler);
          return { states: window.__states, texts: window.__texts };
        })
      : {};
    await step(page, 'admitted', { devices: await storedDevices(page), ...recorded });

    if (restart) {
      current = 'restart';
      // Record every state the card passes through from now on.
      await page.evaluate(() => {
        const card = document.querySelector('[data-testid="card"]');
        window.__states = [];
        new MutationObserver(() => window.__states.push(card.getAttribute('data-state'))).observe(card, {
          attributes: true,
          attributeFilter: ['data-state'],
        });
      });
      console.log(JSON.stringify({ step: 'watching', ms: Date.now() - started }));
      await page.waitForFunction(
        () => window.__states.includes('waiting') && window.__states.at(-1) === 'admitted',
        null,
        { timeout: left() },
      );
      const states = await page.evaluate(() => window.__states);
      await step(page, 'readmitted', { states, devices: await storedDevices(page) });
    }

    if (reload) {
      current = 'reload';
      await page.reload({ timeout: left() });
      const again = await knockFlow(page, 're');
      if (again !== 'waiting') throw new Error(`after the reload the page is ${again}, not waiting`);
      await step(page, 'rewaiting', { devices: await storedDevices(page) });
    }
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
