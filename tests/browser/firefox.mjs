// The patient side of a visit in real headless Firefox (Debian's firefox-esr), driven by
// puppeteer-core over WebDriver BiDi. Playwright cannot drive a stock Firefox (it needs
// its own patched build), so Firefox gets this driver; Chromium keeps join.mjs/call.mjs.
//
//   node tests/browser/firefox.mjs LINK SHOTDIR [--expect admitted|media|invalid|expired|withdrawn]
//        [--name NAME] [--reload] [--devices fake|blocked|none] [--forward LOCALPORT=HOST:PORT] [--seconds N]
//        [--iface IF --down S]
//
// `admitted` (the default): passes the device check with Firefox's fake camera and
// microphone, types the name, knocks, waits to be let in; the `admitted` step carries the
// device keys read back from the page's IndexedDB (`devices`: id, extractable, exported)
// and the CSP violations Firefox reported (`csp_violations`, also on the `media` step).
// With --reload it then reloads, knocks again, and the `rewaiting` step carries them again.
// --devices blocked (fake devices, camera and microphone permission denied) or none (no
// devices at all): the device check must say so; the `device_check` step carries its alert's
// text (`message`), then the patient continues without camera, knocks and is let in.
// `media`: once admitted, waits for the page's call to decode the clinician's video, then
// measures N seconds (default 6) of inbound and outbound media with getStats on the page's
// own RTCPeerConnection:
//   {"step":"media","frames_before":…,"frames":…,"fps":…,"audio_packets":…,"frames_sent":…,"codec":…,…}
// `invalid|expired|withdrawn`: the relay's plain refusal page (or the page's link_error
// state), step {"step":EXPECT,"by":"relay"|"page","status":HTTP status}.
// With --iface IF --down S (media only), after the measurement the namespace's link IF goes
// down for S seconds and comes back; the page must restart ICE by itself and Firefox decode
// the clinician's video again (then it stays 5 s in the call):
//   {"step":"resumed","frames_at_up":…,"frames":…,"ice_restarts":…,"states":[…],"cards":[…]}
// --forward LOCALPORT=HOST:PORT serves 127.0.0.1:LOCALPORT here and carries it to HOST:PORT
// (run inside a network namespace: the link stays on 127.0.0.1, a secure context, while
// Firefox's media goes over the namespace's veth; Firefox gathers no loopback candidates).
// One JSON line per step on stdout, a screenshot per step in SHOTDIR; exit 0 on success,
// 1 with a message naming the step on failure or when the time budget runs out.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { cspListen, cspProbe, storedDevices as pageDevices } from './probes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../../ui/package.json'));
const puppeteer = require('puppeteer-core');

const FIREFOX = '/usr/bin/firefox-esr';

/** Firefox's own switches for a test patient: fake devices, no prompt, nothing phoning home. */
const PREFS = {
  'app.update.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
};

const args = process.argv.slice(2);
let expect = 'admitted';
let NAME = 'Firefox Test Patient';
let reload = false;
let forward = null;
let seconds = 6;
let devices = 'fake';
let iface = null;
let downS = 0;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--expect') expect = args[++i];
  else if (args[i] === '--name') NAME = args[++i];
  else if (args[i] === '--reload') reload = true;
  else if (args[i] === '--forward') forward = args[++i];
  else if (args[i] === '--seconds') seconds = Number(args[++i]);
  else if (args[i] === '--devices') devices = args[++i];
  else if (args[i] === '--iface') iface = args[++i];
  else if (args[i] === '--down') downS = Number(args[++i]);
  else positional.push(args[i]);
}
const [link, shotDir] = positional;
const REFUSALS = {
  invalid: 'This link is not valid',
  expired: 'This link has expired',
  withdrawn: 'This link was withdrawn by your clinic',
};
const fwd = forward === null ? null : /^(\d+)=([\d.]+):(\d+)$/.exec(forward);
if (
  !link ||
  !shotDir ||
  !['admitted', 'media', ...Object.keys(REFUSALS)].includes(expect) ||
  (forward !== null && !fwd) ||
  !['fake', 'blocked', 'none'].includes(devices) ||
  (downS > 0 && (!iface || expect !== 'media')) ||
  !(seconds > 0)
) {
  console.error(
    'usage: node tests/browser/firefox.mjs LINK SHOTDIR [--expect admitted|media|invalid|expired|withdrawn] [--name NAME] [--reload] [--devices fake|blocked|none] [--forward LOCALPORT=HOST:PORT] [--seconds N] [--iface IF --down S]',
  );
  process.exit(2);
}

