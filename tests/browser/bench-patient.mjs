// The patient of `cargo xtask bench media` (crates/bedside-host/benches/media.rs): the real
// join page in headless Chromium, driven like call.mjs but without screenshots after the
// knock (they would compete with the call for CPU) and with finer clocks.
//
//   node tests/browser/bench-patient.mjs LINK [--stats-after T] [--warmup W --hold S] [--canvas WxH] [--camera WxH]
//
// Prints JSON lines:
//   {"step":"knocked","at_ms":…}          wall-clock ms when the knock was sent
//   {"step":"first_frame","at_ms":…}      wall-clock ms when the first remote video frame
//                                         came out of Chromium's decoder (a clone of the
//                                         remote track read by MediaStreamTrackProcessor)
//   {"step":"inbound",…}                  with --stats-after T: T s after the first frame, the
//                                         receive counters of the remote audio and video
//                                         (getStats: jitter-buffer delay per frame, decode time)
//   {"step":"steady","g2g_ms":[…],…}      with --hold S: after W s of warm-up, the glass-to-glass
//                                         latency of every remote frame shown in that time
//                                         (expected display time − the stamp's capture time)
// --canvas WxH: the page's camera is a canvas stream at WxH, 30 fps, carrying the same stamp
// as bedside-codec's TestPattern (counter and capture µs, wall clock), so the clinician can
// measure patient→host latency. --camera WxH: the fake camera at WxH instead of its default.
// Exit 0 on success, 1 otherwise.

import { launch, run } from './patient.mjs';
import { readStampInPage } from './stamp.mjs';

const args = process.argv.slice(2);
let hold = 0;
let warmup = 0;
let statsAfter = 0;
let canvas = null;
let camera = null;
const positional = [];
const size = (s) => {
  const m = /^(\d+)x(\d+)$/.exec(s ?? '');
  return m ? { w: Number(m[1]), h: Number(m[2]) } : null;
};
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--hold') hold = Number(args[++i]);
  else if (args[i] === '--warmup') warmup = Number(args[++i]);
  else if (args[i] === '--stats-after') statsAfter = Number(args[++i]);
  else if (args[i] === '--canvas') canvas = size(args[++i]);
  else if (args[i] === '--camera') camera = size(args[++i]);
  else positional.push(args[i]);
}
const [link] = positional;
if (!link || !(hold >= 0)) {
  console.error('usage: node tests/browser/bench-patient.mjs LINK [--hold S] [--canvas WxH] [--camera WxH]');
  process.exit(2);
}
const TOTAL_MS = 60_000 + (statsAfter + warmup + hold) * 1000;

/** Runs in the page before its scripts: first-frame clock, optional canvas or sized camera. */
function hook(opts) {
  const wall = () => performance.timeOrigin + performance.now();
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.__firstFrameAt = null;
  window.RTCPeerConnection = class extends Original {
    constructor(...a) {
      super(...a);
      window.__pcs.push(this);
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected' && !window.__connectedAt) window.__connectedAt = wall();
      });
      if (opts.trace) {
        // Diagnostics only (BENCH_TRACE=1): the inbound video counters every 10 ms.
        window.__trace = [];
        const pc = this;
        const poll = async () => {
          const st = await pc.getStats();
          st.forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') {
              const row = [Math.round(wall()), s.packetsReceived, s.framesReceived, s.framesDecoded, s.keyFramesDecoded, s.pliCount, s.firCount, s.nackCount].join(' ');
              if (window.__trace.at(-1)?.slice(14) !== row.slice(14)) window.__trace.push(row);
            }
          });
          if (!window.__firstFrameAt || window.__trace.length < 3) setTimeout(poll, 10);
        };
        poll();
      }
      this.addEventListener('track', (ev) => {
        if (ev.track.kind !== 'video' || window.__watching) return;
        window.__watching = true;
        // A clone, so reading and cancelling it leaves the page's own track alone.
        const clone = ev.track.clone();
        const reader = new MediaStreamTrackProcessor({ track: clone }).readable.getReader();
        reader.read().then(({ value }) => {
          window.__firstFrameAt = wall();
          value?.close();
          reader.cancel().catch(() => {});
          clone.stop();
        });
      });
    }
  };
  if (!opts.canvas && !opts.camera) return;
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    if (opts.camera && c?.video) {
      const video = { width: { exact: opts.camera.w }, height: { exact: opts.camera.h }, frameRate: 30 };
      return gum({ ...c, video });
    }
    if (!opts.canvas || !c?.video) return gum(c);
    const { w, h } = opts.canvas;
    const cv = document.createElement('canvas');
    cv.width = w;
    cv.height = h;
    const ctx = cv.getContext('2d');
    const crcTable = Array.from({ length: 256 }, (_, n) => {
      let x = n;
      for (let k = 0; k < 8; k++) x = x & 1 ? 0xedb88320 ^ (x >>> 1) : x >>> 1;
      return x >>> 0;
    });
    let counter = 0;
    const draw = () => {
      const t = wall();
      // Moving content, as the test pattern has, so the encoder does real work.
      ctx.fillStyle = `hsl(${(counter * 3) % 360} 40% 45%)`;
      ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = '#d0d060';
      const x = (counter * 7) % Math.max(1, w - 80);
      ctx.fillRect(x, h / 2, 80, 80);
      // The stamp: counter u32 BE ‖ capture µs u64 BE ‖ CRC-32 BE, MSB first, 16×8 cells.
      const m = new Uint8Array(16);
      const dv = new DataView(m.buffer);
      dv.setUint32(0, counter >>> 0);
      dv.setBigUint64(4, BigInt(Math.round(t * 1000)));
      let crc = 0xffffffff;
      for (let k = 0; k < 12; k++) crc = crcTable[(crc ^ m[k]) & 0xff] ^ (crc >>> 8);
      dv.setUint32(12, (crc ^ 0xffffffff) >>> 0);
      const cell = w >= 256 && h >= 128 ? 16 : 8;
      for (let bit = 0; bit < 128; bit++) {
        const on = (m[bit >> 3] >> (7 - (bit & 7))) & 1;
        ctx.fillStyle = on ? '#ffffff' : '#000000';
        ctx.fillRect((bit % 16) * cell, Math.floor(bit / 16) * cell, cell, cell);
      }
      counter++;
    };
    draw();
    setInterval(draw, 1000 / 30);
    const stream = cv.captureStream(30);
    // Keep the resolution under CPU or bandwidth pressure (drop frames instead), or the
    // stamp's cells shrink below what the host's reader takes.
    stream.getVideoTracks().forEach((t) => {
      t.contentHint = 'detail';
    });
    if (c.audio) {
      const mic = await gum({ audio: c.audio });
      mic.getAudioTracks().forEach((t) => stream.addTrack(t));
    }
    return stream;
  };
}

