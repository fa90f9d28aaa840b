// The patient's call in a real headless Chromium (fake camera and microphone), driven by
// playwright-core against the real join page.
//
//   node tests/browser/call.mjs LINK SHOTDIR [--seconds N] [--expect media|refused] [--name NAME] [--visit HEX]
//
// Joins and knocks like join.mjs, then, once admitted, lets the page make its call.
// `media` (the default): waits for the peer connection and the first decoded frame, then
// measures N seconds (default 10) of inbound media with getStats and prints
//   {"step":"media","fps":…,"audio_pps":…,"frames":…,"width":…,"height":…,"codec":…,"sas":…}
// `refused`: expects the page to refuse the clinician's answer (a swapped fingerprint)
// and no media to arrive; prints {"step":"refused",…}. Exit 0 on success, 1 otherwise.

import { finish, knockAndWait, launch, run, step } from './patient.mjs';

const args = process.argv.slice(2);
let seconds = 10;
let expect = 'media';
let NAME = 'Call Test Patient';
let visitHex = null;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seconds') seconds = Number(args[++i]);
  else if (args[i] === '--expect') expect = args[++i];
  else if (args[i] === '--name') NAME = args[++i];
  else if (args[i] === '--visit') visitHex = args[++i];
  else positional.push(args[i]);
}
const [link, shotDir] = positional;
if (!link || !shotDir || !(seconds > 0) || !['media', 'refused'].includes(expect)) {
  console.error('usage: node tests/browser/call.mjs LINK SHOTDIR [--seconds N] [--expect media|refused] [--name NAME] [--visit HEX]');
  process.exit(2);
}
const TOTAL_MS = 40_000 + seconds * 1000;

// Every RTCPeerConnection the page makes is kept in window.__pcs, so the test measures
// what the browser itself reports, whatever the page's own UI shows. The page's relay
// WebSocket and device id are kept too, for the stand-in call below.
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