/** The camera and microphone Firefox offers the page. */
const DEVICES = {
  // Firefox's fake camera and microphone, granted without a prompt.
  fake: {
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    'permissions.default.camera': 1,
    'permissions.default.microphone': 1,
  },
  // The fake devices exist, but the patient blocked them.
  blocked: {
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': false,
    'permissions.default.camera': 2,
    'permissions.default.microphone': 2,
  },
  // No fake devices; this machine has no real ones.
  none: {
    'media.navigator.streams.fake': false,
    'media.navigator.permission.disabled': true,
  },
}[devices];

const TOTAL_MS = expect === 'media' ? 60_000 + seconds * 1000 + (downS > 0 ? 60_000 + downS * 1000 : 0) : 45_000;
const started = Date.now();
const left = () => Math.max(1, TOTAL_MS - (Date.now() - started));
const sleep = (ms) => new Promise((f) => setTimeout(f, ms));
let current = 'launch';
let browser = null;
const profile = mkdtempSync(join(tmpdir(), 'bedside-firefox-'));

function linkSet(state) {
  execFileSync('ip', ['link', 'set', 'dev', iface, state], { stdio: 'inherit' });
}

async function cleanup() {
  if (downS > 0) {
    try {
      linkSet('up');
    } catch {
      // the namespace is going away anyway
    }
  }
  try {
    await browser?.close();
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

const card = (kinds) => kinds.map((k) => `[data-testid="card"][data-state="${k}"]`).join(', ');

/** Waits until the join card is in `kind`. */
async function state(page, kind) {
  current = kind;
  await page.waitForSelector(card([kind]), { timeout: left() });
}

/** Forwards 127.0.0.1:LOCALPORT to HOST:PORT, one upstream connection per client. */
async function forwarder(localPort, host, port) {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(localPort, '127.0.0.1', ok);
  });
  server.unref();
}

// Every RTCPeerConnection the page makes is kept in window.__pcs (and every CSP violation
// in window.__csp: cspListen), so the test measures what Firefox itself reports, whatever
// the page's own UI shows.
function pcHook() {
  const Original = window.RTCPeerConnection;
  if (!Original) return;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...a) {
      super(...a);
      window.__pcs.push(this);
    }
  };
}

/** The device keys in the page's IndexedDB (probes.mjs). */
const storedDevices = (page) => page.evaluate(pageDevices);

/** From the `ready` card through the device check and the knock to admission. */
async function knockAndWait(page, prefix = '') {
  await state(page, 'ready');
  await step(page, `${prefix}ready`);

  await page.click('[data-testid="start"]');
  await state(page, 'device_check');
  current = 'camera';
  if (devices !== 'fake') {
    // Firefox refuses the camera: the card says why and offers to go on without it.
    const skip = '[data-testid="card"] button.link';
    const alert = await page.waitForSelector('[data-testid="card"][data-state="device_check"] [role="alert"]', {
      timeout: left(),
    });
    const message = await alert.evaluate((el) => el.innerText.replace(/\s+/g, ' ').trim());
    const preview = (await page.$('video.preview')) !== null;
    await step(page, `${prefix}device_check`, { message, preview });
    await page.click(skip);
    return knock(page, prefix);
  }
  await page.waitForSelector('[data-testid="continue"]', { timeout: left() });
  await page.waitForSelector('video.preview', { timeout: left() });
  // The fake camera really plays in the preview (not only an element on the page).
  await page.waitForFunction(
    () => {
      const v = document.querySelector('video.preview');
      return !!v && v.videoWidth > 0 && v.readyState >= 2;
    },
    { timeout: left() },
  );
  const preview = await page.evaluate(() => {
    const v = document.querySelector('video.preview');
    const s = v.srcObject;
    return { width: v.videoWidth, height: v.videoHeight, tracks: s ? s.getTracks().map((t) => t.kind).sort() : [] };
  });
  await step(page, `${prefix}device_check`, { preview });

  await page.click('[data-testid="continue"]');
  return knock(page, prefix);
}

