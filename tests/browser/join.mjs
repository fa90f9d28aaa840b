// The patient side of a visit in a real headless Chromium, driven by playwright-core.
//
//   node tests/browser/join.mjs LINK SHOTDIR [--expect admitted|invalid|expired|withdrawn] [--name NAME]
//
// Opens LINK, and for `admitted` (the default) passes the device check with the fake
// camera, types a name, knocks, and waits to be let in. For `invalid` it waits for the
// page's link-error state. One JSON line per step on stdout ({"step":"admitted"}), a
// screenshot per step in SHOTDIR; exit 0 on success, 1 with a message on failure or
// after 30 s in all.

import { finish, knockAndWait, launch, run, step } from './patient.mjs';

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

const r = run(TOTAL_MS);
try {
  const page = await launch(r);
  r.current = 'open';
  const response = await page.goto(link, { timeout: r.left() });

  if (expect in REFUSALS) {
    // A token the relay refuses (forged, expired, withdrawn) gets the relay's own plain page;
    // a link the relay serves but the page rejects shows the page's link-error state.
    r.current = expect;
    const refused = page.getByText(REFUSALS[expect]);
    const pageError = page.getByTestId('card').and(page.locator('[data-state="link_error"]'));
    await refused.or(pageError).first().waitFor({ timeout: r.left() });
    const by = (await refused.count()) > 0 ? 'relay' : 'page';
    await step(r, page, shotDir, expect, { by, status: response?.status() });
  } else {
    await knockAndWait(r, page, shotDir, NAME);
  }
  await finish(r, null, TOTAL_MS);
} catch (e) {
  await finish(r, e, TOTAL_MS);
}
