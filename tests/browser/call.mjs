// The patient's call in a real headless Chromium (fake camera and microphone), driven by
// playwright-core against the real join page.
//
//   node tests/browser/call.mjs LINK SHOTDIR [--seconds N] [--warmup S] [--expect media|audio-only|refused] [--name NAME]
//
// Joins and knocks like join.mjs, then, once admitted, lets the page make its call.
// `media` (the default): waits for the peer connection and the first decoded frame, lets
// S seconds (default 2) of warm-up pass, then measures N seconds (default 10) of inbound
// media with getStats and prints
//   {"step":"media","fps":…,"audio_pps":…,"frames":…,"width":…,"height":…,"codec":…,"sent_codec":…,"sas":…}
// With `--chat-send TEXT`, once the first frame is decoded the patient types TEXT in the chat
// box and presses Enter; with `--chat-expect TEXT`, after the measurement the page must show a
// clinician's chat message containing TEXT ({"step":"chat",…}).
// With `--send-back`, after that the page must go back to the waiting room (the clinician
// sends it back: {"step":"sent_back","returned":…} with a screenshot) and, once admitted
// again, make a new call whose video is decoded ({"step":"readmitted","frames":…,"sas":…}).
// `audio-only`: the same, but waits for the first audio packet instead of a frame (a
// clinician without a camera sends no video).
// `refused`: expects the page to refuse the clinician's answer (a swapped fingerprint)
// and no media to arrive; prints {"step":"refused",…}. Exit 0 on success, 1 otherwise.

import { finish, knockAndWait, launch, run, state, step } from './patient.mjs';

const args = process.argv.slice(2);
let seconds = 10;
let warmup = 2;
let expect = 'media';
let NAME = 'Call Test Patient';
let chatSend = null;
let chatExpect = null;
let sendBack = false;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seconds') seconds = Number(args[++i]);
  else if (args[i] === '--warmup') warmup = Number(args[++i]);
  else if (args[i] === '--expect') expect = args[++i];
  else if (args[i] === '--name') NAME = args[++i];
  else if (args[i] === '--chat-send') chatSend = args[++i];
  else if (args[i] === '--chat-expect') chatExpect = args[++i];
  else if (args[i] === '--send-back') sendBack = true;
  else positional.push(args[i]);
}
const [link, shotDir] = positional;
if (!link || !shotDir || !(seconds > 0) || !['media', 'audio-only', 'refused'].includes(expect)) {
  console.error('usage: node tests/browser/call.mjs LINK SHOTDIR [--seconds N] [--warmup S] [--expect media|audio-only|refused] [--name NAME]');
  process.exit(2);
}
const TOTAL_MS = 40_000 + (seconds + warmup) * 1000 + (chatSend || chatExpect ? 30_000 : 0) + (sendBack ? 120_000 : 0);

// Every RTCPeerConnection the page makes is kept in window.__pcs, so the test measures
// what the browser itself reports, whatever the page's own UI shows. The page's relay
// WebSocket and device id are kept too, for tests that talk to the relay as the page.
function hook() {
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...a) {
      super(...a);
      window.__pcs.push(this);
    }
  };
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      window.__ws = this;
    }
    send(data) {
      try {
        const m = JSON.parse(data);
        if (m.type === 'hello') window.__device = m.device_id;
      } catch {
        // not JSON: not ours to read
      }
      return super.send(data);
    }
  };
}

async function sample(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs?.at(-1);
    if (!pc) return { pcs: 0 };
    const out = { pcs: window.__pcs.length, state: pc.connectionState, t: performance.now() };
    const stats = await pc.getStats();
    const codecs = new Map();
    stats.forEach((s) => {
      if (s.type === 'codec') codecs.set(s.id, s.mimeType);
    });
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.frames = s.framesDecoded ?? 0;
        out.framesReceived = s.framesReceived ?? 0;
        out.framesDropped = s.framesDropped ?? 0;
        out.pliSent = s.pliCount ?? 0;
        out.nackSent = s.nackCount ?? 0;
        out.packetsLost = s.packetsLost ?? 0;
        out.videoBytes = s.bytesReceived ?? 0;
        out.width = s.frameWidth;
        out.height = s.frameHeight;
        out.codec = codecs.get(s.codecId);
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.audioPackets = s.packetsReceived ?? 0;
        out.audioCodec = codecs.get(s.codecId);
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.framesSent = s.framesSent ?? 0;
        out.sentCodec = codecs.get(s.codecId);
      }
    });
    return out;
  });
}

async function sas(page) {
  return page.evaluate(() => {
    const c = window.__bedsideCall;
    const fromApi = typeof c?.sas === 'function' ? c.sas() : c?.sas;
    if (fromApi) return String(fromApi);
    return document.body.innerText.match(/\b\d{3} \d{3}\b/)?.[0] ?? null;
  });
}