/** From the knock form to the state after the knock. */
async function knock(page, prefix) {
  await state(page, 'knock_form');
  await page.type('[data-testid="name"]', NAME);
  const dobAsked = (await page.$('input[type="date"]')) !== null;
  await step(page, `${prefix}knock_form`, { dob_asked: dobAsked });

  await page.click('[data-testid="knock"]');
  // The host may admit at once: the waiting state can be short-lived.
  current = `${prefix}waiting`;
  const first = await page.waitForSelector(card(['waiting', 'admitted', 'denied']), { timeout: left() });
  return first.evaluate((el) => el.getAttribute('data-state'));
}

/** What Firefox reports for the page's latest peer connection. */
async function sample(page) {
  return page.evaluate(async () => {
    const pc = window.__pcs?.at(-1);
    if (!pc) return { pcs: 0 };
    const out = { pcs: window.__pcs.length, state: pc.connectionState, ice: pc.iceConnectionState, t: performance.now() };
    const stats = await pc.getStats();
    const codecs = new Map();
    stats.forEach((s) => {
      if (s.type === 'codec') codecs.set(s.id, s.mimeType);
    });
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.frames = s.framesDecoded ?? 0;
        out.width = s.frameWidth;
        out.height = s.frameHeight;
        out.codec = codecs.get(s.codecId);
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.audioPackets = s.packetsReceived ?? 0;
        out.audioCodec = codecs.get(s.codecId);
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.framesSent = s.framesEncoded ?? s.framesSent ?? 0;
        out.pliReceived = s.pliCount ?? 0;
        out.firReceived = s.firCount ?? 0;
        out.keyFramesSent = s.keyFramesEncoded ?? null;
        out.videoBytesSent = s.bytesSent ?? 0;
        out.sentCodec = codecs.get(s.codecId);
      }
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out.audioSent = s.packetsSent ?? 0;
    });
    // What the patient sees: the page's remote <video> playing, not only frames decoded.
    const v = document.querySelector('[data-testid="remote-video"]');
    out.remote = v
      ? { paused: v.paused, muted: v.muted, readyState: v.readyState, width: v.videoWidth, time: v.currentTime }
      : null;
    const call = window.__bedsideCall;
    out.page = call ? { state: call.state, frames: call.framesDecoded, sas: call.sas, verified: call.verified } : null;
    return out;
  });
}

