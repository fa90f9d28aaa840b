// The baseline clinician of `cargo xtask bench media`: a headless Chromium page that
// answers the patient's offer and decodes its video, in place of bedside-media's peer.
// The bench (crates/bedside-host/benches/media.rs) speaks the clinician's relay protocol
// and computes the tags; this script only holds the browser's peer connection.
//
//   node tests/browser/bench-clinician.mjs [--camera WxH]
//
// JSON lines on stdin: {"offer": SDP}, {"candidate": JSON RTCIceCandidateInit}, {"close": true}.
// JSON lines on stdout: {"ready": true} once the camera runs, {"answer": SDP},
// {"candidate": JSON} (trickled), {"first_frame_at": wall ms} (first remote video frame out
// of the decoder, read as on the patient's side), {"connected_at": wall ms}, {"closed": true}.
// The page is one empty document on a loopback HTTP server (a secure context for the camera).
// Exits when stdin closes.

import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import { launch, run } from './patient.mjs';

const args = process.argv.slice(2);
let camera = { w: 640, h: 480 };
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--camera') {
    const m = /^(\d+)x(\d+)$/.exec(args[++i] ?? '');
    if (!m) {
      console.error('usage: node tests/browser/bench-clinician.mjs [--camera WxH]');
      process.exit(2);
    }
    camera = { w: Number(m[1]), h: Number(m[2]) };
  }
}

const out = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);

const server = createServer((_, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>clinician</title>');
});
await new Promise((f) => server.listen(0, '127.0.0.1', f));
const origin = `http://127.0.0.1:${server.address().port}`;

// The whole life of the script: the bench closes stdin when it is done.
const r = run(24 * 3600 * 1000);
const page = await launch(r);
await page.exposeFunction('__out', (m) => out(m));
await page.goto(`${origin}/`);
await page.evaluate(async (cam) => {
  const wall = () => performance.timeOrigin + performance.now();
  // The camera runs before any call, as a clinician's preview does; the Rust host's
  // synthetic source needs no warm-up either.
  window.__stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: { exact: cam.w }, height: { exact: cam.h }, frameRate: 30 },
  });
  window.__answer = async (sdp) => {
    const pc = new RTCPeerConnection();
    window.__pc = pc;
    window.__pending = window.__pending ?? [];
    pc.onicecandidate = (ev) => {
      if (ev.candidate) window.__out({ candidate: JSON.stringify(ev.candidate.toJSON()) });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') window.__out({ connected_at: wall() });
    };
    let watching = false;
    pc.ontrack = (ev) => {
      if (ev.track.kind !== 'video' || watching) return;
      watching = true;
      const clone = ev.track.clone();
      const reader = new MediaStreamTrackProcessor({ track: clone }).readable.getReader();
      reader.read().then(({ value }) => {
        const at = wall();
        value?.close();
        reader.cancel().catch(() => {});
        clone.stop();
        window.__out({ first_frame_at: at });
      });
    };
    await pc.setRemoteDescription({ type: 'offer', sdp });
    for (const t of window.__stream.getTracks()) pc.addTrack(t, window.__stream);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    for (const c of window.__pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
    return pc.localDescription.sdp;
  };
  window.__candidate = async (text) => {
    const c = JSON.parse(text);
    if (!window.__pc || !window.__pc.remoteDescription) (window.__pending = window.__pending ?? []).push(c);
    else await window.__pc.addIceCandidate(c).catch(() => {});
  };
  window.__close = () => {
    window.__pc?.close();
    window.__pc = null;
    window.__pending = [];
  };
}, camera);
out({ ready: true });

for await (const line of createInterface({ input: process.stdin })) {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    continue;
  }
  if (m.offer) out({ answer: await page.evaluate((sdp) => window.__answer(sdp), m.offer) });
  else if (m.candidate) await page.evaluate((c) => window.__candidate(c), m.candidate);
  else if (m.close) {
    await page.evaluate(() => window.__close());
    out({ closed: true });
  }
}
clearTimeout(r.deadline);
await r.cleanup();
server.close();
process.exit(0);