const sleep = (ms) => new Promise((f) => setTimeout(f, ms));

const r = run(TOTAL_MS);
try {
  const page = await launch(r, hook);
  r.current = 'open';
  await page.goto(link, { timeout: r.left() });
  await knockAndWait(r, page, shotDir, NAME);

  if (expect === 'media' || expect === 'audio-only') {
    r.current = 'first_frame';
    let first;
    for (;;) {
      first = await sample(page);
      if (first.state === 'failed') throw new Error('the peer connection failed');
      if (expect === 'audio-only' ? (first.audioPackets ?? 0) > 0 : (first.frames ?? 0) > 0) break;
      await sleep(100);
    }
    await step(r, page, shotDir, 'first_frame', { state: first.state });
    if (chatSend) {
      r.current = 'chat_send';
      await page.waitForFunction(() => window.__bedsideCall?.chatOpen === true, null, { timeout: r.left() });
      const box = page.getByTestId('chat-input');
      await box.fill(chatSend, { timeout: r.left() });
      await box.press('Enter', { timeout: r.left() });
      await page.locator('[data-testid="chat-message"][data-from="me"]').filter({ hasText: chatSend }).waitFor({ timeout: r.left() });
    }
    // The measured window starts after the warm-up (the encoders' and the
    // estimators' first seconds), then runs for `seconds`.
    r.current = 'warmup';
    await sleep(warmup * 1000);
    first = await sample(page);
    r.current = 'media';
    await sleep(seconds * 1000);
    const last = await sample(page);
    const dt = (last.t - first.t) / 1000;
    await step(r, page, shotDir, 'media', {
      seconds: dt,
      fps: (last.frames - first.frames) / dt,
      audio_pps: (last.audioPackets - first.audioPackets) / dt,
      frames: last.frames,
      frames_received: last.framesReceived - first.framesReceived,
      frames_dropped: last.framesDropped - first.framesDropped,
      pli_sent: last.pliSent,
      nack_sent: last.nackSent,
      packets_lost: last.packetsLost,
      frames_sent: last.framesSent,
      width: last.width,
      height: last.height,
      codec: last.codec,
      sent_codec: last.sentCodec,
      audio_codec: last.audioCodec,
      state: last.state,
      sas: await sas(page),
    });
    if (chatExpect) {
      r.current = 'chat';
      await page.locator('[data-testid="chat-message"][data-from="them"]').filter({ hasText: chatExpect }).waitFor({ timeout: r.left() });
      await step(r, page, shotDir, 'chat', {
        received: true,
        counters: await page.evaluate(() => ({ sent: window.__bedsideCall?.chatSent, received: window.__bedsideCall?.chatReceived })),
      });
    }
    if (sendBack) {
      // The clinician sends the patient back to the waiting room: the page says so.
      const before = await page.evaluate(() => window.__pcs.length);
      await state(r, page, 'waiting');
      const text = await page.evaluate(() => document.body.innerText);
      await step(r, page, shotDir, 'sent_back', {
        returned: /moved you back to the waiting room/i.test(text),
        pc_state: (await sample(page)).state ?? null,
      });
      // Admitted again: a new call, whose video is decoded.
      await state(r, page, 'admitted');
      r.current = 'readmitted';
      let again;
      for (;;) {
        again = await sample(page);
        if (again.pcs > before && (again.frames ?? 0) > 0) break;
        await sleep(100);
      }
      // Past the first frame: a couple of seconds of the new call.
      await sleep(2000);
      const later = await sample(page);
      await step(r, page, shotDir, 'readmitted', {
        pcs: later.pcs,
        frames: later.frames,
        state: later.state,
        sas: await sas(page),
      });
      // Stay in the call a moment: the clinician's window is checked while it runs.
      await sleep(3000);
    }
  } else {
    // The page must refuse the tampered answer: no connection, no frames.
    r.current = 'refused';
    await page
      .waitForFunction(() => window.__bedsideCall?.state === 'refused', null, { timeout: 15_000 })
      .catch(() => {});
    // Give any media that might still flow the time to show.
    await sleep(3_000);
    const s = await sample(page);
    const text = await page.evaluate(() => document.body.innerText);
    const call = await page.evaluate(() => {
      const c = window.__bedsideCall;
      return { state: c?.state ?? null, authFailures: c?.authFailures ?? null, verified: c?.verified ?? null };
    });
    await step(r, page, shotDir, 'refused', {
      state: s.state ?? null,
      frames: s.frames ?? 0,
      call,
      warning: /could not be (verified|authenticated)|tamper|not secure/i.test(text),
    });
  }
  await finish(r, null, TOTAL_MS);
} catch (e) {
  await finish(r, e, TOTAL_MS);
}