try {
  if (fwd) await forwarder(Number(fwd[1]), fwd[2], Number(fwd[3]));
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: { ...PREFS, ...DEVICES },
    timeout: left(),
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  page.setDefaultTimeout(left());
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`page console: ${m.text()}`);
  });
  // The CSP probe's blocked inline script is expected: not logged as an error.
  page.on('pageerror', (e) => {
    if (!(current === 'csp_probe' && e.message.startsWith('Content-Security-Policy'))) console.error(`page error: ${e.message}`);
  });
  await page.evaluateOnNewDocument(cspListen);
  await page.evaluateOnNewDocument(pcHook);
  console.log(JSON.stringify({ step: 'launched', ms: Date.now() - started, version: await browser.version() }));

  current = 'open';
  const response = await page.goto(link, { timeout: left() });

  if (expect in REFUSALS) {
    // A token the relay refuses gets the relay's own plain page; a link the relay
    // serves but the page rejects shows the page's link-error state.
    current = expect;
    const text = REFUSALS[expect];
    await page.waitForFunction(
      (t) => document.body?.innerText.includes(t) || !!document.querySelector('[data-testid="card"][data-state="link_error"]'),
      { timeout: left() },
      text,
    );
    const by = (await page.evaluate((t) => document.body.innerText.includes(t), text)) ? 'relay' : 'page';
    await step(page, expect, { by, status: response?.status() });
  } else {
    const seen = await knockAndWait(page);
    if (seen === 'waiting') await step(page, 'waiting');
    else console.log(JSON.stringify({ step: 'waiting', ms: Date.now() - started, skipped: true }));
    await state(page, 'admitted');
    await step(page, 'admitted', {
      devices: await storedDevices(page),
      csp_violations: await page.evaluate(() => window.__csp ?? null),
    });

    if (expect === 'admitted') {
      // A positive control: an inline script injected now must be blocked by the relay's
      // CSP, and reported — so an empty list above means no violation, not a deaf listener.
      current = 'csp_probe';
      const probe = await page.evaluate(cspProbe);
      console.log(JSON.stringify({ step: 'csp_probe', ms: Date.now() - started, ...probe }));
    }

    if (reload) {
      current = 'reload';
      await page.reload({ timeout: left() });
      const again = await knockAndWait(page, 're');
      await step(page, 'rewaiting', { card: again, devices: await storedDevices(page) });
    }

    if (expect === 'media') {
      current = 'first_frame';
      let s;
      for (;;) {
        s = await sample(page);
        if (s.state === 'failed') throw new Error(`the peer connection failed: ${JSON.stringify(s)}`);
        if ((s.frames ?? 0) > 0) break;
        if (left() < seconds * 1000 + 5_000) throw new Error(`no video decoded: ${JSON.stringify(s)}`);
        await sleep(200);
      }
      await step(page, 'first_frame', { state: s.state });
      current = 'media';
      const first = await sample(page);
      await sleep(seconds * 1000);
      const last = await sample(page);
      const dt = (last.t - first.t) / 1000;
      await step(page, 'media', {
        csp_violations: await page.evaluate(() => window.__csp ?? null),
        seconds: dt,
        frames_before: first.frames,
        frames: last.frames,
        fps: (last.frames - first.frames) / dt,
        audio_packets: (last.audioPackets ?? 0) - (first.audioPackets ?? 0),
        frames_sent: (last.framesSent ?? 0) - (first.framesSent ?? 0),
        audio_sent: (last.audioSent ?? 0) - (first.audioSent ?? 0),
        width: last.width,
        height: last.height,
        codec: last.codec,
        sent_codec: last.sentCodec,
        audio_codec: last.audioCodec,
        state: last.state,
        remote_video: last.remote,
        remote_played_s: last.remote && first.remote ? last.remote.time - first.remote.time : 0,
        page: last.page,
      });

      if (downS > 0) {
        current = 'link_down';
        linkSet('down');
        await step(page, 'link_down', { frames: (await sample(page)).frames });
        const seen = { states: [], cards: [] };
        const watch = async () => {
          const x = await sample(page);
          const card = await page.evaluate(() => document.querySelector('[data-testid="card"]')?.getAttribute('data-state') ?? null);
          if (x.page && !seen.states.includes(x.page.state)) seen.states.push(x.page.state);
          if (!seen.cards.includes(card)) seen.cards.push(card);
          return x;
        };
        const downUntil = Date.now() + downS * 1000;
        while (Date.now() < downUntil) {
          await watch();
          await sleep(250);
        }
        current = 'link_up';
        linkSet('up');
        const atUp = await watch();
        await step(page, 'link_up', { frames: atUp.frames, states: seen.states });
        current = 'resumed';
        let x = atUp;
        while (!(x.page?.state === 'connected' && x.frames > atUp.frames + 60)) {
          if (left() < 3_000) throw new Error(`video did not resume: ${JSON.stringify({ x, seen })}`);
          await sleep(250);
          x = await watch();
        }
        // Stay in the call a while: the clinician's side needs time to be seen to resume too.
        current = 'hold';
        await sleep(5_000);
        const counters = await page.evaluate(() => ({
          iceRestarts: window.__bedsideCall?.iceRestarts ?? 0,
          offersSent: window.__bedsideCall?.offersSent ?? 0,
        }));
        const held = await sample(page);
        await step(page, 'resumed', {
          frames_sent_at_up: atUp.framesSent,
          frames_sent: held.framesSent,
          pli_received: held.pliReceived,
          fir_received: held.firReceived,
          key_frames_sent: held.keyFramesSent,
          video_bytes_sent_at_up: atUp.videoBytesSent,
          video_bytes_sent: held.videoBytesSent,
          frames_at_up: atUp.frames,
          frames: x.frames,
          ice_restarts: counters.iceRestarts,
          offers_sent: counters.offersSent,
          pcs: x.pcs,
          states: seen.states,
          cards: seen.cards,
        });
      }
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
