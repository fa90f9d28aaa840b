// Computes the clinician-text vectors with WebCrypto
// (node testdata/message-vectors.mjs > testdata/message-vectors.txt).
const { subtle } = globalThis.crypto;
const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString('hex');
const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
const visit = new Uint8Array(16).fill(0xaa);
const device = 'eelNQogy0MHLrK-nXch_-OfZgyMVOaRLivtM6TzZW3c';
const ikm = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveBits']);
const key = new Uint8Array(
  await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: enc.encode('bedside clinician-message v1') }, ikm, 256),
);
const lp = (b) => {
  const l = new Uint8Array(4);
  new DataView(l.buffer).setUint32(0, b.length);
  return [...l, ...b];
};
const aes = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
async function seal(kind, fill, text) {
  const iv = new Uint8Array(12).fill(fill);
  const aad = new Uint8Array([...visit, ...lp(enc.encode(device)), ...lp(enc.encode(kind))]);
  const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, aes, enc.encode(text)));
  return hex(iv) + hex(ct);
}
console.log(`key=${hex(key)}\nmessage=${await seal('message', 7, '5 more minutes — Zoë')}\ndeny=${await seal('deny', 8, 'Wrong day, please call us')}`);
