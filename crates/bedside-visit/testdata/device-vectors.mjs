// Computes the device-proof vectors with WebCrypto, as the join page does
// (node testdata/device-vectors.mjs > testdata/device-vectors.txt).
// ECDSA signatures are randomised: each run prints a different, equally valid set.
const { subtle } = globalThis.crypto;
const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString('hex');
const b64url = (b) => Buffer.from(b).toString('base64url');
const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
const pub = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
const id = b64url(new Uint8Array(await subtle.digest('SHA-256', pub)));
const visit = new Uint8Array(16).fill(0xaa);
const nonce = Uint8Array.from({ length: 32 }, (_, i) => i);
const message = new Uint8Array([...enc.encode('bedside device proof v1'), ...visit, ...nonce]);
const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, message));
console.log(`public_key=${hex(pub)}\ndevice_id=${id}\nvisit=${hex(visit)}\nnonce=${hex(nonce)}\nmessage=${hex(message)}\nsignature=${hex(sig)}`);
