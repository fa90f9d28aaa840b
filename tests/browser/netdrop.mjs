// The patient's network drops mid-call. Runs *inside* the patient's network namespace
// (`ip netns exec NS node tests/browser/netdrop.mjs …`), so this script and the
// Chromium it starts see only the namespace's loopback and one veth link.
//
//   node tests/browser/netdrop.mjs LINK SHOTDIR --iface IF --forward LOCALPORT=HOST:PORT [--down S]
//
// The link's origin is http://127.0.0.1:LOCALPORT (a secure context for WebCrypto); a
// small TCP forwarder here carries it over the veth to HOST:PORT (the relay, through the
// test's own forwarder). Media goes over the veth directly. Once admitted and media
// flows, the script sets IF down for S seconds (default 10), then up again, and waits for
// video to come back. Steps:
//   {"step":"flowing","frames":…}
//   {"step":"link_down","frames":…}
//   {"step":"link_up","frames":…,"states":[…],"cards":[…]}
//   {"step":"resumed","frames":…,"hold_fps":…,"ice_restarts":…,"offers_sent":…,"state":…,"card":…}
// (after resuming it stays 12 s in the call, so the clinician's side is seen to resume too)
// Exit 0 when video resumed, 1 otherwise.

import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { finish, knockAndWait, launch, run, step } from './patient.mjs';

const args = process.argv.slice(2);
let iface = null;
let forward = null;
let downS = 10;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--iface') iface = args[++i];
  else if (args[i] === '--forward') forward = args[++i];
  else if (args[i] === '--down') downS = Number(args[++i]);
  else positional.push(args[i]);
}
const [link, shotDir] = positional;
const fwd = /^(\d+)=([\d.]+):(\d+)$/.exec(forward ?? '');
if (!link || !shotDir || !iface || !fwd || !(downS > 0)) {
  console.error('usage: node tests/browser/netdrop.mjs LINK SHOTDIR --iface IF --forward LOCALPORT=HOST:PORT [--down S]');
  process.exit(2);
}
/** Seconds to stay in the call after video resumed. */
const HOLD_S = 12;
const TOTAL_MS = 120_000 + (downS + HOLD_S) * 1000;
const sleep = (ms) => new Promise((f) => setTimeout(f, ms));

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

function link_set(state) {
  execFileSync('ip', ['link', 'set', 'dev', iface, state], { stdio: 'inherit' });
}

/** What the page's call reports (window.__bedsideCall), and the join card's state. */
async function sample(page) {
  return page.evaluate(() => {
    const c = window.__bedsideCall;
    const card = document.querySelector('[data-testid="card"]')?.getAttribute('data-state') ?? null;
    return {
      frames: c?.framesDecoded ?? 0,
      state: c?.state ?? null,
      iceRestarts: c?.iceRestarts ?? 0,
      offersSent: c?.offersSent ?? 0,
      card,
    };
  });
}

/** Samples every 250 ms until `done(sample)` or `ms` pass; returns the last sample. */
async function until(page, ms, done, seen) {
  const end = Date.now() + ms;
  let s = await sample(page);
  while (!done(s) && Date.now() < end) {
    await sleep(250);
    s = await sample(page);
    if (seen) {
      if (!seen.states.includes(s.state)) seen.states.push(s.state);
      if (!seen.cards.includes(s.card)) seen.cards.push(s.card);
    }
  }
  return s;
}

const r = run(TOTAL_MS);
try {
  await forwarder(Number(fwd[1]), fwd[2], Number(fwd[3]));
  const page = await launch(r);
  r.current = 'open';
  await page.goto(link, { timeout: r.left() });
  await knockAndWait(r, page, shotDir, 'Network Test Patient');

  r.current = 'flowing';
  let s = await until(page, 30_000, (x) => x.state === 'connected' && x.frames > 60);
  if (!(s.frames > 60)) throw new Error(`no video before the drop: ${JSON.stringify(s)}`);
  await step(r, page, shotDir, 'flowing', { frames: s.frames });

  r.current = 'link_down';
  link_set('down');
  const atDown = await sample(page);
  await step(r, page, shotDir, 'link_down', { frames: atDown.frames });
  const seen = { states: [], cards: [] };
  // Let the first second drain what was already in flight, then watch the outage.
  await sleep(1000);
  const outageStart = await sample(page);
  const beforeUp = await until(page, downS * 1000 - 1000, () => false, seen);
  r.current = 'link_up';
  link_set('up');
  await step(r, page, shotDir, 'link_up', {
    frames: beforeUp.frames,
    outage_frames: beforeUp.frames - outageStart.frames,
    states: seen.states,
    cards: seen.cards,
  });

  r.current = 'resumed';
  s = await until(
    page,
    60_000,
    (x) => x.state === 'connected' && x.frames > beforeUp.frames + 60,
    seen,
  );
  if (!(s.frames > beforeUp.frames + 60)) throw new Error(`video did not resume: ${JSON.stringify(s)}`);
  // Stay in the call a while: the clinician's side needs time to see it resume too.
  r.current = 'hold';
  const holdStart = await sample(page);
  await sleep(HOLD_S * 1000);
  const held = await sample(page);
  await step(r, page, shotDir, 'resumed', {
    hold_fps: (held.frames - holdStart.frames) / HOLD_S,
    frames: s.frames,
    frames_at_up: beforeUp.frames,
    ice_restarts: s.iceRestarts,
    offers_sent: s.offersSent,
    state: s.state,
    card: s.card,
    states: seen.states,
    cards: seen.cards,
  });
  await finish(r, null, TOTAL_MS);
} catch (e) {
  try {
    link_set('up');
  } catch {
    // the namespace is going away anyway
  }
  await finish(r, e, TOTAL_MS);
}
