// Baseline for `cargo xtask bench relay`: a minimal relay on the npm `ws`
// package. It speaks the same JSON messages as the Bedside relay for the
// paths the bench drives (patient hello -> challenge -> prove -> welcome,
// knock -> waiting, ping -> pong; clinician hello -> challenge -> auth ->
// ready, admit, message -> forwarded to the patient) but checks nothing:
// no invite signature, no device proof, no clinician signature, no limits.
// That flatters the baseline; the bench says so.
'use strict';
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const patients = new Map(); // device id -> socket
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 128 * 1024 });

function send(ws, m) {
  ws.send(JSON.stringify(m));
}

wss.on('connection', (ws, req) => {
  const clinician = req.url === '/ws/clinician';
  let device = null;
  ws.on('message', (data) => {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      ws.close(1008);
      return;
    }
    if (clinician) {
      switch (m.type) {
        case 'hello':
          send(ws, { type: 'challenge', nonce: crypto.randomBytes(32).toString('base64url') });
          break;
        case 'auth':
          send(ws, { type: 'ready', clinic_name: 'Baseline' });
          break;
        case 'admit': {
          const p = patients.get(m.device);
          if (p) send(p, { type: 'admitted', turn: null });
          break;
        }
        case 'message': {
          const p = patients.get(m.device);
          if (p) send(p, { type: 'message', sealed: m.sealed });
          break;
        }
        case 'ping':
          send(ws, { type: 'pong' });
          break;
      }
      return;
    }
    switch (m.type) {
      case 'hello':
        device = String(m.device_id);
        send(ws, { type: 'challenge', nonce: crypto.randomBytes(32).toString('base64url') });
        break;
      case 'prove':
        patients.set(device, ws);
        send(ws, { type: 'welcome', clinic_name: 'Baseline', not_before: 0, expires: 0 });
        break;
      case 'knock':
        send(ws, { type: 'waiting' });
        break;
      case 'ping':
        send(ws, { type: 'pong' });
        break;
    }
  });
  ws.on('close', () => {
    if (device !== null && patients.get(device) === ws) patients.delete(device);
  });
});

wss.on('listening', () => {
  process.stdout.write(`${wss.address().port}\n`);
});
// Ends when the bench closes our stdin.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