// TEMPORARY stand-in for the join page's call UI (ui/src/join/call.ts, being written on
// another branch): used only when the page makes no peer connection of its own after
// admission. It follows the protocol the page will: getUserMedia, an offer tagged with
// K_auth, the answer tag verified before setRemoteDescription, trickle ICE, the SAS.
async function standIn(visitHex) {
  const enc = new TextEncoder();
  const subtle = crypto.subtle;
  const b64d = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0));
  const b64e = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const cat = (...p) => {
    const o = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
    let i = 0;
    for (const x of p) {
      o.set(x, i);
      i += x.length;
    }
    return o;
  };
  const lp = (fs) => cat(...fs.flatMap((f) => {
    const l = new Uint8Array(4);
    new DataView(l.buffer).setUint32(0, f.length);
    return [l, f];
  }));
  const hkdf = async (ikm, info) => {
    const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
    return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, k, 256));
  };
  const hmac = async (key, data) => {
    const k = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await subtle.sign('HMAC', k, data));
  };
  const identity = (sdp) => {
    let fingerprint, ufrag;
    for (const raw of sdp.split('\n')) {
      const line = raw.replace(/\r$/, '');
      if (!fingerprint && line.startsWith('a=fingerprint:')) {
        const [alg, hex] = line.slice(14).trim().split(/\s+/);
        fingerprint = `${alg.toLowerCase()} ${hex.toUpperCase()}`;
      }
      if (!ufrag && line.startsWith('a=ice-ufrag:')) ufrag = line.slice(12).trim();
    }
    return { fingerprint, ufrag };
  };
  const secret = b64d(location.hash.slice(1));
  const visit = Uint8Array.from(visitHex.match(/../g), (h) => parseInt(h, 16));
  const device = window.__device;
  const ws = window.__ws;
  const kAuth = await hkdf(secret, enc.encode('bedside sdp-auth v1'));
  const call = { state: 'calling', sas: null };
  window.__bedsideCall = call;
  const pc = new RTCPeerConnection();
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, frameRate: 30 }, audio: true });
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  pc.onicecandidate = (e) => {
    if (e.candidate) ws.send(JSON.stringify({ type: 'ice', candidate: JSON.stringify(e.candidate.toJSON()) }));
  };
  pc.onconnectionstatechange = () => {
    if (call.state !== 'auth_failed') call.state = pc.connectionState;
  };
  const pending = [];
  let remoteSet = false;
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const mine = identity(pc.localDescription.sdp);
  const offerTag = await hmac(kAuth, lp([enc.encode('offer'), visit, enc.encode(device), enc.encode(mine.fingerprint), enc.encode(mine.ufrag)]));
  ws.addEventListener('message', async (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'answer') {
      const theirs = identity(m.sdp);
      const want = await hmac(kAuth, lp([enc.encode('answer'), visit, enc.encode(device), enc.encode(theirs.fingerprint), enc.encode(theirs.ufrag), offerTag]));
      if (b64e(want) !== m.tag) {
        call.state = 'auth_failed';
        pc.close();
        return;
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      remoteSet = true;
      for (const c of pending.splice(0)) await pc.addIceCandidate(c);
      const [a, b] = [mine.fingerprint, theirs.fingerprint].sort();
      const okm = await hkdf(secret, cat(enc.encode('bedside sas v1'), enc.encode(a), new Uint8Array([0]), enc.encode(b)));
      const n = new DataView(okm.buffer).getUint32(0) % 1_000_000;
      call.sas = `${String(Math.floor(n / 1000)).padStart(3, '0')} ${String(n % 1000).padStart(3, '0')}`;
    } else if (m.type === 'ice' && call.state !== 'auth_failed') {
      const c = JSON.parse(m.candidate);
      if (remoteSet) await pc.addIceCandidate(c);
      else pending.push(c);
    }
  });
  ws.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp, tag: b64e(offerTag) }));
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
        out.videoBytes = s.bytesReceived ?? 0;
        out.width = s.frameWidth;
        out.height = s.frameHeight;
        out.codec = codecs.get(s.codecId);
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.audioPackets = s.packetsReceived ?? 0;
        out.audioCodec = codecs.get(s.codecId);
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') out.framesSent = s.framesSent ?? 0;
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

  // The page's own call, or (until it exists) the stand-in.
  r.current = 'call';
  const own = await page
    .waitForFunction(() => window.__pcs.length > 0 || window.__bedsideCall, null, { timeout: 3_000 })
    .then(() => true, () => false);
  if (!own) {
    if (!visitHex) throw new Error('the page made no call and no --visit was given for the stand-in');
    console.log(JSON.stringify({ step: 'stand_in', ms: Date.now() - r.started }));
    await page.evaluate(standIn, visitHex);
  }

  if (expect === 'media') {
    r.current = 'first_frame';
    let first;
    for (;;) {
      first = await sample(page);
      if (first.state === 'failed') throw new Error('the peer connection failed');
      if ((first.frames ?? 0) > 0) break;
      await sleep(100);
    }
    await step(r, page, shotDir, 'first_frame', { state: first.state });
    r.current = 'media';
    await sleep(seconds * 1000);
    const last = await sample(page);
    const dt = (last.t - first.t) / 1000;
    await step(r, page, shotDir, 'media', {
      seconds: dt,
      fps: (last.frames - first.frames) / dt,
      audio_pps: (last.audioPackets - first.audioPackets) / dt,
      frames: last.frames,
      frames_sent: last.framesSent,
      width: last.width,
      height: last.height,
      codec: last.codec,
      audio_codec: last.audioCodec,
      state: last.state,
      sas: await sas(page),
    });
  } else {
    // The page must refuse the tampered answer: no connection, no frames.
    r.current = 'refused';
    await sleep(Math.min(8_000, r.left() - 1_000));
    const s = await sample(page);
    const text = await page.evaluate(() => document.body.innerText);
    const call = await page.evaluate(() => {
      const c = window.__bedsideCall;
      const st = typeof c?.state === 'function' ? c.state() : c?.state;
      return st === undefined ? null : String(st);
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