/**
 * In the page: for `ms`, read the stamp of every frame the remote <video> presents. Only the
 * stamp's corner (256×128 px) is copied out, so the reading costs the page little.
 */
function glassToGlass(ms, readStamp) {
  return new Promise((resolve) => {
    const video = document.querySelector('[data-testid=remote-video]');
    const corner = document.createElement('canvas');
    corner.id = 'bench-stamp-corner';
    corner.width = 256;
    corner.height = 128;
    corner.style.display = 'none';
    document.body.append(corner);
    const ctx = corner.getContext('2d', { willReadFrequently: true });
    const out = [];
    let unread = 0;
    const end = performance.now() + ms;
    const onFrame = (now, meta) => {
      const shown = performance.timeOrigin + (meta.expectedDisplayTime ?? now);
      // The stamp's cells are 16 px from 256×128 up: copy that corner 1:1.
      ctx.drawImage(video, 0, 0, 256, 128, 0, 0, 256, 128);
      const stamp = readStamp('#bench-stamp-corner');
      if (stamp) out.push(shown - Number(BigInt(stamp.captureMicros)) / 1000);
      else unread++;
      if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
      else resolve({ g2g_ms: out, unread, width: video.videoWidth, height: video.videoHeight });
    };
    video.requestVideoFrameCallback(onFrame);
  });
}

/** In the page: the remote video's receive counters (getStats), for the report. */
async function inbound() {
  const stats = await window.__pcs.at(-1).getStats();
  let v = {};
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      v.audio_jitter_buffer_ms = (1000 * s.jitterBufferDelay) / Math.max(1, s.jitterBufferEmittedCount);
      v.audio_jitter_ms = 1000 * s.jitter;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      v = {
        ...v,
        video_jitter_ms: 1000 * s.jitter,
        decoded: s.framesDecoded,
        dropped: s.framesDropped,
        jitter_buffer_ms: (1000 * s.jitterBufferDelay) / Math.max(1, s.jitterBufferEmittedCount),
        decode_ms: (1000 * s.totalDecodeTime) / Math.max(1, s.framesDecoded),
        processing_ms: (1000 * (s.totalProcessingDelay ?? 0)) / Math.max(1, s.framesDecoded),
      };
    }
  });
  return v;
}

const log = (name, extra) => console.log(JSON.stringify({ step: name, ...extra }));
const sleep = (ms) => new Promise((f) => setTimeout(f, ms));

const r = run(TOTAL_MS);
try {
  const page = await launch(r, `(${hook})(${JSON.stringify({ canvas, camera, trace: !!process.env.BENCH_TRACE })})`);
  r.current = 'open';
  await page.goto(link, { timeout: r.left() });
  // The join flow of patient.mjs's knockAndWait, without its screenshots.
  const card = (kind) => page.getByTestId('card').and(page.locator(`[data-state="${kind}"]`));
  r.current = 'ready';
  await card('ready').waitFor({ timeout: r.left() });
  await page.getByTestId('start').click({ timeout: r.left() });
  r.current = 'camera';
  await page.locator('video.preview').waitFor({ timeout: r.left() });
  await page.getByTestId('continue').click({ timeout: r.left() });
  r.current = 'knock_form';
  await page.getByTestId('name').fill('Bench Patient', { timeout: r.left() });
  await page.getByTestId('knock').click({ timeout: r.left() });
  log('knocked', { at_ms: Date.now() });

  r.current = 'first_frame';
  const handle = await page.waitForFunction(() => window.__firstFrameAt, null, {
    timeout: r.left(),
    polling: 20,
  });
  log('first_frame', { at_ms: await handle.jsonValue(), connected_ms: await page.evaluate(() => window.__connectedAt) });
  if (process.env.BENCH_TRACE) console.error((await page.evaluate(() => window.__trace)).join('\n'));
  if (statsAfter > 0) {
    r.current = 'inbound';
    await sleep(statsAfter * 1000);
    log('inbound', await page.evaluate(inbound));
  }

  if (hold > 0) {
    r.current = 'steady';
    await sleep(warmup * 1000);
    // A string expression: the page's CSP forbids eval, not what the driver evaluates.
    const g2g = await page.evaluate(`(${glassToGlass})(${hold * 1000}, ${readStampInPage})`);
    log('steady', { ...g2g, inbound: await page.evaluate(inbound) });
  }
  clearTimeout(r.deadline);
  await r.cleanup();
  process.exit(0);
} catch (e) {
  clearTimeout(r.deadline);
  console.error(`failed at step "${r.current}": ${e?.message ?? e}`);
  await r.cleanup();
  process.exit(1);
}
