// Chat in a real call: the patient's headless Chromium (fake devices) on the real join
// page, against the real relay and the headless clinician (tests/tests/chat.rs).
//
//   node tests/browser/chat.mjs LINK SHOTDIR
//
// Joins, knocks, waits until the call is connected and the chat channel open, then:
//  1. types a message in the chat box and presses Enter (`sent`);
//  2. tries a 2,001-character message: the page refuses it inline, nothing is sent (`too_long`);
//  3. pushes three bad frames straight onto the page's chat data channel — 20 KB, an
//     unknown kind, a binary frame — which the clinician must refuse (`bad_frames`);
//  4. waits for the clinician's reply to appear in the chat log (`reply`), then sends a
//     second message and checks the call still decodes video (`after`).
// Prints one JSON line per step; exit 0 on success, 1 otherwise.

import { finish, knockAndWait, launch, run, step } from './patient.mjs';

const [link, shotDir] = process.argv.slice(2);
if (!link || !shotDir) {
  console.error('usage: node tests/browser/chat.mjs LINK SHOTDIR');
  process.exit(2);
}
const TOTAL_MS = 60_000;
const FIRST = 'Hello from the patient: my chest hurts';
const SECOND = 'Still here after the bad frames';
const REPLY = 'Hello from the clinician';

// Keeps the page's peer connections and data channels, so the test can push frames the
// page itself would never send.
function hook() {
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.__dcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...a) {
      super(...a);
      window.__pcs.push(this);
    }
    createDataChannel(...a) {
      const dc = super.createDataChannel(...a);
      window.__dcs.push(dc);
      return dc;
    }
  };
}

const counters = (page) =>
  page.evaluate(() => {
    const c = window.__bedsideCall ?? {};
    return {
      state: c.state,
      chatOpen: c.chatOpen,
      chatSent: c.chatSent,
      chatReceived: c.chatReceived,
      chatRefused: c.chatRefused,
      framesDecoded: c.framesDecoded,
      pc: window.__pcs?.at(-1)?.connectionState ?? null,
    };
  });

const sleep = (ms) => new Promise((f) => setTimeout(f, ms));

const r = run(TOTAL_MS);
try {
  const page = await launch(r, hook);
  r.current = 'open';
  await page.goto(link, { timeout: r.left() });
  await knockAndWait(r, page, shotDir, 'Chat Test Patient');

  r.current = 'chat_open';
  await page.waitForFunction(() => window.__bedsideCall?.state === 'connected' && window.__bedsideCall?.chatOpen === true, null, {
    timeout: r.left(),
  });
  const dcInfo = await page.evaluate(() => {
    const dc = window.__dcs?.[0];
    return dc ? { label: dc.label, negotiated: dc.negotiated, id: dc.id, ordered: dc.ordered } : null;
  });
  await step(r, page, shotDir, 'chat_open', { channel: dcInfo });

  // 1. A message typed by the patient, sent with Enter.
  r.current = 'sent';
  const box = page.getByTestId('chat-input');
  await box.fill(FIRST, { timeout: r.left() });
  await box.press('Enter', { timeout: r.left() });
  await page
    .locator('[data-testid="chat-message"][data-from="me"]')
    .filter({ hasText: FIRST })
    .waitFor({ timeout: r.left() });
  await step(r, page, shotDir, 'sent', await counters(page));

  // 2. Too long: refused on the page, with the inline message, and nothing sent.
  r.current = 'too_long';
  const before = (await counters(page)).chatSent;
  await box.fill('a'.repeat(2001), { timeout: r.left() });
  await page.getByTestId('chat-send').click({ timeout: r.left() });
  const error = await page.getByTestId('chat-error').textContent({ timeout: r.left() });
  const afterTooLong = await counters(page);
  await step(r, page, shotDir, 'too_long', { error, sentBefore: before, sentAfter: afterTooLong.chatSent });
  await box.fill('', { timeout: r.left() });

  // 3. Bad frames straight onto the channel: the clinician must refuse each.
  r.current = 'bad_frames';
  await page.evaluate(() => {
    const dc = window.__dcs[0];
    dc.send(JSON.stringify({ v: 1, kind: 'text', id: 'big', text: 'x'.repeat(20_000), sentAt: Date.now() }));
    dc.send(JSON.stringify({ v: 1, kind: 'file', id: 'f1', url: 'https://example.invalid/', sentAt: Date.now() }));
    dc.send(new Uint8Array([1, 2, 3]));
  });
  await step(r, page, shotDir, 'bad_frames', await counters(page));

  // 4. The clinician's reply arrives (it answers the first message).
  r.current = 'reply';
  await page
    .locator('[data-testid="chat-message"][data-from="them"]')
    .filter({ hasText: REPLY })
    .waitFor({ timeout: r.left() });
  const announced = await page.getByTestId('chat-announce').textContent();
  await step(r, page, shotDir, 'reply', { ...(await counters(page)), announced });

  // The call goes on: another message, and video still decoding.
  r.current = 'after';
  const framesBefore = (await counters(page)).framesDecoded;
  await box.fill(SECOND, { timeout: r.left() });
  await box.press('Enter', { timeout: r.left() });
  await page
    .locator('[data-testid="chat-message"][data-from="me"]')
    .filter({ hasText: SECOND })
    .waitFor({ timeout: r.left() });
  await sleep(2_000);
  const last = await counters(page);
  await step(r, page, shotDir, 'after', { ...last, framesGained: last.framesDecoded - framesBefore });
  // Let the clinician read the last frame before the browser goes.
  await sleep(1_000);
  await finish(r, null, TOTAL_MS);
} catch (e) {
  await finish(r, e, TOTAL_MS);
}
