// call.ts (the patient page's call logic) against real Chromium WebRTC, with a
// second RTCPeerConnection in the same page playing the clinician: the offer
// tag verifies, the answer is verified before setRemoteDescription, media
// flows both ways, an ICE restart goes through the real API, and an answer
// with a swapped DTLS fingerprint is refused before any media.
//
//   node tests/browser/call-smoke.mjs        (exit 0 = all checks passed)
//
// The end-to-end test against the Rust clinician lives with the media crate;
// this one pins the browser-API side of call.ts quickly (~10 s).

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ui = resolve(here, '../../ui');
const require = createRequire(resolve(ui, 'package.json'));
const { chromium } = require('playwright-core');
const { rolldown } = require('rolldown');

const dir = fs.mkdtempSync(resolve(os.tmpdir(), 'bedside-call-'));
const entry = resolve(dir, 'entry.ts');
const join = resolve(ui, 'src/join');
fs.writeFileSync(
  entry,
  `import { Call } from '${join}/call';\nimport * as crypto from '${join}/crypto';\n(globalThis as any).Bedside = { Call, crypto };\n`,
);
let bundle;
try {
  const b = await rolldown({ input: entry, logLevel: 'silent' });
  const out = await b.generate({ format: 'iife' });
  bundle = out.output[0].code;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const server = http.createServer((req, res) => {
  if (req.url === '/bundle.js') { res.setHeader('content-type', 'text/javascript'); res.end(bundle); return; }
  res.setHeader('content-type', 'text/html');
  res.end('<!doctype html><html><body><script src="/bundle.js"></script></body></html>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'] });
for (const tamper of [false, true]) {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  const out = await page.evaluate(async (tamper) => {
    const { Call, crypto } = globalThis.Bedside;
    const secret = new Uint8Array(32).map((_, i) => i);
    const visit = new Uint8Array(16).fill(7);
    const device = 'dev1';
    const kAuth = await crypto.sdpAuthKey(secret);
    const clin = new RTCPeerConnection();
    const s = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    s.getTracks().forEach((t) => clin.addTrack(t, s));
    let call;
    const errors = [];
    let q = Promise.resolve();
    clin.onicecandidate = (e) => { if (e.candidate) call.onRelay({ type: 'ice', candidate: JSON.stringify(e.candidate.toJSON()) }); };
    async function handle(m) {
      if (m.type === 'offer') {
        const id = crypto.sdpIdentity(m.sdp);
        const want = crypto.b64url(await crypto.offerTag(kAuth, visit, device, id));
        if (want !== m.tag) errors.push('bad offer tag');
        await clin.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        const ans = await clin.createAnswer();
        await clin.setLocalDescription(ans);
        const aid = crypto.sdpIdentity(ans.sdp);
        const tag = await crypto.answerTag(kAuth, visit, device, aid, crypto.fromB64url(m.tag));
        let sdp = ans.sdp;
        if (tamper) sdp = sdp.replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/g, (_, a, b) => a + (b === 'EE' ? 'EF' : 'EE'));
        await call.onRelay({ type: 'answer', sdp, tag: crypto.b64url(tag) });
      } else {
        try { await clin.addIceCandidate(JSON.parse(m.candidate)); } catch (e) { errors.push('clin addIce ' + e); }
      }
    }
    const counters = [];
    call = new Call({ secret, visit, device, turn: null, send: (m) => { q = q.then(() => handle(m)).catch((e) => errors.push(String(e))); },
      getUserMedia: (c) => navigator.mediaDevices.getUserMedia(c), onCounters: (c) => { globalThis.__c = c; } });
    await call.start();
    await new Promise((r) => setTimeout(r, 4000));
    const before = { ...globalThis.__c };
    if (!tamper) {
      await call.offer(true); // an ICE restart through the real browser
      await new Promise((r) => setTimeout(r, 3000));
    }
    const after = { ...globalThis.__c };
    const clinStats = [];
    (await clin.getStats()).forEach((r) => { if (r.type === 'inbound-rtp') clinStats.push([r.kind, r.framesDecoded ?? r.packetsReceived]); });
    call.close();
    return { before, after, errors, clinStats, clinFp: crypto.sdpIdentity(clin.localDescription.sdp).fingerprint.slice(0, 20) };
  }, tamper);
  console.log(JSON.stringify({ tamper, ...out }));
  const fail = (why) => {
    console.error(`FAIL (${tamper ? 'tampered' : 'honest'} answer): ${why}`);
    process.exitCode = 1;
  };
  if (out.errors.length) fail(out.errors.join('; '));
  if (tamper) {
    if (out.after.state !== 'refused' || out.after.authFailures !== 1) fail('the tampered answer was not refused');
    if (out.after.framesDecoded !== 0 || out.clinStats.length !== 0) fail('media flowed after a refusal');
  } else {
    if (out.before.state !== 'connected' || !out.before.verified || !/^\d{3} \d{3}$/.test(out.before.sas ?? '')) fail('no verified connection');
    if (!(out.before.framesDecoded > 10) || !(out.before.audioPacketsReceived > 50)) fail('no media from the clinician');
    if (out.after.iceRestarts !== 1 || out.after.state !== 'connected' || out.after.sas !== out.before.sas) fail('the ICE restart did not go through');
    if (!(out.after.framesDecoded > out.before.framesDecoded)) fail('media stopped after the ICE restart');
    if (!out.clinStats.some(([k, n]) => k === 'video' && n > 10)) fail('the clinician decoded no video');
  }
  await page.close();
}
await browser.close();
server.close();
